"""Who joins: how much of its coming growth a firm sees when it decides (membership.foresight)."""

from __future__ import annotations

import numpy as np
from conftest import ROOT

from sim import load_scenario
from sim.model import ClusterModel


def _members_against_the_rest(foresight: float) -> tuple[float, float, float]:
    """Members' edge in latent potential (in sds of the rest's) and both groups' median man-years, in 2012.

    The rest are the open non-members of the sectors that have members (a 10 % classroom scenario).
    """
    scenario = load_scenario(ROOT / "scenarios" / "classroom.toml", {
        "population.scale": 0.1, "scenario.end_year": 2012, "membership.foresight": foresight})
    model = ClusterModel(scenario, rng=2)
    while model.running:
        model.step()
    f = model.firms
    rows = f.alive_rows()
    members = rows[f.member[rows]]
    pool = rows[np.isin(f.sector[rows], np.unique(f.sector[members]))]
    rest = pool[~f.member[pool]]
    edge = (f.potential[members].mean() - f.potential[rest].mean()) / f.potential[rest].std()
    return float(edge), float(np.median(f.employees[members])), float(np.median(f.employees[rest]))


def test_firms_that_foresee_their_growth_join_on_it_and_firms_that_do_not_join_on_what_shows():
    seen, seen_size, rest_size = _members_against_the_rest(1.0)
    unseen, unseen_size, _ = _members_against_the_rest(0.0)
    # Seeing it, members are more than one sd of potential above the rest and no larger (2.6 against 2.5
    # man-years); not seeing it, they are picked on size and R&D: no edge in potential beyond the noise of
    # some 30 members (an sd of about 0.18), and three times as large.
    assert seen > 1.0 and seen_size < 1.5 * rest_size
    assert abs(unseen) < 0.5 and unseen_size > 2.5 * rest_size
