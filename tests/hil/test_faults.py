"""Fault injection: seeded, rates as configured, order kept under delays."""

import time

import pytest

from hil.faults import FaultRates, FaultyPort, inject_faults
from hil.transport import open_transport


def run_through(data, seed, tx=FaultRates(), rx=FaultRates()):
    tr = open_transport("loop://")
    faulty = inject_faults(tr, tx=tx, rx=rx, seed=seed)
    tr.write(data)
    out = tr.read_for(0.05 + (tx.max_delay + rx.max_delay) * 2)
    return out, faulty


def test_clean_rates_pass_everything():
    data = bytes(range(256)) * 4
    out, faulty = run_through(data, seed=1)
    assert out == data
    assert not faulty.counts


def test_same_seed_same_damage_and_different_seed_differs():
    data = bytes(range(256)) * 4
    rates = FaultRates(drop=0.02, corrupt=0.02, duplicate=0.02)
    a, _ = run_through(data, 5, tx=rates)
    b, _ = run_through(data, 5, tx=rates)
    c, _ = run_through(data, 6, tx=rates)
    assert a == b
    assert a != c and a != data


def test_drop_rate_is_respected():
    data = bytes(4000)  # loop:// holds 4096 bytes
    out, faulty = run_through(data, 3, rx=FaultRates(drop=0.05))
    dropped = faulty.counts["rx_drop"]
    assert len(out) == len(data) - dropped
    assert 140 < dropped < 260  # 200 expected, +-4 sigma


def test_corruption_flips_exactly_one_bit():
    data = bytes(4000)
    out, faulty = run_through(data, 4, tx=FaultRates(corrupt=0.05))
    assert len(out) == len(data)
    damaged = [b for b in out if b]
    assert len(damaged) == faulty.counts["tx_corrupt"] > 0
    assert all(bin(b).count("1") == 1 for b in damaged)


def test_duplicates_repeat_the_byte():
    data = bytes(range(200))
    out, faulty = run_through(data, 9, rx=FaultRates(duplicate=0.1))
    assert len(out) == len(data) + faulty.counts["rx_duplicate"]
    assert sorted(set(out)) == list(data)


def test_delays_keep_order_and_hold_bytes_back():
    data = bytes(range(100))
    tr = open_transport("loop://")
    faulty = inject_faults(tr, rx=FaultRates(delay=0.2, max_delay=0.03), seed=2)
    tr.write(data)
    start = time.monotonic()
    out = tr.read_until(bytes([99]), timeout=2)
    assert out == data
    assert faulty.counts["rx_delay"] > 0
    assert time.monotonic() - start > 0.005


def test_rates_are_validated():
    with pytest.raises(ValueError):
        FaultRates(drop=1.5)


def test_wrapper_passes_unknown_attributes_through():
    tr = open_transport("loop://")
    faulty = FaultyPort(tr.port)
    assert faulty.baudrate == tr.port.baudrate
