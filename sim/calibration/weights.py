"""Weighted draws of a posterior: their quantiles and effective size.

Apart from :mod:`sim.calibration.posterior` so that readers of ``posterior.parquet`` (the app's
selection lesson, ``compare --posterior``) need no pyabc.
"""

from __future__ import annotations

from typing import Any

import numpy as np


def effective_sample_size(weights: np.ndarray) -> float:
    """Kish's effective sample size of weighted draws.

    Args:
        weights: The weights (any scale).

    Returns:
        ``(sum w)^2 / sum w^2``.
    """
    w = np.asarray(weights, dtype=float)
    return float(w.sum() ** 2 / np.sum(w**2)) if w.size else 0.0


def weighted_quantile(values: np.ndarray, weights: np.ndarray, q: Any) -> np.ndarray:
    """Quantiles of weighted draws (the weighted empirical distribution, interpolated at mid-weights).

    Args:
        values: The draws.
        weights: Their weights.
        q: Probabilities.

    Returns:
        The quantiles (NaN if no draw is finite).
    """
    values, weights = np.asarray(values, dtype=float), np.asarray(weights, dtype=float)
    ok = np.isfinite(values) & (weights > 0)
    if not ok.any():
        return np.full(np.shape(q), np.nan)
    order = np.argsort(values[ok], kind="stable")
    v, w = values[ok][order], weights[ok][order]
    cumulative = (np.cumsum(w) - 0.5 * w) / w.sum()
    return np.interp(q, cumulative, v)
