"""`neurotile nir compile` and `neurotile nir export`: NIR graphs in and out (docs/NIR.md)."""

from __future__ import annotations

import argparse
import os
import sys


def _pair(what: str):
    def parse(text: str):
        parts = text.lower().split("x")
        try:
            a, b = (int(p) for p in parts)
        except ValueError:
            raise argparse.ArgumentTypeError("%s takes AxB (two whole numbers), not %r" % (what, text)) from None
        return a, b
    return parse


def _positive_float(text: str) -> float:
    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError("--dt takes seconds, e.g. 1e-4, not %r" % text) from None
    if not v > 0 or v != v or v == float("inf"):
        raise argparse.ArgumentTypeError("--dt must be a positive number of seconds")
    return v


def register(sub) -> None:
    p = sub.add_parser(
        "nir", help="compile a NIR graph to a program, or export a program as NIR",
        description="NIR (Neuromorphic Intermediate Representation) in and out: compile trained "
                    "spiking networks (snnTorch, Norse, Rockpool, Lava-DL, ...) onto the chip, "
                    "and export LIF programs as NIR graphs. See docs/NIR.md.")
    nsub = p.add_subparsers(title="actions", metavar="ACTION")
    c = nsub.add_parser(
        "compile", help="compile MODEL.nir into a readable .spk program",
        description="Compile a NIR graph into .spk source (or a .bin image if -o ends in .bin): "
                    "quantise, split layers over tiles, place, route, and check every limit.",
        epilog="Example: neurotile nir compile model.nir -o model.spk --dt 1e-4 --report")
    c.add_argument("model", metavar="MODEL.nir", help="NIR file (HDF5, written by nir.write)")
    c.add_argument("-o", "--output", metavar="PROG.spk",
                   help="program to write (default: MODEL.spk); .bin writes the image")
    c.add_argument("--mesh", type=_pair("--mesh"), metavar="WxH",
                   help="mesh size (default: the smallest square-ish mesh that fits)")
    c.add_argument("--tile-size", type=_pair("--tile-size"), default=(256, 256), metavar="AxN",
                   help="axons x neurons per tile (default 256x256)")
    c.add_argument("--dt", type=_positive_float, metavar="SECONDS",
                   help="time step of one tick (default: the graph's metadata 'dt')")
    c.add_argument("--weight-bits", type=int, default=8, metavar="B",
                   help="weight width in bits, 2..8 (default 8)")
    c.add_argument("--window", type=int, metavar="K",
                   help="cycles per tick (default: the graph's metadata, else 16)")
    c.add_argument("--reset", choices=("auto", "zero", "subtract"), default="auto",
                   help="reset after a spike: zero, subtract the threshold, or auto (the node's "
                        "metadata 'reset', else zero)")
    c.add_argument("--input", metavar="SPIKES.npy",
                   help="input spike counts, shape (steps, inputs), for a graph with one Input; "
                        "they become the program's spike block")
    c.add_argument("--steps", type=int, metavar="T",
                   help="NIR steps to run (default: the input's length, else 100)")
    c.add_argument("--probe", action="store_true",
                   help="probe every neuron (v and u every tick, for the viewer); by default only "
                        "LI/I outputs are probed")
    c.add_argument("--report", action="store_true",
                   help="print the table: node -> tiles, neurons, synapses, quantisation error, hops")
    c.set_defaults(func=run_compile)

    e = nsub.add_parser(
        "export", help="export a program's LIF tiles, weights and routes as a NIR graph",
        description="Write a NIR graph of a program: LIF tiles become LIF/CubaLIF/IF nodes, "
                    "routes and weights Linear nodes. TD-MAC tiles, STDP, refractory periods "
                    "and analog non-idealities are refused by name. With --trace, write the "
                    "run's spikes as NIR data (NIRGraphData) instead.",
        epilog="Example: neurotile nir export model.spk -o model_again.nir --dt 1e-4")
    e.add_argument("program", metavar="PROG.spk|PROG.bin", help="program to export")
    e.add_argument("-o", "--output", metavar="MODEL.nir", required=True, help="NIR file to write")
    e.add_argument("--dt", type=_positive_float, default=None, metavar="SECONDS",
                   help="seconds per tick written into the graph (default 1e-3)")
    e.add_argument("--trace", metavar="TRACE.npz",
                   help="write this run's spikes and probed voltages as NIRGraphData")
    e.set_defaults(func=run_export)
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])


