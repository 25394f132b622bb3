"""Hardware in the loop: talk to MicroPython boards, real or virtual, over serial.

    from hil import Board

    with Board.open("wasm") as board:          # a profile name, or a port path/URL
        info = board.handshake()                # heap, versions, capacity
        board.deploy({"nt_core.py": source})    # uploads only what changed
        board.call("nt_core.step", 3)           # RPC: nt_core.step(3) on the board

Modules: :mod:`hil.transport` (bounded, paced serial I/O), :mod:`hil.faults` (fault
injection), :mod:`hil.protocol` (raw REPL, RPC, upload, recovery), :mod:`hil.boards`
(profiles), :mod:`hil.virtual` (QEMU micro:bit and wasm launchers), :mod:`hil.minify`
and :mod:`hil.subset` (board source: shrink it, check it runs on MicroPython 1.9.2).

Layers above (loading a chip image, running ticks, reading traces) are built on
:meth:`Board.call`, :meth:`Board.deploy` and :meth:`Board.send_chunks`; they should
register :attr:`Board.on_reset` to reload their state after the board lost its RAM.
"""

from __future__ import annotations

import contextlib
import glob
import os
import time
from typing import Any, Callable, Dict, Iterable, List, Optional, Sequence, Tuple

from .boards import BoardProfile, ProfileError, generic_profile, list_profiles, load_profiles
from .protocol import (
    BoardError,
    BoardTimeout,
    RawRepl,
    RemoteError,
    RpcSession,
    Timeouts,
)
from .transport import Pacing, Transport, TransportError, open_transport
from .virtual import MissingPrerequisite, VirtualBoard, VirtualBoardError, launch

__all__ = [
    "Board",
    "BoardError",
    "BoardProfile",
    "BoardTimeout",
    "MissingPrerequisite",
    "Pacing",
    "ProfileError",
    "RemoteError",
    "Timeouts",
    "TransportError",
    "VirtualBoardError",
    "firmware_sources",
    "list_profiles",
    "load_profiles",
]

FIRMWARE_DIR = os.path.join(os.path.dirname(os.path.dirname(os.path.abspath(__file__))), "firmware")


def firmware_sources(names: Optional[Iterable[str]] = None) -> Dict[str, str]:
    """``{file name: source}`` of the board modules in ``firmware/`` (``names``: only
    these, e.g. ``['nt_core.py']``). Never included: the dispatcher ``rpc.py`` (sent to
    RAM at every boot, not stored) and the host-side package file ``__init__.py``."""
    wanted = set(names) if names is not None else None
    out = {}
    for path in sorted(glob.glob(os.path.join(FIRMWARE_DIR, "*.py"))):
        name = os.path.basename(path)
        if name in ("rpc.py", "__init__.py") or (wanted is not None and name not in wanted):
            continue
        with open(path, encoding="utf-8") as handle:
            out[name] = handle.read()
    if wanted is not None and set(out) != wanted:
        raise FileNotFoundError("not in %s: %s" % (FIRMWARE_DIR, ", ".join(sorted(wanted - set(out)))))
    return out


