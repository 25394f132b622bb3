"""tdmac_dot.spk: output spike times decode to the dot products within SPEC 7's bound.

The inputs are decoded from the program's spike block (x = t_in - offset), the dot
products computed with numpy from the program's weights; every output spike's step
j = c - t_in must be section 7's j = max(0, ceil((theta - D) / ramp) - 1), which places D
in the one-ramp-step interval [theta - ramp (j + 1), theta - ramp j) (j > 0), a neuron
without a spike must have D below the last step, and the probed D must be exact.

(Section 7's prose gives the interval as (theta - ramp (j + 1), theta - ramp j]; that
contradicts its own formula for j when theta - D is a multiple of ramp: D = 128,
theta = 512, ramp = 32 gives j = 11 and D = theta - 12 ramp, the closed end. The charge
rule, Q = D + ramp (c - t_in + 1) >= theta, agrees with the formula, so this test does.)
"""

from __future__ import annotations

import numpy as np
import pytest

from program_helpers import program_path, run_program, spikes_of

import emulator as nt


@pytest.fixture(scope="module")
def setup():
    prog = nt.load(program_path("tdmac_dot.spk"))
    trace = run_program("tdmac_dot.spk")
    return prog, trace


def dot_products(prog, ticks):
    tile = prog.tiles[0]
    t_in = tile.params["t_in"]
    arr = np.full((ticks, tile.axons), -1)
    for dtick, ti, axon, off in np.asarray(prog.blocks[0]).tolist():
        if ti == 0 and dtick < ticks:
            arr[dtick, axon] = off if arr[dtick, axon] < 0 else min(arr[dtick, axon], off)
    x = np.where((arr >= 0) & (arr < t_in), t_in - arr, 0)
    return x @ tile.weights.astype(np.int64), x


def test_spike_times_decode_to_the_dot_products(setup):
    prog, trace = setup
    tile = prog.tiles[0]
    theta, ramp, t_in = tile.params["theta"], tile.params["ramp"], tile.params["t_in"]
    K = prog.chip["window"]
    ticks = trace.n_ticks
    D, x = dot_products(prog, ticks)
    assert x.any()
    t, c, n = spikes_of(trace, 0)
    fired = {(a, b): off for a, b, off in zip(t.tolist(), n.tolist(), c.tolist())}
    checked = 0
    for tk in range(ticks):
        for neuron in range(tile.neurons):
            d = int(D[tk, neuron])
            if (tk, neuron) not in fired:
                assert d < theta - ramp * (K - t_in), (tk, neuron, d)
                continue
            j = fired[(tk, neuron)] - t_in
            assert 0 <= j < K - t_in
            assert j == max(0, -((d - theta) // ramp) - 1), (tk, neuron, d, j)
            if j == 0:
                assert d >= theta - ramp
            else:
                assert theta - ramp * (j + 1) <= d < theta - ramp * j, (tk, neuron, d, j)
            # the decoded estimate is within one ramp step of the true dot product
            estimate = theta - ramp * j
            assert abs(estimate - d) <= ramp or j == 0
            checked += 1
    assert checked > 0


def test_probes_record_the_exact_dot_products(setup):
    prog, trace = setup
    D, _ = dot_products(prog, trace.n_ticks)
    for i, (tile, neuron) in enumerate(prog.probes):
        assert tile == 0
        assert np.array_equal(np.asarray(trace["probe_v"])[:, i], D[:, neuron])


def test_larger_dot_products_fire_earlier(setup):
    prog, trace = setup
    D, _ = dot_products(prog, trace.n_ticks)
    t, c, n = spikes_of(trace, 0)
    for tk in np.unique(t):
        sel = t == tk
        d = D[tk, n[sel]]
        order = np.argsort(-d, kind="stable")
        assert np.all(np.diff(c[sel][order]) >= 0)
