"""Standard plots of one run, written as PNG files into its run folder.

Figures are built with :class:`matplotlib.figure.Figure` and rendered by the Agg backend,
never through ``pyplot``: no display is needed, no figure held by pyplot's figure manager leaks
memory in long sweeps, and importing this module does not change the backend of a user's notebook.
Each ``*_figure`` function returns a figure (so tests can count what was drawn);
:func:`write_plots` saves them all.
"""

from __future__ import annotations

from collections.abc import Collection
from pathlib import Path

import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch
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
    mark_boundary(ax, boundary, PROJECTION_LABEL)


def mark_boundary(ax, x: float, label: str) -> None:
    """A dashed grey vertical line at ``x`` with ``label`` at the top on its right (the plots' one style).

    Args:
        ax: A matplotlib axes.
        x: Where the line goes, in data units.
        label: Its text.
    """
    ax.axvline(x, color="grey", linestyle="--", linewidth=0.9)
    ax.text(x, 0.98, f" {label}", transform=ax.get_xaxis_transform(), ha="left", va="top",
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
JOINING_LABEL = "joins"
PLACEBO_LABEL = "Before joining: placebo tests (near 0 if the comparison is fair)"
PLACEBO_SHADE = {"color": "#eeeeee", "zorder": 0}


def event_position(years_since_joining: pd.Series) -> pd.Series:
    """Where a year since joining sits on the event-study axis: year 1 right after year -1.

    The event study has no year 0 (year 1 is the year of joining, year -1 the year before), so
    the two are drawn next to each other, one step apart like every other pair of years.

    Args:
        years_since_joining: ``-4..-1, 1..5``.

    Returns:
        Positions ``-4..-1, 0..4``.
    """
    return years_since_joining.where(years_since_joining < 0, years_since_joining - 1)


def effects_figure(by_year: pd.DataFrame) -> Figure:
    """The membership gap by years since joining, as published and as it truly is.

    One line per estimator from the earliest lead to the last year of membership. The leads
    (negative years, hollow markers on a grey background) are placebo tests: the cluster can have
    done nothing for a firm before it joined, so a lead far from zero is selection the comparison
    left in. A dashed line marks the joining, as the yearly plots mark the projection.

    Args:
        by_year: ``effects_by_year.csv`` (``metric, estimator, years_since_joining, gap_pp,
            ci_low, ci_high``).

    Returns:
        A figure with one axes per metric, one line (with its 95 % band) per estimator.
    """
    fig = blank_figure()
    axes = fig.subplots(1, len(METRIC_LABELS), sharey=True)
    years = sorted(by_year["years_since_joining"].unique())
    for ax, (metric, title) in zip(axes, METRIC_LABELS.items()):
        for estimator, label in ESTIMATOR_LABELS.items():
            rows = by_year[(by_year["metric"] == metric) & (by_year["estimator"] == estimator)]
            _event_line(ax, rows.sort_values("years_since_joining"), label)
        ax.axhline(0.0, color="grey", linewidth=0.8)
        _event_axis(ax, years)
        ax.set_title(title)
    axes[0].set_ylabel("Members' growth minus matched (pp per year)")
    handles, labels = axes[0].get_legend_handles_labels()
    if any(year < 0 for year in years):
        handles.append(Patch(**PLACEBO_SHADE, label=PLACEBO_LABEL))
        labels.append(PLACEBO_LABEL)
    fig.legend(handles, labels, loc="outside lower center", ncols=2, fontsize="small")
    bands = " (95 % intervals)" if by_year["ci_low"].notna().any() else ""
    fig.suptitle(f"The membership effect: measured gap and true effect{bands}")
    return fig


def _event_line(ax, rows: pd.DataFrame, label: str) -> None:
    """One estimator's gap as one unbroken line (years without a figure are stepped over), and its band."""
    rows = rows[rows["gap_pp"].notna()]
    if rows.empty:
        return
    x = event_position(rows["years_since_joining"])
    line, = ax.plot(x, rows["gap_pp"], marker="o", label=label)
    colour = line.get_color()
    lead = rows["years_since_joining"] < 0
    ax.plot(x[lead], rows["gap_pp"][lead], "o", color=colour, markerfacecolor="white", zorder=line.get_zorder())
    band = rows[["ci_low", "ci_high"]].notna().all(axis=1)
    ax.fill_between(x[band], rows["ci_low"][band], rows["ci_high"][band], color=colour, alpha=0.2, linewidth=0)


def _event_axis(ax, years: list[int]) -> None:
    """Ticks labelled with the years since joining, the leads shaded as placebo tests, the joining marked."""
    positions = event_position(pd.Series(years, dtype=float))
    ax.set_xticks(positions.tolist(), [str(year) for year in years])
    ax.set_xlabel("Years since joining")
    leads = positions[pd.Series(years) < 0]
    if len(leads):
        ax.axvspan(leads.min() - 0.5, -0.5, **PLACEBO_SHADE)
        mark_boundary(ax, -0.5, JOINING_LABEL)
    ax.set_xlim(positions.min() - 0.5, positions.max() + 0.5)


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


#: The plots that need only the register (no measured effect), in the order they are written.
REGISTER_PLOTS = ("clusters_by_level", "economy", "member_growth", "firm_dynamics")


def write_plots(yearly: pd.DataFrame, firms: pd.DataFrame | None, out_dir: Path,
                effect_tables: dict[str, pd.DataFrame] | None = None, history_until: int | None = None,
                dynamics: pd.DataFrame | None = None, only: Collection[str] | None = None) -> list[Path]:
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
        only: The plots to write, by name (None: all); :data:`REGISTER_PLOTS` and ``effects``.

    Returns:
        The paths written: ``clusters_by_level.png``, ``economy.png``, ``member_growth.png``
        when growth is known, ``effects.png`` when some member's effect was measured and
        ``firm_dynamics.png`` with the firm-dynamics table.
    """
    def wanted(name: str) -> bool:
        return only is None or name in only

    figures = {}
    if wanted("clusters_by_level"):
        figures["clusters_by_level"] = clusters_by_level_figure(yearly, history_until)
    if wanted("economy"):
        figures["economy"] = economy_figure(yearly, history_until)
    if wanted("member_growth"):
        growth = member_growth_from_yearly(yearly)
        if growth is None and firms is not None:
            growth = member_growth(firms)
        if growth is not None:
            figures["member_growth"] = member_growth_figure(growth, history_until)
    if wanted("effects") and effect_tables is not None and effect_tables["effects_by_year"]["gap_pp"].notna().any():
        figures["effects"] = effects_figure(effect_tables["effects_by_year"])
    if wanted("firm_dynamics") and dynamics is not None:
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
