"""`neurotile view`: look at a trace (or the difference between two).

Module-level imports stay cheap (argparse only): rich, numpy and Textual load when the
command runs, so `neurotile --help` stays fast.
"""

from __future__ import annotations

HELP = "show a trace: spike raster, probes, mesh, latency, learning, energy (or diff two)"


def register(sub) -> None:
    p = sub.add_parser(
        "view", help=HELP, description=HELP + ". With two traces, show where they differ.",
        epilog="Examples: `neurotile view run.npz --tiles 0-3 --ticks 100:200`; "
               "`neurotile view emu.npz board.npz` (diff); "
               "`neurotile view run.npz --interactive` (keys: arrows pan, +/- zoom, "
               "t/T tile, ,/. step tick, q quit).")
    p.add_argument("traces", nargs="+", metavar="TRACE",
                   help="trace file (.npz); give two to see their difference")
    p.add_argument("--tiles", metavar="LIST", help="tiles to show, e.g. 0-3,7 (default: all)")
    p.add_argument("--neurons", metavar="LIST", help="neurons to show, e.g. 0-15 (default: all)")
    p.add_argument("--ticks", metavar="A:B", help="tick window, half open; A or B may be "
                   "omitted or negative (from the end). Default: the whole run")
    p.add_argument("--cycles", action="store_true",
                   help="raster time axis in cycles (stall cycles included) instead of ticks")
    p.add_argument("--width", type=int, metavar="N",
                   help="render N columns wide (default: the terminal, or 80 when piped)")
    p.add_argument("--svg", metavar="OUT", help="also save the render as SVG")
    p.add_argument("--html", metavar="OUT", help="also save the render as HTML")
    p.add_argument("--png", metavar="OUT", help="write a one-page report of every panel as "
                   "PNG (matplotlib: pip install 'neurotile[plot]') instead of the terminal view")
    p.add_argument("--pdf", metavar="OUT", help="the same one-page report as PDF")
    p.add_argument("--csv", metavar="OUT", help="write per-tick counters and energy as CSV "
                   "(one row per tick, like SANA-FE's performance trace)")
    p.add_argument("--no-color", action="store_true",
                   help="no colour (also when NO_COLOR is set or output is piped)")
    p.add_argument("--no-pager", action="store_true", help="never page long output")
    p.add_argument("--interactive", "-i", action="store_true",
                   help="full-screen viewer: pan/zoom in time, pick tiles, step ticks")
    p.set_defaults(func=run)


def run(args) -> int:
    from emulator.errors import UserError

    if len(args.traces) > 2:
        raise UserError("view takes one trace, or two to compare (got %d)" % len(args.traces))
    if args.width is not None and not 40 <= args.width <= 1000:
        raise UserError("--width must be between 40 and 1000 columns")
    from emulator.viewer.model import load_trace, make_selection

    views = [load_trace(path) for path in args.traces]
    try:
        if len(views) == 1:
            sel = make_selection(views[0], tiles=args.tiles, neurons=args.neurons,
                                 ticks=args.ticks, cycles=args.cycles)
    except ValueError as e:
        raise UserError(str(e)) from None

    if args.png or args.pdf or args.csv:
        if len(views) != 1:
            raise UserError("--png/--pdf/--csv take one trace")
        return _files(views[0], sel, args)

    if args.interactive:
        if len(views) != 1:
            raise UserError("--interactive shows one trace")
        from emulator.viewer.app import run_app

        return run_app(views[0], sel)

    from rich.console import Console

    exporting = bool(args.svg or args.html)
    console = Console(width=args.width, no_color=args.no_color or None, highlight=False,
                      record=exporting, emoji=False)

    def draw(target):
        from emulator.viewer.common import look_for

        look = look_for(target, args.width)
        if len(views) == 2:
            from emulator.viewer.diff import diff_renderables

            try:
                items = diff_renderables(views[0], views[1], look, tiles=args.tiles,
                                         ticks=args.ticks)
            except ValueError as e:
                raise UserError(str(e)) from None
        else:
            from emulator.viewer.render import trace_renderables

            items = trace_renderables(views[0], sel, look)
        for item in items:
            target.print(item)

    show(console, draw, pager=not args.no_pager and not exporting)
    try:
        if args.svg:
            console.save_svg(args.svg, title="neurotile view", clear=False)
        if args.html:
            console.save_html(args.html, clear=False)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (e.filename, e.strerror)) from None
    return 0


def _files(view, sel, args) -> int:
    """--png/--pdf (the matplotlib report) and --csv (per-tick counters)."""
    from emulator.errors import UserError

    for opt in ("png", "pdf", "csv"):
        path = getattr(args, opt)
        if path and not path.lower().endswith("." + opt):
            raise UserError("--%s %s: the file name must end in .%s" % (opt, path, opt))
    try:
        if args.csv:
            from emulator import counters

            try:
                counters.write_csv(view, args.csv)
            except counters.CounterError as e:
                raise UserError(str(e)) from None
            print("per-tick counters written to %s" % args.csv)
        if args.png or args.pdf:
            try:
                import matplotlib
            except ImportError:
                raise UserError("--png/--pdf need matplotlib: pip install 'neurotile[plot]'") from None
            matplotlib.use("Agg")
            import matplotlib.pyplot as plt

            from emulator import plot

            ticks = (sel.tick_a, sel.tick_b)
            fig = plot.report(view, ticks=ticks, tiles=sel.tiles)
            for path in (args.png, args.pdf):
                if path:
                    plot.save(fig, path)
                    print("report written to %s" % path)
            plt.close(fig)
    except OSError as e:
        raise UserError("cannot write %s: %s" % (e.filename, e.strerror)) from None
    return 0


def show(console, draw, pager: bool = True) -> None:
    """Run ``draw(console)``; on a terminal, page the output when it is taller than the
    screen (``neurotile view`` and ``neurotile run --view`` share this)."""
    if console.is_terminal and pager:
        with console.capture() as captured:
            draw(console)
        text = captured.get()
        if text.count("\n") > console.height:
            _page(text)
        else:
            console.file.write(text)
            console.file.flush()
    else:
        draw(console)


def _page(text: str) -> None:
    """Page already-rendered text (ANSI styles kept) with rich's system pager."""
    import os

    from rich.pager import SystemPager

    less = os.environ.get("LESS", "")
    if "R" not in less and "r" not in less:
        os.environ["LESS"] = (less + " -R").strip()
    SystemPager().show(text)
