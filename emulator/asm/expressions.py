"""Integer expressions over the tokens of a line, and the cursor that reads them.

Grammar (lowest precedence first, as in Python; all operators left-associative)::

    expr  := xor  ('|' xor)*
    xor   := and  ('^' and)*
    and   := shift ('&' shift)*
    shift := sum  (('<<' | '>>') sum)*
    sum   := term (('+' | '-') term)*
    term  := unary (('*' | '/' | '//' | '%') unary)*
    unary := ('-' | '+' | '~') unary | INT | NAME | '(' expr ')'

``/`` and ``//`` are the same floor division (``-7 / 2 == -4``), ``%`` takes the
sign of the divisor, ``>>`` is arithmetic: all as in Python. There are no floats.
Every intermediate value must stay within +-2^64 and shift counts within 0..64, so
that no input can make the assembler slow.
"""

from __future__ import annotations

from emulator.asm.diagnostics import Loc
from emulator.asm.lexer import END, INT, NAME, OP, STRING, Token

VALUE_LIMIT = 1 << 64
MAX_NESTING = 64


class Cursor:
    """Reads the tokens of one line; reports through the assembler's sink.

    ``names`` resolves a NAME token to an int (or reports and aborts).
    """

    def __init__(self, tokens, sink, names):
        self.toks = tokens
        self.i = 0
        self.sink = sink
        self.names = names
        self._depth = 0

    # -- token access --------------------------------------------------------
    def peek(self, k: int = 0) -> Token:
        j = self.i + k
        toks = self.toks
        return toks[j] if j < len(toks) else toks[-1]

    def next(self) -> Token:
        t = self.peek()
        if t.kind != END:
            self.i += 1
        return t

    def at_end(self) -> bool:
        return self.peek().kind == END

    def accept(self, op: str):
        if self.peek().is_op(op):
            return self.next()
        return None

    def accept_name(self, *names):
        if self.peek().is_name(*names):
            return self.next()
        return None

    def expect(self, op: str, what: str = "") -> Token:
        t = self.peek()
        if not t.is_op(op):
            self.fail(t, "expected '%s'%s, found %s" % (op, (" " + what) if what else "", describe(t)))
        return self.next()

    def expect_name(self, what: str) -> Token:
        t = self.peek()
        if t.kind != NAME:
            self.fail(t, "expected %s, found %s" % (what, describe(t)))
        return self.next()

    def expect_string(self, what: str) -> Token:
        t = self.peek()
        if t.kind != STRING:
            self.fail(t, "expected %s (a double-quoted string), found %s" % (what, describe(t)))
        return self.next()

    def expect_end(self, what: str = "") -> None:
        t = self.peek()
        if t.kind != END:
            self.fail(t, "unexpected %s%s" % (describe(t), (" " + what) if what else ""))

    def fail(self, where, message, notes=()):
        loc = where.loc if isinstance(where, Token) else where
        self.sink.error(loc, message, notes)

    def span_from(self, start: Token) -> Loc:
        """Location covering the tokens from ``start`` up to the last one read."""
        last = self.toks[max(self.i - 1, 0)]
        return start.loc.to(last.loc)

    # -- expressions ---------------------------------------------------------
    def expr(self) -> int:
        """Parse and evaluate one integer expression."""
        return self._binary(1)

    def expr_loc(self):
        """(value, location spanning the expression)."""
        start = self.peek()
        v = self.expr()
        return v, self.span_from(start)

    # binding power of the binary operators (precedence climbing)
    _PREC = {"|": 1, "^": 2, "&": 3, "<<": 4, ">>": 4, "+": 5, "-": 5,
             "*": 6, "/": 6, "//": 6, "%": 6}

    def _binary(self, min_prec: int) -> int:
        left = self._unary()
        prec = self._PREC
        while True:
            t = self.peek()
            p = prec.get(t.value) if t.kind == OP else None
            if p is None or p < min_prec:
                return left
            self.next()
            right_tok = self.peek()
            self._enter(t)
            try:
                right = self._binary(p + 1)
            finally:
                self._depth -= 1
            left = self._apply(t, left, right, right_tok)

    def _apply(self, op_tok: Token, a: int, b: int, b_tok: Token) -> int:
        op = op_tok.value
        if op in ("/", "//", "%") and b == 0:
            self.fail(op_tok, "division by zero")
        if op in ("<<", ">>") and not 0 <= b <= 64:
            self.fail(b_tok, "shift count %d is out of range 0..64" % b)
        r = {"|": lambda: a | b, "^": lambda: a ^ b, "&": lambda: a & b,
             "<<": lambda: a << b, ">>": lambda: a >> b, "+": lambda: a + b,
             "-": lambda: a - b, "*": lambda: a * b, "/": lambda: a // b,
             "//": lambda: a // b, "%": lambda: a % b}[op]()
        return self._check(op_tok, r)

    def _check(self, tok: Token, value: int) -> int:
        if not -VALUE_LIMIT <= value <= VALUE_LIMIT:
            self.fail(tok, "value is too large (beyond +-2^64)")
        return value

    def _unary(self) -> int:
        t = self.peek()
        if t.is_op("-", "+", "~"):
            self.next()
            self._enter(t)
            try:
                v = self._unary()
            finally:
                self._depth -= 1
            return self._check(t, -v if t.value == "-" else ~v if t.value == "~" else v)
        if t.kind == INT:
            self.next()
            return self._check(t, t.value)
        if t.kind == NAME:
            self.next()
            return self.names(t)
        if t.is_op("("):
            self.next()
            self._enter(t)
            try:
                v = self.expr()
            finally:
                self._depth -= 1
            self.expect(")", "to close the parenthesis")
            return v
        self.fail(t, "expected a number, a name or '(', found %s" % describe(t))

    def _enter(self, t: Token) -> None:
        self._depth += 1
        if self._depth > MAX_NESTING:
            self.fail(t, "expression is nested too deeply (more than %d levels)" % MAX_NESTING)

    def int_range(self):
        """``a`` or ``a..b`` (both ends included): returns (lo, hi, loc)."""
        start = self.peek()
        lo = self.expr()
        hi = lo
        if self.accept(".."):
            hi = self.expr()
            if hi < lo:
                self.fail(self.span_from(start), "empty range %d..%d (a range counts up: lo..hi, "
                                                 "both ends included)" % (lo, hi))
        return lo, hi, self.span_from(start)


def describe(t: Token) -> str:
    if t.kind == END:
        return "end of line"
    if t.kind == INT:
        return "number %s" % t.text
    if t.kind == NAME:
        return "'%s'" % t.text
    if t.kind == STRING:
        return "string %s" % t.text
    return "'%s'" % t.text
