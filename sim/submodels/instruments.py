"""Policy instruments beside the cluster programme (docs/sources.md, [IN-AR2021] and [GCE-2016]).

Regional restructuring, corporate networks, Green Platform consortia, cluster-to-cluster
collaboration and foreign investment attracted to strong clusters. Each is switched and sized in
its scenario table. This phase runs after the programme operator and leaves its effects in three
per-firm columns that the later phases read: ``support_growth`` (log points of sales this year),
``support_innovation`` (innovation hazard) and ``extra_attempts`` (partner searches); networks
and consortia also add their members' ties directly.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from sim.engine import randomness as rnd
from sim.scenario.instruments import CorporateNetworks, GreenPlatform
from sim.submodels.collaboration import accept, draw_same  # the same search and acceptance as other ties
from sim.submodels.programme import GCE, NCE
from sim.world.population import startup_firms

if TYPE_CHECKING:
    from sim.model import ClusterModel


@dataclass
class InstrumentState:
    """What the instruments hold from year to year."""

    area_region: list[int] = field(default_factory=list)
    area_start: list[int] = field(default_factory=list)
    county_employment: dict[int, np.ndarray] = field(default_factory=dict)
    track_county_jobs: bool = True  # restructuring needs the history (false if it never runs)
    any_enabled: bool = False  # some instrument could run last year, so the support columns need a reset
    network_ends: list[int] = field(default_factory=list)
    consortium_ends: list[int] = field(default_factory=list)


@dataclass
class InstrumentEvents:
    """What the instruments did in one year (simulated units; the register scales them)."""

    restructuring_areas: int = 0
    restructuring_startups: int = 0
    restructuring_jobs: float = 0.0
    corporate_networks: int = 0
    corporate_network_firms: int = 0
    green_consortia: int = 0
    foreign_entrants: int = 0
    spend_nok: float = 0.0
    network_groups: list[np.ndarray] = field(default_factory=list)  # firm rows of each new network
    green_groups: list[np.ndarray] = field(default_factory=list)  # firm rows of each new consortium
    foreign_rows: list[np.ndarray] = field(default_factory=list)  # firm rows of the subsidiaries that came


def instruments(m: ClusterModel) -> None:
    """The second phase of a year: run every instrument; record what it did in ``m.instrument_events``."""
    f, spec = m.firms, m.spec
    enabled = (spec.restructuring.enabled or spec.corporate_networks.enabled or spec.green_platform.enabled
               or spec.foreign_investment.enabled)
    if enabled or m.instrument_state.any_enabled:  # otherwise the columns are still all zero
        f.support_growth[: f.n] = 0.0
        f.support_innovation[: f.n] = 0.0
        f.extra_attempts[: f.n] = 0.0
    m.instrument_state.any_enabled = enabled
    events = InstrumentEvents()
    if m.instrument_state.track_county_jobs:
        _remember_county_jobs(m)
    if m.spec.restructuring.enabled and m.year >= m.spec.restructuring.from_year:
        _restructuring(m, events)
    if m.spec.corporate_networks.enabled and m.year >= m.spec.corporate_networks.from_year:
        _corporate_networks(m, events)
    if m.spec.green_platform.enabled and m.year >= m.spec.green_platform.from_year:
        _green_platform(m, events)
    if m.spec.foreign_investment.enabled:
        _foreign_investment(m, events)
    cluster_links(m)  # after foreign entry: a subsidiary that joins a cluster takes part in its projects
    m.instrument_events = events


def _count(rng: np.random.Generator, mean: float) -> int:
    """A whole number of events with the right mean (scaled populations get fractions)."""
    return int(np.floor(mean + rng.random()))


def _counts(rng: np.random.Generator, mean: float, n: int) -> np.ndarray:
    """``n`` whole numbers of events, each with the right mean (see :func:`_count`)."""
    return np.floor(mean + rng.random(n)).astype(np.int64)


def _sample_per_group(rng: np.random.Generator, rows: np.ndarray, group: np.ndarray, n_groups: int,
                      wanted: np.ndarray) -> np.ndarray:
    """From each group, ``wanted`` of its rows (all if fewer) drawn without replacement.

    Every row gets a uniform key; a group's rows with the smallest keys are its sample, which
    makes every subset of the wanted size equally likely.
    """
    order = np.lexsort((rng.random(len(rows)), group))
    group = group[order]
    start = np.searchsorted(group, np.arange(n_groups))
    rank = np.arange(len(rows)) - start[group]
    return np.sort(rows[order][rank < wanted[group]])


def _remember_county_jobs(m: ClusterModel) -> None:
    f = m.firms
    alive = f.alive_rows()
    m.instrument_state.county_employment[m.year] = np.bincount(f.region[alive], f.employees[alive], len(m.region_names))


# --- regional restructuring -----------------------------------------------------------------------

def _restructuring(m: ClusterModel, events: InstrumentEvents) -> None:
    r, f, state, scale = m.spec.restructuring, m.firms, m.instrument_state, m.spec.population.scale
    # One stream a year for the whole instrument, drawn in a fixed order.
    rng = m.stream("restructuring")
    alive = f.alive_rows()
    new_areas = _count(rng, r.areas_per_year)
    if new_areas:
        chance = np.cumsum(_vulnerability(m, alive))
        free = alive[f.area[alive] < 0]
        free_region = f.region[free]
        for _ in range(new_areas):
            _designate_area(m, rng, free, free_region, chance)
    active = np.array([a for a, start in enumerate(state.area_start) if start <= m.year < start + r.period_years],
                      dtype=np.int64)
    events.restructuring_areas = len(active)
    events.spend_nok += len(active) * r.budget_nok_per_area
    # Each active area's place in `active` for its open firms (-1: no active area).
    place = np.full(len(state.area_start) + 1, -1, dtype=np.int64)
    place[active] = np.arange(len(active))
    slot = place[f.area[alive]]  # area -1 reads the last entry, which is -1
    inside = alive[slot >= 0]
    f.extra_attempts[inside] += r.extra_tie_attempts
    group = slot[slot >= 0]
    sme = f.employees[inside] <= r.max_supported_employees
    supported = _sample_per_group(rng, inside[sme], group[sme], len(active),
                                  _counts(rng, r.supported_firms_per_area * scale, len(active)))
    # Start-ups follow the industry mix of their area: each copies the sector of a random open firm there.
    n_new = _counts(rng, r.startups_per_area * scale, len(active))
    n_new[np.bincount(group, minlength=len(active)) == 0] = 0
    born_area = np.repeat(active, n_new)
    parent = draw_same(inside, group, np.repeat(np.arange(len(active)), n_new), rng)
    started = _open_in_areas(m, rng, born_area.astype(np.int16), f.sector[parent])
    f.support_growth[supported] += r.growth_support
    events.restructuring_startups = len(started)
    # Jobs the programme can claim, as its reports count them: the start-ups' man-years plus the
    # hiring that the sales push to supported firms sets off this year (frictions as in growth),
    # not the supported firms' whole employment change, which their own luck dominates.
    pushed = f.employees[supported].sum() * np.expm1(r.growth_support) * m.spec.growth.hire_rate
    events.restructuring_jobs = float(f.employees[started].sum() + pushed)
    m.startups_extra += len(started)


def _open_in_areas(m: ClusterModel, rng: np.random.Generator, area: np.ndarray, sector: np.ndarray) -> np.ndarray:
    """Open start-ups in restructuring areas; return their rows.

    One call serves all areas, as start-up creation has a fixed cost.
    """
    region = np.array(m.instrument_state.area_region, dtype=np.int16)[area.astype(np.int64)]
    rows = m.open(startup_firms(m.spec, rng, len(area), region, sector.astype(np.int16), m.year,
                                m.productivity_index()))
    m.firms.area[rows] = area
    return rows


def _vulnerability(m: ClusterModel, alive: np.ndarray) -> np.ndarray:
    """Each county's chance of the next new area: more firms, and jobs that grew least lately."""
    r, f, state = m.spec.restructuring, m.firms, m.instrument_state
    now = state.county_employment[m.year]
    then = state.county_employment.get(m.year - r.lookback_years, now)
    growth = np.log(np.maximum(now, 1e-9) / np.maximum(then, 1e-9))
    firms = np.bincount(f.region[alive], minlength=len(m.region_names)).astype(float)
    weight = firms * np.exp(-r.vulnerability_weight * (growth - growth.max()))
    return weight / weight.sum()


