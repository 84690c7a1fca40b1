"""The demography kernels: exits, where start-ups open, and closing firms.

Rules: :mod:`sim.submodels.demography`.
"""

from __future__ import annotations

from typing import NamedTuple

import numba
import numpy as np
from numba import types

from sim.engine import vecmath as vm
from sim.engine.jit import BOOL, F64, I16, JIT, KEYS, bundle, sig, warm_up, where
from sim.engine.membership import leave_clusters
from sim.engine.randomness import unit


class ExitParams(NamedTuple):
    """Exits' and spin-offs' scalar parameters, named as in the scenario's ``[demography]`` unless noted."""

    exit_rate: float
    exit_size_elasticity: float
    exit_growth_sensitivity: float
    exit_age_elasticity: float
    min_employees: float  # growth.min_employees
    spinoff_rate: float
    spinoff_member_boost: float


EXIT = bundle(ExitParams)


@numba.njit(types.Tuple((types.int64[::1], F64, types.int64[::1]))(types.int64, BOOL, KEYS, types.int64, EXIT, F64,
                                                                    F64, I16, BOOL, BOOL, I16, I16, types.int64,
                                                                    types.int64), **JIT)
def exits(n, alive, keys, year, p, employees, growth, birth_year, innovated, member, region, sector, n_regions,
          n_sectors):
    """This year's exits among the first ``n`` rows, and what entry needs of the survivors, in one pass.

    Rules: :func:`sim.submodels.demography.demography`.

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (closed ones do not close again).
        keys: Hashed keys of this year's "demography.exit" and "demography.spinoff" draws.
        year: The simulated year (a firm's age is ``year - birth_year``).
        p: The scalar parameters (:class:`ExitParams`).
        employees, growth, birth_year, innovated, member, region, sector: Firm columns.
        n_regions, n_sectors: Numbers of counties and sectors.

    Returns:
        ``(closing, cells, parents)``: the rows that close (sorted); the surviving firms per
        (county, sector), ``county * n_sectors + sector``; the survivors that spin off a firm
        (innovators, members more often; sorted).
    """
    rate, size_el, growth_sens, min_employees = (p.exit_rate, p.exit_size_elasticity, p.exit_growth_sensitivity,
                                                 p.min_employees)
    age_el = p.exit_age_elasticity
    spin_rate, spin_boost = p.spinoff_rate, p.spinoff_member_boost
    # The open rows only: over a long run most rows are closed firms, which do not close again.
    # In blocks whose columns are gathered first (a loop that looks up by row does not vectorise):
    # a block's scratch arrays stay in the first-level cache.
    rows = where(alive[:n])
    n_open = rows.shape[0]
    closes = np.empty(n_open, dtype=np.bool_)
    spins = np.empty(n_open, dtype=np.bool_)
    size = vm.BLOCK
    emp, grew, age, hazard, spin_chance = np.empty(size), np.empty(size), np.empty(size), np.empty(size), np.empty(size)
    innovator = np.empty(size, dtype=np.bool_)
    cells = np.zeros(n_regions * n_sectors)
    for start in range(0, n_open, size):
        m = min(size, n_open - start)
        block = rows[start:start + m]
        for i in range(m):  # the lookups
            r = block[i]
            emp[i], grew[i], age[i] = employees[r], growth[r], max(year - birth_year[r], 0.0)
            spin_chance[i], innovator[i] = 1.0 if member[r] else 0.0, innovated[r]
        # & and | rather than "and" and "or": they take no branch, so the loops vectorise.
        for i in range(m):
            hazard[i] = rate * vm.exp(-size_el * vm.log(emp[i]) - growth_sens * grew[i])
        if age_el != 0.0:  # off by default: no cost, and the hazard exactly as without it
            for i in range(m):
                # Infant mortality: (1 + age)^-age_el, as an exponential of its logarithm like size's power.
                hazard[i] *= vm.exp(-age_el * vm.log(age[i] + 1.0))
        for i in range(m):
            closes[start + i] = (unit(keys[0], block[i]) < hazard[i]) | (emp[i] < min_employees)
        for i in range(m):
            spin_chance[i] = spin_rate * (1.0 + spin_boost * spin_chance[i])
        for i in range(m):
            spins[start + i] = ~closes[start + i] & innovator[i] & (unit(keys[1], block[i]) < spin_chance[i])
        for i in range(m):
            if not closes[start + i]:
                cells[np.int64(region[block[i]]) * n_sectors + sector[block[i]]] += 1.0
    closing, spinning = where(closes), where(spins)
    for k in range(closing.shape[0]):  # positions among the open rows to rows
        closing[k] = rows[closing[k]]
    for k in range(spinning.shape[0]):
        spinning[k] = rows[spinning[k]]
    return closing.copy(), cells, spinning.copy()


@numba.njit(sig("UniTuple({I16}, 2)({F64}, {F64}, int8[::1], {I16}, {I16}, float64, {I16}, {I16}, int64)"), **JIT)
def entry_sites(u, cells, level, cluster_region, cluster_sector, boost, parent_region, parent_sector, n_sectors):
    """Where this year's start-ups open: entrants, then spin-offs (rules: :func:`sim.submodels.demography.demography`).

    Args:
        u: One uniform per entrant.
        cells: Open firms per cell, ``county * n_sectors + sector``.
        level: Each cluster's level code this year (negative: inactive).
        cluster_region, cluster_sector: Each cluster's county and sector.
        boost: Extra entry weight of a cell with an active cluster (``cluster_entry_boost``).
        parent_region, parent_sector: The spin-offs' parents' county and sector.
        n_sectors: Number of sectors.

    Returns:
        ``(county, sector)`` of each start-up: entrants (cells drawn in proportion to their open
        firms, more where a cluster is active, as ``rng.choice(p=...)`` draws) then spin-offs.
    """
    hub = np.zeros(cells.shape[0])
    for k in range(level.shape[0]):
        if level[k] >= 0:
            hub[np.int64(cluster_region[k]) * n_sectors + cluster_sector[k]] = 1.0
    weight = np.empty(cells.shape[0])
    for c in range(cells.shape[0]):
        weight[c] = cells[c] * (1.0 + boost * hub[c])
    cdf = np.cumsum(weight / weight.sum())
    cdf /= cdf[-1]
    n_new, n_parents = u.shape[0], parent_region.shape[0]
    region = np.empty(n_new + n_parents, dtype=np.int16)
    sector = np.empty(n_new + n_parents, dtype=np.int16)
    for i in range(n_new):
        c = np.searchsorted(cdf, u[i], side="right")
        region[i], sector[i] = c // n_sectors, c % n_sectors
    region[n_new:], sector[n_new:] = parent_region, parent_sector
    return region, sector


@numba.njit(sig("void({I64}, int64, {BOOL}, {I16}, {BOOL}, {I32}, {I16}, {I32})"), **JIT)
def close_rows(rows, year, alive, death_year, member, cluster, join_year, institution):
    """Close the firms in ``rows`` in ``year``: they leave their cluster and their institution."""
    leave_clusters(rows, member, cluster, join_year)
    for r in rows:
        alive[r], death_year[r], institution[r] = False, year, -1


warm_up(exits, entry_sites, close_rows)
