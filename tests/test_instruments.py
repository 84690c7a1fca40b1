"""Restructuring, corporate networks, Green Platform, cluster links and foreign investment."""

from __future__ import annotations

import numpy as np
import pytest
from conftest import small

from sim import ClusterModel, run


def yearly(seed: int = 0, scale: float = 0.05, end_year: int = 2022, **sections):
    return run(small(scale=scale, end_year=end_year, **sections), seed=seed).yearly.set_index("year")


def test_restructuring_areas_settle_at_yearly_designations_times_the_period():
    y = yearly(end_year=2020)
    # 3.7 new areas a year for six years: about 22 running once the first period is over.
    assert y.loc[2008:, "restructuring_areas"].mean() == pytest.approx(3.7 * 6, abs=2.5)


def test_restructuring_start_ups_have_their_configured_mean():
    y = yearly(scale=0.1, end_year=2020, restructuring={"startups_per_area": 4.0})
    per_area = y.loc[2008:, "restructuring_startups"] / y.loc[2008:, "restructuring_areas"]
    assert per_area.mean() == pytest.approx(4.0, rel=0.2)


def test_areas_go_to_counties_whose_jobs_shrink():
    model = ClusterModel(small(scale=0.05, end_year=2012, shocks=[], restructuring={"vulnerability_weight": 200.0}),
                         rng=1)
    for _ in range(13):
        model.step()
    state = model.instrument_state
    growth = {r: np.log(state.county_employment[y][r] / state.county_employment[max(y - 3, 2000)][r])
              for r, y in zip(state.area_region, state.area_start)}
    chosen = np.mean(list(growth.values()))
    everyone = np.mean([np.log(state.county_employment[y] / state.county_employment[max(y - 3, 2000)]).mean()
                        for y in state.area_start])
    assert chosen < everyone


def test_corporate_networks_are_cliques_of_growing_smes():
    from sim.submodels.instruments import instruments
    from sim.submodels.programme import programme

    scn = small(scale=0.1, end_year=2012)
    model = ClusterModel(scn, rng=2)
    for _ in range(11):
        model.step()
    programme(model)
    instruments(model)
    f, net = model.firms, scn.corporate_networks
    new = np.flatnonzero(f.network_until[: f.n] == 2011 + net.period_years - 1)
    groups = model.instrument_events.corporate_networks
    assert groups > 0 and len(new) == groups * net.firms_per_network
    assert ((f.employees[new] >= net.min_employees) & (f.employees[new] <= net.max_employees)).all()
    assert (f.potential[new] > 0).all()  # growth ambitions
    inside = np.isin(model.ties.a, new) & np.isin(model.ties.b, new)
    assert inside.sum() >= groups * net.firms_per_network * (net.firms_per_network - 1) // 2


def test_green_platform_starts_in_2021_with_about_twelve_consortia():
    y = yearly(scale=0.2, end_year=2022)
    assert y.loc[:2020, "green_consortia"].eq(0).all()
    assert y.loc[2021:2022, "green_consortia"].mean() == pytest.approx(12, abs=6)


def test_switched_off_instruments_do_nothing():
    off = {"enabled": False}
    y = yearly(end_year=2022, restructuring=off, corporate_networks=off, green_platform=off, foreign_investment=off)
    columns = ["restructuring_areas", "restructuring_startups", "corporate_networks", "green_consortia",
               "foreign_entrants", "lever_spend_nok"]
    assert (y[columns] == 0).all().all()


def test_foreign_entrants_join_strong_clusters():
    scn = small(scale=0.05, end_year=2016, foreign_investment={"entrants_per_nce": 20.0, "entrants_per_gce": 20.0})
    result = run(scn, seed=3)
    f = result.firms
    # Foreign subsidiaries join in the year they arrive, with 25 man-years (start-ups have 1-4).
    joined = f[(f["join_year"] == f["year"]) & (f["birth_year"] == f["year"]) & (f["employees"] > 10)]
    levels = result.clusters.set_index(["cluster_id", "year"])["level"]
    assert len(joined) > 0
    assert all(levels[(c, y)] in ("nce", "gce") for c, y in zip(joined["cluster_id"], joined["year"]))


def test_cluster_link_adds_ties_between_the_two_clusters():
    from sim.submodels.instruments import instruments
    from sim.submodels.programme import programme

    link = [{"clusters": ["GCE Blue Maritime", "NCE Raufoss"], "from_year": 2011, "tie_attempts": 20.0}]
    model = ClusterModel(small(scale=0.1, end_year=2012, cluster_links=link), rng=4)
    for _ in range(11):
        model.step()

    def cross_ties() -> int:
        f, t = model.firms, model.ties
        ca, cb = f.cluster[t.a], f.cluster[t.b]
        return int((((ca == 0) & (cb == 1)) | ((ca == 1) & (cb == 0))).sum())

    programme(model)
    f, net = model.firms, model.spec.network
    members = np.flatnonzero(f.member[: f.n])
    a, b = members[f.cluster[members] == 0], members[f.cluster[members] == 1]
    # Each of a's members searches 20 times among b's, accepted with the usual distance decay.
    km = model.distance_km[f.region[a][:, None], f.region[b][None, :]]
    cognitive = np.hypot(f.kx[a][:, None] - f.kx[b][None, :], f.ky[a][:, None] - f.ky[b][None, :])
    expected = 20.0 * np.exp(-km / net.geo_scale_km - cognitive / net.cognitive_scale).mean(axis=1).sum()
    before = cross_ties()
    instruments(model)
    # Repeated pairs count once, so fewer ties than accepted searches; a Poisson count around it.
    assert before == 0 and expected > 2.0
    assert expected / 3.0 <= cross_ties() <= min(len(a) * len(b), expected + 3.0 * np.sqrt(expected))


def test_a_policy_change_applies_from_its_year_and_not_before():
    change = [{"year": 2010, "set": {"restructuring.areas_per_year": 10.0}}]
    base, changed = yearly(seed=5, end_year=2014), yearly(seed=5, end_year=2014, changes=change)
    # Common random numbers: identical histories until the change, then more areas.
    assert changed.loc[:2009].equals(base.loc[:2009])
    assert changed.loc[2014, "restructuring_areas"] > base.loc[2014, "restructuring_areas"] + 15
