"""Who joins: members' size, age and productivity at entry against their controls and all non-members.

The balance table (:func:`sim.observe.matching.balance_table`) shows the matching's covariates as
the score sees them. This table shows the same firms in a reader's units, in the year before
joining (J-1, the last year the register shows before entry): man-years, age in years and value
added per man-year. Three groups: the matched members; their matched controls, each member's
controls weighted as the gap weighs them (their mean counts once per member); and every firm of
the register that could have been a control (open in J-2, J-1 and J, not a member by
J-1+``max_years_since``), each cohort weighted by its number of members so that the years joined
in count as they do for the members.

The standardised differences are of the logarithms (``log1p`` for age), the scale the propensity
score uses, in pooled standard deviations: sizes and productivity are so skewed that a difference
of means in NOK would be decided by a few large firms.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.observe.matching import Sample
from sim.observe.panel import PanelIndex
from sim.scenario.schema import Measurement

#: Variable -> (unit, transform of the standardised difference).
VARIABLES: dict[str, tuple[str, np.ufunc]] = {
    "man_years": ("man-years", np.log),
    "age": ("years", np.log1p),
    "productivity": ("NOK value added per man-year", np.log),
}
COLUMNS = ("variable", "unit", "members_mean", "controls_mean", "all_nonmembers_mean", "smd_controls",
           "smd_all_nonmembers", "n_members", "n_controls", "n_nonmembers")


def entry_profile(index: PanelIndex, sample: Sample, settings: Measurement) -> pd.DataFrame:
    """Members, matched controls and all non-members at entry (``entry_profile.csv``).

    Args:
        index: The indexed firm-year panel.
        sample: A scored and matched sample (:func:`sim.observe.matching.score_and_match`).
        settings: The scenario's ``[measurement]`` table (``max_years_since``: who counts as a non-member).

    Returns:
        One row per variable (:data:`COLUMNS`); NaN means and differences where a group is empty.
    """
    members = sample.members[sample.matched]
    valid = sample.matches[sample.matched] >= 0
    controls = sample.matches[sample.matched][valid]
    control_weight = np.repeat(1.0 / valid.sum(axis=1), valid.sum(axis=1)) if len(members) else np.zeros(0)
    others, other_weight = _nonmembers(index, sample.cohort[members], settings.max_years_since)
    groups = {
        "members": (_at_entry(index, index.rows(sample.firm[members], sample.cohort[members] - 1)),
                    np.ones(len(members))),
        "controls": (_at_entry(index, index.rows(sample.firm[controls], sample.cohort[controls] - 1)),
                     control_weight),
        "all_nonmembers": (_at_entry(index, others), other_weight),
    }
    rows = []
    for name, (unit, transform) in VARIABLES.items():
        row: dict = {"variable": name, "unit": unit}
        stats = {}
        for group, (values, weight) in groups.items():
            x = values[name]
            use = np.isfinite(x) & (weight > 0)
            with np.errstate(divide="ignore", invalid="ignore"):
                t = transform(x)
            use &= np.isfinite(t)
            t, w = t[use], weight[use]
            row[f"{group}_mean"] = _mean(x[use], w)
            mean = _mean(t, w)
            stats[group] = (mean, _var(t, w, mean))
        for group in ("controls", "all_nonmembers"):
            row[f"smd_{group}"] = _smd(stats["members"], stats[group])
        rows.append(row)
    counts = {"n_members": len(members), "n_controls": len(np.unique(controls)), "n_nonmembers": len(others)}
    return pd.DataFrame([row | counts for row in rows], columns=list(COLUMNS))


def _at_entry(index: PanelIndex, rows: np.ndarray) -> dict[str, np.ndarray]:
    """Man-years, age and productivity at panel rows (NaN where a row is -1, the firm closed)."""

    def column(name: str) -> np.ndarray:
        return index.take(name, rows) if name in index.panel else np.full(len(rows), np.nan)

    man_years, value_added, year = column("employees"), column("value_added_nok"), column("year")
    with np.errstate(divide="ignore", invalid="ignore"):
        productivity = np.where(man_years > 0, value_added / man_years, np.nan)
    return {"man_years": man_years, "age": np.maximum(year - column("birth_year"), 0.0), "productivity": productivity}


def _nonmembers(index: PanelIndex, cohorts: np.ndarray, max_years_since: int) -> tuple[np.ndarray, np.ndarray]:
    """Every possible control of the members' cohorts, in its J-1, weighted by the cohort's members.

    Returns:
        The panel rows and the weight of each.
    """
    joined, members = np.unique(cohorts, return_counts=True)
    rows = []
    for year in joined - 1:
        at = index.open_in(year)
        firm = index.firm[at]
        possible = (index.open_firms(year - 1)[firm] & index.open_firms(year + 1)[firm]
                    & (index.first_join[firm] > year + max_years_since))
        rows.append(at[possible])
    size = np.array([len(r) for r in rows], dtype=np.int64)
    return np.concatenate([np.zeros(0, dtype=np.int64), *rows]), np.repeat(members / np.maximum(size, 1), size)


def _mean(x: np.ndarray, w: np.ndarray) -> float:
    return float(np.average(x, weights=w)) if len(x) and w.sum() > 0 else np.nan


def _var(x: np.ndarray, w: np.ndarray, mean: float) -> float:
    """Weighted variance about ``mean`` (:func:`_mean` of the same values, not computed twice)."""
    if not len(x) or w.sum() <= 0:
        return np.nan
    return float(np.average((x - mean) ** 2, weights=w))


def _smd(a: tuple[float, float], b: tuple[float, float]) -> float:
    """Difference of means in pooled standard deviations (NaN without spread)."""
    sd = np.sqrt((a[1] + b[1]) / 2.0)
    return float((a[0] - b[0]) / sd) if np.isfinite(sd) and sd > 0 else np.nan
