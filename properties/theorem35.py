"""Claims of Theorem 35 for general losses (paper §5; §10 rows 18–22) with the bounds of
:mod:`eoscheck.bounds.theorem35`: ρ(λ) = min_z λℓ(z) + z² from :mod:`eoscheck.bounds.rho` (exact to rounding;
the paper's Prop. 5 upper bounds on ρ would make the check weaker) and the Assumption 3 constants of
:attr:`eoscheck.losses.Loss.paper_constants`.  Table 1's rates (row 22) are fitted claims on the same bound.
"""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import theorem35
from eoscheck.datasets import synthetic, toy

from .bound_values import at
from .claims import Budget, Claim, Evaluation, FitSpec, claim, register
from .instances import Instance
from .numerics import allowance, average_allowance, log_slope, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import (crawshaw_liu_hard, log_uniform, loss_spec, losses, separable_datasets, single_point,
                         stepsize_batches, with_certificate)
from .exact_engine import (EOS_REACH, candidate_s, censored_first_times, first_hits, hit_cap, reaching_example,
                           reaching_instances, theorem1_canonical)

GENERAL = ("Assumption 1", "loss with 3A–3B (logistic, flat_exp, flat_poly)", "w0 = 0")
STABLE = ("Assumption 1", "loss with 3A–3C (logistic, flat_exp, flat_poly)", "w0 = 0")




def general_instances(budget: Budget, margin=(0.02, 0.9)):
    """Separable data, a drawn loss family (logistic, flat_exp(a), flat_poly(a), a ∈ [0.5, 3]), 6 stepsizes."""
    data_st = separable_datasets(n=(1, int(12 * budget.scale)), d=(1, 6), margin=margin)
    T = budget.steps(600)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        loss = draw(losses(("logistic", "flat_exp", "flat_poly"), a=(0.5, 3.0)))
        return Instance(data, loss_spec(loss), draw(stepsize_batches(0.25, 1024.0, size=6)), T)

    return inst()


def _stable_instances(budget: Budget):
    return general_instances(budget, margin=(0.15, 0.9))


@claim("thm35.eos_average", title=theorem35.EOS_AVERAGE.formula,
       source="Theorem 35, EoS phase (paper §5.1)", row=18, kind="exact", quantity="average loss up to t",
       direction="<=", domain="γ²ηt ≥ 1 (ρ is defined on [1, ∞))", assumptions=GENERAL,
       bound=theorem35.EOS_AVERAGE, strategy=general_instances, examples=6, explicit=theorem1_canonical)
def thm35_eos_average(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    loss = inst.loss_obj
    g = inst.gamma
    tt = np.maximum(A.t, 1)
    lam = g**2 * A.eta * tt
    mask = (A.t >= 1) & (lam >= 1)
    b = np.full(lam.shape, np.nan)
    b[mask] = at(theorem35.EOS_AVERAGE, loss=loss, eta=np.broadcast_to(A.eta, lam.shape)[mask], gamma=g,
                         t=np.broadcast_to(tt, lam.shape)[mask])
    allow = A.avg_L * average_allowance(A.t, A.wn.max(axis=1, keepdims=True), log_slope(loss)) + allowance(b)
    return worst_per_row(A.avg_L, b, allow, mask, "<=",
                         {"eta": A.eta, "t": A.t, "n": inst.data.n, "gamma": g, "d": inst.data.d},
                         best=safe_div(A.avg_L, b), best_meaning="measured/bound")


def _threshold15(inst: Instance, A: Arrays) -> np.ndarray:
    return at(theorem35.STABLE_THRESHOLD, loss=inst.loss_obj, eta=A.eta[:, 0], n=inst.data.n)


@claim("thm35.stable_monotone", title="(15) at s: L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n} ⇒ L(w_t) non-increasing for t ≥ s",
       source="Theorem 35, stable phase (paper §5.1)", row=19, kind="exact", quantity="L(w_{t+1})/L(w_t), t ≥ s",
       direction="<=", domain="first s meeting (15)", assumptions=STABLE, bound=theorem35.STABLE_THRESHOLD,
       strategy=_stable_instances, examples=6, explicit=theorem1_canonical)
def thm35_stable_monotone(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    s0 = A.first(A.logL <= np.log(_threshold15(inst, A))[:, None])
    ratio = np.exp(np.diff(A.logL, axis=1))
    allow = np.expm1(2 * rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]), slope=log_slope(inst.loss_obj)))
    j = np.arange(ratio.shape[1])[None, :]
    mask = (s0[:, None] >= 0) & (j >= s0[:, None])
    return worst_per_row(ratio, 1.0, allow, mask, "<=",
                         {"eta": A.eta, "t": A.t[:, 1:], "s": s0[:, None], "n": inst.data.n, "gamma": inst.gamma})


