"""Render helpers for the viewer tests: fixed widths, no colour, plain text out."""

from __future__ import annotations

import io
import re

from rich.console import Console

from emulator.viewer.common import count_braille_dots, look_for
from emulator.viewer.model import TraceView, make_selection, parse_meta
from emulator.viewer.render import trace_renderables
from emulator.viewer.synth import save_trace, synthetic_trace

ROW = re.compile(r"│ ([na]) +(\d+) ┤(.*?) *│$")


def console(width: int, color: bool = False) -> Console:
    return Console(width=width, file=io.StringIO(), force_terminal=color, color_system=
                   "truecolor" if color else None, highlight=False, legacy_windows=False)


def render(view, width: int, color: bool = False, **selection) -> str:
    con = console(width, color)
    sel = make_selection(view, **selection)
    for item in trace_renderables(view, sel, look_for(con)):
        con.print(item)
    return con.file.getvalue()


def panel(text: str, title: str) -> list:
    """Lines of the panel whose title starts with ``title`` (borders included)."""
    lines = text.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("╭─ " + title))
    end = next(i for i in range(start, len(lines)) if lines[i].startswith("╰"))
    return lines[start:end + 1]


def raster_dots(text: str) -> dict:
    """{'n': marked cells in neuron rows, 'a': in axon rows} of the spike raster panel,
    decoded from the glyphs with the layout its legend states (1 tick = w columns, or two
    time bins per column); a cell is one (time bin, row) with at least one spike."""
    lines = panel(text, "Spike raster")
    legend = lines[1]
    m = re.search(r"1 (?:tick|cycle) = (\d+) column", legend)
    char_w = int(m.group(1)) if m else 0
    mark_w = 1 if char_w <= 2 else char_w - 1
    dots = {"n": 0, "a": 0}
    for line in lines:
        m = ROW.search(line)
        if not m:
            continue
        body = m.group(3)
        braille = count_braille_dots(body)
        if braille:
            dots[m.group(1)] += braille // (2 * mark_w) if char_w else braille
        elif char_w:
            dots[m.group(1)] += body.count("█") // mark_w
        else:
            dots[m.group(1)] += body.count("▌") + body.count("▐") + 2 * body.count("█")
    return dots


def synth_view(**kw) -> TraceView:
    """A TraceView over a synthetic trace (same arrays a trace file holds)."""
    arrays = synthetic_trace(**kw)
    return TraceView(arrays, parse_meta(arrays["meta"]), name=kw.get("program", "synthetic"))


def write_synth(path, **kw) -> str:
    """Write a synthetic trace file; through emulator.trace.Trace.save when it exists."""
    arrays = synthetic_trace(**kw)
    try:
        from emulator.trace import Trace
    except ImportError:
        save_trace(path, arrays)
    else:
        meta = parse_meta(arrays.pop("meta"))
        Trace(arrays, meta).save(path)
    return str(path)


def tutorial_first_trace():
    """The trace of docs/TUTORIAL.md's first.spk (its text taken from the tutorial)."""
    import os

    from emulator import api

    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    with open(os.path.join(root, "docs", "TUTORIAL.md"), encoding="utf-8") as fh:
        doc = fh.read()
    start = doc.index("cat > first.spk <<'EOF'\n") + len("cat > first.spk <<'EOF'\n")
    return api.run(api.assemble(doc[start:doc.index("\nEOF", start)] + "\n"), backend="numba")


def row_cells(text: str, letter: str, item: int) -> str:
    """The plot part of raster row ``letter item`` (e.g. ``n 0``)."""
    for line in text.splitlines():
        m = re.search(r"%s +%d ┤(.*)" % (letter, item), line)
        if m:
            return m.group(1)
    raise AssertionError("no row %s %d" % (letter, item))
