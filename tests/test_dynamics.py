"""The firm-dynamics table: survival, growth, entry and exit, size and joiners, beside published figures."""

import math
import re

import numpy as np
import pandas as pd
import pytest

import sim
from sim.observe.columns import DYNAMICS_COLUMNS
from sim.observe.dynamics import BENCHMARKS, firm_dynamics
from tests.conftest import ROOT, small


def firm(firm_id, birth, employees, first=None, closes=False, member_from=None):
    """Rows of one firm: open from ``first`` (its birth year by default), one year per man-years value.

    With ``closes`` the last value is the year it closed in (``alive`` false).
    """
    first = birth if first is None else first
    rows = []
    for k, size in enumerate(employees):
        year = first + k
        rows.append({
            "firm_id": firm_id, "year": year, "employees": float(size), "birth_year": birth,
            "alive": not (closes and k == len(employees) - 1),
            "member": member_from is not None and year >= member_from,
        })  # fmt: skip
    return rows


def panel(*firms):
    return pd.DataFrame([row for rows in firms for row in rows]).sort_values(["year", "firm_id"])


def value(table, measure, by="all", group="all"):
    rows = table[(table["measure"] == measure) & (table["by"] == by) & (table["group"] == group)]
    assert len(rows) == 1, (measure, by, group)
    return rows.iloc[0]


def test_five_year_survival_is_the_share_of_a_cohort_still_open_five_years_on():
    # Five firms born in 2005: three stay open to 2010, two close during 2007.
    stayers = [firm(i, 2005, [3] * 6) for i in range(3)]
    leavers = [firm(i, 2005, [3, 3, 3], closes=True) for i in (3, 4)]
    old = firm(9, 1990, [20] * 11, first=2000)
    table = firm_dynamics(panel(old, *stayers, *leavers))
    assert value(table, "survival", "years_since_birth", "1")["value"] == 100.0
    assert value(table, "survival", "years_since_birth", "2")["value"] == 60.0  # closed during 2007
    five = value(table, "survival", "years_since_birth", "5")
    assert (five["value"], five["n"], five["period"]) == (60.0, 5, "cohorts 2005-2005")


def test_five_year_survival_stands_beside_statistics_norways_figure_for_employer_start_ups():
    table = firm_dynamics(panel(firm(9, 1990, [20] * 11, first=2000), firm(1, 2005, [3] * 6)))
    five = value(table, "survival", "years_since_birth", "5")
    assert (five["benchmark"], five["benchmark_source"]) == (53.0, "SSB-FORDEM-2012")
    assert "2005 cohort" in five["benchmark_note"]


def test_growth_rates_are_log_changes_classed_by_size_at_the_start_of_the_year():
    doubling = firm(1, 1990, [10, 20], first=2000)  # 10-19 man-years at the start, then 20
    flat = firm(2, 1990, [2, 2], first=2000)
    table = firm_dynamics(panel(doubling, flat))
    assert value(table, "growth_mean", "size_class", "10-19")["value"] == pytest.approx(100 * math.log(2))
    assert value(table, "growth_zero_share", "size_class", "0-4")["value"] == 100.0
    assert value(table, "growth_zero_share", "size_class", "10-19")["value"] == 0.0
    assert value(table, "growth_mean", "size_class", "20-49")["n"] == 0  # no firm started the year there
    assert value(table, "growth_median")["value"] == pytest.approx(50 * math.log(2))


def test_growth_that_reverses_every_year_has_autocorrelation_minus_one():
    table = firm_dynamics(panel(firm(1, 1990, [4, 8, 4, 8], first=2000), firm(2, 1990, [4, 2, 4, 2], first=2000)))
    row = value(table, "growth_autocorrelation")
    assert row["value"] == pytest.approx(-1.0)
    assert row["n"] == 4  # two pairs of consecutive growth rates per firm
    assert row["benchmark_source"] == "COAD-2007"


def test_growth_shape_is_measured_on_rates_demeaned_by_year():
    # In 2001 two firms double and two halve; in 2002 all four grow by the same 10 %: demeaned by year,
    # the rates are two points (+-log 2) and zeros, so the kurtosis is that of that mixture, not of a
    # distribution shifted by the common 2002 shock.
    firms = [firm(i, 1990, [4, 8 if i < 2 else 2, (8 if i < 2 else 2) * 1.1], first=2000) for i in range(4)]
    table = firm_dynamics(panel(*firms))
    x = np.array([1, 1, -1, -1, 0, 0, 0, 0]) * 100 * math.log(2)
    expected = np.mean(x**4) / np.mean(x**2) ** 2 - 3.0  # -0.5
    assert value(table, "growth_excess_kurtosis")["value"] == pytest.approx(expected)
    assert value(table, "growth_excess_kurtosis")["benchmark"] == 3.0  # a Laplace density
    assert value(table, "growth_within_1sd")["value"] == pytest.approx(50.0)


def test_growth_is_classed_by_age_in_the_year_it_ends():
    young = firm(1, 2000, [2, 3])  # born 2000: its growth 2000-2001 is at age 1
    old = firm(2, 1980, [50, 40], first=2000)
    table = firm_dynamics(panel(young, old))
    assert value(table, "growth_mean", "age_class", "0-2")["value"] == pytest.approx(100 * math.log(1.5))
    assert value(table, "growth_mean", "age_class", "11+")["value"] == pytest.approx(100 * math.log(0.8))
    assert value(table, "growth_mean", "age_class", "0-2")["benchmark_source"] == "HALTIWANGER-2013"


