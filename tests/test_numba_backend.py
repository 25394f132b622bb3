"""numba-specific behaviour of the fast backend: chunking, the compile cache, and
small cases computed by hand from docs/SPEC.md."""

from __future__ import annotations

import subprocess
import sys

import numpy as np
from hypothesis import given, settings

from emulator import image, isa
from emulator.backends import numba_backend
from tests.strategies import runs


def _small_program():
    """Two tiles: LIF tile 0 (4 axons x 3 neurons, vth 2) routes neuron 0 to tile 1
    (TD-MAC, t_in 4, theta 3, ramp 1) and to itself; window 8."""
    prog = image.new_program(2, 1, window=8)
    t = image.new_tile("lif", 4, 3, vth=2)
    t.weights[:] = 1
    t.routes[0] = [(1, 0), (0, 1)]
    prog.tiles[0] = t
    t2 = image.new_tile("tdmac", 2, 2, theta=3, t_in=4, ramp=1)
    t2.weights[:] = 1
    prog.tiles[1] = t2
    prog.probes = [(0, 0), (1, 1)]
    prog.code = [("inject", (0, 0, 0)), ("inject", (0, 1, 0)), ("run", (3,)), ("mark", (5,))]
    return prog


def test_hand_computed_lif_tdmac_router():
    prog = _small_program()
    a = numba_backend.run(prog, image.encode(prog)).arrays
    # tick 0: act = 2 >= vth on all three LIF neurons; the TD-MAC tile has no input:
    # its charge ramps 1, 2, 3 over cycles 4, 5, 6 and fires at offset 6
    # tick 1: axon 0 of tile 1 got the LIF spike (x = t_in = 4, D = 4 >= 3: fires at t_in)
    # and axon 1 of tile 0 its own spike (act = 1 < vth); tick 2: no input
    assert a["spk_tick"].tolist() == [0, 0, 0, 0, 0, 1, 1, 2, 2]
    assert a["spk_offset"].tolist() == [0, 0, 0, 6, 6, 4, 4, 6, 6]
    assert a["spk_tile"].tolist() == [0, 0, 0, 1, 1, 1, 1, 1, 1]
    assert a["spk_neuron"].tolist() == [0, 1, 2, 0, 1, 0, 1, 0, 1]
    # packet to tile 1: injected at cycle 0, crosses E at cycle 1, ejected at cycle 2;
    # packet to itself: injected at cycle 1 (one injection per cycle), ejected at 2
    assert a["pkt_dst_tile"].tolist() == [1, 0]
    assert a["pkt_arrive"].tolist() == [2, 2]
    assert a["pkt_hops"].tolist() == [1, 0]
    assert a["link_busy"].tolist() == [[1, 0, 1, 0, 0], [1, 0, 0, 0, 0]]
    assert a["fifo_peak"].tolist() == [[1, 0, 0, 0, 0], [0, 0, 0, 0, 1]]
    assert a["probe_v"].tolist() == [[0, 0], [1, 4], [1, 0]]
    assert a["probe_u"].tolist() == [[2, 0], [1, 0], [0, 0]]
    assert a["v_final"].tolist() == [1, 1, 1, 4, 4]
    assert a["mark_tick"].tolist() == [3] and a["mark_id"].tolist() == [5]
    assert a["cnt_syn_events"].tolist() == [9, 0]
    assert a["cnt_mac_ops"].tolist() == [0, 2]
    assert a["cnt_neuron_updates"].tolist() == [9, 6]
    assert a["tick_start"].tolist() == [0, 8, 16, 24]


def test_lif_closed_form_period():
    """SPEC 6: constant input I, dv = 0, reset zero, refractory r: period ceil(vth/I) + r."""
    prog = image.new_program(1, 1)
    t = image.new_tile("lif", 1, 1, vth=10, bias=3, refractory=2)
    prog.tiles[0] = t
    prog.code = [("run", (40,))]
    a = numba_backend.run(prog, image.encode(prog)).arrays
    assert np.diff(a["spk_tick"]).tolist() == [4 + 2] * (len(a["spk_tick"]) - 1)


@settings(max_examples=40)
@given(runs())
def test_chunked_runs_equal_one_run(case):
    prog, ticks = case
    data = image.encode(prog)
    try:
        whole = numba_backend.run(prog, data, ticks=ticks, state_hash=True)
    except Exception as e:                       # both must fail the same way
        try:
            numba_backend.run(prog, data, ticks=ticks, state_hash=True, chunk_ticks=1)
        except type(e):
            return
        raise AssertionError("only the unchunked run failed") from None
    seen = []
    for chunk in (1, 3):
        tr = numba_backend.run(prog, data, ticks=ticks, state_hash=True, chunk_ticks=chunk,
                               progress=lambda done, total: seen.append((done, total)))
        assert whole.agrees(tr), whole.first_divergence(tr)
    assert seen and seen[-1][0] == whole.n_ticks


