"""Compiled loops behind the yearly phases: one pass over all open firms per phase.

The phases in :mod:`sim.submodels.phases` state the rules and gather their parameters; the per-firm
arithmetic runs here, in loops that numba compiles when the module is imported (from its
on-disk cache after the first time). A phase that is a dozen numpy expressions makes a dozen
passes over memory and pays numpy's call cost for each; at 10,000 firms those costs, not the
arithmetic, were most of a year. Every kernel reads and writes the firm columns in place, takes
scalar parameters by name, and draws each firm's random numbers from its hashed key
(:func:`sim.engine.randomness.unit`), so the numbers are those :meth:`ClusterModel.uniform` gives.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from sim.engine import vecmath as vm
from sim.engine.randomness import (
    POISSON_TERMS,
    betas_of,
    laplace_of,
    normals_of,
    poisson_count,
    poisson_head,
    poisson_tail,
    unit,
)

_JIT = {"cache": True, "nogil": True, "error_model": "numpy", "fastmath": {"nsz", "arcp", "contract", "afn"}}
_SQRT_HALF = math.sqrt(0.5)
# Explicit signatures compile (or load from the cache) at import, not in a simulated year; the
# types are those of sim.world.firms.SCHEMA.
_F, _I16, _I32, _I64, _B = "float64[::1]", "int16[::1]", "int32[::1]", "int64[::1]", "boolean[::1]"


def _sig(text: str) -> str:
    for short, full in (("F", _F), ("S", _I16), ("I", _I32), ("L", _I64), ("B", _B)):
        text = text.replace(f"{{{short}}}", full)
    return text


@numba.njit(inline="always")
def _where(flags):
    """The indices of the true entries of ``flags``, in order, found without a branch (a test that
    holds at random would be mispredicted every other time): each index is written where the next
    true one goes. Loops that test as they gather (searches, members) do the same in place."""
    out = np.empty(flags.shape[0], dtype=np.int64)
    k = 0
    for i in range(flags.shape[0]):
        out[k] = i
        k += flags[i]
    return out[:k]


@numba.njit(_sig("void(int64, {B}, uint64[::1], int64, {F}, {F}, UniTuple(float64, 14), {F}, {F}, {F}, {F}, "
                  "{F}, {B}, {S}, {B}, {I}, {S}, {F}, {F})"), **_JIT)
def grow(n, alive, keys, year, demand, access_per_cluster, p, employees, revenue, productivity, va_share,
         potential, innovated, sector, member, cluster, join_year, support_growth, growth):
    """The growth phase for the open firms among the first ``n`` rows (rules: :func:`sim.submodels.phases.growth`).

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (only those change).
        keys: Hashed keys of this year's "growth.shock", "growth.productivity" and
            "growth.potential" draws.
        year: The simulated year.
        demand: Demand growth per sector (log points).
        access_per_cluster: Market access per cluster (log points, funding applied).
        p: ``(market_access_fade, shock_sd, shock_size_elasticity, max_laplace_scale,
            innovation size_elasticity, demand_gain, productivity_trend, productivity_gain,
            productivity_noise_sd, hire_rate, fire_rate, potential_persistence, growth_potential_sd,
            potential_size_elasticity)``.
        employees, revenue, productivity, va_share, potential, innovated, sector, member, cluster,
        join_year, support_growth, growth: Firm columns (updated in place).
    """
    (fade, shock_sd, shock_el, max_b, step_el, demand_gain, trend, prod_gain, prod_sd, hire, fire,
     rho, pot_sd, pot_el) = p
    renew = math.sqrt(1.0 - rho * rho) * pot_sd
    # One formula per loop, over every row: LLVM turns short branch-free loops into SIMD code,
    # not one long body, and not a loop that looks up by sector or cluster. Closed rows are
    # computed and thrown away in the last loop.
    base, access = np.empty(n), np.empty(n)
    for r in range(n):
        base[r] = demand[sector[r]] + support_growth[r]
        access[r] = access_per_cluster[cluster[r]] if member[r] else 0.0
    for r in range(n):
        base[r] += access[r] * vm.exp(-fade * max(year - join_year[r], 0))
    log_emp = np.empty(n)
    for r in range(n):
        log_emp[r] = vm.log(employees[r])  # powers of size as exponentials of its logarithm
    scale = np.empty(n)
    for r in range(n):
        scale[r] = min(shock_sd * vm.exp(-shock_el * log_emp[r]) * _SQRT_HALF, max_b)
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
        # potential * size^-elasticity: the firm's expected growth, as phases.expected_growth states it
        rate[r] += base[r] + potential[r] * vm.exp(-pot_el * log_emp[r]) + demand_gain * step[r]
    sales_factor = np.empty(n)
    for r in range(n):
        sales_factor[r] = vm.exp(rate[r])
    prod_factor = normals_of(keys[1], n)
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
        employees[r] = emp + (hire if gap > 0.0 else fire) * gap
        potential[r] = rho * potential[r] + renew * renewal[r]


@numba.njit(_sig("void(int64, {B}, uint64[::1], {I}, {I}, {F}, UniTuple(float64, 7), {F}, {F}, {F}, {F}, "
                  "{I}, {F}, {B}, {I}, {B})"), **_JIT)
def innovate(n, alive, keys, tie_a, tie_b, advisory_per_cluster, p, kx, ky, rd_effort, absorptive,
             institution, support_innovation, member, cluster, innovated):
    """The innovation phase for the open firms among the first ``n`` rows (rules:
    :func:`sim.submodels.phases.innovation`).

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (only those change).
        keys: Hashed keys of this year's "innovation.success", "innovation.drift_x" and
            "innovation.drift_y" draws.
        tie_a, tie_b: The collaboration ties.
        advisory_per_cluster: Innovation hazard from cluster advice (funding applied).
        p: ``(optimal_distance, base_rate, rd_weight, spillover_weight, institution_weight,
            convergence_rate, drift_sd)``.
        kx, ky, rd_effort, absorptive, institution, support_innovation, member, cluster,
        innovated: Firm columns (``kx``, ``ky`` and ``innovated`` updated in place).
    """
    optimal, base_rate, rd_w, spill_w, inst_w, convergence, drift_sd = p
    success_key, drift_x_key, drift_y_key = keys[0], keys[1], keys[2]
    m = tie_a.shape[0]
    dx = np.empty(m)
    dy = np.empty(m)
    for t in range(m):
        dx[t] = kx[tie_b[t]] - kx[tie_a[t]]
        dy[t] = ky[tie_b[t]] - ky[tie_a[t]]
    novelty = np.empty(m)
    for t in range(m):  # vectorised: no lookups
        d = math.sqrt(dx[t] * dx[t] + dy[t] * dy[t]) / optimal
        novelty[t] = d * vm.exp(1.0 - d)  # peaks at the optimal cognitive distance
    # hazard holds each firm's knowledge learned over ties, then its innovation hazard, then the
    # chance that it innovates.
    hazard = np.zeros(n)
    pull_x = np.zeros(n)
    pull_y = np.zeros(n)
    degree = np.zeros(n)
    for t in range(m):
        a, b = tie_a[t], tie_b[t]
        hazard[a] += novelty[t]
        hazard[b] += novelty[t]
        pull_x[a] += dx[t]
        pull_x[b] -= dx[t]
        pull_y[a] += dy[t]
        pull_y[b] -= dy[t]
        degree[a] += 1.0
        degree[b] += 1.0
    advice = np.empty(n)
    for r in range(n):  # the lookup apart, so that the next loop vectorises
        advice[r] = advisory_per_cluster[cluster[r]] if member[r] else 0.0
    for r in range(n):
        hazard[r] = (base_rate + rd_w * rd_effort[r] + spill_w * absorptive[r] * hazard[r]
                     + (inst_w if institution[r] >= 0 else 0.0) + support_innovation[r] + advice[r])
    for r in range(n):
        hazard[r] = 1.0 - vm.exp(-hazard[r])
    drift_x, drift_y = normals_of(drift_x_key, n), normals_of(drift_y_key, n)
    for r in range(n):
        deg = max(degree[r], 1.0)
        pull_x[r] = min(max(kx[r] + convergence * pull_x[r] / deg + drift_sd * drift_x[r], 0.0), 1.0)
        pull_y[r] = min(max(ky[r] + convergence * pull_y[r] / deg + drift_sd * drift_y[r], 0.0), 1.0)
    for r in range(n):
        innovated[r] = alive[r] & (unit(success_key, r) < hazard[r])
        kx[r] = pull_x[r] if alive[r] else kx[r]
        ky[r] = pull_y[r] if alive[r] else ky[r]


@numba.njit(_sig("Tuple((int64[::1], float64[::1], int64[::1]))(int64, {B}, uint64[::1], UniTuple(float64, 6), {F}, "
                 "{F}, {B}, {B}, {S}, {S}, int64, int64)"), **_JIT)
def exits(n, alive, keys, p, employees, growth, innovated, member, region, sector, n_regions, n_sectors):
    """This year's exits among the first ``n`` rows, and what entry needs of the survivors
    (rules: :func:`sim.submodels.phases.demography`), in one pass.

    Args:
        n: Rows in use.
        alive: Firm column: which rows are open (closed ones do not close again).
        keys: Hashed keys of this year's "demography.exit" and "demography.spinoff" draws.
        p: ``(exit_rate, exit_size_elasticity, exit_growth_sensitivity, min_employees,
            spinoff_rate, spinoff_member_boost)``.
        employees, growth, innovated, member, region, sector: Firm columns.
        n_regions, n_sectors: Numbers of counties and sectors.

    Returns:
        ``(closing, cells, parents)``: the rows that close (sorted); the surviving firms per
        (county, sector), ``county * n_sectors + sector``; the survivors that spin off a firm
        (innovators, members more often; sorted).
    """
    rate, size_el, growth_sens, min_employees, spin_rate, spin_boost = p
    closes = np.empty(n, dtype=np.bool_)
    spins = np.empty(n, dtype=np.bool_)
    # & and | rather than "and" and "or": they take no branch, so the loops vectorise.
    for r in range(n):  # vectorised: no lookups
        emp = employees[r]
        hazard = rate * vm.exp(-size_el * vm.log(emp) - growth_sens * growth[r])
        closes[r] = alive[r] & ((unit(keys[0], r) < hazard) | (emp < min_employees))
    for r in range(n):
        p_spin = spin_rate * (1.0 + spin_boost * (1.0 if member[r] else 0.0))
        spins[r] = alive[r] & ~closes[r] & innovated[r] & (unit(keys[1], r) < p_spin)
    cells = np.zeros(n_regions * n_sectors)
    for r in range(n):
        if alive[r] and not closes[r]:
            cells[np.int64(region[r]) * n_sectors + sector[r]] += 1.0
    return _where(closes).copy(), cells, _where(spins).copy()


@numba.njit(inline="always")
def _by_group(pool, group_of, n_groups):
    """``pool`` ordered by group (pool order kept within a group) and where each group starts."""
    m = pool.shape[0]
    group = np.empty(m, dtype=np.int64)
    for i in range(m):
        group[i] = group_of[pool[i]]
    # Four tallies in turn: consecutive increments of one counter would wait on each other.
    tallies = np.zeros((4, n_groups), dtype=np.int64)
    for i in range(m):
        tallies[i & 3, group[i]] += 1
    start = np.zeros(n_groups + 1, dtype=np.int64)
    for g in range(n_groups):
        start[g + 1] = start[g] + tallies[0, g] + tallies[1, g] + tallies[2, g] + tallies[3, g]
    fill = start[:-1].copy()
    ordered = np.empty(m, dtype=np.int64)
    for i in range(m):  # a stable counting sort
        ordered[fill[group[i]]] = pool[i]
        fill[group[i]] += 1
    return ordered, start


@numba.njit(inline="always")
def _pick(ordered, start, g, u):
    """The member of group ``g`` at position ``floor(u * size)``, or -1 if the group is empty."""
    first, count = start[g], start[g + 1] - start[g]  # start[g] read once: twice was 60 % slower
    return ordered[first + min(int(u * count), count - 1)] if count > 0 else -1


@numba.njit(_sig("int64[::1]({L}, {L}, int64, {L}, {F})"), **_JIT)
def pick_in_group(pool, pool_group, n_groups, want, u):
    """For each wanted group, the member of ``pool`` at position ``floor(u * count)`` of that
    group (pool order kept within a group), or -1 if the group is empty.

    Args:
        pool: Firm rows.
        pool_group: Group (0..n_groups-1) of each pool entry.
        n_groups: Number of groups.
        want: The group wanted by each draw.
        u: One uniform per draw.

    Returns:
        ``int64`` firm rows, one per draw.
    """
    ordered, start = _by_group(np.arange(pool.shape[0]), pool_group, n_groups)
    out = np.empty(want.shape[0], dtype=np.int64)
    for j in range(want.shape[0]):
        at = _pick(ordered, start, want[j], u[j])
        out[j] = pool[at] if at >= 0 else -1
    return out


@numba.njit(inline="always")
def _propose(alive, searches, region, n_regions, local_share, members, brokered, cluster, n_clusters, keys):
    """Who proposes to whom in each search; ``keys`` are those of the draws "collaboration.where",
    "collaboration.local" and "collaboration.anyone", one uniform each per search."""
    own = searches.sum()
    total = own + brokered.sum()
    src = np.empty(total + 1, dtype=np.int64)
    dst = np.empty(total, dtype=np.int64)
    # Search j's firm without a branch on the counts (most are 0 or 1, at random): each firm
    # writes its row where its searches begin, overwritten by the next firm if it has none;
    # then the few with several fill in the rest.
    first = np.empty(alive.shape[0], dtype=np.int64)
    several = np.empty(alive.shape[0], dtype=np.int64)
    j = 0
    for i in range(alive.shape[0]):
        src[j] = alive[i]
        first[i] = j
        j += searches[i]
    k = 0
    for i in range(alive.shape[0]):
        several[k] = i
        k += searches[i] > 1
    for s in range(k):
        for t in range(1, searches[several[s]]):
            src[first[several[s]] + t] = alive[several[s]]
    ordered, start = _by_group(alive, region, n_regions)
    n_open = alive.shape[0]
    for j in range(own):  # both partners are drawn and one kept: cheaper than a branch taken at random
        local = _pick(ordered, start, region[src[j]], unit(keys[1], j))
        anyone = alive[min(int(unit(keys[2], j) * n_open), n_open - 1)]
        dst[j] = local if unit(keys[0], j) < local_share else anyone
    j = own
    ordered, start = _by_group(members, cluster, n_clusters)
    for i in range(members.shape[0]):
        for _ in range(brokered[i]):
            src[j] = members[i]
            dst[j] = _pick(ordered, start, cluster[members[i]], unit(keys[1], j))
            j += 1
    return src[:total], dst


@numba.njit(_sig("boolean[::1]({L}, {L}, {F}, {S}, {F}, {F}, float64[:, ::1], float64, float64)"), **_JIT)
def accepted(src, dst, u, region, kx, ky, distance_km, geo_scale_km, cognitive_scale):
    """Which proposed ties form: each with probability ``exp(-km / geo - cognitive / scale)``.

    Args:
        src, dst: Proposing firm and proposed partner (-1: no partner found).
        u: One uniform per proposal.
        region, kx, ky: Firm columns.
        distance_km: County-to-county distances.
        geo_scale_km, cognitive_scale: Distance scales of acceptance.

    Returns:
        A boolean per proposal.
    """
    k = src.shape[0]
    exponent = np.empty(k)
    for i in range(k):  # lookups apart: a loop with them does not vectorise
        a, b = src[i], max(dst[i], 0)
        cog = math.sqrt((kx[a] - kx[b]) ** 2 + (ky[a] - ky[b]) ** 2)
        exponent[i] = -distance_km[region[a], region[b]] / geo_scale_km - cog / cognitive_scale
    out = np.empty(k, dtype=np.bool_)
    for i in range(k):
        out[i] = (dst[i] >= 0) & (u[i] < vm.exp(exponent[i]))
    return out


@numba.njit(_sig("{L}({L}, uint64, float64, {F})"), **_JIT)
def searches(rows, key, base, extra):
    """Each firm's Poisson number of partner searches, with mean ``base + extra[row]``.

    Args:
        rows: Firm rows (the open firms).
        key: Hashed key of this year's "collaboration.attempts" draws.
        base: Searches per firm and year (``tie_attempts``).
        extra: Firm column: extra searches from the instruments.

    Returns:
        ``int64`` counts, one per row.
    """
    out = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):  # one mean for most firms: its terms are worked out once, outside the loop
        out[i] = poisson_head(unit(key, rows[i]), base)
    more = np.empty(rows.shape[0], dtype=np.int64)  # firms with extra searches (in a restructuring area)
    k = 0
    for i in range(rows.shape[0]):
        more[k] = i
        k += extra[rows[i]] != 0.0
    for j in range(k):
        i = more[j]
        out[i] = poisson_head(unit(key, rows[i]), base + extra[rows[i]])
    for i in range(rows.shape[0]):  # the rare long counts
        if out[i] == POISSON_TERMS:
            out[i] = poisson_tail(unit(key, rows[i]), base + extra[rows[i]])
    return out


@numba.njit(_sig("{L}({L}, uint64, {F}, {I})"), **_JIT)
def brokered(rows, key, per_cluster, cluster):
    """Each member's Poisson number of brokered searches, with its cluster's mean."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        r = rows[i]
        out[i] = poisson_count(unit(key, r), per_cluster[cluster[r]])
    return out


