"""The posterior by ABC-SMC (sim.calibration.posterior, sampler, history) on a model whose posterior is known.

A stand-in for the agent-based model runs in this process: a run reports ``100 x growth_potential_sd``
plus a standard normal draw from the run's own seed, as its value-added gap. With a normal prior
and the target's Gaussian error the posterior is normal and known, seed noise included, so the
sampler, the kernel and the temperature schedule can be checked against it in seconds.
"""

from __future__ import annotations

import dataclasses
import math

import numpy as np
import pandas as pd
import pytest
from calibration_helpers import setup

from sim.calibration.fit import load_calibration
from sim.calibration.history import CalibrationStore
from sim.calibration.posterior import (
    Posterior,
    ToleranceKernel,
    central_draw,
    effective_sample_size,
    run_abc,
    weighted_quantile,
)
from sim.calibration.sampler import SimulationFailed
from sim.calibration.sbc import coverage, run_sbc
from sim.calibration.targets import Target
from sim.experiments.executors import Outcome, Task, failed
from sim.scenario.errors import ScenarioError

PRIOR_MEAN, PRIOR_SD = 0.1, 0.2  # of growth_potential_sd: wide, so the temperature falls over generations
OBSERVED, TOLERANCE, SEED_SD, SCALE = 6.0, 2.0, 1.0, 100.0

PARAMETERS = f"""
[calibration]
scenario = "tiny.toml"
study = "gauss"
seed = 11
population = 200
generations = 4
min_ess = 100

[parameters.growth_potential_sd]
keys = ["population.growth_potential_sd"]
prior = "normal"
mean = {PRIOR_MEAN}
sd = {PRIOR_SD}
low = 0.0
high = 0.5
source = "test prior"
"""

TARGETS = f"""
[gap_value_added_pp]
value = {OBSERVED}
tolerance = {TOLERANCE}
statistic = "gap_value_added_pp"
calibrate = true
source = "a test figure"
"""


def gaussian_run(task: Task) -> Outcome:
    """The stand-in model: the gap is 100 x the parameter plus the run's own standard normal noise."""
    theta = task.overrides["population.growth_potential_sd"]
    gap = SCALE * theta + SEED_SD * np.random.default_rng(task.seed).standard_normal()
    headline = {"gap_value_added_pp": gap, "true_value_added_pp": SCALE * theta, "selection_share_value_added": 0.0}
    return Outcome(task.run_id, summary={"headline": headline}, yearly=pd.DataFrame({"year": [2010]}))


class InProcess:
    """An executor that runs tasks here and hands them back in scrambled order, as busy workers would."""

    def __init__(self, window: int = 1, fail_after: int | None = None):
        self.window, self.fail_after, self.ran, self.run_ids = window, fail_after, 0, []

    def map(self, tasks):
        buffer = []
        for task in tasks:
            buffer.append(task)
            if len(buffer) == self.window:
                yield from (self._run(t) for t in reversed(buffer))
                buffer = []
        yield from (self._run(t) for t in reversed(buffer))

    def _run(self, task: Task) -> Outcome:
        self.ran += 1
        self.run_ids.append(task.run_id)
        if self.fail_after is not None and self.ran > self.fail_after:
            return failed(task.run_id, "WorkerDied: killed for the test")
        return gaussian_run(task)


@pytest.fixture
def gauss(tmp_path):
    spec = setup(tmp_path, PARAMETERS)
    (tmp_path / "targets.toml").write_text(TARGETS)
    return load_calibration(spec), tmp_path


def known_posterior() -> tuple[float, float]:
    """Mean and sd of the parameter's posterior: normal prior, normal likelihood with seed noise and error."""
    precision_prior = 1 / PRIOR_SD**2
    var_likelihood = (TOLERANCE**2 + SEED_SD**2) / SCALE**2
    precision = precision_prior + 1 / var_likelihood
    mean = (PRIOR_MEAN * precision_prior + OBSERVED / SCALE / var_likelihood) / precision
    return mean, math.sqrt(1 / precision)


def moments(posterior: Posterior, column: str = "growth_potential_sd") -> tuple[float, float]:
    x, w = posterior.draws[column].to_numpy(float), posterior.draws["weight"].to_numpy(float)
    mean = float(w @ x)
    return mean, float(math.sqrt(w @ (x - mean) ** 2))


