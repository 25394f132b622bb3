"""Interactive viewer driven by Textual's pilot in an 80x24 terminal."""

from __future__ import annotations

import asyncio

from emulator.viewer.app import ViewerApp
from emulator.viewer.model import load_trace, make_selection
from viewer_helpers import synth_view


def screen_text(app) -> str:
    return "\n".join(strip.text for strip in app.screen._compositor.render_strips())


def drive(app, keys_and_checks, size=(80, 24)):
    async def go():
        async with app.run_test(size=size) as pilot:
            await pilot.pause()
            for keys, check in keys_and_checks:
                for key in keys:
                    await pilot.press(key)
                await pilot.pause()
                check(app, screen_text(app))
    asyncio.run(go())


def test_pan_zoom_tile_step_quit_in_80x24():
    view = synth_view(ticks=400, mesh=(2, 2), neurons=32, rate=0.03)
    app = ViewerApp(view, make_selection(view))
    seen = {}

    def start(app, text):
        assert (app.tick_a, app.tick_b, app.tile) == (0, 400, 0)
        assert "tile 0 (0,0)" in text and "q quit" in text
        assert all(len(line) <= 80 for line in text.splitlines())
        assert len(text.splitlines()) == 24

    def zoomed(app, text):
        assert app.tick_b - app.tick_a == 100           # two zoom-ins halve the span twice
        assert "ticks 0–99" in text

    def panned(app, text):
        seen["pan"] = app.tick_a
        assert app.tick_a == 25 and app.tick_b == 125 and "ticks 25–124" in text

    def tile_switched(app, text):
        assert app.tile == 1 and "tile 1 (1,0)" in text and "tile 0 (0,0)" not in text

    def stepped(app, text):
        assert app.cursor == 27 and "tick 27 · cycles" in text
        fired = view.arrays["spk_tick"][view.arrays["spk_tile"] == 1]
        assert "fired %d:" % int((fired == 27).sum()) in text

    def zoomed_out(app, text):
        assert app.tick_b - app.tick_a == 200

    drive(app, [((), start), (("plus", "plus"), zoomed), (("right",), panned),
                (("t",), tile_switched), (("full_stop", "full_stop", "n", "comma"), stepped),
                (("minus",), zoomed_out), (("q",), lambda app, text: None)])
    assert app.return_code == 0


def test_tile_state_of_a_real_run(real_traces):
    view = load_trace(real_traces["hello_lif"])
    app = ViewerApp(view, make_selection(view))

    def check(app, text):
        assert "probes (th 64): n0 v=" in text and "tile 0 (0,0) lif" in text

    drive(app, [(("end",), check), (("T", "home"), lambda a, t: None)])


def test_tiny_terminal_does_not_crash():
    view = synth_view(ticks=50, mesh=(1, 1), neurons=256, rate=0.02)
    drive(ViewerApp(view), [(("plus", "minus", "left"), lambda a, t: None)], size=(40, 12))


def test_zoom_magnifies_the_raster():
    # the tutorial's first.spk: neuron 0 fires at ticks 2, 5, 8, ...; zooming in to 10 ticks
    # gives every tick more columns, and the marks stay on their ticks
    from viewer_helpers import row_cells, tutorial_first_trace

    from emulator.viewer.model import TraceView

    view = TraceView.from_trace(tutorial_first_trace())
    app = ViewerApp(view, make_selection(view))
    widths = []

    def check(app, text):
        span = app.tick_b - app.tick_a
        cells = row_cells(text, "n", 0)
        marks = [i for i, ch in enumerate(cells) if ch == "█" and (i == 0 or cells[i - 1] != "█")]
        w = marks[1] - marks[0] if len(marks) > 1 else None
        widths.append((span, w // 3 if w else None))
        want = [t for t in view.arrays["spk_tick"][view.arrays["spk_neuron"] == 0].tolist()
                if app.tick_a <= t < app.tick_b]
        # the mark of tick t starts at column (t - tick_a) * columns-per-tick
        per_tick = widths[-1][1]
        assert [app.tick_a + i // per_tick for i in marks if i % per_tick == 0] == want

    drive(app, [((), check), (("plus",), check), (("plus",), check)])
    assert [s for s, _ in widths] == [40, 20, 10]
    assert widths[0][1] < widths[1][1] < widths[2][1]            # zoom magnifies
