"""Graph builders and the chip-vs-float measurement used by the NIR fidelity tests."""

from __future__ import annotations

import os
import sys

import numpy as np

sys.path.insert(0, os.path.dirname(__file__))

import nir  # noqa: E402
from nir_reference import simulate  # noqa: E402

import neurotile as nt  # noqa: E402


def neuron(kind: str, n: int, rng, reset: str = "zero", thr: float = 1.0):
    """A neuron node of ``kind`` with per-neuron-equal parameters that give lively dynamics."""
    md = {"reset": reset}
    ones = np.ones(n)
    if kind == "LIF":
        return nir.LIF(tau=2e-3 * ones, r=ones, v_leak=0 * ones, v_threshold=thr * ones, metadata=md)
    if kind == "CubaLIF":
        return nir.CubaLIF(tau_syn=1e-3 * ones, tau_mem=2e-3 * ones, r=ones, v_leak=0 * ones,
                           v_threshold=thr * ones, metadata=md)
    if kind == "IF":
        return nir.IF(r=ones, v_threshold=thr * ones, metadata=md)
    if kind == "LI":
        return nir.LI(tau=2e-3 * ones, r=ones, v_leak=0 * ones)
    if kind == "I":
        return nir.I(r=ones)
    if kind == "Threshold":
        return nir.Threshold(threshold=thr * ones)
    raise ValueError(kind)


def gain(kind: str, dt: float) -> float:
    """Input weight that makes one spike move v by about a third of the threshold."""
    return {"LIF": 2e-3 / dt / 3, "CubaLIF": (2e-3 / dt) * (1e-3 / dt) / 6, "IF": 1 / dt / 3,
            "LI": 2e-3 / dt / 3, "I": 1 / dt / 20, "Threshold": 0.6}[kind]


def chain(kind: str, n_in: int, n: int, rng, dt: float, linear: str = "Affine", reset="zero",
          recurrent: bool = False):
    """Input -> (linear) -> neuron -> Output, optionally with a recurrent Linear."""
    g = gain(kind, dt)
    nodes = {"input": nir.Input(input_type={"input": np.array([n_in])})}
    edges = [("input", "fc")]
    if linear == "Affine":
        nodes["fc"] = nir.Affine(weight=rng.normal(0.3, 1, (n, n_in)) * g, bias=np.zeros(n))
    elif linear == "Linear":
        nodes["fc"] = nir.Linear(weight=rng.normal(0.3, 1, (n, n_in)) * g)
    elif linear == "Scale":
        assert n == n_in
        nodes["fc"] = nir.Scale(scale=rng.uniform(0.5, 1.5, n) * g)
    nodes["neurons"] = neuron(kind, n, rng, reset)
    nodes["output"] = nir.Output(output_type={"output": np.array([n])})
    edges += [("fc", "neurons"), ("neurons", "output")]
    if recurrent:
        nodes["rec"] = nir.Linear(weight=rng.normal(0, 0.3, (n, n)) * g)
        edges += [("neurons", "rec"), ("rec", "neurons")]
    return nir.NIRGraph(nodes=nodes, edges=edges, type_check=False)


def poisson(rng, steps: int, n: int, rate: float) -> np.ndarray:
    return (rng.random((steps, n)) < rate).astype(np.int64)


def measure(graph, inputs: dict, steps: int, dt: float, backend: str = "reference", **options):
    """Run chip and float reference; per neuron node: spike agreement, first divergence,
    voltage error (max |v_chip - v_ref| before the first divergence, in units of v)."""
    prog = nt.from_nir(graph, dt=dt, probe_all=True, **options)
    res = prog.run(inputs, steps=steps, backend=backend)
    _outs, volts, spikes, pre = simulate(graph, inputs, steps, dt)
    out = {}
    for name in res["_voltages"]:
        a, b = res["_spikes"][name], spikes[name]
        diff = np.nonzero(np.any(a != b, axis=1))[0]
        first = int(diff[0]) if diff.size else steps
        thr = _threshold(graph.nodes[name])
        margin = 0.0
        if diff.size:      # how close to its threshold the reference was where they first differ
            cols = np.nonzero(a[first] != b[first])[0]
            margin = float(np.max(np.abs(pre[name][first, cols] - thr[cols])))
        verr = float(np.max(np.abs(res["_voltages"][name][:first] - volts[name][:first]), initial=0.0))
        out[name] = {"agree": float(np.mean(a == b)), "first_div": first, "v_err": verr,
                     "margin": margin, "spikes_chip": int(a.sum()), "spikes_ref": int(b.sum()),
                     "rate_err": float(np.abs(a.sum(0) - b.sum(0)).sum() / max(1, b.sum())),
                     "v_ref_max": float(np.abs(volts[name]).max(initial=0))}
    return out, prog


