"""Test oracle: independent transcriptions of the bounds, keyed by bound id.

Each function is vectorized over numpy arrays and is a direct transcription of the formula in
``paper.md`` (section cited), typed independently of ``bounds/``: the claims evaluate only
:mod:`eoscheck.bounds`; ``tests/test_properties_formulas.py`` checks that the two agree.

ρ(λ) = min_z λℓ(z) + z² (Assumption 3A) is computed here for any loss by bisection on the
stationarity condition λℓ′(z) + 2z = 0 (the objective is strictly convex, the root lies in
(0, λC_g/2]) — a different method from ``bounds/rho.py`` (safeguarded Newton / closed forms).
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
import torch

from eoscheck.losses import Loss, get_loss

LN2 = math.log(2.0)


def _ln(x):
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(x, dtype=np.float64))


# --- Theorem 1 and Lemmas 7–12 (paper §2) -------------------------------------------------


def eos_average(eta, gamma, t):
    """(1 + ln²(γ²ηt) + η²/4)/(γ²ηt): Theorem 1 / Lemma 8, average loss up to t."""
    lam = gamma**2 * eta * t
    return (1 + _ln(lam) ** 2 + eta**2 / 4) / lam


def w_norm(eta, gamma, t):
    """(√2 + 2 ln(γ²ηt) + η)/γ: Lemma 8, ‖w_t‖."""
    return (math.sqrt(2) + 2 * _ln(gamma**2 * eta * t) + eta) / gamma


def G_average(eta, gamma, t):
    """(√2 + 2 ln(γ²ηt) + η)/(γ²ηt): Lemma 9, average gradient potential up to t."""
    lam = gamma**2 * eta * t
    return (math.sqrt(2) + 2 * _ln(lam) + eta) / lam


def stable_bound(eta, gamma, t, s, F_s):
    """(2F(w_s) + ln²(γ²η(t−s)))/(γ²η(t−s)): Theorem 1 / Lemma 11."""
    lam = gamma**2 * eta * (t - s)
    return (2 * F_s + _ln(lam) ** 2) / lam


def tau(eta, n, gamma):
    """(60/γ²)·max{η, n, e, ((η+n)/η) ln((η+n)/η)}: Theorem 1 / Lemma 12."""
    eta = np.asarray(eta, dtype=np.float64)
    r = (eta + n) / eta
    return 60 / gamma**2 * np.maximum.reduce([eta, np.broadcast_to(float(n), eta.shape),
                                              np.full(eta.shape, math.e), r * np.log(r)])


def cor2_T_min(n, gamma):
    """120·max{e, n}/γ²: Corollary 2's budget condition."""
    return 120 * max(math.e, n) / gamma**2


def cor2_eta(T, gamma):
    """γ²T/120: Corollary 2's stepsize."""
    return gamma**2 * np.asarray(T, dtype=np.float64) / 120


def cor2_bound(T, gamma):
    """480 ln²(γ⁴T²)/(γ⁴T²): Corollary 2."""
    x = gamma**4 * np.asarray(T, dtype=np.float64) ** 2
    return 480 * _ln(x) ** 2 / x


def lemma14_threshold(r, q):
    """2 ln 2/(rq): Lemma 14 (monotone first step implies η ≤ this)."""
    return 2 * LN2 / (r * q)


def crawshaw_liu_stable(eta, gamma, t, s, L_s):
    """8/(1/L(w_s) + ηγ²(t−s)) ≤ 8/(ηγ²(t−s)): Crawshaw & Liu App. A (paper §2.3)."""
    return 8 / (1 / L_s + eta * gamma**2 * (t - s))


def crawshaw_liu_step(eta, gamma, L_s):
    """L(w_s) − ηγ²L(w_s)²/8: Crawshaw & Liu App. A's one-step decrease (paper §2.3)."""
    return L_s - eta * gamma**2 * L_s**2 / 8


def crawshaw_liu_tau_2d(n, gamma):
    """2 + 4n/γ + 280 ln(2/γ²)/γ²: Crawshaw & Liu Lemma 2.8 (d = 2, η ≥ η₀; paper §9.5)."""
    return 2 + 4 * n / gamma + 280 * math.log(2 / gamma**2) / gamma**2