class Board:
    """One MicroPython board behind a serial port, with the RPC dispatcher installed.

    Build it with :meth:`open`. Close it (or use ``with``) to release the port and stop
    a virtual board.
    """

    def __init__(
        self,
        transport: Transport,
        profile: BoardProfile,
        virtual: Optional[VirtualBoard] = None,
        max_attempts: Optional[int] = None,
    ):
        self.transport = transport
        self.profile = profile
        self.virtual = virtual
        self._stack = contextlib.ExitStack()
        self.repl = RawRepl(transport, profile.timeouts, profile.raw_paste)
        self.session = RpcSession(
            self.repl,
            profile.timeouts,
            hard_reset=self._hard_reset_action(),
            hard_reset_name=profile.hard_reset,
            max_attempts=max_attempts or profile.max_attempts,
            upload_chunk=profile.upload_chunk,
        )

    # ------------------------------------------------------------------ opening
    @classmethod
    def open(
        cls,
        target: str,
        *,
        soft_reset: bool = True,
        profiles: Optional[Dict[str, BoardProfile]] = None,
        max_attempts: Optional[int] = None,
        launcher_options: Optional[Dict[str, Any]] = None,
    ) -> "Board":
        """Open a board by profile name (``"wasm"``, ``"qemu-microbit"``, ``"pico"``...)
        or by port path/URL (then a cautious generic profile is used).

        A virtual profile starts its board (stopped again by :meth:`close`). The board is
        put in the raw REPL, soft-reset unless ``soft_reset=False`` (attach without
        clearing RAM) and given the dispatcher. Raises MissingPrerequisite,
        VirtualBoardError, TransportError or BoardError.
        """
        profiles = load_profiles() if profiles is None else profiles
        profile = profiles.get(target) or generic_profile(target)
        stack = contextlib.ExitStack()
        try:
            virtual = None
            if profile.launcher:
                options = dict(profile.launcher_options)
                options.update(launcher_options or {})
                virtual = stack.enter_context(launch(profile.launcher, **options))
                port = virtual.port
            else:
                port = profile.port or target
            transport = open_transport(
                port,
                baud=profile.baud,
                pacing=profile.pacing,
                inter_byte_timeout=profile.timeouts.inter_byte,
            )
            stack.callback(transport.close)
            board = cls(transport, profile, virtual, max_attempts)
            board._stack = stack.pop_all()
        except BaseException:
            stack.close()
            raise
        try:
            if virtual is not None:
                board.repl.wait_boot()
            board.session.start(soft_reset=soft_reset)
        except BaseException:
            board.close()
            raise
        return board

    def _hard_reset_action(self) -> Optional[Callable[[], None]]:
        method = self.profile.hard_reset
        if method in ("qmp", "worker"):
            return self._virtual_reset
        if method == "dtr":
            return self.transport.pulse_reset
        if method == "machine":
            return self._machine_reset
        return None

    def _virtual_reset(self) -> None:
        if self.virtual is None:
            raise BoardError("profile %s wants a virtual hard reset but no virtual board runs" % self.profile.name)
        try:
            self.virtual.hard_reset()
        except VirtualBoardError as exc:
            raise BoardError(str(exc)) from exc

    def _machine_reset(self) -> None:
        """machine.reset() typed into the raw REPL; then wait for the USB port to return."""
        self.repl.enter(attempts=1)
        # Runs the reset; the board never answers this request.
        self.transport.write(b"import machine\nmachine.reset()\x04")
        time.sleep(0.5)
        self._reopen()

    def _reopen(self) -> None:
        """Reopen the port after the board re-enumerated (bounded by the boot timeout)."""
        port = self.profile.port or ""
        self.transport.close()
        deadline = time.monotonic() + self.profile.timeouts.boot
        last: Optional[Exception] = None
        while time.monotonic() < deadline:
            try:
                fresh = open_transport(port, self.profile.baud, self.profile.pacing, self.profile.timeouts.inter_byte)
            except TransportError as exc:
                last = exc
                time.sleep(0.2)
                continue
            self.transport.port = fresh.port
            return
        raise BoardError("port %s did not come back after reset: %s" % (port, last))

    # ------------------------------------------------------------------ use
    @property
    def port(self) -> str:
        return self.transport.name

    @property
    def on_reset(self) -> List[Callable[[str], None]]:
        """Callbacks run after the board lost its RAM (arg: what reset it)."""
        return self.session.on_reset

    def handshake(self) -> Dict[str, Any]:
        """What the board is and can hold: ``heap_free``, ``heap_total``, ``platform``,
        ``micropython`` (version tuple), ``version``, ``machine``, ``raw_paste``,
        ``files``, ``max_tile`` and ``heap_budget`` (from the profile), ``profile``,
        ``port``."""
        info = self.session.board_info()
        info.update(
            profile=self.profile.name,
            port=self.port,
            raw_paste=bool(self.repl.raw_paste),
            files=self.profile.files,
            heap_budget=self.profile.capacity.get("heap"),
            max_tile=tuple(self.profile.capacity.get("max_tile") or ()) or None,
        )
        return info

    def call(self, func: str, *args: Any, timeout: Optional[float] = None) -> Any:
        """``func(*args)`` on the board (see :meth:`hil.protocol.RpcSession.call`)."""
        return self.session.call(func, *args, timeout=timeout)

    def send_chunks(
        self,
        func: str,
        data: bytes,
        chunk: Optional[int] = None,
        progress: Optional[Callable[[int, int], None]] = None,
        timeout: Optional[float] = None,
    ) -> int:
        """Send ``data`` as hex text: ``func(offset, hex)`` on the board per chunk.

        For binary payloads (a chip image): hex is plain text, so no byte can interrupt
        the board. ``chunk`` bytes per call (default: half the profile's upload chunk).
        Returns the number of calls made.
        """
        step = chunk or max(16, self.profile.upload_chunk // 2)
        calls = 0
        for offset in range(0, len(data), step):
            piece = data[offset:offset + step]
            self.call(func, offset, "".join("%02x" % b for b in piece), timeout=timeout)
            calls += 1
            if progress:
                progress(offset + len(piece), len(data))
        return calls

    def upload(self, name: str, text: str, progress: Optional[Callable[[int, int], None]] = None) -> Tuple[int, int]:
        """Write one file on the board, verified there; returns (bytes, checksum)."""
        self._need_files()
        return self.session.upload(name, text, progress)

    def deploy(
        self,
        files: Dict[str, str],
        progress: Optional[Callable[[str, int, int], None]] = None,
        minify_python: bool = True,
        preload: Sequence[str] = (),
    ) -> List[str]:
        """Upload the files that changed (``.py`` minified) and soft-reset; returns the
        names uploaded (empty: the board was up to date). ``preload``: modules imported
        right after the reset, before the dispatcher (most heap free for compiling)."""
        self._need_files()
        return self.session.deploy(files, progress, minify_python, preload=preload)

    def read_file(self, name: str) -> Optional[str]:
        """A small text file from the board, or None."""
        self._need_files()
        return self.session.read_file(name)

    def exec_raw(self, code: str, timeout: Optional[float] = None) -> Tuple[str, str]:
        """Run code in the raw REPL without checksum or retry: ``(stdout, stderr)``."""
        return self.repl.exec(code, timeout)

    def import_modules(self, modules: Sequence[str]) -> None:
        """Import firmware modules on the board outside any RPC call (see
        :meth:`hil.protocol.RpcSession.import_modules`)."""
        self.session.import_modules(modules)

    def soft_reset(self, preload: Sequence[str] = ()) -> None:
        """Clear the board's RAM (files stay), import ``preload`` modules, reinstall the
        dispatcher."""
        self.session.restart(preload)

    def recover(self) -> str:
        """Run the recovery ladder now; returns the step that brought the board back."""
        return self.session.recover("requested")

    def _need_files(self) -> None:
        if not self.profile.files:
            raise BoardError("profile %s has no filesystem: files cannot be stored on it" % self.profile.name)

    def close(self) -> None:
        """Release the port and stop a virtual board (idempotent)."""
        self._stack.close()

    def __enter__(self) -> "Board":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        return "<Board %s on %s>" % (self.profile.name, self.port)
