"""Sweep files: designs, replications, seeds and one-line errors for bad input (no runs here)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

from sim.cli.main import main
from sim.experiments.sweep import seed_int
from sim.experiments.sweep_file import load_sweep

CLASSROOM = ROOT / "scenarios" / "classroom.toml"


def sweep_file(tmp_path, body: str, sweep: str = "", fixed: str = "population.scale = 0.003") -> str:
    """A sweep file over the classroom scenario; ``sweep`` adds lines to [sweep]."""
    path = tmp_path / "s.toml"
    path.write_text(f'[sweep]\nscenario = "{CLASSROOM}"\n{sweep}\n[fixed]\n{fixed}\n[parameters]\n{body}\n')
    return str(path)


def test_factorial_design_crosses_every_level_with_every_replication(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "membership.leave_rate = [0.05, 0.1, 0.2]\n"
                                            "membership.base_utility = {low = -3.0, high = -1.0, steps = 2}",
                                  "replications = 2"))
    runs = sweep.runs()
    assert len(runs) == 12
    combos = {(r.parameters["membership.leave_rate"], r.parameters["membership.base_utility"]) for r in runs}
    assert combos == {(a, b) for a in (0.05, 0.1, 0.2) for b in (-3.0, -1.0)}
    assert [r.run_id for r in runs[:2]] == ["s/0/0", "s/1/0"]  # replication by replication


def test_range_with_integer_bounds_gives_integer_levels(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "levels.nce.max_members = {low = 50, high = 150, steps = 3}"))
    assert [p["levels.nce.max_members"] for p in sweep.points()] == [50, 100, 150]
    assert all(type(p["levels.nce.max_members"]) is int for p in sweep.points())


def test_latin_hypercube_puts_one_sample_in_each_stratum(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "membership.leave_rate = {low = 0.0, high = 0.2}\n"
                                            "membership.choice_noise = {dist = 'loguniform', low = 0.1, high = 10.0}",
                                  'design = "latin_hypercube"\nsamples = 20'))
    points = sweep.points()
    leave = np.array([p["membership.leave_rate"] for p in points])
    noise = np.array([p["membership.choice_noise"] for p in points])
    assert sorted(np.floor(leave / 0.01).astype(int)) == list(range(20))  # 20 strata of width 0.01
    assert sorted(np.floor(20 * np.log(noise / 0.1) / np.log(100)).astype(int)) == list(range(20))


def test_sobol_design_draws_the_asked_number_of_points_within_bounds(tmp_path):
    body = ("membership.leave_rate = {dist = 'normal', mean = 0.1, sd = 0.05, low = 0.0, high = 0.15}\n"
            "membership.rd_weight = {dist = 'triangular', low = 0.0, mode = 2.0, high = 3.0}")
    sweep = load_sweep(sweep_file(tmp_path, body, 'design = "sobol"\nsamples = 64'))
    points = sweep.points()
    leave = [p["membership.leave_rate"] for p in points]
    rd = [p["membership.rd_weight"] for p in points]
    assert len(points) == 64 and len(set(leave)) == 64
    assert min(leave) >= 0.0 and max(leave) <= 0.15 and min(rd) >= 0.0 and max(rd) <= 3.0
    assert abs(np.mean(rd) - 5.0 / 3) < 0.1  # mean of triangular(0, 2, 3)


def test_common_seeds_repeat_across_points_and_come_from_seed_sequence_spawn(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "membership.leave_rate = [0.05, 0.1]", "replications = 3\nseed = 7"))
    expected = [seed_int(s) for s in np.random.SeedSequence(7).spawn(2)[1].spawn(3)]
    by_point = {p: [r.seed for r in sweep.runs() if r.point == p] for p in (0, 1)}
    assert by_point[0] == by_point[1] == expected
    assert len(set(expected)) == 3


def test_independent_seeds_differ_for_every_run(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "membership.leave_rate = [0.05, 0.1, 0.2]",
                                  'replications = 4\nseeds = "independent"'))
    assert len({r.seed for r in sweep.runs()}) == 12


def test_more_replications_keep_the_seeds_of_existing_runs(tmp_path):
    body = "membership.leave_rate = [0.05, 0.1]"
    def seeds(replications: int) -> dict[str, int]:
        sweep = load_sweep(sweep_file(tmp_path, body, f'replications = {replications}\nseeds = "independent"'))
        return {r.run_id: r.seed for r in sweep.runs()}

    two, five = seeds(2), seeds(5)
    assert two.items() <= five.items() and len(five) == 10


def test_fixed_values_and_outputs_reach_the_base_scenario(tmp_path):
    sweep = load_sweep(sweep_file(tmp_path, "membership.leave_rate = [0.1]", 'outputs = ["firms"]',
                                  fixed="population.scale = 0.003\nscenario.end_year = 2004"))
    assert sweep.base["population"]["scale"] == 0.003 and sweep.base["scenario"]["end_year"] == 2004
    assert sweep.base["output"]["firm_panel"] is True and sweep.outputs == ("yearly", "firms")
    assert sweep.outcomes == (("members", 2004), ("employment", 2004), ("value_added_nok", 2004))


def test_shipped_sweep_files_validate():
    names = sorted(p.name for p in (ROOT / "scenarios" / "sweeps").glob("*.toml"))
    assert len(names) >= 2
    for name in names:
        sweep = load_sweep(ROOT / "scenarios" / "sweeps" / name)
        assert sweep.runs() and sweep.text.startswith("#"), name  # a header comment says what it is


@pytest.mark.parametrize(("sweep", "body", "expected"), [
    ("", "membership.leave_rate = [0.1, 1.5]", "parameters.membership.leave_rate: must be 0-1, got 1.5"),
    ("", "membership.leave_rat = [0.1]",
     "parameters.membership.leave_rat: unknown key 'leave_rat'; did you mean 'leave_rate'?"),
    ("", "membership.leave_rate = ['x']", "parameters.membership.leave_rate: must be a number in 0-1, got 'x'"),
    ("", "membership.leave_rate = 0.1",
     "parameters.membership.leave_rate: must be a list of values, a range {low, high}"),
    ("", "membership.leave_rate = {low = 0.2, high = 0.1, steps = 2}",
     "parameters.membership.leave_rate.high: must be above low (0.2), got 0.1"),
    ("", "membership.leave_rate = {low = 0.0, high = 0.1}",
     "parameters.membership.leave_rate.steps: required for a range in a factorial design"),
    ("", "membership.leave_rate = {dist = 'uniform', low = 0.0, high = 0.1}",
     "parameters.membership.leave_rate: a factorial design needs levels"),
    ('design = "latin_hypercube"\nsamples = 4', "membership.leave_rate = {dist = 'unifrom', low = 0.0, high = 0.1}",
     "parameters.membership.leave_rate.dist: must be one of uniform, loguniform, normal, triangular; "
     "did you mean 'uniform'?"),
    ('design = "latin_hypercube"\nsamples = 4',
     "membership.leave_rate = {dist = '__import__(\"os\")', low = 0.0, high = 0.1}",
     "parameters.membership.leave_rate.dist: must be one of uniform"),
    ('design = "latin_hypercube"\nsamples = 4', "membership.leave_rate = {low = 0.0, high = 'np.inf'}",
     "parameters.membership.leave_rate.high: must be a finite number, got 'np.inf'"),
    ('design = "latin_hypercube"\nsamples = 4', "membership.leave_rate = {dist = 'normal', mean = 0.1, sd = 0.5}",
     "parameters.membership.leave_rate: must be 0-1, got"),
    ('design = "sobol"\nsamples = 100', "membership.leave_rate = {low = 0.0, high = 0.1}",
     "sweep.samples: must be a power of 2 for design 'sobol' (e.g. 64), got 100"),
    ('design = "lhs"', "membership.leave_rate = [0.1]",
     "sweep.design: must be one of 'factorial', 'latin_hypercube', 'sobol', 'morris', 'saltelli', got 'lhs'"),
    ("replications = 0", "membership.leave_rate = [0.1]", "sweep.replications: must be 1-100000, got 0"),
    ('replications = "3"', "membership.leave_rate = [0.1]",
     "sweep.replications: must be an integer 1-100000, got '3'"),
    ("replicates = 3", "membership.leave_rate = [0.1]",
     "sweep.replicates: unknown key 'replicates'; did you mean 'replications'?"),
    ('outputs = ["firm"]', "membership.leave_rate = [0.1]",
     "sweep.outputs: unknown output 'firm'; did you mean 'firms'?"),
    ('outcomes = ["member@2021"]', "membership.leave_rate = [0.1]",
     "sweep.outcomes: unknown outcome 'member'; did you mean 'members'?"),
    ('scenario = "nope.toml"', "membership.leave_rate = [0.1]", "sweep.scenario: base scenario not found"),
    ("", "population.scale = [0.1]", "parameters.population.scale: is also in [fixed]"),
])
def test_bad_sweep_file_exits_2_with_one_line_naming_file_and_key(tmp_path, capsys, sweep, body, expected):
    path = sweep_file(tmp_path, body)
    if sweep:  # later keys win in our file: put the test's [sweep] lines in place of the default
        text = Path(path).read_text().replace("[sweep]\n", f"[sweep]\n{sweep}\n", 1)
        if "scenario =" in sweep:
            text = text.replace(f'scenario = "{CLASSROOM}"\n', "", 1)
        Path(path).write_text(text)
    assert main(["sweep", path, "--dry-run"]) == 2
    err = capsys.readouterr().err
    assert err.startswith(f"error: {path}: {expected}"), err
    assert err.count("\n") == 1


def test_missing_sweep_file_exits_2(capsys):
    assert main(["sweep", "no/such/sweep.toml", "--dry-run"]) == 2
    assert capsys.readouterr().err == "error: no/such/sweep.toml: file not found\n"


def test_unknown_section_is_named_with_did_you_mean(tmp_path, capsys):
    path = tmp_path / "s.toml"
    path.write_text("[parameter]\nmembership.leave_rate = [0.1]\n")
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert capsys.readouterr().err == f"error: {path}: parameter: unknown key 'parameter'; did you mean 'parameters'?\n"


def test_error_in_the_base_scenario_names_the_base_file(tmp_path, capsys):
    base = tmp_path / "base.toml"
    base.write_text("[membership]\nleave_rate = 7\n")
    path = tmp_path / "s.toml"
    path.write_text('[sweep]\nscenario = "base.toml"\n[parameters]\nmembership.rd_weight = [1.0]\n')
    assert main(["sweep", str(path), "--dry-run"]) == 2
    assert capsys.readouterr().err == f"error: {base}: membership.leave_rate: must be 0-1, got 7\n"


def test_dry_run_lists_runs_with_seeds(tmp_path, capsys):
    path = sweep_file(tmp_path, "membership.leave_rate = [0.05, 0.1]", "replications = 2")
    assert main(["sweep", path, "--dry-run"]) == 0
    out = capsys.readouterr().out
    assert "2 points x 2 replications = 4 runs" in out and "s/1/1  seed" in out
