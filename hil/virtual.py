"""Virtual boards that neurotile starts and stops itself.

Each launcher is a context manager yielding a :class:`VirtualBoard`, whose ``port`` is
a serial port path for :func:`hil.transport.open_transport` (``str(board)`` is the path
too) and whose :meth:`~VirtualBoard.hard_reset` power-cycles the board:

* :func:`qemu_microbit`: BBC micro:bit v1 firmware (MicroPython 1.9.2) in
  ``qemu-system-arm -M microbit``, serial on a pty, hard reset through QMP.
* :func:`wasm_board`: MicroPython 1.27 WebAssembly under Node (``wasm_bridge.mjs``), put
  on a pty by ``socat``; hard reset restarts the interpreter's worker thread.

Each board gets its own temporary folder. Its processes run in their own process
groups and are killed on exit, on error, on Ctrl-C, on SIGTERM/SIGHUP (handlers chain
to the previous ones) and at interpreter exit; on Linux they also get SIGKILL if the
launching thread dies. A missing program or package raises
:class:`MissingPrerequisite` saying exactly what to install.
"""

from __future__ import annotations

import atexit
import contextlib
import ctypes
import functools
import json
import os
import re
import shutil
import signal
import socket
import subprocess
import tempfile
import threading
import time
from typing import Any, Callable, Dict, Iterator, List, Optional, Tuple

__all__ = [
    "MissingPrerequisite",
    "VirtualBoard",
    "VirtualBoardError",
    "launch",
    "prerequisites",
    "qemu_microbit",
    "wasm_board",
    "live_processes",
    "owned_processes",
    "OWNER_ENV",
    "MICROBIT_FIRMWARE",
    "WASM_PACKAGE",
]

HERE = os.path.dirname(os.path.abspath(__file__))
MICROBIT_FIRMWARE = "/usr/share/firmware-microbit-micropython/firmware.hex"
WASM_PACKAGE = "@micropython/micropython-webassembly-pyscript"
WASM_NODE_DIR = os.path.join(HERE, "node")
WASM_BRIDGE = os.path.join(HERE, "wasm_bridge.mjs")
INSTALL_SCRIPT = "scripts/install-test-deps.sh"
#: Environment variable set in every board process: the pid of the host that started it.
OWNER_ENV = "NEUROTILE_HIL_OWNER"


class VirtualBoardError(RuntimeError):
    """A virtual board failed to start or to reset. ``log`` holds its output, if any."""

    def __init__(self, message: str, log: str = ""):
        super().__init__(message + ("\n--- board log ---\n" + log[-2000:] if log else ""))
        self.log = log


class MissingPrerequisite(VirtualBoardError):
    """Something needed to run a virtual board is not installed; says what to install."""


# ------------------------------------------------------------------ prerequisites
def _wasm_module_path() -> str:
    return os.environ.get("NEUROTILE_WASM_MODULE") or os.path.join(
        WASM_NODE_DIR, "node_modules", *WASM_PACKAGE.split("/"), "micropython.mjs"
    )


def _node_major(node: str) -> int:
    try:
        out = subprocess.run([node, "--version"], capture_output=True, text=True, timeout=10).stdout
    except (OSError, subprocess.TimeoutExpired):
        return 0
    match = re.match(r"v(\d+)", out.strip())
    return int(match.group(1)) if match else 0


def prerequisites(launcher: str) -> List[str]:
    """What is missing to run ``launcher`` (empty list: ready). Each entry says what to
    install."""
    missing: List[str] = []
    if launcher == "qemu-microbit":
        if not shutil.which("qemu-system-arm"):
            missing.append("qemu-system-arm not found: apt-get install -y qemu-system-arm")
        if not os.path.exists(MICROBIT_FIRMWARE):
            missing.append(
                "%s not found: apt-get install -y firmware-microbit-micropython" % MICROBIT_FIRMWARE
            )
    elif launcher == "wasm":
        node = shutil.which("node")
        if not node:
            missing.append("node not found: apt-get install -y nodejs (Node 16 or newer)")
        elif _node_major(node) < 16:
            missing.append("node is older than 16 (needs Atomics.waitAsync): install Node 16+")
        if not shutil.which("socat"):
            missing.append("socat not found: apt-get install -y socat")
        if not os.path.exists(_wasm_module_path()):
            missing.append(
                "npm package %s@1.27.0 not installed: cd %s && npm install"
                % (WASM_PACKAGE, os.path.relpath(WASM_NODE_DIR))
            )
    else:
        missing.append("unknown launcher %r (known: qemu-microbit, wasm)" % launcher)
    return missing


def _require(launcher: str) -> None:
    missing = prerequisites(launcher)
    if missing:
        raise MissingPrerequisite(
            "cannot start the %s virtual board:\n  - %s\nor run: bash %s"
            % (launcher, "\n  - ".join(missing), INSTALL_SCRIPT)
        )


