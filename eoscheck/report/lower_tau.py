"""Section — the lower side of τ: Crawshaw & Liu's hard instances (Theorem 3.1) and Theorem 2.1.

Statements from :mod:`eoscheck.bounds.crawshaw_liu`; runs in :mod:`eoscheck.hard_instances`.  Instance 1
and Theorem 2.1 are decided by their claims (``properties/crawshaw_liu.py``), quoted here; a run of this
section inside the domain that separates the data before n/(16γ) would be a witness (VIOLATED).  Instance 2's δ is not
recorded in paper.md, so it is scanned: the existence claim is "consistent" when some δ of the
scan satisfies it at every stepsize, and a δ that does not is reported, not convicted.
"""

from __future__ import annotations

from ..bounds import crawshaw_liu
from .claims import quote_claim
from .context import Context
from .document import Section, Table

TITLE = "The lower side of τ: Crawshaw–Liu's hard instances"

#: The claims (`eoscheck check`) whose verdicts this section quotes (checked before §1).
CLAIMS = (crawshaw_liu.MISCLASSIFIED_UNTIL.id, crawshaw_liu.CL_TAU_2D.id)

#: Defaults (the report's config may override them under the key ``lower_tau``).
DEFAULTS = {"gammas": [0.1, 0.05, 0.02], "n": 16, "eta_factors": [1.0, 4.0],
            "deltas": [0.05, 0.2, 0.5, 0.8, 0.95]}


def run(ctx: Context, sec: Section) -> None:
    from ..hard_instances import check_instance1, check_instance2

    cfg = dict(DEFAULTS, **ctx.cfg.get("lower_tau", {}))
    sec.intro = (
        "Theorem 1 bounds the transition time τ from above only. Crawshaw & Liu (COLT 2026, paper.md §9.5) prove, "
        "in two dimensions, an upper bound independent of η for η ≥ max(n, (32/γ²) log(256/γ²)) (Theorem 2.1), and "
        "a lower bound Ω(n/γ + 1/γ²) with two hard instances (Theorem 3.1: η ≥ max(n, (32/γ²) log(3/γ)), "
        "γ ≤ 1/6): on instance 1 some point stays misclassified for t ≤ n/(16γ); "
        "on instance 2 L(w_t) > 2/η for t ≤ 1 + 1/(59γ²). Both instances are 2-D, so their Theorem 2.1 upper "
        "bound τ_CL ≤ 2 + 4n/γ + 280 log(2/γ²)/γ² (τ_CL := min{t : L ≤ 1/(8η)}) is checked on the same runs.")
    rows1, rows2 = [], []
    for g in cfg["gammas"]:
        rows1 += check_instance1(g, int(cfg["n"]), cfg["eta_factors"])
        rows2 += check_instance2(g, int(cfg["n"]), [d for d in cfg["deltas"] if d * d <= 1 - g * g],
                                 cfg["eta_factors"])
    sec.table(Table("cl_instance1", "Instance 1: first step with every point classified (t_sep) vs n/(16γ)", rows1))
    sec.table(Table("cl_instance2", "Instance 2: first step with L ≤ 2/η (t₂) vs 1 + 1/(59γ²), δ scanned", rows2,
                    note="δ is part of the construction and is not recorded in paper.md: a row that fails is a fact "
                         "about that δ, not a counterexample."))
    inside1 = [r for r in rows1 if r["in domain"]]
    bad = [r for r in inside1 if not r["holds"]]
    quote_claim(ctx, sec, CLAIMS[0],
                shown="; ".join(f"γ={r['γ']:g}, η={r['η']:.3g}: t_sep={r['measured']} vs {r['bound']:.3g}"
                                for r in inside1) or "no run inside the domain",
                witness=(f"{bad[0]['data']} at η = {bad[0]['η']!r}: every point classified at t = {bad[0]['witness t']} "
                         f"≤ n/(16γ) = {bad[0]['bound']:.6g}") if bad else None)
    by_delta: dict[float, bool] = {}
    for r in rows2:
        if r["in domain"]:
            key = (r["γ"], r["δ"])
            by_delta[key] = by_delta.get(key, True) and r["holds"]
    gammas_ok = {g: any(ok for (gg, _), ok in by_delta.items() if gg == g) for g in cfg["gammas"]}
    failing = sorted({d for (g, d), ok in by_delta.items() if not ok})
    sec.verdict("Instance 2: L(w_t) > 2/η for every t ≤ 1 + 1/(59γ²) (for some δ)", "Crawshaw–Liu Thm 3.1 "
                "(crawshaw_liu.hard2_loss_above)", "existence, δ unrecorded", "some δ with t₂ > 1 + 1/(59γ²) at every η",
                "; ".join(f"γ={g:g}: {'a δ works' if ok else 'no scanned δ works'}" for g, ok in gammas_ok.items())
                + (f"; δ failing somewhere: {failing}" if failing else ""),
                "consistent" if gammas_ok and all(gammas_ok.values()) else "inconclusive",
                note="not 'holds': the paper's δ is unknown here, so only existence over the scanned δ is tested")
    tau_rows = [r for r in rows1 + rows2 if r["Thm 2.1 applies"]]
    reached = [r for r in tau_rows if r["τ_CL measured"] >= 0]
    worse = [r for r in reached if not r["τ_CL ≤ bound"]]
    quote_claim(ctx, sec, CLAIMS[1],
                shown=f"{len(reached)} of {len(tau_rows)} runs in the domain reached L ≤ 1/(8η); largest τ_CL = "
                      f"{max((r['τ_CL measured'] for r in reached), default=-1)}",
                witness=(f"{worse[0]['data']} at η = {worse[0]['η']!r}: τ_CL = {worse[0]['τ_CL measured']} > "
                         f"{worse[0]['τ_CL bound (Thm 2.1)']:.6g}") if worse else None)
