# SPEC section 9: the mesh router of every tile, cycle by cycle, for one tick
# (phase 5).  Imported only when some tile has routes (feature `router`).
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CORE_TDMAC = const(2)
_ROUTER_FIXED = const(1)
_SPIKE_COUNT_MAX = const(255)
_PORT_LOCAL = const(0)
_PORT_NORTH = const(1)
_PORT_EAST = const(2)
_PORT_SOUTH = const(3)
_PORT_WEST = const(4)
_N_PORTS = const(5)
_TILE_T_IN = const(13)
# a packet: [dst tile, dst axon, payload, src tile, src neuron, ready, hops, arrive]


def init(c):
    T = len(c.tiles)
    c.fi = [[[] for p in range(_N_PORTS)] for t in range(T)]
    c.rr = bytearray([_N_PORTS - 1] * (_N_PORTS * T))  # first scan starts at L
    c.lb = [0] * (_N_PORTS * T)
    c.fp = bytearray(_N_PORTS * T)


def deliver(t, a, pay):
    if t.core == _CORE_TDMAC:
        if pay < t.arr[a]:
            t.arr[a] = pay
    elif t.cnt[a] < _SPIKE_COUNT_MAX:
        t.cnt[a] += 1


def route(c, tk, S, fl, out):
    """Route the spikes fl[tile] (offset << 8 | neuron) of tick tk; return (stall, dropped)."""
    ts = c.tiles
    T = len(ts)
    W = c.W
    K = c.K
    D = c.D
    fi = c.fi
    rr = c.rr
    oq = []
    pk = []
    for ti in range(T):
        q = []
        t = ts[ti]
        if fl[ti] and t.ro is not None:
            tin = t.p[_TILE_T_IN] if t.core == _CORE_TDMAC else 0
            for x in fl[ti]:
                n = x & 255
                o = x >> 8
                for j in range(2 * t.ro[n], 2 * t.ro[n + 1], 2):
                    q.append([t.re[j], t.re[j + 1], o - tin, ti, n, o, 0, -1])
        oq.append(q)
        pk.extend(q)
    hd = [0] * T
    live = len(pk)
    busy = 0  # packets inside FIFOs
    cy = 0
    step = (0, -W, 1, W, -1)
    while live:
        if cy >= K and c.mode == _ROUTER_FIXED:
            break
        if not busy:  # empty network: skip to the next ready packet
            cy = max(cy, min([oq[i][hd[i]][5] for i in range(T) if hd[i] < len(oq[i])]))
        gr = []
        inj = []
        for ti in range(T):
            F = fi[ti]
            x = ti % W
            y = ti // W
            req = [-1] * _N_PORTS
            for p in range(_N_PORTS):
                if F[p]:
                    d = F[p][0][0]
                    dx = d % W
                    dy = d // W
                    req[p] = (_PORT_EAST if dx > x else _PORT_WEST if dx < x else _PORT_SOUTH
                              if dy > y else _PORT_NORTH if dy < y else _PORT_LOCAL)
            for op in range(_N_PORTS):
                if op not in req:
                    continue
                r = rr[ti * _N_PORTS + op]
                for i in range(1, _N_PORTS + 1):
                    p = (r + i) % _N_PORTS
                    if req[p] == op:
                        break
                # credit: the neighbour's FIFO as it was at the start of the cycle
                if op and len(fi[ti + step[op]][(op + 1) % 4 + 1]) >= D:
                    continue
                rr[ti * _N_PORTS + op] = p
                gr.append((ti, p, op))
            q = oq[ti]
            if hd[ti] < len(q) and q[hd[ti]][5] <= cy and len(F[_PORT_LOCAL]) < D:
                inj.append(ti)
        mv = []
        for ti, p, op in gr:
            k = fi[ti][p].pop(0)
            c.lb[ti * _N_PORTS + op] += 1
            if op == _PORT_LOCAL:
                deliver(ts[ti], k[1], k[2])
                k[7] = S + cy
                live -= 1
                busy -= 1
            else:
                k[6] += 1
                mv.append((ti + step[op], (op + 1) % 4 + 1, k))
        for ti in inj:
            mv.append((ti, _PORT_LOCAL, oq[ti][hd[ti]]))
            hd[ti] += 1
            busy += 1
        for ti, p, k in mv:
            f = c.fi[ti][p]
            f.append(k)
            if len(f) > c.fp[ti * _N_PORTS + p]:
                c.fp[ti * _N_PORTS + p] = len(f)
        cy += 1
    if live:  # fixed mode: the rest is late
        for F in fi:
            for f in F:
                while f:
                    f.pop()
    for k in pk:
        out.pkt(tk, k[3], k[4], k[0], k[1], S + k[5], k[7], k[6])
    return (cy - K if cy > K else 0), live
