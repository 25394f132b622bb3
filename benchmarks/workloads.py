"""Benchmark workloads: spike programs built in Python, plus their network export.

Each generator returns a :class:`Workload`: an :class:`emulator.image.Program`
(saved as ``benchmarks/out/NAME.bin`` so it can be rerun with ``neurotile run``)
and a dict of plain arrays (saved as ``benchmarks/out/NAME.npz``) that describes
the same network and the same input spikes for the peers (hand-written numba
loop, Brian2).  Nothing here imports a backend; everything is seeded, so the
same call builds the same bytes.

Export format (``kind = "lif"``), one entry per array:

- ``W`` int8 ``[tiles, A, N]``: crossbar weights, axon-major (as the image);
- ``route_ptr`` int64 ``[tiles*N + 1]``, ``route_gax`` int32: destinations of
  global neuron ``g = tile*N + n`` as global axons ``tile*A + axon``;
- ``inp_ptr`` int64 ``[ticks + 1]``, ``inp_gax`` int32: external spikes per tick,
  as global axons (consumed in the tick they are scheduled for, SPEC section 4);
- scalars ``ticks``, ``tiles``, ``A``, ``N``, ``vth``, ``bias``, ``du``, ``dv``,
  ``wshift``, ``reset``, ``refractory``; ``stdp`` (0/1) and ``stdp_*`` (the STDP
  record when on); ``mesh_w``, ``mesh_h`` for the mesh workloads (else one tile).

``kind = "tdmac"``: ``W`` ``[layers, A, N]``, ``t_in``, ``window``, ``theta``,
``ramp``, ``inp_ptr`` / ``inp_gax`` (axons of layer 0) / ``inp_off`` (arrival
offsets); layer ``l`` neuron ``n`` feeds axon ``n`` of layer ``l + 1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from emulator import image, isa

HERE = os.path.dirname(os.path.abspath(__file__))
OUT = os.path.join(HERE, "out")

NAMES = ("crossbar", "mesh_barrier", "mesh_fixed", "mesh_stdp", "tdmac", "reference")


@dataclass
class Workload:
    name: str
    prog: image.Program
    net: dict                    # export for the peers (see module docstring)
    ticks: int
    neurons: int
    backend: str = "numba"       # neurotile backend that runs it
    peers: tuple = ("handloop", "brian2_cython", "brian2_cpp_standalone", "sanafe", "nest_1t", "nest_2t")
    note: str = ""
    info: dict = field(default_factory=dict)

    def paths(self, out=OUT):
        return (os.path.join(out, self.name + ".bin"), os.path.join(out, self.name + ".npz"))

    def save(self, out=OUT) -> dict:
        """Write NAME.bin (and NAME.spk once the disassembler exists) and NAME.npz."""
        os.makedirs(out, exist_ok=True)
        binp, npzp = self.paths(out)
        data = image.encode(self.prog)
        _atomic_write(binp, data)
        tmp = npzp + ".tmp.npz"
        np.savez(tmp, **{k: np.asarray(v) for k, v in self.net.items()})
        os.replace(tmp, npzp)
        files = {"bin": binp, "npz": npzp}
        try:
            from emulator.asm import disassemble   # once the disassembler exists
        except Exception:
            disassemble = None
        if disassemble is not None:
            try:
                text = disassemble(data)
            except Exception:
                text = None
            if isinstance(text, str):
                spk = os.path.join(out, self.name + ".spk")
                _atomic_write(spk, text.encode("utf-8"))
                files["spk"] = spk
        return files


def _atomic_write(path, data: bytes) -> None:
    tmp = path + ".tmp"
    with open(tmp, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


# ---------------------------------------------------------------------------
# helpers
# ---------------------------------------------------------------------------
def _inputs_block(inp_ptr, inp_gax, A, offsets=None):
    """One spike block (dtick, tile, axon, offset) from per-tick global-axon lists."""
    ticks = len(inp_ptr) - 1
    counts = np.diff(inp_ptr)
    dtick = np.repeat(np.arange(ticks, dtype=np.int64), counts)
    g = np.asarray(inp_gax, np.int64)
    off = np.zeros(len(g), np.int64) if offsets is None else np.asarray(offsets, np.int64)
    return np.stack([dtick, g // A, g % A, off], axis=1)


def _bernoulli_inputs(rng, ticks, n_axons, p, first_tick=1):
    """Every axon spikes with probability p per tick (none before first_tick).

    Tick 0 gets no input so that every peer can schedule its inputs one step
    early (Brian2 delivers a spike in the step after it is generated)."""
    ptr = [0]
    gax = []
    for t in range(ticks):
        if t < first_tick:
            sel = np.zeros(0, np.int64)
        else:
            sel = np.flatnonzero(rng.random(n_axons) < p)
        gax.append(sel)
        ptr.append(ptr[-1] + len(sel))
    return np.asarray(ptr, np.int64), (np.concatenate(gax) if gax else np.zeros(0)).astype(np.int32)


def _program_play(prog, ticks, block):
    prog.blocks = [block]
    prog.code = [("play", (0,)), ("run", (ticks,)), ("halt", ())]


LIF = dict(vth=1000, bias=0, du=4096, dv=512, wshift=0, reset=isa.RESET_ZERO, refractory=0)


def _lif_net(ticks, tiles, A, N, W, route_ptr, route_gax, inp_ptr, inp_gax, params, stdp=None):
    net = dict(kind="lif", ticks=ticks, tiles=tiles, A=A, N=N, W=W,
               route_ptr=route_ptr, route_gax=route_gax, inp_ptr=inp_ptr, inp_gax=inp_gax,
               stdp=int(stdp is not None), **{k: int(v) for k, v in params.items()})
    if stdp is not None:
        for k, v in stdp.items():
            net["stdp_" + k] = int(v)
    return net


# ---------------------------------------------------------------------------
# crossbar: one 256x256 LIF tile, Bernoulli(0.1) inputs
# ---------------------------------------------------------------------------
CROSSBAR_LIF = dict(LIF, vth=1200, dv=512)


def crossbar(quick=False, ticks=None, name="crossbar", seed=1) -> Workload:
    ticks = ticks or (1000 if quick else 10000)
    A = N = 256
    rng = np.random.default_rng(seed)
    W = rng.integers(-60, 81, size=(A, N)).astype(np.int8)
    inp_ptr, inp_gax = _bernoulli_inputs(rng, ticks, A, 0.1)
    prog = image.new_program(1, 1, window=16)
    prog.name = name
    t = image.new_tile("lif", A, N, **CROSSBAR_LIF)
    t.weights = W.copy()
    prog.tiles[0] = t
    _program_play(prog, ticks, _inputs_block(inp_ptr, inp_gax, A))
    net = _lif_net(ticks, 1, A, N, W[None], np.zeros(N + 1, np.int64), np.zeros(0, np.int32),
                   inp_ptr, inp_gax, CROSSBAR_LIF)
    return Workload(name, prog, net, ticks, N,
                    note="one 256x256 LIF tile, inputs Bernoulli(0.1) per axon per tick")


def reference(quick=False) -> Workload:
    wl = crossbar(quick=quick, ticks=20 if quick else 200, name="reference")
    wl.backend = "reference"
    wl.peers = ()
    wl.note = "the crossbar workload on the reference backend (and on numba, for the gap)"
    return wl


# ---------------------------------------------------------------------------
# mesh: 8x8 LIF tiles, each neuron routed to 1-4 tiles, recurrent
# ---------------------------------------------------------------------------
# Tuned (benchmarks/run.py prints the measured rate): input-driven balanced
# network, 1-3 % of the neurons fire per tick.
MESH_LIF = dict(LIF, vth=500, dv=512, bias=90)
MESH_P_IN = 0.01          # external input: probability per axon per tick
MESH_W_RANGE = (-50, 40)  # uniform integer weights (inhibition-dominated, bias-driven)
MESH_STDP = dict(enabled=1, mode=isa.STDP_PAIR, pre_inc=64, post_inc=64, pre_shift=2, post_shift=2,
                 a_plus=1, a_minus=1, frac_bits=8, stochastic=0, wmin=-127, wmax=127,
                 elig_shift=3, reward_shift=4)


def mesh(quick=False, mode="barrier", stdp=False, ticks=None, name=None, seed=2,
         w=8, h=8, window=64, fifo_depth=4, size=256) -> Workload:
    ticks = ticks or (100 if quick else 1000)
    name = name or ("mesh_stdp" if stdp else "mesh_" + mode)
    A = N = size                 # tiles of size x size (256 in the suite; smaller in tests)
    tiles = w * h
    rng = np.random.default_rng(seed)
    lo, hi = MESH_W_RANGE
    W = rng.integers(lo, hi + 1, size=(tiles, A, N)).astype(np.int8)
    # routes: neuron (t, n) -> k distinct tiles, k uniform in 1..4, random axon there
    k = rng.integers(1, 5, size=tiles * N)
    route_ptr = np.zeros(tiles * N + 1, np.int64)
    route_ptr[1:] = np.cumsum(k)
    route_gax = np.empty(route_ptr[-1], np.int32)
    for g in range(tiles * N):
        dts = rng.choice(tiles, size=k[g], replace=False)
        axs = rng.integers(0, A, size=k[g])
        route_gax[route_ptr[g]:route_ptr[g + 1]] = dts * A + axs
    inp_ptr, inp_gax = _bernoulli_inputs(rng, ticks, tiles * A, MESH_P_IN)
    prog = image.new_program(w, h, window=window, fifo_depth=fifo_depth,
                             router_mode=isa.ROUTER_BARRIER if mode == "barrier" else isa.ROUTER_FIXED)
    prog.name = name
    for ti in range(tiles):
        t = image.new_tile("lif", A, N, **MESH_LIF)
        t.weights = W[ti].copy()
        t.routes = [[(int(g // A), int(g % A)) for g in route_gax[route_ptr[ti * N + n]:route_ptr[ti * N + n + 1]]]
                    for n in range(N)]
        if stdp:
            t.stdp = dict(MESH_STDP)
        prog.tiles[ti] = t
    _program_play(prog, ticks, _inputs_block(inp_ptr, inp_gax, A))
    net = _lif_net(ticks, tiles, A, N, W, route_ptr, route_gax, inp_ptr, inp_gax, MESH_LIF,
                   stdp=MESH_STDP if stdp else None)
    net.update(mesh_w=w, mesh_h=h)           # the mesh's shape (SANA-FE maps tiles onto its own mesh)
    note = ("%dx%d mesh of %dx%d LIF tiles, each neuron routed to 1-4 random tiles, "
            "inputs Bernoulli(%g), router %s, window %d, FIFO depth %d"
            % (w, h, A, N, MESH_P_IN, mode, window, fifo_depth))
    peers = ("handloop",) if stdp else ("handloop", "brian2_cython", "brian2_cpp_standalone", "sanafe",
                                        "nest_1t", "nest_2t")
    if stdp:
        note += ", pair STDP on every tile"
    return Workload(name, prog, net, ticks, tiles * N, peers=peers, note=note,
                    info={"router_mode": mode, "mean_routes": float(k.mean()),
                          "synapses": int((route_ptr[-1] + len(np.unique(inp_gax))) * N)})


# ---------------------------------------------------------------------------
# tdmac: 4 layers of 256x256 TD-MAC tiles, window 64, 4x1 mesh
# ---------------------------------------------------------------------------
TDMAC = dict(t_in=32, theta=32000, ramp=1000)   # ~50 % of each layer fires


def tdmac(quick=False, inferences=None, name="tdmac", seed=3, layers=4) -> Workload:
    inferences = inferences or (100 if quick else 1000)
    A = N = 256
    window = 64
    t_in = TDMAC["t_in"]
    ticks = inferences + layers - 1          # pipelined: one inference enters per tick
    rng = np.random.default_rng(seed)
    W = rng.integers(-127, 128, size=(layers, A, N)).astype(np.int8)
    ptr = [0]
    gax, off = [], []
    for tk in range(ticks):
        if tk < inferences:
            sel = np.flatnonzero(rng.random(A) < 0.5)
            gax.append(sel)
            off.append(rng.integers(0, t_in, size=len(sel)))
        else:
            gax.append(np.zeros(0, np.int64))
            off.append(np.zeros(0, np.int64))
        ptr.append(ptr[-1] + len(gax[-1]))
    inp_ptr = np.asarray(ptr, np.int64)
    inp_gax = np.concatenate(gax).astype(np.int32)
    inp_off = np.concatenate(off).astype(np.int32)
    prog = image.new_program(layers, 1, window=window, fifo_depth=4, router_mode=isa.ROUTER_BARRIER)
    prog.name = name
    for l in range(layers):
        t = image.new_tile("tdmac", A, N, **TDMAC)
        t.weights = W[l].copy()
        if l + 1 < layers:
            t.routes = [[(l + 1, n)] for n in range(N)]
        prog.tiles[l] = t
    _program_play(prog, ticks, _inputs_block(inp_ptr, inp_gax, A, inp_off))
    net = dict(kind="tdmac", ticks=ticks, tiles=layers, A=A, N=N, W=W, window=window,
               inp_ptr=inp_ptr, inp_gax=inp_gax, inp_off=inp_off, **TDMAC)
    return Workload(name, prog, net, ticks, layers * N, peers=("handloop",),
                    note="4 layers of 256x256 TD-MAC tiles (4x1 mesh, layer l routed to l+1), "
                         "window 64, t_in 32, %d inferences pipelined one per tick" % inferences,
                    info={"inferences": inferences})


def build(name: str, quick=False) -> Workload:
    if name == "crossbar":
        return crossbar(quick)
    if name == "reference":
        return reference(quick)
    if name == "mesh_barrier":
        return mesh(quick, "barrier")
    if name == "mesh_fixed":
        return mesh(quick, "fixed")
    if name == "mesh_stdp":
        return mesh(quick, "barrier", stdp=True)
    if name == "tdmac":
        return tdmac(quick)
    raise KeyError("unknown workload %r (choose from %s)" % (name, ", ".join(NAMES)))
