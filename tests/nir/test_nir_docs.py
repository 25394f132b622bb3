"""docs/NIR.md and docs/BUILDER.md: every command and example in them runs as written.

NIR.md's ```sh blocks run in order as one bash script in a temporary folder (blocks marked
``<!-- tutorial: expect-failure -->`` must fail; the ``needs neurotile hil`` block runs the
compiled program on the wasm virtual board). BUILDER.md's ```python blocks run in order
in one namespace.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import numpy as np
import pytest

import neurotile as nt
from emulator import api

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
BLOCK = re.compile(r"(?:<!--\s*tutorial:\s*(?P<tag>[^>]*?)\s*-->\s*\n)?```(?P<lang>sh|python)\n(?P<body>.*?)```", re.S)


def _blocks(name, lang):
    with open(os.path.join(ROOT, "docs", name), encoding="utf-8") as fh:
        text = fh.read()
    return [(m.group("tag") or "", m.group("body")) for m in BLOCK.finditer(text) if m.group("lang") == lang]


@pytest.mark.board
def test_nir_tutorial_commands_run(tmp_path):
    out = ["set -e -x"]
    for tag, body in _blocks("NIR.md", "sh"):
        if tag == "needs neurotile hil":
            out.append(body)                 # the wasm virtual board (node.js), as in TUTORIAL.md
            continue
        if tag == "expect-failure":
            out.append("if ( set -e\n%s) 2> failure.txt; then echo 'expected this block to fail' >&2; exit 1; fi\n"
                       "grep -q ': error: ' failure.txt && ! grep -q Traceback failure.txt" % body)
        else:
            assert tag == "", tag
            out.append(body)
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    r = subprocess.run(["bash", "-c", "\n".join(out) + "\n"], cwd=tmp_path, capture_output=True,
                       text=True, timeout=300, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "NIR.md commands failed:\n%s\n%s" % (r.stdout[-4000:], r.stderr[-4000:])
    # what the text promises
    assert "lif1" in r.stdout and "CubaLIF" in r.stdout and "hops" in r.stdout
    assert "output spikes per neuron:" in r.stdout
    assert "board and emulator agree" in r.stdout
    assert "fan-in 52 exceeds 32 axons per tile" in (tmp_path / "failure.txt").read_text()
    assert (tmp_path / "model_again.nir").exists() and not (tmp_path / "small.spk").exists()
    assert not (tmp_path / "learn.nir").exists()


def test_builder_examples_run(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)
    ns = {}
    for _tag, body in _blocks("BUILDER.md", "python"):
        exec(compile(body, "docs/BUILDER.md", "exec"), ns)
    out = capsys.readouterr().out
    assert "tile 0: weights must lie in -127..127 (wbits = 8)" in out
    assert ".routes 0" in out                       # prog2.to_spk()
    assert "tile0" in out and "hops" in out        # to_nir nodes, the report


def test_builder_runs_loaded_programs_with_their_own_code():
    prog = nt.load(os.path.join(ROOT, "programs", "hello_lif.spk"))
    assert prog.run(backend="reference").ticks == 40           # its own `run 40`
    assert prog.run(ticks=5, backend="reference").ticks == 5   # a limit
    assert prog.image() == api.load_bytes(os.path.join(ROOT, "programs", "hello_lif.spk"))


def test_builder_refuses_bad_shapes_and_values_by_name():
    prog = nt.Program(mesh=(2, 1))
    t = prog.tile(0, axons=3, neurons=2, vth=10)
    for bad, msg in ((np.zeros((2, 3)), "must have shape (axons, neurons) = (3, 2)"),
                     (np.full((3, 2), 0.5), "must be integers"),
                     (np.full((3, 2), 200), "must lie in -127..127")):
        with pytest.raises(nt.UserError, match=re.escape(msg)):
            t.weights = bad
    with pytest.raises(nt.UserError, match="off the 2x1 mesh"):
        prog.tile(5, axons=1, neurons=1)
    with pytest.raises(nt.UserError, match="unknown tile field 'vthh'"):
        prog.tile(1, axons=1, neurons=1, vthh=3)
    with pytest.raises(nt.UserError, match="connect: 2 neurons onto 3 axons"):
        prog.connect(t, prog.tile(1, axons=3, neurons=1), axons=[0, 1, 2])
    with pytest.raises(nt.UserError, match="raster must be"):
        prog.spikes(t, np.ones((4, 2), int))
    prog.tiles()[0].params["vth"] = 0                            # out of range: the loader says so
    with pytest.raises(nt.UserError, match="vth"):
        prog.image()