def test_abc_smc_recovers_a_known_posterior_with_seed_noise_in_the_likelihood(gauss):
    c, folder = gauss
    posterior = run_abc(c, InProcess(window=4), CalibrationStore(f"sqlite:///{folder / 'c.db'}"), c.study)
    mean, sd = known_posterior()  # 0.0605 and 0.0222 (the prior's truncation at 0 is 2.7 sd away)
    got_mean, got_sd = moments(posterior)
    assert posterior.complete and posterior.temperature == 1.0 and len(posterior.draws) == 200
    assert posterior.ess > 100
    assert got_mean == pytest.approx(mean, abs=4 * sd / math.sqrt(posterior.ess))
    assert got_sd == pytest.approx(sd, rel=0.25)
    # Every draw carries its run: the simulated target, the outcomes and the seed that reproduces it.
    first = posterior.draws.iloc[0]
    rerun = gaussian_run(Task("x", {}, {"population.growth_potential_sd": first["growth_potential_sd"]},
                              int(first["draw_seed"])))
    assert first["gap_value_added_pp"] == rerun.summary["headline"]["gap_value_added_pp"]
    assert first["true_value_added_pp"] == pytest.approx(SCALE * first["growth_potential_sd"])
    assert posterior.draws["weight"].sum() == pytest.approx(1.0)
    gens = posterior.generations
    assert list(gens["generation"]) == list(range(len(gens))) and gens["temperature"].is_monotonic_decreasing
    assert (gens["accepted"] == 200).all() and posterior.simulations == gens["simulations"].sum() + 100


def test_generations_at_temperature_one_are_pooled_until_the_effective_draws_wanted(gauss):
    c, folder = gauss
    posterior = run_abc(c, InProcess(window=4), CalibrationStore(f"sqlite:///{folder / 'c.db'}"), c.study,
                        min_ess=300)
    at_one = posterior.generations[posterior.generations["temperature"] == 1.0]
    assert len(at_one) >= 2 and posterior.draws["generation"].nunique() == len(at_one)
    assert posterior.ess >= 300 and posterior.ess == pytest.approx(at_one["ess"].sum(), rel=0.05)
    mean, sd = known_posterior()
    got_mean, got_sd = moments(posterior)
    assert got_mean == pytest.approx(mean, abs=4 * sd / math.sqrt(posterior.ess))
    assert got_sd == pytest.approx(sd, rel=0.2)


def test_the_posterior_is_the_same_whatever_order_the_runs_finish_in(gauss, tmp_path):
    c, folder = gauss
    one = run_abc(c, InProcess(window=1), CalibrationStore(f"sqlite:///{folder / 'a.db'}"), c.study)
    many = run_abc(c, InProcess(window=7), CalibrationStore(f"sqlite:///{folder / 'b.db'}"), c.study)
    pd.testing.assert_frame_equal(one.draws, many.draws)
    pd.testing.assert_frame_equal(one.generations.drop(columns="wall_time_s"),
                                  many.generations.drop(columns="wall_time_s"))


def test_a_calibration_stopped_by_a_failed_run_continues_to_the_same_posterior(gauss):
    c, folder = gauss
    store = CalibrationStore(f"sqlite:///{folder / 'c.db'}")
    with pytest.raises(SimulationFailed, match="WorkerDied: killed for the test"):
        run_abc(c, InProcess(window=3, fail_after=700), store, c.study)  # stops in the middle of generation 0
    kept = store.cached(c.study, 0)
    assert len(kept) > 300  # the finished runs of the generation under way are in the database
    again = InProcess(window=3)
    resumed = run_abc(c, again, store, c.study)
    fresh = run_abc(c, InProcess(window=3), CalibrationStore(f"sqlite:///{folder / 'd.db'}"), c.study)
    pd.testing.assert_frame_equal(resumed.draws, fresh.draws)
    pd.testing.assert_frame_equal(resumed.generations.drop(columns="wall_time_s"),
                                  fresh.generations.drop(columns="wall_time_s"))
    # No run is simulated twice: neither the prior's sample nor the finished runs of generation 0.
    ran = set(again.run_ids)
    rerun = {i for i in ran if i.startswith("gauss/-1/")} | ({f"gauss/0/{i}" for i in kept} & ran)
    assert not rerun and resumed.simulations_run == again.ran


