"""The test oracle (tests/oracle_formulas.py): hand-checked values, ρ against Lambert W, and agreement
with eoscheck.bounds, the one encoding the claims evaluate."""

import importlib.util
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.special import lambertw

from eoscheck.bounds import get_bound
from eoscheck.bounds.rho import psi_inv, rho

# the oracle sits beside this file (pytest runs with --import-mode=importlib: tests/ is not on sys.path)
_SPEC = importlib.util.spec_from_file_location("oracle_formulas", Path(__file__).with_name("oracle_formulas.py"))
F = importlib.util.module_from_spec(_SPEC)
_SPEC.loader.exec_module(F)


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
    ("thm4.error", None, dict(eta=np.array([4.0, 0.5]), gamma=0.3, t=np.array([300.0, 40.0]), delta=0.1)),
    ("lemma9.G_average", None, dict(eta=np.array([0.5, 30.0]), gamma=0.3, t=np.array([100.0, 7.0]))),
    ("cor2.T_min", None, dict(n=9.0, gamma=0.3)),
    ("cor2.eta", None, dict(T=np.array([1e3, 1e5]), gamma=0.3)),
    ("lemma14.general_threshold", None, dict(r=np.array([0.1, 0.9]), q=np.array([0.5, 0.02]))),
    ("crawshaw_liu.eta0", None, dict(n=3.0, gamma=0.25)),
    ("crawshaw_liu.stable_bound_sharp", None, dict(eta=np.array([2.0]), gamma=0.2, t=np.array([90.0]), s=5.0,
                                                   L_s=np.array([0.05]))),
    ("thm35.tau_explicit_poly", "flat_poly:a=1.0", dict(eta=np.array([2.0, 64.0]), gamma=0.1, n=5)),
    ("prop15.test_error", None, dict(d=2.0, n=100.0, delta=0.05)),
]


@pytest.mark.parametrize("bid,loss,values", CASES, ids=[c[0] for c in CASES])
def test_oracle_transcriptions_agree_with_eoscheck_bounds(bid, loss, values):
    # both sides are a few float64 operations on the same inputs (logs of arguments ≥ 1, no
    # cancellation: ≲ 10 ulps) except ρ, which the oracle finds by bisection to a few ulps of z (ρ is a
    # minimum, so ρ is then exact to O(ulp²)), and the explicit τ's, roots x = γ²τ found by bisection in
    # ln x to its last ulp on both sides: x to eps·|ln x| ≤ 2.2e-16·40 ≈ 1e-14 relative each, times the
    # root's condition number (the condition's left side decreases like ln x/x, a slope of order 1 in ln
    # x: ≲ 10).  1e-12 covers that with 5× room (worst measured: 4.9e-15, τ_explicit_poly).
    ours = F.ORACLE[bid](loss, **values)
    theirs = get_bound(bid).numpy(loss=loss, **values) if loss else get_bound(bid).numpy(**values)
    np.testing.assert_allclose(ours, theirs, rtol=1e-12)


def test_rho_of_bounds_agrees_with_the_bisection_oracle():
    # two methods (safeguarded Newton / closed form vs bisection), same ρ to rounding; 1e-12 relative:
    # each is within a few ulps of the minimum value, and ρ is flat in z at its minimizer.
    lam = np.geomspace(1, 1e9, 12)
    for loss in ("logistic", "exponential", "flat_exp:a=2.0", "flat_poly:a=1.0"):
        np.testing.assert_allclose(np.asarray(rho(loss, lam), dtype=float), F.rho(loss, lam), rtol=1e-12)
    # ψ⁻¹ by both sides' root finders to the last ulp of ln λ: λ to eps·ln λ ≲ 2e-15 relative, over
    # d ln ψ/d ln λ ≥ 1/2 here (ψ(λ) = λ/ρ(λ) with ρ growing like ln²λ): ≤ 5e-15; 1e-13 leaves 20× room
    y = np.array([3.0, 50.0, 1e4])
    np.testing.assert_allclose(np.asarray(psi_inv("logistic", y), dtype=float), F.psi_inverse("logistic", y),
                               rtol=1e-13)


def test_every_oracle_id_is_a_bound():
    from eoscheck.bounds import BOUNDS

    assert set(F.ORACLE) <= set(BOUNDS), sorted(set(F.ORACLE) - set(BOUNDS))
