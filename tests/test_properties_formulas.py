"""Bound evaluators: hand-checked values, ρ against Lambert W, and agreement with eoscheck.bounds."""

import math

import numpy as np
import pytest
from scipy.special import lambertw

from eoscheck.properties import formulas as F


def test_hand_checked_values():
    # η = 4, γ = 0.5, t = 10: λ = 10 → (1 + ln²10 + 4)/10
    assert F.eos_average(4.0, 0.5, 10.0) == pytest.approx((5 + math.log(10) ** 2) / 10, rel=1e-15)
    assert F.w_norm(4.0, 0.5, 10.0) == pytest.approx((math.sqrt(2) + 2 * math.log(10) + 4) / 0.5, rel=1e-15)
    # τ(η = 1, n = 4, γ = 0.5) = 240·max{1, 4, e, 5 ln 5} = 240·5 ln 5
    assert F.tau(np.array([1.0]), 4, 0.5)[0] == pytest.approx(240 * 5 * math.log(5), rel=1e-15)
    assert F.cor2_bound(1000.0, 0.5) == pytest.approx(480 * math.log(62500) ** 2 / 62500, rel=1e-15)
    assert F.crawshaw_liu_tau_2d(4, 0.5) == pytest.approx(2 + 32 + 280 * math.log(8) * 4, rel=1e-15)


def test_rho_of_the_exponential_loss_is_lambert_w():
    # ρ(λ) = min λe^{−z} + z²: z = W(λ/2), ρ = 2W + W² (the bounds issue's closed form)
    lam = np.array([1.0, 7.0, 1e3, 1e8])
    w = lambertw(lam / 2).real
    np.testing.assert_allclose(F.rho("exponential", lam), 2 * w + w**2, rtol=1e-12)


def test_rho_below_proposition_5_bounds():
    lam = np.geomspace(1, 1e10, 30)
    assert np.all(F.rho("logistic", lam) <= 1 + np.log(lam) ** 2)
    assert np.all(F.rho("flat_exp:a=2.0", lam) <= 1 + np.log(lam) ** 2 / 4)
    assert np.all(F.rho("flat_poly:a=1.0", lam) <= 2 * lam ** (2 / 3))


CASES = [
    ("thm1.eos_average", None, dict(eta=np.array([0.5, 30.0, 900.0]), gamma=0.07, t=np.array([3e3, 10.0, 2.0]))),
    ("thm1.w_norm", None, dict(eta=np.array([0.5, 30.0]), gamma=0.3, t=np.array([100.0, 7.0]))),
    ("thm1.stable_bound", None, dict(eta=np.array([2.0, 64.0]), gamma=0.2, t=np.array([400.0, 90.0]), s=5.0,
                                     F_s=np.array([0.3, 0.9]))),
    ("thm1.tau", None, dict(eta=np.array([0.01, 3.0, 500.0]), gamma=0.1, n=7)),
    ("cor2.bound", None, dict(T=np.array([1e3, 1e6]), gamma=0.4)),
    ("crawshaw_liu.tau_2d", None, dict(n=np.array([3.0]), gamma=0.25)),
    ("thm35.eos_average", "flat_exp:a=1.5", dict(eta=np.array([1.0, 100.0]), gamma=0.2, t=np.array([50.0, 5.0]))),
    ("thm35.stable_bound", "flat_poly:a=2.0", dict(eta=np.array([3.0]), gamma=0.3, t=np.array([500.0]), s=20.0)),
    ("thm35.stable_threshold", "logistic", dict(eta=np.array([0.5, 50.0]), n=9)),
    ("thm35.tau_explicit_exp", "logistic", dict(eta=np.array([2.0, 64.0]), gamma=0.1, n=5)),
    ("thm4.loss", None, dict(eta=np.array([4.0]), gamma=0.3, t=np.array([300.0]), delta=0.1)),
]


@pytest.mark.parametrize("bid,loss,values", CASES, ids=[c[0] for c in CASES])
def test_private_transcriptions_agree_with_eoscheck_bounds(bid, loss, values):
    reg = F.bounds_registry()
    if bid not in reg:
        pytest.skip(f"eoscheck.bounds has no {bid} ({F.BOUNDS_ERROR or 'not defined'})")
    ours = F.PRIVATE_KW[bid](loss, **values)
    theirs = reg[bid].numpy(loss=loss, **values) if loss else reg[bid].numpy(**values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-9)
