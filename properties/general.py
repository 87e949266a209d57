"""Exact claims for general losses and for online SGD (paper §5, §7; §10 rows 17–20, 23).

Theorem 35's bounds use ρ(λ) = min_z λℓ(z) + z² computed numerically for the
drawn loss (exact to rounding; the paper's Prop. 5 upper bounds on ρ would
make the check weaker), and the Assumption 3 constants of
:attr:`eoscheck.losses.Loss.paper_constants` (Prop. 5, main-text values).
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st
from scipy.stats import binom

from eoscheck.bounds import proposition5, theorem1, theorem35, theorem4
from eoscheck.bounds.rho import rho

from .bound_values import at, loss_constants
from .claims import Budget, Evaluation, claim
from .exact import candidate_s, hitting, theorem1_canonical
from .instances import Instance
from .numerics import EPS, FP_ULPS, allowance, average_allowance, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import (log_uniform, loss_spec, losses, separable_datasets, single_point, stepsize_batches,
                         with_certificate)

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


@claim("thm35.eos_average", title="(1/t)Σ_{k<t} L(w_k) ≤ 9(ρ(γ²ηt) + (ηC_g)²)/(γ²ηt)",
       source="Theorem 35, EoS phase (paper §5.1)", row=18, kind="exact", quantity="average loss up to t",
       direction="<=", domain="γ²ηt ≥ 1 (ρ is defined on [1, ∞))", assumptions=GENERAL,
       bound_id=theorem35.EOS_AVERAGE.id, strategy=general_instances, examples=6, explicit=theorem1_canonical)
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
    allow = A.avg_L * average_allowance(A.t, A.wn.max(axis=1, keepdims=True)) + allowance(b)
    return worst_per_row(A.avg_L, b, allow, mask, "<=",
                         {"eta": A.eta, "t": A.t, "n": inst.data.n, "gamma": g, "d": inst.data.d},
                         best=safe_div(A.avg_L, b), best_meaning="measured/bound")


def _threshold15(inst: Instance, A: Arrays) -> np.ndarray:
    return at(theorem35.STABLE_THRESHOLD, loss=inst.loss_obj, eta=A.eta[:, 0], n=inst.data.n)


@claim("thm35.stable_monotone", title="(15) at s: L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n} ⇒ L(w_t) non-increasing for t ≥ s",
       source="Theorem 35, stable phase (paper §5.1)", row=19, kind="exact", quantity="L(w_{t+1})/L(w_t), t ≥ s",
       direction="<=", domain="first s meeting (15)", assumptions=STABLE, bound_id=theorem35.STABLE_THRESHOLD.id,
       strategy=_stable_instances, examples=6, explicit=theorem1_canonical)
def thm35_stable_monotone(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    s0 = A.first(A.logL <= np.log(_threshold15(inst, A))[:, None])
    ratio = np.exp(np.diff(A.logL, axis=1))
    allow = np.expm1(2 * rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1])))
    j = np.arange(ratio.shape[1])[None, :]
    mask = (s0[:, None] >= 0) & (j >= s0[:, None])
    return worst_per_row(ratio, 1.0, allow, mask, "<=",
                         {"eta": A.eta, "t": A.t[:, 1:], "s": s0[:, None], "n": inst.data.n, "gamma": inst.gamma})


@claim("thm35.stable_bound", title="(15) at s ⇒ L(w_t) ≤ 15ρ(γ²η(t−s))/(γ²η(t−s))",
       source="Theorem 35, stable phase (paper §5.1)", row=19, kind="exact", quantity="L(w_t), t > s",
       direction="<=", domain="every s meeting (15) (up to 48 per run), γ²η(t−s) ≥ 1", assumptions=STABLE,
       bound_id=theorem35.STABLE_BOUND.id, strategy=_stable_instances, examples=6, explicit=theorem1_canonical)
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
            parts.append((meas, b, meas * rel_allowance(A.wn[k, s + 1:]) + allowance(b), np.isfinite(b), tt,
                          np.full(tt.shape, float(s))))
        meas, b, allow, msk, tt, ss = (np.concatenate(p)[None] for p in zip(*parts))
        if msk.any():
            evals.append(worst_per_row(meas, b, allow, msk, "<=", {"eta": A.eta[k, 0], "t": tt, "s": ss,
                                                                    "n": inst.data.n, "gamma": g},
                                       best=safe_div(meas, b), best_meaning="measured/bound"))
    return Evaluation.concat(evals)


@claim("thm35.tau_explicit", title="(15) holds at some s ≤ τ_explicit (Lemma 33/34 conditions solved for τ)",
       source="Theorem 35 phase transition, explicit constants read off Lemmas 33–34 (paper §5.1 [D])", row=20,
       kind="exact", quantity="first s meeting (15)", direction="<=",
       domain="exponential tail: Lemma 34's condition; polynomial tail: Lemma 33's", assumptions=STABLE,
       bound_id=theorem35.TAU_EXPLICIT_EXP.id, strategy=general_instances, examples=6, explicit=theorem1_canonical)
def thm35_tau_explicit(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    loss = inst.loss_obj
    bound = theorem35.TAU_EXPLICIT_EXP if loss.paper_constants.get("C_e") is not None else theorem35.TAU_EXPLICIT_POLY
    tau = at(bound, loss=loss, eta=A.eta[:, 0], gamma=inst.gamma, n=inst.data.n)
    cond = A.logL <= np.log(_threshold15(inst, A))[:, None]
    return hitting(inst, A, cond, tau, "s meeting (15)")


# ---------------------------------------------------------------------------
# Proposition 5's constants (row 23)
# ---------------------------------------------------------------------------


def _prop5_instances(budget: Budget):
    @st.composite
    def inst(draw) -> Instance:
        loss = draw(losses(("logistic", "flat_exp", "flat_poly"), a=(0.25, 4.0)))
        m = 64
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        span = draw(st.sampled_from([1.0, 10.0, 100.0, 700.0]))
        x = np.concatenate([[draw(st.floats(-span, span))], rng.uniform(-span, span, m - 1)])
        dz = np.concatenate([[draw(st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True))],
                             rng.uniform(-1, 1, m - 1)])
        lam = np.exp(rng.uniform(0, math.log(1e8), 16))
        data = with_certificate(single_point())
        return Instance(data, loss_spec(loss), (1.0,), 0, extra={"x": x.tolist(), "dz": dz.tolist(),
                                                                  "lam": lam.tolist()})

    return inst()


def _rho_bar(loss, lam):
    if loss.family == "logistic":
        return 1 + np.log(lam) ** 2
    if loss.family == "flat_exp":
        return 1 + np.log(lam) ** 2 / loss.params["a"] ** 2
    return 2 * lam ** (2 / (loss.params["a"] + 2))


@claim("prop5.constants", title="g ≤ C_g, g ≤ C_βℓ, ℓ(z) ≤ ℓ(x) + ℓ′(x)(z−x) + C_βg(x)(z−x)² (|z−x| < 1), "
                                "ℓ ≤ C_e g on z ≥ 0, ρ ≤ Prop. 5's bound",
       source="Proposition 5 (paper §5)", row=23, kind="exact", quantity="each side of the five inequalities",
       direction="<=", domain="z ∈ [−700, 700], |z − x| < 1, λ ∈ [1, 1e8]",
       assumptions=("logistic, flat_exp(a), flat_poly(a)",), bound_id=proposition5.RHO_LOGISTIC.id, strategy=_prop5_instances,
       examples=20)
def prop5_constants(inst: Instance) -> Evaluation:
    loss = inst.loss_obj
    c = loss_constants(loss)
    x = torch.as_tensor(np.asarray(inst.extra["x"]))
    z = x + torch.as_tensor(np.asarray(inst.extra["dz"]))
    lx, gx, lz = loss.value(x).numpy(), loss.g(x).numpy(), loss.value(z).numpy()
    dx = (z - x).numpy()
    meas, bnd, allw, which = [], [], [], []

    def add(m, b, a, tag):
        m = np.atleast_1d(np.asarray(m, float))
        meas.append(m)
        bnd.append(np.broadcast_to(np.asarray(b, float), m.shape))
        allw.append(np.broadcast_to(np.asarray(a, float), m.shape))
        which.append(np.full(m.shape, tag, dtype=float))

    add(gx, c["C_g"], allowance(gx), 0)                                  # 3B
    add(gx, c["C_beta"] * lx, allowance(gx, c["C_beta"] * lx), 1)        # 3C, first part
    quad = lx + loss.grad(x).numpy() * dx + c["C_beta"] * gx * dx**2      # 3C, second part
    add(lz, quad, allowance(lz, lx, gx * dx, c["C_beta"] * gx * dx**2) * (1 + np.abs(z.numpy())), 2)
    if c.get("C_e") is not None:                                          # 3D on z ≥ 0
        pos = x.numpy() >= 0
        add(lx[pos], c["C_e"] * gx[pos], allowance(lx[pos], c["C_e"] * gx[pos]), 3)
    lam = np.asarray(inst.extra["lam"])
    r = rho(loss, lam)
    add(r, _rho_bar(loss, lam), allowance(r, _rho_bar(loss, lam)), 4)
    return Evaluation(np.concatenate(meas), np.concatenate(bnd), np.concatenate(allw), "<=",
                      {"inequality": np.concatenate(which)})


# ---------------------------------------------------------------------------
# online SGD (row 17): Lemma 17 almost surely, Theorem 4 with probability ≥ 1 − δ
# ---------------------------------------------------------------------------


def online_sgd(Z: np.ndarray, eta: float, steps: int, seeds: int, seed: int) -> tuple[np.ndarray, ...]:
    """Online SGD w_{k+1} = w_k − η∇ℓ(z_{i_k}ᵀw_k), i_k uniform (an empirical distribution), R paths at once.

    Returns per step k < steps: the sample loss L_k(w_k) (R, T), the population risk L(w_k) (R, T),
    the population error Pr(zᵀw_k ≤ 0) (R, T) and ‖w_k‖ (R, T+1).
    """
    rng = np.random.default_rng(seed)
    n, d = Z.shape
    W = np.zeros((seeds, d))
    idx = rng.integers(0, n, size=(steps, seeds))
    Lk = np.empty((seeds, steps))
    Lpop = np.empty((seeds, steps))
    Err = np.empty((seeds, steps))
    wn = np.empty((seeds, steps + 1))
    wn[:, 0] = 0.0
    for k in range(steps):
        M = W @ Z.T  # (R, n)
        Lpop[:, k] = np.logaddexp(0, -M).mean(axis=1)
        Err[:, k] = (M <= 0).mean(axis=1)
        zk = Z[idx[k]]  # (R, d)
        m = (W * zk).sum(axis=1)
        Lk[:, k] = np.logaddexp(0, -m)
        W = W + eta * (0.5 * (1 - np.tanh(m / 2)))[:, None] * zk  # −ℓ′(m) = σ(−m)
        wn[:, k + 1] = np.linalg.norm(W, axis=1)
    return Lk, Lpop, Err, wn


def _sgd_instances(budget: Budget):
    data_st = separable_datasets(n=(1, 12), d=(1, 6), margin=(0.05, 0.9))
    T = budget.steps(400)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        eta = draw(log_uniform(0.25, 256.0))
        return Instance(data, "logistic", (eta,), T, extra={"seed": draw(st.integers(0, 2**32 - 1)),
                                                            "paths": int(64 * budget.scale),
                                                            "delta": draw(st.sampled_from([0.05, 0.1, 0.2]))})

    return inst()


@claim("lemma17.sgd_almost_sure", title="online SGD, every path: (1/t)Σ_{k<t} L_k(w_k) ≤ (1+ln²(γ²ηt)+η²/4)/(γ²ηt) "
                                        "and ‖w_k‖ ≤ (√2+2ln(γ²ηt)+η)/γ for k ≤ t",
       source="Lemma 17 (paper §7)", row=17, kind="exact", quantity="running sample loss; ‖w_k‖", direction="<=",
       domain="γ²ηt ≥ 1", assumptions=("Assumption 2 (empirical distribution of separable data)", "w0 = 0"),
       bound_id=theorem1.EOS_AVERAGE.id, strategy=_sgd_instances, examples=6)
def lemma17_sgd(inst: Instance) -> Evaluation:
    eta, g, T = inst.etas[0], inst.gamma, inst.steps
    Lk, _, _, wn = online_sgd(inst.data.Z, eta, T, inst.extra["paths"], inst.extra["seed"])
    t = np.arange(1, T + 1)[None, :].astype(float)
    avg = np.cumsum(Lk, axis=1) / t
    dom = g**2 * eta * t >= 1
    b1 = at(theorem1.EOS_AVERAGE, eta=eta, gamma=g, t=t)
    runmax = np.maximum.accumulate(wn[:, 1:], axis=1)  # max_{k ≤ t} ‖w_k‖
    b2 = at(theorem1.W_NORM, eta=eta, gamma=g, t=t)
    e1 = worst_per_row(avg, b1, allowance(avg, b1) + avg * rel_allowance(runmax), dom, "<=",
                       {"t": t, "eta": eta, "gamma": g, "n": inst.data.n})
    e2 = worst_per_row(runmax, b2, allowance(runmax, b2), dom, "<=", {"t": t, "eta": eta, "gamma": g, "n": inst.data.n})
    return Evaluation.concat([e1, e2])


#: One-sided binomial test level for "violations happen with frequency ≤ δ".
BINOMIAL_LEVEL = 1e-3


@claim("thm4.sgd_bounds", title="online SGD: Theorem 4's risk and error bounds each hold with probability ≥ 1 − δ",
       source="Theorem 4 (paper §7)", row=17, kind="probabilistic",
       quantity="number of paths violating each bound at the final t", direction="<=",
       domain="γ²ηt ≥ 1; violations counted over R seeded paths; bound = the 1 − 10⁻³ quantile of Binomial(R, δ)",
       assumptions=("Assumption 2 (empirical distribution of separable data)", "w0 = 0"), bound_id=theorem4.LOSS.id,
       strategy=_sgd_instances, examples=6)
def thm4_sgd(inst: Instance) -> Evaluation:
    eta, g, T = inst.etas[0], inst.gamma, inst.steps
    R, delta = inst.extra["paths"], inst.extra["delta"]
    _, Lpop, Err, _ = online_sgd(inst.data.Z, eta, T, R, inst.extra["seed"])
    if g**2 * eta * T < 1:
        return Evaluation(np.zeros(0), np.zeros(0))
    avgL = Lpop.mean(axis=1)
    avgE = Err.mean(axis=1)
    bL = float(at(theorem4.LOSS, eta=eta, gamma=g, t=T, delta=delta))
    bE = float(at(theorem4.ERROR, eta=eta, gamma=g, t=T, delta=delta))
    v1 = int((avgL > bL * (1 + FP_ULPS * EPS)).sum())
    v2 = int((avgE > bE * (1 + FP_ULPS * EPS)).sum())
    q = float(binom.ppf(1 - BINOMIAL_LEVEL, R, delta))
    return Evaluation(np.array([v1, v2], float), np.array([q, q]), 0.0, "<=",
                      {"eta": eta, "t": T, "gamma": g, "paths": R, "delta": delta, "bound_kind": np.array([0.0, 1.0])},
                      best=np.array([avgL.max() / bL]), best_meaning="largest risk/bound")
