"""Small pieces the panels share: the look (width, colour), braille cells, axes, heat glyphs."""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
from rich.text import Text

from emulator.units import si  # noqa: F401 - the one formatter, re-exported for the panels

#: Braille dot bits: row r (0..3, downwards), column c (0..1) of a 2x4 cell -> bit.
BRAILLE_BITS = np.array([[0x01, 0x08], [0x02, 0x10], [0x04, 0x20], [0x40, 0x80]], np.uint32)
BRAILLE_BASE = 0x2800

#: Heat ramp: glyphs (readable without colour) and colours, coolest first.
HEAT_GLYPHS = " ░▒▓█"
HEAT_COLOURS = ("grey35", "blue", "green", "yellow", "red")
#: Styles of the two kinds of spikes, used everywhere (raster, diff, legend).
STYLE_OUT = "bold yellow"
STYLE_IN = "bold cyan"
STYLE_ONLY_A = "bold red"
STYLE_ONLY_B = "bold green"
STYLE_BOTH = "grey62"


@dataclass(frozen=True)
class Look:
    """How much room a panel has and whether colour carries meaning."""

    width: int = 80
    color: bool = True

    @property
    def inner(self) -> int:
        """Columns inside a panel (two borders, one space of padding each side)."""
        return max(20, self.width - 4)


def look_for(console, width: int | None = None) -> Look:
    color = console.color_system is not None and not console.no_color
    return Look(width or console.width, color)


def braille_lines(mask: np.ndarray) -> list:
    """Rows of braille text for a boolean dot grid (height % 4 == 0, width % 2 == 0).

    Empty cells become spaces; each character's dots are exactly the set cells under it.
    """
    rows, cols = mask.shape
    if rows == 0 or cols == 0:
        return []
    cells = mask.reshape(rows // 4, 4, cols // 2, 2).astype(np.uint32)
    bits = np.einsum("rycx,yx->rc", cells, BRAILLE_BITS)
    codes = np.where(bits == 0, 0x20, BRAILLE_BASE + bits).astype("<u4")
    return np.ascontiguousarray(codes).view("<U%d" % (cols // 2))[:, 0].tolist()


def count_braille_dots(text: str) -> int:
    """Number of raised dots in the braille characters of ``text`` (for tests and checks)."""
    return sum(bin(ord(ch) - BRAILLE_BASE).count("1") for ch in text
               if BRAILLE_BASE <= ord(ch) <= BRAILLE_BASE + 0xFF)


def pad_to(n: int, multiple: int) -> int:
    return -(-n // multiple) * multiple


def nice_step(span: float, max_labels: int) -> int:
    """A 1/2/5 x 10^k step giving at most ``max_labels`` labels over ``span``."""
    if span <= 0 or max_labels <= 0:
        return 1
    raw = span / max_labels
    power = 10 ** max(0, int(math.floor(math.log10(raw))) if raw > 0 else 0)
    for m in (1, 2, 5, 10):
        if m * power >= raw:
            return int(m * power)
    return int(10 * power)


def time_axis(x0: int, per_char: float, chars: int, gutter: int, unit: str,
              chars_per_unit: int | None = None) -> Text:
    """Two lines: a ruler with ``┬`` at labelled positions and the labels, under a plot whose
    character column ``c`` covers values ``x0 + c * per_char ..`` (or, magnified, whose
    value ``x`` starts at column ``(x - x0) * chars_per_unit``)."""
    if chars_per_unit:
        span = chars // chars_per_unit
        # the smallest 1/2/5 x 10^k step that leaves room for the widest label and a gap
        need = len(str(x0 + span)) + 2
        step = 1
        while step * chars_per_unit < need:
            step = step * 5 // 2 if str(step)[0] == "2" else step * 2
    else:
        span = chars * per_char
        step = nice_step(span, max(1, chars // 10))
    first = -(-x0 // step) * step
    ruler = ["─"] * chars
    labels = [" "] * (chars + 12)
    v = first
    last_end = -1
    while v < x0 + span:
        c = int((v - x0) * chars_per_unit) if chars_per_unit else int((v - x0) // per_char)
        if 0 <= c < chars:
            ruler[c] = "┬"
            label = str(v)
            if c > last_end:
                labels[c:c + len(label)] = list(label)
                last_end = c + len(label)
        v += step
    text = Text(" " * (gutter - 1) + "└" + "".join(ruler) + "\n", style="grey50")
    tail = "".join(labels).rstrip()
    text.append(" " * gutter + tail + "  " + unit, style="grey62")
    return text


def heat_level(value: float, top: float) -> int:
    """0 for nothing, else 1..4 by share of ``top`` (any activity at all is at least 1)."""
    if value <= 0 or top <= 0:
        return 0
    return min(4, 1 + int(4 * value / top * 0.999))


def human(n: float) -> str:
    """Compact count: 1234567 -> '1.23M'."""
    n = float(n)
    # from 10,000 on (shorter counts print in full); the divisor is the prefix's own
    for s, div, p in ((1e9, 1e9, "G"), (1e6, 1e6, "M"), (1e4, 1e3, "k")):
        if abs(n) >= s:
            return "%.3g%s" % (n / div, p)
    return "%d" % n if n == int(n) else "%.3g" % n
