"""The symbolic facts about ℓ (pieces, smoothness, signs, limits), asked in batches of children."""

from __future__ import annotations

from dataclasses import dataclass
from functools import partial
from typing import Any, Callable, Iterable

import mpmath
import numpy as np
import sympy as sp

from .._errors import EoscheckError
from ..compiler import mp_number
from ..expr import real_number, time_limit
from ..losses import Loss, z
from . import simplify as S
from .evaluate import Evaluator
from .format import differ, sym_float
from .search import Searcher
from .simplify import Piece, as_float, one_sided_limit, sign_on_piece, smooth_on_piece
from .symbolic import SymbolicJob, SymbolicPool


#: seconds for the sympy work done in this process (derivatives, tail expressions); the questions
#: sympy may hang on run in children under their own time limit
PREPARE_SECONDS = 20.0


def _readings(end) -> list[float] | None:
    """A piece's end as a float by plain arithmetic and in high precision (±inf for ±oo); None where the high-precision
    reading has no float value."""
    if end in (sp.oo, -sp.oo):
        return [as_float(end)]
    hp = sym_float(end)
    return None if hp is None else [as_float(end), hp]


def step_shows_beside(b, left: Piece, right: Piece, k: int, lval, rval) -> bool:
    """Whether a step sympy found at breakpoint b, its one-sided limits ``lval`` ≠ ``rval`` of ℓ^{(k)}, shows in high
    precision beside b: each side's own formula at b ∓ 10⁻⁴⁰·max(1, |b|) differs by the same step to 10⁻³ (a smooth
    ℓ^{(k)} moves by ~10⁻⁴⁰ there).  sympy's limit alone is no witness: at b = 10²⁰√2 − 141421356237309504880 it read
    a C¹ cusp's left limit as −1/2 + …, and A.C1 failed "at z = 0.1689" (a reviewer's run).  Asked once of every
    breakpoint answer (:meth:`Facts.collect_basic`), for every check that reads them."""
    bv, step = mp_number(b, dps0=80), mp_number(sp.sympify(rval) - sp.sympify(lval), dps0=80)
    if bv is None or step is None or step == 0:
        return False
    with mpmath.workdps(80):
        eps = mpmath.mpf(10) ** -40 * max(1, abs(bv))
        lo, hi = bv - eps, bv + eps
    lv = mp_number(sp.diff(left.expr, z, k), {"z": lo}, dps0=80)
    rv = mp_number(sp.diff(right.expr, z, k), {"z": hi}, dps0=80)
    return lv is not None and rv is not None and abs((rv - lv) - step) <= abs(step) / 1000


