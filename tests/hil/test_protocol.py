"""Protocol against a CPython-run board (tests/hil/fakeboard.py) running firmware/rpc.py.

Checksums, sequence-number replay, retries under injected faults, raw-paste flow
control, uploads and deploys, recovery when the board stops answering.
"""

import os
import random
import time

import pytest

from hil.faults import FaultRates, inject_faults
from hil.protocol import (
    BoardError,
    RawRepl,
    RemoteError,
    RpcSession,
    Timeouts,
    VERSION_FILE,
    build_request,
    decode_value,
    dispatcher_source,
    encode_args,
    find_reply,
    fletcher16,
)
from hil.transport import Pacing, Transport

from fakeboard import FakeBoard, FakePort

FAST = Timeouts(ack=0.2, rpc=2.0, inter_byte=0.2, boot=1.0, tick=0.01, step=0.4)


def make_session(tmp_path, raw_paste=False, window=32, max_attempts=6, start=True):
    board = FakeBoard(str(tmp_path), raw_paste=raw_paste, window=window)
    port = FakePort(board)
    transport = Transport(port, pacing=Pacing(32, 0))
    session = RpcSession(RawRepl(transport, FAST), FAST, max_attempts=max_attempts, upload_chunk=64)
    if start:
        session.start()
        session.repl.exec("def echo(*a):\n    return a\ncount = [0]\ndef bump():\n"
                          "    count[0] += 1\n    return count[0]\n")
    return session, board, port


# ---------------------------------------------------------------- checksum agreement
def board_globals():
    core, helpers = dispatcher_source()
    env = {}
    exec(core + helpers, env)
    return env


def test_board_fletcher_equals_host_fletcher():
    board_f = board_globals()["_f"]
    rng = random.Random(1)
    for _ in range(200):
        text = "".join(chr(rng.randrange(32, 127)) for _ in range(rng.randrange(0, 80)))
        assert board_f(text) == fletcher16(text.encode())
        # and it continues a running checksum like the host's does
        half = len(text) // 2
        assert board_f(text[half:], board_f(text[:half])) == fletcher16(text.encode())


def test_fletcher_known_values():
    assert fletcher16(b"") == 0
    assert fletcher16(b"abcde") == 0xC8F0
    assert fletcher16(b"abcdef") == 0x2057


def test_request_line_checksum_is_verified_by_the_dispatcher(capsys):
    env = board_globals()
    calls = []
    env["probe"] = lambda *a: calls.append(a) or len(calls)
    line = build_request(7, "probe", (1, "x")).decode()
    exec(line, env)
    good = capsys.readouterr().out.strip()
    assert find_reply(good.encode(), 7) == ("O", b"1")
    damaged = line.replace("'x'", "'y'")
    exec(damaged, env)
    reply = capsys.readouterr().out.strip()
    assert find_reply(reply.encode(), 7)[0] == "C"
    assert calls == [(1, "x")], "a damaged request must not run"


def test_repeated_sequence_number_replays_without_running_again(capsys):
    env = board_globals()
    calls = []
    env["probe"] = lambda: calls.append(1) or len(calls)
    line = build_request(11, "probe", ())
    exec(line.decode(), env)
    first = capsys.readouterr().out
    exec(line.decode(), env)
    second = capsys.readouterr().out
    assert first == second and calls == [1]
    exec(build_request(12, "probe", ()).decode(), env)
    assert find_reply(capsys.readouterr().out.encode(), 12) == ("O", b"2")


def test_reply_with_wrong_checksum_or_sequence_is_ignored():
    line = b"5 O (1, 2) %d" % fletcher16(b"5 O (1, 2)")
    assert find_reply(line + b"\r\n\x04\x04", 5) == ("O", b"(1, 2)")
    assert find_reply(line.replace(b"(1, 2)", b"(1, 3)"), 5) is None
    assert find_reply(line, 6) is None


# ---------------------------------------------------------------- encoding
def test_args_are_ascii_padded_and_floats_refused():
    text = encode_args((1,))
    assert len(text) > 10 and text.strip() == "(1,)"
    assert encode_args(("\u00e9",)).isascii()
    with pytest.raises(TypeError, match="float"):
        encode_args((1.5,))
    with pytest.raises(TypeError, match="object"):
        encode_args((object(),))
    with pytest.raises(ValueError):
        build_request(1, "os.path.join", ())


