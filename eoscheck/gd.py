"""Constant-stepsize full-batch gradient descent on a linear model, batched over stepsizes.

    w_{t+1} = w_t − η ∇L(w_t),   L(w) = (1/n) Σᵢ ℓ(yᵢ xᵢᵀ w)        (eq. (GD), eq. (1))

with ∇L(w) = (1/n) Σᵢ ℓ′(yᵢxᵢᵀw) yᵢxᵢ.  K stepsizes run as one batched
computation; a stepsize whose state leaves the float range is marked diverged
at that step and its later records are NaN, without touching the other rows.

Engines (``method``): ``"reference"`` is :class:`_LinearGD` below, a (K, d) torch
iterate with two GEMMs and every record computed per step; ``"primal"`` and
``"gram"`` are the fast engine of :mod:`eoscheck._fastgd` (numpy/OpenBLAS on CPU,
torch on CUDA; the gram form needs one n×n GEMM per step instead of two n×d ones),
equal to the reference to ~1e-13 relative (tested).  ``"auto"`` picks the fast
engine in float64 with the cheaper form.  float64 on CPU or CUDA.
"""

from __future__ import annotations

import math
import time
from typing import Sequence

import numpy as np
import torch

from ._errors import EoscheckError
from ._fastgd import choose_method, choose_threads, run_fast
from .datasets import Dataset
from .losses import Loss, get_loss
from .provenance import array_hash, config_hash, provenance
from .trajectory import RECORDED, Trajectory

#: Relative allowance for "the loss increased" in the ``last_increase`` tracker:
#: 16 ulps, the rounding of a mean of n stably evaluated terms (documented tolerance).
INCREASE_RTOL = 16 * np.finfo(np.float64).eps


def resolve_device(device: str | torch.device | None) -> torch.device:
    """A torch device, or an :class:`EoscheckError` when CUDA is asked for but absent."""
    dev = torch.device(device or "cpu")
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise EoscheckError("--device cuda asked for, but torch sees no CUDA device; use --device cpu "
                            "or install a CUDA build of torch")
    return dev


def check_etas(etas: float | Sequence[float]) -> np.ndarray:
    """Stepsizes as a 1-D float64 array, each finite and > 0."""
    arr = np.atleast_1d(np.asarray(etas, dtype=np.float64))
    if arr.ndim != 1 or arr.size == 0:
        raise EoscheckError("give at least one stepsize")
    bad = arr[~(np.isfinite(arr) & (arr > 0))]
    if bad.size:
        raise EoscheckError(f"stepsizes must be positive and finite, got {bad[0]:g}")
    return arr


def record_grid(steps: int, grid: str = "all", points: int | None = None) -> np.ndarray:
    """Steps to record: every step 0..T (``"all"``) or ~``points`` log-spaced ones (``"log"``)."""
    if grid == "all":
        return np.arange(steps + 1)
    if grid == "log":
        pts = np.geomspace(1, max(steps, 1), points or 512)
        return np.unique(np.concatenate([[0], np.round(pts).astype(np.int64), [steps]]))
    raise EoscheckError(f"unknown grid {grid!r}; use 'all' or 'log'")


