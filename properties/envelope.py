"""The tightest constants of a conjecture: EXPR as an envelope of the calibration points.

Linear in the constants, EXPR ≥ measured at every point (≤ for lower bounds) is a linear program whose
objective is the mean EXPR/|measured| (one constant: read off the interval the points leave); otherwise SLSQP
on the same problem in log form (:func:`fit_constants`).  Used by :mod:`.decide` (properties/README.md,
"Fitted statements").
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from eoscheck._errors import EoscheckError
from eoscheck.expr import evaluate

from .conjecture import EVAL_SECONDS, Conjecture, param_values, values_at


#: ln of the largest double: what a +inf EXPR counts as in the log-form fit.
LN_MAX = math.log(np.finfo(np.float64).max)
#: SLSQP meets its constraints to about its ftol (1e-6): the optimum of exp(−C·η·T) over a calibration set was
#: returned with a gap of −5e-6 and rejected under −1e-9, leaving only a vacuous start.  A fit accepted here may
#: thus fall short of a calibration point's measurement by 1e-5 in ln (a factor 1 + 1e-5), far inside the factor 2
#: (FIT_MARGIN) by which the search loosens fitted constants, so no calibration point can convict through it.
SLSQP_FEASIBILITY = 1e-5


def fit_constants(conj: Conjecture, meas: np.ndarray, P: dict[str, np.ndarray],
                  relaxed: bool = False) -> dict[str, float]:
    """The constants making EXPR the tightest bound that holds at every calibration point.

    Linear in the constants: a linear program (minimise the mean EXPR/|measured| subject to
    EXPR ≥ measured at every point, ≤ for lower bounds).  Otherwise: SLSQP on the same problem
    in log form.  Raises EoscheckError when no constants make it hold.  ``relaxed``: the
    least-violating constants instead (minimise the largest shortfall relative to |measured|),
    for which the witness search then runs with margin 0.
    """
    names = conj.constants
    if not names:
        return {}
    from scipy.optimize import linprog, minimize

    ok = np.isfinite(meas)
    meas = meas[ok]
    P = {k: v[ok] for k, v in P.items()}
    csyms = [sp.Symbol(c, real=True) for c in names]
    sign = 1.0 if conj.direction == "<=" else -1.0
    # relative weights 1/|measured|, floored so that zero measurements do not dominate the objective
    top = float(np.max(np.abs(meas))) if meas.size else 1.0
    scale = np.maximum(np.abs(meas), 1e-6 * top + 1e-300)
    linear = all(sp.diff(conj.rhs, a, b) == 0 for a in csyms for b in csyms)
    if linear:
        f0 = values_at(conj.rhs.subs({c: 0 for c in csyms}), P)
        G = np.stack([values_at(sp.diff(conj.rhs, c), P) for c in csyms], axis=1)
        good = np.isfinite(f0) & np.isfinite(G).all(axis=1)
        f0, G, m, sc = f0[good], G[good], meas[good], scale[good]
        if len(names) == 1 and not relaxed:
            one = _one_constant(sign, f0, G[:, 0], m, sc)
            if one is not None:
                return {names[0]: one}
        # sign·(f0 + G c) ≥ sign·m  ⇔  −sign·G c ≤ sign·(f0 − m).  Each constant is scaled by its column's
        # largest |G| (and each row by its largest entry): HiGHS drops entries below 1e-9, so C·1e-12 read as
        # "no constant makes it hold" with C = 6.9e11 holding exactly
        colscale = np.max(np.abs(G), axis=0) if len(G) else np.ones(len(names))
        colscale = np.where((colscale > 0) & np.isfinite(colscale), colscale, 1.0)
        G = G / colscale
        A = -sign * G
        b = sign * (f0 - m)
        rows = np.maximum(np.max(np.abs(A), axis=1, initial=0.0), np.abs(b))
        rows = np.where((rows > 0) & np.isfinite(rows), rows, 1.0)
        A, b = A / rows[:, None], b / rows
        obj = sign * (G / sc[:, None]).mean(axis=0)
        obj = obj / max(float(np.max(np.abs(obj))), 1e-300)
        if relaxed:  # variables (c, s): minimise s subject to sign·(f0 + G c) ≥ sign·m − s·|m|
            k = len(names)
            A2 = np.hstack([A, -(sc / rows)[:, None]])
            res = linprog(np.r_[np.zeros(k), 1.0], A_ub=A2, b_ub=b, bounds=[(None, None)] * k + [(0, None)],
                          method="highs")
            if not res.success:
                res = linprog(np.r_[np.zeros(k), 1.0], A_ub=A2, b_ub=b, bounds=[(0, None)] * k + [(0, None)],
                              method="highs")
            if not res.success:
                return {c: 1.0 for c in names}
            return {c: float(v / s) for c, v, s in zip(names, res.x[:k], colscale)}
        res = linprog(obj, A_ub=A, b_ub=b, bounds=[(None, None)] * len(names), method="highs")
        if res.status == 3:  # unbounded: fall back to non-negative constants
            res = linprog(obj, A_ub=A, b_ub=b, bounds=[(0, None)] * len(names), method="highs")
        if not res.success:
            raise EoscheckError("no values of the constants make the bound hold on the calibration set")
        return {c: float(v / s) for c, v, s in zip(names, res.x, colscale)}
    args = {k: np.asarray(v, float) for k, v in param_values(conj.rhs, P).items()}

    def rhs(x):
        with np.errstate(all="ignore"):
            vals = dict(args, **{c: float(v) for c, v in zip(names, x)})
            return np.broadcast_to(np.asarray(evaluate(conj.rhs, vals, seconds=EVAL_SECONDS), float),
                                   np.shape(P["eta"]))

    pos = meas > 0
    if not pos.all():
        raise EoscheckError("a formula non-linear in its constants needs positive measured values to be fitted")
    logm = np.log(meas)

    def gap(x):  # sign·(ln EXPR − ln measured) ≥ 0 at every point (well scaled for SLSQP)
        r = rhs(x)
        with np.errstate(all="ignore"):
            # EXPR beyond float64 (+inf) counts as ln of the largest double: finite, so SLSQP can move, and dear in
            # the objective (a constant that sent EXPR to +inf everywhere, C = −1 in exp(−C·η·T), was "feasible"
            # with a flat objective and kept); NaN (undefined) as a violation
            lr = np.where(r > 0, np.log(np.where((r > 0) & np.isfinite(r), r, 1.0)), -1e6)
            lr = np.where(r == np.inf, LN_MAX, lr)
        return sign * (lr - logm)

    def objective(x):
        g = gap(x)
        return float(np.mean(g)) if np.all(np.isfinite(g)) else 1e30

    def acceptable(x) -> bool:
        """Feasible to SLSQP's constraint tolerance, and EXPR finite at some calibration point (one that is +inf
        at every point bounds nothing there: not a fit)."""
        return bool(np.all(gap(x) >= -SLSQP_FEASIBILITY) and np.any(np.isfinite(rhs(x))))

    best = None
    # starts over many scales: where EXPR under- or overflows at every point (exp(−C·η·T) at C = 1 or −1 with
    # ηT up to 2e6) the gaps are flat and SLSQP stays put; the tight C ≈ 7e-4 there was reached from none of 1, 0.1,
    # 10, −1
    # (each in units of its start, u = x/x0 from u = 1: the gradients in C were ~1e6 against the objective's O(1),
    # and SLSQP stopped short of the boundary, "positive directional derivative")
    for x0 in [np.full(len(names), v) for v in (1.0, 0.1, 10.0, -1.0, 1e-2, 1e-3, 1e-4, 1e-6, 100.0, -0.1)]:
        res = minimize(lambda u, x0=x0: objective(u * x0), np.ones(len(names)),
                       constraints=[{"type": "ineq", "fun": lambda u, x0=x0: gap(u * x0)}], method="SLSQP",
                       options={"maxiter": 1000})
        res.x = res.x * x0
        if acceptable(res.x) and (best is None or res.fun < best.fun):
            best = res
    if best is None and relaxed:
        res = minimize(lambda x: -float(np.min(gap(x))) if np.any(np.isfinite(rhs(x))) else 1e30, np.ones(len(names)),
                       method="Nelder-Mead")
        return {c: float(v) for c, v in zip(names, res.x)}
    if best is None:
        raise EoscheckError("could not fit the constants (no feasible values found on the calibration set)")
    return {c: float(v) for c, v in zip(names, best.x)}


def _one_constant(sign: float, f0, g, m, sc) -> float | None:
    """The tightest single constant c with sign·(f0 + g c) ≥ sign·m at every point, read off the interval the
    points leave (no linear program: HiGHS's tolerances called C ≥ m·(ηt)² over g from 1e-12 to 1 "infeasible",
    and that convicted); None where the objective is unbounded (the linear program's fallback decides)."""
    a, r = sign * g, sign * (m - f0)
    if np.any((a == 0) & (r > 0)):
        raise EoscheckError("no values of the constants make the bound hold on the calibration set")
    with np.errstate(divide="ignore", invalid="ignore"):
        lo = float(np.max(r[a > 0] / a[a > 0], initial=-np.inf))
        hi = float(np.min(r[a < 0] / a[a < 0], initial=np.inf))
    if lo > hi:
        raise EoscheckError("no values of the constants make the bound hold on the calibration set")
    o = float(np.mean(sign * g / sc)) if len(g) else 0.0    # the linear program's objective: mean EXPR/|measured|
    c = lo if o > 0 else hi if o < 0 else (lo if math.isfinite(lo) else hi)
    return c if math.isfinite(c) else None
