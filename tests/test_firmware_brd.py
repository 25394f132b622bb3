"""nt_brd, the board-side entry module: its events and final state equal the reference.

The CPython tests import nt_brd from firmware/ (as the reference backend imports the
other modules); the board tests upload it to a virtual micro:bit and compare there.
"""

import time

import numpy as np
import pytest

import firmware  # (also: bare imports of the firmware modules)
from emulator.asm import assemble_file, assemble_text
from emulator.backends import reference
from emulator.image import decode

HELLO = "programs/hello_lif.spk"
TDMAC = "programs/tdmac_dot.spk"
STDP_LINE = (".stdp 0 enabled=on mode=pair pre_inc=64 post_inc=64 pre_shift=2 post_shift=2 "
             "a_plus=16 a_minus=36 frac_bits=8 wmin=-60 wmax=60\n")


def hello_stdp():
    """hello_lif with pair STDP switched on in its 16x16 tile."""
    text = open(HELLO).read()
    text = text.replace("\n.weights 0", "\n" + STDP_LINE + "\n.weights 0", 1)
    return assemble_text(text, "hello_stdp.spk", base_dir="programs")


def images():
    return {"hello_lif": assemble_file(HELLO), "hello_stdp": hello_stdp(),
            "tdmac_dot": assemble_file(TDMAC)}


def to_hex(b):
    return "".join("%02x" % x for x in b)


def check(img, events, fin, state_hash=False):
    """Compare events/final from nt_brd with the reference backend's trace of img."""
    tr = reference.run(decode(img), img, state_hash=state_hash)
    a = tr.arrays if hasattr(tr, "arrays") else tr.a
    rows = {k: [e[1:] for e in events if e[0] == k] for k in "ispkmt"}
    ev = lambda *names: [tuple(int(x) for x in r) for r in zip(*(a[n] for n in names))]  # noqa: E731
    assert rows["i"] == ev("inp_tick", "inp_tile", "inp_axon", "inp_offset")
    assert rows["s"] == ev("spk_tick", "spk_offset", "spk_tile", "spk_neuron")
    assert rows["k"] == ev("pkt_tick", "pkt_src_tile", "pkt_src_neuron", "pkt_dst_tile", "pkt_dst_axon",
                           "pkt_ready", "pkt_arrive", "pkt_hops")
    assert rows["m"] == ev("mark_tick", "mark_id")
    t = rows["t"]
    assert [r[0] for r in t] == list(range(len(t)))
    assert [r[1] for r in t] == [int(x) for x in a["tick_start"][:-1]]
    assert [r[2] for r in t] == [int(x) for x in a["stall"]]
    assert [r[3] for r in t] == [int(x) for x in a["dropped"]]
    if state_hash:
        assert [r[4] for r in t] == [int(x) for x in a["state_hash"]]
    pv = [(r[2], r[3]) for r in rows["p"]]
    assert pv == [(int(v), int(u)) for v, u in zip(a["probe_v"].ravel(), a["probe_u"].ravel())]
    W, V, U, K, lb, fp = fin
    assert "".join(w for w in W if w) == to_hex(a["w_final"].astype(np.uint8))
    assert [x for v in V if v for x in v] == [int(x) for x in a["v_final"]]
    assert [x for u in U if u for x in u] == [int(x) for x in a["u_final"]]
    assert [k[0] for k in K] == [int(x) for x in a["cnt_syn_events"]]
    assert [k[1] for k in K] == [int(x) for x in a["cnt_mac_ops"]]
    assert [k[2] for k in K] == [int(x) for x in a["cnt_neuron_updates"]]
    assert [k[3] for k in K] == [int(x) for x in a["cnt_stdp_updates"]]
    if lb is not None:
        assert lb == [int(x) for x in a["link_busy"].ravel()]
        assert fp == [int(x) for x in a["fifo_peak"].ravel()]
    return tr


def drive(call, img, chunk=48, n_ticks=7):
    """Upload img through begin/put, load, run in steps of n_ticks; return (events, final, heap)."""
    call("nt_brd.begin", len(img))
    for o in range(0, len(img), chunk):
        assert call("nt_brd.put", o, to_hex(img[o:o + chunk])) == len(img[o:o + chunk])
    free, total = call("nt_brd.load", None, 1)
    events = []
    while True:
        done, ev = call("nt_brd.run", n_ticks)
        events += ev
        if not done:
            break
    return events, call("nt_brd.final"), free, total


