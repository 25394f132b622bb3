"""The fast backend: the whole chip, sequencer included, in numba-compiled loops.

``run(prog, image_bytes, ...)`` builds the flat state (see kernels_core for the
layout), then calls :func:`run_chunk` repeatedly; each call executes up to a
budget of ticks entirely in compiled code, so Python only updates the progress
bar between chunks. Cutting a run into chunks does not change the result: a chunk
stops only just before a tick, and all state lives in the arrays.

Semantics: docs/SPEC.md, bit for bit; the reference backend (firmware/nt_*.py)
is the readable version, and tests/test_differential.py keeps the two equal.
"""

from __future__ import annotations

import hashlib
import mmap
import time

import numpy as np
from numba import njit

from emulator import isa
from emulator.backends import kernels_core as kc
from emulator.backends.kernels_core import (C_NEURON, CORE_LIF, CORE_TDMAC, NO_ARRIVAL,
                                             TP_A, TP_AOFF, TP_COLS, TP_CORE,
                                             TP_N, TP_NOFF, TP_WMAXB, TP_WOFF, SP_COLS,
                                             lif_tile, set_weight, stdp_tile, state_hash,
                                             tdmac_tile)
from emulator.backends import RunError
from emulator.backends.kernels_router import deliver, deliver_events, route_tick
from emulator.trace import ARRAYS, Trace, build_meta

BACKEND_NAME = "numba"

# sequencer state, seq[SQ_*]
SQ_PC, SQ_RUNREM, SQ_SP, SQ_TICK, SQ_STEPS, SQ_HALTED = 0, 1, 2, 3, 4, 5
SQ_STACK = 8
SQ_LEN = SQ_STACK + isa.MAX_LOOP_DEPTH + 1
# log fill levels, cnts[N_*]
N_INP, N_SPK, N_PKT, N_MARK, N_SCHED = 0, 1, 2, 3, 4
# chip-wide values, glob[G_*]
G_W, G_H, G_K, G_MODE, G_D, G_NT, G_SUMN, G_ROUTES = 0, 1, 2, 3, 4, 5, 6, 7
G_SB_NOISE, G_SB_STDP, G_SB_REWARD = 8, 9, 10
G_LEN = 11
# run_chunk status
ST_MORE, ST_DONE = 0, 1
ST_ERR_STEPS, ST_ERR_LOOP_DEEP, ST_ERR_ENDLOOP = -1, -2, -3

OP_HALT = isa.BY_MNEMONIC["halt"].opcode
OP_RUN = isa.BY_MNEMONIC["run"].opcode
OP_INJECT = isa.BY_MNEMONIC["inject"].opcode
OP_PLAY = isa.BY_MNEMONIC["play"].opcode
OP_LEARN = isa.BY_MNEMONIC["learn"].opcode
OP_SETW = isa.BY_MNEMONIC["setw"].opcode
OP_REWARD = isa.BY_MNEMONIC["reward"].opcode
OP_LOOP = isa.BY_MNEMONIC["loop"].opcode
OP_ENDLOOP = isa.BY_MNEMONIC["endloop"].opcode
OP_JMP = isa.BY_MNEMONIC["jmp"].opcode
OP_RESET = isa.BY_MNEMONIC["reset"].opcode
OP_MARK = isa.BY_MNEMONIC["mark"].opcode
ALL_TILES = isa.ALL_TILES
MAX_STEPS = isa.MAX_STEPS_WITHOUT_TICK
MAX_LOOP_DEPTH = isa.MAX_LOOP_DEPTH
SCHED_INJECT, SCHED_PLAY = 0, 1


@njit(cache=True, inline="always")
def _grow(a, need):
    """``a`` (fields x capacity) with room for ``need`` entries (doubling)."""
    cap = a.shape[1]
    if need <= cap:
        return a
    new_cap = max(need, 2 * cap)
    # not zeroed: only the filled part of a log is ever read, and leaving the rest
    # untouched leaves it unmapped (no page faults for it)
    b = np.empty((a.shape[0], new_cap), a.dtype)
    b[:, :cap] = a
    return b


@njit(cache=True)
def _external(tp, ti, axon, offset, cnt, arr, act_list, act_n):
    deliver(tp, ti, axon, offset, cnt, arr, act_list, act_n)


# Logging loops live in helpers: written inline in run_chunk, where the log
# arrays are loop-carried (regrown) variables, the spike log cost ~30 ns per
# spike (measured: 1.1 us of a 2.9 us crossbar tick), in a helper ~1 ns.
@njit(cache=True)
def _log_spikes(spk_log, ns, tk, t, fired_n, fired_off, noff, nf):
    d0 = spk_log[0, ns:ns + nf]
    d1 = spk_log[1, ns:ns + nf]
    d2 = spk_log[2, ns:ns + nf]
    d3 = spk_log[3, ns:ns + nf]
    fo = fired_off[noff:noff + nf]
    fn = fired_n[noff:noff + nf]
    for j in range(nf):
        d0[j] = tk
        d1[j] = fo[j]
        d2[j] = t
        d3[j] = fn[j]


@njit(cache=True)
def _make_packets(np_, tk, start, n_tiles, tp, fired_n, fired_off, fired_cnt,
                  r_start, r_tile, r_axon, pkt32, pkt64, qhead, qend):
    """Phase 5: every fired neuron's packets, in (tile, emission offset, neuron,
    route) order, appended to the packet log from index np_; returns the new end."""
    for t in range(n_tiles):
        qhead[t] = np_
        noff = tp[t, TP_NOFF]
        for j in range(fired_cnt[t]):
            n = fired_n[noff + j]
            g = noff + n
            ready = start + fired_off[noff + j]
            for e in range(r_start[g], r_start[g + 1]):
                pkt32[0, np_] = tk
                pkt32[1, np_] = t
                pkt32[2, np_] = n
                pkt32[3, np_] = r_tile[e]
                pkt32[4, np_] = r_axon[e]
                pkt32[5, np_] = 0
                pkt64[0, np_] = ready
                pkt64[1, np_] = -1
                np_ += 1
        qend[t] = np_
    return np_


