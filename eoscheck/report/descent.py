"""Section 1 — the descent lemma (the slides' first page; paper §9.7, claim 13 of §10).

For a β-smooth L, one GD step satisfies L(w − η∇L) ≤ L(w) − η(1 − βη/2)‖∇L(w)‖², so η < 2/β makes
the loss decrease monotonically; on a quadratic with top eigenvalue λ_max, η > 2/λ_max makes the
λ_max component grow by |1 − ηλ_max| per step (divergence).  For logistic regression
β = λ_max(XᵀX/n)/4 (ℓ″ ≤ 1/4).
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..bounds import classics  # noqa: E402
from ..gd import INCREASE_RTOL  # noqa: E402
from ..plotting import log_axes  # noqa: E402
from . import theory  # noqa: E402
from .claims import quote_claim  # noqa: E402
from .context import UNIT_ROUNDOFF, Context, sum_allowance  # noqa: E402
from .document import Section, Table  # noqa: E402

TITLE = "Descent lemma: small η decreases monotonically, large η diverges on quadratics"

#: The claims (`eoscheck check`) whose verdicts this section quotes (checked before §1).
CLAIMS = (classics.DESCENT_LEMMA.id,)


def quadratic_gd(eigs: np.ndarray, w0: np.ndarray, eta: float, steps: int) -> tuple[np.ndarray, np.ndarray]:
    """GD on L(w) = ½ wᵀ diag(eigs) w: the losses L(w_t) and gradient norms ‖∇L(w_t)‖, t = 0..T."""
    w = w0.astype(np.float64).copy()
    L = np.empty(steps + 1)
    g = np.empty(steps + 1)
    for t in range(steps + 1):
        grad = eigs * w
        L[t] = 0.5 * float(w @ grad)
        g[t] = float(np.linalg.norm(grad))
        w = w - eta * grad
    return L, g


def descent_check(L: np.ndarray, g: np.ndarray, eta: float, beta: float, n_terms: int) -> tuple[int, float | None]:
    """The per-step descent inequality L_{t+1} ≤ L_t − η(1 − βη/2)‖∇L_t‖² on a recorded run.

    Returns (violations, min over t of actual/guaranteed decrease).  Allowance: the rounding of the
    two loss evaluations, 2·(n + 8)u·L_t (a mean of n terms), plus u·(guaranteed decrease); the
    ratio is reported only where the guaranteed decrease exceeds 10³ times that allowance.
    """
    L0, L1, g0 = L[:-1], L[1:], g[:-1]
    ok = np.isfinite(L0) & np.isfinite(L1) & np.isfinite(g0)
    actual = L0 - L1
    guaranteed = eta * (1 - beta * eta / 2) * g0**2
    allow = 2 * sum_allowance(n_terms) * np.abs(L0) + UNIT_ROUNDOFF * np.abs(guaranteed)
    viol = int(np.count_nonzero(ok & (actual < guaranteed - allow)))
    meaningful = ok & (guaranteed > 1e3 * allow)
    ratio = float(np.min(actual[meaningful] / guaranteed[meaningful])) if meaningful.any() else None
    return viol, ratio


def run(ctx: Context, sec: Section) -> None:
    cfg = ctx.cfg["descent"]
    sec.intro = (
        "the descent lemma (Nesterov 2018, §1.2.3; paper §9.7): if L is β-smooth, every GD step satisfies "
        "L(w_{t+1}) ≤ L(w_t) − η(1 − βη/2)‖∇L(w_t)‖², so **η < 2/β ⇒ L(w_t) decreases monotonically** (no EoS). "
        "On a quadratic with top Hessian eigenvalue λ_max, **η > 2/λ_max ⇒ divergence** (the top component is "
        "multiplied by |1 − ηλ_max| > 1 each step). For logistic regression β = λ_max(XᵀX/n)/4, so with ‖x‖ ≤ 1 "
        "there is no EoS for η < 8.")
    sec.part("quadratic", _quadratic, ctx, sec, cfg["quadratic"])
    sec.part("logistic regression", _logistic, ctx, sec, cfg["logistic"])


def _quadratic(ctx: Context, sec: Section, cfg: dict) -> None:
    eigs = np.asarray(cfg["eigenvalues"], dtype=np.float64)
    lam_max = float(eigs.max())
    thr = float(theory.ev(classics.QUADRATIC_DIVERGENCE, hess_max=lam_max))
    w0 = np.ones_like(eigs)
    steps = int(cfg["steps"])
    rows, curves = [], []
    for f in cfg["factors"]:
        eta = f * thr
        L, g = quadratic_gd(eigs, w0, eta, steps)
        below = eta < thr
        inc = np.flatnonzero(L[1:] > L[:-1] * (1 + INCREASE_RTOL))
        monotone = inc.size == 0
        pred_growth = (1 - eta * lam_max) ** 2  # asymptotic per-step factor of L
        meas_growth = float(L[-1] / L[-2]) if L[-2] > 0 else math.nan
        if below:
            viol, ratio = descent_check(L, g, eta, lam_max, len(eigs))
            holds = monotone and viol == 0 and L[-1] < L[0]
            rows.append({"η·λ_max/2": f, "η": eta, "prediction": "monotone decrease to 0",
                         "L(w_T)/L(w_0)": L[-1] / L[0], "monotone": monotone,
                         "per-step factor of L at T": meas_growth, "predicted factor": pred_growth,
                         "min actual/guaranteed decrease": ratio})
            sec.verdict("quadratic, η = %.3g·2/λ_max < 2/λ_max: monotone decrease" % f, "descent lemma (§9.7)",
                        "exact", "L non-increasing; each step ≥ η(1−βη/2)‖∇L‖² decrease",
                        f"monotone: {'yes' if monotone else 'no'}; {viol} per-step violations; "
                        f"L_T/L_0 = {L[-1] / L[0]:.3g}",
                        "holds" if holds else "VIOLATED", ratio=None if ratio is None else 1 / ratio,
                        note="ratio = guaranteed/actual decrease at the worst step: 1 means the lemma is tight (the "
                             "gradient aligns with the top eigenvector); an excess over 1 of ~1e-14 is rounding, "
                             "inside the allowance")
        else:
            rel = abs(meas_growth - pred_growth) / pred_growth
            diverged = L[-1] > L[0]
            ok = diverged and rel < 1e-9
            rows.append({"η·λ_max/2": f, "η": eta, "prediction": "divergence, L grows ×(1−ηλ_max)² per step",
                         "L(w_T)/L(w_0)": L[-1] / L[0], "monotone": monotone,
                         "per-step factor of L at T": meas_growth, "predicted factor": pred_growth,
                         "min actual/guaranteed decrease": None})
            sec.verdict("quadratic, η = %.3g·2/λ_max > 2/λ_max: divergence" % f, "classic (quadratic)",
                        "exact", f"L_t grows by (1−ηλ_max)² = {pred_growth:.6g} per step",
                        f"L_T/L_0 = {L[-1] / L[0]:.3g}; factor {meas_growth:.6g} (rel. diff {rel:.1e})",
                        "holds" if ok else "VIOLATED")
        curves.append((eta, f, L))
    sec.table(Table("quadratic", f"Quadratic L(w) = ½wᵀAw, eig(A) = {list(map(float, eigs))}, w₀ = 1, "
                                 f"T = {steps}: just below and just above 2/λ_max = {thr:.4g}", rows))
    fig, ax = ctx.subplots(figsize=(6.4, 4.2))
    for eta, f, L in curves:
        ax.plot(np.arange(len(L)), L, lw=1.5, label=f"η = {f:g}·2/λ_max = {eta:.4g}")
    log_axes(ax, "step t", "L(w_t) = ½ w_tᵀ A w_t", "Quadratic: η just below vs just above 2/λ_max", xbase=None)
    ax.legend()
    sec.figure(ctx.save_figure(fig, "s1_quadratic", "1a", "quadratic: L(w_t) for η 1% below and 1% above the divergence threshold "
                                 "2/λ_max (log scale: geometric decrease vs geometric growth)."))


def _logistic(ctx: Context, sec: Section, cfg: dict) -> None:
    rows, checked = [], []
    fig_runs = []
    for spec in cfg["datasets"]:
        data = ctx.data(spec)
        lam = float(np.linalg.eigvalsh(data.X.T @ data.X / data.n)[-1])
        thr = float(theory.ev(classics.DESCENT_LEMMA, lambda_max=lam))  # 2/β, β = λ_max/4
        beta = 2.0 / thr
        etas = [f * thr for f in cfg["factors"]]
        traj = ctx.gd(f"descent-{spec}", data, "logistic", etas, int(cfg["steps"]), grid="all")
        fig_runs.append((data.name, traj, thr))
        n_below = n_ok = 0
        worst_ratio = None
        for k, (f, eta) in enumerate(zip(cfg["factors"], etas)):
            L = traj.records["loss"][k]
            g = traj.records["grad_norm"][k]
            last_inc = int(traj.stats["last_increase"][k])
            below = eta < thr
            viol, ratio = descent_check(L, g, eta, beta, data.n) if below else (0, None)
            row = {"data": data.name, "n": data.n, "max‖x‖": data.max_norm, "λ_max(XᵀX/n)": lam, "2/β": thr,
                   "η/(2/β)": f, "η": eta,
                   "prediction": "monotone (descent lemma)" if below else "none (EoS possible)",
                   "last increase": last_inc, "max L/L(w₀)": float(np.nanmax(L) / L[0]),
                   "per-step violations": viol if below else None, "min actual/guaranteed decrease": ratio}
            rows.append(row)
            if below:
                n_below += 1
                ok = last_inc < 0 and viol == 0
                n_ok += ok
                if ratio is not None:
                    worst_ratio = max(worst_ratio or 0.0, 1 / ratio)
        checked.append((data.name, n_ok, n_below, worst_ratio))
    bad = [c for c in checked if c[1] < c[2]]
    quote_claim(ctx, sec, CLAIMS[0],
                shown="; ".join(f"{name}: {ok}/{nb} stepsizes below 2/β monotone with no per-step violation"
                                + (f" (worst guaranteed/actual decrease {r:.4g})" if r is not None else "")
                                for name, ok, nb, r in checked),
                witness=(f"{bad[0][0]}: {bad[0][2] - bad[0][1]} stepsize(s) below 2/β increase the loss or break the "
                         "per-step descent inequality") if bad else None)
    sec.table(Table("logistic", "Logistic regression: stepsizes below and above the descent-lemma threshold "
                                "2/β, β = λ_max(XᵀX/n)/4 (last increase −1: monotone; 16-ulp allowance)", rows,
                    note="'min actual/guaranteed decrease' ≥ 1 means the descent inequality holds at every step "
                         "(how much larger the real decrease is than the lemma's guarantee)."))
    _logistic_figure(ctx, sec, fig_runs)


def _logistic_figure(ctx: Context, sec: Section, runs) -> None:
    """One panel per dataset: L(w_t) against t + 1 (so that t = 0, L(w₀) = ln 2, is on the log axis)."""
    ncols = min(3, len(runs))
    nrows = -(-len(runs) // ncols)
    fig, axes = ctx.subplots(nrows, ncols, figsize=(5.2 * ncols, 3.9 * nrows))
    axes = np.atleast_1d(axes).reshape(-1)
    for ax, (name, traj, thr) in zip(axes, runs):
        t = traj.step.astype(float)
        colors = plt.cm.viridis(np.linspace(0.0, 0.9, traj.K))  # dark to yellow: no near-white line
        for k, eta in enumerate(traj.eta):
            f = eta / thr
            ax.plot(t + 1, traj.records["loss"][k], "-" if f < 1 else "--", color=colors[k], lw=1.3,
                    label=f"η = {f:g}·2/β" + (" (< 2/β)" if f < 1 else ""))
        log_axes(ax, "step t + 1", "training loss L(w_t)", f"{name}: 2/β = {thr:.3g}", xbase=2, ybase=2,
                 title_size=10)
        ax.legend(fontsize=6)
    for ax in axes[len(runs):]:
        ax.set_visible(False)
    sec.figure(ctx.save_figure(fig, "s1_logistic", "1b", "logistic regression on every dataset of the table, L(w_t) against t + 1 (the first "
                                 "point is L(w₀) = ln 2): solid lines (η < 2/β) must decrease monotonically; dashed lines "
                                 "(η > 2/β) are outside the descent lemma and may oscillate (EoS)."))
