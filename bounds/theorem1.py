"""Theorem 1 (logistic regression, linear model) and its Lemmas 7–12, all constants explicit.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), §2 and Appendix B; paper.md §2.
Every statement here is exact: a numerical violation (beyond rounding) falsifies it.
The EoS and stable bounds are proven where their log argument is ≥ 1
(γ²ηt ≥ 1, γ²η(t−s) ≥ 1; paper.md §2.1, erratum §11.2).
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, const, register
from .shadow import Shadow
from .symbols import F_s, G_t, L_t, eta, gamma, grad_norm, grad_proj, n, s, t

ln = sp.log
_ANY_INIT = Assumptions(init="any w0")
_LOG_DOMAIN = "Proven where the log argument is ≥ 1: the comparator u₁ = w*·ln(γ²ηt)/γ needs ln(γ²ηt) ≥ 0 (paper.md §2.1, §11.2)."

EOS_AVERAGE = register(Bound(
    id="thm1.eos_average", kind="upper",
    template=(1 + ln(gamma**2 * eta * t) ** 2 + eta**2 / 4) / (gamma**2 * eta * t),
    quantity="(1/t)Σ_{k<t} L(w_k)", lhs=r"\frac1t\sum_{k=0}^{t-1}L(\mathbf{w}_k)", relation="<=",
    source=Source("Theorem 1 (EoS phase), Lemma 8", ref="paper.md §2, §2.2"),
    domain=(sp.Ge(gamma**2 * eta * t, 1),), notes=(_LOG_DOMAIN,),
))

W_NORM = register(Bound(
    id="thm1.w_norm", kind="upper",
    template=(sp.sqrt(2) + 2 * ln(gamma**2 * eta * t) + eta) / gamma,
    quantity="‖w_t‖", lhs=r"\|\mathbf{w}_t\|", relation="<=",
    source=Source("Lemma 8", ref="paper.md §2.2"),
    domain=(sp.Ge(gamma**2 * eta * t, 1),), notes=(_LOG_DOMAIN,),
))

SPLIT_STEP = register(Bound(
    id="lemma7.split_step", kind="upper",
    template=-grad_proj / gamma,
    quantity="‖∇L(w)‖²", lhs=r"\|\nabla L(\mathbf{w})\|^2", relation="<=",
    source=Source("Lemma 7 (key step)", ref="paper.md §2.2", tag="D"),
    assumptions=_ANY_INIT, derived=True,
    notes=("2⟨∇L(w), u₂⟩ + η‖∇L(w)‖² ≤ 0 with u₂ = ηw*/(2γ), divided by η; holds at every w.",),
))

G_AVERAGE = register(Bound(
    id="lemma9.G_average", kind="upper",
    template=(sp.sqrt(2) + 2 * ln(gamma**2 * eta * t) + eta) / (gamma**2 * eta * t),
    quantity="(1/t)Σ_{k<t} G(w_k)", lhs=r"\frac1t\sum_{k=0}^{t-1}G(\mathbf{w}_k)", relation="<=",
    source=Source("Lemma 9", ref="paper.md §2.2"),
    domain=(sp.Ge(gamma**2 * eta * t, 1),), notes=(_LOG_DOMAIN,),
))

PERCEPTRON_STEP = register(Bound(
    id="lemma9.perceptron_step", kind="lower",
    template=gamma * eta * G_t,
    quantity="⟨w_{t+1} − w_t, w*⟩", lhs=r"\langle\mathbf{w}_{t+1}-\mathbf{w}_t,\mathbf{w}_*\rangle", relation=">=",
    source=Source("Lemma 9 (perceptron argument)", ref="paper.md §2.2"), assumptions=_ANY_INIT,
))

MONOTONE_THRESHOLD = register(Bound(
    id="lemma10.monotone_threshold", kind="threshold",
    template=2 / eta,
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=",
    conclusion=r"(L(\mathbf{w}_t))_{t\ge s}\ \text{non-increasing}",
    source=Source("Lemma 10", ref="paper.md §2.2, §11.1"), assumptions=_ANY_INIT,
    notes=("Monotonicity needs only L(w_s) ≤ 2/η; Theorem 1 states 1/η for the rate (erratum §11.1).",),
))

LOG_DESCENT = register(Bound(
    id="lemma10.log_descent", kind="upper",
    template=ln(L_t) - eta * (1 / L_t - eta / 2) * grad_norm**2,
    quantity="ln L(w_{t+1})", lhs=r"\ln L(\mathbf{w}_{t+1})", relation="<=",
    source=Source("Lemma 10 (proof: ln L is 1-smooth)", ref="paper.md §2.2"), assumptions=_ANY_INIT,
    notes=("Holds at every step, EoS phase included (claim 2 of paper.md §10).",),
))

STABLE_THRESHOLD = register(Bound(
    id="thm1.stable_threshold", kind="threshold",
    template=1 / eta,
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=",
    conclusion=r"\text{stable phase from } s \text{ and the bound thm1.stable\_bound}",
    informational='a threshold: it defines the starts s of the claims thm1.stable_bound and lemma10.monotone',
    source=Source("Theorem 1 (stable phase)", equation="eq. (2)", ref="paper.md §2"), assumptions=_ANY_INIT,
    notes=("Lemma 10 gives monotonicity already under 2/η (erratum §11.1).",),
))

STABLE_BOUND = register(Bound(
    id="thm1.stable_bound", kind="upper",
    template=(2 * F_s + ln(gamma**2 * eta * (t - s)) ** 2) / (gamma**2 * eta * (t - s)),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    premise=r"L(\mathbf{w}_s)\le 1/\eta",
    source=Source("Theorem 1 (stable phase), Lemma 11", ref="paper.md §2, §2.2"), assumptions=_ANY_INIT,
    domain=(sp.Ge(gamma**2 * eta * (t - s), 1),),
    notes=(_LOG_DOMAIN.replace("γ²ηt", "γ²η(t−s)"), "F_s = F(w_s) = (1/n)Σ exp(−y_i x_iᵀ w_s)."),
))

_c_tau = const("c_tau")
TAU = register(Bound(
    id="thm1.tau", kind="time",
    template=_c_tau / gamma**2 * sp.Max(eta, n, sp.E, (eta + n) / eta * ln((eta + n) / eta)),
    quantity="τ", lhs=r"\tau", relation=":=",
    conclusion=r"\exists\, s\le\lceil\tau\rceil:\ L(\mathbf{w}_s)\le 1/\eta,\ F(\mathbf{w}_s)\le 1",
    constants={"c_tau": Constant(sp.Integer(60), "Theorem 1's phase-transition constant")},
    source=Source("Theorem 1 (phase transition), Lemma 12", ref="paper.md §2, §2.2"),
    notes=("τ need not be an integer: the statement is 'some integer s ≤ ⌈τ⌉' (Lemma 9 is applied at t = τ; paper.md §2.1).",
           "Very loose in practice (paper.md §8.4).",),
))

G_AT_S = register(Bound(
    id="lemma12.G_at_s", kind="upper",
    template=sp.Min(1 / (2 * eta), 1 / (2 * n)),
    quantity="G(w_s)", lhs=r"G(\mathbf{w}_s)", relation="<=",
    premise=r"s\le\lceil\tau\rceil \text{ the step of Lemma 12}",
    source=Source("Lemma 12 (proof)", ref="paper.md §2.2", tag="D"), derived=True,
    notes=("At that s all margins are ≥ 0, so L(w_s) ≤ F(w_s) ≤ 2G(w_s).",),
))

L_AT_S = register(Bound(
    id="lemma12.L_at_s", kind="upper",
    template=sp.Min(1 / eta, 1 / n),
    quantity="F(w_s)", lhs=r"L(\mathbf{w}_s)\le F(\mathbf{w}_s)", relation="<=",
    premise=r"s\le\lceil\tau\rceil \text{ the step of Lemma 12}",
    informational="a proof step of Theorem 1 (the loss at Lemma 12's s); its consequence thm1.tau is the claim",
    source=Source("Lemma 12 (proof)", ref="paper.md §2.2", tag="D"), derived=True,
))

STABLE_FROM_START = register(Bound(
    id="thm1.stable_from_start", kind="implication",
    template=1 / ln(2),
    quantity="η", lhs=r"\eta", relation="<=",
    conclusion=r"L(\mathbf{w}_0)=\ln 2\le 1/\eta:\ \text{stable from } s=0 \text{ (no EoS)}",
    informational='an implication of the definitions (L(w₀) = ln 2 ≤ 1/η): nothing to measure',
    source=Source("Theorem 1 (remark after the statement)", ref="paper.md §2", tag="D"), derived=True,
))


# --- the slides' asymptotic forms of these bounds (checked in :mod:`.shapes`) ---------------------

SHADOWS = (
    Shadow(EOS_AVERAGE, "Otilde", (1 + eta**2) / (eta * t), ((t, sp.oo), (eta, sp.oo)),
           "EoS phase: (1/t)Σ L(w_k) ≤ Õ((1 + η²)/(ηt))", log_power=2),
    Shadow(STABLE_BOUND, "Otilde", F_s / (eta * t), ((t, sp.oo),),
           "stable phase: L(w_{s+t}) ≤ Õ(F(w_s)/(ηt))", log_power=2, fixed={s: 0}),
    Shadow(TAU, "Theta", sp.Max(eta, n, n / eta * sp.log(n / eta)), ((eta, sp.oo), (eta, 0), (n, sp.oo)),
           "phase transition: s ≤ τ := Θ(max{η, n, (n/η) ln(n/η)})"),
)
