"""Peer: Brian2 (``cython`` runtime or ``cpp_standalone``) on a benchmark network.

Runs under the peer venv (benchmarks/setup_peers.sh: Brian2 needs numpy<2.4).
Reads the network export of benchmarks/workloads.py and builds the same network:

- one NeuronGroup of ``tiles * N`` neurons with float64 variables ``v``, ``u``,
  ``act`` that only ever hold integers: a ``run_regularly`` operation at the
  start of every step does the chip's integer LIF update exactly
  (``u = act << wshift``; ``v = sat24(decay(v, dv) + u + bias)`` with
  ``decay(x, d) = sign(x) * floor(|x| * (4096 - d) / 4096)``, exact in float64
  because (4096 - d)/4096 is dyadic), then threshold ``v >= vth`` and reset
  (zero or subtract);
- synapses in presynaptic order: a crossbar row becomes ``N`` synapses, so a
  neuron routed to ``(tile, axon)`` has the ``N`` synapses ``(tile, n)`` with
  weights ``W[tile][axon][n]``; ``on_pre: act_post += w``; the external input
  spikes come from a SpikeGeneratorGroup with one index per axon.

What differs from the chip: state is float64, not 24-bit integers (all values
stay exact integers, so the spikes are the same: the runner checks the count);
no router (a spike reaches its targets in the next step, as on the chip where
the router delivers for the next tick); input spikes are scheduled one step
early because Brian2 delivers a spike in the step after it is emitted (the
workloads have no input in tick 0 for this reason); refractoriness and STDP are
not modelled (the workloads that need them are not run here).

Timing: ``run_s`` is Brian2's own measure of the simulation loop
(``device._last_run_time``: cython, the loop of ``Network.run`` after code
generation; cpp_standalone, the ``run()`` of the compiled binary, without
loading the synapses).  ``compile_s`` is code generation + compilation,
``setup_s`` building the network in Python.

Usage: python brian2_peer.py NET.npz --mode cython|cpp_standalone [--repeats 3]
       [--build-dir DIR]      -> one JSON line on stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import sys
import time
import warnings

import numpy as np


def peak_rss_mb() -> float:
    s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(s, c) / 1024.0


def skipped(mode, reason):
    print(json.dumps({"impl": "brian2_" + mode, "skipped": reason}))
    return 0


def synapse_arrays(net):
    """Recurrent and input synapses, each sorted by presynaptic index (then target)."""
    W = np.asarray(net["W"])
    tiles, A, N = W.shape
    rp = np.asarray(net["route_ptr"], np.int64)
    rg = np.asarray(net["route_gax"], np.int64)
    nn = tiles * N
    # recurrent: neuron g -> every route entry e -> N synapses
    deg = np.diff(rp)
    src_e = np.repeat(np.arange(nn, dtype=np.int64), deg)          # per route entry
    t_e = rg // A
    a_e = rg % A
    rec_i = np.repeat(src_e, N).astype(np.int32)
    rec_j = (np.repeat(t_e * N, N) + np.tile(np.arange(N, dtype=np.int64), len(rg))).astype(np.int32)
    rec_w = W[np.repeat(t_e, N), np.repeat(a_e, N), np.tile(np.arange(N), len(rg))].astype(np.float64)
    rec_deg = deg * N
    # input: global axon ga -> N synapses on its tile
    used = np.unique(np.asarray(net["inp_gax"], np.int64))
    in_i = np.repeat(used, N).astype(np.int32)
    in_j = (np.repeat((used // A) * N, N) + np.tile(np.arange(N, dtype=np.int64), len(used))).astype(np.int32)
    in_w = W[np.repeat(used // A, N), np.repeat(used % A, N), np.tile(np.arange(N), len(used))].astype(np.float64)
    return (rec_i, rec_j, rec_w, rec_deg), (in_i, in_j, in_w, tiles * A)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("npz")
    ap.add_argument("--mode", choices=("cython", "cpp_standalone"), required=True)
    ap.add_argument("--repeats", type=int, default=3)
    ap.add_argument("--build-dir", default=None)
    a = ap.parse_args(argv)
    mode = a.mode
    with np.load(a.npz) as f:
        net = {k: f[k] for k in f.files}
    if str(net["kind"]) != "lif":
        return skipped(mode, "TD-MAC has no Brian2 counterpart (time-domain analog MAC)")
    if int(net["stdp"]):
        return skipped(mode, "crossbar STDP (one weight per axon row shared by all its sources) "
                             "has no Brian2 synapse equivalent")
    if int(net["refractory"]):
        return skipped(mode, "refractory LIF not modelled in the Brian2 peer")
    try:
        import brian2 as b2
    except Exception as e:  # noqa: BLE001
        return skipped(mode, "brian2 not importable: %s" % e)
    warnings.filterwarnings("ignore")
    b2.BrianLogger.log_level_error()

    t_setup = time.perf_counter()
    ticks = int(net["ticks"])
    tiles, A, N = np.asarray(net["W"]).shape
    nn = tiles * N
    dt = 1 * b2.ms
    if mode == "cpp_standalone":
        build = a.build_dir or os.path.join(os.getcwd(), "brian2_standalone")
        b2.set_device("cpp_standalone", directory=build, build_on_run=False)
        b2.prefs.devices.cpp_standalone.openmp_threads = 0
    else:
        b2.prefs.codegen.target = "cython"
    b2.defaultclock.dt = dt
    ns = dict(vth=float(net["vth"]), bias=float(net["bias"]),
              fdv=(4096.0 - float(net["dv"])) / 4096.0, wscale=float(2 ** int(net["wshift"])),
              SATMAX=float((1 << 23) - 1), SATMIN=float(-(1 << 23)))
    if int(net["du"]) != 4096:
        return skipped(mode, "du != 4096 not modelled in the Brian2 peer")
    reset = "v = 0" if int(net["reset"]) == 0 else "v = clip(v - vth, SATMIN, SATMAX)"
    G = b2.NeuronGroup(nn, "v : 1\nu : 1\nact : 1", threshold="v >= vth", reset=reset,
                       namespace=ns, name="lif")
    G.run_regularly("u = clip(act * wscale, SATMIN, SATMAX)\n"
                    "v = clip(sign(v) * floor(abs(v) * fdv) + u + bias, SATMIN, SATMAX)\n"
                    "act = 0", when="start", name="lif_update")
    (rec_i, rec_j, rec_w, rec_deg), (in_i, in_j, in_w, n_axons) = synapse_arrays(net)
    inp_ptr = np.asarray(net["inp_ptr"], np.int64)
    inp_gax = np.asarray(net["inp_gax"], np.int64)
    inp_tick = np.repeat(np.arange(ticks), np.diff(inp_ptr))
    if len(inp_tick) and inp_tick.min() < 1:
        return skipped(mode, "inputs in tick 0 cannot be scheduled one step early")
    objs = [G]
    SG = b2.SpikeGeneratorGroup(n_axons, inp_gax, (inp_tick - 1) * dt, name="inputs")
    Sin = b2.Synapses(SG, G, "w : 1 (constant)", on_pre="act_post += w", name="syn_in")
    Sin.connect(i=in_i, j=in_j)
    Sin.w = in_w
    objs += [SG, Sin]
    if len(rec_i):
        Srec = b2.Synapses(G, G, "w : 1 (constant)", on_pre="act_post += w", name="syn_rec")
        Srec.connect(i=rec_i, j=rec_j)
        Srec.w = rec_w
        objs.append(Srec)
    mon = b2.SpikeMonitor(G, record=False, name="spikes")
    objs.append(mon)
    netw = b2.Network(*objs)
    n_syn = len(rec_i) + len(in_i)
    del rec_i, rec_j, rec_w, in_i, in_j, in_w
    times = []
    if mode == "cpp_standalone":
        netw.run(ticks * dt)
        setup_s = time.perf_counter() - t_setup
        t0 = time.perf_counter()
        b2.device.build(directory=build, compile=True, run=False, clean=False)
        compile_s = time.perf_counter() - t0
        walls = []
        for r in range(1 + max(1, a.repeats)):      # first run is the warm-up
            t0 = time.perf_counter()
            b2.device.run(directory=build, with_output=False)
            w = time.perf_counter() - t0
            if r:
                times.append(float(b2.device._last_run_time))
                walls.append(w)
        counts = np.asarray(mon.count[:], np.int64)
        wall_s = float(np.median(walls))
    else:
        netw.store("init")
        setup_s = time.perf_counter() - t_setup
        t0 = time.perf_counter()
        netw.run(1 * dt)                            # code generation + cython compile (cached)
        compile_s = time.perf_counter() - t0
        walls = []
        for r in range(1 + max(1, a.repeats)):      # first run is the warm-up
            netw.restore("init")
            t0 = time.perf_counter()
            netw.run(ticks * dt)
            w = time.perf_counter() - t0
            if r:
                times.append(float(b2.device._last_run_time))
                walls.append(w)
        counts = np.asarray(mon.count[:], np.int64)
        wall_s = float(np.median(walls))
    spikes = int(counts.sum())
    syn = int((counts * rec_deg).sum()) + int(len(inp_gax)) * N
    run_s = float(np.median(times))
    print(json.dumps(dict(impl="brian2_" + mode, ticks=ticks, neurons=nn, spikes=spikes,
                          synaptic_events=syn, neuron_updates=nn * ticks, runs_s=times,
                          run_s=run_s, compile_s=compile_s, setup_s=setup_s, wall_s=wall_s,
                          synapses=n_syn, brian2=b2.__version__, peak_rss_mb=peak_rss_mb())))
    return 0


if __name__ == "__main__":
    sys.exit(main())
