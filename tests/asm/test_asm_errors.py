"""Every class of error has its own located message; warnings for suspicious input."""


import numpy as np
import pytest

from emulator.asm import AsmError, assemble, assemble_text

HEAD = """.chip mesh_w=2 mesh_h=1 window=16
.tile 0 lif axons=4 neurons=4
.tile 1 tdmac axons=4 neurons=2 t_in=8
.weights 0
    fill 1
.weights 1
    fill 1
"""


def errors(src, **kw):
    with pytest.raises(AsmError) as ei:
        assemble_text(src, filename="t.spk", **kw)
    e = ei.value
    assert e.errors, "AsmError without errors"
    return e


def first(src, **kw):
    e = errors(src, **kw)
    d = e.errors[0]
    return d.message, d.loc.line, d.loc.col, str(e)


def test_report_format_has_location_source_line_caret_and_span():
    msg, line, col, text = first(".chip window=5000\n")
    assert msg == "window = 5000 is out of range 1..4096"
    assert (line, col) == (1, 14)
    assert text.splitlines()[:3] == [
        "t.spk:1:14: error: window = 5000 is out of range 1..4096",
        "    1 | .chip window=5000",
        "      |              ^~~~",
    ]
    assert text.endswith("1 error generated.")


@pytest.mark.parametrize("src, message", [
    (".tile 0 lif axons=300 neurons=4\n", "axons = 300 is out of range 1..256"),
    (".tile 0 lif axons=4 neurons=4 reset=3\n", "reset = 3 is out of range 0..1 (0=zero, 1=subtract)"),
    (".stdp 0 a_plus=256\n", "a_plus = 256 is out of range 0..255"),
    (".program\n    run 0\n", "run ticks = 0 is out of range 1..4294967295"),
    (".program\n    setw 0, 1, 2, 200\n", "setw value = 200 is out of range -127..127"),
    (".program\n    inject 0, 9, 0\n", "tile 0 has no axon 9 (axons 0..3)"),
    (".program\n    inject 0, 1, 16\n", "offset = 16 is outside the window 0..15"),
    (".spikes s\n    70000: 0.0\n", "dtick = 70000 is out of range 0..65535"),
    (".spikes s\n    0: 0.0@99\n", "offset = 99 is out of range 0..15 (the window is 16 cycles)"),
    (".loihi 0 vth_mant=200000\n", "vth_mant = 200000 is out of range 0..131071"),
])
def test_values_out_of_range_name_the_range(src, message):
    text = src if src.startswith(".tile") else HEAD + src
    assert first(text)[0] == message


@pytest.mark.parametrize("src, message", [
    (".tile 0 lfi axons=1 neurons=1\n", "unknown core type 'lfi' (did you mean 'lif'?)"),
    (".chip windw=3\n", "unknown chip field 'windw' (did you mean 'window'?)"),
    (".tile 0 lif axons=1 neurons=1 rest=zero\n", "unknown tile field 'rest' (did you mean 'reset'?)"),
    (".tile 0 lif axons=1 neurons=1 reset=subtrct\n", "unknown reset 'subtrct' (did you mean 'subtract'?)"),
    (".chp mesh_w=1\n", "unknown directive '.chp' (did you mean '.chip'?)"),
    (".const SIZE = 4\n.tile 0 lif axons=SIZ neurons=1\n", "unknown name 'SIZ' (did you mean 'SIZE'?)"),
    (".program\n    runn 3\n", "unknown instruction 'runn' (did you mean 'run'?)"),
    (".spikes stim\n    0: 0.0\n.program\n    play stm\n", "unknown spike block 'stm' (did you mean 'stim'?)"),
    (".program\nstart:\n    run 1\n    jmp strat\n", "unknown label 'strat' (did you mean 'start'?)"),
])
def test_unknown_names_suggest_the_nearest(src, message):
    text = src if src.startswith((".tile", ".chip", ".chp", ".const")) else HEAD + src
    assert first(text)[0].startswith(message)


@pytest.mark.parametrize("src, message", [
    ("    inject 0, 3\n", "'inject' takes 3 operands (tile, axon, offset), 2 given"),
    ("    run\n", "'run' takes 1 operand (ticks), 0 given"),
    ("    halt 1\n", "'halt' takes 0 operands, 1 given"),
    ("    loop 2\n    endloop 1\n", "'endloop' takes 0 operands, 1 given"),
    ("    setw (0, 0), 1, 2\n", "'setw' takes 4 operands (tile, axon, neuron, value), 3 given"),
])
def test_wrong_operand_counts(src, message):
    assert first(HEAD + ".program\n" + src)[0] == message


