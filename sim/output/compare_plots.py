"""Plots of a comparison: both scenarios' paths, B - A year by year, and what each assumption carries.

Each plot marks the last replayed year of the programme's history: to its left the model replays
what happened, to its right it projects.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter

from sim.output.intervals import COVERAGE, interval, spread

PANELS = {  # yearly column -> (title, unit, divisor)
    "employment": ("Employment", "man-years", 1.0),
    "value_added_nok": ("Value added", "NOK bn", 1e9),
    "members": ("Cluster members", "firms", 1.0),
    "clusters": ("Clusters in the programme", "clusters", 1.0),
}
COLOURS = ("#1f77b4", "#d62728")
THOUSANDS = FuncFormatter(lambda x, _: f"{x:,.0f}" if abs(x) >= 100 else f"{x:,.2g}")


def _figure(rows: int, cols: int) -> tuple[Figure, np.ndarray]:
    fig = Figure(figsize=(11, 3.4 * rows), dpi=100, layout="constrained")
    FigureCanvasAgg(fig)
    return fig, np.atleast_1d(fig.subplots(rows, cols)).ravel()


def _history(ax, history_until: int | None) -> None:
    if history_until is not None:
        ax.axvline(history_until + 0.5, color="#777", linestyle=":", linewidth=1)
        ax.annotate("history | projection", (history_until + 0.5, 1.0), xycoords=("data", "axes fraction"),
                    ha="center", va="bottom", fontsize=7, color="#555")


def paths_figure(a: pd.DataFrame, b: pd.DataFrame, names: tuple[str, str], history_until: int | None = None,
                 draw_of: Mapping[int, int] | None = None) -> Figure:
    """Both scenarios' mean paths with their intervals over seeds (or their spread over posterior draws x seeds).

    Args:
        a: Yearly tables of A (``seed`` column).
        b: Yearly tables of B.
        names: Labels of A and B.
        history_until: Last replayed year (marked), or None.
        draw_of: Seed -> posterior draw: the band is then 90 % of the runs.

    Returns:
        One panel per :data:`PANELS` entry.
    """
    fig, axes = _figure(2, 2)
    for ax, (column, (title, unit, divisor)) in zip(axes, PANELS.items(), strict=True):
        for yearly, name, colour in ((a, names[0], COLOURS[0]), (b, names[1], COLOURS[1])):
            ivs = [(year, interval(v / divisor) if draw_of is None else
                    spread(v / divisor, yearly.loc[v.index, "seed"].map(draw_of)))
                   for year, v in yearly.groupby("year")[column]]
            years = [y for y, _ in ivs]
            ax.plot(years, [iv.mean for _, iv in ivs], color=colour, label=name)
            ax.fill_between(years, [iv.low for _, iv in ivs], [iv.high for _, iv in ivs], color=colour, alpha=0.2,
                            linewidth=0)
        ax.set(title=title, xlabel="Year", ylabel=unit)
        ax.yaxis.set_major_formatter(THOUSANDS)
        _history(ax, history_until)
        ax.legend(fontsize=8)
    seeds = a["seed"].nunique()
    if draw_of is None:
        fig.suptitle(f"{names[1]} and {names[0]}: mean over {seeds} seeds, band = {interval(np.arange(seeds)).label}")
    else:
        draws = len(set(draw_of.values()))
        fig.suptitle(f"{names[1]} and {names[0]}: mean over {draws} posterior draws x {seeds // draws} seeds\n"
                     f"band: {100 * COVERAGE:.0f} % of the runs (parameter and seed uncertainty)")
    return fig


def difference_figure(diff: pd.DataFrame, names: tuple[str, str], history_until: int | None = None) -> Figure:
    """B - A year by year with its interval, paired by seed; over a posterior, also its parameters' part.

    Args:
        diff: From :func:`sim.output.answers.yearly_difference`.
        names: Labels of A and B.
        history_until: Last replayed year (marked), or None.

    Returns:
        One panel per :data:`PANELS` entry.
    """
    fig, axes = _figure(2, 2)
    posterior = "parameter_low" in diff
    for ax, (column, (title, unit, divisor)) in zip(axes, PANELS.items(), strict=True):
        d = diff[diff["column"] == column]
        ax.plot(d["year"], d["difference"] / divisor, color=COLOURS[1])
        ax.fill_between(d["year"], d["low"] / divisor, d["high"] / divisor, color=COLOURS[1], alpha=0.2, linewidth=0)
        if posterior:
            ax.fill_between(d["year"], d["parameter_low"] / divisor, d["parameter_high"] / divisor, color=COLOURS[1],
                            alpha=0.25, linewidth=0)
        ax.axhline(0, color="black", linewidth=0.8)
        ax.set(title=f"{title}: B - A", xlabel="Year", ylabel=unit)
        ax.yaxis.set_major_formatter(THOUSANDS)
        _history(ax, history_until)
    label = diff["interval"].iloc[0] if len(diff) else ""
    if posterior:
        fig.suptitle(f"{names[1]} minus {names[0]}, paired by seed within each posterior draw\nlight band: {label} "
                     f"(parameters and seeds); dark band: {100 * COVERAGE:.0f} % of the draws' means (parameters)")
    else:
        fig.suptitle(f"{names[1]} minus {names[0]}, paired by seed (band: {label})")
    return fig


def ablation_figure(table: pd.DataFrame, outcome: str = "man_years_total") -> Figure:
    """The difference with each assumption switched off, beside the full difference.

    Args:
        table: From :func:`sim.experiments.compare.carried`.
        outcome: Which outcome to show.

    Returns:
        A horizontal bar chart with intervals.
    """
    t = table[table["outcome"] == outcome]
    fig, (ax,) = _figure(1, 1)
    labels = ["all assumptions as in the scenario", *(f"without {s}" for s in t["switched_off"])]
    values = np.array([t["full_difference"].iloc[0], *t["difference"]]) if len(t) else np.array([])
    low = np.array([np.nan, *t["low"]])
    high = np.array([np.nan, *t["high"]])
    y = np.arange(len(values))
    ax.barh(y, values, color=[COLOURS[0], *[COLOURS[1]] * len(t)])
    err = np.nan_to_num(np.vstack([values - low, high - values]))
    ax.errorbar(values, y, xerr=err, fmt="none", ecolor="black", capsize=3)
    ax.set_yticks(y, labels, fontsize=8)
    ax.invert_yaxis()
    ax.axvline(0, color="black", linewidth=0.8)
    ax.xaxis.set_major_formatter(THOUSANDS)
    ax.set(title=f"B - A, {outcome.replace('_', ' ')}: with each assumption switched off in both", xlabel="B - A")
    return fig
