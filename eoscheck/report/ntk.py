"""Section 6 — the two-layer network in the NTK regime (Theorem 6; paper §6, Lemmas 21–32).

f(x; w) = (1/√m) Σₛ aₛ·max{xᵀw⁽ˢ⁾, 0}, w₀ ~ N(0, I), only the first layer trained
(:func:`eoscheck.networks.run_ntk`).  Measured: ‖w_t − w₀‖ against the lazy radius R (and Lemma 28's
R_t), the average loss against the EoS bound, the stable threshold (6), monotonicity and the stable
bound after it, the transition step; the width condition m ≥ ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶ is
computed and stated — it fails by many orders of magnitude at any practical width, so every
comparison here is a trend, not a test of the theorem.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..bounds import theorem6  # noqa: E402
from ..losses import get_loss  # noqa: E402
from ..plotting import log_axes  # noqa: E402
from . import theory  # noqa: E402
from .claims import quote_claim  # noqa: E402
from .context import Context, eta_tex, worst  # noqa: E402
from .document import Section, Table  # noqa: E402

TITLE = "Two-layer network in the NTK regime (Theorem 6)"

#: Theorem 6's exact claims (decided only on runs meeting the width condition) by part; each has a ``.trend``
#: twin checking the same bound on every run (properties/theorem6.py)
EXACT = {"lazy": "thm6.lazy", "eos_average": theorem6.EOS_AVERAGE.id, "stable_monotone": "thm6.stable_monotone",
         "stable_bound": theorem6.STABLE_BOUND.id}

#: The claims (`eoscheck check`) whose verdicts this section quotes (checked before §1).
CLAIMS = (*EXACT.values(), *(f"{c}.trend" for c in EXACT.values()), "thm6.tau_exp")


def run(ctx: Context, sec: Section) -> None:
    from ..properties.theorem6 import TAU_EXP_MIN_ETA

    cfg = ctx.cfg["ntk"]
    sec.intro = (
        "Theorem 6 (§6): for a loss with Assumption 3A–B, if the width m ≥ ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶ with "
        "R = 6(√ρ(γ²ηT) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ, then w.p. ≥ 1 − 3δ: (lazy training) ‖w_t − w₀‖ ≤ R for t ≤ T; "
        "(EoS) (1/t)Σ L(w_k) ≤ 9(ρ(γ²ηt) + (C_a + √(2ln(2n/δ)) + ηC_g)²)/(γ²ηt); (stable, needs C) after L(w_s) ≤ "
        "min{1/(12C_β²η), ℓ(0)/n} the loss decreases and L(w_t) ≤ 15ρ(γ²η(t−s))/(γ²η(t−s)); (transition) if τ ≤ T, "
        "some s ≤ τ = C₂·max{η, n ln n}/γ² meets (6), with an exponential tail (C₂ unknown). γ is Assumption 4's NTK "
        "margin, with ‖χ(u)‖ ≤ 1 at every u: the bounds use γ = γ*/2, certified (χ ≡ w*, the linear max-margin "
        "direction: E⟨yᵢ1[xᵢᵀu > 0]xᵢ, w*⟩ = yᵢxᵢᵀw*/2 ≥ γ*/2), against γ ≤ minᵢ‖xᵢ‖/2 for the best χ (all weight on one "
        "point). The max-margin γ̂ of the NTK features at initialization (Lemma 21: γ̂ ≥ 9γ/10 w.h.p. when m ≥ "
        "50 ln(n/δ)/γ²) is shown for comparison only: its constraint on χ is L², not pointwise, so it is no lower bound "
        "of γ, and bounds at γ̂ would be tighter than the theorem's.")
    data = ctx.data(cfg["data"])
    loss_name = cfg.get("loss", "logistic")
    loss = get_loss(loss_name)
    steps, width, delta = int(cfg["steps"]), int(cfg["width"]), float(cfg["delta"])
    traj = ctx.ntk("ntk", data, loss_name, cfg["etas"], steps, width=width, delta=delta)
    info = traj.config.get("ntk", {})
    gamma = float(info.get("gamma", math.nan))
    gamma_hat = float(info.get("ntk_margin", math.nan))
    C_a = float(info.get("C_a", 0.0))
    n = data.n
    if not gamma > 0:
        sec.missing.append("the data are not certified linearly separable, so no Assumption 4 margin is certified "
                           "(γ*/2 ≤ 0): Theorem 6's bounds are not evaluated")
        return
    t = traj.step.astype(np.float64)
    rows, wrows = [], []
    lazy_r, eos_r, stab_r, mono_bad, mono_n = [], [], [], 0, 0
    trans = []
    for k, eta in enumerate(traj.eta):
        eta = float(eta)
        R = float(theory.ev(theorem6.LAZY_RADIUS, loss=loss, C_a=C_a, T=float(steps), delta=delta, eta=eta,
                            gamma=gamma, n=n))
        need = float(theory.ev(theorem6.WIDTH, loss=loss, C_a=C_a, T=float(steps), delta=delta, eta=eta,
                               gamma=gamma, n=n))
        wn = traj.records["w_norm"][k]
        dom = (t >= 1) & (gamma**2 * eta * t >= 1)
        eos = np.asarray(theory.ev(theorem6.EOS_AVERAGE, loss=loss, C_a=C_a, delta=delta, eta=eta, gamma=gamma,
                                   n=n, t=t[dom]))
        eos_ratio = worst(traj.records["avg_loss"][k][dom] / eos)
        thr = float(theory.ev(theorem6.STABLE_THRESHOLD, loss=loss, eta=eta, n=n))
        hit = np.flatnonzero(traj.records["loss"][k] <= thr)
        s = int(traj.step[hit[0]]) if hit.size else -1
        li = int(traj.stats["last_increase"][k])
        stab_ratio, mono = None, None
        if s >= 0:
            mono = bool(li <= s)
            mono_n += 1
            mono_bad += not mono
            sd = (t > s) & (gamma**2 * eta * (t - s) >= 1)
            if sd.any():
                sb = np.asarray(theory.ev(theorem6.STABLE_BOUND, loss=loss, eta=eta, gamma=gamma, s=float(s), t=t[sd]))
                stab_ratio = worst(traj.records["loss"][k][sd] / sb)
        shape = float(theory.ev(theorem6.TAU_EXP_TAIL, eta=eta, n=n, gamma=gamma, C2=1.0))  # max{η, n ln n}/γ²
        lazy_r.append(float(np.nanmax(wn)) / R)
        eos_r.append(eos_ratio if eos_ratio is not None else np.nan)
        if stab_ratio is not None:
            stab_r.append(stab_ratio)
        # C₂ needed: s/shape where (6) was met; a run that never met it by T needs C₂ > T/shape (censored); only in
        # the claim's scope η ≥ TAU_EXP_MIN_ETA
        if eta >= TAU_EXP_MIN_ETA:
            trans.append((eta, s, s / shape if s >= 0 else steps / shape, s < 0))
        rows.append({"η": eta, "max‖w_t − w₀‖": float(np.nanmax(wn)), "R (lazy radius)": R,
                     "max‖w_t − w₀‖/R": float(np.nanmax(wn)) / R, "EoS: worst avg/bound": eos_ratio,
                     "threshold (6)": thr, "first s meeting (6)": s, "last increase": li, "monotone after s": mono,
                     "stable: worst L/bound": stab_ratio, "s·γ²/max{η, n ln n} (C₂ needed)": s / shape if s >= 0 else None,
                     "final loss": float(traj.records["loss"][k, -1])})
        wrows.append({"η": eta, "width m": width, "width required": need,
                      "log₁₀ width required": math.log10(need) if 0 < need < math.inf else math.inf,
                      "condition met": bool(width >= need)})
    met = all(r["condition met"] for r in wrows)
    status = "met" if met else "NOT met"
    sec.text(f"Data: {data.name} (n = {n}, d = {data.d}, max‖x‖ = {data.max_norm:.3g}), {loss.name} loss, width m = "
             f"{width}, balanced output signs (C_a = {C_a:.3g}, max|f(x; w₀)| = {info.get('max_abs_f0', math.nan):.3g} "
             f"vs Lemma 22's {info.get('lemma22_bound', math.nan):.3g}), seed {ctx.seed}, δ = {delta}, T = {steps}, "
             f"Assumption 4's margin γ = γ*/2 = {gamma:.4g} (certified; ≤ minᵢ‖xᵢ‖/2 = "
             f"{_gamma_ceiling(data):.3g}), NTK-feature margin at w₀ γ̂ = {gamma_hat:.4g}"
             f"{_lemma21_text(data, n, delta, width)}.\n\n**Width condition: {status}.** "
             + ("Every comparison below is a test of Theorem 6." if met else
                "The theorem's width requirement is " + ", ".join(f"10^{r['log₁₀ width required']:.1f}" for r in wrows)
                + f" for the stepsizes used, against m = {width}: everything below is *outside the width condition — "
                  "trend only* (it shows how the bounds compare, not whether the theorem holds)."))
    sec.table(Table("width", "Theorem 6's width condition per stepsize", wrows))
    sec.table(Table("ntk", "Two-layer NTK network: measured vs Theorem 6's bounds", rows,
                    note="ratios below 1 mean the measured value is inside the bound."))
    phase = _eos_phase(sec, traj, loss, gamma, C_a, delta, n, met)
    # the verdicts are the claims' (§7): the exact ones when this run meets the width condition (with this
    # run's violation as a witness), else the .trend ones, which check the same bounds outside the condition
    def quote(part, shown, violated_here):
        cid = EXACT[part] + ("" if met else ".trend")
        quote_claim(ctx, sec, cid, shown=shown,
                    witness=f"{data.name}, m = {width}, seed {ctx.seed}: {shown}" if met and violated_here else None)

    quote("lazy", f"max ‖w_t − w₀‖/R {max(lazy_r):.3g} (the radius grows like √ρ(γ²ηT) + η)", max(lazy_r) > 1)
    quote("eos_average", (f"worst avg/bound {worst(eos_r):.3g}" if worst(eos_r) is not None else "no point in the domain")
          + (f"; over the EoS phases of the non-monotone runs {max(phase):.3g}" if phase else ""),
          max([worst(eos_r) or 0, *phase]) > 1)
    quote("stable_monotone", f"{mono_n - mono_bad}/{mono_n} runs reaching (6) monotone afterwards", mono_bad > 0)
    quote("stable_bound", f"worst L/bound {worst(stab_r):.3g}" if stab_r else "no run reached (6)",
          (worst(stab_r) or 0) > 1 if stab_r else False)
    quote_claim(ctx, sec, CLAIMS[-1], shown=f"over η ≥ {TAU_EXP_MIN_ETA:g} (the claim's scope), "
                + c2_needed(trans, steps), trend=not met)
    _figure(ctx, sec, traj, loss, gamma, C_a, delta, n, rows, met)


def _gamma_ceiling(data) -> float:
    """minᵢ‖xᵢ‖/2: no χ with ‖χ(u)‖ ≤ 1 gives point i more than E 1[xᵢᵀu > 0]‖xᵢ‖ = ‖xᵢ‖/2 (Assumption 4B)."""
    return float(np.min(np.linalg.norm(data.X, axis=1))) / 2


def _lemma21_text(data, n: int, delta: float, width: int) -> str:
    """Lemma 21's width m ≥ 50 ln(n/δ)/γ² at the largest γ Assumption 4 allows here, minᵢ‖xᵢ‖/2 (its smallest
    requirement), against the run's width."""
    hi = _gamma_ceiling(data)
    need = float(theory.ev(theorem6.LEMMA21_WIDTH, n=n, delta=delta, gamma=hi)) if hi > 0 else math.inf
    return (f" (Lemma 21's width 50 ln(n/δ)/γ² is ≥ {need:.4g} at γ ≤ minᵢ‖xᵢ‖/2, against m = {width}: "
            + ("met" if width >= need else "not met, so Lemma 21 does not vouch for γ̂ here") + ")")


