"""The report's access to the encoded theory: every bound is a :class:`eoscheck.bounds.Bound` object of
its theorem's module (the project's single encoding; sections import e.g. ``bounds.corollary2.ETA``, never
spell an id) and ρ is :func:`eoscheck.bounds.rho`; nothing is re-typed here.  :data:`USED` records each
bound the report evaluated (shown in the provenance section).
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..bounds import Bound, get_bound
from ..bounds import rho as bounds_rho

#: bound ids the report evaluated (and "rho").
USED: set[str] = set()


def _bound(bound: Bound | str) -> Bound:
    return bound if isinstance(bound, Bound) else get_bound(bound)


def formula(bound: Bound | str) -> str:
    """The bound's one-line formula (with its constants)."""
    return _bound(bound).formula


def source(bound: Bound | str) -> str:
    """Where the bound comes from (theorem/lemma), from its encoding."""
    return str(_bound(bound).source)


def ev(bound: Bound | str, loss: Any = None, **values) -> Any:
    """Evaluate ``bound`` (a :class:`Bound`; an id also works) with numpy at ``values``: a float for scalar input."""
    b = _bound(bound)
    USED.add(b.id)
    scalar = all(np.ndim(v) == 0 for v in values.values())
    # evaluate on 1-element arrays: some evaluators (ψ⁻¹) accept arrays only
    arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in values.items()}
    with np.errstate(all="ignore"):
        out = b.numpy(loss=loss, **arrays)
    return float(np.asarray(out).reshape(-1)[0]) if scalar else out


def rho_values(loss: Any, lam) -> np.ndarray:
    """ρ(λ) = min_z λℓ(z) + z² (Assumption 3A), from :func:`eoscheck.bounds.rho`."""
    USED.add("rho")
    return np.asarray(bounds_rho(loss, np.asarray(lam, dtype=np.float64)), dtype=np.float64)


def used_table() -> list[dict[str, str]]:
    """Rows (id, formula, source) of every bound the report evaluated."""
    rows = []
    for bid in sorted(USED):
        rows.append({"bound id": bid, "encoding": "eoscheck.bounds",
                     "formula": formula(bid) if bid != "rho" else "ρ(λ) = min_z λℓ(z) + z²",
                     "source": source(bid) if bid != "rho" else "Assumption 3A"})
    return rows
