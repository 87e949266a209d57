"""The two-layer network's GD steps (:mod:`eoscheck.networks`) compiled for the CPU: a block of steps per call (numba).

The K stepsizes' first layers side by side as one (d, K·m) array Wᵀ (column km + s: unit s of run k), a step is two
products and one compiled pass:

    P = X Wᵀ (n × K·m),   f_k(xᵢ) = (Σₛ max(P_{i,km+s}, 0)·aₛ)/√m,   Mᵢₖ = yᵢ f_k(xᵢ),
    ℓ(Mᵢₖ), ℓ′(Mᵢₖ) (the built-in losses' compiled forms, :func:`eoscheck.gdfused.loss_terms`),
    S_{i,km+s} = 1[P_{i,km+s} > 0]·ℓ′(Mᵢₖ)yᵢ/n,   ∇ᵀ = (XᵀS)·aₛ/√m per column   (eq. (9) of the paper),

then the records of step t — L = (1/n)Σᵢℓ(Mᵢₖ), M, ℓ′(M) and the norms ‖w‖, ‖∇L‖, ‖w − w₀‖ (:func:`_norm`: finite
and non-zero whenever the norm is, as :func:`eoscheck.gd.row_norms`) — and the recorder's rule: a run is shown at t
while it was at t − 1 and its M, ∇L are finite and L is not NaN; W ← W − η∇ on the runs shown.  The same operations
as the torch engine (:func:`eoscheck.networks.ntk_gradient`) within an element; the sums run in other, fixed orders
(the products as loops below :data:`SMALL_PRODUCT` multiply-adds, else in scipy's BLAS, which numba's ``np.dot``
calls, on one thread: :class:`eoscheck.resources.blas_single_thread`), so the two engines agree to rounding (tests/test_ntkfused.py
bounds each step's difference), not bit for bit, and each engine's reruns on one machine are bit-identical.  The
torch engine stays the reference and runs every other case: CUDA, float32, a loss given by a formula.

The update of a block's last step waits for the next call (``apply_first``): the driver reads the recorder's
verdicts (finished, sharpness at that step) between the two, as the torch engine does between its steps.
A torch step is ~45 small calls of ~10 µs: 0.42–0.64 ms for n = 8, d = 4, m = 64 and six stepsizes on the AMD EPYC
host (2026-12-07); this kernel's step there is 13.5 µs, 24 µs with the records derived and handed over
(benchmarks/bench_ntk.py, benchmarks/README.md).
"""

from __future__ import annotations

import math
import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numba import njit

from . import fastgd, gdfused
from .fastgd import SQUARE_FLOOR
from .gdfused import loss_terms
from .jitcache import drop_stale


@njit(inline="always", error_model="numpy")
def _entry(A, r, c, B, c0, sub):
    return A[r, c] - B[r, c - c0] if sub else A[r, c]


@njit(inline="always", error_model="numpy")
def _norm(A, c0, c1, B, sub):
    """(‖x‖, every xᵢ finite) for x = columns c0…c1−1 of A (minus B's columns 0…c1−c0−1 when ``sub``).

    Σxᵢ² in four interleaved lanes (i mod 4 along each row of A, combined as (s₀+s₁)+(s₂+s₃)); where it is finite and
    ≥ :data:`~eoscheck.fastgd.SQUARE_FLOOR` its root is the norm, else x is scaled by its max |xᵢ| first, as
    :func:`eoscheck.gd.row_norms` always does: NaN if an xᵢ is NaN, ∞ if one is ∞, the norm if only the squares
    overflowed or lost digits."""
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    for r in range(A.shape[0]):
        c = c0
        while c + 4 <= c1:
            x0 = _entry(A, r, c, B, c0, sub)
            x1 = _entry(A, r, c + 1, B, c0, sub)
            x2 = _entry(A, r, c + 2, B, c0, sub)
            x3 = _entry(A, r, c + 3, B, c0, sub)
            s0 += x0 * x0
            s1 += x1 * x1
            s2 += x2 * x2
            s3 += x3 * x3
            c += 4
        while c < c1:
            x0 = _entry(A, r, c, B, c0, sub)
            s0 += x0 * x0
            c += 1
    sq = (s0 + s1) + (s2 + s3)
    if sq < math.inf and sq >= SQUARE_FLOOR:
        return math.sqrt(sq), True
    mx = 0.0
    nan = False
    for r in range(A.shape[0]):
        for c in range(c0, c1):
            av = abs(_entry(A, r, c, B, c0, sub))
            if av > mx:
                mx = av
            elif av != av:
                nan = True
    if nan:
        return math.nan, False
    if not (mx > 0.0 and mx < math.inf):
        return mx, mx < math.inf
    t = 0.0
    for r in range(A.shape[0]):
        for c in range(c0, c1):
            u = _entry(A, r, c, B, c0, sub) / mx
            t += u * u
    return mx * math.sqrt(t), True


