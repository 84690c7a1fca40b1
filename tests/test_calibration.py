"""The calibration's set-up (sim.calibration.spec, prior, fit) and the targets it fits (sim.calibration.targets)."""

from __future__ import annotations

import dataclasses
import re
from pathlib import Path

import numpy as np
import pytest
from calibration_helpers import setup
from conftest import cli
from scipy import integrate

from sim.calibration.fit import load_calibration
from sim.calibration.prior import Prior
from sim.calibration.targets import Target, load_targets
from sim.scenario.errors import ScenarioError

ROOT = Path(__file__).parent.parent

PARAMETERS = """
[calibration]
scenario = "tiny.toml"
study = "tiny"
seed = 5
population = 16
generations = 2

[calibration.fixed]
measurement.bootstrap = 0
output.firm_panel = false

[parameters.growth_potential_sd]
keys = ["population.growth_potential_sd"]
prior = "loguniform"
low = 0.02
high = 0.08
source = "test prior"

[parameters.market_access]
keys = ["levels.arena.market_access_growth", "levels.nce.market_access_growth"]
factor = true
prior = "lognormal"
median = 1.0
sd_log = 0.5
low = 0.5
high = 2.0
source = "test prior"
"""


# --- the committed set-up ------------------------------------------------------------------------

def test_every_committed_parameter_has_a_prior_whose_sources_docs_sources_md_defines():
    c = load_calibration(ROOT / "calibration" / "parameters.toml")
    anchors = set(re.findall(r'<a id="([^"]+)"></a>', (ROOT / "docs" / "sources.md").read_text()))
    assert len(c.parameters) == 8
    for name, p in c.parameters.items():
        assert p.source, name
        assert {key.lower() for key in p.cites} <= anchors, name
    # The services' effect: a lognormal around the schema's values, wide enough for none and for six times them.
    services = c.parameters["market_access"].distribution
    assert services.kind == "lognormal" and services.low < 0.05 and services.high > 6
    assert services.interval(0.9) == pytest.approx((0.193, 5.05), rel=0.01)
    assert {"DALY-2018", "MARTIN-2011", "BELLEGO-2014", "FALCK-2010"} <= set(c.parameters["market_access"].cites)


def test_the_committed_budget_asks_for_two_hundred_effective_draws():
    c = load_calibration(ROOT / "calibration" / "parameters.toml")
    assert c.min_ess == 200 and c.budget.population >= 150 and c.budget.generations >= 4
    assert c.base["population"]["scale"] == 0.1 and c.sbc.cases >= 20


# --- priors --------------------------------------------------------------------------------------

@pytest.mark.parametrize("prior", [
    Prior("uniform", 0.0, 2.0),
    Prior("loguniform", 0.01, 1.0),
    Prior("normal", 0.0, 1.0, {"mean": 0.2, "sd": 0.2}),
    Prior("lognormal", 0.05, 10.0, {"median": 1.0, "sd_log": 1.0}),
    Prior("beta", 0.0, 4.0, {"alpha": 2.0, "beta": 3.0}),
])
def test_every_prior_is_a_density_on_its_support_and_draws_inside_it(prior):
    dist = prior.frozen()
    mass, _ = integrate.quad(dist.pdf, prior.low, prior.high, limit=200, points=[prior.low * 1.01 + 1e-9])
    assert mass == pytest.approx(1.0, abs=1e-4)
    draws = np.asarray(dist.rvs(size=2000, random_state=np.random.default_rng(0)))
    assert draws.min() >= prior.low and draws.max() <= prior.high
    lo, hi = prior.interval(0.9)
    assert np.mean((draws >= lo) & (draws <= hi)) == pytest.approx(0.9, abs=0.03)


def test_a_truncated_lognormal_keeps_its_median_when_truncated_evenly():
    prior = Prior("lognormal", 0.25, 4.0, {"median": 1.0, "sd_log": 1.0})
    assert prior.frozen().ppf(0.5) == pytest.approx(1.0)
    assert prior.describe() == "lognormal(median 1, sd_log 1) on 0.25-4"


