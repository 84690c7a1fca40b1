"""The results database: one row per run, plus its yearly and cluster tables.

SQLAlchemy Core, so the same code writes to SQLite (the default, a file under ``results/``) and
to PostgreSQL (``postgresql://`` or ``postgresql+psycopg://``; psycopg is imported only when
such a URL is used). All SQL is built by SQLAlchemy with bound parameters. Firm panels are not
stored here: they live in each run's ``firms.parquet``.

Every failure to open or write the database is raised as :class:`StoreError`, whose text is one
line fit for the command line.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import UTC, datetime
from importlib import metadata
from pathlib import Path
from typing import Any

import pandas as pd
from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Engine,
    Float,
    ForeignKey,
    MetaData,
    Select,
    String,
    Table,
    Text,
    create_engine,
    delete,
    insert,
    select,
)  # fmt: skip
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.output.result import RunResult, summary_json

DEFAULT_DB_URL = "sqlite:///results/results.db"
CONNECT_TIMEOUT_S = 10  # an unreachable PostgreSQL host should fail, not hang the CLI

# Quantities in man-years or NOK are floats; everything else in the yearly table is a count.
_FLOAT_COLUMNS = {
    "employment", "revenue_nok", "value_added_nok", "programme_spend_nok", "restructuring_jobs",
    "budget_nok",
}  # fmt: skip
_STRING_COLUMNS = {"name", "region", "sector", "level"}
_DRIVER_HINTS = {"psycopg": "pip install 'psycopg[binary]'"}

metadata_obj = MetaData()

runs = Table(
    "runs",
    metadata_obj,
    Column("run_id", String(64), primary_key=True),
    Column("scenario", String(200), nullable=False),
    Column("seed", BigInteger, nullable=False),
    Column("started_at", DateTime(timezone=True)),
    Column("wall_time_s", Float),
    Column("status", String(16), nullable=False),
    Column("out_dir", Text),
    Column("package_version", String(40)),
    Column("summary_json", Text),
)


def _column(name: str) -> Column:
    if name in _FLOAT_COLUMNS:
        return Column(name, Float)
    if name in _STRING_COLUMNS:
        return Column(name, String(200))
    # With run_id, (year) keys a yearly row and (cluster_id, year) a cluster row.
    return Column(name, BigInteger, primary_key=name in ("year", "cluster_id"))


def _run_table(name: str, columns: Sequence[str]) -> Table:
    run_id = Column("run_id", ForeignKey("runs.run_id"), primary_key=True)
    return Table(name, metadata_obj, run_id, *(_column(c) for c in columns))


yearly = _run_table("yearly", YEARLY_COLUMNS)
clusters = _run_table("clusters", CLUSTER_COLUMNS)
effects = Table(
    "effects",
    metadata_obj,
    Column("run_id", ForeignKey("runs.run_id"), primary_key=True),
    Column("metric", String(32), primary_key=True),
    Column("estimator", String(32), primary_key=True),
    Column("gap_pp", Float),
    Column("ci_low", Float),
    Column("ci_high", Float),
    Column("n_treated", BigInteger),
)


class StoreError(RuntimeError):
    """The results database cannot be opened or written; ``str()`` is one line for the user."""


def engine_for(db_url: str | None = None) -> Engine:
    """Open the results database and create its tables if missing.

    Callers that save many runs (sweeps) should open one engine and pass it to :func:`save_run`.

    Args:
        db_url: SQLAlchemy URL; ``None`` means :data:`DEFAULT_DB_URL`. For SQLite files the
            parent folder is created; ``postgresql://`` uses the psycopg (3) driver.

    Returns:
        An engine whose tables exist.

    Raises:
        StoreError: If the URL is malformed, its driver is not installed, or the database
            cannot be reached or written.
    """
    url = _parse(db_url or DEFAULT_DB_URL)
    shown = url.render_as_string(hide_password=True)
    try:
        _make_sqlite_folder(url)
        engine = create_engine(url, **_engine_options(url))
        metadata_obj.create_all(engine)
    except ImportError as exc:
        hint = _DRIVER_HINTS.get(exc.name or "", "install it")
        raise StoreError(f"{shown}: database driver {exc.name!r} is not installed; {hint}") from exc
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"{shown}: cannot open results database: {error_reason(exc)}") from exc
    return engine


def _parse(db_url: str) -> URL:
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise StoreError(f"not a database URL: {db_url!r} (e.g. {DEFAULT_DB_URL})") from exc
    # The design's `--db postgresql://...` means psycopg 3, not SQLAlchemy's default psycopg2.
    return url.set(drivername="postgresql+psycopg") if url.drivername == "postgresql" else url


def _make_sqlite_folder(url: URL) -> None:
    if url.get_backend_name() == "sqlite" and url.database not in (None, "", ":memory:"):
        Path(url.database).parent.mkdir(parents=True, exist_ok=True)


def _engine_options(url: URL) -> dict[str, Any]:
    if url.get_backend_name() == "postgresql":
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


def error_reason(exc: BaseException) -> str:
    """The one line of a database error worth showing.

    SQLAlchemy's own message spans several lines (SQL, parameters, a help link); the driver's
    first line is what the user needs.

    Args:
        exc: The error, usually a ``SQLAlchemyError`` wrapping the driver's.

    Returns:
        The driver's first line, or the error's class name when it has no message.
    """
    cause = getattr(exc, "orig", None) or exc
    lines = str(cause).strip().splitlines()
    return lines[0] if lines else type(cause).__name__


def save_run(
    result: RunResult,
    run_id: str,
    out_dir: Path | str,
    db_url: str | Engine | None = None,
    wall_time_s: float | None = None,
    *,
    started_at: datetime | None = None,
    status: str = "done",
) -> None:
    """Record a run: its ``runs`` row and its yearly, cluster and effect rows, in one transaction.

    Saving a ``run_id`` that exists replaces all its rows, so a re-run never duplicates.

    Args:
        result: The run to record.
        run_id: Unique identifier of the run (also the name of its folder).
        out_dir: Folder holding the run's files.
        db_url: SQLAlchemy URL or an engine from :func:`engine_for`; ``None`` is the default.
        wall_time_s: Seconds the run took, if measured.
        started_at: When the run started (stored in UTC); ``None`` means now.
        status: Run status: ``pending``, ``running``, ``done`` or ``failed``.

    Raises:
        StoreError: If the database cannot be opened or written; nothing is then written.
    """
    row = {
        "run_id": run_id,
        "scenario": result.scenario_name,
        "seed": int(result.seed),
        "started_at": (started_at or datetime.now(UTC)).astimezone(UTC),
        "wall_time_s": wall_time_s,
        "status": status,
        "out_dir": str(out_dir),
        "package_version": _package_version(),
        "summary_json": summary_json(result.summary),
    }
    try:
        with _opened(db_url) as engine, engine.begin() as conn:
            for table in (yearly, clusters, effects, runs):  # children first: they reference runs
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(insert(runs), [row])
            frames = [(yearly, result.yearly), (clusters, result.clusters)]
            if result.effects is not None:
                frames.append((effects, result.effects))
            for table, frame in frames:
                rows = _records(frame, table, run_id)
                if rows:  # executemany with an empty list is an error
                    conn.execute(insert(table), rows)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot save run {run_id}: {error_reason(exc)}") from exc


def _records(frame: pd.DataFrame, table: Table, run_id: str) -> list[dict[str, Any]]:
    """Rows for ``table`` as plain Python values (drivers cannot bind numpy scalars or NaN)."""
    names = [c.name for c in table.columns if c.name != "run_id"]
    # astype(object) turns numpy scalars into int/float/bool/str.
    records = frame[names].astype(object).to_dict("records")
    return [{"run_id": run_id, **{k: _plain(v) for k, v in r.items()}} for r in records]


def _plain(value: Any) -> Any:
    if value is None or (isinstance(value, float) and math.isnan(value)) or value is pd.NA:
        return None
    return value


def _package_version() -> str:
    try:
        return metadata.version("nic-sim")
    except metadata.PackageNotFoundError:
        return "unknown"


def load_runs(db_url: str | Engine | None = None) -> pd.DataFrame:
    """All recorded runs, oldest first.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is the default database.

    Returns:
        One row per run with the columns of the ``runs`` table; ``started_at`` in UTC.

    Raises:
        StoreError: If the database cannot be opened or read.
    """
    table = _load(select(runs).order_by(runs.c.started_at, runs.c.run_id), db_url)
    # SQLite hands back the stored UTC times without a zone, PostgreSQL in the session's zone.
    table["started_at"] = pd.to_datetime(table["started_at"], utc=True)
    return table


def load_yearly(
    db_url: str | Engine | None = None, run_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Yearly rows of recorded runs.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is the default database.
        run_ids: Runs to load; ``None`` loads all.

    Returns:
        ``run_id`` followed by :data:`sim.observe.columns.YEARLY_COLUMNS`, sorted by run and year.

    Raises:
        StoreError: If the database cannot be opened or read.
    """
    return _load(_select_runs(yearly, run_ids, yearly.c.year), db_url)


