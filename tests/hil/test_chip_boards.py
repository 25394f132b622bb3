"""Chip images on both virtual boards, compared with the emulator (issue 4's CI checks).

Real MicroPython: 1.27 compiled to WebAssembly (``wasm``) and 1.9.2 on an emulated
micro:bit (``qemu-microbit``). Never skipped: CI installs QEMU and node
(scripts/install-test-deps.sh). Programs whose full length would take minutes on the
wasm board run for a bounded number of ticks (the emulator runs the same ticks).
"""

from __future__ import annotations

import os
import signal
import time

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, assume, given, settings

from emulator import api, image, isa
from hil import BoardError
from hil.compare import compare_traces, emulator_trace
from hil.faults import FaultRates, inject_faults
from hil.runner import ChipBoard

from conftest import open_board
from test_chip_local import big_program, patched_lif, patched_reference, prog_path

pytestmark = pytest.mark.board

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
PROGRAMS = sorted(n for n in os.listdir(os.path.join(ROOT, "programs")) if n.endswith(".spk"))
# Tick budget on wasm per program: its own length, at most this (wall time ~0.3 s per tick
# for the 6-tile classifier, ~0.07 s for the reservoir).
WASM_TICKS = {"ttfs_classifier.spk": 8, "reservoir.spk": 30}
WASM_MAX_TICKS = 200


@pytest.fixture(scope="module")
def chip_wasm():
    chip = ChipBoard(open_board("wasm"))
    yield chip
    chip.close()


@pytest.fixture(scope="module")
def chip_microbit():
    chip = ChipBoard.on(open_board("qemu-microbit"))  # split mode (its profile says so)
    yield chip
    chip.close()


def run_both(chip, data, ticks=None, seed=None, lockstep=False):
    """Board and emulator (numba) traces of one image, and their comparison."""
    chip.load(data, seed=seed, hashing=lockstep)
    chip.run(ticks)
    board = chip.trace()
    emu = emulator_trace(image.decode(data), data, ticks=ticks, seed=seed, state_hash=lockstep)
    return compare_traces(board, emu, lockstep=lockstep)


def stdp_16x16() -> bytes:
    """hello_lif (one 16x16 LIF tile) with pair STDP on: the 16x16 LIF+STDP program."""
    prog = image.decode(api.load_bytes(prog_path("hello_lif.spk")))
    s = isa.STDP.defaults()
    s.update(enabled=1, mode=isa.STDP_PAIR)
    prog.tiles[0].stdp = s
    return image.encode(prog)


@pytest.mark.parametrize("name", PROGRAMS)
def test_every_program_that_fits_runs_on_wasm(chip_wasm, name):
    data = api.load_bytes(prog_path(name))
    chip_wasm.check_fits(data)  # every shipped program fits the wasm board
    own = image.decode(data).static_ticks()
    ticks = min(own or WASM_MAX_TICKS, WASM_TICKS.get(name, WASM_MAX_TICKS))
    result = run_both(chip_wasm, data, ticks=ticks, lockstep=True)
    assert result.identical, result.summary()
    assert result.board.n_ticks == ticks and result.board.meta["backend"] == "board:wasm"


@pytest.mark.parametrize("board,which", [
    ("wasm", "lif_stdp"), ("wasm", "tdmac"), ("wasm", "lif"),
    ("qemu-microbit", "lif_stdp"),
    ("qemu-microbit", "tdmac"), ("qemu-microbit", "lif"),
])
def test_16x16_programs_on_both_boards(request, board, which):
    chip = request.getfixturevalue("chip_wasm" if board == "wasm" else "chip_microbit")
    data = {"lif_stdp": stdp_16x16, "tdmac": lambda: api.load_bytes(prog_path("tdmac_dot.spk")),
            "lif": lambda: api.load_bytes(prog_path("hello_lif.spk"))}[which]()
    prog = image.decode(data)
    assert max(t.axons for t in prog.tiles if t) == 16 and max(t.neurons for t in prog.tiles if t) == 16
    for chip in (chip,):
        chip.stats.update(upload_s=0.0, run_s=0.0)  # this program's own times
        t0 = time.monotonic()
        result = run_both(chip, data, lockstep=(which != "lif_stdp"))
        wall = time.monotonic() - t0
        assert result.identical, "%s: %s" % (chip.profile.name, result.summary())
        print("%s %s: upload %.2fs, run %.2fs (%d ticks), free heap after load %s B, total %.2fs"
              % (chip.profile.name, which, chip.stats["upload_s"], chip.stats["run_s"],
                 result.board.n_ticks, chip.mem_free_after_load, wall))
    if which == "lif_stdp":
        w = result.board
        assert not np.array_equal(w["w_init"], w["w_final"]), "STDP changed no weight: vacuous"


_SETTINGS = dict(deadline=None, derandomize=True, database=None,
                 phases=[Phase.explicit, Phase.generate],  # no shrinking: board runs are slow
                 suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                        HealthCheck.function_scoped_fixture])


