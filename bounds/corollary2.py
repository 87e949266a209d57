"""Corollary 2 (acceleration): η = γ²T/120 gives τ ≤ T/2 and L(w_T) ≤ 480 ln²(γ⁴T²)/(γ⁴T²).

Wu, Bartlett, Telgarsky, Yu (COLT 2024), Corollary 2 and Appendix C; paper.md §3.
The two consequences are *derived* here with sympy from the encoded Theorem 1
(:func:`derive_tau_le_half_T`, :func:`derive_bound_chain`, :func:`derive_order`).
Erratum (paper.md §11.3): the appendix bounds the fourth term of τ by 2 ln 2,
omitting the factor 60/γ²; the derivation uses the corrected (60/γ²)·2 ln 2 ≤ T/2.
"""

from __future__ import annotations

from functools import lru_cache

import sympy as sp

from .bound import Bound, Constant, Source, const, register
from .derivation import Derivation, finite_positive_limit, is_nonnegative, is_positive, is_zero, positive_number
from .shadow import Shadow
from .symbols import F_s, T, eta, gamma, n, s, t
from .theorem1 import STABLE_BOUND, TAU

ln = sp.log
_c_T, _c_B = const("c_T"), const("c_B")

T_MIN = register(Bound(
    id="cor2.T_min", kind="threshold",
    template=_c_T * sp.Max(sp.E, n) / gamma**2,
    quantity="T", lhs="T", relation=">=",
    conclusion=r"\text{with } \eta=\gamma^2T/120:\ \tau\le T/2,\ L(\mathbf{w}_T)\le 480\ln^2(\gamma^4T^2)/(\gamma^4T^2)",
    constants={"c_T": Constant(sp.Integer(120), "Corollary 2's budget constant")},
    informational='a hypothesis: it defines the budgets of the claim cor2.bound',
    source=Source("Corollary 2", ref="paper.md §3"),
))

ETA = register(Bound(
    id="cor2.eta", kind="choice",
    template=gamma**2 * T / _c_T,
    quantity="η", lhs=r"\eta", relation=":=",
    constants={"c_T": Constant(sp.Integer(120), "Corollary 2's stepsize constant")},
    informational='a stepsize choice: it sets the stepsizes of the claims cor2.bound and cor2.rate',
    source=Source("Corollary 2", ref="paper.md §3"),
))

_T_DOMAIN = (sp.Ge(T, 120 * sp.Max(sp.E, n) / gamma**2),)

BOUND = register(Bound(
    id="cor2.bound", kind="upper",
    template=_c_B * ln(gamma**4 * T**2) ** 2 / (gamma**4 * T**2),
    quantity="L(w_T)", lhs=r"L(\mathbf{w}_T)", relation="<=",
    premise=r"\eta=\gamma^2T/120",
    constants={"c_B": Constant(sp.Integer(480), "Corollary 2's rate constant")},
    domain=_T_DOMAIN,
    source=Source("Corollary 2", ref="paper.md §3"),
    notes=("Derived from Theorem 1 in derive_bound_chain(); very loose in practice (paper.md §3 [N]).",),
))

TAU_HALF = register(Bound(
    id="cor2.tau", kind="upper",
    template=T / 2,
    quantity="τ(η = γ²T/120)", lhs=r"\tau\big|_{\eta=\gamma^2T/120}", relation="<=",
    domain=_T_DOMAIN,
    informational=('derived with sympy from thm1.tau (derive_tau_le_half_T, tests/test_bounds_derived.py): a'
                   ' fact about formulas'),
    source=Source("Corollary 2 (τ ≤ T/2), Appendix C", ref="paper.md §3, §11.3", tag="D"), derived=True,
    notes=("Derived with sympy from thm1.tau in derive_tau_le_half_T().",
           "Erratum §11.3: the fourth term of τ is ≤ (60/γ²)·2 ln 2, not 2 ln 2; still ≤ T/2.",),
))


def _tau_case(d: Derivation, label: str, n_val: sp.Expr, M: sp.Expr, v: sp.Symbol) -> None:
    """τ(η(T)) ≤ T/2 for T = T_min·(1+v), v ≥ 0, when max{e, n} = M."""
    d.add(is_zero(sp.Max(sp.E, n_val) - M, f"[{label}] max{{e, n}} = {sp.sstr(M)}"))
    T_sub = T_MIN.expr.subs(n, n_val) * (1 + v)
    eta_T = sp.simplify(ETA.expr.subs(T, T_sub))
    d.add(is_zero(eta_T - M * (1 + v), f"[{label}] T = T_min(1+v) gives η = γ²T/120 = max{{e,n}}(1+v)"))
    tau = TAU.expr.subs({eta: eta_T, n: n_val})
    mx = next(iter(tau.atoms(sp.Max))) if tau.atoms(sp.Max) else None
    if mx is None:  # sympy already resolved the max
        d.add(is_nonnegative(sp.simplify(T_sub / 2 - tau), f"[{label}] T/2 − τ ≥ 0"))
        return
    prefactor = sp.simplify(tau / mx)
    d.add(is_zero(prefactor / (T_sub / 2) - 1 / (M * (1 + v)), f"[{label}] τ/(T/2) = max{{…}}/(max{{e,n}}(1+v))"))
    bound = M * (1 + v)
    for term in mx.args:
        if term.has(sp.log):
            x = sp.simplify((eta_T + n_val) / eta_T)
            xs = sp.Symbol("x", positive=True)
            w = sp.Symbol("w", nonnegative=True)
            d.add(is_nonnegative(2 - x, f"[{label}] x = (η+n)/η ≤ 2"))
            d.add(is_zero(term - x * ln(x), f"[{label}] the fourth term is h(x) = x ln x at x = (η+n)/η"))
            d.add(is_positive(sp.diff(xs * ln(xs), xs).subs(xs, 1 + w), f"[{label}] h′(x) = ln x + 1 > 0 on x ≥ 1"))
            d.add(positive_number(sp.E - 2 * ln(2), f"[{label}] h(2) = 2 ln 2 < e"))
            d.add(is_nonnegative(bound - sp.E, f"[{label}] e ≤ max{{e,n}}(1+v)"))
        else:
            d.add(is_nonnegative(bound - term, f"[{label}] {sp.sstr(term)} ≤ max{{e,n}}(1+v)"))


