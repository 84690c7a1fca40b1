"""Sweeps on the local process pool: the ledger, resuming, failures, export and a killed coordinator."""

from __future__ import annotations

import os
import signal
import sqlite3
import time

import pandas as pd
import pytest
from matplotlib.image import imread
from sweep_helpers import EXITS, KILLS, RAISES, YEARS, cli, faulty, write_sweep

from sim.cli.main import main
from sim.experiments import ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import LocalPool
from sim.experiments.sweep import scenario_for
from sim.experiments.sweep_file import load_sweep
from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.runner import run

N_YEARS = YEARS[1] - YEARS[0] + 1
YEARLY_ROWS_PER_RUN = "select run_id, count(*) from experiment_outputs where output = 'yearly' group by 1"


@pytest.fixture(scope="module")
def swept(tmp_path_factory):
    """A 4-point x 2-replication sweep run once on two worker processes."""
    tmp = tmp_path_factory.mktemp("sweep")
    sweep = load_sweep(write_sweep(tmp, "demo"))
    db = f"sqlite:///{tmp / 'r.db'}"
    report = run_sweep(sweep, LocalPool(2), db, tmp / "out", progress=False)
    return sweep, db, report, tmp


def test_every_run_is_done_with_its_parameters_seed_host_and_timing(swept):
    sweep, db, report, _ = swept
    runs = ledger.load_runs(ledger.open_ledger(db), "demo")
    assert (report.total, report.done, report.failed) == (8, 8, [])
    assert runs["status"].tolist() == ["done"] * 8 and (runs["attempts"] == 1).all()
    assert runs.attrs["parameters"] == ["membership.leave_rate", "membership.base_utility"]
    assert sorted(zip(runs["membership.leave_rate"], runs["membership.base_utility"])) == sorted(
        [(a, b) for a in (0.04, 0.12) for b in (-2.0, 0.0)] * 2)
    assert set(runs["seed"]) == {r.seed for r in sweep.runs()}
    assert (runs["wall_time_s"] > 0).all() and runs["host"].str.len().gt(0).all()
    assert runs["worker"].str.startswith("pid ").all() and (runs["peak_rss_mb"] > 10).all()


def test_recorded_outputs_equal_a_direct_run_bit_for_bit(swept):
    sweep, db, _, _ = swept
    engine = ledger.open_ledger(db)
    spec = sweep.runs()[5]
    direct = run(scenario_for(sweep.base, spec.parameters), seed=spec.seed)
    yearly = ledger.load_outputs(engine, [spec.run_id], "yearly")
    assert len(yearly) == N_YEARS
    for column in YEARLY_COLUMNS:
        assert yearly[column].tolist() == direct.yearly[column].astype(float).tolist(), column
    clusters = ledger.load_outputs(engine, [spec.run_id], "clusters")
    expected = direct.clusters.sort_values(["cluster_id", "year"]).reset_index(drop=True)
    assert len(clusters) == len(expected) > 0
    for column in CLUSTER_COLUMNS:
        got = clusters[column].tolist()
        text = column in ("name", "region", "sector", "level")
        want = expected[column].tolist() if text else expected[column].astype(float).tolist()
        assert got == want, column


def test_running_the_sweep_again_skips_done_runs(swept):
    sweep, db, _, tmp = swept
    before = ledger.load_runs(ledger.open_ledger(db), "demo")
    again = run_sweep(sweep, LocalPool(2), db, tmp / "out", progress=False)
    after = ledger.load_runs(ledger.open_ledger(db), "demo")
    assert (again.skipped, again.done) == (8, 0)
    assert after["finished_at"].tolist() == before["finished_at"].tolist()


