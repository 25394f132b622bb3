"""docs/SPEC.md carries the tables generated from emulator/isa.py, unchanged."""

import os
import re

from emulator import isa

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def test_spec_tables_match_the_isa_table():
    text = open(os.path.join(ROOT, "docs", "SPEC.md"), encoding="utf-8").read()
    m = re.search(r"<!-- BEGIN GENERATED TABLES[^\n]*-->\n(.*?)<!-- END GENERATED TABLES -->", text, re.S)
    assert m, "generated-table markers missing from docs/SPEC.md"
    assert m.group(1) == isa.markdown_tables(), (
        "docs/SPEC.md is stale: replace the text between the markers with "
        "`python -m emulator.isa --markdown`")


def test_spec_section_17_documents_every_directive_and_instruction():
    text = open(os.path.join(ROOT, "docs", "SPEC.md"), encoding="utf-8").read()
    s17 = text[text.index("## 17. Assembly language"):text.index("## 18.")]
    from emulator.asm.assembler import PHASES
    for d in list(PHASES) + ["include"]:
        assert "." + d in s17, d
    for ins in isa.INSTRUCTIONS:
        assert re.search(r"^\s+%s\b" % ins.mnemonic, s17, re.M), ins.mnemonic


def test_spec_complete_example_assembles():
    from emulator.asm import assemble_text
    text = open(os.path.join(ROOT, "docs", "SPEC.md"), encoding="utf-8").read()
    s = text[text.index("### 17.14"):]
    example = re.search(r"```\n(.*?)```", s, re.S).group(1)
    assert assemble_text(example)
