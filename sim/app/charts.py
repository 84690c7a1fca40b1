"""The app's live plots as ECharts options: plain dictionaries the browser draws.

The browser renders the charts, so a simulated year costs the server a few small dictionaries
instead of five matplotlib drawings, which keeps a year's redraw well under half a second; the
charts also show each value on hover. Every function takes plain tables, so a chart can be
tested by reading its series. The x axis always spans the whole scenario, so lines grow to the
right instead of the axis rescaling every year.

Titles and legends are not drawn on the canvas: the page writes them above it (:func:`header`),
where they wrap instead of being cut off or paged on a narrow projector screen.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import pandas as pd

from sim.app.drawing import LEVEL_COLOURS, LEVEL_NAMES
from sim.scenario.params import LEVELS

MEMBER_COLOUR, NONMEMBER_COLOUR, REFERENCE_COLOUR = "#1f77b4", "#7f7f7f", "#222222"
RAW_COLOUR, TRUE_COLOUR = "#d62728", "#2ca02c"
EVENT_COLOUR = "#999999"
BAND_OPACITY = 0.15
BAND = "band:"  # id prefix of the two series that draw a band
# Years with fewer simulated members than this are left out of the averages: in the first years of
# the first clusters one member's luck would swing them (and the axis) by tens of points.
MIN_MEMBERS = 5
REFERENCE_NAME = "As shipped"
THOUSAND = 1e3
DIGITS = 4  # significant digits sent to the browser: a chart shows no more


def growth_chart(yearly: pd.DataFrame, years: range, events: list[tuple[int, str]]) -> dict[str, Any]:
    """Members' and non-members' mean yearly growth of value added (percent).

    Args:
        yearly: The main world's yearly table.
        years: The scenario's years (the x axis).
        events: (year, text) of control changes.

    Returns:
        The ECharts option.
    """
    rows = yearly.iloc[1:]  # the first year has no growth
    return _chart("Value added growth (% a year)", years, events, [
        _line("Members", rows, "growth_members_value_added_nok_pct", years, MEMBER_COLOUR),
        _line("Non-members", rows, "growth_nonmembers_value_added_nok_pct", years, NONMEMBER_COLOUR),
    ])


def selection_chart(effects: pd.DataFrame, years: range, events: list[tuple[int, str]],
                    spread: list[pd.DataFrame] = ()) -> dict[str, Any]:
    """The raw member-vs-non-member gap beside the true effect, both averaged over the years so far.

    The average is what a statistics office would publish from the years observed; the true effect
    compares the same member firms with themselves in the twin world without services. Shaded
    bands show where the same averages fall with the class seed and the spread's seeds. Years with
    fewer than :data:`MIN_MEMBERS` simulated members are left out.

    Args:
        effects: ``year, raw_gap_pp, true_effect_pp`` (:meth:`sim.app.session.Session.effects_table`).
        years: The x axis.
        events: Control changes.
        spread: The same table for other seeds (:meth:`sim.app.session.Session.spread_tables`).

    Returns:
        The ECharts option; its title gives the class seed's selection share so far, its subtitle the
        mean over the seeds and their spread.
    """
    averaged = running_means(effects)
    title, subtitle = "Selection vs treatment (pp)", f"Drawn once {MIN_MEMBERS} simulated firms are members"
    raw, true = (averaged["raw"].iloc[-1], averaged["true"].iloc[-1]) if len(averaged) else (math.nan, math.nan)
    if raw > 0:
        title = f"Raw gap {raw:+.1f}, true effect {true:+.1f} pp: {selection_share(raw, true):.0%} selection"
    series = [_line("Raw gap: members vs others", averaged, "raw", years, RAW_COLOUR),
              _line("True effect: members vs their twins", averaged, "true", years, TRUE_COLOUR)]
    if spread:
        runs = [averaged, *(running_means(table) for table in spread)]
        seeds = len(runs)
        for column, label, colour in (("raw", "Raw gap", RAW_COLOUR), ("true", "True effect", TRUE_COLOUR)):
            wide = pd.concat([run.set_index("year")[column] for run in runs], axis=1)
            series += _band(f"{label}, {seeds} seeds", wide.min(axis=1), wide.max(axis=1), years, colour)
        last = {column: [run[column].iloc[-1] for run in runs if len(run)] for column in ("raw", "true")}
        if all(len(values) == seeds for values in last.values()):
            subtitle = _spread_text(last["raw"], last["true"])
    return _chart(title, years, events, series, subtitle)


def selection_share(raw: float, true: float) -> float:
    """The share of a positive raw gap that is selection, not the programme's doing (0 to 1)."""
    return max(0.0, 1.0 - true / raw)


