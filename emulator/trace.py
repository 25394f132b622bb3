"""Trace files (docs/SPEC.md section 16): what a run produced, as NumPy arrays.

A trace is an ``.npz`` archive readable with numpy alone: every array is plain
numeric data and ``meta`` is a 0-d string array holding JSON (no pickles).
Both backends and the board runner build the same arrays; :meth:`Trace.agrees`
and :meth:`Trace.first_divergence` compare two of them exactly.
"""

from __future__ import annotations

import json
import zipfile

import numpy as np

from emulator import isa

FORMAT = "neurotile-trace"
VERSION = 1

#: every array a trace holds, with its dtype (SPEC section 16)
ARRAYS = {
    "tick_start": np.int64, "stall": np.int64, "dropped": np.int64,
    "spk_tick": np.int32, "spk_offset": np.int32, "spk_tile": np.int32, "spk_neuron": np.int32,
    "inp_tick": np.int32, "inp_tile": np.int32, "inp_axon": np.int32, "inp_offset": np.int32,
    "pkt_tick": np.int32, "pkt_src_tile": np.int32, "pkt_src_neuron": np.int32,
    "pkt_dst_tile": np.int32, "pkt_dst_axon": np.int32, "pkt_ready": np.int64,
    "pkt_arrive": np.int64, "pkt_hops": np.int32,
    "link_busy": np.int64, "fifo_peak": np.int32,
    "probe_tile": np.int32, "probe_neuron": np.int32, "probe_v": np.int32, "probe_u": np.int32,
    "mark_tick": np.int32, "mark_id": np.int32,
    "w_init": np.int8, "w_final": np.int8, "w_offsets": np.int64,
    "v_final": np.int32, "u_final": np.int32, "n_offsets": np.int64,
    "cnt_syn_events": np.int64, "cnt_mac_ops": np.int64, "cnt_neuron_updates": np.int64,
    "cnt_stdp_updates": np.int64, "cnt_hops": np.int64,
    "state_hash": np.int64,
}
REQUIRED = tuple(ARRAYS)

SPIKE_DTYPE = np.dtype([("tick", np.int32), ("offset", np.int32), ("tile", np.int32),
                        ("neuron", np.int32)])

# Arrays indexed by tick along their first axis (for divergence reports).
_PER_TICK = {"tick_start", "stall", "dropped", "probe_v", "probe_u", "state_hash"}
_PER_TILE = {"link_busy", "fifo_peak", "cnt_syn_events", "cnt_mac_ops", "cnt_neuron_updates",
             "cnt_stdp_updates", "cnt_hops", "w_offsets", "n_offsets"}
_EVENT_GROUPS = (("inp_", ("tick", "tile", "axon", "offset")),
                 ("pkt_", ("tick", "src_tile", "src_neuron", "dst_tile", "dst_axon", "ready",
                           "arrive", "hops")),
                 ("mark_", ("tick", "id")))


class TraceError(ValueError):
    """A file that is not a readable neurotile trace; the message says why."""


def build_meta(prog, image_bytes: bytes, backend: str, seed: int, ticks: int, cycles: int) -> dict:
    """The ``meta`` dictionary every backend writes (so that traces compare equal)."""
    from emulator.image import image_hash

    tiles = []
    for t in prog.tiles:
        if t is None:
            tiles.append({"core": "off"})
            continue
        d = {"core": isa.CORE_NAMES[t.core], "axons": int(t.axons), "neurons": int(t.neurons)}
        if t.core == isa.CORE_LIF:
            d["vth"] = int(t.params["vth"])
        else:
            d["theta"] = int(t.params["theta"])
            d["t_in"] = int(t.params["t_in"])
        tiles.append(d)
    return {
        "format": FORMAT, "version": VERSION, "program": prog.name,
        "image_sha256": image_hash(bytes(image_bytes)), "backend": backend, "seed": int(seed),
        "ticks": int(ticks), "cycles": int(cycles),
        "mesh": [int(prog.chip["mesh_w"]), int(prog.chip["mesh_h"])],
        "window": int(prog.chip["window"]),
        "router_mode": isa.ROUTER_NAMES[prog.chip["router_mode"]], "tiles": tiles,
    }


