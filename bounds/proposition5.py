"""Proposition 5's upper bounds on ρ, the exponential-tail bound (14), and Lemma 20.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), Proposition 5 (proof in App. G),
eq. (14) in the proof of Lemma 34, Lemma 20; paper.md §5.  Each bound follows
from plugging one z into ρ(λ) = min_z λℓ(z) + z²: z = ln λ (logistic),
z = ln(λ)/a (flattened exponential), z = λ^{1/(a+2)} (flattened polynomial),
z = C_e ln λ (any loss with an exponential tail, Assumption 3D).
"""

from __future__ import annotations

import sympy as sp

from .bound import Assumptions, Bound, Source, register
from ..losses import z as Z
from .rho import as_loss
from .symbols import C_e, a, ell0, lam, rho

ln = sp.log
_RHO = dict(quantity="ρ(λ)", lhs=r"\rho(\lambda)", relation="<=", kind="upper")

RHO_LOGISTIC = register(Bound(
    id="prop5.rho_logistic", template=1 + ln(lam) ** 2, **_RHO,
    source=Source("Proposition 5 (logistic)", ref="paper.md §5"), assumptions=Assumptions(data=(), loss=("logistic",), model="-", init="-"),
))

RHO_FLAT_EXP = register(Bound(
    id="prop5.rho_flat_exp", template=1 + ln(lam) ** 2 / a**2, **_RHO,
    informational="checked by the claim prop5.constants (its fifth inequality, ρ ≤ Prop. 5's bound, for flat_exp)",
    source=Source("Proposition 5 (flattened exponential, temperature a)", ref="paper.md §5"),
    assumptions=Assumptions(data=(), loss=("flat_exp",), model="-", init="-"),
))

RHO_FLAT_POLY = register(Bound(
    id="prop5.rho_flat_poly", template=2 * lam ** (2 / (a + 2)), **_RHO,
    informational=("checked by the claim prop5.constants (its fifth inequality, ρ ≤ Prop. 5's bound, for "
                   'flat_poly)'),
    source=Source("Proposition 5 (flattened polynomial, degree a)", ref="paper.md §5"),
    assumptions=Assumptions(data=(), loss=("flat_poly",), model="-", init="-"),
))

RHO_EXP_TAIL = register(Bound(
    id="lemma34.rho_exp_tail", template=ell0 + C_e**2 * ln(lam) ** 2, **_RHO,
    informational="a proof step of Lemma 34 (ρ under an exponential tail); used by the loss auditor's promises",
    source=Source("Proof of Lemma 34", equation="eq. (14)", ref="paper.md §5"),
    assumptions=Assumptions(data=(), loss=("A", "D"), model="-", init="-"),
))

ELL_SQRT_RHO = register(Bound(
    id="lemma20.ell_sqrt_rho", kind="upper", template=rho(lam) / lam,
    quantity="ℓ(√ρ(λ))", lhs=r"\ell\big(\sqrt{\rho(\lambda)}\big)", relation="<=",
    informational="a property of ρ's minimiser used in the proofs (Lemma 20); shown by the loss auditor",
    source=Source("Lemma 20", ref="paper.md §5"), assumptions=Assumptions(data=(), loss=("A",), model="-", init="-"),
))

_FAMILY_BOUND = {"logistic": RHO_LOGISTIC, "flat_exp": RHO_FLAT_EXP, "flat_poly": RHO_FLAT_POLY}


def family_bound(loss) -> tuple[Bound | None, dict[str, float]]:
    """Proposition 5's bound on ρ for the loss's family and the values of its parameters (``a``), or
    ``(None, {})`` for a loss outside the three families; evaluate with ``bound.numpy(**params, lambda=λ)``."""
    loss = as_loss(loss)
    b = _FAMILY_BOUND.get(loss.family)
    if b is None:
        return None, {}
    return b, ({"a": float(loss.params["a"])} if a.name in b.parameters else {})


def rho_upper_bounds(loss) -> dict[str, sp.Expr]:
    """The applicable upper bounds on ρ for a loss, as sympy expressions in λ (bound id → expression).

    Prop. 5 for its three families (with the loss's a substituted) and eq. (14)
    (ℓ(0) + C_e² ln²λ) for any loss whose exponential-tail constant C_e is known.
    """
    loss = as_loss(loss)
    out: dict[str, sp.Expr] = {}
    fam = _FAMILY_BOUND.get(loss.family)
    if fam is not None:
        out[fam.id] = fam.expr.subs(a, sp.nsimplify(loss.params.get("a", 1)))
    ce = loss.paper_constants.get("C_e")
    if ce is not None:
        out[RHO_EXP_TAIL.id] = RHO_EXP_TAIL.expr.subs({ell0: sp.simplify(loss.expr.subs(Z, 0)), C_e: ce})
    return out
