"""`neurotile bench`: the benchmark suite (benchmarks/run.py) from the command line.

A thin wrapper: it finds ``benchmarks/run.py`` in the source checkout that the
``emulator`` package lives in and runs it with the same Python, passing the
options through. Output is the runner's: one JSON object per line.
"""

from __future__ import annotations

import os


def _runner_path():
    here = os.path.dirname(os.path.abspath(__file__))             # emulator/commands
    root = os.path.dirname(os.path.dirname(here))
    path = os.path.join(root, "benchmarks", "run.py")
    return path if os.path.exists(path) else None


def register(sub) -> None:
    p = sub.add_parser(
        "bench", help="measure neurotile against its peers (benchmarks/run.py)",
        description="Build the benchmark workloads (crossbar, mesh in both router modes, "
                    "mesh_stdp, tdmac, reference), run neurotile and its peers (a hand-written "
                    "numba loop, Brian2 cython and cpp_standalone, SANA-FE, NEST) each in a "
                    "subprocess, and print one JSON object per line. Brian2, SANA-FE and NEST "
                    "need their own environments: bash benchmarks/setup_peers.sh. "
                    "See docs/PERFORMANCE.md.",
        epilog="Example: neurotile bench --quick --only crossbar,mesh")
    p.add_argument("--quick", action="store_true", help="short runs (under a minute on 2 cores)")
    p.add_argument("--only", metavar="NAMES", default="",
                   help="workloads, comma-separated: crossbar, mesh (= mesh_barrier, mesh_fixed), "
                        "mesh_barrier, mesh_fixed, mesh_stdp, tdmac, reference")
    p.add_argument("--impls", metavar="IMPLS", default="",
                   help="implementations, comma-separated: neurotile_numba, neurotile_reference, "
                        "handloop, brian2_cython, brian2_cpp_standalone, sanafe, nest_1t, nest_2t")
    p.add_argument("--repeats", type=int, default=3, metavar="N", help="timed runs per measurement (>= 3)")
    p.set_defaults(func=main)


def main(args) -> int:
    import subprocess
    import sys

    from emulator.errors import UserError

    runner = _runner_path()
    if runner is None:
        raise UserError("benchmarks/run.py not found: `neurotile bench` runs from a source "
                        "checkout of neurotile (the benchmarks are not installed with the package)")
    if args.repeats < 3:
        raise UserError("--repeats must be at least 3 (the runner reports a median)")
    cmd = [sys.executable, runner, "--repeats", str(args.repeats)]
    if args.quick:
        cmd.append("--quick")
    if args.only:
        cmd += ["--only", args.only]
    if args.impls:
        cmd += ["--impls", args.impls]
    return subprocess.call(cmd)
