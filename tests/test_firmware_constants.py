"""The firmware spells isa constants as ``_NAME = const(value)``: check them against the table.

Also rejects what MicroPython 1.9.2 cannot run, and record fields or opcodes written
as bare number literals instead of declared constants.
"""

import ast
import dataclasses
import pathlib

import pytest

import firmware
from emulator import isa

FW = pathlib.Path(firmware.__file__).parent
# Families whose members must come from the table (a typo'd name is drift too).
FAMILIES = ("OP_", "OPFMT_", "CORE_", "FEAT_", "SEC_", "TILE_", "STDP_", "CHIP_", "STREAM_",
            "PORT_", "RESET_", "CHARGE_", "ROUTER_", "RNG_", "HASH_", "STATE_", "ELIG_")
RECORD_TUPLES = {"p", "sp", "ch"}        # names holding unpacked TILE/STDP/CHIP records
CODE_NAMES = {"op", "core", "mode"}      # compared with opcode / enum values
ALLOWED_IMPORTS = {"struct", "array", "gc", "micropython"}


def _value(node):
    if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "const":
        node = node.args[0]
    return ast.literal_eval(node)


def check_source(src: str, filename: str, exported: dict) -> list:
    """Problems found in one firmware source, as readable strings."""
    problems = []
    tree = ast.parse(src, filename)
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name)):
            continue
        name = node.targets[0].id
        bare = name[1:] if name.startswith("_") else name
        try:
            value = _value(node.value)
        except ValueError:
            continue
        if bare in exported:
            if value != exported[bare]:
                problems.append("%s: %s = %r, isa says %r" % (filename, name, value, exported[bare]))
        elif bare.startswith(FAMILIES):
            problems.append("%s: %s is not a constant of emulator.isa" % (filename, name))
    for node in ast.walk(tree):
        if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant) \
                and isinstance(node.slice.value, int):
            base = node.value
            ident = base.id if isinstance(base, ast.Name) else getattr(base, "attr", None)
            if ident in RECORD_TUPLES:
                problems.append("%s:%d: record field %s[%d] by number, use a _TILE_/_STDP_ constant"
                                % (filename, node.lineno, ident, node.slice.value))
        if isinstance(node, ast.Compare):
            sides = [node.left] + node.comparators
            idents = {s.id if isinstance(s, ast.Name) else getattr(s, "attr", None) for s in sides}
            lits = [s for s in sides if isinstance(s, ast.Constant) and isinstance(s.value, int)
                    and not isinstance(s.value, bool)]
            if idents & CODE_NAMES and lits:
                problems.append("%s:%d: compares %s with the literal %d, use an _OP_/_CORE_ constant"
                                % (filename, node.lineno, "/".join(sorted(idents & CODE_NAMES)), lits[0].value))
    return problems


def check_firmware(exported=None) -> list:
    exported = isa.exported_constants() if exported is None else exported
    problems = []
    for path in sorted(FW.glob("*.py")):
        problems += check_source(path.read_text(), path.name, exported)
    return problems


def subset_problems(src: str, filename: str) -> list:
    """Constructs MicroPython 1.9.2 lacks (see /work/shared/HIL-NOTES.md)."""
    out = []
    for node in ast.walk(ast.parse(src, filename)):
        where = "%s:%d" % (filename, getattr(node, "lineno", 0))
        if isinstance(node, ast.JoinedStr):
            out.append(where + ": f-string")
        elif isinstance(node, ast.NamedExpr):
            out.append(where + ": walrus")
        elif isinstance(node, ast.AnnAssign) or (isinstance(node, ast.arg) and node.annotation):
            out.append(where + ": annotation")
        elif isinstance(node, (ast.FunctionDef, ast.ClassDef)) and node.decorator_list:
            out.append(where + ": decorator")
        elif isinstance(node, ast.Slice) and node.step is not None:
            out.append(where + ": step slice")
        elif isinstance(node, ast.BinOp) and isinstance(node.op, ast.Div):
            out.append(where + ": true division")
        elif isinstance(node, ast.Constant) and isinstance(node.value, float):
            out.append(where + ": float literal")
        elif isinstance(node, ast.Attribute) and node.attr in ("hex", "fromhex", "encode", "format_map"):
            out.append(where + ": ." + node.attr)
        elif isinstance(node, ast.Name) and node.id in ("memoryview", "float"):
            out.append(where + ": " + node.id)
        elif isinstance(node, (ast.Import, ast.ImportFrom)):
            mods = [a.name for a in node.names] if isinstance(node, ast.Import) else [node.module]
            for m in mods:
                if m not in ALLOWED_IMPORTS and not m.startswith("nt_"):
                    out.append(where + ": imports " + m)
    return out


def test_every_firmware_constant_matches_the_table():
    assert check_firmware() == []


def test_firmware_declares_its_constants_at_all():
    # guard against a checker that silently finds nothing
    names = set()
    for path in FW.glob("nt_*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name):
                names.add(node.targets[0].id.lstrip("_"))
    exported = isa.exported_constants()
    for must in ("OP_RUN", "OP_SETW", "OPFMT_INJECT", "CORE_TDMAC", "FEAT_ROUTER", "TILE_VTH",
                 "STDP_A_PLUS", "STATE_MAX", "RNG_MUL1", "HASH_MOD", "SEC_PROGRAM"):
        assert must in names and must in exported


def test_a_moved_opcode_is_reported_as_drift(monkeypatch):
    moved = tuple(dataclasses.replace(i, opcode=0x42) if i.mnemonic == "setw" else i
                  for i in isa.INSTRUCTIONS)
    monkeypatch.setattr(isa, "INSTRUCTIONS", moved)
    problems = check_firmware()
    assert any("_OP_SETW = 5, isa says 66" in p for p in problems), problems


def test_a_changed_record_layout_is_reported(monkeypatch):
    exported = dict(isa.exported_constants(), TILE_VTH=5, TILE_FMT="<B")
    problems = check_firmware(exported)
    assert any("_TILE_VTH" in p for p in problems) and any("TILE_FMT" in p for p in problems)


def test_bare_opcode_and_field_literals_are_refused():
    src = "def f(op, p, t):\n    if op == 5:\n        return p[4] + t.p[13]\n    return t.core == 2\n"
    problems = check_source(src, "bad.py", isa.exported_constants())
    assert len(problems) == 4, problems
    assert check_source("_OP_WARP = const(3)\n", "bad.py", isa.exported_constants())


@pytest.mark.parametrize("path", sorted(FW.glob("nt_*.py")), ids=lambda p: p.name)
def test_firmware_stays_in_the_micropython_subset(path):
    assert subset_problems(path.read_text(), path.name) == []


def test_the_subset_checker_catches_what_it_should():
    src = "import os\nx = f'{1}'\ny = 1 / 2\nz = b[::2]\nw = 1.5\n"
    assert len(subset_problems(src, "bad.py")) == 5
