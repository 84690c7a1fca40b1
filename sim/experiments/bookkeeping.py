"""The coordinator's bookkeeping in the ledger: entering a sweep, handing out runs, recording results.

Only the coordinator writes, and each finished run is one transaction (its outputs and its
status together), so a coordinator killed at any moment leaves every run either recorded in
full or still to do. The tables are :mod:`sim.experiments.ledger`'s.
"""

from __future__ import annotations

import json
import tomllib
import traceback
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd
from sqlalchemy import Engine, delete, insert, select, update
from sqlalchemy.exc import InterfaceError, InternalError, OperationalError, SQLAlchemyError

from sim.experiments.ledger import (
    experiment_outputs,
    experiment_parameters,
    experiment_runs,
    experiments,
    retry,
    shown,
)
from sim.experiments.sweep import RunSpec, Sweep, flatten
from sim.experiments.tasks import Outcome, failed
from sim.output.result import summary_json
from sim.output.store import StoreError, error_reason
from sim.scenario.errors import ScenarioError, short_toml

# Columns of a cluster-year row that identify it rather than measure it.
_CLUSTER_KEYS = ("cluster_id", "year")


def enter(engine: Engine, sweep: Sweep) -> None:
    """Enter an experiment and its runs (``pending``) in the ledger; runs already there are kept as they are.

    Running a sweep again, or with more replications, adds only the runs that are new.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        sweep: The sweep whose runs are entered.

    Raises:
        ScenarioError: The experiment exists with another base scenario or outputs, or one of its
            runs with other parameters or another seed: a changed sweep needs a new name.
        StoreError: The database cannot be read or written.
    """
    try:
        retry(lambda: _enter(engine, sweep))
    except SQLAlchemyError as exc:
        raise StoreError(f"{shown(engine)}: cannot enter experiment {sweep.name} in the ledger: "
                         f"{error_reason(exc)}") from exc


def _enter(engine: Engine, sweep: Sweep) -> None:
    with engine.connect() as conn:
        stored = conn.execute(select(experiments.c.fingerprint, experiments.c.base_scenario_toml,
                                     experiments.c.outputs, experiments.c.package_version)
                              .where(experiments.c.experiment == sweep.name)).first()
        rows = conn.execute(select(experiment_runs.c.run_id, experiment_runs.c.parameters_json,
                                   experiment_runs.c.seed)
                            .where(experiment_runs.c.experiment == sweep.name))
        known = {run_id: (params, seed) for run_id, params, seed in rows}
    fingerprint = stored.fingerprint if stored is not None else None
    if fingerprint is not None and fingerprint != sweep.fingerprint():
        raise ScenarioError(sweep.source, "sweep.name", f"experiment '{sweep.name}' is already in the database with "
                            f"{_difference(stored, sweep)}; finishing it would mix two models, so give the changed "
                            "sweep a new name")
    new = []
    for run in sweep.runs():
        if run.run_id not in known:
            new.append(run)
        elif known[run.run_id] != (_json(run.parameters), run.seed):
            raise ScenarioError(sweep.source, "parameters", f"experiment '{sweep.name}' already has run {run.run_id} "
                                "with other parameter values or another seed; give the changed sweep a new name")
    with engine.begin() as conn:
        if fingerprint is None:
            conn.execute(insert(experiments), [{
                "experiment": sweep.name, "created_at": datetime.now(UTC), "sweep_file": sweep.source,
                "sweep_toml": sweep.text, "base_scenario_toml": sweep.base_toml, "design": sweep.design,
                "outputs": ",".join(sweep.outputs), "outcomes_json": json.dumps(sweep.outcomes),
                "parameters_json": json.dumps([p.name for p in sweep.parameters]),
                "fingerprint": sweep.fingerprint(),
                "package_version": _package_version(),
            }])  # fmt: skip
        if new:
            conn.execute(insert(experiment_runs), [_run_row(sweep.name, r) for r in new])
            conn.execute(insert(experiment_parameters), [p for r in new for p in _parameter_rows(r)])


