"""ρ(λ) = min_z λℓ(z) + z², ψ = λ/ρ and ψ⁻¹ (eoscheck.bounds.rho), against independent references.

References are computed here without the package's solver: mpmath at 40 digits
(findroot on the stationarity condition, checked by a golden-section minimisation),
Lambert W from mpmath for the exponential loss, and plain-math Prop. 5 bounds.
"""

import math

import mpmath
import numpy as np
import pytest
import torch

from eoscheck import EoscheckError
from eoscheck.bounds import (
    fitted_class, minimizer, psi, psi_inv, rho, rho_asymptotic_class, rho_closed_form, rho_method, rho_of,
    rho_upper_bounds,
)

LAMS = [1.0, 1.5, 3.0, 10.0, 57.0, 1e3, 1e5, 1e8, 1e12, 1e15]

# ℓ and g = −ℓ′ in mpmath for z > 0 (the minimizer is positive): independent transcriptions of Prop. 5
MP_LOSS = {
    "logistic": (lambda x: mpmath.log1p(mpmath.exp(-x)), lambda x: 1 / (1 + mpmath.exp(x))),
    "exponential": (lambda x: mpmath.exp(-x), lambda x: mpmath.exp(-x)),
    "flat_exp:a=2": (lambda x: mpmath.exp(-2 * x), lambda x: 2 * mpmath.exp(-2 * x)),
    "flat_poly:a=2": (lambda x: (1 + x) ** -2, lambda x: 2 * (1 + x) ** -3),
    "flat_poly:a=0.5": (lambda x: (1 + x) ** mpmath.mpf(-0.5), lambda x: mpmath.mpf(0.5) * (1 + x) ** mpmath.mpf(-1.5)),
    "poly_tail": (lambda x: mpmath.sqrt(1 + x * x) - x, lambda x: 1 - x / mpmath.sqrt(1 + x * x)),
}


def mp_rho(name: str, lam) -> mpmath.mpf:
    """ρ(λ) at 40 digits: plain bisection of 2z = λg(z) on [0, λg(0)/2] (260 halvings), then λℓ(z) + z²."""
    ell, g = MP_LOSS[name]
    with mpmath.workdps(45):
        lam = mpmath.mpf(lam)
        lo, hi = mpmath.mpf(0), lam * g(mpmath.mpf(0)) / 2
        for _ in range(260):
            mid = (lo + hi) / 2
            if 2 * mid - lam * g(mid) < 0:
                lo = mid
            else:
                hi = mid
        zs = (lo + hi) / 2
        return lam * ell(zs) + zs * zs


def golden_min(f, lo, hi, iters=200):
    """Golden-section minimum of a unimodal f on [lo, hi] (mpmath), a second, derivative-free algorithm."""
    g = (mpmath.sqrt(5) - 1) / 2
    a, b = mpmath.mpf(lo), mpmath.mpf(hi)
    c, d = b - g * (b - a), a + g * (b - a)
    for _ in range(iters):
        if f(c) < f(d):
            b, d = d, c
            c = b - g * (b - a)
        else:
            a, c = c, d
            d = a + g * (b - a)
    return f((a + b) / 2)


@pytest.mark.parametrize("name", sorted(MP_LOSS))
def test_rho_matches_mpmath_to_1e12(name):
    got = rho(name, np.array(LAMS))
    ref = np.array([float(mp_rho(name, lam)) for lam in LAMS])
    assert got.shape == (len(LAMS),)
    np.testing.assert_allclose(got, ref, rtol=1e-12, atol=0)


def test_mpmath_reference_agrees_with_golden_section():
    # guards the reference itself: a derivative-free minimisation gives the same minimum value
    with mpmath.workdps(40):
        for lam in (3.0, 1e3, 1e6):
            f = lambda x: lam * mpmath.log1p(mpmath.exp(-x)) + x * x  # noqa: E731
            assert abs(golden_min(f, 0, lam / 4, iters=300) / mp_rho("logistic", lam) - 1) < 1e-20


