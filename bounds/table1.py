"""Table 1 (effects of the loss and the stepsize), derived from Theorem 6 and the ρ asymptotics.

paper.md §5.1 (Table 1, from Theorem 6).  Nothing here is typed from the table:
for each loss family the class of ρ comes from :func:`rho_asymptotic_class`
(sympy limits on the loss's tail), ψ⁻¹ from inverting λ/ρ(λ) with sympy, and
then, with n, γ, δ, C₁, C₂, C_a, C_g treated as constants and η = T^β:

* τ is the encoded ``thm6.tau_exp_tail`` (exponential tail, Assumption 3D) or
  ``thm6.tau_psi`` (otherwise); its growth T^{p(β)} fixes the largest β with
  τ ≤ T/2 (p(β*) = 1 with no log factor, so a small constant in η suffices);
  where p(β) is a max of exponents, sympy finds the values of a where they
  cross and the derivation is done per regime;
* the loss is ``thm6.stable_bound`` at t = T, s = T/2 (s ≤ τ ≤ T/2, and the
  bound 15ρ(x)/x = 15/ψ(x) decreases in x because ψ increases);
* the width is ``thm6.width`` (which contains R).

A constant stepsize (β = 0) gives τ = O(1): the paper's "N/A" column.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import lru_cache

import sympy as sp

from ..losses import flat_exp, flat_poly, logistic
from .growth import GrowthError, growth, order_expr
from .rho_class import rho_asymptotic_class
from .derivation import Derivation, Step
from .symbols import T, lam, psi_inv, rho, s, t
from .theorem6 import STABLE_BOUND, TAU_EXP_TAIL, TAU_PSI, WIDTH
from .symbols import eta as ETA

_BETA = sp.Symbol("beta", positive=True)
_K = sp.Symbol("k", positive=True)


@dataclass(frozen=True)
class Table1Row:
    """One column of the paper's Table 1 (the paper lays the table out transposed)."""

    family: str
    condition: str  # on the degree a, e.g. "0 < a ≤ 1"; "N/A" for the exponential-tail family
    rho: sp.Expr  # Θ-class of ρ(λ)
    eta: sp.Expr  # Θ-class of the stepsize, T^β
    width: sp.Expr  # Ω-class of the width m
    tau: str  # "≤ T/2" or "O(1)" (the paper's N/A)
    loss: sp.Expr  # O-class of L(w_T)

    def as_text(self) -> dict[str, str]:
        return {"family": self.family, "condition": self.condition, "rho": f"Θ({sp.sstr(self.rho)})",
                "eta": f"Θ({sp.sstr(self.eta)})", "width": f"Ω({sp.sstr(self.width)})", "tau": self.tau,
                "loss": f"O({sp.sstr(self.loss)})"}


@dataclass
class Table1:
    rows: list[Table1Row]
    derivation: Derivation


def _substitute_models(expr: sp.Expr, rho_model, psi_inv_model, eta_value) -> sp.Expr:
    out = expr.replace(rho, lambda x: rho_model(x))
    if psi_inv_model is not None:
        out = out.replace(psi_inv, lambda y: psi_inv_model(y))
    return out.subs(ETA, eta_value)


def _psi_inverse_model(rho_class: sp.Expr):
    """ψ⁻¹ of ψ(λ) = λ/ρ̃(λ) for a power class ρ̃ = λ^p: solved by sympy in log coordinates."""
    y, u, v = sp.Symbol("y", positive=True), sp.Symbol("u", real=True), sp.Symbol("v", real=True)
    eq = sp.expand_log(sp.log(lam / rho_class) - sp.log(y), force=True).subs({sp.log(lam): u, sp.log(y): v})
    sol = sp.solve(eq, u)[0]  # ln λ = c·ln y + c₀
    c, c0 = sp.simplify(sp.diff(sol, v)), sp.simplify(sol.subs(v, 0))
    model = sp.exp(c0) * y**c
    return sp.Lambda(y, model), model


