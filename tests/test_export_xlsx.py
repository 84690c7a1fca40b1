"""``run.py export ... --format xlsx``: run, seeds, comparison and sweep tables as one workbook."""

from __future__ import annotations

import errno
import shutil
from pathlib import Path

import pandas as pd
import pytest
from conftest import cli
from openpyxl import load_workbook
from sweep_helpers import write_sweep

from sim.cli.main import main
from sim.experiments import ledger
from sim.experiments.coordinator import run_sweep
from sim.experiments.executors import LocalPool
from sim.experiments.sweep_file import load_sweep
from sim.output import xlsx

FAST = ["--set", "population.scale=0.004", "--set", "scenario.end_year=2006"]
THOUSANDS = "#,##0"


@pytest.fixture(scope="module")
def folders(tmp_path_factory) -> dict[str, Path]:
    """A folder of two seeds (whose first run is a run folder) and a comparison with an ablation."""
    tmp = tmp_path_factory.mktemp("xlsx")
    db = f"sqlite:///{tmp / 'r.db'}"
    done = cli("run", "scenarios/classroom.toml", "--seeds", "2", "--out", str(tmp / "seeds"), "--db", db,
               "--quiet", *FAST)
    assert done.returncode == 0, done.stderr
    done = cli("compare", "scenarios/classroom.toml", "scenarios/budget_cut_2022.toml", "--seeds", "2",
               "--workers", "2", "--since", "2004", "--no-effects", "--ablate", "membership.benefit_weight",
               "--out", str(tmp / "compare"), *FAST)
    assert done.returncode == 0, done.stderr
    runs = sorted(p for p in (tmp / "seeds").iterdir() if p.is_dir())
    return {"run": runs[0], "seeds": tmp / "seeds", "compare": tmp / "compare"}


def export(*args: str) -> int:
    return main(["export", *args])


def rows(ws) -> list[tuple]:
    return list(ws.iter_rows(values_only=True))


def facts(book) -> dict:
    """The about sheet's label-value rows, above its list of sheets."""
    about = rows(book["about"])
    end = next(i for i, r in enumerate(about) if r[:2] == ("sheet", "rows"))
    return {r[0]: r[1] for r in about[:end] if r[0] and r[1] is not None}


def test_run_folder_becomes_about_runs_and_one_sheet_per_csv(folders, tmp_path, capsys):
    out = tmp_path / "run.xlsx"
    assert export(str(folders["run"]), "--out", str(out)) == 0
    assert capsys.readouterr().out.startswith(f"{out}  ")
    book = load_workbook(out)
    stems = {p.stem for p in folders["run"].glob("*.csv")}
    assert book.sheetnames[:4] == ["about", "runs", "yearly", "clusters"]
    assert set(book.sheetnames) == {"about", "runs", *stems}
    assert {"effects", "selection", "firm_dynamics", "regions_yearly", "clusters_yearly"} <= stems


def test_numbers_are_the_csv_values_stored_as_numbers_with_thousands_separators(folders, tmp_path, capsys):
    out = tmp_path / "run.xlsx"
    assert export(str(folders["run"]), "--out", str(out)) == 0
    capsys.readouterr()
    csv = pd.read_csv(folders["run"] / "yearly.csv")
    ws = load_workbook(out)["yearly"]
    header = [c.value for c in ws[1]]
    assert header == list(csv.columns)
    employment = ws.cell(row=3, column=header.index("employment") + 1)
    assert employment.data_type == "n" and employment.number_format == THOUSANDS
    assert employment.value == pytest.approx(csv["employment"].iloc[1], rel=1e-15)
    year = ws.cell(row=3, column=1)
    assert (year.value, year.number_format) == (int(csv["year"].iloc[1]), "0")  # 2001, not 2,001
    assert [c.value for c in ws["A"][1:]] == csv["year"].tolist()


