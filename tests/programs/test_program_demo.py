"""demo.spk (the quick start's program): every part of the chip visibly does its job."""

import numpy as np
from program_helpers import run_program, spikes_of


def test_demo_exercises_every_tile_the_router_and_learning():
    tr = run_program("demo.spk")
    a = tr.arrays
    # the relay (tile 0) answers each input spike with exactly one spike of the same index
    tick, _, neuron = spikes_of(tr, 0)
    inp = a["inp_tile"] == 0
    assert sorted(zip(tick.tolist(), neuron.tolist())) == \
        sorted(zip(a["inp_tick"][inp].tolist(), a["inp_axon"][inp].tolist()))
    # every tile fires; the TD-MAC tile only in its fire phase (offset >= t_in = 16)
    for t in range(4):
        assert len(spikes_of(tr, t)[0]) > 0
    assert (spikes_of(tr, 2)[1] >= 16).all()
    # XY routing: one hop to the neighbours, two to the diagonal tile; nothing lost
    hops = {(s, d): set(a["pkt_hops"][(a["pkt_src_tile"] == s) & (a["pkt_dst_tile"] == d)].tolist())
            for s, d in [(0, 1), (0, 3), (1, 3), (2, 3)]}
    assert hops == {(0, 1): {1}, (0, 3): {2}, (1, 3): {1}, (2, 3): {1}}
    assert (a["pkt_arrive"] >= 0).all()
    assert ((a["pkt_arrive"] - a["pkt_ready"]) >= a["pkt_hops"] + 1).all()
    # STDP moved tile 1's weights within its clamps, and each neuron came to prefer a
    # part of the sweep (its weight mass concentrated on some axon groups)
    w0 = a["w_init"][a["w_offsets"][1]:a["w_offsets"][2]].reshape(32, 8).astype(int)
    w1 = a["w_final"][a["w_offsets"][1]:a["w_offsets"][2]].reshape(32, 8).astype(int)
    assert (w0 != w1).sum() > 100 and w1.min() >= 0 and w1.max() <= 40
    groups = w1.reshape(8, 4, 8).sum(axis=1)            # sweep position x neuron
    peaked = groups.max(axis=0) >= 2 * groups.mean(axis=0)
    assert peaked.sum() >= 6
    before = w0.reshape(8, 4, 8).sum(axis=1)
    assert (before.max(axis=0) >= 2 * before.mean(axis=0)).sum() <= 2