# ------------------------------------------------------------------ process hygiene
_LIVE: Dict[int, subprocess.Popen] = {}
_LIVE_LOCK = threading.Lock()
_HANDLERS_INSTALLED = False
_PREVIOUS: Dict[int, Any] = {}


def live_processes() -> List[int]:
    """Pids of the process groups started here and not yet reaped."""
    with _LIVE_LOCK:
        return list(_LIVE)


def owned_processes(owner: Optional[int] = None) -> List[Tuple[int, str]]:
    """``(pid, command line)`` of every running process started for a virtual board by
    host ``owner`` (default: this process), found by its :data:`OWNER_ENV` tag, even
    if it was orphaned. Zombies are not counted."""
    tag = ("%s=%d" % (OWNER_ENV, os.getpid() if owner is None else owner)).encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/environ" % entry, "rb") as handle:
                if tag not in handle.read().split(b"\0"):
                    continue
            with open("/proc/%s/stat" % entry, "rb") as handle:
                if handle.read().rsplit(b")", 1)[1].split()[0] == b"Z":
                    continue
            with open("/proc/%s/cmdline" % entry, "rb") as handle:
                found.append((int(entry), handle.read().replace(b"\0", b" ").decode("utf-8", "replace")))
        except OSError:
            continue
    return found


def _kill_group(proc: subprocess.Popen, grace: float = 1.0) -> None:
    """SIGTERM the process group, SIGKILL it after ``grace`` seconds, reap the leader."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, 2.0)):
        try:
            os.killpg(proc.pid, sig)
        except ProcessLookupError:
            pass
        except PermissionError:
            proc.send_signal(sig)
        try:
            proc.wait(timeout=wait)
            break
        except subprocess.TimeoutExpired:
            continue
    # Group members other than the leader (socat's node child) may outlive it briefly.
    deadline = time.monotonic() + 2.0
    while time.monotonic() < deadline and _group_alive(proc.pid):
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            break
        time.sleep(0.02)
    with _LIVE_LOCK:
        _LIVE.pop(proc.pid, None)


def _group_alive(pgid: int) -> bool:
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open("/proc/%s/stat" % entry, "rb") as handle:
                fields = handle.read().rsplit(b")", 1)[1].split()
        except OSError:
            continue
        # fields[0] is the state, fields[2] the process group id.
        if int(fields[2]) == pgid and fields[0] != b"Z":
            return True
    return False


def _kill_all() -> None:
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        _kill_group(proc, grace=0.5)


def _on_signal(signum: int, frame: Any) -> None:
    _kill_all()
    previous = _PREVIOUS.get(signum)
    if callable(previous):
        previous(signum, frame)
        return
    if previous == signal.SIG_IGN:
        return
    # Default action: die by this signal, as if we had no handler.
    signal.signal(signum, signal.SIG_DFL)
    os.kill(os.getpid(), signum)


def _install_handlers() -> None:
    global _HANDLERS_INSTALLED
    if _HANDLERS_INSTALLED or threading.current_thread() is not threading.main_thread():
        return
    atexit.register(_kill_all)
    for sig in (signal.SIGTERM, signal.SIGHUP):
        try:
            _PREVIOUS[sig] = signal.getsignal(sig)
            signal.signal(sig, _on_signal)
        except (ValueError, OSError):
            pass
    _HANDLERS_INSTALLED = True


def _die_with_parent() -> None:  # runs in the child between fork and exec
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(1, signal.SIGKILL)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        pass


def _spawn(cmd: List[str], **kwargs: Any) -> subprocess.Popen:
    _install_handlers()
    # PDEATHSIG fires when the *thread* that forked exits: only safe from the main thread.
    main = threading.current_thread() is threading.main_thread()
    # The owner tag lets anyone find this host's board processes, even orphaned ones.
    env = dict(os.environ, **{OWNER_ENV: str(os.getpid())})
    proc = subprocess.Popen(
        cmd,
        stdin=subprocess.DEVNULL,
        start_new_session=True,
        preexec_fn=_die_with_parent if main else None,
        env=env,
        **kwargs,
    )
    with _LIVE_LOCK:
        _LIVE[proc.pid] = proc
    return proc


# ------------------------------------------------------------------ the board handle
class VirtualBoard:
    """A running virtual board. ``port`` is its serial port path; ``tmpdir`` its folder;
    ``pid`` the pid of the emulator (QEMU or the Node bridge)."""

    def __init__(self, kind: str, port: str, tmpdir: str, processes: List[subprocess.Popen],
                 reset: Callable[[], None], pid: int, log_path: str = ""):
        self.kind = kind
        self.port = port
        self.tmpdir = tmpdir
        self.processes = processes
        self._reset = reset
        self.pid = pid
        self.log_path = log_path
        self.closed = False

    def __str__(self) -> str:
        return self.port

    def __fspath__(self) -> str:
        return self.port

    def __repr__(self) -> str:
        return "<VirtualBoard %s on %s pid=%d>" % (self.kind, self.port, self.pid)

    @property
    def pids(self) -> List[int]:
        return [p.pid for p in self.processes]

    def alive(self) -> bool:
        return not self.closed and all(p.poll() is None for p in self.processes)

    def hard_reset(self) -> None:
        """Power-cycle the board (RAM lost, files kept). Raises VirtualBoardError."""
        if not self.alive():
            raise VirtualBoardError("%s board is not running" % self.kind, self.log())
        self._reset()

    def log(self) -> str:
        if not self.log_path:
            return ""
        try:
            with open(self.log_path, encoding="utf-8", errors="replace") as handle:
                return handle.read()
        except OSError:
            return ""

    def close(self) -> None:
        """Stop the board's processes and remove its folder (idempotent)."""
        if self.closed:
            return
        self.closed = True
        for proc in self.processes:
            _kill_group(proc)
        shutil.rmtree(self.tmpdir, ignore_errors=True)


