"""router_congestion.spk / router_congestion_fixed.spk: stall and drop counts as SPEC 9 predicts.

The prediction is worked out here by hand from the router's rules (docs/SPEC.md section 9),
not by simulating it:

* tile 0 has M packets ready at cycle 0 (LIF spikes are emitted at offset 0), all bound
  for tile 7, h = 7 hops east; nothing else is in the network;
* one injection per tile per cycle, one packet per link per cycle, ejection always
  accepts; with FIFO depth D >= 2 the one-cycle credit return never blocks a single flow,
  so packet i is injected in cycle i, crosses one link per cycle and is ejected in cycle
  e_i = i + 1 + h (latency i + 1 + h); with D = 1 a FIFO that drained in cycle c still
  refuses in cycle c, so the flow moves every other cycle: e_i = 2 i + 1 + h;
* barrier: the tick is stretched until the last packet is out:
  stall = max(0, e_{M-1} - (K - 1)); fixed: every packet with e_i > K - 1 is dropped.
"""

from __future__ import annotations

import numpy as np
import pytest

from program_helpers import program_path, run_program

import emulator as nt

K = 16                                   # window of both programs
HOPS = 7                                 # tile 0 -> tile 7 on the 8x1 mesh
BURSTS = {0: 4, 2: 8, 4: 9, 6: 16, 8: 32}   # tick -> neurons firing together (the .inc)
TICKS = 10


def eject_cycles(m, depth, hops=HOPS):
    step = 1 if depth >= 2 else 2
    return np.array([step * i + 1 + hops for i in range(m)])


def predicted(mode, depth):
    stall = np.zeros(TICKS, np.int64)
    dropped = np.zeros(TICKS, np.int64)
    delivered = np.zeros(TICKS, np.int64)
    for tick, m in BURSTS.items():
        e = eject_cycles(m, depth)
        if mode == "barrier":
            stall[tick] = max(0, e.max() - (K - 1))
            delivered[tick] = m
        else:
            dropped[tick] = int((e > K - 1).sum())
            delivered[tick] = m - dropped[tick]
    return stall, dropped, delivered


def check(trace, mode, depth):
    stall, dropped, delivered = predicted(mode, depth)
    assert np.array_equal(trace["stall"], stall)
    assert np.array_equal(trace["dropped"], dropped)
    # tick lengths: S_{n+1} = S_n + K + stall_n
    assert np.array_equal(np.diff(trace["tick_start"]), K + stall)
    # tile 7's probed current in tick n + 1 counts the packets delivered in tick n
    assert np.array_equal(np.asarray(trace["probe_u"])[1:, 0], delivered[:-1])
    # per packet: latency i + 1 + h for the packets that arrived, -1 for the dropped
    tick = np.asarray(trace["pkt_tick"])
    arrive = np.asarray(trace["pkt_arrive"]).astype(np.int64)
    ready = np.asarray(trace["pkt_ready"]).astype(np.int64)
    hops = np.asarray(trace["pkt_hops"])
    for t, m in BURSTS.items():
        sel = tick == t
        assert sel.sum() == m
        e = eject_cycles(m, depth)
        ok = arrive[sel] >= 0
        assert np.array_equal(arrive[sel][ok] - ready[sel][ok], e[e <= K - 1] if mode == "fixed" else e)
        assert np.all(hops[sel][ok] == HOPS)


@pytest.fixture(scope="module")
def barrier_trace():
    return run_program("router_congestion.spk")


@pytest.fixture(scope="module")
def fixed_trace():
    return run_program("router_congestion_fixed.spk")


def test_barrier_mode_stalls_as_predicted(barrier_trace):
    assert list(barrier_trace["stall"][[0, 2, 4, 6, 8]]) == [0, 0, 1, 8, 24]
    check(barrier_trace, "barrier", depth=4)
    assert barrier_trace.cycles == TICKS * K + 33


def test_fixed_mode_drops_as_predicted(fixed_trace):
    assert list(fixed_trace["dropped"][[0, 2, 4, 6, 8]]) == [0, 0, 1, 8, 24]
    check(fixed_trace, "fixed", depth=4)
    assert fixed_trace.cycles == TICKS * K


@pytest.mark.parametrize("mode", ["barrier", "fixed"])
def test_depth_one_fifos_halve_the_throughput(mode):
    prog = nt.load(program_path("router_congestion.spk"))
    prog.chip["fifo_depth"] = 1
    prog.chip["router_mode"] = {"barrier": 0, "fixed": 1}[mode]
    check(run_program(prog), mode, depth=1)
