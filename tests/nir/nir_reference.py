"""An independent float simulator of NIR graphs, written from the NIR node definitions.

It walks the graph node by node (no matrices shared with the compiler), one step of
``dt`` at a time, forward Euler with the input current updated before the voltage:

    LIF      v += dt/tau (v_leak - v) + dt r/tau I;          spike if v > v_threshold
    CubaLIF  i += dt/tau_syn (w_in I - i);  v += dt/tau_mem (v_leak - v) + dt r/tau_mem i
    IF       v += dt r I;   LI: as LIF, no spike;   I: v += dt r I, no spike
    Threshold  spike if I > threshold;   Delay: y[t] = x[t - delay/dt]
    after a spike: v = v_reset (reset "zero"), or v -= v_threshold (metadata reset="subtract")

Nodes run in graph order; a node whose inputs are not yet computed in this step (a cycle)
reads their value of the previous step. It is the oracle of tests/nir/test_nir_fidelity.py.
"""

from __future__ import annotations

import numpy as np

NEURONS = ("LIF", "CubaLIF", "IF", "LI", "I", "Threshold")


def _delay_steps(node, dt) -> int:
    return int(round(float(np.asarray(node.delay).reshape(-1)[0]) / dt))


def _order(graph, dt):
    preds = {n: [a for a, b in graph.edges if b == n] for n in graph.nodes}
    done, order = set(), []
    remaining = list(graph.nodes)
    # a Delay of k >= 1 steps outputs what it got k steps ago: ready at the start of a step
    early = {n for n, nd in graph.nodes.items()
             if type(nd).__name__ == "Delay" and _delay_steps(nd, dt) >= 1}
    while remaining:
        ready = [n for n in remaining if n in early or all(p in done for p in preds[n])]
        n = ready[0] if ready else remaining[0]
        order.append(n)
        done.add(n)
        remaining.remove(n)
    return order, preds


def _conv2d(x, w, b, stride, padding, dilation, groups):
    cin, H, W = x.shape
    cout, cin_g, kh, kw = w.shape
    sh, sw = stride
    ph, pw = padding
    dh, dw = dilation
    xp = np.zeros((cin, H + 2 * ph, W + 2 * pw))
    xp[:, ph:ph + H, pw:pw + W] = x
    Ho = (H + 2 * ph - dh * (kh - 1) - 1) // sh + 1
    Wo = (W + 2 * pw - dw * (kw - 1) - 1) // sw + 1
    y = np.zeros((cout, Ho, Wo))
    per = cout // groups
    for co in range(cout):
        g = co // per
        for oy in range(Ho):
            for ox in range(Wo):
                patch = xp[g * cin_g:(g + 1) * cin_g, oy * sh:oy * sh + dh * (kh - 1) + 1:dh,
                           ox * sw:ox * sw + dw * (kw - 1) + 1:dw]
                y[co, oy, ox] = np.sum(patch * w[co]) + b[co]
    return y


def _pool(x, k, s, p, avg):
    C, H, W = x.shape
    xp = np.zeros((C, H + 2 * p[0], W + 2 * p[1]))
    xp[:, p[0]:p[0] + H, p[1]:p[1] + W] = x
    Ho = (H + 2 * p[0] - k[0]) // s[0] + 1
    Wo = (W + 2 * p[1] - k[1]) // s[1] + 1
    y = np.zeros((C, Ho, Wo))
    for oy in range(Ho):
        for ox in range(Wo):
            y[:, oy, ox] = xp[:, oy * s[0]:oy * s[0] + k[0], ox * s[1]:ox * s[1] + k[1]].sum(axis=(1, 2))
    return y / (k[0] * k[1]) if avg else y


def _two(v):
    a = np.asarray(v).reshape(-1)
    return (int(a[0]), int(a[0])) if a.size == 1 else (int(a[0]), int(a[1]))


