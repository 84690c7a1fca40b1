"""What the measurement after a full-scale run costs, part by part.

Usage::

    python benchmarks/measure_cost.py               # 5 repeats
    python benchmarks/measure_cost.py --repeats 10
    python benchmarks/measure_cost.py --scale 0.1   # a tenth of Norway, for a quick look

Simulates ``scenarios/baseline_2021.toml`` (2000-2035, the twin world on) once, then repeats what
:func:`sim.runner.run` does after the last year: the firm panels of both worlds
(:meth:`sim.observe.register.Register.firms`), the published estimator's steps
(:func:`sim.observe.estimator.measure`), the parts of its tables, the call discontinuity and the
firm-dynamics table. Each part is timed on its own, from a fresh panel index (so that the index's
lazily made keys are paid by the first part that asks for them, as in a run); the fastest of
``--repeats`` is kept (less noise from a busy machine). BLAS runs on one thread, as in ``measure``.

Output: an aligned plain-text table of seconds on stdout.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
from threadpoolctl import threadpool_limits

ROOT = Path(__file__).resolve().parent.parent
BASELINE = ROOT / "scenarios" / "baseline_2021.toml"
SEED = 0


def simulate(scale: float) -> tuple:
    """Run the baseline and its twin to the last year, keeping both registers' panels.

    Args:
        scale: ``population.scale`` (1.0 is full scale).

    Returns:
        ``(model, twin, scenario)`` after the last year.
    """
    sys.path.insert(0, str(ROOT))
    from sim.model import ClusterModel
    from sim.scenario.files import load_scenario
    from sim.twin import TwinModel

    scenario = load_scenario(BASELINE, {"population.scale": scale})
    model = ClusterModel(scenario, rng=SEED, keep_panel=True)
    twin = TwinModel(model)
    for _ in range(scenario.scenario.start_year, scenario.scenario.end_year + 1):
        model.step()
        twin.step()
    return model, twin, scenario


def panel_of(world) -> pd.DataFrame:
    """The world's firm panel (:meth:`sim.observe.register.Register.firms`)."""
    return world.register.firms(world.region_names, world.sector_names)


def timed(seconds: dict[str, list[float]], name: str, call: Callable, *args):
    """Call ``call(*args)``, adding its time to those under ``name``; return its result."""
    started = time.perf_counter()
    out = call(*args)
    seconds.setdefault(name, []).append(time.perf_counter() - started)
    return out


def repeat(model, twin, scenario, seconds: dict[str, list[float]]) -> None:
    """Time every part once, adding the times to ``seconds``."""
    from sim.observe import estimator as est
    from sim.observe.collaboration_gap import collaboration_gap
    from sim.observe.discontinuity import call_applicants, call_discontinuity
    from sim.observe.dynamics import firm_dynamics
    from sim.observe.entry_profile import entry_profile
    from sim.observe.funding_end import funding_end
    from sim.observe.matching import balance_table, build_sample, score_and_match
    from sim.observe.panel import PanelIndex
    from sim.observe.staggered import estimation_sample, staggered_did

    settings, clusters = scenario.measurement, model.register.clusters(model)
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    panel = timed(seconds, "Register.firms (factual)", panel_of, model)
    twin_panel = timed(seconds, "Register.firms (twin)", panel_of, twin)
    with threadpool_limits(limits=1, user_api="blas"):
        index = timed(seconds, "PanelIndex (factual)", PanelIndex, panel)
        sample = timed(seconds, "build_sample", build_sample, index, clusters, settings, SEED)
        sample = timed(seconds, "score_and_match", score_and_match, sample, settings)
        twin_index = timed(seconds, "PanelIndex (twin)", PanelIndex, twin_panel)
        timed(seconds, "_tables", est._tables, index, twin_index, sample, clusters, settings, SEED)
        boot = est.Bootstrap(len(sample.members), settings.bootstrap, est.generator(SEED, "measurement.bootstrap", 0))
        years = max(settings.max_years_since, settings.window_years)
        parts = {
            "  event_rows": lambda i: est.event_rows(i, sample, years),
            "  balance_table": lambda i: balance_table(sample),
            "  entry_profile": lambda i: entry_profile(i, sample, settings),
            "  collaboration_gap (+ event_rows)": lambda i: collaboration_gap(i, est.event_rows(i, sample, years),
                                                                            sample, boot),
            "  funding_end": lambda i: funding_end(i, clusters, est.METRICS, settings, SEED),
            "  staggered_did": lambda i: staggered_did(i, est.METRICS, settings),
            "    estimation_sample": lambda i: estimation_sample(i, settings),
        }
        for name, part in parts.items():
            timed(seconds, name, part, PanelIndex(panel))
        timed(seconds, "call_discontinuity", call_discontinuity, PanelIndex(panel), applicants, est.METRICS, settings)
    timed(seconds, "firm_dynamics", firm_dynamics, panel, scenario.population.scale)


def main(argv: list[str] | None = None) -> int:
    """Print the table."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5, help="timings of each part (default 5)")
    parser.add_argument("--scale", type=float, default=1.0, help="population.scale (default 1.0, full scale)")
    args = parser.parse_args(argv)
    model, twin, scenario = simulate(args.scale)
    # The register writes its panel while the simulation runs: its share of the years simulated, timed once.
    seconds: dict[str, list[float]] = {f"Register.record ({name}, every year)": [world.phase_seconds["record"]]
                                       for name, world in (("factual", model), ("twin", twin))}
    for _ in range(max(args.repeats, 1)):
        repeat(model, twin, scenario, seconds)
    table = pd.DataFrame({"part": list(seconds), "first": [round(s[0], 3) for s in seconds.values()],
                          "fastest": [round(min(s), 3) for s in seconds.values()]})
    print(f"Measurement after the baseline at scale {args.scale}, seconds: the first of {args.repeats} repeats "
          "(as a run pays it, memory not yet touched) and the fastest")
    print(table.to_string(index=False))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
