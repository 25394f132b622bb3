"""asm -> image -> disasm -> asm gives identical bytes; every bundled program assembles."""

import glob
import os

import pytest
from hypothesis import HealthCheck, given, settings

from emulator import image
from emulator.asm import assemble, assemble_file, assemble_text, disassemble

from strategies_asm import programs

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = sorted(glob.glob(os.path.join(ROOT, "programs", "*.spk")))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(programs())
def test_disassembly_of_any_valid_program_reassembles_to_identical_bytes(prog):
    data = image.encode(prog)
    text = disassemble(data)
    assert assemble_text(text) == data
    # and the text is a fixed point
    assert disassemble(assemble_text(text)) == text


def test_there_are_example_programs():
    names = {os.path.basename(p) for p in PROGRAMS}
    assert {"hello_lif.spk", "tdmac_dot.spk"} <= names


@pytest.mark.parametrize("path", PROGRAMS, ids=os.path.basename)
def test_every_bundled_program_assembles_and_round_trips(path):
    result = assemble(path=path)
    assert result.image == assemble_file(path)
    assert assemble_text(disassemble(result.image)) == result.image
    image.decode(result.image)


@pytest.mark.parametrize("path", PROGRAMS, ids=os.path.basename)
def test_every_bundled_program_has_a_header_comment_saying_how_to_run_it(path):
    head = open(path, encoding="utf-8").read().split("\n.", 1)[0]
    assert head.startswith(";")
    assert "neurotile run programs/%s" % os.path.basename(path) in head
    assert "neurotile view" in head


@pytest.mark.parametrize("name", ["hello_lif.spk", "tdmac_dot.spk"])
def test_the_first_examples_assemble_without_warnings(name):
    assert assemble(path=os.path.join(ROOT, "programs", name)).warnings == []


def test_hello_lif_is_a_few_hundred_bytes():
    data = assemble_file(os.path.join(ROOT, "programs", "hello_lif.spk"))
    assert len(data) < 1024


def test_disassembly_is_readable_source():
    text = disassemble(assemble_file(os.path.join(ROOT, "programs", "hello_lif.spk")))
    assert ".tile 0 lif" in text and "reset=zero" in text      # enums by name, every field
    assert "    0: 24, 8, 0" in text                            # weights as rows
    assert ".spikes b0" in text and "play b0" in text
    assert "0..3: 0.0\n    4..7: 0.0..2" in text              # repeated events compress


def test_disassembly_uses_labels_loops_and_range_routes():
    src = """
.chip mesh_w=2 window=8
.tile 0 lif axons=4 neurons=4
.tile 1 lif axons=4 neurons=4
.weights 1
    fill 1
.routes 0
    0..3 -> 1.0..3
.program
top:
    loop 2
        run 1
    endloop
    jmp top
"""
    text = disassemble(assemble_text(src))
    assert "0..3 -> 1.0..3" in text
    assert "L0:" in text and "jmp L0" in text
    assert "    loop 2\n        run 1\n    endloop" in text
