"""Calibration by the method of simulated moments, with optuna.

``calibration/parameters.toml`` declares the parameters to fit (keys, ranges, sources), the
scenario, the seeds and the settings held in every trial (:func:`load_calibration` reads it into
a :class:`~sim.calibration.spec.Calibration`); ``calibration/targets.toml`` the moments
(:mod:`sim.calibration.targets`). A trial simulates the scenario with its parameter values on every
seed (the same seeds in every trial: common random numbers), applies the published estimator to
each run and scores the seed means: the sum over calibrated targets of the squared distance in
tolerances (a diagonal weighting matrix). optuna's TPE sampler proposes the trials.

The study is stored in the results database (optuna's own tables beside ours), with the trial's
moments as user attributes, so a calibration stopped at any point resumes: finished trials are
kept and trials that were running are marked failed and proposed anew. Runs go to the sweep
executors (:mod:`sim.experiments.executors`): a local process pool or a Dask cluster, one run per core.

:func:`write_calibrated` writes the best values as a partial scenario (``calibrated.toml``) that
the baseline extends; :func:`check` runs the baseline as committed on the check seeds and
:mod:`sim.calibration.report` reports the fit.
"""

from __future__ import annotations

import math
import os
import re
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.calibration.spec import (
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
from sim.experiments.sweep import NAME_PATTERN, flatten, scenario_for, seed_int
from sim.scenario.errors import ScenarioError, short_toml
from sim.scenario.files import extends_chain, load_scenario, read_toml
from sim.scenario.schema import Scenario
from sim.scenario.validation import validate_table

TARGETS_FILE = "targets.toml"
MEANS_ATTR, SEEDS_ATTR, ERROR_ATTR = "means", "per_seed", "error"
FINGERPRINT_ATTR = "fingerprint"


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
        The set-up, with every parameter checked at both ends of its range.

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
    seeds = tuple(seed_int(s) for s in np.random.SeedSequence(meta.seed).spawn(meta.seeds))
    calibration = Calibration(
        source=path, scenario_path=scenario_path, study=study or meta.study, trials=meta.trials, seeds=seeds,
        sampler_seed=meta.seed, startup_trials=meta.startup_trials, base=base.model_dump(),
        parameters=parameters, targets=tuple(load_targets(path.parent / TARGETS_FILE)),
        output=path.parent / meta.output, report=path.parent / meta.report,
        check_seeds=tuple(range(check.seeds)), check_fixed=flatten(check.fixed, _leaf),
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
    """Every parameter must give a valid scenario at both ends of its range.

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


# --- the study -------------------------------------------------------------------------------

def open_study(c: Calibration, db_url: str | None) -> Any:
    """The calibration's optuna study in the results database, created if new.

    Args:
        c: The set-up.
        db_url: Results database URL (``None``: the default SQLite file).

    Returns:
        The ``optuna.Study``.

    Raises:
        ScenarioError: A study of that name exists with another set-up.
        StoreError: The database cannot be opened.
    """
    import optuna

    from sim.output.store import engine_for

    engine = engine_for(db_url)  # creates the folder of a SQLite file and checks the URL
    url = engine.url.render_as_string(hide_password=False)
    engine.dispose()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    sampler = optuna.samplers.TPESampler(seed=c.sampler_seed, n_startup_trials=c.startup_trials,
                                         multivariate=True, constant_liar=True)
    study = optuna.create_study(storage=optuna.storages.RDBStorage(url), study_name=c.study,
                                sampler=sampler, direction="minimize", load_if_exists=True)
    stored = study.user_attrs.get(FINGERPRINT_ATTR)
    if stored is None:
        study.set_user_attr(FINGERPRINT_ATTR, c.fingerprint())
    elif stored != c.fingerprint():
        raise ScenarioError(str(c.source), "calibration.study",
                            f"study '{c.study}' exists with another set-up (scenario, parameters, seeds or "
                            "targets); name a new one with --study or in the file")
    return study


def distributions(c: Calibration) -> dict[str, Any]:
    """The optuna distributions of the parameters.

    Args:
        c: The set-up.

    Returns:
        Parameter name -> distribution over its range.
    """
    from optuna.distributions import FloatDistribution

    return {name: FloatDistribution(p.low, p.high, log=p.log) for name, p in c.parameters.items()}


@dataclass
class CalibrationReport:
    """What one ``calibrate`` session did.

    Attributes:
        trials_done: Finished trials now in the study.
        trials_run: Trials finished in this session.
        trials_failed: Trials that failed in this session.
        wall_time_s: Seconds this session spent on trials.
        best: The best trial's parameter values.
        best_objective: Its objective.
    """

    trials_done: int = 0
    trials_run: int = 0
    trials_failed: int = 0
    wall_time_s: float = 0.0
    best: dict[str, float] = field(default_factory=dict)
    best_objective: float = math.nan


def optimise(c: Calibration, executor: Any, db_url: str | None, trials: int | None = None,
             progress: bool = True) -> CalibrationReport:
    """Run trials until the study holds ``trials`` finished ones (resuming a stopped study).

    Args:
        c: The set-up.
        executor: A :class:`~sim.experiments.executors.LocalPool` or ``DaskPool``.
        db_url: Results database URL (``None``: the default SQLite file).
        trials: Finished trials wanted (default ``c.trials``).
        progress: Show a progress bar with the best objective so far.

    Returns:
        What this session did.
    """
    from optuna.trial import TrialState
    from tqdm import tqdm

    study = open_study(c, db_url)
    for stale in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(stale.number, state=TrialState.FAIL)  # left by a stopped session
    report = CalibrationReport()
    wanted = trials or c.trials
    done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    started = time.perf_counter()
    pending: dict[int, tuple[Any, dict[int, Outcome]]] = {}
    with tqdm(total=wanted, initial=min(done, wanted), desc=f"calibrate {c.study}", unit="trial",
              disable=not progress, dynamic_ncols=True) as bar:
        for outcome in executor.map(_tasks(c, study, max(wanted - done, 0), pending)):
            number, replication = (int(part) for part in outcome.run_id.split("/")[-2:])
            trial, outcomes = pending[number]
            outcomes[replication] = outcome
            if len(outcomes) < len(c.seeds):
                continue
            del pending[number]
            ok = _finish(c, study, trial, outcomes)
            if ok and not report.trials_run:
                _check_measured(c, outcomes[0])
            report.trials_run += ok
            report.trials_failed += not ok
            bar.update(ok)
            if ok:
                bar.set_postfix(best=f"{study.best_value:.3g}", refresh=False)
    report.wall_time_s = time.perf_counter() - started
    report.trials_done = len(study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
    if report.trials_done:
        report.best, report.best_objective = dict(study.best_params), float(study.best_value)
    return report


def _tasks(c: Calibration, study: Any, n: int, pending: dict) -> Iterator[Task]:
    """Ask a trial whenever the executor wants work, and hand out its runs."""
    space = distributions(c)
    for _ in range(n):
        trial = study.ask(space)
        pending[trial.number] = (trial, {})
        overrides = c.overrides(trial.params)
        for replication, seed in enumerate(c.seeds):
            yield Task(f"{c.study}/{trial.number}/{replication}", c.base, overrides, seed)


def _finish(c: Calibration, study: Any, trial: Any, outcomes: dict[int, Outcome]) -> bool:
    """Score a trial whose runs are all back; a failed run fails the trial."""
    from optuna.trial import TrialState

    failed = [o for o in outcomes.values() if not o.ok]
    if failed:
        trial.set_user_attr(ERROR_ATTR, failed[0].error)
        study.tell(trial, state=TrialState.FAIL)
        return False
    per_seed = seed_inputs(c.targets, [outcomes[r] for r in sorted(outcomes)])
    means = per_seed.mean().to_dict()
    value = sum(t.loss(t.reduce(means)) for t in c.objective_targets)
    trial.set_user_attr(MEANS_ATTR, means)
    trial.set_user_attr(SEEDS_ATTR, per_seed.to_dict("list"))
    study.tell(trial, value)
    return True


def _check_measured(c: Calibration, outcome: Outcome) -> None:
    """Stop after the first trial if a target reads what the runs do not have (a misspelt column)."""
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


def trials_table(study: Any, c: Calibration) -> pd.DataFrame:
    """Finished trials: number, objective, parameter values, target statistics, timings.

    Args:
        study: The calibration's optuna study.
        c: The set-up.

    Returns:
        One row per finished trial, by trial number (empty if none finished).
    """
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)):
        means = t.user_attrs.get(MEANS_ATTR, {})
        row = {"trial": t.number, "objective": t.value, **t.params}
        row |= {target.name: target.reduce(means) for target in c.targets if c.measured_here(target)}
        row |= {k: v for k, v in means.items() if k.startswith(("true_", "selection_share_"))}
        row |= {"started": t.datetime_start, "finished": t.datetime_complete}
        rows.append(row)
    return pd.DataFrame(rows).sort_values("trial").reset_index(drop=True) if rows else pd.DataFrame()


# --- results ---------------------------------------------------------------------------------

def write_calibrated(c: Calibration, values: dict[str, float], note: list[str], path: Path | None = None) -> Path:
    """Write the fitted values as a partial scenario: the one the baseline extends, or another file.

    Args:
        c: The set-up.
        values: Parameter name -> fitted value.
        note: Lines for the file's header comment (study, objective, date).
        path: Where to write instead of ``c.output`` (the committed file the baseline extends); the
            baseline then keeps its values until the file is applied (``run.py calibrate --apply``).

    Returns:
        The file written.
    """
    import tomli_w

    nested: dict[str, Any] = {}
    for key, value in c.overrides(values).items():
        node, leaf = parent_table(nested, key, create=True)
        node[leaf] = float(f"{value:.6g}")
    header = ["# Fitted by `python run.py calibrate` (sim/calibration/fit.py); do not edit by hand:",
              "# change calibration/parameters.toml or calibration/targets.toml and calibrate again.",
              *(f"# {line}" for line in note), "#", "# Parameter values (the scenario keys they set follow):",
              *(f"#   {name} = {values[name]:.6g}" for name in c.parameters), ""]
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


# The economy's totals whose path the fit report sets against Norway's (columns of yearly.csv).
TOTALS = ("employment", "value_added_nok")


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

