"""numba kernel of the mesh router (docs/SPEC.md section 9), one tick at a time.

Packets live in the packet log (``pkt32[field, i]``, ``pkt64[field, i]``); the
router moves packet indices only. Each tile's output queue for the tick is the
contiguous log range ``qhead[t] .. qend[t]`` (packets are logged in tick, source
tile, queue order, exactly the order the queue holds them). Input FIFOs are ring
buffers ``fifo[(tile * 5 + port) * depth + slot]``.

A cycle is computed in two passes so that every decision reads the state at the
start of the cycle: pass A picks the grants and injections, pass B applies them
(all pops first, then pushes, so a FIFO's count after its push is its
end-of-cycle occupancy, which is what ``fifo_peak`` records). Cycles in which no
FIFO holds a packet and no queued packet is ready are skipped.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emulator import isa
from emulator.backends.kernels_core import (C_HOPS, CORE_LIF, NO_ARRIVAL, SPIKE_COUNT_MAX,
                                             TP_AOFF, TP_CORE, TP_TIN)

# packet log fields
P_TICK, P_SRC_T, P_SRC_N, P_DST_T, P_DST_A, P_HOPS = 0, 1, 2, 3, 4, 5
P_READY, P_ARRIVE = 0, 1
N_PORTS = isa.N_PORTS
ROUTER_FIXED = isa.ROUTER_FIXED


@njit(cache=True)
def deliver(tp, ti, axon, payload, cnt, arr, act_list, act_n):
    """Put one spike into tile ti's input buffer (SPEC 5 phase 1, SPEC 9 step 3).

    For single spikes only: in loops the body is written out (deliver_events, the
    ejection in route_tick), since a call with array arguments costs an NRT
    incref/decref pair per array (~40 ns here, 10x the work itself)."""
    ab = tp[ti, TP_AOFF] + axon
    if tp[ti, TP_CORE] == CORE_LIF:
        c = cnt[ab]
        if c == 0:
            act_list[tp[ti, TP_AOFF] + act_n[ti]] = axon
            act_n[ti] += 1
        if c < SPIKE_COUNT_MAX:
            cnt[ab] = c + 1
    else:
        a = arr[ab]
        if a == NO_ARRIVAL:
            act_list[tp[ti, TP_AOFF] + act_n[ti]] = axon
            act_n[ti] += 1
        if payload < a:
            arr[ab] = payload


@njit(cache=True)
def deliver_events(tp, ev, cur, stop, cnt, arr, act_list, act_n):
    """deliver() for the events ev[cur:stop] (rows dtick, tile, axon, offset)."""
    for e in range(cur, stop):
        ti = ev[e, 1]
        axon = ev[e, 2]
        payload = ev[e, 3]
        aoff = tp[ti, TP_AOFF]
        ab = aoff + axon
        if tp[ti, TP_CORE] == CORE_LIF:
            c = cnt[ab]
            if c == 0:
                act_list[aoff + act_n[ti]] = axon
                act_n[ti] += 1
            if c < SPIKE_COUNT_MAX:
                cnt[ab] = c + 1
        else:
            a = arr[ab]
            if a == NO_ARRIVAL:
                act_list[aoff + act_n[ti]] = axon
                act_n[ti] += 1
            if payload < a:
                arr[ab] = payload


@njit(cache=True)
def route_tick(start_cycle, window, mode, depth, n_tiles, tp, nbr, opp, xy_dir,
               pkt32, pkt64, qhead, qend, fifo, fhead, fcnt, rr, occ,
               link_busy, fifo_peak, counters, cnt, arr, act_list, act_n,
               mv_t, mv_p, mv_o, mv_pk, inj):
    """Run the router for one tick. Returns (stall cycles, dropped packets)."""
    queued = 0
    for t in range(n_tiles):
        queued += qend[t] - qhead[t]
    in_net = 0
    c = 0
    req = np.full(N_PORTS, -1, np.int64)
    while in_net + queued > 0:
        if in_net == 0:
            # nothing in any FIFO: jump to the first cycle a queued packet is ready
            first = 1 << 62
            for t in range(n_tiles):
                if qhead[t] < qend[t]:
                    r = pkt64[P_READY, qhead[t]] - start_cycle
                    if r < first:
                        first = r
            if first > c:
                c = first
        if mode == ROUTER_FIXED and c >= window:
            break
        # ---- pass A: grants and injections from the start-of-cycle state
        nm = 0
        n_inj = 0
        for t in range(n_tiles):
            base = t * N_PORTS
            if occ[t] > 0:
                for p in range(N_PORTS):
                    q = base + p
                    if fcnt[q] > 0:
                        pk = fifo[q * depth + fhead[q]]
                        req[p] = xy_dir[t, pkt32[P_DST_T, pk]]
                    else:
                        req[p] = -1
                for o in range(N_PORTS):
                    if o != 0:
                        nt = nbr[t, o]
                        if nt < 0 or fcnt[nt * N_PORTS + opp[o]] >= depth:
                            continue        # no credit: nothing granted, pointer stays
                    ptr = rr[base + o]
                    for i in range(1, N_PORTS + 1):
                        p = (ptr + i) % N_PORTS
                        if req[p] == o:
                            rr[base + o] = p
                            mv_t[nm] = t
                            mv_p[nm] = p
                            mv_o[nm] = o
                            nm += 1
                            break
            h = qhead[t]
            if h < qend[t] and pkt64[P_READY, h] - start_cycle <= c and fcnt[base] < depth:
                inj[n_inj] = t
                n_inj += 1
        # ---- pass B: pops, then pushes and ejections, then injections
        for i in range(nm):
            q = mv_t[i] * N_PORTS + mv_p[i]
            mv_pk[i] = fifo[q * depth + fhead[q]]
            fhead[q] += 1
            if fhead[q] == depth:
                fhead[q] = 0
            fcnt[q] -= 1
            occ[mv_t[i]] -= 1
        for i in range(nm):
            t = mv_t[i]
            o = mv_o[i]
            pk = mv_pk[i]
            link_busy[t, o] += 1
            if o == 0:
                pkt64[P_ARRIVE, pk] = start_cycle + c
                in_net -= 1
                src = pkt32[P_SRC_T, pk]
                payload = 0
                if tp[src, TP_CORE] != CORE_LIF:
                    payload = pkt64[P_READY, pk] - start_cycle - tp[src, TP_TIN]
                # deliver(), written out (see there)
                axon = pkt32[P_DST_A, pk]
                aoff = tp[t, TP_AOFF]
                ab = aoff + axon
                if tp[t, TP_CORE] == CORE_LIF:
                    cc = cnt[ab]
                    if cc == 0:
                        act_list[aoff + act_n[t]] = axon
                        act_n[t] += 1
                    if cc < SPIKE_COUNT_MAX:
                        cnt[ab] = cc + 1
                else:
                    a = arr[ab]
                    if a == NO_ARRIVAL:
                        act_list[aoff + act_n[t]] = axon
                        act_n[t] += 1
                    if payload < a:
                        arr[ab] = payload
            else:
                nt = nbr[t, o]
                q = nt * N_PORTS + opp[o]
                slot = fhead[q] + fcnt[q]
                if slot >= depth:
                    slot -= depth
                fifo[q * depth + slot] = pk
                fcnt[q] += 1
                occ[nt] += 1
                if fcnt[q] > fifo_peak[nt, opp[o]]:
                    fifo_peak[nt, opp[o]] = fcnt[q]
                pkt32[P_HOPS, pk] += 1
                counters[C_HOPS, t] += 1
        for i in range(n_inj):
            t = inj[i]
            pk = qhead[t]
            qhead[t] += 1
            queued -= 1
            in_net += 1
            q = t * N_PORTS
            slot = fhead[q] + fcnt[q]
            if slot >= depth:
                slot -= depth
            fifo[q * depth + slot] = pk
            fcnt[q] += 1
            occ[t] += 1
            if fcnt[q] > fifo_peak[t, 0]:
                fifo_peak[t, 0] = fcnt[q]
        c += 1
    dropped = 0
    stall = 0
    if in_net + queued > 0:
        # fixed mode, end of window: everything still in the network is late
        dropped = in_net + queued
        for t in range(n_tiles):
            qhead[t] = qend[t]
            occ[t] = 0
            for p in range(N_PORTS):
                fcnt[t * N_PORTS + p] = 0
                fhead[t * N_PORTS + p] = 0
    elif c > window:
        stall = c - window
    return stall, dropped
