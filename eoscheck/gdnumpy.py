"""The numpy path of the fast GD engine: the reference the fused path is tested against.

The recursion is eq. (GD), w_{t+1} = w_t − (η/n) Zᵀ ℓ′(Z w_t), for k stepsizes at once, in one
of two algebraically equal forms (``method``):

* ``primal``: W ← W + S Z, S = (η/n)·q(M), q = −ℓ′, M = W Zᵀ — two GEMMs, 4nd flops per
  stepsize-step;
* ``gram``: w = w₀ + Zᵀc with c ← c + S and M ← M + S K, K = Z Zᵀ — one GEMM, 2n² flops.
  ‖w‖² = c·M, ⟨w, w*⟩ = c·(Zw*), ‖∇L‖ = √(S·SK)/η, w_T = Zᵀc.  M is the state and c
  the bookkeeping: M's local error per step is that of the primal form (ε|SK| + ε|M|),
  while recomputing M = cK would cost ε·|c|·|K|, up to (max‖zᵢ‖/γ)² times more when w is a
  cancelling combination of the zᵢ (measured: 6e-15 vs 4e-16 per step on thm3(0.05)), so M
  is never "re-synchronised" from c.

Each step does only what the next one needs (M, q, the GEMM, the update) and keeps M_t, q_t
and the state in chunk buffers (slot j = step t0 + j); the row sums behind the records are
taken per step right after q while the margins are in cache ("inline", large k·n) or once
per chunk over all its steps ("batched", small k·n, where Python calls dominate).  The
elementwise work is numpy passes over the :mod:`eoscheck.lossnp` kernels (~40 per step).
:class:`ChunkBuffers` holds what every CPU path shares: the buffers, the freeze rule and the
rare exact per-(step, row) checks.

The products go through the BLAS library (fused multiply-add); the compiled small-problem loops round each
product and sum apart.  Back ends agree relative to the products' scale Σᵢ|sᵢ|·|zᵢ|, not to a result that
cancels: where an update cancels exactly (±z pairs with opposite labels, ∇L(0) = 0), the BLAS paths keep one
product's rounding (≈ ulp·|s||z|) where the loops give 0, so w stays at 0 in one and moves by that residue in
the other — a train error of 1 against 0.5 there, and at η ≳ 1/residue (1e30) a divergence in one back end only.
"""

from __future__ import annotations

import functools

import numpy as np
import torch

from .gdinputs import requested_gemm
from .lossnp import Kernel
from .maxmargin import row_norm_max, row_norms
from .sharpness import batch_sharpness_np

#: Elements per chunk buffer (chunk length × rows × n), about one L2 cache.
CHUNK_ELEMS = 1 << 16
MAX_CHUNK = 2048

#: Slot size k·n from which the reductions run per step, while the margins are in cache.
INLINE_ELEMS = 8192
RECORD_ONLY = ("expneg_sum", "le0", "wn2", "wproj")
REDUCED = ("value_sum", "q_sum", "m_min", "m_max", "gn2") + RECORD_ONLY


