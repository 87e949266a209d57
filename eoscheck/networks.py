"""Networks trained by full-batch GD: the two-layer NTK network of Theorem 6 (here) and the
slides' 3-layer net (:mod:`eoscheck.mlp`).

Two-layer network, eq. (4) of Wu, Bartlett, Telgarsky, Yu (COLT 2024):

    f(x; w) = (1/√m) Σₛ aₛ φ(xᵀw⁽ˢ⁾),   φ(u) = max{u, 0},  φ′(0) := 0,
    L(w) = (1/n) Σᵢ ℓ(yᵢ f(xᵢ; w)),

with fixed signs aₛ ∈ {±1}, |Σₛ aₛ| ≤ C_a√m (eq. (5)), w₀ ~ N(0, I_{md}), and
only the first layer W = [w⁽¹⁾ … w⁽ᵐ⁾]ᵀ ∈ ℝ^{m×d} trained.  The gradient is in
closed form,

    ∇_{w⁽ˢ⁾} f(x; w) = (aₛ/√m) 1[xᵀw⁽ˢ⁾ > 0] x,    so ‖∇f(x; w)‖ ≤ ‖x‖     (eq. (9)),
    ∇_{w⁽ˢ⁾} L(w) = (aₛ/(n√m)) Σᵢ ℓ′(mᵢ) yᵢ 1[xᵢᵀw⁽ˢ⁾ > 0] xᵢ,

and K stepsizes run as one (K, m, d) iterate.  Since φ″ = 0 almost
everywhere, ∇²L = (1/n) Σᵢ ℓ″(mᵢ) ∇fᵢ∇fᵢᵀ, whose top eigenvalue is read off the
n×n form (1/n) D^{1/2} 𝒦 D^{1/2} with the empirical NTK 𝒦ᵢⱼ = ⟨∇fᵢ, ∇fⱼ⟩.

Theory side (recorded in ``config["ntk"]``): C_a, maxᵢ|f(xᵢ; w₀)| (Lemma 22),
Assumption 4's margin γ as certified by :func:`assumption4_margin` (γ*/2 on linearly
separable data), the max-margin γ̂ of the NTK features yᵢ∇f(xᵢ; w₀) ∈ ℝ^{md} for
comparison (Lemma 21 gives γ̂ ≥ 9γ/10 w.h.p. when m ≥ 50 ln(n/δ)/γ²; γ̂ is no lower
bound of γ: its constraint on χ is L², Assumption 4's pointwise), and, per stepsize,
Theorem 6's lazy radius R and width condition m ≥ ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶
(``thm6.R``, ``thm6.width`` of :mod:`eoscheck.bounds.theorem6`, the one encoding) at that γ.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Any, Callable, Sequence

import numpy as np
import torch

from ._errors import DivergenceError, EoscheckError
from .datasets import Dataset
from .gd import FirstSteps, check_etas, record_grid, resolve_device, row_norms
from .gdinputs import grid_config, log_domain_below, require_memory
from .losses import Loss, get_loss
from .maxmargin import max_margin
from .netrecord import Recorder, check_steps, sharpness_grid
from .recorder import FirstStepRecorder, wanted_mask
from .progress import bar as progress_bar
from .resources import blas_single_thread, ntk_chunk
from .provenance import array_hash, config_hash, provenance
from .sharpness import gram_sharpness
from .trajectory import RECORDED, Trajectory

#: Bytes of working memory one batch of stepsizes may use (chunks of K run one after another).


# ---------------------------------------------------------------------------
# The two-layer network of Theorem 6
# ---------------------------------------------------------------------------


def output_signs(width: int, signs: str | Sequence[float] = "balanced", seed: int = 0) -> np.ndarray:
    """Fixed second layer a ∈ {±1}^m: ``"balanced"`` (+1,−1,+1,…: |Σa| ≤ 1), ``"random"``
    (Rademacher, seeded), or an explicit ±1 sequence."""
    if isinstance(signs, str):
        if signs == "balanced":
            return np.where(np.arange(width) % 2 == 0, 1.0, -1.0)
        if signs == "random":
            rng = np.random.default_rng([int(seed), 0x5167])
            return np.where(rng.random(width) < 0.5, 1.0, -1.0)
        raise EoscheckError(f"unknown signs {signs!r}; use 'balanced', 'random' or a ±1 sequence")
    a = np.asarray(signs, dtype=np.float64).ravel()
    if a.shape != (width,) or not np.all(np.isin(a, (-1.0, 1.0))):
        raise EoscheckError(f"signs must be {width} values in {{-1, +1}}")
    return a


def init_weights(width: int, d: int, seed: int = 0) -> np.ndarray:
    """w₀ ~ N(0, I_{md}) as an (m, d) array, from a seeded numpy generator (device independent)."""
    return np.random.default_rng(int(seed)).standard_normal((width, d))


def ntk_forward(X: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """f(xᵢ; w) for W (…, m, d): returns (f (…, n), active mask 1[xᵢᵀw⁽ˢ⁾ > 0] (…, n, m))."""
    P = torch.matmul(X, W.transpose(-1, -2))
    f = torch.matmul(P.clamp(min=0), a) / math.sqrt(W.shape[-2])
    return f, P > 0


def ntk_gradient(X: torch.Tensor, y: torch.Tensor, W: torch.Tensor, a: torch.Tensor, loss: Loss):
    """(∇L (…, m, d), margins (…, n), ℓ′(margins), active mask) in closed form (module docstring)."""
    f, act = ntk_forward(X, W, a)
    M = y * f
    dl = loss.grad(M)
    n, m = X.shape[0], W.shape[-2]
    c = dl * y * (1.0 / n)  # (…, n)
    S = act * c[..., :, None]  # (…, n, m): ℓ′(mᵢ)yᵢ1ᵢₛ/n
    grad = torch.matmul(S.transpose(-1, -2), X) * (a[:, None] / math.sqrt(m))
    return grad, M, dl, act


def ntk_gram(X: torch.Tensor, act: torch.Tensor) -> torch.Tensor:
    """Empirical NTK 𝒦ᵢⱼ = ⟨∇f(xᵢ), ∇f(xⱼ)⟩ = (xᵢᵀxⱼ)·(1/m) Σₛ 1ᵢₛ1ⱼₛ (…, n, n)."""
    A = act.to(X.dtype)
    return (X @ X.T) * torch.matmul(A, A.transpose(-1, -2)) / act.shape[-1]


def ntk_features(X: torch.Tensor, W: torch.Tensor, a: torch.Tensor) -> torch.Tensor:
    """The NTK feature matrix [∇f(xᵢ; w)]ᵢ (n, m·d) (for small m·d; tests and feature margins)."""
    _, act = ntk_forward(X, W, a)
    m = W.shape[-2]
    return (act.to(X.dtype) * (a / math.sqrt(m)))[:, :, None].mul(X[:, None, :]).reshape(X.shape[0], -1)


def ntk_margin(data: Dataset, W0: np.ndarray, a: np.ndarray):
    """Max-margin (γ̂, gap) of the NTK features yᵢ∇f(xᵢ; w₀), for comparison with Assumption 4's γ (no lower
    bound of it: :func:`assumption4_margin`).  Uses the features when m·d ≤ n, else an n×r factor of their Gram
    matrix (the margin depends on inner products only)."""
    X = torch.tensor(data.X, dtype=torch.float64)
    W = torch.tensor(W0, dtype=torch.float64)
    at = torch.tensor(a, dtype=torch.float64)
    y = torch.tensor(data.y, dtype=torch.float64)
    if W.numel() <= data.n:
        Zf = (y[:, None] * ntk_features(X, W, at)).numpy()
    else:
        _, act = ntk_forward(X, W, at)
        Kz = y[:, None] * y[None, :] * ntk_gram(X, act)
        lam, U = torch.linalg.eigh(0.5 * (Kz + Kz.T))
        keep = lam > lam.max() * 1e-14
        Zf = (U[:, keep] * lam[keep].sqrt()).numpy()
    mm = max_margin(Zf)
    return mm.gamma, mm.gap


def assumption4_margin(gamma_star: float) -> float:
    """A certified margin γ of Assumption 4B for this ReLU network: γ*/2, γ* the certified linear max margin.

    χ ≡ w* (the certificate's direction, ‖w*‖ ≤ 1 at every u, as 4B asks) gives
    E_u⟨yᵢφ′(xᵢᵀu)xᵢ, w*⟩ = P(xᵢᵀu > 0)·yᵢxᵢᵀw* = yᵢxᵢᵀw*/2 ≥ γ*/2 (xᵢ ≠ 0, u ~ N(0, I)).  It is at most
    the best γ, which is ≤ minᵢ‖xᵢ‖/2 (all of χ's weight on one point).  ≤ 0 where the data are not certified
    linearly separable (no certified γ then).  ``gamma_star``: the certified γ* (its lower end)."""
    return 0.5 * float(gamma_star)


# --- Theorem 6 quantities (evaluated from eoscheck.bounds.theorem6, the only encoding) ---------


def _paper_constant(loss: Loss, name: str) -> float | None:
    v = loss.paper_constants.get(name)
    return None if v is None else float(v)


def thm6_conditions(loss: Loss, gamma: float, etas, steps: int, n: int, width: int, C_a: float,
                    delta: float) -> list[dict[str, Any]]:
    """Per stepsize: Theorem 6's radius R (``thm6.R``), the width it asks for (``thm6.width``),
    and whether ``width`` meets it.  NaN/inf when γ ≤ 0 or the loss has no paper constant C_g;
    evaluated at any γ²ηT > 0 (outside the bounds' domain γ²ηT ≥ 1 the numbers are
    indicative: ρ is then taken at λ < 1)."""
    from .bounds import theorem6  # lazily: sympy

    ok = gamma > 0 and _paper_constant(loss, "C_g") is not None
    vals = dict(gamma=gamma, T=float(max(steps, 1)), n=float(n), delta=delta, C_a=C_a)
    out = []
    for eta in np.atleast_1d(np.asarray(etas, dtype=np.float64)):
        R, need = math.nan, math.inf
        if ok:
            R = theorem6.R.numpy(loss, eta=float(eta), **vals)
            try:
                with np.errstate(over="ignore"):
                    need = theorem6.WIDTH.numpy(loss, eta=float(eta), **vals)
            except DivergenceError:  # the width overflows float64
                need = math.inf
        out.append({"eta": float(eta), "R": R, "width_required": need,
                    "log10_width_required": math.log10(need) if math.isfinite(need) else math.inf,
                    "width_condition": bool(width >= need)})
    return out


# --- the engine -------------------------------------------------------------------


def run_ntk(
    data: Dataset,
    loss: Loss | str = "logistic",
    etas: float | Sequence[float] = (1.0,),
    steps: int = 1000,
    *,
    width: int = 1024,
    seed: int = 0,
    signs: str | Sequence[float] = "balanced",
    delta: float = 0.05,
    device: str | torch.device | None = "cpu",
    grid: str = "all",
    grid_points: int | None = None,
    sharpness_every: int | None = None,
    progress: bool = False,
    dtype: torch.dtype = torch.float64,
    backend: str = "auto",
) -> Trajectory:
    """Full-batch GD on the two-layer network of Theorem 6 for every stepsize in ``etas``.

    All stepsizes start from the same seeded w₀ ~ N(0, I_{md}) and signs a, and
    run as one batched (K, m, d) iterate (in chunks of K when that exceeds
    :data:`eoscheck.resources.NTK_BUDGET`; rows are independent, so chunking changes nothing).
    Records (see :data:`eoscheck.trajectory.RECORDED`): ``w_norm`` is ‖w_t − w₀‖,
    ``norm_margin`` is minᵢ yᵢf(xᵢ; w_t)/‖w_t‖ (f is 1-homogeneous in w), ``w_proj`` is NaN;
    ``sharpness`` is λ_max(∇²L) in closed form (module docstring), every ``sharpness_every`` steps (None or 0:
    never).
    ``config["ntk"]`` holds C_a, maxᵢ|f(xᵢ; w₀)|, γ (:func:`assumption4_margin`), γ̂ and Theorem 6's R and width
    per η (at γ).  ``backend``: ``"numba"`` (the steps compiled, :mod:`eoscheck.ntkfused`: CPU, float64, a built-in
    loss), ``"torch"`` (any device, dtype and loss; the reference) or ``"auto"`` (numba where it runs, else torch);
    the provenance's ``engine`` names the one that ran.
    """
    loss, eta, steps, width, dev = _ntk_inputs(loss, etas, steps, width, delta, device)
    engine = _ntk_engine(backend, loss, dev, dtype)
    require_memory(len(eta), steps, grid, grid_points, data.n, data.d, sharpness_every, model="ntk", width=width)
    rec = record_grid(steps, grid, grid_points)
    sharp_steps = sharpness_grid(steps, sharpness_every)
    a = output_signs(width, signs, seed)
    W0 = init_weights(width, data.d, seed)
    config: dict[str, Any] = {
        "model": "ntk", "data": data.name, "data_hash": array_hash(data.X, data.y), "n": data.n, "d": data.d,
        "loss": loss.name, "loss_expr": loss.expr_text, "eta": eta.tolist(), "steps": steps, "width": width,
        "seed": int(seed), "signs": signs if isinstance(signs, str) else "given", "delta": delta,
        **grid_config(grid, grid_points, rec), "sharpness_every": sharpness_every,
        "dtype": str(dtype).replace("torch.", ""), "device": dev.type,
    }
    config["config_hash"] = config_hash(config)
    t0 = time.perf_counter()
    X, y, at, W0t = _ntk_tensors(data, a, W0, dev, dtype)
    f0, _ = ntk_forward(X, W0t, at)
    parts = []
    for lo, hi in _stepsize_chunks(data, width, dev, len(eta)):
        eta_t = torch.as_tensor(eta[lo:hi], dtype=dtype, device=dev)
        R = _ntk_steps(X, y, at, W0t, loss, eta_t, steps, rec, sharp_steps, progress=progress, engine=engine)
        parts.append(R.results())
    records = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    stats = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    sharp = np.concatenate([p[2] for p in parts])
    wall = time.perf_counter() - t0
    C_a = abs(float(a.sum())) / math.sqrt(width)
    gamma_hat, gap = ntk_margin(data, W0, a)
    gamma = assumption4_margin(data.gamma)
    config["ntk"] = {
        "C_a": C_a,
        "sum_a": float(a.sum()),
        "max_abs_f0": float(f0.abs().max()),
        "lemma22_bound": C_a + math.sqrt(2 * math.log(2 * data.n / delta)),
        "max_norm_x": data.max_norm,
        "gamma": gamma,
        "gamma_note": "Assumption 4B's margin, certified: gamma*/2 (chi = w*, the linear max-margin direction); "
                      "<= 0: the data are not certified linearly separable",
        "ntk_margin": gamma_hat,
        "ntk_margin_gap": gap,
        "ntk_margin_note": "max-margin of the NTK features y_i grad f(x_i; w_0) in R^{md}, for comparison (Lemma 21: "
                           ">= 9 gamma/10 w.h.p. when m >= 50 ln(n/delta)/gamma^2); not a lower bound of gamma",
        "C_g": _paper_constant(loss, "C_g"),
        "thm6": thm6_conditions(loss, gamma, eta, steps, data.n, width, C_a, delta),
    }
    prov = provenance(dev.type, seed=int(seed))
    prov["wall_time_s"] = wall
    prov["engine"] = {"model": "ntk", "backend": engine[0]}
    return Trajectory(eta=eta, step=rec, records=records, stats=stats, sharpness_step=sharp_steps,
                      sharpness=sharp, config=config, provenance=prov)


def first_steps_ntk(
    data: Dataset,
    loss: Loss | str,
    etas: float | Sequence[float],
    steps: int,
    condition: Callable[[np.ndarray, dict[str, np.ndarray], np.ndarray], np.ndarray],
    *,
    wanted: np.ndarray | None = None,
    width: int = 1024,
    seed: int = 0,
    signs: str | Sequence[float] = "balanced",
    delta: float = 0.05,
    device: str | torch.device | None = "cpu",
    dtype: torch.dtype = torch.float64,
    backend: str = "auto",
) -> FirstSteps:
    """:func:`eoscheck.gd.first_steps` for the network of :func:`run_ntk`: its run (the same arguments, the same
    bits), every step's records shown to ``condition`` a chunk of :data:`Recorder.CHUNK` steps at a time and dropped,
    stopped once every run of ``wanted`` has met it or diverged.  ``condition`` and the answer are
    :func:`~eoscheck.gd.first_steps`', and do not depend on whether the stepsizes run in one batch or several
    (:func:`run_ntk` batches them when their state exceeds :data:`eoscheck.resources.NTK_BUDGET`): the batches with
    a wanted run run first, each stopped once its wanted runs are decided; every batch that stopped short of the step
    one batch would have stopped at is then run to it."""
    loss, eta, steps, width, dev = _ntk_inputs(loss, etas, steps, width, delta, device)
    engine = _ntk_engine(backend, loss, dev, dtype)
    want = wanted_mask(wanted, len(eta))
    X, y, at, W0t = _ntk_tensors(data, output_signs(width, signs, seed), init_weights(width, data.d, seed), dev, dtype)
    none = np.zeros(0, dtype=np.int64)
    K = len(eta)

    def stream(lo: int, hi: int, upto: int, wanted_rows: np.ndarray, stop: bool = True) -> tuple:
        eta_t = torch.as_tensor(eta[lo:hi], dtype=dtype, device=dev)
        inner = FirstStepRecorder(eta[lo:hi], RECORDED, _rows_of(condition, K, lo, hi), wanted_rows, stop)
        _ntk_steps(X, y, at, W0t, loss, eta_t, upto, none, none, inner, engine=engine).results()
        return inner.answer() + (inner.finished,)

    batches = _stepsize_chunks(data, width, dev, K)
    first, diverged = np.full(K, -1, dtype=np.int64), np.full(K, -1, dtype=np.int64)
    covered = {}            # batch → the last step its rows' answer covers
    ends, done = [], True   # the wanted runs' deciding steps; whether every batch with a wanted run stopped
    for lo, hi in batches:  # first the batches with a wanted run, each stopped once its wanted runs are decided
        if want[lo:hi].any():
            first[lo:hi], covered[lo], diverged[lo:hi], fin = stream(lo, hi, steps, want[lo:hi])
            done &= fin
            ends.append(covered[lo])
    upto = (max(ends) if ends else -1) if done else steps      # what one batch of all K would have answered
    # then each batch that stopped short of there with a run not yet diverged (whose first or divergence step may come
    # later) is run to it, from step 0 (the same bits)
    for lo, hi in batches:
        if covered.get(lo, -1) < upto and (diverged[lo:hi] < 0).any():
            first[lo:hi], _, diverged[lo:hi], _ = stream(lo, hi, upto, want[lo:hi], stop=False)
    return FirstSteps(first=np.where(first <= upto, first, -1), steps_run=upto,
                      diverged_at=np.where(diverged <= upto, diverged, -1),
                      engine={"model": "ntk", "backend": engine[0], "device": dev.type,
                              "dtype": str(dtype).replace("torch.", "")})


def _rows_of(condition, K: int, lo: int, hi: int):
    """``condition`` on the K stepsizes' records, for a batch of rows lo…hi−1 (the others NaN: not shown)."""
    if (lo, hi) == (0, K):
        return condition

    def rows(t, records, diverged):
        full = {}
        for k, v in records.items():
            full[k] = np.full((K,) + v.shape[1:], math.nan)
            full[k][lo:hi] = v
        dv = np.zeros(K, bool)
        dv[lo:hi] = diverged
        return np.asarray(condition(t, full, dv))[lo:hi]

    return rows


def _ntk_inputs(loss, etas, steps, width, delta, device) -> tuple:
    """The checked inputs of an NTK run: (loss, η (K,), T, width, device)."""
    loss = get_loss(loss)
    eta = check_etas(etas)
    steps = check_steps(steps)
    if int(width) != width or width < 1:
        raise EoscheckError(f"width must be a positive integer, got {width}")
    if not (0 < delta < 1):
        raise EoscheckError(f"delta must lie in (0, 1), got {delta}")
    return loss, eta, steps, int(width), resolve_device(device)


#: The NTK engines: the steps compiled on the CPU (:mod:`eoscheck.ntkfused`) or torch's calls (any device).
NTK_BACKENDS = ("auto", "numba", "torch")


def _ntk_engine(backend: str, loss: Loss, dev, dtype) -> tuple[str, tuple[int, float] | None]:
    """(the backend that runs, the compiled loss's (kind, parameter) for numba): numba on the CPU in float64 for a
    built-in loss (:func:`eoscheck.gdfused.fused_kind`), torch otherwise or when asked for."""
    if backend not in NTK_BACKENDS:
        raise EoscheckError(f"unknown backend {backend!r}; choose one of: {', '.join(NTK_BACKENDS)}")
    kind = None
    if backend != "torch" and dev.type == "cpu" and dtype == torch.float64:
        from .gdfused import fused_kind
        from .lossnp import kernel_for

        kind = fused_kind(kernel_for(loss))
    if backend == "numba" and kind is None:
        raise EoscheckError(f"the numba NTK engine runs built-in losses in float64 on the CPU (got {loss.name}, "
                            f"{str(dtype).replace('torch.', '')}, {dev}); use backend='torch'")
    return ("numba", kind) if kind is not None else ("torch", None)


def _ntk_tensors(data: Dataset, a: np.ndarray, W0: np.ndarray, dev, dtype) -> tuple:
    """(X, y, a, W₀) as tensors on ``dev``."""
    return (torch.tensor(data.X, dtype=dtype, device=dev), torch.tensor(data.y, dtype=dtype, device=dev),
            torch.as_tensor(a, dtype=dtype, device=dev), torch.as_tensor(W0, dtype=dtype, device=dev))


def _stepsize_chunks(data: Dataset, width: int, dev, K: int):
    """(lo, hi) of the batches of stepsizes run at once (:func:`eoscheck.resources.ntk_chunk`): the same for every
    run of a problem, so a run and its stream batch the stepsizes alike."""
    chunk = ntk_chunk(data.n, data.d, width, dev.type)
    return [(lo, min(lo + chunk, K)) for lo in range(0, K, chunk)]


def _ntk_records(loss: Loss, n: int, K: int, dt: torch.dtype):
    """The records of a chunk of S steps of K runs from the raw tensors :func:`_ntk_steps` keeps a step (the
    :class:`~eoscheck.netrecord.Recorder`'s ``derive``): margins M and ℓ′(M) (S, K, n), L (S, K), and the scaled
    norms of w, ∇L and w − w₀ side by side (S, 3K)."""
    log_n = math.log(n)
    log_below = log_domain_below(dt, n)

    def derive(raw: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
        M, dl, L, norms = raw["M"], raw["dl"], raw["loss"], raw["norms"]
        log_L = torch.log(L)
        bad = ~torch.isfinite(log_L) | (L < log_below)     # under/overflow, or a subnormal L's few digits
        if bool(bad.any()):
            log_L = torch.where(bad, torch.logsumexp(loss.log_value(M), dim=-1) - log_n, log_L)
        min_m = M.min(dim=-1).values
        return {"loss": L, "log_loss": log_L, "log_F": torch.logsumexp(-M, dim=-1) - log_n,
                "G": dl.abs().mean(dim=-1), "grad_norm": norms[:, K:2 * K], "w_norm": norms[:, 2 * K:],
                "min_margin": min_m, "norm_margin": min_m / norms[:, :K], "train_error": (M <= 0).to(dt).mean(dim=-1)}

    return derive


def _sharpness(X, act, M, ok, loss) -> torch.Tensor:
    """λ_max(∇²L) per run from the activations and margins of a step (module docstring; 0 for the margins of a run
    whose step is not finite)."""
    return gram_sharpness(ntk_gram(X, act), loss.hess(torch.where(ok[:, None], M, torch.zeros_like(M))))


@torch.inference_mode()
def _ntk_steps(X, y, a, W0, loss, eta: torch.Tensor, steps: int, rec: np.ndarray, sharp_steps: np.ndarray,
               recorder=None, progress: bool = False, engine: tuple = ("torch", None)) -> Recorder:
    """Steps 0…``steps`` of the batch ``eta`` from W0, handed to a :class:`~eoscheck.netrecord.Recorder` of ``rec``,
    ``sharp_steps`` (and ``recorder``, its inner one); stops early once it is finished.  A step computes what the
    next one needs and keeps the raw tensors of its records; the records are derived a chunk of steps at a time
    (:func:`_ntk_records`): the ~30 small torch calls a step they took were most of a step's time.  ``engine``:
    :func:`_ntk_engine`'s choice (numba: :func:`_ntk_blocks`)."""
    if engine[0] == "numba":
        return _ntk_blocks(X, y, a, W0, loss, eta, steps, rec, sharp_steps, recorder, progress, engine[1])
    dt = X.dtype
    K = eta.shape[0]
    R = Recorder(eta, rec, sharp_steps, recorder, derive=_ntk_records(loss, X.shape[0], K, dt))
    W = W0.expand(K, -1, -1).clone()
    w0 = W0.reshape(1, -1)
    bar = progress_bar(total=steps + 1, desc="ntk GD", unit="step") if progress else None
    for t in range(steps + 1):
        grad, M, dl, act = ntk_gradient(X, y, W, a, loss)
        L = loss.value(M).mean(dim=-1)
        gflat, w = grad.reshape(K, -1), W.reshape(K, -1)
        norms = row_norms(torch.cat([w, gflat, w - w0]))   # scaled: torch's norm squares first (‖·‖ > 1.3e154 read ∞)
        ok = torch.isfinite(M).all(dim=-1) & torch.isfinite(gflat).all(dim=1) & ~torch.isnan(L)   # the recorder's rule
        alive = R.observe(t, {"M": M, "dl": dl, "loss": L, "norms": norms}, ok)
        if R.finished:
            break
        if R.wants_sharpness(t):
            R.record_sharpness(t, _sharpness(X, act, M, ok, loss))
        if t < steps:
            W = W - torch.where(alive[:, None, None], eta[:, None, None] * grad, torch.zeros_like(grad))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return R


@torch.inference_mode()
def _ntk_blocks(X, y, a, W0, loss, eta: torch.Tensor, steps: int, rec: np.ndarray, sharp_steps: np.ndarray,
                recorder, progress: bool, kind: tuple[int, float]) -> Recorder:
    """:func:`_ntk_steps` on the compiled path (:class:`eoscheck.ntkfused.NTKRuns`: groups of the stepsizes on threads,
    :func:`~eoscheck.ntkfused.thread_parts`): blocks of steps that end where the torch loop reads the recorder (a
    hand-over: finished?) or records a sharpness, so the run stops at the same step; the sharpness at t from W_t,
    the block's margins and ok at t."""
    from .ntkfused import NTKRuns, thread_parts

    K = eta.shape[0]
    R = Recorder(eta, rec, sharp_steps, recorder, derive=_ntk_records(loss, X.shape[0], K, X.dtype))
    (n, d), m = X.shape, W0.shape[0]
    blk = NTKRuns(X.numpy(), y.numpy(), a.numpy(), W0.numpy(), eta.numpy(), kind, thread_parts(n, d, K, m))
    sharp = np.asarray(sharp_steps, dtype=np.int64)
    bar = progress_bar(total=steps + 1, desc="ntk GD", unit="step") if progress else None
    t = 0
    with blas_single_thread(), contextlib.closing(blk):
        while t <= steps:
            end = min(steps, t + R.room - 1)
            later = sharp[np.searchsorted(sharp, t):]
            if later.size:
                end = min(end, int(later[0]))
            M, dl, L, norms, ok, shown = blk.advance(end - t + 1)
            R.observe_block(t, {"M": torch.from_numpy(M), "dl": torch.from_numpy(dl), "loss": torch.from_numpy(L),
                                "norms": torch.from_numpy(norms)}, torch.from_numpy(ok), torch.from_numpy(shown))
            if bar is not None:
                bar.update(end - t + 1)
            if R.finished:
                break
            if R.wants_sharpness(end):
                _, act = ntk_forward(X, torch.from_numpy(blk.weights()), a)
                R.record_sharpness(end, _sharpness(X, act, torch.from_numpy(M[-1]), torch.from_numpy(ok[-1]), loss))
            t = end + 1
    if bar is not None:
        bar.close()
    return R
