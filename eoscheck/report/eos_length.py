"""Section — Benefit 2 of the slides: "larger η ⇒ smaller constant factor, but longer EoS".

Theorem 1 (paper §2, slide "Benefits of large stepsizes") bounds the stable phase by
L(w_{s+t}) ≤ Õ(F(w_s)/(ηt)) once L(w_s) ≤ 1/η, and the phase transition by
s ≤ τ = Θ(max{η, n, (n/η) ln(n/η)}); read literally, the constant of the 1/t rate shrinks like 1/η
while the EoS phase (bounded by τ ∝ η for η ≥ n) lengthens.  τ is an *upper* bound: Crawshaw & Liu
(paper.md §9.5) prove, in two dimensions and for η ≥ η₀ = max(n, (32/γ²) log(256/γ²)), that the first t with
L(w_t) ≤ 1/(8η) is O(n/γ + log(1/γ)/γ²), independent of η (and Ω(n/γ + 1/γ²) on a constructed dataset).

Measured here on logistic-regression GD, per dataset and stepsize:

* the EoS length, two ways: the last step with L(w_t) > L(w_{t−1}) (the paper's EoS is non-monotone
  loss) and s₁ = the first step with L(w_t) ≤ 1/η (Theorem 1's phase-transition condition);
* the constant factor: L(T)·T (the constant c of L ≈ c/T; the slide predicts it falls with η) and
  L(T)·η·T (flat in η when the whole gain is the 1/η of the bound).

Trends in η are summarised by Spearman's rank correlation ρ over the runs where the quantity is
defined (EoS runs for the last increase; runs that reached L ≤ 1/η for s₁; runs stable by T/2 for
the constants).  These are trends about a Θ-statement read off the slide, so no single run can falsify an
order-of-magnitude bound: the verdicts (:func:`trend_verdict`) say whether the slide's trend is seen —
"consistent" on every dataset, "inconclusive" on at least half, "NOT REPRODUCED" on fewer (an observation
about the slide's reading, not a falsification of Theorem 1, whose τ is an upper bound).
"""

from __future__ import annotations

import math

import numpy as np

from ..bounds import crawshaw_liu
from ..plotting import log_axes
from . import theory
from .context import Context, stalled
from .document import Section, Table

TITLE = "Benefit 2: larger η — smaller constant factor, but longer EoS?"

#: Defaults (the report's config may override them under the key ``eos_length``).
DEFAULTS = {"datasets": ["toy-normalized", "thm3:0.05", "synthetic:n=100,d=10,gamma=0.1", "digits39-normalized"],
            "eta_exponents": list(range(3, 16, 2)), "steps": 2**12}

#: |ρ| at or above which a rank correlation counts as a trend (ρ of 5+ points with |ρ| ≥ 0.6 has a
#: one-sided permutation p-value ≤ 0.15 for n = 5 and ≤ 0.08 for n = 7; weaker is "flat").
TREND_RHO = 0.6


def spearman(x, y) -> float:
    """Spearman's rank correlation of the finite pairs (NaN with fewer than 3 pairs or constant x; 0 for
    constant y)."""
    from scipy.stats import spearmanr

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 3 or np.ptp(x[ok]) == 0:
        return math.nan
    if np.ptp(y[ok]) == 0:
        return 0.0  # y does not change with x at all: no rank trend (scipy would return NaN)
    return float(spearmanr(x[ok], y[ok]).statistic)


def trend_word(rho: float) -> str:
    """"grows" / "falls" / "flat" / "undefined" for a rank correlation with η."""
    if not math.isfinite(rho):
        return "undefined"
    return "grows" if rho >= TREND_RHO else ("falls" if rho <= -TREND_RHO else "flat")


def eos_rows(traj, name: str) -> list[dict]:
    """One row per stepsize: EoS lengths and constant factors at T."""
    T = int(traj.step[-1])
    rows = []
    stall = stalled(traj)
    for k, eta in enumerate(traj.eta):
        eta = float(eta)
        li = int(traj.stats["last_increase"][k])
        s1 = int(traj.stats["first_below_1_over_eta"][k])
        LT = float(traj.records["loss"][k, -1])
        diverged = not math.isfinite(LT)
        # still moving: a loss that stopped changing sits at the floating-point floor (w + ηg rounds to w),
        # where L(T)·T measures the precision of float64, not a rate constant
        floor = bool(stall[k])
        stable = 0 <= s1 <= T // 2 and li < T // 2 and not floor
        rows.append({"data": name, "η": eta, "last increase": li, "first t with L ≤ 1/η": s1,
                     "L(T)": LT, "L(T)·T": LT * T, "L(T)·η·T": LT * eta * T,
                     "stable by T/2": bool(stable and not diverged), "at floor": bool(floor and not diverged),
                     "rounding increase": bool(floor and 0 <= s1 < li)})
    return rows


