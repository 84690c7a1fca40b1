"""``run.py sensitivity [SWEEP ...]``: Morris screening and Sobol indices (SALib) of the effects.

Each sweep file (design ``morris`` or ``saltelli``) is run like ``run.py sweep`` (re-running
resumes; ``--dask-address`` sends the runs to a cluster) and then analysed. Without arguments it
runs both studies of ``scenarios/sweeps/``: the estimated gap, the true effect and the jobs that
membership created, against the parameters that shape selection and treatment.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from sim.cli.sweep import add_executor_options, executor_from
from sim.output.store import DEFAULT_DB_URL

ORDER = 6
DEFAULT_SWEEPS = ("scenarios/sweeps/sensitivity_morris.toml", "scenarios/sweeps/sensitivity_sobol.toml")
EXIT_BAD_INPUT = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``sensitivity`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("sensitivity", help="Morris screening and Sobol indices (SALib) over a sweep")
    p.add_argument("sweeps", nargs="*", default=list(DEFAULT_SWEEPS),
                   help="sweep files with design morris or saltelli (default: " + ", ".join(DEFAULT_SWEEPS) + ")")
    add_executor_options(p)
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.add_argument("--out", type=Path, help="folder of the indices and plots (default results/sensitivity/"
                                             "<sweep name>/; with several sweeps, <out>/<sweep name>/)")
    p.add_argument("--analyse-only", action="store_true", help="run nothing: analyse the runs already recorded")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary")
    p.set_defaults(func=cmd_sensitivity)


def cmd_sensitivity(args: argparse.Namespace) -> int:
    """Run (resuming) and analyse each sensitivity sweep; write CSV and PNG; print the ranking.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.experiments import ledger, sensitivity
    from sim.experiments.coordinator import run_sweep
    from sim.experiments.executors import ExecutorError
    from sim.experiments.sweep import SALIB_DESIGNS
    from sim.experiments.sweep_file import load_sweep
    from sim.scenario.errors import ScenarioError

    sweeps = [load_sweep(path) for path in args.sweeps]
    for sweep in sweeps:
        if sweep.design not in SALIB_DESIGNS:
            raise ScenarioError(sweep.source, "sweep.design",
                                f"must be 'morris' or 'saltelli' for run.py sensitivity, got '{sweep.design}'")
    failed = 0
    executor = None if args.analyse_only else executor_from(args)
    for sweep in sweeps:
        out = args.out if args.out and len(sweeps) == 1 else (args.out or Path("results") / "sensitivity") / sweep.name
        if executor is not None:
            try:
                report = run_sweep(sweep, executor, args.db, out, progress=not args.quiet)
            except ExecutorError as exc:
                print(f"error: {exc}", file=sys.stderr)
                return EXIT_BAD_INPUT
            failed += len(report.failed)
        engine = ledger.open_ledger(args.db)
        try:
            indices = sensitivity.analyse(engine, sweep)
        except sensitivity.IncompleteSweep as exc:
            print(f"error: {exc}", file=sys.stderr)
            return 1
        finally:
            engine.dispose()
        files = sensitivity.write(indices, sweep, out)
        if not args.quiet:
            print(f"{sweep.name} ({sweep.design}, {len(sweep.unit_design())} points):")
            print("\n".join(f"  {line}" for line in sensitivity.ranking(indices)))
            print(f"  outputs: {', '.join(str(f) for f in files)}")
    return 1 if failed else 0