@pytest.mark.parametrize(("change", "message"), [
    (('prior = "loguniform"', 'prior = "gamma"'),
     "parameters.growth_potential_sd.prior: must be one of 'uniform', 'loguniform', 'normal', 'lognormal', 'beta', "
     "got 'gamma'"),
    (("sd_log = 0.5", "sd = 0.5"), "parameters.market_access.sd: sd is not a key of a lognormal prior "
                                   "(median, sd_log, low, high)"),
    (("sd_log = 0.5\n", ""), "parameters.market_access.sd_log: sd_log is required for a lognormal prior "
                             "(median, sd_log, low, high)"),
    (("sd_log = 0.5", "sd_log = -1.0"), "parameters.market_access.sd_log: sd_log must be above 0, got -1"),
    (("low = 0.02", "low = 0.0"), "parameters.growth_potential_sd.low: low must be above 0 for a loguniform prior, "
                                  "got 0"),
    (("median = 1.0", "median = 50.0"), "parameters.market_access.low: low (0.5) and high (2) keep only"),
    (("low = 0.5", "low = 2.5"), "parameters.market_access.high: high (2) must be above low (2.5)"),
    (("prior = \"lognormal\"", "prior = \"lognormal\"\nmean = 1.0"),
     "parameters.market_access.mean: mean is not a key of a lognormal prior"),
    (("population = 16", "population = 2"), "calibration.population: must be 5-100000, got 2"),
    (("seed = 5", "seed = 5\ntrials = 3"), "calibration.trials: unknown key 'trials'"),
    (("high = 0.08", "high = 0.9"),
     "parameters.growth_potential_sd.high: population.growth_potential_sd: must be 0-0.5, got 0.9"),
    (('keys = ["population.growth_potential_sd"]', 'keys = ["population.growth_potentail_sd"]'),
     "parameters.growth_potential_sd.keys: population.growth_potentail_sd: unknown key 'growth_potentail_sd'; "
     "did you mean 'growth_potential_sd'?"),
    (('scenario = "tiny.toml"', 'scenario = "missing.toml"'), "calibration.scenario: scenario not found: missing.toml"),
])
def test_a_bad_calibration_file_fails_in_one_line_naming_the_key(tmp_path, change, message):
    spec = setup(tmp_path, PARAMETERS.replace(*change))
    with pytest.raises(ScenarioError) as caught:
        load_calibration(spec)
    assert message in str(caught.value) and "\n" not in str(caught.value)
    assert str(caught.value).startswith(str(spec))


def test_a_bad_prior_exits_2_with_one_line_on_stderr(tmp_path):
    spec = setup(tmp_path, PARAMETERS.replace("sd_log = 0.5", "sd_log = 0.0"))
    done = cli("calibrate", str(spec), "--db", f"sqlite:///{tmp_path / 'c.db'}", "--quiet")
    assert done.returncode == 2
    assert done.stderr == f"error: {spec}: parameters.market_access.sd_log: sd_log must be above 0, got 0\n"


def test_a_scenario_that_ignores_the_calibrated_file_is_refused_before_any_run(tmp_path):
    spec = setup(tmp_path, PARAMETERS, extends="elsewhere.toml")
    (tmp_path / "elsewhere.toml").write_text("")
    with pytest.raises(ScenarioError, match='tiny.toml does not extend calibrated.toml.*extends = "calibrated.toml"'):
        load_calibration(spec)


def test_a_support_outside_the_schema_names_its_own_parameter(tmp_path):
    spec = setup(tmp_path, PARAMETERS.replace("median = 1.0\nsd_log = 0.5\nlow = 0.5\nhigh = 2.0",
                                              "median = 20.0\nsd_log = 0.5\nlow = 10.0\nhigh = 40.0"))
    message = r"parameters\.market_access\.high: levels\.arena\.market_access_growth: must be 0-0\.5, got 0\.6"
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
def test_targets_that_cannot_be_fitted_are_refused_before_any_run(tmp_path, targets, message):
    spec = setup(tmp_path, PARAMETERS)
    (tmp_path / "targets.toml").write_text(targets)
    with pytest.raises(ScenarioError) as caught:
        load_calibration(spec)
    assert message in str(caught.value)


def test_the_fingerprint_ignores_the_budget_and_the_sources_but_not_the_priors(tmp_path):
    base = load_calibration(setup(tmp_path, PARAMETERS)).fingerprint()
    for change in (("population = 16", "population = 64"), ('source = "test prior"', 'source = "another text"')):
        other = tmp_path / f"o{abs(hash(change))}"
        other.mkdir()
        assert load_calibration(setup(other, PARAMETERS.replace(*change))).fingerprint() == base
    other = tmp_path / "prior"
    other.mkdir()
    assert load_calibration(setup(other, PARAMETERS.replace("sd_log = 0.5", "sd_log = 0.6"))).fingerprint() != base