def load_clusters(
    db_url: str | Engine | None = None, run_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Cluster-year rows of recorded runs.

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is the default database.
        run_ids: Runs to load; ``None`` loads all.

    Returns:
        ``run_id`` followed by :data:`sim.observe.columns.CLUSTER_COLUMNS`, sorted by run, cluster, year.

    Raises:
        StoreError: If the database cannot be opened or read.
    """
    return _load(_select_runs(clusters, run_ids, clusters.c.cluster_id, clusters.c.year), db_url)


def load_effects(
    db_url: str | Engine | None = None, run_ids: Iterable[str] | None = None
) -> pd.DataFrame:
    """Membership effects of recorded runs (``effects.csv`` rows).

    Args:
        db_url: SQLAlchemy URL or engine; ``None`` is the default database.
        run_ids: Runs to load; ``None`` loads all.

    Returns:
        ``run_id`` followed by :data:`sim.observe.columns.EFFECT_COLUMNS`, sorted by run, metric, estimator.

    Raises:
        StoreError: If the database cannot be opened or read.
    """
    return _load(_select_runs(effects, run_ids, effects.c.metric, effects.c.estimator), db_url)


def _select_runs(table: Table, run_ids: Iterable[str] | None, *order: Column) -> Select:
    query = select(table).order_by(table.c.run_id, *order)
    return query if run_ids is None else query.where(table.c.run_id.in_(list(run_ids)))


def _load(query: Select, db_url: str | Engine | None) -> pd.DataFrame:
    try:
        with _opened(db_url) as engine, engine.connect() as conn:
            return pd.read_sql(query, conn)
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot read results database: {error_reason(exc)}") from exc


@contextmanager
def _opened(db_url: str | Engine | None) -> Iterator[Engine]:
    """The caller's engine as is, or one opened for this call and closed after it."""
    if isinstance(db_url, Engine):
        yield db_url
        return
    engine = engine_for(db_url)
    try:
        yield engine
    finally:
        engine.dispose()
