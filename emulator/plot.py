"""Figures of a trace with matplotlib (the ``plot`` extra: ``pip install neurotile[plot]``).

Every function takes a trace (a :class:`emulator.trace.Trace`, a viewer ``TraceView`` or a
path), draws on ``ax=`` (a new figure when omitted) and returns the axes, so panels compose
into the user's own figures, as Brian2's and SANA-FE's plotting helpers do::

    import matplotlib.pyplot as plt
    from emulator import plot
    fig, (a, b) = plt.subplots(2, 1)
    plot.raster(trace, ax=a, ticks=(0, 40))
    plot.probes(trace, ax=b)

:func:`report` draws every panel on one page (``neurotile view TRACE --png/--pdf``).
Like the terminal viewer, these read only the trace (docs/SPEC.md section 16).
"""

from __future__ import annotations

import os

import numpy as np

from emulator.units import si_scale

#: tile colours (tile i gets COLOURS[i % len]); colour-blind safe "tab10" order
COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd", "#8c564b", "#e377c2",
           "#7f7f7f", "#bcbd22", "#17becf")
ENERGY_COLOURS = {"tdmac_mac": "#9467bd", "synaptic_events": "#1f77b4",
                  "neuron_updates": "#2ca02c", "learning": "#d62728", "routing": "#ff7f0e",
                  "static": "#7f7f7f"}
ENERGY_LABELS = {"tdmac_mac": "MAC (TD-MAC)", "synaptic_events": "synaptic events",
                 "neuron_updates": "neuron updates", "learning": "learning (STDP)",
                 "routing": "routing (hops)", "static": "static"}


def _view(trace):
    from emulator.viewer.model import TraceView, load_trace

    if isinstance(trace, (str, os.PathLike)):
        return load_trace(trace)
    return TraceView.from_trace(trace)


def _ax(ax, figsize=(8, 3)):
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    return plt.subplots(figsize=figsize, layout="constrained")[1]


def _selection(view, tiles=None, neurons=None, ticks=None):
    from emulator.viewer.model import make_selection

    if isinstance(ticks, (list, tuple)) and len(ticks) == 2:
        ticks = (max(0, int(ticks[0])), min(view.ticks, int(ticks[1])))
    if isinstance(tiles, (list, tuple, range)):
        tiles = np.array(sorted(int(t) for t in tiles), np.int64)
    if isinstance(neurons, (list, tuple, range)):
        neurons = np.array(sorted(int(n) for n in neurons), np.int64)
    return make_selection(view, tiles=tiles, neurons=neurons, ticks=ticks)


def _empty(ax, message):
    ax.text(0.5, 0.5, message, ha="center", va="center", transform=ax.transAxes,
            color="0.4")
    ax.set_xticks([])
    ax.set_yticks([])
    return ax


