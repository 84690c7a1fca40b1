"""``run.py calibrate``: fit the behavioural parameters to the published figures, then check the fit.

Running it again resumes the study (finished trials are kept in the results database). The best
trial is written to ``<out>/calibrated.toml`` and checked on the check seeds (the scenario with
the fitted values), with the fit report beside it: the committed ``calibration/calibrated.toml``
that the baseline extends, and ``calibration/fit_report.md``, change only with ``--apply``, which
writes the best trial there and checks the baseline as committed. Exit status 0 when every
calibrated target is met, 1 when one is missed or no trial finished, 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
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
                   help="folder of the fitted values, the report's tables and plots "
                        "(default results/calibration/<study>/)")
    p.add_argument("--apply", action="store_true",
                   help="write the best trial to the committed calibration file the scenario extends "
                        "(calibration/calibrated.toml) and the report to calibration/fit_report.md")
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
    out = args.out or Path("results") / "calibration" / spec.study
    fitted = None  # values fitted this session and not applied: the check runs with them
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
            if args.apply:
                written = calibration.write_calibrated(spec, done.best, note)
            else:
                out.mkdir(parents=True, exist_ok=True)
                written = calibration.write_calibrated(spec, done.best, note, out / spec.output.name)
                fitted = done.best
            if progress:
                print(f"fitted values: {written}" + ("" if args.apply else " (apply them with --apply)"))
        if args.no_check:
            return 0
        checked = spec if fitted is None else dataclasses.replace(
            spec, check_fixed={**spec.overrides(fitted), **spec.check_fixed})
        per_seed, timings["check"] = calibration.check(checked, executor, progress)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    trials = calibration.trials_table(study, spec)
    if not trials.empty:  # the whole study, over every session that ran it
        span = (trials["finished"].max() - trials["started"].min()).total_seconds()
        timings = {f"{len(trials)} trials, first start to last finish": span, **timings}
    values = fitted if fitted is not None else calibration.committed_values(spec)
    report = fit_report.FitReport(spec, trials, values, calibration.fit_table(spec, per_seed), per_seed, timings)
    # The committed report changes only with --apply, and never from a database without the study's trials.
    markdown = spec.report if args.apply and not trials.empty else out / spec.report.name
    fit_report.write(report, out, markdown)
    if progress:
        print(_summary(report, out, markdown, spec.output if fitted is None else out / spec.output.name))
    return 0 if report.fit[report.fit["calibrated"]]["met"].all() else 1


def _summary(report: fit_report.FitReport, out: Path, markdown: Path, checked: Path) -> str:
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
              f"values checked: {checked}"]
    return "\n".join(lines)
