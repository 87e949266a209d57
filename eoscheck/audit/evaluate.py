"""ℓ, ℓ′, ℓ″ at the audit's points: float64 where it is reliable, high precision elsewhere.

Each of ℓ, ℓ′, ℓ″ is compiled once (:mod:`eoscheck.compiler`, stable logs) and evaluated by the
numpy back end (or the loss's own stable torch forms for built-ins) and, where float64
under/overflows or disagrees with it on a calibration sample, by the mpmath back end at a
precision raised until no sum loses digits (bounded: :data:`eoscheck.compiler.MP_DPS_MAX`
digits, :data:`eoscheck.backends.MP_RAISES` raisings per value).  The quantities q(ℓ, ℓ′, ℓ″) searched
by the checks (g, g/ℓ, ℓ/g, ℓ″/2g) are defined here.
"""

from __future__ import annotations

import math
from typing import Any, Callable

import mpmath
import numpy as np
import sympy as sp
import torch

from ..backends import MP_DPS0
from ..compiler import Program, compile_expr, mp_value
from ..losses import Loss, z
from .format import to_float


#: Why a value was not computed (an undetermined check, never a failure).
UNCOMPUTED = ("the high-precision evaluator stops at exp of arguments beyond 2¹⁰²⁴ (≈ 1.8e308, past every float64) and at 1500 digits; "
              "a smaller --search-range decides the rest")


def mp_at(prog: Program, *args, dps0: int = MP_DPS0) -> tuple[Any, bool]:
    """prog(*args) in mpmath at an adaptively raised, bounded precision from ``dps0`` digits: (value, reliable)."""
    return mp_value(lambda fl: prog.mpmath(*args, flags=fl), dps0=dps0)


