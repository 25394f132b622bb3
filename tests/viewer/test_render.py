"""Static view: content of every panel at 80 and 160 columns, on real and synthetic traces."""

from __future__ import annotations

import re

import numpy as np
import pytest

from emulator.viewer.latency import latency_bins
from emulator.viewer.model import TraceView, load_trace
from emulator.viewer.raster import time_scale
from emulator.viewer.model import make_selection

from viewer_helpers import (panel, raster_dots, render, row_cells, synth_view,
                            tutorial_first_trace)

WIDTHS = (80, 160)


def rows_per_item(n_items: np.ndarray, max_lines: int) -> np.ndarray:
    """Items per row of a band: one row per item when they fit, else braille dot rows."""
    return np.where(n_items <= max_lines, 1, -(-n_items // (4 * max_lines)))


def distinct_cells(view, sel, width, kind="spk"):
    """Occupied (time-bin, tile, row) cells computed independently of the renderer."""
    scale = time_scale(view, sel, width - 4 - 7)
    if kind == "spk":
        s = view.spikes(sel)
        tick, offset, tile, item = s["tick"], s["offset"], s["tile"], s["neuron"]
    else:
        s = view.inputs(sel)
        tick, offset, tile, item = s["tick"], s["offset"], s["tile"], s["axon"]
    t = view.tick_start[tick] + offset if sel.cycles else tick
    max_lines = 32 if sel.tiles.size <= 4 else 16
    if kind != "spk":
        max_lines //= 2
    sizes = np.array([max(1, (i.neurons if kind == "spk" else i.axons)) for i in view.tiles])
    per_row = rows_per_item(sizes[tile], max_lines) if tile.size else tile
    return len(set(zip(((t - scale.x0) // scale.per_dot).tolist(), tile.tolist(),
                       (item // np.maximum(per_row, 1)).tolist())))


@pytest.mark.parametrize("width", WIDTHS)
def test_raster_marks_one_dot_per_spike_of_real_runs(real_traces, width):
    for name, path in real_traces.items():
        view = load_trace(path)
        for cycles in (False, True):
            sel = make_selection(view, cycles=cycles)
            text = render(view, width, cycles=cycles)
            dots = raster_dots(text)
            n_spk = view.spikes(sel)["tick"].size
            n_inp = view.inputs(sel)["tick"].size
            assert n_spk > 0, name
            # at this size one dot is one tick (or cycle) of one neuron: every spike is a dot
            assert dots["n"] == distinct_cells(view, sel, width), (name, cycles)
            if name in ("hello_lif", "tdmac_dot"):   # small: one dot per tick (cycle) and neuron
                assert dots["n"] == n_spk, (name, cycles)
            assert dots["a"] == distinct_cells(view, sel, width, "inp"), (name, cycles)
            assert dots["a"] > 0 or n_inp == 0


@pytest.mark.parametrize("width", WIDTHS)
def test_raster_counts_spikes_in_the_selected_window_and_tiles(width):
    view = synth_view(ticks=60, mesh=(3, 2), neurons=16, rate=0.05)
    sel = make_selection(view, tiles="1,4", ticks="10:50")
    text = render(view, width, tiles="1,4", ticks="10:50")
    a = view.arrays
    inside = (a["spk_tick"] >= 10) & (a["spk_tick"] < 50) & np.isin(a["spk_tile"], [1, 4])
    assert raster_dots(text)["n"] == int(inside.sum()) == view.spikes(sel)["tick"].size
    assert "tile 1 (1,0)" in text and "tile 4 (1,1)" in text and "tile 0 (0,0)" not in text


@pytest.mark.parametrize("width", WIDTHS)
def test_downsampled_raster_keeps_single_spikes(width):
    view = synth_view(ticks=5000, mesh=(1, 1), neurons=256, spikes=40, seed=3)
    sel = make_selection(view)
    dots = raster_dots(render(view, width))["n"]
    assert 0 < dots == distinct_cells_binned(view, sel, width)


def distinct_cells_binned(view, sel, width):
    scale = time_scale(view, sel, width - 4 - 7)
    per_row = -(-256 // (4 * 32))
    s = view.spikes(sel)
    return len(set(zip(((s["tick"] - scale.x0) // scale.per_dot).tolist(),
                       (s["neuron"] // per_row).tolist())))


def test_raster_neuron_selection_and_axis_labels():
    view = synth_view(ticks=60, mesh=(1, 1), neurons=32, rate=0.1)
    text = render(view, 80, neurons="4-11")
    rows = [line for line in panel(text, "Spike raster") if re.search(r"│ n +\d+ ┤", line)]
    assert [int(re.search(r"n +(\d+)", r).group(1)) for r in rows] == list(range(4, 12))
    keep = (view.arrays["spk_neuron"] >= 4) & (view.arrays["spk_neuron"] <= 11)
    assert raster_dots(text)["n"] == int(keep.sum())
    assert "tick" in panel(text, "Spike raster")[-2]       # labelled time axis


def marked_ticks(cells: str, w: int, tick_a: int = 0) -> list:
    return [tick_a + i // w for i in range(0, len(cells), w) if cells[i] == "█"]


@pytest.mark.parametrize("width", WIDTHS)
def test_tutorial_every_third_tick_is_a_column_pattern(width):
    # docs/TUTORIAL.md: "neuron 0 fires every third tick (2, 5, 8, ...), neuron 1 every
    # fourth (2, 6, 10, ...)": one row per neuron, one or more columns per tick
    view = TraceView.from_trace(tutorial_first_trace())
    a = view.arrays
    for ticks, tick_a in ((None, 0), ("0:12", 0), ("20:30", 20)):
        text = render(view, width, ticks=ticks)
        legend = panel(text, "Spike raster")[1]
        w = int(re.search(r"1 tick = (\d+) columns?", legend).group(1))
        span = 40 - tick_a if ticks is None else 12 if tick_a == 0 else 10
        assert w == (width - 4 - 7) // span                     # the width is used
        for n in (0, 1):
            want = a["spk_tick"][(a["spk_neuron"] == n) & (a["spk_tick"] >= tick_a)
                                 & (a["spk_tick"] < tick_a + span)].tolist()
            assert marked_ticks(row_cells(text, "n", n), w, tick_a) == want
        assert want and marked_ticks(row_cells(text, "n", 0), w, tick_a)[:2] in (
            [2, 5], [20, 23], [23, 26])
        if ticks is None and width == 80:
            assert row_cells(text, "n", 0).startswith("··█··█··█··█")
        axis = panel(text, "Spike raster")[-2]
        # labels sit under the first column of their tick
        ruler = panel(text, "Spike raster")[-3]
        for m in re.finditer(r"\d+", axis[9:]):
            assert ruler[9 + m.start()] == "┬"
            assert (int(m.group()) - tick_a) * w == m.start()


def test_neurons_that_do_not_fit_pack_into_braille():
    view = synth_view(ticks=60, mesh=(1, 1), neurons=256, rate=0.05)
    text = render(view, 80)
    assert "8 neurons/line" in text
    assert raster_dots(text)["n"] == distinct_cells(view, make_selection(view), 80)


@pytest.mark.parametrize("width", WIDTHS)
def test_mesh_marks_the_tile_with_most_spikes(real_traces, width):
    for mesh in ((3, 2), (16, 4)):                    # labelled cells, and compact at 80
        view = synth_view(ticks=50, mesh=mesh, neurons=16, rate=0.05, seed=7)
        text = render(view, width)
        lines = panel(text, "Mesh")
        hottest = int(np.argmax(np.bincount(view.arrays["spk_tile"], minlength=view.n_tiles)))
        m = re.search(r"hottest tile: (\d+) \((\d+),(\d+)\)", "\n".join(lines))
        assert int(m.group(1)) == hottest
        grid = [line for line in lines if "hottest" not in line]     # not the legend
        assert sum(line.count("★") for line in grid) == 1
        star = next(line for line in grid if "★" in line)
        if "T%d " % hottest in "\n".join(lines):
            assert re.search(r"T%d \w+ ★" % hottest, star)
        else:                                        # compact grid: row label is its first tile
            row_first = int(re.match(r"│ +(\d+) ", star).group(1))
            assert row_first == (hottest // mesh[0]) * mesh[0]
    for path in real_traces.values():
        view = load_trace(path)
        hottest = int(np.argmax(np.bincount(view.arrays["spk_tile"], minlength=view.n_tiles)))
        assert "hottest tile: %d (%d,%d)" % ((hottest,) + view.tile_xy(hottest)) in render(view, width)


@pytest.mark.parametrize("width", WIDTHS)
def test_mesh_reports_busiest_link_and_deepest_fifo(width):
    view = synth_view(ticks=50, mesh=(3, 2), neurons=16, rate=0.05, fifo_depth=4)
    text = "\n".join(panel(render(view, width), "Mesh"))
    link = view.arrays["link_busy"][:, 1:]
    t, p = np.unravel_index(np.argmax(link), link.shape)
    assert "busiest link: tile %d → %s" % (t, "NESW"[p]) in text
    assert "(%d packets" % link[t, p] in text
    fifo = view.arrays["fifo_peak"]
    assert "peak %d/4" % fifo.max() in text


@pytest.mark.parametrize("width", WIDTHS)
def test_latency_histogram_bars_add_up_to_delivered_packets(width):
    view = synth_view(ticks=80, mesh=(3, 2), neurons=16, rate=0.08, router_mode="fixed",
                      tdmac_tiles=(5,))
    text = "\n".join(panel(render(view, width), "Latency"))
    bars = [int(m.group(1)) for m in re.finditer(r"│[█▏▎▍▌▋▊▉]+ (\d+) *│", text)]
    arrive = view.arrays["pkt_arrive"]
    assert sum(bars) == int((arrive >= 0).sum())
    assert "packets %d" % arrive.size in text
    assert "dropped %d " % int((arrive < 0).sum()) in text
    assert int((arrive < 0).sum()) == view.arrays["dropped"].sum() > 0


def test_latency_counts_late_packets_in_barrier_mode():
    view = synth_view(ticks=80, mesh=(3, 2), neurons=16, rate=0.08, router_mode="barrier",
                      tdmac_tiles=(5,))
    a = view.arrays
    late = int((a["pkt_arrive"] >= a["tick_start"][a["pkt_tick"]] + view.window).sum())
    assert late > 0
    assert "late %d " % late in render(view, 80)


def test_latency_bins_cover_every_value():
    lat = np.array([1, 1, 2, 5, 40, 40, 41])
    lo, hi, counts = latency_bins(lat, max_bins=4)
    assert counts.sum() == lat.size and lo[0] == 1 and hi[-1] >= 41


@pytest.mark.parametrize("width", WIDTHS)
def test_probes_show_threshold_and_probe_names(real_traces, width):
    view = load_trace(real_traces["hello_lif"])
    lines = panel(render(view, width), "Probes")
    text = "\n".join(lines)
    assert "t0 n0 v" in text and "vth 64" in text and "┈" in text
    assert all(len(line) <= width for line in lines)


@pytest.mark.parametrize("width", WIDTHS)
@pytest.mark.parametrize("color", (False, True))
def test_learning_panel_shows_changed_weights(width, color):
    view = synth_view(ticks=40, mesh=(2, 1), neurons=16, axons=16, learning_tile=1)
    a = view.arrays
    lo, hi = a["w_offsets"][1], a["w_offsets"][2]
    changed = int((a["w_init"][lo:hi] != a["w_final"][lo:hi]).sum())
    text = "\n".join(panel(render(view, width, color=color), "Learning"))
    assert "tile 1: %d of %d weights changed" % (changed, hi - lo) in re.sub(r"\x1b\[[0-9;]*m", "", text)
    if not color:                                     # glyph heatmap: one char per crossing
        marks = sum(len(re.findall(r"[+#\-=]", m.group(1)))
                    for m in re.finditer(r"│ a\d+ +┤(\S+)", text))
        assert marks == changed


def test_learning_panel_says_when_nothing_learned(real_traces):
    text = render(load_trace(real_traces["hello_lif"]), 80)
    assert "no weight of the selected tiles changed" in text


@pytest.mark.parametrize("width", WIDTHS)
def test_energy_table_totals_the_counters(real_traces, width):
    from emulator.energy import breakdown

    view = load_trace(real_traces["hello_lif"])
    text = "\n".join(panel(render(view, width), "Energy"))
    syn = int(view.arrays["cnt_syn_events"].sum())
    assert re.search(r"synaptic events +%d " % syn, text)
    total = breakdown(view.meta, view.arrays)["total_j"]
    from emulator.viewer.common import si
    assert re.search(r"total +%s" % re.escape(si(total, "J")), text)
    for category in ("MAC", "synaptic events", "routing", "learning", "static"):
        assert category in text


@pytest.mark.parametrize("width", WIDTHS)
def test_header_names_program_image_backend_ticks_cycles_seed(real_traces, width):
    view = load_trace(real_traces["tdmac_dot"])
    text = "\n".join(panel(render(view, width), "neurotile trace"))
    for key, value in (("program", "tdmac_dot"), ("backend", "reference"),
                       ("ticks", str(view.ticks)), ("cycles", str(view.cycles)),
                       ("seed", str(view.meta["seed"])),
                       ("image", view.meta["image_sha256"][:16])):
        assert re.search(r"%s +%s" % (key, re.escape(value)), text), key


@pytest.mark.parametrize("width", WIDTHS)
def test_every_line_fits_the_width(real_traces, width):
    views = [load_trace(p) for p in real_traces.values()]
    views.append(synth_view(ticks=3000, mesh=(16, 16), neurons=64, rate=0.01,
                            tdmac_tiles=(3,), router_mode="fixed"))
    for view in views:
        for color in (False, True):
            text = render(view, width, color=color)
            plain = re.sub(r"\x1b\[[0-9;]*m", "", text)
            assert max(len(line) for line in plain.splitlines()) <= width


def test_energy_panel_shows_per_tick_energy_of_the_window(real_traces):
    from emulator import counters
    from emulator.units import si

    view = load_trace(real_traces["demo"])
    text = render(view, 120, ticks="10:40")
    lines = panel(text, "Energy")
    assert "ticks 10–39" in lines[1]
    e = sum(counters.energy_per_tick(view)["parts_j"].values())[10:40]
    note = " ".join(l.strip("│ ") for l in lines[-3:-1])
    assert "max %s (tick %d)" % (si(float(e.max()), "J"), 10 + int(e.argmax())) in note
    assert "min %s" % si(float(e.min()), "J") in note