def chunk_length(k: int, n: int) -> int:
    """Steps per chunk: ~2¹⁶ elements per buffer when batched; 2–64 slots (≤ 2²¹ elements) when
    inline, which amortises the ~1 ms of bookkeeping per chunk."""
    if k * n >= INLINE_ELEMS:
        return int(max(2, min(64, (1 << 21) // (k * n))))
    return int(max(1, min(MAX_CHUNK, CHUNK_ELEMS // max(1, k * n))))


def torch_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """a @ b into out through torch (MKL on x86 builds), on the numpy memory."""
    torch.matmul(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))


def default_gemm() -> str:
    """GEMM library of the numpy backend: ``EOSCHECK_GEMM`` (mkl|openblas), else MKL (through torch)
    on Intel CPUs, where it is 1.3–1.7× faster than OpenBLAS on the thin (k ≤ 64 rows) products
    of this engine, and numpy's OpenBLAS elsewhere (faster on AMD, per the issue's measurements).
    Fixed per machine, so reruns are bit-identical."""
    env = requested_gemm()
    if env is not None:
        return env if (env == "openblas" or torch.backends.mkl.is_available()) else "openblas"
    return "mkl" if (_intel_cpu() and torch.backends.mkl.is_available()) else "openblas"


@functools.lru_cache(maxsize=1)
def _intel_cpu() -> bool:
    """Is this an Intel CPU (/proc/cpuinfo, read once per process)?"""
    try:
        with open("/proc/cpuinfo") as fh:
            return "GenuineIntel" in fh.read(4096)
    except OSError:
        return False


def with_pad(k_real: int, k: int, rows, js):
    """A one-row block padded to two rows carries a copy of its row (see ChunkBuffers): freeze the copy too."""
    if k_real == 1 and k == 2:
        return np.array([0, 1]), np.array([js[0], js[0]])
    return np.asarray(rows), np.asarray(js)


# ---------------------------------------------------------------------------------
# numpy backend
# ---------------------------------------------------------------------------------



class ChunkBuffers:
    """Chunk buffers M, X (c or W), Q of shape (C+1|C, k, ·) (Q: one slot in the fused block, whose
    :meth:`q_row` recomputes a slot's q), the per-step row sums ``red`` and what the driver asks of
    them: reductions, rolling and freezing, and the rare exact checks.

    A single row is padded to two (a copy, discarded): BLAS would use gemv for one row, which
    rounds differently from gemm.  A row's last bits can still depend on its batch's size: the mode
    (small or BLAS), the GEMM library and the panels are chosen from the step's flops, K·n·d (η = 37
    alone and among four others differed by 5e-16 on n = 1024, d = 200); never on the load or the threads.
    """

    def init_rows(self, Z, eta: np.ndarray, chunk: int, pad: bool = True) -> np.ndarray:
        """Sizes k_real (stepsizes), k (rows, after padding), n, d, C; returns the rows' η."""
        self.k_real = len(eta)
        if self.k_real == 1 and pad:
            eta = np.concatenate([eta, eta])
        self.n, self.d = Z.shape
        self.k, self.C, self.eta = len(eta), chunk, eta
        return eta

    def roll(self, nsteps: int) -> None:
        """Slot nsteps becomes slot 0 for the next chunk."""
        self.M[0] = self.M[nsteps]
        self.X[0] = self.X[nsteps]

    def freeze(self, rows: np.ndarray, js: np.ndarray, nsteps: int) -> None:
        """Rows that left the float range at slot j stay at w_{t0+j} from then on (reference rule)."""
        rows, js = with_pad(self.k_real, self.k, rows, js)
        for r, j in zip(rows, js):
            self.M[j + 1:nsteps + 1, r] = self.M[j, r]
            self.X[j + 1:nsteps + 1, r] = self.X[j, r]
        self.dead[rows] = True
        self.dead_idx = np.flatnonzero(self.dead)

    def reductions(self, nsteps: int, rec: np.ndarray, full: bool) -> dict[str, np.ndarray]:
        """(nsteps, k) row sums per step; the record-only ones at the recorded slots ``rec``."""
        red = {key: v[:nsteps] for key, v in self.red.items() if key not in RECORD_ONLY}
        for key in RECORD_ONLY:
            red[key] = self.red[key][:nsteps] if full else self.red[key][rec]
        if not self.has_wstar:
            red["wproj"] = None
        return red

    # --- rare, exact per-(step, row) checks; the (js, rs) ones take every cell of a chunk at once ---------------
    def lse_log_values(self, js: np.ndarray, rs: np.ndarray) -> np.ndarray:
        """ln Σᵢ ℓ(M_i) at slots ``js``, rows ``rs``, in the log domain (the reference's fallback when L under- or
        overflows): one logsumexp over the cells' rows, each row's bits those of its own logsumexp on the one torch
        thread the engine holds (``single_torch_thread``; with two, a row of 40,000 margins split differently)."""
        return torch.logsumexp(torch.from_numpy(self.kernel.log_value(self.M[js, rs])), 1).numpy()

    def lse_negms(self, js: np.ndarray, rs: np.ndarray) -> np.ndarray:
        """ln Σᵢ exp(−M_i) at the cells (js, rs), in the log domain."""
        return torch.logsumexp(torch.from_numpy(-self.M[js, rs]), 1).numpy()

    def q_row(self, j: int, r: int) -> np.ndarray:
        """q = −ℓ′(M) of row r at slot j."""
        return self.Q[j, r]

    def q_finite(self, j: int, r: int) -> bool:
        return bool(np.isfinite(self.q_row(j, r)).all())

    def grad_finite(self, j: int, r: int) -> bool:
        """Is ∇L = −(1/n) Zᵀq finite (as the reference checks)?  Only asked when |q|·|Z| is huge."""
        with np.errstate(all="ignore"):
            return bool(np.isfinite(self.q_row(j, r) @ self.Z).all())

    def grad_norms(self, js: np.ndarray, rs: np.ndarray) -> np.ndarray:
        """‖∇L‖ = ‖(1/n) Zᵀℓ′(M)‖ at the cells (js, rs), computed as the reference does (for a gradient that
        overflowed, or a norm whose square left the float range): one product per cell, as for one cell alone."""
        with np.errstate(all="ignore"):
            G = np.array([(-self.q_row(j, r)) @ self.Z for j, r in zip(js, rs)]).reshape(len(js), self.d)
            return row_norms(G / self.n)

    def w_norm(self, j: int, r: int) -> float:
        """‖w‖ of row r at slot j from the iterate itself (for a ‖w‖² that over- or underflowed)."""
        X = self.X[j, r]
        if not X.any():                 # w = 0 (every run's step 0 from w₀ = 0): no O(nd) product
            return 0.0
        with np.errstate(all="ignore"):
            return row_norm_max((X @ self.Z if self.method == "gram" else X)[None])

    def sharpness(self, j: int) -> np.ndarray:
        """λ_max(∇²L(w_t)) per row, closed form (see :func:`eoscheck.gd.sharpness`)."""
        return batch_sharpness_np(self.kernel.hess(self.M[j]) / self.n, self.Z)

    def final_w(self, j: int) -> np.ndarray:
        X = self.X[j]
        return X @ self.Z if self.method == "gram" else X.copy()


class NumpyBlock(ChunkBuffers):
    """The iterates of a block of k stepsizes, advanced chunk by chunk on numpy arrays.

    Slot j of the chunk buffers holds step t0 + j: margins M, q = −ℓ′(M) and the state X
    (c or W; slot nsteps is the next chunk's).  Two ways to reduce them to the (k,) numbers
    the records need: *inline* (large k·n), right after q while M is still in cache, or
    *batched* (small k·n), once per chunk over all slots, which saves Python calls.
    """

    def __init__(self, Z: np.ndarray, Kmat: np.ndarray | None, eta: np.ndarray, w0: np.ndarray | None,
                 w_star: np.ndarray | None, kernel: Kernel, method: str, chunk: int, gemm: str):
        self.Z, self.Kmat, self.kernel, self.method = Z, Kmat, kernel, method
        eta = self.init_rows(Z, eta, chunk)
        k, n, d = self.k, self.n, self.d
        self.coef = np.ascontiguousarray(np.broadcast_to((eta / n)[:, None], (k, n)))
        self.inline = k * n >= INLINE_ELEMS
        p = n if method == "gram" else d
        C1 = 1 if self.inline else chunk      # per-slot scratch only where reductions are batched
        self.M = np.zeros((chunk + 1, k, n))
        self.X = np.zeros((chunk + 1, k, p))
        self.Q = np.zeros((chunk, k, n))
        self.D = np.zeros((C1, k, p))
        self.E = np.zeros((C1, k, n))
        self.LE = np.zeros((C1, k, n))          # 1.0 where M ≤ 0, when the kernel makes it
        self.T = np.zeros((C1, k, n))           # scratch
        self.S = np.zeros((k, n))
        self.dead = np.zeros(k, dtype=bool)
        self.dead_idx = np.zeros(0, dtype=np.int64)
        self.zt = np.ascontiguousarray(Z.T)
        self.red = {key: np.zeros((chunk, k)) for key in REDUCED}
        # per-slot views, made once (indexing a buffer costs as much as a small ufunc call)
        self.Mv, self.Xv, self.Qv = list(self.M), list(self.X), list(self.Q)
        self.Dv, self.Ev, self.LEv = ([a[0]] * chunk if C1 == 1 else list(a) for a in (self.D, self.E, self.LE))
        # MKL's call overhead (~3 µs) only pays off on products that take far longer
        self.gemm = gemm if self.inline else "openblas"
        self.mm = torch_matmul if self.gemm == "mkl" else np.matmul
        if method == "primal":
            if w0 is not None:
                self.X[0] = w0
            self.mm(self.X[0], self.zt, out=self.M[0])
        elif w0 is not None and np.any(w0):
            raise ValueError("the gram form needs w0 = 0")
        self.wstar = w_star
        self.has_wstar = w_star is not None
        self.v = None if w_star is None else Z @ w_star  # margins of w*: ⟨Zᵀc, w*⟩ = c·v
        self.zmax = float(np.max(np.abs(Z))) if Z.size else 0.0

    # --- stepping ------------------------------------------------------------------
    def advance(self, t0: int, nsteps: int, recorded: np.ndarray) -> None:
        """Steps t0 .. t0+nsteps−1 into slots 0..nsteps−1, and the state of step t0+nsteps.

        Per step: M → q → S = (η/n)q → one GEMM → the next M (gram) or W (primal).
        η²‖∇L‖² = ‖Zᵀ S‖² (S·SK for gram, ‖SZ‖² for primal) and c = c₀ + Σ S (in the
        order of the steps) come per step (inline) or per chunk (batched).
        """
        Mv, Xv, Qv, Ev, Dv, LEv = self.Mv, self.Xv, self.Qv, self.Ev, self.Dv, self.LEv
        coef, dead, inline, T0 = self.coef, self.dead_idx, self.inline, self.T[0]
        q, mm, multiply, add, vecdot = self.kernel.q, self.mm, np.multiply, np.add, np.vecdot
        gn2 = self.red["gn2"]
        if self.method == "gram":
            Kmat = self.Kmat
            for j in range(nsteps):
                M, Q = Mv[j], Qv[j]
                S = self.S if inline else Xv[j + 1]    # batched: S waits where c_{t+1} is summed
                q(M, Q, Ev[j], LEv[j], T0)
                if inline:
                    self._reduce(j, j + 1, recorded[j:j + 1])
                multiply(Q, coef, out=S)
                if dead.size:
                    S[dead] = 0.0
                mm(S, Kmat, out=Dv[j])
                add(M, Dv[j], out=Mv[j + 1])
                if inline:
                    vecdot(S, Dv[j], out=gn2[j])
                    add(Xv[j], S, out=Xv[j + 1])
            if not inline:
                X = self.X[: nsteps + 1]
                vecdot(X[1:], self.D[:nsteps], out=gn2[:nsteps])   # S·SK
                np.add.accumulate(X, axis=0, out=X)                   # c_{t+1} = c_t + S_t
        else:
            Z, zt, S = self.Z, self.zt, self.S
            for j in range(nsteps):
                if j:
                    mm(Xv[j], zt, out=Mv[j])
                q(Mv[j], Qv[j], Ev[j], LEv[j], T0)
                if inline:
                    self._reduce(j, j + 1, recorded[j:j + 1])
                multiply(Qv[j], coef, out=S)
                if dead.size:
                    S[dead] = 0.0
                mm(S, Z, out=Dv[j])
                if inline:
                    vecdot(Dv[j], Dv[j], out=gn2[j])
                add(Xv[j], Dv[j], out=Xv[j + 1])
            mm(Xv[nsteps], zt, out=Mv[nsteps])
            if not inline:
                D = self.D[:nsteps]
                vecdot(D, D, out=gn2[:nsteps])
        if not inline:
            self._reduce(0, nsteps, recorded[:nsteps])

    def _reduce(self, a: int, b: int, recorded: np.ndarray) -> None:
        """Row sums for slots a..b−1 into ``self.red``: Σℓ, Σ|ℓ′|, min/max M for every step;
        Σexp(−M), #{M ≤ 0}, ‖w‖², ⟨w, w*⟩ for the recorded ones."""
        kern, red, C = self.kernel, self.red, b - a
        M, Q, T = self.M[a:b], self.Q[a:b], self.T[:C]
        E = self.E[:C]
        red["value_sum"][a:b] = kern.value_sum(M, E, Q, T, self.LE[:C] if kern.makes_le else None)
        np.add.reduce(Q if kern.monotone else np.abs(Q), axis=-1, out=red["q_sum"][a:b])
        np.minimum.reduce(M, axis=-1, out=red["m_min"][a:b])
        np.maximum.reduce(M, axis=-1, out=red["m_max"][a:b])
        if not recorded.any():
            return
        if recorded.all():
            sl, Mr, Qr, Xr, Tr = slice(a, b), M, Q, self.X[a:b], T
            LEr = self.LE[:C] if kern.makes_le else None
        else:
            idx = np.flatnonzero(recorded)
            sl, Mr, Qr, Xr, Tr = a + idx, M[idx], Q[idx], self.X[a:b][idx], T[: len(idx)]
            LEr = self.LE[:C][idx] if kern.makes_le else None
        red["expneg_sum"][sl] = kern.expneg_sum(Mr, Qr, Tr)
        red["le0"][sl] = LEr.sum(axis=-1) if LEr is not None else np.count_nonzero(Mr <= 0, axis=-1)
        if self.method == "gram":
            red["wn2"][sl] = np.vecdot(Xr, Mr)
            if self.v is not None:
                red["wproj"][sl] = Xr @ self.v
        else:
            red["wn2"][sl] = np.vecdot(Xr, Xr)
            if self.wstar is not None:
                red["wproj"][sl] = Xr @ self.wstar
