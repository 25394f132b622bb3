"""`neurotile view` from the command line: options, exports, errors without tracebacks."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import zipfile

import numpy as np
import pytest

from emulator.cli import main
from viewer_helpers import write_synth

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def run_cli(capsys, *argv):
    code = main(["view", *argv])
    out, err = capsys.readouterr()
    return code, out, err


def test_view_renders_all_panels(capsys, synth_file):
    code, out, err = run_cli(capsys, synth_file, "--width", "100")
    assert code == 0 and err == ""
    for title in ("neurotile trace", "Spike raster", "Probes", "Mesh 3x2", "Latency",
                  "Learning", "Energy"):
        assert "╭─ " + title in out
    assert max(len(line) for line in out.splitlines()) <= 100
    assert "\x1b[" not in out                       # piped: no escape codes


def test_view_options_select_window_tiles_and_cycles(capsys, synth_file):
    code, out, _ = run_cli(capsys, synth_file, "--tiles", "5", "--neurons", "0-7",
                           "--ticks", "10:20", "--cycles", "--width", "80")
    assert code == 0
    assert "ticks 10–19 (cycles" in out and "tile 5 (2,1) tdmac" in out
    assert "tile 0 (0,0)" not in out and "cycle" in out


@pytest.mark.parametrize("argv, message", [
    (["--tiles", "9"], "--tiles"), (["--ticks", "50:10"], "--ticks"),
    (["--ticks", "x"], "--ticks"), (["--neurons", "a-b"], "--neurons"),
])
def test_bad_options_are_user_errors(capsys, synth_file, argv, message):
    code, out, err = run_cli(capsys, synth_file, *argv)
    assert code == 1 and err.startswith("neurotile: error: ") and message in err


def test_export_svg_and_html(capsys, synth_file, tmp_path):
    svg, html = tmp_path / "v.svg", tmp_path / "v.html"
    code, out, _ = run_cli(capsys, synth_file, "--svg", str(svg), "--html", str(html),
                           "--width", "120")
    assert code == 0
    assert svg.read_text().startswith("<svg") and "Spike" in svg.read_text()
    assert "Spike raster" in html.read_text() and "Spike raster" in out


def _bad_files(tmp_path, good):
    bad = {}
    bad["missing"] = str(tmp_path / "nope.npz")
    p = tmp_path / "text.npz"
    p.write_text("hello, not a trace\n")
    bad["text"] = str(p)
    p = tmp_path / "truncated.npz"
    p.write_bytes(open(good, "rb").read()[:3000])
    bad["truncated"] = str(p)
    p = tmp_path / "foreign.npz"
    np.savez(p, x=np.arange(3))
    bad["foreign"] = str(p)
    p = tmp_path / "other_format.npz"
    np.savez(p, meta=np.array(json.dumps({"format": "something-else"})), x=np.arange(3))
    bad["other_format"] = str(p)
    p = tmp_path / "newer.npz"
    with np.load(good) as z:
        arrays = {k: z[k] for k in z.files}
    meta = json.loads(str(arrays["meta"]))
    meta["version"] = 99
    np.savez(p, **{**arrays, "meta": np.array(json.dumps(meta))})
    bad["newer"] = str(p)
    p = tmp_path / "pickled.npz"
    np.savez(p, meta=np.array([{"a": 1}], dtype=object))
    bad["pickled"] = str(p)
    p = tmp_path / "inconsistent.npz"
    np.savez(p, **{**arrays, "spk_tile": arrays["spk_tile"][:-3]})
    bad["inconsistent"] = str(p)
    p = tmp_path / "zip.npz"
    with zipfile.ZipFile(p, "w") as z:
        z.writestr("meta.npy", b"garbage")
    bad["zip"] = str(p)
    return bad


def test_corrupt_or_foreign_traces_give_a_clear_error(capsys, synth_file, tmp_path):
    for what, path in _bad_files(tmp_path, synth_file).items():
        code, out, err = run_cli(capsys, path)
        assert code == 1, what
        assert err.startswith("neurotile: error: ") and "Traceback" not in err, what
        assert len(err.strip().splitlines()) == 1, (what, err)


def test_corrupt_trace_from_a_real_process_has_no_traceback(tmp_path):
    p = tmp_path / "bad.npz"
    p.write_bytes(b"PK\x03\x04 broken")
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "view", str(p)],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 1 and "Traceback" not in r.stderr
    assert r.stderr.startswith("neurotile: error: ")


def test_no_color_env_and_flag(synth_file):
    env = {**os.environ, "NO_COLOR": "1", "TERM": "xterm-256color"}
    code = ("import sys; from rich.console import Console; import emulator.commands.view as v;"
            "from emulator.cli import main; sys.exit(main(['view', %r, '--width', '90']))" % synth_file)
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                       timeout=120)
    assert r.returncode == 0 and "\x1b[3" not in r.stdout      # no colour codes
    assert "Spike raster" in r.stdout


def test_two_traces_show_the_diff(capsys, tmp_path):
    a = write_synth(tmp_path / "a.npz", ticks=40, mesh=(2, 1), neurons=16, seed=5)
    with np.load(a) as z:
        arrays = {k: z[k] for k in z.files}
    arrays["spk_neuron"] = arrays["spk_neuron"].copy()
    arrays["spk_neuron"][7] = (arrays["spk_neuron"][7] + 1) % 16
    b = str(tmp_path / "b.npz")
    np.savez(b, **arrays)
    code, out, err = run_cli(capsys, a, b, "--width", "80")
    assert code == 0, err
    assert "first divergence: tick %d" % arrays["spk_tick"][7] in out
    assert "only in A 1 · only in B 1" in out


def test_help_is_cheap_and_lists_options():
    r = subprocess.run([sys.executable, "-X", "importtime", "-m", "emulator.cli", "view", "--help"],
                       capture_output=True, text=True, timeout=60)
    assert r.returncode == 0 and "--interactive" in r.stdout
    imported = r.stderr
    assert "textual" not in imported and "emulator.viewer.raster" not in imported


@pytest.mark.parametrize("command", ["run", "view"])
def test_long_output_is_paged_on_a_terminal(monkeypatch, capsys, tmp_path, command):
    import emulator.commands.view as view_cmd

    paged = []
    monkeypatch.setattr(view_cmd, "_page", paged.append)
    monkeypatch.setenv("FORCE_COLOR", "1")
    monkeypatch.setenv("LINES", "24")
    monkeypatch.setenv("COLUMNS", "80")
    prog = os.path.join(ROOT, "programs", "hello_lif.spk")
    trace = tmp_path / "t.npz"
    argv = (["run", prog, "--view", "-q", "--trace", str(trace)] if command == "run"
            else ["view", str(write_synth(trace, ticks=40))])
    assert main(argv) == 0
    assert len(paged) == 1 and "Spike raster" in paged[0] and paged[0].count("\n") > 24
    assert "Spike raster" not in capsys.readouterr().out
    assert main(argv + ["--no-pager"]) == 0
    assert len(paged) == 1 and "Spike raster" in capsys.readouterr().out
