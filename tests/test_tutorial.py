"""docs/TUTORIAL.md: every shell command in it runs as written.

The ```sh blocks are taken in order and run as one bash script (`set -e`, so the first
failing command fails the test) in a temporary folder, the way a reader types them. A
block preceded by ``<!-- tutorial: expect-failure -->`` must fail (it shows an error
message). A block preceded by ``<!-- tutorial: needs neurotile hil -->`` runs on a
virtual board: it runs when the installed ``neurotile`` has the ``hil`` command (the
board test is skipped, not failed, while it does not).
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
TUTORIAL = os.path.join(ROOT, "docs", "TUTORIAL.md")
BLOCK = re.compile(r"(?:<!--\s*tutorial:\s*(?P<tag>[^>]*?)\s*-->\s*\n)?```sh\n(?P<body>.*?)```", re.S)


def blocks():
    with open(TUTORIAL, encoding="utf-8") as fh:
        text = fh.read()
    return [(m.group("tag") or "", m.group("body")) for m in BLOCK.finditer(text)]


def have_hil() -> bool:
    exe = shutil.which("neurotile")
    if exe is None:
        return False
    r = subprocess.run([exe, "hil", "--help"], capture_output=True, text=True, timeout=60)
    return r.returncode == 0


def script(include_hil: bool) -> str:
    out = ["set -e -x"]
    for tag, body in blocks():
        if tag == "needs neurotile hil" and not include_hil:
            continue
        if tag == "expect-failure":
            out.append("if ( set -e\n%s); then echo 'expected this block to fail' >&2; exit 1; fi" % body)
        else:
            assert tag in ("", "needs neurotile hil"), "unknown tutorial tag %r" % tag
            out.append(body)
    return "\n".join(out) + "\n"


def run_script(tmp_path, include_hil):
    env = dict(os.environ, NO_COLOR="1", PYTHONPATH=ROOT + os.pathsep + os.environ.get("PYTHONPATH", ""))
    env["PATH"] = os.path.dirname(sys.executable) + os.pathsep + env.get("PATH", "")
    r = subprocess.run(["bash", "-c", script(include_hil)], cwd=tmp_path, capture_output=True,
                       text=True, timeout=600, env=env, stdin=subprocess.DEVNULL)
    assert r.returncode == 0, "tutorial commands failed:\n%s\n%s" % (r.stdout[-4000:], r.stderr[-4000:])
    return r


def test_tutorial_has_the_expected_blocks():
    tags = [t for t, _ in blocks()]
    assert len(tags) >= 8
    assert "expect-failure" in tags and "needs neurotile hil" in tags


def test_tutorial_commands_run_as_written(tmp_path):
    r = run_script(tmp_path, include_hil=False)
    work = tmp_path / "first-steps"
    for name in ("first.bin", "first.npz", "second.npz", "first.html", "first.png", "first.csv"):
        assert (work / name).exists(), name
    assert "first.bin: " in r.stdout
    assert "unknown core type 'lfi'" in r.stderr
    assert "vth=50: neuron 0 fired 10 times, neuron 1 7 times" in r.stdout


@pytest.mark.board
def test_tutorial_board_commands_run_as_written(tmp_path):
    if not have_hil():
        pytest.skip("`neurotile hil` is not available yet")
    run_script(tmp_path, include_hil=True)
    assert (tmp_path / "first-steps" / "board.npz").exists()
