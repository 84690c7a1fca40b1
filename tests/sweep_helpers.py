"""Helpers shared by the sweep tests: tiny sweep files and stand-in runners that fail on purpose."""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

from conftest import ROOT, cli  # noqa: F401 - cli is re-exported for the sweep tests

from sim.experiments.executors import Task, execute

CLASSROOM = ROOT / "scenarios" / "classroom.toml"
YEARS = (2000, 2008)  # 9 years at 0.3 % scale, clusters from 2006: about 0.1 s a run


def write_sweep(folder: Path, name: str, leave_rates=(0.04, 0.12), replications: int = 2,
                outputs: str = '["yearly", "clusters"]', utilities=(-2.0, 0.0)) -> Path:
    """A factorial sweep over membership.leave_rate x base_utility on a tiny classroom Norway."""
    path = folder / f"{name}.toml"
    path.write_text(f"""
[sweep]
name = "{name}"
scenario = "{CLASSROOM}"
replications = {replications}
seed = 11
outputs = {outputs}

[fixed]
population.scale = 0.003
scenario.end_year = {YEARS[1]}

[parameters]
membership.leave_rate = {list(leave_rates)}
membership.base_utility = {list(utilities)}
""")
    return path


# Leave rates that make faulty() fail: the run raises, exits its process, kills its process, stops its
# process (SIGSTOP: frozen, no heartbeat) or sleeps for an hour (alive, but over any time limit).
RAISES, EXITS, KILLS, STOPS, HANGS = 0.011, 0.022, 0.033, 0.044, 0.055
# Leave rates that make faulty() return a cluster name a database may refuse: a lone surrogate (no
# UTF-8 for SQLite), a NUL byte or 201 characters (PostgreSQL: text, String(200)).
SURROGATE, NUL, LONG_NAME = 0.066, 0.077, 0.088
BAD_NAMES = {SURROGATE: "Cluster \ud800", NUL: "Cluster\x00NUL", LONG_NAME: "N" * 201}


def faulty(task: Task):
    """Run the task, unless its leave rate asks for a failure (see RAISES, EXITS, KILLS)."""
    rate = task.overrides["membership.leave_rate"]
    if rate == RAISES:
        raise RuntimeError(f"boom in {task.run_id}")
    if rate == EXITS:
        os._exit(3)
    if rate == KILLS:
        os.kill(os.getpid(), signal.SIGKILL)
    if rate == STOPS:
        os.kill(os.getpid(), signal.SIGSTOP)
    if rate == HANGS:
        time.sleep(3600)
    outcome = execute(task)
    if rate in BAD_NAMES:
        names = outcome.clusters["name"].astype(object)  # arrow strings cannot hold a lone surrogate
        names.iloc[0] = BAD_NAMES[rate]
        outcome.clusters["name"] = names
    return outcome


def slow(task: Task):
    """Run the task after a pause, so that two coordinators started together overlap."""
    time.sleep(0.4)
    return execute(task)
