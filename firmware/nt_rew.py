# SPEC section 10, reward mode: eligibility decay and the reward update.
import nt_stdp
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_STREAM_REWARD = const(5)
_STDP_STOCHASTIC = const(9)
_STDP_ELIG_SHIFT = const(12)
_STDP_REWARD_SHIFT = const(13)


def decay(t):
    # e - (e >> s) stays inside the 16-bit range, so sat16 cannot trigger here
    e = t.e
    s = t.sp[_STDP_ELIG_SHIFT]
    for j in range(len(e)):
        e[j] -= e[j] >> s


def apply(c, ti, t, tk):
    """w = clamp(w + round(R * e, reward_shift)) for every crossing."""
    N = t.N
    R = t.R
    e = t.e
    w = t.w
    s = t.sp[_STDP_REWARD_SHIFT]
    st = t.sp[_STDP_STOCHASTIC]
    if st:
        import nt_rng
    lo, hi = nt_stdp.bounds(t)
    for j in range(len(e)):
        d = w[j] + nt_stdp.rnd(R * e[j], s, nt_rng.draw(
            c.seed, _STREAM_REWARD, tk, ti << 16 | (j // N) << 8 | j % N) if st else None)
        nt_stdp.put(c, ti, t, j, lo if d < lo else (hi if d > hi else d))
    t.sup += len(e)
