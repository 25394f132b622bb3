"""Learning: which weights changed (``w_final - w_init``) and how the weights are distributed.

The heatmap shows axons down and neurons across. When the crossbar is larger than the room,
a cell shows the change of largest magnitude among the crossings it covers, so a single
changed weight stays visible. With colour, two crossbar rows share a character (``▀``, upper
row in the foreground, lower in the background; red potentiation, blue depression); without
colour, one row per line with glyphs ``+ #`` (up) and ``- =`` (down), ``·`` unchanged.
"""

from __future__ import annotations

import numpy as np
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import Look
from emulator.viewer.latency import bar

POS = ("#5f2f2f", "#a03030", "#d03030", "#ff5050")
NEG = ("#2f2f5f", "#3030a0", "#3050d0", "#5080ff")
ZERO = "grey23"
MAX_LINES = 16
GUTTER = 6


def tile_weights(view, tile: int):
    """``(w_init, w_final)`` of one tile as ``[axons, neurons]`` int arrays, or None."""
    if not view.has("w_init", "w_final", "w_offsets"):
        return None
    off = view.arrays["w_offsets"]
    info = view.tiles[tile]
    if off.size <= tile + 1 or info.neurons <= 0:
        return None
    lo, hi = int(off[tile]), int(off[tile + 1])
    if hi <= lo or (hi - lo) % info.neurons:
        return None
    shape = ((hi - lo) // info.neurons, info.neurons)
    return (view.arrays["w_init"][lo:hi].astype(np.int64).reshape(shape),
            view.arrays["w_final"][lo:hi].astype(np.int64).reshape(shape))


def changed_tiles(view, tiles) -> list:
    """``[(tile, n_changed)]`` for tiles with changed weights, most changed first."""
    out = []
    for t in tiles:
        w = tile_weights(view, int(t))
        if w is not None:
            n = int(np.count_nonzero(w[1] != w[0]))
            if n:
                out.append((int(t), n))
    return sorted(out, key=lambda p: -p[1])


def max_abs_pool(dw: np.ndarray, rows: int, cols: int) -> np.ndarray:
    """Down-sample to ``rows x cols`` keeping the signed value of largest magnitude per cell."""
    a, n = dw.shape
    pr, pc = -(-a // rows), -(-n // cols)
    r, c = -(-a // pr), -(-n // pc)
    pad = np.zeros((r * pr, c * pc), dw.dtype)
    pad[:a, :n] = dw
    blocks = pad.reshape(r, pr, c, pc).transpose(0, 2, 1, 3).reshape(r, c, pr * pc)
    pick = np.abs(blocks).argmax(axis=2)
    return np.take_along_axis(blocks, pick[..., None], axis=2)[..., 0]


def _level(v: int, top: int) -> int:
    return min(3, int(4 * abs(v) / top * 0.999)) if top else 0


def heatmap_text(dw: np.ndarray, look: Look) -> Text:
    cols = max(4, look.inner - GUTTER)
    rows_per_line = 2 if look.color else 1
    grid = max_abs_pool(dw, MAX_LINES * rows_per_line, cols)
    top = int(np.abs(grid).max()) or 1
    per_axon = -(-dw.shape[0] // grid.shape[0])
    text = Text()
    if look.color:
        if grid.shape[0] % 2:
            grid = np.vstack([grid, np.zeros((1, grid.shape[1]), grid.dtype)])
        colour = lambda v: ZERO if v == 0 else (POS if v > 0 else NEG)[_level(v, top)]  # noqa: E731
        for r in range(0, grid.shape[0], 2):
            text.append("a%-4d┤" % (r * per_axon), style="grey62")
            for up, down in zip(grid[r].tolist(), grid[r + 1].tolist()):
                text.append("▀", style="%s on %s" % (colour(up), colour(down)))
            text.append("\n")
    else:
        for r in range(grid.shape[0]):
            text.append("a%-4d┤" % (r * per_axon))
            line = []
            for v in grid[r].tolist():
                if v == 0:
                    line.append("·")
                elif v > 0:
                    line.append("+" if _level(v, top) < 2 else "#")
                else:
                    line.append("-" if _level(v, top) < 2 else "=")
            text.append("".join(line) + "\n")
    return text


def learning_panel(view, sel, look: Look) -> Panel | None:
    if not view.has("w_init", "w_final", "w_offsets"):
        return None
    changed = changed_tiles(view, sel.tiles.tolist())
    body = Text()
    if not changed:
        body.append("no weight of the selected tiles changed during the run", style="grey62")
        return Panel(body, title="Learning", title_align="left", padding=(0, 1))
    tile, n = changed[0]
    w0, w1 = tile_weights(view, tile)
    dw = w1 - w0
    body.append("tile %d: %d of %d weights changed · Δw mean %+.3g · up %d · down %d · "
                "max |Δw| %d\n" % (tile, n, dw.size, dw.mean(), np.count_nonzero(dw > 0),
                                   np.count_nonzero(dw < 0), np.abs(dw).max()), style="bold")
    if len(changed) > 1:
        body.append("also learning: " + ", ".join("tile %d (%d)" % p for p in changed[1:6])
                    + "\n", style="grey62")
    body.append("Δw heatmap: axons down, neurons across%s\n" % (
        "; red up, blue down" if look.color else "; + # up, - = down, · same"), style="grey62")
    body.append_text(heatmap_text(dw, look))
    body.append("weight distribution (before ", style="grey62")
    body.append("░", style="grey50")
    body.append(" / after ", style="grey62")
    body.append("█", style="magenta")
    body.append(")\n", style="grey62")
    lo, hi = int(min(w0.min(), w1.min())), int(max(w0.max(), w1.max()))
    width = max(1, -(-(hi - lo + 1) // 12))
    before = np.bincount((w0.ravel() - lo) // width, minlength=(hi - lo) // width + 1)
    after = np.bincount((w1.ravel() - lo) // width, minlength=(hi - lo) // width + 1)
    top = float(max(before.max(), after.max()))
    half = max(4, (look.inner - 24) // 2)
    for i in range(before.size):
        s = lo + i * width
        label = str(s) if width == 1 else "%d..%d" % (s, s + width - 1)
        body.append("%8s │" % label, style="grey62")
        body.append(("░" * int(round(half * before[i] / top)) if top else "").ljust(half),
                    style="grey50")
        body.append(" %5d │" % before[i])
        body.append(bar(after[i], top, half), style="magenta")
        body.append(" %d\n" % after[i])
    body.rstrip()
    return Panel(body, title="Learning · tile %d (whole run)" % tile, title_align="left",
                 padding=(0, 1))
