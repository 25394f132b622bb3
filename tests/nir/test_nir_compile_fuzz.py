"""Any NIR graph either compiles into a valid image or is refused with a NIRError (one line,
naming what is wrong): never another exception, never an invalid image."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import nir
from emulator import image
from emulator.nir.compiler import compile_graph
from emulator.nir.graph import NIRError

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "I", "Threshold")


def _param(draw, n, lo, hi, allow_bad):
    v = draw(st.floats(lo, hi, allow_nan=False))
    a = np.full(n, v)
    if allow_bad and draw(st.integers(0, 15)) == 0:
        a[draw(st.integers(0, n - 1))] = draw(st.sampled_from([np.nan, np.inf, -1.0, 0.0]))
    return a


@st.composite
def graphs(draw):
    bad = draw(st.booleans())
    n_in = draw(st.integers(1, 40))
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges = []
    prev, size = "input", n_in
    layers = draw(st.integers(1, 3))
    for i in range(layers):
        n = draw(st.integers(1, 300))
        kind = draw(st.sampled_from(NEURONS if i == layers - 1 else ("LIF", "CubaLIF", "IF", "Threshold")))
        lin = draw(st.sampled_from(("Affine", "Linear", "Scale")))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        if lin == "Scale":
            n = size
            nodes["w%d" % i] = nir.Scale(scale=rng.normal(0, 3, n) * 100)
        else:
            cols = size + (draw(st.integers(-1, 1)) if bad else 0)
            w = rng.normal(0, draw(st.sampled_from([1e-6, 1.0, 1e6])), (n, max(cols, 1)))
            nodes["w%d" % i] = (nir.Affine(weight=w, bias=rng.normal(0, 1, n)) if lin == "Affine"
                                else nir.Linear(weight=w))
        ones = np.ones(n)
        tau = _param(draw, n, 1e-5, 1.0, bad)
        thr = _param(draw, n, 1e-3, 10.0, bad)
        node = {
            "LIF": lambda: nir.LIF(tau=tau, r=ones, v_leak=0 * ones, v_threshold=thr),
            "CubaLIF": lambda: nir.CubaLIF(tau_syn=tau, tau_mem=tau * 2, r=ones, v_leak=0 * ones, v_threshold=thr),
            "IF": lambda: nir.IF(r=ones, v_threshold=thr),
            "LI": lambda: nir.LI(tau=tau, r=ones, v_leak=0 * ones),
            "I": lambda: nir.I(r=ones),
            "Threshold": lambda: nir.Threshold(threshold=thr),
        }[kind]()
        nodes["l%d" % i] = node
        edges += [(prev, "w%d" % i), ("w%d" % i, "l%d" % i)]
        if kind in ("LIF", "CubaLIF", "IF") and draw(st.booleans()):
            nodes["r%d" % i] = nir.Linear(weight=rng.normal(0, 1, (n, n)))
            edges += [("l%d" % i, "r%d" % i), ("r%d" % i, "l%d" % i)]
        prev, size = "l%d" % i, n
    nodes["output"] = nir.Output(output_type={"output": np.array([size])})
    edges.append((prev, "output"))
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


@settings(max_examples=60, deadline=None, database=None)
@given(g=graphs(), tile=st.sampled_from([(256, 256), (64, 32), (16, 16)]),
       bits=st.integers(2, 8), reset=st.sampled_from(("zero", "subtract")))
def test_compile_gives_a_valid_image_or_a_one_line_error(g, tile, bits, reset):
    try:
        comp = compile_graph(g, dt=1e-4, tile_size=tile, weight_bits=bits, reset=reset)
    except NIRError as e:
        msg = str(e)
        assert msg and "\n" not in msg
        return
    prog = comp.with_inputs({}, 3)
    data = image.encode(prog)                       # validates every field and route
    back = image.decode(data)
    for t in back.tiles:
        if t is not None:
            assert t.axons <= tile[0] and t.neurons <= tile[1]
            assert np.abs(t.weights).max(initial=0) <= (1 << (bits - 1)) - 1