def test_more_replications_run_only_the_new_runs(tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    first = run_sweep(load_sweep(write_sweep(tmp_path, "grow", replications=1)), LocalPool(2), db, tmp_path,
                      progress=False)
    second = run_sweep(load_sweep(write_sweep(tmp_path, "grow", replications=2)), LocalPool(2), db, tmp_path,
                       progress=False)
    assert (first.done, second.skipped, second.done) == (4, 4, 4)


def test_a_changed_design_under_the_same_name_exits_2(swept, tmp_path, capsys):
    _, db, _, _ = swept
    path = write_sweep(tmp_path, "demo", leave_rates=(0.04, 0.2))
    assert main(["sweep", str(path), "--db", db, "--quiet"]) == 2
    assert "already has run demo/2/0 with other parameter values" in capsys.readouterr().err


def test_run_that_raises_or_kills_its_worker_fails_alone_and_is_retried_on_request(tmp_path):
    rates = (0.04, RAISES, EXITS, KILLS, 0.08, 0.12)
    sweep = load_sweep(write_sweep(tmp_path, "faults", leave_rates=rates, replications=1, utilities=(-2.0,)))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    report = run_sweep(sweep, LocalPool(2, runner=faulty), db, tmp_path, progress=False)
    runs = ledger.load_runs(ledger.open_ledger(db), "faults").set_index("run_id")
    assert (report.done, len(report.failed)) == (3, 3)
    assert runs["status"].to_dict() == {"faults/0/0": "done", "faults/1/0": "failed", "faults/2/0": "failed",
                                        "faults/3/0": "failed", "faults/4/0": "done", "faults/5/0": "done"}
    assert runs.loc["faults/1/0", "error"] == "RuntimeError: boom in faults/1/0"
    assert "in faulty" in runs.loc["faults/1/0", "traceback"]
    assert runs.loc["faults/2/0", "error"] == "WorkerDied: worker process died (exit code 3)"
    assert runs.loc["faults/3/0", "error"] == "WorkerDied: worker process died (killed by signal SIGKILL)"
    outputs = ledger.load_outputs(ledger.open_ledger(db), runs.index)
    assert set(outputs["run_id"]) == {"faults/0/0", "faults/4/0", "faults/5/0"}

    skipped = run_sweep(sweep, LocalPool(2), db, tmp_path, progress=False)
    retried = run_sweep(sweep, LocalPool(2), db, tmp_path, retry_failed=True, progress=False)
    runs = ledger.load_runs(ledger.open_ledger(db), "faults").set_index("run_id")
    assert (skipped.done, retried.done, retried.skipped) == (0, 3, 3)
    assert (runs["status"] == "done").all() and runs["error"].isna().all()
    assert runs["attempts"].to_dict() == {"faults/0/0": 1, "faults/1/0": 2, "faults/2/0": 2,
                                          "faults/3/0": 2, "faults/4/0": 1, "faults/5/0": 1}


def test_export_writes_tidy_tables_ready_for_groupby(swept, tmp_path, capsys):
    _, db, _, _ = swept
    for fmt in ("parquet", "csv"):
        assert main(["export", "demo", "--db", db, "--format", fmt, "--out", str(tmp_path / fmt)]) == 0
    capsys.readouterr()
    read = {"parquet": pd.read_parquet, "csv": pd.read_csv}
    for fmt in ("parquet", "csv"):
        yearly = read[fmt](tmp_path / fmt / f"yearly.{fmt}")
        runs = read[fmt](tmp_path / fmt / f"runs.{fmt}")
        clusters = read[fmt](tmp_path / fmt / f"clusters.{fmt}")
        assert len(runs) == 8 and len(yearly) == 8 * N_YEARS and len(clusters) > 0
        assert list(yearly.columns[:7]) == ["run_id", "point", "replication", "seed", "membership.leave_rate",
                                            "membership.base_utility", "year"]
        assert list(yearly.columns[7:7 + len(YEARLY_COLUMNS) - 1]) == list(YEARLY_COLUMNS[1:])
        last = yearly[yearly["year"] == YEARS[1]]
        by_rate = last.groupby("membership.leave_rate")["members"].mean()
        assert list(by_rate.index) == [0.04, 0.12]
        assert runs["firms_end"].tolist() == last.set_index("run_id").loc[runs["run_id"], "firms"].tolist()
    assert (tmp_path / "csv" / "summary.png").stat().st_size > 10_000


def test_export_of_an_unknown_experiment_exits_2_with_did_you_mean(swept, capsys):
    _, db, _, _ = swept
    assert main(["export", "dmeo", "--db", db]) == 2
    err = capsys.readouterr().err
    assert err.endswith("no experiment 'dmeo'; did you mean 'demo'?\n") and err.count("\n") == 1


def test_summary_plot_has_a_panel_per_outcome_and_parameter(swept):
    _, _, report, _ = swept
    height, width, _ = imread(report.plot).shape
    assert (width, height) == (2 * 340, 3 * 260)  # 2 parameters x 3 outcomes, 3.4 x 2.6 in at 100 dpi


def test_progress_bar_shows_runs_done_failed_and_eta(tmp_path, capsys):
    sweep = load_sweep(write_sweep(tmp_path, "bar", replications=1))
    run_sweep(sweep, LocalPool(2), f"sqlite:///{tmp_path / 'r.db'}", tmp_path, progress=True)
    err = capsys.readouterr().err
    assert "4/4 [" in err and "done=4, failed=0" in err and "<00:00" in err


def test_firm_panels_kept_on_request_are_written_and_exported(tmp_path, capsys):
    sweep = load_sweep(write_sweep(tmp_path, "panels", replications=1, leave_rates=(0.04,), outputs='["firms"]'))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run_sweep(sweep, LocalPool(2), db, tmp_path / "out", progress=False)
    runs = ledger.load_runs(ledger.open_ledger(db), "panels")
    direct = run(scenario_for(sweep.base, sweep.runs()[0].parameters), seed=sweep.runs()[0].seed)
    panel = pd.read_parquet(runs["firms_path"].iloc[0])
    assert len(panel) == len(direct.firms)
    assert panel["employees"].sum() == pytest.approx(direct.firms["employees"].sum(), rel=1e-6)
    assert main(["export", "panels", "--db", db, "--out", str(tmp_path / "x")]) == 0
    exported = pd.read_parquet(tmp_path / "x" / "firms.parquet")
    assert len(exported) == 2 * len(panel) and exported["run_id"].nunique() == 2
    capsys.readouterr()


@pytest.mark.slow
def test_two_sweeps_write_one_sqlite_database_at_once(tmp_path):
    db = f"sqlite:///{tmp_path / 'shared.db'}"
    rates = [0.01 * i for i in range(1, 9)]
    other = cli("sweep", str(write_sweep(tmp_path, "other", leave_rates=rates)), "--db", db, "--workers", "1",
                "--out", str(tmp_path / "other"), "--quiet", wait=False)
    deadline = time.monotonic() + 120
    while not _finished(tmp_path / "shared.db") and time.monotonic() < deadline and other.poll() is None:
        time.sleep(0.05)  # until the other coordinator is recording runs
    mine = run_sweep(load_sweep(write_sweep(tmp_path, "mine", leave_rates=rates[:2])), LocalPool(1), db,
                     tmp_path / "mine", progress=False)
    _, err = other.communicate(timeout=300)
    assert other.returncode == 0, err
    with sqlite3.connect(tmp_path / "shared.db") as conn:
        counts = conn.execute("select experiment, status, count(*) from experiment_runs group by 1, 2").fetchall()
        spans = dict((e, (lo, hi)) for e, lo, hi in conn.execute(
            "select experiment, min(finished_at), max(finished_at) from experiment_runs group by 1"))
        rows = conn.execute(YEARLY_ROWS_PER_RUN).fetchall()
    assert sorted(counts) == [("mine", "done", 8), ("other", "done", 32)] and mine.done == 8
    assert spans["mine"][0] < spans["other"][1] and spans["other"][0] < spans["mine"][1]  # they overlapped
    assert len(rows) == 40 and len({n for _, n in rows}) == 1 and rows[0][1] >= N_YEARS * (len(YEARLY_COLUMNS) - 1)


@pytest.mark.slow
def test_killed_coordinator_loses_no_finished_run_and_the_rerun_finishes_the_rest(tmp_path):
    path = write_sweep(tmp_path, "killed", leave_rates=[0.01 * i for i in range(1, 9)], replications=2)
    db_file = tmp_path / "r.db"
    db = f"sqlite:///{db_file}"
    args = ("sweep", str(path), "--db", db, "--workers", "2", "--out", str(tmp_path / "out"), "--quiet")
    snapshots = []
    for threshold in (0, 6):  # during start-up, and mid-sweep
        proc = cli(*args, wait=False)
        deadline = time.monotonic() + 60
        while len(_finished(db_file)) < threshold and time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.02)
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        snapshots.append(_finished(db_file))
        _assert_complete(db_file)
    for before, after in zip(snapshots, snapshots[1:]):
        assert before.items() <= after.items()  # a done run is never run again
    finished = cli(*args)
    assert finished.returncode == 0, finished.stderr
    final = _finished(db_file)
    assert len(final) == 32 and snapshots[-1].items() <= final.items()
    _assert_complete(db_file)
    workers = {int(w.split()[1]) for w in _column(db_file, "worker")}
    time.sleep(1)
    assert not [pid for pid in workers if _alive(pid)]  # orphaned workers of killed coordinators left