def _spread_text(raw: list[float], true: list[float]) -> str:
    """The mean over seeds (what a lesson's step is read from) and the lowest and highest seed.

    One seed's average rests on a few dozen members and moves by a few points from seed to seed;
    the mean of five moves by less than half as much, so a lesson's step shows in it.
    """
    mean_raw, mean_true = sum(raw) / len(raw), sum(true) / len(true)
    share = f", {selection_share(mean_raw, mean_true):.0%} selection" if mean_raw > 0 else ""
    return (f"Mean of {len(raw)} seeds: raw gap {mean_raw:+.1f}, true effect {mean_true:+.1f} pp{share} "
            f"(raw {min(raw):+.1f} to {max(raw):+.1f}, true {min(true):+.1f} to {max(true):+.1f})")


def running_means(effects: pd.DataFrame) -> pd.DataFrame:
    """``year, raw, true``: the raw gap and true effect averaged over the years so far (enough members)."""
    rows = effects.dropna()
    if "members" in rows:
        rows = rows[rows["members"] >= MIN_MEMBERS]
    return pd.DataFrame({"year": rows["year"], "raw": rows["raw_gap_pp"].expanding().mean(),
                         "true": rows["true_effect_pp"].expanding().mean()})


def _band(name: str, low: pd.Series, high: pd.Series, years: range, colour: str) -> list[dict[str, Any]]:
    """A shaded band from ``low`` to ``high`` (indexed by year): a hidden lower line and the width stacked on it.

    The hover box shows the lowest value and the spread (highest minus lowest) under these names.
    """
    table = pd.DataFrame({"year": low.index, "low": low.to_numpy(), "width": (high - low).to_numpy()})
    hidden = {"lineStyle": {"opacity": 0}, "stack": name, "silent": True, "z": 1}
    return [_line(f"{name}: lowest", table, "low", years, colour) | hidden | {"id": f"{BAND}{name}:low"},
            _line(f"{name}: spread", table, "width", years, colour) | hidden
            | {"id": f"{BAND}{name}:spread", "areaStyle": {"color": colour, "opacity": BAND_OPACITY}}]


def levels_chart(yearly: pd.DataFrame, reference: pd.DataFrame | None, years: range,
                 events: list[tuple[int, str]]) -> dict[str, Any]:
    """Cluster organisations in the programme by level, stacked, and dashed the reference's total.

    Args:
        yearly: The main world's yearly table.
        reference: The reference world's table, or None when it equals the main world.
        years: The x axis.
        events: Control changes.

    Returns:
        The ECharts option; with a reference, its subtitle compares the two totals in the last year.
    """
    series = [_line(LEVEL_NAMES[lv], yearly, f"clusters_{lv}", years, LEVEL_COLOURS[lv])
              | {"stack": "levels", "areaStyle": {}} for lv in LEVELS]
    subtitle = ""
    if reference is not None:
        series.append(_reference(_line(REFERENCE_NAME, reference, "clusters", years, REFERENCE_COLOUR)))
        last = yearly.iloc[-1] if len(yearly) else None
        shipped = reference.loc[reference["year"] == last["year"], "clusters"] if last is not None else []
        if len(shipped):
            subtitle = f"{int(last['year'])}: {last['clusters']:.0f} clusters, as shipped {shipped.iloc[0]:.0f}"
    return _chart("Cluster organisations by level", years, events, series, subtitle)


