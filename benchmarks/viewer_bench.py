"""Viewer benchmark: time to the first screen of a 1,000,000-spike trace (target < 2 s).

    python benchmarks/viewer_bench.py [--spikes N] [--width W] [--repeat R]

Builds a synthetic trace (emulator.viewer.synth: 4x4 mesh, 256 neurons per tile, one packet
per spike), writes it as a trace file, then times, as `neurotile view` does them:
loading the file, and rendering the first screen (header and spike raster of all tiles), and
for reference the whole static view and the interactive viewer's first frame (80x24).
"""

from __future__ import annotations

import argparse
import asyncio
import io
import os
import sys
import tempfile
import time

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from rich.console import Console  # noqa: E402

from emulator.viewer.common import look_for  # noqa: E402
from emulator.viewer.header import header_panel  # noqa: E402
from emulator.viewer.model import load_trace, make_selection  # noqa: E402
from emulator.viewer.raster import raster_panel  # noqa: E402
from emulator.viewer.render import trace_renderables  # noqa: E402
from emulator.viewer.synth import synthetic_trace  # noqa: E402


def best_of(repeat, fn):
    times = []
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - t0)
    return min(times), result


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--spikes", type=int, default=1_000_000)
    ap.add_argument("--width", type=int, default=160)
    ap.add_argument("--repeat", type=int, default=3)
    args = ap.parse_args(argv)

    t0 = time.perf_counter()
    arrays = synthetic_trace(mesh=(4, 4), neurons=256, axons=256, ticks=10_000,
                             spikes=args.spikes, window=32, seed=1)
    gen = time.perf_counter() - t0
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "bench.npz")
        with open(path, "wb") as fh:
            import numpy as np
            np.savez(fh, **arrays)
        size_mb = os.path.getsize(path) / 1e6
        del arrays

        t_load, view = best_of(args.repeat, lambda: load_trace(path))
        n = view.arrays["spk_tick"].size

        def first_screen():
            con = Console(width=args.width, height=50, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor")
            sel = make_selection(view)
            look = look_for(con)
            con.print(header_panel(view, look))
            con.print(raster_panel(view, sel, look))
            return con.file.getvalue()

        def whole_view():
            con = Console(width=args.width, file=io.StringIO(), force_terminal=True,
                          color_system="truecolor")
            for item in trace_renderables(view, make_selection(view), look_for(con)):
                con.print(item)
            return con.file.getvalue()

        t_first, text = best_of(args.repeat, first_screen)
        t_whole, _ = best_of(args.repeat, whole_view)

        from emulator.viewer.app import ViewerApp

        async def app_first_frame():
            app = ViewerApp(view, make_selection(view))
            async with app.run_test(size=(80, 24)) as pilot:
                await pilot.pause()
                await pilot.press("q")

        t_app, _ = best_of(1, lambda: asyncio.run(app_first_frame()))

    print("trace: %d spikes, %d packets, %.1f MB (generated in %.2f s)"
          % (n, view.arrays["pkt_tick"].size, size_mb, gen))
    print("load trace file                    %.3f s" % t_load)
    print("render first screen (%d cols)      %.3f s" % (args.width, t_first))
    print("load + first screen                %.3f s   (target < 2 s: %s)"
          % (t_load + t_first, "OK" if t_load + t_first < 2 else "MISSED"))
    print("render whole static view           %.3f s" % t_whole)
    print("interactive first frame (80x24)    %.3f s" % t_app)
    return 0 if t_load + t_first < 2 else 1


if __name__ == "__main__":
    raise SystemExit(main())
