"""Raw-REPL RPC to a MicroPython board, with checksums, retries and recovery.

Layers, bottom up:

* :class:`RawRepl` drives MicroPython's raw REPL over a :class:`~hil.transport.Transport`:
  enter it from any state, run code (raw-paste mode where the board offers it, else
  paced plain raw REPL), soft reset, resynchronise without interrupting anything.
* :class:`RpcSession` installs the resident dispatcher (``firmware/rpc.py``, minified) and
  makes calls ``func(*args)`` on the board. Each request is one line
  ``_d(seq, 'func', 'args_repr', fletcher16)``; each reply one line
  ``seq status payload fletcher16``. A request whose reply is lost or damaged is sent
  again with the same sequence number and the board replays its cached reply, so a
  function never runs twice for one call. Files are uploaded in checksummed chunks and
  verified on the board; :meth:`RpcSession.deploy` uploads only what changed.
* When the board stops answering, :meth:`RpcSession.recover` climbs a ladder: Ctrl-C,
  re-enter the raw REPL, soft reset, hard reset (QMP / worker restart / DTR-RTS, from the
  profile), and finally raises :class:`BoardError` naming what was tried.

Every wait is bounded by a timeout from :class:`Timeouts`. Payloads are text: reprs of
ints, strings, bytes, lists, tuples, dicts (never raw binary: a 0x03 byte would interrupt
the board).
"""

from __future__ import annotations

import ast
import collections
import hashlib
import os
import random
import re
import time
from array import array
from dataclasses import dataclass
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .minify import fold_consts, minify
from .transport import Pacing, ReadTimeout, Transport, TransportError

__all__ = [
    "BANNER",
    "BoardError",
    "BoardTimeout",
    "RemoteError",
    "RawRepl",
    "RpcSession",
    "Timeouts",
    "decode_value",
    "encode_args",
    "fletcher16",
    "dispatcher_source",
    "VERSION_FILE",
]

# MicroPython REPL control bytes. Each use below says what it does there.
CTRL_A = b"\x01"
CTRL_B = b"\x02"
CTRL_C = b"\x03"
CTRL_D = b"\x04"
CTRL_E = b"\x05"

#: What the board prints on entering the raw REPL (and on Ctrl-A inside it).
BANNER = b"raw REPL; CTRL-B to exit\r\n>"
#: The friendly REPL prompt.
PROMPT = b">>> "
#: End of a raw REPL result: ``OK`` stdout ``\x04`` stderr ``\x04>``.
RESULT_END = b"\x04>"

#: File on the board that records the hash of every deployed file.
VERSION_FILE = "nt_ver.txt"
#: The dispatcher's first part, stored on boards with files (see firmware/rpc.py).
RPC_FILE = "nt_rpc.py"
_RPC_IMPORT = "from nt_rpc import _d,_f\nimport nt_rpc\nnt_rpc._G=globals()"

# MicroPython 1.9.2 interns string literals of up to 10 characters for good (~20 B of
# heap each, measured on the micro:bit); the args text differs on every call, so it is
# padded past that.
_INTERN_MAX = 10

_FIRMWARE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
                             "firmware")
_ON_DEMAND = "# ON-DEMAND"


# ---------------------------------------------------------------------------- errors
class BoardError(Exception):
    """The board did not do what was asked. ``seen`` holds the last bytes received;
    ``tried`` lists the recovery steps attempted (empty if none)."""

    def __init__(self, message: str, seen: bytes = b"", tried: Iterable[str] = ()):
        super().__init__(message)
        self.seen = bytes(seen)
        self.tried = list(tried)

    def __str__(self) -> str:
        base = super().__str__()
        if self.seen:
            base += " (last bytes: %r)" % (self.seen[-160:],)
        return base


class RemoteError(BoardError):
    """The function raised on the board. ``remote`` is the board's ``repr(exception)``,
    ``remote_type`` its class name (``'ValueError'``...)."""

    def __init__(self, func: str, remote: str):
        match = re.match(r"(\w+)", remote)
        self.remote = remote
        self.remote_type = match.group(1) if match else "Exception"
        super().__init__("%s raised on the board: %s" % (func, remote))


class BoardTimeout(BoardError):
    """A call did not finish within its timeout; the board was recovered (``tried``)."""


class _NoAck(Exception):
    """The board did not acknowledge a request (lost Ctrl-D, stopped board...)."""

    def __init__(self, seen: bytes = b""):
        super().__init__("no acknowledgement")
        self.seen = seen


class _Silent(Exception):
    """The board acknowledged, then said nothing for the whole call timeout."""

    def __init__(self, seen: bytes = b""):
        super().__init__("silent")
        self.seen = seen


# ---------------------------------------------------------------------------- timeouts
@dataclass(frozen=True)
class Timeouts:
    """Every wait of the protocol, in seconds.

    ``ack``: from the end of a request to the board's acknowledgement;
    ``rpc``: default limit for one call to compute and answer;
    ``inter_byte``: longest silence inside a reply once it has started;
    ``boot``: from a reset to the prompt;
    ``tick``: budget per emulated tick (the board runner multiplies it by ticks);
    ``step``: limit for each recovery-ladder step to bring the board back.
    """

    ack: float = 0.5
    rpc: float = 5.0
    inter_byte: float = 0.5
    boot: float = 5.0
    tick: float = 0.05
    step: float = 1.5


