"""``audit-loss --run``: GD with the audited loss, compared with Theorem 35 at the audited constants."""

from __future__ import annotations

import math
from typing import Any, Mapping

import numpy as np

from .format import fmt, ratio_text
from .promises import evaluable_loss
from .results import AuditReport


#: Above this relative error of the float64 ℓ (over the margins a run reached) the comparison with Theorem 35 is
#: undetermined: its allowances would have to grow with the error (a ratio within 1 + e, a rise within 2e) and,
#: past ~1e-6, would accept what they should convict.
FLOAT_ERROR_MAX = 1e-6

#: Default stepsizes and steps for :func:`compare_with_gd`.
RUN_ETAS = (1.0, 10.0, 100.0)
RUN_STEPS = 2000


def compare_with_gd(report: AuditReport, data=None, etas=RUN_ETAS, steps: int = RUN_STEPS) -> dict[str, Any]:
    """Run GD with the audited loss and compare the trajectory with Theorem 35 at the audited constants.

    Data: ``digits08().normalize()`` by default (real digits 0 vs 8, ‖x‖ ≤ 1, separable).  Per
    stepsize η: the EoS average bound 9(ρ(γ²ηt)+(ηC_g)²)/(γ²ηt) at every t with γ²ηt ≥ 1 (needs A–B);
    the first s with L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n}, monotonicity of L after s, and the stable bound
    15ρ(γ²η(t−s))/(γ²η(t−s)) for t with γ²η(t−s) ≥ 1 (needs A–C).  A ratio ≤ 1 means the bound held.
    """
    from ..bounds import theorem35
    from ..datasets import digits08
    from ..gd import INCREASE_RTOL, run_gd

    if not (report.holds("A") and report.holds("B")):
        return {"ran": False, "why": "Theorem 35 needs Assumptions 3A and 3B, which do not both hold"}
    if report.promises.get("rho", {}).get("degenerate"):
        return {"ran": False, "why": "ℓ(0) = 0: GD from w₀ = 0 never moves (ℓ′(0) = 0 at the minimum of a C¹ loss "
                                     "≥ 0), so L ≡ 0 and every bound of Theorem 35 holds trivially"}
    data = data if data is not None else digits08().normalize()
    mm = data.require_separable()
    gamma, n = float(mm.gamma), int(data.n)
    loss = evaluable_loss(report.loss)
    c = report.constants
    traj = run_gd(data, loss=loss, etas=list(etas), steps=int(steps), grid="all")
    fl = float64_error(report.loss, traj, data)
    # L(w_t) is a mean of positive terms, each within relative error e of ℓ: L carries ≤ e (its summation rounding
    # is in the 1e-12 / INCREASE_RTOL already), so a ratio to an exact bound may exceed its true value by e, and two
    # consecutive losses may show a spurious rise of (1 + e)/(1 − e) − 1 ≈ 2e
    e = fl["value_error"]
    ratio_max = 1 + 1e-12 + e
    last_inc = traj.last_increase(rtol=INCREASE_RTOL + 2 * e)
    tt = traj.step.astype(float)
    eos = theorem35.EOS_AVERAGE
    stab_b = theorem35.STABLE_BOUND
    stable_ok = bool(report.holds("C"))
    rows = []
    for k, eta in enumerate(traj.eta):
        eta = float(eta)
        row: dict[str, Any] = {"eta": eta, "diverged_at": int(traj.diverged_at[k]),
                               "final_loss": float(traj.loss[k, -1])}
        mask = (tt >= 1) & (gamma**2 * eta * tt >= 1)
        if mask.any():
            bound = np.asarray(eos.numpy(loss=loss, eta=eta, gamma=gamma, t=tt[mask], C_g=c["C_g"]))
            ratio = traj.avg_loss[k, mask] / bound
            j = int(np.nanargmax(ratio))
            row["eos_max_ratio"] = float(ratio[j])
            row["eos_worst_t"] = int(tt[mask][j])
            row["eos_holds"] = bool(np.nanmax(ratio) <= ratio_max)
        else:
            row["eos_holds"] = None
            row["eos_why"] = "no t ≤ T with γ²ηt ≥ 1"
        if stable_ok:
            # condition (15), from its one encoding (a measured C_β of 0 makes its first term +∞ there)
            thr = float(theorem35.STABLE_THRESHOLD.numpy(loss=loss, eta=eta, n=n, C_beta=c["C_beta"], ell0=c["ell0"]))
            s = int(traj.first_below(thr)[k])
            row["stable_threshold"] = thr
            row["s"] = s
            if s >= 0:
                row["monotone_after_s"] = bool(last_inc[k] <= s)
                m2 = (tt > s) & (gamma**2 * eta * (tt - s) >= 1)
                if m2.any():
                    bound = np.asarray(stab_b.numpy(loss=loss, eta=eta, gamma=gamma, t=tt[m2], s=float(s)))
                    ratio = traj.loss[k, m2] / bound
                    j = int(np.nanargmax(ratio))
                    row["stable_max_ratio"] = float(ratio[j])
                    row["stable_worst_t"] = int(tt[m2][j])
                    row["stable_holds"] = bool(np.nanmax(ratio) <= ratio_max)
        rows.append(row)
    verdict = all(r.get("eos_holds") is not False and r.get("stable_holds") is not False and
                  r.get("monotone_after_s") is not False for r in rows)
    why = None
    if not e <= FLOAT_ERROR_MAX:      # NaN or inf included: the allowances would decide nothing
        verdict = None
        why = (f"the float64 ℓ GD used is off by up to {e:.2g} relative over the margins reached (at z = "
               f"{fmt(fl['value_at'])}): an allowance that large decides nothing; rewrite the formula without "
               "the cancelling difference")
    return {"ran": True, "data": data.name, "n": n, "d": int(data.d), "gamma": gamma, "steps": int(steps),
            "rows": rows, "consistent": verdict, "why_undetermined": why, "float64": fl,
            "note": "ratios are empirical / bound; ≤ 1 means the bound held on this run"}


