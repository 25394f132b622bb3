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


class TraceSizeWarning(UserWarning):
    """A trace about to be written is large (over SIZE_WARNING_BYTES of arrays)."""


#: what ``--record`` can keep or drop: group -> array name prefixes (SPEC section 16)
RECORD_GROUPS = {"spikes": ("spk_", "inp_"), "probes": ("probe_",), "packets": ("pkt_",),
                 "weights": ("w_init", "w_final")}
#: everything the viewer shows
RECORD_DEFAULT = tuple(RECORD_GROUPS)
#: deflate level of saved traces: level 1 keeps most of the gain of the default level (6)
#: at a fraction of its time (figures in docs/SPEC.md section 16)
COMPRESS_LEVEL = 1
SIZE_WARNING_BYTES = 1 << 30


def parse_record(text) -> tuple:
    """``"spikes,probes"`` (or a list, or ``"all"``) -> groups in canonical order."""
    items = text.split(",") if isinstance(text, str) else list(text)
    items = [i.strip() for i in items if i.strip()]
    if items == ["all"]:
        return RECORD_DEFAULT
    bad = [i for i in items if i not in RECORD_GROUPS]
    if bad:
        raise ValueError("cannot record %s: choose from %s (or all)"
                         % (", ".join(map(repr, bad)), ",".join(RECORD_GROUPS)))
    return tuple(g for g in RECORD_GROUPS if g in items)


def _write_npz(fh, arrays: dict, compress: bool) -> None:
    """An .npz archive (what numpy.savez writes), deflated at COMPRESS_LEVEL or stored."""
    mode = zipfile.ZIP_DEFLATED if compress else zipfile.ZIP_STORED
    with zipfile.ZipFile(fh, "w", mode, allowZip64=True,
                         compresslevel=COMPRESS_LEVEL if compress else None) as zf:
        for name, value in arrays.items():
            with zf.open(name + ".npy", "w", force_zip64=True) as out:
                np.lib.format.write_array(out, np.asanyarray(value), allow_pickle=False)


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
    def save(self, path, compress: bool = True) -> None:
        """Write atomically: a temporary file in the same folder, fsync, then rename.

        ``compress`` deflates the arrays (numpy.load reads both kinds). A trace over
        SIZE_WARNING_BYTES of arrays warns first (:class:`TraceSizeWarning`), with the
        estimate and what ``--record`` would save.
        """
        from emulator.fileio import write_atomic

        if self.nbytes > SIZE_WARNING_BYTES:
            import warnings

            warnings.warn(TraceSizeWarning(self.size_note(compress)), stacklevel=2)
        arrays = {"meta": np.array(json.dumps(self.meta, sort_keys=True))}
        arrays.update(self.arrays)
        write_atomic(path, lambda fh: _write_npz(fh, arrays, compress))

    @property
    def nbytes(self) -> int:
        """Bytes of array data (the uncompressed size of the file, near enough)."""
        return int(sum(np.asarray(a).nbytes for a in self.arrays.values()))

    def size_note(self, compress: bool = True) -> str:
        """One line: the trace's size, its largest part and how to make it smaller."""
        total = max(1, self.nbytes)
        parts = {g: sum(a.nbytes for k, a in self.arrays.items() if k.startswith(prefixes))
                 for g, prefixes in RECORD_GROUPS.items()}
        big = max(parts, key=parts.get)
        return ("the trace holds %.2f GB of arrays (%s; compressed files of large runs are "
                "typically 5-10x smaller); %.0f%% of it is %s: --record without %s leaves "
                "it out" % (total / 1e9, "writing compressed" if compress else "uncompressed",
                            100 * parts[big] / total, big, big))

    @property
    def recorded(self) -> tuple:
        """The array groups this trace holds (``meta["recorded"]``; all when absent)."""
        return tuple(self.meta.get("recorded", RECORD_DEFAULT))

    def select(self, record) -> "Trace":
        """A copy keeping only the ``record`` groups (:data:`RECORD_GROUPS`); the others
        are left empty and ``meta["recorded"]`` names what was kept. When spikes or
        packets are left out, the per-tick counters derived from them are kept instead
        (``per_tick_<name>`` arrays, :mod:`emulator.counters`)."""
        keep = parse_record(record)
        if keep == self.recorded:
            return self
        arrays = dict(self.arrays)
        if not {"spikes", "packets"} <= set(keep):
            from emulator import counters

            try:
                arrays.update(counters.stored_arrays(self))
            except counters.CounterError:
                pass
        for group, prefixes in RECORD_GROUPS.items():
            if group in keep:
                continue
            for name in arrays:
                if name.startswith(prefixes):
                    a = np.asarray(arrays[name])
                    shape = (a.shape[0], 0) if name in ("probe_v", "probe_u") else \
                        (0,) + a.shape[1:]
                    arrays[name] = np.zeros(shape, a.dtype)
        meta = dict(self.meta)
        meta["recorded"] = list(keep)
        return type(self)(arrays, meta)

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

    # -- notebooks and dataframes ---------------------------------------------
    def __repr__(self) -> str:
        from emulator.notebook import trace_repr

        return trace_repr(self)

    def _repr_html_(self) -> str:
        from emulator.notebook import trace_html

        return trace_html(self)

    def counters(self):
        """Per-tick counters per tile (:func:`emulator.counters.per_tick`)."""
        from emulator import counters

        return counters.per_tick(self)

    def to_pandas(self, what: str | None = None):
        """Tidy pandas DataFrames (the ``data`` extra: ``pip install 'neurotile[data]'``).

        ``what`` is one of ``spikes`` (tick, offset, cycle, tile, neuron), ``inputs``
        (tick, offset, cycle, tile, axon), ``packets`` (tick, source and destination, ready
        and arrive cycles, latency, hops, dropped), ``probes`` (one row per tick and probe:
        tick, tile, neuron, v, u) or ``counters`` (one row per tick and tile: the per-tick
        counters and energy of :mod:`emulator.counters`); None gives a dict of all five.
        """
        from emulator import frames

        return frames.to_pandas(self, what)

    def to_xarray(self):
        """An xarray Dataset: probes ``(tick, probe)``, per-tick counters ``(tick, tile)``,
        energy ``(tick, category)``, stall and dropped ``(tick)``, with coordinates tick,
        tile (and its x, y, core), probe (and its tile, neuron)."""
        from emulator import frames

        return frames.to_xarray(self)

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
