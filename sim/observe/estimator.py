"""The membership effect measured as Statistics Norway did, and the truth a twin world knows.

The published design (FACTS.md; seeds 000, 001): firms that join a cluster are compared with
non-members matched on pre-entry characteristics by a propensity score; the gap is the members'
average yearly growth over their first three years of membership minus that of their matched
non-members, in percentage points, for value added, sales and man-years. Both groups' growth is
measured from the same base year (the year before joining), so the gap is a difference in
differences of levels. It is not causal: firms that join may be those that would have grown
anyway, and the matching sees only what a register holds, never the latent growth potential.

The steps, all from the firm-year panel of the register (:func:`matched_did`):

1. **Units.** A *member* of cohort J first joined a cluster in year J and was open in J-2, J-1
   and J. Its *control pool* is the firms open in the same years that had not joined by
   J - 1 + ``max_years_since``; ``controls_per_treated`` of them are sampled per member in each
   cohort-sector cell (a representative selection, as Statistics Norway drew).
2. **Propensity score.** A logit (scikit-learn) of membership on pre-entry size, sales,
   productivity, their growth in the year before, age, county, sector and cohort.
3. **Matching.** Each member gets its ``neighbours`` nearest pool firms in the logit of the score,
   within its cohort and sector and within ``caliper_sd`` standard deviations (with replacement).
4. **Outcomes.** Yearly growth ``x_t / x_{t-1} - 1`` from J-1 on, winsorised; a firm that closes
   has no growth from then on. The gap in year k since joining is the mean over members of their
   growth minus their matched controls' mean growth; the headline gap averages years 1 to
   ``window_years`` for firms open through the window.
5. **Intervals.** A pairs bootstrap over members, each resampled with its matched controls
   (percentile 95 % intervals).

The true effect (:func:`true_effect`) compares each matched member with itself in the twin world
(:mod:`sim.twin`), where it has the same luck but receives nothing from its membership. The
selection share is the part of the published gap that the truth does not explain.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.linear_model import LogisticRegression
from sklearn.neighbors import NearestNeighbors

from sim.model import stream
from sim.observe.columns import EFFECT_COLUMNS
from sim.scenario.schema import Measurement

#: Effect metric -> panel column.
METRICS: dict[str, str] = {"value_added": "value_added_nok", "revenue": "revenue_nok", "man_years": "employees"}
MATCHED_DID, TRUE_EFFECT = "matched_did", "true_effect"
#: Pre-entry covariates of the propensity score, besides county, sector and cohort.
COVARIATES = ("log_man_years", "log_sales", "log_productivity", "man_years_growth",
              "sales_growth", "value_added_growth", "log_age")  # fmt: skip
# Inverse regularisation of the logit: large, so the score is close to maximum likelihood, but
# finite so that a cell where a dummy predicts membership perfectly still converges.
_GAP = ("gap_pp", "ci_low", "ci_high", "n_treated")
#: Columns of each effect table (``effects`` is the DESIGN.md contract).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "effects": EFFECT_COLUMNS,
    "by_year": ("metric", "estimator", "years_since_joining", *_GAP),
    "by_level": ("metric", "estimator", "level", *_GAP),
    "by_region": ("metric", "estimator", "region", *_GAP),
    "selection": ("metric", "matched_did_pp", "true_effect_pp", "selection_pp", "ci_low", "ci_high",
                  "selection_share", "n_treated"),
}
LOGIT_C = 100.0
LOGIT_MAX_ITER = 2000
CI_LEVEL = 0.95


class PanelIndex:
    """Rows of a long firm-year panel by (firm, year).

    The register writes the panel year by year with firms in row order, so the key
    ``(year - first year) * stride + firm`` is sorted and one ``searchsorted`` finds any row.
    """

    def __init__(self, panel: pd.DataFrame):
        """Index a panel; it is sorted by year and firm first if it is not already.

        Args:
            panel: Firm-year panel with ``firm_id, year, alive`` and the metric columns.
        """
        firm = panel["firm_id"].to_numpy(np.int64)
        year = panel["year"].to_numpy(np.int64)
        self.first_year, self.last_year = int(year.min()), int(year.max())
        self.stride = int(firm.max()) + 1
        keys = (year - self.first_year) * self.stride + firm
        order = None if np.all(keys[1:] > keys[:-1]) else np.argsort(keys, kind="stable")
        self.panel = panel if order is None else panel.iloc[order].reset_index(drop=True)
        self.keys = keys if order is None else keys[order]
        self.alive = self.panel["alive"].to_numpy(bool)

    def rows(self, firms: np.ndarray, years: np.ndarray | int) -> np.ndarray:
        """Panel rows of (firm, year) pairs where the firm was open; -1 elsewhere."""
        years = np.broadcast_to(np.asarray(years, dtype=np.int64), np.shape(firms))
        inside = (years >= self.first_year) & (years <= self.last_year)
        keys = (years - self.first_year) * self.stride + np.asarray(firms, dtype=np.int64)
        pos = np.minimum(np.searchsorted(self.keys, keys), len(self.keys) - 1)
        found = inside & (self.keys[pos] == keys)
        found[found] = self.alive[pos[found]]
        return np.where(found, pos, -1)

    def values(self, column: str, firms: np.ndarray, years: np.ndarray) -> np.ndarray:
        """A column at (firm, year) pairs as float64, NaN where the firm was not open."""
        rows = self.rows(firms, years)
        data = self.panel[column].to_numpy(np.float64)
        return np.where(rows >= 0, data[np.maximum(rows, 0)], np.nan)

    def path(self, column: str, firms: np.ndarray, start: np.ndarray, years: int) -> np.ndarray:
        """``float64[len(firms), years]``: each firm's values from its own start year on."""
        offsets = np.arange(years)
        return self.values(column, np.repeat(firms, years), (start[:, None] + offsets).ravel()).reshape(-1, years)


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


