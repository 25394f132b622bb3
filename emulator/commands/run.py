"""`neurotile run`: run a program on an emulator backend and summarise it."""

from __future__ import annotations

import argparse
import os
import time



def _ticks(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("--ticks takes a whole number, not %r" % text) from None
    if n < 1:
        raise argparse.ArgumentTypeError("--ticks must be at least 1 (got %d)" % n)
    if n > 0xFFFFFFFF:
        raise argparse.ArgumentTypeError("--ticks %d is absurd: at most %d" % (n, 0xFFFFFFFF))
    return n


def _seed(text: str) -> int:
    try:
        n = int(text, 0)
    except ValueError:
        raise argparse.ArgumentTypeError("--seed takes a whole number, not %r" % text) from None
    if not 0 <= n <= 0xFFFFFFFF:
        raise argparse.ArgumentTypeError("--seed must be in 0..4294967295 (got %d)" % n)
    return n


def _record(text: str) -> tuple:
    from emulator.trace import parse_record

    try:
        return parse_record(text)
    except ValueError as e:
        raise argparse.ArgumentTypeError(str(e)) from None


def register(sub) -> None:
    p = sub.add_parser(
        "run", help="run a program on the emulator and print a summary",
        description="Run a spike program (.spk is assembled first, .bin is read as is) on an "
                    "emulator backend, print a summary (ticks, cycles, spikes per tile, "
                    "late/dropped spikes, router latency, learning, energy) and optionally "
                    "write the trace.",
        epilog="Example: neurotile run programs/demo.spk --trace demo.npz --view")
    p.add_argument("program", help="program: PROG.spk or PROG.bin")
    p.add_argument("--trace", metavar="OUT", help="write the trace (.npz, written atomically)")
    p.add_argument("--record", type=_record, metavar="LIST", default=None,
                   help="what the trace keeps: a comma list of spikes (output and input "
                        "spikes), probes, packets (the per-packet log, usually the bulk), "
                        "weights; default all of them (what the viewer shows). Per-tick "
                        "counters are kept when spikes or packets are left out")
    p.add_argument("--uncompressed", action="store_true",
                   help="write the trace uncompressed (default: deflated, several times "
                        "smaller, a little slower to load)")
    p.add_argument("--ticks", type=_ticks, metavar="N",
                   help="run N ticks (default: the program's own length; required when it loops forever)")
    p.add_argument("--backend", choices=("numba", "reference"), default="numba",
                   help="numba (fast, default) or reference (plain Python, the firmware's code)")
    p.add_argument("--seed", type=_seed, metavar="S", help="override the chip's random seed")
    p.add_argument("--state-hash", action="store_true", help="record the per-tick state hash")
    p.add_argument("--view", action="store_true", help="show the trace in the viewer after the "
                   "run (paged like `neurotile view` when taller than the terminal)")
    p.add_argument("--no-pager", action="store_true", help="with --view: never page")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", "-q", action="store_true", help="no summary, no progress bar")
    p.add_argument("--energy-model", metavar="MODEL", default="default",
                   help="price the run's events with: default (neurotile's model), loihi-sanafe "
                        "(Loihi's energies as SANA-FE's loihi.yaml gives them) or a YAML file of "
                        "joules per event (docs/SPEC.md section 14)")
    p.set_defaults(func=main)


def _check_output_path(path: str) -> None:
    from emulator.errors import UserError

    folder = os.path.dirname(os.path.abspath(path)) or "."
    if os.path.isdir(path):
        raise UserError("--trace %s is a directory" % path)
    if not os.path.isdir(folder):
        raise UserError("cannot write trace %s: folder %s does not exist" % (path, folder))
    if not os.access(folder, os.W_OK):
        raise UserError("cannot write trace %s: folder %s is not writable" % (path, folder))


def _save(trace, path: str, compress: bool) -> None:
    """Write the trace; over 1 GB of arrays, say so (with the estimate) before writing."""
    import sys
    import warnings

    from emulator.trace import SIZE_WARNING_BYTES, TraceSizeWarning

    if trace.nbytes > SIZE_WARNING_BYTES:
        print("neurotile: warning: %s" % trace.size_note(compress), file=sys.stderr, flush=True)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", TraceSizeWarning)
        trace.save(path, compress=compress)


def summarize(trace, energy_model=None) -> dict:
    """The figures the run summary shows, from a trace (plain Python types).

    ``energy_model``: see :func:`emulator.energy.load_model` (None: the default model)."""
    import numpy as np

    from emulator import energy

    a, meta = trace.arrays, trace.meta
    tiles = meta["tiles"]
    spk_tile = a["spk_tile"]
    per_tile = np.bincount(spk_tile, minlength=len(tiles)) if len(spk_tile) else np.zeros(len(tiles), int)
    arrive = a["pkt_arrive"]
    ok = arrive >= 0
    lat = (arrive - a["pkt_ready"])[ok]
    hops = a["pkt_hops"][ok]
    w0 = a["w_init"].astype(np.int64)
    w1 = a["w_final"].astype(np.int64)
    e = energy.estimate(meta, a, model=energy_model)

    def stats(x):
        if len(x) == 0:
            return None
        return {"min": int(x.min()), "mean": float(x.mean()), "max": int(x.max())}

    return {
        "program": meta.get("program", ""),
        "backend": meta.get("backend", ""),
        "seed": meta.get("seed"),
        "ticks": int(meta["ticks"]),
        "cycles": int(a["tick_start"][-1]),
        "stall_cycles": int(a["stall"].sum()),
        "spikes": int(len(spk_tile)),
        "spikes_per_tile": [int(x) for x in per_tile],
        "inputs": int(len(a["inp_tick"])),
        "packets": int(len(arrive)),
        "dropped": int((~ok).sum()),
        "latency_cycles": stats(lat),
        "hops": stats(hops),
        "weights_changed": int(np.count_nonzero(w0 != w1)),
        "weight_change_abs": int(np.abs(w1 - w0).sum()),
        "energy": e,
    }


def _fmt_j(x: float) -> str:
    from emulator.units import energy

    return energy(x)


def render_summary(s: dict, trace, console, wall_s: float) -> None:
    from rich.table import Table

    meta = trace.meta
    console.print("[bold]neurotile run[/] %s  [dim](backend %s, seed %s, %.2f s wall)[/]"
                  % (s["program"], s["backend"], s["seed"], wall_s))
    top = Table.grid(padding=(0, 2))
    top.add_column(style="bold")
    top.add_column()
    top.add_row("ticks", "%d (window %d cycles)" % (s["ticks"], meta["window"]))
    top.add_row("cycles", "%d total, %d stall (%s mode)" % (s["cycles"], s["stall_cycles"], meta["router_mode"]))
    top.add_row("spikes", "%d out, %d external in" % (s["spikes"], s["inputs"]))
    top.add_row("packets", "%d routed, %d late/dropped" % (s["packets"], s["dropped"]))
    if s["latency_cycles"]:
        lc, hp = s["latency_cycles"], s["hops"]
        top.add_row("latency", "cycles min %d / mean %.2f / max %d;  hops min %d / mean %.2f / max %d"
                    % (lc["min"], lc["mean"], lc["max"], hp["min"], hp["mean"], hp["max"]))
    top.add_row("learning", "%d weights changed, sum |dw| = %d" % (s["weights_changed"], s["weight_change_abs"]))
    e = s["energy"]
    top.add_row("energy", "%s total, %s per tick, %.3g W at %.0f MHz (model %s)"
                % (_fmt_j(e["total_j"]), _fmt_j(e["per_tick_j"]), e["power_w"], e["params"]["clock_hz"] / 1e6,
                   e["params"].get("model", "default")))
    console.print(top)
    t = Table(title="per tile", title_justify="left", show_edge=False)
    for col in ("tile", "(x,y)", "core", "axons x neurons", "spikes", "spikes/neuron/tick"):
        t.add_column(col, justify="right" if col not in ("core",) else "left")
    w = meta["mesh"][0]
    for i, tile in enumerate(meta["tiles"]):
        if tile.get("core", "off") == "off":
            continue
        n = max(1, tile["neurons"])
        t.add_row(str(i), "(%d,%d)" % (i % w, i // w), tile["core"], "%d x %d" % (tile["axons"], tile["neurons"]),
                  str(s["spikes_per_tile"][i]), "%.4f" % (s["spikes_per_tile"][i] / n / max(1, s["ticks"])))
    console.print(t)
    parts = Table(title="energy breakdown", title_justify="left", show_edge=False)
    parts.add_column("category")
    parts.add_column("energy", justify="right")
    parts.add_column("share", justify="right")
    for k, v in e["parts_j"].items():
        parts.add_row(k, _fmt_j(v), "%.1f%%" % (100 * v / e["total_j"]) if e["total_j"] else "-")
    console.print(parts)


def main(args) -> int:
    import json

    from rich.console import Console
    from rich.progress import BarColumn, Progress, TextColumn, TimeRemainingColumn

    from emulator import api
    from emulator.errors import UserError

    if args.trace:
        _check_output_path(args.trace)
    from emulator import energy

    energy_model = energy.load_model(args.energy_model)     # a bad model fails before the run
    if not os.path.exists(args.program):
        raise UserError("no such program: %s" % args.program)
    console = Console(stderr=False)
    try:
        data = api.load_bytes(args.program)
    except OSError as e:
        raise UserError("cannot read %s: %s" % (args.program, e.strerror or e)) from None
    from emulator import image

    prog = image.decode(data)
    length = prog.static_ticks()
    if length is None and args.ticks is None:
        raise UserError("%s can loop forever (it uses jmp): give --ticks N" % args.program)
    if length is not None and args.ticks is not None and args.ticks > length:
        raise UserError("--ticks %d is beyond the program, which ends after %d ticks" % (args.ticks, length))
    total = args.ticks or length

    state = {"bar": None, "task": None, "t0": time.monotonic()}

    def progress(done, _total=None):
        if args.quiet:
            return
        if state["bar"] is None:
            if time.monotonic() - state["t0"] < 1.0:
                return
            state["bar"] = Progress(TextColumn("running"), BarColumn(), TextColumn("{task.completed}/{task.total} ticks"),
                                    TimeRemainingColumn(), console=Console(stderr=True), transient=True)
            state["bar"].start()
            state["task"] = state["bar"].add_task("run", total=total)
        state["bar"].update(state["task"], completed=done)

    # The first numba run compiles the kernels (about a minute; cached afterwards) before
    # the first progress report: say so instead of sitting silent.
    import threading

    def _compiling_note():
        if state["bar"] is None and not args.quiet:
            Console(stderr=True).print("[dim]preparing the %s backend (the first run compiles its "
                                       "kernels, about a minute; cached afterwards)...[/]" % args.backend)

    note = threading.Timer(3.0, _compiling_note)
    note.daemon = True
    if args.backend == "numba":
        note.start()
    t0 = time.monotonic()
    try:
        trace = api.run(data, backend=args.backend, ticks=args.ticks, seed=args.seed,
                        state_hash=args.state_hash, progress=progress, name=os.path.basename(args.program))
    finally:
        note.cancel()
        if state["bar"] is not None:
            state["bar"].stop()
    wall = time.monotonic() - t0
    # The summary prices every event of the run, so it is taken before --record drops logs.
    s = None if args.quiet else summarize(trace, energy_model)
    if args.record is not None:
        trace = trace.select(args.record)
    if args.trace:
        _save(trace, args.trace, not args.uncompressed)
    if s is not None:
        if args.json:
            print(json.dumps(s, indent=2, default=float))
        else:
            render_summary(s, trace, console, wall)
            if args.trace:
                console.print("[dim]trace written to %s[/]" % args.trace)
    if args.view:
        from emulator.commands.view import show
        from emulator.viewer import render

        show(console, lambda target: render.render_trace(trace, console=target),
             pager=not args.no_pager)
    return 0
