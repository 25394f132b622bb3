"""Seeded fault injection on a serial link, for tests.

:class:`FaultyPort` wraps any pyserial-like port object (the ``port`` of a
:class:`hil.transport.Transport`) and, per byte and per direction, drops, corrupts (one
random bit flipped), duplicates or delays it at the configured rates. The generator is
seeded, so a failing run can be replayed. Counters say what was injected.

    tr = open_transport(path)
    faults = inject_faults(tr, tx=FaultRates(drop=0.01, corrupt=0.01),
                           rx=FaultRates(drop=0.01, corrupt=0.01), seed=7)
    ...
    faults.counts  # {'tx_drop': 3, 'rx_corrupt': 5, ...}
"""

from __future__ import annotations

import collections
import random
import time
from dataclasses import dataclass
from typing import Any, Deque, Dict, Optional, Tuple

__all__ = ["FaultRates", "FaultyPort", "inject_faults"]


@dataclass(frozen=True)
class FaultRates:
    """Per-byte probabilities of each fault, and the longest delay in seconds.

    A delayed byte holds back the bytes behind it (the link keeps order).
    """

    drop: float = 0.0
    corrupt: float = 0.0
    duplicate: float = 0.0
    delay: float = 0.0
    max_delay: float = 0.02

    def __post_init__(self) -> None:
        for name in ("drop", "corrupt", "duplicate", "delay"):
            value = getattr(self, name)
            if not 0.0 <= value <= 1.0:
                raise ValueError("fault rate %s=%r is not a probability" % (name, value))
        if self.max_delay < 0:
            raise ValueError("max_delay must be >= 0")

    @property
    def active(self) -> bool:
        return bool(self.drop or self.corrupt or self.duplicate or self.delay)


class FaultyPort:
    """A port object that injects faults between the host and ``inner``.

    Implements the subset of the pyserial API that :class:`hil.transport.Transport`
    uses; other attributes (``dtr``, ``rts``, ``port``...) pass through to ``inner``.
    """

    def __init__(
        self,
        inner: Any,
        tx: FaultRates = FaultRates(),
        rx: FaultRates = FaultRates(),
        seed: int = 0,
    ):
        self.inner = inner
        self.tx = tx
        self.rx = rx
        self.seed = seed
        self._rng = random.Random(seed)
        self._held: Deque[Tuple[float, int]] = collections.deque()
        self._last_release = 0.0
        self.timeout: Optional[float] = getattr(inner, "timeout", 0.02)
        self.counts: Dict[str, int] = collections.Counter()

    # Attributes we do not implement are the inner port's.
    def __getattr__(self, name: str) -> Any:
        return getattr(self.inner, name)

    def _mangle(self, data: bytes, rates: FaultRates, side: str) -> list:
        """Apply drop/corrupt/duplicate to ``data``; return [(delay, byte), ...]."""
        out = []
        rng = self._rng
        for byte in data:
            if rates.drop and rng.random() < rates.drop:
                self.counts[side + "_drop"] += 1
                continue
            if rates.corrupt and rng.random() < rates.corrupt:
                byte ^= 1 << rng.randrange(8)
                self.counts[side + "_corrupt"] += 1
            delay = 0.0
            if rates.delay and rng.random() < rates.delay:
                delay = rng.uniform(0.0, rates.max_delay)
                self.counts[side + "_delay"] += 1
            out.append((delay, byte))
            if rates.duplicate and rng.random() < rates.duplicate:
                self.counts[side + "_duplicate"] += 1
                out.append((0.0, byte))
        return out

    # ------------------------------------------------------------------ host -> board
    def write(self, data: bytes) -> int:
        """Send ``data`` with tx faults; returns ``len(data)`` like a clean write."""
        if not self.tx.active:
            self.inner.write(data)
            return len(data)
        pending = bytearray()
        for delay, byte in self._mangle(bytes(data), self.tx, "tx"):
            if delay:
                if pending:
                    self.inner.write(bytes(pending))
                    pending.clear()
                time.sleep(delay)
            pending.append(byte)
        if pending:
            self.inner.write(bytes(pending))
        return len(data)

    def flush(self) -> None:
        self.inner.flush()

    # ------------------------------------------------------------------ board -> host
    def _pull(self, block: float) -> None:
        """Move bytes from the inner port into the held queue (blocking <= block s)."""
        self.inner.timeout = max(0.0, block)
        waiting = self.inner.in_waiting
        data = self.inner.read(max(1, waiting))
        if not data:
            return
        now = time.monotonic()
        for delay, byte in self._mangle(data, self.rx, "rx"):
            release = max(now + delay, self._last_release)
            self._last_release = release
            self._held.append((release, byte))

    def _ready(self, limit: int) -> bytes:
        now = time.monotonic()
        out = bytearray()
        while self._held and len(out) < limit and self._held[0][0] <= now:
            out.append(self._held.popleft()[1])
        return bytes(out)

    @property
    def in_waiting(self) -> int:
        self._pull(0.0)
        now = time.monotonic()
        return sum(1 for release, _ in self._held if release <= now)

    def read(self, size: int = 1) -> bytes:
        """Read up to ``size`` bytes, waiting at most ``self.timeout`` seconds."""
        deadline = time.monotonic() + (self.timeout or 0.0)
        while True:
            self._pull(0.0)
            got = self._ready(size)
            if got:
                return got
            now = time.monotonic()
            if now >= deadline:
                return b""
            wait = deadline - now
            if self._held:
                wait = min(wait, max(0.0, self._held[0][0] - now))
            self._pull(min(wait, 0.01))
            got = self._ready(size)
            if got:
                return got

    def reset_input_buffer(self) -> None:
        self._held.clear()
        self.inner.reset_input_buffer()

    def close(self) -> None:
        self.inner.close()


def inject_faults(
    transport: Any,
    tx: FaultRates = FaultRates(),
    rx: FaultRates = FaultRates(),
    seed: int = 0,
) -> FaultyPort:
    """Wrap ``transport.port`` in a :class:`FaultyPort` in place and return it.

    Undo with ``transport.port = faulty.inner``.
    """
    faulty = FaultyPort(transport.port, tx=tx, rx=rx, seed=seed)
    transport.port = faulty
    return faulty
