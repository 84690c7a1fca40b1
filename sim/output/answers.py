"""Policy answers from two scenarios' yearly tables, as analysts define them.

Both scenarios ran on the same seeds (common random numbers), so each seed gives a pair of
worlds that differ only by the policy; every answer is computed per seed as B minus A and then
summarised over seeds with :func:`sim.output.intervals.interval`. The answers cover the years
from ``since`` (the first what-if year) to the last simulated year:

- man-years gained, summed over those years (man-year-years: a job kept for ten years counts
  ten) and in the end year alone;
- value added gained, summed and in the end year;
- the cost of the cluster programme (the money paid to cluster organisations, what ``report``
  counts) and of the other instruments (restructuring, corporate networks, Green Platform), apart;
- cost per man-year (public cost over man-years, both summed over the same years) and value
  added per NOK of public cost, undiscounted and discounted at :data:`DISCOUNT_RATE`.

A ratio is given as a number only where the interval of its denominator excludes zero: when the
policy may have changed employment (or cost) by nothing, the ratio could have any size or sign.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.output.intervals import MIN_SEEDS_FOR_T, Interval, interval

DISCOUNT_RATE = 0.04
DISCOUNT_SOURCE = ("4 % a year real: the Ministry of Finance's rate for the first 40 years of a public measure, "
                   "Rundskriv R-109/2021 (docs/sources.md#fin-r109)")
BOOTSTRAP_DRAWS = 2000
NOK = "NOK"


@dataclass(frozen=True)
class Outcome:
    """One per-seed figure of a scenario: its name, label and unit, and how it is read from yearly rows."""

    name: str
    label: str
    unit: str
    value: Callable[[pd.DataFrame, pd.Series], float]  # (the seed's rows from `since`, discount factors)


def _total(column: str) -> Callable[[pd.DataFrame, pd.Series], float]:
    return lambda rows, _: float(rows[column].sum())


def _end(column: str) -> Callable[[pd.DataFrame, pd.Series], float]:
    return lambda rows, _: float(rows[column].iloc[-1])


def _present(*columns: str) -> Callable[[pd.DataFrame, pd.Series], float]:
    return lambda rows, factor: float((rows[list(columns)].sum(axis=1) * factor).sum())


def _sum(*columns: str) -> Callable[[pd.DataFrame, pd.Series], float]:
    return lambda rows, _: float(rows[list(columns)].to_numpy().sum())


def _twin_total(column: str) -> Callable[[pd.DataFrame, pd.Series], float]:
    """A twin-world column summed; NaN when the runs had no twin (``--no-effects``)."""
    return lambda rows, _: float(rows[column].sum()) if column in rows else float("nan")


OUTCOMES = (
    Outcome("man_years_total", "man-years, summed over the years", "man-years", _total("employment")),
    Outcome("man_years_end", "man-years in the end year", "man-years", _end("employment")),
    Outcome("value_added_total_nok", "value added, summed over the years", NOK, _total("value_added_nok")),
    Outcome("value_added_end_nok", "value added in the end year", NOK, _end("value_added_nok")),
    Outcome("members_end", "cluster members in the end year", "firms", _end("members")),
    Outcome("clusters_end", "clusters in the end year", "clusters", _end("clusters")),
    Outcome("programme_cost_nok", "cluster programme cost", NOK, _total("programme_spend_nok")),
    Outcome("other_instruments_cost_nok", "other instruments' cost", NOK,
            _total("lever_spend_nok")),
    Outcome("public_cost_nok", "public cost (programme + other)", NOK,
            _sum("programme_spend_nok", "lever_spend_nok")),
    Outcome("man_years_discounted", "man-years, summed, discounted", "man-years", _present("employment")),
    Outcome("value_added_discounted_nok", "value added, summed, discounted", NOK, _present("value_added_nok")),
    Outcome("public_cost_discounted_nok", "public cost, discounted", NOK,
            _present("programme_spend_nok", "lever_spend_nok")),
    # Each scenario's own membership effect against its twin world (sim.twin): gross is what the members
    # and the firms the clusters caused gained themselves; net is the whole economy's gain, after what
    # they took from other firms (displacement, a tighter labour market).
    Outcome("membership_man_years_gross", "man-years membership made, gross (members' own), summed", "man-years",
            _twin_total("treatment_jobs_gross")),
    Outcome("membership_man_years_net", "man-years membership made, net (whole economy), summed", "man-years",
            _twin_total("treatment_jobs")),
    Outcome("membership_value_added_gross_nok", "value added membership made, gross, summed", NOK,
            _twin_total("treatment_value_added_gross_nok")),
    Outcome("membership_value_added_net_nok", "value added membership made, net, summed", NOK,
            _twin_total("treatment_value_added_nok")),
)
RATIOS = (  # name, label, unit, numerator, denominator
    ("cost_per_man_year_nok", "public cost per man-year", "NOK per man-year", "public_cost_nok", "man_years_total"),
    ("cost_per_man_year_discounted_nok", "public cost per man-year, discounted", "NOK per man-year",
     "public_cost_discounted_nok", "man_years_discounted"),
    ("value_added_per_nok", "value added per NOK of public cost", "NOK per NOK", "value_added_total_nok",
     "public_cost_nok"),
    ("value_added_per_nok_discounted", "value added per NOK of public cost, discounted", "NOK per NOK",
     "value_added_discounted_nok", "public_cost_discounted_nok"),
)
COLUMNS = ["metric", "label", "unit", "a_mean", "b_mean", "difference", "low", "high", "seeds", "interval", "note"]


def outcomes(yearly: pd.DataFrame, since: int, rate: float = DISCOUNT_RATE) -> pd.DataFrame:
    """Per-seed outcomes over the years from ``since`` to the last year.

    Args:
        yearly: Yearly tables of several seeds (``seed`` column).
        since: First year counted; discounting is to this year (its factor is 1).
        rate: Real discount rate a year.

    Returns:
        One row per seed (index ``seed``), one column per :data:`OUTCOMES` entry.
    """
    window = yearly[yearly["year"] >= since].sort_values(["seed", "year"])
    rows = {}
    for seed, group in window.groupby("seed"):
        factor = (1.0 + rate) ** -(group["year"] - since).to_numpy()
        rows[seed] = {o.name: o.value(group, factor) for o in OUTCOMES}
    return pd.DataFrame.from_dict(rows, orient="index").rename_axis("seed")


def answers(a: pd.DataFrame, b: pd.DataFrame, since: int, rate: float = DISCOUNT_RATE) -> pd.DataFrame:
    """B minus A per outcome and the ratios, each with its interval over seeds.

    Args:
        a: Yearly tables of scenario A (``seed`` column).
        b: Yearly tables of scenario B, on the same seeds.
        since: First year counted.
        rate: Real discount rate a year.

    Returns:
        One row per figure: :data:`COLUMNS`. ``note`` says why a ratio is not given.
    """
    oa, ob = outcomes(a, since, rate), outcomes(b, since, rate)
    seeds = oa.index.intersection(ob.index)
    oa, ob = oa.loc[seeds], ob.loc[seeds]
    diff = ob - oa
    rows = []
    for o in OUTCOMES:
        if oa[o.name].isna().all() and ob[o.name].isna().all():
            continue  # a twin-world figure of runs made without the twin
        iv = interval(diff[o.name])
        rows.append((o.name, o.label, o.unit, oa[o.name].mean(), ob[o.name].mean(), *_cells(iv), ""))
    labels, units = {o.name: o.label for o in OUTCOMES}, {o.name: o.unit for o in OUTCOMES}
    for name, label, unit, num, den in RATIOS:
        iv, note = ratio(diff[num].to_numpy(), diff[den].to_numpy(), labels[den], units[den])
        rows.append((name, label, unit, np.nan, np.nan, *_cells(iv), note))
    return pd.DataFrame(rows, columns=COLUMNS)


def _cells(iv: Interval) -> tuple:
    return iv.mean, iv.low, iv.high, iv.seeds, iv.label


def ratio(num: np.ndarray, den: np.ndarray, den_label: str, den_unit: str = "") -> tuple[Interval, str]:
    """The ratio of two mean differences with an interval, or a reason why there is none.

    Args:
        num: Per-seed differences of the numerator.
        den: Per-seed differences of the denominator.
        den_label: What the denominator is, for the reason.
        den_unit: Its unit (NOK amounts are shown in NOK million).

    Returns:
        The interval (NaN mean when not given) and the reason (empty when given). From 5 seeds on
        the interval is a bootstrap percentile interval over seeds; with 2-4 seeds the range of the
        seeds' own ratios.
    """
    n = len(den)
    d = interval(den)
    if n < 2:
        return Interval(np.nan, np.nan, np.nan, n, ""), (f"not given: one seed cannot show that the change in "
                                                          f"{den_label} differs from zero")
    if d.includes_zero():
        return Interval(np.nan, np.nan, np.nan, n, d.kind), (
            f"not given: the change in {den_label} could be zero ({d.label}: {plain(in_unit(d.low, den_unit)[0])} to "
            f"{plain(in_unit(d.high, den_unit)[0])} {in_unit(0, den_unit)[1]}), "
            "so the ratio could have any size or sign")
    point = float(num.mean() / den.mean())
    if n < MIN_SEEDS_FOR_T:
        own = num / den
        return Interval(point, float(own.min()), float(own.max()), n, "range"), ""
    rng = np.random.default_rng(0)  # a fixed stream: the same runs give the same interval
    idx = rng.integers(0, n, (BOOTSTRAP_DRAWS, n))
    with np.errstate(divide="ignore", invalid="ignore"):
        draws = num[idx].mean(axis=1) / den[idx].mean(axis=1)
    low, high = np.nanpercentile(draws, [2.5, 97.5])
    return Interval(point, float(low), float(high), n, "t"), ""


def yearly_difference(a: pd.DataFrame, b: pd.DataFrame, columns: list[str]) -> pd.DataFrame:
    """B minus A year by year, paired by seed, with intervals.

    Args:
        a: Yearly tables of A (``seed`` column).
        b: Yearly tables of B.
        columns: The yearly columns to difference.

    Returns:
        ``year, column, a_mean, b_mean, difference, low, high, seeds, interval``.
    """
    ia, ib = a.set_index(["seed", "year"]), b.set_index(["seed", "year"])
    both = ia.index.intersection(ib.index)
    diff = ib.loc[both, columns] - ia.loc[both, columns]
    rows = []
    for year in sorted(both.get_level_values("year").unique()):
        here = diff.xs(year, level="year")
        for column in columns:
            iv = interval(here[column])
            rows.append((year, column, ia.loc[both].xs(year, level="year")[column].mean(),
                         ib.loc[both].xs(year, level="year")[column].mean(), *_cells(iv)))
    return pd.DataFrame(rows, columns=["year", "column", "a_mean", "b_mean", "difference", "low", "high", "seeds",
                                       "interval"])


def plain(x: float) -> str:
    """A number as people read it: thousands separators, no scientific notation, sensible decimals.

    Args:
        x: The number.

    Returns:
        The text, e.g. ``1,234,567``, ``12.3``, ``0.042``; ``-`` for NaN.
    """
    if not np.isfinite(x):
        return "-"
    if x == 0:
        return "0"
    if abs(x) >= 100:
        return f"{x:,.0f}"
    if abs(x) >= 1:
        return f"{x:,.2f}"
    return f"{x:.3f}"


def in_unit(x: float, unit: str) -> tuple[float, str]:
    """NOK amounts in NOK million (what budgets are read in); others unchanged.

    Args:
        x: The value.
        unit: Its unit.

    Returns:
        The value and unit to show.
    """
    return (x / 1e6, "NOK m") if unit == NOK else (x, unit)


def text_table(table: pd.DataFrame, names: tuple[str, str]) -> str:
    """The answers as a plain-text table to print.

    Args:
        table: From :func:`answers`.
        names: The scenarios' names (A, B).

    Returns:
        Lines ready to print; a ratio that is not given shows its reason below the table.
    """
    head = ["figure", "unit", names[0], names[1], "B - A", "interval", "interval is"]
    rows, reasons = [], []
    for r in table.itertuples():
        a, unit = in_unit(r.a_mean, r.unit)
        b, _ = in_unit(r.b_mean, r.unit)
        d, _ = in_unit(r.difference, r.unit)
        lo, _ = in_unit(r.low, r.unit)
        hi, _ = in_unit(r.high, r.unit)
        if r.note:
            reasons.append(f"{r.label}: {r.note}")
            d_text, span = "see below", ""
        else:
            d_text, span = plain(d), (f"{plain(lo)} to {plain(hi)}" if np.isfinite(lo) else "")
        rows.append([r.label, unit, plain(a) if np.isfinite(a) else "", plain(b) if np.isfinite(b) else "",
                     d_text, span, r.interval])
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *rows]]
    notes = ["cluster programme cost: money paid to cluster organisations (what `report` counts as programme spend); "
             "other instruments: restructuring, corporate networks, Green Platform.", *reasons]
    return "\n".join(lines + notes)
