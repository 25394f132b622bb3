"""Train the time-to-first-spike digit classifier that ``ttfs_classifier.spk`` runs.

Host side, numpy only (plus scikit-learn's bundled 8x8 digits, read once to make the
data files; the test and the program need only the files this script writes).

The network is 64 -> 64 -> 10 and is trained *as the chip computes it* (SPEC section 7,
linear TD-MAC model), so that the float model and the emulator agree closely:

* a pixel ``p`` in 0..16 is an input spike at offset ``a = t_in - p`` with ``t_in = 16``
  (``p = 0``: no spike), so the tile reads exactly ``x = p``;
* a bias is one more axon whose spike comes at offset 0 (``x = t_in = 16``);
* a hidden neuron's charge at the end of the input phase is ``D = sum_k w[k] x[k]``; with
  ``theta = (t_in + 1) * ramp`` its spike comes at fire-phase step ``j = max(0, t_in -
  floor(D / ramp))`` and the next tile (same ``t_in``) reads ``h = t_in - j``, that is
  ``h = clip(floor(D / ramp), 0, 16)``: a clipped ReLU quantised to 17 levels, in time;
* the output tile's neurons fire at ``j2 = max(0, ceil((theta2 - D2) / ramp2) - 1)``; the
  class is the first output spike (ties: the lower neuron index, the trace's order).

Training uses quantisation in the loop (weights rounded to ``wbits = 8`` with a fixed
integer scale, hidden activation floored to 1/16 steps, straight-through gradients), so
the float model *is* the chip's arithmetic up to rounding. The float model reported and
compared against is the same network evaluated in floating point (float weights, float
clipped ReLU, argmax).

Writes (all under ``programs/data/``, reproducible: fixed seed):

``ttfs_relay.csv``      65 x 65 weights of the input tile: 64 on the diagonal (x' = x)
``ttfs_hidden<i>.csv``  65 x 16 int weights of hidden tile i (64 pixels + bias axon);
                        hidden tile 0 has a 17th neuron relaying the bias to the output
``ttfs_output.csv``     65 x 10 int weights of the output tile (64 hidden + bias axon)
``ttfs_spikes.npy``     the held-out digits as spike events (dtick, tile, axon, offset):
                        digit s at tick s, pixel p on axon k at offset 16 - p (p = 0:
                        no spike), the bias spike on axon 64 at offset 0
``ttfs_consts.inc``     the timing constants (.const lines) the program includes
``ttfs_float.json``     labels, float predictions, accuracies, the chip parameters

The chip pipeline: digit s enters the input tile in tick s, the hidden tiles compute it
in tick s + 1 and the output tile in tick s + 2 (one tick of synaptic delay per layer).

Usage: ``python programs/train_ttfs.py`` (about 20 s).
"""

from __future__ import annotations

import json
import os
import sys

import numpy as np

HERE = os.path.dirname(os.path.abspath(__file__))
DATA = os.path.join(HERE, "data")

SEED = 6
T_IN = 16                 # input phase: 16 cycles, a pixel 0..16 is exact
WINDOW = 256              # cycles per tick; the output tile's fire phase is 240 cycles
N_HIDDEN_TILES = 4
HIDDEN_PER_TILE = 16
N_HIDDEN = N_HIDDEN_TILES * HIDDEN_PER_TILE
N_CLASSES = 10
WMAX = 127                # wbits = 8
SCALE1 = 64               # hidden weights: w_int = round(64 * w_float); ramp1 = SCALE1
SCALE2 = 32               # output weights: w_int = round(32 * w_float)
MESH_W, MESH_H = 3, 3
INPUT_TILE = 4                # the centre: relays the pixels to the four hidden tiles
HIDDEN_TILES = (1, 3, 5, 7)   # its four neighbours (N, W, E, S)
OUTPUT_TILE = 0               # a corner, 1 to 3 hops from the hidden tiles
BIAS_AXON = 64                # on every tile: a spike at offset 0, x = 16


