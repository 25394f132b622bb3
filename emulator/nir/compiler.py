"""NIR graph -> neurotile program: quantise, split, place, route, check (docs/NIR.md).

The mapping, per neuron node with the graph's time step ``dt`` (forward Euler, the input
current updated before the voltage, as snnTorch, Norse and Lava step them):

=========  ==========================================  =====================================
node       float step                                  chip LIF tile (SPEC section 6)
=========  ==========================================  =====================================
LIF        v += dt/tau (v_leak - v) + dt r/tau I       dv = 4096 dt/tau, du = 4096
IF         v += dt r I                                  dv = 0, du = 4096
LI, I      as LIF, IF without spikes                    vth = 2^23-1, voltage probed
CubaLIF    i += dt/tau_syn (w_in I - i);                du = 4096 dt/tau_syn, dv = 4096 dt/tau_mem
           v += dt/tau_mem (v_leak - v) + dt r/tau_mem i
Threshold  spike iff I > threshold                      dv = 4096 (no memory)
=========  ==========================================  =====================================

with ``I = sum of the linear terms`` (:mod:`emulator.nir.graph`). A population's voltage is
represented as ``v_chip = S * v`` with ``S = alpha * 2^wshift``: ``alpha`` maps the
population's float weights (in voltage per spike) to integer weights, chosen per
population to minimise the squared error; ``wshift`` is the largest shift that keeps
``S * |v|`` well inside 24 bits. Thresholds ``vth = floor(S * v_threshold) + 1`` (NIR fires
on ``v > v_threshold``, the chip on ``v >= vth``).

Time: a spike emitted in tick n is consumed in tick n + 1 (one tick per layer), while NIR's
edges have no delay. Each population p gets a lag ``L(p)``: the chip computes NIR step t in
tick ``t + L(p)``. External inputs are injected already shifted by the lag of the population
they feed; a spike from s to p needs ``L(p) - L(s) + delay - 1`` extra ticks, which relay
tiles (one identity LIF layer per tick) supply. Edges that close a cycle (a layer feeding
itself) use the previous step's spikes, exactly the chip's one-tick latency.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
import scipy.sparse as sp

from emulator import image, isa
from emulator.nir.graph import NIRError, linearise, load_graph

V_MAX = (1 << 23) - 1
HEADROOM = 1 << 21          # S * (largest expected |v|) stays below this
MAX_MESH = 16


@dataclass
class Options:
    dt: float | None = None
    mesh: tuple | None = None            # (W, H); None: smallest mesh that fits
    tile_size: tuple = (256, 256)        # (axons, neurons) per tile
    weight_bits: int = 8
    reset: str = "auto"                  # auto (graph metadata, else zero), zero, subtract
    window: int | None = None            # cycles per tick; None: graph metadata, else 16
    probe_all: bool = False              # probe every neuron of every NIR node
    name: str = ""


@dataclass
class PopInfo:
    name: str
    kind: str
    n: int
    lag: int = 0
    spiking: bool = True
    scale: float = 1.0          # S: chip voltage units per float voltage unit
    alpha: float = 1.0          # integer weight per float (voltage per spike)
    wshift: int = 0
    clipped: float = 0.0        # fraction of non-zero weights clipped
    weight_err: float = 0.0     # rms quantisation error / rms weight
    groups: int = 1
    distinct: int = 1           # distinct float parameter sets
    param_err: float = 0.0      # worst relative error of a quantised parameter
    bias_mode: str = "none"     # none, tile, axon
    tiles: list = field(default_factory=list)
    synapses: int = 0
    hops: list = field(default_factory=list)
    vrange: float = 0.0         # largest |v| the 24-bit voltage holds, in float units
    param_worst: str = ""       # which parameter has the worst quantisation error
    notes: list = field(default_factory=list)


@dataclass
class TilePlan:
    pop: str                    # population name, or "relay:<pop>:<k>"
    neurons: np.ndarray         # population neuron indices
    axons: list                 # (source key, source index)
    weights: np.ndarray         # int [axons, neurons]
    params: dict
    lag: int
    index: int = -1
    comment: list = field(default_factory=list)


@dataclass
class Compiled:
    """What :func:`compile_graph` returns: the image program and how to talk to it."""

    program: image.Program
    plans: list
    pops: dict                   # name -> PopInfo
    inputs: dict                 # input name -> size
    input_axons: dict            # input name -> list per index of [(tile, axon, shift)]
    bias_axons: list             # [(tile, axon, start tick)]
    outputs: dict                # output name -> (population, index map)
    neuron_at: dict              # population -> (tile array, neuron array) per population index
    probes: dict                 # population -> probe row indices (per population index), or absent
    max_lag: int
    options: Options
    source: str = "<graph>"
    timing: list = field(default_factory=list)
    link_load: int = 0           # most route entries over one mesh link (a spike each: packets)

    # ------------------------------------------------------------------ running
    def with_inputs(self, inputs: dict | None, steps: int) -> image.Program:
        """A copy of the program whose spike block plays ``inputs`` for ``steps`` NIR steps."""
        import copy

        ev = []
        ticks = steps + self.max_lag
        inputs = inputs or {}
        for name in inputs:
            if name not in self.inputs:
                raise NIRError("unknown input %r (the graph has: %s)" % (name, ", ".join(self.inputs)))
        for name, size in self.inputs.items():
            if name not in inputs:
                continue
            x = np.asarray(inputs[name])
            if x.ndim != 2 or x.shape[1] != size:
                x = x.reshape(x.shape[0], -1) if x.ndim > 2 else x
            if x.ndim != 2 or x.shape[1] != size or x.shape[0] > steps:
                raise NIRError("input %r: expected an array of shape (steps<=%d, %d), got %s"
                               % (name, steps, size, np.asarray(inputs[name]).shape))
            if np.any(x < 0) or np.any(x != np.round(x)) or np.any(x > 255):
                raise NIRError("input %r must hold spike counts (integers 0..255) per step" % name)
            x = x.astype(np.int64)
            ts, js = np.nonzero(x)
            for t, j in zip(ts.tolist(), js.tolist()):
                for tile, axon, shift in self.input_axons[name][j]:
                    tick = t + shift            # NIR step t of a node `lag` ticks behind,
                    if tick < ticks:            # `delay` steps later; past the run: unused
                        ev.extend([(tick, tile, axon, 0)] * int(x[t, j]))
        for tile, axon, start in self.bias_axons:
            ev.extend((t, tile, axon, 0) for t in range(start, min(steps + start, ticks)))
        prog = copy.copy(self.program)
        prog.blocks = []
        prog.code = []
        if ev:
            arr = np.array(sorted(ev, key=lambda e: e[0]), dtype=np.int64)
            if arr[-1, 0] > 65535:
                raise NIRError("inputs longer than 65535 ticks are not supported")
            prog.blocks = [arr]
            prog.code.append(("play", (0,)))
        prog.code += [("run", (ticks,)), ("halt", ())]
        return prog

    def decode(self, trace, steps: int) -> dict:
        """Per output: spikes [steps, n] (int) aligned to NIR steps, and voltages where probed."""
        res = {}
        tile_of = {}
        for name, (tiles, neurons) in self.neuron_at.items():
            for j, (t, n) in enumerate(zip(tiles.tolist(), neurons.tolist())):
                tile_of[(t, n)] = (name, j)
        spikes = {name: np.zeros((steps, p.n), np.int64) for name, p in self.pops.items()}
        for tk, t, n in zip(trace["spk_tick"].tolist(), trace["spk_tile"].tolist(), trace["spk_neuron"].tolist()):
            key = tile_of.get((t, n))
            if key is None:
                continue
            name, j = key
            s = tk - self.pops[name].lag
            if 0 <= s < steps:
                spikes[name][s, j] += 1
        volts = {}
        for name, rows in self.probes.items():
            lag = self.pops[name].lag
            v = trace["probe_v"][lag:lag + steps, rows].astype(np.float64) / self.pops[name].scale
            volts[name] = v
        for oname, (pname, perm) in self.outputs.items():
            res[oname] = (volts[pname][:, perm] if not self.pops[pname].spiking
                          else spikes[pname][:, perm])
        res["_spikes"] = spikes
        res["_voltages"] = volts
        return res


# ---------------------------------------------------------------------------
def _order(lin):
    """Populations in forward order, and the set of back edges (s, p)."""
    names = list(lin.populations)
    fwd = {p: set() for p in names}
    for p in names:
        for (s, d) in lin.populations[p].terms:
            if s in lin.populations and s != p and d == 0:    # delayed edges do not order
                fwd[p].add(s)
    order, done, back = [], set(), set()
    remaining = list(names)
    while remaining:
        ready = [p for p in remaining if fwd[p] <= done]
        if not ready:       # a cycle: take the first remaining node, its open inputs become back edges
            p = remaining[0]
            back |= {(s, p) for s in fwd[p] - done}
            ready = [p]
        p = ready[0]
        order.append(p)
        done.add(p)
        remaining.remove(p)
    for p in names:
        if (p, 0) in lin.populations[p].terms or any(s == p for s, _ in lin.populations[p].terms):
            back.add((p, p))
    return order, back


def eff_delay(s, p, d, back) -> int:
    return max(d, 1) if (s, p) in back else d


def _coefficients(pop, dt):
    """(input coefficient c, dv, du, leak term per step, threshold, spiking, float taus)."""
    k = pop.kind
    n = pop.n
    ones = np.ones(n)

    def tau(key):
        t = pop.param(key)
        if np.any(t <= 0):
            raise NIRError("node %r (%s): %s must be positive" % (pop.name, k, key))
        if np.any(t < dt * (1 - 1e-9)):
            raise NIRError("node %r (%s): %s = %g is shorter than dt = %g; use a smaller --dt"
                           % (pop.name, k, key, t.min(), dt))
        return t

    if k in ("LIF", "LI"):
        t = tau("tau")
        c = dt * pop.param("r") / t
        dv = 4096 * dt / t
        leak = dt / t * pop.param("v_leak")
        du = 4096 * ones
    elif k in ("IF", "I"):
        c = dt * pop.param("r")
        dv = 0 * ones
        leak = 0 * ones
        du = 4096 * ones
    elif k == "CubaLIF":
        tm, ts = tau("tau_mem"), tau("tau_syn")
        c = (dt * pop.param("r") / tm) * (dt * pop.param("w_in", 1.0) / ts)
        dv = 4096 * dt / tm
        du = 4096 * dt / ts
        leak = dt / tm * pop.param("v_leak")
    elif k == "Threshold":
        c = ones.copy()
        dv = 4096 * ones
        du = 4096 * ones
        leak = 0 * ones
    else:  # pragma: no cover
        raise NIRError("node %r: kind %s" % (pop.name, k))
    spiking = k in ("LIF", "IF", "CubaLIF", "Threshold")
    if k == "Threshold":
        thr = pop.param("threshold")
    elif spiking:
        thr = pop.param("v_threshold")
    else:
        thr = None
    return c, dv, du, leak, thr, spiking


def choose_alpha(E: np.ndarray, wmax: int):
    """Weight scale minimising the squared error of clip(round(alpha E)) / alpha."""
    nz = E[E != 0]
    if nz.size == 0:
        return 1.0, 0.0, 0.0
    m = np.abs(nz).max()
    best = None
    for f in np.linspace(1.0, 0.4, 31):
        a = wmax / (m * f)
        q = np.clip(np.rint(nz * a), -wmax, wmax) / a
        err = float(np.sum((q - nz) ** 2))
        if best is None or err < best[1] - 1e-15 * max(1.0, best[1]):
            best = (a, err)
    a = best[0]
    clipped = float(np.mean(np.abs(nz * a) > wmax + 0.5))
    rms = math.sqrt(best[1] / float(np.sum(nz ** 2)))
    return a, clipped, rms


def _tile_hint(pop):
    h = pop.metadata.get("neurotile")
    if isinstance(h, dict) and "tile" in h:
        return int(h["tile"])
    return None


def _reset_mode(pop, opt) -> int:
    meta = pop.metadata.get("reset") or pop.metadata.get("reset_method")
    mode = opt.reset
    if mode == "auto":
        mode = meta if meta in ("zero", "subtract") else "zero"
    v_reset = getattr(pop.node, "v_reset", None)
    if mode == "zero" and v_reset is not None and np.any(np.asarray(v_reset) != 0):
        raise NIRError("node %r (%s): v_reset = %g; the chip resets to 0 or subtracts the "
                       "threshold (use --reset subtract, or v_reset = 0)"
                       % (pop.name, pop.kind, float(np.asarray(v_reset).reshape(-1)[0])))
    return isa.RESET_SUBTRACT if mode == "subtract" else isa.RESET_ZERO


def compile_graph(graph_or_path, options: Options | None = None, **kw) -> Compiled:
    """Compile a NIR graph (or file) into a :class:`Compiled` program."""
    opt = options or Options()
    for k, v in kw.items():
        if not hasattr(opt, k):
            raise TypeError("unknown option %r" % k)
        setattr(opt, k, v)
    graph, source = load_graph(graph_or_path)
    dt = opt.dt
    if dt is None:
        meta = dict(getattr(graph, "metadata", None) or {})
        dt = meta.get("dt")
        if dt is None:
            raise NIRError("the graph does not say its time step; give --dt SECONDS")
        dt = float(np.asarray(dt).reshape(-1)[0])
    if not (dt > 0 and math.isfinite(dt)):
        raise NIRError("dt must be a positive number of seconds, got %r" % dt)
    opt.dt = dt
    A, N = opt.tile_size
    if not (1 <= A <= 256 and 1 <= N <= 256):
        raise NIRError("--tile-size %dx%d: axons and neurons per tile must be 1..256" % (A, N))
    if not 2 <= opt.weight_bits <= 8:
        raise NIRError("--weight-bits %d: must be 2..8" % opt.weight_bits)
    wmax = (1 << (opt.weight_bits - 1)) - 1
    lin = linearise(graph, dt)
    order, back = _order(lin)
    pops = {}
    # ---- lags (one tick per layer) -------------------------------------------------
    lag = {}
    for p in order:
        L = 0
        for (s, d) in lin.populations[p].terms:
            if s in lag and (s, p) not in back:
                L = max(L, lag[s] + 1 - d)
        lag[p] = L
    timing = []
    relay_need = {}                      # source population -> max relay depth
    term_relay = {}                      # (p, s, d) -> relay level
    for p in order:
        for (s, d) in lin.populations[p].terms:
            if s not in lin.populations:
                continue
            r = lag[p] - lag[s] + eff_delay(s, p, d, back) - 1
            if r < 0:
                timing.append("edge %r -> %r arrives %d tick(s) later than NIR says "
                              "(a cycle through several layers)" % (s, p, -r))
                r = 0
            term_relay[(p, s, d)] = r
            if r > 0:
                relay_need[s] = max(relay_need.get(s, 0), r)
    # ---- quantise and plan tiles per population -------------------------------------------
    plans = []
    for p in order:
        pop = lin.populations[p]
        c, dv, du, leak, thr, spiking = _coefficients(pop, dt)
        info = PopInfo(name=p, kind=pop.kind, n=pop.n, lag=lag[p], spiking=spiking)
        pops[p] = info
        keys = list(pop.terms)
        Dc = sp.diags(c, format="csr")
        E = {k: (Dc @ pop.terms[k]).tocsr() for k in keys}
        affine_bias = c * pop.bias
        # a bias goes into the tile's bias field when it is uniform and the population starts at
        # tick 0 (a tile bias acts from tick 0); else through an axon fed every tick.
        uniform = np.allclose(affine_bias + leak, (affine_bias + leak)[0], rtol=1e-9, atol=0)
        if not np.any(affine_bias) and not np.any(leak):
            info.bias_mode = "none"
        elif pop.kind == "CubaLIF":
            if np.any(leak) and lag[p] > 0:
                raise NIRError("node %r (CubaLIF): v_leak != 0 is supported only on a layer fed "
                               "directly by the inputs" % p)
            info.bias_mode = "axon" if np.any(affine_bias) else "tile"
        else:
            info.bias_mode = "tile" if (uniform and lag[p] == 0) else "axon"
        mats = [E[k] for k in keys]
        if info.bias_mode == "axon":
            bias_col = affine_bias + (leak if pop.kind != "CubaLIF" else 0)
            mats.append(sp.csr_matrix(bias_col[:, None]))
        allE = sp.hstack(mats, format="csr") if mats else sp.csr_matrix((pop.n, 0))
        allE.eliminate_zeros()
        hint = pop.metadata.get("neurotile") if isinstance(pop.metadata.get("neurotile"), dict) else {}
        if "alpha" in hint:
            alpha = float(hint["alpha"])
            nz = allE.data
            clipped = float(np.mean(np.abs(nz * alpha) > wmax + 0.5)) if nz.size else 0.0
            q = np.clip(np.rint(nz * alpha), -wmax, wmax) / alpha
            rms = float(np.sqrt(np.sum((q - nz) ** 2) / np.sum(nz ** 2))) if nz.size else 0.0
        else:
            alpha, clipped, rms = choose_alpha(allE.data, wmax)
        # the voltage scale
        tile_bias_f = (affine_bias + leak) if info.bias_mode == "tile" else (
            leak if pop.kind == "CubaLIF" and info.bias_mode == "axon" else np.zeros(pop.n))
        if pop.kind == "CubaLIF" and info.bias_mode == "tile":
            tile_bias_f = leak
        # |v| bound: every input every tick, through the synaptic and membrane filters;
        # spiking neurons reset above threshold, so only strong inhibition goes past
        # 64 thresholds, and there the voltage saturates (reported as `v range`)
        row = np.asarray(abs(allE).sum(axis=1)).ravel() + np.abs(tile_bias_f)
        gain = (4096.0 / np.clip(dv, 1, 4096)) * (4096.0 / np.clip(du, 1, 4096))
        vmax = float(np.max(row * gain)) if row.size else 0.0
        if thr is not None:
            vmax = min(vmax, 64 * float(np.abs(thr).max()))
            vmax = max(vmax, 2 * float(np.abs(thr).max()))
        vmax = max(vmax, 1e-30)
        if alpha * vmax > HEADROOM and "alpha" not in hint:
            # weights tiny against the threshold: coarser weights so that the threshold fits
            alpha = HEADROOM / vmax
            nz = allE.data
            q = np.clip(np.rint(nz * alpha), -wmax, wmax) / alpha
            clipped = float(np.mean(np.abs(nz * alpha) > wmax + 0.5)) if nz.size else 0.0
            rms = float(np.sqrt(np.sum((q - nz) ** 2) / np.sum(nz ** 2))) if nz.size else 0.0
            info.notes.append("weights are tiny against the threshold: fewer weight levels used")
        W = allE.copy()
        W.data = np.clip(np.rint(W.data * alpha), -wmax, wmax)
        W.eliminate_zeros()
        info.alpha, info.clipped, info.weight_err = alpha, clipped, rms
        if "wshift" in hint:
            ws = int(hint["wshift"])
        else:
            ws = int(math.floor(math.log2(HEADROOM / (alpha * vmax)))) if alpha * vmax < HEADROOM else 0
            ws = max(0, min(15, ws))
        S = alpha * (1 << ws)
        info.scale, info.wshift = S, ws
        info.vrange = V_MAX / S
        if thr is not None:
            if np.any(thr <= 0):
                raise NIRError("node %r (%s): threshold %g is not positive; the chip needs vth >= 1"
                               % (p, pop.kind, thr.min()))
            vth = np.floor(S * thr) + 1
            if vth.max() > V_MAX:
                raise NIRError("node %r (%s): threshold %g is %d times the smallest weight; more "
                               "than the 24-bit voltage holds" % (p, pop.kind, thr.max(), int(alpha * thr.max())))
        else:
            vth = np.full(pop.n, V_MAX)
        bias_int = np.rint(S * tile_bias_f)
        if np.abs(bias_int).max(initial=0) > V_MAX:
            raise NIRError("node %r (%s): bias does not fit 24 bits" % (p, pop.kind))
        dv_i = np.clip(np.rint(dv), 0, 4096)
        du_i = np.clip(np.rint(du), 0, 4096)
        reset = _reset_mode(pop, opt) if spiking else isa.RESET_ZERO
        # parameter groups: neurons with equal quantised parameters share tiles
        keys_int = np.stack([vth, dv_i, du_i, bias_int], axis=1).astype(np.int64)
        groups = {}
        for j, kk in enumerate(map(tuple, keys_int.tolist())):
            groups.setdefault(kk, []).append(j)
        fl = np.stack([thr if thr is not None else np.zeros(pop.n), dv, du, tile_bias_f], axis=1)
        info.groups = len(groups)
        info.distinct = len({tuple(r) for r in np.round(fl, 12).tolist()})
        back_f = np.stack([(vth - 1) / S if thr is not None else np.zeros(pop.n), dv_i, du_i, bias_int / S], axis=1)
        denom = np.maximum(np.abs(fl), 1e-12)
        rel = np.abs(back_f - fl) / denom
        rel[:, 0] = np.abs(back_f[:, 0] + 0.5 / S - fl[:, 0]) / denom[:, 0] if thr is not None else 0
        rel[fl == 0] = np.abs(back_f - fl)[fl == 0]
        info.param_err = float(rel.max()) if rel.size else 0.0
        if rel.size and info.param_err > 0:
            info.param_worst = ("threshold", "dt/tau_mem", "dt/tau_syn", "bias")[int(np.argmax(rel.max(axis=0)))]
        # columns of W per axon key
        col_keys = []
        for k in keys:
            s, d = k
            if s in lin.populations:
                sk = ("pop", s, term_relay[(p, s, d)])
            else:
                sk = ("in", s, d)
            col_keys += [(sk, i) for i in range(pop.terms[k].shape[1])]
        if info.bias_mode == "axon":
            col_keys.append((("bias",), 0))
        # the same (source, index) may appear twice (two terms with the same relay level): merge
        uniq = {}
        for ci, ck in enumerate(col_keys):
            uniq.setdefault(ck, []).append(ci)
        if any(len(v) > 1 for v in uniq.values()):
            ukeys = list(uniq)
            to_u = np.empty(len(col_keys), np.int64)
            for ui, ck in enumerate(ukeys):
                to_u[uniq[ck]] = ui
            P = sp.csr_matrix((np.ones(len(col_keys)), (np.arange(len(col_keys)), to_u)),
                              shape=(len(col_keys), len(ukeys)))
            W = (W @ P).tocsr()
            W.data = np.clip(W.data, -wmax, wmax)
            W.eliminate_zeros()
            col_keys = ukeys
        for kk, members in groups.items():
            members = np.array(members)
            for c0 in range(0, len(members), N):
                chunk = members[c0:c0 + N]
                sub = W[chunk]
                used = np.unique(sub.indices)
                if used.size > A:
                    raise NIRError("node %r: fan-in %d exceeds %d axons per tile; use --tile-size or "
                                   "a bigger mesh" % (p, used.size, A))
                if used.size == 0:
                    used = np.array([0]) if W.shape[1] else used
                params = dict(vth=int(kk[0]), dv=int(kk[1]), du=int(kk[2]), bias=int(kk[3]),
                              reset=reset, wshift=ws, wbits=opt.weight_bits)
                plan = TilePlan(pop=p, neurons=chunk, axons=[col_keys[u] for u in used],
                                weights=sub[:, used].toarray().T.astype(np.int64), params=params,
                                lag=lag[p])
                if not plan.axons:      # only a tile bias drives it: one idle axon
                    plan.axons = [(("none",), 0)]
                    plan.weights = np.zeros((1, len(chunk)), np.int64)
                plans.append(plan)
                info.tiles.append(plan)
                info.synapses += int(np.count_nonzero(plan.weights))
        if clipped > 0:
            info.notes.append("%.1f%% of weights clipped" % (100 * clipped))
        # relay tiles after the population
        for k in range(1, relay_need.get(p, 0) + 1):
            for c0 in range(0, pop.n, min(N, A)):
                chunk = np.arange(c0, min(pop.n, c0 + min(N, A)))
                plan = TilePlan(pop="relay:%s:%d" % (p, k), neurons=chunk,
                                axons=[(("pop", p, k - 1), int(j)) for j in chunk],
                                weights=np.eye(len(chunk), dtype=np.int64),
                                params=dict(vth=1, dv=4096, du=4096, bias=0, reset=isa.RESET_ZERO,
                                            wshift=0, wbits=opt.weight_bits), lag=lag[p] + k)
                plans.append(plan)
                info.tiles.append(plan)
    # ---- mesh and placement -------------------------------------------------------------
    n_tiles = len(plans)
    gmeta = lin.metadata
    if not opt.mesh and "mesh" in gmeta:            # a graph written by `neurotile nir export`
        opt.mesh = tuple(int(x) for x in np.asarray(gmeta["mesh"]).reshape(-1)[:2])
    if opt.window is None:
        opt.window = int(np.asarray(gmeta.get("window", 16)).reshape(-1)[0])
    if not 1 <= opt.window <= 4096:
        raise NIRError("--window %d: must be 1..4096 cycles" % opt.window)
    if not opt.name and isinstance(gmeta.get("name"), str):
        opt.name = gmeta["name"]
    if not opt.name and source != "<graph>":
        import os

        opt.name = os.path.splitext(os.path.basename(source))[0]
    if opt.mesh:
        W_, H_ = opt.mesh
        if not (1 <= W_ <= MAX_MESH and 1 <= H_ <= MAX_MESH):
            raise NIRError("--mesh %dx%d: width and height must be 1..%d" % (W_, H_, MAX_MESH))
    else:
        W_ = max(1, math.ceil(math.sqrt(n_tiles)))
        H_ = max(1, math.ceil(n_tiles / W_))
        if W_ > MAX_MESH or H_ > MAX_MESH:
            W_, H_ = MAX_MESH, MAX_MESH
    if n_tiles > W_ * H_:
        worst = max(pops.values(), key=lambda i: len(i.tiles))
        raise NIRError("the network needs %d tiles (node %r alone %d); the mesh %dx%d has %d; use "
                       "--tile-size or a bigger mesh" % (n_tiles, worst.name, len(worst.tiles), W_, H_, W_ * H_))
    snake = []
    for y in range(H_):
        xs = range(W_) if y % 2 == 0 else range(W_ - 1, -1, -1)
        snake += [y * W_ + x for x in xs]
    for i, plan in enumerate(_interleave(plans)):
        plan.index = snake[i]
    hinted = [_tile_hint(lin.populations[p.pop]) for p in plans] if all(
        not p.pop.startswith("relay:") for p in plans) else []
    if hinted and all(h is not None for h in hinted) and len(set(hinted)) == len(plans) \
            and max(hinted) < W_ * H_:
        for plan, h in zip(plans, hinted):     # placement of an exported program: keep it
            plan.index = h
    # ---- routes ------------------------------------------------------------------------------
    # source key ("pop", name, level) -> index -> [(tile, axon)]
    dests = {}
    input_axons = {name: [[] for _ in range(size)] for name, size in lin.inputs.items()}
    bias_axons = []
    for plan in sorted(plans, key=lambda q: q.index):
        for a, (sk, i) in enumerate(plan.axons):
            if sk[0] == "pop":
                dests.setdefault((sk[1], sk[2]), {}).setdefault(i, []).append((plan.index, a))
            elif sk[0] == "in":
                input_axons[sk[1]][i].append((plan.index, a, plan.lag + sk[2]))
            elif sk[0] == "bias":
                bias_axons.append((plan.index, a, plan.lag))
    prog = image.new_program(mesh_w=W_, mesh_h=H_, window=opt.window)
    prog.name = opt.name or "nir"
    neuron_at = {}
    link_load = {}                 # (x, y, direction) -> route entries crossing that link
    for plan in plans:
        t = image.new_tile("lif", len(plan.axons), len(plan.neurons), **plan.params)
        t.weights = plan.weights.astype(np.int8)
        if plan.pop.startswith("relay:"):
            _, src, k = plan.pop.split(":")
            level = (src, int(k))
        else:
            level = (plan.pop, 0)
            arr = neuron_at.setdefault(plan.pop, (np.full(pops[plan.pop].n, -1), np.full(pops[plan.pop].n, -1)))
            arr[0][plan.neurons] = plan.index
            arr[1][plan.neurons] = np.arange(len(plan.neurons))
        routes = dests.get(level, {})
        t.routes = [list(routes.get(int(j), [])) for j in plan.neurons]
        if sum(len(r) for r in t.routes) > 65535:
            raise NIRError("node %r: %d route entries on one tile, more than 65535"
                           % (level[0], sum(len(r) for r in t.routes)))
        x0, y0 = plan.index % W_, plan.index // W_
        hops = [abs(d % W_ - x0) + abs(d // W_ - y0) for r in t.routes for d, _a in r]
        pops[level[0]].hops += hops
        for r in t.routes:
            for d, _a in r:
                _xy_links(x0, y0, d % W_, d // W_, link_load)
        prog.tiles[plan.index] = t
    # probes: non-spiking outputs always, everything with probe_all
    probes = {}
    probe_list = []
    want = [p for p in order if opt.probe_all or not pops[p].spiking]
    for p in want:
        tiles, neurons = neuron_at[p]
        probes[p] = np.arange(len(probe_list), len(probe_list) + pops[p].n)
        probe_list += list(zip(tiles.tolist(), neurons.tolist()))
    if len(probe_list) > 65535:
        raise NIRError("more than 65535 probes")
    prog.probes = probe_list
    comp = Compiled(program=prog, plans=plans, pops=pops, inputs=dict(lin.inputs),
                    input_axons=input_axons, bias_axons=bias_axons, outputs=dict(lin.outputs),
                    neuron_at=neuron_at, probes=probes, max_lag=max(lag.values(), default=0),
                    options=opt, source=source, timing=timing,
                    link_load=max(link_load.values(), default=0))
    _annotate(comp)
    image.validate(comp.with_inputs({}, 1))
    return comp


def _xy_links(x, y, dx, dy, load) -> None:
    """Count one route on every link of its dimension-ordered (XY) path (SPEC section 9)."""
    while x != dx:
        step = 1 if dx > x else -1
        key = (x, y, "E" if step > 0 else "W")
        load[key] = load.get(key, 0) + 1
        x += step
    while y != dy:
        step = 1 if dy > y else -1
        key = (x, y, "S" if step > 0 else "N")
        load[key] = load.get(key, 0) + 1
        y += step


def _level_of(plan):
    if plan.pop.startswith("relay:"):
        _, src, k = plan.pop.split(":")
        return (src, int(k))
    return (plan.pop, 0)


def _interleave(plans: list) -> list:
    """Placement order: each tile right after the last tile it receives from.

    Tiles then go along a snake through the mesh in this order, so a consumer sits next to
    its producers (a pooling tile beside the convolution tiles it reads) instead of a whole
    layer away. Sources that come later (cycles) do not hold a tile back.
    """
    owner = {}                                   # (population, level, neuron) -> plan number
    for pi, plan in enumerate(plans):
        lv = _level_of(plan)
        for j in plan.neurons.tolist():
            owner[(lv[0], lv[1], j)] = pi
    needs = []
    for pi, plan in enumerate(plans):
        src = {owner.get((sk[1], sk[2], i)) for sk, i in plan.axons if sk[0] == "pop"}
        needs.append({q for q in src if q is not None and q < pi})
    placed, order = set(), []
    waiting = list(range(len(plans)))
    for pi in range(len(plans)):
        if pi in placed:
            continue
        if not needs[pi] <= placed:              # its producers come first, in their order
            continue
        order.append(pi)
        placed.add(pi)
        progress = True
        while progress:                          # consumers whose producers are all placed now
            progress = False
            for q in waiting:
                if q not in placed and needs[q] and needs[q] <= placed and q > pi:
                    order.append(q)
                    placed.add(q)
                    progress = True
        waiting = [q for q in waiting if q not in placed]
    order += [q for q in range(len(plans)) if q not in placed]
    return [plans[q] for q in order]


def _annotate(comp: Compiled) -> None:
    """Comments for the .spk writer: which node each tile and axon came from."""
    for plan in comp.plans:
        if plan.pop.startswith("relay:"):
            _, src, k = plan.pop.split(":")
            plan.comment.append("relay %s of node %r neurons %d..%d: delays its spikes by one tick "
                                "(aligns layers to NIR's zero-delay edges)"
                                % (k, src, plan.neurons[0], plan.neurons[-1]))
            continue
        info = comp.pops[plan.pop]
        nn = plan.neurons
        contiguous = np.array_equal(nn, np.arange(nn[0], nn[0] + len(nn)))
        which = "%d..%d" % (nn[0], nn[-1]) if contiguous else "%d of them (%s...)" % (
            len(nn), ", ".join(str(x) for x in nn[:6]))
        plan.comment.append("node %r (%s) neurons %s; lag %d tick(s)" % (plan.pop, info.kind, which, info.lag))
        plan.comment.append("quantised: S = %.6g chip units per unit of v (alpha %.6g x 2^%d), weight rms "
                            "error %.3g%%, %.2f%% clipped, bias %s"
                            % (info.scale, info.alpha, info.wshift, 100 * info.weight_err,
                               100 * info.clipped, info.bias_mode))
        runs = []
        for a, (sk, i) in enumerate(plan.axons):
            if sk[0] == "pop":
                desc = "node %r%s" % (sk[1], " via relay %d" % sk[2] if sk[2] else "")
            elif sk[0] == "in":
                desc = "input %r%s" % (sk[1], " delayed %d" % sk[2] if sk[2] else "")
            elif sk[0] == "bias":
                desc = "bias (spike every tick)"
            else:
                desc = "unused"
            if runs and runs[-1][0] == desc and runs[-1][2] == a - 1 and runs[-1][4] == i - 1:
                runs[-1][2], runs[-1][4] = a, i
            else:
                runs.append([desc, a, a, i, i])
        for desc, a0, a1, i0, i1 in runs[:12]:
            if a0 == a1:
                plan.comment.append("axon %d <- %s%s" % (a0, desc, "" if desc.startswith("bias") else " [%d]" % i0))
            else:
                plan.comment.append("axons %d..%d <- %s [%d..%d]" % (a0, a1, desc, i0, i1))
        if len(runs) > 12:
            plan.comment.append("... %d more axon runs" % (len(runs) - 12))
