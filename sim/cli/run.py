"""``run.py run SCENARIO``: simulate one scenario and write its files and database rows.

Everything that can be checked is checked before the work: the seed, the names the database
would reject, the output folder (created as ``<folder>.partial``), the database (opened and
its write lock taken once). The files are written into ``<folder>.partial``, the database row
is saved, and only then is the folder renamed to ``<folder>``; an error or an interrupt before
that removes the ``.partial`` folder and leaves no row. If the row cannot be saved, the complete
folder is kept and one line says how to record it later (``run.py record``), exit status 1.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import sys
from concurrent.futures import ProcessPoolExecutor, as_completed
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from sim.observe.bootstrap import CI_LEVEL
from sim.output.result import OutputError, RunResult, new_run_id, run_folder, write_outputs
from sim.output.store import (
    DEFAULT_DB_URL,
    StoreError,
    check_writable,
    delete_run,
    engine_for,
    row_problems,
    save_run,
    shown,
)  # fmt: skip
from sim.runner import run
from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario
from sim.scenario.limits import MAX_SEED, check_seed
from sim.scenario.schema import Scenario

if TYPE_CHECKING:
    import pandas as pd

ORDER = 0
MAX_SEEDS = 1000


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("run", help="run a scenario and write its outputs")
    p.add_argument("scenario", help="scenario file (TOML), e.g. scenarios/baseline_2021.toml")
    p.add_argument("--seed", default="0", help=f"seed of all random streams, 0-{MAX_SEED} (default 0)")
    p.add_argument("--seeds", type=int, default=1,
                   help=f"run seeds SEED..SEED+N-1 on all cores into one folder that report reads (1-{MAX_SEEDS})")
    p.add_argument("--out", type=Path, help="output folder, new or empty (default results/<scenario>/<run id>/; "
                                            "with --seeds, one folder holding a run folder per seed)")
    p.add_argument("--force", action="store_true",
                   help="replace a non-empty --out folder (and a .partial one left by an interrupted run)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set population.scale=0.05 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario, write its files and its database rows, print a summary.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0, or 1 when the files are complete but the row could not be saved.
    """
    seed = check_seed(args.seed)  # the one seed check, shared with sweeps and the app
    if not 1 <= args.seeds <= MAX_SEEDS:
        raise ScenarioError("--seeds", "", f"must be a whole number 1-{MAX_SEEDS}, got {args.seeds}")
    check_seed(seed + args.seeds - 1, "--seed + --seeds - 1")
    scenario = load_scenario(args.scenario, args.overrides)
    name = scenario.scenario.name
    texts = [text for c in scenario.all_clusters for text in (c.name, c.region, c.sector)]
    problems = row_problems(name, seed + args.seeds - 1, texts=texts)
    if problems:
        raise ScenarioError(args.scenario, "", f"the results database would reject this run: {'; '.join(problems)}")
    if args.out is None and name in (".", ".."):
        raise ScenarioError(args.scenario, "scenario.name", f"{name!r} cannot name a results folder")
    started = datetime.now(UTC)
    run_id = new_run_id(started, seed)
    engine = engine_for(args.db)  # a bad, unreachable or damaged --db fails now, not after the run
    check_writable(engine)  # and a read-only one
    engine.dispose()  # no connection held during the run
    if args.seeds > 1:
        out = args.out or Path("results") / name / f"{started:%Y%m%dT%H%M%S}-seeds{seed}-{seed + args.seeds - 1}"
        return _run_seeds(args, scenario, list(range(seed, seed + args.seeds)), out, engine)
    out = args.out or Path("results") / name / run_id
    saved, save_error = False, None
    try:
        with run_folder(out, args.force) as partial:
            result = run(scenario, seed=seed, progress=not args.quiet, twin_process=True, out=partial)
            write_outputs(result, partial, with_plots=scenario.output.plots)
            try:
                save_run(result, run_id, out, engine, result.summary["wall_time_s"], started_at=started)
                saved = True
            except StoreError as exc:
                save_error = exc
    except OutputError:
        if saved:  # the folder could not be renamed: no row may point to it
            with contextlib.suppress(StoreError):
                delete_run(run_id, engine)
        raise
    finally:
        engine.dispose()
    if save_error is not None:
        db = "" if args.db == DEFAULT_DB_URL else f" --db '{shown(engine)}'"
        print(f"error: {save_error}; the run's files are complete in {out}/; record them with: "
              f"python run.py record {out}{db}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(summary_table(result.summary, out, result.effects))
    return 0


def _run_seeds(args: argparse.Namespace, scenario: Scenario, seeds: list[int], out: Path, engine) -> int:
    """Run several seeds on a process pool into one folder of run folders; record each run.

    The folder is complete or absent, like a single run's; the runs' rows are saved by this
    process only (the coordinator), as each run finishes.
    """
    from tqdm import tqdm

    failed: list[str] = []
    results: list[RunResult] = []
    try:
        with run_folder(out, args.force) as partial:
            workers = min(len(seeds), os.cpu_count() or 1)
            with ProcessPoolExecutor(max_workers=workers) as pool:
                started = datetime.now(UTC)
                ids = {s: new_run_id(started, s) for s in seeds}
                futures = {pool.submit(_one_seed, scenario, s, partial / ids[s], scenario.output.plots): s
                           for s in seeds}
                for future in tqdm(as_completed(futures), total=len(seeds), desc="seeds", unit="run",
                                   disable=args.quiet):
                    result = future.result()
                    results.append(result)
                    try:
                        save_run(result, ids[result.seed], out / ids[result.seed], engine,
                                 result.summary["wall_time_s"], started_at=started)
                    except StoreError as exc:
                        failed.append(f"{ids[result.seed]}: {exc}")
    finally:
        engine.dispose()
    if failed:
        db = "" if args.db == DEFAULT_DB_URL else f" --db '{shown(engine)}'"
        print(f"error: {len(failed)} run(s) not recorded ({failed[0]}); the files are complete in {out}/; record "
              f"each with: python run.py record {out}/<run id>{db}", file=sys.stderr)
        return 1
    if not args.quiet:
        print(seeds_table(sorted(results, key=lambda r: r.seed), out))
    return 0


def _one_seed(scenario: Scenario, seed: int, folder: Path, plots: bool) -> RunResult:
    """One seed in a worker process: run, write its folder, return the result without the firm panel."""
    result = run(scenario, seed=seed)
    write_outputs(result, folder, with_plots=plots)
    result.firms = None  # written to its folder; not worth sending back between processes
    return result


def seeds_table(results: list[RunResult], out: Path) -> str:
    """Headline figures over seeds, each with its interval and how many seeds it rests on.

    Args:
        results: The runs, one per seed.
        out: The folder holding them.

    Returns:
        Lines ready to print.
    """
    from sim.output.answers import plain
    from sim.output.intervals import interval

    first = results[0].summary
    rows = [("scenario", f"{first['scenario']} (seeds {results[0].seed}-{results[-1].seed}, "
                         f"scale {first['scale']:g})"),
            ("years", f"{first['years'][0]}-{first['years'][1]}")]
    for key, label, divisor, unit in (("firms_end", "firms at end", 1, ""),
                                      ("employment_end", "employment at end", 1, " man-years"),
                                      ("value_added_end_nok", "value added at end", 1e9, " NOK bn"),
                                      ("programme_spend_total_nok", "programme spend, total", 1e6, " NOK m")):
        iv = interval([r.summary["headline"][key] / divisor for r in results])
        span = f" [{plain(iv.low)}, {plain(iv.high)}]" if iv.low == iv.low else ""
        rows.append((label, f"{plain(iv.mean)}{unit}{span} ({iv.label})"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows]
    return "\n".join([*lines, f"{'outputs':<{width}}  {out}/ (report: python run.py report {out})"])


def summary_table(summary: dict, out: Path, effects: pd.DataFrame | None = None) -> str:
    """A short text table of a run's headline figures.

    Args:
        summary: The run's summary (``summary.json``).
        out: Where its files are.
        effects: The run's ``effects.csv`` table, for the intervals of the measured gaps (none shown without it).

    Returns:
        Lines ready to print.
    """
    h = summary["headline"]
    rows = [
        ("scenario", f"{summary['scenario']} (seed {summary['seed']}, scale {summary['scale']:g})"),
        ("years", f"{summary['years'][0]}-{summary['years'][1]}"),
        ("wall time", f"{summary['wall_time_s']:.1f} s"),
        ("firms at end", f"{h['firms_end']:,}"),
        ("employment at end", f"{h['employment_end']:,.0f} man-years"),
        ("employment growth", f"{h['employment_growth_pct_per_year']:.2f} % a year"),
        ("value added at end", f"NOK {h['value_added_end_nok'] / 1e9:,.0f} bn"),
        ("programme spend, total", f"NOK {h['programme_spend_total_nok'] / 1e6:,.0f} m"),
    ]
    rows += [(k.replace("_", " in "), f"{v:,}") for k, v in h.items() if k.startswith(("clusters_", "members_"))]

    def interval(metric: str, estimator: str) -> str:
        if effects is None:
            return ""
        row = effects[(effects["metric"] == metric) & (effects["estimator"] == estimator)]
        if not len(row) or not np.isfinite(row[["ci_low", "ci_high"]].to_numpy(np.float64)).all():
            return ""
        return f" ({row['ci_low'].iloc[0]:.1f} to {row['ci_high'].iloc[0]:.1f})"

    for metric, label in (("value_added", "value added"), ("man_years", "man-years")):
        if h.get(f"gap_{metric}_pp") is not None:
            true, share = h.get(f"true_{metric}_pp"), h.get(f"selection_share_{metric}")
            known = true is not None and share is not None
            truth = (f", true {true:.1f} pp{interval(metric, 'true_effect')}, {100 * share:.0f} % selection"
                     if known else "")
            rows.append((f"member gap, {label}",
                         f"{h[f'gap_{metric}_pp']:.1f} pp a year{interval(metric, 'matched_did')}{truth}"))
    if effects is not None and any(k.startswith("member gap") for k, _ in rows):
        rows.append(("uncertainty", f"{100 * CI_LEVEL:.0f} % intervals over the members (bootstrap, effects.csv), "
                                    "one seed at fixed parameters; with theirs: run.py compare --posterior"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows] + [f"{'outputs':<{width}}  {out}/"]
    return "\n".join(lines)