def trend_row(name: str, rows: list[dict], T: int) -> dict:
    """Rank correlations with η of the EoS lengths and the constants, over the runs where each is defined."""
    eta = np.array([r["η"] for r in rows])
    li = np.array([r["last increase"] for r in rows], dtype=np.float64)
    s1 = np.array([r["first t with L ≤ 1/η"] for r in rows], dtype=np.float64)
    st = np.array([r["stable by T/2"] for r in rows])
    # an increase after L ≤ 1/η in a run stuck at the floating-point floor is rounding (Theorem 1's stable
    # phase is monotone in exact arithmetic), not an EoS length
    eos = (li >= 0) & ~np.array([r["rounding increase"] for r in rows])
    reached = s1 >= 0
    c1 = np.array([r["L(T)·T"] for r in rows])
    c2 = np.array([r["L(T)·η·T"] for r in rows])
    return {"data": name, "T": T, "EoS runs": int(eos.sum()),
            "ρ(η, last increase)": spearman(eta[eos], li[eos]),
            "last increase range": f"{int(li[eos].min())}–{int(li[eos].max())}" if eos.any() else "none",
            "runs with L ≤ 1/η": int(reached.sum()), "ρ(η, s₁)": spearman(eta[reached], s1[reached]),
            "stable by T/2": int(st.sum()), "ρ(η, L(T)·T)": spearman(eta[st], c1[st]),
            "ρ(η, L(T)·η·T)": spearman(eta[st], c2[st])}


#: Crawshaw & Liu's two-dimensional result, with its conditions (paper.md §9.5: Theorems 2.1 and 3.1).
CL_STATEMENT = ("Crawshaw & Liu (paper.md §9.5) prove, in two dimensions and for η ≥ η₀ = max(n, (32/γ²) "
                "log(256/γ²)), τ_CL ≤ O(n/γ + log(1/γ)/γ²) with τ_CL := min{t : L(w_t) ≤ 1/(8η)} (an upper bound "
                "independent of η), and τ_CL ≥ Ω(n/γ + 1/γ²) on a constructed dataset")


def cl_eta0(n: int, gamma: float) -> float:
    """η₀ of Crawshaw & Liu's Theorem 2.1 (the bound ``crawshaw_liu.eta0`` of bounds/)."""
    return float(theory.ev(crawshaw_liu.CL_ETA0, n=n, gamma=gamma))


def run(ctx: Context, sec: Section) -> None:
    cfg = dict(DEFAULTS, **ctx.cfg.get("eos_length", {}))
    steps = int(cfg["steps"])
    etas = [2.0 ** e for e in cfg["eta_exponents"]]
    rows, trends, curves, scope = [], [], [], []
    for spec in cfg["datasets"]:
        data = ctx.data(spec)
        g = float(data.max_margin().gamma) if data.d == 2 else math.nan
        if data.d != 2:
            scope.append(f"{data.name} is {data.d}-D")
        elif not g > 0:
            scope.append(f"{data.name} is not certified separable")
        else:
            eta0 = cl_eta0(data.n, g)
            inside = sum(e >= eta0 for e in etas)
            scope.append(f"{data.name}: η₀ = {eta0:.3g}, {inside} of its {len(etas)} stepsizes reach it")
        traj = ctx.gd(f"eoslen-{spec}", data, "logistic", etas, steps, grid="log", grid_points=64)
        r = eos_rows(traj, data.name)
        rows += r
        trends.append(trend_row(data.name, r, steps))
        curves.append((data.name, r))
    sec.intro = (
        "The slides' Benefit 2 reads Theorem 1's bounds literally: the stable phase L(w_{s+t}) ≤ Õ(F(w_s)/(ηt)) has "
        "a constant shrinking like 1/η, while the transition bound τ = Θ(max{η, n, (n/η)ln(n/η)}) grows with η. τ is "
        f"only an upper bound. {CL_STATEMENT}; here {'; '.join(scope)}, so that result is context, not a prediction "
        "of these runs. Measured: the EoS length (last loss increase; first t with L ≤ 1/η) and the constants "
        "L(T)·T and L(T)·η·T against η, with Spearman's ρ over the runs where each is defined.")
    sec.table(Table("eos_length_runs", f"EoS length and constant factors per run (logistic GD, T = {steps})", rows,
                    note="last increase −1: monotone (no EoS); s₁ = −1: L ≤ 1/η not reached by T. 'stable by T/2': "
                         "s₁ ≤ T/2, no increase after T/2 and L(T) < L(T/2) (not stuck at the floating-point "
                         "floor), the runs whose L(T)·T is a stable-phase constant. 'at floor': L(T) ≥ L(T/2), "
                         "w + ηg rounds to w; 'rounding increase': such a run whose last increase comes after "
                         "s₁ — rounding noise, left out of the EoS-length trend."))
    sec.table(Table("eos_length_trends", "Rank correlation with η (Spearman ρ; |ρ| ≥ 0.6 counts as a trend)",
                    trends))
    _figure(ctx, sec, curves, steps)
    eos_verdicts(sec, trends)


