"""Python API for scripting experiments.

    import emulator as nt
    prog = nt.load("programs/hello_lif.spk")      # assemble (or read a .bin): an editable Program
    trace = nt.run(prog, backend="numba")          # a Trace: numpy arrays, docs/SPEC.md section 16
    prog.tiles[0].params["vth"] = 80               # change a parameter ...
    trace2 = nt.run(prog)                           # ... and run again

Everything goes through the binary image: :func:`run` encodes (and so validates)
the Program, and the backend reads the bytes, exactly as a board would.
"""

from __future__ import annotations

import os

from emulator import image as _image

BACKENDS = ("numba", "reference")


def assemble(source, filename: str | None = None) -> bytes:
    """Assemble a ``.spk`` file (path) or source text (str with newlines) into image bytes."""
    from emulator import asm

    if isinstance(source, os.PathLike) or (isinstance(source, str) and "\n" not in source
                                           and source.endswith(".spk")):
        return asm.assemble_file(os.fspath(source))
    return asm.assemble_text(source, filename=filename or "<string>")


def load_bytes(path) -> bytes:
    """Image bytes of a ``.spk`` (assembled) or ``.bin`` file."""
    path = os.fspath(path)
    if path.endswith(".spk"):
        return assemble(path)
    with open(path, "rb") as fh:
        return fh.read()


def load(path) -> _image.Program:
    """An editable :class:`emulator.image.Program` from a ``.spk`` or ``.bin`` file."""
    return _image.decode(load_bytes(path))


def _backend(name: str):
    if name == "numba":
        from emulator.backends import numba_backend as mod
    elif name == "reference":
        from emulator.backends import reference as mod
    else:
        from emulator.backends import RunError

        raise RunError("unknown backend %r (choose from %s)" % (name, ", ".join(BACKENDS)))
    return mod


def run(program, backend: str = "numba", ticks: int | None = None, seed: int | None = None,
        state_hash: bool = False, progress=None, name: str | None = None):
    """Run a program and return its :class:`emulator.trace.Trace`.

    ``program`` is a Program, image bytes, or a path to a ``.spk``/``.bin`` file.
    ``ticks`` limits the run (None: the program's own length); ``seed`` overrides
    the chip's seed; ``state_hash`` records the per-tick state hash (SPEC section 13);
    ``progress(done, total)`` is called now and then; ``progress=True`` shows a progress
    bar (in a Jupyter notebook too: :class:`emulator.notebook.ProgressBar`).
    """
    if isinstance(program, _image.Program):
        data = _image.encode(program)
    elif isinstance(program, (bytes, bytearray)):
        data = bytes(program)
    else:
        data = load_bytes(program)
        if name is None:
            name = os.path.basename(os.fspath(program))
    prog = _image.decode(data)
    bar = None
    if progress is True:
        from emulator.notebook import ProgressBar

        bar = progress = ProgressBar()
    try:
        trace = _backend(backend).run(prog, data, ticks=ticks, seed=seed, state_hash=state_hash,
                                      progress=progress)
    finally:
        if bar is not None:
            bar.close()
    if name and not trace.meta.get("program"):
        trace.meta["program"] = name
    return trace
