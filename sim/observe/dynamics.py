"""Firm dynamics as a statistics office measures them, beside the published figures.

From the register's firm-year panel, :func:`firm_dynamics` measures what business-demography and
firm-growth studies report: the size distribution, the distribution of yearly growth rates by size
and by age, the survival of birth cohorts, entry and exit rates, exit by age ("up or out"), and who
joins clusters. Each measure is one row of a long table (:data:`~sim.observe.columns.DYNAMICS_COLUMNS`)
with the published figure beside it where one exists (:data:`BENCHMARKS`, keys of docs/sources.md).

Conventions (docs/ODD.md, observation):

- A firm *operates* in year t when the panel has a row for it in t: open at the end of the year
  (``alive``) or closed during it (the row of its last year). Every simulated firm is an employer
  firm: firms below ``growth.min_employees`` man-years close.
- *Size* is man-years (``employees``); classes are Statistics Norway's (0-4, 5-9, ..., 250+, the
  first holding firms under 5 man-years). A growth rate is classed by size at the start of the year.
- *Age* in year t is ``t - birth_year`` (Haltiwanger, Jarmin and Miranda's convention: growth from
  t-1 to t belongs to the firm's age in t, so entrants have none).
- *Growth* is the log change of man-years from t-1 to t, times 100 (about per cent), of firms open at
  the end of t-1 and operating in t (the exits of year t included: they operated in it). Its shape
  (kurtosis, share within one sd) is measured on rates demeaned by year, as Bottazzi and Secchi do.
- *Entry and exit rates* are the year's new and closed firms against the firms open on 1 January
  (the end of the year before), as Statistics Norway reports them.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd

from sim.engine import dynamics as kernels
from sim.observe.columns import DYNAMICS_COLUMNS

#: Statistics Norway's size classes of enterprises by persons employed: (label, lower bound).
SIZE_CLASSES: tuple[tuple[str, float], ...] = (
    ("0-4", 0.0), ("5-9", 5.0), ("10-19", 10.0), ("20-49", 20.0), ("50-99", 50.0), ("100-249", 100.0),
    ("250+", 250.0),
)  # fmt: skip
#: Age classes in years: (label, youngest age).
AGE_CLASSES: tuple[tuple[str, int], ...] = (("0-2", 0), ("3-5", 3), ("6-10", 6), ("11+", 11))
#: Survival is followed this many years after birth.
SURVIVAL_YEARS = 5
#: Birth cohorts whose survival is measured when the panel covers them: those of Statistics Norway's
#: published five-year survival of employer start-ups (2005 and 2008; docs/sources.md).
SURVIVAL_COHORTS = (2005, 2012)
#: The year of the published size distribution (docs/sources.md, SSB-ENT-2017).
SIZE_YEAR = 2017
#: Joiners' size is counted against this many man-years (issue: members are micro firms).
SMALL_JOINER = 5.0
GROWTH = "100 x log change of man-years"


@dataclass(frozen=True)
class Benchmark:
    """A published figure to set beside a measure.

    Attributes:
        value: The figure, in the measure's unit; NaN when the finding is a shape or a sign.
        source: Its key in docs/sources.md.
        note: How it was measured and how far it is comparable.
    """

    value: float
    source: str
    note: str


_SSB_ENT = "enterprises by persons employed in 2017, classes from 1 (306,878 employer enterprises)"
_DEM_NOTE = "all enterprises (most without employees) against the stock on 1 January"
_SSB_ENTRY = {2001: 35_537 / 262_379, 2002: 39_041 / 268_491, 2003: 38_747 / 290_432, 2004: 43_068 / 289_955,
              2005: 47_436 / 298_360, 2006: 51_374 / 306_219, 2007: 48_952 / 326_108, 2008: 46_567 / 334_433,
              2019: 65_600 / 423_062}  # fmt: skip
_SSB_EXIT = {2001: 32_874 / 262_379, 2002: 27_633 / 268_491, 2003: 41_651 / 290_432, 2004: 38_914 / 289_955,
             2005: 30_148 / 298_360, 2006: 42_902 / 306_219, 2007: 49_791 / 326_108, 2008: 50_403 / 334_433,
             2019: 56_997 / 423_062}  # fmt: skip
_DEM_SOURCE = {**dict.fromkeys(range(2001, 2006), "SSB-DEM-2001-2005"),
               **dict.fromkeys(range(2006, 2009), "SSB-DEM-2006-2008"), 2019: "SSB-FORETAK-2021"}  # fmt: skip
_SSB_ENT_2017 = {"0-4": 243_829, "5-9": 30_803, "10-19": 17_781, "20-49": 9_861, "50-99": 2_485, "100-249": 1_385,
                 "250+": 734}  # fmt: skip

#: Published figures by (measure, by, group): docs/sources.md gives each source in full.
BENCHMARKS: dict[tuple[str, str, str], Benchmark] = {
    **{("firms_share", "size_class", size): Benchmark(100.0 * count / sum(_SSB_ENT_2017.values()), "SSB-ENT-2017",
                                                      _SSB_ENT)
       for size, count in _SSB_ENT_2017.items()},
    ("survival", "years_since_birth", str(SURVIVAL_YEARS)): Benchmark(
        53.0, "SSB-FORDEM-2012", "new enterprises with employed persons, 2005 cohort active in 2010 "
                                 "(2008 cohort: 54.6, SSB-FORDEM-2015)"),
    ("survival", "size_at_birth", "5+"): Benchmark(
        71.0, "SSB-FORDEM-2012", "5 or more persons employed in the founding year, 2005 cohort "
                                 "(2007: 61.9, SSB-FORDEM-2014; 2008: 58.5, SSB-FORDEM-2015)"),
    **{("entry_rate", "year", str(y)): Benchmark(100.0 * rate, _DEM_SOURCE[y], _DEM_NOTE)
       for y, rate in _SSB_ENTRY.items()},
    **{("exit_rate", "year", str(y)): Benchmark(100.0 * rate, _DEM_SOURCE[y], _DEM_NOTE)
       for y, rate in _SSB_EXIT.items()},
    ("growth_excess_kurtosis", "all", "all"): Benchmark(
        3.0, "BOTTAZZI-2006", "a Laplace (tent-shaped) density has excess kurtosis 3, a normal one 0"),
    ("growth_within_1sd", "all", "all"): Benchmark(
        100.0 * (1.0 - np.exp(-np.sqrt(2.0))), "BOTTAZZI-2006",
        "share of a Laplace density within one sd of its mean (normal: 68.3)"),
    ("growth_autocorrelation", "all", "all"): Benchmark(
        np.nan, "COAD-2007", "near zero: negative for small firms, positive for large ones"),
    **{("growth_autocorrelation", "size_class", size): Benchmark(
        np.nan, "COAD-2007", "negative for small firms" if size in ("0-4", "5-9", "10-19") else
        "positive for large firms") for size, _ in SIZE_CLASSES},
    **{("growth_mean", "age_class", age): Benchmark(
        np.nan, "HALTIWANGER-2013", "young survivors grow fastest (up or out)") for age, _ in AGE_CLASSES},
    **{("exit_rate", "age_class", age): Benchmark(
        np.nan, "HALTIWANGER-2013", "young firms exit most (up or out)") for age, _ in AGE_CLASSES},
}


def firm_dynamics(panel: pd.DataFrame, scale: float = 1.0) -> pd.DataFrame:
    """The firm-dynamics table of a run.

    Args:
        panel: The register's firm-year panel (``firm_id, year, alive, employees, birth_year,
            member``, as :meth:`sim.observe.register.Register.firms` gives it).
        scale: ``population.scale``: firm counts are reported in full-scale units.

    Returns:
        One row per measure, group and period (:data:`~sim.observe.columns.DYNAMICS_COLUMNS`):
        ``value`` in ``unit``, ``n`` the simulated firms or firm-years behind it, and the published
        ``benchmark`` with its ``benchmark_source`` (a key of docs/sources.md) where one exists.
    """
    step = sample_step(len(panel))
    firm = panel["firm_id"].to_numpy()
    sample = Panel(panel, firm % step == 0 if step > 1 else None)
    # Joiners are few: measured on every firm that was ever a member, not on the sample.
    ever_member = np.zeros(int(firm.max()) + 1 if len(firm) else 0, dtype=bool)
    ever_member[firm[panel["member"].to_numpy(bool)]] = True
    rows = [*size_distribution(sample, scale / step), *growth_rates(sample), *survival(sample),
            *entry_and_exit(sample), *joiners(Panel(panel, ever_member[firm])), *member_shares(panel)]
    # The table is made once from its columns: added one by one, or read back row by row from pandas'
    # string arrays, it took longer than the measures.
    if not rows:
        return pd.DataFrame(columns=list(DYNAMICS_COLUMNS))
    marks = [benchmark(*row[:4]) for row in rows]
    measured = dict(zip(DYNAMICS_COLUMNS[:7], zip(*rows, strict=True)))
    columns = measured | {
        "value": np.array(measured["value"], dtype=np.float64), "n": np.array(measured["n"], dtype=np.int64),
        "benchmark": np.array([np.nan if b is None else b.value for b in marks], dtype=np.float64),
        "benchmark_source": [None if b is None else b.source for b in marks],
        "benchmark_note": [None if b is None else b.note for b in marks]}
    return pd.DataFrame({name: columns[name] for name in DYNAMICS_COLUMNS})


# Firm-years the table is measured on at most. Shares, rates and growth moments need no more; a
# full-scale panel (some six million firm-years) would take longer to measure than to simulate.
MAX_MEASURED_ROWS = 1_000_000


def sample_step(rows: int) -> int:
    """Every how many firms (by ``firm_id``) the table is measured on: 1 up to :data:`MAX_MEASURED_ROWS`.

    A systematic sample of firms keeps each sampled firm's whole history, so growth, survival and
    exit are measured as on the full panel; counts are scaled up by the step.

    Args:
        rows: Firm-years in the panel.

    Returns:
        The step, ``ceil(rows / MAX_MEASURED_ROWS)``, at least 1.
    """
    return max(-(-rows // MAX_MEASURED_ROWS), 1)


def benchmark(measure: str, by: str, group: str, period: str) -> Benchmark | None:
    """The published figure for a row of the table, if there is one.

    Args:
        measure: The row's measure.
        by: What the rows of the measure are grouped by.
        group: The row's group.
        period: The row's year or years.

    Returns:
        The benchmark, or None; the size distribution's is of one year and stands beside that year only.
    """
    found = BENCHMARKS.get((measure, by, group))
    if found is not None and measure == "firms_share" and period != str(SIZE_YEAR):
        return None
    return found


class Panel:
    """The panel as flat arrays, with each firm-year's row of the year before.

    Attributes:
        year, firm, alive, employees, member, birth, age: One value per firm-year.
        previous: The row of the same firm in the year before where it was open then, else -1.
        years: The panel's years, in order.
    """

    def __init__(self, panel: pd.DataFrame, rows: np.ndarray | None = None):
        """Flatten a panel and link each row to its firm's row of the year before.

        Args:
            panel: The register's firm-year panel.
            rows: The rows to keep (a mask or row numbers in order; all if None).
        """
        pick = slice(None) if rows is None else rows

        def column(name: str, dtype: type) -> np.ndarray:
            # Only the rows kept are copied and converted, of the columns read; the compiled lookup
            # takes contiguous writable arrays, so a read-only view of pandas' is copied.
            return np.require(panel[name].to_numpy()[pick], dtype, ["C", "W"])

        # int32 where it suffices: a full-scale panel has tens of millions of firm-years.
        self.year = column("year", np.int32)
        self.firm = column("firm_id", np.int32)
        self.alive = column("alive", np.bool_)
        self.employees = column("employees", np.float64)
        self.member = column("member", np.bool_)
        self.birth = column("birth_year", np.int32)
        self.age = self.year - self.birth
        first = int(self.year.min()) if len(self.year) else 0
        self.years = first + np.flatnonzero(np.bincount(self.year - first)) if len(self.year) else self.year
        self._stride = int(self.firm.max()) + 1 if len(self.firm) else 1
        # The register writes the panel by year: then the rows are visited as they stand.
        by_year = np.all(self.year[1:] >= self.year[:-1])
        order = np.arange(len(self.year)) if by_year else np.argsort(self.year, kind="stable")
        self.previous, twice = kernels.previous_rows(self.firm, self.year, self.alive, order, self._stride)
        if twice >= 0:
            raise ValueError(f"the panel holds firm {self.firm[twice]} twice in {self.year[twice]}: "
                             "a firm-year panel has one row per firm and year")

    @cached_property
    def _sorted_keys(self) -> tuple[np.ndarray, np.ndarray | None]:
        # Each (firm, year) once: a sorted key finds any firm-year by binary search.
        key = self._key(self.firm, self.year)
        order = None if np.all(key[1:] > key[:-1]) else np.argsort(key, kind="stable")
        return (key if order is None else key[order]), order

    def _key(self, firm: np.ndarray, year: np.ndarray) -> np.ndarray:
        first = int(self.years[0]) if len(self.years) else 0
        return (year.astype(np.int64) - first) * self._stride + firm

    def open_row(self, firm: np.ndarray, year: np.ndarray) -> np.ndarray:
        """The row of each (firm, year) where the firm was open at the end of that year, else -1."""
        keys, order = self._sorted_keys
        if len(keys) == 0:
            return np.full(len(firm), -1, dtype=np.int32)
        want = self._key(firm, year)
        pos = np.minimum(np.searchsorted(keys, want), len(keys) - 1)
        row = pos if order is None else order[pos]
        row = np.where(keys[pos] == want, row, -1)
        return np.where((row >= 0) & self.alive[np.maximum(row, 0)], row, -1).astype(np.int32)


_SIZE_LOWS = np.array([low for _, low in SIZE_CLASSES], dtype=np.float64)
_AGE_LOWS = np.array([low for _, low in AGE_CLASSES], dtype=np.float64)


def size_class(employees: np.ndarray) -> np.ndarray:
    """Each firm's size class (an index into :data:`SIZE_CLASSES`) by man-years."""
    return kernels.classes(np.require(employees, np.float64, ["C", "W"]), _SIZE_LOWS)  # writable: pandas' are not


