"""RPC, files and recovery on both virtual boards (real MicroPython, not fakes)."""

import os
import random
import signal
import time

import pytest

from hil import BoardError, BoardTimeout, RemoteError
from hil.faults import FaultRates, inject_faults

from conftest import ECHO, open_board

pytestmark = pytest.mark.board

ROUND_TRIPS = {"wasm": 100, "qemu-microbit": 30}


def random_value(rng, depth=0, small=False):
    kind = rng.randrange(7 if depth < 2 else 4)
    if kind == 0:
        return rng.randrange(-(1 << 70), 1 << 70) if rng.random() < 0.2 else rng.randrange(-999, 1000)
    if kind == 1:
        return "".join(rng.choice("ab'\"\\\n\t\u00e9\u263a ") for _ in range(rng.randrange(8)))
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(8)))
    if kind == 3:
        return rng.choice([None, True, False, 0, -1])
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(3))]
    if kind == 5:
        return tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(3)))
    return {rng.randrange(100): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}


def test_handshake_reports_the_board(any_board):
    info = any_board.handshake()
    if any_board.profile.name == "wasm":
        assert info["platform"] == "webassembly" and info["micropython"][:2] == (1, 27)
    else:
        assert info["platform"] == "microbit" and info["micropython"] == (1, 9, 2)
        # What the chip firmware has left with the dispatcher resident (~7.6 KB).
        assert 7000 < info["heap_free"] < info["heap_total"] < 11000
    assert info["max_tile"] and info["heap_budget"]


def test_random_round_trips(any_board):
    rng = random.Random(2024)
    count = ROUND_TRIPS[any_board.profile.name]
    for _ in range(count):
        args = tuple(random_value(rng) for _ in range(rng.randrange(4)))
        assert any_board.call("echo", *args) == args
    assert any_board.call("gc.mem_free") > 0


def test_remote_exception(any_board):
    with pytest.raises(RemoteError) as info:
        any_board.call("int", "x")
    assert info.value.remote_type == "ValueError"
    # and the board goes on answering
    assert any_board.call("len", [1, 2]) == 2


def test_upload_deploy_and_files_survive_resets(any_board):
    files = {"nt_hiltest.py": "def twice(x):\n    '''Docstring, stripped.'''\n    return 2 * x\n",
             "nt_hiltest.txt": "plain text\n" * 20}
    any_board.deploy(files)  # may or may not be needed on a reused board
    assert any_board.deploy(files) == []
    assert any_board.call("nt_hiltest.twice", 21) == 42
    any_board.soft_reset()
    any_board.exec_raw(ECHO)
    assert any_board.read_file("nt_hiltest.txt") == files["nt_hiltest.txt"]
    files["nt_hiltest.py"] = files["nt_hiltest.py"].replace("2 * x", "3 * x")
    assert any_board.deploy(files) == ["nt_hiltest.py"]
    assert any_board.call("nt_hiltest.twice", 21) == 63
    any_board.virtual.hard_reset()
    any_board.repl.wait_boot()
    any_board.session.start(soft_reset=False)
    any_board.exec_raw(ECHO)
    assert any_board.call("nt_hiltest.twice", 2) == 6  # the file is still there
    assert any_board.deploy(files) == []


def test_upload_throughput_is_sane(any_board):
    text = "".join("v%d = %d\n" % (i, i * i) for i in range(200))
    start = time.monotonic()
    size, _ = any_board.upload("nt_speed.txt", text)
    rate = size / (time.monotonic() - start)
    assert rate > (10000 if any_board.profile.name == "wasm" else 1500), rate


def test_hung_function_is_stopped_and_the_board_recovered(any_board):
    resets = []
    any_board.on_reset.append(resets.append)
    try:
        start = time.monotonic()
        with pytest.raises(BoardTimeout) as info:
            any_board.call("spin", timeout=1.0)
        elapsed = time.monotonic() - start
        assert elapsed < 1.0 + 6.0, elapsed
        assert info.value.tried == ["interrupt (Ctrl-C)"]
        any_board.exec_raw(ECHO)  # a worker restart (wasm) cleared RAM
        assert any_board.call("echo", 1) == (1,)
    finally:
        any_board.on_reset.remove(resets.append)


@pytest.mark.parametrize("name, calls", [("wasm", 30), ("qemu-microbit", 10)])
def test_calls_complete_on_a_noisy_link(request, name, calls):
    board = request.getfixturevalue("wasm" if name == "wasm" else "microbit")
    board.session.max_attempts = 40
    rates = FaultRates(drop=0.01, corrupt=0.01)
    faulty = inject_faults(board.transport, tx=rates, rx=rates, seed=5)
    try:
        rng = random.Random(9)
        for _ in range(calls):
            a, b = rng.randrange(1000), rng.randrange(1000)
            assert board.call("echo", a, b) == (a, b)
        assert sum(faulty.counts.values()) > 0
    finally:
        board.transport.port = faulty.inner
        board.session.max_attempts = board.profile.max_attempts
    board.session.recover("clean up after the noise")
    board.exec_raw(ECHO)
    assert board.call("echo", "clean") == ("clean",)


def test_stopped_qemu_is_reported_then_recovered(no_orphans):
    board = open_board("qemu-microbit")
    try:
        os.kill(board.virtual.pid, signal.SIGSTOP)
        start = time.monotonic()
        with pytest.raises(BoardError) as info:
            board.call("echo", 1, timeout=2.0)
        elapsed = time.monotonic() - start
        assert info.value.tried == [
            "interrupt (Ctrl-C)", "raw REPL re-entry", "soft reset", "hard reset (qmp)"]
        assert "not responding" in str(info.value)
        t = board.profile.timeouts
        assert elapsed < t.ack + 3 * (t.step + 0.1) + 4 * (t.step * 3 + t.boot), elapsed
        os.kill(board.virtual.pid, signal.SIGCONT)
        assert board.recover() in ("interrupt (Ctrl-C)", "raw REPL re-entry", "soft reset")
        board.exec_raw(ECHO)
        assert board.call("echo", 7) == (7,)
    finally:
        os.kill(board.virtual.pid, signal.SIGCONT)
        board.close()


def test_preload_fits_a_bigger_module_on_the_microbit(microbit):
    # ~2.2 KB of minified source: too big to compile with the dispatcher resident,
    # fine when imported right after the reset (see HIL report).
    body = "".join(
        "def f%d(a, n):\n    s = 0\n    for i in range(n):\n        s = (s + a[i] * %d) & 0xFFFF\n"
        "        if s > 1000:\n            s -= 7\n    return s\n" % (k, k + 3)
        for k in range(24)
    )
    microbit.deploy({"nt_big.py": body}, preload=["nt_big"])
    microbit.exec_raw(ECHO)
    assert microbit.call("nt_big.f0", [1, 2, 3], 3) == 18
    microbit.soft_reset()
    microbit.exec_raw(ECHO)
