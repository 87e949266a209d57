"""Section 3 — Theorem 1 (logistic regression, all constants explicit; paper §2, Lemmas 7–12).

For η over 2⁻²…2¹⁰ on several datasets satisfying Assumption 1: the EoS average bound against the
measured running average, the stable bound (from the first s with L(w_s) ≤ 1/η) against the measured
loss, Lemma 10's monotonicity, Lemmas 8–9 (‖w_t‖ and the average of G), and the measured transition
step against τ — each with the worst ratio measured/bound, i.e. how loose the explicit constant is.
"""

from __future__ import annotations

import math

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from ..bounds import theorem1  # noqa: E402
from ..plotting import log_axes, save_figure  # noqa: E402
from ..properties.numerics import loglog_fit  # noqa: E402
from . import theory  # noqa: E402
from .claims import quote_claim  # noqa: E402
from .context import Context, eta_tex, margin_text, sum_allowance, worst  # noqa: E402
from .document import Figure, Section, Table  # noqa: E402

TITLE = "Theorem 1: EoS bound, stable bound and phase transition, measured"

#: The claims (`eoscheck check`) whose verdicts this section quotes (checked before §1).
CLAIMS = (theorem1.EOS_AVERAGE.id, theorem1.STABLE_BOUND.id, "lemma10.monotone", theorem1.TAU.id, theorem1.W_NORM.id, theorem1.G_AVERAGE.id)


def analyse(traj, k: int, gamma: float, n: int, d: int = 1) -> dict:
    """Every Theorem 1 comparison for stepsize row k of a trajectory (see the module docstring)."""
    eta = float(traj.eta[k])
    t = traj.step.astype(np.float64)
    T = traj.steps
    rec = traj.records
    out: dict = {"η": eta}
    # EoS phase: average loss, Lemma 8 norm, Lemma 9 G-average, on γ²ηt ≥ 1
    dom = (t >= 1) & (gamma**2 * eta * t >= 1)
    td = t[dom]
    eos = np.asarray(theory.ev(theorem1.EOS_AVERAGE, eta=eta, gamma=gamma, t=td))
    avg = rec["avg_loss"][k][dom]
    out["eos_ratio"] = worst(avg / eos)
    out["eos_viol"] = int(np.count_nonzero(~(avg <= eos * (1 + sum_allowance(td)))))
    out["eos_points"] = int(dom.sum())
    wb = np.asarray(theory.ev(theorem1.W_NORM, eta=eta, gamma=gamma, t=td))
    wn = rec["w_norm"][k][dom]
    out["wnorm_ratio"] = worst(wn / wb)
    out["wnorm_viol"] = int(np.count_nonzero(~(wn <= wb * (1 + sum_allowance(d)))))
    gb = np.asarray(theory.ev(theorem1.G_AVERAGE, eta=eta, gamma=gamma, t=td))
    ga = rec["avg_G"][k][dom]
    out["G_ratio"] = worst(ga / gb)
    out["G_viol"] = int(np.count_nonzero(~(ga <= gb * (1 + sum_allowance(td)))))
    # stable phase from the first recorded s with L(w_s) ≤ 1/η
    s1 = int(traj.stats["first_below_1_over_eta"][k])
    out["first L≤1/η"] = s1
    out["stable_ratio"], out["stable_viol"], out["s"] = None, 0, None
    if s1 >= 0:
        cand = np.flatnonzero((traj.step >= s1) & (rec["loss"][k] <= 1 / eta))
        if cand.size:
            j = int(cand[0])
            s = int(traj.step[j])
            F_s = math.exp(float(rec["log_F"][k, j]))
            out["s"] = s
            sd = (t > s) & (gamma**2 * eta * (t - s) >= 1)
            if sd.any():
                sb = np.asarray(theory.ev(theorem1.STABLE_BOUND, eta=eta, gamma=gamma, t=t[sd], s=float(s), F_s=F_s))
                L = rec["loss"][k][sd]
                out["stable_ratio"] = worst(L / sb)
                out["stable_viol"] = int(np.count_nonzero(~(L <= sb * (1 + sum_allowance(n)))))
    # Lemma 10: monotone from the first step with L ≤ 2/η (engine tracker, 16-ulp allowance)
    s2 = int(traj.stats["first_below_2_over_eta"][k])
    li = int(traj.stats["last_increase"][k])
    out["last increase"] = li
    out["lemma10_ok"] = None if s2 < 0 else bool(li <= s2)
    # transition: first recorded s with L ≤ 1/η and F ≤ 1, against τ
    both = np.flatnonzero((rec["loss"][k] <= 1 / eta) & (rec["log_F"][k] <= 0))
    sF = int(traj.step[both[0]]) if both.size else -1
    tau = float(theory.ev(theorem1.TAU, eta=eta, n=n, gamma=gamma))
    out["s_F"] = sF
    out["τ"] = tau
    out["s_F/τ"] = sF / tau if sF >= 0 else None
    out["reaches τ"] = T >= math.ceil(tau)   # only such a run could show an s* beyond τ
    out["tau_status"] = ("holds" if 0 <= sF <= math.ceil(tau) else
                         "VIOLATED" if (sF > math.ceil(tau) or (sF < 0 and T >= math.ceil(tau))) else "inconclusive")
    return out


