"""The worker processes of a sweep's LocalCluster: how they start, their environment, Dask settings.

Workers are forked from a ``multiprocessing`` fork server that has imported :data:`WORKER_PRELOAD`
(:mod:`.warm`: the GD engine, torch, sympy, scipy, numba, and one tiny task run to load numba's
cached kernels), so each starts in milliseconds instead of paying ~2.5 s of imports on its first
task.  The server is a fresh interpreter started with :data:`ONE_THREAD_ENV`, then left running
for the life of this process (later sweeps reuse it); nothing forks inside a worker.  This module
imports nothing heavy, so that ``eoscheck sweep --workers N`` starts the server first thing and it
loads while this process imports and plans the sweep.
"""

from __future__ import annotations

import os

#: Environment of LocalCluster workers (and of their fork server): one BLAS/OpenMP thread each.
ONE_THREAD_ENV = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1",
                  "NUMEXPR_NUM_THREADS": "1", "VECLIB_MAXIMUM_THREADS": "1"}

#: What the fork server imports before it forks the workers.
WORKER_PRELOAD = ("eoscheck.sweeps.warm",)

#: Dask settings of a sweep's LocalCluster: workers forked from that server; the periodic
#: monitors, which take CPU and the GIL from single-thread workers on a small machine, slowed down
#: (stack sampling every 10 ms off, system and memory monitors every 1–2 s, event-loop ticks every
#: 1 s).  None changes a number; they apply to this process's scheduler and nannies and, passed on
#: by the nannies, to the workers.
LOCAL_CLUSTER_CONFIG = {
    "distributed.worker.multiprocessing-method": "forkserver",
    "distributed.worker.profile.enabled": False,
    "distributed.admin.system-monitor.interval": "2s",
    "distributed.admin.system-monitor.disk": False,
    "distributed.worker.memory.monitor-interval": "1s",
    "distributed.admin.tick.interval": "1s",
}


def start_fork_server() -> bool:
    """Start, once per process, the fork server LocalCluster workers are forked from.

    It preloads :data:`WORKER_PRELOAD` with :data:`ONE_THREAD_ENV` in its environment (this
    process's environment is restored at once).  Returns without waiting: a fork request waits
    until the preload is done.  A server already running in this process is reused as it is
    (one started by other code without the preload still works: its workers import on their first
    task, slower, same numbers).  False where the platform has no fork server (Windows): the
    workers are then spawned (:func:`cluster_config`).
    """
    import multiprocessing
    import signal
    import threading

    if "forkserver" not in multiprocessing.get_all_start_methods():
        return False
    import multiprocessing.forkserver as fs

    fs.set_forkserver_preload(list(WORKER_PRELOAD))
    saved = {k: os.environ.get(k) for k in ONE_THREAD_ENV}
    os.environ.update(ONE_THREAD_ENV)
    # started with SIGINT ignored, the server keeps it so (Python installs its Ctrl-C handler only where SIGINT is
    # not ignored), and so do the workers it forks: the terminal's Ctrl-C, sent to the whole process group,
    # interrupted its preload and the workers (27–74 lines of tracebacks); this process stops them as it closes
    # the cluster
    main = threading.current_thread() is threading.main_thread()
    old = signal.signal(signal.SIGINT, signal.SIG_IGN) if main else None
    try:
        fs.ensure_running()
    finally:
        if main:
            signal.signal(signal.SIGINT, old)
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v
    return True


def cluster_config() -> dict:
    """The Dask settings of a sweep's LocalCluster (:data:`LOCAL_CLUSTER_CONFIG`), with spawned
    workers where the platform has no fork server; starts the server if it is not running."""
    if start_fork_server():
        return dict(LOCAL_CLUSTER_CONFIG)
    return {k: v for k, v in LOCAL_CLUSTER_CONFIG.items() if k != "distributed.worker.multiprocessing-method"}
