"""The collaboration gap around joining: members' ties against their matched controls', by year.

Cluster organisations broker partners, so membership should show first in a firm's ties; and if
joiners were already better connected before they joined, that is selection the register could
see. For each year from four before joining to the last year followed (the years of
:mod:`sim.observe.event_study`, no year zero), the table compares the members' level at the end of
the year with their matched controls' (each member against the mean of its own controls):

- ``ties``: collaboration ties with other firms (the panel's ``ties``: co-members, brokered and
  market partners alike);
- ``institution_tie``: the share with an R&D partner at a knowledge institution.

Levels, not growth: a tie count has no base to grow from in most firms. Year 1 is the end of the
year of joining, year -1 the end of the year before. Registers from before the panel held ties give
an empty table.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from sim.observe.bootstrap import Bootstrap
from sim.observe.event_study import LEADS, event_years
from sim.observe.matching import Sample, controls_mean
from sim.observe.panel import PanelIndex

#: Panel column -> what it counts.
VARIABLES: dict[str, str] = {"ties": "ties to other firms", "institution_tie": "share with a knowledge-institution tie"}
COLUMNS = ("variable", "years_since_joining", "members_mean", "controls_mean", "gap", "ci_low", "ci_high",
           "n_treated")


def collaboration_gap(index: PanelIndex, path_rows: np.ndarray, sample: Sample, boot: Bootstrap) -> pd.DataFrame:
    """Members' ties minus their matched controls', by year since joining (``collaboration_gap.csv``).

    Args:
        index: The indexed firm-year panel.
        path_rows: Each unit's panel rows over its event window (:func:`sim.observe.event_study.event_rows`):
            the years followed.
        sample: A scored and matched sample.
        boot: The measurement's bootstrap (the same draws as the effects).

    Returns:
        One row per variable and year (:data:`COLUMNS`), in the variable's own units (not pp).
    """
    rows = []
    since = event_years(path_rows.shape[1] - LEADS - 1)
    for column in (c for c in VARIABLES if c in index.panel):
        # Years J-LEADS..J-1 then J..J+lags-1 (the window without the first lead's base): the columns of
        # event_years, in order.
        levels = index.take(column, path_rows[:, 1:])
        own, controls = levels[sample.members], controls_mean(levels, sample)
        gap = own - controls
        for k, year in enumerate(since):
            counted = sample.matched & np.isfinite(gap[:, k])
            mean, lo, hi, n = boot.mean_ci(gap[:, k], counted, scale=1.0)
            rows.append({"variable": column, "years_since_joining": int(year),
                         "members_mean": float(own[counted, k].mean()) if n else np.nan,
                         "controls_mean": float(controls[counted, k].mean()) if n else np.nan,
                         "gap": mean, "ci_low": lo, "ci_high": hi, "n_treated": n})
    return pd.DataFrame(rows, columns=list(COLUMNS))
