"""The reference backend: the board firmware itself (``firmware/nt_*.py``) run by CPython.

The image bytes go through the firmware's own loader, the firmware's sequencer runs
the chip, and a recorder collects what it reports tick by tick into the arrays of a
:class:`emulator.trace.Trace` (docs/SPEC.md section 16).
"""

from __future__ import annotations

import numpy as np

import firmware  # noqa: F401  (puts the firmware folder on sys.path for the bare imports)
from emulator import isa
from emulator.backends import RunError
from emulator.image import ImageError
from emulator.trace import ARRAYS, Trace, build_meta

BACKEND = "reference"
_CHUNK = 64  # ticks per engine call between progress reports


class Recorder:
    """Receives the firmware's per-tick callbacks (the interface a board streams)."""

    def __init__(self):
        self.inp_rows, self.spk_rows, self.pkt_rows = [], [], []
        self.mark_rows, self.probe_rows, self.tick_rows = [], [], []

    def inp(self, tk, tile, axon, offset):
        self.inp_rows.append((tk, tile, axon, offset))

    def spike(self, tk, offset, tile, neuron):
        self.spk_rows.append((tk, offset, tile, neuron))

    def probe(self, tk, i, v, u):
        self.probe_rows.append((v, u))

    def pkt(self, tk, src_tile, src_neuron, dst_tile, dst_axon, ready, arrive, hops):
        self.pkt_rows.append((tk, src_tile, src_neuron, dst_tile, dst_axon, ready, arrive, hops))

    def mark(self, tk, marker):
        self.mark_rows.append((tk, marker))

    def tick(self, tk, start, stall, dropped, state_hash):
        self.tick_rows.append((start, stall, dropped, state_hash))


_Recorder = Recorder  # the old name


def _cols(rows, n, dtypes):
    a = np.array(rows, dtype=np.int64).reshape(len(rows), n)
    return [a[:, i].astype(dt) for i, dt in enumerate(dtypes)]


def run(prog, image_bytes: bytes, ticks=None, seed=None, state_hash=False, progress=None) -> Trace:
    """Run ``image_bytes`` (the encoding of ``prog``) and return its trace.

    ``ticks`` stops the run after that many ticks (default: the program's own length;
    a program with ``jmp`` needs it). ``seed`` overrides the chip seed.
    ``progress(done_ticks, total)`` is called between chunks of ticks.
    """
    import nt_img
    import nt_seq

    own = prog.static_ticks()
    if ticks is None:
        if own is None:
            raise RunError("the program jumps (jmp) and may never halt: give a tick limit (--ticks)")
        ticks = own
    if ticks < 0:
        raise RunError("ticks must be >= 0, not %d" % ticks)
    try:
        chip = nt_img.load(bytes(image_bytes), seed)
    except ValueError as e:
        raise ImageError(str(e)) from None
    w_init = [np.array(t.w, np.int8) if t is not None else np.zeros(0, np.int8) for t in chip.tiles]
    nt_seq.start(chip)
    rec = Recorder()
    total = own if own is not None and own < ticks else ticks
    done = 0
    try:
        while True:
            want = min(_CHUNK, ticks - done)
            got = nt_seq.run(chip, want, rec, state_hash)
            done += got
            if progress is not None:
                progress(done, total)
            if got < want or done >= ticks:
                break
    except RuntimeError as e:
        raise RunError(str(e)) from None

    final = final_from_chip(chip, w_init)
    return build_trace(prog, image_bytes, rec, final, BACKEND, state_hash)


class FinalState:
    """What a run leaves behind, per tile, besides the per-tick records.

    Filled from a chip in memory (:func:`final_from_chip`) or from what a board sends
    back (``hil.runner``); :func:`build_trace` turns it and a recorder into a Trace.
    Per-tile lists hold one entry per mesh position (an off tile: empty arrays and
    zero counters). ``cycles``: the chip's cycle counter after the last tick (the
    start of the next tick), ``probes``: the probe section's (tile, neuron) bytes.
    """

    def __init__(self, n_tiles, probes, seed, cycles, w_init, w_final, v_final, u_final,
                 counters, link_busy=None, fifo_peak=None):
        self.n_tiles = n_tiles
        self.probes = probes
        self.seed = seed
        self.cycles = cycles
        self.w_init = w_init
        self.w_final = w_final
        self.v_final = v_final
        self.u_final = u_final
        self.counters = counters          # {"syn"|"mac"|"nup"|"sup": [per tile]}
        self.link_busy = link_busy        # flat n_tiles * N_PORTS, or None (no router)
        self.fifo_peak = fifo_peak


