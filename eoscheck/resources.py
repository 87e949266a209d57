"""What a request will cost, known before it runs: memory (records, data, engine) and work.

A request whose memory estimate exceeds what this process may use (the smallest of the
machine's available memory, the address-space limit ``RLIMIT_AS`` and the cgroup's limit) is
refused with one line that says how to shrink it, instead of allocating and dying.

The estimates are upper-leaning counts of the float64 arrays each stage holds at once:

* records: 12 quantities × K stepsizes × S recorded steps × 8 bytes, held twice (engine + saved copy);
* data: n × d × 8 bytes, held ~4 times (X, Z = yX, the engine's copy, the max-margin solver's copy),
  plus the n × n Gram matrix when the engine uses the gram form (n ≤ 1.5 d), or twice that while
  the max-margin solver uses its Gram form (n² ≤ :data:`GRAM_ENTRIES`), whichever is larger;
* NTK network: per stepsize 8·(4·n·m + 4·m·d) bytes (as :func:`eoscheck.networks.run_ntk` budgets it).
"""

from __future__ import annotations

import contextlib

import os
from dataclasses import dataclass, field

from ._errors import EoscheckError, TooBig

GiB = float(1 << 30)

#: The recorded (K, S) quantities of a linear run (``trajectory.RECORDED``).
N_RECORDED = 12
#: The max-margin solver's Gram form (:mod:`eoscheck.maxmargin`) holds K = ZZᵀ and the active set's
#: rows of it only where K has at most this many entries (n ≤ 2048: 2 × 32 MB at most).
GRAM_ENTRIES = 1 << 22


