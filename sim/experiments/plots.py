"""The summary plot of an experiment: each outcome against each swept parameter.

One panel per (outcome, parameter): every finished run as a faint dot, each design point's mean
over its replications with a bar of +- one standard deviation (the spread over replications),
and a line through the mean outcome at each level of the parameter (averaged over the other
parameters), or over ten quantile bins when the parameter takes many values. Drawn with
:class:`matplotlib.figure.Figure` and the Agg backend, as in :mod:`sim.output.plots`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from sqlalchemy import Engine

from sim.experiments import ledger
from sim.experiments.sweep import SUMMARY_PREFIX

PANEL_SIZE = (3.4, 2.6)  # inches
DPI = 100
MAX_LEVELS = 12  # more distinct values than this: a continuous parameter, binned


def outcome_table(engine: Engine, experiment: str) -> tuple[pd.DataFrame, list[str], list[str]]:
    """Finished runs with their parameters and outcome values.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        experiment: The experiment's name.

    Returns:
        The table (one row per done run), the parameter columns and the outcome columns
        (named ``column@year``, or ``summary.<figure>`` for a headline figure).
    """
    meta = ledger.load_experiment(engine, experiment)
    runs = ledger.load_runs(engine, experiment)
    parameters = runs.attrs["parameters"]
    runs = runs[runs["status"] == "done"]
    names = [column if year is None else f"{column}@{year}" for column, year in meta["outcomes"]]
    if runs.empty:
        return runs, parameters, names
    yearly_columns = {c for c, year in meta["outcomes"] if year is not None}
    yearly = ledger.load_outputs(engine, runs["run_id"], "yearly", yearly_columns) if yearly_columns else None
    table = runs[["run_id", "point", "replication", *parameters]].set_index("run_id")
    for (column, year), name in zip(meta["outcomes"], names):
        if year is None:  # a headline figure: load_runs has a column per figure of the summaries
            figure = column.removeprefix(SUMMARY_PREFIX)
            table[name] = runs.set_index("run_id")[figure] if figure in runs else np.nan
        else:
            table[name] = yearly[yearly["year"] == year].set_index("run_id")[column]
    return table.reset_index(), parameters, names


def plot_experiment(engine: Engine, experiment: str, path: Path) -> Path | None:
    """Write the summary plot of an experiment as PNG.

    Args:
        engine: From :func:`sim.experiments.ledger.open_ledger`.
        experiment: The experiment's name.
        path: The PNG file to write (its folder is created).

    Returns:
        ``path``, or ``None`` if no run is done yet.
    """
    table, parameters, outcomes = outcome_table(engine, experiment)
    if table.empty:
        return None
    rows, cols = len(outcomes), len(parameters)
    fig = Figure(figsize=(PANEL_SIZE[0] * cols, PANEL_SIZE[1] * rows), dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)
    axes = fig.subplots(rows, cols, squeeze=False)
    for i, outcome in enumerate(outcomes):
        for j, parameter in enumerate(parameters):
            _panel(axes[i][j], table, parameter, outcome)
            axes[i][j].set_xlabel(parameter if i == rows - 1 else "")
            axes[i][j].set_ylabel(outcome.replace("@", " in ") if j == 0 else "")
    fig.suptitle(f"{experiment}: {len(table)} runs, mean and spread over replications")
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    return path


def _panel(ax: Axes, table: pd.DataFrame, parameter: str, outcome: str) -> None:
    x, labels = _positions(table[parameter])
    y = table[outcome].to_numpy(float)
    per_point = pd.DataFrame({"point": table["point"], "x": x, "y": y}).groupby("point")
    replicated = per_point.size().max() > 1
    # Runs are faint behind their points' means when replicated, and the only marks otherwise.
    ax.scatter(x, y, s=6 if replicated else 14, alpha=0.25 if replicated else 0.8, color="tab:blue", linewidths=0)
    stats = per_point.agg(x=("x", "first"), mean=("y", "mean"), sd=("y", "std"))
    if replicated:
        ax.errorbar(stats["x"], stats["mean"], yerr=stats["sd"].fillna(0), fmt="o", ms=3,
                    color="tab:blue", elinewidth=0.8, capsize=2)
    trend = _trend(x, y)
    ax.plot(trend.index, trend.to_numpy(), color="tab:red", lw=1.5)
    if labels is not None:
        ax.set_xticks(range(len(labels)), labels, rotation=30, fontsize=7)
    ax.tick_params(labelsize=7)
    ax.grid(alpha=0.3)


def _positions(values: pd.Series) -> tuple[np.ndarray, list[str] | None]:
    """Numbers stay numbers; anything else (names, lists) becomes category positions and labels."""
    numeric = pd.to_numeric(values, errors="coerce")
    if numeric.notna().all() and not values.map(lambda v: isinstance(v, bool)).any():
        return numeric.to_numpy(float), None
    labels = sorted({str(v) for v in values})
    return values.map(lambda v: labels.index(str(v))).to_numpy(float), labels


def _trend(x: np.ndarray, y: np.ndarray) -> pd.Series:
    """Mean outcome per level, or per quantile bin for a parameter with many values."""
    frame = pd.DataFrame({"x": x, "y": y})
    if frame["x"].nunique() > MAX_LEVELS:
        bins = pd.qcut(frame["x"], 10, duplicates="drop")
        grouped = frame.groupby(bins, observed=True)
        return pd.Series(grouped["y"].mean().to_numpy(), index=grouped["x"].mean().to_numpy())
    return frame.groupby("x")["y"].mean()
