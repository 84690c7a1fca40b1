"""Moments that separate selection from treatment, beside the published estimator (issue 17, item 4)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from test_measurement import SETTINGS, synthetic_panel

import sim
from sim.observe.estimator import MATCHED_DID, METRICS, TRUE_EFFECT, measure
from sim.observe.funding_end import funding_end
from sim.observe.panel import PanelIndex

ROOT = Path(__file__).resolve().parent.parent
# The committed baseline's run (scripts/baseline.py): classroom Norway at 2 %, all its years, seed 0.
CLASSROOM = {"scenario": "scenarios/classroom.toml", "overrides": {"population.scale": 0.02}, "seed": 0}


@pytest.fixture(scope="module")
def classroom_run() -> sim.RunResult:
    """The baseline's classroom run, with its firm panel (a few seconds)."""
    overrides = CLASSROOM["overrides"] | {"output.firm_panel": True}
    return sim.run(sim.load_scenario(ROOT / CLASSROOM["scenario"], overrides=overrides), seed=CLASSROOM["seed"])


@pytest.fixture(scope="module")
def classroom(classroom_run) -> dict[str, pd.DataFrame]:
    """The effect tables of the baseline's classroom run."""
    return classroom_run.effect_tables


def profile(by_year: pd.DataFrame, estimator: str = MATCHED_DID, metric: str = "value_added") -> pd.Series:
    rows = by_year[(by_year["metric"] == metric) & (by_year["estimator"] == estimator)]
    return rows.set_index("years_since_joining")["gap_pp"]


def test_leads_are_zero_and_lags_show_the_effect_when_growth_jumps_at_joining():
    factual, twin, levels = synthetic_panel(effect=(0.08, 0.04, 0.02))
    by_year = measure(factual, levels, SETTINGS, seed=0, twin_panel=twin).by_year
    gaps = profile(by_year)
    assert list(gaps.index) == [-4, -3, -2, -1, 1, 2, 3, 4, 5]
    assert gaps.loc[[-4, -3, -2, -1]].to_numpy() == pytest.approx([0.0] * 4, abs=0.8)
    assert gaps.loc[[1, 2, 3]].to_numpy() == pytest.approx([8.0, 4.0, 2.0], abs=0.8)
    # Before joining the twin is the same firm with the same luck: its true effect is exactly zero.
    assert (profile(by_year, TRUE_EFFECT).loc[[-4, -3, -2, -1]] == 0.0).all()


def test_leads_reveal_joiners_who_would_have_grown_anyway():
    factual, twin, levels = synthetic_panel(selection_sd=0.03)
    by_year = measure(factual, levels, SETTINGS, seed=0, twin_panel=twin).by_year
    placebo = profile(by_year).loc[[-4, -3, -2]]
    assert (placebo > 1.5).all()  # the unobserved advantage shows before the cluster could do anything
    assert (profile(by_year, TRUE_EFFECT).loc[[-4, -3, -2]] == 0.0).all()


def test_early_leads_count_only_members_open_five_years_before_joining():
    factual, _, levels = synthetic_panel(n=8000)
    by_year = measure(factual, levels, SETTINGS, seed=0).by_year
    counted = by_year[(by_year["metric"] == "value_added")].set_index("years_since_joining")["n_treated"]
    # Cohorts 2003 and 2004 have no register year J-5 (it starts in 2000), so lead -4 counts fewer.
    assert 0 < counted.loc[-4] < counted.loc[-1] == counted.loc[1]


