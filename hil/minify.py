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
"""

from __future__ import annotations

import io
import tokenize
from typing import List

__all__ = ["minify"]

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


def _main() -> None:  # pragma: no cover - convenience for measuring sizes by hand
    import sys

    for path in sys.argv[1:]:
        with open(path, encoding="utf-8") as handle:
            src = handle.read()
        small = minify(src)
        print("%s: %d -> %d bytes" % (path, len(src), len(small)))


if __name__ == "__main__":  # pragma: no cover
    _main()

