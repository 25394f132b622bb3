"""neurotile: build, run and exchange spike programs from Python (docs/BUILDER.md).

    import numpy as np
    import neurotile as nt

    prog = nt.Program(mesh=(2, 1), name="two_layers")
    a = prog.tile(0, axons=4, neurons=8, vth=64, dv=256)     # a LIF tile
    a.weights = np.full((4, 8), 20)                           # (axons, neurons) integers
    b = prog.tile((1, 0), axons=8, neurons=2, vth=100)
    b.weights = np.ones((8, 2), int) * 30
    prog.connect(a, b)                                        # neuron i -> axon i
    prog.probe(b)
    prog.spikes(a, np.ones((20, 4), int))                     # (ticks, axons) spike counts
    result = prog.run()                                       # 20 ticks on the numba backend
    result.spikes(b)                                          # (ticks, neurons) spike counts

NIR graphs in and out: :func:`from_nir` compiles a graph (or a ``.nir`` file) into a
:class:`NIRProgram`, :func:`to_nir` exports a program. The engine is the ``emulator``
package; this one is a thin, documented front end to it.
"""

from __future__ import annotations

import os

import numpy as np

from emulator import image as _image
from emulator import isa as _isa
from emulator.errors import UserError

__all__ = ["Program", "Tile", "Result", "NIRProgram", "load", "from_nir", "to_nir", "UserError"]


class Tile:
    """A handle on one tile of a :class:`Program` (returned by :meth:`Program.tile`)."""

    def __init__(self, prog: "Program", index: int):
        self._prog = prog
        self.index = index

    @property
    def _t(self):
        return self._prog._p.tiles[self.index]

    @property
    def axons(self) -> int:
        return self._t.axons

    @property
    def neurons(self) -> int:
        return self._t.neurons

    @property
    def params(self) -> dict:
        """The tile's TILE record (docs/SPEC.md section 11), editable in place."""
        return self._t.params

    @property
    def weights(self) -> np.ndarray:
        """The crossbar, int8 ``(axons, neurons)``; assign any integer array of that shape."""
        return self._t.weights

    @weights.setter
    def weights(self, value) -> None:
        w = np.asarray(value)
        if w.shape != (self.axons, self.neurons):
            raise UserError("tile %d: weights must have shape (axons, neurons) = (%d, %d), got %s"
                            % (self.index, self.axons, self.neurons, w.shape))
        if w.dtype.kind not in "iub" and not np.all(w == np.round(w)):
            raise UserError("tile %d: weights must be integers (quantise floats first)" % self.index)
        wmax = self._t.wmax
        if np.any(np.abs(w) > wmax):
            raise UserError("tile %d: weights must lie in -%d..%d (wbits = %d)"
                            % (self.index, wmax, wmax, self.params["wbits"]))
        self._t.weights = w.astype(np.int8)

    def __repr__(self) -> str:
        return "<Tile %d: %s, %d axons x %d neurons>" % (
            self.index, _isa.CORE_NAMES[self._t.core], self.axons, self.neurons)


class Result:
    """What :meth:`Program.run` returns: the trace and per-tile views of it."""

    def __init__(self, prog: "Program", trace):
        self.trace = trace
        self._prog = prog

    @property
    def ticks(self) -> int:
        return int(self.trace.n_ticks)

    def spikes(self, tile) -> np.ndarray:
        """Spike counts ``(ticks, neurons)`` of a tile (a :class:`Tile` or an index)."""
        i = tile.index if isinstance(tile, Tile) else int(tile)
        out = np.zeros((self.ticks, self._prog._p.tiles[i].neurons), np.int64)
        sel = self.trace["spk_tile"] == i
        np.add.at(out, (self.trace["spk_tick"][sel], self.trace["spk_neuron"][sel]), 1)
        return out

    def voltage(self, tile) -> np.ndarray:
        """Probed membrane voltages ``(ticks, probed neurons of that tile)``, in probe order."""
        i = tile.index if isinstance(tile, Tile) else int(tile)
        cols = np.nonzero(self.trace["probe_tile"] == i)[0]
        return self.trace["probe_v"][:, cols]


