"""Membership, the third phase of a year: members may leave, clusters recruit.

Kernels: :func:`sim.engine.membership.leave_clusters` (through :meth:`sim.world.firms.FirmTable.leave`) and
:func:`sim.engine.membership.recruits`.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform(...)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the same draw in
year ``t`` whatever else differs between two runs with the same seed (a twin world, a policy
change). The per-agent reference (:mod:`sim.reference`) states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import membership as kernels
from sim.engine import randomness as rnd
from sim.submodels.growth import expected_growth

if TYPE_CHECKING:
    from sim.model import ClusterModel

# membership.distance_weight is stated per 100 km.
KM_PER_DISTANCE_UNIT = 100.0


def membership(m: ClusterModel) -> None:
    """Members may leave; each active cluster recruits its best-suited candidates.

    Joining is a discrete choice: a firm's utility weighs the expected benefit of the level's
    services, its growth potential, size and R&D effort against hours and cash fees relative to
    its value added and its distance to the cluster's hub. Among candidates with positive utility,
    the cluster organisation admits as many as its recruitment capacity and size allow.
    """
    p, f, c = m.spec.membership, m.firms, m.clusters
    rows = np.flatnonzero(f.member[: f.n])
    leaving = rows[m.uniform("membership.leave", rows) < p.leave_rate]
    f.leave(leaving)
    if not c.active.any():
        return  # nobody recruits (this year's draws are keyed by name, so skipping them changes no other)
    eligible = ~f.member[: f.n]
    eligible[leaving] = False  # a firm that just left does not rejoin in the same year

    scale = m.spec.population.scale
    cap = c.capacity(m.per_cluster("max_members") * scale)
    recruits = m.per_cluster("recruits_per_year") * scale
    size = np.bincount(f.cluster[rows[f.member[rows]]], minlength=len(c)) if len(c) else np.zeros(0)
    round_up = m.stream("membership.recruits").random(len(c))
    # A cluster's room depends on its own members only, so all are known before any recruits.
    room = np.minimum(cap - size, np.floor(recruits + round_up))
    if not (room[c.active] >= 1).any():
        return  # a scaled-down population often has no room anywhere (the order's stream is its own)
    market = m.per_cluster("market_access_growth") * m.funding_factor
    budget = (m.per_cluster("programme_funding_nok") * m.funding_factor
              / np.maximum(m.per_cluster("programme_share"), 1e-9))
    fee = p.cash_share * budget / np.maximum(m.per_cluster("max_members"), 1.0)
    alive = f.alive_rows()
    order = m.stream("membership.order").permutation(np.flatnonzero(c.active))
    pools: dict[int, tuple[np.ndarray, ...]] = {}  # by sector, made when a cluster there has room
    hours = p.hours_per_member * p.hourly_cost_nok
    for k in order:
        if room[k] < 1:
            continue
        if c.sector[k] not in pools:  # the taste draws are the firms' own: making a pool later changes none
            pools[c.sector[k]] = candidate_pool(m, alive[f.sector[alive] == c.sector[k]])
        pool, own, per_va, region = pools[c.sector[k]]
        chosen = kernels.recruits(pool, own, per_va, region, eligible, p.benefit_weight * market[k],
                                  p.cost_weight * (hours + fee[k]), p.distance_weight, m.distance_km,
                                  int(c.region[k]), KM_PER_DISTANCE_UNIT, int(room[k]))
        f.member[chosen], f.cluster[chosen], f.join_year[chosen] = True, k, m.year
        eligible[chosen] = False
        size[k] += len(chosen)


def candidate_pool(m: ClusterModel, pool: np.ndarray) -> tuple[np.ndarray, ...]:
    """The parts of the joining utility that do not depend on the cluster, for a pool of firms.

    Returns:
        ``(rows, own utility, 1 / value added, county)``; the taste shock is the firm's own for
        the year, the same whichever cluster it considers.
    """
    p, f = m.spec.membership, m.firms
    own = (
        p.base_utility
        + p.potential_weight * p.foresight * expected_growth(m, pool)  # the part of its potential it sees
        + p.size_weight * np.log(f.employees[pool])
        + p.rd_weight * f.rd_effort[pool]
        + p.international_weight * f.intl[pool]
        + p.choice_noise * rnd.gumbel(m.uniform("membership.taste", pool))
    )
    return pool, own, 1.0 / (f.revenue[pool] * f.va_share[pool]), f.region[pool]