def run(ctx: Context, sec: Section) -> None:
    cfg = ctx.cfg["theorem1"]
    etas = [2.0**k for k in cfg["eta_exponents"]]
    sec.intro = (
        "Theorem 1 (§2), for logistic regression under Assumption 1 (‖xᵢ‖ ≤ 1, margin γ), w₀ = 0, any η > 0: "
        "(EoS) (1/t)Σ_{k<t} L(w_k) ≤ (1 + ln²(γ²ηt) + η²/4)/(γ²ηt) for γ²ηt ≥ 1; (stable) if L(w_s) ≤ 1/η then the "
        "loss decreases from s on and L(w_t) ≤ (2F(w_s) + ln²(γ²η(t−s)))/(γ²η(t−s)); (transition) some s ≤ τ = "
        "(60/γ²)·max{η, n, e, ((η+n)/η)ln((η+n)/η)} has L(w_s) ≤ 1/η and F(w_s) ≤ 1. Also Lemma 10 (L(w_s) ≤ 2/η ⇒ "
        "monotone from s), Lemma 8 (‖w_t‖ ≤ (√2 + 2ln(γ²ηt) + η)/γ) and Lemma 9 (average G). All are exact: the only "
        "allowance is the float64 rounding of a running mean, (t + 8)·2⁻⁵³ relative. γ is the certified max margin γ*.")
    all_rows: dict[str, list] = {"eos": [], "stable": [], "tau": [], "lemma10": [], "wnorm": [], "G": []}
    summary = []

    def one(spec: str) -> None:
        data = ctx.data(spec)
        data.require_separable()
        gamma, n = data.gamma, data.n
        traj = ctx.gd(f"thm1-{spec}", data, "logistic", etas, int(cfg["steps"]), grid=cfg["grid"],
                      grid_points=cfg["grid_points"])
        rows = []
        for k in range(traj.K):
            a = analyse(traj, k, gamma, n, data.d)
            rows.append({"η": a["η"], "EoS: worst avg/bound": a["eos_ratio"], "EoS violations": a["eos_viol"],
                         "first L≤1/η": a["first L≤1/η"], "stable: worst L/bound": a["stable_ratio"],
                         "stable violations": a["stable_viol"], "last increase": a["last increase"],
                         "Lemma 10 monotone": a["lemma10_ok"], "s* (L≤1/η, F≤1)": a["s_F"], "τ": a["τ"],
                         "s*/τ": a["s_F/τ"], "τ verdict": a["tau_status"],
                         "‖w‖: worst ratio": a["wnorm_ratio"], "avg G: worst ratio": a["G_ratio"]})
            a["data"] = data.name
            for key in all_rows:
                all_rows[key].append(a)
        grid_note = ("every step recorded" if traj.full_grid else
                     f"log grid of {len(traj.step)} steps: ratios at recorded steps, s taken as the first recorded step "
                     "≥ the exact first hit (still L(w_s) ≤ 1/η, by Lemma 10)")
        sec.table(Table(f"thm1_{_slug(spec)}", f"{data.name}: n = {n}, d = {data.d}, {margin_text(data)}, "
                                               f"T = {traj.steps} ({grid_note})", rows))
        sec.figure(_dataset_figure(ctx, traj, data, gamma, cfg["figure_etas"], spec))
        summary.append((data.name, gamma, traj, rows))

    for spec in cfg["datasets"]:
        sec.part(f"dataset {spec}", one, spec)
    _verdicts(ctx, sec, all_rows)
    sec.part("looseness figure", lambda: sec.figure(_looseness_figure(ctx, summary)))
    sec.part("transition trend", _transition_trend, sec, summary)