Row = tuple[str, str, str, str, float, str, int]


def size_distribution(p: Panel, scale: float) -> Iterable[Row]:
    """Firms and man-years by size class, and members' share of each class.

    Measured in the year of the published distribution (when the panel covers it) and the last year.
    """
    years = sorted({y for y in (SIZE_YEAR, int(p.years[-1])) if y in p.years}) if len(p.years) else []
    for y in years:
        rows = np.flatnonzero((p.year == y) & p.alive)
        cls, emp = size_class(p.employees[rows]), p.employees[rows]
        firms = np.bincount(cls, minlength=len(SIZE_CLASSES))
        man_years = np.bincount(cls, weights=emp, minlength=len(SIZE_CLASSES))
        members = np.bincount(cls[p.member[rows]], minlength=len(SIZE_CLASSES))
        for i, (label, _) in enumerate(SIZE_CLASSES):
            yield "firms", "size_class", label, str(y), firms[i] / scale, "firms (full scale)", int(firms[i])
            yield "firms_share", "size_class", label, str(y), _pct(firms[i], len(rows)), "% of firms", int(firms[i])
            yield ("employment_share", "size_class", label, str(y), _pct(man_years[i], emp.sum()), "% of man-years",
                   int(firms[i]))
            yield ("members_share", "size_class", label, str(y), _pct(members[i], firms[i]),
                   "% of the class's firms", int(firms[i]))


