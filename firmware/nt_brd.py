# The board-side entry points the host calls through the dispatcher (hil).
# The module is also the recorder: nt_seq calls inp/spike/probe/pkt/mark/tick
# on it, and they append one tagged tuple per callback to E.
import gc
B = None  # image bytes while uploading
C = None  # the loaded chip
H = 0  # state hashing on
E = []  # events of the current run call


def fr():
    gc.collect()
    return gc.mem_free() if hasattr(gc, 'mem_free') else -1  # -1 under CPython


def begin(n):
    global B, C
    B = C = None
    gc.collect()
    B = bytearray(n)
    return fr()


def put(o, h):
    n = len(h) // 2
    for i in range(n):
        B[o + i] = int(h[2 * i:2 * i + 2], 16)
    gc.collect()
    return n


def drop(k):
    # sys is on every board; tests/test_firmware_constants.py's import list lacks it
    # (the micro:bit's 1.9.2 has no sys.modules: load() also deletes the functions)
    m = getattr(__import__('sys'), 'modules', None)
    if m is not None and k in m:
        del m[k]
    gc.collect()


def load(s, h):
    """Loader stages one at a time, each dropped before the next is imported."""
    global B, C, H
    try:
        import nt_img
        f, n = nt_img.hdr(B)
        del nt_img.hdr, nt_img.load
        nt_img = None
        drop('nt_img')
        import nt_ims
        C = nt_ims.load(B, f, n)
        del nt_ims.load
        B = nt_ims = None
        drop('nt_ims')
        drop('nt_imo')
        drop('nt_new')
        import nt_imx
        nt_imx.check(C)
        del nt_imx.check
        nt_imx = None
        drop('nt_imx')
        import nt_ims
        nt_ims.fin(C, s)
        nt_ims = None
        drop('nt_ims')
    except ValueError:
        B = C = None
        raise
    H = h
    import nt_seq
    nt_seq.start(C)
    return fr(), C.T


def run(n):
    global E
    E = []
    import nt_seq
    import nt_brd  # this module: the recorder
    d = nt_seq.run(C, n, nt_brd, H)
    e = E
    E = []
    gc.collect()
    return d, e


def inp(*a):
    E.append(('i',) + a)


def spike(*a):
    E.append(('s',) + a)


def probe(*a):
    E.append(('p',) + a)


def pkt(*a):
    E.append(('k',) + a)


def mark(*a):
    E.append(('m',) + a)


def tick(*a):
    E.append(('t',) + a)


def final():
    import nt_fin
    W, V, U, K = nt_fin.final(C)
    r = (W, V, U, K, list(C.lb) if C.lb else None, list(C.fp) if C.lb else None)
    gc.collect()
    return r


def info():
    f = m = 0
    if C:
        f = C.f
        for t in C.tiles:
            if t and t.A * t.N > m:
                m = t.A * t.N
    return fr(), f, m