# --- targets ---------------------------------------------------------------------------------

def target(**kw) -> Target:
    defaults = {"name": "t", "value": 0.0, "tolerance": 1.0, "statistic": "gap_value_added_pp", "source": "s"}
    return Target(**(defaults | kw))


def test_a_peak_lead_compares_the_first_three_years_with_the_later_ones():
    t = target(statistic="peak_lead.gap_man_years_pp", compare="at_least")
    by_year = dict(zip((f"gap_man_years_pp_year{k}" for k in range(1, 6)), (9.0, 12.0, 8.0, 10.0, 4.0)))
    means = by_year | {"gap_man_years_pp": 99.0}
    assert t.inputs(means) == list(by_year)
    assert t.reduce(means) == 2.0 and t.met(2.0) and t.miss(2.0) == 0.0
    assert not t.met(-0.5) and t.miss(-0.5) == pytest.approx(-0.5)


def test_a_growth_target_compares_average_yearly_growth_of_the_seed_means():
    t = target(statistic="growth.employment@2000-2010", value=1.0, tolerance=0.5)
    assert t.inputs({}) == ["yearly.employment@2000", "yearly.employment@2010"]
    means = {"yearly.employment@2000": 100.0, "yearly.employment@2010": 100.0 * 1.02**10}
    assert t.reduce(means) == pytest.approx(2.0)
    assert not t.met(2.0) and t.miss(2.0) == pytest.approx(2.0)
    with pytest.raises(ValueError, match="first year before the last"):
        target(statistic="growth.employment@2010-2000")


def test_an_equal_target_is_met_within_its_tolerance_and_misses_in_tolerances():
    t = target(value=14.6, tolerance=1.5)
    assert t.met(13.2) and not t.met(16.2)
    assert t.miss(17.6) == pytest.approx(2.0) and t.miss(11.6) == pytest.approx(-2.0)
    assert t.miss(17.6, observed=16.1) == pytest.approx(1.0)  # a synthetic observation
    assert t.miss(float("nan")) >= 100 and not t.met(float("nan"))


def test_the_committed_targets_parse_and_name_their_sources():
    targets = load_targets(ROOT / "calibration" / "targets.toml")
    names = {t.name for t in targets if t.calibrate}
    assert {"gap_value_added_pp", "gap_sales_pp", "gap_man_years_pp", "gap_peaks_in_first_three_years"} <= names
    assert all(t.source for t in targets)


def test_a_malformed_target_fails_in_one_line(tmp_path):
    path = tmp_path / "targets.toml"
    path.write_text('[x]\nvalue = 1\ntolerance = 1\nstatistic = "yearly.members"\nsource = "s"\n')
    with pytest.raises(ScenarioError, match=r"x\.statistic: must be a headline figure"):
        load_targets(path)


def test_value_added_level_is_set_so_that_2020_matches_norway(tmp_path):
    from sim.calibration.fit import OBSERVED_TOTALS, calibration_scale, check, value_added_level
    from sim.experiments.executors import LocalPool

    setup(tmp_path, PARAMETERS + "\n[check]\nseeds = 2\n\n[check.fixed]\nmeasurement.bootstrap = 0\n")
    tiny = tmp_path / "tiny.toml"
    tiny.write_text(tiny.read_text().replace("end_year = 2014", "end_year = 2020"))
    c = load_calibration(tmp_path / "parameters.toml")
    pool = LocalPool(2)
    level, before = value_added_level(c, pool, progress=False)
    at_level = dataclasses.replace(c, check_fixed={**c.check_fixed, **calibration_scale(c),
                                                   "population.value_added_level": level})
    per_seed, _ = check(at_level, pool, progress=False)
    observed = OBSERVED_TOTALS["value_added_nok"][0][1]
    assert level == pytest.approx(0.70 / before)
    # One proportional step: value added scales with the level, apart from who joins.
    assert per_seed["path.value_added_nok@2020"].mean() / observed == pytest.approx(1.0, abs=0.03)
