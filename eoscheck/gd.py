"""Constant-stepsize full-batch gradient descent on a linear model, batched over stepsizes.

    w_{t+1} = w_t − η ∇L(w_t),   L(w) = (1/n) Σᵢ ℓ(yᵢ xᵢᵀ w)        (eq. (GD), eq. (1))

with ∇L(w) = (1/n) Σᵢ ℓ′(yᵢxᵢᵀw) yᵢxᵢ.  K stepsizes run as one batched
computation; a stepsize whose state leaves the float range is marked diverged
at that step and its later records are NaN, without touching the other rows.

Engines (``method``): ``"reference"`` is :class:`ReferenceGD` below, a (K, d) torch
iterate with two GEMMs and every record computed per step; ``"primal"`` and
``"gram"`` are the fast engine of :mod:`eoscheck.fastgd` (BLAS GEMMs and one fused
elementwise pass per step on CPU, torch on CUDA; the gram form needs one n×n GEMM per step
instead of two n×d ones), equal to the reference to ~1e-13 relative (tested).  The gram form's
state is c (w = Zᵀc), which each step grows by (η/n)q: it rounds relative to Σᵢ|cᵢ|, so where w is much shorter
than Σ|cᵢ|·R (points whose coefficients cancel, as near a minimiser on non-separable data, where c grows like t
while w converges) ‖w‖ and ⟨w, w*⟩ keep fewer digits: 4e-10 and 9e-9 relative at t = 2·10⁴ on ± pairs plus 3
points (n = 43, d = 5), 2e-6 on other pairs, against 2e-15 for the primal form.  Recomputing w = Zᵀc does not
help (1.6e-9: c itself has drifted); ``method="primal"`` keeps w.  On separable data ‖w‖ ≥ γ*·Σ|cᵢ| bounds the
loss of digits by R/γ*.  ‖∇L‖ is recomputed where its form cancels
(:data:`eoscheck.fastgd.CANCELLED`).  ``"auto"``
picks the fast engine in float64 with the cheaper form.  Both engines hand their numbers
to the one recorder, :class:`eoscheck.recorder.GDRecorder`.

:func:`first_steps` runs the same steps without keeping their records: each chunk is shown to a condition and
dropped, so a first hitting time can be looked for over 10⁷ steps and more in memory that does not grow with them.
"""

from __future__ import annotations

import math
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ._errors import EoscheckError
from .datasets import Dataset
from .fastgd import choose_method, gram_bookkeeping_fits, gram_fits, run_fast
from .gdinputs import (check_etas, check_point, check_steps, checkpoint_grid, grid_config,
                       is_whole, log_domain_below, record_grid, require_memory, resolve_device)
from .losses import Loss, get_loss
from .progress import bar as progress_bar
from .provenance import array_hash, config_hash, provenance
from .recorder import INCREASE_RTOL, FirstStepRecorder, GDRecorder, wanted_mask
from .sharpness import batch_sharpness_torch
from .trajectory import RECORDED, Trajectory

__all__ = ["run_gd", "first_steps", "FirstSteps", "ReferenceGD", "INCREASE_RTOL", "check_etas", "record_grid",
           "resolve_device", "METHODS", "BACKENDS"]