def growth_rates(p: Panel) -> Iterable[Row]:
    """The distribution of yearly growth rates of man-years, for all firms, by size and by age."""
    rows, ratio, unchanged, codes = kernels.growth_links(p.previous, p.employees, p.age, _SIZE_LOWS, _AGE_LOWS)
    if len(rows) == 0:
        return
    g = 100.0 * np.log(ratio)
    year = p.year[rows]
    period = f"{int(year.min())}-{int(year.max())}"
    # The shape of the distribution is measured on rates demeaned by year (as Bottazzi and Secchi do),
    # so that a shock common to all firms in one year does not fatten the tails; the autocorrelation
    # pairs each rate with the same firm's a year earlier, where it has one.
    shifted, lagged = kernels.demeaned_and_lagged(rows, g, p.year, p.previous)
    # Each rate is in one group of each grouping (all firms, its size class at the start of the year,
    # its age class), the groupings' groups numbered one after the other.
    groupings = (("all", ("all",)), ("size_class", [label for label, _ in SIZE_CLASSES]),
                 ("age_class", [label for label, _ in AGE_CLASSES]))
    stats = GrowthStats(codes, 1 + len(SIZE_CLASSES) + len(AGE_CLASSES), g, shifted, unchanged, lagged)
    group = 0
    for by, labels in groupings:
        for label in labels:
            for measure, unit in _MOMENT_UNITS:
                yield measure, by, label, period, float(getattr(stats, measure)[group]), unit, int(stats.n[group])
            yield ("growth_autocorrelation", by, label, period, float(stats.autocorrelation[group]),
                   "correlation of a firm's growth in t-1 and t", int(stats.n_pairs[group]))
            group += 1


