"""The one table refuses contradictions, and everything derived from it follows it."""

import struct

import pytest

from emulator import image, isa


def test_opcodes_and_mnemonics_are_unique_and_operands_fit_their_encoding():
    isa._check_tables()
    assert len({i.opcode for i in isa.INSTRUCTIONS}) == len(isa.INSTRUCTIONS)


def test_a_contradictory_table_is_refused(monkeypatch):
    dup = isa.Instr("dup", isa.INSTRUCTIONS[1].opcode)
    monkeypatch.setattr(isa, "INSTRUCTIONS", isa.INSTRUCTIONS + (dup,))
    monkeypatch.setattr(isa, "BY_MNEMONIC", {i.mnemonic: i for i in isa.INSTRUCTIONS})
    monkeypatch.setattr(isa, "BY_OPCODE", {i.opcode: i for i in isa.INSTRUCTIONS})
    with pytest.raises(AssertionError, match="duplicate opcode"):
        isa._check_tables()


def test_record_defaults_lie_in_their_ranges_and_pack():
    for rec in (isa.CHIP, isa.TILE, isa.STDP):
        d = rec.defaults()
        assert rec.unpack(rec.pack(d)) == d
        assert len(rec.pack(d)) == rec.size == struct.calcsize(rec.fmt)


def test_image_codec_follows_the_table_when_an_opcode_moves(monkeypatch):
    """Change an opcode in the table: the encoder writes the new byte, the decoder reads it."""
    run = isa.BY_MNEMONIC["run"]
    moved = isa.Instr(run.mnemonic, 0x7E, run.operands, run.doc)
    table = tuple(moved if i is run else i for i in isa.INSTRUCTIONS)
    monkeypatch.setattr(isa, "INSTRUCTIONS", table)
    monkeypatch.setattr(isa, "BY_MNEMONIC", {i.mnemonic: i for i in table})
    monkeypatch.setattr(isa, "BY_OPCODE", {i.opcode: i for i in table})
    code = image.encode_code([("run", (5,))])
    assert code[0] == 0x7E
    assert image._decode_code(code) == [("run", (5,))]


def test_exported_constants_cover_every_opcode_and_record_field():
    c = isa.exported_constants()
    for ins in isa.INSTRUCTIONS:
        assert c["OP_" + ins.mnemonic.upper()] == ins.opcode
    for rec in (isa.CHIP, isa.TILE, isa.STDP):
        assert c[rec.name.upper() + "_FMT"] == rec.fmt
        for i, f in enumerate(rec.fields):
            assert c["%s_%s" % (rec.name.upper(), f.name.upper())] == i
