"""Claims of Theorem 1 and its lemmas (7–12) for logistic GD (paper §2; §10 rows 1–8), with the bounds of
:mod:`eoscheck.bounds.theorem1`.  Where §11 (errata) says the statement is too strong or ambiguous, the
corrected statement is encoded and the claim says so.
"""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import theorem1
from eoscheck.datasets import toy

from .bound_values import at
from .claims import Budget, Evaluation, claim
from .instances import Instance
from .numerics import allowance, average_allowance, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import certificate, with_certificate
from .exact_engine import (ANY_START, EOS_REACH, THM1, any_start_instances, first_hits, over_s, point_params,
                           reaching_example, reaching_instances, theorem1_canonical, theorem1_instances)


# ---------------------------------------------------------------------------
# Lemma 10 and its proof inequality (rows 1, 2)
# ---------------------------------------------------------------------------


@claim("lemma10.monotone", title="If L(w_s) ≤ 2/η then L(w_t) is non-increasing for all t ≥ s",
       source="Lemma 10 (paper §2.2)", row=1, kind="exact", quantity="L(w_{t+1})/L(w_t) for t ≥ s",
       direction="<=", domain="every s with L(w_s) ≤ 2/η; any w0 (Lemma 10 needs only ‖x‖ ≤ 1)",
       assumptions=ANY_START, bound=theorem1.MONOTONE_THRESHOLD, strategy=any_start_instances, examples=6, explicit=theorem1_canonical)
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
    return worst_per_row(ratio, 1.0, allow, mask, "<=", point_params(inst, A) | {"t": A.t[:, 1:], "s": s0[:, None]},
                         best=best, best_reduce="min",
                         best_meaning=f"largest c with L(w_s) ≤ c/η ⇒ monotone after s (claim: c = {paper_c:g})")


@claim("lemma10.log_smoothness", title="ln L(w_{t+1}) ≤ ln L(w_t) − η(1/L(w_t) − η/2)‖∇L(w_t)‖² at every step",
       source="Lemma 10 proof (1-smoothness of ln L; paper §2.2)", row=2, kind="exact",
       quantity="β needed = 2(ln L_{t+1} − ln L_t + η‖∇L‖²/L)/(η²‖∇L‖²)", direction="<=",
       domain="every step, EoS phase included; any w0", assumptions=ANY_START, bound=theorem1.LOG_DESCENT,
       strategy=any_start_instances, examples=6, explicit=theorem1_canonical)
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
    return worst_per_row(beta, 1.0, allow, mask, "<=", point_params(inst, A) | {"t": A.t[:, :-1]}, best=beta,
                         best_meaning="smoothness constant of ln L needed along the path (paper: 1)")


# ---------------------------------------------------------------------------
# Theorem 1 / Lemmas 8, 9 (rows 3, 4, 5)
# ---------------------------------------------------------------------------


def eos_domain(inst: Instance, A: Arrays) -> np.ndarray:
    return (A.t >= 1) & (inst.gamma**2 * A.eta * A.t >= 1)


