"""The slides' "3-layer net + MNIST" experiment: full-batch GD on a fully-connected network with
two hidden layers, cross-entropy loss, sharpness λ_max(∇²L) tracked against 2/η.

Source: J. Wu's 2025 talk slides, slide 5 "Experiment (3-layer net, MNIST)", after Cohen et al.
(ICLR 2021); see paper.md §8.3 (the COLT paper itself has no network experiment).  The slide
shows η = 0.1 spiking before falling to ~1e-3 and η = 0.01 decreasing monotonically to ~3e-2
over 1,000 iterations; architecture and preprocessing are not stated.

Model: logits(x) = W₃ σ(W₂ σ(W₁x + b₁) + b₂) + b₃ with σ = tanh (smooth, so the Hessian is
defined everywhere; ``activation="relu"`` is available), PyTorch's default init
U(±1/√fan_in) for weights and biases, seeded; all stepsizes start from the same point and run
batched (a leading K axis on every parameter).

Loss: the mean multi-class cross-entropy, written through the logistic loss of the
*effective margin* μᵢ = −ln Σ_{j≠yᵢ} exp(z_j − z_{yᵢ}):

    CEᵢ = ln(1 + Σ_{j≠yᵢ} e^{z_j − z_{yᵢ}}) = ℓ_log(μᵢ),

so ``G`` = mean |ℓ′_log(μᵢ)| = mean (1 − p_{yᵢ}), ``log_F`` = ln mean e^{−μᵢ}, and two classes
reduce exactly to binary logistic regression on the network output.  ``loss="mse"`` trains Cohen et
al.'s square loss (1/n) Σᵢ ½‖zᵢ − e_{yᵢ}‖² instead: on the digits it shows their edge of stability
(progressive sharpening to 2/η, then hovering there) where cross-entropy does not — see
benchmarks/scan_mlp3.py for the scan and the report's configuration.
``min_margin`` is minᵢ (z_{yᵢ} − max_{j≠yᵢ} z_j), ``train_error`` the fraction with that margin
≤ 0, ``w_norm`` = ‖θ_t − θ₀‖, ``norm_margin`` and ``w_proj`` are NaN (no homogeneity).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any, Sequence

import numpy as np
import torch

from ._errors import EoscheckError
from .datasets import Dataset, read_idx
from .gd import check_etas, record_grid, resolve_device, row_norms
from .gdinputs import grid_config, log_domain_below, require_memory
from .losses import logistic
from .netrecord import Recorder, check_steps, sharpness_grid
from .progress import bar as progress_bar
from .provenance import array_hash, config_hash, provenance
from .sharpness import hvp_from_loss, lanczos
from .trajectory import Trajectory

#: Default stepsizes on the offline digits (first 1,000 images, hidden (64, 64), tanh), picked
#: as on the slide (a factor 10 apart): η = 1.0 is non-monotone with spikes to ~10–30 before
#: falling to ~1e-3 (seeds 0–7: last increase at steps 75–336, final loss 1.4e-3–4.7e-3),
#: η = 0.1 decreases monotonically to ~4e-2 (seeds 0–7).  Stepsizes 1.2 and above sometimes get
#: stuck at ~90% error (hidden (64, 64)) and 0.5 is monotone, so 1.0 is the robust "large" one.
DEFAULT_ETAS = (1.0, 0.1)

_ACTIVATIONS = {"tanh": torch.tanh, "relu": torch.relu, "elu": torch.nn.functional.elu}
LOSSES = ("cross_entropy", "mse")


def mlp3_data(data: Any = None, n: int = 1000) -> tuple[np.ndarray, np.ndarray, str, dict]:
    """Inputs and integer class labels for the 3-layer experiment.

    ``data`` is ``None`` (scikit-learn's offline digits: 1,797 real 8×8 images, 10 classes;
    the first ``n`` in file order, pixels /16 into [0, 1]); a pair of MNIST idx paths
    ``(images, labels)`` (first ``n`` images, all 10 classes, pixels /255); a binary
    :class:`Dataset` (two classes, y = +1 → class 0, as given); or arrays ``(X, labels)``.
    """
    from .gdinputs import is_whole

    if not is_whole(n, 1):     # n = −5 trained on digits[:−5], 0 and 2.5 failed inside numpy
        raise EoscheckError(f"n must be a whole number ≥ 1, got {n!r}")
    n = int(n)
    if data is None:
        from sklearn.datasets import load_digits

        dg = load_digits()
        X, lab = dg.data[:n] / 16.0, dg.target[:n]
        meta = {"source": "scikit-learn load_digits (UCI optical digits, 8x8, 10 classes)",
                "n": int(len(lab)), "scaling": "pixels/16 in [0,1]", "subset": f"first {n} in file order"}
        return X.astype(np.float64), lab.astype(np.int64), "digits10", meta
    if isinstance(data, Dataset):
        lab = np.where(data.y > 0, 0, 1)
        return np.array(data.X, dtype=np.float64), lab, data.name, {"source": data.name, "classes": 2}
    if isinstance(data, (tuple, list)) and len(data) == 2:
        a, b = data
        if isinstance(a, (str, Path)):
            imgs, raw = read_idx(a), read_idx(b)
            labs = raw.astype(np.int64).ravel()
            if imgs.shape[0] != labs.shape[0]:
                raise EoscheckError(f"{a} has {imgs.shape[0]} images but {b} has {labs.shape[0]} labels")
            if labs.size == 0:
                raise EoscheckError(f"{a}: the idx files hold no images; give MNIST-format files with data")
            if not np.all(np.isfinite(imgs[:n])):
                raise EoscheckError(f"{a}: the images hold NaN or infinite pixels; give MNIST-format pixel data")
            if not np.array_equal(raw.ravel()[:n], labs[:n]) or labs[:n].min() < 0:
                raise EoscheckError(f"{b}: labels must be non-negative integers (class indices)")
            X = imgs[:n].reshape(min(n, len(labs)), -1).astype(np.float64) / 255.0
            meta = {"source": "idx files", "images": str(a), "labels": str(b), "n": int(len(X)),
                    "scaling": "pixels/255 in [0,1]", "subset": f"first {n} in file order"}
            return X, labs[:n], "mnist10", meta
        X, lab = np.asarray(a, dtype=np.float64), np.asarray(b)
        if X.ndim != 2 or lab.shape != (X.shape[0],) or X.shape[0] == 0:
            raise EoscheckError("mlp3 data (X, labels) needs X of shape (n, d) with n ≥ 1 and n integer labels")
        if not np.all(np.isfinite(X)):
            raise EoscheckError("mlp3 data X has NaN or infinite values")
        if not np.array_equal(lab, np.round(lab)) or lab.min() < 0:
            raise EoscheckError("mlp3 labels must be non-negative integers (class indices)")
        return X, lab.astype(np.int64), "arrays", {"source": "arrays", "n": int(len(lab))}
    raise EoscheckError("mlp3 data must be None (offline digits), (images.idx, labels.idx), a Dataset, or (X, labels)")


def init_mlp(sizes: Sequence[int], seed: int = 0) -> list[np.ndarray]:
    """[W₁, b₁, W₂, b₂, W₃, b₃] with PyTorch's nn.Linear default U(±1/√fan_in), seeded numpy."""
    rng = np.random.default_rng(int(seed))
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1 / math.sqrt(fan_in)
        params.append(rng.uniform(-bound, bound, (fan_out, fan_in)))
        params.append(rng.uniform(-bound, bound, fan_out))
    return params