class Program:
    """A spike program built from Python: tiles, weights, routes, probes, input spikes.

    ``mesh`` is ``(width, height)``; other keywords are CHIP fields (``window``,
    ``router_mode``, ``fifo_depth``, ``seed``). Everything is checked when the program is
    encoded (:meth:`image`, :meth:`run`, :meth:`save`), with the loader's messages.
    """

    def __init__(self, mesh=(1, 1), name: str = "", **chip):
        w, h = mesh
        self._p = _image.new_program(mesh_w=int(w), mesh_h=int(h), **chip)
        self._p.name = name
        self._events = []          # (tick, tile, axon) input spikes

    # --------------------------------------------------------------- building
    @classmethod
    def _wrap(cls, prog: _image.Program) -> "Program":
        self = cls.__new__(cls)
        self._p = prog
        self._events = []
        return self

    @property
    def mesh(self) -> tuple:
        return self._p.chip["mesh_w"], self._p.chip["mesh_h"]

    def _index(self, where) -> int:
        if isinstance(where, Tile):
            return where.index
        if isinstance(where, tuple):
            x, y = where
            i = y * self.mesh[0] + x
        else:
            i = int(where)
        if not 0 <= i < self._p.n_tiles:
            raise UserError("tile %r is off the %dx%d mesh" % (where, *self.mesh))
        return i

    def tile(self, where, axons: int, neurons: int, core: str = "lif", **params) -> Tile:
        """Switch on tile ``where`` (index or ``(x, y)``); ``params`` are TILE fields by name
        (``vth``, ``dv``, ``du``, ``bias``, ``reset="subtract"``, ``wbits``, ...)."""
        i = self._index(where)
        for k, v in list(params.items()):
            f = next((f for f in _isa.TILE.fields if f.name == k), None)
            if f is None:
                raise UserError("unknown tile field %r" % k)
            if isinstance(v, str) and f.enum:
                names = {n: val for val, n in f.enum.items()}
                if v not in names:
                    raise UserError("%s=%r: expected one of %s" % (k, v, ", ".join(names)))
                params[k] = names[v]
        self._p.tiles[i] = _image.new_tile(core, axons, neurons, **params)
        return Tile(self, i)

    def tiles(self) -> list:
        """Handles on the tiles that are on."""
        return [Tile(self, i) for i, t in enumerate(self._p.tiles) if t is not None]

    def connect(self, src, dst, pairs=None, all_to_all: bool = False, neurons=None, axons=None) -> None:
        """Route spikes of tile ``src`` to axons of tile ``dst``.

        Default: neuron ``i`` -> axon ``i`` for the neurons in ``neurons`` (default: all)
        onto ``axons`` (default: ``0, 1, ...``). ``all_to_all``: every neuron to every axon.
        ``pairs``: explicit ``(neuron, axon)`` pairs.
        """
        s, d = self._p.tiles[self._index(src)], self._p.tiles[self._index(dst)]
        si, di = self._index(src), self._index(dst)
        if s is None or d is None:
            raise UserError("connect: tile %d or %d is off" % (si, di))
        if pairs is None:
            ns = list(range(s.neurons)) if neurons is None else list(neurons)
            ax = list(range(len(ns))) if axons is None else list(axons)
            if all_to_all:
                pairs = [(n, a) for n in ns for a in ax]
            else:
                if len(ax) != len(ns):
                    raise UserError("connect: %d neurons onto %d axons; give pairs= or all_to_all=True"
                                    % (len(ns), len(ax)))
                pairs = list(zip(ns, ax))
        for n, a in pairs:
            if not (0 <= n < s.neurons and 0 <= a < d.axons):
                raise UserError("connect: neuron %d of tile %d or axon %d of tile %d does not exist"
                                % (n, si, a, di))
            s.routes[n].append((di, int(a)))

    def probe(self, tile, neurons=None) -> None:
        """Record ``v`` and ``u`` of these neurons (default: all) every tick."""
        i = self._index(tile)
        t = self._p.tiles[i]
        for n in (range(t.neurons) if neurons is None else neurons):
            self._p.probes.append((i, int(n)))

    def spikes(self, tile, raster, start: int = 0) -> None:
        """Input spikes: ``raster`` is ``(ticks, axons)`` spike counts for ``tile``'s axons,
        its row 0 played at tick ``start``."""
        i = self._index(tile)
        r = np.asarray(raster)
        if r.ndim != 2 or r.shape[1] != self._p.tiles[i].axons:
            raise UserError("spikes: raster must be (ticks, %d axons), got %s"
                            % (self._p.tiles[i].axons, r.shape))
        if np.any(r < 0) or np.any(r != np.round(r)):
            raise UserError("spikes: raster must hold spike counts (non-negative integers)")
        for tk, a in zip(*np.nonzero(r)):
            self._events += [(start + int(tk), i, int(a))] * int(r[tk, a])

    # --------------------------------------------------------------- output
    def _built(self, ticks: int | None = None) -> _image.Program:
        import copy

        p = copy.copy(self._p)
        if self._events or not p.code:
            p.blocks = list(p.blocks)
            p.code = []
            if self._events:
                ev = sorted(self._events, key=lambda e: e[0])
                p.blocks = [np.array([(tk, t, a, 0) for tk, t, a in ev], np.int64)]
                p.code.append(("play", (0,)))
            last = max((e[0] for e in self._events), default=-1) + 1
            p.code += [("run", (max(1, ticks or last),)), ("halt", ())]
        return p

    def image(self, ticks: int | None = None) -> bytes:
        """The binary image (docs/SPEC.md section 15); raises UserError if anything is invalid."""
        try:
            return _image.encode(self._built(ticks))
        except _image.ImageError as e:
            raise UserError(str(e)) from None

    def to_spk(self, ticks: int | None = None) -> str:
        """Readable ``.spk`` source that assembles to :meth:`image`."""
        from emulator.asm.disassembler import disassemble

        return disassemble(self.image(ticks))

    def save(self, path, ticks: int | None = None) -> None:
        """Write ``.spk`` source or (any other extension) the binary image, atomically."""
        from emulator.fileio import write_atomic

        path = os.fspath(path)
        data = self.to_spk(ticks).encode() if path.endswith(".spk") else self.image(ticks)
        write_atomic(path, data)

    def run(self, ticks: int | None = None, backend: str = "numba", seed: int | None = None) -> Result:
        """Run on an emulator backend. ``ticks``: how long (default: the last input spike + 1;
        for a loaded program with its own code, a limit on it)."""
        from emulator import api

        own_code = bool(self._p.code) and not self._events     # a loaded program: its own code
        return Result(self, api.run(self.image(ticks), backend=backend, seed=seed,
                                    ticks=ticks if own_code else None, name=self._p.name or None))


