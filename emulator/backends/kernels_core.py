"""numba kernels of the fast backend: generator, device noise, LIF and TD-MAC cores, STDP.

Everything here works on the flat state of :mod:`emulator.backends.numba_backend`:
per-tile parameters in one int64 table ``tp[tile, TP_*]`` (STDP parameters in
``sp[tile, SP_*]``), crossbars packed into one array per quantity with per-tile
offsets (weights axon-major: crossing ``(k, n)`` of tile ``t`` is at
``tp[t, TP_WOFF] + k * N + n``), neurons and axons likewise (``TP_NOFF``,
``TP_AOFF``). The semantics are docs/SPEC.md sections 6, 7, 8, 10 and 12, bit for
bit; comments here only explain how the loops are arranged for speed.
"""

from __future__ import annotations

import numpy as np
from numba import njit

from emulator import isa

# ---------------------------------------------------------------------------
# column indices of the per-tile parameter tables
# ---------------------------------------------------------------------------
TP_CORE, TP_A, TP_N, TP_WOFF, TP_NOFF, TP_AOFF = 0, 1, 2, 3, 4, 5
TP_VTH, TP_BIAS, TP_DU, TP_DV, TP_REFR, TP_RESET, TP_WSHIFT = 6, 7, 8, 9, 10, 11, 12
TP_CHARGE, TP_THETA, TP_TIN, TP_RAMP, TP_RCSHIFT, TP_RAIL = 13, 14, 15, 16, 17, 18
TP_QUANT, TP_VAR, TP_CMPOFF, TP_CMPNOISE, TP_WMAXB, TP_NOISY = 19, 20, 21, 22, 23, 24
TP_STDP, TP_EOFF, TP_INRANGE = 25, 26, 27
TP_COLS = 28

SP_MODE, SP_PREINC, SP_POSTINC, SP_PRESHIFT, SP_POSTSHIFT = 0, 1, 2, 3, 4
SP_APLUS, SP_AMINUS, SP_F, SP_STOCH, SP_LO, SP_HI, SP_ESHIFT, SP_RSHIFT = 5, 6, 7, 8, 9, 10, 11, 12
SP_COLS = 13

# energy counters, rows of ``counters[C_*, tile]``
C_SYN, C_MAC, C_NEURON, C_STDP, C_HOPS = 0, 1, 2, 3, 4

CORE_LIF = isa.CORE_LIF
CORE_TDMAC = isa.CORE_TDMAC
CHARGE_RC = isa.CHARGE_RC
RESET_ZERO = isa.RESET_ZERO
STDP_PAIR = isa.STDP_PAIR
NO_ARRIVAL = isa.NO_ARRIVAL
STATE_MAX = isa.STATE_MAX
STATE_MIN = isa.STATE_MIN
TRACE_MAX = isa.TRACE_MAX
SPIKE_COUNT_MAX = isa.SPIKE_COUNT_MAX
ELIG_MAX = isa.ELIG_MAX
ELIG_MIN = isa.ELIG_MIN
VAR_SHIFT = isa.VARIATION_DEN_SHIFT
HASH_MOD = isa.HASH_MOD

M32 = 0xFFFFFFFF
RNG_GOLDEN = isa.RNG_GOLDEN
RNG_MUL1 = isa.RNG_MUL1
RNG_MUL2 = isa.RNG_MUL2


# ---------------------------------------------------------------------------
# generator (SPEC section 12).  Values stay in int64: a product of two 32-bit
# numbers may wrap past 2^63, but only its low 32 bits are kept, and those are
# exact under wrapping multiplication.
# ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def mix32(h):
    h ^= h >> 16
    h = (h * RNG_MUL1) & M32
    h ^= h >> 13
    h = (h * RNG_MUL2) & M32
    h ^= h >> 16
    return h


@njit(cache=True)
def stream_base(seed, stream):
    """mix32 of the stream's starting point: the constant first stage of `draw`."""
    return mix32((seed + stream * RNG_GOLDEN) & M32)


@njit(cache=True, inline="always")
def draw(base, a, b):
    return mix32(mix32(base ^ (a & M32)) ^ (b & M32))


