"""Floating-point allowances, log ratios and slopes used by every check (eoscheck.properties.numerics)."""

import math

import numpy as np
import pytest

from eoscheck.properties.numerics import (EPS, FP_ULPS, allowance, log_grid_indices, log_ratio, loglog_slope,
                                          rel_allowance)


def test_allowance_is_ulps_times_the_magnitudes():
    assert allowance(3.0, -4.0) == pytest.approx(FP_ULPS * 2.0**-52 * 7.0, rel=1e-15)
    assert EPS == 2.0**-52
    np.testing.assert_allclose(rel_allowance(np.array([0.0, 9.0]), 1.0), FP_ULPS * 2.0**-52 * np.array([1.0, 10.0]))


def test_log_ratio_signs_and_zero_bounds():
    out = log_ratio(np.array([2.0, 0.0, 1.0, -1.0, 5.0]), np.array([1.0, 3.0, 0.0, 0.0, 5.0]))
    assert out[0] == pytest.approx(math.log(2.0))
    assert out[1] == -math.inf          # measured 0 under a positive bound: as far from violation as possible
    assert out[2] == pytest.approx(1.0)  # 1 > 0: a violation of "≤ 0", scored in [−1, 1]
    assert out[3] == pytest.approx(-1.0)
    assert out[4] == 0.0


def test_loglog_slope_recovers_a_power_law():
    x = np.geomspace(10, 1e4, 20)
    assert loglog_slope(x, 3.7 * x**-1.5) == pytest.approx(-1.5, abs=1e-12)
    assert math.isnan(loglog_slope(np.array([1.0]), np.array([2.0])))


def test_log_grid_is_sorted_unique_and_inside():
    g = log_grid_indices(1000, 50, start=3)
    assert g[0] == 3 and g[-1] == 1000 and np.all(np.diff(g) > 0)
