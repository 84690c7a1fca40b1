"""Staggered joining measured the modern way: Sun and Abraham's interaction-weighted event study.

Firms join clusters in different years. A two-way fixed-effects regression with one dummy per year
since joining then compares late joiners with early joiners who are already members, and averages
the effects of different cohorts with weights that can be negative (Sun and Abraham 2021; Goodman-
Bacon 2021). Sun and Abraham estimate one effect per cohort (the year a firm first joined) and year
since joining against firms not treated, then average them with each cohort's share of the members
observed in that year. On the register's firm-year panel (:func:`staggered_did`,
``staggered_did.csv``):

1. **Units.** Members of the published estimator's cohorts: firms that first joined in
   ``first_cohort..last_cohort``. *Controls*: firms that had not joined by the window's last year
   ``T = last_cohort + max_years_since - 1`` (never members, or members only later: not yet treated
   throughout; capped at the register's last year). Firms that joined before the first cohort or
   after the last one, up to T, are left out. No matching: every control firm counts (above
   :data:`MAX_CONTROL_FIRMS` of them, a systematic sample by firm id, as the published estimator's
   pool is a sample).
2. **Outcome.** Yearly log growth ``100 · (log x_t - log x_{t-1})`` of value added, sales and man-years,
   for firms open (and with a positive value) at both ends, winsorised at the ``winsorize`` quantiles
   of the sample's rates. In first differences a firm's own level drops out, so the regression needs
   no firm effect.
3. **Years since joining** as in :mod:`sim.observe.event_study`: year 1 is the growth from J-1 to J,
   year -1 from J-2 to J-1; leads ``-4..-1`` and lags ``1..max_years_since``. A member's growth in
   other years is left out (trimmed), so it never serves as a control.
4. **Estimate.** The saturated regression ``g_it = λ_t + Σ_{c,k} δ_{c,k} 1[cohort c, year k]`` fits λ_t
   to the controls' mean growth in calendar year t, so δ_{c,k} is cohort c's mean growth in its year
   k minus the controls' mean that calendar year. The year-k effect averages δ_{c,k} over cohorts with
   the cohorts' shares of the members observed in year k (Sun and Abraham's interaction weights): the
   mean, over every member observed in year k, of its growth minus the controls' mean growth that
   year. The ``att`` row averages years 1..``window_years``, the published gap's window.
5. **Standard errors** clustered by firm (a member counts in up to nine years, a control in many),
   from the estimator's influence functions, with the correction G/(G-1) for G firms. For one year
   they are, as in Sun and Abraham's own ``eventstudyinteract``, the variance of the weighted
   coefficients of the saturated regression with CRV1 errors (the numbers pyfixest's ``feols`` gives)
   plus the variance from estimating the cohort shares; tests/test_staggered.py checks both parts
   against pyfixest. They are computed directly because the regression has some 150 dummies, and
   pyfixest takes about as long to fit it on a tenth of Norway as the whole run takes to simulate it.
   Intervals are t intervals with (members counted - 1) degrees of freedom: normal ones for
   hundreds of members, wider for the few members of a small classroom run.

The leads are placebo tests of parallel growth. Unlike the published estimator's, these members are
not matched on their pre-entry path, so a lead gap shows how differently joiners grew before they
joined: selection on growth the register can see. The lags measure the effect only if members would
have grown as the controls did without joining.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.special import stdtrit

from sim.observe.bootstrap import CI_LEVEL
from sim.observe.event_study import LEADS
from sim.observe.panel import PanelIndex, winsor_bounds
from sim.scenario.schema import Measurement

ESTIMATOR = "sun_abraham"
#: ``event_year`` rows hold one year since joining; the ``att`` row averages years 1..window_years.
TERMS = ("event_year", "att")
COLUMNS = ("metric", "estimator", "term", "years_since_joining", "gap_pp", "std_error", "ci_low", "ci_high",
           "n_firms", "n_cohorts", "n_controls")
#: Control firms counted at most: their yearly means need no more (a full-scale register holds
#: some 450,000 firms that never join in the window).
MAX_CONTROL_FIRMS = 20_000


@dataclass
class StaggeredSample:
    """Firm-years of the estimation: the growth year's and the year before's panel rows, and who they are.

    Attributes:
        rows: Panel row of each firm-year (year t).
        lag_rows: Panel row of the same firm in t-1.
        firm: Firm id.
        slot: The firm's number among the sample's firms, 0..``firms - 1``.
        firms: Firms in the sample.
        year: Calendar year t of the growth.
        cohort: The member's first year as a member, 0 for a control.
        since: Years since joining (``-LEADS..-1, 1..lags``), 0 for a control.
        lags: Years of membership followed.
        window: Years 1..window of the ``att`` row.
    """

    rows: np.ndarray
    lag_rows: np.ndarray
    firm: np.ndarray
    slot: np.ndarray
    firms: int
    year: np.ndarray
    cohort: np.ndarray
    since: np.ndarray
    lags: int
    window: int

    @property
    def event_years(self) -> np.ndarray:
        """The years since joining estimated, leads first."""
        return np.concatenate([np.arange(-LEADS, 0), np.arange(1, self.lags + 1)])


def staggered_did(index: PanelIndex, metrics: dict[str, str], settings: Measurement) -> pd.DataFrame:
    """The interaction-weighted event study of each metric (``staggered_did.csv``).

    Args:
        index: The indexed firm-year panel.
        metrics: Effect metric -> panel column.
        settings: The scenario's ``[measurement]`` table (cohorts, ``max_years_since``, ``window_years``,
            ``winsorize``).

    Returns:
        Per metric, one ``event_year`` row per year since joining and one ``att`` row (:data:`COLUMNS`),
        in log points × 100 a year; NaN estimates (and n = 0) where no member or no control is observed.
    """
    sample = estimation_sample(index, settings)
    rows = []
    for metric, column in metrics.items():
        growth = log_growth(index, sample, column)
        lo, hi = winsor_bounds(growth, settings.winsorize)
        rows += [{"metric": metric, "estimator": ESTIMATOR} | row
                 for row in interaction_weighted(np.clip(growth, lo, hi), sample)]
    table = pd.DataFrame(rows, columns=list(COLUMNS))
    return table.astype({"years_since_joining": "Int64"})


def estimation_sample(index: PanelIndex, settings: Measurement) -> StaggeredSample:
    """Members' firm-years in their event window and control firms' firm-years in the calendar window.

    Args:
        index: The indexed firm-year panel.
        settings: The scenario's ``[measurement]`` table.

    Returns:
        The sample, firm-years with the firm open in t and t-1 (in panel order: by year, then firm).
    """
    lags = settings.max_years_since
    first = index.first_join
    start = max(settings.first_cohort - LEADS, index.first_year + 1)
    end = min(settings.last_cohort + lags - 1, index.last_year)
    treated = (first >= settings.first_cohort) & (first <= settings.last_cohort)
    control = first > end
    block = index.years_block(start - 1, end)
    # Firm ids are handed out as firms open, so no firm above the last id open by T is in the window.
    born = int(index.firm[:block.stop].max()) + 1 if block.stop else 0
    step = max(-(-int(control[:born].sum()) // MAX_CONTROL_FIRMS), 1)
    control &= np.arange(index.stride) % step == 0
    keep = block.start + np.flatnonzero(index.alive[block] & (treated | control)[index.firm[block]])
    firm, year = index.firm[keep].astype(np.int64), index.year[keep].astype(np.int64)
    # The year before of a firm-year kept is kept too when the firm was open then: the index finds it.
    lag = index.rows(firm, year - 1)
    found = (lag >= 0) & (year >= start)
    rows, lag_rows, firm, year = keep[found], lag[found], firm[found], year[found]
    cohort = np.where(treated[firm], first[firm], 0)
    offset = year - cohort
    since = np.where(cohort > 0, np.where(offset >= 0, offset + 1, offset), 0)
    inside = (cohort == 0) | ((since >= -LEADS) & (since <= lags))
    firm = firm[inside]
    present = np.zeros(index.stride, dtype=bool)
    present[firm] = True
    slot = np.cumsum(present) - 1
    return StaggeredSample(rows[inside], lag_rows[inside], firm, slot[firm], int(present.sum()), year[inside],
                           cohort[inside], since[inside], lags, settings.window_years)


def log_growth(index: PanelIndex, sample: StaggeredSample, column: str) -> np.ndarray:
    """``100 · (log x_t - log x_{t-1})`` of each firm-year of the sample, NaN where either value is not positive.

    Args:
        index: The indexed firm-year panel.
        sample: The estimation sample.
        column: Panel column.

    Returns:
        One rate per firm-year of the sample.
    """
    values = index.panel[column].to_numpy()
    now, before = values[sample.rows].astype(np.float64), values[sample.lag_rows].astype(np.float64)
    ok = (now > 0) & (before > 0)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(ok, 100.0 * (np.log(np.where(ok, now, 1.0)) - np.log(np.where(ok, before, 1.0))), np.nan)


def interaction_weighted(growth: np.ndarray, sample: StaggeredSample) -> list[dict]:
    """Year-by-year effects and their average over the window, with firm-clustered standard errors.

    Args:
        growth: One (winsorised) rate per firm-year of the sample.
        sample: The estimation sample.

    Returns:
        The rows of one metric (:data:`COLUMNS` without ``metric`` and ``estimator``).
    """
    years = sample.event_years
    ok = np.isfinite(growth)
    is_control = ok & (sample.cohort == 0)
    first_year = int(sample.year.min()) if len(sample.year) else 0
    t = sample.year - first_year
    n_years = int(t.max()) + 1 if len(t) else 0
    n_control = np.bincount(t[is_control], minlength=n_years).astype(np.float64)
    control_sum = np.bincount(t[is_control], weights=growth[is_control], minlength=n_years)
    mean = np.divide(control_sum, n_control, out=np.full(n_years, np.nan), where=n_control > 0)
    member = ok & (sample.cohort > 0) & (n_control[t] > 0)
    k = np.searchsorted(years, sample.since)  # column of each member's year since joining
    n_k = np.bincount(k[member], minlength=len(years)).astype(np.float64)
    residual = growth[member] - mean[t[member]]
    effect = np.divide(np.bincount(k[member], weights=residual, minlength=len(years)), n_k,
                       out=np.full(len(years), np.nan), where=n_k > 0)
    vcov = _clustered_vcov(residual - effect[k[member]], sample, member, is_control, k, n_k,
                           np.where(is_control, growth - mean[t], 0.0), n_control, t)
    counts = {"n_cohorts": len(np.unique(sample.cohort[member])),
              "n_controls": np.count_nonzero(np.bincount(sample.slot[is_control], minlength=sample.firms))}
    rows = []
    for j, year in enumerate(years):
        weights = np.zeros(len(years))
        weights[j] = 1.0
        rows.append({"term": TERMS[0], "years_since_joining": int(year)}
                    | _row(effect, vcov, weights, int(n_k[j]), counts))
    att = (years >= 1) & (years <= sample.window)
    n_att = np.count_nonzero(np.bincount(sample.slot[member & att[k]], minlength=sample.firms))
    rows.append({"term": TERMS[1], "years_since_joining": None}
                | _row(effect, vcov, att / att.sum(), n_att, counts))
    return rows


def _clustered_vcov(member_deviation: np.ndarray, sample: StaggeredSample, member: np.ndarray,
                    is_control: np.ndarray, k: np.ndarray, n_k: np.ndarray, control_deviation: np.ndarray,
                    n_control: np.ndarray, t: np.ndarray) -> np.ndarray:
    """Firm-clustered covariance of the year effects from the estimator's influence functions.

    A member observed in its year k moves that year's effect by (its growth - the controls' mean that year
    - the effect) / n_k: its deviation from its cohort's mean, as in the saturated regression, plus its
    cohort's deviation from the average, which is how much the cohort shares, estimated from the members
    observed, move the effect (Sun and Abraham's variance with estimated weights). A control's growth in
    year t moves the controls' mean, and so every year effect measured in t, by -(members of year k
    observed in t / n_k) · (its growth - the controls' mean) / controls in t. Each firm's moves are summed
    over its years; the covariance is their cross-product summed over the G firms counted, times G/(G-1).

    Args:
        member_deviation: Per member firm-year: growth - controls' mean - the year's effect.
        sample: The estimation sample.
        member: Member firm-years counted.
        is_control: Control firm-years counted.
        k: Column of each firm-year's year since joining.
        n_k: Members counted per year since joining.
        control_deviation: Per firm-year: a control's growth - the controls' mean of its year.
        n_control: Controls counted per calendar year.
        t: Calendar year of each firm-year, from the sample's first.

    Returns:
        The covariance of the year effects, NaN with fewer than two firms.
    """
    n_cols, n_years = len(n_k), len(n_control)
    influence = np.zeros((sample.firms, n_cols))
    if member.any():
        k_own = k[member]
        # A member has one firm-year per year since joining, so each (firm, year) cell is set once.
        influence[sample.slot[member], k_own] = member_deviation / n_k[k_own]
        # exposure[t, k]: members of year k observed in calendar year t, as a share of all of year k's.
        exposure = np.bincount(t[member] * n_cols + k_own, minlength=n_years * n_cols).reshape(n_years, n_cols)
        by_year = np.zeros((sample.firms, n_years))  # each control's scaled deviation, by calendar year
        t_ctrl = t[is_control]
        by_year[sample.slot[is_control], t_ctrl] = control_deviation[is_control] / n_control[t_ctrl]
        influence -= by_year @ (exposure / np.maximum(n_k, 1.0))
    counted = np.count_nonzero(np.bincount(sample.slot[member | is_control], minlength=sample.firms))
    if counted < 2:
        return np.full((n_cols, n_cols), np.nan)
    return influence.T @ influence * counted / (counted - 1)


def _row(effect: np.ndarray, vcov: np.ndarray, weights: np.ndarray, n: int, counts: dict) -> dict:
    """An estimate (a weighted sum of year effects), its standard error and t interval; NaN below two members."""
    used = weights != 0
    if n < 2 or not np.isfinite(effect[used]).all():
        return {"gap_pp": np.nan, "std_error": np.nan, "ci_low": np.nan, "ci_high": np.nan, "n_firms": n} | counts
    estimate = float(weights[used] @ effect[used])
    se = float(np.sqrt(max(weights @ np.nan_to_num(vcov) @ weights, 0.0)))
    half = float(stdtrit(n - 1, 0.5 + CI_LEVEL / 2.0)) * se
    return {"gap_pp": estimate, "std_error": se, "ci_low": estimate - half, "ci_high": estimate + half,
            "n_firms": n} | counts
