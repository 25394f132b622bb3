"""Peer: a minimal hand-written numba event loop (the practical limit of this machine).

It does only the arithmetic of the chip, with the same integers: event-driven
weight accumulation (one crossbar row of ``N`` int8 weights per delivered spike,
summed into int32), the LIF update of docs/SPEC.md section 6 (``du = 4096``
memoryless current, ``decay`` leak, saturation, threshold, reset), pair STDP
(section 10, deterministic rounding) when the workload has it, and the linear
TD-MAC dot product / spike time of section 7.  No router, no packets, no trace,
no probes, no counters beyond totals: spikes are delivered to the next tick
directly.  Its spike counts must equal neurotile's (same network, same inputs).

Usage: python handloop.py NET.npz [--repeats 3]   -> one JSON line on stdout.
Also importable: ``simulate(net)`` returns the totals and per-tick spike counts.
"""

from __future__ import annotations

import argparse
import json
import resource
import sys
import time

import numpy as np
from numba import njit

SAT_MAX = (1 << 23) - 1
SAT_MIN = -(1 << 23)


@njit(cache=True, inline="always")
def _decay(x, d):
    if x >= 0:
        return (x * (4096 - d)) >> 12
    return -(((-x) * (4096 - d)) >> 12)


@njit(cache=True)
def lif_kernel(ticks, W, route_ptr, route_gax, inp_ptr, inp_gax, vth, bias, dv, wshift,
               reset, refractory, stdp, sp):
    """sp: int64 [pre_inc, post_inc, pre_shift, post_shift, a_plus, a_minus, F, wmin, wmax]."""
    tiles, A, N = W.shape
    W2 = W.reshape(tiles * A, N)       # one contiguous row per global axon (same memory)
    nn = tiles * N
    v = np.zeros(nn, np.int64)
    ref = np.zeros(nn, np.int64)
    act = np.zeros(nn, np.int32)
    fired = np.empty(nn, np.int64)
    n_fired = 0
    per_tick = np.zeros(ticks, np.int64)
    # STDP state
    x = np.zeros(tiles * A, np.int64)
    y = np.zeros(nn, np.int64)
    cnt = np.zeros(tiles * A, np.int32)
    pre_list = np.empty(tiles * A, np.int64)
    isfired = np.zeros(nn, np.int8)
    syn = 0
    stdp_upd = 0
    for tk in range(ticks):
        # 1-2. inputs: last tick's spikes through their routes, then external spikes
        act[:] = 0
        n_pre = 0
        for i in range(n_fired):
            g = fired[i]
            for e in range(route_ptr[g], route_ptr[g + 1]):
                ga = route_gax[e]
                t = ga // A
                row = W2[ga]
                acc = act[t * N:(t + 1) * N]
                for n in range(N):
                    acc[n] += row[n]
                if stdp:
                    if cnt[ga] == 0:
                        pre_list[n_pre] = ga
                        n_pre += 1
                    cnt[ga] += 1
        for e in range(inp_ptr[tk], inp_ptr[tk + 1]):
            ga = inp_gax[e]
            t = ga // A
            row = W2[ga]
            acc = act[t * N:(t + 1) * N]
            for n in range(N):
                acc[n] += row[n]
            if stdp:
                if cnt[ga] == 0:
                    pre_list[n_pre] = ga
                    n_pre += 1
                cnt[ga] += 1
        syn += N * (inp_ptr[tk + 1] - inp_ptr[tk])
        for i in range(n_fired):
            g = fired[i]
            syn += N * (route_ptr[g + 1] - route_ptr[g])
        # LIF update
        n_fired = 0
        for g in range(nn):
            u = np.int64(act[g]) << wshift
            if u > SAT_MAX:
                u = SAT_MAX
            elif u < SAT_MIN:
                u = SAT_MIN
            if ref[g] > 0:
                ref[g] -= 1
                continue
            vv = _decay(v[g], dv) + u + bias
            if vv > SAT_MAX:
                vv = SAT_MAX
            elif vv < SAT_MIN:
                vv = SAT_MIN
            if vv >= vth:
                fired[n_fired] = g
                n_fired += 1
                if reset == 0:
                    vv = 0
                else:
                    vv = vv - vth
                ref[g] = refractory
            v[g] = vv
        per_tick[tk] = n_fired
        # STDP (pair mode, deterministic rounding), per tile
        if stdp:
            pre_inc, post_inc, pre_shift, post_shift = sp[0], sp[1], sp[2], sp[3]
            a_plus, a_minus, F, lo, hi = sp[4], sp[5], sp[6], sp[7], sp[8]
            half = (1 << (F - 1)) if F > 0 else 0
            for k in range(tiles * A):
                x[k] -= x[k] >> pre_shift
            for g in range(nn):
                y[g] -= y[g] >> post_shift
            for i in range(n_fired):
                isfired[fired[i]] = 1
            # pre spikes: every neuron of the tile that did not fire (depression only)
            for i in range(n_pre):
                ga = pre_list[i]
                t = ga // A
                wr = W[t, ga - t * A]
                for n in range(N):
                    if isfired[t * N + n] == 0:
                        d = -a_minus * y[t * N + n]
                        wr[n] = min(max(np.int64(wr[n]) + ((d + half) >> F), lo), hi)
                stdp_upd += N
            # post spikes: every axon of the fired neuron's tile
            for i in range(n_fired):
                g = fired[i]
                t = g // N
                n = g - t * N
                for k in range(A):
                    ga = t * A + k
                    if cnt[ga] > 0:
                        xk = x[ga] + pre_inc
                        if xk > 255:
                            xk = 255
                        d = a_plus * xk - a_minus * y[g]
                    else:
                        d = a_plus * x[ga]
                        stdp_upd += 1
                    W[t, k, n] = min(max(np.int64(W[t, k, n]) + ((d + half) >> F), lo), hi)
            for i in range(n_fired):
                isfired[fired[i]] = 0
            for i in range(n_pre):
                ga = pre_list[i]
                x[ga] = min(255, x[ga] + pre_inc)
                cnt[ga] = 0
            for i in range(n_fired):
                g = fired[i]
                y[g] = min(255, y[g] + post_inc)
    spikes = 0
    for tk in range(ticks):
        spikes += per_tick[tk]
    return spikes, syn, stdp_upd, per_tick


