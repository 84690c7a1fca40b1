"""The growth kernel: sales, productivity, employment and potential of every open firm in one pass.

Rules: :mod:`sim.submodels.growth`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import types

from sim.engine import vecmath as vm
from sim.engine.jit import BOOL, F64, I16, I32, JIT, KEYS, bundle, warm_up, where
from sim.engine.randomness import laplace_of, unit

SQRT_HALF = math.sqrt(0.5)


class GrowthParams(NamedTuple):
    """The growth phase's scalar parameters, named as in the scenario (``[growth]`` unless noted)."""

    market_access_fade: float
    shock_sd: float
    shock_size_elasticity: float
    max_laplace_scale: float  # a model constant (sim.submodels.growth.MAX_LAPLACE_SCALE)
    innovation_size_elasticity: float  # innovation.size_elasticity
    demand_gain: float  # innovation.demand_gain
    productivity_trend: float
    productivity_gain: float  # innovation.productivity_gain
    productivity_noise_sd: float
    hire_rate: float
    fire_rate: float
    potential_persistence: float
    growth_potential_sd: float  # population.growth_potential_sd
    potential_size_elasticity: float
    young_growth: float
    young_growth_fade: float
    employment_shock_sd: float
    adjustment_threshold: float
    va_productivity_elasticity: float
    va_innovation_gain: float
    va_scale_elasticity: float
    min_va_share: float  # a model constant (sim.submodels.growth.VA_SHARE_BOUNDS)
    max_va_share: float  # a model constant (sim.submodels.growth.VA_SHARE_BOUNDS)
    displacement: float
    max_displaced_share: float  # a model constant (sim.submodels.growth.MAX_DISPLACED_SHARE)


GROWTH = bundle(GrowthParams)


@numba.njit(inline="always")
def _push(access, tenure, fade):
    """A member's market-access growth: its cluster's ``access`` fading with ``tenure``, its years of membership."""
    return access * vm.exp(-fade * tenure)


@numba.njit(inline="always")
def _market_losses(rows, year, p, revenue, push, sector, region, n_sectors, member):
    """Each market's sales growth lost by its non-members (log points), from its members' extra sales.

    A market is a (county, sector) cell. Members' extra sales are ``revenue * (exp(push) - 1)``;
    the non-members of the cell share the loss in proportion to their sales at the start of the
    year (their growth falls by ``log(1 - loss share)``, the share capped at ``max_displaced_share``).

    Args:
        rows: The open rows, in order (the cells' sums add them up in that order).
        push: Each open row's market-access growth (:func:`_push`; read for members only), by position in ``rows``.
        year, p, revenue, sector, region, n_sectors, member: As :func:`grow`.

    Returns:
        The loss per cell, ``region * n_sectors + sector`` (0 where a cell has no non-member sales).
    """
    n_open = rows.shape[0]
    top = 0
    for i in range(n_open):
        top = max(top, np.int64(region[rows[i]]))
    cells = (top + 1) * n_sectors if n_open > 0 else 0
    gained, held = np.zeros(cells), np.zeros(cells)
    for i in range(n_open):
        r = rows[i]
        c = np.int64(region[r]) * n_sectors + sector[r]
        if member[r]:
            gained[c] += revenue[r] * (vm.exp(push[i]) - 1.0)
        else:
            held[c] += revenue[r]
    for c in range(cells):
        held[c] = vm.log1p(-min(p.displacement * gained[c] / held[c], p.max_displaced_share)) if held[c] > 0 else 0.0
    return held


@numba.njit(**JIT)
def displace(n, alive, year, p, revenue, access, sector, region, n_sectors, member, join_year, rate):
    """Non-members lose the share ``displacement`` of the sales members gain from market access in their market.

    The rule as :func:`grow` applies it (:func:`_market_losses`), on whole columns.

    Args:
        n, alive, year, p, revenue, sector, region, n_sectors, member, join_year: As :func:`grow`.
        access: Market access per row this year before it fades with years of membership (0 for non-members).
        rate: This year's sales growth per row (log points; updated in place).
    """
    rows = where(alive[:n])
    push = np.empty(rows.shape[0])
    for i in range(rows.shape[0]):
        push[i] = _push(access[rows[i]], max(year - join_year[rows[i]], 0), p.market_access_fade)
    loss = _market_losses(rows, year, p, revenue, push, sector, region, n_sectors, member)
    for r in rows:
        if not member[r]:
            rate[r] += loss[np.int64(region[r]) * n_sectors + sector[r]]


