"""A pyabc sampler that runs every proposal's simulation on the project's executors, reproducibly.

pyabc hands a sampler one function, ``simulate_one``, that proposes a parameter set, simulates it
and decides whether to accept it, all in one call and with numpy's global random generator.
pyabc's own parallel samplers call it in worker processes and reseed them from the clock, so which
particles a generation accepts depends on timing. :class:`ExecutorSampler` instead calls
``simulate_one`` twice per evaluation, in the coordinator, with the generator seeded from
``(seed, generation, evaluation)`` each time:

1. *propose*: the :class:`DeferredModel` stops the call at the model (:class:`Proposed`), which
   yields the parameter set; it becomes a :class:`~sim.experiments.executors.Task` with a seed of
   its own and goes to a local process pool or a Dask cluster;
2. *judge*: once its run is back, the same call is made again with the same seed, the model returns
   the run's statistics, and pyabc weighs and accepts or rejects it exactly as it would have.

Evaluations are judged in the order of their numbers, whatever order the runs finish in, and a
generation takes the first ``n`` accepted, so the populations are the same bit for bit on one
worker or many, locally or on Dask, and when a stopped calibration continues. Finished runs of the
generation under way (and of the one before) are kept in the results database
(:class:`~sim.calibration.history.CalibrationStore`), so a calibration stopped mid-generation runs
none of them again.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

import numpy as np
from pyabc import Model
from pyabc.sampler import Sampler
from tqdm import tqdm

from sim.calibration.history import CalibrationStore
from sim.experiments.executors import Outcome, Task
from sim.experiments.sweep import float_seed

#: Statistics the sampler adds to every particle: the run's seed and the evaluation's number.
SEED_KEY, EVALUATION_KEY = "draw_seed", "evaluation"
_PROPOSAL, _RUN = 0, 1  # sub-streams of an evaluation's seed sequence


class Proposed(Exception):  # a signal, not an error
    """Raised by :class:`DeferredModel` at the model: the proposal is made, the simulation is elsewhere."""

    def __init__(self, parameters: dict[str, float]):
        super().__init__("proposed")
        self.parameters = parameters


class SimulationFailed(RuntimeError):
    """A run of the calibration failed; ``str()`` names it and its error on one line."""


class DeferredModel(Model):
    """The model pyabc calls: it stops at the proposal, or hands back the statistics of a finished run."""

    def __init__(self) -> None:
        super().__init__(name="nic-sim")
        self.statistics: dict[str, float] | None = None

    def sample(self, pars: Any) -> dict[str, float]:
        """The run's statistics when judging; stops the call with :class:`Proposed` when proposing."""
        if self.statistics is None:
            raise Proposed({k: float(v) for k, v in pars.items()})
        return self.statistics


@dataclass
class _Generation:
    """What one generation's sampling has done so far."""

    n: int
    judged: int = 0
    accepted: int = 0

    @property
    def done(self) -> bool:
        return self.accepted >= self.n


