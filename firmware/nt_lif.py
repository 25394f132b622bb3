# SPEC section 6: the LIF core, one tick of one tile (phase 2).
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_STATE_MAX = const(8388607)
_STATE_MIN = const(-8388608)
_DECAY_BITS = const(12)
_DECAY_UNITY = const(4096)
_RESET_ZERO = const(0)
_TILE_VTH = const(4)
_TILE_BIAS = const(5)
_TILE_DU = const(6)
_TILE_DV = const(7)
_TILE_REFRACTORY = const(8)
_TILE_RESET = const(9)
_TILE_WSHIFT = const(10)


def decay(x, d):
    # truncate toward zero: sign(x) * ((|x| * (4096 - d)) >> 12)
    if x < 0:
        return -((-x * (_DECAY_UNITY - d)) >> _DECAY_BITS)
    return (x * (_DECAY_UNITY - d)) >> _DECAY_BITS


def sat(x):
    return _STATE_MIN if x < _STATE_MIN else (_STATE_MAX if x > _STATE_MAX else x)


def step(c, ti, t, tk):
    """Update every neuron from t.cnt; return the fired neurons (offset 0)."""
    p = t.p
    A = t.A
    N = t.N
    cnt = t.cnt
    we = t.we
    v = t.v
    u = t.u
    ref = t.ref
    vth = p[_TILE_VTH]
    bias = p[_TILE_BIAS]
    du = p[_TILE_DU]
    dv = p[_TILE_DV]
    sh = p[_TILE_WSHIFT]
    zero = p[_TILE_RESET] == _RESET_ZERO
    off = None
    if t.nz:
        import nt_noise
        off = nt_noise.cmp(c, ti, t, tk)
    act = [0] * N
    s = 0
    for k in range(A):
        m = cnt[k]
        if m:
            s += m
            j = k * N
            for n in range(N):
                act[n] += m * we[j + n]
    t.syn += s * N
    fired = []
    for n in range(N):
        u[n] = x = sat(decay(u[n], du) + (act[n] << sh))
        if ref[n]:
            ref[n] -= 1
            continue
        y = sat(decay(v[n], dv) + x + bias)
        if y >= vth + (off[n] if off else 0):
            fired.append(n)
            y = 0 if zero else sat(y - vth)
            ref[n] = p[_TILE_REFRACTORY]
        v[n] = y
    return fired
