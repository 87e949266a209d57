"""Losses: stable torch forms against the sympy expression in 50-digit precision."""

import functools
import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from eoscheck import EoscheckError, get_loss
from eoscheck.losses import BUILTIN_LOSSES, from_expr, z

LOSSES = ["logistic", "exponential", "flat_exp:a=0.5", "flat_exp:a=3", "flat_poly:a=0.5", "flat_poly:a=2", "poly_tail"]

# margins from −1e4 to 1e4: a linear part, log-spaced magnitudes of both signs, and the known traps
_mags = np.geomspace(1e-8, 1e4, 400)
GRID = np.unique(np.concatenate([-_mags, _mags, np.linspace(-50, 50, 401), [0.0, 20.0, 20.5, 36.0, 709.0, 711.0, 745.0]]))
FLOAT_MAX = 1.7976931348623157e308
FLOAT_TINY = 2.2250738585072014e-308


@functools.lru_cache(maxsize=None)
def _reference(expr):
    """ℓ^{(k)} on GRID in mpmath, with enough digits to survive the cancellation in 1 + e^{−|z|}."""
    fn = sp.lambdify(z, expr, modules="mpmath")
    out = []
    for x in GRID:
        with mpmath.workdps(40 + int(abs(x) * 0.9)):
            out.append(+fn(mpmath.mpf(float(x))))
    return out


#: Ulps allowed beyond the conditioning (a few roundings in a stable form, each ≤ 1 ulp, with room).
ULPS = 16
EPS = float(np.finfo(np.float64).eps)


def _condition(x, r, r_next) -> float:
    """|z·f′(z)/f(z)|: the relative change of f = ℓ^{(k)} when z moves by one relative unit.  A stable form
    evaluates f at z(1 + δ) with |δ| a few ulps (an a·z or 1 + z rounded inside), so its relative error is
    ≲ (1 + this)·ulps — e.g. e^{−az} at a·z = 138 is 138 ulps off, however it is written."""
    return abs(mpmath.mpf(float(x)) * mpmath.mpf(r_next) / mpmath.mpf(r)) if r != 0 else 0.0


def _check(values, ref, ref_next, what):
    values = values.numpy()
    assert not np.isnan(values).any(), f"{what}: NaN"
    for x, v, r, rn in zip(GRID, values, ref, ref_next):
        r = mpmath.mpf(r)
        if abs(r) > FLOAT_MAX:
            assert np.isinf(v) and np.sign(v) == mpmath.sign(r), f"{what} at z={x}: {v} vs overflow {r}"
        elif abs(r) < FLOAT_TINY:
            assert abs(v) <= 1e-300, f"{what} at z={x}: {v} vs underflowing {r}"
        else:
            rel = abs((mpmath.mpf(float(v)) - r) / r)
            tol = ULPS * EPS * (1 + _condition(x, r, rn))
            assert rel <= tol, f"{what} at z={x}: {v} vs {r} (relative error {float(rel):.2e} > {float(tol):.2e})"


@pytest.mark.parametrize("spec", LOSSES)
@pytest.mark.parametrize("order", [0, 1, 2])
def test_stable_forms_match_sympy(spec, order):
    loss = get_loss(spec)
    expr = sp.diff(loss.expr, z, order) if order else loss.expr
    fn = (loss.value, loss.grad, loss.hess)[order]
    m = torch.tensor(GRID, dtype=torch.float64)
    _check(fn(m), _reference(expr), _reference(sp.diff(loss.expr, z, order + 1)), f"{spec} derivative {order}")


@pytest.mark.parametrize("spec", LOSSES)
def test_log_value_is_accurate_where_the_value_leaves_the_float_range(spec):
    """ln ℓ to ULPS·eps·(|ln ℓ| + |zℓ′/ℓ|) absolute: its own rounding, and a z moved by a few ulps inside (the
    change of ln ℓ is then zℓ′/ℓ·δ).  No absolute floor: where ℓ → 1 at z ≠ 0 (logistic at z ≈ −0.54) the second
    term allows the 1-ulp error of ℓ before the log; where ln ℓ → 0 with z (poly_tail's −asinh z) nothing does,
    and a log of ℓ ≈ 1 (8e-8 relative at z = 1e-9) fails."""
    loss = get_loss(spec)
    ref = _reference(loss.expr)
    d1 = _reference(sp.diff(loss.expr, z))
    got = loss.log_value(torch.tensor(GRID, dtype=torch.float64)).numpy()
    assert np.isfinite(got).all()
    for x, v, r, rn in zip(GRID, got, ref, d1):
        lr = mpmath.log(r)
        tol = ULPS * EPS * (abs(lr) + _condition(x, r, rn))
        assert abs(v - lr) <= tol, f"log ℓ({x}) = {v}, expected {lr} (error {float(abs(v - lr)):.2e} > {float(tol):.2e})"