def c2_needed(trans: list[tuple], steps: int) -> str:
    """What the runs say of τ = C₂max{η, n ln n}/γ²: the smallest C₂ each needs, s·γ²/max{η, n ln n} where (6)
    was met at s, and more than T·γ²/max{η, n ln n} where it was not by T (censored, a lower bound only); the
    largest of them.  ``trans``: (η, s or −1, C₂ needed, censored) per run."""
    top = max(trans, key=lambda r: r[2], default=None)
    if top is None:
        return "no run"
    censored = [f"{r[0]:g}" for r in trans if r[3]]
    return f"the runs here need C₂ {'>' if top[3] else '≥'} {top[2]:.3g}" + (
        f" ({len(censored)} run(s), η = {', '.join(censored)}, never met (6) by T = {steps}: for them "
        "C₂ > T·γ²/max{η, n ln n})" if censored else "")


def _figure(ctx, sec, traj, loss, gamma, C_a, delta, n, rows, met) -> None:
    fig, axes = ctx.subplots(1, 3, figsize=(16, 4.6))
    t = traj.step.astype(np.float64)
    cols = plt.cm.viridis(np.linspace(0, 0.85, traj.K))
    pos = t >= 1
    for k, eta in enumerate(traj.eta):
        eta = float(eta)
        c = cols[k]
        axes[0].plot(t[pos], traj.records["w_norm"][k][pos], color=c, lw=1.4, label=eta_tex(eta))
        Rt = theory.ev(theorem6.RADIUS_T, loss=loss, C_a=C_a, delta=delta, eta=eta, gamma=gamma, n=n, t=t[pos])
        axes[0].plot(t[pos], Rt, "--", color=c, lw=1.0)
        dom = pos & (gamma**2 * eta * t >= 1)
        axes[1].plot(t[pos], traj.records["avg_loss"][k][pos], color=c, lw=1.4, label=eta_tex(eta))
        axes[1].plot(t[dom], theory.ev(theorem6.EOS_AVERAGE, loss=loss, C_a=C_a, delta=delta, eta=eta, gamma=gamma,
                                       n=n, t=t[dom]), "--", color=c, lw=1.0)
        axes[2].plot(t[pos], traj.records["loss"][k][pos], color=c, lw=1.4, label=eta_tex(eta))
        axes[2].axhline(rows[k]["threshold (6)"], color=c, ls=":", lw=0.9)
        s = rows[k]["first s meeting (6)"]
        if s > 0:
            axes[2].plot([s], [traj.records["loss"][k][int(np.searchsorted(traj.step, s))]], "v", color=c, ms=7)
    titles = ("‖w_t − w₀‖ vs Lemma 28's R_t (dashed)", "average loss vs Theorem 6's EoS bound (dashed)",
              "loss; dotted: stable threshold (6), ▼ first s")
    ylabels = ("‖w_t − w₀‖", "(1/t) Σ_{k<t} L(w_k)", "L(w_t)")
    for ax, ttl, yl in zip(axes, titles, ylabels):
        log_axes(ax, "step t", yl, ttl, title_size=10)
        ax.legend(fontsize=8)
    fig.suptitle(f"Two-layer NTK network (m = {traj.config.get('width')}, γ = γ*/2 = {gamma:.3g})"
                 + ("" if met else " — outside the width condition: trends only"))
    sec.figure(ctx.save_figure(fig, "s6_ntk", "6", "NTK network: displacement from initialization against the lazy radius, average loss "
                                "against the EoS bound, and the loss with the stable threshold."))


