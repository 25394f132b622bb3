"""A trace as pandas DataFrames and an xarray Dataset (``Trace.to_pandas``/``to_xarray``).

Tidy frames: one row per event (spike, input, packet) or per (tick, probe) and
(tick, tile); columns keep the trace's integer dtypes, so values compare exactly with the
arrays. pandas and xarray are the ``data`` extra; importing this module needs them.
"""

from __future__ import annotations

import numpy as np

FRAMES = ("spikes", "inputs", "packets", "probes", "counters")


def _pd():
    try:
        import pandas as pd
    except ImportError:
        raise ImportError("Trace.to_pandas needs pandas: pip install 'neurotile[data]'") from None
    return pd


def _cycle(trace, tick, offset):
    return np.asarray(trace.arrays["tick_start"], np.int64)[tick] + offset


def spikes(trace):
    pd = _pd()
    a = trace.arrays
    return pd.DataFrame({"tick": a["spk_tick"], "offset": a["spk_offset"],
                         "cycle": _cycle(trace, a["spk_tick"], a["spk_offset"]),
                         "tile": a["spk_tile"], "neuron": a["spk_neuron"]})


def inputs(trace):
    pd = _pd()
    a = trace.arrays
    return pd.DataFrame({"tick": a["inp_tick"], "offset": a["inp_offset"],
                         "cycle": _cycle(trace, a["inp_tick"], a["inp_offset"]),
                         "tile": a["inp_tile"], "axon": a["inp_axon"]})


def packets(trace):
    pd = _pd()
    a = trace.arrays
    arrive = np.asarray(a["pkt_arrive"], np.int64)
    dropped = arrive < 0
    latency = pd.array(np.where(dropped, 0, arrive - a["pkt_ready"]), dtype="Int64")
    latency[dropped] = pd.NA
    return pd.DataFrame({"tick": a["pkt_tick"], "src_tile": a["pkt_src_tile"],
                         "src_neuron": a["pkt_src_neuron"], "dst_tile": a["pkt_dst_tile"],
                         "dst_axon": a["pkt_dst_axon"], "ready": a["pkt_ready"],
                         "arrive": arrive, "latency": latency, "hops": a["pkt_hops"],
                         "dropped": dropped})


def probes(trace):
    pd = _pd()
    a = trace.arrays
    v, u = np.asarray(a["probe_v"]), np.asarray(a["probe_u"])
    ticks, n = v.shape if v.ndim == 2 else (trace.n_ticks, 0)
    return pd.DataFrame({"tick": np.repeat(np.arange(ticks), n),
                         "probe": np.tile(np.arange(n), ticks),
                         "tile": np.tile(a["probe_tile"], ticks),
                         "neuron": np.tile(a["probe_neuron"], ticks),
                         "v": v.reshape(-1), "u": u.reshape(-1)})


def counters(trace):
    """One row per (tick, tile): the per-tick counters (-1 where not derivable, see
    :mod:`emulator.counters`)."""
    from emulator import counters as c

    pd = _pd()
    got = c.per_tick(trace)
    ticks, n = got["spikes"].shape
    cols = {"tick": np.repeat(np.arange(ticks), n), "tile": np.tile(np.arange(n), ticks)}
    for name in c.NAMES:
        cols[name] = got[name].reshape(-1)
    return pd.DataFrame(cols)


def to_pandas(trace, what=None):
    makers = {"spikes": spikes, "inputs": inputs, "packets": packets, "probes": probes,
              "counters": counters}
    if what is None:
        out = {}
        for name, make in makers.items():
            try:
                out[name] = make(trace)
            except ValueError:          # counters of a trace without logs or stored counters
                continue
        return out
    if what not in makers:
        raise ValueError("to_pandas: what is one of %s, not %r" % (", ".join(FRAMES), what))
    return makers[what](trace)


def to_xarray(trace):
    try:
        import xarray as xr
    except ImportError:
        raise ImportError("Trace.to_xarray needs xarray: pip install 'neurotile[data]'") from None
    from emulator import counters as c

    a, meta = trace.arrays, trace.meta
    ticks = trace.n_ticks
    mesh = meta.get("mesh") or [1, 1]
    n = int(mesh[0]) * int(mesh[1])
    tiles = meta.get("tiles") or [{}] * n
    ts = np.asarray(a["tick_start"], np.int64)
    coords = {"tick": np.arange(ticks), "tile": np.arange(n),
              "cycle_start": ("tick", ts[:-1]),
              "x": ("tile", np.arange(n) % int(mesh[0])), "y": ("tile", np.arange(n) // int(mesh[0])),
              "core": ("tile", [str(t.get("core", "off")) for t in tiles]),
              "probe": np.arange(len(a["probe_tile"])),
              "probe_tile": ("probe", np.asarray(a["probe_tile"])),
              "probe_neuron": ("probe", np.asarray(a["probe_neuron"]))}
    data = {"v": (("tick", "probe"), np.asarray(a["probe_v"]).reshape(ticks, -1)),
            "u": (("tick", "probe"), np.asarray(a["probe_u"]).reshape(ticks, -1)),
            "stall": ("tick", np.asarray(a["stall"])),
            "dropped_packets": ("tick", np.asarray(a["dropped"])),
            "cycles": ("tick", np.diff(ts))}
    attrs = {k: v for k, v in meta.items() if isinstance(v, (str, int, float))}
    try:
        got = c.per_tick(trace)
    except c.CounterError:
        got = None
    if got is not None:
        for name in c.NAMES:
            data[name] = (("tick", "tile"), got[name])
        e = c.energy_per_tick(trace, counters=got)
        cats = list(e["parts_j"])
        coords["category"] = cats
        data["energy_j"] = (("tick", "category"), np.stack([e["parts_j"][k] for k in cats], 1))
        attrs["inexact_stdp_tiles"] = ",".join(map(str, got.inexact.get("stdp_updates", [])))
    return xr.Dataset(data, coords=coords, attrs=attrs)
