"""The run ledger: experiments, their runs and the runs' outputs in the results database.

Tables (SQLAlchemy Core, beside :mod:`sim.output.store`'s tables in the same database):

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

import difflib
import json
import random
import time
import tomllib
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from importlib import metadata
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    Index,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    delete,
    event,
    insert,
    select,
    update,
)  # fmt: skip
from sqlalchemy.exc import SQLAlchemyError

from sim.experiments.executors import Outcome
from sim.experiments.sweep import RunSpec, Sweep
from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.output.result import summary_json
from sim.output.store import StoreError, engine_for, error_reason
from sim.scenario.errors import ScenarioError, short_toml

SQLITE_BUSY_TIMEOUT_MS = 120_000  # a writer waits this long for another to commit

# Table and column names are a contract: existing databases and analysts' SQL use them, so they stay.
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
    Column("parameters_json", Text),
    Column("outcomes_json", Text),
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


def open_ledger(db_url: str | Engine | None = None) -> Engine:
    """Open the results database for sweeps and create the ledger's tables if missing.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is :data:`sim.output.store.DEFAULT_DB_URL`.

    Returns:
        An engine; for SQLite, its connections use WAL and a long busy timeout.

    Raises:
        StoreError: If the database cannot be opened or written.
    """
    engine = db_url if isinstance(db_url, Engine) else _retry(lambda: engine_for(db_url))
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", _sqlite_pragmas):
        event.listen(engine, "connect", _sqlite_pragmas)
        engine.dispose()  # connections made before the listener lack the pragmas
    try:
        _retry(lambda: metadata_obj.create_all(engine))
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot create the ledger tables: {error_reason(exc)}") from exc
    return engine


def _sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    cursor = dbapi_conn.cursor()
    cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")  # first: the next one may wait
    cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer, nor it them
    cursor.close()


# Messages of errors that mean "another coordinator got there first", worth a second try.
_RACES = ("already exists", "duplicate key", "database is locked", "UNIQUE constraint failed")


def _retry[T](action: Callable[[], T], attempts: int = 5) -> T:
    """Run an action that can lose a race with another coordinator, trying again after a short random wait.

    Two coordinators can both create the tables, or both enter the same experiment; any other
    error is raised at once.
    """
    for attempt in range(attempts):
        try:
            return action()
        except (StoreError, SQLAlchemyError) as exc:
            if attempt == attempts - 1 or not any(race in str(exc) for race in _RACES):
                raise
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise AssertionError("unreachable")


def _shown(engine: Engine) -> str:
    return engine.url.render_as_string(hide_password=True)


# --- writing ---------------------------------------------------------------------------------

def enter(engine: Engine, sweep: Sweep) -> None:
    """Enter an experiment and its runs (``pending``) in the ledger; runs already there are kept as they are.

    Running a sweep again, or with more replications, adds only the runs that are new.

    Args:
        engine: From :func:`open_ledger`.
        sweep: The sweep whose runs are entered.

    Raises:
        ScenarioError: The experiment exists with another base scenario or outputs, or one of its
            runs with other parameters or another seed: a changed sweep needs a new name.
        StoreError: The database cannot be read or written.
    """
    try:
        _retry(lambda: _enter(engine, sweep))
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot enter experiment {sweep.name} in the ledger: "
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
    old, new = (_flat(tomllib.loads(text)) for text in (stored.base_scenario_toml, sweep.base_toml))
    for key in [*old, *(k for k in new if k not in old)]:
        if old.get(key, "(none)") != new.get(key, "(none)"):
            version = _package_version()
            why = (f"nic-sim {stored.package_version} then, {version} now" if stored.package_version != version
                   else "from the base scenario or [fixed]")
            before, after = (short_toml(table.get(key, "(none)")) for table in (old, new))
            return f"{key} = {before} in its base scenario, now {after} ({why})"
    return "another base scenario"


def _flat(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in table.items():
        if isinstance(value, dict):
            flat |= _flat(value, f"{prefix}{key}.")
        else:
            flat[f"{prefix}{key}"] = value
    return flat


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


def to_do(engine: Engine, experiment: str, retry_failed: bool = False) -> set[str]:
    """The runs of an experiment still to run.

    Args:
        engine: From :func:`open_ledger`.
        experiment: The experiment's name.
        retry_failed: Count failed runs as still to run.

    Returns:
        The ids of the runs pending, running (left by a stopped coordinator) and, if asked, failed.

    Raises:
        StoreError: The database cannot be read.
    """
    wanted = ["pending", "running", *(["failed"] if retry_failed else [])]
    query = select(experiment_runs.c.run_id).where(experiment_runs.c.experiment == experiment,
                                                   experiment_runs.c.status.in_(wanted))
    try:
        with engine.connect() as conn:
            return set(conn.execute(query).scalars())
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot read experiment {experiment}: {error_reason(exc)}") from exc


def mark_running(engine: Engine, run_ids: Iterable[str]) -> None:
    """Mark runs handed to the executor as ``running`` (one transaction for the batch).

    Args:
        engine: From :func:`open_ledger`.
        run_ids: The runs handed out; runs already done stay ``done``.

    Raises:
        StoreError: The database cannot be written.
    """
    ids = list(run_ids)
    if not ids:
        return
    try:
        with engine.begin() as conn:
            conn.execute(update(experiment_runs)
                         .where(experiment_runs.c.run_id.in_(ids), experiment_runs.c.status != "done")
                         .values(status="running"))
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot update runs: {error_reason(exc)}") from exc


def record(engine: Engine, outcome: Outcome, firms_path: str | None = None) -> None:
    """Record a finished or failed run: its outputs and its status in one transaction.

    Recording a run again replaces its outputs, so a run repeated after a crash never duplicates.

    Args:
        engine: From :func:`open_ledger`.
        outcome: What the executor returned.
        firms_path: Where the coordinator wrote the run's firm panel, if kept.

    Raises:
        StoreError: The database cannot be written; nothing of the run is then written.
    """
    rows = _output_rows(outcome) if outcome.ok else []
    status = {
        "status": "done" if outcome.ok else "failed", "error": outcome.error,
        "traceback": outcome.traceback, "attempts": experiment_runs.c.attempts + 1,
        "started_at": outcome.started_at, "finished_at": datetime.now(UTC),
        "wall_time_s": outcome.wall_time_s, "host": outcome.host, "worker": outcome.worker,
        "peak_rss_mb": outcome.peak_rss_mb, "firms_path": firms_path,
        "summary_json": summary_json(outcome.summary) if outcome.summary is not None else None,
    }  # fmt: skip
    try:
        with engine.begin() as conn:
            # A write first: on SQLite the transaction then takes the write lock at once and waits
            # for other writers, instead of failing when a read would have to be upgraded.
            conn.execute(delete(experiment_outputs).where(experiment_outputs.c.run_id == outcome.run_id))
            if rows:
                conn.execute(insert(experiment_outputs), rows)
            conn.execute(update(experiment_runs).where(experiment_runs.c.run_id == outcome.run_id).values(**status))
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot record run {outcome.run_id}: {error_reason(exc)}") from exc


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


# --- reading ---------------------------------------------------------------------------------

RUN_COLUMNS = ("run_id", "point", "replication", "seed")
_IDS_PER_QUERY = 1000


def experiment_names(engine: Engine) -> list[str]:
    """Names of the experiments in the database, oldest first.

    Args:
        engine: From :func:`open_ledger`.

    Returns:
        The names.
    """
    query = select(experiments.c.experiment).order_by(experiments.c.created_at, experiments.c.experiment)
    return list(_read(engine, lambda conn: conn.execute(query).scalars().all()))


def load_experiment(engine: Engine, experiment: str) -> dict[str, Any]:
    """The experiment's row, with ``outcomes`` and ``parameters`` parsed.

    Args:
        engine: From :func:`open_ledger`.
        experiment: The experiment's name.

    Returns:
        The row's columns by name, plus ``outcomes`` (``(column, year)`` pairs) and ``parameters``
        (the swept keys, in file order).

    Raises:
        ScenarioError: No such experiment (bad input: exit status 2).
    """
    row = _read(engine, lambda conn: conn.execute(
        select(experiments).where(experiments.c.experiment == experiment)).mappings().first())
    if row is None:
        names = experiment_names(engine)
        near = difflib.get_close_matches(experiment, names, n=1)
        listed = "experiments: " + ", ".join(names) if names else "it holds no experiment yet (run the sweep first)"
        hint = f"did you mean '{near[0]}'?" if near else listed
        raise ScenarioError(_shown(engine), "", f"no experiment '{experiment}'; {hint}")
    return dict(row) | {"outcomes": [tuple(o) for o in json.loads(row["outcomes_json"])],
                        "parameters": json.loads(row["parameters_json"])}


def load_runs(engine: Engine, experiment: str) -> pd.DataFrame:
    """The runs of an experiment as a table.

    One row per run: identity, one column per parameter (named by its dotted key), status, error,
    timings, host and the summary's headline figures.

    Args:
        engine: From :func:`open_ledger`.
        experiment: The experiment's name.

    Returns:
        Runs ordered by replication and design point; ``.attrs["parameters"]`` lists the
        parameter columns.
    """
    runs = _read(engine, lambda conn: pd.read_sql(
        select(experiment_runs).where(experiment_runs.c.experiment == experiment)
        .order_by(experiment_runs.c.replication, experiment_runs.c.point), conn))
    names = load_experiment(engine, experiment)["parameters"]
    params = pd.DataFrame([json.loads(p) for p in runs["parameters_json"]], index=runs.index, columns=names)
    summaries = [json.loads(s) if isinstance(s, str) else {} for s in runs["summary_json"]]  # NULL: not done
    headline = pd.DataFrame([s.get("headline", {}) for s in summaries], index=runs.index)
    for column in ("started_at", "finished_at"):
        runs[column] = pd.to_datetime(runs[column], utc=True)
    rest = runs.drop(columns=["experiment", "parameters_json", "summary_json", *RUN_COLUMNS])
    table = pd.concat([runs[list(RUN_COLUMNS)], params, rest, headline], axis=1)
    table.attrs["parameters"] = list(params.columns)
    return table


def load_outputs(engine: Engine, run_ids: Iterable[str], output: str = "yearly",
                 variables: Iterable[str] | None = None) -> pd.DataFrame:
    """Outputs of runs as a wide table: ``run_id, year`` (and ``cluster_id``) then one column each.

    Numbers come back as float64 (counts included), strings as strings. Contract columns come
    first in contract order, any others sorted by name.

    Args:
        engine: From :func:`open_ledger`.
        run_ids: The runs to load.
        output: ``yearly`` or ``clusters``.
        variables: Only these variables; ``None`` loads all.

    Returns:
        One row per run and year (and cluster); only the key columns when nothing is stored.

    Raises:
        StoreError: The database cannot be read.
    """
    t = experiment_outputs
    ids, names = list(run_ids), None if variables is None else list(variables)

    def query(chunk: list[str]) -> Any:
        q = select(t.c.run_id, t.c.entity, t.c.year, t.c.variable, t.c.value, t.c.text).where(
            t.c.run_id.in_(chunk), t.c.output == output)
        return q if names is None else q.where(t.c.variable.in_(names))

    # Slices of runs: SQLite allows some 32,000 bound parameters in one statement.
    parts = [_read(engine, lambda conn, c=ids[i:i + _IDS_PER_QUERY]: pd.read_sql(query(c), conn))
             for i in range(0, len(ids), _IDS_PER_QUERY)]
    long = pd.concat(parts, ignore_index=True) if parts else pd.DataFrame(
        columns=["run_id", "entity", "year", "variable", "value", "text"])
    keys = ["run_id", "entity", "year"] if output == "clusters" else ["run_id", "year"]
    if long.empty:
        return pd.DataFrame(columns=[k.replace("entity", "cluster_id") for k in keys])
    text_variables = set(long.loc[long["text"].notna(), "variable"])
    long["cell"] = long["value"].astype(object).where(~long["variable"].isin(text_variables), long["text"])
    wide = long.pivot(index=keys, columns="variable", values="cell")
    wide = wide.astype({c: "float64" for c in wide.columns if c not in text_variables})
    contract = YEARLY_COLUMNS if output == "yearly" else CLUSTER_COLUMNS
    order = [c for c in contract if c in wide.columns] + sorted(c for c in wide.columns if c not in contract)
    index = [k.replace("entity", "cluster_id") for k in keys]
    wide = wide[order].reset_index().rename(columns={"entity": "cluster_id"})
    wide[index[1:]] = wide[index[1:]].astype("int64")
    wide.columns.name = None
    return wide


def _read[T](engine: Engine, action: Callable[[Any], T]) -> T:
    try:
        with engine.connect() as conn:
            return action(conn)
    except SQLAlchemyError as exc:
        raise StoreError(f"{_shown(engine)}: cannot read the run ledger: {error_reason(exc)}") from exc


def _package_version() -> str:
    try:
        return metadata.version("nic-sim")
    except metadata.PackageNotFoundError:
        return "unknown"