@claim("thm1.eos_average", title=theorem1.EOS_AVERAGE.formula,
       source="Theorem 1 / Lemma 8 (paper §2)", row=3, kind="exact", quantity="average loss up to t",
       direction="<=", domain="γ²ηt ≥ 1 (the proof's log argument; erratum §11.2)", assumptions=THM1,
       bound=theorem1.EOS_AVERAGE, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_eos_average(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    g = inst.gamma
    b = at(theorem1.EOS_AVERAGE, eta=A.eta, gamma=g, t=np.maximum(A.t, 1))
    allow = A.avg_L * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(b)
    return worst_per_row(A.avg_L, b, allow, eos_domain(inst, A), "<=", point_params(inst, A), best=A.avg_L / b,
                         best_meaning="measured/bound (the constant that would still hold)")


@claim("thm1.w_norm", title=theorem1.W_NORM.formula, source="Lemma 8 (paper §2.2)", row=4, kind="exact",
       quantity="‖w_t‖", direction="<=", domain="γ²ηt ≥ 1", assumptions=THM1, bound=theorem1.W_NORM,
       strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_w_norm(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    b = at(theorem1.W_NORM, eta=A.eta, gamma=inst.gamma, t=np.maximum(A.t, 1))
    allow = allowance(A.wn, b)
    return worst_per_row(A.wn, b, allow, eos_domain(inst, A), "<=", point_params(inst, A), best=A.wn / b,
                         best_meaning="measured/bound")


@claim("lemma9.G_average", title=theorem1.G_AVERAGE.formula,
       source="Lemma 9 (paper §2.2)", row=5, kind="exact", quantity="average gradient potential up to t",
       direction="<=", domain="γ²ηt ≥ 1", assumptions=THM1, bound=theorem1.G_AVERAGE,
       strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def lemma9_G_average(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    b = at(theorem1.G_AVERAGE, eta=A.eta, gamma=inst.gamma, t=np.maximum(A.t, 1))
    allow = A.avg_G * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(b)
    return worst_per_row(A.avg_G, b, allow, eos_domain(inst, A), "<=", point_params(inst, A), best=A.avg_G / b,
                         best_meaning="measured/bound")


@claim("lemma9.perceptron_step", title="⟨w_{t+1} − w_t, w*⟩ ≥ γηG(w_t) at every step",
       source="Lemma 9 proof (perceptron argument; paper §2.2)", row=5, kind="exact",
       quantity="⟨w_{t+1} − w_t, w*⟩", direction=">=", domain="every step; any w0",
       assumptions=("Assumption 1", "logistic loss", "any w0"), bound=theorem1.PERCEPTRON_STEP,
       strategy=any_start_instances, examples=6, explicit=theorem1_canonical)
def lemma9_perceptron_step(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    dproj = np.diff(A.proj, axis=1)
    b = inst.gamma * A.eta * A.G[:, :-1]
    allow = allowance(A.proj[:, 1:], A.proj[:, :-1], A.wn[:, 1:], A.wn[:, :-1]) + b * rel_allowance(A.wn[:, :-1])
    mask = np.isfinite(b)
    return worst_per_row(dproj, b, allow, mask, ">=", point_params(inst, A) | {"t": A.t[:, :-1]},
                         best=safe_div(dproj, b),
                         best_meaning="smallest ⟨Δw, w*⟩/(γηG) (paper: ≥ 1)")


# ---------------------------------------------------------------------------
# Lemma 7 (row 6)
# ---------------------------------------------------------------------------


@claim("lemma7.split_step", title="2⟨∇L(w_t), u₂⟩ + η‖∇L(w_t)‖² ≤ 0 for u₂ = (η/2γ)w*",
       source="Lemma 7 proof (paper §2.2)", row=6, kind="exact",
       quantity="η‖∇L(w_t)‖² against ⟨w_{t+1} − w_t, w*⟩/γ", direction="<=", domain="every step; any w0",
       assumptions=("Assumption 1", "logistic loss", "any w0"), bound=theorem1.SPLIT_STEP, strategy=any_start_instances, examples=6, explicit=theorem1_canonical)
def lemma7_split_step(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    # 2⟨∇L, u₂⟩ = (η/γ)⟨∇L, w*⟩ = −⟨w_{t+1} − w_t, w*⟩/γ
    meas = A.eta * A.gn[:, :-1] ** 2
    b = np.diff(A.proj, axis=1) / inst.gamma
    allow = allowance(A.proj[:, 1:], A.proj[:, :-1], A.wn[:, 1:], A.wn[:, :-1]) / inst.gamma \
        + meas * 2 * rel_allowance(A.wn[:, :-1])
    mask = np.isfinite(meas)
    return worst_per_row(meas, b, allow, mask, "<=", point_params(inst, A) | {"t": A.t[:, :-1]}, best=safe_div(meas, b),
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
    return worst_per_row(lhs, rhs, allow, mask, "<=", point_params(inst, A) | {"u1_norm": nu1}, best=lhs / rhs,
                         best_meaning="left/right side")


# ---------------------------------------------------------------------------
# stable phase (row 7)
# ---------------------------------------------------------------------------


@claim("thm1.stable_bound", title=f"{theorem1.STABLE_THRESHOLD.formula} ⇒ {theorem1.STABLE_BOUND.formula}",
       source="Theorem 1 / Lemma 11 (paper §2)", row=7, kind="exact", quantity="L(w_t), t > s", direction="<=",
       domain="every s with L(w_s) ≤ 1/η (up to 48 per run), γ²η(t−s) ≥ 1", assumptions=THM1,
       bound=theorem1.STABLE_BOUND, strategy=theorem1_instances, examples=8, explicit=theorem1_canonical)
def thm1_stable_bound(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    g = inst.gamma
    ok = A.logL <= -np.log(A.eta)
    Fs = np.exp(A.logF)

    def bound(k, s, tt):
        return at(theorem1.STABLE_BOUND, eta=A.eta[k, 0], gamma=g, t=tt, s=s, F_s=Fs[k, s])

    def domain(k, s, tt):
        return g**2 * A.eta[k, 0] * (tt - s) >= 1

    return over_s(inst, A, ok, bound, domain)


# ---------------------------------------------------------------------------
# phase transition time (row 8)
# ---------------------------------------------------------------------------


def _tau(inst: Instance, eta=None) -> np.ndarray:
    """Theorem 1's τ at ``eta`` (default: the instance's stepsizes; a claim passes its run's)."""
    return at(theorem1.TAU, eta=np.asarray(inst.etas if eta is None else eta, float), n=inst.data.n, gamma=inst.gamma)


#: Steps at scale 1 of the instances that reach τ: at γ ≥ 0.6, n ≤ 4, η ∈ [1, 8], ⌈τ⌉ ≤ 1341 (η = 1, n = 4).
TAU_REACH = 1500


def tau_instances(budget: Budget):
    """:func:`theorem1_instances` (T = 600·scale, mostly below τ) and instances whose T reaches τ."""
    return st.one_of(theorem1_instances(budget), reaching_instances(budget, _tau, TAU_REACH))


def tau_canonical(budget: Budget) -> list[Instance]:
    """The canonical cases, a fixed reaching instance, and runs through an EoS phase that reach τ (EOS_REACH)."""
    return theorem1_canonical(budget) + [
        reaching_example(budget, _tau, TAU_REACH),
        reaching_example(budget, _tau, EOS_REACH["steps"], data=with_certificate(toy(normalized=True)),
                         etas=EOS_REACH["etas"])]


@claim("thm1.tau", title=f"some s ≤ ⌈τ⌉ has L(w_s) ≤ 1/η and F(w_s) ≤ 1, {theorem1.TAU.formula}",
       source="Theorem 1 / Lemma 12 (paper §2)", row=8, kind="exact", quantity="first s with L ≤ 1/η and F ≤ 1",
       direction="<=", domain="all η > 0 (τ rounded up: erratum-style reading §2.1)", assumptions=THM1,
       bound=theorem1.TAU, strategy=tau_instances, examples=8, explicit=tau_canonical)
def thm1_tau(inst: Instance) -> Evaluation:
    return first_hits(inst, lambda _, A: (A.logL <= -np.log(A.eta)) & (A.logF <= 0), _tau, "s with L ≤ 1/η, F ≤ 1")


@claim("lemma12.proof_strength",
       title="some s ≤ ⌈τ⌉ has G(w_s) ≤ min{1/(2η), 1/(2n)} and every margin ≥ 0",
       source="Lemma 12 proof (paper §2.2)", row=8, kind="exact", quantity="first such s", direction="<=",
       domain="all η > 0", assumptions=THM1, bound=theorem1.G_AT_S, strategy=tau_instances, examples=8, explicit=tau_canonical)
def lemma12_proof_strength(inst: Instance) -> Evaluation:
    def cond(run: Instance, A: Arrays) -> np.ndarray:
        return (A.G <= np.minimum(1 / (2 * A.eta), 1 / (2 * run.data.n))) & (A.min_margin >= 0)

    return first_hits(inst, cond, _tau, "s with G ≤ min{1/2η,1/2n}")
