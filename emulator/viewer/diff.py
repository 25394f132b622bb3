"""Diff view of two traces: spikes only in A, only in B, in both, first divergence marked.

A spike is the tuple ``(tick, tile, neuron, offset)``; two traces of the same image agree
when every array except ``meta`` is equal (docs/SPEC.md section 16), so the view also lists
the other arrays that differ and the first tick whose state hash differs. The raster uses one
character per cell (``A`` only in A, ``B`` only in B, ``X`` both kinds of difference, ``·``
identical spikes) so it reads the same without colour; the first diverging spike's cell is
shown in reverse video under a ``▼`` and described in words. ``neurotile hil run`` calls
:func:`render_diff` when a board and the emulator disagree.
"""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.text import Text

from emulator.viewer.common import (STYLE_BOTH, STYLE_ONLY_A, STYLE_ONLY_B, Look, look_for,
                                    time_axis)
from emulator.viewer.model import TraceView, parse_index_list, parse_tick_range

GUTTER = 7
MAX_ROWS = 16       # character rows per tile
MAX_TILES = 8       # tiles drawn (the most divergent first)


def _view(trace, name):
    if isinstance(trace, TraceView):
        return trace
    if hasattr(trace, "arrays") and hasattr(trace, "meta"):
        return TraceView.from_trace(trace, name)
    from emulator.viewer.model import load_trace
    return load_trace(trace)


def spike_keys(view: TraceView) -> np.ndarray:
    """One sortable int64 per spike: tick, tile, neuron, offset (most significant first)."""
    a = view.arrays
    return (((a["spk_tick"].astype(np.int64) << 8 | a["spk_tile"]) << 8 | a["spk_neuron"]) << 16
            | (a["spk_offset"].astype(np.int64) & 0xFFFF))


def decode_key(key: int) -> dict:
    return {"tick": key >> 32, "tile": (key >> 24) & 0xFF, "neuron": (key >> 16) & 0xFF,
            "offset": key & 0xFFFF}


def compare(a: TraceView, b: TraceView) -> dict:
    """Set comparison of the spikes of two traces and the other arrays that differ."""
    ka, kb = spike_keys(a), spike_keys(b)
    a_in_b = np.isin(ka, kb)
    b_in_a = np.isin(kb, ka)
    only_a, only_b = ka[~a_in_b], kb[~b_in_a]
    first = None
    if only_a.size or only_b.size:
        first = int(min(only_a.min() if only_a.size else np.iinfo(np.int64).max,
                        only_b.min() if only_b.size else np.iinfo(np.int64).max))
    differing = []
    for name in sorted(set(a.arrays) | set(b.arrays)):
        x, y = a.arrays.get(name), b.arrays.get(name)
        if x is None or y is None or x.shape != y.shape or not np.array_equal(x, y):
            differing.append(name)
    hash_tick = None
    ha, hb = a.arrays.get("state_hash"), b.arrays.get("state_hash")
    if ha is not None and hb is not None and ha.size and hb.size:
        n = min(ha.size, hb.size)
        bad = np.flatnonzero(ha[:n] != hb[:n])
        hash_tick = int(bad[0]) if bad.size else (n if ha.size != hb.size else None)
    return {"both": ka[a_in_b], "only_a": only_a, "only_b": only_b, "first": first,
            "differing": differing, "hash_tick": hash_tick,
            "meta_differs": _meta_differs(a.meta, b.meta)}


def _meta_differs(ma: dict, mb: dict) -> list:
    keys = set(ma) | set(mb)
    return sorted(k for k in keys if k not in ("backend", "board", "program") and ma.get(k) != mb.get(k))


def _unpack(keys: np.ndarray):
    return keys >> 32, (keys >> 24) & 0xFF, (keys >> 16) & 0xFF