def _wait_for(predicate: Callable[[], Any], timeout: float, proc: subprocess.Popen,
              what: str, log: Callable[[], str]) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if proc.poll() is not None:
            raise VirtualBoardError("%s exited (status %s) before %s" % (proc.args[0], proc.returncode, what), log())
        if time.monotonic() > deadline:
            raise VirtualBoardError("timed out after %.1fs waiting for %s" % (timeout, what), log())
        time.sleep(0.02)


# ------------------------------------------------------------------ QEMU micro:bit
def qmp_command(sock_path: str, command: str, timeout: float = 2.0) -> Dict[str, Any]:
    """Run one QMP command (after the capabilities handshake); return its reply.

    Every socket operation is bounded by ``timeout`` (a stopped QEMU accepts the
    connection but never answers). Raises VirtualBoardError.
    """
    deadline = time.monotonic() + timeout
    buf = b""

    def next_message(sock: socket.socket) -> Dict[str, Any]:
        nonlocal buf
        while b"\n" not in buf:
            left = deadline - time.monotonic()
            if left <= 0:
                raise socket.timeout("QMP reply")
            sock.settimeout(left)
            data = sock.recv(4096)
            if not data:
                raise ConnectionError("QMP socket closed")
            buf += data
        line, buf = buf.split(b"\n", 1)
        return json.loads(line)

    try:
        with socket.socket(socket.AF_UNIX, socket.SOCK_STREAM) as sock:
            sock.settimeout(timeout)
            sock.connect(sock_path)
            greeting = next_message(sock)
            if "QMP" not in greeting:
                raise VirtualBoardError("unexpected QMP greeting: %r" % (greeting,))
            for cmd in ("qmp_capabilities", command):
                sock.sendall(json.dumps({"execute": cmd}).encode() + b"\n")
                while True:
                    reply = next_message(sock)
                    if "return" in reply or "error" in reply:
                        break  # skip asynchronous events
                if "error" in reply:
                    raise VirtualBoardError("QMP %s failed: %s" % (cmd, reply["error"]))
            return reply
    except (OSError, ValueError) as exc:
        raise VirtualBoardError("QMP %s on %s failed: %s" % (command, sock_path, exc)) from exc


@contextlib.contextmanager
def qemu_microbit(
    firmware: str = MICROBIT_FIRMWARE,
    icount: bool = False,
    start_timeout: float = 10.0,
) -> Iterator[VirtualBoard]:
    """Run a micro:bit v1 under QEMU; yield a VirtualBoard on its serial pty.

    ``icount``: deterministic virtual time near a real micro:bit's speed
    (``-icount shift=6,align=off,sleep=on``) instead of host speed. The board boots in
    ~0.15 s; what it prints before the host opens the pty is lost (send Enter/Ctrl-C).
    """
    _require("qemu-microbit")
    if firmware != MICROBIT_FIRMWARE and not os.path.exists(firmware):
        raise MissingPrerequisite("firmware %s not found" % firmware)
    tmpdir = tempfile.mkdtemp(prefix="nt-qemu-")
    board: Optional[VirtualBoard] = None
    try:
        sock = os.path.join(tmpdir, "qmp.sock")
        log_path = os.path.join(tmpdir, "qemu.log")
        cmd = [
            shutil.which("qemu-system-arm") or "qemu-system-arm",
            "-M", "microbit",
            "-device", "loader,file=%s" % firmware,
            "-display", "none",
            "-serial", "pty",
            "-monitor", "none",
            "-qmp", "unix:%s,server=on,wait=off" % sock,
        ]
        if icount:
            cmd += ["-icount", "shift=6,align=off,sleep=on"]
        with open(log_path, "wb") as log_file:
            proc = _spawn(cmd, stdout=log_file, stderr=subprocess.STDOUT, cwd=tmpdir)

        read_log = functools.partial(_read_text, log_path)

        def pty_path() -> Optional[str]:
            match = re.search(r"char device redirected to (/dev/pts/\d+)", read_log())
            return match.group(1) if match else None

        board = VirtualBoard("qemu-microbit", "", tmpdir, [proc],
                             lambda: qmp_command(sock, "system_reset"), proc.pid, log_path)
        port = _wait_for(pty_path, start_timeout, proc, "QEMU's serial pty", read_log)
        _wait_for(lambda: os.path.exists(sock), start_timeout, proc, "QEMU's QMP socket", read_log)
        board.port = port
        yield board
    finally:
        _release(board, tmpdir)


