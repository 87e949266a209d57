"""Consequences derived with sympy (issue §3): Corollary 2's τ ≤ T/2, its bound chain and order,
Lemma 14's 40 ln 2, the Lemma 34 explicit time — each also checked numerically in plain Python."""

import math
import random

import pytest
import sympy as sp

from eoscheck.bounds import (
    derive_bound_chain, derive_order, derive_tau_explicit_exp, derive_tau_le_half_T, get_bound,
)


def tau_thm1(eta, n, gamma):
    """Theorem 1's τ, transcribed from paper.md §2."""
    r = (eta + n) / eta
    return 60 / gamma**2 * max(eta, n, math.e, r * math.log(r))


def test_tau_le_half_T_is_derived_with_sympy():
    d = derive_tau_le_half_T()
    assert d.ok, str(d)
    claims = " ".join(s.claim for s in d.steps)
    assert "n ≥ e" in claims and "n < e" in claims  # both cases of max{e, n}
    assert any("2 ln 2 < e" in s.claim for s in d.steps)  # the corrected fourth-term bound (erratum §11.3)


def test_tau_le_half_T_numerically():
    """The encoded τ (``thm1.tau``) at the encoded η of Corollary 2 (``cor2.eta``) is ≤ T/2 above ``cor2.T_min``,
    and both encodings equal the transcriptions here.  Tolerances: each closed form is a few float operations
    (≲ 10 ulps); the one ill-conditioned part, ln r with r = (η + n)/η → 1 (relative error ≈ eps/ln r), sits in
    the fourth term of the max, r ln r ≈ n/η·(1 + n/η) < e there, so it never sets the max — 1e-13 relative
    (~450 ulps) covers the rest; 1e-12 on τ ≤ T/2 is Appendix C's inequality with that rounding."""
    tau, eta_of, tmin = get_bound("thm1.tau"), get_bound("cor2.eta"), get_bound("cor2.T_min")
    rng = random.Random(0)
    for _ in range(2000):
        n = math.exp(rng.uniform(0, math.log(1e6)))
        gamma = rng.uniform(1e-3, 1.0)
        T = 120 * max(math.e, n) / gamma**2 * math.exp(rng.uniform(0, 6))
        assert tmin.evaluate(n=n, gamma=gamma) == pytest.approx(120 * max(math.e, n) / gamma**2, rel=1e-13)
        eta = eta_of.evaluate(T=T, gamma=gamma)
        assert eta == pytest.approx(gamma**2 * T / 120, rel=1e-13)
        t = tau.evaluate(eta=eta, n=n, gamma=gamma)
        assert t == pytest.approx(tau_thm1(eta, n, gamma), rel=1e-13)
        assert t <= T / 2 * (1 + 1e-12)
    # and it can fail below T_min: the derivation's hypothesis matters
    n, gamma = 1000.0, 0.1
    T = 0.5 * 120 * n / gamma**2
    assert tau.evaluate(eta=eta_of.evaluate(T=T, gamma=gamma), n=n, gamma=gamma) > T / 2


def test_bound_chain_is_derived_and_holds_numerically():
    d = derive_bound_chain()
    assert d.ok, str(d)
    for gamma in (0.05, 0.3, 1.0):
        for n in (1.0, 50.0, 1e4):
            T0 = 120 * max(math.e, n) / gamma**2
            for f in (1.0, 3.0, 1e3):
                T = T0 * f
                eta = gamma**2 * T / 120
                x = gamma**2 * eta * T / 2  # t − s = T/2 at worst, F(w_s) ≤ 1
                stable = (2 + math.log(x) ** 2) / x
                cor2 = 480 * math.log(gamma**4 * T**2) ** 2 / (gamma**4 * T**2)
                assert stable <= cor2
                assert get_bound("cor2.bound").evaluate(T=T, gamma=gamma) == pytest.approx(cor2, rel=1e-13)


def test_corollary2_bound_is_of_order_ln2T_over_T2():
    d = derive_order()
    assert d.ok
    g = sp.Symbol("gamma", positive=True, real=True)
    assert sp.simplify(d.result - 1920 / g**4) == 0
    # numerically: with γ = 1, T² L / ln²T = 480·ln²(T²)/ln²T = 1920 exactly
    for T in (1e10, 1e50, 1e150):
        ratio = get_bound("cor2.bound").evaluate(T=T, gamma=1.0) * T**2 / math.log(T) ** 2
        assert ratio == pytest.approx(1920, rel=1e-12)


def test_lemma14_threshold_derived_by_substitution():
    general = get_bound("lemma14.general_threshold")
    first = get_bound("lemma14.first_step_threshold")
    r, q = sp.Symbol("r", positive=True, real=True), sp.Symbol("q", positive=True, real=True)
    assert sp.simplify(general.expr.subs({r: sp.Rational(1, 10), q: sp.Rational(1, 2)}) - first.expr) == 0
    assert first.expr == 40 * sp.log(2)


def test_lemma14_on_the_theorem3_data():
    # one GD step from w₀ = 0 on x₁ = (γ, a), x₂ = (γ, −a/2), a = √(1−γ²): w₁ = (η/2)·mean(x) (paper.md §4)
    thr = get_bound("lemma14.first_step_threshold").evaluate()
    assert thr == pytest.approx(40 * math.log(2), rel=4e-16)   # a product of ln 2 by 40: ≤ 1 ulp each
    for gamma in (0.01, 0.05, 0.09):
        a = math.sqrt(1 - gamma**2)
        xs = [(gamma, a), (gamma, -a / 2)]
        for eta in (thr * 1.0001, thr * 3):
            w = tuple(eta / 2 * sum(x[i] for x in xs) / 2 for i in range(2))
            L1 = sum(math.log1p(math.exp(-(w[0] * x[0] + w[1] * x[1]))) for x in xs) / 2
            assert L1 > math.log(2)


def test_tau_explicit_exp_derivation():
    d = derive_tau_explicit_exp()
    assert d.ok, str(d)


def test_cor2_ids_consistent_with_theorem1():
    # cor2.tau's bound T/2 against thm1.tau evaluated at cor2.eta, through the package
    for n, gamma, f in ((3.0, 0.2, 1.0), (1e3, 0.05, 2.0), (1.0, 1.0, 10.0)):
        T = get_bound("cor2.T_min").evaluate(n=n, gamma=gamma) * f
        eta = get_bound("cor2.eta").evaluate(T=T, gamma=gamma)
        tau = get_bound("thm1.tau").evaluate(eta=eta, n=n, gamma=gamma)
        assert tau == pytest.approx(tau_thm1(eta, n, gamma), rel=1e-14)
        assert tau <= get_bound("cor2.tau").evaluate(T=T) * (1 + 1e-12)
        assert get_bound("cor2.tau").in_domain(T=T, n=n, gamma=gamma)
