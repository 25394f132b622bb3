"""Peer: NEST (PyPI ``nest-simulator``) with ``iaf_psc_delta`` neurons, 1 or more threads.

Runs under its own venv (benchmarks/setup_peers.sh makes ``benchmarks/.venv-nest``).
Reads the network export of benchmarks/workloads.py and builds the same network
with a resolution of 1 ms = one chip tick:

- ``iaf_psc_delta`` with ``E_L = V_reset = 0``, ``V_th = vth``, no refractory
  time, ``tau_m = -1 / ln((4096 - dv) / 4096)`` ms so that NEST's exact
  propagator multiplies the potential by the chip's leak factor every step, and
  ``I_e`` chosen so that it adds ``bias`` per step; ``V_min`` is left at
  -infinity (the chip saturates at -2^23, never reached here);
- a neuron routed to ``(tile, axon)`` has the ``N`` static synapses
  ``W[tile][axon][:]`` (weights in mV, delay 1 ms: the chip delivers a spike in
  the tick after it fires); external inputs are ``spike_generator`` s, one per
  used axon, also with delay 1, their spikes one step early.

What differs: NEST's state is float64 and its leak is exact (``v * 0.875``), the
chip's is an integer truncated towards zero every tick
(``sign(v) * floor(|v| * 0.875)``), so potentials drift apart by a fraction of a
unit per tick and some spikes move or disappear: the runner reports the
difference in the spike count (``spikes_diff``), this peer also the spikes that
differ from the chip's (``spikes_symdiff``) when given the chip's spikes.

Timing: ``run_s`` is the wall time of ``nest.Run`` (after ``nest.Prepare``); building
the network is ``setup_s``. Every repeat rebuilds the network (NEST cannot rewind).

Usage: python nest_peer.py NET.npz --threads K [--repeats 3] [--ref-spikes SPK.npz]
       -> one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import math
import resource
import sys
import time

import numpy as np


def peak_rss_mb() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(s, c) / 1024.0


def skipped(threads, reason):
    print(json.dumps({"impl": "nest_%dt" % threads, "skipped": reason}))
    return 0


def build(nest, net, threads):
    """Build the network in a fresh kernel; returns (neurons, recorder, input spike count)."""
    W = np.asarray(net["W"])
    tiles, A, N = W.shape
    ticks = int(net["ticks"])
    nest.ResetKernel()
    nest.set_verbosity("M_ERROR")
    nest.SetKernelStatus({"resolution": 1.0, "local_num_threads": threads, "print_time": False})
    factor = (4096.0 - float(net["dv"])) / 4096.0
    tau = -1.0 / math.log(factor)
    C = 250.0
    # one step of the exact propagator: v' = factor * v + (tau / C) * (1 - factor) * I_e
    i_e = float(net["bias"]) * C / (tau * (1.0 - factor))
    wscale = float(2 ** int(net["wshift"]))
    neurons = nest.Create("iaf_psc_delta", tiles * N, params={
        "E_L": 0.0, "V_reset": 0.0, "V_th": float(net["vth"]), "V_m": 0.0, "t_ref": 0.0,
        "tau_m": tau, "C_m": C, "I_e": i_e})
    first = neurons[0].global_id
    rp = np.asarray(net["route_ptr"], np.int64)
    rg = np.asarray(net["route_gax"], np.int64)
    if len(rg):
        src = np.repeat(np.arange(tiles * N, dtype=np.int64), np.diff(rp))
        t_e, a_e = rg // A, rg % A
        pre = np.repeat(src, N) + first
        post = (np.repeat(t_e * N, N) + np.tile(np.arange(N, dtype=np.int64), len(rg))) + first
        w = W[t_e, a_e].astype(np.float64).ravel() * wscale
        nest.Connect(pre, post, "one_to_one", {"synapse_model": "static_synapse", "weight": w, "delay": np.ones(len(w))})
    inp_ptr = np.asarray(net["inp_ptr"], np.int64)
    inp_gax = np.asarray(net["inp_gax"], np.int64)
    inp_tick = np.repeat(np.arange(ticks), np.diff(inp_ptr))
    used = np.unique(inp_gax)
    if len(used):
        gens = nest.Create("spike_generator", len(used))
        # NEST's step (k, k + 1] ms is the chip's tick k (a neuron spike stamped k + 1 ms is
        # the chip's spike in tick k); a generator spike stamped k ms with delay 1 is added in
        # that step, so the input the chip consumes in tick k is a generator spike at k ms.
        order = np.argsort(inp_gax, kind="stable")
        g_sorted = inp_gax[order]
        t_sorted = inp_tick[order]
        bounds = np.searchsorted(g_sorted, used, side="left").tolist() + [len(g_sorted)]
        nest.SetStatus(gens, [{"spike_times": t_sorted[bounds[i]:bounds[i + 1]].astype(float).tolist()}
                              for i in range(len(used))])
        gid0 = gens[0].global_id
        pre = np.repeat(np.arange(len(used), dtype=np.int64), N) + gid0
        post = (np.repeat((used // A) * N, N) + np.tile(np.arange(N, dtype=np.int64), len(used))) + first
        w = W[used // A, used % A].astype(np.float64).ravel() * wscale
        nest.Connect(pre, post, "one_to_one", {"synapse_model": "static_synapse", "weight": w, "delay": np.ones(len(w))})
    rec = nest.Create("spike_recorder")
    nest.Connect(neurons, rec)
    return neurons, rec, int(len(inp_gax))



def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("--threads", type=int, default=1)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--ref-spikes", default=None,
                    help="npz with the chip's spk_tick, spk_tile, spk_neuron: report the spikes that differ")
    a = ap.parse_args(argv)
    with np.load(a.npz) as f:
        net = {k: f[k] for k in f.files}
    if str(net["kind"]) != "lif":
        return skipped(a.threads, "TD-MAC has no NEST counterpart (time-domain analog MAC)")
    if int(net["stdp"]):
        return skipped(a.threads, "crossbar STDP (one weight per axon row shared by all its sources) "
                                  "is not modelled in the NEST peer")
    if int(net["refractory"]) or int(net["du"]) != 4096 or int(net["reset"]) != 0:
        return skipped(a.threads, "only LIF with reset to zero, no refractory period and du = 4096 "
                                  "is mapped to NEST")
    try:
        import nest
    except Exception as e:  # noqa: BLE001
        return skipped(a.threads, "nest not importable: %s" % e)
    ticks = int(net["ticks"])
    tiles, A, N = np.asarray(net["W"]).shape
    times, setups = [], []
    for _ in range(max(1, a.repeats)):
        t0 = time.perf_counter()
        neurons, rec, n_inputs = build(nest, net, a.threads)
        nest.Prepare()
        setups.append(time.perf_counter() - t0)
        t0 = time.perf_counter()
        nest.Run(float(ticks))
        times.append(time.perf_counter() - t0)
        nest.Cleanup()
    ev = nest.GetStatus(rec, "events")[0]
    first = neurons[0].global_id
    g = np.asarray(ev["senders"], np.int64) - first
    tick = np.rint(np.asarray(ev["times"], np.float64)).astype(np.int64) - 1   # spike at t ms: tick t - 1
    spikes = int(len(g))
    rp = np.asarray(net["route_ptr"], np.int64)
    syn = int(np.diff(rp)[g].sum()) * N + n_inputs * N
    out = dict(impl="nest_%dt" % a.threads, threads=a.threads, ticks=ticks, neurons=tiles * N, spikes=spikes,
               synaptic_events=syn, neuron_updates=tiles * N * ticks, runs_s=times,
               run_s=float(np.median(times)), compile_s=0.0, setup_s=float(np.median(setups)),
               nest=nest.__version__ if hasattr(nest, "__version__") else "?", peak_rss_mb=peak_rss_mb())
    if a.ref_spikes:
        with np.load(a.ref_spikes) as f:
            ref = set(zip(f["spk_tick"].tolist(), f["spk_tile"].tolist(), f["spk_neuron"].tolist()))
        mine = set(zip(tick.tolist(), (g // N).tolist(), (g % N).tolist()))
        out["spikes_symdiff"] = len(ref ^ mine)
        out["spikes_only_nest"] = len(mine - ref)
        out["spikes_only_chip"] = len(ref - mine)
        first_bad = min((s[0] for s in ref ^ mine), default=None)
        out["first_differing_tick"] = first_bad
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main())