def _designate_area(m: ClusterModel, rng: np.random.Generator, free: np.ndarray, free_region: np.ndarray,
                    chance: np.ndarray) -> None:
    """A new area in a county drawn with ``chance`` (cumulative).

    The area holds a share of the county's open firms not yet in an area (``free``, in counties
    ``free_region``).
    """
    r, f, state = m.spec.restructuring, m.firms, m.instrument_state
    area = len(state.area_start)
    region = int(np.searchsorted(chance / chance[-1], rng.random(), side="right"))  # as rng.choice(p=...) draws
    state.area_region.append(region)
    state.area_start.append(m.year)
    local = free[free_region == region]
    local = local[f.area[local] < 0]  # not taken by an area designated earlier this year
    inside = local[m.uniform(f"restructuring.area.{area}", local) < r.area_firm_share]
    f.area[inside] = area


# --- corporate networks and Green Platform consortia ------------------------------------------------

def _corporate_networks(m: ClusterModel, events: InstrumentEvents) -> None:
    c, f = m.spec.corporate_networks, m.firms
    alive = f.alive_rows()
    pool = alive[(f.employees[alive] >= c.min_employees) & (f.employees[alive] <= c.max_employees)
                 & (f.network_until[alive] < m.year) & (f.potential[alive] > 0)]  # growth ambitions
    groups, spend = _groups(m, "networks", pool, c.networks_per_year, c.firms_per_network, f.region,
                            f.network_until, m.instrument_state.network_ends, c)
    events.network_groups = groups
    events.corporate_networks = len(groups)
    events.corporate_network_firms = sum(len(g) for g in groups)
    events.spend_nok += spend


