"""The sweep coordinator: enters a sweep in the ledger, hands its runs to an executor, records each result.

The coordinator is the only process that writes: workers send results back, and each one is
recorded in its own transaction as it arrives (:func:`sim.experiments.bookkeeping.record`).
Runs are claimed one at a time as the executor asks for them, each with a lease
(:mod:`sim.experiments.leases`), so several coordinators on one experiment share its runs; a
coordinator that has no run left to claim waits for the others' runs to be recorded (or their
leases to lapse, and then runs them). Kill the
coordinator at any moment and every run is either recorded in full or still to do; running the
sweep again does the rest. A kept firm panel is written to a file first (atomically, by rename)
and then recorded, so a recorded run's file is always complete.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

from sqlalchemy import Engine
from tqdm import tqdm

from sim.experiments import bookkeeping, ledger
from sim.experiments.executors import Outcome, Task
from sim.experiments.leases import Leases
from sim.experiments.plots import plot_experiment
from sim.experiments.sweep import RunSpec, Sweep

WAIT_FOR_OTHERS_S = 1.0  # how often a coordinator looks whether another one has finished its runs


class Executor(Protocol):
    """Anything that turns tasks into outcomes (:class:`~sim.experiments.executors.LocalPool`, ``DaskPool``)."""

    def map(self, tasks: Iterable[Task]) -> Iterator[Outcome]:
        """Run tasks, yielding each one's outcome as it finishes (in any order).

        Args:
            tasks: The runs to do.

        Returns:
            The outcomes, one per task.
        """


@dataclass
class SweepReport:
    """What one coordinator session did.

    Attributes:
        experiment: The experiment's name.
        total: Runs in the sweep.
        skipped: Runs not run now: done before (or failed before, without ``retry_failed``).
        done: Runs finished in this session.
        by_others: Runs of this session's share that another coordinator ran meanwhile.
        failed: ``(run_id, error)`` of runs that failed in this session.
        wall_time_s: Seconds this session took to enter, run and record (not to plot).
        out_dir: Folder of the summary plot and kept firm panels.
        plot: The summary plot, if any run is done.
    """

    experiment: str
    total: int
    skipped: int
    done: int = 0
    by_others: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    wall_time_s: float = 0.0
    out_dir: Path = Path()
    plot: Path | None = None

    @property
    def runs_per_minute(self) -> float:
        """Runs finished or failed in this session per minute of wall time."""
        return 60 * (self.done + len(self.failed)) / self.wall_time_s if self.wall_time_s else 0.0


def default_out_dir(experiment: str) -> Path:
    """The folder of an experiment's summary plot and firm panels.

    Args:
        experiment: The experiment's name.

    Returns:
        ``results/sweeps/<experiment>/``.
    """
    return Path("results") / "sweeps" / experiment


def run_sweep(sweep: Sweep, executor: Executor, db: str | Engine | None = None, out_dir: Path | None = None,
              retry_failed: bool = False, progress: bool = True) -> SweepReport:
    """Run every run of a sweep not yet done, recording each as it finishes.

    Args:
        sweep: From :func:`sim.experiments.sweep_file.load_sweep`.
        executor: Where runs execute.
        db: Results database URL or engine; ``None`` is the default SQLite file.
        out_dir: Folder for the summary plot and firm panels (default :func:`default_out_dir`).
        retry_failed: Run failed runs again.
        progress: Show a progress bar (runs done, failed, ETA) on stderr.

    Returns:
        What this session did.

    Raises:
        ScenarioError: The experiment exists with another design.
        StoreError: The database cannot be opened or written.
    """
    started = time.perf_counter()
    engine = ledger.open_ledger(db)
    try:
        return _coordinate(sweep, executor, engine, Path(out_dir or default_out_dir(sweep.name)),
                           retry_failed, progress, started)
    finally:
        if engine is not db:
            engine.dispose()  # close our connections now, not when garbage is collected


def _coordinate(sweep: Sweep, executor: Executor, engine: Engine, out_dir: Path, retry_failed: bool,
                progress: bool, started: float) -> SweepReport:
    bookkeeping.enter(engine, sweep)
    todo = bookkeeping.to_do(engine, sweep.name, retry_failed)
    every = sweep.runs()
    runs = {r.run_id: r for r in every if r.run_id in todo}
    report = SweepReport(sweep.name, total=len(every), skipped=len(every) - len(runs), out_dir=out_dir)
    keep = frozenset(sweep.outputs) - {"yearly"}
    statuses = bookkeeping.wanted_statuses(retry_failed)
    mine: set[str] = set()  # runs this coordinator claimed

    def claimed(leases: Leases) -> Iterator[Task]:
        """The runs this coordinator wins, claimed one at a time as the executor asks for the next."""
        for r in runs.values():
            if r.run_id not in mine and leases.claim(r.run_id, todo[r.run_id], statuses):
                mine.add(r.run_id)
                yield Task(r.run_id, sweep.base, r.parameters, r.seed, keep)

    with Leases(engine) as leases, tqdm(total=len(runs), desc=sweep.name, unit="run", disable=not progress,
                                        dynamic_ncols=True) as bar:
        claimed_before = -1
        while True:
            for outcome in executor.map(claimed(leases)):
                firms_path = _write_firms(outcome, runs[outcome.run_id], report.out_dir)
                # Failed instead if the database refused its outputs; the lease goes in the same transaction.
                outcome = bookkeeping.record(engine, outcome, firms_path, leases.release_clause(outcome.run_id))
                if outcome.ok:
                    report.done += 1
                else:
                    report.failed.append((outcome.run_id, outcome.error or ""))
                bar.set_postfix(done=report.done, failed=len(report.failed), refresh=False)
                bar.update()
            # Runs another coordinator holds: wait for it to finish them, or for its leases to lapse.
            others = bookkeeping.touched(engine, sweep.name, todo) - mine
            bar.update(len(others) - report.by_others)
            report.by_others = len(others)
            left = set(runs) - mine - others
            if not left or (len(mine) == claimed_before and not leases.held_by_others(left)):
                break  # done; or nothing claimable that anyone holds (never wait for nobody)
            claimed_before = len(mine)
            time.sleep(min(WAIT_FOR_OTHERS_S, leases.ttl / 4))
    report.wall_time_s = time.perf_counter() - started  # the runs' time, not the plot's
    report.plot = plot_experiment(engine, sweep.name, report.out_dir / "summary.png")
    return report


def _write_firms(outcome: Outcome, run: RunSpec, out_dir: Path) -> str | None:
    if outcome.firms_parquet is None:
        return None
    path = out_dir / "firms" / f"p{run.point}-r{run.replication}.parquet"
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_bytes(outcome.firms_parquet)
    os.replace(partial, path)  # atomic: a reader never sees half a file
    return str(path.resolve())
