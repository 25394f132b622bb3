"""STDP and reward learning of the reference backend against SPEC section 10."""

import firmware  # noqa: F401  (firmware folder on sys.path)
import nt_rng
import nt_stdp

from emulator import isa
from emulator.backends import reference
from emulator.image import encode, new_program, new_tile


def _run(p, **kw):
    return reference.run(p, encode(p), **kw)


def _learning_tile(A, N, w, mode=isa.STDP_PAIR, **stdp):
    t = new_tile("lif", A, N, vth=5)
    t.weights[:] = w
    t.stdp = isa.STDP.defaults()
    t.stdp.update(enabled=1, mode=mode, **stdp)
    return t


def test_pair_rule_on_a_2x2_hand_example():
    # tick 0: pre spike on axon 0, neuron 0 fires (w00 = 10 >= vth 5)
    #   (0,0): 16 * x'(64) - 16 * y(0) = 1024 -> round(1024, 8) = 4 -> w00 = 14
    #   (0,1): -16 * y1(0) = 0;  (1,0): 16 * x1(0) = 0
    # tick 1: pre spike on axon 1, nobody fires; traces decayed: x0 = 48, y0 = 48
    #   (1,0): -16 * 48 = -768 -> (-768 + 128) >> 8 = -3 -> w10 = -3;  (1,1): 0
    p = new_program(window=2)
    p.tiles = [_learning_tile(2, 2, [[10, 0], [0, 0]])]
    p.code = [("inject", (0, 0, 0)), ("run", (1,)), ("inject", (0, 1, 0)), ("run", (1,))]
    a = _run(p).arrays
    assert a["spk_tick"].tolist() == [0] and a["spk_neuron"].tolist() == [0]
    assert a["w_init"].tolist() == [10, 0, 0, 0]
    assert a["w_final"].tolist() == [14, 0, -3, 0]
    assert a["cnt_stdp_updates"].tolist() == [3 + 2]


def test_clamps_and_learning_switch():
    p = new_program(window=2)
    p.tiles = [_learning_tile(1, 1, [[10]], wmax=11, a_plus=255, frac_bits=0)]
    p.code = [("inject", (0, 0, 0)), ("run", (1,)), ("learn", (0, 0)), ("inject", (0, 0, 0)), ("run", (1,))]
    a = _run(p).arrays
    assert a["w_final"].tolist() == [11]
    assert a["cnt_stdp_updates"].tolist() == [1]


def test_stochastic_rounding_is_unbiased_on_average():
    F = 6
    for d in (37, -37, 100, 5):
        total = sum(nt_stdp.rnd(d, F, nt_rng.draw(1, isa.STREAM_STDP, tk, 7)) for tk in range(4000))
        assert abs(total / 4000 - d / 2 ** F) < 0.03, d
        assert {nt_stdp.rnd(d, F, nt_rng.draw(1, 4, tk, 7)) for tk in range(50)} <= {d >> F, (d >> F) + 1}
    assert nt_stdp.rnd(96, 6, None) == 2 and nt_stdp.rnd(95, 6, None) == 1 and nt_stdp.rnd(-96, 6, None) == -1


def test_stochastic_stdp_runs_and_differs_from_deterministic():
    def final(stochastic, seed=None):
        p = new_program(window=2)
        p.tiles = [_learning_tile(4, 4, [[6] * 4] * 4, a_plus=3, a_minus=3, stochastic=stochastic)]
        p.code = [("loop", (20,)), ("inject", (0, 0, 0)), ("inject", (0, 1, 0)), ("run", (1,)),
                  ("inject", (0, 2, 0)), ("run", (1,)), ("endloop", (1,))]
        return _run(p, seed=seed).arrays["w_final"].tolist()
    assert final(1) != final(0)
    assert final(1, seed=5) == final(1, seed=5)


def test_reward_mode_goes_through_the_eligibility_trace():
    # tick 0: pre and post together: dfix = 16 * 64 = 1024 -> dw = 4 -> e = 4, w unchanged
    # tick 1: reward 3 arrives, e decays 4 - (4 >> 3) = 4; w = 10 + round(12, 4) = 10 + 1
    p = new_program(window=2)
    p.tiles = [_learning_tile(1, 1, [[10]], mode=isa.STDP_REWARD)]
    p.code = [("inject", (0, 0, 0)), ("run", (1,))]
    a = _run(p, state_hash=True).arrays
    assert a["w_final"].tolist() == [10]
    p.code += [("reward", (0, 3)), ("run", (1,)), ("run", (1,))]
    a = _run(p).arrays
    assert a["w_final"].tolist() == [11]
    assert a["cnt_stdp_updates"].tolist() == [1 + 1]   # the reward touches A * N once
