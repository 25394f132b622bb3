"""Source files -> a flat list of sections (directive, head tokens, body lines).

The parser knows the shape of the language, not its meaning: a line whose first
token is ``.name`` (a dot immediately followed by a name) is a directive and
opens a section; other non-empty lines are the body of the section opened last.
``.const`` lines are statements of their own and do not close the open section;
``.include "file"`` is replaced by the sections of that file (path relative to the
including file; cycles and nesting deeper than :data:`MAX_INCLUDE_DEPTH` are
errors). What each directive means is the assembler's business.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

from emulator.asm.diagnostics import Abort, Loc, Source
from emulator.asm.lexer import END, NAME, STRING, LexError, tokenize

MAX_INCLUDE_DEPTH = 16
MAX_SOURCE_BYTES = 64 << 20


@dataclass
class Line:
    """The tokens of one source line (ending with an END token)."""

    tokens: list

    @property
    def loc(self) -> Loc:
        return self.tokens[0].loc


@dataclass
class Section:
    """A directive with the rest of its line (``head``) and its body lines."""

    name: str                 # directive without the dot: "tile", "weights", ...
    loc: Loc                  # the directive word, dot included
    head: Line
    body: list = field(default_factory=list)


def read_source(path: str, sink, display: str | None = None, at: Loc | None = None,
                shown: str | None = None):
    """Read and decode one file; report problems at ``at`` (the include) if given.

    ``display`` names the file in diagnostics, ``shown`` in the "cannot read" message.
    """
    shown = shown or display or path
    try:
        with open(path, "rb") as fh:
            raw = fh.read(MAX_SOURCE_BYTES + 1)
    except OSError as e:
        sink.error(at, "cannot read '%s': %s" % (shown, e.strerror or e))
    except ValueError as e:      # e.g. a NUL in the name
        sink.error(at, "cannot read '%s': %s" % (shown, e))
    if len(raw) > MAX_SOURCE_BYTES:
        sink.error(at, "'%s' is larger than %d MiB" % (shown, MAX_SOURCE_BYTES >> 20))
    return decode_source(raw, display or path, sink, os.path.abspath(path))


def decode_source(raw: bytes, name: str, sink, path=None) -> Source:
    if raw.startswith(b"\xef\xbb\xbf"):
        raw = raw[3:]
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as e:
        lineno = raw.count(b"\n", 0, e.start) + 1
        col = e.start - (raw.rfind(b"\n", 0, e.start) + 1) + 1
        text = raw.decode("utf-8", errors="replace")
        src = _make_source(text, name, path)
        sink.error(Loc(src, lineno, col), "'%s' is not UTF-8 text (byte 0x%02x)" % (name, raw[e.start]))
    return _make_source(text, name, path)


def _make_source(text: str, name: str, path) -> Source:
    return Source(name=name, lines=tuple(text.replace("\r\n", "\n").split("\n")), path=path)


class Parser:
    def __init__(self, sink):
        self.sink = sink
        self.sections = []     # in source order, includes expanded
        self.current = None    # the section body lines go to
        self._stack = []       # absolute paths of the files being read (include chain)
        self._orphans_reported = False

    def parse(self, source: Source, base_dir: str) -> list:
        self._parse_source(source, base_dir)
        return self.sections

    def _parse_source(self, source: Source, base_dir: str) -> None:
        key = source.path or ("<memory>", source.name)
        self._stack.append(key)
        try:
            for lineno, text in enumerate(source.lines, 1):
                try:
                    self._line(source, lineno, text, base_dir)
                except Abort:
                    pass
        finally:
            self._stack.pop()

    def _line(self, source, lineno, text, base_dir) -> None:
        try:
            toks = tokenize(text, source, lineno)
        except LexError as e:
            self.sink.error(e.loc, e.message)
        if toks[0].kind == END:
            return
        first = toks[0]
        if (first.is_op(".") and toks[1].kind == NAME
                and toks[1].loc.col == first.loc.col + 1):
            name = toks[1].value
            loc = first.loc.to(toks[1].loc)
            head = Line(toks[2:])
            if name == "include":
                self._include(loc, head, source, base_dir)
                return
            sec = Section(name, loc, head)
            self.sections.append(sec)
            if name != "const":
                self.current = sec
            return
        if self.current is None:
            if not self._orphans_reported:
                self._orphans_reported = True
                self.sink.error(first.loc, "this line is outside any section: start the program text "
                                           "with '.program' (or data with '.weights', '.routes', "
                                           "'.spikes', ...)")
            raise Abort()
        self.current.body.append(Line(toks))

    def _include(self, loc: Loc, head: Line, source: Source, base_dir: str) -> None:
        toks = head.tokens
        if toks[0].kind != STRING:
            self.sink.error(toks[0].loc if toks[0].kind != END else loc,
                            "'.include' takes a file name in double quotes")
        if toks[1].kind != END:
            self.sink.error(toks[1].loc, "unexpected text after the file name")
        rel = toks[0].value
        where = loc.to(toks[0].loc)
        if not rel or "\0" in rel:
            self.sink.error(where, "'.include' needs a file name")
        path = os.path.normpath(os.path.join(base_dir, rel))
        apath = os.path.abspath(path)
        if len(self._stack) > MAX_INCLUDE_DEPTH:
            self.sink.error(where, "includes are nested deeper than %d files" % MAX_INCLUDE_DEPTH)
        if apath in self._stack:
            chain = [os.path.basename(p) if isinstance(p, str) else p[1] for p in self._stack]
            self.sink.error(where, "include cycle: %s -> %s" % (" -> ".join(chain), os.path.basename(apath)))
        # name it in diagnostics relative to how the including file was named
        display = rel if os.path.isabs(rel) else os.path.normpath(
            os.path.join(os.path.dirname(source.name) if not source.name.startswith("<") else "", rel))
        inc = read_source(path, self.sink, display=display, at=where, shown=rel)
        self._parse_source(inc, os.path.dirname(apath))
