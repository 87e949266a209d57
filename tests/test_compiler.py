"""The one sympy → numeric compiler (eoscheck.compiler): back ends agree, Piecewise, bound functions.

Oracles are written by hand with math / mpmath, never produced by the compiler.
"""

import math

import mpmath
import numpy as np
import pytest
import sympy as sp
import torch

from eoscheck import EoscheckError
from eoscheck.compiler import Flags, compile_expr, mp_value
from eoscheck.expr import parse_loss
from eoscheck.losses import z

x = sp.Symbol("x", real=True)
y = sp.Symbol("y", positive=True)


@pytest.mark.parametrize("expr, oracle", [
    (sp.log(1 + sp.exp(-z)), lambda v: math.log1p(math.exp(-v))),
    (sp.sqrt(1 + z**2) - z, lambda v: math.sqrt(1 + v * v) - v),
    (sp.erfc(z) * sp.tanh(z) + sp.Abs(z), lambda v: math.erfc(v) * math.tanh(v) + abs(v)),
    (sp.Max(z, 1, -z) + sp.Min(z, 0), lambda v: max(v, 1, -v) + min(v, 0)),
    (sp.Piecewise((sp.exp(-z), z > 0), (1 - z, True)), lambda v: math.exp(-v) if v > 0 else 1 - v),
    (sp.pi * z / sp.E, lambda v: math.pi * v / math.e),
])
def test_numpy_torch_mpmath_agree_with_a_hand_oracle(expr, oracle):
    prog = compile_expr(expr, [z])
    pts = np.array([-3.0, -0.5, 0.0, 0.25, 2.0, 7.0])
    want = np.array([oracle(v) for v in pts])
    # every operation is correctly rounded or within a few ulps; the sums here do not cancel by
    # more than a factor 10 (|terms| ≤ 10·|result|), so 1e-13 relative bounds the float64 error
    np.testing.assert_allclose(prog.numpy(pts), want, rtol=1e-13, atol=1e-15)
    np.testing.assert_allclose(prog.torch(torch.tensor(pts)).numpy(), want, rtol=1e-13, atol=1e-15)
    with mpmath.workdps(30):
        mp = [float(prog.mpmath(v)) for v in pts]
    np.testing.assert_allclose(mp, want, rtol=1e-13, atol=1e-15)


def test_piecewise_cases_are_evaluated_only_where_they_apply_in_numpy():
    # log(z) on z ≤ 0 would warn / give NaN; the case is not evaluated there
    prog = compile_expr(sp.Piecewise((sp.log(z), z > 0), (-z, True)), [z])
    with np.errstate(all="raise"):
        out = prog.numpy(np.array([-1.0, 0.0, math.e]))
    assert out.tolist() == [1.0, 0.0, 1.0]


def test_several_arguments_broadcast():
    prog = compile_expr(x * y + 1, [x, y])
    out = prog.numpy(np.array([[1.0], [2.0]]), np.array([10.0, 20.0, 30.0]))
    assert out.shape == (2, 3) and out[1, 2] == 61.0


def test_torch_back_end_is_differentiable():
    prog = compile_expr(sp.log(1 + sp.exp(-z)), [z])
    t = torch.tensor([0.0, 1.0], dtype=torch.float64, requires_grad=True)
    prog.torch(t).sum().backward()
    want = [-1 / (1 + math.exp(0.0)), -1 / (1 + math.exp(1.0))]  # ℓ′ = −1/(1 + e^z)
    np.testing.assert_allclose(t.grad.numpy(), want, rtol=1e-14)


def test_undefined_functions_are_bound_by_name():
    rho = sp.Function("rho")
    prog = compile_expr(rho(y) / y, [y])
    with pytest.raises(EoscheckError, match="rho"):
        prog.numpy(2.0)
    bound = prog.bind({"rho": lambda v: v**2})
    assert float(bound.numpy(3.0)) == 3.0


def test_unknown_symbol_is_an_eoscheck_error():
    with pytest.raises(EoscheckError, match="no value for y"):
        compile_expr(z + y, [z])