def _regime_params(a: sp.Symbol, lo: sp.Expr, hi: sp.Expr):
    """(a in terms of k > 0 on the open interval (lo, hi), and k in terms of a)."""
    if hi is sp.oo:
        return lo + _K, a - lo
    return lo + (hi - lo) / (1 + _K), (hi - a) / (a - lo)


def _column(d: Derivation, label: str, tau_expr, loss_expr, width_expr, beta) -> tuple:
    """(β*, τ growth, loss growth, width growth) of one column; β = None means 'largest feasible'."""
    if beta is None:
        g_tau = growth(tau_expr.subs(ETA, T**_BETA) if tau_expr.has(ETA) else tau_expr, T)
        sol = sp.solve(sp.Eq(g_tau[0], 1), _BETA)
        if len(sol) != 1:
            raise GrowthError(f"{label}: no unique β with τ ≍ T")
        beta = sp.simplify(sol[0])
        d.add(Step(f"[{label}] τ ≍ T^({sp.sstr(g_tau[0])}) (ln T)^{sp.sstr(g_tau[1])}; τ ≤ T/2 ⇒ β = {sp.sstr(beta)}",
                   sp.Eq(g_tau[0].subs(_BETA, beta), 1), sp.simplify(g_tau[0].subs(_BETA, beta) - 1) == 0
                   and g_tau[1] == 0, "growth calculus + sympy solve"))
    g_tau = growth(tau_expr.subs(ETA, T**beta), T)
    g_loss = growth(loss_expr.subs(ETA, T**beta), T)
    g_width = growth(width_expr.subs(ETA, T**beta), T)
    d.add(Step(f"[{label}] η = T^{sp.sstr(beta)}: L(w_T) ≍ T^({sp.sstr(g_loss[0])})(ln T)^{sp.sstr(g_loss[1])}, "
               f"m ≍ T^({sp.sstr(g_width[0])})(ln T)^{sp.sstr(g_width[1])}",
               sp.Tuple(*g_loss, *g_width), True, "growth calculus"))
    return beta, g_tau, g_loss, g_width


def _exp_family(d: Derivation) -> list[Table1Row]:
    classes = [rho_asymptotic_class(logistic()), rho_asymptotic_class(flat_exp(), template=True)]
    for c in classes:
        d.add(Step(f"ρ class: {c}", c.expr, c.kind == "log2", "rho_asymptotic_class"))
    model = sp.Lambda(lam, classes[0].expr)
    loss = _substitute_models(STABLE_BOUND.expr.subs({t: T, s: T / 2}), model, None, ETA)
    width = _substitute_models(WIDTH.expr, model, None, ETA)
    tau = TAU_EXP_TAIL.expr  # logistic and flat-exp satisfy Assumption 3D (Prop. 5)
    rows = []
    for label, beta in (("exp tail, η = 1", sp.Integer(0)), ("exp tail, η large", None)):
        b, g_tau, g_loss, g_width = _column(d, label, tau, loss, width, beta)
        rows.append(Table1Row("logistic / flat-exp", "N/A", classes[0].expr, T**b, order_expr(g_width, T),
                              "≤ T/2" if b != 0 else "O(1)", order_expr(g_loss, T)))
    return rows


