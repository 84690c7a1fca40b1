"""One number per design that can tell selection from treatment: the moments a run's headline carries.

The published gap mixes the programme's effect with selection. Beside it the measurement
(:mod:`sim.observe.estimator`) reports designs that can tell the two apart, each as a table. A
calibration, a sweep or the value of information (:mod:`sim.calibration.information`) needs one
number per design, in the units a register study would publish; :func:`moments` reads each from
the run's tables (value added where a design has a metric), never computing anything again:

- ``lead_gap_value_added_pp``: the published estimator's gap in years -4..-2 before joining
  (``effects_by_year``, ``matched_did``), the mean of the three: growth the matching left in. Year
  -1 is left out: its growth is one of the matching's covariates, so its gap is near zero by
  construction and tells nothing (:mod:`sim.observe.event_study`).
- ``staggered_value_added_pp``: Sun and Abraham's estimate over years 1..``window_years``
  (``staggered_did``, the ``att`` row): the effect if members would have grown as the firms not yet
  joined did.
- ``entry_smd_man_years``, ``entry_smd_age``, ``entry_smd_productivity``: joiners in the year before
  joining against every firm that could have joined, in standardised differences of the logarithms
  (``entry_profile``, ``smd_all_nonmembers``): selection on what the register shows. Against the
  matched controls (``smd_controls``) the differences are small by construction, since these are
  the matching's covariates.
- ``collaboration_gap_change_ties``, ``collaboration_gap_change_institution_tie_pp``: members' ties
  (and their share with an R&D tie to a knowledge institution, in percentage points) minus their
  matched controls', averaged over years 1..3 after joining, minus the same averaged over years
  -4..-1 before (``collaboration_gap``): how much the gap grows with membership. Ties are not matched
  on, so year -1 counts before.
- ``funding_end_value_added_pp``: members of clusters whose funding ended against members of
  continuing clusters, growth over the three years after the end (``funding_end``, ``after``).
- ``discontinuity_value_added_pp``: the jump in growth at the open call's cut-off over the years
  after the call (``call_discontinuity``, ``local_linear``, ``after``).

A moment is NaN where the run cannot give it: a table missing or empty (no open call with a
cut-off in the register, no cluster ending in time), or a year of the event study without members.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd

#: Headline moment -> what it is (see the module's text).
MOMENTS: dict[str, str] = {
    "lead_gap_value_added_pp": "published estimator's value-added gap in years -4..-2 before joining (pp a year)",
    "staggered_value_added_pp": "Sun-Abraham value-added effect, years 1-3, against firms not yet joined (pp a year)",
    "entry_smd_man_years": "joiners' log man-years before joining against all possible controls (SMD)",
    "entry_smd_age": "joiners' log(1 + age) before joining against all possible controls (SMD)",
    "entry_smd_productivity": "joiners' log value added per man-year before joining against all possible controls "
                              "(SMD)",
    "collaboration_gap_change_ties": "members' ties minus their controls', years 1-3 minus years -4..-1 (ties)",
    "collaboration_gap_change_institution_tie_pp": "members' share with a knowledge-institution tie minus their "
                                                   "controls', years 1-3 minus years -4..-1 (pp)",
    "funding_end_value_added_pp": "value-added growth of members of ended clusters minus continuing ones, three "
                                  "years after the end (pp a year)",
    "discontinuity_value_added_pp": "jump in the cells' value-added growth at the open call's cut-off, after the "
                                    "call (pp a year)",
}
METRIC = "value_added"
LEAD_YEARS = (-4, -3, -2)
BEFORE_YEARS, AFTER_YEARS = (-4, -3, -2, -1), (1, 2, 3)  # the published window: years 1-3


def moments(tables: dict[str, pd.DataFrame]) -> dict[str, float]:
    """The headline moments of a run's effect tables (:data:`MOMENTS`).

    Args:
        tables: File stem -> table (:meth:`sim.observe.estimator.Effects.tables`).

    Returns:
        Moment -> value, NaN where the run cannot give it.
    """
    empty = pd.DataFrame()
    by_year = tables.get("effects_by_year", empty)
    leads = [_one(by_year, metric=METRIC, estimator="matched_did", years_since_joining=k) for k in LEAD_YEARS]
    out = {"lead_gap_value_added_pp": float(np.mean(leads)),  # NaN if any year lacks members
           "staggered_value_added_pp": _one(tables.get("staggered_did", empty), metric=METRIC, term="att")}
    profile = tables.get("entry_profile", empty)
    for variable in ("man_years", "age", "productivity"):
        out[f"entry_smd_{variable}"] = _one(profile, "smd_all_nonmembers", variable=variable)
    ties = tables.get("collaboration_gap", empty)
    for variable, key, scale in (("ties", "collaboration_gap_change_ties", 1.0),
                                 ("institution_tie", "collaboration_gap_change_institution_tie_pp", 100.0)):
        before = [_one(ties, "gap", variable=variable, years_since_joining=k) for k in BEFORE_YEARS]
        after = [_one(ties, "gap", variable=variable, years_since_joining=k) for k in AFTER_YEARS]
        out[key] = scale * float(np.mean(after) - np.mean(before))
    out["funding_end_value_added_pp"] = _one(tables.get("funding_end", empty), metric=METRIC, period="after")
    out["discontinuity_value_added_pp"] = _one(tables.get("call_discontinuity", empty), metric=METRIC,
                                               estimator="local_linear", period="after")
    return out


def _one(table: pd.DataFrame, column: str = "gap_pp", **where: object) -> float:
    """The value in ``column`` of the one row matching ``where``; NaN without exactly one such row."""
    if table.empty or column not in table:
        return math.nan
    match = np.ones(len(table), dtype=bool)
    for key, value in where.items():
        if key not in table:
            return math.nan
        match &= (table[key] == value).to_numpy(dtype=bool, na_value=False)
    values = table.loc[match, column].to_numpy(dtype=float)
    return float(values[0]) if len(values) == 1 else math.nan