def test_exponential_closed_form_is_lambert_w():
    # ρ(λ) = 2W(λ/2) + W(λ/2)² for ℓ = e^{−z}: sympy finds it, and it matches mpmath's Lambert W
    cf = rho_closed_form("exponential")
    assert cf is not None and "LambertW" in str(cf)
    assert "closed form" in rho_method("exponential")
    lam = np.array(LAMS)
    ref = np.array([float(2 * mpmath.lambertw(x / 2) + mpmath.lambertw(x / 2) ** 2) for x in LAMS])
    np.testing.assert_allclose(rho("exponential", lam), ref, rtol=1e-13)
    # and the closed form agrees with the numeric solver (both paths of the same loss)
    np.testing.assert_allclose(rho_of("exponential").numeric(lam), ref, rtol=1e-12)


def test_flat_exp_closed_form():
    # z* = W(a²λ/2)/a, ρ = (2W + W²)/a² with W = W(a²λ/2); a = 2
    assert rho_closed_form("flat_exp:a=2") is not None
    lam = np.array(LAMS)
    W = np.array([float(mpmath.lambertw(2 * x)) for x in LAMS])
    np.testing.assert_allclose(rho("flat_exp:a=2", lam), (2 * W + W**2) / 4, rtol=1e-13)


def test_no_closed_form_for_logistic_and_polynomial_tails():
    for name in ("logistic", "flat_poly:a=2", "poly_tail"):
        assert rho_closed_form(name) is None
        assert rho_method(name).startswith("numeric")


def test_minimizer_solves_stationarity_and_lies_in_bracket():
    # logistic: 2z(1 + e^z) = λ, root in (0, λ/4]
    lam = np.array(LAMS)
    zs = minimizer("logistic", lam).numpy()
    assert np.all(zs > 0) and np.all(zs <= lam / 4)
    np.testing.assert_allclose(2 * zs * (1 + np.exp(zs)), lam, rtol=1e-14)


@pytest.mark.parametrize("name,bound_of", [
    ("logistic", lambda lam: 1 + math.log(lam) ** 2),
    ("flat_exp:a=2", lambda lam: 1 + math.log(lam) ** 2 / 4),
    ("flat_exp:a=0.5", lambda lam: 1 + math.log(lam) ** 2 / 0.25),
    ("flat_poly:a=2", lambda lam: 2 * lam ** (2 / 4)),
    ("flat_poly:a=0.5", lambda lam: 2 * lam ** (2 / 2.5)),
    ("exponential", lambda lam: 1 + math.log(lam) ** 2),  # eq. (14): ℓ(0) + C_e² ln²λ with C_e = 1
])
def test_rho_below_prop5_upper_bounds(name, bound_of):
    lam = np.geomspace(1.0, 1e15, 61)
    got = rho(name, lam)
    ref = np.array([bound_of(x) for x in lam])
    assert np.all(got <= ref * (1 + 1e-14))
    # and the package's own sympy forms of the bounds are these very expressions
    exprs = rho_upper_bounds(name)
    assert exprs
    for e in exprs.values():
        (sym,) = e.free_symbols
        vals = np.array([float(e.subs(sym, x)) for x in lam[::10]])
        assert np.all(got[::10] <= vals * (1 + 1e-14))


def test_upper_bound_sets_per_loss():
    assert set(rho_upper_bounds("logistic")) == {"prop5.rho_logistic", "lemma34.rho_exp_tail"}
    assert set(rho_upper_bounds("flat_poly:a=2")) == {"prop5.rho_flat_poly"}  # no exponential tail
    assert rho_upper_bounds("poly_tail") == {}


@pytest.mark.parametrize("name", ["logistic", "exponential", "flat_exp:a=2", "flat_poly:a=2", "flat_poly:a=0.5", "poly_tail"])
def test_psi_inverse_roundtrip(name):
    lam = np.array([1.0, 1.01, 2.0, 10.0, 1e3, 1e6, 1e9, 1e12])
    back = psi_inv(name, psi(name, lam))
    np.testing.assert_allclose(back[1:], lam[1:], rtol=1e-11)
    assert back[0] == pytest.approx(1.0, rel=1e-9)  # ill-conditioned at λ = 1 (dψ/dλ = z*²/ρ² small)
    y = np.array([psi(name, 1.0) * 1.5, 10.0, 1e4, 1e8])
    np.testing.assert_allclose(psi(name, psi_inv(name, y)), y, rtol=1e-13)


