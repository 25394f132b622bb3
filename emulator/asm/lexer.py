"""Tokens of one `.spk` source line.

The language is line based, so the lexer works on one line at a time and never
sees a newline. Tokens: integers (decimal, ``0x`` hex, ``0b`` binary, ``0o``
octal, ``_`` separators), names, double-quoted strings (with ``\\n \\t \\r \\0
\\\\ \\" \\xHH \\uHHHH \\UHHHHHHHH`` escapes) and punctuation. ``;`` and ``#``
start a comment that runs to the end of the line. There are no floats.
"""

from __future__ import annotations

import re

from emulator.asm.diagnostics import Loc

INT, NAME, STRING, OP, END = "int", "name", "string", "op", "end"

MAX_LITERAL_DIGITS = 40    # no legal value needs more; also keeps int() cheap


class Token:
    """One token: ``kind``, its source ``text``, its ``value`` (int for INT, str
    otherwise) and its ``loc``. A plain slotted class: the lexer makes many."""

    __slots__ = ("kind", "text", "value", "loc")

    def __init__(self, kind: str, text: str, value, loc: Loc):
        self.kind = kind
        self.text = text
        self.value = value
        self.loc = loc

    def __repr__(self) -> str:
        return "Token(%s, %r)" % (self.kind, self.text)

    def is_op(self, *ops) -> bool:
        return self.kind == OP and self.value in ops

    def is_name(self, *names) -> bool:
        return self.kind == NAME and (not names or self.value in names)


class LexError(Exception):
    def __init__(self, loc: Loc, message: str):
        super().__init__(message)
        self.loc = loc
        self.message = message


def parse_int_literal(text: str):
    """The value of an integer literal, or None if it is malformed."""
    t = text.lower()
    base = 10
    if t.startswith(("0x", "0b", "0o")):
        base = {"x": 16, "b": 2, "o": 8}[t[1]]
        t = t[2:]
    if not t or t.startswith("_") or t.endswith("_") or "__" in t:
        return None
    digits = "0123456789abcdef"[:base]
    if any(c not in digits and c != "_" for c in t):
        return None
    return int(t.replace("_", ""), base)


_ESCAPES = {"n": "\n", "t": "\t", "r": "\r", "0": "\0", "\\": "\\", '"': '"'}


_TOKEN = re.compile(r"""
    (?P<ws>[ \t\r\f\v]+)
  | (?P<comment>[;\#].*)
  | (?P<num>[0-9][0-9A-Za-z_]*)
  | (?P<name>[A-Za-z_][A-Za-z0-9_]*)
  | (?P<op>->\*|\.\.|//|<<|>>|->|[(),:=+\-*/%&|^~.@])
  | (?P<str>")
""", re.X | re.S)


def tokenize(text: str, source, lineno: int) -> list:
    """Tokens of one line, ending with an END token; raises LexError."""
    toks = []
    i = 0
    n = len(text)
    match = _TOKEN.match
    while i < n:
        m = match(text, i)
        if m is None:
            c = text[i]
            shown = c if c.isprintable() else "\\x%02x" % ord(c) if ord(c) < 256 else "U+%04X" % ord(c)
            raise LexError(Loc(source, lineno, i + 1), "unexpected character %s" % (
                "'%s'" % shown if shown != "'" else '"\'"'))
        kind = m.lastgroup
        start, i = m.start(), m.end()
        if kind == "ws":
            continue
        if kind == "comment":
            break
        loc = Loc(source, lineno, start + 1, i - start)
        lit = m.group()
        if kind == "num":
            if len(lit) > MAX_LITERAL_DIGITS:
                raise LexError(loc, "number literal is too long (%d characters)" % len(lit))
            value = parse_int_literal(lit)
            if value is None:
                raise LexError(loc, "invalid number literal '%s'" % lit)
            toks.append(Token(INT, lit, value, loc))
        elif kind == "name":
            toks.append(Token(NAME, lit, lit, loc))
        elif kind == "op":
            toks.append(Token(OP, lit, lit, loc))
        else:
            i = _string(text, start, source, lineno, toks)
    toks.append(Token(END, "", None, Loc(source, lineno, len(text.rstrip()) + 1)))
    return toks


def _string(text: str, start: int, source, lineno: int, toks: list) -> int:
    """Read the string literal starting at ``start``; returns the index after it."""
    n = len(text)
    i = start + 1
    out = []
    while True:
        if i >= n:
            raise LexError(Loc(source, lineno, start + 1, n - start), "unterminated string")
        ch = text[i]
        if ch == '"':
            i += 1
            break
        if ch == "\\":
            if i + 1 >= n:
                raise LexError(Loc(source, lineno, start + 1, n - start), "unterminated string")
            e = text[i + 1]
            if e in _ESCAPES:
                out.append(_ESCAPES[e])
                i += 2
                continue
            width = {"x": 2, "u": 4, "U": 8}.get(e)
            hexd = text[i + 2:i + 2 + width] if width else ""
            if width and len(hexd) == width and all(h in "0123456789abcdefABCDEF" for h in hexd):
                cp = int(hexd, 16)
                if cp > 0x10FFFF or 0xD800 <= cp <= 0xDFFF:
                    raise LexError(Loc(source, lineno, i + 1, 2 + width),
                                   "escape \\%s%s is not a Unicode character" % (e, hexd))
                out.append(chr(cp))
                i += 2 + width
                continue
            raise LexError(Loc(source, lineno, i + 1, 2), "unknown escape '\\%s' in string" % e)
        out.append(ch)
        i += 1
    toks.append(Token(STRING, text[start:i], "".join(out), Loc(source, lineno, start + 1, i - start)))
    return i


def quote(text: str) -> str:
    """A string literal that the lexer reads back as ``text``."""
    out = ['"']
    rev = {v: k for k, v in _ESCAPES.items() if k != "0"}
    for ch in text:
        if ch in rev:
            out.append("\\" + rev[ch])
        elif ch.isprintable():
            out.append(ch)
        elif ord(ch) < 0x100:
            out.append("\\x%02x" % ord(ch))
        elif ord(ch) < 0x10000:
            out.append("\\u%04x" % ord(ch))
        else:
            out.append("\\U%08x" % ord(ch))
    out.append('"')
    return "".join(out)