def test_classroom_run_reports_the_leads_and_keeps_the_published_gap(classroom):
    by_year = classroom["effects_by_year"]
    for metric in ("value_added", "revenue", "man_years"):
        for estimator in (MATCHED_DID, TRUE_EFFECT):
            leads = by_year[(by_year["metric"] == metric) & (by_year["estimator"] == estimator)
                            & (by_year["years_since_joining"] < 0)]
            assert list(leads["years_since_joining"]) == [-4, -3, -2, -1]
            assert leads["gap_pp"].notna().all() and (leads["n_treated"] > 0).all()
            assert (leads["ci_low"] <= leads["gap_pp"]).all() and (leads["gap_pp"] <= leads["ci_high"]).all()
    committed = json.loads((ROOT / "tests/baseline/headline.json").read_text())["headline"]
    for k in (1, 2, 3):
        assert profile(by_year).loc[k] == pytest.approx(committed[f"gap_value_added_pp_year{k}"], rel=1e-9)
    effects = classroom["effects"]
    committed_effects = pd.read_csv(ROOT / "tests/baseline/effects.csv")
    np.testing.assert_allclose(effects["gap_pp"], committed_effects["gap_pp"], rtol=1e-9)


def test_entry_profile_shows_joiners_larger_than_non_members_and_like_their_controls():
    factual, _, levels = synthetic_panel(n=10_000)
    table = measure(factual, levels, SETTINGS, seed=0).entry_profile.set_index("variable")
    size = table.loc["man_years"]
    assert size["members_mean"] > size["all_nonmembers_mean"]  # larger firms join more often
    assert size["smd_all_nonmembers"] > 0.3
    assert abs(size["smd_controls"]) < 0.1  # the matching sees size
    assert size["n_nonmembers"] > size["n_controls"] > size["n_members"] > 0


def test_classroom_entry_profile_compares_size_age_and_productivity(classroom):
    table = classroom["entry_profile"].set_index("variable")
    assert list(table.index) == ["man_years", "age", "productivity"]
    means = table[["members_mean", "controls_mean", "all_nonmembers_mean"]].to_numpy()
    assert np.isfinite(means).all() and (means > 0).all()
    assert np.isfinite(table[["smd_controls", "smd_all_nonmembers"]].to_numpy()).all()
    by_year = classroom["effects_by_year"]
    assert (table["n_members"] == by_year[by_year["years_since_joining"] == 1]["n_treated"].max()).all()


def test_collaboration_gap_is_zero_before_joining_and_the_brokered_ties_after():
    factual, _, levels = synthetic_panel(n=8000)
    factual["ties"] = np.where(factual["member"], 3, 1)  # joining brings two brokered partners
    factual["institution_tie"] = factual["member"].to_numpy()
    table = measure(factual, levels, SETTINGS, seed=0).collaboration_gap
    ties = table[table["variable"] == "ties"].set_index("years_since_joining")
    assert list(ties.index) == [-4, -3, -2, -1, 1, 2, 3, 4, 5]
    assert (ties.loc[[-4, -3, -2, -1], "gap"] == 0.0).all()
    assert (ties.loc[[1, 2, 3, 4, 5], "gap"] == 2.0).all()
    assert (ties.loc[[1, 2, 3], "controls_mean"] == 1.0).all()
    share = table[table["variable"] == "institution_tie"].set_index("years_since_joining")["gap"]
    assert (share.loc[[-2, -1]] == 0.0).all() and (share.loc[[1, 2]] == 1.0).all()


def test_a_register_without_ties_gives_an_empty_collaboration_gap():
    factual, _, levels = synthetic_panel(n=2000)
    table = measure(factual, levels, SETTINGS, seed=0).collaboration_gap
    assert table.empty and "gap" in table.columns


def test_the_firm_panel_counts_each_tie_at_both_ends(classroom_run):
    panel, yearly = classroom_run.firms, classroom_run.yearly.set_index("year")
    open_ = panel[panel["alive"]]
    ends = open_.groupby("year")["ties"].sum()
    scale = CLASSROOM["overrides"]["population.scale"]
    assert np.allclose(ends / 2 / scale, yearly.loc[ends.index, "ties"], rtol=0, atol=0.5)  # yearly rounds
    institution = open_.groupby("year")["institution_tie"].sum() / scale
    assert np.allclose(institution, yearly.loc[institution.index, "institution_ties"], rtol=0, atol=0.5)


