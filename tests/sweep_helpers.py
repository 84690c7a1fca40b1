"""Helpers shared by the sweep tests: tiny sweep files and stand-in runners that fail on purpose."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from pathlib import Path

from conftest import ROOT

from sim.executors import Task, execute

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


# Leave rates that make faulty() fail: the run raises, exits its process, or kills its process.
RAISES, EXITS, KILLS = 0.011, 0.022, 0.033


def faulty(task: Task):
    """Run the task, unless its leave rate asks for a failure (see RAISES, EXITS, KILLS)."""
    rate = task.overrides["membership.leave_rate"]
    if rate == RAISES:
        raise RuntimeError(f"boom in {task.run_id}")
    if rate == EXITS:
        os._exit(3)
    if rate == KILLS:
        os.kill(os.getpid(), signal.SIGKILL)
    return execute(task)


def cli(*args: str, wait: bool = True, **kwargs):
    """``run.py`` in a fresh process (a finished process, or a running one with ``wait=False``)."""
    command = [sys.executable, str(ROOT / "run.py"), *args]
    if not wait:
        return subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, **kwargs)
    return subprocess.run(command, cwd=ROOT, capture_output=True, text=True, timeout=300, **kwargs)
