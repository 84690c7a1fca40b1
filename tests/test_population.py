"""The synthetic population reproduces Norway's firm structure and is reproducible."""

from __future__ import annotations

import time

import numpy as np
import pytest

from sim.scenario.errors import ScenarioError
from sim.scenario.files import load_scenario
from sim.scenario.schema import Scenario
from sim.world.population import (
    COLUMNS,
    build_firms,
    build_institutions,
    class_counts,
    size_classes,
    startup_firms,
)

START = 2000


@pytest.fixture(scope="module")
def scn() -> Scenario:
    return load_scenario(None)


@pytest.fixture(scope="module")
def firms(scn: Scenario) -> dict[str, np.ndarray]:
    t0 = time.perf_counter()
    out = build_firms(scn, np.random.default_rng(42), START)
    elapsed = time.perf_counter() - t0
    print(f"build_firms at full scale: {out['employees'].size} firms in {elapsed:.3f} s")
    return out


def _in_class(employees: np.ndarray, lo: int, hi: int | None) -> np.ndarray:
    return (employees >= lo) & (employees <= (hi if hi is not None else np.inf))


def test_full_scale_matches_every_size_class(scn, firms):
    for c in size_classes(scn):
        n = int(_in_class(firms["employees"], c.lo, c.hi).sum())
        assert abs(n - c.count) <= 0.05 * c.count, (c.label, n, c.count)
        assert n == c.count  # largest-remainder rounding at scale 1 is exact
    assert firms["employees"].size == 191_799


def test_scale_five_percent_gives_five_percent_of_firms():
    small = load_scenario(None, {"population.scale": 0.05})
    f = build_firms(small, np.random.default_rng(1), START)
    assert f["employees"].size == round(191_799 * 0.05) == 9_590
    for c in size_classes(small):
        n = int(_in_class(f["employees"], c.lo, c.hi).sum())
        assert abs(n - 0.05 * c.count) <= 1, (c.label, n)


def test_largest_remainder_rounding_keeps_total():
    classes = size_classes(Scenario())
    for scale in (1.0, 0.05, 0.0123, 1e-4):
        counts = class_counts(classes, scale)
        assert counts.sum() == round(sum(c.count for c in classes) * scale)
        exact = np.array([c.count for c in classes]) * scale
        assert np.all(np.abs(counts - exact) < 1.0)


def test_sector_shares_within_one_point(scn, firms):
    shares = np.array([s.enterprise_share for s in scn.sectors.values()])
    shares /= shares.sum()
    observed = np.bincount(firms["sector"], minlength=len(shares)) / firms["sector"].size
    np.testing.assert_allclose(observed, shares, atol=0.01)


def test_location_weights_put_oil_supply_in_rogaland(scn, firms):
    rog = list(scn.regions).index("rogaland")
    oil = list(scn.sectors).index("oil_gas_supply")
    overall = np.mean(firms["region"] == rog)
    in_oil = np.mean(firms["region"][firms["sector"] == oil] == rog)
    assert 0.08 < overall < 0.11
    assert in_oil > 2.5 * overall  # location quotient 4.5 before normalisation


def test_region_shares_close_to_county_shares(scn, firms):
    shares = np.array([r.enterprise_share for r in scn.regions.values()])
    shares /= shares.sum()
    observed = np.bincount(firms["region"], minlength=len(shares)) / firms["region"].size
    # Location weights shift counties a little (no raking); within 1.5 points each.
    np.testing.assert_allclose(observed, shares, atol=0.015)


def test_mean_productivity_per_sector_matches_its_table_moved_back_to_the_start_year_and_level(scn, firms):
    # The tables describe 2018; firms of 2000 were less productive by 18 years of the productivity trend,
    # and every table is scaled to the business sector's total value added (population.value_added_level).
    back = np.exp(-scn.growth.productivity_trend * (scn.population.value_added_year - START))
    assert back == pytest.approx(0.806, abs=0.001)
    assert scn.population.value_added_level == pytest.approx(0.70)
    for i, (name, s) in enumerate(scn.sectors.items()):
        mean = firms["productivity"][firms["sector"] == i].mean()
        assert mean == pytest.approx(s.value_added_per_man_year_nok * back * 0.70, rel=0.05), name


def test_same_seed_identical_different_seed_differs(scn):
    small = load_scenario(None, {"population.scale": 0.02})
    a = build_firms(small, np.random.default_rng(7), START)
    b = build_firms(small, np.random.default_rng(7), START)
    c = build_firms(small, np.random.default_rng(8), START)
    for k in COLUMNS:
        np.testing.assert_array_equal(a[k], b[k])
    assert not np.array_equal(a["employees"], c["employees"])
    assert not np.array_equal(a["productivity"], c["productivity"])


