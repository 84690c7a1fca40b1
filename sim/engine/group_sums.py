"""Sums by group for the firm-dynamics table's growth-rate moments (:class:`sim.observe.dynamics.GrowthStats`).

A panel's growth rates are summed by size class, by age class and over all firms: numpy needed a
``bincount`` and a gather for each moment of each grouping; these loops make one pass for the
plain sums and one for the sums of squares and products about the group means (the means are
divided out between them, in numpy, where an empty group gives NaN). They add in row order as
``bincount`` does and are compiled without fast-math, so the sums are the same bits. The fourth
powers stay in numpy: its ``x ** 4`` is not the C library's ``pow`` on every processor.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.engine.jit import EXACT, sig, warm_up

_SUMS = "UniTuple(float64[::1], 7)(int64[::1], int64, {F64}, {F64}, {BOOL}, {F64})"
_CENTRAL = "UniTuple(float64[::1], 5)(int64[::1], int64, {F64}, {F64}, {F64}, {F64}, {F64}, {F64}, {F64})"


@numba.njit(sig(_SUMS), **EXACT)
def group_sums(code, groups, g, shifted, unchanged, lagged):
    """Counts and plain sums of each group's rates.

    The arguments are those of :class:`sim.observe.dynamics.GrowthStats`; a pair is a rate whose
    ``lagged`` rate (the firm's a year earlier) is not NaN.

    Returns:
        Per group: rates, sum of ``g``, of ``shifted``, of ``unchanged``; pairs, sum of ``lagged`` and
        of ``g`` over the pairs.
    """
    n, sum_g, sum_shifted, sum_unchanged = np.zeros(groups), np.zeros(groups), np.zeros(groups), np.zeros(groups)
    pairs, sum_lagged, sum_g_paired = np.zeros(groups), np.zeros(groups), np.zeros(groups)
    for i in range(code.shape[0]):
        k = code[i]
        n[k] += 1.0
        sum_g[k] += g[i]
        sum_shifted[k] += shifted[i]
        sum_unchanged[k] += 1.0 if unchanged[i] else 0.0
        if math.isfinite(lagged[i]):
            pairs[k] += 1.0
            sum_lagged[k] += lagged[i]
            sum_g_paired[k] += g[i]
    return n, sum_g, sum_shifted, sum_unchanged, pairs, sum_lagged, sum_g_paired


@numba.njit(sig(_CENTRAL), **EXACT)
def central_sums(code, groups, g, shifted, lagged, mean, shifted_mean, lagged_mean, paired_mean):
    """Sums of each group's rates about its means (from :func:`group_sums`).

    Args:
        code, groups, g, shifted, lagged: As for :func:`group_sums`.
        mean: Each group's mean rate.
        shifted_mean: Each group's mean demeaned rate.
        lagged_mean, paired_mean: Each group's mean of ``lagged`` and of ``g`` over its pairs.

    Returns:
        Per group: the sum of squares of ``g`` about ``mean`` and of ``shifted`` about
        ``shifted_mean``; over the pairs, the sum of cross products and the two sums of squares
        about the pair means.
    """
    squares, shifted_squares = np.zeros(groups), np.zeros(groups)
    cross, lagged_squares, paired_squares = np.zeros(groups), np.zeros(groups), np.zeros(groups)
    for i in range(code.shape[0]):
        k = code[i]
        centred = g[i] - mean[k]
        squares[k] += centred * centred
        c = shifted[i] - shifted_mean[k]
        shifted_squares[k] += c * c
        if math.isfinite(lagged[i]):
            da, db = lagged[i] - lagged_mean[k], g[i] - paired_mean[k]
            cross[k] += da * db
            lagged_squares[k] += da * da
            paired_squares[k] += db * db
    return squares, shifted_squares, cross, lagged_squares, paired_squares


warm_up(group_sums, central_sums)
