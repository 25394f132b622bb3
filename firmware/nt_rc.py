# SPEC section 7, RC model: the input phase of one neuron, cycle by cycle.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_TILE_RC_SHIFT = const(15)
_TILE_RAIL = const(16)


def charge(t, n, ev, tin):
    """Charge at the end of the input phase; ev: sorted arrival << 8 | axon."""
    we = t.we
    N = t.N
    s = t.p[_TILE_RC_SHIFT]
    rail = t.p[_TILE_RAIL]
    gp = gn = q = 0
    i = 0
    m = len(ev)
    c = ev[0] >> 8 if m else tin
    while c < tin:
        while i < m and ev[i] >> 8 <= c:
            w = we[(ev[i] & 255) * N + n]
            if w > 0:
                gp += w
            else:
                gn -= w
            i += 1
        q += (gp * (rail - q) - gn * (rail + q)) >> s
        q = -rail if q < -rail else (rail if q > rail else q)
        c += 1
    return q