def crawshaw_liu_eta0(n, gamma):
    """η₀ = max(n, (32/γ²) ln(256/γ²)): Crawshaw & Liu Theorem 2.1."""
    return max(n, 32 / gamma**2 * math.log(256 / gamma**2))


def descent_threshold(Z: np.ndarray, loss: Loss | None = None) -> float:
    """2/β with β = sup ℓ″ · λ_max(ZᵀZ/n) (logistic: sup ℓ″ = 1/4): the descent lemma (§9.7)."""
    n = Z.shape[0]
    lam = float(np.linalg.eigvalsh(Z.T @ Z / n)[-1])
    return 2 / (0.25 * lam)


# --- Theorem 35 (paper §5.1) ---------------------------------------------------------------


def rho(loss: Loss | str, lam) -> np.ndarray:
    """ρ(λ) = min_z λℓ(z) + z² for λ ≥ 1, by bisection on h(z) = λℓ′(z) + 2z (exact to rounding).

    h is increasing (ℓ convex), h(0) = λℓ′(0) < 0 and h(λC_g/2) ≥ 0, so the root is
    bracketed; bisection stops when the bracket is a few ulps wide.  ρ is a minimum,
    so the error in z enters ρ only to second order.
    """
    loss = get_loss(loss)
    lam = np.atleast_1d(np.asarray(lam, dtype=np.float64))
    shape = lam.shape
    lam = lam.ravel()
    lt = torch.as_tensor(lam)

    def h(zz: np.ndarray) -> np.ndarray:
        zt = torch.as_tensor(zz)
        return (lt * loss.grad(zt) + 2 * zt).numpy()

    lo = np.zeros_like(lam)
    hi = np.maximum(lam, 1.0)
    for _ in range(60):  # grow the bracket where needed (losses with C_g > 2)
        neg = h(hi) < 0
        if not neg.any():
            break
        lo, hi = np.where(neg, hi, lo), np.where(neg, 2 * hi, hi)
    for _ in range(120):
        mid = 0.5 * (lo + hi)
        below = h(mid) < 0
        lo, hi = np.where(below, mid, lo), np.where(below, hi, mid)
        if np.all(hi - lo <= 4 * np.finfo(np.float64).eps * np.maximum(hi, 1e-300)):
            break
    z = 0.5 * (lo + hi)
    out = (lt * loss.value(torch.as_tensor(z))).numpy() + z**2
    return out.reshape(shape)


def psi(loss: Loss | str, lam) -> np.ndarray:
    """ψ(λ) = λ/ρ(λ), increasing (paper §5)."""
    lam = np.asarray(lam, dtype=np.float64)
    return lam / rho(loss, lam)


def psi_inverse(loss: Loss | str, y) -> np.ndarray:
    """ψ⁻¹(y) for y ≥ ψ(1), by bisection in ln λ (ψ is increasing)."""
    y = np.atleast_1d(np.asarray(y, dtype=np.float64))
    lo = np.zeros_like(y)
    hi = np.full_like(y, 2.0)
    while True:
        bad = psi(loss, np.exp(hi)) < y
        if not bad.any() or hi.max() > 700:
            break
        hi = np.where(bad, 2 * hi, hi)
    for _ in range(100):
        mid = 0.5 * (lo + hi)
        below = psi(loss, np.exp(mid)) < y
        lo = np.where(below, mid, lo)
        hi = np.where(below, hi, mid)
    return np.exp(hi)


def constants(loss: Loss) -> dict[str, float | None]:
    """The Assumption 3 constants of a built-in loss as floats (None = the condition fails), typed here from
    paper.md §5, Proposition 5's table — not read from the loss under test: logistic C_g = 1, C_β = e/2,
    C_e = 2; flattened exponential (a) C_g = a, C_β = max{a, ae^a/2, 1}, C_e = 1/a; flattened polynomial (a)
    C_g = a, C_β = max{a, (a+1)2^a}, no C_e.  The exponential e^{−z} is not in the table: g = ℓ, so
    C_β = C_e = 1, and g is unbounded (3B fails)."""
    a = loss.params.get("a")
    table = {"logistic": lambda: {"C_g": 1.0, "C_beta": math.e / 2, "C_e": 2.0},
             "exponential": lambda: {"C_g": None, "C_beta": 1.0, "C_e": 1.0},
             "flat_exp": lambda: {"C_g": a, "C_beta": max(a, a * math.exp(a) / 2, 1.0), "C_e": 1 / a},
             "flat_poly": lambda: {"C_g": a, "C_beta": max(a, (a + 1) * 2**a), "C_e": None}}
    if loss.family not in table:
        raise ValueError(f"no Proposition 5 constants for {loss.name}")
    return table[loss.family]()


