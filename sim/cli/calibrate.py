"""``run.py calibrate``: fit the behavioural parameters to the published figures, then check the fit.

Running it again resumes the study (finished trials are kept in the results database). The best
trial is written to ``calibration/calibrated.toml``, which the baseline extends, and the baseline
as committed is then run on the check seeds for ``calibration/fit_report.md`` (written beside the
plots instead when the database holds none of the study's trials). Exit status 0 when every
calibrated target is met, 1 when one is missed or no trial finished, 2 on bad input.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path
from typing import TYPE_CHECKING

from sim.cli.sweep import add_executor_options, executor_from, positive
from sim.output.store import DEFAULT_DB_URL

if TYPE_CHECKING:
    from sim.calibration import report as fit_report

ORDER = 5
DEFAULT_SPEC = "calibration/parameters.toml"
EXIT_BAD_INPUT = 2


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("calibrate", help="fit parameters to the published effects (optuna, simulated moments)",
                       description="Fit the parameters of the calibration file to its targets.toml, write the "
                                   "fitted values and check them on the committed scenario. Exit status 0 when every "
                                   "calibrated target is met, 1 when one is missed, 2 on bad input.")
    p.add_argument("spec", nargs="?", default=DEFAULT_SPEC, help=f"calibration file (default {DEFAULT_SPEC})")
    p.add_argument("--trials", type=positive, help="finished trials wanted in the study (default: the file's)")
    p.add_argument("--study", help="optuna study name (default: the file's); a new name starts afresh")
    add_executor_options(p)
    p.add_argument("--db", default=DEFAULT_DB_URL,
                   help=f"results database URL, holds the study (default {DEFAULT_DB_URL})")
    p.add_argument("--out", type=Path,
                   help="folder of the report's tables and plots (default results/calibration/<study>/)")
    step = p.add_mutually_exclusive_group()
    step.add_argument("--check-only", action="store_true",
                      help="run no trials: check the committed baseline and write the report")
    step.add_argument("--no-check", action="store_true", help="fit and write calibrated.toml, but skip the check")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Optimise (resuming), write the calibrated values, check them, write the report.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.calibration import fit as calibration
    from sim.calibration import report as fit_report
    from sim.experiments.executors import ExecutorError

    spec = calibration.load_calibration(args.spec, args.study)
    progress = not args.quiet
    try:
        executor = executor_from(args)
        timings: dict[str, float] = {}
        study = calibration.open_study(spec, args.db)
        if not args.check_only:
            done = calibration.optimise(spec, executor, args.db, args.trials, progress)
            timings["trials (this session)"] = done.wall_time_s
            if not done.trials_done:
                print("error: no trial finished; see the failed trials in the study", file=sys.stderr)
                return 1
            note = [f"Study '{spec.study}' in the results database, best of {done.trials_done} trials "
                    f"(trial {study.best_trial.number}, objective {done.best_objective:.4g}); "
                    f"{calibration.now_text()}."]
            calibration.write_calibrated(spec, done.best, note)
        if args.no_check:
            return 0
        per_seed, timings["check"] = calibration.check(spec, executor, progress)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    trials = calibration.trials_table(study, spec)
    if not trials.empty:  # the whole study, over every session that ran it
        span = (trials["finished"].max() - trials["started"].min()).total_seconds()
        timings = {f"{len(trials)} trials, first start to last finish": span, **timings}
    report = fit_report.FitReport(spec, trials, calibration.committed_values(spec),
                                  calibration.fit_table(spec, per_seed), per_seed, timings)
    out = args.out or Path("results") / "calibration" / spec.study
    # A check against a database without the study's trials must not replace the committed report.
    markdown = spec.report if not trials.empty else out / spec.report.name
    fit_report.write(report, out, markdown)
    if progress:
        print(_summary(report, out, markdown))
    return 0 if report.fit[report.fit["calibrated"]]["met"].all() else 1


def _summary(report: fit_report.FitReport, out: Path, markdown: Path) -> str:
    fit = report.fit
    lines = [f"{'target':<34} {'observed':>10} {'simulated':>10}  95 % interval       met"]
    for r in fit.itertuples():
        observed = f">= {r.observed:g}" if r.compare == "at_least" else f"{r.observed:g}"
        lines.append(f"{r.target:<34} {observed:>10} {r.simulated:>10.4g}  {r.ci_low:>8.4g} to {r.ci_high:<8.4g} "
                     f"{'yes' if r.met else 'NO'}")
    truth = report.truth()
    for r in truth[truth["metric"] == "value added"].itertuples():
        lines.append(f"value added, {r.quantity:<21} {r.mean:>10.3g}  ({r.ci_low:.3g} to {r.ci_high:.3g})")
    lines += [f"{label:<34} {seconds / 60:>10.1f} min" for label, seconds in report.timings.items()]
    lines += [f"report: {markdown}, tables and plots in {out}/",
              f"fitted values: {report.calibration.output}"]
    return "\n".join(lines)
