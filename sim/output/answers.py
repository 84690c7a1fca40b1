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

Over draws of the calibration's posterior (``compare --posterior``, each seed belonging to one draw),
every answer is summarised with :func:`sim.output.intervals.spread` instead: the mean over draws x
seeds, the 90 % interval of the single results, and its variance split between the draws' means
(parameter uncertainty) and the spread within a draw (seed uncertainty). A ratio's interval is then
that of the runs' own ratios, given where the denominator's 90 % interval excludes zero.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass

import numpy as np
import pandas as pd

from sim.output.intervals import COVERAGE, MIN_SEEDS_FOR_T, Interval, Spread, interval, spread

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
SEED_CELLS = ["difference", "low", "high", "seeds", "interval"]
SPREAD_CELLS = ["difference", "low", "high", "draws", "seeds", "interval", "parameter_low", "parameter_high",
                "parameter_share", "seed_sd", "seed_share", "parameter_variance", "seed_variance"]
COLUMNS = ["metric", "label", "unit", "a_mean", "b_mean", *SEED_CELLS, "note"]
POSTERIOR_COLUMNS = ["metric", "label", "unit", "a_mean", "b_mean", *SPREAD_CELLS, "note"]
# Each scenario's own membership effect (summary.json's headline), summarised over a posterior's runs.
EFFECT_FIGURES = (  # headline figure, label, unit, multiplier
    ("gap_value_added_pp", "measured gap in value added growth (published design), years 1-3", "pp a year", 1.0),
    ("true_value_added_pp", "true effect on value added growth (twin world), years 1-3", "pp a year", 1.0),
    ("selection_share_value_added", "selection: share of the measured gap that is not the programme's doing",
     "%", 100.0),
)
EFFECT_COLUMNS = ["scenario", "metric", "label", "unit", "mean", *SPREAD_CELLS[1:]]


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


def answers(a: pd.DataFrame, b: pd.DataFrame, since: int, rate: float = DISCOUNT_RATE,
            draw_of: Mapping[int, int] | None = None) -> pd.DataFrame:
    """B minus A per outcome and the ratios, each with its interval over seeds (or over posterior draws x seeds).

    Args:
        a: Yearly tables of scenario A (``seed`` column).
        b: Yearly tables of scenario B, on the same seeds.
        since: First year counted.
        rate: Real discount rate a year.
        draw_of: Seed -> posterior draw, when each seed ran one draw's parameters (``compare --posterior``).

    Returns:
        One row per figure: :data:`COLUMNS`, or :data:`POSTERIOR_COLUMNS` with ``draw_of``. ``note`` says
        why a ratio is not given.
    """
    oa, ob = outcomes(a, since, rate), outcomes(b, since, rate)
    seeds = oa.index.intersection(ob.index)
    oa, ob = oa.loc[seeds], ob.loc[seeds]
    diff = ob - oa
    draws = None if draw_of is None else seeds.map(draw_of).to_numpy()
    rows = []
    for o in OUTCOMES:
        if oa[o.name].isna().all() and ob[o.name].isna().all():
            continue  # a twin-world figure of runs made without the twin
        rows.append((o.name, o.label, o.unit, oa[o.name].mean(), ob[o.name].mean(), *summary(diff[o.name], draws),
                     ""))
    labels, units = {o.name: o.label for o in OUTCOMES}, {o.name: o.unit for o in OUTCOMES}
    for name, label, unit, num, den in RATIOS:
        args = (diff[num].to_numpy(), diff[den].to_numpy())
        if draws is None:
            iv, note = ratio(*args, labels[den], units[den])
            cells = _cells(iv)
        else:
            sp, note = posterior_ratio(*args, draws, labels[den], units[den])
            cells = _spread_cells(sp)
        rows.append((name, label, unit, np.nan, np.nan, *cells, note))
    return pd.DataFrame(rows, columns=COLUMNS if draws is None else POSTERIOR_COLUMNS)