# ---------------------------------------------------------------------------
# the chip's arithmetic (integer, SPEC section 7 linear model)
# ---------------------------------------------------------------------------
def tdmac_step(D, theta, ramp, t_in=T_IN, window=WINDOW):
    """Fire-phase step j of every neuron (or -1 when it does not fire in the window)."""
    D = np.asarray(D, np.int64)
    if ramp == 0:
        return np.where(D >= theta, 0, -1)
    j = np.maximum(0, -((D - theta) // ramp) - 1)     # ceil((theta - D) / ramp) - 1
    return np.where(j < window - t_in, j, -1)


def chip_forward(pixels, w_hidden, w_out, params):
    """Integer model of the program: returns (hidden values h, output steps j2, predictions).

    ``pixels``: int [n, 64] in 0..16; ``w_hidden``: int [65, 64] (row 64 = bias axon);
    ``w_out``: int [65, 10]. A prediction is -1 when no output neuron fires.
    """
    n = len(pixels)
    x = np.concatenate([pixels, np.full((n, 1), T_IN)], axis=1).astype(np.int64)
    D1 = x @ w_hidden.astype(np.int64)
    j1 = tdmac_step(D1, params["theta1"], params["ramp1"])
    h = np.where((j1 >= 0) & (j1 < T_IN), T_IN - j1, 0)
    xh = np.concatenate([h, np.full((n, 1), T_IN)], axis=1)
    D2 = xh @ w_out.astype(np.int64)
    j2 = tdmac_step(D2, params["theta2"], params["ramp2"])
    big = np.iinfo(np.int64).max
    jj = np.where(j2 >= 0, j2, big)
    pred = np.argmin(jj, axis=1)                      # first spike; ties -> lowest index
    pred = np.where(jj.min(axis=1) == big, -1, pred)
    return h, j2, pred


# ---------------------------------------------------------------------------
# training (float, quantisation in the loop)
# ---------------------------------------------------------------------------
def load_digits():
    from sklearn.datasets import load_digits as _ld   # bundled with scikit-learn, no download

    d = _ld()
    return d.data.astype(np.int64), d.target.astype(np.int64)


def split(X, y, seed=SEED, test_fraction=0.2):
    rng = np.random.default_rng(seed)
    idx = rng.permutation(len(X))
    n_test = int(round(test_fraction * len(X)))
    te, tr = idx[:n_test], idx[n_test:]
    return X[tr], y[tr], X[te], y[te]


def q_weights(w, scale):
    return np.clip(np.round(w * scale), -WMAX, WMAX) / scale


def float_forward(xf, W1, b1, W2, b2, quant):
    """Forward pass; ``quant`` applies the chip's quantisation (weights and activations)."""
    if quant:
        W1, b1 = q_weights(W1, SCALE1), q_weights(b1, SCALE1)
        W2, b2 = q_weights(W2, SCALE2), q_weights(b2, SCALE2)
    a = xf @ W1 + b1
    h = np.clip(a, 0.0, 1.0)
    if quant:
        h = np.floor(h * T_IN) / T_IN
    z = h @ W2 + b2
    return a, h, z


def train(Xtr, ytr, epochs=160, lr=3e-3, seed=SEED, log=print):
    rng = np.random.default_rng(seed)
    xf = Xtr / 16.0
    W1 = rng.normal(0, 1 / np.sqrt(64), (64, N_HIDDEN))
    b1 = np.full(N_HIDDEN, 0.1)
    W2 = rng.normal(0, 1 / np.sqrt(N_HIDDEN), (N_HIDDEN, N_CLASSES))
    b2 = np.zeros(N_CLASSES)
    params = [W1, b1, W2, b2]
    m = [np.zeros_like(p) for p in params]
    v = [np.zeros_like(p) for p in params]
    Y = np.eye(N_CLASSES)[ytr]
    bs = 128
    step = 0
    for ep in range(epochs):
        perm = rng.permutation(len(xf))
        quant = ep >= epochs // 4          # float warm-up, then quantisation in the loop
        for s in range(0, len(xf), bs):
            b = perm[s:s + bs]
            a, h, z = float_forward(xf[b], W1, b1, W2, b2, quant)
            z = z * 4.0                    # softmax temperature (logits are O(1))
            z -= z.max(axis=1, keepdims=True)
            p = np.exp(z)
            p /= p.sum(axis=1, keepdims=True)
            dz = (p - Y[b]) * 4.0 / len(b)
            W2u = q_weights(W2, SCALE2) if quant else W2
            gW2 = h.T @ dz
            gb2 = dz.sum(0)
            dh = dz @ W2u.T
            da = dh * ((a > 0) & (a < 1))     # straight-through the floor, not the clip
            gW1 = xf[b].T @ da + 1e-4 * W1
            gb1 = da.sum(0)
            grads = [gW1, gb1, gW2 + 1e-4 * W2, gb2]
            step += 1
            for i, (pp, g) in enumerate(zip(params, grads)):
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                mh = m[i] / (1 - 0.9 ** step)
                vh = v[i] / (1 - 0.999 ** step)
                pp -= lr * mh / (np.sqrt(vh) + 1e-8)
            # keep weights inside the representable range
            np.clip(W1, -WMAX / SCALE1, WMAX / SCALE1, out=W1)
            np.clip(b1, -WMAX / SCALE1, WMAX / SCALE1, out=b1)
            np.clip(W2, -WMAX / SCALE2, WMAX / SCALE2, out=W2)
            np.clip(b2, -WMAX / SCALE2, WMAX / SCALE2, out=b2)
        if log and (ep + 1) % 40 == 0:
            _, _, z = float_forward(xf, W1, b1, W2, b2, True)
            log("epoch %d: train accuracy (quantised) %.3f" % (ep + 1, (z.argmax(1) == ytr).mean()))
    return W1, b1, W2, b2


def to_chip(W1, b1, W2, b2):
    """Integer weights: hidden [65, 64] (bias row: x = 16, so b_int = round(SCALE1 * b))."""
    wh = np.vstack([np.round(W1 * SCALE1), np.round(b1 * SCALE1)[None, :]])
    wo = np.vstack([np.round(W2 * SCALE2), np.round(b2 * SCALE2)[None, :]])
    return np.clip(wh, -WMAX, WMAX).astype(np.int64), np.clip(wo, -WMAX, WMAX).astype(np.int64)


def choose_output_timing(pixels, w_hidden, w_out):
    """theta2 above every reachable D2 (no saturation ties), ramp2 so the fire phase
    reaches down to the lowest winning charge seen on the training set."""
    n = len(pixels)
    x = np.concatenate([pixels, np.full((n, 1), T_IN)], axis=1)
    D1 = x @ w_hidden
    h = np.clip(D1 // SCALE1, 0, T_IN)
    D2 = np.concatenate([h, np.full((n, 1), T_IN)], axis=1) @ w_out
    top = int(D2.max())
    low = int(D2.max(axis=1).min())
    steps = WINDOW - T_IN - 1
    theta2 = top + 64
    ramp2 = max(1, -(-(theta2 - low + 256) // steps))
    return theta2, ramp2


# ---------------------------------------------------------------------------
# files
# ---------------------------------------------------------------------------
def write_csv(path, arr, header):
    with open(path, "w") as fh:
        fh.write("# %s\n" % header)
        for row in np.asarray(arr):
            fh.write(",".join(str(int(v)) for v in row) + "\n")


def read_csv(path):
    return np.loadtxt(path, delimiter=",", dtype=np.int64, comments="#", ndmin=2)


def spike_events(digits):
    """Events (dtick, tile, axon, offset) of the digits, digit s at tick s."""
    ev = []
    for s, pixels in enumerate(digits):
        for k, p in enumerate(pixels):
            if p > 0:
                ev.append((s, INPUT_TILE, k, T_IN - int(p)))
        ev.append((s, INPUT_TILE, BIAS_AXON, 0))
    return np.array(ev, dtype=np.int16)


def digits_from_events(ev, n):
    """Inverse of spike_events: pixels [n, 64] from the input tile's events."""
    ev = np.asarray(ev, np.int64)
    px = np.zeros((n, 64), np.int64)
    m = (ev[:, 1] == INPUT_TILE) & (ev[:, 2] < 64)
    px[ev[m, 0], ev[m, 2]] = T_IN - ev[m, 3]
    return px


def main(argv=None) -> int:
    os.makedirs(DATA, exist_ok=True)
    X, y = load_digits()
    Xtr, ytr, Xte, yte = split(X, y)
    W1, b1, W2, b2 = train(Xtr, ytr)
    _, _, zf = float_forward(Xte / 16.0, W1, b1, W2, b2, quant=False)
    acc_float = float((zf.argmax(1) == yte).mean())
    _, _, zq = float_forward(Xte / 16.0, W1, b1, W2, b2, quant=True)
    acc_qfloat = float((zq.argmax(1) == yte).mean())
    wh, wo = to_chip(W1, b1, W2, b2)
    theta2, ramp2 = choose_output_timing(Xtr, wh, wo)
    params = {"t_in": T_IN, "window": WINDOW, "theta1": (T_IN + 1) * SCALE1, "ramp1": SCALE1,
              "theta2": int(theta2), "ramp2": int(ramp2)}
    _, _, pred = chip_forward(Xte, wh, wo, params)
    acc_chip = float((pred == yte).mean())
    print("test digits: %d; float %.4f, float with quantisation %.4f, integer chip model %.4f"
          % (len(yte), acc_float, acc_qfloat, acc_chip))
    gen = "written by programs/train_ttfs.py"
    write_csv(os.path.join(DATA, "ttfs_relay.csv"), np.eye(65, dtype=np.int64) * SCALE1,
              "input tile (mesh tile %d): 65 x 65, x' = floor(64 x / 64) = x; %s" % (INPUT_TILE, gen))
    for i in range(N_HIDDEN_TILES):
        cols = slice(i * HIDDEN_PER_TILE, (i + 1) * HIDDEN_PER_TILE)
        w = wh[:, cols]
        if i == 0:      # neuron 16: relays the bias spike (x = 16) to the output tile
            w = np.concatenate([w, np.eye(65, dtype=np.int64)[:, BIAS_AXON:] * SCALE1], axis=1)
        write_csv(os.path.join(DATA, "ttfs_hidden%d.csv" % i), w,
                  "hidden tile %d (mesh tile %d): 65 axons (64 pixels, bias) x %d neurons; %s"
                  % (i, HIDDEN_TILES[i], w.shape[1], gen))
    write_csv(os.path.join(DATA, "ttfs_output.csv"), wo,
              "output tile (mesh tile %d): 65 axons (64 hidden, bias) x 10 neurons; %s" % (OUTPUT_TILE, gen))
    ev = spike_events(Xte)
    assert np.array_equal(digits_from_events(ev, len(Xte)), Xte)
    np.save(os.path.join(DATA, "ttfs_spikes.npy"), ev)
    info = {"seed": SEED, "n_test": int(len(yte)), "accuracy_float": acc_float,
            "accuracy_float_quantised": acc_qfloat, "accuracy_chip_model": acc_chip,
            "params": params, "input_tile": INPUT_TILE, "hidden_tiles": list(HIDDEN_TILES),
            "output_tile": OUTPUT_TILE, "mesh": [MESH_W, MESH_H],
            "labels": [int(v) for v in yte], "pred_float": [int(v) for v in zf.argmax(1)],
            "pred_chip_model": [int(v) for v in pred]}
    with open(os.path.join(DATA, "ttfs_float.json"), "w") as fh:
        json.dump(info, fh, indent=1, sort_keys=True)
        fh.write("\n")
    with open(os.path.join(DATA, "ttfs_consts.inc"), "w") as fh:
        fh.write("; TD-MAC timing of ttfs_classifier.spk; %s\n" % gen)
        fh.write(".const N_DIGITS = %d\n" % len(yte))
        for k in ("t_in", "window", "theta1", "ramp1", "theta2", "ramp2"):
            fh.write(".const %s = %d\n" % (k.upper(), params[k]))
    print(json.dumps(params))
    return 0


if __name__ == "__main__":
    sys.exit(main())