def raster(trace, ax=None, *, tiles=None, neurons=None, ticks=None, cycles=False,
           inputs=False, markersize=None):
    """Spike raster: time across, one row per neuron, tiles stacked and coloured by tile.

    ``ticks=(a, b)`` (half open) or ``"a:b"``; ``tiles``/``neurons``: lists or ``"0-3,7"``;
    ``cycles=True`` puts spikes at their absolute cycle. One marker per spike in range (one
    scatter collection per tile, labelled ``tile N``). ``inputs=True`` adds the external
    input spikes as grey ticks on the axon rows below the neurons of their tile.
    """
    view = _view(trace)
    sel = _selection(view, tiles, neurons, ticks)
    ax = _ax(ax)
    spk = view.spikes(sel)
    inp = view.inputs(sel) if inputs else None
    base = 0
    yticks, ylabels = [], []
    n_points = spk["tick"].size
    total_rows = sum(view.tiles[t].neurons + (view.tiles[t].axons if inputs else 0) + 1
                     for t in sel.tiles.tolist())
    if markersize is None:
        # a "|" marker is sqrt(s) points long: make it 80% of a row, within reason
        box = ax.get_window_extent()
        row_pt = box.height * 72.0 / ax.figure.dpi / max(1, total_rows)
        markersize = float(np.clip(0.8 * row_pt, 1.0, 14.0)) ** 2
    size = markersize
    for tile in sel.tiles.tolist():
        info = view.tiles[tile]
        rows = sel.neurons[sel.neurons < info.neurons] if sel.neurons is not None \
            else np.arange(info.neurons)
        n_rows = max(1, rows.size)
        mine = spk["tile"] == tile
        y = base + np.searchsorted(rows, spk["neuron"][mine])
        x = (view.tick_start[spk["tick"][mine]] + spk["offset"][mine]) if cycles \
            else spk["tick"][mine]
        colour = COLOURS[tile % len(COLOURS)]
        ax.scatter(x, y, s=size, marker="|", color=colour, linewidths=1.5,
                   label="tile %d" % tile, rasterized=n_points > 20000)
        if inp is not None:
            im = inp["tile"] == tile
            xi = (view.tick_start[inp["tick"][im]] + inp["offset"][im]) if cycles \
                else inp["tick"][im]
            ax.scatter(xi, base + n_rows + inp["axon"][im], s=size, marker="|",
                       color="0.55", linewidths=0.8, label="_inputs")
            n_rows += max(1, info.axons)
        yticks.append(base + (rows.size - 1) / 2 if rows.size else base)
        ylabels.append("tile %d" % tile)
        base += n_rows
        if tile != sel.tiles[-1]:
            ax.axhline(base - 0.5, color="0.85", lw=0.8, zorder=0)
            base += 1
    x0 = int(view.tick_start[sel.tick_a]) if cycles else sel.tick_a
    x1 = int(view.tick_start[sel.tick_b]) if cycles else sel.tick_b
    ax.set_xlim(x0 - 0.5, x1 - 0.5)
    ax.set_ylim(base - 0.5, -0.5 - (0 if base else 1))        # neuron 0 on top
    ax.set_xlabel("cycle" if cycles else "tick")
    if len(yticks) > 1:
        ax.set_yticks(yticks, ylabels)
        ax.set_ylabel("tile (neurons top to bottom)")
    else:
        from matplotlib.ticker import FuncFormatter, MaxNLocator

        rows = sel.neurons if sel.neurons is not None else np.arange(max(1, view.tiles[
            int(sel.tiles[0])].neurons))
        ax.yaxis.set_major_locator(MaxNLocator(min(16, rows.size), integer=True))
        ax.yaxis.set_major_formatter(FuncFormatter(
            lambda v, _: str(int(rows[int(v)])) if 0 <= v < rows.size else ""))
        ax.set_ylabel("neuron · tile %d" % int(sel.tiles[0]))
    ax.set_title("Spike raster · %d spikes · ticks %d–%d" % (n_points, sel.tick_a, sel.tick_b - 1),
                 loc="left", fontsize="medium")
    ax.grid(axis="x", color="0.92", lw=0.6)
    ax.set_axisbelow(True)
    return ax