@numba.njit(types.void(types.int64, BOOL, KEYS, types.int64, F64, F64, GROWTH, F64, F64, F64, F64, F64, BOOL, I16, I16,
                       types.int64, BOOL, I32, I16, I16, F64, F64), **JIT)
def grow(n, alive, keys, year, demand, access_per_cluster, p, employees, revenue, productivity, va_share,
         potential, innovated, sector, region, n_sectors, member, cluster, join_year, birth_year, support_growth,
         growth):
    """The growth phase for the open firms among the first ``n`` rows (rules: :func:`sim.submodels.growth.growth`).

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (only those change).
        keys: Hashed keys of this year's "growth.shock", "growth.productivity", "growth.potential" and
            "growth.employment" draws.
        year: The simulated year.
        demand: Demand growth per sector (log points).
        access_per_cluster: Market access per cluster (log points, funding applied).
        p: The scalar parameters (:class:`GrowthParams`).
        employees, revenue, productivity, va_share, potential, innovated, sector, region: Firm columns.
        n_sectors: Number of sectors (a market is a county and a sector, ``region * n_sectors + sector``).
        member, cluster, join_year, birth_year, support_growth, growth: Firm columns (updated in place, as
            are the ones above).
    """
    fade, shock_sd, shock_el, max_b = p.market_access_fade, p.shock_sd, p.shock_size_elasticity, p.max_laplace_scale
    step_el, demand_gain, trend = p.innovation_size_elasticity, p.demand_gain, p.productivity_trend
    prod_gain, prod_sd, hire, fire = p.productivity_gain, p.productivity_noise_sd, p.hire_rate, p.fire_rate
    rho, pot_sd, pot_el = p.potential_persistence, p.growth_potential_sd, p.potential_size_elasticity
    young, young_fade = p.young_growth, p.young_growth_fade
    emp_sd, threshold = p.employment_shock_sd, p.adjustment_threshold
    va_prod_el, va_inn, va_scale_el = p.va_productivity_elasticity, p.va_innovation_gain, p.va_scale_elasticity
    min_va, max_va = p.min_va_share, p.max_va_share
    moves_va = va_prod_el != 0.0 or va_inn != 0.0 or va_scale_el != 0.0
    renew = math.sqrt(1.0 - rho * rho) * pot_sd
    # The open rows only (closed ones keep their values): over a long run most rows are closed
    # firms, and every open row's numbers are those of a loop over all rows.
    rows = where(alive[:n])
    n_open = rows.shape[0]
    # Displacement needs every market's sums before any firm's sales move: one pass over the open
    # rows first. Off by default: then nothing of it runs and sales are exactly as without it.
    displacing = p.displacement > 0.0
    loss = np.zeros(0)
    if displacing:
        pushes = np.empty(n_open)
        for i in range(n_open):
            r = rows[i]
            access_r = access_per_cluster[cluster[r]] if member[r] else 0.0
            pushes[i] = _push(access_r, max(year - join_year[r], 0), fade)
        loss = _market_losses(rows, year, p, revenue, pushes, sector, region, n_sectors, member)
    # Then the open rows in blocks, one formula per loop: LLVM turns short branch-free loops into
    # SIMD code, not one long body, and not a loop that looks up by row, sector or cluster. So a
    # block's columns are gathered first into scratch arrays that stay in the first-level cache,
    # and the formulas run on those. A mechanism that is off (its parameter 0, the default) skips
    # its loops: no cost, and the numbers are exactly those without it.
    size = vm.BLOCK
    emp, pot, innovating, own_demand = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    age, tenure = np.empty(size, dtype=np.int64), np.empty(size, dtype=np.int64)
    base, access, log_emp, scale = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    rate, step, sales_factor, prod_factor = np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    renewal, u, tail_u = np.empty(size), np.empty(size), np.empty(size)
    tails = np.empty(size, dtype=np.int64)
    for start in range(0, n_open, size):
        m = min(size, n_open - start)
        block = rows[start:start + m]
        for i in range(m):  # the lookups
            r = block[i]
            emp[i], pot[i], innovating[i] = employees[r], potential[r], 1.0 if innovated[r] else 0.0
            own_demand[i] = demand[sector[r]]
            age[i], tenure[i] = max(year - birth_year[r], 0), max(year - join_year[r], 0)
            base[i] = own_demand[i] + support_growth[r]
            access[i] = access_per_cluster[cluster[r]] if member[r] else 0.0
        for i in range(m):
            base[i] += _push(access[i], tenure[i], fade)
        if young != 0.0:
            for i in range(m):
                base[i] += young * vm.exp(-young_fade * age[i])  # "up or out": the young grow faster
        for i in range(m):
            log_emp[i] = vm.log(emp[i])  # powers of size as exponentials of its logarithm
        for i in range(m):
            scale[i] = min(shock_sd * vm.exp(-shock_el * log_emp[i]) * SQRT_HALF, max_b)
        for i in range(m):
            rate[i] = unit(keys[0], block[i])
        for i in range(m):
            # Laplace shocks with mean one in levels: subtract log E[exp(X)] = -log(1 - b^2).
            b = scale[i]
            rate[i] = b * laplace_of(rate[i]) + vm.log1p(-b * b)
        for i in range(m):
            step[i] = vm.exp(-step_el * log_emp[i]) * innovating[i]
        for i in range(m):
            # potential * size^-elasticity: the firm's expected growth (sim.submodels.growth.expected_growth)
            rate[i] += base[i] + pot[i] * vm.exp(-pot_el * log_emp[i]) + demand_gain * step[i]
        if displacing:
            for i in range(m):
                r = block[i]
                if not member[r]:
                    rate[i] += loss[np.int64(region[r]) * n_sectors + sector[r]]
        for i in range(m):
            sales_factor[i] = vm.exp(rate[i])
        for i in range(m):
            u[i] = unit(keys[1], block[i])
        vm.ndtri_into(u, m, prod_factor, tails, tail_u)  # as normals_of(keys[1], n) gives them
        if moves_va:
            for i in range(m):
                # The value-added share moves with the firm's own productivity change (beyond the trend), its
                # innovation and its sales growth beyond its sector's demand (scale): intermediate inputs.
                own = prod_gain * step[i] + prod_sd * prod_factor[i]
                beyond = rate[i] - own_demand[i]
                u[i] = vm.exp(va_prod_el * own + va_inn * step[i] + va_scale_el * beyond)
            for i in range(m):
                r = block[i]
                va_share[r] = min(max(va_share[r] * u[i], min_va), max_va)
        for i in range(m):
            prod_factor[i] = vm.exp(trend + prod_gain * step[i] + prod_sd * prod_factor[i])
        for i in range(m):
            u[i] = unit(keys[2], block[i])
        vm.ndtri_into(u, m, renewal, tails, tail_u)
        for i in range(m):
            r = block[i]
            growth[r] = rate[i]
            revenue[r] = rev = revenue[r] * sales_factor[i]
            productivity[r] = prod = productivity[r] * prod_factor[i]
            gap = rev * va_share[r] / prod - emp[i]
            # Fixed costs of hiring and firing: a gap below the threshold (a share of man-years) waits.
            adjust = hire if gap > 0.0 else fire
            adjust = 0.0 if abs(gap) < threshold * emp[i] else adjust
            employees[r] = emp[i] + adjust * gap
            potential[r] = rho * pot[i] + renew * renewal[i]
        if emp_sd > 0.0:  # off by default: no draws, and man-years exactly as without the mechanism
            for i in range(m):
                u[i] = unit(keys[3], block[i])
            for i in range(m):
                # Hires and quits that do not follow sales: a Laplace shock with mean one in levels, smaller
                # for larger firms, which the gap undoes in later years (so growth rates alternate).
                b = min(emp_sd * vm.exp(-shock_el * log_emp[i]) * SQRT_HALF, max_b)
                u[i] = vm.exp(b * laplace_of(u[i]) + vm.log1p(-b * b))
            for i in range(m):
                employees[block[i]] *= u[i]


warm_up(grow)