# ---------------------------------------------------------------------------
# small integer helpers
# ---------------------------------------------------------------------------
@njit(cache=True, inline="always")
def sat24(x):
    if x > STATE_MAX:
        return STATE_MAX
    if x < STATE_MIN:
        return STATE_MIN
    return x


@njit(cache=True, inline="always")
def sat16(x):
    if x > ELIG_MAX:
        return ELIG_MAX
    if x < ELIG_MIN:
        return ELIG_MIN
    return x


@njit(cache=True, inline="always")
def clamp(x, lo, hi):
    """STDP clamp; when the STDP range misses the tile's range (lo > hi) the lower
    bound wins for values below it, as in the reference."""
    return lo if x < lo else (hi if x > hi else x)


@njit(cache=True, inline="always")
def decay(x, d):
    if d == 0:
        return x
    if x >= 0:
        return (x * (4096 - d)) >> 12
    return -(((-x) * (4096 - d)) >> 12)


@njit(cache=True, inline="always")
def decay_m(x, m):
    """decay(x, 4096 - m) for |x| < 2^23 in 32-bit products (AVX2 has no 64-bit
    vector multiply): (|x| * m) >> 12 = (|x| >> 12) * m + (((|x| & 4095) * m) >> 12)."""
    ax = np.int32(x if x >= 0 else -x)
    q = (ax >> 12) * m + (((ax & 4095) * m) >> 12)
    return q if x >= 0 else -q


@njit(cache=True, inline="always")
def round_fix(d, f, stochastic, r):
    """SPEC 10 round(d, F): half up, or stochastic with the draw r."""
    if f == 0:
        return d
    if stochastic == 0:
        return (d + (1 << (f - 1))) >> f
    q = d >> f
    if (r & ((1 << f) - 1)) < d - (q << f):
        return q + 1
    return q


@njit(cache=True, inline="always")
def weff_of(wv, quant, wmaxb, variation, e):
    """Effective weight of a programmed weight (SPEC 8)."""
    wq = wv
    if quant > 0:
        g = wv if wv >= 0 else -wv
        l1 = quant - 1
        level = (2 * g * l1 + wmaxb) // (2 * wmaxb)
        gq = (2 * level * wmaxb + l1) // (2 * l1)
        wq = gq if wv >= 0 else -gq
    if variation > 0:
        wq = wq + ((wq * e) >> VAR_SHIFT)
    return wq


@njit(cache=True)
def set_weight(tp, t, idx, value, w, weff, var_e):
    """Program crossing ``idx`` (global index) of tile ``t`` and refresh its w_eff."""
    w[idx] = value
    if tp[t, TP_NOISY] != 0:
        weff[idx] = weff_of(value, tp[t, TP_QUANT], tp[t, TP_WMAXB], tp[t, TP_VAR], var_e[idx])
    # else w_eff = w: the cores read w itself (weff is only kept for noisy tiles)


# ---------------------------------------------------------------------------
# synaptic accumulation: the hot loop.  Kept tiny so that LLVM vectorises it.
# ``wsrc`` is the tile's weight array as the core reads it: the programmed int8
# weights ``w`` when the tile has no device non-idealities (then w_eff = w and
# ``weff`` is not even allocated), else the int16 ``weff``.  ``acc`` is int16
# when the tick's sum cannot overflow it (checked by the caller), else int32:
# an int8 row into an int16 accumulator is 4x fewer bytes per lane than int16
# into int32.  Each (acc, wsrc) dtype pair is its own specialisation.
# ---------------------------------------------------------------------------
@njit(cache=True)
def accumulate(acc, wsrc, woff, nn, act_list, aoff, nact, cnt):
    """acc[:nn] = sum over the active axons k of cnt[k] * row k."""
    # Loops written out, no helper taking arrays: every call of a jitted function
    # with array arguments (also inline="always" ones) costs an NRT incref/decref
    # pair per array (~5 ns each), per row or per event in a loop.  Slices, not
    # wsrc[base + i]: numba's negative-index wraparound check on a computed index
    # stops LLVM from vectorising the loop (16x slower).
    acc[:nn] = 0
    a = acc[:nn]
    for i in range(nact):
        k = act_list[aoff + i]
        c = cnt[aoff + k]
        base = woff + k * nn
        row = wsrc[base:base + nn]
        if c == 1:
            for n in range(nn):
                a[n] += row[n]
        else:
            for n in range(nn):
                a[n] += c * row[n]


