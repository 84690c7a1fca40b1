"""Leases on sweep runs: which coordinator runs which run, until when.

Several coordinators may work on one experiment at once (on one machine or several, on SQLite or
PostgreSQL). Each claims a run before handing it to its executor, by writing a lease (the run,
the coordinator as ``host:pid:token``, an expiry) in the same transaction that marks the run
``running``; a run with a live lease of another coordinator is left to it. A coordinator renews
its leases while it runs (a thread, every quarter of the lease's life) and drops each lease in
the transaction that records the run. A lease that has expired, or whose coordinator is a
process of this host that no longer exists (killed), can be claimed again, so a killed
coordinator's runs are taken over at once on its host and after at most :data:`LEASE_TTL_S`
elsewhere.

The leases live in their own table, ``experiment_leases``, created if missing, so databases
made before leases existed keep working unchanged.
"""

from __future__ import annotations

import contextlib
import os
import socket
import threading
import uuid
from collections.abc import Iterable
from datetime import UTC, datetime, timedelta
from typing import Any

from sqlalchemy import Column, DateTime, Engine, MetaData, String, Table, and_, delete, insert, select, update
from sqlalchemy.exc import IntegrityError, SQLAlchemyError

from sim.experiments.ledger import experiment_runs
from sim.output.store import StoreError, error_reason, retry, shown

LEASE_TTL_S = 60.0
LEASE_TTL_ENV = "NIC_SIM_LEASE_TTL"  # seconds; overrides the default (tests set a short one)

_metadata = MetaData()
experiment_leases = Table(
    "experiment_leases", _metadata,
    Column("run_id", String(200), primary_key=True),
    Column("owner", String(200), nullable=False),
    Column("expires_at", DateTime(timezone=True), nullable=False),
)  # fmt: skip


def lease_ttl() -> float:
    """The life of a lease: :data:`LEASE_TTL_ENV` if set to a positive number, else :data:`LEASE_TTL_S`."""
    try:
        value = float(os.environ.get(LEASE_TTL_ENV, ""))
    except ValueError:
        return LEASE_TTL_S
    return value if value > 0 else LEASE_TTL_S


