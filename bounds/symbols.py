"""The symbols the bounds are written in, with their meaning and standing ranges.

Every bound of :mod:`eoscheck.bounds` is a sympy expression in these symbols.
A symbol has a *role*:

* ``param`` — a problem or run parameter (η, n, γ, t, s, T, δ, m, ...);
* ``state`` — a quantity read off a trajectory (F(w_s), L(w_t), ‖∇L(w_t)‖, ...);
* ``loss`` — a constant of the loss (C_g, C_β, C_e, ℓ(0); Assumption 3), filled in
  from a :class:`~eoscheck.losses.Loss` when one is given;
* ``free`` — a constant the paper leaves unspecified (C₁, C₂, c₀: Θ/O/Ω).

ρ, ψ and ψ⁻¹ (Assumption 3A, Theorem 6) are undefined sympy functions; a loss
supplies their numeric values (:mod:`eoscheck.bounds.rho`).
"""

from __future__ import annotations

from dataclasses import dataclass

import sympy as sp


@dataclass(frozen=True)
class SymbolInfo:
    """What a symbol means: its sympy symbol, role, a one-line description and LaTeX."""

    symbol: sp.Symbol
    role: str
    description: str

    @property
    def name(self) -> str:
        return self.symbol.name


_P = dict(positive=True, real=True)

eta = sp.Symbol("eta", **_P)
gamma = sp.Symbol("gamma", **_P)
n = sp.Symbol("n", **_P)
t = sp.Symbol("t", **_P)
s = sp.Symbol("s", nonnegative=True, real=True)
T = sp.Symbol("T", **_P)
delta = sp.Symbol("delta", **_P)
m = sp.Symbol("m", **_P)
d = sp.Symbol("d", **_P)
C_a = sp.Symbol("C_a", **_P)
lambda_max = sp.Symbol("lambda_max", **_P)
hess_max = sp.Symbol("hess_max", **_P)
lam = sp.Symbol("lambda", **_P)
r = sp.Symbol("r", **_P)
q = sp.Symbol("q", **_P)
a = sp.Symbol("a", **_P)

F_s = sp.Symbol("F_s", **_P)
L_s = sp.Symbol("L_s", **_P)
L_t = sp.Symbol("L_t", **_P)
G_t = sp.Symbol("G_t", nonnegative=True, real=True)
grad_norm = sp.Symbol("grad_norm", nonnegative=True, real=True)
grad_proj = sp.Symbol("grad_proj", real=True)

C_g = sp.Symbol("C_g", **_P)
C_beta = sp.Symbol("C_beta", **_P)
C_e = sp.Symbol("C_e", **_P)
ell0 = sp.Symbol("ell0", **_P)

C1 = sp.Symbol("C1", **_P)
C2 = sp.Symbol("C2", **_P)
c0 = sp.Symbol("c0", **_P)

#: ρ(λ) = min_z λℓ(z) + z² (Assumption 3A), ψ(λ) = λ/ρ(λ) and its inverse (Theorem 6).
rho = sp.Function("rho", positive=True)
psi = sp.Function("psi", positive=True)
psi_inv = sp.Function("psi_inv", positive=True)

LOSS_FUNCTIONS = ("rho", "psi", "psi_inv")

