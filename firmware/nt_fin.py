# The final state of every tile for the host (hil, full mode; split mode reads it
# with nt_til.rd), imported only when the host asks for it: weights as hex text, v and u (TD-MAC: the charges q, and zeros),
# and the counters syn mac nup sup.
X = b'0123456789abcdef'


def hx(w):
    """Weights w as hex text, two's complement bytes."""
    b = bytearray(2 * len(w))
    for j in range(len(w)):
        x = w[j] & 255
        b[2 * j] = X[x >> 4]
        b[2 * j + 1] = X[x & 15]
    return str(b, 'utf-8')


def final(c):
    """The final state for the host: (W, V, U, K) per tile, weights as hex text, v and
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
        W.append(hx(t.w))
        if t.ref is None:
            V.append(list(t.q))
            U.append([0] * t.N)
        else:
            V.append(list(t.v))
            U.append(list(t.u))
        K.append([t.syn, t.mac, t.nup, t.sup])
    return W, V, U, K
