"""reward_learning.spk: reward-modulated STDP learns to answer A with left and B with right.

A trial is the tick in which a stimulus reaches the action tiles (the action neurons fire
in that tick). The choice is correct when the right action fires and the other does not.
"""

from __future__ import annotations

import numpy as np
import pytest

from program_helpers import run_program

LEFT, RIGHT = 0, 1


@pytest.fixture(scope="module")
def trace():
    return run_program("reward_learning.spk")


def trials(trace, lo, hi):
    """[(stimulus, left fired, right fired)] for the trials in ticks lo..hi-1."""
    it, itile, iax = (np.asarray(trace[k]) for k in ("inp_tick", "inp_tile", "inp_axon"))
    stim = {}
    for t, a in zip(it[itile == LEFT].tolist(), iax[itile == LEFT].tolist()):
        stim[t] = "A" if a < 8 else "B"
    st, stile = np.asarray(trace["spk_tick"]), np.asarray(trace["spk_tile"])
    out = []
    for t in sorted(stim):
        if lo <= t < hi:
            out.append((stim[t], bool(np.any((st == t) & (stile == LEFT))),
                        bool(np.any((st == t) & (stile == RIGHT)))))
    return out


def correct(ts):
    return float(np.mean([(s == "A" and l and not r) or (s == "B" and r and not l) for s, l, r in ts]))


@pytest.fixture(scope="module")
def phases(trace):
    m = dict(zip(np.asarray(trace["mark_id"]).tolist(), np.asarray(trace["mark_tick"]).tolist()))
    return trials(trace, m[1], m[2]), trials(trace, m[2], m[3]), trials(trace, m[3], trace.n_ticks)


def test_before_learning_choices_are_random(phases):
    before, _, _ = phases
    assert len(before) == 32
    assert correct(before) < 0.5
    # both actions answer both stimuli now and then: nothing is preferred yet
    for s in "AB":
        left = np.mean([l for x, l, _ in before if x == s])
        right = np.mean([r for x, _, r in before if x == s])
        assert 0.1 < left < 0.9 and 0.1 < right < 0.9


def test_after_learning_choices_are_correct(phases):
    before, during, after = phases
    assert len(during) == 96 and len(after) == 32
    assert correct(after) >= 0.9
    assert correct(after) - correct(before) >= 0.5


def test_weights_follow_the_reward_table(trace):
    off = np.asarray(trace["w_offsets"])
    wl = np.asarray(trace["w_final"])[off[LEFT]:off[LEFT + 1]].astype(int)
    wr = np.asarray(trace["w_final"])[off[RIGHT]:off[RIGHT + 1]].astype(int)
    assert wl[:8].min() > wl[8:].max()          # left: A up, B down
    assert wr[8:].min() > wr[:8].max()          # right: the mirror image