def test_header_is_bold_frozen_and_filtered_and_columns_are_sized(folders, tmp_path, capsys):
    out = tmp_path / "run.xlsx"
    assert export(str(folders["run"]), "--out", str(out)) == 0
    capsys.readouterr()
    ws = load_workbook(out)["clusters"]
    assert all(c.font.b for c in ws[1]) and not ws.cell(row=2, column=1).font.b
    assert ws.freeze_panes == "A2"
    assert ws.auto_filter.ref == f"A1:H{ws.max_row}"
    name_width = ws.column_dimensions["B"].width  # cluster names: wider than the header 'name'
    assert name_width >= max(len(str(c.value)) for c in ws["B"]) and name_width <= 60


def test_about_sheet_names_scenario_seed_version_sources_and_units(folders, tmp_path, capsys):
    out = tmp_path / "run.xlsx"
    assert export(str(folders["run"]), "--out", str(out)) == 0
    capsys.readouterr()
    book = load_workbook(out)
    about = facts(book)
    assert book["about"]["A1"].value == "Run of classroom, seed 0"
    assert about["scenario"] == "classroom" and about["seeds"] == "0"
    assert about["model version"].startswith("nic-sim ") and about["population.scale"].startswith("0.004")
    sources = {r[0]: r[2] for r in rows(book["about"]) if r[0] in book.sheetnames[1:]}
    assert sources["yearly"] == "yearly.csv" and sources["effects"] == "effects.csv"
    units = {r[0]: r[1] for r in rows(book["about"])}
    assert units["*_nok"].startswith("Norwegian kroner") and units["*_pp, gap_pp, ci_low, ci_high"]


def test_seeds_folder_stacks_each_table_with_seed_and_run_in_front(folders, tmp_path, capsys):
    out = tmp_path / "seeds.xlsx"
    assert export(str(folders["seeds"]), "--out", str(out)) == 0
    capsys.readouterr()
    book = load_workbook(out)
    yearly = rows(book["yearly"])
    assert yearly[0][:3] == ("seed", "run", "year")
    assert [r[0] for r in yearly[1:]] == [0] * 7 + [1] * 7
    second = pd.read_csv(sorted(p for p in folders["seeds"].iterdir() if p.is_dir())[1] / "yearly.csv")
    assert [r[yearly[0].index("firms")] for r in yearly[8:]] == second["firms"].tolist()
    assert [r[0] for r in rows(book["runs"])[1:]] == [0, 1]
    assert facts(book)["seeds"] == "0-1" and book["about"]["A1"].value == "2 runs of classroom, seeds 0-1"


def test_a_folder_holding_one_run_folder_stacks_it_too(folders, tmp_path, capsys):
    shutil.copytree(folders["run"], tmp_path / "scenario" / folders["run"].name)
    assert export(str(tmp_path / "scenario"), "--out", str(tmp_path / "one.xlsx")) == 0
    capsys.readouterr()
    book = load_workbook(tmp_path / "one.xlsx")
    assert rows(book["yearly"])[0][:3] == ("seed", "run", "year")
    assert book["about"]["A1"].value == "1 run of classroom, seed 0"


def test_comparison_holds_answers_difference_ablation_assumptions_and_both_sides(folders, tmp_path, capsys):
    out = tmp_path / "compare.xlsx"
    assert export(str(folders["compare"]), "--out", str(out)) == 0
    capsys.readouterr()
    book = load_workbook(out)
    assert book.sheetnames[:7] == ["about", "answers", "yearly_difference", "ablation", "assumptions", "a_runs",
                                   "b_runs"]
    assert {"a_yearly", "b_yearly", "a_clusters", "b_clusters"} <= set(book.sheetnames)
    answers = pd.read_csv(folders["compare"] / "answers.csv").set_index("metric")
    sheet = pd.DataFrame(rows(book["answers"])[1:], columns=rows(book["answers"])[0]).set_index("metric")
    assert sheet.loc["public_cost_nok", "difference"] == pytest.approx(answers.loc["public_cost_nok", "difference"])
    assert abs(sheet.loc["public_cost_nok", "difference"]) > 1_000_000  # the two scenarios' budgets differ
    cost = book["answers"].cell(row=1 + list(sheet.index).index("public_cost_nok") + 1, column=6)
    assert cost.data_type == "n" and cost.number_format == THOUSANDS
    about = facts(book)
    assert about["A (reference)"] == "classroom (scenarios/classroom.toml)"
    assert about["B (alternative)"].startswith("budget_cut_2022 (")
    assert about["seeds"].startswith("0-1") and about["years counted"] == "2004-2006"
    b_yearly = rows(book["b_yearly"])
    assert b_yearly[0][:3] == ("seed", "run", "year") and len(b_yearly) == 1 + 2 * 7


