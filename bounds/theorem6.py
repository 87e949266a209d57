"""Theorem 6 (general loss, two-layer network in the NTK regime) and Lemmas 21–32.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), §6 and Appendix H; paper.md §6.
f(x; w) = m^{−1/2} Σ_s a_s φ(xᵀw^{(s)}), ReLU φ, a_s ∈ {±1} fixed with
|Σa_s| ≤ C_a√m (eq. (5)), w₀ ~ N(0, I_{md}), first layer trained, Assumption 4
(NTK separability with margin γ).  Everything below holds with probability
≥ 1 − 3δ over the initialization when the width condition holds, so the width
condition is part of each bound's domain.
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, const, register
from .shadow import Shadow
from .symbols import C1, C2, C_a, C_g, T, delta, eta, gamma, m, n, psi, psi_inv, rho, s, t
from .theorem35 import (
    EOS_CONSTANTS, ERRATUM_15, STABLE_CONSTANTS, THRESHOLD_CONSTANTS, eos_average_expr, stable_bound_expr, stable_threshold_expr, tau_psi_expr,
)

ln = sp.log
_c_R, _c_m = const("c_R"), const("c_m")

#: C_a + √(2 ln(2n/δ)) ≥ max_i |f_i(w₀)| (Lemma 22).
INIT_OUTPUT = C_a + sp.sqrt(2 * ln(2 * n / delta))


def radius_expr(horizon: sp.Expr) -> sp.Expr:
    """6(√ρ(γ²η·horizon) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ: R (horizon T) and R_t (Lemma 28)."""
    return _c_R * (sp.sqrt(rho(gamma**2 * eta * horizon)) + INIT_OUTPUT + eta * C_g) / gamma


_R_C = {"c_R": Constant(sp.Integer(6), "lazy-training radius constant (Lemma 28)")}
R_EXPR = radius_expr(T).subs(_c_R, 6)
WIDTH_EXPR = ((30 * R_EXPR ** sp.Rational(1, 3) + 10 * ln(n / delta) ** sp.Rational(1, 4)) / gamma) ** 6

_NTK = Assumptions(data=("bounded", "NTK-separable (Assumption 4)"), loss=("A", "B"),
                   model="two-layer ReLU, NTK regime (first layer trained)",
                   init="w0 ~ N(0, I_md), a_s ∈ {±1} with |Σa_s| ≤ C_a√m")
_NTK_C = Assumptions(data=_NTK.data, loss=("A", "B", "C"), model=_NTK.model, init=_NTK.init)
_NTK_D = Assumptions(data=_NTK.data, loss=("A", "B", "C", "D"), model=_NTK.model, init=_NTK.init)
_WIDTH = sp.Ge(m, WIDTH_EXPR)
_RHO_T = sp.Ge(gamma**2 * eta * T, 1)
_PROB = r"\text{w.p.}\ge 1-3\delta,\ m \text{ as in thm6.width}"

R = register(Bound(
    id="thm6.R", kind="definition", template=radius_expr(T),
    quantity="R", lhs="R", relation=":=", constants=_R_C, domain=(_RHO_T,),
    informational=("a definition (Theorem 6's R): enters thm6.width and the lazy radius, which the thm6.* "
                   'claims check'),
    source=Source("Theorem 6", ref="paper.md §6"), assumptions=_NTK,
))

WIDTH = register(Bound(
    id="thm6.width", kind="threshold",
    template=((_c_m * R_EXPR ** sp.Rational(1, 3) + 10 * ln(n / delta) ** sp.Rational(1, 4)) / gamma) ** 6,
    quantity="m", lhs="m", relation=">=", constants={"c_m": Constant(sp.Integer(30), "width constant")},
    conclusion=r"\text{w.p.}\ge1-3\delta\ \text{the conclusions of Theorem 6 hold for } t\le T",
    domain=(_RHO_T,),
    informational=('a hypothesis: the width condition that decides the domain of the exact thm6.* claims '
                   '(eoscheck.networks.thm6_conditions)'),
    source=Source("Theorem 6 (width condition)", ref="paper.md §6"), assumptions=_NTK,
    notes=("Exact but impractical: the width is huge except for tiny η and γ near 1 (paper.md §10, claim 24).",),
))

LAZY_RADIUS = register(Bound(
    id="thm6.lazy_radius", kind="upper", template=radius_expr(T),
    quantity="‖w_t − w_0‖", lhs=r"\|\mathbf{w}_t-\mathbf{w}_0\|", relation="<=", constants=_R_C,
    premise=_PROB, domain=(_RHO_T, sp.Le(t, T), _WIDTH),
    source=Source("Theorem 6 (lazy training)", ref="paper.md §6"), assumptions=_NTK,
))

EOS_AVERAGE = register(Bound(
    id="thm6.eos_average", kind="upper", template=eos_average_expr(INIT_OUTPUT),
    quantity="(1/t)Σ_{k<t} L(w_k)", lhs=r"\frac1t\sum_{k=0}^{t-1}L(\mathbf{w}_k)", relation="<=",
    constants=EOS_CONSTANTS, premise=_PROB, domain=(sp.Ge(gamma**2 * eta * t, 1), sp.Le(t, T), _WIDTH),
    source=Source("Theorem 6 (EoS phase)", ref="paper.md §6"), assumptions=_NTK,
))

STABLE_THRESHOLD = register(Bound(
    id="thm6.stable_threshold", kind="threshold", template=stable_threshold_expr(),
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=", constants=THRESHOLD_CONSTANTS, premise=_PROB,
    conclusion=r"(L(\mathbf{w}_t))_{t=s}^T\ \text{decreasing and the bound thm6.stable\_bound}",
    domain=(sp.Lt(s, T), _WIDTH),
    source=Source("Theorem 6 (stable phase)", equation="condition (6)", ref="paper.md §6"), assumptions=_NTK_C,
))

STABLE_BOUND = register(Bound(
    id="thm6.stable_bound", kind="upper", template=stable_bound_expr(),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=", constants=STABLE_CONSTANTS,
    premise=_PROB + r",\ L(\mathbf{w}_s)\le\min\{1/(12C_\beta^2\eta),\ \ell(0)/n\}",
    domain=(sp.Ge(gamma**2 * eta * (t - s), 1), sp.Le(t, T), _WIDTH),
    source=Source("Theorem 6 (stable phase), Lemma 32", ref="paper.md §6, §11.5"), assumptions=_NTK_C,
    notes=(ERRATUM_15,),
))

TAU_PSI = register(Bound(
    id="thm6.tau_psi", kind="time", template=tau_psi_expr(),
    quantity="τ", lhs=r"\tau", relation=":=", premise=_PROB,
    conclusion=r"\tau\le T \Rightarrow \exists\, s\le\tau \text{ with (6)}",
    constants={"C1": Constant(None, "C₁ > 0 depending only on C_g, C_β, C_a, ℓ(0), ln(1/δ)")},
    domain=(sp.Ge(C1 * (eta + n), psi(1)), _WIDTH),
    source=Source("Theorem 6 (phase transition)", ref="paper.md §6"), assumptions=_NTK_C, exact=False,
))

TAU_EXP_TAIL = register(Bound(
    id="thm6.tau_exp_tail", kind="time", template=C2 * sp.Max(eta, n * ln(n)) / gamma**2,
    quantity="τ", lhs=r"\tau", relation=":=", premise=_PROB,
    conclusion=r"\tau\le T \Rightarrow \exists\, s\le\tau \text{ with (6)}",
    constants={"C2": Constant(None, "C₂ > 0 depending only on C_e, C_g, C_β, C_a, ℓ(0), ln(1/δ)")},
    domain=(_WIDTH,),
    source=Source("Theorem 6 (phase transition, exponential tail)", ref="paper.md §6"), assumptions=_NTK_D,
    exact=False, notes=("n ln n (not n as in Theorem 35) because the NTK initial predictor is non-zero.",
                        "Presumes η bounded below: the explicit Lemma 34 time grows like (n/η)ln(1/η) as η → 0.",),
))

LEMMA21_WIDTH = register(Bound(
    id="lemma21.width", kind="threshold", template=50 * ln(n / delta) / gamma**2,
    quantity="m", lhs="m", relation=">=",
    conclusion=r"\text{w.p.}\ge1-\delta\ \exists\,\mathbf{w}_*,\ \|\mathbf{w}_*\|\le1,\ "
               r"\langle y_i\nabla f_i(\mathbf{w}_0),\mathbf{w}_*\rangle\ge 9\gamma/10\ \forall i",
    informational=("a hypothesis of Lemma 21 (NTK margin at initialization), implied by Theorem 6's width; "
                   'shown in the report only'),
    source=Source("Lemma 21", ref="paper.md §6"), assumptions=_NTK,
))

RADIUS_T = register(Bound(
    id="lemma28.radius_t", kind="upper", template=radius_expr(t),
    quantity="‖w_t − w_0‖", lhs=r"\|\mathbf{w}_t-\mathbf{w}_0\|", relation="<=", constants=_R_C, premise=_PROB,
    domain=(sp.Ge(gamma**2 * eta * t, 1), sp.Le(t, T), _WIDTH),
    source=Source("Lemma 28", ref="paper.md §6"), assumptions=_NTK,
))

G_AVERAGE = register(Bound(
    id="lemma29.G_average", kind="upper",
    template=12 * (sp.sqrt(rho(gamma**2 * eta * t)) + INIT_OUTPUT + eta * C_g) / (gamma**2 * eta * t),
    quantity="(1/t)Σ_{k<t} G(w_k)", lhs=r"\frac1t\sum_{k=0}^{t-1}G(\mathbf{w}_k)", relation="<=", premise=_PROB,
    domain=(sp.Ge(gamma**2 * eta * t, 1), sp.Le(t, T), _WIDTH),
    informational='a proof step of Theorem 6 (the average of G); its consequence thm6.eos_average is the claim',
    source=Source("Lemma 29", ref="paper.md §6"), assumptions=_NTK,
))

DISPLACEMENT = register(Bound(
    id="lemma32.displacement", kind="upper",
    template=6 * sp.sqrt(rho(gamma**2 * eta * (t - s))) / gamma,
    quantity="‖w_t − w_s‖", lhs=r"\|\mathbf{w}_t-\mathbf{w}_s\|", relation="<=",
    premise=_PROB + r",\ L(\mathbf{w}_s)\le\min\{1/(12C_\beta^2\eta),\ \ell(0)/n\}",
    domain=(sp.Ge(gamma**2 * eta * (t - s), 1), sp.Le(t, T), _WIDTH),
    informational="a proof step of Theorem 6's stable phase; its consequence thm6.stable_bound is the claim",
    source=Source("Lemma 32", ref="paper.md §6, §11.5"), assumptions=_NTK_C,
))


# --- the slides' asymptotic forms of these bounds (checked in :mod:`.shapes`) ---------------------

_R_SLIDE = sp.sqrt(rho(eta * T)) + eta

SHADOWS = (
    *(sh for loss in ("logistic", "flat_poly:a=2") for sh in (
        Shadow(R, "Theta", _R_SLIDE, ((T, sp.oo), (eta, sp.oo)), "R := Θ(√ρ(ηT) + η)", loss=loss),
        Shadow(WIDTH, "Theta", _R_SLIDE**2, ((T, sp.oo), (eta, sp.oo)), "m ≥ Ω(R²)", loss=loss),
        Shadow(EOS_AVERAGE, "O", (rho(eta * t) + eta**2) / (eta * t), ((t, sp.oo), (eta, sp.oo)),
               "EoS phase: ≤ O((ρ(ηt) + η²)/(ηt))", loss=loss),
        Shadow(STABLE_BOUND, "O", rho(eta * t) / (eta * t), ((t, sp.oo),),
               "stable phase: L(w_{s+t}) ≤ O(ρ(ηt)/(ηt))", loss=loss, fixed={s: 0}),
    )),
    Shadow(STABLE_THRESHOLD, "Theta", 1 / (eta + n), ((eta, sp.oo), (n, sp.oo)),
           "stable phase if L(w_s) ≤ Θ(1/(η + n))", loss="logistic"),
    *(Shadow(TAU_PSI, "O", sp.Max(psi_inv(eta + n), eta * (eta + n)), ((eta, sp.oo), (n, sp.oo)),
             "τ := Θ(max{ψ⁻¹(η + n), η(η + n)})", loss=loss,
             note="Only O for a < 1: Theorem 6 has ψ⁻¹(C₁(η+n))/η; the slide drops the 1/η.")
      for loss in ("flat_poly:a=2", "flat_poly:a=0.5")),
    Shadow(TAU_EXP_TAIL, "Theta", sp.Max(eta, n * sp.log(n)), ((eta, sp.oo), (n, sp.oo)),
           "or τ := Θ(max{η, n ln n}) if ℓ also satisfies D"),
)