def test_mpmath_flags_a_cancellation_and_mp_value_raises_the_precision():
    # (e^z − 1)e^{−z} − 1 + e^{−z} = 0 exactly; ℓ = that + e^{−z}·1e-40 is 1e-40·e^{−z}: float64 and
    # 30 digits lose it to cancellation; mp_value must raise the precision and recover it
    e = (sp.exp(z) - 1) * sp.exp(-z) - 1 + sp.exp(-z) + sp.Rational(1, 10**40) * sp.exp(-z)
    prog = compile_expr(e, [z])
    with mpmath.workdps(30):
        fl = Flags()
        prog.mpmath(2.0, flags=fl)
        assert fl.hard or fl.need > mpmath.mp.prec
    v, ok = mp_value(lambda fl: prog.mpmath(2.0, flags=fl))
    assert ok
    assert float(v) == pytest.approx(1e-40 * math.exp(-2.0), rel=1e-12)


@pytest.mark.parametrize("expr, x, reliable, value", [
    (sp.log(z), -1.0, True, math.nan),             # undefined: a reliable NaN (the auditor's FAIL)
    (sp.exp(sp.exp(-z)), -1000.0, False, math.nan),   # exp of e¹⁰⁰⁰ > MP_EXP_CAP: not computed (UNDETERMINED)
    (sp.log(1 + sp.exp(sp.exp(-z))), -1000.0, False, math.nan),
    (sp.log(1 + sp.exp(-z)), -1e100, True, 1e100),    # exp of any float64 is computed (it was capped at 1e30)
    ((1 - z + sp.Abs(1 - z)) ** 2 / 4, 1.0, True, 0.0),       # 1 − z + |1 − z| = 0 exactly at z = 1
    ((-z + sp.Abs(z)) ** 2 + 3, 1e-9, True, 3.0),             # an exact zero inside, 3 outside
])
def test_mp_value_tells_undefined_from_not_computed_and_exact_from_lost_cancellations(expr, x, reliable, value):
    """A NaN from the exp cap was reported reliable, so the auditor failed the logistic loss ("ℓ is not a
    real number") at --search-range 1e100; an exact cancellation was unreliable at every precision, so
    ((1 − z) + |1 − z|)²/4 (the squared hinge) failed Assumption 3A while max(0, 1 − z)² passed."""
    v, ok = mp_value(lambda fl: compile_expr(expr, [z]).mpmath(x, flags=fl))
    assert ok is reliable
    assert (math.isnan(value) and mpmath.isnan(v)) or float(v) == value


def test_mpmath_is_bounded_for_huge_exponents():
    prog = compile_expr(sp.exp(sp.exp(sp.exp(sp.exp(-z)))), [z])
    with mpmath.workdps(30):
        assert mpmath.isnan(prog.mpmath(-1000.0))  # e^{1000} > 1e30: not computed, NaN
    assert prog.numpy(-1000.0) == math.inf


def test_stable_log_keeps_digits_where_the_argument_underflows():
    prog = compile_expr(sp.log(1 + sp.exp(-z)), [z], stable_log=True)
    plain = compile_expr(sp.log(1 + sp.exp(-z)), [z])
    # z = 700: 1 + e^{-700} rounds to 1, so the plain log is 0; log1p keeps ≈ e^{-700} (to an ulp)
    # z = −800: e^{800} overflows, so the plain log is inf; the rule log(1 + r) = log r + log1p(1/r)
    # with log e^{800} = 800 gives 800 + e^{-800} = 800 in float64
    assert plain.numpy(700.0) == 0.0
    assert prog.numpy(700.0) == pytest.approx(math.exp(-700.0), rel=1e-14)
    assert prog.numpy(-800.0) == pytest.approx(800.0, rel=1e-15)  # plain: log(e^800) = log(inf) = inf
    assert plain.numpy(-800.0) == math.inf


