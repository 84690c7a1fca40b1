"""``run.py compare A.toml B.toml --seeds 20``: two scenarios, common random numbers, the policy answers.

Writes a comparison folder (default ``results/compare/<a>_vs_<b>/<time>/``, a new one each time;
an existing ``--out`` only with ``--force``) that ``run.py report`` reads: every run, the answers,
B - A year by year, the plots and, with ``--ablate``, what each assumption carries. Its intervals
hold seed uncertainty at the committed parameters, and say so.

``--posterior N`` runs the comparison over N draws of the calibration's posterior
(``calibration/posterior.parquet``, or ``--posterior-file``; each parameter's scenario keys from
``calibration/parameters.toml``, or ``--calibration``) times the seeds, and gives every answer's 90 %
interval with its parameters' and seeds' parts. The file is checked here, at the edge: a missing or
malformed one stops the command with one line (exit status 2).
"""

from __future__ import annotations

import argparse
import hashlib
import os
import sys
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from tqdm import tqdm

from sim.output.result import partial_path
from sim.scenario.errors import ScenarioError, short_toml
from sim.scenario.files import load_scenario

if TYPE_CHECKING:
    import pandas as pd

    from sim.calibration.spec import Calibration
    from sim.experiments.compare import Draw
    from sim.scenario.schema import Scenario

ORDER = 2
WORKERS_PER_CORE = 4  # more processes than this only compete for the cores and memory
MAX_SEEDS = 1000
MAX_DRAWS = 1000
DEFAULT_POSTERIOR = Path("calibration/posterior.parquet")
DEFAULT_CALIBRATION = Path("calibration/parameters.toml")
EXIT_FAILED, EXIT_INTERRUPTED = 1, 130


def workers_arg(text: str) -> int:
    """An argparse type: a number of worker processes, 1 to 4 per core.

    Args:
        text: The argument as given.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: Not a whole number in range (one line, exit status 2).
    """
    most = WORKERS_PER_CORE * (os.cpu_count() or 1)
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= most:
        raise argparse.ArgumentTypeError(f"must be a whole number 1-{most} (4 per core), got {text[:40]!r}")
    return value


