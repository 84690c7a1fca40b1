"""``run.py calibrate``: the posterior of the parameters given the published figures.

By the emulator method (``method = "emulator"``, the default: a design from the priors, then waves
proposed from Gaussian-process emulators and weighed by the error model) or by ABC-SMC
(``method = "abc-smc"``). The posterior lives in the results database; running the command again
continues it from where it stopped, and reads it when it is complete. Its draws are exported as
``<out>/posterior.parquet``, the central draw (of the draws that meet every fitted target in
expectation, the one nearest the weighted posterior median) as ``<out>/calibrated.toml``, checked at
full scale and at the calibration's scale on the check seeds, and reported in
``<out>/fit_report.md`` with its tables and plots (default ``results/calibration/<study>/``). Only
``--apply`` writes the committed files: ``calibration/calibrated.toml`` (which the baseline
extends), ``calibration/posterior.parquet`` and ``calibration/fit_report.md``. ``--sbc`` runs
simulation-based calibration instead and writes ``coverage.csv``. Exit status 0 when the posterior
is complete (a weighed wave, or ABC-SMC at temperature 1) with the effective draws wanted, 1 when a
budget stopped it first or a run failed (running again continues), 2 on bad input.
"""

from __future__ import annotations

import argparse
import dataclasses
import sys
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd

from sim.cli.sweep import add_executor_options, executor_from, positive
from sim.output.store import DEFAULT_DB_URL

if TYPE_CHECKING:
    from sim.calibration import report as fit_report
    from sim.calibration.spec import Calibration

ORDER = 5
DEFAULT_SPEC = "calibration/parameters.toml"
EXIT_BAD_INPUT = 2
EXIT_INCOMPLETE = 1


def minutes(text: str) -> float:
    """Parse a positive number of minutes (argparse's ``type=``).

    Args:
        text: The option's value.

    Returns:
        The minutes.

    Raises:
        argparse.ArgumentTypeError: Not a number above 0.
    """
    try:
        value = float(text)
    except ValueError:
        value = float("nan")
    if not value > 0 or value == float("inf"):
        raise argparse.ArgumentTypeError(f"must be a number of minutes above 0, got {text!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``calibrate`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("calibrate", help="the posterior of the parameters given the published figures",
                       description="Find the posterior of the parameters of the calibration file given its "
                                   "targets.toml (emulator waves or ABC-SMC, as the file's method says; resuming a "
                                   "stopped one), export its draws, write its "
                                   "central draw and check it on the committed scenario. Exit status 0 when the "
                                   "posterior is complete with the effective draws wanted, 1 when a budget stopped it "
                                   "first (run again to continue) or a run failed, 2 on bad input.")
    p.add_argument("spec", nargs="?", default=DEFAULT_SPEC, help=f"calibration file (default {DEFAULT_SPEC})")
    p.add_argument("--study", help="name of the calibration in the results database (default: the file's); a new "
                                   "name starts afresh")
    budget = p.add_argument_group("budget (default: the [calibration] table)")
    budget.add_argument("--population", type=positive, help="ABC-SMC: accepted draws per generation")
    budget.add_argument("--generations", type=positive,
                        help="ABC-SMC: generations at most to reach temperature 1 (as many more at 1, pooled, if "
                             "the effective draws fall short of min_ess)")
    budget.add_argument("--max-simulations", type=positive, metavar="N",
                        help="stop after the generation or wave that passes N runs in all (run again to continue)")
    budget.add_argument("--max-minutes", type=minutes, metavar="M",
                        help="stop after the generation or wave that passes M minutes (run again to continue)")
    add_executor_options(p)
    p.add_argument("--db", default=DEFAULT_DB_URL,
                   help=f"results database URL, holds the posterior (default {DEFAULT_DB_URL})")
    p.add_argument("--out", type=Path,
                   help="folder of the draws, the central draw, the report's tables and plots "
                        "(default results/calibration/<study>/)")
    p.add_argument("--apply", action="store_true",
                   help="write the central draw to the committed file the scenario extends (calibration/"
                        "calibrated.toml), the draws to calibration/posterior.parquet and the report to "
                        "calibration/fit_report.md (with --sbc: calibration/coverage.csv)")
    step = p.add_mutually_exclusive_group()
    step.add_argument("--check-only", action="store_true",
                      help="calibrate nothing: check the committed baseline and report the stored posterior")
    step.add_argument("--no-check", action="store_true", help="skip the check of the central draw at full scale")
    p.add_argument("--information", nargs="?", type=positive, const=200, metavar="DRAWS",
                   help="also run DRAWS posterior draws (default 200) and write value_of_information.csv: how much "
                        "each statistic a register study could publish would narrow the true effect's interval")
    step.add_argument("--sbc", nargs="?", type=positive, const=0, metavar="CASES",
                      help="simulation-based calibration instead: calibrate CASES parameter sets drawn from the "
                           "priors (the emulator method: its design's runs; default: [calibration.sbc] cases) and "
                           "write coverage.csv")
    p.add_argument("--quiet", action="store_true", help="no progress bars or summary")
    p.set_defaults(func=cmd_calibrate)


