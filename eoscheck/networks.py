"""Networks trained by full-batch GD: the two-layer NTK network of Theorem 6 (here) and the
slides' 3-layer net (:mod:`eoscheck.mlp`, re-exported as ``run_mlp3``).

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
the max-margin γ̂ of the NTK features yᵢ∇f(xᵢ; w₀) ∈ ℝ^{md} — an *empirical
stand-in* for Assumption 4's infinite-width margin γ (Lemma 21 gives
γ̂ ≥ 9γ/10 w.h.p. when m ≥ 50 ln(n/δ)/γ²) — and, per stepsize, Theorem 6's
lazy radius R and width condition m ≥ ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶
evaluated at γ = γ̂.
"""

from __future__ import annotations

import math
import time
from typing import Any, Sequence

import numpy as np
import torch

from ._errors import EoscheckError
from .datasets import Dataset, max_margin
from .gd import INCREASE_RTOL, check_etas, record_grid, resolve_device
from .losses import Loss, get_loss
from .provenance import array_hash, config_hash, provenance
from .sharpness import gram_sharpness
from .trajectory import RECORDED, Trajectory

#: Bytes of working memory one batch of stepsizes may use (chunks of K run one after another).
MEMORY_BUDGET = {"cpu": 1 << 30, "cuda": 8 << 30}


