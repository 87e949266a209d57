"""Fast batched GD on a linear model: chunked steps, records computed per chunk.

The recursion is the reference engine's (:class:`eoscheck.gd._LinearGD`), eq. (GD):
w_{t+1} = w_t − (η/n) Zᵀ ℓ′(Z w_t), for K stepsizes at once.  Two algebraically
equal forms advance it (``method``):

* ``primal``: W ← W + S Z, S = (η/n)·q(M), q = −ℓ′, M = W Zᵀ — two GEMMs, 4nd flops per
  stepsize-step;
* ``gram``: w = w₀ + Zᵀc with c ← c + S and M ← M + S K, K = Z Zᵀ — one GEMM, 2n² flops.
  ‖w‖² = c·M, ⟨w, w*⟩ = c·(Zw*), ‖∇L‖ = √(S·SK)/η, w_T = Zᵀc.  M is the state and c
  the bookkeeping: M's local error per step is that of the primal form (ε|SK| + ε|M|),
  while recomputing M = cK would cost ε·|c|·|K|, up to (max‖zᵢ‖/γ)² times more when w is a
  cancelling combination of the zᵢ (measured: 6e-15 vs 4e-16 per step on thm3(0.05)), so M
  is never "re-synchronised" from c: M and c drift apart only by the rounding of their own
  sums, which is the same size as the reference's drift of W.

Each step does only what the next one needs (M, q, the GEMM, the update) and keeps
M_t, q_t and the state in chunk buffers; the records and the exact per-step trackers
(last increase, first hitting times, running averages, the argmax) are computed per
chunk in vectorised form (:class:`_Recorder`).  The row sums behind the records are
taken per step right after q while the margins are in cache ("inline", large k·n) or
once per chunk over all its steps ("batched", small k·n, where Python calls dominate).
Rows (stepsizes) are independent: a row that leaves the float range at step t is found
from the chunk's sums, frozen at w_t, and recorded as in the reference from t on.

Parallelism (CPU, numpy backend): the gram form splits the data points into column parts,
part 0 here and the others in forked worker processes on shared memory, meeting at one
barrier per step (:class:`_GramColumns`; threads where fork is missing); the primal form
splits the stepsizes into row blocks run by threads with no barrier (:func:`_run_threads`).
BLAS and MKL run single-threaded inside either.  The GEMM library is fixed per machine
(:func:`default_gemm`), so reruns are bit-identical.

Backends: numpy (``_lossnp`` kernels; GEMMs by OpenBLAS or MKL through torch) and torch
(any device, the loss's own torch evaluators; the CUDA path).
"""

from __future__ import annotations

import math
import mmap
import os
import signal
import sys
import threading
import warnings

import numpy as np
import torch

from ._lossnp import Kernel, kernel_for
from .losses import Loss
from .trajectory import RECORDED

#: A margin sum bound above which the gradient Zᵀq is computed to check it is finite.
_DANGER = 1e300
#: Elements per chunk buffer (chunk length × rows × n), about one L2 cache.
_CHUNK_ELEMS = 1 << 16
_MAX_CHUNK = 2048


def flops_per_step(n: int, d: int, method: str) -> float:
    """Floating-point operations of the GEMMs of one stepsize-step: 4nd (primal), 2n² (gram)."""
    return 4.0 * n * d if method == "primal" else 2.0 * n * n


def choose_method(n: int, d: int, w0_zero: bool) -> str:
    """The cheaper form: gram when 2n² ≤ ¾·4nd (n ≤ 1.5d), w₀ = 0 and n ≥ 64, else primal.

    Below n = 64 a step costs its Python calls, not its flops, and the primal form
    then rounds like the reference (same sums in the same order).
    """
    return "gram" if (w0_zero and n >= 64 and 2 * n * n <= 3 * n * d) else "primal"


#: Slot size k·n from which the reductions run per step, while the margins are in cache.
_INLINE_ELEMS = 8192
_RECORD_ONLY = ("expneg_sum", "le0", "wn2", "wproj")
_REDUCED = ("value_sum", "q_sum", "m_min", "m_max", "gn2") + _RECORD_ONLY


