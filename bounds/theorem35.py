"""Theorem 35 (general loss, linear model) and the explicit τ read off Lemmas 33/34.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), Appendix I; paper.md §5.1.  The loss
satisfies Assumption 3 (A regularity, B Lipschitz C_g, C self-bounded C_β,
D exponential tail C_e); ρ(λ) = min_z λℓ(z) + z² and ψ(λ) = λ/ρ(λ) come from
the loss (:mod:`eoscheck.bounds.rho`).  The C₁/C₂ forms of τ have free
constants; the explicit forms (tag [D]) drop the NTK terms C_a + √(2 ln(2n/δ))
since f_i(w₀) = 0 for a linear model at w₀ = 0:

* Lemma 33 (no exponential tail): γ²ητ ≥ max{ψ⁻¹(K), K(ηC_g)²}, K = 18(12C_β²η + n/ℓ(0));
* Lemma 34 (exponential tail): the smallest x = γ²τ ≥ 1 beyond which
  (A ln x + B)/x ≤ M, A = 12C_e/η, B = 12(C_g + C_e) + 12√ℓ(0)/η,
  M = min{1/(12C_eC_β²η), ℓ(0)/(C_e n)}: x = (A/M)·V(B/A + ln(A/M)) with
  V(s) = −W₋₁(−e^{−s}) (see :func:`derive_tau_explicit_exp`).
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .bound import Assumptions, Bound, Constant, Source, const, register
from .derivation import Derivation, is_zero
from .shadow import Shadow
from .special import LambertWm1Log
from .symbols import C1, C2, C_beta, C_e, C_g, ell0, eta, gamma, n, psi, psi_inv, rho, s, t

ln = sp.log
_c_eos, _c_stab, _c_thr = const("c_eos"), const("c_stab"), const("c_thr")
EOS_CONSTANTS = {"c_eos": Constant(sp.Integer(9), "EoS constant of Theorems 35/6")}
STABLE_CONSTANTS = {"c_stab": Constant(sp.Integer(15), "stable-phase constant of Theorems 35/6 (Lemma 32 prints 16)")}
THRESHOLD_CONSTANTS = {"c_thr": Constant(sp.Integer(12), "stable-condition constant 12 of (15)/(6)")}
ERRATUM_15 = "Lemma 32's statement prints 16; its proof and Theorem 6 give 15, encoded here (erratum §11.5)."


def _linear(*letters: str) -> Assumptions:
    return Assumptions(loss=letters)


def eos_average_expr(offset: sp.Expr) -> sp.Expr:
    """c_eos(ρ(γ²ηt) + (offset + ηC_g)²)/(γ²ηt) (Theorem 35: offset 0; Theorem 6: C_a + √(2 ln(2n/δ)))."""
    lam = gamma**2 * eta * t
    return _c_eos * (rho(lam) + (offset + eta * C_g) ** 2) / lam


def stable_threshold_expr() -> sp.Expr:
    """min{1/(12C_β²η), ℓ(0)/n}: conditions (15) and (6)."""
    return sp.Min(1 / (_c_thr * C_beta**2 * eta), ell0 / n)


def stable_bound_expr() -> sp.Expr:
    """15ρ(γ²η(t−s))/(γ²η(t−s))."""
    lam = gamma**2 * eta * (t - s)
    return _c_stab * rho(lam) / lam


def tau_psi_expr() -> sp.Expr:
    """(1/γ²)·max{ψ⁻¹(C₁(η+n))/η, C₁(η+n)η}."""
    return sp.Max(psi_inv(C1 * (eta + n)) / eta, C1 * (eta + n) * eta) / gamma**2


EOS_AVERAGE = register(Bound(
    id="thm35.eos_average", kind="upper", template=eos_average_expr(sp.Integer(0)),
    quantity="(1/t)Σ_{k<t} L(w_k)", lhs=r"\frac1t\sum_{k=0}^{t-1}L(\mathbf{w}_k)", relation="<=",
    constants=EOS_CONSTANTS, domain=(sp.Ge(gamma**2 * eta * t, 1),),
    source=Source("Theorem 35 (EoS phase)", ref="paper.md §5.1"), assumptions=_linear("A", "B"),
    notes=("ρ is defined for λ ≥ 1 (Assumption 3A), hence γ²ηt ≥ 1.",),
))

STABLE_THRESHOLD = register(Bound(
    id="thm35.stable_threshold", kind="threshold", template=stable_threshold_expr(),
    quantity="L(w_s)", lhs=r"L(\mathbf{w}_s)", relation="<=", constants=THRESHOLD_CONSTANTS,
    conclusion=r"(L(\mathbf{w}_t))_{t\ge s}\ \text{decreasing and the bound thm35.stable\_bound}",
    source=Source("Theorem 35 (stable phase)", equation="condition (15)", ref="paper.md §5.1"),
    assumptions=_linear("A", "B", "C"),
))

STABLE_BOUND = register(Bound(
    id="thm35.stable_bound", kind="upper", template=stable_bound_expr(),
    quantity="L(w_t)", lhs=r"L(\mathbf{w}_t)", relation="<=", constants=STABLE_CONSTANTS,
    premise=r"L(\mathbf{w}_s)\le\min\{1/(12C_\beta^2\eta),\ \ell(0)/n\}",
    domain=(sp.Ge(gamma**2 * eta * (t - s), 1),),
    source=Source("Theorem 35 (stable phase)", ref="paper.md §5.1, §11.5, §11.7"), assumptions=_linear("A", "B", "C"),
    notes=(ERRATUM_15, "The proof's 'margin is γ ≥ 0.9γ' is a typo; T in 't ∈ [s, T]' is undefined for the linear case (§11.7)."),
))

TAU_PSI = register(Bound(
    id="thm35.tau_psi", kind="time", template=tau_psi_expr(),
    quantity="τ", lhs=r"\tau", relation=":=",
    conclusion=r"\tau\le T \Rightarrow \exists\, s\le\tau \text{ with (15)}",
    constants={"C1": Constant(None, "C₁ > 0 depending only on C_g, C_β, ℓ(0)")},
    domain=(sp.Ge(C1 * (eta + n), psi(1)),),
    source=Source("Theorem 35 (phase transition)", ref="paper.md §5.1"), assumptions=_linear("A", "B", "C"),
    exact=False, notes=("ψ⁻¹ needs its argument ≥ ψ(1) (λ ≥ 1).",),
))

TAU_EXP_TAIL = register(Bound(
    id="thm35.tau_exp_tail", kind="time", template=C2 * sp.Max(eta, n) / gamma**2,
    quantity="τ", lhs=r"\tau", relation=":=",
    conclusion=r"\tau\le T \Rightarrow \exists\, s\le\tau \text{ with (15)}",
    constants={"C2": Constant(None, "C₂ > 0 depending only on C_e, C_g, C_β, ℓ(0)")},
    source=Source("Theorem 35 (phase transition, exponential tail)", ref="paper.md §5.1"),
    assumptions=_linear("A", "B", "C", "D"), exact=False,
    notes=("The explicit Lemma 34 time (thm35.tau_explicit_exp) is Θ(max{η, n ln n}/γ²) for η ≥ 1 and grows like "
           "(n/η)ln(1/η) as η → 0: this C₂ form lacks the ln n and presumes η bounded below (see bounds.shapes).",),
))

#: K = 18(12C_β²η + n/ℓ(0)) of Lemma 33 (linear case).
K33 = 18 * (12 * C_beta**2 * eta + n / ell0)

TAU_EXPLICIT_POLY = register(Bound(
    id="thm35.tau_explicit_poly", kind="time",
    template=sp.Max(psi_inv(K33), K33 * (eta * C_g) ** 2) / (gamma**2 * eta),
    quantity="τ", lhs=r"\tau", relation=":=",
    conclusion=r"\exists\, s\le\tau \text{ with (15)}",
    domain=(sp.Ge(K33, psi(1)),),
    informational=("checked through the claim thm35.tau_explicit, which takes the explicit τ of the loss's "
                   'tail (this one for polynomial tails)'),
    source=Source("Theorem 35 via the proof of Lemma 33 (no exponential tail)", ref="paper.md §5.1", tag="D"),
    assumptions=_linear("A", "B", "C"), derived=True,
    notes=("Read off Lemma 33 with C_a + √(2 ln(2n/δ)) dropped (f_i(w₀) = 0 for the linear model).",),
))

#: Lemma 34's sufficient condition (A ln x + B)/x ≤ M in x = γ²τ.
A34 = 12 * C_e / eta
B34 = 12 * (C_g + C_e) + 12 * sp.sqrt(ell0) / eta
M34 = sp.Min(1 / (12 * C_e * C_beta**2 * eta), ell0 / (C_e * n))

TAU_EXPLICIT_EXP = register(Bound(
    id="thm35.tau_explicit_exp", kind="time",
    template=(A34 / M34) * LambertWm1Log(B34 / A34 + ln(A34 / M34)) / gamma**2,
    quantity="τ", lhs=r"\tau", relation=":=",
    conclusion=r"\exists\, s\le\tau:\ G(\mathbf{w}_s)\le M,\ \text{margins}\ge0,\ \text{so (15) holds}",
    domain=(sp.Gt(B34, M34),),
    source=Source("Theorem 35 via the proof of Lemma 34 (exponential tail)", ref="paper.md §5.1", tag="D"),
    assumptions=_linear("A", "B", "C", "D"), derived=True,
    notes=("x = γ²τ is the larger root of A ln x + B = Mx (Lambert W₋₁ in log form, derive_tau_explicit_exp()).",
           "B > M holds for valid constants (ℓ(0) ≤ C_e C_g), so the root exists and exceeds 1.",),
))


def exponential_tail(loss) -> bool:
    """Whether ``loss`` has Assumption 3D's exponential tail ℓ ≤ C_e·|ℓ′| on z ≥ 0 with a known C_e."""
    return loss.paper_constants.get("C_e") is not None