@pytest.mark.parametrize("src, message, first_line", [
    (".const A = 1\n.const A = 2\n", "duplicate constant 'A'", 1),
    (".chip mesh_w=1\n.chip mesh_w=1\n", "duplicate '.chip' (a program configures one chip)", 1),
    (".tile 0 lif axons=1 neurons=1\n.tile 0 lif axons=1 neurons=1\n", "duplicate '.tile 0'", 1),
    (".tile 0 lif axons=1 neurons=1\n.stdp 0\n.stdp 0\n", "duplicate '.stdp' for tile 0", 2),
    (".tile 0 lif axons=1 neurons=1\n.spikes s\n.spikes s\n", "duplicate spike block 's'", 2),
    (".program\na:\n  run 1\na:\n  halt\n", "duplicate label 'a'", 2),
    (".tile 0 lif axons=1 neurons=1 vth=3 vth=4\n", "field 'vth' is given twice", 1),
])
def test_duplicates_point_at_the_first_definition(src, message, first_line):
    e = errors(src)
    d = e.errors[0]
    assert d.message == message
    assert d.notes and d.notes[0][1].line == first_line
    assert "note: first" in str(e)


@pytest.mark.parametrize("src, message", [
    (".routes 0\n    0 -> 2.0\n", "tile 2 is off the 2x1 mesh (tiles 0..1)"),
    (".routes 0\n    0 -> (0, 1).0\n", "tile (0, 1) is off the 2x1 mesh (x 0..1, y 0..0)"),
    (".routes 0\n    0 -> 1.4\n", "tile 1 has no axon 4 (axons 0..3)"),
    (".routes 0\n    4 -> 1.0\n", "tile 0 has no neuron 4 (neurons 0..3)"),
    (".routes 0\n    0..3 -> 1.0..1\n", "one-to-one routes need as many axons as neurons"),
    (".tile 2 lif axons=1 neurons=1\n", "tile 2 is off the 2x1 mesh (tiles 0..1)"),
])
def test_routes_and_tiles_off_the_mesh(src, message):
    assert first(HEAD + src)[0].startswith(message)


def test_route_to_an_off_tile_is_an_error():
    src = ".chip mesh_w=2\n.tile 0 lif axons=1 neurons=1\n.routes 0\n    0 -> 1.0\n"
    assert first(src)[0] == "tile 1 is off: no '.tile 1' defines it"


def test_include_cycles_and_depth(tmp_path):
    (tmp_path / "a.spk").write_text('.include "b.spk"\n')
    (tmp_path / "b.spk").write_text('.include "a.spk"\n')
    with pytest.raises(AsmError) as ei:
        assemble(path=str(tmp_path / "a.spk"))
    assert "include cycle: a.spk -> b.spk -> a.spk" in ei.value.errors[0].message
    for i in range(20):
        (tmp_path / ("d%d.spk" % i)).write_text('.include "d%d.spk"\n' % (i + 1))
    (tmp_path / "d20.spk").write_text(".program\n    halt\n")
    with pytest.raises(AsmError) as ei:
        assemble(path=str(tmp_path / "d0.spk"))
    assert ei.value.errors[0].message == "includes are nested deeper than 16 files"
    # 16 levels are fine
    (tmp_path / "d16.spk").write_text(".program\n    halt\n")
    assert assemble(path=str(tmp_path / "d0.spk")).image


def test_missing_include_is_located(tmp_path):
    (tmp_path / "a.spk").write_text('\n.include "nope.spk"\n')
    with pytest.raises(AsmError) as ei:
        assemble(path=str(tmp_path / "a.spk"))
    d = ei.value.errors[0]
    assert d.message.startswith("cannot read 'nope.spk'") and d.loc.line == 2


def test_weight_files_unreadable_misshaped_or_not_integers(tmp_path):
    np.save(tmp_path / "w.npy", np.ones((3, 4), np.int64))
    np.save(tmp_path / "f.npy", np.full((4, 4), 0.5))
    (tmp_path / "bad.csv").write_text("1,2\n3\n")
    (tmp_path / "junk.npy").write_bytes(b"\x93NUMPY garbage")
    cases = {
        'load "missing.npy"': "cannot read weight file 'missing.npy'",
        'load "w.npy"': "weight file 'w.npy' has shape (3, 4), expected (4, 4) (axons 0..3 x neurons 0..3)",
        'load "f.npy"': "weight file 'f.npy' holds non-integer values",
        'load "bad.csv"': "cannot read weight file 'bad.csv'",
        'load "junk.npy"': "cannot read weight file 'junk.npy'",
        'load "w.txt"': "unknown weight file type '.txt': use .npy or .csv",
    }
    for line, message in cases.items():
        src = HEAD + ".weights 0\n    %s\n" % line
        msg = first(src, base_dir=str(tmp_path))[0]
        assert msg.startswith(message), (line, msg)
    # the region form checks the region's shape
    src = HEAD + '.weights 0\n    load "w.npy" axons=0..2\n'
    assert assemble_text(src, base_dir=str(tmp_path))


def test_tdmac_t_in_must_be_below_the_window():
    msg, line, col, text = first(".chip window=8\n.tile 0 tdmac axons=1 neurons=1 t_in=8\n")
    assert msg.startswith("t_in = 8 must be below the window (8 cycles)")
    assert (line, col) == (2, 33) and "note: window set here" in text
    msg = first(".chip window=4\n.tile 0 tdmac axons=1 neurons=1\n")[0]
    assert msg.startswith("t_in = 8 (the default) must be below the window (4 cycles)")


