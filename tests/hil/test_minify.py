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
