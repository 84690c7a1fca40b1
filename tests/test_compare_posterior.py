"""``run.py compare --posterior N``: every answer over posterior draws x seeds, its parameters' and seeds' parts."""

from __future__ import annotations

import json
import re
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from conftest import ROOT, cli

from sim.calibration.fit import committed_values, load_calibration
from sim.cli.main import main
from sim.experiments import compare
from sim.experiments.executors import LocalPool
from sim.output.answers import outcomes, parts_text
from sim.output.intervals import spread
from sim.scenario.files import load_scenario

CLASSROOM = ROOT / "scenarios" / "classroom.toml"
SMALL = ["--set", "scenario.end_year=2012", "--set", "programme.history_until=2007",
         "--set", "measurement.last_cohort=2009", "--workers", "2"]  # the classroom's 2 % of Norway, 2000-2012
FACTORS = (0.7, 1.0, 1.3, 0.85)  # four synthetic draws: the committed values times these
WEIGHTS = (0.1, 0.4, 0.3, 0.2)


def write_posterior(path: Path) -> pd.DataFrame:
    """A posterior.parquet as run.py calibrate exports it: four weighted draws around the committed values."""
    spec = load_calibration(ROOT / "calibration" / "parameters.toml")
    held = committed_values(spec)
    rows = []
    for i, (factor, weight) in enumerate(zip(FACTORS, WEIGHTS, strict=True)):
        values = {n: float(np.clip(v * factor, spec.parameters[n].low, spec.parameters[n].high))
                  for n, v in held.items()}
        rows.append(values | {"weight": weight, "log_likelihood": -1.0, "true_value_added_pp": 5.0 + 2 * i,
                              "selection_share_value_added": 0.3 + 0.1 * i, "draw_seed": 100 + i, "evaluation": i,
                              "generation": 3})
    table = pd.DataFrame(rows)
    table.to_parquet(path, index=False)
    return table


@pytest.fixture(scope="module")
def posterior(tmp_path_factory) -> dict:
    """One comparison over 3 draws x 2 seeds, made twice with the same command."""
    tmp = tmp_path_factory.mktemp("posterior")
    table = write_posterior(tmp / "posterior.parquet")
    cut = tmp / "cut.toml"
    cut.write_text(f'[scenario]\nextends = "{CLASSROOM}"\nname = "classroom_cut"\n'
                   '[[programme.budget_changes]]\nyear = 2008\nfactor = 0.5\n')
    done = {}
    for out in ("first", "second"):
        done[out] = cli("compare", str(CLASSROOM), str(cut), "--posterior", "3", "--seeds", "2", "--posterior-file",
                        str(tmp / "posterior.parquet"), "--out", str(tmp / out), *SMALL)
        assert done[out].returncode == 0, done[out].stderr
    return {"folder": tmp / "first", "again": tmp / "second", "done": done, "table": table, "tmp": tmp}


def _runs(folder: Path) -> dict[int, Path]:
    return {json.loads((p / "summary.json").read_text())["seed"]: p for p in folder.iterdir()}


def test_posterior_comparison_runs_3_draws_x_2_seeds_as_pairs_with_each_draws_parameters(posterior):
    folder, table = posterior["folder"], posterior["table"]
    a, b = _runs(folder / "a"), _runs(folder / "b")
    assert sorted(a) == sorted(b) == [0, 1, 2, 3, 4, 5]  # draw j on seeds 2j, 2j+1, in A and B alike
    draws = pd.read_csv(folder / "draws.csv")
    rows = compare.systematic_resample(np.array(WEIGHTS), 3).tolist()
    assert draws["row"].tolist() == rows == [1, 2, 3] and draws["first_seed"].tolist() == [0, 2, 4]
    for draw in draws.itertuples():
        weight = table.loc[draw.row, "potential_weight"]
        for seed in (draw.first_seed, draw.last_seed):
            for side in (a, b):  # the draw's value in both scenarios, exactly as the calibration sets it
                scenario = tomllib.loads((side[seed] / "scenario.toml").read_text())
                assert scenario["membership"]["potential_weight"] == weight
    meta = json.loads((folder / "compare.json").read_text())
    assert meta["posterior"]["draws"][2] == {"draw": 2, "row": 3, "seeds": [4, 5]}
    assert "membership.potential_weight" in meta["posterior"]["keys"] and meta["posterior"]["kept"] == {"a": {},
                                                                                                     "b": {}}
    assert meta["uncertainty"].startswith("Each figure is the mean over 3 draws of the calibration's posterior x 2")