@numba.njit(_sig("void({L}, uint64[::1], UniTuple(float64, 3), {F}, {B}, {S}, {S}, int32[:, :, ::1], "
                 "int64[:, ::1], {I})"), **_JIT)
def institution_ties(rows, keys, p, rd_effort, member, region, sector, options, counts, institution):
    """Institution ties lapse; firms without one seek one in proportion to their R&D effort.

    Args:
        rows: Open firms.
        keys: Hashed keys of this year's "institutions.lapse", "institutions.seek" and
            "institutions.pick" draws.
        p: ``(institution_decay_rate, institution_tie_rate, member boost)``.
        rd_effort, member, region, sector: Firm columns.
        options, counts: The institutions open to a firm in each (county, sector).
        institution: Firm column (updated in place).
    """
    decay, tie_rate, boost = p
    for i in range(rows.shape[0]):
        r = rows[i]
        if institution[r] >= 0 and unit(keys[0], r) < decay:
            institution[r] = -1
        if institution[r] >= 0:
            continue
        rate = tie_rate * rd_effort[r] * ((1.0 + boost) if member[r] else 1.0)
        if unit(keys[1], r) < rate:
            k = counts[region[r], sector[r]]
            institution[r] = options[region[r], sector[r], min(int(unit(keys[2], r) * k), max(k - 1, 0))]