class Leases:
    """One coordinator's leases in one database; a context manager that renews them and drops them at exit.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        ttl: Seconds a lease lives without renewal; ``None`` is :func:`lease_ttl`.

    Raises:
        StoreError: The lease table cannot be created.
    """

    def __init__(self, engine: Engine, ttl: float | None = None):
        self.engine, self.ttl = engine, ttl or lease_ttl()
        self.owner = f"{socket.gethostname()[:150]}:{os.getpid()}:{uuid.uuid4().hex[:12]}"
        self._stop = threading.Event()
        self._renewer: threading.Thread | None = None
        try:
            retry(lambda: _metadata.create_all(engine))
        except SQLAlchemyError as exc:
            raise StoreError(f"{shown(engine)}: cannot create the lease table: {error_reason(exc)}") from exc

    def __enter__(self) -> Leases:
        self._renewer = threading.Thread(target=self._renew_while_running, daemon=True, name="lease-renewer")
        self._renewer.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        if self._renewer is not None:
            self._renewer.join(timeout=10)
        with contextlib.suppress(SQLAlchemyError), self.engine.begin() as conn:  # else they expire by themselves
            conn.execute(delete(experiment_leases).where(experiment_leases.c.owner == self.owner))

    def claim(self, run_id: str, attempts: int, statuses: Iterable[str]) -> bool:
        """Claim a run and mark it ``running``, if no other coordinator holds it and it is still to do.

        Args:
            run_id: The run.
            attempts: Its attempts when this coordinator started: more now means someone has run it since.
            statuses: The statuses in which it is still to do.

        Returns:
            Whether this coordinator now holds the run.

        Raises:
            StoreError: The database cannot be written.
        """
        try:
            return retry(lambda: self._claim(run_id, attempts, list(statuses)))
        except SQLAlchemyError as exc:
            raise StoreError(f"{shown(self.engine)}: cannot claim run {run_id}: {error_reason(exc)}") from exc

    def _claim(self, run_id: str, attempts: int, statuses: list[str]) -> bool:
        t = experiment_leases
        now = datetime.now(UTC)
        lease = {"run_id": run_id, "owner": self.owner, "expires_at": now + timedelta(seconds=self.ttl)}
        try:
            with self.engine.begin() as conn:
                # A write first: on SQLite the transaction then holds the write lock, so claims never interleave.
                marked = conn.execute(update(experiment_runs).where(
                    experiment_runs.c.run_id == run_id, experiment_runs.c.attempts == attempts,
                    experiment_runs.c.status.in_(statuses)).values(status="running")).rowcount
                if marked != 1:  # done or failed since this coordinator started: nothing to claim
                    raise _NotClaimed
                held = conn.execute(select(t.c.owner, t.c.expires_at).where(t.c.run_id == run_id)).first()
                if held is None:
                    if not _insert_if_absent(conn, lease):
                        raise _NotClaimed  # another coordinator inserted it just now
                elif held.owner != self.owner:
                    if not _claimable(held.owner, held.expires_at, now):
                        raise _NotClaimed
                    taken = conn.execute(update(t).where(t.c.run_id == run_id, t.c.owner == held.owner)
                                         .values(owner=self.owner, expires_at=lease["expires_at"])).rowcount
                    if taken != 1:
                        raise _NotClaimed
        except _NotClaimed:  # the transaction is rolled back: the run stays as it was
            return False
        return True

    def renew(self) -> None:
        """Push back the expiry of every lease this coordinator holds."""
        with self.engine.begin() as conn:
            conn.execute(update(experiment_leases).where(experiment_leases.c.owner == self.owner)
                         .values(expires_at=datetime.now(UTC) + timedelta(seconds=self.ttl)))

    def held_by_others(self, run_ids: Iterable[str]) -> int:
        """How many of these runs another coordinator holds a lease on (lapsed or not).

        Args:
            run_ids: The runs.

        Returns:
            The count.
        """
        ids = set(run_ids)
        with self.engine.connect() as conn:
            owners = conn.execute(select(experiment_leases.c.run_id, experiment_leases.c.owner)).all()
        return sum(1 for run_id, owner in owners if run_id in ids and owner != self.owner)

    def release_clause(self, run_id: str) -> Any:
        """The statement that drops this coordinator's lease on a run (run in the transaction that records it).

        Args:
            run_id: The run.

        Returns:
            A DELETE statement.
        """
        return delete(experiment_leases).where(and_(experiment_leases.c.run_id == run_id,
                                                    experiment_leases.c.owner == self.owner))

    def _renew_while_running(self) -> None:
        while not self._stop.wait(self.ttl / 4):
            with contextlib.suppress(SQLAlchemyError):  # a busy or lost database: try again next time
                self.renew()


class _NotClaimed(Exception):
    """Raised inside a claim's transaction to roll it back."""


def _claimable(owner: str, expires_at: datetime, now: datetime) -> bool:
    """Whether another coordinator's lease may be taken: it has expired, or its process on this host is gone."""
    if expires_at.tzinfo is None:  # SQLite keeps no time zone; leases are written in UTC
        expires_at = expires_at.replace(tzinfo=UTC)
    if expires_at <= now:
        return True
    host, pid, _token = ([*owner.rsplit(":", 2), "", ""])[:3]
    return host == socket.gethostname()[:150] and pid.isdigit() and not _alive(int(pid))


def _insert_if_absent(conn: Any, row: dict[str, Any]) -> bool:
    """Insert a lease unless one exists (one statement where the dialect has it); whether it was inserted."""
    name = conn.dialect.name
    if name in ("sqlite", "postgresql"):
        from sqlalchemy.dialects import postgresql, sqlite

        dialect_insert = sqlite.insert if name == "sqlite" else postgresql.insert
        statement = dialect_insert(experiment_leases).values(**row).on_conflict_do_nothing()
        # RETURNING, not rowcount: psycopg reports no row count for an INSERT ... ON CONFLICT.
        return conn.execute(statement.returning(experiment_leases.c.run_id)).first() is not None
    try:
        with conn.begin_nested():
            conn.execute(insert(experiment_leases).values(**row))
    except IntegrityError:
        return False
    return True


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:  # someone else's process: alive
        return True
    return True