def _figure(ctx: Context, sec: Section, curves, steps: int) -> None:
    fig, axes = ctx.subplots(1, 2, figsize=(11.5, 5.6))
    markers = ["o", "s", "^", "D", "v", "P"]
    for i, (name, r) in enumerate(curves):
        eta = np.array([x["η"] for x in r])
        li = np.array([-1 if x["rounding increase"] else x["last increase"] for x in r], dtype=np.float64)
        s1 = np.array([x["first t with L ≤ 1/η"] for x in r], dtype=np.float64)
        c1 = np.array([x["L(T)·T"] if x["stable by T/2"] else math.nan for x in r])
        m = markers[i % len(markers)]
        # a series with no point on the log axis gets no legend entry (an empty "last increase" was listed)
        li, s1 = np.where(li >= 1, li, np.nan), np.where(s1 >= 1, s1, np.nan)
        line = axes[0].plot(eta, li, marker=m, lw=1.3,
                            label=f"{name}: last increase" if np.isfinite(li).any() else None)[0]
        axes[0].plot(eta, s1, marker=m, ls="--", lw=1.0, mfc="none", color=line.get_color(),
                     label=f"{name}: first L ≤ 1/η" if np.isfinite(s1).any() else None)
        axes[1].plot(eta, c1, marker=m, lw=1.3, color=line.get_color(), label=name if np.isfinite(c1).any() else None)
    for ax, ylabel, title in ((axes[0], "EoS length (steps)", "EoS length vs η (runs with value −1 or 0 omitted)"),
                              (axes[1], f"L(T)·T at T = {steps}", "constant factor of the 1/T rate (stable runs)")):
        log_axes(ax, "stepsize η", ylabel, title, xbase=2)
        # below the axes: inside, it hid the points the trends rest on
        ax.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2)
    sec.figure(ctx.save_figure(fig, "s_eos_length", "eos_length", "EoS length (left: solid last loss increase, dashed first step with "
                      "L ≤ 1/η; monotone runs, rounding increases, unreached thresholds and s₁ = 0 have no point on the log "
                      "axis) and the "
                      "constant L(T)·T of the stable phase (right) against η, per dataset."))


def trend_verdict(trends: list[dict], key: str, want: str) -> tuple[str, float | None]:
    """(verdict, extreme ρ) over the datasets with a defined ρ(η, ·) in column ``key``: "consistent" when
    every one shows the trend ``want``, "inconclusive" when at least half do (mixed evidence; "trend only" is the
    report's word for a check outside a theorem's hypotheses), "NOT REPRODUCED"
    when fewer than half do (the slide's trend is absent from most of them), "inconclusive" when none has
    a defined ρ; the extreme is the ρ least in the predicted direction."""
    rhos = [t[key] for t in trends if math.isfinite(t[key])]
    if not rhos:
        return "inconclusive", None
    shown = sum(trend_word(r) == want for r in rhos)
    verdict = "consistent" if shown == len(rhos) else ("inconclusive" if 2 * shown >= len(rhos) else "NOT REPRODUCED")
    return verdict, (min(rhos) if want == "grows" else max(rhos))


def eos_verdicts(sec: Section, trends: list[dict]) -> None:
    """The two halves of Benefit 2, each a trend over datasets."""
    key = "ρ(η, last increase)"
    measured = "; ".join(f"{t['data']}: ρ = {t[key]:.2f} over {t['EoS runs']} EoS runs "
                         f"(last increase {t['last increase range']}) → {trend_word(t[key])}" for t in trends)
    v, worst_rho = trend_verdict(trends, key, "grows")
    sec.verdict("Larger η ⇒ longer EoS (last loss increase grows with η)", "slides, Benefit 2; Theorem 1's τ",
                "trend", f"{key} ≥ {TREND_RHO} on every dataset",
                measured, v, ratio=worst_rho,
                note="ratio = smallest ρ, over the datasets with a defined ρ (a dataset with no EoS run has none "
                     "and is left out). 'inconclusive': the EoS lengthens with η on at least half of them, not on "
                     "all; 'NOT REPRODUCED': on fewer than half. τ is an upper bound, so a flat length "
                     "contradicts only a literal reading of the slide, not Theorem 1")
    key = "ρ(η, L(T)·T)"
    measured = "; ".join(f"{t['data']}: {key} = {t[key]:.2f}, ρ(η, L(T)·η·T) = {t['ρ(η, L(T)·η·T)']:.2f} over "
                         f"{t['stable by T/2']} stable runs" for t in trends)
    v, worst_rho = trend_verdict(trends, key, "falls")
    sec.verdict("Larger η ⇒ smaller constant factor (L(T)·T falls with η in the stable phase)", "slides, "
                "Benefit 2; Theorem 1 stable phase Õ(F(w_s)/(ηt))", "trend", f"{key} ≤ −{TREND_RHO} on every dataset",
                measured, v, ratio=worst_rho,
                note="ratio = largest ρ(η, L(T)·T). For the largest η the loss often falls faster than 1/T (every "
                     "margin large: exponential decay), so L(T)·T there is a snapshot of the 1/(ηT) envelope, not a "
                     "plateau; L(T)·η·T falling too says the gain exceeds the bound's 1/η")
