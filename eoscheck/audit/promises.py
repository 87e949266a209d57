"""Part 3 of the audit: what the theory promises for ℓ — ρ and ψ, which results apply, their bounds
at (η, n, γ, T) with the audited constants, and Table 1's prediction (Wu et al. 2024, §5, §6)."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np
import sympy as sp
import torch

from ..bounds import theorem35, theorem6
from .._errors import reraise_interrupt
from ..compiler import compile_expr
from ..expr import real_number
from ..losses import Loss, z
from .results import AuditReport
from .simplify import audited_forms
from .symbolic import SymbolicPool


#: The results of the paper and the parts of Assumption 3 each needs (§5.1, §6).
RESULTS: tuple[tuple[str, str, str], ...] = (
    (theorem35.EOS_AVERAGE.id, "Theorem 35, EoS phase: (1/t)Σ L(w_k) ≤ 9(ρ(γ²ηt)+(ηC_g)²)/(γ²ηt)", "AB"),
    (theorem35.STABLE_BOUND.id, "Theorem 35, stable phase: L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n} ⇒ monotone, "
                           "L(w_t) ≤ 15ρ(γ²η(t−s))/(γ²η(t−s))", "ABC"),
    (theorem35.TAU_PSI.id, "Theorem 35, phase transition τ = max{ψ⁻¹(C₁(η+n))/η, C₁(η+n)η}/γ²", "ABC"),
    (theorem35.TAU_EXP_TAIL.id, "Theorem 35, phase transition under an exponential tail τ = C₂max{η,n}/γ²", "ABCD"),
    (theorem6.EOS_AVERAGE.id, "Theorem 6 (NTK), EoS phase", "AB"),
    (theorem6.STABLE_BOUND.id, "Theorem 6 (NTK), stable phase", "ABC"),
    (theorem6.TAU_PSI.id, "Theorem 6 (NTK), phase transition via ψ", "ABC"),
    (theorem6.TAU_EXP_TAIL.id, "Theorem 6 (NTK), phase transition under an exponential tail", "ABCD"),
)


def evaluable_loss(loss: Loss) -> Loss:
    """``loss`` with float64 torch evaluators that always work (for ρ and GD on custom formulas).

    Built-ins keep their stable hand-written forms.  A custom formula gets the auditor's tree
    evaluators of ℓ, ℓ′, ℓ″ and a stable ln ℓ (log1p / log Φ rewrites), wrapped for CPU tensors.
    """
    if loss.has_stable_forms:
        return loss
    pw, d1, d2 = audited_forms(loss.expr)
    progs = [compile_expr(e, [z], stable_log=True) for e in (pw, d1, d2, sp.log(pw, evaluate=False))]
    fns = [p.numpy for p in progs]

    def wrap(f):
        def t(m: torch.Tensor) -> torch.Tensor:
            arr = np.atleast_1d(m.detach().cpu().numpy().astype(np.float64))
            with np.errstate(all="ignore"):
                out = np.array(np.broadcast_to(np.asarray(f(arr), dtype=np.float64), arr.shape))
            return torch.from_numpy(out.reshape(m.shape)).to(device=m.device, dtype=m.dtype)
        return t

    return loss.with_evaluators(wrap(fns[0]), wrap(fns[1]), wrap(fns[2]), wrap(fns[3]))


def _underflowed_ell0(loss: Loss) -> str | None:
    """ℓ(0) in high precision when float64 read it as 0 but it is not (log(1 + e^{−z−800}): 3.7e-348, which made
    the audit say "ℓ = 0 on [0, ∞), ρ = 0, the bounds are trivial"); None when it is 0 or cannot be settled."""
    import mpmath

    from ..compiler import mp_value
    from ..losses import piecewise_form

    prog = compile_expr(piecewise_form(loss.expr), [z])
    v, reliable = mp_value(lambda fl: prog.mpmath(0, flags=fl))
    if reliable and isinstance(v, mpmath.mpf) and mpmath.isfinite(v) and v != 0:
        return mpmath.nstr(v, 3)
    return None


def promises(report: AuditReport, *, eta=None, n=None, gamma=None, T=None,
             symbolic: bool = True, symbolic_timeout: float = 10.0) -> dict[str, Any]:
    """Part 3: ρ and ψ, which results apply, their bounds at (η, n, γ, T), and the Table 1 prediction.

    Uses :mod:`eoscheck.bounds` (ρ by its safeguarded Newton solver or closed form, the
    asymptotic class by sympy limits on the tail — run in a time-limited child — or a fit,
    and the registered Theorem 35 bounds with the audited constants C_g, C_β, C_e).
    """
    out: dict[str, Any] = {}
    params = {"eta": eta, "n": n, "gamma": gamma, "T": T}
    try:
        _promise(out, report, params, symbolic, symbolic_timeout)
    finally:   # asked for values: say why there are none rather than print nothing
        if any(v is not None for v in params.values()) and "instantiated" not in out:
            rho = out.get("rho", {})
            why = rho.get("why") or rho.get("error") or "ρ could not be computed"
            out["instantiated"] = {"params": params, "why": "no bound is evaluated: " + why}
    return out


def _promise(out: dict[str, Any], report: AuditReport, params: dict[str, Any], symbolic: bool,
             symbolic_timeout: float) -> None:
    held = {x: report.holds(x) for x in "ABCD"}
    out["applies"] = [{"id": rid, "result": what, "needs": "–".join([needs[0], needs[-1]]) if len(needs) > 1
                       else needs, "applies": _applies(held, needs)} for rid, what, needs in RESULTS]
    if not held["A"]:
        out["rho"] = {"defined": False, "why": "ρ(λ) = min_z λℓ(z) + z² needs Assumption 3A"
                      + (" (undetermined)" if held["A"] is None else " (fails)")}
        out["table1"] = {"applies": False if held["A"] is False else None,
                         "why": "Table 1 needs Assumptions 3A–3C" + (" (A undetermined)" if held["A"] is None else "")}
        return
    if report.constants.get("ell0") is None:
        out["rho"] = {"defined": False, "why": "ℓ(0) is not a finite float64 number, so ρ(λ) is not computed"}
        out["table1"] = {"applies": False, "why": "ℓ(0) is not a finite float64 number"}
        return
    tiny = _underflowed_ell0(report.loss) if report.constants["ell0"] == 0 else None
    if tiny is not None:
        out["rho"] = {"defined": False, "why": f"ℓ(0) ≈ {tiny} is positive but below float64's range, so ρ(λ) is not "
                                                "computed (it is not 0: the loss is not degenerate)"}
        out["table1"] = {"applies": False, "why": f"ℓ(0) ≈ {tiny} underflows float64"}
        return
    if report.constants["ell0"] == 0:
        out["rho"] = {"defined": True, "degenerate": True,
                      "why": "ℓ(0) = 0, so ℓ = 0 on [0, ∞) (ℓ ≥ 0, non-increasing): ρ(λ) = 0 and the bounds are trivial"}
        out["table1"] = {"applies": False, "why": "degenerate loss (ℓ = 0 on [0, ∞))"}
        return
    loss = evaluable_loss(report.loss)
    try:
        _promise_rho(out, report, loss, symbolic, symbolic_timeout)
    except Exception as err:  # noqa: BLE001 - a numeric failure in ρ must not sink the audit
        reraise_interrupt(err)
        out["rho"] = {"defined": True, "error": f"{type(err).__name__}: {err}"}
        out["table1"] = {"applies": None, "why": "ρ could not be computed"}
        return
    if any(v is not None for v in params.values()):
        out["instantiated"] = instantiate(report, loss, **params)


def _promise_rho(out: dict[str, Any], report: AuditReport, loss: Loss, symbolic: bool, timeout: float) -> None:
    """ρ at a few λ, its asymptotic class, the Lemma 34 bound under 3D, and Table 1's prediction."""
    from .. import bounds as B  # heavy import, only when needed

    held = {x: report.holds(x) for x in "ABCD"}
    rho = B.rho_of(loss)
    lams = [1.0, 10.0, 1e3, 1e6, 1e12]
    vals = rho.numpy(np.array(lams))
    cls, cls_how = _rho_class(loss, timeout, symbolic)
    if held["C"] and held["D"] and (cls["kind"] != "log2" or "fitted" in cls_how):
        # proven, not fitted: under 3D ρ ≤ ℓ(0) + C_e² ln²λ (Lemma 34, (14)); under 3C g ≤ C_β ℓ gives
        # ℓ(z) ≥ ℓ(0)e^{−C_β z} for z ≥ 0, so ρ(λ) ≥ min_z λℓ(0)e^{−C_β z} + z² ~ ln²λ/C_β²: ρ = Θ(ln²λ) (a fit on
        # λ ∈ [1e6, 1e14] read ln^2.55 λ for flat_exp with a = 0.2, whose W(λ/50) is not yet asymptotic there)
        cls = {"kind": "log2", "theta": "Θ(log(lambda)**2)", "exponent": 2.0, "tail": "exponential",
               "psi": "Θ(λ/ln²λ)"}
        cls_how = "Assumptions 3C and 3D hold: ln²λ/C_β² ≲ ρ(λ) ≤ ℓ(0) + C_e² ln²λ (Lemma 34, (14))"
    rinfo: dict[str, Any] = {
        "defined": True, "method": rho.method,
        "closed_form": sp.sstr(rho.closed_form) if rho.closed_form is not None else None,
        "values": {f"{lam:g}": float(v) for lam, v in zip(lams, vals)},
        "psi": {f"{lam:g}": float(lam / v) for lam, v in zip(lams, vals)},
        "class": cls, "class_method": cls_how,
    }
    ce = report.constants.get("C_e")
    if ce is not None:  # (14) in the proof of Lemma 34: ρ(λ) ≤ ℓ(0) + C_e² ln²λ under 3D
        ub = [report.loss.ell0 + ce**2 * math.log(lam) ** 2 for lam in lams]
        rinfo["bound_D"] = {"formula": "ℓ(0) + C_e² ln²λ (Lemma 34, (14))",
                            "holds": bool(all(v <= u * (1 + 1e-9) for v, u in zip(vals, ub)))}
    out["rho"] = rinfo
    out["table1"] = _table1_prediction(held, cls)