@njit(cache=True)
def tdmac_kernel(ticks, W, inp_ptr, inp_gax, inp_off, t_in, window, theta, ramp):
    """Linear TD-MAC layers in a chain: layer l's spike offsets are layer l+1's inputs next tick."""
    L, A, N = W.shape
    arr = np.full((L, A), 0xFFFF, np.int64)       # arrivals for this tick
    nxt = np.full((L, A), 0xFFFF, np.int64)
    D = np.zeros(N, np.int64)
    per_tick = np.zeros(ticks, np.int64)
    spikes = 0
    macs = 0
    span = window - t_in
    for tk in range(ticks):
        for e in range(inp_ptr[tk], inp_ptr[tk + 1]):
            a = inp_gax[e]
            if inp_off[e] < arr[0, a]:
                arr[0, a] = inp_off[e]
        nxt[:, :] = 0xFFFF
        fired_tick = 0
        for l in range(L):
            D[:] = 0
            na = 0
            for k in range(A):
                a = arr[l, k]
                if a < t_in:
                    xv = t_in - a
                    na += 1
                    row = W[l, k]
                    for n in range(N):
                        D[n] += row[n] * xv
            macs += na * N
            for n in range(N):
                diff = theta - D[n]
                if ramp == 0:
                    j = 0 if diff <= 0 else span
                else:
                    j = -((-diff) // ramp) - 1     # ceil(diff / ramp) - 1
                    if j < 0:
                        j = 0
                if j < span:
                    fired_tick += 1
                    if l + 1 < L:
                        if j < nxt[l + 1, n]:
                            nxt[l + 1, n] = j
        per_tick[tk] = fired_tick
        spikes += fired_tick
        arr[:, :] = nxt
    return spikes, macs, per_tick


def simulate(net):
    """Run the workload export ``net`` (dict or NpzFile) once; returns a dict of totals."""
    kind = str(net["kind"])
    ticks = int(net["ticks"])
    if kind == "lif":
        W = np.array(net["W"], dtype=np.int8, copy=True)    # STDP writes to it
        stdp = int(net["stdp"])
        sp = np.zeros(9, np.int64)
        if stdp:
            sp[:] = [int(net["stdp_" + k]) for k in ("pre_inc", "post_inc", "pre_shift", "post_shift",
                                                    "a_plus", "a_minus", "frac_bits", "wmin", "wmax")]
            wmax_b = 127
            sp[7] = max(sp[7], -wmax_b)
            sp[8] = min(sp[8], wmax_b)
        spikes, syn, stdp_upd, per_tick = lif_kernel(
            ticks, W, np.asarray(net["route_ptr"], np.int64), np.asarray(net["route_gax"], np.int64),
            np.asarray(net["inp_ptr"], np.int64), np.asarray(net["inp_gax"], np.int64),
            int(net["vth"]), int(net["bias"]), int(net["dv"]), int(net["wshift"]),
            int(net["reset"]), int(net["refractory"]), stdp, sp)
        neurons = int(net["tiles"]) * int(net["N"])
        return dict(spikes=int(spikes), synaptic_events=int(syn), stdp_updates=int(stdp_upd),
                    neurons=neurons, neuron_updates=neurons * ticks, per_tick=per_tick)
    if kind == "tdmac":
        W = np.asarray(net["W"], np.int8)
        spikes, macs, per_tick = tdmac_kernel(
            ticks, W, np.asarray(net["inp_ptr"], np.int64), np.asarray(net["inp_gax"], np.int64),
            np.asarray(net["inp_off"], np.int64), int(net["t_in"]), int(net["window"]),
            int(net["theta"]), int(net["ramp"]))
        neurons = int(net["tiles"]) * int(net["N"])
        return dict(spikes=int(spikes), synaptic_events=int(macs), neurons=neurons,
                    neuron_updates=neurons * ticks, per_tick=per_tick)
    raise ValueError("unknown workload kind %r" % kind)


def peak_rss_mb() -> float:
    self_kb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return self_kb / 1024.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("--repeats", type=int, default=3)
    a = ap.parse_args(argv)
    with np.load(a.npz) as f:
        net = {k: f[k] for k in f.files}
    t0 = time.perf_counter()
    first = simulate(net)                      # warm-up: JIT compile (or cache load) + run
    warm = time.perf_counter() - t0
    times = []
    res = first
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        res = simulate(net)
        times.append(time.perf_counter() - t0)
    run_s = float(np.median(times))
    out = dict(impl="handloop", ticks=int(net["ticks"]), neurons=res["neurons"], spikes=res["spikes"],
               synaptic_events=res["synaptic_events"], neuron_updates=res["neuron_updates"],
               runs_s=times, run_s=run_s, compile_s=max(0.0, warm - run_s), peak_rss_mb=peak_rss_mb())
    if "stdp_updates" in res and res["stdp_updates"]:
        out["stdp_updates"] = res["stdp_updates"]
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