@numba.njit(_sig("{L}({L}, {L})"), **_JIT)
def tie_keys(src, dst):
    """The key ``lo << 32 | hi`` of each tie ``src``-``dst`` (``lo < hi``), self-ties dropped."""
    out = np.empty(src.shape[0], dtype=np.int64)
    k = 0
    for i in range(src.shape[0]):
        lo, hi = min(src[i], dst[i]), max(src[i], dst[i])
        out[k] = (lo << 32) | hi
        k += lo != hi
    return out[:k]


@numba.njit(_sig("Tuple(({L}, {I}, {I}))({L}, {L})"), **_JIT)
def merge_keys(known, new):
    """The sorted union of sorted unique tie keys ``known`` and sorted keys ``new`` (duplicates
    dropped), with the two ends of each tie."""
    out = np.empty(known.shape[0] + new.shape[0], dtype=np.int64)
    i = j = n = 0
    while i < known.shape[0] or j < new.shape[0]:
        if j == new.shape[0] or (i < known.shape[0] and known[i] <= new[j]):
            v = known[i]
            i += 1
        else:
            v = new[j]
            j += 1
        if n == 0 or out[n - 1] != v:
            out[n] = v
            n += 1
    a, b = np.empty(n, dtype=np.int32), np.empty(n, dtype=np.int32)
    for t in range(n):
        a[t], b[t] = out[t] >> 32, out[t] & 0xFFFFFFFF
    return out[:n].copy(), a, b