def test_classroom_collaboration_gap_follows_members_from_four_years_before_joining(classroom):
    table = classroom["collaboration_gap"]
    assert set(table["variable"]) == {"ties", "institution_tie"}
    ties = table[table["variable"] == "ties"].set_index("years_since_joining")
    assert list(ties.index) == [-4, -3, -2, -1, 1, 2, 3, 4, 5]
    assert np.isfinite(ties[["members_mean", "controls_mean", "gap", "ci_low", "ci_high"]].to_numpy()).all()


def test_members_gain_ties_over_their_controls_after_joining():
    # At 2 % the classroom's few members leave the gap to noise (0.4 before joining, 0.07 three years
    # after, seed 0); at 10 % the brokered partners show: about 0 before, about 1 three years after.
    overrides = CLASSROOM["overrides"] | {"population.scale": 0.1, "scenario.end_year": 2022}
    run = sim.run(sim.load_scenario(ROOT / CLASSROOM["scenario"], overrides=overrides), seed=CLASSROOM["seed"])
    table = run.effect_tables["collaboration_gap"]
    ties = table[table["variable"] == "ties"].set_index("years_since_joining")["gap"]
    assert abs(ties.loc[-1]) < 0.2 and ties.loc[3] > ties.loc[-1] + 0.5  # the cluster brokers partners


def ended_funding_register(drop: float, firms_per_cluster: int = 60) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Six clusters from 2001; three leave the programme after 2005 and their members' growth changes by ``drop``."""
    rng = np.random.default_rng(4)
    n, years = 6 * firms_per_cluster, range(2000, 2011)
    cluster = np.arange(n) // firms_per_cluster
    ends = cluster < 3
    size = np.exp(rng.normal(1.0, 0.5, n))
    frames = []
    for year in years:
        if year > 2000:
            size *= 1.0 + 0.03 + rng.normal(0.0, 0.02, n) + np.where(ends & (year > 2005), drop, 0.0)
        member = (year >= 2001) & (~ends | (year <= 2005))
        frames.append(pd.DataFrame({"firm_id": np.arange(n), "year": year, "alive": True, "member": member,
                                    "cluster_id": np.where(member, cluster, -1), "employees": size,
                                    "revenue_nok": 1e6 * size, "value_added_nok": 4e5 * size}))
    clusters = pd.DataFrame([(c, y) for c in range(6) for y in years if y >= 2001 and (c >= 3 or y <= 2005)],
                            columns=["cluster_id", "year"])
    return pd.concat(frames, ignore_index=True), clusters


def test_members_of_ended_clusters_fall_behind_continuing_members_only_after_the_end():
    panel, clusters = ended_funding_register(drop=-0.05)
    table = funding_end(PanelIndex(panel), clusters, METRICS, SETTINGS, seed=0)
    rows = table[table["metric"] == "man_years"].set_index("period")
    assert rows.loc["after", "gap_pp"] == pytest.approx(-5.0, abs=0.5)
    assert rows.loc["after", "ci_low"] < -4.0 and rows.loc["after", "ci_high"] < 0.0
    assert rows.loc["before", "gap_pp"] == pytest.approx(0.0, abs=0.5)
    # Only the end year 2005 has three years on either side in 2000-2010: its three clusters' members.
    assert (rows["n_clusters"] == 3).all() and (rows["n_ended"] == 180).all() and (rows["n_continuing"] == 180).all()


def test_without_a_change_after_the_end_the_funding_gap_is_zero():
    panel, clusters = ended_funding_register(drop=0.0)
    table = funding_end(PanelIndex(panel), clusters, METRICS, SETTINGS, seed=0)
    assert table["gap_pp"].abs().max() < 0.5


def test_classroom_funding_end_compares_ended_and_continuing_members(classroom):
    table = classroom["funding_end"]
    assert list(zip(table["metric"], table["period"])) == [
        (m, p) for m in ("value_added", "revenue", "man_years") for p in ("before", "after")]
    assert table["gap_pp"].notna().all() and (table["n_clusters"] > 1).all()
    assert (table["ci_low"] <= table["gap_pp"]).all() and (table["gap_pp"] <= table["ci_high"]).all()
