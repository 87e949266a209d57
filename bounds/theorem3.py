"""Theorem 3 (lower bound without EoS) and Lemmas 13–14.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), §4 and Appendix D; paper.md §4.
On the two-point dataset x₁ = (γ, √(1−γ²)), x₂ = (γ, −√(1−γ²)/2), y = 1, 0 < γ < 0.1:
a monotone run has L(w_t) ≥ c₀/t (c₀ free: asymptotic).  The exact part is
Lemma 14: monotone first step ⇒ η ≤ 2 ln 2/(rq), which with r = 1/10, q = 1/2
is η ≤ 40 ln 2; here 40 ln 2 is *derived* by substituting r, q into Lemma 14.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, register
from .shadow import Shadow
from .symbols import c0, eta, q, r, t

ln = sp.log
_THM3_DATA = Assumptions(data=("Theorem 3 two-point dataset", "0 < γ < 0.1"))
_LEMMA14_DATA = Assumptions(data=("bounded", "y_i = 1 WLOG", "fraction ≥ q of points with x_iᵀx̄ < −r"))

#: Lemma 14's r and q for the Theorem 3 data (paper.md §4).
THM3_R, THM3_Q = sp.Rational(1, 10), sp.Rational(1, 2)

GENERAL_THRESHOLD = register(Bound(
    id="lemma14.general_threshold", kind="implication",
    template=2 * ln(2) / (r * q),
    quantity="η", lhs=r"\eta", relation=">",
    conclusion=r"L(\mathbf{w}_1)>L(\mathbf{w}_0)",
    source=Source("Lemma 14", ref="paper.md §4"), assumptions=_LEMMA14_DATA,
    notes=("Contrapositive of: L(w₁) ≤ L(w₀) implies η ≤ 2 ln 2/(rq); w₁ = (η/2)x̄.",),
))

FIRST_STEP_THRESHOLD = register(Bound(
    id="lemma14.first_step_threshold", kind="implication",
    template=GENERAL_THRESHOLD.expr.subs({r: THM3_R, q: THM3_Q}),
    quantity="η", lhs=r"\eta", relation=">",
    conclusion=r"L(\mathbf{w}_1)>L(\mathbf{w}_0)=\ln 2 \text{ on the Theorem 3 data}",
    source=Source("Lemma 14 with r = 1/10, q = 1/2 (proof of Theorem 3)", ref="paper.md §4"),
    assumptions=_THM3_DATA, derived=True,
    notes=("40 ln 2 ≈ 27.73; the actual first-step threshold is about 14–16 (paper.md §4 [N]).",),
))

LOWER = register(Bound(
    id="thm3.lower", kind="lower",
    template=c0 / t,
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation=">=",
    premise=r"(L(\mathbf{w}_t))_{t\ge0}\ \text{non-increasing}",
    constants={"c0": Constant(None, "c₀ = c₀(γ) > 0, independent of t and η (unspecified)")},
    source=Source("Theorem 3", ref="paper.md §4"), assumptions=_THM3_DATA, exact=False,
    notes=("Asymptotic: test as 't·L(w_t) stays bounded away from 0' for monotone runs.",),
))

LEMMA13_LOWER = register(Bound(
    id="lemma13.lower", kind="lower",
    template=1 / (c0 * eta * sp.exp(c0 * eta) * t),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation=">=",
    constants={"c0": Constant(None, "c₀ = c₀(γ, b, n) > 0 (unspecified)")},
    source=Source("Lemma 13", ref="paper.md §4, §11.4"), exact=False,
    assumptions=Assumptions(data=("bounded", "separable", "orthogonal part non-separable with margin b")),
    notes=("Erratum §11.4: for the Theorem 3 data take b = √(1−γ²)/2, not 0.5.",),
))


# --- the slides' asymptotic forms of these bounds (checked in :mod:`.shapes`) ---------------------

SHADOWS = (
    Shadow(LOWER, "Theta", 1 / t, ((t, sp.oo),), "if not enter EoS, L(w_T) ≥ Ω(1/T)"),
)
