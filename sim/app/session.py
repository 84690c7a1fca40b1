"""One classroom session: the lesson, the seed, the moved controls and the worlds being simulated.

The app shows three worlds that share a seed, and so, firm by firm, the same random numbers
(:mod:`sim.engine.randomness`):

* ``main``: the lesson's scenario with the user's settings of the controls;
* ``twin``: the twin world of ``main`` (:class:`sim.twin.TwinModel`): the same firms, members
  and luck, but members get nothing from their membership. A member's growth in ``main`` minus
  its growth in the twin is the true effect of membership, which the raw member-vs-non-member
  gap mixes with selection;
* ``reference``: the classroom scenario as shipped, drawn dashed where the lesson or the controls
  made ``main`` differ from it.

Beside them, :data:`SPREAD_SEEDS` more world-and-twin pairs run the same lesson and controls with
the next seeds, so that the selection chart can draw how far the raw gap and the true effect
move from seed to seed: at the classroom's 2 % scale a few dozen members make these averages,
and a lesson's step is only worth showing when it is larger than that spread.

Controls apply from the next simulated year (the worlds read their scenario afresh every year);
the seed and the lesson restart the run. Plain Python without Solara, so tests and the benchmark
can drive it directly; a lock makes the play loop and button clicks take turns.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.app.controls import BY_NAME, Value, overrides
from sim.app.lessons import FREE_PLAY, Lesson, load_lessons
from sim.model import ClusterModel
from sim.observe.columns import YEARLY_COLUMNS
from sim.scenario.limits import check_seed
from sim.scenario.schema import Scenario
from sim.twin import TwinModel

PERCENT = 100.0
WORLDS = ("main", "twin", "reference")
SPREAD_SEEDS = 4  # more seeds stepped beside the class seed for the spread band (about 10 ms a year each)
MAX_SEED = 2**63  # seeds are 0 to 2^63 - 1; the spread's seeds wrap around
# The columns the views read, for the empty table before the first year.
EMPTY_YEARLY = (*YEARLY_COLUMNS, *(f"growth_{who}_{var}_pct" for who in ("members", "nonmembers")
                                   for var in ("employees", "value_added_nok")))


@dataclass(frozen=True)
class Effect:
    """Members' growth advantage in one year, raw and true (value added, percentage points).

    Attributes:
        year: The simulated year.
        raw_gap_pp: Members' mean growth minus non-members' (what a naive comparison shows).
        true_effect_pp: Members' mean growth minus the same firms' mean growth in the twin world.
        members: Firms behind ``true_effect_pp``.
    """

    year: int
    raw_gap_pp: float
    true_effect_pp: float
    members: int


@dataclass(frozen=True)
class Sizes:
    """How large joiners are beside the firms outside the clusters (man-years, simulated firms).

    Attributes:
        joiners: Median size, in the year before they joined, of the firms that joined so far.
        others: Median size of the firms outside the clusters, over the same years.
        joined: How many firms joined so far.
    """

    joiners: float
    others: float
    joined: int


class TwinPair:
    """A world and its twin without services, stepped together; the effect of membership each year.

    Attributes:
        main: The world.
        twin: Its twin (:class:`sim.twin.TwinModel`).
        effects: One :class:`Effect` per simulated year.
    """

    def __init__(self, scenario: Scenario, seed: int):
        """Build the pair.

        Args:
            scenario: The world's scenario.
            seed: Its seed.
        """
        self.main = ClusterModel(scenario, rng=seed, keep_panel=False)
        self.twin = TwinModel(self.main, keep_panel=False)
        self.effects: list[Effect] = []
        self._joiner_sizes: list[np.ndarray] = []
        self._other_sizes: list[np.ndarray] = []
        self._previous = {name: _snapshot(model) for name, model in self._models().items()}

    def step(self) -> None:
        """Simulate the next year in both worlds and record its effect."""
        self.main.step()
        self.twin.step()
        self.effects.append(self._effect())

    def sizes(self) -> Sizes:
        """Joiners' median size when they joined beside the other firms', over the years so far."""
        joiners = np.concatenate(self._joiner_sizes) if self._joiner_sizes else np.array([])
        others = np.concatenate(self._other_sizes) if self._other_sizes else np.array([])
        median = (lambda x: float(np.median(x)) if len(x) else np.nan)  # noqa: E731 - local shorthand
        return Sizes(median(joiners), median(others), len(joiners))

    def _models(self) -> dict[str, ClusterModel]:
        return {"main": self.main, "twin": self.twin}

    def _effect(self) -> Effect:
        """Members' raw gap and true effect in the year just simulated; who joined and how large."""
        now = {name: _snapshot(model) for name, model in self._models().items()}
        before = self._previous
        rows = len(before["main"]["va"])  # a firm has the same row in both worlds
        both = np.ones(rows, dtype=bool)
        for name in now:
            both &= now[name]["alive"][:rows] & before[name]["alive"][:rows] & (before[name]["va"][:rows] > 0)
        member = self.main.firms.member[:rows]
        treated = both & member
        growth = {name: now[name]["va"][:rows][treated] / before[name]["va"][:rows][treated] - 1.0 for name in now}
        was_open = before["main"]["alive"][:rows]
        self._joiner_sizes.append(before["main"]["employees"][was_open & member & ~before["main"]["member"]])
        self._other_sizes.append(before["main"]["employees"][was_open & ~before["main"]["member"]])
        self._previous = now
        row = self.main.register.yearly().iloc[-1]
        raw = row["growth_members_value_added_nok_pct"] - row["growth_nonmembers_value_added_nok_pct"]
        true = PERCENT * float(np.mean(growth["main"] - growth["twin"])) if treated.any() else np.nan
        return Effect(int(row["year"]), float(raw), true, int(treated.sum()))


