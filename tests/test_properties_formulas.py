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
    ("crawshaw_liu.step_decrease", None, dict(eta=np.array([0.5, 64.0]), gamma=0.2, L_s=np.array([0.2, 1e-3]))),
    ("thm35.tau_explicit_poly", "flat_poly:a=1.0", dict(eta=np.array([2.0, 64.0]), gamma=0.1, n=5)),
    ("prop15.test_error", None, dict(d=2.0, n=100.0, delta=0.05)),
    ("thm35.tau_psi", "flat_poly:a=1.0", dict(eta=np.array([0.5, 3.0, 80.0]), gamma=0.2, n=6, C1=2.5)),
    ("thm35.tau_psi", "logistic", dict(eta=np.array([1.0, 40.0]), gamma=0.1, n=3, C1=1.5)),
    ("thm35.tau_exp_tail", "flat_exp:a=2.0", dict(eta=np.array([0.5, 30.0]), gamma=0.2, n=7, C2=3.0)),
    ("lemma34.rho_exp_tail", "flat_exp:a=0.5", {"lambda": np.array([1.0, 30.0, 1e6])}),
    ("lemma20.ell_sqrt_rho", "flat_poly:a=2.0", {"lambda": np.array([1.0, 30.0, 1e6])}),
    ("thm6.R", "logistic", dict(C_a=1.2, T=500.0, delta=0.05, eta=np.array([0.5, 8.0]), gamma=0.3, n=10)),
    ("thm6.lazy_radius", "flat_exp:a=1.5", dict(C_a=0.7, T=200.0, delta=0.1, eta=np.array([2.0]), gamma=0.2, n=4)),
    ("lemma28.radius_t", "flat_poly:a=0.5", dict(C_a=1.0, delta=0.05, eta=np.array([4.0]), gamma=0.25, n=6,
                                                 t=np.array([30.0]))),
    ("thm6.width", "logistic", dict(C_a=1.2, T=500.0, delta=0.05, eta=np.array([0.5, 8.0]), gamma=0.3, n=10)),
    ("thm6.eos_average", "flat_exp:a=1.0", dict(C_a=1.0, delta=0.05, eta=np.array([1.0, 16.0]), gamma=0.2, n=8,
                                                t=np.array([100.0, 40.0]))),
    ("lemma29.G_average", "logistic", dict(C_a=0.5, delta=0.2, eta=np.array([3.0]), gamma=0.4, n=5,
                                           t=np.array([60.0]))),
    ("lemma32.displacement", "flat_poly:a=1.0", dict(eta=np.array([2.0]), gamma=0.3, s=10.0, t=np.array([90.0]))),
    ("thm6.stable_threshold", "flat_exp:a=2.0", dict(eta=np.array([0.1, 50.0]), n=9)),
    ("thm6.stable_bound", "logistic", dict(eta=np.array([3.0]), gamma=0.3, s=20.0, t=np.array([500.0]))),
    ("thm6.tau_psi", "flat_poly:a=2.0", dict(eta=np.array([1.0, 20.0]), gamma=0.2, n=5, C1=1.0)),
    ("thm6.tau_exp_tail", "logistic", dict(eta=np.array([1.0, 300.0]), gamma=0.2, n=12, C2=2.0)),
    ("lemma7.split_step", None, dict(gamma=0.2, grad_proj=np.array([-0.03, -1e-5]))),
    ("lemma9.perceptron_step", None, dict(G_t=np.array([0.4, 1e-3]), eta=np.array([2.0, 50.0]), gamma=0.3)),
    ("lemma10.monotone_threshold", None, dict(eta=np.array([0.5, 64.0]))),
    ("lemma10.log_descent", None, dict(L_t=np.array([0.3, 1e-4]), eta=np.array([2.0, 9.0]),
                                       grad_norm=np.array([0.2, 5e-5]))),
    ("thm1.stable_threshold", None, dict(eta=np.array([0.5, 64.0]))),
    ("thm1.stable_from_start", None, {}),
    ("lemma12.G_at_s", None, dict(eta=np.array([0.5, 64.0]), n=8)),
    ("lemma12.L_at_s", None, dict(eta=np.array([0.5, 64.0]), n=8)),
    ("cor2.tau", None, dict(T=np.array([1e3, 12345.0]))),
    ("lemma14.first_step_threshold", None, {}),
    ("thm3.lower", None, dict(t=np.array([1.0, 1e4]), c0=0.3)),
    ("lemma13.lower", None, dict(eta=np.array([0.5, 20.0]), t=np.array([10.0, 1e3]), c0=0.4)),
    ("prop5.rho_logistic", None, {"lambda": np.array([1.0, 30.0, 1e9])}),
    ("prop5.rho_flat_exp", None, {"a": 1.5, "lambda": np.array([1.0, 30.0, 1e9])}),
    ("prop5.rho_flat_poly", None, {"a": 0.5, "lambda": np.array([1.0, 30.0, 1e9])}),
    ("lemma21.width", None, dict(delta=0.05, gamma=0.2, n=100)),
    ("classic.descent_lemma", None, dict(lambda_max=np.array([0.05, 1.0]))),
    ("classic.quadratic_divergence", None, dict(hess_max=np.array([0.05, 3.0]))),
    ("classic.small_stepsize_rate", None, dict(eta=np.array([1.0, 4.0]), gamma=0.3, t=np.array([50.0, 1e4]))),
    ("crawshaw_liu.stable_threshold", None, dict(eta=np.array([0.5, 500.0]), n=20)),
    ("crawshaw_liu.stable_bound", None, dict(eta=np.array([64.0]), gamma=0.1, s=7.0, t=np.array([400.0]))),
    ("crawshaw_liu.hard1_misclassified", None, dict(gamma=0.05, n=12)),
    ("crawshaw_liu.hard2_loss_above", None, dict(gamma=np.array([0.05, 1 / 6]))),
]