def run_gd(
    data: Dataset,
    loss: Loss | str = "logistic",
    etas: float | Sequence[float] = 1.0,
    steps: int = 1000,
    *,
    w0: np.ndarray | None = None,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype = torch.float64,
    grid: str = "all",
    grid_points: int | None = None,
    sharpness_every: int | None = None,
    w_star: np.ndarray | None = None,
    progress: bool = False,
    method: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
) -> Trajectory:
    """Run GD for every stepsize in ``etas`` for ``steps`` steps and record the trajectory.

    Args:
      data: the dataset (used as given: normalize it yourself for Assumption 1A).
      loss: a :class:`Loss` or a built-in name.
      etas: one stepsize or a list; all run as one batched computation.
      steps: T, the number of updates (records cover t = 0..T).
      w0: initial point (d,), zeros by default (the paper's w₀ = 0).
      device, dtype: where and in what precision to compute (float64 default).
      grid: ``"all"`` records every step; ``"log"`` records ~``grid_points`` log-spaced steps
        (exact running statistics are kept either way).
      sharpness_every: record λ_max(∇²L(w_t)) (closed form) every this many steps.
      w_star: the direction for ``w_proj``; defaults to the data's max-margin w* when separable.
      method: ``"auto"`` (fast engine, cheaper form), ``"gram"``, ``"primal"`` or ``"reference"``
        (the plain per-step torch engine); all give the same trajectory up to rounding (tested
        to 1e-12; where the EoS dynamics amplify rounding, as any two float64 codes differ).
      backend: for the fast engine, ``"numpy"`` (CPU), ``"torch"`` (CPU or CUDA) or ``"auto"``
        (numpy on CPU, torch on CUDA).
      threads: workers on CPU (numpy backend): column parts of the data in forked processes
        (gram) or row blocks of stepsizes in threads (primal); default one per BLAS thread when
        a step is large enough.  The engine sets BLAS/torch to one thread each meanwhile
        (process-wide: do not run two ``run_gd`` calls in threads of one process at once).

    Memory: the records take 12 · 8 · K · S bytes (S recorded steps): 10⁶ steps for 32
    stepsizes is 3.1 GB; use ``grid="log"`` beyond that.
    """
    loss = get_loss(loss)
    eta = check_etas(etas)
    if int(steps) != steps or steps < 0:
        raise EoscheckError(f"steps must be a non-negative integer, got {steps}")
    steps = int(steps)
    dev = resolve_device(device)
    if w_star is None and data.separable:
        w_star = data.w_star
    rec = record_grid(steps, grid, grid_points)
    sharp_steps = (np.unique(np.concatenate([np.arange(0, steps + 1, sharpness_every), [steps]]))
                   if sharpness_every else np.zeros(0, dtype=np.int64))
    config = {
        "model": "linear", "data": data.name, "data_hash": array_hash(data.X, data.y), "n": data.n, "d": data.d,
        "loss": loss.name, "loss_expr": str(loss.expr), "eta": eta.tolist(), "steps": steps,
        "w0": "zeros" if w0 is None else np.asarray(w0, dtype=np.float64).tolist(),
        "grid": grid, "grid_points": len(rec), "sharpness_every": sharpness_every,
        "dtype": str(dtype).replace("torch.", ""), "device": dev.type,
    }
    t0 = time.perf_counter()
    engine = _choose_engine(method, backend, threads, dev, dtype, data, w0, len(eta))
    if engine["method"] == "reference":
        state = _LinearGD(data, loss, eta, w0, dev, dtype, w_star)
        records, stats, sharp = state.run(steps, rec, sharp_steps, progress)
    else:
        if w0 is not None and np.asarray(w0, dtype=np.float64).shape != (data.d,):
            raise EoscheckError(f"w0 must have shape ({data.d},), got {np.asarray(w0).shape}")
        bar = _progress(steps, progress)
        records, stats, sharp, engine = run_fast(
            data, loss, eta, w0, w_star, steps, rec, sharp_steps, math.log1p(INCREASE_RTOL), bar,
            method=engine["method"], backend=engine["backend"], device=dev, threads=engine["threads"])
        bar.close()
    config["config_hash"] = config_hash(config)
    prov = provenance(dev.type)
    prov["engine"] = engine
    prov["wall_time_s"] = time.perf_counter() - t0
    return Trajectory(eta=eta, step=rec, records=records, stats=stats, sharpness_step=sharp_steps,
                      sharpness=sharp, config=config, provenance=prov)


METHODS = ("auto", "gram", "primal", "reference")
BACKENDS = ("auto", "numpy", "torch")


def _choose_engine(method, backend, threads, dev, dtype, data, w0, K) -> dict:
    """Which engine runs: the reference, or the fast one with its form, backend and threads."""
    if method not in METHODS:
        raise EoscheckError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if backend not in BACKENDS:
        raise EoscheckError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    w0_zero = w0 is None or not np.any(np.asarray(w0, dtype=np.float64))
    if method == "reference" or (method == "auto" and dtype != torch.float64):
        return {"method": "reference", "backend": "torch", "threads": None}
    if dtype != torch.float64:
        raise EoscheckError(f"method {method!r} computes in float64; use dtype=torch.float64 or "
                            "method='reference'")
    if method == "gram" and not w0_zero:
        raise EoscheckError("method='gram' needs w0 = 0 (w = Zᵀc); use method='primal' for another w0")
    if backend == "auto":
        backend = "numpy" if dev.type == "cpu" else "torch"
    if backend == "numpy" and dev.type != "cpu":
        raise EoscheckError(f"backend 'numpy' runs on the CPU, not on {dev}; use backend='torch'")
    if method == "auto":
        method = choose_method(data.n, data.d, w0_zero)
    if threads is None:
        threads = choose_threads(K, data.n, data.d, method) if backend == "numpy" else 1
    elif int(threads) != threads or threads < 1:
        raise EoscheckError(f"threads must be a positive integer, got {threads}")
    return {"method": method, "backend": backend, "threads": int(threads)}


