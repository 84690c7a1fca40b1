"""``run.py measure RUN_DIR``: the membership effect of a finished run, as published and as it is.

The published estimator reads the run's firm panel (``firms.parquet``) and cluster table. The
true effect needs the twin world, which only a simulation can give: the run is simulated again
from its resolved ``scenario.toml`` and seed (the same inputs give the same run, which is checked
against its ``yearly.csv``) with the twin beside it.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from io import StringIO
from pathlib import Path

import pandas as pd

from sim.output.result import (
    CSV_FLOAT_FORMAT,
    PARTIAL_SUFFIX,
    path_error,
    summary_json,
    with_effect_headline,
    writable_folder,
    write_csv,
)
from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario
from sim.scenario.overrides import parse_assignment
from sim.scenario.schema import Scenario

ORDER = 4
SHOWN_COLUMNS = ("metric", "estimator", "gap_pp", "ci_low", "ci_high", "n_treated")


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``measure`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("measure", help="estimate a run's membership effect (matched comparison and twin-world truth)")
    p.add_argument("run_dir", type=Path,
                   help="a run folder written by 'run.py run' (holds scenario.toml, summary.json)")
    p.add_argument("--no-twin", action="store_true",
                   help="only the published estimator, from firms.parquet (no re-simulation, no true effect)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="change a [measurement] setting, e.g. --set measurement.bootstrap=1000 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or tables")
    p.set_defaults(func=cmd_measure)


def cmd_measure(args: argparse.Namespace) -> int:
    """Measure, write the effect tables and plot into the run folder, print the headline.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.output.plots import effects_figure, save

    run_dir = args.run_dir
    scenario_file, summary_file = run_dir / "scenario.toml", run_dir / "summary.json"
    for needed in (scenario_file, summary_file):
        if not needed.is_file():
            raise ScenarioError(str(run_dir), "", f"not a run folder: {needed.name} is missing")
    settings = [parse_assignment(text) for text in args.overrides]
    for key, _ in settings:
        if not key.startswith("measurement."):
            raise ScenarioError("--set", key,
                                "measure changes only [measurement] settings; to change the run, run it again")
        if key in ("measurement.effects", "measurement.twin"):
            raise ScenarioError("--set", key,
                                "measure always estimates the effects; use --no-twin to skip the twin world")
    summary = _read_summary(summary_file)
    scenario = load_scenario(scenario_file, dict(settings) | {"measurement.effects": True,
                                                              "measurement.twin": not args.no_twin})
    seed = int(summary["seed"])
    writable_folder(run_dir)  # before the work, not after it
    if args.no_twin:
        tables = _from_panel(run_dir, scenario, seed)
    else:
        tables = _simulated(run_dir, scenario, seed, not args.quiet)
    summary["headline"] = with_effect_headline(summary["headline"], tables)  # no stale truth after --no-twin
    with _staged(run_dir) as stage:
        for stem, table in tables.items():
            write_csv(table, stage / f"{stem}.csv")
        if tables["effects_by_year"]["gap_pp"].notna().any():
            save(effects_figure(tables["effects_by_year"]), stage / "effects.png")
        (stage / summary_file.name).write_text(summary_json(summary), encoding="utf-8", newline="\n")
    if not args.quiet:
        print(_report(tables, run_dir))
    return 0


@contextmanager
def _staged(run_dir: Path) -> Iterator[Path]:
    """A hidden folder in ``run_dir`` to write into; its files then replace the run's, summary last.

    Every file is written in full before any is replaced, and each replacement is an atomic
    rename, so a full disk or an interrupt leaves the folder's earlier files whole, never a
    half-written one.
    """
    stage = run_dir / f".measure-{uuid.uuid4().hex[:8]}{PARTIAL_SUFFIX}"
    try:
        stage.mkdir()
        yield stage
        names = sorted(p.name for p in stage.iterdir())
        for name in sorted(names, key=lambda n: n == "summary.json"):  # the summary says what is measured: last
            os.replace(stage / name, run_dir / name)
    except OSError as exc:
        raise path_error(exc, exc.filename or run_dir, "cannot write the effect tables") from None
    finally:
        shutil.rmtree(stage, ignore_errors=True)