@claim("thm35.stable_bound", title=f"(15) at s ⇒ {theorem35.STABLE_BOUND.formula}",
       source="Theorem 35, stable phase (paper §5.1)", row=19, kind="exact", quantity="L(w_t), t > s",
       direction="<=", domain="every s meeting (15) (up to 48 per run), γ²η(t−s) ≥ 1", assumptions=STABLE,
       bound=theorem35.STABLE_BOUND, strategy=_stable_instances, examples=6, explicit=theorem1_canonical)
def thm35_stable_bound(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    loss, g = inst.loss_obj, inst.gamma
    ok = A.logL <= np.log(_threshold15(inst, A))[:, None]
    t = A.t[0]
    lags = np.arange(1, inst.steps + 1, dtype=float)
    evals = []
    for k in range(A.K):
        cand = candidate_s(ok[k])
        if cand.size == 0:
            continue
        lam = g**2 * A.eta[k, 0] * lags
        blag = np.full(lags.shape, np.nan)  # bound as a function of the lag t − s
        m = lam >= 1
        if m.any():
            blag[m] = at(theorem35.STABLE_BOUND, loss=loss, eta=A.eta[k, 0], gamma=g, t=lags[m], s=0.0)
        parts = []
        for s in cand:
            tt = t[s + 1:]
            b = blag[: tt.size]
            meas = A.L[k, s + 1:]
            parts.append((meas, b, meas * rel_allowance(A.wn[k, s + 1:], slope=log_slope(loss)) + allowance(b),
                          np.isfinite(b), tt,
                          np.full(tt.shape, float(s))))
        meas, b, allow, msk, tt, ss = (np.concatenate(p)[None] for p in zip(*parts))
        if msk.any():
            evals.append(worst_per_row(meas, b, allow, msk, "<=", {"eta": A.eta[k, 0], "t": tt, "s": ss,
                                                                    "n": inst.data.n, "gamma": g},
                                       best=safe_div(meas, b), best_meaning="measured/bound"))
    return Evaluation.concat(evals)


def _tau_explicit(inst: Instance, eta=None) -> np.ndarray:
    """Lemma 34's τ (exponential tail) or Lemma 33's (polynomial tail) at ``eta`` (default: the instance's
    stepsizes; the claim passes its run's)."""
    loss = inst.loss_obj
    return at(theorem35.tau_explicit(loss), loss=loss, eta=np.asarray(inst.etas if eta is None else eta, float),
              gamma=inst.gamma, n=inst.data.n)


#: Steps at scale 1 of the instances that reach τ_explicit: logistic or flat_exp(a ≤ 1.25), γ ≥ 0.8, n ≤ 4,
#: η ∈ [1/2, 4] (⌈τ⌉ ≤ 26,882 at the logistic's γ = 0.8, η = 4). Lemma 33's polynomial-tail τ (≥ 10¹⁰) is never
#: reached.
TAU_EXPLICIT_REACH = 30_000


def _tau_explicit_instances(budget: Budget):
    """:func:`general_instances` (T = 600·scale, below τ_explicit) and instances whose T reaches it."""
    reach = losses(("logistic", "flat_exp"), a=(0.5, 1.25)).map(loss_spec)
    return st.one_of(general_instances(budget),
                     reaching_instances(budget, _tau_explicit, TAU_EXPLICIT_REACH, reach, margin=(0.8, 0.95),
                                        etas=(0.5, 4.0)))


#: The EoS runs of thm1.tau (:data:`EOS_REACH`: the normalized toy set, η ∈ {20, 24, 32}, losses rising up to step 15)
#: reach τ_explicit too: ⌈τ⌉ = 4,417,102–6,391,200 steps, (15) met at s ≈ 2,250 (:func:`first_hits` runs 4096 steps).
TAU_EXPLICIT_EOS_REACH = 6_400_000


def _tau_explicit_canonical(budget: Budget) -> list[Instance]:
    return theorem1_canonical(budget) + [
        reaching_example(budget, _tau_explicit, TAU_EXPLICIT_REACH),
        reaching_example(budget, _tau_explicit, TAU_EXPLICIT_EOS_REACH, data=with_certificate(toy(normalized=True)),
                         etas=EOS_REACH["etas"])]


@claim("thm35.tau_explicit", title="(15) holds at some s ≤ τ_explicit (Lemma 33/34 conditions solved for τ)",
       source="Theorem 35 phase transition, explicit constants read off Lemmas 33–34 (paper §5.1 [D])", row=20,
       kind="exact", quantity="first s meeting (15)", direction="<=",
       domain="exponential tail: Lemma 34's condition; polynomial tail: Lemma 33's", assumptions=STABLE,
       bound=theorem35.TAU_EXPLICIT_EXP, strategy=_tau_explicit_instances, examples=6,
       explicit=_tau_explicit_canonical)
def thm35_tau_explicit(inst: Instance) -> Evaluation:
    return first_hits(inst, lambda run, A: A.logL <= np.log(_threshold15(run, A))[:, None], _tau_explicit,
                      "s meeting (15)")


# ---------------------------------------------------------------------------
# row 21: transition time with an exponential tail, τ = C₂·max{η, n}/γ²
# ---------------------------------------------------------------------------


def tau_C2_evaluate(inst: Instance) -> Evaluation:
    """First s meeting (15) against max{η, n}/γ², looked for up to :func:`hit_cap` steps (or T if longer), so the
    points with C₂·max{η, n}/γ² (loosened ×2) below that reach + 1 can fail."""
    A, meas, censored, reach, notes = censored_first_times(
        inst, lambda run, B: B.logL <= np.log(_threshold15(run, B))[:, None], hit_cap(inst), "(15)")
    shape = np.maximum(A.eta[:, 0], inst.data.n) / inst.gamma**2
    return Evaluation(meas, shape, 0.0, "<=", {"eta": A.eta[:, 0], "n": inst.data.n, "d": inst.data.d,
                                               "gamma": inst.gamma, "censored": censored.astype(float),
                                               "_horizon": reach},
                      notes=notes)


#: The losses of the C₂ claim: C₂ depends on the loss constants (C_e, C_g, C_β, ℓ(0)), so the claim is
#: calibrated and verified on this fixed family (its constant is the largest of theirs).
TAU_LOSSES = ("logistic", "flat_exp:a=0.5", "flat_exp:a=1.0", "flat_exp:a=2.0")


def _tau_calibration() -> list[Instance]:
    out = []
    for spec in TAU_LOSSES:
        for data in (toy(normalized=True), synthetic(8, 4, 0.2, seed=0), synthetic(20, 5, 0.15, seed=1),
                     crawshaw_liu_hard(6, 0.15)):
            out.append(Instance(with_certificate(data), spec, (1.0, 2.0, 4.0, 16.0, 64.0, 256.0), 4000))
        out.append(Instance(with_certificate(single_point()), spec, (1.0, 2.0, 4.0, 16.0), 4000))
    return out


def _tau_strategy(budget: Budget):
    data_st = separable_datasets(n=(1, int(16 * budget.scale)), d=(1, 6), margin=(0.12, 0.9))

    @st.composite
    def inst(draw):
        data = draw(data_st)
        spec = draw(st.sampled_from(TAU_LOSSES))
        return Instance(data, spec, draw(stepsize_batches(1.0, 1024.0, size=6)), budget.steps(3000))

    return inst()


def _tau_ladder_eta(b):
    return [Instance(with_certificate(synthetic(8, 4, 0.2, seed=3)), "logistic", tuple(np.geomspace(1, 1024, 11)),
                     b.steps(3000))]


def _tau_ladder_n(b):
    return [Instance(with_certificate(synthetic(n, 4, 0.2, seed=4)), "logistic", (8.0,), b.steps(3000))
            for n in (2, 4, 8, 16, 32)]


def _tau_ladder_gamma(b):
    return [Instance(with_certificate(synthetic(6, 3, g, seed=5)), "logistic", (8.0,), b.steps(4000))
            for g in (0.6, 0.4, 0.27, 0.18, 0.12)]


register(Claim(
    id="thm35.tau_exp_tail", title="exponential tail: (15) holds by τ = C₂·max{η, n}/γ²",
    source="Theorem 35, phase transition under 3D (paper §5.1); §10 row 21", row=21, kind="asymptotic",
    quantity="first s with L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n}", direction="<=",
    domain="η ≥ 1 (read into the statement: see erratum)",
    erratum="As printed, τ = C₂·max{η, n}/γ² cannot hold as η → 0: for n ≥ 2 the first time with "
            "L ≤ ℓ(0)/n grows like 1/η (gradient-flow regime), and the paper's own Lemma 34 condition gives "
            "τ ∝ n/(ηγ²) there.  This check first met it at η = 0.5 on a single point (n = 1), where the other "
            "term of (15), 1/(12C_β²η), binds.  Encoded for the large-stepsize regime η ≥ 1.",
    assumptions=("Assumption 1", "loss with 3A–3D: logistic, flat_exp(a), a ∈ {0.5, 1, 2}", "w0 = 0"),
    bound=theorem35.TAU_EXP_TAIL,
    strategy=_tau_strategy, evaluate=tau_C2_evaluate, examples=3,
    fit=FitSpec(shape="max{η, n}/γ²", constant="C2", calibration=_tau_calibration,
                calibration_doc="logistic and flat_exp(a) for a ∈ {0.5, 1, 2} (C₂ depends on the loss: verified on "
                                "the same losses) on toy-normalized, synthetic(8,4,0.2,0), "
                                "synthetic(20,5,0.15,1), crawshaw_liu_hard(6,0.15) with η ∈ {1,2,4,16,64,256}, and "
                                "the single point (n=1, γ=0.5) with η ∈ {1,2,4,16}; T = 4000",
                ladders={"eta": _tau_ladder_eta, "n": _tau_ladder_n, "gamma": _tau_ladder_gamma}),
))

register(Claim(
    id="thm35.tau_poly_tail", title="polynomial tail: τ ≍ max{η^{2/a}, η²}/γ² (through ψ⁻¹ with C₁)",
    source="Theorem 35 / Table 1 (paper §5.1); §10 row 21", row=21, kind="asymptotic",
    quantity="first s meeting (15)", direction="<=", bound=theorem35.TAU_PSI,
    assumptions=("Assumption 1", "flat_poly loss (3A–3C)", "w0 = 0"),
    unavailable="condition (15) needs L ≤ 1/(12C_β²η) with C_β = max{a, (a+1)2^a} (≥ 4 for a = 1); "
                "polynomial-tailed GD has L ≍ (ηt)^{−a/(a+2)}, so (15) is met only after ≳ 10⁶·η steps — "
                "beyond every profile's budget (the Table 1 loss rates are checked instead: table1.poly_rate)",
))


# ---------------------------------------------------------------------------
# row 22: Table 1 loss rates
# ---------------------------------------------------------------------------


#: Why every table1.poly_rate instance lies outside Theorem 35's hypotheses: its budgets T are far below the ≳ 10⁶·η
#: steps condition (15) needs (thm35.tau_poly_tail), so a rate measured there is a trend, never a verdict on Table 1.
TABLE1_TREND = "before condition (15) can hold — trend only"


def _table1_schedule(a: float | None, T: int, kind: str) -> float:
    """Table 1's stepsize: 1, or Θ(T) (logistic), Θ(T^{a/2}) (a ≤ 1), Θ(T^{1/2}) (a > 1), constant 1."""
    if kind == "one":
        return 1.0
    if a is None:
        return T / 64.0
    return float(T ** (a / 2 if a <= 1 else 0.5))


def table1_predicted(a: float | None, kind: str) -> float:
    """Table 1's loss exponent in T for the schedule (logistic η = 1: −1; η ∝ T: −2; poly: …)."""
    if a is None:
        return -1.0 if kind == "one" else -2.0
    if kind == "one":
        return -a / (a + 2)
    return -a / 2 if a <= 1 else -3 * a / (2 * a + 4)


def _table1_instance(data, spec: str, kind: str, Ts) -> Instance:
    from eoscheck.losses import get_loss

    loss = get_loss(spec)
    a = loss.params.get("a") if loss.family == "flat_poly" else None
    Ts = sorted({int(T) for T in Ts})
    etas = tuple(_table1_schedule(a, T, kind) for T in Ts)
    if len(set(etas)) < len(etas):  # η = 1 for all T: one run read at every T
        return Instance(data, spec, (1.0,), max(Ts), extra={"T": Ts, "schedule": kind, "a": a})
    return Instance(data, spec, etas, max(Ts), extra={"T": Ts, "schedule": kind, "a": a})


def table1_evaluate(inst: Instance) -> Evaluation:
    """L(w_T) against ρ̄(γ²ηT)/(γ²ηT) with ρ̄ = 1 + ln² (logistic) or λ^{2/(a+2)} (flat_poly), η from the schedule."""
    traj = inst.trajectory()
    Ts = np.asarray(inst.extra["T"], dtype=np.int64)
    rows = np.zeros(len(Ts), int) if traj.K == 1 else np.arange(len(Ts))
    L = traj.records["loss"][rows, Ts]
    eta = traj.eta[rows]
    lam = inst.gamma**2 * eta * Ts
    a = inst.extra.get("a")
    shape = (1 + np.log(lam) ** 2) / lam if a is None else lam ** (2 / (a + 2)) / lam
    return Evaluation(L, shape, 0.0, "<=", {"T": Ts, "eta": eta, "n": inst.data.n, "d": inst.data.d,
                                            "gamma": inst.gamma, "a": np.nan if a is None else a})


def _table1_calibration() -> list[Instance]:
    out = []
    Ts = [256, 512, 1024, 2048, 4096]
    for data in (with_certificate(synthetic(4, 3, 0.3, seed=0)), with_certificate(toy(normalized=True))):
        for spec in ("flat_poly:a=0.5", "flat_poly:a=1.0", "flat_poly:a=2.0"):
            for kind in ("one", "table"):
                out.append(_table1_instance(data, spec, kind, Ts))
    return out


def _table1_strategy(budget: Budget, specs=tuple(f"flat_poly:a={a!r}" for a in (0.5, 1.0, 2.0)),
                     kinds=("one", "table"), n_scale=8, margin=(0.1, 0.9)):
    """Separable data (n ≤ n_scale·scale), a loss of ``specs``, a schedule of ``kinds``, three budgets in [128, cap]."""
    data_st = separable_datasets(n=(1, int(n_scale * budget.scale)), d=(1, 6), margin=margin)
    cap = budget.steps(4096)

    @st.composite
    def inst(draw):
        data = draw(data_st)
        spec = specs[0] if len(specs) == 1 else draw(st.sampled_from(list(specs)))  # one choice: nothing drawn
        kind = kinds[0] if len(kinds) == 1 else draw(st.sampled_from(list(kinds)))
        Ts = [int(draw(log_uniform(128, cap))) for _ in range(3)]
        return _table1_instance(data, spec, kind, Ts)

    return inst()


register(Claim(
    id="table1.poly_rate",
    title="flat_poly(a): L(w_T) = O((γ²ηT)^{−a/(a+2)}); η = 1 gives T^{−a/(a+2)}, η = T^{a/2} (a ≤ 1) T^{−a/2}, "
          f"η = T^{{1/2}} (a > 1) T^{{−3a/(2a+4)}} — {TABLE1_TREND}",
    source="Table 1 (paper §5.1), from Theorem 35/6 and Prop. 5", row=22, kind="asymptotic", quantity="L(w_T)",
    direction="<=", domain="a ∈ {0.5, 1, 2}; Table 1's stepsize schedules with constant 1 (Table 1's rates hold once "
                           "τ ≤ T/2, i.e. once condition (15) holds, which needs ≳ 10⁶·η steps here, far beyond "
                           "every profile's T: see thm35.tau_poly_tail)",
    outside_hypotheses=TABLE1_TREND,
    assumptions=("Assumption 1", "flat_poly loss", "w0 = 0"), bound=theorem35.STABLE_BOUND,
    strategy=_table1_strategy, evaluate=table1_evaluate, examples=3,
    fit=FitSpec(shape="(γ²ηT)^{−a/(a+2)}", constant="C", calibration=_table1_calibration,
                calibration_doc="flat_poly a ∈ {0.5, 1, 2}, schedules η = 1 and Table 1's, on synthetic(4,3,0.3,0) "
                                "and toy-normalized, T ∈ {256, …, 4096}",
                ladders={"T": lambda b: [_table1_instance(with_certificate(synthetic(4, 3, 0.3, seed=6)),
                                                          "flat_poly:a=1.0", "table",
                                                          [2**k for k in range(7, 13 if b.scale < 2 else 15)])]},
                predicted_slopes={"T": table1_predicted(1.0, "table")}),
))


def _table1_log_calibration() -> list[Instance]:
    Ts = [256, 512, 1024, 2048, 4096]
    return [_table1_instance(with_certificate(d), "logistic", "one", Ts)
            for d in (synthetic(4, 3, 0.3, seed=0), toy(normalized=True), synthetic(10, 4, 0.15, seed=2))]


def _table1_log_strategy(budget: Budget):
    return _table1_strategy(budget, specs=("logistic",), kinds=("one",), n_scale=10, margin=(0.08, 0.9))


register(Claim(
    id="table1.logistic_rate", title="logistic, η = 1: L(w_T) = O(ln²(T)/T)",
    source="Table 1 column 1 (paper §5.1); small-stepsize rate (§9.7)", row=22, kind="asymptotic",
    quantity="L(w_T)", direction="<=", domain="η = 1", bound=theorem35.STABLE_BOUND,
    strategy=_table1_log_strategy, evaluate=table1_evaluate, examples=3,
    fit=FitSpec(shape="(1 + ln²(γ²ηT))/(γ²ηT)", constant="C", calibration=_table1_log_calibration,
                calibration_doc="logistic, η = 1, synthetic(4,3,0.3,0), toy-normalized, synthetic(10,4,0.15,2), "
                                "T ∈ {256, …, 4096}",
                ladders={"T": lambda b: [_table1_instance(with_certificate(synthetic(4, 3, 0.3, seed=7)), "logistic",
                                                          "one", [2**k for k in range(7, 13 if b.scale < 2 else 15)])]},
                predicted_slopes={"T": -1.0}),
))
