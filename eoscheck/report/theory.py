"""The report's access to the encoded theory: every bound is evaluated by its id in
:mod:`eoscheck.bounds` (the project's single encoding), never re-typed here.

Where :mod:`eoscheck.bounds` is absent or lacks an id, the transcription in
:mod:`eoscheck.properties.formulas` (the claims' cross-check of the same formulas) is used and the
report says so; where neither exists the caller gets :class:`MissingDependency` and the section
reports the gap explicitly.  :data:`USED` records which encoding answered each id (shown in the
provenance section).
"""

from __future__ import annotations

import importlib
from typing import Any

import numpy as np

#: The modules of :mod:`eoscheck.bounds` whose import registers the bounds the report uses.
BOUND_MODULES = ("theorem1", "corollary2", "theorem3", "theorem35", "theorem6", "classics", "proposition5")

#: bound id → "eoscheck.bounds" or "eoscheck.properties.formulas (fallback)".
USED: dict[str, str] = {}


class MissingDependency(RuntimeError):
    """A part of eoscheck the report needs is not installed yet (the report names it)."""


def _bounds_registry():
    try:
        bound = importlib.import_module("eoscheck.bounds.bound")
        for m in BOUND_MODULES:
            try:
                importlib.import_module(f"eoscheck.bounds.{m}")
            except ModuleNotFoundError:
                pass
        return bound
    except ModuleNotFoundError:
        return None


def get_bound(bound_id: str):
    """The :class:`eoscheck.bounds.bound.Bound` with this id, or ``None`` when not encoded."""
    reg = _bounds_registry()
    if reg is None:
        return None
    return reg.BOUNDS.get(bound_id)


def formula(bound_id: str) -> str:
    """The bound's one-line formula (with its constants), or its id when not encoded."""
    b = get_bound(bound_id)
    return b.formula if b is not None else bound_id


def source(bound_id: str) -> str:
    """Where the bound comes from (theorem/lemma), from its encoding."""
    b = get_bound(bound_id)
    return str(b.source) if b is not None else "?"


def ev(bound_id: str, loss: Any = None, **values) -> Any:
    """Evaluate bound ``bound_id`` (vectorized numpy) at ``values``; see the module docstring."""
    b = get_bound(bound_id)
    if b is not None:
        USED[bound_id] = "eoscheck.bounds"
        scalar = all(np.ndim(v) == 0 for v in values.values())
        # evaluate on 1-element arrays: some evaluators (ψ⁻¹) accept arrays only
        arrays = {k: np.atleast_1d(np.asarray(v, dtype=np.float64)) for k, v in values.items()}
        with np.errstate(all="ignore"):
            out = b.numpy(loss=loss, **arrays)
        return float(np.asarray(out).reshape(-1)[0]) if scalar else out
    try:
        formulas = importlib.import_module("eoscheck.properties.formulas")
    except ModuleNotFoundError:
        formulas = None
    fn = getattr(formulas, "PRIVATE", {}).get(bound_id) if formulas else None
    if fn is None:
        raise MissingDependency(f"bound {bound_id!r} is encoded neither in eoscheck.bounds nor in "
                                "eoscheck.properties.formulas")
    USED[bound_id] = "eoscheck.properties.formulas (fallback)"
    args = dict(values)
    if loss is not None:
        args = {"loss": loss, **args}
    with np.errstate(all="ignore"):
        return fn(**args)


def rho(loss: Any, lam) -> np.ndarray:
    """ρ(λ) = min_z λℓ(z) + z² (Assumption 3A), from :mod:`eoscheck.bounds.rho`."""
    try:
        mod = importlib.import_module("eoscheck.bounds.rho")
        USED["rho"] = "eoscheck.bounds"
        return np.asarray(mod.rho(loss, np.asarray(lam, dtype=np.float64)), dtype=np.float64)
    except (ModuleNotFoundError, AttributeError):
        pass
    try:
        formulas = importlib.import_module("eoscheck.properties.formulas")
    except ModuleNotFoundError:
        raise MissingDependency("ρ(λ) needs eoscheck.bounds.rho (or eoscheck.properties.formulas)") from None
    USED["rho"] = "eoscheck.properties.formulas (fallback)"
    return np.asarray(formulas.rho(loss, lam), dtype=np.float64)


def used_table() -> list[dict[str, str]]:
    """Rows (id, encoding, formula, source) of every bound the report evaluated."""
    rows = []
    for bid in sorted(USED):
        rows.append({"bound id": bid, "encoding": USED[bid],
                     "formula": formula(bid) if bid != "rho" else "ρ(λ) = min_z λℓ(z) + z²",
                     "source": source(bid) if bid != "rho" else "Assumption 3A"})
    return rows