class Session:
    """The state behind one browser tab of the app.

    Attributes:
        lessons: The presets, free play first.
        lesson: The current lesson.
        seed: Seed shared by the three worlds.
        moved: Control name -> value for the controls the user moved away from the lesson's values.
        worlds: ``main``, ``twin`` and ``reference`` models.
        pair: The class seed's world and twin (``worlds["main"]`` and ``worlds["twin"]``).
        spread: The same lesson and controls with the next :data:`SPREAD_SEEDS` seeds.
        events: (year, text) of control changes during the run, for marks on the plots.
        version: Increases with every change; the app redraws what depends on it.
    """

    def __init__(self, lesson: str = FREE_PLAY, seed: int = 0, lessons: list[Lesson] | None = None):
        """Load the lessons and build the worlds of the first one.

        Args:
            lesson: Key of the lesson to start with.
            seed: Seed of the run.
            lessons: The presets, free play first (:func:`sim.app.lessons.load_lessons`); read
                from ``scenarios/`` if None.
        """
        self.lessons = lessons if lessons is not None else load_lessons()
        self.lesson = self._lesson(lesson)
        self.seed = check_seed(seed, "Seed")
        self.moved: dict[str, Value] = {}
        self.version = 0
        self._cache_version, self._cache = -1, {}
        self._lock = threading.RLock()
        self.reset()

    # --- what the controls do -------------------------------------------------------------

    def reset(self) -> None:
        """Start the run again from the lesson's first year with the current controls and seed."""
        with self._lock:
            self.lesson_scenario = self.lesson.scenario()
            self.scenario = self.lesson.scenario(overrides(self.moved))
            self.pair = TwinPair(self.scenario, self.seed)
            self.spread = [TwinPair(self.scenario, seed) for seed in self.spread_seeds]
            reference = ClusterModel(self.lessons[0].scenario(), rng=self.seed, keep_panel=False)
            self.worlds = {"main": self.pair.main, "twin": self.pair.twin, "reference": reference}
            self.events: list[tuple[int, str]] = []
            self._changed()

    def step(self, years: int = 1) -> int:
        """Simulate up to ``years`` years in every world.

        Args:
            years: How many years.

        Returns:
            How many were simulated (fewer at the scenario's last year).
        """
        done = 0
        with self._lock:
            while done < years and self.running:
                for pair in (self.pair, *self.spread):
                    pair.step()
                done += 1
            self._catch_up_reference()
            if done:
                self._changed()
        return done

    def choose_lesson(self, key: str) -> None:
        """Switch to another lesson: its scenario, its control values, a fresh run."""
        with self._lock:
            self.lesson = self._lesson(key)
            self.moved = {}
            self.reset()

    def set_seed(self, seed: int) -> None:
        """Use another seed and restart the run.

        Args:
            seed: The new seed, 0 to 2^63 - 1.

        Raises:
            ScenarioError: The seed is not such an integer (nothing changes then).
        """
        with self._lock:
            self.seed = check_seed(seed, "Seed")
            self.reset()

    def set_control(self, name: str, value: Value) -> None:
        """Move a control; the running worlds follow from the next simulated year.

        Args:
            name: A control of :data:`sim.app.controls.CONTROLS`.
            value: Its new value.

        Raises:
            ScenarioError: The value gives an invalid scenario (nothing changes then).
        """
        with self._lock:
            moved = {k: v for k, v in self.moved.items() if k != name}
            if value != BY_NAME[name].read(self.lesson_scenario):
                moved[name] = value
            scenario = self.lesson.scenario(overrides(moved))
            self.moved, self.scenario = moved, scenario
            # The phases read model.spec afresh every year, so a new scenario takes effect from
            # the next step; firms, clusters and ties carry on, and the twin follows its world.
            for pair in (self.pair, *self.spread):
                pair.main.spec = scenario
            if self.year is not None:
                self.events.append((self.year, BY_NAME[name].label))
            self._changed()

    def control_value(self, name: str) -> Value:
        """The value a control shows: the user's if moved, else the lesson's."""
        return self.moved.get(name, BY_NAME[name].read(self.lesson_scenario))

    # --- what the views read ----------------------------------------------------------------

    @property
    def spread_seeds(self) -> list[int]:
        """The seeds of the spread band: the :data:`SPREAD_SEEDS` seeds after the class seed."""
        return [(self.seed + i) % MAX_SEED for i in range(1, SPREAD_SEEDS + 1)]

    @property
    def effects(self) -> list[Effect]:
        """The class seed's effects, one per simulated year."""
        return self.pair.effects

    @property
    def year(self) -> int | None:
        """The last simulated year, None before the first step."""
        model = self.worlds["main"]
        return model.year - 1 if model.year > self.scenario.scenario.start_year else None

    @property
    def running(self) -> bool:
        """False once the scenario's last year has been simulated."""
        return self.worlds["main"].year <= self.scenario.scenario.end_year

    def yearly(self, world: str = "main") -> pd.DataFrame:
        """The yearly register table of one world (full-scale units), cached per version."""
        if self._cache_version != self.version:
            self._cache_version, self._cache = self.version, {}
        if world not in self._cache:
            table = self.worlds[world].register.yearly()
            self._cache[world] = table if len(table) else pd.DataFrame(columns=EMPTY_YEARLY, dtype=float)
        return self._cache[world]

    def effects_table(self) -> pd.DataFrame:
        """The class seed's effects so far: ``year, raw_gap_pp, true_effect_pp, members``."""
        return _effects_table(self.pair.effects)

    def spread_tables(self) -> list[pd.DataFrame]:
        """The effects of the spread's seeds, each like :meth:`effects_table`."""
        return [_effects_table(pair.effects) for pair in self.spread]

    def sizes(self) -> Sizes:
        """Joiners' and other firms' median size in the class seed's world so far."""
        return self.pair.sizes()

    def reference_differs(self) -> bool:
        """Whether the reference world's path differs from the main one so far."""
        if self.worlds["reference"].year != self.worlds["main"].year:
            return False  # not simulated: the main world has always had the reference's scenario
        main, ref = self.yearly("main"), self.yearly("reference")
        return not np.array_equal(main["employment"].to_numpy(), ref["employment"].to_numpy())

    # --- internals -------------------------------------------------------------------------

    def _lesson(self, key: str) -> Lesson:
        for lesson in self.lessons:
            if lesson.key == key:
                return lesson
        raise KeyError(f"no lesson '{key}'; lessons: {', '.join(x.key for x in self.lessons)}")

    def _catch_up_reference(self) -> None:
        """Simulate the reference world up to the main one's year, once the two can differ.

        While the main world runs the reference's own scenario, the two are the same world (same
        seed, same scenario), so the reference is only simulated once a lesson or a control has
        made them differ; it then catches up from where it stood.
        """
        main, reference = self.worlds["main"], self.worlds["reference"]
        if reference.year == main.year or (not self.events and self.scenario == reference.spec):
            return
        while reference.year < main.year:
            reference.step()

    def _changed(self) -> None:
        self.version += 1


def _effects_table(effects: list[Effect]) -> pd.DataFrame:
    return pd.DataFrame(effects, columns=["year", "raw_gap_pp", "true_effect_pp", "members"])


def _snapshot(model: ClusterModel) -> dict[str, np.ndarray]:
    """Value added, size, membership and open status of every firm row."""
    f = model.firms
    n = f.n
    return {"va": f.value_added.copy(), "alive": f.alive[:n].copy(), "employees": f.employees[:n].copy(),
            "member": f.member[:n].copy()}