_MOMENT_UNITS = (("growth_mean", GROWTH), ("growth_median", GROWTH), ("growth_sd", GROWTH),
                 ("growth_zero_share", "% of firm-years with unchanged man-years"),
                 ("growth_excess_kurtosis", "excess kurtosis of rates demeaned by year (normal 0, Laplace 3)"),
                 ("growth_within_1sd", "% of rates demeaned by year within one sd of the mean"))  # fmt: skip


class GrowthStats:
    """Moments of growth rates by group, every group of every grouping at once (sums by group, no mask per group).

    A full-scale panel holds some ten million growth rates: three compiled passes over them
    (:mod:`sim.engine.dynamics`) give the sums. Groups with too few rates for a statistic get NaN.

    Attributes:
        n: Growth rates per group.
        growth_mean, growth_median, growth_sd: Of the rates (``growth_sd`` with ``n - 1``).
        growth_zero_share: Per cent of rates from unchanged man-years.
        growth_excess_kurtosis, growth_within_1sd: Shape of the rates demeaned by year.
        n_pairs, autocorrelation: Pairs of a firm's consecutive rates, and their correlation.
    """

    def __init__(self, codes: np.ndarray, groups: int, g: np.ndarray, shifted: np.ndarray, unchanged: np.ndarray,
                 lagged: np.ndarray):
        """Compute every statistic for every group.

        Args:
            codes: ``int8[groupings, rates]``: each rate's group in each grouping, 0 to ``groups - 1``
                (the groupings' groups numbered apart).
            groups: Number of groups.
            g: Growth rates.
            shifted: The same rates demeaned by year.
            unchanged: Whether man-years were unchanged.
            lagged: The firm's growth rate a year earlier (NaN where it has none).
        """
        codes = np.asarray(codes)
        if codes.size and (codes.min() < 0 or codes.max() >= groups):  # the compiled sums index by code unchecked
            raise ValueError(f"group codes must be 0-{groups - 1}, got {codes.min()}-{codes.max()}")
        codes = np.ascontiguousarray(codes, dtype=np.int8)  # checked first: a cast would wrap 256 to 0
        g, shifted, lagged = (np.ascontiguousarray(x, dtype=np.float64) for x in (g, shifted, lagged))
        n, sum_g, sum_shifted, sum_unchanged, pairs, sum_lagged, sum_paired = kernels.group_sums(
            codes, groups, g, shifted, np.ascontiguousarray(unchanged, dtype=np.bool_), lagged)
        with np.errstate(invalid="ignore", divide="ignore"):
            self.n, self.n_pairs = n.astype(np.int64), pairs.astype(np.int64)
            self.growth_mean, shifted_mean = sum_g / n, sum_shifted / n
            lagged_mean, paired_mean = sum_lagged / pairs, sum_paired / pairs
            squares, shifted_squares, fourth, cross, lagged_squares, paired_squares = kernels.central_sums(
                codes, groups, g, shifted, lagged, self.growth_mean, shifted_mean, lagged_mean, paired_mean)
            self.growth_sd = np.sqrt(squares / (n - 1))
            self.growth_sd[self.n < 2] = np.nan
            self.growth_zero_share = 100.0 * sum_unchanged / n
            variance = shifted_squares / n
            spread = np.sqrt(variance)
            self.growth_excess_kurtosis = fourth / n / (variance * variance) - 3.0
            self.growth_within_1sd = 100.0 * kernels.within(codes, groups, shifted, shifted_mean, spread) / n
            for stat in (self.growth_excess_kurtosis, self.growth_within_1sd):
                stat[~(spread > 0)] = np.nan
            self.growth_median = _medians(codes, groups, g)
            self.autocorrelation = cross / np.sqrt(lagged_squares * paired_squares)
            self.autocorrelation[(pairs < 3) | ~(lagged_squares > 0) | ~(paired_squares > 0)] = np.nan


