"""The posterior of the fitted parameters by ABC-SMC (pyabc): exact under a stated error model.

**The error model.** Each calibrated target is observed with a Gaussian error whose standard
deviation is its tolerance (``targets.toml``): ``observed_j = simulated_j + e_j``,
``e_j ~ N(0, tolerance_j^2)``; an ``at_least`` target only penalises a shortfall (its density is flat
above the value). A simulation is one run of the scenario at the calibration's scale with a seed
of its own, so the noise between seeds is part of the likelihood. pyabc's
``StochasticAcceptor`` with this density as its kernel (:class:`ToleranceKernel`) is exact ABC for
that model (Wilkinson 2013): a particle is accepted with probability ``(density / c)^(1/T)``
(:func:`best_of_last_population` sets ``c``; a density above it is accepted and weighted up by
pyabc's rejection control), and the last generation, at temperature ``T = 1``, is a weighted
sample of the posterior itself rather than of an approximation whose width depends on a
tolerance schedule. The temperature falls from a start that accepts about 30 % of a sample from the
prior, each step the lower of an effective-sample-size rule (keep 80 % of the population's ESS)
and a geometric decay that reaches 1 in the last allowed generation. If the generation at
temperature 1 holds fewer effective draws than wanted (``min_ess``; the weights of importance
sampling in eight dimensions spread), more generations at temperature 1 follow, each proposing
from the last, and are pooled (:func:`read_posterior`).

**What a particle carries.** Its parameters, its weight, the log density of its run
(``log_likelihood``), the simulated value of every target measured on the fitted scenario (fitted or
not: the posterior predictive), the outcomes the targets cannot show (the true effect and the
selection share of each metric, :data:`OUTCOMES`), its run's seed and its evaluation number.

**Where it lives.** The populations are pyabc's history in the results database
(:mod:`sim.calibration.history`); running the calibration again continues it from the last finished
generation (and from the runs of an unfinished one). The sampler (:mod:`sim.calibration.sampler`)
makes a calibration the same bit for bit given its seed, on any number of workers or on Dask.

:func:`central_draw` picks the draw the committed baseline uses; :func:`export` writes the draws.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

import numpy as np
import pandas as pd
import pyabc
from pyabc.distance import SCALE_LOG, StochasticKernel
from pyabc.epsilon import AcceptanceRateScheme, EssScheme, ExpDecayFixedIterScheme, Temperature

from sim.calibration.fit import check_measured, seed_inputs
from sim.calibration.history import CalibrationStore
from sim.calibration.prior import Prior
from sim.calibration.sampler import EVALUATION_KEY, SEED_KEY, DeferredModel, ExecutorSampler
from sim.calibration.spec import Budget, Calibration
from sim.calibration.targets import Target
from sim.calibration.weights import effective_sample_size, weighted_quantile
from sim.experiments.executors import Outcome, Task
from sim.scenario.errors import ScenarioError

if "ABC_LOG_LEVEL" not in os.environ:  # pyabc logs every generation at INFO on stderr; the progress bars say it
    logging.getLogger("ABC").setLevel(logging.WARNING)

METRICS = ("value_added", "revenue", "man_years")
#: Outcomes every particle carries besides the targets: what the published figures cannot show.
OUTCOMES = tuple(f"true_{m}_pp" for m in METRICS) + tuple(f"selection_share_{m}" for m in METRICS)
#: Outcomes the central draw is also central in (:func:`central_draw`).
CENTRAL_OUTCOMES = ("true_value_added_pp", "selection_share_value_added")
#: A target is met by the central draw within this share of its tolerance: a tenth to spare, so that
#: the noise of a few seeds (``tests/test_history.py`` runs four) does not tip a draw at the edge.
CENTRAL_MARGIN = 0.9
CALIBRATION_PARTICLES = 100  # draws from the prior that set the first temperature (at most the population)
FIRST_ACCEPTANCE = 0.3  # the first generation's temperature accepts about this share of the prior's draws
ESS_KEPT = 0.8  # a temperature step keeps at least this share of the population's effective sample size
COMPLETE_TEMPERATURE = 1.0
#: Part of every study's fingerprint: change it when the algorithm changes, so no study mixes two.
METHOD = "abc-smc stochastic-acceptor best-of-last-population ess-0.8 v1"


class ToleranceKernel(StochasticKernel):
    """Log density of the observed targets given a run: Gaussian errors with the tolerances as sd.

    Args:
        targets: The calibrated targets (their names are the statistics' keys).
    """

    def __init__(self, targets: list[Target]):
        self.targets = list(targets)
        pdf_max = -sum(math.log(t.tolerance * math.sqrt(2 * math.pi)) for t in self.targets)
        super().__init__(ret_scale=SCALE_LOG, keys=[t.name for t in self.targets], pdf_max=pdf_max)

    def __call__(self, x: dict, x_0: dict, t: int | None = None, par: dict | None = None) -> float:
        """The log density of the observed ``x_0`` given the simulated ``x``."""
        return self.pdf_max - 0.5 * sum(t.miss(x[t.name], x_0[t.name]) ** 2 for t in self.targets)


def best_of_last_population(get_weighted_distances: Any, **kwargs: Any) -> float:
    """The acceptance step's normaliser: the highest log density in the last population (or the prior's sample).

    A draw is accepted with probability ``exp((density - normaliser) / T)``; one above the normaliser is
    accepted and weighted up by that factor (pyabc's rejection control), so any normaliser keeps the
    posterior exact and a higher one only costs runs. The kernel's own maximum (every target hit
    exactly) is never reached by a noisy run and would reject most good ones; pyabc's default, the best
    density found so far, needs the prior's sample, which the history does not keep, so a calibration
    that continues after a stop could not know it. The last population is in the history.

    Args:
        get_weighted_distances: pyabc's callable giving the last population's log densities.
        **kwargs: pyabc's other arguments (unused).

    Returns:
        The normaliser (a log density).
    """
    return float(np.max(get_weighted_distances()["distance"].to_numpy(float)))


class EssTemperature(EssScheme):
    """pyabc's effective-sample-size temperature rule, returning a float (pyabc 0.13's returns a 1-element array)."""

    def __call__(self, **kwargs: Any) -> float:
        """The proposed temperature."""
        return float(np.ravel(super().__call__(**kwargs))[0])


class PriorRV(pyabc.RVBase):
    """A prior as pyabc's random variable, drawn from numpy's global generator."""

    def __init__(self, prior: Prior):
        self.prior, self.dist = prior, prior.frozen()

    def copy(self) -> PriorRV:
        """A copy (pyabc copies priors)."""
        return PriorRV(self.prior)

    def rvs(self, *args: Any, **kwargs: Any) -> float:
        """A draw."""
        return float(self.dist.rvs())

    def pdf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """The density."""
        return float(self.dist.pdf(x))

    def pmf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """The density (pyabc asks continuous variables for it too)."""
        return self.pdf(x)

    def cdf(self, x: float, *args: Any, **kwargs: Any) -> float:
        """The cumulative distribution."""
        return float(self.dist.cdf(x))


def observed_targets(c: Calibration) -> dict[str, float]:
    """The observed value of each calibrated target (an ``at_least`` target's bound)."""
    return {t.name: float(t.value) for t in c.objective_targets}


def reader(c: Calibration) -> Any:
    """What a finished run reports: every target measured on the fitted scenario, and :data:`OUTCOMES`.

    The first run is checked for every input the targets read (a misspelt column stops the calibration).

    Args:
        c: The set-up.

    Returns:
        ``Outcome -> {name: value}``.
    """
    checked = []

    def read(outcome: Outcome) -> dict[str, float]:
        if not checked:
            check_measured(c, outcome)
            checked.append(True)
        row = seed_inputs(c.measured_targets, [outcome]).iloc[0].to_dict()
        statistics = {t.name: t.reduce(row) for t in c.measured_targets}
        return statistics | {k: float(row.get(k, np.nan)) for k in OUTCOMES if k not in statistics}

    return read


def task_maker(c: Calibration) -> Any:
    """``(parameters, seed, run_id) -> Task``: a parameter set's run at the calibration's scale."""
    def task_for(parameters: dict[str, float], seed: int, run_id: str) -> Task:
        return Task(run_id, c.base, c.overrides(parameters), seed)

    return task_for


@dataclass
class Posterior:
    """A calibration's posterior (or, stopped early, its last tempered generation) and how it got there.

    Attributes:
        study: The study's name.
        parameters: The fitted parameters' names.
        draws: One row per particle (of every generation at temperature 1, pooled; before that of the
            last generation): parameters, ``weight`` (summing to 1), ``log_likelihood``, the statistics
            (targets and :data:`OUTCOMES`), ``draw_seed``, ``evaluation`` and ``generation``.
        generations: One row per generation: ``generation, temperature, simulations, accepted,
            acceptance_rate, ess, wall_time_s``.
        prior_simulations: Draws from the prior that set the first temperature.
        simulations_run: Runs simulated in this session (not taken from the stored ones).
        method: ``abc-smc``, or ``emulator`` (:mod:`sim.calibration.emulated`: its generations are waves).
    """

    study: str
    parameters: list[str]
    draws: pd.DataFrame
    generations: pd.DataFrame
    prior_simulations: int = 0
    simulations_run: int = 0
    method: str = "abc-smc"

    @property
    def temperature(self) -> float:
        """The last generation's temperature (1: a sample of the posterior itself)."""
        return float(self.generations["temperature"].iloc[-1])

    @property
    def complete(self) -> bool:
        """Whether the last generation is at temperature 1."""
        return self.temperature <= COMPLETE_TEMPERATURE

    @property
    def ess(self) -> float:
        """Effective sample size of the draws: 1 / sum of squared weights."""
        return effective_sample_size(self.draws["weight"].to_numpy(float))

    @property
    def simulations(self) -> int:
        """Runs over every generation, the draws from the prior that set the first temperature included."""
        return int(self.generations["simulations"].sum()) + self.prior_simulations


def fingerprint(c: Calibration, observed: dict[str, float], seed: int) -> str:
    """What makes a stored study continuable: the set-up, the observed values, the seed and the method."""
    text = json.dumps([c.fingerprint(), observed, seed, METHOD], sort_keys=True)
    return hashlib.sha256(text.encode()).hexdigest()


def run_abc(c: Calibration, executor: Any, store: CalibrationStore, study: str, *, kind: str = "posterior",
            seed: int | None = None, budget: Budget | None = None, min_ess: float | None = None,
            observed: dict[str, float] | None = None, truth: dict[str, float] | None = None,
            progress: bool = False) -> Posterior:
    """Run (or continue) ABC-SMC for a set of observed targets until the posterior holds ``min_ess`` effective draws.

    The temperature falls to 1 over at most ``budget.generations`` generations. If the generation at
    temperature 1 holds fewer effective draws than ``min_ess``, further generations at temperature 1
    are run (each proposing from the last) and pooled (:func:`read_posterior`), at most
    ``budget.generations`` of them, until it does. A study already in the database continues from its
    last finished generation; one that is complete is read, not run. A budget of runs or minutes
    stops it after the generation that passes it (running again continues).

    Args:
        c: The set-up.
        executor: Where the runs go.
        store: The results database.
        study: The study's name.
        kind: ``posterior`` or ``sbc`` (a synthetic case), recorded with the study.
        seed: Seed of the calibration (default ``c.seed``).
        budget: The budget (default ``c.budget``).
        min_ess: Effective draws wanted (default ``c.min_ess``).
        observed: The observed targets (default the published figures).
        truth: The parameters that made ``observed`` (a synthetic case), stored as pyabc's ground truth.
        progress: Show progress bars.

    Returns:
        The posterior as it stands.

    Raises:
        ScenarioError: A study of that name exists with another set-up.
        SimulationFailed: A run failed (running again continues).
    """
    seed = c.seed if seed is None else seed
    budget = budget or c.budget
    min_ess = c.min_ess if min_ess is None else min_ess
    observed = observed if observed is not None else observed_targets(c)
    stamp = fingerprint(c, observed, seed)
    row = store.find(study)
    if row is not None and row["fingerprint"] != stamp:
        raise ScenarioError(str(c.source), "calibration.study",
                            f"study '{study}' exists with another set-up (scenario, priors, seed or targets); "
                            "name a new one with --study or in the file")
    if row is None:
        row = {"abc_id": _new_study(c, store, study, kind, stamp, budget, observed, truth)}
    started, simulated = datetime.now(), 0
    while True:
        history = store.history(row["abc_id"])
        posterior = read_posterior(history, study, list(c.parameters)) if history.max_t >= 0 else None
        at_one = 0 if posterior is None or not posterior.complete else int(posterior.draws["generation"].nunique())
        elapsed = (datetime.now() - started).total_seconds() / 60
        minutes = None if budget.max_minutes is None else budget.max_minutes - elapsed
        if posterior is not None and (posterior.complete and (posterior.ess >= min_ess or at_one >= budget.generations)
                                      or _spent(history, budget, minutes)):
            posterior.simulations_run = simulated
            return posterior
        simulated += _continue(c, executor, store, study, seed, budget, observed, history, minutes, progress)


def _parts(c: Calibration, budget: Budget) -> dict[str, Any]:
    """The pieces of pyabc's ABC-SMC besides the model and the sampler (see the module's text for each choice)."""
    return {
        "parameter_priors": pyabc.Distribution(**{n: PriorRV(p.distribution) for n, p in c.parameters.items()}),
        "distance_function": ToleranceKernel(c.objective_targets),
        "population_size": pyabc.ConstantPopulationSize(
            budget.population, nr_calibration_particles=min(budget.population, CALIBRATION_PARTICLES)),
        "eps": Temperature(schemes=[EssTemperature(ESS_KEPT), ExpDecayFixedIterScheme()],
                           initial_temperature=AcceptanceRateScheme(FIRST_ACCEPTANCE)),
        "acceptor": pyabc.StochasticAcceptor(pdf_norm_method=best_of_last_population),
    }


def _new_study(c: Calibration, store: CalibrationStore, study: str, kind: str, stamp: str, budget: Budget,
               observed: dict[str, float], truth: dict[str, float] | None) -> int:
    """Store a new study's set-up in pyabc's history and register it; its pyabc run id."""
    parts = _parts(c, budget)
    history = store.history()
    history.store_initial_data(
        ground_truth_model=None, options={"study": study}, observed_summary_statistics=observed,
        ground_truth_parameter=truth or {}, model_names=[DeferredModel().name],
        distance_function_json_str=parts["distance_function"].to_json(), eps_function_json_str=parts["eps"].to_json(),
        population_strategy_json_str=parts["population_size"].to_json(), start_time=datetime.now(),
    )
    store.register(study, kind, stamp, history.id)
    return history.id


def _continue(c: Calibration, executor: Any, store: CalibrationStore, study: str, seed: int, budget: Budget,
              observed: dict[str, float], history: Any, minutes: float | None, progress: bool) -> int:
    """Run from the study's last finished generation: to temperature 1, or one more generation at 1.

    Every continuation starts from the database, as a calibration stopped and run again does, so a
    calibration gives the same draws whether or not it was stopped.

    Returns:
        The runs simulated.
    """
    model = DeferredModel()
    sampler = ExecutorSampler(executor, model, task_maker(c), reader(c), seed, study, store, progress)
    abc = pyabc.ABCSMC(models=model, sampler=sampler, **_parts(c, budget))
    abc.x_0, abc.history = observed, history
    # The temperatures so far, so that the next one follows as it would have without a stop.
    populations = history.get_all_populations()
    abc.eps.temperatures = {int(r.t): float(r.epsilon) for r in populations.itertuples() if r.t >= 0}
    abc.run(minimum_epsilon=COMPLETE_TEMPERATURE, max_nr_populations=budget.generations,
            max_total_nr_simulations=budget.max_simulations or np.inf,
            max_walltime=None if minutes is None else timedelta(minutes=minutes))
    return sampler.simulations_run


def _spent(history: Any, budget: Budget, minutes: float | None) -> bool:
    """Whether the budget of runs or minutes is used up."""
    over_runs = budget.max_simulations is not None and (history.total_nr_simulations or 0) >= budget.max_simulations
    return over_runs or (minutes is not None and minutes <= 0)


def read_posterior(history: Any, study: str, parameters: list[str]) -> Posterior:
    """A study's posterior from pyabc's history: its generations at temperature 1 pooled, or its last one.

    Each generation at temperature 1 is a weighted sample of the posterior with a proposal of its own;
    they are pooled with weights in proportion to their effective sample sizes (each generation's
    weights summing to its ESS share), which keeps the pool a weighted sample of the posterior with
    about the sum of their effective sizes. Before temperature 1 is reached, the last generation
    (a tempered posterior) is returned.

    Args:
        history: The study's pyabc history.
        study: Its name.
        parameters: The fitted parameters' names, in file order.

    Returns:
        The draws and the generations.
    """
    generations = generations_table(history)
    at_one = generations[generations["temperature"] <= COMPLETE_TEMPERATURE]
    pooled = at_one if len(at_one) else generations.tail(1)
    frames = []
    for g in pooled.itertuples():
        draws = _population(history, int(g.generation), parameters)
        draws["weight"] *= g.ess / pooled["ess"].sum()
        frames.append(draws)
    draws = pd.concat(frames, ignore_index=True)
    draws["weight"] /= draws["weight"].sum()
    populations = history.get_all_populations()
    prior = int(populations.loc[populations["t"] < 0, "samples"].fillna(0).sum())
    return Posterior(study, parameters, draws, generations, prior_simulations=prior)


def _population(history: Any, t: int, parameters: list[str]) -> pd.DataFrame:
    """One generation's particles: parameters, weight (summing to 1), log density, statistics, generation."""
    rows = []
    for particle in history.get_population(t).particles:
        rows.append({**{n: float(particle.parameter[n]) for n in parameters}, "weight": float(particle.weight),
                     "log_likelihood": float(particle.distance), **particle.sum_stat})
    draws = pd.DataFrame(rows).sort_values(EVALUATION_KEY, kind="stable").reset_index(drop=True)
    draws["weight"] /= draws["weight"].sum()
    draws[[SEED_KEY, EVALUATION_KEY]] = draws[[SEED_KEY, EVALUATION_KEY]].astype("int64")
    draws["generation"] = t
    return draws


def generations_table(history: Any) -> pd.DataFrame:
    """One row per finished generation: temperature, evaluations, accepted, acceptance rate, ESS, wall time."""
    populations = history.get_all_populations()
    populations = populations[populations["t"] >= 0].sort_values("t")
    rows = []
    for r in populations.itertuples():
        weights = history.get_weighted_distances(t=int(r.t))["w"].to_numpy(float)
        rows.append({"generation": int(r.t), "temperature": float(r.epsilon), "simulations": int(r.samples),
                     "accepted": int(r.particles), "acceptance_rate": float(r.particles) / max(int(r.samples), 1),
                     "ess": effective_sample_size(weights), "wall_time_s": float(r.wall_time or 0.0)})
    return pd.DataFrame(rows, columns=["generation", "temperature", "simulations", "accepted", "acceptance_rate",
                                       "ess", "wall_time_s"])


def load_posterior(c: Calibration, store: CalibrationStore, study: str | None = None) -> Posterior | None:
    """The stored posterior of a study, if it has a finished generation (``None`` otherwise).

    Args:
        c: The set-up.
        store: The results database.
        study: The study (default the set-up's).

    Returns:
        The last generation, or ``None``.
    """
    row = store.find(study or c.study)
    if row is None:
        return None
    history = store.history(row["abc_id"])
    return read_posterior(history, study or c.study, list(c.parameters)) if history.max_t >= 0 else None


# --- summaries -----------------------------------------------------------------------------

def central_draw(posterior: Posterior, targets: list[Target] | None = None,
                 expected: pd.DataFrame | None = None) -> int:
    """The draw the committed baseline uses: of the draws that meet every target, the one nearest the median.

    Nearest the weighted posterior median of every parameter and of :data:`CENTRAL_OUTCOMES` (the
    true effect and the selection share of value added, so that the baseline's answer sits in the
    middle of the posterior's too), distances in posterior standard deviations (weighted), so no
    unit decides. A real draw rather than the median itself, so that the baseline is a parameter set
    the posterior holds; and one that reproduces the figures it was fitted to (within
    :data:`CENTRAL_MARGIN` of their tolerances), since the draw nearest the middle of eight
    parameters can sit where a target is missed. A draw's one run carries its seed's noise, so
    ``expected`` (its value over seeds) judges it when given. Without ``targets``, or if no draw
    meets them all, every draw is a candidate.

    Args:
        posterior: The posterior.
        targets: The calibrated targets (the draws carry each one's simulated value under its name).
        expected: Each draw's expected value of the targets (over seeds), to judge them by instead of
            their one run's (:func:`sim.calibration.emulated.expected_statistics`).

    Returns:
        The row of ``posterior.draws``.
    """
    draws, w = posterior.draws, posterior.draws["weight"].to_numpy(float)
    columns = list(posterior.parameters) + [k for k in CENTRAL_OUTCOMES if k in draws]
    x = draws[columns].to_numpy(float)
    median = np.array([weighted_quantile(x[:, j], w, 0.5) for j in range(x.shape[1])])
    mean = w @ x / w.sum()
    sd = np.sqrt(w @ (x - mean) ** 2 / w.sum())
    sd[~(sd > 0)] = 1.0
    distance = np.nan_to_num((((x - median) / sd) ** 2).sum(axis=1), nan=np.inf)
    met = np.ones(len(draws), bool)
    judged = draws if expected is None else expected
    for t in targets or ():
        met &= np.array([abs(t.miss(v)) <= CENTRAL_MARGIN for v in judged[t.name].to_numpy(float)])
    if met.any():
        distance[~met] = np.inf
    return int(np.argmin(distance))


def export(posterior: Posterior, path: Any) -> Any:
    """Write the draws as parquet: one row per draw (parameters, weight, statistics, seed, evaluation).

    Args:
        posterior: The posterior.
        path: The file.

    Returns:
        The path.
    """
    posterior.draws.to_parquet(path, index=False)
    return path
