"""Theorem 4 (online SGD) and Proposition 15 (uniform convergence).

Wu, Bartlett, Telgarsky, Yu (COLT 2024), §7 and Appendices E–F; paper.md §7.
Probabilistic statements: each holds with probability ≥ 1 − δ over the samples.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Source, register
from .symbols import d, delta, eta, gamma, n, t

ln = sp.log
_SGD = Assumptions(data=("i.i.d. samples, ‖x‖ ≤ 1", "separable a.s. with margin γ (Assumption 2)"), model="linear, online SGD")
_LAM = gamma**2 * eta * t

LOSS = register(Bound(
    id="thm4.loss", kind="upper",
    template=(2 + 2 * ln(_LAM) ** 2 + eta**2 / 2) / _LAM + (3 + 2 * ln(_LAM) + eta) / gamma * 18 * ln(1 / delta) / t,
    quantity="(1/t)Σ_{k<t} L(w_k) (population risk)", lhs=r"\frac1t\sum_{k=0}^{t-1}L(\mathbf{w}_k)", relation="<=",
    premise=r"\text{w.p.}\ge1-\delta", domain=(sp.Ge(_LAM, 1),),
    source=Source("Theorem 4 (risk)", ref="paper.md §7, §11.6"), assumptions=_SGD,
    notes=("Lemma 18 prints η²B⁴/2; read η²/2 as in Theorem 4 (erratum §11.6).",),
))

ERROR = register(Bound(
    id="thm4.error", kind="upper",
    template=4 * (sp.sqrt(2) + 2 * ln(_LAM) + eta) / _LAM + 36 * ln(1 / delta) / t,
    quantity="(1/t)Σ_{k<t} Pr(y xᵀw_k ≤ 0)", lhs=r"\frac1t\sum_{k=0}^{t-1}\Pr(y\mathbf{x}^\top\mathbf{w}_k\le0)",
    relation="<=", premise=r"\text{w.p.}\ge1-\delta", domain=(sp.Ge(_LAM, 1),),
    informational='checked with thm4.loss by the claim thm4.sgd_bounds',
    source=Source("Theorem 4 (error)", ref="paper.md §7, §11.6"), assumptions=_SGD,
    notes=("Lemma 19 omits '≤ 0' in Pr(y xᵀw_k ≤ 0) (erratum §11.6).",),
))

TEST_ERROR = register(Bound(
    id="prop15.test_error", kind="upper", template=4 * (d * ln(n + 1) + ln(4 / delta)) / n,
    quantity="Pr(y xᵀŵ < 0)", lhs=r"\Pr(y\mathbf{x}^\top\hat{\mathbf{w}}<0)", relation="<=",
    premise=r"y_i\mathbf{x}_i^\top\hat{\mathbf{w}}>0\ \forall i\ (\text{e.g. } L(\hat{\mathbf{w}})<\ln2/n),\ \text{w.p.}\ge1-\delta",
    source=Source("Proposition 15", ref="paper.md §7, §11.8"),
    assumptions=Assumptions(data=("i.i.d.", "bounded", "separable"), init="-"),
    notes=("Erratum §11.8: L ≤ 1/n does not certify zero training error; L < ln 2/n does.",),
))
