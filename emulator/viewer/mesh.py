"""Mesh view: the W x H tiles coloured by activity, with link utilisation and peak FIFO.

Activity is output spikes per tick of each tile in the selected window. Link utilisation is
``link_busy`` (packets sent per output port over the whole run, docs/SPEC.md section 9)
divided by the run's cycle count: a link carries at most one packet per cycle, so 100% is a
saturated link. Peak FIFO is the largest ``fifo_peak`` over a tile's input ports. Heat is a
glyph ramp (``░▒▓█``) as well as a colour, so hot spots show without colour too; the hottest
tile carries a ``★``. Wide terminals get labelled cells, narrow ones a compact grid; both are
followed by a "hot spots" summary.
"""

from __future__ import annotations

import numpy as np
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import HEAT_COLOURS, HEAT_GLYPHS, Look, heat_level

PORTS = ("L", "N", "E", "S", "W")
CELL = 10         # labelled cell width
LINK = 6          # gutter between labelled cells


def mesh_figures(view, sel) -> dict:
    """Per-tile numbers the panel draws (also used by tests and the interactive app)."""
    n = view.n_tiles
    s = view.tick_slice("spk_tick", sel.tick_a, sel.tick_b)
    spikes = np.bincount(view.arrays["spk_tile"][s], minlength=n)[:n]
    ticks = max(1, sel.tick_b - sel.tick_a)
    cycles = max(1, view.cycles)
    link = view.arrays.get("link_busy")
    if link is None or link.shape != (n, 5):
        link = np.zeros((n, 5), np.int64)
    fifo = view.arrays.get("fifo_peak")
    if fifo is None or fifo.shape != (n, 5):
        fifo = np.zeros((n, 5), np.int64)
    return {
        "spikes": spikes, "rate": spikes / ticks, "util": link / cycles, "link": link,
        "fifo": fifo, "fifo_max": fifo.max(axis=1) if n else np.zeros(0),
        "hottest": int(np.argmax(spikes)) if n and spikes.max() > 0 else None,
    }


def _link_glyph(util: float) -> str:
    if util <= 0:
        return " "
    return "·∙•●"[min(3, int(util * 4))] if util < 1 else "●"


def mesh_panel(view, sel, look: Look) -> Panel:
    f = mesh_figures(view, sel)
    w, h = view.mesh_w, view.mesh_h
    top = float(f["rate"].max()) if f["rate"].size else 0.0
    depth = view.meta.get("fifo_depth")
    body = Text()
    if w * (CELL + LINK) - LINK <= look.inner:
        _labelled(body, view, f, top, depth)
    else:
        _compact(body, view, f, top)
    body.append("activity ", style="grey62")
    for lvl in range(1, 5):
        body.append(HEAT_GLYPHS[lvl] * 2, style=HEAT_COLOURS[lvl])
        body.append("≤%d%% " % (25 * lvl), style="grey62")
    body.append("of hottest · links: % of cycles busy\n", style="grey62")
    _hot_spots(body, view, f, depth)
    body.rstrip()
    return Panel(body, title="Mesh %dx%d · spikes/tick ticks %d–%d" % (
        w, h, sel.tick_a, sel.tick_b - 1), title_align="left", padding=(0, 1))


def _pct(u: float) -> str:
    return "%d%%" % round(100 * u) if u >= 0.005 or u == 0 else "<1%"


