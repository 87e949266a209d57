"""The certified max-margin separator through the origin: γ* = max_{‖w‖≤1} minᵢ⟨zᵢ, w⟩.

By minimax duality γ* is the distance from 0 to conv{zᵢ} (zᵢ = yᵢxᵢ), attained at the
min-norm point p*, and w* = p*/‖p*‖.  We find p* with Wolfe's finite algorithm
(P. Wolfe, Math. Programming 11, 1976) and certify the answer without trusting the solver, rounding
included (u = ε/2, R = maxᵢ‖zᵢ‖, n points in d dimensions):

* for the returned unit w, m := minᵢ fl(⟨zᵢ, w⟩) is within 2(d+2)·u·R of the exact margin of w/‖w‖
  (each product within d·u·‖zᵢ‖‖w‖, and ‖w‖ = 1 within d·u), so γ := m − :func:`margin_allowance`
  = m − 2(d+2)·ε·R is a *valid* margin (γ ≤ γ*);
* p = Σ_{i∈S} λᵢzᵢ/R with λ ≥ 0, Σλ = 1 (up to n·u) lies in conv{zᵢ/R} up to its rounding, (n+1)·u, and
  ‖p‖ is computed within (d+2)·u, so γ* ≤ R·(‖p‖(1 + (d+2)u) + (n+1)u)(1 + nu)(1 + u) (weak duality),
  which :func:`duality_upper` bounds from above by twice each term;
* hence γ* ∈ [γ, γ + gap] with gap := duality_upper − γ.  Where Wolfe's direction certifies a poor
  margin (tiny γ*: p = Σλz cancels to a few ulps of R, so its direction is off by ~ε/γ*), the min-norm
  solution of ⟨z_s, w⟩ = 1 on the support set S, normalised, is tried too (the max-margin direction
  has equal margins on its support), and the better certified margin is kept.

Wolfe's affine step solves (11ᵀ + Z_S Z_Sᵀ)u = 1, α = u/Σu (the min-norm point of the
affine hull of the active set S).  The matrix is kept as an upper-triangular factor
RᵀR (packed), updated in O(|S|²) when a point enters (one triangular solve, a column
appended) or leaves (Givens re-triangularisation in place), and refactorised from scratch
every :data:`REFACTOR_EVERY` updates and before convergence is declared, so rounding
drift in the factor cannot fake convergence.  The Gram block G_S = Z_S Z_Sᵀ is kept beside the
factor (a row and column per insertion), so the refinement's residual costs |S|², not 2|S|d;
the polish before convergence forms it from the points themselves.

Two forms of the major step's products ⟨zᵢ, x⟩ for x = Σ_{s∈S} λ_s z_s:

* *points*: x from the active points, then Z x (O(nd + |S|d) a step);
* *Gram*: λᵀK_S from the rows K_S of K = ZZᵀ held for the active set (O(|S|n) a step, about a
  third of the memory traffic at n = 1000, d = 784, |S| ≈ 500).  K costs 2n²d flops once, so a
  run switches to it only after :func:`gram_after` steps of the points form (never when K would
  exceed ``resources.GRAM_ENTRIES`` entries), and its products are trusted only as far as their
  rounding allows: once the best violation ‖x‖² − minᵢ⟨zᵢ, x⟩ is within the bound
  (|S| + d + 2)·ε of that rounding (|Kᵢⱼ| ≤ 1 on the scaled points, Σλ = 1), the run goes back to
  the points form for good, and only that form declares convergence.  The certificate below is
  computed from Z alone whatever form ran.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass

import numpy as np
from scipy.linalg import cholesky
from scipy.linalg.blas import dtpsv
from scipy.linalg.lapack import dtrttp

from ._errors import EoscheckError
from .resources import GRAM_ENTRIES, blas_single_thread

#: Factor updates between two refactorisations from scratch (bounds rounding drift).
REFACTOR_EVERY = 200
_EPS = float(np.finfo(np.float64).eps)
_ROUND = 16 * _EPS


def gram_after(n: int) -> int:
    """Major steps of the points form after which a run builds K = ZZᵀ and switches to the Gram form:
    n/8.  K costs 2n²d flops at GEMM speed, about n/10 points-form steps (15 ms against ≥ 0.15 ms
    for Z x at n = 1000, d = 784, one core of the Intel Xeon of benchmarks/README.md, measured), so
    a run that stops before n/8 steps never pays for it, and one that switches has already spent
    about as much as K costs."""
    return max(1, n // 8)


@dataclass(frozen=True)
class MaxMargin:
    """The certified max-margin separator of a dataset.

    Attributes:
      gamma: minᵢ fl(⟨yᵢxᵢ, w_star⟩) less its rounding allowance: a valid margin (≤ the exact margin of
        w_star, hence ≤ the true max margin); −0 when not certified separable.
      w_star: unit vector (or zeros when not separable).
      gap: ≥ 0, with gamma + gap ≥ the true max margin (the duality bound, rounding included).
      support: indices of the support vectors (the points with α > 0).
    """

    gamma: float
    w_star: np.ndarray
    gap: float
    support: np.ndarray

    @property
    def separable(self) -> bool:
        return self.gamma > 0


def _signed_points(Z) -> np.ndarray:
    """``Z`` as an (n, d) finite float64 array, or a one-line :class:`EoscheckError` saying what to pass."""
    if hasattr(Z, "max_margin") and hasattr(Z, "Z"):       # a Dataset
        raise EoscheckError("max_margin takes the signed points Z = y[:, None]*X; for a dataset use "
                            "data.max_margin() (or max_margin(data.Z))")
    try:
        arr = np.asarray(Z, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise EoscheckError(f"max_margin takes the signed points Z = y[:, None]*X as one (n, d) array of numbers "
                            f"({err})") from None
    if arr.ndim != 2:
        raise EoscheckError(f"max_margin takes the signed points Z = y[:, None]*X as one (n, d) array, got shape "
                            f"{arr.shape}")
    if arr.shape[0] == 0:
        raise EoscheckError(f"max_margin: Z has no points (shape {arr.shape}); the margin of an empty set is not defined")
    if not np.isfinite(arr).all():
        raise EoscheckError("max_margin: Z holds NaN or infinite values; a margin of such points is not defined")
    return arr


def max_margin(Z: np.ndarray, *, tol: float = 1e-13, max_iter: int = 10_000, rtol: float = 1e-12) -> MaxMargin:
    """Max-margin separator through the origin of the points ``Z`` (rows zᵢ = yᵢxᵢ), certified
    as in the module docstring: the true max margin lies in [gamma, gamma + gap].

    Wolfe stops when ‖x‖² − minᵢ⟨zᵢ, x⟩ ≤ rtol·‖x‖² + 16ε‖x‖ (on Z scaled to maxᵢ‖zᵢ‖ = 1):
    dividing by ‖x‖ gives gap ≤ rtol·γ + 16ε·maxᵢ‖zᵢ‖, a relative gap of ``rtol`` above the
    rounding of the products ⟨zᵢ, x⟩ (each off by ≲ ε‖zᵢ‖‖x‖ per term, summed pairwise).
    ``tol`` is the barycentric weight below which a point leaves the active set.
    """
    Z = _signed_points(Z)
    n, d = Z.shape
    scale = row_norm_max(Z) or 1.0
    Zs = np.ascontiguousarray(Z / scale)
    # One BLAS thread: the work is memory-bound matrix-vector products, and on a shared
    # machine OpenBLAS's second thread spins (measured 7.7 ms vs 0.2 ms per Z @ x).
    with blas_single_thread():
        p, lam, S = _wolfe(Zs, tol, rtol, max_iter)
    norm_p = row_norm_max(p[None])    # ‖p‖ without squaring p alone: ‖p‖ = 1e-200 stays 1e-200, not 0
    upper = duality_upper(norm_p * scale, n, d, scale)
    slack = float(margin_allowance(d, scale))
    m, w = (float((Z @ (p / norm_p)).min()), p / norm_p) if norm_p > 0.0 else (-math.inf, np.zeros(d))
    if m - slack <= 0.0 or upper - (m - slack) > 1e-9 * upper:     # a weak certificate: polish on S
        u = np.linalg.lstsq(Zs[S], np.ones(len(S)), rcond=None)[0]
        nu = row_norm_max(u[None])
        if nu > 0.0 and math.isfinite(nu):
            mu = float((Z @ (u / nu)).min())
            if mu > m:
                m, w = mu, u / nu
    # separable only where the margin of w exceeds the rounding of its products ⟨zᵢ, w⟩: a margin of
    # 1e-17 on {z, −z} is rounding, not separation
    if m - slack > 0.0:
        return MaxMargin(gamma=m - slack, w_star=w, gap=max(upper - (m - slack), 0.0),
                         support=np.asarray(sorted(S)))
    # not certified separable: w = 0 has margin 0 (a valid lower end, γ* ≥ 0 for ‖w‖ ≤ 1) and p bounds
    # γ* from above, so γ* ∈ [0, upper] — not "γ* = 0", which a margin of 1e-13 would contradict
    return MaxMargin(gamma=-0.0, w_star=np.zeros(d), gap=upper, support=np.asarray(S))


def margin_allowance(d, R: float):
    """2(d+2)·ε·R: twice what rounding can move a computed margin minᵢ fl(⟨zᵢ, w⟩) of a unit w (R = maxᵢ‖zᵢ‖,
    u = ε/2; module docstring); ``d`` a number or an array of them."""
    return 2 * (np.asarray(d, dtype=np.float64) + 2) * _EPS * R


def duality_upper(norm: float, n: int, d: int, R: float) -> float:
    """An upper end of γ* from a computed ‖Σλᵢzᵢ‖ = ``norm`` (λ on the simplex, n points, R = maxᵢ‖zᵢ‖):
    norm·(1 + 2(n+d+4)·ε) + 2(n+2)·ε·R, at least twice each rounding term of the module docstring's bound."""
    return float(norm * (1 + 2 * (n + d + 4) * _EPS) + 2 * (n + 2) * _EPS * R)


