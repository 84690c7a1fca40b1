"""The firm-dynamics table's kernels (:mod:`sim.observe.dynamics`): the year before, growth, entry and exit.

A panel's growth rates are summed over all firms, by size class and by age class. numpy needed a
dozen passes over the rates for each grouping (a ``bincount`` and a gather for each moment); here
each rate belongs to one group of every grouping at once (``codes``, one row per grouping), and
one pass makes the plain sums of all groups, one the sums of powers and products about the group
means and one the counts within one standard deviation (the means and spreads are divided out
between them, in numpy, where an empty group gives NaN). They add in row order as ``bincount``
does and are compiled without fast-math, so no multiply and add are fused into one rounding. A
fourth power is two squarings, exact IEEE products on any processor; numpy's ``x ** 4`` calls a
``pow`` whose last bit depends on the processor and its library, and took half the table's time.
Logarithms stay in numpy (:func:`sim.observe.dynamics.growth_rates`), whose ``log`` is not the C
library's on every processor either.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.engine.jit import EXACT, sig, warm_up

_LINKS = "Tuple((int64[::1], float64[::1], boolean[::1], int8[:, ::1]))(int32[::1], {F64}, int32[::1], {F64}, {F64})"
_SHIFTED = "UniTuple(float64[::1], 2)(int64[::1], {F64}, int32[::1], int32[::1])"
_CLASSES = "int64[::1]({F64}, {F64})"
_SHARES = "Tuple((float64[::1], float64[::1], int64[::1]))(int32[::1], {BOOL}, {BOOL}, {F64})"
_ENTRY_EXIT = "UniTuple(int64[::1], 5)(int32[::1], {BOOL}, int32[::1], int32[::1], int32[::1], {F64})"
_SUMS = "UniTuple(float64[::1], 7)(int8[:, ::1], int64, {F64}, {F64}, {BOOL}, {F64})"
_CENTRAL = "UniTuple(float64[::1], 6)(int8[:, ::1], int64, {F64}, {F64}, {F64}, {F64}, {F64}, {F64}, {F64})"
_WITHIN = "float64[::1](int8[:, ::1], int64, {F64}, {F64}, {F64})"
_ORDERED = "Tuple((float64[::1], int64[::1]))(int8[:, ::1], int64, {F64})"


@numba.njit(sig("Tuple((int32[::1], int64))({I32}, {I32}, {BOOL}, {I64}, int64)"), **EXACT)
def previous_rows(firm, year, alive, order, n_firms):
    """Each firm-year's row of the same firm in the year before, where it was open at that year's end.

    One pass over the rows in ``order`` (by year) keeping each firm's last row seen: a search per row
    over a sorted key took ten times as long.

    Args:
        firm, year, alive: The panel's columns.
        order: The rows by year (a firm's years in order).
        n_firms: One more than the largest firm id.

    Returns:
        The earlier row of each row (-1 where the firm has no row in the year before or closed in it),
        and a row whose firm has an earlier row in the same year (-1 if none: each firm-year once).
    """
    last = np.full(n_firms, -1, dtype=np.int64)
    out = np.full(firm.shape[0], -1, dtype=np.int32)
    for i in range(order.shape[0]):
        r = order[i]
        q = last[firm[r]]
        if q >= 0 and year[q] == year[r]:
            return out, r
        if q >= 0 and year[q] == year[r] - 1 and alive[q]:
            out[r] = q
        last[firm[r]] = r
    return out, np.int64(-1)


@numba.njit(inline="always")
def _class(value, lows):
    # The lowest bound of every class table is 0 and the values are at least 0, so each has a class;
    # NaN goes to the last, as numpy's searchsorted puts it.
    if value != value:
        return lows.shape[0] - 1
    c = -1
    for j in range(lows.shape[0]):
        c += value >= lows[j]
    return c


@numba.njit(sig(_LINKS), **EXACT)
def growth_links(previous, employees, age, size_lows, age_lows):
    """The firm-years with a growth rate (a row in the year before, man-years above zero in both), and their groups.

    Args:
        previous: Each firm-year's row in the year before, -1 where it has none.
        employees: Man-years of each firm-year.
        age: Each firm-year's age.
        size_lows, age_lows: The size classes' and the age classes' lower bounds.

    Returns:
        The rows; the ratio of their man-years to the year before's; whether the two are equal; and
        each rate's group in each of three groupings (rows of ``codes``): all firms (group 0), the size
        class at the start of the year (groups from 1) and the age class (after the size classes).
    """
    n = previous.shape[0]
    rows, ratio, unchanged = np.empty(n, dtype=np.int64), np.empty(n), np.empty(n, dtype=np.bool_)
    codes = np.zeros((3, n), dtype=np.int8)
    after_sizes = 1 + size_lows.shape[0]
    k = 0
    for r in range(n):
        q = previous[r]
        if q >= 0 and employees[q] > 0.0 and employees[r] > 0.0:
            rows[k], ratio[k], unchanged[k] = r, employees[r] / employees[q], employees[r] == employees[q]
            codes[1, k] = 1 + _class(employees[q], size_lows)
            codes[2, k] = after_sizes + _class(max(age[r], 0), age_lows)
            k += 1
    return rows[:k], ratio[:k], unchanged[:k], np.ascontiguousarray(codes[:, :k])


@numba.njit(sig(_SHIFTED), **EXACT)
def demeaned_and_lagged(rows, g, year, previous):
    """The rates less their year's mean, and each firm's rate of the year before (NaN where it has none).

    Args:
        rows: The firm-years of the rates (:func:`growth_links`).
        g: Their growth rates.
        year: Each firm-year's year.
        previous: Each firm-year's row in the year before.
    """
    first, last = 0, -1
    if rows.shape[0]:
        first, last = year[rows[0]], year[rows[0]]
        for k in range(rows.shape[0]):
            first, last = min(first, year[rows[k]]), max(last, year[rows[k]])
    sums, counts = np.zeros(last - first + 1), np.zeros(last - first + 1)
    for k in range(rows.shape[0]):
        sums[year[rows[k]] - first] += g[k]
        counts[year[rows[k]] - first] += 1.0
    earlier = np.full(previous.shape[0], np.nan)
    shifted, lagged = np.empty(rows.shape[0]), np.empty(rows.shape[0])
    for k in range(rows.shape[0]):
        y = year[rows[k]] - first
        shifted[k] = g[k] - sums[y] / max(counts[y], 1.0)
        earlier[rows[k]] = g[k]
    for k in range(rows.shape[0]):
        lagged[k] = earlier[previous[rows[k]]]
    return shifted, lagged


@numba.njit(sig(_CLASSES), **EXACT)
def classes(values, lows):
    """Each value's class: the number of lower bounds ``lows`` (ascending) at or below it, less one.

    numpy's ``searchsorted(lows, values, side="right") - 1`` in a third of its time.
    """
    out = np.empty(values.shape[0], dtype=np.int64)
    for i in range(values.shape[0]):
        out[i] = _class(values[i], lows)
    return out


@numba.njit(sig(_ENTRY_EXIT), **EXACT)
def entry_and_exit(year, alive, birth, previous, age, age_lows):
    """Firms open, born and closed by year, and the firms at risk and closed by age class.

    Args:
        year, alive, birth: The panel's columns.
        previous: Each firm-year's row in the year before where the firm was open then, else -1.
        age: Each firm-year's age (year less birth year).
        age_lows: The age classes' youngest ages.

    Returns:
        By year from the panel's first: firms open at the end of the year, born in it and closed in
        it; by age class, the firms open on 1 January (a row the year before) and those of them that
        closed during the year.
    """
    first, last = 0, -1
    if year.shape[0]:
        first, last = year.min(), year.max()
    stock = np.zeros(last - first + 1, dtype=np.int64)
    born, closed = np.zeros_like(stock), np.zeros_like(stock)
    at_risk, closing = np.zeros(age_lows.shape[0], dtype=np.int64), np.zeros(age_lows.shape[0], dtype=np.int64)
    for r in range(year.shape[0]):
        y = year[r] - first
        stock[y] += alive[r]
        closed[y] += not alive[r]
        born[y] += birth[r] == year[r]
        if previous[r] >= 0:
            c = _class(max(age[r], 0), age_lows)
            at_risk[c] += 1
            closing[c] += not alive[r]
    return stock, born, closed, at_risk, closing


@numba.njit(sig(_SHARES), **EXACT)
def member_shares(year, alive, member, employees):
    """Man-years of the open firms and of the open members by year, and the members, from the panel's first year.

    Man-years are summed in row order, as ``bincount`` sums its weights.
    """
    first, last = 0, -1
    if year.shape[0]:
        first, last = year.min(), year.max()
    total, held = np.zeros(last - first + 1), np.zeros(last - first + 1)
    count = np.zeros(last - first + 1, dtype=np.int64)
    for r in range(year.shape[0]):
        if alive[r]:
            y = year[r] - first
            total[y] += employees[r]
            if member[r]:
                held[y] += employees[r]
                count[y] += 1
    return total, held, count


@numba.njit(sig(_SUMS), **EXACT)
def group_sums(codes, groups, g, shifted, unchanged, lagged):
    """Counts and plain sums of each group's rates.

    The arguments are those of :class:`sim.observe.dynamics.GrowthStats`; a pair is a rate whose
    ``lagged`` rate (the firm's a year earlier) is not NaN.

    Returns:
        Per group: rates, sum of ``g``, of ``shifted``, of ``unchanged``; pairs, sum of ``lagged`` and
        of ``g`` over the pairs.
    """
    n, sum_g, sum_shifted, sum_unchanged = np.zeros(groups), np.zeros(groups), np.zeros(groups), np.zeros(groups)
    pairs, sum_lagged, sum_g_paired = np.zeros(groups), np.zeros(groups), np.zeros(groups)
    for i in range(codes.shape[1]):
        paired = math.isfinite(lagged[i])
        for j in range(codes.shape[0]):
            k = codes[j, i]
            n[k] += 1.0
            sum_g[k] += g[i]
            sum_shifted[k] += shifted[i]
            sum_unchanged[k] += 1.0 if unchanged[i] else 0.0
            if paired:
                pairs[k] += 1.0
                sum_lagged[k] += lagged[i]
                sum_g_paired[k] += g[i]
    return n, sum_g, sum_shifted, sum_unchanged, pairs, sum_lagged, sum_g_paired


@numba.njit(sig(_CENTRAL), **EXACT)
def central_sums(codes, groups, g, shifted, lagged, mean, shifted_mean, lagged_mean, paired_mean):
    """Sums of each group's rates about its means (from :func:`group_sums`).

    Args:
        codes, groups, g, shifted, lagged: As for :func:`group_sums`.
        mean: Each group's mean rate.
        shifted_mean: Each group's mean demeaned rate.
        lagged_mean, paired_mean: Each group's mean of ``lagged`` and of ``g`` over its pairs.

    Returns:
        Per group: the sum of squares of ``g`` about ``mean``, of squares and of fourth powers of
        ``shifted`` about ``shifted_mean``; over the pairs, the sum of cross products and the two sums
        of squares about the pair means.
    """
    squares, shifted_squares, fourth = np.zeros(groups), np.zeros(groups), np.zeros(groups)
    cross, lagged_squares, paired_squares = np.zeros(groups), np.zeros(groups), np.zeros(groups)
    for i in range(codes.shape[1]):
        paired = math.isfinite(lagged[i])
        for j in range(codes.shape[0]):
            k = codes[j, i]
            centred = g[i] - mean[k]
            squares[k] += centred * centred
            c = shifted[i] - shifted_mean[k]
            c2 = c * c
            shifted_squares[k] += c2
            fourth[k] += c2 * c2
            if paired:
                da, db = lagged[i] - lagged_mean[k], g[i] - paired_mean[k]
                cross[k] += da * db
                lagged_squares[k] += da * da
                paired_squares[k] += db * db
    return squares, shifted_squares, fourth, cross, lagged_squares, paired_squares


@numba.njit(sig(_WITHIN), **EXACT)
def within(codes, groups, shifted, shifted_mean, spread):
    """Each group's count of ``shifted`` rates within ``spread`` of ``shifted_mean`` (arguments as above)."""
    counts = np.zeros(groups)
    for i in range(codes.shape[1]):
        for j in range(codes.shape[0]):
            k = codes[j, i]
            if abs(shifted[i] - shifted_mean[k]) <= spread[k]:
                counts[k] += 1.0
    return counts


@numba.njit(sig(_ORDERED), **EXACT)
def ordered_by_group(codes, groups, x):
    """``x`` ordered by group, once in each of its groups, and where each group starts.

    A counting sort, where a stable argsort of each grouping's codes and a gather took three times as
    long. Group ``k``'s values are ``ordered[start[k]:start[k + 1]]``, in row order.
    """
    start = np.zeros(groups + 1, dtype=np.int64)
    for j in range(codes.shape[0]):
        for i in range(codes.shape[1]):
            start[codes[j, i] + 1] += 1
    for k in range(groups):
        start[k + 1] += start[k]
    at = start[:-1].copy()
    ordered = np.empty(start[groups])
    for j in range(codes.shape[0]):
        for i in range(codes.shape[1]):
            ordered[at[codes[j, i]]] = x[i]
            at[codes[j, i]] += 1
    return ordered, start


warm_up(previous_rows, growth_links, demeaned_and_lagged, classes, entry_and_exit, member_shares, group_sums,
        central_sums, within, ordered_by_group)
