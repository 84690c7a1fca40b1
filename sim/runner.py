"""Running a scenario from start to end: ``sim.run(scenario, seed)``."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
from tqdm import tqdm

from sim.model import ClusterModel
from sim.results import RunResult
from sim.scenario import Scenario

HEADLINE_YEARS = (2019, 2021)


def run(scenario: Scenario, seed: int = 0, progress: bool = False,
        on_year: Callable[[ClusterModel], None] | None = None) -> RunResult:
    """Simulate a scenario for all its years.

    Args:
        scenario: A validated scenario (``sim.load_scenario``).
        seed: Seed of all random streams; the same scenario and seed give identical results.
        progress: Show a progress bar on stderr.
        on_year: Called with the model after each simulated year.

    Returns:
        The yearly, cluster and firm-panel tables and a summary.
    """
    started = time.perf_counter()
    model = ClusterModel(scenario, rng=seed)
    years = range(scenario.scenario.start_year, scenario.scenario.end_year + 1)
    bar = tqdm(years, desc=scenario.scenario.name, unit="year", disable=not progress, leave=False)
    for _ in bar:
        model.step()
        bar.set_postfix(firms=int(model.firms.alive[: model.firms.n].sum()))
        if on_year is not None:
            on_year(model)
    yearly = model.register.yearly()
    result = RunResult(
        scenario_name=scenario.scenario.name,
        seed=seed,
        yearly=yearly,
        firms=model.register.firms(model.region_names, model.sector_names),
        clusters=model.register.clusters(model),
        summary={},
        scenario_toml=scenario.to_toml(),
    )
    result.summary = summarise(scenario, seed, yearly, time.perf_counter() - started)
    return result


def summarise(scenario: Scenario, seed: int, yearly, wall_time_s: float) -> dict:
    """Scenario, seed, versions, wall time and headline figures (full-scale units).

    Args:
        scenario: The scenario run.
        seed: Its seed.
        yearly: The yearly table.
        wall_time_s: Seconds the run took.

    Returns:
        A JSON-able dictionary.
    """
    first, last = yearly.iloc[0], yearly.iloc[-1]
    years = last["year"] - first["year"]
    headline = {
        "firms_end": int(last["firms"]),
        "employment_end": float(last["employment"]),
        "value_added_end_nok": float(last["value_added_nok"]),
        "employment_growth_pct_per_year": float(100 * np.expm1(np.log(last["employment"] / first["employment"]) / max(years, 1))),
        "programme_spend_total_nok": float(yearly["programme_spend_nok"].sum()),
    }
    for y in HEADLINE_YEARS:
        row = yearly[yearly["year"] == y]
        if len(row):
            headline[f"clusters_{y}"] = int(row["clusters"].iloc[0])
            headline[f"members_{y}"] = int(row["members"].iloc[0])
    return {
        "scenario": scenario.scenario.name,
        "seed": seed,
        "scale": scenario.population.scale,
        "years": [int(first["year"]), int(last["year"])],
        "versions": {pkg: version(pkg) for pkg in ("nic-sim", "mesa", "numpy", "pandas")} | {"python": platform.python_version()},
        "wall_time_s": round(wall_time_s, 3),
        "headline": headline,
    }
