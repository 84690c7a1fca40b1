"""``run.py sweep SWEEP``: run a sweep file's runs on local processes or a Dask cluster.

Running the same file again resumes: runs already done are skipped, runs a stopped coordinator
left behind are run, and failed runs are retried with ``--retry-failed``. Exit status 0 when
every run is done, 1 when some failed (the others are recorded), 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.output.store import DEFAULT_DB_URL

if TYPE_CHECKING:
    from sim.experiments.executors import DaskPool, LocalPool
    from sim.experiments.sweep import Sweep

ORDER = 3
EXIT_BAD_INPUT = 2
SHOWN_RUNS = 8  # runs listed by --dry-run and failures listed after a sweep
MAX_RUN_TIMEOUT_S = 7 * 24 * 3600.0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``sweep`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("sweep", help="run a sweep file (many runs; re-running resumes)")
    p.add_argument("sweep", help="sweep file (TOML), e.g. scenarios/sweeps/classroom_small.toml")
    add_executor_options(p)
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.add_argument("--out", type=Path,
                   help="folder for the summary plot and firm panels (default results/sweeps/<name>/)")
    p.add_argument("--retry-failed", action="store_true", help="run failed runs again")
    p.add_argument("--dry-run", action="store_true", help="check the file and list its runs; run nothing")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_sweep)


def add_executor_options(p: argparse.ArgumentParser) -> None:
    """Add ``--workers N`` or ``--dask-address ADDR``: where a command's runs execute.

    Args:
        p: The command's parser.
    """
    where = p.add_mutually_exclusive_group()
    where.add_argument("--workers", type=workers_count,
                       help="local worker processes, 1 to 4 per core (default: all cores)")
    where.add_argument("--dask-address", metavar="ADDR", help="run on a Dask cluster, e.g. tcp://10.0.0.5:8786")
    p.add_argument("--run-timeout", type=seconds, metavar="SECONDS",
                   help="fail a run that takes longer and kill its worker (default: from the scenario's size, "
                        "20 x the expected time and at least 300 s)")


def executor_from(args: argparse.Namespace) -> LocalPool | DaskPool:
    """The executor the options of :func:`add_executor_options` ask for (imported late: Dask is slow to load).

    Args:
        args: The parsed command line.

    Returns:
        A Dask pool when ``--dask-address`` is given, else a local process pool.
    """
    from sim.experiments.executors import DaskPool, LocalPool

    timeout = getattr(args, "run_timeout", None)
    if args.dask_address:
        return DaskPool(args.dask_address, run_timeout=timeout)
    return LocalPool(args.workers, run_timeout=timeout)


def positive(text: str) -> int:
    """Parse a whole number of at least 1 (argparse's ``type=`` for counts).

    Args:
        text: The option's value as given.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: The text is not a whole number >= 1.
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number >= 1, got {text!r}")
    return value


def workers_count(text: str) -> int:
    """Parse ``--workers``: a whole number from 1 to 4 per core of this machine.

    Args:
        text: The option's value as given.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: The text is not a whole number in bounds.
    """
    from sim.experiments.executors import ExecutorError, check_workers

    value = positive(text)
    try:
        return check_workers(value)
    except ExecutorError as exc:
        raise argparse.ArgumentTypeError(str(exc).removeprefix("--workers ")) from None


def seconds(text: str) -> float:
    """Parse a time limit in seconds: a number above 0 (at most a week).

    Args:
        text: The option's value as given.

    Returns:
        The seconds.

    Raises:
        argparse.ArgumentTypeError: The text is not a number of seconds in bounds.
    """
    try:
        value = float(text)
    except ValueError:
        value = -1.0
    if not 0 < value <= MAX_RUN_TIMEOUT_S:
        raise argparse.ArgumentTypeError(f"must be seconds above 0 and at most {MAX_RUN_TIMEOUT_S:.0f}, got {text!r}")
    return value


def cmd_sweep(args: argparse.Namespace) -> int:
    """Validate the sweep, run what is left of it, print a summary.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    # Imported here, not at the top: scipy.stats, Dask and matplotlib would slow down --help.
    from sim.experiments.executors import ExecutorError
    from sim.experiments.sweep_file import load_sweep

    if args.dry_run:
        print(describe(load_sweep(args.sweep)))
        return 0
    # The pool first: its workers' fork server loads the model while the sweep is read and checked.
    executor = executor_from(args)
    sweep = load_sweep(args.sweep)
    from sim.experiments.coordinator import run_sweep

    try:
        report = run_sweep(sweep, executor, args.db, args.out, args.retry_failed, progress=not args.quiet)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    if not args.quiet:
        lines = [
            f"experiment  {report.experiment}: {report.total} runs, {report.skipped} done before, "
            f"{report.done} done now, {len(report.failed)} failed"
            + (f", {report.by_others} run by another coordinator" if report.by_others else ""),
            f"time        {report.wall_time_s:.1f} s ({report.runs_per_minute:.0f} runs a minute)",
            f"database    {args.db}",
            f"plot        {report.plot or '(no finished runs yet)'}",
            f"export      python run.py export {report.experiment} --db {args.db} --format parquet",
        ]
        lines += [f"failed      {run_id}: {error}" for run_id, error in report.failed[:SHOWN_RUNS]]
        if report.failed:
            lines.append("            re-run with --retry-failed to run failed runs again")
        print("\n".join(lines))
    return 1 if report.failed else 0


def describe(sweep: Sweep) -> str:
    """A short description of a sweep and its first runs (``--dry-run``).

    Args:
        sweep: The checked sweep.

    Returns:
        The text, one line for the sweep and one for each of its first runs.
    """
    points, total = sweep.size()
    runs = sweep.runs(limit=SHOWN_RUNS)
    lines = [f"ok: {sweep.source}: experiment '{sweep.name}', design {sweep.design}, {points} points x "
             f"{sweep.replications} replications = {total} runs, outputs {', '.join(sweep.outputs)}"]
    for run in runs:
        values = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v!r}" for k, v in run.parameters.items())
        lines.append(f"  {run.run_id}  seed {run.seed}  {values}")
    if total > len(runs):
        lines.append(f"  ... and {total - len(runs)} more")
    return "\n".join(lines)
