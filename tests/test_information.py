"""What data would decide it (sim.calibration.information) and the headline moments it judges (sim.observe.moments).

The preposterior analysis is checked on synthetic draws whose answer is known: a statistic that
measures the true effect almost exactly must narrow its interval to about what the two errors
leave, one unrelated to it must leave the interval as it is. The draws' runs are checked with a
stand-in model; one real classroom run checks that its headline carries the moments.
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from calibration_helpers import setup

import sim
from sim.calibration.fit import load_calibration
from sim.calibration.information import (
    QUANTITY,
    REGISTER_SD,
    SELECTION,
    figure,
    information_draws,
    section,
    value_of_information,
)
from sim.calibration.posterior import Posterior
from sim.calibration.sampler import SimulationFailed
from sim.experiments.executors import Outcome, Task, failed
from sim.observe.moments import MOMENTS
from sim.output.result import is_headline_figure, with_effect_headline

TRUE_MEAN, TRUE_SD, DRAWS = 10.0, 3.0, 300


def synthetic_draws(seed: int = 1) -> pd.DataFrame:
    """Draws of a true effect with three statistics: precise, noisy, and unrelated to it."""
    rng = np.random.default_rng(seed)
    true = rng.normal(TRUE_MEAN, TRUE_SD, DRAWS)
    return pd.DataFrame({
        QUANTITY: true,
        "precise": true + rng.normal(0.0, 0.3, DRAWS),
        "noisy": true + rng.normal(0.0, 3.0, DRAWS),
        "unrelated": rng.normal(0.0, 1.0, DRAWS),
        SELECTION: 0.5 - true / 40.0,  # a share that falls as the true effect grows
        "weight": rng.uniform(0.5, 1.5, DRAWS),
    })


def test_a_statistic_that_measures_the_true_effect_narrows_its_interval_to_what_the_errors_leave():
    table = value_of_information(synthetic_draws(), {"precise": 0.3}, replicates=500).iloc[0]
    # Observed with its run's error (0.3) and the register's (0.3): the posterior sd is about
    # 1 / sqrt(1/3^2 + 1/0.18) = 0.42, a 90 % interval of 1.4 pp against 2 x 1.645 x 3 = 9.9 now.
    assert table["width_now"] == pytest.approx(2 * 1.645 * TRUE_SD, rel=0.15)
    assert table["width_after"] == pytest.approx(1.4, rel=0.25)
    assert table["narrowing_pct"] > 80
    assert table["selection_narrowing_pct"] == pytest.approx(table["narrowing_pct"], abs=3)  # the same draws
    assert table["posterior_sd_of_statistic"] == pytest.approx(TRUE_SD, rel=0.15)
    assert 5 < table["ess_after_median"] < 60


def test_a_statistic_unrelated_to_the_true_effect_narrows_it_by_about_nothing():
    table = value_of_information(synthetic_draws(), {"unrelated": 1.0}, replicates=500).iloc[0]
    assert abs(table["narrowing_pct"]) < 5
    assert table["ess_after_median"] > 100


def test_statistics_rank_by_how_much_they_say_about_the_true_effect():
    table = value_of_information(synthetic_draws(), {"unrelated": 1.0, "noisy": 1.0, "precise": 0.3},
                                 replicates=300)
    narrowing = table.set_index("statistic")["narrowing_pct"]
    assert narrowing["precise"] > narrowing["noisy"] + 30 > narrowing["unrelated"] + 30
    assert list(table["statistic"]) == ["unrelated", "noisy", "precise"]  # in the order asked


def test_the_same_seed_gives_the_same_answer_and_another_seed_nearly_it():
    draws = synthetic_draws()
    first = value_of_information(draws, {"noisy": 1.0}, replicates=300, seed=5)
    pd.testing.assert_frame_equal(first, value_of_information(draws, {"noisy": 1.0}, replicates=300, seed=5))
    other = value_of_information(draws, {"noisy": 1.0}, replicates=300, seed=6)
    assert not first.equals(other)
    assert other["narrowing_pct"].iloc[0] == pytest.approx(first["narrowing_pct"].iloc[0], abs=4)


def test_draws_without_the_statistic_are_left_out_and_one_no_draw_holds_is_undefined():
    draws = synthetic_draws().assign(missing=np.nan)
    draws.loc[:99, "noisy"] = np.nan
    table = value_of_information(draws, {"noisy": 1.0, "missing": 1.0}, replicates=100).set_index("statistic")
    assert table.loc["noisy", "draws"] == DRAWS - 100 and table.loc["noisy", "narrowing_pct"] > 10
    assert table.loc["missing", "draws"] == 0 and math.isnan(table.loc["missing", "narrowing_pct"])
    with pytest.raises(ValueError, match="positive"):
        value_of_information(draws, {"noisy": 0.0})
    with pytest.raises(ValueError, match="lack nowhere"):
        value_of_information(draws, {"nowhere": 1.0})


def test_the_report_section_ranks_the_statistics_and_names_the_table_to_publish_next():
    table = value_of_information(synthetic_draws(), {"unrelated": 1.0, "precise": 0.3}, replicates=100)
    lines = section(table)
    assert lines[0] == "## What data would decide it" and lines[-1] == ""
    rows = [line for line in lines if line.startswith("| `")]
    assert [row.split("`")[1] for row in rows] == ["precise", "unrelated"]
    assert any("publish next is the one behind `precise`" in line for line in lines)
    fig = figure(table)
    bars = fig.axes[0].patches
    assert len(bars) == 2 and max(b.get_width() for b in bars) == pytest.approx(table["narrowing_pct"].max())


# --- the draws' runs ---------------------------------------------------------------------------

PARAMETERS = """
[calibration]
scenario = "tiny.toml"
study = "information"
seed = 7