def summary(values: pd.Series | np.ndarray, draws: np.ndarray | None) -> tuple:
    """A figure's cells: :data:`SEED_CELLS` over seeds, or :data:`SPREAD_CELLS` over the draws given.

    Args:
        values: One value per seed.
        draws: The posterior draw of each seed, or None.

    Returns:
        The cells, in column order.
    """
    return _cells(interval(values)) if draws is None else _spread_cells(spread(values, draws))


def _cells(iv: Interval) -> tuple:
    return iv.mean, iv.low, iv.high, iv.seeds, iv.label


def _spread_cells(sp: Spread) -> tuple:
    return (sp.mean, sp.low, sp.high, sp.draws, sp.seeds, sp.label, sp.parameter_low, sp.parameter_high,
            sp.parameter_share, sp.seed_sd, sp.seed_share, sp.parameter_variance, sp.seed_variance)


def _could_be_zero(den_label: str, den_unit: str, label: str, low: float, high: float) -> str:
    """Why a ratio is not given: its denominator's interval includes zero."""
    return (f"not given: the change in {den_label} could be zero ({label}: {plain(in_unit(low, den_unit)[0])} to "
            f"{plain(in_unit(high, den_unit)[0])} {in_unit(0, den_unit)[1]}), so the ratio could have any size or sign")


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
        return Interval(np.nan, np.nan, np.nan, n, d.kind), _could_be_zero(den_label, den_unit, d.label, d.low, d.high)
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


def posterior_ratio(num: np.ndarray, den: np.ndarray, draws: np.ndarray, den_label: str,
                    den_unit: str = "") -> tuple[Spread, str]:
    """The ratio of two mean differences over posterior draws x seeds, or a reason why there is none.

    Args:
        num: Per-run differences of the numerator.
        den: Per-run differences of the denominator.
        draws: The draw of each run.
        den_label: What the denominator is, for the reason.
        den_unit: Its unit.

    Returns:
        The spread of the runs' own ratios with the ratio of the mean differences as its mean (NaN
        when not given), and the reason (empty when given).
    """
    d = spread(den, draws)
    none = Spread(np.nan, np.nan, np.nan, d.draws, d.seeds, np.nan, np.nan, np.nan, np.nan)
    if np.isfinite(den).sum() < 2:
        return none, f"not given: one run cannot show that the change in {den_label} differs from zero"
    if d.includes_zero():
        return none, _could_be_zero(den_label, den_unit, d.label, d.low, d.high)
    with np.errstate(divide="ignore", invalid="ignore"):
        own = spread(num / den, draws)
    return own._replace(mean=float(np.nanmean(num) / np.nanmean(den))), ""


def membership_effects(sides: list[tuple[str, pd.DataFrame]], draw_of: Mapping[int, int]) -> pd.DataFrame:
    """Each scenario's own membership effect and selection share over posterior draws x seeds.

    Args:
        sides: (scenario name, one row per run: ``seed`` and the headline figures of its summary.json).
        draw_of: Seed -> posterior draw.

    Returns:
        One row per scenario and :data:`EFFECT_FIGURES` entry its runs measured: :data:`EFFECT_COLUMNS`.
    """
    rows = []
    for name, runs in sides:
        draws = runs["seed"].map(draw_of).to_numpy()
        for metric, label, unit, factor in EFFECT_FIGURES:
            if metric in runs and runs[metric].notna().any():
                rows.append((name, metric, label, unit, *_spread_cells(spread(runs[metric] * factor, draws))))
    return pd.DataFrame(rows, columns=EFFECT_COLUMNS)


