"""Smoke test of the benchmark runner: `--quick --only` on a tiny workload prints JSON lines."""

import json
import os
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNNER = os.path.join(ROOT, "benchmarks", "run.py")
REQUIRED = ("name", "impl", "ticks", "neurons", "spikes", "synaptic_events", "run_s", "compile_s",
            "events_per_s", "neuron_updates_per_s", "peak_rss_mb")


def _run(args, timeout=120):
    p = subprocess.run([sys.executable, RUNNER] + args, capture_output=True, text=True,
                       timeout=timeout, cwd=ROOT)
    assert p.returncode == 0, p.stderr[-2000:]
    rows = [json.loads(line) for line in p.stdout.splitlines() if line.strip()]
    assert rows, "no output"
    return rows


def test_quick_only_reference_prints_json_lines():
    # the smallest workload (20 ticks of one 256x256 tile) on the reference backend only:
    # no JIT compile (a cold numba cache can take a minute), no Brian2 build
    rows = _run(["--quick", "--only", "reference", "--impls", "neurotile_reference"])
    impls = {r["impl"]: r for r in rows}
    assert set(impls) == {"neurotile_reference"}
    for r in rows:
        assert r["name"] == "reference" and r["quick"] is True
        if "skipped" in r or "error" in r:
            # a backend still being written is reported, never a crash
            assert "skipped" in r or isinstance(r["error"], str)
            continue
        for k in REQUIRED:
            assert k in r, k
        assert r["ticks"] == 20 and r["neurons"] == 256
        assert len(r["runs_s"]) >= 3 and r["run_s"] > 0
        assert r["synaptic_events"] > 0 and r["spikes"] > 0


def test_unknown_workload_is_a_usage_error():
    p = subprocess.run([sys.executable, RUNNER, "--quick", "--only", "nope"], capture_output=True,
                       text=True, timeout=60, cwd=ROOT)
    assert p.returncode == 2 and "unknown workload" in p.stderr


def test_missing_peer_is_reported_as_skipped(tmp_path):
    env = dict(os.environ, NEUROTILE_PEER_VENV=str(tmp_path / "no-venv"))
    p = subprocess.run([sys.executable, RUNNER, "--quick", "--only", "crossbar",
                        "--impls", "brian2_cpp_standalone"], capture_output=True, text=True, timeout=60,
                       cwd=ROOT, env=env)
    assert p.returncode == 0, p.stderr
    rows = [json.loads(l) for l in p.stdout.splitlines() if l.strip()]
    assert [(r["name"], r["impl"]) for r in rows] == [("crossbar", "brian2_cpp_standalone")]
    assert "setup_peers.sh" in rows[0]["skipped"]
