"""The population's kernels: categories, size classes, intercepts and new firms' traits.

Rules: :mod:`sim.world.population`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import types

from sim.engine import vecmath as vm
from sim.engine.jit import BOOL, F2, F64, I64, JIT, bundle, sig, warm_up
from sim.engine.randomness import betas_of


class EffortParams(NamedTuple):
    """New firms' R&D effort, orientation and absorptive capacity: ``[population]`` parameters."""

    beta_concentration: float
    mean_log_size: float  # the population's mean log man-years, where absorptive capacity is centred
    absorptive_size_weight: float
    absorptive_rd_weight: float
    rd_effort_mean: float


class TraitParams(NamedTuple):
    """New firms' other traits: ``[population]`` parameters and the population's fitted intercepts."""

    productivity_index: float  # the productivity trend since the sectors' tables' year
    productivity_sd: float
    growth_potential_sd: float
    knowledge_sd: float
    rd_tilted: float  # 1 where R&D effort's mean is logistic in size and science, else 0
    rd_intercept: float
    rd_size_elasticity: float
    rd_science_weight: float
    exports_tilted: float  # 1 where exporting is logistic in size, else 0
    international_share: float
    export_intercept: float
    export_size_elasticity: float


EFFORT, TRAIT = bundle(EffortParams), bundle(TraitParams)


@numba.njit(sig("{I64}(float64[:, ::1], {I64}, {F64})"), **JIT)
def category_by_row(cdf, row, u):
    """For each draw, the first category whose cumulative share in its ``row`` of ``cdf`` exceeds ``u``.

    Inverse transform sampling, one distribution per row.
    """
    out = np.empty(u.shape[0], dtype=np.int64)
    for i in range(u.shape[0]):
        # Cumulative shares rise, so the category is the count of them at or below u: a sum
        # without a branch, which vectorises (a search loop here took 3.5 times as long).
        k = 0
        for j in range(cdf.shape[1] - 1):
            k += u[i] >= cdf[row[i], j]
        out[i] = k
    return out


@numba.njit(inline="always")
def _logistic(x: float) -> float:
    return 1.0 / (1.0 + vm.exp(-x))  # vm.exp clamps its argument: no overflow


@numba.njit(sig("{F64}({F64}, int64, int64, float64, float64)"), cache=True, nogil=True)
def class_employees(q, lo, hi, alpha, cap):  # no fastmath: the C library's exp and pow, as numpy's
    """Map uniform quantiles to whole employee numbers in a size class (inverse CDF).

    Rules: :meth:`sim.world.population.SizeClass.employees` (``hi`` negative for the open top class).
    """
    out = np.empty(q.shape[0])
    if hi < 0:  # Pareto above lo, capped
        for i in range(q.shape[0]):
            out[i] = np.floor(min(lo * (1.0 - q[i]) ** (-1.0 / alpha), cap))  # a float, as numpy's floor
        return out
    log_lo, log_hi = math.log(lo), math.log(hi + 1)
    for i in range(q.shape[0]):
        # min() guards exp rounding up to hi + 1
        out[i] = min(np.floor(math.exp(log_lo + q[i] * (log_hi - log_lo))), hi)
    return out


@numba.njit("float64(float64, float64[::1], float64[::1])", **JIT)
def solve_intercept(target, tilt, weight):
    """Find ``c`` with ``sum(weight * logistic(c + tilt)) == target`` (0 < target < 1).

    Args:
        target: Desired population mean.
        tilt: Log-odds shift of each grid point.
        weight: Grid weights summing to 1.

    Returns:
        The intercept (Newton's method on the mean, which increases in ``c``; bisection steps
        keep it inside the bracket where Newton would overshoot).
    """
    lo, hi = -60.0, 60.0
    c = math.log(target / (1.0 - target)) - np.dot(weight, tilt)
    p = np.empty(tilt.shape[0])
    for _ in range(100):
        for k in range(tilt.shape[0]):  # vectorised: the sums below are a loop of their own
            p[k] = _logistic(c + tilt[k])
        mean = slope = 0.0
        for k in range(tilt.shape[0]):
            mean += weight[k] * p[k]
            slope += weight[k] * p[k] * (1.0 - p[k])
        gap = mean - target
        if gap < 0:
            lo = c
        else:
            hi = c
        nxt = c - gap / slope if slope > 0 else -math.inf
        if not lo < nxt < hi:
            nxt = 0.5 * (lo + hi)
        if abs(nxt - c) <= 1e-15 * max(1.0, abs(c)) or hi - lo <= 1e-15 * max(1.0, abs(c)):
            return nxt
        c = nxt
    return c


# numpy's Generator as numba types it; numba's samplers are ports of numpy's and give the same
# numbers from the same state (tests/test_kernels.py checks it).
_RNG = numba.typeof(np.random.default_rng(0))


@numba.njit(numba.types.float64[:, ::1](_RNG, numba.types.int64, numba.types.int64), cache=True, nogil=True)
def numpy_normals(rng, rows, n):  # no fastmath: numpy's numbers, bit for bit
    """``rng.standard_normal((rows, n))``, drawn three times as fast as numpy draws them.

    Handing numba the generator costs about 8 us a call, so it pays for large batches only.
    """
    return rng.standard_normal((rows, n))