def test_the_log_of_a_negated_log_keeps_its_digits():
    """ln ℓ of ℓ = −log(1/(1 + e^{−z})) (the logistic loss written through the sigmoid): the leading −1 sent the
    stable log to the plain one, −inf from z ≈ 745 (ℓ underflows) where ln ℓ = −z to an ulp (the built-in's is)."""
    from eoscheck import get_loss, parse_loss

    zs = torch.tensor([-1e4, -10.0, 10.0, 700.0, 745.0, 800.0, 1e4], dtype=torch.float64)
    got = parse_loss("-log(1/(1+exp(-z)))").log_value(zs)
    want = get_loss("logistic").log_value(zs)
    # both ≈ −z or log1p(e^{−z}) from the same stable rules: within 2 ulps of the value (values up to 1e4)
    assert torch.isfinite(got).all() and torch.allclose(got, want, rtol=4.5e-16, atol=0.0), (got, want)
    for x in (700.0, 745.0, 800.0):
        assert float(parse_loss("-log(1/(1+exp(-z)))").log_value(torch.tensor(x, dtype=torch.float64))) == \
            pytest.approx(float(mpmath.log(mpmath.log1p(mpmath.exp(-x)))), rel=1e-15)


# oracles in mpmath, written out by hand (not through the compiler)
_CONJ = [
    ("sqrt(1+z**2) - z", lambda x: mpmath.sqrt(1 + x * x) - x),
    ("sqrt(1+z**2) + z", lambda x: mpmath.sqrt(1 + x * x) + x),
    ("sqrt(1+z**2) - 1", lambda x: mpmath.sqrt(1 + x * x) - 1),
    ("2*sqrt(z**2+2*z+5) - 2*z - 2", lambda x: 2 * mpmath.sqrt(x * x + 2 * x + 5) - 2 * x - 2),
]


@pytest.mark.parametrize("text, oracle", _CONJ)
def test_a_cancelling_square_root_difference_keeps_its_digits(text, oracle):
    """√(1+z²) − z at z = 1e4 kept 8 of 16 digits (1.4e-8 relative); where B < 0 the conjugate form
    (A − B²)/(√A − B) adds positive terms: A (≤ 2 roundings), √ (½ ulp), √A − B (1), A − B² a constant or a
    polynomial with no cancellation there, the division (½): ≤ ~5 ulps, checked at 16 ulps."""
    from eoscheck.expr import parse_loss

    e = parse_loss(text).expr
    zs = np.array([-1e4, -1e3, -10.0, -1.0, -1e-3, 1e-5, 1e-3, 1.0, 10.0, 1e3, 1e4])
    with mpmath.workdps(60):
        exact = np.array([float(oracle(mpmath.mpf(v))) for v in zs])
    for backend in ("numpy", "torch"):
        got = np.asarray(compile_expr(e, [z], backend, stable_log=True)(zs), dtype=np.float64)
        np.testing.assert_allclose(got, exact, rtol=16 * 2.0**-52, atol=0, err_msg=backend)
    plain = compile_expr(e, [z], "numpy")(zs)                 # without the stable rules: the naive sum
    assert np.max(np.abs(plain - exact) / np.abs(exact)) > 1e-9   # does lose digits on these margins


# ℓ′ and ℓ″ by hand: d/dz [√(1+z²) − z] = z/√(1+z²) − 1, d²/dz² = (1+z²)^(−3/2); of √(z²+4) − z/2 … by hand too
_CONJ_DERIV = [
    ("sqrt(1+z**2) - z", lambda x: x / mpmath.sqrt(1 + x * x) - 1, lambda x: (1 + x * x) ** mpmath.mpf(-1.5)),
    ("2*sqrt(z**2+2*z+5) - 2*z - 2", lambda x: 2 * (x + 1) / mpmath.sqrt(x * x + 2 * x + 5) - 2,
     lambda x: 8 / (x * x + 2 * x + 5) ** mpmath.mpf(1.5)),
]


@pytest.mark.parametrize("text, grad, hess", _CONJ_DERIV)
def test_the_derivatives_of_a_square_root_difference_keep_their_digits(text, grad, hess):
    """ℓ′ = z/√(1+z²) − 1 kept 9 of 16 digits at z = 1e4 (1.4e-9 relative), ℓ″ = (1 − z²/(1+z²))/√(1+z²) 8 (3.9e-9).
    Over a common denominator ℓ″'s numerator cancels symbolically to 1, and ℓ′'s, z − √(1+z²), takes the conjugate
    form: positive terms, a square root, two divisions, ≤ ~6 roundings; checked at 16 ulps."""
    from eoscheck.expr import parse_loss

    loss = parse_loss(text)
    zs = np.array([-1e4, -1e3, -10.0, -1.0, 0.0, 1e-3, 1.0, 10.0, 1e3, 1e4])
    with mpmath.workdps(60):
        for fn, oracle in ((loss.grad, grad), (loss.hess, hess)):
            exact = np.array([float(oracle(mpmath.mpf(v))) for v in zs])
            got = fn(torch.tensor(zs, dtype=torch.float64)).numpy()
            np.testing.assert_allclose(got, exact, rtol=16 * 2.0**-52, atol=0, err_msg=f"{text}: {fn.__name__}")


