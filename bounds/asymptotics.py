"""Table 1's prediction for one loss, by the asymptotic class of its ρ (paper.md §5, Table 1).

The class of ρ lives in :mod:`.rho_class`, the growth calculus in :mod:`.growth`, the derived
table in :mod:`.table1`; this module joins them (:func:`table1_row`) and re-exports the names
``eoscheck.bounds`` has always offered from here.
"""

from __future__ import annotations

import sympy as sp

from .._errors import EoscheckError

from ..losses import Loss
from .growth import GrowthError, compare, growth, order_expr
from .rho import as_loss
from .rho_class import AsymptoticClass, fitted_class, rho_asymptotic_class
from .table1 import derive_table1

__all__ = ["AsymptoticClass", "GrowthError", "compare", "fitted_class", "growth", "order_expr",
           "rho_asymptotic_class", "table1_row"]


def table1_row(loss: Loss | str) -> dict:
    """Table 1's prediction for a loss, from the derived table (:func:`eoscheck.bounds.derive_table1`).

    The column is picked by the class of ρ (:func:`rho_asymptotic_class`): Θ(ln²λ) → the
    logistic / flat-exp columns; Θ(λ^{2/(a+2)}) → the flat-poly columns with that a.  Returns
    ``eta_exponent`` (η = Θ(T^p) keeping τ ≤ T/2), ``loss_exponent_eta1`` and ``loss_exponent``
    (L(w_T) = O(T^q (ln T)^k) for η = 1 and for the best η), ``logs`` (k > 0), ``width_exponent``
    (of the best column), ``rho_class`` and ``source``.  Meaningful under Assumptions 3A–3C
    (and 3D for the exponential-tail columns); the caller checks those.
    """
    loss = as_loss(loss)
    c = rho_asymptotic_class(loss)
    rows = derive_table1().rows
    T = sp.Symbol("T", positive=True, real=True)
    if c.kind == "log2":
        const, best, sub = rows[0], rows[1], {}
    elif c.kind != "power":
        raise EoscheckError(f"ρ = Θ({sp.sstr(c.expr)}) for {loss.name} matches no column of Table 1")
    else:
        a_val = sp.nsimplify(2 / c.exponent - 2)
        const = rows[2]
        best = rows[3] if a_val <= 1 else rows[4]
        sub = {s: a_val for r in rows[2:] for e in (r.rho, r.eta, r.loss, r.width) for s in e.free_symbols if s.name == "a"}

    def expo(e):
        p, q = growth(e.subs(sub), T)
        return float(p), float(q)

    return {
        "eta_exponent": expo(best.eta)[0], "loss_exponent_eta1": expo(const.loss)[0],
        "loss_exponent": expo(best.loss)[0], "logs": expo(best.loss)[1] > 0, "width_exponent": expo(best.width)[0],
        "rho_class": str(c), "source": "eoscheck.bounds (derived from Theorem 6, bounds.table1)",
    }