def _difference(stored: Any, sweep: Sweep) -> str:
    """What differs between a stored experiment and the sweep now, in a few words."""
    if stored.outputs != ",".join(sweep.outputs):
        return f"outputs {stored.outputs}, not {','.join(sweep.outputs)}"
    old, new = (flatten(tomllib.loads(text), leaf=lambda v: not isinstance(v, dict))
                for text in (stored.base_scenario_toml, sweep.base_toml))
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key, "(none)") != new.get(key, "(none)"):
            version = _package_version()
            why = (f"nic-sim {stored.package_version} then, {version} now" if stored.package_version != version
                   else "from the base scenario or [fixed]")
            before, after = (short_toml(table.get(key, "(none)")) for table in (old, new))
            return f"{key} = {before} in its base scenario, now {after} ({why})"
    return "another base scenario"


def _run_row(experiment: str, run: RunSpec) -> dict[str, Any]:
    return {"run_id": run.run_id, "experiment": experiment, "point": run.point,
            "replication": run.replication, "seed": run.seed, "parameters_json": _json(run.parameters),
            "status": "pending", "attempts": 0}


def _parameter_rows(run: RunSpec) -> list[dict[str, Any]]:
    return [{"run_id": run.run_id, "name": name, "value_json": json.dumps(value),
             "value": float(value) if isinstance(value, int | float) and not isinstance(value, bool) else None}
            for name, value in run.parameters.items()]


def _json(value: Any) -> str:
    # Sorted keys: the same parameters always give the same text, so stored runs can be compared.
    return json.dumps(value, sort_keys=True)


def wanted_statuses(retry_failed: bool = False) -> list[str]:
    """The statuses of runs still to run: pending, running (left by a stopped coordinator) and, if asked, failed.

    Args:
        retry_failed: Count failed runs as still to run.

    Returns:
        The statuses.
    """
    return ["pending", "running", *(["failed"] if retry_failed else [])]


def to_do(engine: Engine, experiment: str, retry_failed: bool = False) -> dict[str, int]:
    """The runs of an experiment still to run, with their attempts so far.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        experiment: The experiment's name.
        retry_failed: Count failed runs as still to run.

    Returns:
        Run id -> attempts, for the runs in :func:`wanted_statuses`.

    Raises:
        StoreError: The database cannot be read.
    """
    query = select(experiment_runs.c.run_id, experiment_runs.c.attempts).where(
        experiment_runs.c.experiment == experiment, experiment_runs.c.status.in_(wanted_statuses(retry_failed)))
    try:
        with engine.connect() as conn:
            return {run_id: attempts for run_id, attempts in conn.execute(query)}
    except SQLAlchemyError as exc:
        raise StoreError(f"{shown(engine)}: cannot read experiment {experiment}: {error_reason(exc)}") from exc


def touched(engine: Engine, experiment: str, attempts: dict[str, int]) -> set[str]:
    """Of the given runs, those run since (their attempts went up): by this coordinator or another.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        experiment: The experiment's name.
        attempts: Run id -> attempts when the coordinator started.

    Returns:
        The run ids.

    Raises:
        StoreError: The database cannot be read.
    """
    query = select(experiment_runs.c.run_id, experiment_runs.c.attempts).where(
        experiment_runs.c.experiment == experiment)
    try:
        with engine.connect() as conn:
            return {run_id for run_id, n in conn.execute(query) if run_id in attempts and n > attempts[run_id]}
    except SQLAlchemyError as exc:
        raise StoreError(f"{shown(engine)}: cannot read experiment {experiment}: {error_reason(exc)}") from exc


def record(engine: Engine, outcome: Outcome, firms_path: str | None = None, release: Any = None) -> Outcome:
    """Record a finished or failed run: its outputs and its status in one transaction.

    Recording a run again replaces its outputs, so a run repeated after a crash never duplicates.
    A run whose outputs the database refuses (a value too long for its column, a NUL byte, a
    number out of range) is recorded as failed with the database's reason, without outputs: one
    bad run never stops a sweep or stays ``running``.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        outcome: What the executor returned.
        firms_path: Where the coordinator wrote the run's firm panel, if kept.
        release: A statement run in the same transaction (the coordinator dropping its lease on the run).

    Returns:
        The outcome as recorded: ``outcome``, or a failed one if the database refused it.

    Raises:
        StoreError: The database cannot be reached or written at all; nothing of the run is then written.
    """
    if not outcome.ok:
        outcome = _storable(outcome)
    try:
        _write(engine, outcome, firms_path, release)
        return outcome
    except _UNREACHABLE as exc:
        raise StoreError(f"{shown(engine)}: cannot record run {outcome.run_id}: {error_reason(exc)}") from exc
    except Exception as exc:  # the database, or the conversion to its rows, refused this run's outputs
        reason = error_reason(exc) if isinstance(exc, SQLAlchemyError) else f"{type(exc).__name__}: {exc}"
        refused = failed(outcome.run_id, f"DatabaseRejected: the results database refused the run's outputs: "
                                         f"{reason}", traceback.format_exc())
        refused.host, refused.worker, refused.peak_rss_mb = outcome.host, outcome.worker, outcome.peak_rss_mb
        refused.started_at, refused.wall_time_s = outcome.started_at, outcome.wall_time_s
        refused = _storable(refused)
    try:
        _write(engine, refused, None, release)
    except SQLAlchemyError as exc:
        raise StoreError(f"{shown(engine)}: cannot record run {outcome.run_id}: {error_reason(exc)}") from exc
    return refused