class Facts:
    """The symbolic facts about ℓ, asked in batches from :class:`SymbolicPool`."""

    def __init__(self, sym: SymbolicPool, pieces, pw, d1, d2, ev: Evaluator):
        self.sym = sym
        self.pieces: list[Piece] | None = pieces
        self.pw, self.d1, self.d2 = pw, d1, d2
        self.ev = ev
        self.answers: dict[str, Any] = {}
        self._limits: dict[tuple[str, str], Any] = {}
        self._jobs: list[tuple[SymbolicJob, list[tuple[str, str]]]] = []

    @property
    def lo_piece(self) -> sp.Expr:
        return self.pieces[0].expr if self.pieces else self.pw

    @property
    def hi_piece(self) -> sp.Expr:
        return self.pieces[-1].expr if self.pieces else self.pw

    def breakpoints(self) -> list[tuple[float, Piece, Piece, Piece]]:
        """(b, left piece, piece containing b, right piece) at each finite breakpoint."""
        out = []
        if not self.pieces:
            return out
        pts = sorted({p.lo for p in self.pieces if p.lo.is_finite} | {p.hi for p in self.pieces if p.hi.is_finite},
                     key=as_float)
        for b in pts:
            bf = as_float(b)
            left = next(p for p in self.pieces if as_float(p.lo) < bf <= as_float(p.hi))
            right = next(p for p in self.pieces if as_float(p.lo) <= bf < as_float(p.hi))
            own = next(p for p in self.pieces if p.contains(bf))
            out.append((b, left, own, right))
        return out

    def smooth_at(self, x: float, order: int, radius: float) -> bool:
        """Whether sympy established ℓ, …, ℓ^{(order)} continuous on [x − radius, x + radius]: inside one piece
        whose ``smooth{i}.k`` answers are True for every k ≤ order, its ends more than ``radius`` away (a float next
        to a breakpoint stands for it: float(√2 − 1) lies 2e-17 inside the piece left of the kink at √2 − 1)."""
        for i, pc in enumerate(self.pieces or []):
            if pc.lo == pc.hi:
                continue
            if as_float(pc.lo) < x < as_float(pc.hi):
                # each end read two ways, plain float arithmetic (as_float: 10²⁰√2 − 141421356237309504880 read 0.0
                # for 0.1689, a reviewer's) and in high precision (sym_float), and x far from both
                los, his = _readings(pc.lo), _readings(pc.hi)
                return (los is not None and his is not None and all(lo < x - radius for lo in los)
                        and all(x + radius < hi for hi in his)
                        and all((self.answers.get(f"smooth{i}.{k}") or (None,))[0] is True for k in range(order + 1)))
        return False

    def ask_basic(self) -> None:
        """Smoothness, sign facts per piece, one-sided limits at breakpoints, and the basic limits at ±∞."""
        q: dict[str, Callable[[], Any]] = {}
        for i, pc in enumerate(self.pieces or []):
            if pc.lo == pc.hi:
                continue
            for k in range(3):
                q[f"smooth{i}.{k}"] = (lambda pc=pc, k=k: smooth_on_piece(pc, k))
            q[f"convex{i}"] = lambda pc=pc: sign_on_piece(pc, sp.diff(pc.expr, z, 2), "neg")
        for j, (b, left, own, right) in enumerate(self.breakpoints()):
            for k in range(3):
                q[f"bp{j}.{k}"] = (lambda b=b, L=left, O=own, Rt=right, k=k: (
                    one_sided_limit(sp.diff(L.expr, z, k), b, "-"),
                    sp.diff(O.expr, z, k).subs(z, b) if k == 0 else None,
                    one_sided_limit(sp.diff(Rt.expr, z, k), b, "+")))
        hi, lo = self.hi_piece, self.lo_piece
        q["lim.value+"] = partial(S.limit_at, hi, sp.oo)      # the function itself is sent, not its name
        q["lim.d1+"] = partial(S.limit_at, sp.diff(hi, z), sp.oo)
        q["lim.d1-"] = partial(S.limit_at, sp.diff(lo, z), -sp.oo)
        self._basic = self.sym.submit(q)

    def collect_basic(self) -> None:
        """Wait for the questions of :meth:`ask_basic`; a breakpoint's one-sided limits whose step does not show
        beside it in high precision (:func:`step_shows_beside`) are dropped, left to the numeric checks."""
        self.answers.update(self._basic.result())
        for j, (b, left, _own, right) in enumerate(self.breakpoints()):
            for k in range(3):
                ans = self.answers.get(f"bp{j}.{k}")
                if ans and differ(ans[0], ans[2]) and not step_shows_beside(b, left, right, k, ans[0], ans[2]):
                    self.answers[f"bp{j}.{k}"] = None
        for side in "+-":
            self._limits[("d1", side)] = self.answers.get(f"lim.d1{side}")
        self._limits[("value", "+")] = self.answers.get("lim.value+")

    def ask_signs(self, key: str) -> None:
        """Ask the per-piece sign facts ``nonincr`` (ℓ′ ≤ 0) or ``nonneg`` (ℓ ≥ 0) in one batch."""
        q = {}
        for i, pc in enumerate(self.pieces or []):
            if pc.lo == pc.hi or f"{key}{i}" in self.answers:
                continue
            f = sp.diff(pc.expr, z) if key == "nonincr" else pc.expr
            q[f"{key}{i}"] = (lambda pc=pc, f=f: sign_on_piece(pc, f, "pos" if key == "nonincr" else "neg"))
        self.answers.update(self.sym.ask(q))

    def no_answer(self, what: str = "sympy found no limit") -> str:
        """Why a question has no symbolic answer: ``what``, or that sympy was not asked (``--no-symbolic``)."""
        return what if self.sym.enabled else "sympy not asked (--no-symbolic)"

    def close(self) -> None:
        """Stop every sympy child still running."""
        basic = getattr(self, "_basic", None)
        if basic is not None and not basic.done:
            basic.cancel()
        for job, _ in self._jobs:
            job.cancel()
        self._jobs = []

    def prefetch(self, items: Iterable[tuple[str, str]]) -> None:
        """Start asking limits in the background (numeric work can run meanwhile)."""
        q, keys = {}, []
        for key, side in items:
            if (key, side) in self._limits or any((key, side) in ks for _, ks in self._jobs):
                continue
            if not self.sym.enabled:              # --no-symbolic: nothing to prepare, no limit to ask
                self._limits[(key, side)] = None
                continue
            try:
                with time_limit(PREPARE_SECONDS, f"preparing the limit of {key} at {side}∞ (sympy)"):
                    expr = limit_expr(key, self.hi_piece if side == "+" else self.lo_piece, self.ev, side)
            except EoscheckError:                 # sympy too slow on a valid loss: no limit, the numeric search decides
                expr = None
            if expr is None:
                self._limits[(key, side)] = None
                continue
            point = sp.oo if side == "+" else -sp.oo
            q[f"lim.{key}{side}"] = partial(S.limit_at, expr, point)
            keys.append((key, side))
        if q:
            self._jobs.append((self.sym.submit(q, workers=1), keys))

    def drop_unneeded(self, needed: Iterable[tuple[str, str]]) -> None:
        """Cancel background jobs none of whose limits are needed."""
        needed = set(needed)
        for job, keys in list(self._jobs):
            if not needed & set(keys):
                job.cancel()
                self._jobs.remove((job, keys))

    def limit(self, key: str, side: str):
        """lim_{z→±∞} of a named quantity (asked now unless prefetched), None when sympy cannot say."""
        if (key, side) not in self._limits:
            if not any((key, side) in ks for _, ks in self._jobs):
                self.prefetch([(key, side)])
            for job, keys in list(self._jobs):
                if (key, side) in keys:
                    ans = job.result()
                    self._jobs.remove((job, keys))
                    for k, sd in keys:
                        self._limits[(k, sd)] = unsigned_limit(k, ans.get(f"lim.{k}{sd}"))
        return self._limits.get((key, side))