_INFO = [
    SymbolInfo(eta, "param", "stepsize η > 0"),
    SymbolInfo(gamma, "param", "margin γ ∈ (0, 1] (Assumption 1B / 4B)"),
    SymbolInfo(n, "param", "number of samples n ≥ 1"),
    SymbolInfo(t, "param", "step t ≥ 1"),
    SymbolInfo(s, "param", "a step s ≥ 0 where the stable-phase condition holds"),
    SymbolInfo(T, "param", "step budget T ≥ 1"),
    SymbolInfo(delta, "param", "failure probability δ ∈ (0, 1)"),
    SymbolInfo(m, "param", "network width m (Theorem 6)"),
    SymbolInfo(d, "param", "input dimension d"),
    SymbolInfo(C_a, "param", "second-layer balance |Σ a_s| ≤ C_a √m (eq. (5))"),
    SymbolInfo(lambda_max, "param", "λ_max(XᵀX/n), the top eigenvalue of the data covariance"),
    SymbolInfo(hess_max, "param", "λ_max of the Hessian of a quadratic objective"),
    SymbolInfo(lam, "param", "the argument λ ≥ 1 of ρ and ψ"),
    SymbolInfo(r, "param", "Lemma 14: margin r > 0 of the points against the mean x̄"),
    SymbolInfo(q, "param", "Lemma 14: fraction q ∈ (0, 1) of such points"),
    SymbolInfo(a, "param", "loss parameter a > 0: flat-exp temperature or flat-poly degree (Prop. 5)"),
    SymbolInfo(F_s, "state", "F(w_s) = (1/n)Σ exp(−y_i x_iᵀw_s), the exponential potential"),
    SymbolInfo(L_s, "state", "L(w_s), the loss at step s"),
    SymbolInfo(L_t, "state", "L(w_t), the loss at step t"),
    SymbolInfo(G_t, "state", "G(w_t) = (1/n)Σ|ℓ′(y_i x_iᵀw_t)|, the gradient potential"),
    SymbolInfo(grad_norm, "state", "‖∇L(w_t)‖"),
    SymbolInfo(grad_proj, "state", "⟨∇L(w_t), w_*⟩"),
    SymbolInfo(C_g, "loss", "Lipschitz constant: |ℓ′| ≤ C_g (Assumption 3B)"),
    SymbolInfo(C_beta, "loss", "self-boundedness constant C_β (Assumption 3C)"),
    SymbolInfo(C_e, "loss", "exponential-tail constant: ℓ ≤ C_e|ℓ′| on z ≥ 0 (Assumption 3D)"),
    SymbolInfo(ell0, "loss", "ℓ(0)"),
    SymbolInfo(C1, "free", "the unspecified constant C₁ of Theorems 6/35 (depends on C_g, C_β, ℓ(0), ...)"),
    SymbolInfo(C2, "free", "the unspecified constant C₂ of Theorems 6/35 (exponential tail)"),
    SymbolInfo(c0, "free", "the unspecified constant c₀(γ) of Theorem 3 / Lemma 13"),
]

#: name → :class:`SymbolInfo` for every symbol a bound may use.
SYMBOLS: dict[str, SymbolInfo] = {i.name: i for i in _INFO}

#: The loss constant names and the key of :attr:`Loss.paper_constants` each comes from.
LOSS_CONSTANTS = {"C_g": "C_g", "C_beta": "C_beta", "C_e": "C_e", "ell0": None}

#: The Assumption 3 condition a loss constant belongs to (for error messages).
LOSS_ASSUMPTION = {"C_g": "3B", "C_beta": "3C", "C_e": "3D", "ell0": "3A"}

#: Standing ranges of the parameters, added to the domain of every bound that uses them.
STANDING: dict[str, tuple[sp.Basic, ...]] = {
    "gamma": (sp.Le(gamma, 1),),
    "n": (sp.Ge(n, 1),),
    "t": (sp.Ge(t, 1),),
    "T": (sp.Ge(T, 1),),
    "delta": (sp.Lt(delta, 1),),
    "m": (sp.Ge(m, 1),),
    "lambda": (sp.Ge(lam, 1),),
    "q": (sp.Lt(q, 1),),
}


def range_text(name: str) -> str:
    """Symbol ``name``'s own range as text: its sign and its standing range ("η > 0", "γ > 0, γ ≤ 1")."""
    sym = SYMBOLS[name].symbol
    shown = sp.pretty(sym, use_unicode=True)
    parts = [f"{shown} > 0"] if sym.is_positive else [f"{shown} ≥ 0"] if sym.is_nonnegative else []
    parts += [sp.pretty(rel, use_unicode=True) for rel in STANDING.get(name, ())]
    return ", ".join(parts) or "any real number"


def outside_range(name: str, value: float) -> bool:
    """Whether ``value`` lies outside symbol ``name``'s own range: its sign (positive, nonnegative) and its standing
    range (:data:`STANDING`), e.g. η ≤ 0 or γ > 1, where it is no value of that parameter at all."""
    sym = SYMBOLS[name].symbol
    if (sym.is_positive and not value > 0) or (sym.is_nonnegative and not value >= 0):
        return True
    return any(not bool(rel.subs(sym, sp.Float(value))) for rel in STANDING.get(name, ()))


def info(name: str) -> SymbolInfo:
    """The :class:`SymbolInfo` of a symbol name (KeyError if unknown)."""
    return SYMBOLS[name]