# ---------------------------------------------------------------------------- encoding
def fletcher16(data: bytes, state: int = 0) -> int:
    """Fletcher-16 (mod 255) of ``data``, continuing from ``state`` (``b << 8 | a``).

    Same arithmetic as ``_f`` in ``firmware/rpc.py``.
    """
    a = state & 0xFF
    b = state >> 8
    for x in data:
        a = (a + x) % 255
        b = (b + a) % 255
    return b << 8 | a


_SENDABLE = (bool, int, str, bytes, bytearray, type(None))


def _check_sendable(value: Any, path: str = "arg") -> None:
    if isinstance(value, _SENDABLE):
        return
    if isinstance(value, float):
        raise TypeError(
            "%s is a float: boards get integers only (micro:bit floats are 32-bit)" % path
        )
    if isinstance(value, (list, tuple)):
        for i, item in enumerate(value):
            _check_sendable(item, "%s[%d]" % (path, i))
        return
    if isinstance(value, dict):
        for key, item in value.items():
            _check_sendable(key, "%s key" % path)
            _check_sendable(item, "%s[%r]" % (path, key))
        return
    raise TypeError("%s has type %s, which cannot be sent to a board" % (path, type(value).__name__))


def encode_args(args: Tuple[Any, ...]) -> str:
    """The args tuple as 7-bit text the board can ``eval``, padded against interning."""
    _check_sendable(tuple(args))
    text = ascii(tuple(args))
    if len(text) <= _INTERN_MAX:
        text += " " * (_INTERN_MAX + 1 - len(text))
    return text


def build_request(seq: int, func: str, args: Tuple[Any, ...]) -> bytes:
    """The raw-REPL line for one call (without the terminating Ctrl-D)."""
    if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*(\.[A-Za-z_][A-Za-z0-9_]*)?$", func):
        raise ValueError("function name %r is not 'name' or 'module.name'" % (func,))
    argtext = encode_args(args)
    check = fletcher16(("%d %s %s" % (seq, func, argtext)).encode("ascii"))
    return ("_d(%d,%s,%s,%d)" % (seq, ascii(func), ascii(argtext), check)).encode("ascii")


# A reply line; it may follow what is left of a damaged "OK" on the same line.
_REPLY = re.compile(rb"(?<![0-9])(\d+) ([OEC]) (.*) (\d+)\r?$")


def find_reply(output: bytes, seq: int) -> Optional[Tuple[str, bytes]]:
    """Find the dispatcher's reply line for ``seq`` in raw-REPL output.

    Returns ``(status, payload)`` when a line with this sequence number and a correct
    checksum is present, else None (damaged, missing, or another call's reply).
    """
    for line in output.replace(b"\x04", b"\n").split(b"\n"):
        match = _REPLY.search(line)
        if not match or int(match.group(1)) != seq:
            continue
        body = line[match.start(1): match.start(4) - 1]
        if fletcher16(body) == int(match.group(4)):
            return match.group(2).decode(), match.group(3)
    return None


def decode_value(text: str) -> Any:
    """Turn the repr of a board value back into a Python value, without ``eval``.

    Literals (ints, strings, bytes, None, bools, tuples, lists, dicts, sets) and the
    calls ``bytearray(...)`` and ``array(typecode, [...])`` are accepted.
    """

    def conv(node: ast.AST) -> Any:
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, ast.Tuple):
            return tuple(conv(e) for e in node.elts)
        if isinstance(node, ast.List):
            return [conv(e) for e in node.elts]
        if isinstance(node, ast.Set):
            return {conv(e) for e in node.elts}
        if isinstance(node, ast.Dict):
            return {conv(k): conv(v) for k, v in zip(node.keys, node.values)}  # type: ignore[arg-type]
        if (
            isinstance(node, ast.UnaryOp)
            and isinstance(node.op, (ast.USub, ast.UAdd))
            and isinstance(node.operand, ast.Constant)
            and isinstance(node.operand.value, (int, float))
        ):
            value = node.operand.value
            return -value if isinstance(node.op, ast.USub) else value
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and not node.keywords:
            name = node.func.id
            args = [conv(a) for a in node.args]
            if name == "bytearray" and len(args) <= 1:
                return bytearray(*args)
            if name == "array" and len(args) in (1, 2):
                return array(*args)
            if name in ("set", "frozenset") and len(args) <= 1:
                return (set if name == "set" else frozenset)(*args)
        raise ValueError("not a literal: %s" % ast.dump(node)[:80])

    try:
        return conv(ast.parse(text.strip(), mode="eval").body)
    except (SyntaxError, ValueError) as exc:
        raise BoardError("cannot decode the board's reply %r: %s" % (text[:120], exc)) from exc


def dispatcher_source(path: Optional[str] = None) -> Tuple[str, str]:
    """Minified ``(core, on_demand)`` parts of the board dispatcher (``firmware/rpc.py``)."""
    path = path or os.path.join(_FIRMWARE_DIR, "rpc.py")
    with open(path, encoding="utf-8") as handle:
        text = handle.read()
    at = text.find(_ON_DEMAND)
    if at < 0:
        return minify(text), ""
    return minify(text[:at]), minify(text[at:])