class NIRProgram(Program):
    """A program compiled from a NIR graph (:func:`from_nir`): run it with NIR inputs."""

    def __init__(self, compiled):
        self._compiled = compiled
        self._p = compiled.with_inputs({}, 1)
        self._events = []

    @property
    def compiled(self):
        """The compiler's plan (:class:`emulator.nir.compiler.Compiled`)."""
        return self._compiled

    def chip_image(self) -> bytes:
        """The image of the compiled chip alone (tiles, weights, routes, probes; no input
        spikes, no sequencer code): what an import -> export -> import round trip keeps."""
        return _image.encode(self._compiled.program)

    def report(self) -> str:
        """The ``--report`` table: NIR node -> tiles, neurons, synapses, errors, hops."""
        from emulator.nir.report import format_report

        return format_report(self._compiled)

    def report_rows(self) -> list:
        from emulator.nir.report import report_rows

        return report_rows(self._compiled)

    def with_inputs(self, inputs: dict | None = None, steps: int = 100) -> Program:
        """A plain :class:`Program` that plays ``inputs`` ({Input name: (steps, n) spike
        counts}) for ``steps`` NIR steps."""
        return Program._wrap(self._compiled.with_inputs(inputs, steps))

    def to_spk(self, ticks: int | None = None, inputs: dict | None = None, steps: int = 100) -> str:
        from emulator.nir.spk import write_spk

        return write_spk(self._compiled, self._compiled.with_inputs(inputs, steps))

    def run(self, inputs: dict | None = None, steps: int | None = None, backend: str = "numba",
            seed: int | None = None) -> dict:
        """Run NIR steps; returns {Output name: (steps, n)} spike counts (probed voltages for
        LI/I outputs), aligned to NIR's steps (the layer lag removed), plus ``"trace"``."""
        from emulator import api

        if steps is None:
            steps = max((len(np.asarray(v)) for v in (inputs or {}).values()), default=100)
        prog = self._compiled.with_inputs(inputs, steps)
        trace = api.run(prog, backend=backend, seed=seed)
        out = self._compiled.decode(trace, steps)
        out["trace"] = trace
        return out


def load(path) -> Program:
    """A :class:`Program` from a ``.spk`` or ``.bin`` file (its own spike blocks and code kept)."""
    from emulator import api

    return Program._wrap(api.load(path))


def from_nir(graph_or_path, **options) -> NIRProgram:
    """Compile a NIR graph (``nir.NIRGraph`` or a ``.nir`` path). Options: ``dt`` (seconds per
    tick, default the graph's metadata), ``mesh=(W, H)``, ``tile_size=(axons, neurons)``,
    ``weight_bits``, ``reset`` (``"auto"``, ``"zero"``, ``"subtract"``), ``window``,
    ``probe_all`` (probe every neuron), ``name``."""
    from emulator.nir.compiler import compile_graph

    return NIRProgram(compile_graph(graph_or_path, **options))


def to_nir(program, dt: float = 1e-3, path=None):
    """Export a :class:`Program` (or a ``.spk``/``.bin`` path) as a ``nir.NIRGraph``; with
    ``path``, also write it (``nir.write``)."""
    from emulator.nir.export import export_program

    if isinstance(program, Program):
        prog = program._p
    else:
        from emulator import api

        prog = api.load(program)
    g = export_program(prog, dt)
    if path is not None:
        import nir

        nir.write(os.fspath(path), g)
    return g