def test_columns_typed_finite_and_in_range(scn, firms):
    n = firms["employees"].size
    assert set(firms) == set(COLUMNS)
    for k, dtype in COLUMNS.items():
        assert firms[k].dtype == dtype, k
        assert firms[k].shape == (n,), k
        assert np.all(np.isfinite(firms[k])), k
    assert firms["region"].min() >= 0 and firms["region"].max() < len(scn.regions)
    assert firms["sector"].min() >= 0 and firms["sector"].max() < len(scn.sectors)
    assert firms["employees"].min() >= 1
    assert firms["employees"].max() <= scn.population.max_employees
    assert np.all(firms["employees"] == np.floor(firms["employees"]))
    assert np.all(firms["productivity"] > 0)
    assert np.all((firms["va_share"] > 0) & (firms["va_share"] <= 1))
    np.testing.assert_allclose(
        firms["revenue"], firms["employees"] * firms["productivity"] / firms["va_share"])
    for k in ("rd_effort", "absorptive", "intl", "kx", "ky"):
        assert firms[k].min() >= 0 and firms[k].max() <= 1, k
    assert firms["birth_year"].max() <= START
    assert np.std(firms["potential"]) == pytest.approx(scn.population.growth_potential_sd, rel=0.02)
    assert abs(np.mean(firms["potential"])) < 0.001


def test_rd_effort_mean_and_tilts(scn, firms):
    rd, emp = firms["rd_effort"], firms["employees"]
    assert rd.mean() == pytest.approx(scn.population.rd_effort_mean, abs=0.005)
    assert rd[emp >= 250].mean() > 2 * rd[emp <= 4].mean()  # larger firms do more R&D
    health = list(scn.sectors).index("health_medtech")  # knowledge_y 0.9
    tourism = list(scn.sectors).index("tourism")         # knowledge_y 0.1
    assert rd[firms["sector"] == health].mean() > 2 * rd[firms["sector"] == tourism].mean()


def test_exporter_share_and_size_gradient(scn, firms):
    exporter = firms["intl"] > 0
    emp = firms["employees"]
    assert exporter.mean() == pytest.approx(scn.population.international_share, abs=0.005)
    assert exporter[emp >= 250].mean() > exporter[emp <= 4].mean() + 0.3


def test_absorptive_capacity_rises_with_size_and_rd(firms):
    emp, rd, ab = firms["employees"], firms["rd_effort"], firms["absorptive"]
    assert ab[emp >= 250].mean() > ab[emp <= 4].mean() + 0.3
    small = emp == 1
    assert ab[small & (rd > 0.5)].mean() > ab[small & (rd < 0.05)].mean() + 0.2


def test_knowledge_positions_centre_on_sector(scn, firms):
    for i, s in enumerate(scn.sectors.values()):
        in_s = firms["sector"] == i
        # Clipping at 0 and 1 moves means of edge sectors a little (seafood ky = 0.05).
        assert firms["kx"][in_s].mean() == pytest.approx(s.knowledge_x, abs=0.04)
        assert firms["ky"][in_s].mean() == pytest.approx(s.knowledge_y, abs=0.04)


def test_larger_firms_are_older_and_young_firms_common(firms):
    age = START - firms["birth_year"].astype(int)
    emp = firms["employees"]
    assert age[emp >= 250].mean() > 1.8 * age[emp <= 4].mean()
    assert np.mean(age <= 5) > np.mean((age > 5) & (age <= 10))
    assert 8 < age.mean() < 20


def test_startups_are_small_new_and_where_asked(scn):
    rng = np.random.default_rng(3)
    n = 2000
    region = rng.integers(0, len(scn.regions), n)
    sector = rng.integers(0, len(scn.sectors), n)
    s = startup_firms(scn, rng, n, region, sector, 2015)
    assert set(s) == set(COLUMNS)
    for k, dtype in COLUMNS.items():
        assert s[k].dtype == dtype and s[k].shape == (n,), k
    np.testing.assert_array_equal(s["region"], region)
    np.testing.assert_array_equal(s["sector"], sector)
    assert np.all(s["birth_year"] == 2015)
    assert s["employees"].min() >= 1 and s["employees"].max() <= 4
    assert np.all(np.isfinite(s["revenue"])) and np.all(s["revenue"] > 0)


def test_startups_follow_the_same_rules_as_the_small_firms(scn, firms):
    n = 20_000
    rng = np.random.default_rng(5)
    sector = np.full(n, list(scn.sectors).index("other"))
    region = np.zeros(n, dtype=int)
    s = startup_firms(scn, rng, n, region, sector, 2015)
    small = (firms["employees"] <= 4) & (firms["sector"] == sector[0])
    assert s["rd_effort"].mean() == pytest.approx(firms["rd_effort"][small].mean(), abs=0.01)
    assert s["employees"].mean() == pytest.approx(firms["employees"][small].mean(), abs=0.05)


def test_startup_length_mismatch_is_an_error(scn):
    with pytest.raises(ValueError, match="length n=3"):
        startup_firms(scn, np.random.default_rng(0), 3, np.zeros(2, int), np.zeros(3, int), 2010)


def test_institutions_have_indices_and_mean_knowledge_position(scn):
    inst = build_institutions(scn)
    assert len(inst) == len(scn.knowledge_institutions)
    uis = next(k for k in inst if k["name"] == "University of Stavanger")
    assert uis["region"] == list(scn.regions).index("rogaland")
    fields = ["oil_gas_supply", "energy", "health_medtech"]
    assert uis["fields"] == [list(scn.sectors).index(f) for f in fields]
    assert uis["kx"] == pytest.approx(np.mean([scn.sectors[f].knowledge_x for f in fields]))
    assert uis["ky"] == pytest.approx((0.45 + 0.55 + 0.90) / 3)


def test_bad_size_class_key_is_rejected_at_validation():
    with pytest.raises(ScenarioError, match=r"population.size_classes: .*'1to4'"):
        load_scenario(None, {"population.size_classes": {"1to4": 10}})
