"""neurotile program -> NIR graph (docs/NIR.md, "Export").

Every LIF tile becomes one neuron node ``tileN`` (``CubaLIF`` when its current decays,
``LIF`` when its voltage leaks, ``IF`` otherwise; ``LI``/``I`` when it never fires), its
routes become ``Delay`` (one tick: a routed spike is consumed in the next tick) and
``Linear`` nodes between tiles (the weight a spike meets on its axon), axons
nobody routes to become an ``Input`` per tile, and tiles that route nowhere an ``Output``.
Units are chosen so that the float graph is the chip's integer arithmetic divided by
``2^wshift`` (one spike adds its integer weight), and every node carries
``metadata["neurotile"]`` (tile index, weight scale, shift) so that importing the file again
rebuilds the same image. What NIR cannot express is refused by name, never dropped:
TD-MAC tiles, STDP learning, refractory periods, analog non-idealities.
"""

from __future__ import annotations

import numpy as np

from emulator import isa
from emulator.errors import UserError

V_MAX = (1 << 23) - 1


class ExportError(UserError):
    """A program feature that NIR cannot express."""


def _refuse(prog) -> None:
    for i, t in enumerate(prog.tiles):
        if t is None:
            continue
        p = t.params
        if t.core == isa.CORE_TDMAC:
            raise ExportError("tile %d is a TD-MAC core (time-to-first-spike multiply-accumulate); "
                              "NIR has no such node, so it cannot be exported" % i)
        if t.stdp is not None:
            raise ExportError("tile %d learns (STDP, %s mode); NIR cannot express learning rules, "
                              "so it cannot be exported" % (i, ("pair", "reward")[t.stdp["mode"]]))
        if p["du"] == 0 or (p["dv"] == 4096 and p["du"] != 4096):
            raise ExportError("tile %d: du = %d, dv = %d has no NIR neuron node" % (i, p["du"], p["dv"]))


def _refuse_params(prog) -> None:
    for i, t in enumerate(prog.tiles):
        if t is None:
            continue
        p = t.params
        if p["refractory"]:
            raise ExportError("tile %d has refractory = %d ticks; NIR's neuron nodes have no "
                              "refractory period" % (i, p["refractory"]))
        for f in ("quant", "variation", "cmp_offset", "cmp_noise"):
            if p[f]:
                raise ExportError("tile %d uses the analog non-ideality %s = %d; NIR cannot express it"
                                  % (i, f, p[f]))


