"""ℓ prepared for the checks, and the sympy questions about it (run in time-limited children).

ℓ is written with Abs/Max/Min/sign/Heaviside as Piecewise (:func:`normalize`), erfc(−x) kept
as written (:func:`stabilize`), split into pieces on intervals (:func:`split_pieces`); the
questions: is a piece's k-th derivative continuous (:func:`smooth_on_piece`), is f ≥ 0 on a piece
(:func:`sign_on_piece`), one-sided limits at breakpoints and limits at ±∞ (:func:`limit_at`).
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any

import sympy as sp

from ..expr import real_number
from ..losses import piecewise_form, z


_p = sp.Symbol("p_", positive=True)


@dataclass(frozen=True)
class Piece:
    """ℓ = ``expr`` on the interval (lo, hi) (closedness by the flags), with lo/hi sympy numbers or ±oo."""

    expr: sp.Expr
    lo: sp.Expr
    hi: sp.Expr
    lo_closed: bool
    hi_closed: bool

    @property
    def interval(self) -> sp.Interval:
        return sp.Interval(self.lo, self.hi, not self.lo_closed, not self.hi_closed)

    @property
    def open(self) -> sp.Interval:
        return sp.Interval.open(self.lo, self.hi)

    def contains(self, x: float) -> bool:
        lo, hi = as_float(self.lo), as_float(self.hi)
        return (lo < x or (self.lo_closed and lo == x)) and (x < hi or (self.hi_closed and x == hi))


@functools.lru_cache(maxsize=4096)
def as_float(x: sp.Expr) -> float:
    """A breakpoint (sympy number or ±oo) as a float: in the compiler's mpmath, its precision raised until no digit is
    lost (bounded, never sympy's evalf), else in plain float arithmetic.  Plain arithmetic alone read
    10²⁰√2 − 141421356237309504880 as 0.0 for 0.1689, and the pieces on either side of such a breakpoint were
    mismatched: sympy's limits of the wrong pieces made a C¹ cusp "jump" (a reviewer's run)."""
    if x == sp.oo:
        return float("inf")
    if x == -sp.oo:
        return float("-inf")
    if not isinstance(x, sp.Rational):
        from ..compiler import mp_number

        v = mp_number(x)
        if v is not None:
            return float(v)
    v = real_number(x)
    if v is None:
        raise ValueError(f"not a real number: {sp.sstr(x)[:40]}")
    return v


def normalize(expr: sp.Expr) -> sp.Expr:
    """ℓ with Abs, Max, Min, sign, Heaviside written as one Piecewise (so derivatives stay piecewise, with
    one piece's derivative at each breakpoint): the loss's own :func:`eoscheck.losses.piecewise_form`."""
    return piecewise_form(expr)


def stabilize(expr: sp.Expr) -> sp.Expr:
    """Undo sympy's erfc(−x) → 2 − erfc(x): c + k·erfc(a) with c = −2k becomes −k·erfc(−a).

    (2 − erfc(x) cancels catastrophically for x → −∞; erfc(−x) is computed directly.)
    """
    def fix(add: sp.Add) -> sp.Expr:
        terms = list(add.args)
        consts = [t for t in terms if t.is_Number]
        if not consts:
            return add
        c = consts[0]
        for t in terms:
            k, rest = t.as_coeff_Mul()
            if isinstance(rest, sp.erfc) and c == -2 * k:
                others = [u for u in terms if u is not t and u is not c]
                return sp.Add(*others, sp.Mul(-k, sp.erfc(-rest.args[0], evaluate=False), evaluate=False))
        return add

    if not expr.has(sp.erfc):
        return expr
    return expr.replace(lambda e: isinstance(e, sp.Add), fix)


def audited_forms(expr: sp.Expr) -> tuple[sp.Expr, sp.Expr, sp.Expr]:
    """ℓ, ℓ′, ℓ″ of a loss expression as the audit evaluates them: ℓ through :func:`normalize`, each derivative
    taken of the one before, and every form through :func:`stabilize`."""
    pw = stabilize(normalize(expr))
    d1 = stabilize(sp.diff(pw, z))
    return pw, d1, stabilize(sp.diff(d1, z))


def split_pieces(pw: sp.Expr) -> list[Piece] | None:
    """ℓ as pieces on disjoint intervals covering ℝ (None when the conditions are not intervals in z)."""
    folded = sp.piecewise_fold(pw)
    if not isinstance(folded, sp.Piecewise):
        return [Piece(stabilize(folded), -sp.oo, sp.oo, False, False)]
    covered: sp.Set = sp.S.EmptySet
    pieces: list[Piece] = []
    for e, c in folded.args:
        s = c.as_set() if c is not sp.true else sp.S.Reals
        s = sp.Intersection(s, sp.S.Reals) - covered
        covered = sp.Union(covered, s)
        for part in (s.args if isinstance(s, sp.Union) else (s,)):
            if part is sp.S.EmptySet:
                continue
            if isinstance(part, sp.FiniteSet):
                for pt in part:
                    pieces.append(Piece(e, pt, pt, True, True))
                continue
            if not isinstance(part, sp.Interval):
                return None
            pieces.append(Piece(stabilize(e), part.start, part.end, not part.left_open, not part.right_open))
    if covered != sp.S.Reals:
        return None
    pieces.sort(key=lambda q: (as_float(q.lo), as_float(q.hi)))
    return pieces


def positive_where(u: sp.Expr, piece: Piece) -> bool | None:
    """Whether u > 0 on the piece's open interval, by sympy's assumptions (erfc, exp known positive)."""
    u = u.replace(lambda e: isinstance(e, sp.erfc), lambda e: sp.Dummy(positive=True))
    if piece.lo.is_finite:
        u = u.subs(z, piece.lo + _p)
    elif piece.hi.is_finite:
        u = u.subs(z, piece.hi - _p)
    return u.is_positive


def domain_conditions(f: sp.Expr) -> list[tuple[sp.Expr, str]]:
    """Sub-expressions that must be > 0 (``"pos"``) or ≠ 0 (``"nonzero"``) for f to be analytic there."""
    out = []
    for node in sp.preorder_traversal(f):
        if isinstance(node, sp.log):
            out.append((node.args[0], "pos"))
        elif isinstance(node, sp.Pow):
            b, e = node.args
            if b.has(z):
                if e.is_integer and e.is_negative:
                    out.append((b, "nonzero"))
                elif not e.is_integer:
                    out.append((b, "pos"))
    return out


SMOOTH_FUNCS = (sp.exp, sp.log, sp.erf, sp.erfc, sp.tanh, sp.Pow, sp.Add, sp.Mul)


def smooth_on_piece(piece: Piece, k: int) -> tuple[bool | None, Any]:
    """Whether ℓ^{(k)} of this piece is continuous on the piece's open interval; (False, z) with a witness."""
    f = stabilize(sp.diff(piece.expr, z, k) if k else piece.expr)
    if not f.has(z):
        return True, "constant"
    structural = all(isinstance(n, SMOOTH_FUNCS) or n.is_Atom for n in sp.preorder_traversal(f))
    if structural:
        conds = domain_conditions(f)
        ok = []
        for u, kind in conds:
            ok.append(positive_where(u if kind == "pos" else u**2, piece))
        if all(o is True for o in ok):
            return True, "analytic (every log/power argument > 0 by sympy's assumptions)"
    from sympy.calculus.util import continuous_domain

    dom = continuous_domain(f, z, piece.open)
    missing = piece.open - dom
    if missing is sp.S.EmptySet:
        return True, "continuous_domain covers the piece"
    return False, point_in(missing)


def sign_on_piece(piece: Piece, f: sp.Expr, bad: str) -> tuple[bool | None, Any]:
    """Whether f ≥ 0 (bad = "neg") or f ≤ 0 (bad = "pos") on the piece's open interval; witness if not."""
    if piece.lo == piece.hi:
        return True, "point"
    g = stabilize(f if bad == "neg" else -f)
    joined = sp.together(g)    # one fraction: 10⁶e^{1000z}/(e^{1000z} + 1)² is ≥ 0 by assumptions, while factor()
    simple = sp.factor(joined)  # splits e^{1000z} + 1 into cyclotomic factors whose signs sympy cannot see
    for cand in (g, joined, simple):
        c = cand.replace(lambda e: isinstance(e, sp.erfc), lambda e: sp.Dummy(positive=True))
        if piece.lo.is_finite:
            c = c.subs(z, piece.lo + _p)
        elif piece.hi.is_finite:
            c = c.subs(z, piece.hi - _p)
        if c.is_nonnegative:
            return True, "sympy assumptions"
    if any(not isinstance(fn, sp.exp) for fn in simple.atoms(sp.Function)):
        return None, None  # solveset rarely decides inequalities with log/erf/tanh, and is slow trying
    viol = sp.solveset(simple < 0, z, piece.open)
    if viol is sp.S.EmptySet:
        return True, "solveset: no violation"
    if isinstance(viol, sp.ConditionSet):
        return None, None
    return False, point_in(viol)


def point_in(s: sp.Set) -> float | None:
    """A finite point inside a set (interval midpoint, or 1 inside a half-line), None if unknown."""
    if isinstance(s, sp.Union):
        for a in s.args:
            p = point_in(a)
            if p is not None:
                return p
        return None
    if isinstance(s, sp.FiniteSet):
        for a in s:
            try:
                return float(a)
            except TypeError:
                continue
        return None
    if isinstance(s, sp.Interval):
        lo, hi = s.start, s.end
        if lo.is_finite and hi.is_finite:
            return float((lo + hi) / 2)
        if lo.is_finite:
            return float(lo) + 1.0
        if hi.is_finite:
            return float(hi) - 1.0
        return 0.0
    return None


def one_sided_limit(f: sp.Expr, b, direction: str) -> sp.Expr | None:
    """The one-sided limit of a piece at a breakpoint: its value there when that is a finite real
    number and the piece is analytic at b (every log/power argument > 0 there), else sympy's limit."""
    v = f.subs(z, b)
    if v.is_number and v.is_finite and v.is_real:
        ok = all((u.subs(z, b).is_positive if kind == "pos" else u.subs(z, b).is_nonzero)
                 for u, kind in domain_conditions(f))
        if ok and all(isinstance(n, SMOOTH_FUNCS) or n.is_Atom for n in sp.preorder_traversal(f)):
            return v
    return limit_at(f, b, direction)


def limit_at(f: sp.Expr, point, direction: str = "+") -> sp.Expr | None:
    """limit(f, z, point) when it is a number or ±oo, else None."""
    v = sp.limit(f, z, point, direction)
    if v in (sp.oo, -sp.oo) or (v.is_number and v.is_finite and v.is_real):
        return v
    return None

