"""The calibration's set-up, the fitted values the baseline uses, and the check of the baseline.

``calibration/parameters.toml`` declares the parameters to fit (their keys, priors and sources),
the scenario, the seed, the budget and the settings held in every run (:func:`load_calibration`
reads it into a :class:`~sim.calibration.spec.Calibration`); ``calibration/targets.toml`` the
observed figures (:mod:`sim.calibration.targets`). The posterior itself is found by ABC-SMC
(:mod:`sim.calibration.posterior`).

:func:`write_calibrated` writes one parameter set (the posterior's central draw) as a partial
scenario (``calibrated.toml``) that the baseline extends; :func:`check` runs the baseline as
committed on the check seeds and :mod:`sim.calibration.report` reports the fit.
"""

from __future__ import annotations

import dataclasses
import math
import os
import re
import time
from collections.abc import Iterable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.spec import (
    Budget,
    Calibration,
    CalibrationTable,
    CheckTable,
    FitParameter,
    default_value,
    parent_table,
    value_at,
)
from sim.calibration.targets import Target, inputs_of, load_targets, observe
from sim.experiments.executors import Outcome, Task
from sim.experiments.sweep import NAME_PATTERN, flatten, scenario_for
from sim.scenario.errors import ScenarioError, short_toml
from sim.scenario.files import extends_chain, load_scenario, read_toml
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate_table

TARGETS_FILE = "targets.toml"


def committed_values(c: Calibration) -> dict[str, float]:
    """The parameter values the fitted scenario holds now (read back through each one's first key).

    Args:
        c: The set-up.

    Returns:
        Parameter name -> value.
    """
    scenario = load_scenario(c.scenario_path).model_dump()
    return {name: value_at(scenario, p.keys[0]) / (default_value(p.keys[0]) if p.factor else 1.0)
            for name, p in c.parameters.items()}


def load_calibration(path: str | Path, study: str | None = None) -> Calibration:
    """Read and validate a calibration file and the targets beside it.

    Args:
        path: ``calibration/parameters.toml``.
        study: Another study name than the file's.

    Returns:
        The set-up, with every prior checked and every parameter's scenario checked at both ends of its
        prior's support.

    Raises:
        ScenarioError: The first problem, as one line naming the file and the key.
    """
    path = Path(path)
    source = str(path)
    data = read_toml(path, source)
    for key in data:
        if key not in ("calibration", "check", "parameters"):
            raise ScenarioError(source, key, "unknown table; allowed: calibration, check, parameters")
    meta = validate_table(CalibrationTable, data.get("calibration"), source, "calibration")
    check = validate_table(CheckTable, data.get("check", {}), source, "check")
    if study is not None and not re.fullmatch(NAME_PATTERN, study):
        raise ScenarioError("--study", "", f"must be 1-100 letters, digits, '_', '.' or '-', got {short_toml(study)}")
    scenario_path = (path.parent / meta.scenario).resolve()
    if not scenario_path.is_file():
        raise ScenarioError(source, "calibration.scenario", f"scenario not found: {meta.scenario}")
    base = _with_fixed(scenario_path, meta.fixed, source, "calibration.fixed")
    _with_fixed(scenario_path, check.fixed, source, "check.fixed")
    tables = data.get("parameters")
    if not isinstance(tables, dict) or not tables:
        raise ScenarioError(source, "parameters", "needs at least one [parameters.<name>] table")
    parameters = {name: validate_table(FitParameter, t, source, f"parameters.{name}") for name, t in tables.items()}
    budget = Budget(meta.population, meta.generations, meta.max_simulations, meta.max_minutes)
    calibration = Calibration(
        source=path, scenario_path=scenario_path, study=study or meta.study, seed=meta.seed, method=meta.method,
        emulator=meta.emulator, budget=budget,
        min_ess=meta.min_ess, sbc=meta.sbc, base=base.model_dump(), parameters=parameters,
        targets=tuple(load_targets(path.parent / TARGETS_FILE)), output=path.parent / meta.output,
        report=path.parent / meta.report, posterior=path.parent / meta.posterior,
        coverage=path.parent / meta.coverage,
        information=path.parent / meta.information, check_seeds=tuple(range(check.seeds)),
        check_fixed=flatten(check.fixed, _leaf),
    )
    _check_ranges(calibration, source)
    _check_targets(calibration, source)
    _check_output(calibration, source, meta.output)
    return calibration


