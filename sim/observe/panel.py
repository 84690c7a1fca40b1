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
    ``(year - first year) * stride + firm`` is sorted and one ``searchsorted`` finds any row.
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
        self.alive = np.require(panel["alive"].to_numpy(bool), requirements=["C", "W"])
        first, start, rows_by_firm, contiguous = panel_order(firm, year, self.stride)
        self.by_firm = (first, start, rows_by_firm) if contiguous else None

    @cached_property
    def keys(self) -> np.ndarray:
        """The sorted keys ``(year - first year) * stride + firm`` of the rows (made when first asked for)."""
        year, firm = (self.panel[c].to_numpy(np.int64) for c in ("year", "firm_id"))
        return (year - self.first_year) * self.stride + firm

    def rows(self, firms: np.ndarray, years: np.ndarray | int) -> np.ndarray:
        """Panel rows of (firm, year) pairs where the firm was open.

        Args:
            firms: Firm ids.
            years: The year of each firm, or one year for all.

        Returns:
            The row of each pair, -1 where the firm was not open (or the year is outside the panel).
        """
        years = np.broadcast_to(np.asarray(years, dtype=np.int64), np.shape(firms))
        if self.by_firm is not None:
            return panel_rows(*self.by_firm, self.alive, np.array(firms, dtype=np.int64), np.array(years))
        inside = (years >= self.first_year) & (years <= self.last_year)
        keys = (years - self.first_year) * self.stride + np.asarray(firms, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = inside & (self.keys[pos] == keys)
        found[found] = self.alive[pos[found]]
        return np.where(found, pos, -1)

    def values(self, column: str, firms: np.ndarray, years: np.ndarray) -> np.ndarray:
        """A column at (firm, year) pairs.

        Args:
            column: Panel column.
            firms: Firm ids.
            years: The year of each firm.

        Returns:
            The values as float64, NaN where the firm was not open.
        """
        rows = self.rows(firms, years)
        data = self.panel[column].to_numpy(np.float64)
        return np.where(rows >= 0, data[np.maximum(rows, 0)], np.nan)

    def path(self, column: str, firms: np.ndarray, start: np.ndarray, years: int) -> np.ndarray:
        """Each firm's values of a column from its own start year on.

        Args:
            column: Panel column.
            firms: Firm ids.
            start: The first year of each firm.
            years: Years to follow.

        Returns:
            ``float64[len(firms), years]``, NaN where the firm was not open.
        """
        offsets = np.arange(years)
        return self.values(column, np.repeat(firms, years), (start[:, None] + offsets).ravel()).reshape(-1, years)


def growth_rates(levels: np.ndarray) -> np.ndarray:
    """Yearly growth ``x_t / x_{t-1} - 1`` along the rows of a level path.

    Args:
        levels: ``float64[units, years + 1]`` from :meth:`PanelIndex.path`.

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


def first_join_years(index: PanelIndex) -> np.ndarray:
    """Each firm's first year as a cluster member.

    Args:
        index: The indexed panel (with the ``member`` column).

    Returns:
        The year by firm id, a large number for firms that never joined.
    """
    panel = index.panel
    member = panel["member"].to_numpy(bool) & index.alive
    first = np.full(index.stride, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(first, panel["firm_id"].to_numpy(np.int64)[member], panel["year"].to_numpy(np.int64)[member])
    return first

