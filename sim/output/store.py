"""The results database: one row per run, plus its yearly and cluster tables.

SQLAlchemy Core, so the same code writes to SQLite (the default, a file under ``results/``) and
to PostgreSQL (``postgresql://`` or ``postgresql+psycopg://``; psycopg is imported only when
such a URL is used). All SQL is built by SQLAlchemy with bound parameters. Firm panels are not
stored here: they live in each run's ``firms.parquet``.

Every failure to open or write the database is raised as :class:`StoreError`, whose text is one
line fit for the command line; a ``--db`` value that is no usable URL (unparseable, unknown or
missing driver) is its subclass :class:`StoreURLError` (bad input, exit status 2), anything else
(unreachable, read-only, damaged, locked, a row rejected) is the outside world (exit status 1).

Several processes share one database: SQLite files are opened in WAL mode with a long busy
timeout (:data:`SQLITE_BUSY_TIMEOUT_MS`, :func:`sqlite_pragmas`), and whatever can lose a race with
another process (creating the tables, a locked write) runs inside :func:`retry`.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
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
    event,
    insert,
    select,
)  # fmt: skip
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError, SQLAlchemyError

from sim.observe.columns import CLUSTER_COLUMNS, YEARLY_COLUMNS
from sim.output.result import RunResult, summary_json

DEFAULT_DB_URL = "sqlite:///results/results.db"
MAX_SEED = 2**63 - 1  # seeds are BIGINT: 64-bit signed
CONNECT_TIMEOUT_S = 10  # an unreachable PostgreSQL host should fail, not hang the CLI
SQLITE_BUSY_TIMEOUT_MS = 120_000  # a writer waits this long for another to commit
#: Messages of errors that mean "another process got there first", worth a second try.
RACES = ("already exists", "duplicate key", "database is locked", "UNIQUE constraint failed")

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


class StoreURLError(StoreError):
    """The database URL itself is unusable: unparseable, or its driver unknown or not installed."""


def engine_for(db_url: str | None = None) -> Engine:
    """Open the results database and create its tables if missing.

    Callers that save many runs (sweeps) should open one engine and pass it to :func:`save_run`.
    SQLite connections get :func:`sqlite_pragmas` (WAL, a long busy timeout); the tables are created
    inside :func:`retry`, so several processes opening a new database at once all succeed.

    Args:
        db_url: SQLAlchemy URL; ``None`` means :data:`DEFAULT_DB_URL`. For SQLite files the
            parent folder is created; ``postgresql://`` uses the psycopg (3) driver.

    Returns:
        An engine whose tables exist.

    Raises:
        StoreURLError: If the URL is malformed or its driver unknown or not installed.
        StoreError: If the database cannot be reached or written.
    """
    url = _parse(db_url or DEFAULT_DB_URL)
    shown = url.render_as_string(hide_password=True)
    try:
        engine = create_engine(url, **_engine_options(url))
    except ImportError as exc:
        hint = _DRIVER_HINTS.get(exc.name or "", "install it")
        raise StoreURLError(f"{shown}: database driver {exc.name!r} is not installed; {hint}") from exc
    except ArgumentError as exc:  # NoSuchModuleError: an unknown dialect or driver
        raise StoreURLError(f"{shown}: cannot open results database: {error_reason(exc)}") from exc
    if engine.dialect.name == "sqlite":
        event.listen(engine, "connect", sqlite_pragmas)
    try:
        _make_sqlite_folder(url)
        retry(lambda: metadata_obj.create_all(engine, checkfirst=True))
    except (SQLAlchemyError, OSError) as exc:
        engine.dispose()
        raise StoreError(f"{shown}: cannot open results database: {error_reason(exc)}") from exc
    return engine


def sqlite_pragmas(dbapi_conn: Any, _record: Any) -> None:
    """Set up a new SQLite connection for sharing the file: a long busy timeout, then WAL.

    A ``connect`` event listener (:func:`engine_for` adds it to every SQLite engine). A database
    opened read-only cannot switch to WAL; it is then left in its journal mode, so it can still
    be read (:func:`check_writable` says whether it can be written).

    Args:
        dbapi_conn: The driver's new connection.
        _record: SQLAlchemy's connection record (unused).
    """
    cursor = dbapi_conn.cursor()
    try:
        cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")  # first: the next one may wait
        try:
            cursor.execute("PRAGMA journal_mode = WAL")  # readers never block the writer, nor it them
        except Exception as exc:  # sqlite3.OperationalError, without importing the driver here
            if "readonly" not in str(exc):
                raise
    finally:
        cursor.close()


def retry[T](action: Callable[[], T], attempts: int = 5) -> T:
    """Run an action that can lose a race with another process, trying again after a short random wait.

    Two processes can both create the tables of a new database, or both write at once; errors
    whose message is one of :data:`RACES` are tried again, any other error is raised at once.

    Args:
        action: What to do.
        attempts: Tries at most.

    Returns:
        What the action returned.
    """
    for attempt in range(attempts):
        try:
            return action()
        except (StoreError, SQLAlchemyError) as exc:
            if attempt == attempts - 1 or not any(race in str(exc) for race in RACES):
                raise
            time.sleep(random.uniform(0.05, 0.3) * (attempt + 1))
    raise AssertionError("unreachable")


def shown(engine: Engine) -> str:
    """The database's URL for messages, its password hidden.

    Args:
        engine: The database.

    Returns:
        The URL as text.
    """
    return engine.url.render_as_string(hide_password=True)


def check_writable(engine: Engine) -> None:
    """Make sure the ``runs`` table can be written now, without changing it.

    Deletes no row inside a transaction that is rolled back: the database takes its write lock
    (waiting for another writer as a save would) and refuses if it is read-only or damaged.

    Args:
        engine: From :func:`engine_for`.

    Raises:
        StoreError: If the database cannot be written.
    """

    def probe() -> None:
        with engine.connect() as conn:
            conn.execute(delete(runs).where(runs.c.run_id == ""))
            conn.rollback()

    try:
        retry(probe)
    except (SQLAlchemyError, OSError) as exc:
        raise StoreError(f"{shown(engine)}: cannot write results database: {error_reason(exc)}") from exc


def row_problems(scenario: str, seed: int, run_id: str = "", texts: Iterable[str] = ()) -> list[str]:
    """What the database would reject in a run's rows, checked before the run.

    Text columns have a length (``String(200)``; PostgreSQL enforces it, SQLite does not, both are
    held to it) and no text may hold a NUL character; seeds are 64-bit signed integers.

    Args:
        scenario: The scenario's name (``runs.scenario``).
        seed: The run's seed (``runs.seed``).
        run_id: The run id (``runs.run_id``), if known.
        texts: Other text cells of the run, e.g. cluster names, regions and sectors.

    Returns:
        One phrase per problem, e.g. ``scenario name: 250 characters, at most 200``; empty if none.
    """
    problems = []
    checks = [("scenario name", scenario, runs.c.scenario.type.length), ("run id", run_id, runs.c.run_id.type.length)]
    checks += [("name", text, clusters.c.name.type.length) for text in texts]
    for what, text, limit in checks:
        text = str(text)
        if "\x00" in text:
            problems.append(f"{what} {text[:40]!r}: holds a NUL character")
        elif limit is not None and len(text) > limit:
            problems.append(f"{what} {text[:40]!r}...: {len(text)} characters, at most {limit}")
    if not 0 <= int(seed) <= MAX_SEED:
        problems.append(f"seed {seed}: must be 0-{MAX_SEED}")
    return problems


def _parse(db_url: str) -> URL:
    try:
        url = make_url(db_url)
    except ArgumentError as exc:
        raise StoreURLError(f"not a database URL: {db_url!r} (e.g. {DEFAULT_DB_URL})") from exc
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
        StoreError: If the database cannot be opened or written, or would reject a row (a text too
            long or holding NUL, a seed beyond 64 bits); nothing is then written.
    """
    texts = [v for frame in (result.yearly, result.clusters) for c in _STRING_COLUMNS & set(frame.columns)
             for v in frame[c].dropna().unique()]
    problems = row_problems(result.scenario_name, result.seed, run_id, texts)
    if problems:
        raise StoreError(f"cannot save run {run_id}: the database would reject it: {'; '.join(problems)}")
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
    frames = [(yearly, result.yearly), (clusters, result.clusters)]
    if result.effects is not None:
        frames.append((effects, result.effects))
    children = [(table, _records(frame, table, run_id)) for table, frame in frames]

    def write(engine: Engine) -> None:
        with engine.begin() as conn:
            for table in (yearly, clusters, effects, runs):  # children first: they reference runs
                conn.execute(delete(table).where(table.c.run_id == run_id))
            conn.execute(insert(runs), [row])
            for table, rows in children:
                if rows:  # executemany with an empty list is an error
                    conn.execute(insert(table), rows)

    try:
        with _opened(db_url) as engine:
            retry(lambda: write(engine))
    except (SQLAlchemyError, ValueError, OverflowError, TypeError) as exc:  # drivers' own errors for odd values
        raise StoreError(f"cannot save run {run_id}: {error_reason(exc)}") from exc


def delete_run(run_id: str, db_url: str | Engine | None = None) -> None:
    """Remove a run's rows (a run whose folder could not be finished after its row was saved).

    Args:
        run_id: The run.
        db_url: SQLAlchemy URL or engine; ``None`` is the default database.

    Raises:
        StoreError: If the database cannot be written.
    """

    def remove(engine: Engine) -> None:
        with engine.begin() as conn:
            for table in (yearly, clusters, effects, runs):
                conn.execute(delete(table).where(table.c.run_id == run_id))

    try:
        with _opened(db_url) as engine:
            retry(lambda: remove(engine))
    except SQLAlchemyError as exc:
        raise StoreError(f"cannot delete run {run_id}: {error_reason(exc)}") from exc


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
