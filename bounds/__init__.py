"""Symbolic bounds of the large-stepsize GD theory (imported as ``eoscheck.bounds``).

Wu, Bartlett, Telgarsky, Yu, *Large Stepsize Gradient Descent for Logistic Loss*
(COLT 2024), as encoded in ``shared/theory/paper.md``:

* :mod:`.rho` — ρ(λ) = min_z λℓ(z) + z², ψ = λ/ρ and ψ⁻¹ for any loss;
* :mod:`.bound` — the :class:`Bound` object and the registry :data:`BOUNDS`;
* :mod:`.theorem1`, :mod:`.corollary2`, :mod:`.theorem3`, :mod:`.theorem4`,
  :mod:`.proposition5`, :mod:`.theorem35`, :mod:`.theorem6`, :mod:`.classics` —
  the statements, in the paper's order;
* :mod:`.asymptotics`, :mod:`.table1`, :mod:`.shapes` — the ρ classes, Table 1
  and the slides' Θ-forms, derived with sympy.
"""

from .asymptotics import AsymptoticClass, GrowthError, fitted_class, growth, rho_asymptotic_class, table1_row
from .bound import (
    BOUNDS, KINDS, Assumptions, Bound, Constant, DomainReport, Source, get_bound, latex, list_bounds, text,
)
from .derivation import Derivation, Step
from .rho import Rho, minimizer, psi, psi_inv, rho, rho_closed_form, rho_method, rho_of
from . import theorem1, corollary2, theorem3, theorem4, proposition5, theorem35, theorem6, classics, crawshaw_liu  # noqa: E402,F401  (registration order)
from .corollary2 import derive_bound_chain, derive_order, derive_tau_le_half_T
from .proposition5 import rho_upper_bounds
from .shadow import Shadow
from .shapes import SHADOWS, OrderResult, check_all, check_shadow
from .table1 import Table1, Table1Row, derive_table1, table1_rows
from .theorem35 import derive_tau_explicit_exp

__all__ = [
    "AsymptoticClass", "Assumptions", "BOUNDS", "Bound", "Constant", "Derivation", "DomainReport", "GrowthError",
    "KINDS", "OrderResult", "Rho", "SHADOWS", "Shadow", "Source", "Step", "Table1", "Table1Row", "check_all",
    "check_shadow", "derive_bound_chain", "derive_order", "derive_table1", "derive_tau_explicit_exp",
    "derive_tau_le_half_T", "fitted_class", "get_bound", "growth", "latex", "list_bounds", "minimizer", "psi",
    "psi_inv", "rho", "rho_asymptotic_class", "rho_closed_form", "rho_method", "rho_of", "rho_upper_bounds",
    "table1_row", "table1_rows", "text",
]