def row_norm_max(Z: np.ndarray) -> float:
    """maxᵢ‖zᵢ‖ without overflow or underflow (rows scaled by max|Zᵢⱼ| before squaring): finite whenever
    the answer is, and > 0 for any non-zero row (‖z‖ ≈ 1e155 or 1e-200 squared alone leaves the range);
    NaN or ∞ entries give NaN or ∞.  One row (``v[None]``) is the norm of a vector (the GD records' fallback)."""
    amax = float(np.abs(Z).max()) if Z.size else 0.0
    if amax == 0.0 or not math.isfinite(amax):
        return amax
    return amax * float(np.sqrt(((Z / amax) ** 2).sum(axis=1)).max())


def row_norms(Z: np.ndarray) -> np.ndarray:
    """‖zᵢ‖ of every row of Z (k, d), each scaled by its own max|zᵢⱼ| before squaring: on one row, the bits of
    :func:`row_norm_max` (0 for a zero row, NaN or ∞ for a row holding one)."""
    amax = np.abs(Z).max(axis=1) if Z.shape[1] else np.zeros(len(Z))
    scaled = (amax > 0) & np.isfinite(amax)
    safe = np.where(scaled, amax, 1.0)
    with np.errstate(all="ignore"):
        return np.where(scaled, safe * np.sqrt(((Z / safe[:, None]) ** 2).sum(axis=1)), amax)


