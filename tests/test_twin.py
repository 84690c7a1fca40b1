"""The twin world: the same economy and luck, members untreated (sim.twin)."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from conftest import small

import sim.twin
from sim.model import ClusterModel
from sim.runner import run
from sim.twin import TwinModel, withhold_services


def lockstep(scenario, seed: int = 0, withhold: bool = True) -> tuple[ClusterModel, TwinModel]:
    model = ClusterModel(scenario, rng=seed)
    twin = TwinModel(model, withhold=withhold)
    while model.running:
        model.step()
        twin.step()
    return model, twin


def panels(model: ClusterModel, twin: TwinModel) -> tuple[pd.DataFrame, pd.DataFrame]:
    return (model.register.firms(model.region_names, model.sector_names),
            twin.register.firms(twin.region_names, twin.sector_names))


def test_twin_with_nothing_withheld_reproduces_the_factual_run_exactly():
    scenario = small(scale=0.02, end_year=2014)
    model, twin = lockstep(scenario, seed=4, withhold=False)
    pd.testing.assert_frame_equal(model.register.yearly(), twin.register.yearly())
    factual, copy = panels(model, twin)
    pd.testing.assert_frame_equal(factual, copy)
    assert np.array_equal(model.ties.a, twin.ties.a) and np.array_equal(model.ties.b, twin.ties.b)


def test_twin_has_the_same_members_and_firms_but_no_services():
    scenario = small(scale=0.05, end_year=2014)
    model, twin = lockstep(scenario, seed=1)
    factual, untreated = panels(model, twin)
    # Every firm keeps its row: the same start-ups enter in both worlds.
    assert model.firms.n == twin.firms.n
    assert np.array_equal(model.firms.birth_year[: model.firms.n], twin.firms.birth_year[: twin.firms.n])
    # Members are the factual ones (where the firm is open in the twin world too).
    both = factual.merge(untreated, on=["firm_id", "year"], suffixes=("", "_twin"))
    open_in_both = both["alive"] & both["alive_twin"]
    assert (both.loc[open_in_both, "member"] == both.loc[open_in_both, "member_twin"]).all()
    assert both["member"].sum() > 50  # member-years
    # Before the first cluster (2002) the worlds are one; afterwards members grow less untreated.
    a, b = model.register.yearly().set_index("year"), twin.register.yearly().set_index("year")
    assert a.loc[2000:2001].equals(b.loc[2000:2001])
    assert (a.loc[2008:, "member_employment"] > b.loc[2008:, "member_employment"]).all()


def test_withholding_switches_off_every_service_of_membership():
    spec = withhold_services(small())
    for level in ("arena", "arena_pro", "nce", "gce"):
        lv = spec.levels.get(level)
        assert lv.facilitation_ties == lv.market_access_growth == lv.advisory_innovation == 0.0
        assert lv.programme_funding_nok > 0  # the money still flows: the same programme decisions
    assert spec.network.member_institution_boost == spec.network.shared_member_retention == 0.0
    assert spec.demography.spinoff_member_boost == 0.0  # acceleration programmes are a service too
    assert spec.cluster_links == []


def test_entry_the_clusters_cause_is_never_born_in_the_twin_and_counts_as_their_effect():
    scenario = small(scale=0.05, end_year=2016, demography={"spinoff_member_boost": 3.0},
                     foreign_investment={"enabled": True, "entrants_per_nce": 40.0})
    model, twin = lockstep(scenario, seed=1)
    f, t = model.firms, twin.firms
    rows = np.arange(f.n)
    foreign = rows[(f.birth_year[: f.n] == f.join_year[: f.n]) & (f.intl[: f.n] == 1.0) & (f.parent[: f.n] < 0)]
    spun = rows[f.parent[: f.n] >= 0]
    assert len(foreign) > 0 and len(spun) > 0
    # Every subsidiary an NCE drew, and some spin-offs, are never born in the twin: closed from birth, never
    # recorded, the same row kept for the firms after them.
    assert set(foreign) <= set(twin.unborn)
    unborn_spun = np.intersect1d(spun, twin.unborn)
    assert 0 < len(unborn_spun) < len(spun)
    assert not t.alive[twin.unborn].any() and not t.member[twin.unborn].any()
    recorded = twin.register.firms(twin.region_names, twin.sector_names)
    assert not recorded["firm_id"].isin(twin.unborn).any()
    # Their man-years are in the gross effect of the treated firms, year by year.
    gross = twin.gross_table().set_index("year")
    last = int(gross.index.max())
    caused = twin.unborn[f.alive[twin.unborn] & ~f.member[twin.unborn]]
    assert gross.loc[last, "treatment_jobs_gross"] >= f.employees[caused].sum() / 0.05 > 0


def test_a_twin_is_made_before_its_factual_model_steps():
    model = ClusterModel(small(), rng=0)
    model.step()
    with pytest.raises(ValueError, match="before its factual model steps"):
        TwinModel(model)


def test_a_twin_steps_only_right_after_its_factual_model():
    model = ClusterModel(small(), rng=0)
    twin = TwinModel(model)
    with pytest.raises(RuntimeError, match="right after its factual model"):
        twin.step()


def _with_everything(end_year: int = 2016):
    """Every instrument the twin copies, spin-offs the members' boost causes and a policy change mid-run."""
    return small(scale=0.05, end_year=end_year, demography={"spinoff_member_boost": 3.0},
                 foreign_investment={"enabled": True, "entrants_per_nce": 40.0},
                 corporate_networks={"enabled": True}, green_platform={"enabled": True},
                 changes=[{"year": 2010, "set": {"restructuring.areas_per_year": 7.4}}])


