"""MicroPython 1.9.2 subset checker: every firmware file passes, every rule bites."""

import glob
import os

import pytest

from hil.subset import check_micropython_subset, check_source

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
FIRMWARE = sorted(
    p for p in glob.glob(os.path.join(ROOT, "firmware", "*.py"))
    if os.path.basename(p) != "__init__.py"  # host-side package glue, never sent to a board
)


def test_there_is_firmware_to_check():
    assert any(p.endswith("rpc.py") for p in FIRMWARE)


@pytest.mark.parametrize("path", FIRMWARE, ids=os.path.basename)
def test_firmware_file_is_in_the_micropython_subset(path):
    problems = check_micropython_subset(path)
    assert problems == [], "\n".join(problems)


BAD = {
    "f-string": "x = f'{y}'\n",
    "walrus": "if (n := 3):\n    pass\n",
    "variable annotation": "x: int = 3\n",
    "function annotations": "def f(a: int) -> int:\n    return a\n",
    "positional-only": "def f(a, /, b):\n    return a\n",
    "async def": "async def f():\n    pass\n",
    "match statement": "match x:\n    case 1:\n        pass\n",
    "step slice": "y = x[::2]\n",
    "slice assignment": "x[1:3] = b'ab'\n",
    "@property": "class C:\n    @property\n    def v(self):\n        return 1\n",
    "micropython.native": "import micropython\n@micropython.native\ndef f():\n    pass\n",
    "bytes.hex()": "s = b.hex()\n",
    "fromhex": "b = bytes.fromhex('00')\n",
    "str.encode()": "b = s.encode()\n",
    "bytes.decode()": "s = b.decode()\n",
    "memoryview": "m = memoryview(b)\n",
    "rpartition": "a, _, b = s.rpartition('.')\n",
    "bit_length": "n = x.bit_length()\n",
    "3-argument pow": "y = pow(2, 5, 7)\n",
    "type(x).__name__": "n = type(e).__name__\n",
    "__class__": "c = x.__class__\n",
    "keyword arguments": "n = int.from_bytes(b, 'little', signed=True)\n",
    "import json": "import json\n",
    "relative import": "from . import x\n",
    "__future__": "from __future__ import annotations\n",
    "float literal": "x = 0.5\n",
    "true division": "x = a / b\n",
    "'/='": "x /= 2\n",
}


@pytest.mark.parametrize("rule", sorted(BAD))
def test_each_rule_reports_its_construct(rule):
    problems = check_source(BAD[rule], "t.py")
    assert problems, "no violation found for %s" % rule
    assert any(rule.lower() in p.lower() for p in problems), problems
    assert problems[0].startswith("t.py:")


def test_portable_code_passes():
    good = """
import gc
import struct
from micropython import const
try:
    import microbit
except ImportError:
    microbit = None
import nt_other
N = const(3)
def f(a, *, b=2):
    x = a // b
    y = '%d' % x + '{}'.format(x)
    z = int.from_bytes(bytes(s, 'utf-8'), 'little', True)
    return [i for i in range(N)], x << 2, str(b, 'utf-8'), z, a[1:3], hex(x), f.__name__
"""
    assert check_source(good, "g.py", {"nt_other"}) == []


def test_allow_pragma_silences_one_line():
    assert check_source("x = a / b  # subset: allow (host-only report)\n") == []


def test_syntax_error_is_reported_not_raised():
    problems = check_source("def (:\n", "broken.py")
    assert len(problems) == 1 and "syntax error" in problems[0]


def test_sibling_files_are_importable(tmp_path):
    (tmp_path / "nt_a.py").write_text("import nt_b\n")
    (tmp_path / "nt_b.py").write_text("X = 1\n")
    assert check_micropython_subset(str(tmp_path / "nt_a.py")) == []
    (tmp_path / "nt_c.py").write_text("import nt_missing\n")
    assert check_micropython_subset(str(tmp_path / "nt_c.py"))