def test_decode_value_accepts_board_reprs_only():
    assert decode_value("(1, -2, [b'\\x00'], {'a': None}, True)") == (1, -2, [b"\x00"], {"a": None}, True)
    assert decode_value("bytearray(b'ab')") == bytearray(b"ab")
    assert list(decode_value("array('h', [1, -2])")) == [1, -2]
    with pytest.raises(BoardError):
        decode_value("<function f at 0x2000>")
    with pytest.raises(BoardError):
        decode_value("__import__('os').system('true')")


# ---------------------------------------------------------------- calls on the fake board
def random_value(rng, depth=0):
    kind = rng.randrange(7 if depth < 2 else 4)
    if kind == 0:
        return rng.randrange(-(1 << 40), 1 << 40)
    if kind == 1:
        return "".join(chr(rng.randrange(1, 0x250)) for _ in range(rng.randrange(12)))
    if kind == 2:
        return bytes(rng.randrange(256) for _ in range(rng.randrange(12)))
    if kind == 3:
        return rng.choice([None, True, False, 0, -1])
    if kind == 4:
        return [random_value(rng, depth + 1) for _ in range(rng.randrange(4))]
    if kind == 5:
        return tuple(random_value(rng, depth + 1) for _ in range(rng.randrange(4)))
    return {rng.randrange(100): random_value(rng, depth + 1) for _ in range(rng.randrange(3))}


@pytest.mark.parametrize("raw_paste", [False, True], ids=["raw", "raw-paste"])
def test_random_round_trips(tmp_path, raw_paste):
    session, board, _ = make_session(tmp_path, raw_paste=raw_paste, window=16)
    assert session.repl.raw_paste is raw_paste
    rng = random.Random(42)
    for _ in range(60):
        args = tuple(random_value(rng) for _ in range(rng.randrange(4)))
        assert session.call("echo", *args) == args
    assert session.stats["retries"] == 0


def test_remote_exception_is_raised_with_its_type(tmp_path):
    session, _, _ = make_session(tmp_path)
    with pytest.raises(RemoteError) as info:
        session.call("int", "not a number")
    assert info.value.remote_type == "ValueError"
    with pytest.raises(RemoteError) as info:
        session.call("no_such_module.f")
    assert info.value.remote_type in ("ImportError", "ModuleNotFoundError")


@pytest.mark.parametrize("raw_paste", [False, True], ids=["raw", "raw-paste"])
def test_calls_survive_a_noisy_link(tmp_path, raw_paste):
    # window=128 is MicroPython's own (a 256-byte stdin buffer, halved).
    session, board, _ = make_session(tmp_path, raw_paste=raw_paste, window=128, max_attempts=40)
    # The functions live in a module file, like firmware does: a noisy link can push the
    # recovery ladder as far as a soft reset, which clears RAM but keeps files.
    with open(os.path.join(board.root, "tmod.py"), "w") as fh:
        fh.write("def echo(*a):\n    return a\ncount = [0]\ndef bump():\n"
                 "    count[0] += 1\n    return count[0]\n")
    # 1% of the link's bytes dropped and 1% corrupted (issue 4), half of each per direction
    rates = FaultRates(drop=0.005, corrupt=0.005)
    faulty = inject_faults(session.tr, tx=rates, rx=rates, seed=3)
    rng = random.Random(7)
    for i in range(40 if raw_paste else 60):
        a, b = rng.randrange(1000), rng.randrange(1000)
        assert session.call("tmod.echo", a, b) == (a, b)
    # Each call ran exactly once although many were sent more than once.
    before = session.call("tmod.bump")
    assert session.call("tmod.bump") == before + 1
    assert faulty.counts["tx_drop"] and faulty.counts["rx_corrupt"]
    assert session.stats["retries"] > 0