@numba.njit(types.UniTuple(F64, 3)(types.uint64, F64, F64, BOOL, F64, EFFORT), **JIT)
def firm_efforts(key, rd_mean, p_export, exporter, log_size, p):
    """New firms' R&D effort, international orientation and absorptive capacity.

    Rules: :func:`sim.world.population._attributes`.

    Args:
        key: The Beta draws' key (:func:`sim.engine.randomness.beta`).
        rd_mean, p_export, exporter, log_size: Each firm's mean R&D effort, export probability,
            whether it exports, and log man-years.
        p: The scalar parameters (:class:`EffortParams`).

    Returns:
        ``(rd_effort, intl, absorptive)``: Beta around each firm's mean R&D effort and, for
        exporters, around its export probability (means of exactly 0 or 1 give 0 or 1; 0 for
        non-exporters' orientation).
    """
    concentration, ref_log_size, size_w, rd_w = (p.beta_concentration, p.mean_log_size, p.absorptive_size_weight,
                                                 p.absorptive_rd_weight)
    rd_mean_all = p.rd_effort_mean
    n = rd_mean.shape[0]
    # The Beta shapes of the means strictly inside (0, 1): the firms' R&D, then the exporters'
    # orientation, numbered in that order (a number's slot in its key).
    most = n + exporter.sum()
    a, b = np.empty(most), np.empty(most)
    k = 0
    for i in range(n):
        if 0.0 < rd_mean[i] < 1.0:
            a[k], b[k] = concentration * rd_mean[i], concentration * (1.0 - rd_mean[i])
            k += 1
    for i in range(n):
        if exporter[i] and 0.0 < p_export[i] < 1.0:
            a[k], b[k] = concentration * p_export[i], concentration * (1.0 - p_export[i])
            k += 1
    drawn = betas_of(key, a[:k], b[:k])
    rd_effort, intl, absorptive = np.empty(n), np.zeros(n), np.empty(n)
    k = 0
    for i in range(n):
        rd_effort[i] = rd_mean[i]
        if 0.0 < rd_mean[i] < 1.0:
            rd_effort[i] = drawn[k]
            k += 1
    for i in range(n):
        if exporter[i]:
            intl[i] = p_export[i]
            if 0.0 < p_export[i] < 1.0:
                intl[i] = drawn[k]
                k += 1
    for i in range(n):
        x = size_w * (log_size[i] - ref_log_size) + rd_w * (rd_effort[i] - rd_mean_all)
        absorptive[i] = _logistic(x)
    return rd_effort, intl, absorptive


@numba.njit(types.UniTuple(F64, 9)(F2, F64, types.uint64, F64, I64, F2, TRAIT, EFFORT), **JIT)
def firm_traits(z, u, key, employees, sector, table, p, q):
    """The attributes of new firms (rules: :func:`sim.world.population._attributes`).

    Args:
        z: Standard normals, shape ``(4, n)``: productivity, potential, knowledge x and y.
        u: One uniform per firm: whether it exports.
        key: The Beta draws' key (:func:`firm_efforts`).
        employees: Man-years per firm.
        sector: Sector per firm.
        table: Per sector: value added per man-year, value added share, knowledge x and y.
        p: The traits' scalar parameters (:class:`TraitParams`).
        q: The efforts' scalar parameters (:class:`EffortParams`).

    Returns:
        ``(productivity, value added share, revenue, potential, kx, ky, rd_effort, intl,
        absorptive)``.
    """
    index, prod_sd, pot_sd, know_sd = p.productivity_index, p.productivity_sd, p.growth_potential_sd, p.knowledge_sd
    rd_tilted, rd_mean_all, rd_c = p.rd_tilted, q.rd_effort_mean, p.rd_intercept
    rd_size, rd_sci = p.rd_size_elasticity, p.rd_science_weight
    ex_tilted, ex_all, ex_c, ex_size = (p.exports_tilted, p.international_share, p.export_intercept,
                                        p.export_size_elasticity)
    n = employees.shape[0]
    out = [np.empty(n) for _ in range(9)]
    log_size, productivity, va_share, revenue, potential, kx, ky, rd_mean, p_export = out
    # The sector lookups in a loop of their own, so that the arithmetic below vectorises; kx, ky
    # and rd_mean hold the sector's knowledge position until the firm's own replaces it.
    for i in range(n):
        s = sector[i]
        productivity[i] = table[s, 0]
        va_share[i] = table[s, 1]
        kx[i] = table[s, 2]
        ky[i] = rd_mean[i] = table[s, 3]
    for i in range(n):
        log_size[i] = vm.log(employees[i])
    for i in range(n):
        # Log-normal with mu = -sd^2/2 so E[productivity] equals the sector figure.
        productivity[i] *= index * vm.exp(prod_sd * z[0, i] - 0.5 * prod_sd * prod_sd)
        revenue[i] = employees[i] * productivity[i] / va_share[i]
        potential[i] = pot_sd * z[1, i]
        kx[i] = min(max(kx[i] + know_sd * z[2, i], 0.0), 1.0)
        ky[i] = min(max(ky[i] + know_sd * z[3, i], 0.0), 1.0)
    for i in range(n):
        rd_mean[i] = _logistic(rd_c + rd_size * log_size[i] + rd_sci * rd_mean[i]) if rd_tilted else rd_mean_all
    for i in range(n):
        p_export[i] = _logistic(ex_c + ex_size * log_size[i]) if ex_tilted else ex_all
    exporter = np.empty(n, dtype=np.bool_)
    for i in range(n):
        exporter[i] = u[i] < p_export[i]
    rd_effort, intl, absorptive = firm_efforts(key, rd_mean, p_export, exporter, log_size, q)
    return productivity, va_share, revenue, potential, kx, ky, rd_effort, intl, absorptive


warm_up(category_by_row, class_employees, solve_intercept, numpy_normals, firm_efforts, firm_traits)
