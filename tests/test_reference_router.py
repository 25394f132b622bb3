"""The mesh router of the reference backend against SPEC section 9 (scenarios computed by hand)."""

import numpy as np
import pytest

from emulator import isa
from emulator.backends import reference
from emulator.image import encode, new_program, new_tile

L, N, E, S, W = range(5)


def _run(p, **kw):
    return reference.run(p, encode(p), **kw)


def _source(routes, neurons=1):
    """A LIF tile whose neurons all fire in tick 0 (one input spike, vth 1)."""
    t = new_tile("lif", 2, neurons, vth=1)
    t.weights[:] = 1
    t.routes = routes
    return t


def _sink():
    return new_tile("lif", 2, 1, vth=1000)


@pytest.mark.parametrize("src,dst,hops", [(0, 15, 6), (0, 0, 0), (0, 3, 3), (5, 12, 3), (15, 0, 6), (6, 9, 2)])
def test_latency_is_hops_plus_one_on_an_empty_mesh(src, dst, hops):
    p = new_program(4, 4, window=16)
    p.tiles = [_sink() for _ in range(16)]
    p.tiles[src] = _source([[(dst, 1)]])
    p.tiles[src].weights[1] = 0     # its own packet must not make it fire again
    p.code = [("inject", (src, 0, 0)), ("run", (2,))]
    a = _run(p).arrays
    assert a["pkt_hops"].tolist() == [hops]
    assert (a["pkt_arrive"] - a["pkt_ready"]).tolist() == [hops + 1]
    assert a["link_busy"].sum() == hops + 1 and a["cnt_hops"].sum() == hops


def test_xy_path_goes_along_x_first_then_y():
    p = new_program(4, 4, window=16)
    p.tiles = [_sink() for _ in range(16)]
    p.tiles[0] = _source([[(15, 0)]])
    p.code = [("inject", (0, 0, 0)), ("run", (2,))]
    lb = _run(p).arrays["link_busy"]
    expect = np.zeros((16, 5), np.int64)
    expect[0, E] = expect[1, E] = expect[2, E] = 1
    expect[3, S] = expect[7, S] = expect[11, S] = 1
    expect[15, L] = 1
    assert lb.tolist() == expect.tolist()
    p.tiles[0], p.tiles[15] = _sink(), _source([[(0, 0)]])
    p.code = [("inject", (15, 0, 0)), ("run", (2,))]
    lb = _run(p).arrays["link_busy"]
    expect[:] = 0
    expect[15, W] = expect[14, W] = expect[13, W] = 1
    expect[12, N] = expect[8, N] = expect[4, N] = 1
    expect[0, L] = 1
    assert lb.tolist() == expect.tolist()


def test_one_injection_per_cycle_and_barrier_stall():
    # 8 packets from one neuron to the east neighbour: injected at cycles 0..7,
    # crossing at 1..8, ejected at 2..9; the window ends after cycle 5.
    p = new_program(2, 1, window=6, fifo_depth=4)
    p.tiles = [_source([[(1, 0)] * 8]), _sink()]
    p.code = [("inject", (0, 0, 0)), ("run", (2,))]
    a = _run(p).arrays
    assert (a["pkt_arrive"] - a["pkt_ready"]).tolist() == [2, 3, 4, 5, 6, 7, 8, 9]
    assert a["stall"].tolist() == [4, 0]           # cycles 6..9
    assert a["tick_start"].tolist() == [0, 10, 16]
    assert a["fifo_peak"][0].tolist() == [1, 0, 0, 0, 0] and a["fifo_peak"][1, W] == 1
    p.chip["router_mode"] = isa.ROUTER_FIXED
    a = _run(p).arrays
    assert a["pkt_arrive"].tolist() == [2, 3, 4, 5, -1, -1, -1, -1]
    assert a["dropped"].tolist() == [4, 0] and a["stall"].tolist() == [0, 0]
    assert a["tick_start"].tolist() == [0, 6, 12]
    assert a["cnt_syn_events"][1] == 4           # only the 4 delivered packets count


def _congestion(mode):
    # 3x1 mesh, FIFO depth 1, window 4. Tiles 0 and 1 each send two packets to tile 2;
    # tile 1's east output arbitrates between its W input (tile 0's) and its L input.
    p = new_program(3, 1, window=4, fifo_depth=1, router_mode=mode)
    p.tiles = [_source([[(2, 0), (2, 0)]]), _source([[(2, 0), (2, 0)]]), _sink()]
    p.code = [("inject", (0, 0, 0)), ("inject", (1, 0, 0)), ("run", (2,))]
    return _run(p).arrays


