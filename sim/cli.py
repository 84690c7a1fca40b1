"""The command line: ``python run.py COMMAND ...``.

Exit status 0 on success, 2 on bad input (one line on stderr naming the file, the key and what is
allowed), 1 when something outside the input fails (e.g. the database refuses a write).
"""

from __future__ import annotations

import argparse
import os
import sys
from datetime import UTC, datetime
from pathlib import Path

from sim.explain import explain
from sim.results import write_outputs
from sim.runner import run
from sim.store import DEFAULT_DB_URL, StoreError, engine_for, save_run
from sim.validation import ScenarioError, load_scenario

EXIT_BAD_INPUT = 2
EXIT_FAILURE = 1


class _Parser(argparse.ArgumentParser):
    """argparse that reports usage errors as one line with exit status 2."""

    def error(self, message: str) -> None:  # noqa: D102
        self.exit(EXIT_BAD_INPUT, f"error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The ``run.py`` argument parser with one sub-command per task."""
    parser = _Parser(prog="run.py", description="Simulate Norwegian Innovation Clusters.")
    sub = parser.add_subparsers(dest="command", required=True, parser_class=_Parser)

    p = sub.add_parser("run", help="run a scenario and write its outputs")
    p.add_argument("scenario", help="scenario file (TOML), e.g. scenarios/baseline_2021.toml")
    p.add_argument("--seed", type=int, default=0, help="seed of all random streams (default 0)")
    p.add_argument("--out", type=Path, help="output folder (default results/<scenario>/<run id>/)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set population.scale=0.05 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=cmd_run)

    p = sub.add_parser("validate", help="check a scenario file, or print the parameter reference")
    p.add_argument("scenario", nargs="?", help="scenario file (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--explain", action="store_true", help="print every parameter with unit, default, range and source")
    p.set_defaults(func=cmd_validate)
    return parser


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario, write its files and its database rows, print a summary."""
    scenario = load_scenario(args.scenario, args.overrides)
    engine = engine_for(args.db)  # a bad --db fails now, not after the run
    started = datetime.now(UTC)
    result = run(scenario, seed=args.seed, progress=not args.quiet)
    run_id = f"{started:%Y%m%dT%H%M%S}-s{args.seed}"
    out = args.out or Path("results") / scenario.scenario.name / run_id
    write_outputs(result, out, with_plots=scenario.output.plots)
    save_run(result, run_id, out, engine, result.summary["wall_time_s"], started_at=started)
    if not args.quiet:
        print(summary_table(result.summary, out))
    return 0


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a scenario file (exit 2 with one line if it is wrong) or print the reference."""
    if args.explain:
        print(explain())
        return 0
    if args.scenario is None:
        raise ScenarioError("validate", "", "give a scenario file, or --explain")
    scenario = load_scenario(args.scenario, args.overrides)
    meta = scenario.scenario
    print(f"ok: {args.scenario}: scenario '{meta.name}', {meta.start_year}-{meta.end_year}, "
          f"scale {scenario.population.scale:g}, {len(scenario.clusters)} clusters")
    return 0


def summary_table(summary: dict, out: Path) -> str:
    """A short text table of a run's headline figures.

    Args:
        summary: The run's summary (``summary.json``).
        out: Where its files are.

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
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows] + [f"{'outputs':<{width}}  {out}/"]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    """Entry point of ``run.py``.

    Args:
        argv: Arguments without the program name; ``sys.argv[1:]`` if None.

    Returns:
        The exit status.
    """
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except ScenarioError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except StoreError as exc:
        print(f"error: --db {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except BrokenPipeError:
        # `run.py validate --explain | head` closed our stdout: not an error worth a traceback.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
