"""The twin world: the same economy and the same luck, but members get nothing from membership.

The published gap compares members with matched non-members, so it mixes what the programme
did with who chose to join. The model can also ask what the members themselves would have done
untreated. :class:`TwinModel` runs beside a factual :class:`~sim.model.ClusterModel`, one year
behind it in lockstep, and copies every decision that is not a member firm's own response:

- the programme operator's clusters, levels and funding (the same calls and evaluations);
- who is a member of which cluster, from which year (the same treated firms at the same time);
- every instrument's choices: restructuring areas and their support, corporate networks and
  their ties, Green Platform consortia;
- every start-up and spin-off, so that a firm keeps its row, and with it its random numbers
  (:mod:`sim.engine.randomness`), in both worlds.

Entry the clusters cause is part of the effect, so with the services withheld the twin's copy of
such a firm is never born (its row stays closed and is never recorded): the foreign subsidiaries
that NCE and GCE clusters draw, and every spin-off whose parent does not spin off in the twin,
because the parent has closed there, or because only the members' boost to spinning off
(``demography.spinoff_member_boost``, withheld like the other services) made it spin off. Their
jobs, and those of their own spin-offs, are in ``treatment_jobs``.

What the twin simulates itself is how firms collaborate, innovate, grow and close, with the
cluster organisations' services withheld from members (:func:`withhold_services`): no brokered
partner searches, no market access, no advisory service, no brokered R&D projects, no longer-
lived ties between co-members, no cluster-to-cluster projects, and no Green Platform support (it
reaches members only). A member's growth in the factual world minus its growth in the twin is
the true effect of its membership; with nothing withheld the twin reproduces the factual run
exactly (a test checks this).
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd

from sim.model import ClusterModel
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario
from sim.submodels import collaboration, demography, growth, innovation, instruments, membership
from sim.submodels.instruments import cluster_links, tie_group
from sim.submodels.programme import start_cluster_year

#: ``[levels.*]`` services a cluster organisation gives its members.
LEVEL_SERVICES = ("facilitation_ties", "market_access_growth", "advisory_innovation")
#: Firm columns the instruments set each year (copied from the factual world).
INSTRUMENT_COLUMNS = ("support_growth", "support_innovation", "extra_attempts", "area", "network_until",
                      "consortium_until")


def withhold_services(spec: Scenario) -> Scenario:
    """The scenario with every service of membership switched off.

    Args:
        spec: A validated scenario.

    Returns:
        The same scenario with the levels' services, the brokered R&D projects, the retention of
        ties between co-members, the members' boost to spinning off and the cluster-to-cluster links
        set to nothing.
    """
    levels = {lv: spec.levels.get(lv).model_copy(update=dict.fromkeys(LEVEL_SERVICES, 0.0)) for lv in LEVELS}
    network = spec.network.model_copy(update={"member_institution_boost": 0.0, "shared_member_retention": 0.0})
    demography = spec.demography.model_copy(update={"spinoff_member_boost": 0.0})
    return spec.model_copy(update={"levels": spec.levels.model_copy(update=levels), "network": network,
                                   "demography": demography, "cluster_links": []})


class TwinModel(ClusterModel):
    """The factual model's twin, stepped right after it each year (see the module docstring).

    Each year the twin takes the scenario the factual model ran that year (policy changes and
    policy inputs moved mid-run in the app included), with the services withheld.

    Attributes:
        factual: The model it mirrors.
        withhold: Whether members' services are withheld (``False`` gives an exact copy).
    """

    def __init__(self, factual: ClusterModel, withhold: bool = True, keep_panel: bool = True):
        """Build the twin of a model that has not yet stepped.

        Args:
            factual: The factual model; its ``observer`` is taken to record what the twin copies.
            withhold: Withhold the services of membership.
            keep_panel: Keep the twin's firm-year panel (the true effect is measured on it).

        Raises:
            ValueError: The factual model has already stepped or is already observed.
        """
        if factual.year != factual.spec.scenario.start_year or factual.observer is not None:
            raise ValueError("a twin must be made before its factual model steps, and only one")
        super().__init__(factual.spec, rng=factual.seed, keep_panel=keep_panel)
        self.factual, self.withhold = factual, withhold
        self._changes = {}  # the scenario in force comes from the factual model, year by year
        self._source_spec: Scenario | None = None
        self._opened: dict[object, dict[str, np.ndarray]] = {}
        self._membership: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None
        self.unborn = np.zeros(0, dtype=np.int64)  # rows of firms the clusters caused (never born here)
        self.gross: list[tuple[int, float, float]] = []  # (year, jobs, value added) of the treated firms
        factual.observer = self._record

    def step(self) -> None:
        """Simulate the year the factual model has just simulated."""
        if self.factual.year != self.year + 1:
            raise RuntimeError(f"the twin steps right after its factual model "
                               f"(twin {self.year}, factual {self.factual.year - 1})")
        if self.factual.spec is not self._source_spec:  # a policy change, or a control moved in the app
            self._source_spec = self.factual.spec
            self.spec = withhold_services(self.factual.spec) if self.withhold else self.factual.spec
        super().step()
        self.gross.append((self.year - 1, *self._gross_effect()))

    def _gross_effect(self) -> tuple[float, float]:
        """Man-years and value added the treated firms have beyond their twins this year (full-scale units).

        The treated firms are this year's members and the open firms the clusters caused (never born in
        the twin). The whole economy's difference is the net effect: it also holds what the treated
        firms took from the others (displacement, a tighter labour market).
        """
        fact, f, n = self.factual.firms, self.firms, self.firms.n
        treated = np.flatnonzero(fact.alive[:n] & fact.member[:n])
        treated = np.union1d(treated, self.unborn[fact.alive[self.unborn]])
        here = f.alive[treated]
        jobs = fact.employees[treated].sum() - f.employees[treated][here].sum()
        va = (fact.revenue[treated] * fact.va_share[treated]).sum() - (
            f.revenue[treated] * f.va_share[treated])[here].sum()
        scale = self.spec.population.scale
        return float(jobs / scale), float(va / scale)

    def gross_table(self) -> pd.DataFrame:
        """The treated firms' man-years and value added beyond their twins, by year (:meth:`_gross_effect`)."""
        return pd.DataFrame(self.gross, columns=["year", "treatment_jobs_gross", "treatment_value_added_gross_nok"])

    def _record(self, model: ClusterModel, phase: object, rows_before: int) -> None:
        """Keep what the factual world's phase decided that later phases would overwrite."""
        f = model.firms
        if f.n > rows_before:
            self._opened[phase] = f.take(rows_before, f.n)
        if phase is membership.membership:
            self._membership = (f.member[: f.n].copy(), f.cluster[: f.n].copy(), f.join_year[: f.n].copy())

    def _open_as_factual(self, phase: object) -> None:
        """Open the firms the factual world opened in ``phase``, as they stood at its end."""
        batch = self._opened.pop(phase, None)
        if batch is not None:
            self.firms.append(batch)