def _fail(path: str, msg: str) -> int:
    print("%s: error: %s" % (path, msg), file=sys.stderr)
    return 1


def run_compile(args) -> int:
    import numpy as np

    from emulator import image
    from emulator.fileio import write_atomic
    from emulator.nir.compiler import Options, compile_graph
    from emulator.nir.graph import NIRError
    from emulator.nir.report import format_report
    from emulator.nir.spk import write_spk

    out = args.output or os.path.splitext(args.model)[0] + ".spk"
    opt = Options(dt=args.dt, mesh=args.mesh, tile_size=args.tile_size,
                  weight_bits=args.weight_bits, reset=args.reset, probe_all=args.probe,
                  window=args.window)
    try:
        comp = compile_graph(args.model, opt)
        inputs = {}
        steps = args.steps
        if args.input:
            if len(comp.inputs) != 1:
                raise NIRError("--input needs a graph with exactly one Input node (it has %d)"
                               % len(comp.inputs))
            try:
                x = np.load(args.input, allow_pickle=False)
            except (OSError, ValueError) as e:
                raise NIRError("cannot read --input %s: %s" % (args.input, e)) from None
            inputs[next(iter(comp.inputs))] = x
            steps = steps or len(x)
        steps = steps or 100
        if steps < 1:
            raise NIRError("--steps must be at least 1")
        prog = comp.with_inputs(inputs, steps)
        data = image.encode(prog)
    except NIRError as e:
        return _fail(args.model, str(e))
    except image.ImageError as e:
        return _fail(args.model, "the compiled program is invalid: %s" % e)
    if out.endswith(".bin"):
        payload = data
    else:
        payload = write_spk(comp, prog, title="%s: compiled from %s by neurotile nir compile"
                            % (os.path.basename(out), os.path.basename(args.model))).encode()
    try:
        write_atomic(out, payload)
    except OSError as e:
        return _fail(out, "cannot write: %s" % (e.strerror or e))
    if args.report:
        sys.stdout.write(format_report(comp))
    n_tiles = sum(t is not None for t in prog.tiles)
    print("%s: %d tiles on a %dx%d mesh, %d NIR steps (%d ticks with the layer lag)"
          % (out, n_tiles, prog.chip["mesh_w"], prog.chip["mesh_h"], steps, steps + comp.max_lag))
    return 0


def run_export(args) -> int:
    import nir

    from emulator import api, image
    from emulator.errors import UserError
    from emulator.fileio import write_atomic
    from emulator.nir.export import export_program, trace_to_nirdata

    dt = args.dt or 1e-3
    try:
        data = api.load_bytes(args.program)
        prog = image.decode(data)
    except OSError as e:
        return _fail(args.program, "cannot read: %s" % (e.strerror or e))
    except Exception as e:
        if type(e).__name__ in ("AsmError",):
            print(str(e), file=sys.stderr)
            return 1
        if isinstance(e, (image.ImageError, UserError)):
            return _fail(args.program, str(e))
        raise
    try:
        if args.trace:
            from emulator.trace import Trace

            trace = Trace.load(args.trace)
            obj = trace_to_nirdata(prog, trace, dt)
            writer = nir.write_data
        else:
            obj = export_program(prog, dt)
            writer = nir.write
    except UserError as e:
        return _fail(args.trace or args.program, str(e))
    except Exception as e:
        if type(e).__name__ == "TraceError":
            return _fail(args.trace, str(e))
        raise
    # nir writes through h5py to a path: write beside the target, then rename atomically
    import tempfile

    folder = os.path.dirname(os.path.abspath(args.output))
    fd, tmp = tempfile.mkstemp(suffix=".nir.tmp", dir=folder)
    os.close(fd)
    try:
        writer(tmp, obj)
        with open(tmp, "rb") as fh:
            payload = fh.read()
        write_atomic(args.output, payload)
    except OSError as e:
        return _fail(args.output, "cannot write: %s" % (e.strerror or e))
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    what = "NIR data (%d nodes)" % len(obj.nodes) if args.trace else "NIR graph: %d nodes, %d edges" % (
        len(obj.nodes), len(obj.edges))
    print("%s: %s" % (args.output, what))
    return 0
