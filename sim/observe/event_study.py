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
        The years as integers, in the order of the columns of :func:`lead_paths` then the lags.
    """
    return np.concatenate([np.arange(-LEADS, 0), np.arange(1, lags + 1)])


def lead_paths(index: PanelIndex, sample: Sample, column: str, units: np.ndarray | None = None) -> np.ndarray:
    """Yearly growth of each unit in the :data:`LEADS` years before its cohort joined.

    ``g[u, i] = x_{J-LEADS+i} / x_{J-LEADS+i-1} - 1``: column 0 is year -LEADS, the last column year -1.

    Args:
        index: The indexed panel (factual or twin).
        sample: The units.
        column: Panel column.
        units: Unit indices to compute (all if None).

    Returns:
        ``float64[units, LEADS]``, NaN where the firm was not open at either end of a year.
    """
    units = np.arange(len(sample.firm)) if units is None else units
    return growth_rates(index.path(column, sample.firm[units], sample.cohort[units] - LEADS - 1, LEADS + 1))