@dataclass
class Effects:
    """Everything the measurement produced, as tidy tables.

    Attributes:
        effects: ``effects.csv``: one row per metric and estimator (:data:`EFFECT_COLUMNS`).
        by_year: The gap by years since joining.
        by_level: The headline gap by the level of the cluster joined.
        by_region: The headline gap by the member's county.
        selection: Estimate, truth and their difference (selection) per metric.
        balance: Standardised mean differences of the covariates before and after matching.
    """

    effects: pd.DataFrame
    by_year: pd.DataFrame
    by_level: pd.DataFrame
    by_region: pd.DataFrame
    selection: pd.DataFrame
    balance: pd.DataFrame

    def tables(self) -> dict[str, pd.DataFrame]:
        """File stem -> table, in the order they are written."""
        return {"effects": self.effects, "effects_by_year": self.by_year, "effects_by_level": self.by_level,
                "effects_by_region": self.by_region, "selection": self.selection, "balance": self.balance}


def first_join_years(index: PanelIndex) -> np.ndarray:
    """Each firm's first year as a cluster member (a large number for firms that never joined)."""
    panel = index.panel
    member = panel["member"].to_numpy(bool) & index.alive
    first = np.full(index.stride, np.iinfo(np.int32).max, dtype=np.int64)
    np.minimum.at(first, panel["firm_id"].to_numpy(np.int64)[member], panel["year"].to_numpy(np.int64)[member])
    return first


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
    first = first_join_years(index)
    rng = stream(seed, "measurement.controls")
    year = panel["year"].to_numpy(np.int64)
    firm_col = panel["firm_id"].to_numpy(np.int64)
    sector_col = _codes(panel["sector"])
    last = min(settings.last_cohort, index.last_year - settings.window_years + 1)
    firm_parts, cohort_parts, treated_parts = [], [], []
    for cohort in range(max(settings.first_cohort, index.first_year + 2), last + 1):
        at = np.flatnonzero((year == cohort - 1) & index.alive)
        firms = firm_col[at]
        open_ = (index.rows(firms, cohort - 2) >= 0) & (index.rows(firms, cohort) >= 0)
        treated = open_ & (first[firms] == cohort)
        pool = open_ & (first[firms] > cohort - 1 + settings.max_years_since)
        sectors = sector_col[at]
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
        region=_codes(panel["region"])[base], sector=sector_col[base],
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
    cluster = np.where(rows >= 0, index.panel["cluster_id"].to_numpy(np.int64)[np.maximum(rows, 0)], -1)
    lookup = pd.Series(pd.Categorical(clusters["level"], categories=names).codes,
                       index=pd.MultiIndex.from_arrays([clusters["cluster_id"], clusters["year"]]))
    keys = pd.MultiIndex.from_arrays([cluster, cohort])
    return lookup.reindex(keys).fillna(-1).to_numpy(np.int64)


def _covariates(index: PanelIndex, firm: np.ndarray, cohort: np.ndarray) -> np.ndarray:
    """Pre-entry characteristics (:data:`COVARIATES`) in the year before joining."""
    now, before = cohort - 1, cohort - 2
    emp, sales, va = (index.values(c, firm, now) for c in ("employees", "revenue_nok", "value_added_nok"))
    emp0, sales0, va0 = (index.values(c, firm, before) for c in ("employees", "revenue_nok", "value_added_nok"))
    born = index.values("birth_year", firm, now) if "birth_year" in index.panel else np.full(len(firm), np.nan)
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


