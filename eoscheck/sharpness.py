"""Sharpness λ_max(∇²L): Lanczos on Hessian-vector products, and closed forms for linear models.

Cohen et al. (ICLR 2021) call λ_max(∇²L(w_t)) the *sharpness*; the descent
lemma needs it below 2/η, and at the edge of stability it hovers at 2/η.
The paper (Wu et al., COLT 2024) defines EoS by non-monotone loss instead;
sharpness is tracked here as a diagnostic.

* :func:`lanczos` — the top-k eigenpairs (largest *algebraic*, ``which='LA'``)
  of a symmetric operator given only by its matrix-vector product: Lanczos with
  full re-orthogonalisation (two classical Gram–Schmidt passes), a seeded
  start vector, warm start from previous eigenvectors, restart on breakdown
  (an invariant subspace), true residuals ‖Av − θv‖ and a convergence flag.
  Optionally batched: B independent operators in lockstep (B runs of GD).
* :func:`hvp_from_loss` — v ↦ ∇²L·v by double backpropagation (one forward
  and one first backward, then one backward per product).
* :func:`top_hessian_eigs` — the two together.
* :func:`linear_hessian`, :func:`linear_sharpness` — the closed form for a
  linear model L(w) = (1/n) Σᵢ ℓ(zᵢᵀw), ∇²L = (1/n) Zᵀ diag(ℓ″(Zw)) Z, via the
  smaller of the d×d and n×n (Gram) forms (design note, idea 6).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch

from ._errors import EoscheckError
from .losses import Loss, get_loss

MatVec = Callable[[torch.Tensor], torch.Tensor]


@dataclass(frozen=True)
class EigenResult:
    """Extreme eigenpairs found by :func:`lanczos` (largest algebraic first; smallest first for ``"SA"``).

    Unbatched shapes (batched runs add a leading B):
      eigenvalues: (k,) Ritz values θ₁ ≥ … ≥ θ_k.
      eigenvectors: (dim, k) unit Ritz vectors.
      residuals: (k,) true residual norms ‖A v − θ v‖ (one extra product each).
      converged: (k,) bool, residual ≤ tol · max|θ| over all Ritz values.
      iterations: Lanczos steps taken (Krylov dimension).
      matvecs: operator applications, including the residual check.
    """

    eigenvalues: torch.Tensor
    eigenvectors: torch.Tensor
    residuals: torch.Tensor
    converged: torch.Tensor
    iterations: int
    matvecs: int

    @property
    def all_converged(self) -> bool:
        return bool(self.converged.all())

    @property
    def top(self) -> torch.Tensor:
        """The largest eigenvalue (per batch row when batched)."""
        return self.eigenvalues[..., 0]


def _unit(v: torch.Tensor) -> torch.Tensor:
    n = v.norm(dim=-1, keepdim=True)
    return v / torch.where(n > 0, n, torch.ones_like(n))


def _seeded_normal(shape, seed: int, dtype, device) -> torch.Tensor:
    """Standard normal numbers from a CPU generator (the same on every device)."""
    gen = torch.Generator(device="cpu").manual_seed(int(seed))
    return torch.randn(shape, generator=gen, dtype=torch.float64).to(device=device, dtype=dtype)


def _orthogonalize(w: torch.Tensor, Q: torch.Tensor) -> torch.Tensor:
    """w − Q Qᵀ w, twice (CGS2: orthogonal to working precision); w (B, D), Q (B, j, D)."""
    for _ in range(2):
        w = w - torch.einsum("bjd,bj->bd", Q, torch.einsum("bjd,bd->bj", Q, w))
    return w


def _start_vector(v0, B, dim, seed, warm_noise, dtype, device) -> torch.Tensor:
    """Unit start vectors (B, dim): seeded random, or v0 (summed over its columns) plus noise."""
    r = _unit(_seeded_normal((B, dim), seed, dtype, device))
    if v0 is None:
        return r
    v = torch.as_tensor(v0, dtype=dtype, device=device)
    if v.dim() == 1:
        v = v[None, :, None]
    elif v.dim() == 2:
        v = v[None] if B == 1 and v.shape[0] == dim else v[:, :, None]
    if v.shape[0] != B or v.shape[1] != dim:
        raise EoscheckError(f"v0 must have shape ({dim},), ({dim}, j) or (B={B}, {dim}[, j]); got {tuple(v0.shape)}")
    v = _unit(v.sum(dim=2))
    bad = ~torch.isfinite(v).all(dim=1) | (v.norm(dim=1) == 0)
    v = torch.where(bad[:, None], r, v)
    return _unit(v + warm_noise * r)


def lanczos(
    hvp: MatVec,
    dim: int,
    k: int = 1,
    *,
    iters: int | None = None,
    tol: float = 1e-8,
    seed: int = 0,
    v0: torch.Tensor | np.ndarray | None = None,
    dtype: torch.dtype = torch.float64,
    device: str | torch.device = "cpu",
    batch: int | None = None,
    min_iters: int | None = None,
    warm_noise: float = 1e-2,
    which: str = "LA",
) -> EigenResult:
    """Top-k eigenpairs (largest algebraic) of the symmetric operator ``hvp`` by Lanczos.

    Builds the Krylov basis q₀, q₁, … with A q_j = β_{j−1}q_{j−1} + α_j q_j + β_j q_{j+1},
    re-orthogonalising each new vector against all previous ones (full
    re-orthogonalisation, so no ghost eigenvalues), and reads the Ritz pairs off
    the tridiagonal T_j.  It stops once the top-k Ritz estimates |β_j s_{j,i}|
    fall below ``tol``·max|θ|, after ``iters`` steps, or when the basis spans ℝ^dim
    (then the result is exact).  On breakdown (β_j ≈ 0: an invariant subspace)
    it continues with a fresh seeded vector orthogonal to the basis.

    Args:
      hvp: v ↦ A v on (dim,) tensors, or on (B, dim) when ``batch`` = B.
      dim: the dimension of the operator.
      k: how many top eigenpairs.
      iters: the most Lanczos steps (default min(dim, max(100, 4k))).
      tol: relative residual tolerance.
      seed: seed of the random start (and restart) vectors (a CPU generator, so
        the start does not depend on the device).
      v0: warm start — previous eigenvector(s) (dim,), (dim, j), or batched
        (B, dim[, j]); the start is their normalised sum plus ``warm_noise``
        times a seeded random unit vector, so that no direction is missing
        from the Krylov space.
      dtype, device: of the basis (float64 by default).
      batch: run B independent operators in lockstep.
      min_iters: steps before convergence may be declared (default min(dim, 2k + 10)),
        a guard against a start nearly orthogonal to the top eigenvector.
      which: ``"LA"`` (largest algebraic, the sharpness; default) or ``"SA"`` (smallest
        algebraic, e.g. negative curvature); results are ordered from the extreme inwards.
    """
    if which not in ("LA", "SA"):
        raise EoscheckError(f"lanczos: which must be 'LA' (largest algebraic) or 'SA' (smallest), got {which!r}")
    top = which == "LA"
    if k < 1 or k > dim:
        raise EoscheckError(f"lanczos: need 1 ≤ k ≤ dim = {dim}, got k = {k}")
    iters = min(dim, iters if iters is not None else max(100, 4 * k))
    if iters < k:
        raise EoscheckError(f"lanczos: iters = {iters} < k = {k}; raise iters")
    min_iters = min(iters, min_iters if min_iters is not None else 2 * k + 10)
    B = 1 if batch is None else int(batch)
    op = (lambda V: hvp(V[0])[None]) if batch is None else hvp
    device = torch.device(device)
    Q = torch.zeros(B, iters + 1, dim, dtype=dtype, device=device)
    alpha = torch.zeros(B, iters, dtype=dtype, device=device)
    beta = torch.zeros(B, iters, dtype=dtype, device=device)
    Q[:, 0] = _start_vector(v0, B, dim, seed, warm_noise, dtype, device)
    matvecs = 0
    scale = torch.zeros(B, dtype=dtype, device=device)
    j = 0
    for j in range(iters):
        w = op(Q[:, j])
        matvecs += 1
        if not bool(torch.isfinite(w).all()):
            raise EoscheckError("lanczos: the Hessian-vector product returned NaN or inf; "
                                "the point is outside the float range (diverged run?)")
        alpha[:, j] = (Q[:, j] * w).sum(dim=1)
        scale = torch.maximum(scale, w.norm(dim=1))
        w = _orthogonalize(w, Q[:, : j + 1])
        b = w.norm(dim=1)
        beta[:, j] = b
        if j + 1 == dim:
            break
        broke = b <= 1e3 * torch.finfo(dtype).eps * torch.clamp(scale, min=torch.finfo(dtype).tiny)
        if bool(broke.any()):  # invariant subspace: continue in its orthogonal complement
            fresh = _orthogonalize(_seeded_normal((B, dim), seed + 7919 * (j + 1), dtype, device), Q[:, : j + 1])
            beta[:, j] = torch.where(broke, torch.zeros_like(b), b)
            w = torch.where(broke[:, None], fresh, w)
        Q[:, j + 1] = _unit(w)
        if j + 1 >= min_iters and j + 1 >= k:
            theta, S = _ritz(alpha[:, : j + 1], beta[:, :j])
            est = (beta[:, j, None] * (S[:, -1, -k:] if top else S[:, -1, :k])).abs()
            ref = theta.abs().amax(dim=1, keepdim=True)
            if bool((est <= tol * ref).all()):
                break
    m = j + 1
    theta, S = _ritz(alpha[:, :m], beta[:, : m - 1])
    vals = theta[:, -k:].flip(1) if top else theta[:, :k]
    vecs = torch.einsum("bjd,bji->bdi", Q[:, :m], S[:, :, -k:].flip(2) if top else S[:, :, :k])
    vecs = vecs / vecs.norm(dim=1, keepdim=True)
    res = torch.empty(B, k, dtype=dtype, device=device)
    for i in range(k):
        Av = op(vecs[:, :, i])
        matvecs += 1
        res[:, i] = (Av - vals[:, i, None] * vecs[:, :, i]).norm(dim=1)
    ref = theta.abs().amax(dim=1, keepdim=True)
    conv = res <= tol * torch.clamp(ref, min=torch.finfo(dtype).tiny)
    if batch is None:
        vals, vecs, res, conv = vals[0], vecs[0], res[0], conv[0]
    return EigenResult(eigenvalues=vals, eigenvectors=vecs, residuals=res, converged=conv,
                       iterations=m, matvecs=matvecs)


def _ritz(alpha: torch.Tensor, beta: torch.Tensor):
    """Eigen-decomposition of the (B, j, j) symmetric tridiagonal T with diagonal α, off-diagonal β."""
    T = torch.diag_embed(alpha)
    if beta.shape[1]:
        T = T + torch.diag_embed(beta, offset=1) + torch.diag_embed(beta, offset=-1)
    return torch.linalg.eigh(T)


# ---------------------------------------------------------------------------
# Hessian-vector products by double backpropagation
# ---------------------------------------------------------------------------


class HessianOperator:
    """v ↦ ∇²L(θ)·v at fixed θ, by double backpropagation (Pearlmutter's R-operator).

    ``loss_fn(*params)`` returns the scalar loss (or, with ``batched``, a (B,)
    vector whose row b depends only on the slices ``p[b]`` of every parameter:
    then the Hessian is block diagonal and ``op(V)`` maps (B, D) to (B, D)).
    The gradient graph is built once; every product is one more backward pass.
    """

    def __init__(self, loss_fn: Callable[..., torch.Tensor], params: Sequence[torch.Tensor], batched: bool = False):
        self.batched = batched
        self.params = [p.detach().requires_grad_(True) for p in params]
        if not self.params:
            raise EoscheckError("hvp_from_loss needs at least one parameter tensor")
        self.dtype = self.params[0].dtype
        self.device = self.params[0].device
        with torch.enable_grad():
            out = loss_fn(*self.params)
            self.loss = out.detach()
            total = out.sum()
            self._grads = torch.autograd.grad(total, self.params, create_graph=True, allow_unused=True)
        self._grads = [torch.zeros_like(p) if g is None else g for g, p in zip(self._grads, self.params)]
        if batched:
            self.B = self.params[0].shape[0]
            self.sizes = [p[0].numel() for p in self.params]
        else:
            self.B = None
            self.sizes = [p.numel() for p in self.params]
        self.dim = sum(self.sizes)
        self.matvecs = 0

    @property
    def grad(self) -> torch.Tensor:
        """∇L(θ) flattened ((dim,) or (B, dim))."""
        return self._flat([g.detach() for g in self._grads])

    def _flat(self, ts) -> torch.Tensor:
        if self.batched:
            return torch.cat([t.reshape(self.B, -1) for t in ts], dim=1)
        return torch.cat([t.reshape(-1) for t in ts])

    def _split(self, v: torch.Tensor):
        parts = v.split(self.sizes, dim=-1)
        return [x.reshape(p.shape) for x, p in zip(parts, self.params)]

    def __call__(self, v: torch.Tensor) -> torch.Tensor:
        vs = self._split(v.to(dtype=self.dtype, device=self.device))
        with torch.enable_grad():
            dot = sum((g * u).sum() for g, u in zip(self._grads, vs))
            hv = torch.autograd.grad(dot, self.params, retain_graph=True, allow_unused=True)
        self.matvecs += 1
        return self._flat([torch.zeros_like(p) if h is None else h for h, p in zip(hv, self.params)]).detach()


def hvp_from_loss(loss_fn: Callable[..., torch.Tensor], params: Sequence[torch.Tensor], *,
                  batched: bool = False) -> HessianOperator:
    """The Hessian-vector product of ``loss_fn(*params)`` at ``params`` (see :class:`HessianOperator`)."""
    return HessianOperator(loss_fn, params, batched=batched)


def top_hessian_eigs(
    loss_fn: Callable[..., torch.Tensor],
    params: Sequence[torch.Tensor],
    k: int = 1,
    *,
    batched: bool = False,
    iters: int | None = None,
    tol: float = 1e-8,
    seed: int = 0,
    v0: torch.Tensor | None = None,
    min_iters: int | None = None,
    which: str = "LA",
) -> EigenResult:
    """The top-k Hessian eigenpairs of ``loss_fn`` at ``params`` (HVP + :func:`lanczos`)."""
    op = hvp_from_loss(loss_fn, params, batched=batched)
    return lanczos(op, op.dim, k, iters=iters, tol=tol, seed=seed, v0=v0, dtype=op.dtype,
                   device=op.device, batch=op.B, min_iters=min_iters, which=which)


# ---------------------------------------------------------------------------
# Closed form for linear models (cross-check of the HVP path)
# ---------------------------------------------------------------------------


def linear_hessian(Z: torch.Tensor | np.ndarray, loss: Loss | str, w: torch.Tensor | np.ndarray) -> torch.Tensor:
    """∇²L(w) = (1/n) Zᵀ diag(ℓ″(Zw)) Z for L(w) = (1/n) Σᵢ ℓ(zᵢᵀw), zᵢ = yᵢxᵢ; w (d,) or (K, d)."""
    loss = get_loss(loss)
    Z = torch.as_tensor(Z, dtype=torch.float64)
    W = torch.as_tensor(w, dtype=Z.dtype, device=Z.device)
    h = loss.hess(W @ Z.T) / Z.shape[0]
    return torch.einsum("...i,ia,ib->...ab", h, Z, Z)


def linear_sharpness(Z: torch.Tensor | np.ndarray, loss: Loss | str, w: torch.Tensor | np.ndarray) -> torch.Tensor:
    """λ_max(∇²L(w)) of a linear model, from the d×d form or the n×n Gram form
    (1/n) D^{1/2} Z Zᵀ D^{1/2}, D = diag(ℓ″(Zw)) ≥ 0 (same non-zero spectrum), whichever is smaller."""
    loss = get_loss(loss)
    Z = torch.as_tensor(Z, dtype=torch.float64)
    W = torch.as_tensor(w, dtype=Z.dtype, device=Z.device)
    n, d = Z.shape
    if d <= n:
        return torch.linalg.eigvalsh(linear_hessian(Z, loss, W))[..., -1]
    return gram_sharpness(Z @ Z.T, loss.hess(W @ Z.T))


def gram_sharpness(gram: torch.Tensor, h: torch.Tensor) -> torch.Tensor:
    """λ_max((1/n) Jᵀ diag(h) J) from the Gram matrix G = JJᵀ (n, n) and h ((…, n)), where J has more columns than
    rows (the NTK network's J = [∇f(xᵢ; w)]ᵢ; a linear model's Z with d > n), so 0 is an eigenvalue too.
    h ≥ 0: the n×n form (1/n) D^{1/2} G D^{1/2} (the same non-zero spectrum); h of both signs (a loss with ℓ″ < 0
    somewhere): :func:`indefinite_top` — clipping h at 0 gave an upper bound, not λ_max."""
    n = gram.shape[-1]
    if bool((h < 0).any()):
        return indefinite_top(gram, h / n)
    s = (h / n).sqrt()
    return torch.linalg.eigvalsh(s[..., :, None] * gram * s[..., None, :])[..., -1]


def indefinite_top(gram, h):
    """max(0, λ_max(Jᵀ diag(h) J)) for any sign of h, from G = JJᵀ = U Λ Uᵀ: with L = U Λ^{1/2} (J = L Qᵀ, Q
    orthonormal), Jᵀ diag(h) J = Q (Lᵀ diag(h) L) Qᵀ has the non-zero spectrum of the symmetric Lᵀ diag(h) L, and 0
    (J has more columns than rows).  torch or numpy, h (…, n)."""
    if isinstance(gram, torch.Tensor):
        lam, U = torch.linalg.eigh(gram)
        L = U * lam.clamp(min=0).sqrt()[..., None, :]
        top = torch.linalg.eigvalsh(L.transpose(-1, -2) @ (h[..., :, None] * L))[..., -1]
        return top.clamp(min=0)
    lam, U = np.linalg.eigh(gram)
    L = U * np.sqrt(np.maximum(lam, 0.0))[..., None, :]
    top = np.linalg.eigvalsh(np.swapaxes(L, -1, -2) @ (h[..., :, None] * L))[..., -1]
    return np.maximum(top, 0.0)



def batch_sharpness_torch(h: torch.Tensor, Z: torch.Tensor) -> torch.Tensor:
    """λ_max((1/n) Zᵀ diag(ℓ″(M)) Z) per row of h = ℓ″(M)/n (K, n), in the smaller of the d×d and
    n×n forms (the GD engines' checkpoints).  Rows whose h is not finite (a run that left the
    float range) get NaN."""
    n, d = Z.shape
    fin = torch.isfinite(h).all(dim=1)
    out = torch.full((h.shape[0],), float("nan"), dtype=h.dtype, device=h.device)
    if not bool(fin.any()):
        return out
    h = h[fin]
    if d <= n:
        out[fin] = torch.linalg.eigvalsh(torch.einsum("ki,ia,ib->kab", h, Z, Z))[:, -1]
    elif bool((h < 0).any()):
        out[fin] = indefinite_top(Z @ Z.T, h)
    else:
        s = h.sqrt()
        out[fin] = torch.linalg.eigvalsh(s[:, :, None] * (Z @ Z.T)[None] * s[:, None, :])[:, -1]
    return out


def batch_sharpness_np(h: np.ndarray, Z: np.ndarray) -> np.ndarray:
    """:func:`batch_sharpness_torch` in numpy."""
    n, d = Z.shape
    fin = np.isfinite(h).all(axis=1)
    out = np.full(h.shape[0], np.nan)
    if not fin.any():
        return out
    h = h[fin]
    if d <= n:
        out[fin] = np.linalg.eigvalsh((Z.T[None, :, :] * h[:, None, :]) @ Z)[:, -1]
    elif (h < 0).any():
        out[fin] = indefinite_top(Z @ Z.T, h)
    else:
        s = np.sqrt(h)
        out[fin] = np.linalg.eigvalsh(s[:, :, None] * (Z @ Z.T)[None] * s[:, None, :])[:, -1]
    return out
