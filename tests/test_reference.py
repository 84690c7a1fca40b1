"""The per-agent reference (``sim.reference``) states the same rules as the vectorised engine.

Both models run the same small scenario (scale 0.004, about 1,200 firms; 2000-2010; the four
clusters of ``conftest.small``, with size caps and the joining intercept raised so that about 4 %
of firms are members and the member-only rules weigh in the aggregates) for 20 seeds each. The
same seed gives both the same starting firms; later random numbers differ, so they are compared
statistically.

Tolerance: for each statistic the difference of the two means over seeds must be at most
``max(3 * SE, REL_TOL * |engine mean|)`` with ``SE = sqrt(var_ref / n + var_engine / n)`` (the
combined standard error) and ``REL_TOL = 0.02``. The seeds are fixed, so the outcome is
deterministic; for fresh seeds, two correct implementations would fail one of the 16 checks with
a probability of about 4 %.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from conftest import small

from sim.model import ClusterModel
from sim.reference import ReferenceModel, RefFirm
from sim.scenario.params import LEVELS
from sim.scenario.schema import Scenario

SEEDS = range(20)
REL_TOL = 0.02
N_SE = 3.0
# Caps near the programme's largest clusters, so that ~40 of the ~1,200 firms are members.
ROOMY_LEVELS = {lv: {"max_members": 10_000.0, "recruits_per_year": 1_000.0} for lv in LEVELS}
COMPARED = ("firms", "members", "employment_growth", "innovations_per_firm", "ties_per_firm",
            "startups_per_firm", "exits_per_firm", "institution_ties_per_firm", "value_added_share")


LEVERS_OFF = {name: {"enabled": False}
              for name in ("restructuring", "corporate_networks", "green_platform", "foreign_investment")}


# The firm-dynamics mechanisms of docs/ODD.md 7.5-7.6 switched on (all off by default), at their register-like values.
DYNAMICS = {"demography": {"exit_rate": 0.27, "exit_age_elasticity": 0.5, "startup_size_tail": 0.15,
                           "startup_staffing": 0.6},
            "growth": {"young_growth": 0.05, "young_growth_fade": 0.5, "employment_shock_sd": 0.25,
                       "adjustment_threshold": 0.2, "va_productivity_elasticity": 0.3, "va_scale_elasticity": -0.05,
                       "displacement": 0.5}}


def scenario(end_year: int = 2010, **tables: dict) -> Scenario:
    """The comparison scenario: small, with roomy clusters that firms like to join, the replayed
    history only (the reference states the firm-level rules; it has no operator and no levers)."""
    return small(scale=0.004, end_year=end_year, levels=ROOMY_LEVELS,
                 membership={"base_utility": 3.0}, programme={"history_until": end_year}, **LEVERS_OFF, **tables)


def statistics(yearly: pd.DataFrame) -> dict[str, float]:
    """Final-year and mean-over-years values of the compared aggregates of one run."""
    firms = yearly["firms"]
    series = {
        "firms": firms,
        "members": yearly["members"],
        "employment_growth": np.log(yearly["employment"]).diff().iloc[1:],
        "innovations_per_firm": yearly["innovations"] / firms,
        "ties_per_firm": yearly["ties"] / firms,
        "startups_per_firm": yearly["startups"] / firms,
        "exits_per_firm": yearly["exits"] / firms,
        "institution_ties_per_firm": yearly["institution_ties"] / firms,
        "value_added_share": yearly["value_added_nok"] / yearly["revenue_nok"],
    }
    return ({f"{name} final": float(s.iloc[-1]) for name, s in series.items()}
            | {f"{name} mean": float(s.mean()) for name, s in series.items()})


def engine_yearly(scn: Scenario, seed: int) -> pd.DataFrame:
    model = ClusterModel(scn, rng=seed, keep_panel=False)
    while model.running:
        model.step()
    return model.register.yearly()


def reference_yearly(scn: Scenario, seed: int) -> pd.DataFrame:
    model = ReferenceModel(scn, rng=seed)
    model.run_model()
    return model.yearly()


def over_seeds_of(scn: Scenario, seeds: range = SEEDS) -> tuple[pd.DataFrame, pd.DataFrame]:
    """One row of statistics per seed: (reference, engine)."""
    ref = pd.DataFrame([statistics(reference_yearly(scn, s)) for s in seeds])
    vec = pd.DataFrame([statistics(engine_yearly(scn, s)) for s in seeds])
    return ref, vec


@pytest.fixture(scope="module")
def over_seeds() -> tuple[pd.DataFrame, pd.DataFrame]:
    return over_seeds_of(scenario())


@pytest.fixture(scope="module")
def over_seeds_with_dynamics() -> tuple[pd.DataFrame, pd.DataFrame]:
    return over_seeds_of(scenario(**DYNAMICS), range(30))  # fat-tailed man-year shocks: more seeds


def assert_agree(over_seeds: tuple[pd.DataFrame, pd.DataFrame], stat: str) -> None:
    ref, vec = (table[stat] for table in over_seeds)
    se = np.sqrt(ref.var() / len(ref) + vec.var() / len(vec))
    allowed = max(N_SE * se, REL_TOL * abs(vec.mean()))
    assert abs(ref.mean() - vec.mean()) <= allowed, (
        f"{stat}: reference {ref.mean():.6g} vs engine {vec.mean():.6g} "
        f"(difference {ref.mean() - vec.mean():.3g}, allowed {allowed:.3g}, SE {se:.3g})")


STATS = [f"{name} {kind}" for name in COMPARED for kind in ("final", "mean")]


@pytest.mark.slow
@pytest.mark.parametrize("stat", STATS)
def test_reference_and_engine_agree_statistically(over_seeds, stat):
    assert_agree(over_seeds, stat)


@pytest.mark.slow
@pytest.mark.parametrize("stat", [f"{name} mean" for name in COMPARED])  # one year's figures are too noisy
def test_reference_and_engine_agree_with_the_firm_dynamics_mechanisms_on(over_seeds_with_dynamics, stat):
    assert_agree(over_seeds_with_dynamics, stat)


def test_reference_with_the_same_seed_gives_identical_tables():
    scn = scenario(end_year=2004)
    pd.testing.assert_frame_equal(reference_yearly(scn, 11), reference_yearly(scn, 11))


def test_reference_starts_from_the_engines_firms():
    scn = scenario(end_year=2001)
    engine, reference = ClusterModel(scn, rng=4), ReferenceModel(scn, rng=4)
    employees = [f.employees for f in reference.agents_by_type[RefFirm]]
    np.testing.assert_array_equal(employees, engine.firms.employees[: engine.firms.n])


def test_reference_reports_the_registers_columns_in_full_scale_units():
    scn = scenario(end_year=2001)
    ref, vec = reference_yearly(scn, 2), engine_yearly(scn, 2)
    assert set(ref.columns) <= set(vec.columns)
    assert ref["firms"].iloc[0] == pytest.approx(vec["firms"].iloc[0], rel=0.05)
