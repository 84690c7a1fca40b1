"""The labour market: the labour supply bounds the firms' employment, so the economy cannot outgrow Norway."""

from __future__ import annotations

import math

import numpy as np
import pytest
from conftest import small

from sim.runner import run
from sim.submodels.labour import demand_pressure, supply_index


def test_the_supply_grows_at_the_observed_rate_then_at_the_projected_one():
    scn = small(labour={"supply_growth": 0.008, "projection_year": 2020, "supply_growth_projection": 0.004})
    assert supply_index(scn, 2000) == 1.0
    assert supply_index(scn, 2020) == pytest.approx(math.exp(20 * 0.008))
    assert supply_index(scn, 2035) == pytest.approx(math.exp(20 * 0.008 + 15 * 0.004))


def test_a_shortage_lowers_demand_by_the_elasticity_times_the_log_excess_and_slack_not_at_all():
    scn = small(labour={"tightness_elasticity": 2.0, "supply_growth": 0.0})
    assert demand_pressure(scn, 1.1e6, 1.0e6, 2010) == pytest.approx(2.0 * math.log(1.1))
    assert demand_pressure(scn, 0.9e6, 1.0e6, 2010) == 0.0
    assert demand_pressure(small(labour={"tightness_elasticity": 0.0}), 5e6, 1e6, 2010) == 0.0


def _growth(scn, first: int, last: int) -> float:
    y = run(scn, seed=0, progress=False).yearly.set_index("year")["employment"]
    return 100 * math.log(y[last] / y[first]) / (last - first)


def test_employment_follows_the_labour_supply_instead_of_outgrowing_it():
    fixed = {"scale": 0.02}
    free = _growth(small(end_year=2035, population=fixed, labour={"tightness_elasticity": 0.0}), 2020, 2035)
    bounded = _growth(small(end_year=2035, population=fixed), 2020, 2035)
    # Without the limit the firms grow with their sectors' demand, some 1.5 % a year; with it, about as the
    # supply (0.4 % a year after 2020) allows.
    assert free > 1.2
    assert bounded < 0.7
    assert np.isfinite(bounded)

