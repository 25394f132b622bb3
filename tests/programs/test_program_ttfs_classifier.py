"""ttfs_classifier.spk: the emulator classifies the held-out digits as the float model does.

Outcome checked: accuracy on the emulator >= 85% and within 2 points of the float model it
was trained as (programs/train_ttfs.py); and, exactly, every emulator answer equals the
integer model of SPEC section 7 computed here with numpy from the same weight files.
"""

from __future__ import annotations

import json
import os

import numpy as np
import pytest

from program_helpers import PROGRAMS, run_program, spikes_of

import train_ttfs as tt

DATA = os.path.join(PROGRAMS, "data")


def read_weights(name):
    return np.loadtxt(os.path.join(DATA, name), delimiter=",", comments="#", dtype=np.int64, ndmin=2)


@pytest.fixture(scope="module")
def info():
    with open(os.path.join(DATA, "ttfs_float.json")) as fh:
        return json.load(fh)


@pytest.fixture(scope="module")
def emulator_predictions(info):
    trace = run_program("ttfs_classifier.spk")
    n = info["n_test"]
    assert trace.n_ticks == n + 2
    tick, offset, neuron = spikes_of(trace, info["output_tile"])
    pred = np.full(n, -1)
    for s in range(n):
        sel = tick == s + 2              # digit s reaches the output tile in tick s + 2
        if sel.any():
            first = offset[sel].min()    # the first output spike names the digit
            pred[s] = neuron[sel][offset[sel] == first].min()
    return pred, trace


def test_emulator_matches_the_integer_model_exactly(info, emulator_predictions):
    pred, _ = emulator_predictions
    w_hidden = np.concatenate([read_weights("ttfs_hidden%d.csv" % i)[:, :16] for i in range(4)], axis=1)
    w_out = read_weights("ttfs_output.csv")
    pixels = tt.digits_from_events(np.load(os.path.join(DATA, "ttfs_spikes.npy")), info["n_test"])
    _, _, model = tt.chip_forward(pixels, w_hidden, w_out, info["params"])
    assert np.array_equal(pred, model)


def test_accuracy_close_to_the_float_model(info, emulator_predictions):
    pred, _ = emulator_predictions
    labels = np.array(info["labels"])
    acc_emu = (pred == labels).mean()
    acc_float = (np.array(info["pred_float"]) == labels).mean()
    assert acc_float == pytest.approx(info["accuracy_float"])
    assert acc_emu >= 0.85
    assert abs(acc_emu - acc_float) <= 0.02, (acc_emu, acc_float)


def test_relay_fan_out_stalls_but_loses_nothing(emulator_predictions):
    # 65 relay neurons x 4 destinations = 260 packets leave the input tile each tick, at most
    # one per cycle: barrier mode stretches the ticks, no packet is dropped.
    _, trace = emulator_predictions
    assert np.all(np.asarray(trace["dropped"]) == 0)
    assert np.all(np.asarray(trace["pkt_arrive"]) >= 0)
    assert np.asarray(trace["stall"])[:-2].min() > 0
