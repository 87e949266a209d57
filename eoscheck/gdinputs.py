"""Validated inputs of a batched GD run, shared by every engine (linear, networks).

Stepsizes η₁..η_K (each finite and > 0), the steps whose records are kept (every
t = 0..T, or a log-spaced grid), the sharpness checkpoints and the torch device.
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np

from ._errors import EoscheckError


#: Relative allowance for "the loss increased" in ``last_increase``: 16 ulps, the rounding of a
#: mean of n stably evaluated terms (documented tolerance).
INCREASE_RTOL = 16 * np.finfo(np.float64).eps

#: ln L is taken in the log domain (log-sum-exp of ln ℓ(mᵢ) − ln n) below this L, as where ln L is not finite:
#: L ≥ 1e-290 has its largest terms ≥ 1e-290/n ≥ 1e-300 (n ≤ 1e10), normal numbers at full precision, while a
#: subnormal L keeps fewer digits (L = 5e-322 holds 7 bits: ln L was off by 1e-2 at L ≈ e⁻⁷⁴⁰).
LOG_DOMAIN_BELOW = 1e-290


def log_domain_below(dtype, n: int) -> float:
    """Below this L = (1/n)Σℓ is taken in the log domain: :data:`LOG_DOMAIN_BELOW` in float64, or n·tiny in float32
    (below it the sum nL or its terms are subnormal and keep few digits: ln L = −99.95 for −100; above, the terms'
    underflow moves L by ≤ n·2⁻¹⁴⁹/(nL) < ε relative)."""
    import torch

    return max(LOG_DOMAIN_BELOW, float(torch.finfo(dtype).tiny) * n)


def requested_gemm() -> str | None:
    """The GEMM library asked for by ``EOSCHECK_GEMM`` ("mkl" or "openblas", any case), None where it is unset or
    empty; any other value is refused (a typo silently ran the default library)."""
    import os

    env = os.environ.get("EOSCHECK_GEMM", "").strip().lower()
    if env and env not in ("mkl", "openblas"):
        raise EoscheckError(f"EOSCHECK_GEMM={os.environ['EOSCHECK_GEMM']!r}: use mkl or openblas, or unset it")
    return env or None


def resolve_device(device):
    """A torch device, or an :class:`EoscheckError` when CUDA is asked for but absent."""
    import torch

    try:
        dev = torch.device(device or "cpu")
    except (RuntimeError, TypeError) as e:
        raise EoscheckError(f"unknown device {device!r}: use 'cpu' or 'cuda' ({e})") from None
    if dev.type not in ("cpu", "cuda"):
        raise EoscheckError(f"device {device!r} is not supported: use 'cpu' or 'cuda'")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EoscheckError("device cuda asked for (--device cuda), but torch sees no CUDA device; use device cpu "
                            "or install a CUDA build of torch")
    return dev


def check_etas(etas: float | Sequence[float]) -> np.ndarray:
    """Stepsizes as a 1-D float64 array, each finite and > 0."""
    try:
        if etas is None or isinstance(etas, (str, bytes)):   # None read as NaN ("got nan"), text as its number
            raise TypeError
        arr = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    except (TypeError, ValueError):
        raise EoscheckError(f"stepsizes must be a number or a sequence of numbers, got {etas!r}") from None
    if arr.ndim != 1:
        raise EoscheckError(f"stepsizes must be one number or a flat sequence of them, got an array of shape {arr.shape}")
    if arr.size == 0:
        raise EoscheckError("give at least one stepsize")
    bad = arr[~(np.isfinite(arr) & (arr > 0))]
    if bad.size:
        raise EoscheckError(f"stepsizes must be positive and finite, got {bad[0]:g}")
    return arr


def is_whole(value, lo: int) -> bool:
    """Whether ``value`` is an integer ≥ ``lo`` (an int, or a float or numpy number equal to one; not a
    bool, None, text, NaN or ±∞)."""
    try:
        return int(value) == value and value >= lo and not isinstance(value, bool)
    except (TypeError, ValueError, OverflowError):
        return False


def check_steps(steps) -> int:
    """T, the number of updates, as a non-negative int."""
    if not is_whole(steps, 0):
        raise EoscheckError(f"steps must be a non-negative integer, got {steps!r}")
    return int(steps)


def check_point(w, d: int, name: str) -> np.ndarray | None:
    """An optional point of R^d (w₀, w*) as a finite float64 (d,) array; None stays None."""
    if w is None:
        return None
    try:
        arr = np.asarray(w, dtype=np.float64)
    except (TypeError, ValueError):
        raise EoscheckError(f"{name} must be a vector of {d} numbers, got {type(w).__name__}") from None
    if arr.shape != (d,):
        raise EoscheckError(f"{name} must have shape ({d},), got {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise EoscheckError(f"{name} must be finite; entry {int(np.argmax(~np.isfinite(arr)))} is {arr[~np.isfinite(arr)][0]}")
    return arr


def record_grid(steps: int, grid: str = "all", points: int | None = None) -> np.ndarray:
    """Steps to record: every step 0..T (``"all"``) or ~``points`` log-spaced ones (``"log"``)."""
    if grid == "all":
        return np.arange(steps + 1)
    if grid == "log":
        P = check_grid_points(points)
        # beyond 2T·ln T + 2 points the rounded grid's top spacing T(1 − T^{−1/(P−1)}) < ½: it is every step, so a
        # billion points (asked for a 20-step run) need not be formed (it ran out of memory)
        if steps == 0 or P > 4 * (steps + 1) * (math.log(max(steps, 1)) + 1):   # steps = 0: step 0 alone (geomspace
            return np.arange(steps + 1)                                           # from 1 added a step never run)
        pts = np.geomspace(1, max(steps, 1), P)
        return np.unique(np.concatenate([[0], np.round(pts).astype(np.int64), [steps]]))
    raise EoscheckError(f"unknown grid {grid!r}; use 'all' or 'log'")


def grid_config(grid: str, points: int | None, rec: np.ndarray) -> dict:
    """A run's ``config`` entries for its record grid: the grid and the points asked for (what rebuilds it:
    ``"log"``'s duplicates removed leave fewer steps than points), and how many steps it records."""
    return {"grid": grid, "grid_points": check_grid_points(points) if grid == "log" else None,
            "recorded_steps": int(len(rec))}


