"""The BLAS-mode steps compiled per panel thread: no Python and no GIL between steps.

:class:`eoscheck.gdfused.FusedBlock` runs its BLAS-mode steps as a Python loop; here each panel thread runs its
whole chunk in one compiled call (numba, ``nogil``), with the same operations, the products by the library's
Fortran ``dgemm`` called from compiled code (a row-major product C = AB as the column-major Cᵀ = BᵀAᵀ) and every
wait blocking on a futex, never spinning.

Gram form (:func:`gram_steps`), per step and panel p:

* E = exp(−|M|) from :mod:`eoscheck.explog` (within 1 ulp; numpy's SIMD loop needs a Python call),
  then :func:`~eoscheck.gdfused.fused_pass`, and S_p published;
* D_p = S_p K[p, p] + Σ_{q ≠ p} S_q K[q, p], each S_q awaited;
* :func:`~eoscheck.gdfused.update_gram`, and the next step's exp and pass, by blocks of rows
  while they are in cache (rows are independent: the same operations on each row).

Primal form (:func:`primal_steps`), per step: on each panel p (rows of Z), M_p = W Z_pᵀ, exp and the
fused pass, then D_p = S_p Z_p, published; the thread of panel 0 awaits every D_p, sums D = Σ_p D_p in
panel order and updates W (:func:`~eoscheck.gdfused.update_primal`), published; the other threads await it.

Every panel's operations and their order are fixed, so the bits do not depend on the thread count
(nor on which thread runs a panel); they differ from the Python loop's only through exp (≤ 1 ulp;
6e-16 relative in the benchmark's losses).  Measured on the benchmark's main
problem (n = 1000, d = 784, 32 η, 2 vCPUs of an Intel Xeon, MKL): 1.52–1.57× → 1.68–1.71× the JAX
peer, side by side; with the lighter steps and start of 3406cbc, 1.80–1.87× against 1.59–1.61× for
the code before, in the same minutes (``benchmarks/README.md``).  The primal form's loop, on the benchmark's tall
problem (n = 10⁴, d = 100, 16 η, 2 vCPUs of an AMD EPYC, OpenBLAS): 1.23× best, 1.28× median the speed of the
Python loop (8 alternated pairs in one process), its process CPU time −23 %.

Available on Linux (x86-64, aarch64) where the library's Fortran dgemm is found (:func:`fortran_dgemm`:
MKL's ``dgemm_`` in torch's libtorch_cpu, LP64; numpy's OpenBLAS ``scipy_dgemm_64_``/``dgemm_64_``,
ILP64, or ``dgemm_``).  Elsewhere the block keeps its Python loop.
"""

from __future__ import annotations

import ctypes
import functools
import os
import platform
import sys
import weakref

import numpy as np
from numba import njit

from . import explog, gdfused
from .gdfused import fused_pass, transcendentals_compiled, update_gram, update_primal
from .jitcache import drop_stale
from .panelthreads import on_threads

#: Linux futex(2) system-call numbers, and its private wait/wake operations.
_SYS_FUTEX = {"x86_64": 202, "amd64": 202, "aarch64": 98, "arm64": 98}
FUTEX_WAIT, FUTEX_WAKE = 128, 129
_WAKE_ALL = 2**31 - 1
#: A board slot's value after an abort (below every step stamp, and a change the futex sees).
_ABORTED = -2


@functools.lru_cache(maxsize=1)
def _libc():
    """(syscall, memcpy, futex number) as ctypes functions of integer arguments, or None (not Linux)."""
    nr = _SYS_FUTEX.get(platform.machine().lower())
    if not sys.platform.startswith("linux") or nr is None:
        return None
    libc = ctypes.CDLL(None)
    U = ctypes.c_size_t
    syscall = libc.syscall
    syscall.argtypes = [ctypes.c_long, U, ctypes.c_int, ctypes.c_int, U, U, ctypes.c_int]
    syscall.restype = ctypes.c_long
    memcpy = libc.memcpy
    memcpy.argtypes = [U, U, U]
    memcpy.restype = U
    return syscall, memcpy, nr


