"""The command line as a user meets it: exit codes, one-line errors, files and database rows."""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path

import pandas as pd
import pytest
from conftest import cli

from sim.cli.run import summary_table

FAST = ["--set", "population.scale=0.004", "--set", "scenario.end_year=2006", "--quiet"]


@pytest.fixture(scope="module")
def two_runs(tmp_path_factory) -> tuple[Path, Path, Path]:
    tmp = tmp_path_factory.mktemp("cli")
    db = f"sqlite:///{tmp / 'r.db'}"
    for name in ("a", "b"):
        done = cli("run", "scenarios/baseline_2021.toml", "--out", str(tmp / name), "--db", db, *FAST)
        assert done.returncode == 0, done.stderr
    return tmp / "a", tmp / "b", tmp / "r.db"


def test_run_writes_every_contract_file(two_runs):
    a, _, _ = two_runs
    names = {p.name for p in a.iterdir()}
    assert {"yearly.csv", "firms.parquet", "clusters.csv", "summary.json", "scenario.toml",
            "member_growth.png", "clusters_by_level.png", "economy.png"} <= names
    summary = json.loads((a / "summary.json").read_text())
    assert summary["seed"] == 0 and summary["scenario"] == "baseline_2021"


def test_same_scenario_and_seed_give_byte_identical_csv(two_runs):
    a, b, _ = two_runs
    for name in ("yearly.csv", "clusters.csv"):
        assert (a / name).read_bytes() == (b / name).read_bytes()


def test_runs_are_recorded_in_the_database(two_runs):
    _, _, db = two_runs
    with sqlite3.connect(db) as conn:
        runs = conn.execute("select count(*), min(status) from runs").fetchone()
        years = conn.execute("select count(distinct year) from yearly").fetchone()[0]
    assert runs == (2, "done") and years == 7


def test_resolved_scenario_file_runs_again(two_runs, tmp_path):
    a, _, _ = two_runs
    done = cli("run", str(a / "scenario.toml"), "--out", str(tmp_path / "again"),
               "--db", f"sqlite:///{tmp_path / 'x.db'}", "--quiet")
    assert done.returncode == 0, done.stderr
    assert (tmp_path / "again" / "yearly.csv").read_bytes() == (a / "yearly.csv").read_bytes()


@pytest.mark.parametrize(("args", "expected"), [
    (["run", "nope.toml"], "error: nope.toml: file not found"),
    (["run", "scenarios/classroom.toml", "--set", "population.scael=0.1"],
     "error: scenarios/classroom.toml: population.scael: unknown key 'scael'; did you mean 'scale'?"),
    (["run", "scenarios/classroom.toml", "--set", "levels.arena.max_members=-3"],
     "error: scenarios/classroom.toml: levels.arena.max_members: must be 0-10000, got -3"),
    (["run", "scenarios/classroom.toml", "--set", "population.scale=big"],
     "error: scenarios/classroom.toml: population.scale: must be a number in 0.0001-1, got 'big'"),
    (["run", "scenarios/classroom.toml", "--db", "nosuchdb://x"], "error: --db nosuchdb://x:"),
    (["validate"], "error: validate: give a scenario file, or --explain"),
    (["frobnicate"], "error: argument command: invalid choice"),
])
def test_bad_input_exits_2_with_one_line(args, expected):
    done = cli(*args)
    assert done.returncode == 2
    assert done.stderr.startswith(expected), done.stderr
    assert done.stderr.count("\n") == 1 and "Traceback" not in done.stderr


def test_validate_accepts_the_shipped_scenarios():
    for name in ("baseline_2021", "classroom"):
        done = cli("validate", f"scenarios/{name}.toml")
        assert done.returncode == 0 and done.stdout.startswith(f"ok: scenarios/{name}.toml"), done.stderr


def test_validate_explain_documents_units_and_sources():
    done = cli("validate", "--explain")
    assert done.returncode == 0
    assert "membership.potential_weight" in done.stdout and "utils per log point" in done.stdout


def test_run_seeds_writes_one_run_folder_per_seed_that_report_reads(tmp_path):
    out = tmp_path / "set"
    done = cli("run", "scenarios/classroom.toml", "--seeds", "2", "--seed", "4", "--out", str(out),
               "--db", f"sqlite:///{tmp_path / 'r.db'}", "--set", "population.scale=0.004",
               "--set", "scenario.end_year=2004")
    assert done.returncode == 0, done.stderr
    seeds = sorted(json.loads((run / "summary.json").read_text())["seed"] for run in out.iterdir())
    assert seeds == [4, 5] and "(range of 2 seeds)" in done.stdout
    with sqlite3.connect(tmp_path / "r.db") as conn:
        assert conn.execute("select count(*) from runs").fetchone()[0] == 2
    assert cli("report", str(out)).returncode == 0 and (out / "report.html").is_file()


@pytest.mark.parametrize(("args", "expected"), [
    (["--seed", "-1"], "error: --seed: must be an integer from 0 to 9223372036854775807, got -1"),
    (["--seeds", "0"], "error: --seeds: must be a whole number 1-1000, got 0"),
])
def test_run_checks_seeds_with_the_shared_seed_check(args, expected):
    done = cli("run", "scenarios/classroom.toml", *args)
    assert done.returncode == 2 and done.stderr == expected + "\n"


def test_run_summary_prints_each_gap_with_its_interval_and_what_the_interval_leaves_out():
    headline = {"firms_end": 100, "employment_end": 1000.0, "employment_growth_pct_per_year": 1.0,
                "value_added_end_nok": 1e9, "programme_spend_total_nok": 1e6, "gap_value_added_pp": 14.9,
                "true_value_added_pp": 0.6, "selection_share_value_added": 0.96}
    summary = {"scenario": "s", "seed": 0, "scale": 1.0, "years": [2000, 2001], "wall_time_s": 1.0,
               "headline": headline}
    effects = pd.DataFrame({"metric": ["value_added", "value_added"], "estimator": ["matched_did", "true_effect"],
                            "gap_pp": [14.9, 0.6], "ci_low": [14.44, 0.56], "ci_high": [15.57, 0.64],
                            "n_treated": [2723, 2719]})
    lines = summary_table(summary, Path("out"), effects).splitlines()
    gap = next(line for line in lines if line.startswith("member gap, value added"))
    assert gap.endswith("14.9 pp a year (14.4 to 15.6), true 0.6 pp (0.6 to 0.6), 96 % selection")
    assert any(line.startswith("uncertainty") and "one seed at fixed parameters" in line
               and "compare --posterior" in line for line in lines)
    without = summary_table(summary, Path("out")).splitlines()
    assert "member gap, value added  14.9 pp a year, true 0.6 pp, 96 % selection" in without
    assert not any(line.startswith("uncertainty") for line in without)
