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
from sim.twin import TwinModel

PERCENT = 100.0
WORLDS = ("main", "twin", "reference")
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


class Session:
    """The state behind one browser tab of the app.

    Attributes:
        lessons: The presets, free play first.
        lesson: The current lesson.
        seed: Seed shared by the three worlds.
        moved: Control name -> value for the controls the user moved away from the lesson's values.
        worlds: ``main``, ``twin`` and ``reference`` models.
        events: (year, text) of control changes during the run, for marks on the plots.
        effects: One :class:`Effect` per simulated year.
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
            main = ClusterModel(self.scenario, rng=self.seed, keep_panel=False)
            reference = ClusterModel(self.lessons[0].scenario(), rng=self.seed, keep_panel=False)
            self.worlds = {"main": main, "twin": TwinModel(main, keep_panel=False), "reference": reference}
            self.events: list[tuple[int, str]] = []
            self.effects: list[Effect] = []
            self._previous = {name: _snapshot(self.worlds[name]) for name in ("main", "twin")}
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
                self.worlds["main"].step()
                self.worlds["twin"].step()
                self.effects.append(self._effect())
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
            self.worlds["main"].spec = scenario
            if self.year is not None:
                self.events.append((self.year, BY_NAME[name].label))
            self._changed()

    def control_value(self, name: str) -> Value:
        """The value a control shows: the user's if moved, else the lesson's."""
        return self.moved.get(name, BY_NAME[name].read(self.lesson_scenario))

    # --- what the views read ----------------------------------------------------------------

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
        """The effects so far: ``year, raw_gap_pp, true_effect_pp, members``."""
        return pd.DataFrame(self.effects, columns=["year", "raw_gap_pp", "true_effect_pp", "members"])

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

    def _effect(self) -> Effect:
        """Members' raw gap and true effect in the year just simulated."""
        main = self.worlds["main"]
        now = {name: _snapshot(self.worlds[name]) for name in ("main", "twin")}
        rows = len(self._previous["main"]["va"])  # a firm has the same row in both worlds
        both = np.ones(rows, dtype=bool)
        for name in now:
            before = self._previous[name]
            both &= now[name]["alive"][:rows] & before["alive"][:rows] & (before["va"][:rows] > 0)
        treated = both & main.firms.member[:rows]
        growth = {name: now[name]["va"][:rows][treated] / self._previous[name]["va"][:rows][treated] - 1.0
                  for name in now}
        self._previous = now
        row = main.register.yearly().iloc[-1]
        raw = row["growth_members_value_added_nok_pct"] - row["growth_nonmembers_value_added_nok_pct"]
        true = PERCENT * float(np.mean(growth["main"] - growth["twin"])) if treated.any() else np.nan
        return Effect(int(row["year"]), float(raw), true, int(treated.sum()))

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


def _snapshot(model: ClusterModel) -> dict[str, np.ndarray]:
    """Value added and open status of every firm row."""
    f = model.firms
    return {"va": f.value_added.copy(), "alive": f.alive[: f.n].copy()}
