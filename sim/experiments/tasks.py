"""One sweep run as a worker sees it: the task, its outcome, and the limits it runs under.

A :class:`Task` carries everything a worker needs (no file or database access); :func:`guarded`
runs it so that nothing escapes as an exception, and an :class:`Outcome` carries the run's tables
back to the coordinator. :func:`default_run_timeout` is the time a run may take before its worker
is killed, from the scenario's size; :func:`max_workers` bounds the local worker processes.
"""

from __future__ import annotations

import io
import math
import os
import socket
import sys
import time
import traceback
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import pandas as pd

Runner = Callable[["Task"], "Outcome"]

# A full-scale run (about 307,000 firms) takes some 8-14 s a year-span of 36 years on a 2-core
# machine, twice that with the twin world; the default limit is a generous multiple of that.
FULL_SCALE_SECONDS_PER_YEAR = 0.5
RUN_TIMEOUT_MULTIPLE = 20
RUN_TIMEOUT_FLOOR_S = 300.0
WORKERS_PER_CORE = 4  # --workers above this many per core only thrash

@dataclass(frozen=True)
class Task:
    """One run to execute: everything a worker needs, with no file or database access.

    Attributes:
        run_id: The run's key in the ledger.
        base: The resolved base scenario (``Scenario.model_dump()``).
        overrides: Dotted scenario key -> value for this run.
        seed: The run's seed.
        keep: Tables to send back besides ``yearly`` and the summary: ``clusters``, ``firms``.
    """

    run_id: str
    base: dict[str, Any]
    overrides: dict[str, Any]
    seed: int
    keep: frozenset[str] = frozenset()


@dataclass
class Outcome:
    """What came back from one run, finished or failed.

    Attributes:
        run_id: The run's key.
        error: ``"Type: message"`` on one line if the run failed, else ``None``.
        traceback: The full traceback of a failure.
        host: Host name of the worker.
        worker: The worker process (``pid N``) or Dask worker address.
        started_at: When the run started (UTC).
        wall_time_s: Seconds the run took.
        peak_rss_mb: Peak resident memory of the worker process so far, in MiB.
        summary: The run's ``summary.json`` contents.
        yearly: The yearly table.
        clusters: The cluster-year table, if kept.
        firms_parquet: The firm-year panel as parquet bytes, if kept.
    """

    run_id: str
    error: str | None = None
    traceback: str | None = None
    host: str = ""
    worker: str = ""
    started_at: datetime = field(default_factory=lambda: datetime.now(UTC))
    wall_time_s: float = 0.0
    peak_rss_mb: float | None = None
    summary: dict | None = None
    yearly: pd.DataFrame | None = None
    clusters: pd.DataFrame | None = None
    firms_parquet: bytes | None = None

    @property
    def ok(self) -> bool:
        """The run finished."""
        return self.error is None


def execute(task: Task) -> Outcome:
    """Run one sweep task: build its scenario, simulate, pack the kept tables.

    Args:
        task: The run.

    Returns:
        A finished outcome (timing and host are filled in by :func:`guarded`).
    """
    from sim.experiments.sweep import scenario_for
    from sim.output.result import compact_firms
    from sim.runner import run

    result = run(scenario_for(task.base, task.overrides, task.run_id), seed=task.seed)
    outcome = Outcome(task.run_id, summary=result.summary, yearly=result.yearly)
    if "clusters" in task.keep:
        outcome.clusters = result.clusters
    if "firms" in task.keep and result.firms is not None:
        buffer = io.BytesIO()
        compact_firms(result.firms).to_parquet(buffer, engine="pyarrow", index=False)
        outcome.firms_parquet = buffer.getvalue()
    return outcome


def guarded(runner: Runner, task: Task) -> Outcome:
    """Call ``runner`` so that nothing it raises escapes: failures become failed outcomes.

    Args:
        runner: The function that runs a task (:func:`execute`, or a test's stand-in).
        task: The run.

    Returns:
        The runner's outcome, or a failed one, with host, worker, timing and memory filled in.
    """
    started, t0 = datetime.now(UTC), time.perf_counter()
    try:
        outcome = runner(task)
    except (Exception, SystemExit) as exc:  # SystemExit too: a run calling sys.exit() is a failed run
        outcome = failed(task.run_id, f"{type(exc).__name__}: {exc}", traceback.format_exc())
    outcome.host, outcome.worker = socket.gethostname(), _worker_name()
    outcome.started_at, outcome.wall_time_s = started, time.perf_counter() - t0
    outcome.peak_rss_mb = peak_rss_mb()
    return outcome


def failed(run_id: str, error: str, trace: str | None = None) -> Outcome:
    """A failed outcome with a one-line error.

    Args:
        run_id: The run.
        error: What went wrong; its whitespace is collapsed to one line.
        trace: The traceback, if any.

    Returns:
        The outcome.
    """
    return Outcome(run_id, error=" ".join(error.split()) or "failed", traceback=trace)


def peak_rss_mb() -> float | None:
    """Peak resident set size of this process in MiB; ``None`` where there is no ``resource`` module.

    ``ru_maxrss`` is in KiB on Linux and in bytes on macOS; Windows has no ``resource`` module.
    """
    try:
        import resource
    except ImportError:
        return None
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return peak / (2**20 if sys.platform == "darwin" else 2**10)


def _worker_name() -> str:
    if "distributed" in sys.modules:
        try:
            from distributed import get_worker

            return get_worker().address
        except ValueError:  # not inside a Dask worker
            pass
    return f"pid {os.getpid()}"


def default_workers() -> int:
    """All cores this process may use."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


def max_workers() -> int:
    """The most local worker processes a sweep may start: :data:`WORKERS_PER_CORE` per core."""
    return WORKERS_PER_CORE * default_workers()


def expected_seconds(task: Task) -> float:
    """A rough run time of a task on one core, from its population scale, years and twin world.

    Args:
        task: The run.

    Returns:
        Seconds; an estimate, not a promise (hosts differ twofold and more).
    """
    scale = float(_setting(task, "population.scale", 1.0))
    years = int(_setting(task, "scenario.end_year", 2035)) - int(_setting(task, "scenario.start_year", 2000)) + 1
    twin = bool(_setting(task, "measurement.twin", True)) and bool(_setting(task, "measurement.effects", True))
    return 1.0 + FULL_SCALE_SECONDS_PER_YEAR * scale * max(years, 1) * (2 if twin else 1)


def default_run_timeout(task: Task) -> float:
    """The time a run may take before it is stopped: a generous multiple of :func:`expected_seconds`, with a floor.

    Args:
        task: The run.

    Returns:
        Seconds: at least :data:`RUN_TIMEOUT_FLOOR_S`.
    """
    return max(RUN_TIMEOUT_FLOOR_S, math.ceil(RUN_TIMEOUT_MULTIPLE * expected_seconds(task)))


def timeout_text(seconds: float) -> str:
    """A time limit as a message gives it: ``2 s``, ``1.5 s``.

    Args:
        seconds: The limit.

    Returns:
        The text.
    """
    return f"{seconds:g} s"


def _setting(task: Task, key: str, default: Any) -> Any:
    """A scenario value of a task: its override, else the base scenario's, else ``default``."""
    if key in task.overrides:
        return task.overrides[key]
    value: Any = task.base
    for part in key.split("."):
        if not isinstance(value, dict) or part not in value:
            return default
        value = value[part]
    return value
