"""The slides' Θ/O/Ω/Õ forms as asymptotic shadows of the explicit bounds, with order checks.

The seed slides (paper.md, ``seed-slides.md``) state the theory up to constants,
e.g. τ = Θ(max{η, n, (n/η) ln(n/η)}).  Each :class:`Shadow` pairs such a form with
the explicit bound it summarises; :func:`check_shadow` shows the explicit form is
of that order along each listed direction (a parameter → ∞ or → 0, the others
fixed): the ratio explicit/shadow has a limit in (0, ∞) (Θ), < ∞ (O), > 0 (Ω),
or < ∞ after dividing by ln^k (Õ).  Max/min are resolved to their dominant
argument by sympy limits first, and ρ, ψ⁻¹ are replaced by their asymptotic
classes (:mod:`eoscheck.bounds.asymptotics`) for a named loss (and
V(s) = −W₋₁(−e^{−s}) by s, as V(s) = s + ln V(s) ~ s).  Where sympy
cannot take the limit (explicit τ forms with special functions, numeric ψ⁻¹)
the check is numeric: the log–log slope of the ratio over the last decades
must vanish.

Found while encoding: the slides' NTK time Θ(max{ψ⁻¹(η+n), η(η+n)}) drops the
1/η of Theorem 6's ψ⁻¹(C₁(η+n))/η, so the explicit form is O of the slide's
but not Θ; and the explicit Lemma 34 time of the linear case is Θ(max{η, n ln n}/γ²) for η ≥ 1 —
Theorem 35's C₂ max{η, n}/γ² lacks the ln n (the NTK form C₂ max{η, n ln n} has it) —
and grows like (n/η) ln(1/η) as η → 0, so the C₂ forms presume η bounded below.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import numpy as np
import sympy as sp

from . import corollary2, theorem1, theorem3, theorem6, theorem35
from .asymptotics import rho_asymptotic_class
from .shadow import Shadow
from .special import LambertWm1Log
from .symbols import lam, psi_inv, rho

@dataclass(frozen=True)
class OrderResult:
    """The ratio explicit/shadow along one direction: its limit (or slope) and whether the order holds."""

    direction: str
    value: object
    ok: bool
    method: str


# --- Max/min resolution and models ---------------------------------------------------------


def _cmp_at_infinity(x: sp.Expr, y: sp.Expr, var: sp.Symbol) -> int:
    """Order comparison as var → ∞ for y eventually positive: +1 if x ≫ y, −1 if x ≪ y (or x/y ≤ 0),
    0 if x/y tends to a positive constant (same order: either may stand for the max)."""
    r = sp.limit(x / y, var, sp.oo)
    if r is sp.oo:
        return 1
    if r == 0 or r.is_nonpositive or r is -sp.oo:
        return -1
    if r.is_positive and r.is_finite:
        return 0
    raise ValueError(f"cannot compare {x} and {y} as {var} → ∞")


def resolve_minmax(expr: sp.Expr, var: sp.Symbol) -> sp.Expr:
    """expr with every max/min replaced by its dominant argument as var → ∞ (innermost first)."""
    if not expr.args:
        return expr
    args = [resolve_minmax(a, var) for a in expr.args]
    if isinstance(expr, (sp.Max, sp.Min)):
        best = args[0]
        for cand in args[1:]:
            c = _cmp_at_infinity(cand, best, var)
            if (c > 0 and isinstance(expr, sp.Max)) or (c < 0 and isinstance(expr, sp.Min)):
                best = cand
        return best
    return expr.func(*args)


def _models(loss: str | None):
    """ρ ↦ its asymptotic class, ψ⁻¹ ↦ the inverse of λ/class (power tails), or λ ln²λ (exp tails)."""
    if loss is None:
        return None, None
    c = rho_asymptotic_class(loss)
    y = sp.Symbol("y", positive=True)
    if c.kind == "power":
        inv = sp.Lambda(y, y ** (1 / (1 - c.exponent)))
    else:  # ψ(λ) = λ/ln^k λ (k = 2 for exp tails, the fitted k of a "polylog" class): ψ⁻¹(y) ≍ y ln^k y
        inv = sp.Lambda(y, y * sp.log(y) ** (2 if c.kind == "log2" else c.exponent))
    return sp.Lambda(lam, c.expr), inv


def _apply_models(expr: sp.Expr, loss: str | None) -> sp.Expr:
    # V(s) = −W₋₁(−e^{−s}) = s + ln V(s) ~ s as s → ∞ (the explicit Lemma 34 time)
    expr = expr.replace(LambertWm1Log, lambda x: x)
    rho_m, inv_m = _models(loss)
    if rho_m is not None:
        expr = expr.replace(rho, lambda x: rho_m(x))
        expr = expr.replace(psi_inv, lambda x: inv_m(x))
    return expr


# --- the checks ----------------------------------------------------------------------------


def _limit_check(sh: Shadow, explicit: sp.Expr, var: sp.Symbol, point) -> OrderResult:
    ratio = explicit / sh.expr
    if sh.order == "Otilde" and sh.log_power:
        ratio = ratio / sp.log(var) ** sh.log_power
    u = sp.Symbol("u", positive=True)
    if point == 0:
        ratio = ratio.subs(var, 1 / u)
        var = u
    label = f"{sh.bound_id}: {var if point != 0 else '1/' + str(u)} → ∞"
    ratio = resolve_minmax(ratio, var)
    val = sp.limit(ratio, var, sp.oo)
    fin, pos = bool(val.is_finite), bool(val.is_positive) or val is sp.oo
    ok = {"Theta": fin and pos, "O": fin, "Otilde": fin, "Omega": pos}[sh.order]
    return OrderResult(label, val, ok, "sympy limit of explicit/shadow")


_DEFAULTS = {"eta": 1.0, "n": 10.0, "gamma": 0.5, "t": 1e3, "T": 1e4, "C1": 1.0, "C2": 1.0, "F_s": 1.0, "s": 0.0,
             "delta": 0.1, "C_a": 1.0}


def _numeric_check(sh: Shadow, var: sp.Symbol, point) -> OrderResult:
    """Evaluate explicit/shadow on var ∈ [1, 1e12] (or [1e-12, 1]) and fit ln ratio against
    ln ln var (ln ln 1/var) over the last four decades: a Θ ratio has slope ≈ 0 there,
    while a missing log factor shows as slope ≈ 1."""
    b = sh.bound
    grid = np.geomspace(1.0, 1e12, 25) if point is sp.oo else np.geomspace(1e-12, 1.0, 25)[::-1]
    params = {k: v for k, v in _DEFAULTS.items() if k in b.symbols and k != var.name}
    params.update({str(k): float(v) for k, v in sh.fixed.items()})
    params[var.name] = grid
    explicit = np.asarray(b.evaluate(loss=sh.loss, **params))
    from ._compile import bind, compile_expr
    from .rho import loss_functions

    syms = sorted(sh.expr.free_symbols, key=lambda x: x.name)
    fn = bind(compile_expr(sh.expr, syms, "numpy"), loss_functions(sh.loss, "numpy") if sh.loss else {})
    shadow = np.broadcast_to(np.asarray(fn(*[params[x.name] for x in syms]), dtype=np.float64), grid.shape)
    ratio = explicit / shadow
    tail = slice(-9, None)
    loglog = np.log(np.abs(np.log(grid[tail])))
    slope = float(np.polyfit(loglog, np.log(ratio[tail]), 1)[0])
    bounded = bool(np.all(np.isfinite(ratio)) and np.all(ratio > 0))
    tol = 0.25
    ok = bounded and {"Theta": abs(slope) < tol, "O": slope < tol, "Omega": slope > -tol,
                      "Otilde": slope < sh.log_power + tol}[sh.order]
    label = f"{sh.bound_id}: {var.name} → {'∞' if point is sp.oo else '0'}"
    return OrderResult(label, {"log_slope": slope, "ratio_range": (float(ratio.min()), float(ratio.max()))}, ok,
                       f"numeric: slope of ln(explicit/shadow) against ln ln {var.name} over the last four "
                       f"decades of {var.name} ∈ [{grid.min():.0e}, {grid.max():.0e}] ({sh.loss or 'no loss'})")


def check_shadow(sh: Shadow) -> list[OrderResult]:
    """Check that the explicit bound is of the shadow's order along each direction."""
    if sh.numeric:
        return [_numeric_check(sh, var, point) for var, point in sh.directions]
    explicit = _apply_models(sh.bound.expr.subs(sh.fixed), sh.loss)
    modelled = Shadow(**{**sh.__dict__, "expr": _apply_models(sh.expr, sh.loss)})
    return [_limit_check(modelled, explicit, var, point) for var, point in sh.directions]


# --- the slides' forms: each theorem module states its own (``SHADOWS``) -----------------------

SHADOWS: tuple[Shadow, ...] = (*theorem1.SHADOWS, *corollary2.SHADOWS, *theorem3.SHADOWS, *theorem6.SHADOWS,
                               *theorem35.SHADOWS)


@lru_cache(maxsize=None)
def check_all() -> tuple[tuple[Shadow, tuple[OrderResult, ...]], ...]:
    """Every shadow with its order results."""
    return tuple((sh, tuple(check_shadow(sh))) for sh in SHADOWS)
