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
import pickle
import queue
import threading
from dataclasses import dataclass
from multiprocessing.connection import Connection
from types import SimpleNamespace

import numpy as np
import pandas as pd

from sim.forked import Forked
from sim.model import ClusterModel
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario
from sim.submodels import collaboration, demography, growth, innovation, instruments, membership
from sim.submodels.instruments import cluster_links, tie_groups
from sim.submodels.programme import start_cluster_year

#: ``[levels.*]`` services a cluster organisation gives its members.
LEVEL_SERVICES = ("facilitation_ties", "market_access_growth", "advisory_innovation")
#: Firm columns the instruments set each year (copied from the factual world).
INSTRUMENT_COLUMNS = ("support_growth", "support_innovation", "extra_attempts", "area", "network_until",
                      "consortium_until")
#: Every firm column the twin reads of its factual world: the instruments' and the treated firms' outcomes.
FACTUAL_COLUMNS = (*INSTRUMENT_COLUMNS, "alive", "member", "employees", "revenue", "va_share")
#: Years queued for a twin's process (:class:`TwinProcess`): the factual process runs at most about this far ahead.
QUEUED_YEARS = 4


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


class _Recorder:
    """Keeps what the factual world's phases decide that later phases would overwrite (its observer)."""

    _opened: dict[object, dict[str, np.ndarray]]
    _membership: tuple[np.ndarray, np.ndarray, np.ndarray] | None

    def _record(self, model: ClusterModel, phase: object, rows_before: int) -> None:
        f = model.firms
        if f.n > rows_before:
            self._opened[phase] = f.take(rows_before, f.n)
        if phase is membership.membership:
            self._membership = (f.member[: f.n].copy(), f.cluster[: f.n].copy(), f.join_year[: f.n].copy())


class TwinModel(_Recorder, ClusterModel):
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
        self.ever_member = np.zeros(0, dtype=bool)  # rows that were factual members in some year
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

    def follow(self, year: FactualYear) -> None:
        """Simulate a year the factual world simulated elsewhere, from what it sent (:class:`TwinFeed`)."""
        self.factual, self._opened, self._membership = year, year.opened, year.membership
        self.step()

    def gross_table(self) -> pd.DataFrame:
        """The treated firms' man-years and value added beyond their twins, by year (:meth:`_gross_effect`)."""
        return pd.DataFrame(self.gross, columns=["year", "treatment_jobs_gross", "treatment_value_added_gross_nok"])

    def member_panel(self) -> pd.DataFrame | None:
        """The twin's firm-year panel of the firms that were members in the factual world, or None.

        The true effect compares members only with their twins (:mod:`sim.observe.estimator`), so the
        other firms' rows, nine in ten of the panel, would only be indexed and never read.
        """
        panel = self.register.firms(self.region_names, self.sector_names)
        if panel is None:
            return None
        if not self.ever_member.any():
            return panel  # no member to measure, and the estimator indexes the panel all the same
        member = np.zeros(self.firms.n, dtype=bool)  # firms opened after the last membership phase: False
        member[: len(self.ever_member)] = self.ever_member
        return panel[member[panel["firm_id"].to_numpy()]].reset_index(drop=True)

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
    tie_groups(t, [group[f.alive[group]] for group in [*events.network_groups,
                                                       *([] if t.withhold else events.green_groups)]])
    cluster_links(t)  # nothing to do when withheld: the twin's scenario has no links
    t.instrument_events = events


def _membership(t: TwinModel) -> None:
    """The factual members, where the firm is open in the twin world too."""
    member, cluster, join_year = t._membership
    f, n = t.firms, len(t._membership[0])
    t.ever_member = np.concatenate([t.ever_member, np.zeros(n - len(t.ever_member), dtype=bool)])
    t.ever_member |= member
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


@dataclass
class FactualYear:
    """What a twin reads of its factual world's year, as it stood at the year's end.

    The attributes the twin reads of a :class:`~sim.model.ClusterModel`, so that the twin steps on it
    unchanged; sent to another process (:class:`TwinProcess`), which copies them as it sends.
    """

    year: int
    spec: Scenario
    clusters: object
    funding_factor: float
    events: object
    instrument_events: object
    startups: int
    firms: SimpleNamespace
    opened: dict[object, dict[str, np.ndarray]]
    membership: tuple[np.ndarray, np.ndarray, np.ndarray] | None


