"""Shrink board-side Python source before it is sent to a board.

The micro:bit compiles what it receives in ~9.5 KB of heap, so every byte of source
counts; the files in ``firmware/`` stay readable (comments, docstrings, 4-space indents)
and are minified at upload time:

* comments, blank lines and docstrings are removed (a body left empty gets ``pass``);
* indentation becomes one space per level;
* a logical line is put on one physical line, with spaces only where tokens would
  otherwise merge.

Names are not renamed and no code is rewritten, so the AST of the result equals the AST
of the input with its docstrings removed (the tests check this).

:func:`fold_consts` goes one step further for files bound for a board: it does by hand
what MicroPython's compiler does with ``_NAME = const(N)``: the definitions go and every
use becomes the number (and the ``try: from micropython import const`` preamble goes
when nothing uses ``const`` any more). The compiled code is the same; the file is
~15-25% smaller, which matters because the micro:bit reads a whole module into one
block of its heap before compiling it.
"""

from __future__ import annotations

import ast
import io
import tokenize
from typing import Dict, List, Optional, Tuple

__all__ = ["minify", "fold_consts"]

_WORD = set("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


def _needs_space(prev: tokenize.TokenInfo, tok: tokenize.TokenInfo) -> bool:
    """Would ``prev`` and ``tok`` written without a space change the token stream?"""
    a, b = prev.string, tok.string
    if a[-1] in _WORD and b[0] in _WORD:
        return True
    # ``1 .real``: a number followed by a dot would read as a float literal.
    if prev.type == tokenize.NUMBER and b[0] == ".":
        return True
    # A name or number right before a string literal: keep them apart (b'', r'' prefixes).
    if tok.type == tokenize.STRING and prev.type in (tokenize.NAME, tokenize.NUMBER):
        return True
    if prev.type == tokenize.STRING and tok.type in (tokenize.NAME, tokenize.NUMBER):
        return True
    return False


def _is_docstring_line(line: List[tokenize.TokenInfo]) -> bool:
    return bool(line) and all(t.type == tokenize.STRING for t in line)


def minify(source: str) -> str:
    """Return ``source`` without comments, docstrings or needless whitespace.

    Raises :class:`SyntaxError` (from :mod:`tokenize`) on source that does not tokenize.
    """
    out: List[str] = []
    depth = 0
    line: List[tokenize.TokenInfo] = []
    # True when the next logical line is the first statement of a module/def/class
    # body, i.e. where a docstring may stand.
    expect_doc = True
    opens_body = False   # the current block was opened by a def/class header
    pass_depth = -1      # a docstring was dropped at this depth; body may need 'pass'

    def emit(tokens: List[tokenize.TokenInfo]) -> None:
        nonlocal pass_depth
        if pass_depth > depth:
            out.append(" " * pass_depth + "pass")
        pass_depth = -1
        text = tokens[0].string
        for prev, tok in zip(tokens, tokens[1:]):
            if _needs_space(prev, tok):
                text += " "
            text += tok.string
        out.append(" " * depth + text)

    try:
        tokens = list(tokenize.generate_tokens(io.StringIO(source).readline))
    except tokenize.TokenError as exc:
        raise SyntaxError("cannot tokenize: %s" % (exc,)) from exc

    for tok in tokens:
        kind = tok.type
        if kind in (tokenize.COMMENT, tokenize.NL, tokenize.ENCODING):
            continue
        if kind == tokenize.INDENT:
            depth += 1
            expect_doc = opens_body
            continue
        if kind == tokenize.DEDENT:
            depth -= 1
            continue
        if kind == tokenize.NEWLINE:
            if not line:
                continue
            if expect_doc and _is_docstring_line(line):
                pass_depth = depth
            else:
                emit(line)
            first = line[0].string
            if first == "@":
                first = ""
            opens_body = first in ("def", "class") or (
                first == "async" and len(line) > 1 and line[1].string == "def"
            )
            expect_doc = False
            line = []
            continue
        if kind == tokenize.ENDMARKER:
            break
        line.append(tok)
    if line:  # source without a final newline
        if not (expect_doc and _is_docstring_line(line)):
            emit(line)
    if pass_depth > 0:
        out.append(" " * pass_depth + "pass")
    text = "\n".join(out)
    return text + "\n" if text else ""


def _foldable(tree: ast.Module) -> Dict[str, int]:
    """``_NAME = const(<int literal>)`` at module level, assigned nowhere else."""
    stores: Dict[str, int] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Name) and isinstance(node.ctx, ast.Store):
            stores[node.id] = stores.get(node.id, 0) + 1
        elif isinstance(node, (ast.Global, ast.Nonlocal)):
            for name in node.names:
                stores[name] = stores.get(name, 0) + 2
    out: Dict[str, int] = {}
    for node in tree.body:
        if not (isinstance(node, ast.Assign) and len(node.targets) == 1
                and isinstance(node.targets[0], ast.Name) and node.targets[0].id.startswith("_")
                and isinstance(node.value, ast.Call) and isinstance(node.value.func, ast.Name)
                and node.value.func.id == "const" and len(node.value.args) == 1
                and not node.value.keywords):
            continue
        try:
            value = ast.literal_eval(node.value.args[0])
        except ValueError:
            continue
        name = node.targets[0].id
        if isinstance(value, int) and not isinstance(value, bool) and stores.get(name) == 1:
            out[name] = value
    return out


