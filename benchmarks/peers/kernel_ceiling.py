"""The in-cache crossbar kernel ceiling (not a peer; quoted in docs/PERFORMANCE.md).

Accumulates crossbar-workload-like input rows (256 int8 weights each, about 25.6
rows per tick) into an int32 or int16 accumulator and does nothing else: no
neuron update, no bookkeeping. This is what the `crossbar` target ("aim at the
in-cache kernel, not at the scalar loop") refers to.

Usage: python benchmarks/peers/kernel_ceiling.py      -> one JSON line per kernel
"""

import json
import time

import numpy as np
from numba import njit


@njit(cache=True)
def acc32(W, idx, ptr, ticks, out):
    A, N = W.shape
    acc = np.zeros(N, np.int32)
    s = 0
    for t in range(ticks):
        acc[:] = 0
        for e in range(ptr[t], ptr[t + 1]):
            row = W[idx[e]]
            for n in range(N):
                acc[n] += row[n]
        s += acc[0]
    out[0] = s


@njit(cache=True)
def acc16(W, idx, ptr, ticks, out):
    A, N = W.shape
    acc = np.zeros(N, np.int16)
    s = 0
    for t in range(ticks):
        acc[:] = 0
        for e in range(ptr[t], ptr[t + 1]):
            row = W[idx[e]]
            for n in range(N):
                acc[n] += row[n]
        s += acc[0]
    out[0] = s


def main():
    rng = np.random.default_rng(0)
    W = rng.integers(-60, 81, (256, 256)).astype(np.int8)
    T = 10000
    counts = rng.binomial(256, 0.1, T)
    ptr = np.zeros(T + 1, np.int64)
    ptr[1:] = np.cumsum(counts)
    idx = rng.integers(0, 256, ptr[-1])
    out = np.zeros(1, np.int64)
    for f in (acc32, acc16):
        f(W, idx, ptr, 10, out)
        ts = []
        for _ in range(5):
            t0 = time.perf_counter()
            f(W, idx, ptr, T, out)
            ts.append(time.perf_counter() - t0)
        ev = int(ptr[-1]) * 256
        print(json.dumps({"kernel": f.__name__, "events": ev, "min_s": min(ts),
                          "events_per_s_best": ev / min(ts), "events_per_s_median": ev / float(np.median(ts))}))


if __name__ == "__main__":
    main()