def export_program(prog, dt: float = 1e-3):
    """A ``nir.NIRGraph`` for the image :class:`emulator.image.Program` ``prog``."""
    import nir

    if not (dt > 0):
        raise ExportError("dt must be positive")
    _refuse(prog)
    _refuse_params(prog)
    W_ = prog.chip["mesh_w"]
    nodes, edges = {}, []
    on = [i for i, t in enumerate(prog.tiles) if t is not None]
    fed = {i: np.zeros(prog.tiles[i].axons, bool) for i in on}
    # (src tile, dst tile) -> weight matrix [n_dst, n_src]; and first axon, for ordering
    links = {}
    first_axon = {}
    for a in on:
        t = prog.tiles[a]
        for j, dests in enumerate(t.routes):
            for b, ax in dests:
                fed[b][ax] = True
                m = links.setdefault((a, b), np.zeros((prog.tiles[b].neurons, t.neurons)))
                m[:, j] += prog.tiles[b].weights[ax].astype(np.float64)
                first_axon[(a, b)] = min(first_axon.get((a, b), 1 << 30), ax)
    for i in on:
        t = prog.tiles[i]
        p = t.params
        n = t.neurons
        ws = p["wshift"]
        scale = float(1 << ws)
        ones = np.ones(n)
        meta = {"neurotile": {"tile": i, "alpha": 1.0, "wshift": ws}}
        if p["reset"] == isa.RESET_SUBTRACT:
            meta["reset"] = "subtract"
        fires = p["vth"] < V_MAX
        thr = (p["vth"] - 0.5) / scale * ones
        dv, du = p["dv"], p["du"]
        if du != 4096:
            ts, tm = 4096 * dt / du, (4096 * dt / dv if dv else None)
            if tm is None:
                raise ExportError("tile %d: a decaying current (du = %d) without a voltage leak "
                                  "(dv = 0) has no NIR node" % (i, du))
            v_leak = p["bias"] * 4096 / (dv * scale) * ones
            node = nir.CubaLIF(tau_syn=ts * ones, tau_mem=tm * ones, r=tm / dt * ones, v_leak=v_leak,
                               v_threshold=thr, v_reset=np.zeros(n), w_in=ts / dt * ones, metadata=meta)
            if not fires:
                raise ExportError("tile %d: a non-firing tile with a synaptic current has no NIR node" % i)
        elif dv:
            tau = 4096 * dt / dv
            v_leak = p["bias"] * 4096 / (dv * scale) * ones
            if fires:
                node = nir.LIF(tau=tau * ones, r=tau / dt * ones, v_leak=v_leak, v_threshold=thr,
                               v_reset=np.zeros(n), metadata=meta)
            else:
                node = nir.LI(tau=tau * ones, r=tau / dt * ones, v_leak=v_leak, metadata=meta)
        else:
            if p["bias"]:
                raise ExportError("tile %d: a bias without a leak (dv = 0) has no NIR node "
                                  "(IF has no v_leak)" % i)
            if fires:
                node = nir.IF(r=ones / dt, v_threshold=thr, v_reset=np.zeros(n), metadata=meta)
            else:
                node = nir.I(r=ones / dt, metadata=meta)
        nodes["tile%d" % i] = node
    for b in on:
        t = prog.tiles[b]
        free = np.nonzero(~fed[b])[0]
        sources = [(first_axon[(a, bb)], "tile%d" % a, links[(a, bb)]) for (a, bb) in links if bb == b]
        if free.size:
            inp = "tile%d_in" % b
            nodes[inp] = nir.Input(input_type={"input": np.array([free.size])})
            sources.append((int(free[0]), inp, t.weights[free].T.astype(np.float64)))
        for _ax, src, mat in sorted(sources, key=lambda s: s[0]):
            lname = "%s_to_tile%d" % (src, b)
            nodes[lname] = nir.Linear(weight=mat)
            if src.endswith("_in"):             # external spikes are consumed in their tick
                edges += [(src, lname), (lname, "tile%d" % b)]
            else:                               # a routed spike one tick later (SPEC section 4)
                dname = "%s_delay" % lname
                nodes[dname] = nir.Delay(delay=np.full(prog.tiles[int(src[4:])].neurons, float(dt)))
                edges += [(src, dname), (dname, lname), (lname, "tile%d" % b)]
    for i in on:
        if not any(prog.tiles[i].routes):
            o = "tile%d_out" % i
            nodes[o] = nir.Output(output_type={"output": np.array([prog.tiles[i].neurons])})
            edges.append(("tile%d" % i, o))
    meta = {"dt": float(dt), "mesh": [int(W_), int(prog.chip["mesh_h"])],
            "window": int(prog.chip["window"]), "name": prog.name or "",
            "generator": "neurotile nir export"}
    return nir.NIRGraph(nodes=nodes, edges=edges, metadata=meta)


def trace_to_nirdata(prog, trace, dt: float = 1e-3):
    """Spikes (and probed voltages) of a run as ``nir.NIRGraphData`` of the exported graph."""
    import nir

    ticks = int(trace.n_ticks)
    nodes = {}
    spikes = {}
    for tk, t, n in zip(trace["spk_tick"].tolist(), trace["spk_tile"].tolist(), trace["spk_neuron"].tolist()):
        spikes.setdefault(t, np.zeros((1, ticks, prog.tiles[t].neurons), bool))[0, tk, n] = True
    volts = {}
    for k, (t, n) in enumerate(zip(trace["probe_tile"].tolist(), trace["probe_neuron"].tolist())):
        v = volts.setdefault(t, np.zeros((1, ticks, prog.tiles[t].neurons)))
        v[0, :, n] = trace["probe_v"][:, k] / float(1 << prog.tiles[t].params["wshift"])
    for i, t in enumerate(prog.tiles):
        if t is None:
            continue
        obs = {"spikes": nir.TimeGriddedData(spikes.get(i, np.zeros((1, ticks, t.neurons), bool)), dt)}
        if i in volts:
            obs["v"] = nir.TimeGriddedData(volts[i], dt)
        nodes["tile%d" % i] = nir.NIRNodeData(obs)
    return nir.NIRGraphData(nodes)