def _library_paths(gemm: str) -> list[tuple[str, list[tuple[str, type]]]]:
    """(shared library, [(dgemm symbol, its integer type)]) candidates of a GEMM library."""
    if gemm == "mkl":
        import torch

        return [(os.path.join(os.path.dirname(torch.__file__), "lib", "libtorch_cpu.so"), [("dgemm_", np.int32)])]
    from threadpoolctl import threadpool_info

    paths = [i["filepath"] for i in threadpool_info() if i.get("internal_api") == "openblas"]
    paths.sort(key=lambda f: "numpy" not in f)           # numpy's own OpenBLAS first
    names = [("scipy_dgemm_64_", np.int64), ("dgemm_64_", np.int64), ("scipy_dgemm_", np.int32), ("dgemm_", np.int32)]
    return [(f, names) for f in paths]


@functools.lru_cache(maxsize=None)
def fortran_dgemm(gemm: str):
    """(ctypes dgemm of ``gemm`` ("mkl" or "openblas"), its integer type), or None where not found.

    The candidate is checked once on a 3×2 by 2×4 product of small integers (exact in any order)
    before it is used; a symbol whose integer width was guessed wrong gives a wrong product."""
    for path, names in _library_paths(gemm):
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        for name, itype in names:
            fn = getattr(lib, name, None)
            if fn is None:
                continue
            fn.argtypes = [ctypes.c_size_t] * 13
            fn.restype = None
            if _dgemm_works(fn, itype):
                return fn, itype
    return None


def _dgemm_works(fn, itype) -> bool:
    """Does ``fn`` compute C = A·B (row-major, through the column-major call of :func:`_gemm`)?"""
    A = np.arange(1.0, 7.0).reshape(3, 2)
    B = np.arange(1.0, 9.0).reshape(2, 4)
    C = np.zeros((3, 4))
    dims = np.array([4, 3, 2, 4, 2, 4], dtype=itype)          # m, n, k, lda, ldb, ldc
    ab = np.array([1.0, 0.0])
    tr = np.frombuffer(b"N", dtype=np.uint8).copy()
    fn(tr.ctypes.data, tr.ctypes.data, dims.ctypes.data, dims.ctypes.data + dims.itemsize,
       dims.ctypes.data + 2 * dims.itemsize, ab.ctypes.data, B.ctypes.data, dims.ctypes.data + 3 * dims.itemsize,
       A.ctypes.data, dims.ctypes.data + 4 * dims.itemsize, ab.ctypes.data + 8, C.ctypes.data,
       dims.ctypes.data + 5 * dims.itemsize)
    return bool(np.array_equal(C, A @ B))


@njit(nogil=True, cache=True)
def _publish(memcpy, syscall, nr, board, stamp, p, j):
    """Slot p's writer has written its step j (gram: S_p; primal: D_p, or W at slot P): board[p] = j, then wake its
    waiters.  The store goes through an opaque call (memcpy by address), so the compiler keeps it after the writes."""
    stamp[0] = j
    memcpy(board.ctypes.data + 4 * p, stamp.ctypes.data, 4)
    syscall(nr, board.ctypes.data + 4 * p, FUTEX_WAKE, _WAKE_ALL, 0, 0, 0)


@njit(nogil=True, cache=True)
def _wait(syscall, nr, board, q, j):
    """Block until slot q has published step j (True), or the run was aborted (False: the last slot is set)."""
    P = board.shape[0] - 1
    while True:
        v = board[q]
        if v >= j:
            return True
        if board[P] != 0:
            return False
        syscall(nr, board.ctypes.data + 4 * q, FUTEX_WAIT, v, 0, 0, 0)   # sleeps while board[q] == v


