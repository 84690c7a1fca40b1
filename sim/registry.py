"""The run registry: experiments, their runs and the runs' outputs in the results database.

Tables (SQLAlchemy Core, beside :mod:`sim.store`'s tables in the same database):

- ``experiments``: one row per sweep (its file, resolved base scenario, design, fingerprint).
- ``experiment_runs``: one row per run: design point, replication, seed, status (``pending``,
  ``running``, ``done``, ``failed``), the error and traceback of a failure, attempts, timings,
  host and worker, peak worker memory, the summary and the path of a kept firm panel.
- ``experiment_parameters``: tidy long: ``run_id, name, value`` (numbers) and ``value_json``
  (every value, exactly as swept).
- ``experiment_outputs``: tidy long: ``run_id, output, entity, year, variable, value, text``;
  ``output`` is ``yearly`` or ``clusters`` (``entity`` is then the cluster id), ``value`` holds
  numbers and ``text`` strings (a cluster's name, region, sector, level). Long rows keep any
  column the model adds without a schema change.

Only the coordinator writes, and each finished run is one transaction (its outputs and its
status together), so a coordinator killed at any moment leaves every run either recorded in
full or still to do. SQLite files are opened in WAL mode with a long busy timeout, so several
coordinators (and readers) share one file; on PostgreSQL they simply write different rows.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any, TypeVar

import pandas as pd
from sqlalchemy import (
    BigInteger, Column, DateTime, Engine, Float, ForeignKey, Index, Integer, MetaData, String,
    Table, Text, delete, event, insert, select, update,
)  # fmt: skip
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError

from sim.executors import Outcome
from sim.results import CLUSTER_COLUMNS, YEARLY_COLUMNS, summary_json
from sim.store import StoreError, _reason, engine_for
from sim.sweep import RunSpec, Sweep
from sim.validation import ScenarioError

STATUSES = ("pending", "running", "done", "failed")
SQLITE_BUSY_TIMEOUT_MS = 120_000  # a writer waits this long for another to commit
T = TypeVar("T")

metadata_obj = MetaData()

experiments = Table(
    "experiments", metadata_obj,
    Column("experiment", String(100), primary_key=True),
    Column("created_at", DateTime(timezone=True)),
    Column("sweep_file", Text),
    Column("sweep_toml", Text),
    Column("base_scenario_toml", Text),
    Column("design", String(32)),
    Column("outputs", String(100)),
    Column("fingerprint", String(64)),
    Column("package_version", String(40)),
)  # fmt: skip

experiment_runs = Table(
    "experiment_runs", metadata_obj,
    Column("run_id", String(200), primary_key=True),
    Column("experiment", ForeignKey("experiments.experiment"), nullable=False, index=True),
    Column("point", Integer, nullable=False),
    Column("replication", Integer, nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("parameters_json", Text, nullable=False),
    Column("status", String(16), nullable=False),
    Column("error", Text),
    Column("traceback", Text),
    Column("attempts", Integer, nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("finished_at", DateTime(timezone=True)),
    Column("wall_time_s", Float),
    Column("host", String(200)),
    Column("worker", String(200)),
    Column("peak_rss_mb", Float),
    Column("summary_json", Text),
    Column("firms_path", Text),
)  # fmt: skip

experiment_parameters = Table(
    "experiment_parameters", metadata_obj,
    Column("run_id", ForeignKey("experiment_runs.run_id"), primary_key=True),
    Column("name", String(200), primary_key=True),
    Column("value", Float),
    Column("value_json", Text, nullable=False),
)  # fmt: skip

experiment_outputs = Table(
    "experiment_outputs", metadata_obj,
    Column("run_id", ForeignKey("experiment_runs.run_id"), nullable=False),
    Column("output", String(16), nullable=False),
    Column("entity", BigInteger),
    Column("year", BigInteger),
    Column("variable", String(100), nullable=False),
    Column("value", Float),
    Column("text", String(200)),
    Index("ix_experiment_outputs_run", "run_id", "output"),
)  # fmt: skip

# Columns of a cluster-year row that identify it rather than measure it.
_CLUSTER_KEYS = ("cluster_id", "year")


def open_registry(db_url: str | Engine | None = None) -> Engine:
    """Open the results database for sweeps and create the registry's tables if missing.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is :data:`sim.store.DEFAULT_DB_URL`.

    Returns:
        An engine; for SQLite, its connections use WAL and a long busy timeout.

    Raises:
        StoreError: If the database cannot be opened or written.
    """
    engine = db_url if isinstance(db_url, Engine) else _retry(lambda: engine_for(db_url), StoreError)
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections made before the listener lack the pragmas
    try:
        _retry(lambda: metadata_obj.create_all(engine), SQLAlchemyError)
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot create the registry tables: {_reason(exc)}") from exc
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")  # first: the next one may wait
    cursor.execute("PRAGMA journal_mode = WAL")  # readers and one writer at a time, no blocking
    cursor.close()


def _retry(action: Callable[[], T], errors: type[BaseException] | tuple, attempts: int = 5) -> T:
    """Retry an action that can lose a race with another coordinator (creating tables)."""
    for attempt in range(attempts):
        try:
            return action()
        except errors:
            if attempt == attempts - 1:
                raise
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise AssertionError("unreachable")


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# --- writing ---------------------------------------------------------------------------------

def register(engine: Engine, sweep: Sweep) -> None:
    """Record an experiment and its runs (``pending``); runs already recorded are kept as they are.

    Running a sweep again, or with more replications, adds only the runs that are new.

    Raises:
        ScenarioError: The experiment exists with another base scenario or outputs, or one of its
            runs with other parameters or another seed: a changed sweep needs a new name.
        StoreError: The database cannot be read or written.
    """
    try:
        _retry(lambda: _register(engine, sweep), IntegrityError, attempts=3)
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot register experiment {sweep.name}: {_reason(exc)}") from exc


def _register(engine: Engine, sweep: Sweep) -> None:
    with engine.connect() as conn:
        fingerprint = conn.execute(select(experiments.c.fingerprint)
                                   .where(experiments.c.experiment == sweep.name)).scalar()
        known = dict(conn.execute(select(experiment_runs.c.run_id, experiment_runs.c.parameters_json,
                                         experiment_runs.c.seed)
                                  .where(experiment_runs.c.experiment == sweep.name))
                     .tuples().all() and [])  # placeholder replaced below
    known = _known_runs(engine, sweep.name)
    if fingerprint is not None and fingerprint != sweep.fingerprint():
        raise ScenarioError(sweep.source, "sweep.name", f"experiment '{sweep.name}' is already in the database "
                            "with another base scenario, [fixed] values or outputs; give the changed sweep a new name")
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
                "outputs": ",".join(sweep.outputs), "fingerprint": sweep.fingerprint(),
                "package_version": _package_version(),
            }])  # fmt: skip
        if new:
            conn.execute(insert(experiment_runs), [_run_row(sweep.name, r) for r in new])
            conn.execute(insert(experiment_parameters), [p for r in new for p in _parameter_rows(r)])