def growth_paths(index: PanelIndex, sample: Sample, column: str, years: int, units: np.ndarray | None = None) -> np.ndarray:
    """Yearly growth from the base year J-1 on: ``g[u, k-1] = x_{J-1+k} / x_{J-2+k} - 1``, k = 1..years
    (k = 1 is the first year of membership, J-1 to J).

    Args:
        index: The indexed panel (factual or twin).
        sample: The units.
        column: Panel column.
        years: Years since joining to follow.
        units: Unit indices to compute (all if None).

    Returns:
        ``float64[units, years]``, NaN where the firm was not open at either end.
    """
    units = np.arange(len(sample.firm)) if units is None else units
    levels = index.path(column, sample.firm[units], sample.cohort[units] - 1, years + 1)
    with np.errstate(divide="ignore", invalid="ignore"):
        growth = levels[:, 1:] / np.where(levels[:, :-1] > 0, levels[:, :-1], np.nan) - 1.0
    return growth


def _winsorize(growth: np.ndarray, share: float) -> tuple[float, float]:
    finite = growth[np.isfinite(growth)]
    if share == 0 or len(finite) == 0:
        return -np.inf, np.inf
    lo, hi = np.quantile(finite, [share, 1.0 - share])
    return float(lo), float(hi)


@dataclass
class _Contributions:
    """Per-member differences for one metric: by year since joining and over the window."""

    by_year: np.ndarray  # [members, years] member growth minus its controls' mean growth
    window: np.ndarray  # [members]
    member_by_year: np.ndarray  # [members, years] the member's own (winsorised) growth
    member_window: np.ndarray  # [members]


def _contributions(growth: np.ndarray, sample: Sample, window: int) -> _Contributions:
    """The matched differences of one metric's growth (already winsorised)."""
    members, matches = sample.members, sample.matches
    own = growth[members]
    valid = matches >= 0
    ctrl = np.where(valid[..., None], growth[np.maximum(matches, 0)], np.nan)  # [members, k, years]
    with np.errstate(invalid="ignore"):
        ctrl_mean = _nanmean(ctrl, axis=1)
        own_window = _window_mean(own, window)
        ctrl_window = _nanmean(np.where(valid, _window_mean(growth, window)[np.maximum(matches, 0)], np.nan), axis=1)
    return _Contributions(own - ctrl_mean, own_window - ctrl_window, own, own_window)


def _window_mean(growth: np.ndarray, window: int) -> np.ndarray:
    """Mean yearly growth over years 1..window, NaN unless the firm was open throughout."""
    part = growth[:, :window]
    return np.where(np.isfinite(part).all(axis=1), part.mean(axis=1), np.nan)


def _nanmean(x: np.ndarray, axis: int) -> np.ndarray:
    count = np.isfinite(x).sum(axis=axis)
    total = np.where(np.isfinite(x), x, 0.0).sum(axis=axis)
    return np.divide(total, count, out=np.full(total.shape, np.nan), where=count > 0)


class _Bootstrap:
    """Percentile intervals of means by resampling members (the same draws for every statistic
    of a member set, so that an estimate, the truth and their difference stay coherent)."""

    def __init__(self, n_members: int, resamples: int, rng: np.random.Generator):
        self.draws = rng.integers(0, max(n_members, 1), size=(resamples, n_members)) if resamples else None

    def mean_ci(self, values: np.ndarray, subset: np.ndarray | None = None) -> tuple[float, float, float, int]:
        """Mean of the finite values (in pp), its interval and the number of members counted."""
        use = np.isfinite(values) if subset is None else np.isfinite(values) & subset
        n = int(use.sum())
        if n == 0:
            return np.nan, np.nan, np.nan, 0
        mean = 100.0 * float(values[use].mean())
        if self.draws is None or n < 2:  # one member has no spread to resample
            return mean, np.nan, np.nan, n
        picked = self.draws
        weight = use[picked]
        total = np.where(weight, np.where(use, values, 0.0)[picked], 0.0).sum(axis=1)
        count = weight.sum(axis=1)
        means = 100.0 * total[count > 0] / count[count > 0]
        tail = (1.0 - CI_LEVEL) / 2.0
        lo, hi = np.quantile(means, [tail, 1.0 - tail]) if len(means) else (np.nan, np.nan)
        return mean, float(lo), float(hi), n


def measure(panel: pd.DataFrame, clusters: pd.DataFrame, settings: Measurement, seed: int,
            twin_panel: pd.DataFrame | None = None) -> Effects:
    """The published estimator on a simulated register and, given the twin, the truth.

    Args:
        panel: The run's firm-year panel (``firms.parquet``).
        clusters: The run's cluster-year table (``clusters.csv``).
        settings: The scenario's ``[measurement]`` table.
        seed: The run's seed (control sampling and bootstrap draws).
        twin_panel: The twin world's panel (:mod:`sim.twin`); no true effect without it.

    Returns:
        The effect tables.
    """
    index = PanelIndex(panel)
    sample = score_and_match(build_sample(index, clusters, settings, seed), settings)
    twin = PanelIndex(twin_panel) if twin_panel is not None else None
    return _tables(index, twin, sample, settings, seed)


