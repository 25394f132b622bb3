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