@njit(cache=True)
def _log_events(inp_log, ni, ev, cur, m, tk):
    """inp_log[:, ni:ni+m] = (tk, tile, axon, offset) of events cur..cur+m-1."""
    src = ev[cur:cur + m]
    d0 = inp_log[0, ni:ni + m]
    d1 = inp_log[1, ni:ni + m]
    d2 = inp_log[2, ni:ni + m]
    d3 = inp_log[3, ni:ni + m]
    for j in range(m):
        d0[j] = tk
        d1[j] = src[j, 1]
        d2[j] = src[j, 2]
        d3[j] = src[j, 3]


@njit(cache=True)
def run_chunk(budget, tick_limit, want_hash, glob, tp, sp, code_op, code_args, blk_first, ev,
              r_start, r_tile, r_axon, xy_dir, nbr, opp, probe_t, probe_n,
              w, weff, var_e, v, u, ref, cmp_off, dval, cnt, arr, act_list, act_n,
              xtr, ytr, elig, learn, reward_r, fired_n, fired_off, fired_cnt,
              fifo, fhead, fcnt, rr, occ, qhead, qend, link_busy, fifo_peak, counters,
              seq, cnts, sched, tick_start, stall_a, dropped_a, probe_v, probe_u, hashes,
              inp_log, spk_log, pkt32, pkt64, mark_log):
    """Run the sequencer until ``budget`` ticks are done, the program ends or the
    tick limit is reached. Returns the status and the (possibly regrown) logs."""
    n_tiles = glob[G_NT]
    window = glob[G_K]
    mode = glob[G_MODE]
    depth = glob[G_D]
    sum_n = glob[G_SUMN]
    n_routes = glob[G_ROUTES]
    n_code = code_op.shape[0]
    n_probes = probe_t.shape[0]
    acc = np.zeros(256, np.int32)
    acc16 = np.zeros(256, np.int16)
    thr_noise = np.zeros(256, np.int64)
    fire = np.zeros(256, np.bool_)
    dacc = np.zeros(256, np.int64)
    gp = np.zeros(256, np.int64)
    gn = np.zeros(256, np.int64)
    fc = np.zeros(256, np.int64)
    in_p = np.zeros(256, np.int64)
    in_q = np.zeros(256, np.int64)
    mv_t = np.zeros(n_tiles * 5, np.int64)
    mv_p = np.zeros(n_tiles * 5, np.int64)
    mv_o = np.zeros(n_tiles * 5, np.int64)
    mv_pk = np.zeros(n_tiles * 5, np.int64)
    inj = np.zeros(n_tiles, np.int64)
    done = 0
    status = ST_MORE
    while True:
        if seq[SQ_RUNREM] > 0:
            if seq[SQ_TICK] >= tick_limit:
                status = ST_DONE
                break
            if done >= budget:
                status = ST_MORE
                break
            tk = seq[SQ_TICK]
            start = tick_start[tk]
            # ---- phase 1: external spikes for this tick, in scheduling order.
            # A playing block's events of this tick are one contiguous run of the
            # (dtick-sorted) block: logged with one capacity check, then delivered.
            n_s = cnts[N_SCHED]
            keep = 0
            for i in range(n_s):
                if sched[0, i] == SCHED_INJECT:
                    ti = sched[1, i]
                    ax = sched[2, i]
                    off = sched[3, i]
                    _external(tp, ti, ax, off, cnt, arr, act_list, act_n)
                    ni = cnts[N_INP]
                    inp_log = _grow(inp_log, ni + 1)
                    inp_log[0, ni] = tk
                    inp_log[1, ni] = ti
                    inp_log[2, ni] = ax
                    inp_log[3, ni] = off
                    cnts[N_INP] = ni + 1
                else:
                    dt = tk - sched[1, i]
                    cur = sched[2, i]
                    end = sched[3, i]
                    stop = cur
                    while stop < end and ev[stop, 0] == dt:
                        stop += 1
                    m = stop - cur
                    if m > 0:
                        ni = cnts[N_INP]
                        inp_log = _grow(inp_log, ni + m)
                        _log_events(inp_log, ni, ev, cur, m, tk)
                        cnts[N_INP] = ni + m
                        deliver_events(tp, ev, cur, stop, cnt, arr, act_list, act_n)
                    cur = stop
                    if cur < end:
                        sched[0, keep] = SCHED_PLAY
                        sched[1, keep] = sched[1, i]
                        sched[2, keep] = cur
                        sched[3, keep] = end
                        keep += 1
            cnts[N_SCHED] = keep
            # ---- phase 2: cores
            spk_log = _grow(spk_log, cnts[N_SPK] + sum_n)
            ns = cnts[N_SPK]
            noise_base = kc.mix32(glob[G_SB_NOISE] ^ (tk & kc.M32))
            for t in range(n_tiles):
                core = tp[t, TP_CORE]
                # the cores read w_eff: int16 weff on tiles with non-idealities, else
                # the int8 weights themselves (w_eff = w; weff is not kept for them)
                noisy = tp[t, kc.TP_NOISY] != 0
                if core == CORE_LIF:
                    if noisy:
                        lif_tile(t, tk, tp, weff, v, u, ref, cmp_off, cnt, act_list, act_n,
                                 fired_n, fired_off, fired_cnt, acc, acc16, thr_noise, fire,
                                 noise_base, counters)
                    else:
                        lif_tile(t, tk, tp, w, v, u, ref, cmp_off, cnt, act_list, act_n,
                                 fired_n, fired_off, fired_cnt, acc, acc16, thr_noise, fire,
                                 noise_base, counters)
                elif core == CORE_TDMAC:
                    if noisy:
                        tdmac_tile(t, tk, window, tp, weff, v, dval, cmp_off, arr, act_list,
                                   act_n, fired_n, fired_off, fired_cnt, dacc, gp, gn, fc,
                                   noise_base, counters)
                    else:
                        tdmac_tile(t, tk, window, tp, w, v, dval, cmp_off, arr, act_list,
                                   act_n, fired_n, fired_off, fired_cnt, dacc, gp, gn, fc,
                                   noise_base, counters)
                else:
                    continue
                nf = fired_cnt[t]
                if nf > 0:
                    _log_spikes(spk_log, ns, tk, t, fired_n, fired_off, tp[t, TP_NOFF], nf)
                    ns += nf
            cnts[N_SPK] = ns
            # ---- phase 3: probes
            for p in range(n_probes):
                t = probe_t[p]
                g = tp[t, TP_NOFF] + probe_n[p]
                if tp[t, TP_CORE] == CORE_LIF:
                    probe_v[tk, p] = v[g]
                    probe_u[tk, p] = u[g]
                else:
                    probe_v[tk, p] = dval[g]
                    probe_u[tk, p] = 0
            # ---- phase 4: learning; then the input buffers are cleared
            for t in range(n_tiles):
                if tp[t, kc.TP_STDP] != 0 and learn[t] != 0:
                    stdp_tile(t, tk, tp, sp, w, weff, var_e, xtr, ytr, elig, act_list, act_n,
                              fired_n, fired_cnt, reward_r, in_p, in_q,
                              glob[G_SB_STDP], glob[G_SB_REWARD], counters)
                reward_r[t] = 0
                aoff = tp[t, TP_AOFF]
                if tp[t, TP_CORE] == CORE_LIF:
                    for i in range(act_n[t]):
                        cnt[aoff + act_list[aoff + i]] = 0
                else:
                    for i in range(act_n[t]):
                        arr[aoff + act_list[aoff + i]] = NO_ARRIVAL
                act_n[t] = 0
            # ---- phase 5: packets, in (tile, emission offset, neuron, route) order
            np_ = cnts[N_PKT]
            if n_routes > 0:
                pkt32 = _grow(pkt32, np_ + n_routes)
                pkt64 = _grow(pkt64, np_ + n_routes)
                np_ = _make_packets(np_, tk, start, n_tiles, tp, fired_n, fired_off, fired_cnt,
                                    r_start, r_tile, r_axon, pkt32, pkt64, qhead, qend)
                cnts[N_PKT] = np_
                stall, dropped = route_tick(start, window, mode, depth, n_tiles, tp, nbr, opp,
                                            xy_dir, pkt32, pkt64, qhead, qend, fifo, fhead,
                                            fcnt, rr, occ, link_busy, fifo_peak, counters, cnt,
                                            arr, act_list, act_n, mv_t, mv_p, mv_o, mv_pk, inj)
            else:
                stall = 0
                dropped = 0
            # ---- phase 6: bookkeeping
            stall_a[tk] = stall
            dropped_a[tk] = dropped
            tick_start[tk + 1] = start + window + stall
            if want_hash:
                hashes[tk] = state_hash(n_tiles, tp, sp, w, v, u, ref, xtr, ytr, elig)
            seq[SQ_RUNREM] -= 1
            seq[SQ_TICK] = tk + 1
            seq[SQ_STEPS] = 0
            done += 1
            if seq[SQ_RUNREM] == 0:
                seq[SQ_PC] += 1
            continue

        # ---- sequencer: one instruction
        pc = seq[SQ_PC]
        if pc >= n_code:
            seq[SQ_HALTED] = 1
            status = ST_DONE
            break
        seq[SQ_STEPS] += 1
        if seq[SQ_STEPS] > MAX_STEPS:
            status = ST_ERR_STEPS
            break
        op = code_op[pc]
        a0 = code_args[pc, 0]
        if op == OP_RUN:
            seq[SQ_RUNREM] = a0
            if a0 == 0:
                seq[SQ_PC] = pc + 1
        elif op == OP_HALT:
            seq[SQ_HALTED] = 1
            status = ST_DONE
            break
        elif op == OP_INJECT or op == OP_PLAY:
            k = cnts[N_SCHED]
            if op == OP_PLAY:
                if blk_first[a0 + 1] > blk_first[a0]:
                    sched = _grow(sched, k + 1)
                    sched[0, k] = SCHED_PLAY
                    sched[1, k] = seq[SQ_TICK]
                    sched[2, k] = blk_first[a0]
                    sched[3, k] = blk_first[a0 + 1]
                    cnts[N_SCHED] = k + 1
            else:
                sched = _grow(sched, k + 1)
                sched[0, k] = SCHED_INJECT
                sched[1, k] = a0
                sched[2, k] = code_args[pc, 1]
                sched[3, k] = code_args[pc, 2]
                cnts[N_SCHED] = k + 1
            seq[SQ_PC] = pc + 1
        elif op == OP_LEARN:
            for t in range(n_tiles):
                if a0 == ALL_TILES or a0 == t:
                    learn[t] = code_args[pc, 1]
            seq[SQ_PC] = pc + 1
        elif op == OP_SETW:
            t = a0
            nn = tp[t, TP_N]
            wm = tp[t, TP_WMAXB]
            val = code_args[pc, 3]
            if val > wm:
                val = wm
            elif val < -wm:
                val = -wm
            idx = tp[t, TP_WOFF] + code_args[pc, 1] * nn + code_args[pc, 2]
            set_weight(tp, t, idx, val, w, weff, var_e)
            if val < sp[t, kc.SP_LO] or val > sp[t, kc.SP_HI]:
                tp[t, kc.TP_INRANGE] = 0
            seq[SQ_PC] = pc + 1
        elif op == OP_REWARD:
            for t in range(n_tiles):
                if a0 == ALL_TILES or a0 == t:
                    reward_r[t] = code_args[pc, 1]
            seq[SQ_PC] = pc + 1
        elif op == OP_LOOP:
            sp_ = seq[SQ_SP]
            if sp_ >= MAX_LOOP_DEPTH:
                status = ST_ERR_LOOP_DEEP
                break
            seq[SQ_STACK + sp_] = a0
            seq[SQ_SP] = sp_ + 1
            seq[SQ_PC] = pc + 1
        elif op == OP_ENDLOOP:
            sp_ = seq[SQ_SP]
            if sp_ == 0:
                status = ST_ERR_ENDLOOP
                break
            seq[SQ_STACK + sp_ - 1] -= 1
            if seq[SQ_STACK + sp_ - 1] != 0:
                seq[SQ_PC] = a0
            else:
                seq[SQ_SP] = sp_ - 1
                seq[SQ_PC] = pc + 1
        elif op == OP_JMP:
            seq[SQ_PC] = a0
        elif op == OP_RESET:
            for t in range(n_tiles):
                if (a0 == ALL_TILES or a0 == t) and tp[t, TP_CORE] != 0:
                    noff = tp[t, TP_NOFF]
                    for n in range(tp[t, TP_N]):
                        v[noff + n] = 0
                        u[noff + n] = 0
                        ref[noff + n] = 0
            seq[SQ_PC] = pc + 1
        elif op == OP_MARK:
            m = cnts[N_MARK]
            mark_log = _grow(mark_log, m + 1)
            mark_log[0, m] = seq[SQ_TICK]
            mark_log[1, m] = a0
            cnts[N_MARK] = m + 1
            seq[SQ_PC] = pc + 1
        else:
            seq[SQ_PC] = pc + 1
    return status, sched, inp_log, spk_log, pkt32, pkt64, mark_log


