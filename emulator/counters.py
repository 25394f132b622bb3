"""Per-tick counters and energy, derived exactly from a trace's event logs.

The backends count energy events per tile for the whole run (``cnt_*``, docs/SPEC.md
section 14). The trace's logs (spikes, external inputs, packets) hold enough to recount
most of them tick by tick, with the same definitions, so the per-tick figures come from
the trace and need nothing from the engine:

- ``spikes``, ``inputs``: output spikes and external input spikes of a tile in a tick.
- ``packets``, ``dropped``: packets a tile emitted in a tick, and how many of them were
  dropped (fixed mode).
- ``hops``: packets sent on a tile's N/E/S/W output ports during the tick: every packet
  follows its XY path (SPEC section 9) and crossed its first ``pkt_hops`` links (a dropped
  packet too: ``pkt_hops`` counts the links crossed before the drop).
- ``syn_events`` (LIF): ``sum cnt[k] * N``, where ``cnt[k]`` (saturating at 255) counts the
  spikes on axon ``k`` consumed in the tick: external inputs of the tick plus the packets
  delivered during the previous tick.
- ``mac_ops`` (TD-MAC): (axons whose earliest arrival is ``< t_in``) ``* N``; the arrival of
  a packet is its payload offset, the emission offset minus the source's ``t_in`` (0 for a
  LIF source).
- ``neuron_updates``: ``N`` every tick for every tile that is not off.
- ``stdp_updates``: ``|P|*N + |Q|*A - |P|*|Q|`` in ticks where the tile learns. Whether the
  learning switch is on is not in the trace, so this is exact only when the sum over the
  ticks equals the run's total: every term is positive when ``P`` or ``Q`` is non-empty, so
  the sum can reach the total only if the switch was on in every tick that counts. Tiles
  where it does not (learning switched off while active, or rewards applied) get ``-1`` in
  every tick and are listed in ``inexact``.

:func:`per_tick` returns ``[ticks, tiles]`` int64 arrays; :func:`energy_per_tick` prices
them with the energy model's parameters; :func:`write_csv` writes a per-tick table (like
SANA-FE's performance trace). A trace saved without its logs (``--record``) carries the
counters themselves as ``per_tick_<name>`` arrays, which these functions read instead.
"""

from __future__ import annotations

import numpy as np

#: counters recounted per tick and tile, in CSV column order; each names its ``cnt_`` total
#: (None: no per-run total to check against)
COUNTERS = (("spikes", None), ("inputs", None), ("packets", None), ("dropped", None),
            ("hops", "cnt_hops"), ("syn_events", "cnt_syn_events"), ("mac_ops", "cnt_mac_ops"),
            ("neuron_updates", "cnt_neuron_updates"), ("stdp_updates", "cnt_stdp_updates"))
NAMES = tuple(name for name, _ in COUNTERS)
STORED_PREFIX = "per_tick_"
_AXON_SPAN = 256            # axons per tile at most (SPEC section 2): key = (tick, tile, axon)


class CounterError(ValueError):
    """The trace holds neither the logs nor stored per-tick counters."""


class TickCounters(dict):
    """``{name: int64 [ticks, tiles]}`` plus ``inexact``: {counter: [tiles it is not exact for]}."""

    inexact: dict

    def total(self, name: str) -> np.ndarray:
        """Per-tick sum over tiles (``[ticks]``); -1 entries (not derivable) count as 0."""
        return np.where(self[name] < 0, 0, self[name]).sum(axis=1)


def _geometry(meta):
    tiles = meta.get("tiles") or []
    mesh = meta.get("mesh") or [1, len(tiles) or 1]
    n = int(mesh[0]) * int(mesh[1])
    core = [str((tiles[i] if i < len(tiles) else {}).get("core", "off")) for i in range(n)]
    axons = np.array([int((tiles[i] if i < len(tiles) else {}).get("axons", 0) or 0)
                      for i in range(n)], np.int64)
    neurons = np.array([int((tiles[i] if i < len(tiles) else {}).get("neurons", 0) or 0)
                        for i in range(n)], np.int64)
    t_in = np.array([int((tiles[i] if i < len(tiles) else {}).get("t_in", 0) or 0)
                     if core[i] == "tdmac" else 0 for i in range(n)], np.int64)
    return int(mesh[0]), n, core, axons, neurons, t_in


def _count(tick, tile, ticks, n):
    tick = np.asarray(tick, np.int64)
    tile = np.asarray(tile, np.int64)
    if tick.size == 0:
        return np.zeros((ticks, n), np.int64)
    return np.bincount(tick * n + tile, minlength=ticks * n)[:ticks * n].reshape(ticks, n)


