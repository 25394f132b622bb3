"""hello_lif.spk: the LIF tile does what docs/SPEC.md section 6 says.

1. The program as written (leak, refractory, a spike train): every spike and every probed
   voltage equals the section 6 update rule iterated here in plain Python.
2. Rate: with the leak off and a constant input of k spikes per tick on axon 0
   (I = k * W_SELF), neuron 0 fires every ceil(vth / I) + refractory ticks (the closed
   form of section 6), so its output rate follows the input rate.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from program_helpers import program_path, run_program, spikes_of

import emulator as nt


def decay(x, d):
    return (-1 if x < 0 else 1) * ((abs(x) * (4096 - d)) >> 12)


def lif_model(tile, counts):
    """Section 6 iterated: counts [ticks, axons] -> (spikes [(tick, neuron)], v [ticks, N])."""
    p = tile.params
    w = tile.weights.astype(int)
    N = tile.neurons
    v = [0] * N
    u = [0] * N
    ref = [0] * N
    spikes, vs = [], []
    for tk, cnt in enumerate(counts):
        act = [int(sum(int(cnt[k]) * w[k][n] for k in range(tile.axons))) for n in range(N)]
        for n in range(N):
            u[n] = decay(u[n], p["du"]) + (act[n] << p["wshift"])
            if ref[n] > 0:
                ref[n] -= 1
                continue
            v[n] = decay(v[n], p["dv"]) + u[n] + p["bias"]
            if v[n] >= p["vth"]:
                spikes.append((tk, n))
                v[n] = 0 if p["reset"] == 0 else v[n] - p["vth"]
                ref[n] = p["refractory"]
        vs.append(list(v))
    return spikes, np.array(vs)


def input_counts(prog, ticks):
    """Spike counts per tick and axon of tile 0 from the program's one played block."""
    counts = np.zeros((ticks, prog.tiles[0].axons), np.int64)
    for dtick, tile, axon, _ in np.asarray(prog.blocks[0]).tolist():
        if tile == 0 and dtick < ticks:
            counts[dtick, axon] += 1
    return counts


def test_program_follows_the_section6_update_rule():
    prog = nt.load(program_path("hello_lif.spk"))
    assert prog.code[0][0] == "play"             # the block starts at tick 0
    ticks = prog.static_ticks()
    trace = run_program("hello_lif.spk")
    assert trace.n_ticks == ticks
    expected, v = lif_model(prog.tiles[0], input_counts(prog, ticks))
    t, _, n = spikes_of(trace, 0)
    assert sorted(zip(t.tolist(), n.tolist())) == expected
    assert len(expected) > 0
    probe = [i for i, (tile, neuron) in enumerate(prog.probes) if (tile, neuron) == (0, 0)][0]
    assert np.array_equal(np.asarray(trace["probe_v"])[:, probe], v[:, 0])


@pytest.mark.parametrize("k", [1, 2, 3, 4])
def test_output_rate_follows_input_rate(k):
    prog = nt.load(program_path("hello_lif.spk"))
    tile = prog.tiles[0]
    tile.params["dv"] = 0                         # no leak: the closed form applies
    ticks = 60
    prog.blocks[0] = np.array([(d, 0, 0, 0) for d in range(ticks) for _ in range(k)], np.int64)
    prog.code = [("play", (0,)), ("run", (ticks,)), ("halt", ())]
    trace = run_program(prog)
    t, _, n = spikes_of(trace, 0)
    fires = t[n == 0]
    current = k * int(tile.weights[0, 0]) << tile.params["wshift"]
    period = math.ceil(tile.params["vth"] / current) + tile.params["refractory"]
    # the first spike after ceil(vth / I) ticks, then one every `period` ticks
    first = math.ceil(tile.params["vth"] / current) - 1
    assert fires.tolist() == list(range(first, ticks, period))
    rate = len(fires) / ticks
    assert rate == pytest.approx(1 / period, abs=1 / ticks)
