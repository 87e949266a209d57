"""The fast GD engine on a linear model: chunked batched steps, one recorder.

The recursion is the reference engine's (:class:`eoscheck.gd.ReferenceGD`), eq. (GD):
w_{t+1} = w_t − (η/n) Zᵀ ℓ′(Z w_t), for K stepsizes at once, in the primal form (two GEMMs,
4nd flops per stepsize-step) or the gram form (one n×n GEMM, 2n²; see :mod:`eoscheck.gdnumpy`).
Three backends advance it chunk by chunk:

* ``numba`` (CPU default for the built-in losses): one fused compiled pass per step and BLAS
  GEMMs (OpenBLAS, or MKL on Intel CPUs), large problems split into panels of the data points on
  threads that block, never spin (:mod:`eoscheck.gdfused`);
* ``numpy``: the same steps as numpy passes (:mod:`eoscheck.gdnumpy`), the reference the fused
  path is tested against, and the CPU path for losses without a fused form;
* ``torch``: the loss's torch evaluators, on CPU or CUDA (:mod:`eoscheck.gdtorch`).

After each chunk, :func:`_chunk_records` turns the block's per-step row sums into the records:
divergence (the reference's rule, applied by :class:`eoscheck.recorder.GDRecorder`), ln L with
the log-domain fallback, F, ‖w‖, …; rows are independent, so a row that leaves the float range
at step t is frozen at w_t without touching the others.  No process is forked and no thread
spins; BLAS runs single-threaded inside the engine; reruns on one machine are bit-identical,
whatever the thread count (the panel split and every summation order are fixed by the machine
and the problem, not by the threads or the load).
"""

from __future__ import annotations

import math
import os
import time

import numpy as np
from numba import njit

from .gdinputs import LOG_DOMAIN_BELOW
from .gdnumpy import INLINE_ELEMS, NumpyBlock, chunk_length, default_gemm
from .losses import Loss
from .lossnp import kernel_for
from .maxmargin import row_norm_max
from .resources import blas_single_thread, single_torch_thread

#: A margin sum bound above which the gradient Zᵀq is computed to check it is finite.
DANGER = 1e300
#: The gram form's η²‖∇L‖² = S·(SK) rounds relative to its bound (Σᵢ|Sᵢ|·R)² (R = maxᵢ‖zᵢ‖), not to its value:
#: where it is below CANCELLED times that bound (gradients of many points cancelling, as near a minimiser on
#: non-separable data, where it read 1.3371e-8 for 1.3385e-8), the record is recomputed from ∇L = −(1/n)Zᵀq, as
#: the reference computes it.  On separable data it is ≥ (γ*/R)² times the bound, so this costs nothing there for
#: γ*/R ≥ 1e-3.  (‖w‖ and ⟨w, w*⟩ lose digits there too, through the state c itself: see gd.py.)
CANCELLED = 1e-6
#: A recorded ‖w‖² below this, or not finite, is recomputed from w itself (:func:`eoscheck.maxmargin.row_norm_max`):
#: its square root would have lost digits or left the range (‖w‖ < 1e-145: w = 0 at step 0, or data of norm 1e-200).
SQUARE_FLOOR = 1e-290
#: Batched GEMM flops per step from which the data points are split into panels.
PANEL_FLOPS = 2e7
#: Fewest data points per panel.
MIN_PANEL = 128


def flops_per_step(n: int, d: int, method: str) -> float:
    """Floating-point operations of the GEMMs of one stepsize-step: 4nd (primal), 2n² (gram)."""
    return 4.0 * n * d if method == "primal" else 2.0 * n * n


#: Largest maxᵢ‖zᵢ‖² for the gram form: K = ZZᵀ has entries up to it (Cauchy–Schwarz), which must stay
#: finite with room for the products K·S (‖x‖ ≳ 1.3e154 overflowed K into a divergence that was not there).
GRAM_MAX_NORM2 = 1e300


