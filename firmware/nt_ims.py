# SPEC section 15, loader stage 2: the sections, unpacked into plain records and
# arrays (optional ones in nt_imo).  A board drops it after loading.
from struct import unpack_from
import nt_new
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

SECTION_FMT = '<BBHI'
_SECTION_HEADER_SIZE = const(8)
CHIP_FMT = '<BBHBBHI'
_CHIP_SIZE = const(12)
TILE_FMT = '<BBHHiiHHBBBBiHHBiHBHH'
_TILE_SIZE = const(42)
_FEAT_NOISE = const(32)
_SEC_CHIP = const(1)
_SEC_TILE = const(2)
_SEC_WEIGHTS = const(3)
_SEC_STDP = const(5)
_SEC_NAME = const(9)
# section id -> rank in the canonical order (chip, name, tiles, probes, spikes, program)
_RANK = b'\xff\x00\x02\x02\x02\x02\x03\x04\x05\x01'


def err(m):
    raise ValueError('image: ' + m)


def load(d, feat, ln):
    c = nt_new.Rec()
    c.f = feat
    c.name = ''
    c.pr = c.sb = c.P = b''
    c.lb = c.fp = None
    ts = None
    i = 16  # after the header
    last = -1
    while i < ln:
        if i + _SECTION_HEADER_SIZE > ln:
            err('truncated')
        s, sf, ti, n = unpack_from(SECTION_FMT, d, i)
        i += _SECTION_HEADER_SIZE
        if s >= len(_RANK) or s < 1 or sf or i + n > ln:
            err('section %d' % s)
        key = _RANK[s] << 16
        if _SEC_TILE <= s <= _SEC_STDP:
            if ts is None or ti >= len(ts):
                err('section %d tile' % s)
            key |= ti << 2 | (s - _SEC_TILE)
            t = ts[ti]
            if s != _SEC_TILE and t is None:
                err('section %d tile' % s)
        if key <= last or (s == _SEC_CHIP) != (last < 0):
            err('section %d order' % s)
        last = key
        if s == _SEC_CHIP:
            if n != _CHIP_SIZE:
                err('chip size')
            c.W, c.H, c.K, c.mode, c.D, r, c.seed = unpack_from(CHIP_FMT, d, i)
            ts = [None] * (c.W * c.H)
        elif s == _SEC_NAME:
            c.name = str(d[i:i + n], 'utf-8')
        elif s == _SEC_TILE:
            if n != _TILE_SIZE:
                err('tile size')
            t = nt_new.tile(unpack_from(TILE_FMT, d, i))
            ts[ti] = t
        elif s == _SEC_WEIGHTS:
            if n != t.A * t.N:
                err('weights size')
            t.w = t.we = w = nt_new.zeros('b', n)
            for j in range(n):
                w[j] = (d[i + j] ^ 128) - 128
        else:
            import nt_imo
            nt_imo.sec(c, t, s, d, i, n, ti)
        i += n
    if ts is None:
        err('no chip')
    c.tiles = ts
    return c


def fin(c, seed):
    if seed is not None:
        c.seed = seed
    if c.f & _FEAT_NOISE:
        import nt_noise
        nt_noise.init(c)
    return c
