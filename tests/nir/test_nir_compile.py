"""`neurotile nir compile`: the .spk it writes, the report, the design-rule check, bad input."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest

sys.path.insert(0, os.path.dirname(__file__))

import nir  # noqa: E402
from nir_fidelity import chain  # noqa: E402

import neurotile as nt  # noqa: E402
from emulator import api, image  # noqa: E402
from emulator.cli import main  # noqa: E402
from emulator.nir.compiler import compile_graph  # noqa: E402
from emulator.nir.graph import NIRError  # noqa: E402

DT = 1e-4


def _write(path, graph):
    nir.write(str(path), graph)
    return str(path)


def _cli(argv, capsys):
    rc = main(argv)
    cap = capsys.readouterr()
    return rc, cap.out, cap.err


def _lif(n, **kw):
    return nir.LIF(tau=np.full(n, 2e-3), r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.ones(n), **kw)


def test_compile_writes_commented_spk_that_assembles_to_the_compiled_image(tmp_path, capsys):
    g = chain("CubaLIF", 12, 40, np.random.default_rng(1), DT, recurrent=True)
    g.metadata = {"dt": DT}
    model = _write(tmp_path / "rec.nir", g)
    x = (np.random.default_rng(2).random((25, 12)) < 0.3).astype(np.int64)
    np.save(tmp_path / "in.npy", x)
    out = tmp_path / "rec.spk"
    rc, stdout, err = _cli(["nir", "compile", model, "-o", str(out), "--input",
                            str(tmp_path / "in.npy"), "--report"], capsys)
    assert rc == 0, err
    text = out.read_text()
    assert "; node 'neurons' (CubaLIF) neurons 0..39" in text
    assert "axons 0..11 <- input 'input' [0..11]" in text
    assert "axons 12..51 <- node 'neurons' [0..39]" in text       # the recurrent edge
    assert "quantised: S =" in text
    # the text is the image: assembling it gives the bytes the compiler built
    prog = nt.from_nir(model)
    assert api.assemble(text) == prog.with_inputs({"input": x}, 25).image()
    # the report table names every node with tiles, neurons, synapses, errors, hops
    assert "neurons  CubaLIF  1" in stdout and "w err" in stdout and "hops" in stdout
    # and it runs like any other program
    rc, stdout, err = _cli(["run", str(out), "--backend", "reference"], capsys)
    assert rc == 0, err


def test_report_rows_count_tiles_neurons_and_synapses():
    rng = np.random.default_rng(3)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([50])}),
        "fc1": nir.Linear(weight=rng.normal(0, 1, (200, 50)) * 10), "l1": _lif(200),
        "fc2": nir.Linear(weight=rng.normal(0, 1, (5, 200)) * 10), "l2": _lif(5),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }, edges=[("input", "fc1"), ("fc1", "l1"), ("l1", "fc2"), ("fc2", "l2"), ("l2", "out")])
    prog = nt.from_nir(g, dt=DT, tile_size=(256, 64))
    rows = {r["node"]: r for r in prog.report_rows()}
    assert rows["l1"]["tiles"] == 4 and rows["l1"]["neurons"] == 200    # split by neurons
    assert rows["l1"]["synapses"] == np.count_nonzero(
        np.clip(np.rint(g.nodes["fc1"].weight * DT / 2e-3 * prog.compiled.pops["l1"].alpha), -127, 127))
    assert rows["l2"]["tiles"] == 1 and rows["l2"]["hops_max"] == 0
    assert rows["l1"]["hops_max"] >= 1                                   # four tiles feed one
    # l2's fan-in is 200 > 128 axons: refused by the design-rule check
    with pytest.raises(NIRError, match=r"node 'l2': fan-in 200 exceeds 128 axons per tile; "
                                       r"use --tile-size or a bigger mesh"):
        compile_graph(g, dt=DT, tile_size=(128, 64))


def test_drc_message_for_fan_in_over_the_axon_limit(tmp_path, capsys):
    rng = np.random.default_rng(0)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([300])}),
        "fc1": nir.Affine(weight=rng.normal(0, 1, (10, 300)), bias=np.zeros(10)), "lif1": _lif(10),
        "out": nir.Output(output_type={"output": np.array([10])}),
    }, edges=[("input", "fc1"), ("fc1", "lif1"), ("lif1", "out")], metadata={"dt": DT})
    model = _write(tmp_path / "wide.nir", g)
    out = tmp_path / "wide.spk"
    rc, _o, err = _cli(["nir", "compile", model, "-o", str(out)], capsys)
    assert rc == 1
    assert err.strip() == ("%s: error: node 'lif1': fan-in 300 exceeds 256 axons per tile; use "
                           "--tile-size or a bigger mesh" % model)
    assert not out.exists()


def test_per_neuron_parameters_are_grouped_into_tiles_and_reported():
    rng = np.random.default_rng(0)
    n = 20
    tau = np.repeat([2e-3, 3e-3, 5e-3, 8e-3], 5) * (1 + rng.normal(0, 1e-5, n))   # jitter merges
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "fc": nir.Linear(weight=rng.normal(0, 1, (n, 4))),
        "l": nir.LIF(tau=tau, r=np.ones(n), v_leak=np.zeros(n), v_threshold=np.repeat([1.0, 2.0], 10)),
        "out": nir.Output(output_type={"output": np.array([n])}),
    }, edges=[("input", "fc"), ("fc", "l"), ("l", "out")])
    prog = nt.from_nir(g, dt=DT)
    row = prog.report_rows()[0]
    assert row["distinct_params"] == 20 and row["groups"] == 4 and row["tiles"] == 4
    assert 0 < row["param_err"] < 0.01
    tiles = [p for p in prog.compiled.plans]
    assert sorted(len(p.neurons) for p in tiles) == [5, 5, 5, 5]
    assert len({p.params["dv"] for p in tiles}) == 4
    assert "4 (of 20)" in prog.report()


def _bad(name, tmp_path, graph):
    path = tmp_path / (name + ".nir")
    nir.write(str(path), graph)
    return str(path)


def _io(n=3):
    return {"input": nir.Input(input_type={"input": np.array([n])}),
            "out": nir.Output(output_type={"output": np.array([n])})}


def bad_graphs():
    rng = np.random.default_rng(0)
    unknown = nir.NIRGraph(nodes={**_io(), "cuba_li": nir.CubaLI(
        tau_syn=np.ones(3), tau_mem=np.ones(3), r=np.ones(3), v_leak=np.zeros(3))},
        edges=[("input", "cuba_li"), ("cuba_li", "out")], type_check=False)
    cycle = nir.NIRGraph(nodes={**_io(), "a": nir.Linear(weight=np.eye(3)), "b": nir.Linear(weight=np.eye(3)),
                                "l": _lif(3)},
                         edges=[("input", "a"), ("a", "b"), ("b", "a"), ("a", "l"), ("l", "out")], type_check=False)
    shape = nir.NIRGraph(nodes={**_io(), "fc": nir.Linear(weight=rng.normal(0, 1, (3, 5))), "l": _lif(3)},
                         edges=[("input", "fc"), ("fc", "l"), ("l", "out")], type_check=False)
    nan = nir.NIRGraph(nodes={**_io(), "fc": nir.Linear(weight=np.eye(3)),
                              "l": nir.LIF(tau=np.array([1e-3, np.nan, 1e-3]), r=np.ones(3),
                                           v_leak=np.zeros(3), v_threshold=np.ones(3))},
                       edges=[("input", "fc"), ("fc", "l"), ("l", "out")], type_check=False)
    inf = nir.NIRGraph(nodes={**_io(), "fc": nir.Linear(weight=np.full((3, 3), np.inf)), "l": _lif(3)},
                       edges=[("input", "fc"), ("fc", "l"), ("l", "out")], type_check=False)
    readout = nir.NIRGraph(nodes={**_io(), "fc": nir.Linear(weight=np.eye(3)), "l": _lif(3),
                                  "ro": nir.Linear(weight=np.full((3, 3), 0.5))},
                           edges=[("input", "fc"), ("fc", "l"), ("l", "ro"), ("ro", "out")], type_check=False)
    return {
        "unknown": (unknown, "node 'cuba_li' has type CubaLI, which neurotile cannot compile"),
        "cycle": (cycle, "cycle without neurons: 'a' -> 'b' -> 'a'"),
        "shape": (shape, "node 'fc' (Linear): weight shape (3, 5) does not match its input of 3 values"),
        "nan": (nan, "node 'l' (LIF): parameter 'tau' holds NaN or infinity"),
        "inf": (inf, "node 'fc' (Linear): parameter 'weight' holds NaN or infinity"),
        "readout": (readout, "output 'out' is fed through a linear map"),
    }


@pytest.mark.parametrize("case", ["unknown", "cycle", "shape", "nan", "inf", "readout"])
def test_bad_graphs_get_one_line_naming_the_node_and_no_output(case, tmp_path, capsys):
    graph, msg = bad_graphs()[case]
    model = _bad(case, tmp_path, graph)
    out = tmp_path / "x.spk"
    rc, _o, err = _cli(["nir", "compile", model, "-o", str(out), "--dt", "1e-4"], capsys)
    assert rc == 1
    assert err.startswith("%s: error: %s" % (model, msg)), err
    assert err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists()


def test_not_hdf5_and_missing_file(tmp_path, capsys):
    bad = tmp_path / "model.nir"
    bad.write_text("not a graph")
    out = tmp_path / "m.spk"
    out.write_text("keep me")
    rc, _o, err = _cli(["nir", "compile", str(bad), "-o", str(out)], capsys)
    assert rc == 1 and err.startswith("%s: error: not a NIR file" % bad)
    assert out.read_text() == "keep me"                       # an existing output is untouched
    fake = tmp_path / "fake.nir"                  # the HDF5 signature, then garbage
    fake.write_bytes(b"\x89HDF\r\n\x1a\n" + bytes(range(256)) * 4)
    rc, _o, err = _cli(["nir", "compile", str(fake), "-o", str(out)], capsys)
    assert rc == 1 and err.startswith("%s: error: cannot read the NIR graph" % fake), err
    assert err.count("\n") == 1
    rc, _o, err = _cli(["nir", "compile", str(tmp_path / "none.nir"), "-o", str(out)], capsys)
    assert rc == 1 and "cannot read" in err
    # a graph without dt needs --dt
    g = chain("LIF", 3, 3, np.random.default_rng(0), DT)
    model = _write(tmp_path / "nodt.nir", g)
    rc, _o, err = _cli(["nir", "compile", model, "-o", str(out)], capsys)
    assert rc == 1 and "give --dt" in err


def test_too_many_tiles_for_the_mesh_is_refused():
    rng = np.random.default_rng(0)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([8])}),
        "fc": nir.Linear(weight=rng.normal(0, 1, (100, 8))), "big": _lif(100),
        "out": nir.Output(output_type={"output": np.array([100])}),
    }, edges=[("input", "fc"), ("fc", "big"), ("big", "out")])
    with pytest.raises(NIRError, match=r"needs 4 tiles \(node 'big' alone 4\); the mesh 1x2 has 2"):
        compile_graph(g, dt=DT, tile_size=(8, 32), mesh=(1, 2))


def test_compiled_program_checks_out_in_the_image_loader():
    g = chain("LIF", 6, 6, np.random.default_rng(0), DT, recurrent=True)
    prog = nt.from_nir(g, dt=DT)
    data = prog.with_inputs({"input": np.ones((5, 6), int)}, 5).image()
    assert image.decode(data).n_tiles >= 1


def test_a_10k_neuron_conv_network_compiles_onto_160_tiles_with_short_routes():
    import time

    rng = np.random.default_rng(0)

    def lif(shape):
        o = np.ones(shape)
        return nir.LIF(tau=2e-3 * o, r=o, v_leak=0 * o, v_threshold=o)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([2, 32, 32])}),
        "conv": nir.Conv2d(input_shape=(32, 32), weight=rng.normal(0.3, 1, (8, 2, 3, 3)) * 8, stride=1,
                           padding=1, dilation=1, groups=1, bias=np.zeros(8)),
        "l1": lif((8, 32, 32)),
        "pool": nir.SumPool2d(kernel_size=np.array([2, 2]), stride=np.array([2, 2]), padding=np.array([0, 0])),
        "scale": nir.Scale(scale=np.full((8, 16, 16), 8.0)),
        "l2": lif((8, 16, 16)),
        "out": nir.Output(output_type={"output": np.array([8, 16, 16])}),
    }, edges=[("input", "conv"), ("conv", "l1"), ("l1", "pool"), ("pool", "scale"), ("scale", "l2"),
              ("l2", "out")], type_check=False)
    t0 = time.perf_counter()
    prog = nt.from_nir(g, dt=DT, tile_size=(256, 64))
    seconds = time.perf_counter() - t0
    rows = {r["node"]: r for r in prog.report_rows()}
    assert rows["l1"]["neurons"] + rows["l2"]["neurons"] == 10240
    assert rows["l1"]["tiles"] == 128 and rows["l2"]["tiles"] == 32
    assert rows["l1"]["synapses"] == 141376 and rows["l2"]["synapses"] == 8192
    assert rows["l1"]["hops_mean"] <= 3 and rows["l1"]["hops_max"] <= 4     # pooled next to conv
    assert seconds < 60, seconds                                            # ~2 s on a loaded 2-core box
    assert image.decode(prog.chip_image()).n_tiles == 169
    assert 64 <= prog.compiled.link_load <= 64 * 4     # a tile's 64 routes, a few tiles per link


def test_bin_output_mesh_and_weight_bits_options(tmp_path, capsys):
    g = chain("LIF", 8, 30, np.random.default_rng(4), DT, recurrent=True)
    g.metadata = {"dt": DT}
    model = _write(tmp_path / "m.nir", g)
    out = tmp_path / "m.bin"
    rc, stdout, err = _cli(["nir", "compile", model, "-o", str(out), "--mesh", "3x2",
                            "--tile-size", "64x16", "--weight-bits", "4", "--steps", "7"], capsys)
    assert rc == 0, err
    prog = image.decode(out.read_bytes())
    assert (prog.chip["mesh_w"], prog.chip["mesh_h"]) == (3, 2)
    on = [t for t in prog.tiles if t is not None]
    assert len(on) == 2 and all(t.neurons <= 16 and t.axons <= 64 for t in on)
    assert all(t.params["wbits"] == 4 and np.abs(t.weights).max() <= 7 for t in on)
    assert np.abs(on[0].weights).max() == 7                 # the scale uses the full range
    assert prog.static_ticks() == 7                          # one layer: no lag
    rc, _o, err = _cli(["nir", "compile", model, "-o", str(out), "--weight-bits", "9"], capsys)
    assert rc == 1 and "--weight-bits 9: must be 2..8" in err


def test_a_cycle_through_two_layers_is_reported_as_late():
    # A -> B -> A: NIR's reference breaks the cycle with one step of delay, the chip needs two
    rng = np.random.default_rng(0)
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}),
        "wa": nir.Linear(weight=rng.normal(0, 1, (5, 4)) * 10), "A": _lif(5),
        "ab": nir.Linear(weight=rng.normal(0, 1, (5, 5)) * 10), "B": _lif(5),
        "ba": nir.Linear(weight=rng.normal(0, 1, (5, 5)) * 10),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }, edges=[("input", "wa"), ("wa", "A"), ("A", "ab"), ("ab", "B"), ("B", "ba"), ("ba", "A"),
              ("B", "out")])
    prog = nt.from_nir(g, dt=DT)
    assert prog.compiled.timing == ["edge 'B' -> 'A' arrives 1 tick(s) later than NIR says "
                                    "(a cycle through several layers)"]
    assert "timing: edge 'B' -> 'A'" in prog.report()
    assert "; timing: edge 'B' -> 'A'" in prog.to_spk()


def test_nested_recurrent_subgraph_compiles_like_the_flat_graph():
    # snnTorch writes a recurrent layer as a nested NIRGraph with its own Input and Output
    rng = np.random.default_rng(1)
    w_in, w_rec, w_out = rng.normal(0, 1, (8, 4)) * 10, rng.normal(0, 1, (8, 8)) * 3, rng.normal(0, 1, (3, 8)) * 10

    def lif(n):
        return nir.CubaLIF(tau_syn=np.full(n, 1e-3), tau_mem=np.full(n, 2e-3), r=np.ones(n),
                           v_leak=np.zeros(n), v_threshold=np.ones(n))
    rnn = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([8])}), "lif": lif(8),
        "w_rec": nir.Linear(weight=w_rec), "output": nir.Output(output_type={"output": np.array([8])}),
    }, edges=[("input", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "output")])
    nested = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}), "fc1": nir.Linear(weight=w_in),
        "rnn": rnn, "fc2": nir.Linear(weight=w_out), "lif2": lif(3),
        "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "fc1"), ("fc1", "rnn.input"), ("rnn.output", "fc2"), ("fc2", "lif2"),
              ("lif2", "output")], type_check=False)
    flat = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([4])}), "fc1": nir.Linear(weight=w_in),
        "lif": lif(8), "w_rec": nir.Linear(weight=w_rec), "fc2": nir.Linear(weight=w_out),
        "lif2": lif(3), "output": nir.Output(output_type={"output": np.array([3])}),
    }, edges=[("input", "fc1"), ("fc1", "lif"), ("lif", "w_rec"), ("w_rec", "lif"), ("lif", "fc2"),
              ("fc2", "lif2"), ("lif2", "output")])
    a = nt.from_nir(nested, dt=DT)
    b = nt.from_nir(flat, dt=DT)
    assert a.chip_image() == b.chip_image()
    assert [r["node"] for r in a.report_rows()] == ["rnn.lif", "lif2"]


def test_scalar_neuron_parameters_take_their_size_from_the_input():
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([3])}),
        "fc": nir.Linear(weight=np.ones((5, 3)) * 10),
        "lif": nir.LIF(tau=np.array(2e-3), r=np.array(1.0), v_leak=np.array(0.0), v_threshold=np.array(1.0)),
        "out": nir.Output(output_type={"output": np.array([5])}),
    }, edges=[("input", "fc"), ("fc", "lif"), ("lif", "out")], type_check=False)
    prog = nt.from_nir(g, dt=DT)
    assert prog.report_rows()[0]["neurons"] == 5
    out = prog.run({"input": np.ones((20, 3), int)}, backend="reference")["out"]
    # v += dt/tau * 30 = 1.5 > 1 every step: every neuron fires every step
    assert out.shape == (20, 5) and out.sum() == 100
