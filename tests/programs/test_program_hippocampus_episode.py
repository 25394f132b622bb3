"""hippocampus_episode.spk: one lived episode is recalled by the cue alone.

Checked: the cue before the episode recalls nothing; after it, with learning off and no
place or object input, the place neurons replay the run in order, one per tick, at the
ticks of the episode relative to the cue, and the object neuron fires at the object's
step, together with the object's place.
"""

from __future__ import annotations

import numpy as np
import pytest

from program_helpers import run_program, spikes_of

RUN = [0, 1, 2, 3, 4, 5, 6, 7, 6, 5]     # position at step i (time cell i)
OBJECT_STEP = 6
WHERE, WHAT = 1, 2                        # tiles


@pytest.fixture(scope="module")
def trace():
    return run_program("hippocampus_episode.spk")


@pytest.fixture(scope="module")
def marks(trace):
    return dict(zip(np.asarray(trace["mark_id"]).tolist(), np.asarray(trace["mark_tick"]).tolist()))


def replay(trace, start, length=16):
    """{step: sorted place neurons}, and the steps at which the object neuron fired.

    The cue is consumed in tick `start`; time cell i fires in tick start + i and reaches
    the episode tiles in tick start + i + 1.
    """
    t, _, n = spikes_of(trace, WHERE)
    sel = (t >= start) & (t < start + length)
    places = {}
    for tick, neuron in zip(t[sel].tolist(), n[sel].tolist()):
        places.setdefault(tick - start - 1, []).append(neuron)
    t2, _, _ = spikes_of(trace, WHAT)
    obj = sorted((t2[(t2 >= start) & (t2 < start + length)] - start - 1).tolist())
    return {k: sorted(v) for k, v in places.items()}, obj


def test_nothing_is_recalled_before_the_episode(trace, marks):
    places, obj = replay(trace, marks[1])
    assert places == {} and obj == []


def test_the_episode_itself(trace, marks):
    places, obj = replay(trace, marks[2])
    assert places == {i: [p] for i, p in enumerate(RUN)}
    assert obj == [OBJECT_STEP]


def test_the_cue_recalls_where_and_when(trace, marks):
    places, obj = replay(trace, marks[3])
    assert places == {i: [p] for i, p in enumerate(RUN)}      # where, in order (when)
    assert obj == [OBJECT_STEP]                                # what, and when
    assert places[obj[0]] == [RUN[OBJECT_STEP]]                # ... and where it was


def test_stdp_wrote_the_path_into_the_time_cell_weights(trace):
    off = np.asarray(trace["w_offsets"])
    w = np.asarray(trace["w_final"])[off[WHERE]:off[WHERE + 1]].astype(int).reshape(18, 8)[8:]
    vth = 60
    for step, place in enumerate(RUN):
        assert w[step, place] >= vth                           # the binding fires alone
    binding = np.zeros_like(w, bool)
    binding[np.arange(len(RUN)), RUN] = True
    assert np.all(w[~binding] < vth)                           # nothing else does