def test_folder_workbook_goes_into_the_folder_under_a_descriptive_name(folders, tmp_path, capsys):
    copy = shutil.copytree(folders["compare"], tmp_path / "compare")
    assert export(str(copy)) == 0
    assert (copy / "classroom_vs_budget_cut_2022.xlsx").is_file()
    assert export(str(copy), "--out", str(tmp_path / "here")) == 0
    assert (tmp_path / "here" / "classroom_vs_budget_cut_2022.xlsx").is_file()
    capsys.readouterr()


def test_existing_workbook_is_kept_without_force_and_replaced_with_it(folders, tmp_path, capsys):
    out = tmp_path / "run.xlsx"
    out.write_bytes(b"the analyst's own edits")
    assert export(str(folders["run"]), "--out", str(out)) == 2
    err = capsys.readouterr().err
    assert err == f"error: {out}: exists; give another --out, or --force to replace it\n"
    assert out.read_bytes() == b"the analyst's own edits"
    assert export(str(folders["run"]), "--out", str(out), "--force") == 0
    assert load_workbook(out).sheetnames[0] == "about"
    capsys.readouterr()


@pytest.mark.parametrize(("make", "args", "expected"), [
    (lambda t: t.joinpath("empty").mkdir(), ["{t}/empty"], "{t}/empty: not a run, seeds or comparison folder"),
    (lambda t: None, ["{t}/nowhere/"], "{t}/nowhere: no such folder; give a folder written by run.py run"),
    (lambda t: t.joinpath("x.partial").mkdir(), ["{t}/x.partial"], "{t}/x.partial: an unfinished folder"),
    (lambda t: None, ["{run}", "--format", "parquet"], "{run}: a folder exports only as --format xlsx"),
    (lambda t: t.joinpath("file").write_text("x"), ["{run}", "--out", "{t}/file/w.xlsx"],
     "{t}/file: cannot create the folder: {t}/file is a file"),
    (lambda t: t.joinpath("d.xlsx").mkdir(), ["{run}", "--out", "{t}/d.xlsx"], "{t}/d.xlsx: is a folder"),
])
def test_bad_input_exits_2_with_one_line_and_writes_nothing(folders, tmp_path, capsys, make, args, expected):
    make(tmp_path)
    before = sorted(tmp_path.rglob("*"))
    code = export(*(a.format(t=tmp_path, run=folders["run"]) for a in args))
    err = capsys.readouterr().err
    assert code == 2 and err.startswith("error: " + expected.format(t=tmp_path, run=folders["run"])), err
    assert err.count("\n") == 1
    assert sorted(tmp_path.rglob("*")) == before


def test_full_disk_exits_1_with_one_line_and_leaves_no_file(folders, tmp_path, capsys, monkeypatch):
    def full(self, filename):
        Path(filename).write_bytes(b"half a workbook")
        raise OSError(errno.ENOSPC, "No space left on device", str(filename))

    monkeypatch.setattr(xlsx.Workbook, "save", full)
    assert export(str(folders["run"]), "--out", str(tmp_path / "run.xlsx")) == 1
    err = capsys.readouterr().err
    assert err == f"error: {tmp_path / 'run.xlsx'}: cannot write the workbook: No space left on device\n"
    assert list(tmp_path.iterdir()) == []