def _read_text(path: str) -> str:
    """A launcher's log so far ("" while it does not exist)."""
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read()
    except OSError:
        return ""


def _release(board, tmpdir: str) -> None:
    """Stop a board's processes and remove its folder, whether or not its handle was built."""
    if board is not None:
        board.close()
    else:
        _kill_all_in(tmpdir)
        shutil.rmtree(tmpdir, ignore_errors=True)


def _kill_all_in(tmpdir: str) -> None:
    """Kill processes spawned for a board whose handle was never built."""
    with _LIVE_LOCK:
        procs = list(_LIVE.values())
    for proc in procs:
        if proc.args and any(tmpdir in str(a) for a in proc.args):
            _kill_group(proc)


# ------------------------------------------------------------------ wasm under Node
_SOCAT_SPECIAL = re.compile(r"[\s,:!'\"\\]")


@contextlib.contextmanager
def wasm_board(
    heap: int = 1 << 20,
    intr_deadline_ms: int = 500,
    start_timeout: float = 10.0,
) -> Iterator[VirtualBoard]:
    """Run MicroPython 1.27 (WebAssembly) under Node behind a pty; yield a VirtualBoard.

    ``heap``: MicroPython heap size in bytes (it grows on demand anyway).
    ``intr_deadline_ms``: how long a Ctrl-C may go unanswered by a running program
    before the bridge restarts the interpreter (a hard reset).
    """
    _require("wasm")
    node = shutil.which("node") or "node"
    for path in (node, WASM_BRIDGE):
        if _SOCAT_SPECIAL.search(path):
            raise VirtualBoardError("path %r contains characters socat's EXEC cannot pass; "
                                    "move the checkout to a plain path" % path)
    tmpdir = tempfile.mkdtemp(prefix="nt-wasm-")
    board: Optional[VirtualBoard] = None
    try:
        link = os.path.join(tmpdir, "tty")
        pidfile = os.path.join(tmpdir, "bridge.pid")
        log_path = os.path.join(tmpdir, "bridge.log")
        bridge = "%s %s --heap %d --intr-deadline %d --pidfile %s" % (
            node, WASM_BRIDGE, int(heap), int(intr_deadline_ms), pidfile)
        # raw,echo=0: control bytes (Ctrl-C, Ctrl-D...) must pass through as data.
        cmd = [shutil.which("socat") or "socat", "PTY,link=%s,raw,echo=0" % link, "EXEC:%s" % bridge]
        with open(log_path, "wb") as log_file:
            proc = _spawn(cmd, stdout=subprocess.DEVNULL, stderr=log_file, cwd=tmpdir)

        read_log = functools.partial(_read_text, log_path)

        def bridge_pid() -> int:
            try:
                with open(pidfile, encoding="ascii") as handle:
                    return int(handle.read().strip() or 0)
            except (OSError, ValueError):
                return 0

        _wait_for(lambda: os.path.exists(link), start_timeout, proc, "socat's pty", read_log)
        pid = _wait_for(bridge_pid, start_timeout, proc, "the Node bridge", read_log)

        def reset() -> None:
            try:
                os.kill(pid, signal.SIGUSR1)  # the bridge restarts its interpreter worker
            except ProcessLookupError as exc:
                raise VirtualBoardError("wasm bridge (pid %d) is gone" % pid, read_log()) from exc

        board = VirtualBoard("wasm", link, tmpdir, [proc], reset, pid, log_path)
        yield board
    finally:
        _release(board, tmpdir)


_LAUNCHERS: Dict[str, Callable[..., Any]] = {"qemu-microbit": qemu_microbit, "wasm": wasm_board}


def launch(name: str, **options: Any) -> "contextlib.AbstractContextManager[VirtualBoard]":
    """The context manager of launcher ``name`` (``qemu-microbit`` or ``wasm``)."""
    try:
        factory = _LAUNCHERS[name]
    except KeyError:
        raise VirtualBoardError("unknown launcher %r (known: %s)" % (name, ", ".join(_LAUNCHERS))) from None
    return factory(**options)
