"""Derivations: consequences of the encoded bounds, each step checked by sympy.

A :class:`Derivation` is a list of :class:`Step` s; every step is a sympy fact
(an identity, a sign, a limit, a numeric inequality between constants) with a
flag saying whether sympy verified it.  The consequences of issue §3 —
τ ≤ T/2 under Corollary 2's stepsize, the order of the Corollary 2 bound,
Table 1 — are built this way from the bound objects, not typed in.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp


@dataclass(frozen=True)
class Step:
    """One checked fact: a claim in words, the sympy object checked, and how."""

    claim: str
    expr: sp.Basic
    verified: bool
    how: str

    def __str__(self) -> str:
        mark = "✓" if self.verified else "✗"
        return f"{mark} {self.claim}  [{self.how}: {sp.sstr(self.expr)}]"


@dataclass
class Derivation:
    """A titled chain of :class:`Step` s with a result; ``ok`` when every step is verified."""

    title: str
    source: str
    steps: list[Step] = field(default_factory=list)
    result: sp.Basic | None = None

    @property
    def ok(self) -> bool:
        return bool(self.steps) and all(s.verified for s in self.steps)

    def add(self, step: Step) -> Step:
        self.steps.append(step)
        return step

    def __str__(self) -> str:
        lines = [f"{self.title} ({self.source})"] + [f"  {s}" for s in self.steps]
        if self.result is not None:
            lines.append(f"  ⇒ {sp.sstr(self.result)}")
        return "\n".join(lines)


def _forms(e: sp.Basic):
    yield e
    yield sp.simplify(e)
    yield sp.cancel(sp.together(e))
    yield sp.factor(sp.expand(e))


def is_zero(expr: sp.Basic, claim: str) -> Step:
    """Verified when ``expr`` simplifies to 0 (an identity)."""
    ok = any(f == 0 for f in _forms(expr))
    return Step(claim, expr, ok, "simplifies to 0")


def is_nonnegative(expr: sp.Basic, claim: str) -> Step:
    """Verified when sympy's assumptions prove ``expr`` ≥ 0 (in one of its canonical forms)."""
    ok = any(f.is_nonnegative for f in _forms(expr))
    return Step(claim, expr, ok, "sympy proves ≥ 0")


def is_positive(expr: sp.Basic, claim: str) -> Step:
    """Verified when sympy's assumptions prove ``expr`` > 0."""
    ok = any(f.is_positive for f in _forms(expr))
    return Step(claim, expr, ok, "sympy proves > 0")


def positive_number(expr: sp.Basic, claim: str) -> Step:
    """Verified when the constant ``expr`` is > 0 (sympy, else 50-digit evaluation)."""
    ok = bool(expr.is_positive) or (not expr.free_symbols and bool(sp.N(expr, 50) > 0))
    return Step(claim, expr, ok, "constant > 0")


def limit_is(expr: sp.Basic, var: sp.Symbol, point, expected: sp.Basic, claim: str) -> Step:
    """Verified when lim_{var→point} expr equals ``expected`` (sympy's gruntz)."""
    try:
        val = sp.limit(expr, var, point)
        ok = sp.simplify(val - expected) == 0
    except (NotImplementedError, ValueError):
        val, ok = sp.nan, False
    return Step(claim, sp.Eq(sp.Limit(expr, var, point), val), ok, "sympy limit")


def finite_positive_limit(expr: sp.Basic, var: sp.Symbol, point, claim: str) -> tuple[Step, sp.Basic]:
    """Verified when lim_{var→point} expr is a finite positive number (Θ-order certificate)."""
    try:
        val = sp.limit(expr, var, point)
        ok = bool(val.is_positive) and bool(val.is_finite)
    except (NotImplementedError, ValueError):
        val, ok = sp.nan, False
    return Step(claim, sp.Eq(sp.Limit(expr, var, point), val), ok, "sympy limit in (0, ∞)"), val