def _tables(index: PanelIndex, twin: PanelIndex | None, sample: Sample, settings: Measurement, seed: int) -> Effects:
    years, window = max(settings.max_years_since, settings.window_years), settings.window_years
    boot = _Bootstrap(len(sample.members), settings.bootstrap, stream(seed, "measurement.bootstrap"))
    matched = sample.matched
    groups = {
        "level": (sample.level[sample.members], sample.level_names),
        "region": (sample.region[sample.members], sample.region_names),
    }
    rows: dict[str, list[dict]] = {"effects": [], "by_year": [], "by_level": [], "by_region": [], "selection": []}
    for metric, column in METRICS.items():
        growth = growth_paths(index, sample, column, years)
        lo, hi = _winsorize(growth, settings.winsorize)
        growth = np.clip(growth, lo, hi)
        est = _contributions(growth, sample, window)
        per_estimator = {MATCHED_DID: (est.window, est.by_year)}
        if twin is not None:
            twin_growth = np.clip(growth_paths(twin, sample, column, years, sample.members), lo, hi)
            per_estimator[TRUE_EFFECT] = (est.member_window - _window_mean(twin_growth, window),
                                          est.member_by_year - twin_growth)
        for name, (window_values, by_year) in per_estimator.items():
            key = {"metric": metric, "estimator": name}
            rows["effects"].append(key | _row(boot, window_values, matched))
            for k in range(years):
                rows["by_year"].append(key | {"years_since_joining": k + 1} | _row(boot, by_year[:, k], matched))
            for what, (codes, names) in groups.items():
                for code, label in enumerate(names):
                    if np.any(codes == code):
                        rows[f"by_{what}"].append(key | {what: label} | _row(boot, window_values, matched & (codes == code)))
        if twin is not None:
            rows["selection"].append(_selection_row(boot, metric, per_estimator, matched))
    # Named columns even without rows, so that an empty table is still a readable CSV file.
    frames = {name: pd.DataFrame(r, columns=list(TABLE_COLUMNS[name])) for name, r in rows.items()}
    return Effects(frames["effects"], frames["by_year"], frames["by_level"], frames["by_region"],
                   frames["selection"], balance_table(sample))


def _row(boot: _Bootstrap, values: np.ndarray, subset: np.ndarray) -> dict[str, float]:
    gap, lo, hi, n = boot.mean_ci(values, subset)
    return {"gap_pp": gap, "ci_low": lo, "ci_high": hi, "n_treated": n}


def _selection_row(boot: _Bootstrap, metric: str, per_estimator: dict, matched: np.ndarray) -> dict[str, float]:
    """Estimate, truth and their difference on the members that both measure."""
    estimate, truth = per_estimator[MATCHED_DID][0], per_estimator[TRUE_EFFECT][0]
    both = matched & np.isfinite(estimate) & np.isfinite(truth)
    gap, _, _, n = boot.mean_ci(estimate, both)
    true, _, _, _ = boot.mean_ci(truth, both)
    bias, lo, hi, _ = boot.mean_ci(estimate - truth, both)
    share = bias / gap if n and gap != 0 else np.nan
    return {"metric": metric, "matched_did_pp": gap, "true_effect_pp": true, "selection_pp": bias,
            "ci_low": lo, "ci_high": hi, "selection_share": share, "n_treated": n}


def balance_table(sample: Sample) -> pd.DataFrame:
    """Standardised mean differences (members minus non-members, in pooled s.d.) of each covariate,
    against the whole control pool and against the matched controls."""
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


def _smd(a: np.ndarray, b: np.ndarray, sd: float) -> float:
    if len(a) == 0 or len(b) == 0 or not sd > 0:
        return np.nan
    return float((a.mean() - b.mean()) / sd)


def _codes(column: pd.Series) -> np.ndarray:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return column.cat.codes.to_numpy(np.int64)
    return column.to_numpy(np.int64)


def _categories(column: pd.Series) -> list[str]:
    if isinstance(column.dtype, pd.CategoricalDtype):
        return [str(c) for c in column.cat.categories]
    return [str(c) for c in range(int(column.max()) + 1)]


def _empty_sample(panel: pd.DataFrame) -> Sample:
    empty = np.zeros(0, dtype=np.int64)
    return Sample(empty, empty, np.zeros(0, dtype=bool), empty, empty, empty, np.zeros((0, len(COVARIATES))),
                  region_names=_categories(panel["region"]))