def _differential(chip, prog):
    from emulator.backends import RunError

    data = image.encode(prog)
    try:
        emulator_trace(prog, data)
    except RunError:
        assume(False)  # the emulator refuses it too (e.g. a sequencer loop): not an example
    result = run_both(chip, data, lockstep=bool(len(data) % 2))
    assert result.identical, "%s\nprogram code: %r" % (result.summary(), prog.code)


def _programs(**kw):
    from tests.strategies import programs

    return programs(**kw)


@settings(max_examples=20, **_SETTINGS)
@given(prog=_programs(max_side=3, max_axons=8, max_neurons=8, max_ticks=16))
def test_generated_programs_match_numba_on_wasm(chip_wasm, prog):
    _differential(chip_wasm, prog)


@settings(max_examples=int(os.environ.get('NT_MICROBIT_EXAMPLES', 10)), **_SETTINGS)
@given(prog=_programs(max_side=1, max_axons=6, max_neurons=6, max_ticks=8))
def test_generated_programs_match_numba_on_the_microbit(chip_microbit, prog):
    # only programs the board takes: the capacity check refuses the others before
    # upload (tested below); hypothesis draws until 5 fit
    try:
        chip_microbit.check_fits(image.encode(prog), hashing=True)
    except BoardError:
        assume(False)
    _differential(chip_microbit, prog)


def test_a_noisy_link_still_completes_and_matches(chip_wasm):
    board = chip_wasm.board
    # 1% of the bytes on the link corrupted and 1% dropped (half of each per direction);
    # one tick per call keeps replies short enough to get through now and then
    data = api.load_bytes(prog_path("hello_lif.spk"))
    chip_wasm.handshake()
    chip_wasm.deploy(data, hashing=True)  # firmware in place; the image and the run go over the noise
    attempts = board.session.max_attempts
    board.session.max_attempts = 60
    rates = FaultRates(drop=0.005, corrupt=0.005)
    faulty = inject_faults(board.transport, tx=rates, rx=rates, seed=11)
    chip_wasm.chunk_ticks = 1
    try:
        result = run_both(chip_wasm, data, lockstep=False)
    finally:
        board.transport.port = faulty.inner
        board.session.max_attempts = attempts
        chip_wasm.chunk_ticks = None
    assert result.identical, result.summary()
    assert board.session.stats["retries"] > 0, "no fault hit the link: vacuous"


def test_a_board_that_stops_answering_mid_run_is_reported(no_orphans):
    chip = ChipBoard(open_board("wasm"), chunk_ticks=4)
    try:
        data = api.load_bytes(prog_path("reward_learning.spk"))
        chip.load(data)
        chip.run(8)
        os.kill(chip.board.virtual.pid, signal.SIGSTOP)
        start = time.monotonic()
        with pytest.raises(BoardError) as info:
            chip.run()
        elapsed = time.monotonic() - start
        t = chip.profile.timeouts
        assert "stopped answering at tick 8" in str(info.value)
        # one call's wait (tick budget x 4 ticks + rpc), then the recovery ladder
        # (same bound as the plain RPC test in test_live_boards.py)
        bound = t.tick * 4 + t.rpc + t.ack + 3 * (t.step + 0.1) + 4 * (t.step * 3 + t.boot)
        assert elapsed < bound, (elapsed, bound)
    finally:
        os.kill(chip.board.virtual.pid, signal.SIGCONT)
        chip.close()


def test_a_program_too_big_is_refused_before_upload(chip_microbit):
    sent = []
    call = chip_microbit.board.call

    def spy(func, *args, **kw):
        sent.append(func)
        return call(func, *args, **kw)

    chip_microbit.board.call = spy
    try:
        for data, what in ((big_program(1, 32, 32), "32 axons x 32 neurons"),
                           (big_program(16, 16, 16), "bytes of heap")):
            with pytest.raises(BoardError) as info:
                chip_microbit.load(data)
            msg = str(info.value)
            assert "too big for board qemu-microbit" in msg and what in msg
            assert "Board capacity: heap" in msg and "largest tile 16 x 16" in msg and "program need" in msg
    finally:
        del chip_microbit.board.call
    assert not [f for f in sent if f.startswith(("nt_brd.", "nt_new.", "nt_til.")) or f in ("_o", "_w")], sent


def test_a_wrong_firmware_constant_is_caught_at_the_right_tick(monkeypatch):
    data = api.load_bytes(prog_path("hello_lif.spk"))
    chip = ChipBoard(open_board("wasm"), sources={"nt_lif.py": patched_lif()})
    try:
        chip.deploy(data)
        result = run_both(chip, data, lockstep=True)
    finally:
        chip.close()
    bad = patched_reference(monkeypatch, data, state_hash=True)
    expect = int(np.flatnonzero(bad["state_hash"] != result.emulator["state_hash"])[0])
    assert not result.identical
    assert result.hash_tick == expect, result.summary()
    # the board ran exactly the patched firmware: its trace is the patched reference's
    assert result.board.first_divergence(bad) is None
    assert "state hash first differs at tick %d" % expect in result.summary()
