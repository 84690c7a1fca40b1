"""The per-agent reference: the rules of :mod:`sim.submodels`, one agent at a time, in plain Mesa.

This is the readable specification of the model. A :class:`RefFirm` has plain attributes and
its collaboration ties as a Python set of partner firms; a :class:`RefCluster` holds its members.
:meth:`ReferenceModel.step` runs the engine's phases in the engine's order and
:meth:`ReferenceModel.yearly` reports the aggregates of :class:`sim.observe.register.Register` in the same
full-scale units. It starts from the engine's population (same scenario and seed, same firms).

It is slow on purpose. Its random numbers are scalar draws (Python's ``random`` for uniforms,
normals and choices; numpy for Poisson, Laplace and Gumbel), so it agrees with the engine in
distribution, not bit for bit: ``tests/test_reference.py`` checks that.

As in the engine, each phase is synchronous: firms react to the state at the start of the phase
(knowledge moves only after every firm has learned), so the order in which firms act does not
matter. Only cluster organisations recruit one after another, in a random order.
"""

from __future__ import annotations

import math
from collections import Counter

import mesa
import numpy as np
import pandas as pd

from sim.model import stream
from sim.scenario.levels import LevelSpec
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario
from sim.submodels import labour
from sim.submodels.growth import MAX_DISPLACED_SHARE, MAX_LAPLACE_SCALE, VA_SHARE_BOUNDS
from sim.submodels.membership import KM_PER_DISTANCE_UNIT
from sim.world.clusters import INACTIVE, ClusterTable
from sim.world.geography import region_distances_km
from sim.world.population import build_firms, build_institutions, productivity_index, startup_firms


class RefCluster(mesa.Agent):
    """A cluster organisation: hub county, knowledge base, this year's level and its members."""

    def __init__(self, model: ReferenceModel, index: int):
        """Create it outside the programme and without members.

        Args:
            model: The reference model.
            index: Its row in the model's level plan (its ``cluster_id``).
        """
        super().__init__(model)
        self.index = index
        self.region, self.sector = int(model.plan.region[index]), int(model.plan.sector[index])
        self.offset = float(model.plan.offset[index])  # fixed rounding of its scaled size cap
        self.level: str | None = None
        self.members: set[RefFirm] = set()

    @property
    def spec(self) -> LevelSpec:
        """Parameters of the level it holds this year."""
        return self.model.spec.levels.get(self.level)

    def follow_plan(self) -> None:
        """Take this year's level from the plan; outside the programme, members drop out."""
        plan = self.model.plan
        code = plan.plan[self.index, self.model.year - plan.first_year]
        self.level = LEVELS[code] if code != INACTIVE else None
        if self.level is None:
            for firm in list(self.members):
                firm.leave()

    def recruit(self) -> None:
        """Admit the non-members of its sector with the highest positive utility of joining.

        It admits as many as its recruitment capacity and the room below its size cap allow. Firms
        that left a cluster this year do not rejoin before next year.
        """
        if self.level is None:
            return
        m, scale = self.model, self.model.spec.population.scale
        cap = math.floor(self.spec.max_members * scale + self.offset)  # steady, right on average
        recruits = math.floor(self.spec.recruits_per_year * scale + m.random.random())
        room = min(cap - len(self.members), recruits)
        if room < 1:
            return
        offers = [(u, firm) for firm in m.agents_by_type[RefFirm]
                  if firm.sector == self.sector and firm.cluster is None and firm.left != m.year
                  and (u := firm.joining_utility(self) + firm.taste) > 0]
        offers.sort(key=lambda offer: -offer[0])
        for _, firm in offers[:room]:
            firm.cluster, firm.join_year = self, m.year
            self.members.add(firm)