def _green_platform(m: ClusterModel, events: InstrumentEvents) -> None:
    g, f = m.spec.green_platform, m.firms
    alive = f.alive_rows()
    green = [m.sector_names.index(s) for s in g.sectors]
    # Consortia grow out of the clusters (docs/sources.md, [IN-AR2021]): cluster members of one green sector.
    pool = alive[np.isin(f.sector[alive], green) & (f.consortium_until[alive] < m.year) & f.member[alive]]
    groups, spend = _groups(m, "green", pool, g.consortia_per_year, g.firms_per_consortium, f.sector,
                            f.consortium_until, m.instrument_state.consortium_ends, g)
    events.green_groups = groups
    events.green_consortia = len(groups)
    events.spend_nok += spend


def _groups(m: ClusterModel, name: str, pool: np.ndarray, per_year: float, size: int, group_by: np.ndarray,
            until: np.ndarray, ends: list[int],
            spec: CorporateNetworks | GreenPlatform) -> tuple[list[np.ndarray], float]:
    """Run a group instrument for a year: support running groups, form new ones, pay for all.

    Args:
        m: The model.
        name: Name of the instrument's random streams.
        pool: Firms that may join a new group.
        per_year: New groups a year (real units).
        size: Firms per group.
        group_by: Column whose value a group shares (county or cluster).
        until: Column holding each firm's last year in a group.
        ends: Last years of every group formed so far (appended to).
        spec: The instrument's scenario table (period, innovation support, budget).

    Returns:
        The new groups and this year's spending in real NOK.
    """
    f, scale = m.firms, m.spec.population.scale
    alive = f.alive_rows()
    f.support_innovation[alive[until[alive] >= m.year]] += spec.innovation_support
    rng = m.stream(name)
    groups = _form_groups(rng, m, pool, _count(rng, per_year * scale), size, group_by)
    last = m.year + spec.period_years - 1
    for group in groups:
        until[group] = last
        f.support_innovation[group] += spec.innovation_support
        ends.append(last)
    budget = spec.budget_nok_per_network if isinstance(spec, CorporateNetworks) else spec.budget_nok_per_consortium
    # Simulated groups stand for 1 / scale real ones; money is in real NOK.
    return groups, sum(end >= m.year for end in ends) / scale * budget


