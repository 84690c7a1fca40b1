"""Effects as a user meets them: run.py run writes them, run.py measure recomputes them."""

from __future__ import annotations

import json
import shutil
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from conftest import cli

from sim.observe.columns import EFFECT_COLUMNS

# A 4 % Norway to 2013 measures some 25 members of the 2003-2011 cohorts: a few seconds a run.
FAST = ["--set", "population.scale=0.04", "--set", "scenario.end_year=2013", "--set", "measurement.bootstrap=50",
        "--quiet"]
EFFECT_FILES = ("effects.csv", "effects_by_year.csv", "effects_by_level.csv", "effects_by_region.csv",
                "selection.csv", "balance.csv", "effects.png")


@pytest.fixture(scope="module")
def measured_run(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("measure")
    db = tmp / "r.db"
    done = cli("run", "scenarios/baseline_2021.toml", "--out", str(tmp / "run"), "--db", f"sqlite:///{db}", *FAST)
    assert done.returncode == 0, done.stderr
    return tmp / "run", db


def test_a_run_writes_both_estimators_for_every_metric(measured_run):
    run_dir, _ = measured_run
    assert all((run_dir / name).is_file() for name in EFFECT_FILES)
    effects = pd.read_csv(run_dir / "effects.csv")
    assert tuple(effects.columns[: len(EFFECT_COLUMNS)]) == EFFECT_COLUMNS
    assert set(zip(effects["metric"], effects["estimator"])) == {
        (m, e) for m in ("value_added", "revenue", "man_years") for e in ("matched_did", "true_effect")}
    assert (effects["n_treated"] >= 15).all()
    assert (effects["ci_low"] <= effects["gap_pp"]).all() and (effects["gap_pp"] <= effects["ci_high"]).all()
    headline = json.loads((run_dir / "summary.json").read_text())["headline"]
    value_added = effects.set_index(["metric", "estimator"]).loc[("value_added", "matched_did"), "gap_pp"]
    assert headline["gap_value_added_pp"] == pytest.approx(value_added)
    assert {"true_man_years_pp", "selection_share_revenue", "gap_revenue_pp_year1",
            "treatment_jobs_end"} <= set(headline)
    yearly = pd.read_csv(run_dir / "yearly.csv")
    expected = yearly["employment"] - yearly["untreated_employment"]
    assert yearly["treatment_jobs"].to_numpy() == pytest.approx(expected.to_numpy())


def test_a_run_stores_its_effects_in_the_results_database(measured_run):
    run_dir, db = measured_run
    with sqlite3.connect(db) as conn:
        stored = pd.read_sql("select metric, estimator, gap_pp from effects", conn)
    effects = pd.read_csv(run_dir / "effects.csv")
    merged = effects.merge(stored, on=["metric", "estimator"], suffixes=("", "_db"))
    assert len(merged) == 6
    assert merged["gap_pp"].to_numpy() == pytest.approx(merged["gap_pp_db"].to_numpy())


def test_measure_recomputes_the_same_effects_from_the_run_folder(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    before = pd.read_csv(run_dir / "effects.csv")
    (run_dir / "effects.csv").unlink()
    done = cli("measure", str(run_dir), "--quiet")
    assert done.returncode == 0, done.stderr
    pd.testing.assert_frame_equal(pd.read_csv(run_dir / "effects.csv"), before)


def test_measure_without_twin_reads_the_panel_and_gives_the_published_estimator(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    done = cli("measure", str(run_dir), "--no-twin", "--set", "measurement.bootstrap=0")
    assert done.returncode == 0, done.stderr
    assert "matched_did" in done.stdout and "true_effect" not in done.stdout
    effects = pd.read_csv(run_dir / "effects.csv")
    assert set(effects["estimator"]) == {"matched_did"}
    assert effects["ci_low"].isna().all()  # no bootstrap asked for


def test_measuring_without_twin_after_the_twin_leaves_no_stale_truth(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    assert cli("measure", str(run_dir), "--no-twin", "--quiet").returncode == 0
    headline = json.loads((run_dir / "summary.json").read_text())["headline"]
    assert "gap_value_added_pp" in headline and not any(k.startswith(("true_", "selection_share_")) for k in headline)
    selection = pd.read_csv(run_dir / "selection.csv")  # a header, no rows: still a readable table
    assert selection.empty and "selection_share" in selection.columns


@pytest.mark.parametrize(("args", "message"), [
    (["measure", "/nonexistent/run"], "not a run folder: scenario.toml is missing"),
    (["measure", "{run}", "--set", "population.scale=1"], "measure changes only [measurement] settings"),
    (["measure", "{run}", "--set", "measurement.neighbours=0"], "measurement.neighbours: must be 1-50, got 0"),
    (["measure", "{run}", "--set", "measurement.twin=false"], "use --no-twin to skip the twin world"),
])
def test_measure_rejects_bad_input_in_one_line(measured_run, args, message):
    done = cli(*[a.replace("{run}", str(measured_run[0])) for a in args])
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_measure_refuses_a_folder_whose_run_it_cannot_reproduce(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    yearly = pd.read_csv(run_dir / "yearly.csv", dtype=str)  # as printed: only one cell changes
    yearly.loc[3, "employment"] = "1234.5"
    yearly.to_csv(run_dir / "yearly.csv", index=False)
    done = cli("measure", str(run_dir), "--quiet")
    assert done.returncode == 2
    assert "differs from this folder's run" in done.stderr


@pytest.mark.parametrize(("damage", "message"), [
    ("clusters", "clusters.csv is missing"),
    ("parquet", "cannot read the run's tables (ArrowInvalid"),
    ("seed", "seed: must be a whole number >= 0"),
])
def test_measure_reports_a_damaged_run_folder_in_one_line(measured_run, tmp_path, damage, message):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    if damage == "clusters":
        (run_dir / "clusters.csv").unlink()
    elif damage == "parquet":
        (run_dir / "firms.parquet").write_text("not parquet")
    else:
        summary = json.loads((run_dir / "summary.json").read_text())
        (run_dir / "summary.json").write_text(json.dumps(summary | {"seed": -1}))
    done = cli("measure", str(run_dir), "--no-twin", "--quiet")
    assert done.returncode == 2
    assert message in done.stderr and len(done.stderr.strip().splitlines()) == 1


def test_measure_that_cannot_write_keeps_the_summary_and_leaves_no_staging_folder(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    before = (run_dir / "summary.json").read_text()
    (run_dir / "selection.csv").unlink()
    (run_dir / "selection.csv").mkdir()  # a folder where a table goes: the replacement fails
    done = cli("measure", str(run_dir), "--no-twin", "--quiet")
    assert done.returncode == 2
    assert "cannot write the effect tables" in done.stderr and len(done.stderr.strip().splitlines()) == 1
    assert (run_dir / "summary.json").read_text() == before
    assert not [p.name for p in run_dir.iterdir() if p.name.endswith(".partial")]


def test_measure_replaces_the_tables_and_leaves_no_staging_folder(measured_run, tmp_path):
    run_dir = tmp_path / "copy"
    shutil.copytree(measured_run[0], run_dir)
    assert cli("measure", str(run_dir), "--no-twin", "--quiet").returncode == 0
    assert sorted(p.name for p in run_dir.iterdir() if p.name.startswith(".")) == []
    assert all((run_dir / name).is_file() for name in EFFECT_FILES)
