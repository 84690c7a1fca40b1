"""The posterior by emulator waves (sim.calibration.emulated) on the stand-in model whose posterior is known.

The stand-in of tests/test_posterior.py: a run reports ``100 x growth_potential_sd`` plus a standard
normal draw from its own seed as its value-added gap, so with a normal prior and the target's
Gaussian error the posterior is normal and known, seed noise included.
"""

from __future__ import annotations

import pandas as pd
import pytest
from calibration_helpers import setup
from test_posterior import PARAMETERS, TARGETS, InProcess, known_posterior, moments

from sim.calibration.emulated import emulated_sbc, load_emulated, run_emulated
from sim.calibration.fit import load_calibration
from sim.calibration.history import CalibrationStore
from sim.calibration.sampler import SimulationFailed
from sim.calibration.sbc import coverage
from sim.scenario.errors import ScenarioError

EMULATOR = """method = "emulator"

[calibration.emulator]
design = 64
wave = 150
waves = 3

"""


def emulated_calibration(folder):
    """The stand-in's calibration with the emulator method: a design of 64, waves of 150."""
    text = PARAMETERS.replace("seed = 11\n", "seed = 11\n" + EMULATOR.split("\n\n")[0] + "\n")
    text = text.replace("[parameters.", EMULATOR.split("\n\n", 1)[1] + "[parameters.", 1)
    spec = setup(folder, text)
    (folder / "targets.toml").write_text(TARGETS)
    return load_calibration(spec), folder


@pytest.fixture
def gauss(tmp_path):
    return emulated_calibration(tmp_path)


def test_emulator_waves_recover_a_known_posterior_with_seed_noise_in_the_likelihood(gauss):
    c, folder = gauss
    posterior = run_emulated(c, InProcess(window=4), CalibrationStore(f"sqlite:///{folder / 'c.db'}"), c.study)
    mean, sd = moments(posterior)
    true_mean, true_sd = known_posterior()
    assert posterior.complete and posterior.ess >= c.min_ess
    assert abs(mean - true_mean) < 0.25 * true_sd
    assert 0.8 < sd / true_sd < 1.2
    # one wave after the 64-run design held enough effective draws: 214 runs in all
    assert list(posterior.generations["simulations"]) == [64, 150]
    assert posterior.simulations == 214


def test_emulator_waves_give_the_same_draws_on_any_number_of_workers_and_after_a_stop(gauss):
    c, folder = gauss
    one = run_emulated(c, InProcess(window=1), CalibrationStore(f"sqlite:///{folder / 'a.db'}"), c.study)
    store = CalibrationStore(f"sqlite:///{folder / 'b.db'}")
    with pytest.raises(SimulationFailed, match="run the calibration again"):
        run_emulated(c, InProcess(window=5, fail_after=120), store, c.study)  # stops inside wave 1
    again = InProcess(window=7)
    resumed = run_emulated(c, again, store, c.study)
    assert again.ran == 214 - 120  # the 120 runs before the failure (64 of the design, 56 of wave 1) were kept
    pd.testing.assert_frame_equal(one.draws, resumed.draws)
    pd.testing.assert_frame_equal(one.draws, load_emulated(c, store).draws)


def test_an_emulated_study_refuses_another_set_up_under_its_name(gauss):
    c, folder = gauss
    store = CalibrationStore(f"sqlite:///{folder / 'c.db'}")
    run_emulated(c, InProcess(), store, c.study)
    with pytest.raises(ScenarioError, match="exists with another set-up"):
        run_emulated(c, InProcess(), store, c.study, seed=12)


def test_simulation_based_calibration_of_the_emulator_covers_the_truth_as_often_as_promised(gauss):
    c, folder = gauss
    table = emulated_sbc(c, InProcess(), CalibrationStore(f"sqlite:///{folder / 'c.db'}"), cases=40)
    summary = coverage(table).set_index("quantity")
    assert set(summary.index) == {"growth_potential_sd", "true_value_added_pp", "selection_share_value_added"}
    assert summary.loc["growth_potential_sd", "cases"] == 40
    assert summary.loc["growth_potential_sd", "expected_low"] <= summary.loc["growth_potential_sd", "covered"]
    assert summary.loc["true_value_added_pp", "expected_low"] <= summary.loc["true_value_added_pp", "covered"]
