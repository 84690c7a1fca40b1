"""``run.py calibrate`` end to end on a classroom-sized set-up (emulator method): posterior, files, resuming, SBC."""

from __future__ import annotations

import json
import math
import sqlite3

import pandas as pd
import pytest
from calibration_helpers import TARGETS as SHARED_TARGETS
from calibration_helpers import setup
from conftest import cli

from sim.calibration.emulated import expected_statistics
from sim.calibration.fit import committed_values, load_calibration
from sim.calibration.posterior import Posterior, central_draw

PARAMETERS = """
[calibration]
scenario = "tiny.toml"
study = "tiny"
seed = 5
method = "emulator"
min_ess = 2

[calibration.fixed]
population.scale = 0.02
measurement.bootstrap = 0
output.firm_panel = false

[calibration.emulator]
design = 24
wave = 12
waves = 1

[calibration.sbc]
cases = 2

[check]
seeds = 2

[check.fixed]
measurement.bootstrap = 0

[parameters.growth_potential_sd]
keys = ["population.growth_potential_sd"]
prior = "loguniform"
low = 0.01
high = 0.2
source = "test prior"

[parameters.market_access]
keys = ["levels.arena.market_access_growth", "levels.nce.market_access_growth"]
factor = true
prior = "lognormal"
median = 1.0
sd_log = 0.7
low = 0.1
high = 8.0
source = "test prior"
"""

# A looser tolerance on the gap than the shared set-up: a wave of 12 then has a few effective draws.
TARGETS = SHARED_TARGETS.replace("tolerance = 2.0", "tolerance = 3.0", 1)


def make(folder):
    spec = setup(folder, PARAMETERS)
    (folder / "targets.toml").write_text(TARGETS)
    return spec


def calibrate(spec, db, *args):
    return cli("calibrate", str(spec), "--db", f"sqlite:///{db}", "--workers", "2", *args)


@pytest.fixture(scope="module")
def calibrated(tmp_path_factory):
    folder = tmp_path_factory.mktemp("posterior")
    spec, db = make(folder), folder / "c.db"
    done = calibrate(spec, db, "--out", str(folder / "out"), "--apply")
    assert done.returncode == 0, done.stderr
    return folder, db, done


def test_calibrate_exports_the_posterior_and_commits_its_central_draw(calibrated):
    folder, _, done = calibrated
    draws = pd.read_parquet(folder / "posterior.parquet")
    assert len(draws) == 12 and draws["weight"].sum() == pytest.approx(1.0)  # wave 1, weighed
    assert {"growth_potential_sd", "market_access", "weight", "log_likelihood", "gap_value_added_pp", "gap_peaks_early",
            "members_2010", "true_value_added_pp", "selection_share_value_added", "draw_seed", "evaluation",
            "generation"} <= set(draws.columns)
    assert draws["generation"].eq(1).all() and draws["true_value_added_pp"].notna().all()
    c = load_calibration(folder / "parameters.toml")
    posterior = Posterior("tiny", list(c.parameters), draws, pd.DataFrame({"temperature": [1.0]}))
    central = central_draw(posterior, c.objective_targets, expected_statistics(c, posterior))
    # tiny.toml extends what calibrate wrote: the committed scenario runs the central draw itself.
    assert committed_values(c) == pytest.approx(draws.iloc[central][list(c.parameters)].to_dict(), rel=1e-12)
    assert f"draw {draws['evaluation'].iloc[central]} of generation 1" in (folder / "calibrated.toml").read_text()
    assert "posterior: 12 draws, ESS" in done.stdout and "complete" in done.stdout


def test_the_fit_report_sets_priors_beside_posteriors_and_the_truth_in_intervals(calibrated):
    folder, _, _ = calibrated
    report = (folder / "fit_report.md").read_text()
    for section in ("## Parameters: prior and posterior", "## Targets: the posterior predictive",
                    "## What the targets cannot show: the true effect and selection",
                    "## The baseline: the central draw"):
        assert section in report
    assert "effective sample size" in report and "| value added | true effect (pp) |" in report
    assert "| target | observed | at the calibration's scale | at full scale |" in report
    assert len(pd.read_csv(folder / "out" / "fit_at_calibration_scale.csv")) == 3
    assert "lognormal(median 1, sd_log 0.7) on 0.1-8" in report
    predictive = pd.read_csv(folder / "out" / "predictive.csv")
    assert list(predictive["target"]) == ["gap_value_added_pp", "gap_peaks_early", "members_2010"]
    assert (predictive["simulated_low"] <= predictive["simulated_high"]).all()
    truth = pd.read_csv(folder / "out" / "truth.csv").set_index(["metric", "quantity"])
    low, high = truth.loc[("value added", "true effect (pp)"), ["low", "high"]]
    assert low < high
    for image in ("posterior.png", "predictive.png", "truth.png", "profile.png"):
        assert (folder / "out" / image).stat().st_size > 10_000


