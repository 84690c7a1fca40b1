"""Firm state as columns: one numpy array per attribute, one row per firm ever created.

Rows never move, so a row number is a stable firm identity for the whole run; closed firms keep
their row with ``alive`` false. Every yearly phase reads and writes whole columns at once.
"""

from __future__ import annotations

import numpy as np

from sim.engine.demography import close_rows
from sim.engine.membership import leave_clusters

# name -> (dtype, value of a new row before population data fills it)
SCHEMA: dict[str, tuple[type, float]] = {
    "region": (np.int16, -1),
    "sector": (np.int16, -1),
    "birth_year": (np.int16, -1),
    "death_year": (np.int16, -1),
    "alive": (np.bool_, True),
    "employees": (np.float64, 0.0),
    "revenue": (np.float64, 0.0),
    "productivity": (np.float64, 0.0),
    "va_share": (np.float64, 0.0),
    "potential": (np.float64, 0.0),
    "rd_effort": (np.float64, 0.0),
    "absorptive": (np.float64, 0.0),
    "intl": (np.float64, 0.0),
    "kx": (np.float64, 0.0),
    "ky": (np.float64, 0.0),
    "member": (np.bool_, False),
    "cluster": (np.int32, -1),
    "join_year": (np.int16, -1),
    "institution": (np.int32, -1),
    "innovated": (np.bool_, False),
    "growth": (np.float64, 0.0),
    "parent": (np.int32, -1),
    "area": (np.int16, -1),
    "network_until": (np.int16, -1),
    "consortium_until": (np.int16, -1),
    "support_growth": (np.float64, 0.0),
    "support_innovation": (np.float64, 0.0),
    "extra_attempts": (np.float64, 0.0),
}


class FirmTable:
    """Structure of arrays for all firms.

    Attributes:
        n: Number of rows in use; columns are valid on ``[:n]``.
    """

    def __init__(self, columns: dict[str, np.ndarray]):
        """Create the table from the initial population.

        Args:
            columns: Equal-length arrays for some of the names in :data:`SCHEMA`; the rest start
                at their defaults.
        """
        size = len(next(iter(columns.values())))
        self.n = 0
        self._open: np.ndarray | None = None  # alive_rows() until firms open or close
        self._capacity = max(16, int(size * 1.5))
        # Rows past n are never read: append writes every column of the rows it adds. Empty
        # arrays leave the spare capacity's memory untouched until firms need it.
        for name, (dtype, _) in SCHEMA.items():
            setattr(self, name, np.empty(self._capacity, dtype=dtype))
        self.append(columns)

    def append(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Add firms; return their row numbers.

        Args:
            columns: Equal-length arrays keyed by column name; the other columns of the new
                rows get their defaults.

        Returns:
            The new rows, ``np.arange(old_n, new_n)``.
        """
        k = len(next(iter(columns.values())))
        if self.n + k > self._capacity:
            self._grow(self.n + k)
        new = slice(self.n, self.n + k)
        for name, (_, fill) in SCHEMA.items():
            getattr(self, name)[new] = columns.get(name, fill)
        self.n += k
        self._open = None
        return np.arange(self.n - k, self.n)

    def _grow(self, needed: int) -> None:
        # Doubling keeps appends amortised O(1) over a run with steady entry.
        new_cap = max(needed, 2 * self._capacity)
        for name, (dtype, _) in SCHEMA.items():
            new = np.empty(new_cap, dtype=dtype)
            new[: self.n] = getattr(self, name)[: self.n]
            setattr(self, name, new)
        self._capacity = new_cap

    def take(self, start: int, stop: int) -> dict[str, np.ndarray]:
        """Copies of every column for rows ``start:stop`` (as :meth:`append` takes them)."""
        return {name: getattr(self, name)[start:stop].copy() for name in SCHEMA}

    def close(self, rows: np.ndarray, year: int) -> None:
        """Mark firms closed in ``year``; they leave their cluster and institution (their rows stay)."""
        close_rows(np.ascontiguousarray(rows, dtype=np.int64), year, self.alive, self.death_year, self.member,
                   self.cluster, self.join_year, self.institution)
        self._open = None

    def leave(self, rows: np.ndarray) -> None:
        """The firms in ``rows`` leave their cluster."""
        leave_clusters(np.ascontiguousarray(rows, dtype=np.int64), self.member, self.cluster, self.join_year)

    def alive_rows(self) -> np.ndarray:
        """Row numbers of firms that are open.

        Do not modify: the array is reused until firms open or close, as a year asks for it a dozen
        times.
        """
        if self._open is None:
            self._open = np.flatnonzero(self.alive[: self.n])
        return self._open

    @property
    def value_added(self) -> np.ndarray:
        """Value added (NOK) of every row."""
        return self.revenue[: self.n] * self.va_share[: self.n]