def _drop_column(ap: np.ndarray, k: int, i: int, t: np.ndarray, cs: np.ndarray, sn: np.ndarray) -> None:
    """R (k×k, upper, packed by columns in ``ap``: R[r, c] at c(c+1)/2 + r) without its column i,
    brought back to upper triangular form in place by the Givens rotations of rows (r, r+1),
    r = i … k−2, each chosen to zero the entry below the diagonal of column r: the (k−1)×(k−1) factor
    with R'ᵀR' = R₋ᵢᵀR₋ᵢ.  Column by column (c ≥ i: the former column c + 1 into ``t``, the
    rotations so far applied to it, then its own), so each column is written just before the next
    one's old place is read.  ``t``, ``cs``, ``sn``: scratch of length ≥ k."""
    for c in range(i, k - 1):
        src = (c + 1) * (c + 2) // 2
        for r in range(c + 2):
            t[r] = ap[src + r]
        for r in range(i, c):
            x = t[r]
            y = t[r + 1]
            t[r] = cs[r] * x + sn[r] * y
            t[r + 1] = cs[r] * y - sn[r] * x
        h = math.hypot(t[c], t[c + 1])
        cs[c] = t[c] / h if h > 0.0 else 1.0
        sn[c] = t[c + 1] / h if h > 0.0 else 0.0
        t[c] = h
        dst = c * (c + 1) // 2
        for r in range(c + 1):
            ap[dst + r] = t[r]