@njit(cache=True)
def lif_neurons_fast(acc, vs, us, fire, nn, wshift, bias, vth, mv, reset_zero):
    """The common LIF tile: du = 4096 (u is this tick's input), refractory = 0 (ref
    stays 0, so it is neither read nor written), no comparator offset or noise."""
    for n in range(nn):
        uu = min(max(np.int64(acc[n]) << wshift, STATE_MIN), STATE_MAX)
        old = vs[n]
        vv = min(max(decay_m(old, mv) + uu + bias, STATE_MIN), STATE_MAX)
        f = vv >= vth
        # fired: vv >= vth, so vv - vth >= 0 needs no saturation
        after = 0 if reset_zero else vv - vth
        vs[n] = after if f else vv
        us[n] = uu
        fire[n] = f


@njit(cache=True)
def lif_neurons(acc, vs, us, rs, cs, thr_noise, fire, nn, du, dv, wshift, bias, vth,
                refractory, reset_zero):
    # Branch-free neuron loops (selects instead of jumps) so that LLVM vectorises
    # them; the common case (memoryless current, no leak) needs no multiplication.
    if du == 4096 and dv == 0:
        for n in range(nn):
            uu = min(max(np.int64(acc[n]) << wshift, STATE_MIN), STATE_MAX)
            us[n] = uu
            r = rs[n]
            old = vs[n]
            vv = min(max(old + uu + bias, STATE_MIN), STATE_MAX)
            f = (r <= 0) & (vv >= vth + cs[n] + thr_noise[n])
            after = 0 if reset_zero else max(vv - vth, STATE_MIN)
            vv = after if f else vv
            vs[n] = vv if r <= 0 else old
            rs[n] = refractory if f else (r - 1 if r > 0 else 0)
            fire[n] = f
    else:
        mu = np.int32(4096 - du)
        mv = np.int32(4096 - dv)
        for n in range(nn):
            uu = min(max(decay_m(us[n], mu) + (np.int64(acc[n]) << wshift), STATE_MIN),
                     STATE_MAX)
            us[n] = uu
            r = rs[n]
            old = vs[n]
            vv = min(max(decay_m(old, mv) + uu + bias, STATE_MIN), STATE_MAX)
            f = (r <= 0) & (vv >= vth + cs[n] + thr_noise[n])
            after = 0 if reset_zero else max(vv - vth, STATE_MIN)
            vv = after if f else vv
            vs[n] = vv if r <= 0 else old
            rs[n] = refractory if f else (r - 1 if r > 0 else 0)
            fire[n] = f


