"""Classic baselines: descent lemma, quadratic divergence, small-stepsize rate.

paper.md §9.7 (classics, [R]/[V]); Crawshaw & Liu (COLT 2026) are in :mod:`.crawshaw_liu`.
For logistic regression ℓ″ ≤ 1/4, so L is β-smooth with β = λ_max(XᵀX/n)/4
(‖x_i‖ ≤ 1 gives λ_max ≤ 1, β ≤ 1/4): the descent lemma forbids EoS for
η < 2/β = 8/λ_max, in particular for η < 8.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, const, register
from .symbols import eta, gamma, hess_max, lambda_max, t

ln = sp.log
_c_b = const("c_smooth")
_BETA = _c_b * lambda_max  # β = sup ℓ″ · λ_max(XᵀX/n)
_SMOOTH = {"c_smooth": Constant(sp.Rational(1, 4), "sup ℓ″ of the logistic loss")}
NESTEROV = "Nesterov (2018), §1.2.3 / Thm 2.1.14 (classic)"
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
    informational='a fact about quadratics (not the logistic theory): shown on a fixed quadratic in report §1',
    source=Source("GD on quadratics", paper="classic", ref="paper.md §9.7, seed slides", tag="R"),
    assumptions=Assumptions(data=(), loss=("quadratic",), model="quadratic objective", init="generic w0"),
))

SMALL_STEPSIZE_RATE = register(Bound(
    id="classic.small_stepsize_rate", kind="upper",
    template=(1 + ln(gamma**2 * eta * t) ** 2 / 2) / (gamma**2 * eta * t),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=",
    domain=(sp.Le(eta, 1 / _BETA.subs(_c_b, sp.Rational(1, 4))), sp.Ge(gamma**2 * eta * t, 1)),
    informational='the classic small-stepsize rate; its logistic case at η = 1 is the claim table1.logistic_rate',
    source=Source("small-stepsize rate L(w_t) ≤ L(u) + ‖u‖²/(2ηt), u = w*ln(γ²ηt)/γ", paper=NESTEROV,
                  ref="paper.md §9.7", tag="R"),
    notes=("Needs η ≤ 1/β = 4/λ_max(XᵀX/n); with ‖x‖ ≤ 1 any η ≤ 4 qualifies.",),
))