def cmd_calibrate(args: argparse.Namespace) -> int:
    """Run (or continue) the posterior, export it, write the central draw, check it, write the report.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.calibration import fit
    from sim.calibration.history import CalibrationStore
    from sim.calibration.sampler import SimulationFailed
    from sim.experiments.executors import ExecutorError

    spec = with_budget(fit.load_calibration(args.spec, args.study), args)
    out = args.out or Path("results") / "calibration" / spec.study
    try:
        executor = executor_from(args)
        store = CalibrationStore(args.db)
        if args.sbc is not None:
            return _sbc(spec, executor, store, args, out)
        return _posterior(spec, executor, store, args, out)
    except ExecutorError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except SimulationFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_INCOMPLETE


def with_budget(spec: Calibration, args: argparse.Namespace) -> Calibration:
    """The set-up with the command line's budget options in place of the file's.

    Args:
        spec: The set-up.
        args: The parsed command line.

    Returns:
        The set-up to run.
    """
    changes = {k: getattr(args, k) for k in ("population", "generations", "max_simulations", "max_minutes")
               if getattr(args, k) is not None}
    return dataclasses.replace(spec, budget=dataclasses.replace(spec.budget, **changes)) if changes else spec


def _posterior(spec: Calibration, executor: Any, store: Any, args: argparse.Namespace, out: Path) -> int:
    from sim.calibration import fit
    from sim.calibration import report as fit_report
    from sim.calibration.emulated import expected_statistics, load_emulated, run_emulated
    from sim.calibration.posterior import central_draw, export, load_posterior, run_abc

    progress = not args.quiet
    timings: dict[str, float] = {}
    emulated = spec.method == "emulator"
    if args.check_only:
        posterior = (load_emulated if emulated else load_posterior)(spec, store)
    else:
        started = time.perf_counter()
        if emulated:
            posterior = run_emulated(spec, executor, store, spec.study, progress=progress)
        else:
            posterior = run_abc(spec, executor, store, spec.study, progress=progress)
        if posterior.simulations_run:  # a posterior read from the database took no time worth reporting
            timings[f"{'emulator waves' if emulated else 'ABC-SMC'}, this session"] = time.perf_counter() - started
    central, values = None, fit.committed_values(spec)
    files: list[Path] = []
    if posterior is not None:
        expected = expected_statistics(spec, posterior) if emulated else None
        central = central_draw(posterior, spec.objective_targets, expected)
        if not args.check_only:  # --check-only checks the committed values, whatever the posterior holds
            values = {name: float(posterior.draws[name].iloc[central]) for name in spec.parameters}
    apply = args.apply and posterior is not None and posterior.complete  # never commit a tempered posterior
    settings: dict[str, float] = {}
    level = None
    if posterior is not None and not args.check_only:
        at_draw = dataclasses.replace(spec, check_fixed={**spec.overrides(values), **spec.check_fixed})
        started = time.perf_counter()
        level = fit.value_added_level(at_draw, executor, progress)
        timings["value added's level"] = time.perf_counter() - started
        settings = {fit.LEVEL_KEY: level[0]} if level is not None else {}
        row = posterior.draws.iloc[central]
        note = [f"Study '{spec.study}' in the results database: the central draw of the posterior (draw "
                f"{int(row['evaluation'])} of generation {int(row['generation'])}, run seed {int(row['draw_seed'])}; "
                "of the draws that meet every fitted target (their expected value, emulated, for the emulator "
                "method), the one nearest the weighted posterior median of the parameters, the true effect and the "
                "selection share), "
                f"{len(posterior.draws)} draws, ESS "
                f"{posterior.ess:.0f}, {_state(posterior)}; {fit.now_text()}."]
        if apply:
            files += [fit.write_calibrated(spec, values, note, settings=settings), export(posterior, spec.posterior)]
        else:
            out.mkdir(parents=True, exist_ok=True)
            files += [fit.write_calibrated(spec, values, note, out / spec.output.name, settings),
                      export(posterior, out / spec.posterior.name)]
        if args.apply and not apply:
            print(f"not applied: {_state(posterior)}; run again to continue it", file=sys.stderr)
    fitted_here = posterior is not None and not args.check_only and not apply
    if args.information and posterior is not None and posterior.complete:
        files += _information(spec, posterior, executor, args, out, timings)
    report = fit_report.FitReport(spec, posterior, central, values, timings=timings,
                                  coverage=_committed(spec.coverage, out),
                                  information=_committed(spec.information, out), level=level)
    if not args.no_check:
        checked = dataclasses.replace(spec, check_fixed={**spec.overrides(values), **settings, **spec.check_fixed}) \
            if fitted_here else spec
        report.per_seed, timings["check"] = fit.check(checked, executor, progress)
        report.fit = fit.fit_table(spec, report.per_seed)
        # The same seeds at the calibration's scale: how far the full economy's figures lie from the fitted ones.
        small = dataclasses.replace(checked, check_fixed={**checked.check_fixed, **fit.calibration_scale(spec)})
        scaled, timings["check at the calibration's scale"] = fit.check(small, executor, progress)
        report.scale_fit = fit.fit_table(spec, scaled)
    # The committed report changes only with --apply, and never from a database without the study's posterior.
    markdown = spec.report if apply else out / spec.report.name
    fit_report.write(report, out, markdown)
    if progress:
        print(_summary(report, out, markdown, files))
    if posterior is None:
        return 0 if args.check_only else EXIT_INCOMPLETE
    return 0 if posterior.complete and posterior.ess >= spec.min_ess else EXIT_INCOMPLETE


def _state(posterior: Any) -> str:
    """Where a posterior stands, in words."""
    if posterior.method == "emulator":
        waves = int(posterior.generations["generation"].max())
        return f"{waves} wave{'s' if waves != 1 else ''} after the design" if waves else "only the design has run"
    return f"temperature {posterior.temperature:g}" if posterior.complete else \
        f"the posterior stopped at temperature {posterior.temperature:.3g}"


def _committed(path: Path, out: Path) -> pd.DataFrame | None:
    """A table written by an earlier step: the one in this run's folder first, else the committed file."""
    for candidate in (out / path.name, path):
        if candidate.is_file():
            return pd.read_csv(candidate)
    return None


