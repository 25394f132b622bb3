# SPEC section 10: pair STDP (phase 4 of a LIF tile whose learning switch is on).
# Reward mode sends the changes to the eligibility traces; nt_rew applies R.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_TRACE_MAX = const(255)
_ELIG_MAX = const(32767)
_ELIG_MIN = const(-32768)
_STDP_REWARD = const(1)
_STREAM_STDP = const(4)
_STDP_MODE = const(1)
_STDP_PRE_INC = const(2)
_STDP_POST_INC = const(3)
_STDP_PRE_SHIFT = const(4)
_STDP_POST_SHIFT = const(5)
_STDP_A_PLUS = const(6)
_STDP_A_MINUS = const(7)
_STDP_FRAC_BITS = const(8)
_STDP_STOCHASTIC = const(9)
_STDP_WMIN = const(10)
_STDP_WMAX = const(11)


def rnd(d, F, r):
    """round(d, F): half up, or stochastic with the draw r (r is None: deterministic)."""
    if not F:
        return d
    if r is None:
        return (d + (1 << (F - 1))) >> F
    q = d >> F
    return q + 1 if (r & ((1 << F) - 1)) < d - (q << F) else q


def bounds(t):
    sp = t.sp
    return max(sp[_STDP_WMIN], -t.wm), min(sp[_STDP_WMAX], t.wm)


def put(c, ti, t, j, x):
    """Program crossing j (clamped by the caller) and refresh its effective weight."""
    if t.w[j] != x:
        t.w[j] = x
        if t.we is not t.w:
            import nt_noise
            nt_noise.weff(c, ti, t, j)


def learn(c, ti, t, tk, fired):
    sp = t.sp
    A = t.A
    N = t.N
    x = t.x
    y = t.y
    cnt = t.cnt
    e = t.e
    sh = sp[_STDP_PRE_SHIFT]
    for k in range(A):
        x[k] -= x[k] >> sh
    sh = sp[_STDP_POST_SHIFT]
    for n in range(N):
        y[n] -= y[n] >> sh
    post = bytearray(N)
    for n in fired:
        post[n] = 1
    rew = sp[_STDP_MODE] == _STDP_REWARD
    if rew:
        import nt_rew
        nt_rew.decay(t)
    F = sp[_STDP_FRAC_BITS]
    st = sp[_STDP_STOCHASTIC]
    if st:
        import nt_rng
    ap = sp[_STDP_A_PLUS]
    am = sp[_STDP_A_MINUS]
    lo, hi = bounds(t)
    npre = 0
    for k in range(A):
        pre = cnt[k] > 0
        xk = x[k]
        if pre:
            npre += 1
            xk = min(_TRACE_MAX, xk + sp[_STDP_PRE_INC])
            x[k] = xk
        j = k * N
        for n in (range(N) if pre else fired):
            d = (ap * xk if post[n] else 0) - (am * y[n] if pre else 0)
            d = rnd(d, F, nt_rng.draw(c.seed, _STREAM_STDP, tk, ti << 16 | k << 8 | n) if st else None)
            if rew:
                d += e[j + n]
                e[j + n] = _ELIG_MIN if d < _ELIG_MIN else (_ELIG_MAX if d > _ELIG_MAX else d)
            else:
                d += t.w[j + n]
                put(c, ti, t, j + n, lo if d < lo else (hi if d > hi else d))
    for n in fired:
        y[n] = min(_TRACE_MAX, y[n] + sp[_STDP_POST_INC])
    t.sup += npre * N + len(fired) * (A - npre)
    if rew and t.R:
        nt_rew.apply(c, ti, t, tk)
