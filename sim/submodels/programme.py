"""The programme operator: annual calls, scoring, admission, evaluation, upgrades and budget.

Up to ``programme.history_until`` the clusters follow the real history in the scenario's
``[[clusters]]`` list. After it the operator runs the programme as Innovation Norway does
(docs/sources.md, [NIC-WEB]): contracts end after the level's duration, clusters that mobilise well move up a
level, an annual evaluation ends those that fail to, spending is held within the budget, and an
open call admits new initiatives that have emerged in the simulated economy, scored on the call's
criteria. Every applicant of every call is kept (:class:`Call`, in ``m.calls``): the applicants just
below the cut-off score are the natural controls of those just above it
(:mod:`sim.observe.discontinuity`).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np

from sim.scenario.levels import LevelSpec
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario
from sim.world.clusters import INACTIVE

if TYPE_CHECKING:
    from sim.model import ClusterModel

ARENA, ARENA_PRO, NCE, GCE = (LEVELS.index(lv) for lv in ("arena", "arena_pro", "nce", "gce"))
# Where a cluster can go when its contract ends and it mobilised well (Arena Pro is the step for
# Arena clusters that are not yet ready for NCE).
NEXT_LEVEL = {ARENA: NCE, ARENA_PRO: NCE, NCE: GCE, GCE: None}


#: The call's criteria, in the order of the score's weights.
CRITERIA = ("resources", "growth", "position", "participation")


@dataclass
class Call:
    """One open call: its applicants in the order they applied, as the operator scored and ranked them.

    Attributes:
        year: The year of the call (admitted clusters are active from it).
        cells: Each applicant's county-sector cell, ``region * sectors + sector``.
        criteria: ``[applicants, 4]``: the raw criteria (:data:`CRITERIA`) before standardising.
        score: The score (NaN when the call admits no one and so scores no one).
        rank: The operator's order, 1 = best (decreasing score, ties in the order of applying); 0 unscored.
        admitted: Whether the applicant was admitted.
        cluster_id: The admitted cluster organisation's row in the cluster table, -1 if rejected.
    """

    year: int
    cells: np.ndarray
    criteria: np.ndarray
    score: np.ndarray
    rank: np.ndarray
    admitted: np.ndarray
    cluster_id: np.ndarray


@dataclass
class YearEvents:
    """What the operator did in one year (counts in ``yearly.csv``), with its open call if it made one."""

    applications: int = 0
    admissions: int = 0
    upgrades: int = 0
    contract_ends: int = 0
    evaluation_exits: int = 0
    budget_exits: int = 0
    call: Call | None = None


def budget(scn: Scenario, year: int) -> float:
    """The programme budget of a year (NOK), after every budget change up to it.

    Args:
        scn: The scenario.
        year: The year.

    Returns:
        Budget in NOK.
    """
    factor = math.prod(c.factor for c in scn.programme.budget_changes if c.year <= year)  # as np.prod, in order
    return float(scn.programme.budget_nok * factor)


def programme(m: ClusterModel) -> None:
    """The first phase of a year: the operator decides this year's clusters; members of those that left drop out.

    The year's open call, if any, is appended to ``m.calls`` (begun in the start year, before any call).
    """
    if m.year == m.spec.scenario.start_year:
        m.calls = []
    m.events = run_operator(m)
    if m.events.call is not None:
        m.calls.append(m.events.call)
    start_cluster_year(m)


def start_cluster_year(m: ClusterModel) -> None:
    """Make this year's levels current; members of clusters that left the programme drop out.

    Admitted clusters get their agents when Mesa's agent sets are next asked for.
    """
    m.clusters.set_year(m.year)
    f = m.firms
    rows = np.flatnonzero(f.member[: f.n])
    f.leave(rows[~m.clusters.active[f.cluster[rows]]])


def run_operator(m: ClusterModel) -> YearEvents:
    """Decide this year's clusters and levels; rewrites the plan from ``m.year`` on.

    Args:
        m: The model at the start of the year (firm state as last year left it).

    Returns:
        What was decided.
    """
    events = YearEvents()
    p = m.spec.programme
    if not p.enabled or m.year <= p.history_until or m.year == m.spec.scenario.start_year:
        return events
    _contracts_and_evaluation(m, events)
    _hold_budget(m, events)
    _open_call(m, events)
    return events


def _fill(m: ClusterModel) -> np.ndarray:
    """Members as a share of each cluster's level maximum (0 where inactive)."""
    c, f = m.clusters, m.firms
    rows = np.flatnonzero(f.member[: f.n])
    members = np.bincount(f.cluster[rows], minlength=len(c))
    cap = m.per_cluster("max_members") * m.spec.population.scale
    return np.divide(members, cap, out=np.zeros(len(c)), where=cap > 0)