def recorded_points(steps: int, grid: str, points: int | None) -> int:
    """How many steps :func:`record_grid` records, without building it (the log grid: at most
    ``points`` + 2)."""
    return steps + 1 if grid == "all" else min(steps + 1, check_grid_points(points) + 2)


#: Log-spaced points of the ``"log"`` grid when none are given.
LOG_GRID_POINTS = 512


def check_grid_points(points: int | None) -> int:
    """The log grid's number of points: ``points`` (a positive integer), :data:`LOG_GRID_POINTS` if None."""
    if points is None:
        return LOG_GRID_POINTS
    if not is_whole(points, 1):
        raise EoscheckError(f"grid_points must be a positive integer, got {points!r}")
    return int(points)


def checkpoint_points(steps: int, every: int | None) -> int:
    """At most how many sharpness checkpoints :func:`checkpoint_grid` holds, without building it."""
    return steps // int(check_every(every)) + 2 if every else 0


def require_memory(K: int, steps: int, grid: str, points: int | None, n: int, d: int, every: int | None = None,
                   model: str = "linear", width: int = 0) -> None:
    """Refuse, in one line and before anything is allocated, a run whose records and data do not fit in
    the memory available (:func:`eoscheck.resources.gd_estimate`)."""
    from .resources import gd_estimate

    est = gd_estimate(K=K, steps=steps, recorded=recorded_points(steps, grid, points), n=n, d=d,
                      sharp_points=checkpoint_points(steps, every), model=model, width=width)
    if est.total > SMALL_RUN_BYTES:       # reading the memory available costs ~12 µs, 0.5 % of a tiny run
        est.require()


#: Runs needing less than 64 MiB are not checked against the memory available.
SMALL_RUN_BYTES = 1 << 26


def check_every(every) -> int:
    """``sharpness_every`` as a positive int, or a one-line :class:`EoscheckError` (NaN, ∞, text and True were
    ValueError, OverflowError, TypeError, or taken as 1)."""
    if not is_whole(every, 1):
        raise EoscheckError(f"sharpness_every must be a positive integer (or None), got {every!r}")
    return int(every)


def checkpoint_grid(steps: int, every: int | None) -> np.ndarray:
    """Sharpness checkpoints 0, k, 2k, …, T (none when ``every`` is falsy)."""
    if not every:
        return np.zeros(0, dtype=np.int64)
    every = check_every(every)
    return np.unique(np.concatenate([np.arange(0, steps + 1, int(every)), [steps]])).astype(np.int64)
