"""The compiled phase kernels state the same rules as the numpy expressions they replace."""

import numpy as np

from sim.engine import collaboration, demography, network, population, register
from sim.engine import randomness as rnd
from sim.engine.collaboration import SearchParams
from sim.engine.demography import ExitParams
from sim.engine.population import EffortParams

N = 20_000


def _firms(seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "alive": rng.random(N) < 0.9,
        "employees": np.exp(rng.normal(1.0, 1.2, N)),
        "growth": rng.normal(0.0, 0.2, N),
        "birth_year": rng.integers(1970, 2002, N).astype(np.int16),
        "innovated": rng.random(N) < 0.4,
        "member": rng.random(N) < 0.2,
        "region": rng.integers(0, 11, N).astype(np.int16),
        "sector": rng.integers(0, 12, N).astype(np.int16),
    }


def test_exits_close_as_the_hazard_says_and_count_the_survivors_cells_and_spin_offs():
    f = _firms()
    keys = np.array([rnd.key(0, "demography.exit", 2001), rnd.key(0, "demography.spinoff", 2001)], dtype=np.uint64)
    rate, size_el, growth_sens, age_el, min_employees, spin, boost = 0.08, 0.3, 1.5, 0.4, 1.0, 0.05, 1.0
    params = ExitParams(rate, size_el, growth_sens, age_el, min_employees, spin, boost)
    closing, cells, parents = demography.exits(N, f["alive"], keys, 2001, params, f["employees"], f["growth"],
                                               f["birth_year"], f["innovated"], f["member"], f["region"], f["sector"],
                                               11, 12)
    rows = np.arange(N)
    age = np.maximum(2001 - f["birth_year"], 0)  # a firm born in 2002 (a start-up of the instruments) counts as 0
    hazard = rate * f["employees"] ** -size_el * np.exp(-growth_sens * f["growth"]) * (1.0 + age) ** -age_el
    closes = f["alive"] & ((rnd.uniform(0, "demography.exit", 2001, rows) < hazard) | (f["employees"] < min_employees))
    np.testing.assert_array_equal(closing, np.flatnonzero(closes))
    survivors = rows[f["alive"] & ~closes]
    np.testing.assert_array_equal(
        cells, np.bincount(f["region"][survivors] * 12 + f["sector"][survivors], minlength=132))
    innovators = survivors[f["innovated"][survivors]]
    p_spin = spin * (1.0 + boost * f["member"][innovators])
    np.testing.assert_array_equal(parents, innovators[rnd.uniform(0, "demography.spinoff", 2001, innovators) < p_spin])
    assert 0.04 < len(parents) / len(innovators) < 0.08  # 5 % of non-members, 10 % of members


def test_tally_sums_open_firms_and_counts_members_per_cluster():
    f = _firms(1)
    revenue, va_share = f["employees"] * 1e6, np.full(N, 0.4)
    institution = np.where(f["innovated"], 3, -1).astype(np.int32)
    cluster = np.where(f["member"], f["region"] % 5, -1).astype(np.int32)
    rows = np.flatnonzero(f["alive"])
    per_cluster = np.full(5, -7, dtype=np.int64)
    sums = register.tally(rows, f["employees"], revenue, va_share, f["member"], f["innovated"], institution, cluster,
                         per_cluster)
    member = f["member"][rows]
    np.testing.assert_array_equal(per_cluster, np.bincount(cluster[rows][member], minlength=5))
    assert sums[0] == member.sum() == per_cluster.sum()
    np.testing.assert_allclose(sums[1:4], [f["employees"][rows].sum(), revenue[rows].sum(), 0.4 * revenue[rows].sum()],
                               rtol=1e-12)
    assert (sums[4], sums[6]) == (f["innovated"][rows].sum(), f["innovated"][rows].sum())
    np.testing.assert_allclose(sums[5], f["employees"][rows][member].sum(), rtol=1e-12)


def test_member_growth_compares_firms_open_in_both_years_and_returns_this_years_values():
    before_rows = np.array([0, 1, 2, 4])
    rows = np.array([1, 2, 3, 4])  # 0 closed, 3 opened
    employees = np.array([9.0, 3.0, 4.0, 7.0, 12.0])
    revenue, va_share = employees * 10.0, np.full(5, 0.5)
    member = np.array([False, True, False, False, True])
    growth, now_employees, now_va = register.member_growth(
        before_rows, np.array([1.0, 2.0, 5.0, 10.0]), np.array([5.0, 10.0, 25.0, 50.0]), rows, employees, revenue,
        va_share, member)
    # members 1 and 4: employees 2 -> 3 and 10 -> 12; non-member 2: 5 -> 4
    np.testing.assert_allclose(growth, [(0.5 + 0.2) / 2, (0.5 + 0.2) / 2, -0.2, -0.2])
    np.testing.assert_array_equal(now_employees, [3.0, 4.0, 7.0, 12.0])
    np.testing.assert_array_equal(now_va, [15.0, 20.0, 35.0, 60.0])
    first, _, _ = register.member_growth(np.zeros(0, dtype=np.int64), np.zeros(0), np.zeros(0), rows, employees,
                                        revenue, va_share, member)
    assert np.isnan(first).all()


