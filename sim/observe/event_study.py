"""The event study around joining: the matched gap from four years before a firm joins to years after.

Years since joining count calendar years with no year zero: year 1 is the first year of membership
(growth from J-1 to J, as in the published window), year -1 the last year before it (growth from
J-2 to J-1), year -4 the growth from J-5 to J-4. The leads (negative years) are placebo tests: the
cluster can have done nothing for a firm before it joined, so a lead gap between members and their
matched controls is selection the matching left in, and a design whose leads are far from zero
cannot be trusted for its lags. Year -1 is weak as a test: its growth is one of the covariates the
members are matched on (:data:`sim.observe.matching.COVARIATES`), so its gap is small by
construction; years -2 to -4 are the honest placebos.

A lead is measured only for members (and controls) open in both of its years, so young firms drop
out of the early leads: each row of ``effects_by_year.csv`` says how many members it counts.
"""

from __future__ import annotations

import numpy as np

from sim.observe.matching import Sample
from sim.observe.panel import PanelIndex, growth_rates

#: Years before joining in the event study (placebo leads).
LEADS = 4


def event_years(lags: int) -> np.ndarray:
    """Years since joining of the event study, leads first: ``-LEADS..-1, 1..lags``.

    Args:
        lags: Years of membership followed.

    Returns:
        The years as integers, in the order of the columns of :func:`event_growth`.
    """
    return np.concatenate([np.arange(-LEADS, 0), np.arange(1, lags + 1)])


def event_rows(index: PanelIndex, sample: Sample, lags: int, units: np.ndarray | None = None) -> np.ndarray:
    """Each unit's panel rows over its event window, from J-LEADS-1 (the first lead's base) to J+lags-1.

    One lookup serves every column read around joining: the growth of each metric (:func:`event_growth`)
    and the collaboration levels (:mod:`sim.observe.collaboration_gap`, from column 1 on).

    Args:
        index: The indexed panel (factual or twin).
        sample: The units.
        lags: Years of membership followed.
        units: Unit indices to look up (all if None).

    Returns:
        ``int64[units, LEADS + 1 + lags]``, -1 where the firm was not open.
    """
    units = np.arange(len(sample.firm)) if units is None else units
    return index.path_rows(sample.firm[units], sample.cohort[units] - LEADS - 1, LEADS + 1 + lags)


def event_growth(index: PanelIndex, rows: np.ndarray, column: str) -> np.ndarray:
    """Yearly growth of each unit over its event window, in the order of :func:`event_years`.

    ``g[u, i] = x_{J-LEADS+i} / x_{J-LEADS+i-1} - 1``: columns 0 to LEADS-1 are the leads (years -LEADS..-1),
    column LEADS + k - 1 is year k since joining (growth from J-2+k to J-1+k; year 1 is the first year of
    membership, J-1 to J).

    Args:
        index: The indexed panel the rows are of.
        rows: :func:`event_rows`.
        column: Panel column.

    Returns:
        ``float64[units, LEADS + lags]``, NaN where the firm was not open at either end of a year.
    """
    return growth_rates(index.take(column, rows))