class RefFirm(mesa.Agent):
    """An employer enterprise with plain attributes; its ties are a set of partner firms."""

    def __init__(self, model: ReferenceModel, row: dict[str, float]):
        """Create a firm from one row of population columns.

        Args:
            model: The reference model.
            row: Its attributes as drawn by ``build_firms`` or ``startup_firms``.
        """
        super().__init__(model)
        self.region, self.sector = int(row["region"]), int(row["sector"])
        self.employees, self.revenue = float(row["employees"]), float(row["revenue"])
        self.productivity, self.va_share = float(row["productivity"]), float(row["va_share"])
        self.potential, self.rd_effort = float(row["potential"]), float(row["rd_effort"])
        self.absorptive, self.intl = float(row["absorptive"]), float(row["intl"])
        self.kx, self.ky = float(row["kx"]), float(row["ky"])
        self.birth_year = int(row["birth_year"])
        self.cluster: RefCluster | None = None
        self.join_year = -1  # year it joined its current cluster
        self.left: int | None = None  # year it last left a cluster of its own accord
        self.partners: set[RefFirm] = set()
        self.institution: int | None = None
        self.innovated, self.growth = False, 0.0

    @property
    def age(self) -> int:
        """Whole years since it was founded."""
        return max(self.model.year - self.birth_year, 0)

    @property
    def value_added(self) -> float:
        """Value added, NOK per year."""
        return self.revenue * self.va_share

    def ordered_partners(self) -> list[RefFirm]:
        """Partners by id (a set's order follows memory addresses; draws and sums must not)."""
        return sorted(self.partners, key=lambda p: p.unique_id)

    def leave(self) -> None:
        """Leave its cluster, if any."""
        if self.cluster is not None:
            self.cluster.members.discard(self)
            self.cluster = None

    def consider_leaving(self) -> None:
        """Members leave at the yearly churn rate."""
        churn = self.model.spec.membership.leave_rate
        if self.cluster is not None and self.model.random.random() < churn:
            self.leave()
            self.left = self.model.year

    def expected_growth(self) -> float:
        """Extra growth the firm expects from its potential: smaller for a larger firm."""
        return self.potential * self.employees**-self.model.spec.growth.potential_size_elasticity

    def joining_utility(self, cluster: RefCluster) -> float:
        """Deterministic part of the utility of joining ``cluster``.

        The level's expected benefit, growth potential, size, R&D effort and international
        orientation against hours and fees per value added and the distance to the cluster's hub.
        """
        p, lv = self.model.spec.membership, cluster.spec
        budget = lv.programme_funding_nok / lv.programme_share
        fee = p.cash_share * budget / max(lv.max_members, 1.0)  # cash split over full-scale members
        cost = p.hours_per_member * p.hourly_cost_nok + fee
        km = self.model.distance_km[self.region, cluster.region]
        return (p.base_utility + p.potential_weight * p.foresight * self.expected_growth()
                + p.size_weight * math.log(self.employees) + p.rd_weight * self.rd_effort
                + p.international_weight * self.intl
                + p.benefit_weight * lv.market_access_growth
                - p.cost_weight * cost / self.value_added
                - p.distance_weight * km / KM_PER_DISTANCE_UNIT)

    def let_ties_lapse(self) -> None:
        """Each tie (decided by its lower-id end) lapses; ties inside a cluster last longer."""
        net = self.model.spec.network
        for partner in self.ordered_partners():
            if partner.unique_id > self.unique_id:
                shared = self.cluster is not None and self.cluster is partner.cluster
                lapse = net.decay_rate * ((1.0 - net.shared_member_retention) if shared else 1.0)
                if self.model.random.random() < lapse:
                    self.partners.discard(partner)
                    partner.partners.discard(self)

    def search_partners(self) -> None:
        """Search a Poisson number of times, mostly in its own county.

        Members search more among their cluster's members (matchmaking by the cluster organisation).
        """
        m, net = self.model, self.model.spec.network
        for _ in range(m.rng.poisson(net.tie_attempts)):
            local = m.random.random() < net.local_share
            self.propose(m.random.choice(m.firms_in_region[self.region] if local else m.firms_now))
        if self.cluster is not None:
            for _ in range(m.rng.poisson(self.cluster.spec.facilitation_ties)):
                self.propose(m.random.choice(m.members_of[self.cluster]))

    def propose(self, other: RefFirm) -> None:
        """A tie forms with a probability falling with geographic and cognitive distance."""
        if other is self:
            return
        net = self.model.spec.network
        km = self.model.distance_km[self.region, other.region]
        cognitive = math.hypot(self.kx - other.kx, self.ky - other.ky)
        accept = math.exp(-km / net.geo_scale_km - cognitive / net.cognitive_scale)
        if self.model.random.random() < accept:
            self.partners.add(other)
            other.partners.add(self)

    def seek_institution(self) -> None:
        """R&D projects with institutions end; a firm without one may find one.

        The probability of finding one rises with its R&D effort (members more: their cluster
        brokers projects).
        """
        m, net = self.model, self.model.spec.network
        if self.institution is not None and m.random.random() < net.institution_decay_rate:
            self.institution = None
        options = m.institution_partners[self.region, self.sector]
        rate = net.institution_tie_rate * self.rd_effort * (
            1.0 + net.member_institution_boost * (self.cluster is not None))
        if self.institution is None and options and m.random.random() < rate:
            self.institution = m.random.choice(options)

    def innovate(self) -> None:
        """Innovate from own effort, an institution tie and novel knowledge over ties.

        Also plan the move of its knowledge towards its partners' (applied by :meth:`adopt_knowledge`).
        """
        inn, rnd = self.model.spec.innovation, self.model.random
        learned = pull_x = pull_y = 0.0
        for partner in self.ordered_partners():
            dx, dy = partner.kx - self.kx, partner.ky - self.ky
            r = math.hypot(dx, dy) / inn.optimal_distance
            learned += r * math.exp(1.0 - r)  # novelty peaks at the optimal cognitive distance
            pull_x, pull_y = pull_x + dx, pull_y + dy
        hazard = (inn.base_rate + inn.rd_weight * self.rd_effort
                  + inn.spillover_weight * self.absorptive * learned
                  + inn.institution_weight * (self.institution is not None)
                  + (self.cluster.spec.advisory_innovation if self.cluster is not None else 0.0))
        self.innovated = rnd.random() < -math.expm1(-hazard)
        pull = inn.convergence_rate / max(len(self.partners), 1)
        self._next_k = (min(max(self.kx + pull * pull_x + rnd.gauss(0.0, inn.drift_sd), 0.0), 1.0),
                        min(max(self.ky + pull * pull_y + rnd.gauss(0.0, inn.drift_sd), 0.0), 1.0))

    def adopt_knowledge(self) -> None:
        """Move to the knowledge position planned in :meth:`innovate`."""
        self.kx, self.ky = self._next_k

    def grow(self, demand: list[float]) -> None:
        """Grow sales, productivity and employment.

        Sales follow sector demand, potential, innovation (a smaller step for a larger firm),
        market access and a fat-tailed shock; productivity grows; employment closes part of the
        gap to what value added needs.
        """
        m, g, inn = self.model, self.model.spec.growth, self.model.spec.innovation
        access = self.market_access()
        if self.cluster is None:  # sales members take from the market through their cluster's access
            access = m.displaced.get((self.region, self.sector), 0.0)
        spread = self.employees**-g.shock_size_elasticity  # shocks are smaller for larger firms
        sd = g.shock_sd * spread
        b = min(sd / math.sqrt(2.0), MAX_LAPLACE_SCALE)
        shock = m.rng.laplace(0.0, b) + math.log1p(-b * b)  # minus log E[exp(shock)]: mean one
        step = self.innovated * self.employees**-inn.size_elasticity
        youth = g.young_growth * math.exp(-g.young_growth_fade * self.age)  # young survivors grow faster
        self.growth = demand[self.sector] + self.expected_growth() + youth + inn.demand_gain * step + access + shock
        self.revenue *= math.exp(self.growth)
        own = inn.productivity_gain * step + m.random.gauss(0.0, g.productivity_noise_sd)  # beyond the trend
        self.productivity *= math.exp(g.productivity_trend + own)
        # Intermediate inputs: the value-added share moves with own productivity, innovation and scale.
        self.va_share *= math.exp(g.va_productivity_elasticity * own + g.va_innovation_gain * step
                                  + g.va_scale_elasticity * (self.growth - demand[self.sector]))
        self.va_share = min(max(self.va_share, VA_SHARE_BOUNDS[0]), VA_SHARE_BOUNDS[1])
        gap = self.value_added / self.productivity - self.employees
        if abs(gap) >= g.adjustment_threshold * self.employees:  # a small gap waits (fixed costs of adjusting)
            self.employees += (g.hire_rate if gap > 0 else g.fire_rate) * gap
        rho, sd_potential = g.potential_persistence, m.spec.population.growth_potential_sd
        self.potential = (rho * self.potential
                          + math.sqrt(1 - rho**2) * m.random.gauss(0.0, sd_potential))
        if g.employment_shock_sd > 0:  # hires and quits that do not follow sales, with mean one in levels
            b = min(g.employment_shock_sd * spread / math.sqrt(2.0), MAX_LAPLACE_SCALE)
            self.employees *= math.exp(m.employment_shocks.laplace(0.0, b) + math.log1p(-b * b))

    def market_access(self) -> float:
        """This year's push from its cluster's market access: it fades with years of membership."""
        if self.cluster is None:
            return 0.0
        g = self.model.spec.growth
        return self.cluster.spec.market_access_growth * math.exp(-g.market_access_fade
                                                                 * (self.model.year - self.join_year))

    def maybe_close(self) -> None:
        """Close with a hazard falling with size, growth and age, or when below the minimum size."""
        m, d = self.model, self.model.spec.demography
        hazard = (d.exit_rate * self.employees**-d.exit_size_elasticity
                  * math.exp(-d.exit_growth_sensitivity * self.growth)
                  * (1 + self.age) ** -d.exit_age_elasticity)
        if m.random.random() < hazard or self.employees < m.spec.growth.min_employees:
            self.leave()
            for partner in self.partners:
                partner.partners.discard(self)
            m.exits += 1
            self.remove()

    def spins_off(self) -> bool:
        """Whether this year's innovation becomes a new firm (members spin off more)."""
        d = self.model.spec.demography
        p = d.spinoff_rate * (1.0 + d.spinoff_member_boost * (self.cluster is not None))
        return self.innovated and self.model.random.random() < p


