"""Sweeps on a real dask.distributed LocalCluster: the same numbers as the local pool, and
failures that stay with their run."""

from __future__ import annotations

import time

import cloudpickle
import dask
import pytest
import sweep_helpers
from distributed import Client, LocalCluster
from sweep_helpers import EXITS, HANGS, RAISES, faulty, write_sweep

from sim.cli.main import main
from sim.experiments import executors, ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import DaskPool, LocalPool
from sim.experiments.sweep_file import load_sweep

pytestmark = pytest.mark.slow  # a LocalCluster of two worker processes: some 20 s

# Dask workers are separate processes that do not have the tests folder on their path.
cloudpickle.register_pickle_by_value(sweep_helpers)


@pytest.fixture(scope="module")
def cluster():
    # A run whose worker dies is not retried on another worker: the test wants it failed at once.
    with dask.config.set({"distributed.scheduler.allowed-failures": 0}), \
            LocalCluster(n_workers=2, threads_per_worker=1, processes=True, dashboard_address=None) as cluster:
        yield cluster


def test_dask_and_local_pool_give_identical_outputs(cluster, tmp_path):
    db = f"sqlite:///{tmp_path / 'r.db'}"
    for name, executor in (("on_dask", DaskPool(cluster.scheduler_address)), ("on_pool", LocalPool(2))):
        report = run_sweep(load_sweep(write_sweep(tmp_path, name, replications=1)), executor, db, tmp_path / name,
                           progress=False)
        assert (report.done, report.failed) == (4, [])
    engine = ledger.open_ledger(db)
    runs = {name: ledger.load_runs(engine, name) for name in ("on_dask", "on_pool")}
    assert runs["on_dask"]["worker"].str.startswith("tcp://").all()
    assert runs["on_dask"]["seed"].tolist() == runs["on_pool"]["seed"].tolist()
    for output in ("yearly", "clusters"):
        tables = {name: ledger.load_outputs(engine, runs[name]["run_id"], output) for name in runs}
        for name in tables:  # the same run under either experiment's name
            tables[name]["run_id"] = tables[name]["run_id"].str.split("/", n=1).str[1]
        assert len(tables["on_dask"]) > 0
        assert tables["on_dask"].equals(tables["on_pool"]), output


def test_dask_run_that_raises_or_kills_its_worker_fails_alone(cluster, tmp_path):
    rates = (0.04, RAISES, EXITS, 0.08)
    sweep = load_sweep(write_sweep(tmp_path, "dask_faults", leave_rates=rates, replications=1, utilities=(-2.0,)))
    with Client(cluster) as client:
        report = run_sweep(sweep, DaskPool(client, runner=faulty), f"sqlite:///{tmp_path / 'r.db'}",
                           tmp_path, progress=False)
    failed = dict(report.failed)
    assert report.done == 2 and sorted(failed) == ["dask_faults/1/0", "dask_faults/2/0"]
    assert failed["dask_faults/1/0"] == "RuntimeError: boom in dask_faults/1/0"
    assert failed["dask_faults/2/0"].startswith("KilledWorker:")


def test_unreachable_dask_scheduler_exits_2_with_one_line(tmp_path, capsys, monkeypatch):
    monkeypatch.setattr(executors, "DASK_CONNECT_TIMEOUT_S", 1)
    path = write_sweep(tmp_path, "nowhere")
    assert main(["sweep", str(path), "--dask-address", "tcp://127.0.0.1:9", "--db",
                 f"sqlite:///{tmp_path / 'r.db'}", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: --dask-address tcp://127.0.0.1:9: cannot reach the Dask scheduler")
    assert err.count("\n") == 1


def test_dask_run_over_its_time_limit_is_failed_and_its_worker_restarted(cluster, tmp_path):
    sweep = load_sweep(write_sweep(tmp_path, "dask_slow", leave_rates=(0.04, HANGS, 0.08), replications=1,
                                   utilities=(-2.0,)))
    started = time.monotonic()
    with Client(cluster) as client:
        report = run_sweep(sweep, DaskPool(client, runner=faulty, run_timeout=20), f"sqlite:///{tmp_path / 'r.db'}",
                           tmp_path, progress=False)
        workers = len(client.nthreads())
    assert time.monotonic() - started < 90  # 20 s limit: a cold worker's first run, on a busy host, takes 10
    assert report.done == 2, report
    assert report.failed == [("dask_slow/1/0", "RunTimeout: timed out after 20 s (the run's time limit, "
                                                "--run-timeout); its worker was killed")]
    assert workers == 2  # the hung worker was restarted through its nanny, not lost
