"""Firm dynamics as the register shows them: the mechanisms of docs/ODD.md's growth and demography, switched on.

Each test runs the classroom scenario (2 % of Norway) for a few years with one mechanism at its
register-like values (the schema's defaults; ``scripts/firm_dynamics_check.py``, which also computes the
figures) and states what it does, against the same run with the mechanisms off (``check.OFF``).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pandas as pd
import pytest

import sim
from sim.model import ClusterModel

ROOT = Path(__file__).resolve().parent.parent


def _script() -> ModuleType:
    spec = importlib.util.spec_from_file_location("firm_dynamics_check", ROOT / "scripts" / "firm_dynamics_check.py")
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


check = _script()
AGE = {key: value for key, value in check.REGISTER_LIKE.items()
       if key.startswith("demography.") or key.startswith("growth.young")}
EMPLOYMENT = {key: check.REGISTER_LIKE[key] for key in ("growth.employment_shock_sd", "growth.adjustment_threshold")}
EMPLOYMENT_OFF = {key: check.OFF[key] for key in EMPLOYMENT}
VA_OFF = {"growth.va_productivity_elasticity": 0.0, "growth.va_scale_elasticity": 0.0, "growth.va_innovation_gain": 0.0}


def panel(overrides: dict, end_year: int = 2016, seed: int = 0) -> tuple[ClusterModel, pd.DataFrame]:
    """A classroom run without effect measurement, and its firm-year panel."""
    scn = sim.load_scenario(ROOT / "scenarios" / "classroom.toml",
                            overrides={"scenario.end_year": end_year, "measurement.effects": False, **overrides})
    model = ClusterModel(scn, rng=seed, keep_panel=True)
    while model.running:
        model.step()
    return model, model.register.firms(model.region_names, model.sector_names)


@pytest.fixture(scope="module")
def with_age() -> dict[str, float]:
    return check.dynamics(panel(AGE, end_year=2018)[1])


def test_young_firms_exit_more_often_than_old_ones_with_infant_mortality(with_age):
    assert with_age["exit_rate_0-2"] > 2.0 * with_age["exit_rate_>5"]
    assert with_age["exit_rate_0-2"] > with_age["exit_rate_3-5"] > with_age["exit_rate_>5"]


def test_about_half_the_start_ups_survive_five_years_with_infant_mortality(with_age):
    assert 45.0 < with_age["survival_5y"] < 62.0  # Statistics Norway: about 53 % of new employer enterprises


def test_survivors_aged_0_to_2_grow_faster_than_those_over_5_when_start_ups_staff_up(with_age):
    assert with_age["growth_0-2"] > with_age["growth_3-5"] > with_age["growth_>5"]
    assert with_age["growth_0-2"] > 2.0 + with_age["growth_>5"]


def test_without_the_age_mechanisms_young_survivors_do_not_grow_faster():
    off = check.dynamics(panel(check.OFF, end_year=2018)[1])
    assert off["growth_0-2"] < off["growth_>5"]  # what issue 16 found, and why the mechanisms exist


def test_a_pareto_start_up_tail_gives_some_start_ups_five_or_more_man_years():
    def startup_sizes(tail: float) -> pd.Series:
        model, firms = panel({"demography.startup_size_tail": tail}, end_year=2000)
        initial = ClusterModel(model.spec, rng=0).firms.n  # the rows after these opened in 2000
        return firms[firms["firm_id"] >= initial].set_index("firm_id")["employees"]

    plain, tailed = startup_sizes(0.0), startup_sizes(0.5)
    assert plain.max() <= 4.0  # the smallest size class, 1-4
    pd.testing.assert_index_equal(tailed.index, plain.index)  # the same start-ups: the entry stream is untouched
    assert (tailed >= plain).all()
    assert 0.03 < np.mean(tailed >= 5.0) < 0.3
    assert np.median(tailed) < 5.0  # most still start small


@pytest.fixture(scope="module")
def employment_off_and_on() -> tuple[dict[str, float], dict[str, float]]:
    return tuple(check.dynamics(panel(overrides, end_year=2012)[1]) for overrides in (EMPLOYMENT_OFF, EMPLOYMENT))


def test_man_year_growth_is_persistent_without_the_employment_mechanism(employment_off_and_on):
    off, _ = employment_off_and_on
    assert off["growth_autocorrelation"] > 0.6  # a slow drift: what issue 16 found


def test_consecutive_man_year_growth_rates_are_nearly_uncorrelated_with_hires_and_quits_of_their_own(
        employment_off_and_on):
    _, on = employment_off_and_on
    assert abs(on["growth_autocorrelation"]) < 0.2  # Coad (2007): near zero, negative for small firms


def test_man_year_growth_rates_are_fatter_tailed_with_hires_and_quits_of_their_own(employment_off_and_on):
    off, on = employment_off_and_on
    assert on["growth_excess_kurtosis"] > off["growth_excess_kurtosis"] + 0.5


def test_man_years_still_lag_sales_with_the_employment_mechanism():
    scn = sim.load_scenario(ROOT / "scenarios" / "classroom.toml",
                            overrides={"scenario.end_year": 2003, "measurement.effects": False, **EMPLOYMENT})
    model = ClusterModel(scn, rng=0)
    f = model.firms
    while model.running:
        before = f.employees[: f.n].copy(), f.revenue[: f.n].copy()
        model.step()
    rows = np.flatnonzero(f.alive[: len(before[0])])
    man_years, sales = (np.log(now[rows] / then[rows]) for now, then in zip((f.employees, f.revenue), before))
    up = sales > 0.3  # firms whose sales jumped this year hire only part of what they need
    assert 0.0 < np.median(man_years[up]) < 0.5 * np.median(sales[up])


def test_value_added_and_sales_gaps_differ_when_the_value_added_share_moves():
    def gaps(overrides: dict) -> tuple[float, float]:
        scn = sim.load_scenario(ROOT / "scenarios" / "classroom.toml",
                                overrides={"scenario.end_year": 2020, **overrides})
        effects = sim.run(scn, seed=0).effects
        published = effects[effects["estimator"] == "matched_did"].set_index("metric")["gap_pp"]
        return published["value_added"], published["revenue"]

    fixed, moving = gaps(VA_OFF), gaps({"growth.va_productivity_elasticity": 0.3, "growth.va_scale_elasticity": -0.2})
    assert fixed[0] == pytest.approx(fixed[1], abs=1e-4)  # one moment: value added is sales times a fixed share
    assert moving[0] < moving[1] - 1.0  # members grow beyond their sectors and buy more inputs


def test_value_added_shares_spread_within_a_sector_and_stay_in_bounds():
    model, _ = panel({"growth.va_productivity_elasticity": 0.5, "growth.va_innovation_gain": 0.05,
                      "growth.va_scale_elasticity": -0.1}, end_year=2010)
    f = model.firms
    rows = f.alive_rows()
    share, sector = f.va_share[rows], f.sector[rows]
    assert all(np.std(share[sector == s]) > 0.005 for s in np.unique(sector))
    assert share.min() >= 0.05 and share.max() <= 0.95


def test_with_full_displacement_non_members_lose_sales_where_members_are():
    """Same seed, same firms, same luck: an initial firm's sales with displacement 1 against 0."""
    overrides = {"levels.nce.market_access_growth": 0.2, "levels.gce.market_access_growth": 0.2}
    runs = [panel(overrides | {"growth.displacement": share}, end_year=2012)[0] for share in (0.0, 1.0)]
    initial = ClusterModel(runs[0].spec, rng=0).firms.n
    none, full = (m.firms for m in runs)
    both = np.flatnonzero(none.alive[:initial] & full.alive[:initial] & ~none.member[:initial] & ~full.member[:initial])
    members = none.member[: none.n] & none.alive[: none.n]
    cells = set(zip(none.region[: none.n][members].tolist(), none.sector[: none.n][members].tolist()))
    near = np.array([(none.region[r], none.sector[r]) in cells for r in both])
    change = np.log(full.revenue[both] / none.revenue[both])
    assert near.sum() > 20
    assert np.median(change[near]) < -0.002  # non-members beside members lose sales (members are few and small)
    assert (change[near] < 0).mean() > 0.9
    # Elsewhere only the labour market moves: the jobs members took leave the supply a little less tight.
    assert abs(np.median(change[~near])) < 1e-3