def _meminfo_available() -> float:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemAvailable:"):
                    return float(line.split()[1]) * 1024
    except OSError:
        pass
    try:
        return float(os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE"))
    except (ValueError, OSError, AttributeError):
        return float("inf")


def _rlimit_left() -> float:
    try:
        import resource

        soft, _ = resource.getrlimit(resource.RLIMIT_AS)
    except (ImportError, OSError, ValueError):
        return float("inf")
    if soft == resource.RLIM_INFINITY:
        return float("inf")
    try:
        with open("/proc/self/statm") as fh:
            used = int(fh.read().split()[0]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError):
        used = 0
    return float(max(soft - used, 0))


def _cgroup_left() -> float:
    try:
        with open("/sys/fs/cgroup/memory.max") as fh:
            limit = fh.read().strip()
        if limit == "max":
            return float("inf")
        with open("/sys/fs/cgroup/memory.current") as fh:
            used = int(fh.read().strip())
        return float(max(int(limit) - used, 0))
    except (OSError, ValueError):
        return float("inf")


def available_memory() -> float:
    """Bytes this process can still allocate: min(MemAvailable, RLIMIT_AS left, cgroup left)."""
    return min(_meminfo_available(), _rlimit_left(), _cgroup_left())


def _size(b: float) -> str:
    for unit, scale in (("TiB", 1 << 40), ("GiB", 1 << 30), ("MiB", 1 << 20), ("KiB", 1 << 10)):
        if b >= scale:
            return f"{b / scale:.3g} {unit}"
    return f"{b:.0f} B"


@dataclass
class Estimate:
    """Memory by part (bytes), floating-point work, and how to shrink each part."""

    what: str
    memory: dict[str, float] = field(default_factory=dict)
    flops: float = 0.0
    stepsize_steps: float = 0.0
    hints: dict[str, str] = field(default_factory=dict)

    @property
    def total(self) -> float:
        return float(sum(self.memory.values()))

    def line(self, available: float | None = None) -> str:
        """One line: total memory (by part), work, and the memory available."""
        avail = available_memory() if available is None else available
        parts = ", ".join(f"{k} {_size(v)}" for k, v in self.memory.items() if v)
        line = f"estimate for {self.what}: memory ≈ {_size(self.total)} ({parts})"
        if self.stepsize_steps:  # no time guess: per-step overheads dominate small problems, flops large ones
            line += f", work ≈ {self.flops:.2g} flop in {self.stepsize_steps:.3g} stepsize-steps"
        if avail != float("inf"):
            line += f"; {_size(avail)} available"
        return line

    def require_work(self) -> None:
        """Refuse, in one line, a run of more than :data:`MAX_STEPSIZE_STEPS` stepsize-steps: a count, not a time,
        so the same request is refused on every machine (``--steps 1e15`` on the toy set started and ran for years)."""
        if self.stepsize_steps > MAX_STEPSIZE_STEPS:
            raise EoscheckError(f"{self.what} is {self.stepsize_steps:.3g} stepsize-steps, more than "
                                f"{MAX_STEPSIZE_STEPS:.0e} (months of computing at the engine's ~3e6 a second); "
                                + self.hints.get("work", "use fewer --steps or stepsizes"))

    def require(self, available: float | None = None) -> None:
        """Raise a one-line :class:`~eoscheck._errors.TooBig` when the estimate exceeds what is available."""
        avail = available_memory() if available is None else available
        if self.total <= avail:
            return
        big = max(self.memory, key=self.memory.get)
        hint = self.hints.get(big, "shrink the request")
        raise TooBig(f"{self.what} needs ≈ {_size(self.total)} of memory ({big} {_size(self.memory[big])}) "
                     f"but {_size(avail)} is available", hint)


#: The most stepsize-steps (stepsizes × steps) the command line runs: 1e13 is about a month at the engine's best rate
#: on a small problem (3.4e6 a second on 2 cores, benchmarks/README.md); beyond it a request is a typo, not a study.
MAX_STEPSIZE_STEPS = 1e13


#: Bytes the NTK engine's stepsizes may hold at once, per device; more stepsizes run in chunks of that size.
NTK_BUDGET = {"cpu": 1 << 30, "cuda": 8 << 30}


#: Steps a network run keeps before handing them to the recorder (:class:`eoscheck.netrecord.Recorder`).
RECORD_CHUNK = 256


def ntk_row_bytes(n: int, d: int, width: int) -> float:
    """The NTK network state of one stepsize: four n × width and four width × d float64 arrays, and the margins and
    ℓ′ of the :data:`RECORD_CHUNK` steps whose records wait to be derived."""
    return 8.0 * (4 * n * width + 4 * width * d + 2 * RECORD_CHUNK * n)


def ntk_chunk(n: int, d: int, width: int, device: str = "cpu") -> int:
    """How many stepsizes the NTK engine runs at once on ``device`` (:data:`NTK_BUDGET`)."""
    return max(1, int(NTK_BUDGET.get(device, 1 << 30) // ntk_row_bytes(n, d, width)))


def gd_estimate(*, K: int, steps: int, recorded: int, n: int, d: int, sharp_points: int = 0,
                model: str = "linear", width: int = 0) -> Estimate:
    """The cost of GD for K stepsizes and ``steps`` steps on n × d data (see the module docstring)."""
    est = Estimate(what=f"{K} stepsize(s) × {steps:,} steps on {n:,} × {d:,} data" +
                   (f", width {width:,}" if model == "ntk" else ""))
    est.stepsize_steps = float(K) * steps
    est.memory["records"] = 2.0 * N_RECORDED * 8 * K * recorded + 2.0 * 8 * K * sharp_points
    grams = max(1 if model == "linear" and n <= 1.5 * d else 0, 2 if n * n <= GRAM_ENTRIES else 0)
    est.memory["data"] = 4.0 * 8 * n * d + (8.0 * n * n * grams if grams else 0.0)   # inf·0 is NaN (n = 1e300)
    est.hints["records"] = ("record fewer steps: --grid log (with --grid-points P; in Python grid=\"log\"), "
                            "fewer --steps or fewer stepsizes")
    est.hints["data"] = "use fewer samples (--n) or features (--d), or a smaller data file"
    if model == "ntk":
        # the stepsizes in flight at once (one chunk): K = 400 on digits08 at width 1024 held 0.5 GB more than one
        est.memory["network"] = min(K, ntk_chunk(n, d, width)) * ntk_row_bytes(n, d, width) + 2 * 8.0 * width * d
        est.hints["network"] = "use a smaller --width (or fewer samples)"
        est.flops = 6.0 * n * width * d * K * steps
    elif model == "linear":
        est.flops = min(4.0 * n * d, 2.0 * n * n) * K * steps
    return est


_CONTROLLER: list = []


class blas_single_thread:
    """numpy's BLAS single-threaded inside the block (no-op without threadpoolctl).

    The engine's GEMMs and the max-margin solver's matrix-vector products run on one BLAS thread (a second
    OpenBLAS thread spins on a shared machine and changes results for thin shapes); so do the compiled NTK
    engine's products, scipy's BLAS called by numba's ``np.dot``.  The threadpoolctl controller, which scans the
    loaded libraries (1.6–3.4 ms measured), is made once per process, after numpy's BLAS (loaded with numpy)
    and scipy's (loaded here first) are; its BLAS libraries' thread counts are then read and set directly (a
    library already on one thread is left alone, and only those changed are restored), where threadpoolctl's
    ``limit`` reads every library's full description: entry and exit 17.7 → 14.7 µs alone, 79–134 → 42–77 µs
    inside a run (measured)."""

    def __enter__(self):
        self.changed = []
        try:
            if not _CONTROLLER:
                import scipy.linalg.cython_blas  # noqa: F401  (its BLAS among the libraries scanned)
                from threadpoolctl import ThreadpoolController

                _CONTROLLER.append(ThreadpoolController().select(user_api="blas").lib_controllers)
            for lib in _CONTROLLER[0]:
                n = lib.num_threads
                if n != 1:
                    lib.set_num_threads(1)
                    self.changed.append((lib, n))
        except Exception:  # threadpoolctl missing or broken: leave BLAS threads alone
            pass
        return self

    def __exit__(self, *exc):
        for lib, n in self.changed:
            lib.set_num_threads(n)


@contextlib.contextmanager
def single_torch_thread(device: str = "cpu"):
    """Run torch (and the MKL inside it) on one CPU thread in the calling thread, restoring the count
    after.  The network runs are many small operations, and two threads on a shared 2-core machine
    oversubscribe (measured 4–9× slower under load); the fast engine's MKL products run one per panel
    thread.  The count is per OS thread for MKL's OpenMP layer: a new thread calls this itself.  No
    effect on CUDA work."""
    import torch

    old = torch.get_num_threads()
    if not str(device).startswith("cuda"):
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)
