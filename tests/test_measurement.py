"""The published estimator on synthetic registers with a known effect (sim.observe.estimator)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from sim.observe.estimator import MATCHED_DID, TRUE_EFFECT, measure
from sim.scenario.schema import Measurement

YEARS = range(2000, 2013)
# No winsorising: the injected effect is then exactly the difference of growth rates.
SETTINGS = Measurement(first_cohort=2003, last_cohort=2009, bootstrap=200, winsorize=0.0)


def synthetic_panel(n: int = 20_000, effect: tuple[float, ...] = (0.05, 0.05, 0.05), selection_sd: float = 0.0,
                    seed: int = 1) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """A register where joining raises growth by ``effect[k-1]`` in year k of membership.

    Firms join at most once, in 2003-2009, with a chance that rises with their size and, when
    ``selection_sd > 0``, with a persistent growth advantage the register does not show.

    Returns:
        The factual panel, the twin panel (the same firms and shocks, no effect) and the
        cluster-year table.
    """
    rng = np.random.default_rng(seed)
    sector, region = rng.integers(0, 3, n), rng.integers(0, 2, n)
    advantage = rng.normal(0.0, selection_sd, n) if selection_sd else np.zeros(n)
    size = np.exp(rng.normal(1.0, 1.0, n))
    worlds = {"factual": size.copy(), "twin": size.copy()}
    join = np.full(n, -1)
    frames: dict[str, list[pd.DataFrame]] = {"factual": [], "twin": []}
    for j, year in enumerate(YEARS):
        if 2003 <= year <= 2009:  # firms decide on last year's figures, then grow as members (as in the model)
            score = -4.5 + 0.6 * (np.log(worlds["factual"]) - 1.0) + (advantage / selection_sd if selection_sd else 0.0)
            new = (join < 0) & (rng.random(n) < 1.0 / (1.0 + np.exp(-score)))
            join[new] = year
        if j:
            base = np.clip(0.02 + advantage + rng.normal(0.0, 0.1, n), -0.8, None)
            since = np.where(join >= 0, year - join + 1, 0)
            boost = sum(np.where(since == k, delta, 0.0) for k, delta in enumerate(effect, start=1))
            worlds["factual"] *= 1.0 + base + boost
            worlds["twin"] *= 1.0 + base
        member = (join >= 0) & (year >= join)
        for world, values in worlds.items():
            frames[world].append(pd.DataFrame({
                "firm_id": np.arange(n), "year": year, "region": region, "sector": sector, "member": member,
                "cluster_id": np.where(member, sector, -1), "join_year": np.where(member, join, -1),
                "employees": values, "revenue_nok": 1e6 * values, "value_added_nok": 4e5 * values,
                "innovated": False, "alive": True, "birth_year": 1990,
            }))
    panels = []
    for world in ("factual", "twin"):
        panel = pd.concat(frames[world], ignore_index=True)
        panel["region"] = pd.Categorical.from_codes(panel["region"], ["north", "south"])
        panel["sector"] = pd.Categorical.from_codes(panel["sector"], ["a", "b", "c"])
        panels.append(panel)
    levels = pd.DataFrame([(c, y, "nce" if c == 2 else "arena") for c in range(3) for y in YEARS],
                          columns=["cluster_id", "year", "level"])
    return panels[0], panels[1], levels


def gap(effects, metric="value_added", estimator=MATCHED_DID) -> pd.Series:
    t = effects.effects
    return t[(t["metric"] == metric) & (t["estimator"] == estimator)].iloc[0]


def test_matched_did_recovers_injected_effect_without_selection():
    factual, twin, levels = synthetic_panel()
    effects = measure(factual, levels, SETTINGS, seed=0, twin_panel=twin)
    row = gap(effects)
    assert row["gap_pp"] == pytest.approx(5.0, abs=0.6)
    assert row["ci_low"] < 5.0 < row["ci_high"]
    assert row["n_treated"] > 1500
    # The twin holds the same firms without the effect, so the truth is the injected 5 pp.
    assert gap(effects, estimator=TRUE_EFFECT)["gap_pp"] == pytest.approx(5.0, abs=0.05)


def test_matched_did_shows_selection_bias_when_joiners_would_have_grown_anyway():
    factual, twin, levels = synthetic_panel(selection_sd=0.03)
    effects = measure(factual, levels, SETTINGS, seed=0, twin_panel=twin)
    estimate, truth = gap(effects)["gap_pp"], gap(effects, estimator=TRUE_EFFECT)["gap_pp"]
    assert truth == pytest.approx(5.0, abs=0.05)
    assert estimate > truth + 2.0  # joiners carry their unobserved growth advantage into the gap
    selection = effects.selection.set_index("metric").loc["value_added"]
    assert selection["selection_pp"] == pytest.approx(selection["matched_did_pp"] - selection["true_effect_pp"])
    assert 0.25 < selection["selection_share"] < 0.9


def test_true_effect_is_zero_when_the_twin_is_the_factual_world():
    factual, _, levels = synthetic_panel(n=5000)
    effects = measure(factual, levels, SETTINGS, seed=0, twin_panel=factual)
    truth = effects.effects[effects.effects["estimator"] == TRUE_EFFECT]
    assert (truth["gap_pp"] == 0.0).all() and (truth["ci_low"] == 0.0).all()


def test_gap_by_year_since_joining_follows_the_injected_profile():
    factual, twin, levels = synthetic_panel(effect=(0.08, 0.04, 0.02, 0.0, 0.0))
    by_year = measure(factual, levels, SETTINGS, seed=0, twin_panel=twin).by_year
    measured = by_year[(by_year["metric"] == "man_years") & (by_year["estimator"] == MATCHED_DID)
                       & (by_year["years_since_joining"] > 0)]
    assert measured["gap_pp"].to_numpy() == pytest.approx([8.0, 4.0, 2.0, 0.0, 0.0], abs=0.8)
    assert measured["gap_pp"].idxmax() == measured.index[0]


def test_matching_balances_what_the_register_shows():
    factual, _, levels = synthetic_panel(n=10_000)
    balance = measure(factual, levels, SETTINGS, seed=0).balance.set_index("covariate")
    size = balance.loc["log_man_years"]
    assert size["smd_before"] > 0.3  # larger firms join more often
    assert abs(size["smd_after"]) < 0.1


def test_groups_split_the_members_and_estimates_repeat_exactly():
    factual, _, levels = synthetic_panel(n=8000)
    first, second = (measure(factual, levels, SETTINGS, seed=3) for _ in range(2))
    pd.testing.assert_frame_equal(first.effects, second.effects)
    total = gap(first)["n_treated"]
    for table, column in ((first.by_level, "level"), (first.by_region, "region")):
        rows = table[(table["metric"] == "value_added") & (table["estimator"] == MATCHED_DID)]
        assert rows["n_treated"].sum() == total
        assert set(rows[column]) == ({"arena", "nce"} if column == "level" else {"north", "south"})


def test_a_register_without_joiners_gives_no_estimate():
    factual, _, levels = synthetic_panel(n=2000)
    factual["member"] = False
    effects = measure(factual, levels, SETTINGS, seed=0)
    assert (effects.effects["n_treated"] == 0).all()
    assert effects.effects["gap_pp"].isna().all()


def test_winsorising_leaves_a_symmetric_effect_nearly_unchanged():
    factual, twin, levels = synthetic_panel(n=10_000)
    trimmed = measure(factual, levels, Measurement(first_cohort=2003, last_cohort=2009, bootstrap=0),
                      seed=0, twin_panel=twin)
    assert gap(trimmed)["gap_pp"] == pytest.approx(5.0, abs=0.8)


def test_panel_index_finds_each_open_firm_year_with_or_without_a_search():
    """The lookup through each firm's rows gives the rows a search gives; a panel with a gap is searched."""
    from sim.observe.panel import PanelIndex

    # Firm 0 lives 2000-2003, firm 1 is born 2001 and closes in 2002, firm 3 lives 2002-2003.
    rows = [(0, 2000, True), (0, 2001, True), (1, 2001, True), (0, 2002, True), (1, 2002, False),
            (3, 2002, True), (0, 2003, True), (3, 2003, True)]
    panel = pd.DataFrame(rows, columns=["firm_id", "year", "alive"])
    index = PanelIndex(panel)
    assert index.by_firm is not None
    firms = np.array([0, 0, 1, 1, 2, 3, 3, 0, 9])
    years = np.array([2000, 2003, 2001, 2002, 2001, 2001, 2003, 1999, 2001])
    expected = np.array([0, 6, 2, -1, -1, -1, 7, -1, -1])  # closed, never seen, before birth, unknown: -1
    assert index.rows(firms, years).tolist() == expected.tolist()
    index.by_firm = None  # the search the index falls back to
    assert index.rows(firms, years).tolist() == expected.tolist()
    gap = PanelIndex(panel.drop(index=3).reset_index(drop=True))  # firm 0 missing in 2002: a gap
    assert gap.by_firm is None
    assert gap.rows(np.array([0, 3]), 2003).tolist() == [5, 6]
