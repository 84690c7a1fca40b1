"""The yearly phases, each updating all firms at once.

Order in a year (DESIGN.md): programme -> membership -> collaboration -> innovation -> growth ->
entry and exit.

Random numbers are common across scenarios: a firm's draws are hashes of (seed, purpose, year,
firm) (``m.uniform("growth.shock", rows)``, see :mod:`sim.engine.randomness`), so firm ``r`` gets the
same shock in year ``t`` whatever else differs between two runs with the same seed (a twin
world, a policy change). Draws that are not a firm's (the order clusters recruit in, partner
choice, the characteristics of start-ups) come from a named stream per year (``m.stream``).
The per-agent reference in ``sim.reference`` states the same rules one firm at a time.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from sim.engine import kernels
from sim.engine import randomness as rnd
from sim.submodels.programme import run_operator
from sim.world.population import startup_firms

if TYPE_CHECKING:
    from sim.model import ClusterModel

# membership.distance_weight is stated per 100 km.
KM_PER_DISTANCE_UNIT = 100.0
# E[exp(X)] of a Laplace shock is finite only for scale b < 1; 0.9 is far beyond any sane sd.
MAX_LAPLACE_SCALE = 0.9


def programme(m: ClusterModel) -> None:
    """The operator decides this year's clusters; members of clusters that left drop out."""
    m.events = run_operator(m)
    start_cluster_year(m)


def start_cluster_year(m: ClusterModel) -> None:
    """Make this year's levels current and let members of clusters that left the programme drop
    out (admitted clusters get their agents when Mesa's agent sets are next asked for)."""
    m.clusters.set_year(m.year)
    f = m.firms
    rows = np.flatnonzero(f.member[: f.n])
    ended = rows[~m.clusters.active[f.cluster[rows]]]
    _leave(m, ended)


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
    _leave(m, leaving)
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
    budget = m.per_cluster("programme_funding_nok") * m.funding_factor / np.maximum(m.per_cluster("programme_share"), 1e-9)
    fee = p.cash_share * budget / np.maximum(m.per_cluster("max_members"), 1.0)
    alive = f.alive_rows()
    order = m.stream("membership.order").permutation(np.flatnonzero(c.active))
    pools: dict[int, tuple[np.ndarray, ...]] = {}  # by sector, made when a cluster there has room
    hours = p.hours_per_member * p.hourly_cost_nok
    for k in order:
        if room[k] < 1:
            continue
        if c.sector[k] not in pools:  # the taste draws are the firms' own: making a pool later changes none
            pools[c.sector[k]] = _candidate_pool(m, alive[f.sector[alive] == c.sector[k]])
        pool, own, per_va, region = pools[c.sector[k]]
        ok = eligible[pool]
        cand = pool[ok]
        utility = (
            own[ok]
            + p.benefit_weight * market[k]
            - p.cost_weight * (hours + fee[k]) * per_va[ok]
            - p.distance_weight * m.distance_km[region[ok], c.region[k]] / KM_PER_DISTANCE_UNIT
        )
        willing = np.flatnonzero(utility > 0)
        chosen = cand[willing[np.argsort(-utility[willing], kind="stable")[: int(room[k])]]]
        f.member[chosen], f.cluster[chosen], f.join_year[chosen] = True, k, m.year
        eligible[chosen] = False
        size[k] += len(chosen)


def collaboration(m: ClusterModel) -> None:
    """Ties lapse and form; firms with R&D effort find knowledge-institution partners.

    A firm searches for partners a Poisson number of times: mostly in its own county, otherwise
    anywhere; members get extra searches among their cluster's members, brokered by the cluster
    organisation. A search succeeds with a probability falling with geographic and cognitive
    distance.
    """
    net, f, ties = m.spec.network, m.firms, m.ties
    ties.keep(kernels.ties_kept(ties.keys, ties.a, ties.b, m.keys("collaboration.lapse")[0], f.member, f.cluster,
                                net.decay_rate, net.shared_member_retention))
    alive = f.alive_rows()
    facil = m.per_cluster("facilitation_ties") * m.funding_factor
    keys = m.keys("collaboration.attempts", "collaboration.brokered", "collaboration.where", "collaboration.local",
                  "collaboration.anyone", "collaboration.accept")
    ties.add_keys(kernels.partner_ties(alive, keys, (net.tie_attempts, net.local_share, net.geo_scale_km,
                                                     net.cognitive_scale), f.extra_attempts, _per_cluster_array(facil),
                                       f.member, f.region, len(m.region_names), f.cluster, max(len(m.clusters), 1),
                                       f.kx, f.ky, m.distance_km))
    _institution_ties(m, alive)


