"""The collaboration kernels: partner searches, acceptance, lapses and institution ties.

Rules: :mod:`sim.submodels.collaboration`.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numba
import numpy as np
from numba import types

from sim.engine import vecmath as vm
from sim.engine.jit import BOOL, F2, F64, I16, I32, I64, JIT, KEYS, bundle, by_group, pick, sig, warm_up
from sim.engine.network import tie_keys
from sim.engine.randomness import POISSON_TERMS, poisson_count, poisson_head, poisson_tail, unit


class SearchParams(NamedTuple):
    """Partner searches' scalar parameters, named as in the scenario's ``[network]``."""

    tie_attempts: float
    local_share: float
    geo_scale_km: float
    cognitive_scale: float


class InstitutionParams(NamedTuple):
    """Institution ties' scalar parameters, named as in the scenario's ``[network]``."""

    institution_decay_rate: float
    institution_tie_rate: float
    member_institution_boost: float  # with this year's funding applied


SEARCH, INSTITUTION = bundle(SearchParams), bundle(InstitutionParams)


@numba.njit(sig("int64[::1]({I64}, {I64}, int64, {I64}, {F64})"), **JIT)
def pick_in_group(pool, pool_group, n_groups, want, u):
    """For each wanted group, the member of ``pool`` at position ``floor(u * count)`` of that group.

    Pool order is kept within a group; an empty group gives -1.

    Args:
        pool: Firm rows.
        pool_group: Group (0..n_groups-1) of each pool entry.
        n_groups: Number of groups.
        want: The group wanted by each draw.
        u: One uniform per draw.

    Returns:
        ``int64`` firm rows, one per draw.
    """
    ordered, start = by_group(np.arange(pool.shape[0]), pool_group, n_groups)
    out = np.empty(want.shape[0], dtype=np.int64)
    for j in range(want.shape[0]):
        at = pick(ordered, start, want[j], u[j])
        out[j] = pool[at] if at >= 0 else -1
    return out


@numba.njit(inline="always")
def _propose(alive, searches, region, n_regions, local_share, members, brokered, cluster, n_clusters, keys):
    """Who proposes to whom in each search.

    ``keys`` are those of the draws "collaboration.where", "collaboration.local" and
    "collaboration.anyone", one uniform each per search.
    """
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
    ordered, start = by_group(alive, region, n_regions)
    n_open = alive.shape[0]
    for j in range(own):  # both partners are drawn and one kept: cheaper than a branch taken at random
        local = pick(ordered, start, region[src[j]], unit(keys[1], j))
        anyone = alive[min(int(unit(keys[2], j) * n_open), n_open - 1)]
        dst[j] = local if unit(keys[0], j) < local_share else anyone
    j = own
    ordered, start = by_group(members, cluster, n_clusters)
    for i in range(members.shape[0]):
        for _ in range(brokered[i]):
            src[j] = members[i]
            dst[j] = pick(ordered, start, cluster[members[i]], unit(keys[1], j))
            j += 1
    return src[:total], dst


@numba.njit(sig("boolean[::1]({I64}, {I64}, {F64}, {I16}, {F64}, {F64}, float64[:, ::1], float64, float64)"), **JIT)
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


@numba.njit(sig("{I64}({I64}, uint64, float64, {F64})"), **JIT)
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


@numba.njit(sig("{I64}({I64}, uint64, {F64}, {I32})"), **JIT)
def brokered(rows, key, per_cluster, cluster):
    """Each member's Poisson number of brokered searches, with its cluster's mean."""
    out = np.empty(rows.shape[0], dtype=np.int64)
    for i in range(rows.shape[0]):
        r = rows[i]
        out[i] = poisson_count(unit(key, r), per_cluster[cluster[r]])
    return out


@numba.njit(I64(I64, KEYS, SEARCH, F64, F64, BOOL, I16, types.int64, I32, types.int64, F64, F64, F2), **JIT)
def partner_ties(rows, keys, p, extra, facilitation, member, region, n_regions, cluster, n_clusters, kx, ky,
                 distance_km):
    """This year's new ties from partner searches (rules: :func:`sim.submodels.collaboration.collaboration`).

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
        p: The scalar parameters (:class:`SearchParams`).
        extra: Firm column: extra searches from the instruments.
        facilitation: Brokered searches per member for each cluster (funding applied).
        member, region, cluster, kx, ky: Firm columns.
        n_regions, n_clusters: Numbers of counties and clusters (at least one).
        distance_km: County-to-county distances.

    Returns:
        The tie keys (:func:`tie_keys`) of the accepted proposals, unsorted, self-ties dropped.
    """
    base, local_share, geo_scale_km, cognitive_scale = p.tie_attempts, p.local_share, p.geo_scale_km, p.cognitive_scale
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


@numba.njit(sig("{BOOL}({I64}, {I32}, {I32}, uint64, {BOOL}, {I32}, float64, float64)"), **JIT)
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


@numba.njit(types.void(I64, KEYS, INSTITUTION, F64, BOOL, I16, I16, types.int32[:, :, ::1], types.int64[:, ::1], I32),
            **JIT)
def institution_ties(rows, keys, p, rd_effort, member, region, sector, options, counts, institution):
    """Institution ties lapse; firms without one seek one in proportion to their R&D effort.

    Args:
        rows: Open firms.
        keys: Hashed keys of this year's "institutions.lapse", "institutions.seek" and
            "institutions.pick" draws.
        p: The scalar parameters (:class:`InstitutionParams`).
        rd_effort, member, region, sector: Firm columns.
        options, counts: The institutions open to a firm in each (county, sector).
        institution: Firm column (updated in place).
    """
    decay, tie_rate, boost = p.institution_decay_rate, p.institution_tie_rate, p.member_institution_boost
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


warm_up(pick_in_group, accepted, searches, brokered, partner_ties, ties_kept, institution_ties)