@numba.njit(_sig("{L}({L}, uint64[::1], UniTuple(float64, 4), {F}, {F}, {B}, {S}, int64, {I}, int64, {F}, {F}, "
                 "float64[:, ::1])"), **_JIT)
def partner_ties(rows, keys, p, extra, facilitation, member, region, n_regions, cluster, n_clusters, kx, ky,
                 distance_km):
    """This year's new ties from partner searches (rules: :func:`sim.submodels.phases.collaboration`).

    Each open firm searches a Poisson number of times (mean ``tie_attempts`` plus its
    ``extra``): in its own county with probability ``local_share``, else anywhere; each member
    also searches its cluster's members a Poisson number of times (its cluster's
    ``facilitation``). A proposal becomes a tie with probability
    ``exp(-km / geo_scale_km - cognitive distance / cognitive_scale)``.

    Args:
        rows: The open firms (sorted).
        keys: Hashed keys of this year's "collaboration.attempts", "collaboration.brokered",
            "collaboration.where", "collaboration.local", "collaboration.anyone" and
            "collaboration.accept" draws (searches are numbered in the order firms make them).
        p: ``(tie_attempts, local_share, geo_scale_km, cognitive_scale)``.
        extra: Firm column: extra searches from the instruments.
        facilitation: Brokered searches per member for each cluster (funding applied).
        member, region, cluster, kx, ky: Firm columns.
        n_regions, n_clusters: Numbers of counties and clusters (at least one).
        distance_km: County-to-county distances.

    Returns:
        The tie keys (:func:`tie_keys`) of the accepted proposals, unsorted, self-ties dropped.
    """
    base, local_share, geo_scale_km, cognitive_scale = p
    per_firm = searches(rows, keys[0], base, extra)
    members = np.empty(rows.shape[0], dtype=np.int64)
    k = 0
    for i in range(rows.shape[0]):
        members[k] = rows[i]
        k += member[rows[i]]
    members = members[:k]
    src, dst = _propose(rows, per_firm, region, n_regions, local_share, members,
                        brokered(members, keys[1], facilitation, cluster), cluster, n_clusters, keys[2:5])
    u = np.empty(src.shape[0])
    for j in range(src.shape[0]):
        u[j] = unit(keys[5], j)
    ok = accepted(src, dst, u, region, kx, ky, distance_km, geo_scale_km, cognitive_scale)
    return tie_keys(src[ok], dst[ok])


