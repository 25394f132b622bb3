"""Minifier: same program (AST) minus docstrings, and smaller."""

import ast
import glob
import os

import pytest

from hil.minify import minify

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
CORPUS = sorted(
    glob.glob(os.path.join(ROOT, "firmware", "*.py"))
    + glob.glob(os.path.join(ROOT, "hil", "*.py"))
    + glob.glob(os.path.join(ROOT, "tests", "hil", "*.py"))
)


def strip_docstrings(tree):
    for node in ast.walk(tree):
        if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            body = node.body
            if body and isinstance(body[0], ast.Expr) and isinstance(body[0].value, ast.Constant) \
                    and isinstance(body[0].value.value, str):
                body.pop(0)
                if not body and not isinstance(node, ast.Module):
                    body.append(ast.Pass())
    return ast.dump(tree)


@pytest.mark.parametrize("path", CORPUS, ids=lambda p: os.path.relpath(p, ROOT))
def test_minified_file_is_the_same_program(path):
    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    small = minify(source)
    assert strip_docstrings(ast.parse(source)) == strip_docstrings(ast.parse(small))
    assert len(small) <= len(source)


def test_comments_docstrings_and_indentation_go():
    source = '''"""Module doc."""
# a comment
def f(a,   b):  # trailing
    """Function doc."""

    return (a +
            b)


class C:
    """Only a docstring."""
'''
    assert minify(source) == "def f(a,b):\n return(a+b)\nclass C:\n pass\n"


def test_tokens_that_would_merge_keep_a_space():
    source = "x = 1 if y else -2\nz = b'a' + rb'b'\nw = 1 .real\nv = not x\n"
    small = minify(source)
    assert ast.dump(ast.parse(small)) == ast.dump(ast.parse(source))
    assert "1 if y else-2" in small
    assert "1 .real" in small


def test_strings_inside_blocks_that_are_not_docstrings_stay():
    source = "if x:\n    'kept'\n"
    assert "'kept'" in minify(source)


def test_dispatcher_is_small():
    with open(os.path.join(ROOT, "firmware", "rpc.py"), encoding="utf-8") as handle:
        text = handle.read()
    core = minify(text[: text.index("# ON-DEMAND")])
    assert len(core) < 700, "the resident dispatcher grew to %d bytes" % len(core)


class _Fold(ast.NodeTransformer):
    """What MicroPython's compiler does with ``_X = const(N)``: drop it, use N."""

    def __init__(self, consts):
        self.consts = consts

    def visit_Name(self, node):
        if isinstance(node.ctx, ast.Load) and node.id in self.consts:
            return ast.copy_location(ast.Constant(self.consts[node.id]), node)
        return node


def fold_by_ast(source):
    tree = ast.parse(source)
    consts = {}
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id.startswith("_") and isinstance(node.value, ast.Call) \
                and getattr(node.value.func, "id", None) == "const":
            consts[node.targets[0].id] = ast.literal_eval(node.value.args[0])
    tree.body = [n for n in tree.body if not (isinstance(n, ast.Assign) and isinstance(n.targets[0], ast.Name)
                                              and n.targets[0].id in consts)]
    tree = _Fold(consts).visit(tree)
    if consts and not [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "const"
                       and isinstance(n.ctx, ast.Load)]:
        # the preamble defines const; nothing uses it any more: it goes too
        tree.body = [n for n in tree.body if not (isinstance(n, ast.Try) and isinstance(n.body[0], ast.ImportFrom)
                                                  and n.body[0].module == "micropython")]
    return strip_docstrings(ast.parse(ast.unparse(tree)))


FIRMWARE = sorted(glob.glob(os.path.join(ROOT, "firmware", "nt_*.py")))


@pytest.mark.parametrize("path", FIRMWARE, ids=os.path.basename)
def test_folded_constants_are_the_program_micropython_compiles(path):
    from hil.minify import fold_consts

    with open(path, encoding="utf-8") as handle:
        source = handle.read()
    folded = fold_consts(source)
    assert strip_docstrings(ast.parse(folded)) == fold_by_ast(source)
    assert len(folded) <= len(minify(source))
    assert "const(" not in folded or "_" not in source  # every firmware constant folded


def test_folding_leaves_attributes_strings_and_other_names_alone():
    from hil.minify import fold_consts

    src = ("try:\n    from micropython import const\nexcept ImportError:\n    def const(x):\n        return x\n"
           "_A = const(3)\n_B = const(-2)\nKEEP = const(5)\n"
           "def f(t):\n    return t._A + _A * _B + KEEP, '_A', _AB\n")
    out = fold_consts(src)
    assert "t._A+3*(-2)+KEEP,'_A',_AB" in out.replace(" ", "")
    assert "from micropython import const" in out  # KEEP still uses it
    ns = {}
    exec(out, ns)
    exec(src, ns2 := {})
    t = type("T", (), {"_A": 10})()
    ns["_AB"] = ns2["_AB"] = 1
    assert ns["f"](t) == ns2["f"](t)