# ---------------------------------------------------------------------------
# LIF core (SPEC 6)
# ---------------------------------------------------------------------------
@njit(cache=True)
def lif_tile(t, tk, tp, wsrc, v, u, ref, cmp_off, cnt, act_list, act_n,
             fired_n, fired_off, fired_cnt, acc, acc16, thr_noise, fire, noise_base, counters):
    """One LIF tile, phase 2. ``wsrc``: see accumulate. ``acc`` (int32 [256]),
    ``acc16`` (int16 [256]), ``thr_noise`` (int64 [256], zero) and ``fire`` (bool
    [256]) are scratch."""
    nn = tp[t, TP_N]
    woff = tp[t, TP_WOFF]
    noff = tp[t, TP_NOFF]
    aoff = tp[t, TP_AOFF]
    nact = act_n[t]
    spikes_in = 0
    for i in range(nact):
        spikes_in += cnt[aoff + act_list[aoff + i]]
    counters[C_SYN, t] += spikes_in * nn
    counters[C_NEURON, t] += nn
    # |w_eff| <= wmax (no non-idealities) or 2 * wmax (section 8): the sum of the
    # tick fits int16 when spikes_in * that bound does
    wabs = tp[t, TP_WMAXB] * (2 if tp[t, TP_NOISY] != 0 else 1)
    use16 = spikes_in * wabs <= 32767

    du = tp[t, TP_DU]
    dv = tp[t, TP_DV]
    wshift = tp[t, TP_WSHIFT]
    bias = tp[t, TP_BIAS]
    vth = tp[t, TP_VTH]
    refractory = tp[t, TP_REFR]
    reset_zero = tp[t, TP_RESET] == RESET_ZERO
    cmp_noise = tp[t, TP_CMPNOISE]
    vs = v[noff:noff + nn]
    us = u[noff:noff + nn]
    if du == 4096 and refractory == 0 and cmp_noise == 0 and tp[t, TP_CMPOFF] == 0:
        mv = np.int32(4096 - dv)
        if use16:
            accumulate(acc16, wsrc, woff, nn, act_list, aoff, nact, cnt)
            lif_neurons_fast(acc16, vs, us, fire, nn, wshift, bias, vth, mv, reset_zero)
        else:
            accumulate(acc, wsrc, woff, nn, act_list, aoff, nact, cnt)
            lif_neurons_fast(acc, vs, us, fire, nn, wshift, bias, vth, mv, reset_zero)
    else:
        if cmp_noise != 0:
            for n in range(nn):
                r = mix32(noise_base ^ ((t << 16) | n))
                thr_noise[n] = (r % (2 * cmp_noise + 1)) - cmp_noise
        rs = ref[noff:noff + nn]
        cs = cmp_off[noff:noff + nn]
        if use16:
            accumulate(acc16, wsrc, woff, nn, act_list, aoff, nact, cnt)
            lif_neurons(acc16, vs, us, rs, cs, thr_noise, fire, nn, du, dv, wshift, bias, vth,
                        refractory, reset_zero)
        else:
            accumulate(acc, wsrc, woff, nn, act_list, aoff, nact, cnt)
            lif_neurons(acc, vs, us, rs, cs, thr_noise, fire, nn, du, dv, wshift, bias, vth,
                        refractory, reset_zero)
        if cmp_noise != 0:
            for n in range(nn):
                thr_noise[n] = 0
    # branch-free compaction of the fired neurons (a branch per neuron costs 4x more)
    fn = fired_n[noff:noff + nn]
    nf = 0
    for n in range(nn):
        fn[nf] = n
        nf += np.int64(fire[n])
    fired_off[noff:noff + nf] = 0
    fired_cnt[t] = nf


