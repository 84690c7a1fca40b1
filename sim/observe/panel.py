"""Rows of the register's firm-year panel by (firm, year), and each firm's first year as a member.

The published estimator (:mod:`sim.observe.estimator`) looks firms up in the panel by firm and year
many times over: before joining for the matching, and along each year since joining for growth.
"""

from __future__ import annotations

from functools import cached_property

import numpy as np
import pandas as pd

from sim.engine.register import panel_order, panel_rows, sorted_by_year_and_firm


class PanelIndex:
    """Rows of a long firm-year panel by (firm, year).

    A firm's rows are found through its first year and where its rows start in an ordering by firm
    (:func:`sim.engine.register.panel_order`): two reads a lookup, where a binary search over
    millions of keys took twenty. A panel in which some firm's years have a gap is searched instead:
    the register writes it year by year with firms in row order, so the key
    ``(year - first year) * stride + firm`` is sorted and one ``searchsorted`` finds any row. The
    rows of a year are one block (:meth:`years_block`): the firms open in a year are read from it, not
    looked up one by one.
    """

    def __init__(self, panel: pd.DataFrame):
        """Index a panel; it is sorted by year and firm first if it is not already.

        Args:
            panel: Firm-year panel with ``firm_id, year, alive`` and the metric columns.
        """
        # Writable copies only where pandas hands out read-only views: the kernels take no read-only arrays.
        firm = np.require(panel["firm_id"].to_numpy(np.int64), requirements=["C", "W"])
        year = np.require(panel["year"].to_numpy(np.int64), requirements=["C", "W"])
        self.first_year, self.last_year = int(year.min()), int(year.max())
        self.stride = int(firm.max()) + 1
        order = None if sorted_by_year_and_firm(year, firm) else np.argsort(
            (year - self.first_year) * self.stride + firm, kind="stable")
        if order is not None:
            panel, firm, year = panel.iloc[order].reset_index(drop=True), firm[order], year[order]
        self.panel = panel
        # The firm and year columns as the panel holds them (views, not copies): callers convert only
        # the rows they pick, where a full-scale panel's millions of rows made each conversion cost.
        self.firm, self.year = panel["firm_id"].to_numpy(), panel["year"].to_numpy()
        self.alive = np.require(panel["alive"].to_numpy(bool), requirements=["C", "W"])
        # Where each year's rows start: the panel runs by year, so a year's rows are one block.
        self._year_start = np.searchsorted(year, np.arange(self.first_year, self.last_year + 2))
        first, start, rows_by_firm, contiguous = panel_order(firm, year, self.stride)
        self.by_firm = (first, start, rows_by_firm) if contiguous else None

    @cached_property
    def keys(self) -> np.ndarray:
        """The sorted keys ``(year - first year) * stride + firm`` of the rows (made when first asked for)."""
        return (self.year.astype(np.int64) - self.first_year) * self.stride + self.firm

    @cached_property
    def first_join(self) -> np.ndarray:
        """Each firm's first year as a cluster member, by firm id, a large number for firms that never joined.

        Needs the panel's ``member`` column; made when first asked for.
        """
        member = self.panel["member"].to_numpy(bool) & self.alive
        first = np.full(self.stride, np.iinfo(np.int32).max, dtype=np.int64)
        np.minimum.at(first, self.firm[member], self.year[member])
        return first

    def years_block(self, first: int, last: int) -> slice:
        """The rows of the years ``first..last``: one block, as the panel runs by year.

        Args:
            first: The first year.
            last: The last year.

        Returns:
            The slice of panel rows (empty where no year is in the panel).
        """
        ends = np.clip([first - self.first_year, last + 1 - self.first_year], 0, len(self._year_start) - 1)
        return slice(*(int(row) for row in self._year_start[ends]))

    def open_in(self, years: np.ndarray | int) -> np.ndarray:
        """Rows of the firms open at the end of any of the years.

        Args:
            years: A year or years.

        Returns:
            The rows, in panel order.
        """
        blocks = [self.years_block(y, y) for y in np.unique(years)]
        rows = np.concatenate([np.arange(b.start, b.stop) for b in blocks] or [np.zeros(0, dtype=np.int64)])
        return rows[self.alive[rows]]

    def open_firms(self, year: int) -> np.ndarray:
        """Whether each firm was open at the end of a year: a flag by firm id, for firms many at a time.

        Args:
            year: The year.

        Returns:
            ``bool[stride]``: true where :meth:`rows` finds the firm in that year.
        """
        open_ = np.zeros(self.stride, dtype=bool)
        open_[self.firm[self.open_in(year)]] = True
        return open_

    def rows(self, firms: np.ndarray, years: np.ndarray | int) -> np.ndarray:
        """Panel rows of (firm, year) pairs where the firm was open.

        Args:
            firms: Firm ids.
            years: The year of each firm, or one year for all.

        Returns:
            The row of each pair, -1 where the firm was not open (or the year is outside the panel).
        """
        # The kernel takes writable int64 arrays: copies only of other ones (and of one year for all).
        firms = np.require(firms, np.int64, ["C", "W"])
        years = np.asarray(years, dtype=np.int64)
        years = np.require(years if years.shape == firms.shape else np.broadcast_to(years, firms.shape),
                           requirements=["C", "W"])
        if self.by_firm is not None:
            return panel_rows(*self.by_firm, self.alive, firms, years)
        inside = (years >= self.first_year) & (years <= self.last_year)
        keys = (years - self.first_year) * self.stride + firms
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = inside & (self.keys[pos] == keys)
        found[found] = self.alive[pos[found]]
        return np.where(found, pos, -1)

    def take(self, column: str, rows: np.ndarray) -> np.ndarray:
        """A column at panel rows.

        Args:
            column: Panel column.
            rows: Panel rows, -1 where there is none (:meth:`rows`).

        Returns:
            The values as float64, NaN where a row is -1.
        """
        # The rows taken are converted, not the whole column: float32 and integers widen to float64 exactly.
        data = self.panel[column].to_numpy()
        return np.where(rows >= 0, data[np.maximum(rows, 0)].astype(np.float64), np.nan)

    def path_rows(self, firms: np.ndarray, start: np.ndarray, years: int) -> np.ndarray:
        """Each firm's rows from its own start year on: one lookup for every column read along the path.

        Args:
            firms: Firm ids.
            start: The first year of each firm.
            years: Years to follow.

        Returns:
            ``int64[len(firms), years]``, -1 where the firm was not open (:meth:`take` reads a column there).
        """
        offsets = np.arange(years)
        return self.rows(np.repeat(firms, years), (start[:, None] + offsets).ravel()).reshape(-1, years)


def growth_rates(levels: np.ndarray) -> np.ndarray:
    """Yearly growth ``x_t / x_{t-1} - 1`` along the rows of a level path.

    Args:
        levels: ``float64[units, years + 1]``, a column along :meth:`PanelIndex.path_rows`.

    Returns:
        ``float64[units, years]``, NaN where the firm was not open at either end or had nothing the year before.
    """
    with np.errstate(divide="ignore", invalid="ignore"):
        return levels[:, 1:] / np.where(levels[:, :-1] > 0, levels[:, :-1], np.nan) - 1.0


def winsor_bounds(growth: np.ndarray, share: float) -> tuple[float, float]:
    """The quantiles at which growth rates are winsorised (``share`` in each tail).

    Args:
        growth: Growth rates, NaN where undefined.
        share: Share of the finite values in each tail (0: no winsorising).

    Returns:
        The lower and upper bound (infinite when nothing is cut).
    """
    finite = growth[np.isfinite(growth)]
    if share == 0 or len(finite) == 0:
        return -np.inf, np.inf
    lo, hi = np.quantile(finite, [share, 1.0 - share])
    return float(lo), float(hi)