def test_posterior_answer_is_the_mean_its_90_percent_interval_and_parts_that_add_up(posterior):
    folder = posterior["folder"]
    since = json.loads((folder / "compare.json").read_text())["since"]
    yearly = {side: pd.concat([pd.read_csv(p / "yearly.csv").assign(seed=s) for s, p in _runs(folder / side).items()])
              for side in ("a", "b")}
    diff = (outcomes(yearly["b"], since) - outcomes(yearly["a"], since))["man_years_total"].sort_index()
    draws = diff.index.to_numpy() // 2
    row = pd.read_csv(folder / "answers.csv").set_index("metric").loc["man_years_total"]
    means = diff.groupby(draws).mean()
    assert row["difference"] == pytest.approx(diff.mean(), abs=1e-3)
    assert [row["low"], row["high"]] == pytest.approx(np.quantile(diff, [0.05, 0.95]).tolist(), abs=1e-3)
    assert [row["parameter_low"], row["parameter_high"]] == pytest.approx(np.quantile(means, [0.05, 0.95]).tolist(),
                                                                          abs=1e-3)
    assert row["parameter_variance"] == pytest.approx(np.var(means), rel=1e-6)
    assert row["seed_variance"] == pytest.approx(np.mean(diff.groupby(draws).var(ddof=0)), rel=1e-6)
    assert row["parameter_variance"] + row["seed_variance"] == pytest.approx(np.var(diff), rel=1e-6)
    assert row["parameter_share"] + row["seed_share"] == pytest.approx(1.0, abs=1e-4)
    assert (row["draws"], row["seeds"], row["interval"]) == (3, 2, "90 % of 3 draws x 2 seeds")


def test_the_same_posterior_comparison_twice_gives_identical_output(posterior):
    first, second = posterior["done"]["first"].stdout, posterior["done"]["second"].stdout
    assert first.replace(str(posterior["folder"]), "OUT") == second.replace(str(posterior["again"]), "OUT")
    for name in ("answers.csv", "yearly_difference.csv", "membership_effects.csv", "draws.csv"):
        assert (posterior["folder"] / name).read_bytes() == (posterior["again"] / name).read_bytes(), name


def test_posterior_comparison_prints_each_answers_interval_and_parts_in_plain_words(posterior):
    out = posterior["done"]["first"].stdout
    row = pd.read_csv(posterior["folder"] / "answers.csv").set_index("metric").loc["man_years_total"]
    parameters, seeds = parts_text(row.to_dict())
    line = next(x for x in out.splitlines() if x.startswith("man-years, summed over the years"))
    assert re.search(rf"  {re.escape(parameters)} +{re.escape(seeds)}$", line), line
    assert "3 posterior draws x 2 seeds (common random numbers within each draw)" in out
    assert "the spread between the draws' means" in out and "the mean spread within a draw" in out
    assert "classroom, true effect on value added growth (twin world), years 1-3:" in out
    assert "seed uncertainty only" not in out


def test_report_of_a_posterior_comparison_shows_the_combined_parameter_and_seed_ranges(posterior):
    assert main(["report", str(posterior["folder"])]) == 0
    text = (posterior["folder"] / "report.html").read_text(encoding="utf-8")
    answers = pd.read_csv(posterior["folder"] / "answers.csv").set_index("metric")
    row = answers.loc["man_years_total"]
    parameters, seeds = parts_text(row.to_dict())
    assert f"<td>{parameters}</td><td>{seeds}</td>" in text
    assert "90 % of 3 draws x 2 seeds" in text and "<h2>Over the calibration's posterior</h2>" in text
    effects = pd.read_csv(posterior["folder"] / "membership_effects.csv")
    assert set(effects["metric"]) == {"gap_value_added_pp", "true_value_added_pp", "selection_share_value_added"}
    assert "Membership effect in each scenario" in text and "The 3 draws (draws.csv)" in text


def test_with_draw_sets_the_draws_value_and_keeps_a_what_ifs_change_as_a_ratio():
    scenario = load_scenario(CLASSROOM, {"levels.nce.market_access_growth": 0.3})
    committed = {"levels.nce.market_access_growth": 0.15, "membership.potential_weight":
                 scenario.membership.potential_weight}
    drawn, kept = compare.with_draw(scenario, {"levels.nce.market_access_growth": 0.1,
                                               "membership.potential_weight": 30.0}, committed, "<test>")
    assert drawn.levels.nce.market_access_growth == pytest.approx(0.2)  # the what-if doubles it under every draw
    assert drawn.membership.potential_weight == 30.0 and kept == {"levels.nce.market_access_growth": 2.0}


def test_systematic_resampling_takes_each_draw_n_times_its_weight():
    rows = compare.systematic_resample(np.array([1.0, 4.0, 3.0, 2.0]), 10)
    assert np.bincount(rows).tolist() == [1, 4, 3, 2]
    assert compare.systematic_resample(np.array(WEIGHTS), 7).tolist() == compare.systematic_resample(
        np.array(WEIGHTS), 7).tolist()


