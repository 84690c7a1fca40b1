"""The programme operator's rules as invariants over seeds and random scenarios."""

from __future__ import annotations

import pandas as pd
import pytest
from conftest import small
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from sim import run
from sim.scenario.params import LEVELS

HISTORY = 2003  # the operator takes over early so that its rules show in short runs


def operated(seed: int = 0, **programme) -> tuple:
    """A small run where the operator runs the programme from 2004 to 2020."""
    scn = small(scale=0.02, end_year=2020, programme={"history_until": HISTORY, "min_firms": 20.0, **programme})
    return scn, run(scn, seed=seed)


def spells(clusters: pd.DataFrame) -> pd.DataFrame:
    """One row per uninterrupted spell of a cluster at a level."""
    c = clusters.sort_values(["cluster_id", "year"])
    new = (c["cluster_id"].diff() != 0) | (c["level"] != c["level"].shift()) | (c["year"].diff() != 1)
    c = c.assign(spell=new.cumsum())
    return c.groupby("spell").agg(cluster_id=("cluster_id", "first"), level=("level", "first"),
                                  first=("year", "min"), last=("year", "max"))


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_no_level_is_held_beyond_its_contract(seed):
    scn, result = operated(seed)
    s = spells(result.clusters)
    s = s[s["first"] > HISTORY]  # spells the operator started
    limit = s["level"].map({lv: scn.levels.get(lv).max_duration_years for lv in LEVELS})
    assert len(s) > 0
    assert ((s["last"] - s["first"] + 1) <= limit).all()


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_a_cluster_that_leaves_never_comes_back(seed):
    _, result = operated(seed)
    years = result.clusters.groupby("cluster_id")["year"]
    assert (years.max() - years.min() + 1 == years.count()).all()


@pytest.mark.parametrize("seed", [0, 1])
def test_spending_never_exceeds_the_budget(seed):
    _, result = operated(seed, budget_nok=20e6, budget_changes=[{"year": 2010, "factor": 0.6}])
    y = result.yearly[result.yearly["year"] > HISTORY]
    assert (y["programme_spend_nok"] <= y["programme_budget_nok"] + 1e-6).all()
    assert y.loc[y["year"] >= 2010, "programme_budget_nok"].eq(12e6).all()


def test_admissions_never_exceed_the_call_or_the_slots():
    scn, result = operated(0, admissions_per_year=2, application_rate=1.0)
    y = result.yearly[result.yearly["year"] > HISTORY]
    assert (y["admissions"] <= 2).all() and y["admissions"].sum() > 0
    assert (y["applications"] >= y["admissions"]).all()
    per_level = result.clusters[result.clusters["year"] > HISTORY].groupby(["year", "level"]).size()
    slots = per_level.index.get_level_values("level").map({lv: scn.levels.get(lv).max_clusters for lv in LEVELS})
    assert (per_level.to_numpy() <= slots.to_numpy()).all()


@settings(max_examples=6, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    budget=st.floats(5e6, 60e6),
    admissions=st.integers(0, 5),
    arena_years=st.integers(1, 5),
    min_fill=st.floats(0.0, 0.8),
    seed=st.integers(0, 1000),
)
def test_rules_hold_in_random_scenarios(budget, admissions, arena_years, min_fill, seed):
    scn = small(scale=0.01, end_year=2016, programme={
        "history_until": HISTORY, "budget_nok": budget, "admissions_per_year": admissions,
        "evaluation_min_fill": min_fill, "min_firms": 20.0,
    }, levels={"arena": {"max_duration_years": arena_years}})
    result = run(scn, seed=seed)
    y = result.yearly[result.yearly["year"] > HISTORY]
    assert (y["programme_spend_nok"] <= y["programme_budget_nok"] + 1e-6).all()
    assert (y["admissions"] <= admissions).all()
    s = spells(result.clusters)
    arena = s[(s["level"] == "arena") & (s["first"] > HISTORY)]
    assert ((arena["last"] - arena["first"] + 1) <= arena_years).all()


def test_no_programme_means_no_clusters_members_or_spending():
    scn = small(scale=0.01, end_year=2010, programme={"enabled": False})
    y = run(scn, seed=0).yearly
    assert (y[["clusters", "members", "programme_spend_nok", "programme_budget_nok"]] == 0).all().all()


def test_budget_cut_pays_clusters_less_before_closing_them():
    programme = {"history_until": 2008, "budget_nok": 20e6, "admissions_per_year": 0}
    yb = run(small(scale=0.02, end_year=2010, programme=programme), seed=3).yearly.set_index("year")
    spend = yb.loc[2010, "programme_spend_nok"]
    # Cut the 2010 budget to 80 % of what the clusters cost: above the 75 % floor, so the same
    # clusters continue, each paid 80 %.
    cut = {**programme, "budget_changes": [{"year": 2010, "factor": 0.8 * spend / 20e6}]}
    yc = run(small(scale=0.02, end_year=2010, programme=cut), seed=3).yearly.set_index("year")
    assert spend > 0
    assert yc.loc[2010, "clusters"] == yb.loc[2010, "clusters"]
    assert yc.loc[2010, "programme_spend_nok"] == pytest.approx(0.8 * spend)
    assert yc.loc[2010, "budget_exits"] == 0