def _hops(a, ticks, n, width):
    """Links each tile sent packets on, per tick: walk every packet's XY path."""
    hops = np.asarray(a["pkt_hops"], np.int64)
    if hops.sum() == 0:
        return np.zeros((ticks, n), np.int64)
    src = np.asarray(a["pkt_src_tile"], np.int64)
    dst = np.asarray(a["pkt_dst_tile"], np.int64)
    x0, y0, x1, y1 = src % width, src // width, dst % width, dst // width
    idx = np.repeat(np.arange(hops.size), hops)                 # one row per link crossed
    step = np.arange(idx.size) - np.repeat(np.cumsum(hops) - hops, hops)
    dx = np.abs(x1 - x0)[idx]
    in_x = step < dx                                            # X first, then Y
    x = np.where(in_x, x0[idx] + np.sign(x1 - x0)[idx] * step, x1[idx])
    y = np.where(in_x, y0[idx], y0[idx] + np.sign(y1 - y0)[idx] * (step - dx))
    return _count(np.asarray(a["pkt_tick"], np.int64)[idx], y * width + x, ticks, n)


def _consumed(a, ticks, n, t_in):
    """What each tile consumed per tick, keyed ``(tick * n + tile) * 256 + axon``:
    the external inputs of the tick and the packets delivered in the tick before
    (SPEC section 5, phase 1). Returns (keys, arrival offsets)."""
    inp_tick = np.asarray(a["inp_tick"], np.int64)
    inp_key = (inp_tick * n + np.asarray(a["inp_tile"], np.int64)) * _AXON_SPAN \
        + np.asarray(a["inp_axon"], np.int64)
    inp_arr = np.asarray(a["inp_offset"], np.int64)
    ok = np.asarray(a["pkt_arrive"], np.int64) >= 0
    ptick = np.asarray(a["pkt_tick"], np.int64)[ok]
    src = np.asarray(a["pkt_src_tile"], np.int64)[ok]
    emitted = np.asarray(a["pkt_ready"], np.int64)[ok] - np.asarray(a["tick_start"], np.int64)[ptick]
    used = ptick + 1 < ticks                        # the last tick's deliveries are never used
    pkt_key = ((ptick[used] + 1) * n + np.asarray(a["pkt_dst_tile"], np.int64)[ok][used]) \
        * _AXON_SPAN + np.asarray(a["pkt_dst_axon"], np.int64)[ok][used]
    pkt_arr = (emitted - t_in[src])[used]
    return np.concatenate([inp_key, pkt_key]), np.concatenate([inp_arr, pkt_arr])


def _stored(a, ticks, n):
    if not all(STORED_PREFIX + name in a for name in NAMES):
        return None
    out = TickCounters({name: np.asarray(a[STORED_PREFIX + name], np.int64) for name in NAMES})
    out.inexact = {"stdp_updates": sorted(set(np.flatnonzero(
        (out["stdp_updates"] < 0).any(axis=0)).tolist()))}
    return out


def has_logs(arrays) -> bool:
    """True when the event logs the derivation reads are all present."""
    need = ("spk_tick", "spk_tile", "inp_tick", "inp_tile", "inp_axon", "inp_offset",
            "pkt_tick", "pkt_src_tile", "pkt_dst_tile", "pkt_dst_axon", "pkt_ready",
            "pkt_arrive", "pkt_hops", "tick_start")
    return all(k in arrays for k in need)


def per_tick(trace) -> TickCounters:
    """Counters per tick and tile of a Trace (or anything with ``arrays`` and ``meta``)."""
    a, meta = trace.arrays, trace.meta
    ticks = int(len(a["tick_start"]) - 1)
    width, n, core, axons, neurons, t_in = _geometry(meta)
    recorded = meta.get("recorded")
    stored = _stored(a, ticks, n)
    if stored is not None and (recorded is not None or not has_logs(a)):
        return stored
    if not has_logs(a) or (recorded is not None and not {"spikes", "packets"} <= set(recorded)):
        raise CounterError("this trace was saved without its event logs or per-tick counters "
                           "(record spikes and packets, or counters)")
    out = TickCounters()
    out["spikes"] = _count(a["spk_tick"], a["spk_tile"], ticks, n)
    out["inputs"] = _count(a["inp_tick"], a["inp_tile"], ticks, n)
    out["packets"] = _count(a["pkt_tick"], a["pkt_src_tile"], ticks, n)
    dropped = np.asarray(a["pkt_arrive"]) < 0
    out["dropped"] = _count(np.asarray(a["pkt_tick"])[dropped],
                            np.asarray(a["pkt_src_tile"])[dropped], ticks, n)
    out["hops"] = _hops(a, ticks, n, width)

    keys, arrival = _consumed(a, ticks, n, t_in)
    uniq, inv = np.unique(keys, return_inverse=True)
    cell = uniq // _AXON_SPAN                                    # tick * n + tile
    tile_of = cell % n
    lif = np.array([c == "lif" for c in core], bool)
    tdmac = np.array([c == "tdmac" for c in core], bool)
    # LIF: cnt[k] saturates at 255 (SPEC section 5)
    cnt = np.minimum(np.bincount(inv, minlength=uniq.size), 255)
    syn = np.bincount(cell, weights=cnt * lif[tile_of], minlength=ticks * n)
    out["syn_events"] = np.rint(syn).astype(np.int64).reshape(ticks, n) * neurons
    # TD-MAC: earliest arrival per axon, counted when < t_in
    first = np.full(uniq.size, np.iinfo(np.int64).max, np.int64)
    np.minimum.at(first, inv, arrival)
    mac = np.bincount(cell, weights=(tdmac[tile_of] & (first < t_in[tile_of])),
                      minlength=ticks * n)
    out["mac_ops"] = np.rint(mac).astype(np.int64).reshape(ticks, n) * neurons
    active = np.array([c != "off" for c in core], bool)
    out["neuron_updates"] = np.broadcast_to(neurons * active, (ticks, n)).astype(np.int64)
    # STDP: P = axons with input, Q = fired neurons; exact only if it adds up (see above)
    pre = np.bincount(cell, weights=lif[tile_of], minlength=ticks * n)
    pre = np.rint(pre).astype(np.int64).reshape(ticks, n)
    post = out["spikes"] * lif
    stdp = pre * neurons + post * axons - pre * post
    total = np.asarray(a["cnt_stdp_updates"], np.int64) if "cnt_stdp_updates" in a else None
    inexact = []
    if total is not None:
        for t in range(n):
            if total[t] == 0:
                stdp[:, t] = 0
            elif stdp[:, t].sum() != total[t]:
                stdp[:, t] = -1
                inexact.append(t)
    out["stdp_updates"] = stdp
    out.inexact = {"stdp_updates": inexact}
    return out