def _form_groups(rng: np.random.Generator, m: ClusterModel, pool: np.ndarray, n: int, size: int,
                 group_by: np.ndarray) -> list[np.ndarray]:
    """Up to ``n`` groups of ``size`` firms from ``pool``; every pair in a group gets a tie.

    Each group forms around a seed firm, from firms sharing its ``group_by`` value (county or sector).
    """
    free = np.ones(len(pool), dtype=bool)
    groups = []
    for _ in range(n):
        if free.sum() < size:
            break
        seed = rng.choice(np.flatnonzero(free))
        near = np.flatnonzero(free & (group_by[pool] == group_by[pool[seed]]))
        if len(near) < size:
            continue
        chosen = rng.choice(near, size, replace=False)
        free[chosen] = False
        groups.append(pool[chosen])
    tie_groups(m, groups)
    return groups


def tie_groups(m: ClusterModel, groups: list[np.ndarray]) -> None:
    """Tie every pair of firms within each network or consortium.

    All groups' ties go into the tie set in one merge: the set is sorted and without duplicates
    whatever order ties come in, and each merge copies every tie there is, so one per group cost
    a full-scale run a quarter of a second.
    """
    if not groups:
        return
    pairs = [_pairs(len(group)) for group in groups]
    m.ties.add(np.concatenate([group[a] for group, (a, _) in zip(groups, pairs)]),
               np.concatenate([group[b] for group, (_, b) in zip(groups, pairs)]))


@functools.lru_cache(maxsize=64)
def _pairs(size: int) -> tuple[np.ndarray, np.ndarray]:
    """Both ends of every pair among ``size`` places (``np.triu_indices``; shared: read only)."""
    a, b = np.triu_indices(size, 1)
    a.flags.writeable = b.flags.writeable = False
    return a, b


# --- cluster-to-cluster collaboration and foreign investment -----------------------------------------

def cluster_links(m: ClusterModel) -> None:
    """Brokered partner searches between the members of linked clusters (cluster-to-cluster projects)."""
    f, c = m.firms, m.clusters
    if not m.spec.cluster_links:
        return
    members = np.flatnonzero(f.member[: f.n])  # closed firms leave their cluster, so all are open
    for i, link in enumerate(m.spec.cluster_links):
        ka, kb = (c.names.index(name) for name in link.clusters)
        if m.year < link.from_year or not (c.active[ka] and c.active[kb]):
            continue
        a_side, b_side = members[f.cluster[members] == ka], members[f.cluster[members] == kb]
        src = np.repeat(a_side, rnd.poisson(m.uniform(f"links.{i}", a_side), link.tie_attempts))
        rng = m.stream(f"links.{i}")
        dst = draw_same(b_side, np.zeros(len(b_side), dtype=np.int64), np.zeros(len(src), dtype=np.int64), rng)
        ok = accept(m, src, dst, rng.random(len(src)))
        m.ties.add(src[ok], dst[ok])


def _foreign_investment(m: ClusterModel, events: InstrumentEvents) -> None:
    fi, f, c, scale = m.spec.foreign_investment, m.firms, m.clusters, m.spec.population.scale
    rate = np.where(c.level == GCE, fi.entrants_per_gce, np.where(c.level == NCE, fi.entrants_per_nce, 0.0))
    rng = m.stream("foreign_investment")
    for k in np.flatnonzero(rate > 0):
        n = _count(rng, rate[k] * scale)
        if n == 0:
            continue
        cols = startup_firms(m.spec, rng, n, np.full(n, c.region[k], dtype=np.int16),
                             np.full(n, c.sector[k], dtype=np.int16), m.year, m.productivity_index())
        cols["revenue"] = cols["revenue"] * fi.employees / cols["employees"]
        cols["employees"] = np.full(n, fi.employees)
        cols["intl"] = np.ones(n)  # foreign-owned: international by definition
        rows = m.open(cols)
        f.member[rows], f.cluster[rows], f.join_year[rows] = True, k, m.year
        events.foreign_entrants += n
        events.foreign_rows.append(rows)
    m.startups_extra += events.foreign_entrants
