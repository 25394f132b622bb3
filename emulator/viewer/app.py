"""`neurotile view --interactive`: a full-screen Textual viewer of one trace.

Pan and zoom the raster in time (zooming in magnifies: fewer ticks, more columns each), pick a tile, step tick by tick with a cursor and read what
the tile did in that tick (spikes, inputs, packets, probes). It draws with the same raster
code as the static view and reads only the trace. Works in an 80x24 terminal: the raster takes
the room left by a one-line title, the tile-state box and the footer.

Keys: ←/→ pan · +/- zoom · t/T (tab) next/previous tile · ,/. (or p/n) step tick ·
home/end start/end · q quit.
"""

from __future__ import annotations

import numpy as np
from rich.text import Text
from textual.app import App, ComposeResult
from textual.binding import Binding
from textual.widgets import Footer, Static

from emulator.viewer.common import Look
from emulator.viewer.model import Selection, TraceView
from emulator.viewer.raster import raster_text

MIN_SPAN = 4
STATE_LINES = 7


class ViewerApp(App):
    """Interactive trace viewer. State: ``tile``, ``tick_a``/``tick_b`` window, ``cursor``."""

    TITLE = "neurotile view"
    CSS = """
    #title { height: 1; background: $boost; }
    #raster { height: 1fr; overflow: hidden; }
    #state { height: %d; border-top: solid $accent; overflow: hidden; }
    """ % (STATE_LINES + 1)
    BINDINGS = [
        Binding("q", "quit", "quit"),
        Binding("left", "pan(-1)", "pan"),
        Binding("right", "pan(1)", "pan", show=False),
        Binding("plus,equals_sign", "zoom(1)", "zoom in"),
        Binding("minus", "zoom(-1)", "zoom out"),
        Binding("t,tab", "tile(1)", "tile"),
        Binding("T,shift+tab", "tile(-1)", "prev tile", show=False),
        Binding("full_stop,n", "step(1)", "step"),
        Binding("comma,p", "step(-1)", "back", show=False),
        Binding("home", "jump(0)", "start", show=False),
        Binding("end", "jump(1)", "end", show=False),
    ]

    def __init__(self, view: TraceView, sel: Selection | None = None):
        super().__init__()
        self.view = view
        tiles = sel.tiles.tolist() if sel is not None else [t.index for t in view.tiles]
        self.tiles = [t for t in tiles if t < view.n_tiles] or [0]
        self.tile_pos = 0
        self.neurons = sel.neurons if sel is not None else None
        ticks = max(1, view.ticks)
        self.tick_a, self.tick_b = (sel.tick_a, sel.tick_b) if sel is not None else (0, ticks)
        self.cursor = self.tick_a

    # -- layout ---------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield Static(id="title")
        yield Static(id="raster")
        yield Static(id="state")
        yield Footer()

    def on_mount(self) -> None:
        self.refresh_views()

    def on_resize(self, event) -> None:
        self.refresh_views()

    @property
    def tile(self) -> int:
        return self.tiles[self.tile_pos]

    # -- actions ----------------------------------------------------------------------------------
    def action_pan(self, direction: int) -> None:
        span = self.tick_b - self.tick_a
        step = max(1, span // 4) * direction
        self._set_window(self.tick_a + step, span)
        self.cursor = min(max(self.cursor, self.tick_a), self.tick_b - 1)
        self.refresh_views()

    def action_zoom(self, direction: int) -> None:
        span = self.tick_b - self.tick_a
        new_span = max(MIN_SPAN, span // 2) if direction > 0 else span * 2
        self._set_window(self.cursor - new_span // 2, new_span)
        self.refresh_views()

    def action_tile(self, direction: int) -> None:
        self.tile_pos = (self.tile_pos + direction) % len(self.tiles)
        self.refresh_views()

    def action_step(self, direction: int) -> None:
        last = max(0, self.view.ticks - 1)
        self.cursor = min(max(0, self.cursor + direction), last)
        span = self.tick_b - self.tick_a
        if self.cursor >= self.tick_b:
            self._set_window(self.cursor - span + 1, span)
        elif self.cursor < self.tick_a:
            self._set_window(self.cursor, span)
        self.refresh_views()

    def action_jump(self, end: int) -> None:
        span = self.tick_b - self.tick_a
        self.cursor = max(0, self.view.ticks - 1) if end else 0
        self._set_window(self.view.ticks - span if end else 0, span)
        self.refresh_views()

    def _set_window(self, start: int, span: int) -> None:
        ticks = max(1, self.view.ticks)
        span = max(1, min(span, ticks))
        start = min(max(0, start), ticks - span)
        self.tick_a, self.tick_b = start, start + span

    # -- drawing ----------------------------------------------------------------------------------
    def refresh_views(self) -> None:
        try:
            title = self.query_one("#title", Static)
            raster = self.query_one("#raster", Static)
            state = self.query_one("#state", Static)
        except Exception:  # noqa: BLE001 - not composed yet
            return
        info = self.view.tiles[self.tile]
        title.update(Text.assemble(
            (" %s " % (self.view.meta.get("program") or self.view.name), "bold"),
            " tile %d/%d (%s) · ticks %d–%d of %d · cursor %d" % (
                self.tile, self.view.n_tiles - 1, info.core, self.tick_a, self.tick_b - 1,
                self.view.ticks, self.cursor)))
        width = max(24, raster.size.width or self.size.width)
        height = max(5, raster.size.height or (self.size.height - STATE_LINES - 3))
        budget = max(1, height - 3)          # tile header line and two axis lines
        sel = Selection(np.array([self.tile]), self.neurons, self.tick_a, self.tick_b, False,
                        self.view.n_tiles)
        has_inputs = self.view.inputs(sel)["tick"].size > 0
        out_lines = max(1, budget * 2 // 3) if has_inputs else budget
        in_lines = budget - out_lines if has_inputs else 0
        text = raster_text(self.view, sel, Look(width + 3, True), max_lines=out_lines,
                           cursor_tick=self.cursor, show_inputs=in_lines > 0,
                           input_lines=max(1, in_lines))
        raster.update(text)
        state.update(self.tile_state_text())

    def tile_state_text(self) -> Text:
        """What the current tile did in the cursor's tick."""
        v, tile, tick = self.view, self.tile, self.cursor
        sel = Selection(np.array([tile]), None, tick, tick + 1, False, v.n_tiles)
        spk, inp, pkt = v.spikes(sel), v.inputs(sel), v.packets(sel)
        start, end = int(v.tick_start[tick]), int(v.tick_start[tick + 1])
        stall = int(v.arrays["stall"][tick]) if "stall" in v.arrays else 0
        dropped = int(v.arrays["dropped"][tick]) if "dropped" in v.arrays else 0
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("tick %d" % tick, style="bold")
        t.append(" · cycles %d–%d · stall %d · dropped %d\n" % (start, end - 1, stall, dropped))
        t.append("fired %d: " % spk["neuron"].size, style="bold yellow")
        t.append(_items("n", spk["neuron"], spk["offset"]) + "\n")
        t.append("inputs %d: " % inp["axon"].size, style="bold cyan")
        t.append(_items("a", inp["axon"], inp["offset"]) + "\n")
        if pkt is not None:
            out = pkt["src_tile"] == tile
            into = (pkt["dst_tile"] == tile) & (pkt["arrive"] >= 0)
            lat = (pkt["arrive"] - pkt["ready"])[out & (pkt["arrive"] >= 0)]
            t.append("packets out %d" % int(out.sum()), style="bold")
            if lat.size:
                t.append(" latency %d–%d cycles" % (lat.min(), lat.max()))
            t.append(" · dropped %d · in %d\n" % (int((out & (pkt["arrive"] < 0)).sum()),
                                                  int(into.sum())))
        if v.has("probe_tile", "probe_neuron", "probe_v"):
            mine = np.flatnonzero(v.arrays["probe_tile"] == tile)
            if mine.size:
                vals = v.arrays["probe_v"][tick, mine]
                us = v.arrays["probe_u"][tick, mine] if "probe_u" in v.arrays else vals * 0
                th = self.view.tiles[tile].threshold
                t.append("probes%s: " % ("" if th is None else " (th %d)" % th), style="bold green")
                t.append("  ".join("n%d v=%d u=%d" % (n, a, b) for n, a, b in zip(
                    v.arrays["probe_neuron"][mine].tolist(), vals.tolist(), us.tolist())))
        t.rstrip()
        return t


def _items(prefix: str, index: np.ndarray, offset: np.ndarray, limit: int = 24) -> str:
    if index.size == 0:
        return "-"
    parts = ["%s%d%s" % (prefix, i, "" if o == 0 else "@%d" % o)
             for i, o in zip(index[:limit].tolist(), offset[:limit].tolist())]
    return " ".join(parts) + (" …+%d" % (index.size - limit) if index.size > limit else "")


def run_app(view: TraceView, sel: Selection | None = None) -> int:
    ViewerApp(view, sel).run()
    return 0
