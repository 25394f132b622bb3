# The final state of every tile for the host (hil), imported only when the host
# asks for it: weights as hex text, v and u (TD-MAC: the charges q, and zeros),
# and the counters syn mac nup sup.
X = b'0123456789abcdef'


def hx(w, o, n):
    """Weights w[o:o + n] as hex text, two's complement bytes."""
    b = bytearray(2 * n)
    for j in range(n):
        x = w[o + j] & 255
        b[2 * j] = X[x >> 4]
        b[2 * j + 1] = X[x & 15]
    return str(b, 'utf-8')


def final(c, weights=True):
    """The final state for the host: (W, V, U, K) per tile, weights as hex text
    (weights=False: their count; a small board sends them in slices, see wx), v and
    u (TD-MAC: the charges q, and zeros), counters syn mac nup sup."""
    W = []
    V = []
    U = []
    K = []
    for t in c.tiles:
        if t is None:
            W.append(None)
            V.append(None)
            U.append(None)
            K.append([0, 0, 0, 0])
            continue
        W.append(hx(t.w, 0, len(t.w)) if weights else len(t.w))
        if t.ref is None:
            V.append(list(t.q))
            U.append([0] * t.N)
        else:
            V.append(list(t.v))
            U.append(list(t.u))
        K.append([t.syn, t.mac, t.nup, t.sup])
    return W, V, U, K
