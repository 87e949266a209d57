"""Crawshaw & Liu (COLT 2026, PMLR 336:1575–1610): tight transition time in two dimensions.

"Tight bounds for logistic regression with large stepsize GD in low dimension"; paper.md §9.5
(full PDF read, tag [V]).  Logistic loss, linear model, w₀ = 0, separable data with ‖xᵢ‖ ≤ 1,
yᵢ = 1 WLOG, max margin γ.  Their transition time is τ_CL := min{t ≥ 0 : L(w_t) ≤ 1/(8η)}.

* Theorem 2.1 / Lemma 2.8 (d = 2, η ≥ max(n, (32/γ²) log(256/γ²))): τ_CL ≤ 2 + 4n/γ + 280 log(2/γ²)/γ²,
  and L(w_t) ≤ 8/(ηγ²(t − τ_CL)) for t > τ_CL (eq. 155) — τ independent of η.
* Theorem 3.1 (γ ≤ 1/6, n ≥ 2, η ≥ max(n, (32/γ²) log(3/γ))): τ ≥ Ω(n/γ + 1/γ²), by two
  hard instances (builders in :mod:`eoscheck.datasets`):
  - instance 1 (n ≥ 6): x₁ = (γ, −γ), xᵢ = (γ, √(1−γ²)) for i ≥ 2 — some point is misclassified
    for every t ≤ n/(16γ);
  - instance 2: xᵢ = (γ, −δ) for i ≤ ⌈n/2⌉, (γ, √(1−γ²)) otherwise — L(w_t) > 2/η for every
    t ≤ 1 + 1/(59γ²).  δ is part of the construction; paper.md does not record its value, so a
    check at a chosen δ tests the existence claim only where that δ is the paper's.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Source, register
from .symbols import eta, gamma, n, s, t

ln = sp.log
CRAWSHAW_LIU = "Crawshaw & Liu (COLT 2026)"
_2D = Assumptions(data=("bounded", "separable", "d = 2", "y_i = 1 WLOG"))
_HARD1 = Assumptions(data=("Crawshaw–Liu hard instance 1: x₁ = (γ, −γ), x_i = (γ, √(1−γ²)) for i ≥ 2",))
_HARD2 = Assumptions(data=("Crawshaw–Liu hard instance 2: x_i = (γ, −δ) for i ≤ ⌈n/2⌉, (γ, √(1−γ²)) otherwise",))
#: Theorem 3.1's stepsize range, also its γ and n ranges.
_LOWER_ETA = sp.Ge(eta, sp.Max(n, 32 / gamma**2 * ln(3 / gamma)))
_LOWER_GAMMA = sp.Le(gamma, sp.Rational(1, 6))

TAU_UPPER = register(Bound(
    id="cl.tau_upper", kind="time",
    template=2 + 4 * n / gamma + 280 * ln(2 / gamma**2) / gamma**2,
    quantity="τ_CL = min{t : L(w_t) ≤ 1/(8η)}", lhs=r"\tau_{CL}", relation="<=",
    domain=(sp.Ge(eta, sp.Max(n, 32 / gamma**2 * ln(256 / gamma**2))),),
    source=Source("Theorem 2.1, Lemma 2.8", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_2D,
    notes=("Independent of η: in two dimensions the transition time does not grow with the stepsize.",),
))

STABLE_BOUND = register(Bound(
    id="cl.stable_bound", kind="upper",
    template=8 / (eta * gamma**2 * (t - s)),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    premise=r"s=\tau_{CL},\ t>s",
    domain=(sp.Ge(eta, sp.Max(n, 32 / gamma**2 * ln(256 / gamma**2))),),
    source=Source("Theorem 2.1", equation="eq. (155)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_2D,
))

MISCLASSIFIED_UNTIL = register(Bound(
    id="cl.hard1_misclassified", kind="lower",
    template=n / (16 * gamma),
    quantity="t_sep = min{t : all y_i⟨x_i, w_t⟩ > 0}", lhs=r"t_{\mathrm{sep}}", relation=">",
    conclusion=r"\text{some point is misclassified at every } t\le n/(16\gamma)",
    domain=(_LOWER_GAMMA, sp.Ge(n, 6), _LOWER_ETA),
    source=Source("Theorem 3.1 (hard instance 1)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_HARD1,
))

LOSS_ABOVE_UNTIL = register(Bound(
    id="cl.hard2_loss_above", kind="lower",
    template=1 + 1 / (59 * gamma**2),
    quantity="t_2 = min{t : L(w_t) ≤ 2/η}", lhs=r"t_{2}", relation=">",
    conclusion=r"L(\mathbf{w}_t)>2/\eta \text{ at every } t\le 1+1/(59\gamma^2)",
    domain=(_LOWER_GAMMA, sp.Ge(n, 2), _LOWER_ETA),
    source=Source("Theorem 3.1 (hard instance 2)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_HARD2,
    exact=False,
    notes=("The construction's δ is not recorded in paper.md: a run at another δ cannot falsify the statement.",),
))

#: The Theorem 3.1 stepsize floor max(n, (32/γ²) log(3/γ)), for choosing test stepsizes.
LOWER_ETA_FLOOR = sp.Max(n, 32 / gamma**2 * ln(3 / gamma))
