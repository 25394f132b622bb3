"""`neurotile run` and the top-level CLI: good runs, and bad input that gets a clear error."""

import json
import os
import subprocess
import sys

import numpy as np
import pytest

from emulator import image


def neurotile(*args, cwd=None):
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args], capture_output=True,
                          text=True, cwd=cwd, timeout=300)


@pytest.fixture
def prog_bin(tmp_path):
    p = image.new_program(2, 1, window=16, seed=3)
    t0 = image.new_tile("lif", 4, 4, vth=3)
    t0.weights[:] = 2
    t0.routes = [[(1, n)] for n in range(4)]
    t1 = image.new_tile("lif", 4, 4, vth=2)
    t1.weights[:] = np.eye(4, dtype=np.int8) * 3
    p.tiles = [t0, t1]
    p.code = [("loop", (5,)), ("inject", (0, 0, 0)), ("inject", (0, 1, 0)), ("run", (2,)),
              ("endloop", (1,))]
    path = tmp_path / "p.bin"
    path.write_bytes(image.encode(p))
    return path


def test_help_lists_the_commands():
    r = neurotile("--help")
    assert r.returncode == 0
    for cmd in ("run",):
        assert cmd in r.stdout
    r = neurotile("run", "--help")
    assert r.returncode == 0 and "--trace" in r.stdout and "--backend" in r.stdout


@pytest.mark.parametrize("backend", ["numba", "reference"])
def test_run_writes_a_trace_and_a_summary(prog_bin, tmp_path, backend):
    out = tmp_path / "t.npz"
    r = neurotile("run", str(prog_bin), "--trace", str(out), "--backend", backend, "--json")
    assert r.returncode == 0, r.stderr
    s = json.loads(r.stdout)
    assert s["ticks"] == 10
    # tile 0 fires every tick it gets input (2 inputs x weight 2 >= 3), 4 neurons x 5 ticks
    assert s["spikes_per_tile"][0] == 20
    assert s["packets"] == 20 and s["hops"]["min"] == 1
    assert s["cycles"] >= 10 * 16
    with np.load(out) as z:
        assert len(z["spk_tick"]) == s["spikes"]
    assert not [f for f in os.listdir(tmp_path) if f.startswith(".") or f.endswith(".tmp")]


@pytest.mark.parametrize("args, message", [
    (["--ticks", "-3"], "--ticks must be at least 1"),
    (["--ticks", "abc"], "whole number"),
    (["--ticks", str(1 << 40)], "absurd"),
    (["--ticks", "11"], "beyond the program, which ends after 10 ticks"),
    (["--seed", "-1"], "--seed must be in"),
    (["--trace", "/nonexistent/dir/t.npz"], "does not exist"),
    (["--backend", "gpu"], "invalid choice"),
])
def test_bad_arguments_give_a_clear_error_and_exit_1_or_2(prog_bin, args, message):
    r = neurotile("run", str(prog_bin), *args)
    assert r.returncode in (1, 2)
    assert message in r.stderr
    assert "Traceback" not in r.stderr


def test_a_corrupt_image_is_refused_before_anything_runs(prog_bin, tmp_path):
    data = bytearray(prog_bin.read_bytes())
    data[30] ^= 0xFF
    bad = tmp_path / "bad.bin"
    bad.write_bytes(bytes(data))
    out = tmp_path / "t.npz"
    r = neurotile("run", str(bad), "--trace", str(out))
    assert r.returncode == 1 and "CRC-32" in r.stderr and "Traceback" not in r.stderr
    assert not out.exists()


def test_a_program_that_loops_forever_needs_ticks(tmp_path):
    p = image.new_program(1, 1)
    p.tiles = [image.new_tile("lif", 2, 2)]
    p.code = [("run", (1,)), ("jmp", (0,))]
    path = tmp_path / "forever.bin"
    path.write_bytes(image.encode(p))
    r = neurotile("run", str(path))
    assert r.returncode == 1 and "give --ticks" in r.stderr
    r = neurotile("run", str(path), "--ticks", "7", "--json")
    assert r.returncode == 0 and json.loads(r.stdout)["ticks"] == 7


def test_missing_program_file():
    r = neurotile("run", "no/such/file.bin")
    assert r.returncode == 1 and "no such program" in r.stderr