class Trace:
    """The arrays of one run (``arrays``) and its description (``meta``)."""

    def __init__(self, arrays: dict, meta: dict):
        missing = [k for k in REQUIRED if k not in arrays]
        if missing:
            raise TraceError("trace lacks arrays: %s" % ", ".join(missing))
        self.arrays = {k: np.asarray(v) for k, v in arrays.items()}
        self.meta = dict(meta)

    # -- files ---------------------------------------------------------------
    def save(self, path) -> None:
        """Write atomically: a temporary file in the same folder, fsync, then rename."""
        from emulator.fileio import write_atomic

        write_atomic(path, lambda fh: np.savez(
            fh, meta=np.array(json.dumps(self.meta, sort_keys=True)), **self.arrays))

    @classmethod
    def load(cls, path) -> "Trace":
        """Read a trace; raise TraceError for a missing, corrupt or foreign file."""
        try:
            with np.load(path, allow_pickle=False) as z:
                if "meta" not in z.files:
                    raise TraceError("%s is not a neurotile trace (no meta)" % path)
                arrays = {k: z[k] for k in z.files if k != "meta"}
                raw = z["meta"]
        except TraceError:
            raise
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, KeyError) as e:
            raise TraceError("cannot read trace %s: %s" % (path, e)) from None
        if not isinstance(raw, np.ndarray) or raw.shape != () or raw.dtype.kind != "U":
            raise TraceError("%s: meta is not a JSON string" % path)
        try:
            meta = json.loads(str(raw))
        except ValueError as e:
            raise TraceError("%s: meta is not valid JSON (%s)" % (path, e)) from None
        if not isinstance(meta, dict) or meta.get("format") != FORMAT:
            raise TraceError("%s is not a neurotile trace (format %r)"
                             % (path, meta.get("format") if isinstance(meta, dict) else None))
        if meta.get("version") != VERSION:
            raise TraceError("%s: trace version %r, this neurotile reads version %d"
                             % (path, meta.get("version"), VERSION))
        missing = [k for k in REQUIRED if k not in arrays]
        if missing:
            raise TraceError("%s: trace lacks arrays %s" % (path, ", ".join(missing)))
        return cls(arrays, meta)

    # -- accessors -----------------------------------------------------------
    def __getitem__(self, name):
        return self.arrays[name]

    @property
    def n_ticks(self) -> int:
        return len(self.arrays["stall"])

    @property
    def cycles(self) -> int:
        """Total cycle count, stalls included: the chip's own clock."""
        return int(self.arrays["tick_start"][-1])

    @property
    def spikes(self) -> np.ndarray:
        """Output spikes as a structured array (tick, offset, tile, neuron)."""
        a = self.arrays
        out = np.zeros(len(a["spk_tick"]), SPIKE_DTYPE)
        for f in SPIKE_DTYPE.names:
            out[f] = a["spk_" + f]
        return out

    def spike_cycles(self) -> np.ndarray:
        """Absolute cycle of every output spike."""
        a = self.arrays
        return a["tick_start"][a["spk_tick"]] + a["spk_offset"]

    # -- comparison ----------------------------------------------------------
    def agrees(self, other: "Trace") -> bool:
        """SPEC section 16: equal arrays, equal meta except ``backend``."""
        return self.first_divergence(other) is None

    def first_divergence(self, other: "Trace"):
        """None when the traces agree, else a dict describing the first difference."""
        ma = {k: v for k, v in self.meta.items() if k != "backend"}
        mb = {k: v for k, v in other.meta.items() if k != "backend"}
        if ma != mb:
            key = sorted(k for k in set(ma) | set(mb) if ma.get(k) != mb.get(k))[0]
            return {"what": "meta", "key": key, "self": ma.get(key), "other": mb.get(key)}
        a, b = self.arrays, other.arrays
        # spikes first: the most telling difference, with its place in time and space
        cols = ("spk_tick", "spk_tile", "spk_offset", "spk_neuron")
        if not all(np.array_equal(a[c], b[c]) for c in cols):
            ka = np.stack([np.asarray(a[c], np.int64) for c in cols], axis=1)
            kb = np.stack([np.asarray(b[c], np.int64) for c in cols], axis=1)
            n = min(len(ka), len(kb))
            bad = np.flatnonzero(np.any(ka[:n] != kb[:n], axis=1))
            i = int(bad[0]) if len(bad) else n
            cand = [tuple(int(x) for x in k[i]) for k in (ka, kb) if i < len(k)]
            first = min(cand)
            tick, tile, offset, neuron = first
            ts = a["tick_start"]
            return {"what": "spike", "index": i, "tick": tick, "tile": tile, "offset": offset,
                    "neuron": neuron,
                    "cycle": int(ts[tick]) + offset if tick < len(ts) else None,
                    "in_self": i < len(ka) and tuple(ka[i]) == first,
                    "in_other": i < len(kb) and tuple(kb[i]) == first}
        for name in sorted(set(a) | set(b)):
            if name.startswith("spk_"):
                continue
            if name not in a or name not in b:
                return {"what": "array", "array": name, "detail": "missing in %s" % ("self" if name not in a else "other")}
            x, y = np.asarray(a[name]), np.asarray(b[name])
            if x.shape != y.shape:
                return {"what": "array", "array": name, "detail": "shape %s vs %s" % (x.shape, y.shape)}
            if np.array_equal(x, y):
                continue
            idx = tuple(int(i) for i in np.argwhere(x != y)[0])
            d = {"what": "array", "array": name, "index": list(idx),
                 "self": x[idx].item(), "other": y[idx].item()}
            if name in _PER_TICK:
                d["tick"] = idx[0]
                if idx[0] < len(a["tick_start"]):
                    d["cycle"] = int(a["tick_start"][idx[0]])
            elif name in _PER_TILE:
                d["tile"] = idx[0]
            for prefix, _ in _EVENT_GROUPS:
                if name.startswith(prefix) and prefix + "tick" in a and idx[0] < len(a[prefix + "tick"]):
                    d["tick"] = int(a[prefix + "tick"][idx[0]])
            if name in ("w_init", "w_final"):
                t = int(np.searchsorted(a["w_offsets"], idx[0], side="right") - 1)
                d["tile"] = t
            if name in ("v_final", "u_final"):
                t = int(np.searchsorted(a["n_offsets"], idx[0], side="right") - 1)
                d["tile"], d["neuron"] = t, idx[0] - int(a["n_offsets"][t])
            if name in ("probe_v", "probe_u") and len(idx) == 2:
                d["tile"] = int(a["probe_tile"][idx[1]])
                d["neuron"] = int(a["probe_neuron"][idx[1]])
            return d
        return None
