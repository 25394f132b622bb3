"""Diff view: spikes only in A, only in B, in both; the first divergence marked."""

from __future__ import annotations

import re

import numpy as np
import pytest

from emulator.viewer.diff import render_diff
from emulator.viewer.model import TraceView, load_trace
from viewer_helpers import console, panel, synth_view


def changed(view: TraceView, edits) -> TraceView:
    arrays = {k: v.copy() for k, v in view.arrays.items()}
    for name, index, value in edits:
        arrays[name][index] = value
    return TraceView(arrays, dict(view.meta), name="B")


@pytest.mark.parametrize("width", (80, 160))
def test_identical_real_traces_agree(real_traces, width):
    view = load_trace(real_traces["hello_lif"])
    con = console(width)
    summary = render_diff(view, view, con)
    assert summary["agree"] and summary["only_a"] == summary["only_b"] == 0
    assert "the traces agree" in con.file.getvalue()


@pytest.mark.parametrize("width", (80, 160))
def test_diff_counts_and_first_divergence(width):
    a = synth_view(ticks=60, mesh=(3, 2), neurons=16, rate=0.04, seed=11)
    sa = a.arrays
    # move one spike in time (A-only + B-only) and delete nothing else
    i, j = 40, 90
    b = changed(a, [("spk_offset", i, sa["spk_offset"][i] + 3),
                    ("spk_neuron", j, (sa["spk_neuron"][j] + 1) % 16)])
    con = console(width)
    summary = render_diff(a, b, con)
    text = con.file.getvalue()
    assert summary["only_a"] == 2 and summary["only_b"] == 2
    assert summary["both"] == sa["spk_tick"].size - 2
    first_tick = int(min(sa["spk_tick"][i], sa["spk_tick"][j]))
    assert summary["first"]["tick"] == first_tick
    assert "first divergence: tick %d" % first_tick in text
    assert "▼ first divergence (tick %d)" % first_tick in text
    lines = panel(text, "Diff raster")
    cells = "".join(re.sub(r"^│ n +\d+ ┤", "", line) for line in lines if re.match(r"│ n +\d+ ┤", line))
    # the offset change stays in its cell (both kinds: X); the neuron change may too
    assert cells.count("A") + cells.count("B") + 2 * cells.count("X") >= 2
    assert "spk_offset" in text and "spk_neuron" in text
    assert max(len(line) for line in text.splitlines()) <= width


def test_spikes_only_in_one_trace_are_lettered():
    a = synth_view(ticks=30, mesh=(1, 1), neurons=8, rate=0.05, seed=2)
    keep = np.ones(a.arrays["spk_tick"].size, bool)
    keep[[3, 9]] = False
    arrays = {k: v.copy() for k, v in a.arrays.items()}
    for k in ("spk_tick", "spk_offset", "spk_tile", "spk_neuron"):
        arrays[k] = arrays[k][keep]
    b = TraceView(arrays, dict(a.meta), "B")
    con = console(80)
    summary = render_diff(a, b, con)
    text = con.file.getvalue()
    assert summary["only_a"] == 2 and summary["only_b"] == 0
    cells = "".join(re.sub(r"^│ n +\d+ ┤", "", line)
                    for line in panel(text, "Diff raster") if re.match(r"│ n +\d+ ┤", line))
    assert cells.count("A") == 2 and cells.count("B") == 0
    assert cells.count("·") == keep.sum()             # 1 tick x 1 neuron per cell here


def test_render_diff_accepts_trace_objects(real_traces):
    from emulator.trace import Trace

    a = Trace.load(real_traces["tdmac_dot"])
    arrays = {k: v.copy() for k, v in a.arrays.items()}
    arrays["spk_offset"][0] += 1
    b = Trace(arrays, dict(a.meta, backend="board"))
    con = console(100)
    summary = render_diff(a, b, con)
    assert not summary["agree"] and summary["first"]["tick"] == 0
    assert "first divergence" in con.file.getvalue()
