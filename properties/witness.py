"""Witnesses of a conjecture's violation: found in float64, confirmed with EXPR at 40 digits, shrunk.

A witness is one :class:`Instance` (inside the stated ranges) and one point of it where

* exact statements (no free constants): measured > EXPR + allowance (``<=``; measured < EXPR −
  allowance for ``>=``),
* fitted statements: measured > EXPR(C_fit)·(1 + margin) + allowance (< EXPR(C_fit)/(1 + margin) −
  allowance for ``>=``),

with EXPR at the end of the certified interval γ* ∈ [gamma, gamma_hi] favorable to the statement,
every ``--where`` condition holding at both ends, and ``allowance`` the measured quantity's
floating-point allowance (:func:`numerics.measurement_allowance`).  EXPR and the conditions are
evaluated from the exact binary values of the parameters by the compiler's mpmath back end
(:func:`eoscheck.compiler.mp_value`): the precision is raised until no sum loses digits (a cancelling
sum or an absorbed term, as in log(1 + e^{−250})), keeping ≥ 64 bits; a value it cannot settle within
its digit cap does not convict.  (sympy's 40-digit evalf returned exactly 0 for log(1 + e^{−x}) at
x ≳ 100, which once convicted a true bound.)  The comparison is done at 40 digits.  Scanning
(:meth:`Conjecture.evaluate`) uses float64 with FP_ULPS ulps of EXPR added to the allowance; only a
confirmed point convicts.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import sympy as sp

from .claims import limit
from .conjecture import PARAMS, T_QUANTITIES, Conjecture
from .instances import Instance
from .numerics import lost_to_float64, measurement_allowance, rel_allowance
from .precision import DIGITS, high_precision

#: How many of an instance's worst float64 violations are re-checked at 40 digits.
CANDIDATES = 8


def _holds_hp(conj: Conjecture, values: dict[str, float]) -> bool:
    """Every ``--where`` condition at 40 digits (at this γ)."""
    for lhs, op, rhs in conj.where:
        a, b = high_precision(lhs, values), high_precision(rhs, values)
        if a is None or b is None:
            return False
        if not {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b}[op]:
            return False
    return True


def confirm_point(conj: Conjecture, params: dict[str, float], measured: float, allow: float,
                  margin: float) -> dict[str, Any] | None:
    """The 40-digit check of one point; the witness record, or ``None`` when it does not convict."""
    expr = conj.with_constants()
    ends = [float(params["gamma"])]
    if "gamma" in {s.name for s in expr.free_symbols} | {s.name for c in conj.where for s in
                                                          (c[0].free_symbols | c[2].free_symbols)}:
        ends.append(float(params["_ghi"]))
    vals = []
    for g in ends:
        base = {p: float(params[p]) for p in PARAMS if p != "gamma" and math.isfinite(float(params[p]))}
        base["gamma"] = g
        if not _holds_hp(conj, base):
            return None  # outside the stated domain for some γ in the certified interval
        b = high_precision(expr, base)
        if b is None:
            # EXPR has no 40-digit value here (beyond the evaluator's caps: exp(−e^{100}); undefined): a float64
            # violation that can neither convict nor be dismissed, which the verdict says (UNDECIDED)
            conj.unconfirmed.append({k: float(v) for k, v in base.items()})
            return None
        vals.append(b)
    logm = float(params.get("_logm", math.nan))
    log_domain = bool(lost_to_float64(measured, logm))
    if log_domain:
        # the float64 value underflowed (0, or subnormal: its relative precision lost) or overflowed (+inf), its log
        # did not: the value e^{ln m} at 40 digits, with the relative allowance of a loss-derived value
        m = sp.exp(sp.Float(logm, DIGITS))
        a = m * sp.Float(float(rel_allowance(float(params["_w"]))), DIGITS)
    elif math.isnan(measured) or not math.isfinite(allow):
        return None  # a numerical failure is not a witness
    else:
        # ±inf is an overflow of a float64 record without a log (a mean of losses): beyond ±1.8e308, compared as such
        m = sp.oo if measured == math.inf else (-sp.oo if measured == -math.inf else sp.Float(float(measured), DIGITS))
        a = sp.Float(float(allow), DIGITS)
    B = max(vals) if conj.direction == "<=" else min(vals)
    lim = limit(B, a, conj.direction, 1.0, sp.Float(margin, DIGITS))
    if conj.direction == "<=":
        bad = bool(m >= lim) if conj.strict else bool(m > lim)
    else:
        bad = bool(m <= lim) if conj.strict else bool(m < lim)
    if not bad:
        return None
    # the values compared, where float64 could not hold them (shown in the verdict instead of 0 or inf)
    logged = {"measured_40": str(m), "limit_40": str(lim), "allowance_40": str(a)} if log_domain else {}
    return {"measured": float(measured), **logged, "bound_40": str(B), "bound": float(B), "limit": float(lim),
            "allowance": float(allow), "margin": float(margin),
            "gamma_interval": [float(params["gamma"]), float(params.get("_ghi", params["gamma"]))]}


def confirm(conj: Conjecture, inst: Instance, margin: float, ev=None) -> dict[str, Any] | None:
    """A confirmed violating point of ``inst`` (the worst of its float64 candidates), or ``None``.

    ``ev``: the instance's evaluation when already computed."""
    ev = conj.evaluate(inst) if ev is None else ev
    if not ev.size:
        return None
    bad = np.flatnonzero(ev.violations(1.0, margin))
    if not bad.size:
        return None
    sc = ev.scores(1.0)[bad]
    sc = np.where(np.isnan(sc), np.inf, sc)
    for i in bad[np.argsort(-sc)][:CANDIDATES]:
        params = {k: float(v[i]) for k, v in ev.params.items()}
        allow = measurement_allowance(conj.quantity, ev.measured[i:i + 1], {k: v[i:i + 1] for k, v in ev.params.items()})
        rec = confirm_point(conj, params, float(ev.measured[i]), float(allow[0]), margin)
        if rec is not None:
            rec.update({k: v for k, v in ev.point(int(i)).items() if k not in rec})
            rec["float64_bound"] = float(ev.bound[i])
            return rec
    return None


def shrink(conj: Conjecture, inst: Instance, margin: float, ev=None) -> tuple[Instance, dict[str, Any]] | None:
    """A smaller confirmed witness: the violating stepsize alone, then the horizon cut to the violating step.

    Each step is kept only if the smaller instance still carries a confirmed violation.
    """
    pt = confirm(conj, inst, margin, ev)
    if pt is None:
        return None
    best = (inst, pt)
    Ts = list(inst.extra.get("T", [inst.steps] * len(inst.etas)))
    if len(inst.etas) > 1:
        k = int(np.argmin([abs(e - pt["eta"]) for e in inst.etas]))
        cand = conj.instance(inst.data, [inst.etas[k]], [Ts[k]])
        p2 = confirm(conj, cand, margin)
        if p2 is not None:
            best = (cand, p2)
    inst2, pt2 = best
    if conj.quantity in T_QUANTITIES and conj.arg == "t" and "t" in pt2:
        T_new = max(int(pt2["t"]), int(math.ceil(conj.ranges["T"].lo)))
        if T_new < inst2.steps:
            cand = conj.instance(inst2.data, list(inst2.etas), [T_new] * len(inst2.etas))
            p3 = confirm(conj, cand, margin)
            if p3 is not None:
                best = (cand, p3)
    return best
