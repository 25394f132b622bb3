"""The `--report` table: NIR node -> tiles, neurons, synapses, quantisation error, hops."""

from __future__ import annotations

import numpy as np


def report_rows(comp) -> list:
    """One dict per NIR neuron node (the table's rows), for programs and tests."""
    rows = []
    for info in comp.pops.values():
        own = [p for p in info.tiles if not p.pop.startswith("relay:")]
        relays = [p for p in info.tiles if p.pop.startswith("relay:")]
        hops = np.asarray(info.hops, dtype=np.float64)
        rows.append({
            "node": info.name, "type": info.kind, "tiles": len(own), "relay_tiles": len(relays),
            "neurons": info.n, "synapses": info.synapses, "lag": info.lag,
            "scale": info.scale, "wshift": info.wshift, "weight_err": info.weight_err,
            "clipped": info.clipped, "groups": info.groups, "distinct_params": info.distinct,
            "param_err": info.param_err, "param_worst": info.param_worst, "bias": info.bias_mode,
            "vrange": info.vrange,
            "hops_mean": float(hops.mean()) if hops.size else 0.0,
            "hops_max": int(hops.max()) if hops.size else 0,
        })
    return rows


def format_report(comp) -> str:
    rows = report_rows(comp)
    head = ("node", "type", "tiles", "neurons", "synapses", "w err", "clipped", "groups",
            "param err", "lag", "hops")
    table = [head]
    for r in rows:
        table.append((
            r["node"], r["type"], "%d%s" % (r["tiles"], "+%dr" % r["relay_tiles"] if r["relay_tiles"] else ""),
            str(r["neurons"]), str(r["synapses"]), "%.2f%%" % (100 * r["weight_err"]),
            "%.2f%%" % (100 * r["clipped"]),
            "%d" % r["groups"] + (" (of %d)" % r["distinct_params"] if r["distinct_params"] != r["groups"] else ""),
            "%.2g%%" % (100 * r["param_err"]), str(r["lag"]),
            "%.1f/%d" % (r["hops_mean"], r["hops_max"])))
    widths = [max(len(row[i]) for row in table) for i in range(len(head))]
    lines = ["  ".join(c.ljust(w) for c, w in zip(row, widths)).rstrip() for row in table]
    lines.insert(1, "  ".join("-" * w for w in widths))
    n_tiles = sum(t is not None for t in comp.program.tiles)
    lines.append("")
    lines.append("%d tiles on a %dx%d mesh; dt = %g s; outputs lag the NIR graph by up to %d tick(s)."
                 % (n_tiles, comp.program.chip["mesh_w"], comp.program.chip["mesh_h"],
                    comp.options.dt, comp.max_lag))
    lines.append("w err: rms weight quantisation error / rms weight; groups: tiles' parameter sets "
                 "(of distinct float sets merged); param err: worst relative error of a quantised "
                 "threshold, dt/tau or bias; lag: ticks behind NIR; +Nr: relay tiles; hops: mean/max "
                 "per route.")
    for r in rows:
        lines.append("  %s: S = %.6g chip units per unit of v (2^%d fraction), v range +-%.4g, bias %s"
                     % (r["node"], r["scale"], r["wshift"], r["vrange"], r["bias"]))
        if r["distinct_params"] != r["groups"]:
            lines.append("  %s: %d neurons with %d distinct float parameter sets merged into %d tile "
                         "parameter sets; worst relative error %.2g%% (%s)"
                         % (r["node"], r["neurons"], r["distinct_params"], r["groups"],
                            100 * r["param_err"], r["param_worst"]))
    hmax = max((r["hops_max"] for r in rows), default=0)
    window = comp.program.chip["window"]
    lines.append("router: barrier mode, window %d cycles; the longest route has %d hops, so a "
                 "spike needs at least %d cycles to arrive%s; the busiest link carries %d routes "
                 "(at most that many packets per tick). Each layer costs one tick (the lag), "
                 "never a dropped spike." % (window, hmax, hmax + 1,
                                             " (more than the window: ticks stretch by stall cycles)"
                                             if hmax + 1 > window else "", comp.link_load))
    for note in comp.timing:
        lines.append("timing: " + note)
    return "\n".join(lines) + "\n"