# ---------------------------------------------------------------------------- raw REPL
class RawRepl:
    """MicroPython's raw REPL over a transport.

    ``raw_paste``: ``"auto"`` (probe on first use, then use it if offered), ``"never"``.
    """

    def __init__(self, transport: Transport, timeouts: Timeouts, raw_paste: str = "auto"):
        if raw_paste not in ("auto", "never"):
            raise ValueError("raw_paste must be 'auto' or 'never'")
        self.tr = transport
        self.t = timeouts
        self.raw_paste: Optional[bool] = None if raw_paste == "auto" else False

    # -- getting to a known state
    # Pieces of BANNER. On a noisy link the whole banner often arrives damaged; a raw
    # REPL prompt ('>' after at least one intact piece) is recognised all the same.
    _BANNER_PIECES = (b"raw REPL", b"REPL;", b"CTRL-B", b"to exit")

    def wait_banner(self, timeout: float, seen: bytes = b"") -> None:
        """Wait for the raw REPL banner (tolerating damage); raises ReadTimeout."""
        deadline = time.monotonic() + timeout
        text = seen
        while True:
            if seen and seen.endswith(b">") and any(p in seen for p in self._BANNER_PIECES):
                return
            left = deadline - time.monotonic()
            try:
                chunk = self.tr.read_until(b">", timeout=max(0.0, left), inter_byte_timeout=0)
            except ReadTimeout as exc:
                if any(p in exc.seen for p in self._BANNER_PIECES):
                    return  # the banner came; its final '>' was lost on the way
                raise ReadTimeout("no raw REPL banner from %s within %.2fs" % (self.tr.name, timeout),
                                  text + exc.seen, exc.reason) from None
            text += chunk
            if any(p in chunk for p in self._BANNER_PIECES):
                return
            seen = b""

    def enter(self, attempts: int = 3) -> None:
        """From any state (friendly REPL, running program, raw REPL) to the raw REPL."""
        last: Optional[ReadTimeout] = None
        for _ in range(attempts):
            # Enter, then Ctrl-C twice: stop a running program (the second one in case the
            # first lands while it unwinds); in the raw REPL Ctrl-C clears the line.
            self.tr.write(b"\r" + CTRL_C + CTRL_C)
            self.tr.drain(quiet=0.05, timeout=self.t.step)
            # Ctrl-A: enter the raw REPL; the board prints BANNER.
            self.tr.write(b"\r" + CTRL_A)
            try:
                self.wait_banner(self.t.step)
                return
            except ReadTimeout as exc:
                last = exc
        assert last is not None
        raise BoardError("cannot enter the raw REPL on %s" % self.tr.name, seen=last.seen)

    def resync(self, wait: Optional[float] = None) -> None:
        """Back to an empty raw REPL line without interrupting anything.

        A half-received request is dropped; if a program still runs, the banner (and so
        this call) comes when it ends, bounded by ``wait``. Raises ReadTimeout.
        """
        wait = self.t.step if wait is None else wait
        self.tr.drain(quiet=0.03, timeout=wait)
        # Ctrl-A inside the raw REPL: drop the current line and print BANNER again.
        self.tr.write(CTRL_A)
        try:
            self.wait_banner(wait)
        except ReadTimeout as exc:
            if b"R\x01" not in exc.seen:
                raise
            # That Ctrl-A completed a half-sent raw-paste request ("\x05A" left on the
            # line) and the board now waits for paste data: Ctrl-C ends it, then again.
            self.tr.write(CTRL_C)
            self.tr.drain(quiet=0.03, timeout=wait)
            self.tr.write(CTRL_A)
            self.wait_banner(wait)

    def soft_reset(self) -> None:
        """Soft reset from the raw REPL and come back to it (RAM cleared, files kept)."""
        self.resync()
        # Ctrl-D on an empty raw REPL line: soft reset. 1.9.2 prints "soft reboot",
        # newer ports "MPY: soft reboot", then the raw REPL BANNER again.
        self.tr.write(CTRL_D)
        try:
            self.tr.read_until(b"reboot", timeout=self.t.boot, inter_byte_timeout=0)
            self.wait_banner(self.t.boot)
        except ReadTimeout as exc:
            raise BoardError("soft reset on %s did not complete" % self.tr.name, seen=exc.seen) from exc

    def wait_boot(self) -> None:
        """After a hard reset: poke the board until the friendly prompt shows."""
        deadline = time.monotonic() + self.t.boot
        seen = b""
        while time.monotonic() < deadline:
            # Enter + Ctrl-C: a prompt in any case (output before the host looked is lost).
            self.tr.write(b"\r" + CTRL_C)
            try:
                self.tr.read_until(PROMPT, timeout=0.25, inter_byte_timeout=0)
                return
            except ReadTimeout as exc:
                seen = (seen + exc.seen)[-400:]
        raise BoardError("no prompt from %s within %.1fs of reset" % (self.tr.name, self.t.boot), seen=seen)

    # -- running code
    def submit(self, code: bytes) -> bytes:
        """Send ``code`` for execution and wait for the board to acknowledge it.

        Returns bytes already received after the acknowledgement. Raises _NoAck when the
        board stays silent (request incomplete: lost Ctrl-D, stopped board).
        """
        # Whatever is still buffered belongs to an earlier exchange.
        self.tr.discard_input()
        if self.raw_paste is not False:
            # Ctrl-E 'A' Ctrl-A: ask for raw-paste mode. "R\x01" + window: granted;
            # "R\x00": refused; an older board takes the bytes as line input and the
            # Ctrl-A makes it print BANNER (a clean line either way).
            self.tr.write(CTRL_E + b"A" + CTRL_A)
            try:
                head = self.tr.read_exactly(2, timeout=self.t.ack)
            except ReadTimeout as exc:
                # If the Ctrl-A was lost, "\x05A" waits on the line and a later Ctrl-A
                # would complete the request: Ctrl-C clears the line (or ends a paste).
                self.tr.write(CTRL_C)
                raise _NoAck(exc.seen) from exc
            if head == b"R\x01":
                self.raw_paste = True
                return self._paste(code)
            if head != b"R\x00":
                try:
                    self.wait_banner(self.t.ack, seen=head)
                except ReadTimeout as exc:
                    # Unrecognised answer (noise?): the board may sit in raw-paste mode
                    # waiting for data. Ctrl-C ends that without running anything; in
                    # the raw REPL it just clears the line.
                    self.tr.write(CTRL_C)
                    raise _NoAck(exc.seen) from exc
                if self.raw_paste:
                    # It granted raw-paste before: this was noise, not a refusal.
                    raise _NoAck(head)
            self.raw_paste = False
        # Plain raw REPL: the code, then Ctrl-D (end of input: the board answers "OK",
        # then compiles and runs it). Paced: some boards have no flow control.
        self.tr.write(code + CTRL_D)
        return self._read_ack()

    def _read_ack(self) -> bytes:
        """Consume the "OK" acknowledgement; return output bytes read past it.

        Any byte within the ack timeout proves the request arrived whole, so a damaged
        or half-lost "OK" costs no waiting: up to two bytes are read and those that
        belong to "OK" are dropped. Raises _NoAck if nothing comes at all.
        """
        try:
            first = self.tr.read_exactly(1, timeout=self.t.ack)
        except ReadTimeout as exc:
            raise _NoAck(exc.seen) from exc
        if first == b"K":
            return b""
        try:
            # 'K' follows 'O' at once; if it was lost, this is the first output byte.
            second = self.tr.read_exactly(1, timeout=min(self.t.ack, 0.05))
        except ReadTimeout:
            return b"" if first == b"O" else first
        if second == b"K":
            return b""
        return second if first == b"O" else first + second

    def _paste(self, code: bytes) -> bytes:
        """Raw-paste transfer (the board grants windows of bytes; no pacing needed)."""
        try:
            return self._paste_unguarded(code)
        except (_NoAck, ReadTimeout) as exc:
            # Ctrl-C ends the paste wherever it stands without running it (the board
            # answers with a KeyboardInterrupt and returns to the raw REPL).
            self.tr.write(CTRL_C, pacing=Pacing())
            raise _NoAck(getattr(exc, "seen", b"")) from None

    def _paste_unguarded(self, code: bytes) -> bytes:
        window = int.from_bytes(self.tr.read_exactly(2, timeout=self.t.ack), "little")
        remain = window
        sent = 0
        while sent < len(code):
            while remain == 0 or self.tr.in_waiting():
                flow = self.tr.read_exactly(1, timeout=self.t.ack + self.t.inter_byte)
                if flow == CTRL_A:  # board: one more window of room
                    remain += window
                else:  # CTRL_D: the board aborts the transfer; anything else: noise
                    raise _NoAck(flow)
            piece = code[sent:sent + remain]
            self.tr.write(piece, pacing=Pacing())
            sent += len(piece)
            remain -= len(piece)
        # Ctrl-D: end of data; the board acknowledges with Ctrl-D, then compiles and runs.
        self.tr.write(CTRL_D, pacing=Pacing())
        try:
            self.tr.read_until(CTRL_D, timeout=self.t.ack + self.t.inter_byte, inter_byte_timeout=0)
        except ReadTimeout as exc:
            raise _NoAck(exc.seen) from exc
        return b""

    def read_result(
        self,
        timeout: float,
        head: bytes = b"",
        done: Optional[Callable[[bytes], bool]] = None,
    ) -> Tuple[bytes, bool]:
        """Read a program's output up to the raw REPL prompt.

        Returns ``(output, complete)``: ``output`` is ``stdout \x04 stderr`` (without the
        final ``\x04>``) and ``complete`` is False if the prompt did not come (the caller
        may still find what it needs in ``output``). ``done(output)`` may end the wait
        early once the output holds what the caller needs; the prompt then gets a short
        grace period. Raises _Silent if nothing came at all within ``timeout`` (a hung
        or stopped board).
        """
        buf = bytearray(head)
        deadline = time.monotonic() + timeout + self.t.boot
        while True:
            left = max(0.0, deadline - time.monotonic())
            try:
                chunk = self.tr.read_until(
                    (b"\n", RESULT_END),
                    timeout=left,
                    inter_byte_timeout=self.t.inter_byte,
                    first_byte_timeout=None if buf else timeout,
                )
            except ReadTimeout as exc:
                buf += exc.seen
                if exc.reason == "silent" and not buf:
                    raise _Silent(b"") from exc
                return bytes(buf), False
            buf += chunk
            if buf.endswith(RESULT_END):
                return bytes(buf[: -len(RESULT_END)]), True
            if done is not None and done(bytes(buf)):
                grace = min(self.t.inter_byte, 0.1)
                try:
                    buf += self.tr.read_until(RESULT_END, timeout=grace, inter_byte_timeout=grace)
                    return bytes(buf[: -len(RESULT_END)]), True
                except ReadTimeout as exc:
                    return bytes(buf + exc.seen), False

    def exec(self, code: str, timeout: Optional[float] = None) -> Tuple[str, str]:
        """Run ``code`` once (no checksum, no retry); return ``(stdout, stderr)``.

        For installing the dispatcher and ad-hoc use. Raises BoardError if the board does
        not acknowledge or the output is cut short.
        """
        timeout = self.t.rpc if timeout is None else timeout
        try:
            head = self.submit(code.encode("utf-8"))
            out, complete = self.read_result(timeout, head)
        except (_NoAck, _Silent) as exc:
            raise BoardError("no answer from %s to raw REPL code" % self.tr.name, seen=exc.seen) from exc
        if not complete:
            raise BoardError("raw REPL output from %s cut short" % self.tr.name, seen=out)
        stdout, _, stderr = out.partition(CTRL_D)
        return stdout.decode("utf-8", "replace"), stderr.decode("utf-8", "replace")


