"""`neurotile hil`: run programs on MicroPython boards and compare them with the emulator.

    neurotile hil boards
    neurotile hil deploy --board qemu-microbit
    neurotile hil run programs/hello_lif.spk --board wasm --trace board.npz --lockstep

Module-level imports stay cheap (``neurotile --help`` imports this module): the work is
imported inside the handlers.
"""

from __future__ import annotations

import argparse

_ERRORS = ("BoardError", "BoardTimeout", "RemoteError", "TransportError", "ReadTimeout",
           "VirtualBoardError", "MissingPrerequisite", "ProfileError", "ImageError", "RunError",
           "AsmError", "TraceError")


def _int(name: str, lo: int, hi: int):
    def parse(text: str) -> int:
        try:
            n = int(text, 0)
        except ValueError:
            raise argparse.ArgumentTypeError("%s takes a whole number, not %r" % (name, text)) from None
        if not lo <= n <= hi:
            raise argparse.ArgumentTypeError("%s must be in %d..%d (got %d)" % (name, lo, hi, n))
        return n
    return parse


def _target(p) -> None:
    g = p.add_mutually_exclusive_group(required=True)
    g.add_argument("--board", metavar="NAME",
                   help="board profile (see `neurotile hil boards`): wasm, qemu-microbit, pico, esp32...")
    g.add_argument("--port", metavar="PORT", help="serial port or pyserial URL of a MicroPython board")


def register(sub) -> None:
    p = sub.add_parser(
        "hil", help="hardware in the loop: run a program on a MicroPython board and compare",
        description="Run chip images on MicroPython boards (real, or virtual: a micro:bit under "
                    "QEMU, MicroPython compiled to WebAssembly under Node) and check them against "
                    "the emulator spike for spike and cycle for cycle.",
        epilog="Example: neurotile hil run programs/hello_lif.spk --board wasm")
    hs = p.add_subparsers(title="hil commands", metavar="HILCOMMAND")
    p.set_defaults(func=lambda args: (p.print_help(), 2)[1])

    b = hs.add_parser("boards", help="list board profiles and whether each is reachable now",
                      description="List the board profiles (shipped ones and ~/.config/neurotile/"
                                  "boards.yaml) and whether each can be used now, and why not.")
    b.add_argument("--json", action="store_true", help="print the list as JSON")
    b.set_defaults(func=_boards)

    d = hs.add_parser("deploy", help="upload the chip firmware to a board (only files that changed)",
                      description="Upload the firmware modules to the board's filesystem; files "
                                  "the board already has (same hash) are skipped.")
    _target(d)
    d.add_argument("--program", metavar="PROG",
                   help="only the modules this program needs (default: every module)")
    d.set_defaults(func=_deploy)

    r = hs.add_parser(
        "run", help="run a program on a board and on the emulator; compare the traces",
        description="Deploy the firmware if needed, check that the program fits the board, upload "
                    "the image, run it on the board, run the emulator, compare. Exit status 0 only "
                    "when the two traces are identical; otherwise 1 and a report of the first "
                    "divergence (tick, cycle, tile, neuron), the spikes around it side by side and "
                    "a diff view.",
        epilog="Example: neurotile hil run programs/tdmac_dot.spk --board qemu-microbit --lockstep")
    r.add_argument("program", help="program: PROG.spk or PROG.bin")
    _target(r)
    r.add_argument("--trace", metavar="OUT", help="write the board's trace (.npz)")
    r.add_argument("--lockstep", action="store_true",
                   help="hash the chip state every tick on both sides; report the first tick whose "
                        "state differs")
    r.add_argument("--ticks", type=_int("--ticks", 1, 0xFFFFFFFF), metavar="N",
                   help="run N ticks (default: the program's own length)")
    r.add_argument("--seed", type=_int("--seed", 0, 0xFFFFFFFF), metavar="S", help="override the chip's seed")
    r.add_argument("--backend", choices=("numba", "reference"), default="numba",
                   help="emulator backend to compare with (default numba)")
    r.add_argument("--chunk", type=_int("--chunk", 1, 100000), metavar="T",
                   help="ticks per run call on the board (default: adapted to its heap)")
    r.add_argument("--quiet", "-q", action="store_true", help="no progress bars")
    r.set_defaults(func=_run)


def _user_errors(fn):
    """Board, transport, profile and image errors become one-line UserErrors."""
    def wrapped(args):
        from emulator.cli import UserError

        try:
            return fn(args)
        except UserError:
            raise
        except Exception as exc:  # noqa: BLE001 - filtered by class name below
            names = {c.__name__ for c in type(exc).__mro__}
            if names & set(_ERRORS):
                raise UserError(str(exc)) from None
            raise
    return wrapped


def _console(stderr: bool = False):
    from rich.console import Console

    return Console(stderr=stderr, highlight=False)


