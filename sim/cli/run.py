"""``run.py run SCENARIO``: simulate one scenario and write its files and database rows."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

from sim.output.result import write_outputs
from sim.output.store import DEFAULT_DB_URL, engine_for, save_run
from sim.runner import run
from sim.scenario.files import load_scenario

ORDER = 0


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``run`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("run", help="run a scenario and write its outputs")
    p.add_argument("scenario", help="scenario file (TOML), e.g. scenarios/baseline_2021.toml")
    p.add_argument("--seed", type=int, default=0, help="seed of all random streams (default 0)")
    p.add_argument("--out", type=Path, help="output folder (default results/<scenario>/<run id>/)")
    p.add_argument("--db", default=DEFAULT_DB_URL, help=f"results database URL (default {DEFAULT_DB_URL})")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE",
                   help="override a scenario value, e.g. --set population.scale=0.05 (repeatable)")
    p.add_argument("--quiet", action="store_true", help="no progress bar or summary table")
    p.set_defaults(func=cmd_run)


def cmd_run(args: argparse.Namespace) -> int:
    """Run one scenario, write its files and its database rows, print a summary.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
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
    for metric, label in (("value_added", "value added"), ("man_years", "man-years")):
        if h.get(f"gap_{metric}_pp") is not None:
            true, share = h.get(f"true_{metric}_pp"), h.get(f"selection_share_{metric}")
            known = true is not None and share is not None
            truth = f", true {true:.1f} pp, {100 * share:.0f} % selection" if known else ""
            rows.append((f"member gap, {label}", f"{h[f'gap_{metric}_pp']:.1f} pp a year{truth} (effects.csv)"))
    width = max(len(k) for k, _ in rows)
    lines = [f"{k:<{width}}  {v}" for k, v in rows] + [f"{'outputs':<{width}}  {out}/"]
    return "\n".join(lines)


