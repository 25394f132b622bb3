"""Transport: bounded reads (deadline, idle, silent), markers, pacing, write limits."""

import threading
import time

import pytest
import serial

from hil.transport import Pacing, ReadTimeout, Transport, TransportError, open_transport


def loop_transport(**kwargs):
    return open_transport("loop://", **kwargs)


def test_read_until_returns_through_marker_and_keeps_the_rest():
    tr = loop_transport()
    tr.write(b"abc\x04>tail")
    assert tr.read_until(b"\x04>", timeout=1) == b"abc\x04>"
    assert tr.read_until(b"tail", timeout=1) == b"tail"


def test_read_until_deadline_carries_bytes_seen():
    tr = loop_transport(inter_byte_timeout=0)
    tr.write(b"partial reply")
    start = time.monotonic()
    with pytest.raises(ReadTimeout) as info:
        tr.read_until(b"\x04>", timeout=0.2)
    elapsed = time.monotonic() - start
    assert info.value.seen == b"partial reply"
    assert info.value.reason == "deadline"
    assert 0.15 < elapsed < 1.0
    assert "partial reply" in str(info.value)


class TricklePort:
    """A port that delivers scripted bytes at scripted times (seconds after creation)."""

    def __init__(self, script):
        self.start = time.monotonic()
        self.script = list(script)  # [(at, bytes)]
        self.timeout = 0.02
        self.written = []

    def _due(self):
        now = time.monotonic() - self.start
        out = b""
        while self.script and self.script[0][0] <= now:
            out += self.script.pop(0)[1]
        return out

    @property
    def in_waiting(self):
        return 0

    def read(self, size=1):
        deadline = time.monotonic() + (self.timeout or 0)
        while True:
            data = self._due()
            if data or time.monotonic() >= deadline:
                return data
            time.sleep(0.002)

    def write(self, data):
        self.written.append((time.monotonic(), bytes(data)))
        return len(data)

    def flush(self):
        pass

    def close(self):
        pass


def test_idle_timeout_fires_on_a_gap_inside_a_reply():
    tr = Transport(TricklePort([(0.0, b"OK12"), (5.0, b"\x04>")]), inter_byte_timeout=0.15)
    start = time.monotonic()
    with pytest.raises(ReadTimeout) as info:
        tr.read_until(b"\x04>", timeout=3)
    assert info.value.reason == "idle"
    assert info.value.seen == b"OK12"
    assert time.monotonic() - start < 1.0


def test_first_byte_timeout_allows_silent_compute_then_idle_applies():
    # Silent for 0.3 s (longer than the idle limit), then the reply: accepted.
    tr = Transport(TricklePort([(0.3, b"42\r\n"), (0.35, b"\x04\x04>")]), inter_byte_timeout=0.1)
    assert tr.read_until(b"\x04>", timeout=2, first_byte_timeout=1.0).endswith(b"\x04\x04>")


def test_silent_board_reports_reason_silent():
    tr = Transport(TricklePort([]), inter_byte_timeout=0.1)
    with pytest.raises(ReadTimeout) as info:
        tr.read_until(b"\x04>", timeout=2, first_byte_timeout=0.2)
    assert info.value.reason == "silent"
    assert info.value.seen == b""


def test_paced_write_respects_chunk_size_and_pause():
    port = TricklePort([])
    tr = Transport(port, pacing=Pacing(chunk_size=32, chunk_pause=0.01))
    tr.write(bytes(100))
    sizes = [len(chunk) for _, chunk in port.written]
    assert sizes == [32, 32, 32, 4]
    gaps = [b[0] - a[0] for a, b in zip(port.written, port.written[1:])]
    assert all(gap >= 0.009 for gap in gaps)


def test_unpaced_write_is_one_chunk():
    port = TricklePort([])
    Transport(port).write(bytes(100))
    assert [len(c) for _, c in port.written] == [100]


def test_read_exactly_and_its_timeout():
    tr = loop_transport()
    tr.write(b"R\x01\x20\x00rest")
    assert tr.read_exactly(2, timeout=1) == b"R\x01"
    assert tr.read_exactly(2, timeout=1) == b"\x20\x00"
    with pytest.raises(ReadTimeout) as info:
        tr.read_exactly(10, timeout=0.1)
    assert info.value.seen == b"rest"


def test_drain_is_bounded_on_a_chatty_board():
    stop = threading.Event()
    tr = loop_transport()

    def chatter():
        while not stop.is_set():
            tr.port.write(b"x")
            time.sleep(0.005)

    thread = threading.Thread(target=chatter)
    thread.start()
    try:
        start = time.monotonic()
        data = tr.drain(quiet=0.05, timeout=0.3)
        assert time.monotonic() - start < 0.6
        assert data
    finally:
        stop.set()
        thread.join()


class StuckPort(TricklePort):
    def write(self, data):
        raise serial.SerialTimeoutException("Write timeout")


def test_write_timeout_becomes_transport_error():
    with pytest.raises(TransportError, match="write timed out"):
        Transport(StuckPort([])).write(b"hello")


def test_open_missing_port_is_a_clear_error():
    with pytest.raises(TransportError, match="cannot open /dev/nonexistent-tty"):
        open_transport("/dev/nonexistent-tty")
