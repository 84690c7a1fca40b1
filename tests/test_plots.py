"""The effects plot (``effects.png``): the event study as one line per estimator, leads marked as placebos."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest
from matplotlib.colors import to_rgba

from sim.output import plots

LEADS, LAGS = [-4, -3, -2, -1], [1, 2, 3, 4, 5]


def _by_year(years: list[int] = LEADS + LAGS, missing: tuple[int, ...] = ()) -> pd.DataFrame:
    """An ``effects_by_year`` table: every metric and estimator, a gap of ``2 * year`` with a band of +-1."""
    rows = []
    for metric in plots.METRIC_LABELS:
        for estimator in plots.ESTIMATOR_LABELS:
            for year in years:
                gap = math.nan if year in missing and estimator == "matched_did" else 2.0 * year
                rows.append({"metric": metric, "estimator": estimator, "years_since_joining": year,
                             "gap_pp": gap, "ci_low": gap - 1.0, "ci_high": gap + 1.0, "n_treated": 10})
    return pd.DataFrame(rows)


def _estimator_lines(ax) -> dict[str, object]:
    return {line.get_label(): line for line in ax.get_lines() if line.get_label() in plots.ESTIMATOR_LABELS.values()}


def test_each_estimator_is_one_unbroken_line_from_the_earliest_lead_to_the_last_year():
    fig = plots.effects_figure(_by_year(missing=(-1,)))
    for ax in fig.axes:
        lines = _estimator_lines(ax)
        assert set(lines) == set(plots.ESTIMATOR_LABELS.values())
        published = lines[plots.ESTIMATOR_LABELS["matched_did"]]
        x, y = np.asarray(published.get_xdata(), float), np.asarray(published.get_ydata(), float)
        assert np.isfinite(y).all()  # a year without a figure is stepped over, not a break in the line
        assert x.tolist() == [-4, -3, -2, 0, 1, 2, 3, 4]
        true = lines[plots.ESTIMATOR_LABELS["true_effect"]]
        assert np.diff(np.asarray(true.get_xdata(), float)).tolist() == [1.0] * 8  # year -1 then year 1: one step


def test_the_axis_has_no_year_zero_and_labels_the_years_since_joining():
    ax = plots.effects_figure(_by_year()).axes[0]
    assert [t.get_text() for t in ax.get_xticklabels()] == ["-4", "-3", "-2", "-1", "1", "2", "3", "4", "5"]
    assert plots.event_position(pd.Series([-1, 1, 5])).tolist() == [-1, 0, 4]


def test_the_leads_are_shaded_hollow_and_named_placebo_tests_and_the_joining_is_marked():
    fig = plots.effects_figure(_by_year())
    ax = fig.axes[0]
    shades = [p for p in ax.patches if p.get_facecolor() == to_rgba(plots.PLACEBO_SHADE["color"])]
    assert len(shades) == 1
    left, right = shades[0].get_x(), shades[0].get_x() + shades[0].get_width()
    assert (left, right) == pytest.approx((-4.5, -0.5))
    hollow = [line for line in ax.get_lines() if line.get_markerfacecolor() == "white"]
    assert len(hollow) == 2 and all(max(line.get_xdata()) < 0 for line in hollow)  # leads only, both estimators
    joins = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
    assert [line.get_xdata()[0] for line in joins] == [-0.5]
    assert any(text.get_text().strip() == plots.JOINING_LABEL for text in ax.texts)
    legend = [text.get_text() for text in fig.legends[0].get_texts()]
    assert legend == [*plots.ESTIMATOR_LABELS.values(), plots.PLACEBO_LABEL]


def test_without_leads_nothing_is_marked_as_a_placebo():
    fig = plots.effects_figure(_by_year(LAGS))
    assert not any(text.get_text().strip() == plots.JOINING_LABEL for text in fig.axes[0].texts)
    assert plots.PLACEBO_LABEL not in [text.get_text() for text in fig.legends[0].get_texts()]


def test_the_projection_is_marked_in_the_same_style_as_the_joining():
    fig = plots.economy_figure(pd.DataFrame({"year": [2000, 2001, 2002, 2003], "employment": [1.0, 2.0, 3.0, 4.0],
                                             "value_added_nok": [1.0, 2.0, 3.0, 4.0]}), history_until=2001)
    for ax in fig.axes:
        (marker,) = [line for line in ax.get_lines() if line.get_linestyle() == "--"]
        assert marker.get_xdata()[0] == 2001.5
        assert [text.get_text().strip() for text in ax.texts] == [plots.PROJECTION_LABEL]
