"""``run.py record RUN_DIR``: store a finished run folder's rows in the results database.

For a run whose files were written but whose row could not be saved (``run.py run`` then says
so and exits 1): the folder's ``summary.json``, ``yearly.csv``, ``clusters.csv`` and, if present,
``effects.csv`` are stored under the folder's name as run id, as ``run.py run`` would have stored
them (numbers as the CSV files print them: 15 significant digits). Recording a folder again
replaces its rows.
"""

from __future__ import annotations

import argparse
import json
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd

from sim.output.result import PARTIAL_SUFFIX, RUN_ID, RunResult
from sim.output.store import DEFAULT_DB_URL, check_writable, engine_for, save_run, shown
from sim.scenario.errors import ScenarioError

ORDER = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``record`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("record", help="store a run folder's rows in the results database (after a failed save)")
    p.add_argument("run_dir", type=Path, help="a complete run folder written by 'run.py run'")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.set_defaults(func=cmd_record)


def cmd_record(args: argparse.Namespace) -> int:
    """Read the run folder and save its rows.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    result, started = read_run_folder(args.run_dir)
    engine = engine_for(args.db)
    try:
        check_writable(engine)
        run_id = args.run_dir.resolve().name
        save_run(result, run_id, args.run_dir, engine, result.summary.get("wall_time_s"), started_at=started)
    finally:
        engine.dispose()
    print(f"recorded run {run_id} ({result.scenario_name}, seed {result.seed}) in {shown(engine)}")
    return 0


def read_run_folder(run_dir: Path) -> tuple[RunResult, datetime | None]:
    """A run folder's tables and summary as a result to store, and when it started.

    Args:
        run_dir: The folder.

    Returns:
        The result (no firm panel) and the start time from the folder's run id (``None`` if the
        folder was named otherwise).

    Raises:
        ScenarioError: Not a complete run folder, or a file cannot be read.
    """
    if run_dir.name.endswith(PARTIAL_SUFFIX):
        raise ScenarioError(str(run_dir), "", "an unfinished run folder (its run was interrupted); run it again")
    if not run_dir.is_dir():
        raise ScenarioError(str(run_dir), "", "no such run folder")
    try:
        summary = json.loads((run_dir / "summary.json").read_text(encoding="utf-8"))
        yearly, clusters = pd.read_csv(run_dir / "yearly.csv"), pd.read_csv(run_dir / "clusters.csv")
        effects = pd.read_csv(run_dir / "effects.csv") if (run_dir / "effects.csv").is_file() else None
        result = RunResult(str(summary["scenario"]), int(summary["seed"]), yearly, None, clusters, summary,
                           effect_tables=None if effects is None else {"effects": effects})
    except FileNotFoundError as exc:
        missing = Path(exc.filename).name
        raise ScenarioError(str(run_dir), "", f"not a complete run folder: {missing} is missing") from None
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise ScenarioError(str(run_dir), "", f"cannot be read ({type(exc).__name__}: {str(exc)[:80]})") from None
    match = RUN_ID.match(run_dir.resolve().name)
    started = datetime.strptime(match.group(1), "%Y%m%dT%H%M%S").replace(tzinfo=UTC) if match else None
    return result, started