def _eos_phase(sec: Section, traj, loss, gamma: float, C_a: float, delta: float, n: int, met: bool) -> list[float]:
    """Theorem 6's EoS-phase bound over the EoS phase itself (t ≤ last increase) of the non-monotone runs: the
    table, and the worst avg/bound of each run with points in the bound's domain."""
    t = traj.step.astype(np.float64)
    rows = []
    for k, eta in enumerate(traj.eta):
        li = int(traj.stats["last_increase"][k])
        if li <= 0:
            continue
        dom = (t >= 1) & (t <= li) & (gamma**2 * float(eta) * t >= 1)
        ratios = []
        if dom.any():
            bound = np.asarray(theory.ev(theorem6.EOS_AVERAGE, loss=loss, C_a=C_a, delta=delta, eta=float(eta),
                                         gamma=gamma, n=n, t=t[dom]))
            ratios = list(traj.records["avg_loss"][k][dom] / bound)
        rows.append({"η": float(eta), "last increase": li, "peak loss": float(traj.stats["max_loss"][k]),
                     "steps of the EoS phase in the bound's domain": int(dom.sum()),
                     "avg/bound over the EoS phase": ", ".join(f"{r:.3g}" for r in ratios) or "–",
                     "worst": worst(ratios)})
    if not rows:
        sec.text("No NTK run is non-monotone (last increase > 0): the EoS phase of Theorem 6 is not exercised; "
                 "add larger stepsizes to the section's configuration.")
        return []
    label = "" if met else " — outside the width condition, trend only"
    sec.table(Table("ntk_eos_phase", "EoS phase of the non-monotone NTK runs: (1/t)Σ_{k<t} L(w_k) against "
                    "Theorem 6's EoS bound for t ≤ last increase" + label, rows))
    ws = [r["worst"] for r in rows if r["worst"] is not None]
    return ws
