"""Asymptotic and heuristic claims (paper §10 rows 10, 12, 15, 16, 21, 22).

Each asymptotic claim compares a measured quantity with the *shape* of its
bound (no unknown constant); :mod:`eoscheck.properties.fitted` fits the
constant, verifies it on wider draws and runs the scaling ladders.  The
calibration sweeps below are fixed and documented (``calibration_doc``); the
verification strategies draw from wider ranges.  Heuristic claims (rows 15,
16: statements read off the paper's figures, not theorems) report a
*warning*, never a falsification.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from eoscheck.datasets import synthetic, thm3, toy

from eoscheck.bounds import corollary2, theorem3, theorem35

from .bound_values import at
from .claims import Budget, Claim, Evaluation, FitSpec, register
from .instances import Instance
from .numerics import log_grid_indices, rel_allowance
from .observe import Arrays
from .strategies import (certificate, crawshaw_liu_hard, log_uniform, separable_datasets, single_point,
                         stepsize_batches, with_certificate)

LN2 = math.log(2.0)


def _cert(data):
    return with_certificate(data)


# ---------------------------------------------------------------------------
# row 10: acceleration rate with η ∝ T (Corollary 2's schedule)
# ---------------------------------------------------------------------------


def _cor2_rate_instance(data, Ts) -> Instance:
    g = certificate(data).gamma
    Ts = sorted({int(T) for T in Ts})
    return Instance(data, "logistic", tuple(float(at(corollary2.ETA, T=T, gamma=g)) for T in Ts), max(Ts), extra={"T": Ts})


def cor2_rate_evaluate(inst: Instance) -> Evaluation:
    traj = inst.trajectory()
    Ts = np.asarray(inst.extra["T"], dtype=np.int64)
    L = traj.records["loss"][np.arange(len(Ts)), Ts]
    shape = at(corollary2.BOUND, T=Ts, gamma=inst.gamma) / 480  # ln²(γ⁴T²)/(γ⁴T²)
    return Evaluation(L, shape, 0.0, "<=", {"T": Ts, "eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                            "gamma": inst.gamma})


def _T0(g: float) -> int:
    return int(math.ceil(30 / g**2))


def _cor2_calibration() -> list[Instance]:
    out = []
    for data in (_cert(single_point()), _cert(synthetic(4, 3, 0.3, seed=0)), _cert(synthetic(8, 5, 0.2, seed=1))):
        T0 = _T0(certificate(data).gamma)
        out.append(_cor2_rate_instance(data, [T0 * 2**k for k in range(4) if T0 * 2**k <= 8000]))
    return out


def _cor2_strategy(budget: Budget):
    cap = budget.steps(4000)
    data_st = separable_datasets(n=(1, int(8 * budget.scale)), d=(1, 6), margin=(0.1, 1.0))

    @st.composite
    def inst(draw):
        data = draw(data_st)
        T0 = _T0(certificate(data).gamma)
        hi = max(T0, cap)
        Ts = [min(hi, int(draw(log_uniform(T0 / 2, hi)))) for _ in range(3)]
        return _cor2_rate_instance(data, [max(8, T) for T in Ts])

    return inst()


def _cor2_T_ladder(budget: Budget):
    data = _cert(synthetic(4, 3, 0.3, seed=2))
    T0 = _T0(certificate(data).gamma)
    return [_cor2_rate_instance(data, [T0 * 2**k for k in range(5 if budget.scale < 2 else 7)])]


register(Claim(
    id="cor2.rate", title="η = γ²T/120 (η ∝ T) ⇒ L(w_T) = O(ln²(T)/T²): acceleration",
    source="Corollary 2 (paper §3), Table 1 column 2", row=10, kind="asymptotic",
    quantity="L(w_T)", direction="<=", domain="η = γ²T/120, T ≥ 15/γ² (T_min relaxed, as the authors conjecture)",
    bound_id=corollary2.BOUND.id, strategy=_cor2_strategy, evaluate=cor2_rate_evaluate, examples=3,
    fit=FitSpec(shape="ln²(γ⁴T²)/(γ⁴T²)", constant="C",
                calibration=_cor2_calibration,
                calibration_doc="single point (γ=0.5), synthetic(4,3,γ=0.3,seed 0), synthetic(8,5,γ=0.2,seed 1); "
                                "T = ⌈30/γ²⌉·2^k, k=0..3 (T ≤ 8000), η = γ²T/120",
                ladders={"T": _cor2_T_ladder}, predicted_slopes={"T": -2.0}),
))


# ---------------------------------------------------------------------------
# rows 12 and 10: Theorem 3's lower bound for monotone runs
# ---------------------------------------------------------------------------


def thm3_lower_evaluate(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    monotone = ~(np.diff(A.logL, axis=1) > np.log1p(2 * rel)).any(axis=1)  # the theorem's hypothesis
    ts = log_grid_indices(inst.steps, 48)
    rows = np.flatnonzero(monotone)
    if rows.size == 0 or ts.size == 0:
        return Evaluation(np.zeros(0), np.zeros(0), direction=">=",
                          notes=["no monotone run (Theorem 3's hypothesis) in this instance"])
    L = A.L[np.ix_(rows, ts)]
    shape = 1.0 / np.broadcast_to(ts[None, :], L.shape).astype(float)
    return Evaluation(L.ravel(), shape.ravel(), (L * rel_allowance(A.wn[np.ix_(rows, ts)])).ravel(), ">=",
                      {"t": np.broadcast_to(ts[None, :], L.shape).ravel(),
                       "eta": np.broadcast_to(A.eta[rows], L.shape).ravel(), "n": 2, "d": 2, "gamma": inst.gamma})


def _thm3_instance(g: float, etas, T: int) -> Instance:
    data = with_certificate(thm3(g), candidates=[np.array([1.0, 0.0])])
    return Instance(data, "logistic", tuple(sorted(etas)), T)


def _thm3_calibration() -> list[Instance]:
    return [_thm3_instance(g, (0.5, 2.0, 8.0, 14.0), 2000) for g in (0.01, 0.03, 0.06, 0.09)]


def _thm3_strategy(budget: Budget):
    T = budget.steps(4000)

    @st.composite
    def inst(draw):
        g = draw(log_uniform(0.003, 0.0999))
        etas = draw(stepsize_batches(0.05, 40 * LN2, size=5, drawn=2))  # non-monotone rows are dropped
        return _thm3_instance(g, etas, T)

    return inst()


register(Claim(
    id="thm3.lower", title="Theorem 3's data, monotone GD: L(w_t) ≥ c₀/t for all t ≥ 1",
    source="Theorem 3 (paper §4); §10 rows 10 and 12", row=12, kind="asymptotic", quantity="L(w_t)",
    direction=">=", domain="runs whose loss is non-increasing from t = 0; 0 < γ < 0.1",
    assumptions=("Theorem 3 data", "logistic loss", "w0 = 0", "monotone run"), bound_id=theorem3.LOWER.id,
    strategy=_thm3_strategy, evaluate=thm3_lower_evaluate, examples=3,
    fit=FitSpec(shape="1/t", constant="c0", calibration=_thm3_calibration,
                calibration_doc="thm3(γ) for γ ∈ {0.01, 0.03, 0.06, 0.09}, η ∈ {0.5, 2, 8, 14}, T = 2000, "
                                "t on a 48-point log grid; one constant for all γ (the theorem allows c₀(γ): "
                                "the γ ladder is reported, not judged)",
                ladders={"t": lambda b: [_thm3_instance(0.05, (4.0,), b.steps(8000))],
                         "eta": (lambda b: [_thm3_instance(0.05, tuple(np.geomspace(0.1, 14, 8)), b.steps(2000))],
                                 False),
                         "gamma": (lambda b: [_thm3_instance(g, (4.0,), b.steps(2000))
                                              for g in np.geomspace(0.005, 0.09, 6)], False)},
                predicted_slopes={"t": -1.0}),
))


# ---------------------------------------------------------------------------
# row 21: transition time with an exponential tail, τ = C₂·max{η, n}/γ²
# ---------------------------------------------------------------------------


def tau_C2_evaluate(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    loss = inst.loss_obj
    thr = at(theorem35.STABLE_THRESHOLD, loss=loss, eta=A.eta[:, 0], n=inst.data.n)
    cond = A.logL <= np.log(thr)[:, None]
    s = A.first(cond).astype(float)
    censored = s < 0
    meas = np.where(censored, inst.steps + 1.0, s)  # not reached: s* > T (a violation only if T ≥ C·shape)
    shape = np.maximum(A.eta[:, 0], inst.data.n) / inst.gamma**2
    notes = [f"{int(censored.sum())} run(s) had not met (15) by T={inst.steps} (counted as s* = T+1)"] \
        if censored.any() else []
    return Evaluation(meas, shape, 0.0, "<=", {"eta": A.eta[:, 0], "n": inst.data.n, "d": inst.data.d,
                                               "gamma": inst.gamma, "censored": censored.astype(float)},
                      notes=notes)


#: The losses of the C₂ claim: C₂ depends on the loss constants (C_e, C_g, C_β, ℓ(0)), so the claim is
#: calibrated and verified on this fixed family (its constant is the largest of theirs).
TAU_LOSSES = ("logistic", "flat_exp:a=0.5", "flat_exp:a=1.0", "flat_exp:a=2.0")


def _tau_calibration() -> list[Instance]:
    out = []
    for spec in TAU_LOSSES:
        for data in (toy(normalized=True), synthetic(8, 4, 0.2, seed=0), synthetic(20, 5, 0.15, seed=1),
                     crawshaw_liu_hard(6, 0.15)):
            out.append(Instance(_cert(data), spec, (1.0, 2.0, 4.0, 16.0, 64.0, 256.0), 4000))
        out.append(Instance(_cert(single_point()), spec, (1.0, 2.0, 4.0, 16.0), 4000))
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
    return [Instance(_cert(synthetic(8, 4, 0.2, seed=3)), "logistic", tuple(np.geomspace(1, 1024, 11)), b.steps(3000))]


def _tau_ladder_n(b):
    return [Instance(_cert(synthetic(n, 4, 0.2, seed=4)), "logistic", (8.0,), b.steps(3000)) for n in (2, 4, 8, 16, 32)]


def _tau_ladder_gamma(b):
    return [Instance(_cert(synthetic(6, 3, g, seed=5)), "logistic", (8.0,), b.steps(4000))
            for g in (0.6, 0.4, 0.27, 0.18, 0.12)]


register(Claim(
    id="thm35.tau_exp_tail", title="exponential tail: (15) holds by τ = C₂·max{η, n}/γ²",
    source="Theorem 35, phase transition under 3D (paper §5.1); §10 row 21", row=21, kind="asymptotic",
    quantity="first s with L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n}", direction="<=",
    domain="η ≥ 1 (read into the statement: see erratum)",
    erratum="As printed, τ = C₂·max{η, n}/γ² cannot hold as η → 0: for n ≥ 2 the first time with "
            "L ≤ ℓ(0)/n grows like 1/η (gradient-flow regime; found by this check at η = 0.5, n = 1), and the "
            "paper's own Lemma 34 condition gives τ ∝ n/(ηγ²) there.  Encoded for the large-stepsize regime η ≥ 1.",
    assumptions=("Assumption 1", "loss with 3A–3D: logistic, flat_exp(a), a ∈ {0.5, 1, 2}", "w0 = 0"),
    bound_id=theorem35.TAU_EXP_TAIL.id,
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
    quantity="first s meeting (15)", direction="<=", bound_id=theorem35.TAU_PSI.id,
    assumptions=("Assumption 1", "flat_poly loss (3A–3C)", "w0 = 0"),
    unavailable="condition (15) needs L ≤ 1/(12C_β²η) with C_β = max{a, (a+1)2^a} (≥ 4 for a = 1); "
                "polynomial-tailed GD has L ≍ (ηt)^{−a/(a+2)}, so (15) is met only after ≳ 10⁶·η steps — "
                "beyond every profile's budget (the Table 1 loss rates are checked instead: table1.poly_rate)",
))


# ---------------------------------------------------------------------------
# row 22: Table 1 loss rates
# ---------------------------------------------------------------------------


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
    for data in (_cert(synthetic(4, 3, 0.3, seed=0)), _cert(toy(normalized=True))):
        for spec in ("flat_poly:a=0.5", "flat_poly:a=1.0", "flat_poly:a=2.0"):
            for kind in ("one", "table"):
                out.append(_table1_instance(data, spec, kind, Ts))
    return out


def _table1_strategy(budget: Budget):
    data_st = separable_datasets(n=(1, int(8 * budget.scale)), d=(1, 6), margin=(0.1, 0.9))
    cap = budget.steps(4096)

    @st.composite
    def inst(draw):
        data = draw(data_st)
        a = draw(st.sampled_from([0.5, 1.0, 2.0]))
        kind = draw(st.sampled_from(["one", "table"]))
        Ts = [int(draw(log_uniform(128, cap))) for _ in range(3)]
        return _table1_instance(data, f"flat_poly:a={a!r}", kind, Ts)

    return inst()


register(Claim(
    id="table1.poly_rate",
    title="flat_poly(a): L(w_T) = O((γ²ηT)^{−a/(a+2)}); η = 1 gives T^{−a/(a+2)}, η = T^{a/2} (a ≤ 1) T^{−a/2}, "
          "η = T^{1/2} (a > 1) T^{−3a/(2a+4)}",
    source="Table 1 (paper §5.1), from Theorem 35/6 and Prop. 5", row=22, kind="asymptotic", quantity="L(w_T)",
    direction="<=", domain="a ∈ {0.5, 1, 2}; Table 1's stepsize schedules with constant 1",
    assumptions=("Assumption 1", "flat_poly loss", "w0 = 0"), bound_id=theorem35.STABLE_BOUND.id,
    strategy=_table1_strategy, evaluate=table1_evaluate, examples=3,
    fit=FitSpec(shape="(γ²ηT)^{−a/(a+2)}", constant="C", calibration=_table1_calibration,
                calibration_doc="flat_poly a ∈ {0.5, 1, 2}, schedules η = 1 and Table 1's, on synthetic(4,3,0.3,0) "
                                "and toy-normalized, T ∈ {256, …, 4096}",
                ladders={"T": lambda b: [_table1_instance(_cert(synthetic(4, 3, 0.3, seed=6)), "flat_poly:a=1.0",
                                                          "table", [2**k for k in range(7, 13 if b.scale < 2 else 15)])]},
                predicted_slopes={"T": table1_predicted(1.0, "table")}),
))


def _table1_log_calibration() -> list[Instance]:
    Ts = [256, 512, 1024, 2048, 4096]
    return [_table1_instance(_cert(d), "logistic", "one", Ts)
            for d in (synthetic(4, 3, 0.3, seed=0), toy(normalized=True), synthetic(10, 4, 0.15, seed=2))]


def _table1_log_strategy(budget: Budget):
    data_st = separable_datasets(n=(1, int(10 * budget.scale)), d=(1, 6), margin=(0.08, 0.9))
    cap = budget.steps(4096)

    @st.composite
    def inst(draw):
        data = draw(data_st)
        return _table1_instance(data, "logistic", "one", [int(draw(log_uniform(128, cap))) for _ in range(3)])

    return inst()


register(Claim(
    id="table1.logistic_rate", title="logistic, η = 1: L(w_T) = O(ln²(T)/T)",
    source="Table 1 column 1 (paper §5.1); small-stepsize rate (§9.7)", row=22, kind="asymptotic",
    quantity="L(w_T)", direction="<=", domain="η = 1", bound_id=theorem35.STABLE_BOUND.id,
    strategy=_table1_log_strategy, evaluate=table1_evaluate, examples=3,
    fit=FitSpec(shape="(1 + ln²(γ²ηT))/(γ²ηT)", constant="C", calibration=_table1_log_calibration,
                calibration_doc="logistic, η = 1, synthetic(4,3,0.3,0), toy-normalized, synthetic(10,4,0.15,2), "
                                "T ∈ {256, …, 4096}",
                ladders={"T": lambda b: [_table1_instance(_cert(synthetic(4, 3, 0.3, seed=7)), "logistic", "one",
                                                          [2**k for k in range(7, 13 if b.scale < 2 else 15)])]},
                predicted_slopes={"T": -1.0}),
))


# ---------------------------------------------------------------------------
# rows 15 and 16: heuristics read off Figure 1 (warnings, never failures)
# ---------------------------------------------------------------------------


def _plateau_strategy(budget: Budget):
    data_st = separable_datasets(n=(1, int(8 * budget.scale)), d=(1, 5), margin=(0.1, 0.9))
    T = budget.steps(4000)

    @st.composite
    def inst(draw):
        return Instance(draw(data_st), "logistic", draw(stepsize_batches(1.0, 64.0, size=5)), T)

    return inst()


def plateau_evaluate(inst: Instance) -> Evaluation:
    """|ln(γ²ηT·L(w_T))| ≤ ln 2 for runs stable since T/8 (the factor-2 band is the documented warning level)."""
    A = Arrays.of(inst.trajectory())
    T = inst.steps
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    up = np.diff(A.logL, axis=1) > np.log1p(2 * rel)
    stable = ~up[:, T // 8:].any(axis=1)
    prod = inst.gamma**2 * A.eta[:, 0] * T * A.L[:, T]
    dev = np.abs(np.log(prod))
    return Evaluation(dev[stable], np.full(stable.sum(), LN2), 0.0, "<=",
                      {"eta": A.eta[stable, 0], "T": T, "n": inst.data.n, "gamma": inst.gamma,
                       "plateau": prod[stable]})


register(Claim(
    id="fig1.plateau", title="γ²ηt·L(w_t) → 1 as t → ∞ (L(w_t)·ηt flat at 1/γ²)",
    source="Figure 1(b,d) and the heuristic of paper §2.4; §10 row 15", row=15, kind="heuristic",
    quantity="|ln(γ²ηT·L(w_T))|", direction="<=", domain="runs monotone after T/8; factor-2 band",
    strategy=_plateau_strategy, evaluate=plateau_evaluate, examples=3),
)


def larger_eta_evaluate(inst: Instance) -> Evaluation:
    """Among runs monotone after T/4, L(w_T) must not increase with η (ratio of consecutive η's ≤ 1)."""
    A = Arrays.of(inst.trajectory())
    T = inst.steps
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    stable = ~(np.diff(A.logL, axis=1)[:, T // 4:] > np.log1p(2 * rel[:, T // 4:])).any(axis=1)
    rows = np.flatnonzero(stable)
    if rows.size < 2:
        return Evaluation(np.zeros(0), np.zeros(0))
    LT = A.L[rows, T]
    r = LT[1:] / LT[:-1]
    return Evaluation(r, 1.0, 4 * rel_allowance(A.wn[rows[1:], T]), "<=",
                      {"eta": A.eta[rows[1:], 0], "eta_prev": A.eta[rows[:-1], 0], "T": T, "gamma": inst.gamma})


register(Claim(
    id="fig1.larger_eta_smaller_loss", title="once stabilized, a larger η gives a smaller loss",
    source="Figure 1(a,c) (paper §8.1); §10 row 16", row=16, kind="heuristic",
    quantity="L(w_T; η′)/L(w_T; η) for η′ > η", direction="<=", domain="runs monotone after T/4",
    strategy=_plateau_strategy, evaluate=larger_eta_evaluate, examples=3),
)