def test_compile_cache_is_used_in_a_new_process():
    code = ("from emulator.backends import numba_backend as nb; nb.warmup(); "
            "print(sum(nb.run_chunk.stats.cache_hits.values()), "
            "sum(nb.run_chunk.stats.cache_misses.values()))")
    subprocess.run([sys.executable, "-c", code], check=True, capture_output=True)  # fill it
    out = subprocess.run([sys.executable, "-c", code], check=True, capture_output=True, text=True)
    hits, misses = map(int, out.stdout.split())
    assert hits >= 1 and misses == 0


# ---------------------------------------------------------------------------
# the fast paths of the numba kernels, each against the reference on inputs
# chosen to sit on both sides of its switch (the random programs of
# test_differential.py reach them too, but not reliably at the edges)
# ---------------------------------------------------------------------------
def _agree(prog, ticks=None):
    from emulator.backends import reference
    data = image.encode(prog)
    ta = reference.run(prog, data, ticks=ticks, state_hash=True)
    tb = numba_backend.run(prog, data, ticks=ticks, state_hash=True)
    assert ta.agrees(tb), ta.first_divergence(tb)
    return tb.arrays


def _accumulator_program(spikes, **params):
    """One LIF tile, weights at +wmax, ``spikes`` input spikes spread over 2 axons
    in one tick: the synaptic sum is spikes * 127 (int16 holds it up to 258)."""
    prog = image.new_program(1, 1)
    t = image.new_tile("lif", 4, 3, vth=1 << 22, **params)
    t.weights[:] = 127
    t.weights[:, 1] = -127
    prog.tiles[0] = t
    prog.probes = [(0, 0), (0, 1), (0, 2)]
    a0 = min(spikes, 255)
    prog.code = ([("inject", (0, 0, 0))] * a0 + [("inject", (0, 1, 0))] * (spikes - a0)
                 + [("run", (2,))])
    return prog


def test_int16_accumulator_switch_edges():
    """The core sums in int16 when spikes * max|w_eff| fits, else in int32."""
    for spikes in (1, 258, 259, 300, 510):
        a = _agree(_accumulator_program(spikes))
        assert a["probe_u"][0].tolist() == [spikes * 127, -spikes * 127, spikes * 127]
    for spikes in (128, 129, 300):                  # noisy tiles: |w_eff| <= 2 * wmax
        _agree(_accumulator_program(spikes, variation=127, quant=5, du=100, wshift=3))


def test_lif_fast_path_conditions():
    """The common-tile path (du 4096, no refractory, no comparator offset or noise)
    against the general one, leak and both reset modes."""
    for params in (dict(), dict(dv=700), dict(reset=1, dv=3), dict(refractory=2),
                   dict(cmp_offset=30), dict(cmp_noise=30), dict(du=4095), dict(bias=-50)):
        prog = image.new_program(1, 1)
        t = image.new_tile("lif", 8, 8, vth=100, **params)
        t.weights[:] = np.arange(-28, 36).reshape(8, 8).astype(np.int8)
        prog.tiles[0] = t
        ev = [(d, 0, (d * 3 + k) % 8, 0) for d in range(40) for k in range(d % 5)]
        prog.blocks = [np.array(ev, np.int64)]
        prog.code = [("play", (0,)), ("run", (40,))]
        _agree(prog)


def _stdp_program(w0, wmin, wmax, setw=None):
    prog = image.new_program(1, 1)
    t = image.new_tile("lif", 16, 8, vth=20, bias=9)
    t.weights[:] = w0
    t.routes = [[] for _ in range(8)]
    s = isa.STDP.defaults()
    # a_plus 2, frac_bits 8: the column update of an axon with a trace below 64
    # rounds to 0
    s.update(enabled=1, mode=isa.STDP_PAIR, a_plus=2, a_minus=1, frac_bits=8,
             pre_inc=64, post_inc=64, stochastic=0, wmin=wmin, wmax=wmax)
    t.stdp = s
    prog.tiles[0] = t
    ev = [(d, 0, (5 * d + k) % 16, 0) for d in range(30) for k in range(4)]
    prog.blocks = [np.array(ev, np.int64)]
    code = [("play", (0,)), ("run", (10,))]
    if setw is not None:
        code.append(("setw", (0, 3, 2, setw)))
    prog.code = code + [("run", (20,))]
    return prog


def test_stdp_zero_update_skip_needs_weights_in_range():
    """A column update that rounds to 0 is skipped only while every weight of the
    tile lies in the clamp range: weights programmed outside it are still clamped."""
    w_in = np.tile(np.arange(-8, 8, dtype=np.int8)[:, None], (1, 8))
    a = _agree(_stdp_program(w_in, -10, 10))
    assert not np.array_equal(a["w_init"], a["w_final"])
    w_out = np.tile(np.arange(-40, 40, 5, dtype=np.int8)[:, None], (1, 8))
    a = _agree(_stdp_program(w_out, -10, 10))           # outside from the start
    assert np.abs(a["w_final"]).max() <= 10 < np.abs(a["w_init"]).max()
    _agree(_stdp_program(w_in, -10, 10, setw=60))       # setw leaves the range
    _agree(_stdp_program(w_in, -10, 10, setw=-10))      # setw on the edge