def test_psi_is_increasing():
    lam = np.geomspace(1, 1e14, 200)
    for name in ("logistic", "flat_poly:a=0.5", "poly_tail"):
        assert np.all(np.diff(psi(name, lam)) > 0)


def test_psi_inverse_domain():
    psi1 = psi("logistic", 1.0)
    with pytest.raises(EoscheckError, match="ψ\\(1\\)"):
        psi_inv("logistic", psi1 / 2)
    assert math.isnan(float(psi_inv("logistic", psi1 / 2, strict=False)))


def test_lambda_below_one_is_rejected_unless_lenient():
    with pytest.raises(EoscheckError, match="λ ≥ 1"):
        rho("logistic", np.array([0.5, 2.0]))
    out = rho("logistic", np.array([0.5, -1.0, 2.0]), strict=False)
    assert out[0] > 0 and math.isnan(out[1]) and out[2] == pytest.approx(float(mp_rho("logistic", 2.0)), rel=1e-12)


def test_torch_and_numpy_agree_and_gradient_is_ell_at_minimizer():
    lam = torch.tensor([2.0, 30.0, 1e4], dtype=torch.float64, requires_grad=True)
    val = rho("logistic", lam)
    assert isinstance(val, torch.Tensor) and val.dtype == torch.float64
    np.testing.assert_allclose(val.detach().numpy(), rho("logistic", lam.detach().numpy()), rtol=1e-15)
    val.sum().backward()
    # dρ/dλ by a central difference of the mpmath reference (independent of the envelope formula)
    for i, x in enumerate(lam.detach().numpy()):
        with mpmath.workdps(40):
            h = mpmath.mpf(x) * mpmath.mpf("1e-12")
            fd = (mp_rho("logistic", mpmath.mpf(x) + h) - mp_rho("logistic", mpmath.mpf(x) - h)) / (2 * h)
        assert float(lam.grad[i]) == pytest.approx(float(fd), rel=1e-9)


def test_psi_inverse_gradient_in_torch():
    y = torch.tensor([5.0, 100.0], dtype=torch.float64, requires_grad=True)
    psi_inv("logistic", y).sum().backward()
    h = 1e-6
    fd = (psi_inv("logistic", np.array([5 + h, 100 + h])) - psi_inv("logistic", np.array([5 - h, 100 - h]))) / (2 * h)
    np.testing.assert_allclose(y.grad.numpy(), fd, rtol=1e-6)


def test_vectorized_shapes():
    lam = np.geomspace(1, 1e6, 12).reshape(3, 4)
    assert rho("flat_poly:a=2", lam).shape == (3, 4)
    assert psi_inv("logistic", np.full((2, 2), 10.0)).shape == (2, 2)


def test_unknown_loss_is_an_eoscheck_error():
    with pytest.raises(EoscheckError):
        rho("nope", 2.0)


# --- asymptotic class ------------------------------------------------------------------------


@pytest.mark.parametrize("name,kind,exponent", [
    ("logistic", "log2", 2), ("exponential", "log2", 2), ("flat_exp:a=2", "log2", 2),
    ("flat_poly:a=2", "power", 0.5), ("flat_poly:a=0.5", "power", 0.8), ("poly_tail", "power", 2 / 3),
])
def test_asymptotic_class_symbolic_and_fitted_agree(name, kind, exponent):
    c = rho_asymptotic_class(name)
    assert c.kind == kind and c.method.startswith("sympy")
    assert float(c.exponent) == pytest.approx(exponent, rel=1e-12)
    f = fitted_class(name)
    assert f.kind == kind and f.method.startswith("fitted")
    # a power law fits to ±0.005; ln ρ ~ 2 ln ln λ converges slowly (ρ ≈ (ln λ − ln ln λ)²)
    assert f.fitted_exponent == pytest.approx(exponent, abs=0.005 if kind == "power" else 0.25)


