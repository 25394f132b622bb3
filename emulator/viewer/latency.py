"""Spike delivery latency: histogram of ``pkt_arrive - pkt_ready`` (cycles), late and dropped.

A packet is *dropped* when its ``pkt_arrive`` is -1 (fixed router mode missed the window) and
*late* when it arrived after its tick's window of ``K`` cycles, i.e. during barrier stall
cycles (docs/SPEC.md sections 4 and 9). Every bar is labelled with its exact count; the bars
add up to the delivered packets of the selection (packets from or to the selected tiles in the
selected ticks).
"""

from __future__ import annotations

import numpy as np
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import Look

MAX_BINS = 12
EIGHTHS = " ▏▎▍▌▋▊▉█"


def latency_bins(latency: np.ndarray, max_bins: int = MAX_BINS):
    """``(edges_lo, edges_hi, counts)``: one bin per value when few, else equal-width bins."""
    if latency.size == 0:
        return np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, np.int64)
    lo, hi = int(latency.min()), int(latency.max())
    width = max(1, -(-(hi - lo + 1) // max_bins))
    counts = np.bincount((latency - lo) // width)
    starts = lo + width * np.arange(counts.size)
    return starts, starts + width - 1, counts


def bar(value: float, top: float, width: int) -> str:
    if top <= 0 or value <= 0:
        return ""
    eighths = max(1, int(round(8 * width * value / top)))
    return "█" * (eighths // 8) + (EIGHTHS[eighths % 8] if eighths % 8 else "")


def latency_panel(view, sel, look: Look) -> Panel | None:
    pkt = view.packets(sel)
    if pkt is None:
        return None
    arrive, ready = pkt["arrive"].astype(np.int64), pkt["ready"].astype(np.int64)
    delivered = arrive >= 0
    latency = (arrive - ready)[delivered]
    n_dropped = int(np.count_nonzero(~delivered))
    window_end = view.tick_start[pkt["tick"]] + view.window
    n_late = int(np.count_nonzero(delivered & (arrive >= window_end)))
    starts, ends, counts = latency_bins(latency)
    body = Text()
    if latency.size:
        q = np.percentile(latency, [50, 99])
        body.append("latency (cycles) min %d · median %g · mean %.3g · p99 %g · max %d · "
                    "mean hops %.3g\n" % (latency.min(), q[0], latency.mean(), q[1],
                                          latency.max(), pkt["hops"][delivered].mean()))
    label_w = max(len("%d–%d" % (s, e)) for s, e in zip(starts, ends)) if counts.size else 3
    count_w = len(str(int(counts.max()))) if counts.size else 1
    bar_w = max(5, look.inner - label_w - count_w - 4)
    top = float(counts.max()) if counts.size else 0.0
    for s, e, c in zip(starts.tolist(), ends.tolist(), counts.tolist()):
        label = str(s) if s == e else "%d–%d" % (s, e)
        body.append(label.rjust(label_w) + " │", style="grey62")
        body.append(bar(c, top, bar_w), style="magenta")
        body.append(" %d\n" % c)
    body.append("packets %d · delivered %d · " % (arrive.size, int(delivered.sum())))
    body.append("late %d" % n_late, style="bold yellow" if n_late else "")
    body.append(" (arrived in stall cycles) · ", style="grey62")
    body.append("dropped %d" % n_dropped, style="bold red" if n_dropped else "")
    body.append(" (missed the window, fixed mode)", style="grey62")
    title = "Latency · packets from/to the selected tiles · ticks %d–%d" % (sel.tick_a, sel.tick_b - 1)
    return Panel(body, title=title, title_align="left", padding=(0, 1))