def test_a_stopped_calibration_continues_to_the_same_posterior(calibrated, tmp_path):
    folder, _, _ = calibrated
    spec, db = make(tmp_path), tmp_path / "c.db"
    first = calibrate(spec, db, "--max-simulations", "1", "--no-check", "--out", str(tmp_path / "out"), "--apply")
    assert first.returncode == 1, first.stderr  # stopped after the design, before any wave was weighed
    assert "only the design has run" in first.stdout and "not applied" in first.stderr  # never commits the design
    again = calibrate(spec, db, "--no-check", "--out", str(tmp_path / "out"))
    assert again.returncode == 0, again.stderr
    resumed = pd.read_parquet(tmp_path / "out" / "posterior.parquet")
    pd.testing.assert_frame_equal(resumed, pd.read_parquet(folder / "posterior.parquet"))  # bit for bit
    # Neither an incomplete --apply nor a run without it moves anything committed: the central draw went to --out.
    assert "# not yet calibrated" in (tmp_path / "calibrated.toml").read_text()
    assert "market_access_growth" in (tmp_path / "out" / "calibrated.toml").read_text()


def test_the_results_database_holds_numbers_and_json_never_a_pickle(calibrated):
    _, db, _ = calibrated
    with sqlite3.connect(db) as conn:
        rows = conn.execute("SELECT generation, parameters, statistics FROM calibration_simulations").fetchall()
        study = conn.execute("SELECT kind FROM calibration_studies WHERE study = 'tiny'").fetchone()
    assert study == ("posterior",)
    assert sorted({r[0] for r in rows}) == [0, 1] and len(rows) == 24 + 12  # the design and one wave
    for _, parameters, statistics in rows:
        assert all(isinstance(v, float) for v in json.loads(parameters).values())
        assert all(v is None or isinstance(v, float) for v in json.loads(statistics).values())


def test_simulation_based_calibration_reports_coverage_for_every_case_and_quantity(calibrated):
    folder, db, _ = calibrated
    out = folder / "sbc"
    done = calibrate(folder / "parameters.toml", db, "--sbc", "--out", str(out))
    assert done.returncode == 0, done.stderr
    coverage = pd.read_csv(out / "coverage.csv")
    assert list(coverage.columns[:5]) == ["case", "quantity", "truth", "low", "high"]
    assert len(coverage) == 2 * 4 and set(coverage["case"]) == {0, 1}
    assert set(coverage["quantity"]) == {"growth_potential_sd", "market_access", "true_value_added_pp",
                                         "selection_share_value_added"}
    assert (coverage["low"] <= coverage["high"]).all() and coverage["truth"].notna().all()
    sd = coverage[coverage["quantity"] == "growth_potential_sd"]["truth"]
    assert sd.between(0.01, 0.2).all()
    assert "expected if calibrated" in done.stdout
    # The next report shows the coverage (here without calibrating again).
    report = calibrate(folder / "parameters.toml", db, "--check-only", "--out", str(out))
    assert report.returncode == 0, report.stderr
    text = (out / "fit_report.md").read_text()
    assert "## Does it work? Simulation-based calibration" in text and "| growth_potential_sd |" in text


def test_the_value_of_information_ranks_what_a_register_could_publish(calibrated):
    folder, db, _ = calibrated
    out = folder / "information"
    done = calibrate(folder / "parameters.toml", db, "--no-check", "--information", "12",
                     "--out", str(out))
    assert done.returncode == 0, done.stderr
    table = pd.read_csv(out / "value_of_information.csv")
    assert {"lead_gap_value_added_pp", "staggered_value_added_pp", "discontinuity_value_added_pp"} <= set(
        table["statistic"])
    assert table["draws"].le(12).all()
    rows = table.set_index("statistic")
    assert rows.loc["lead_gap_value_added_pp", "width_now"] > 0  # a tiny run to 2014 has leads ...
    assert math.isnan(rows.loc["discontinuity_value_added_pp", "width_now"])  # ... but no open call to judge
    assert len(pd.read_csv(out / "information_draws.csv")) == 12
    text = (out / "fit_report.md").read_text()
    assert "## What data would decide it" in text and "information.png" in text
    assert (out / "information.png").stat().st_size > 10_000