@numba.njit(_sig("UniTuple(float64, 7)({L}, {F}, {F}, {F}, {B}, {B}, {I}, {I}, {L})"), **_JIT)
def tally(rows, employees, revenue, va_share, member, innovated, institution, cluster, members_per_cluster):
    """The register's sums over open firms.

    Args:
        rows: Open firms.
        employees, revenue, va_share, member, innovated, institution, cluster: Firm columns.
        members_per_cluster: Filled with each cluster's number of members.

    Returns:
        ``(members, employment, revenue, value added, innovators, member employment,
        firms with an institution tie)``.
    """
    members_per_cluster[:] = 0
    members = emp = rev = va = innovators = member_emp = with_institution = 0.0
    for i in range(rows.shape[0]):
        r = rows[i]
        emp += employees[r]
        rev += revenue[r]
        va += revenue[r] * va_share[r]
        if member[r]:
            members += 1.0
            member_emp += employees[r]
            members_per_cluster[cluster[r]] += 1
        if innovated[r]:
            innovators += 1.0
        if institution[r] >= 0:
            with_institution += 1.0
    return members, emp, rev, va, innovators, member_emp, with_institution


@numba.njit(_sig("Tuple((float64[::1], float64[::1], float64[::1]))({L}, {F}, {F}, {L}, {F}, {F}, {F}, {B})"),
            **_JIT)
