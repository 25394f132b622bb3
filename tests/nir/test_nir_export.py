"""`neurotile nir export` and to_nir: graphs nir.read loads, exact round trips, refusals by name."""

from __future__ import annotations

import os
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

sys.path.insert(0, os.path.dirname(__file__))

import nir  # noqa: E402
from nir_fidelity import chain, poisson  # noqa: E402
from nir_reference import simulate  # noqa: E402

import neurotile as nt  # noqa: E402
from emulator.cli import main  # noqa: E402
from emulator.nir.export import ExportError, export_program  # noqa: E402

DT = 1e-4


def _graph(kind, rng, recurrent, layers=2):
    g = chain(kind, 6, 10, rng, DT, recurrent=recurrent)
    if layers == 2:          # a second layer: lag 1
        g.nodes["fc2"] = nir.Linear(weight=rng.normal(0.3, 1, (4, 10)) * 6)
        ones = np.ones(4)
        g.nodes["l2"] = nir.LIF(tau=2e-3 * ones, r=ones, v_leak=0 * ones, v_threshold=ones)
        g.nodes["output"] = nir.Output(output_type={"output": np.array([4])})
        g.edges = [e for e in g.edges if e != ("neurons", "output")] + [
            ("neurons", "fc2"), ("fc2", "l2"), ("l2", "output")]
    return g


@settings(max_examples=12, deadline=None, database=None)
@given(seed=st.integers(0, 2**32 - 1), kind=st.sampled_from(("LIF", "CubaLIF", "IF", "LI", "I")),
       recurrent=st.booleans(), reset=st.sampled_from(("zero", "subtract")))
def test_import_export_import_gives_the_same_program_bytes(tmp_path_factory, seed, kind, recurrent, reset):
    rng = np.random.default_rng(seed)
    spiking = kind in ("LIF", "CubaLIF", "IF")
    g = _graph(kind, rng, recurrent and spiking, layers=2 if spiking else 1)
    p1 = nt.from_nir(g, dt=DT, reset=reset)
    path = tmp_path_factory.mktemp("rt") / "again.nir"
    nt.to_nir(p1, dt=DT, path=path)
    p2 = nt.from_nir(str(path))            # dt, mesh, placement come from the file
    assert p2.chip_image() == p1.chip_image()


def test_round_trip_keeps_relay_tiles_delays_and_bias_axons(tmp_path):
    rng = np.random.default_rng(11)
    n = 6
    ones = np.ones(n)

    def lif():
        return nir.LIF(tau=2e-3 * ones, r=ones, v_leak=0.2 * ones, v_threshold=ones)
    w = lambda: nir.Linear(weight=rng.normal(0.4, 1, (n, n)) * 7)  # noqa: E731
    g = nir.NIRGraph(nodes={
        "input": nir.Input(input_type={"input": np.array([n])}),
        "wa": nir.Affine(weight=rng.normal(0.4, 1, (n, n)) * 7, bias=rng.normal(0, 1, n)), "A": lif(),
        "wb": w(), "B": lif(), "wc": w(), "C": lif(), "skip": w(),
        "delay": nir.Delay(delay=np.full(n, 3 * DT)), "wd": w(),
        "out": nir.Output(output_type={"output": np.array([n])}),
    }, edges=[("input", "wa"), ("wa", "A"), ("A", "wb"), ("wb", "B"), ("B", "wc"), ("wc", "C"),
              ("A", "skip"), ("skip", "C"), ("A", "delay"), ("delay", "wd"), ("wd", "C"), ("C", "out")])
    p1 = nt.from_nir(g, dt=DT)
    assert p1.report_rows()[0]["relay_tiles"] == 4 and p1.report_rows()[0]["bias"] == "axon"
    nt.to_nir(p1, dt=DT, path=tmp_path / "g2.nir")
    p2 = nt.from_nir(str(tmp_path / "g2.nir"))
    assert p2.chip_image() == p1.chip_image()
    # the exported graph models the chip's one-tick routes with Delay nodes: no lag left
    assert all(r["lag"] == 0 and r["relay_tiles"] == 0 for r in p2.report_rows())


def test_exported_graph_loads_with_nir_and_simulates_like_the_chip(tmp_path):
    # hand-written .spk -> NIR: the float reference on the exported graph gives the chip's spikes
    src = tmp_path / "two.spk"
    src.write_text("""
.chip mesh_w=2 mesh_h=1
.tile 0 lif axons=3 neurons=4 vth=100 dv=300 reset=subtract
.tile 1 lif axons=4 neurons=2 vth=150 dv=500 du=2000
.weights 0
    0: 40, 20, 0, 60
    1: 0, 50, 70, 10
    2: 30, 0, 45, 45
.weights 1
    0..3: 35, 50
.routes 0
    0..3 -> 1.0..3
.spikes s
    0..40: 0.0
    0..40: 0.2
    5..30: 0.1
.program
    play s
    run 45
""")
    out = tmp_path / "two.nir"
    assert main(["nir", "export", str(src), "-o", str(out), "--dt", "1e-3"]) == 0
    g = nir.read(str(out))                  # with nir's own type check
    assert {type(n).__name__ for n in g.nodes.values()} >= {"LIF", "CubaLIF", "Linear", "Input", "Output"}
    steps = 45
    x = np.zeros((steps, 3), int)
    x[:41, 0] = 1
    x[:41, 2] = 1
    x[5:31, 1] = 1
    _outs, _v, spikes, _pre = simulate(g, {"tile0_in": x}, steps, 1e-3)
    res = nt.load(src).run(backend="reference")
    # the float graph is the chip's arithmetic divided by 2^wshift, its routes one-step
    # Delay nodes: the float reference fires where the chip does (up to decay rounding)
    for tile in (0, 1):
        chip = res.spikes(tile)
        assert chip.sum() > 3
        agree = np.mean(chip == spikes["tile%d" % tile])
        assert agree >= 0.95, (tile, agree)


def test_refusals_name_the_tile_and_the_feature(tmp_path, capsys):
    for prog, msg in (("programs/tdmac_dot.spk", "tile 0 is a TD-MAC core"),
                      ("programs/stdp_pattern.spk", "learns (STDP, pair mode); NIR cannot express learning rules"),
                      ("programs/hello_lif.spk", "tile 0 has refractory = 1 ticks")):
        out = tmp_path / "x.nir"
        assert main(["nir", "export", prog, "-o", str(out)]) == 1
        err = capsys.readouterr().err
        assert err.startswith("%s: error: " % prog) and msg in err, err
        assert not out.exists()
    with pytest.raises(ExportError, match="TD-MAC"):
        export_program(nt.load("programs/tdmac_dot.spk")._p)


def test_trace_exports_as_nir_data(tmp_path, capsys):
    g = chain("LIF", 4, 5, np.random.default_rng(0), DT)
    prog = nt.from_nir(g, dt=DT, probe_all=True)
    plain = prog.with_inputs({"input": poisson(np.random.default_rng(1), 30, 4, 0.5)}, 30)
    spk = tmp_path / "p.spk"
    plain.save(spk)
    trace = plain.run(backend="reference").trace
    trace.save(str(tmp_path / "t.npz"))
    out = tmp_path / "data.nir"
    assert main(["nir", "export", str(spk), "--trace", str(tmp_path / "t.npz"), "-o", str(out)]) == 0
    d = nir.read_data(str(out))
    spikes = d.nodes["tile0"].observables["spikes"].data
    assert spikes.shape == (1, 30, 5) and spikes.sum() == len(trace["spk_tick"])
    assert "v" in d.nodes["tile0"].observables