METHODS = ("auto", "gram", "primal", "reference")
BACKENDS = ("auto", "numba", "numpy", "torch")


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
      grid_points: the log grid's points (default 512; ignored by ``"all"``).
      sharpness_every: record λ_max(∇²L(w_t)) (closed form) every this many steps (None or 0: never).
      w_star: the direction for ``w_proj``; defaults to the data's max-margin w* when separable.
      progress: show a progress bar (steps done, rate, time left) on stderr.
      method: ``"auto"`` (fast engine, cheaper form), ``"gram"``, ``"primal"`` or ``"reference"``
        (the plain per-step torch engine); all give the same trajectory up to rounding (tested
        to 1e-12; where the EoS dynamics amplify rounding, as any two float64 codes differ).
      backend: for the fast engine, ``"numba"`` (CPU: BLAS GEMMs and one fused compiled pass per
        step, for the built-in losses; others fall back to numpy), ``"numpy"`` (CPU: numpy passes,
        the reference of the fused path), ``"torch"`` (CPU or CUDA) or ``"auto"`` (numba on CPU,
        torch on CUDA).
      threads: CPU threads of the fast engine (numba backend).  The data points are split into a
        fixed number of panels (gram form: columns of K; primal: rows of Z; set by the machine's
        CPU count and the problem size,
        never by this argument or the load), so the result is bit-identical whatever the thread
        count; default: the CPUs left idle by other processes, measured over the run's first
        ≥ 50 ms (run on one thread; no waiting).  Threads
        block (never spin) between steps; BLAS runs single-threaded inside each panel.

    Memory: the records take 12 · 8 · K · S bytes (S recorded steps): 10⁶ steps for 32
    stepsizes is 3.1 GB; use ``grid="log"`` beyond that.
    """
    loss, eta, steps, dev, w0, w_star = _inputs(data, loss, etas, steps, w0, device, dtype, w_star)
    require_memory(len(eta), steps, grid, grid_points, data.n, data.d, sharpness_every)
    rec = record_grid(steps, grid, grid_points)
    sharp_steps = checkpoint_grid(steps, sharpness_every)
    config = {
        "model": "linear", "data": data.name, "data_hash": array_hash(data.X, data.y), "n": data.n, "d": data.d,
        "loss": loss.name, "loss_expr": loss.expr_text, "eta": eta.tolist(), "steps": steps,
        "w0": "zeros" if w0 is None else np.asarray(w0, dtype=np.float64).tolist(),
        **grid_config(grid, grid_points, rec), "sharpness_every": sharpness_every,
        "dtype": str(dtype).replace("torch.", ""), "device": dev.type,
    }
    t0 = time.perf_counter()
    _read_provenance(dev.type)     # versions, machine and the code's commit read before the run, not after it
    engine = _choose_engine(method, backend, threads, dev, dtype, data, w0, float(np.max(eta)))
    recorder = GDRecorder(eta, rec, sharp_steps, RECORDED)
    label = f"GD {data.name}, {len(eta)} η in [{eta.min():g}, {eta.max():g}], {loss.name}"
    with (progress_bar(desc=label, total=steps + 1, unit="step", eta=True, mininterval=0.5)
          if progress else _NoBar()) as bar:
        final_w, engine = _drive(data, loss, eta, w0, w_star, dev, dtype, steps, engine, recorder, bar)
    records, stats, sharp = recorder.results()
    stats["final_w"] = final_w
    config["config_hash"] = config_hash(config)
    prov = _provenance(dev.type)
    prov["engine"] = engine
    prov["wall_time_s"] = time.perf_counter() - t0
    return Trajectory(eta=eta, step=rec, records=records, stats=stats, sharpness_step=sharp_steps,
                      sharpness=sharp, config=config, provenance=prov)


def first_steps(
    data: Dataset,
    loss: Loss | str,
    etas: float | Sequence[float],
    steps: int,
    condition: Callable[[np.ndarray, dict[str, np.ndarray], np.ndarray], np.ndarray],
    *,
    wanted: np.ndarray | None = None,
    w0: np.ndarray | None = None,
    w_star: np.ndarray | None = None,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype = torch.float64,
    method: str = "auto",
    backend: str = "auto",
    threads: int | None = None,
) -> FirstSteps:
    """The first step s ≤ ``steps`` at which each stepsize's run meets ``condition``, in memory that does not grow
    with the steps: the run of :func:`run_gd` (the same arguments, the same engine, the same bits), each chunk of
    steps shown to ``condition`` and then dropped, stopped once every run of ``wanted`` (a (K,) mask; default all)
    has met it or diverged.

    ``condition(t, records, diverged)``: t the (S,) steps of a chunk, ``records`` its (K, S) records
    (:data:`eoscheck.trajectory.RECORDED`, NaN where a run is not shown), ``diverged`` (K,) the runs stopped by the
    chunk's last step; returns the (K, S) steps meeting it.  It is called once a chunk, in step order (so it may keep
    state of its own across chunks).  Only shown steps count (a diverged run meets nothing after its last finite
    state).  The records do not depend on ``steps``, on where chunks end or on the stop (a run's first steps are a
    longer run's, bit for bit), so for a condition that holds or not at a step from that step's records alone, each
    s is the one ``run_gd(..., steps)`` followed by the same condition on its records finds (``diverged`` depends
    on where the chunks end: it is there for bookkeeping, not for a step's own test).
    """
    loss, eta, steps, dev, w0, w_star = _inputs(data, loss, etas, steps, w0, device, dtype, w_star)
    require_memory(len(eta), 0, "all", None, data.n, data.d)      # the data; the chunks are bounded by their own size
    want = wanted_mask(wanted, len(eta))
    engine = _choose_engine(method, backend, threads, dev, dtype, data, w0, float(np.max(eta)))
    recorder = FirstStepRecorder(eta, RECORDED, condition, want)
    _, engine = _drive(data, loss, eta, w0, w_star, dev, dtype, steps, engine, recorder, _NoBar())
    first, upto, diverged = recorder.answer()
    return FirstSteps(first=first, steps_run=upto, diverged_at=diverged, engine=engine)


@dataclass(frozen=True, eq=False)
class FirstSteps:
    """What :func:`first_steps` found: ``first`` (K,) the first step meeting the condition (−1: not by
    ``steps_run``), ``diverged_at`` (K,) (−1: not by ``steps_run``), and the engine that ran.  ``steps_run`` is
    ``steps``, or, where the run stopped once every wanted run had met the condition or diverged, the last step at
    which one did: what the run saw after it (the rest of its chunk, whose end is the engine's) is left out, so the
    answer does not depend on where chunks end."""

    first: np.ndarray
    steps_run: int
    diverged_at: np.ndarray
    engine: dict


def _inputs(data, loss, etas, steps, w0, device, dtype, w_star) -> tuple:
    """The checked inputs of a run: (loss, η (K,), T, device, w₀, w*: the data's max-margin direction by
    default)."""
    if not isinstance(data, Dataset):
        raise EoscheckError(f"data must be an eoscheck Dataset (e.g. Dataset(X, y) with labels ±1, or toy()), "
                            f"got a {type(data).__name__}")
    loss = get_loss(loss)
    eta = check_etas(etas)
    steps = check_steps(steps)
    if dtype not in (torch.float64, torch.float32):
        raise EoscheckError(f"dtype must be torch.float64 (the default) or torch.float32, got {dtype!r}")
    dev = resolve_device(device)
    w0 = check_point(w0, data.d, "w0")
    w_star = check_point(w_star, data.d, "w_star")
    if w_star is None and data.separable:
        w_star = data.w_star
    return loss, eta, steps, dev, w0, w_star


def _drive(data, loss, eta, w0, w_star, dev, dtype, steps: int, engine: dict, recorder, bar) -> tuple:
    """Run the chosen engine into ``recorder``: (final w, or None where the recorder stopped the run; engine info)."""
    if engine["method"] == "reference":
        return ReferenceGD(data, loss, eta, w0, dev, dtype, w_star).run(steps, recorder, bar), engine
    return run_fast(data, loss, eta, w0, w_star, steps, recorder, bar, method=engine["method"],
                    backend=engine["backend"], device=dev, threads=engine["threads"])


def _choose_engine(method, backend, threads, dev, dtype, data, w0, eta_max: float = 1.0) -> dict:
    """Which engine runs: the reference, or the fast one with its form, backend and threads."""
    if method not in METHODS:
        raise EoscheckError(f"unknown method {method!r}; choose one of: {', '.join(METHODS)}")
    if backend not in BACKENDS:
        raise EoscheckError(f"unknown backend {backend!r}; choose one of: {', '.join(BACKENDS)}")
    if threads is not None and not is_whole(threads, 1):
        raise EoscheckError(f"threads must be a positive integer (or None), got {threads!r}")
    w0_zero = w0 is None or not np.any(np.asarray(w0, dtype=np.float64))
    if method == "reference" or (method == "auto" and dtype != torch.float64):
        return {"method": "reference", "backend": "torch", "threads": None}
    if dtype != torch.float64:
        raise EoscheckError(f"method {method!r} computes in float64; use dtype=torch.float64 or "
                            "method='reference'")
    if method == "gram" and not w0_zero:
        raise EoscheckError("method='gram' needs w0 = 0 (w = Zᵀc); use method='primal' for another w0")
    if method == "gram" and not gram_fits(data.max_norm):
        raise EoscheckError(f"method='gram' forms K = ZZᵀ, whose entries reach maxᵢ‖zᵢ‖² = {data.max_norm:.3g}² "
                            "beyond float64; use method='primal' (or rescale the data)")
    if method == "gram" and not gram_bookkeeping_fits(data.max_norm, eta_max):
        raise EoscheckError(f"method='gram' at η = {eta_max:.3g} with maxᵢ‖zᵢ‖ = {data.max_norm:.3g}: its bookkeeping "
                            "c = Σ(η/n)q can leave float64 unseen; use method='primal'")
    if backend == "auto":
        backend = "numba" if dev.type == "cpu" else "torch"
    if backend in ("numba", "numpy") and dev.type != "cpu":
        raise EoscheckError(f"backend {backend!r} runs on the CPU, not on {dev}; use backend='torch'")
    if method == "auto":
        method = choose_method(data.n, data.d, w0_zero, data.max_norm, eta_max)
    return {"method": method, "backend": backend, "threads": None if threads is None else int(threads)}


def row_norms(A: torch.Tensor) -> torch.Tensor:
    """‖aᵢ‖ per row with each row scaled by its max |aᵢⱼ| first: finite and non-zero whenever the norm is
    (torch's norm squares first: ‖w‖ = 2.7e159 read ∞, 1e-194 read 0); ∞ or NaN entries give ∞ or NaN."""
    a = A.abs().amax(dim=1, keepdim=True)
    scaled = (a > 0) & torch.isfinite(a)
    safe = torch.where(scaled, a, 1.0)
    return torch.where(scaled[:, 0], safe[:, 0] * torch.linalg.vector_norm(A / safe, dim=1), a[:, 0])


class ReferenceGD:
    """The plain engine: the batched iterate W (K, d) in torch and every record computed per step."""

    def __init__(self, data, loss, eta, w0, dev, dtype, w_star):
        self.loss = loss
        self.Z = torch.as_tensor(data.Z, dtype=dtype, device=dev)
        self.log_below = log_domain_below(dtype, data.n)
        self.n, self.d = self.Z.shape
        self.eta = torch.as_tensor(eta, dtype=dtype, device=dev)
        W = torch.zeros(len(eta), self.d, dtype=dtype, device=dev)
        if w0 is not None:
            W += torch.as_tensor(np.asarray(w0, dtype=np.float64), dtype=dtype, device=dev)
        self.W = W
        self.wstar = None if w_star is None else torch.as_tensor(w_star, dtype=dtype, device=dev)
        self.log_n = math.log(self.n)

    def quantities(self, M: torch.Tensor, dl: torch.Tensor) -> dict[str, torch.Tensor]:
        """Every per-step record from the margins M (K, n) and ℓ′(M)."""
        L = self.loss.value(M).mean(dim=1)
        log_L = torch.log(L)
        bad = ~torch.isfinite(log_L) | (L < self.log_below)
        if bool(bad.any()):  # under/overflow of L itself, or too few digits: fall back to the log domain
            lse = torch.logsumexp(self.loss.log_value(M), dim=1) - self.log_n
            log_L = torch.where(bad, lse, log_L)
        grad = (dl @ self.Z) / self.n
        w_norm = row_norms(self.W)
        min_m = M.min(dim=1).values
        return {
            "loss": L,
            "log_loss": log_L,
            "log_F": torch.logsumexp(-M, dim=1) - self.log_n,
            "G": dl.abs().mean(dim=1),
            "grad_norm": row_norms(grad),
            "w_norm": w_norm,
            "w_proj": self.W @ self.wstar if self.wstar is not None else torch.full_like(L, math.nan),
            "min_margin": min_m,
            "norm_margin": min_m / w_norm,
            "train_error": (M <= 0).to(M.dtype).mean(dim=1),
            "_grad": grad,
        }

    @torch.inference_mode()
    def run(self, steps: int, recorder: GDRecorder, bar) -> np.ndarray | None:
        """Steps 0..T into ``recorder``; returns the final iterate (K, d) (None where the recorder stopped the run)."""
        for t in range(steps + 1):
            M = self.W @ self.Z.T
            q = self.quantities(M, self.loss.grad(M))
            grad = q.pop("_grad")
            # w_t is recorded while it is finite (L(w_t) itself may overflow to +inf, ln L stays
            # finite); the run stops (diverged at t) once w_t or ∇L(w_t) is not finite or L(w_t) is NaN (a user
            # loss outside its domain: log(1 − z) at z > 1)
            state_ok = torch.isfinite(M).all(dim=1)
            ok = state_ok & torch.isfinite(grad).all(dim=1) & ~torch.isnan(q["loss"])
            shown = recorder.observe(t, q, ok, state_ok)
            if recorder.wants_sharpness(t):
                h = self.loss.hess(M) / self.n
                recorder.record_sharpness_at(t, batch_sharpness_torch(h, self.Z), shown)
            if recorder.finished:
                return None
            if t < steps:
                go = torch.as_tensor(recorder.alive, device=self.W.device)
                self.W = self.W - torch.where(go[:, None], self.eta[:, None] * grad, torch.zeros_like(grad))
            bar.update(1)
        return self.W.cpu().numpy()


_PROVENANCE: dict = {}


def _provenance(device_type: str) -> dict:
    """:func:`eoscheck.provenance.provenance`, whose package versions and machine are read once per
    process (reading the installed metadata takes ~40 ms, more than a small run); the time and
    torch's current thread count are fresh."""
    prov = _plain_copy(_read_provenance(device_type))
    prov["time_utc"] = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    prov["machine"]["torch_threads"] = torch.get_num_threads()
    return prov


def _read_provenance(device_type: str) -> dict:
    """The process's provenance record for ``device_type`` (read on first use, then kept; not a copy)."""
    if device_type not in _PROVENANCE:
        _PROVENANCE[device_type] = provenance(device_type)
    return _PROVENANCE[device_type]


def _plain_copy(obj):
    """A copy of nested dicts and lists (the provenance: JSON-like); ~10× faster than deepcopy."""
    if isinstance(obj, dict):
        return {k: _plain_copy(v) for k, v in obj.items()}
    if isinstance(obj, list):
        return [_plain_copy(v) for v in obj]
    return obj


class _NoBar:
    def __enter__(self):
        return self

    def __exit__(self, *exc):
        return False

    def update(self, k):
        pass