def _check_targets(c: Calibration, source: str) -> None:
    """Something to fit, every target's scenario present, every year inside the runs."""
    targets_file = str(c.source.parent / TARGETS_FILE)
    if not c.objective_targets:
        raise ScenarioError(targets_file, "", f"no target with calibrate = true is measured on "
                                              f"{c.scenario_path.name}: nothing to fit")
    first, last = c.base["scenario"]["start_year"], c.base["scenario"]["end_year"]
    for t in c.targets:
        if t.scenario is not None and not (c.source.parent / t.scenario).is_file():
            raise ScenarioError(targets_file, f"{t.name}.scenario", f"scenario not found: {t.scenario}")
        years = [y for y in t.years() if not first <= y <= last]
        if c.measured_here(t) and years:
            raise ScenarioError(targets_file, f"{t.name}.statistic",
                                f"year {years[0]} is outside the calibration's runs ({first}-{last}; "
                                f"see calibration.fixed in {source})")


def _check_output(c: Calibration, source: str, written: str) -> None:
    """The calibrated file must be one the fitted scenario extends, in a folder that exists."""
    if not c.output.parent.is_dir():
        raise ScenarioError(source, "calibration.output", f"folder not found for {written}")
    if c.output.resolve() not in extends_chain(c.scenario_path):
        relative = os.path.relpath(c.output.resolve(), c.scenario_path.parent)
        raise ScenarioError(source, "calibration.output", f"{c.scenario_path.name} does not extend {written}, so it "
                                                          f"would never use the fitted values; give it [scenario] "
                                                          f"extends = \"{relative}\"")


def _leaf(value: Any) -> bool:
    return not isinstance(value, dict) or not value


def _with_fixed(scenario_path: Path, fixed: dict[str, Any], source: str, where: str) -> Scenario:
    """The scenario with fixed settings; a bad setting is reported against the calibration file."""
    load_scenario(scenario_path)  # the scenario's own errors name the scenario file
    try:
        return load_scenario(scenario_path, flatten(fixed, _leaf))
    except ScenarioError as exc:
        raise ScenarioError(source, f"{where}.{exc.key}" if exc.key else where, exc.message) from None


def _check_ranges(c: Calibration, source: str) -> None:
    """Every parameter must give a valid scenario at both ends of its prior's support.

    Bounds are per key, so each parameter is checked alone, the others at their values in the scenario.
    """
    for name, p in c.parameters.items():
        for end in ("low", "high"):
            try:
                scenario_for(c.base, c.overrides({name: getattr(p, end)}, only=name), source)
            except KeyError as exc:  # a factor's key has no default to multiply
                raise ScenarioError(source, f"parameters.{name}.keys", f"unknown scenario key {exc}") from None
            except ScenarioError as exc:
                where = "keys" if "unknown key" in exc.message else end
                raise ScenarioError(source, f"parameters.{name}.{where}", f"{exc.key}: {exc.message}") from None


def check_measured(c: Calibration, outcome: Outcome) -> None:
    """Stop at the first run if a target reads what the runs do not have (a misspelt column).

    Args:
        c: The set-up.
        outcome: A finished run of the fitted scenario.

    Raises:
        ScenarioError: A target's input is neither a yearly column nor a headline figure.
    """
    headline, columns = outcome.summary["headline"], set(outcome.yearly.columns)
    for t in c.objective_targets:
        for name in t.inputs(headline):
            column = name.removeprefix("yearly.").split("@")[0]
            if (column not in columns) if name.startswith("yearly.") else (name not in headline):
                raise ScenarioError(str(c.source.parent / TARGETS_FILE), f"{t.name}.statistic",
                                    f"the runs have no '{name}' (a column of yearly.csv or a headline figure "
                                    "of summary.json; effects need measurement.effects, the truth the twin)")


