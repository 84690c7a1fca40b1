"""The membership effect measured as Statistics Norway did, and the truth a twin world knows.

The published design (docs/sources.md, [IN-AR2021] and [FI-MAG]): firms that join a cluster are compared with
non-members matched on pre-entry characteristics by a propensity score; the gap is the members'
average yearly growth over their first three years of membership minus that of their matched
non-members, in percentage points, for value added, sales and man-years. Both groups' growth is
measured from the same base year (the year before joining), so the gap is a difference in
differences of levels. It is not causal: firms that join may be those that would have grown
anyway, and the matching sees only what a register holds, never the latent growth potential.

The steps, all from the firm-year panel of the register (:func:`measure`; steps 1 to 3 are in
:mod:`sim.observe.matching`, the panel lookups in :mod:`sim.observe.panel`):

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

The true effect (rows ``true_effect``) compares each matched member with itself in the twin world
(:mod:`sim.twin`), where it has the same luck but receives nothing from its membership. The
selection share is the part of the published gap that the truth does not explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.engine.randomness import generator
from sim.observe.columns import EFFECT_COLUMNS
from sim.observe.matching import Sample, balance_table, build_sample, score_and_match
from sim.observe.panel import PanelIndex
from sim.scenario.schema import Measurement

#: Effect metric -> panel column.
METRICS: dict[str, str] = {"value_added": "value_added_nok", "revenue": "revenue_nok", "man_years": "employees"}
MATCHED_DID, TRUE_EFFECT = "matched_did", "true_effect"
_GAP = ("gap_pp", "ci_low", "ci_high", "n_treated")
#: Columns of each effect table (``effects`` is the contract of ``effects.csv`` in the README).
TABLE_COLUMNS: dict[str, tuple[str, ...]] = {
    "effects": EFFECT_COLUMNS,
    "by_year": ("metric", "estimator", "years_since_joining", *_GAP),
    "by_level": ("metric", "estimator", "level", *_GAP),
    "by_region": ("metric", "estimator", "region", *_GAP),
    "selection": ("metric", "matched_did_pp", "true_effect_pp", "selection_pp", "ci_low", "ci_high",
                  "selection_share", "n_treated"),
}
CI_LEVEL = 0.95


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
    boot = _Bootstrap(len(sample.members), settings.bootstrap, generator(seed, "measurement.bootstrap", 0))
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
                        subset = matched & (codes == code)
                        rows[f"by_{what}"].append(key | {what: label} | _row(boot, window_values, subset))
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


def growth_paths(index: PanelIndex, sample: Sample, column: str, years: int,
                 units: np.ndarray | None = None) -> np.ndarray:
    """Yearly growth of each unit from the base year J-1 on.

    ``g[u, k-1] = x_{J-1+k} / x_{J-2+k} - 1`` for k = 1..years (k = 1 is the first year of
    membership, J-1 to J).

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
    """Percentile intervals of means by resampling members.

    The same draws serve every statistic of a member set, so that an estimate, the truth and their
    difference stay coherent.
    """

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
