# SPEC sections 5 and 11: the sequencer and the tick loop (phases 1, 5 and 6; the
# tiles' phases 2-4 are in nt_til).  A board imports only the cores and units the
# image's feature bits ask for.
from struct import unpack_from
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_OP_HALT = const(0)
_OP_RUN = const(1)
_OP_INJECT = const(2)
_OP_LOOP = const(7)
_OP_ENDLOOP = const(8)
_OP_JMP = const(9)
_CORE_TDMAC = const(2)
_FEAT_ROUTER = const(4)
_SPIKE_COUNT_MAX = const(255)
_MAX_STEPS_WITHOUT_TICK = const(100000)


def start(c):
    """Sequencer state, core functions and router of a freshly loaded chip."""
    c.pc = c.left = c.tk = c.S = c.steps = 0
    c.ls = []
    c.pend = []
    c.pl = []
    c.do = None  # the rare instructions (nt_op.do), imported on first use
    import nt_til
    nt_til.cores(c)
    c.tt = nt_til.tiles  # phases 2-4; in split mode the host puts the board's here
    if c.f & _FEAT_ROUTER:
        import nt_rtr
        nt_rtr.init(c)


def ended(c):
    return c.pc >= len(c.ip) and not c.left


def run(c, n, out, hashing=False):
    """Run the program for at most n more ticks; return how many ran.

    It stops at halt or the end of the program, or before a tick past n
    (instructions up to that tick's `run` do execute).  ``out`` receives the
    results tick by tick: inp, spike, probe, pkt, mark and tick callbacks.
    """
    done = 0
    P = c.P
    while True:
        if c.left:
            if done >= n:
                return done
            tick(c, out, hashing)
            done += 1
            c.steps = 0
            c.left -= 1
            if not c.left:
                c.pc += 1
            continue
        if c.pc >= len(c.ip):
            return done
        c.steps += 1
        if c.steps > _MAX_STEPS_WITHOUT_TICK:
            raise RuntimeError('sequencer loops without run (pc %d)' % c.pc)
        i = c.ip[c.pc]
        op = P[i]
        a = unpack_from(c.fm[op], P, i + 1)
        c.pc += 1
        if op == _OP_RUN:
            c.left = a[0]
            c.pc -= 1
        elif op == _OP_HALT:
            c.pc = len(c.ip)
        elif op == _OP_INJECT:
            c.pend.append(a)
        elif op == _OP_LOOP:
            c.ls.append(a[0])
        elif op == _OP_ENDLOOP:
            c.ls[-1] -= 1
            if c.ls[-1]:
                c.pc = a[0]
            else:
                c.ls.pop()
        elif op == _OP_JMP:
            c.pc = a[0]
        else:
            if c.do is None:
                import nt_op
                c.do = nt_op.do
            c.do(c, op, a, out)

def tick(c, out, hashing):
    tk = c.tk
    ts = c.tiles
    # 1. inputs: blocks played before the last tick, then what was scheduled since
    ext = []
    if c.pl:
        import nt_op
        nt_op.play(c, ext)
    ext.extend(c.pend)
    c.pend = []
    for ti, a, o in ext:
        out.inp(tk, ti, a, o)
        t = ts[ti]
        if t.core == _CORE_TDMAC:
            if o < t.arr[a]:
                t.arr[a] = o
        elif t.cnt[a] < _SPIKE_COUNT_MAX:
            t.cnt[a] += 1
    # 2-4. cores, probes, learning (and the state hash)
    fl, pv, h = c.tt(c, tk, hashing)
    for ti in range(len(fl)):
        if fl[ti]:
            for x in fl[ti]:
                out.spike(tk, x >> 8, ti, x & 255)
    for i in range(0, len(pv), 2):
        out.probe(tk, i >> 1, pv[i], pv[i + 1])
    # 5. routing
    stall = drop = 0
    if c.f & _FEAT_ROUTER:
        import nt_rtr
        stall, drop = nt_rtr.route(c, tk, c.S, fl, out)
    # 6. bookkeeping
    out.tick(tk, c.S, stall, drop, h)
    c.S += c.K + stall
    c.tk = tk + 1
