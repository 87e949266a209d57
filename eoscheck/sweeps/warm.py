"""What a sweep worker needs before its first task, loaded once in the fork server of a LocalCluster.

Importing this module imports the modules a task runs (the GD engine and torch, the conjecture
vocabulary with sympy and hypothesis, scipy's max-margin solver, numba) and runs one tiny task,
which loads numba's cached kernels.  The LocalCluster of a sweep forks its workers from a
``multiprocessing`` fork server that imported this module (:mod:`.workers`), so each worker starts
with all of it in memory instead of paying ~2.5 s of imports on its first task.  Then everything
loaded is moved out of the garbage collector's reach (``gc.freeze``): a forked worker's first
collections would otherwise touch, and so copy, much of it (measured: a worker's first task took
0.46 s of CPU and 0.9 s of wall time without the freeze, 0.30 s and 0.5 s with it, 0.16 s later).

The warm-up task is single-threaded (BLAS, torch and the GD engine on one thread) and starts no
thread, so forking after it is safe; its result is discarded.  A failure here is swallowed: the
workers then import on their first task, as without the fork server (slower, same numbers).
"""

from __future__ import annotations

import gc
import importlib
import threading

from .grid import DataSpec, Grid
from .tasks import Task, run_task

#: The warm-up: one 4 × 4 synthetic dataset, two stepsizes, 20 steps, the default measures.
WARM_GRID = Grid(DataSpec.parse("synthetic", "4", "4", "0.1", 1), (4.0, 64.0), 20, "logistic", 0)
WARM_MEASURES = ("transition_time(1/eta)", "last_increase", "final_loss")


importlib.import_module("distributed")  # the worker process itself


def warm_up() -> bool:
    """Run the warm-up task; True if it ran and left no thread behind (safe to fork)."""
    try:
        run_task(Task(WARM_GRID, WARM_MEASURES, 0, 1))
    except Exception:  # a broken warm-up only costs the workers their imports
        return False
    return threading.active_count() == 1


WARMED = warm_up()
gc.freeze()