def test_a_common_denominator_is_taken_only_where_it_gains():
    from eoscheck.compiler import together_form

    assert together_form(1 / (1 + z) + 1 / (2 + z)) is None        # numerator 2z + 3: nothing cancels
    assert together_form(sp.exp(-z) / (1 + z) - 1) is None           # not algebraic
    assert together_form(z**2 + 1) is None                           # no fraction
    joined = together_form(1 - z**2 / (1 + z**2))
    assert joined is not None and sp.simplify(joined - 1 / (1 + z**2)) == 0 and sp.fraction(joined)[0] == 1


# ℓ, ℓ′, ℓ″ of 1 − tanh z by hand in mpmath: 1 − tanh z, −sech² z, 2 tanh z sech² z
_TANH = [("1 - tanh(z)", lambda x: 1 - mpmath.tanh(x), lambda x: -mpmath.sech(x) ** 2,
          lambda x: 2 * mpmath.tanh(x) * mpmath.sech(x) ** 2),
         ("(1 + tanh(-z))/2", lambda x: (1 - mpmath.tanh(x)) / 2, lambda x: -mpmath.sech(x) ** 2 / 2,
          lambda x: mpmath.tanh(x) * mpmath.sech(x) ** 2)]


@pytest.mark.parametrize("text, value, grad, hess", _TANH)
def test_one_minus_tanh_keeps_its_digits_where_tanh_rounds_to_one(text, value, grad, hess):
    """1 − tanh(20) was 0 in float64 (its value 8.5e-18), ℓ′ = tanh² − 1 too, and log ℓ was −inf, for every z ≳ 19.
    Rewritten through exponentials (2/(1 + e^{2z}), −4/((1 + e^{−2z})(1 + e^{2z}))), each is exp of an exact
    argument (≤ 1 ulp), sums of positive terms (½ ulp each), a division (½) and at most a tanh factor (1):
    ≤ ~5 ulps, checked at 16; log ℓ from logs of size ≤ 2|z|, each within an ulp of it: 16 ulps of |log ℓ| + 16ε."""
    from eoscheck.expr import parse_loss

    loss = parse_loss(text)
    zs = np.array([-1e4, -400.0, -30.0, -20.0, -1.0, 0.0, 1e-3, 1.0, 20.0, 30.0, 400.0, 1e4])
    zt = torch.tensor(zs, dtype=torch.float64)
    tol = 16 * 2.0**-52
    with mpmath.workdps(60):
        for fn, oracle in ((loss.value, value), (loss.grad, grad), (loss.hess, hess)):
            exact = np.array([float(oracle(mpmath.mpf(v))) for v in zs])
            np.testing.assert_allclose(fn(zt).numpy(), exact, rtol=tol, atol=0, err_msg=f"{text}: {fn.__name__}")
    logs = []
    for v in zs:                     # 1 − tanh z ≈ 2e^{−2z}: 2z/ln 10 more digits than 60 keep it from rounding to 0
        with mpmath.workdps(60 + int(abs(v))):
            logs.append(float(mpmath.log(value(mpmath.mpf(v)))))
    np.testing.assert_allclose(loss.log_value(zt).numpy(), logs, rtol=tol, atol=tol)
    plain = compile_expr(loss.expr, [z], "numpy")(zs)          # as written: 1 − tanh z rounds to 0 from z ≈ 19
    assert plain[zs == 20.0][0] == 0.0


