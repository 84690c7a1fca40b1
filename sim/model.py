"""ClusterModel: the Mesa model of firms, cluster organisations and knowledge institutions.

One step is one year. The yearly schedule, :data:`SCHEDULE`, runs these phases in order, each
updating all firms at once (docs/ODD.md, section 3 and 7, states each rule):

===  ==============  ===========================================================  ===========================
 #   phase           what happens                                                 module (its kernels)
===  ==============  ===========================================================  ===========================
 1   programme       calls, evaluations, upgrades and funding; members of          ``submodels/programme.py``
                     clusters that left drop out
 2   instruments     restructuring, corporate networks, Green Platform,            ``submodels/instruments.py``
                     cluster-to-cluster links, foreign investment
 3   membership      members may leave; each active cluster recruits               ``submodels/membership.py``
                                                                                  (``engine/membership.py``)
 4   collaboration   ties lapse and form; R&D ties to institutions                 ``submodels/collaboration.py``
                                                                                  (``engine/collaboration.py``)
 5   innovation      innovation from own effort, institutions and partners         ``submodels/innovation.py``
                                                                                  (``engine/innovation.py``)
 6   growth          sales, productivity, employment, latent potential             ``submodels/growth.py``
                                                                                  (``engine/growth.py``)
 7   demography      exits, start-ups and spin-offs                                ``submodels/demography.py``
                                                                                  (``engine/demography.py``)
 8   record          the year's register (not a phase of the schedule: always last) ``observe/register.py``
                                                                                  (``engine/register.py``)
===  ==============  ===========================================================  ===========================

The seconds each took over a run are in :attr:`ClusterModel.phase_seconds` (and ``summary.json``).
"""

from __future__ import annotations

import time
from collections import defaultdict

import mesa
import numpy as np

from sim.agents import ClusterOrganisation, Firm, KnowledgeInstitution
from sim.engine import randomness
from sim.engine.network import ties_between_open
from sim.observe.register import Register
from sim.scenario.errors import ScenarioError
from sim.scenario.limits import MAX_FIRM_ROWS, MAX_FIRM_YEARS, MAX_FIRMS
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario
from sim.scenario.validation import scenarios_by_year
from sim.submodels import collaboration, demography, growth, innovation, instruments, labour, membership, programme
from sim.submodels.instruments import InstrumentState
from sim.world.clusters import ClusterTable
from sim.world.firms import FirmTable
from sim.world.geography import region_distances_km
from sim.world.network import TieSet
from sim.world.population import build_firms, build_institutions, productivity_index

#: The yearly schedule: the phases of the table above, in order.
SCHEDULE = (programme.programme, instruments.instruments, membership.membership, collaboration.collaboration,
            innovation.innovation, growth.growth, demography.demography)


def stream(seed: int, name: str, year: int = 0) -> np.random.Generator:
    """An independent random stream for one named draw.

    Args:
        seed: The run's seed.
        name: What the numbers are for ("population", "growth.shock", ...).
        year: The simulated year (0 for draws made once).

    Returns:
        A generator that depends only on ``seed``, ``name`` and ``year``.
    """
    return randomness.generator(seed, name, year)


