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
from sim.engine.jit import BOOL, F64, I16, I32, JIT, KEYS, bundle, warm_up
from sim.engine.randomness import laplace_of, normals_of, unit

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


@numba.njit(**JIT)
def displace(n, alive, year, p, revenue, access, sector, region, n_sectors, member, join_year, rate):
    """Non-members lose the share ``displacement`` of the sales members gain from market access in their market.

    A market is a (county, sector) cell. Members' extra sales are ``revenue * (exp(push) - 1)`` with
    ``push`` their market-access growth this year; the non-members of the cell share the loss in
    proportion to their sales at the start of the year (their growth falls by ``log(1 - loss share)``,
    the share capped at ``max_displaced_share``).

    Args:
        n, alive, year, p, revenue, sector, region, n_sectors, member, join_year: As :func:`grow`.
        access: Market access per row this year before it fades with years of membership (0 for non-members).
        rate: This year's sales growth per row (log points; updated in place).
    """
    cells = (np.int64(np.max(region[:n])) + 1) * n_sectors if n > 0 else 0
    gained, held = np.zeros(cells), np.zeros(cells)
    for r in range(n):
        if alive[r]:
            c = np.int64(region[r]) * n_sectors + sector[r]
            if member[r]:
                push = access[r] * vm.exp(-p.market_access_fade * max(year - join_year[r], 0))
                gained[c] += revenue[r] * (vm.exp(push) - 1.0)
            else:
                held[c] += revenue[r]
    for c in range(cells):
        held[c] = vm.log1p(-min(p.displacement * gained[c] / held[c], p.max_displaced_share)) if held[c] > 0 else 0.0
    for r in range(n):
        if alive[r] and not member[r]:
            rate[r] += held[np.int64(region[r]) * n_sectors + sector[r]]


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
    renew = math.sqrt(1.0 - rho * rho) * pot_sd
    # One formula per loop, over every row: LLVM turns short branch-free loops into SIMD code,
    # not one long body, and not a loop that looks up by sector or cluster. Closed rows are
    # computed and thrown away in the last loop. A mechanism that is off (its parameter 0, the
    # default) skips its loops: no cost, and the numbers are exactly those without it.
    base, access = np.empty(n), np.empty(n)
    for r in range(n):
        base[r] = demand[sector[r]] + support_growth[r]
        access[r] = access_per_cluster[cluster[r]] if member[r] else 0.0
    for r in range(n):
        base[r] += access[r] * vm.exp(-fade * max(year - join_year[r], 0))
    if young != 0.0:
        for r in range(n):
            base[r] += young * vm.exp(-young_fade * max(year - birth_year[r], 0))  # "up or out": the young grow faster
    log_emp = np.empty(n)
    for r in range(n):
        log_emp[r] = vm.log(employees[r])  # powers of size as exponentials of its logarithm
    scale = np.empty(n)
    for r in range(n):
        scale[r] = min(shock_sd * vm.exp(-shock_el * log_emp[r]) * SQRT_HALF, max_b)
    rate = np.empty(n)
    for r in range(n):
        rate[r] = unit(keys[0], r)
    for r in range(n):
        # Laplace shocks with mean one in levels: subtract log E[exp(X)] = -log(1 - b^2).
        b = scale[r]
        rate[r] = b * laplace_of(rate[r]) + vm.log1p(-b * b)
    step = np.empty(n)
    for r in range(n):
        step[r] = vm.exp(-step_el * log_emp[r]) * (1.0 if innovated[r] else 0.0)
    for r in range(n):
        # potential * size^-elasticity: the firm's expected growth, as sim.submodels.growth.expected_growth states it
        rate[r] += base[r] + potential[r] * vm.exp(-pot_el * log_emp[r]) + demand_gain * step[r]
    if p.displacement > 0.0:  # off by default: then nothing here runs and sales are exactly as without it
        displace(n, alive, year, p, revenue, access, sector, region, n_sectors, member, join_year, rate)
    sales_factor = np.empty(n)
    for r in range(n):
        sales_factor[r] = vm.exp(rate[r])
    prod_factor = normals_of(keys[1], n)
    if va_prod_el != 0.0 or va_inn != 0.0 or va_scale_el != 0.0:
        for r in range(n):
            # The value-added share moves with the firm's own productivity change (beyond the trend), its
            # innovation and its sales growth beyond its sector's demand (scale): intermediate inputs.
            own = prod_gain * step[r] + prod_sd * prod_factor[r]
            beyond = rate[r] - demand[sector[r]]
            moved = va_share[r] * vm.exp(va_prod_el * own + va_inn * step[r] + va_scale_el * beyond)
            va_share[r] = min(max(moved, min_va), max_va) if alive[r] else va_share[r]
    for r in range(n):
        prod_factor[r] = vm.exp(trend + prod_gain * step[r] + prod_sd * prod_factor[r])
    renewal = normals_of(keys[2], n)
    for r in range(n):
        if not alive[r]:
            continue
        emp = employees[r]
        growth[r] = rate[r]
        revenue[r] = rev = revenue[r] * sales_factor[r]
        productivity[r] = prod = productivity[r] * prod_factor[r]
        gap = rev * va_share[r] / prod - emp
        # Fixed costs of hiring and firing: a gap below the threshold (a share of man-years) waits.
        adjust = hire if gap > 0.0 else fire
        adjust = 0.0 if abs(gap) < threshold * emp else adjust
        employees[r] = emp + adjust * gap
        potential[r] = rho * potential[r] + renew * renewal[r]
    if emp_sd > 0.0:  # off by default: no draws, and man-years exactly as without the mechanism
        hired = np.empty(n)
        for r in range(n):
            hired[r] = unit(keys[3], r)
        for r in range(n):
            # Hires and quits that do not follow sales: a Laplace shock with mean one in levels, smaller
            # for larger firms, which the gap undoes in later years (so growth rates alternate).
            b = min(emp_sd * vm.exp(-shock_el * log_emp[r]) * SQRT_HALF, max_b)
            hired[r] = vm.exp(b * laplace_of(hired[r]) + vm.log1p(-b * b))
        for r in range(n):
            employees[r] *= hired[r] if alive[r] else 1.0


warm_up(grow)