[parameters.growth_potential_sd]
keys = ["population.growth_potential_sd"]
low = 0.0
high = 0.5
source = "test prior"
"""


def stand_in(task: Task) -> Outcome:
    """A model whose true effect is 100 x the parameter and whose moments add the run's own noise."""
    theta = task.overrides["population.growth_potential_sd"]
    noise = np.random.default_rng(task.seed).standard_normal()
    headline = {QUANTITY: 100 * theta, SELECTION: 0.3, "gap_value_added_pp": 100 * theta + 5,
                **dict.fromkeys(MOMENTS, None), "lead_gap_value_added_pp": 100 * theta + noise}
    return Outcome(task.run_id, summary={"headline": headline})


class Reversed:
    """Runs the tasks here and hands them back last first, as workers finishing out of order would."""

    def __init__(self, fail: bool = False):
        self.fail = fail

    def map(self, tasks):
        done = [failed(t.run_id, "WorkerDied: killed for the test") if self.fail else stand_in(t) for t in tasks]
        yield from reversed(done)


@pytest.fixture
def calibration_and_posterior(tmp_path):
    c = load_calibration(setup(tmp_path, PARAMETERS))
    draws = pd.DataFrame({"growth_potential_sd": [0.1, 0.2, 0.3], "weight": [0.7, 0.1, 0.2]})
    return c, Posterior("information", ["growth_potential_sd"], draws, pd.DataFrame())


def test_information_draws_run_the_resampled_posterior_each_on_a_seed_of_its_own(calibration_and_posterior):
    c, posterior = calibration_and_posterior
    runs = information_draws(c, posterior, Reversed(), draws=10)
    assert runs["draw"].tolist() == [0] * 7 + [1] + [2] * 2  # 10 x the weights, in order
    assert runs["growth_potential_sd"].tolist() == pytest.approx([0.1] * 7 + [0.2] + [0.3] * 2)
    assert runs[QUANTITY].tolist() == pytest.approx(100 * runs["growth_potential_sd"])
    assert runs["seed"].nunique() == 10 and (runs["seed"] < 2**53).all()
    noise = [np.random.default_rng(s).standard_normal() for s in runs["seed"]]
    assert runs["lead_gap_value_added_pp"].tolist() == pytest.approx(runs[QUANTITY] + noise)
    assert runs["staggered_value_added_pp"].isna().all()  # a figure the run could not give
    assert runs["weight"].sum() == pytest.approx(1.0)
    pd.testing.assert_frame_equal(runs, information_draws(c, posterior, Reversed(), draws=10))


def test_a_failed_run_stops_the_draws(calibration_and_posterior):
    c, posterior = calibration_and_posterior
    with pytest.raises(SimulationFailed, match="information/.*WorkerDied"):
        information_draws(c, posterior, Reversed(fail=True), draws=3)


# --- the moments in a run's headline -------------------------------------------------------------

def test_every_headline_moment_has_a_register_precision():
    assert set(REGISTER_SD) == set(MOMENTS)
    assert all(sd > 0 for sd in REGISTER_SD.values())


def test_a_run_headline_carries_one_number_per_design_read_from_its_tables():
    scenario = sim.load_scenario("scenarios/classroom.toml", overrides={
        "population.scale": 0.02, "scenario.end_year": 2025, "measurement.bootstrap": 0, "output.firm_panel": False})
    result = sim.run(scenario, seed=0)
    headline, tables = result.summary["headline"], result.effect_tables
    assert all(is_headline_figure(name) and math.isfinite(headline[name]) for name in MOMENTS)
    leads = [headline[f"gap_value_added_pp_year-{k}"] for k in (4, 3, 2)]
    assert headline["lead_gap_value_added_pp"] == pytest.approx(np.mean(leads))
    att = tables["staggered_did"].query("metric == 'value_added' and term == 'att'")["gap_pp"]
    assert headline["staggered_value_added_pp"] == att.iloc[0]
    profile = tables["entry_profile"].set_index("variable")["smd_all_nonmembers"]
    assert headline["entry_smd_productivity"] == profile["productivity"]
    ties = tables["collaboration_gap"].query("variable == 'institution_tie'").set_index("years_since_joining")["gap"]
    change = 100 * (ties[[1, 2, 3]].mean() - ties[[-4, -3, -2, -1]].mean())
    assert headline["collaboration_gap_change_institution_tie_pp"] == pytest.approx(change)
    jump = tables["call_discontinuity"].query("metric == 'value_added' and estimator == 'local_linear' "
                                              "and period == 'after'")["gap_pp"]
    assert headline["discontinuity_value_added_pp"] == jump.iloc[0]
    stale = headline | dict.fromkeys(MOMENTS, 0.0)
    assert with_effect_headline(stale, tables) == headline  # measuring again replaces every moment
