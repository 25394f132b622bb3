"""The constructs of docs/SPEC.md section 17 build the Program they describe."""

import numpy as np

from emulator import image, isa
from emulator.asm import assemble, assemble_text


def build(src, **kw):
    return image.decode(assemble_text(src, **kw))


def test_expressions_follow_python_integer_semantics():
    src = """
.const A = -7 / 2
.const B = -7 % 3
.const C = (1 << 4) | 0b11 ^ 0x1 & ~0
.const D = 1_000 // 7 - -3
.tile 0 lif axons=1 neurons=1 vth=A + 100 bias=B wshift=C - 16 refractory=D
"""
    p = build(src).tiles[0].params
    assert p["vth"] == -4 + 100 and p["bias"] == 2 and p["wshift"] == ((1 << 4) | 0b11 ^ 0x1 & ~0) - 16
    assert p["refractory"] == 1000 // 7 + 3


def test_tiles_by_index_or_coordinates_with_enum_names():
    src = """
.chip mesh_w=3 mesh_h=2 window=20 router_mode=fixed fifo_depth=9 seed=5
.tile (2, 1) tdmac axons=3 neurons=2 charge=rc t_in=19
.tile 1 lif axons=2 neurons=2 reset=subtract
"""
    prog = build(src)
    assert prog.chip["router_mode"] == isa.ROUTER_FIXED and prog.chip["fifo_depth"] == 9
    assert prog.tiles[5].params["charge"] == isa.CHARGE_RC and prog.tiles[5].params["t_in"] == 19
    assert prog.tiles[1].params["reset"] == isa.RESET_SUBTRACT
    assert prog.tiles[0] is None


def test_loihi_preset_maps_as_section_6_says():
    src = ".tile 0 lif axons=1 neurons=1\n.loihi 0 vth_mant=10 du=4095 dv=7 bias_mant=-3 bias_exp=2 wexp=-1\n"
    p = build(src).tiles[0].params
    assert (p["du"], p["dv"], p["wshift"], p["vth"], p["bias"], p["reset"], p["refractory"]) == \
        (4096, 7, 5, (10 << 6) + 1, -12, isa.RESET_ZERO, 0)


def test_weights_fill_random_rows_and_clipping(tmp_path):
    np.save(tmp_path / "w.npy", np.arange(6).reshape(2, 3))
    (tmp_path / "w.csv").write_text("# a comment\n-1, -2\n")
    src = """
.tile 0 lif axons=4 neurons=3 wbits=4
.weights 0
    random -9..9 seed=3
    fill 2 axons=3
    load "w.npy" axons=1..2
    load "w.csv" axons=0 neurons=1..2
    3: 1, 2, 99
"""
    r = assemble(src, base_dir=str(tmp_path))
    w = image.decode(r.image).tiles[0].weights
    expect = np.random.default_rng(3).integers(-9, 10, size=(4, 3))
    expect[3] = 2
    expect[1:3] = np.arange(6).reshape(2, 3)
    expect[0, 1:3] = [-1, -2]
    expect[3] = [1, 2, 99]
    assert (w == np.clip(expect, -7, 7)).all()
    assert any("clipped to -7..7 (wbits=4)" in d.message for d in r.warnings)


def test_route_forms():
    src = """
.chip mesh_w=2
.tile 0 lif axons=4 neurons=4
.tile 1 lif axons=4 neurons=4
.weights 1
    fill 1
.routes 0
    0..3 -> 1.0..3, 1.0
    0..1 ->* 1.2..3
    3 -> (1, 0).1..2
"""
    r = build(src).tiles[0].routes
    assert r[0] == [(1, 0), (1, 0), (1, 2), (1, 3)]
    assert r[1] == [(1, 1), (1, 0), (1, 2), (1, 3)]
    assert r[2] == [(1, 2), (1, 0)]
    assert r[3] == [(1, 3), (1, 0), (1, 1), (1, 2)]


def test_spike_blocks_sort_by_dtick_and_keep_order_within(tmp_path):
    np.save(tmp_path / "ev.npy", np.array([[4, 0, 1], [0, 0, 0]]))
    (tmp_path / "r.csv").write_text("0,2\n1,0\n")
    src = """
.chip window=8
.tile 0 lif axons=2 neurons=1
.spikes s
    3: 0.1@7, 0.0
    1..2: 0.0..1@2
    load "ev.npy"
    raster 0 "r.csv"
.program
    play s
"""
    ev = build(src, base_dir=str(tmp_path)).blocks[0].tolist()
    assert ev == [
        [0, 0, 0, 0], [0, 0, 1, 0], [0, 0, 1, 0],
        [1, 0, 0, 2], [1, 0, 1, 2], [1, 0, 0, 0],
        [2, 0, 0, 2], [2, 0, 1, 2],
        [3, 0, 1, 7], [3, 0, 0, 0],
        [4, 0, 1, 0]]


def test_program_text_labels_loops_and_every_operand_kind():
    src = """
.chip mesh_w=2
.tile 0 lif axons=2 neurons=2
.tile 1 lif axons=2 neurons=2
.stdp 0 enabled=off mode=reward
.spikes s
    0: 0.0
.program
    play s
top:
    loop 3
        inject (1, 0), 1, 2
        run 2
    endloop
    learn all, on
    learn 0, off
    setw 0, 1, 1, -5
    reward all, -300
    reset 1
    mark 0xFFFF
    jmp top
"""
    code = build(src).code
    assert code == [("play", (0,)), ("loop", (3,)), ("inject", (1, 1, 2)), ("run", (2,)),
                    ("endloop", (2,)), ("learn", (255, 1)), ("learn", (0, 0)), ("setw", (0, 1, 1, -5)),
                    ("reward", (255, -300)), ("reset", (1,)), ("mark", (65535,)), ("jmp", (1,))]


def test_includes_are_relative_to_the_including_file(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "chip.spk").write_text('.chip window=9\n.include "more.spk"\n')
    (tmp_path / "sub" / "more.spk").write_text(".const K = 3\n")
    main = tmp_path / "main.spk"
    main.write_text('.include "sub/chip.spk"\n.program\n    run K\n')
    prog = image.decode(assemble(path=str(main)).image)
    assert prog.chip["window"] == 9 and prog.code == [("run", (3,))]


def test_name_with_escapes_round_trips():
    from emulator.asm import disassemble
    data = assemble_text('.name "a\\tb\\"c\\u00e9\\x00"\n')
    assert image.decode(data).name == 'a\tb"c\u00e9\x00'
    assert assemble_text(disassemble(data)) == data