def test_congestion_barrier_stall_round_robin_and_back_pressure():
    a = _congestion(isa.ROUTER_BARRIER)
    # packets a0 a1 (tile 0), b0 b1 (tile 1). By hand, cycle by cycle:
    # c0: inject a0 (T0.L), b0 (T1.L)
    # c1: a0 -> T1.W, b0 -> T2.W (both credits free); no injection (L FIFOs were full)
    # c2: b0 ejected (latency 2); T1.E refuses a0 (T2.W was full); inject a1, b1
    # c3: T1.E: pointer at L, scan N, E, S, W -> grants a0 (W) over b1 (L);
    #     T0.E refuses a1 (T1.W was full)
    # c4: a0 ejected; a1 -> T1.W; T1.E picks b1 (L) but T2.W is full: refused, pointer stays W
    # c5: T1.E scans from L: grants b1 -> T2.W     c6: b1 ejected; T1.E refuses a1
    # c7: T1.E grants a1                           c8: a1 ejected.  Stall = cycles 4..8.
    assert a["pkt_src_tile"].tolist() == [0, 0, 1, 1]
    assert a["pkt_arrive"].tolist() == [4, 8, 2, 6]
    assert a["pkt_hops"].tolist() == [2, 2, 1, 1]
    assert a["stall"].tolist() == [5, 0]
    assert a["tick_start"].tolist() == [0, 9, 13]
    assert a["link_busy"].tolist() == [[0, 0, 2, 0, 0], [0, 0, 4, 0, 0], [4, 0, 0, 0, 0]]
    assert a["cnt_hops"].tolist() == [2, 4, 0]
    assert a["fifo_peak"].tolist() == [[1, 0, 0, 0, 0], [1, 0, 0, 0, 1], [0, 0, 0, 0, 1]]


def test_congestion_fixed_mode_drops_the_late_packets():
    a = _congestion(isa.ROUTER_FIXED)
    assert a["pkt_arrive"].tolist() == [-1, -1, 2, -1]
    assert a["dropped"].tolist() == [3, 0] and a["stall"].tolist() == [0, 0]
    assert a["cnt_syn_events"][2] == 1
    # round-robin pointers and FIFOs survive into tick 1 empty: nothing else happens
    assert a["tick_start"].tolist() == [0, 4, 8]


def test_round_robin_alternates_between_two_inputs():
    # tiles 0 and 2 both send 3 packets to tile 1, whose ejection port grants one per
    # cycle, alternating between its W and E inputs.
    p = new_program(3, 1, window=32, fifo_depth=4)
    p.tiles = [_source([[(1, 0)] * 3]), _sink(), _source([[(1, 1)] * 3])]
    p.code = [("inject", (0, 0, 0)), ("inject", (2, 0, 0)), ("run", (1,))]
    a = _run(p).arrays
    src = a["pkt_src_tile"]
    arrive = a["pkt_arrive"]
    order = [int(s) for _, s in sorted(zip(arrive.tolist(), src.tolist()))]
    assert sorted(arrive.tolist()) == [2, 3, 4, 5, 6, 7]
    # pointer starts at W (4): scan L, N, E first -> E (tile 2) wins the first tie
    assert order == [2, 0, 2, 0, 2, 0]


def test_no_router_module_is_imported_without_routes(tmp_path):
    import subprocess
    import sys
    p = new_program(window=4)
    t = new_tile("lif", 16, 16, vth=3)
    t.weights[:] = 1
    t.stdp = isa.STDP.defaults()
    t.stdp["enabled"] = 1
    p.tiles = [t]
    p.code = [("inject", (0, 0, 0)), ("run", (3,))]
    img = tmp_path / "x.img"
    img.write_bytes(encode(p))
    code = ("import sys, firmware, nt_img, nt_seq\n"
            "class O:\n"
            "    def __getattr__(s, n): return lambda *a: None\n"
            "c = nt_img.load(open(sys.argv[1], 'rb').read()); nt_seq.start(c); nt_seq.run(c, 10, O())\n"
            "print(' '.join(sorted(m for m in sys.modules if m.startswith('nt_'))))\n")
    out = subprocess.run([sys.executable, "-c", code, str(img)], capture_output=True, text=True, check=True)
    assert out.stdout.split() == ["nt_img", "nt_imo", "nt_ims", "nt_imx", "nt_lif", "nt_new", "nt_seq", "nt_stdp",
                                 "nt_til"]
