"""Header: what ran, where, for how long (program, image hash, backend or board, ticks,
cycles, seed) and the size of the trace."""

from __future__ import annotations

from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from emulator.viewer.common import Look, human


def header_fields(view) -> list:
    m = view.meta
    sha = str(m.get("image_sha256") or "?")
    a = view.arrays
    ticks = max(1, view.ticks)
    fields = [
        ("program", str(m.get("program") or view.name)),
        ("image", sha[:16] + ("…" if len(sha) > 16 else "")),
        ("backend", str(m.get("board") or m.get("backend") or "?")),
        ("seed", str(m.get("seed", "?"))),
        ("ticks", str(view.ticks)),
        ("cycles", "%d (%.4g/tick)" % (view.cycles, view.cycles / ticks)),
        ("mesh", "%dx%d · K=%d · %s" % (view.mesh_w, view.mesh_h, view.window,
                                        m.get("router_mode", "?"))),
        ("spikes", human(a["spk_tick"].size)),
    ]
    if "inp_tick" in a:
        fields.append(("inputs", human(a["inp_tick"].size)))
    if "pkt_tick" in a:
        fields.append(("packets", human(a["pkt_tick"].size)))
    if len(getattr(view, "recorded", ())) < 4:
        fields.append(("recorded", ", ".join(view.recorded) or "counters only"))
    return fields


def header_panel(view, look: Look) -> Panel:
    fields = header_fields(view)
    per_row = 1 if look.inner < 60 else (2 if look.inner < 120 else 3)
    grid = Table.grid(padding=(0, 2))
    for _ in range(per_row):
        grid.add_column(style="grey62", no_wrap=True)
        grid.add_column(style="bold", overflow="fold")
    for i in range(0, len(fields), per_row):
        row = []
        for key, value in fields[i:i + per_row]:
            row += [key, value]
        grid.add_row(*row)
    title = Text("neurotile trace · %s" % view.name)
    return Panel(grid, title=title, title_align="left", padding=(0, 1))
