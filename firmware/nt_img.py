# SPEC section 15: check an image (framing, CRC, sections) and unpack it into
# plain records and arrays.  Needed only while loading: a board may drop it after.
from struct import unpack_from, calcsize
from array import array
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAGIC = b'NTIL'
_FORMAT_VERSION = const(1)
HEADER_FMT = '<4sBBHII'
_HEADER_SIZE = const(16)
SECTION_FMT = '<BBHI'
_SECTION_HEADER_SIZE = const(8)
CHIP_FMT = '<BBHBBHI'
_CHIP_SIZE = const(12)
TILE_FMT = '<BBHHiiHHBBBBiHHBiHBHH'
_TILE_SIZE = const(42)
STDP_FMT = '<BBBBBBBBBBbbBB'
_STDP_SIZE = const(14)
_TILE_CORE = const(0)
_TILE_WBITS = const(1)
_TILE_AXONS = const(2)
_TILE_NEURONS = const(3)
_STDP_ENABLED = const(0)
_CORE_TDMAC = const(2)
_NO_ARRIVAL = const(65535)
_FEAT_NOISE = const(32)
_SEC_CHIP = const(1)
_SEC_TILE = const(2)
_SEC_WEIGHTS = const(3)
_SEC_ROUTES = const(4)
_SEC_STDP = const(5)
_SEC_PROBES = const(6)
_SEC_SPIKES = const(7)
_SEC_PROGRAM = const(8)
_SEC_NAME = const(9)
_OP_ENDLOOP = const(8)
_OP_JMP = const(9)
# operand formats, indexed by opcode (OP_HALT = 0 .. OP_MARK = 11, in order)
OPFMT_HALT = '<'
OPFMT_RUN = '<I'
OPFMT_INJECT = '<BBH'
OPFMT_PLAY = '<H'
OPFMT_LEARN = '<BB'
OPFMT_SETW = '<BBBb'
OPFMT_REWARD = '<Bh'
OPFMT_LOOP = '<I'
OPFMT_ENDLOOP = '<H'
OPFMT_JMP = '<H'
OPFMT_RESET = '<B'
OPFMT_MARK = '<H'
# section id -> rank in the canonical order (chip, name, tiles, probes, spikes, program)
_RANK = b'\xff\x00\x02\x02\x02\x02\x03\x04\x05\x01'


class Rec:
    """A chip or a tile: attributes only."""


def zeros(tc, n, v=0):
    return array(tc, [v] * n)


def err(m):
    raise ValueError('image: ' + m)


def crc32(d, i):
    c = 0xFFFFFFFF
    n = len(d)
    while i < n:
        c ^= d[i]
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 & -(c & 1))
        i += 1
    return c ^ 0xFFFFFFFF


def load(d, seed=None):
    """Parse image bytes ``d`` into a chip record; ``seed`` overrides the chip's."""
    if len(d) < _HEADER_SIZE:
        err('short file')
    mg, ver, fl, feat, ln, crc = unpack_from(HEADER_FMT, d, 0)
    if mg != MAGIC:
        err('bad magic')
    if ver != _FORMAT_VERSION or fl:
        err('format version %d flags %d not supported' % (ver, fl))
    if ln != len(d):
        err('length %d, header says %d' % (len(d), ln))
    if crc32(d, _HEADER_SIZE) != crc:
        err('CRC mismatch')
    c = Rec()
    c.f = feat
    c.name = ''
    c.pr = c.sb = c.P = b''
    ts = None
    i = _HEADER_SIZE
    last = -1
    while i < ln:
        if i + _SECTION_HEADER_SIZE > ln:
            err('truncated section header')
        s, sf, ti, n = unpack_from(SECTION_FMT, d, i)
        i += _SECTION_HEADER_SIZE
        if s >= len(_RANK) or s < 1 or sf or i + n > ln:
            err('bad or truncated section %d' % s)
        key = _RANK[s] << 16
        if _SEC_TILE <= s <= _SEC_STDP:
            if ts is None or ti >= len(ts):
                err('section %d for tile %d off the mesh' % (s, ti))
            key |= ti << 2 | (s - _SEC_TILE)
            t = ts[ti]
            if s != _SEC_TILE and t is None:
                err('section %d before tile %d' % (s, ti))
        if key <= last or (s == _SEC_CHIP) != (last < 0):
            err('section %d out of order' % s)
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
            t = Rec()
            t.p = p = unpack_from(TILE_FMT, d, i)
            t.core = p[_TILE_CORE]
            t.A = a = p[_TILE_AXONS]
            t.N = m = p[_TILE_NEURONS]
            t.wm = (1 << (p[_TILE_WBITS] - 1)) - 1
            t.w = t.ro = t.sp = None
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
            ts[ti] = t
        elif s == _SEC_WEIGHTS:
            if n != t.A * t.N:
                err('weights size of tile %d' % ti)
            t.w = w = zeros('b', n)
            for j in range(n):
                w[j] = (d[i + j] ^ 128) - 128
            t.we = w
        elif s == _SEC_ROUTES:
            m = t.N + 1
            t.ro = ro = array('H', unpack_from('<%dH' % m, d, i))
            if n != 2 * m + 2 * ro[-1]:
                err('routes size of tile %d' % ti)
            t.re = d[i + 2 * m:i + n]
        elif s == _SEC_STDP:
            if n != _STDP_SIZE:
                err('stdp size')
            t.sp = unpack_from(STDP_FMT, d, i)
            t.lr = t.sp[_STDP_ENABLED]
            t.x = bytearray(t.A)
            t.y = bytearray(t.N)
            t.e = zeros('h', t.A * t.N)
        elif s == _SEC_PROBES:
            c.pr = d[i + 2:i + n]
        elif s == _SEC_SPIKES:
            c.sb = d[i:i + n]
        elif s == _SEC_PROGRAM:
            c.P = d[i:i + n]
        i += n
    if ts is None:
        err('no chip section')
    c.tiles = ts
    for ti in range(len(ts)):
        t = ts[ti]
        if t is not None:
            if t.w is None:
                err('tile %d has no weights' % ti)
            if t.ro is not None:
                e = t.re
                for j in range(0, len(e), 2):
                    u = e[j]
                    if u >= len(ts) or ts[u] is None or e[j + 1] >= ts[u].A:
                        err('tile %d routes to a missing tile or axon' % ti)
    program(c)
    if seed is not None:
        c.seed = seed
    if c.f & _FEAT_NOISE:
        import nt_noise
        nt_noise.init(c)
    return c


def program(c):
    """Byte offset of every instruction (c.ip) and the operand formats (c.fm)."""
    c.fm = fm = (OPFMT_HALT, OPFMT_RUN, OPFMT_INJECT, OPFMT_PLAY, OPFMT_LEARN, OPFMT_SETW,
                 OPFMT_REWARD, OPFMT_LOOP, OPFMT_ENDLOOP, OPFMT_JMP, OPFMT_RESET, OPFMT_MARK)
    P = c.P
    ip = []
    i = 0
    while i < len(P):
        if P[i] >= len(fm):
            err('unknown opcode %d' % P[i])
        ip.append(i)
        i += 1 + calcsize(fm[P[i]])
    if i != len(P):
        err('truncated program')
    c.ip = array('i', ip)
    for i in ip:
        if P[i] in (_OP_ENDLOOP, _OP_JMP) and unpack_from('<H', P, i + 1)[0] >= len(ip):
            err('jump target past the end')
