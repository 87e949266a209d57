"""Growth calculus: the leading order T^p (ln T)^q of an expression as T → ∞ (for Table 1).

:func:`growth` returns (p, q) for positive expressions built from +, ·, powers with T-free
exponents, ln, max and min, with sympy deciding every comparison of exponents.
"""

from __future__ import annotations

import sympy as sp


class GrowthError(ValueError):
    """The growth calculus cannot decide the leading order of an expression."""


def compare(e1: sp.Expr, e2: sp.Expr) -> int:
    """Sign of e1 − e2 as decided by sympy's assumptions (GrowthError when undecidable)."""
    d = sp.simplify(e1 - e2)
    if d == 0:
        return 0
    for form in (d, sp.factor(d), sp.cancel(sp.together(d))):
        if form.is_positive:
            return 1
        if form.is_negative:
            return -1
    raise GrowthError(f"cannot decide the sign of {d}")


def _lex(g1, g2) -> int:
    c = compare(g1[0], g2[0])
    return c if c else compare(g1[1], g2[1])


def growth(expr: sp.Expr, var: sp.Symbol) -> tuple[sp.Expr, sp.Expr]:
    """(p, q) with expr ≍ var^p (ln var)^q as var → ∞, for positive expressions built from
    +, ·, powers with var-free exponents, ln, max and min (other symbols are positive constants)."""
    if not expr.has(var):
        return sp.Integer(0), sp.Integer(0)
    if expr == var:
        return sp.Integer(1), sp.Integer(0)
    if expr.is_Add:
        gs = [growth(a, var) for a in expr.args if a.has(var)]
        if any(not a.has(var) for a in expr.args):
            gs.append((sp.Integer(0), sp.Integer(0)))
        for a in expr.args:
            if a.has(var) and a.is_negative:
                raise GrowthError(f"negative term {a} in a sum")
        best = gs[0]
        for g in gs[1:]:
            if _lex(g, best) > 0:
                best = g
        return best
    if expr.is_Mul:
        p, q = sp.Integer(0), sp.Integer(0)
        for f in expr.args:
            fp, fq = growth(f, var)
            p, q = p + fp, q + fq
        return sp.simplify(p), sp.simplify(q)
    if expr.is_Pow:
        base, ex = expr.args
        if ex.has(var):
            raise GrowthError(f"variable exponent in {expr}")
        bp, bq = growth(base, var)
        return sp.simplify(bp * ex), sp.simplify(bq * ex)
    if isinstance(expr, sp.log):
        ap, aq = growth(expr.args[0], var)
        if compare(ap, 0) > 0:
            return sp.Integer(0), sp.Integer(1)
        raise GrowthError(f"log of a non-growing argument in {expr}")
    if isinstance(expr, sp.Abs):  # magnitudes: |e| ≍ e
        return growth(expr.args[0], var)
    if isinstance(expr, (sp.Max, sp.Min)):
        gs = [growth(a, var) for a in expr.args]
        best = gs[0]
        sign = 1 if isinstance(expr, sp.Max) else -1
        for g in gs[1:]:
            if sign * _lex(g, best) > 0:
                best = g
        return best
    raise GrowthError(f"unsupported expression {expr}")


def order_expr(g: tuple[sp.Expr, sp.Expr], var: sp.Symbol) -> sp.Expr:
    """var^p (ln var)^q for a growth pair."""
    return var ** g[0] * sp.log(var) ** g[1]