def _from_panel(run_dir: Path, scenario: Scenario, seed: int) -> dict[str, pd.DataFrame]:
    """The published estimator on the folder's firm panel."""
    from sim.observe.estimator import measure

    panel_file, clusters_file = run_dir / "firms.parquet", run_dir / "clusters.csv"
    if not panel_file.is_file():
        raise ScenarioError(str(run_dir), "", "firms.parquet is missing: run with output.firm_panel = true, "
                                              "or measure without --no-twin")
    if not clusters_file.is_file():
        raise ScenarioError(str(run_dir), "", "clusters.csv is missing: not a complete run folder")
    applicants_file = run_dir / "call_applicants.csv"  # the open calls: the discontinuity at their cut-off
    try:
        panel, clusters = pd.read_parquet(panel_file), pd.read_csv(clusters_file)
        applicants = pd.read_csv(applicants_file) if applicants_file.is_file() else None
    except (OSError, ValueError) as exc:  # pyarrow's errors are ValueErrors or OSErrors
        raise ScenarioError(str(run_dir), "", f"cannot read the run's tables ({type(exc).__name__}: {exc})") from None
    return measure(panel, clusters, scenario.measurement, seed, applicants=applicants).tables()


def _simulated(run_dir: Path, scenario: Scenario, seed: int, progress: bool) -> dict[str, pd.DataFrame]:
    """The run simulated again beside its twin, checked against the folder's ``yearly.csv``."""
    from sim.runner import run

    lean = scenario.model_copy(update={"output": scenario.output.model_copy(update={"firm_panel": False})})
    result = run(lean, seed=seed, progress=progress)
    _check_same_run(run_dir / "yearly.csv", result.yearly)
    return result.effect_tables


def _read_summary(path: Path) -> dict:
    try:
        summary = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise ScenarioError(str(path), "", f"not a readable summary ({type(exc).__name__})") from None
    seed = summary.get("seed") if isinstance(summary, dict) else None
    if not isinstance(seed, int) or isinstance(seed, bool) or seed < 0:
        raise ScenarioError(str(path), "seed",
                            f"must be a whole number >= 0 (a summary written by 'run.py run'), got {seed!r}")
    summary.setdefault("headline", {})
    return summary


def _check_same_run(yearly_file: Path, yearly: pd.DataFrame) -> None:
    """The re-simulated run must be the run in the folder (same printed values, column by column)."""
    if not yearly_file.is_file():
        return
    before = pd.read_csv(yearly_file, dtype=str)
    now = pd.read_csv(StringIO(yearly.to_csv(index=False, float_format=CSV_FLOAT_FORMAT)), dtype=str)
    common = [c for c in before.columns if c in now.columns]
    if len(before) != len(now) or not before[common].equals(now[common]):
        raise ScenarioError(str(yearly_file), "", "the run simulated again differs from this folder's run (made by "
                                                  "another version of the model?); run it again with 'run.py run'")


def _report(tables: dict[str, pd.DataFrame], run_dir: Path) -> str:
    lines = ["membership effect, first three years (pp a year, 95 % intervals)",
             tables["effects"][list(SHOWN_COLUMNS)].to_string(index=False, float_format=lambda v: f"{v:.2f}")]
    if not tables["selection"].empty:
        shown = tables["selection"][["metric", "matched_did_pp", "true_effect_pp", "selection_pp", "selection_share"]]
        lines += ["", "how much of the measured gap is selection",
                  shown.to_string(index=False, float_format=lambda v: f"{v:.2f}")]
    lines += ["", f"outputs: {run_dir}/effects*.csv, selection.csv, balance.csv, effects.png"]
    return "\n".join(lines)