class TwinFeed(_Recorder):
    """The factual world's side of a twin that runs elsewhere: its observer, and each year's copy."""

    def __init__(self, factual: ClusterModel):
        """Observe a factual model that has not yet stepped.

        Args:
            factual: The factual model; its ``observer`` is taken.
        """
        if factual.observer is not None:
            raise ValueError("a factual model has one twin")
        self.factual = factual
        self._opened, self._membership = {}, None
        factual.observer = self._record

    def year(self) -> FactualYear:
        """The year the factual model has just simulated, for its twin: views, to be sent at once."""
        m, n = self.factual, self.factual.firms.n
        firms = SimpleNamespace(**{c: getattr(m.firms, c)[:n] for c in FACTUAL_COLUMNS})
        year = FactualYear(m.year, m.spec, m.clusters, m.funding_factor, m.events, m.instrument_events,
                           m.startups, firms, self._opened, self._membership)
        self._opened = {}
        return year


@dataclass
class TwinOutcome:
    """What the runner takes from a finished twin (:func:`sim.runner.run`)."""

    yearly: pd.DataFrame
    gross: pd.DataFrame
    panel: pd.DataFrame | None
    seconds: float


def twin_outcome(twin: TwinModel) -> TwinOutcome:
    """The finished twin's yearly table, gross gains, members' panel and seconds."""
    return TwinOutcome(twin.register.yearly(), twin.gross_table(), twin.member_panel(),
                       sum(twin.phase_seconds.values()))


class TwinProcess:
    """A twin world stepped in a second process, a year behind its factual model (two cores, one run).

    The factual process sends each year's :class:`FactualYear` through a pipe; the twin follows it
    while the factual world simulates the next year, and sends back its :class:`TwinOutcome`. The
    twin computes exactly what it computes in the factual model's process (a test checks it). The
    second process is forked (:class:`sim.forked.Forked`), so it starts with the factual model as built.
    """

    def __init__(self, factual: ClusterModel):
        """Fork the twin's process; take the factual model's observer.

        Args:
            factual: A factual model that has not yet stepped.
        """
        self._twin = Forked(_follow, (factual,), "twin world")  # before the feed takes the observer
        self._pipe, self._sent_spec = self._twin.pipe, None
        self.feed = TwinFeed(factual)
        # A pipe takes a year's 20 MB only as fast as the twin reads them: a thread writes them, so that
        # the factual world goes on to its next year. A few years queued at most bound the memory.
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=QUEUED_YEARS)
        self._writer = threading.Thread(target=self._write, name="twin-feed", daemon=True)
        self._writer.start()

    available = staticmethod(Forked.available)

    def step(self) -> None:
        """Send the year the factual model has just simulated."""
        year = self.feed.year()
        if year.spec is self._sent_spec:
            year.spec = None  # the twin keeps the scenario it has: a new one only after a change
        else:
            self._sent_spec = year.spec
        self._send(year)

    def end(self) -> None:
        """Tell the twin that the factual model has simulated its last year (it then makes its outcome)."""
        self._send(None)

    def _send(self, message: FactualYear | None) -> None:
        """Queue a year (or the end, None) for the writer; raise the twin's error if it has stopped."""
        data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)  # now, while the views hold this year
        if self._twin.ended() or not self._put(data):
            self.outcome()  # raises the twin's error, or that it died

    def _put(self, item: bytes | None) -> bool:
        """Queue an item for the writer while it runs (it stops when the twin stops reading); False if it stopped."""
        while self._writer.is_alive():
            try:
                self._queue.put(item, timeout=0.5)
                return True
            except queue.Full:
                continue
        return False

    def _write(self) -> None:
        """The writer thread: send each queued year, until the end or until the twin stops reading."""
        while (data := self._queue.get()) is not None:
            try:
                self._pipe.send_bytes(data)
            except OSError:
                return  # the twin stopped: its error, if it sent one, waits in the pipe for outcome()

    def outcome(self) -> TwinOutcome:
        """Wait for the twin's outcome, after :meth:`end`.

        Raises:
            Whatever the twin's process raised, or RuntimeError if it died.
        """
        self._put(None)  # the writer sends what it has, then stops
        self._writer.join()
        return self._twin.outcome()

    def close(self) -> None:
        """Stop the twin's process (an interrupted or failed run), then the writer, and drop what it held."""
        self._twin.close()  # the writer's send, if any, now fails at once
        while True:
            try:
                self._queue.get_nowait()
            except queue.Empty:
                break
        self._queue.put(None)
        self._writer.join()


def _follow(pipe: Connection, factual: ClusterModel) -> TwinOutcome:
    """The twin's process: follow each year sent, until the end."""
    twin, spec = TwinModel(factual), factual.spec
    while (year := pipe.recv()) is not None:
        if year.spec is None:
            year.spec = spec  # the same object each year, so the twin sees no change of scenario
        spec = year.spec
        twin.follow(year)
    return twin_outcome(twin)
