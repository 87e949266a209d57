"""numpy evaluators of the built-in losses, for the fast CPU engine (:mod:`eoscheck.fastgd`).

Each mirrors, operation for operation, the torch form in :mod:`eoscheck.losses`
(so they agree to the last ulp or two of ``exp``/``log1p``; the test-suite checks
them against the torch forms).  A kernel evaluates, on margins ``M``:

* ``q(M)`` = −ℓ′(M) (≥ 0 for the built-ins, which are decreasing), the step direction;
* the row sums of ℓ(M), ℓ(M) and ln ℓ(M) elementwise, ℓ″(M) for the sharpness;
* Σ exp(−M) for F (Theorem 1).

``q`` may leave a by-product in a cache array (``exp(−|M|)`` for the logistic
loss) that ``value_sum`` reuses, so each step costs one ``exp`` and one ``log1p``.
A loss that is not a built-in gets :class:`TorchKernel`, which calls the loss's own
torch evaluators on the same memory.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._errors import EoscheckError
from .losses import Loss, get_loss

_SIGN = np.int64(-(2**63))  # the sign bit of a float64, as an int64


class Kernel:
    """Interface; ``monotone`` means ℓ′ ≤ 0 everywhere, so |ℓ′| = q."""

    monotone = True
    makes_le = False  # q() writes 1.0 where M ≤ 0 (else 0.0) into ``le``

    def q(self, M: np.ndarray, out: np.ndarray, cache: np.ndarray, le: np.ndarray, tmp: np.ndarray) -> None:
        """out = −ℓ′(M); ``cache``, ``le``, ``tmp`` are scratch of M's shape (see the class flags)."""
        raise NotImplementedError

    def value_sum(self, M: np.ndarray, cache: np.ndarray, Q: np.ndarray, tmp: np.ndarray,
                  le: np.ndarray | None = None) -> np.ndarray:
        """Σᵢ ℓ(Mᵢ) over the last axis (``tmp`` is scratch of M's shape, ``le`` the mask of q())."""
        np.copyto(tmp, self.value(M))
        return tmp.sum(axis=-1)

    def expneg_sum(self, M: np.ndarray, Q: np.ndarray, tmp: np.ndarray) -> np.ndarray:
        """Σᵢ exp(−Mᵢ) over the last axis (may overflow/underflow: the caller checks)."""
        np.negative(M, out=tmp)
        np.exp(tmp, out=tmp)
        return tmp.sum(axis=-1)

    def value(self, M: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def log_value(self, M: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def hess(self, M: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class LogisticKernel(Kernel):
    """ℓ = ln(1+e^{−m}) = log1p(e) − min(m, 0), −ℓ′ = [m ≥ 0 ? e : 1]/(1+e), e = e^{−|m|}."""

    makes_le = True

    def q(self, M, out, cache, le, tmp):
        np.bitwise_or(M.view(np.int64), _SIGN, out=cache.view(np.int64))  # −|m|: set the sign bit
        np.exp(cache, out=cache)             # e = exp(−|m|)
        np.less_equal(M, 0.0, out=le)        # 1.0 where m ≤ 0 (the train error needs it too)
        np.maximum(cache, le, out=tmp)       # numerator: e (m > 0), 1 (m < 0); e = 1 at m = ±0
        np.add(cache, 1.0, out=out)
        np.divide(tmp, out, out=out)

    def value_sum(self, M, cache, Q, tmp, le=None):
        np.log1p(cache, out=tmp)            # cache = exp(−|M|) from q()
        s = np.add.reduce(tmp, axis=-1)
        if le is not None:                  # Σ min(m, 0) = Σ m·[m ≤ 0] in one pass
            return s - np.vecdot(M, le)
        np.minimum(M, 0.0, out=tmp)
        return s - np.add.reduce(tmp, axis=-1)

    def value(self, M):
        return np.log1p(np.exp(-np.abs(M))) - np.minimum(M, 0.0)

    def log_value(self, M):
        big = M > 30
        u = np.exp(-np.where(big, M, 0.0))
        small = np.where(big, 0.0, M)
        return np.where(big, -M - u / 2, np.log(self.value(small)))

    def hess(self, M):
        e = np.exp(-np.abs(M))
        return e / (1 + e) ** 2


class ExponentialKernel(Kernel):
    """ℓ = −ℓ′ = ℓ″ = e^{−m}: one exp gives the value, the step and F."""

    def q(self, M, out, cache, le, tmp):
        np.negative(M, out=out)
        np.exp(out, out=out)

    def value_sum(self, M, cache, Q, tmp, le=None):
        return Q.sum(axis=-1)

    def expneg_sum(self, M, Q, tmp):
        return Q.sum(axis=-1)

    def value(self, M):
        return np.exp(-M)

    def log_value(self, M):
        return -M

    hess = value


class FlatExpKernel(Kernel):
    """ℓ = e^{−am} (m > 0), 1 − am (m ≤ 0) (Prop. 5)."""

    def __init__(self, a: float):
        self.a = a

    def _ex(self, M):
        return np.exp(-self.a * np.maximum(M, 0.0))

    def q(self, M, out, cache, le, tmp):
        a = self.a
        np.copyto(out, np.where(M > 0, -(-a * self._ex(M)), a))

    def value(self, M):
        return np.where(M > 0, self._ex(M), 1 - self.a * M)

    def log_value(self, M):
        return np.where(M > 0, -self.a * np.maximum(M, 0.0), log_linear_branch(self.a, M))

    def hess(self, M):
        return np.where(M > 0, self.a * self.a * self._ex(M), 0.0)


def log_linear_branch(a: float, M):
    """ln(1 − a·m) on m ≤ 0 (entries m > 0 read as 0), the flat losses' linear branch in the log domain: log1p(a|m|),
    and ln a + ln|m| where a|m| > 1e300 (log1p of it was +inf past 1.8e308, where ln ℓ ≈ 710; the dropped
    log1p(1/(a|m|)) < 1e-300)."""
    u = -np.minimum(M, 0.0)
    with np.errstate(over="ignore", divide="ignore"):
        au = a * u
        return np.where(au > 1e300, math.log(a) + np.log(np.where(au > 1e300, u, 1.0)), np.log1p(au))


class FlatPolyKernel(Kernel):
    """ℓ = (1+m)^{−a} (m > 0), 1 − am (m ≤ 0) (Prop. 5)."""

    def __init__(self, a: float):
        self.a = a

    def q(self, M, out, cache, le, tmp):
        a = self.a
        np.copyto(out, np.where(M > 0, -(-a * (1 + np.maximum(M, 0.0)) ** (-a - 1)), a))

    def value(self, M):
        return np.where(M > 0, (1 + np.maximum(M, 0.0)) ** (-self.a), 1 - self.a * M)

    def log_value(self, M):
        a = self.a
        return np.where(M > 0, -a * np.log1p(np.maximum(M, 0.0)), log_linear_branch(a, M))

    def hess(self, M):
        a = self.a
        return np.where(M > 0, a * (a + 1) * (1 + np.maximum(M, 0.0)) ** (-a - 2), 0.0)


class PolyTailKernel(Kernel):
    """ℓ = √(1+m²) − m without cancellation (see :func:`eoscheck.losses._poly_tail_value`)."""

    def q(self, M, out, cache, le, tmp):
        s = np.hypot(1.0, M)
        np.copyto(out, -np.where(M > 0, -1 / (s * (s + np.maximum(M, 0.0))), M / s - 1))

    def value(self, M):
        s = np.hypot(1.0, M)
        return np.where(M > 0, 1 / (s + np.maximum(M, 0.0)), s - M)

    def log_value(self, M):
        return -np.arcsinh(M)           # ln(√(1+z²) − z) = −asinh z (the log of ℓ ≈ 1 lost 8e-8 at z = 1e-9)

    def hess(self, M):
        return 1 / np.hypot(1.0, M) ** 3


class TorchKernel(Kernel):
    """Any :class:`Loss`, through its own torch evaluators on the numpy memory (no copy in)."""

    monotone = False

    def __init__(self, loss: Loss):
        self.loss = loss

    def q(self, M, out, cache, le, tmp):
        np.copyto(out, self.loss.grad(torch.from_numpy(M)).numpy())
        np.negative(out, out=out)

    def value(self, M):
        return self.loss.value(torch.from_numpy(np.ascontiguousarray(M))).numpy()

    def log_value(self, M):
        return self.loss.log_value(torch.from_numpy(np.ascontiguousarray(M))).numpy()

    def hess(self, M):
        return self.loss.hess(torch.from_numpy(np.ascontiguousarray(M))).numpy()


def kernel_for(loss: Loss) -> Kernel:
    """The numpy kernel of a built-in loss (recognised by its expression), else :class:`TorchKernel`."""
    fam, p = loss.family, dict(loss.params)

    def same(name, **params):   # the built-ins are built once (get_loss), so usually the very object
        ref = get_loss(name, **params)
        return loss is ref or loss.expr == ref.expr
    try:
        if fam == "logistic" and same("logistic"):
            return LogisticKernel()
        if fam == "exponential" and same("exponential"):
            return ExponentialKernel()
        if fam == "flat_exp" and same("flat_exp", a=p["a"]):
            return FlatExpKernel(float(p["a"]))
        if fam == "flat_poly" and same("flat_poly", a=p["a"]):
            return FlatPolyKernel(float(p["a"]))
        if fam == "poly_tail" and same("poly_tail"):
            return PolyTailKernel()
    except (KeyError, TypeError, ValueError, EoscheckError):
        pass
    return TorchKernel(loss)