def _contracts_and_evaluation(m: ClusterModel, events: YearEvents) -> None:
    p, c, y = m.spec.programme, m.clusters, m.year
    fill = _fill(m)
    last, now = c.plan[:, y - 1 - c.first_year], c.plan[:, y - c.first_year]
    # Clusters whose end the history already fixed leave as planned; the operator decides the rest.
    for k in np.flatnonzero((last != INACTIVE) & (now != INACTIVE)):
        level = int(last[k])
        spec = m.spec.levels.get(LEVELS[level])
        held = c.years_at_level(k, y)
        if held >= spec.max_duration_years:
            nxt = _next_level(m, level, fill[k])
            c.set_from(k, y, INACTIVE if nxt is None else nxt)
            if nxt is None:
                events.contract_ends += 1
            else:
                events.upgrades += 1
        elif held >= p.evaluation_grace_years and fill[k] < p.evaluation_min_fill * _reachable(spec, held):
            c.set_from(k, y, INACTIVE)
            events.evaluation_exits += 1


def _reachable(spec: LevelSpec, held: int) -> float:
    """The fill a cluster could have reached recruiting at full capacity for ``held`` years."""
    return min(1.0, held * spec.recruits_per_year / spec.max_members) if spec.max_members > 0 else 1.0


def _next_level(m: ClusterModel, level: int, fill: float) -> int | None:
    p = m.spec.programme
    nxt = NEXT_LEVEL[level]
    if fill >= p.upgrade_min_fill and nxt is not None and _open(m, nxt):
        return nxt
    if level == ARENA and fill >= p.evaluation_min_fill and _open(m, ARENA_PRO):
        return ARENA_PRO
    return None


def _open(m: ClusterModel, level: int) -> bool:
    """Whether the level is offered this year and has a free slot."""
    spec, c = m.spec.levels.get(LEVELS[level]), m.clusters
    taken = int((c.plan[:, m.year - c.first_year] == level).sum())
    return spec.available_from <= m.year and taken < spec.max_clusters


def _funding(m: ClusterModel, levels: np.ndarray) -> np.ndarray:
    table = np.array([m.spec.levels.get(lv).programme_funding_nok for lv in LEVELS] + [0.0])
    return table[levels]


def _hold_budget(m: ClusterModel, events: YearEvents) -> None:
    """Fit this year's spending to the budget.

    First pay every cluster less (down to ``programme.min_funding_share``), then end the
    least-mobilised clusters.
    """
    c, y = m.clusters, m.year
    planned = c.plan[:, y - c.first_year]
    limit = budget(m.spec, y)
    committed = _funding(m, planned).sum()
    m.funding_factor = max(m.spec.programme.min_funding_share, min(1.0, limit / committed)) if committed else 1.0
    fill = _fill(m)
    for k in np.argsort(fill, kind="stable"):
        if _funding(m, planned).sum() * m.funding_factor <= limit:
            break
        if planned[k] != INACTIVE:
            c.set_from(k, y, INACTIVE)
            planned = c.plan[:, y - c.first_year]
            events.budget_exits += 1