# Errors that say the database itself is unreachable or broken, not that it refused this run's rows.
_UNREACHABLE = (OperationalError, InterfaceError, InternalError)
MAX_ERROR_CHARS = 2000
MAX_NAME_CHARS = 200  # host and worker columns


def _storable(outcome: Outcome) -> Outcome:
    """A failed outcome any database accepts: no NUL bytes or unencodable characters, bounded lengths."""

    def clean(text: str | None, limit: int | None = None) -> str | None:
        if text is None:
            return None
        text = text.replace("\x00", "\\x00").encode("utf-8", "backslashreplace").decode("utf-8")
        return text[:limit] if limit else text

    outcome.error = clean(outcome.error, MAX_ERROR_CHARS)
    outcome.traceback = clean(outcome.traceback)
    outcome.host = clean(outcome.host, MAX_NAME_CHARS) or ""
    outcome.worker = clean(outcome.worker, MAX_NAME_CHARS) or ""
    outcome.summary = None
    return outcome


def _write(engine: Engine, outcome: Outcome, firms_path: str | None, release: Any) -> None:
    rows = _output_rows(outcome) if outcome.ok else []
    status = {
        "status": "done" if outcome.ok else "failed", "error": outcome.error,
        "traceback": outcome.traceback, "attempts": experiment_runs.c.attempts + 1,
        "started_at": outcome.started_at, "finished_at": datetime.now(UTC),
        "wall_time_s": outcome.wall_time_s, "host": outcome.host, "worker": outcome.worker,
        "peak_rss_mb": outcome.peak_rss_mb, "firms_path": firms_path,
        "summary_json": summary_json(outcome.summary) if outcome.summary is not None else None,
    }  # fmt: skip
    with engine.begin() as conn:
        # A write first: on SQLite the transaction then takes the write lock at once and waits
        # for other writers, instead of failing when a read would have to be upgraded.
        conn.execute(delete(experiment_outputs).where(experiment_outputs.c.run_id == outcome.run_id))
        if rows:
            conn.execute(insert(experiment_outputs), rows)
        conn.execute(update(experiment_runs).where(experiment_runs.c.run_id == outcome.run_id).values(**status))
        if release is not None:
            conn.execute(release)


def _output_rows(outcome: Outcome) -> list[dict[str, Any]]:
    rows = _long(outcome.yearly, "yearly", ("year",), outcome.run_id)
    if outcome.clusters is not None:
        rows += _long(outcome.clusters, "clusters", _CLUSTER_KEYS, outcome.run_id)
    return rows


def _long(frame: pd.DataFrame, output: str, keys: tuple[str, ...], run_id: str) -> list[dict[str, Any]]:
    """A wide table as tidy long rows: one per key and variable; numbers in value, strings in text."""
    n = len(frame)
    years = frame["year"].astype("int64").tolist()
    entities = frame["cluster_id"].astype("int64").tolist() if "cluster_id" in keys else [None] * n
    rows: list[dict[str, Any]] = []
    for column in frame.columns.drop(list(keys)):
        series = frame[column]
        if pd.api.types.is_numeric_dtype(series):  # bools too: stored as 0/1
            values = [None if v != v else v for v in series.astype("float64").tolist()]  # NaN -> NULL
            texts: list[Any] = [None] * n
        else:
            values, texts = [None] * n, [None if pd.isna(v) else str(v) for v in series.tolist()]
        rows += [{"run_id": run_id, "output": output, "entity": e, "year": y, "variable": column,
                  "value": v, "text": t} for e, y, v, t in zip(entities, years, values, texts)]
    return rows



def _package_version() -> str:
    try:
        return metadata.version("nic-sim")
    except metadata.PackageNotFoundError:
        return "unknown"