@lru_cache(maxsize=None)
def derive_tau_le_half_T() -> Derivation:
    """With η = γ²T/120 and T ≥ T_min = 120 max{e, n}/γ², thm1.tau ≤ T/2 (sympy, by cases on n ≷ e)."""
    d = Derivation("τ ≤ T/2 under η = γ²T/120, T ≥ T_min", "Corollary 2 / Appendix C, erratum §11.3")
    v = sp.Symbol("v", nonnegative=True)
    k0 = sp.Symbol("k", nonnegative=True)
    k1 = sp.Symbol("k", positive=True)
    _tau_case(d, "n ≥ e", sp.E + k0, sp.E + k0, v)
    _tau_case(d, "n < e", sp.E / (1 + k1), sp.E, v)
    d.result = sp.Le(TAU.expr.subs(eta, ETA.expr), T / 2)
    return d


@lru_cache(maxsize=None)
def derive_bound_chain() -> Derivation:
    """thm1.stable_bound with F(w_s) ≤ 1, s ≤ T/2 and η = γ²T/120 is ≤ cor2.bound for T ≥ T_min."""
    d = Derivation("L(w_T) ≤ 480 ln²(γ⁴T²)/(γ⁴T²)", "Corollary 2 / Appendix C")
    x, y, L = sp.symbols("x y L", positive=True)
    S = STABLE_BOUND.expr.subs(t, s + x / (gamma**2 * eta))  # x = γ²η(t − s) > 0
    d.add(is_positive(sp.diff(S, F_s), "the stable bound increases in F(w_s), so F(w_s) ≤ 1 (Lemma 12) may be used"))
    f = sp.simplify(S.subs(F_s, 1))
    d.add(is_zero(sp.diff(f, x) + ((ln(x) - 1) ** 2 + 1) / x**2, "f(x) = (2 + ln²x)/x has f′ = −((ln x − 1)² + 1)/x² < 0"))
    x_T = sp.simplify((gamma**2 * eta * T / 2).subs(eta, ETA.expr))
    d.add(is_zero(x_T - gamma**4 * T**2 / 240, "t − s ≥ T/2 (s ≤ τ ≤ T/2) gives x ≥ γ²ηT/2 = γ⁴T²/240"))
    chain = BOUND.expr.subs(T, sp.sqrt(y) / gamma**2) - f.subs(x, y / 240)
    q = 2 * L**2 - 2 - (L - ln(240)) ** 2
    d.add(is_zero(sp.expand_log(chain.subs(y, sp.exp(L)), force=True) - 240 * sp.exp(-L) * q,
                  "with y = γ⁴T², L = ln y: bound − f(y/240) = 240 e^{−L} q(L), q = 2L² − 2 − (L − ln 240)²"))
    d.add(is_positive(sp.diff(q, L), "q′(L) = 2L + 2 ln 240 > 0"))
    L0 = 2 * ln(120 * sp.E)
    d.add(positive_number(q.subs(L, L0), "q(2 ln(120e)) > 0"))
    k0, k1 = sp.Symbol("k", nonnegative=True), sp.Symbol("k", positive=True)
    for n_val in (sp.E + k0, sp.E / (1 + k1)):  # n ≥ e and n < e
        d.add(is_nonnegative(T_MIN.expr.subs(n, n_val) * gamma**2 - 120 * sp.E,
                             "T ≥ T_min gives γ²T ≥ 120e, so y = γ⁴T² ≥ (120e)², L ≥ 2 ln(120e)"))
    d.add(positive_number((120 * sp.E) ** 2 / 240 - 1, "and x ≥ (120e)²/240 ≥ 1: the stable bound is in its domain"))
    d.result = sp.Le(f.subs(x, x_T), BOUND.expr)
    return d


@lru_cache(maxsize=None)
def derive_order() -> Derivation:
    """cor2.bound = Θ(ln²T/T²): the ratio tends to 1920/γ⁴ ∈ (0, ∞) as T → ∞."""
    d = Derivation("Corollary 2 bound is of order ln²T/T²", "Corollary 2")
    step, val = finite_positive_limit(BOUND.expr / (ln(T) ** 2 / T**2), T, sp.oo, "lim cor2.bound/(ln²T/T²) ∈ (0, ∞)")
    d.add(step)
    d.result = val
    return d


# --- the slides' asymptotic forms of these bounds (checked in :mod:`.shapes`) ---------------------

SHADOWS = (
    Shadow(ETA, "Theta", T, ((T, sp.oo),), "choose η = Θ(T)"),
    Shadow(T_MIN, "Theta", n, ((n, sp.oo),), "given #steps T ≥ Ω(n)"),
    Shadow(BOUND, "Otilde", 1 / T**2, ((T, sp.oo),), "L(w_T) ≤ Õ(1/T²)", log_power=2),
)
