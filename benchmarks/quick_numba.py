"""Quick throughput check of the numba backend on the workloads of the performance issue.

    python benchmarks/quick_numba.py [--quick] [--repeats N] [--only crossbar,mesh_barrier,...]

Runs the workloads of ``benchmarks/workloads.py`` (the same programs as
``benchmarks/run.py``) on the numba backend only, in this process: one warm-up
run, then ``--repeats`` timed runs of ``numba_backend.run`` (host set-up, compiled
chunks and trace assembly, as ``run.py`` times them); prints the median and the
spread, synaptic events/s, and where the time goes (host set-up / compiled
ticks / trace). Targets (issue 7): crossbar >= 1.5e9 events/s, mesh >= 1e8,
mesh_stdp <= 3x mesh, cache load < 1 s, peak RSS of mesh < 500 MB.

``warm start`` is ``numba_backend.warmup()`` in this fresh process: loading the
compiled kernels from numba's cache (plus numba's own one-off set-up, see
docs/PERFORMANCE.md). Peak RSS is the process's, over all workloads run.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import sys
import time

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))

t_import = time.perf_counter()
from emulator import image  # noqa: E402
from emulator.backends import numba_backend  # noqa: E402
import workloads  # noqa: E402

DEFAULT = ("crossbar", "mesh_barrier", "mesh_fixed", "mesh_stdp")
TARGET = {"crossbar": 1.5e9, "mesh_barrier": 1e8, "mesh_fixed": 1e8}


def _split(prog, data, ticks):
    """(host set-up, compiled ticks, trace) seconds of one run, done by hand."""
    seed = prog.chip["seed"]
    t0 = time.perf_counter()
    chip = numba_backend._Chip(prog, seed, ticks, False)
    t1 = time.perf_counter()
    chip.chunk(1 << 40, ticks, False)
    t2 = time.perf_counter()
    numba_backend._build_trace(prog, data, seed, chip, ticks, False)
    return t1 - t0, t2 - t1, time.perf_counter() - t2


def measure(name, quick, repeats):
    wl = workloads.build(name, quick=quick)
    data = image.encode(wl.prog)
    prog = image.decode(data)
    tr = numba_backend.run(prog, data)                     # warm-up
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        tr = numba_backend.run(prog, data)
        times.append(time.perf_counter() - t0)
    a = tr.arrays
    ticks = len(a["stall"])
    parts = [_split(prog, data, ticks) for _ in range(repeats)]
    host, core, trace = (statistics.median(p[i] for p in parts) for i in range(3))
    ev = int(a["cnt_syn_events"].sum())
    med = statistics.median(times)
    rate = len(a["spk_tick"]) / max(1, ticks * int(a["n_offsets"][-1]))
    target = TARGET.get(name)
    print("%-13s %5d ticks  run %.4f s (min %.4f max %.4f)  %.3g events/s%s\n"
          "              set-up %.4f s  ticks %.4f s (%.2f us/tick)  trace %.4f s  "
          "spiking %.2f%%/tick  packets %d  stall %d  dropped %d"
          % (name, ticks, med, min(times), max(times), ev / med,
             "  (target %.2g: %s)" % (target, "met" if ev / med >= target else "NOT met")
             if target else "", host, core, core / ticks * 1e6, trace, 100 * rate,
             len(a["pkt_tick"]), int(a["stall"].sum()), int(a["dropped"].sum())), flush=True)
    return med


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--quick", action="store_true", help="the short versions of the workloads")
    p.add_argument("--repeats", type=int, default=5, help="timed runs per workload (median)")
    p.add_argument("--only", default=",".join(DEFAULT),
                   help="comma-separated workloads (default: %s)" % ",".join(DEFAULT))
    a = p.parse_args(argv)
    print("import: %.2f s" % (time.perf_counter() - t_import))
    t0 = time.perf_counter()
    numba_backend.warmup()
    print("warm start (cache load + one-tick run): %.2f s" % (time.perf_counter() - t0))
    res = {}
    for name in a.only.split(","):
        res[name] = measure(name, a.quick, max(3, a.repeats))
    if "mesh_stdp" in res and "mesh_barrier" in res:
        print("mesh_stdp / mesh_barrier: %.2fx (target <= 3x)"
              % (res["mesh_stdp"] / res["mesh_barrier"]))
    print("peak RSS: %.0f MB" % (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024))


if __name__ == "__main__":
    main()