def seed_inputs(targets: Iterable[Target], outcomes: list[Outcome]) -> pd.DataFrame:
    """One row per run: every target input plus the effect headline (true effects included).

    Args:
        targets: The targets whose inputs are read.
        outcomes: The runs, in row order.

    Returns:
        One row per run, one column per input or effect figure.
    """
    rows = []
    for o in outcomes:
        headline = o.summary["headline"]
        effect_names = [k for k in headline if k.startswith(("gap_", "true_", "selection_share_", "treatment_jobs_"))]
        names = inputs_of(targets, headline) + effect_names
        rows.append(observe(headline, o.yearly, dict.fromkeys(names)))
    return pd.DataFrame(rows)


# --- results ---------------------------------------------------------------------------------

def write_calibrated(c: Calibration, values: dict[str, float], note: list[str], path: Path | None = None,
                     settings: dict[str, float] | None = None) -> Path:
    """Write the fitted values as a partial scenario: the one the baseline extends, or another file.

    Args:
        c: The set-up.
        values: Parameter name -> fitted value.
        note: Lines for the file's header comment (study, objective, date).
        path: Where to write instead of ``c.output`` (the committed file the baseline extends); the
            baseline then keeps its values until the file is applied (``run.py calibrate --apply``).
        settings: Scenario keys set with the values (value added's level, :func:`value_added_level`).

    Returns:
        The file written.
    """
    import tomli_w

    nested: dict[str, Any] = {}
    for key, value in {**c.overrides(values), **(settings or {})}.items():
        node, leaf = parent_table(nested, key, create=True)
        node[leaf] = float(value)  # exact: the baseline runs the draw itself
    header = ["# Fitted by `python run.py calibrate` (sim/calibration/fit.py); do not edit by hand:",
              "# change calibration/parameters.toml or calibration/targets.toml and calibrate again.",
              *(f"# {line}" for line in note), "#", "# Parameter values (the scenario keys they set follow):",
              *(f"#   {name} = {values[name]:.6g}" for name in c.parameters),
              *(f"# Set with them: {key} = {value:.6g}" for key, value in (settings or {}).items()), ""]
    target = path or c.output
    target.write_text("\n".join(header) + "\n" + tomli_w.dumps(nested), encoding="utf-8", newline="\n")
    if path is not None:
        return target
    held = committed_values(c)
    if any(not math.isclose(held[n], values[n], rel_tol=1e-5, abs_tol=1e-12) for n in values):
        raise ScenarioError(str(c.source), "calibration.output",
                            f"{c.scenario_path.name} does not take its values from {c.output.name}: give it "
                            f"[scenario] extends = \"{c.output.name}\" (a path relative to the scenario)")
    return c.output


def check(c: Calibration, executor: Any, progress: bool = True) -> tuple[pd.DataFrame, float]:
    """Run the fitted scenario as committed (it extends ``calibrated.toml``) on the check seeds.

    Args:
        c: The set-up.
        executor: Where the runs go.
        progress: Show a progress bar.

    Returns:
        The per-seed inputs (one row per seed) and the wall time in seconds.

    Raises:
        RuntimeError: A check run failed (its error).
    """
    from tqdm import tqdm

    base = load_scenario(c.scenario_path, c.check_fixed).model_dump()
    tasks = [Task(f"check/{seed}", base, {}, seed) for seed in c.check_seeds]
    started = time.perf_counter()
    outcomes: dict[str, Outcome] = {}
    for outcome in tqdm(executor.map(tasks), total=len(tasks), desc="check", unit="run", disable=not progress):
        if not outcome.ok:
            raise RuntimeError(f"check run {outcome.run_id} failed: {outcome.error}")
        outcomes[outcome.run_id] = outcome
    ordered = [outcomes[t.run_id] for t in tasks]
    per_seed = pd.concat([seed_inputs(c.targets, ordered), totals_paths(ordered)], axis=1)
    return per_seed.assign(seed=list(c.check_seeds)), time.perf_counter() - started


def calibration_scale(c: Calibration) -> dict[str, Any]:
    """The calibration's population scale as a check setting (``--set`` form)."""
    return {"population.scale": c.base["population"]["scale"]}


