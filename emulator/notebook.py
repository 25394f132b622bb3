"""Jupyter niceties: readable ``repr`` and ``_repr_html_`` for Program and Trace, and a
progress bar that works in a notebook (an HTML ``<progress>`` updated in place, no widget
library needed) and in a terminal (rich, on stderr).

Nothing here is needed to run the emulator; matplotlib is used only for the small raster
image of ``Trace._repr_html_`` and skipped when it is not installed.
"""

from __future__ import annotations

import base64
import html
import io
import sys
import time

import numpy as np

from emulator.units import energy as fmt_energy

RASTER_MAX_SPIKES = 200_000     # above this the HTML summary shows no raster image


def in_notebook() -> bool:
    """True inside a Jupyter kernel (IPython's ZMQ shell)."""
    ipython = sys.modules.get("IPython")
    if ipython is None:
        return False
    try:
        shell = ipython.get_ipython()
    except AttributeError:
        return False
    return shell is not None and type(shell).__name__ == "ZMQInteractiveShell"


class ProgressBar:
    """A ``progress(done, total)`` callable for :func:`emulator.run`.

    In a notebook it displays an HTML progress bar and updates it in place (at most five
    times a second); elsewhere it draws a rich progress bar on stderr. Call :meth:`close`
    at the end (``emulator.run(..., progress=True)`` does).
    """

    def __init__(self, label: str = "running", min_interval: float = 0.2):
        self.label = label
        self.min_interval = min_interval
        self.notebook = in_notebook()
        self._handle = None
        self._rich = None
        self._task = None
        self._last = 0.0
        self._t0 = time.monotonic()
        self.done = 0
        self.total = None

    def _html(self) -> str:
        total = max(1, self.total or 1)
        elapsed = time.monotonic() - self._t0
        return ('<div style="font-family:monospace">%s <progress value="%d" max="%d" '
                'style="width:40%%"></progress> %d/%d ticks · %.1f s</div>'
                % (html.escape(self.label), self.done, total, self.done, total, elapsed))

    def __call__(self, done: int, total: int | None = None) -> None:
        self.done, self.total = int(done), int(total) if total is not None else self.total
        now = time.monotonic()
        final = self.total is not None and self.done >= self.total
        if now - self._last < self.min_interval and not final:
            return
        self._last = now
        if self.notebook:
            from IPython.display import HTML, display

            if self._handle is None:
                self._handle = display(HTML(self._html()), display_id=True)
            else:
                self._handle.update(HTML(self._html()))
            return
        if self._rich is None:
            from rich.console import Console
            from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

            self._rich = Progress(TextColumn(self.label), BarColumn(),
                                  TextColumn("{task.completed}/{task.total} ticks"),
                                  TimeRemainingColumn(), console=Console(stderr=True),
                                  transient=True)
            self._rich.start()
            self._task = self._rich.add_task(self.label, total=self.total)
        self._rich.update(self._task, completed=self.done, total=self.total)

    def close(self) -> None:
        if self._handle is not None:
            self._last = 0.0
            from IPython.display import HTML

            self._handle.update(HTML(self._html()))
        if self._rich is not None:
            self._rich.stop()
            self._rich = None


