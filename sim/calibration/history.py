"""Where a calibration lives in the results database: pyabc's history, the studies and the simulations.

All of it sits in the results database the rest of the tool uses (SQLite under ``results/`` by
default, PostgreSQL by URL) and only the coordinator writes it:

- pyabc's own tables (``abc_smc``, ``populations``, ``models``, ``particles``, ``parameters``,
  ``samples``, ``summary_statistics``, ``version``), through :func:`results_history`: pyabc's
  ``History`` opened on any URL the tool takes (pyabc's own class passes SQLite's ``timeout`` to
  every driver and writes its version row only into new SQLite files, so as it ships it can
  neither open a PostgreSQL database nor a results file that exists already);
- ``calibration_studies``: one row per study (its name, kind, fingerprint and pyabc run id), so
  that running a calibration again finds its run and continues it, and refuses one whose set-up
  has changed;
- ``calibration_simulations``: every finished simulation of a generation under way (parameters
  and statistics as JSON), so that a calibration stopped in the middle of a generation loses no
  run when it continues; a generation's rows are deleted once the next one starts.

Nothing is pickled. pyabc stores parameters and weights as floats and each summary statistic as
numpy ``.npy`` bytes written with ``allow_pickle=False`` and read with numpy's default
(``allow_pickle=False``); every statistic the calibration reports is a float, so each is a plain
float64 array. pyabc would store a pandas DataFrame as parquet bytes; the calibration never gives
it one. Our own tables hold JSON text.
"""

from __future__ import annotations

import functools
import json
import math
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import (
    BigInteger,
    Column,
    DateTime,
    Integer,
    MetaData,
    String,
    Table,
    Text,
    and_,
    delete,
    event,
    insert,
    select,
)  # fmt: skip

from sim.output.store import engine_for, retry, sqlite_pragmas

metadata_obj = MetaData()

studies = Table(
    "calibration_studies", metadata_obj,
    Column("study", String(120), primary_key=True),
    Column("kind", String(16), nullable=False),
    Column("fingerprint", String(64), nullable=False),
    Column("abc_id", Integer, nullable=False),
    Column("created_at", DateTime(timezone=True)),
)  # fmt: skip

simulations = Table(
    "calibration_simulations", metadata_obj,
    Column("study", String(120), primary_key=True),
    Column("generation", Integer, primary_key=True),
    Column("evaluation", BigInteger, primary_key=True),
    Column("parameters", Text, nullable=False),
    Column("statistics", Text, nullable=False),
)  # fmt: skip


class CalibrationStore:
    """The calibration's tables in the results database, and pyabc's history beside them.

    Args:
        db_url: SQLAlchemy URL; ``None`` means the default SQLite file.

    Raises:
        StoreError: The database cannot be opened (``StoreURLError`` for a bad URL).
    """

    def __init__(self, db_url: str | None):
        self.engine = engine_for(db_url)
        self.url = self.engine.url.render_as_string(hide_password=False)
        retry(lambda: metadata_obj.create_all(self.engine, checkfirst=True))

    def find(self, study: str) -> dict[str, Any] | None:
        """The registered study of that name (``kind``, ``fingerprint``, ``abc_id``), or ``None``."""
        with self.engine.connect() as conn:
            row = conn.execute(select(studies).where(studies.c.study == study)).mappings().first()
        return dict(row) if row is not None else None

    def register(self, study: str, kind: str, fingerprint: str, abc_id: int) -> None:
        """Record a new study and the pyabc run that holds it."""
        row = {"study": study, "kind": kind, "fingerprint": fingerprint, "abc_id": abc_id,
               "created_at": datetime.now(UTC)}
        with self.engine.begin() as conn:
            conn.execute(insert(studies).values(**row))

    def history(self, abc_id: int | None = None) -> Any:
        """The pyabc history in this database, on run ``abc_id`` (``None``: a run is yet to be stored)."""
        return results_history(self.url, abc_id)

    def cached(self, study: str, generation: int) -> dict[int, tuple[dict[str, float], dict[str, float]]]:
        """The finished simulations of a generation: evaluation -> (parameters, statistics)."""
        query = select(simulations).where(and_(simulations.c.study == study, simulations.c.generation == generation))
        with self.engine.connect() as conn:
            rows = conn.execute(query).mappings().all()
        return {int(r["evaluation"]): (json.loads(r["parameters"]), unplain(json.loads(r["statistics"])))
                for r in rows}

    def keep(self, study: str, generation: int, evaluation: int, parameters: dict[str, float],
             statistics: dict[str, float]) -> None:
        """Store one finished simulation (replacing an older one of the same evaluation)."""
        key = and_(simulations.c.study == study, simulations.c.generation == generation,
                   simulations.c.evaluation == evaluation)
        row = {"study": study, "generation": generation, "evaluation": evaluation,
               "parameters": json.dumps(parameters), "statistics": json.dumps(_plain(statistics))}
        with self.engine.begin() as conn:
            conn.execute(delete(simulations).where(key))
            conn.execute(insert(simulations).values(**row))

    def forget(self, study: str, before: int | None = None) -> None:
        """Delete a study's stored simulations (of generations before ``before``, or all)."""
        where = simulations.c.study == study
        if before is not None:
            where = and_(where, simulations.c.generation < before)
        with self.engine.begin() as conn:
            conn.execute(delete(simulations).where(where))


def _plain(statistics: dict[str, float]) -> dict[str, float | None]:
    """Statistics for JSON: NaN and infinities as ``null`` (strict JSON, which PostgreSQL's tools read too)."""
    return {k: (float(v) if math.isfinite(v) else None) for k, v in statistics.items()}


def unplain(statistics: dict[str, float | None]) -> dict[str, float]:
    """Statistics read back from JSON: ``null`` as NaN."""
    return {k: (math.nan if v is None else float(v)) for k, v in statistics.items()}


@functools.cache
def _history_class() -> type:
    """The pyabc ``History`` class made to open any SQLAlchemy URL (imported late: pyabc takes seconds to load)."""
    from pyabc.storage.db_model import Base, Version
    from pyabc.storage.history import History, with_session
    from pyabc.storage.version import __db_version__
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    class _ResultsHistory(History):
        def _make_session(self):
            sqlite = self.db.startswith("sqlite")
            options = {"connect_args": {"timeout": self.DB_TIMEOUT}} if sqlite else {
                "connect_args": {"connect_timeout": 10}}
            engine = create_engine(self.db, **options)
            if sqlite:
                event.listen(engine, "connect", sqlite_pragmas)
            retry(lambda: Base.metadata.create_all(engine))
            self._engine, self._session = engine, sessionmaker(bind=engine)()
            return self._session

        @with_session
        def _set_version(self):
            if not self._session.query(Version).all():
                self._session.add(Version(version_num=__db_version__))
                self._session.commit()

        def _check_version(self):
            self._set_version()
            super()._check_version()

    return _ResultsHistory


def results_history(url: str, abc_id: int | None = None) -> Any:
    """The pyabc history on the results database.

    Args:
        url: SQLAlchemy URL with its password (the history opens its own connections).
        abc_id: The pyabc run to use; ``None`` for the latest (or none yet).

    Returns:
        A ``pyabc.History``.
    """
    return _history_class()(url, stores_sum_stats=True, _id=abc_id)