#: A trend of s* in η is fitted through at least this many EoS runs (a line through two points always "rises"
#: or "falls"; three leave one residual for the slope's interval).
TREND_MIN_POINTS = 3


def _transition_trend(sec: Section, summary) -> None:
    """Say how the measured transition step s* moves with η (slides: "larger η ⇒ longer EoS"; Theorem 1
    only bounds it by τ ∝ max{η, n}/γ²)."""
    parts, rising, decided = [], 0, 0
    for name, gamma, traj, rows in summary:
        # EoS runs only: in a monotone run (the first step may already separate the data, s* = 1) s* is no
        # EoS length, and fitting through those made s* "fall" with η
        pts = [(r["η"], r["s* (L≤1/η, F≤1)"]) for r in rows if r["s* (L≤1/η, F≤1)"] and r["s* (L≤1/η, F≤1)"] > 0
               and r.get("last increase", -1) >= 0]
        big = [(e, s) for e, s in pts if e >= 1.0]
        if len(big) >= TREND_MIN_POINTS:
            slope, half = loglog_fit([e for e, _ in big], [s for _, s in big])
            trend = "flat" if abs(slope) < 0.1 else ("falling" if slope < 0 else "rising")
            if trend != "flat" and abs(slope) <= half:     # the 95 % interval holds 0: no direction shown
                trend = f"without a direction (slope's 95 % interval ± {half:.2g} holds 0)"
            else:
                rising += trend == "rising"
                decided += 1
            peak = max(range(len(big)), key=lambda i: big[i][1])
            first_rise = (f"; it first rises {big[0][1]:g} → {big[peak][1]:g} up to η = {big[peak][0]:g}"
                          if 0 < peak < len(big) - 1 and big[peak][1] >= 1.5 * big[0][1] else "")
            parts.append(f"{name}: s* {trend} in η (log–log slope {slope:.2f} over the {len(big)} EoS runs with η ∈ "
                         f"[{big[0][0]:g}, {big[-1][0]:g}]{first_rise})")
        else:
            parts.append(f"{name}: {len(big)} EoS run(s) with η ≥ 1, too few for a trend (≥ {TREND_MIN_POINTS})")
    if decided:
        verdict = (f"a single log–log fit of s* against η does not rise on any of the {decided} dataset(s) with a "
                   "trend (the others have too few EoS runs or no direction; where s* first "
                   "rises with η, that is said above; below the largest η that keeps a run monotone, s* is not an "
                   "EoS length)" if not rising else
                   f"the measured s* grows with η on {rising} of the {decided} datasets with a trend")
        sec.text("**Transition step against η (right panels).** " + "; ".join(parts) + ". Theorem 1's τ grows like "
                 f"max{{η, n}}/γ² (an upper bound); {verdict}.")
    elif parts:
        sec.text("**Transition step against η (right panels).** " + "; ".join(parts) + ".")


def _slug(spec: str) -> str:
    return "".join(c if c.isalnum() else "_" for c in spec).strip("_")


def _witness(rows: list[dict], count: str, ratio: str) -> str | None:
    """The first (dataset, η) with a violation of an exact bound on this section's instances, or None."""
    bad = [a for a in rows if a.get(count)]
    if not bad:
        return None
    a = bad[0]
    return f"{a['data']}, η = {a['η']:g}: {a[count]} violation(s), worst ratio {a.get(ratio) or float('nan'):.6g}"