@pytest.mark.parametrize("text", ["log(1+exp(-z))", "exp(-z)", "log(1+exp(-2*z))/2"])
def test_a_users_formula_is_evaluated_stably_on_the_whole_margin_range(text):
    """A loss typed by a user gets the compiler's stable rules: log(1 + e^{−z}) was ∞ at z = −710 (true 710), its
    ℓ′ NaN there (∞/∞, true −1) and ln ℓ −∞ from z = 37 on (1 + e^{−37} = 1 in float64); GD with that loss
    then stopped as "diverged".  Checked as the built-ins are (same grid, mpmath, the same conditioning-derived
    tolerance), for ℓ, ℓ′ and ln ℓ.  ℓ″ = e^{−z}/(1+e^{−z}) − e^{−2z}/(1+e^{−z})² cancels for z ≪ 0 (its terms
    are ≈ 1): a difference is not rewritten, so ℓ″ is not checked there."""
    from eoscheck import parse_loss

    loss = parse_loss(text)
    m = torch.tensor(GRID, dtype=torch.float64)
    for order, fn in ((0, loss.value), (1, loss.grad)):
        expr = sp.diff(loss.expr, z, order) if order else loss.expr
        _check(fn(m), _reference(expr), _reference(sp.diff(loss.expr, z, order + 1)), f"{text} derivative {order}")
    ref, d1 = _reference(loss.expr), _reference(sp.diff(loss.expr, z))
    got = loss.log_value(m).numpy()
    for x, v, r, rn in zip(GRID, got, ref, d1):
        lr = mpmath.log(r)
        assert abs(v - lr) <= ULPS * EPS * (abs(lr) + _condition(x, r, rn)), (x, v, lr)


def test_torch_softplus_trap_is_avoided():
    # torch's softplus switches to the identity above 20: ~1e-9 absolute error in float64
    m = torch.tensor([-25.0], dtype=torch.float64)
    exact = mpmath.log(1 + mpmath.exp(25))
    assert abs(float(get_loss("logistic").value(m)) - exact) / exact < 1e-15
    naive = torch.nn.functional.softplus(-m)
    assert abs(float(naive) - exact) > 1e-12  # the trap exists: this is why a stable form is used


def test_ell0_and_paper_constants():
    assert get_loss("logistic").ell0 == pytest.approx(math.log(2), rel=1e-15)
    assert get_loss("flat_poly:a=2").ell0 == 1.0
    fe = get_loss("flat_exp", a=2)
    assert float(fe.paper_constants["C_beta"]) == pytest.approx(max(2, 2 * math.e**2 / 2, 1))
    assert get_loss("flat_poly:a=2").paper_constants["C_e"] is None


def test_custom_loss_from_sympy_matches_builtin():
    custom = from_expr(sp.log(1 + sp.exp(-z)), name="mylogistic")
    m = torch.linspace(-5, 5, 101, dtype=torch.float64)  # the naive lambdified form is accurate here only
    builtin = get_loss("logistic")
    assert torch.allclose(custom.value(m), builtin.value(m), rtol=1e-12, atol=0)
    assert torch.allclose(custom.grad(m), builtin.grad(m), rtol=1e-12, atol=0)


@pytest.mark.parametrize("bad", ["nope", "flat_poly:a", "flat_poly:a=x", "flat_poly:a=-1", "logistic:a=2"])
def test_bad_loss_specs_are_clear_errors(bad):
    with pytest.raises(EoscheckError):
        get_loss(bad)


def test_from_expr_refuses_strings():
    with pytest.raises(EoscheckError):
        from_expr("__import__('os')")