def test_the_conjugate_rule_leaves_sums_with_nothing_to_gain_alone():
    from eoscheck.compiler import conjugate_form

    assert conjugate_form(sp.sqrt(z) + 1) is None                  # z − 1: nothing cancels
    assert conjugate_form(sp.sqrt(z) + sp.sqrt(z + 1)) is None    # two roots
    assert conjugate_form(sp.sqrt(1 + z**2 + sp.exp(-z)) - z) is None   # not a polynomial
    num, root, rest = conjugate_form(sp.sqrt(1 + z**2) - z)
    assert (num, root, rest) == (1, sp.sqrt(1 + z**2), -z)


@pytest.mark.parametrize("formula, zs", [
    ("log(1 + exp(-z) + exp(-2*z))", (-1e4, -1e3, -710.0, -400.0)),     # ℓ′ → −2: a negative numerator over ∞
    ("log(exp(z) + exp(-z)) - z", (-1e4, -800.0, 710.0, 1e3, 1e4)),     # (e^z − e^{−z})/(e^z + e^{−z}) − 1
])
def test_a_ratio_of_overflowing_sums_of_either_sign_is_finite(formula, zs):
    """ℓ′ of these smooth 2-Lipschitz losses was −inf (a negative factor's log taken of its overflowed value) or
    +inf (log(e^z − e^{−z}) at z ≥ 710), so GD with a large η was flagged diverged at its first step.

    Tolerance: where the product overflows it is recomputed as exp(Σ ln|fᵢ|) from logs of size up to 2|z|, each
    within a few ulps, so the result carries a relative error ≲ 4·2|z|·ε (|z| = 1e4: 1.8e-11); where the true
    value is below the smallest float (2e^{−2z} at z ≥ 710) it must come out as 0."""
    import eoscheck
    from eoscheck.expr import parse_loss

    loss = parse_loss(formula)
    sym = loss.expr
    zt = torch.tensor(zs, dtype=torch.float64)
    got = loss.grad(zt).numpy()
    with mpmath.workdps(60):
        for zi, g in zip(zs, got):
            true = float(mpmath.mpf(str(sp.N(sym.diff(z).subs(z, zi), 60))))
            assert math.isfinite(g)
            if abs(true) < 1e-300:
                assert abs(g) <= 1e-300
            else:
                assert abs(g / true - 1) <= 8 * abs(zi) * 2.0**-52, (zi, g, true)
    traj = eoscheck.run_gd(eoscheck.toy(), loss, [1e4, 1e6], 5)
    assert (traj.stats["diverged_at"] == -1).all()


def test_a_product_whose_sum_factor_underflows_as_a_whole_is_distributed():
    """ℓ″ of −ln Φ(z) = (√2 z e^{−z²/2}/√π + 2e^{−z²}/(π erfc(−z/√2)))/erfc(−z/√2): below z ≈ −38 both terms of the
    sum underflow to 0 and the erfc too, and the stable product read log 0 = −∞: ℓ″ = 0 where it is ≈ 1.

    Oracle: mpmath's own Φ and φ, ℓ″ = z r + r² with r = φ/Φ.  Tolerance: distributed, ℓ″ = z·r + r² with
    r ≈ |z| formed as exp(ln φ − ln Φ), whose arguments ≈ z²/2 carry a few ulps u, so r and r² are off by ≈ u z²
    relatively and the sum, cancelling from r² ≈ z² to ≈ 1, by ≈ u z⁴ absolutely (measured 1.5–3.1 u z⁴ for
    z ∈ [−500, −39]): 8 u z⁴."""
    from eoscheck.expr import parse_loss

    e = parse_loss("-log(erfc(-z/sqrt(2))/2)").expr     # erfc(−u) kept (sympy's own would be 2 − erfc(u))
    prog = compile_expr(sp.diff(e, z, 2), [z], stable_log=True)
    pts = np.array([-39.0, -40.0, -50.0, -100.0, -200.0])
    with mpmath.workdps(60):
        want = []
        for v in pts:
            r = mpmath.npdf(v) / mpmath.ncdf(v)
            want.append(float(v * r + r * r))
    tol = 8 * 2.0**-53 * pts**4
    for got in (prog.numpy(pts), prog.torch(torch.tensor(pts)).numpy()):
        assert np.all(np.abs(got - np.array(want)) <= tol), (got, want)


