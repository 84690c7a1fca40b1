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
   (percentile 95 % intervals, :mod:`sim.observe.bootstrap`).

Beside the published figures, in every run, moments that separate selection from treatment (none
changes the published gap): the event study (:mod:`sim.observe.event_study`: the same matched gap in
the four years before joining, placebo tests of the matching, as negative years since joining in
``effects_by_year``); a staggered-adoption difference in differences on the same register, Sun and
Abraham's interaction-weighted event study against never-treated firms (:mod:`sim.observe.staggered`);
who joins (:mod:`sim.observe.entry_profile`); the collaboration gap around joining
(:mod:`sim.observe.collaboration_gap`); members of clusters whose funding ended against continuing
members (:mod:`sim.observe.funding_end`); and, given the open calls' applicants, the jump in growth at
the call's cut-off score (:mod:`sim.observe.discontinuity`).

The true effect (rows ``true_effect``) compares each matched member with itself in the twin world
(:mod:`sim.twin`), where it has the same luck but receives nothing from its membership. The
selection share is the part of the published gap that the truth does not explain.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from sim.engine.randomness import generator
from sim.observe.bootstrap import Bootstrap
from sim.observe.collaboration_gap import collaboration_gap
from sim.observe.columns import EFFECT_COLUMNS
from sim.observe.discontinuity import call_discontinuity
from sim.observe.entry_profile import entry_profile
from sim.observe.event_study import LEADS, event_growth, event_rows, event_years
from sim.observe.funding_end import funding_end
from sim.observe.matching import Sample, balance_table, build_sample, controls_mean, score_and_match
from sim.observe.panel import PanelIndex, winsor_bounds
from sim.observe.staggered import staggered_did
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


@dataclass
class Effects:
    """Everything the measurement produced, as tidy tables.

    Attributes:
        effects: ``effects.csv``: one row per metric and estimator (:data:`EFFECT_COLUMNS`).
        by_year: The gap by years since joining, the placebo leads (years -4 to -1,
            :mod:`sim.observe.event_study`) before the years of membership.
        by_level: The headline gap by the level of the cluster joined.
        by_region: The headline gap by the member's county.
        selection: Estimate, truth and their difference (selection) per metric.
        balance: Standardised mean differences of the covariates before and after matching.
        entry_profile: Members' size, age and productivity at entry against their controls and all
            non-members (:mod:`sim.observe.entry_profile`).
        collaboration_gap: Members' ties against their controls' by year since joining
            (:mod:`sim.observe.collaboration_gap`).
        funding_end: Members of clusters whose funding ended against members of continuing clusters
            (:mod:`sim.observe.funding_end`).
        staggered_did: Sun and Abraham's event study against never-treated firms (:mod:`sim.observe.staggered`).
        call_discontinuity: Admitted against rejected applicant cells at the call's cut-off
            (:mod:`sim.observe.discontinuity`); None when the calls' applicants were not given.
    """

    effects: pd.DataFrame
    by_year: pd.DataFrame
    by_level: pd.DataFrame
    by_region: pd.DataFrame
    selection: pd.DataFrame
    balance: pd.DataFrame
    entry_profile: pd.DataFrame
    collaboration_gap: pd.DataFrame
    funding_end: pd.DataFrame
    staggered_did: pd.DataFrame
    call_discontinuity: pd.DataFrame | None = None

    def tables(self) -> dict[str, pd.DataFrame]:
        """File stem -> table, in the order they are written (``call_discontinuity`` only when measured)."""
        tables = {"effects": self.effects, "effects_by_year": self.by_year, "effects_by_level": self.by_level,
                  "effects_by_region": self.by_region, "selection": self.selection, "balance": self.balance,
                  "entry_profile": self.entry_profile, "collaboration_gap": self.collaboration_gap,
                  "funding_end": self.funding_end, "staggered_did": self.staggered_did}
        if self.call_discontinuity is not None:
            tables["call_discontinuity"] = self.call_discontinuity
        return tables


def measure(panel: pd.DataFrame, clusters: pd.DataFrame, settings: Measurement, seed: int,
            twin_panel: pd.DataFrame | None = None, applicants: pd.DataFrame | None = None) -> Effects:
    """The published estimator on a simulated register and, given the twin, the truth.

    Args:
        panel: The run's firm-year panel (``firms.parquet``).
        clusters: The run's cluster-year table (``clusters.csv``).
        settings: The scenario's ``[measurement]`` table.
        seed: The run's seed (control sampling and bootstrap draws).
        twin_panel: The twin world's panel (:mod:`sim.twin`); no true effect without it.
        applicants: Every applicant of the open calls (``call_applicants.csv``,
            :func:`sim.observe.discontinuity.call_applicants`); no discontinuity table without it.

    Returns:
        The effect tables.
    """
    # One BLAS thread: the estimator's matrices are small, and OpenBLAS threads that wait for a busy
    # second core made the propensity score ten times slower; one thread also gives the same last
    # digits on every machine and executor, whichever command measures.
    with threadpool_limits(limits=1, user_api="blas"):
        index = PanelIndex(panel)
        sample = score_and_match(build_sample(index, clusters, settings, seed), settings)
        twin = PanelIndex(twin_panel) if twin_panel is not None else None
        effects = _tables(index, twin, sample, clusters, settings, seed)
        if applicants is not None:
            effects.call_discontinuity = call_discontinuity(index, applicants, METRICS, settings)
    return effects


