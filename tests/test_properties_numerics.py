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


@pytest.mark.parametrize("name", ["logistic", "flat_exp:a=0.5", "flat_exp:a=2", "flat_exp:a=3", "flat_poly:a=0.5",
                                  "flat_poly:a=2", "flat_poly:a=3"])
def test_log_slope_bounds_the_losses_relative_sensitivity(name):
    """The allowances turn a margin's rounding δz into ℓ's relative error (|ℓ′|/ℓ)·δz; the Theorem 35 claims draw
    flat_exp/flat_poly with a ≤ 3, where |ℓ′|/ℓ reaches a (the first allowance assumed 1)."""
    import torch

    from eoscheck.losses import get_loss
    from eoscheck.properties.numerics import log_slope

    loss = get_loss(name)
    z = torch.cat([torch.linspace(-1e4, -50, 2001, dtype=torch.float64), torch.linspace(-50, 50, 200001,
                                                                                        dtype=torch.float64),
                   torch.linspace(50, 700, 2001, dtype=torch.float64)])
    with torch.no_grad():
        r = (loss.grad(z).abs() / loss.value(z)).numpy()
    r = r[np.isfinite(r)]
    # each ratio is computed from two float64 values within a few ulps each: ≤ 1e-13 relative
    assert r.max() <= log_slope(loss) * (1 + 1e-13)
    assert r.max() >= 0.99 * float(loss.paper_constants["C_g"])   # C_g = a is reached (max{1, ·} only rounds up)