@njit(nogil=True, cache=True)
def _gemm(dgemm, consts, dims, p, i, a_addr, b_addr, c_addr, accumulate):
    """Column-major C (+)= A·B, the row-major C (+)= B·A (gram: D_p (+)= S_q K[q, p] as D_pᵀ = K[q, p]ᵀ S_qᵀ):
    consts = ('N', α = 1, β = 0, β = 1) as bytes, dims[p, i] = (m, n, k, lda, ldb, ldc); β = 1 where
    ``accumulate``, else 0."""
    base = consts.ctypes.data
    d = dims.ctypes.data + dims.itemsize * 6 * (i + dims.shape[1] * p)
    s = dims.itemsize
    dgemm(base, base, d, d + s, d + 2 * s, base + 8, a_addr, d + 3 * s, b_addr, d + 4 * s,
          base + (24 if accumulate else 16), c_addr, d + 5 * s)


#: Rows of a panel updated and then passed (next step) together, while they are in cache.
ROW_BLOCK = 16


@njit(nogil=True, cache=True, error_model="numpy")
def _rows_pass(kind, a, M, X, Q, S2, E, coef, live, v, rec, red, val, ee, tmp, j, par, c0, c1, r0, r1):
    """Rows r0 … r1−1 of a panel (columns c0 … c1−1) at slot j: exp and the fused pass, S into S2[par]."""
    Mj = M[j, r0:r1, c0:c1]
    transcendentals_compiled(kind, Mj, E[r0:r1], tmp)
    fused_pass(kind, a, Mj, E[r0:r1], Q[0, r0:r1, c0:c1], S2[par, r0:r1, c0:c1], coef[r0:r1], live[r0:r1],
               X[j, r0:r1, c0:c1], v, rec[j], red[:, :, r0:r1], j, val, ee)


@njit(nogil=True, cache=True, error_model="numpy")
def gram_steps(dgemm, syscall, memcpy, nr, mine, c0s, kind, a, M, X, Q, S2, Es, coef, live, vs, rec, reds,
               vals, ees, tmps, Ds, kaddr, dims, consts, board, stamp, sync, elementwise, t0, nsteps):
    """Steps t0 … t0+nsteps−1 of the panels ``mine`` (slots 0 … nsteps−1 of M, X; Q's one slot).  Slot 0's pass
    first; then per step and panel: the products, and by blocks of :data:`ROW_BLOCK` rows the update
    and at once the next step's pass on the same rows (rows are independent, so these are the
    operations of :meth:`eoscheck.gdfused.FusedBlock.panel_steps`, bit for bit, in a cache-friendlier
    order: +2.5 % on the benchmark's main problem, the median of 26 alternated pairs).  ``sync``:
    publish each S_p and wait for the other threads' (several threads); ``elementwise`` False: the
    products alone (the ceiling of a step).  Returns the steps done, −1 if another thread aborted
    the run."""
    P = c0s.shape[0] - 1
    k = M.shape[1]
    if elementwise and nsteps > 0:
        for p in mine:
            _rows_pass(kind, a, M, X, Q, S2, Es[p], coef, live, vs[p], rec, reds[p], vals[p], ees[p], tmps[p],
                       0, t0 & 1, c0s[p], c0s[p + 1], 0, k)
            if sync:
                _publish(memcpy, syscall, nr, board, stamp, p, 0)
    for j in range(nsteps):
        par = (t0 + j) & 1
        sbase = S2[par].ctypes.data
        for p in mine:
            D = Ds[p]
            for i in range(P):
                q = (p + i) % P
                if i > 0 and sync and elementwise:
                    if not _wait(syscall, nr, board, q, j):
                        return -1
                _gemm(dgemm, consts, dims, p, i, kaddr[p, i], sbase + 8 * c0s[q], D.ctypes.data, i > 0)
            if elementwise:
                c0 = c0s[p]
                c1 = c0s[p + 1]
                nxt = j + 1 < nsteps
                for r0 in range(0, k, ROW_BLOCK):
                    r1 = min(k, r0 + ROW_BLOCK)
                    update_gram(M[j, r0:r1, c0:c1], D[r0:r1], M[j + 1, r0:r1, c0:c1], X[j, r0:r1, c0:c1],
                                S2[par, r0:r1, c0:c1], X[j + 1, r0:r1, c0:c1], reds[p][:, :, r0:r1], j)
                    if nxt:
                        _rows_pass(kind, a, M, X, Q, S2, Es[p], coef, live, vs[p], rec, reds[p], vals[p],
                                   ees[p], tmps[p], j + 1, 1 - par, c0, c1, r0, r1)
                if nxt and sync:
                    _publish(memcpy, syscall, nr, board, stamp, p, j + 1)
    return nsteps