# ---------------------------------------------------------------------------- RPC
def _version_lines(table: Dict[str, str]) -> str:
    return "".join("%s %s\n" % (name, table[name]) for name in sorted(table))


def _parse_versions(text: Optional[str]) -> Dict[str, str]:
    table: Dict[str, str] = {}
    for line in (text or "").split("\n"):
        parts = line.split()
        if len(parts) == 2:
            table[parts[0]] = parts[1]
    return table


def content_hash(text: str) -> str:
    """Short hash of a file's (prepared) content, as stored in :data:`VERSION_FILE`."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


ProgressCallback = Callable[[int, int], None]


class RpcSession:
    """Calls into a board through the resident dispatcher; retries and recovers.

    ``hard_reset`` is the profile's hard-reset action (None: the ladder stops at soft
    reset) and ``hard_reset_name`` how to call it in messages. ``on_reset`` callbacks
    run after any reset that cleared the board's RAM (arg: the step name), so layers
    above (a loaded chip image) can reload their state.
    """

    def __init__(
        self,
        repl: RawRepl,
        timeouts: Timeouts,
        hard_reset: Optional[Callable[[], None]] = None,
        hard_reset_name: str = "",
        max_attempts: int = 6,
        upload_chunk: int = 256,
        dispatcher_path: Optional[str] = None,
    ):
        self.repl = repl
        self.tr = repl.tr
        self.t = timeouts
        self.hard_reset = hard_reset
        self.hard_reset_name = hard_reset_name or "hard reset"
        self.max_attempts = max_attempts
        self.upload_chunk = upload_chunk
        self.core, self.helpers = dispatcher_source(dispatcher_path)
        self.seq = random.randrange(1, 1 << 24)
        self.resets = 0
        self.on_reset: List[Callable[[str], None]] = []
        self.stats: Dict[str, int] = collections.Counter()
        self._dirty = False  # the board's line state is unknown: resync before sending
        self._helpers_in = False
        self._installing = False
        self._rpc_file = False  # the board's nt_rpc.py is this dispatcher (checked by deploy)
        self._preloaded: Tuple[str, ...] = ()  # modules imported at the last reset

    # -- setup
    def start(self, soft_reset: bool = True, preload: Sequence[str] = ()) -> None:
        """Enter the raw REPL, optionally soft reset, import ``preload`` modules (see
        :meth:`restart`), install the dispatcher."""
        self.repl.enter()
        if soft_reset:
            self.repl.soft_reset()
        self._preload(preload)
        self.install()

    def install(self) -> None:
        """Send the dispatcher (minified) and check it with a round trip."""
        self._installing = True
        try:
            if self._rpc_file:
                # a short line (deploy checked the file): a damaged line fails to run
                # or fails the round trip below, and then the ladder starts over
                out, err = self.repl.exec(_RPC_IMPORT, timeout=self.t.rpc)
                if err.strip() or out.strip():
                    raise BoardError("installing the dispatcher on %s failed: %s"
                                     % (self.tr.name, (err or out).strip()[-300:]))
            else:
                self._exec_in_parts(self.core, "dispatcher")
            self._helpers_in = False
            self._call("gc.collect", (), self.t.rpc, recover=False)
        finally:
            self._installing = False

    # Board-side wrapper for code sent through the plain raw REPL: run it only if it
    # arrived intact (a byte lost on a link without flow control could otherwise
    # install subtly wrong code). Same Fletcher-16 as firmware/rpc.py.
    _CHECKED_EXEC = (
        "s=%s\na=b=0\nfor x in bytes(s,'utf-8'):\n a=(a+x)%%255\n b=(b+a)%%255\n"
        "if b<<8|a==%d:exec(s)\nelse:print('NT-BAD')\ndel s,a,b,x\n"
    )

    def _exec_checked(self, code: str, what: str, attempts: int = 4) -> None:
        """Run ``code`` on the board once it is verified there; retry if damaged."""
        wrapped = self._CHECKED_EXEC % (ascii(code), fletcher16(code.encode("utf-8")))
        problem = ""
        seen = b""
        for _ in range(attempts):
            try:
                out, err = self.repl.exec(wrapped, timeout=self.t.rpc)
            except BoardError as exc:
                problem, seen = str(exc), exc.seen
                self._resync_quietly()
                continue
            if not err.strip() and not out.strip():
                return
            problem = (err or out).strip()[-300:]
            self.stats["install_retries"] += 1
            if "MemoryError" in err:
                break  # will not get better by sending it again
            self._resync_quietly()
        raise BoardError("installing the %s on %s failed: %s" % (what, self.tr.name, problem), seen=seen)

    #: characters of code per verified part: with 1% of bytes dropped and 1% corrupted
    #: each way, a ~75-character request gets through about one time in five
    EXEC_PART = 40
    #: board-side Fletcher-16 (the same as firmware/rpc.py), defined by the part installer
    _STUB = ("def _nf(s):\n a=b=0\n for x in bytes(s,'utf-8'):\n  a=(a+x)%255\n"
             "  b=(b+a)%255\n return b<<8|a\n")

    def _exec_in_parts(self, code: str, what: str, attempts: int = 40) -> None:
        """Like :meth:`_exec_checked`, for code too long to cross a noisy link in one piece.

        The whole text is tried twice first (it needs the least heap: parts fragment a
        micro:bit's 9 KB). On a link that damaged it, a 1 KB text almost never arrives
        whole (0.98^1000), so it goes in small parts instead: a checksum function is
        installed and proven by a probe, each part is stored in ``_q`` only if its
        checksum matches on the board, and the joined text runs only if the checksum of
        the whole matches. A damaged request costs only its own resend.
        """
        if len(code) <= self.EXEC_PART:
            self._exec_checked(code, what, attempts)
            return
        try:
            self._exec_checked(code, what, attempts=2)
            return
        except BoardError as exc:
            if "MemoryError" in str(exc):
                raise
        probe = "nt-probe"
        parts = [code[i:i + self.EXEC_PART] for i in range(0, len(code), self.EXEC_PART)]
        steps = [(self._STUB + "_q=[None]*%d\nprint(_nf(%r))" % (len(parts), probe),
                  str(fletcher16(probe.encode("utf-8"))), "setup")]
        for i, part in enumerate(parts):
            steps.append(("s=%s\nif _nf(s)==%d:_q[%d]=s\nelse:print(0)"
                          % (ascii(part), fletcher16(part.encode("utf-8")), i), "",
                          "part %d of %d" % (i + 1, len(parts))))
        # If this step's reply is lost after it ran, its resend finds _q gone and runs
        # nothing: the code already ran once.
        steps.append(("try:\n _s=''.join(_q)\n del _q\nexcept NameError:_s=''\n"
                      "if _s and _nf(_s)!=%d:print(0)\nelse:\n import gc\n gc.collect()\n exec(_s)\n"
                      "del _s" % fletcher16(code.encode("utf-8")), "", "join and run"))
        for text, want, label in steps:
            problem = ""
            for _ in range(attempts):
                try:
                    out, err = self.repl.exec(text, timeout=self.t.rpc)
                except BoardError as exc:
                    problem = str(exc)
                    self._resync_quietly()
                    continue
                if not err.strip() and out.strip() == want:
                    problem = ""
                    break
                problem = (err or out).strip()[-200:]
                self.stats["install_retries"] += 1
                if "MemoryError" in err:
                    break  # will not get better by sending it again
                self._resync_quietly()
            if problem:
                raise BoardError("installing the %s (%s) on %s failed: %s"
                                 % (what, label, self.tr.name, problem))

    def _resync_quietly(self) -> None:
        try:
            self.repl.resync()
        except (ReadTimeout, TransportError):
            pass

    def _after_reset(self, step: str) -> None:
        self.resets += 1
        self._helpers_in = False
        for callback in list(self.on_reset):
            callback(step)

    # -- calls
    def call(self, func: str, *args: Any, timeout: Optional[float] = None) -> Any:
        """Run ``func(*args)`` on the board and return its result.

        ``func`` is ``'module.name'`` (module imported on the board on first use) or a
        global of the dispatcher. Raises RemoteError if it raised on the board,
        BoardTimeout if it did not finish within ``timeout`` (the board is recovered
        first), BoardError if the board could not be reached even after recovery.
        """
        return self._call(func, args, self.t.rpc if timeout is None else timeout, recover=True)

    def _next_seq(self) -> int:
        self.seq = self.seq % (1 << 30) + 1  # stays a small int on the board
        return self.seq

    def _call(self, func: str, args: Tuple[Any, ...], timeout: float, recover: bool) -> Any:
        seq = self._next_seq()
        line = build_request(seq, func, args)
        problems: List[str] = []
        seen = b""
        attempts = self.max_attempts
        silent = 0  # consecutive attempts that got no byte back at all
        for attempt in range(attempts):
            self.stats["attempts"] += 1
            if attempt:
                self.stats["retries"] += 1
            if self._dirty:
                self._resync_or_recover(recover, "resync before %s" % func)
            try:
                head = self.repl.submit(line)
                out, complete = self.repl.read_result(
                    timeout, head, done=lambda buf: find_reply(buf, seq) is not None
                )
            except _NoAck as exc:
                problems.append("no acknowledgement")
                seen = exc.seen
                self._dirty = True
                silent = 0 if exc.seen else silent + 1
                if silent >= 2 and not recover:
                    # A noisy board still says something; a silent one is gone.
                    raise BoardError("no answer from %s to %s" % (self.tr.name, func), seen=seen)
                continue
            except _Silent as exc:
                self._dirty = True
                message = "%s gave no answer within %.1fs" % (func, timeout)
                if not recover:
                    raise BoardTimeout(message, seen=exc.seen) from None
                step = self.recover(message)
                raise BoardTimeout(
                    "%s; the board was recovered by: %s" % (message, step), seen=exc.seen, tried=[step]
                ) from None
            seen = out
            self._dirty = not complete
            reply = find_reply(out, seq)
            if reply is None:
                stderr = out.partition(CTRL_D)[2]
                if b"NameError" in stderr and b"'_d'" in stderr and not self._installing:
                    # The dispatcher is gone: the board reset itself (or was reset).
                    problems.append("dispatcher missing")
                    self.install()
                    self._after_reset("board reset by itself")
                    continue
                if b"MemoryError" in stderr and recover and not self._installing:
                    # The request could not even be compiled: the heap is full or too
                    # fragmented, and sending it again changes nothing. Only a reset
                    # frees it (RAM state is lost; on_reset tells the owner to reload).
                    self.restart(())
                    raise BoardError("%s: the heap of %s was too full to compile the request; "
                                     "the board was soft-reset" % (func, self.tr.name), seen=out)
                # A complete result leaves the board at a clean prompt: retry at once.
                problems.append("no valid reply" + (" (stderr: %r)" % stderr[-80:] if stderr.strip() else ""))
                continue
            status, payload = reply
            if status == "C":
                problems.append("request damaged in transit")
                continue
            text = payload.decode("utf-8", "replace")
            if status == "E":
                raise RemoteError(func, decode_value(text))
            self.stats["calls"] += 1
            return decode_value(text)
        raise BoardError(
            "%s failed on %s after %d attempts (%s)"
            % (func, self.tr.name, attempts, "; ".join(problems[-4:])),
            seen=seen,
        )

    def _resync_or_recover(self, recover: bool, why: str) -> None:
        for _ in range(3):
            try:
                self.repl.resync()
                self._dirty = False
                return
            except (ReadTimeout, TransportError):
                self.stats["resync_failures"] += 1
        if not recover:
            raise BoardError("%s: board on %s does not answer Ctrl-A" % (why, self.tr.name))
        self.recover(why)

    def ping(self) -> None:
        """One quick round trip through the dispatcher, without recovery; raises
        BoardError (a missing dispatcher is reinstalled on the way)."""
        if self._call("len", ("ping",), self.t.step, recover=False) != 4:
            raise BoardError("ping answered wrongly on %s" % self.tr.name)

    # -- recovery
    def recover(self, reason: str = "") -> str:
        """Bring an unresponsive board back; return the name of the step that worked.

        Ladder: interrupt (Ctrl-C), raw REPL re-entry, soft reset (dispatcher
        reinstalled), hard reset (if the profile has one). Each step ends with a round
        trip through the dispatcher. Raises BoardError naming every step tried.
        """
        self.stats["recoveries"] += 1
        steps: List[Tuple[str, Callable[[], None]]] = [
            ("interrupt (Ctrl-C)", self._step_interrupt),
            ("raw REPL re-entry", self._step_reenter),
            ("soft reset", self._step_soft_reset),
        ]
        if self.hard_reset is not None:
            steps.append(("hard reset (%s)" % self.hard_reset_name, self._step_hard_reset))
        tried: List[str] = []
        last: Optional[Exception] = None
        for name, step in steps:
            tried.append(name)
            try:
                step()
                self.ping()
                self._dirty = False
                return name
            except (BoardError, TransportError) as exc:
                last = exc
        seen = getattr(last, "seen", b"")
        raise BoardError(
            "board on %s is not responding%s; tried: %s; last error: %s"
            % (self.tr.name, " (%s)" % reason if reason else "", ", ".join(tried), last),
            seen=seen,
            tried=tried,
        )

    def _step_interrupt(self) -> None:
        # Ctrl-C twice: interrupt whatever runs (second one in case the first lands while
        # the first KeyboardInterrupt unwinds); then back to a clean raw REPL line.
        self.tr.write(b"\r" + CTRL_C + CTRL_C)
        seen = b""
        # Twice: a board that reboots on Ctrl-C (the wasm bridge after its deadline)
        # drops input queued before the reboot, our first Ctrl-A included.
        for _ in range(2):
            try:
                self.repl.resync()
                return
            except ReadTimeout as exc:
                seen = exc.seen
        raise BoardError("no raw REPL banner after Ctrl-C", seen=seen)

    def _step_reenter(self) -> None:
        # Ctrl-B: leave a raw REPL in a confused state for the friendly REPL, then enter
        # the raw REPL afresh.
        self.tr.write(b"\r" + CTRL_B)
        self.repl.enter(attempts=1)

    def _step_soft_reset(self) -> None:
        self.repl.enter(attempts=1)
        self.repl.soft_reset()
        self.install()
        self._after_reset("soft reset")

    def _step_hard_reset(self) -> None:
        assert self.hard_reset is not None
        self.hard_reset()
        self.tr.discard_input()
        self.repl.wait_boot()
        self.repl.enter(attempts=2)
        self.install()
        self._after_reset("hard reset")

    # -- information
    _IDENTITY = (
        "(__import__('sys').platform,tuple(__import__('sys').implementation[1]),"
        "__import__('sys').version,"
        "__import__('os').uname()[4] if hasattr(__import__('os'),'uname') else '')"
    )

    def board_info(self) -> Dict[str, Any]:
        """Free heap, total heap, platform, versions, machine.

        The heap is read by a call of its own, the smallest request there is, right
        after the dispatcher's collection: what remains for the chip firmware.
        """
        free = self.call("gc.mem_free")
        used = self.call("gc.mem_alloc")
        platform, version, version_text, machine = self.call("eval", self._IDENTITY)
        return {
            "heap_free": free,
            "heap_total": free + used,
            "platform": platform,
            "micropython": tuple(version),
            "version": version_text,
            "machine": machine,
        }

    # -- files
    def _install_helpers(self) -> None:
        if not self._helpers_in:
            if self._preloaded:
                self.restart(())  # the helpers need the heap the preloaded modules hold
            self._exec_in_parts(self.helpers, "upload helpers")
            self._helpers_in = True

    def read_file(self, path: str) -> Optional[str]:
        """Contents of a small text file on the board, or None if it does not exist."""
        self._install_helpers()
        return self.call("_r", path)

    def upload(self, path: str, text: str, progress: Optional[ProgressCallback] = None) -> Tuple[int, int]:
        """Write ``text`` to ``path`` on the board; verify size and checksum there.

        Sent in checksummed chunks of ``upload_chunk`` characters inside one
        ``open(path, 'w')`` session (1.9.2 has no append mode); a retried chunk is never
        written twice (sequence-number replay). ``progress(done, total)`` is called with
        bytes. Returns ``(size, fletcher16)``; raises BoardError on a mismatch after a
        second full attempt.
        """
        data = text.encode("utf-8")
        expected = (len(data), fletcher16(data))
        self._install_helpers()
        got: Any = None
        for _ in range(2):
            self.call("_o", path)
            done = 0
            for start in range(0, len(text), self.upload_chunk):
                piece = text[start:start + self.upload_chunk]
                self.call("_w", piece)
                done += len(piece.encode("utf-8"))
                if progress:
                    progress(done, len(data))
            got = tuple(self.call("_c", path))
            if got == expected:
                return expected
        raise BoardError(
            "upload of %s to %s: board has %r (bytes, checksum), expected %r"
            % (path, self.tr.name, got, expected)
        )

    def deploy(
        self,
        files: Dict[str, str],
        progress: Optional[Callable[[str, int, int], None]] = None,
        minify_python: bool = True,
        restart: bool = True,
        preload: Sequence[str] = (),
    ) -> List[str]:
        """Upload the files whose content differs from what the board has; return their names.

        ``.py`` files are minified first (comments, docstrings, indentation; constants
        folded, :func:`hil.minify.fold_consts`). The board
        keeps a hash per file in :data:`VERSION_FILE`; a file whose hash matches is
        skipped. The version entries of the files about to change are removed *before*
        uploading, so an interrupted deploy is redone next time. ``restart``: soft reset
        afterwards (frees the upload helpers, makes new code importable) and reinstall
        the dispatcher; ``preload`` modules are imported before it (see :meth:`restart`).
        ``progress(name, done, total)`` reports bytes per file.
        """
        prepared = {
            name: fold_consts(text) if minify_python and name.endswith(".py") else text
            for name, text in files.items()
        }
        prepared[RPC_FILE] = self.core  # already minified
        hashes = {name: content_hash(text) for name, text in prepared.items()}
        current = _parse_versions(self.read_file(VERSION_FILE))
        changed = [name for name in sorted(prepared) if current.get(name) != hashes[name]]
        if not changed:
            self._rpc_file = True
            if preload:
                self.restart(preload)
            return []
        for name in changed:
            current.pop(name, None)
        self.upload(VERSION_FILE, _version_lines(current))
        for name in changed:
            callback = (lambda done, total, _n=name: progress(_n, done, total)) if progress else None
            self.upload(name, prepared[name], callback)
            current[name] = hashes[name]
        self.upload(VERSION_FILE, _version_lines(current))
        self._rpc_file = True
        if restart or preload:
            self.restart(preload)
        return changed

    def restart(self, preload: Sequence[str] = ()) -> None:
        """Soft reset and reinstall the dispatcher (clears RAM, keeps files).

        ``preload``: modules to import right after the reset, while the heap is at its
        emptiest (before the dispatcher when it has to be compiled from REPL text;
        after it when it is imported from its file, which costs little). On the
        micro:bit this is the difference between a ~2.3 KB and a ~1.8 KB (minified)
        module compiling at all.
        """
        self.repl.resync()
        self.repl.soft_reset()
        if self._rpc_file:  # ~0.7 KB: first, so the modules compile after it, not around it
            self.install()
            self._preload(preload)
        else:
            self._preload(preload)
            self.install()
        self._after_reset("soft reset")

    def import_modules(self, modules: Sequence[str]) -> None:
        """Import modules on the board outside any RPC call (a raw-REPL ``import``, where
        compiling has the most room), e.g. after a loading stage freed its heap."""
        self._preload(modules, self._preloaded)

    def _preload(self, modules: Sequence[str], before: Tuple[str, ...] = ()) -> None:
        self._preloaded = tuple(before) + tuple(modules)
        for name in modules:
            if not re.match(r"^[A-Za-z_][A-Za-z0-9_]*$", name):
                raise ValueError("module name %r is not a plain identifier" % (name,))
            out, err = self.repl.exec("import gc\ngc.collect()\nimport %s\ngc.collect()" % name, timeout=self.t.rpc)
            if err.strip():
                raise BoardError("preloading %s on %s failed: %s" % (name, self.tr.name, err.strip()[-300:]))