@functools.lru_cache(maxsize=1)
def _compiled_drop_column():
    """:func:`_drop_column` compiled (numba, imported here: ``import eoscheck`` stays light)."""
    from numba import njit

    return njit(nogil=True, cache=True, error_model="numpy")(_drop_column)


class _ActiveSet:
    """The active set S of Wolfe's method: its points (rows of ``P``), their Gram block ``G`` = PPᵀ,
    the factor R with RᵀR = 11ᵀ + G, and in the Gram form their rows ``KS`` of K = ZZᵀ — all in
    buffers sized once for an affinely independent set (≤ d + 1 points).

    R is upper triangular and packed by columns (``R``, BLAS's packed storage): a point's insertion
    appends a column, O(k), where a square R had to be reallocated (a k² copy an insertion);
    a deletion re-triangularises it in place by Givens rotations (:func:`_drop_column`), where
    ``scipy.linalg.qr_delete`` also rotated an identity Q (2.4–3.5 ms at k = 500, measured); the
    triangular solves are BLAS's ``dtpsv`` on the packed prefix (as fast as LAPACK's ``dtrtrs`` on
    a square R, measured)."""

    def __init__(self, Z: np.ndarray, j: int):
        cap = min(Z.shape[0], Z.shape[1] + 1) + 1  # an affinely independent set has ≤ d + 1 points
        self.Z = Z
        self.K = self.KS = None
        self.idx: list[int] = [j]
        self.P = np.empty((cap, Z.shape[1]))
        self.G = np.empty((cap, cap))
        self.R = np.empty(cap * (cap + 1) // 2)
        self.scratch = np.empty((3, cap))
        self.P[0] = Z[j]
        self.updates = 0
        self.refactor()

    @property
    def k(self) -> int:
        return len(self.idx)

    def use_gram(self) -> None:
        """Switch to the Gram form: K = ZZᵀ (one GEMM) and the active points' rows of it."""
        self.K = self.Z @ self.Z.T
        self.KS = np.empty((self.P.shape[0], self.Z.shape[0]))
        self.KS[: self.k] = self.K[self.idx]

    def use_points(self) -> None:
        """Back to the points form (K and its rows freed)."""
        self.K = self.KS = None

    def refactor(self) -> None:
        """G = PPᵀ and R from scratch (Cholesky of 11ᵀ + G, packed)."""
        k = self.k
        P = self.P[:k]
        self.G[:k, :k] = P @ P.T
        R = cholesky(self.G[:k, :k] + 1.0, lower=False, check_finite=False)
        self.R[: k * (k + 1) // 2] = dtrttp(np.asfortranarray(R), uplo="U")[0]
        self.updates = 0

    def solve(self, b: np.ndarray, trans: bool = False) -> np.ndarray:
        """x with R x = b (Rᵀx = b with ``trans``)."""
        k = self.k
        return dtpsv(k, self.R[: k * (k + 1) // 2], b, trans=int(trans))

    def insert(self, j: int) -> bool:
        """Append point j; False when it is numerically in the affine hull of S."""
        k = self.k
        z = self.Z[j]
        c = self.P[:k] @ z if self.KS is None else self.KS[:k, j]
        zz = float(z @ z) if self.K is None else float(self.K[j, j])
        r = self.solve(c + 1.0, trans=True)
        g = 1.0 + zz
        d2 = g - float(r @ r)
        if not d2 > 1e-13 * g:
            return False
        top = k * (k + 1) // 2
        self.R[top : top + k] = r
        self.R[top + k] = np.sqrt(d2)
        self.P[k] = z
        self.G[k, :k] = c
        self.G[:k, k] = c
        self.G[k, k] = zz
        if self.KS is not None:
            self.KS[k] = self.K[j]
        self.idx.append(j)
        self.updates += 1
        return True

    def delete(self, i: int) -> None:
        """Remove the i-th point of S (R re-triangularised without column i)."""
        k = self.k
        _compiled_drop_column()(self.R, k, i, *self.scratch)
        self.P[i : k - 1] = self.P[i + 1 : k]
        self.G[i : k - 1, :k] = self.G[i + 1 : k, :k]
        self.G[: k - 1, i : k - 1] = self.G[: k - 1, i + 1 : k]
        if self.KS is not None:
            self.KS[i : k - 1] = self.KS[i + 1 : k]
        del self.idx[i]
        self.updates += 1

    def affine_min(self, refine: int = 1, polish: bool = False) -> np.ndarray:
        """Barycentric coefficients α of the min-norm point of aff(S): (11ᵀ + G)u = 1, α = u/Σu,
        with ``refine`` steps of iterative refinement, the residual formed with G (|S|² a step), or
        with ``polish`` from the points themselves, P(Pᵀu): G's entries are rounded one by one, a
        perturbation the ill-conditioned system amplifies (a final gap of 1.6e-10 against 1.4e-11
        on Fashion-MNIST (2, 4), measured), where P(Pᵀu) is the product of the points as they are."""
        k = self.k
        G, P, one = self.G[:k, :k], self.P[:k], np.ones(k)

        def solve(b):
            return self.solve(self.solve(b, trans=True))

        u = solve(one)
        for _ in range(refine):
            u = u + solve(one - u.sum() - (P @ (u @ P) if polish else G @ u))
        return u / u.sum()

    def point(self, lam: np.ndarray) -> np.ndarray:
        return lam @ self.P[: self.k]


def _wolfe(Z: np.ndarray, tol: float, rtol: float, max_iter: int):
    """Wolfe's min-norm point of conv{rows of Z}: returns (p, λ, S) with p = Σ λᵢ Z[S[i]]."""
    A = _ActiveSet(Z, int(np.argmin((Z**2).sum(axis=1))))
    lam = np.array([1.0])
    n, d = Z.shape
    switch = gram_after(n) if n * n <= GRAM_ENTRIES else max_iter
    fresh = True  # the factor was rebuilt since the last change of S
    for it in range(max_iter):
        if it == switch:
            A.use_gram()
        if A.KS is None:
            x = A.point(lam)
            xx = float(x @ x)
            dots = Z @ x
        else:
            dots = lam @ A.KS[: A.k]
            xx = float(lam @ dots[A.idx])  # ‖x‖² = Σ_s λ_s⟨z_s, x⟩
        j = int(np.argmin(dots))
        viol = xx - dots[j]
        done = viol <= rtol * xx + _ROUND * math.sqrt(max(xx, 0.0)) or j in A.idx
        if A.KS is not None and (done or viol <= (A.k + d + 2) * _EPS):
            A.use_points()  # the Gram form cannot tell: the points form from here on, and it alone stops
            continue
        if done:
            if fresh:
                break
            A.refactor()  # polish on an exact factor before declaring convergence
            fresh = True
            alpha = A.affine_min(refine=3, polish=True)
            if np.all(alpha > tol):
                lam = alpha
            continue
        if not A.insert(j):
            A.refactor()
            if not A.insert(j):
                break
        fresh = False
        lam = np.append(lam, 0.0)
        while True:  # minor cycles: move towards the affine minimizer, dropping points that hit 0
            alpha = A.affine_min()
            if np.all(alpha > tol):
                lam = alpha
                break
            mask = alpha <= tol
            theta = np.min(lam[mask] / (lam[mask] - alpha[mask]))
            lam = theta * alpha + (1 - theta) * lam
            keep = lam > tol
            for i in np.flatnonzero(~keep)[::-1]:
                A.delete(int(i))
            lam = lam[keep]
            lam /= lam.sum()
        if A.updates >= REFACTOR_EVERY:
            A.refactor()
    return A.point(lam), lam, list(A.idx)