def __getattr__(name: str):  # PEP 562: lazy re-export of the 3-layer experiment
    if name in ("run_mlp3", "mlp3_data"):
        from . import mlp

        return getattr(mlp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


# ---------------------------------------------------------------------------
# Per-step recording shared by the network engines
# ---------------------------------------------------------------------------


class Recorder:
    """Per-step records and exact trackers for K runs, with the linear engine's semantics.

    ``observe(t, q, ok)`` takes the (K,) quantities of step t (keys of
    :data:`RECORDED` except the averages; missing ones stay NaN) and a (K,)
    mask of rows whose state is finite; a row is *diverged* from the first
    step it is not, and its later records are NaN.
    """

    def __init__(self, eta: torch.Tensor, rec: np.ndarray, sharp_steps: np.ndarray):
        K = eta.shape[0]
        dev, dt = eta.device, eta.dtype
        self.eta = eta
        self.rec_pos = {int(t): j for j, t in enumerate(rec)}
        self.sharp_pos = {int(t): j for j, t in enumerate(sharp_steps)}
        self.out = {k: torch.full((K, len(rec)), math.nan, dtype=dt, device=dev) for k in RECORDED}
        self.sharp = torch.full((K, len(sharp_steps)), math.nan, dtype=dt, device=dev)
        self.cum_L = torch.zeros(K, dtype=dt, device=dev)
        self.cum_G = torch.zeros(K, dtype=dt, device=dev)
        self.prev = torch.full((K,), math.inf, dtype=dt, device=dev)
        minus1 = torch.full((K,), -1, dtype=torch.int64, device=dev)
        self.last_inc, self.last_inc_strict = minus1.clone(), minus1.clone()
        self.below1, self.below2, self.diverged = minus1.clone(), minus1.clone(), minus1.clone()
        self.max_log = torch.full((K,), -math.inf, dtype=dt, device=dev)
        self.argmax = torch.zeros(K, dtype=torch.int64, device=dev)
        self.alive = torch.ones(K, dtype=torch.bool, device=dev)
        self.log_thr1 = -torch.log(eta)
        self.log_thr2 = math.log(2) - torch.log(eta)

    def observe(self, t: int, q: dict[str, torch.Tensor], ok: torch.Tensor) -> torch.Tensor:
        """Record step t; returns the (K,) mask of rows still alive (to be updated)."""
        newly = self.alive & ~ok
        if bool(newly.any()):
            self.diverged = torch.where(newly, torch.full_like(self.diverged, t), self.diverged)
            self.alive = self.alive & ok
        alive = self.alive
        j = self.rec_pos.get(t)
        if j is not None:
            nan = torch.full_like(self.cum_L, math.nan)
            q = dict(q, avg_loss=self.cum_L / t if t else nan, avg_G=self.cum_G / t if t else nan)
            for k, v in q.items():
                if k in self.out:
                    self.out[k][:, j] = torch.where(alive, v, nan)
        log_L = q["log_loss"]
        tt = torch.full_like(self.last_inc, t)
        self.last_inc = torch.where(alive & (log_L > self.prev + math.log1p(INCREASE_RTOL)), tt, self.last_inc)
        self.last_inc_strict = torch.where(alive & (log_L > self.prev), tt, self.last_inc_strict)
        self.below1 = torch.where(alive & (self.below1 < 0) & (log_L <= self.log_thr1), tt, self.below1)
        self.below2 = torch.where(alive & (self.below2 < 0) & (log_L <= self.log_thr2), tt, self.below2)
        up = alive & (log_L > self.max_log)
        self.max_log = torch.where(up, log_L, self.max_log)
        self.argmax = torch.where(up, tt, self.argmax)
        self.prev = torch.where(alive, log_L, self.prev)
        self.cum_L = self.cum_L + torch.where(alive, q["loss"], torch.zeros_like(self.cum_L))
        self.cum_G = self.cum_G + torch.where(alive, q["G"], torch.zeros_like(self.cum_G))
        return alive

    def wants_sharpness(self, t: int) -> bool:
        return t in self.sharp_pos

    def record_sharpness(self, t: int, values: torch.Tensor) -> None:
        self.sharp[:, self.sharp_pos[t]] = torch.where(self.alive, values, torch.full_like(values, math.nan))

    def results(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        records = {k: v.cpu().numpy() for k, v in self.out.items()}
        stats = {
            "diverged_at": self.diverged.cpu().numpy(),
            "last_increase": self.last_inc.cpu().numpy(),
            "last_increase_strict": self.last_inc_strict.cpu().numpy(),
            "first_below_1_over_eta": self.below1.cpu().numpy(),
            "first_below_2_over_eta": self.below2.cpu().numpy(),
            "max_loss": torch.exp(self.max_log).cpu().numpy(),
            "argmax_loss": self.argmax.cpu().numpy(),
        }
        return records, stats, self.sharp.cpu().numpy()


def sharpness_grid(steps: int, every: int | None) -> np.ndarray:
    """Checkpoints 0, k, 2k, …, T for sharpness (none when ``every`` is falsy)."""
    if not every:
        return np.zeros(0, dtype=np.int64)
    if int(every) != every or every < 1:
        raise EoscheckError(f"sharpness_every must be a positive integer, got {every}")
    return np.unique(np.concatenate([np.arange(0, steps + 1, int(every)), [steps]])).astype(np.int64)


def check_steps(steps: int) -> int:
    if int(steps) != steps or steps < 0:
        raise EoscheckError(f"steps must be a non-negative integer, got {steps}")
    return int(steps)


class _Progress:
    def __init__(self, total: int, enabled: bool, desc: str = ""):
        self.bar = None
        if enabled:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, unit="step", mininterval=0.5, leave=False, desc=desc)

    def update(self, k: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(k)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()


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
    """Max-margin (γ̂, gap) of the NTK features yᵢ∇f(xᵢ; w₀) — an empirical stand-in for
    Assumption 4's γ.  Uses the features when m·d ≤ n, else an n×r factor of their Gram
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


# --- Theorem 6 quantities ------------------------------------------------------


def rho(loss: Loss, lam: float) -> float:
    """ρ(λ) = min_z λℓ(z) + z² (Assumption 3A), numerically: the root z* ≥ 0 of 2z + λℓ′(z) = 0
    (brentq; the left side increases); λℓ(z*) + z*² is ≥ the true minimum, so it is always a valid
    (upper) value, and exact to rounding since z* is stationary.  Defined here for any λ > 0."""
    from scipy.optimize import brentq

    def fn(zv: float) -> float:
        return 2 * zv + lam * float(loss.grad(torch.tensor(zv, dtype=torch.float64)))

    hi = 1.0
    while fn(hi) < 0:
        hi *= 2
        if hi > 1e300:
            raise EoscheckError(f"rho({lam:g}) for {loss.name}: no minimizer found")
    zs = 0.0 if fn(0.0) >= 0 else brentq(fn, 0.0, hi, xtol=1e-15, rtol=1e-15, maxiter=500)
    return lam * float(loss.value(torch.tensor(zs, dtype=torch.float64))) + zs * zs


def _paper_constant(loss: Loss, name: str) -> float | None:
    v = loss.paper_constants.get(name)
    return None if v is None else float(v)


def thm6_radius(loss: Loss, gamma: float, eta: float, t: float, n: int, C_a: float, delta: float) -> float:
    """R_t = 6(√ρ(γ²ηt) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ (Lemma 28; R = R_T in Theorem 6)."""
    C_g = _paper_constant(loss, "C_g")
    if C_g is None or not gamma > 0:
        return math.nan
    return 6 * (math.sqrt(rho(loss, gamma**2 * eta * t)) + C_a + math.sqrt(2 * math.log(2 * n / delta))
                + eta * C_g) / gamma


def thm6_width(R: float, gamma: float, n: int, delta: float) -> float:
    """The width Theorem 6 asks for: ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶ (inf when γ ≤ 0 or it overflows)."""
    if not gamma > 0 or not math.isfinite(R):
        return math.inf
    log_w = 6 * (math.log(30 * R ** (1 / 3) + 10 * max(math.log(n / delta), 0.0) ** 0.25) - math.log(gamma))
    return math.exp(log_w) if log_w < 709 else math.inf


def thm6_conditions(loss: Loss, gamma: float, etas, steps: int, n: int, width: int, C_a: float,
                    delta: float) -> list[dict[str, Any]]:
    """Per stepsize: R, the width needed, and whether ``width`` meets it."""
    out = []
    for eta in np.atleast_1d(etas):
        R = thm6_radius(loss, gamma, float(eta), max(steps, 1), n, C_a, delta)
        need = thm6_width(R, gamma, n, delta)
        log10 = (6 * math.log10((30 * R ** (1 / 3) + 10 * max(math.log(n / delta), 0.0) ** 0.25) / gamma)
                 if gamma > 0 and math.isfinite(R) else math.inf)
        out.append({"eta": float(eta), "R": R, "width_required": need, "log10_width_required": log10,
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
) -> Trajectory:
    """Full-batch GD on the two-layer network of Theorem 6 for every stepsize in ``etas``.

    All stepsizes start from the same seeded w₀ ~ N(0, I_{md}) and signs a, and
    run as one batched (K, m, d) iterate (in chunks of K when that exceeds
    :data:`MEMORY_BUDGET`; rows are independent, so chunking changes nothing).
    Records (see :data:`eoscheck.trajectory.RECORDED`): ``w_norm`` is ‖w_t − w₀‖,
    ``norm_margin`` is minᵢ yᵢf(xᵢ; w_t)/‖w_t‖ (f is 1-homogeneous in w), ``w_proj`` is NaN;
    ``sharpness`` is λ_max(∇²L) in closed form (module docstring).
    ``config["ntk"]`` holds C_a, maxᵢ|f(xᵢ; w₀)|, γ̂ and Theorem 6's R and width per η.
    """
    loss = get_loss(loss)
    eta = check_etas(etas)
    steps = check_steps(steps)
    if int(width) != width or width < 1:
        raise EoscheckError(f"width must be a positive integer, got {width}")
    if not (0 < delta < 1):
        raise EoscheckError(f"delta must lie in (0, 1), got {delta}")
    width = int(width)
    dev = resolve_device(device)
    rec = record_grid(steps, grid, grid_points)
    sharp_steps = sharpness_grid(steps, sharpness_every)
    a = output_signs(width, signs, seed)
    W0 = init_weights(width, data.d, seed)
    config: dict[str, Any] = {
        "model": "ntk", "data": data.name, "data_hash": array_hash(data.X, data.y), "n": data.n, "d": data.d,
        "loss": loss.name, "loss_expr": str(loss.expr), "eta": eta.tolist(), "steps": steps, "width": width,
        "seed": int(seed), "signs": signs if isinstance(signs, str) else "given", "delta": delta,
        "grid": grid, "grid_points": len(rec), "sharpness_every": sharpness_every,
        "dtype": str(dtype).replace("torch.", ""), "device": dev.type,
    }
    config["config_hash"] = config_hash(config)
    t0 = time.perf_counter()
    X = torch.tensor(data.X, dtype=dtype, device=dev)
    y = torch.tensor(data.y, dtype=dtype, device=dev)
    at = torch.as_tensor(a, dtype=dtype, device=dev)
    W0t = torch.as_tensor(W0, dtype=dtype, device=dev)
    f0, _ = ntk_forward(X, W0t, at)
    per_row = 8 * data.n * width * 4 + 8 * width * data.d * 4
    chunk = max(1, int(MEMORY_BUDGET.get(dev.type, 1 << 30) // per_row))
    parts = []
    for lo in range(0, len(eta), chunk):
        parts.append(_run_ntk_chunk(X, y, at, W0t, loss, eta[lo:lo + chunk], steps, rec, sharp_steps, progress))
    records = {k: np.concatenate([p[0][k] for p in parts]) for k in parts[0][0]}
    stats = {k: np.concatenate([p[1][k] for p in parts]) for k in parts[0][1]}
    sharp = np.concatenate([p[2] for p in parts])
    wall = time.perf_counter() - t0
    C_a = abs(float(a.sum())) / math.sqrt(width)
    gamma_hat, gap = ntk_margin(data, W0, a)
    config["ntk"] = {
        "C_a": C_a,
        "sum_a": float(a.sum()),
        "max_abs_f0": float(f0.abs().max()),
        "lemma22_bound": C_a + math.sqrt(2 * math.log(2 * data.n / delta)),
        "max_norm_x": data.max_norm,
        "ntk_margin": gamma_hat,
        "ntk_margin_gap": gap,
        "ntk_margin_note": "max-margin of the NTK features y_i grad f(x_i; w_0) in R^{md}: an empirical "
                           "stand-in for Assumption 4's infinite-width gamma (Lemma 21: >= 9 gamma/10 w.h.p.)",
        "C_g": _paper_constant(loss, "C_g"),
        "thm6": thm6_conditions(loss, gamma_hat, eta, steps, data.n, width, C_a, delta),
    }
    prov = provenance(dev.type, seed=int(seed))
    prov["wall_time_s"] = wall
    return Trajectory(eta=eta, step=rec, records=records, stats=stats, sharpness_step=sharp_steps,
                      sharpness=sharp, config=config, provenance=prov)


def _run_ntk_chunk(X, y, a, W0, loss, eta_np, steps, rec, sharp_steps, progress):
    dev, dt = X.device, X.dtype
    eta = torch.as_tensor(eta_np, dtype=dt, device=dev)
    K = eta.shape[0]
    W = W0.expand(K, -1, -1).clone()
    R = Recorder(eta, rec, sharp_steps)
    log_n = math.log(X.shape[0])
    bar = _Progress(steps + 1, progress, "ntk")
    for t in range(steps + 1):
        grad, M, dl, act = ntk_gradient(X, y, W, a, loss)
        L = loss.value(M).mean(dim=-1)
        log_L = torch.log(L)
        bad = ~torch.isfinite(log_L)
        if bool(bad.any()):
            log_L = torch.where(bad, torch.logsumexp(loss.log_value(M), dim=-1) - log_n, log_L)
        gflat = grad.reshape(K, -1)
        w_norm = W.reshape(K, -1).norm(dim=1)
        min_m = M.min(dim=-1).values
        q = {
            "loss": L, "log_loss": log_L, "log_F": torch.logsumexp(-M, dim=-1) - log_n,
            "G": dl.abs().mean(dim=-1), "grad_norm": gflat.norm(dim=1),
            "w_norm": (W - W0).reshape(K, -1).norm(dim=1), "min_margin": min_m,
            "norm_margin": min_m / w_norm, "train_error": (M <= 0).to(dt).mean(dim=-1),
        }
        ok = torch.isfinite(M).all(dim=-1) & torch.isfinite(gflat).all(dim=1) & ~torch.isnan(log_L)
        alive = R.observe(t, q, ok)
        if R.wants_sharpness(t):
            h = loss.hess(torch.where(ok[:, None], M, torch.zeros_like(M)))
            R.record_sharpness(t, gram_sharpness(ntk_gram(X, act), h))
        if t < steps:
            W = W - torch.where(alive[:, None, None], eta[:, None, None] * grad, torch.zeros_like(grad))
        bar.update(1)
    bar.close()
    return R.results()
