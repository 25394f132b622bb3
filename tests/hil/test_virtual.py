"""Virtual board launchers: install messages, clean shutdown, no orphans, hard resets."""

import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from hil import Board, MissingPrerequisite
from hil.protocol import PROMPT
from hil.transport import open_transport
from hil.virtual import owned_processes, prerequisites, qemu_microbit, wasm_board


pytestmark = pytest.mark.board

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid, "rb") as handle:
            return handle.read().rsplit(b")", 1)[1].split()[0] != b"Z"
    except OSError:
        return False


def wait_gone(pids, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not any(alive(p) for p in pids):
            return True
        time.sleep(0.05)
    return False


# ---------------------------------------------------------------- prerequisites
def test_missing_programs_give_install_instructions(monkeypatch, tmp_path):
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing installed
    qemu = prerequisites("qemu-microbit")
    assert any("apt-get install -y qemu-system-arm" in m for m in qemu)
    wasm = prerequisites("wasm")
    assert any("apt-get install -y socat" in m for m in wasm)
    assert any("node not found" in m for m in wasm)
    with pytest.raises(MissingPrerequisite) as info:
        Board.open("qemu-microbit")
    assert "qemu-system-arm" in str(info.value) and "install-test-deps.sh" in str(info.value)
    with pytest.raises(MissingPrerequisite, match="socat"):
        with wasm_board():
            pass


def test_missing_npm_package_says_npm_install(monkeypatch, tmp_path):
    monkeypatch.setenv("NEUROTILE_WASM_MODULE", str(tmp_path / "missing.mjs"))
    problems = prerequisites("wasm")
    assert len(problems) == 1 and "npm install" in problems[0]
    assert "@micropython/micropython-webassembly-pyscript@1.27.0" in problems[0]


def test_missing_firmware_file_is_named(monkeypatch):
    import hil.virtual as virtual

    monkeypatch.setattr(virtual, "MICROBIT_FIRMWARE", "/nonexistent/firmware.hex")
    problems = prerequisites("qemu-microbit")
    assert problems == ["/nonexistent/firmware.hex not found: apt-get install -y firmware-microbit-micropython"]


def test_everything_is_installed_here():
    assert prerequisites("qemu-microbit") == []
    assert prerequisites("wasm") == []


# ---------------------------------------------------------------- lifecycle
@pytest.mark.parametrize("launcher", [qemu_microbit, wasm_board], ids=["qemu", "wasm"])
def test_launcher_yields_a_port_and_cleans_up(launcher, no_orphans):
    with launcher() as board:
        pids = board.pids + [board.pid]
        tmpdir = board.tmpdir
        assert os.path.exists(str(board)) and os.path.isdir(tmpdir)
        assert all(alive(p) for p in pids)
        with open_transport(board.port) as tr:
            tr.write(b"\r\x03")
            assert tr.read_until(PROMPT, timeout=5).endswith(PROMPT)
    assert wait_gone(pids)
    assert not os.path.exists(tmpdir)


def test_error_inside_the_block_still_cleans_up(no_orphans):
    with pytest.raises(RuntimeError):
        with qemu_microbit() as board:
            pid = board.pid
            raise RuntimeError("test failure inside the with-block")
    assert wait_gone([pid])


def ask(tr, line):
    tr.drain(quiet=0.05)
    tr.write(line + b"\r")
    return tr.read_until(PROMPT, timeout=5)


@pytest.mark.parametrize("launcher", ["qemu_microbit", "wasm_board"])
def test_hard_reset_clears_ram_and_keeps_the_port(launcher, no_orphans):
    import hil.virtual as virtual

    with getattr(virtual, launcher)() as board, open_transport(board.port) as tr:
        tr.write(b"\r\x03")
        tr.read_until(PROMPT, timeout=5)
        ask(tr, b"zzz = 41")
        assert b"True" in ask(tr, b"print('zzz' in globals())")
        board.hard_reset()
        deadline = time.monotonic() + 5
        while time.monotonic() < deadline:
            tr.write(b"\r\x03")
            if PROMPT in tr.read_for(0.25):
                break
        out = ask(tr, b"print('zzz' in globals())")
        assert b"False" in out and b"True" not in out


# ---------------------------------------------------------------- the host dies
CHILD = textwrap.dedent("""
    import sys, time
    sys.path.insert(0, %r)
    from hil.virtual import launch
    with launch(sys.argv[1]) as board:
        print(" ".join(str(p) for p in [board.pid] + board.pids), flush=True)
        time.sleep(60)
""")


@pytest.mark.parametrize("launcher", ["qemu-microbit", "wasm"])
@pytest.mark.parametrize("how", [signal.SIGTERM, signal.SIGKILL, signal.SIGINT], ids=["TERM", "KILL", "INT"])
def test_no_orphans_when_the_host_process_dies(launcher, how, no_orphans):
    child = subprocess.Popen([sys.executable, "-c", CHILD % ROOT, launcher],
                             stdout=subprocess.PIPE, text=True)
    try:
        line = child.stdout.readline()
        pids = [int(p) for p in line.split()]
        assert pids and all(alive(p) for p in pids)
        assert len(owned_processes(child.pid)) >= len(set(pids))  # the tag finds them
        child.send_signal(how)
        child.wait(timeout=10)
        assert wait_gone(pids), [p for p in pids if alive(p)]
        deadline = time.monotonic() + 5
        while owned_processes(child.pid) and time.monotonic() < deadline:
            time.sleep(0.05)  # socat's node child leaves when its stdin closes
        assert owned_processes(child.pid) == []
    finally:
        if child.poll() is None:
            child.kill()
            child.wait()