def _poly_family(d: Derivation) -> list[Table1Row]:
    fam = flat_poly()
    c = rho_asymptotic_class(fam, template=True)
    a = next(sym for sym in c.expr.free_symbols if sym.name == "a")
    d.add(Step(f"ρ class: {c}", c.expr, c.kind == "power", "rho_asymptotic_class"))
    inv, inv_expr = _psi_inverse_model(c.expr)
    d.add(Step(f"ψ⁻¹(y) ≍ {sp.sstr(inv_expr)} (ψ = λ/ρ inverted by sympy)", inv_expr, True, "sympy solve"))
    model = sp.Lambda(lam, c.expr)
    loss = _substitute_models(STABLE_BOUND.expr.subs({t: T, s: T / 2}), model, inv, ETA)
    width = _substitute_models(WIDTH.expr, model, inv, ETA)
    tau = _substitute_models(TAU_PSI.expr, model, inv, ETA)
    rows = []
    b0, _, g_loss, g_width = _column(d, "poly tail, η = 1", tau, loss, width, sp.Integer(0))
    rows.append(Table1Row("flat-poly", "a > 0", c.expr, T**b0, order_expr(g_width, T), "O(1)",
                          order_expr(g_loss, T)))
    # where the exponents inside τ's max cross, the leading term changes: split the degree a there
    mx = next(iter(tau.atoms(sp.Max)))
    exps = [growth(arg.subs(ETA, T**_BETA), T)[0] for arg in mx.args]
    cuts = sorted({sol for i in range(len(exps)) for j in range(i + 1, len(exps))
                   for sol in sp.solve(sp.Eq(exps[i], exps[j]), a) if sol.is_positive})
    d.add(Step(f"τ's max switches leading term at a ∈ {cuts}", sp.Tuple(*cuts), bool(cuts), "sympy solve"))
    edges = [sp.Integer(0), *cuts, sp.oo]
    regime_rows = []
    for lo, hi in zip(edges[:-1], edges[1:]):
        a_of_k, k_of_a = _regime_params(a, lo, hi)
        sub = {a: a_of_k}
        label = f"poly tail, {sp.sstr(lo)} < a < {sp.sstr(hi)}"
        beta, _, g_loss, g_width = _column(d, label, tau.subs(sub), loss.subs(sub), width.subs(sub), None)
        back = {_K: k_of_a}
        beta = sp.simplify(beta.subs(back))
        g_loss = tuple(sp.simplify(g.subs(back)) for g in g_loss)
        g_width = tuple(sp.simplify(g.subs(back)) for g in g_width)
        regime_rows.append(((lo, hi), beta, g_loss, g_width))
    rows += _merge_cuts(d, a, cuts, regime_rows, tau, loss, width, c.expr)
    return rows


def _merge_cuts(d, a, cuts, regime_rows, tau, loss, width, rho_class) -> list[Table1Row]:
    """Evaluate each cut a = c directly and attach it to the regime(s) whose formulas agree there."""
    rows = []
    closed_right = set()
    for cut in cuts:
        sub = {a: cut}
        beta, _, g_loss, g_width = _column(d, f"poly tail, a = {sp.sstr(cut)}", tau.subs(sub), loss.subs(sub),
                                           width.subs(sub), None)
        for (lo, hi), rb, rl, rw in regime_rows:
            if hi == cut:
                same = all(sp.simplify(x.subs(a, cut) - y) == 0 for x, y in zip((rb, *rl, *rw), (beta, *g_loss, *g_width)))
                d.add(Step(f"a = {sp.sstr(cut)} agrees with the regime ({sp.sstr(lo)}, {sp.sstr(cut)})",
                           sp.Tuple(beta, *g_loss), same, "substitution"))
                if same:
                    closed_right.add(hi)
    for (lo, hi), beta, g_loss, g_width in regime_rows:
        if hi is sp.oo:
            cond = f"a > {sp.sstr(lo)}"
        else:
            cond = f"{sp.sstr(lo)} < a {'≤' if hi in closed_right else '<'} {sp.sstr(hi)}"
        rows.append(Table1Row("flat-poly", cond, rho_class, T**beta, order_expr(g_width, T), "≤ T/2",
                              order_expr(g_loss, T)))
    return rows


@lru_cache(maxsize=None)
def derive_table1() -> Table1:
    """Table 1's rows, derived (see the module docstring); ``derivation`` records every step."""
    d = Derivation("Table 1 from Theorem 6 and the ρ asymptotics", "paper.md §5.1, Table 1")
    d.add(Step("15ρ(x)/x = 15/ψ(x) decreases in x (ψ increasing, paper §5): t − s ≥ T/2 ⇒ evaluate at t − s = T/2",
               STABLE_BOUND.expr.subs({t: T, s: T / 2}), True, "monotonicity of ψ"))
    rows = _exp_family(d) + _poly_family(d)
    return Table1(rows, d)


def table1_rows() -> list[Table1Row]:
    """The derived rows of Table 1."""
    return derive_table1().rows
