"""Energy: the trace's integer counters (docs/SPEC.md section 14) and, priced by
``emulator/energy.py``, joules per category with totals and per-tick figures."""

from __future__ import annotations

import numpy as np
from rich.panel import Panel
from rich.table import Table

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
    seen = set()
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
        table.add_row(*row)
    if result:
        for part, j in parts.items():
            if part not in seen:
                table.add_row(part.replace("_", " "), "", "", si(float(j), "J"), si(float(j) / ticks, "J"),
                              "%.1f%%" % (100 * float(j) / total_j) if total_j else "-")
        table.add_row("total", "", "", si(total_j, "J"), si(total_j / ticks, "J"), "100%",
                      style="bold")
        title = "Energy · whole run · %s over %s (%s)" % (
            si(total_j, "J"), si(float(result.get("seconds", 0.0)), "s"),
            si(float(result.get("power_w", 0.0)), "W"))
    else:
        title = "Energy counters · whole run (energy model not available: raw counts)"
    return Panel(table, title=title, title_align="left", padding=(0, 1))
