"""Calibration by simulated moments (sim.calibration.fit) and the targets it fits (sim.calibration.targets)."""

from __future__ import annotations

from pathlib import Path

import optuna
import pandas as pd
import pytest
from calibration_helpers import PARAMETERS, setup, study_trials
from conftest import cli

from sim.calibration.fit import committed_values, load_calibration
from sim.calibration.targets import Target, load_targets
from sim.scenario.errors import ScenarioError


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory) -> tuple[Path, Path, object]:
    folder = tmp_path_factory.mktemp("calibration")
    spec, db = setup(folder), folder / "c.db"
    done = cli("calibrate", str(spec), "--db", f"sqlite:///{db}", "--workers", "2", "--out", str(folder / "out"),
               "--apply", "--quiet")
    assert done.returncode in (0, 1), done.stderr  # 1: a target missed in three trials
    return folder, db, done


def test_calibration_writes_the_best_trial_for_the_scenario_to_use(calibrated):
    folder, db, _ = calibrated
    trials = study_trials(db)
    assert len(trials) == 3 and all(t.state.name == "COMPLETE" for t in trials)
    best = min(trials, key=lambda t: t.value)
    held = committed_values(load_calibration(folder / "parameters.toml"))
    assert held == pytest.approx(best.params, rel=1e-5)  # tiny.toml extends what calibrate wrote
    text = (folder / "calibrated.toml").read_text()
    assert "[levels.arena]" in text and "market_access_growth" in text
    # Each trial keeps its moments, the true effect among them, for the report.
    assert {"gap_value_added_pp", "true_value_added_pp"} <= set(best.user_attrs["means"])


def test_calibration_reports_the_fit_on_the_check_seeds(calibrated):
    folder, _, _ = calibrated
    report = (folder / "fit_report.md").read_text()
    assert "## Fitted parameters" in report and "## Targets" in report and "selection share" in report
    fit = pd.read_csv(folder / "out" / "fit.csv")
    assert list(fit["target"]) == ["gap_value_added_pp", "gap_peaks_early", "members_2010"]
    assert fit["simulated"].notna().all() and (fit["ci_low"] <= fit["ci_high"]).all()
    assert (folder / "out" / "convergence.png").stat().st_size > 10_000


def test_calibration_resumes_with_the_trials_it_has(calibrated, tmp_path):
    folder, db, _ = calibrated
    copy = tmp_path / "c.db"
    copy.write_bytes(db.read_bytes())
    study = optuna.load_study(study_name="tiny", storage=f"sqlite:///{copy}")
    study.ask()  # a trial left running by a stopped session
    committed = (folder / "calibrated.toml").read_bytes()
    done = cli("calibrate", str(folder / "parameters.toml"), "--db", f"sqlite:///{copy}", "--trials", "4",
               "--workers", "2", "--no-check", "--out", str(tmp_path / "out"), "--quiet")
    assert done.returncode == 0, done.stderr
    # Without --apply the committed file the scenario extends stays as it was; the fit goes under --out.
    assert (folder / "calibrated.toml").read_bytes() == committed
    assert "market_access_growth" in (tmp_path / "out" / "calibrated.toml").read_text()
    states = [t.state.name for t in study_trials(copy)]
    assert states.count("COMPLETE") == 4 and states.count("FAIL") == 1 and "RUNNING" not in states


def test_calibration_refuses_a_study_with_another_set_up(calibrated, tmp_path):
    folder, db, _ = calibrated
    changed = PARAMETERS.replace("high = 0.08", "high = 0.09")
    other = tmp_path / "other"
    other.mkdir()
    done = cli("calibrate", str(setup(other, changed)), "--db", f"sqlite:///{db}", "--quiet")
    assert done.returncode == 2
    assert "study 'tiny' exists with another set-up" in done.stderr