def test_builtin_names():
    assert set(BUILTIN_LOSSES) == {"logistic", "exponential", "flat_exp", "flat_poly", "poly_tail"}


@pytest.mark.parametrize("expr", [
    -sp.log(sp.erfc(-z / sp.sqrt(2)) / 2),  # probit
    sp.Max(0, 1 - z) ** 2,                   # squared hinge (Max → Piecewise)
    sp.Abs(z - 1) + 1 - z,
    sp.Min(1, sp.exp(-z)),
])
def test_lambdified_custom_losses_agree_with_autograd(expr):
    loss = from_expr(expr)
    m = torch.tensor([-3.0, -0.4, 0.3, 0.9, 2.5, 6.0], dtype=torch.float64, requires_grad=True)
    (dv,) = torch.autograd.grad(loss.value(m).sum(), m, create_graph=True)
    g = loss.grad(m)
    d2 = torch.autograd.grad(g.sum(), m)[0] if g.requires_grad else torch.zeros_like(m)  # piecewise-constant ℓ′
    assert torch.allclose(loss.grad(m), dv, rtol=1e-12, atol=1e-15)
    assert torch.allclose(loss.hess(m), d2, rtol=1e-12, atol=1e-15)


def test_builtin_losses_are_built_once_per_parameters():
    """get_loss caches a built-in per (name, parameters): the same frozen object, whose printed form
    is the sympy expression's (``expr_text``, printed once); other parameters give another loss."""
    a, b = get_loss("flat_poly:a=2"), get_loss("flat_poly", a=2.0)
    assert a is b and a.expr_text == str(a.expr) == str(b.expr)
    c = get_loss("flat_poly:a=3")
    assert c is not a and c.expr_text != a.expr_text and c.params == {"a": 3.0}
    with pytest.raises(EoscheckError, match="^loss 'logistic' has no parameter a; it takes none$"):
        get_loss("logistic:a=2")
    # flat_poly:b=2 said "takes no parameters ['b']", though flat_poly takes a
    with pytest.raises(EoscheckError,
                       match=r"^loss 'flat_poly' has no parameter b; it takes a \(e\.g\. flat_poly:a=2\)$"):
        get_loss("flat_poly:b=2")


@pytest.mark.parametrize("text, z0, what", [
    ("where(z > 0, exp(-z), 1 - z)", 800.0, "log_value"),      # log of a Piecewise: −800 (was −∞)
    ("log(1+exp(-z))**3", 745.0, "log_value"),                # log bᵉ with b = e^{−745} underflowing: −2235
    ("log(1+exp(-z)+exp(-2*z))", 800.0, "log_value"),         # log-sum-exp of positive terms: −800
    ("-log(1-exp(-exp(z)))", -50.0, "value"),                  # 1 − e^{−u} = −expm1(−u): 50 (was ∞)
    ("-log(1-exp(-exp(z)))", -50.0, "grad"),                   # −1 (was −∞)
    ("exp(exp(-z))-1", 50.0, "value"),                          # e^u − 1 = expm1(u): e^{−50} (was 0)
    ("exp(exp(-z))-1", 50.0, "log_value"),                      # −50 (was −∞)
])
def test_the_stable_rules_beyond_the_float_range_of_a_users_formula(text, z0, what):
    """Values of user formulas where a plain float64 evaluation under- or overflows or cancels (found by an
    audit of 35 formulas).  Oracle: mpmath with 60 + |z| digits (1 + e^{−800} needs ~350).  Tolerance: each rule is a few float operations on
    exact inputs (≲ 10 ulps) times the conditioning |zf′/f| at these points (≤ 10): 1e-13 relative."""
    from eoscheck import parse_loss

    loss = parse_loss(text)
    got = float(getattr(loss, what)(torch.tensor([z0], dtype=torch.float64))[0])
    expr = sp.diff(loss.expr, z) if what == "grad" else loss.expr
    with mpmath.workdps(60 + int(abs(z0))):
        v = sp.lambdify(z, expr, modules="mpmath")(mpmath.mpf(z0))
        want = float(mpmath.log(v) if what == "log_value" else v)
    assert got == pytest.approx(want, rel=1e-13)


