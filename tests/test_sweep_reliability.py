"""Sweeps that nothing stops or hangs: frozen, killed and overrunning workers, two coordinators at once,
rows the database rejects, and bounds on workers and designs."""

from __future__ import annotations

import socket
import subprocess
import threading
import time
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import insert, select, update
from sweep_helpers import CLASSROOM, HANGS, KILLS, STOPS, SURROGATE, faulty, slow, write_sweep

from sim.cli.main import main
from sim.cli.sweep import SHOWN_RUNS
from sim.experiments import bookkeeping, ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import ExecutorError, LocalPool
from sim.experiments.leases import Leases, experiment_leases
from sim.experiments.sweep_file import load_sweep
from sim.experiments.tasks import default_workers, max_workers


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


def _lhs(folder, name: str, extra: str) -> object:
    path = folder / "big.toml"
    path.write_text(f'[sweep]\nname = "{name}"\nscenario = "{CLASSROOM}"\ndesign = "latin_hypercube"\n{extra}\n'
                    "[parameters]\nmembership.leave_rate = {low = 0.01, high = 0.2}\n")
    return path


def test_a_design_too_large_to_list_is_refused_at_once_with_its_size_and_the_limit(tmp_path, capsys):
    path = _lhs(tmp_path, "big", "samples = 10000000\nreplications = 3")
    started = time.monotonic()
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert time.monotonic() - started < 5
    err = capsys.readouterr().err
    assert err == (f"error: {path}: sweep.samples: design 'latin_hypercube' gives 30,000,000 runs (10,000,000 points "
                   "x 3 replications), more than the limit of 1,000,000 runs in one sweep; split it into several "
                   "sweeps\n")


def test_a_large_design_within_the_limit_lists_its_first_runs_quickly(tmp_path, capsys):
    path = _lhs(tmp_path, "large", "samples = 200000")
    started = time.monotonic()
    assert main(["sweep", str(path), "--dry-run"]) == 0
    assert time.monotonic() - started < 15
    out = capsys.readouterr().out.splitlines()
    assert out[0].endswith("design latin_hypercube, 200000 points x 1 replications = 200000 runs, outputs yearly")
    assert len(out) == 2 + SHOWN_RUNS and out[-1] == f"  ... and {200000 - SHOWN_RUNS} more"


@pytest.mark.parametrize("name", [".", "..", "../x", "a/b", "a\\\\b"])
def test_a_sweep_name_that_is_not_a_plain_folder_name_is_refused(tmp_path, capsys, name):
    path = write_sweep(tmp_path, "named")
    path.write_text(path.read_text().replace('name = "named"', f'name = "{name}"'))
    assert main(["sweep", str(path), "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: sweep.name: must be 1-100 letters") and err.count("\n") == 1


def test_more_workers_than_four_per_core_exit_2_in_one_line(tmp_path, capsys):
    most = max_workers()
    path = write_sweep(tmp_path, "many")
    with pytest.raises(SystemExit) as stop:
        main(["sweep", str(path), "--workers", str(most + 1), "--dry-run"])
    assert stop.value.code == 2
    err = capsys.readouterr().err
    assert err == (f"error: argument --workers: must be 1-{most} (4 per core on {default_workers()} cores), "
                   f"got {most + 1} (see run.py sweep --help)\n")
    with pytest.raises(ExecutorError, match=f"--workers must be 1-{most}"):
        LocalPool(most + 1)


def test_a_run_whose_outputs_the_database_refuses_is_failed_with_the_reason_and_the_sweep_goes_on(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "refused", leave_rates=(0.04, SURROGATE, 0.08), replications=1,
                                   utilities=(-2.0,)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    report = run_sweep(sweep, LocalPool(2, runner=faulty), db, tmp_path, progress=False)
    status, runs = _statuses(db, "refused")
    assert status == {"refused/0/0": "done", "refused/1/0": "failed", "refused/2/0": "done"}
    assert report.done == 2 and report.failed == [(
        "refused/1/0", "DatabaseRejected: the results database refused the run's outputs: UnicodeEncodeError: "
                       "'utf-8' codec can't encode character '\\ud800' in position 8: surrogates not allowed")]
    assert runs.loc["refused/1/0", "error"] == report.failed[0][1]
    assert runs.loc["refused/1/0", "wall_time_s"] > 0 and runs.loc["refused/1/0", "worker"].startswith("pid ")
    outputs = ledger.load_outputs(ledger.open_ledger(db), list(runs.index))
    assert set(outputs["run_id"]) == {"refused/0/0", "refused/2/0"}


def test_two_coordinators_started_together_share_the_runs_and_run_each_once(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "shared", replications=3))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    ledger.open_ledger(db).dispose()
    start, reports = threading.Barrier(2), {}

    def coordinate(who: str) -> None:
        pool = LocalPool(1, runner=slow)
        start.wait()
        reports[who] = run_sweep(sweep, pool, db, tmp_path / who, progress=False)

    threads = [threading.Thread(target=coordinate, args=(who,)) for who in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    a, b = reports["a"], reports["b"]
    _, runs = _statuses(db, "shared")
    assert (runs["status"] == "done").all() and (runs["attempts"] == 1).all() and len(runs) == 12
    assert a.done + b.done == 12 and a.failed == b.failed == []
    assert a.done >= 3 and b.done >= 3  # shared, not each running every run
    assert (a.by_others, b.by_others) == (b.done, a.done)
    assert runs["worker"].nunique() == 2  # one worker process per coordinator
    rows = ledger.load_outputs(ledger.open_ledger(db), list(runs.index)).groupby("run_id").size()
    assert len(rows) == 12 and rows.nunique() == 1  # every run recorded once, in full
    assert _leases(db) == []


def test_a_lapsed_lease_or_one_of_a_dead_coordinator_is_taken_over_a_live_one_is_waited_for(tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "leased", replications=1))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    engine = ledger.open_ledger(db)
    bookkeeping.enter(engine, sweep)
    now = datetime.now(UTC)
    held = {"leased/0/0": ("elsewhere:41:live", now + timedelta(seconds=3)),
            "leased/1/0": ("elsewhere:42:lapsed", now - timedelta(minutes=1)),
            "leased/2/0": (f"{socket.gethostname()}:{_dead_pid()}:killed", now + timedelta(hours=1))}
    Leases(engine)  # creates the lease table
    with engine.begin() as conn:
        conn.execute(update(ledger.experiment_runs).where(ledger.experiment_runs.c.run_id.in_(held))
                     .values(status="running"))
        conn.execute(insert(experiment_leases), [{"run_id": r, "owner": o, "expires_at": e}
                                                 for r, (o, e) in held.items()])
    started = time.monotonic()
    report = run_sweep(sweep, LocalPool(2), db, tmp_path, progress=False)
    status, runs = _statuses(db, "leased")
    assert (report.done, report.failed, report.by_others) == (4, [], 0)
    assert set(status.values()) == {"done"} and (runs["attempts"] == 1).all()
    assert time.monotonic() - started >= 2.5  # waited for the live lease to lapse
    assert runs["finished_at"].idxmax() == "leased/0/0"  # the live one was run last
    assert _leases(db) == []


def _dead_pid() -> int:
    """The pid of a process that has exited (a coordinator killed on this host)."""
    proc = subprocess.Popen(["true"])
    proc.wait()
    return proc.pid


def _leases(db: str) -> list:
    with ledger.open_ledger(db).connect() as conn:
        return conn.execute(select(experiment_leases)).all()
