"""The host side of running chip images on a board, without a board.

:class:`hil.runner.LocalBoard` runs ``firmware/nt_brd.py`` in this process (CPython), behind
the same ``call`` interface as a serial board: loading, chunked runs, the trace builder
shared with the reference backend, capacity refusal, recovery after a reset, the
comparison report and the `neurotile hil` command line.
"""

from __future__ import annotations

import dataclasses
import os
import subprocess
import sys
import types

import numpy as np
import pytest
from rich.console import Console

from emulator import api, image, isa
from hil import BoardError, BoardTimeout
from hil.compare import compare_traces, emulator_trace, report
from hil.runner import ChipBoard, LocalBoard, _FEATURE_MODULES, firmware_modules, program_need

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMALL = ["hello_lif.spk", "tdmac_dot.spk", "router_congestion.spk", "router_congestion_fixed.spk",
         "hippocampus_episode.spk", "reward_learning.spk"]


def prog_path(name):
    return os.path.join(ROOT, "programs", name)


def run_local(data, ticks=None, seed=None, hashing=False, chunk=None, board=None):
    chip = ChipBoard(board or LocalBoard(), chunk_ticks=chunk)
    chip.load(data, seed=seed, hashing=hashing)
    chip.run(ticks)
    return chip, chip.trace()


@pytest.mark.parametrize("name", SMALL)
def test_board_trace_equals_the_reference(name):
    data = api.load_bytes(prog_path(name))
    chip, tb = run_local(data, hashing=True)
    tr = api.run(data, backend="reference", state_hash=True)
    assert tb.meta["backend"] == "board:local"
    assert tb.first_divergence(tr) is None
    for k in tr.arrays:
        assert tb[k].dtype == tr[k].dtype and np.array_equal(tb[k], tr[k]), k


@pytest.mark.parametrize("chunk", [1, 3, 64])
def test_chunking_does_not_change_the_trace(chunk):
    data = api.load_bytes(prog_path("router_congestion.spk"))
    _, tb = run_local(data, chunk=chunk, seed=77)
    assert tb.first_divergence(api.run(data, backend="numba", seed=77)) is None


def test_tick_limit_and_seed():
    data = api.load_bytes(prog_path("hello_lif.spk"))
    chip, tb = run_local(data, ticks=7, seed=3)
    assert tb.n_ticks == 7 and tb.meta["seed"] == 3
    assert tb.first_divergence(api.run(data, ticks=7, seed=3)) is None
    chip.run(5)  # continues where it stopped
    assert chip.trace().first_divergence(api.run(data, ticks=12, seed=3)) is None


def test_feature_bits_match_the_isa():
    bits = [b for b, _ in _FEATURE_MODULES]
    assert bits == [isa.FEAT_LIF, isa.FEAT_TDMAC, isa.FEAT_ROUTER, isa.FEAT_STDP, isa.FEAT_REWARD,
                    isa.FEAT_NOISE, isa.FEAT_RC]
    lif = firmware_modules(isa.FEAT_LIF)
    assert "nt_brd.py" in lif and "nt_lif.py" in lif and "nt_seq.py" in lif
    assert "nt_tdm.py" not in lif and "nt_stdp.py" not in lif and "nt_hash.py" not in lif
    assert "nt_hash.py" in firmware_modules(isa.FEAT_LIF, hashing=True)
    assert "nt_stdp.py" in firmware_modules(isa.FEAT_LIF | isa.FEAT_STDP)


def big_program(tiles=1, axons=32, neurons=32):
    side = int(np.ceil(np.sqrt(tiles)))
    prog = image.new_program(mesh_w=side, mesh_h=side)
    for i in range(tiles):
        prog.tiles[i] = image.new_tile("lif", axons, neurons)
    prog.code = [("run", [2]), ("halt", [])]
    return image.encode(prog)


def small_profile(heap=7000, tile=(16, 16)):
    board = LocalBoard()
    board.profile = dataclasses.replace(board.profile, name="tiny",
                                        capacity={"heap": heap, "max_tile": list(tile)})
    board.heap_free = heap
    return board


def test_too_big_tile_is_refused_before_upload():
    board = small_profile()
    chip = ChipBoard(board)
    with pytest.raises(BoardError) as info:
        chip.load(big_program(1, 32, 32))
    msg = str(info.value)
    assert "too big for board tiny" in msg and "32 axons x 32 neurons" in msg
    assert "heap 7000 bytes, largest tile 16 x 16" in msg and "program need" in msg
    assert board.calls == 0 and board.files == {}  # nothing was sent


def test_too_much_heap_is_refused_before_upload():
    board = small_profile(heap=3000)
    with pytest.raises(BoardError) as info:
        ChipBoard(board).load(big_program(4, 16, 16))
    need = program_need(big_program(4, 16, 16))
    assert "heap ~%d bytes" % need["heap"] in str(info.value) and "board has 3000" in str(info.value)
    assert board.calls == 0