def test_entry_and_exit_rates_count_against_the_firms_open_on_1_january():
    # Ten firms open at the end of 2000; in 2001 two close and one is born.
    stay = [firm(i, 1990, [5, 5], first=2000) for i in range(8)]
    close = [firm(i, 1990, [5, 5], first=2000, closes=True) for i in (8, 9)]
    table = firm_dynamics(panel(*stay, *close, firm(10, 2001, [2])))
    assert value(table, "exit_rate", "year", "2001")["value"] == 20.0
    assert value(table, "entry_rate", "year", "2001")["value"] == 10.0
    assert value(table, "entry_rate", "year", "2001")["benchmark_source"] == "SSB-DEM-2001-2005"
    # Exit by age is a hazard: of the ten firms (age 11 in 2001) open on 1 January, two closed.
    assert value(table, "exit_rate", "age_class", "11+")["value"] == 20.0
    assert value(table, "exit_rate", "age_class", "0-2")["n"] == 0  # the newborn was not open on 1 January


def test_size_distribution_counts_full_scale_firms_and_sets_the_published_classes_beside_2017():
    firms = [firm(i, 1990, [size] * 3, first=2016) for i, size in enumerate([1, 2, 3, 7, 300])]
    table = firm_dynamics(panel(*firms), scale=0.1)
    micro = table[(table["measure"] == "firms") & (table["group"] == "0-4")]
    assert micro["value"].tolist() == [30.0, 30.0] and micro["period"].tolist() == ["2017", "2018"]
    share = value(table[table["period"] == "2017"], "firms_share", "size_class", "0-4")
    assert share["value"] == 60.0
    assert share["benchmark"] == pytest.approx(100 * 243_829 / 306_878) and share["benchmark_source"] == "SSB-ENT-2017"
    assert np.isnan(value(table[table["period"] == "2018"], "firms_share", "size_class", "0-4")["benchmark"])
    largest = value(table[table["period"] == "2018"], "employment_share", "size_class", "250+")
    assert largest["value"] == pytest.approx(100 * 300 / 313)


def test_joiners_are_sized_the_year_before_they_join():
    joiner = firm(1, 1990, [3, 3, 6], first=2000, member_from=2002)
    big_joiner = firm(2, 1990, [40, 40, 40], first=2000, member_from=2001)
    outsider = firm(3, 1990, [100, 100, 100], first=2000)
    table = firm_dynamics(panel(joiner, big_joiner, outsider))
    assert value(table, "joiner_size_median")["value"] == pytest.approx(21.5)  # 3 and 40
    assert value(table, "joiner_under_5_share")["value"] == 50.0
    assert value(table, "member_employment_share", "year", "2002")["value"] == pytest.approx(100 * 46 / 146)


def test_table_has_the_contract_columns_and_the_benchmarks_cite_docs_sources():
    table = firm_dynamics(panel(firm(1, 2005, [3] * 6), firm(2, 1990, [20] * 11, first=2000)))
    assert list(table.columns) == list(DYNAMICS_COLUMNS)
    anchors = set(re.findall(r'<a id="([a-z0-9-]+)"></a>', (ROOT / "docs" / "sources.md").read_text()))
    for source in {b.source for b in BENCHMARKS.values()}:
        assert source.lower() in anchors, source


@pytest.fixture(scope="module")
def run_table():
    result = sim.run(small(scale=0.01, end_year=2012), seed=0)
    return result.firm_dynamics, result.yearly


def test_a_runs_entry_and_exit_rates_agree_with_its_yearly_startups_and_exits(run_table):
    table, yearly = run_table
    scale = 0.01
    rates = table[(table["by"] == "year") & table["measure"].isin(["entry_rate", "exit_rate"])]
    counts = rates.pivot(index="group", columns="measure", values="n")
    y = yearly.set_index(yearly["year"].astype(str))
    assert (counts["exit_rate"] / scale).tolist() == pytest.approx(y.loc[counts.index, "exits"].tolist())
    assert (counts["entry_rate"] / scale).tolist() == pytest.approx(y.loc[counts.index, "startups"].tolist())


def test_a_run_measures_five_year_survival_of_the_cohorts_it_follows_long_enough(run_table):
    table, _ = run_table
    five = value(table, "survival", "years_since_birth", "5")
    assert five["period"] == "cohorts 2005-2007"  # 2008 and later are not five years old by 2012
    assert 0.0 < five["value"] < 100.0 and five["n"] > 100


def test_table_does_not_depend_on_the_order_of_the_panels_rows():
    firms = panel(firm(1, 2005, [3, 4, 5, 6, 7, 8]), firm(2, 1990, [20, 18, 25] * 3, first=2001),
                  firm(3, 2006, [2, 2, 3], closes=True, member_from=2007))
    shuffled = firms.sample(frac=1.0, random_state=1)
    pd.testing.assert_frame_equal(firm_dynamics(shuffled), firm_dynamics(firms))


def test_a_panel_with_a_firm_twice_in_one_year_is_refused_not_measured():
    twice = panel(firm(1, 2000, [3, 4, 5]), firm(1, 2000, [6], first=2001))  # firm 1 has two rows in 2001
    with pytest.raises(ValueError, match="firm 1 twice in 2001"):
        firm_dynamics(twice)


def test_an_empty_panel_gives_an_empty_table_with_the_contract_columns():
    table = firm_dynamics(panel(firm(1, 2000, [3])).iloc[:0])
    assert list(table.columns) == list(DYNAMICS_COLUMNS) and len(table) == 0


def test_a_large_panel_is_measured_on_a_systematic_sample_of_whole_firm_histories():
    from sim.observe.dynamics import MAX_MEASURED_ROWS, sample_step

    assert sample_step(10) == 1
    assert sample_step(MAX_MEASURED_ROWS) == 1
    assert sample_step(MAX_MEASURED_ROWS + 1) == 2
    assert sample_step(6_713_010) == 7  # a full-scale baseline panel: every 7th firm, under a million firm-years