# -- Program ------------------------------------------------------------------------------------
def _tile_rows(prog) -> list:
    from emulator import isa

    rows = []
    w = prog.chip["mesh_w"]
    for i, t in enumerate(prog.tiles):
        if t is None:
            continue
        core = isa.CORE_NAMES[t.core]
        th = ("vth %d" % t.params["vth"]) if core == "lif" else \
            ("theta %d, t_in %d" % (t.params["theta"], t.params["t_in"]))
        routes = sum(len(r) for r in t.routes)
        rows.append((i, "(%d,%d)" % (i % w, i // w), core, "%d x %d" % (t.axons, t.neurons), th,
                     str(routes), "on" if t.stdp and t.stdp.get("enabled") else "-"))
    return rows


def program_repr(prog) -> str:
    from emulator import isa

    on = sum(1 for t in prog.tiles if t is not None)
    ticks = prog.static_ticks()
    return ("Program(%r, mesh %dx%d, %d tiles on, window %d, %s router, %d probes, "
            "%d instructions, %s ticks)" % (
                prog.name, prog.chip["mesh_w"], prog.chip["mesh_h"], on, prog.chip["window"],
                isa.ROUTER_NAMES[prog.chip["router_mode"]], len(prog.probes), len(prog.code),
                "unbounded (jmp)" if ticks is None else ticks))


def _table(head, rows) -> str:
    out = ["<table><thead><tr>%s</tr></thead><tbody>" % "".join(
        "<th>%s</th>" % html.escape(str(h)) for h in head)]
    for row in rows:
        out.append("<tr>%s</tr>" % "".join("<td>%s</td>" % html.escape(str(c)) for c in row))
    out.append("</tbody></table>")
    return "".join(out)


def program_html(prog) -> str:
    return ("<div><b>%s</b>%s</div>" % (
        html.escape(program_repr(prog)),
        _table(("tile", "(x,y)", "core", "axons x neurons", "threshold", "routes", "STDP"),
               _tile_rows(prog))))


# -- Trace --------------------------------------------------------------------------------------
def trace_repr(trace) -> str:
    m = trace.meta
    mesh = m.get("mesh") or [1, 1]
    rec = m.get("recorded")
    return ("Trace(%r, backend %s, %d ticks, %d cycles, mesh %dx%d, %d spikes, %d packets%s)" % (
        m.get("program", ""), m.get("backend", "?"), trace.n_ticks, trace.cycles, mesh[0],
        mesh[1], len(trace.arrays["spk_tick"]), len(trace.arrays["pkt_tick"]),
        "" if rec is None else ", recorded " + ",".join(rec)))


def _raster_png(trace) -> str | None:
    if len(trace.arrays["spk_tick"]) > RASTER_MAX_SPIKES:
        return None
    try:
        from matplotlib.figure import Figure
    except ImportError:
        return None
    from emulator import plot

    fig = Figure(figsize=(7, 2.2), dpi=80, layout="constrained")
    ax = fig.add_subplot()
    plot.raster(trace, ax=ax)
    buf = io.BytesIO()
    fig.savefig(buf, format="png")
    return base64.b64encode(buf.getvalue()).decode("ascii")


def trace_html(trace) -> str:
    from emulator import energy

    a, m = trace.arrays, trace.meta
    tiles = m.get("tiles") or []
    w = (m.get("mesh") or [1, 1])[0]
    spikes = np.bincount(a["spk_tile"], minlength=len(tiles)) if len(tiles) else []
    try:
        total = fmt_energy(energy.breakdown(m, a)["total_j"])
    except (KeyError, TypeError, ValueError):
        total = "?"
    ok = a["pkt_arrive"] >= 0
    lat = (a["pkt_arrive"] - a["pkt_ready"])[ok]
    summary = [("program", m.get("program", "")), ("backend", m.get("backend", "?")),
               ("seed", m.get("seed", "?")), ("ticks", trace.n_ticks),
               ("cycles", "%d (%d stall)" % (trace.cycles, int(a["stall"].sum()))),
               ("spikes", "%d out, %d in" % (len(a["spk_tick"]), len(a["inp_tick"]))),
               ("packets", "%d (%d dropped)%s" % (len(ok), int((~ok).sum()),
                                                  ", mean latency %.2f cycles" % lat.mean()
                                                  if lat.size else "")),
               ("energy", total),
               ("recorded", ", ".join(m.get("recorded") or ["all"]))]
    per_tile = [(i, "(%d,%d)" % (i % w, i // w), t.get("core", "off"),
                 "%s x %s" % (t.get("axons", "-"), t.get("neurons", "-")), int(spikes[i]))
                for i, t in enumerate(tiles) if t.get("core", "off") != "off"]
    png = _raster_png(trace)
    img = ('<img src="data:image/png;base64,%s" alt="spike raster"/>' % png) if png else ""
    return ('<div><b>%s</b><div style="display:flex;gap:2em;align-items:flex-start">%s%s</div>'
            '%s</div>' % (html.escape(trace_repr(trace)), _table(("", ""), summary),
                          _table(("tile", "(x,y)", "core", "axons x neurons", "spikes"), per_tile),
                          img))