def count_arg(most: int) -> Callable[[str], int]:
    """An argparse type: a whole number from 1 to ``most`` (seeds, draws).

    Args:
        most: The largest number allowed.

    Returns:
        The type function; it raises ``argparse.ArgumentTypeError`` (one line, exit status 2) otherwise.
    """
    def count(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = None
        if value is None or not 1 <= value <= most:
            raise argparse.ArgumentTypeError(f"must be a whole number 1-{most}, got {text[:40]!r}")
        return value

    return count


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("compare", help="run two scenarios on the same seeds: B - A, cost per man-year, assumptions")
    p.add_argument("a", help="reference scenario, e.g. scenarios/baseline_2021.toml")
    p.add_argument("b", help="alternative scenario, e.g. scenarios/budget_cut_2022.toml")
    p.add_argument("--seeds", type=count_arg(MAX_SEEDS), default=20,
                   help="number of seeds, 0..N-1 (default 20); with --posterior, seeds per draw")
    p.add_argument("--workers", type=workers_arg, default=None, help="processes, 1 to 4 per core (default: all cores)")
    p.add_argument("--since", type=int, default=None,
                   help="first year counted (default: the programme's history_until + 1)")
    p.add_argument("--out", type=Path,
                   help="comparison folder, new or empty (default results/compare/<a>_vs_<b>/<time>/)")
    p.add_argument("--force", action="store_true", help="replace a non-empty --out folder")
    p.add_argument("--no-effects", action="store_true",
                   help="skip the membership-effect measurement (and its twin world): about half the time")
    p.add_argument("--ablate", nargs="*", metavar="KEY", default=None,
                   help="rerun with each assumed parameter (or the KEYs given) switched off in both scenarios")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value in both scenarios, e.g. --set population.scale=0.1")
    p.add_argument("--posterior", type=count_arg(MAX_DRAWS), metavar="N",
                   help="run over N draws of the calibration's posterior times --seeds: intervals with parameter "
                        "and seed uncertainty, each shown apart")
    p.add_argument("--posterior-file", type=Path, metavar="PATH",
                   help=f"the posterior's draws (default {DEFAULT_POSTERIOR}, written by run.py calibrate --apply)")
    p.add_argument("--calibration", type=Path, metavar="FILE",
                   help=f"the calibration file saying which scenario keys each parameter sets (default "
                        f"{DEFAULT_CALIBRATION})")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run both scenarios, print the answers and write the comparison folder.

    Args:
        args: The parsed command line.

    Returns:
        The exit status: 0, 1 when runs failed (the finished ones are kept), 130 when interrupted.
    """
    from sim.experiments import compare  # matplotlib and scipy load only for this command

    _check_options(args)
    a, b = load_scenario(args.a, args.overrides), load_scenario(args.b, args.overrides)
    since = args.since if args.since is not None else a.programme.history_until + 1
    first = max(a.scenario.start_year, b.scenario.start_year)
    last = min(a.scenario.end_year, b.scenario.end_year)
    if not first <= since <= last:
        which = "--since" if args.since is not None else "--since (default: programme.history_until + 1)"
        raise ScenarioError(which, "", f"must be a year both scenarios simulate, {first}-{last}, got {since}")
    lean_a, lean_b = compare.lean(a, not args.no_effects), compare.lean(b, not args.no_effects)
    posterior, draws_table = None, None
    if args.posterior:
        draws, posterior, draws_table = _posterior_draws(args, lean_a, lean_b)
    else:
        draws = [compare.Draw(0, lean_a, lean_b, tuple(range(args.seeds)))]
    names = (a.scenario.name, b.scenario.name)
    out = args.out or Path("results") / "compare" / f"{names[0]}_vs_{names[1]}" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    try:
        return _compare(args, a, b, since, draws, out, posterior, draws_table)
    except compare.RunsFailed as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_FAILED
    except KeyboardInterrupt:
        kept = partial_path(out)
        hint = (f"; the finished runs are kept in {kept}: run the same command again with --out {out} to continue"
                if kept.is_dir() else "")
        print(f"interrupted{hint}", file=sys.stderr)
        return EXIT_INTERRUPTED


def _compare(args: argparse.Namespace, a: Scenario, b: Scenario, since: int, draws: list[Draw], out: Path,
             posterior: dict | None = None, draws_table: pd.DataFrame | None = None) -> int:
    """Run the draws (and the ablation) into the comparison folder, write its files and print the answers.

    ``posterior`` and ``draws_table`` describe the posterior's draws (``compare.json``, ``draws.csv``);
    None at the committed parameters.
    """
    from sim.experiments import compare
    from sim.experiments.executors import LocalPool
    from sim.output import compare_plots
    from sim.output.answers import (
        DISCOUNT_SOURCE,
        SEEDS_ONLY,
        answers,
        membership_effects,
        spread_note,
        text_table,
        yearly_difference,
    )
    from sim.output.assumptions import assumptions
    from sim.output.run_sets import load_runs

    found = assumptions(a.model_dump(), b.model_dump())
    switches = _switches(found, args.ablate)
    names = (a.scenario.name, b.scenario.name)
    mapping = compare.draw_of(draws) if posterior else None
    seeds = sorted(compare.draw_of(draws))
    with compare.comparison_folder(out, args.force, compare.fingerprint(draws)) as partial:
        with tqdm(total=2 * len(seeds) + 2 * len(seeds) * len(switches), desc="compare", unit="run") as bar:
            compare.run_draws(draws, partial, LocalPool(args.workers, runner=compare.run_and_keep), bar.update)
            ablation = (compare.ablate(compare.lean(a, False), compare.lean(b, False), switches, seeds, since,
                                       LocalPool(args.workers), bar.update) if switches else None)
        sets = [load_runs(partial / side, tuple(posterior["keys"]) if posterior else ()) for side in compare.SIDES]
        ya, yb = sets[0].yearly, sets[1].yearly
        table = answers(ya, yb, since, draw_of=mapping)
        diff = yearly_difference(ya, yb, compare.DIFFERENCE_COLUMNS, mapping)
        history = a.programme.history_until
        tables = {"answers": table, "yearly_difference": diff}
        figures = {"paths": compare_plots.paths_figure(ya, yb, names, history, mapping),
                   "difference": compare_plots.difference_figure(diff, names, history)}
        if ablation is not None:
            tables["ablation"] = compare.carried(table, ablation)
            figures["ablation"] = compare_plots.ablation_figure(tables["ablation"])
        if posterior is not None:
            tables["draws"] = draws_table
            tables["membership_effects"] = membership_effects(
                [(s.name, s.headlines) for s in sets], mapping)
        per_draw = len(draws[0].seeds)
        uncertainty = spread_note(len(draws), per_draw) if posterior else SEEDS_ONLY
        meta = compare.describe(args.a, args.b, a, b, seeds, since, args.overrides, found, uncertainty, posterior)
        compare.write(partial, meta, tables, figures)
    runs = (f"{len(draws)} posterior draws x {per_draw} seeds (common random numbers within each draw)" if posterior
            else f"{args.seeds} seed{'s' if args.seeds != 1 else ''} (common random numbers)")
    print(f"{names[1]} - {names[0]}: {runs}, years {since}-{meta['end']}; discounted to {since} at "
          f"{DISCOUNT_SOURCE.split(':')[0]}")
    print(text_table(table, names))
    print(f"uncertainty: {uncertainty}")
    if posterior is not None:
        print(_posterior_lines(posterior, tables["membership_effects"]))
    print(_assumption_lines(found))
    if ablation is not None:
        print(_ablation_lines(tables["ablation"]))
    print(f"outputs: {out}/ (report: python run.py report {out})")
    return 0


def _check_options(args: argparse.Namespace) -> None:
    """Options that only make sense together, checked before anything is read."""
    for given, option in ((args.posterior_file, "--posterior-file"), (args.calibration, "--calibration")):
        if given is not None and args.posterior is None:
            raise ScenarioError(option, "", "needs --posterior N, the number of posterior draws to run")
    if args.posterior is not None and args.ablate is not None:
        raise ScenarioError("--ablate", "", "not with --posterior: the ablation runs at the committed parameters; "
                                            "run it without --posterior")


# --- the posterior's draws ---------------------------------------------------------------------

def _posterior_draws(args: argparse.Namespace, a: Scenario, b: Scenario) -> tuple[list[Draw], dict, pd.DataFrame]:
    """N draws of the posterior applied to both scenarios, what ``compare.json`` says of them, and ``draws.csv``.

    Raises:
        ScenarioError: The file, the calibration file or a draw's scenario is not usable (exit status 2).
    """
    from sim.calibration.fit import load_calibration
    from sim.calibration.spec import value_at
    from sim.experiments import compare

    path = args.posterior_file or DEFAULT_POSTERIOR
    table = _read_posterior(path)
    spec = load_calibration(args.calibration or DEFAULT_CALIBRATION)
    _check_draws(table, spec, path)
    rows = compare.systematic_resample(table["weight"].to_numpy(float), args.posterior)
    keys = [k for p in spec.parameters.values() for k in p.keys]
    fitted = load_scenario(spec.scenario_path).model_dump()
    committed = {k: value_at(fitted, k) for k in keys}
    draws, kept = [], {}
    for j, row in enumerate(rows):
        values = spec.overrides({n: float(table[n].iloc[row]) for n in spec.parameters})
        where = f"{path}: draw {j} (row {row})"
        (da, kept["a"]), (db, kept["b"]) = (compare.with_draw(s, values, committed, where) for s in (a, b))
        draws.append(compare.Draw(j, da, db, tuple(range(j * args.seeds, (j + 1) * args.seeds))))
    return draws, {
        "file": str(path), "sha256": hashlib.sha256(path.read_bytes()).hexdigest(),
        "calibration": str(spec.source), "resample_seed": compare.RESAMPLE_SEED, "seeds_per_draw": args.seeds,
        "parameters": list(spec.parameters), "keys": keys, "kept": kept,
        "draws": [{"draw": d.number, "row": int(r), "seeds": list(d.seeds)} for d, r in zip(draws, rows, strict=True)],
    }, _draws_table(table, spec, draws, rows)


def _read_posterior(path: Path) -> pd.DataFrame:
    """The posterior's draws as a table, or one line saying why the file cannot be used."""
    import pandas as pd
    import pyarrow as pa

    if not path.is_file():
        raise ScenarioError(str(path), "", "not found: python run.py calibrate --apply writes it; or give "
                                           "--posterior-file PATH")
    try:
        table = pd.read_parquet(path)
    except (OSError, ValueError, pa.ArrowException) as exc:
        raise ScenarioError(str(path), "", f"cannot be read as parquet ({type(exc).__name__})") from None
    if table.empty:
        raise ScenarioError(str(path), "", "has no draws (no rows)")
    return table


def _check_draws(table: pd.DataFrame, spec: Calibration, path: Path) -> None:
    """Every fitted parameter a column of finite values inside its prior's support; weights usable."""
    import numpy as np
    import pandas as pd

    for name in ("weight", *spec.parameters):
        if name not in table.columns:
            needed = ", ".join(("weight", *spec.parameters))
            raise ScenarioError(str(path), name, f"no such column; a posterior of {spec.source} has {needed}")
        values = pd.to_numeric(table[name], errors="coerce").to_numpy(float)
        low, high = (0.0, np.inf) if name == "weight" else (spec.parameters[name].low, spec.parameters[name].high)
        bad = np.flatnonzero(~(np.isfinite(values) & (values >= low) & (values <= high)))
        if len(bad):
            allowed = ("finite and 0 or more" if name == "weight"
                       else f"inside its prior's support {low:g}-{high:g} ({spec.source})")
            value = table[name].iloc[bad[0]]
            shown = short_toml(value.item() if isinstance(value, np.generic) else value)
            raise ScenarioError(str(path), name, f"row {bad[0]} is {shown}; must be {allowed}")
    if not table["weight"].sum() > 0:
        raise ScenarioError(str(path), "weight", "all weights are 0; at least one draw must weigh more")


def _draws_table(table: pd.DataFrame, spec: Calibration, draws: list[Draw], rows: Any) -> pd.DataFrame:
    """``draws.csv``: each draw's row of the file, seeds, weight, parameter values and the outcomes it carries."""
    import pandas as pd

    from sim.calibration.posterior import OUTCOMES

    carried = [c for c in OUTCOMES if c in table.columns]
    picked = table.iloc[rows][["weight", *spec.parameters, *carried]].reset_index(drop=True)
    head = pd.DataFrame({"draw": [d.number for d in draws], "row": [int(r) for r in rows],
                         "first_seed": [d.seeds[0] for d in draws], "last_seed": [d.seeds[-1] for d in draws]})
    return pd.concat([head, picked], axis=1)


def _posterior_lines(posterior: dict, effects: pd.DataFrame) -> str:
    """The draws' source, the what-if changes kept under every draw, and each scenario's membership effect."""
    from sim.output.answers import parts_text, plain

    lines = [f"posterior: {len(posterior['draws'])} draws from {posterior['file']} (systematic resampling of its "
             f"weights, seed {posterior['resample_seed']}); each draw's parameters set as {posterior['calibration']} "
             "says, in both scenarios"]
    for side, ratios in posterior["kept"].items():
        for key, ratio in ratios.items():
            lines.append(f"  scenario {side.upper()} changes {key}: kept as {plain(ratio)} x each draw's value")
    if len(effects):
        lines.append("membership effect in each scenario over the posterior (mean, 90 % interval; parameters, seeds):")
    for r in effects.itertuples():
        parameters, seeds = parts_text(r._asdict())
        lines.append(f"  {r.scenario}, {r.label}: {plain(r.mean)} {r.unit} ({plain(r.low)} to {plain(r.high)}; "
                     f"parameters {parameters}; seeds {seeds})")
    return "\n".join(lines)


def _switches(found: list, keys: list[str] | None) -> list[dict]:
    """The distinct switches to try: of every assumption, or of the keys given (each must be one)."""
    if keys is None:
        return []
    by_key = {x.key: x for x in found}
    for key in keys:
        if key not in by_key:
            allowed = ", ".join(by_key) or "none"
            raise ScenarioError("--ablate", key, f"not an assumed parameter these answers depend on; one of: {allowed}")
    chosen = [by_key[k] for k in keys] if keys else found
    out: list[dict] = []
    for x in chosen:
        if x.switch and x.switch not in out:
            out.append(x.switch)
    return out


def _assumption_lines(found: list) -> str:
    from sim.output.assumptions import switch_text

    if not found:
        return "assumptions: none of the parameters whose source is an assumption is active or differs"
    lines = [f"assumptions these answers depend on ({len(found)}; source says 'assumption'; "
             "see what each carries with --ablate):"]
    for x in found:
        values = " -> ".join(dict.fromkeys(str(v) for v in x.values))
        lines.append(f"  {x.key} = {values} {x.unit}  (off: {switch_text(x.switch)})")
    return "\n".join(lines)


def _ablation_lines(table) -> str:
    from sim.output.answers import plain

    t = table[table["outcome"] == "man_years_total"]
    lines = ["man-years gained (summed) with each assumption switched off in both scenarios:"]
    for r in t.itertuples():
        share = f"{100 * r.carried_share:.0f} %" if r.carried_share == r.carried_share else "-"
        lines.append(f"  without {r.switched_off}: {plain(r.difference)} ({plain(r.low)} to {plain(r.high)}, "
                     f"{r.interval}); carries {plain(r.carried)} man-years, {share} of {plain(r.full_difference)}")
    return "\n".join(lines)
