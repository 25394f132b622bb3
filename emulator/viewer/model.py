"""What the viewer reads from a trace: checked arrays, the user's selection, derived figures.

The viewer consumes trace files (docs/SPEC.md section 16) and never the engine. Loading goes
through :func:`emulator.trace.Trace.load` when that module exists, otherwise through a local
loader with the same contract (``.arrays``, ``.meta``; :class:`TraceError` on a corrupt or
foreign file). :class:`TraceView` then checks the arrays the panels read, sorts nothing that is
already sorted, and answers window queries with ``searchsorted`` on the tick-ordered arrays,
so a million-spike trace costs a few array slices, not a Python loop.
"""

from __future__ import annotations

import json
import os
import zipfile
from dataclasses import dataclass

import numpy as np


def _trace_module():
    try:
        import emulator.trace as mod
    except ModuleNotFoundError as e:
        if e.name != "emulator.trace":
            raise
        return None
    return mod


class _LocalTraceError(Exception):
    """A trace file that cannot be read (same name as emulator.trace's, so the CLI reports it)."""


_LocalTraceError.__name__ = "TraceError"
_LocalTraceError.__qualname__ = "TraceError"


def trace_error_class():
    """``emulator.trace.TraceError`` when it exists, else the viewer's stand-in."""
    mod = _trace_module()
    return getattr(mod, "TraceError", _LocalTraceError) if mod else _LocalTraceError


def TraceError(message: str) -> Exception:  # noqa: N802 - behaves like the class it builds
    return trace_error_class()(message)


class LocalTrace:
    """Minimal stand-in for ``emulator.trace.Trace``: ``arrays`` and a parsed ``meta``."""

    def __init__(self, arrays: dict, meta: dict):
        self.arrays = arrays
        self.meta = meta

    @classmethod
    def load(cls, path) -> "LocalTrace":
        path = os.fspath(path)
        if not os.path.exists(path):
            raise TraceError("%s: no such trace file" % path)
        try:
            with np.load(path, allow_pickle=False) as npz:
                arrays = {name: npz[name] for name in npz.files}
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError) as e:
            raise TraceError("%s: not a neurotile trace (%s)" % (path, _short(e))) from None
        if not isinstance(arrays, dict) or "meta" not in arrays:
            raise TraceError("%s: not a neurotile trace (no 'meta' array)" % path)
        return cls(arrays, parse_meta(arrays["meta"], path))


def _short(e: Exception) -> str:
    text = str(e).strip() or type(e).__name__
    return text.splitlines()[0][:120]


def parse_meta(raw, path="trace") -> dict:
    try:
        meta = json.loads(str(raw[()] if isinstance(raw, np.ndarray) else raw))
    except (ValueError, TypeError) as e:
        raise TraceError("%s: trace 'meta' is not JSON (%s)" % (path, _short(e))) from None
    if not isinstance(meta, dict) or meta.get("format") != "neurotile-trace":
        raise TraceError("%s: not a neurotile trace (meta.format is %r)"
                         % (path, meta.get("format") if isinstance(meta, dict) else None))
    if int(meta.get("version", 0)) > 1:
        raise TraceError("%s: trace format version %s is newer than this viewer reads (1)"
                         % (path, meta.get("version")))
    return meta


def load_trace(path) -> "TraceView":
    """Load and check a trace file; raises ``TraceError`` with a one-line reason."""
    mod = _trace_module()
    name = os.path.basename(os.fspath(path))
    if mod is not None and hasattr(mod, "Trace"):
        error = trace_error_class()
        try:
            trace = mod.Trace.load(path)
        except error:
            raise
        except (zipfile.BadZipFile, EOFError, OSError, ValueError, KeyError, TypeError,
                AttributeError) as e:
            # the loader should have said TraceError; still no traceback for a bad file
            raise TraceError("%s: not a readable neurotile trace (%s)" % (path, _short(e))) from None
    else:
        trace = LocalTrace.load(path)
    return TraceView.from_trace(trace, name=name)


