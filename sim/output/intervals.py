"""Intervals over seeds: of a figure's mean, and of the difference between two run sets; and spreads over a posterior.

Every interval says how many seeds it rests on. A 95 % interval of the mean (Student's t) is
sound from :data:`MIN_SEEDS_FOR_T` seeds on; with fewer, t's quantile is so large (12.7 for two
seeds, 4.3 for three) and the spread so badly estimated that the interval says little (members
65 [-126, 256] from three seeds). With 2 to 4 seeds the interval is therefore the range of the
seeds' values: what was seen, not a confidence statement. Two run sets are compared paired by seed
where both have the same seeds (common random numbers make the paired difference precise), else
from the two sets' own intervals.

Such intervals hold seed uncertainty only: the parameters are fixed. Over draws of the calibration's
posterior (``compare --posterior``), :func:`spread` gives a figure's 90 % interval over every
draw x seed result and splits its variance in two: between the draws' means (the parameters) and
within a draw (the seeds).
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np
import pandas as pd
from scipy import stats

from sim.output.run_sets import RunSet

CONFIDENCE = 0.95
COVERAGE = 0.90  # of a spread over posterior draws x seeds
MIN_SEEDS_FOR_T = 5
SEEDS_NOTE = (f"An interval is a 95 % interval of the mean over seeds (Student's t) when it rests on at least "
              f"{MIN_SEEDS_FOR_T} seeds; with 2-{MIN_SEEDS_FOR_T - 1} seeds it is the range of the seeds' values "
              "(what was seen, not a confidence interval), and one seed gives none. Each interval says how many "
              "seeds it rests on. For a difference between two scenarios run on the same seeds, 10-20 seeds "
              "usually give an interval narrower than the effect; a figure's level needs more.")


class Interval(NamedTuple):
    """A mean over seeds and its interval.

    Attributes:
        mean: The mean (NaN without values).
        low: Lower bound (NaN without an interval).
        high: Upper bound.
        seeds: How many seeds it rests on.
        kind: ``"t"`` (95 % Student's t), ``"range"`` (of the seeds) or ``""`` (none).
    """

    mean: float
    low: float
    high: float
    seeds: int
    kind: str

    @property
    def label(self) -> str:
        """What the interval is, e.g. ``"95 %, 20 seeds"``, ``"range of 3 seeds"``, ``"1 seed, no interval"``."""
        if self.kind == "t":
            return f"95 %, {self.seeds} seeds"
        if self.kind == "range":
            return f"range of {self.seeds} seeds"
        return f"{self.seeds} seed{'s' if self.seeds != 1 else ''}, no interval"

    def includes_zero(self) -> bool:
        """Whether zero is inside the interval (True when there is none: zero is then not ruled out)."""
        return not (np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def interval(values: np.ndarray | pd.Series) -> Interval:
    """Mean and interval over seeds: Student's t from 5 seeds, the range with 2-4, none with one.

    Args:
        values: One value per seed (non-finite values are left out).

    Returns:
        The interval.
    """
    x = np.asarray(values, dtype=float)
    x = x[np.isfinite(x)]
    n = len(x)
    if n == 0:
        return Interval(np.nan, np.nan, np.nan, 0, "")
    mean = float(x.mean())
    if n < 2:
        return Interval(mean, np.nan, np.nan, n, "")
    if n < MIN_SEEDS_FOR_T:
        return Interval(mean, float(x.min()), float(x.max()), n, "range")
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, n - 1) * x.std(ddof=1) / np.sqrt(n))
    return Interval(mean, mean - half, mean + half, n, "t")


def paired(sets: list[RunSet]) -> bool:
    """Whether two run sets pair up by seed: the same seeds, none of them twice.

    Args:
        sets: The reference and the alternative.

    Returns:
        True when each run of one set has exactly one partner with its seed in the other.
    """
    return sorted(sets[0].seeds) == sorted(sets[1].seeds) and len(sets[0].seeds) == len(set(sets[0].seeds))


def difference(sets: list[RunSet], values: list[pd.Series]) -> Interval:
    """B minus A: paired by seed when the seeds match, else from the two sets' intervals.

    Unpaired, with at least 5 seeds on each side, the interval is Welch's; with fewer it spans
    the lowest B minus the highest A to the highest B minus the lowest A.

    Args:
        sets: The reference A and the alternative B.
        values: One series of per-seed values (indexed by seed) for each.

    Returns:
        The difference's interval (``seeds``: the smaller set's).
    """
    a, b = (v[np.isfinite(v)] for v in values)
    if paired(sets):
        return interval((b - a.reindex(b.index)).to_numpy())
    mean, n = float(b.mean() - a.mean()), min(len(a), len(b))
    if n < 2:
        return Interval(mean, np.nan, np.nan, n, "")
    if n < MIN_SEEDS_FOR_T:
        return Interval(mean, float(b.min() - a.max()), float(b.max() - a.min()), n, "range")
    va, vb = a.var(ddof=1) / len(a), b.var(ddof=1) / len(b)
    df = (va + vb) ** 2 / (va**2 / (len(a) - 1) + vb**2 / (len(b) - 1)) if va + vb > 0 else 1.0
    half = float(stats.t.ppf(0.5 + CONFIDENCE / 2, df) * np.sqrt(va + vb))
    return Interval(mean, mean - half, mean + half, n, "t")


class Spread(NamedTuple):
    """A figure over posterior draws x seeds: its mean, 90 % interval and the parameters' and seeds' parts.

    The variance of all results splits exactly into the variance between the draws' means and the mean
    variance within a draw (the law of total variance, with each draw weighted by its results).

    Attributes:
        mean: The mean over every result (NaN without values).
        low: 5th percentile of the results.
        high: 95th percentile of the results.
        draws: How many draws gave a result.
        seeds: Results per draw (the most any draw has).
        parameter_low: 5th percentile of the draws' means.
        parameter_high: 95th percentile of the draws' means.
        parameter_variance: Variance between the draws' means (the parameters' part).
        seed_variance: Mean variance within a draw (the seeds' part).
    """

    mean: float
    low: float
    high: float
    draws: int
    seeds: int
    parameter_low: float
    parameter_high: float
    parameter_variance: float
    seed_variance: float

    @property
    def variance(self) -> float:
        """Variance of all results: the two parts together."""
        return self.parameter_variance + self.seed_variance

    @property
    def parameter_share(self) -> float:
        """The parameters' share of the variance (NaN when every result is the same)."""
        return self.parameter_variance / self.variance if self.variance > 0 else np.nan

    @property
    def seed_share(self) -> float:
        """The seeds' share of the variance (NaN when every result is the same)."""
        return self.seed_variance / self.variance if self.variance > 0 else np.nan

    @property
    def seed_sd(self) -> float:
        """Standard deviation of the results within a draw (root of the mean within-draw variance)."""
        return float(np.sqrt(self.seed_variance))

    @property
    def label(self) -> str:
        """What the interval is, e.g. ``"90 % of 3 draws x 2 seeds"``."""
        return f"{100 * COVERAGE:.0f} % of {self.draws} draws x {self.seeds} seeds"

    def includes_zero(self) -> bool:
        """Whether zero is inside the interval (True without one)."""
        return not (np.isfinite(self.low) and (self.low > 0 or self.high < 0))


def spread(values: np.ndarray | pd.Series, draws: np.ndarray | pd.Series) -> Spread:
    """A figure's spread over posterior draws x seeds, and its split into parameters and seeds.

    Args:
        values: One value per result (non-finite values are left out).
        draws: The draw of each result.

    Returns:
        The spread; NaN parts where there are no values.
    """
    x, d = np.asarray(values, dtype=float), np.asarray(draws)
    ok = np.isfinite(x)
    x, d = x[ok], d[ok]
    if len(x) == 0:
        return Spread(np.nan, np.nan, np.nan, 0, 0, np.nan, np.nan, np.nan, np.nan)
    tail = (1 - COVERAGE) / 2
    groups, index, counts = np.unique(d, return_inverse=True, return_counts=True)
    means = np.bincount(index, weights=x) / counts
    mean = float(x.mean())
    between = float(np.sum(counts * (means - mean) ** 2) / len(x))
    within = float(np.sum((x - means[index]) ** 2) / len(x))
    low, high = np.quantile(x, [tail, 1 - tail])
    p_low, p_high = np.quantile(means, [tail, 1 - tail])
    return Spread(mean, float(low), float(high), len(groups), int(counts.max()), float(p_low), float(p_high),
                  between, within)
