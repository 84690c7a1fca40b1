"""Intervals over seeds: of a figure's mean, and of the difference between two run sets.

Several seeds give every figure of the report a 95 % interval of the mean (Student's t over
seeds). Two run sets are compared paired by seed where both have the same seeds (common random
numbers make the paired difference precise), else with Welch's interval of the two means.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from scipy import stats

from sim.output.run_sets import RunSet

CONFIDENCE = 0.95


def interval(values: np.ndarray | pd.Series) -> tuple[float, float, float]:
    """Mean and 95 % interval of the mean over seeds (Student's t); NaN bounds for one value.

    Args:
        values: One value per seed.

    Returns:
        (mean, low, high).
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    if len(x) == 0:
        return np.nan, np.nan, np.nan
    mean = float(x.mean())
    if len(x) < 2:
        return mean, np.nan, np.nan
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, len(x) - 1) * x.std(ddof=1) / np.sqrt(len(x)))
    return mean, mean - half, mean + half


def paired(sets: list[RunSet]) -> bool:
    """Whether two run sets pair up by seed: the same seeds, none of them twice.

    Args:
        sets: The reference and the alternative.

    Returns:
        True when each run of one set has exactly one partner with its seed in the other.
    """
    return sorted(sets[0].seeds) == sorted(sets[1].seeds) and len(sets[0].seeds) == len(set(sets[0].seeds))


def difference(sets: list[RunSet], values: list[pd.Series]) -> tuple[float, float, float]:
    """B minus A: paired by seed when the seeds match, else a Welch interval of the two means.

    Args:
        sets: The reference A and the alternative B.
        values: One series of per-seed values (indexed by seed) for each.

    Returns:
        (mean, low, high) of the difference.
    """
    a, b = values
    if paired(sets):
        return interval((b - a.reindex(b.index)).to_numpy())
    mean = float(b.mean() - a.mean())
    if len(a) < 2 or len(b) < 2:
        return mean, np.nan, np.nan
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0 else 1.0
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df) * np.sqrt(va + vb))
    return mean, mean - half, mean + half
