"""Emulator backends: each turns (Program, image bytes) into a :class:`emulator.trace.Trace`.

``reference`` runs the MicroPython firmware itself under CPython; ``numba`` is the fast
one. Both follow docs/SPEC.md and must produce equal traces for every valid image.
"""


class RunError(RuntimeError):
    """A program that cannot run as asked (e.g. it never halts and no tick limit was given,
    or its sequencer loops without `run`). The message is meant for the user."""
