"""The replayed history lands near what was observed (calibration/targets.toml)."""

from __future__ import annotations

import functools
import tomllib

import pytest
from conftest import ROOT

from sim import load_scenario, run

TARGETS = tomllib.loads((ROOT / "calibration" / "targets.toml").read_text())
SEEDS = (0, 1)


@functools.cache
def yearly(path: str, seed: int):
    """One 10 % run to 2025, shared by every target of the same scenario."""
    scn = load_scenario(ROOT / path, {"population.scale": 0.1, "scenario.end_year": 2025, "output.firm_panel": False})
    return run(scn, seed=seed).yearly.set_index("year")


def mean_over_seeds(path: str, year: int, column: str) -> float:
    return sum(yearly(path, s).loc[year, column] for s in SEEDS) / len(SEEDS)


@pytest.mark.parametrize(("target", "path", "year", "column"), [
    ("clusters_2019", "scenarios/baseline_2021.toml", 2019, "clusters"),
    ("clusters_2021", "scenarios/baseline_2021.toml", 2021, "clusters"),
    ("nce_2009", "scenarios/baseline_2021.toml", 2009, "clusters_nce"),
    ("members_2021", "scenarios/baseline_2021.toml", 2021, "members"),
    ("clusters_2022_after_cut", "scenarios/budget_cut_2022.toml", 2022, "clusters"),
    ("members_2022_after_cut", "scenarios/budget_cut_2022.toml", 2022, "members"),
])
def test_history_lands_near_the_observed_figure(target, path, year, column):
    t = TARGETS[target]
    assert mean_over_seeds(path, year, column) == pytest.approx(t["value"], abs=t["tolerance"])


@pytest.mark.parametrize(("target", "column", "years"), [
    # The 2021 figures of seed 000, compared with the model's mean over recent years and two seeds:
    # a 10 % population makes any single year noisy.
    ("restructuring_areas_2021", "restructuring_areas", (2021, 2021)),
    ("restructuring_startups_2021", "restructuring_startups", (2017, 2021)),
    ("restructuring_jobs_2021", "restructuring_jobs", (2017, 2021)),
    ("corporate_networks_2021", "corporate_networks", (2017, 2021)),
    ("green_platform_2021", "green_consortia", (2021, 2025)),
])
def test_other_instruments_land_near_their_2021_figures(target, column, years):
    t = TARGETS[target]
    values = [yearly("scenarios/baseline_2021.toml", s).loc[years[0]:years[1], column].mean() for s in SEEDS]
    assert sum(values) / len(values) == pytest.approx(t["value"], abs=t["tolerance"])
