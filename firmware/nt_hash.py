# SPEC section 13: Adler-style checksum of the chip state after a tick.
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_HASH_MOD = const(65521)
_CORE_TDMAC = const(2)
_STDP_MODE = const(1)
_STDP_REWARD = const(1)


def feed(h, xs):
    a = h[0]
    b = h[1]
    for x in xs:
        a = (a + (x & 0xFFFFFF)) % _HASH_MOD
        b = (b + a) % _HASH_MOD
    h[0] = a
    h[1] = b


def state(c):
    h = [1, 0]
    for t in c.tiles:
        if t is None:
            continue
        if t.core == _CORE_TDMAC:
            feed(h, t.q)
        else:
            for n in range(t.N):
                feed(h, (t.v[n], t.u[n], t.ref[n]))
        feed(h, t.w)
        if t.sp is not None:
            feed(h, t.x)
            feed(h, t.y)
            if t.sp[_STDP_MODE] == _STDP_REWARD:
                feed(h, t.e)
    return h[1] << 16 | h[0]