# The economy's totals whose path the fit report sets against Norway's (columns of yearly.csv).
TOTALS = ("employment", "value_added_nok")
# Norway's business sector as Statistics Norway measures it: (year, value, source key, what it counts).
OBSERVED_TOTALS: dict[str, list[tuple[int, float, str, str]]] = {
    "employment": [
        (2001, 1_433_819, "SSB-DEM-2001-2005", "employees of the enterprise stock on 1 January (no primary "
                                               "industries or public administration)"),
        (2020, 1_663_059, "SSB-SBS-2021", "persons employed in the business sector's 12 sections of the structural "
                                          "business statistics"),
    ],
    "value_added_nok": [
        (2020, 1_345_671e6, "SSB-SBS-2021", "value added at factor cost in the same 12 sections (no electricity, "
                                            "primary industries, finance, oil and gas extraction)"),
    ],
}
#: The key that scales value added's level (sim/scenario/economy.py); :func:`value_added_level` sets it.
LEVEL_KEY = "population.value_added_level"


def value_added_level(c: Calibration, executor: Any, progress: bool = True) -> tuple[float, float] | None:
    """The level of value added at which the checked values give Norway's value added (``OBSERVED_TOTALS``).

    The level moves no growth rate: every firm's sales and value added per man-year scale with it, and
    only the weight of membership's cost against a firm's value added changes who joins, a little. So one
    proportional step on the check's seeds at the calibration's scale sets it; the full-scale check then
    shows the total it gives.

    Args:
        c: The set-up, its ``check_fixed`` holding the values to check.
        executor: Where the runs go.
        progress: Show a progress bar.

    Returns:
        The level, and the ratio of simulated to observed value added before the step; None when the
        scenario ends before the observed year.
    """
    year, observed = OBSERVED_TOTALS["value_added_nok"][0][:2]
    scenario = load_scenario(c.scenario_path, c.check_fixed)
    if scenario.scenario.end_year < year:
        return None
    small = dataclasses.replace(c, check_fixed={**c.check_fixed, **calibration_scale(c)})
    per_seed, _ = check(small, executor, progress)
    ratio = float(per_seed[f"path.value_added_nok@{year}"].mean()) / observed
    return scenario.population.value_added_level / ratio, ratio


def totals_paths(outcomes: list[Outcome]) -> pd.DataFrame:
    """Each run's yearly totals as columns ``path.<total>@<year>``, one row per run.

    Args:
        outcomes: The check's runs.

    Returns:
        The paths of :data:`TOTALS`, for the fit report's plot of simulated against observed totals.
    """
    return pd.DataFrame([{f"path.{total}@{year}": value for total in TOTALS
                          for year, value in zip(o.yearly["year"], o.yearly[total], strict=True)}
                         for o in outcomes])


def fit_table(c: Calibration, per_seed: pd.DataFrame, resamples: int = 2000, seed: int = 0) -> pd.DataFrame:
    """Target, observed value, simulated mean over seeds and its 95 % interval (bootstrap over seeds).

    Args:
        c: The set-up.
        per_seed: From :func:`check` (one row per seed).
        resamples: Bootstrap resamples of the seeds.
        seed: Seed of the bootstrap.

    Returns:
        One row per target measured on the fitted scenario.
    """
    values = per_seed.drop(columns=["seed"], errors="ignore")
    columns, data = list(values.columns), values.to_numpy(float)
    draws = np.random.default_rng(seed).integers(0, len(data), size=(resamples, len(data)))
    with np.errstate(invalid="ignore"):
        resampled = [dict(zip(columns, row)) for row in np.nanmean(data[draws], axis=1)]
    means = dict(zip(columns, np.nanmean(data, axis=0)))
    rows = []
    for t in c.targets:
        if not c.measured_here(t):
            continue
        mean = t.reduce(means)
        boots = np.array([t.reduce(m) for m in resampled])
        lo, hi = np.nanquantile(boots, [0.025, 0.975]) if np.isfinite(boots).any() else (np.nan, np.nan)
        rows.append({"target": t.name, "statistic": t.statistic, "observed": t.value, "tolerance": t.tolerance,
                     "compare": t.compare, "calibrated": t.calibrate, "simulated": mean, "ci_low": lo,
                     "ci_high": hi, "met": t.met(mean), "source": t.source})
    return pd.DataFrame(rows)


def now_text() -> str:
    """The current UTC time for file headers."""
    return datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")

