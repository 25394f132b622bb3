"""Trace.to_pandas / to_xarray and the notebook reprs hold exactly the trace's content."""

from __future__ import annotations

import os

import numpy as np
import pytest

pd = pytest.importorskip("pandas")
xr = pytest.importorskip("xarray")

from emulator import api  # noqa: E402

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


@pytest.fixture(scope="module")
def fixed():
    # fixed router mode: some packets are dropped
    return api.run(os.path.join(ROOT, "programs", "router_congestion_fixed.spk"))


@pytest.fixture(scope="module")
def demo():
    return api.run(os.path.join(ROOT, "programs", "demo.spk"))


def test_event_frames_are_the_arrays(demo):
    a = demo.arrays
    spk = demo.to_pandas("spikes")
    for col in ("tick", "offset", "tile", "neuron"):
        assert np.array_equal(spk[col].to_numpy(), a["spk_" + col])
    assert np.array_equal(spk["cycle"].to_numpy(), demo.spike_cycles())
    inp = demo.to_pandas("inputs")
    assert np.array_equal(inp["axon"].to_numpy(), a["inp_axon"]) and len(inp) == len(a["inp_tick"])


def test_packet_frame_marks_dropped_packets(fixed):
    pkt = fixed.to_pandas("packets")
    a = fixed.arrays
    dropped = a["pkt_arrive"] < 0
    assert dropped.any() and (~dropped).any()
    assert np.array_equal(pkt["dropped"].to_numpy(), dropped)
    assert pkt["latency"][dropped].isna().all()
    assert np.array_equal(pkt["latency"][~dropped].to_numpy(int),
                          (a["pkt_arrive"] - a["pkt_ready"])[~dropped])


def test_probe_frame_is_long_and_xarray_wide(demo):
    a = demo.arrays
    probes = demo.to_pandas("probes")
    assert len(probes) == a["probe_v"].size
    wide = probes.pivot(index="tick", columns="probe", values="v").to_numpy()
    assert np.array_equal(wide, a["probe_v"])
    ds = demo.to_xarray()
    assert np.array_equal(ds["v"].values, a["probe_v"])
    assert list(ds["probe_tile"].values) == list(a["probe_tile"])
    assert ds["hops"].dims == ("tick", "tile")
    for name in ("hops", "syn_events", "mac_ops", "neuron_updates"):
        assert np.array_equal(ds[name].sum("tick").values, a["cnt_" + name])
    assert np.array_equal(ds["cycles"].values, np.diff(a["tick_start"]))
    frames = demo.to_pandas()
    assert set(frames) == {"spikes", "inputs", "packets", "probes", "counters"}
    assert frames["counters"].groupby("tile")["spikes"].sum().tolist() == \
        np.bincount(a["spk_tile"], minlength=4).tolist()
    with pytest.raises(ValueError, match="what is one of"):
        demo.to_pandas("voltages")


def test_reprs_are_short_and_html_has_tables(demo):
    prog = api.load(os.path.join(ROOT, "programs", "demo.spk"))
    text = repr(prog)
    assert text.startswith("Program('demo', mesh 2x2, 4 tiles on") and "\n" not in text
    assert len(text) < 200 and "96 ticks" in text
    assert prog._repr_html_().count("<tr>") == 1 + 4            # header + one per tile
    assert repr(demo).startswith("Trace('demo', backend numba, 96 ticks, %d cycles" % demo.cycles)
    page = demo._repr_html_()
    assert "<table>" in page and "data:image/png;base64," in page
    assert "%d out" % len(demo["spk_tick"]) in page


def test_progress_true_outside_a_notebook(capsys):
    trace = api.run(os.path.join(ROOT, "programs", "hello_lif.spk"), progress=True)
    assert trace.n_ticks == 40
    from emulator.notebook import ProgressBar

    bar = ProgressBar(min_interval=0)
    bar(5, 10)
    bar(10, 10)
    bar.close()
    assert (bar.done, bar.total) == (10, 10)
