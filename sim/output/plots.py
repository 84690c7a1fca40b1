"""Standard plots of one run, written as PNG files into its run folder.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg backend,
never through ``pyplot``: no display is needed, no figure held by pyplot's figure manager leaks
memory in long sweeps, and importing this module does not change the backend of a user's notebook.
Each ``*_figure`` function returns a figure (so tests can count what was drawn);
:func:`write_plots` saves them all.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

DPI = 100
SIZE = (8.0, 4.5)  # inches: 800 x 450 px at DPI
LEVEL_LABELS = {
    "clusters_arena": "Arena",
    "clusters_arena_pro": "Arena Pro",
    "clusters_nce": "NCE",
    "clusters_gce": "GCE",
}
GROWTH_VARIABLES = {"employees": "Employment", "value_added_nok": "Value added"}
PROJECTION_LABEL = "projection"


def mark_projection(ax, history_until: int | None) -> None:
    """Mark where replayed history ends and the projection begins on a yearly axes.

    A dashed vertical line half-way between the last year of history and the first of the projection,
    labelled "projection" on its right; nothing when ``history_until`` is None or the axes' years end
    before the projection begins (or begin after it).

    Args:
        ax: A matplotlib axes with years on the x axis (its data already drawn).
        history_until: The last year of replayed history (``programme.history_until``).
    """
    if history_until is None:
        return
    low, high = ax.dataLim.intervalx
    boundary = history_until + 0.5
    if not low < boundary < high:
        return
    ax.axvline(boundary, color="grey", linestyle="--", linewidth=0.9)
    ax.text(boundary, 0.98, f" {PROJECTION_LABEL}", transform=ax.get_xaxis_transform(), ha="left", va="top",
            fontsize="small", color="grey")


def member_growth(firms: pd.DataFrame) -> pd.DataFrame:
    """Mean yearly growth of members and non-members, from the firm panel.

    Growth in year t is ``x_t / x_{t-1} - 1`` in percent, for firms alive in both years and with
    ``x_{t-1} > 0``; membership is the firm's status in year t.

    Args:
        firms: Firm-year panel with ``firm_id, year, member, alive, employees, value_added_nok``.

    Returns:
        One row per year and membership status: ``year, member, employees_growth_pct,
        value_added_nok_growth_pct``.
    """
    variables = list(GROWTH_VARIABLES)
    alive = firms.loc[firms["alive"], ["firm_id", "year", "member", *variables]]
    before = alive[["firm_id", "year", *variables]].assign(year=alive["year"] + 1)
    pairs = alive.merge(before, on=["firm_id", "year"], suffixes=("", "_prev"))
    for v in variables:
        prev = pairs[f"{v}_prev"].where(pairs[f"{v}_prev"] > 0)  # no growth rate from zero
        pairs[f"{v}_growth_pct"] = 100.0 * (pairs[v] / prev - 1.0)
    growth = [f"{v}_growth_pct" for v in variables]
    return pairs.groupby(["year", "member"], as_index=False)[growth].mean()


def member_growth_from_yearly(yearly: pd.DataFrame) -> pd.DataFrame | None:
    """The same table as :func:`member_growth`, from the yearly columns the register keeps.

    The model records members' and non-members' mean growth every year
    (``growth_<members|nonmembers>_<variable>_pct``), which is much cheaper than a merge over a
    full-scale panel of eleven million rows.

    Args:
        yearly: Yearly table.

    Returns:
        ``year, member, employees_growth_pct, value_added_nok_growth_pct``, or None if the yearly
        table lacks the columns.
    """
    parts = []
    for member, who in ((True, "members"), (False, "nonmembers")):
        columns = {f"growth_{who}_{v}_pct": f"{v}_growth_pct" for v in GROWTH_VARIABLES}
        if not set(columns) <= set(yearly.columns):
            return None
        part = yearly[["year", *columns]].rename(columns=columns).iloc[1:]  # no growth in year one
        parts.append(part.assign(member=member))
    return pd.concat(parts, ignore_index=True)[["year", "member", *[f"{v}_growth_pct" for v in GROWTH_VARIABLES]]]


def member_growth_figure(growth: pd.DataFrame, history_until: int | None = None) -> Figure:
    """Members' and non-members' mean yearly growth, employment and value added side by side.

    Args:
        growth: Output of :func:`member_growth` or :func:`member_growth_from_yearly`.
        history_until: The last year of replayed history, marked on each axes (None: no mark).

    Returns:
        A figure with two axes, each with one line for members and one for non-members.
    """
    fig = blank_figure()
    axes = fig.subplots(1, 2, sharex=True)
    for ax, (variable, title) in zip(axes, GROWTH_VARIABLES.items()):
        for member, label in ((True, "Members"), (False, "Non-members")):
            rows = growth[growth["member"] == member]
            ax.plot(rows["year"], rows[f"{variable}_growth_pct"], marker=".", label=label)
        ax.set(title=f"{title} growth", xlabel="Year", ylabel="Mean growth (% per year)")
        mark_projection(ax, history_until)
        ax.legend()
    fig.suptitle("Cluster members vs non-members")
    return fig


def clusters_by_level_figure(yearly: pd.DataFrame, history_until: int | None = None) -> Figure:
    """Number of cluster organisations by level over time, as stacked areas.

    Args:
        yearly: Yearly table with ``year`` and the ``clusters_<level>`` columns.
        history_until: The last year of replayed history, marked on the axes (None: no mark).

    Returns:
        A figure with one axes holding one area per level (Arena, Arena Pro, NCE, GCE).
    """
    fig = blank_figure()
    ax = fig.subplots()
    counts = [yearly[column] for column in LEVEL_LABELS]
    ax.stackplot(yearly["year"], counts, labels=list(LEVEL_LABELS.values()))
    ax.set(title="Cluster organisations by level", xlabel="Year", ylabel="Clusters (count)")
    ax.yaxis.set_major_locator(MaxNLocator(integer=True))  # no half clusters on the axis
    mark_projection(ax, history_until)
    ax.legend(loc="upper left")
    return fig


def economy_figure(yearly: pd.DataFrame, history_until: int | None = None) -> Figure:
    """Total employment and value added over time, in two panels.

    Args:
        yearly: Yearly table with ``year, employment, value_added_nok``.
        history_until: The last year of replayed history, marked on each axes (None: no mark).

    Returns:
        A figure with two axes, one line each.
    """
    fig = blank_figure()
    jobs, value = fig.subplots(1, 2, sharex=True)
    jobs.plot(yearly["year"], yearly["employment"] / 1e3)
    jobs.set(title="Employment", xlabel="Year", ylabel="Employment (1000 man-years)")
    value.plot(yearly["year"], yearly["value_added_nok"] / 1e9)
    value.set(title="Value added", xlabel="Year", ylabel="Value added (billion NOK)")
    for ax in (jobs, value):
        mark_projection(ax, history_until)
    return fig


ESTIMATOR_LABELS = {"matched_did": "Matched comparison (as published)", "true_effect": "True effect (twin world)"}
METRIC_LABELS = {"value_added": "Value added", "revenue": "Sales", "man_years": "Man-years"}


def effects_figure(by_year: pd.DataFrame) -> Figure:
    """The membership gap by years since joining, as published and as it truly is.

    Args:
        by_year: ``effects_by_year.csv`` (``metric, estimator, years_since_joining, gap_pp,
            ci_low, ci_high``).

    Returns:
        A figure with one axes per metric, one line (with its 95 % band) per estimator.
    """
    fig = blank_figure()
    axes = fig.subplots(1, len(METRIC_LABELS), sharey=True)
    for ax, (metric, title) in zip(axes, METRIC_LABELS.items()):
        for estimator, label in ESTIMATOR_LABELS.items():
            rows = by_year[(by_year["metric"] == metric) & (by_year["estimator"] == estimator)]
            if rows.empty:
                continue
            line, = ax.plot(rows["years_since_joining"], rows["gap_pp"], marker="o", label=label)
            ax.fill_between(rows["years_since_joining"], rows["ci_low"], rows["ci_high"],
                            color=line.get_color(), alpha=0.2)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        ax.set(title=title, xlabel="Years since joining")
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    axes[0].set_ylabel("Members' growth minus matched (pp per year)")
    fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center", ncols=2, fontsize="small")
    bands = " (95 % intervals)" if by_year["ci_low"].notna().any() else ""
    fig.suptitle(f"The membership effect: measured gap and true effect{bands}")
    return fig


def firm_dynamics_figure(dynamics: pd.DataFrame) -> Figure:
    """The firm-dynamics table in four panels, each measure beside its published benchmark.

    Size distribution (share of firms by size class), survival of birth cohorts, up or out (exit rate
    and mean growth by age) and entry and exit rates by year. Benchmarks are black markers.

    Args:
        dynamics: ``firm_dynamics.csv`` (:func:`sim.observe.dynamics.firm_dynamics`).

    Returns:
        A figure with four axes.
    """
    fig = blank_figure()
    size, survival, age, rates = fig.subplots(2, 2).ravel()
    _size_panel(size, dynamics)
    rows = _rows(dynamics, "survival", "years_since_birth")
    survival.plot(rows["group"].astype(int), rows["value"], marker="o", label="Model")
    survival.plot(rows["group"].astype(int), rows["benchmark"], "ko", label="Published")
    survival.set(title="Survival of new firms", xlabel="Years since birth", ylabel="% of cohort open")
    survival.set_ylim(0, 100)
    survival.xaxis.set_major_locator(MaxNLocator(integer=True))
    for measure, label in (("exit_rate", "Exit rate (%)"), ("growth_mean", "Mean growth (100 x log)")):
        rows = _rows(dynamics, measure, "age_class")
        age.plot(rows["group"], rows["value"], marker="o", label=label)
    age.axhline(0.0, color="grey", linewidth=0.8)
    age.set(title="Up or out: exit and growth by age", xlabel="Age (years)")
    for measure, label in (("entry_rate", "Entry"), ("exit_rate", "Exit")):
        rows = _rows(dynamics, measure, "year")
        line, = rates.plot(rows["group"].astype(int), rows["value"], label=label)
        rates.plot(rows["group"].astype(int), rows["benchmark"], "o", color=line.get_color(), markersize=3,
                   markeredgecolor="black", label=f"{label}, published (all enterprises)")
    rates.set(title="Entry and exit rates", xlabel="Year", ylabel="% of firms on 1 January")
    rates.set_ylim(bottom=0)
    rates.legend(fontsize="xx-small", loc="lower center", ncols=2)
    for ax in (survival, age):
        ax.legend(fontsize="x-small")
    for ax in (size, survival, age, rates):
        ax.title.set_fontsize("small")
        ax.tick_params(labelsize="x-small")
        ax.xaxis.label.set_fontsize("x-small")
        ax.yaxis.label.set_fontsize("x-small")
    return fig


def _size_panel(ax, dynamics: pd.DataFrame) -> None:
    rows = _rows(dynamics, "firms_share", "size_class")
    marked = rows[rows["benchmark"].notna()]
    rows = marked if len(marked) else rows[rows["period"] == rows["period"].iloc[-1]] if len(rows) else rows
    x = range(len(rows))
    period = rows["period"].iloc[0] if len(rows) else ""
    ax.bar(x, rows["value"], label=f"Model, {period}")
    ax.plot(x, rows["benchmark"], "ko", markersize=3, label="Published")
    ax.set_yscale("log")
    ax.set_xticks(list(x), rows["group"].tolist())
    ax.set(title="Size distribution", xlabel="Man-years", ylabel="% of firms")
    ax.legend(fontsize="x-small")


def _rows(dynamics: pd.DataFrame, measure: str, by: str) -> pd.DataFrame:
    return dynamics[(dynamics["measure"] == measure) & (dynamics["by"] == by)]


def write_plots(yearly: pd.DataFrame, firms: pd.DataFrame | None, out_dir: Path,
                effect_tables: dict[str, pd.DataFrame] | None = None, history_until: int | None = None,
                dynamics: pd.DataFrame | None = None) -> list[Path]:
    """Write the standard plots of a run as PNG files.

    Args:
        yearly: Yearly table of the run.
        firms: Firm-year panel, or ``None``; used for the member growth plot only when the yearly
            table lacks the growth columns (the plot is skipped if both lack them).
        out_dir: Folder to write into; must exist.
        effect_tables: The measured effects (``effects_by_year`` is plotted), if any.
        history_until: The last year of replayed history: the yearly plots mark where the projection
            begins (None: no mark).
        dynamics: The firm-dynamics table, if any.

    Returns:
        The paths written: ``clusters_by_level.png``, ``economy.png``, ``member_growth.png``
        when growth is known, ``effects.png`` when some member's effect was measured and
        ``firm_dynamics.png`` with the firm-dynamics table.
    """
    figures = {
        "clusters_by_level": clusters_by_level_figure(yearly, history_until),
        "economy": economy_figure(yearly, history_until),
    }
    growth = member_growth_from_yearly(yearly)
    if growth is None and firms is not None:
        growth = member_growth(firms)
    if growth is not None:
        figures["member_growth"] = member_growth_figure(growth, history_until)
    if effect_tables is not None and effect_tables["effects_by_year"]["gap_pp"].notna().any():
        figures["effects"] = effects_figure(effect_tables["effects_by_year"])
    if dynamics is not None:
        figures["firm_dynamics"] = firm_dynamics_figure(dynamics)
    return [save(fig, Path(out_dir) / f"{name}.png") for name, fig in figures.items()]


def save(fig: Figure, path: Path) -> Path:
    """Render a figure to a PNG file with the Agg backend.

    Args:
        fig: The figure to save.
        path: Target file.

    Returns:
        ``path``.
    """
    fig.savefig(path, format="png", dpi=DPI)
    return path


def blank_figure() -> Figure:
    """An empty figure of the standard size, rendered by Agg (never by pyplot)."""
    fig = Figure(figsize=SIZE, dpi=DPI, layout="constrained")
    FigureCanvasAgg(fig)  # attaches itself as fig.canvas: rendering never looks for a display
    return fig
