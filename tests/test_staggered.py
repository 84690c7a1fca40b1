"""Sun and Abraham's interaction-weighted event study on the register (sim.observe.staggered)."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest
from test_measurement import SETTINGS as MEASURED
from test_measurement import synthetic_panel

import sim
from sim.observe import staggered
from sim.observe.estimator import METRICS, measure
from sim.observe.panel import PanelIndex
from sim.observe.staggered import staggered_did
from sim.output.result import write_outputs
from sim.scenario.schema import Measurement

ROOT = Path(__file__).resolve().parent.parent
# Cohorts 2003-2009 followed five years: the window of growth years is 1999-2013, cut to the register's 2001-2012.
SETTINGS = Measurement(first_cohort=2003, last_cohort=2009, winsorize=0.0)
EFFECT = (5.0, 3.0, 2.0, 1.0, 0.5)  # log points × 100 in years 1..5 of membership


def register(n: int = 6000, effect: tuple[float, ...] = EFFECT, selection: float = 0.0, seed: int = 0,
             late_joiners: float = 0.0) -> pd.DataFrame:
    """A register whose log growth (× 100) is 2 + advantage + noise (sd 10) + ``effect[k-1]`` in year k of membership.

    A third of the firms join, in 2003-2009 (the cohorts measured); with ``selection`` > 0 a firm with a
    persistent growth advantage (``selection`` log points × 100 per s.d.) is likelier to join. A share
    ``late_joiners`` of the rest join in 2011, inside the window but after the cohorts measured.
    """
    rng = np.random.default_rng(seed)
    advantage = rng.normal(0.0, 1.0, n)
    chance = 0.33 if not selection else 0.66 / (1.0 + np.exp(-2.0 * advantage))
    join = np.where(rng.random(n) < chance, rng.integers(2003, 2010, n), -1)
    join = np.where((join < 0) & (rng.random(n) < late_joiners), 2011, join)
    log_size = rng.normal(1.0, 1.0, n)
    frames = []
    for year in range(2000, 2013):
        if year > 2000:
            since = np.where(join > 0, year - join + 1, 0)
            boost = sum(np.where(since == k, delta, 0.0) for k, delta in enumerate(effect, start=1))
            log_size = log_size + (2.0 + selection * advantage + rng.normal(0.0, 10.0, n) + boost) / 100.0
        size = np.exp(log_size)
        frames.append(pd.DataFrame({"firm_id": np.arange(n), "year": year, "member": (join > 0) & (year >= join),
                                    "alive": True, "employees": size, "revenue_nok": 1e6 * size,
                                    "value_added_nok": 4e5 * size}))
    return pd.concat(frames, ignore_index=True)


def estimates(panel: pd.DataFrame, settings: Measurement = SETTINGS) -> pd.DataFrame:
    table = staggered_did(PanelIndex(panel), {"man_years": "employees"}, settings)
    return table.set_index(table["years_since_joining"].astype("float").fillna(0).astype(int))


def test_injected_growth_effects_lie_within_their_intervals():
    table = estimates(register())
    lags = table.loc[[1, 2, 3, 4, 5]]
    assert ((lags["ci_low"] < np.array(EFFECT)) & (np.array(EFFECT) < lags["ci_high"])).all()
    att = table[table["term"] == "att"].iloc[0]  # years 1-3, the published gap's window
    assert att["ci_low"] < np.mean(EFFECT[:3]) < att["ci_high"]
    assert att["std_error"] == pytest.approx(0.15, abs=0.05)  # some 1,900 members over three years, sd 10


def test_leads_are_near_zero_without_anticipation_or_selection():
    leads = estimates(register()).loc[[-4, -3, -2, -1]]
    assert ((leads["ci_low"] < 0.0) & (leads["ci_high"] > 0.0)).all()
    assert leads["gap_pp"].abs().max() < 0.8


def test_leads_show_that_joiners_grew_faster_before_they_joined():
    table = estimates(register(selection=2.0))
    assert (table.loc[[-4, -3, -2, -1], "ci_low"] > 0.5).all()  # an advantage the cluster cannot have caused
    assert (table.loc[[1, 2, 3], "gap_pp"] > np.array(EFFECT[:3]) + 0.5).all()  # and the lags hold it too


def test_without_an_effect_the_lags_are_zero_too():
    table = estimates(register(effect=(0.0,)))
    assert ((table["ci_low"] < 0.0) & (table["ci_high"] > 0.0)).all()


def test_late_joiners_are_neither_members_nor_controls():
    panel = register(late_joiners=0.5)
    table = estimates(panel)
    joined = panel[panel["member"]].groupby("firm_id")["year"].min()
    assert (table["n_controls"] == panel["firm_id"].nunique() - len(joined)).all()
    assert (table["n_cohorts"] == 7).all()
    assert table.loc[1, "n_firms"] == (joined <= 2009).sum()


def saturated_regression(panel: pd.DataFrame) -> tuple:
    """pyfixest's saturated regression of each firm-year's log growth on cohort x year-since-joining dummies
    and calendar-year effects (controls, never members, are the omitted cell), built from the panel by pandas.

    Returns:
        The fit, the code of each coefficient's cell (cohort * 100 + year since joining + 50) and its members.
    """
    firms = panel.sort_values(["firm_id", "year"]).copy()
    firms["g"] = 100.0 * np.log(firms["employees"]).groupby(firms["firm_id"]).diff()
    first = firms[firms["member"]].groupby("firm_id")["year"].min()
    firms["cohort"] = firms["firm_id"].map(first).fillna(0).astype(int)
    offset = firms["year"] - firms["cohort"]
    firms["since"] = np.where(offset >= 0, offset + 1, offset)
    window = (firms["cohort"] > 0) & firms["since"].between(-4, 5)
    data = firms[(window | (firms["cohort"] == 0)) & firms["g"].notna()].copy()
    data["cell"] = np.where(data["cohort"] > 0, data["cohort"] * 100 + data["since"] + 50, -1)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("g ~ i(cell, ref=-1) | year", data=data, vcov={"CRV1": "firm_id"},
                       ssc=pf.ssc(k_adj=False, G_adj=True))
    codes = np.array([int(re.search(r"(-?\d+)\]?$", name).group(1)) for name in fit._coefnames])
    return fit, codes, data[data["cell"] >= 0].groupby("cell").size().reindex(codes).to_numpy()


def test_year_effects_and_their_errors_are_pyfixest_saturated_regression_weighted_by_cohort_shares():
    panel = register(n=3000, selection=1.0, seed=3)
    table = estimates(panel)
    fit, codes, members = saturated_regression(panel)
    beta, clusters = fit._beta_hat, fit._G[0]
    for k in (-4, -3, -2, -1, 1, 2, 3, 4, 5):
        # Sun and Abraham's interaction weights: each cohort's share of the members observed in year k.
        shares = np.where(codes % 100 - 50 == k, members, 0.0) / members[codes % 100 - 50 == k].sum()
        effect = shares @ beta
        assert table.loc[k, "gap_pp"] == pytest.approx(effect, abs=1e-9)
        # The regression's CRV1 variance of the weighted coefficients, plus that of the estimated shares
        # (multinomial: the cohorts' spread around the effect over the members), as eventstudyinteract adds it.
        from_shares = shares @ (beta - effect) ** 2 / members[codes % 100 - 50 == k].sum()
        variance = shares @ fit._vcov @ shares + from_shares * clusters / (clusters - 1)
        assert table.loc[k, "std_error"] == pytest.approx(np.sqrt(variance), rel=1e-9)


def test_with_one_cohort_the_errors_are_exactly_pyfixest_crv1_errors():
    panel = register(n=3000, seed=5)
    cohort = panel[panel["member"]].groupby("firm_id")["year"].min()
    panel.loc[panel["firm_id"].isin(cohort.index[cohort != 2006]), "member"] = False
    table = estimates(panel, Measurement(first_cohort=2006, last_cohort=2006, winsorize=0.0))
    fit, codes, _ = saturated_regression(panel)
    for k, se in zip(codes % 100 - 50, fit.se()):
        assert table.loc[k, "std_error"] == pytest.approx(se, rel=1e-9)
    assert table.loc[1, "gap_pp"] == pytest.approx(fit.coef().iloc[list(codes % 100 - 50).index(1)], abs=1e-9)


def test_standard_errors_match_the_spread_of_estimates_over_registers():
    att = []
    for seed in range(30):
        table = staggered_did(PanelIndex(register(n=1500, seed=100 + seed)), {"man_years": "employees"}, SETTINGS)
        att.append(table[table["term"] == "att"][["gap_pp", "std_error"]].iloc[0])
    att = pd.DataFrame(att)
    assert att["std_error"].mean() == pytest.approx(att["gap_pp"].std(), rel=0.3)
    assert att["gap_pp"].mean() == pytest.approx(np.mean(EFFECT[:3]), abs=2 * att["std_error"].mean() / np.sqrt(30))


def test_controls_above_the_cap_are_a_systematic_sample_by_firm_id(monkeypatch):
    monkeypatch.setattr(staggered, "MAX_CONTROL_FIRMS", 1000)
    table = estimates(register())
    # About 4,000 firms never join: every fifth by firm id is counted.
    assert (table["n_controls"] <= 1000).all() and (table["n_controls"] > 750).all()
    lags = table.loc[[1, 2, 3, 4, 5]]
    assert ((lags["ci_low"] < np.array(EFFECT)) & (np.array(EFFECT) < lags["ci_high"])).all()


def test_a_register_without_joiners_gives_rows_of_nan_and_no_members():
    panel = register(n=500)
    panel["member"] = False
    table = staggered_did(PanelIndex(panel), METRICS, SETTINGS)
    assert len(table) == 3 * 10 and table["gap_pp"].isna().all() and table["std_error"].isna().all()
    assert (table["n_firms"] == 0).all() and (table["n_cohorts"] == 0).all() and (table["n_controls"] == 500).all()


def test_every_measurement_returns_the_staggered_table_and_the_discontinuity_only_given_applicants():
    panel, _, levels = synthetic_panel(n=3000)
    tables = measure(panel, levels, MEASURED, seed=0).tables()
    assert list(tables)[-1] == "staggered_did" and "call_discontinuity" not in tables
    table = tables["staggered_did"]
    assert list(table.columns) == list(staggered.COLUMNS)
    assert list(zip(table["metric"], table["term"])) == [
        (metric, term) for metric in METRICS for term in ["event_year"] * 9 + ["att"]]
    assert (table["estimator"] == "sun_abraham").all() and table["gap_pp"].notna().all()


@pytest.mark.parametrize("scale", [0.02, 0.005])
def test_classroom_runs_write_the_staggered_table_with_intervals_or_nan(scale, tmp_path):
    scenario = sim.load_scenario(ROOT / "scenarios/classroom.toml",
                                 overrides={"population.scale": scale, "measurement.twin": False})
    result = sim.run(scenario, seed=0)
    written = write_outputs(result, tmp_path, with_plots=False)
    table = pd.read_csv(tmp_path / "staggered_did.csv")
    assert tmp_path / "staggered_did.csv" in written
    assert list(table.columns) == list(staggered.COLUMNS)
    assert len(table) == 3 * 10
    measured = table["gap_pp"].notna()
    assert (table.loc[measured, "ci_low"] < table.loc[measured, "gap_pp"]).all()
    assert (table.loc[measured, "gap_pp"] < table.loc[measured, "ci_high"]).all()
    assert (table.loc[~measured, "n_firms"] < 2).all()
