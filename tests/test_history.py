"""The calibrated baseline lands near every observed figure of calibration/targets.toml.

Each target's statistic is computed as the calibration computes it (sim.calibration.targets), from four seeds
of a 10 % Norway to 2025: the published gaps, their peak in the first three years, the programme's
history and the other instruments' 2021 figures; the budget-cut figures on their own scenario.
"""

from __future__ import annotations

import functools

import pytest
from conftest import ROOT

from sim import load_scenario
from sim.calibration.fit import seed_inputs
from sim.calibration.targets import load_targets
from sim.experiments.executors import LocalPool, Task

TARGETS = load_targets(ROOT / "calibration" / "targets.toml")
SEEDS = (0, 1, 2, 3)
BASELINE = "../scenarios/baseline_2021.toml"
FAST = {"population.scale": 0.1, "scenario.end_year": 2025, "output.firm_panel": False, "measurement.bootstrap": 0}


@functools.cache
def means(path: str) -> dict[str, float]:
    """Each input's mean over the seeds (on two worker processes; shared by a scenario's targets)."""
    base = load_scenario(ROOT / "calibration" / path, FAST).model_dump()
    outcomes = list(LocalPool(2).map(Task(f"history/{seed}", base, {}, seed) for seed in SEEDS))
    assert all(o.ok for o in outcomes), [o.error for o in outcomes]
    return seed_inputs(TARGETS, outcomes).mean().to_dict()


@pytest.mark.slow
@pytest.mark.parametrize("target", TARGETS, ids=lambda t: t.name)
def test_calibrated_baseline_meets_the_observed_figure(target):
    value = target.reduce(means(target.scenario or BASELINE))
    assert target.met(value), (f"{target.name}: {value:.4g}, observed {target.value} "
                               f"({target.compare}, ± {target.tolerance})")
