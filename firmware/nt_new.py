# SPEC section 15: a tile's record and state arrays, built from its TILE record
# (and STDP record).  The image loader (nt_ims, nt_imo) builds tiles here, and so
# does the host of a board in split mode (SPEC section 19) through mk, tl and wt.
# A board drops this module after loading.
import gc
from array import array
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CORE_TDMAC = const(2)
_NO_ARRIVAL = const(65535)
_TILE_CORE = const(0)
_TILE_WBITS = const(1)
_TILE_AXONS = const(2)
_TILE_NEURONS = const(3)
_STDP_ENABLED = const(0)
_STDP_MODE = const(1)
_STDP_REWARD = const(1)


class Rec:
    """A chip or a tile: attributes only."""


def zeros(tc, n, v=0):
    a = array(tc, bytes(n * (1 if tc == 'b' else 2 if tc in 'hH' else 4)))
    if v:
        for i in range(n):
            a[i] = v
    return a


def tile(p):
    """A tile from its TILE record p (a tuple): no weights yet, no routes, no STDP."""
    t = Rec()
    t.p = p
    t.core = p[_TILE_CORE]
    t.A = a = p[_TILE_AXONS]
    t.N = m = p[_TILE_NEURONS]
    t.wm = (1 << (p[_TILE_WBITS] - 1)) - 1
    t.w = t.we = t.ro = t.sp = t.ref = None
    t.R = t.lr = t.nz = t.syn = t.mac = t.nup = t.sup = 0
    if t.core == _CORE_TDMAC:
        t.q = zeros('i', m)
        t.d = zeros('i', m)
        t.arr = zeros('H', a, _NO_ARRIVAL)
    else:
        t.v = zeros('i', m)
        t.u = zeros('i', m)
        t.ref = bytearray(m)
        t.cnt = bytearray(a)
    return t


def stdp(t, sp):
    """STDP record sp (a tuple): learning switch, traces and eligibility."""
    t.sp = sp
    t.lr = sp[_STDP_ENABLED]
    t.x = bytearray(t.A)
    t.y = bytearray(t.N)
    # eligibility traces: read only in reward mode
    t.e = zeros('h', t.A * t.N) if sp[_STDP_MODE] == _STDP_REWARD else None


# Split mode: the host sends the chip and its tiles, then calls done() and only
# then has the board import the run-time modules (nt_til and the cores); nt_til.go
# takes the chip C from here.
C = None


def mk(n, K, f, seed, pr):
    """A chip of n tile slots: window K, feature bits f, seed, probes pr (tile, neuron)*."""
    global C
    C = None
    gc.collect()
    C = c = Rec()
    c.K = K
    c.f = f
    c.seed = seed
    c.pr = pr
    c.tiles = [None] * n


def tl(ti, p, sp):
    """Tile ti from its TILE record p and STDP record sp (None: no STDP)."""
    C.tiles[ti] = t = tile(tuple(p))
    t.w = t.we = zeros('b', t.A * t.N)
    if sp:
        stdp(t, tuple(sp))
    gc.collect()


def wt(ti, o, h):
    """Weights of tile ti from crossing o on: hex text, one byte (two's complement) each."""
    w = C.tiles[ti].w
    for i in range(len(h) // 2):
        w[o + i] = (int(h[2 * i:2 * i + 2], 16) ^ 128) - 128
    gc.collect()


def done():
    """Loading done: where the port has no sys.modules (1.9.2, the micro:bit) free
    the builder's code for good (the host soft-resets before the next load); C stays."""
    if not hasattr(__import__('sys'), 'modules'):
        import nt_new
        del nt_new.tile, nt_new.stdp, nt_new.zeros, nt_new.mk, nt_new.tl, nt_new.wt, nt_new.done
    gc.collect()