def yearly_difference(a: pd.DataFrame, b: pd.DataFrame, columns: list[str],
                      draw_of: Mapping[int, int] | None = None) -> pd.DataFrame:
    """B minus A year by year, paired by seed, with intervals (over posterior draws x seeds with ``draw_of``).

    Args:
        a: Yearly tables of A (``seed`` column).
        b: Yearly tables of B.
        columns: The yearly columns to difference.
        draw_of: Seed -> posterior draw, or None.

    Returns:
        ``year, column, a_mean, b_mean`` and :data:`SEED_CELLS` (or :data:`SPREAD_CELLS`).
    """
    ia, ib = a.set_index(["seed", "year"]), b.set_index(["seed", "year"])
    both = ia.index.intersection(ib.index)
    diff = ib.loc[both, columns] - ia.loc[both, columns]
    rows = []
    for year in sorted(both.get_level_values("year").unique()):
        here = diff.xs(year, level="year")
        draws = None if draw_of is None else here.index.map(draw_of).to_numpy()
        for column in columns:
            rows.append((year, column, ia.loc[both].xs(year, level="year")[column].mean(),
                         ib.loc[both].xs(year, level="year")[column].mean(), *summary(here[column], draws)))
    return pd.DataFrame(rows, columns=["year", "column", "a_mean", "b_mean",
                                       *(SEED_CELLS if draw_of is None else SPREAD_CELLS)])


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
        table: From :func:`answers` (over seeds, or over posterior draws x seeds).
        names: The scenarios' names (A, B).

    Returns:
        Lines ready to print; a ratio that is not given shows its reason below the table. Over a
        posterior, two more columns give the parameters' and the seeds' parts.
    """
    posterior = "parameter_share" in table
    part_heads = ["parameters: share, draws' means", "seeds: share, sd"] if posterior else ["interval is"]
    head = ["figure", "unit", names[0], names[1], "B - A",
            f"{100 * COVERAGE:.0f} % interval" if posterior else "interval", *part_heads]
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
        parts = parts_text(r._asdict()) if posterior else [r.interval]
        rows.append([r.label, unit, plain(a) if np.isfinite(a) else "", plain(b) if np.isfinite(b) else "",
                     d_text, span, *parts])
    widths = [max(len(str(x[i])) for x in [head, *rows]) for i in range(len(head))]
    lines = ["  ".join(str(c).ljust(w) if i < 2 else str(c).rjust(w) for i, (c, w) in enumerate(zip(row, widths)))
             for row in [head, *rows]]
    notes = ["cluster programme cost: money paid to cluster organisations (what `report` counts as programme spend); "
             "other instruments: restructuring, corporate networks, Green Platform.", *reasons]
    return "\n".join(lines + notes)


def parts_text(row: Mapping) -> list[str]:
    """A posterior answer's two parts as people read them: ``["70 %: -1,900 to -700", "30 %: sd 300"]``.

    Args:
        row: An answer with :data:`SPREAD_CELLS` and ``unit``.

    Returns:
        The parameters' share and the range of the draws' means; the seeds' share and the standard
        deviation within a draw (in the answer's unit as shown); dashes where there is no spread.
    """
    if not np.isfinite(row["parameter_share"]):
        return ["-", "-"]
    low, high, sd = (in_unit(row[k], row["unit"])[0] for k in ("parameter_low", "parameter_high", "seed_sd"))
    return [f"{100 * row['parameter_share']:.0f} %: {plain(low)} to {plain(high)}",
            f"{100 * row['seed_share']:.0f} %: sd {plain(sd)}"]


SEEDS_ONLY = ("These intervals hold seed uncertainty only: every run uses the parameters of the committed "
              "calibration's central draw (calibration/calibrated.toml), so they say how precisely the seeds pin down "
              "B - A at those parameters, not what the calibration leaves open. Add --posterior N to run the "
              "comparison over N draws of the calibration's posterior.")


def spread_note(draws: int, seeds: int) -> str:
    """What a posterior answer's interval and parts mean, in plain words.

    Args:
        draws: Posterior draws.
        seeds: Seeds per draw.

    Returns:
        The text.
    """
    return (f"Each figure is the mean over {draws} draws of the calibration's posterior x {seeds} seeds (the "
            f"draw's parameters in both scenarios, common random numbers within each draw). Its {100 * COVERAGE:.0f} % "
            f"interval spans {100 * COVERAGE:.0f} % of the {draws * seeds} runs' own results: parameter and seed "
            "uncertainty together. Its variance splits into two parts that add up to 100 %: parameters, the spread "
            f"between the draws' means (what the calibration leaves open; shown with the {100 * COVERAGE:.0f} % range "
            "of the draws' means), and seeds, the mean spread within a draw (the luck of one simulated Norway at this "
            "population scale; shown with its standard deviation). A draw's mean still carries about "
            f"1/{seeds} of the seeds' variance, so with few seeds the parameters' share is a little too high.")
