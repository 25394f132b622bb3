# SPEC section 8: conductance quantisation, device variation, comparator offset
# and noise.  Imported only when the image has the `noise` feature.
from array import array
import nt_rng
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_TILE_QUANT = const(17)
_TILE_VARIATION = const(18)
_TILE_CMP_OFFSET = const(19)
_TILE_CMP_NOISE = const(20)
_STREAM_VARIATION = const(1)
_STREAM_CMP_OFFSET = const(2)
_STREAM_CMP_NOISE = const(3)
_VARIATION_DEN_SHIFT = const(7)


def init(c):
    """Effective weights and comparator offsets of every tile that has options on."""
    for ti in range(len(c.tiles)):
        t = c.tiles[ti]
        if t is None:
            continue
        p = t.p
        if p[_TILE_QUANT] or p[_TILE_VARIATION]:
            t.we = array('h', t.w)
            for j in range(t.A * t.N):
                weff(c, ti, t, j)
        a = p[_TILE_CMP_OFFSET]
        t.co = None
        if a:
            t.co = array('h', [nt_rng.sym(c.seed, _STREAM_CMP_OFFSET, 0, ti << 16 | n, a)
                               for n in range(t.N)])
        t.nz = a or p[_TILE_CMP_NOISE]


def weff(c, ti, t, j):
    """Recompute the effective weight of crossing j = k * N + n after w changed."""
    we = t.we
    if we is t.w:
        return
    p = t.p
    w = t.w[j]
    g = w if w > 0 else -w
    L = p[_TILE_QUANT]
    if L:
        m = t.wm
        g = (2 * ((2 * g * (L - 1) + m) // (2 * m)) * m + L - 1) // (2 * (L - 1))
    if w < 0:
        g = -g
    s = p[_TILE_VARIATION]
    if s:
        k, n = divmod(j, t.N)
        g += (g * nt_rng.sym(c.seed, _STREAM_VARIATION, 0, ti << 16 | k << 8 | n, s)) >> _VARIATION_DEN_SHIFT
    we[j] = g


def cmp(c, ti, t, tk):
    """Per-neuron threshold offset of tick tk: fixed offset plus this tick's noise."""
    a = t.p[_TILE_CMP_NOISE]
    co = t.co
    r = []
    for n in range(t.N):
        r.append((co[n] if co else 0) + (nt_rng.sym(c.seed, _STREAM_CMP_NOISE, tk, ti << 16 | n, a) if a else 0))
    return r
