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
    """{'n': dots in neuron rows, 'a': dots in axon rows} of the spike raster panel."""
    dots = {"n": 0, "a": 0}
    for line in panel(text, "Spike raster"):
        m = ROW.search(line)
        if m:
            dots[m.group(1)] += count_braille_dots(m.group(3))
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
