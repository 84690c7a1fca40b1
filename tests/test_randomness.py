"""Firm-keyed random numbers: right distributions, and the same luck for the same firm."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from sim.engine import randomness as rnd

ROWS = np.arange(200_000)


def test_uniforms_are_uniform_and_inside_the_open_interval():
    u = rnd.uniform(1, "test", 2020, ROWS)
    assert u.min() > 0.0 and u.max() < 1.0
    assert stats.kstest(u, "uniform").pvalue > 0.001


def test_a_firm_gets_the_same_number_whoever_else_is_drawn():
    every = rnd.uniform(5, "growth.shock", 2010, ROWS)
    some = rnd.uniform(5, "growth.shock", 2010, ROWS[::7])
    np.testing.assert_array_equal(every[::7], some)


@pytest.mark.parametrize("other", [(6, "growth.shock", 2010), (5, "growth.other", 2010), (5, "growth.shock", 2011)])
def test_seed_purpose_and_year_each_give_independent_numbers(other):
    a = rnd.uniform(5, "growth.shock", 2010, ROWS)
    b = rnd.uniform(*other, ROWS)
    assert abs(np.corrcoef(a, b)[0, 1]) < 0.01


def test_neighbouring_rows_are_independent():
    u = rnd.uniform(3, "x", 2000, ROWS)
    assert abs(np.corrcoef(u[:-1], u[1:])[0, 1]) < 0.01


@pytest.mark.parametrize(("transform", "dist"), [
    (rnd.normal, stats.norm), (rnd.laplace, stats.laplace), (rnd.gumbel, stats.gumbel_r),
])
def test_transforms_give_their_distribution(transform, dist):
    x = transform(rnd.uniform(2, "t", 2000, ROWS))
    assert stats.kstest(x, dist.cdf).pvalue > 0.001


@pytest.mark.parametrize("lam", [0.05, 0.5, 2.0, 6.0])
def test_poisson_counts_have_the_poisson_distribution(lam):
    k = rnd.poisson(rnd.uniform(4, "p", 2000, ROWS), lam)
    observed = np.bincount(k, minlength=20)[:20]
    expected = stats.poisson.pmf(np.arange(20), lam) * len(ROWS)
    keep = expected > 5
    chi2 = ((observed[keep] - expected[keep]) ** 2 / expected[keep]).sum()
    assert stats.chi2.sf(chi2, keep.sum() - 1) > 0.001
    assert k.mean() == pytest.approx(lam, rel=0.02)


def test_poisson_takes_one_mean_per_firm():
    lam = np.where(ROWS % 2 == 0, 0.0, 3.0)
    k = rnd.poisson(rnd.uniform(4, "p", 2000, ROWS), lam)
    assert k[lam == 0].max() == 0
    assert k[lam == 3].mean() == pytest.approx(3.0, rel=0.02)


@pytest.mark.parametrize(("a", "b"), [(0.6, 3.4), (0.05, 3.95), (2.0, 2.0), (0.3, 0.2), (40.0, 60.0)])
def test_beta_numbers_have_the_beta_distribution(a, b):
    x = rnd.beta(np.uint64(11), np.full(len(ROWS), a), np.full(len(ROWS), b))
    assert x.min() >= 0.0 and x.max() <= 1.0
    assert stats.kstest(x, stats.beta(a, b).cdf).pvalue > 0.001
    assert x.mean() == pytest.approx(a / (a + b), rel=0.02)


def test_beta_numbers_depend_only_on_key_and_shapes():
    a, b = np.linspace(0.1, 5.0, 1000), np.linspace(3.0, 0.2, 1000)
    np.testing.assert_array_equal(rnd.beta(np.uint64(3), a, b), rnd.beta(np.uint64(3), a, b))
    same = np.full(len(ROWS), 2.0)
    assert abs(np.corrcoef(rnd.beta(np.uint64(3), same, same), rnd.beta(np.uint64(4), same, same))[0, 1]) < 0.01


def test_blocked_normals_equal_the_quantile_of_each_firms_uniform():
    # Across block edges (1,024 rows) and both tails: the blocked path computes the central and
    # the tail formulas separately and must give ndtri of each row's uniform.
    n = 5_000
    u = rnd._hashed_uniforms(np.uint64(9), np.arange(n))
    expected = stats.norm.ppf(u)
    np.testing.assert_allclose(rnd.normals_of(np.uint64(9), n), expected, rtol=0, atol=1e-13)
    np.testing.assert_allclose(rnd.normal(u), expected, rtol=0, atol=1e-13)
    tails = np.array([1e-300, 1e-12, 0.01, 0.07, 0.075, 0.5, 0.925, 0.93, 0.99, 1 - 1e-12])
    np.testing.assert_allclose(rnd.normal(tails), stats.norm.ppf(tails), rtol=1e-14, atol=1e-13)


def test_keys_of_several_purposes_are_each_purposes_key():
    names = ("growth.shock", "collaboration.where", "a purpose with a long name" * 3)
    for seed, year in ((0, 2000), (7, 2035), (2**62 + 5, 0)):
        assert list(rnd.keys(seed, names, year)) == [rnd.key(seed, name, year) for name in names]