def test_a_complete_study_is_read_not_run_again(gauss):
    c, folder = gauss
    store = CalibrationStore(f"sqlite:///{folder / 'c.db'}")
    first = run_abc(c, InProcess(), store, c.study)
    idle = InProcess()
    second = run_abc(c, idle, store, c.study)
    assert idle.ran == 0
    pd.testing.assert_frame_equal(first.draws, second.draws)


def test_a_study_with_another_prior_is_refused(gauss, tmp_path):
    c, folder = gauss
    store = CalibrationStore(f"sqlite:///{folder / 'c.db'}")
    run_abc(c, InProcess(), store, c.study)
    other = tmp_path / "other"
    other.mkdir()
    spec = setup(other, PARAMETERS.replace(f"sd = {PRIOR_SD}", "sd = 0.3"))
    (other / "targets.toml").write_text(TARGETS)
    with pytest.raises(ScenarioError, match="study 'gauss' exists with another set-up"):
        run_abc(load_calibration(spec), InProcess(), store, "gauss")


@pytest.mark.slow  # 20 calibrations of the stand-in model
def test_simulation_based_calibration_finds_the_90_percent_intervals_calibrated(gauss):
    c, folder = gauss
    c = dataclasses.replace(c, sbc=c.sbc.model_copy(update={"cases": 20, "population": 60, "generations": 3,
                                                          "min_ess": 30}))
    table = run_sbc(c, InProcess(window=2), CalibrationStore(f"sqlite:///{folder / 'c.db'}"))
    summary = coverage(table).set_index("quantity")
    assert len(table) == 20 * 3 and (table["temperature"] == 1.0).all()
    # A calibrated interval covers 16-20 of 20 cases 90 % of the time; 13 or fewer has a chance under 0.3 %.
    assert summary.loc["growth_potential_sd", "covered"] >= 14
    assert summary.loc["true_value_added_pp", "covered"] >= 14
    assert summary.loc["growth_potential_sd", ["expected_low", "expected_high"]].tolist() == [16, 20]


# --- the pieces ------------------------------------------------------------------------------

def target(**kw) -> Target:
    defaults = {"name": "t", "value": 10.0, "tolerance": 2.0, "statistic": "gap_value_added_pp", "source": "s"}
    return Target(**(defaults | kw))


def test_the_likelihood_is_gaussian_in_tolerances_and_one_sided_for_an_at_least_target():
    kernel = ToleranceKernel([target(name="a"), target(name="b", value=0.0, tolerance=1.0, compare="at_least")])
    top = -math.log(2.0 * math.sqrt(2 * math.pi)) - math.log(1.0 * math.sqrt(2 * math.pi))
    observed = {"a": 10.0, "b": 0.0}
    assert kernel.pdf_max == pytest.approx(top)
    assert kernel({"a": 10.0, "b": 5.0}, observed) == pytest.approx(top)  # above an at_least bound costs nothing
    assert kernel({"a": 13.0, "b": 5.0}, observed) == pytest.approx(top - 0.5 * 1.5**2)
    assert kernel({"a": 10.0, "b": -2.0}, observed) == pytest.approx(top - 0.5 * 2.0**2)
    assert kernel({"a": math.nan, "b": 0.0}, observed) < top - 1000  # a run without the statistic is no match


def test_weighted_quantiles_follow_the_weights():
    values, weights = np.array([1.0, 2.0, 3.0, 4.0]), np.array([0.1, 0.1, 0.1, 0.7])
    # Each draw sits at the middle of its weight: 0.05, 0.15, 0.25 and 0.65 of the mass.
    assert weighted_quantile(values, weights, [0.5, 0.9]).tolist() == pytest.approx([3.625, 4.0])
    assert weighted_quantile(values, np.ones(4), [0.0, 1.0]).tolist() == [1.0, 4.0]
    assert effective_sample_size(np.ones(8)) == 8.0 and effective_sample_size(np.array([1.0, 0.0])) == 1.0


def test_the_central_draw_is_the_draw_nearest_the_weighted_median_in_posterior_sds():
    draws = pd.DataFrame({"a": [0.0, 1.0, 1.1, 1.2, 1.3], "b": [150.0, 0.0, 110.0, 200.0, 220.0], "weight": 0.2})
    posterior = Posterior("s", ["a", "b"], draws, pd.DataFrame({"temperature": [1.0]}))
    # Medians 1.1 and 150: in raw units draw 0 is nearest (1.1 off in a), in sds draw 2 (0.5 sd off in b).
    assert central_draw(posterior) == 2