def test_asymptotic_constant_matches_direct_ratio():
    # flat_exp(a=2): lim ρ/ln²λ = 1/a² = 1/4; the ratio at λ = 1e300 from the closed form is close
    c = rho_asymptotic_class("flat_exp:a=2")
    assert float(c.constant) == 0.25
    lam = 1e300
    W = float(mpmath.lambertw(2 * lam))
    assert (2 * W + W * W) / 4 / math.log(lam) ** 2 == pytest.approx(0.25, rel=0.02)


def test_template_class_keeps_the_degree_symbolic():
    from eoscheck.losses import flat_poly

    c = rho_asymptotic_class(flat_poly(), template=True)
    a = next(iter(c.exponent.free_symbols))
    assert float(c.exponent.subs(a, 2)) == 0.5 and float(c.exponent.subs(a, 1)) == pytest.approx(2 / 3)


@pytest.mark.parametrize("lam", [1e305, 1e308])
def test_psi_inverse_reaches_the_top_of_the_float_range(lam):
    """ψ⁻¹(ψ(λ)) for λ near the largest float64: its bracket stopped at λ = e⁷⁰⁰ ≈ 1e304 ("could not bracket").
    Tolerance: ψ is increasing with d ln ψ/d ln λ ≈ 1 there (ψ = λ/ρ, ρ ~ ln²λ), so λ comes back to the few ulps
    of the Newton step's stop (4 eps): 1e-14."""
    import numpy as np

    from eoscheck import psi, psi_inv

    assert psi_inv("logistic", psi("logistic", np.array([lam])))[0] == pytest.approx(lam, rel=1e-14)


def test_a_loss_whose_bracket_overflows_float64_still_has_a_finite_rho():
    """ℓ = 1e300·log(1 + e^{−z}): the minimizer's bracket top λg(0)/2 = 1.25e309 at λ = 1e10 overflows float64 while
    z* ≈ 716 and ρ ≈ 5e5 do not; the bracket [1e-300, ∞] bisected to ∞ and ρ read ∞ for λ ≥ 1e10 (so the audit's
    fitted class was Θ(nan)).  Reference: bisection of 2z = λg(z) in mpmath at 45 digits (1300 halvings of
    [0, λg(0)/2], ≤ 1e320 wide: below 1e-70).  Tolerance: ρ is stationary in z at z* (dρ/dz = 0), so the minimizer's
    error enters only to second order; what is left is the rounding of z*² (z* to 2 eps: 4 eps of ρ), of λℓ(z*) ≈ 2z*
    (0.3 % of ρ, its few ulps negligible) and of the sum (1 eps): 8 eps."""
    from eoscheck.expr import parse_loss

    big = mpmath.mpf(10) ** 300
    ell, g = (lambda x: big * mpmath.log1p(mpmath.exp(-x))), (lambda x: big / (1 + mpmath.exp(x)))
    lams = [1e6, 1e10, 1e14]
    got = rho(parse_loss("1e300*log(1+exp(-z))"), np.array(lams))
    for lam, v in zip(lams, got):
        with mpmath.workdps(45):
            L = mpmath.mpf(lam)
            lo, hi = mpmath.mpf(0), L * g(mpmath.mpf(0)) / 2
            for _ in range(1300):
                mid = (lo + hi) / 2
                lo, hi = (mid, hi) if 2 * mid - L * g(mid) < 0 else (lo, mid)
            zs = (lo + hi) / 2
            want = float(L * ell(zs) + zs * zs)
        assert math.isfinite(v) and v == pytest.approx(want, rel=8 * 2.0**-52, abs=0)


def test_a_class_is_not_fitted_through_an_infinite_rho(monkeypatch):
    """A ρ that is ∞ or NaN in float64 (the overflow above, before its fix) gave the fitted class Θ(nan) with exponent
    None, and the audit printed a TypeError; now the fit refuses, saying where."""
    import eoscheck.bounds.rho_class as rc
    from eoscheck import DivergenceError

    r = rho_of("logistic")
    monkeypatch.setattr(type(r), "numeric", lambda self, lam, strict=True: np.where(lam > 1e10, np.inf, 1.0))
    with pytest.raises(DivergenceError, match="ρ"):
        rc.fitted_class("logistic")
