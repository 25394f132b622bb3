"""Hypothesis strategies for valid neurotile programs (emulator.image.Program).

``programs()`` draws a small chip that exercises every feature of docs/SPEC.md:
LIF and TD-MAC tiles mixed on meshes up to 4x4 (some tiles off), random routes
with multicast, both router modes, FIFO depth 1..4, windows small enough that the
fixed mode drops packets, STDP (pair and reward, deterministic and stochastic
rounding), every analog non-ideality, all LIF and TD-MAC options, spike blocks,
nested loops, setw, learn, reward, reset, mark and probes. Programs are small (a
few neurons per tile, at most ``max_ticks`` ticks) so that the reference backend
runs hundreds of them in minutes, and biased so that neurons actually fire.

``runs()`` draws ``(program, ticks)`` pairs for the differential test: it adds
programs that loop forever with `jmp` (run with a tick limit) and tick limits
shorter than a program.

Parameters shrink well (they are drawn one by one); bulky data (weights, routes,
spike events) comes from a numpy generator seeded by one drawn integer, which
keeps generation fast.
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from emulator import image, isa

MAX_TICKS = 24


@st.composite
def _lif_params(draw, wmax, window):
    p = {}
    p["vth"] = draw(st.one_of(st.integers(1, 3 * wmax), st.integers(1, 1 << 12),
                              st.just(isa.STATE_MAX)))
    p["bias"] = draw(st.one_of(st.just(0), st.integers(-wmax, 2 * wmax),
                               st.integers(isa.STATE_MIN, isa.STATE_MAX)))
    p["du"] = draw(st.one_of(st.just(4096), st.just(0), st.integers(0, 4096)))
    p["dv"] = draw(st.one_of(st.just(0), st.just(4096), st.integers(0, 4096)))
    p["refractory"] = draw(st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 255)))
    p["reset"] = draw(st.sampled_from([isa.RESET_ZERO, isa.RESET_SUBTRACT]))
    p["wshift"] = draw(st.one_of(st.just(0), st.integers(0, 3), st.integers(0, 15)))
    return p


@st.composite
def _tdmac_params(draw, wmax, window, axons):
    p = {}
    p["t_in"] = t_in = draw(st.integers(1, window - 1))
    p["charge"] = draw(st.sampled_from([isa.CHARGE_LINEAR, isa.CHARGE_RC]))
    p["ramp"] = draw(st.one_of(st.integers(0, 4), st.integers(0, 300)))
    if p["charge"] == isa.CHARGE_RC:
        p["rail"] = draw(st.one_of(st.integers(1, 64), st.integers(1, 1 << 20)))
        p["rc_shift"] = draw(st.integers(0, 12))
        p["theta"] = draw(st.one_of(st.integers(1, max(1, p["rail"])),
                                    st.integers(1, (1 << 30) - 1)))
    else:
        top = max(2, wmax * t_in * max(1, axons // 2))
        p["theta"] = draw(st.one_of(st.integers(1, top), st.integers(1, (1 << 30) - 1)))
    return p


@st.composite
def _noise_params(draw, vth_scale):
    p = {}
    if draw(st.integers(0, 2)) == 0:          # a third of the tiles are noisy
        p["quant"] = draw(st.one_of(st.just(0), st.integers(2, 8), st.integers(2, 256)))
        p["variation"] = draw(st.one_of(st.just(0), st.integers(0, 127)))
        p["cmp_offset"] = draw(st.one_of(st.just(0), st.integers(0, max(1, vth_scale)),
                                         st.integers(0, 32767)))
        p["cmp_noise"] = draw(st.one_of(st.just(0), st.integers(0, max(1, vth_scale)),
                                        st.integers(0, 32767)))
    return p


@st.composite
def _stdp_params(draw, wmax_b=127):
    s = isa.STDP.defaults()
    s["enabled"] = draw(st.sampled_from([1, 1, 1, 0]))
    s["mode"] = draw(st.sampled_from([isa.STDP_PAIR, isa.STDP_REWARD]))
    s["pre_inc"] = draw(st.integers(0, 255))
    s["post_inc"] = draw(st.integers(0, 255))
    s["pre_shift"] = draw(st.integers(0, 8))
    s["post_shift"] = draw(st.integers(0, 8))
    s["a_plus"] = draw(st.integers(0, 255))
    s["a_minus"] = draw(st.integers(0, 255))
    s["frac_bits"] = draw(st.one_of(st.integers(0, 6), st.integers(0, 16)))
    s["stochastic"] = draw(st.integers(0, 1))
    # the clamp range must meet the tile's own range (the loader refuses an empty one)
    lo = draw(st.integers(-127, wmax_b))
    hi = draw(st.integers(max(lo, -wmax_b), 127))
    if draw(st.booleans()):
        lo, hi = -127, 127
    s["wmin"], s["wmax"] = lo, hi
    s["elig_shift"] = draw(st.integers(0, 15))
    s["reward_shift"] = draw(st.one_of(st.integers(0, 4), st.integers(0, 15)))
    return s


@st.composite
def _tile(draw, window, rng, max_axons, max_neurons):
    core = draw(st.sampled_from([isa.CORE_LIF, isa.CORE_LIF, isa.CORE_TDMAC]))
    axons = draw(st.integers(1, max_axons))
    neurons = draw(st.integers(1, max_neurons))
    wbits = draw(st.one_of(st.just(8), st.integers(2, 8)))
    wmax = (1 << (wbits - 1)) - 1
    params = {"wbits": wbits}
    if core == isa.CORE_LIF:
        params.update(draw(_lif_params(wmax, window)))
        scale = params["vth"] if params["vth"] < 1 << 12 else wmax
    else:
        params.update(draw(_tdmac_params(wmax, window, axons)))
        scale = min(params["theta"], 1 << 12)
    params.update(draw(_noise_params(scale)))
    t = image.new_tile(core, axons, neurons, **params)
    # weights biased positive so that neurons fire; some all-negative columns
    bias = draw(st.sampled_from([0, 0, 1, 2]))
    lo = -wmax if bias == 0 else -(wmax // (bias + 1))
    t.weights[:] = rng.integers(lo, wmax + 1, size=(axons, neurons)).astype(np.int8)
    if core == isa.CORE_LIF and draw(st.booleans()):
        t.stdp = draw(_stdp_params(wmax))
    return t


@st.composite
def _code(draw, tiles, n_blocks, budget, window, depth=0):
    """A list of instructions running at most ``budget`` ticks (loops unrolled)."""
    code = []
    ticks = 0
    n_stmts = draw(st.integers(1, 8 if depth == 0 else 4))
    on = [i for i, t in enumerate(tiles) if t is not None]
    for _ in range(n_stmts):
        kind = draw(st.sampled_from(
            ["run", "run", "run", "inject", "inject", "inject", "play", "learn", "setw",
             "reward", "reset", "mark", "loop"]))
        if kind == "run":
            if budget - ticks < 1:
                continue
            n = draw(st.integers(1, min(4, budget - ticks)))
            code.append(("run", (n,)))
            ticks += n
        elif kind == "inject":
            ti = draw(st.sampled_from(on))
            for _ in range(draw(st.integers(1, 4))):
                code.append(("inject", (ti, draw(st.integers(0, tiles[ti].axons - 1)),
                                        draw(st.integers(0, window - 1)))))
        elif kind == "play" and n_blocks:
            code.append(("play", (draw(st.integers(0, n_blocks - 1)),)))
        elif kind == "learn":
            code.append(("learn", (draw(st.sampled_from(on + [isa.ALL_TILES])),
                                   draw(st.integers(0, 1)))))
        elif kind == "setw":
            ti = draw(st.sampled_from(on))
            t = tiles[ti]
            code.append(("setw", (ti, draw(st.integers(0, t.axons - 1)),
                                  draw(st.integers(0, t.neurons - 1)),
                                  draw(st.integers(-127, 127)))))
        elif kind == "reward":
            # mostly aimed at reward-mode tiles and followed by a tick, so that rewards
            # actually meet eligibility and move weights
            learners = [i for i in on if tiles[i].stdp is not None
                        and tiles[i].stdp["mode"] == isa.STDP_REWARD]
            target = draw(st.sampled_from(learners if learners and draw(st.integers(0, 3))
                                          else on + [isa.ALL_TILES]))
            code.append(("reward", (target, draw(st.one_of(st.integers(-64, 64),
                                                           st.integers(-32768, 32767))))))
            if budget - ticks >= 1 and draw(st.booleans()):
                code.append(("run", (1,)))
                ticks += 1
        elif kind == "reset":
            code.append(("reset", (draw(st.sampled_from(on + [isa.ALL_TILES])),)))
        elif kind == "mark":
            code.append(("mark", (draw(st.integers(0, 65535)),)))
        elif kind == "loop" and depth < 2 and budget - ticks >= 2:
            count = draw(st.integers(1, 3))
            body, bt = draw(_code(tiles, n_blocks, (budget - ticks) // count, window, depth + 1))
            code.append(("loop", (count,)))
            code.extend(body)
            code.append(("endloop", (0,)))       # target fixed up by _fix_targets
            ticks += count * bt
    return code, ticks


def _fix_targets(code):
    stack = []
    out = []
    for pc, (m, ops) in enumerate(code):
        if m == "loop":
            stack.append(pc + 1)
        elif m == "endloop":
            ops = (stack.pop(),)
        out.append((m, ops))
    return out


@st.composite
def programs(draw, max_side=4, max_axons=8, max_neurons=8, max_ticks=MAX_TICKS, allow_jmp=False):
    """A valid Program exercising the whole chip (see the module docstring)."""
    rng = np.random.default_rng(draw(st.integers(0, 2 ** 32 - 1)))
    w = draw(st.one_of(st.just(1), st.integers(1, max_side)))
    h = draw(st.one_of(st.just(1), st.integers(1, max_side)))
    if w * h > 8:                       # big meshes are rarer: they cost the reference most
        if draw(st.integers(0, 2)):
            w, h = min(w, 2), min(h, 2)
    window = draw(st.one_of(st.integers(2, 8), st.integers(2, 40)))
    prog = image.new_program(
        w, h, window=window,
        router_mode=draw(st.sampled_from([isa.ROUTER_BARRIER, isa.ROUTER_FIXED])),
        fifo_depth=draw(st.integers(1, 4)),
        seed=draw(st.one_of(st.just(1), st.integers(0, 2 ** 32 - 1))))
    n = w * h
    on = draw(st.lists(st.booleans(), min_size=n, max_size=n))
    if not any(on):
        on[draw(st.integers(0, n - 1))] = True
    for ti in range(n):
        if on[ti] or draw(st.integers(0, 3)) != 0:
            prog.tiles[ti] = draw(_tile(window, rng, max_axons, max_neurons))
    live = [i for i, t in enumerate(prog.tiles) if t is not None]
    # routes: 0-3 destinations per neuron (multicast), a third of the tiles silent
    fanout = draw(st.sampled_from([0, 1, 2, 3]))
    # a hot spot (most packets to one tile) makes packets queue behind each other, so
    # FIFOs fill, arbitration matters and back-pressure reaches upstream routers
    hot = live[int(rng.integers(0, len(live)))] if draw(st.integers(0, 2)) == 0 else None
    if hot is not None:
        fanout = 3
        if len(live) > 1:           # two or more inputs into one router: room to queue
            prog.chip["fifo_depth"] = max(2, prog.chip["fifo_depth"])
    for ti in live:
        t = prog.tiles[ti]
        if fanout == 0 or (hot is None and rng.integers(0, 3) == 0):
            continue
        for nrn in range(t.neurons):
            m = int(rng.integers(0, fanout + 1))
            dests = []
            for _ in range(m):
                dt = live[int(rng.integers(0, len(live)))]
                if hot is not None and rng.integers(0, 5):
                    dt = hot
                dests.append((dt, int(rng.integers(0, prog.tiles[dt].axons))))
            t.routes[nrn] = dests
    # probes
    for _ in range(draw(st.integers(0, 4))):
        ti = draw(st.sampled_from(live))
        prog.probes.append((ti, draw(st.integers(0, prog.tiles[ti].neurons - 1))))
    # spike blocks
    for _ in range(draw(st.integers(0, 3))):
        n_ev = int(rng.integers(0, 20))
        rows = []
        for _ in range(n_ev):
            ti = live[int(rng.integers(0, len(live)))]
            rows.append((int(rng.integers(0, 7)), ti, int(rng.integers(0, prog.tiles[ti].axons)),
                         int(rng.integers(0, window))))
        rows.sort(key=lambda r: r[0])
        prog.blocks.append(np.array(rows, np.int64).reshape(-1, 4))
    code, ticks = draw(_code(prog.tiles, len(prog.blocks), max_ticks, window))
    if ticks == 0:
        code.append(("run", (draw(st.integers(1, 3)),)))
    tail = draw(st.sampled_from(["", "", "halt", "halt+dead", "jmp"] if allow_jmp
                                else ["", "", "halt", "halt+dead"]))
    if tail.startswith("halt"):
        code.append(("halt", ()))
        if tail == "halt+dead":
            code.append(("run", (5,)))
            code.append(("mark", (7,)))
    elif tail == "jmp":
        code.append(("jmp", (0,)))
    prog.code = _fix_targets(code)
    prog.name = draw(st.sampled_from(["", "hyp"]))
    image.validate(prog)
    return prog


@st.composite
def runs(draw, **kw):
    """(program, ticks) for a run: ticks is None (the program's own length), a limit
    shorter or longer than the program, or the limit a `jmp` program needs."""
    prog = draw(programs(allow_jmp=True, **kw))
    own = prog.static_ticks()
    if own is None:
        return prog, draw(st.integers(1, MAX_TICKS))
    choice = draw(st.integers(0, 5))
    if choice == 0:
        return prog, draw(st.integers(0, own + 3))
    return prog, None