def probes(trace, ax=None, *, ticks=None, which=None, threshold=True):
    """Membrane potential of every probed neuron per tick (``v``; TD-MAC: the charge ``D``),
    with the tile's threshold as a dashed line in the same colour."""
    view = _view(trace)
    ax = _ax(ax)
    a = view.arrays
    if not view.has("probe_tile", "probe_neuron", "probe_v") or a["probe_tile"].size == 0:
        return _empty(ax, "no probes recorded")
    sel = _selection(view, ticks=ticks)
    t = np.arange(sel.tick_a, sel.tick_b)
    picks = range(a["probe_tile"].size) if which is None else which
    drawn = set()
    picks = list(picks)
    # probes of several tiles: the tile's colour (as in the raster); of one tile: one colour
    # per probe and the threshold in grey
    by_tile = len({int(a["probe_tile"][i]) for i in picks}) > 1
    for k, i in enumerate(picks):
        tile, neuron = int(a["probe_tile"][i]), int(a["probe_neuron"][i])
        colour = COLOURS[(tile if by_tile else k) % len(COLOURS)]
        ax.plot(t, a["probe_v"][sel.tick_a:sel.tick_b, i], color=colour, lw=1.1,
                drawstyle="steps-post", label="tile %d n%d" % (tile, neuron))
        th = view.tiles[tile].threshold
        if threshold and th is not None and (tile, th) not in drawn:
            drawn.add((tile, th))
            values = a["probe_v"][sel.tick_a:sel.tick_b, picks]
            lo, hi = (int(values.min()), int(values.max())) if values.size else (0, 0)
            if lo - 3 * max(1, hi - lo) <= th <= hi + 3 * max(1, hi - lo):
                ax.axhline(th, color=colour if by_tile else "0.3", ls=(0, (6, 3)), lw=0.9,
                           alpha=0.8, label="threshold tile %d (%d)" % (tile, th))
            else:   # far off the data: a line there would flatten every trace
                ax.plot([], [], " ", label="threshold tile %d (%d, off scale)" % (tile, th))
    ax.set_xlabel("tick")
    ax.set_ylabel("v (LIF) / charge D (TD-MAC)")
    ax.set_xlim(sel.tick_a, max(sel.tick_a + 1, sel.tick_b - 1))
    ax.legend(fontsize="small", loc="lower left", bbox_to_anchor=(0, 1.0), frameon=False,
              ncol=min(4, len(drawn) + len(picks)), borderaxespad=0.2)
    ax.set_title("Probes", loc="right", fontsize="medium")
    return ax


MESH_WHAT = {"spikes": "spikes per tile", "links": "link load (packets sent)",
             "fifo": "peak FIFO depth"}


def mesh_values(view, what: str, ticks=None) -> np.ndarray:
    """``[H, W]`` array of the per-tile figure the mesh heatmap shows (spikes: in the tick
    range ``ticks``; link load and FIFO depth are whole-run figures in the trace)."""
    n = view.n_tiles
    if what == "spikes":
        sel = _selection(view, ticks=ticks)
        s = view.tick_slice("spk_tick", sel.tick_a, sel.tick_b)
        v = np.bincount(view.arrays["spk_tile"][s], minlength=n)[:n]
    elif what == "links":
        v = np.asarray(view.arrays.get("link_busy", np.zeros((n, 5))))[:, 1:].sum(axis=1)
    elif what == "fifo":
        v = np.asarray(view.arrays.get("fifo_peak", np.zeros((n, 5)))).max(axis=1)
    else:
        raise ValueError("mesh: what is one of %s, not %r" % (", ".join(MESH_WHAT), what))
    return np.asarray(v, np.int64).reshape(view.mesh_h, view.mesh_w)


def mesh(trace, ax=None, *, what="spikes", ticks=None, cmap="viridis", colorbar=True):
    """Heatmap of the W x H mesh: ``what`` = ``"spikes"``, ``"links"`` (link load: packets
    sent on the tile's N/E/S/W ports) or ``"fifo"`` (peak FIFO depth); every cell is
    annotated with its value, x right and y down as in the chip's tile numbering."""
    view = _view(trace)
    ax = _ax(ax, figsize=(4, 3))
    v = mesh_values(view, what, ticks)
    im = ax.imshow(v, cmap=cmap, vmin=0, vmax=max(1, int(v.max())), origin="upper")
    top = max(1, int(v.max()))
    for y in range(v.shape[0]):
        for x in range(v.shape[1]):
            ax.text(x, y, "%d\n" % v[y, x] + "t%d" % (y * view.mesh_w + x), ha="center",
                    va="center", fontsize="small",
                    color="white" if v[y, x] < 0.6 * top else "black")
    ax.set_xticks(range(view.mesh_w))
    ax.set_yticks(range(view.mesh_h))
    ax.set_xlabel("x")
    ax.set_ylabel("y")
    ax.set_title("Mesh · " + MESH_WHAT[what] + ("" if what == "spikes" else " (run)"),
                 loc="left", fontsize="medium")
    if colorbar:
        from matplotlib.ticker import MaxNLocator

        _colorbar(ax, im, ticks=MaxNLocator(5, integer=True))
    return ax