# ---------------------------------------------------------------------------
# numba's on-disk cache keys a function on its own file only: run_chunk's cached
# machine code embeds the kernels it calls, so an edit to kernels_*.py alone would
# leave a stale run_chunk. Fingerprint all three sources and drop the cache when
# they change.
# ---------------------------------------------------------------------------
def _guard_cache():
    import glob
    import os
    from emulator.backends import kernels_router
    mods = (kc, kernels_router)
    try:
        h = hashlib.sha256()
        for path in [m.__file__ for m in mods] + [__file__]:
            with open(path, "rb") as fh:
                h.update(fh.read())
        digest = h.hexdigest()
        cache_dirs = {f._cache._cache_path for f in (run_chunk, kc.lif_tile, route_tick)}
        for d in cache_dirs:
            stamp = os.path.join(d, "neurotile_kernels.sha256")
            try:
                with open(stamp) as fh:
                    if fh.read().strip() == digest:
                        continue
            except OSError:
                pass
            for stem in ("numba_backend", "kernels_core", "kernels_router"):
                for f in glob.glob(os.path.join(d, stem + ".*.nb[ic]")):
                    try:
                        os.remove(f)
                    except OSError:
                        pass
            os.makedirs(d, exist_ok=True)
            with open(stamp, "w") as fh:
                fh.write(digest + "\n")
    except (OSError, AttributeError):     # read-only install or a numba without these
        pass


