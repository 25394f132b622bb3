"""The SANA-FE and NEST benchmark peers: reported as skipped without their venvs, and (with
the NEST venv) NEST's spikes on a small mesh close to the chip's, the difference reported.
SANA-FE's exact agreement is checked in tests/test_energy_models.py."""

import json
import os
import subprocess
import sys

import pytest

from emulator import api

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "benchmarks", "run.py")
sys.path.insert(0, os.path.join(ROOT, "benchmarks"))
import workloads  # noqa: E402

NEST_VENV = os.environ.get("NEUROTILE_NEST_VENV", os.path.join(ROOT, "benchmarks", ".venv-nest"))
NEST_PY = os.path.join(NEST_VENV, "bin", "python")


def test_missing_sanafe_and_nest_venvs_are_reported_as_skipped(tmp_path):
    env = dict(os.environ, NEUROTILE_SANAFE_VENV=str(tmp_path / "none1"),
               NEUROTILE_NEST_VENV=str(tmp_path / "none2"))
    p = subprocess.run([sys.executable, RUNNER, "--quick", "--only", "crossbar", "--impls",
                        "sanafe,nest_1t,nest_2t"], capture_output=True, text=True, timeout=120,
                       cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert [r["impl"] for r in rows] == ["sanafe", "nest_1t", "nest_2t"]
    for r in rows:
        assert "setup_peers.sh" in r["skipped"], r


@pytest.mark.skipif(not os.path.exists(NEST_PY),
                    reason="no NEST venv at %s (run `PEERS=nest bash benchmarks/setup_peers.sh`)" % NEST_VENV)
def test_nest_spikes_close_to_the_chip_and_difference_reported(tmp_path):
    import numpy as np

    wl = workloads.mesh(w=3, h=2, ticks=40, size=32, name="nest_mesh")
    files = wl.save(str(tmp_path))
    tr = api.run(files["bin"])
    a = tr.arrays
    ref = tmp_path / "ref.npz"
    np.savez(ref, spk_tick=a["spk_tick"], spk_tile=a["spk_tile"], spk_neuron=a["spk_neuron"])
    r = subprocess.run([NEST_PY, os.path.join(ROOT, "benchmarks", "peers", "nest_peer.py"), files["npz"],
                        "--threads", "1", "--repeats", "1", "--ref-spikes", str(ref)],
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr[-2000:]
    res = json.loads([line for line in r.stdout.splitlines() if line.startswith("{")][-1])
    chip = len(a["spk_tick"])
    assert chip > 100
    # float leak vs the chip's truncated leak: close in number, not spike for spike
    assert abs(res["spikes"] - chip) <= 0.05 * chip
    assert res["spikes_only_nest"] - res["spikes_only_chip"] == res["spikes"] - chip
    assert res["spikes_symdiff"] == res["spikes_only_nest"] + res["spikes_only_chip"]
    # the first ticks, before any potential has leaked far, agree exactly
    assert res["first_differing_tick"] is None or res["first_differing_tick"] >= 2