def _threshold(node):
    v = getattr(node, "v_threshold", None)
    if v is None:
        v = getattr(node, "threshold", None)
    if v is None:
        return np.full(np.asarray(node.r).size, np.inf)
    return np.asarray(v, dtype=np.float64).reshape(-1)


def bound(prog, name: str, kind: str, steps: int, fan_in: int, vmax: float) -> float:
    """The stated quantisation bound on |v_chip - v_ref| while the spikes agree, in units of v.

    Per tick the chip can err by half a weight step per active input (rounding the weights
    to integers), plus one unit of S for truncating each decay, plus the rounding of the
    decay factor (at most 0.5/4096) times |v| or |u|; the membrane (and, for CubaLIF, the
    synaptic) filter sums these over at most min(steps, 4096/dv) (x min(steps, 4096/du)) ticks.
    """
    row = next(r for r in prog.report_rows() if r["node"] == name)
    S, ws = row["scale"], row["wshift"]
    alpha = S / (1 << ws)
    plan = prog.compiled.plans[[p.pop for p in prog.compiled.plans].index(name)]
    dv, du = plan.params["dv"], plan.params["du"]
    g_v = min(steps, 4096 / dv) if dv else steps
    g_u = min(steps, 4096 / du) if du else steps
    per_tick = fan_in * 0.5 / alpha + 1.0 / S
    if kind == "CubaLIF":
        return g_v * (g_u * (per_tick + 0.5 / 4096 * vmax) + 1.0 / S + 0.5 / 4096 * vmax)
    return g_v * (per_tick + 0.5 / 4096 * vmax)


def table(seeds=range(10), steps: int = 200, dt: float = 1e-4) -> str:
    """The fidelity table of docs/NIR.md: `python tests/nir/nir_fidelity.py`."""
    lines = ["| node (10 -> 8, Affine, Poisson 10%%, %d steps, dt = %g, %d seeds) | spike agreement "
             "| voltage error / threshold while spikes agree | bound / threshold | rate error |"
             % (steps, dt, len(seeds)), "|---|---|---|---|---|"]
    for kind in ("LIF", "CubaLIF", "IF", "LI", "I", "Threshold"):
        for reset in (("zero", "subtract") if kind in ("LIF", "CubaLIF", "IF") else ("zero",)):
            ag, ve, bd, re = [], [], [], []
            for seed in seeds:
                rng = np.random.default_rng(seed)
                g = chain(kind, 10, 8, rng, dt, reset=reset)
                x = poisson(rng, steps, 10, 0.1)
                m, prog = measure(g, {"input": x}, steps, dt)
                r = m["neurons"]
                ag.append(r["agree"])
                ve.append(r["v_err"])
                bd.append(bound(prog, "neurons", kind, steps, 10, 1.1 * r["v_ref_max"]))
                re.append(r["rate_err"])
            spiking = kind not in ("LI", "I")
            lines.append("| %s%s | %s | %s | %s | %s |" % (
                kind, " (reset %s)" % reset if kind in ("LIF", "CubaLIF", "IF") else "",
                "%.1f%% (min %.1f%%)" % (100 * np.mean(ag), 100 * np.min(ag)) if spiking else "-",
                "max %.3f" % np.max(ve) if kind != "Threshold" else "-",
                "%.2f" % np.min(bd) if kind != "Threshold" else "-",
                "%.2f%%" % (100 * np.mean(re)) if spiking else "-"))
    return "\n".join(lines)


if __name__ == "__main__":
    print(table())