class ReferenceModel(mesa.Model):
    """The economy of :class:`sim.model.ClusterModel`, one agent at a time."""

    def __init__(self, scenario: Scenario | None = None, rng: int = 0):
        """Build the same starting firms as ``ClusterModel(scenario, rng)``.

        Args:
            scenario: A validated scenario; defaults if None.
            rng: Integer seed; the population comes from the engine's "population" stream.
        """
        super().__init__(rng=rng)
        self.spec = spec = scenario if scenario is not None else Scenario()
        self.year = spec.scenario.start_year
        self.distance_km = region_distances_km(spec)
        self.plan = ClusterTable(spec, stream(rng, "clusters"))  # level plan, size-cap offsets
        self.clusters = [RefCluster(self, k) for k in range(len(self.plan))]
        self.institution_partners = _institution_partners(spec, self.distance_km)
        self.startups = self.exits = 0
        # Their own streams, so that a mechanism switched on leaves the other draws as they were.
        self._startup_sizes = stream(rng, "demography.startup_size")
        self.employment_shocks = stream(rng, "growth.employment")
        self._rows: list[dict[str, float]] = []
        self._add_firms(build_firms(spec, stream(rng, "population"), self.year))
        self.start_employment = self.employment()  # the labour supply's starting point

    def step(self) -> None:
        """Simulate one year: programme, membership, collaboration, innovation, growth, entry and exit.

        Then record it.
        """
        demand = self.sector_demand()
        self.startups = self.exits = 0
        for cluster in self.clusters:
            cluster.follow_plan()
        firms = self.agents_by_type[RefFirm]
        firms.do("consider_leaving")
        for firm in firms:  # this year's taste for joining, whichever cluster it considers
            firm.taste = self.spec.membership.choice_noise * self.rng.gumbel()
        for cluster in self.random.sample(self.clusters, len(self.clusters)):
            cluster.recruit()
        self.collaborate()
        firms.do("innovate")
        firms.do("adopt_knowledge")
        self.displaced = self.displacement()
        firms.do("grow", demand)
        self.demography()
        self._rows.append(self.record())
        self.year += 1
        self.running = self.year <= self.spec.scenario.end_year

    def displacement(self) -> dict[tuple[int, int], float]:
        """What non-members lose to members' market access this year, per (county, sector) market.

        Returns:
            Log points of sales growth a non-member of the market loses: ``log(1 - loss share)``, where
            the loss share is ``growth.displacement`` times members' extra sales from market access over
            non-members' sales, at most ``MAX_DISPLACED_SHARE``.
        """
        g = self.spec.growth
        gained: Counter[tuple[int, int]] = Counter()
        held: Counter[tuple[int, int]] = Counter()
        for firm in self.agents_by_type[RefFirm]:
            if firm.cluster is not None:
                gained[firm.region, firm.sector] += firm.revenue * math.expm1(firm.market_access())
            else:
                held[firm.region, firm.sector] += firm.revenue
        return {cell: math.log1p(-min(g.displacement * gained[cell] / sales, MAX_DISPLACED_SHARE))
                for cell, sales in held.items() if sales > 0}

    def sector_demand(self) -> list[float]:
        """Each sector's demand growth this year, shocks included (log points)."""
        names = list(self.spec.sectors)
        demand = [s.demand_growth for s in self.spec.sectors.values()]
        for shock in self.spec.shocks:
            if shock.year <= self.year < shock.year + shock.years:
                demand[names.index(shock.sector)] += shock.demand_change
        pressure = labour.demand_pressure(self.spec, self.employment(), self.start_employment, self.year)
        return [d - pressure for d in demand]

    def employment(self) -> float:
        """The open firms' man-years now."""
        return float(sum(f.employees for f in self.agents_by_type[RefFirm]))

    def collaborate(self) -> None:
        """Ties lapse; then firms search among the firms (and members) of the start of the phase."""
        self.firms_now = list(self.agents_by_type[RefFirm])
        self.firms_in_region: dict[int, list[RefFirm]] = {}
        self.members_of: dict[RefCluster, list[RefFirm]] = {}
        for firm in self.firms_now:
            self.firms_in_region.setdefault(firm.region, []).append(firm)
            if firm.cluster is not None:
                self.members_of.setdefault(firm.cluster, []).append(firm)
        for firm in self.firms_now:
            firm.let_ties_lapse()
        for firm in self.firms_now:
            firm.search_partners()
            firm.seek_institution()

    def demography(self) -> None:
        """Closures; then start-ups and spin-offs.

        Start-ups open where firms are (more where a cluster is active) and spin-offs from this
        year's innovators, with the population's start-up recipe at this year's productivity.
        """
        d = self.spec.demography
        self.agents_by_type[RefFirm].do("maybe_close")
        survivors = list(self.agents_by_type[RefFirm])
        hubs = {(c.region, c.sector) for c in self.clusters if c.level is not None}
        cells = Counter((f.region, f.sector) for f in survivors)
        weights = [n * (1.0 + d.cluster_entry_boost * (cell in hubs)) for cell, n in cells.items()]
        n_new = self.rng.poisson(d.entry_rate * len(survivors))
        sites = self.random.choices(list(cells), weights, k=n_new)
        parents = [f for f in survivors if f.spins_off()]
        self._found(sites)
        self._found([(p.region, p.sector) for p in parents], [(p.kx, p.ky) for p in parents])
        self.startups = n_new + len(parents)

    def record(self) -> dict[str, float]:
        """This year's row as :class:`sim.observe.register.Register` reports it (full-scale units)."""
        scale = self.spec.population.scale
        firms = list(self.agents_by_type[RefFirm])
        members = [f for f in firms if f.cluster is not None]
        active = [c for c in self.clusters if c.level is not None]
        return {
            "year": self.year,
            "firms": round(len(firms) / scale),
            "members": round(len(members) / scale),
            "clusters": len(active),
            **{f"clusters_{lv}": sum(c.level == lv for c in active) for lv in LEVELS},
            "employment": sum(f.employees for f in firms) / scale,
            "revenue_nok": sum(f.revenue for f in firms) / scale,
            "value_added_nok": sum(f.value_added for f in firms) / scale,
            "innovations": round(sum(f.innovated for f in firms) / scale),
            "ties": round(sum(len(f.partners) for f in firms) // 2 / scale),
            "startups": round(self.startups / scale),
            "exits": round(self.exits / scale),
            "programme_spend_nok": float(sum(c.spec.programme_funding_nok for c in active)),
            "member_employment": sum(f.employees for f in members) / scale,
            "institution_ties": round(sum(f.institution is not None for f in firms) / scale),
        }

    def yearly(self) -> pd.DataFrame:
        """One row per simulated year, with the engine's ``yearly`` columns it models."""
        return pd.DataFrame(self._rows)

    def _found(self, sites: list[tuple[int, int]],
               knowledge: list[tuple[float, float]] | None = None) -> None:
        if not sites:
            return
        region, sector = (np.array(column) for column in zip(*sites))
        columns = startup_firms(self.spec, self.rng, len(sites), region, sector, self.year,
                                productivity_index(self.spec, self.year))
        if knowledge:  # spin-offs start from their parent's knowledge
            columns["kx"], columns["ky"] = np.array(knowledge).T
        # A few start big: a Pareto factor on the smallest class's draw, sales in step (and those of
        # the man-years it will hire, when it is not fully staffed).
        d = self.spec.demography
        factor = (1.0 - self._startup_sizes.random(len(sites))) ** -d.startup_size_tail
        columns["employees"] = columns["employees"] * factor
        columns["revenue"] = columns["revenue"] * factor / d.startup_staffing
        self._add_firms(columns)

    def _add_firms(self, columns: dict[str, np.ndarray]) -> None:
        for i in range(len(columns["employees"])):
            RefFirm(self, {name: values[i] for name, values in columns.items()})


def _institution_partners(spec: Scenario,
                          distance_km: np.ndarray) -> dict[tuple[int, int], list[int]]:
    """For each (county, sector), the institutions a firm there may work with.

    Institutions in the county serving the sector; else any in the county; else the same choice in
    the nearest county that has an institution.
    """
    institutions = build_institutions(spec)
    n_regions = len(spec.regions)
    out: dict[tuple[int, int], list[int]] = {}
    for r in range(n_regions):
        nearest_first = sorted(range(n_regions), key=lambda q: distance_km[r, q])
        for s in range(len(spec.sectors)):
            out[r, s] = []
            for county in nearest_first:
                here = [i for i, k in enumerate(institutions) if k["region"] == county]
                if here:
                    out[r, s] = [i for i in here if s in institutions[i]["fields"]] or here
                    break
    return out