def test_spread_splits_the_variance_between_draws_and_within_them():
    sp = spread(np.array([1.0, 3.0, 10.0, 14.0]), np.array([0, 0, 1, 1]))
    assert (sp.mean, sp.parameter_variance, sp.seed_variance) == (7.0, 25.0, 2.5)  # means 2 and 12; sd 1 and 2
    assert sp.parameter_share == pytest.approx(25 / 27.5) and sp.variance == pytest.approx(np.var([1, 3, 10, 14]))


def failing_b1(task):
    """Stand-in runner: scenario B's run on seed 1 fails, the others run and are kept as usual."""
    if Path(task.run_id).parent.name == "b" and task.seed == 1:
        raise RuntimeError("boom")
    return compare.run_and_keep(task)


def test_a_failed_run_loses_no_other_and_the_same_comparison_makes_only_the_missing_one(tmp_path):
    tiny = load_scenario(CLASSROOM, {"population.scale": 0.005, "scenario.end_year": 2003,
                                     "measurement.effects": False})
    draws = [compare.Draw(0, compare.lean(tiny), compare.lean(tiny), (0, 1))]
    plan, out = compare.fingerprint(draws), tmp_path / "c"
    failed = (r"^1 of 4 runs failed \(first: b/.*-s1-.*RuntimeError: boom\); "
              r"the 3 finished runs are kept in .*c\.partial")
    with pytest.raises(compare.RunsFailed, match=failed), compare.comparison_folder(out, False, plan) as folder:
        compare.run_draws(draws, folder, LocalPool(2, runner=failing_b1))
    assert len(list((tmp_path / "c.partial" / "a").iterdir())) == 2 and not out.exists()
    with compare.comparison_folder(out, False, plan) as folder:
        assert compare.run_draws(draws, folder, LocalPool(2, runner=compare.run_and_keep)) == 1
    assert sorted(_runs(out / "b")) == [0, 1] and not (tmp_path / "c.partial").exists()
    assert not (out / compare.PLAN_FILE).exists()


def _bad(tmp: Path, content: pd.DataFrame | bytes | None) -> Path:
    path = tmp / "posterior.parquet"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        content.to_parquet(path, index=False)
    return path


@pytest.fixture(scope="module")
def good_table(tmp_path_factory) -> pd.DataFrame:
    return write_posterior(tmp_path_factory.mktemp("good") / "posterior.parquet")


@pytest.mark.parametrize(("make", "args", "expected"), [
    (None, ["--posterior", "0"], "error: argument --posterior: must be a whole number 1-1000, got '0'"),
    (None, ["--posterior-file", "{path}"], "error: --posterior-file: needs --posterior N"),
    (None, ["--posterior", "2", "--ablate"], "error: --ablate: not with --posterior"),
    (lambda t: None, ["--posterior", "2"], "error: {path}: not found: python run.py calibrate --apply writes it"),
    (lambda t: b"not parquet", ["--posterior", "2"], "error: {path}: cannot be read as parquet (ArrowInvalid)"),
    (lambda t: t.iloc[:0], ["--posterior", "2"], "error: {path}: has no draws (no rows)"),
    (lambda t: t.drop(columns=["market_access"]), ["--posterior", "2"],
     "error: {path}: market_access: no such column; a posterior of calibration/parameters.toml has weight, "),
    (lambda t: t.assign(weight=[0.5, -0.1, 0.3, 0.3]), ["--posterior", "2"],
     "error: {path}: weight: row 1 is -0.1; must be finite and 0 or more"),
    (lambda t: t.assign(hire_rate=[0.2, 0.2, 9.0, 0.2]), ["--posterior", "2"],
     "error: {path}: hire_rate: row 2 is 9.0; must be inside its prior's support"),
])
def test_bad_posterior_input_exits_2_with_one_line(tmp_path, good_table, capsys, monkeypatch, make, args, expected):
    monkeypatch.chdir(ROOT)  # the default calibration file is calibration/parameters.toml
    path = tmp_path / "posterior.parquet"
    given = [a.replace("{path}", str(path)) for a in args]
    if make:
        _bad(tmp_path, make(good_table))
        given += ["--posterior-file", str(path)]
    try:
        code = main(["compare", str(CLASSROOM), str(CLASSROOM), *given, "--out", str(tmp_path / "out")])
    except SystemExit as exc:  # argparse
        code = exc.code
    err = capsys.readouterr().err
    assert code == 2 and err.startswith(expected.replace("{path}", str(path))), err
    assert err.count("\n") == 1 and not (tmp_path / "out").exists()
