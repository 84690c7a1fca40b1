"""``run.py validate SCENARIO``: check a scenario file, or print the parameter reference."""

from __future__ import annotations

import argparse

from sim.scenario.errors import ScenarioError
from sim.scenario.explain import explain
from sim.scenario.files import load_scenario

ORDER = 1


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add the ``validate`` sub-command.

    Args:
        sub: The sub-parsers of ``run.py``.
    """
    p = sub.add_parser("validate", help="check a scenario file, or print the parameter reference")
    p.add_argument("scenario", nargs="?", help="scenario file (TOML)")
    p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY=VALUE")
    p.add_argument("--explain", action="store_true", help="print every parameter with unit, default, range and source")
    p.set_defaults(func=cmd_validate)


def cmd_validate(args: argparse.Namespace) -> int:
    """Validate a scenario file (exit 2 with one line if it is wrong) or print the reference.

    Args:
        args: The parsed command line.

    Returns:
        The exit status.
    """
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