def thm35_eos(loss: Loss, eta, gamma, t):
    """9(ρ(γ²ηt) + (ηC_g)²)/(γ²ηt): Theorem 35, EoS phase (needs γ²ηt ≥ 1 for ρ)."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * t
    Cg = constants(loss)["C_g"]
    return 9 * (rho(loss, lam) + (eta * Cg) ** 2) / lam


def thm35_threshold(loss: Loss, eta, n):
    """min{1/(12C_β²η), ℓ(0)/n}: Theorem 35's stable condition (15)."""
    Cb = constants(loss)["C_beta"]
    return np.minimum(1 / (12 * Cb**2 * np.asarray(eta, dtype=np.float64)), loss.ell0 / n)


def thm35_stable(loss: Loss, eta, gamma, t, s):
    """15ρ(γ²η(t−s))/(γ²η(t−s)): Theorem 35, stable phase."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * (np.asarray(t) - np.asarray(s))
    return 15 * rho(loss, lam) / lam


def thm35_tau_exp(loss: Loss, eta: float, n: int, gamma: float) -> float:
    """Smallest τ with the Lemma 34 sufficient condition (paper §5.1 [D], exponential tail).

    12[(C_e/η) ln(γ²τ)/(γ²τ) + (C_g+C_e)/(γ²τ) + √ℓ(0)/(ηγ²τ)] ≤ min{1/(12C_eC_β²η), ℓ(0)/(C_e n)},
    solved for x = γ²τ ≥ e (the left side decreases there) by bisection in ln x.
    """
    c = constants(loss)
    Ce, Cg, Cb, l0 = c["C_e"], c["C_g"], c["C_beta"], loss.ell0
    rhs = min(1 / (12 * Ce * Cb**2 * eta), l0 / (Ce * n))

    def lhs(x):
        return 12 * ((Ce / eta) * math.log(x) / x + (Cg + Ce) / x + math.sqrt(l0) / (eta * x))

    lo, hi = 1.0, 2.0
    while lhs(math.exp(hi)) > rhs:
        hi *= 2
    for _ in range(200):
        mid = 0.5 * (lo + hi)
        if lhs(math.exp(mid)) > rhs:
            lo = mid
        else:
            hi = mid
    return math.exp(hi) / gamma**2


def thm35_tau_poly(loss: Loss, eta: float, n: int, gamma: float) -> float:
    """τ with γ²ητ = max{ψ⁻¹(18(12C_β²η + n/ℓ(0))), 18(12C_β²η + n/ℓ(0))(ηC_g)²} (Lemma 33, §5.1 [D])."""
    c = constants(loss)
    y = 18 * (12 * c["C_beta"] ** 2 * eta + n / loss.ell0)
    return max(float(psi_inverse(loss, y)[0]), y * (eta * c["C_g"]) ** 2) / (gamma**2 * eta)


def tau_psi(loss: Loss, eta, n, gamma, C1):
    """(1/γ²)·max{ψ⁻¹(C₁(η+n))/η, C₁(η+n)η}: Theorems 35 and 6, phase transition (C₁ a free constant)."""
    eta = np.atleast_1d(np.asarray(eta, dtype=np.float64))
    y = C1 * (eta + n)
    return np.maximum(psi_inverse(loss, y) / eta, y * eta) / gamma**2


def thm35_tau_exp_tail(eta, n, gamma, C2):
    """(C₂/γ²)·max{η, n}: Theorem 35 under an exponential tail (linear model, w₀ = 0)."""
    return C2 / gamma**2 * np.maximum(np.asarray(eta, dtype=np.float64), n)


def lemma34_rho_bound(loss: Loss, lam):
    """ℓ(0) + C_e² ln²λ: eq. (14) in the proof of Lemma 34 (paper §5, remarks on Assumption 3)."""
    return loss.ell0 + constants(loss)["C_e"] ** 2 * _ln(lam) ** 2


# --- Theorem 6 and Lemmas 21–32 (paper §6) ---------------------------------------------------


def _init_scale(loss: Loss, C_a, eta, n, delta):
    """C_a + √(2 ln(2n/δ)) + ηC_g: the initial predictor's bound plus the step's, as Theorem 6 writes it."""
    return C_a + np.sqrt(2 * np.log(2 * n / delta)) + np.asarray(eta, dtype=np.float64) * constants(loss)["C_g"]


def ntk_radius(loss: Loss, C_a, eta, n, delta, gamma, t):
    """R_t = 6(√ρ(γ²ηt) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ: Lemma 28 (R = R_T: Theorem 6)."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * t
    return 6 * (np.sqrt(rho(loss, lam)) + _init_scale(loss, C_a, eta, n, delta)) / gamma


def thm6_width(loss: Loss, C_a, eta, n, delta, gamma, T):
    """((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶: Theorem 6's width condition."""
    R = ntk_radius(loss, C_a, eta, n, delta, gamma, T)
    return ((30 * np.cbrt(R) + 10 * np.log(n / delta) ** 0.25) / gamma) ** 6


def thm6_eos(loss: Loss, C_a, eta, n, delta, gamma, t):
    """9(ρ(γ²ηt) + (C_a + √(2 ln(2n/δ)) + ηC_g)²)/(γ²ηt): Theorem 6, EoS phase."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * t
    return 9 * (rho(loss, lam) + _init_scale(loss, C_a, eta, n, delta) ** 2) / lam


def lemma29_G_average(loss: Loss, C_a, eta, n, delta, gamma, t):
    """12(√ρ(γ²ηt) + C_a + √(2 ln(2n/δ)) + ηC_g)/(γ²ηt): Lemma 29."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * t
    return 12 * (np.sqrt(rho(loss, lam)) + _init_scale(loss, C_a, eta, n, delta)) / lam


def lemma32_displacement(loss: Loss, eta, gamma, t, s):
    """6√ρ(γ²η(t−s))/γ: Lemma 32, ‖w_t − w_s‖ in the stable phase."""
    lam = gamma**2 * np.asarray(eta, dtype=np.float64) * (np.asarray(t) - np.asarray(s))
    return 6 * np.sqrt(rho(loss, lam)) / gamma


# --- the per-step and threshold statements (paper §§2.2–2.3, 4, 5, 9.5, 9.7) ------------------

#: bound id → oracle evaluator of a statement whose right side is a line of arithmetic, typed from paper.md:
#: Lemma 7's key step ‖∇L‖² ≤ −⟨∇L, w*⟩/γ (u₂ = ηw*/(2γ) in 2⟨∇L, u₂⟩ + η‖∇L‖² ≤ 0); Lemma 9's
#: ⟨w_{t+1} − w_t, w*⟩ ≥ γηG(w_t); Lemma 10's 2/η and its ln L step; Theorem 1's 1/η and 1/ln 2 (L(w₀) = ln 2 ≤
#: 1/η: stable from the start); Lemma 12's G(w_s) ≤ min{1/(2η), 1/(2n)} and L(w_s) ≤ min{1/η, 1/n}; Corollary
#: 2's τ ≤ T/2; Lemma 14 at r = 1/10, q = 1/2; Theorem 3's c₀/t; Lemma 13's 1/(c₀η e^{c₀η} t); Proposition 5's
#: ρ bounds; Lemma 21's width; the descent lemma's 2/β = 8/λ_max (β = λ_max/4); a quadratic's 2/λ_max; the
#: small-stepsize rate (1 + ½ln²(γ²ηt))/(γ²ηt); Crawshaw–Liu's min{1/(8η), ln 2/n}, 8/(ηγ²(t−s)), n/(16γ) and
#: 1 + 1/(59γ²).
LINES: dict[str, Callable] = {
    "lemma7.split_step": lambda gamma, grad_proj: -grad_proj / gamma,
    "lemma9.perceptron_step": lambda G_t, eta, gamma: gamma * eta * G_t,
    "lemma10.monotone_threshold": lambda eta: 2 / eta,
    "lemma10.log_descent": lambda L_t, eta, grad_norm: np.log(L_t) - eta * (1 / L_t - eta / 2) * grad_norm**2,
    "thm1.stable_threshold": lambda eta: 1 / eta,
    "thm1.stable_from_start": lambda: 1 / LN2,
    "lemma12.G_at_s": lambda eta, n: np.minimum(1 / (2 * eta), 1 / (2 * n)),
    "lemma12.L_at_s": lambda eta, n: np.minimum(1 / eta, 1 / n),
    "cor2.tau": lambda T: T / 2,
    "lemma14.first_step_threshold": lambda: lemma14_threshold(0.1, 0.5),
    "thm3.lower": lambda t, c0: c0 / t,
    "lemma13.lower": lambda eta, t, c0: 1 / (c0 * eta * np.exp(c0 * eta) * t),
    "prop5.rho_logistic": lambda lam: 1 + _ln(lam) ** 2,
    "prop5.rho_flat_exp": lambda a, lam: 1 + _ln(lam) ** 2 / a**2,
    "prop5.rho_flat_poly": lambda a, lam: 2 * lam ** (2 / (a + 2)),
    "lemma21.width": lambda delta, gamma, n: 50 * np.log(n / delta) / gamma**2,
    "classic.descent_lemma": lambda lambda_max: 2 / (lambda_max / 4),
    "classic.quadratic_divergence": lambda hess_max: 2 / hess_max,
    "classic.small_stepsize_rate": lambda eta, gamma, t: (1 + _ln(gamma**2 * eta * t) ** 2 / 2)
                                                         / (gamma**2 * eta * t),
    "crawshaw_liu.stable_threshold": lambda eta, n: np.minimum(1 / (8 * eta), LN2 / n),
    "crawshaw_liu.stable_bound": lambda eta, gamma, t, s: 8 / (eta * gamma**2 * (t - s)),
    "crawshaw_liu.hard1_misclassified": lambda gamma, n: n / (16 * gamma),
    "crawshaw_liu.hard2_loss_above": lambda gamma: 1 + 1 / (59 * gamma**2),
}


# --- SGD and generalization (paper §7) -------------------------------------------------------


def thm4_loss(eta, gamma, t, delta):
    """Theorem 4's average population-risk bound, w.p. ≥ 1 − δ."""
    lam = gamma**2 * eta * t
    return (2 + 2 * _ln(lam) ** 2 + eta**2 / 2) / lam + (3 + 2 * _ln(lam) + eta) / gamma * 18 * math.log(1 / delta) / t


def thm4_error(eta, gamma, t, delta):
    """Theorem 4's average population-error bound, w.p. ≥ 1 − δ."""
    lam = gamma**2 * eta * t
    return 4 * (math.sqrt(2) + 2 * _ln(lam) + eta) / lam + 36 * math.log(1 / delta) / t


def lemma17_average(eta, gamma, t):
    """Lemma 17: (1/t)Σ L_k(w_k) ≤ (1 + ln²(γ²ηt) + η²/4)/(γ²ηt) almost surely (online SGD)."""
    return eos_average(eta, gamma, t)


def prop15_error(d, n, delta):
    """4(d ln(n+1) + ln(4/δ))/n: Proposition 15."""
    return 4 * (d * math.log(n + 1) + math.log(4 / delta)) / n


# --- the oracle by bound id -----------------------------------------------------------------

#: bound id → oracle evaluator taking the bound's keyword parameters (and ``loss``).
ORACLE: dict[str, Callable] = {
    "cor2.T_min": lambda loss, n, gamma: cor2_T_min(n, gamma),
    "cor2.eta": lambda loss, T, gamma: cor2_eta(T, gamma),
    "lemma14.general_threshold": lambda loss, r, q: lemma14_threshold(r, q),
    "crawshaw_liu.eta0": lambda loss, n, gamma: crawshaw_liu_eta0(n, gamma),
    "thm1.eos_average": lambda loss, eta, gamma, t: eos_average(eta, gamma, t),
    "thm1.w_norm": lambda loss, eta, gamma, t: w_norm(eta, gamma, t),
    "lemma9.G_average": lambda loss, eta, gamma, t: G_average(eta, gamma, t),
    "thm1.stable_bound": lambda loss, eta, gamma, t, s, F_s: stable_bound(eta, gamma, t, s, F_s),
    "thm1.tau": lambda loss, eta, gamma, n: tau(eta, n, gamma),
    "cor2.bound": lambda loss, T, gamma: cor2_bound(T, gamma),
    "crawshaw_liu.stable_bound_sharp": lambda loss, eta, gamma, t, s, L_s: crawshaw_liu_stable(eta, gamma, t, s, L_s),
    "crawshaw_liu.tau_2d": lambda loss, n, gamma: crawshaw_liu_tau_2d(n, gamma),
    "crawshaw_liu.step_decrease": lambda loss, eta, gamma, L_s: crawshaw_liu_step(eta, gamma, L_s),
    "thm35.eos_average": lambda loss, eta, gamma, t: thm35_eos(get_loss(loss), eta, gamma, t),
    "thm35.stable_threshold": lambda loss, eta, n: thm35_threshold(get_loss(loss), eta, n),
    "thm35.stable_bound": lambda loss, eta, gamma, t, s: thm35_stable(get_loss(loss), eta, gamma, t, s),
    "thm35.tau_explicit_exp": lambda loss, eta, gamma, n: np.array(
        [thm35_tau_exp(get_loss(loss), float(e), n, gamma) for e in np.atleast_1d(eta)]),
    "thm35.tau_explicit_poly": lambda loss, eta, gamma, n: np.array(
        [thm35_tau_poly(get_loss(loss), float(e), n, gamma) for e in np.atleast_1d(eta)]),
    "thm4.loss": lambda loss, eta, gamma, t, delta: thm4_loss(eta, gamma, t, delta),
    "thm4.error": lambda loss, eta, gamma, t, delta: thm4_error(eta, gamma, t, delta),
    "prop15.test_error": lambda loss, d, n, delta: prop15_error(d, n, delta),
    "thm35.tau_psi": lambda loss, eta, gamma, n, C1: tau_psi(get_loss(loss), eta, n, gamma, C1),
    "thm35.tau_exp_tail": lambda loss, eta, gamma, n, C2: thm35_tau_exp_tail(eta, n, gamma, C2),
    "lemma34.rho_exp_tail": lambda loss, **kw: lemma34_rho_bound(get_loss(loss), kw["lambda"]),
    "lemma20.ell_sqrt_rho": lambda loss, **kw: rho(loss, kw["lambda"]) / np.asarray(kw["lambda"], float),
    "thm6.R": lambda loss, C_a, T, delta, eta, gamma, n: ntk_radius(get_loss(loss), C_a, eta, n, delta, gamma, T),
    "thm6.lazy_radius": lambda loss, C_a, T, delta, eta, gamma, n: ntk_radius(get_loss(loss), C_a, eta, n, delta,
                                                                                gamma, T),
    "lemma28.radius_t": lambda loss, C_a, delta, eta, gamma, n, t: ntk_radius(get_loss(loss), C_a, eta, n, delta,
                                                                                gamma, t),
    "thm6.width": lambda loss, C_a, T, delta, eta, gamma, n: thm6_width(get_loss(loss), C_a, eta, n, delta, gamma, T),
    "thm6.eos_average": lambda loss, C_a, delta, eta, gamma, n, t: thm6_eos(get_loss(loss), C_a, eta, n, delta,
                                                                              gamma, t),
    "lemma29.G_average": lambda loss, C_a, delta, eta, gamma, n, t: lemma29_G_average(get_loss(loss), C_a, eta, n,
                                                                                        delta, gamma, t),
    "lemma32.displacement": lambda loss, eta, gamma, s, t: lemma32_displacement(get_loss(loss), eta, gamma, t, s),
    "thm6.stable_threshold": lambda loss, eta, n: thm35_threshold(get_loss(loss), eta, n),
    "thm6.stable_bound": lambda loss, eta, gamma, s, t: thm35_stable(get_loss(loss), eta, gamma, t, s),
    "thm6.tau_psi": lambda loss, eta, gamma, n, C1: tau_psi(get_loss(loss), eta, n, gamma, C1),
    "thm6.tau_exp_tail": lambda loss, eta, gamma, n, C2: C2 / gamma**2 * np.maximum(
        np.asarray(eta, dtype=np.float64), n * math.log(n)),
    # (a bound's parameter λ is spelled "lambda", a Python keyword: the lines take it as lam)
    **{bid: (lambda f: lambda loss=None, **kw: f(**{"lam" if k == "lambda" else k: v for k, v in kw.items()}))(f)
       for bid, f in LINES.items()},
}
