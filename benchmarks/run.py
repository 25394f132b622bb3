#!/usr/bin/env python
"""neurotile benchmark suite: neurotile against its peers, in one run.

    python benchmarks/run.py [--quick] [--only NAME[,NAME...]] [--impls IMPL[,IMPL...]]

Builds each workload once (benchmarks/workloads.py; the programs are saved as
``benchmarks/out/NAME.bin`` and ``.spk`` for ``neurotile run``, the network and
its input spikes as ``NAME.npz`` for the peers), then measures every
implementation in its own subprocess and prints one JSON object per line:

    name, impl, ticks, neurons, spikes, synaptic_events, neuron_updates,
    run_s (median of >= 3 timed runs after a warm-up), runs_s, compile_s (JIT
    compile / cache load, excluded from run_s), events_per_s,
    neuron_updates_per_s, peak_rss_mb (of that subprocess and its children),
    spike_rate (fraction of neurons firing per tick), quick,
    and on peer rows ``ratio_numba_over_peer`` (neurotile numba throughput /
    peer throughput: > 1 means neurotile is faster) and ``spikes_match_numba``.

A peer that cannot run (Brian2 not installed: see benchmarks/setup_peers.sh) or
a backend that does not exist yet is a row with ``"skipped": "reason"``; a
failure is a row with ``"error"``.  Neither stops the run.

Workloads: crossbar, mesh_barrier, mesh_fixed (``mesh`` selects both),
mesh_stdp, tdmac, reference.  Implementations: neurotile_numba,
neurotile_reference, handloop, brian2_cython, brian2_cpp_standalone, sanafe,
nest_1t, nest_2t (SANA-FE and NEST in their own venvs, see setup_peers.sh).
The ``sanafe`` rows also carry the energy cross-check: SANA-FE's own energy per
tick against neurotile's event counts priced with the same loihi.yaml constants
(``energy_sanafe_over_priced``, 1 when the two agree).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import resource
import subprocess
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
OUT = os.path.join(HERE, "out")
PEERS = os.path.join(HERE, "peers")
PEER_VENV = os.environ.get("NEUROTILE_PEER_VENV", os.path.join(HERE, ".venv"))
# SANA-FE and NEST have venvs of their own (benchmarks/setup_peers.sh makes all three)
SANAFE_VENV = os.environ.get("NEUROTILE_SANAFE_VENV", os.path.join(HERE, ".venv-sanafe"))
NEST_VENV = os.environ.get("NEUROTILE_NEST_VENV", os.path.join(HERE, ".venv-nest"))

ALL = ("crossbar", "mesh_barrier", "mesh_fixed", "mesh_stdp", "tdmac", "reference")
ALIASES = {"mesh": ("mesh_barrier", "mesh_fixed")}
IMPLS = ("neurotile_numba", "neurotile_reference", "handloop", "brian2_cython",
         "brian2_cpp_standalone", "sanafe", "nest_1t", "nest_2t")
# In --quick mode the Brian2 peers (whose build alone can take longer than a
# minute on 2 cores) run on the crossbar only.
QUICK_BRIAN2 = ("crossbar",)
QUICK_BRIAN2_IMPLS = ("brian2_cpp_standalone",)   # cython: full suite only (its import alone is ~5 s)
# ... and the hand loop not twice on the same network (mesh_fixed is mesh_barrier's).
QUICK_NO_HANDLOOP = ("mesh_fixed",)
# SANA-FE and NEST build their network in Python (SANA-FE: ~1.5 min and ~12 GB for the
# mesh): --quick runs them on the crossbar only; SANA-FE never on mesh_fixed (the same
# network as mesh_barrier's, and SANA-FE has no fixed-window router to compare with).
QUICK_SANAFE_NEST = ("crossbar",)
SANAFE_NOT_ON = {"mesh_fixed": "same network as mesh_barrier's (SANA-FE has no fixed-window router); "
                               "its build alone needs ~12 GB"}
# SANA-FE's memory, measured: 12.6 GB for the mesh's 14.7 M synapses; run only when it fits.
SANAFE_BYTES_PER_SYNAPSE = 860
QUICK_NOTE = ("quick mode: shortened runs (crossbar 1000 ticks, mesh 100 ticks, tdmac 100 "
              "inferences, reference 20 ticks), Brian2 cpp_standalone on the crossbar only (cython in "
              "the full suite), no hand loop on mesh_fixed, no full-size warm-up run; not the "
              "issue's figures; SANA-FE and NEST on the crossbar only")

# Targets of issue 7 (numba backend).
TARGETS = {
    "crossbar": {"events_per_s": 1.5e9, "x_brian2_cpp_standalone": 2.0},
    "mesh_barrier": {"events_per_s": 1e8, "x_brian2_cpp_standalone": 1.0, "peak_rss_mb": 500},
    "mesh_fixed": {"events_per_s": 1e8, "x_brian2_cpp_standalone": 1.0, "peak_rss_mb": 500},
    "mesh_stdp": {"time_over_mesh": 3.0},
}


def peak_rss_mb() -> float:
    """Peak RSS of this process or any of its (waited-for) children, in MB."""
    s = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    c = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return max(s, c) / 1024.0


def median(xs):
    xs = sorted(xs)
    n = len(xs)
    return xs[n // 2] if n % 2 else 0.5 * (xs[n // 2 - 1] + xs[n // 2])


# ---------------------------------------------------------------------------
# child: one neurotile backend on one image (run in its own process)
# ---------------------------------------------------------------------------
def spikes_path(image_path: str) -> str:
    return image_path[:-len(".bin")] + ".spikes.npz"


def energy_figures(tr) -> dict:
    """Energy per tick under neurotile's model and priced with SANA-FE's Loihi constants.

    SANA-FE does a spike's synapse look-ups in the step it is sent, the chip when it is
    delivered, in the next tick: the look-ups of the packets sent in the last tick are
    priced by SANA-FE only (``loihi_sanafe_after_end_j``)."""
    import numpy as np

    from emulator import energy

    ticks = max(1, int(tr.meta["ticks"]))
    out = {"energy_per_tick_j": energy.estimate(tr)["per_tick_j"]}
    try:
        e = energy.estimate(tr, model="loihi-sanafe")
    except Exception as ex:  # noqa: BLE001  (an older checkout without price models)
        out["energy_loihi_sanafe_error"] = str(ex)
        return out
    a = tr.arrays
    last = a["pkt_tick"] == ticks - 1
    n_of = np.asarray([t.get("neurons", 0) for t in tr.meta["tiles"]], np.int64)
    after = int(n_of[a["pkt_dst_tile"][last]].sum()) * e["params"]["prices_j"].get("syn_event", 0.0)
    out.update(energy_loihi_sanafe_per_tick_j=e["per_tick_j"], loihi_sanafe_after_end_j=after,
               energy_loihi_sanafe_parts_j=e["parts_j"])
    return out


def child_neurotile(backend: str, image_path: str, repeats: int, quick: bool = False) -> dict:
    t0 = time.perf_counter()
    import importlib

    from emulator import image
    mod = importlib.import_module("emulator.backends." + ("numba_backend" if backend == "numba" else backend))
    import_s = time.perf_counter() - t0
    with open(image_path, "rb") as fh:
        data = fh.read()
    prog = image.decode(data)
    # compile (or load the numba cache) on a one-tick program: that is compile_s
    t0 = time.perf_counter()
    if hasattr(mod, "warmup"):
        mod.warmup()
    else:
        tiny = image.new_program(1, 1)
        tiny.tiles[0] = image.new_tile("lif", 1, 1)
        tiny.code = [("run", (1,))]
        mod.run(tiny, image.encode(tiny))
    compile_s = time.perf_counter() - t0
    # warm-up run of the workload itself (first touch, any further specialisation);
    # --quick relies on the one-tick warm-up alone
    first_s = None
    if not quick:
        t0 = time.perf_counter()
        tr = mod.run(prog, data)
        first_s = time.perf_counter() - t0
    times = []
    for _ in range(max(1, repeats)):
        t0 = time.perf_counter()
        tr = mod.run(prog, data)
        times.append(time.perf_counter() - t0)
    a = tr.arrays
    syn = int(a["cnt_syn_events"].sum())
    mac = int(a["cnt_mac_ops"].sum())
    ticks = int(len(a["stall"]))
    if backend == "numba":
        # the chip's spikes, for the peers that report which spikes differ (NEST)
        import numpy as np

        tmp = image_path + ".spikes.tmp.npz"
        np.savez(tmp, spk_tick=a["spk_tick"], spk_tile=a["spk_tile"], spk_neuron=a["spk_neuron"])
        os.replace(tmp, spikes_path(image_path))
    return dict(energy_figures(tr), ticks=ticks, neurons=int(a["n_offsets"][-1]), spikes=int(len(a["spk_tick"])),
                synaptic_events=syn + mac, mac_ops=mac,
                neuron_updates=int(a["cnt_neuron_updates"].sum()),
                stdp_updates=int(a["cnt_stdp_updates"].sum()),
                packets=int(len(a["pkt_tick"])), hops=int(a["cnt_hops"].sum()),
                stall_cycles=int(a["stall"].sum()), dropped=int(a["dropped"].sum()),
                cycles=int(a["tick_start"][-1]),
                runs_s=times, run_s=median(times), compile_s=compile_s, first_run_s=first_s,
                import_s=import_s, peak_rss_mb=peak_rss_mb())


# ---------------------------------------------------------------------------
# parent
# ---------------------------------------------------------------------------
def _source_key(quick: bool) -> str:
    h = hashlib.sha256()
    for p in (os.path.join(HERE, "workloads.py"), os.path.join(ROOT, "emulator", "image.py"),
              os.path.join(ROOT, "emulator", "isa.py")):
        with open(p, "rb") as fh:
            h.update(fh.read())
    h.update(b"quick" if quick else b"full")
    return h.hexdigest()[:16]


def build_workload(name: str, quick: bool, out: str) -> dict:
    """Build and save one workload (reusing the saved files when the generator is unchanged)."""
    sub = os.path.join(out, "quick" if quick else "full")
    meta_path = os.path.join(sub, name + ".json")
    key = _source_key(quick)
    if os.path.exists(meta_path):
        try:
            with open(meta_path) as fh:
                meta = json.load(fh)
            if meta.get("key") == key and all(os.path.exists(p) for p in meta["files"].values()):
                meta["build_s"] = 0.0
                meta["cached"] = True
                return meta
        except (OSError, ValueError, KeyError):
            pass
    sys.path.insert(0, HERE)
    import numpy as np
    import workloads

    t0 = time.perf_counter()
    wl = workloads.build(name, quick=quick)
    files = wl.save(sub)
    h = hashlib.sha256()
    for k in sorted(wl.net):
        h.update(k.encode())
        h.update(np.ascontiguousarray(np.asarray(wl.net[k])).tobytes())
    meta = dict(key=key, name=name, net_hash=h.hexdigest()[:16], ticks=wl.ticks, neurons=wl.neurons, backend=wl.backend,
                peers=list(wl.peers), note=wl.note, info=wl.info, files=files,
                build_s=time.perf_counter() - t0, cached=False)
    with open(meta_path + ".tmp", "w") as fh:
        json.dump(meta, fh)
    os.replace(meta_path + ".tmp", meta_path)
    return meta


def _peer_python():
    return _venv_python(PEER_VENV)


def _venv_python(venv):
    py = os.path.join(venv, "bin", "python")
    return py if os.path.exists(py) else None


def _mem_available():
    """MemAvailable in bytes (Linux), or None."""
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except (OSError, ValueError, IndexError):
        pass
    return None


def _spawn(cmd, timeout, env=None):
    """Run a measurement subprocess; returns (dict or None, error text)."""
    e = dict(os.environ)
    e.setdefault("PYTHONPATH", "")
    e["PYTHONPATH"] = ROOT + (os.pathsep + e["PYTHONPATH"] if e["PYTHONPATH"] else "")
    if env:
        e.update(env)
    try:
        p = subprocess.run(cmd, capture_output=True, text=True, timeout=timeout, env=e, cwd=ROOT)
    except subprocess.TimeoutExpired:
        return None, "timed out after %d s" % timeout
    lines = [l for l in p.stdout.splitlines() if l.startswith("{")]
    if p.returncode != 0 or not lines:
        tail = (p.stderr or p.stdout).strip().splitlines()[-6:]
        return None, "exit status %d: %s" % (p.returncode, " | ".join(tail))
    try:
        return json.loads(lines[-1]), ""
    except ValueError as ex:
        return None, "bad output: %s" % ex


def backend_available(backend: str):
    mod = "numba_backend" if backend == "numba" else backend
    path = os.path.join(ROOT, "emulator", "backends", mod + ".py")
    if not os.path.exists(path):
        return "emulator/backends/%s.py does not exist yet" % mod
    return None


def measure(impl: str, meta: dict, repeats: int, timeout: int, quick: bool) -> dict:
    name = meta["name"]
    binp, npz = meta["files"]["bin"], meta["files"]["npz"]
    if impl.startswith("neurotile_"):
        backend = impl.split("_", 1)[1]
        why = backend_available(backend)
        if why:
            return {"skipped": why}
        cmd = [sys.executable, os.path.abspath(__file__), "--child", backend, binp,
               "--repeats", str(repeats)] + (["--quick"] if quick else [])
        res, err = _spawn(cmd, timeout)
    elif impl == "handloop":
        res, err = _spawn([sys.executable, os.path.join(PEERS, "handloop.py"), npz,
                           "--repeats", str(repeats)], timeout)
    elif impl == "sanafe":
        py = _venv_python(SANAFE_VENV)
        if py is None:
            return {"skipped": "no SANA-FE venv at %s: run `bash benchmarks/setup_peers.sh`"
                               % os.path.relpath(SANAFE_VENV, ROOT)}
        need = meta.get("info", {}).get("synapses")
        avail = _mem_available()
        if need and avail is not None and need * SANAFE_BYTES_PER_SYNAPSE + 0.3e9 > 0.8 * avail:
            return {"skipped": "SANA-FE would need ~%.1f GB for %d synapses, %.1f GB available"
                               % ((need * SANAFE_BYTES_PER_SYNAPSE + 0.3e9) / 1e9, need, avail / 1e9)}
        cmd = [py, os.path.join(PEERS, "sanafe_peer.py"), npz, "--repeats", str(repeats),
               "--arch-dir", os.path.join(OUT, "sanafe_arch")]
        if avail is not None:      # fail cleanly rather than wake the OOM killer on a shared machine
            cmd += ["--mem-limit-gb", "%.1f" % (0.9 * avail / 1e9 + 1.0)]
        res, err = _spawn(cmd, timeout)
    elif impl.startswith("nest_"):
        py = _venv_python(NEST_VENV)
        if py is None:
            return {"skipped": "no NEST venv at %s: run `bash benchmarks/setup_peers.sh`"
                               % os.path.relpath(NEST_VENV, ROOT)}
        cmd = [py, os.path.join(PEERS, "nest_peer.py"), npz, "--threads", impl[5:-1], "--repeats", str(repeats)]
        if os.path.exists(spikes_path(binp)):
            cmd += ["--ref-spikes", spikes_path(binp)]
        res, err = _spawn(cmd, timeout)
    elif impl.startswith("brian2_"):
        mode = impl.split("_", 1)[1]
        py = _peer_python()
        if py is None:
            return {"skipped": "no peer venv at %s: run `bash benchmarks/setup_peers.sh`"
                               % os.path.relpath(PEER_VENV, ROOT)}
        # one build folder per network (mesh_barrier and mesh_fixed share theirs)
        build = os.path.join(OUT, "brian2_%s" % mode, meta.get("net_hash", name))
        res, err = _spawn([py, os.path.join(PEERS, "brian2_peer.py"), npz, "--mode", mode,
                           "--repeats", str(repeats), "--build-dir", build], timeout)
    else:
        return {"error": "unknown implementation %r" % impl}
    if res is None:
        return {"error": err}
    return res


def finish_row(name, impl, meta, res, quick):
    row = {"name": name, "impl": impl}
    if "skipped" in res or "error" in res:
        row.update(res)
        row.update(ticks=meta["ticks"], neurons=meta["neurons"], quick=quick)
        return row
    row.update(ticks=res.get("ticks", meta["ticks"]), neurons=res.get("neurons", meta["neurons"]),
               spikes=res["spikes"], synaptic_events=res["synaptic_events"],
               neuron_updates=res.get("neuron_updates", meta["neurons"] * meta["ticks"]),
               run_s=round(res["run_s"], 6), runs_s=[round(t, 6) for t in res["runs_s"]],
               compile_s=round(res.get("compile_s", 0.0), 4))
    rs = res["run_s"]
    row["min_s"] = round(min(res["runs_s"]), 6)
    row["events_per_s"] = res["synaptic_events"] / rs if rs > 0 else None
    row["neuron_updates_per_s"] = row["neuron_updates"] / rs if rs > 0 else None
    row["peak_rss_mb"] = round(res["peak_rss_mb"], 1)
    row["spike_rate"] = round(res["spikes"] / max(1, row["neurons"] * row["ticks"]), 5)
    for k in ("mac_ops", "stdp_updates", "packets", "hops", "stall_cycles", "dropped", "cycles",
              "first_run_s", "import_s", "setup_s", "wall_s", "skipped_parts", "differs",
              "threads", "load_s", "synapse_lookups", "packets_sent", "input_spikes", "energy_j",
              "energy_per_tick_j", "sim_time_s", "energy_loihi_sanafe_per_tick_j",
              "loihi_sanafe_after_end_j", "energy_loihi_sanafe_parts_j", "spikes_symdiff",
              "spikes_only_nest", "spikes_only_chip", "first_differing_tick", "sanafe", "nest"):
        if k in res:
            row[k] = res[k]
    row["quick"] = quick
    return row


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description="neurotile benchmark suite (issue 7)")
    ap.add_argument("--quick", action="store_true", help="short runs, under a minute on 2 cores")
    ap.add_argument("--only", default="", help="workloads, comma-separated (%s, mesh)" % ", ".join(ALL))
    ap.add_argument("--impls", default="", help="implementations, comma-separated (%s)" % ", ".join(IMPLS))
    ap.add_argument("--repeats", type=int, default=3, help="timed runs per measurement (>= 3)")
    ap.add_argument("--timeout", type=int, default=0, help="seconds per measurement subprocess")
    ap.add_argument("--table", metavar="JSONL", help="print a Markdown table of a saved run's output and exit")
    ap.add_argument("--child", nargs=2, metavar=("BACKEND", "IMAGE"), help=argparse.SUPPRESS)
    a = ap.parse_args(argv)

    if a.table:
        print(markdown_table(a.table))
        return 0
    if a.child:
        print(json.dumps(child_neurotile(a.child[0], a.child[1], a.repeats, a.quick)), flush=True)
        return 0

    names = []
    for n in (a.only.split(",") if a.only else ALL):
        n = n.strip()
        if not n:
            continue
        for m in ALIASES.get(n, (n,)):
            if m not in ALL:
                ap.error("unknown workload %r (choose from %s, mesh)" % (m, ", ".join(ALL)))
            if m not in names:
                names.append(m)
    impls = [i.strip() for i in a.impls.split(",") if i.strip()] or list(IMPLS)
    for i in impls:
        if i not in IMPLS:
            ap.error("unknown implementation %r (choose from %s)" % (i, ", ".join(IMPLS)))
    repeats = max(3, a.repeats)
    timeout = a.timeout or (120 if a.quick else 1800)
    t_start = time.perf_counter()
    results = {}
    for name in names:
        meta = build_workload(name, a.quick, OUT)
        plan = ["neurotile_" + meta["backend"]]
        if meta["backend"] == "reference":
            plan.append("neurotile_numba")    # the gap between the two backends
        quick_skip = {}
        for p in meta["peers"]:
            if p.startswith("brian2_") and a.quick and (name not in QUICK_BRIAN2 or p not in QUICK_BRIAN2_IMPLS):
                quick_skip[p] = "quick mode: Brian2 %s runs here in the full suite only" % p[7:]
            if p == "handloop" and a.quick and name in QUICK_NO_HANDLOOP:
                quick_skip[p] = "quick mode: same network as mesh_barrier's"
            if (p == "sanafe" or p.startswith("nest_")) and a.quick and name not in QUICK_SANAFE_NEST:
                quick_skip[p] = "quick mode: %s runs here in the full suite only" % p
            if p == "sanafe" and name in SANAFE_NOT_ON:
                quick_skip[p] = SANAFE_NOT_ON[name]
            plan.append(p)
        plan = [p for p in plan if p in impls]
        rows = {}
        for impl in plan:
            load = os.getloadavg()[0]
            t_m = time.perf_counter()
            res = ({"skipped": quick_skip[impl]} if impl in quick_skip
                   else measure(impl, meta, repeats, timeout, a.quick))
            t_m = time.perf_counter() - t_m
            row = finish_row(name, impl, meta, res, a.quick)
            row["load_avg_1m"] = round(load, 2)    # > 0.5 on 2 cores: someone else is busy
            if impl.startswith("neurotile_"):
                row["program"] = os.path.relpath(meta["files"]["bin"], ROOT)
                row["build_s"] = round(meta["build_s"], 3)
                row["note"] = meta["note"]
                if a.quick:
                    row["quick_note"] = QUICK_NOTE
            rows[impl] = row
            print("# %s %s: %s (%.1f s)" % (name, impl, "done" if "run_s" in row else
                                             row.get("skipped") or row.get("error"), t_m),
                  file=sys.stderr, flush=True)
        results[name] = rows
        ref = rows.get("neurotile_numba")
        for impl, row in rows.items():
            if impl == "neurotile_numba" or ref is None:
                continue
            if row.get("events_per_s") and ref.get("events_per_s"):
                row["ratio_numba_over_peer"] = round(ref["events_per_s"] / row["events_per_s"], 4)
                row["time_ratio_numba_over_peer"] = round(ref["run_s"] / row["run_s"], 4)
                row["spikes_match_numba"] = row["spikes"] == ref["spikes"]
                if not row["spikes_match_numba"]:
                    row["spikes_diff"] = row["spikes"] - ref["spikes"]
                    row["spikes_diff_rel"] = round((row["spikes"] - ref["spikes"]) / max(1, ref["spikes"]), 5)
                if impl == "sanafe" and "energy_loihi_sanafe_per_tick_j" in ref:
                    # the energy cross-check: SANA-FE's own total against neurotile's event
                    # counts priced with the same loihi.yaml constants (energy model loihi-sanafe)
                    priced = ref["energy_loihi_sanafe_per_tick_j"] + ref["loihi_sanafe_after_end_j"] / ref["ticks"]
                    row["neurotile_priced_per_tick_j"] = priced
                    row["neurotile_default_per_tick_j"] = ref["energy_per_tick_j"]
                    row["energy_sanafe_over_priced"] = round(row["energy_per_tick_j"] / priced, 6)
                    row["energy_sanafe_over_neurotile_default"] = round(
                        row["energy_per_tick_j"] / ref["energy_per_tick_j"], 4)
                if ref.get("dropped") and not impl.startswith("neurotile_"):
                    row["differs"] = ("the fixed-window router dropped %d late packets; this peer "
                                      "has no router, so its spikes differ" % ref["dropped"])
        if ref is not None:
            tg = check_targets(name, ref, results)
            if tg:
                ref["targets"] = tg
        # neurotile numba first, then the others in measuring order
        for impl in sorted(rows, key=lambda i: i != "neurotile_numba"):
            print(json.dumps(rows[impl]), flush=True)
    return 0


def markdown_table(path) -> str:
    """The rows of a saved run (JSON lines) as the table of docs/PERFORMANCE.md."""
    def g(x, fmt):
        return "-" if x is None else fmt % x

    out = ["| workload | impl | ticks | spikes | synaptic events | run_s (median) | events/s | "
           "neuron updates/s | compile_s | peak RSS MB | numba/peer | load |",
           "|---|---|---|---|---|---|---|---|---|---|---|---|"]
    with open(path) as fh:
        for line in fh:
            if not line.startswith("{"):
                continue
            r = json.loads(line)
            if "skipped" in r or "error" in r:
                out.append("| %s | %s | %s | | | | %s | | | | | |"
                           % (r["name"], r["impl"], r.get("ticks", ""),
                              "skipped: " + r["skipped"] if "skipped" in r else "error: " + r["error"]))
                continue
            out.append("| %s | %s | %d | %d | %.3g | %.4f | %.3g | %.3g | %s | %s | %s | %s |" % (
                r["name"], r["impl"], r["ticks"], r["spikes"], r["synaptic_events"], r["run_s"],
                r["events_per_s"], r["neuron_updates_per_s"], g(r.get("compile_s"), "%.2f"),
                g(r.get("peak_rss_mb"), "%.0f"), g(r.get("ratio_numba_over_peer"), "%.2f"),
                g(r.get("load_avg_1m"), "%.1f")))
    return "\n".join(out)


def check_targets(name, nb, results):
    """The issue's targets for workload ``name``, checked on what this run measured:
    {target: [measured, met]}; met is None when the figure is missing."""
    goals = dict(TARGETS.get(name, {}))
    out = {}
    if not nb.get("events_per_s"):
        return out
    rows = results.get(name, {})
    for g, v in goals.items():
        if g == "events_per_s":
            out["events_per_s>=%.2g" % v] = [nb["events_per_s"], nb["events_per_s"] >= v]
        elif g == "peak_rss_mb":
            out["peak_rss_mb<%d" % v] = [nb["peak_rss_mb"], nb["peak_rss_mb"] < v]
        elif g.startswith("x_"):
            r = rows.get(g[2:], {}).get("ratio_numba_over_peer")
            out["x_%s>=%g" % (g[2:], v)] = [r, None if r is None else r >= v]
        elif g == "time_over_mesh":
            m = results.get("mesh_barrier", {}).get("neurotile_numba")
            r = nb["run_s"] / m["run_s"] if m and m.get("run_s") else None
            out["time/mesh_barrier<=%g" % v] = [None if r is None else round(r, 3),
                                                None if r is None else r <= v]
    if "compile_s" in nb:
        out["compile_s<1"] = [nb["compile_s"], nb["compile_s"] < 1.0]
    return out


if __name__ == "__main__":
    sys.exit(main())
