"""``run.py report RUN_DIR [RUN_DIR_B] [--out FILE]``: one self-contained HTML report."""

from __future__ import annotations

import argparse
from pathlib import Path

ORDER = 80


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``report`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("report", help="write an HTML report of a run (or of the seeds of a scenario), or compare two")
    p.add_argument("run_dir", type=Path, help="a run folder, or a folder of run folders of one scenario (its seeds)")
    p.add_argument("run_dir_b", type=Path, nargs="?", help="a second one: the report compares it with the first")
    p.add_argument("--out", type=Path, help="the HTML file (default RUN_DIR/report.html, or "
                                            "RUN_DIR_B/report_vs_<scenario A>.html for a comparison)")
    p.set_defaults(func=cmd_report)


def cmd_report(args: argparse.Namespace) -> int:
    """Write the report and say where it is.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
    from sim.output.report import write_report  # matplotlib and scipy only when a report is asked for

    out = write_report(args.run_dir, args.run_dir_b, args.out)
    print(f"report: {out}")
    return 0