def test_non_idempotent_call_runs_once_when_the_reply_is_lost(tmp_path):
    session, board, port = make_session(tmp_path)
    start = session.call("bump")
    # Lose the next reply entirely: the host must retry with the same sequence number.
    original_read = port.read
    lost = {"done": False}

    def read(size=1):
        if not lost["done"] and board.out.startswith(b"OK") and b"\x04>" in board.out:
            lost["done"] = True
            board.out.clear()
            return b""
        return original_read(size)

    port.read = read
    assert session.call("bump") == start + 1
    assert lost["done"] and session.stats["retries"] >= 1
    assert session.call("bump") == start + 2


def test_dispatcher_damaged_in_transit_is_not_installed(tmp_path):
    session, board, _ = make_session(tmp_path, start=False)
    session.repl.enter()
    faulty = inject_faults(session.tr, tx=FaultRates(corrupt=0.001), seed=11)
    session._exec_checked(session.core, "dispatcher", attempts=30)
    session.tr.port = faulty.inner
    ran = [text for text in board.executed if "_d" in text]
    # Every damaged copy was refused by the board-side check; one intact copy ran.
    assert session.stats["install_retries"] >= 1
    assert len(ran) == session.stats["install_retries"] + 1
    assert session.call("len", "abc") == 3


# ---------------------------------------------------------------- files
def test_upload_is_verified_and_written_once(tmp_path):
    session, board, _ = make_session(tmp_path)
    text = "".join("line %d \u00e9\n" % i for i in range(100))
    progress = []
    size, check = session.upload("data.txt", text, lambda done, total: progress.append((done, total)))
    assert (tmp_path / "data.txt").read_text(encoding="utf-8") == text
    assert size == len(text.encode())
    assert progress[-1] == (size, size)


def test_upload_mismatch_is_an_error(tmp_path):
    session, board, _ = make_session(tmp_path)
    session._install_helpers()
    board.globals["_c"] = lambda p: (1, 2)  # the board "reads back" something else
    with pytest.raises(BoardError, match="expected"):
        session.upload("x.txt", "hello")


def test_deploy_uploads_only_changes_and_redoes_an_interrupted_one(tmp_path):
    session, board, _ = make_session(tmp_path)
    files = {"nt_a.py": "def f():\n    '''doc'''\n    return 1\n", "nt_b.py": "X = 2\n"}
    # the dispatcher's first part comes along: later resets import it from its file
    assert session.deploy(files) == ["nt_a.py", "nt_b.py", "nt_rpc.py"]
    assert (tmp_path / "nt_rpc.py").read_text() == session.core
    assert (tmp_path / "nt_a.py").read_text() == "def f():\n return 1\n"
    assert session.call("nt_a.f") == 1
    assert session.deploy(files) == []
    files["nt_b.py"] = "X = 3\n"
    # Interrupt the deploy while nt_b.py is being written.
    real_upload = session.upload

    def failing(path, text, progress=None):
        if path == "nt_b.py":
            raise BoardError("link lost")
        return real_upload(path, text, progress)

    session.upload = failing
    with pytest.raises(BoardError):
        session.deploy(files)
    session.upload = real_upload
    assert "nt_b.py" not in (tmp_path / VERSION_FILE).read_text()
    assert session.deploy(files) == ["nt_b.py"]
    assert (tmp_path / "nt_b.py").read_text() == "X=3\n"


# ---------------------------------------------------------------- a board that stops
def test_board_that_stops_listening_is_reported_with_the_ladder(tmp_path):
    session, board, port = make_session(tmp_path)
    port.dropped_writes = True
    start = time.monotonic()
    with pytest.raises(BoardError) as info:
        session.call("len", "abc")
    elapsed = time.monotonic() - start
    assert info.value.tried == ["interrupt (Ctrl-C)", "raw REPL re-entry", "soft reset"]
    assert "not responding" in str(info.value)
    assert elapsed < 15
    port.dropped_writes = False
    assert session.recover("test") == "interrupt (Ctrl-C)"
    assert session.call("len", "abc") == 3


def test_lost_dispatcher_is_reinstalled_and_reported_as_a_reset(tmp_path):
    session, board, _ = make_session(tmp_path)
    resets = []
    session.on_reset.append(resets.append)
    board.feed(b"\x04")  # soft reset behind the host's back: RAM (the dispatcher) is gone
    board.out.clear()
    assert session.call("len", "ab") == 2
    assert resets == ["board reset by itself"]
