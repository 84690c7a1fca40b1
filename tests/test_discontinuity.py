"""The open call's applicants and the regression discontinuity at its cut-off (sim.observe.discontinuity)."""

from __future__ import annotations

import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pyfixest as pf
import pytest

import sim
from sim.observe import discontinuity
from sim.observe.columns import CALL_APPLICANT_COLUMNS
from sim.observe.discontinuity import call_applicants, call_discontinuity, clustered_wls
from sim.observe.estimator import METRICS, measure
from sim.observe.panel import PanelIndex
from sim.output.result import write_outputs
from sim.scenario.schema import Measurement
from sim.submodels.programme import Call

ROOT = Path(__file__).resolve().parent.parent
SETTINGS = Measurement(winsorize=0.0)
REGIONS, SECTORS = [f"county{i}" for i in range(10)], [f"sector{j}" for j in range(8)]


def call(year: int, cells: list[int], score: list[float], admitted: int) -> Call:
    """A call whose ``admitted`` best applicants were admitted."""
    score = np.asarray(score, dtype=float)
    rank = np.empty(len(cells), dtype=np.int64)
    rank[np.argsort(-score, kind="stable")] = np.arange(1, len(cells) + 1)
    taken = rank <= admitted
    return Call(year, np.asarray(cells), np.zeros((len(cells), 4)), score, rank, taken,
                np.where(taken, np.cumsum(taken) - 1, -1))


