"""Per-tick counters (emulator/counters.py) recount the run's per-tile totals exactly.

The backends count energy events per tile for the whole run; the per-tick counters are
derived from the trace's logs alone. Summing them over the ticks must give the backends'
totals, on the example programs and on random programs (every router mode, TD-MAC and LIF
tiles, saturating inputs, dropped packets): that equality is the proof of the derivation.
"""

from __future__ import annotations

import glob
import os

import numpy as np
import pytest
from hypothesis import given, settings

from emulator import api, counters, energy, image
from emulator.backends import RunError, numba_backend
from tests.strategies import runs

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
PROGRAMS = sorted(glob.glob(os.path.join(ROOT, "programs", "*.spk")))


def assert_sums_match(trace):
    c = counters.per_tick(trace)
    n = len(trace.meta["tiles"])
    for name, total in counters.COUNTERS:
        assert c[name].shape == (trace.n_ticks, n), name
        if total is None:
            continue
        inexact = c.inexact.get(name, [])
        got = c[name].sum(axis=0)
        want = np.asarray(trace.arrays[total])
        exact = np.setdiff1d(np.arange(n), inexact)
        assert np.array_equal(got[exact], want[exact]), (name, got, want)
        assert (c[name][:, inexact] == -1).all()
    a = trace.arrays
    assert np.array_equal(c["spikes"].sum(axis=0), np.bincount(a["spk_tile"], minlength=n))
    assert c["packets"].sum() == len(a["pkt_tick"])
    assert np.array_equal(c["dropped"].sum(axis=1), a["dropped"])
    return c


@pytest.mark.parametrize("path", PROGRAMS, ids=lambda p: os.path.basename(p))
def test_per_tick_counters_add_up_to_the_run_totals(path):
    c = assert_sums_match(api.run(path, backend="numba"))
    assert c["stdp_updates"].shape[0] > 0


@settings(max_examples=60)
@given(runs())
def test_per_tick_counters_add_up_on_random_programs(case):
    prog, ticks = case
    data = image.encode(prog)
    try:
        trace = numba_backend.run(prog, data, ticks=ticks)
    except RunError:
        return
    assert_sums_match(trace)


def test_per_tick_energy_adds_up_to_the_run_energy():
    trace = api.run(os.path.join(ROOT, "programs", "ttfs_classifier.spk"))
    whole = energy.breakdown(trace.meta, trace.arrays)
    e = counters.energy_per_tick(trace)
    assert e["unattributed_learning_j"] == 0
    for part, value in whole["parts_j"].items():
        assert e["parts_j"][part].sum() == pytest.approx(value, rel=1e-9, abs=1e-18), part


def test_learning_switched_off_is_reported_not_guessed():
    # stdp_pattern learns, then switches learning off: the per-tick STDP count of tile 1
    # cannot be known from the trace, so it is -1, and its energy is set aside
    trace = api.run(os.path.join(ROOT, "programs", "stdp_pattern.spk"))
    c = counters.per_tick(trace)
    assert c.inexact["stdp_updates"] == [1]
    e = counters.energy_per_tick(trace, counters=c)
    want = trace.arrays["cnt_stdp_updates"][1] * energy.EnergyParams().e_stdp_j
    assert e["unattributed_learning_j"] == pytest.approx(want)


def test_csv_has_one_row_per_tick_and_the_totals(tmp_path):
    trace = api.run(os.path.join(ROOT, "programs", "demo.spk"))
    out = tmp_path / "perf.csv"
    counters.write_csv(trace, out)
    lines = out.read_text().splitlines()
    head = lines[0].split(",")
    assert head[:4] == ["tick", "cycle_start", "cycles", "stall"]
    assert len(lines) == trace.n_ticks + 1
    rows = np.array([[float(x) for x in line.split(",")] for line in lines[1:]])
    col = {name: rows[:, i] for i, name in enumerate(head)}
    assert col["spikes"].sum() == len(trace.arrays["spk_tick"])
    assert col["hops"].sum() == trace.arrays["cnt_hops"].sum()
    assert col["cycles"].sum() == trace.cycles
    whole = energy.breakdown(trace.meta, trace.arrays)["total_j"]
    assert col["energy_j"].sum() == pytest.approx(whole, rel=1e-4)