def innovation(m: ClusterModel) -> None:
    """Firms innovate from own effort, institution ties and novel knowledge over ties.

    Novelty of a partner peaks at an optimal cognitive distance (an inverted U); partners'
    knowledge then converges, so a new tie teaches most in its first years.
    """
    inn, f, ties = m.spec.innovation, m.firms, m.ties
    advisory = m.per_cluster("advisory_innovation") * m.funding_factor
    params = (inn.optimal_distance, inn.base_rate, inn.rd_weight, inn.spillover_weight, inn.institution_weight,
              inn.convergence_rate, inn.drift_sd)
    kernels.innovate(f.n, f.alive, m.keys("innovation.success", "innovation.drift_x", "innovation.drift_y"),
                     ties.a, ties.b, _per_cluster_array(advisory), params, f.kx, f.ky, f.rd_effort, f.absorptive,
                     f.institution, f.support_innovation, f.member, f.cluster, f.innovated)


def growth(m: ClusterModel) -> None:
    """Sales follow sector demand, expected growth from potential, innovation, cluster market
    access (fading with years of membership) and fat-tailed shocks; productivity grows;
    employment moves toward what value added needs, with frictions."""
    g, inn, f = m.spec.growth, m.spec.innovation, m.firms
    access = m.per_cluster("market_access_growth") * m.funding_factor
    params = (g.market_access_fade, g.shock_sd, g.shock_size_elasticity, MAX_LAPLACE_SCALE, inn.size_elasticity,
              inn.demand_gain, g.productivity_trend, inn.productivity_gain, g.productivity_noise_sd, g.hire_rate,
              g.fire_rate, g.potential_persistence, m.spec.population.growth_potential_sd,
              g.potential_size_elasticity)
    kernels.grow(f.n, f.alive, m.keys("growth.shock", "growth.productivity", "growth.potential"), m.year,
                 np.ascontiguousarray(m.sector_demand, dtype=np.float64), _per_cluster_array(access), params,
                 f.employees, f.revenue, f.productivity, f.va_share, f.potential, f.innovated, f.sector, f.member,
                 f.cluster, f.join_year, f.support_growth, f.growth)


def demography(m: ClusterModel) -> None:
    """Firms close (small and shrinking ones more often), start up (more where a cluster is
    active) and spin off from innovators (more from members)."""
    cells, parents = exits(m)
    d, f, c = m.spec.demography, m.firms, m.clusters
    rng = m.stream("demography.entry")
    u = rng.random(rng.poisson(d.entry_rate * cells.sum()))  # one uniform per entrant
    region, sector = kernels.entry_sites(u, cells, c.level, c.region, c.sector, d.cluster_entry_boost,
                                         f.region[parents], f.sector[parents], len(m.spec.sectors))
    n_new = len(region) - len(parents)
    # Entrants, then spin-offs in their parents' county and sector, drawn as one batch of start-ups
    # at today's productivity (not the start year's); a spin-off starts from its parent's knowledge.
    born = startup_firms(m.spec, rng, len(region), region, sector, m.year, m.productivity_index())
    born["kx"][n_new:], born["ky"][n_new:] = f.kx[parents], f.ky[parents]
    born["parent"] = np.concatenate([np.full(n_new, -1), parents]).astype(np.int32)
    m.open(born)
    m.startups = n_new + len(parents) + m.startups_extra