def test_a_sum_of_exponential_fractions_is_taken_over_its_common_denominator():
    """ℓ″ of log(1 + e^{−z}) as sympy writes it, e^{−z}/(1 + e^{−z}) − e^{−2z}/(1 + e^{−z})², cancels two terms ≈ 1 to
    e^{−|z|} for z < 0: 0 in float64 from z ≈ −37 and beyond the 1500-digit evaluator at z ≈ −3450 (the audit's grid
    left those x out).  Over its denominator the numerator is e^{−z}.  Oracle: σ(z)σ(−z) in mpmath.  Tolerance: the
    form's exp and log-domain product carry an absolute error of a few ulps of |z| in their exponent: 8u·max(1, |z|)."""
    e = sp.exp(-z) / (1 + sp.exp(-z)) - sp.exp(-2 * z) / (1 + sp.exp(-z)) ** 2
    prog = compile_expr(e, [z], stable_log=True)
    zs = np.array([-700.0, -300.0, -40.0, -1.0, 0.0, 3.0, 40.0, 700.0])
    with mpmath.workdps(60):
        want = np.array([float(1 / ((1 + mpmath.exp(-v)) * (1 + mpmath.exp(v)))) for v in zs])
    tol = 8 * 2.0**-53 * np.maximum(1.0, np.abs(zs))
    for got in (prog.numpy(zs), prog.torch(torch.tensor(zs)).numpy()):
        assert np.all(np.abs(got - want) <= tol * want), (got, want)
    v, ok = mp_value(lambda fl: prog.mpmath(-4000.0, flags=fl))     # the audit's evaluator, at its old limit
    with mpmath.workdps(60):
        assert ok and abs(v / mpmath.exp(-4000) - 1) < 1e-15


def test_a_distributed_product_is_not_joined_again():
    """z/√(1+z²) − 1 at |z| = 1e160: the common-denominator form (z − √(1+z²))/√(1+z²) overflows, its distributed
    sum z/√(1+z²) − √(1+z²)/√(1+z²) was joined into the same product again, and evaluation recursed without end.
    At +1e160 the value −1/(2z²) underflows to 0 (by hand)."""
    prog = compile_expr(z / sp.sqrt(1 + z**2) - 1, [z], stable_log=True)
    got = prog.numpy(np.array([1e160, -1e160]))
    assert abs(got[0]) <= 1e-300
    prog.torch(torch.tensor([1e160, -1e160], dtype=torch.float64))     # no RecursionError either


def test_a_common_denominator_of_high_powers_is_not_attempted():
    """1/(1+z)³⁰⁰ − 1/(2+z)³⁰⁰ + 1/(3+z)³⁰⁰: sympy's together and expand took 27 s, only to gain nothing."""
    import time

    from eoscheck.compiler import together_form

    e = 1 / (1 + z) ** 300 - 1 / (2 + z) ** 300 + 1 / (3 + z) ** 300
    t0 = time.process_time()
    assert together_form(e) is None
    compile_expr(e, [z], stable_log=True)
    assert time.process_time() - t0 < 2.0      # CPU seconds: load does not count


# ℓ, ℓ′, ℓ″ by hand in mpmath, in forms that do not cancel (log1p, 1/(1 + e^{±az})), so 50 digits are enough
def _softplus(a):
    return (lambda x: mpmath.log1p(mpmath.exp(-a * x)) / a, lambda x: -1 / (1 + mpmath.exp(a * x)),
            lambda x: a / ((1 + mpmath.exp(a * x)) * (1 + mpmath.exp(-a * x))))


_COMPLEMENT = [("log(1+exp(-2*z))/2", *_softplus(2)), ("log(1+exp(-z))", *_softplus(1)),
               ("-log(1/(1+exp(-z)))", *_softplus(1)),
               ("exp(-z)", lambda x: mpmath.exp(-x), lambda x: -mpmath.exp(-x), lambda x: mpmath.exp(-x))]


