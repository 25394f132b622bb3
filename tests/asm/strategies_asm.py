"""Hypothesis strategies for valid :class:`emulator.image.Program` objects.

Everything is drawn from the ranges in :mod:`emulator.isa`, so a new field or
instruction there is exercised without touching this file. Sizes stay small
(meshes up to 3x3, tiles up to 12x12) so that round-trip tests are fast.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from emulator import image, isa


_FIELD_STRATEGIES = {}


def _field_value(draw, f: isa.Field):
    # boundary values or anything in range; strategies are built once per field
    # (hypothesis spends most of its time analysing freshly built strategies)
    strat = _FIELD_STRATEGIES.get((f.lo, f.hi, f.default))
    if strat is None:
        strat = _FIELD_STRATEGIES[(f.lo, f.hi, f.default)] = st.one_of(st.sampled_from(sorted({f.lo, f.hi, f.default})),
                                                 st.integers(f.lo, f.hi))
    return draw(strat)


def _pick(draw, items):
    return items[draw(st.integers(0, len(items) - 1))]


@st.composite
def chips(draw):
    c = {f.name: _field_value(draw, f) for f in isa.CHIP.fields}
    c["mesh_w"] = draw(st.integers(1, 3))
    c["mesh_h"] = draw(st.integers(1, 3))
    c["window"] = draw(st.integers(2, 40)) if draw(st.booleans()) else draw(st.integers(2, isa.MAX_WINDOW))
    return c


@st.composite
def tiles(draw, window: int):
    p = {f.name: _field_value(draw, f) for f in isa.TILE.fields}
    p["core"] = _pick(draw, [isa.CORE_LIF, isa.CORE_TDMAC])
    p["axons"] = draw(st.integers(1, 12))
    p["neurons"] = draw(st.integers(1, 12))
    p["t_in"] = draw(st.integers(1, window - 1))
    if p["quant"] == 1:
        p["quant"] = 0
    wmax = (1 << (p["wbits"] - 1)) - 1
    # weights from a drawn seed (drawing 144 integers one by one is slow), with the
    # extremes and zeros over-represented so that clipping edges and empty rows occur
    kind = _pick(draw, ["zero", "random", "sparse", "extreme"])
    rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
    shape = (p["axons"], p["neurons"])
    if kind == "zero":
        w = np.zeros(shape, np.int64)
    elif kind == "extreme":
        w = rng.choice([-wmax, 0, wmax], size=shape)
    else:
        w = rng.integers(-wmax, wmax + 1, size=shape)
        if kind == "sparse":
            w[rng.random(shape) < 0.8] = 0
    w = w.astype(np.int8)
    stdp = None
    if p["core"] == isa.CORE_LIF and draw(st.booleans()):
        stdp = {f.name: _field_value(draw, f) for f in isa.STDP.fields}
        if stdp["wmin"] > stdp["wmax"]:
            stdp["wmin"], stdp["wmax"] = stdp["wmax"], stdp["wmin"]
        # the clamp range must meet the tile's own range (the loader refuses an empty one)
        stdp["wmin"] = min(stdp["wmin"], wmax)
        stdp["wmax"] = max(stdp["wmax"], -wmax)
    return image.Tile(params=p, weights=w, routes=[[] for _ in range(p["neurons"])], stdp=stdp)


@st.composite
def programs(draw, max_code: int = 30):
    """A valid Program (``image.validate`` accepts it)."""
    chip = draw(chips())
    n = chip["mesh_w"] * chip["mesh_h"]
    window = chip["window"]
    prog = image.Program(chip=chip, tiles=[None] * n)
    on = draw(st.lists(st.integers(0, n - 1), min_size=1, max_size=n, unique=True))
    for ti in on:
        prog.tiles[ti] = draw(tiles(window))
    on = sorted(on)
    def dest():
        t = _pick(draw, on)
        return (t, draw(st.integers(0, prog.tiles[t].axons - 1)))

    for ti in on:
        t = prog.tiles[ti]
        if draw(st.booleans()):
            t.routes = [[dest() for _ in range(draw(st.integers(0, 4)))] for _ in range(t.neurons)]
            if draw(st.booleans()):       # a structured pattern the disassembler compresses
                d = _pick(draw, on)
                k = min(t.neurons, prog.tiles[d].axons)
                for i in range(k):
                    t.routes[i] = [(d, i)] + t.routes[i]
    def neuron():
        t = _pick(draw, on)
        return (t, draw(st.integers(0, prog.tiles[t].neurons - 1)))

    def event():
        t = _pick(draw, on)
        dtick = draw(st.integers(0, 5)) if draw(st.booleans()) else draw(st.integers(0, 0xFFFF))
        off = draw(st.integers(0, window - 1)) if draw(st.booleans()) else 0
        return (dtick, t, draw(st.integers(0, prog.tiles[t].axons - 1)), off)

    prog.probes = [neuron() for _ in range(draw(st.integers(0, 6)))]
    for _ in range(draw(st.integers(0, 3))):
        ev = [event() for _ in range(draw(st.integers(0, 12)))]
        if ev and ev[0][0] + 2 <= 0xFFFF and draw(st.booleans()):    # repeats, as real inputs have
            ev += [(ev[0][0] + 1,) + ev[0][1:]] + [(ev[0][0] + 2,) + ev[0][1:]]
        ev.sort(key=lambda e: e[0])
        prog.blocks.append(np.array(ev, dtype=np.int64).reshape(-1, 4))
    prog.code = draw(code(prog, max_code))
    prog.name = draw(st.text(max_size=12)) if draw(st.booleans()) else ""
    image.validate(prog)
    return prog


@st.composite
def code(draw, prog, max_len: int):
    on = [i for i, t in enumerate(prog.tiles) if t is not None]
    window = prog.chip["window"]
    out = []
    loops = []
    jumps = []
    n = draw(st.integers(0, max_len))
    for _ in range(n):
        choices = [i for i in isa.INSTRUCTIONS if i.mnemonic != "endloop"
                   and not (i.mnemonic == "play" and not prog.blocks)]
        if loops:
            choices.append(isa.BY_MNEMONIC["endloop"])
        ins = _pick(draw, choices)
        if ins.mnemonic == "loop" and len(loops) >= isa.MAX_LOOP_DEPTH:
            continue
        if ins.mnemonic == "endloop":
            out.append(("endloop", (loops.pop(),)))
            continue
        ops = []
        tile = None
        for o in ins.operands:
            if o.kind in ("tile", "tile_or_all"):
                opts = on + ([isa.ALL_TILES] if o.kind == "tile_or_all" else [])
                v = _pick(draw, opts)
                tile = prog.tiles[v] if v != isa.ALL_TILES else None
            elif o.kind == "block":
                v = draw(st.integers(0, len(prog.blocks) - 1))
            elif o.kind == "label":
                v = 0
                jumps.append(len(out))
            elif o.name == "axon" and tile is not None:
                v = draw(st.integers(0, tile.axons - 1))
            elif o.name == "neuron" and tile is not None:
                v = draw(st.integers(0, tile.neurons - 1))
            elif o.name == "offset":
                v = draw(st.integers(0, window - 1))
            else:
                v = draw(st.integers(o.lo, min(o.hi, o.lo + 10))) if draw(st.booleans()) \
                    else draw(st.integers(o.lo, o.hi))
            ops.append(v)
        if ins.mnemonic == "loop":
            loops.append(len(out) + 1)
        out.append((ins.mnemonic, tuple(ops)))
    while loops:
        out.append(("endloop", (loops.pop(),)))
    for pc in jumps:
        m, ops = out[pc]
        out[pc] = (m, (draw(st.integers(0, len(out) - 1)),))
    return out
