"""Comparing two scenarios with common random numbers.

Both scenarios run with the same seeds, so each seed gives a pair of worlds with the same firms
and the same luck (see :mod:`sim.engine.randomness`); the difference within a pair is the policy's
effect plus little noise, and the spread of the differences over seeds gives the interval.
"""

from __future__ import annotations

import os
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from scipy import stats

from sim.runner import run
from sim.scenario.schema import Scenario

Z_95 = 0.975  # two-sided 95 % intervals
BOOTSTRAP_DRAWS = 2000
PATH_COLUMNS = {"employment": "Employment (man-years)", "value_added_nok": "Value added (NOK)",
                "members": "Cluster members (firms)", "clusters": "Clusters (count)"}


def run_pair(a: Scenario, b: Scenario, seeds: list[int], workers: int | None = None,
             progress: Callable[[], None] | None = None) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Run both scenarios for every seed on a process pool.

    Args:
        a: The reference scenario (usually the baseline).
        b: The alternative.
        seeds: Seeds shared by both.
        workers: Processes (default: all cores).
        progress: Called once per finished run.

    Returns:
        The yearly tables of A and of B, each with a ``seed`` column.
    """
    # Totals only: no firm panel, plots or effect measurement (and so no twin world) per run.
    lean = {"output": a.output.model_copy(update={"firm_panel": False, "plots": False}),
            "measurement": a.measurement.model_copy(update={"effects": False})}
    a, b = a.model_copy(update=lean), b.model_copy(update=lean)
    jobs = [(label, scn, seed) for seed in seeds for label, scn in (("a", a), ("b", b))]
    out: dict[str, list[pd.DataFrame]] = {"a": [], "b": []}
    with ProcessPoolExecutor(max_workers=workers or os.cpu_count()) as pool:
        futures = [(label, seed, pool.submit(_yearly, scn, seed)) for label, scn, seed in jobs]
        for label, seed, future in futures:
            out[label].append(future.result().assign(seed=seed))
            if progress:
                progress()
    return pd.concat(out["a"], ignore_index=True), pd.concat(out["b"], ignore_index=True)


def _yearly(scenario: Scenario, seed: int) -> pd.DataFrame:
    return run(scenario, seed=seed).yearly


def outcomes(yearly: pd.DataFrame, since: int) -> pd.DataFrame:
    """Per-seed outcomes: end-year levels and totals over the years from ``since`` on.

    Args:
        yearly: Yearly tables of several seeds (``seed`` column).
        since: First year of the comparison window (totals add up from here).

    Returns:
        One row per seed.
    """
    end = yearly[yearly["year"] == yearly["year"].max()].set_index("seed")
    window = yearly[yearly["year"] >= since].groupby("seed")
    return pd.DataFrame({
        "employment_end": end["employment"],
        "value_added_end_nok": end["value_added_nok"],
        "members_end": end["members"],
        "startups_total": window["startups"].sum(),
        "restructuring_jobs_total": window["restructuring_jobs"].sum(),
        "programme_cost_total_nok": window["programme_spend_nok"].sum() + window["lever_spend_nok"].sum(),
    })


def difference_table(a: pd.DataFrame, b: pd.DataFrame, since: int) -> pd.DataFrame:
    """B minus A per outcome with 95 % intervals over seeds, plus the cost per job.

    Args:
        a: Yearly tables of scenario A (``seed`` column).
        b: Yearly tables of scenario B.
        since: First year of the comparison window.

    Returns:
        ``metric, a_mean, b_mean, difference, ci_low, ci_high, seeds``.
    """
    oa, ob = outcomes(a, since), outcomes(b, since).loc[outcomes(a, since).index]
    diff = ob - oa
    n = len(diff)
    t = stats.t.ppf(Z_95, n - 1) if n > 1 else np.nan
    rows = []
    for metric in diff.columns:
        mean, se = diff[metric].mean(), diff[metric].std(ddof=1) / np.sqrt(n) if n > 1 else np.nan
        rows.append((metric, oa[metric].mean(), ob[metric].mean(), mean, mean - t * se, mean + t * se, n))
    rows.append(("cost_per_job_nok", np.nan, np.nan, *_cost_per_job(diff), n))
    return pd.DataFrame(rows, columns=["metric", "a_mean", "b_mean", "difference", "ci_low", "ci_high", "seeds"])


def _cost_per_job(diff: pd.DataFrame) -> tuple[float, float, float]:
    """Extra programme cost per extra man-year at the end, with a bootstrap interval over seeds."""
    cost, jobs = diff["programme_cost_total_nok"].to_numpy(), diff["employment_end"].to_numpy()
    point = cost.mean() / jobs.mean() if jobs.mean() else np.nan
    if len(cost) < 2:
        return point, np.nan, np.nan
    rng = np.random.default_rng(0)  # a fixed stream: the same runs give the same interval
    idx = rng.integers(0, len(cost), (BOOTSTRAP_DRAWS, len(cost)))
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = cost[idx].mean(axis=1) / jobs[idx].mean(axis=1)
    low, high = np.nanpercentile(draws, [100 * (1 - Z_95), 100 * Z_95])
    return point, low, high


def paths_figure(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str]) -> Figure:
    """Mean paths of both scenarios with 95 % bands over seeds.

    Args:
        a: Yearly tables of A.
        b: Yearly tables of B.
        names: Labels of A and B.

    Returns:
        A figure with one panel per outcome in :data:`PATH_COLUMNS`.
    """
    fig = Figure(figsize=(11, 7), dpi=100)
    FigureCanvasAgg(fig)
    for ax, (column, label) in zip(fig.subplots(2, 2).ravel(), PATH_COLUMNS.items()):
        for yearly, name in ((a, names[0]), (b, names[1])):
            g = yearly.groupby("year")[column]
            mean, half = g.mean(), g.std(ddof=1).fillna(0) / np.sqrt(g.count()) * 1.96
            ax.plot(mean.index, mean, label=name)
            ax.fill_between(mean.index, mean - half, mean + half, alpha=0.25)
        ax.set(title=label, xlabel="Year")
        ax.legend()
    fig.suptitle(f"{names[1]} vs {names[0]} (mean over seeds, 95 % band)")
    fig.tight_layout()
    return fig


def write(table: pd.DataFrame, fig: Figure, out: Path) -> list[Path]:
    """Write the difference table (CSV) and the paths (PNG) into ``out``.

    Each file is written beside its place as ``<name>.partial`` and then renamed, so a file is
    complete or the previous one.

    Args:
        table: From :func:`difference_table`.
        fig: From :func:`paths_figure`.
        out: The folder (created if missing).

    Returns:
        The files written.
    """
    out.mkdir(parents=True, exist_ok=True)
    csv, png = out / "compare.csv", out / "paths.png"
    table.to_csv(csv.with_name("compare.csv.partial"), index=False, float_format="%.6g", lineterminator="\n")
    fig.savefig(png.with_name("paths.png.partial"), format="png")
    for path in (csv, png):
        path.with_name(path.name + ".partial").replace(path)
    return [csv, png]