#: The largest η·maxᵢ‖zᵢ‖² the automatic choice runs in the gram form: c·K then stays below 1e290·T·C_g, under
#: float64's 1.8e308 for any run the command line accepts (≤ 1e13 steps) and C_g ≤ 1e5.
GRAM_MAX_ETA_NORM2 = 1e290


def gram_fits(max_norm: float) -> bool:
    """K = ZZᵀ is representable: maxᵢ‖zᵢ‖² ≤ :data:`GRAM_MAX_NORM2`."""
    return max_norm * max_norm <= GRAM_MAX_NORM2


def gram_bookkeeping_fits(max_norm: float, eta_max: float) -> bool:
    """The gram form's bookkeeping c stays in float64: η·maxᵢ‖zᵢ‖² ≤ :data:`GRAM_MAX_ETA_NORM2`."""
    return eta_max * max_norm * max_norm <= GRAM_MAX_ETA_NORM2


def choose_method(n: int, d: int, w0_zero: bool, max_norm: float = 1.0, eta_max: float = 1.0) -> str:
    """The cheaper form: gram when 2n² ≤ ¾·4nd (n ≤ 1.5d), w₀ = 0, n ≥ 64, K = ZZᵀ fits in float64
    (:func:`gram_fits`) and η·maxᵢ‖zᵢ‖² ≤ :data:`GRAM_MAX_ETA_NORM2`, else primal.

    Below n = 64 a step costs its calls, not its flops, and the primal form then rounds like
    the reference (same sums in the same order).  The gram form's bookkeeping c grows by (η/n)|q| ≤ ηC_g/n a
    step with nothing to cancel it: at η ≈ 1e308 it overflowed (w = Zᵀc NaN, unflagged, where the primal w
    stayed finite), so huge stepsizes run in the primal form.
    """
    return "gram" if (w0_zero and n >= 64 and 2 * n * n <= 3 * n * d and gram_fits(max_norm)
                      and gram_bookkeeping_fits(max_norm, eta_max)) else "primal"


def machine_cpus() -> int:
    """CPUs this process may run on (fixed for a machine and a process)."""
    try:
        return len(os.sched_getaffinity(0))
    except (AttributeError, OSError):
        return os.cpu_count() or 1


def numerics() -> dict[str, object]:
    """What fixes a trajectory's bits on a machine besides the code and the configuration: the GEMM library
    (:func:`~eoscheck.gdnumpy.default_gemm`, ``EOSCHECK_GEMM``) and the CPUs the process may use (the panels)."""
    return {"gemm": default_gemm(), "cpus": machine_cpus()}


