"""TD-MAC core of the reference backend against SPEC section 7."""

import numpy as np
from hypothesis import given, settings, strategies as st

from emulator.backends import reference
from emulator.image import encode, new_program, new_tile


def _tdmac(A, N, K, t_in, theta, ramp, weights, arrivals, **params):
    p = new_program(window=K)
    t = new_tile("tdmac", A, N, t_in=t_in, theta=theta, ramp=ramp, **params)
    t.weights[:] = weights
    p.tiles = [t]
    p.probes = [(0, n) for n in range(N)]
    p.code = [("inject", (0, k, a)) for k, a in enumerate(arrivals) if a is not None] + [("run", (1,))]
    return reference.run(p, encode(p))


@settings(max_examples=40, deadline=None)
@given(st.data())
def test_linear_charge_is_the_dot_product_and_the_spike_time_decodes_it(data):
    A = data.draw(st.integers(1, 8))
    N = data.draw(st.integers(1, 4))
    t_in = data.draw(st.integers(1, 20))
    K = t_in + data.draw(st.integers(1, 40))
    ramp = data.draw(st.integers(0, 50))
    theta = data.draw(st.integers(1, 3000))
    w = np.array(data.draw(st.lists(st.lists(st.integers(-127, 127), min_size=N, max_size=N),
                                    min_size=A, max_size=A)), np.int64)
    arr = data.draw(st.lists(st.one_of(st.none(), st.integers(0, K - 1)), min_size=A, max_size=A))
    tr = _tdmac(A, N, K, t_in, theta, ramp, w, arr)
    x = np.array([t_in - a if a is not None and a < t_in else 0 for a in arr], np.int64)
    D = x @ w
    assert tr.arrays["probe_v"][0].tolist() == D.tolist()
    assert tr.arrays["probe_u"][0].tolist() == [0] * N
    assert tr.arrays["cnt_mac_ops"][0] == int((x > 0).sum()) * N
    fired = dict(zip(tr.arrays["spk_neuron"].tolist(), tr.arrays["spk_offset"].tolist()))
    for n in range(N):
        d = int(D[n])
        if n in fired:
            j = fired[n] - t_in
            assert 0 <= j < K - t_in
            if ramp == 0:
                assert j == 0 and d >= theta
            elif j == 0:
                assert d >= theta - ramp
            else:   # the quantisation bound: one ramp step
                assert theta - ramp * (j + 1) <= d < theta - ramp * j
        else:
            assert d + ramp * (K - t_in) < theta
        assert tr.arrays["v_final"][n] == d + ramp * (K - t_in)
    # spikes come in (offset, neuron) order within the tile
    order = list(zip(tr.arrays["spk_offset"].tolist(), tr.arrays["spk_neuron"].tolist()))
    assert order == sorted(order)


def test_larger_dot_products_fire_earlier():
    w = np.array([[1, 2, 3]], np.int64)
    tr = _tdmac(1, 3, 64, 16, 200, 4, w, [0])
    offs = dict(zip(tr.arrays["spk_neuron"].tolist(), tr.arrays["spk_offset"].tolist()))
    assert offs[2] < offs[1] < offs[0]


def test_rc_model_follows_the_closed_form_within_the_bound():
    for s, rail, ws, t_in in [(8, 1 << 16, [10, -3, 7], 30), (6, 5000, [20, 20, -5], 12),
                              (10, 1 << 20, [100, 100, 100, -50], 40), (4, 999, [1], 25)]:
        A = len(ws)
        w = np.array(ws, np.int64).reshape(A, 1)
        tr = _tdmac(A, 1, t_in + 4, t_in, 1 << 29, 0, w, [0] * A, charge=1, rc_shift=s, rail=rail)
        Gp = sum(x for x in ws if x > 0)
        Gn = sum(-x for x in ws if x < 0)
        G = Gp + Gn
        assert G <= 1 << s
        q_inf = rail * (Gp - Gn) / G
        closed = q_inf * (1 - (1 - G / 2 ** s) ** t_in)   # Q after cycle c = t_in - 1
        D = tr.arrays["probe_v"][0, 0]
        assert abs(D - closed) < 2 ** s / G + 1, (s, rail, ws, D, closed)


def test_rc_charge_is_clamped_to_the_rail_and_the_ramp_stops_there():
    w = np.full((4, 1), 127, np.int64)
    tr = _tdmac(4, 1, 40, 20, 1000, 300, w, [0] * 4, charge=1, rc_shift=0, rail=1000)
    # G = 508 > 2^0: the first step overshoots and is clamped to the rail
    assert tr.arrays["probe_v"][0, 0] == 1000
    assert tr.arrays["spk_offset"].tolist() == [20]
    assert tr.arrays["v_final"][0] == 1000
    tr = _tdmac(4, 1, 40, 20, 1001, 300, w, [0] * 4, charge=1, rc_shift=0, rail=1000)
    assert len(tr.arrays["spk_offset"]) == 0   # a threshold above the rail is never reached
