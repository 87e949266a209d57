"""Special functions the bounds need, for numpy and torch (float64).

* Lambert W (real branches 0 and −1): ρ of the exponential loss, 2W(λ/2) + W(λ/2)²,
  and the explicit phase-transition time read off Lemma 34.
* :class:`LambertWm1Log` — V(s) = −W₋₁(−e^{−s}) for s ≥ 1, the root v ≥ 1 of
  v − ln v = s.  It is W₋₁ in log coordinates: the Lemma 34 time needs
  W₋₁(−c e^{−B/A}) with B/A ~ η, whose argument underflows for η ≳ 500.
"""

from __future__ import annotations

import math

import numpy as np
import scipy.special
import sympy as sp
import torch

_INV_E = math.exp(-1.0)


def lambertw_real_np(x: np.ndarray, k: int = 0) -> np.ndarray:
    """Real Lambert W on branch k ∈ {0, −1}; NaN outside the branch's real domain."""
    x = np.asarray(x, dtype=np.float64)
    if k == 0:
        ok = x >= -_INV_E
    elif k == -1:
        ok = (x >= -_INV_E) & (x < 0)
    else:
        raise ValueError("only the real branches k = 0 and k = -1 are supported")
    safe = np.where(ok, x, 1.0 if k == 0 else -0.25)
    with np.errstate(invalid="ignore"):
        w = scipy.special.lambertw(safe, k).real
    return np.where(ok, w, np.nan)


class _LambertW(torch.autograd.Function):
    @staticmethod
    def forward(ctx, x, k):
        w = torch.from_numpy(lambertw_real_np(x.detach().cpu().numpy(), k)).to(x)
        ctx.save_for_backward(x, w)
        return w

    @staticmethod
    def backward(ctx, grad):
        x, w = ctx.saved_tensors
        # W'(x) = W/(x(1+W)) = e^{−W}/(1+W) (the second form is finite at x = 0)
        return grad * torch.exp(-w) / (1 + w), None


def lambertw_real_torch(x: torch.Tensor, k: int = 0) -> torch.Tensor:
    """:func:`lambertw_real_np` for torch tensors, differentiable."""
    return _LambertW.apply(x.to(torch.float64), k)


def wm1log_np(s) -> np.ndarray:
    """V(s) = −W₋₁(−e^{−s}) for s ≥ 1: the root v ≥ 1 of v − ln v = s (NaN for s < 1).

    Newton from v₀ = 2s + 1, which lies right of the root (v₀ − ln v₀ ≥ s); the
    map v ↦ v − ln v − s is convex and increasing on v ≥ 1, so the iterates
    decrease monotonically to the root.
    """
    s = np.asarray(s, dtype=np.float64)
    ok = s >= 1
    ss = np.where(ok, s, 1.0)
    v = 2 * ss + 1
    for _ in range(200):
        f = v - np.log(v) - ss
        step = f / (1 - 1 / v)
        step = np.where(f > 0, step, 0.0)
        v_new = np.maximum(v - step, 1.0)
        if np.all(np.abs(v_new - v) <= 4e-16 * v_new):
            v = v_new
            break
        v = v_new
    return np.where(ok, v, np.nan)


def wm1log_mp(s):
    """:func:`wm1log_np` in mpmath at the working precision (s beyond float64 too): the same Newton iteration,
    ≤ 200 steps, to 4 units of the precision."""
    import mpmath

    s = mpmath.mpf(s)
    if not s >= 1:
        return mpmath.nan
    v = 2 * s + 1
    for _ in range(200):
        f = v - mpmath.log(v) - s
        if f <= 0:
            break
        nv = max(v - f / (1 - 1 / v), mpmath.mpf(1))
        done = abs(nv - v) <= 4 * mpmath.eps * nv
        v = nv
        if done:
            break
    return v


def lambertw_real_mp(x, k: int = 0):
    """W_k(x) on its real branch in mpmath (k = 0: x ≥ −1/e; k = −1: −1/e ≤ x < 0), NaN elsewhere."""
    import mpmath

    x = mpmath.mpf(x)
    if x < -1 / mpmath.e or (k == -1 and x >= 0) or k not in (0, -1):
        return mpmath.nan
    return mpmath.re(mpmath.lambertw(x, k))


class _Wm1Log(torch.autograd.Function):
    @staticmethod
    def forward(ctx, s):
        v = torch.from_numpy(wm1log_np(s.detach().cpu().numpy())).to(s)
        ctx.save_for_backward(v)
        return v

    @staticmethod
    def backward(ctx, grad):
        (v,) = ctx.saved_tensors
        return grad * v / (v - 1)  # dv/ds = 1/(1 − 1/v)


def wm1log_torch(s: torch.Tensor) -> torch.Tensor:
    """:func:`wm1log_np` for torch tensors, differentiable for s > 1."""
    return _Wm1Log.apply(s.to(torch.float64))


class LambertWm1Log(sp.Function):
    """V(s) = −W₋₁(−e^{−s}) (s ≥ 1): the root v ≥ 1 of v − ln v = s."""

    is_real = True

    def _eval_rewrite_as_LambertW(self, s, **kwargs):
        return -sp.LambertW(-sp.exp(-s), -1)

    def fdiff(self, argindex=1):
        v = self
        return v / (v - 1)

    def _latex(self, printer):
        return r"\left(-W_{-1}\!\left(-e^{-%s}\right)\right)" % printer._print(self.args[0])
