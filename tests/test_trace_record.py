"""Trace size control: `--record` groups, compressed files, the size warning."""

from __future__ import annotations

import json
import os
import zipfile

import numpy as np
import pytest

from emulator import api, counters, trace as trace_mod
from emulator.cli import main
from emulator.trace import Trace

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
DEMO = os.path.join(ROOT, "programs", "demo.spk")


@pytest.fixture(scope="module")
def demo():
    return api.run(DEMO)


def test_select_keeps_the_groups_asked_for_and_the_per_tick_counters(demo, tmp_path):
    small = demo.select("spikes,probes")
    assert small.meta["recorded"] == ["spikes", "probes"] and small.recorded == ("spikes", "probes")
    assert all(small[k].size == 0 for k in small.arrays if k.startswith("pkt_"))
    assert small["w_init"].size == small["w_final"].size == 0
    assert small["probe_v"].shape == demo["probe_v"].shape
    assert np.array_equal(small["spk_tick"], demo["spk_tick"])
    path = tmp_path / "small.npz"
    small.save(path)
    back = Trace.load(path)
    assert back.agrees(small) and not back.agrees(demo)
    full, kept = counters.per_tick(demo), counters.per_tick(back)
    for name in counters.NAMES:
        assert np.array_equal(full[name], kept[name]), name
    assert kept.inexact == full.inexact
    # the same CSV from the small trace as from the full one
    counters.write_csv(demo, tmp_path / "a.csv")
    counters.write_csv(back, tmp_path / "b.csv")
    assert (tmp_path / "a.csv").read_text() == (tmp_path / "b.csv").read_text()


def test_without_logs_or_counters_the_derivation_says_so(demo):
    arrays = dict(demo.select("probes,weights").arrays)
    for k in [k for k in arrays if k.startswith(counters.STORED_PREFIX)]:
        del arrays[k]
    with pytest.raises(counters.CounterError, match="without its event logs"):
        counters.per_tick(Trace(arrays, demo.select("probes,weights").meta))


def test_viewer_leaves_out_what_was_not_recorded(demo, tmp_path, capsys):
    path = tmp_path / "s.npz"
    demo.select("spikes,probes").save(path)
    assert main(["view", str(path), "--width", "100", "--no-pager"]) == 0
    out = capsys.readouterr().out
    assert "recorded  spikes, probes" in out or "recorded spikes, probes" in " ".join(out.split())
    assert "Latency" not in out and "Spike raster" in out and "Energy" in out


def test_compressed_by_default_smaller_and_loads_the_same(demo, tmp_path):
    packed, plain = tmp_path / "packed.npz", tmp_path / "plain.npz"
    demo.save(packed)
    demo.save(plain, compress=False)
    with zipfile.ZipFile(packed) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_DEFLATED}
    with zipfile.ZipFile(plain) as z:
        assert {i.compress_type for i in z.infolist()} == {zipfile.ZIP_STORED}
    assert os.path.getsize(packed) * 3 < os.path.getsize(plain)
    assert Trace.load(packed).agrees(demo) and Trace.load(plain).agrees(demo)
    with np.load(packed) as z:                                # still plain numpy
        assert np.array_equal(z["spk_tick"], demo["spk_tick"])


def test_old_uncompressed_traces_still_load(demo, tmp_path):
    old = tmp_path / "old.npz"
    np.savez(old, meta=np.array(json.dumps(demo.meta, sort_keys=True)), **demo.arrays)
    assert Trace.load(old).agrees(demo)


def test_size_warning_before_a_big_write(demo, tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(trace_mod, "SIZE_WARNING_BYTES", demo.nbytes - 1)
    with pytest.warns(trace_mod.TraceSizeWarning, match="packets: --record without packets"):
        demo.save(tmp_path / "a.npz")
    out = tmp_path / "b.npz"
    assert main(["run", DEMO, "--trace", str(out), "-q"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("neurotile: warning: the trace holds") and "GB of arrays" in err
    assert out.exists()
    monkeypatch.setattr(trace_mod, "SIZE_WARNING_BYTES", demo.select("spikes").nbytes + 1)
    assert main(["run", DEMO, "--trace", str(out), "-q", "--record", "spikes"]) == 0
    assert "warning" not in capsys.readouterr().err


def test_record_option_errors(capsys):
    with pytest.raises(SystemExit) as e:
        main(["run", DEMO, "--record", "spikes,voltages"])
    assert e.value.code == 2
    assert "cannot record 'voltages': choose from spikes,probes,packets,weights" in \
        capsys.readouterr().err
