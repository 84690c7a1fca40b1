"""``run.py compare``: policy answers as analysts define them, a comparison folder ``report`` reads."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, cli

from sim.output.answers import SEEDS_ONLY, answers, outcomes
from sim.output.assumptions import assumptions
from sim.output.report import write_report
from sim.output.report_html import escape

TINY = ["--set", "population.scale=0.005", "--set", "scenario.end_year=2012", "--set", "programme.history_until=2007",
        "--set", "measurement.last_cohort=2009", "--workers", "2"]


def _yearly(seed_rows: dict[int, dict[str, list[float]]]) -> pd.DataFrame:
    frames = []
    for seed, columns in seed_rows.items():
        frames.append(pd.DataFrame({"seed": seed, "year": [2021, 2022, 2023], "value_added_nok": 0.0, "members": 0,
                                    "clusters": 0, "lever_spend_nok": 0.0, **columns}))
    return pd.concat(frames, ignore_index=True)


def test_cost_per_man_year_divides_cost_summed_over_the_years_by_man_years_summed_over_the_same_years():
    a = _yearly({s: {"employment": [100, 100, 100], "programme_spend_nok": [0, 50, 50]} for s in range(2)})
    b = _yearly({0: {"employment": [100, 90, 80], "programme_spend_nok": [0, 0, 0]},
                 1: {"employment": [100, 94, 88], "programme_spend_nok": [0, 0, 0]}})
    table = answers(a, b, since=2022, rate=0.0).set_index("metric")
    assert table.loc["man_years_total", "difference"] == -(30 + 18) / 2  # summed 2022-2023, mean over seeds
    assert table.loc["man_years_end", "difference"] == -(20 + 12) / 2
    assert table.loc["programme_cost_nok", "difference"] == -100
    assert table.loc["cost_per_man_year_nok", "difference"] == pytest.approx(-100 / -24)
    assert table.loc["cost_per_man_year_nok", "interval"] == "range of 2 seeds"
    assert table.loc["cost_per_man_year_nok", ["low", "high"]].tolist() == pytest.approx([100 / 30, 100 / 18])



def test_each_scenarios_membership_effect_is_given_gross_and_net_when_its_runs_had_a_twin():
    twin = {"treatment_jobs_gross": [0, 30, 40], "treatment_jobs": [0, 10, 5], "treatment_value_added_gross_nok":
            [0, 3e6, 4e6], "treatment_value_added_nok": [0, 1e6, 0.0]}
    a = _yearly({s: {"employment": [100, 100, 100], "programme_spend_nok": [0, 50, 50], **twin} for s in range(2)})
    table = answers(a, a, since=2022, rate=0.0).set_index("metric")
    assert table.loc["membership_man_years_gross", ["a_mean", "b_mean"]].tolist() == [70, 70]
    assert table.loc["membership_man_years_net", "a_mean"] == 15  # 55 man-years taken from other firms
    assert table.loc["membership_value_added_gross_nok", "a_mean"] == 7e6
    no_twin = answers(a.drop(columns=list(twin)), a.drop(columns=list(twin)), since=2022).set_index("metric")
    assert not no_twin.index.str.startswith("membership_").any()

def test_discounting_weights_year_t_by_one_over_1_04_to_the_years_since_the_first():
    a = _yearly({0: {"employment": [0, 0, 0], "programme_spend_nok": [0, 0, 0]}})
    b = _yearly({0: {"employment": [0, 104, 108.16], "programme_spend_nok": [0, 0, 0]}})
    assert outcomes(b, since=2022).loc[0, "man_years_discounted"] == pytest.approx(104 + 108.16 / 1.04)
    assert outcomes(a, since=2022).loc[0, "man_years_total"] == 0


def test_no_ratio_where_the_denominators_interval_includes_zero():
    a = _yearly({s: {"employment": [100, 100, 100], "programme_spend_nok": [0, 50, 50]} for s in range(3)})
    b = _yearly({0: {"employment": [100, 90, 90]}, 1: {"employment": [100, 105, 110]},
                 2: {"employment": [100, 100, 95]}})
    b["programme_spend_nok"] = 0.0
    row = answers(a, b, since=2022).set_index("metric").loc["cost_per_man_year_nok"]
    assert np.isnan(row["difference"])
    assert row["note"].startswith("not given: the change in man-years, summed over the years could be zero "
                                  "(range of 3 seeds: -20.00 to 15.00")


def test_assumptions_are_the_assumed_parameters_that_differ_or_are_active():
    on = {"foreign_investment": {"enabled": True, "entrants_per_gce": 2.0, "entrants_per_nce": 0.5, "employees": 25},
          "green_platform": {"enabled": False, "period_years": 3}}
    off = {"foreign_investment": {**on["foreign_investment"], "enabled": False},
           "green_platform": {"enabled": False, "period_years": 5}}
    found = {x.key: x for x in assumptions(on, off)}
    assert found["foreign_investment.employees"].switch == {"foreign_investment.enabled": False}
    assert found["foreign_investment.entrants_per_gce"].switch == {"foreign_investment.entrants_per_gce": 0}
    assert found["green_platform.period_years"].differs  # inactive in both, but the scenarios differ in it
    assert "green_platform.firms_per_consortium" not in found  # inactive and the same


@pytest.fixture(scope="module")
def comparison(tmp_path_factory) -> tuple[Path, object]:
    tmp = tmp_path_factory.mktemp("compare")
    cut = tmp / "cut.toml"
    cut.write_text(f'[scenario]\nextends = "{ROOT / "scenarios" / "classroom.toml"}"\nname = "classroom_cut"\n'
                   '[[programme.budget_changes]]\nyear = 2008\nfactor = 0.5\n')
    done = cli("compare", "scenarios/classroom.toml", str(cut), "--seeds", "2", "--out", str(tmp / "c"),
               "--ablate", "foreign_investment.employees", *TINY)
    assert done.returncode == 0, done.stderr
    return tmp / "c", done


def test_compare_keeps_every_run_and_writes_a_folder_report_reads(comparison):
    folder, _ = comparison
    assert len(list((folder / "a").iterdir())) == 2 and len(list((folder / "b").iterdir())) == 2
    assert {"answers.csv", "yearly_difference.csv", "ablation.csv", "paths.png", "difference.png", "ablation.png",
            "compare.json"} <= {p.name for p in folder.iterdir()}
    meta = json.loads((folder / "compare.json").read_text())
    assert meta["since"] == 2008 and meta["seeds"] == [0, 1] and meta["discount_rate"] == 0.04
    assert "foreign_investment.employees" in [x["key"] for x in meta["assumptions"]]
    done = cli("report", str(folder))
    assert done.returncode == 0, done.stderr
    text = (folder / "report.html").read_text(encoding="utf-8")
    assert "<h2>Policy answers</h2>" in text and "classroom_cut minus classroom, year by year" in text
    assert "What each assumption carries" in text and "foreign_investment.enabled=false" in text
    assert "admitted by the model, level" in text  # new Arenas differ by seed: counted, not matched by name


def test_compare_prints_readable_numbers_and_the_assumptions(comparison):
    _, done = comparison
    assert "e+" not in done.stdout and "man-years, summed over the years" in done.stdout
    assert "cluster programme cost" in done.stdout and "other instruments' cost" in done.stdout
    assert "foreign_investment.employees = 25.0 man-years" in done.stdout
    assert "without foreign_investment.enabled=false:" in done.stdout


def test_compare_without_posterior_says_its_intervals_hold_seed_uncertainty_only(comparison):
    folder, done = comparison
    assert f"uncertainty: {SEEDS_ONLY}" in done.stdout
    assert "committed calibration's central draw (calibration/calibrated.toml)" in SEEDS_ONLY
    assert json.loads((folder / "compare.json").read_text())["uncertainty"] == SEEDS_ONLY
    assert "posterior" not in json.loads((folder / "compare.json").read_text())
    assert escape(SEEDS_ONLY) in write_report(folder).read_text(encoding="utf-8")


def test_compare_never_overwrites_a_comparison_without_force(comparison):
    folder, _ = comparison
    done = cli("compare", "scenarios/classroom.toml", "scenarios/classroom.toml", "--seeds", "1", "--out",
               str(folder), *TINY)
    assert done.returncode == 2 and "exists and is not empty" in done.stderr and done.stderr.count("\n") == 1


@pytest.mark.parametrize(("args", "expected"), [
    (["--since", "2050"], "error: --since: must be a year both scenarios simulate, 2000-2012, got 2050"),
    (["--ablate", "population.scale"], "error: --ablate: population.scale: not an assumed parameter"),
    (["--seeds", "0"], "error: argument --seeds: must be a whole number 1-1000, got '0'"),
])
def test_compare_bad_input_exits_2_with_one_line(args, expected):
    done = cli("compare", "scenarios/classroom.toml", "scenarios/classroom.toml", *TINY, *args)
    assert done.returncode == 2 and done.stderr.startswith(expected), done.stderr
    assert done.stderr.count("\n") == 1