def _applies(held: Mapping[str, bool | None], needs: str) -> bool | None:
    vals = [held[x] for x in needs]
    if any(v is False for v in vals):
        return False
    return True if all(vals) else None


def _rho_class(loss: Loss, timeout: float, symbolic: bool = True) -> tuple[dict[str, Any], str]:
    """The asymptotic class of ρ: sympy on the tail (time-limited child), else a fit of the numeric ρ."""
    from .. import bounds as B

    sym = SymbolicPool(timeout=timeout, budget=timeout + 1, workers=1, enabled=symbolic)
    c = sym.ask({"class": lambda: B.rho_asymptotic_class(loss, symbolic=True)})["class"]
    how = ""
    if c is None or c.method.startswith("fitted"):
        c = B.fitted_class(loss)
        how = "sympy gave no class (or timed out); " if symbolic else "sympy not asked (--no-symbolic); "
    kind = c.kind
    exp = real_number(c.exponent) if c.exponent is not None else None
    fitted = c.method.startswith("fitted")   # an exponent fitted to sampled λ is an estimate, not a class
    theta = f"Θ({sp.sstr(c.expr)})"
    info = {"kind": kind, "theta": f"≈ {theta} (fitted exponent, not a proven class)" if fitted else theta,
            "exponent": exp, "tail": c.tail,
            "psi": ("Θ(λ/ln²λ)" if kind == "log2" else f"Θ(λ^{1 - exp:.6g})" if kind == "power"
                    else f"Θ(λ/{sp.sstr(c.expr)})") + (" (from the fitted exponent)" if fitted else "")}
    if kind == "power" and exp and exp > 0:
        info["tail_degree"] = 2 / exp - 2  # ρ = Θ(λ^{2/(a+2)})
    return info, how + c.method


