"""Split mode (SPEC section 19): the host runs the loader, the sequencer and the router,
the board holds the tiles and runs phases 2-4 and the state hash (firmware/nt_til.py).

Differential: split mode on a board must give exactly the emulator's trace, state
hashes included, for every bundled program and for generated ones; under CPython
(LocalBoard) and under real MicroPython 1.27 (the wasm board switched to split mode).
"""

from __future__ import annotations

import dataclasses
import os

import pytest
from hypothesis import HealthCheck, Phase, given, settings

import firmware
from emulator import api, image
from emulator.backends import RunError
from hil.compare import compare_traces, emulator_trace
from hil.runner import ChipBoard, LocalBoard
from hil.split import SplitChipBoard, split_need

from conftest import open_board
from test_chip_boards import run_both

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = sorted(n for n in os.listdir(os.path.join(ROOT, "programs")) if n.endswith(".spk"))
MAX_TICKS = 60


def split_local():
    return SplitChipBoard(LocalBoard(entry="nt_til"))


def run_split(chip, data, ticks=None, lockstep=True):
    return run_both(chip, data, ticks=ticks, lockstep=lockstep)


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_program_in_split_mode_equals_the_emulator(name):
    data = api.load_bytes(os.path.join(ROOT, "programs", name))
    ticks = min(image.decode(data).static_ticks() or MAX_TICKS, MAX_TICKS)
    chip = split_local()
    result = run_split(chip, data, ticks)
    assert result.identical, result.summary()
    # the board ran every tick: one step call per tick (plus loading and the final state)
    assert chip.board.calls >= ticks


_SETTINGS = dict(deadline=None, database=None, phases=[Phase.explicit, Phase.generate],
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _programs(**kw):
    from tests.strategies import programs

    return programs(**kw)


@settings(max_examples=100, **_SETTINGS)
@given(prog=_programs(max_side=3, max_ticks=16))
def test_generated_programs_in_split_mode_equal_the_emulator(prog):
    data = image.encode(prog)
    try:
        emulator_trace(prog, data)
    except RunError:
        return  # the emulator refuses it too (a sequencer loop without run)
    result = run_split(split_local(), data, lockstep=bool(len(data) % 2))
    assert result.identical, "%s\nprogram code: %r" % (result.summary(), prog.code)


def test_split_mode_leaves_loader_sequencer_and_router_to_the_host():
    data = api.load_bytes(os.path.join(ROOT, "programs", "router_congestion.spk"))
    prog = image.decode(data)
    full = set(firmware.modules_for(prog.features(), [3, 11], hashing=True))
    split = set(firmware.modules_for(prog.features(), [3, 11], hashing=True, split=True))
    assert {"nt_seq.py", "nt_img.py", "nt_rtr.py", "nt_op.py", "nt_brd.py"} <= full
    assert not split & {"nt_seq.py", "nt_img.py", "nt_ims.py", "nt_imx.py", "nt_rtr.py", "nt_op.py",
                        "nt_brd.py"}
    assert {"nt_til.py", "nt_new.py", "nt_lif.py", "nt_hash.py"} <= split
    # tile instructions run on the board's tiles: nt_op goes there only for those
    assert "nt_op.py" in firmware.modules_for(prog.features(), [4], split=True)


def test_split_need_counts_resident_code_and_tile_state_but_no_image():
    data = api.load_bytes(os.path.join(ROOT, "programs", "hello_lif.spk"))
    need = split_need(data, hashing=True)
    assert need["heap"] == need["heap_code"] + need["heap_data"]
    assert need["heap_data"] < need["heap"] and need["image_bytes"] == len(data)
    assert need["heap_data"] >= 16 * 16 + 9 * 16 + 16  # weights, v u ref, input counts
    assert split_need(data, hashing=False)["heap_code"] < need["heap_code"]  # no nt_hash


def test_a_split_program_too_big_is_refused_before_anything_is_sent():
    data = api.load_bytes(os.path.join(ROOT, "programs", "hello_lif.spk"))
    board = LocalBoard(heap_free=2000, entry="nt_til")
    chip = SplitChipBoard(board)
    with pytest.raises(Exception, match=r"too big for board local \(split mode\).*heap 2000"):
        chip.load(data)
    assert board.calls == 0


@pytest.mark.board
@pytest.mark.parametrize("name", ["hello_lif.spk", "tdmac_dot.spk", "router_congestion.spk",
                                  "reward_learning.spk"])
def test_split_mode_on_real_micropython(name):
    """The wasm board (MicroPython 1.27) in split mode: nt_til and the cores on the
    board, the sequencer and router on the host; equal to the emulator, hashes too."""
    board = open_board("wasm")
    board.profile = dataclasses.replace(board.profile, mode="split")
    chip = ChipBoard.on(board)
    try:
        assert isinstance(chip, SplitChipBoard)
        data = api.load_bytes(os.path.join(ROOT, "programs", name))
        ticks = min(image.decode(data).static_ticks() or 30, 30)
        result = run_split(chip, data, ticks)
        assert result.identical, result.summary()
        assert result.board.meta["backend"] == "board:wasm"
    finally:
        chip.close()


def test_a_feature_the_board_cannot_run_is_refused_before_anything_is_sent():
    """The micro:bit's C stack allows ~4 nested calls inside an RPC call: its profile
    lists noise and reward as unsupported, and the check says so before uploading."""
    import dataclasses

    from emulator import isa

    prog = image.decode(api.load_bytes(os.path.join(ROOT, "programs", "hello_lif.spk")))
    prog.tiles[0].params["cmp_noise"] = 5
    data = image.encode(prog)
    assert prog.features() & isa.FEAT_NOISE
    board = LocalBoard(entry="nt_til")
    board.profile = dataclasses.replace(board.profile, capacity=dict(
        board.profile.capacity, unsupported={"noise": "C stack too small"}))
    with pytest.raises(Exception, match=r"uses noise, which this board cannot run: C stack too small"):
        SplitChipBoard(board).load(data)
    assert board.calls == 0
    # without the noise the same program loads
    SplitChipBoard(board).load(api.load_bytes(os.path.join(ROOT, "programs", "hello_lif.spk")))