def _const_preamble(tree: ast.Module) -> Optional[ast.Try]:
    """The ``try: from micropython import const / except ImportError: def const`` block."""
    for node in tree.body:
        if (isinstance(node, ast.Try) and len(node.body) == 1 and isinstance(node.body[0], ast.ImportFrom)
                and node.body[0].module == "micropython"
                and [a.name for a in node.body[0].names] == ["const"]):
            return node
    return None


def fold_consts(source: str) -> str:
    """``minify(source)`` with its ``_NAME = const(N)`` constants folded into their uses
    (see the module docstring). Raises SyntaxError on source that does not parse."""
    small = minify(source)
    tree = ast.parse(small)
    consts = _foldable(tree)
    if not consts:
        return small
    drop = set()
    for node in tree.body:
        if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Name) \
                and node.targets[0].id in consts:
            drop.update(range(node.lineno, node.end_lineno + 1))
    lines = small.split("\n")
    edits: Dict[int, List[Tuple[int, int, str]]] = {}  # line -> (start col, end col, text)
    prev = ""
    for tok in tokenize.generate_tokens(io.StringIO(small).readline):
        if tok.type == tokenize.NAME and tok.string in consts and prev != "." \
                and tok.start[0] not in drop:
            value = consts[tok.string]
            text = "(%d)" % value if value < 0 else str(value)
            edits.setdefault(tok.start[0], []).append((tok.start[1], tok.end[1], text))
        if tok.type not in (tokenize.NL, tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
            prev = tok.string
    out = []
    for number, line in enumerate(lines, 1):
        if number in drop:
            continue
        for start, end, text in sorted(edits.get(number, ()), reverse=True):
            line = line[:start] + text + line[end:]
        out.append(line)
    folded = "\n".join(out)
    tree = ast.parse(folded)
    pre = _const_preamble(tree)
    uses = [n for n in ast.walk(tree) if isinstance(n, ast.Name) and n.id == "const"]
    if pre is not None and not [n for n in uses if not (pre.lineno <= n.lineno <= pre.end_lineno)]:
        lines = folded.split("\n")
        folded = "\n".join(lines[:pre.lineno - 1] + lines[pre.end_lineno:])
    return folded


def _main() -> None:  # pragma: no cover - convenience for measuring sizes by hand
    import sys

    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as handle:
            src = handle.read()
        small = minify(src)
        print("%s: %d -> %d bytes" % (path, len(src), len(small)))


if __name__ == "__main__":  # pragma: no cover
    _main()