def test_a_twin_in_its_own_process_gives_the_run_bit_for_bit():
    scenario = _with_everything()
    here, forked = run(scenario, seed=2), run(scenario, seed=2, twin_process=True)
    pd.testing.assert_frame_equal(here.yearly, forked.yearly, check_exact=True)
    assert here.yearly["treatment_jobs_gross"].abs().sum() > 0
    assert set(here.effect_tables) == set(forked.effect_tables)
    for name, table in here.effect_tables.items():
        pd.testing.assert_frame_equal(table, forked.effect_tables[name], check_exact=True)
    same = [json.dumps(r.summary["headline"], sort_keys=True) for r in (here, forked)]  # NaN equal to NaN
    assert same[0] == same[1]


def test_the_true_effect_needs_only_the_members_rows_of_the_twin():
    model, twin = lockstep(small(scale=0.05, end_year=2014), seed=1)
    whole = twin.register.firms(twin.region_names, twin.sector_names)
    members = twin.member_panel()
    ever = model.register.firms(model.region_names, model.sector_names).query("member")["firm_id"].unique()
    assert set(ever) <= set(members["firm_id"]) and len(members) < len(whole) / 5
    kept = whole[whole["firm_id"].isin(members["firm_id"])].reset_index(drop=True)
    pd.testing.assert_frame_equal(members, kept)  # every row of those firms, in the register's order


def _fail(self, year):
    raise ValueError("the twin failed in 2003")


def _die(self, year):
    import os
    os._exit(3)


@pytest.mark.parametrize(("follow", "error"), [(_fail, "the twin failed in 2003"),
                                              (_die, "twin world ended unexpectedly .exit code 3")])
def test_a_twin_process_that_fails_or_dies_fails_the_run_and_is_gone(monkeypatch, follow, error):
    import multiprocessing

    monkeypatch.setattr(sim.twin.TwinModel, "follow", follow)  # the forked process has it too
    with pytest.raises((ValueError, RuntimeError), match=error):
        run(small(scale=0.02, end_year=2004), seed=0, twin_process=True)
    assert multiprocessing.active_children() == []