def test_stdp_on_a_tdmac_tile_is_an_error():
    msg, line, _, text = first(HEAD + ".stdp 1 enabled=on\n")
    assert msg == "STDP needs a lif tile; tile 1 is tdmac (learning acts on LIF tiles only)"
    assert "note: defined here" in text


def test_loop_structure_errors():
    assert first(HEAD + ".program\n    loop 2\n    run 1\n")[0] == \
        "loop is never closed: add 'endloop' after its body"
    assert first(HEAD + ".program\n    endloop\n")[0] == "'endloop' without a matching 'loop'"
    deep = ".program\n" + "    loop 2\n" * 9 + "    run 1\n" + "    endloop\n" * 9
    assert first(HEAD + deep)[0] == "loops are nested deeper than 8"


def test_label_at_the_end_cannot_be_a_jump_target():
    assert first(HEAD + ".program\n    jmp end\nend:\n")[0].startswith(
        "label 'end' is at the end of the program")


@pytest.mark.parametrize("src, message", [
    (".const X = 1 / 0\n", "division by zero"),
    (".const X = 1 << 65\n", "shift count 65 is out of range 0..64"),
    (".const X = 0xFFFFFFFF * 0xFFFFFFFF * 4\n", "value is too large (beyond +-2^64)"),
    (".const X = " + "9" * 50 + "\n", "number literal is too long (50 characters)"),
    (".const X = 12ab\n", "invalid number literal '12ab'"),
    (".const X = " + "(" * 100 + "1" + ")" * 100 + "\n", "expression is nested too deeply"),
    (".const X = Y\n.const Y = 1\n", "constant 'Y' is used before its definition"),
    (".const all = 1\n", "'all' is a reserved word and cannot name a constant"),
    (".name \"abc\n", "unterminated string"),
    (".name \"a\\q\"\n", "unknown escape '\\q' in string"),
    (".chip seed=1 $\n", "unexpected character '$'"),
    ("run 1\n", "this line is outside any section"),
    (".chip mesh_w=(1\n", "expected ')' to close the parenthesis, found end of line"),
])
def test_syntax_and_expression_errors(src, message):
    assert first(src)[0].startswith(message)


def test_not_utf8_is_located():
    with pytest.raises(AsmError) as ei:
        assemble_text(b".chip\n.name \"\xff\"\n", filename="t.spk")
    d = ei.value.errors[0]
    assert d.message == "'t.spk' is not UTF-8 text (byte 0xff)" and (d.loc.line, d.loc.col) == (2, 8)


def test_several_errors_are_reported_up_to_a_limit():
    src = ".program\n" + "    runn 1\n" * 5
    assert len(errors(src).errors) == 5
    src = ".program\n" + "    runn 1\n" * 50
    e = errors(src)
    assert len(e.errors) == 20 and "too many errors (20), stopping" in str(e)


def test_errors_come_in_source_order_across_phases():
    src = ".program\n    runn 1\n.chip window=0\n"
    assert [d.loc.line for d in errors(src).errors] == [2, 3]


def test_a_broken_tile_does_not_cascade():
    src = ".tile 0 lfi axons=1 neurons=1\n.weights 0\n    fill 1\n.probe 0.0\n"
    assert len(errors(src).errors) == 1


def test_image_validation_errors_come_out_located(monkeypatch):
    """A check only image.validate makes still ends in a located diagnostic."""
    from emulator import image

    real = image.validate

    def stricter(prog):
        real(prog)
        raise image.ImageError("tile 1: something only the image codec checks")
    monkeypatch.setattr(image, "validate", stricter)
    msg, line, col, _ = first(HEAD)
    assert msg == "invalid program: tile 1: something only the image codec checks"
    assert (line, col) == (3, 1)


# ---------------------------------------------------------------------- warnings
def warnings_of(src, **kw):
    return [d.message for d in assemble(src, filename="t.spk", **kw).warnings]


def test_warnings_for_suspicious_but_legal_input():
    src = HEAD.replace("fill 1\n.weights 1", "fill 200\n.weights 1") + """
.const UNUSED = 3
.routes 0
    0 -> 1.0
.spikes never
.program
lonely:
    setw 0, 0, 0, 100
    halt
    run 1
"""
    src = src.replace(".tile 1 tdmac axons=4 neurons=2 t_in=8", ".tile 1 tdmac axons=4 neurons=2 t_in=8 wbits=4")
    src = src.replace(".weights 1\n    fill 1\n", ".weights 1\n    fill 0\n")
    w = warnings_of(src)
    assert "16 weights clipped to -127..127 (wbits=8), e.g. 200 -> 127" in w
    assert "constant 'UNUSED' is never used" in w
    assert "label 'lonely' is never used" in w
    assert "spike block 'never' is never played" in w
    assert "instruction is unreachable (it follows 'halt' and has no label)" in w
    assert "route to axon 0 of tile 1, whose weights are all zero: spikes sent there have no effect" in w


def test_werror_turns_warnings_into_errors():
    src = ".const UNUSED = 1\n"
    assert assemble_text(src)
    with pytest.raises(AsmError) as ei:
        assemble_text(src, werror=True)
    assert ei.value.errors[0].message == "constant 'UNUSED' is never used [--werror]"
