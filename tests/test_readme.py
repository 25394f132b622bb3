"""README examples run as written: the quick start's run, and the Python API block."""

import os
import re
import shlex
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
README = open(os.path.join(ROOT, "README.md"), encoding="utf-8").read()


def _blocks(lang):
    return re.findall(r"```%s\n(.*?)```" % lang, README, flags=re.S)


def test_quick_start_has_exactly_two_commands_and_ci_runs_the_second():
    quick = README.split("## Quick start", 1)[1].split("\n## ", 1)[0]
    cmds = [b.strip() for b in re.findall(r"```sh\n(.*?)```", quick, flags=re.S)]
    assert len(cmds) == 2 and all("\n" not in c for c in cmds)
    ci = open(os.path.join(ROOT, ".ci", "run"), encoding="utf-8").read()
    assert cmds[1] in ci


def test_quick_start_main_job_runs(tmp_path):
    cmd = [b.strip() for b in _blocks("sh")][0]
    run_part = cmd.split("&&", 1)[1].strip()          # the install part is pip's business
    argv = shlex.split(run_part)
    assert argv[0] == "neurotile"
    argv = [a if not a.startswith("programs/") else os.path.join(ROOT, a) for a in argv]
    r = subprocess.run([sys.executable, "-m", "emulator.cli", *argv[1:]], cwd=tmp_path,
                       capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stderr
    assert "Spike raster" in r.stdout and "energy" in r.stdout
    assert (tmp_path / "demo.npz").exists()


def test_python_api_example_runs(tmp_path):
    block = _blocks("python")[0]
    r = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True,
                       timeout=300)
    assert r.returncode == 0, r.stderr
    lines = r.stdout.strip().splitlines()
    assert re.match(r"\d+ spikes in \d+ cycles", lines[0])
    assert int(lines[1].split()[0]) < int(lines[0].split()[0])   # twice the threshold: fewer spikes


def test_hardware_in_the_loop_example_runs_on_the_wasm_board():
    block = _blocks("python")[1]
    assert "ChipBoard" in block
    r = subprocess.run([sys.executable, "-c", block], cwd=ROOT, capture_output=True, text=True,
                       timeout=600)
    assert r.returncode == 0, r.stderr
    assert r.stdout.strip().splitlines()[-1] == "True"
