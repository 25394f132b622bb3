# SPEC section 11, phases 2-4 of a tick for every tile: the cores, the probes,
# learning, and the state hash.  Full boards run it under nt_seq.  A small board in
# split mode (SPEC section 19) holds only this module, the cores and its tiles: the
# host runs the loader, the sequencer and the router, builds the tiles through
# nt_new (mk tl wt done), then calls go, step once per tick, and reads the final
# state with rd.
import gc
try:
    from micropython import const
except ImportError:
    def const(x):
        return x

_CORE_TDMAC = const(2)
_FEAT_LIF = const(1)
_FEAT_TDMAC = const(2)
_NO_ARRIVAL = const(65535)
_FEAT_NOISE = const(32)
C = None  # split mode: the chip (tiles, probes, window, seed, features)


def cores(c):
    """c.core: the core function of every tile (None where the tile is off)."""
    if c.f & _FEAT_LIF:
        import nt_lif
    if c.f & _FEAT_TDMAC:
        import nt_tdm
    c.core = []
    for t in c.tiles:
        f = None
        if t is not None:
            f = nt_tdm.step if t.core == _CORE_TDMAC else nt_lif.step
        c.core.append(f)


def tiles(c, tk, hashing):
    """Phases 2-4 of tick tk on the inputs in t.cnt / t.arr; return (fired lists,
    probe values [v, u (TD-MAC: D, 0)] per probe, state hash or -1)."""
    ts = c.tiles
    # 2. cores
    fl = []
    for ti in range(len(ts)):
        t = ts[ti]
        f = None
        if t is not None:
            f = c.core[ti](c, ti, t, tk)
            t.nup += t.N
        fl.append(f)
    # 3. probes
    pr = c.pr
    pv = []
    for i in range(0, len(pr), 2):
        t = ts[pr[i]]
        n = pr[i + 1]
        if t.core == _CORE_TDMAC:
            pv.append(t.d[n])
            pv.append(0)
        else:
            pv.append(t.v[n])
            pv.append(t.u[n])
    # 4. learning, then the input buffers are cleared
    for ti in range(len(ts)):
        t = ts[ti]
        if t is None:
            continue
        if t.sp is not None and t.lr:
            import nt_stdp
            nt_stdp.learn(c, ti, t, tk, fl[ti])
        t.R = 0
        if t.core == _CORE_TDMAC:
            for k in range(t.A):
                t.arr[k] = _NO_ARRIVAL
        else:
            for k in range(t.A):
                t.cnt[k] = 0
    # the hash reads no router state, so it may come before phase 5
    h = -1
    if hashing:
        import nt_hash
        h = nt_hash.state(c)
    return fl, pv, h


# Split mode: the board-side entry points.
def go():
    """Loading done (nt_new.done has run): the chip built by nt_new, effective
    weights (noise), the cores; returns the free heap."""
    global C
    import nt_new
    C = nt_new.C
    nt_new.C = None
    if C.f & _FEAT_NOISE:
        import nt_noise
        nt_noise.init(C)
    cores(C)
    gc.collect()
    return gc.mem_free() if hasattr(gc, 'mem_free') else -1  # -1 under CPython


def step(tk, I, h):
    """Tick tk with the inputs I = [tile, axon, count or arrival]*: see tiles()."""
    ts = C.tiles
    for j in range(0, len(I), 3):
        t = ts[I[j]]
        if t.core == _CORE_TDMAC:
            t.arr[I[j + 1]] = I[j + 2]
        else:
            t.cnt[I[j + 1]] = I[j + 2]
    return tiles(C, tk, h)


def op(o, a):
    """A tile instruction (learn setw reward reset) the host's sequencer reached."""
    import nt_op
    nt_op.do(C, o, tuple(a), None)


def rd(ti, a, o=0, n=0):
    """Tile ti's state for the host: attribute a, items o .. o + n - 1 (n = 0: the
    value itself); the host reads the final state with it, a slice at a time."""
    x = getattr(C.tiles[ti], a)
    return list(x[o:o + n]) if n else x