# Arrays every panel relies on: name -> number of dimensions.
_REQUIRED = {
    "tick_start": 1, "spk_tick": 1, "spk_offset": 1, "spk_tile": 1, "spk_neuron": 1,
}
# Arrays a panel needs; when absent the panel says so instead of failing.
_OPTIONAL = {
    "stall": 1, "dropped": 1,
    "inp_tick": 1, "inp_tile": 1, "inp_axon": 1, "inp_offset": 1,
    "pkt_tick": 1, "pkt_src_tile": 1, "pkt_src_neuron": 1, "pkt_dst_tile": 1,
    "pkt_dst_axon": 1, "pkt_ready": 1, "pkt_arrive": 1, "pkt_hops": 1,
    "link_busy": 2, "fifo_peak": 2, "probe_tile": 1, "probe_neuron": 1,
    "probe_v": 2, "probe_u": 2, "w_init": 1, "w_final": 1, "w_offsets": 1,
    "v_final": 1, "u_final": 1, "n_offsets": 1,
    "cnt_syn_events": 1, "cnt_mac_ops": 1, "cnt_neuron_updates": 1,
    "cnt_stdp_updates": 1, "cnt_hops": 1, "state_hash": 1, "mark_tick": 1, "mark_id": 1,
}
# Per-tick counters a trace keeps when its logs were not recorded (emulator/counters.py).
_OPTIONAL.update({"per_tick_" + name: 2 for name in (
    "spikes", "inputs", "packets", "dropped", "hops", "syn_events", "mac_ops",
    "neuron_updates", "stdp_updates")})
# `--record` groups (emulator/trace.py RECORD_GROUPS): arrays of a group the trace did not
# record are left out of the view, so panels say "not recorded" instead of showing nothing.
_RECORD_PREFIXES = {"spikes": ("inp_",), "probes": ("probe_",), "packets": ("pkt_",),
                    "weights": ("w_init", "w_final")}
_GROUPS = (("spk_tick", "spk_offset", "spk_tile", "spk_neuron"),
           ("inp_tick", "inp_tile", "inp_axon", "inp_offset"),
           ("pkt_tick", "pkt_src_tile", "pkt_src_neuron", "pkt_dst_tile", "pkt_dst_axon",
            "pkt_ready", "pkt_arrive", "pkt_hops"))


@dataclass
class TileInfo:
    index: int
    core: str
    axons: int
    neurons: int
    threshold: int | None
    t_in: int | None


