"""How long the classroom app takes to simulate and redraw one year.

Usage::

    python benchmarks/app_render.py              # classroom scenario, all 31 years, map tab
    python benchmarks/app_render.py --years 10

The app is rendered with Solara's test renderer (``solara.render``: the widgets the server would
send, without a browser) around a session of ``scenarios/classroom.toml``. For each simulated year
the benchmark clicks *Step* and times the click, which runs the year in all three worlds (main,
twin without services, reference) and re-renders every view that depends on it: headline, map
(matplotlib PNG), five charts (ECharts options, drawn later by the browser). It then does the same
with the *Network* tab open instead of the map. The parts are timed separately too.
Target: one year renders in under half a second (the median and the 90th percentile are reported;
the first year includes one-off imports and font loading, so the maximum is shown but not judged).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import ipyvuetify as v
import pandas as pd
import solara

from sim.app import page as app
from sim.app.drawing import png
from sim.app.map import NorwayMap
from sim.app.network import network_figure
from sim.app.session import Session

TARGET_S = 0.5
PERCENTILE_90 = 0.9


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print its table.

    Args:
        argv: Command-line arguments (default ``sys.argv[1:]``).

    Returns:
        Exit status 0 (1 if the median full render misses the target).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--years", type=int, default=31, help="years to simulate (default 31: 2000-2030)")
    args = parser.parse_args(argv)
    rows = [
        _row("full render, map tab (click Step)", _clicks(args.years, tab=0)),
        _row("full render, network tab (click Step)", _clicks(args.years, tab=1)),
        *_parts(args.years),
    ]
    table = pd.DataFrame(rows)
    print(f"classroom scenario (scenarios/classroom.toml), {args.years} years, seconds per year")
    print(table.to_string(index=False, float_format=lambda x: f"{x:.3f}"))
    worst = table.loc[table["what"].str.startswith("full"), "median_s"].max()
    verdict = "meets" if worst < TARGET_S else "MISSES"
    print(f"\none simulated year renders in {worst:.3f} s (median, slower tab): {verdict} the {TARGET_S} s target")
    return 0 if worst < TARGET_S else 1


def _clicks(years: int, tab: int) -> list[float]:
    """Time each click on Step in the rendered app, with the map (0) or network (1) tab open."""
    session = Session()

    @solara.component
    def Root():
        with solara.AppLayout():
            app.App(session)

    _, rc = solara.render(Root(), handle_error=False)
    if tab:
        _tabs_with(rc.container, "Network").v_model = tab
    step = rc.find(v.Btn, children=["Step"]).widget
    times = []
    for _ in range(years):
        started = time.perf_counter()
        step.click()
        times.append(time.perf_counter() - started)
    rc.close()
    return times


def _tabs_with(widget, label: str):
    """The tab bar (searched depth first) that has a tab called ``label``."""
    children = [c for c in getattr(widget, "children", None) or [] if not isinstance(c, str)]
    if isinstance(widget, v.Tabs) and any(getattr(c, "children", None) == [label] for c in children):
        return widget
    for child in children:
        found = _tabs_with(child, label)
        if found is not None:
            return found
    return None


def _parts(years: int) -> list[dict]:
    """The pieces of a redraw, timed on their own."""
    session = Session()
    norway = NorwayMap(session.worlds["main"])
    parts: dict[str, list[float]] = {"simulate one year, 3 worlds": [], "map PNG": [], "network PNG": [],
                                     "chart options (5 charts)": []}
    for _ in range(years):
        for name, work in (("simulate one year, 3 worlds", lambda: session.step(1)),
                           ("map PNG", lambda: norway.png(session.worlds["main"])),
                           ("network PNG", lambda: png(network_figure(session.worlds["main"], 0)[0])),
                           ("chart options (5 charts)", lambda: app.chart_options(session))):
            started = time.perf_counter()
            work()
            parts[name].append(time.perf_counter() - started)
    return [_row(name, times) for name, times in parts.items()]


def _row(what: str, times: list[float]) -> dict:
    ordered = sorted(times)
    return {"what": what, "median_s": statistics.median(ordered),
            "p90_s": ordered[min(len(ordered) - 1, int(PERCENTILE_90 * len(ordered)))], "max_s": ordered[-1]}


if __name__ == "__main__":
    sys.exit(main())
