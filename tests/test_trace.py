"""Trace files: atomic save, validated load, exact comparison (SPEC section 16)."""

import json
import os

import numpy as np
import pytest

from emulator.backends import reference
from emulator.image import encode, new_program, new_tile
from emulator.trace import REQUIRED, Trace, TraceError


@pytest.fixture(scope="module")
def trace():
    p = new_program(2, 1, window=4)
    a = new_tile("lif", 2, 3, vth=1)
    a.weights[:] = 1
    a.routes = [[(1, 0)], [(1, 1)], []]
    p.tiles = [a, new_tile("lif", 2, 1, vth=1)]
    p.tiles[1].weights[:] = 1
    p.probes = [(0, 2)]
    p.code = [("inject", (0, 0, 0)), ("run", (3,))]
    return reference.run(p, encode(p), state_hash=True)


def test_save_load_round_trip_is_exact_and_atomic(trace, tmp_path):
    path = tmp_path / "t.npz"
    trace.save(path)
    assert [f.name for f in tmp_path.iterdir()] == ["t.npz"]     # no temporary left behind
    back = Trace.load(path)
    assert back.agrees(trace) and back.meta == trace.meta
    raw = np.load(path, allow_pickle=False)                        # numpy alone reads it
    assert set(raw.files) == set(REQUIRED) | {"meta"}
    assert json.loads(str(raw["meta"]))["format"] == "neurotile-trace"
    assert back.n_ticks == 3 and back.cycles == 12
    assert back.spikes["tick"].tolist() == back["spk_tick"].tolist()


def test_corrupt_and_foreign_files_are_refused(trace, tmp_path):
    bad = tmp_path / "bad.npz"
    bad.write_bytes(b"PK\x03\x04 not really a zip")
    with pytest.raises(TraceError):
        Trace.load(bad)
    foreign = tmp_path / "foreign.npz"
    np.savez(foreign, x=np.arange(3))
    with pytest.raises(TraceError, match="not a neurotile trace"):
        Trace.load(foreign)
    wrongver = tmp_path / "v.npz"
    meta = dict(trace.meta, version=99)
    np.savez(wrongver, meta=np.array(json.dumps(meta)), **trace.arrays)
    with pytest.raises(TraceError, match="version"):
        Trace.load(wrongver)
    partial = tmp_path / "p.npz"
    arrays = dict(trace.arrays)
    del arrays["spk_tick"]
    np.savez(partial, meta=np.array(json.dumps(trace.meta)), **arrays)
    with pytest.raises(TraceError, match="spk_tick"):
        Trace.load(partial)
    with pytest.raises(TraceError):
        Trace.load(tmp_path / "missing.npz")


def test_agreement_ignores_the_backend_only(trace):
    other = Trace(dict(trace.arrays), dict(trace.meta, backend="numba"))
    assert trace.agrees(other)
    other = Trace(dict(trace.arrays), dict(trace.meta, seed=9))
    assert trace.first_divergence(other)["key"] == "seed"


def test_first_divergence_names_the_first_differing_spike(trace):
    arrays = {k: v.copy() for k, v in trace.arrays.items()}
    assert len(arrays["spk_neuron"]) >= 2
    arrays["spk_neuron"][1] += 1
    d = trace.first_divergence(Trace(arrays, trace.meta))
    assert d["what"] == "spike" and d["index"] == 1
    assert d["tick"] == int(trace["spk_tick"][1]) and d["tile"] == int(trace["spk_tile"][1])
    assert d["cycle"] == int(trace["tick_start"][d["tick"]]) + d["offset"]


def test_first_divergence_in_other_arrays_has_context(trace):
    arrays = {k: v.copy() for k, v in trace.arrays.items()}
    arrays["probe_v"][2, 0] += 1
    d = trace.first_divergence(Trace(arrays, trace.meta))
    assert (d["array"], d["tick"], d["tile"], d["neuron"]) == ("probe_v", 2, 0, 2)
    arrays = {k: v.copy() for k, v in trace.arrays.items()}
    arrays["v_final"][3] = 77
    d = trace.first_divergence(Trace(arrays, trace.meta))
    assert (d["array"], d["tile"], d["neuron"]) == ("v_final", 1, 0)
