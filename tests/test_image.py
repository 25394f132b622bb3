"""Image codec: canonical encoding, round trips, and a clear refusal for each defect."""

import struct
import zlib

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emulator import image, isa
from emulator.image import ImageError


def small_program(routes=True):
    p = image.new_program(2, 1, window=32, seed=7)
    t0 = image.new_tile("lif", 16, 16, vth=100)
    t0.weights[:] = np.random.default_rng(1).integers(-20, 21, (16, 16))
    if routes:
        t0.routes = [[(1, n)] for n in range(16)]
    t0.stdp = isa.STDP.defaults()
    t1 = image.new_tile("tdmac", 16, 16, t_in=16)
    p.tiles = [t0, t1]
    p.probes = [(0, 1)]
    p.blocks = [np.array([[0, 0, 1, 0], [2, 1, 3, 5]])]
    p.code = [("inject", (0, 1, 0)), ("play", (0,)), ("loop", (3,)), ("run", (5,)),
              ("endloop", (3,)), ("halt", ())]
    return p


def reframe(body: bytes, version=isa.FORMAT_VERSION, feats=None, crc=None) -> bytes:
    """Wrap a section body in a header with a correct length and CRC (unless given)."""
    crc = zlib.crc32(body) if crc is None else crc
    return struct.pack(isa.HEADER_FMT, isa.MAGIC, version, 0, feats or 0,
                       isa.HEADER_SIZE + len(body), crc) + body


def test_round_trip_is_byte_identical_and_decodes_equal():
    p = small_program()
    b = image.encode(p)
    q = image.decode(b)
    assert image.encode(q) == b
    assert q.chip == p.chip and q.probes == p.probes and q.code == p.code
    assert np.array_equal(q.tiles[0].weights, p.tiles[0].weights)
    assert q.tiles[0].routes == p.tiles[0].routes


def test_one_tile_16x16_lif_fits_in_a_few_hundred_bytes():
    p = image.new_program(1, 1)
    t = image.new_tile("lif", 16, 16)
    t.stdp = isa.STDP.defaults()
    p.tiles = [t]
    p.code = [("run", (100,))]
    assert len(image.encode(p)) < 400


def test_features_name_the_modules_a_board_needs():
    f = image.decode(image.encode(small_program())).features()
    assert f & isa.FEAT_LIF and f & isa.FEAT_TDMAC and f & isa.FEAT_ROUTER
    assert f & isa.FEAT_STDP and f & isa.FEAT_SPIKES
    assert not f & (isa.FEAT_RC | isa.FEAT_NOISE | isa.FEAT_REWARD)
    assert not image.features(small_program(routes=False)) & isa.FEAT_ROUTER


def test_static_ticks_multiplies_nested_loops_and_refuses_jmp():
    code = [("run", (2,)), ("loop", (3,)), ("loop", (4,)), ("run", (5,)), ("endloop", (3,)),
            ("run", (1,)), ("endloop", (2,)), ("halt", ()), ("run", (1000,))]
    assert image.static_ticks(code) == 2 + 3 * (4 * 5 + 1)
    assert image.static_ticks([("run", (1,)), ("jmp", (0,))]) is None


@pytest.mark.parametrize("mutate, message", [
    (lambda b: b[:10], "shorter than the 16-byte header"),
    (lambda b: b"ELF\x7f" + b[4:], "not a neurotile image: magic"),
    (lambda b: b[:-1], "truncated or padded"),
    (lambda b: b + b"\0", "truncated or padded"),
    (lambda b: b[:40] + bytes([b[40] ^ 0x10]) + b[41:], "CRC-32"),
    (lambda b: b[:4] + bytes([isa.FORMAT_VERSION + 1]) + b[5:], "newer than this neurotile"),
])
def test_framing_defects_are_named(mutate, message):
    with pytest.raises(ImageError, match=message):
        image.decode(mutate(image.encode(small_program())))


def _sections(b: bytes):
    pos, out = isa.HEADER_SIZE, []
    while pos < len(b):
        sid, fl, tile, n = struct.unpack_from(isa.SECTION_FMT, b, pos)
        out.append(b[pos:pos + isa.SECTION_HEADER_SIZE + n])
        pos += isa.SECTION_HEADER_SIZE + n
    return out


def test_structural_defects_with_a_valid_crc_are_named():
    b = image.encode(small_program())
    secs = _sections(b)
    feats = struct.unpack_from(isa.HEADER_FMT, b)[3]
    with pytest.raises(ImageError, match="duplicate section"):
        image.decode(reframe(b"".join(secs[:1] + secs), feats=feats))
    with pytest.raises(ImageError, match="out of canonical order"):
        image.decode(reframe(b"".join([secs[0], secs[2], secs[1]] + secs[3:]), feats=feats))
    with pytest.raises(ImageError, match="no chip section"):
        image.decode(reframe(b"".join(secs[1:]), feats=feats))
    bad = bytearray(secs[-1])
    bad[0] = 200
    with pytest.raises(ImageError, match="unknown section id 200"):
        image.decode(reframe(b"".join(secs[:-1] + [bytes(bad)]), feats=feats))
    with pytest.raises(ImageError, match="features"):
        image.decode(reframe(b"".join(secs), feats=feats ^ isa.FEAT_RC))


@pytest.mark.parametrize("edit, message", [
    (lambda p: p.tiles[0].routes.__setitem__(0, [(5, 0)]), "off the 2x1 mesh"),
    (lambda p: p.tiles[0].routes.__setitem__(0, [(1, 99)]), "axon 99 of tile 1, which has 16"),
    (lambda p: p.tiles[1].__setattr__("stdp", isa.STDP.defaults()), "STDP needs a LIF tile"),
    (lambda p: p.tiles[1].params.__setitem__("t_in", 32), "smaller than the window"),
    (lambda p: p.probes.append((0, 16)), "has no neuron 16"),
    (lambda p: p.code.append(("play", (3,))), "spike block 3 does not exist"),
    (lambda p: p.code.append(("loop", (2,))), "has no endloop"),
    (lambda p: p.code.insert(0, ("endloop", (0,))), "endloop without loop"),
    (lambda p: p.tiles[0].params.__setitem__("vth", 0), "vth"),
    (lambda p: p.tiles[0].weights.__setitem__((0, 0), -128), "weights outside"),
    (lambda p: p.chip.__setitem__("window", 0), "window"),
])
def test_invalid_programs_are_refused_with_the_reason(edit, message):
    p = small_program()
    edit(p)
    with pytest.raises(ImageError, match=message):
        image.encode(p)


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 4), st.integers(1, 4), st.integers(1, 8), st.integers(1, 8), st.data())
def test_random_meshes_round_trip(w, h, axons, neurons, data):
    p = image.new_program(w, h, window=data.draw(st.integers(2, 64)))
    n = w * h
    for i in range(n):
        if data.draw(st.booleans()):
            t = image.new_tile("lif", axons, neurons)
            flat = data.draw(st.lists(st.integers(-127, 127), min_size=axons * neurons,
                                      max_size=axons * neurons))
            t.weights[:] = np.array(flat).reshape(axons, neurons)
            p.tiles[i] = t
    live = [i for i, t in enumerate(p.tiles) if t is not None]
    for i in live:
        for nn in range(neurons):
            k = data.draw(st.integers(0, 3))
            p.tiles[i].routes[nn] = [(d, data.draw(st.integers(0, axons - 1)))
                                     for d in data.draw(st.lists(st.sampled_from(live), min_size=k, max_size=k))]
    p.code = [("run", (data.draw(st.integers(1, 10)),))]
    b = image.encode(p)
    assert image.encode(image.decode(b)) == b
