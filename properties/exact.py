"""Exact claims for logistic regression (paper §2, §3, §4, §9.5, §9.7; §10 rows 1–9, 11, 13, 14, 26, 27).

Every claim here has explicit constants.  It is checked on the trajectory the
engine computes, and the only tolerance is the floating-point allowance of
:mod:`eoscheck.properties.numerics` (never a tuned slack).  Where §11 (errata)
says the paper's statement is too strong or ambiguous, the corrected statement
is encoded and the claim's ``erratum`` says so.

Most claims share the instances of :func:`theorem1_instances` (so a batched
run is computed once and reused through the run cache); the per-step
statements that hold from any starting point (Lemma 10, its proof inequality,
Lemma 7, the descent lemma) also draw w₀ ≠ 0.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from eoscheck.datasets import Dataset, thm3

from eoscheck.bounds import classics, corollary2, crawshaw_liu, theorem1, theorem3, theorem4

from .bound_values import at
from .claims import Budget, Evaluation, claim
from .instances import Instance
from .numerics import allowance, average_allowance, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import (certificate, initial_points, log_uniform, separable_datasets,
                         stepsize_batches, with_certificate)

LN2 = math.log(2.0)
THM1 = ("Assumption 1", "logistic loss", "w0 = 0")
ANY_START = ("‖x_i‖ ≤ 1", "logistic loss", "any w0")


# ---------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------


def theorem1_instances(budget: Budget, w0: bool = False):
    """Separable data, logistic loss, 8 stepsizes in [2⁻², 2¹⁰] (paper §10 row 3), T = 600·scale.

    With ``w0`` a nonzero start of norm ≤ 3 is drawn too (for the claims that hold from any w₀).
    """
    nmax = int(min(12 * budget.scale, 120))
    dmax = int(min(6 * budget.scale, 40))
    data_st = separable_datasets(n=(1, nmax), d=(1, dmax), margin=(0.02, 0.9))
    T = budget.steps(600)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        etas = draw(stepsize_batches(0.25, 1024.0, size=8, drawn=2))
        start = None
        if w0:
            start = tuple(float(v) for v in draw(initial_points(data.d, (0.0, 3.0))))
        return Instance(data, "logistic", etas, T, w0=start)

    return inst()


def _any_start(budget: Budget):
    return theorem1_instances(budget, w0=True)


def theorem1_canonical(budget: Budget, loss: str = "logistic") -> list[Instance]:
    """The canonical datasets, each with 8 stepsizes log-spaced over [2⁻², 2¹⁰], w₀ = 0: tried first."""
    from .strategies import canonical_cases

    etas = tuple(float(e) for e in np.geomspace(0.25, 1024.0, 8))
    return [Instance(c, loss, etas, budget.steps(600)) for c in canonical_cases()]


def _params(inst: Instance, A: Arrays) -> dict:
    return {"eta": A.eta, "t": A.t, "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma}


# ---------------------------------------------------------------------------
# Lemma 10 and its proof inequality (rows 1, 2)
# ---------------------------------------------------------------------------


@claim("lemma10.monotone", title="If L(w_s) ≤ 2/η then L(w_t) is non-increasing for all t ≥ s",
       source="Lemma 10 (paper §2.2)", row=1, kind="exact", quantity="L(w_{t+1})/L(w_t) for t ≥ s",
       direction="<=", domain="every s with L(w_s) ≤ 2/η; any w0 (Lemma 10 needs only ‖x‖ ≤ 1)",
       assumptions=ANY_START, bound_id=theorem1.MONOTONE_THRESHOLD.id, strategy=_any_start, examples=6, explicit=theorem1_canonical)
def lemma10_monotone(inst: Instance) -> Evaluation:
    return monotone_after(inst, lambda eta, n: 2 / eta, paper_c=2)


def monotone_after(inst: Instance, threshold, paper_c: float = 2) -> Evaluation:
    """"L(w_s) ≤ threshold(η, n) ⇒ L non-increasing after s", checked from the first such s."""
    A = Arrays.of(inst.trajectory())
    s0 = A.first(A.logL <= np.log(threshold(A.eta, inst.data.n)))
    ratio = np.exp(np.diff(A.logL, axis=1))
    wmax = np.maximum(A.wn[:, 1:], A.wn[:, :-1])
    allow = np.expm1(2 * rel_allowance(wmax))
    j = np.arange(ratio.shape[1])[None, :]
    mask = (s0[:, None] >= 0) & (j >= s0[:, None])
    # how loose 2/η is: the largest c with "L(w_s) ≤ c/η ⇒ monotone after s" on this run
    up = np.log(ratio) > np.log1p(allow)
    last_up = np.where(up.any(axis=1), ratio.shape[1] - 1 - np.argmax(up[:, ::-1], axis=1), -1)
    best = np.full(A.K, np.inf)
    for k in np.flatnonzero(last_up >= 0):
        best[k] = A.eta[k, 0] * A.L[k, : last_up[k] + 1].min()
    return worst_per_row(ratio, 1.0, allow, mask, "<=", _params(inst, A) | {"t": A.t[:, 1:], "s": s0[:, None]},
                         best=best, best_reduce="min",
                         best_meaning=f"largest c with L(w_s) ≤ c/η ⇒ monotone after s (claim: c = {paper_c:g})")


@claim("lemma10.log_smoothness", title="ln L(w_{t+1}) ≤ ln L(w_t) − η(1/L(w_t) − η/2)‖∇L(w_t)‖² at every step",
       source="Lemma 10 proof (1-smoothness of ln L; paper §2.2)", row=2, kind="exact",
       quantity="β needed = 2(ln L_{t+1} − ln L_t + η‖∇L‖²/L)/(η²‖∇L‖²)", direction="<=",
       domain="every step, EoS phase included; any w0", assumptions=ANY_START, bound_id=theorem1.LOG_DESCENT.id,
       strategy=_any_start, examples=6, explicit=theorem1_canonical)
def lemma10_log_smoothness(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    dlog = np.diff(A.logL, axis=1)
    g2 = A.gn[:, :-1] ** 2
    with np.errstate(over="ignore", invalid="ignore"):
        q = A.eta * g2 * np.exp(-A.logL[:, :-1])
        v = A.eta**2 * g2
        beta = safe_div(2 * (dlog + q), v)
    rel = rel_allowance(np.maximum(A.wn[:, :-1], A.wn[:, 1:]))
    allow = safe_div(2 * (2 * rel + 3 * rel * np.abs(q) + allowance(q, v / 2, A.logL[:, :-1], A.logL[:, 1:])), v)
    mask = (v > 0) & np.isfinite(q) & np.isfinite(v)
    return worst_per_row(beta, 1.0, allow, mask, "<=", _params(inst, A) | {"t": A.t[:, :-1]}, best=beta,
                         best_meaning="smoothness constant of ln L needed along the path (paper: 1)")


# ---------------------------------------------------------------------------
# Theorem 1 / Lemmas 8, 9 (rows 3, 4, 5)
# ---------------------------------------------------------------------------


def _domain(inst: Instance, A: Arrays) -> np.ndarray:
    return (A.t >= 1) & (inst.gamma**2 * A.eta * A.t >= 1)


@claim("thm1.eos_average", title="(1/t)Σ_{k<t} L(w_k) ≤ (1 + ln²(γ²ηt) + η²/4)/(γ²ηt)",
       source="Theorem 1 / Lemma 8 (paper §2)", row=3, kind="exact", quantity="average loss up to t",
       direction="<=", domain="γ²ηt ≥ 1 (the proof's log argument; erratum §11.2)", assumptions=THM1,
       bound_id=theorem1.EOS_AVERAGE.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_eos_average(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    g = inst.gamma
    b = at(theorem1.EOS_AVERAGE, eta=A.eta, gamma=g, t=np.maximum(A.t, 1))
    allow = A.avg_L * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(b)
    return worst_per_row(A.avg_L, b, allow, _domain(inst, A), "<=", _params(inst, A), best=A.avg_L / b,
                         best_meaning="measured/bound (the constant that would still hold)")


@claim("thm1.w_norm", title="‖w_t‖ ≤ (√2 + 2 ln(γ²ηt) + η)/γ", source="Lemma 8 (paper §2.2)", row=4, kind="exact",
       quantity="‖w_t‖", direction="<=", domain="γ²ηt ≥ 1", assumptions=THM1, bound_id=theorem1.W_NORM.id,
       strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_w_norm(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    b = at(theorem1.W_NORM, eta=A.eta, gamma=inst.gamma, t=np.maximum(A.t, 1))
    allow = allowance(A.wn, b)
    return worst_per_row(A.wn, b, allow, _domain(inst, A), "<=", _params(inst, A), best=A.wn / b,
                         best_meaning="measured/bound")


@claim("lemma9.G_average", title="(1/t)Σ_{k<t} G(w_k) ≤ (√2 + 2 ln(γ²ηt) + η)/(γ²ηt)",
       source="Lemma 9 (paper §2.2)", row=5, kind="exact", quantity="average gradient potential up to t",
       direction="<=", domain="γ²ηt ≥ 1", assumptions=THM1, bound_id=theorem1.G_AVERAGE.id,
       strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def lemma9_G_average(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    b = at(theorem1.G_AVERAGE, eta=A.eta, gamma=inst.gamma, t=np.maximum(A.t, 1))
    allow = A.avg_G * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(b)
    return worst_per_row(A.avg_G, b, allow, _domain(inst, A), "<=", _params(inst, A), best=A.avg_G / b,
                         best_meaning="measured/bound")


@claim("lemma9.perceptron_step", title="⟨w_{t+1} − w_t, w*⟩ ≥ γηG(w_t) at every step",
       source="Lemma 9 proof (perceptron argument; paper §2.2)", row=5, kind="exact",
       quantity="⟨w_{t+1} − w_t, w*⟩", direction=">=", domain="every step; any w0",
       assumptions=("Assumption 1", "logistic loss", "any w0"), bound_id=theorem1.PERCEPTRON_STEP.id,
       strategy=_any_start, examples=6, explicit=theorem1_canonical)
def lemma9_perceptron_step(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    dproj = np.diff(A.proj, axis=1)
    b = inst.gamma * A.eta * A.G[:, :-1]
    allow = allowance(A.proj[:, 1:], A.proj[:, :-1], A.wn[:, 1:], A.wn[:, :-1]) + b * rel_allowance(A.wn[:, :-1])
    mask = np.isfinite(b)
    return worst_per_row(dproj, b, allow, mask, ">=", _params(inst, A) | {"t": A.t[:, :-1]},
                         best=safe_div(dproj, b),
                         best_meaning="smallest ⟨Δw, w*⟩/(γηG) (paper: ≥ 1)")


# ---------------------------------------------------------------------------
# Lemma 7 (row 6)
# ---------------------------------------------------------------------------


@claim("lemma7.split_step", title="2⟨∇L(w_t), u₂⟩ + η‖∇L(w_t)‖² ≤ 0 for u₂ = (η/2γ)w*",
       source="Lemma 7 proof (paper §2.2)", row=6, kind="exact",
       quantity="η‖∇L(w_t)‖² against ⟨w_{t+1} − w_t, w*⟩/γ", direction="<=", domain="every step; any w0",
       assumptions=("Assumption 1", "logistic loss", "any w0"), bound_id=theorem1.SPLIT_STEP.id, strategy=_any_start, examples=6, explicit=theorem1_canonical)
def lemma7_split_step(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    # 2⟨∇L, u₂⟩ = (η/γ)⟨∇L, w*⟩ = −⟨w_{t+1} − w_t, w*⟩/γ
    meas = A.eta * A.gn[:, :-1] ** 2
    b = np.diff(A.proj, axis=1) / inst.gamma
    allow = allowance(A.proj[:, 1:], A.proj[:, :-1], A.wn[:, 1:], A.wn[:, :-1]) / inst.gamma \
        + meas * 2 * rel_allowance(A.wn[:, :-1])
    mask = np.isfinite(meas)
    return worst_per_row(meas, b, allow, mask, "<=", _params(inst, A) | {"t": A.t[:, :-1]}, best=safe_div(meas, b),
                         best_meaning="η‖∇L‖²/(⟨Δw, w*⟩/γ)")


def _lemma7_instances(budget: Budget):
    base = theorem1_instances(budget, w0=True)

    @st.composite
    def inst(draw) -> Instance:
        i = draw(base)
        cert = certificate(i.data)
        a = draw(st.floats(0.0, 30.0))
        b = draw(st.floats(0.0, 10.0))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        v = rng.standard_normal(i.data.d)
        v -= (v @ cert.w_star) * cert.w_star
        nv = np.linalg.norm(v)
        v = v / nv if nv > 1e-12 else np.zeros_like(v)
        u1 = a * cert.w_star + b * v
        return i.with_(extra={"u1": u1.tolist()})

    return inst()


def _mean_logistic(Z: np.ndarray, w: np.ndarray) -> float:
    """L(w) = mean ln(1 + e^{−zᵢᵀw}) by numpy's logaddexp (independent of the engine)."""
    return float(np.mean(np.logaddexp(0.0, -(Z @ w))))


