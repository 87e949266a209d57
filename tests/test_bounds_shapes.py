"""The slides' Θ/O/Ω/Õ forms are asymptotic shadows of the explicit bounds (issue §2, last paragraph).

check_shadow takes sympy limits of explicit/shadow along each direction (or, for the explicit τ
forms with numeric ψ⁻¹, fits the log-log slope); the independent checks here evaluate the
ratios in plain Python at growing parameters.
"""

import math

import pytest
import sympy as sp

from eoscheck.bounds import SHADOWS, check_shadow, get_bound


def _id(sh):
    return f"{sh.bound_id}[{sh.loss or '-'}]"


@pytest.mark.parametrize("sh", SHADOWS, ids=[_id(s) for s in SHADOWS])
def test_each_explicit_bound_is_of_its_slide_order(sh):
    results = check_shadow(sh)
    assert len(results) == len(sh.directions)
    for r in results:
        assert r.ok, (r.direction, r.value, r.method)


def test_every_slide_statement_has_a_shadow():
    ids = {sh.bound_id for sh in SHADOWS}
    for bid in ("thm1.eos_average", "thm1.stable_bound", "thm1.tau", "cor2.bound", "cor2.eta", "thm3.lower",
                "thm6.R", "thm6.width", "thm6.eos_average", "thm6.stable_threshold", "thm6.stable_bound",
                "thm6.tau_psi", "thm6.tau_exp_tail", "thm35.tau_explicit_exp", "thm35.tau_explicit_poly"):
        assert bid in ids
    for sh in SHADOWS:
        get_bound(sh.bound_id)  # every shadow names a registered bound


def test_tau_ratio_to_slide_form_by_hand():
    """The encoded τ (``thm1.tau``) over the slide's Θ-form (its shadow) → 60/γ² in every direction of the
    shadow.  Here, by hand: with x = n/η the ratio is exactly 60/γ² where η dominates, and
    60/γ²·(1 + 1/x)·(1 + log1p(1/x)/ln x) where (1 + x)ln(1 + x) and x ln x do, 60/γ²·(1 + O(1/x)):
    within 1e-13 of 240 (γ = 1/2) at x ≥ 1e13.  Rounding: a handful of operations and logs of numbers ≥ 1e13
    (condition 1/ln y ≤ 0.04), ≲ 10 ulps; hence rel = 1e-12."""
    sh = next(s for s in SHADOWS if s.bound_id == "thm1.tau")
    syms = {x.name: x for x in sh.expr.free_symbols}
    shadow = sp.lambdify([syms["eta"], syms["n"]], sh.expr, "math")
    tau = get_bound("thm1.tau")

    def ratio(eta, n, g=0.5):
        return tau.evaluate(eta=eta, n=n, gamma=g) / shadow(eta, n)

    assert ratio(1e12, 10) == pytest.approx(240, rel=1e-12)
    assert ratio(1e-12, 10) == pytest.approx(240, rel=1e-12)  # (1+x)ln(1+x) vs x ln x, x = 1e13
    assert ratio(1.0, 1e15) == pytest.approx(240, rel=1e-12)
    # and the two forms differ where the ratio is not yet at its limit (the form is Θ, not equality)
    assert ratio(1.0, 1.0) == pytest.approx(60 / 0.25 * math.e, rel=1e-12)


def test_slide_ntk_time_is_only_an_upper_form_for_small_degree():
    # Theorem 6: ψ⁻¹(C₁(η+n))/η; slides: ψ⁻¹(η+n). For a = 1/2, ψ⁻¹(y) ≍ y⁵: the ratio → 0 as η → ∞
    sh = next(s for s in SHADOWS if s.bound_id == "thm6.tau_psi" and s.loss == "flat_poly:a=0.5")
    res = check_shadow(sh)
    assert res[0].value == 0 and sh.order == "O"


def test_explicit_lemma34_time_grows_like_n_log_n():
    # the explicit time vs Theorem 35's C₂ max{η, n}: the ratio keeps growing with n (a ln n factor)
    b = get_bound("thm35.tau_explicit_exp")
    r = [b.evaluate(loss="logistic", eta=1.0, n=n, gamma=1.0) / n for n in (1e3, 1e6, 1e9, 1e12)]
    assert all(y > x for x, y in zip(r, r[1:])) and r[-1] / r[0] > 1.5
    # against n ln n it converges to 12C_e²/(ℓ(0)η) = 48/ln 2 (logistic, η = γ = 1), from above, with a
    # 1/ln n correction: (q − L)·ln n stays nearly constant
    L = 48 / math.log(2)
    ns = (1e3, 1e6, 1e9, 1e12)
    q = [b.evaluate(loss="logistic", eta=1.0, n=n, gamma=1.0) / (n * math.log(n)) for n in ns]
    assert all(x > y > L for x, y in zip(q, q[1:]))
    c = [(x - L) * math.log(n) for x, n in zip(q, ns)]
    assert max(c) / min(c) < 1.2
    # the symbolic limit of explicit/(n ln n) is finite positive (12 C_e²/(ℓ(0) η))
    sh = next(s for s in SHADOWS if s.bound_id == "thm35.tau_explicit_exp" and len(s.directions) == 2)
    lim = check_shadow(sh)[1].value
    assert lim.is_positive and lim.is_finite
    ce, l0, eta = sp.Symbol("C_e", positive=True, real=True), sp.Symbol("ell0", positive=True, real=True), \
        sp.Symbol("eta", positive=True, real=True)
    assert sp.simplify(lim - 12 * ce**2 / (l0 * eta)) == 0