@njit(inline="always", error_model="numpy")
def _relu_dot(P, i, off, a):
    """Σₛ max(P[i, off + s], 0)·aₛ (a NaN kept, as torch's clamp) in four interleaved lanes, (s₀+s₁)+(s₂+s₃)."""
    m = a.shape[0]
    f0 = 0.0
    f1 = 0.0
    f2 = 0.0
    f3 = 0.0
    s = 0
    while s + 4 <= m:
        p0 = P[i, off + s]
        p1 = P[i, off + s + 1]
        p2 = P[i, off + s + 2]
        p3 = P[i, off + s + 3]
        f0 += (0.0 if p0 < 0.0 else p0) * a[s]
        f1 += (0.0 if p1 < 0.0 else p1) * a[s + 1]
        f2 += (0.0 if p2 < 0.0 else p2) * a[s + 2]
        f3 += (0.0 if p3 < 0.0 else p3) * a[s + 3]
        s += 4
    while s < m:
        p0 = P[i, off + s]
        f0 += (0.0 if p0 < 0.0 else p0) * a[s]
        s += 1
    return (f0 + f1) + (f2 + f3)


@njit(inline="always", error_model="numpy")
def _products_into(A, B, out):
    """out = A·B by loops (small problems: a BLAS call costs more than the work), out[i, :] += A[i, j]·B[j, :] in j
    order: a fixed order, the inner loop contiguous."""
    for i in range(A.shape[0]):
        for c in range(out.shape[1]):
            out[i, c] = 0.0
        for j in range(A.shape[1]):
            x = A[i, j]
            for c in range(out.shape[1]):
                out[i, c] += x * B[j, c]


#: Below this many multiply-adds a product (n·d·K·m), the products run as loops, else in the BLAS.
SMALL_PRODUCT = 1 << 16


@njit(nogil=True, cache=True, error_model="numpy")
def ntk_block(kind, apar, X, XT, y, a, W0T, eta, WT, GT, alive, P, S, apply_first, Mo, DLo, Lo, No, OKo, SHo):
    """Steps j = 0 … S−1 of a block (S = Lo.shape[0]) from Wᵀ (d, K·m), updated in place (column km + s is unit s of
    run k).

    Before step j > 0 (and before step 0 when ``apply_first``) Wᵀ ← Wᵀ − η_k∇_kᵀ on the runs ``alive`` (the previous
    step's gradient ∇ᵀ = GT, kept between calls).  Step j writes Mo[j], DLo[j] (K, n): the margins and ℓ′; Lo[j] (K,)
    the loss; No[j] (3K,) ‖w‖, ‖∇L‖, ‖w − w₀‖; OKo[j] the finiteness rule; SHo[j] = alive ∧ OK, which becomes
    ``alive``.  P and S are (n, K·m) scratch; the products by :data:`SMALL_PRODUCT`."""
    n, d = X.shape
    K = eta.shape[0]
    m = a.shape[0]
    rt = math.sqrt(m)
    inv_n = 1.0 / n
    steps = Lo.shape[0]
    small = n * d * K * m < SMALL_PRODUCT
    for j in range(steps):
        if j > 0 or apply_first:
            for k in range(K):
                if alive[k]:
                    e = eta[k]
                    for c in range(d):
                        for r in range(k * m, (k + 1) * m):
                            WT[c, r] = WT[c, r] - e * GT[c, r]
        if small:
            _products_into(X, WT, P)
        else:
            np.dot(X, WT, P)
        for k in range(K):
            vs = 0.0
            bad = 0.0
            for i in range(n):
                mi = y[i] * (_relu_dot(P, i, k * m, a) / rt)
                v, q, _ = loss_terms(kind, apar, mi, False)
                dl = -q
                Mo[j, k, i] = mi
                DLo[j, k, i] = dl
                vs += v
                bad += mi - mi
                c = dl * y[i] * inv_n
                for s in range(m):
                    S[i, k * m + s] = (1.0 if P[i, k * m + s] > 0.0 else 0.0) * c
            Lo[j, k] = vs / n
            OKo[j, k] = bad == 0.0 and not (Lo[j, k] != Lo[j, k])
        if small:
            _products_into(XT, S, GT)
        else:
            np.dot(XT, S, GT)
        for c in range(d):
            for k in range(K):
                for s in range(m):
                    GT[c, k * m + s] = GT[c, k * m + s] * (a[s] / rt)
        for k in range(K):
            No[j, k] = _norm(WT, k * m, (k + 1) * m, W0T, False)[0]
            No[j, K + k], gfin = _norm(GT, k * m, (k + 1) * m, W0T, False)
            No[j, 2 * K + k] = _norm(WT, k * m, (k + 1) * m, W0T, True)[0]
            ok = OKo[j, k] and gfin
            OKo[j, k] = ok
            alive[k] = alive[k] and ok
            SHo[j, k] = alive[k]


drop_stale(ntk_block, gdfused, fastgd)   # the cached code inlines gdfused's loss terms and fastgd's SQUARE_FLOOR