class TraceView:
    """A checked trace plus the indexes the panels share."""

    def __init__(self, arrays: dict, meta: dict, name: str = "trace"):
        self.name = name
        self.meta = meta
        bad = []
        a = {}
        for key, ndim in {**_REQUIRED, **_OPTIONAL}.items():
            if key not in arrays:
                if key in _REQUIRED:
                    bad.append("missing array %r" % key)
                continue
            value = np.asarray(arrays[key])
            if value.ndim != ndim or value.dtype.kind not in "iub":
                bad.append("array %r has shape %s dtype %s" % (key, value.shape, value.dtype))
            a[key] = value
        for group in _GROUPS:
            sizes = {a[k].shape[0] for k in group if k in a and a[k].ndim == 1}
            if len(sizes) > 1:
                bad.append("arrays %s differ in length" % ", ".join(group))
        if bad:
            raise TraceError("%s: corrupt trace: %s" % (name, "; ".join(bad[:3])))
        recorded = meta.get("recorded")
        self.recorded = tuple(recorded) if isinstance(recorded, list) else tuple(_RECORD_PREFIXES)
        for group, prefixes in _RECORD_PREFIXES.items():
            if group not in self.recorded:
                for key in [k for k in a if k.startswith(prefixes)]:
                    del a[key]
        self.arrays = a
        self.tick_start = a["tick_start"].astype(np.int64)
        self.ticks = int(meta.get("ticks", self.tick_start.size - 1))
        if self.tick_start.size != self.ticks + 1 or self.ticks < 0:
            raise TraceError("%s: corrupt trace: tick_start has %d entries for %d ticks"
                             % (name, self.tick_start.size, self.ticks))
        if self.ticks and np.any(np.diff(self.tick_start) < 0):
            raise TraceError("%s: corrupt trace: tick_start decreases" % name)
        self.cycles = int(self.tick_start[-1]) if self.tick_start.size else 0
        mesh = meta.get("mesh") or [1, 1]
        self.mesh_w, self.mesh_h = int(mesh[0]), int(mesh[1])
        self.n_tiles = self.mesh_w * self.mesh_h
        self.window = int(meta.get("window", 1))
        self.tiles = self._tile_infos()
        spk_tick = a["spk_tick"]
        if spk_tick.size and (spk_tick.min() < 0 or spk_tick.max() >= max(1, self.ticks)):
            raise TraceError("%s: corrupt trace: spike ticks outside 0..%d" % (name, self.ticks - 1))
        if spk_tick.size and (a["spk_tile"].min() < 0 or a["spk_tile"].max() >= self.n_tiles):
            raise TraceError("%s: corrupt trace: spike tiles outside the %dx%d mesh"
                             % (name, self.mesh_w, self.mesh_h))
        for prefix, key in (("spk", "spk_tick"), ("inp", "inp_tick"), ("pkt", "pkt_tick")):
            if key in a and a[key].size > 1 and np.any(a[key][1:] < a[key][:-1]):
                self._sort_group(prefix, key)

    @classmethod
    def from_trace(cls, trace, name: str | None = None) -> "TraceView":
        """Wrap an ``emulator.trace.Trace`` (or anything with ``arrays`` and ``meta``)."""
        if isinstance(trace, TraceView):
            return trace
        meta = trace.meta
        if not isinstance(meta, dict):
            meta = parse_meta(meta, name or "trace")
        return cls(trace.arrays, meta, name or str(meta.get("program") or "trace"))

    def _sort_group(self, prefix, key):
        order = np.argsort(self.arrays[key], kind="stable")
        for group in _GROUPS:
            if group[0] == key:
                for k in group:
                    if k in self.arrays:
                        self.arrays[k] = self.arrays[k][order]

    def _tile_infos(self) -> list:
        described = self.meta.get("tiles") or []
        infos = []
        for t in range(self.n_tiles):
            d = described[t] if t < len(described) and isinstance(described[t], dict) else {}
            neurons = d.get("neurons")
            if neurons is None and "n_offsets" in self.arrays and self.arrays["n_offsets"].size > t + 1:
                neurons = int(self.arrays["n_offsets"][t + 1] - self.arrays["n_offsets"][t])
            spk = self.arrays["spk_neuron"][self.arrays["spk_tile"] == t]
            neurons = int(neurons if neurons is not None else (spk.max() + 1 if spk.size else 1))
            axons = d.get("axons")
            if axons is None and "w_offsets" in self.arrays and neurons:
                w = self.arrays["w_offsets"]
                axons = int((w[t + 1] - w[t]) // neurons) if w.size > t + 1 else 1
            core = str(d.get("core", "lif" if neurons else "off"))
            threshold = d.get("theta") if core == "tdmac" else d.get("vth")
            infos.append(TileInfo(t, core, int(axons or 0), neurons,
                                  None if threshold is None else int(threshold), d.get("t_in")))
        return infos

    # -- queries ------------------------------------------------------------------------------
    def has(self, *keys) -> bool:
        return all(k in self.arrays for k in keys)

    def tick_slice(self, tick_key: str, tick_a: int, tick_b: int) -> slice:
        """Indices of the rows of a tick-ordered array group with tick in ``[tick_a, tick_b)``."""
        ticks = self.arrays[tick_key]
        lo, hi = np.searchsorted(ticks, [tick_a, tick_b], side="left")
        return slice(int(lo), int(hi))

    def spikes(self, sel: "Selection") -> dict:
        """Output spikes in the selection: dict of arrays ``tick``, ``offset``, ``tile``, ``neuron``."""
        s = self.tick_slice("spk_tick", sel.tick_a, sel.tick_b)
        out = {k: self.arrays["spk_" + k][s] for k in ("tick", "offset", "tile", "neuron")}
        keep = sel.tile_mask(out["tile"]) & sel.neuron_mask(out["neuron"])
        return {k: v[keep] for k, v in out.items()} if not keep.all() else out

    def inputs(self, sel: "Selection") -> dict:
        if not self.has("inp_tick", "inp_tile", "inp_axon", "inp_offset"):
            return {k: np.zeros(0, np.int32) for k in ("tick", "tile", "axon", "offset")}
        s = self.tick_slice("inp_tick", sel.tick_a, sel.tick_b)
        out = {k: self.arrays["inp_" + k][s] for k in ("tick", "tile", "axon", "offset")}
        keep = sel.tile_mask(out["tile"])
        return {k: v[keep] for k, v in out.items()}

    def packets(self, sel: "Selection") -> dict | None:
        keys = ("tick", "src_tile", "src_neuron", "dst_tile", "dst_axon", "ready", "arrive", "hops")
        if not self.has(*("pkt_" + k for k in keys)):
            return None
        s = self.tick_slice("pkt_tick", sel.tick_a, sel.tick_b)
        out = {k: self.arrays["pkt_" + k][s] for k in keys}
        keep = sel.tile_mask(out["src_tile"]) | sel.tile_mask(out["dst_tile"])
        return {k: v[keep] for k, v in out.items()}

    def absolute_cycle(self, tick: np.ndarray, offset: np.ndarray) -> np.ndarray:
        return self.tick_start[tick] + offset

    def tile_xy(self, tile: int) -> tuple:
        return tile % self.mesh_w, tile // self.mesh_w


@dataclass
class Selection:
    """What the user asked to see: tiles, neurons, a half-open tick range, the time axis."""

    tiles: np.ndarray          # sorted tile indices
    neurons: np.ndarray | None  # sorted neuron indices, or None for all
    tick_a: int
    tick_b: int
    cycles: bool = False
    n_tiles: int = 1

    def tile_mask(self, tile: np.ndarray) -> np.ndarray:
        if self.tiles.size == self.n_tiles:
            return np.ones(tile.shape, bool)
        lut = np.zeros(max(self.n_tiles, 1), bool)
        lut[self.tiles] = True
        return lut[np.clip(tile, 0, lut.size - 1)] & (tile >= 0) & (tile < lut.size)

    def neuron_mask(self, neuron: np.ndarray) -> np.ndarray:
        if self.neurons is None:
            return np.ones(neuron.shape, bool)
        lut = np.zeros(257, bool)
        lut[self.neurons[self.neurons < 257]] = True
        return lut[np.clip(neuron, 0, 256)]

    @property
    def span_ticks(self) -> int:
        return self.tick_b - self.tick_a


def parse_index_list(text: str | None, limit: int, what: str) -> np.ndarray | None:
    """``"0-3,7"`` -> ``array([0, 1, 2, 3, 7])``; ``None`` -> ``None``. Raises ValueError."""
    if text is None or text.strip() in ("", "all"):
        return None
    picked = set()
    for part in text.split(","):
        part = part.strip()
        if not part:
            continue
        try:
            if "-" in part[1:]:
                lo, hi = part.split("-", 1) if not part.startswith("-") else (part, "")
                lo, hi = int(lo), int(hi)
            else:
                lo = hi = int(part)
        except ValueError:
            raise ValueError("--%s: %r is not a number or a range like 0-7" % (what, part)) from None
        if lo < 0 or hi < lo or hi >= limit:
            raise ValueError("--%s: %r outside 0..%d" % (what, part, limit - 1))
        picked.update(range(lo, hi + 1))
    if not picked:
        raise ValueError("--%s: empty selection" % what)
    return np.array(sorted(picked), dtype=np.int64)


def parse_tick_range(text: str | None, ticks: int) -> tuple:
    """``"A:B"`` (either side optional, negative from the end) -> half-open ``(a, b)``."""
    if not text:
        return 0, ticks
    if ":" not in text:
        raise ValueError("--ticks: expected A:B (for example 100:200), got %r" % text)
    lo_s, hi_s = text.split(":", 1)
    try:
        lo = int(lo_s) if lo_s.strip() else 0
        hi = int(hi_s) if hi_s.strip() else ticks
    except ValueError:
        raise ValueError("--ticks: expected integers in A:B, got %r" % text) from None
    lo = lo + ticks if lo < 0 else lo
    hi = hi + ticks if hi < 0 else hi
    lo, hi = max(0, min(lo, ticks)), max(0, min(hi, ticks))
    if hi <= lo:
        raise ValueError("--ticks: %r selects no ticks (the trace has %d)" % (text, ticks))
    return lo, hi


def make_selection(view: TraceView, tiles=None, neurons=None, ticks=None, cycles=False) -> Selection:
    """Build a :class:`Selection` from the CLI's strings (or already-parsed values)."""
    tile_idx = tiles if isinstance(tiles, np.ndarray) else parse_index_list(tiles, view.n_tiles, "tiles")
    if tile_idx is None:
        tile_idx = np.array([t.index for t in view.tiles if t.core != "off"] or [0], dtype=np.int64)
    neuron_idx = neurons if isinstance(neurons, np.ndarray) else parse_index_list(neurons, 256, "neurons")
    a, b = ticks if isinstance(ticks, tuple) else parse_tick_range(ticks, view.ticks)
    return Selection(tile_idx, neuron_idx, a, b, cycles, view.n_tiles)
