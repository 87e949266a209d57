"""A slide's asymptotic form (Θ/O/Ω/Õ) of an explicit bound: the :class:`Shadow` record.

Each theorem module states its slides' forms next to its bounds (``SHADOWS``); the order checks
(sympy limits of explicit/shadow, or a numeric log–log slope) are in :mod:`eoscheck.bounds.shapes`.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import sympy as sp

from .bound import Bound

ORDERS = ("Theta", "O", "Omega", "Otilde")


@dataclass(frozen=True)
class Shadow:
    """A slide's asymptotic form of a bound.

    Args:
      bound: the explicit bound (a registered :class:`Bound`).
      order: ``Theta``, ``O``, ``Omega`` or ``Otilde``.
      expr: the slide's form (sympy).
      directions: (symbol, point) pairs, point ``oo`` or ``0``.
      slide: the slide's statement.
      loss: loss for the ρ/ψ⁻¹ asymptotic models (bounds with ρ), e.g. ``"flat_poly:a=2"``.
      log_power: for Õ, the power of ln allowed.
      fixed: substitutions applied to the explicit bound first (e.g. s = 0).
      numeric: check numerically with the real ρ (``loss``) instead of sympy limits.
    """

    bound: Bound
    order: str
    expr: sp.Expr
    directions: tuple
    slide: str
    loss: str | None = None
    log_power: int = 0
    fixed: dict = field(default_factory=dict)
    numeric: bool = False
    note: str = ""

    def __post_init__(self):
        if self.order not in ORDERS:
            raise ValueError(f"order {self.order!r} is not one of {ORDERS}")

    @property
    def bound_id(self) -> str:
        """The explicit bound's id."""
        return self.bound.id


__all__ = ["ORDERS", "Shadow"]