@_user_errors
def _boards(args) -> int:
    import json

    from hil.boards import list_profiles, load_profiles

    profiles = load_profiles()
    status = list_profiles(profiles)
    if args.json:
        print(json.dumps([{"name": s.name, "kind": s.kind, "reachable": s.reachable, "detail": s.detail,
                           "description": profiles[s.name].description, "mode": profiles[s.name].mode,
                           "capacity": dict(profiles[s.name].capacity)} for s in status], indent=1))
        return 0
    from rich.table import Table

    t = Table(title="board profiles", title_justify="left")
    for col in ("name", "kind", "mode", "reachable", "capacity (heap, largest tile)", "description / why not"):
        t.add_column(col)
    for s in status:
        prof = profiles[s.name]
        cap = prof.capacity or {}
        tile = cap.get("max_tile")
        t.add_row(s.name, s.kind, prof.mode, "[green]yes[/]" if s.reachable else "[red]no[/]",
                  "%s B, %s" % (cap.get("heap", "?"), "%dx%d" % tuple(tile) if tile else "?"),
                  (prof.description + "\n" if prof.description else "") + s.detail)
    _console().print(t)
    return 0


def _open(args, **kw):
    from hil.boards import load_profiles
    from hil.runner import ChipBoard

    if args.board:
        known = load_profiles()
        if args.board not in known:
            from emulator.cli import UserError

            raise UserError("unknown board %r: profiles are %s (or give a serial port with --port)"
                            % (args.board, ", ".join(sorted(known))))

    return ChipBoard.open(args.board or args.port, **kw)


def _progress(quiet: bool):
    import contextlib

    if quiet:
        return contextlib.nullcontext(None)
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn

    return Progress(TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                    TimeElapsedColumn(), console=_console(stderr=True), transient=False)


def _bar(progress, description: str):
    """A progress callback (done, total) that drives a new task; None when quiet."""
    if progress is None:
        return None
    task = progress.add_task(description, total=None)

    def update(done, total):
        progress.update(task, completed=done, total=total)
    return update


def _deploy_bar(progress):
    if progress is None:
        return None
    tasks = {}

    def update(name, done, total):
        if name not in tasks:
            tasks[name] = progress.add_task("deploy " + name, total=total)
        progress.update(tasks[name], completed=done, total=total)
    return update


@_user_errors
def _deploy(args) -> int:
    image = None
    if args.program:
        from emulator.api import load_bytes

        image = load_bytes(args.program)
    with _progress(False) as progress, _open(args) as chip:
        uploaded = chip.deploy(image, progress=_deploy_bar(progress))
        info = chip.handshake()
    print("%s: %s; %s" % (chip.profile.name,
                          "uploaded " + ", ".join(uploaded) if uploaded else "firmware already up to date",
                          "free heap %s bytes, MicroPython %s" % (info.get("heap_free"),
                                                                 ".".join(map(str, info.get("micropython", ()))))))
    return 0


@_user_errors
def _run(args) -> int:
    import os
    import time

    from emulator.api import load_bytes
    from emulator.image import decode
    from hil.compare import compare_traces, emulator_trace, report

    if args.trace:
        from emulator.commands.run import _check_output_path

        _check_output_path(args.trace)
    image = load_bytes(args.program)
    prog = decode(image)
    ticks = args.ticks
    if ticks is None and prog.static_ticks() is None:
        from emulator.cli import UserError

        raise UserError("the program jumps (jmp) and may never halt: give a tick limit (--ticks)")
    console = _console()
    with _progress(args.quiet) as progress:
        with _open(args, chunk_ticks=args.chunk) as chip:
            chip.check_fits(image, args.lockstep)      # before anything is uploaded
            chip.deploy(image, progress=_deploy_bar(progress), hashing=args.lockstep)
            t0 = time.monotonic()
            need = chip.load(image, seed=args.seed, hashing=args.lockstep, deploy=False,
                             progress=_bar(progress, "upload image"))
            t1 = time.monotonic()
            chip.run(ticks, progress=_bar(progress, "run on %s" % chip.profile.name))
            t2 = time.monotonic()
            board = chip.trace()
        emu = emulator_trace(prog, image, ticks=ticks, seed=args.seed,
                             state_hash=args.lockstep, backend=args.backend,
                             progress=_bar(progress, "emulator (%s)" % args.backend))
    board.meta["program"] = emu.meta.get("program") or os.path.basename(args.program)
    emu.meta["program"] = board.meta["program"]
    if args.trace:
        board.save(args.trace)
    console.print("%s on %s: upload %.2fs (%d B), run %.2fs (%d ticks), free heap after load %s B"
                  % (os.path.basename(args.program), chip.profile.name, t1 - t0, len(image), t2 - t1,
                     board.n_ticks, need.get("mem_free")))
    result = compare_traces(board, emu, lockstep=args.lockstep)
    report(result, console)
    return 0 if result.identical else 1
