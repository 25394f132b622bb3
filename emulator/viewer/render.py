"""The static view: every panel of one trace, in reading order, sized for the console."""

from __future__ import annotations

from emulator.viewer.common import look_for
from emulator.viewer.energy import energy_panel
from emulator.viewer.header import header_panel
from emulator.viewer.latency import latency_panel
from emulator.viewer.learning import learning_panel
from emulator.viewer.mesh import mesh_panel
from emulator.viewer.model import Selection, TraceView, make_selection
from emulator.viewer.probes import probes_panel
from emulator.viewer.raster import raster_panel

PANELS = ("raster", "probes", "mesh", "latency", "learning", "energy")


def trace_renderables(view: TraceView, sel: Selection, look, panels=PANELS) -> list:
    """Header plus the requested panels (a panel with nothing to show is left out)."""
    out = [header_panel(view, look)]
    if view.ticks == 0:
        return out
    builders = {"raster": raster_panel, "probes": probes_panel, "mesh": mesh_panel,
                "latency": latency_panel, "learning": learning_panel, "energy": energy_panel}
    for name in panels:
        panel = builders[name](view, sel, look)
        if panel is not None:
            out.append(panel)
    return out


def render_trace(trace, console, *, tiles=None, neurons=None, ticks=None, cycles=False,
                 width=None, panels=PANELS) -> None:
    """Print the static view of ``trace`` (a Trace, TraceView or path) on ``console``."""
    from emulator.viewer.model import load_trace

    view = trace if isinstance(trace, TraceView) else (
        TraceView.from_trace(trace) if hasattr(trace, "arrays") else load_trace(trace))
    sel = make_selection(view, tiles=tiles, neurons=neurons, ticks=ticks, cycles=cycles)
    look = look_for(console, width)
    for renderable in trace_renderables(view, sel, look, panels):
        console.print(renderable)
