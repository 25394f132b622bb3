# SPEC section 5: the rare instructions (play learn setw reward reset mark) and
# the playing of spike blocks.  nt_seq imports it only when the program uses them.
from struct import unpack_from
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_OP_PLAY = const(3)
_OP_LEARN = const(4)
_OP_SETW = const(5)
_OP_REWARD = const(6)
_OP_RESET = const(10)
_CORE_TDMAC = const(2)
_ALL_TILES = const(255)
_SPIKE_EVENT_SIZE = const(6)
SPIKE_EVENT_FMT = '<HBBH'


def sel(c, ti):
    return [t for t in c.tiles if t is not None] if ti == _ALL_TILES else [c.tiles[ti]]


def do(c, op, a, out):
    if op == _OP_PLAY:
        sb = c.sb
        nb = unpack_from('<H', sb, 0)[0]
        e0, e1 = unpack_from('<II', sb, 2 + 4 * a[0])
        b = [c.tk, e0, e1, 2 + 4 * (nb + 1)]
        events(c, b, c.pend)  # its dtick-0 events are scheduled now
        c.pl.append(b)
    elif op == _OP_LEARN:
        for t in sel(c, a[0]):
            if t.sp is not None:
                t.lr = a[1]
    elif op == _OP_SETW:
        t = c.tiles[a[0]]
        j = a[1] * t.N + a[2]
        v = max(-t.wm, min(t.wm, a[3]))
        if t.w[j] != v:
            t.w[j] = v
            if t.we is not t.w:
                import nt_noise
                nt_noise.weff(c, a[0], t, j)
    elif op == _OP_REWARD:
        for t in sel(c, a[0]):
            t.R = a[1]
    elif op == _OP_RESET:
        for t in sel(c, a[0]):
            for j in range(t.N):
                if t.core == _CORE_TDMAC:
                    t.q[j] = t.d[j] = 0
                else:
                    t.v[j] = t.u[j] = t.ref[j] = 0
    else:  # mark
        out.mark(c.tk, a[0])


def events(c, b, ext):
    """Move the events of playing block b = [start, next, end, base] due this tick to ext."""
    while b[1] < b[2]:
        d, ti, ax, o = unpack_from(SPIKE_EVENT_FMT, c.sb, b[3] + _SPIKE_EVENT_SIZE * b[1])
        if d != c.tk - b[0]:
            return
        ext.append((ti, ax, o))
        b[1] += 1


def play(c, ext):
    for b in c.pl:
        events(c, b, ext)
    c.pl = [b for b in c.pl if b[1] < b[2]]
