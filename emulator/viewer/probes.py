"""Membrane (LIF ``v``) or charge (TD-MAC ``D``) of probed neurons: small block plots with
the threshold marked.

Each probe gets ``ROWS`` text rows of eighth blocks (``ROWS * 8`` levels). When the window is
wider than the plot, a column shows the largest value of the ticks it covers, so a
near-threshold excursion is not averaged away. The threshold (``vth`` or ``theta`` from the
trace's meta) is drawn as a dashed line ``┈`` in the row it falls in and labelled.
"""

from __future__ import annotations

import numpy as np
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import Look

ROWS = 3
GUTTER = 14
TH_LABEL = 9      # room right of the plot for the threshold's label
MAX_PROBES = 12
BLOCKS = " ▁▂▃▄▅▆▇█"


def column_max(values: np.ndarray, chars: int) -> np.ndarray:
    """Largest value in each of ``chars`` equal groups of ``values`` (one per value if it fits)."""
    if values.size <= chars:
        return values
    per = -(-values.size // chars)
    pad = per * (-(-values.size // per)) - values.size
    padded = np.concatenate([values, np.full(pad, values.min())])
    return padded.reshape(-1, per).max(axis=1)


def probe_plot(values: np.ndarray, threshold: int | None, chars: int):
    """Return ``(lines, lo, hi, threshold_row)`` for one probe."""
    cols = column_max(values.astype(np.int64), chars)
    lo = min(0, int(cols.min())) if cols.size else 0
    hi = max(int(cols.max()) if cols.size else 1, threshold if threshold is not None else lo + 1)
    hi = max(hi, lo + 1)
    levels = np.rint((cols - lo) * (ROWS * 8) / (hi - lo)).astype(np.int64)
    th_row = None
    if threshold is not None and lo <= threshold <= hi:
        th_level = (threshold - lo) * ROWS * 8 / (hi - lo)
        th_row = ROWS - 1 - min(ROWS - 1, int(th_level // 8))
    lines = []
    for r in range(ROWS):
        base = (ROWS - 1 - r) * 8
        fill = np.clip(levels - base, 0, 8)
        lines.append("".join(BLOCKS[f] for f in fill.tolist()))
    return lines, lo, hi, th_row


def probes_panel(view, sel, look: Look) -> Panel | None:
    if not view.has("probe_tile", "probe_neuron", "probe_v"):
        return None
    ptile, pneuron = view.arrays["probe_tile"], view.arrays["probe_neuron"]
    pv = view.arrays["probe_v"]
    if ptile.size == 0 or pv.ndim != 2 or pv.shape[1] != ptile.size:
        return None
    picked = np.flatnonzero(sel.tile_mask(ptile) & sel.neuron_mask(pneuron))
    if picked.size == 0:
        return None
    chars = max(10, look.inner - GUTTER - 1 - TH_LABEL)
    window = pv[sel.tick_a:sel.tick_b]
    body = Text()
    for p in picked[:MAX_PROBES].tolist():
        tile, neuron = int(ptile[p]), int(pneuron[p])
        info = view.tiles[tile] if tile < len(view.tiles) else None
        threshold = info.threshold if info else None
        what = "D" if info is not None and info.core == "tdmac" else "v"
        th_name = "θ" if what == "D" else "vth"
        values = window[:, p]
        lines, lo, hi, th_row = probe_plot(values, threshold, chars)
        gutters = ["t%d n%d %s" % (tile, neuron, what), "max %d" % hi, "min %d" % lo]
        for r, line in enumerate(lines):
            gut = gutters[r] if r < len(gutters) else ""
            body.append("%-*s┤" % (GUTTER - 1, gut[:GUTTER - 1]),
                        style="bold" if r == 0 else "grey62")
            if r == th_row:
                for ch in line:
                    body.append("┈" if ch == " " else ch, style="red" if ch == " " else "green")
                body.append(" ┈%s %d" % (th_name, threshold), style="bold red")
            else:
                body.append(line, style="green")
            body.append("\n")
    if picked.size > MAX_PROBES:
        body.append("(%d more probes: pick them with --tiles / --neurons)\n"
                    % (picked.size - MAX_PROBES), style="grey62")
    per = max(1, -(-(sel.tick_b - sel.tick_a) // chars))
    title = "Probes · ticks %d–%d%s" % (sel.tick_a, sel.tick_b - 1,
                                        "" if per == 1 else " · 1 column = max of %d ticks" % per)
    body.rstrip()
    return Panel(body, title=title, title_align="left", padding=(0, 1))
