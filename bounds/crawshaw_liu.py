"""Crawshaw & Liu (COLT 2026, PMLR 336:1575–1610): tight transition time in two dimensions.

"Tight bounds for logistic regression with large stepsize GD in low dimension"; paper.md §9.5
(full PDF read, tag [V]).  Logistic loss, linear model, w₀ = 0, separable data with ‖xᵢ‖ ≤ 1,
yᵢ = 1 WLOG, max margin γ.  Their transition time is τ_CL := min{t ≥ 0 : L(w_t) ≤ 1/(8η)}.

* Theorem 2.1 / Lemma 2.8 (d = 2, η ≥ max(n, (32/γ²) log(256/γ²))): τ_CL ≤ 2 + 4n/γ + 280 log(2/γ²)/γ²,
  and L(w_t) ≤ 8/(ηγ²(t − τ_CL)) for t > τ_CL (eq. 155) — τ independent of η.
* Appendix A (paper.md §2.3): once L(w_s) ≤ min(1/(8η), ln 2/n), L(w_{s+1}) − L(w_s) ≤ −ηγ²L(w_s)²/8, and so
  L(w_t) ≤ 8/(ηγ²(t − s)) (and the sharper 8/(1/L(w_s) + ηγ²(t − s))), for any data and stepsize.
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
from .symbols import L_s, eta, gamma, n, s, t

ln = sp.log
CRAWSHAW_LIU = "Crawshaw & Liu (COLT 2026)"
_2D = Assumptions(data=("bounded", "separable", "d = 2", "y_i = 1 WLOG"))
_HARD1 = Assumptions(data=("Crawshaw–Liu hard instance 1: x₁ = (γ, −γ), x_i = (γ, √(1−γ²)) for i ≥ 2",))
_HARD2 = Assumptions(data=("Crawshaw–Liu hard instance 2: x_i = (γ, −δ) for i ≤ ⌈n/2⌉, (γ, √(1−γ²)) otherwise",))
#: Theorem 3.1's stepsize range, also its γ and n ranges.
_LOWER_ETA = sp.Ge(eta, sp.Max(n, 32 / gamma**2 * ln(3 / gamma)))
_LOWER_GAMMA = sp.Le(gamma, sp.Rational(1, 6))

CL_THRESHOLD = register(Bound(
    id="crawshaw_liu.stable_threshold", kind="threshold", template=sp.Min(1 / (8 * eta), ln(2) / n),
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=",
    conclusion=r"\text{all margins}\ge0,\ L \text{ decreasing, and crawshaw\_liu.stable\_bound from } s",
    informational='a threshold: it defines the starts s of the claim crawshaw_liu.stable_bound',
    source=Source("Appendix A (Lemmas C.3–C.5)", paper=CRAWSHAW_LIU, ref="paper.md §2.3", tag="D"),
    assumptions=Assumptions(init="any w0"), derived=True,
))

CL_STABLE = register(Bound(
    id="crawshaw_liu.stable_bound", kind="upper", template=8 / (eta * gamma**2 * (t - s)),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    premise=r"L(\mathbf{w}_s)\le\frac1{8\eta},\ nL(\mathbf{w}_s)\le\ln2",
    domain=(sp.Gt(t, s),),
    informational=('the plain form; the claim crawshaw_liu.stable_bound checks the sharper '
                   'crawshaw_liu.stable_bound_sharp, which implies it'),
    source=Source("Appendix A, eq. (155)", paper=CRAWSHAW_LIU, ref="paper.md §2.3, §9.5", tag="D"),
    assumptions=Assumptions(init="any w0"), derived=True,
    notes=("Log-free; their statement assumes η ≥ max(n, …) but the argument needs only the two premises.",),
))

CL_STABLE_SHARP = register(Bound(
    id="crawshaw_liu.stable_bound_sharp", kind="upper", template=8 / (1 / L_s + eta * gamma**2 * (t - s)),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    premise=r"L(\mathbf{w}_s)\le\frac1{8\eta},\ nL(\mathbf{w}_s)\le\ln2",
    domain=(sp.Ge(t, s),),
    source=Source("Appendix A", paper=CRAWSHAW_LIU, ref="paper.md §2.3", tag="D"),
    assumptions=Assumptions(init="any w0"), derived=True,
    notes=("As paper.md §2.3 states it.  Summing crawshaw_liu.step_decrease (1/L_{t+1} ≥ 1/L_t + ηγ²/8) gives the "
           "stronger 8/(8/L(w_s) + ηγ²(t − s)), up to 8× lower near t = s (where this one is 8·L(w_s), weaker than "
           "L_t ≤ L_s); the stronger form is checked step by step through crawshaw_liu.step_decrease.",),
))

CL_STEP = register(Bound(
    id="crawshaw_liu.step_decrease", kind="upper", template=L_s - eta * gamma**2 * L_s**2 / 8,
    quantity="L(w_{s+1})", lhs=r"L(\mathbf{w}_{s+1})", relation="<=",
    premise=r"L(\mathbf{w}_s)\le\frac1{8\eta},\ nL(\mathbf{w}_s)\le\ln2",
    source=Source("Appendix A (Lemmas C.3–C.5)", paper=CRAWSHAW_LIU, ref="paper.md §2.3", tag="D"),
    assumptions=Assumptions(init="any w0"), derived=True,
    notes=("The one-step form L(w_{s+1}) − L(w_s) ≤ −ηγ²L(w_s)²/8; summed over the steps from s it gives "
           "crawshaw_liu.stable_bound_sharp.",),
))

CL_ETA0 = register(Bound(
    id="crawshaw_liu.eta0", kind="threshold", template=sp.Max(n, 32 / gamma**2 * ln(256 / gamma**2)),
    quantity="η", lhs=r"\eta", relation=">=",
    conclusion=r"(d=2)\ \tau_{1/(8\eta)}\le \text{crawshaw\_liu.tau\_2d}",
    informational='a hypothesis: it defines the stepsizes of the claim crawshaw_liu.tau_2d',
    source=Source("Theorem 2.1", paper=CRAWSHAW_LIU, ref="paper.md §9.5"),
    assumptions=Assumptions(data=("bounded", "separable", "d = 2")),
))

CL_TAU_2D = register(Bound(
    id="crawshaw_liu.tau_2d", kind="time", template=2 + 4 * n / gamma + 280 * ln(2 / gamma**2) / gamma**2,
    quantity="τ_{1/(8η)}", lhs=r"\min\{t: L(\mathbf{w}_t)\le 1/(8\eta)\}", relation="<=",
    domain=(sp.Ge(eta, CL_ETA0.expr),),
    source=Source("Lemma 2.8 (Theorem 2.1)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"),
    assumptions=Assumptions(data=("bounded", "separable", "d = 2")),
    notes=("Independent of η in d = 2; 'log' read as the natural log.",),
))

#: Theorem 2.1 / Lemma 2.8 (the d = 2 transition-time upper bound).
TAU_UPPER = CL_TAU_2D
#: Appendix A, eq. (155) (the log-free stable-phase bound).
STABLE_BOUND = CL_STABLE

MISCLASSIFIED_UNTIL = register(Bound(
    id="crawshaw_liu.hard1_misclassified", kind="lower",
    template=n / (16 * gamma),
    quantity="t_sep = min{t : all y_i⟨x_i, w_t⟩ > 0}", lhs=r"t_{\mathrm{sep}}", relation=">",
    conclusion=r"\text{some point is misclassified at every } t\le n/(16\gamma)",
    domain=(_LOWER_GAMMA, sp.Ge(n, 6), _LOWER_ETA),
    source=Source("Theorem 3.1 (hard instance 1)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_HARD1,
))

LOSS_ABOVE_UNTIL = register(Bound(
    id="crawshaw_liu.hard2_loss_above", kind="lower",
    template=1 + 1 / (59 * gamma**2),
    quantity="t_2 = min{t : L(w_t) ≤ 2/η}", lhs=r"t_{2}", relation=">",
    conclusion=r"L(\mathbf{w}_t)>2/\eta \text{ at every } t\le 1+1/(59\gamma^2)",
    domain=(_LOWER_GAMMA, sp.Ge(n, 2), _LOWER_ETA),
    informational=("instance 2's δ is not recorded in paper.md, so there is no instance to claim it on; "
                   'report §9 scans δ (existence)'),
    source=Source("Theorem 3.1 (hard instance 2)", paper=CRAWSHAW_LIU, ref="paper.md §9.5"), assumptions=_HARD2,
    notes=("Explicit in γ, but an existence statement over the construction's δ, which paper.md does not "
           "record: a run at one δ cannot falsify it (report §lower_tau scans δ).",),
))

#: The Theorem 3.1 stepsize floor max(n, (32/γ²) log(3/γ)), for choosing test stepsizes.
LOWER_ETA_FLOOR = sp.Max(n, 32 / gamma**2 * ln(3 / gamma))