def _colorbar(ax, im, **kw):
    """A colour bar as tall as the image, beside it (whatever the mesh's aspect)."""
    cax = ax.inset_axes([1.04, 0.0, 0.05, 1.0])
    return ax.figure.colorbar(im, cax=cax, **kw)


def latency(trace, ax=None, *, ticks=None):
    """Histogram of packet latency (``arrive - ready``, cycles) of delivered packets; the
    title gives the dropped count and the mean."""
    view = _view(trace)
    ax = _ax(ax, figsize=(4, 3))
    sel = _selection(view, ticks=ticks)
    pkt = view.packets(sel)
    if pkt is None or pkt["tick"].size == 0:
        return _empty(ax, "no packets recorded" if pkt is None else "no packets")
    ok = pkt["arrive"] >= 0
    lat = (pkt["arrive"] - pkt["ready"])[ok]
    if lat.size:
        lo, hi = int(lat.min()), int(lat.max())
        width = max(1, -(-(hi - lo + 1) // 40))
        ax.hist(lat, bins=np.arange(lo, hi + width + 1, width) - 0.5, color="#ff7f0e",
                edgecolor="white", lw=0.5)
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("latency (cycles)")
    ax.set_ylabel("packets")
    ax.set_title("Latency · %d delivered · %d dropped%s" % (
        lat.size, int((~ok).sum()), "\nmean %.2f cycles" % lat.mean() if lat.size else ""),
        loc="left", fontsize="medium")
    return ax


def weight_change(trace, ax=None, *, tile=None, cmap="RdBu_r", colorbar=True):
    """Heatmap of ``w_final - w_init`` of one tile (axons down, neurons across), red up,
    blue down, centred on 0; by default the tile with most changed weights."""
    from emulator.viewer.learning import changed_tiles, tile_weights

    view = _view(trace)
    ax = _ax(ax, figsize=(4, 3))
    if tile is None:
        changed = changed_tiles(view, [t.index for t in view.tiles if t.core != "off"])
        if not changed:
            return _empty(ax, "no weight changed" if view.has("w_init", "w_final")
                          else "weights not recorded")
        tile = changed[0][0]
    w = tile_weights(view, int(tile))
    if w is None:
        return _empty(ax, "tile %d has no weights recorded" % tile)
    dw = w[1] - w[0]
    top = max(1, int(np.abs(dw).max()))
    im = ax.imshow(dw, cmap=cmap, vmin=-top, vmax=top, aspect="auto", interpolation="nearest")
    from matplotlib.ticker import MaxNLocator

    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    ax.set_xlabel("neuron")
    ax.set_ylabel("axon")
    ax.set_title("Weight change · tile %d · %d changed" % (tile, int(np.count_nonzero(dw))),
                 loc="left", fontsize="medium")
    if colorbar:
        _colorbar(ax, im, label="Δw")
    return ax


def energy(trace, ax=None, *, ticks=None, bins=None, params=None):
    """Energy per category over time (stacked areas, per tick, or per bin of ticks when the
    run is long; ``bins`` sets their number), from the per-tick counters
    (:mod:`emulator.counters`)."""
    from emulator import counters

    view = _view(trace)
    ax = _ax(ax)
    try:
        e = counters.energy_per_tick(view, params)
    except counters.CounterError as err:
        return _empty(ax, str(err))
    sel = _selection(view, ticks=ticks)
    lo, hi = sel.tick_a, sel.tick_b
    parts = {k: v[lo:hi] for k, v in e["parts_j"].items() if np.any(v[lo:hi])}
    if not parts or hi <= lo:
        return _empty(ax, "no energy")
    n_bins = min(hi - lo, bins or 200)
    edges = np.unique(np.linspace(0, hi - lo, n_bins + 1).astype(np.int64))
    width = np.diff(edges)
    top = max(float(np.add.reduceat(sum(parts.values()), edges[:-1]).max() / width.min()), 1e-30)
    factor, unit = si_scale(top, "J")
    ys = [np.add.reduceat(v, edges[:-1]) / width * factor for v in parts.values()]
    ys = [np.append(y, y[-1]) for y in ys]          # the last bin reaches the last edge
    ax.stackplot(edges + lo, ys, step="post", labels=[ENERGY_LABELS.get(k, k) for k in parts],
                 colors=[ENERGY_COLOURS.get(k, "0.5") for k in parts])
    ax.set_xlim(lo, hi)
    ax.set_xlabel("tick")
    ax.set_ylabel("energy per tick (%s)" % unit)
    note = ""
    if e["unattributed_learning_j"]:
        from emulator.units import energy as fmt

        note = " · %s of learning not attributable to ticks" % fmt(e["unattributed_learning_j"])
    ax.set_title("Energy by category%s%s" % (
        "" if n_bins == hi - lo else " (mean over %d-tick bins)" % int(width.max()), note),
        loc="left", fontsize="medium")
    ax.legend(fontsize="small", loc="upper right")
    return ax


REPORT_PROBES = 4       # probes drawn in the report (the first ones); plot.probes draws all


def report(trace, path=None, *, ticks=None, tiles=None, title=None):
    """One page with every panel: raster, probes (the first four), latency, the three mesh
    heatmaps, weight change and energy. Saves to ``path`` (``.png`` or ``.pdf``, written atomically) when
    given; returns the figure."""
    import matplotlib.pyplot as plt

    view = _view(trace)
    fig = plt.figure(figsize=(11.69, 16.5), layout="constrained")
    grid = fig.add_gridspec(4, 3, height_ratios=(1.5, 1, 0.9, 1))
    raster(view, fig.add_subplot(grid[0, :]), ticks=ticks, tiles=tiles)
    n_probes = len(view.arrays.get("probe_tile", ()))
    probes(view, fig.add_subplot(grid[1, :2]), ticks=ticks,
           which=range(min(n_probes, REPORT_PROBES)) if n_probes else None)
    latency(view, fig.add_subplot(grid[1, 2]), ticks=ticks)
    for i, what in enumerate(("spikes", "links", "fifo")):
        mesh(view, fig.add_subplot(grid[2, i]), what=what, ticks=ticks)
    weight_change(view, fig.add_subplot(grid[3, 0]))
    energy(view, fig.add_subplot(grid[3, 1:]), ticks=ticks)
    from emulator.units import energy as fmt
    from emulator import energy as model

    total = model.breakdown(view.meta, view.arrays)["total_j"] if any(
        k.startswith("cnt_") for k in view.arrays) else 0.0
    fig.suptitle(title or "%s · %s · %d ticks, %d cycles · %s" % (
        view.meta.get("program") or view.name, view.meta.get("backend", "?"), view.ticks,
        view.cycles, fmt(total)), fontsize="large", x=0.02, ha="left")
    if path is not None:
        save(fig, path)
    return fig


def save(fig, path) -> None:
    """Save a figure atomically; the format follows the extension (.png, .pdf, .svg)."""
    from emulator.fileio import write_atomic

    fmt = os.path.splitext(os.fspath(path))[1].lstrip(".").lower() or "png"
    write_atomic(path, lambda fh: fig.savefig(fh, format=fmt, dpi=110))
