"""The inline exp, log, log1p and normal quantile agree with numpy's to a few units in the last place."""

import numba
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import special

from sim.engine import vecmath as vm


def _vectorised(fn):
    @numba.njit(fastmath={"nsz", "arcp", "contract", "afn"}, error_model="numpy")
    def loop(x):
        out = np.empty_like(x)
        for i in range(x.shape[0]):
            out[i] = fn(x[i])
        return out
    return loop


EXP, LOG, LOG1P, NDTRI = (_vectorised(f) for f in (vm.exp, vm.log, vm.log1p, vm.ndtri))


def _relative_error(got: np.ndarray, want: np.ndarray) -> float:
    return float(np.max(np.abs(got - want) / np.maximum(np.abs(want), np.finfo(float).tiny)))


def test_exp_matches_numpy_within_four_ulps_over_the_normal_range():
    x = np.concatenate([np.linspace(-700.0, 700.0, 20_001), np.linspace(-1e-3, 1e-3, 2_001)])
    assert _relative_error(EXP(x), np.exp(x)) < 4 * np.finfo(float).eps


def test_log_matches_numpy_within_two_ulps_from_tiny_to_huge_numbers():
    x = np.geomspace(1e-300, 1e300, 50_001)
    assert _relative_error(LOG(x), np.log(x)) < 2 * np.finfo(float).eps
    assert LOG(np.array([1.0]))[0] == 0.0


def test_log1p_keeps_its_accuracy_for_arguments_that_vanish_next_to_one():
    y = np.concatenate([10.0 ** -np.arange(1.0, 300.0), -(10.0 ** -np.arange(1.0, 300.0)),
                        np.linspace(-0.999, 10.0, 10_001), [0.0]])
    assert _relative_error(LOG1P(y), np.log1p(y)) < 4 * np.finfo(float).eps


def test_normal_quantile_matches_scipy_in_the_centre_and_both_tails():
    u = np.concatenate([np.linspace(1e-6, 1 - 1e-6, 20_001), np.geomspace(1e-300, 1e-6, 2_001),
                        1.0 - np.geomspace(1e-16, 1e-6, 501)])
    assert np.max(np.abs(NDTRI(u) - special.ndtri(u))) < 1e-13


@settings(max_examples=300, deadline=None)
@given(st.integers(min_value=1, max_value=2**53 - 2))
def test_normal_quantile_is_odd_around_one_half_and_monotone_to_rounding(k):
    u = k * 2.0**-53  # a multiple of 2**-53, so that 1 - u is exact
    z = NDTRI(np.array([u, 1.0 - u, np.nextafter(u, 1.0)]))
    assert z[0] == pytest.approx(-z[1], abs=1e-12)
    assert z[2] >= z[0] - 1e-13  # monotone to within rounding
