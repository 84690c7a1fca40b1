"""Percentile intervals of means by resampling members: the pairs bootstrap of the published estimator.

Step 5 of the design in :mod:`sim.observe.estimator`. Each member is resampled with whatever was
computed for it (its matched controls' mean, its twin, its ties), so one set of draws serves every
table of a run and an estimate, the truth and their difference stay coherent.
"""

from __future__ import annotations

import numpy as np

CI_LEVEL = 0.95


class Bootstrap:
    """Percentile intervals of means over members, from one set of resampling draws."""

    def __init__(self, n_members: int, resamples: int, rng: np.random.Generator):
        """Draw the resamples once.

        Args:
            n_members: Members in the matched sample.
            resamples: Bootstrap resamples (0 for no intervals).
            rng: The measurement's bootstrap stream.
        """
        self.draws = rng.integers(0, max(n_members, 1), size=(resamples, n_members)) if resamples else None

    def mean_ci(self, values: np.ndarray, subset: np.ndarray | None = None,
                scale: float = 100.0) -> tuple[float, float, float, int]:
        """Mean of the finite values, its interval and the number of members counted.

        Args:
            values: One value per member.
            subset: Members to count (all if None).
            scale: Multiplier of the mean and its interval: 100 turns growth rates into percentage points.

        Returns:
            Mean, interval low and high (NaN without resamples or with one member) and the count.
        """
        use = np.isfinite(values) if subset is None else np.isfinite(values) & subset
        n = int(use.sum())
        if n == 0:
            return np.nan, np.nan, np.nan, 0
        mean = scale * float(values[use].mean())
        if self.draws is None or n < 2:  # one member has no spread to resample
            return mean, np.nan, np.nan, n
        # np.take and count_nonzero: the same sums and counts as indexing and summing the draws, five times faster
        # (a run asks for some two hundred intervals). Members not counted add 0.0 to a resample's total.
        total = np.take(np.where(use, values, 0.0), self.draws).sum(axis=1)
        count = np.count_nonzero(np.take(use, self.draws), axis=1)
        means = scale * total[count > 0] / count[count > 0]
        tail = (1.0 - CI_LEVEL) / 2.0
        lo, hi = np.quantile(means, [tail, 1.0 - tail]) if len(means) else (np.nan, np.nan)
        return mean, float(lo), float(hi), n
