"""A run's second process (sim.forked): its outcome comes back, and it never outlives the run."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import pytest

from sim.forked import Forked

ORPHAN = """
import os, sys
from sim.forked import Forked
def wait(pipe):
    return pipe.recv()  # waits for the main process, which dies instead
child = Forked(wait, (), "test")
print(child._process.pid, flush=True)
os._exit(0)
"""


def _alive(pid: int) -> bool:
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().split()[2] != "Z"
    except FileNotFoundError:
        return False


def test_the_second_process_returns_its_value():
    assert Forked(lambda pipe, x: x * 2, (21,), "test").outcome() == 42


class Unpicklable(Exception):
    def __init__(self, a, b):
        super().__init__(f"{a} and {b}")


def _raise(pipe):
    raise Unpicklable(1, 2)


def test_an_error_that_cannot_cross_the_pipe_arrives_as_its_text():
    with pytest.raises(RuntimeError, match="Unpicklable: 1 and 2"):
        Forked(_raise, (), "test").outcome()


def test_a_second_process_ends_when_the_main_process_dies():
    done = subprocess.run([sys.executable, "-c", ORPHAN], capture_output=True, text=True, timeout=60,
                          cwd=os.path.dirname(os.path.dirname(__file__)))
    pid = int(done.stdout.split()[0])
    deadline = time.monotonic() + 10
    while _alive(pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not _alive(pid)