@pytest.mark.parametrize("text, value, grad, hess", _COMPLEMENT)
def test_one_minus_a_sigmoid_keeps_its_digits_where_the_sigmoid_rounds_to_one(text, value, grad, hess):
    """sympy writes ℓ″ of log(1 + e^{−2z})/2 as 2(1 − σ)σ with σ = e^{−2z}/(1 + e^{−2z}): 1 − σ cancels where σ rounds
    to 1, so ℓ″ was −4.5e-13 at z = −700 (a convex loss; true 2e^{−1400}, 0 in float64) and 0 at z = −300 (true
    5.3e-261).  Rewritten, (1 − σ)σ = 1/((1 + e^{−2z})(1 + e^{2z})).

    Tolerance: every exponent here, ±z and ±2z, is exact in float64, so no input rounding is amplified; exp is within
    1 ulp, 1 + e^{·} and the product and division ½ ulp each, the coefficients powers of 2: ≤ 4 ulps, checked at 8.
    Where 1 + e^{a|z|} overflows (a|z| > 709.8) the true ℓ″ is below 2e^{−709.8} ≈ 4e-308, so at these points the
    log-domain fallback never forms a normal value: 0 where the true value underflows (z = ±700, a = 2), exactly.
    ℓ, ℓ′ (stable log, exp(Σ ln|fᵢ|) of exact logs) are held to the same 8 ulps; e^{−z} at z = −1e4 is inf."""
    from eoscheck.expr import parse_loss

    loss = parse_loss(text)
    zs = np.array([-1e4, -700.0, -300.0, -20.0, -1.0, 0.0, 1.0, 20.0, 300.0, 700.0, 1e4])
    zt = torch.tensor(zs, dtype=torch.float64)
    with mpmath.workdps(50):
        for fn, oracle in ((loss.value, value), (loss.grad, grad), (loss.hess, hess)):
            exact = np.array([float(oracle(mpmath.mpf(v))) for v in zs])
            got = fn(zt).numpy()
            assert not np.isnan(got).any(), (text, fn.__name__, got)
            np.testing.assert_allclose(got, exact, rtol=8 * 2.0**-52, atol=0, err_msg=f"{text}: {fn.__name__}")
    assert (loss.hess(zt).numpy() >= 0).all()


def test_the_complement_rule_applies_only_where_a_term_cancels():
    from eoscheck.compiler import complement_form

    u, v = sp.exp(-2 * z), sp.exp(z)
    assert complement_form(1 - 2 * u / (1 + u)) is None          # (1 − u)/(1 + u): nothing cancels
    assert complement_form(1 + u / (1 + u)) is None
    assert complement_form(1 - u / (1 + u) + z) is None           # two terms beside the constant
    assert complement_form(2 - z) is None                         # no fraction
    got = complement_form(1 - u / (1 + u))                        # e^{2z}/(e^{2z} + 1)
    assert sp.simplify(got - 1 / (1 + u)) == 0 and not got.has(u)
    got = complement_form(3 - 3 * z**2 / (v + z**2))              # 3e^z/(e^z + z²) = 3/(1 + z²e^{−z})
    assert sp.simplify(got - 3 * v / (v + z**2)) == 0
    # in a product the exponentials cancel: 2(1 − σ)σ = 2/((1 + e^{−2z})(1 + e^{2z})), no difference left
    prod = (2 * (1 - u / (1 + u)) * u / (1 + u)).replace(lambda e: complement_form(e) is not None, complement_form)
    assert prod == 2 / ((1 + u) * (1 + 1 / u))


# ℓ, ℓ′, ℓ″ by hand in mpmath in forms with positive terms only (u = e^{−az}), so 60 digits are plenty
def _three_terms(x):
    u = mpmath.exp(-x)
    return (mpmath.log1p(u + u * u), -(1 + 2 * u) * u / (1 + u + u * u), u * (1 + 4 * u + u * u) / (1 + u + u * u) ** 2)


def _four_terms(x):
    """ℓ = log P(u), P = 1 + u + u² + u³: ℓ′ = −uP′/P, ℓ″ = u[(P′ + uP″)P − uP′²]/P² = u(1 + 4u + 10u² + 4u³ + u⁴)/P²
    (the numerator expanded by hand)."""
    u = mpmath.exp(-x)
    P = 1 + u + u**2 + u**3
    return (mpmath.log1p(u + u**2 + u**3), -u * (1 + 2 * u + 3 * u**2) / P,
            u * (1 + 4 * u + 10 * u**2 + 4 * u**3 + u**4) / P**2)