def _medians(codes: np.ndarray, groups: int, x: np.ndarray) -> np.ndarray:
    """Each group's median of ``x`` (finite values), NaN for an empty group: numpy's ``median`` bits.

    ``np.median`` partitions three times (at the two middle values, and at the last for a NaN check
    that finite rates need not); one partition at the upper middle value, with the largest value
    below it as the lower one, gives the same numbers, in place on the grouped copy.
    """
    ordered, start = kernels.ordered_by_group(codes, groups, x)
    out = np.full(groups, np.nan)
    for k in range(groups):
        values = ordered[start[k]:start[k + 1]]
        half = len(values) // 2
        if len(values):
            values.partition(half)  # in place: the ordered copy is this function's own
            # As np.median: the middle value, or the mean of the two middle values.
            out[k] = values[half] if len(values) % 2 else (values[:half].max() + values[half]) / 2.0
    return out


def survival(p: Panel) -> Iterable[Row]:
    """Share of the firms born in the cohorts measured that are open 1 to 5 years after birth.

    Cohorts: :data:`SURVIVAL_COHORTS` where the panel covers them, else every cohort born after
    its first year; each horizon counts the cohorts observed that long. Also the five-year survival by
    size at birth (under 5 and 5 or more man-years), as Statistics Norway reports it.
    """
    if len(p.years) < 2:
        return
    first, last = int(p.years[0]) + 1, int(p.years[-1])  # the first year's firms were not born in the run
    lo, hi = max(SURVIVAL_COHORTS[0], first), min(SURVIVAL_COHORTS[1], last - 1)
    if lo > hi:
        lo, hi = first, last - 1
    born = np.flatnonzero((p.birth == p.year) & (p.year >= lo) & (p.year <= hi))
    for k in range(1, SURVIVAL_YEARS + 1):
        cohort = born[p.year[born] + k <= last]
        if len(cohort) == 0:
            continue
        alive = p.open_row(p.firm[cohort], p.year[cohort] + k) >= 0
        period = f"cohorts {int(p.year[cohort].min())}-{int(p.year[cohort].max())}"
        yield ("survival", "years_since_birth", str(k), period, _pct(alive.sum(), len(alive)), "% of the cohort",
               len(alive))
        if k == SURVIVAL_YEARS:
            small = p.employees[cohort] < 5.0
            for label, inside in (("0-4", small), ("5+", ~small)):
                yield ("survival", "size_at_birth", label, period, _pct(alive[inside].sum(), inside.sum()),
                       f"% of the cohort open after {k} years", int(inside.sum()))