def local_call(name, *args):
    import nt_brd
    return getattr(nt_brd, name.split(".")[1])(*args)


@pytest.mark.parametrize("name", ["hello_lif", "hello_stdp", "tdmac_dot", "router"])
def test_nt_brd_under_cpython_equals_the_reference(name):
    img = images().get(name) or assemble_file("programs/router_congestion.spk")
    events, fin, free, total = drive(local_call, img)
    assert total == decode(img).static_ticks()
    check(img, events, fin, state_hash=True)
    _, f, m = local_call("nt_brd.info")
    assert f == int.from_bytes(img[6:8], "little") and m == max(t.axons * t.neurons for t in decode(img).tiles if t)


def test_nt_brd_rejects_a_bad_image():
    import nt_brd
    img = bytearray(assemble_file(HELLO))
    img[-1] ^= 1
    nt_brd.begin(len(img))
    nt_brd.put(0, to_hex(img))
    with pytest.raises(ValueError, match="image: "):
        nt_brd.load(None, 0)


def board_modules(img, hashing=True):
    """The firmware files a board needs for img: firmware.modules_for on the image's
    feature bits and opcodes (the same derivation as the firmware's imports)."""
    from emulator import isa
    p = decode(img)
    ops = [isa.BY_MNEMONIC[m].opcode for m, _ in p.code]
    st = any(t is not None and t.stdp and t.stdp.get("stochastic") for t in p.tiles)
    return firmware.modules_for(p.features(), ops, hashing=hashing, stochastic=st)


NAMES = ["hello_lif", "hello_stdp", "tdmac_dot"]


def test_modules_for_covers_every_import_the_run_makes():
    """Every firmware module imported while nt_brd loads and runs an image is listed."""
    import sys
    saved = {k: m for k, m in sys.modules.items() if k.startswith("nt_")}
    try:
        for name, img in images().items():
            for k in [k for k in sys.modules if k.startswith("nt_")]:
                del sys.modules[k]
            drive(local_call, img)
            used = {k + ".py" for k in sys.modules if k.startswith("nt_")}
            assert used <= set(board_modules(img)), (name, used - set(board_modules(img)))
    finally:
        for k in [k for k in sys.modules if k.startswith("nt_")]:
            del sys.modules[k]
        sys.modules.update(saved)


@pytest.mark.board
@pytest.mark.parametrize("target", [
    # Full mode cannot fit the micro:bit's heap (firmware/README.md, Memory): the
    # micro:bit runs split mode (tests/hil/test_split_mode.py, test_chip_boards.py).
    # Strict, so it fails the day full mode fits and the marker must go.
    pytest.param("qemu-microbit", marks=pytest.mark.xfail(
        strict=True, reason="full mode does not fit the micro:bit; it runs split mode")),
    "wasm"])
@pytest.mark.parametrize("name", NAMES)
def test_nt_brd_on_a_virtual_board(target, name, capsys):
    from hil import Board, firmware_sources
    img = images()[name]
    board = Board.open(target)  # a fresh board: the micro:bit file system is small
    try:
        t0 = time.time()
        board.deploy(firmware_sources(board_modules(img)), preload=["nt_brd"])
        t1 = time.time()
        board.call("nt_brd.begin", len(img))
        for o in range(0, len(img), 48):
            board.call("nt_brd.put", o, to_hex(img[o:o + 48]))
        free, total = board.call("nt_brd.load", None, 1)
        t2 = time.time()
        events = []
        while True:
            done, ev = board.call("nt_brd.run", 8)
            events += ev
            if not done:
                break
        fin = board.call("nt_brd.final")
        t3 = time.time()
        check(img, events, fin, state_hash=True)
        with capsys.disabled():
            print("\n%s %s: %d B image, %d ticks; deploy %.1f s, upload+load %.1f s, run %.1f s; "
                  "heap free after load %d, at the end %d"
                  % (target, name, len(img), total, t1 - t0, t2 - t1, t3 - t2, free,
                     board.call("nt_brd.info")[0]))
    finally:
        board.close()