def _table1_prediction(held: Mapping[str, bool | None], cls: Mapping[str, Any]) -> dict[str, Any]:
    """Table 1 for this loss: the best stepsize η(T) with τ ≤ T/2 and the loss exponent in T.

    Exponential tail (3D, ρ = Θ(ln²λ)): η = Θ(T), L(w_T) = O(ln²T/T²); η = Θ(1): O(ln²T/T).
    Polynomial tail ρ = Θ(λ^p), p = 2/(a+2): ψ⁻¹(y) ≍ y^{1/(1−p)}, so τ ≍ max{η^{2/a}, η²} and
    τ ≤ T/2 gives η = Θ(T^{min(a,1)/2}); L(w_T) ≍ (ηT)^{p−1}.  (Theorem 6 / Table 1.)
    """
    if not (held["A"] and held["B"] and held["C"]):
        fails = any(held[x] is False for x in "ABC")   # undetermined is not "does not apply"
        return {"applies": False if fails else None, "why": "Table 1 (stable phase, τ) needs Assumptions 3A–3C"
                + ("" if fails else " (undetermined here)")}
    if cls["kind"] == "log2" and held["D"]:
        return {"applies": True, "tail": "exponential",
                "constant_stepsize": {"eta": "Θ(1)", "loss": "O(ln²T/T)", "loss_exponent": -1.0},
                "best": {"eta": "Θ(T)", "eta_exponent": 1.0, "loss": "O(ln²T/T²)", "loss_exponent": -2.0},
                "source": "Table 1, logistic / flat-exp columns"}
    if cls["kind"] == "power" and cls.get("tail_degree"):
        a = float(cls["tail_degree"])
        p = 2 / (a + 2)
        beta = min(a, 1.0) / 2
        loss_exp = -(1 + beta) * (1 - p)
        return {"applies": True, "tail": f"polynomial, degree a ≈ {a:.6g}",
                "constant_stepsize": {"eta": "Θ(1)", "loss": f"O(T^{-(1 - p):.6g})", "loss_exponent": -(1 - p)},
                "best": {"eta": f"Θ(T^{beta:.6g})", "eta_exponent": beta, "loss": f"O(T^{loss_exp:.6g})",
                         "loss_exponent": loss_exp},
                "source": "Table 1, flat-poly columns (" + ("0 < a ≤ 1" if a <= 1 else "a > 1") + ")"}
    return {"applies": None, "why": f"ρ class {cls['theta']} is not one of Table 1's"}