@njit(nogil=True, cache=True, error_model="numpy")
def _sum_panels(D, Ds):
    """D = Σ_p D_p in panel order (one panel: D is D_0 itself)."""
    if len(Ds) == 1:
        return
    k, d = D.shape
    for r in range(k):
        for c in range(d):
            D[r, c] = Ds[0][r, c]
    for p in range(1, len(Ds)):
        Dp = Ds[p]
        for r in range(k):
            for c in range(d):
                D[r, c] += Dp[r, c]


@njit(nogil=True, cache=True, error_model="numpy")
def primal_steps(dgemm, syscall, memcpy, nr, mine, c0s, kind, a, M, X, Q, S2, Es, coef, live, vs, rec, reds,
                 vals, ees, tmps, Ds, D, wstar, zaddr, dims, consts, board, stamp, sync, t0, nsteps):
    """Primal-form steps t0 … t0+nsteps−1 of the panels ``mine`` (row panels of Z; slots 0 … nsteps−1 of M, X,
    slot 0's M = W Zᵀ given): per step and panel, M_p = W_t Z_pᵀ, exp and the fused pass, D_p = S_p Z_p (published);
    the thread of panel 0 awaits every D_p, sums them in panel order and writes W_{t+1} = W_t + D (published), which
    the other threads await; after the chunk, each thread computes its panels' M_p of slot nsteps — the operations of
    :meth:`eoscheck.gdfused.FusedBlock._primal_panel_steps`, bit for bit but for exp (≤ 1 ulp).  dims[p] = the
    column-major shapes of M_pᵀ = Z_p W_tᵀ and D_pᵀ = Z_pᵀ S_pᵀ; zaddr[p] = (Z_pᵀ, Z_p), C-contiguous.  Board
    slots 0 … P−1: the D_p written, P: W written, P+1: the abort flag.  Returns the steps done, −1 if another
    thread aborted the run."""
    P = c0s.shape[0] - 1
    k, n = M.shape[1], M.shape[2]
    d = X.shape[2]
    lead = mine[0] == 0
    none = X[:, :, :0]                     # the pass's gram-form state c: none in the primal form
    row = 8 * k * n
    for j in range(nsteps):
        for p in mine:
            c0 = c0s[p]
            if j > 0:                      # M_p = W_j Z_pᵀ (slot 0's is given), while Z_p is in cache for D_p
                _gemm(dgemm, consts, dims, p, 0, zaddr[p, 0], X.ctypes.data + 8 * d * k * j,
                      M.ctypes.data + row * j + 8 * c0, False)
            _rows_pass(kind, a, M, none, Q, S2, Es[p], coef, live, vs[p], rec, reds[p], vals[p], ees[p], tmps[p],
                       j, 0, c0, c0s[p + 1], 0, k)
            _gemm(dgemm, consts, dims, p, 1, zaddr[p, 1], S2.ctypes.data + 8 * c0, Ds[p].ctypes.data, False)
            if sync:
                _publish(memcpy, syscall, nr, board, stamp, p, j)
        if lead:
            if sync:
                for q in range(P):
                    if not _wait(syscall, nr, board, q, j):
                        return -1
            _sum_panels(D, Ds)
            update_primal(X[j], D, X[j + 1], wstar, reds[0], j, rec[j])
            if sync:
                _publish(memcpy, syscall, nr, board, stamp, P, j)
        elif not _wait(syscall, nr, board, P, j):
            return -1
    for p in mine:                         # the next chunk's slot 0: M_p = W Z_pᵀ of the state after the chunk
        _gemm(dgemm, consts, dims, p, 0, zaddr[p, 0], X.ctypes.data + 8 * d * k * nsteps,
              M.ctypes.data + row * nsteps + 8 * c0s[p], False)
    return nsteps


