"""``run.py compare A.toml B.toml --seeds 20``: two scenarios, common random numbers, the policy answers.

Writes a comparison folder (default ``results/compare/<a>_vs_<b>/<time>/``, a new one each time;
an existing ``--out`` only with ``--force``) that ``run.py report`` reads: every run, the answers,
B - A year by year, the plots and, with ``--ablate``, what each assumption carries.
"""

from __future__ import annotations

import argparse
import os
from datetime import UTC, datetime
from pathlib import Path

from tqdm import tqdm

from sim.output.result import run_folder
from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario

ORDER = 2
WORKERS_PER_CORE = 4  # more processes than this only compete for the cores and memory
MAX_SEEDS = 1000


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


def seeds_arg(text: str) -> int:
    """An argparse type: a number of seeds, 1 to :data:`MAX_SEEDS`.

    Args:
        text: The argument as given.

    Returns:
        The number.

    Raises:
        argparse.ArgumentTypeError: Not a whole number in range.
    """
    try:
        value = int(text)
    except ValueError:
        value = None
    if value is None or not 1 <= value <= MAX_SEEDS:
        raise argparse.ArgumentTypeError(f"must be a whole number 1-{MAX_SEEDS}, got {text[:40]!r}")
    return value


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("compare", help="run two scenarios on the same seeds: B - A, cost per man-year, assumptions")
    p.add_argument("a", help="reference scenario, e.g. scenarios/baseline_2021.toml")
    p.add_argument("b", help="alternative scenario, e.g. scenarios/budget_cut_2022.toml")
    p.add_argument("--seeds", type=seeds_arg, default=20, help="number of seeds, 0..N-1 (default 20)")
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
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run both scenarios, print the answers and write the comparison folder.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.experiments import compare  # matplotlib and scipy load only for this command
    from sim.output import compare_plots
    from sim.output.answers import DISCOUNT_SOURCE, answers, text_table, yearly_difference
    from sim.output.assumptions import assumptions

    a, b = load_scenario(args.a, args.overrides), load_scenario(args.b, args.overrides)
    since = args.since if args.since is not None else a.programme.history_until + 1
    first = max(a.scenario.start_year, b.scenario.start_year)
    last = min(a.scenario.end_year, b.scenario.end_year)
    if not first <= since <= last:
        which = "--since" if args.since is not None else "--since (default: programme.history_until + 1)"
        raise ScenarioError(which, "", f"must be a year both scenarios simulate, {first}-{last}, got {since}")
    found = assumptions(a.model_dump(), b.model_dump())
    switches = _switches(found, args.ablate)
    names = (a.scenario.name, b.scenario.name)
    out = args.out or Path("results") / "compare" / f"{names[0]}_vs_{names[1]}" / f"{datetime.now(UTC):%Y%m%dT%H%M%S}"
    seeds = list(range(args.seeds))
    lean_a, lean_b = compare.lean(a, not args.no_effects), compare.lean(b, not args.no_effects)
    with run_folder(out, args.force) as partial:  # checked before the work; complete or absent after
        with tqdm(total=2 * args.seeds * (1 + len(switches)), desc="compare", unit="run") as bar:
            ya, yb = compare.run_pair(lean_a, lean_b, seeds, partial, args.workers, progress=bar.update)
            ablation = (compare.ablate(compare.lean(a, False), compare.lean(b, False), switches, seeds, since,
                                       args.workers, bar.update) if switches else None)
        table = answers(ya, yb, since)
        diff = yearly_difference(ya, yb, compare.DIFFERENCE_COLUMNS)
        history = a.programme.history_until
        tables = {"answers": table, "yearly_difference": diff}
        figures = {"paths": compare_plots.paths_figure(ya, yb, names, history),
                   "difference": compare_plots.difference_figure(diff, names, history)}
        if ablation is not None:
            tables["ablation"] = compare.carried(table, ablation)
            figures["ablation"] = compare_plots.ablation_figure(tables["ablation"])
        meta = compare.describe(args.a, args.b, a, b, seeds, since, args.overrides, found)
        compare.write(partial, meta, tables, figures)
    print(f"{names[1]} - {names[0]}: {args.seeds} seed{'s' if args.seeds != 1 else ''} (common random numbers), "
          f"years {since}-{last}; discounted to {since} at {DISCOUNT_SOURCE.split(':')[0]}")
    print(text_table(table, names))
    print(_assumption_lines(found))
    if ablation is not None:
        print(_ablation_lines(tables["ablation"]))
    print(f"outputs: {out}/ (report: python run.py report {out})")
    return 0


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
