"""Comparing two scenarios with common random numbers, keeping every run.

Both scenarios run with the same seeds, so each seed gives a pair of worlds with the same firms
and the same luck (see :mod:`sim.engine.randomness`); the difference within a pair is the policy's
effect plus little noise, and the spread of the differences over seeds gives the interval.

A comparison is a folder that ``run.py report`` reads::

    compare.json           what was compared: files, names, seeds, years, discount rate, assumptions
    answers.csv            the policy answers (:mod:`sim.output.answers`)
    yearly_difference.csv  B - A year by year with intervals
    ablation.csv           with --ablate: the difference with each assumption switched off
    paths.png, difference.png, ablation.png
    a/<run id>/, b/<run id>/   every run's folder (yearly.csv, clusters.csv, effects.csv, ...)
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pandas as pd

from sim.output.answers import DISCOUNT_RATE, answers
from sim.output.assumptions import Assumption, switch_text
from sim.output.result import new_run_id, write_outputs
from sim.runner import run
from sim.scenario.schema import Scenario

DIFFERENCE_COLUMNS = ["employment", "value_added_nok", "members", "clusters", "programme_spend_nok",
                      "lever_spend_nok"]
ABLATION_OUTCOMES = ("man_years_total", "value_added_total_nok", "public_cost_nok")
CSV_FLOAT = "%.4f"  # no scientific notation in files people open


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


def run_pair(a: Scenario, b: Scenario, seeds: list[int], folder: Path | None, workers: int | None = None,
             progress: Callable[[], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run both scenarios for every seed on a process pool; keep each run's folder.

    Args:
        a: The reference scenario (usually the baseline).
        b: The alternative.
        seeds: Seeds shared by both.
        folder: Where the runs go (``a/<run id>/``, ``b/<run id>/``); None keeps no files.
        workers: Processes (default: all cores).
        progress: Called once per finished run.

    Returns:
        The yearly tables of A and of B, each with a ``seed`` column.
    """
    now = datetime.now(UTC)
    jobs = [(label, scn, seed, None if folder is None else folder / label / new_run_id(now, seed))
            for seed in seeds for label, scn in (("a", a), ("b", b))]
    out: dict[str, list[pd.DataFrame]] = {"a": [], "b": []}
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [(label, seed, pool.submit(run_into, scn, seed, where)) for label, scn, seed, where in jobs]
        for label, seed, future in futures:
            out[label].append(future.result().assign(seed=seed))
            if progress:
                progress()
    return pd.concat(out["a"], ignore_index=True), pd.concat(out["b"], ignore_index=True)


def run_into(scenario: Scenario, seed: int, folder: Path | None) -> pd.DataFrame:
    """Run one scenario and seed, write its files into ``folder`` (if given), return its yearly table.

    Args:
        scenario: The scenario.
        seed: The seed.
        folder: The run's folder, or None.

    Returns:
        The yearly table.
    """
    result = run(scenario, seed=seed)
    if folder is not None:
        write_outputs(result, folder, with_plots=False)
    return result.yearly


def ablate(a: Scenario, b: Scenario, switches: list[dict[str, Any]], seeds: list[int], since: int,
           workers: int | None = None, progress: Callable[[], None] | None = None) -> pd.DataFrame:
    """B - A again with each assumption switched off in both scenarios, on the same seeds.

    Switched off in both, so that each pair still differs only by the policy: what is left of the
    difference is what the policy does without that assumption.

    Args:
        a: The reference (lean: no effects are measured here).
        b: The alternative.
        switches: Overrides that switch one assumption off each.
        seeds: The comparison's seeds.
        since: First year counted.
        workers: Processes.
        progress: Called once per finished run.

    Returns:
        One row per switch and outcome: ``switched_off, outcome, difference, low, high, seeds, interval``.
    """
    rows = []
    for switch in switches:
        ya, yb = run_pair(_with(a, switch), _with(b, switch), seeds, None, workers, progress)
        table = answers(ya, yb, since).set_index("metric")
        for outcome in ABLATION_OUTCOMES:
            r = table.loc[outcome]
            rows.append((switch_text(switch), outcome, r["difference"], r["low"], r["high"], r["seeds"],
                         r["interval"]))
    return pd.DataFrame(rows, columns=["switched_off", "outcome", "difference", "low", "high", "seeds", "interval"])


def _with(scenario: Scenario, overrides: dict[str, Any]) -> Scenario:
    """The scenario with dotted overrides applied (validated again, like ``--set``)."""
    from sim.scenario.validation import validate

    data = scenario.model_dump()
    for key, value in overrides.items():
        *tables, leaf = key.split(".")
        node = data
        for part in tables:
            node = node[part]
        node[leaf] = value
    return validate(data, "<ablation>")


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
             overrides: list[str], found: list[Assumption]) -> dict:
    """``compare.json``: what was compared, so that ``report`` and a reader can tell.

    Args:
        args_a: File of A as given.
        args_b: File of B as given.
        a: Scenario A.
        b: Scenario B.
        seeds: The seeds.
        since: First year counted.
        overrides: ``--set`` values applied to both.
        found: The assumptions the answers depend on.

    Returns:
        The description.
    """
    return {
        "a": {"file": args_a, "name": a.scenario.name}, "b": {"file": args_b, "name": b.scenario.name},
        "seeds": seeds, "since": since, "end": min(a.scenario.end_year, b.scenario.end_year),
        "discount_rate": DISCOUNT_RATE, "overrides": overrides,
        "assumptions": [{"key": x.key, "values": list(x.values), "source": x.source, "switch": switch_text(x.switch)}
                        for x in found],
    }