def tau_explicit(loss) -> Bound:
    """The explicit τ of ``loss``'s tail: Lemma 34's (exponential tail) else Lemma 33's."""
    return TAU_EXPLICIT_EXP if exponential_tail(loss) else TAU_EXPLICIT_POLY


@lru_cache(maxsize=None)
def derive_tau_explicit_exp() -> Derivation:
    """Why thm35.tau_explicit_exp solves Lemma 34's condition (sympy)."""
    d = Derivation("explicit τ from Lemma 34", "paper.md §5.1 [D]")
    A, B, M, x, v = sp.symbols("A B M x v", positive=True)
    cond = 12 * (C_e / eta * ln(x) / x + (C_g + C_e) / x + sp.sqrt(ell0) / (eta * x))
    d.add(is_zero(cond - (A34 * ln(x) + B34) / x, "12[C_e ln x/(ηx) + (C_g+C_e)/x + √ℓ(0)/(ηx)] = (A ln x + B)/x"))
    sols = sp.solve(A * ln(x) + B - M * x, x)
    principal = -A * sp.LambertW(-M * sp.exp(-B / A) / A) / M
    d.add(is_zero(sols[0] - principal if len(sols) == 1 else sp.Integer(1),
                  "sympy solves A ln x + B = Mx as x = −(A/M)·W(−(M/A)e^{−B/A}); branch W₋₁ is the larger root"))
    s_arg = B / A + ln(A / M)
    resid = sp.expand_log(A * ln((A / M) * v) + B - M * (A / M) * v, force=True).subs(ln(v), v - s_arg)
    d.add(is_zero(resid, "x = (A/M)·v with v − ln v = B/A + ln(A/M) solves A ln x + B = Mx"))
    d.add(is_zero(LambertWm1Log(s_arg).rewrite(sp.LambertW) + sp.LambertW(-sp.exp(-s_arg), -1),
                  "v = V(s) = −W₋₁(−e^{−s}); the log form avoids the underflow of e^{−B/A} for large η"))
    h = (A * ln(x) + B) / x
    d.add(is_zero(sp.diff(h, x) - (A - A * ln(x) - B) / x**2,
                  "(A ln x + B)/x has derivative (A − A ln x − B)/x²: it decreases beyond its peak x = e^{1−B/A}, "
                  "so the condition holds for every x ≥ the larger root"))
    d.result = TAU_EXPLICIT_EXP.expr
    return d


