"""A MicroPython-like board run by CPython, for fast protocol tests.

:class:`FakeBoard` implements the REPL state machine the host relies on (friendly REPL
prompt, raw REPL, raw-paste mode with flow control, soft reset, Ctrl-C) and executes
what it receives with CPython ``exec`` in a per-boot globals dict, so the real
``firmware/rpc.py`` dispatcher runs on it. :class:`FakePort` gives it the pyserial API
a :class:`hil.transport.Transport` needs; bytes are processed synchronously when the
host writes them, so tests are deterministic.

It is not a MicroPython emulator: Python semantics are CPython's. Files go to ``root``.
"""

from __future__ import annotations

import builtins
import contextlib
import io
import os
import time
import traceback
import types
import warnings
from typing import Dict, List, Optional


class FakeBoard:
    """REPL state machine around CPython ``exec``.

    ``raw_paste``: offer raw-paste mode (window of ``window`` bytes).
    ``root``: folder that plays the board's filesystem (``open`` is relative to it).
    """

    BANNER_FRIENDLY = b"MicroPython v1.99.0 on fake; CPython board\r\nType \"help()\" for more information.\r\n>>> "

    def __init__(self, root: str, raw_paste: bool = False, window: int = 32):
        self.root = root
        self.raw_paste = raw_paste
        self.window = window
        self.out = bytearray()
        self.executed: List[str] = []  # every program run (for assertions)
        self.resets = 0
        self._boot(banner=True)

    # -- state
    def _fresh_globals(self) -> Dict[str, object]:
        # A cheap stand-in for MicroPython's gc (CPython's collect() takes ~15 ms).
        board_gc = types.SimpleNamespace(collect=lambda: None, mem_free=lambda: 100000,
                                         mem_alloc=lambda: 4000)

        modules: Dict[str, types.ModuleType] = {}

        def board_import(name, *args, **kwargs):
            # Modules are files in the board's root first (like MicroPython's flash),
            # imported once per boot; a soft reset forgets them.
            if name == "gc":
                return board_gc
            if name in modules:
                return modules[name]
            path = os.path.join(self.root, name + ".py")
            if os.path.exists(path):
                module = types.ModuleType(name)
                module.__dict__["__builtins__"] = table
                with open(path, encoding="utf-8") as handle:
                    exec(compile(handle.read(), path, "exec"), module.__dict__)
                modules[name] = module
                return module
            return builtins.__import__(name, *args, **kwargs)

        table = dict(builtins.__dict__, __import__=board_import)
        return {"__name__": "__main__", "__builtins__": table}

    def _boot(self, banner: bool) -> None:
        self.globals = self._fresh_globals()
        self.mode = "friendly"
        self.line = bytearray()
        self.paste: Optional[dict] = None
        if banner:
            self.out += self.BANNER_FRIENDLY

    def soft_reset(self) -> None:
        self.resets += 1
        mode = self.mode
        self.globals = self._fresh_globals()
        self.line = bytearray()
        self.out += b"MPY: soft reboot\r\n"
        if mode == "raw":
            self.out += b"raw REPL; CTRL-B to exit\r\n>"
        else:
            self.out += self.BANNER_FRIENDLY

    # -- execution
    def _run(self, code: bytes) -> None:
        text = code.decode("utf-8", "replace")
        self.executed.append(text)
        stdout = io.StringIO()
        stderr = ""
        cwd = os.getcwd()
        os.chdir(self.root)
        try:
            with contextlib.redirect_stdout(stdout), warnings.catch_warnings():
                warnings.simplefilter("ignore")  # damaged code may warn before it fails
                exec(compile(text, "<stdin>", "exec"), self.globals)
        except BaseException:  # the board prints any exception, as MicroPython does
            stderr = traceback.format_exc()
        finally:
            os.chdir(cwd)
        self.out += stdout.getvalue().replace("\n", "\r\n").encode("utf-8")
        self.out += b"\x04" + stderr.replace("\n", "\r\n").encode("utf-8") + b"\x04>"

    # -- input
    def feed(self, data: bytes) -> None:
        for byte in data:
            self._byte(byte)

    def _byte(self, c: int) -> None:
        if self.paste is not None:
            self._paste_byte(c)
            return
        if self.mode == "friendly":
            if c == 0x01:
                self.mode = "raw"
                self.line = bytearray()
                self.out += b"\r\nraw REPL; CTRL-B to exit\r\n>"
            elif c == 0x03:
                self.line = bytearray()
                self.out += b"\r\n>>> "
            elif c == 0x04 and not self.line:
                self.soft_reset()
            elif c == 0x0D:
                self.out += b"\r\n>>> "
                self.line = bytearray()
            elif c >= 0x20:
                self.line.append(c)
                self.out.append(c)
            return
        # raw REPL
        if c == 0x01:
            self.line = bytearray()
            self.out += b"raw REPL; CTRL-B to exit\r\n>"
        elif c == 0x02:
            self.mode = "friendly"
            self.out += b"\r\n" + self.BANNER_FRIENDLY
        elif c == 0x03:
            self.line = bytearray()
        elif c == 0x04:
            if not self.line:
                self.out += b"OK\r\n"
                self.soft_reset()
            else:
                code = bytes(self.line)
                self.line = bytearray()
                self.out += b"OK"
                self._run(code)
        else:
            self.line.append(c)  # any other byte, as MicroPython lets through
            # Ctrl-E 'A' then Ctrl-A: the raw-paste request (Ctrl-A is handled above,
            # so the request is recognised when "\x05A" is the whole line).
            if self.line == b"\x05A":
                self.paste = {"want_ctrl_a": True}

    def _paste_byte(self, c: int) -> None:
        paste = self.paste
        assert paste is not None
        if paste.pop("want_ctrl_a", False):
            if c != 0x01:
                self.paste = None
                self._byte(c)  # not a request after all: an ordinary raw REPL byte
                return
            self.line = bytearray()
            if not self.raw_paste:
                # An old board: Ctrl-A just resets the raw REPL line.
                self.paste = None
                self.out += b"raw REPL; CTRL-B to exit\r\n>"
                return
            # "R\x01", the window size, and one extra window granted at once.
            self.out += b"R\x01" + self.window.to_bytes(2, "little") + b"\x01"
            paste.update(data=bytearray(), room=2 * self.window, used=0)
            return
        if c in (0x03, 0x04):
            self.paste = None
            self.out += b"\x04"  # end of data acknowledged
            if c == 0x03:
                self.out += b"\x04Traceback (most recent call last):\r\nKeyboardInterrupt: \r\n\x04>"
            else:
                self._run(bytes(paste["data"]))
            return
        paste["data"].append(c)
        paste["room"] -= 1
        paste["used"] += 1
        if paste["room"] < 0:
            raise AssertionError("host overran the raw-paste window")
        if paste["used"] == self.window:
            paste["used"] = 0
            paste["room"] += self.window
            self.out += b"\x01"  # one more window


class FakePort:
    """pyserial-like port whose other end is a :class:`FakeBoard`."""

    def __init__(self, board: FakeBoard, name: str = "fake://board"):
        self.board = board
        self.port = name
        self.timeout: Optional[float] = 0.02
        self.closed = False
        self.dropped_writes = False  # test hook: a board that stops listening

    @property
    def in_waiting(self) -> int:
        return len(self.board.out)

    def write(self, data: bytes) -> int:
        if not self.dropped_writes:
            self.board.feed(bytes(data))
        return len(data)

    def flush(self) -> None:
        pass

    def read(self, size: int = 1) -> bytes:
        if not self.board.out and self.timeout:
            time.sleep(min(self.timeout, 0.005))
        data = bytes(self.board.out[:size])
        del self.board.out[:size]
        return data

    def reset_input_buffer(self) -> None:
        self.board.out.clear()

    def close(self) -> None:
        self.closed = True
