"""emulator.plot: each figure shows the trace's content (points, bars, pixels), checked
against the trace's arrays; the one-page report renders to PNG and PDF."""

from __future__ import annotations

import os

import numpy as np
import pytest

matplotlib = pytest.importorskip("matplotlib")
matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

from emulator import api, counters, plot  # noqa: E402
from emulator.cli import main  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def demo():
    return api.run(os.path.join(ROOT, "programs", "demo.spk"))


@pytest.fixture(autouse=True)
def _close():
    yield
    plt.close("all")


def points(ax):
    return {c.get_label(): len(c.get_offsets()) for c in ax.collections}


@pytest.mark.parametrize("ticks,tiles", [(None, None), ((10, 40), [0, 1]), ((0, 5), [3])])
def test_raster_has_one_point_per_spike_in_range_coloured_by_tile(demo, ticks, tiles):
    ax = plot.raster(demo, ticks=ticks, tiles=tiles)
    a = demo.arrays
    lo, hi = ticks or (0, demo.n_ticks)
    keep = (a["spk_tick"] >= lo) & (a["spk_tick"] < hi)
    want_tiles = tiles or [0, 1, 2, 3]
    got = points(ax)
    assert got == {"tile %d" % t: int((keep & (a["spk_tile"] == t)).sum()) for t in want_tiles}
    colours = {tuple(c.get_edgecolor()[0]) for c in ax.collections if len(c.get_offsets())}
    assert len(colours) == sum(1 for v in got.values() if v)      # one colour per tile
    assert ax.get_xlabel() == "tick" and ax.get_xlim() == (lo - 0.5, hi - 0.5)
    # x of every point is its tick: the tutorial's "every third tick" reads off the axis
    first = ax.collections[0]
    t0 = a["spk_tick"][keep & (a["spk_tile"] == want_tiles[0])]
    assert np.array_equal(np.sort(first.get_offsets()[:, 0]), np.sort(t0))


def test_hello_lif_neuron_rows_and_ticks():
    trace = api.run(os.path.join(ROOT, "programs", "hello_lif.spk"))
    ax = plot.raster(trace)
    xy = ax.collections[0].get_offsets()
    a = trace.arrays
    assert sorted(map(tuple, xy.astype(int).tolist())) == sorted(zip(a["spk_tick"].tolist(),
                                                                     a["spk_neuron"].tolist()))
    assert ax.get_ylabel() == "neuron · tile 0"


def test_probes_draw_every_probe_and_its_threshold(demo):
    ax = plot.probes(demo)
    a = demo.arrays
    lines = [l for l in ax.lines if l.get_label().startswith("tile")]
    assert len(lines) == a["probe_tile"].size
    for i, line in enumerate(lines):
        assert np.array_equal(line.get_ydata(), a["probe_v"][:, i])
    th = {l.get_label(): l.get_ydata()[0] for l in ax.lines if l.get_label().startswith("thr")}
    for t in set(a["probe_tile"].tolist()):
        tile = demo.meta["tiles"][t]
        assert th["threshold tile %d (%d)" % (t, tile.get("vth", tile.get("theta")))] == \
            tile.get("vth", tile.get("theta"))


@pytest.mark.parametrize("what", ["spikes", "links", "fifo"])
def test_mesh_heatmap_values_are_the_trace_figures(demo, what):
    ax = plot.mesh(demo, what=what)
    img = ax.images[0].get_array()
    a = demo.arrays
    want = {"spikes": np.bincount(a["spk_tile"], minlength=4),
            "links": a["link_busy"][:, 1:].sum(axis=1),
            "fifo": a["fifo_peak"].max(axis=1)}[what]
    assert np.array_equal(np.asarray(img).ravel(), want)
    assert len(ax.texts) == 4 and img.shape == (2, 2)


def test_latency_histogram_counts_delivered_packets(demo):
    ax = plot.latency(demo)
    ok = demo.arrays["pkt_arrive"] >= 0
    assert sum(p.get_height() for p in ax.patches) == int(ok.sum())
    assert "%d delivered" % int(ok.sum()) in ax.get_title(loc="left")