def mlp_logits(X: torch.Tensor, params: Sequence[torch.Tensor], act) -> torch.Tensor:
    """Logits (K, n, c) for batched params (every tensor with a leading K axis)."""
    H = X
    L = len(params) // 2
    for i in range(L):
        W, b = params[2 * i], params[2 * i + 1]
        H = torch.matmul(H, W.transpose(-1, -2)) + b[:, None, :]
        if i < L - 1:
            H = act(H)
    return H


def effective_margins(Z: torch.Tensor, lab: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """(μ (K, n), classification margin (K, n)): μᵢ = −ln Σ_{j≠y} e^{z_j − z_y},
    marginᵢ = z_y − max_{j≠y} z_j."""
    zy = Z.gather(-1, lab.expand(Z.shape[0], -1)[..., None])
    D = Z - zy
    mask = torch.nn.functional.one_hot(lab, Z.shape[-1]).bool()
    D = D.masked_fill(mask, -math.inf)
    return -torch.logsumexp(D, dim=-1), -D.amax(dim=-1)


def cross_entropy_rows(X, lab, act):
    """loss_fn(*params) → (K,) mean cross-entropy per row (for autograd and HVPs)."""
    ell = logistic()

    def fn(*params):
        mu, _ = effective_margins(mlp_logits(X, params, act), lab)
        return ell.value(mu).mean(dim=-1)

    return fn


def mse_rows(X, lab, act, classes: int):
    """loss_fn(*params) → (K,) mean squared loss per row, (1/n) Σᵢ ½‖zᵢ − e_{yᵢ}‖² (one-hot targets,
    Cohen et al. 2021's square loss)."""
    Y = torch.nn.functional.one_hot(lab, classes).to(X.dtype)

    def fn(*params):
        return 0.5 * (mlp_logits(X, params, act) - Y).pow(2).sum(dim=-1).mean(dim=-1)

    return fn


def run_mlp3(
    data: Any = None,
    etas: float | Sequence[float] = DEFAULT_ETAS,
    steps: int = 1000,
    *,
    hidden: tuple[int, int] = (64, 64),
    seed: int = 0,
    device: str | torch.device | None = "cpu",
    sharpness_every: int | None = 10,
    grid: str = "all",
    grid_points: int | None = None,
    progress: bool = False,
    n: int = 1000,
    activation: str = "tanh",
    loss: str = "cross_entropy",
    lanczos_tol: float = 1e-7,
    lanczos_iters: int = 100,
    dtype: torch.dtype = torch.float64,
) -> Trajectory:
    """Full-batch GD on the 3-layer net (two hidden layers) with cross-entropy, batched over ``etas``.

    ``data`` and ``n``: see :func:`mlp3_data` (``None``: the first ``n`` of scikit-learn's offline
    digits, 10 classes; MNIST idx paths; a binary :class:`Dataset`; or arrays ``(X, labels)``).
    Sharpness λ_max(∇²L(θ_t)) is computed every ``sharpness_every`` steps (None or 0: never) by Lanczos on
    Hessian-vector products (batched over the stepsizes, warm-started from the previous
    eigenvector); ``stats["sharpness_unconverged"]`` counts checkpoints whose residual
    missed ``lanczos_tol`` (the value is still recorded).

    ``loss="mse"`` trains the square loss (1/n) Σᵢ ½‖zᵢ − e_{yᵢ}‖² on one-hot targets instead (Cohen
    et al.'s cleanest edge-of-stability setting); then ``G`` and ``log_F`` are NaN (no margin loss)
    and ``min_margin``/``train_error`` still refer to the logits.
    """
    eta = check_etas(etas)
    steps = check_steps(steps)
    if len(hidden) != 2 or any(int(h) != h or h < 1 for h in hidden):
        raise EoscheckError(f"hidden must be two positive integers (a 3-layer net), got {hidden}")
    if activation not in _ACTIVATIONS:
        raise EoscheckError(f"unknown activation {activation!r}; use one of {sorted(_ACTIVATIONS)}")
    if loss not in LOSSES:
        raise EoscheckError(f"unknown mlp3 loss {loss!r}; use one of {list(LOSSES)}")
    dev = resolve_device(device)
    Xn, labn, name, meta = mlp3_data(data, n)
    classes = int(labn.max()) + 1
    sizes = (Xn.shape[1], int(hidden[0]), int(hidden[1]), max(classes, 2))
    require_memory(len(eta), steps, grid, grid_points, Xn.shape[0], Xn.shape[1], sharpness_every, model="mlp3")
    rec = record_grid(steps, grid, grid_points)
    sharp_steps = sharpness_grid(steps, sharpness_every)
    config: dict[str, Any] = {
        "model": "mlp3", "data": name, "data_meta": meta, "data_hash": array_hash(Xn, labn), "n": int(len(labn)),
        "d": int(Xn.shape[1]), "classes": sizes[-1], "loss": loss, "eta": eta.tolist(), "steps": steps,
        "hidden": list(sizes[1:3]), "activation": activation, "init": "U(+-1/sqrt(fan_in)) (nn.Linear default)",
        "seed": int(seed), **grid_config(grid, grid_points, rec), "sharpness_every": sharpness_every,
        "lanczos_tol": lanczos_tol, "lanczos_iters": lanczos_iters,
        "dtype": str(dtype).replace("torch.", ""), "device": dev.type,
    }
    config["config_hash"] = config_hash(config)
    t0 = time.perf_counter()
    X = torch.tensor(Xn, dtype=dtype, device=dev)
    lab = torch.tensor(labn, dtype=torch.int64, device=dev)
    K = len(eta)
    params0 = [torch.tensor(p, dtype=dtype, device=dev) for p in init_mlp(sizes, seed)]
    params = [p.expand(K, *p.shape).clone() for p in params0]
    etat = torch.as_tensor(eta, dtype=dtype, device=dev)
    act = _ACTIVATIONS[activation]
    mse = loss == "mse"
    rows_loss = mse_rows(X, lab, act, sizes[-1]) if mse else cross_entropy_rows(X, lab, act)
    ell = logistic()
    R = Recorder(etat, rec, sharp_steps)
    log_n = math.log(len(labn))
    log_below = log_domain_below(dtype, len(labn))
    warm = [None] * K
    unconverged = np.zeros(K, dtype=np.int64)
    bar = progress_bar(total=steps + 1, desc="mlp3 GD", unit="step") if progress else None
    for t in range(steps + 1):
        ps = [p.detach().requires_grad_(True) for p in params]
        with torch.enable_grad():
            Z = mlp_logits(X, ps, act)
            mu, marg = effective_margins(Z, lab)
            L = rows_loss(*ps) if mse else ell.value(mu).mean(dim=-1)
            total = torch.where(R.alive, L, torch.zeros_like(L)).sum()
            grads = torch.autograd.grad(total, ps)
        mu, marg, L = mu.detach(), marg.detach(), L.detach()
        log_L = torch.log(L)
        nan = torch.full_like(L, math.nan)
        bad = ~torch.isfinite(log_L) | (L < log_below)     # under/overflow, or a subnormal L's few digits
        if bool(bad.any()) and not mse:
            log_L = torch.where(bad, torch.logsumexp(ell.log_value(mu), dim=-1) - log_n, log_L)
        # scaled norms (torch's squares overflow past 1.3e154, and read a finite step as diverged); ∞/NaN stay so
        gnorm = row_norms(torch.cat([g.reshape(K, -1) for g in grads], dim=1))
        dnorm = row_norms(torch.cat([(p - p0).reshape(K, -1) for p, p0 in zip(params, params0)], dim=1))
        q = {
            "loss": L, "log_loss": log_L, "log_F": nan if mse else torch.logsumexp(-mu, dim=-1) - log_n,
            "G": nan if mse else ell.grad(mu).abs().mean(dim=-1), "grad_norm": gnorm, "w_norm": dnorm,
            "min_margin": marg.min(dim=-1).values, "norm_margin": nan, "w_proj": nan,
            "train_error": (marg <= 0).to(dtype).mean(dim=-1),
        }
        ok = torch.isfinite(gnorm) & torch.isfinite(mu).all(dim=-1) & ~torch.isnan(log_L) & torch.isfinite(L)
        alive = R.observe(t, q, ok)
        if R.wants_sharpness(t) and bool(alive.any()):
            idx = torch.nonzero(alive).ravel()
            vals, warm_new, conv = _batched_sharpness(rows_loss, [p[idx] for p in params],
                                                      [warm[i] for i in idx.tolist()], lanczos_tol,
                                                      lanczos_iters, seed + t)
            full = torch.full_like(L, math.nan)
            full[idx] = vals
            R.record_sharpness(t, full)
            for j, i in enumerate(idx.tolist()):
                warm[i] = warm_new[j]
                unconverged[i] += int(not conv[j])
        if t < steps:
            with torch.no_grad():
                for p, g in zip(params, grads):
                    shape = (K,) + (1,) * (p.dim() - 1)
                    p.sub_(torch.where(alive.view(shape), etat.view(shape) * g, torch.zeros_like(g)))
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    records, stats, sharp = R.results()
    stats["sharpness_unconverged"] = unconverged
    prov = provenance(dev.type, seed=int(seed))
    prov["wall_time_s"] = time.perf_counter() - t0
    return Trajectory(eta=eta, step=rec, records=records, stats=stats, sharpness_step=sharp_steps,
                      sharpness=sharp, config=config, provenance=prov)


def _batched_sharpness(rows_loss, params, warm, tol, iters, seed):
    """λ_max per row by batched Lanczos on block-diagonal HVPs, warm-started where possible."""
    op = hvp_from_loss(rows_loss, params, batched=True)
    v0 = None
    if all(w is not None for w in warm):
        v0 = torch.stack(warm)
    res = lanczos(op, op.dim, 1, iters=iters, tol=tol, seed=seed, v0=v0, dtype=op.dtype,
                  device=op.device, batch=op.B)
    return res.eigenvalues[:, 0], list(res.eigenvectors[:, :, 0]), res.converged[:, 0].tolist()
