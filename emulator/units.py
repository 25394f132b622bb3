"""One way to print physical quantities: the run summary, the viewer and the plots share it."""

from __future__ import annotations

_PREFIXES = ((1e-15, "f"), (1e-12, "p"), (1e-9, "n"), (1e-6, "µ"), (1e-3, "m"), (1, ""),
             (1e3, "k"), (1e6, "M"), (1e9, "G"))


def si(value: float, unit: str) -> str:
    """Three significant digits and an SI prefix: ``si(1.23e-9, 'J') == '1.23 nJ'``."""
    if value == 0:
        return "0 " + unit
    scale, prefix = _PREFIXES[0]
    for s, p in _PREFIXES:
        if abs(value) >= s:
            scale, prefix = s, p
    return "%.3g %s%s" % (value / scale, prefix, unit)


def energy(joules: float) -> str:
    """Energy in joules as text (``'4.56 µJ'``)."""
    return si(joules, "J")


def si_scale(values_max: float, unit: str) -> tuple:
    """``(factor, label)`` to plot values whose largest magnitude is ``values_max`` in a
    prefixed unit: ``si_scale(3e-9, 'J') == (1e9, 'nJ')``."""
    scale, prefix = 1.0, ""
    for s, p in _PREFIXES:
        if abs(values_max) >= s:
            scale, prefix = s, p
    if values_max == 0:
        scale, prefix = 1.0, ""
    return 1.0 / scale, prefix + unit