@pytest.mark.parametrize(("change", "message"), [
    (("trials = 3", "trails = 3"), "calibration.trails: unknown key 'trails'; did you mean 'trials'?"),
    (("high = 0.08", "high = 0.9"),
     "parameters.growth_potential_sd.high: population.growth_potential_sd: must be 0-0.5, got 0.9"),
    (("low = 0.5", "low = 2.5"), "parameters.market_access.high: high (2.0) must be above low (2.5)"),
    (('keys = ["population.growth_potential_sd"]', 'keys = ["population.growth_potentail_sd"]'),
     "parameters.growth_potential_sd.keys: population.growth_potentail_sd: unknown key 'growth_potentail_sd'; "
     "did you mean 'growth_potential_sd'?"),
    (('scenario = "tiny.toml"', 'scenario = "missing.toml"'), "calibration.scenario: scenario not found: missing.toml"),
])
def test_bad_calibration_files_fail_in_one_line(tmp_path, change, message):
    spec = setup(tmp_path, PARAMETERS.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        load_calibration(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_a_scenario_that_ignores_the_calibrated_file_is_refused_before_any_trial(tmp_path):
    spec = setup(tmp_path, extends="elsewhere.toml")
    (tmp_path / "elsewhere.toml").write_text("")
    with pytest.raises(ScenarioError, match='tiny.toml does not extend calibrated.toml.*extends = "calibrated.toml"'):
        load_calibration(spec)


def test_a_bad_range_names_its_own_parameter(tmp_path):
    spec = setup(tmp_path, PARAMETERS.replace("low = 0.5", "low = -5.0"))
    message = r"parameters\.market_access\.low: levels\.arena\.market_access_growth: must be 0-0\.5"
    with pytest.raises(ScenarioError, match=message):
        load_calibration(spec)


@pytest.mark.parametrize(("targets", "message"), [
    ("", "no target with calibrate = true is measured on tiny.toml: nothing to fit"),
    ('[t]\nvalue = 1\ntolerance = 1\nstatistic = "gap_value_add_pp"\ncalibrate = true\nsource = "s"\n',
     "t.statistic: unknown headline figure 'gap_value_add_pp'"),
    ('[t]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.members@2030"\ncalibrate = true\nsource = "s"\n',
     "t.statistic: year 2030 is outside the calibration's runs (2000-2014"),
    ('[t]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.members@2010"\nscenario = "gone.toml"\nsource = "s"\n'
     '[u]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.members@2010"\ncalibrate = true\nsource = "s"\n',
     "t.scenario: scenario not found: gone.toml"),
])
def test_targets_that_cannot_be_fitted_are_refused_before_any_trial(tmp_path, targets, message):
    spec = setup(tmp_path)
    (tmp_path / "targets.toml").write_text(targets)
    with pytest.raises(ScenarioError) as caught:
        load_calibration(spec)
    assert message in str(caught.value)


def test_a_target_the_runs_do_not_have_stops_after_the_first_trial(tmp_path):
    spec = setup(tmp_path, PARAMETERS.replace("trials = 3", "trials = 2").replace("seeds = 2\nseed", "seeds = 1\nseed"))
    (tmp_path / "targets.toml").write_text('[t]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.memberz@2010"\n'
                                           'calibrate = true\nsource = "s"\n')
    done = cli("calibrate", str(spec), "--db", f"sqlite:///{tmp_path / 'c.db'}", "--workers", "1", "--quiet")
    assert done.returncode == 2
    assert "t.statistic: the runs have no 'yearly.memberz@2010'" in done.stderr


# --- targets ---------------------------------------------------------------------------------

def target(**kw) -> Target:
    defaults = {"name": "t", "value": 0.0, "tolerance": 1.0, "statistic": "gap_value_added_pp", "source": "s"}
    return Target(**(defaults | kw))


def test_a_peak_lead_compares_the_first_three_years_with_the_later_ones():
    t = target(statistic="peak_lead.gap_man_years_pp", compare="at_least")
    by_year = dict(zip((f"gap_man_years_pp_year{k}" for k in range(1, 6)), (9.0, 12.0, 8.0, 10.0, 4.0)))
    means = by_year | {"gap_man_years_pp": 99.0}
    assert t.inputs(means) == list(by_year)
    assert t.reduce(means) == 2.0 and t.met(2.0) and t.loss(2.0) == 0.0
    assert not t.met(-0.5) and t.loss(-0.5) == pytest.approx(0.25)


def test_a_growth_target_compares_average_yearly_growth_of_the_seed_means():
    t = target(statistic="growth.employment@2000-2010", value=1.0, tolerance=0.5)
    assert t.inputs({}) == ["yearly.employment@2000", "yearly.employment@2010"]
    means = {"yearly.employment@2000": 100.0, "yearly.employment@2010": 100.0 * 1.02**10}
    assert t.reduce(means) == pytest.approx(2.0)
    assert not t.met(2.0) and t.loss(2.0) == pytest.approx(4.0)
    with pytest.raises(ValueError, match="first year before the last"):
        target(statistic="growth.employment@2010-2000")


def test_an_equal_target_is_met_within_its_tolerance_and_scores_in_tolerances():
    t = target(value=14.6, tolerance=1.5)
    assert t.met(13.2) and not t.met(16.2)
    assert t.loss(17.6) == pytest.approx(4.0)
    assert t.loss(float("nan")) > 1000 and not t.met(float("nan"))


def test_the_committed_targets_parse_and_name_their_sources():
    targets = load_targets(Path(__file__).parent.parent / "calibration" / "targets.toml")
    names = {t.name for t in targets if t.calibrate}
    assert {"gap_value_added_pp", "gap_sales_pp", "gap_man_years_pp", "gap_peaks_in_first_three_years"} <= names
    assert all(t.source for t in targets)


def test_a_malformed_target_fails_in_one_line(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text('[x]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.members"\nsource = "s"\n')
    with pytest.raises(ScenarioError, match=r"x\.statistic: must be a headline figure"):
        load_targets(path)