def series_chart(title: str, column: str, yearly: pd.DataFrame, reference: pd.DataFrame | None,
                 years: range, events: list[tuple[int, str]], divisor: float = THOUSAND) -> dict[str, Any]:
    """One yearly column of the main world and, dashed, the classroom scenario as shipped.

    Args:
        title: Chart title, with the unit.
        column: Column of the yearly table.
        yearly: The main world's yearly table.
        reference: The reference world's table, or None when it equals the main world.
        years: The x axis.
        events: Control changes.
        divisor: The column is divided by it (thousands by default).

    Returns:
        The ECharts option.
    """
    scaled = yearly.assign(value=yearly[column] / divisor) if len(yearly) else yearly.assign(value=[])
    series = [_line("This run", scaled, "value", years, MEMBER_COLOUR)]
    if reference is not None:
        ref = reference.assign(value=reference[column] / divisor)
        series.append(_reference(_line(REFERENCE_NAME, ref, "value", years, REFERENCE_COLOUR)))
    return _chart(title, years, events, series)


def _reference(series: dict[str, Any]) -> dict[str, Any]:
    return series | {"lineStyle": {"type": "dashed", "width": 1}}


def _line(name: str, table: pd.DataFrame, column: str, years: range, colour: str) -> dict[str, Any]:
    """A line series with one value per year of the axis (null where not simulated yet)."""
    values = dict(zip(table["year"].astype(int), table[column], strict=True)) if len(table) else {}
    data = [_number(values.get(year, math.nan)) for year in years]
    return {"type": "line", "name": name, "data": data, "color": colour, "showSymbol": False,
            "connectNulls": False}


def _chart(title: str, years: range, events: list[tuple[int, str]],
           series: list[dict[str, Any]], subtitle: str = "") -> dict[str, Any]:
    if series and events:
        # A control moved during year y acts from year y + 1: the mark sits on that year.
        marks = [{"xAxis": str(year + 1), "name": text} for year, text in events if year + 1 in years]
        series[0] = series[0] | {"markLine": {"symbol": "none", "silent": True, "label": {"show": False},
                                              "lineStyle": {"type": "dotted", "color": EVENT_COLOUR}, "data": marks}}
    return {
        "animation": False,
        # Title and legend are drawn by the page above the chart (see header()).
        "title": {"text": title, "subtext": subtitle, "show": False},
        "tooltip": {"trigger": "axis"},
        "legend": {"show": False},
        "grid": {"left": 56, "right": 16, "top": 12, "bottom": 28},
        "xAxis": {"type": "category", "data": [str(y) for y in years], "boundaryGap": False},
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


@dataclass(frozen=True)
class LegendEntry:
    """One entry of a chart's legend, as the page draws it.

    Attributes:
        name: The series' name.
        colour: Its colour.
        kind: ``"line"``, ``"dashed"`` or ``"band"``.
    """

    name: str
    colour: str
    kind: str


def header(option: dict[str, Any]) -> tuple[str, str, list[LegendEntry]]:
    """A chart's title, subtitle and every legend entry, for the page to write above the canvas.

    Args:
        option: An option made by this module.

    Returns:
        Title, subtitle (may be empty) and one entry per line or band, in drawing order.
    """
    entries: dict[str, LegendEntry] = {}
    for series in option["series"]:
        if series.get("id", "").startswith(BAND):
            name = series["stack"]  # a band's two series make one entry
            entries[name] = LegendEntry(f"{name} (lowest to highest)", series["color"], "band")
        else:
            dashed = series.get("lineStyle", {}).get("type") == "dashed"
            entries[series["name"]] = LegendEntry(series["name"], series["color"], "dashed" if dashed else "line")
    return option["title"]["text"], option["title"].get("subtext", ""), list(entries.values())


def _number(value: float) -> float | None:
    """A JSON-safe number rounded to what a chart can show (None for a gap)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{float(value):.{DIGITS}g}")