def _softplus3(x):
    return (mpmath.log1p(mpmath.exp(-3 * x)), -3 / (1 + mpmath.exp(3 * x)),
            9 / ((1 + mpmath.exp(3 * x)) * (1 + mpmath.exp(-3 * x))))


@pytest.mark.parametrize("text, oracle", [("log(1+exp(-z)+exp(-2*z))", _three_terms),
                                          ("log(1+exp(-z)+exp(-2*z)+exp(-3*z))", _four_terms),
                                          ("log(1+exp(-3*z))", _softplus3)])
def test_a_user_loss_and_its_derivatives_are_as_accurate_as_their_conditioning(text, oracle):
    """ℓ″ of log(1 + e^{−z} + e^{−2z}) as sympy writes it cancels where e^{−z} ≫ 1: 5e-16 for 4e-18 at z = −40, for
    5e-131 at z = −300 (now over a common denominator, the u³ gone); and a product recomputed from its logs summed
    them plainly: ℓ′ of log(1 + e^{−3z}) read −2.9999999999994813 for −3 below z = −700, ℓ′ of the three-term loss
    −1.9999999999967 at z = −1e4 (now a compensated sum).  With four terms the common denominator's log must be
    used where e^{−z} overflows, not the cancelling sum distributed over the product: ℓ″ read −1e-12 below z = −710.

    Tolerance: z is exact, so what float64 must lose is the conditioning of f at z, κ = |z f′(z)/f(z)| (an exp of a
    sum of logs of size ~|z| rounds that sum once: κ ≈ |z| for ℓ″ ≈ e^{z}, κ ≈ 0 for ℓ′ → −2), plus a few roundings
    of the operations: (κ + 16)·2⁻⁵² relative.  Where f underflows, 16 subnormal steps absolute."""
    loss = parse_loss(text)
    zs = [-1e4, -3000.0, -745.5, -700.0, -300.1, -40.0, -1.0, 0.0, 1e-3, 1.0, 40.0, 300.1, 700.0]
    got = [fn(torch.tensor(zs, dtype=torch.float64)).numpy() for fn in (loss.value, loss.grad, loss.hess)]
    eps = 2.0**-52
    with mpmath.workdps(60):
        for i, x in enumerate(zs):
            xm = mpmath.mpf(x)
            exact = oracle(xm)
            for k in range(3):
                f = (lambda t, k=k: oracle(t)[k])
                kappa = abs(xm * mpmath.diff(f, xm) / exact[k]) if exact[k] != 0 else 0
                tol = float((kappa + 16) * eps * abs(exact[k])) + 16 * 2.0**-1074
                assert abs(mpmath.mpf(got[k][i]) - exact[k]) <= tol, (text, k, x, got[k][i], float(exact[k]))


@pytest.mark.parametrize("text", ["log(1+exp(-z)) + 1e-400*exp(-z**2)", "1e-400*exp(-(z-950)**2) + log(1+exp(-z))"])
def test_a_coefficient_below_the_float_range_keeps_its_log(text):
    """The stable log of c·∏fᵢ took math.log(float(c)): c = 1e-400 is 0.0 in float64, and `eoscheck audit-loss` on
    this valid loss crashed with "ValueError: math domain error" (a reviewer's run).  ln c is taken from c's exact
    value (−921.03 for 1e-400); the term's log at z = 0 is −921.03 (the oracle: mpmath at 50 digits)."""
    from eoscheck.compiler import compile_expr

    expr = parse_loss(text).expr
    term = next(a for a in expr.args if a != sp.log(1 + sp.exp(-z)))      # c·e^{−(z−a)²}, c = 10⁻⁴⁰⁰ exactly
    f = compile_expr(sp.log(term), [z], "numpy", stable_log=True)
    with mpmath.workdps(50):
        want = float(mpmath.log(sp.lambdify(z, term, "mpmath")(mpmath.mpf(0))))
    got = float(f(np.array([0.0]))[0])
    # ln c exact to the float's rounding (half an ulp of 921), plus the rest's few ulps: 8 ulps of 921
    assert abs(got - want) <= 8 * math.ulp(abs(want)), (got, want)
