"""Shared helpers for the outcome tests of programs/*.spk (one test module per program).

Imported by name (pytest puts this folder on sys.path); not a conftest, so it cannot
clash with a conftest elsewhere in tests/.
"""

from __future__ import annotations

import os
import sys

import numpy as np

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = os.path.join(ROOT, "programs")

if PROGRAMS not in sys.path:          # the host scripts (train_ttfs, reservoir_readout, ...)
    sys.path.insert(0, PROGRAMS)


def program_path(name: str) -> str:
    return os.path.join(PROGRAMS, name)


def run_program(name_or_prog, ticks=None, seed=None):
    """Assemble (if a name) and run on the numba backend; returns the Trace."""
    import emulator as nt

    src = program_path(name_or_prog) if isinstance(name_or_prog, str) else name_or_prog
    return nt.run(src, backend="numba", ticks=ticks, seed=seed)


def spikes_of(trace, tile):
    """(tick, offset, neuron) arrays of one tile's output spikes."""
    m = np.asarray(trace["spk_tile"]) == tile
    return (np.asarray(trace["spk_tick"])[m], np.asarray(trace["spk_offset"])[m],
            np.asarray(trace["spk_neuron"])[m])
