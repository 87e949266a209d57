"""Asymptotic class of ρ(λ) = min_z λℓ(z) + z² as λ → ∞: Θ(ln²λ) or Θ(λ^{2/(a+2)}).

paper.md §5 (Prop. 5, Table 1).  The class of ρ is set by the tail of ℓ:

* sympy computes b = lim −ln ℓ(z)/z (z → ∞, on the branch z > 0).  If
  0 < b < ∞ the tail is exponential: with the model ℓ ≈ c·e^{−bz}, sympy solves
  the stationarity 2z = λ·(−ℓ′(z)) with Lambert W and, parametrising
  λ through W, finds lim ρ/ln²λ = 1/b²: ρ = Θ(ln²λ).
* Otherwise a = lim −ln ℓ(z)/ln z; if 0 < a < ∞ the tail is polynomial: the
  model ℓ ≈ c·z^{−a} gives z* ∝ λ^{1/(a+2)} and lim ln ρ/ln λ = 2/(a+2):
  ρ = Θ(λ^{2/(a+2)}).
* If sympy cannot decide, the class is read off a fit of ln ρ against ln λ and
  against ln ln λ on λ ∈ [10⁶, 10¹⁴] (the better-fitting model wins).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import sympy as sp

from .._errors import DivergenceError
from ..losses import Loss, z as Z
from .rho import as_loss, rho_of
from .symbols import lam as LAM


@dataclass(frozen=True)
class AsymptoticClass:
    """ρ(λ) = Θ(``expr``) as λ → ∞, and how that was obtained.

    kind: ``"log2"`` (Θ(ln²λ), exponential tail), ``"power"`` (Θ(λ^exponent)), or ``"polylog"`` (a fitted
      Θ(ln^k λ) with k away from 2: no Table 1 column).
    constant: lim ρ/expr where the symbolic route finds it (else None).
    """

    kind: str
    expr: sp.Expr
    exponent: sp.Expr
    constant: sp.Expr | None
    tail: str
    method: str
    fitted_exponent: float | None = None

    def __str__(self) -> str:
        return f"Θ({sp.sstr(self.expr)}) [{self.method}]"


def _limit(expr, var, point=sp.oo):
    try:
        val = sp.limit(expr, var, point)
    except (NotImplementedError, ValueError, TypeError, RecursionError):
        return None
    return None if isinstance(val, sp.Limit) or val.has(sp.Limit) else val


def _finite_positive(v) -> bool:
    return v is not None and v.is_positive is True and v.is_finite is True


def _exp_tail_class(lp: sp.Expr, zp: sp.Symbol, b: sp.Expr) -> AsymptoticClass:
    c = _limit(lp * sp.exp(b * zp), zp)
    c = c if _finite_positive(c) else sp.Integer(1)
    model = c * sp.exp(-b * zp)
    zs = sp.solve(sp.Eq(2 * zp, -LAM * sp.diff(model, zp)), zp)[0]
    rho_model = LAM * model.subs(zp, zs) + zs**2
    w = sp.Symbol("w", positive=True)
    arg = next(iter(rho_model.atoms(sp.LambertW))).args[0]
    lam_w = sp.solve(sp.Eq(arg, w * sp.exp(w)), LAM)[0]
    rho_w = sp.simplify(rho_model.replace(sp.LambertW, lambda *_: w).subs(LAM, lam_w))
    const = _limit(rho_w / sp.log(lam_w) ** 2, w)
    how = (f"sympy: b = lim −ln ℓ(z)/z = {sp.sstr(b)} (exponential tail); model ℓ ≈ {sp.sstr(model)}; "
           f"2z = λg(z) solved with Lambert W; lim ρ/ln²λ = {sp.sstr(const)}")
    return AsymptoticClass("log2", sp.log(LAM) ** 2, sp.Integer(2), const, f"exponential (rate {sp.sstr(b)})", how)


def _poly_tail_class(lp: sp.Expr, zp: sp.Symbol, a: sp.Expr) -> AsymptoticClass:
    c = _limit(lp * zp**a, zp)
    c = c if _finite_positive(c) else sp.Integer(1)
    model = c * zp ** (-a)
    u = sp.Symbol("u", real=True)  # u = ln z: the stationarity 2z = λg(z) is linear in u
    eq = sp.expand_log(sp.log(2 * zp) - sp.log(-LAM * sp.diff(model, zp)), force=True).subs(sp.log(zp), u)
    zs = sp.exp(sp.solve(eq, u)[0])
    rho_model = LAM * model.subs(zp, zs) + zs**2
    p = sp.simplify(_limit(sp.log(rho_model) / sp.log(LAM), LAM))
    const = _limit(rho_model / LAM**p, LAM)
    how = (f"sympy: a = lim −ln ℓ(z)/ln z = {sp.sstr(a)} (polynomial tail); model ℓ ≈ {sp.sstr(model)}; "
           f"z* = {sp.sstr(zs)}; lim ln ρ/ln λ = {sp.sstr(p)}")
    return AsymptoticClass("power", LAM**p, p, const, f"polynomial (degree {sp.sstr(a)})", how)


#: A fitted ln ρ ~ k·ln ln λ is read as Θ(ln²λ) (an exponential tail) for |k − 2| ≤ this.
POLYLOG_TOL = 0.25


def fitted_class(loss: Loss | str, lo: float = 1e6, hi: float = 1e14) -> AsymptoticClass:
    """The class of ρ from least-squares fits of ln ρ on ln λ and on ln ln λ (numeric ρ)."""
    loss = as_loss(loss)
    lam = np.geomspace(lo, hi, 33)
    r = rho_of(loss).numeric(lam)
    bad = ~(np.isfinite(r) & (r > 0))
    if bad.any():   # a fit through ±∞ or NaN read "Θ(nan)"
        raise DivergenceError(f"ρ(λ) = {r[bad][0]} at λ = {lam[bad][0]:.3g} in float64: no class is fitted to it")
    y = np.log(r)
    fits = {}
    for kind, x in (("power", np.log(lam)), ("log2", np.log(np.log(lam)))):
        A = np.vstack([x, np.ones_like(x)]).T
        coef, res, *_ = np.linalg.lstsq(A, y, rcond=None)
        fits[kind] = (float(coef[0]), float(np.sqrt(np.mean((A @ coef - y) ** 2))))
    best = min(fits, key=lambda k: fits[k][1])
    slope = fits[best][0]
    how = (f"fitted exponent on λ ∈ [{lo:.0e}, {hi:.0e}]: ln ρ ~ {slope:.4f}·"
           f"{'ln ln λ' if best == 'log2' else 'ln λ'} (rms {fits[best][1]:.1e}; other model rms "
           f"{fits['power' if best == 'log2' else 'log2'][1]:.1e})")
    if best == "power":
        return AsymptoticClass("power", LAM ** sp.Float(slope, 6), sp.Float(slope, 6), None, "polynomial (fitted)",
                               how, fitted_exponent=slope)
    if abs(slope - 2) <= POLYLOG_TOL:
        return AsymptoticClass("log2", sp.log(LAM) ** 2, sp.Float(slope, 6), None, "exponential (fitted)", how,
                               fitted_exponent=slope)
    # ρ ~ ln^k λ with k away from 2 (probit's Gaussian tail: k ≈ 1): not the ln²λ of an exponential tail,
    # which it was labelled whatever the fitted k; no column of Table 1
    return AsymptoticClass("polylog", sp.log(LAM) ** sp.Float(round(slope, 2), 3), sp.Float(slope, 6), None,
                           f"{'faster' if slope < 2 else 'slower'} than exponential (fitted: ρ ~ ln^{slope:.2f} λ)",
                           how, fitted_exponent=slope)


def rho_asymptotic_class(loss: Loss | str, symbolic: bool = True, template: bool = False) -> AsymptoticClass:
    """ρ = Θ(ln²λ) or Θ(λ^{2/(a+2)}) for this loss, symbolically where sympy can, else by a fit.

    ``template=True`` works on the family template (parameters such as a kept as
    symbols, for Table 1); ``symbolic=False`` forces the fit.
    """
    loss = as_loss(loss)
    if symbolic:
        expr = loss.template if (template and loss.template is not None) else loss.expr
        zp = sp.Symbol("z", positive=True)
        lp = expr.subs(Z, zp)
        if not lp.has(sp.Piecewise):
            b = _limit(-sp.log(lp) / zp, zp)
            if _finite_positive(b):
                return _exp_tail_class(lp, zp, b)
            if b is not None and b == 0:
                a = _limit(-sp.log(lp) / sp.log(zp), zp)
                if _finite_positive(a):
                    return _poly_tail_class(lp, zp, a)
    if template:
        raise ValueError(f"no symbolic asymptotic class for the template of {loss.name}")
    return fitted_class(loss)


# ------------------------------------------------------------------------------------------
# Growth calculus: expr ≍ T^p (ln T)^q as T → ∞