def test_partner_searches_stay_in_the_county_as_often_as_local_share_says():
    n, regions = 20_000, 4
    region = (np.arange(n) % regions).astype(np.int16)
    same = np.full(n, 0.5)
    keys = np.array([rnd.key(0, name, 2001) for name in ("collaboration.attempts", "collaboration.brokered",
                     "collaboration.where", "collaboration.local", "collaboration.anyone", "collaboration.accept")],
                    dtype=np.uint64)
    # No distance of either kind, so every proposal that finds a partner is accepted.
    new = collaboration.partner_ties(np.arange(n), keys, SearchParams(1.0, 0.8, 100.0, 0.1), np.zeros(n), np.zeros(1),
                               np.zeros(n, dtype=bool), region, regions, np.full(n, -1, dtype=np.int32), 1, same, same,
                               np.zeros((regions, regions)))
    lo, hi = new >> 32, new & 0xFFFFFFFF
    assert (lo < hi).all()
    assert abs(len(new) / n - 1.0) < 0.03  # one search a firm on average
    # 80 % look in their own county, and a quarter of the other 20 % land there by chance.
    assert abs((region[lo] == region[hi]).mean() - 0.85) < 0.01


def test_a_ties_lapse_draw_is_its_own_whatever_other_ties_exist():
    rng = np.random.default_rng(3)
    a = rng.integers(0, 50_000, 30_000)
    b = a + rng.integers(1, 1000, 30_000)
    keys = np.unique((a << 32) | b)
    tie_a, tie_b = (keys >> 32).astype(np.int32), (keys & 0xFFFFFFFF).astype(np.int32)
    member, cluster = np.zeros(51_000, dtype=bool), np.full(51_000, -1, dtype=np.int32)
    key = rnd.key(0, "collaboration.lapse", 2003)
    kept = collaboration.ties_kept(keys, tie_a, tie_b, key, member, cluster, 0.3, 0.5)
    some = np.arange(0, len(keys), 3)
    np.testing.assert_array_equal(
        collaboration.ties_kept(keys[some], tie_a[some], tie_b[some], key, member, cluster, 0.3, 0.5), kept[some])
    assert abs(kept.mean() - 0.7) < 0.01


def test_search_counts_are_each_firms_poisson_draw_with_its_own_extra_searches():
    rng = np.random.default_rng(4)
    alive = rng.random(N) < 0.8
    extra = np.where(rng.random(N) < 0.05, 0.3, 0.0)  # firms in restructuring areas search more
    key = rnd.key(0, "collaboration.attempts", 2010)
    rows = np.flatnonzero(alive)
    counts = collaboration.searches(rows, key, 0.5, extra)
    u = rnd.uniform(0, "collaboration.attempts", 2010, rows)
    np.testing.assert_array_equal(counts, rnd.poisson(u, 0.5 + extra[rows]))
    assert abs(counts[extra[rows] == 0].mean() - 0.5) < 0.02


def test_entry_sites_draw_cells_as_rng_choice_would_with_the_cluster_boost_then_the_parents_cells():
    rng = np.random.default_rng(3)
    n_sectors, boost = 12, 0.5
    cells = rng.integers(0, 200, 11 * n_sectors).astype(np.float64)
    level = np.array([0, -1, 2], dtype=np.int8)  # the second cluster is inactive
    c_region, c_sector = np.array([4, 5, 9], dtype=np.int16), np.array([3, 3, 11], dtype=np.int16)
    u = rng.random(50_000)
    parent_region, parent_sector = np.array([1, 2], dtype=np.int16), np.array([7, 0], dtype=np.int16)
    region, sector = demography.entry_sites(u, cells, level, c_region, c_sector, boost, parent_region, parent_sector,
                                         n_sectors)
    weight = cells.copy()
    weight[[4 * n_sectors + 3, 9 * n_sectors + 11]] *= 1.0 + boost
    cdf = np.cumsum(weight / weight.sum())
    expected = np.searchsorted(cdf / cdf[-1], u, side="right")
    np.testing.assert_array_equal(region[:-2] * n_sectors + sector[:-2], expected)
    np.testing.assert_array_equal(region[-2:], parent_region)
    np.testing.assert_array_equal(sector[-2:], parent_sector)
    assert not np.isin(np.flatnonzero(cells == 0), expected).any()  # no entry where no firm is open


def test_firm_efforts_are_beta_around_their_means_and_zero_for_non_exporters():
    rng = np.random.default_rng(4)
    n, concentration = 40_000, 4.0
    rd_mean = np.where(rng.random(n) < 0.1, 0.0, 0.2)  # a tenth with mean exactly 0 stay at 0
    p_export = np.full(n, 0.3)
    exporter = rng.random(n) < 0.3
    log_size = rng.normal(1.0, 1.0, n)
    rd, intl, absorptive = population.firm_efforts(np.uint64(99), rd_mean, p_export, exporter, log_size,
                                                EffortParams(concentration, 1.0, 0.5, 2.0, 0.2))
    assert (rd[rd_mean == 0.0] == 0.0).all() and (intl[~exporter] == 0.0).all()
    inner = rd[rd_mean > 0.0]
    # Beta(0.8, 3.2): mean 0.2, variance m (1 - m) / (concentration + 1) = 0.032
    assert abs(inner.mean() - 0.2) < 0.005 and abs(inner.var() - 0.032) < 0.002
    assert abs(intl[exporter].mean() - 0.3) < 0.01
    x = 0.5 * (log_size - 1.0) + 2.0 * (rd - 0.2)
    np.testing.assert_allclose(absorptive, 1.0 / (1.0 + np.exp(-x)), rtol=1e-12)