def _labelled(body: Text, view, f, top, depth):
    w, h = view.mesh_w, view.mesh_h
    for y in range(h):
        rows = [Text() for _ in range(4)]
        for x in range(w):
            t = y * w + x
            lvl = heat_level(f["rate"][t], top)
            style = "bold white on " + HEAT_COLOURS[lvl] if lvl else "grey62"
            core = view.tiles[t].core
            star = "★" if f["hottest"] == t else " "
            rows[0].append(("T%d %s %s" % (t, core[:3], star)).ljust(CELL)[:CELL], style=style)
            rows[1].append(("%.3g/tick" % f["rate"][t]).ljust(CELL)[:CELL], style=style)
            peak = int(f["fifo_max"][t])
            fifo = ("fifo %d/%s" % (peak, depth)) if depth else ("fifo %d" % peak)
            rows[2].append(fifo.ljust(CELL)[:CELL], style=style)
            bar = int(round(CELL * f["rate"][t] / top)) if top else 0
            rows[3].append((HEAT_GLYPHS[lvl] * bar).ljust(CELL), style=HEAT_COLOURS[lvl])
            if x < w - 1:
                east = f["util"][t, 2]
                west = f["util"][t + 1, 4]
                rows[0].append((" →%s" % _pct(east)).ljust(LINK), style=_util_style(east))
                rows[1].append((" ←%s" % _pct(west)).ljust(LINK), style=_util_style(west))
                rows[2].append(" " * LINK)
                rows[3].append(" " * LINK)
        for r in rows:
            body.append_text(r)
            body.append("\n")
        if y < h - 1:
            line = Text()
            for x in range(w):
                t = y * w + x
                south, north = f["util"][t, 3], f["util"][t + w, 1]
                line.append(("↓%s" % _pct(south)).ljust(5), style=_util_style(south))
                line.append(("↑%s" % _pct(north)).ljust(CELL - 5), style=_util_style(north))
                if x < w - 1:
                    line.append(" " * LINK)
            body.append_text(line)
            body.append("\n")


def _util_style(u: float) -> str:
    if u >= 0.5:
        return "bold red"
    if u >= 0.2:
        return "yellow"
    return "grey62"


def _compact(body: Text, view, f, top):
    """Three columns per tile, one link glyph between tiles; a row of link glyphs between rows."""
    w, h = view.mesh_w, view.mesh_h
    body.append("  each tile: heat glyph (★ hottest); between tiles: link load " "·∙•● (E/W, S/N)\n",
                style="grey62")
    for y in range(h):
        line = Text("%3d " % (y * w), style="grey62")
        for x in range(w):
            t = y * w + x
            lvl = heat_level(f["rate"][t], top)
            cell = HEAT_GLYPHS[lvl] * 3
            if f["hottest"] == t:
                cell = cell[0] + "★" + cell[2]
            line.append(cell, style=HEAT_COLOURS[lvl])
            if x < w - 1:
                u = max(f["util"][t, 2], f["util"][t + 1, 4])
                line.append(_link_glyph(u), style=_util_style(u))
        body.append_text(line)
        body.append("\n")
        if y < h - 1:
            line = Text("    ")
            for x in range(w):
                t = y * w + x
                u = max(f["util"][t, 3], f["util"][t + w, 1])
                line.append(" " + _link_glyph(u) + "  ", style=_util_style(u))
            body.append_text(line.rstrip() if False else line)
            body.append("\n")


def _hot_spots(body: Text, view, f, depth):
    hottest = f["hottest"]
    if hottest is None:
        body.append("hottest tile: none (no spikes in the window)\n", style="grey62")
    else:
        x, y = view.tile_xy(hottest)
        body.append("hottest tile: %d (%d,%d) %.3g spikes/tick, %d spikes\n"
                    % (hottest, x, y, f["rate"][hottest], f["spikes"][hottest]), style="bold")
    util = f["util"][:, 1:]
    if util.size and util.max() > 0:
        t, p = np.unravel_index(int(np.argmax(util)), util.shape)
        body.append("busiest link: tile %d → %s %s of cycles (%d packets, whole run)\n"
                    % (t, PORTS[p + 1], _pct(util[t, p]), f["link"][t, p + 1]),
                    style=_util_style(util[t, p]))
    fifo = f["fifo"]
    if fifo.size and fifo.max() > 0:
        t, p = np.unravel_index(int(np.argmax(fifo)), fifo.shape)
        full = " (full)" if depth and fifo[t, p] >= depth else ""
        body.append("deepest FIFO: tile %d input %s peak %d%s%s\n"
                    % (t, PORTS[p], fifo[t, p], "/%d" % depth if depth else "", full),
                    style="bold red" if full else "")
    stall = view.arrays.get("stall")
    dropped = view.arrays.get("dropped")
    extra = []
    if stall is not None and stall.size:
        extra.append("stall cycles %d in %d ticks" % (stall.sum(), np.count_nonzero(stall)))
    if dropped is not None and dropped.size:
        extra.append("dropped packets %d" % dropped.sum())
    if extra:
        body.append(" · ".join(extra) + " (whole run)\n", style="grey62")