def _information(spec: Calibration, posterior: Any, executor: Any, args: argparse.Namespace, out: Path,
                 timings: dict[str, float]) -> list[Path]:
    """Run the value of information's draws and write its table (committed with ``--apply``)."""
    from sim.calibration.information import REGISTER_SD, information_draws, value_of_information

    started = time.perf_counter()
    draws = information_draws(spec, posterior, executor, args.information, progress=not args.quiet)
    table = value_of_information(draws, REGISTER_SD, seed=spec.seed)
    timings["value of information"] = time.perf_counter() - started
    out.mkdir(parents=True, exist_ok=True)
    path = spec.information if args.apply else out / spec.information.name
    table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    draws.to_csv(out / "information_draws.csv", index=False, float_format="%.10g", lineterminator="\n")
    return [path, out / "information_draws.csv"]


def _sbc(spec: Calibration, executor: Any, store: Any, args: argparse.Namespace, out: Path) -> int:
    from sim.calibration.sbc import coverage, run_sbc

    progress = not args.quiet

    def done(case: int, posterior: Any) -> None:
        if progress:
            print(f"case {case}: {len(posterior.draws)} draws, ESS {posterior.ess:.0f}, temperature "
                  f"{posterior.temperature:g}", flush=True)

    if spec.method == "emulator":
        from sim.calibration.emulated import emulated_sbc

        table = emulated_sbc(spec, executor, store, args.sbc or None, progress)
    else:
        table = run_sbc(spec, executor, store, args.sbc or None, progress, on_case=done)
    path = spec.coverage if args.apply else out / spec.coverage.name
    path.parent.mkdir(parents=True, exist_ok=True)
    table.to_csv(path, index=False, float_format="%.6g", lineterminator="\n")
    if progress:
        summary = coverage(table)
        print(f"{'quantity':<34} covered  expected if calibrated")
        for r in summary.itertuples():
            print(f"{r.quantity:<34} {r.covered:>3} of {r.cases:<3} {r.expected_low}-{r.expected_high}")
        print(f"coverage: {path} (the fit report shows it when calibrate writes it next)")
    return 0 if table["temperature"].le(1.0).all() else EXIT_INCOMPLETE


def _summary(report: fit_report.FitReport, out: Path, markdown: Path, files: list[Path]) -> str:
    lines = []
    post = report.posterior
    if post is not None:
        state = "complete" if post.complete else f"{_state(post)}: run again to continue"
        lines.append(f"posterior: {len(post.draws)} draws, ESS {post.ess:.0f}, {post.simulations} runs, {state}")
        for r in report.truth().itertuples():
            if r.metric == "value added":
                lines.append(f"value added, {r.quantity:<21} {r.median:>8.3g}  (90 %: {r.low:.3g} to {r.high:.3g})")
    if report.fit is not None:
        missed = report.fit[~report.fit["met"]]["target"].tolist()
        lines.append(f"check of the central draw: {len(report.fit) - len(missed)} of {len(report.fit)} targets "
                     f"within tolerance{'' if not missed else ' (outside: ' + ', '.join(missed) + ')'}")
    lines += [f"{label:<34} {seconds / 60:>8.1f} min" for label, seconds in report.timings.items()]
    lines += [f"written: {path}" for path in files]
    lines.append(f"report: {markdown}, tables and plots in {out}/")
    return "\n".join(lines)
