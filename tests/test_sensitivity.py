"""Sensitivity designs in sweep files and their SALib analysis (sim.experiments.sensitivity)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
import tomli_w
from conftest import SMALL_CLUSTERS, cli

from sim.experiments import sensitivity
from sim.experiments.bookkeeping import enter
from sim.experiments.ledger import open_ledger
from sim.experiments.sweep_file import load_sweep
from sim.scenario.errors import ScenarioError

OUTCOMES = ["summary.gap_value_added_pp", "summary.true_value_added_pp", "members@2012"]


def write_study(folder: Path, design: str, extra: str) -> Path:
    """A sensitivity sweep over two real parameters and a dummy on a tiny Norway."""
    scenario = folder / "tiny.toml"
    scenario.write_text(tomli_w.dumps({"scenario": {"name": "tiny", "end_year": 2012},
                                       "population": {"scale": 0.05}, "clusters": SMALL_CLUSTERS}))
    path = folder / f"{design}.toml"
    path.write_text(f"""
[sweep]
name = "tiny_{design}"
scenario = "tiny.toml"
design = "{design}"
{extra}
seed = 3
outcomes = {OUTCOMES}

[fixed]
measurement.bootstrap = 0

[parameters]
population.growth_potential_sd = {{low = 0.02, high = 0.1}}
levels.nce.market_access_growth = {{low = 0.0, high = 0.1}}
restructuring.budget_nok_per_area = {{low = 1e6, high = 8e6}}
""")
    return path


@pytest.fixture(scope="module")
def morris_study(tmp_path_factory) -> tuple[Path, Path]:
    folder = tmp_path_factory.mktemp("morris")
    path, db = write_study(folder, "morris", "trajectories = 3"), folder / "s.db"
    done = cli("sensitivity", str(path), "--db", f"sqlite:///{db}", "--workers", "2", "--out", str(folder / "out"),
               "--quiet")
    assert done.returncode == 0, done.stderr
    return path, db


def test_morris_screening_finds_the_parameters_that_matter_and_not_the_dummy(morris_study):
    path, db = morris_study
    engine = open_ledger(f"sqlite:///{db}")
    indices = sensitivity.analyse(engine, load_sweep(path))
    engine.dispose()
    mu_star = indices[indices["index"] == "mu_star"].pivot(index="parameter", columns="outcome", values="value")
    assert (mu_star.loc["restructuring.budget_nok_per_area"] == 0.0).all()  # common random numbers: exactly none
    assert mu_star.loc["population.growth_potential_sd", "summary.gap_value_added_pp"] > 1.0
    assert mu_star.loc["levels.nce.market_access_growth", "summary.true_value_added_pp"] > 0.5
    written = pd.read_csv(path.parent / "out" / "morris.csv")
    assert len(written) == 3 * 3 * 3  # outcomes x parameters x (mu_star, sigma, mu)
    assert (path.parent / "out" / "morris.png").is_file()


def test_sobol_indices_share_out_the_variance(tmp_path):
    path = write_study(tmp_path, "saltelli", "samples = 4")
    db = tmp_path / "s.db"
    done = cli("sensitivity", str(path), "--db", f"sqlite:///{db}", "--workers", "2", "--out", str(tmp_path / "out"))
    assert done.returncode == 0, done.stderr
    assert "tiny_saltelli (saltelli, 20 points)" in done.stdout
    indices = pd.read_csv(tmp_path / "out" / "saltelli.csv")
    total = indices[(indices["index"] == "ST")].pivot(index="parameter", columns="outcome", values="value")
    assert (total.loc["restructuring.budget_nok_per_area"] == 0.0).all()
    assert total.loc["population.growth_potential_sd", "summary.gap_value_added_pp"] > 0.2


def test_analysing_a_study_that_has_not_run_says_so(tmp_path):
    path = write_study(tmp_path, "morris", "trajectories = 2")
    done = cli("sensitivity", str(path), "--db", f"sqlite:///{tmp_path / 's.db'}", "--analyse-only")
    assert done.returncode == 2
    assert "no experiment 'tiny_morris'" in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_analysing_a_study_with_missing_points_says_how_many(tmp_path):
    path = write_study(tmp_path, "morris", "trajectories = 2")
    db = f"sqlite:///{tmp_path / 's.db'}"
    engine = open_ledger(db)
    enter(engine, load_sweep(path))  # entered, nothing run
    with pytest.raises(sensitivity.IncompleteSweep, match="8 of 8 design points have no finished run"):
        sensitivity.analyse(engine, load_sweep(path))
    engine.dispose()


@pytest.mark.parametrize(("extra", "message"), [
    ("", "sweep.trajectories: required for design 'morris', e.g. trajectories = 10"),
    ("trajectories = 3\nsamples = 8",
     "sweep.samples: only applies to designs latin_hypercube, sobol and saltelli; not design 'morris'"),
    ("trajectories = 3\nsecond_order = true",
     "sweep.second_order: only applies to design saltelli; not design 'morris'"),
])
def test_bad_sensitivity_designs_fail_in_one_line(tmp_path, extra, message):
    with pytest.raises(ScenarioError) as caught:
        load_sweep(write_study(tmp_path, "morris", extra))
    assert message in str(caught.value)


@pytest.mark.parametrize(("change", "message"), [
    ((f"outcomes = {OUTCOMES}", "outcomes = []"), "sweep.outcomes: must be a non-empty list of strings"),
    (("summary.true_value_added_pp", "summary.true_valu_pp"),
     "sweep.outcomes: unknown headline figure 'summary.true_valu_pp'"),
    (("trajectories = 3", "trajectories = 3\nlevels = 3"), "sweep.levels: must be an even number for design 'morris'"),
])
def test_bad_outcomes_and_levels_fail_before_any_run(tmp_path, change, message):
    path = write_study(tmp_path, "morris", "trajectories = 3")
    path.write_text(path.read_text().replace(*change))
    with pytest.raises(ScenarioError) as caught:
        load_sweep(path)
    assert message in str(caught.value)


def test_a_saltelli_design_needs_a_power_of_two(tmp_path):
    with pytest.raises(ScenarioError, match="must be a power of 2 for design 'saltelli'"):
        load_sweep(write_study(tmp_path, "saltelli", "samples = 6"))


def test_effect_outcomes_need_the_measurement_they_come_from(tmp_path):
    path = write_study(tmp_path, "morris", "trajectories = 2")
    path.write_text(path.read_text().replace("measurement.bootstrap = 0", "measurement.twin = false"))
    with pytest.raises(ScenarioError, match="summary.true_value_added_pp' needs measurement.twin = true"):
        load_sweep(path)


def test_the_committed_sensitivity_studies_are_valid():
    root = Path(__file__).parent.parent / "scenarios" / "sweeps"
    morris, sobol = load_sweep(root / "sensitivity_morris.toml"), load_sweep(root / "sensitivity_sobol.toml")
    assert len(morris.runs()) == morris.trajectories * (len(morris.parameters) + 1)
    assert len(sobol.runs()) == sobol.samples * (len(sobol.parameters) + 2)