def diff_renderables(a: TraceView, b: TraceView, look: Look, tiles=None, ticks=None,
                     comparison: dict | None = None) -> list:
    c = comparison or compare(a, b)
    n_ticks = max(a.ticks, b.ticks)
    first = decode_key(c["first"]) if c["first"] is not None else None
    tick_a, tick_b = ticks if isinstance(ticks, tuple) else parse_tick_range(ticks, max(1, n_ticks))
    out = []

    # -- verdict and first divergence, in words
    verdict = Text()
    same = not c["differing"] and not c["meta_differs"]
    name_a = "A = %s (%s)" % (a.name, a.meta.get("board") or a.meta.get("backend", "?"))
    name_b = "B = %s (%s)" % (b.name, b.meta.get("board") or b.meta.get("backend", "?"))
    verdict.append(name_a + "\n", style=STYLE_ONLY_A)
    verdict.append(name_b + "\n", style=STYLE_ONLY_B)
    if same:
        verdict.append("the traces agree: every array is equal\n", style="bold green")
    if a.meta.get("image_sha256") != b.meta.get("image_sha256"):
        verdict.append("warning: the traces come from different images\n", style="bold yellow")
    verdict.append("spikes in both %d · only in A %d · only in B %d\n"
                   % (c["both"].size, c["only_a"].size, c["only_b"].size))
    if first is not None:
        where = "A" if np.isin(c["first"], c["only_a"]) else "B"
        other = "B" if where == "A" else "A"
        verdict.append("first divergence: tick %d, tile %d, neuron %d: spike at offset %d in %s, "
                       "not in %s\n" % (first["tick"], first["tile"], first["neuron"],
                                        first["offset"], where, other),
                       style="bold reverse " + (STYLE_ONLY_A if where == "A" else STYLE_ONLY_B))
    if c["hash_tick"] is not None:
        verdict.append("state hash first differs at tick %d\n" % c["hash_tick"], style="bold red")
    api = _first_divergence_api(a, b)
    if api:
        verdict.append("trace comparison: %s\n" % api, style="bold")
    if c["differing"]:
        verdict.append("arrays that differ: " + ", ".join(c["differing"]) + "\n", style="yellow")
    if c["meta_differs"]:
        verdict.append("meta fields that differ: " + ", ".join(c["meta_differs"]) + "\n",
                       style="yellow")
    verdict.rstrip()
    out.append(Panel(verdict, title="Diff · A vs B", title_align="left", padding=(0, 1)))

    # -- diff raster
    n_tiles = max(a.n_tiles, b.n_tiles)
    picked = parse_index_list(tiles, n_tiles, "tiles") if not isinstance(tiles, np.ndarray) else tiles
    per_tile_diff = np.bincount(np.concatenate([_unpack(c["only_a"])[1], _unpack(c["only_b"])[1]]),
                                minlength=n_tiles)
    if picked is None:
        order = np.argsort(-per_tile_diff, kind="stable")
        picked = order[per_tile_diff[order] > 0][:MAX_TILES]
        if picked.size == 0:
            picked = np.arange(min(n_tiles, 2))
        picked = np.sort(picked)
    out.append(_diff_raster(c, a if a.ticks >= b.ticks else b, picked, tick_a, tick_b, look,
                            first, per_tile_diff))
    return out


def _first_divergence_api(a: TraceView, b: TraceView) -> str | None:
    """What ``emulator.trace.Trace.first_divergence`` says, when that module provides it."""
    try:
        from emulator.trace import Trace
    except ImportError:
        return None
    fn = getattr(Trace, "first_divergence", None)
    if fn is None or max(a.arrays["spk_tick"].size, b.arrays["spk_tick"].size) > 200_000:
        return None                  # it walks spikes in Python: too slow for huge traces
    try:
        ta = Trace(a.arrays, a.meta) if not isinstance(a, Trace) else a
        tb = Trace(b.arrays, b.meta) if not isinstance(b, Trace) else b
        result = fn(ta, tb)
    except Exception:  # noqa: BLE001 - an informative extra; the viewer's own diff stands
        return None
    if isinstance(result, dict):
        return ", ".join("%s=%s" % (k, v) for k, v in result.items())
    return None if result is None else str(result)