class NTKBlock:
    """The state of K network runs on the compiled path: Wᵀ (d, K·m), the last gradient, the runs shown, and the
    scratch of a step; :meth:`advance` runs a block of steps into new record arrays."""

    def __init__(self, X: np.ndarray, y: np.ndarray, a: np.ndarray, W0: np.ndarray, eta: np.ndarray, kind):
        self.kind, self.apar = kind
        self.X = np.ascontiguousarray(X, dtype=np.float64)
        self.XT = np.ascontiguousarray(self.X.T)
        self.y = np.ascontiguousarray(y, dtype=np.float64)
        self.a = np.ascontiguousarray(a, dtype=np.float64)
        self.W0T = np.ascontiguousarray(np.asarray(W0, dtype=np.float64).T)
        self.eta = np.ascontiguousarray(eta, dtype=np.float64)
        K, (d, m), n = len(self.eta), self.W0T.shape, self.X.shape[0]
        self.shape = (K, m, d)
        self.WT = np.ascontiguousarray(np.tile(self.W0T, (1, K)))
        self.GT = np.zeros((d, K * m))
        self.alive = np.ones(K, dtype=bool)
        self.P = np.empty((n, K * m))
        self.S = np.empty((n, K * m))
        self.pending = False           # the last block's last update, not applied yet

    def advance(self, steps: int) -> tuple[np.ndarray, ...]:
        """``steps`` more steps: (M, ℓ′(M)) (S, K, n), L (S, K), norms (S, 3K), ok and shown (S, K)."""
        K, n = len(self.eta), self.X.shape[0]
        Mo, DLo = np.empty((steps, K, n)), np.empty((steps, K, n))
        Lo, No = np.empty((steps, K)), np.empty((steps, 3 * K))
        OKo, SHo = np.empty((steps, K), dtype=bool), np.empty((steps, K), dtype=bool)
        with np.errstate(all="ignore"):
            ntk_block(self.kind, self.apar, self.X, self.XT, self.y, self.a, self.W0T, self.eta, self.WT, self.GT,
                      self.alive, self.P, self.S, self.pending, Mo, DLo, Lo, No, OKo, SHo)
        self.pending = True
        return Mo, DLo, Lo, No, OKo, SHo

    def _runs(self, AT: np.ndarray) -> np.ndarray:
        K, m, d = self.shape
        return np.ascontiguousarray(AT.T).reshape(K, m, d)

    def weights(self) -> np.ndarray:
        """W_t of the last step run, (K, m, d) (its update is still pending)."""
        return self._runs(self.WT)

    def gradient(self) -> np.ndarray:
        """∇L(W_t) of the last step run, (K, m, d)."""
        return self._runs(self.GT)


def split_runs(K: int, parts: int) -> list[tuple[int, int]]:
    """(lo, hi) of ``parts`` contiguous groups of the K runs, their sizes differing by at most one."""
    parts = max(1, min(int(parts), K))
    return [(K * p // parts, K * (p + 1) // parts) for p in range(parts)]


def thread_parts(n: int, d: int, K: int, m: int) -> int:
    """How many groups of runs a problem's steps run in, side by side on threads: one for a small problem (below
    :data:`SMALL_PRODUCT` multiply-adds a product: a block's work is too short for a thread hand-over), else one per
    CPU the process may run on, up to K.  Fixed by the problem and the machine, never by its load (a group's
    products are the BLAS's on its own columns, which may round otherwise than the same columns of a larger
    product): threads that find the other CPU busy wait for it, they never spin."""
    if n * d * K * m < SMALL_PRODUCT:
        return 1
    cpus = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)
    return max(1, min(K, cpus))


class NTKRuns:
    """K runs as groups (:func:`split_runs`) of :class:`NTKBlock`, each advanced on its own thread (``nogil``); the
    runs are independent, so a group's records are those it would have alone.  :meth:`advance` gives the K runs'
    records in order."""

    def __init__(self, X, y, a, W0, eta, kind, parts: int = 1):
        eta = np.asarray(eta, dtype=np.float64)
        self.blocks = [NTKBlock(X, y, a, W0, eta[lo:hi], kind) for lo, hi in split_runs(len(eta), parts)]
        self._pool = ThreadPoolExecutor(len(self.blocks)) if len(self.blocks) > 1 else None

    def advance(self, steps: int) -> tuple[np.ndarray, ...]:
        """:meth:`NTKBlock.advance` of every group, the runs side by side (norms: ‖w‖, ‖∇L‖, ‖w − w₀‖ of the K runs)."""
        if self._pool is None:
            return self.blocks[0].advance(steps)
        outs = list(self._pool.map(lambda b: b.advance(steps), self.blocks))
        M, DL, L, N, OK, SH = ([o[i] for o in outs] for i in range(6))
        norms = [n[:, g * len(b.eta):(g + 1) * len(b.eta)] for g in range(3) for n, b in zip(N, self.blocks)]
        return (np.concatenate(M, axis=1), np.concatenate(DL, axis=1), np.concatenate(L, axis=1),
                np.concatenate(norms, axis=1), np.concatenate(OK, axis=1), np.concatenate(SH, axis=1))

    def weights(self) -> np.ndarray:
        return np.concatenate([b.weights() for b in self.blocks])

    def gradient(self) -> np.ndarray:
        return np.concatenate([b.gradient() for b in self.blocks])

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown()


__all__ = ["NTKBlock", "NTKRuns", "ntk_block", "split_runs", "thread_parts"]