# --- the slides' asymptotic forms of these bounds (checked in :mod:`.shapes`) ---------------------

# the explicit τ forms read off the proofs, against the theorem's C₁/C₂ forms
SHADOWS = (
    Shadow(TAU_EXPLICIT_EXP, "Theta", sp.Max(eta, n) / gamma**2, ((eta, sp.oo),),
           "Theorem 35: τ = C₂ max{η, n}/γ² (exponential tail)",
           note="Θ as η → ∞ only: as n → ∞ the explicit time grows like n ln n, and as η → 0 like (n/η) ln(1/η)."),
    Shadow(TAU_EXPLICIT_EXP, "Theta", sp.Max(eta, n * sp.log(n)) / gamma**2, ((eta, sp.oo), (n, sp.oo)),
           "the explicit Lemma 34 time is Θ(max{η, n ln n}/γ²) for η ≥ 1 (as the NTK C₂ form)"),
    Shadow(TAU_EXPLICIT_POLY, "Theta", sp.Max(psi_inv(eta + n) / eta, (eta + n) * eta) / gamma**2,
           ((eta, sp.oo), (eta, 0), (n, sp.oo)), "Theorem 35: τ = max{ψ⁻¹(C₁(η+n))/η, C₁(η+n)η}/γ²",
           loss="flat_poly:a=2", numeric=True),
)