def _entry_point(dispatcher, args):
    """The compiled entry point of ``dispatcher`` for the types of ``args`` (compiled, or loaded from
    the cache, on first use).  Calling it skips numba's type dispatch, which falls back to typing
    every argument in Python for the ctypes functions and tuples passed here: 0.5 ms a call,
    measured, against 10 µs through the entry point — twice per chunk, under the GIL."""
    return dispatcher.compile(tuple(dispatcher.typeof_pyval(a) for a in args))


class StepLoop:
    """The compiled step loop of one :class:`~eoscheck.gdfused.FusedBlock` in BLAS mode (gram or primal form):
    :meth:`run` advances a chunk, panel p on thread p mod T.  A board of int32 step stamps (futex words),
    its last slot the abort flag."""

    #: The compiled kernel (``gram_steps``, ``primal_steps``) and the board's slots besides the panels'.
    kernel = None
    extra_slots = 0

    def __init__(self, block, dgemm, itype, libc):
        # a weak reference: the block holds this loop (block.compiled), and a cycle would keep the
        # block's chunk buffers (50 MB for the benchmark's main problem) until the cyclic collector ran
        self.block = weakref.proxy(block)
        self.dgemm, self.itype = dgemm, itype
        self.syscall, self.memcpy, self.nr = libc
        b = block
        self.c0s = np.array([c.start for c in b.cols] + [b.cols[-1].stop], dtype=np.int64)
        self.widths = np.diff(self.c0s)
        self.consts = np.zeros(4)
        self.consts.view(np.uint8)[0] = ord("N")
        self.consts[1:] = (1.0, 0.0, 1.0)
        # per-panel arrays as tuples (numba: a homogeneous tuple, indexed at run time; compiled once
        # per panel count and cached, where a typed list is compiled anew in every process)
        pan = b.panels
        self.Es = tuple(x["E"] for x in pan)
        self.vs, self.reds = tuple(x["v"] for x in pan), tuple(x["red"] for x in pan)
        self.vals, self.ees = tuple(x["val"] for x in pan), tuple(x["ee"] for x in pan)
        self.Ds = tuple(x["D"] for x in pan)
        self.tmps = tuple(np.zeros(w) for w in self.widths)
        self._entry = None          # the kernel's compiled entry point for these argument types

    @classmethod
    def of(cls, block) -> StepLoop | None:
        """The compiled loop of ``block`` (:class:`GramLoop` or :class:`PrimalLoop`), or None (not in BLAS
        mode, or no dgemm/futex, or :data:`ENABLED` off)."""
        if block.mode != "blas" or not ENABLED:
            return None
        libc = _libc()
        found = fortran_dgemm(block.gemm) if libc is not None else None
        if found is None:
            return None
        return (GramLoop if block.method == "gram" else PrimalLoop)(block, *found, libc)

    def _args(self, mine, board, stamp, sync, elementwise, t0, nsteps, rec) -> tuple:
        """The kernel's arguments: those both forms take, then the form's own (:meth:`_tail`)."""
        b = self.block
        return (self.dgemm, self.syscall, self.memcpy, self.nr, mine, self.c0s, b.kind, b.a, b.M, b.X, b.Q, b.S2,
                self.Es, b.coef, b.live, self.vs, rec, self.reds, self.vals, self.ees, self.tmps,
                self.Ds) + self._tail(board, stamp, sync, elementwise, t0, nsteps)

    def _tail(self, board, stamp, sync, elementwise, t0, nsteps) -> tuple:
        raise NotImplementedError

    def _call(self, *args) -> int:
        args = self._args(*args)
        if self._entry is None:
            self._entry = _entry_point(self.kernel, args)
        return self._entry(*args)

    def run(self, t0: int, nsteps: int, rec: np.ndarray, threads: int, elementwise: bool = True) -> None:
        """Steps t0 … t0+nsteps−1 on ``threads`` threads (panel p on thread p mod T); ``elementwise``
        False (gram form): the products alone."""
        b = self.block
        P = len(b.panels)
        T = max(1, min(threads, P))
        board = np.full(P + self.extra_slots + 1, -1, dtype=np.int32)
        board[-1] = 0
        if T == 1:
            self._call(np.arange(P), board, np.zeros(1, np.int32), False, elementwise, t0, nsteps, rec)
            return

        def work(mine):
            if mine[0] != 0:
                b.enter_thread()
            self._call(np.asarray(mine, dtype=np.int64), board, np.zeros(1, np.int32), True, elementwise, t0,
                       nsteps, rec)

        on_threads(P, T, work, lambda: self.abort(board))

    def abort(self, board: np.ndarray) -> None:
        """Release every waiter: the abort flag, and every slot changed (a waiter about to sleep on the
        old value returns at once), then woken."""
        board[-1] = 1
        board[:-1] = _ABORTED
        for q in range(board.shape[0] - 1):
            self.syscall(self.nr, board.ctypes.data + 4 * q, FUTEX_WAKE, _WAKE_ALL, 0, 0, 0)


