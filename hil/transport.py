"""Byte transport to a board: pyserial only, every wait bounded.

A :class:`Transport` wraps any pyserial port object (``serial.serial_for_url`` opens
``/dev/pts/N``, ``/dev/ttyACM0``, ``loop://``, ``socket://``...) and adds what the board
protocol needs and pyserial leaves out:

* reads bounded by **both** an inter-byte (idle) timeout and an overall deadline; a read
  that gives up raises :class:`ReadTimeout` carrying every byte seen so far;
* :meth:`Transport.read_until` for a marker (``b"\\x04>"``, ``b">>> "``...);
* paced writes: the data goes out in ``chunk_size`` pieces with ``chunk_pause`` seconds
  between them. Boards without flow control need it: the micro:bit's receive ring holds
  63 bytes and silently drops the rest (32 B then a 2-5 ms pause measured safe);
* writes bounded by a write timeout (a stopped board must not block the host).

Fault injection (:mod:`hil.faults`) wraps the *port object* under a Transport, so the
same bounded-read logic runs whether the link is clean or faulty.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Any, Optional, Tuple, Union

import serial

__all__ = [
    "Pacing",
    "Transport",
    "TransportError",
    "ReadTimeout",
    "open_transport",
]

# How long one pyserial read() may block while we poll for bytes. Short, so the deadline
# and idle checks run often; the reads themselves return as soon as bytes arrive.
_POLL_S = 0.02


class TransportError(Exception):
    """A transport-level failure. ``seen`` holds the bytes received before it."""

    def __init__(self, message: str, seen: bytes = b""):
        super().__init__(message)
        self.seen = bytes(seen)

    def __str__(self) -> str:
        base = super().__str__()
        if not self.seen:
            return base
        tail = self.seen[-200:]
        more = "..." if len(self.seen) > 200 else ""
        return "%s (seen %d bytes: %s%r)" % (base, len(self.seen), more, tail)


class ReadTimeout(TransportError):
    """A bounded read gave up: the marker did not arrive in time.

    ``reason`` is ``"deadline"`` (overall timeout passed), ``"idle"`` (no byte for the
    inter-byte timeout after some arrived) or ``"silent"`` (nothing arrived at all).
    ``seen`` holds every byte read before giving up.
    """

    def __init__(self, message: str, seen: bytes = b"", reason: str = "deadline"):
        super().__init__(message, seen)
        self.reason = reason


@dataclass(frozen=True)
class Pacing:
    """How to write to a board that has no flow control.

    ``chunk_size`` bytes per write (``0``: all at once), then ``chunk_pause`` seconds.
    """

    chunk_size: int = 0
    chunk_pause: float = 0.0

    def __post_init__(self) -> None:
        if self.chunk_size < 0 or self.chunk_pause < 0:
            raise ValueError("pacing values must be >= 0: %r" % (self,))


class Transport:
    """Bounded, paced byte I/O over a pyserial-like port object.

    ``port`` needs ``read(n)``, ``write(b)``, ``in_waiting``, ``timeout`` (settable),
    ``flush()``, ``close()``; ``dtr``/``rts`` only for :meth:`pulse_reset`.
    ``inter_byte_timeout`` is the default idle limit for reads (seconds without a new
    byte before giving up).
    """

    def __init__(
        self,
        port: Any,
        pacing: Pacing = Pacing(),
        inter_byte_timeout: float = 1.0,
        name: str = "",
    ):
        self.port = port
        self.pacing = pacing
        self.inter_byte_timeout = inter_byte_timeout
        self.name = name or str(getattr(port, "port", "") or getattr(port, "name", "?"))
        self.bytes_written = 0
        self.bytes_read = 0

    # ------------------------------------------------------------------ writing
    def write(self, data: bytes, pacing: Optional[Pacing] = None) -> None:
        """Write ``data``, paced by ``pacing`` (default: the transport's).

        Raises :class:`TransportError` if the port does not take the bytes within its
        write timeout.
        """
        pace = pacing or self.pacing
        step = pace.chunk_size or len(data) or 1
        for i in range(0, len(data), step):
            chunk = data[i:i + step]
            try:
                n = self.port.write(chunk)
                self.port.flush()
            except serial.SerialTimeoutException as exc:
                raise TransportError("write timed out on %s: %s" % (self.name, exc)) from exc
            except (serial.SerialException, OSError) as exc:
                raise TransportError("write failed on %s: %s" % (self.name, exc)) from exc
            if n is not None and n != len(chunk):
                raise TransportError(
                    "short write on %s: %d of %d bytes" % (self.name, n, len(chunk))
                )
            self.bytes_written += len(chunk)
            if pace.chunk_pause and i + step < len(data):
                time.sleep(pace.chunk_pause)

    # ------------------------------------------------------------------ reading
    def _read_some(self, limit: float) -> bytes:
        """One read of whatever is available, blocking at most ``limit`` seconds."""
        self.port.timeout = max(0.0, min(_POLL_S, limit))
        try:
            waiting = self.port.in_waiting
            data = self.port.read(max(1, waiting))
        except (serial.SerialException, OSError) as exc:
            raise TransportError("read failed on %s: %s" % (self.name, exc)) from exc
        self.bytes_read += len(data)
        return data

    def read_until(
        self,
        marker: Union[bytes, Tuple[bytes, ...]],
        timeout: float,
        inter_byte_timeout: Optional[float] = None,
        seen: bytes = b"",
        first_byte_timeout: Optional[float] = None,
    ) -> bytes:
        """Read until ``marker`` (or the earliest of a tuple of markers) appears; return
        everything up to and including it.

        Bounded by ``timeout`` seconds overall and by ``inter_byte_timeout`` seconds
        without a new byte (default: the transport's; ``0`` disables the idle limit).
        ``first_byte_timeout``, if given, replaces the idle limit until the first byte
        of the answer is in hand (a board computing silently before it answers).
        Bytes after the marker that arrived in the same read are kept for the next call.
        ``seen`` is prepended (bytes the caller already has). Raises
        :class:`ReadTimeout` with all bytes seen; its ``reason`` is ``"deadline"``,
        ``"idle"`` or ``"silent"`` (nothing new at all before ``first_byte_timeout``).
        """
        markers = marker if isinstance(marker, tuple) else (marker,)
        longest = max(len(m) for m in markers)
        gap = self.inter_byte_timeout if inter_byte_timeout is None else inter_byte_timeout
        buf = bytearray(seen) + self._take_pushback()
        # Bytes already in hand count as the answer having started.
        got_new = bool(buf)
        idle = gap if first_byte_timeout is None or got_new else first_byte_timeout
        start = time.monotonic()
        deadline = start + timeout
        last_byte = start
        search_from = 0
        while True:
            ends = [hit + len(m) for m in markers for hit in (buf.find(m, search_from),) if hit >= 0]
            if ends:
                end = min(ends)
                self._pushback = bytes(buf[end:])
                return bytes(buf[:end])
            search_from = max(0, len(buf) - longest + 1)
            now = time.monotonic()
            if now >= deadline:
                raise ReadTimeout(
                    "no %r from %s within %.2fs" % (marker, self.name, timeout),
                    bytes(buf),
                    "deadline",
                )
            if idle and now - last_byte >= idle:
                raise ReadTimeout(
                    "no %r from %s: silent for %.2fs" % (marker, self.name, idle),
                    bytes(buf),
                    "idle" if got_new else "silent",
                )
            limit = deadline - now
            if idle:
                limit = min(limit, last_byte + idle - now)
            data = self._read_some(limit)
            if data:
                buf += data
                last_byte = time.monotonic()
                if not got_new:
                    got_new = True
                    idle = gap

    def read_for(self, duration: float) -> bytes:
        """Read everything that arrives during ``duration`` seconds."""
        buf = bytearray(self._take_pushback())
        deadline = time.monotonic() + duration
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                return bytes(buf)
            buf += self._read_some(left)

    def drain(self, quiet: float = 0.05, timeout: float = 1.0) -> bytes:
        """Read and return bytes until the line has been quiet for ``quiet`` seconds.

        Bounded by ``timeout``: a board that keeps talking does not hold the host.
        """
        buf = bytearray(self._take_pushback())
        start = time.monotonic()
        last = start
        while True:
            now = time.monotonic()
            if now - last >= quiet or now - start >= timeout:
                return bytes(buf)
            data = self._read_some(min(quiet - (now - last), start + timeout - now))
            if data:
                buf += data
                last = time.monotonic()

    def read_exactly(self, count: int, timeout: float) -> bytes:
        """Read exactly ``count`` bytes within ``timeout`` seconds, or raise ReadTimeout."""
        buf = bytearray(self._take_pushback())
        deadline = time.monotonic() + timeout
        while len(buf) < count:
            left = deadline - time.monotonic()
            if left <= 0:
                self._pushback = bytes(buf)
                raise ReadTimeout(
                    "expected %d bytes from %s within %.2fs" % (count, self.name, timeout),
                    bytes(buf),
                    "deadline",
                )
            buf += self._read_some(left)
        self._pushback = bytes(buf[count:])
        return bytes(buf[:count])

    def in_waiting(self) -> int:
        """Bytes that can be read now without waiting."""
        try:
            return len(self._pushback) + self.port.in_waiting
        except (serial.SerialException, OSError) as exc:
            raise TransportError("cannot poll %s: %s" % (self.name, exc)) from exc

    def discard_input(self) -> bytes:
        """Drop buffered input (ours and the OS's); return what was buffered here."""
        data = self._take_pushback()
        try:
            self.port.reset_input_buffer()
        except (AttributeError, serial.SerialException, OSError):
            pass
        return data

    _pushback = b""

    def _take_pushback(self) -> bytes:
        data, self._pushback = self._pushback, b""
        return data

    # ------------------------------------------------------------------ control
    def pulse_reset(self, pulse: float = 0.1) -> None:
        """Pulse DTR/RTS: resets ESP32-style boards (RTS drives EN, DTR drives IO0).

        Boards whose USB CDC ignores the lines (RP2040) are not reset by this.
        """
        try:
            self.port.dtr = False
            self.port.rts = True
            time.sleep(pulse)
            self.port.rts = False
            time.sleep(pulse)
        except (AttributeError, serial.SerialException, OSError) as exc:
            raise TransportError("cannot pulse DTR/RTS on %s: %s" % (self.name, exc)) from exc

    def close(self) -> None:
        """Close the port (idempotent)."""
        try:
            self.port.close()
        except (serial.SerialException, OSError):
            pass

    def __enter__(self) -> "Transport":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def open_transport(
    url: str,
    baud: int = 115200,
    pacing: Pacing = Pacing(),
    inter_byte_timeout: float = 1.0,
    write_timeout: float = 2.0,
) -> Transport:
    """Open ``url`` with ``serial.serial_for_url`` and wrap it in a :class:`Transport`.

    ``write_timeout`` bounds every write (a stopped board whose buffers are full must
    not block the host). Raises :class:`TransportError` if the port cannot be opened.
    """
    try:
        port = serial.serial_for_url(
            url,
            baudrate=baud,
            timeout=_POLL_S,
            write_timeout=write_timeout,
            exclusive=None if "://" in url else True,
        )
    except (serial.SerialException, OSError, ValueError) as exc:
        raise TransportError("cannot open %s: %s" % (url, exc)) from exc
    return Transport(port, pacing=pacing, inter_byte_timeout=inter_byte_timeout, name=url)