def test_close_rows_closes_firms_and_ends_their_membership_and_institution_tie():
    f = _firms(5)
    death_year = np.full(N, -1, dtype=np.int16)
    cluster = np.where(f["member"], 2, -1).astype(np.int32)
    join_year, institution = np.where(f["member"], 2001, -1).astype(np.int16), np.full(N, 4, dtype=np.int32)
    rows = np.array([3, 10, 11, 500], dtype=np.int64)
    alive, member = f["alive"].copy(), f["member"].copy()
    demography.close_rows(rows, 2004, alive, death_year, member, cluster, join_year, institution)
    assert not alive[rows].any() and (death_year[rows] == 2004).all()
    assert not member[rows].any() and (cluster[rows] == -1).all() and (join_year[rows] == -1).all()
    assert (institution[rows] == -1).all()
    others = np.setdiff1d(np.arange(N), rows)
    np.testing.assert_array_equal(alive[others], f["alive"][others])
    assert (death_year[others] == -1).all() and (institution[others] == 4).all()


def test_category_by_row_inverts_each_rows_cumulative_shares():
    rng = np.random.default_rng(6)
    weights = rng.random((10, 11)) * (rng.random((10, 11)) < 0.7)  # some categories empty
    weights[:, 0] += 0.01
    cdf = np.cumsum(weights / weights.sum(axis=1, keepdims=True), axis=1)
    cdf[:, -1] = 1.0
    row, u = rng.integers(0, 10, N), rng.random(N)
    expected = [np.searchsorted(cdf[r], x, side="right") for r, x in zip(row, u)]
    np.testing.assert_array_equal(population.category_by_row(cdf, row, u), expected)


def test_numpy_normals_are_numpys_own_numbers_and_leave_the_generator_where_numpy_would():
    ours, theirs = np.random.default_rng(7), np.random.default_rng(7)
    np.testing.assert_array_equal(population.numpy_normals(ours, 4, 50_000), theirs.standard_normal((4, 50_000)))
    assert ours.random() == theirs.random()


def test_solve_intercept_makes_the_weighted_mean_of_the_tilted_shares_the_target():
    rng = np.random.default_rng(8)
    tilt, weight = rng.normal(0.0, 3.0, 5_000), rng.random(5_000)
    weight /= weight.sum()
    for target in (1e-4, 0.08, 0.5, 0.97):
        c = population.solve_intercept(target, tilt, weight)
        assert abs(weight @ (1.0 / (1.0 + np.exp(-(c + tilt)))) - target) < 1e-12 * max(target, 1e-2)


def test_keep_ties_keeps_the_masked_ties_in_order():
    rng = np.random.default_rng(9)
    a = rng.integers(0, 1000, 5_000).astype(np.int32)
    b = (a + 1 + rng.integers(0, 1000, 5_000)).astype(np.int32)
    keys = (a.astype(np.int64) << 32) | b
    for mask in (rng.random(5_000) < 0.7, np.zeros(5_000, dtype=bool), np.ones(5_000, dtype=bool)):
        kept = network.keep_ties(keys, a, b, mask)
        for got, want in zip(kept, (keys[mask], a[mask], b[mask])):
            np.testing.assert_array_equal(got, want)


def test_displacement_takes_members_extra_sales_from_the_non_members_of_their_county_and_sector():
    from sim.engine.growth import GrowthParams, displace

    # Two markets (county 0 and 1 of one sector): in the first a member of 100 gains 10 % from market
    # access and two non-members hold 150 and 50; the second has non-members only.
    region, sector = np.array([0, 0, 0, 1], dtype=np.int16), np.zeros(4, dtype=np.int16)
    revenue, member = np.array([100.0, 150.0, 50.0, 80.0]), np.array([True, False, False, False])
    access = np.array([np.log(1.1), 0.0, 0.0, 0.0])
    join_year = np.array([2010, -1, -1, -1], dtype=np.int16)
    fields = dict.fromkeys(GrowthParams._fields, 0.0) | {"max_displaced_share": 0.5}
    for share in (0.0, 0.5, 1.0):
        rate = np.zeros(4)
        params = GrowthParams(**fields | {"displacement": share})
        displace(4, np.ones(4, dtype=np.bool_), 2010, params, revenue, access, sector, region, 1, member, join_year,
                 rate)
        lost = share * 10.0 / 200.0  # the member's 10 of extra sales, over the non-members' 200
        np.testing.assert_allclose(rate, [0.0, np.log1p(-lost), np.log1p(-lost), 0.0], atol=1e-12)
