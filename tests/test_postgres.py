"""The results database on PostgreSQL: single runs, sweeps, two sweeps at once, export.

Needs a scratch database in NIC_SIM_TEST_POSTGRES_URL (``eval "$(scripts/ci-postgres.sh)"``
starts one on loopback, as ``.ci/run`` does); without it these tests are skipped.
"""

from __future__ import annotations

import os
import time
import uuid

import pandas as pd
import pytest
from sweep_helpers import LONG_NAME, NUL, cli, faulty, write_sweep

from sim.cli.main import main
from sim.experiments import ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import LocalPool
from sim.experiments.sweep_file import load_sweep
from sim.output.store import load_runs
from sim.scenario.errors import ScenarioError

URL = os.environ.get("NIC_SIM_TEST_POSTGRES_URL")


pytestmark = [
    pytest.mark.skipif(URL is None, reason="no PostgreSQL: set NIC_SIM_TEST_POSTGRES_URL to a scratch database "
                                           "(eval \"$(scripts/ci-postgres.sh)\" starts one on loopback)"),
]


def unique(prefix: str) -> str:
    """Experiment names unique to this test session, so reruns on one database never collide."""
    return f"{prefix}_{uuid.uuid4().hex[:8]}"


def test_run_command_records_a_run_on_postgres(pg, tmp_path):
    assert main(["run", "scenarios/classroom.toml", "--set", "population.scale=0.003",
                 "--set", "scenario.end_year=2004", "--out", str(tmp_path / "run"), "--db", pg, "--quiet"]) == 0
    assert str(tmp_path / "run") in load_runs(pg)["out_dir"].tolist()


def test_sweep_on_postgres_records_every_run_and_resumes(pg, tmp_path):
    name = unique("pg_sweep")
    sweep = load_sweep(write_sweep(tmp_path, name))
    first = run_sweep(sweep, LocalPool(2), pg, tmp_path, progress=False)
    again = run_sweep(sweep, LocalPool(2), pg, tmp_path, progress=False)
    runs = ledger.load_runs(ledger.open_ledger(pg), name)
    assert (first.done, again.done, again.skipped) == (8, 0, 8)
    assert runs["status"].tolist() == ["done"] * 8 and (runs["attempts"] == 1).all()


def test_postgres_and_sqlite_hold_the_same_numbers(pg, tmp_path):
    name = unique("pg_same")
    sweep = load_sweep(write_sweep(tmp_path, name, replications=1))
    sqlite = f"sqlite:///{tmp_path / 'r.db'}"
    for db in (pg, sqlite):
        run_sweep(sweep, LocalPool(2), db, tmp_path, progress=False)
    tables = []
    for db in (pg, sqlite):
        engine = ledger.open_ledger(db)
        tables.append(ledger.load_outputs(engine, ledger.load_runs(engine, name)["run_id"], "clusters"))
    pd.testing.assert_frame_equal(tables[0], tables[1])


def test_two_sweeps_write_one_postgres_database_at_once(pg, tmp_path):
    other, mine = unique("pg_other"), unique("pg_mine")
    rates = [0.01 * i for i in range(1, 9)]
    proc = cli("sweep", str(write_sweep(tmp_path, other, leave_rates=rates)), "--db", pg, "--workers", "1",
               "--out", str(tmp_path / other), "--quiet", wait=False)
    engine = ledger.open_ledger(pg)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None and not _done(engine, other):
        time.sleep(0.05)  # until the other coordinator is recording runs
    run_sweep(load_sweep(write_sweep(tmp_path, mine, leave_rates=rates[:2])), LocalPool(1), pg, tmp_path / mine,
              progress=False)
    _, err = proc.communicate(timeout=300)
    assert proc.returncode == 0, err
    runs = {n: ledger.load_runs(engine, n) for n in (other, mine)}
    assert [len(runs[other]), len(runs[mine])] == [32, 8]
    for n in runs:
        assert (runs[n]["status"] == "done").all()
        assert ledger.load_outputs(engine, runs[n]["run_id"])["run_id"].nunique() == len(runs[n])
    assert runs[mine]["finished_at"].min() < runs[other]["finished_at"].max()  # they overlapped


def _done(engine, experiment: str) -> bool:
    try:
        return bool((ledger.load_runs(engine, experiment)["status"] == "done").any())
    except ScenarioError:  # not in the ledger yet
        return False


def test_a_sweep_run_whose_outputs_postgres_refuses_is_failed_and_the_sweep_goes_on(pg, tmp_path):
    name = unique("pg_refused")
    sweep = load_sweep(write_sweep(tmp_path, name, leave_rates=(0.04, NUL, LONG_NAME, 0.08), replications=1,
                                   utilities=(-2.0,)))
    report = run_sweep(sweep, LocalPool(2, runner=faulty), pg, tmp_path, progress=False)
    runs = ledger.load_runs(ledger.open_ledger(pg), name).set_index("run_id")
    assert runs["status"].to_dict() == {f"{name}/0/0": "done", f"{name}/1/0": "failed", f"{name}/2/0": "failed",
                                        f"{name}/3/0": "done"}
    assert report.done == 2 and len(report.failed) == 2
    prefix = "DatabaseRejected: the results database refused the run's outputs: "
    assert runs.loc[f"{name}/1/0", "error"].startswith(prefix) and "NUL" in runs.loc[f"{name}/1/0", "error"]
    assert runs.loc[f"{name}/2/0", "error"] == prefix + "value too long for type character varying(200)"
    outputs = ledger.load_outputs(ledger.open_ledger(pg), list(runs.index))
    assert set(outputs["run_id"]) == {f"{name}/0/0", f"{name}/3/0"}


def test_export_reads_from_postgres(pg, tmp_path, capsys):
    name = unique("pg_export")
    run_sweep(load_sweep(write_sweep(tmp_path, name, replications=1)), LocalPool(2), pg, tmp_path, progress=False)
    assert main(["export", name, "--db", pg, "--format", "csv", "--out", str(tmp_path / "x")]) == 0
    capsys.readouterr()
    yearly = pd.read_csv(tmp_path / "x" / "yearly.csv")
    assert yearly["run_id"].nunique() == 4 and "membership.leave_rate" in yearly.columns

