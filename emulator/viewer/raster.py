"""Spike raster: time (ticks or cycles) across, neurons down, one braille dot per cell.

A cell covers ``per_dot`` time units by ``per_row`` neurons (both 1 when the window fits); it
is raised when at least one spike falls in it, so a single spike is never lost to
down-sampling. Output spikes (neurons, yellow, rows labelled ``n``) and external input spikes
(axons, cyan, rows labelled ``a``) are separate bands of each tile, so they stay distinct
without colour. Binning is one ``np.bincount`` per band.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import (STYLE_IN, STYLE_OUT, Look, braille_lines, pad_to,
                                    time_axis)

GUTTER = 7          # "n 123 ┤": label column plus the axis character


@dataclass(frozen=True)
class TimeScale:
    """Map from absolute time (ticks, or cycles with ``--cycles``) to dot columns."""

    x0: int
    x1: int
    per_dot: int
    dots: int        # even
    unit: str

    @property
    def chars(self) -> int:
        return self.dots // 2

    def column(self, x: np.ndarray) -> np.ndarray:
        return (x - self.x0) // self.per_dot


def time_scale(view, sel, plot_chars: int) -> TimeScale:
    if sel.cycles:
        x0, x1, unit = int(view.tick_start[sel.tick_a]), int(view.tick_start[sel.tick_b]), "cycle"
    else:
        x0, x1, unit = sel.tick_a, sel.tick_b, "tick"
    span = max(1, x1 - x0)
    max_dots = max(2, 2 * plot_chars)
    per_dot = -(-span // max_dots)
    dots = pad_to(-(-span // per_dot), 2)
    return TimeScale(x0, x1, per_dot, dots, unit)


def event_time(view, sel, tick, offset) -> np.ndarray:
    """Absolute cycle of each event with ``--cycles``, else its tick."""
    if sel.cycles:
        return view.tick_start[tick] + offset
    return tick.astype(np.int64)


def band(rows_index: np.ndarray, x_col: np.ndarray, n_items: int, picked: np.ndarray | None,
         max_rows: int, scale: TimeScale):
    """Bin events into a dot grid. ``rows_index`` is the neuron (or axon) of each event.

    Returns ``(mask, per_row, row_first)``: the boolean dot grid (height padded to 4),
    items per dot row, and the first item index of each character row (for labels).
    """
    if picked is not None:
        picked = picked[picked < n_items]
        pos = np.searchsorted(picked, rows_index)
        ok = (pos < picked.size) & (picked[np.minimum(pos, max(0, picked.size - 1))] == rows_index) \
            if picked.size else np.zeros(rows_index.shape, bool)
        rows_index, x_col, pos = rows_index[ok], x_col[ok], pos[ok]
        n_rows = int(picked.size)
        labels = picked
    else:
        pos = rows_index
        n_rows = n_items
        labels = np.arange(n_items)
    per_row = max(1, -(-n_rows // max_rows))
    dot_rows = pad_to(max(1, -(-n_rows // per_row)), 4)
    y = pos // per_row
    keep = (x_col >= 0) & (x_col < scale.dots) & (y < dot_rows)
    flat = y[keep].astype(np.int64) * scale.dots + x_col[keep]
    counts = np.bincount(flat, minlength=dot_rows * scale.dots)
    mask = counts.reshape(dot_rows, scale.dots) > 0
    first_items = [int(labels[min(r * 4 * per_row, labels.size - 1)]) if r * 4 * per_row < labels.size
                   else None for r in range(dot_rows // 4)]
    return mask, per_row, first_items


def _group_by_tile(tile: np.ndarray, tiles: np.ndarray) -> dict:
    order = np.argsort(tile, kind="stable")
    sorted_tiles = tile[order]
    bounds = np.searchsorted(sorted_tiles, np.concatenate([tiles, tiles + 1]))
    k = tiles.size
    return {int(t): order[bounds[i]:bounds[k + i]] for i, t in enumerate(tiles)}


def raster_text(view, sel, look: Look, max_dot_rows: int | None = None,
                cursor_tick: int | None = None, show_inputs: bool = True,
                input_dot_rows: int | None = None) -> Text:
    """The raster of the selected tiles as one Text (tile headers, bands, time axis)."""
    scale = time_scale(view, sel, look.inner - GUTTER)
    tiles = [t for t in sel.tiles.tolist() if t < view.n_tiles]
    if max_dot_rows is None:
        max_dot_rows = 64 if len(tiles) <= 4 else 32
    spk = view.spikes(sel)
    inp = view.inputs(sel) if show_inputs else None
    spk_x = scale.column(event_time(view, sel, spk["tick"], spk["offset"]))
    spk_by_tile = _group_by_tile(spk["tile"], np.array(tiles, dtype=np.int64))
    if inp is not None and inp["tick"].size:
        inp_x = scale.column(event_time(view, sel, inp["tick"], inp["offset"]))
        inp_by_tile = _group_by_tile(inp["tile"], np.array(tiles, dtype=np.int64))
    else:
        inp_x, inp_by_tile = None, {}
    cursor_col = None
    if cursor_tick is not None:
        t = view.tick_start[cursor_tick] if sel.cycles else cursor_tick
        c = (int(t) - scale.x0) // scale.per_dot // 2
        cursor_col = c if 0 <= c < scale.chars else None

    out = Text()
    for tile in tiles:
        info = view.tiles[tile]
        idx = spk_by_tile.get(tile, np.zeros(0, np.int64))
        iidx = inp_by_tile.get(tile, np.zeros(0, np.int64))
        x, y = view.tile_xy(tile)
        head = "tile %d (%d,%d) %s · %d neurons · %d spikes" % (
            tile, x, y, info.core, info.neurons, idx.size)
        if iidx.size:
            head += " · %d inputs" % iidx.size
        mask, per_row, firsts = band(spk["neuron"][idx], spk_x[idx], max(1, info.neurons),
                                     sel.neurons, max_dot_rows, scale)
        if per_row > 1:
            head += " · 1 row = %d neurons" % per_row
        out.append(head + "\n", style="bold")
        _append_band(out, mask, firsts, "n", STYLE_OUT, cursor_col)
        if iidx.size:
            n_axons = max(1, info.axons, int(inp["axon"][iidx].max()) + 1)
            imask, iper_row, ifirsts = band(inp["axon"][iidx], inp_x[iidx], n_axons, None,
                                            input_dot_rows or max(4, max_dot_rows // 2), scale)
            _append_band(out, imask, ifirsts, "a", STYLE_IN, cursor_col)
    out.append_text(time_axis(scale.x0, scale.per_dot * 2, scale.chars, GUTTER, scale.unit))
    return out


def _append_band(out: Text, mask, firsts, letter, style, cursor_col):
    for line, first in zip(braille_lines(mask), firsts):
        label = ("%s%4d" % (letter, first)) if first is not None else ""
        out.append("%-*s┤" % (GUTTER - 1, label), style="grey62")
        start = len(out)
        out.append(line, style=style)
        if cursor_col is not None and cursor_col < len(line):
            out.stylize("reverse", start + cursor_col, start + cursor_col + 1)
        out.append("\n")


def raster_panel(view, sel, look: Look, **kw) -> Panel:
    scale = time_scale(view, sel, look.inner - GUTTER)
    what = "ticks %d–%d" % (sel.tick_a, sel.tick_b - 1)
    if sel.cycles:
        what += " (cycles %d–%d)" % (scale.x0, scale.x1 - 1)
    dot = "1 dot = %d %s%s" % (scale.per_dot, scale.unit, "" if scale.per_dot == 1 else "s")
    legend = Text.assemble(("⣿ out", STYLE_OUT), " neuron spikes   ", ("⣿ in", STYLE_IN),
                           " input spikes (axons)   " + dot, style="grey62")
    body = Group(legend, raster_text(view, sel, look, **kw))
    return Panel(body, title="Spike raster · " + what, title_align="left", padding=(0, 1))
