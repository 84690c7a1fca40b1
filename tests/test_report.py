"""The analyst's report: one self-contained HTML file, checked as text and in headless chromium."""

from __future__ import annotations

import re
from importlib.metadata import version
from pathlib import Path

import numpy as np
import pytest
from conftest import ROOT

import sim
from sim.cli.main import main
from sim.output.intervals import interval
from sim.output.report import write_report
from sim.output.result import write_outputs
from sim.output.run_sets import load_runs

CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
                 "--disable-component-update", "--disable-sync", "--no-first-run"]
TINY = {"population.scale": 0.004, "scenario.end_year": 2008, "output.firm_panel": False, "output.plots": False}
SEEDS = (0, 1, 2)


def _runs(folder: Path, overrides: dict) -> Path:
    scenario = sim.load_scenario(ROOT / "scenarios" / "classroom.toml", {**TINY, **overrides})
    for seed in SEEDS:
        write_outputs(sim.run(scenario, seed=seed), folder / f"20260101T00000{seed}-s{seed}", with_plots=False)
    return folder


@pytest.fixture(scope="module")
def run_sets(tmp_path_factory) -> tuple[Path, Path]:
    tmp = tmp_path_factory.mktemp("report")
    return (_runs(tmp / "classroom", {}),
            _runs(tmp / "more_access", {"scenario.name": "more_access", "levels.nce.market_access_growth": 0.2}))


@pytest.fixture(scope="module")
def comparison(run_sets, tmp_path_factory) -> Path:
    a, b = run_sets
    return write_report(a, b, tmp_path_factory.mktemp("out") / "compare.html")


def test_interval_is_students_t_from_five_seeds_and_the_range_below():
    five = interval(np.array([1.0, 2.0, 3.0, 4.0, 5.0]))
    assert five.mean == 3.0 and five.high - five.mean == pytest.approx(2.776445 * np.std([1, 2, 3, 4, 5], ddof=1)
                                                                       / np.sqrt(5), rel=1e-6)
    assert five.label == "95 %, 5 seeds"
    three = interval(np.array([1.0, 2.0, 6.0]))
    assert (three.low, three.high, three.label) == (1.0, 6.0, "range of 3 seeds")
    assert np.isnan(interval(np.array([5.0])).low) and interval(np.array([5.0])).label == "1 seed, no interval"


def test_report_names_the_run_whose_scenario_differs(run_sets, tmp_path):
    import shutil

    folder = tmp_path / "mixed"
    shutil.copytree(run_sets[0], folder)
    odd = _runs(tmp_path / "odd", {"population.scale": 0.005})
    shutil.copytree(next(odd.iterdir()), folder / "20260101T000009-s9")
    with pytest.raises(Exception, match=r"20260101T000009-s9 \(scenario classroom\) differs from "
                                        r"20260101T000000-s0 and 2 other run\(s\) in population.scale = 0.005 "
                                        r"against 0.004"):
        load_runs(folder)


def test_a_folder_of_seeds_is_one_run_set(run_sets):
    runs = load_runs(run_sets[0])
    assert runs.name == "classroom" and runs.seeds == list(SEEDS)
    assert sorted(runs.yearly["year"].unique()) == list(range(2000, 2009))


def test_report_shows_intervals_parameters_and_provenance(run_sets):
    text = write_report(run_sets[0]).read_text(encoding="utf-8")
    yearly = load_runs(run_sets[0]).yearly
    firms = yearly[yearly["year"] == 2008]["firms"]
    iv = interval(firms)
    assert f"{iv.mean:,.0f}<br><span class='note'>[{iv.low:,.0f}, {iv.high:,.0f}] range of 3 seeds</span>" in text
    assert "classroom (3 seeds)" in text and "2026-01-01 00:00:02 UTC" in text
    assert f"by nic-sim {version('nic-sim')}" in text
    assert "membership.potential_weight" in text and "utils per log point" in text


def test_comparison_pairs_seeds_and_names_what_differs(comparison):
    text = comparison.read_text(encoding="utf-8")
    assert "Scenario more_access compared with classroom" in text
    assert "Differences are paired by seed" in text
    what_differs = text.split("<h3>What differs</h3>")[1].split("</table>")[0]
    assert "levels.nce.market_access_growth" in what_differs and "0.2" in what_differs


def test_report_is_one_file_without_scripts_or_links_out(comparison):
    text = comparison.read_text(encoding="utf-8")
    assert "<script" not in text
    assert not re.search(r"""(src|href)=['"]?(https?:|//|file:)""", text)
    assert len(re.findall(r"src='data:image/png;base64,", text)) >= 8


@pytest.mark.skipif(not CHROMIUM.exists(), reason=f"{CHROMIUM} is missing (install it: scripts/ci-chromium.sh)")
def test_report_reads_in_headless_chromium_with_every_plot_shown(comparison):
    sync_playwright = pytest.importorskip("playwright.sync_api").sync_playwright
    requested: list[str] = []
    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=str(CHROMIUM), args=CHROMIUM_ARGS, headless=True)
        page = browser.new_page(viewport={"width": 1300, "height": 1400})
        page.on("request", lambda request: requested.append(request.url))
        page.goto(comparison.as_uri())
        widths = page.eval_on_selector_all("img", "imgs => imgs.map(i => i.complete ? i.naturalWidth : 0)")
        title = page.title()
        headings = page.locator("h2").all_inner_texts()
        page.screenshot(path=str(comparison.with_suffix(".png")))
        browser.close()
    assert title == "Scenario more_access compared with classroom"
    assert headings[:5] == ["Policy answers", "Assumptions these figures depend on", "Headline figures", "Over time",
                            "more_access minus classroom, year by year"]
    assert len(widths) >= 8 and min(widths) >= 400
    assert all(url.startswith(("file:", "data:")) for url in requested), requested


@pytest.mark.parametrize(("make", "expected"), [
    (lambda tmp: tmp / "missing", "no such run folder"),
    (lambda tmp: tmp, "no yearly.csv here or in its sub-folders (give a folder written by run.py run)"),
])
def test_report_on_a_bad_folder_exits_2_with_one_line(tmp_path, make, expected, capsys):
    folder = make(tmp_path)
    assert main(["report", str(folder)]) == 2
    assert capsys.readouterr().err == f"error: {folder}: {expected}\n"


def test_report_command_writes_the_file_it_names(run_sets, tmp_path, capsys):
    out = tmp_path / "r.html"
    assert main(["report", str(run_sets[0]), "--out", str(out)]) == 0
    assert capsys.readouterr().out == f"report: {out}\n"
    assert out.read_text(encoding="utf-8").startswith("<!DOCTYPE html>")


def test_report_sets_firm_dynamics_over_seeds_beside_the_registers(tmp_path):
    folder = _runs(tmp_path / "panel", {"output.firm_panel": True, "scenario.end_year": 2012})
    text = write_report(folder).read_text(encoding="utf-8")
    part = text[text.index("Firm dynamics against the register"):]
    # Five-year survival of employer start-ups: 53.0 % of the 2005 cohort (SSB-FORDEM-2012).
    row = re.search(r"<tr><td class='l'>survival</td><td class='l'>5</td>.*?</tr>", part).group(0)
    assert "53.0" in row and "SSB-FORDEM-2012" in row and "range of 3 seeds" in row
    assert ">nan<" not in part and "data:image/png" in part
