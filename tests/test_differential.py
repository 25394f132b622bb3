"""The two emulator backends agree exactly (==, never allclose) on random programs.

Programs come from tests/strategies.py and cover every feature of docs/SPEC.md;
``test_strategy_exercises_every_feature`` checks on a sample that the features
actually happen (packets dropped, stalls, STDP changing weights, TD-MAC spikes,
noise...), so that agreement cannot be vacuous. Example count: the hypothesis
profile (``ci``: 500, ``deep``: 10,000; see conftest.py).
"""

from __future__ import annotations

from collections import Counter

import numpy as np
import pytest
from hypothesis import Phase, given, settings

from emulator import image, isa
from emulator.backends import RunError, numba_backend, reference
from tests.strategies import programs, runs


def _run(backend, prog, data, ticks, state_hash):
    try:
        return backend.run(prog, data, ticks=ticks, state_hash=state_hash)
    except RunError as e:
        return e


def _explain(prog, ticks, ta, tb):
    d = ta.first_divergence(tb)
    return "backends disagree (ticks=%r): %r\nprogram code: %r" % (ticks, d, prog.code)


@given(runs())
def test_reference_and_numba_agree(case):
    prog, ticks = case
    data = image.encode(prog)
    # the state hash is part of the trace: ask for it on half the runs
    want_hash = bool(len(data) % 2)
    ta = _run(reference, prog, data, ticks, want_hash)
    tb = _run(numba_backend, prog, data, ticks, want_hash)
    if isinstance(ta, RunError) or isinstance(tb, RunError):
        assert type(ta) is type(tb), (ta, tb)
        return
    assert ta.agrees(tb), _explain(prog, ticks, ta, tb)


def _features(prog, tr):
    """The features a run of prog actually exercised (trace from any backend)."""
    a = tr.arrays
    seen = set()
    if a["dropped"].sum() > 0:
        seen.add("dropped packets")
    if a["stall"].sum() > 0:
        seen.add("stalls")
    if len(a["pkt_tick"]) and (a["pkt_hops"] > 0).any():
        seen.add("multi-hop packets")
    src = np.stack([a["pkt_tick"], a["pkt_src_tile"], a["pkt_src_neuron"]], 1)
    if len(src) and len(np.unique(src, axis=0)) < len(src):
        seen.add("multicast")
    if (a["fifo_peak"] >= 2).any():
        seen.add("fifo occupancy >= 2")
    tiles = prog.tiles
    spk_tiles = set(a["spk_tile"].tolist())
    wo = a["w_offsets"]
    for ti, t in enumerate(tiles):
        if t is None:
            continue
        sl = slice(wo[ti], wo[ti + 1])
        changed = not np.array_equal(a["w_init"][sl], a["w_final"][sl])
        if t.stdp is not None and changed:
            seen.add("stdp %s weight change" % ("pair" if t.stdp["mode"] == isa.STDP_PAIR else "reward"))
            if t.stdp["stochastic"] and t.stdp["frac_bits"]:
                seen.add("stochastic rounding weight change")
        if ti in spk_tiles:
            if t.core == isa.CORE_TDMAC:
                seen.add("tdmac %s spikes" % isa.CHARGE_NAMES[t.params["charge"]])
            else:
                seen.add("lif spikes")
            p = t.params
            for opt in ("quant", "variation", "cmp_offset", "cmp_noise"):
                if p[opt]:
                    seen.add("%s with spikes" % opt)
    if a["cnt_stdp_updates"].sum() > 0:
        seen.add("stdp updates")
    if len(a["inp_tick"]):
        seen.add("external inputs")
    if len(a["mark_tick"]):
        seen.add("marks")
    if a["probe_v"].size and (a["probe_v"] != 0).any():
        seen.add("probes")
    ops = {m for m, _ in prog.code}
    for m in ("loop", "play", "setw", "reward", "reset", "learn", "jmp"):
        if m in ops:
            seen.add("op " + m)
    if prog.chip["mesh_w"] * prog.chip["mesh_h"] > 1 and sum(t is not None for t in tiles) > 1 \
            and len({isa.CORE_LIF, isa.CORE_TDMAC} & {t.core for t in tiles if t is not None}) == 2:
        seen.add("mixed cores")
    return seen


EXPECTED = {
    "dropped packets", "stalls", "multi-hop packets", "multicast", "fifo occupancy >= 2",
    "stdp pair weight change", "stdp reward weight change", "stochastic rounding weight change",
    "tdmac linear spikes", "tdmac rc spikes", "lif spikes", "quant with spikes",
    "variation with spikes", "cmp_offset with spikes", "cmp_noise with spikes", "stdp updates",
    "external inputs", "marks", "probes", "op loop", "op play", "op setw", "op reward",
    "op reset", "op learn", "op jmp", "mixed cores",
}


def test_strategy_exercises_every_feature():
    """On 300 drawn programs every feature happens at least 3 times (numba runs: fast)."""
    counts = Counter()

    @settings(max_examples=300, database=None, phases=[Phase.generate], deadline=None,
              derandomize=True)
    @given(runs())
    def collect(case):
        prog, ticks = case
        try:
            tr = numba_backend.run(prog, image.encode(prog), ticks=ticks)
        except RunError:
            counts["run errors"] += 1
            return
        counts.update(_features(prog, tr))

    collect()
    rare = {f: counts[f] for f in EXPECTED if counts[f] < 3}
    assert not rare, "features the strategy rarely exercises: %r (all: %r)" % (rare, dict(counts))
