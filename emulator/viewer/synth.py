"""Synthetic, self-consistent traces (docs/SPEC.md section 16) for viewer tests and benchmarks.

Real traces come from the backends; these exist so the viewer can be tested on shapes a small
example program never produces (a million spikes, a 16-column mesh, dropped packets) and so
the benchmark does not depend on a backend's speed. Everything is vectorised: the generator
never loops over spikes in Python.

The arrays obey the spec's invariants: spikes sorted by (tick, tile, offset, neuron), one
packet per spike in spike order, ``pkt_arrive = tick_start[tick] + offset + hops + 1 + queueing``
(``-1`` when a fixed-mode packet misses its window), barrier stalls that make every packet
arrive before the next tick starts, ``link_busy`` counted along the XY path of every delivered
packet, probes that ramp and reset when their neuron fires.
"""

from __future__ import annotations

import json

import numpy as np

PORT_N, PORT_E, PORT_S, PORT_W, PORT_L = 1, 2, 3, 4, 0


def synthetic_trace(*, mesh=(3, 2), neurons=32, axons=32, ticks=200, spikes=None,
                    rate=0.05, window=16, router_mode="barrier", fifo_depth=4, probes=4,
                    inputs_per_tick=2, learning_tile=0, tdmac_tiles=(), seed=1,
                    program="synthetic", backend="synthetic") -> dict:
    """Return the arrays of a plausible trace (``meta`` as a 0-d JSON string), as np.load gives.

    ``spikes`` (total output spikes) overrides ``rate`` (spikes per neuron per tick). Tile
    activity rises with the tile index, so the last tile is the hottest; tiles listed in
    ``tdmac_tiles`` are TD-MAC tiles (spikes at offsets ``t_in .. window-1``).
    """
    rng = np.random.default_rng(seed)
    width, height = mesh
    n_tiles = width * height
    tdmac = np.zeros(n_tiles, bool)
    tdmac[list(tdmac_tiles)] = True
    t_in = max(1, window // 2)
    cells = ticks * neurons

    # -- output spikes: tile t gets a share proportional to (t + 1), distinct (tick, neuron)
    if spikes is None:
        spikes = int(rate * cells * n_tiles)
    share = np.arange(1, n_tiles + 1, dtype=float)
    per_tile = np.minimum(np.floor(spikes * share / share.sum()).astype(np.int64), cells)
    per_tile[-1] = min(cells, per_tile[-1] + spikes - per_tile.sum())
    parts_tick, parts_tile, parts_neuron = [], [], []
    for tile in range(n_tiles):          # one vectorised draw per tile, not per spike
        chosen = rng.choice(cells, int(per_tile[tile]), replace=False)
        parts_tick.append(chosen // neurons)
        parts_neuron.append(chosen % neurons)
        parts_tile.append(np.full(chosen.size, tile))
    spk_tick = np.concatenate(parts_tick).astype(np.int32)
    spk_tile = np.concatenate(parts_tile).astype(np.int32)
    spk_neuron = np.concatenate(parts_neuron).astype(np.int32)
    spk_offset = np.where(tdmac[spk_tile], rng.integers(t_in, window, spk_tick.size), 0)
    spk_offset = spk_offset.astype(np.int32)
    order = np.lexsort((spk_neuron, spk_offset, spk_tile, spk_tick))
    spk_tick, spk_tile, spk_offset, spk_neuron = (
        a[order] for a in (spk_tick, spk_tile, spk_offset, spk_neuron))

    # -- one packet per spike, to the next tile along the mesh (or itself on a 1x1 mesh)
    n_pkt = spk_tick.size
    dst_tile = ((spk_tile + 1 + spk_neuron % 2) % n_tiles).astype(np.int32)
    dst_axon = (spk_neuron % axons).astype(np.int32)
    sx, sy = spk_tile % width, spk_tile // width
    dx, dy = dst_tile % width, dst_tile // width
    hops = (np.abs(dx - sx) + np.abs(dy - sy)).astype(np.int32)
    queueing = rng.geometric(0.6, n_pkt) - 1
    rel_arrive = spk_offset.astype(np.int64) + hops + 1 + queueing
    late = rel_arrive >= window
    stall = np.zeros(ticks, np.int64)
    dropped = np.zeros(ticks, np.int64)
    if router_mode == "barrier":
        np.maximum.at(stall, spk_tick[late], rel_arrive[late] - window + 1)
    else:
        dropped = np.bincount(spk_tick[late], minlength=ticks).astype(np.int64)
    tick_start = np.zeros(ticks + 1, np.int64)
    tick_start[1:] = np.cumsum(window + stall)
    pkt_ready = tick_start[spk_tick] + spk_offset
    pkt_arrive = tick_start[spk_tick] + rel_arrive
    if router_mode != "barrier":
        pkt_arrive[late] = -1

    # -- link_busy along the XY path of every delivered packet (loop over hop steps only)
    link_busy = np.zeros((n_tiles, 5), np.int64)
    delivered = pkt_arrive >= 0
    cx, cy = sx[delivered].copy(), sy[delivered].copy()
    tx, ty = dx[delivered], dy[delivered]
    for _ in range(width + height):
        move_e, move_w = tx > cx, tx < cx
        move_s = ~move_e & ~move_w & (ty > cy)
        move_n = ~move_e & ~move_w & (ty < cy)
        here = cy * width + cx
        for mask, port in ((move_e, PORT_E), (move_w, PORT_W), (move_s, PORT_S), (move_n, PORT_N)):
            np.add.at(link_busy[:, port], here[mask], 1)
        cx = cx + move_e - move_w
        cy = cy + move_s - move_n
    link_busy[:, PORT_L] = np.bincount(dst_tile[delivered], minlength=n_tiles)
    fifo_peak = np.minimum(fifo_depth, 1 + link_busy // max(1, ticks // 2)).astype(np.int32)

    # -- external inputs into tile 0
    n_inp = ticks * inputs_per_tick
    inp_tick = np.sort(rng.integers(0, ticks, n_inp)).astype(np.int32)
    inp_tile = np.zeros(n_inp, np.int32)
    inp_axon = rng.integers(0, axons, n_inp).astype(np.int32)
    inp_offset = np.where(tdmac[0], rng.integers(0, t_in, n_inp), 0).astype(np.int32)

    # -- probes: v ramps towards the threshold and resets to 0 in the ticks its neuron fires
    vth = 64
    probe_tile = (np.arange(probes) % n_tiles).astype(np.int32)
    probe_neuron = (np.arange(probes) * 3 % neurons).astype(np.int32)
    probe_v = np.zeros((ticks, probes), np.int32)
    probe_u = np.zeros((ticks, probes), np.int32)
    for p in range(probes):              # per probe, vectorised over ticks
        fired = np.zeros(ticks, bool)
        fired[spk_tick[(spk_tile == probe_tile[p]) & (spk_neuron == probe_neuron[p])]] = True
        t = np.arange(ticks)
        last = np.maximum.accumulate(np.where(fired, t, -1))
        step = 5 + 3 * p
        probe_v[:, p] = np.where(fired, 0, np.minimum(vth - 1, (t - last) * step))
        probe_u[:, p] = step

    # -- weights: 4-bit crossbars; the learning tile changes some of them
    wmax = 7
    w_offsets = np.arange(n_tiles + 1, dtype=np.int64) * axons * neurons
    w_init = rng.integers(-wmax, wmax + 1, int(w_offsets[-1])).astype(np.int8)
    w_final = w_init.copy()
    if learning_tile is not None and learning_tile < n_tiles:
        lo, hi = w_offsets[learning_tile], w_offsets[learning_tile + 1]
        dw = rng.integers(-3, 4, int(hi - lo)) * (rng.random(int(hi - lo)) < 0.3)
        w_final[lo:hi] = np.clip(w_init[lo:hi].astype(int) + dw, -wmax, wmax).astype(np.int8)
    n_offsets = np.arange(n_tiles + 1, dtype=np.int64) * neurons
    v_final = rng.integers(0, vth, int(n_offsets[-1])).astype(np.int32)
    u_final = np.zeros(int(n_offsets[-1]), np.int32)

    # -- energy counters
    arrivals = np.bincount(dst_tile[delivered], minlength=n_tiles) \
        + np.bincount(inp_tile, minlength=n_tiles)
    cnt_syn = np.where(tdmac, 0, arrivals * neurons).astype(np.int64)
    cnt_mac = np.where(tdmac, arrivals * neurons, 0).astype(np.int64)
    cnt_upd = np.full(n_tiles, ticks * neurons, np.int64)
    cnt_stdp = np.zeros(n_tiles, np.int64)
    if learning_tile is not None and learning_tile < n_tiles:
        cnt_stdp[learning_tile] = arrivals[learning_tile] * neurons
    cnt_hops = link_busy[:, 1:].sum(axis=1)

    tiles_meta = []
    for tile in range(n_tiles):
        entry = {"core": "tdmac" if tdmac[tile] else "lif", "axons": axons, "neurons": neurons}
        if tdmac[tile]:
            entry.update(theta=vth, t_in=t_in)
        else:
            entry.update(vth=vth)
        tiles_meta.append(entry)
    meta = {
        "format": "neurotile-trace", "version": 1, "program": program,
        "image_sha256": "%064x" % int(rng.integers(0, 2**62)), "backend": backend,
        "seed": seed, "ticks": ticks, "cycles": int(tick_start[-1]), "mesh": [width, height],
        "window": window, "router_mode": router_mode, "fifo_depth": fifo_depth,
        "tiles": tiles_meta,
    }
    return {
        "meta": np.array(json.dumps(meta)),
        "tick_start": tick_start, "stall": stall, "dropped": dropped,
        "spk_tick": spk_tick, "spk_offset": spk_offset, "spk_tile": spk_tile,
        "spk_neuron": spk_neuron,
        "inp_tick": inp_tick, "inp_tile": inp_tile, "inp_axon": inp_axon,
        "inp_offset": inp_offset,
        "pkt_tick": spk_tick.copy(), "pkt_src_tile": spk_tile.copy(),
        "pkt_src_neuron": spk_neuron.copy(), "pkt_dst_tile": dst_tile, "pkt_dst_axon": dst_axon,
        "pkt_ready": pkt_ready, "pkt_arrive": pkt_arrive, "pkt_hops": hops,
        "link_busy": link_busy, "fifo_peak": fifo_peak,
        "probe_tile": probe_tile, "probe_neuron": probe_neuron,
        "probe_v": probe_v, "probe_u": probe_u,
        "mark_tick": np.zeros(0, np.int32), "mark_id": np.zeros(0, np.int32),
        "w_init": w_init, "w_final": w_final, "w_offsets": w_offsets,
        "v_final": v_final, "u_final": u_final, "n_offsets": n_offsets,
        "cnt_syn_events": cnt_syn, "cnt_mac_ops": cnt_mac, "cnt_neuron_updates": cnt_upd,
        "cnt_stdp_updates": cnt_stdp, "cnt_hops": cnt_hops,
        "state_hash": np.zeros(0, np.int64),
    }


def save_trace(path, arrays: dict) -> None:
    """Write ``arrays`` as an uncompressed ``.npz`` trace (no pickles)."""
    with open(path, "wb") as f:
        np.savez(f, **arrays)
