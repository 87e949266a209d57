"""Floating-point allowances, log ratios and slopes used by every check (eoscheck.properties.numerics)."""

import math

import numpy as np
import pytest

from eoscheck.properties.numerics import (EPS, FP_ULPS, allowance, log_grid_indices, log_ratio, loglog_fit,
                                          loglog_slope, rel_allowance)


def test_allowance_is_ulps_times_the_magnitudes():
    assert allowance(3.0, -4.0) == pytest.approx(FP_ULPS * 2.0**-52 * 7.0, rel=1e-15)
    assert EPS == 2.0**-52
    np.testing.assert_allclose(rel_allowance(np.array([0.0, 9.0]), 1.0), FP_ULPS * 2.0**-52 * np.array([1.0, 10.0]))


def test_log_ratio_signs_and_zero_bounds():
    out = log_ratio(np.array([2.0, 0.0, 1.0, -1.0, 5.0]), np.array([1.0, 3.0, 0.0, 0.0, 5.0]))
    assert out[0] == pytest.approx(math.log(2.0))
    assert out[1] == -math.inf          # measured 0 under a positive bound: as far from violation as possible
    assert out[2] == math.inf           # 1 > 0: ln(1/b) → +∞ as b → 0⁺, beyond every positive bound's ratio
    assert out[3] == -math.inf
    assert out[4] == 0.0
    # a negative bound: the signed excess (m − b)/max(|b|, |m|), by hand: (0.5 + 1)/1, (−3 + 1)/3, 0
    neg = log_ratio(np.array([0.5, -3.0, -2.0, 0.0]), np.array([-1.0, -1.0, -2.0, 0.0]))
    assert neg.tolist() == [1.5, -2.0 / 3.0, 0.0, 0.0]


def test_a_bound_that_underflows_to_zero_ranks_beyond_every_positive_bound():
    """``loss(t) >= exp(-1000*eta*t)``: e^{−250} ≈ 2.7e-109 at ηt = 0.25, 0 in float64 beyond ηt ≈ 0.75.  The
    point nearest violation of a lower bound is the one of least ln(m/b); a zero bound scored −1 (the signed
    excess) beat ln(0.5/2.7e-109) = −249.3, so the worst point was one whose ratio is beyond float64 and the CLI
    printed a blank worst ratio."""
    from eoscheck.properties.claims import Evaluation

    ev = Evaluation(np.array([0.5, 0.4]), np.array([math.exp(-250.0), 0.0]), 0.0, ">=")
    assert ev.worst_index() == 0
    assert ev.point(0)["ratio"] == pytest.approx(0.5 / math.exp(-250.0), rel=1e-15, abs=0)


def test_loglog_slope_recovers_a_power_law():
    x = np.geomspace(10, 1e4, 20)
    assert loglog_slope(x, 3.7 * x**-1.5) == pytest.approx(-1.5, abs=1e-12)
    assert math.isnan(loglog_slope(np.array([1.0]), np.array([2.0])))


def test_loglog_fit_half_width_matches_a_hand_computed_line():
    """ln x = 0, 1, 2 and ln y = 0, 1, 3: slope Σuv/Σu² = 3/2, intercept 4/3 − 3/2 = −1/6, residuals 1/6, −1/3, 1/6,
    Σr² = 1/6, one degree of freedom: se = √((1/6)/1 / 2) = 1/√12, and Student's t with one degree of freedom is
    Cauchy's, t₀.₉₇₅ = tan(0.475π)."""
    x = np.exp(np.array([0.0, 1.0, 2.0]))
    slope, half = loglog_fit(x, np.exp(np.array([0.0, 1.0, 3.0])))
    # exp then log returns each input within ~2 ulps; the residuals (≥ 1/6) and Σu² = 2 are sums of O(1) terms
    # with no cancellation, so the result carries ~10 ulps: 1e-12 relative leaves 100× room
    assert slope == pytest.approx(1.5, rel=1e-12)
    assert half == pytest.approx(math.tan(0.475 * math.pi) / math.sqrt(12.0), rel=1e-12)
    two = loglog_fit(np.array([1.0, 2.0]), np.array([1.0, 0.25]))
    assert two[0] == pytest.approx(-2.0, rel=1e-12) and math.isnan(two[1])   # two points: no residual to judge by


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
    # each ratio is computed from two float64 values within a few ulps each (the hand-written stable forms: an exp
    # or log1p and a division, ≤ 4 ulps apiece) and one division: ≤ 9 ulps; 16 ulps of allowance
    assert r.max() <= log_slope(loss) * (1 + 16 * 2.0**-52)
    assert r.max() >= 0.99 * float(loss.paper_constants["C_g"])   # C_g = a is reached (max{1, ·} only rounds up)


@pytest.mark.parametrize("spec, slope", [("flat_exp:a=3", 3.0), ("logistic", 1.0)])
def test_theorem35_allowances_use_the_losses_log_slope(spec, slope, monkeypatch):
    """The float allowances of the Theorem 35 claims scale with |ℓ′|/ℓ ≤ max{1, C_g} (a = 3 for flat_exp:a=3): the
    allowance functions must receive that slope for the instance's loss, not 1."""
    from eoscheck import toy
    from eoscheck.properties import numerics, theorem35
    from eoscheck.properties.instances import Instance

    seen = []

    def spy(fn):
        def wrapped(*args, slope=1.0, **kw):
            seen.append(slope)
            return fn(*args, slope=slope, **kw)
        return wrapped

    monkeypatch.setattr(theorem35, "rel_allowance", spy(numerics.rel_allowance))
    monkeypatch.setattr(theorem35, "average_allowance",
                        lambda t, w, slope=1.0: (seen.append(slope), numerics.average_allowance(t, w, slope))[1])
    inst = Instance(toy(normalized=True), spec, (1.0, 8.0), 60)
    theorem35.thm35_eos_average(inst)
    theorem35.thm35_stable_monotone(inst)
    assert len(seen) == 2 and set(seen) == {slope}