def float64_error(loss, traj, data, points: int = 24) -> dict[str, Any]:
    """How far the float64 ℓ and ℓ′ of ``loss`` are from its formula, over the margins the run reached: for a custom
    formula the evaluators GD used; for a built-in its torch forms, which the fused kernels GD runs are tested
    against (≤ 1e-12 relative).

    The margins lie in [min over the run of minᵢ mᵢ, max over the run of ‖w_t‖·maxᵢ‖xᵢ‖] (Cauchy–Schwarz: an upper
    end, which may overstate the error where it grows with z); each side
    of 0 is sampled at ``points`` log-spaced |z| from 1e-3 to its end, with 0 and both ends, and
    :meth:`~eoscheck.audit.evaluate.Evaluator.worst_error` compares the loss's float64 evaluators with high
    precision there.  A formula with a cancelling difference (√(1+z²) − z: ~1e-8 relative at z = 1e4) shows it."""
    from .evaluate import Evaluator
    from .simplify import audited_forms

    lo = float(np.nanmin(traj.records["min_margin"]))
    hi = float(np.nanmax(traj.records["w_norm"])) * float(data.max_norm)
    lo, hi = min(lo, 0.0), max(hi, 0.0)
    zs = [lo, 0.0, hi]
    if lo < -1e-3:
        zs += list(-np.geomspace(1e-3, -lo, points))
    if hi > 1e-3:
        zs += list(np.geomspace(1e-3, hi, points))
    Z = np.unique(np.array(zs, dtype=np.float64))
    ev = Evaluator(loss, audited_forms(loss.expr))
    (ve, vz), (ge, gz) = ev.worst_error(Z, 0), ev.worst_error(Z, 1)
    return {"margins": [lo, hi], "value_error": ve, "value_at": None if math.isnan(vz) else vz,
            "grad_error": ge, "grad_at": None if math.isnan(gz) else gz}


def run_lines(res: Mapping[str, Any]) -> list[str]:
    """The --run comparison as text lines (a tabulate table)."""
    from tabulate import tabulate

    if not res.get("ran"):
        return [f"GD run: skipped — {res.get('why', '')}"]
    head = (f"GD on {res['data']} (n={res['n']}, d={res['d']}, γ={res['gamma']:.4g}), T={res['steps']} steps; "
            "ratio = empirical / bound (≤ 1: the bound held)")
    rows = []
    for r in res["rows"]:
        rows.append([f"{r['eta']:g}", fmt(r["final_loss"]),
                     ratio_text(r.get("eos_max_ratio")), fmt(r.get("stable_threshold")),
                     "—" if r.get("s") is None else r["s"] if r["s"] >= 0 else "never",
                     {True: "yes", False: "NO", None: "—"}[r.get("monotone_after_s")],
                     ratio_text(r.get("stable_max_ratio"))])
    table = tabulate(rows, headers=["η", "L(w_T)", "EoS avg ratio", "stable thr", "s", "monotone after s",
                                    "stable ratio"], tablefmt="simple", disable_numparse=True)
    fl = res["float64"]
    lo, hi = fl["margins"]
    acc = (f"float64 evaluation over the margins the run reached [{fmt(lo)}, {fmt(hi)}]: ℓ within "
           f"{fl['value_error']:.2g} relative" + (f" (worst at z = {fmt(fl['value_at'])})" if fl["value_at"] is not None
                                                  else "")
           + f", ℓ′ within {fl['grad_error']:.2g}" + (f" (at z = {fmt(fl['grad_at'])})" if fl["grad_at"] is not None
                                                     else ""))
    if max(fl["value_error"], fl["grad_error"]) > 1e-12:
        acc += ("; digits lost in float64 (a cancelling difference? e.g. √(1+z²) − z = 1/(√(1+z²) + z)): the ratios "
                "and 'monotone after s' allow for the error of ℓ, and GD ran with ℓ′ perturbed that much")
    if res["consistent"] is None:
        return [head, table, acc, "verdict: undetermined — " + res["why_undetermined"]]
    return [head, table, acc, "verdict: " + ("consistent with Theorem 35" if res["consistent"]
                                        else "a bound was VIOLATED (see the table)")]