def exits(m: ClusterModel) -> tuple[np.ndarray, np.ndarray]:
    """Close firms (small and shrinking ones more often).

    Returns:
        ``(cells, parents)``: open firms per (county, sector) after the exits, as
        ``county * sectors + sector``, and the survivors that spin off a firm this year.
    """
    d, f = m.spec.demography, m.firms
    params = (d.exit_rate, d.exit_size_elasticity, d.exit_growth_sensitivity, m.spec.growth.min_employees,
              d.spinoff_rate, d.spinoff_member_boost)
    closing, cells, parents = kernels.exits(f.n, f.alive, m.keys("demography.exit", "demography.spinoff"), params,
                                            f.employees, f.growth, f.innovated, f.member, f.region, f.sector,
                                            len(m.spec.regions), len(m.spec.sectors))
    m.close(closing)
    return cells, parents


# --- helpers ------------------------------------------------------------------------------------

def _leave(m: ClusterModel, rows: np.ndarray) -> None:
    f = m.firms
    kernels.leave_clusters(np.ascontiguousarray(rows, dtype=np.int64), f.member, f.cluster, f.join_year)


def expected_growth(m: ClusterModel, rows: np.ndarray) -> np.ndarray:
    """Each firm's expected extra growth from its latent potential: smaller for larger firms."""
    f = m.firms
    return f.potential[rows] * f.employees[rows] ** -m.spec.growth.potential_size_elasticity


def _candidate_pool(m: ClusterModel, pool: np.ndarray) -> tuple[np.ndarray, ...]:
    """The parts of the joining utility that do not depend on the cluster, for a pool of firms.

    Returns:
        ``(rows, own utility, 1 / value added, county)``; the taste shock is the firm's own for
        the year, the same whichever cluster it considers.
    """
    p, f = m.spec.membership, m.firms
    own = (
        p.base_utility
        + p.potential_weight * expected_growth(m, pool)
        + p.size_weight * np.log(f.employees[pool])
        + p.rd_weight * f.rd_effort[pool]
        + p.international_weight * f.intl[pool]
        + p.choice_noise * rnd.gumbel(m.uniform("membership.taste", pool))
    )
    return pool, own, 1.0 / (f.revenue[pool] * f.va_share[pool]), f.region[pool]


def draw_same(pool: np.ndarray, pool_group: np.ndarray, want: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """For each wanted group, a uniformly random member of ``pool`` in that group (-1 if none).

    Groups are small non-negative integers (counties, clusters).
    """
    if len(want) == 0:
        return np.zeros(0, dtype=np.int64)
    groups = np.ascontiguousarray(pool_group, dtype=np.int64)
    want = np.ascontiguousarray(want, dtype=np.int64)
    n_groups = int(max(groups.max(initial=-1), want.max())) + 1
    return kernels.pick_in_group(np.ascontiguousarray(pool, dtype=np.int64), groups, n_groups, want,
                                 rng.random(len(want)))


def accept(m: ClusterModel, src: np.ndarray, dst: np.ndarray, u: np.ndarray) -> np.ndarray:
    """Which proposals (``dst`` -1: no partner) become ties, falling with geographic and cognitive distance."""
    net, f = m.spec.network, m.firms
    return kernels.accepted(np.ascontiguousarray(src, dtype=np.int64), np.ascontiguousarray(dst, dtype=np.int64),
                            u, f.region, f.kx, f.ky, m.distance_km, net.geo_scale_km,
                            net.cognitive_scale)


def _per_cluster_array(values: np.ndarray) -> np.ndarray:
    """A per-cluster parameter as the kernels take it (one slot even with no clusters)."""
    return np.ascontiguousarray(values if len(values) else np.zeros(1), dtype=np.float64)


def _institution_ties(m: ClusterModel, alive: np.ndarray) -> None:
    net, f = m.spec.network, m.firms
    boost = net.member_institution_boost * m.funding_factor  # a service, so it shrinks with the money
    options, counts = m.institution_options
    kernels.institution_ties(alive, m.keys("institutions.lapse", "institutions.seek", "institutions.pick"),
                             (net.institution_decay_rate, net.institution_tie_rate, boost), f.rd_effort, f.member,
                             f.region, f.sector, options, counts, f.institution)
