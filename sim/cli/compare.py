"""``run.py compare A.toml B.toml --seeds 20``: two scenarios, common random numbers, intervals."""

from __future__ import annotations

import argparse
import os
from pathlib import Path

from tqdm import tqdm

from sim.output.result import writable_folder
from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario

ORDER = 2
WORKERS_PER_CORE = 4  # more processes than this only compete for the cores and memory


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


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``compare`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("compare", help="run two scenarios on the same seeds and tabulate B - A")
    p.add_argument("a", help="reference scenario, e.g. scenarios/baseline_2021.toml")
    p.add_argument("b", help="alternative scenario, e.g. scenarios/budget_cut_2022.toml")
    p.add_argument("--seeds", type=int, default=20, help="number of seeds, 0..N-1 (default 20)")
    p.add_argument("--workers", type=workers_arg, default=None, help="processes, 1 to 4 per core (default: all cores)")
    p.add_argument("--since", type=int, default=None,
                   help="first year of totals (default: the programme's history_until + 1)")
    p.add_argument("--out", type=Path, help="output folder (default results/compare/<a>_vs_<b>/)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a value in both scenarios, e.g. --set population.scale=0.1")
    p.set_defaults(func=cmd_compare)


def cmd_compare(args: argparse.Namespace) -> int:
    """Run both scenarios, print and write the table of differences and the paths plot.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.experiments import compare  # matplotlib and scipy load only for this command

    if args.seeds < 1:
        raise ScenarioError("--seeds", "", f"must be at least 1, got {args.seeds}")
    a, b = load_scenario(args.a, args.overrides), load_scenario(args.b, args.overrides)
    since = args.since if args.since is not None else a.programme.history_until + 1
    first = max(a.scenario.start_year, b.scenario.start_year)
    last = min(a.scenario.end_year, b.scenario.end_year)
    if not first <= since <= last:
        which = "--since" if args.since is not None else "--since (default: programme.history_until + 1)"
        raise ScenarioError(which, "", f"must be a year both scenarios simulate, {first}-{last}, got {since}")
    names = (a.scenario.name, b.scenario.name)
    out = writable_folder(args.out or Path("results") / "compare" / f"{names[0]}_vs_{names[1]}")  # before the work
    with tqdm(total=2 * args.seeds, desc="compare", unit="run") as bar:
        ya, yb = compare.run_pair(a, b, list(range(args.seeds)), args.workers, progress=bar.update)
    table = compare.difference_table(ya, yb, since)
    compare.write(table, compare.paths_figure(ya, yb, names), out)
    print(f"{names[1]} - {names[0]}, {args.seeds} seeds, totals from {since}; 95 % intervals")
    print(table.to_string(index=False, float_format=lambda v: f"{v:,.4g}"))
    print(f"outputs: {out}/")
    return 0
