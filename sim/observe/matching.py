"""The matched sample of the published estimator: members, a control pool, the score, the matches.

Steps 1 to 3 of the design in :mod:`sim.observe.estimator` (units, propensity score, matching), and
the balance of the covariates before and after matching.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors

from sim.engine.randomness import generator
from sim.observe.panel import PanelIndex
from sim.scenario.schema import Measurement

#: Pre-entry covariates of the propensity score, besides county, sector and cohort.
COVARIATES = ("log_man_years", "log_sales", "log_productivity", "man_years_growth",
              "sales_growth", "value_added_growth", "log_age")  # fmt: skip
# Inverse regularisation of the logit: large, so the score is close to maximum likelihood, but
# finite so that a cell where a dummy predicts membership perfectly still converges.
LOGIT_C = 100.0
LOGIT_MAX_ITER = 2000


@dataclass
class Sample:
    """The matched estimation sample: members, their control pool and who matched whom.

    Attributes:
        firm: Firm of each unit (a member or a pool firm in one cohort).
        cohort: Joining year J of the unit's cohort.
        treated: The unit is a member of its cohort.
        region: County code.
        sector: Sector code.
        level: Level code of the member's cluster in J (-1 for pool firms).
        covariates: ``float64[units, len(COVARIATES)]`` before standardising.
        score: Logit of the propensity score.
        members: Unit index of each member.
        matches: ``int[members, neighbours]``: matched pool units, -1 where none was close enough.
        region_names: Names of the county codes.
        level_names: Names of the level codes.
    """

    firm: np.ndarray
    cohort: np.ndarray
    treated: np.ndarray
    region: np.ndarray
    sector: np.ndarray
    level: np.ndarray
    covariates: np.ndarray
    score: np.ndarray = field(default_factory=lambda: np.zeros(0))
    members: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    matches: np.ndarray = field(default_factory=lambda: np.zeros((0, 1), dtype=np.int64))
    region_names: list[str] = field(default_factory=list)
    level_names: list[str] = field(default_factory=list)

    @property
    def matched(self) -> np.ndarray:
        """Members with at least one matched control."""
        return (self.matches >= 0).any(axis=1)


def build_sample(index: PanelIndex, clusters: pd.DataFrame, settings: Measurement, seed: int) -> Sample:
    """Members of each cohort and a sampled control pool, with their pre-entry covariates.

    Args:
        index: The indexed firm-year panel.
        clusters: The cluster-year table (``cluster_id, year, level``), for the level joined.
        settings: The scenario's ``[measurement]`` table.
        seed: The run's seed (control sampling).

    Returns:
        The units, not yet scored or matched.
    """
    panel = index.panel
    first = index.first_join
    rng = generator(seed, "measurement.controls", 0)
    sector_col = _codes(panel["sector"])
    last = min(settings.last_cohort, index.last_year - settings.window_years + 1)
    firm_parts, cohort_parts, treated_parts = [], [], []
    for cohort in range(max(settings.first_cohort, index.first_year + 2), last + 1):
        at = index.open_in(cohort - 1)
        firms = index.firm[at].astype(np.int64)
        open_ = index.open_firms(cohort - 2)[firms] & index.open_firms(cohort)[firms]
        treated = open_ & (first[firms] == cohort)
        pool = open_ & (first[firms] > cohort - 1 + settings.max_years_since)
        sectors = sector_col[at].astype(np.int64)
        chosen = [firms[treated]]
        for s in np.unique(sectors[treated]):
            candidates = firms[pool & (sectors == s)]
            want = int(np.ceil(settings.controls_per_treated * np.sum(treated & (sectors == s))))
            chosen.append(np.sort(rng.choice(candidates, min(want, len(candidates)), replace=False)))
        units = np.concatenate(chosen)
        firm_parts.append(units)
        cohort_parts.append(np.full(len(units), cohort))
        treated_parts.append(np.arange(len(units)) < len(chosen[0]))
    if not firm_parts:
        return _empty_sample(panel)
    firm, cohort, treated = (np.concatenate(p) for p in (firm_parts, cohort_parts, treated_parts))
    base = index.rows(firm, cohort - 1)
    level_names = sorted(set(clusters["level"])) if len(clusters) else []
    return Sample(
        firm=firm, cohort=cohort, treated=treated,
        region=_codes(panel["region"])[base].astype(np.int64), sector=sector_col[base].astype(np.int64),
        level=np.where(treated, _join_level(index, clusters, firm, cohort, level_names), -1),
        covariates=_covariates(index, firm, cohort),
        region_names=_categories(panel["region"]), level_names=level_names,
    )


def _join_level(index: PanelIndex, clusters: pd.DataFrame, firm: np.ndarray, cohort: np.ndarray,
                names: list[str]) -> np.ndarray:
    """Level code (index into ``names``) of the cluster each firm was in during ``cohort``."""
    if not names:
        return np.full(len(firm), -1)
    rows = index.rows(firm, cohort)
    cluster = np.where(rows >= 0, index.panel["cluster_id"].to_numpy()[np.maximum(rows, 0)].astype(np.int64), -1)
    lookup = pd.Series(pd.Categorical(clusters["level"], categories=names).codes,
                       index=pd.MultiIndex.from_arrays([clusters["cluster_id"], clusters["year"]]))
    keys = pd.MultiIndex.from_arrays([cluster, cohort])
    return lookup.reindex(keys).fillna(-1).to_numpy(np.int64)


def _covariates(index: PanelIndex, firm: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Pre-entry characteristics (:data:`COVARIATES`) in the year before joining."""
    now, before = cohort - 1, cohort - 2
    rows_now, rows_before = index.rows(firm, now), index.rows(firm, before)  # one lookup for all columns
    emp, sales, va = (index.take(c, rows_now) for c in ("employees", "revenue_nok", "value_added_nok"))
    emp0, sales0, va0 = (index.take(c, rows_before) for c in ("employees", "revenue_nok", "value_added_nok"))
    born = index.take("birth_year", rows_now) if "birth_year" in index.panel else np.full(len(firm), np.nan)
    age = np.where(np.isfinite(born), now - born, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        x = np.column_stack([np.log(emp), np.log(sales), np.log(va / emp), np.log(emp / emp0),
                             np.log(sales / sales0), np.log(va / va0), np.log1p(np.maximum(age, 0.0))])
    return np.where(np.isfinite(x), x, 0.0)


def score_and_match(sample: Sample, settings: Measurement) -> Sample:
    """Fit the propensity score and match each member to its nearest pool firms.

    Args:
        sample: Units from :func:`build_sample`.
        settings: ``neighbours`` and ``caliper_sd``.

    Returns:
        The same sample with ``score``, ``members`` and ``matches`` filled in.
    """
    members = np.flatnonzero(sample.treated)
    sample.members = members
    sample.matches = np.full((len(members), settings.neighbours), -1, dtype=np.int64)
    sample.score = np.zeros(len(sample.firm))
    if len(members) == 0 or len(members) == len(sample.firm):
        return sample
    design = _design(sample)
    model = LogisticRegression(C=LOGIT_C, max_iter=LOGIT_MAX_ITER)
    model.fit(design, sample.treated)
    sample.score = model.decision_function(design)
    caliper = settings.caliper_sd * float(np.std(sample.score))
    # One search for every cell at once: cells are placed far apart on the line, so a neighbour
    # from another cohort or sector is always beyond the caliper.
    cell = (sample.cohort - sample.cohort.min()) * (int(sample.sector.max()) + 1) + sample.sector
    spread = float(np.ptp(sample.score)) + 2.0 * caliper + 1.0
    position = (sample.score + cell * spread)[:, None]
    pool = np.flatnonzero(~sample.treated)
    k = min(settings.neighbours, len(pool))
    distance, nearest = NearestNeighbors(n_neighbors=k).fit(position[pool]).kneighbors(position[members])
    sample.matches[:, :k] = np.where(distance <= caliper, pool[nearest], -1)
    return sample


def _design(sample: Sample) -> np.ndarray:
    """Standardised covariates plus county, sector and cohort dummies (first level dropped)."""
    x = sample.covariates
    sd = x.std(axis=0)
    numeric = np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
    dummies = [_dummies(codes) for codes in (sample.region, sample.sector, sample.cohort)]
    return np.column_stack([numeric, *dummies])


def _dummies(codes: np.ndarray) -> np.ndarray:
    values = np.unique(codes)
    return (codes[:, None] == values[None, 1:]).astype(np.float64)


def balance_table(sample: Sample) -> pd.DataFrame:
    """Standardised mean differences of each covariate, before and after matching.

    Members minus non-members, in pooled standard deviations: against the whole control pool and
    against the matched controls.

    Args:
        sample: A scored and matched sample (:func:`score_and_match`).

    Returns:
        One row per covariate: the three group means and the differences before and after.
    """
    x = sample.covariates
    members = x[sample.members[sample.matched]] if len(sample.members) else x[:0]
    pool = x[~sample.treated]
    picked = sample.matches[sample.matched]
    matched = x[picked[picked >= 0]] if picked.size else x[:0]
    rows = []
    for j, name in enumerate(COVARIATES):
        sd = np.sqrt((np.var(members[:, j]) + np.var(pool[:, j])) / 2.0) if len(members) and len(pool) else np.nan
        rows.append({
            "covariate": name,
            "members_mean": float(members[:, j].mean()) if len(members) else np.nan,
            "pool_mean": float(pool[:, j].mean()) if len(pool) else np.nan,
            "matched_mean": float(matched[:, j].mean()) if len(matched) else np.nan,
            "smd_before": _smd(members[:, j], pool[:, j], sd),
            "smd_after": _smd(members[:, j], matched[:, j], sd),
        })
    return pd.DataFrame(rows)


def controls_mean(values: np.ndarray, sample: Sample) -> np.ndarray:
    """Each member's mean over its matched controls of a per-unit value (growth, a level, a tie count).

    Args:
        values: ``[units]`` or ``[units, years]``, one row per unit of the sample.
        sample: A scored and matched sample.

    Returns:
        ``[members]`` or ``[members, years]``: the mean over the matched controls with a finite value,
        NaN where there is none.
    """
    valid = sample.matches >= 0
    picked = values[np.maximum(sample.matches, 0)]  # [members, neighbours, ...]
    mask = valid.reshape(valid.shape + (1,) * (values.ndim - 1))
    return nanmean(np.where(mask, picked, np.nan), axis=1)


def nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    """Mean of the finite values along an axis, NaN where there are none (without numpy's warning)."""
    count = np.isfinite(x).sum(axis=axis)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


def _smd(a: np.ndarray, b: np.ndarray, sd: float) -> float:
    if len(a) == 0 or len(b) == 0 or not sd > 0:
        return np.nan
    return float((a.mean() - b.mean()) / sd)


def _codes(column: pd.Series) -> np.ndarray:
    """The codes of a categorical column (the values of another) as stored: callers convert the rows they pick."""
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy()
    return column.to_numpy()


def _categories(column: pd.Series) -> list[str]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories]
    return [str(c) for c in range(int(column.max()) + 1)]


def _empty_sample(panel: pd.DataFrame) -> Sample:
    empty = np.zeros(0, dtype=np.int64)
    return Sample(empty, empty, np.zeros(0, dtype=bool), empty, empty, empty, np.zeros((0, len(COVARIATES))),
                  region_names=_categories(panel["region"]))