class Evaluator:
    """ℓ, ℓ′, ℓ″ in float64 (the loss's own evaluators), in high precision where float64 is unreliable."""

    #: float64 values within this relative error of the high-precision value are trusted
    RTOL = 1e-9

    def __init__(self, loss: Loss, exprs: tuple[sp.Expr, sp.Expr, sp.Expr], sample: np.ndarray | None = None):
        self.exprs = exprs
        self.programs = [compile_expr(e, [z], stable_log=True) for e in exprs]  # once per audit
        self.path = "custom expression (float64 tree evaluator)"
        self._torch = None
        if loss.has_stable_forms:
            self._torch = (loss.value, loss.grad, loss.hess)
            self.path = "the loss's stable torch evaluators"
        self.mp_calls = 0
        self._mp_cache: dict[tuple[float, int], Any] = {}
        self.imprecise: list[float] = []
        self._uncomputed: set[float] = set()
        self._S, self._ok = np.zeros(0), np.zeros(0, dtype=bool)
        self.unreliable_fraction = 1.0
        if sample is not None:
            self._calibrate(np.unique(sample))

    # --- raw ----------------------------------------------------------------------
    def f64(self, Z: np.ndarray, k: int) -> np.ndarray:
        Z = np.asarray(Z, dtype=np.float64)
        with np.errstate(all="ignore"):
            if self._torch is not None:
                with torch.no_grad():
                    return self._torch[k](torch.as_tensor(Z, dtype=torch.float64)).numpy().astype(np.float64)
            return self.programs[k].numpy(Z)

    def mp(self, x, k: int):
        """ℓ^{(k)}(x) in high precision (NaN when even the cap precision cannot resolve it); cached.  ``x`` a float,
        or an mpmath number between floats (a growth test closer to a point than float64 resolves)."""
        key = (x if isinstance(x, mpmath.mpf) else float(x), k)
        hit = self._mp_cache.get(key)
        if hit is not None:
            return hit
        self.mp_calls += 1
        v, ok = mp_at(self.programs[k], x)
        if not ok:
            if not isinstance(x, mpmath.mpf):    # a point between floats says nothing of its neighbouring float
                self.imprecise.append(float(x))
                self._uncomputed.add(float(x))
            v = mpmath.nan
        self._mp_cache[key] = v
        return v

    # --- reliability map ------------------------------------------------------------
    def calibrate(self, S: np.ndarray) -> None:
        self._calibrate(np.unique(S))

    def _calibrate(self, S: np.ndarray) -> None:
        """Compare float64 with high precision on the sample S; remember where they agree."""
        ok = np.ones(S.shape, dtype=bool)
        for k in range(3):
            f = self.f64(S, k)
            # values float64 cannot hold are unreliable anyway (and costly in high precision); a float64 0 is
            # compared (_agrees): exact where the formula is 0 (ℓ = 0 on [1, ∞) of a squared hinge), an underflow
            # where it is not
            ok &= np.isfinite(f) & ((np.abs(f) > 1e-280) | (f == 0)) & (np.abs(f) < 1e280)
            for i, x in enumerate(S):
                if not ok[i]:
                    continue
                ok[i] = self._agrees(f[i], self.mp(float(x), k))
        self._S, self._ok = S, ok
        self.unreliable_fraction = float(1 - ok.mean()) if len(ok) else 0.0

    def _agrees(self, a: float, v) -> bool:
        if mpmath.isnan(v):
            return bool(np.isnan(a))
        if mpmath.isinf(v):
            return bool(np.isinf(a) and (a > 0) == (v > 0))
        if not np.isfinite(a):
            return False
        if v == 0:
            return a == 0
        if abs(v) < mpmath.mpf("1e-290") or abs(v) > mpmath.mpf("1e290"):
            return False
        return abs(a - to_float(v)) <= self.RTOL * abs(to_float(v))

    def jumps(self, X: np.ndarray, d1: np.ndarray, d2: np.ndarray, top: int = 5) -> list[tuple[float, float, Any, Any]]:
        """(a, b, ℓ′(a), ℓ′(b)) for each jump of ℓ′ found between the grid points X (ℓ′ = ``d1``, ℓ″ = ``d2`` there):
        a kink sympy could not place, e.g. where log(1 + e^{−z}) and 1 − 2z cross inside ``max``.

        A pair of neighbours whose ℓ′ differ by more than twice what their ℓ″ accounts for (a smooth ℓ′ changes
        by ℓ″(ξ)Δx) is bisected in high precision, keeping the half whose ℓ′ differ more, down to adjacent floats
        a < b.  It is a jump where the difference kept ≥ ¼ of the first and exceeds 2²⁰(b − a)·max(|ℓ″(a)|,
        |ℓ″(b)|): a C¹ ℓ would need ℓ″ ≥ 2²⁰ times its values at both ends inside one ulp.  A steep smooth ℓ′
        fades under bisection and is dropped."""
        with np.errstate(all="ignore"):
            jump = np.abs(np.diff(d1))
            smooth = np.diff(X) * np.maximum(np.abs(d2[:-1]), np.abs(d2[1:]))
            score = np.where(np.isfinite(jump) & np.isfinite(smooth) & (jump > 2 * smooth) & (jump > 0),
                             jump / np.maximum(smooth, np.finfo(float).tiny), 0.0)
        out = []
        for i in np.argsort(-score)[:top]:
            if score[i] <= 0:
                break
            a, b = float(X[i]), float(X[i + 1])
            da, db = self.mp(a, 1), self.mp(b, 1)
            first = abs(db - da)
            for _ in range(1100):             # halves the gap to adjacent floats (≤ 1075 for any float pair)
                m = 0.5 * (a + b)
                if not a < m < b:
                    break
                dm = self.mp(m, 1)
                if mpmath.isnan(dm):
                    break
                if abs(dm - da) >= abs(db - dm):
                    b, db = m, dm
                else:
                    a, da = m, dm
            gap = abs(db - da)
            curv = max(abs(self.mp(a, 2)), abs(self.mp(b, 2)))
            if (np.nextafter(a, np.inf) == b and not mpmath.isnan(gap) and gap >= first / 4
                    and gap > 2**20 * (b - a) * curv):
                out.append((a, b, da, db))
        return out

    def worst_error(self, Z: np.ndarray, k: int) -> tuple[float, float]:
        """(the largest relative error of the float64 ℓ^{(k)} over the points Z, the z where it is): the
        evaluators GD uses against high precision.  Points where the high-precision value is 0, beyond
        float64's range or not computed are skipped; a float64 value that is not finite where the true one is
        finite counts as an infinite error."""
        f = self.f64(np.asarray(Z, dtype=np.float64), k)
        worst, at = 0.0, math.nan
        for x, a in zip(np.asarray(Z, dtype=np.float64), f):
            v = self.mp(float(x), k)
            if mpmath.isnan(v) or mpmath.isinf(v) or v == 0 or not 1e-290 < abs(v) < 1e290:
                continue
            err = abs(a - to_float(v)) / abs(to_float(v)) if np.isfinite(a) else math.inf
            if err > worst:
                worst, at = err, float(x)
        return worst, at

    def reliable(self, Z: np.ndarray) -> np.ndarray:
        """True where both sample neighbours of z agreed with high precision."""
        Z = np.asarray(Z, dtype=np.float64)
        j = np.searchsorted(self._S, Z)
        inside = (j > 0) & (j < len(self._S))
        jl = np.clip(j - 1, 0, len(self._S) - 1)
        jr = np.clip(j, 0, len(self._S) - 1)
        exact = self._S[jr] == Z
        return (inside & self._ok[jl] & self._ok[jr]) | (exact & self._ok[jr])

    # --- quantities ---------------------------------------------------------------
    def triple(self, Z: np.ndarray, need=(0, 1, 2)):
        """float64 arrays of ℓ, ℓ′, ℓ″ (only ``need``) and the mask of points that need high precision."""
        Z = np.asarray(Z, dtype=np.float64)
        vals = [self.f64(Z, k) if k in need else None for k in range(3)]
        bad = ~self.reliable(Z)
        for k in need:
            v = vals[k]
            bad |= ~np.isfinite(v) | ((np.abs(v) < 1e-280) & (v != 0)) | (np.abs(v) > 1e280)
            if k < 2:  # zeros of ℓ or ℓ′ may be underflow; ℓ″ = 0 is common on linear pieces
                bad |= v == 0
        return vals, bad

    def quantity(self, q: Callable, Z: np.ndarray, need=(0, 1, 2)) -> np.ndarray:
        """q(ℓ, ℓ′, ℓ″) at every z: float64 where reliable, high precision elsewhere."""
        Z = np.asarray(Z, dtype=np.float64)
        vals, bad = self.triple(Z, need)
        with np.errstate(all="ignore"):
            out = np.asarray(q(*[v if v is not None else np.zeros_like(Z) for v in vals]), dtype=np.float64)
        out = out * np.ones_like(Z)
        out[np.isnan(out)] = np.nan
        for i in np.flatnonzero(bad):
            out[i] = self.quantity_mp(q, float(Z[i]), need)
        return out

    def quantity_mp(self, q: Callable, x: float, need=(0, 1, 2)) -> float:
        v = self.quantity_mpf(q, x, need)
        return math.nan if v is None else to_float(v)

    def quantity_mpf(self, q: Callable, x: float, need=(0, 1, 2)):
        """q at x as an mpmath number, in high precision (a value beyond float64 stays finite), or None."""
        args = [self.mp(x, k) if k in need else mpmath.mpf(0) for k in range(3)]
        with mpmath.workdps(60):
            try:
                return q(*args)
            except (ZeroDivisionError, OverflowError):
                return None

    def uncomputed(self, x: float) -> bool:
        """Whether a NaN at x means "not computed" (high precision did not settle, or an exp beyond
        :data:`~eoscheck.backends.MP_EXP_CAP`) rather than "undefined" (e.g. log of a negative number)."""
        return float(x) in self._uncomputed

    def undefined_at(self, Z: np.ndarray, v: np.ndarray) -> tuple[float | None, float | None]:
        """(the first z where the values ``v`` are undefined, the first where they were not computed),
        each None if there is none."""
        nan = [float(x) for x in np.asarray(Z)[np.isnan(v)]]
        return (next((x for x in nan if not self.uncomputed(x)), None), next((x for x in nan if self.uncomputed(x)), None))

    def scalar(self, q: Callable, x: float, need=(0, 1, 2)) -> float:
        return float(self.quantity(q, np.array([x]), need)[0])


def div(a, b):
    """a/b elementwise with 0/0 = 0 and x/0 = +inf (numpy arrays or mpmath scalars)."""
    if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
        a, b = np.broadcast_arrays(np.asarray(a, dtype=float), np.asarray(b, dtype=float))
        with np.errstate(all="ignore"):
            out = a / b
        out = np.where(b == 0, np.where(a == 0, 0.0, np.inf * np.sign(np.where(a == 0, 1, a))), out)
        return out
    if b == 0:
        return mpmath.mpf(0) if a == 0 else mpmath.inf * (1 if a > 0 else -1)
    return a / b


def q_value(l, d1, d2):
    return l


def q_d2(l, d1, d2):
    return d2


def q_g(l, d1, d2):
    return abs(d1)


def q_g_over_l(l, d1, d2):
    return div(abs(d1), l)


def q_l_over_g(l, d1, d2):
    return div(l, abs(d1))


def q_quad0(l, d1, d2):
    """lim_{h→0} of the quadratic ratio: ℓ″(x)/(2g(x))."""
    return div(d2, 2 * abs(d1))