def member_growth(before_rows, before_employees, before_va, rows, employees, revenue, va_share, member):
    """Mean yearly growth of members and non-members open in both years.

    Args:
        before_rows: Last year's open firms (sorted), with their employees and value added.
        before_employees, before_va: Their values then.
        rows: This year's open firms (sorted).
        employees, revenue, va_share, member: Firm columns (this year's values and membership).

    Returns:
        ``(growth, employees now, value added now)``: ``[members' employment, members' value
        added, non-members' employment, non-members' value added]`` growth as fractions (NaN
        where no firm counts), and the values of ``rows`` to compare next year's with.
    """
    now_employees = np.empty(rows.shape[0])
    now_va = np.empty(rows.shape[0])
    for i in range(rows.shape[0]):
        now_employees[i] = employees[rows[i]]
        now_va[i] = revenue[rows[i]] * va_share[rows[i]]
    size = max(rows[-1] + 1 if rows.shape[0] else 0, before_rows[-1] + 1 if before_rows.shape[0] else 0)
    position = np.full(size, -1, dtype=np.int64)  # each row's place in before_rows (-1: not open then)
    for j in range(before_rows.shape[0]):
        position[before_rows[j]] = j
    sums = np.zeros(4)
    counts = np.zeros(4)
    for i in range(rows.shape[0]):
        r = rows[i]
        j = position[r]
        if j < 0:
            continue
        side = 0 if member[r] else 2
        if before_employees[j] > 0.0:
            sums[side] += now_employees[i] / before_employees[j] - 1.0
            counts[side] += 1.0
        if before_va[j] > 0.0:
            sums[side + 1] += now_va[i] / before_va[j] - 1.0
            counts[side + 1] += 1.0
    out = np.full(4, np.nan)
    for k in range(4):
        if counts[k] > 0.0:
            out[k] = sums[k] / counts[k]
    return out, now_employees, now_va