def _programme(t: TwinModel) -> None:
    """The factual operator's clusters, levels and funding."""
    t.clusters = copy.deepcopy(t.factual.clusters)
    t.funding_factor, t.events = t.factual.funding_factor, t.factual.events
    start_cluster_year(t)


def _instruments(t: TwinModel) -> None:
    """The factual instruments' choices; Green Platform support and consortia withheld."""
    fact, f = t.factual, t.firms
    n = f.n
    for name in INSTRUMENT_COLUMNS:
        getattr(f, name)[:n] = getattr(fact.firms, name)[:n]
    events = fact.instrument_events
    green = fact.spec.green_platform
    if t.withhold and green.enabled and t.year >= green.from_year:
        # Every firm in a running consortium got exactly this much this year (sim.submodels.instruments._groups).
        f.support_innovation[:n][f.consortium_until[:n] >= t.year] -= green.innovation_support
    t._open_as_factual(instruments.instruments)
    if t.withhold:
        never_born(t, np.concatenate([np.zeros(0, dtype=np.int64), *events.foreign_rows]))
    for group in [*events.network_groups, *([] if t.withhold else events.green_groups)]:
        tie_group(t, group[f.alive[group]])
    cluster_links(t)  # nothing to do when withheld: the twin's scenario has no links
    t.instrument_events = events


def _membership(t: TwinModel) -> None:
    """The factual members, where the firm is open in the twin world too."""
    member, cluster, join_year = t._membership
    f, n = t.firms, len(t._membership[0])
    member = member & f.alive[:n]
    f.member[:n] = member
    f.cluster[:n] = np.where(member, cluster, -1)
    f.join_year[:n] = np.where(member, join_year, -1)


def _demography(t: TwinModel) -> None:
    """Exits of the twin's own firms; the factual world's start-ups, and the spin-offs the twin's firms make."""
    _, parents = demography.exits(t)
    first = t.firms.n
    t._open_as_factual(demography.demography)
    if t.withhold:
        f = t.firms
        new = np.arange(first, f.n)
        spun = new[f.parent[new] >= 0]
        never_born(t, spun[~np.isin(f.parent[spun], parents)])
    t.startups = t.factual.startups


def never_born(t: TwinModel, rows: np.ndarray) -> None:
    """Firms the factual world opened that the twin would not have: closed from birth, never recorded.

    Their rows stay, so every later firm keeps its row and its random numbers in both worlds.
    """
    f = t.firms
    f.alive[rows], f.member[rows], f.cluster[rows], f.join_year[rows] = False, False, -1, -1
    t.unborn = np.concatenate([t.unborn, rows.astype(np.int64)])


# The factual schedule (sim.model.SCHEDULE) with the twin's own programme, instruments, membership and demography.
TwinModel.phases = (_programme, _instruments, _membership, collaboration.collaboration, innovation.innovation,
                    growth.growth, _demography)
