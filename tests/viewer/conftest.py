"""Fixtures for the viewer tests: traces from real runs of programs/*.spk (reference backend)
and synthetic traces (emulator.viewer.synth) for shapes the examples do not produce."""

from __future__ import annotations

import glob
import os
import warnings

import pytest

from viewer_helpers import write_synth

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = sorted(glob.glob(os.path.join(ROOT, "programs", "*.spk")))


@pytest.fixture(scope="session")
def real_traces(tmp_path_factory):
    """{program name: trace path} for every example program, run on the reference backend."""
    try:
        from emulator import api
    except ImportError as e:  # pragma: no cover - backends are part of the tree
        pytest.skip("emulator backends not importable: %s" % e)
    if not PROGRAMS:
        pytest.skip("no example programs in programs/")
    folder = tmp_path_factory.mktemp("real")
    out, failed = {}, []
    for prog in PROGRAMS:
        name = os.path.splitext(os.path.basename(prog))[0]
        try:
            trace = api.run(prog, backend="reference")
        except Exception as e:  # noqa: BLE001 - a program or backend still being written
            failed.append("%s: %s: %s" % (name, type(e).__name__, e))
            continue
        path = folder / (name + ".npz")
        trace.save(path)
        out[name] = str(path)
    if failed:
        warnings.warn("example programs that did not run: " + "; ".join(failed))
    if not out:
        pytest.skip("no example program ran: " + "; ".join(failed))
    return out


@pytest.fixture
def synth_file(tmp_path):
    return write_synth(tmp_path / "synth.npz", ticks=80, mesh=(3, 2), neurons=16,
                       router_mode="fixed", tdmac_tiles=(5,))