# ---------------------------------------------------------------------------
# TD-MAC core (SPEC 7)
# ---------------------------------------------------------------------------
@njit(cache=True)
def tdmac_tile(t, tk, window, tp, wsrc, qfinal, dval, cmp_off, arr, act_list, act_n,
               fired_n, fired_off, fired_cnt, dacc, gp, gn, fc, noise_base, counters):
    nn = tp[t, TP_N]
    woff = tp[t, TP_WOFF]
    noff = tp[t, TP_NOFF]
    aoff = tp[t, TP_AOFF]
    t_in = tp[t, TP_TIN]
    ramp = tp[t, TP_RAMP]
    theta = tp[t, TP_THETA]
    cmp_noise = tp[t, TP_CMPNOISE]
    nact = act_n[t]
    macs = 0
    for i in range(nact):
        if arr[aoff + act_list[aoff + i]] < t_in:
            macs += 1
    counters[C_MAC, t] += macs * nn
    counters[C_NEURON, t] += nn

    if tp[t, TP_CHARGE] != CHARGE_RC:
        # linear model: closed form of the per-cycle recurrence (SPEC 7)
        for n in range(nn):
            dacc[n] = 0
        for i in range(nact):
            k = act_list[aoff + i]
            a = arr[aoff + k]
            if a < t_in:
                x = t_in - a
                base = woff + k * nn
                row = wsrc[base:base + nn]
                for n in range(nn):
                    dacc[n] += x * row[n]
        fire_len = window - t_in
        for n in range(nn):
            g = noff + n
            thr = theta + cmp_off[g]
            if cmp_noise != 0:
                r = mix32(noise_base ^ ((t << 16) | n))
                thr += (r % (2 * cmp_noise + 1)) - cmp_noise
            d = dacc[n]
            dval[g] = d
            c = -1
            if ramp == 0:
                if d >= thr:
                    c = t_in
            else:
                diff = thr - d
                j = -((-diff) // ramp) - 1      # ceil(diff / ramp) - 1
                if j < 0:
                    j = 0
                if j < fire_len:
                    c = t_in + j
            fc[n] = c
            qfinal[g] = d + ramp * fire_len
    else:
        rail = tp[t, TP_RAIL]
        shift = tp[t, TP_RCSHIFT]
        for n in range(nn):
            dacc[n] = 0
            gp[n] = 0
            gn[n] = 0
        # arrivals inside the input phase, sorted by cycle
        na = 0
        keys = np.empty(nact, np.int64)
        for i in range(nact):
            k = act_list[aoff + i]
            a = arr[aoff + k]
            if a < t_in:
                keys[na] = a * 1024 + k
                na += 1
        keys = np.sort(keys[:na])
        p = 0
        c0 = t_in
        if na > 0:
            c0 = keys[0] // 1024
        for c in range(c0, t_in):
            while p < na and keys[p] // 1024 == c:
                k = keys[p] % 1024
                base = woff + k * nn
                for n in range(nn):
                    wv = np.int64(wsrc[base + n])
                    if wv > 0:
                        gp[n] += wv
                    else:
                        gn[n] -= wv
                p += 1
            for n in range(nn):
                q = dacc[n]
                q = q + ((gp[n] * (rail - q) - gn[n] * (rail + q)) >> shift)
                if q > rail:
                    q = rail
                elif q < -rail:
                    q = -rail
                dacc[n] = q
        for n in range(nn):
            g = noff + n
            thr = theta + cmp_off[g]
            if cmp_noise != 0:
                r = mix32(noise_base ^ ((t << 16) | n))
                thr += (r % (2 * cmp_noise + 1)) - cmp_noise
            q = dacc[n]
            dval[g] = q
            fcn = -1
            for c in range(t_in, window):
                q = q + ramp
                if q > rail:
                    q = rail
                if q >= thr:
                    fcn = c
                    break
            if fcn >= 0:
                # the rest of the window only ramps towards the rail
                rest = window - 1 - fcn
                if rest > 0:
                    q = q + ramp * rest
                    if q > rail:
                        q = rail
            fc[n] = fcn
            qfinal[g] = q

    # fired neurons in (emission offset, neuron) order
    nf = 0
    for n in range(nn):
        if fc[n] >= 0:
            nf += 1
    if nf > 0:
        order = np.empty(nf, np.int64)
        j = 0
        for n in range(nn):
            if fc[n] >= 0:
                order[j] = fc[n] * 1024 + n
                j += 1
        order = np.sort(order)
        for j in range(nf):
            fired_n[noff + j] = order[j] % 1024
            fired_off[noff + j] = order[j] // 1024
    fired_cnt[t] = nf


# ---------------------------------------------------------------------------
# STDP (SPEC 10)
# ---------------------------------------------------------------------------
@njit(cache=True)
def stdp_tile(t, tk, tp, sp, w, weff, var_e, xtr, ytr, elig, act_list, act_n,
              fired_n, fired_cnt, reward_r, in_p, in_q, base_stdp, base_reward, counters):
    aa = tp[t, TP_A]
    nn = tp[t, TP_N]
    woff = tp[t, TP_WOFF]
    noff = tp[t, TP_NOFF]
    aoff = tp[t, TP_AOFF]
    mode = sp[t, SP_MODE]
    pre_inc = sp[t, SP_PREINC]
    post_inc = sp[t, SP_POSTINC]
    pre_shift = sp[t, SP_PRESHIFT]
    post_shift = sp[t, SP_POSTSHIFT]
    a_plus = sp[t, SP_APLUS]
    a_minus = sp[t, SP_AMINUS]
    f = sp[t, SP_F]
    stoch = sp[t, SP_STOCH]
    lo = sp[t, SP_LO]
    hi = sp[t, SP_HI]
    noisy = tp[t, TP_NOISY]
    quant = tp[t, TP_QUANT]
    wmaxb = tp[t, TP_WMAXB]
    variation = tp[t, TP_VAR]
    need_draw = stoch != 0 and f > 0
    half = (1 << (f - 1)) if f > 0 else 0

    xs = xtr[aoff:aoff + aa]
    for k in range(aa):
        xs[k] = xs[k] - (xs[k] >> pre_shift)
    ys = ytr[noff:noff + nn]
    for n in range(nn):
        ys[n] = ys[n] - (ys[n] >> post_shift)
    n_p = act_n[t]
    n_q = fired_cnt[t]
    for i in range(n_p):
        in_p[act_list[aoff + i]] = 1
    for i in range(n_q):
        in_q[fired_n[noff + i]] = 1
    counters[C_STDP, t] += n_p * nn + n_q * aa - n_p * n_q
    tb = (t << 16)
    sbase = mix32(base_stdp ^ (tk & M32)) if need_draw else 0

    if mode == STDP_PAIR:
        # fast: no stochastic rounding and w_eff = w (only w is stored)
        fast = not need_draw and noisy == 0
        # rows of the pre-spiking axons: every neuron of the row is touched
        qs = in_q[:nn]
        for i in range(n_p):
            k = act_list[aoff + i]
            xk = xtr[aoff + k] + pre_inc
            if xk > TRACE_MAX:
                xk = TRACE_MAX
            pot = a_plus * xk
            base = woff + k * nn
            if fast:
                wrow = w[base:base + nn]
                if f > 0:
                    for n in range(nn):
                        dfix = pot * qs[n] - a_minus * ys[n]
                        wrow[n] = clamp(wrow[n] + ((dfix + half) >> f), lo, hi)
                else:
                    for n in range(nn):
                        dfix = pot * qs[n] - a_minus * ys[n]
                        wrow[n] = clamp(wrow[n] + dfix, lo, hi)
            else:
                for n in range(nn):
                    dfix = pot * in_q[n] - a_minus * ytr[noff + n]
                    r = mix32(sbase ^ (tb | (k << 8) | n)) if need_draw else 0
                    nw = w[base + n] + round_fix(dfix, f, stoch, r)
                    nw = clamp(nw, lo, hi)
                    w[base + n] = nw
                    if noisy != 0:
                        weff[base + n] = weff_of(nw, quant, wmaxb, variation, var_e[base + n])
        # columns of the fired neurons, for the axons that did not spike
        if n_q > 0:
            fn = fired_n[noff:noff + n_q]
            # with every weight inside [lo, hi], a zero update leaves the weight as it
            # is: such axons (small traces) are skipped, and their rows never loaded
            inrange = tp[t, TP_INRANGE] != 0
            for k in range(aa):
                if in_p[k] != 0:
                    continue
                dfix = a_plus * xtr[aoff + k]
                dwk = round_fix(dfix, f, 0, 0)
                base = woff + k * nn
                if fast:
                    if dwk == 0 and inrange:
                        continue
                    wrow = w[base:base + nn]
                    for j in range(n_q):
                        n = fn[j]
                        wrow[n] = clamp(wrow[n] + dwk, lo, hi)
                else:
                    for j in range(n_q):
                        n = fn[j]
                        if need_draw:
                            r = mix32(sbase ^ (tb | (k << 8) | n))
                            dwk = round_fix(dfix, f, stoch, r)
                        nw = w[base + n] + dwk
                        nw = clamp(nw, lo, hi)
                        w[base + n] = nw
                        if noisy != 0:
                            weff[base + n] = weff_of(nw, quant, wmaxb, variation,
                                                     var_e[base + n])
    else:
        eoff = tp[t, TP_EOFF]
        eshift = sp[t, SP_ESHIFT]
        es = elig[eoff:eoff + aa * nn]
        for i in range(aa * nn):
            e = np.int64(es[i])
            es[i] = e - (e >> eshift)      # |e - (e >> s)| <= |e|: no saturation needed
        for i in range(n_p):
            k = act_list[aoff + i]
            xk = xtr[aoff + k] + pre_inc
            if xk > TRACE_MAX:
                xk = TRACE_MAX
            pot = a_plus * xk
            for n in range(nn):
                dfix = pot * in_q[n] - a_minus * ytr[noff + n]
                r = mix32(sbase ^ (tb | (k << 8) | n)) if need_draw else 0
                idx = eoff + k * nn + n
                elig[idx] = sat16(np.int64(elig[idx]) + round_fix(dfix, f, stoch, r))
        if n_q > 0:
            for k in range(aa):
                if in_p[k] != 0:
                    continue
                dfix = a_plus * xtr[aoff + k]
                for j in range(n_q):
                    n = fired_n[noff + j]
                    r = mix32(sbase ^ (tb | (k << 8) | n)) if need_draw else 0
                    idx = eoff + k * nn + n
                    elig[idx] = sat16(np.int64(elig[idx]) + round_fix(dfix, f, stoch, r))
        rr = reward_r[t]
        if rr != 0:
            rshift = sp[t, SP_RSHIFT]
            rdraw = stoch != 0 and rshift > 0
            rbase = mix32(base_reward ^ (tk & M32)) if rdraw else 0
            for k in range(aa):
                for n in range(nn):
                    idx = k * nn + n
                    d = rr * np.int64(elig[eoff + idx])
                    r = mix32(rbase ^ (tb | (k << 8) | n)) if rdraw else 0
                    nw = w[woff + idx] + round_fix(d, rshift, stoch, r)
                    nw = clamp(nw, lo, hi)
                    w[woff + idx] = nw
                    if noisy != 0:
                        weff[woff + idx] = weff_of(nw, quant, wmaxb, variation,
                                                   var_e[woff + idx])
            counters[C_STDP, t] += aa * nn

    for i in range(n_p):
        k = act_list[aoff + i]
        x = xtr[aoff + k] + pre_inc
        xtr[aoff + k] = x if x < TRACE_MAX else TRACE_MAX
        in_p[k] = 0
    for i in range(n_q):
        n = fired_n[noff + i]
        y = ytr[noff + n] + post_inc
        ytr[noff + n] = y if y < TRACE_MAX else TRACE_MAX
        in_q[n] = 0


# ---------------------------------------------------------------------------
# state hash (SPEC 13)
# ---------------------------------------------------------------------------
@njit(cache=True)
def state_hash(n_tiles, tp, sp, w, v, u, ref, xtr, ytr, elig):
    a = 1
    b = 0
    for t in range(n_tiles):
        core = tp[t, TP_CORE]
        if core == 0:
            continue
        nn = tp[t, TP_N]
        aa = tp[t, TP_A]
        noff = tp[t, TP_NOFF]
        if core == CORE_LIF:
            for n in range(nn):
                a = (a + (v[noff + n] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
                a = (a + (u[noff + n] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
                a = (a + (ref[noff + n] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
        else:
            for n in range(nn):
                a = (a + (v[noff + n] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
        woff = tp[t, TP_WOFF]
        for i in range(aa * nn):
            a = (a + (np.int64(w[woff + i]) & 0xFFFFFF)) % HASH_MOD
            b = (b + a) % HASH_MOD
        if tp[t, TP_STDP] != 0:
            aoff = tp[t, TP_AOFF]
            for k in range(aa):
                a = (a + (xtr[aoff + k] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
            for n in range(nn):
                a = (a + (ytr[noff + n] & 0xFFFFFF)) % HASH_MOD
                b = (b + a) % HASH_MOD
            if sp[t, SP_MODE] != STDP_PAIR:
                eoff = tp[t, TP_EOFF]
                for i in range(aa * nn):
                    a = (a + (np.int64(elig[eoff + i]) & 0xFFFFFF)) % HASH_MOD
                    b = (b + a) % HASH_MOD
    return (b << 16) | a