def final_from_chip(chip, w_init) -> FinalState:
    """The final state of a chip run in this process by the firmware."""
    w_final, v_final, u_final = [], [], []
    counters = {k: [] for k in ("syn", "mac", "nup", "sup")}
    for t in chip.tiles:
        if t is None:
            w_final.append(np.zeros(0, np.int8))
            v_final.append(np.zeros(0, np.int32))
            u_final.append(np.zeros(0, np.int32))
            for k in counters:
                counters[k].append(0)
            continue
        w_final.append(np.array(t.w, np.int8))
        if t.core == isa.CORE_TDMAC:
            v_final.append(np.array(t.q, np.int32))
            u_final.append(np.zeros(t.N, np.int32))
        else:
            v_final.append(np.array(t.v, np.int32))
            u_final.append(np.array(t.u, np.int32))
        for k in counters:
            counters[k].append(getattr(t, k))
    router = bool(chip.f & isa.FEAT_ROUTER)
    return FinalState(len(chip.tiles), bytes(chip.pr), chip.seed, chip.S, w_init, w_final,
                      v_final, u_final, counters,
                      list(chip.lb) if router else None, list(chip.fp) if router else None)


def build_trace(prog, image_bytes: bytes, rec, final: FinalState, backend: str,
                state_hash: bool) -> Trace:
    """The Trace of a run: ``rec`` holds the per-tick callbacks (a :class:`_Recorder`
    or anything with the same ``*_rows`` lists), ``final`` the state after the run.
    Shared by the reference backend and the board runner (``backend`` goes to meta)."""
    n_tiles = final.n_tiles
    a = {}
    n = len(rec.tick_rows)
    t_rows = np.array(rec.tick_rows, np.int64).reshape(n, 4)
    a["tick_start"] = np.concatenate([t_rows[:, 0], [final.cycles]]).astype(np.int64)
    a["stall"] = t_rows[:, 1].copy()
    a["dropped"] = t_rows[:, 2].copy()
    a["state_hash"] = t_rows[:, 3].copy() if state_hash else np.zeros(0, np.int64)
    for name, col in zip(("spk_tick", "spk_offset", "spk_tile", "spk_neuron"),
                         _cols(rec.spk_rows, 4, [np.int32] * 4)):
        a[name] = col
    for name, col in zip(("inp_tick", "inp_tile", "inp_axon", "inp_offset"),
                         _cols(rec.inp_rows, 4, [np.int32] * 4)):
        a[name] = col
    pk = ("pkt_tick", "pkt_src_tile", "pkt_src_neuron", "pkt_dst_tile", "pkt_dst_axon",
          "pkt_ready", "pkt_arrive", "pkt_hops")
    for name, col in zip(pk, _cols(rec.pkt_rows, 8, [ARRAYS[k] for k in pk])):
        a[name] = col
    a["mark_tick"], a["mark_id"] = _cols(rec.mark_rows, 2, [np.int32, np.int32])
    pr = final.probes
    a["probe_tile"] = np.array(list(pr[0::2]), np.int32)
    a["probe_neuron"] = np.array(list(pr[1::2]), np.int32)
    n_pr = len(a["probe_tile"])
    pv = np.array(rec.probe_rows, np.int64).reshape(n, n_pr, 2) if n_pr else np.zeros((n, 0, 2), np.int64)
    a["probe_v"] = pv[:, :, 0].astype(np.int32)
    a["probe_u"] = pv[:, :, 1].astype(np.int32)
    if final.link_busy is not None:
        a["link_busy"] = np.array(final.link_busy, np.int64).reshape(n_tiles, isa.N_PORTS)
        a["fifo_peak"] = np.array(final.fifo_peak, np.int32).reshape(n_tiles, isa.N_PORTS)
    else:
        a["link_busy"] = np.zeros((n_tiles, isa.N_PORTS), np.int64)
        a["fifo_peak"] = np.zeros((n_tiles, isa.N_PORTS), np.int32)
    w_final, v_final, counters = final.w_final, final.v_final, final.counters
    a["w_init"] = np.concatenate([np.zeros(0, np.int8)] + list(final.w_init)).astype(np.int8)
    a["w_final"] = np.concatenate([np.zeros(0, np.int8)] + list(w_final)).astype(np.int8)
    a["w_offsets"] = np.concatenate([[0], np.cumsum([len(w) for w in w_final])]).astype(np.int64)
    a["v_final"] = np.concatenate([np.zeros(0, np.int32)] + list(v_final)).astype(np.int32)
    a["u_final"] = np.concatenate([np.zeros(0, np.int32)] + list(final.u_final)).astype(np.int32)
    a["n_offsets"] = np.concatenate([[0], np.cumsum([len(v) for v in v_final])]).astype(np.int64)
    for name, k in (("cnt_syn_events", "syn"), ("cnt_mac_ops", "mac"), ("cnt_neuron_updates", "nup"),
                    ("cnt_stdp_updates", "sup")):
        a[name] = np.array(counters[k], np.int64)
    # SPEC 14: a tile's hops are the packets its router sent on N/E/S/W, off tiles included
    # (every tile has a router), i.e. the link columns of link_busy.
    a["cnt_hops"] = a["link_busy"][:, 1:].sum(axis=1).astype(np.int64)
    a = {k: np.asarray(a[k], dtype=ARRAYS[k]) for k in ARRAYS}
    meta = build_meta(prog, image_bytes, backend, final.seed, n, int(a["tick_start"][-1]))
    return Trace(a, meta)