def sharpness_torch(h: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    """λ_max((1/n) Zᵀ diag(ℓ″(M)) Z) per row, h = ℓ″(M)/n (K, n), in the smaller of the d×d and n×n forms.

    Rows whose ℓ″ is not finite (a run that left the float range) get NaN.
    """
    n, d = Z.shape
    fin = torch.isfinite(h).all(dim=1)
    out = torch.full((h.shape[0],), math.nan, dtype=h.dtype, device=h.device)
    if not bool(fin.any()):
        return out
    h = h[fin]
    if d <= n:
        H = torch.einsum("ki,ia,ib->kab", h, Z, Z)
    else:
        s = h.clamp(min=0).sqrt()
        Ks = Z @ Z.T
        H = s[:, :, None] * Ks[None] * s[:, None, :]
    out[fin] = torch.linalg.eigvalsh(H)[:, -1]
    return out


def sharpness_np(h: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """:func:`sharpness_torch` in numpy."""
    n, d = Z.shape
    fin = np.isfinite(h).all(axis=1)
    out = np.full(h.shape[0], math.nan)
    if not fin.any():
        return out
    h = h[fin]
    if d <= n:
        H = (Z.T[None, :, :] * h[:, None, :]) @ Z
    else:
        s = np.sqrt(np.maximum(h, 0.0))
        H = s[:, :, None] * (Z @ Z.T)[None] * s[:, None, :]
    out[fin] = np.linalg.eigvalsh(H)[:, -1]
    return out


class _LinearGD:
    """The batched iterate W (K, d) and everything computed from its margins."""

    def __init__(self, data, loss, eta, w0, dev, dtype, w_star):
        self.loss = loss
        self.Z = torch.as_tensor(data.Z, dtype=dtype, device=dev)
        self.n, self.d = self.Z.shape
        self.eta = torch.as_tensor(eta, dtype=dtype, device=dev)
        K = len(eta)
        W = torch.zeros(K, self.d, dtype=dtype, device=dev)
        if w0 is not None:
            w0 = np.asarray(w0, dtype=np.float64)
            if w0.shape != (self.d,):
                raise EoscheckError(f"w0 must have shape ({self.d},), got {w0.shape}")
            W += torch.as_tensor(w0, dtype=dtype, device=dev)
        self.W = W
        self.wstar = None if w_star is None else torch.as_tensor(w_star, dtype=dtype, device=dev)
        self.log_n = math.log(self.n)

    def quantities(self, M: torch.Tensor, dl: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every per-step record from the margins M (K, n) and ℓ′(M)."""
        L = self.loss.value(M).mean(dim=1)
        log_L = torch.log(L)
        bad = ~torch.isfinite(log_L)
        if bool(bad.any()):  # under/overflow of L itself: fall back to the log domain
            lse = torch.logsumexp(self.loss.log_value(M), dim=1) - self.log_n
            log_L = torch.where(bad, lse, log_L)
        grad = (dl @ self.Z) / self.n
        w_norm = self.W.norm(dim=1)
        min_m = M.min(dim=1).values
        return {
            "loss": L,
            "log_loss": log_L,
            "log_F": torch.logsumexp(-M, dim=1) - self.log_n,
            "G": dl.abs().mean(dim=1),
            "grad_norm": grad.norm(dim=1),
            "w_norm": w_norm,
            "w_proj": self.W @ self.wstar if self.wstar is not None else torch.full_like(L, math.nan),
            "min_margin": min_m,
            "norm_margin": min_m / w_norm,
            "train_error": (M <= 0).to(M.dtype).mean(dim=1),
            "_grad": grad,
        }

    def sharpness(self, M: torch.Tensor) -> torch.Tensor:
        """λ_max(∇²L) = λ_max((1/n) Zᵀ diag(ℓ″(M)) Z), in the smaller of the d×d and n×n forms."""
        return sharpness_torch(self.loss.hess(M) / self.n, self.Z)

    def run(self, steps, rec, sharp_steps, progress):
        K = len(self.eta)
        dev, dtype = self.W.device, self.W.dtype
        out = {k: torch.full((K, len(rec)), math.nan, dtype=dtype, device=dev) for k in RECORDED}
        sharp = torch.full((K, len(sharp_steps)), math.nan, dtype=dtype, device=dev)
        cum_L = torch.zeros(K, dtype=dtype, device=dev)
        cum_G = torch.zeros(K, dtype=dtype, device=dev)
        prev_log_L = torch.full((K,), math.inf, dtype=dtype, device=dev)
        last_inc = torch.full((K,), -1, dtype=torch.int64, device=dev)
        last_inc_strict = last_inc.clone()
        below1 = last_inc.clone()
        below2 = last_inc.clone()
        diverged = last_inc.clone()
        max_log_L = torch.full((K,), -math.inf, dtype=dtype, device=dev)
        argmax = torch.zeros(K, dtype=torch.int64, device=dev)
        log_thr1 = -torch.log(self.eta)
        log_thr2 = math.log(2) - torch.log(self.eta)
        log_rtol = math.log1p(INCREASE_RTOL)
        rec_pos = {int(t): j for j, t in enumerate(rec)}
        sharp_pos = {int(t): j for j, t in enumerate(sharp_steps)}
        alive = torch.ones(K, dtype=torch.bool, device=dev)
        bar = _progress(steps, progress)
        for t in range(steps + 1):
            M = self.W @ self.Z.T
            dl = self.loss.grad(M)
            q = self.quantities(M, dl)
            grad = q.pop("_grad")
            # w_t is recorded while it is finite (L(w_t) itself may overflow to +inf, ln L stays
            # finite); the run stops (diverged at t) once w_t or ∇L(w_t) is not finite.
            state_ok = torch.isfinite(M).all(dim=1)
            ok = state_ok & torch.isfinite(grad).all(dim=1)
            newly = alive & ~ok
            shown = alive & state_ok
            if bool(newly.any()):
                diverged = torch.where(newly, torch.full_like(diverged, t), diverged)
            j = rec_pos.get(t)
            if j is not None:
                q["avg_loss"] = cum_L / t if t else torch.full_like(cum_L, math.nan)
                q["avg_G"] = cum_G / t if t else torch.full_like(cum_G, math.nan)
                for k, v in q.items():
                    out[k][:, j] = torch.where(shown, v, torch.full_like(v, math.nan))
            if t in sharp_pos:
                sharp[:, sharp_pos[t]] = torch.where(shown, self.sharpness(M), torch.full_like(cum_L, math.nan))
            log_L = q["log_loss"]
            tt = torch.full_like(last_inc, t)
            alive = shown
            last_inc = torch.where(alive & (log_L > prev_log_L + log_rtol), tt, last_inc)
            last_inc_strict = torch.where(alive & (log_L > prev_log_L), tt, last_inc_strict)
            below1 = torch.where(alive & (below1 < 0) & (log_L <= log_thr1), tt, below1)
            below2 = torch.where(alive & (below2 < 0) & (log_L <= log_thr2), tt, below2)
            up = alive & (log_L > max_log_L)
            max_log_L = torch.where(up, log_L, max_log_L)
            argmax = torch.where(up, tt, argmax)
            prev_log_L = log_L
            cum_L = cum_L + q["loss"]
            cum_G = cum_G + q["G"]
            alive = alive & ok
            if t < steps:
                step = torch.where(alive[:, None], self.eta[:, None] * grad, torch.zeros_like(grad))
                self.W = self.W - step
            bar.update(1)
        bar.close()
        records = {k: v.cpu().numpy() for k, v in out.items()}
        stats = {
            "diverged_at": diverged.cpu().numpy(),
            "last_increase": last_inc.cpu().numpy(),
            "last_increase_strict": last_inc_strict.cpu().numpy(),
            "first_below_1_over_eta": below1.cpu().numpy(),
            "first_below_2_over_eta": below2.cpu().numpy(),
            "max_loss": torch.exp(max_log_L).cpu().numpy(),
            "argmax_loss": argmax.cpu().numpy(),
            "final_w": self.W.cpu().numpy(),
        }
        return records, stats, sharp.cpu().numpy()


class _NoBar:
    def update(self, k):
        pass

    def close(self):
        pass


def _progress(total: int, enabled: bool):
    if not enabled:
        return _NoBar()
    from tqdm.auto import tqdm

    return tqdm(total=total + 1, unit="step", mininterval=0.5, leave=False)
