"""Values of :class:`eoscheck.bounds.bound.Bound` objects as float64 arrays, for the claims.

The claims evaluate the project's one encoding of each formula (``bounds/<statement>.py``);
nothing here re-types a formula.  :func:`at` broadcasts the parameters against each other and
returns a writable float64 array of the broadcast shape (a scalar parameter set gives shape ()).
"""

from __future__ import annotations

import numpy as np

from eoscheck.bounds.bound import Bound
from eoscheck.losses import Loss, get_loss


def at(bound: Bound, loss: Loss | str | None = None, **values) -> np.ndarray:
    """``bound``'s right-hand side at ``values`` (arrays broadcast), ρ/ψ/C_g/… from ``loss``."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    shape = np.broadcast_shapes(*(a.shape for a in arrays.values())) if arrays else ()
    full = {k: np.broadcast_to(a, shape) for k, a in arrays.items()}
    if loss is not None and bound.needs_loss:
        out = bound.numpy(loss=get_loss(loss), **full)
    else:
        out = bound.numpy(**full)
    return np.broadcast_to(np.asarray(out, dtype=np.float64), shape).copy()


def loss_constants(loss: Loss | str) -> dict[str, float | None]:
    """The Assumption 3 constants (C_g, C_β, C_e, …) of a built-in loss as floats (None = fails)."""
    return {k: None if v is None else float(v) for k, v in get_loss(loss).paper_constants.items()}


def at_where(ok, bound: Bound, loss: Loss | str | None = None, **values) -> np.ndarray:
    """:func:`at` where ``ok`` holds (e.g. γ²ηt ≥ 1, the domain of ρ), NaN elsewhere (broadcast shape)."""
    arrays = {k: np.asarray(v, dtype=np.float64) for k, v in values.items()}
    ok = np.asarray(ok, dtype=bool)
    shape = np.broadcast_shapes(ok.shape, *(a.shape for a in arrays.values()))
    ok = np.broadcast_to(ok, shape)
    out = np.full(shape, np.nan)
    if ok.any():
        out[ok] = at(bound, loss, **{k: np.broadcast_to(a, shape)[ok] for k, a in arrays.items()})
    return out
