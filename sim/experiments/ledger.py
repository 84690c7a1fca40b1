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

Sweeps enter and record their runs through :mod:`sim.experiments.bookkeeping`; this module
opens the ledger and reads it. SQLite files are opened in WAL mode with a long busy timeout, so
several coordinators (and readers) share one file; on PostgreSQL they simply write different rows.
"""

from __future__ import annotations

import difflib
import json
from collections.abc import Callable, Iterable
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
    event,
    select,
)  # fmt: skip
from sqlalchemy.exc import SQLAlchemyError

from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.output.store import StoreError, engine_for, error_reason, retry, shown, sqlite_pragmas
from sim.scenario.errors import ScenarioError

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

def open_ledger(db_url: str | Engine | None = None) -> Engine:
    """Open the results database for sweeps and create the ledger's tables if missing.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is :data:`sim.output.store.DEFAULT_DB_URL`.

    Returns:
        An engine; for SQLite, its connections use WAL and a long busy timeout.

    Raises:
        StoreError: If the database cannot be opened or written.
    """
    engine = db_url if isinstance(db_url, Engine) else retry(lambda: engine_for(db_url))
    if engine.dialect.name == "sqlite" and not event.contains(engine, "connect", sqlite_pragmas):
        event.listen(engine, "connect", sqlite_pragmas)
        engine.dispose()  # connections made before the listener lack the pragmas
    try:
        retry(lambda: metadata_obj.create_all(engine))
    except SQLAlchemyError as exc:
        raise StoreError(f"{shown(engine)}: cannot create the ledger tables: {error_reason(exc)}") from exc
    return engine


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
        raise ScenarioError(shown(engine), "", f"no experiment '{experiment}'; {hint}")
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
        raise StoreError(f"{shown(engine)}: cannot read the run ledger: {error_reason(exc)}") from exc