def test_interrupted_export_leaves_no_file(folders, tmp_path, monkeypatch):
    def interrupted(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(xlsx, "_write_about", interrupted)
    assert export(str(folders["run"]), "--out", str(tmp_path / "run.xlsx")) == 130
    assert list(tmp_path.iterdir()) == []


def test_sheet_names_are_unique_within_31_characters_and_text_is_never_a_formula(folders, tmp_path, capsys):
    copy = shutil.copytree(folders["run"], tmp_path / "run")
    long = "effects_by_years_since_joining_and_level"
    for stem in (long, f"{long}_again", "History"):
        pd.DataFrame({"name": ["=HYPERLINK(\"http://x\")", "bell\x07"], "value": [1.5, 2.0]}).to_csv(
            copy / f"{stem}.csv", index=False)
    assert export(str(copy), "--out", str(tmp_path / "w.xlsx")) == 0
    capsys.readouterr()
    book = load_workbook(tmp_path / "w.xlsx")
    names = book.sheetnames
    assert all(len(n) <= 31 for n in names) and len({n.lower() for n in names}) == len(names)
    assert long[:31] in names and f"{long[:29]}~2" in names and "History~2" in names
    cells = book[long[:31]]["A"]
    assert (cells[1].value, cells[1].data_type) == ("=HYPERLINK(\"http://x\")", "s")
    assert cells[2].value == "bell"


@pytest.mark.parametrize(("value", "identifier", "expected"), [
    (2_315_428.27, False, "#,##0"), (7.05e12, False, "#,##0"), (12.345, False, "#,##0.00"),
    (-0.0004, False, "0.000##"), (3.0, False, "#,##0"), (2021, True, "0"), (0.5, True, "0.000##"),
])
def test_number_formats_show_separators_and_decimals_never_scientific(value, identifier, expected):
    assert xlsx.number_format(value, identifier) == expected


def test_a_table_longer_than_a_sheet_is_cut_between_runs_and_says_so(tmp_path, monkeypatch):
    monkeypatch.setattr(xlsx, "MAX_ROWS", 5)
    table = pd.DataFrame({"run_id": ["r1"] * 3 + ["r2"] * 3, "year": [2000, 2001, 2002] * 2, "firms": range(6)})
    contents = xlsx.Contents("t", "t", [], [xlsx.Table("yearly", "test", [table.iloc[:3], table.iloc[3:]], "x")])
    sheets = xlsx.write_workbook(contents, tmp_path / "t.xlsx")
    assert [r[0] for r in rows(load_workbook(tmp_path / "t.xlsx")["yearly"])] == ["run_id", "r1", "r1", "r1"]
    assert sheets[0].rows == 3 and sheets[0].note.startswith("cut after 3 rows")


def test_sweep_exports_runs_yearly_and_clusters_into_one_workbook(tmp_path, capsys):
    sweep = load_sweep(write_sweep(tmp_path, "xl", replications=1))
    db = f"sqlite:///{tmp_path / 'r.db'}"
    run_sweep(sweep, LocalPool(2), db, tmp_path / "out", progress=False)
    out = tmp_path / "export"
    assert export("xl", "--db", db, "--format", "xlsx", "--out", str(out)) == 0
    assert capsys.readouterr().out.startswith(f"{out / 'xl.xlsx'}  4 sheets: about, runs (4 rows), yearly (36 rows)")
    book = load_workbook(out / "xl.xlsx")
    assert book.sheetnames == ["about", "runs", "yearly", "clusters"]
    header = rows(book["yearly"])[0]
    assert header[:7] == ("run_id", "point", "replication", "seed", "membership.leave_rate",
                          "membership.base_utility", "year")
    engine = ledger.open_ledger(db)
    first = rows(book["yearly"])[1]
    direct = ledger.load_outputs(engine, [first[0]], "yearly").set_index("year")
    assert first[header.index("employment")] == pytest.approx(direct.loc[first[6], "employment"], rel=1e-15)
    runs = book["runs"]
    started = runs.cell(row=2, column=[c.value for c in runs[1]].index("started_at") + 1)
    assert started.is_date and started.number_format == "yyyy-mm-dd hh:mm:ss"
    rate = book["yearly"].cell(row=2, column=5)
    assert rate.value in (0.04, 0.12) and rate.number_format == "0.000##"
    assert facts(book)["experiment"] == "xl" and facts(book)["runs"] == "4 done"
    assert export("xl", "--db", db, "--format", "xlsx", "--out", str(out)) == 2  # kept without --force
    capsys.readouterr()
