# SPEC section 15, loader: the optional sections (routes, stdp, probes, spikes,
# program).  A board drops it after loading.
from struct import unpack_from
from array import array
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_SEC_ROUTES = const(4)
_SEC_STDP = const(5)
_SEC_PROBES = const(6)
_SEC_SPIKES = const(7)
_SEC_PROGRAM = const(8)
STDP_FMT = '<BBBBBBBBBBbbBB'
_STDP_SIZE = const(14)


def sec(c, t, s, d, i, n, ti):
    if s == _SEC_ROUTES:
        m = t.N + 1
        t.ro = ro = array('H', unpack_from('<%dH' % m, d, i))
        if n != 2 * m + 2 * ro[-1]:
            err('routes size')
        t.re = d[i + 2 * m:i + n]
    elif s == _SEC_STDP:
        if n != _STDP_SIZE:
            err('stdp size')
        import nt_new
        nt_new.stdp(t, unpack_from(STDP_FMT, d, i))
    elif s == _SEC_PROBES:
        c.pr = d[i + 2:i + n]
    elif s == _SEC_SPIKES:
        c.sb = d[i:i + n]
    elif s == _SEC_PROGRAM:
        c.P = d[i:i + n]


def err(m):
    raise ValueError('image: ' + m)
