"""The app's live plots as ECharts options: plain dictionaries the browser draws.

The browser renders the charts, so a simulated year costs the server a few small dictionaries
instead of five matplotlib drawings, which keeps a year's redraw well under half a second; the
charts also show each value on hover. Every function takes plain tables, so a chart can be
tested by reading its series. The x axis always spans the whole scenario, so lines grow to the
right instead of the axis rescaling every year.
"""

from __future__ import annotations

import math
from typing import Any

import pandas as pd

from sim.app.drawing import LEVEL_COLOURS, LEVEL_NAMES
from sim.scenario.params import LEVELS

MEMBER_COLOUR, NONMEMBER_COLOUR, REFERENCE_COLOUR = "#1f77b4", "#7f7f7f", "#222222"
RAW_COLOUR, TRUE_COLOUR = "#d62728", "#2ca02c"
EVENT_COLOUR = "#999999"
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


def selection_chart(effects: pd.DataFrame, years: range, events: list[tuple[int, str]]) -> dict[str, Any]:
    """The raw member-vs-non-member gap beside the true effect, both averaged over the years so far.

    The average is what a statistics office would publish from the years observed; the true effect
    compares the same member firms with themselves in the twin world without services.

    Args:
        effects: ``year, raw_gap_pp, true_effect_pp`` (:meth:`sim.app.session.Session.effects_table`).
        years: The x axis.
        events: Control changes.

    Returns:
        The ECharts option; its title gives the selection share so far.
    """
    rows = effects.dropna()
    averaged = rows.assign(raw=rows["raw_gap_pp"].expanding().mean(), true=rows["true_effect_pp"].expanding().mean())
    title = "Selection vs treatment (pp)"
    raw, true = (averaged["raw"].iloc[-1], averaged["true"].iloc[-1]) if len(rows) else (math.nan, math.nan)
    if raw > 0:
        title = f"Raw gap {raw:+.1f}, true effect {true:+.1f} pp: {max(0.0, 1.0 - true / raw):.0%} selection"
    return _chart(title, years, events, [
        _line("Raw gap: members vs others", averaged, "raw", years, RAW_COLOUR),
        _line("True effect: members vs their twins", averaged, "true", years, TRUE_COLOUR),
    ])


def levels_chart(yearly: pd.DataFrame, reference: pd.DataFrame | None, years: range,
                 events: list[tuple[int, str]]) -> dict[str, Any]:
    """Cluster organisations in the programme by level, stacked, and dashed the reference's total.

    Args:
        yearly: The main world's yearly table.
        reference: The reference world's table, or None when it equals the main world.
        years: The x axis.
        events: Control changes.

    Returns:
        The ECharts option.
    """
    series = [_line(LEVEL_NAMES[lv], yearly, f"clusters_{lv}", years, LEVEL_COLOURS[lv])
              | {"stack": "levels", "areaStyle": {}} for lv in LEVELS]
    if reference is not None:
        series.append(_reference(_line(REFERENCE_NAME, reference, "clusters", years, REFERENCE_COLOUR)))
    return _chart("Cluster organisations by level", years, events, series)


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
           series: list[dict[str, Any]]) -> dict[str, Any]:
    if series and events:
        # A control moved during year y acts from year y + 1: the mark sits on that year.
        marks = [{"xAxis": str(year + 1), "name": text} for year, text in events if year + 1 in years]
        series[0] = series[0] | {"markLine": {"symbol": "none", "silent": True, "label": {"show": False},
                                              "lineStyle": {"type": "dotted", "color": EVENT_COLOUR}, "data": marks}}
    return {
        "animation": False,
        "title": {"text": title, "left": "center", "textStyle": {"fontSize": 13}},
        "tooltip": {"trigger": "axis"},
        "legend": {"top": 24, "type": "scroll", "textStyle": {"fontSize": 11}},
        "grid": {"left": 56, "right": 16, "top": 58, "bottom": 28},
        "xAxis": {"type": "category", "data": [str(y) for y in years], "boundaryGap": False},
        "yAxis": {"type": "value", "scale": True},
        "series": series,
    }


def _number(value: float) -> float | None:
    """A JSON-safe number rounded to what a chart can show (None for a gap)."""
    if value is None or not math.isfinite(value):
        return None
    return float(f"{float(value):.{DIGITS}g}")