def call_register(jump: float = 3.0, slope: float = 0.5, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Eight calls (2005-2012) of ten applicant cells each, three admitted; each cell applies once.

    A firm's yearly log growth (× 100) is 2 + ``slope`` · its cell's score (in every year: better cells grow
    faster, smoothly in the score) + noise (sd 8) + ``jump`` in the three years from its cell's admission.

    Returns:
        The firm-year panel (30 firms a cell, 2000-2016) and the applicant table.
    """
    rng = np.random.default_rng(seed)
    cells = rng.permutation(len(REGIONS) * len(SECTORS))
    calls = [call(2005 + c, list(cells[10 * c: 10 * c + 10]), list(rng.normal(0.0, 2.0, 10)), 3) for c in range(8)]
    applicants = call_applicants(calls, REGIONS, SECTORS)
    by_cell = {int(r * len(SECTORS) + s): row for r, s, row in zip(
        pd.Index(REGIONS).get_indexer(applicants["region"]), pd.Index(SECTORS).get_indexer(applicants["sector"]),
        applicants.itertuples())}
    firm_cell = np.repeat(np.arange(len(REGIONS) * len(SECTORS)), 30)
    score = np.array([by_cell[c].score if c in by_cell else 0.0 for c in firm_cell])
    won = np.array([by_cell[c].year if c in by_cell and by_cell[c].admitted else 0 for c in firm_cell])
    log_size, frames = rng.normal(1.0, 1.0, len(firm_cell)), []
    for year in range(2000, 2017):
        if year > 2000:
            boost = np.where((won > 0) & (year >= won) & (year < won + 3), jump, 0.0)
            log_size = log_size + (2.0 + slope * score + rng.normal(0.0, 8.0, len(firm_cell)) + boost) / 100.0
        frames.append(pd.DataFrame({
            "firm_id": np.arange(len(firm_cell)), "year": year, "alive": True, "member": (won > 0) & (year >= won),
            "region": pd.Categorical.from_codes(firm_cell // len(SECTORS), REGIONS),
            "sector": pd.Categorical.from_codes(firm_cell % len(SECTORS), SECTORS),
            "employees": np.exp(log_size), "revenue_nok": 1e6 * np.exp(log_size),
            "value_added_nok": 4e5 * np.exp(log_size)}))
    return pd.concat(frames, ignore_index=True), applicants


def rows(table: pd.DataFrame, metric: str = "man_years") -> pd.DataFrame:
    return table[table["metric"] == metric].set_index(["estimator", "period"])


def test_every_applicant_is_ranked_and_the_cutoff_lies_between_the_last_admitted_and_the_first_rejected():
    table = call_applicants([call(2030, [3, 9, 14, 20], [0.5, 2.0, -1.0, 1.0], 2)], REGIONS, SECTORS)
    assert list(table.columns) == list(CALL_APPLICANT_COLUMNS)
    assert list(table["rank"]) == [1, 2, 3, 4] and list(table["score"]) == [2.0, 1.0, 0.5, -1.0]
    assert list(table["admitted"]) == [True, True, False, False]
    assert (table["cutoff_score"] == 0.75).all() and list(table["distance"]) == [1.25, 0.25, -0.25, -1.75]
    assert list(table["region"]) == ["county1", "county2", "county0", "county1"]  # cells 9, 20, 3, 14
    assert list(table["sector"]) == ["sector1", "sector4", "sector3", "sector6"]


def test_a_call_that_admits_everyone_or_no_one_has_no_cutoff():
    calls = [call(2030, [1, 2], [1.0, 0.0], 2), call(2031, [1, 2], [1.0, 0.0], 0)]
    table = call_applicants(calls, REGIONS, SECTORS)
    assert table["cutoff_score"].isna().all() and table["distance"].isna().all()


def test_both_estimators_find_the_jump_in_growth_after_admission_and_none_before():
    panel, applicants = call_register(jump=3.0)
    table = rows(call_discontinuity(PanelIndex(panel), applicants, {"man_years": "employees"}, SETTINGS))
    for estimator in discontinuity.ESTIMATORS:
        after, before = table.loc[(estimator, "after")], table.loc[(estimator, "before")]
        assert after["ci_low"] < 3.0 < after["ci_high"] and after["ci_low"] > 0.5
        assert before["ci_low"] < 0.0 < before["ci_high"]
    local = table.loc[("local_linear", "after")]
    assert local["bandwidth"] == pytest.approx(applicants["score"].std(ddof=0))
    assert local["n_calls"] == 8 and local["n_firms"] == 30 * local["n_cells"]
    nearest = table.loc[("nearest_applicants", "after")]
    assert (nearest["n_admitted"], nearest["n_rejected"], nearest["n_cells"]) == (16, 16, 32)


def test_without_an_effect_there_is_no_jump_however_steeply_growth_rises_with_the_score():
    panel, applicants = call_register(jump=0.0, slope=1.5, seed=1)
    table = call_discontinuity(PanelIndex(panel), applicants, {"man_years": "employees"}, SETTINGS)
    growth = table[table["metric"] == "man_years"]
    assert ((growth["ci_low"] < 0.0) & (growth["ci_high"] > 0.0)).all()


def test_the_first_stage_counts_the_admitted_cells_firms_that_joined():
    panel, applicants = call_register()
    table = rows(call_discontinuity(PanelIndex(panel), applicants, {"man_years": "employees"}, SETTINGS),
                 discontinuity.FIRST_STAGE)
    # Every firm of an admitted cell joins in the call's year, none of a rejected cell does.
    assert table.loc[("nearest_applicants", "after"), "gap_pp"] == pytest.approx(100.0)
    assert table.loc[("nearest_applicants", "before"), "gap_pp"] == pytest.approx(0.0, abs=1e-9)


def test_without_calls_every_row_is_nan_with_no_cells():
    panel, _ = call_register()
    table = call_discontinuity(PanelIndex(panel), call_applicants([], REGIONS, SECTORS), METRICS, SETTINGS)
    assert len(table) == (len(METRICS) + 1) * 2 * 2
    assert table[["gap_pp", "std_error", "ci_low", "ci_high"]].isna().all().all()
    assert (table[["n_cells", "n_firms", "n_calls"]] == 0).all().all()


def test_few_applicants_near_the_cutoff_give_counts_but_no_number():
    panel, applicants = call_register()
    one_call = applicants[applicants["year"] == 2005]  # its two nearest on each side are too few
    table = rows(call_discontinuity(PanelIndex(panel), one_call, {"man_years": "employees"}, SETTINGS))
    nearest = table.loc[("nearest_applicants", "after")]
    assert np.isnan(nearest["gap_pp"]) and np.isnan(nearest["ci_low"]) and np.isnan(nearest["std_error"])
    assert (nearest["n_admitted"], nearest["n_rejected"], nearest["n_firms"]) == (2, 2, 120)


def test_clustered_least_squares_equals_pyfixest_weighted_crv1():
    rng = np.random.default_rng(2)
    data = pd.DataFrame({"x": rng.normal(size=200), "d": rng.random(200) < 0.4, "w": rng.random(200) + 0.1,
                         "c": rng.integers(0, 25, 200)})
    data["y"] = 1.0 + 2.0 * data["d"] + 0.5 * data["x"] + rng.normal(size=200) + rng.normal(size=25)[data["c"]]
    design = np.column_stack([data["d"], np.ones(200), data["x"]]).astype(float)
    beta, vcov, groups = clustered_wls(design, data["y"].to_numpy(), data["w"].to_numpy(), data["c"].to_numpy())
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        fit = pf.feols("y ~ d + x", data=data.astype({"d": float}), weights="w", vcov={"CRV1": "c"})
    assert beta[[1, 0, 2]] == pytest.approx(fit.coef().to_numpy(), rel=1e-9)
    assert np.sqrt(np.diag(vcov))[[1, 0, 2]] == pytest.approx(fit.se().to_numpy(), rel=1e-9)
    assert groups == 25


@pytest.fixture(scope="module")
def classroom() -> tuple:
    """The baseline's classroom run (2 %, seed 0, without the twin) with its firm panel, and its model."""
    held = {}
    scenario = sim.load_scenario(ROOT / "scenarios/classroom.toml", overrides={
        "population.scale": 0.02, "output.firm_panel": True, "measurement.twin": False})
    result = sim.run(scenario, seed=0, on_year=lambda m: held.setdefault("model", m))
    return result, held["model"]


def test_the_admitted_applicants_are_exactly_the_clusters_the_programme_created(classroom):
    result, model = classroom
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    clusters = result.clusters
    created = clusters[clusters["year"] > 2021].groupby("cluster_id").first()  # the operator's, from 2022
    created = created[~created.index.isin(clusters[clusters["year"] <= 2021]["cluster_id"])]
    admitted = applicants[applicants["admitted"]].set_index("cluster_id")
    assert sorted(admitted.index) == sorted(created.index) and len(admitted) > 0
    assert (admitted.loc[created.index, ["year", "region", "sector"]].to_numpy()
            == created[["year", "region", "sector"]].to_numpy()).all()
    assert (created["name"].str.startswith("Arena ")).all()
    yearly = result.yearly.set_index("year")
    per_call = applicants.groupby("year").agg(applications=("rank", "size"), admissions=("admitted", "sum"))
    assert (per_call["applications"] == yearly.loc[per_call.index, "applications"]).all()
    assert (per_call["admissions"] == yearly.loc[per_call.index, "admissions"]).all()
    assert set(per_call.index) == set(yearly.index[yearly["applications"] > 0])


def test_each_call_admits_its_best_ranked_applicants(classroom):
    _, model = classroom
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    for _, one in applicants.groupby("year"):
        assert list(one["rank"]) == list(range(1, len(one) + 1)) and one["score"].is_monotonic_decreasing
        assert list(one["admitted"]) == [True] * one["admitted"].sum() + [False] * (~one["admitted"]).sum()
        if one["cutoff_score"].notna().all():
            assert ((one["distance"] > 0) == one["admitted"]).all()


def test_the_classroom_discontinuity_gives_each_number_with_its_interval(classroom):
    result, model = classroom
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    effects = measure(result.firms, result.clusters, model.spec.measurement, 0, applicants=applicants)
    table = effects.tables()["call_discontinuity"]
    assert list(table.columns) == list(discontinuity.COLUMNS) and len(table) == 16
    measured = table["gap_pp"].notna()
    assert measured.any()
    spread = measured & (table["std_error"] > 0)  # a share no firm moved (joined before the call) is exactly 0
    assert spread.sum() >= 12
    assert (table.loc[spread, "ci_low"] < table.loc[spread, "gap_pp"]).all()
    assert (table.loc[spread, "gap_pp"] < table.loc[spread, "ci_high"]).all()
    exact = measured & ~spread
    assert (table.loc[exact, ["gap_pp", "ci_low", "ci_high"]] == 0).all().all()
    assert (table["n_calls"] <= applicants["year"].nunique()).all()


def test_a_run_folder_holds_every_applicant_with_the_contract_columns(classroom, tmp_path):
    result, model = classroom
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    written = write_outputs(replace(result, firms=None, call_applicants=applicants), tmp_path, with_plots=False)
    assert tmp_path / "call_applicants.csv" in written
    table = pd.read_csv(tmp_path / "call_applicants.csv")
    assert list(table.columns) == list(CALL_APPLICANT_COLUMNS) and len(table) == len(applicants)
    assert table["admitted"].sum() == result.yearly["admissions"].sum()


def test_a_run_without_the_programme_has_no_calls_and_measures_nothing_without_failing():
    held = {}
    scenario = sim.load_scenario(ROOT / "scenarios/classroom.toml", overrides={
        "population.scale": 0.02, "output.firm_panel": True, "measurement.twin": False,
        "programme.enabled": False})
    result = sim.run(scenario, seed=0, on_year=lambda m: held.setdefault("model", m))
    model = held["model"]
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    assert applicants.empty and list(applicants.columns) == list(CALL_APPLICANT_COLUMNS)
    tables = measure(result.firms, result.clusters, scenario.measurement, 0, applicants=applicants).tables()
    assert tables["call_discontinuity"]["gap_pp"].isna().all() and (tables["call_discontinuity"]["n_cells"] == 0).all()
    assert tables["staggered_did"]["gap_pp"].isna().all() and (tables["staggered_did"]["n_firms"] == 0).all()
