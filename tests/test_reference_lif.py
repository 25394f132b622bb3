"""LIF core of the reference backend against SPEC section 6."""

import random

import numpy as np
import pytest

from emulator.backends import reference
from emulator.image import encode, new_program, new_tile


def _run(p, **kw):
    return reference.run(p, encode(p), **kw)


def _decay(x, d):
    return int(np.sign(x)) * ((abs(x) * (4096 - d)) >> 12)


def _one_tile(axons=1, neurons=1, w=1, **params):
    p = new_program(window=4)
    t = new_tile("lif", axons, neurons, **params)
    t.weights[:] = w
    p.tiles = [t]
    p.probes = [(0, n) for n in range(neurons)]
    return p, t


@pytest.mark.parametrize("w", [100, -100, 127])
def test_no_input_decays_exactly_as_decay_says(w):
    p, _ = _one_tile(w=w, wshift=10, dv=300, vth=(1 << 23) - 1)
    p.code = [("inject", (0, 0, 0)), ("run", (12,))]
    v = _run(p).arrays["probe_v"][:, 0].tolist()
    assert v[0] == w << 10
    for a, b in zip(v, v[1:]):
        assert b == _decay(a, 300)
    assert v[-1] != v[0]


@pytest.mark.parametrize("vth,w,wshift,r", [(10, 3, 0, 0), (64, 5, 2, 2), (7, 7, 0, 3), (1000, 9, 3, 1)])
def test_constant_current_fires_every_ceil_vth_over_i_plus_r_ticks(vth, w, wshift, r):
    p, _ = _one_tile(w=w, wshift=wshift, vth=vth, refractory=r)
    p.code = [("loop", (60,)), ("inject", (0, 0, 0)), ("run", (1,)), ("endloop", (1,))]
    ticks = _run(p).arrays["spk_tick"]
    period = -(-vth // (w << wshift)) + r
    assert len(ticks) >= 3
    assert ticks[0] == period - r - 1
    assert set(np.diff(ticks).tolist()) == {period}


def test_reset_by_subtraction_keeps_the_excess():
    p, _ = _one_tile(w=7, vth=10, reset=1)
    p.code = [("loop", (4,)), ("inject", (0, 0, 0)), ("run", (1,)), ("endloop", (1,))]
    tr = _run(p)
    # v: 7, 14 -> fires -> 4, 11 -> fires -> 1, 8
    assert tr.arrays["probe_v"][:, 0].tolist() == [7, 4, 1, 8]
    assert tr.arrays["spk_tick"].tolist() == [1, 2]


def test_refractory_holds_v_and_skips_spikes():
    p, _ = _one_tile(w=20, vth=10, refractory=2)
    p.code = [("loop", (6,)), ("inject", (0, 0, 0)), ("run", (1,)), ("endloop", (1,))]
    tr = _run(p)
    assert tr.arrays["spk_tick"].tolist() == [0, 3]
    assert tr.arrays["probe_v"][:, 0].tolist() == [0, 0, 0, 0, 0, 0]
    assert tr.arrays["probe_u"][:, 0].tolist() == [20] * 6


def test_saturation_at_24_bits():
    p, _ = _one_tile(w=-127, wshift=15, axons=1)
    p.code = [("loop", (4,)), ("inject", (0, 0, 0)), ("run", (1,)), ("endloop", (1,))]
    tr = _run(p)
    assert tr.arrays["probe_u"][:, 0].tolist() == [-127 << 15] * 4
    assert tr.arrays["probe_v"][:, 0].tolist() == [-127 << 15, -254 << 15, -(1 << 23), -(1 << 23)]


def _lava_bitacc(u, v, a_in, du, dv, vth_mant, bias_mant, bias_exp, wexp):
    """Lava's PyLifModelBitAcc, one step, written from its description in SPEC section 6."""
    decay_u = 4096 - (du + 1)
    du_prod = u.astype(np.int64) * decay_u
    u = (np.sign(du_prod) * np.right_shift(np.abs(du_prod), 12)).astype(np.int64)
    u = u + np.left_shift(a_in.astype(np.int64), 6 + wexp)
    dv_prod = v.astype(np.int64) * (4096 - dv)
    v = (np.sign(dv_prod) * np.right_shift(np.abs(dv_prod), 12)).astype(np.int64)
    v = v + u + (bias_mant << bias_exp)
    s = v > (vth_mant << 6)
    v = np.where(s, 0, v)
    return u, v, s


def test_loihi_preset_equals_lavas_bit_accurate_lif():
    rng = random.Random(7)
    for trial in range(6):
        A, N = 4, 5
        du, dv = rng.randrange(0, 4096), rng.randrange(0, 4096)
        vth_mant, bias_mant, bias_exp, wexp = rng.randrange(1, 400), rng.randrange(-20, 40), rng.randrange(0, 4), rng.randrange(0, 3)
        p = new_program(window=2)
        t = new_tile("lif", A, N, du=min(du + 1, 4096), dv=dv, wshift=6 + wexp,
                     vth=(vth_mant << 6) + 1, bias=bias_mant << bias_exp, reset=0, refractory=0)
        w = np.array([[rng.randrange(-127, 128) for _ in range(N)] for _ in range(A)], np.int8)
        t.weights[:] = w
        p.tiles = [t]
        p.probes = [(0, n) for n in range(N)]
        T = 25
        inputs = [[k for k in range(A) if rng.random() < 0.5] for _ in range(T)]
        code = []
        for ks in inputs:
            code += [("inject", (0, k, 0)) for k in ks] + [("run", (1,))]
        p.code = code
        tr = _run(p)
        u = np.zeros(N, np.int64)
        v = np.zeros(N, np.int64)
        spikes = []
        for tk, ks in enumerate(inputs):
            a_in = w[ks].astype(np.int64).sum(axis=0) if ks else np.zeros(N, np.int64)
            u, v, s = _lava_bitacc(u, v, a_in, du, dv, vth_mant, bias_mant, bias_exp, wexp)
            assert np.all(np.abs(u) < 2 ** 23) and np.all(np.abs(v) < 2 ** 23)   # no overflow here
            spikes += [(tk, n) for n in np.flatnonzero(s)]
            assert tr.arrays["probe_u"][tk].tolist() == u.tolist()
            assert tr.arrays["probe_v"][tk].tolist() == v.tolist()
        assert list(zip(tr.arrays["spk_tick"].tolist(), tr.arrays["spk_neuron"].tolist())) == spikes