class GramLoop(StepLoop):
    """The gram form's compiled steps (:func:`gram_steps`)."""

    kernel = gram_steps

    def __init__(self, block, dgemm, itype, libc):
        super().__init__(block, dgemm, itype, libc)
        b, P, widths = block, len(block.panels), self.widths
        order = [[(p + i) % P for i in range(P)] for p in range(P)]
        # the K blocks of panel p in its own order (q = p, p+1, …): P["K"][q] = K[q, p], C-contiguous
        self.kaddr = np.array([[b.panels[p]["K"][q].ctypes.data for q in order[p]] for p in range(P)], dtype=np.int64)
        self.dims = np.array([[[widths[p], b.k, widths[q], widths[p], b.n, widths[p]] for q in order[p]]
                              for p in range(P)], dtype=itype)

    def _tail(self, board, stamp, sync, elementwise, t0, nsteps) -> tuple:
        return self.kaddr, self.dims, self.consts, board, stamp, sync, elementwise, t0, nsteps


class PrimalLoop(StepLoop):
    """The primal form's compiled steps (:func:`primal_steps`)."""

    kernel = primal_steps
    extra_slots = 1                 # W_{t+1} written

    def __init__(self, block, dgemm, itype, libc):
        super().__init__(block, dgemm, itype, libc)
        b, k, n, d = block, block.k, block.n, block.d
        # a panel's Z_p, Z_pᵀ and D_p are C-contiguous by construction (FusedBlock: aligned copies, or the
        # block's own Z = np.ascontiguousarray(data.Z) and zt on one panel)
        # M_pᵀ (w × k, ld n) = Z_p (w × d) W_tᵀ: column-major dgemm(m = w, n = k, k = d, Z_pᵀ ld w, W ld d, ld n);
        # D_pᵀ (d × k, ld d) = Z_pᵀ (d × w) S_pᵀ: dgemm(m = d, n = k, k = w, Z_p ld d, S_p ld n, ld d)
        self.dims = np.array([[[w, k, d, w, d, n], [d, k, w, d, n, d]] for w in self.widths], dtype=self.itype)
        self.zaddr = np.array([[P["ZT"].ctypes.data, P["Z"].ctypes.data] for P in b.panels], dtype=np.int64)

    def _tail(self, board, stamp, sync, elementwise, t0, nsteps) -> tuple:
        b = self.block
        return b.D, b.wstar, self.zaddr, self.dims, self.consts, board, stamp, sync, t0, nsteps


drop_stale(gram_steps, gdfused, explog)   # the cached step loops inline gdfused's pass and updates and explog's exp


#: Tests turn the compiled loops off to exercise the Python loops they replace.
ENABLED = True

__all__ = ["GramLoop", "PrimalLoop", "StepLoop", "fortran_dgemm", "gram_steps", "primal_steps"]
