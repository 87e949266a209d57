"""``audit-loss --run``: GD with the audited loss, compared with Theorem 35 at the audited constants."""

from __future__ import annotations

from typing import Any, Mapping

import numpy as np

from .format import fmt, ratio_text
from .promises import evaluable_loss
from .results import AuditReport


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
    data = data if data is not None else digits08().normalize()
    mm = data.require_separable()
    gamma, n = float(mm.gamma), int(data.n)
    loss = evaluable_loss(report.loss)
    c = report.constants
    traj = run_gd(data, loss=loss, etas=list(etas), steps=int(steps), grid="all")
    tt = traj.step.astype(float)
    eos = theorem35.EOS_AVERAGE
    stab_b = theorem35.STABLE_BOUND
    stable_ok = bool(report.holds("C"))
    rows = []
    last_inc = traj.last_increase(rtol=INCREASE_RTOL)
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
            row["eos_holds"] = bool(np.nanmax(ratio) <= 1 + 1e-12)
        else:
            row["eos_holds"] = None
            row["eos_why"] = "no t ≤ T with γ²ηt ≥ 1"
        if stable_ok:
            thr = min(1 / (12 * c["C_beta"] ** 2 * eta), c["ell0"] / n)
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
                    row["stable_holds"] = bool(np.nanmax(ratio) <= 1 + 1e-12)
        rows.append(row)
    verdict = all(r.get("eos_holds") is not False and r.get("stable_holds") is not False and
                  r.get("monotone_after_s") is not False for r in rows)
    return {"ran": True, "data": data.name, "n": n, "d": int(data.d), "gamma": gamma, "steps": int(steps),
            "rows": rows, "consistent": verdict,
            "note": "ratios are empirical / bound; ≤ 1 means the bound held on this run"}


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
                     r.get("s", "—") if r.get("s", -1) >= 0 else "never",
                     {True: "yes", False: "NO", None: "—"}[r.get("monotone_after_s")],
                     ratio_text(r.get("stable_max_ratio"))])
    table = tabulate(rows, headers=["η", "L(w_T)", "EoS avg ratio", "stable thr", "s", "monotone after s",
                                    "stable ratio"], tablefmt="simple", disable_numparse=True)
    return [head, table, "verdict: " + ("consistent with Theorem 35" if res["consistent"]
                                        else "a bound was VIOLATED (see the table)")]