def test_log_one_minus_exp_is_exact_on_both_sides_and_nesting_is_linear():
    """log(1 − e^v) by log(−expm1(v)) alone loses everything for v ≪ 0 (1 − e^{−54.6} = 1: cloglog ℓ(4) read
    0, true 1.94e-24); log1mexp takes log1p(−e^v) there.  And a nested formula evaluated each sub-expression
    ~5^depth times through the stable rules' fallbacks (depth 10: 458 s for 1000 margins): now once each,
    counted by the calls of the back end's exp.
    Oracle: mpmath at 500 digits; tolerance 1e-13 as above (a few operations, conditioning ≤ 1 here)."""
    from eoscheck import parse_loss

    loss = parse_loss("-log(1-exp(-exp(z)))")
    got = loss.value(torch.tensor([0.0, 4.0, 5.0, 6.0], dtype=torch.float64)).numpy()
    with mpmath.workdps(500):   # 1 − e^{−e⁶} = 1 − 1e-175 needs > 175 digits
        want = [float(-mpmath.log(1 - mpmath.exp(-mpmath.exp(mpmath.mpf(x))))) for x in (0.0, 4.0, 5.0, 6.0)]
    np.testing.assert_allclose(got, want, rtol=1e-13)
    e = sp.Integer(0)
    for k in range(12):
        e = sp.exp(-z - k) / (1 + e)
    from eoscheck.backends import TorchBackend

    calls = []
    exp = TorchBackend.exp
    TorchBackend.exp = lambda self, a: calls.append(1) or exp(self, a)
    try:
        parse_loss(sp.sstr(e)).value(torch.full((1000,), 800.0, dtype=torch.float64))
    finally:
        TorchBackend.exp = exp
    # a count, not a time: each of the 12 exp nodes evaluated once (5^12 ≈ 2.4e8 evaluations before)
    assert 0 < len(calls) <= 12, len(calls)


@pytest.mark.parametrize("spec", ["flat_poly:a=1e12", "flat_poly:a=1e300"])
def test_a_huge_family_parameter_is_refused_not_computed(spec):
    """flat_poly:a=1e300 hung with GBs of memory: C_β = (a + 1)·2^a as an exact sympy integer."""
    from eoscheck import EoscheckError
    from eoscheck.expr import time_limit
    from eoscheck.losses import get_loss

    # a regression computes again: under a 20 s CPU limit it fails with "timed out" instead of hanging the suite
    with pytest.raises(EoscheckError, match="at most 1000"), time_limit(20.0, "building the loss"):
        get_loss(spec)
    assert get_loss("flat_poly:a=1000").params["a"] == 1000.0
    assert get_loss("flat_exp:a=1e300").params["a"] == 1e300     # e^a stays symbolic: no cap needed


@pytest.mark.parametrize("spec", ["flat_exp:a=1000", "flat_poly:a=1000", "flat_exp:a=0.5", "flat_poly:a=2"])
def test_the_flat_losses_log_is_finite_where_a_times_the_margin_overflows(spec):
    """ln ℓ = ln(1 − a·z) on z ≤ 0 was log1p(−a·z): +inf once a|z| > 1.8e308 (GD of flat_poly(a=1000) at η = 1e300
    recorded log_loss +inf where ln L = 711.03), although ln ℓ ≤ ln a + 710.  Both kernels (torch: the Loss, numpy:
    lossnp) against mpmath; tolerance as above: ln a and ln|z| are each within an ulp, their sum one more, so
    ≤ 3 eps·|ln ℓ| (16 allowed, as for every log value here)."""
    from eoscheck.lossnp import kernel_for

    loss = get_loss(spec)
    zs = np.array([-1e200, -1e300, -1e306, -1.7e308, -FLOAT_MAX])
    a = float(loss.params["a"])
    want = [mpmath.log(1 + mpmath.mpf(a) * abs(mpmath.mpf(float(x)))) for x in zs]
    for got in (loss.log_value(torch.tensor(zs, dtype=torch.float64)).numpy(), kernel_for(loss).log_value(zs)):
        for x, v, lr in zip(zs, got, want):
            assert abs(v - lr) <= ULPS * EPS * abs(lr), (spec, x, v, lr)