def _verdicts(ctx: Context, sec: Section, all_rows: dict) -> None:
    """One verdict per statement: the claim's (`eoscheck check`, §7), with this section's datasets as
    the instances shown — and a concrete violation on them, if any, as a witness."""
    eos = all_rows["eos"]
    quote_claim(ctx, sec, theorem1.EOS_AVERAGE.id, ratio=worst([a['eos_ratio'] or np.nan for a in eos]),
                shown=f"{sum(a['eos_points'] for a in eos)} (dataset, η, t) points, worst avg/bound "
                      f"{worst([a['eos_ratio'] or np.nan for a in eos]) or float('nan'):.4g}",
                witness=_witness(eos, "eos_viol", "eos_ratio"))
    st = [a for a in all_rows["stable"] if a["stable_ratio"] is not None]
    quote_claim(ctx, sec, theorem1.STABLE_BOUND.id, ratio=worst([a['stable_ratio'] for a in st]) if st else None,
                shown=f"{len(st)} runs reached L ≤ 1/η, worst L/bound "
                      f"{(worst([a['stable_ratio'] for a in st]) if st else None) or float('nan'):.4g}",
                witness=_witness(st, "stable_viol", "stable_ratio"))
    l10 = [a for a in all_rows["lemma10"] if a["lemma10_ok"] is not None]
    bad = [a for a in l10 if not a["lemma10_ok"]]
    quote_claim(ctx, sec, "lemma10.monotone", shown=f"{len(l10) - len(bad)}/{len(l10)} runs monotone after L ≤ 2/η",
                witness=(f"{bad[0]['data']}, η = {bad[0]['η']:g}: last increase {bad[0]['last increase']} after the first "
                         "L ≤ 2/η") if bad else None)
    taus = all_rows["tau"]
    stat = [a["tau_status"] for a in taus]
    late = [a for a in taus if a["tau_status"] == "VIOLATED"]
    quote_claim(ctx, sec, theorem1.TAU.id,
                ratio=worst([a['s_F/τ'] if a['s_F/τ'] is not None else np.nan for a in taus]),
                shown=f"{stat.count('holds')}/{len(stat)} runs reached s* ≤ τ ({sum(a['reaches τ'] for a in taus)} of "
                      f"the {len(stat)} with T ≥ ⌈τ⌉, the only ones a late s* could contradict it in; "
                      f"{stat.count('inconclusive')} not within "
                      f"T < τ; {sum(a['s_F'] == 0 for a in taus)} at s* = 0, where L(w₀) = ln 2 ≤ 1/η and F(w₀) = 1 "
                      f"meet it before any step), max s*/τ "
                      f"{worst([a['s_F/τ'] if a['s_F/τ'] is not None else np.nan for a in taus]) or 0:.3g}",
                witness=(f"{late[0]['data']}, η = {late[0]['η']:g}: s* = {late[0]['s_F']} > τ = {late[0]['τ']:.6g}")
                if late else None)
    wn = all_rows["wnorm"]
    quote_claim(ctx, sec, theorem1.W_NORM.id, ratio=worst([a['wnorm_ratio'] or np.nan for a in wn]), shown=f"worst ‖w‖/bound {worst([a['wnorm_ratio'] or np.nan for a in wn]) or 0:.4g}",
                witness=_witness(wn, "wnorm_viol", "wnorm_ratio"))
    G = all_rows["G"]
    quote_claim(ctx, sec, theorem1.G_AVERAGE.id, shown=f"worst avg G/bound {worst([a['G_ratio'] or np.nan for a in G]) or 0:.4g}",
                witness=_witness(G, "G_viol", "G_ratio"))