_guard_cache()


# ---------------------------------------------------------------------------
# host side: build the flat state, drive the chunks, assemble the trace
# ---------------------------------------------------------------------------
def _py_mix32(h):
    h ^= h >> 16
    h = (h * isa.RNG_MUL1) & 0xFFFFFFFF
    h ^= h >> 13
    h = (h * isa.RNG_MUL2) & 0xFFFFFFFF
    h ^= h >> 16
    return h


def _stream_base(seed, stream):
    return _py_mix32((seed + stream * isa.RNG_GOLDEN) & 0xFFFFFFFF)


def _draw_array(base, b):
    """Vectorised draw(stream, 0, b) for an int64 array b (host-side, load time)."""
    b = b.astype(np.uint64)
    m = np.uint64(0xFFFFFFFF)

    def mix(h):
        h = h ^ (h >> np.uint64(16))
        h = (h * np.uint64(isa.RNG_MUL1)) & m
        h = h ^ (h >> np.uint64(13))
        h = (h * np.uint64(isa.RNG_MUL2)) & m
        h = h ^ (h >> np.uint64(16))
        return h
    first = np.uint64(_py_mix32(base ^ 0))
    return mix(first ^ b).astype(np.int64)


class _Chip:
    """The flat arrays of one run (host side)."""

    def __init__(self, prog, seed, n_ticks, want_hash):
        ch = prog.chip
        self.w_mesh, self.h_mesh = ch["mesh_w"], ch["mesh_h"]
        nt = self.n_tiles = self.w_mesh * self.h_mesh
        self.window = ch["window"]
        tp = np.zeros((nt, TP_COLS), np.int64)
        sp = np.zeros((nt, SP_COLS), np.int64)
        woff = aoff = noff = eoff = 0
        w_offsets = [0]
        n_offsets = [0]
        for t, tile in enumerate(prog.tiles):
            if tile is not None:
                p = tile.params
                tp[t, TP_CORE] = p["core"]
                tp[t, TP_A] = p["axons"]
                tp[t, TP_N] = p["neurons"]
                for col, name in ((kc.TP_VTH, "vth"), (kc.TP_BIAS, "bias"), (kc.TP_DU, "du"),
                                  (kc.TP_DV, "dv"), (kc.TP_REFR, "refractory"),
                                  (kc.TP_RESET, "reset"), (kc.TP_WSHIFT, "wshift"),
                                  (kc.TP_CHARGE, "charge"), (kc.TP_THETA, "theta"),
                                  (kc.TP_TIN, "t_in"), (kc.TP_RAMP, "ramp"),
                                  (kc.TP_RCSHIFT, "rc_shift"), (kc.TP_RAIL, "rail"),
                                  (kc.TP_QUANT, "quant"), (kc.TP_VAR, "variation"),
                                  (kc.TP_CMPOFF, "cmp_offset"), (kc.TP_CMPNOISE, "cmp_noise")):
                    tp[t, col] = p[name]
                tp[t, TP_WMAXB] = tile.wmax
                tp[t, kc.TP_NOISY] = 1 if (p["quant"] or p["variation"]) else 0
                if tile.stdp is not None and p["core"] == CORE_LIF:
                    s = tile.stdp
                    tp[t, kc.TP_STDP] = 1
                    sp[t, kc.SP_MODE] = s["mode"]
                    sp[t, kc.SP_PREINC] = s["pre_inc"]
                    sp[t, kc.SP_POSTINC] = s["post_inc"]
                    sp[t, kc.SP_PRESHIFT] = s["pre_shift"]
                    sp[t, kc.SP_POSTSHIFT] = s["post_shift"]
                    sp[t, kc.SP_APLUS] = s["a_plus"]
                    sp[t, kc.SP_AMINUS] = s["a_minus"]
                    sp[t, kc.SP_F] = s["frac_bits"]
                    sp[t, kc.SP_STOCH] = s["stochastic"]
                    sp[t, kc.SP_LO] = max(s["wmin"], -tile.wmax)
                    sp[t, kc.SP_HI] = min(s["wmax"], tile.wmax)
                    sp[t, kc.SP_ESHIFT] = s["elig_shift"]
                    sp[t, kc.SP_RSHIFT] = s["reward_shift"]
                    if s["mode"] != isa.STDP_PAIR:
                        tp[t, kc.TP_EOFF] = eoff
                        eoff += p["axons"] * p["neurons"]
            tp[t, TP_WOFF] = woff
            tp[t, TP_NOFF] = noff
            tp[t, TP_AOFF] = aoff
            woff += tp[t, TP_A] * tp[t, TP_N]
            noff += tp[t, TP_N]
            aoff += tp[t, TP_A]
            w_offsets.append(woff)
            n_offsets.append(noff)
        self.tp, self.sp = tp, sp
        self.w_offsets = np.array(w_offsets, np.int64)
        self.n_offsets = np.array(n_offsets, np.int64)
        sum_w, sum_n, sum_a = woff, noff, aoff

        self.w = np.zeros(max(sum_w, 1), np.int8)
        # w_eff and the device variation exist only on tiles with non-idealities
        any_noisy = bool(tp[:, kc.TP_NOISY].any())
        self.var_e = np.zeros(max(sum_w, 1) if any_noisy else 1, np.int8)
        self.weff = np.zeros(max(sum_w, 1) if any_noisy else 1, np.int16)
        self.cmp_off = np.zeros(max(sum_n, 1), np.int64)
        sb_var = _stream_base(seed, isa.STREAM_VARIATION)
        sb_cmp = _stream_base(seed, isa.STREAM_CMP_OFFSET)
        for t, tile in enumerate(prog.tiles):
            if tile is None:
                continue
            a_, n_ = tile.axons, tile.neurons
            sl = slice(tp[t, TP_WOFF], tp[t, TP_WOFF] + a_ * n_)
            wt = np.asarray(tile.weights, np.int64).reshape(-1)
            self.w[sl] = wt
            p = tile.params
            if p["variation"]:
                k = np.repeat(np.arange(a_, dtype=np.int64), n_)
                n = np.tile(np.arange(n_, dtype=np.int64), a_)
                r = _draw_array(sb_var, (t << 16) | (k << 8) | n)
                s = p["variation"]
                self.var_e[sl] = (r % (2 * s + 1)) - s
            if p["cmp_offset"]:
                a = p["cmp_offset"]
                r = _draw_array(sb_cmp, (t << 16) | np.arange(n_, dtype=np.int64))
                self.cmp_off[tp[t, TP_NOFF]:tp[t, TP_NOFF] + n_] = (r % (2 * a + 1)) - a
            if tp[t, kc.TP_NOISY]:
                self.weff[sl] = _host_weff(wt, p["quant"], tile.wmax, p["variation"],
                                           self.var_e[sl].astype(np.int64))
            if tp[t, kc.TP_STDP] and wt.size:
                tp[t, kc.TP_INRANGE] = int(sp[t, kc.SP_LO] <= wt.min() and wt.max() <= sp[t, kc.SP_HI])
        self.w_init = self.w[:sum_w].copy()

        # routes, flattened per global neuron index
        r_start = np.zeros(sum_n + 1, np.int64)
        r_tile, r_axon = [], []
        g = 0
        for t, tile in enumerate(prog.tiles):
            if tile is None:
                continue
            for dests in tile.routes:
                for dt, ax in dests:
                    r_tile.append(dt)
                    r_axon.append(ax)
                g += 1
                r_start[g] = len(r_tile)
        self.r_start = r_start
        self.r_tile = np.array(r_tile, np.int64) if r_tile else np.zeros(1, np.int64)
        self.r_axon = np.array(r_axon, np.int64) if r_axon else np.zeros(1, np.int64)
        n_routes = len(r_tile)

        # mesh geometry: neighbour per output port and the XY output port per destination
        W, H = self.w_mesh, self.h_mesh
        nbr = np.full((nt, 5), -1, np.int64)
        xy = np.zeros((nt, nt), np.int64)
        for t in range(nt):
            x, y = t % W, t // W
            if y > 0:
                nbr[t, isa.PORT_NORTH] = t - W
            if x < W - 1:
                nbr[t, isa.PORT_EAST] = t + 1
            if y < H - 1:
                nbr[t, isa.PORT_SOUTH] = t + W
            if x > 0:
                nbr[t, isa.PORT_WEST] = t - 1
            for d in range(nt):
                dx, dy = d % W, d // W
                if dx > x:
                    xy[t, d] = isa.PORT_EAST
                elif dx < x:
                    xy[t, d] = isa.PORT_WEST
                elif dy > y:
                    xy[t, d] = isa.PORT_SOUTH
                elif dy < y:
                    xy[t, d] = isa.PORT_NORTH
                else:
                    xy[t, d] = isa.PORT_LOCAL
        self.nbr, self.xy = nbr, xy
        self.opp = np.array([0, isa.PORT_SOUTH, isa.PORT_WEST, isa.PORT_NORTH, isa.PORT_EAST],
                            np.int64)

        # program and spike blocks
        code = prog.code
        self.code_op = np.array([isa.BY_MNEMONIC[m].opcode for m, _ in code], np.int64)
        self.code_args = np.zeros((max(len(code), 1), 4), np.int64)
        for i, (_, ops) in enumerate(code):
            for j, o in enumerate(ops):
                self.code_args[i, j] = int(o)
        firsts = [0]
        evs = []
        for blk in prog.blocks:
            b = np.asarray(blk, np.int64).reshape(-1, 4)
            evs.append(b)
            firsts.append(firsts[-1] + len(b))
        self.blk_first = np.array(firsts, np.int64)
        # events as rows (dtick, tile, axon, offset), as the blocks hold them: one
        # block is used as it is (no copy; the kernels only read it). Always a
        # writeable C-contiguous int64 array: a read-only one would be another
        # numba signature, i.e. a fresh compile of run_chunk.
        if not firsts[-1]:
            self.ev = np.zeros((1, 4), np.int64)
        elif len(evs) == 1:
            self.ev = np.require(evs[0], np.int64, ["C", "W"])
        else:
            self.ev = np.concatenate(evs)

        self.probe_t = np.array([p[0] for p in prog.probes], np.int64)
        self.probe_n = np.array([p[1] for p in prog.probes], np.int64)

        # state
        self.v = np.zeros(max(sum_n, 1), np.int64)
        self.u = np.zeros(max(sum_n, 1), np.int64)
        self.ref = np.zeros(max(sum_n, 1), np.int64)
        self.dval = np.zeros(max(sum_n, 1), np.int64)
        self.cnt = np.zeros(max(sum_a, 1), np.int64)
        self.arr = np.full(max(sum_a, 1), NO_ARRIVAL, np.int64)
        self.act_list = np.zeros(max(sum_a, 1), np.int64)
        self.act_n = np.zeros(nt, np.int64)
        self.xtr = np.zeros(max(sum_a, 1), np.int64)
        self.ytr = np.zeros(max(sum_n, 1), np.int64)
        self.elig = np.zeros(max(eoff, 1), np.int16)
        self.learn = np.array([1 if (tl is not None and tl.stdp is not None and tl.stdp["enabled"])
                               else 0 for tl in prog.tiles], np.int64)
        self.reward_r = np.zeros(nt, np.int64)
        self.fired_n = np.zeros(max(sum_n, 1), np.int64)
        self.fired_off = np.zeros(max(sum_n, 1), np.int64)
        self.fired_cnt = np.zeros(nt, np.int64)
        depth = ch["fifo_depth"]
        self.fifo = np.zeros(nt * 5 * depth, np.int64)
        self.fhead = np.zeros(nt * 5, np.int64)
        self.fcnt = np.zeros(nt * 5, np.int64)
        # round-robin pointers start at W (port 4), so the first scan begins at L
        self.rr = np.full(nt * 5, isa.N_PORTS - 1, np.int64)
        self.occ = np.zeros(nt, np.int64)
        self.qhead = np.zeros(nt, np.int64)
        self.qend = np.zeros(nt, np.int64)
        self.link_busy = np.zeros((nt, 5), np.int64)
        self.fifo_peak = np.zeros((nt, 5), np.int64)
        self.counters = np.zeros((5, nt), np.int64)
        self.seq = np.zeros(SQ_LEN, np.int64)
        self.cnts = np.zeros(5, np.int64)
        self.sched = np.zeros((4, 16), np.int64)
        self.tick_start = np.zeros(n_ticks + 1, np.int64)
        self.stall = np.zeros(max(n_ticks, 1), np.int64)
        self.dropped = np.zeros(max(n_ticks, 1), np.int64)
        n_pr = len(prog.probes)
        self.probe_v = np.zeros((max(n_ticks, 1), n_pr), np.int32)
        self.probe_u = np.zeros((max(n_ticks, 1), n_pr), np.int32)
        self.hashes = np.zeros(max(n_ticks, 1) if want_hash else 1, np.int64)
        # Room for every block event played once, and for every neuron firing (every
        # route sending) on every tick up to LOG_RESERVE entries: no regrowing in the
        # usual case. Only the filled part is ever touched (see _log_buffer).
        self.inp_log = _log_buffer(4, max(64, firsts[-1]), np.int32)
        n_lim = max(n_ticks, 1)
        self.spk_log = _log_buffer(4, max(64, sum_n, min(sum_n * n_lim, LOG_RESERVE)), np.int32)
        pcap = max(64, n_routes, min(n_routes * n_lim, LOG_RESERVE // 2))
        self.pkt32 = _log_buffer(6, pcap, np.int32)
        self.pkt64 = _log_buffer(2, pcap, np.int64)
        self.mark_log = np.zeros((2, 16), np.int64)
        self.glob = np.zeros(G_LEN, np.int64)
        self.glob[G_W], self.glob[G_H] = W, H
        self.glob[G_K] = self.window
        self.glob[G_MODE] = ch["router_mode"]
        self.glob[G_D] = depth
        self.glob[G_NT] = nt
        self.glob[G_SUMN] = sum_n
        self.glob[G_ROUTES] = n_routes
        self.glob[G_SB_NOISE] = _stream_base(seed, isa.STREAM_CMP_NOISE)
        self.glob[G_SB_STDP] = _stream_base(seed, isa.STREAM_STDP)
        self.glob[G_SB_REWARD] = _stream_base(seed, isa.STREAM_REWARD)

    def chunk(self, budget, tick_limit, want_hash):
        out = run_chunk(
            budget, tick_limit, want_hash, self.glob, self.tp, self.sp, self.code_op,
            self.code_args, self.blk_first, self.ev, self.r_start, self.r_tile, self.r_axon,
            self.xy, self.nbr, self.opp, self.probe_t, self.probe_n,
            self.w, self.weff, self.var_e, self.v, self.u, self.ref, self.cmp_off, self.dval,
            self.cnt, self.arr, self.act_list, self.act_n, self.xtr, self.ytr, self.elig,
            self.learn, self.reward_r, self.fired_n, self.fired_off, self.fired_cnt,
            self.fifo, self.fhead, self.fcnt, self.rr, self.occ, self.qhead, self.qend,
            self.link_busy, self.fifo_peak, self.counters, self.seq, self.cnts, self.sched,
            self.tick_start, self.stall, self.dropped, self.probe_v, self.probe_u, self.hashes,
            self.inp_log, self.spk_log, self.pkt32, self.pkt64, self.mark_log)
        (status, self.sched, self.inp_log, self.spk_log, self.pkt32, self.pkt64,
         self.mark_log) = out
        return status


# Largest log reservation, in entries (spikes; half for packets): 64 MB of address
# space for the spike log, of which only the filled part becomes memory.
LOG_RESERVE = 1 << 22
_HUGE = 1 << 21


def _log_buffer(rows, cap, dtype):
    """A zeroed ``(rows, cap)`` log. The logs are written once, front to back, and
    are new memory on every run (the trace keeps them): with 4 KiB pages every
    page's first write is a page fault, about 3 us each on the development VM,
    i.e. 10-15 ms of a 40 ms crossbar run (measured: 4,000 faults per run). So a
    log of 2 MiB or more is an anonymous mapping advised to use 2 MiB pages
    (MADV_HUGEPAGE; the kernel falls back to small pages when it has none), and
    only its filled part is ever touched."""
    nbytes = rows * cap * np.dtype(dtype).itemsize
    if nbytes >= _HUGE and _MADV_HUGEPAGE is not None:
        try:
            # whole 2 MiB pages from a 2 MiB boundary: the kernel gives huge pages
            # to aligned 2 MiB ranges only (an unaligned start left the first rows
            # on small pages: 500-800 faults per crossbar run, measured)
            size = -(-nbytes // _HUGE) * _HUGE + _HUGE
            m = mmap.mmap(-1, size, flags=mmap.MAP_PRIVATE | mmap.MAP_ANONYMOUS)
            m.madvise(_MADV_HUGEPAGE)
            raw = np.frombuffer(m, np.uint8)
            pad = -raw.ctypes.data % _HUGE
            return raw[pad:pad + nbytes].view(dtype).reshape(rows, cap)
        except (OSError, ValueError, AttributeError):
            pass
    return np.zeros((rows, cap), dtype)


_MADV_HUGEPAGE = getattr(mmap, "MADV_HUGEPAGE", None)


def _host_weff(wt, quant, wmaxb, variation, e):
    wq = wt.copy()
    if quant:
        g = np.abs(wt)
        l1 = quant - 1
        level = (2 * g * l1 + wmaxb) // (2 * wmaxb)
        gq = (2 * level * wmaxb + l1) // (2 * l1)
        wq = np.where(wt >= 0, gq, -gq)
    if variation:
        wq = wq + ((wq * e) >> isa.VARIATION_DEN_SHIFT)
    return wq


_ERRORS = {
    ST_ERR_STEPS: "sequencer loops without `run`: more than %d instructions without a tick "
                  "(at instruction %%d)" % MAX_STEPS,
    ST_ERR_LOOP_DEEP: "loops nested deeper than %d at run time (instruction %%d)" % MAX_LOOP_DEPTH,
    ST_ERR_ENDLOOP: "endloop without a running loop (instruction %d)",
}


def run(prog, image_bytes, ticks=None, seed=None, state_hash=False, progress=None,
        chunk_seconds=0.25, chunk_ticks=None):
    """Run ``prog`` (decoded from ``image_bytes``) and return its :class:`Trace`.

    ``ticks`` caps the run (needed for programs with `jmp`); the run ends when the
    program halts or ``ticks`` ticks have run, whichever comes first. ``seed``
    overrides the chip's seed. ``progress(done, total)`` is called between
    chunks. ``chunk_ticks`` fixes the chunk size (tests); by default chunks are
    sized to take about ``chunk_seconds``.
    """
    static = prog.static_ticks()
    if ticks is None and static is None:
        raise RunError("the program can run forever (it uses `jmp`): give a number of ticks")
    if ticks is not None and ticks < 0:
        raise RunError("ticks must be >= 0, not %d" % ticks)
    limit = static if ticks is None else (ticks if static is None else min(ticks, static))
    seed = prog.chip["seed"] if seed is None else int(seed) & 0xFFFFFFFF
    chip = _Chip(prog, seed, limit, bool(state_hash))
    want_hash = bool(state_hash)
    done = 0
    budget = chunk_ticks or 16
    while True:
        t0 = time.perf_counter()
        status = chip.chunk(budget, limit, want_hash)
        dt = time.perf_counter() - t0
        now = int(chip.seq[SQ_TICK])
        ran = now - done
        done = now
        if status < 0:
            raise RunError(_ERRORS[status] % int(chip.seq[SQ_PC]))
        if progress is not None:
            progress(done, limit)
        if status == ST_DONE:
            break
        if chunk_ticks is None and ran > 0:
            budget = int(min(max(1, ran * chunk_seconds / max(dt, 1e-6)), budget * 8, 1 << 30))
    return _build_trace(prog, image_bytes, seed, chip, done, want_hash)


def _build_trace(prog, image_bytes, seed, chip, n_ticks, want_hash):
    c = chip.cnts
    ni, ns, npk, nm = int(c[N_INP]), int(c[N_SPK]), int(c[N_PKT]), int(c[N_MARK])
    sum_w = int(chip.w_offsets[-1])
    sum_n = int(chip.n_offsets[-1])
    is_lif = np.zeros(sum_n, bool)
    for t in range(chip.n_tiles):
        if chip.tp[t, TP_CORE] == CORE_LIF:
            is_lif[chip.n_offsets[t]:chip.n_offsets[t + 1]] = True
    u_final = np.where(is_lif, chip.u[:sum_n], 0)
    i32 = np.int32
    # the logs' rows are handed over as views (contiguous; the chip is dropped after)
    arrays = {
        "tick_start": chip.tick_start[:n_ticks + 1].copy(),
        "stall": chip.stall[:n_ticks].copy(),
        "dropped": chip.dropped[:n_ticks].copy(),
        "spk_tick": chip.spk_log[0, :ns],
        "spk_offset": chip.spk_log[1, :ns],
        "spk_tile": chip.spk_log[2, :ns],
        "spk_neuron": chip.spk_log[3, :ns],
        "inp_tick": chip.inp_log[0, :ni],
        "inp_tile": chip.inp_log[1, :ni],
        "inp_axon": chip.inp_log[2, :ni],
        "inp_offset": chip.inp_log[3, :ni],
        "pkt_tick": chip.pkt32[0, :npk],
        "pkt_src_tile": chip.pkt32[1, :npk],
        "pkt_src_neuron": chip.pkt32[2, :npk],
        "pkt_dst_tile": chip.pkt32[3, :npk],
        "pkt_dst_axon": chip.pkt32[4, :npk],
        "pkt_ready": chip.pkt64[0, :npk],
        "pkt_arrive": chip.pkt64[1, :npk],
        "pkt_hops": chip.pkt32[5, :npk],
        "link_busy": chip.link_busy.copy(),
        "fifo_peak": chip.fifo_peak.astype(i32),
        "probe_tile": chip.probe_t.astype(i32),
        "probe_neuron": chip.probe_n.astype(i32),
        "probe_v": chip.probe_v[:n_ticks].copy(),
        "probe_u": chip.probe_u[:n_ticks].copy(),
        "mark_tick": chip.mark_log[0, :nm].astype(i32),
        "mark_id": chip.mark_log[1, :nm].astype(i32),
        "w_init": chip.w_init,
        "w_final": chip.w[:sum_w].copy(),
        "w_offsets": chip.w_offsets.copy(),
        "v_final": chip.v[:sum_n].astype(i32),
        "u_final": u_final.astype(i32),
        "n_offsets": chip.n_offsets.copy(),
        "cnt_syn_events": chip.counters[kc.C_SYN].copy(),
        "cnt_mac_ops": chip.counters[kc.C_MAC].copy(),
        "cnt_neuron_updates": chip.counters[C_NEURON].copy(),
        "cnt_stdp_updates": chip.counters[kc.C_STDP].copy(),
        "cnt_hops": chip.counters[kc.C_HOPS].copy(),
        "state_hash": chip.hashes[:n_ticks].copy() if want_hash else np.zeros(0, np.int64),
    }
    if len(prog.probes) == 0:
        arrays["probe_v"] = np.zeros((n_ticks, 0), i32)
        arrays["probe_u"] = np.zeros((n_ticks, 0), i32)
    arrays = {k: np.asarray(arrays[k], dtype=ARRAYS[k]) for k in ARRAYS}
    meta = build_meta(prog, image_bytes, BACKEND_NAME, seed, n_ticks, int(chip.tick_start[n_ticks]))
    return Trace(arrays, meta)


def warmup():
    """Compile (or load from the cache) the kernels by running a one-tick program."""
    from emulator import image
    prog = image.new_program(1, 1)
    prog.tiles[0] = image.new_tile("lif", 1, 1)
    prog.code = [("run", (1,))]
    run(prog, image.encode(prog))


__all__ = ["run", "warmup", "BACKEND_NAME"]