def choose_panels(K: int, n: int, d: int, method: str) -> int:
    """Panels of the data points: one per CPU this process may use (:func:`machine_cpus`) when a batched step
    is large, else one.  Gram form: column panels of K = ZZᵀ; primal form: row panels of Z, whose partial
    gradients S_p Z_p are summed in panel order.

    Depends on the machine, the CPUs the process may use and the problem only, so the result does not depend
    on the threads or the load.  Pinning a rerun to fewer CPUs (``taskset``, a cpuset) can change the panels and
    so the last bits (≲ 1e-15 relative; ``run.json``'s ``engine`` records them): panels counted from the whole
    machine instead ran 2 panels on one pinned CPU 4 % slower and n/128 panels on a few CPUs of a large node
    17–24 % slower (measured)."""
    if max(2, K) * flops_per_step(n, d, method) < PANEL_FLOPS:
        return 1
    return int(max(1, min(machine_cpus(), n // MIN_PANEL)))


def others_busy(cpus: int, d_total: float, d_idle: float, own_cpu_s: float, wall_s: float) -> float:
    """CPUs kept busy by *other* processes over a window: all CPUs' busy share (/proc/stat ticks,
    ``cpus`` CPUs in all) less this process's own CPU seconds per second (its other threads, e.g.
    a thread pool of the same process, are not a competitor to step back from)."""
    if d_total <= 0 or wall_s <= 0:
        return 0.0
    busy = cpus * (1.0 - d_idle / d_total) - own_cpu_s / wall_s
    return float(min(max(busy, 0.0), cpus))


def cpu_snapshot() -> tuple | None:
    """(all CPUs' ticks, idle ticks, this process's CPU seconds, wall seconds, this thread's CPU
    seconds) now; None if unknown."""
    try:
        with open("/proc/stat") as fh:
            vals = [int(x) for x in fh.readline().split()[1:]]
        idle = vals[3] + (vals[4] if len(vals) > 4 else 0)
    except (OSError, ValueError, IndexError):
        return None
    return sum(vals), idle, time.process_time(), time.perf_counter(), time.thread_time()


def busy_cpus(since: tuple | None, now: tuple | None) -> float:
    """CPUs kept busy by other processes between two snapshots (0 if unknown)."""
    if since is None or now is None:
        return 0.0
    return others_busy(os.cpu_count() or 1, *(b - a for a, b in zip(since[:4], now[:4])))


def helper_cpus(since: tuple, now: tuple) -> float:
    """CPUs used between two snapshots by this process's threads other than the calling one."""
    wall = now[3] - since[3]
    return ((now[2] - since[2]) - (now[4] - since[4])) / wall if wall > 0 else 0.0


#: Seconds of a run's start (its set-up and first chunks, on one thread) over which the load is
#: measured before its threads are chosen: five /proc/stat ticks a CPU.
LOAD_WINDOW = 0.05
#: A window in which this process's other threads used this share of a CPU or more, and other
#: processes at least OTHERS_SEEN CPUs, is measured again: a BLAS pool of ours that still spins (OpenBLAS's
#: spins at ~1 CPU for ~120 ms after a multi-threaded product before the run, e.g. the max-margin
#: certificate's, measured) takes CPU time from the others, which then look
#: idler than they are (measured: a competitor read 0.5 CPU).  With no other process in sight the
#: window counts as it is, so a run on a quiet machine does not wait for its own pool.
HELPERS_QUIET = 0.1
OTHERS_SEEN = 0.15
#: Windows tried before the load is taken as measured, quiet helpers or not.
LOAD_TRIES = 4
#: Chunks are this many times shorter while the load is measured: the window closes at the first
#: chunk's end past LOAD_WINDOW, and a full chunk of the main benchmark problem on one thread takes
#: ~80 ms, against ~30 ms of the window that its set-up (K = Z Zᵀ) already fills.
LOAD_CHUNKS = 4


def choose_threads(panels: int, since: tuple | None, now: tuple | None) -> int:
    """Threads for ``panels`` panels: the CPUs left idle by other processes between two snapshots.

    Measured with another process spinning on one of 2 CPUs (benchmarks/README.md): 2 blocking
    threads ran the main problem at 0.86–1.19× the speed of 1 thread, depending on what else ran,
    so a busy core is left to its owner (the issue's floor: never slower than 1 thread).
    """
    if panels <= 1:
        return 1
    free = machine_cpus() - busy_cpus(since, now)
    return int(max(1, min(panels, math.floor(free + 0.5))))


def run_fast(data, loss: Loss, eta: np.ndarray, w0, w_star, steps: int, recorder, bar, *, method: str,
             backend: str, device, threads: int | None) -> tuple[np.ndarray | None, dict]:
    """Run the fast engine into ``recorder``; returns (final w (K, d), None where the recorder stopped the run;
    engine info)."""
    # every product on one thread, the set-up's too (K = Z Zᵀ, M₀ = W₀Zᵀ, Zw*): a BLAS pool used
    # there keeps spinning after it (OpenBLAS: ~1 CPU for ~120 ms, measured) against the run's own
    # threads and other processes, and its thread count would set the bits of K and M₀
    with np.errstate(all="ignore"), blas_single_thread(), single_torch_thread(device.type):
        # the load's window opens with the set-up (one thread, as the run's start); a run of one panel has one
        # thread whatever the load, and reads no load (/proc/stat: ~60 µs, a tenth of a small run's set-up)
        since = cpu_snapshot() if threads is None and choose_panels(len(eta), data.n, data.d, method) > 1 else None
        blk, info = build_block(data, loss, eta, w0, w_star, method=method, backend=backend, device=device,
                                threads=threads, steps=steps)
        final_w = _run_chunks(blk, recorder, steps, bar, info, len(eta), since)
    info["inline"] = bool(getattr(blk, "inline", max(2, len(eta)) * blk.n >= INLINE_ELEMS))
    return final_w, info


def build_block(data, loss: Loss, eta: np.ndarray, w0, w_star, *, method: str, backend: str, device,
                threads: int | None, steps: int | None = None) -> tuple:
    """(the block that advances the K stepsizes chunk by chunk, engine info): backend, panels and
    threads chosen as :func:`run_fast` runs them; threads None (several panels, ``threads`` not
    given): chosen from the load once the run has begun (:func:`_run_chunks`).  ``steps`` given:
    a chunk holds at most the run's steps + 1 slots (the same chunks, smaller buffers: a 100-step
    run of a small problem allocated 2¹² slots, a quarter of its time, measured)."""
    Z = np.ascontiguousarray(data.Z, dtype=np.float64)
    n, d = Z.shape
    K = len(eta)
    w0a = None if w0 is None else np.asarray(w0, dtype=np.float64)
    ws = None if w_star is None else np.asarray(w_star, dtype=np.float64)
    kernel = kernel_for(loss)
    kind = None
    if backend in ("auto", "numba") and device.type == "cpu":
        from .gdfused import fused_kind

        kind = fused_kind(kernel)
        backend = "numba" if kind is not None else "numpy"
    if backend == "numba" and kind is None:
        backend = "numpy"
    k2 = max(2, K)
    info = {"method": method, "backend": backend, "threads": 1, "panels": 1}
    if backend == "torch":
        from .gdtorch import TorchBlock

        C = chunk_length(k2, n)
        if device.type != "cpu":  # one host sync per chunk: make chunks long
            C = int(max(2, min(64, (1 << 27) // (k2 * n))))
        C = _at_most_the_run(C, steps)
        blk = TorchBlock(Z, eta, w0a, ws, loss, method, C, device)
        blk.rmax = row_norm_max(Z)
        info["gemm"] = "torch"
        return blk, info
    Kmat = Z @ Z.T if method == "gram" else None
    C = chunk_length(k2, n)
    if backend == "numba":
        from .gdfused import FusedBlock, is_small, small_chunk_length

        panels = choose_panels(K, n, d, method)
        T = min(panels, threads) if threads is not None else (None if panels > 1 else 1)
        flops = k2 * flops_per_step(n, d, method)
        if is_small(flops, K, n):
            C = small_chunk_length(K, n)
        C = _at_most_the_run(C, steps)
        blk = FusedBlock(Z, Kmat, eta, w0a, ws, kernel, kind, method, C, panels, flops, default_gemm())
        if blk.mode == "blas":
            from .steploop import StepLoop

            blk.compiled = StepLoop.of(blk)
        info.update(threads=T, panels=panels, mode=blk.mode, gemm=blk.gemm,
                    step_loop="compiled" if blk.compiled is not None else "python")
    else:
        blk = NumpyBlock(Z, Kmat, eta, w0a, ws, kernel, method, _at_most_the_run(C, steps), default_gemm())
        info.update(gemm=blk.gemm)
    blk.rmax = row_norm_max(Z)      # R = maxᵢ‖zᵢ‖, the scale of the gram form's quadratic records
    return blk, info


def _at_most_the_run(C: int, steps: int | None) -> int:
    """A chunk length of C slots, or fewer where the run itself (steps + 1 slots) is shorter."""
    return C if steps is None else int(max(1, min(C, steps + 1)))


def _run_chunks(blk, recorder, steps: int, bar, info: dict, K: int, since: tuple | None) -> np.ndarray | None:
    """The chunks of a run.  ``info["threads"]`` None: the set-up (from the snapshot ``since``) and the
    first chunks run on one thread while the load is measured (at least :data:`LOAD_WINDOW` s, no
    waiting; a window in which this process's other threads were busy beside other processes is
    measured again), in chunks :data:`LOAD_CHUNKS` times shorter so that the window closes soon
    after its time, then the rest on :func:`choose_threads`'s count, written into ``info`` (the bits
    depend neither on it nor on where chunks end)."""
    threads = info["threads"]
    tries = 0
    if threads is None:
        # since None (no /proc/stat): every panel's thread, as on an idle machine
        info["threads"] = threads = 1 if since is not None else choose_threads(info["panels"], None, None)
    else:
        since = None
    t0 = 0
    final_w = None
    while t0 <= steps:
        if since is not None and time.perf_counter() - since[3] >= LOAD_WINDOW:
            now = cpu_snapshot()
            tries += 1
            if (now is not None and tries < LOAD_TRIES and helper_cpus(since, now) >= HELPERS_QUIET
                    and busy_cpus(since, now) >= OTHERS_SEEN):
                since = now                   # others seen while our own pool spun: measure again
            else:
                info["threads"] = threads = choose_threads(info["panels"], since, now)
                since = None
        nsteps = min(blk.C if since is None else max(1, blk.C // LOAD_CHUNKS), steps + 1 - t0)
        rec_j = recorder.recorded(t0, nsteps)
        recorded = np.zeros(nsteps, dtype=bool)
        recorded[rec_j] = True
        if threads > 1:
            blk.advance(t0, nsteps, recorded, threads)
        else:
            blk.advance(t0, nsteps, recorded)
        red = blk.reductions(nsteps, rec_j, len(rec_j) == nsteps)
        _chunk_records(blk, recorder, red, t0, nsteps, rec_j, K)
        if recorder.finished:                 # the recorder has what it wanted (:func:`eoscheck.gd.first_steps`)
            return None
        if t0 + nsteps > steps:
            final_w = blk.final_w(nsteps - 1)[:K]
        blk.roll(nsteps)
        t0 += nsteps
        bar.update(nsteps)
    return final_w


def _cells(mask: np.ndarray):
    """The (j, r) pairs where ``mask`` holds (none, without the search, in the usual case)."""
    return zip(*np.nonzero(mask)) if mask.any() else ()


#: The most margins one call of :func:`_refill` gathers (32 MiB of float64; the loss's log-domain forms make a few
#: temporaries of that size): a chunk whose every cell underflowed holds up to 2²⁷ margins on CUDA.
REFILL_MARGINS = 1 << 22


def _refill(out: np.ndarray, mask: np.ndarray, recompute, n: int, slots: np.ndarray | None = None) -> None:
    """``out[j, r] = recompute(js, rs)`` at the cells where ``mask`` holds, :data:`REFILL_MARGINS` margins of n a
    cell at most a call (a row's value does not depend on the others in its call); ``slots[j]``: the chunk slot of
    row j of ``out``, where it holds the recorded steps only."""
    if mask.any():
        js, rs = np.nonzero(mask)
        step = max(1, REFILL_MARGINS // max(1, n))
        for i in range(0, len(js), step):
            j, r = js[i:i + step], rs[i:i + step]
            out[j, r] = recompute(j if slots is None else slots[j], r)


@njit(cache=True, nogil=True, error_model="numpy")
def finite_states(m_min, m_max, q_sum, K, zmax, n):
    """(nsteps, K) mask of finite states (min and max margin finite), and whether every Σ|q|·max|Z|·n is below
    :data:`DANGER` (a NaN is not).  One pass instead of numpy's five; column by column, without branches: a
    one-stepsize block's column is contiguous and vectorises (1.6 against 6.3 µs row by row on 3,334 steps); with
    several stepsizes a column is strided (3.2 against 1.5 µs on 64 × 32), small beside those chunks' steps."""
    nsteps = m_min.shape[0]
    state_ok = np.empty((nsteps, K), dtype=np.bool_)
    unsafe = False
    for r in range(K):
        for j in range(nsteps):
            a = m_min[j, r]
            b = m_max[j, r]
            state_ok[j, r] = (a - a == 0.0) & (b - b == 0.0)
            unsafe |= ~(q_sum[j, r] * zmax * n < DANGER)
    return state_ok, not unsafe


def _ok(blk, red, alive, K) -> tuple[np.ndarray, np.ndarray]:
    """(nsteps, K) masks: M finite (w_t is shown), and also ∇L finite and L a number (the run goes on: a NaN L at
    a finite state, a user loss outside its domain such as log(1 − z) at z > 1, stops it, as in the reference).

    Σ|q| finite implies every q finite, and |∂ᵢ(Zᵀq)| ≤ Σ|q|·max|Z| bounds every partial
    sum of the gradient, so the exact check runs only where that bound (with a factor n of
    headroom for rounding) nears overflow.
    """
    state_ok, safe = finite_states(red["m_min"], red["m_max"], red["q_sum"], K, blk.zmax, float(blk.n))
    ok = state_ok & ~np.isnan(red["value_sum"][:, :K])
    if safe:                                  # every bound far from overflow
        return state_ok, ok
    qs = red["q_sum"][:, :K]
    live = state_ok & alive[None, :]
    qok = np.isfinite(qs)
    for j, r in _cells(live & ~qok):  # q_sum overflowed, or q has inf/NaN
        qok[j, r] = blk.q_finite(j, r)
    ok &= qok
    for j, r in _cells(live & qok & ~(qs * blk.zmax * blk.n < DANGER)):
        ok[j, r] = blk.grad_finite(j, r)
    return state_ok, ok


@njit(cache=True, nogil=True, error_model="numpy")
def chunk_values(vs, qs, m_min, F, wn2, gn2, le0, sel, shown, ok, K, n, eta, rmax, log_below):
    """A chunk's records from its row sums, in one pass, and the cells where the reference computes them otherwise
    (each mask with whether it holds anywhere).  ``sel``: the recorded slots (None: every slot); F, ‖w‖², #{m ≤ 0}
    are given there only; ``rmax`` < 0: not the gram form; ``log_below``: :data:`LOG_DOMAIN_BELOW` (an argument,
    not a global: numba would freeze another module's constant into its cached code).

    * L = Σℓ/n, G = Σ|q|/n; ln L from the log domain where L is not in [``log_below``, ∞) (ln L not finite, or
      L with too few digits), on shown cells;
    * ln F from the log domain where F ∉ (1e-290, 1e290); ‖w‖ = √‖w‖² from w where ‖w‖² ∉ [SQUARE_FLOOR, ∞) and
      the min margin is finite; ‖∇L‖ = √(η²‖∇L‖²)/η, from ∇L itself where that is not finite, where
      η²‖∇L‖² < SQUARE_FLOOR with L > 0, where the gram form's S·(SK) cancelled (below CANCELLED·((η/n)·Σ|q|·R)²),
      or where the step ∇L is not finite (``ok`` False) — on shown cells; #{m ≤ 0}/n.

    Column by column, the masks without branches, as :func:`finite_states`."""
    nsteps = vs.shape[0]
    if sel is None:
        R = nsteps
    else:
        R = sel.shape[0]
    L = np.empty((nsteps, K))
    G = np.empty((nsteps, K))
    need_L = np.empty((nsteps, K), dtype=np.bool_)
    any_L = False
    for r in range(K):
        for j in range(nsteps):
            x = vs[j, r] / n
            L[j, r] = x
            G[j, r] = qs[j, r] / n
            b = shown[j, r] & ~((x >= log_below) & (x < math.inf))
            need_L[j, r] = b
            any_L |= b
    w_norm = np.empty((R, K))
    grad_norm = np.empty((R, K))
    error = np.empty((R, K))
    need_F = np.empty((R, K), dtype=np.bool_)
    need_w = np.empty((R, K), dtype=np.bool_)
    need_g = np.empty((R, K), dtype=np.bool_)
    any_F = False
    any_w = False
    any_g = False
    gram = rmax >= 0.0
    for r in range(K):
        e = eta[r]
        for i in range(R):
            if sel is None:                   # every slot recorded (a gather kept the loop scalar; the branch
                j = i                         # is resolved when the function is compiled for a None sel)
            else:
                j = sel[i]
            a = shown[j, r]
            f = F[i, r]
            b = a & ~((f > 1e-290) & (f < 1e290))
            need_F[i, r] = b
            any_F |= b
            w2 = wn2[i, r]
            w_norm[i, r] = math.sqrt(w2)
            mm = m_min[j, r]
            b = a & ~((w2 >= SQUARE_FLOOR) & (w2 < math.inf)) & (mm - mm == 0.0)
            need_w[i, r] = b
            any_w |= b
            g2 = gn2[j, r]
            g = math.sqrt(g2) / e
            grad_norm[i, r] = g
            small = (g2 < SQUARE_FLOOR) & (L[j, r] > 0.0)
            if gram:
                scale = e / n * qs[j, r] * rmax
                small |= g2 < CANCELLED * scale * scale
            b = a & (~ok[j, r] | ~(g - g == 0.0) | small)
            need_g[i, r] = b
            any_g |= b
            error[i, r] = le0[i, r] / n
    return L, G, w_norm, grad_norm, error, need_L, any_L, need_F, any_F, need_w, any_w, need_g, any_g


def _chunk_records(blk, recorder, red, t0: int, nsteps: int, rec_j: np.ndarray, K: int) -> None:
    """One chunk's row sums into the recorder: divergence, ln L, the records (:func:`chunk_values`), the checkpoints."""
    n = blk.n
    state_ok, ok = _ok(blk, red, recorder.alive, K)
    shown, rows, js = recorder.divergence(t0, state_ok, ok)
    if len(rows):
        blk.freeze(rows, js, nsteps)
    sel = None if len(rec_j) == nsteps else rec_j
    L, G, w_norm, grad_norm, error, need_L, any_L, need_F, any_F, need_w, any_w, need_g, any_g = chunk_values(
        red["value_sum"], red["q_sum"], red["m_min"], red["expneg_sum"], red["wn2"], red["gn2"], red["le0"], sel,
        shown, ok, K, float(n), blk.eta, blk.rmax if blk.method == "gram" else -1.0, LOG_DOMAIN_BELOW)
    log_L = np.log(L)
    if any_L:                                  # the reference's log-domain fallback
        _refill(log_L, need_L, lambda js, rs: blk.lse_log_values(js, rs) - math.log(n), n)
    values = None
    if len(rec_j):
        log_F = np.log(red["expneg_sum"][:, :K])
        if any_F:
            _refill(log_F, need_F, blk.lse_negms, n, rec_j)
        log_F -= math.log(n)
        if any_w:                              # ‖w‖² under- or overflowed: the norm from w itself
            for j, r in _cells(need_w):
                w_norm[j, r] = blk.w_norm(rec_j[j], r)
        if any_g:                              # ∇L overflowed, or its squared norm lost digits: from ∇L itself
            _refill(grad_norm, need_g, blk.grad_norms, n, rec_j)
        m_min = red["m_min"][:, :K] if sel is None else red["m_min"][sel, :K]
        values = {
            "log_F": log_F,
            "grad_norm": grad_norm,
            "w_norm": w_norm,
            "w_proj": red["wproj"][:, :K] if red["wproj"] is not None else np.full_like(w_norm, math.nan),
            "min_margin": m_min, "norm_margin": m_min / w_norm,
            "train_error": error,
        }
    recorder.observe_chunk(t0, L, log_L, G, shown, values)
    for c, j in recorder.checkpoints(t0, nsteps):
        recorder.record_sharpness(c, blk.sharpness(j)[:K], shown[j])
