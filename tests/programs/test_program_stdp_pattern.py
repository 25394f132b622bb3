"""stdp_pattern.spk: with STDP on, the learner becomes selective to the hidden pattern.

Selectivity of tile 1's neuron in a phase (learning off in both measured phases):
precision = the share of its spikes that fall within PATTERN + 2 ticks of a pattern onset
(chance = the share of ticks inside such windows), hit rate = the share of patterns
answered by at least one spike in that window.
"""

from __future__ import annotations

import numpy as np
import pytest

from program_helpers import run_program, spikes_of

PATTERN = 8          # the pattern lasts 8 ticks in tile 1
LEARNER = 1


def selectivity(trace, lo, hi):
    it, itile = np.asarray(trace["inp_tick"]), np.asarray(trace["inp_tile"])
    ticks = np.unique(it[itile == LEARNER])                  # external spikes into tile 1
    onsets = ticks[np.r_[True, np.diff(ticks) > PATTERN]]    # first tick of each pattern
    onsets = onsets[(onsets >= lo) & (onsets < hi)]
    spk, _, _ = spikes_of(trace, LEARNER)
    spk = spk[(spk >= lo) & (spk < hi)]
    window = np.zeros(hi + PATTERN + 2, bool)
    for o in onsets:
        window[o:o + PATTERN + 2] = True
    precision = float(window[spk].mean()) if len(spk) else 0.0
    hits = float(np.mean([np.any((spk >= o) & (spk < o + PATTERN + 2)) for o in onsets]))
    return {"spikes": len(spk), "patterns": len(onsets), "precision": precision,
            "hit_rate": hits, "chance": float(window[lo:hi].mean())}


@pytest.fixture(scope="module")
def trace():
    return run_program("stdp_pattern.spk")


@pytest.fixture(scope="module")
def phases(trace):
    marks = dict(zip(np.asarray(trace["mark_id"]).tolist(), np.asarray(trace["mark_tick"]).tolist()))
    before = selectivity(trace, marks[1], marks[2])
    after = selectivity(trace, marks[3], trace.n_ticks)
    return before, after


def test_before_learning_the_neuron_is_not_selective(phases):
    before, _ = phases
    assert before["patterns"] == 48
    assert before["spikes"] > 2 * before["patterns"]           # it fires all over
    assert before["precision"] < before["chance"] + 0.1        # no better than chance


def test_after_learning_the_neuron_fires_on_the_pattern(phases):
    before, after = phases
    assert after["patterns"] == 48
    assert after["hit_rate"] >= 0.9
    assert after["precision"] >= 0.85
    assert after["precision"] - before["precision"] >= 0.4


def test_learning_moves_weight_to_the_pattern_axons(trace):
    off = np.asarray(trace["w_offsets"])
    w0 = np.asarray(trace["w_init"])[off[1]:off[2]].astype(int)
    w1 = np.asarray(trace["w_final"])[off[1]:off[2]].astype(int)
    assert abs(w0[:32].mean() - w0[32:].mean()) < 4          # random start: no preference
    assert w1[:32].mean() > 2 * w1[32:].mean()               # axons 0..31 carry the pattern