def patched_lif(old="_DECAY_UNITY = const(4096)", new="_DECAY_UNITY = const(4095)"):
    with open(os.path.join(ROOT, "firmware", "nt_lif.py"), encoding="utf-8") as fh:
        text = fh.read()
    assert old in text, "the constant to patch moved: update the test"
    return text.replace(old, new)


def patched_reference(monkeypatch, data, **kw):
    """The reference backend run with the patched nt_lif: what a board with the wrong
    constant must produce."""
    mod = types.ModuleType("nt_lif")
    exec(compile(patched_lif(), "nt_lif.py (patched)", "exec"), mod.__dict__)
    with monkeypatch.context() as m:
        m.setitem(sys.modules, "nt_lif", mod)
        return api.run(data, backend="reference", **kw)


def test_wrong_constant_is_reported_at_the_first_differing_tick(monkeypatch):
    data = api.load_bytes(prog_path("hello_lif.spk"))
    good = api.run(data, backend="numba", state_hash=True)
    bad = patched_reference(monkeypatch, data, state_hash=True)
    expect = int(np.flatnonzero(good["state_hash"] != bad["state_hash"])[0])
    result = compare_traces(bad, good, lockstep=True)
    assert not result.identical and result.hash_tick == expect and result.tick <= expect
    console = Console(record=True, width=120, color_system=None)
    out = report(result, console)
    text = console.export_text()
    assert "first divergence at tick %d" % result.tick in text
    assert "state hash first differs at tick %d" % expect in text
    assert "spikes around tick %d, tile 0" % result.divergence["tick"] in text
    assert "board ┃ emulator" in text and out["identical"] is False


def test_identical_report():
    data = api.load_bytes(prog_path("tdmac_dot.spk"))
    _, tb = run_local(data)
    prog = image.decode(data)
    result = compare_traces(tb, emulator_trace(prog, data))
    console = Console(record=True, width=100, color_system=None)
    report(result, console)
    assert result.identical and "agree" in console.export_text()


class FlakyBoard(LocalBoard):
    """Times out once (as if recovered by a reset) on the n-th run call, or always."""

    def __init__(self, fail_at, always=False):
        super().__init__()
        self.fail_at, self.always, self.runs = fail_at, always, 0

    def call(self, func, *args, timeout=None):
        if func.endswith(".run"):
            self.runs += 1
            if self.runs == self.fail_at or (self.always and self.runs >= self.fail_at):
                for cb in self.on_reset:
                    cb("soft reset")
                self.mod.C = None  # the board lost its RAM
                raise BoardTimeout("nt_brd.run gave no answer within %.1fs" % timeout, tried=["soft reset"])
        return super().call(func, *args, timeout=timeout)


def test_a_reset_mid_run_is_recovered_and_the_trace_unchanged():
    data = api.load_bytes(prog_path("reward_learning.spk"))
    board = FlakyBoard(fail_at=4)
    chip, tb = run_local(data, board=board, chunk=50)
    assert chip.stats["reloads"] == 1
    assert tb.first_divergence(api.run(data)) is None


def test_a_board_that_stays_silent_is_reported_with_the_tick():
    data = api.load_bytes(prog_path("reward_learning.spk"))
    chip = ChipBoard(FlakyBoard(fail_at=3, always=True), chunk_ticks=10)
    chip.load(data)
    with pytest.raises(BoardError) as info:
        chip.run()
    assert "stopped answering at tick 20" in str(info.value)
    assert "timeouts.tick" in str(info.value)


def cli(*args, timeout=120):
    env = dict(os.environ, NO_COLOR="1")
    return subprocess.run([sys.executable, "-m", "emulator.cli", *args], capture_output=True, text=True,
                          timeout=timeout, env=env, cwd=ROOT)


def test_cli_help_and_bad_input_without_traceback(tmp_path):
    r = cli("hil", "--help")
    assert r.returncode == 0 and "boards" in r.stdout and "deploy" in r.stdout
    r = cli("hil", "run", "--help")
    assert r.returncode == 0 and "--lockstep" in r.stdout and "--trace" in r.stdout
    r = cli("hil", "run", str(tmp_path / "missing.spk"), "--board", "wasm")
    assert r.returncode == 1 and "Traceback" not in r.stderr and "error" in r.stderr
    r = cli("hil", "run", prog_path("hello_lif.spk"), "--port", str(tmp_path / "no-such-port"))
    assert r.returncode == 1 and "Traceback" not in r.stderr, r.stderr
    r = cli("hil", "boards")
    assert r.returncode == 0 and "qemu-microbit" in r.stdout and "wasm" in r.stdout
