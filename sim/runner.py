"""Running a scenario from start to end: ``sim.run(scenario, seed)``."""

from __future__ import annotations

import functools
import platform
import time
from collections.abc import Callable
from importlib.metadata import version
from pathlib import Path

import mesa
import numpy as np
import pandas as pd
from tqdm import tqdm

from sim.model import ClusterModel
from sim.observe.discontinuity import call_applicants
from sim.output.early import EarlyFiles, timed_dynamics
from sim.output.result import HEADLINE_YEARS, RunResult, effect_headline
from sim.scenario.schema import Scenario
from sim.twin import TwinModel, TwinProcess, twin_outcome


def run(scenario: Scenario, seed: int = 0, progress: bool = False,
        on_year: Callable[[ClusterModel], None] | None = None, twin_process: bool = False,
        out: Path | None = None) -> RunResult:
    """Simulate a scenario for all its years.

    Args:
        scenario: A validated scenario (``sim.load_scenario``).
        seed: Seed of all random streams; the same scenario and seed give identical results.
        progress: Show a progress bar on stderr.
        on_year: Called with the model after each simulated year.
        twin_process: Step the twin world in a second process, beside the factual one
            (:class:`sim.twin.TwinProcess`; where the platform can fork): the same results on two
            cores. Runs that share the cores with others (sweeps, calibration) keep it in theirs.
        out: A run folder (it exists) to write the files that need no measurement into, in a second
            process while the effects are measured (:class:`sim.output.early.EarlyFiles`, where the
            platform can fork); :func:`sim.output.result.write_outputs` then writes the rest.

    Returns:
        The yearly, cluster and firm-panel tables and a summary.
    """
    started = time.perf_counter()
    measurement = scenario.measurement
    model = ClusterModel(scenario, rng=seed, keep_panel=scenario.output.firm_panel or measurement.effects)
    twin: TwinModel | TwinProcess | None = None
    if measurement.effects and measurement.twin:
        twin = TwinProcess(model) if twin_process and TwinProcess.available() else TwinModel(model)
    try:
        return _run(scenario, seed, model, twin, started, progress, on_year, out)
    finally:
        if isinstance(twin, TwinProcess):
            twin.close()


def _run(scenario: Scenario, seed: int, model: ClusterModel, twin: TwinModel | TwinProcess | None, started: float,
         progress: bool, on_year: Callable[[ClusterModel], None] | None, out: Path | None) -> RunResult:
    """:func:`run` once its model and twin are made: the years, the tables, the measurement, the result."""
    measurement = scenario.measurement
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
    if isinstance(twin, TwinProcess):
        twin.end()  # it makes its tables while the factual ones are made here
    yearly = model.register.yearly()
    panel = model.register.firms(model.region_names, model.sector_names)
    clusters = model.register.clusters(model)
    applicants = call_applicants(model.calls, model.region_names, model.sector_names)
    seconds = dict(model.phase_seconds)
    untreated = None
    if twin is not None:
        untreated = twin.outcome() if isinstance(twin, TwinProcess) else twin_outcome(twin)
        seconds["twin"] = untreated.seconds
        yearly = with_untreated(yearly, untreated.yearly, untreated.gross)
    kept = panel if scenario.output.firm_panel else None
    early = EarlyFiles.start(out, yearly, kept, scenario.population.scale, scenario.programme.history_until,
                             scenario.output.plots) if out is not None else None
    try:
        effects = None
        if measurement.effects:
            from sim.observe.estimator import measure  # scikit-learn takes a second to load

            measuring = time.perf_counter()
            effects = measure(panel, clusters, measurement, seed, untreated.panel if untreated else None, applicants)
            seconds["measurement"] = time.perf_counter() - measuring
        dynamics, took = early.result() if early is not None else timed_dynamics(kept, scenario.population.scale)
        if dynamics is not None:
            seconds["dynamics"] = took
    finally:
        if early is not None:
            early.close()
    result = RunResult(
        scenario_name=scenario.scenario.name,
        seed=seed,
        yearly=yearly,
        firms=kept,
        clusters=clusters,
        summary={},
        scenario_toml=scenario.to_toml(),
        effect_tables=effects.tables() if effects is not None else None,
        clusters_yearly=model.register.clusters_yearly(clusters),
        regions_yearly=model.register.regions_yearly(model.region_names),
        firm_dynamics=dynamics,
        history_until=scenario.programme.history_until,
        call_applicants=applicants,
        written=tuple(out / name for name in early.names) if early is not None else (),
    )
    result.summary = summarise(scenario, seed, yearly, time.perf_counter() - started, result.effect_tables)
    result.summary["phase_seconds"] = {name: round(s, 4) for name, s in seconds.items()}
    return result


@functools.cache
def versions() -> dict[str, str]:
    """The versions a run's summary records (read once).

    The libraries' own ``__version__`` (their packages' versions): looking each package's metadata up
    on the path took several milliseconds of a small run; only nic-sim's is read from its metadata.
    """
    return {"nic-sim": version("nic-sim"), "mesa": mesa.__version__, "numpy": np.__version__,
            "pandas": pd.__version__, "python": platform.python_version()}


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
        "versions": dict(versions()),
        "wall_time_s": round(wall_time_s, 3),
        "headline": headline,
    }