def _dataset_figure(ctx: Context, traj, data, gamma: float, fig_etas, spec: str) -> Figure:
    fig, axes = ctx.subplots(1, 3, figsize=(16, 4.6))
    t = traj.step.astype(np.float64)
    pick = [k for k, e in enumerate(traj.eta) if any(abs(e - f) < 1e-12 * f for f in fig_etas)]
    colors = plt.cm.plasma(np.linspace(0, 0.85, max(len(pick), 1)))
    for c, k in zip(colors, pick):
        eta = float(traj.eta[k])
        dom = (t >= 1) & (gamma**2 * eta * t >= 1)
        axes[0].plot(t[t >= 1], traj.records["avg_loss"][k][t >= 1], color=c, lw=1.4, label=f"{eta_tex(eta)} measured")
        axes[0].plot(t[dom], theory.ev(theorem1.EOS_AVERAGE, eta=eta, gamma=gamma, t=t[dom]), "--", color=c, lw=1.1,
                     label="bound")
        a = analyse(traj, k, gamma, data.n)
        axes[1].plot(t[t >= 1], traj.records["loss"][k][t >= 1], color=c, lw=1.4, label=f"{eta_tex(eta)} L(w_t)")
        if a["s"] is not None:
            s = a["s"]
            j = int(np.searchsorted(traj.step, s))
            F_s = math.exp(float(traj.records["log_F"][k, j]))
            sd = (t > s) & (gamma**2 * eta * (t - s) >= 1)
            axes[1].plot(t[sd], theory.ev(theorem1.STABLE_BOUND, eta=eta, gamma=gamma, t=t[sd], s=float(s), F_s=F_s),
                         "--", color=c, lw=1.1, label=f"bound from s = {s}")
    for ax, yl, ttl in ((axes[0], "(1/t) Σ_{k<t} L(w_k)", "EoS phase: average loss vs bound (dashed)"),
                        (axes[1], "L(w_t)", "stable phase: loss vs bound from s (dashed)")):
        log_axes(ax, "step t", yl, ttl, title_size=10)
        ax.legend(fontsize=7, ncol=2)
    eta_all = traj.eta
    sF = np.array([analyse(traj, k, gamma, data.n)["s_F"] for k in range(traj.K)], dtype=float)
    s1 = traj.stats["first_below_1_over_eta"].astype(float)
    grid = np.geomspace(eta_all.min(), eta_all.max(), 200)
    axes[2].plot(grid, theory.ev(theorem1.TAU, eta=grid, n=data.n, gamma=gamma), "k--", lw=1.3, label="τ (Theorem 1)")
    eos = traj.stats["last_increase"] >= 0          # the runs the s* trend is fitted on (filled)
    for sel, fill, what in ((eos, None, "EoS run"), (~eos, "none", "monotone run")):
        m = sel & (sF >= 0)
        if m.any():
            axes[2].plot(eta_all[m], np.maximum(sF[m], 0.5), "o", color="tab:blue", mfc=fill,
                         label=f"s*: first L ≤ 1/η and F ≤ 1 ({what})")
    axes[2].plot(eta_all[s1 >= 0], np.maximum(s1[s1 >= 0], 0.5), "x", label="first L ≤ 1/η")
    axes[2].set_xscale("log", base=2)
    axes[2].set_yscale("log")
    axes[2].set_xlabel("stepsize η")
    axes[2].set_ylabel("step (0 drawn at 0.5)")
    axes[2].set_title("transition step vs τ", fontsize=10)
    axes[2].grid(True, alpha=0.3)
    axes[2].legend(fontsize=8)
    fig.suptitle(f"Theorem 1 on {data.name} (γ* = {gamma:.3g}, n = {data.n})")
    path, rel = ctx.figure_file(f"s3_thm1_{_slug(spec)}")
    save_figure(fig, path)
    return Figure(f"3-{_slug(spec)}", rel, f"{data.name}: measured (solid) against Theorem 1's bounds (dashed) for "
                                           f"η ∈ {{{', '.join(f'{e:g}' for e in fig_etas)}}}, and the transition step "
                                           f"against τ for every η.")


def _looseness_figure(ctx: Context, summary) -> Figure:
    fig, axes = ctx.subplots(1, 3, figsize=(16, 4.4))
    keys = (("EoS: worst avg/bound", "looseness of the EoS average bound"),
            ("stable: worst L/bound", "looseness of the stable bound"),
            ("s*/τ", "transition: s*/τ (s* = 0 not drawn)"))
    styles = [("o", "-"), ("s", "--"), ("D", ":"), ("^", "-."), ("v", (0, (5, 1, 1, 1)))]
    for j, (name, gamma, traj, rows) in enumerate(summary):
        eta = np.array([r["η"] for r in rows])
        marker, ls = styles[j % len(styles)]      # two datasets' ratios can coincide: one drew over the other
        for ax, (key, ttl) in zip(axes, keys):
            y = np.array([np.nan if r[key] is None else r[key] for r in rows], dtype=float)
            y[~(y > 0)] = np.nan  # log scale: a zero (transition at s = 0) is not drawn
            ax.plot(eta, y, marker=marker, ls=ls, ms=4 + 1.5 * (len(summary) - 1 - j), mfc="none", label=name)
    for ax, (key, ttl), ylabel in zip(axes, keys, ("worst measured / bound", "worst measured / bound", "s*/τ")):
        ax.axhline(1.0, color="k", lw=1.0, ls="--", label="bound (ratio 1)")
        log_axes(ax, "stepsize η", ylabel, ttl, xbase=2, title_size=10)
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.2), ncol=2)  # below: the ratio-1 line
    path, rel = ctx.figure_file("s3_looseness")
    save_figure(fig, path)
    return Figure("3-looseness", rel, "how loose each explicit constant is: the worst ratio measured/bound over t, per "
                                      "dataset and η (below the dashed line = the bound holds).")