class ClusterModel(mesa.Model):
    """Norwegian firms joining innovation clusters, collaborating, innovating and growing.

    One step is one year. Firm state lives in ``self.firms`` (columns); ``Firm`` agents are
    views on its rows, made when Mesa's agent sets are asked for. A firm's random draws are
    keyed by (seed, purpose, year, firm) so that two scenarios give each firm the same luck.

    Attributes:
        spec: The validated scenario.
        year: The year the next ``step()`` simulates.
        firms: Firm columns.
        clusters: Cluster organisations and their level plan.
        ties: Firm-firm collaboration ties.
        register: Everything recorded so far.
        observer: Called as ``observer(model, phase, rows_before)`` after each phase, where
            ``rows_before`` is the firm count before it (the twin world records what it mirrors).
        phase_seconds: Seconds spent so far building the economy (``build``), in each phase (by
            its name in the schedule) and recording (``record``).
    """

    phases = SCHEDULE

    def __init__(self, scenario: Scenario | None = None, rng: int | np.random.Generator | None = 0,
                 keep_panel: bool | None = None):
        """Build the synthetic economy for the scenario's start year.

        Args:
            scenario: A validated scenario (``sim.load_scenario``); defaults if None.
            rng: An integer seed, a Generator to draw one from, or None for fresh entropy.
            keep_panel: Keep the firm-year panel; defaults to the scenario's ``output.firm_panel``.
        """
        started = time.perf_counter()
        seed = _seed_from(rng)
        super().__init__(rng=seed)
        self.seed = seed
        self.spec = spec = scenario if scenario is not None else Scenario()
        self.year = spec.scenario.start_year
        self.region_names, self.sector_names = list(spec.regions), list(spec.sectors)
        self.distance_km = region_distances_km(spec)
        self.firms = FirmTable(build_firms(spec, stream(seed, "population"), self.year))
        self.start_employment = self.employment()  # the labour supply's starting point
        self.ties = TieSet()
        self.clusters = ClusterTable(spec, stream(seed, "clusters"))
        self.institutions = build_institutions(spec)
        self.institution_options = _institution_options(self)
        self.startups = 0
        self.funding_factor = 1.0  # share of level funding paid this year (below 1 after a cut)
        self.startups_extra = 0  # firms opened by the instruments this year (restructuring, foreign entry)
        self._changes = scenarios_by_year(spec)
        early = [year for year in self._changes if year < self.year]
        if early:  # a change dated before the start holds from the start
            self._changes.setdefault(self.year, self._changes[max(early)])
        self.instrument_state = InstrumentState(
            track_county_jobs=any(s.restructuring.enabled for s in (spec, *self._changes.values())))
        self._closed: list[np.ndarray] = []
        self._per_level: dict[str, tuple[Scenario, np.ndarray]] = {}
        self.register = Register(spec.output.firm_panel if keep_panel is None else keep_panel)
        self._firm_agents: dict[int, Firm] = {}
        self._cluster_agents = -1  # clusters with their ClusterOrganisation agent so far (-1: no views yet)
        self.observer = None
        self._firm_years = 0  # open firm-years so far, against MAX_FIRM_YEARS
        self.phase_seconds: defaultdict[str, float] = defaultdict(float)
        self.phase_seconds["build"] = time.perf_counter() - started

    def step(self) -> None:
        """Simulate one year: every phase in order, then record it."""
        self.spec = self._changes.get(self.year, self.spec)  # policy changes from this year on
        self.sector_demand = self._demand(self.year)
        self._closed = []
        self.startups_extra = 0
        clock, seconds = time.perf_counter, self.phase_seconds
        for phase in self.phases:
            rows_before = self.firms.n
            started = clock()
            phase(self)
            seconds[phase.__name__.lstrip("_")] += clock() - started  # the twin's own phases are _private
            if self.observer is not None:
                self.observer(self, phase, rows_before)
        started = clock()
        closed = np.concatenate(self._closed) if self._closed else np.zeros(0, dtype=np.int64)
        self.register.record(self, closed)
        seconds["record"] += clock() - started
        self._check_size()
        self.year += 1
        self.running = self.year <= self.spec.scenario.end_year

    def _check_size(self) -> None:
        """Stop a run whose economy outgrows what memory holds (entry far above exits), with one line."""
        open_firms, rows = len(self.firms.alive_rows()), self.firms.n
        self._firm_years += open_firms
        if open_firms > MAX_FIRMS or rows > MAX_FIRM_ROWS or self._firm_years > MAX_FIRM_YEARS:
            raise ScenarioError(
                f"scenario {self.spec.scenario.name}", "demography.entry_rate",
                f"by {self.year} the economy grew to {open_firms:,} open firms, {rows:,} ever opened and "
                f"{self._firm_years:,} firm-years (at most {MAX_FIRMS:,}, {MAX_FIRM_ROWS:,} and {MAX_FIRM_YEARS:,}, "
                "for memory): entry outpaces exits; lower demography.entry_rate or population.scale")

    def stream(self, name: str) -> np.random.Generator:
        """The random stream of one named draw in the current year (see :func:`stream`)."""
        return stream(self.seed, name, self.year)

    def per_cluster(self, name: str) -> np.ndarray:
        """A ``[levels.*]`` parameter for each cluster at its level this year (0 where inactive)."""
        spec, table = self._per_level.get(name, (None, None))
        if spec is not self.spec:  # once per parameter and (frozen) scenario: a year asks for a dozen
            table = np.array([getattr(self.spec.levels.get(lv), name) for lv in LEVELS] + [0.0])
            self._per_level[name] = (self.spec, table)
        return table[self.clusters.level]  # INACTIVE = -1 picks the trailing 0

    def uniform(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Each firm's own uniform draw for one purpose this year (see :mod:`sim.engine.randomness`)."""
        return randomness.uniform(self.seed, name, self.year, rows)

    def keys(self, *names: str) -> np.ndarray:
        """The hashed keys of this year's draws for some purposes, for the compiled phase kernels."""
        return randomness.keys(self.seed, names, self.year)

    def open(self, columns: dict[str, np.ndarray]) -> np.ndarray:
        """Add new firms (start-ups, spin-offs); return their rows."""
        if len(columns["employees"]) == 0:
            return np.zeros(0, dtype=np.int64)
        return self.firms.append(columns)

    def close(self, rows: np.ndarray) -> None:
        """Close firms: they leave their cluster and lose their ties (their agents go at the next sync)."""
        f = self.firms
        f.close(rows, self.year)
        self.ties.keep(ties_between_open(self.ties.a, self.ties.b, f.alive))
        self._closed.append(rows)

    @property
    def agents(self):  # noqa: D102 - Mesa's property, with the view agents brought up to date
        self.sync_agents()
        return super().agents

    @property
    def agents_by_type(self):  # noqa: D102 - Mesa's property, with the view agents brought up to date
        self.sync_agents()
        return super().agents_by_type

    def sync_agents(self) -> None:
        """Bring the view agents up to date with the tables.

        Every knowledge institution and every cluster in the cluster table (listed or admitted
        by the operator) gets its agent; every open firm gets a ``Firm`` agent and the agents of
        closed firms are removed. The phases never need these views, so they are made when
        Mesa's agent sets are asked for (by a user, the app or a data collector), not as firms
        enter and exit: creating and removing 750,000 Mesa agents over a full-scale run would
        cost a third of its time.
        """
        if "firms" not in self.__dict__:
            return  # still inside mesa.Model.__init__
        if self._cluster_agents < 0:
            for i, inst in enumerate(self.institutions):
                KnowledgeInstitution(self, i, inst["name"], inst["region"], inst["fields"])
            self._cluster_agents = 0
        for k in range(self._cluster_agents, len(self.clusters)):
            ClusterOrganisation(self, k)
        self._cluster_agents = len(self.clusters)
        alive = self.firms.alive[: self.firms.n]
        for row in [r for r in self._firm_agents if not alive[r]]:
            self._firm_agents.pop(row).remove()
        if len(self._firm_agents) < int(alive.sum()):
            for row in np.flatnonzero(alive).tolist():
                if row not in self._firm_agents:
                    self._firm_agents[row] = Firm(self, row)

    def _demand(self, year: int) -> np.ndarray:
        demand = np.array([s.demand_growth for s in self.spec.sectors.values()])
        for shock in self.spec.shocks:
            if shock.year <= year < shock.year + shock.years:
                demand[self.sector_names.index(shock.sector)] += shock.demand_change
        return demand - labour.demand_pressure(self.spec, self.employment(), self.start_employment, year)

    def employment(self) -> float:
        """The open firms' man-years now (simulated firms, not scaled to Norway)."""
        f = self.firms
        return float(f.employees[: f.n][f.alive[: f.n]].sum())

    def productivity_index(self) -> float:
        """Productivity of a new firm this year relative to the sectors' tables (the trend since their year)."""
        return productivity_index(self.spec, self.year)


def _seed_from(rng: int | np.random.Generator | None) -> int:
    if isinstance(rng, (int, np.integer)):
        return int(rng)
    if isinstance(rng, np.random.Generator):
        return int(rng.integers(2**63))
    return int(np.random.SeedSequence().entropy % 2**63)


def _institution_options(m: ClusterModel) -> tuple[np.ndarray, np.ndarray]:
    """For each (county, sector): the institutions a firm there would partner with.

    Institutions in the firm's county serving its sector come first; else any in its county;
    else those of the nearest county that has one.
    """
    n_r, n_s = len(m.region_names), len(m.sector_names)
    insts = m.institutions
    in_region = [[] for _ in range(n_r)]
    for i, k in enumerate(insts):
        in_region[k["region"]].append(i)
    by_distance = np.argsort(m.distance_km, axis=1, kind="stable").tolist()
    lists = [[[] for _ in range(n_s)] for _ in range(n_r)]
    for r in range(n_r):
        near = next((q for q in by_distance[r] if in_region[q]), None)
        if near is None:
            continue  # no institutions anywhere
        for s in range(n_s):
            lists[r][s] = [i for i in in_region[near] if s in insts[i]["fields"]] or in_region[near]
    width = max((len(x) for row in lists for x in row), default=1) or 1
    options = np.full((n_r, n_s, width), -1, dtype=np.int32)
    counts = np.zeros((n_r, n_s), dtype=np.int64)
    for r in range(n_r):
        for s in range(n_s):
            options[r, s, : len(lists[r][s])] = lists[r][s]
            counts[r, s] = len(lists[r][s])
    return options, counts