def unsigned_limit(key: str, a):
    """Limits of |·| quantities: a negative limit means the sign guess was wrong; take |a|."""
    if a is None or key not in ("g", "g/l", "l/g", "quad0"):
        return a
    if a == -sp.oo:
        return sp.oo
    v = real_number(a) if a.is_number else None  # float arithmetic: no evalf of a hostile number
    return -a if v is not None and v < 0 else a


def limit_expr(key: str, piece: sp.Expr, ev: Evaluator, side: str) -> sp.Expr | None:
    """The sympy expression of a named quantity on the tail piece (signs fixed from a far evaluation)."""
    d1 = sp.diff(piece, z)
    d2 = sp.diff(piece, z, 2)
    far = 1e3 if side == "+" else -1e3
    s1 = mpmath.sign(ev.mp(far, 1))
    g = -d1 if s1 < 0 else d1
    if key == "value":
        return piece
    if key == "d1":
        return d1
    if key == "g":
        return g
    if key == "g/l":
        return g / piece
    if key == "l/g":
        return piece / g
    if key == "quad0":
        return d2 / (2 * g)
    if key == "zg/l":
        return z * g / piece
    if key.startswith("quad(") and key.endswith(")"):
        h = sp.Integer(int(key[5:-1]))
        return (piece.subs(z, z + h) - piece - d1 * h) / (g * h**2)
    return None


@dataclass
class Context:
    loss: Loss
    R: float
    Z: np.ndarray
    ev: Evaluator
    facts: Facts
    search: Searcher
    notes: list[str]


# --- A ---------------------------------------------------------------------------------
