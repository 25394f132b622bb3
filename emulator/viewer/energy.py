"""Energy: the trace's integer counters (docs/SPEC.md section 14) and, priced by
``emulator/energy.py``, joules per category with totals and per-tick figures."""

from __future__ import annotations

import numpy as np
from rich.console import Group
from rich.panel import Panel
from rich.table import Table
from rich.text import Text

from emulator.viewer.common import Look, human, si

# (label, counter array, key of the energy model's parts)
CATEGORIES = (
    ("MAC (TD-MAC)", "cnt_mac_ops", "tdmac_mac"),
    ("synaptic events", "cnt_syn_events", "synaptic_events"),
    ("neuron updates", "cnt_neuron_updates", "neuron_updates"),
    ("routing (hops)", "cnt_hops", "routing"),
    ("learning (STDP)", "cnt_stdp_updates", "learning"),
    ("static (tile-cycles)", None, "static"),
)


def energy_model(view):
    """The energy model's breakdown dict, or None when the model is not available."""
    try:
        import emulator.energy as model
    except ModuleNotFoundError as e:
        if e.name != "emulator.energy":
            raise
        return None
    fn = getattr(model, "energy_breakdown", None) or getattr(model, "breakdown", None)
    if fn is None:
        return None
    counters = {k: v for k, v in view.arrays.items() if k.startswith("cnt_")}
    try:
        return fn(view.meta, counters)
    except (KeyError, TypeError, ValueError):
        return None


SPARKS = " ▁▂▃▄▅▆▇█"


def sparkline(values: np.ndarray, width: int) -> str:
    """``values`` (one per tick) as ``width`` block characters, each the mean of its bin,
    scaled to the largest bin; a bin with any energy shows at least ``▁``."""
    if values.size == 0 or width <= 0:
        return ""
    edges = np.unique(np.linspace(0, values.size, min(width, values.size) + 1).astype(np.int64))
    means = np.add.reduceat(values, edges[:-1]) / np.diff(edges)
    top = float(means.max())
    if top <= 0:
        return " " * len(means)
    levels = np.where(means > 0, np.maximum(1, np.ceil(means / top * 8)), 0).astype(int)
    return "".join(SPARKS[i] for i in levels)


def per_tick_energy(view, sel):
    """``{part: joules per tick}`` over the selected ticks, or None without counters."""
    from emulator import counters

    try:
        e = counters.energy_per_tick(view)
    except (counters.CounterError, KeyError, ValueError):
        return None
    return {k: v[sel.tick_a:sel.tick_b] for k, v in e["parts_j"].items()}, \
        e["unattributed_learning_j"]


def energy_panel(view, sel, look: Look) -> Panel | None:
    if not any(k.startswith("cnt_") for k in view.arrays):
        return None
    ticks = max(1, view.ticks)
    active = sum(1 for t in view.tiles if t.core != "off")
    result = energy_model(view)
    parts = (result or {}).get("parts_j") or {}
    table = Table(expand=False, box=None, padding=(0, 1), header_style="bold")
    table.add_column("category")
    table.add_column("events", justify="right")
    table.add_column("per tick", justify="right")
    if result:
        table.add_column("energy", justify="right")
        table.add_column("per tick", justify="right")
        table.add_column("share", justify="right")
    total_j = float(result.get("total_j", sum(parts.values()))) if result else 0.0
    ticks_e = per_tick_energy(view, sel) if result else None
    spark_w = max(8, min(40, look.inner - 72))
    if ticks_e:
        table.add_column("ticks %d–%d" % (sel.tick_a, sel.tick_b - 1), no_wrap=True,
                         style="green")
    seen = set()
    notes = []
    for label, key, part in CATEGORIES:
        if key is None:
            events = active * view.cycles
        elif key in view.arrays:
            events = int(np.sum(view.arrays[key]))
        else:
            continue
        row = [label, human(events), "%.4g" % (events / ticks)]
        if result:
            j = float(parts.get(part, 0.0))
            seen.add(part)
            row += [si(j, "J"), si(j / ticks, "J"), "%.1f%%" % (100 * j / total_j) if total_j else "-"]
            if ticks_e:
                row.append(sparkline(ticks_e[0].get(part, np.zeros(0)), spark_w))
        table.add_row(*row)
    if result:
        for part, j in parts.items():
            if part not in seen:
                table.add_row(part.replace("_", " "), "", "", si(float(j), "J"), si(float(j) / ticks, "J"),
                              "%.1f%%" % (100 * float(j) / total_j) if total_j else "-")
        total_row = ["total", "", "", si(total_j, "J"), si(total_j / ticks, "J"), "100%"]
        if ticks_e:
            window = sum(ticks_e[0].values())
            total_row.append(sparkline(window, spark_w))
        table.add_row(*total_row, style="bold")
        if ticks_e:
            window = sum(ticks_e[0].values())
            note = "per tick in ticks %d–%d: min %s · mean %s · max %s (tick %d)" % (
                sel.tick_a, sel.tick_b - 1, si(float(window.min()), "J"),
                si(float(window.mean()), "J"), si(float(window.max()), "J"),
                sel.tick_a + int(window.argmax()))
            if ticks_e[1]:
                note += " · %s of learning not attributable to ticks" % si(ticks_e[1], "J")
            notes.append(note)
        title = "Energy · whole run · %s over %s (%s)" % (
            si(total_j, "J"), si(float(result.get("seconds", 0.0)), "s"),
            si(float(result.get("power_w", 0.0)), "W"))
    else:
        title = "Energy counters · whole run (energy model not available: raw counts)"
    body = Group(table, *(Text(n, style="grey62") for n in notes)) if notes else table
    return Panel(body, title=title, title_align="left", padding=(0, 1))
