"""The replayed history lands near what was observed (calibration/targets.toml)."""

from __future__ import annotations

import tomllib

import pytest
from conftest import ROOT

from sim import load_scenario, run

TARGETS = tomllib.loads((ROOT / "calibration" / "targets.toml").read_text())
SEEDS = (0, 1)


def mean_over_seeds(path: str, year: int, column: str) -> float:
    scn = load_scenario(ROOT / path, {"population.scale": 0.1, "scenario.end_year": 2022, "output.firm_panel": False})
    return sum(run(scn, seed=s).yearly.set_index("year").loc[year, column] for s in SEEDS) / len(SEEDS)


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