def _finished(db_file) -> dict[str, tuple[str, int]]:
    with sqlite3.connect(db_file, timeout=30) as conn:
        if not conn.execute("select 1 from sqlite_master where name = 'experiment_runs'").fetchone():
            return {}  # killed before the ledger was created
        rows = conn.execute(
            "select run_id, finished_at, attempts from experiment_runs where status = 'done'").fetchall()
    return {run_id: (at, attempts) for run_id, at, attempts in rows}


def _column(db_file, column: str) -> list:
    with sqlite3.connect(db_file, timeout=30) as conn:
        return [r[0] for r in conn.execute(f"select {column} from experiment_runs where {column} is not null")]


def _assert_complete(db_file) -> None:
    """Every done run has all its yearly rows; no other run has any."""
    if not _finished(db_file):
        return
    with sqlite3.connect(db_file, timeout=30) as conn:
        per_run = dict(conn.execute(YEARLY_ROWS_PER_RUN))
        done = {r[0] for r in conn.execute("select run_id from experiment_runs where status = 'done'")}
    assert set(per_run) == done
    assert len(set(per_run.values())) <= 1


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def test_resuming_after_the_base_scenario_changed_names_the_changed_value(tmp_path, capsys):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    path = write_sweep(tmp_path, "moved", replications=1)
    run_sweep(load_sweep(path), LocalPool(2), db, tmp_path, progress=False)
    path.write_text(path.read_text().replace("population.scale = 0.003", "population.scale = 0.004"))
    assert main(["sweep", str(path), "--db", db, "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "experiment 'moved' is already in the database with population.scale = 0.003 in its base scenario, " \
           "now 0.004 (from the base scenario or [fixed])" in err and err.count("\n") == 1