def test_weight_change_heatmap_is_final_minus_initial(demo):
    ax = plot.weight_change(demo, tile=1)
    a = demo.arrays
    lo, hi = a["w_offsets"][1], a["w_offsets"][2]
    dw = (a["w_final"][lo:hi].astype(int) - a["w_init"][lo:hi]).reshape(32, 8)
    assert np.array_equal(np.asarray(ax.images[0].get_array()), dw)


def test_energy_stack_sums_to_the_per_tick_energy(demo):
    ax = plot.energy(demo)
    e = counters.energy_per_tick(demo)["parts_j"]
    shown = [k for k, v in e.items() if v.any()]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [plot.ENERGY_LABELS[k] for k in shown]
    assert "(nJ)" in ax.get_ylabel()
    top = ax.collections[-1].get_paths()[0].vertices[:, 1].max()
    assert top == pytest.approx(sum(e.values()).max() * 1e9, rel=1e-6)


def test_empty_panels_say_why():
    trace = api.run(os.path.join(ROOT, "programs", "hello_lif.spk"))
    assert plot.latency(trace).texts[0].get_text() == "no packets"
    assert plot.weight_change(trace).texts[0].get_text() == "no weight changed"


def test_report_png_and_pdf_from_the_cli(demo, tmp_path, capsys, monkeypatch):
    path = tmp_path / "demo.npz"
    demo.save(path)
    png, pdf = tmp_path / "r.png", tmp_path / "r.pdf"
    figures = []
    report = plot.report
    monkeypatch.setattr(plot, "report", lambda *a, **k: figures.append(report(*a, **k)) or figures[-1])
    assert main(["view", str(path), "--png", str(png), "--pdf", str(pdf)]) == 0
    assert pdf.read_bytes()[:5] == b"%PDF-"
    img = matplotlib.image.imread(str(png))
    assert img.shape[0] > img.shape[1] > 1000                   # one portrait page
    ink = (img[..., :3] < 0.9).any(axis=2)
    assert ink.mean() > 0.05                                    # drawn, not blank
    fig, = figures
    drawn = [ax for ax in fig.axes if ax.collections or ax.images or ax.patches or ax.lines]
    assert len(drawn) >= 8                                      # 8 panels + colour bars
    assert sum(points(fig.axes[0]).values()) == len(demo["spk_tick"])   # the raster
    assert main(["view", str(path), "--png", str(png), "--ticks", "10:20", "--tiles", "0"]) == 0
    a = demo.arrays
    want = ((a["spk_tick"] >= 10) & (a["spk_tick"] < 20) & (a["spk_tile"] == 0)).sum()
    assert points(figures[-1].axes[0]) == {"tile 0": int(want)}


def test_png_needs_the_right_extension(demo, tmp_path, capsys):
    path = tmp_path / "demo.npz"
    demo.save(path)
    assert main(["view", str(path), "--png", str(tmp_path / "r.jpg")]) == 1
    assert "must end in .png" in capsys.readouterr().err


def test_a_threshold_far_off_the_data_is_named_not_drawn():
    trace = api.run(os.path.join(ROOT, "programs", "router_congestion_fixed.spk"))
    ax = plot.probes(trace)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    th = trace.meta["tiles"][int(trace["probe_tile"][0])]["vth"]
    assert "threshold tile 7 (%d, off scale)" % th in labels
    assert ax.get_ylim()[1] < th                    # the probe stays readable


def test_run_summary_and_viewer_print_energy_alike(tmp_path, capsys):
    from emulator import energy
    from emulator.units import energy as fmt

    path = tmp_path / "d.npz"
    assert main(["run", os.path.join(ROOT, "programs", "demo.spk"), "--trace", str(path)]) == 0
    summary = capsys.readouterr().out
    assert main(["view", str(path), "--no-pager", "--width", "120"]) == 0
    viewer = capsys.readouterr().out
    trace = api.run(os.path.join(ROOT, "programs", "demo.spk"))
    total = fmt(energy.breakdown(trace.meta, trace.arrays)["total_j"])
    assert "µJ" in total and "uJ" not in summary + viewer
    assert "%s total" % total in summary and "Energy · whole run · %s" % total in viewer
