"""A user formula at the exact binary values of its parameters, to 40 correct digits.

The compiler's mpmath back end (:func:`eoscheck.compiler.mp_value`) raises the precision until no sum loses
digits (a cancelling sum or an absorbed term, as in log(1 + e^{−250})), keeping ≥ 64 bits; a value it cannot
settle within its digit cap is ``None``.  mpmath's exponent is unbounded, so a value beyond float64
(e^{800}) is finite here.  (sympy's 40-digit evalf returned exactly 0 for log(1 + e^{−x}) at x ≳ 100, which
once convicted a true bound.)
"""

from __future__ import annotations

import math

import numpy as np
import sympy as sp

from eoscheck._errors import EoscheckError
from eoscheck.expr import evaluate, time_limit

from .numerics import lost_to_float64, rel_allowance

DIGITS = 40
#: time limit (seconds) of one 40-digit evaluation (sympy's evalf is unbounded for e.g. exp(exp(exp(T))))
HP_SECONDS = 10.0


def high_precision(expr: sp.Expr, values: dict[str, float]) -> sp.Float | None:
    """``expr`` at the exact binary ``values``, to ≥ 40 correct digits (see the module docstring), or ``None``
    where it is undefined, not real, not finite or not settled; :class:`EoscheckError` (exit 2) when the
    evaluation takes over HP_SECONDS (a guard: every mpmath evaluation is bounded by digits)."""
    import mpmath

    from eoscheck.compiler import compile_expr, mp_value

    names = sorted(x.name for x in expr.free_symbols)
    if any(n not in values for n in names):
        return None
    try:
        prog = compile_expr(expr, names)
    except EoscheckError:
        return None
    args = [mpmath.mpf(float(values[n])) for n in names]
    with time_limit(HP_SECONDS, f"the {DIGITS}-digit check of {sp.sstr(expr)[:80]}"):
        try:
            with mpmath.workdps(DIGITS + 10):
                val, reliable = mp_value(lambda fl: prog.mpmath(*args, flags=fl), dps0=DIGITS + 10)
        except EoscheckError:
            raise
        except (TypeError, ValueError, ZeroDivisionError, OverflowError):
            return None
    if not reliable or not isinstance(val, mpmath.mpf) or not mpmath.isfinite(val):
        return None
    return sp.Float(mpmath.nstr(val, DIGITS + 5, min_fixed=1, max_fixed=0), DIGITS)


def log_values(expr: sp.Expr, P: dict[str, np.ndarray]) -> np.ndarray:
    """ln ``expr`` at every point of ``P`` (name → array): in float64 where the compiler's log reaches inside it
    (ln e^{−ηt/10} = −ηt/10), else from :func:`high_precision` once per distinct point (e^{−ηt}/(ηt)³, whose float64
    value underflows); −∞ where ``expr`` ≤ 0, NaN where it has no value."""
    names = sorted(x.name for x in expr.free_symbols)
    size = np.size(next(iter(P.values())))
    try:
        with np.errstate(all="ignore"):
            out = np.broadcast_to(np.asarray(evaluate(sp.log(expr), {n: np.asarray(P[n], float) for n in names}),
                                             float), (size,)).copy()
    except EoscheckError:                     # log(0) = zoo, log(−1) = iπ: at 40 digits below
        out = np.full(size, np.nan)
    seen: dict[tuple, float] = {}
    for i in np.flatnonzero(~np.isfinite(out)):
        key = tuple(float(np.asarray(P[n])[i]) for n in names)
        if key not in seen:
            v = high_precision(expr, dict(zip(names, key)))
            seen[key] = math.nan if v is None else float(sp.log(v)) if v > 0 else -math.inf
        out[i] = seen[key]
    return out


def log_comparison(expr: sp.Expr, meas: np.ndarray, P: dict[str, np.ndarray], direction: str) -> dict | None:
    """The points whose measured value float64 lost but its log record kept (``P["_logm"]``: a loss 0 past margins ~745,
    F = e^{1138} read inf), compared as ln m against ln EXPR (:func:`log_values`) at the favorable end of γ*'s interval
    [gamma, _ghi] (the larger for ``<=``), as the witness check does (:attr:`.claims.Evaluation.log_domain`); in float64,
    inf ≤ inf held for e^{1138} ≤ e^{1000}, 0 ≤ 0 for a positive loss ≤ 0, 0 ≥ 3e-308 − 2·2⁻¹⁰²² for e^{−1250} ≥ 3e-308."""
    logm = P.get("_logm")
    lost = lost_to_float64(meas, logm) if logm is not None and np.size(meas) else np.zeros(0, bool)
    if not lost.any():
        return None
    idx = np.flatnonzero(lost)
    Q = {k: np.asarray(v)[idx] for k, v in P.items()}
    uses = "gamma" in {x.name for x in expr.free_symbols} and "_ghi" in Q
    logs = np.array([log_values(expr, E) for E in [Q] + ([dict(Q, gamma=Q["_ghi"])] if uses else [])])
    lb = np.full(np.shape(meas), np.nan)
    lb[idx] = logs.max(axis=0) if direction == "<=" else logs.min(axis=0)   # NaN at either end: float64 decides
    return {"m": np.where(np.isnan(lb), np.nan, logm), "b": lb, "r": rel_allowance(P["_w"])}