def _diff_raster(c, view, tiles, tick_a, tick_b, look, first, per_tile_diff) -> Panel:
    span = tick_b - tick_a
    plot = max(10, look.inner - GUTTER)
    per_col = max(1, -(-span // plot))
    cols = -(-span // per_col)
    body = Text()
    legend = Text.assemble(("A", STYLE_ONLY_A), " only in A  ", ("B", STYLE_ONLY_B),
                           " only in B  ", ("X", "bold magenta"), " both kinds  ",
                           ("·", STYLE_BOTH), " same in both  1 column = %d tick%s\n"
                           % (per_col, "" if per_col == 1 else "s"), style="grey62")
    body.append_text(legend)
    first_col = None
    if first is not None and tick_a <= first["tick"] < tick_b:
        first_col = (first["tick"] - tick_a) // per_col
        body.append(" " * GUTTER + " " * first_col + "▼ first divergence (tick %d)\n"
                    % first["tick"], style="bold")
    groups = {"both": _unpack(c["both"]), "only_a": _unpack(c["only_a"]),
              "only_b": _unpack(c["only_b"])}
    for tile in tiles.tolist():
        neurons = view.tiles[tile].neurons if tile < len(view.tiles) else 256
        per_row = max(1, -(-neurons // MAX_ROWS))
        rows = -(-neurons // per_row)
        flags = np.zeros(rows * cols, np.int64)
        for bit, key in ((1, "both"), (2, "only_a"), (4, "only_b")):
            tk, tl, nr = groups[key]
            keep = (tl == tile) & (tk >= tick_a) & (tk < tick_b)
            cell = (nr[keep] // per_row) * cols + (tk[keep] - tick_a) // per_col
            hit = np.bincount(cell[cell < rows * cols], minlength=rows * cols) > 0
            flags |= hit * bit
        flags = flags.reshape(rows, cols)
        body.append("tile %d · %d only in A · %d only in B%s\n" % (
            tile, int(np.count_nonzero(groups["only_a"][1] == tile)),
            int(np.count_nonzero(groups["only_b"][1] == tile)),
            "" if per_row == 1 else " · 1 row = %d neurons" % per_row), style="bold")
        glyphs = np.array([" ", "·", "A", "A", "B", "B", "X", "X"])
        styles = ("", STYLE_BOTH, STYLE_ONLY_A, STYLE_ONLY_A, STYLE_ONLY_B, STYLE_ONLY_B,
                  "bold magenta", "bold magenta")
        for r in range(rows):
            body.append(("n%4d" % (r * per_row)).ljust(GUTTER - 1) + "┤", style="grey62")
            row = flags[r]
            for col, f in enumerate(row.tolist()):
                style = styles[f]
                if (first is not None and first["tile"] == tile and col == first_col
                        and first["neuron"] // per_row == r):
                    style = (style + " reverse").strip()
                body.append(glyphs[f], style=style)
            body.append("\n")
    body.append_text(time_axis(tick_a, per_col, cols, GUTTER, "tick"))
    return Panel(body, title="Diff raster · ticks %d–%d" % (tick_a, tick_b - 1),
                 title_align="left", padding=(0, 1))


def render_diff(trace_a, trace_b, console, *, tiles=None, ticks=None, width=None) -> dict:
    """Print the diff of two traces on ``console``; return the comparison summary.

    ``trace_a``/``trace_b`` are ``emulator.trace.Trace`` objects (anything with ``arrays`` and
    ``meta``), :class:`TraceView` objects or paths. The returned dict has the counts
    ``both``, ``only_a``, ``only_b``, the ``first`` divergence (dict or None) and ``agree``.
    """
    a, b = _view(trace_a, "A"), _view(trace_b, "B")
    look = look_for(console, width)
    c = compare(a, b)
    console.print(Group(*diff_renderables(a, b, look, tiles=tiles, ticks=ticks, comparison=c)))
    return {"both": int(c["both"].size), "only_a": int(c["only_a"].size),
            "only_b": int(c["only_b"].size),
            "first": decode_key(c["first"]) if c["first"] is not None else None,
            "agree": not c["differing"] and not c["meta_differs"]}