def _tables(index: PanelIndex, twin: PanelIndex | None, sample: Sample, clusters: pd.DataFrame,
            settings: Measurement, seed: int) -> Effects:
    years, window = max(settings.max_years_since, settings.window_years), settings.window_years
    since = event_years(years)
    boot = Bootstrap(len(sample.members), settings.bootstrap, generator(seed, "measurement.bootstrap", 0))
    matched = sample.matched
    groups = {
        "level": (sample.level[sample.members], sample.level_names),
        "region": (sample.region[sample.members], sample.region_names),
    }
    rows: dict[str, list[dict]] = {"effects": [], "by_year": [], "by_level": [], "by_region": [], "selection": []}
    # Each unit's panel rows around joining, looked up once for every metric (and the collaboration gap).
    path_rows = event_rows(index, sample, years)
    twin_rows = event_rows(twin, sample, years, sample.members) if twin is not None else None
    for metric, column in METRICS.items():
        path = event_growth(index, path_rows, column)
        lo, hi = winsor_bounds(path[:, LEADS:], settings.winsorize)
        growth = np.clip(path[:, LEADS:], lo, hi)
        est = _contributions(growth, sample, window)
        # The leads are clipped at the lags' bounds, so that both sides of joining share one scale and
        # the published figures do not move.
        leads = np.clip(path[:, :LEADS], lo, hi)
        per_estimator = {MATCHED_DID: (est.window, np.hstack([leads[sample.members] - controls_mean(leads, sample),
                                                             est.by_year]))}
        if twin is not None:
            twin_path = event_growth(twin, twin_rows, column)
            twin_growth = np.clip(twin_path[:, LEADS:], lo, hi)
            # Before joining the firm's own membership has done nothing, so its true effect there is what
            # the programme did to it through others (a member partner, the labour market): zero when
            # nothing spills over.
            twin_leads = np.clip(twin_path[:, :LEADS], lo, hi)
            per_estimator[TRUE_EFFECT] = (est.member_window - _window_mean(twin_growth, window),
                                          np.hstack([leads[sample.members] - twin_leads,
                                                     est.member_by_year - twin_growth]))
        for name, (window_values, by_year) in per_estimator.items():
            key = {"metric": metric, "estimator": name}
            rows["effects"].append(key | _row(boot, window_values, matched))
            for k, year in enumerate(since):
                rows["by_year"].append(key | {"years_since_joining": int(year)} | _row(boot, by_year[:, k], matched))
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
                   frames["selection"], balance_table(sample), entry_profile(index, sample, settings),
                   collaboration_gap(index, path_rows, sample, boot),
                   funding_end(index, clusters, METRICS, settings, seed), staggered_did(index, METRICS, settings))


def _row(boot: Bootstrap, values: np.ndarray, subset: np.ndarray) -> dict[str, float]:
    gap, lo, hi, n = boot.mean_ci(values, subset)
    return {"gap_pp": gap, "ci_low": lo, "ci_high": hi, "n_treated": n}


def _selection_row(boot: Bootstrap, metric: str, per_estimator: dict, matched: np.ndarray) -> dict[str, float]:
    """Estimate, truth and their difference on the members that both measure."""
    estimate, truth = per_estimator[MATCHED_DID][0], per_estimator[TRUE_EFFECT][0]
    both = matched & np.isfinite(estimate) & np.isfinite(truth)
    gap, _, _, n = boot.mean_ci(estimate, both)
    true, _, _, _ = boot.mean_ci(truth, both)
    bias, lo, hi, _ = boot.mean_ci(estimate - truth, both)
    share = bias / gap if n and gap != 0 else np.nan
    return {"metric": metric, "matched_did_pp": gap, "true_effect_pp": true, "selection_pp": bias,
            "ci_low": lo, "ci_high": hi, "selection_share": share, "n_treated": n}


@dataclass
class _Contributions:
    """Per-member differences for one metric: by year since joining and over the window."""

    by_year: np.ndarray  # [members, years] member growth minus its controls' mean growth
    window: np.ndarray  # [members]
    member_by_year: np.ndarray  # [members, years] the member's own (winsorised) growth
    member_window: np.ndarray  # [members]


def _contributions(growth: np.ndarray, sample: Sample, window: int) -> _Contributions:
    """The matched differences of one metric's growth (already winsorised)."""
    own = growth[sample.members]
    with np.errstate(invalid="ignore"):
        own_window = _window_mean(own, window)
        ctrl_window = controls_mean(_window_mean(growth, window), sample)
    return _Contributions(own - controls_mean(growth, sample), own_window - ctrl_window, own, own_window)


def _window_mean(growth: np.ndarray, window: int) -> np.ndarray:
    """Mean yearly growth over years 1..window, NaN unless the firm was open throughout."""
    part = growth[:, :window]
    return np.where(np.isfinite(part).all(axis=1), part.mean(axis=1), np.nan)