class ExecutorSampler(Sampler):
    """Samples a generation on an executor, judging evaluations in their order (see the module's text).

    Args:
        executor: A :class:`~sim.experiments.executors.LocalPool`, ``DaskPool`` or anything with ``map(tasks)``.
        model: The :class:`DeferredModel` the ABC-SMC was built with.
        task_for: ``(parameters, seed, run_id) -> Task``: the run of a parameter set.
        read: ``Outcome -> statistics``: what a finished run reports.
        seed: Seed of the calibration.
        study: The study's name (run ids, the stored simulations).
        store: Where finished simulations are kept; ``None`` keeps none.
        progress: Show a progress bar per generation.
    """

    def __init__(self, executor: Any, model: DeferredModel, task_for: Callable[[dict[str, float], int, str], Task],
                 read: Callable[[Outcome], dict[str, float]], seed: int, study: str,
                 store: CalibrationStore | None = None, progress: bool = False):
        super().__init__()
        self.executor, self.model, self.task_for, self.read = executor, model, task_for, read
        self.seed, self.study, self.store, self.progress = seed, study, store, progress
        self.simulations_run = 0  # runs this session actually simulated (not taken from the store)

    def sample_until_n_accepted(self, n: int, simulate_one: Callable, t: int, *, max_eval: float = np.inf,
                                all_accepted: bool = False, ana_vars: Any = None) -> Any:
        """Propose, simulate and judge evaluations 0, 1, 2, ... until ``n`` are accepted.

        Args:
            n: Particles to accept.
            simulate_one: pyabc's proposal, simulation and acceptance in one call.
            t: The generation (-1 for the sample from the prior that calibrates the first temperature).
            max_eval: Evaluations at most.
            all_accepted: Unused (every evaluation is judged in order anyway).
            ana_vars: Unused.

        Returns:
            pyabc's ``Sample`` of the judged evaluations; ``ok`` is false if ``max_eval`` came first.

        Raises:
            SimulationFailed: A run failed (the calibration can be run again: it continues).
        """
        if self.store is not None:  # the generation before this one is kept: it may be the prior's sample, redone
            self.store.forget(self.study, before=t - 1)  # when a stop comes before the first generation is stored
        cached = self.store.cached(self.study, t) if self.store is not None else {}
        sample = self._create_empty_sample()
        state = _Generation(n)
        proposals: dict[int, dict[str, float]] = {}
        finished: dict[int, dict[str, float]] = {}
        with tqdm(total=n, desc=f"generation {t}", unit="accepted", disable=not self.progress, leave=False,
                  dynamic_ncols=True) as bar:
            def judge_ready() -> None:
                while not state.done and state.judged in finished:
                    i = state.judged
                    particle = self._judge(simulate_one, t, i, proposals.pop(i), finished.pop(i))
                    sample.append(particle)
                    state.judged += 1
                    state.accepted += bool(particle.accepted)
                    bar.update(bool(particle.accepted))
                    bar.set_postfix(runs=state.judged, refresh=False)

            def tasks() -> Iterator[Task]:
                i = 0
                while not state.done and i < max_eval:
                    proposals[i] = self._propose(simulate_one, t, i)
                    hit = cached.get(i)
                    if hit is not None and hit[0] == proposals[i]:
                        finished[i] = hit[1]
                        judge_ready()
                    else:
                        yield self.task_for(proposals[i], self.run_seed(t, i), f"{self.study}/{t}/{i}")
                    i += 1

            for outcome in self.executor.map(tasks()):
                i = int(outcome.run_id.rsplit("/", 1)[1])
                if not outcome.ok:
                    raise SimulationFailed(f"run {outcome.run_id} failed: {outcome.error} (run the calibration "
                                           "again to continue where it stopped)")
                finished[i] = {**self.read(outcome), SEED_KEY: float(self.run_seed(t, i)), EVALUATION_KEY: float(i)}
                self.simulations_run += 1
                if self.store is not None:
                    self.store.keep(self.study, t, i, proposals[i], finished[i])
                judge_ready()
                if state.done:
                    break
        self.nr_evaluations_ = state.judged
        sample.ok = state.done
        return sample

    def _propose(self, simulate_one: Callable, t: int, i: int) -> dict[str, float]:
        """Evaluation ``i``'s parameter set: pyabc's proposal, stopped at the model."""
        self._seed_global(t, i)
        try:
            simulate_one()
        except Proposed as proposed:
            return proposed.parameters
        raise RuntimeError("pyabc accepted a particle without calling the model")

    def _judge(self, simulate_one: Callable, t: int, i: int, parameters: dict[str, float],
               statistics: dict[str, float]) -> Any:
        """Evaluation ``i`` judged by pyabc with its run's statistics (the same proposal, drawn again)."""
        self._seed_global(t, i)
        self.model.statistics = statistics
        try:
            particle = simulate_one()
        finally:
            self.model.statistics = None
        if {k: float(v) for k, v in particle.parameter.items()} != parameters:
            raise RuntimeError(f"evaluation {t}/{i} proposed another parameter set when judged: the proposal is "
                               "not reproducible from its seed")
        return particle

    def _seed_global(self, t: int, i: int) -> None:
        """Seed numpy's and Python's global generators for evaluation ``i`` of generation ``t``."""
        state = np.random.SeedSequence(self.seed, spawn_key=(t + 1, i, _PROPOSAL)).generate_state(4)
        np.random.seed(state)
        random.seed(int(state[0]))

    def run_seed(self, t: int, i: int) -> int:
        """The seed of evaluation ``i``'s run (below 2**53, so a float statistic holds it exactly).

        Args:
            t: The generation.
            i: The evaluation.

        Returns:
            The seed.
        """
        return float_seed(self.seed, t + 1, i, _RUN)