@claim("lemma7.split_bound",
       title="‖w_t − u‖²/(2ηt) + (1/t)Σ_{k<t} L(w_k) ≤ L(u₁) + ‖w₀ − u‖²/(2ηt), u = u₁ + (η/2γ)w*",
       source="Lemma 7 (paper §2.2)", row=6, kind="exact", quantity="left side of Lemma 7", direction="<=",
       domain="t ≥ 1, any u₁ (drawn), any w0", assumptions=("Assumption 1", "logistic loss", "any w0"),
       bound_id=None, strategy=_lemma7_instances, examples=5)
def lemma7_split_bound(inst: Instance) -> Evaluation:
    cert = inst.cert
    u1 = np.asarray(inst.extra["u1"], dtype=np.float64)
    nu1 = float(np.linalg.norm(u1))
    A = Arrays.of(inst.trajectory())
    if nu1 > 0:
        pu1 = inst.trajectory(w_star=u1 / nu1).records["w_proj"] * nu1  # ⟨w_t, u₁⟩
    else:
        pu1 = np.zeros_like(A.proj)
    g, eta = inst.gamma, A.eta
    c = eta / (2 * g)  # u₂ = c·w*
    uu = nu1**2 + 2 * c * float(u1 @ cert.w_star) + c**2  # ‖u‖²
    dist2 = A.wn**2 - 2 * (pu1 + c * A.proj) + uu
    w0 = np.zeros(inst.data.d) if inst.w0 is None else np.asarray(inst.w0)
    u_full = u1[None, :] + c * cert.w_star[None, :]  # (K, d)
    d0 = ((w0[None, :] - u_full) ** 2).sum(axis=1, keepdims=True)
    Lu1 = _mean_logistic(inst.data.Z, u1)
    tt = np.maximum(A.t, 1)
    lhs = dist2 / (2 * eta * tt) + A.avg_L
    rhs = Lu1 + d0 / (2 * eta * tt)
    allow = allowance(A.wn**2, 2 * pu1, 2 * c * A.proj, uu) / (2 * eta * tt) \
        + A.avg_L * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(rhs) \
        + Lu1 * rel_allowance(nu1)
    mask = A.t >= 1
    return worst_per_row(lhs, rhs, allow, mask, "<=", _params(inst, A) | {"u1_norm": nu1}, best=lhs / rhs,
                         best_meaning="left/right side")