def _gate(entry: dict[str, Any], held: Mapping[str, bool | None], needs: str) -> dict[str, Any]:
    """Mark a Theorem 35 value whose assumptions fail (the exponential loss's stable threshold, B failing): it
    is computed, and bounds nothing there."""
    ok = _applies(held, needs)
    entry["applies"] = ok
    if ok is False:
        failing = ", ".join(x for x in needs if held[x] is False)
        entry["why"] = (f"does not apply: Theorem 35 needs Assumptions 3{needs[0]}–3{needs[-1]} and {failing} fails"
                        + (f"; {entry['why']}" if entry.get("why") else ""))
    return entry


def instantiate(report: AuditReport, loss: Loss, *, eta=None, n=None, gamma=None, T=None) -> dict[str, Any]:
    """The Theorem 35 bounds at (η, n, γ, T) with the audited constants (what can be evaluated)."""
    from .. import bounds as B

    c = report.constants
    held = {x: report.holds(x) for x in "ABCD"}
    consts = {"C_g": c.get("C_g"), "C_beta": c.get("C_beta"), "C_e": c.get("C_e"), "ell0": c.get("ell0")}
    vals = {"eta": eta, "n": n, "gamma": gamma}
    out: dict[str, Any] = {"params": {**vals, "T": T}, "constants": consts}
    todo = [(theorem35.EOS_AVERAGE.id, {"t": T}), (theorem35.STABLE_THRESHOLD.id, {}),
            (theorem35.TAU_EXPLICIT_POLY.id, {}), (theorem35.TAU_EXPLICIT_EXP.id, {})]
    for bid, extra in todo:
        b = B.get_bound(bid)
        needs = set(b.parameters) | set(b.loss_constants)
        given = {k: v for k, v in {**vals, **extra, **consts}.items() if k in needs and v is not None}
        missing = sorted({"T" if k == "t" else k for k in needs - set(given)})   # t is read at T (--T)
        entry: dict[str, Any] = {"formula": b.formula}
        if missing:
            entry["value"] = None
            entry["why"] = "needs " + ", ".join(missing)
        else:
            try:
                entry["value"] = float(b.numpy(loss=loss, **given))
                rep = b.check_domain(loss=loss, **given)
                entry["in_domain"] = rep.ok
                if rep.violated:
                    entry["why"] = "outside its domain: " + "; ".join(rep.violated)
            except Exception as err:  # noqa: BLE001 - report, do not crash the audit
                reraise_interrupt(err)
                entry["value"] = None
                entry["why"] = f"{type(err).__name__}: {err}"
        _gate(entry, held, "".join(b.assumptions.loss))
        out[bid] = entry
    taus = [out[k]["value"] for k in (theorem35.TAU_EXPLICIT_POLY.id, theorem35.TAU_EXPLICIT_EXP.id)
            if out[k].get("value") is not None and out[k].get("in_domain", True) and out[k].get("applies") is not False]
    if taus and T is not None and eta is not None and gamma is not None:
        tau = min(taus)
        out["tau"] = tau
        b = theorem35.STABLE_BOUND
        if tau < T and gamma**2 * eta * (T - tau) >= 1:
            out[theorem35.STABLE_BOUND.id] = _gate({"formula": b.formula, "s": tau, "t": T,
                                                    "value": float(b.numpy(loss=loss, eta=eta, gamma=gamma, t=T, s=tau))},
                                                   held, "".join(b.assumptions.loss))
        else:
            out[theorem35.STABLE_BOUND.id] = {"formula": b.formula, "value": None,
                                         "why": f"τ = {tau:.4g} leaves no t ≤ T with γ²η(t−τ) ≥ 1"}
    return out