def chunk_length(k: int, n: int) -> int:
    """Steps per chunk: ~2¹⁶ elements per buffer when batched; 2–64 slots (≤ 2²¹ elements) when
    inline, which amortises the ~1 ms of bookkeeping per chunk."""
    if k * n >= _INLINE_ELEMS:
        return int(max(2, min(64, (1 << 21) // (k * n))))
    return int(max(1, min(_MAX_CHUNK, _CHUNK_ELEMS // max(1, k * n))))


def _torch_matmul(a: np.ndarray, b: np.ndarray, out: np.ndarray) -> None:
    """a @ b into out through torch (MKL on x86 builds), on the numpy memory."""
    torch.matmul(torch.from_numpy(a), torch.from_numpy(b), out=torch.from_numpy(out))


def default_gemm() -> str:
    """GEMM library of the numpy backend: ``EOSCHECK_GEMM`` (mkl|openblas), else MKL (through torch)
    on Intel CPUs, where it is 1.3–1.7× faster than OpenBLAS on the thin (k ≤ 64 rows) products
    of this engine, and numpy's OpenBLAS elsewhere (faster on AMD, per the issue's measurements).
    Fixed per machine, so reruns are bit-identical."""
    env = os.environ.get("EOSCHECK_GEMM", "").lower()
    if env in ("mkl", "openblas"):
        return env if (env == "openblas" or torch.backends.mkl.is_available()) else "openblas"
    try:
        with open("/proc/cpuinfo") as fh:
            intel = "GenuineIntel" in fh.read(4096)
    except OSError:
        intel = False
    return "mkl" if (intel and torch.backends.mkl.is_available()) else "openblas"


def _with_pad(k_real: int, rows, js):
    """A one-row block carries a copy of its row (see _NumpyBlock): freeze the copy too."""
    if k_real == 1:
        return np.array([0, 1]), np.array([js[0], js[0]])
    return np.asarray(rows), np.asarray(js)


# ---------------------------------------------------------------------------------
# numpy backend
# ---------------------------------------------------------------------------------


class _NumpyBlock:
    """The iterates of a block of k stepsizes, advanced chunk by chunk on numpy arrays.

    Slot j of the chunk buffers holds step t0 + j: margins M, q = −ℓ′(M) and the state X
    (c or W; slot nsteps is the next chunk's).  Two ways to reduce them to the (k,) numbers
    the records need: *inline* (large k·n), right after q while M is still in cache, or
    *batched* (small k·n), once per chunk over all slots, which saves Python calls.
    """

    def __init__(self, Z: np.ndarray, Kmat: np.ndarray | None, eta: np.ndarray, w0: np.ndarray | None,
                 w_star: np.ndarray | None, kernel: Kernel, method: str, chunk: int, gemm: str):
        self.Z, self.Kmat, self.kernel, self.method = Z, Kmat, kernel, method
        n, d = Z.shape
        # a single row would make BLAS use gemv, which rounds differently from the batched gemm:
        # pad to two rows (the copy is discarded) so a row's result does not depend on the batch
        self.k_real = k = len(eta)
        if k == 1:
            eta = np.concatenate([eta, eta])
            k = 2
        self.k, self.n, self.d, self.C = k, n, d, chunk
        self.eta = eta
        self.coef = np.ascontiguousarray(np.broadcast_to((eta / n)[:, None], (k, n)))
        self.inline = k * n >= _INLINE_ELEMS
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
        self.red = {key: np.zeros((chunk, k)) for key in _REDUCED}
        # per-slot views, made once (indexing a buffer costs as much as a small ufunc call)
        self.Mv, self.Xv, self.Qv = list(self.M), list(self.X), list(self.Q)
        self.Dv, self.Ev, self.LEv = ([a[0]] * chunk if C1 == 1 else list(a) for a in (self.D, self.E, self.LE))
        # MKL's call overhead (~3 µs) only pays off on products that take far longer
        self.gemm = gemm if self.inline else "openblas"
        self.mm = _torch_matmul if self.gemm == "mkl" else np.matmul
        if method == "primal":
            if w0 is not None:
                self.X[0] = w0
            self.mm(self.X[0], self.zt, out=self.M[0])
        elif w0 is not None and np.any(w0):
            raise ValueError("the gram form needs w0 = 0")
        self.wstar = w_star
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

    def roll(self, nsteps: int) -> None:
        """Slot nsteps becomes slot 0 for the next chunk."""
        self.M[0] = self.M[nsteps]
        self.X[0] = self.X[nsteps]

    def freeze(self, rows: np.ndarray, js: np.ndarray, nsteps: int) -> None:
        """Rows that left the float range at slot j stay at w_{t0+j} from then on (reference rule)."""
        rows, js = _with_pad(self.k_real, rows, js)
        for r, j in zip(rows, js):
            self.M[j + 1:nsteps + 1, r] = self.M[j, r]
            self.X[j + 1:nsteps + 1, r] = self.X[j, r]
        self.dead[rows] = True
        self.dead_idx = np.flatnonzero(self.dead)

    def reductions(self, nsteps: int, rec: np.ndarray, full: bool) -> dict[str, np.ndarray]:
        """(nsteps, k) row sums per step; the record-only ones at the recorded slots ``rec``."""
        red = {key: v[:nsteps] for key, v in self.red.items() if key not in _RECORD_ONLY}
        for key in _RECORD_ONLY:
            red[key] = self.red[key][:nsteps] if full else self.red[key][rec]
        if self.wstar is None:
            red["wproj"] = None
        return red

    # --- rare, exact per-(step, row) checks ----------------------------------------------
    def lse_log_value(self, j: int, r: int) -> float:
        """ln Σᵢ ℓ(M_i) in the log domain (the reference's fallback when L under/overflows)."""
        return float(torch.logsumexp(torch.from_numpy(self.kernel.log_value(self.M[j, r])), 0))

    def lse_negm(self, j: int, r: int) -> float:
        return float(torch.logsumexp(torch.from_numpy(-self.M[j, r]), 0))

    def q_finite(self, j: int, r: int) -> bool:
        return bool(np.isfinite(self.Q[j, r]).all())

    def grad_finite(self, j: int, r: int) -> bool:
        """Is ∇L = −(1/n) Zᵀq finite (as the reference checks)?  Only asked when |q|·|Z| is huge."""
        with np.errstate(all="ignore"):
            return bool(np.isfinite(self.Q[j, r] @ self.Z).all())

    def grad_norm(self, j: int, r: int) -> float:
        """‖∇L‖ = ‖(1/n) Zᵀℓ′(M)‖ computed as the reference does (for a gradient that overflowed)."""
        with np.errstate(all="ignore"):
            g = (-self.Q[j, r]) @ self.Z / self.n
            return float(np.sqrt(np.dot(g, g)))

    def sharpness(self, j: int) -> np.ndarray:
        """λ_max(∇²L(w_t)) per row, closed form (see :func:`eoscheck.gd.sharpness`)."""
        from .gd import sharpness_np

        return sharpness_np(self.kernel.hess(self.M[j]) / self.n, self.Z)

    def final_w(self, j: int) -> np.ndarray:
        X = self.X[j]
        return X @ self.Z if self.method == "gram" else X.copy()


def _shared(shape, dtype=np.float64) -> np.ndarray:
    """A zeroed array in anonymous shared memory (MAP_SHARED): a forked worker writes it in place."""
    count = int(np.prod(shape))
    buf = mmap.mmap(-1, max(1, count * np.dtype(dtype).itemsize))
    return np.frombuffer(buf, dtype=dtype, count=count).reshape(shape)


class _WorkerFailed(RuntimeError):
    pass


class _SpinBarrier:
    """A barrier of P processes on shared generation counters (one slot each, so no atomics).

    x86 and ARM order a process's stores to shared memory before its later counter store as seen
    by the reader that observes that counter (numpy's stores happen in a C call that returns before
    the counter is written).  Waiting spins briefly, then yields the CPU; it gives up when the
    peer process died or flagged an error.
    """

    def __init__(self, gens: np.ndarray, ctl: np.ndarray, me: int, peers: list):
        self.gens, self.ctl, self.me, self.peers = gens, ctl, me, peers

    def wait(self) -> None:
        gens, me = self.gens, self.me
        g = gens[me] + 1
        gens[me] = g
        spins = 0
        while gens.min() < g:
            spins += 1
            if spins > 200:
                os.sched_yield()
                if spins % 2000 == 0:
                    self._check()

    def _check(self) -> None:
        if self.ctl[_CTL_ERR]:
            raise _WorkerFailed("an engine worker process failed")
        for pid in self.peers:
            if pid is None:  # the parent, seen from a worker
                if os.getppid() != self.ctl[_CTL_PARENT]:
                    os._exit(3)
            else:
                done, _ = os.waitpid(pid, os.WNOHANG)
                if done:
                    raise _WorkerFailed(f"engine worker process {pid} exited")


_CTL_CMD, _CTL_T0, _CTL_N, _CTL_ERR, _CTL_PARENT = range(5)
_RUN, _STOP = 1, 2


def _reap(pid: int) -> None:
    try:
        os.waitpid(pid, 0)
    except OSError:
        pass


def _can_fork() -> bool:
    return sys.platform.startswith("linux") and hasattr(os, "fork") and \
        os.environ.get("EOSCHECK_WORKERS", "process") != "thread"


class _GramColumns:
    """The gram form with the data points split into column parts, one worker each.

    Row splitting makes every worker stream all of K (n×n) each step for only k/P rows;
    splitting the *columns* of K instead gives each worker half of K against all k rows
    (twice the arithmetic intensity, half the memory traffic; measured 458 vs 610 µs per
    worker for n = 1000, k = 32, MKL).  Everything per point is local to a part
    (M, q, c, the reductions, which are partial row sums); only the GEMM
    D_p = S·K[:, p] needs all of S, so the parts meet at one barrier per step, with S
    double-buffered by the parity of t so that no part overwrites an S still being read.

    Part 0 runs in this process; the others in forked worker processes (Linux), because in
    threads the GIL serialises the dozens of numpy calls per step (measured: the elementwise
    work of two threads took 2.8× that of one).  All buffers live in shared memory, so this
    process reads and writes every part (reductions, divergence, checkpoints) between chunks,
    while the workers wait at the chunk barrier.  Elsewhere the parts are threads.
    Same interface as :class:`_NumpyBlock`; :meth:`close` ends the workers.
    """

    def __init__(self, Z, Kmat, eta, w_star, kernel: Kernel, chunk: int, gemm: str, parts: int):
        n, d = Z.shape
        self.Z, self.kernel, self.method, self.n, self.d, self.C = Z, kernel, "gram", n, d, chunk
        self.k_real = k = len(eta)
        if k == 1:
            eta = np.concatenate([eta, eta])
            k = 2
        self.k, self.eta, self.inline, self.gemm = k, eta, True, gemm
        self.mm = _torch_matmul if gemm == "mkl" else np.matmul
        self.processes = _can_fork()
        arr = _shared if self.processes else (lambda shape, dtype=np.float64: np.zeros(shape, dtype))
        self.S2 = [arr((k, n)), arr((k, n))]
        self.dead = np.zeros(k, dtype=bool)
        self.dead_sh = arr((k,), np.bool_)
        self.rec_sh = arr((chunk,), np.bool_)
        self.ctl = arr((8,), np.int64)
        self.gens = arr((parts,), np.int64)
        self.zmax = float(np.max(np.abs(Z))) if Z.size else 0.0
        self.has_wstar = w_star is not None
        v = None if w_star is None else Z @ w_star
        bounds = np.linspace(0, n, parts + 1).round().astype(int)
        self.parts = []
        for c0, c1 in zip(bounds[:-1], bounds[1:]):
            w = c1 - c0
            # shared: what this process reads back (M, c, q, the sums); private (copy-on-write
            # after the fork, and on huge pages): K's columns, the scratch, the GEMM output
            self.parts.append({
                "cols": slice(c0, c1), "K": np.ascontiguousarray(Kmat[:, c0:c1]),
                "coef": (eta / n)[:, None].copy(),
                "M": arr((chunk + 1, k, w)), "X": arr((chunk + 1, k, w)), "Q": arr((chunk, k, w)),
                "E": np.zeros((1, k, w)), "LE": np.zeros((1, k, w)), "T": np.zeros((1, k, w)),
                "D": np.zeros((k, w)),
                "v": None if v is None else np.ascontiguousarray(v[c0:c1]),
                "red": {key: arr((chunk, k)) for key in _REDUCED},
            })
        self.red = {key: np.zeros((chunk, k)) for key in _REDUCED}
        self.pids: list[int] = []
        self.barrier = None

    # --- stepping ------------------------------------------------------------------
    def _part(self, P: dict, t0: int, nsteps: int, recorded: np.ndarray, dead: np.ndarray, barrier) -> None:
        kern, mm, multiply, add, vecdot = self.kernel, self.mm, np.multiply, np.add, np.vecdot
        Mv, Xv, Qv, E, LE, T, D, Kp, coef, red = (P[x] for x in ("M", "X", "Q", "E", "LE", "T", "D", "K", "coef",
                                                                 "red"))
        cols, S2, v = P["cols"], self.S2, P["v"]
        gn2 = red["gn2"]
        for j in range(nsteps):
            M, Q = Mv[j], Qv[j]
            kern.q(M, Q, E[0], LE[0], T[0])
            _reduce_into(kern, red, j, M[None], Q[None], E, LE, T, Xv[j][None], v, bool(recorded[j]))
            S = S2[(t0 + j) & 1]
            Sp = S[:, cols]
            multiply(Q, coef, out=Sp)
            if dead.size:
                Sp[dead] = 0.0
            barrier.wait()                       # all of S_t is written
            mm(S, Kp, out=D)
            add(M, D, out=Mv[j + 1])
            vecdot(Sp, D, out=gn2[j])
            add(Xv[j], Sp, out=Xv[j + 1])

    def _start(self) -> None:
        """Fork one worker process per part beyond the first (they wait at the chunk barrier)."""
        self.ctl[_CTL_PARENT] = os.getpid()
        for p in range(1, len(self.parts)):
            with warnings.catch_warnings():  # Python ≥ 3.12 warns about fork in threaded processes
                warnings.simplefilter("ignore", DeprecationWarning)
                pid = os.fork()
            if pid == 0:  # the worker: never returns into the caller's code
                code = 0
                try:
                    torch.set_num_threads(1)
                    np.seterr(all="ignore")
                    self._worker(p)
                except BaseException:
                    self.ctl[_CTL_ERR] = 1
                    code = 1
                finally:
                    os._exit(code)
            self.pids.append(pid)
        self.barrier = _SpinBarrier(self.gens, self.ctl, 0, list(self.pids))

    def _worker(self, p: int) -> None:
        bar = _SpinBarrier(self.gens, self.ctl, p, [None])
        P = self.parts[p]
        while True:
            bar.wait()                           # a chunk starts (or the run ends)
            if self.ctl[_CTL_CMD] == _STOP:
                return
            t0, nsteps = int(self.ctl[_CTL_T0]), int(self.ctl[_CTL_N])
            self._part(P, t0, nsteps, self.rec_sh[:nsteps].copy(), np.flatnonzero(self.dead_sh), bar)
            bar.wait()                           # the chunk is done

    def close(self, force: bool = False) -> None:
        """End the worker processes: at the chunk barrier after a normal run, else by SIGKILL."""
        if not self.pids:
            return
        pids, self.pids = list(self.pids), []
        try:
            if force or self.ctl[_CTL_ERR]:
                raise _WorkerFailed("stop")
            self.ctl[_CTL_CMD] = _STOP
            self.barrier.wait()
        except BaseException:
            for pid in pids:
                try:
                    os.kill(pid, signal.SIGKILL)
                except OSError:
                    pass
        # reaped in the background: a worker's exit unmaps a large image (~10 ms)
        threading.Thread(target=lambda: [_reap(pid) for pid in pids], daemon=True).start()

    def advance(self, t0: int, nsteps: int, recorded: np.ndarray) -> None:
        dead = np.flatnonzero(self.dead)
        if self.processes:
            if self.barrier is None:
                self._start()
            self.ctl[_CTL_CMD], self.ctl[_CTL_T0], self.ctl[_CTL_N] = _RUN, t0, nsteps
            self.rec_sh[:nsteps] = recorded
            self.dead_sh[:] = self.dead
            self.barrier.wait()                  # start the chunk
            self._part(self.parts[0], t0, nsteps, recorded, dead, self.barrier)
            self.barrier.wait()                  # every part is done
        else:
            self._advance_threads(t0, nsteps, recorded, dead)
        red = self.red
        for key in _REDUCED:
            parts = [P["red"][key][:nsteps] for P in self.parts]
            if key == "m_min":
                np.minimum.reduce(parts, out=red[key][:nsteps])
            elif key == "m_max":
                np.maximum.reduce(parts, out=red[key][:nsteps])
            else:
                np.add.reduce(parts, out=red[key][:nsteps])

    def _advance_threads(self, t0, nsteps, recorded, dead) -> None:
        barrier = threading.Barrier(len(self.parts))
        errors: list[BaseException] = []

        def work(P):
            try:
                torch.set_num_threads(1)  # OpenMP's thread count is per thread: else MKL's helpers spin
                with np.errstate(all="ignore"):  # thread-local: a new thread starts without it
                    self._part(P, t0, nsteps, recorded, dead, barrier)
            except threading.BrokenBarrierError:
                pass
            except BaseException as exc:  # re-raised below; free the other parts
                errors.append(exc)
                barrier.abort()

        ths = [threading.Thread(target=work, args=(P,), daemon=True) for P in self.parts[1:]]
        for th in ths:
            th.start()
        work(self.parts[0])
        for th in ths:
            th.join()
        if errors:
            raise errors[0]

    def reductions(self, nsteps: int, rec: np.ndarray, full: bool) -> dict[str, np.ndarray]:
        red = {key: v[:nsteps] for key, v in self.red.items() if key not in _RECORD_ONLY}
        for key in _RECORD_ONLY:
            red[key] = self.red[key][:nsteps] if full else self.red[key][rec]
        if not self.has_wstar:
            red["wproj"] = None
        return red

    def roll(self, nsteps: int) -> None:
        for P in self.parts:
            P["M"][0] = P["M"][nsteps]
            P["X"][0] = P["X"][nsteps]

    def freeze(self, rows, js, nsteps) -> None:
        rows, js = _with_pad(self.k_real, rows, js)
        for P in self.parts:
            for r, j in zip(rows, js):
                P["M"][j + 1:nsteps + 1, r] = P["M"][j, r]
                P["X"][j + 1:nsteps + 1, r] = P["X"][j, r]
        self.dead[rows] = True

    # --- whole rows, assembled from the parts (rare checks, checkpoints, the end) ----------
    def _row(self, key: str, j: int, r=slice(None)) -> np.ndarray:
        return np.concatenate([P[key][j, r] for P in self.parts], axis=-1)

    def lse_log_value(self, j, r):
        return float(torch.logsumexp(torch.from_numpy(self.kernel.log_value(self._row("M", j, r))), 0))

    def lse_negm(self, j, r):
        return float(torch.logsumexp(torch.from_numpy(-self._row("M", j, r)), 0))

    def q_finite(self, j, r):
        return bool(np.isfinite(self._row("Q", j, r)).all())

    def grad_finite(self, j, r):
        with np.errstate(all="ignore"):
            return bool(np.isfinite(self._row("Q", j, r) @ self.Z).all())

    def grad_norm(self, j, r):
        with np.errstate(all="ignore"):
            g = (-self._row("Q", j, r)) @ self.Z / self.n
            return float(np.sqrt(np.dot(g, g)))

    def sharpness(self, j):
        from .gd import sharpness_np

        return sharpness_np(self.kernel.hess(self._row("M", j)) / self.n, self.Z)

    def final_w(self, j):
        return self._row("X", j) @ self.Z


def _reduce_into(kern: Kernel, red: dict, j: int, M, Q, E, LE, T, X, v, recorded: bool) -> None:
    """Partial row sums of one slot (arrays of shape (1, k, w)) into ``red[key][j]``."""
    red["value_sum"][j] = kern.value_sum(M, E, Q, T, LE if kern.makes_le else None)[0]
    np.add.reduce(Q[0] if kern.monotone else np.abs(Q[0]), axis=-1, out=red["q_sum"][j])
    np.minimum.reduce(M[0], axis=-1, out=red["m_min"][j])
    np.maximum.reduce(M[0], axis=-1, out=red["m_max"][j])
    if recorded:
        red["expneg_sum"][j] = kern.expneg_sum(M, Q, T)[0]
        red["le0"][j] = LE[0].sum(axis=-1) if kern.makes_le else np.count_nonzero(M[0] <= 0, axis=-1)
        red["wn2"][j] = np.vecdot(X[0], M[0])
        if v is not None:
            red["wproj"][j] = X[0] @ v


# ---------------------------------------------------------------------------------
# torch backend (CPU or CUDA)
# ---------------------------------------------------------------------------------


class _TorchBlock:
    """The same algorithm on torch tensors; elementwise work through the loss's own torch forms."""

    def __init__(self, Z: np.ndarray, eta: np.ndarray, w0: np.ndarray | None, w_star: np.ndarray | None,
                 loss: Loss, method: str, chunk: int, device: torch.device):
        dt = torch.float64
        self.loss, self.method, self.dev = loss, method, device
        self.Z = torch.as_tensor(Z, dtype=dt, device=device)
        n, d = Z.shape
        self.k_real = k = len(eta)
        if k == 1:
            eta = np.concatenate([eta, eta])
            k = 2
        self.k, self.n, self.d, self.C = k, n, d, chunk
        self.eta_t = torch.as_tensor(eta, dtype=dt, device=device)
        self.coef = (self.eta_t / n)[:, None]
        p = n if method == "gram" else d
        self.Kmat = self.Z @ self.Z.T if method == "gram" else None
        self.M = torch.zeros((chunk + 1, k, n), dtype=dt, device=device)
        self.X = torch.zeros((chunk + 1, k, p), dtype=dt, device=device)
        self.Q = torch.zeros((chunk, k, n), dtype=dt, device=device)
        self.S = torch.zeros((k, n), dtype=dt, device=device)
        self.D = torch.zeros((k, p), dtype=dt, device=device)
        self.gn2 = torch.zeros((chunk, k), dtype=dt, device=device)
        self.alive = torch.ones((k, 1), dtype=dt, device=device)
        self.dead = np.zeros(k, dtype=bool)
        self.zt = self.Z.T.contiguous()
        if method == "primal":
            if w0 is not None:
                self.X[0] = torch.as_tensor(w0, dtype=dt, device=device)
            torch.matmul(self.X[0], self.zt, out=self.M[0])
        elif w0 is not None and np.any(w0):
            raise ValueError("the gram form needs w0 = 0")
        self.wstar = None if w_star is None else torch.as_tensor(w_star, dtype=dt, device=device)
        self.v = None if w_star is None else self.Z @ self.wstar
        self.zmax = float(np.max(np.abs(Z))) if Z.size else 0.0

    def advance(self, t0: int, nsteps: int, recorded: np.ndarray) -> None:
        M, X, Q, S, D, gn2 = self.M, self.X, self.Q, self.S, self.D, self.gn2
        gram, coef = self.method == "gram", self.coef
        any_dead = bool(self.dead.any())
        for j in range(nsteps):
            if j and not gram:
                torch.matmul(X[j], self.zt, out=M[j])
            torch.neg(self.loss.grad(M[j]), out=Q[j])
            torch.mul(Q[j], coef, out=S)
            if any_dead:
                S.mul_(self.alive)  # alive is 0/1; a dead row's q may be inf: zero it explicitly
                S.nan_to_num_(0.0, 0.0, 0.0)
            if gram:
                torch.matmul(S, self.Kmat, out=D)
                torch.sum(S * D, dim=1, out=gn2[j])
                torch.add(M[j], D, out=M[j + 1])
                torch.add(X[j], S, out=X[j + 1])
            else:
                torch.matmul(S, self.Z, out=D)
                torch.sum(D * D, dim=1, out=gn2[j])
                torch.add(X[j], D, out=X[j + 1])
        if not gram:
            torch.matmul(X[nsteps], self.zt, out=M[nsteps])

    def roll(self, nsteps: int) -> None:
        self.M[0] = self.M[nsteps]
        self.X[0] = self.X[nsteps]

    def freeze(self, rows, js, nsteps) -> None:
        rows, js = _with_pad(self.k_real, rows, js)
        for r, j in zip(rows, js):
            self.M[j + 1:nsteps + 1, r] = self.M[j, r]
            self.X[j + 1:nsteps + 1, r] = self.X[j, r]
        self.dead[rows] = True
        self.alive[torch.as_tensor(np.flatnonzero(self.dead), device=self.dev)] = 0.0

    def reductions(self, nsteps, rec, full):
        C, loss = nsteps, self.loss
        M, Q = self.M[:C], self.Q[:C]
        out = {"value_sum": loss.value(M).sum(-1), "q_sum": Q.abs().sum(-1),
               "m_min": M.amin(-1), "m_max": M.amax(-1), "gn2": self.gn2[:C]}
        idx = None if full else torch.as_tensor(rec, device=self.dev)
        Mr = M if full else M[idx]
        Xr = self.X[:C] if full else self.X[:C][idx]
        out["expneg_sum"] = torch.exp(-Mr).sum(-1)
        out["le0"] = (Mr <= 0).sum(-1)
        if self.method == "gram":
            out["wn2"] = (Xr * Mr).sum(-1)
            out["wproj"] = Xr @ self.v if self.v is not None else None
        else:
            out["wn2"] = (Xr * Xr).sum(-1)
            out["wproj"] = Xr @ self.wstar if self.wstar is not None else None
        return {k: (None if v is None else v.cpu().numpy()) for k, v in out.items()}

    def lse_log_value(self, j, r):
        return float(torch.logsumexp(self.loss.log_value(self.M[j, r]), 0))

    def lse_negm(self, j, r):
        return float(torch.logsumexp(-self.M[j, r], 0))

    def q_finite(self, j, r):
        return bool(torch.isfinite(self.Q[j, r]).all())

    def grad_finite(self, j, r):
        return bool(torch.isfinite(self.Q[j, r] @ self.Z).all())

    def grad_norm(self, j, r):
        return float(torch.linalg.vector_norm((-self.Q[j, r]) @ self.Z / self.n))

    def sharpness(self, j):
        from .gd import sharpness_torch

        return sharpness_torch(self.loss.hess(self.M[j]) / self.n, self.Z).cpu().numpy()

    def final_w(self, j):
        X = self.X[j]
        return (X @ self.Z if self.method == "gram" else X).cpu().numpy()


# ---------------------------------------------------------------------------------
# host side: records and exact trackers, shared by both backends
# ---------------------------------------------------------------------------------


class _Recorder:
    """Turns a block's per-chunk reductions into records and the reference's per-step trackers."""

    def __init__(self, block, eta: np.ndarray, rec: np.ndarray, sharp_steps: np.ndarray, log_rtol: float,
                 out: dict[str, np.ndarray], sharp: np.ndarray):
        k = len(eta)
        self.b, self.k, self.n = block, k, block.n
        self.eta = eta
        self.out, self.sharp = out, sharp  # (k, S) and (k, C) views of the caller's NaN-filled arrays
        self.rec, self.sharp_steps, self.log_rtol = rec, sharp_steps, log_rtol
        self.cum_L = np.zeros(k)
        self.cum_G = np.zeros(k)
        self.prev_log_L = np.full(k, math.inf)
        self.last_inc = np.full(k, -1, dtype=np.int64)
        self.last_inc_strict = self.last_inc.copy()
        self.below1 = self.last_inc.copy()
        self.below2 = self.last_inc.copy()
        self.diverged = self.last_inc.copy()
        self.max_log_L = np.full(k, -math.inf)
        self.argmax = np.zeros(k, dtype=np.int64)
        log_eta = torch.log(torch.as_tensor(eta, dtype=torch.float64)).numpy()  # the reference's log
        self.log_thr1 = -log_eta
        self.log_thr2 = math.log(2) - log_eta
        self.alive = np.ones(k, dtype=bool)
        self.log_n = math.log(self.n)

    def run(self, steps: int, bar) -> None:
        b, t0 = self.b, 0
        with np.errstate(all="ignore"):
            while t0 <= steps:
                nsteps = min(b.C, steps + 1 - t0)
                self.chunk(t0, nsteps)
                if t0 + nsteps > steps:
                    self.final_w = b.final_w(nsteps - 1)[: self.k]
                b.roll(nsteps)
                t0 += nsteps
                bar.update(nsteps)

    def _ok(self, red) -> tuple[np.ndarray, np.ndarray]:
        """(nsteps, k) masks: M finite (w_t is shown), and also ∇L finite (the run goes on).

        Σ|q| finite implies every q finite, and |∂ᵢ(Zᵀq)| ≤ Σ|q|·max|Z| bounds every partial
        sum of the gradient, so the exact check runs only where that bound (with a factor n of
        headroom for rounding) nears overflow.
        """
        b, k = self.b, self.k
        qs = red["q_sum"][:, :k]
        state_ok = np.isfinite(red["m_min"][:, :k]) & np.isfinite(red["m_max"][:, :k])
        live = state_ok & self.alive[None, :]
        ok = state_ok.copy()
        qok = np.isfinite(qs)
        for j, r in zip(*np.nonzero(live & ~qok)):  # q_sum overflowed, or q has inf/NaN
            qok[j, r] = b.q_finite(j, r)
        ok &= qok
        for j, r in zip(*np.nonzero(live & qok & ~(qs * b.zmax * b.n < _DANGER))):
            ok[j, r] = b.grad_finite(j, r)
        return state_ok, ok

    def chunk(self, t0: int, nsteps: int) -> None:
        """Advance the block by one chunk and turn its reductions into records and trackers."""
        b, k, n = self.b, self.k, self.n
        ts = np.arange(t0, t0 + nsteps)
        lo, hi = np.searchsorted(self.rec, [t0, t0 + nsteps])
        cols = np.arange(lo, hi)
        rec_j = self.rec[lo:hi] - t0
        full = len(rec_j) == nsteps
        recorded = np.zeros(nsteps, dtype=bool)
        recorded[rec_j] = True
        b.advance(t0, nsteps, recorded)
        red = b.reductions(nsteps, rec_j, full)

        # divergence (the reference's rule): w_t is shown while M_t is finite; the run stops
        # (diverged at t, w frozen at w_t) at the first t where M_t or ∇L(w_t) is not finite
        state_ok, ok = self._ok(red)
        fails = np.cumsum(~ok, axis=0)
        before = self.alive[None, :] & (fails - ~ok == 0)   # alive when step t starts
        shown = before & state_ok
        stops = before & ~ok
        newly = stops.any(axis=0)
        if newly.any():
            rows = np.flatnonzero(newly)
            js = np.argmax(stops[:, rows], axis=0)
            self.diverged[rows] = t0 + js
            b.freeze(rows, js, nsteps)
        self.alive = before[-1] & ok[-1]
        alive = shown

        # the loss in the log domain, with the reference's fallback where L under/overflows
        L = red["value_sum"][:, :k] / n
        log_L = np.log(L)
        for j, r in zip(*np.nonzero(~np.isfinite(log_L) & alive)):
            log_L[j, r] = b.lse_log_value(j, r) - self.log_n
        G = red["q_sum"][:, :k] / n

        # records at the recorded steps
        if len(cols):
            a = alive[rec_j]
            F = red["expneg_sum"][:, :k]
            log_F = np.log(F)
            for j, r in zip(*np.nonzero(~((F > 1e-290) & (F < 1e290)) & a)):
                log_F[j, r] = b.lse_negm(rec_j[j], r)
            log_F -= self.log_n
            w_norm = np.sqrt(red["wn2"][:, :k])
            m_min = red["m_min"][rec_j, :k]
            t_rec = ts[rec_j]
            vals = {
                "loss": L[rec_j], "log_loss": log_L[rec_j], "log_F": log_F, "G": G[rec_j],
                "grad_norm": np.sqrt(red["gn2"][rec_j, :k]) / self.eta,  # copy: fancy index
                "w_norm": w_norm,
                "w_proj": red["wproj"][:, :k] if red["wproj"] is not None else np.full_like(w_norm, math.nan),
                "min_margin": m_min, "norm_margin": m_min / w_norm,
                "train_error": red["le0"][:, :k] / n,
            }
            for j, r in zip(*np.nonzero(a & ~ok[rec_j])):  # shown, but ∇L overflowed
                vals["grad_norm"][j, r] = b.grad_norm(rec_j[j], r)
            vals["avg_loss"], vals["avg_G"] = self._averages(L, G, rec_j, t_rec)
            for name, v in vals.items():
                self.out[name][:, cols] = np.where(a, v, math.nan).T
        else:
            self._averages(L, G, rec_j, ts[rec_j])

        # sharpness checkpoints
        s_lo, s_hi = np.searchsorted(self.sharp_steps, [t0, t0 + nsteps])
        for c in range(s_lo, s_hi):
            j = int(self.sharp_steps[c] - t0)
            self.sharp[:, c] = np.where(alive[j], b.sharpness(j)[:k], math.nan)

        self._trackers(ts, log_L, alive)

    def _averages(self, L, G, rec_j, t_rec):
        """(1/t) Σ_{s<t} L_s, G_s by sequential running sums (the reference's order); updates the sums."""
        k = self.k
        csL = np.cumsum(np.vstack([self.cum_L[None], L]), axis=0)
        csG = np.cumsum(np.vstack([self.cum_G[None], G]), axis=0)
        self.cum_L, self.cum_G = csL[-1].copy(), csG[-1].copy()
        tt = t_rec.astype(np.float64)[:, None]
        avg_L = np.where(tt > 0, csL[rec_j] / np.where(tt > 0, tt, 1.0), math.nan)
        avg_G = np.where(tt > 0, csG[rec_j] / np.where(tt > 0, tt, 1.0), math.nan)
        return np.broadcast_to(avg_L, (len(rec_j), k)), np.broadcast_to(avg_G, (len(rec_j), k))

    def _trackers(self, ts, log_L, alive) -> None:
        """Last increase, first hitting times of 1/η and 2/η, max loss: the reference's per-step rules."""
        nsteps = len(ts)
        prev = np.vstack([self.prev_log_L[None], log_L[:-1]])
        inc = alive & (log_L > prev + self.log_rtol)
        inc_s = alive & (log_L > prev)
        for mask, attr in ((inc, "last_inc"), (inc_s, "last_inc_strict")):
            has = mask.any(axis=0)
            last = nsteps - 1 - np.argmax(mask[::-1], axis=0)
            cur = getattr(self, attr)
            setattr(self, attr, np.where(has, ts[last], cur))
        for thr, attr in ((self.log_thr1, "below1"), (self.log_thr2, "below2")):
            hit = alive & (log_L <= thr)
            cur = getattr(self, attr)
            first = ts[np.argmax(hit, axis=0)]
            setattr(self, attr, np.where((cur < 0) & hit.any(axis=0), first, cur))
        lm = np.where(alive & ~np.isnan(log_L), log_L, -math.inf)
        jm = np.argmax(lm, axis=0)
        cm = lm[jm, np.arange(self.k)]
        up = cm > self.max_log_L
        self.max_log_L = np.where(up, cm, self.max_log_L)
        self.argmax = np.where(up, ts[jm], self.argmax)
        self.prev_log_L = log_L[-1].copy()

    def stats(self) -> dict[str, np.ndarray]:
        with np.errstate(over="ignore"):
            max_loss = np.exp(self.max_log_L)
        return {
            "diverged_at": self.diverged,
            "last_increase": self.last_inc,
            "last_increase_strict": self.last_inc_strict,
            "first_below_1_over_eta": self.below1,
            "first_below_2_over_eta": self.below2,
            "max_loss": max_loss,
            "argmax_loss": self.argmax,
            "final_w": self.final_w,
        }


# ---------------------------------------------------------------------------------
# entry point
# ---------------------------------------------------------------------------------


#: GEMM flops per step (all rows) below which one BLAS thread and one row block are used.
_SMALL_FLOPS = 2e7
#: Fewest data points per column part of the split gram form.
_MIN_PART = 128
_CONTROLLER: list = []


def _controller():
    """A cached threadpoolctl controller (None without threadpoolctl)."""
    if not _CONTROLLER:
        try:
            from threadpoolctl import ThreadpoolController

            _CONTROLLER.append(ThreadpoolController())
        except Exception:  # threadpoolctl missing or broken: leave BLAS threads alone
            _CONTROLLER.append(None)
    return _CONTROLLER[0]


class _blas_limit:
    """Limit numpy's BLAS to ``k`` threads inside the block (no-op without threadpoolctl)."""

    def __init__(self, k: int):
        self.k, self.ctx = k, None

    def __enter__(self):
        ctl = _controller()
        if ctl is not None:
            self.ctx = ctl.limit(limits=self.k, user_api="blas")
        return self

    def __exit__(self, *exc):
        if self.ctx is not None:
            self.ctx.restore_original_limits()


def _blas_threads() -> int:
    ctl = _controller()
    if ctl is None:
        return 1
    nums = [lib.num_threads for lib in ctl.lib_controllers if lib.user_api == "blas"]
    return max(nums) if nums else 1


def choose_threads(K: int, n: int, d: int, method: str) -> int:
    """Engine threads (CPU): one per BLAS thread when a step's GEMM work is large — column parts
    for the gram form (any K), row blocks for the primal form (K ≥ 2)."""
    cores = min(_blas_threads(), os.cpu_count() or 1)
    if cores < 2 or K * flops_per_step(n, d, method) < _SMALL_FLOPS:
        return 1
    if method == "gram":
        return int(cores) if n // cores >= _MIN_PART else 1
    return int(min(cores, K))


def run_fast(data, loss: Loss, eta: np.ndarray, w0, w_star, steps: int, rec: np.ndarray,
             sharp_steps: np.ndarray, log_rtol: float, bar, *, method: str, backend: str,
             device: torch.device, threads: int) -> tuple[dict, dict, np.ndarray, dict]:
    """Run the fast engine; returns (records, stats, sharpness, engine info)."""
    Z = np.ascontiguousarray(data.Z, dtype=np.float64)
    n, d = Z.shape
    K = len(eta)
    w0a = None if w0 is None else np.asarray(w0, dtype=np.float64)
    ws = None if w_star is None else np.asarray(w_star, dtype=np.float64)
    split = "rows"
    if backend == "torch":
        blocks = [np.arange(K)]
        threads = 1
    elif (method == "gram" and threads > 1 and n // threads >= _MIN_PART
          and max(2, K) * n >= _INLINE_ELEMS):
        split, blocks = "columns", [np.arange(K)]
    else:
        blocks = [b for b in np.array_split(np.arange(K), max(1, threads)) if len(b)]
    Kmat = Z @ Z.T if (method == "gram" and backend == "numpy") else None
    gemm = default_gemm() if backend == "numpy" else "torch"
    kernel = kernel_for(loss) if backend == "numpy" else None
    records = {name: np.full((K, len(rec)), math.nan) for name in RECORDED}
    sharp = np.full((K, len(sharp_steps)), math.nan)
    recorders = []
    for rows in blocks:
        lo, hi = int(rows[0]), int(rows[-1]) + 1
        C = chunk_length(max(2, hi - lo), n)
        if backend == "torch" and device.type != "cpu":  # one host sync per chunk: make chunks long
            C = int(max(2, min(64, (1 << 27) // (max(2, hi - lo) * n))))
        if split == "columns":
            blk = _GramColumns(Z, Kmat, eta, ws, kernel, C, gemm, threads)
        elif backend == "numpy":
            blk = _NumpyBlock(Z, Kmat, eta[lo:hi], w0a, ws, kernel, method, C, gemm)
        else:
            blk = _TorchBlock(Z, eta[lo:hi], w0a, ws, loss, method, C, device)
        views = {name: arr[lo:hi] for name, arr in records.items()}
        recorders.append(_Recorder(blk, eta[lo:hi], rec, sharp_steps, log_rtol, views, sharp[lo:hi]))
    if split == "columns":
        try:
            with _one_thread_each():
                recorders[0].run(steps, bar)
        except BaseException:
            recorders[0].b.close(force=True)
            raise
        recorders[0].b.close()
    elif len(recorders) > 1:
        _run_threads(recorders, steps, bar)   # each thread: one BLAS thread, one torch thread
    elif backend == "numpy" and K * flops_per_step(n, d, method) < _SMALL_FLOPS:
        with _one_thread_each():  # multi-threaded GEMMs only add synchronisation to small products
            recorders[0].run(steps, bar)
    else:
        recorders[0].run(steps, bar)
    stats_list = [r.stats() for r in recorders]
    stats = {key: np.concatenate([s[key] for s in stats_list], axis=0) for key in stats_list[0]}
    info = {"method": method, "backend": backend, "threads": threads if split == "columns" else len(recorders),
            "split": split, "gemm": getattr(recorders[0].b, "gemm", gemm)}
    return records, stats, sharp, info


class _Silent:
    def update(self, k):
        pass


class _one_thread_each:
    """BLAS and torch (MKL) single-threaded inside: the engine's own threads use the cores."""

    def __enter__(self):
        self.torch_threads = torch.get_num_threads()
        torch.set_num_threads(1)
        self.blas = _blas_limit(1).__enter__()
        return self

    def __exit__(self, *exc):
        self.blas.__exit__(*exc)
        torch.set_num_threads(self.torch_threads)


def _run_threads(recorders, steps, bar) -> None:
    """Advance the row blocks in parallel threads, each with a single-threaded BLAS."""
    errors: list[BaseException] = []

    def work(r):
        try:
            torch.set_num_threads(1)  # OpenMP's thread count is per thread: else MKL's helpers spin
            r.run(steps, _Silent())
        except BaseException as exc:  # re-raised in the caller
            errors.append(exc)

    with _one_thread_each():
        ths = [threading.Thread(target=work, args=(r,), daemon=True) for r in recorders]
        for th in ths:
            th.start()
        for th in ths:
            th.join()
    bar.update(steps + 1)
    if errors:
        raise errors[0]
