"""`neurotile asm` / `neurotile disasm`: outputs, exit status, atomic writes."""

import os
import subprocess
import sys


from emulator.cli import main

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
HELLO = os.path.join(ROOT, "programs", "hello_lif.spk")


def test_asm_writes_the_image_and_disasm_reads_it_back(tmp_path, capsys):
    out = tmp_path / "h.bin"
    assert main(["asm", HELLO, "-o", str(out)]) == 0
    data = out.read_bytes()
    assert data[:4] == b"NTIL"
    assert "%d bytes" % len(data) in capsys.readouterr().out
    spk = tmp_path / "h.spk"
    assert main(["disasm", str(out), "-o", str(spk)]) == 0
    again = tmp_path / "again.bin"
    assert main(["asm", str(spk), "-o", str(again), "--quiet"]) == 0
    assert again.read_bytes() == data
    assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


def test_default_output_is_next_to_the_source(tmp_path):
    src = tmp_path / "p.spk"
    src.write_text(".program\n    halt\n")
    assert main(["asm", str(src), "--quiet"]) == 0
    assert (tmp_path / "p.bin").exists()


def test_errors_exit_1_without_traceback_and_write_nothing(tmp_path):
    src = tmp_path / "bad.spk"
    src.write_text(".chip window=0\n.program\n    runn 1\n")
    out = tmp_path / "bad.bin"
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "asm", str(src), "-o", str(out)],
                       capture_output=True, text=True)
    assert r.returncode == 1
    assert "Traceback" not in r.stderr
    assert "bad.spk:1:14: error: window = 0 is out of range 1..4096" in r.stderr
    assert "bad.spk:3:5: error: unknown instruction 'runn' (did you mean 'run'?)" in r.stderr
    assert "2 errors generated." in r.stderr
    assert not out.exists() and os.listdir(tmp_path) == ["bad.spk"]


def test_an_existing_output_is_untouched_on_error(tmp_path):
    src = tmp_path / "p.spk"
    src.write_text(".chip window=0\n")
    out = tmp_path / "p.bin"
    out.write_bytes(b"old")
    assert main(["asm", str(src), "-o", str(out)]) == 1
    assert out.read_bytes() == b"old"


def test_werror_and_quiet(tmp_path, capsys):
    src = tmp_path / "w.spk"
    src.write_text(".const UNUSED = 1\n")
    assert main(["asm", str(src), "-o", str(tmp_path / "w.bin")]) == 0
    assert "warning: constant 'UNUSED' is never used" in capsys.readouterr().err
    assert main(["asm", str(src), "-o", str(tmp_path / "w.bin"), "--quiet"]) == 0
    assert capsys.readouterr().err == ""
    os.unlink(tmp_path / "w.bin")
    assert main(["asm", str(src), "-o", str(tmp_path / "w.bin"), "--werror"]) == 1
    assert "error: constant 'UNUSED' is never used [--werror]" in capsys.readouterr().err
    assert not (tmp_path / "w.bin").exists()


def test_missing_source_and_bad_image_are_one_line_errors(tmp_path, capsys):
    assert main(["asm", str(tmp_path / "nope.spk")]) == 1
    assert "cannot read" in capsys.readouterr().err
    bad = tmp_path / "x.bin"
    bad.write_bytes(b"NTIL\x01")
    assert main(["disasm", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.startswith("neurotile: error: ") and "shorter than the 16-byte header" in err


def test_help_lists_both_commands():
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "--help"], capture_output=True, text=True)
    assert " asm " in r.stdout and " disasm " in r.stdout
    r = subprocess.run([sys.executable, "-m", "emulator.cli", "asm", "--help"], capture_output=True, text=True)
    assert "--werror" in r.stdout and "--quiet" in r.stdout
