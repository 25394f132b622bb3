"""Fixtures for the hardware-in-the-loop tests: virtual boards and orphan checks.

Virtual boards are never skipped: CI installs QEMU, the micro:bit firmware, socat and
the MicroPython wasm package with scripts/install-test-deps.sh.
"""

import time

import pytest

from hil import Board
from hil.virtual import live_processes, owned_processes

ECHO = "def echo(*a):\n    return a\ndef spin():\n    while 1:\n        pass\n"


def board_processes(owner=None):
    """(pid, cmdline) of the virtual-board processes started by ``owner`` (default: us)."""
    return owned_processes(owner)


def open_board(name, **kwargs):
    board = Board.open(name, **kwargs)
    board.exec_raw(ECHO)
    return board


@pytest.fixture(scope="module")
def wasm():
    board = open_board("wasm")
    yield board
    board.close()


@pytest.fixture(scope="module")
def microbit():
    board = open_board("qemu-microbit")
    yield board
    board.close()


@pytest.fixture(params=["wasm", "qemu-microbit"])
def any_board(request):
    """Each virtual board in turn (the module-scoped one)."""
    return request.getfixturevalue("wasm" if request.param == "wasm" else "microbit")


@pytest.fixture
def no_orphans():
    """Fail the test if it leaves board processes behind."""
    before = {pid for pid, _ in board_processes()}
    yield
    deadline = time.monotonic() + 5
    while True:
        left = [(pid, cmd) for pid, cmd in board_processes() if pid not in before]
        if not left or time.monotonic() > deadline:
            break
        time.sleep(0.05)
    assert not left, "orphaned board processes: %r" % left


@pytest.fixture(scope="session", autouse=True)
def nothing_left_running():
    """After the whole session: no process started by hil is left, tracked or not."""
    yield
    assert not live_processes(), "hil still tracks live processes: %r" % live_processes()
    assert not board_processes(), "board processes outlived the tests: %r" % board_processes()
