"""Running a scenario from start to end: ``sim.run(scenario, seed)``."""

from __future__ import annotations

import platform
import time
from collections.abc import Callable
from importlib.metadata import version

import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.model import ClusterModel
from sim.observe.discontinuity import call_applicants
from sim.observe.dynamics import firm_dynamics
from sim.output.result import HEADLINE_YEARS, RunResult, effect_headline
from sim.scenario.schema import Scenario
from sim.twin import TwinModel


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
    measurement = scenario.measurement
    model = ClusterModel(scenario, rng=seed, keep_panel=scenario.output.firm_panel or measurement.effects)
    twin = TwinModel(model) if measurement.effects and measurement.twin else None
    years = range(scenario.scenario.start_year, scenario.scenario.end_year + 1)
    desc = scenario.scenario.name + (" + twin" if twin is not None else "")
    bar = tqdm(years, desc=desc, unit="year", disable=not progress, leave=False)
    for _ in bar:
        model.step()
        if twin is not None:
            twin.step()
        bar.set_postfix(firms=int(model.firms.alive[: model.firms.n].sum()))
        if on_year is not None:
            on_year(model)
    yearly = model.register.yearly()
    panel = model.register.firms(model.region_names, model.sector_names)
    clusters = model.register.clusters(model)
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    effects = None
    seconds = dict(model.phase_seconds)
    if twin is not None:
        seconds["twin"] = sum(twin.phase_seconds.values())
    if measurement.effects:
        from sim.observe.estimator import measure  # scikit-learn takes a second to load

        measuring = time.perf_counter()
        twin_panel = twin.register.firms(twin.region_names, twin.sector_names) if twin is not None else None
        effects = measure(panel, clusters, measurement, seed, twin_panel, applicants)
        seconds["measurement"] = time.perf_counter() - measuring
    if twin is not None:
        yearly = with_untreated(yearly, twin.register.yearly(), twin.gross_table())
    dynamics = None
    if scenario.output.firm_panel:
        measuring = time.perf_counter()
        dynamics = firm_dynamics(panel, scenario.population.scale)
        seconds["dynamics"] = time.perf_counter() - measuring
    result = RunResult(
        scenario_name=scenario.scenario.name,
        seed=seed,
        yearly=yearly,
        firms=panel if scenario.output.firm_panel else None,
        clusters=clusters,
        summary={},
        scenario_toml=scenario.to_toml(),
        effect_tables=effects.tables() if effects is not None else None,
        clusters_yearly=model.register.clusters_yearly(model),
        regions_yearly=model.register.regions_yearly(model.region_names),
        firm_dynamics=dynamics,
        history_until=scenario.programme.history_until,
        call_applicants=applicants,
    )
    result.summary = summarise(scenario, seed, yearly, time.perf_counter() - started, result.effect_tables)
    result.summary["phase_seconds"] = {name: round(s, 4) for name, s in seconds.items()}
    return result


def with_untreated(yearly: pd.DataFrame, twin_yearly: pd.DataFrame, gross: pd.DataFrame) -> pd.DataFrame:
    """The yearly table with the twin world's totals and what membership made, net and gross.

    Args:
        yearly: The factual yearly table.
        twin_yearly: The twin's, where members got nothing from membership (:mod:`sim.twin`).
        gross: :meth:`sim.twin.TwinModel.gross_table`: the treated firms' own gains, by year.

    Returns:
        ``yearly`` plus ``untreated_employment``, ``untreated_value_added_nok``, ``treatment_jobs``
        and ``treatment_value_added_nok`` (the whole economy minus its twin: net of what the treated
        firms took from the others), and ``treatment_jobs_gross`` and
        ``treatment_value_added_gross_nok`` (the members' and the cluster-caused firms' own gains).
    """
    employment, va = twin_yearly["employment"].to_numpy(), twin_yearly["value_added_nok"].to_numpy()
    gross = yearly[["year"]].merge(gross, on="year", how="left", validate="one_to_one")
    return yearly.assign(
        untreated_employment=employment,
        untreated_value_added_nok=va,
        treatment_jobs=yearly["employment"].to_numpy() - employment,
        treatment_value_added_nok=yearly["value_added_nok"].to_numpy() - va,
        treatment_jobs_gross=gross["treatment_jobs_gross"].to_numpy(),
        treatment_value_added_gross_nok=gross["treatment_value_added_gross_nok"].to_numpy(),
    )


def summarise(scenario: Scenario, seed: int, yearly: pd.DataFrame, wall_time_s: float,
              effect_tables: dict[str, pd.DataFrame] | None = None) -> dict:
    """Scenario, seed, versions, wall time and headline figures (full-scale units).

    Args:
        scenario: The scenario run.
        seed: Its seed.
        yearly: The yearly table.
        wall_time_s: Seconds the run took.
        effect_tables: The measured membership effects, if any (:func:`sim.output.result.effect_headline`).

    Returns:
        A JSON-able dictionary.
    """
    first, last = yearly.iloc[0], yearly.iloc[-1]
    years = last["year"] - first["year"]
    headline = {
        "firms_end": int(last["firms"]),
        "employment_end": float(last["employment"]),
        "value_added_end_nok": float(last["value_added_nok"]),
        "employment_growth_pct_per_year": float(
            100 * np.expm1(np.log(last["employment"] / first["employment"]) / max(years, 1))),
        "programme_spend_total_nok": float(yearly["programme_spend_nok"].sum()),
    }
    for y in HEADLINE_YEARS:
        row = yearly[yearly["year"] == y]
        if len(row):
            headline[f"clusters_{y}"] = int(row["clusters"].iloc[0])
            headline[f"members_{y}"] = int(row["members"].iloc[0])
            if "treatment_jobs" in row:
                headline[f"treatment_jobs_{y}"] = float(row["treatment_jobs"].iloc[0])
    if "treatment_jobs" in yearly:
        headline["treatment_jobs_end"] = float(last["treatment_jobs"])
    if effect_tables is not None:
        headline |= effect_headline(effect_tables)
    return {
        "scenario": scenario.scenario.name,
        "seed": seed,
        "scale": scenario.population.scale,
        "years": [int(first["year"]), int(last["year"])],
        "versions": ({pkg: version(pkg) for pkg in ("nic-sim", "mesa", "numpy", "pandas")}
                     | {"python": platform.python_version()}),
        "wall_time_s": round(wall_time_s, 3),
        "headline": headline,
    }
