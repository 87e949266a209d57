"""Classic baselines (descent lemma, quadratic divergence, small-stepsize rate) and Crawshaw–Liu.

paper.md §9.7 (classics, [R]/[V]) and §2.3, §9.5 (Crawshaw & Liu, COLT 2026).
For logistic regression ℓ″ ≤ 1/4, so L is β-smooth with β = λ_max(XᵀX/n)/4
(‖x_i‖ ≤ 1 gives λ_max ≤ 1, β ≤ 1/4): the descent lemma forbids EoS for
η < 2/β = 8/λ_max, in particular for η < 8.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, const, register
from .symbols import L_s, eta, gamma, hess_max, lambda_max, n, s, t

ln = sp.log
_c_b = const("c_smooth")
_BETA = _c_b * lambda_max  # β = sup ℓ″ · λ_max(XᵀX/n)
_SMOOTH = {"c_smooth": Constant(sp.Rational(1, 4), "sup ℓ″ of the logistic loss")}
NESTEROV = "Nesterov (2018), §1.2.3 / Thm 2.1.14 (classic)"
CRAWSHAW_LIU = "Crawshaw & Liu (COLT 2026)"
_ANY = Assumptions(data=("bounded",), init="any w0")

DESCENT_LEMMA = register(Bound(
    id="classic.descent_lemma", kind="implication", template=2 / _BETA,
    quantity="η", lhs=r"\eta", relation="<", constants=_SMOOTH,
    conclusion=r"L(\mathbf{w}_t)\ \text{decreases monotonically (no EoS)}",
    source=Source("descent lemma: η < 2/β, β = λ_max(XᵀX/n)/4", paper=NESTEROV, ref="paper.md §9.7", tag="R"),
    assumptions=_ANY,
    notes=("With ‖x_i‖ ≤ 1, λ_max ≤ 1: no EoS for η < 8.",),
))

QUADRATIC_DIVERGENCE = register(Bound(
    id="classic.quadratic_divergence", kind="implication", template=2 / hess_max,
    quantity="η", lhs=r"\eta", relation=">",
    conclusion=r"\text{GD on a quadratic with } \lambda_{\max}(\nabla^2 L)=\texttt{hess\_max} \text{ diverges "
               r"(from any } \mathbf{w}_0 \text{ with a component on the top eigenvector)}",
    source=Source("GD on quadratics", paper="classic", ref="paper.md §9.7, seed slides", tag="R"),
    assumptions=Assumptions(data=(), loss=("quadratic",), model="quadratic objective", init="generic w0"),
))

SMALL_STEPSIZE_RATE = register(Bound(
    id="classic.small_stepsize_rate", kind="upper",
    template=(1 + ln(gamma**2 * eta * t) ** 2 / 2) / (gamma**2 * eta * t),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    domain=(sp.Le(eta, 1 / _BETA.subs(_c_b, sp.Rational(1, 4))), sp.Ge(gamma**2 * eta * t, 1)),
    source=Source("small-stepsize rate L(w_t) ≤ L(u) + ‖u‖²/(2ηt), u = w*ln(γ²ηt)/γ", paper=NESTEROV,
                  ref="paper.md §9.7", tag="R"),
    notes=("Needs η ≤ 1/β = 4/λ_max(XᵀX/n); with ‖x‖ ≤ 1 any η ≤ 4 qualifies.",),
))

CL_THRESHOLD = register(Bound(
    id="crawshaw_liu.stable_threshold", kind="threshold", template=sp.Min(1 / (8 * eta), ln(2) / n),
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=",
    conclusion=r"\text{all margins}\ge0,\ L \text{ decreasing, and crawshaw\_liu.stable\_bound from } s",
    source=Source("Appendix A (Lemmas C.3–C.5)", paper=CRAWSHAW_LIU, ref="paper.md §2.3", tag="D"),
    assumptions=Assumptions(init="any w0"), derived=True,
))

CL_STABLE = register(Bound(
    id="crawshaw_liu.stable_bound", kind="upper", template=8 / (eta * gamma**2 * (t - s)),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    premise=r"L(\mathbf{w}_s)\le\frac1{8\eta},\ nL(\mathbf{w}_s)\le\ln2",
    domain=(sp.Gt(t, s),),
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
))

CL_ETA0 = register(Bound(
    id="crawshaw_liu.eta0", kind="threshold", template=sp.Max(n, 32 / gamma**2 * ln(256 / gamma**2)),
    quantity="η", lhs=r"\eta", relation=">=",
    conclusion=r"(d=2)\ \tau_{1/(8\eta)}\le \text{crawshaw\_liu.tau\_2d}",
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
