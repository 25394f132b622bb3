# SPEC section 15, loader stage 3: route checks and the program scan.
# A board drops it after loading.
from struct import unpack_from, calcsize
from array import array
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_OP_RUN = const(1)
_OP_LOOP = const(7)
_OP_ENDLOOP = const(8)
_OP_JMP = const(9)
_OP_HALT = const(0)
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
# operand formats, indexed by opcode
FM = (OPFMT_HALT, OPFMT_RUN, OPFMT_INJECT, OPFMT_PLAY, OPFMT_LEARN, OPFMT_SETW,
      OPFMT_REWARD, OPFMT_LOOP, OPFMT_ENDLOOP, OPFMT_JMP, OPFMT_RESET, OPFMT_MARK)


def err(m):
    raise ValueError('image: ' + m)


def check(c):
    """Route targets; byte offset of every instruction (c.ip), the operand formats
    (c.fm), the opcodes used (bit mask c.ops) and the static length c.T (-1: jmp)."""
    ts = c.tiles
    for ti in range(len(ts)):
        t = ts[ti]
        if t is not None:
            if t.w is None:
                err('no weights')
            if t.ro is not None:
                e = t.re
                for j in range(0, len(e), 2):
                    u = e[j]
                    if u >= len(ts) or ts[u] is None or e[j + 1] >= ts[u].A:
                        err('route target')
    c.fm = FM
    P = c.P
    ip = []
    i = 0
    while i < len(P):
        if P[i] >= len(FM):
            err('opcode %d' % P[i])
        ip.append(i)
        i += 1 + calcsize(FM[P[i]])
    if i != len(P):
        err('program')
    c.ip = array('i', ip)
    m = 0
    T = 0
    L = [1]
    h = 0
    for i in ip:
        op = P[i]
        m |= 1 << op
        if op in (_OP_ENDLOOP, _OP_JMP) and unpack_from('<H', P, i + 1)[0] >= len(ip):
            err('jump target')
        if h:
            continue
        if op == _OP_RUN:
            T += unpack_from('<I', P, i + 1)[0] * L[-1]
        elif op == _OP_LOOP:
            L.append(L[-1] * unpack_from('<I', P, i + 1)[0])
        elif op == _OP_ENDLOOP:
            if len(L) > 1:
                L.pop()
        elif op == _OP_HALT:
            h = 1
    c.ops = m
    c.T = -1 if m & (1 << _OP_JMP) else T