@numba.njit(_sig("{B}({L}, {I}, {I}, uint64, {B}, {I}, float64, float64)"), **_JIT)
def ties_kept(tie_keys, tie_a, tie_b, key, member, cluster, decay, retention):
    """Which ties survive the year: each lapses with ``decay``, less between members of one cluster.

    Args:
        tie_keys, tie_a, tie_b: The ties (:class:`sim.world.network.TieSet`).
        key: Hashed key of this year's "collaboration.lapse" draw; a tie's uniform is keyed by
            its tie key, so it is the same whatever other ties exist.
        member, cluster: Firm columns.
        decay: Yearly lapse rate.
        retention: Share of the lapse rate that shared membership prevents.

    Returns:
        A boolean per tie.
    """
    out = np.empty(tie_a.shape[0], dtype=np.bool_)
    for t in range(tie_a.shape[0]):
        a, b = tie_a[t], tie_b[t]
        shared = member[a] and cluster[a] == cluster[b]
        out[t] = unit(key, tie_keys[t]) >= decay * ((1.0 - retention) if shared else 1.0)
    return out


@numba.njit(_sig("Tuple(({L}, {I}, {I}))({L}, {I}, {I}, {B})"), **_JIT)
def keep_ties(keys, tie_a, tie_b, mask):
    """The ties where ``mask`` is true, in order: their keys and both ends."""
    if mask.shape[0] != keys.shape[0]:
        raise ValueError("keep_ties: one mask entry per tie")
    kept = _where(mask)
    return keys[kept], tie_a[kept], tie_b[kept]


@numba.njit(_sig("{B}({I}, {I}, {B})"), **_JIT)
def ties_between_open(tie_a, tie_b, alive):
    """Which ties join two open firms."""
    out = np.empty(tie_a.shape[0], dtype=np.bool_)
    for t in range(tie_a.shape[0]):
        out[t] = alive[tie_a[t]] & alive[tie_b[t]]
    return out



@numba.njit(_sig("{L}(float64[:, ::1], {L}, {F})"), **_JIT)
def category_by_row(cdf, row, u):
    """For each draw, the first category whose cumulative share in its ``row`` of ``cdf``
    exceeds ``u`` (inverse transform sampling, one distribution per row)."""
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


@numba.njit(_sig("{F}({F}, int64, int64, float64, float64)"), cache=True, nogil=True)
def class_employees(q, lo, hi, alpha, cap):  # no fastmath: the C library's exp and pow, as numpy's
    """Map uniform quantiles to whole employee numbers in a size class (inverse CDF); rules:
    :meth:`sim.world.population.SizeClass.employees` (``hi`` negative for the open top class)."""
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


@numba.njit("float64(float64, float64[::1], float64[::1])", **_JIT)
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
    """``rng.standard_normal((rows, n))``, drawn three times as fast as numpy draws them; handing
    numba the generator costs about 8 us a call, so it pays for large batches only."""
    return rng.standard_normal((rows, n))


