"""Comparing two scenarios with common random numbers, keeping every run.

Both scenarios run with the same seeds, so each seed gives a pair of worlds with the same firms
and the same luck (see :mod:`sim.engine.randomness`); the difference within a pair is the policy's
effect plus little noise, and the spread of the differences over seeds gives the interval.

Over a calibration's posterior (``compare --posterior N``) the comparison runs N parameter sets
(:class:`Draw`): each draw's values of the fitted keys are set in both scenarios
(:func:`with_draw`), and draw ``j`` runs on seeds ``jK .. jK+K-1`` for ``K`` seeds, so that every run
of a side has a seed of its own and A and B share it. The draws are an equally weighted sample of
the weighted posterior (:func:`systematic_resample`).

Runs go to a local process pool (:class:`~sim.experiments.executors.LocalPool`), each worker writing
its run folder whole or not at all. A run that fails loses no other: the comparison stays in
``<folder>.partial`` with every finished run, and the same command (with the same ``--out``) runs
only the missing ones (:func:`comparison_folder`).

A comparison is a folder that ``run.py report`` reads::

    compare.json           what was compared: files, names, seeds, years, discount rate, assumptions,
                           the uncertainty its intervals hold, and the posterior's draws if any
    answers.csv            the policy answers (:mod:`sim.output.answers`)
    yearly_difference.csv  B - A year by year with intervals
    ablation.csv           with --ablate: the difference with each assumption switched off
    draws.csv, membership_effects.csv   with --posterior: the draws, each scenario's membership effect
    paths.png, difference.png, ablation.png
    a/<run id>/, b/<run id>/   every run's folder (yearly.csv, clusters.csv, effects.csv, ...)
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from sim.experiments.executors import Outcome, Task
from sim.experiments.sweep import flatten, scenario_for
from sim.output.answers import DISCOUNT_RATE, answers
from sim.output.assumptions import Assumption, switch_text
from sim.output.result import (
    PARTIAL_SUFFIX,
    RUN_ID,
    finish_run_folder,
    new_run_id,
    open_run_folder,
    partial_path,
    path_error,
    write_outputs,
)
from sim.runner import run
from sim.scenario.schema import Scenario

DIFFERENCE_COLUMNS = ["employment", "value_added_nok", "members", "clusters", "programme_spend_nok",
                      "lever_spend_nok"]
ABLATION_OUTCOMES = ("man_years_total", "value_added_total_nok", "public_cost_nok")
CSV_FLOAT = "%.4f"  # no scientific notation in files people open
SIDES = ("a", "b")
PLAN_FILE = "plan.json"  # in a comparison's .partial folder: which comparison its finished runs belong to
RESAMPLE_SEED = 17  # the posterior's draws: the same N always gives the same draws


@dataclass(frozen=True)
class Draw:
    """One parameter set under which both scenarios run, on seeds of its own.

    Attributes:
        number: The draw (0 for a comparison at the committed parameters).
        a: Scenario A with the draw's parameters.
        b: Scenario B with them.
        seeds: The seeds both run on.
    """

    number: int
    a: Scenario
    b: Scenario
    seeds: tuple[int, ...]


class RunsFailed(RuntimeError):
    """Runs failed; the finished ones are kept for the same command to continue. ``str()`` is one line."""


def lean(scenario: Scenario, effects: bool = True) -> Scenario:
    """The scenario without what a comparison does not read: the firm panel, the run's own plots.

    Args:
        scenario: The scenario.
        effects: Keep the effect measurement (and so its twin world) when the scenario asks for it.

    Returns:
        The lighter scenario; the same firms and luck.
    """
    update: dict[str, Any] = {"output": scenario.output.model_copy(update={"firm_panel": False, "plots": False})}
    if not effects:
        update["measurement"] = scenario.measurement.model_copy(update={"effects": False})
    return scenario.model_copy(update=update)


# --- the posterior's draws -----------------------------------------------------------------------

def systematic_resample(weights: np.ndarray, n: int, seed: int = RESAMPLE_SEED) -> np.ndarray:
    """An equally weighted sample of ``n`` rows from weighted draws, by systematic resampling.

    One uniform number places ``n`` evenly spaced points on the weights' cumulative sum: a row of
    weight ``w`` is taken ``n w`` times, rounded up or down, so the sample follows the weights more
    closely than ``n`` independent picks would.

    Args:
        weights: The draws' weights (any scale, at least one above 0).
        n: How many rows to take.
        seed: Seed of the uniform number (fixed: the same ``n`` gives the same rows).

    Returns:
        ``n`` row numbers, ascending (a heavy row may appear more than once).
    """
    w = np.asarray(weights, dtype=float)
    cumulative = np.cumsum(w) / w.sum()
    points = (np.random.default_rng(seed).random() + np.arange(n)) / n
    return np.minimum(np.searchsorted(cumulative, points, side="right"), len(w) - 1)


def with_draw(scenario: Scenario, values: dict[str, float], committed: dict[str, float],
              source: str) -> tuple[Scenario, dict[str, float]]:
    """The scenario with a posterior draw's values of the fitted keys.

    A key the scenario holds at its committed (calibrated) value takes the draw's value. A key the
    scenario changes (a what-if of that parameter, or ``--set``) keeps its change as a ratio to the
    committed value, so that the what-if is the same change under every draw; one committed at 0
    keeps the scenario's value.

    Args:
        scenario: The scenario.
        values: Dotted key -> the draw's value (as the calibration sets it).
        committed: Dotted key -> its value in the committed calibration.
        source: Name used in error messages.

    Returns:
        The validated scenario, and key -> ratio kept for the keys the scenario changes.

    Raises:
        ScenarioError: A value is not allowed.
    """
    data = scenario.model_dump()
    own = flatten(data, lambda v: not isinstance(v, dict))
    overrides, kept = {}, {}
    for key, value in values.items():
        if np.isclose(own[key], committed[key], rtol=1e-9, atol=0.0):
            overrides[key] = value
        elif committed[key] != 0:
            kept[key] = own[key] / committed[key]
            overrides[key] = value * kept[key]
    return scenario_for(data, overrides, source), kept


def draw_of(draws: list[Draw]) -> dict[int, int]:
    """Seed -> the draw it ran.

    Args:
        draws: The comparison's draws.

    Returns:
        The map.
    """
    return {seed: d.number for d in draws for seed in d.seeds}


# --- running and keeping the runs --------------------------------------------------------------

def fingerprint(draws: list[Draw]) -> str:
    """What makes two comparisons the same runs: every draw's scenarios and seeds.

    Args:
        draws: The comparison's draws.

    Returns:
        A hash.
    """
    text = json.dumps([(d.number, list(d.seeds), d.a.model_dump(mode="json"), d.b.model_dump(mode="json"))
                       for d in draws], sort_keys=True, default=str)
    return hashlib.sha256(text.encode()).hexdigest()


@contextmanager
def comparison_folder(out: Path, force: bool, plan: str) -> Iterator[Path]:
    """The folder a comparison writes into: ``<out>.partial``, new or left by the same comparison.

    A ``.partial`` folder whose plan is ``plan`` is continued (its finished runs are kept); any
    other is refused as :func:`~sim.output.result.open_run_folder` refuses it (``force`` replaces it).
    On success the folder becomes ``out``. When runs failed or the user interrupted, it stays with
    its finished runs, for the same command to continue; on any other error it is removed.

    Args:
        out: The comparison folder.
        force: Replace a non-empty ``out`` and a ``.partial`` of another comparison.
        plan: The comparison's :func:`fingerprint`.

    Yields:
        The ``.partial`` folder.

    Raises:
        ScenarioError: ``out`` cannot be used (see ``open_run_folder``).
        OutputError: A file could not be written.
    """
    partial = partial_path(out)
    marker = partial / PLAN_FILE
    if force or not marker.is_file() or marker.read_text(encoding="utf-8") != plan:
        partial = open_run_folder(out, force)
        marker.write_text(plan, encoding="utf-8")
    try:
        yield partial
    except (RunsFailed, KeyboardInterrupt):
        raise
    except OSError as exc:
        shutil.rmtree(partial, ignore_errors=True)
        raise path_error(exc, Path(exc.filename or partial), "cannot write the comparison") from None
    except BaseException:
        shutil.rmtree(partial, ignore_errors=True)
        raise
    marker.unlink()
    finish_run_folder(partial, out, force)


def finished_seeds(folder: Path) -> set[int]:
    """Seeds of the run folders finished in a side's folder; folders left half-written are removed.

    Args:
        folder: ``<comparison>/a`` or ``/b``.

    Returns:
        The seeds.
    """
    seeds = set()
    for path in sorted(folder.iterdir()) if folder.is_dir() else []:
        if path.name.endswith(PARTIAL_SUFFIX):
            shutil.rmtree(path, ignore_errors=True)
        elif (match := RUN_ID.match(path.name)) and (path / "summary.json").is_file():
            seeds.add(int(match.group(2)))
    return seeds


def run_draws(draws: list[Draw], folder: Path, pool: Any, progress: Callable[[], None] | None = None) -> int:
    """Run both scenarios of every draw on its seeds into ``folder/a`` and ``folder/b``.

    Runs already finished there (a comparison continued) are not run again.

    Args:
        draws: The draws.
        folder: The comparison's folder (being written).
        pool: An executor whose runner is :func:`run_and_keep` (a :class:`~sim.experiments.executors.LocalPool`).
        progress: Called once per run, finished now or before.

    Returns:
        How many runs were made now.

    Raises:
        RunsFailed: A run failed (the others are finished and kept).
    """
    done, now, tasks = {}, datetime.now(UTC), []
    for side in SIDES:
        (folder / side).mkdir(exist_ok=True)
        done[side] = finished_seeds(folder / side)
    for d in draws:
        for seed in d.seeds:
            for side, scenario in zip(SIDES, (d.a, d.b), strict=True):
                if seed not in done[side]:
                    tasks.append(Task(str(folder / side / new_run_id(now, seed)), scenario.model_dump(), {}, seed))
                elif progress:
                    progress()
    failures = []
    for outcome in pool.map(tasks):
        if not outcome.ok:
            failures.append(outcome)
        if progress:
            progress()
    if failures:
        first = Path(failures[0].run_id)
        total = 2 * sum(len(d.seeds) for d in draws)
        out = folder.with_name(folder.name.removesuffix(PARTIAL_SUFFIX))
        raise RunsFailed(f"{len(failures)} of {total} runs failed (first: {first.parent.name}/{first.name}: "
                         f"{failures[0].error}); the {total - len(failures)} finished runs are kept in {folder}: "
                         f"run the same command with --out {out} to make only the missing ones")
    return len(tasks)


def run_and_keep(task: Task) -> Outcome:
    """A worker's job: run a task and write its run folder, whole or not at all.

    Args:
        task: The run; its ``run_id`` is the run folder's path.

    Returns:
        The outcome with the run's summary (its tables are in the folder).
    """
    result = run(scenario_for(task.base, task.overrides, task.run_id), seed=task.seed)
    folder = Path(task.run_id)
    partial = partial_path(folder)
    write_outputs(result, partial, with_plots=False)
    os.rename(partial, folder)
    return Outcome(task.run_id, summary=result.summary)


# --- ablation ------------------------------------------------------------------------------------

def ablate(a: Scenario, b: Scenario, switches: list[dict[str, Any]], seeds: list[int], since: int,
           pool: Any, progress: Callable[[], None] | None = None) -> pd.DataFrame:
    """B - A again with each assumption switched off in both scenarios, on the same seeds.

    Switched off in both, so that each pair still differs only by the policy: what is left of the
    difference is what the policy does without that assumption.

    Args:
        a: The reference (lean: no effects are measured here).
        b: The alternative.
        switches: Overrides that switch one assumption off each.
        seeds: The comparison's seeds.
        since: First year counted.
        pool: An executor running :func:`~sim.experiments.tasks.execute` (runs are not kept).
        progress: Called once per finished run.

    Returns:
        One row per switch and outcome: ``switched_off, outcome, difference, low, high, seeds, interval``.

    Raises:
        RunsFailed: A run failed.
    """
    rows = []
    for switch in switches:
        tasks = [Task(f"{side}/{seed}", scenario.model_dump(), switch, seed)
                 for seed in seeds for side, scenario in zip(SIDES, (a, b), strict=True)]
        yearly: dict[str, list[pd.DataFrame]] = {side: [] for side in SIDES}
        for outcome in pool.map(tasks):
            if not outcome.ok:
                raise RunsFailed(f"ablation run {outcome.run_id} without {switch_text(switch)} failed: {outcome.error}")
            side, seed = outcome.run_id.split("/")
            yearly[side].append(outcome.yearly.assign(seed=int(seed)))
            if progress:
                progress()
        table = answers(*(pd.concat(yearly[side], ignore_index=True) for side in SIDES), since).set_index("metric")
        for name in ABLATION_OUTCOMES:
            r = table.loc[name]
            rows.append((switch_text(switch), name, r["difference"], r["low"], r["high"], r["seeds"], r["interval"]))
    return pd.DataFrame(rows, columns=["switched_off", "outcome", "difference", "low", "high", "seeds", "interval"])


def carried(full: pd.DataFrame, ablation: pd.DataFrame) -> pd.DataFrame:
    """How much of the difference each assumption carries: the full difference minus the one without it.

    Args:
        full: The answers (:func:`sim.output.answers.answers`).
        ablation: From :func:`ablate`.

    Returns:
        ``ablation`` with ``full_difference``, ``carried`` and ``carried_share`` (of the full difference).
    """
    whole = full.set_index("metric")["difference"]
    out = ablation.assign(full_difference=ablation["outcome"].map(whole))
    out["carried"] = out["full_difference"] - out["difference"]
    out["carried_share"] = out["carried"] / out["full_difference"].where(out["full_difference"] != 0)
    return out


# --- the comparison folder -------------------------------------------------------------------------

def write(folder: Path, meta: dict, tables: dict[str, pd.DataFrame], figures: dict[str, Any]) -> list[Path]:
    """Write the comparison's description, tables (CSV) and plots (PNG) into ``folder``.

    Args:
        folder: The comparison folder (being written: its ``.partial`` form).
        meta: What was compared (``compare.json``).
        tables: File stem -> table.
        figures: File stem -> matplotlib figure.

    Returns:
        The files written.
    """
    written = [folder / "compare.json"]
    written[0].write_text(json.dumps(meta, indent=2, ensure_ascii=False, default=str) + "\n", encoding="utf-8")
    for stem, table in tables.items():
        path = folder / f"{stem}.csv"
        table.to_csv(path, index=False, float_format=CSV_FLOAT, lineterminator="\n")
        written.append(path)
    for stem, fig in figures.items():
        path = folder / f"{stem}.png"
        fig.savefig(path, format="png")
        written.append(path)
    return written


def describe(args_a: str, args_b: str, a: Scenario, b: Scenario, seeds: list[int], since: int,
             overrides: list[str], found: list[Assumption], uncertainty: str,
             posterior: dict | None = None) -> dict:
    """``compare.json``: what was compared, so that ``report`` and a reader can tell.

    Args:
        args_a: File of A as given.
        args_b: File of B as given.
        a: Scenario A.
        b: Scenario B.
        seeds: The seeds (every draw's, in a comparison over a posterior).
        since: First year counted.
        overrides: ``--set`` values applied to both.
        found: The assumptions the answers depend on.
        uncertainty: What the intervals hold, in words.
        posterior: The posterior's file, its draws and the keys they set (``--posterior``), or None.

    Returns:
        The description.
    """
    return {
        "a": {"file": args_a, "name": a.scenario.name}, "b": {"file": args_b, "name": b.scenario.name},
        "seeds": seeds, "since": since, "end": min(a.scenario.end_year, b.scenario.end_year),
        "discount_rate": DISCOUNT_RATE, "overrides": overrides, "uncertainty": uncertainty,
        "assumptions": [{"key": x.key, "values": list(x.values), "source": x.source, "switch": switch_text(x.switch)}
                        for x in found],
        **({"posterior": posterior} if posterior is not None else {}),
    }