# ---------------------------------------------------------------------------
# stable phase (rows 7, 14)
# ---------------------------------------------------------------------------

#: At most this many starting steps s are checked per run (the first half, then log-spaced).
MAX_S = 48


def candidate_s(ok_row: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(ok_row)
    if len(idx) <= MAX_S:
        return idx
    first = idx[: MAX_S // 2]
    rest = idx[np.unique(np.round(np.geomspace(MAX_S // 2, len(idx) - 1, MAX_S // 2)).astype(int))]
    return np.unique(np.concatenate([first, rest]))


def _over_s(inst: Instance, A: Arrays, ok: np.ndarray, bound_fn, domain_fn) -> Evaluation:
    """Check L(w_t) ≤ bound(s, t) for every candidate s (``ok`` (K, S)) and t > s in the domain.

    One point per run: the worst (s, t) pair; ``best`` is the largest measured/bound over all pairs.
    """
    evals = []
    t = A.t[0]
    for k in range(A.K):
        parts = []
        for s in candidate_s(ok[k]):
            tt = t[s + 1:]
            if tt.size == 0:
                continue
            b = bound_fn(k, s, tt)
            meas = A.L[k, s + 1:]
            allow = meas * rel_allowance(A.wn[k, s + 1:]) + allowance(b) + np.abs(b) * rel_allowance(A.wn[k, s])
            mask = domain_fn(k, s, tt) & np.isfinite(b)
            parts.append((meas, b, allow, mask, tt, np.full(tt.shape, float(s))))
        if not parts:
            continue
        meas, b, allow, mask, tt, ss = (np.concatenate(p)[None] for p in zip(*parts))
        if not mask.any():
            continue
        evals.append(worst_per_row(meas, b, allow, mask, "<=",
                                   {"eta": A.eta[k, 0], "t": tt, "s": ss, "n": inst.data.n, "d": inst.data.d,
                                    "gamma": inst.gamma}, best=safe_div(meas, b), best_meaning="measured/bound"))
    return Evaluation.concat(evals)


@claim("thm1.stable_bound", title="L(w_s) ≤ 1/η ⇒ L(w_t) ≤ (2F(w_s) + ln²(γ²η(t−s)))/(γ²η(t−s))",
       source="Theorem 1 / Lemma 11 (paper §2)", row=7, kind="exact", quantity="L(w_t), t > s", direction="<=",
       domain="every s with L(w_s) ≤ 1/η (up to 48 per run), γ²η(t−s) ≥ 1", assumptions=THM1,
       bound_id=theorem1.STABLE_BOUND.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_stable_bound(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    g = inst.gamma
    ok = A.logL <= -np.log(A.eta)
    Fs = np.exp(A.logF)

    def bound(k, s, tt):
        return at(theorem1.STABLE_BOUND, eta=A.eta[k, 0], gamma=g, t=tt, s=s, F_s=Fs[k, s])

    def domain(k, s, tt):
        return g**2 * A.eta[k, 0] * (tt - s) >= 1

    return _over_s(inst, A, ok, bound, domain)


@claim("crawshaw_liu.stable_bound",
       title="L(w_s) ≤ 1/(8η) and nL(w_s) ≤ ln 2 ⇒ L(w_t) ≤ 8/(1/L(w_s) + ηγ²(t−s))",
       source="Crawshaw & Liu (COLT 2026) App. A, Lemmas C.3–C.5 (paper §2.3)", row=14, kind="exact",
       quantity="L(w_t), t > s", direction="<=",
       domain="every s with L(w_s) ≤ 1/(8η) and nL(w_s) ≤ ln 2 (up to 48 per run)", assumptions=THM1,
       bound_id=crawshaw_liu.CL_STABLE_SHARP.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def crawshaw_liu_stable(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    g, n = inst.gamma, inst.data.n
    ok = (A.logL <= -np.log(8 * A.eta)) & (A.logL <= math.log(LN2 / n))

    def bound(k, s, tt):
        return at(crawshaw_liu.CL_STABLE_SHARP, eta=A.eta[k, 0], gamma=g, t=tt, s=s, L_s=A.L[k, s])

    return _over_s(inst, A, ok, bound, lambda k, s, tt: np.ones(tt.shape, bool))


# ---------------------------------------------------------------------------
# phase transition time (row 8)
# ---------------------------------------------------------------------------


def hitting(inst: Instance, A: Arrays, cond: np.ndarray, tau: np.ndarray, what: str) -> Evaluation:
    """Check "some s ≤ ⌈τ⌉ satisfies ``cond``" using the first such s; undecided if T < ⌈τ⌉ and none seen."""
    s_star = A.first(cond).astype(np.float64)
    tau_c = np.ceil(tau)
    T = inst.steps
    found = s_star >= 0
    decided = found | (T >= tau_c)
    meas = np.where(found, s_star, T + 1.0)  # not found with T ≥ τ: a violation
    undecided = int((~decided).sum())
    notes = [f"{undecided} stepsize(s) had no {what} within T={T} < ⌈τ⌉ (undecided)"] if undecided else []
    ev = worst_per_row(meas[:, None], tau_c[:, None], 0.0, decided[:, None], "<=",
                       {"eta": A.eta, "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma},
                       best=(meas / tau_c)[:, None], best_meaning="s*/τ", inconclusive=undecided, notes=notes)
    return ev


@claim("thm1.tau", title="some s ≤ ⌈τ⌉ has L(w_s) ≤ 1/η and F(w_s) ≤ 1, τ = (60/γ²)max{η, n, e, ((η+n)/η)ln((η+n)/η)}",
       source="Theorem 1 / Lemma 12 (paper §2)", row=8, kind="exact", quantity="first s with L ≤ 1/η and F ≤ 1",
       direction="<=", domain="all η > 0 (τ rounded up: erratum-style reading §2.1)", assumptions=THM1,
       bound_id=theorem1.TAU.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_tau(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    cond = (A.logL <= -np.log(A.eta)) & (A.logF <= 0)
    return hitting(inst, A, cond, at(theorem1.TAU, eta=A.eta[:, 0], n=inst.data.n, gamma=inst.gamma),
                    "s with L ≤ 1/η, F ≤ 1")


@claim("lemma12.proof_strength",
       title="some s ≤ ⌈τ⌉ has G(w_s) ≤ min{1/(2η), 1/(2n)} and every margin ≥ 0",
       source="Lemma 12 proof (paper §2.2)", row=8, kind="exact", quantity="first such s", direction="<=",
       domain="all η > 0", assumptions=THM1, bound_id=theorem1.G_AT_S.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def lemma12_proof_strength(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    thr = np.minimum(1 / (2 * A.eta), 1 / (2 * inst.data.n))
    cond = (A.G <= thr) & (A.min_margin >= 0)
    return hitting(inst, A, cond, at(theorem1.TAU, eta=A.eta[:, 0], n=inst.data.n, gamma=inst.gamma),
                    "s with G ≤ min{1/2η,1/2n}")


# ---------------------------------------------------------------------------
# Corollary 2 (row 9)
# ---------------------------------------------------------------------------


def cor2_instances(budget: Budget):
    """T ≥ T_min = 120max{e,n}/γ² with η = γ²T/120; margins large enough that T_min ≤ 3000·scale."""
    cap = budget.steps(3000)
    nmax = 3 if budget.scale < 4 else 8
    gmin = math.sqrt(120 * max(math.e, nmax) / cap)
    data_st = separable_datasets(n=(1, nmax), d=(1, 4), margin=(min(gmin, 0.99), 1.0))

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        g = certificate(data).gamma
        Tmin = float(at(corollary2.T_MIN, n=data.n, gamma=g))
        hi = max(Tmin, min(3 * Tmin, cap))
        Ts = sorted({int(math.ceil(Tmin))} | {int(math.ceil(draw(log_uniform(Tmin, hi)))) for _ in range(3)})
        etas = tuple(float(at(corollary2.ETA, T=T, gamma=g)) for T in Ts)
        return Instance(data, "logistic", etas, max(Ts), extra={"T": Ts})

    return inst()


@claim("cor2.bound", title="T ≥ 120max{e,n}/γ², η = γ²T/120 ⇒ L(w_T) ≤ 480 ln²(γ⁴T²)/(γ⁴T²)",
       source="Corollary 2 (paper §3)", row=9, kind="exact", quantity="L(w_T)", direction="<=",
       domain="T ≥ 120max{e,n}/γ², η = γ²T/120 exactly", assumptions=THM1, bound_id=corollary2.BOUND.id,
       strategy=cor2_instances, examples=4)
def cor2_bound(inst: Instance) -> Evaluation:
    traj = inst.trajectory()
    Ts = np.asarray(inst.extra["T"], dtype=np.int64)
    L = traj.records["loss"][np.arange(len(Ts)), Ts]
    wn = traj.records["w_norm"][np.arange(len(Ts)), Ts]
    b = at(corollary2.BOUND, T=Ts, gamma=inst.gamma)
    allow = L * rel_allowance(wn) + allowance(b)
    return Evaluation(L, b, allow, "<=", {"T": Ts, "eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                          "gamma": inst.gamma}, best=L / b, best_meaning="measured/bound")


# ---------------------------------------------------------------------------
# Lemma 14 (row 11)
# ---------------------------------------------------------------------------


def _lemma14_thm3_instances(budget: Budget, eta_min: float = 40 * LN2):
    """Theorem 3's data, γ ∈ [0.001, 0.0999], 6 stepsizes in (eta_min, 10⁴], one GD step."""

    @st.composite
    def inst(draw) -> Instance:
        g = draw(st.floats(1e-3, 0.0999))
        data = with_certificate(thm3(g), candidates=[np.array([1.0, 0.0])])
        etas = draw(stepsize_batches(eta_min * (1 + 1e-12), 1e4, size=6, drawn=2))
        return Instance(data, "logistic", etas, 1, extra={"gamma_thm3": g})

    return inst()


def _first_step_threshold(data: Dataset) -> float:
    """The actual first-step threshold η_c = inf{η : L(w₁) > ln 2} by bisection (w₁ = (η/2)·mean zᵢ)."""
    zbar = data.Z.mean(axis=0)
    a = data.Z @ zbar

    def up(eta):
        return np.mean(np.logaddexp(0.0, -eta / 2 * a)) > LN2

    lo, hi = 0.0, 1.0
    while not up(hi) and hi < 1e12:
        lo, hi = hi, 2 * hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if up(mid) else (mid, hi)
    return hi


@claim("lemma14.first_step", title="Theorem 3's data: η > 40 ln 2 ⇒ L(w₁) > L(w₀) = ln 2",
       source="Lemma 14 with r = 1/10, q = 1/2 (paper §4)", row=11, kind="exact", quantity="L(w₁)",
       direction=">=", domain="η > 40 ln 2, 0 < γ < 0.1", assumptions=("Theorem 3 data", "logistic loss", "w0 = 0"),
       bound_id=theorem3.FIRST_STEP_THRESHOLD.id, strategy=_lemma14_thm3_instances, examples=10)
def lemma14_first_step(inst: Instance) -> Evaluation:
    return first_step_increase(inst, 40 * LN2)


def first_step_increase(inst: Instance, eta_min: float) -> Evaluation:
    """"η > eta_min ⇒ L(w₁) > ln 2" on the instance's data (Lemma 14 on Theorem 3's data: 40 ln 2)."""
    traj = inst.trajectory()
    keep = traj.eta > eta_min
    L1 = traj.records["loss"][keep, 1]
    allow = allowance(L1, LN2) + L1 * rel_allowance(traj.records["w_norm"][keep, 1])
    eta_c = _first_step_threshold(inst.data)
    return Evaluation(L1, np.full_like(L1, LN2), allow, ">=",
                      {"eta": traj.eta[keep], "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma},
                      best=np.array([eta_c / eta_min]), best_reduce="max",
                      best_meaning="actual first-step threshold / the claimed one")


def _lemma14_general_instances(budget: Budget):
    data_st = separable_datasets(n=(2, int(12 * budget.scale)), d=(1, 6), margin=(0.01, 0.9))

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        thr = _lemma14_general_threshold(data)
        if not math.isfinite(thr):
            etas = (1.0,)  # the lemma says nothing here; evaluate returns no points
        else:
            etas = tuple(sorted({thr * (1 + draw(log_uniform(1e-9, 100.0))) for _ in range(4)}))
        return Instance(data, "logistic", etas, 1)

    return inst()


def _lemma14_general_threshold(data: Dataset) -> float:
    """min over q = k/n of 2 ln 2/(r q), r = −(k-th smallest zᵢ·z̄) > 0 (Lemma 14's best (r, q))."""
    zbar = data.Z.mean(axis=0)
    a = np.sort(data.Z @ zbar)
    n = len(a)
    best = math.inf
    for k in range(1, n + 1):
        if a[k - 1] < 0:
            best = min(best, float(at(theorem3.GENERAL_THRESHOLD, r=-a[k - 1], q=k / n)))
    return best


@claim("lemma14.general", title="If a fraction q of points has xᵢ·x̄ < −r, then η > 2 ln 2/(rq) ⇒ L(w₁) > L(w₀)",
       source="Lemma 14 (paper §4)", row=11, kind="exact", quantity="L(w₁)", direction=">=",
       domain="η > min over (r, q) of 2 ln 2/(rq); any separable data", assumptions=THM1,
       bound_id=theorem3.GENERAL_THRESHOLD.id, strategy=_lemma14_general_instances, examples=10)
def lemma14_general(inst: Instance) -> Evaluation:
    thr = _lemma14_general_threshold(inst.data)
    traj = inst.trajectory()
    L1 = traj.records["loss"][:, 1]
    mask = traj.eta > thr
    allow = allowance(L1, LN2) + L1 * rel_allowance(traj.records["w_norm"][:, 1])
    ev = Evaluation(L1[mask], np.full(mask.sum(), LN2), allow[mask], ">=",
                    {"eta": traj.eta[mask], "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma})
    if math.isfinite(thr):
        ev.best = np.array([_first_step_threshold(inst.data) / thr])
        ev.best_meaning, ev.best_reduce = "actual first-step threshold / Lemma 14's", "max"
    return ev


# ---------------------------------------------------------------------------
# descent lemma (row 13)
# ---------------------------------------------------------------------------


def descent_threshold(Z: np.ndarray) -> float:
    """2/β, β = sup ℓ″·λ_max(ZᵀZ/n) (``classics.DESCENT_LEMMA``, the descent lemma, §9.7)."""
    return float(at(classics.DESCENT_LEMMA, lambda_max=np.linalg.eigvalsh(Z.T @ Z / Z.shape[0])[-1]))


def _descent_instances(budget: Budget, factor: float = 1.0):
    """Stepsizes below factor·2/β (and a few above, for the looseness report), any data, w₀ = 0 or drawn."""
    data_st = separable_datasets(n=(1, int(12 * budget.scale)), d=(1, 6), margin=(0.02, 0.9))
    T = budget.steps(400)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        thr = factor * descent_threshold(data.Z)
        below = [thr * u for u in (0.5, 0.9, 0.99, 1 - 1e-6)] + [thr * draw(st.floats(1e-3, 1 - 1e-9))]
        above = [thr * m for m in (1.05, 1.2, 1.5, 2.0, 4.0, 8.0)]  # for the looseness report only
        start = None
        if draw(st.booleans()):
            start = tuple(float(v) for v in draw(initial_points(data.d, (0.0, 3.0))))
        return Instance(data, "logistic", tuple(sorted(set(below + above))), T, w0=start,
                        extra={"threshold": thr})

    return inst()


@claim("classic.descent_lemma", title="η < 2/β, β = λ_max(XᵀX/n)/4 ⇒ L(w_t) non-increasing (no EoS)",
       source="Descent lemma (Nesterov 2018 §1.2.3; paper §9.7)", row=13, kind="exact",
       quantity="L(w_{t+1})/L(w_t)", direction="<=", domain="η < 2/β; any w0",
       assumptions=("‖x_i‖ ≤ 1", "logistic loss", "any w0"), bound_id=classics.DESCENT_LEMMA.id,
       strategy=_descent_instances, examples=6)
def descent_lemma(inst: Instance) -> Evaluation:
    return monotone_below(inst, 1.0)


def monotone_below(inst: Instance, factor: float) -> Evaluation:
    """"η < factor·2/β ⇒ L non-increasing from w₀" (the descent lemma has factor 1)."""
    A = Arrays.of(inst.trajectory())
    thr = factor * descent_threshold(inst.data.Z)
    ratio = np.exp(np.diff(A.logL, axis=1))
    allow = np.expm1(2 * rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1])))
    below = (A.eta[:, 0] < thr)
    up = (np.log(ratio) > np.log1p(allow)).any(axis=1)
    nonmono = A.eta[:, 0][up & ~below] * factor
    mask = np.broadcast_to(below[:, None], ratio.shape)
    ev = worst_per_row(ratio, 1.0, allow, mask, "<=", _params(inst, A) | {"t": A.t[:, 1:]})
    ev.best = np.array([nonmono.min() / thr if nonmono.size else np.inf])
    ev.best_meaning, ev.best_reduce = ("smallest non-monotone η among 1.05, 1.2, 1.5, 2, 4, 8 × 2/β "
                                       "(close to 1: the lemma is tight)"), "min"
    return ev


# ---------------------------------------------------------------------------
# Crawshaw & Liu in 2-D (row 26)
# ---------------------------------------------------------------------------


def _cl2d_instances(budget: Budget):
    data_st = separable_datasets(n=(1, int(10 * budget.scale)), d=2, margin=(0.15, 0.9))
    T = budget.steps(800)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        eta0 = float(at(crawshaw_liu.CL_ETA0, n=data.n, gamma=certificate(data).gamma))
        etas = draw(stepsize_batches(eta0, 16 * eta0, size=4, drawn=1))
        return Instance(data, "logistic", etas, T)

    return inst()


@claim("crawshaw_liu.tau_2d", title="d = 2, η ≥ η₀: first t with L(w_t) ≤ 1/(8η) is ≤ 2 + 4n/γ + 280 ln(2/γ²)/γ²",
       source="Crawshaw & Liu (COLT 2026) Thm 2.1 / Lemma 2.8 (paper §9.5)", row=26, kind="exact",
       quantity="first t with L ≤ 1/(8η)", direction="<=",
       domain="d = 2, η ≥ max(n, (32/γ²)ln(256/γ²)); log read as natural log", assumptions=THM1,
       bound_id=crawshaw_liu.CL_TAU_2D.id, strategy=_cl2d_instances, examples=5)
def crawshaw_liu_tau_2d(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    cond = A.logL <= -np.log(8 * A.eta)
    b = np.full(A.K, float(at(crawshaw_liu.CL_TAU_2D, n=inst.data.n, gamma=inst.gamma)))
    # the bound is a ceiling on a first hitting time: undecided if not reached and T < bound
    return hitting(inst, A, cond, b, "t with L ≤ 1/(8η)")


# ---------------------------------------------------------------------------
# Proposition 15's certificate, corrected (erratum §11.8)
# ---------------------------------------------------------------------------


@claim("prop15.zero_error_certificate", title="L(w_t) < ln 2/n ⇒ every training point is classified correctly",
       source="Proposition 15 remark, corrected (paper §7, erratum §11.8)", row=25, kind="exact",
       quantity="min margin when L(w_t) < ln 2/n", direction=">=", domain="every step", assumptions=THM1,
       bound_id=theorem4.TEST_ERROR.id, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical,
       erratum="The paper says L(w_t) ≤ 1/n certifies zero training error; that is false (margins ≥ −0.541 "
               "only). The corrected certificate L < ln 2/n is encoded.")
def prop15_certificate(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    n = inst.data.n
    rel = rel_allowance(A.wn)
    mask = A.logL < math.log(LN2 / n) + np.log1p(-rel)
    allow = allowance(A.wn)
    return worst_per_row(A.min_margin, 0.0, allow, mask, ">=", _params(inst, A))


# ---------------------------------------------------------------------------
# non-separable negative control (row 27)
# ---------------------------------------------------------------------------


def nonseparable(n: int, d: int, seed: int) -> Dataset:
    """Non-separable data by construction: a random cloud plus the mirror image −zᵢ of its first point."""
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1.0) * 1.0
    Z[1] = -Z[0] * 0.5  # 0 ∈ conv{z}: not separable through the origin
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return Dataset(y[:, None] * Z, y, name=f"nonseparable(n={n},d={d},seed={seed})",
                   meta={"source": "eoscheck.properties.exact.nonseparable", "seed": seed})


def logistic_minimizer(Z: np.ndarray, iters: int = 100) -> np.ndarray:
    """The finite minimizer of L on non-separable data by damped Newton (numpy, to machine precision)."""
    n, d = Z.shape
    w = np.zeros(d)
    for _ in range(iters):
        m = Z @ w
        s = 0.5 * (1 - np.tanh(m / 2))  # σ(−m)
        g = -(s @ Z) / n
        H = (Z.T * (s * (1 - s))) @ Z / n
        step = np.linalg.lstsq(H, g, rcond=None)[0]  # GD from 0 stays in the row space of Z
        t = 1.0
        L0 = np.mean(np.logaddexp(0, -m))
        while np.mean(np.logaddexp(0, -(Z @ (w - t * step)))) > L0 and t > 1e-12:
            t /= 2
        w = w - t * step
        if np.linalg.norm(g) < 1e-15:
            break
    return w


def _meng_instances(budget: Budget):
    @st.composite
    def inst(draw) -> Instance:
        n = draw(st.integers(3, 12))
        d = draw(st.integers(1, 3))
        data = nonseparable(n, d, draw(st.integers(0, 2**32 - 1)))
        w = logistic_minimizer(data.Z)
        m = data.Z @ w
        s = 0.5 * (1 - np.tanh(m / 2))
        H = (data.Z.T * (s * (1 - s))) @ data.Z / n
        lam = float(np.linalg.eigvalsh(H)[-1])
        etas = tuple(sorted({2 / lam * (1 + draw(st.floats(0.05, 3.0))) for _ in range(3)}))
        return Instance(data, "logistic", etas, budget.steps(1500), extra={"w_min": w.tolist(), "lam": lam})

    return inst()


@claim("meng.no_convergence", title="Non-separable data, η > 2/λ_max(∇²L(w⋆)) ⇒ GD does not converge to w⋆",
       source="Meng, Orvieto, Cao, De Sa (2024) (paper §9.4)", row=27, kind="qualitative",
       quantity="min over the last half of the run of ‖w_t − w⋆‖", direction=">=",
       domain="non-separable data, η ∈ (2/λ, 8/λ)", assumptions=("non-separable data", "logistic loss", "w0 = 0"),
       bound_id=None, strategy=_meng_instances, examples=4,
       erratum=None)
def meng_no_convergence(inst: Instance) -> Evaluation:
    """Negative control: converged means ‖w_t − w⋆‖ ≤ 1e-6(1 + ‖w⋆‖) over the last half (qualitative criterion)."""
    w = np.asarray(inst.extra["w_min"])
    nw = float(np.linalg.norm(w))
    traj = inst.trajectory(w_star=w / nw if nw > 0 else None)
    wn, proj = traj.records["w_norm"], traj.records["w_proj"]
    dist = np.sqrt(np.maximum(wn**2 - 2 * nw * proj + nw**2, 0.0))
    half = dist[:, dist.shape[1] // 2:]
    meas = half.min(axis=1)
    b = np.full_like(meas, 1e-6 * (1 + nw))
    return Evaluation(meas, b, 0.0, ">=", {"eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                           "eta_lambda_over_2": traj.eta * inst.extra["lam"] / 2})
