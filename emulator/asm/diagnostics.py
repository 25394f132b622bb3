"""Diagnostics: located errors, warnings and notes, rendered like a compiler's.

A diagnostic points at a place in a source file (file, 1-based line and column,
a span width) and renders as::

    prog.spk:3:14: error: window = 5000 is out of range 1..4096
        3 | .chip window = 5000
          |                ^~~~

followed by its notes (``note: first defined here``), each with its own line and
caret. :class:`Sink` collects diagnostics for one assembly; after
:data:`MAX_ERRORS` errors it stops the assembly with "too many errors".
"""

from __future__ import annotations

from dataclasses import dataclass, field

MAX_ERRORS = 20


@dataclass(frozen=True, eq=False)
class Source:
    """One source file as read: its name (as shown in diagnostics) and its lines."""

    name: str
    lines: tuple
    path: str | None = None     # absolute path on disk, None for text given in memory

    def line(self, lineno: int) -> str:
        if 1 <= lineno <= len(self.lines):
            return self.lines[lineno - 1]
        return ""


class Loc:
    """A place in a source: 1-based line and column, and how many columns it spans."""

    __slots__ = ("source", "line", "col", "width")

    def __init__(self, source: Source, line: int, col: int, width: int = 1):
        self.source = source
        self.line = line
        self.col = col
        self.width = width

    def __repr__(self) -> str:
        return "Loc(%s, width=%d)" % (self, self.width)

    def __eq__(self, other) -> bool:
        return isinstance(other, Loc) and (self.source, self.line, self.col, self.width) == \
            (other.source, other.line, other.col, other.width)

    __hash__ = None

    def __str__(self) -> str:
        return "%s:%d:%d" % (self.source.name, self.line, self.col)

    def to(self, end: "Loc") -> "Loc":
        """The span from this location to the end of ``end`` (same line only)."""
        if end.source is self.source and end.line == self.line and end.col + end.width > self.col:
            return Loc(self.source, self.line, self.col, end.col + end.width - self.col)
        return self


@dataclass
class Diagnostic:
    severity: str           # "error" | "warning" | "note"
    message: str
    loc: Loc | None
    notes: list = field(default_factory=list)   # [(message, Loc)]

    def render(self) -> str:
        out = [_render_one(self.severity, self.message, self.loc)]
        for msg, loc in self.notes:
            out.append(_render_one("note", msg, loc))
        return "\n".join(out)


def _render_one(severity: str, message: str, loc: Loc | None) -> str:
    if loc is None:
        return "%s: %s" % (severity, message)
    head = "%s: %s: %s" % (loc, severity, message)
    text = loc.source.line(loc.line)
    if not text and loc.line > len(loc.source.lines):
        return head
    text = _printable(text)
    gutter = "%5d | " % loc.line
    # keep tabs so the caret lines up under the column in any terminal
    pad = "".join("\t" if c == "\t" else " " for c in text[:max(loc.col - 1, 0)])
    width = max(1, min(loc.width, max(len(text) - loc.col + 1, 1)))
    mark = "^" + "~" * (width - 1)
    return "%s\n%s%s\n%s%s%s" % (head, gutter, text, " " * (len(gutter) - 2) + "| ", pad, mark)


def _printable(text: str) -> str:
    """Source text as shown under a diagnostic: control characters become '?'."""
    return "".join(c if (c.isprintable() or c == "\t") else "?" for c in text)


class AsmError(Exception):
    """Assembly failed. ``diagnostics`` lists every error and warning found;
    ``str()`` is the full report as printed by ``neurotile asm``."""

    def __init__(self, diagnostics):
        self.diagnostics = list(diagnostics)
        super().__init__(render_all(self.diagnostics))

    @property
    def errors(self):
        return [d for d in self.diagnostics if d.severity == "error"]

    def __str__(self) -> str:
        return render_all(self.diagnostics)


class TooManyErrors(Exception):
    """Raised inside the assembler once the error limit is reached."""


class Abort(Exception):
    """Abandon the current statement; its diagnostic has been recorded."""


def render_all(diagnostics) -> str:
    out = [d.render() for d in diagnostics]
    n_err = sum(d.severity == "error" for d in diagnostics)
    n_warn = sum(d.severity == "warning" for d in diagnostics)
    if n_err >= MAX_ERRORS:
        out.append("too many errors (%d), stopping" % n_err)
    if n_err or n_warn:
        parts = []
        if n_err:
            parts.append("%d error%s" % (n_err, "" if n_err == 1 else "s"))
        if n_warn:
            parts.append("%d warning%s" % (n_warn, "" if n_warn == 1 else "s"))
        out.append(" and ".join(parts) + " generated.")
    return "\n".join(out)


class Sink:
    """Collects the diagnostics of one assembly."""

    def __init__(self):
        self.diagnostics = []
        self.n_errors = 0

    def error(self, loc, message, notes=()):
        """Record an error and abandon the current statement (raises :class:`Abort`)."""
        self.report(loc, message, notes)
        raise Abort()

    def report(self, loc, message, notes=()):
        """Record an error and carry on."""
        self.diagnostics.append(Diagnostic("error", message, loc, list(notes)))
        self.n_errors += 1
        if self.n_errors >= MAX_ERRORS:
            raise TooManyErrors()

    def warn(self, loc, message, notes=()):
        self.diagnostics.append(Diagnostic("warning", message, loc, list(notes)))

    def warnings(self):
        return [d for d in self.diagnostics if d.severity == "warning"]


def suggest(name: str, candidates) -> str:
    """`` (did you mean 'x'?)`` when a candidate is close to ``name``, else ''."""
    import difflib

    cands = sorted(set(str(c) for c in candidates))
    best = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    if not best:
        lower = {c.lower(): c for c in cands}
        if name.lower() in lower:
            best = [lower[name.lower()]]
    return " (did you mean '%s'?)" % best[0] if best else ""
