# SPEC section 15: check an image (framing, CRC, sections) and unpack it into
# plain records and arrays, in stages (nt_img, nt_ims, nt_imo, nt_imx) that a board
# imports and drops one at a time (nt_brd.load).
from struct import unpack_from
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

MAGIC = b'NTIL'
_FORMAT_VERSION = const(1)
HEADER_FMT = '<4sBBHII'
_HEADER_SIZE = const(16)


def err(m):
    raise ValueError('image: ' + m)


def hdr(d):
    """Check the framing (magic, version, length, CRC); return (features, length)."""
    if len(d) < _HEADER_SIZE:
        err('short file')
    mg, ver, fl, feat, ln, crc = unpack_from(HEADER_FMT, d, 0)
    if mg != MAGIC:
        err('bad magic')
    if ver != _FORMAT_VERSION or fl:
        err('version')
    if ln != len(d):
        err('length')
    c = 0xFFFFFFFF
    for i in range(_HEADER_SIZE, ln):
        c ^= d[i]
        for _ in range(8):
            c = (c >> 1) ^ (0xEDB88320 & -(c & 1))
    if c ^ 0xFFFFFFFF != crc:
        err('CRC')
    return feat, ln


def load(d, seed=None):
    """Parse image bytes ``d`` into a chip record; ``seed`` overrides the chip's."""
    f, ln = hdr(d)
    import nt_ims
    c = nt_ims.load(d, f, ln)
    import nt_imx
    nt_imx.check(c)
    return nt_ims.fin(c, seed)
