# SPEC section 7: the TD-MAC core, one window of one tile (phase 2).  The
# linear charge is computed in closed form; the RC input phase is in nt_rc.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CHARGE_RC = const(1)
_TILE_CHARGE = const(11)
_TILE_THETA = const(12)
_TILE_T_IN = const(13)
_TILE_RAMP = const(14)
_TILE_RAIL = const(16)


def step(c, ti, t, tk):
    """Charge every neuron from t.arr; return fired neurons as offset << 8 | n, sorted."""
    p = t.p
    N = t.N
    arr = t.arr
    we = t.we
    tin = p[_TILE_T_IN]
    th = p[_TILE_THETA]
    ramp = p[_TILE_RAMP]
    rest = c.K - tin
    ev = []
    for k in range(t.A):
        if arr[k] < tin:
            ev.append(arr[k] << 8 | k)
    ev.sort()
    t.mac += len(ev) * N
    rc = p[_TILE_CHARGE] == _CHARGE_RC
    top = p[_TILE_RAIL] if rc else None
    if rc:
        import nt_rc
    off = None
    if t.nz:
        import nt_noise
        off = nt_noise.cmp(c, ti, t, tk)
    fired = []
    for n in range(N):
        if rc:
            D = nt_rc.charge(t, n, ev, tin)
        else:
            D = 0
            for e in ev:
                # axon k has charged from its arrival to the end of the input phase
                D += we[(e & 255) * N + n] * (tin - (e >> 8))
        t.d[n] = D
        # fire phase: after j + 1 ramp cycles the charge is D + ramp * (j + 1)
        # (capped at the rail in the RC model, where the cap is monotonic)
        q = D + ramp * rest
        t.q[n] = q if top is None or q < top else top
        e = th + (off[n] if off else 0)
        if top is not None and e > top:
            continue
        if ramp:
            j = -((D - e) // ramp) - 1
            if j < 0:
                j = 0
        else:
            j = 0 if D >= e else rest
        if j < rest:
            fired.append((tin + j) << 8 | n)
    fired.sort()
    return fired