def energy_per_tick(trace, params=None, counters: TickCounters | None = None) -> dict:
    """Energy per category per tick (joules, ``[ticks]`` float arrays), priced like
    :func:`emulator.energy.breakdown` (the two agree: the tests sum one into the other).

    Adds ``"unattributed_learning_j"``: the learning energy of tiles whose per-tick STDP
    count is not derivable (see the module docstring), which no tick carries.
    """
    from emulator.energy import EnergyParams

    p = params or EnergyParams()
    c = counters if counters is not None else per_tick(trace)
    _, n, core, axons, _, _ = _geometry(trace.meta)
    ts = np.asarray(trace.arrays["tick_start"], np.int64)
    active = np.array([x != "off" for x in core], bool)
    per_mac = p.c_farad * p.v_volt ** 2 / np.maximum(axons, 1).astype(np.float64)
    stdp = np.where(c["stdp_updates"] < 0, 0, c["stdp_updates"])
    parts = {
        "tdmac_mac": (c["mac_ops"] * per_mac).sum(axis=1),
        "synaptic_events": c["syn_events"].sum(axis=1) * p.e_syn_j,
        "neuron_updates": c["neuron_updates"].sum(axis=1) * p.e_neuron_j,
        "learning": stdp.sum(axis=1) * p.e_stdp_j,
        "routing": c["hops"].sum(axis=1) * p.e_hop_j,
        "static": np.diff(ts) * float(np.count_nonzero(active)) * p.e_static_j,
    }
    missing = 0.0
    if c.inexact.get("stdp_updates") and "cnt_stdp_updates" in trace.arrays:
        missing = float(np.asarray(trace.arrays["cnt_stdp_updates"])[
            c.inexact["stdp_updates"]].sum()) * p.e_stdp_j
    return {"parts_j": parts, "unattributed_learning_j": missing}


def table(trace, params=None) -> dict:
    """Per-tick rows (column -> ``[ticks]`` array): the CSV's content."""
    c = per_tick(trace)
    e = energy_per_tick(trace, params, c)
    ts = np.asarray(trace.arrays["tick_start"], np.int64)
    ticks = len(ts) - 1
    cols = {"tick": np.arange(ticks), "cycle_start": ts[:-1], "cycles": np.diff(ts)}
    cols["stall"] = np.asarray(trace.arrays.get("stall", np.zeros(ticks, np.int64)))
    for name in NAMES:
        v = c[name]
        if name in c.inexact and c.inexact[name]:
            cols[name] = np.where((v < 0).any(axis=1), -1, v.sum(axis=1))
        else:
            cols[name] = v.sum(axis=1)
    total = np.zeros(ticks)
    for part, values in e["parts_j"].items():
        cols["energy_%s_j" % part] = values
        total = total + values
    cols["energy_j"] = total
    return cols


def write_csv(trace, path, params=None) -> None:
    """Per-tick counters and energy as CSV (one row per tick, written atomically).

    Counters are summed over tiles; ``stdp_updates`` is -1 in every tick when some tile's
    count is not derivable (module docstring). Energy columns are joules.
    """
    import io

    from emulator.fileio import write_atomic

    cols = table(trace, params)
    buf = io.StringIO()
    names = list(cols)
    buf.write(",".join(names) + "\n")
    floats = {k for k in names if k.startswith("energy")}
    rows = zip(*[cols[k].tolist() for k in names])
    for row in rows:
        buf.write(",".join(("%.6g" % v) if k in floats else str(int(v))
                           for k, v in zip(names, row)) + "\n")
    write_atomic(path, buf.getvalue().encode())


def stored_arrays(trace) -> dict:
    """The ``per_tick_<name>`` arrays (int32 ``[ticks, tiles]``) a trace saved without its logs
    keeps, so that per-tick counters and energy survive ``--record``."""
    c = per_tick(trace)
    return {STORED_PREFIX + name: c[name].astype(np.int32) for name in NAMES}