def entry_and_exit(p: Panel) -> Iterable[Row]:
    """Entry and exit rates by year, and the exit rate by age (pooled over the years)."""
    if len(p.years) < 2:
        return
    stock, born, closed, at_risk, closing = kernels.entry_and_exit(p.year, p.alive, p.birth, p.previous, p.age,
                                                                   _AGE_LOWS)
    for k in range(1, len(stock)):
        y = str(int(p.years[0]) + k)
        yield "entry_rate", "year", y, y, _pct(born[k], stock[k - 1]), "% of firms open on 1 January", int(born[k])
        yield "exit_rate", "year", y, y, _pct(closed[k], stock[k - 1]), "% of firms open on 1 January", int(closed[k])
    # Exit by age: of the firms open on 1 January, the share that closed during the year (a hazard).
    period = f"{int(p.years[1])}-{int(p.years[-1])}"
    for i, (label, _) in enumerate(AGE_CLASSES):
        yield ("exit_rate", "age_class", label, period, _pct(closing[i], at_risk[i]),
               "% of the class's firms open on 1 January", int(at_risk[i]))


def joiners(p: Panel) -> Iterable[Row]:
    """Who joins clusters: joiners' size.

    A joiner's size is its man-years in the year before it first joined (in its joining year when it
    joined in its first year, as foreign entrants do).
    """
    member_rows = np.flatnonzero(p.member & p.alive)
    member_rows = member_rows[np.argsort(p.year[member_rows], kind="stable")]
    if len(member_rows):
        first_row = member_rows[np.unique(p.firm[member_rows], return_index=True)[1]]
        first_row = first_row[p.year[first_row] > p.years[0]]  # members in the first year joined before it
        before = p.previous[first_row]
        size = np.where(before >= 0, p.employees[np.maximum(before, 0)], p.employees[first_row])
        if len(size):
            period = f"{int(p.year[first_row].min())}-{int(p.year[first_row].max())}"
            yield "joiner_size_median", "all", "all", period, float(np.median(size)), "man-years", len(size)
            yield ("joiner_under_5_share", "all", "all", period, _pct((size < SMALL_JOINER).sum(), len(size)),
                   "% of joiners under 5 man-years", len(size))


def member_shares(panel: pd.DataFrame) -> Iterable[Row]:
    """Members' share of man-years by year, on the whole panel."""
    if len(panel) == 0:
        return
    # Writable copies where pandas hands out read-only views, which the kernel does not take; man-years
    # widened to float64 as bincount widens its weights.
    year, alive, member, employees = (np.require(panel[name].to_numpy(), dtype, ["C", "W"]) for name, dtype in (
        ("year", np.int32), ("alive", np.bool_), ("member", np.bool_), ("employees", np.float64)))
    total, held, count = kernels.member_shares(year, alive, member, employees)
    first = int(year.min())
    for k in range(len(total)):
        y = str(first + k)
        yield "member_employment_share", "year", y, y, _pct(held[k], total[k]), "% of man-years", int(count[k])


def _pct(part: float, whole: float) -> float:
    return float(100.0 * part / whole) if whole else float("nan")
