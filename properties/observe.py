"""Reading a trajectory for the checks: aligned (K, S) arrays and per-run reductions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from eoscheck.trajectory import Trajectory

from .claims import Evaluation
from .numerics import safe_div


@dataclass
class Arrays:
    """The recorded (K, S) quantities of a full-grid trajectory, with ``eta`` (K, 1) and ``t`` (1, S)."""

    eta: np.ndarray
    t: np.ndarray
    L: np.ndarray
    logL: np.ndarray
    logF: np.ndarray
    G: np.ndarray
    gn: np.ndarray
    wn: np.ndarray
    proj: np.ndarray
    avg_L: np.ndarray
    avg_G: np.ndarray
    min_margin: np.ndarray
    diverged: np.ndarray

    @classmethod
    def of(cls, traj: Trajectory) -> "Arrays":
        if not traj.full_grid:
            raise ValueError("the checks need every step recorded (grid='all')")
        return cls.of_records(traj.eta, traj.step, traj.records, traj.diverged)

    @classmethod
    def of_records(cls, eta: np.ndarray, steps: np.ndarray, r: dict[str, np.ndarray], diverged: np.ndarray) -> "Arrays":
        """From (K, S) records at ``steps`` (a whole run, or a chunk of one: :func:`eoscheck.gd.first_steps`) and
        the (K,) runs diverged by the last of them; :meth:`first` gives indices into ``steps``."""
        return cls(eta=np.asarray(eta)[:, None], t=np.asarray(steps)[None, :].astype(np.float64), L=r["loss"],
                   logL=r["log_loss"], logF=r["log_F"], G=r["G"], gn=r["grad_norm"], wn=r["w_norm"],
                   proj=r["w_proj"], avg_L=r["avg_loss"], avg_G=r["avg_G"], min_margin=r["min_margin"],
                   diverged=diverged)

    @property
    def K(self) -> int:
        return self.L.shape[0]

    def first(self, cond: np.ndarray) -> np.ndarray:
        """(K,) first step index where ``cond`` (K, S) holds, −1 if never."""
        hit = cond.any(axis=1)
        return np.where(hit, cond.argmax(axis=1), -1)


def worst_per_row(measured: np.ndarray, bound: np.ndarray, allowance: np.ndarray | float, mask: np.ndarray,
                  direction: str = "<=", params: dict[str, np.ndarray] | None = None,
                  best: np.ndarray | None = None, best_meaning: str = "", inconclusive: int = 0,
                  notes: list[str] | None = None, best_reduce: str | None = None,
                  unfalsifiable: int = 0) -> Evaluation:
    """Reduce (K, S) comparisons to one point per row: the point closest to (or furthest into) violation.

    ``mask`` selects the points in the claim's domain; rows with none are dropped.
    ``params`` values are (K, S), (K, 1), (1, S) or scalars; ``best`` is (K, S) or (K,),
    reduced over the masked points with ``best_reduce`` (default: max for ``<=``, min for ``>=``).
    """
    best_reduce = best_reduce or ("max" if direction == "<=" else "min")
    measured, bound = np.broadcast_arrays(np.asarray(measured, float), np.asarray(bound, float))
    allow = np.broadcast_to(np.asarray(allowance, float), measured.shape)
    mask = np.broadcast_to(mask, measured.shape) & ~np.isnan(bound)
    with np.errstate(invalid="ignore", divide="ignore", over="ignore"):
        scale = np.maximum(np.abs(bound), 1e-300)
        if direction == "<=":
            sc = (measured - bound - allow) / scale
        else:
            sc = (bound - allow - measured) / scale
    sc = np.where(np.isnan(sc), np.inf, sc)  # NaN measured: worst
    sc = np.where(mask, sc, -np.inf)
    rows = np.flatnonzero(mask.any(axis=1))
    idx = sc[rows].argmax(axis=1)
    out_params = {}
    for k, v in (params or {}).items():
        v = np.broadcast_to(np.asarray(v), measured.shape)
        out_params[k] = v[rows, idx]
    b = None
    if best is not None:
        best = np.asarray(best, float)
        if best.ndim == 2:
            bb = np.broadcast_to(best, measured.shape)
            fill = -np.inf if best_reduce == "max" else np.inf
            # only points the arithmetic resolves (allowance ≤ 1% of the bound) say how loose a claim is
            resolved = mask & (allow <= 0.01 * np.abs(bound))
            red = np.where(resolved, bb, fill)
            b = red.max(axis=1) if best_reduce == "max" else red.min(axis=1)
            b = b[rows]
            b = b[np.isfinite(b)]
        else:
            b = best[rows]
    return Evaluation(measured=measured[rows, idx], bound=bound[rows, idx], allowance=allow[rows, idx],
                      direction=direction, params=out_params, inconclusive=inconclusive,
                      unfalsifiable=unfalsifiable, notes=notes or [],
                      best=b, best_meaning=best_meaning, best_reduce=best_reduce)


def ratio(a, b):
    return safe_div(a, b)
