"""Sweeps that nothing stops or hangs: frozen, killed and overrunning workers, two coordinators at once,
rows the database rejects, and bounds on workers and designs."""

from __future__ import annotations

import time

from sweep_helpers import HANGS, KILLS, STOPS, faulty, write_sweep

from sim.experiments import ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import LocalPool
from sim.experiments.sweep_file import load_sweep


def _statuses(db: str, name: str):
    runs = ledger.load_runs(ledger.open_ledger(db), name).set_index("run_id")
    return runs["status"].to_dict(), runs


def test_a_frozen_worker_is_killed_its_run_failed_and_the_sweep_finishes(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "frozen", leave_rates=(0.04, STOPS, 0.08, 0.12), replications=1,
                                   utilities=(-2.0,)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    started = time.monotonic()
    report = run_sweep(sweep, LocalPool(2, runner=faulty, heartbeat_timeout=1.5), db, tmp_path, progress=False)
    status, runs = _statuses(db, "frozen")
    assert time.monotonic() - started < 30
    assert (report.done, [r for r, _ in report.failed]) == (3, ["frozen/1/0"])
    assert status == {"frozen/0/0": "done", "frozen/1/0": "failed", "frozen/2/0": "done", "frozen/3/0": "done"}
    error = runs.loc["frozen/1/0", "error"]
    assert error.startswith("WorkerStalled: no heartbeat from worker pid ") and error.endswith(
        " for 1.5 s (stopped or frozen); it was killed")
    assert runs.loc["frozen/1/0", "wall_time_s"] >= 1.5


def test_a_killed_worker_fails_its_run_alone(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "killed", leave_rates=(0.04, KILLS, 0.08), replications=1,
                                   utilities=(-2.0,)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    report = run_sweep(sweep, LocalPool(2, runner=faulty), db, tmp_path, progress=False)
    status, runs = _statuses(db, "killed")
    assert (report.done, len(report.failed)) == (2, 1)
    assert status == {"killed/0/0": "done", "killed/1/0": "failed", "killed/2/0": "done"}
    assert runs.loc["killed/1/0", "error"] == "WorkerDied: worker process died (killed by signal SIGKILL)"


def test_a_run_over_its_time_limit_is_killed_and_failed_with_the_limit(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "slow", leave_rates=(0.04, HANGS, 0.08), replications=1,
                                   utilities=(-2.0,)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    started = time.monotonic()
    report = run_sweep(sweep, LocalPool(2, runner=faulty, run_timeout=3), db, tmp_path, progress=False)
    status, runs = _statuses(db, "slow")
    assert time.monotonic() - started < 30
    assert status == {"slow/0/0": "done", "slow/1/0": "failed", "slow/2/0": "done"}
    assert report.failed == [("slow/1/0", "RunTimeout: timed out after 3 s (the run's time limit, --run-timeout); "
                                          "its worker was killed")]
    assert 3 <= runs.loc["slow/1/0", "wall_time_s"] < 10