@pytest.mark.parametrize("bid,loss,values", CASES, ids=[f"{c[0]}-{c[1]}" for c in CASES])
def test_oracle_transcriptions_agree_with_eoscheck_bounds(bid, loss, values):
    # both sides are a few float64 operations on the same inputs (logs of arguments ≥ 1, no
    # cancellation: ≲ 10 ulps) except ρ, which the oracle finds by bisection to a few ulps of z (ρ is a
    # minimum, so ρ is then exact to O(ulp²)), and the explicit τ's, roots x = γ²τ found by bisection in
    # ln x to its last ulp on both sides: x to eps·|ln x| ≤ 2.2e-16·40 ≈ 1e-14 relative each, times the
    # root's condition number (the condition's left side decreases like ln x/x, a slope of order 1 in ln
    # x: ≲ 10).  The ψ⁻¹ of the τ_psi forms is found to ≤ 5e-15 (below); Theorem 6's width raises R's relative
    # error (a few ulps, through ρ) by its exponent 6·(1/3) = 2.  1e-12 covers all of that with 5× room (worst
    # measured: 4.9e-15, τ_explicit_poly).
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


def test_every_bound_has_an_oracle_transcription_and_a_case():
    """Each bound of eoscheck.bounds is typed a second time in the oracle and compared above (Theorem 6, Lemmas
    7–32, Proposition 5, the per-step lemmas, the classics and Crawshaw–Liu's statements had no second
    transcription: an error in their encoding had nothing to disagree with)."""
    from eoscheck.bounds import BOUNDS

    assert set(F.ORACLE) == set(BOUNDS), (sorted(set(BOUNDS) - set(F.ORACLE)), sorted(set(F.ORACLE) - set(BOUNDS)))
    assert {c[0] for c in CASES} == set(BOUNDS), sorted(set(BOUNDS) - {c[0] for c in CASES})