def _open_call(m: ClusterModel, events: YearEvents) -> None:
    """Concentrations with critical mass apply; the best-scoring are admitted at Arena level."""
    p, c, y = m.spec.programme, m.clusters, m.year
    n_s = len(m.sector_names)
    # A county-sector may hold several initiatives (Bergen has seven clusters; docs/sources.md, [FI-MAG]).
    cells, stats = _concentrations(m)
    planned = c.plan[:, y - c.first_year]
    rng = m.stream("programme.call")
    applying = [cell for cell, u in zip(cells, rng.random(len(cells))) if u < p.application_rate]
    events.applications = n = len(applying)
    if not applying:
        return
    criteria = np.array([stats[cell] for cell in applying])  # resources, growth, position, participation
    call = events.call = Call(y, np.array(applying, dtype=np.int64), criteria, np.full(n, np.nan),
                              np.zeros(n, dtype=np.int64), np.zeros(n, dtype=bool), np.full(n, -1, dtype=np.int64))
    if p.admissions_per_year == 0:
        return
    score = _zscores(criteria) @ np.array([p.weight_resources, p.weight_growth, p.weight_position,
                                           p.weight_participation])
    score += p.weight_strategy * rng.standard_normal(n)
    order = np.argsort(-score, kind="stable")
    call.score, call.rank[order] = score, np.arange(1, n + 1)
    spend = _funding(m, planned).sum() * m.funding_factor
    arena_cost = m.spec.levels.arena.programme_funding_nok * m.funding_factor
    offsets = rng.random(n)
    for i in order[: p.admissions_per_year]:
        if spend + arena_cost > budget(m.spec, y) or not _open(m, ARENA):
            break
        region, sector = divmod(applying[i], n_s)
        name = f"Arena {m.sector_names[sector]} {m.region_names[region]} {y}"
        call.cluster_id[i] = c.add(name, region, sector, ARENA, y, offsets[i])
        call.admitted[i] = True
        spend += arena_cost
        events.admissions += 1


def _concentrations(m: ClusterModel) -> tuple[list[int], dict[int, tuple[float, float, float, float]]]:
    """County-sector cells with critical mass and concentration, with the call's criteria.

    Returns:
        The eligible cells (``region * sectors + sector``) and for each: log employment
        (resources), mean sales growth (growth potential), log location quotient (position) and
        ties per firm (participation).
    """
    p, f = m.spec.programme, m.firms
    n_r, n_s = len(m.region_names), len(m.sector_names)
    alive = f.alive_rows()
    cell = f.region[alive].astype(np.int64) * n_s + f.sector[alive]
    size = n_r * n_s
    firms = np.bincount(cell, minlength=size).astype(float)
    employment = np.bincount(cell, f.employees[alive], size)
    growth = np.bincount(cell, f.growth[alive], size)
    ties = np.bincount(cell, m.ties.degree(f.n)[alive], size)
    by_region = firms.reshape(n_r, n_s).sum(axis=1, keepdims=True)
    by_sector = firms.reshape(n_r, n_s).sum(axis=0, keepdims=True)
    lq = (firms.reshape(n_r, n_s) * firms.sum() / np.maximum(by_region * by_sector, 1.0)).ravel()
    excluded = {m.sector_names.index(s) for s in p.excluded_sectors if s in m.sector_names}
    eligible = [
        int(k)
        for k in np.flatnonzero((firms >= p.min_firms * m.spec.population.scale) & (lq >= p.min_location_quotient))
        if k % n_s not in excluded
    ]
    stats = {k: (np.log(employment[k]), growth[k] / firms[k], np.log(lq[k]), ties[k] / firms[k]) for k in eligible}
    return eligible, stats


def _zscores(x: np.ndarray) -> np.ndarray:
    """Standardise each column across applicants (a constant column scores zero)."""
    sd = x.std(axis=0)
    return np.divide(x - x.mean(axis=0), sd, out=np.zeros_like(x), where=sd > 0)
