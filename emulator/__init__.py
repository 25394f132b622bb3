"""neurotile: a cycle-accurate emulator of a tiled neuromorphic crossbar chip.

The scripting API (see README "Python API"): :func:`load`, :func:`assemble`,
:func:`run`; the objects: :class:`emulator.image.Program` and
:class:`emulator.trace.Trace`.
"""

__version__ = "0.1.0"


def __getattr__(name):
    # Lazy, so that `neurotile --help` and board-side tooling stay fast to import.
    if name in ("load", "assemble", "run", "load_bytes", "BACKENDS"):
        from emulator import api

        return getattr(api, name)
    raise AttributeError("module 'emulator' has no attribute %r" % name)