def simulate(graph, inputs: dict, steps: int, dt: float, reset: str | None = None):
    """Run ``graph``; returns (outputs {Output name: [steps, ...]}, voltages after the reset
    {neuron: [steps, n]}, spikes {neuron: [steps, n]}, voltages before the reset)."""
    order, preds = _order(graph, dt)
    val = {}
    state = {}
    hist = {}
    outs = {n: [] for n, nd in graph.nodes.items() if type(nd).__name__ == "Output"}
    volts = {n: [] for n, nd in graph.nodes.items() if type(nd).__name__ in NEURONS}
    spikes = {n: [] for n, nd in graph.nodes.items() if type(nd).__name__ in NEURONS}
    pre = {n: [] for n, nd in graph.nodes.items() if type(nd).__name__ in NEURONS}
    delays = [n for n, nd in graph.nodes.items() if type(nd).__name__ == "Delay" and _delay_steps(nd, dt) >= 1]
    for t in range(steps):
        for n in order:
            nd = graph.nodes[n]
            typ = type(nd).__name__
            if typ == "Input":
                x = np.asarray(inputs[n][t], dtype=np.float64) if t < len(inputs[n]) else \
                    np.zeros(np.asarray(inputs[n][0]).shape)
                val[n] = x.reshape(tuple(int(s) for s in nd.input_type["input"]))
                continue
            xs = [val[p] for p in preds[n] if p in val]
            x = sum(np.asarray(v, dtype=np.float64) for v in xs) if xs else None
            if x is None:        # nothing computed yet upstream (first step of a cycle)
                x = 0.0
            if typ == "Output":
                outs[n].append(np.array(x, dtype=np.float64).copy())
                continue
            if typ == "Affine":
                val[n] = nd.weight @ np.ravel(x) + nd.bias
            elif typ == "Linear":
                val[n] = nd.weight @ np.ravel(x)
            elif typ == "Scale":
                val[n] = nd.scale * x
            elif typ == "Flatten":
                val[n] = np.ravel(x)
            elif typ == "Delay":
                k = _delay_steps(nd, dt)
                h = hist.setdefault(n, [])
                if k == 0:
                    val[n] = np.array(x, dtype=np.float64)
                else:       # output x[t - k]; this step's input is stored at the end of the step
                    shape = np.asarray(nd.delay).shape
                    val[n] = h[-k] if len(h) >= k else np.zeros(shape)
            elif typ == "Conv2d":
                pad = _two(nd.padding)
                val[n] = _conv2d(np.asarray(x).reshape(-1, *_two(nd.input_shape)), nd.weight,
                                 np.broadcast_to(nd.bias, (nd.weight.shape[0],)), _two(nd.stride),
                                 pad, _two(nd.dilation), int(nd.groups))
            elif typ == "Conv1d":
                L = int(nd.input_shape)
                y = _conv2d(np.asarray(x).reshape(-1, 1, L), nd.weight[:, :, None, :],
                            np.broadcast_to(nd.bias, (nd.weight.shape[0],)),
                            (1, int(nd.stride)), (0, int(np.asarray(nd.padding).reshape(-1)[0])),
                            (1, int(nd.dilation)), int(nd.groups))
                val[n] = y[:, 0, :]
            elif typ in ("SumPool2d", "AvgPool2d"):
                val[n] = _pool(np.asarray(x), _two(nd.kernel_size), _two(nd.stride),
                               _two(nd.padding), typ == "AvgPool2d")
            elif typ in NEURONS:
                I = np.ravel(x) * np.ones(np.asarray(nd.r if typ != "Threshold" else nd.threshold).size)
                st = state.setdefault(n, {"v": np.zeros(I.size), "i": np.zeros(I.size)})
                mode = reset or (nd.metadata or {}).get("reset", "zero")
                if typ == "Threshold":
                    z = I > np.ravel(nd.threshold)
                    st["v"] = I
                else:
                    if typ == "LIF" or typ == "LI":
                        st["v"] = st["v"] + dt / nd.tau.ravel() * (nd.v_leak.ravel() - st["v"]) \
                            + dt * nd.r.ravel() / nd.tau.ravel() * I
                    elif typ == "CubaLIF":
                        ts, tm = nd.tau_syn.ravel(), nd.tau_mem.ravel()
                        st["i"] = st["i"] + dt / ts * (np.ravel(nd.w_in) * I - st["i"])
                        st["v"] = st["v"] + dt / tm * (nd.v_leak.ravel() - st["v"]) + dt * nd.r.ravel() / tm * st["i"]
                    else:    # IF, I
                        st["v"] = st["v"] + dt * nd.r.ravel() * I
                    if typ in ("LI", "I"):
                        z = np.zeros(I.size, bool)
                    else:
                        z = st["v"] > nd.v_threshold.ravel()
                pre[n].append(np.array(st["v"], dtype=np.float64).copy())
                if typ not in ("LI", "I", "Threshold"):
                    if mode == "subtract":
                        st["v"] = np.where(z, st["v"] - nd.v_threshold.ravel(), st["v"])
                    else:
                        st["v"] = np.where(z, np.ravel(nd.v_reset), st["v"])
                volts[n].append(st["v"].copy())        # after the reset, as chip probes are
                spikes[n].append(z.astype(np.int64))
                val[n] = (st["v"].copy() if typ in ("LI", "I") else z.astype(np.float64)).reshape(
                    np.asarray(nd.r if typ != "Threshold" else nd.threshold).shape)
            else:
                raise ValueError("reference: unsupported node type %s" % typ)
        for n in delays:            # what the delays received this step
            xs = [val[p] for p in preds[n] if p in val]
            hist.setdefault(n, []).append(sum(np.asarray(v, dtype=np.float64) for v in xs)
                                          if xs else np.zeros(np.asarray(graph.nodes[n].delay).shape))
    return ({k: np.array(v) for k, v in outs.items()},
            {k: np.array(v) for k, v in volts.items()},
            {k: np.array(v) for k, v in spikes.items()},
            {k: np.array(v) for k, v in pre.items()})