@numba.njit(_sig("UniTuple(float64[::1], 3)(uint64, {F}, {F}, {B}, {F}, UniTuple(float64, 5))"), **_JIT)
def firm_efforts(key, rd_mean, p_export, exporter, log_size, p):
    """New firms' R&D effort, international orientation and absorptive capacity (rules:
    :func:`sim.world.population._attributes`).

    Args:
        key: The Beta draws' key (:func:`sim.engine.randomness.beta`).
        rd_mean, p_export, exporter, log_size: Each firm's mean R&D effort, export probability,
            whether it exports, and log man-years.
        p: ``(beta_concentration, population mean log size, absorptive_size_weight,
            absorptive_rd_weight, rd_effort_mean)``.

    Returns:
        ``(rd_effort, intl, absorptive)``: Beta around each firm's mean R&D effort and, for
        exporters, around its export probability (means of exactly 0 or 1 give 0 or 1; 0 for
        non-exporters' orientation).
    """
    concentration, ref_log_size, size_w, rd_w, rd_mean_all = p
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


@numba.njit(_sig("UniTuple({F}, 9)(float64[:, ::1], {F}, uint64, {F}, {L}, float64[:, ::1], UniTuple(float64, 13), "
                 "UniTuple(float64, 4))"), **_JIT)
def firm_traits(z, u, key, employees, sector, table, p, q):
    """The attributes of new firms (rules: :func:`sim.world.population._attributes`).

    Args:
        z: Standard normals, shape ``(4, n)``: productivity, potential, knowledge x and y.
        u: One uniform per firm: whether it exports.
        key: The Beta draws' key (:func:`firm_efforts`).
        employees: Man-years per firm.
        sector: Sector per firm.
        table: Per sector: value added per man-year, value added share, knowledge x and y.
        p: ``(productivity index, productivity_sd, growth_potential_sd, knowledge_sd,
            R&D tilted (1 or 0), rd_effort_mean, R&D intercept, rd_size_elasticity,
            rd_science_weight, exports tilted (1 or 0), international_share, export intercept,
            export_size_elasticity)``.
        q: ``(beta_concentration, population mean log size, absorptive_size_weight,
            absorptive_rd_weight)``.

    Returns:
        ``(productivity, value added share, revenue, potential, kx, ky, rd_effort, intl,
        absorptive)``.
    """
    (index, prod_sd, pot_sd, know_sd, rd_tilted, rd_mean_all, rd_c, rd_size, rd_sci, ex_tilted, ex_all, ex_c,
     ex_size) = p
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
    rd_effort, intl, absorptive = firm_efforts(key, rd_mean, p_export, exporter, log_size, (*q, rd_mean_all))
    return productivity, va_share, revenue, potential, kx, ky, rd_effort, intl, absorptive


@numba.njit(_sig("UniTuple({S}, 2)({F}, {F}, int8[::1], {S}, {S}, float64, {S}, {S}, int64)"), **_JIT)
def entry_sites(u, cells, level, cluster_region, cluster_sector, boost, parent_region, parent_sector, n_sectors):
    """Where this year's start-ups open: entrants, then spin-offs (rules: :func:`sim.submodels.phases.demography`).

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


@numba.njit(_sig("void({L}, {B}, {I}, {S})"), **_JIT)
def leave_clusters(rows, member, cluster, join_year):
    """The firms in ``rows`` leave their cluster."""
    for r in rows:
        member[r], cluster[r], join_year[r] = False, -1, -1


@numba.njit(_sig("void({L}, int64, {B}, {S}, {B}, {I}, {S}, {I})"), **_JIT)
def close_rows(rows, year, alive, death_year, member, cluster, join_year, institution):
    """Close the firms in ``rows`` in ``year``: they leave their cluster and their institution."""
    leave_clusters(rows, member, cluster, join_year)
    for r in rows:
        alive[r], death_year[r], institution[r] = False, year, -1


vm.warm_up(grow, innovate, exits, pick_in_group, accepted, partner_ties, institution_ties, tie_keys, merge_keys,
           tally, member_growth, ties_kept, ties_between_open, category_by_row, firm_traits, firm_efforts,
           entry_sites, leave_clusters, close_rows, numpy_normals, keep_ties, class_employees, solve_intercept)
