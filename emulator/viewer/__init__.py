"""Terminal trace viewer (rich): static panels, a diff of two traces, an interactive app.

It reads trace files (docs/SPEC.md section 16) and nothing of the engine. Public entry
points, imported lazily so that importing this package stays cheap:

- :func:`render_trace(trace, console, tiles=, neurons=, ticks=, cycles=)`: the static view.
- :func:`render_diff(trace_a, trace_b, console)`: spikes only in A / only in B / both, first
  divergence highlighted (``neurotile hil run`` calls it on a mismatch).
- :func:`load_trace(path)`: a checked :class:`~emulator.viewer.model.TraceView`.
"""

_EXPORTS = {"render_trace": "emulator.viewer.render", "render_diff": "emulator.viewer.diff",
            "load_trace": "emulator.viewer.model", "TraceView": "emulator.viewer.model"}


def __getattr__(name):
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(name)
