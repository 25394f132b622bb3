"""Spike raster: time across, neurons down, drawn as large as the room allows.

Time: when the window fits the width, every tick (or cycle, with ``--cycles``) gets the same
number of columns ``w = width // span`` (*magnified*: zoom in and ticks get wider); otherwise
two time bins share a character (half blocks or braille's two dot columns) and a bin covers
``per_dot`` ticks. Neurons: one text row per neuron when the tile's neurons fit the rows
available, else braille packs four dot rows per line and a dot row covers ``per_row`` neurons.
A cell is marked when at least one spike falls in it, so a single spike is never lost to
down-sampling; in the magnified one-row-per-neuron layout a mark is ``█`` and an empty cell a
faint ``·``, so "neuron 0 fires every third tick" reads as ``█··█··█``.

Output spikes (neurons, yellow, rows labelled ``n``) and external input spikes (axons, cyan,
rows labelled ``a``) are separate bands of each tile, so they stay distinct without colour.
Binning is one ``np.bincount`` per band.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import groupby

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import (STYLE_IN, STYLE_OUT, Look, braille_lines, pad_to,
                                    time_axis)

GUTTER = 7          # "n 123 ┤": label column plus the axis character
MARK = "█"          # a marked cell, one row per neuron
EMPTY = "·"         # an empty cell, magnified one row per neuron
HALVES = " ▌▐█"     # two time bins in one character, one row per neuron


@dataclass(frozen=True)
class TimeScale:
    """Map from absolute time (ticks, or cycles with ``--cycles``) to time bins ("dots").

    ``char_w > 0``: magnified, one bin per time unit drawn ``char_w`` characters wide.
    ``char_w == 0``: two bins per character, each ``per_dot`` time units.
    """

    x0: int
    x1: int
    per_dot: int
    dots: int        # number of time bins (even when two share a character)
    unit: str
    char_w: int = 0

    @property
    def chars(self) -> int:
        return self.dots * self.char_w if self.char_w else self.dots // 2

    @property
    def mark_w(self) -> int:
        """Characters a mark takes in a magnified cell (one blank column separates cells)."""
        return 1 if self.char_w <= 2 else self.char_w - 1

    def column(self, x: np.ndarray) -> np.ndarray:
        return (x - self.x0) // self.per_dot

    def char_of(self, x: int) -> int:
        """Character column where time ``x`` starts."""
        b = (x - self.x0) // self.per_dot
        return b * self.char_w if self.char_w else b // 2

    def legend(self) -> str:
        u = self.unit
        if self.char_w:
            return "1 %s = %d column%s" % (u, self.char_w, "" if self.char_w == 1 else "s")
        if self.per_dot == 1:
            return "1 column = 2 %ss" % u
        return "1 column = 2 bins of %d %ss" % (self.per_dot, u)


def time_scale(view, sel, plot_chars: int) -> TimeScale:
    if sel.cycles:
        x0, x1, unit = int(view.tick_start[sel.tick_a]), int(view.tick_start[sel.tick_b]), "cycle"
    else:
        x0, x1, unit = sel.tick_a, sel.tick_b, "tick"
    span = max(1, x1 - x0)
    plot_chars = max(1, plot_chars)
    if span <= plot_chars:
        return TimeScale(x0, x1, 1, span, unit, plot_chars // span)
    max_dots = max(2, 2 * plot_chars)
    per_dot = -(-span // max_dots)
    dots = pad_to(-(-span // per_dot), 2)
    return TimeScale(x0, x1, per_dot, dots, unit)


def event_time(view, sel, tick, offset) -> np.ndarray:
    """Absolute cycle of each event with ``--cycles``, else its tick."""
    if sel.cycles:
        return view.tick_start[tick] + offset
    return tick.astype(np.int64)


@dataclass
class Band:
    """One band (a tile's neurons or axons) binned for drawing."""

    mask: np.ndarray         # bool [rows, time bins]; rows = items, or dot rows (braille)
    per_row: int             # items per row (1 in the one-row-per-item layout)
    labels: list             # first item of each text line (None: padding)
    by_item: bool            # one text line per item (else braille, four dot rows a line)


def band(rows_index: np.ndarray, x_col: np.ndarray, n_items: int, picked: np.ndarray | None,
         max_lines: int, scale: TimeScale) -> Band:
    """Bin events into a grid. ``rows_index`` is the neuron (or axon) of each event.

    One line per item when the items fit ``max_lines``; otherwise braille, four dot rows
    per line, ``per_row`` items per dot row.
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
    max_lines = max(1, max_lines)
    by_item = n_rows <= max_lines
    if by_item:
        per_row, grid_rows, per_line = 1, max(1, n_rows), 1
    else:
        per_row = max(1, -(-n_rows // (4 * max_lines)))
        grid_rows = pad_to(max(1, -(-n_rows // per_row)), 4)
        per_line = 4 * per_row
    y = pos // per_row
    keep = (x_col >= 0) & (x_col < scale.dots) & (y < grid_rows)
    flat = y[keep].astype(np.int64) * scale.dots + x_col[keep]
    counts = np.bincount(flat, minlength=grid_rows * scale.dots)
    mask = counts.reshape(grid_rows, scale.dots) > 0
    n_lines = grid_rows if by_item else grid_rows // 4
    firsts = [int(labels[r * per_line]) if r * per_line < labels.size else None
              for r in range(n_lines)]
    return Band(mask, per_row, firsts, by_item)


def band_lines(b: Band, scale: TimeScale) -> list:
    """The text of each line of a band (``scale.chars`` characters each)."""
    mask = b.mask
    if scale.char_w:
        w, mw = scale.char_w, scale.mark_w
        if b.by_item:
            cells = np.where(mask, MARK * mw + " " * (w - mw), EMPTY + " " * (w - 1))
        else:
            glyphs = np.array(braille_lines(np.repeat(mask, 2, axis=1)))
            chars = glyphs.view("<U1").reshape(len(glyphs), -1) if glyphs.size else \
                np.zeros((0, mask.shape[1]), "<U1")
            cells = np.char.add(np.char.multiply(chars, mw), " " * (w - mw))
        return ["".join(row) for row in cells.tolist()]
    if b.by_item:
        pairs = mask.reshape(mask.shape[0], -1, 2)
        idx = pairs[..., 0] + 2 * pairs[..., 1]
        return ["".join(HALVES[i] for i in row) for row in idx.tolist()]
    return braille_lines(mask)


def marks_per_cell(scale: TimeScale, by_item: bool) -> int:
    """Marks one occupied cell puts in the text: characters ``█`` (one row per item) or
    braille dots (for tests and checks; half blocks count one per bin)."""
    if scale.char_w:
        return scale.mark_w * (1 if by_item else 2)
    return 1


def _group_by_tile(tile: np.ndarray, tiles: np.ndarray) -> dict:
    order = np.argsort(tile, kind="stable")
    sorted_tiles = tile[order]
    bounds = np.searchsorted(sorted_tiles, np.concatenate([tiles, tiles + 1]))
    k = tiles.size
    return {int(t): order[bounds[i]:bounds[k + i]] for i, t in enumerate(tiles)}


def default_lines(n_tiles: int) -> int:
    """Text lines a tile's neuron band may take in the static view."""
    return 32 if n_tiles <= 4 else 16


def raster_text(view, sel, look: Look, max_lines: int | None = None,
                cursor_tick: int | None = None, show_inputs: bool = True,
                input_lines: int | None = None) -> Text:
    """The raster of the selected tiles as one Text (tile headers, bands, time axis)."""
    scale = time_scale(view, sel, look.inner - GUTTER)
    tiles = [t for t in sel.tiles.tolist() if t < view.n_tiles]
    if max_lines is None:
        max_lines = default_lines(len(tiles))
    spk = view.spikes(sel)
    inp = view.inputs(sel) if show_inputs else None
    spk_x = scale.column(event_time(view, sel, spk["tick"], spk["offset"]))
    spk_by_tile = _group_by_tile(spk["tile"], np.array(tiles, dtype=np.int64))
    if inp is not None and inp["tick"].size:
        inp_x = scale.column(event_time(view, sel, inp["tick"], inp["offset"]))
        inp_by_tile = _group_by_tile(inp["tile"], np.array(tiles, dtype=np.int64))
    else:
        inp_x, inp_by_tile = None, {}
    cursor = None
    if cursor_tick is not None:
        t = int(view.tick_start[cursor_tick] if sel.cycles else cursor_tick)
        c = scale.char_of(t)
        if 0 <= c < scale.chars:
            cursor = (c, c + (scale.char_w or 1))

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
        b = band(spk["neuron"][idx], spk_x[idx], max(1, info.neurons), sel.neurons,
                 max_lines, scale)
        if not b.by_item:
            head += " · %d neurons/line" % (4 * b.per_row)
        out.append(head + "\n", style="bold")
        _append_band(out, b, scale, "n", STYLE_OUT, cursor)
        if iidx.size:
            n_axons = max(1, info.axons, int(inp["axon"][iidx].max()) + 1)
            ib = band(inp["axon"][iidx], inp_x[iidx], n_axons, None,
                      input_lines or max(1, max_lines // 2), scale)
            _append_band(out, ib, scale, "a", STYLE_IN, cursor)
    out.append_text(time_axis(scale.x0, scale.per_dot * 2, scale.chars, GUTTER, scale.unit,
                              chars_per_unit=scale.char_w or None))
    return out


def _append_band(out: Text, b: Band, scale: TimeScale, letter, style, cursor):
    for line, first in zip(band_lines(b, scale), b.labels):
        label = ("%s%4d" % (letter, first)) if first is not None else ""
        out.append("%-*s┤" % (GUTTER - 1, label), style="grey62")
        start = len(out)
        if b.by_item and scale.char_w:
            # runs of marks in the band's style, runs of empty cells faint
            for faint, run in groupby(line, key=lambda ch: ch != MARK):
                out.append("".join(run), style="grey35" if faint else style)
        else:
            out.append(line, style=style)
        if cursor is not None and cursor[0] < len(line):
            out.stylize("reverse", start + cursor[0], start + min(cursor[1], len(line)))
        out.append("\n")


def raster_panel(view, sel, look: Look, **kw) -> Panel:
    scale = time_scale(view, sel, look.inner - GUTTER)
    what = "ticks %d–%d" % (sel.tick_a, sel.tick_b - 1)
    if sel.cycles:
        what += " (cycles %d–%d)" % (scale.x0, scale.x1 - 1)
    legend = Text.assemble(("█ out", STYLE_OUT), " neuron spikes   ", ("█ in", STYLE_IN),
                           " input spikes (axons)   " + scale.legend(), style="grey62")
    body = Group(legend, raster_text(view, sel, look, **kw))
    return Panel(body, title="Spike raster · " + what, title_align="left", padding=(0, 1))
