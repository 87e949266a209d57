"""``eoscheck.sweep(...)``: a grid of GD runs over many datasets, executed serially or on Dask.

* ``workers=0`` — serial, in this process;
* ``workers=N`` — a Dask ``LocalCluster`` of N worker processes (one thread each, BLAS pinned to one
  thread), forked from a fork server that has imported the GD engine once (:mod:`.workers`),
  started before the sweep is planned so that it loads while this process plans;
* ``scheduler="tcp://HOST:PORT"`` — an existing Dask cluster (e.g. one started by dask-jobqueue
  on SLURM/PBS); the workers need the same eoscheck installed, not a shared file system: results
  come back to this process, which alone writes ``out``.

With ``out``, each finished task is stored at once (``out/tasks/<key>.parquet``) and reused by a
rerun, so an interrupted sweep continues; a task lost with a killed worker is rerun by Dask on
another.  The table (``out/results.parquet``) is sorted by (dataset, η) and identical whatever
the execution: every task runs the same single-threaded code on the same seeded datasets.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import os
import re
import sys
import time
from pathlib import Path
from typing import Any, Callable, Iterable

from .._errors import EoscheckError, reraise_interrupt
from .grid import RANDOM_ONLY, DataSpec, Grid, refuse_on_fixed_data
from .measures import parse_measures
from .tasks import ID_COLUMNS, Task, default_task_size, frame, load, make_tasks, run_task, store, task_numerics
from .workers import ONE_THREAD_ENV, cluster_config, start_fork_server

DEFAULT_MEASURES = "transition_time(1/eta),last_increase,final_loss"
#: The longest wait for a scheduler's answer (s): a day; 1e10 s overflowed the platform's time_t in the queue's wait.
MAX_SCHEDULER_TIMEOUT = 86400.0


def plan(data: str = "synthetic", *, n: Any = None, d: Any = None, gamma: Any = None,
         datasets: int | None = None, eta: Iterable[float] | float | str = (4, 16, 64, 256), steps: int = 1000,
         measure: str | Iterable[str] = DEFAULT_MEASURES, loss: str = "logistic", seed: int = 0,
         task_size: int | None = None, workers: int = 0) -> tuple[Grid, tuple[str, ...], list[Task]]:
    """Validate a sweep and cut it into tasks (no computation; every bad input → EoscheckError); ``workers``:
    how many runs are in flight at once, for the memory estimate.  ``n``, ``d``, ``gamma``, ``datasets``: None
    takes :data:`~eoscheck.sweeps.grid.RANDOM_ONLY`'s default; given with fixed data, they are refused."""
    import numpy as np

    from ..commands.run import parse_floats
    from ..gd import check_etas
    from ..losses import get_loss

    from ..gdinputs import is_whole

    data = os.fspath(data) if isinstance(data, os.PathLike) else data      # a pathlib.Path of .npz files
    given = {"n": n, "d": d, "gamma": gamma, "datasets": datasets}
    refuse_on_fixed_data(data, [k for k, v in given.items() if v is not None])
    for name, value, low in (("seed", seed, 0), ("steps", steps, 1), ("datasets", datasets, 1),
                             ("task_size", task_size, 1)):
        if value is not None and not is_whole(value, low):
            raise EoscheckError(f"{name} (--{name.replace('_', '-')}) must be a whole number ≥ {low}, got {value!r}")
    n, d, gamma, datasets = (RANDOM_ONLY[k] if v is None else v for k, v in given.items())
    if not isinstance(loss, str):
        raise EoscheckError(f"loss must be a name such as 'logistic' or 'flat_exp:a=2' (the workers rebuild it), "
                            f"got a {type(loss).__name__}")
    etas = parse_floats(eta, "--eta") if isinstance(eta, str) else np.atleast_1d(np.asarray(eta, float)).tolist()
    arr = check_etas(etas)
    if len(set(arr.tolist())) != arr.size:
        raise EoscheckError("eta (--eta) lists a stepsize twice; give distinct values")
    get_loss(loss)
    spec = DataSpec.parse(data, n, d, gamma, datasets)
    grid = Grid(spec, tuple(float(e) for e in arr), int(steps), str(loss), int(seed))
    ms = parse_measures(measure, loss, grid.steps)
    names = tuple(m.name for m in ms)
    shape = grid.data.largest_shape()              # reads every data file now: a bad one is refused here
    size = default_task_size(grid, shape) if task_size is None else int(task_size)
    if size < 1:
        raise EoscheckError(f"--task-size must be at least 1, got {task_size}")
    # before the task list: --datasets 1e8 held 600 MB, silently; and a run too large for the memory was
    # refused only inside its task, after planning, with options of `eoscheck run`
    est = sweep_estimate(grid, names, size, shape, workers)
    est.require_work()
    est.require()
    return grid, names, make_tasks(grid, names, size)


#: Bytes a result row takes per column, all copies counted (task dicts, the Dask transfer, the concatenated
#: DataFrame and its parquet write): float64 values, ×4.
ROW_COLUMN_BYTES = 32
#: Columns of every result row besides the measures (dataset id and seed, name, n, d, γ, γ* and its gap, η,
#: diverged, task bookkeeping).
FIXED_COLUMNS = 12
#: Bytes of one planned task (the Task object, its key and its future).
TASK_BYTES = 2048


def sweep_estimate(grid: Grid, names: tuple[str, ...], task_size: int, shape: tuple[int, int] | None = None,
                   workers: int = 0):
    """The memory of a sweep (:class:`eoscheck.resources.Estimate`), known before anything is planned or run:
    its results and task list, and the GD runs in flight — one per worker (or one, serially) on the grid's
    largest dataset (``shape``), each recording every step of its stepsizes."""
    from ..gdinputs import recorded_points
    from ..resources import Estimate, gd_estimate

    rows = grid.data.count * len(grid.etas)
    tasks = -(-grid.data.count // task_size)
    n, d = shape if shape is not None else grid.data.largest_shape()
    run = gd_estimate(K=len(grid.etas), steps=grid.steps, recorded=recorded_points(grid.steps, "all", None), n=n, d=d)
    return Estimate(what=f"a sweep of {grid.data.count:,} datasets × {len(grid.etas)} η",
                    stepsize_steps=float(grid.data.count) * len(grid.etas) * grid.steps,
                    flops=float(grid.data.count) * run.flops,
                    memory={"results": float(rows) * (FIXED_COLUMNS + len(names)) * ROW_COLUMN_BYTES,
                            "task list": float(tasks) * TASK_BYTES,
                            "runs in flight": max(1, workers) * run.total},
                    hints={"work": "use fewer --datasets, --eta or --steps",
                           "results": "use fewer --datasets, or split the grid into several sweeps (--seed, --out)",
                           "task list": "raise --task-size or use fewer --datasets",
                           "runs in flight": "use fewer --steps or --eta (a sweep records every step), fewer "
                                             "--workers, or smaller data"})


def sweep(data: str = "synthetic", *, n: Any = None, d: Any = None, gamma: Any = None,
          datasets: int | None = None, eta: Iterable[float] | float | str = (4, 16, 64, 256), steps: int = 1000,
          measure: str | Iterable[str] = DEFAULT_MEASURES, loss: str = "logistic", seed: int = 0,
          workers: int = 0, scheduler: str | None = None, out: str | Path | None = None,
          task_size: int | None = None, progress: bool = True, scheduler_timeout: float = 10.0,
          info: dict | None = None, then: Callable | None = None, then_writes: tuple[str, ...] = ()):
    """Run a sweep and return its table (pandas DataFrame, one row per dataset × η).

    Columns: ``dataset`` (index), ``data_seed``, ``name``, ``n``, ``d``, ``max_norm`` (maxᵢ‖xᵢ‖: the theory
    assumes ≤ 1; random data are built so, files are used as given), ``gamma`` (the margin the generator
    drew for synthetic/thm3 data, exactly: with ``data_seed`` it rebuilds the dataset; NaN for other data),
    ``gamma_star`` (certified
    max margin, a valid margin) and ``gamma_gap`` (its certificate's width, the duality gap and the rounding
    allowances: the true max margin lies in [γ*, γ* + gap]), ``separable`` (γ* > 0: certified linearly separable through the
    origin; where False the theory's assumption fails and its bounds say nothing about the row),
    ``eta``, one column per measure (a hitting time such as ``transition_time`` not reached by T is recorded
    as T + 1, a censoring mark, not a time; ``last_increase`` is 0 when the loss never rose — ``eoscheck run``
    prints −1 for both), ``diverged``.
    ``info``, if given, receives what happened (tasks run and reused, seconds per task, workers).
    ``then(folder, table, info)``: called while ``out`` is still locked, to write what a study adds there;
    ``then_writes``: the names of those files, refused like the sweep's own where a sweep did not write them.
    ``n``, ``d``, ``gamma``: a range ``"LO:HI"``, values (``"2,4,8"`` or a list such as ``[2, 4, 8]``;
    dataset i takes the (i mod len)-th), or one number; ``n="d"`` makes n = d; None: 4:32, 4:32, 0.05:0.5 (and
    48 ``datasets``) for drawn data, refused with fixed data.  ``eta``: one stepsize or several (``run_gd``'s
    ``etas``).
    """
    if isinstance(scheduler_timeout, bool) or not isinstance(scheduler_timeout, (int, float)) or not (
            0 < scheduler_timeout <= MAX_SCHEDULER_TIMEOUT):
        raise EoscheckError(f"scheduler_timeout (--scheduler-timeout) must be seconds in (0, {MAX_SCHEDULER_TIMEOUT:g}], "
                            f"got {scheduler_timeout!r}")
    if scheduler is not None:
        check_address(scheduler)
    elif check_workers(workers) > 0:
        start_fork_server()  # it imports the engine while this process plans
    grid, names, tasks = plan(data, n=n, d=d, gamma=gamma, datasets=datasets, eta=eta, steps=steps,
                              measure=measure, loss=loss, seed=seed, task_size=task_size,
                              workers=0 if scheduler is not None else workers)
    folder = None
    if out is not None:
        from ..outputs import check_output_dir

        folder = check_output_dir(out)
    config = {"grid": grid.config(), "measures": list(names), "task_size": tasks[0].count,
              "tasks": len(tasks), "workers": int(workers), "scheduler": scheduler}
    if folder is None:
        results, stats = _execute(tasks, None, workers, scheduler, progress, scheduler_timeout)
        table = _table(results, names)
    else:
        from ..outputs import OutputLock

        check_replaceable(folder, config, then_writes)  # before the lock, which would leave its file in a foreign folder
        with OutputLock(folder):
            results, stats = _execute(tasks, folder, workers, scheduler, progress, scheduler_timeout)
            table = _table(results, names)
            _write(folder, table, config, grid, stats)
            if then is not None:
                then(folder, table, dict(stats, config=config))
    if info is not None:
        info.update(stats, config=config)
    return table


def check_address(address: str) -> None:
    """A Dask scheduler address this command can reach: ``tcp://HOST[:PORT]``, an IPv6 host in brackets (tls://
    needs certificates, ucx:// its own package and inproc:// the same process: none of them is set up here)."""
    if re.fullmatch(r"(tls|ucx|inproc)://.*", str(address)):
        raise EoscheckError(f"--scheduler {address!r}: only tcp:// scheduler addresses are supported here, e.g. "
                            "tcp://HOST:8786")
    if not re.fullmatch(r"tcp://(\[[0-9A-Fa-f:.]+\]|[^\s:/\[\]]+)(:\d+)?", str(address)):
        raise EoscheckError(f"--scheduler {address!r}: give a Dask scheduler address such as tcp://HOST:8786")


#: Local workers allowed per CPU.  More processes than CPUs only queue on them (each task is one
#: CPU-bound GD run); far more, and the surplus workers time out in Dask's start-up (64 on 2 CPUs:
#: ~90 lines of Dask tracebacks and exit 0, measured).
WORKERS_PER_CPU = 8


def check_workers(workers) -> int:
    """The local worker count: 0 (serial) up to :data:`WORKERS_PER_CPU` × this process's CPUs (a
    cluster is --scheduler's)."""
    from ..fastgd import machine_cpus
    from ..gdinputs import is_whole

    if not is_whole(workers, 0):
        raise EoscheckError(f"--workers must be 0 (serial) or a positive number of processes, got {workers!r}")
    cpus = machine_cpus()
    if workers > WORKERS_PER_CPU * cpus:
        raise EoscheckError(f"--workers {workers}: this process may use {cpus} CPU(s); use at most "
                            f"{WORKERS_PER_CPU * cpus} ({WORKERS_PER_CPU} per CPU; one per CPU is fastest), or "
                            "--scheduler ADDRESS for a Dask cluster")
    return int(workers)


def _execute(tasks: list[Task], folder: Path | None, workers: int, scheduler: str | None, progress: bool,
             timeout: float) -> tuple[dict[str, dict], dict[str, Any]]:
    import contextlib

    from .. import progress as pbar

    results: dict[str, dict] = {}
    stats: dict[str, Any] = {"mode": "serial"}
    with contextlib.ExitStack() as stack:   # a scheduler's client, closed last
        caught = stack.enter_context(_interrupts(deferred=False))
        client = None
        if scheduler is not None:           # the tasks' keys hold the workers' numerics: asked before any lookup
            t0 = time.perf_counter()
            client = stack.enter_context(_connect(scheduler, timeout))
            numerics = _workers_numerics(client, scheduler)
            stats.update(mode=f"scheduler {scheduler}", cluster_start_s=time.perf_counter() - t0)
        else:                               # serial, or a LocalCluster forked on this machine
            numerics = task_numerics()
        tasks = [dataclasses.replace(t, numerics=numerics) for t in tasks]
        if folder is not None:
            for t in tasks:
                r = load(folder, t.key)
                if r is not None:
                    results[t.key] = r
        todo = [t for t in tasks if t.key not in results]
        stats.update(tasks_reused=len(tasks) - len(todo), tasks_run=len(todo), numerics=dict(numerics))
        t0 = time.perf_counter()
        bar = pbar.bar(desc="sweep tasks", total=len(tasks), unit="task", eta=True)
        bar.update(len(tasks) - len(todo))

        def finish(res: dict, task: Task) -> None:
            if res["key"] != task.key:      # its numerics were checked on the worker: its code differs
                raise EoscheckError(f"worker {res.get('worker', '?')} runs other eoscheck code (its task key "
                                    f"{res['key']} is {task.key} here); install the same eoscheck on every worker")
            results[res["key"]] = res
            if folder is not None:
                store(folder, res)
            bar.update(1)
            caught.check()                  # an interrupt Python dropped (see _interrupts): this task kept, then stop

        try:
            if todo and scheduler is None and workers == 0:
                for t in todo:
                    finish(run_task(t), t)
            elif todo:
                stats.update(_on_dask(todo, finish, workers, client))
        finally:
            bar.close()
    caught.check()      # one dropped while the cluster and the client closed (Dask's weakref callbacks run there)
    stats["wall_s"] = time.perf_counter() - t0
    ran = [r for r in results.values() if not r.get("reused")]
    stats["task_seconds"] = [r["seconds"] for r in ran]
    stats["task_seconds_all"] = [r["seconds"] for r in results.values()]  # reused ones: as first measured
    stats["task_cpu_seconds"] = [r["cpu_seconds"] for r in ran]
    stats["task_cpu_seconds_all"] = [r["cpu_seconds"] for r in results.values()]
    stats["workers_seen"] = sorted({r["worker"] for r in ran})
    stats["tasks_preloaded"] = sum(bool(r.get("preloaded")) for r in ran)  # ran in a process forked from .warm
    stats["threadpools"] = sorted({p for r in results.values() for p in r["threadpools"]})
    return results, stats


def _connect(scheduler: str, timeout: float):
    """A Dask client of ``scheduler``, or one line saying why not within ``timeout`` (+ 5) seconds.  Dask's own
    timeout covers the connection, not the handshake: a dashboard port answered HTTP and kept the client waiting
    (> 130 s), and a service that greets first (SSH) was read as a 3-EiB frame (MemoryError)."""
    import queue
    import threading

    from distributed import Client

    box: queue.Queue = queue.Queue()

    def connect() -> None:
        try:
            box.put((True, Client(scheduler, timeout=timeout)))
        except BaseException as err:   # noqa: BLE001 — any failure is "no scheduler there", said below
            box.put((False, err))

    threading.Thread(target=connect, name="eoscheck-dask-connect", daemon=True).start()
    try:
        ok, got = box.get(timeout=timeout + 5)
    except queue.Empty:
        ok, got = False, TimeoutError(f"no handshake within {timeout + 5:g} s")
    if not ok:
        raise EoscheckError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s "
                            f"({type(got).__name__}); start one (dask scheduler) or check the address (a scheduler's "
                            "port, 8786 by default, not its dashboard's)") from None
    return got


def _workers_numerics(client, scheduler: str) -> tuple:
    """The :func:`~.tasks.task_numerics` every worker of ``client`` computes with (waiting, with a note, for a
    first worker); one line when they differ, since a row's last bits would depend on which worker ran it."""
    if not client.scheduler_info().get("workers"):
        print(f"note: --scheduler {scheduler} has no worker yet; waiting for one to join (Ctrl-C stops)",
              file=sys.stderr)
        client.wait_for_workers(1)
    seen = {w: tuple(tuple(pair) for pair in v) for w, v in client.run(task_numerics).items()}  # lists after transfer
    kinds = set(seen.values())
    if len(kinds) > 1:
        first, *_ = kinds
        odd = [w for w, v in seen.items() if v != first]
        raise EoscheckError(f"--scheduler {scheduler}: its workers compute with different numerics (GEMM library, "
                            f"CPUs, CPU model or versions; e.g. {odd[0]}), so a row's last bits would depend on which "
                            "worker ran it; run the workers on machines alike")
    return next(iter(kinds))


def _on_dask(todo: list[Task], finish, workers: int, client=None) -> dict[str, Any]:
    import contextlib

    import dask
    from distributed import Client, LocalCluster, as_completed

    t0 = time.perf_counter()
    out: dict[str, Any] = {}
    quiet = logging.getLogger("distributed")
    with contextlib.ExitStack() as stack:  # closes the client, then the cluster, then the setting
        stack.callback(quiet.setLevel, quiet.level)
        if client is None:
            stack.enter_context(dask.config.set(cluster_config()))  # also for a worker a nanny restarts
            deferred = stack.enter_context(_interrupts(deferred=True))
            cluster = stack.enter_context(LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                # CRITICAL: a task's error is raised again here and printed as one line; the worker's own
                # "Compute Failed" log (ERROR) repeated it as 7 lines of traceback first
                dashboard_address=None, silence_logs=logging.CRITICAL, env=dict(ONE_THREAD_ENV),
                # no dashboard, and the scheduler's HTTP server on a free port (not a try at 8787)
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}))
            client = stack.enter_context(Client(cluster))
            deferred.release()
            out.update(mode=f"LocalCluster({workers})", cluster_start_s=time.perf_counter() - t0)
            # first on the way out: the scheduler's CRITICAL "Closed comm … while trying to write" (tasks finished
            # while Ctrl-C closes the client) is shutdown noise, not a result (22 lines, 1 interrupt in 6)
            stack.callback(quiet.setLevel, logging.CRITICAL + 1)
        t1, c1 = time.perf_counter(), time.process_time()
        futures = {client.submit(run_task, t, key=f"eoscheck-sweep-{t.key}", pure=False): t for t in todo}
        for fut in as_completed(list(futures)):
            finish(fut.result(), futures[fut])
            fut.release()
        nworkers = len(client.scheduler_info().get("workers", {}))
        t2, c2 = time.perf_counter(), time.process_time()
    # where the wall time went; tasks_phase_cpu_s: this process's CPU (scheduler, nannies, client,
    # storing results) while the workers ran, taken from the same cores
    return {**out, "workers_at_end": nworkers, "tasks_phase_s": t2 - t1, "tasks_phase_cpu_s": c2 - c1,
            "cluster_close_s": time.perf_counter() - t2}


class _interrupts:
    """Ctrl-C and SIGTERM caught on the main thread (a no-op elsewhere) and remembered.

    ``deferred=False`` raises KeyboardInterrupt at once and :meth:`check` raises it again later: Python drops an
    exception raised inside a weakref callback or ``__del__`` ("Exception ignored in …"), and a sweep whose Ctrl-C
    landed in Dask's WeakSet callback ran to its end and exited 0; the task loop checks after each task.
    ``deferred=True`` holds them back until :meth:`release` (then raised): a LocalCluster interrupted while it starts
    is never handed to the code that closes it, and Dask's exit handler then printed ~30 lines (AssertionError:
    Status.init) and a half-forked worker ~25 more."""

    SIGNALS = ("SIGINT", "SIGTERM")

    def __init__(self, deferred: bool) -> None:
        self.deferred = deferred
        self.got: list[int] = []
        self.saved: dict = {}
        self.hook = None

    def _unraisable(self, unraisable) -> None:
        """The handler's KeyboardInterrupt dropped inside a gc or weakref callback is remembered (:meth:`check`), so
        Python's "Exception ignored in …" traceback of it says nothing (a Ctrl-C that landed in distributed's
        GCDiagnosis callback printed 8 lines of it before "interrupted"); every other one goes to the hook before."""
        if self.got and issubclass(unraisable.exc_type, KeyboardInterrupt):
            return
        self.hook(unraisable)

    def _caught(self, signum, frame) -> None:
        self.got.append(signum)
        if not self.deferred:
            raise KeyboardInterrupt

    def __enter__(self) -> "_interrupts":
        import signal
        import threading

        if threading.current_thread() is threading.main_thread():
            for name in self.SIGNALS:
                sig = getattr(signal, name)
                if signal.getsignal(sig) is not signal.SIG_IGN:   # `eoscheck sweep … &` from a script: left ignored
                    self.saved[sig] = signal.signal(sig, self._caught)
            if self.saved and not self.deferred:
                self.hook, sys.unraisablehook = sys.unraisablehook, self._unraisable
        return self

    def check(self) -> None:
        """Raise KeyboardInterrupt if a signal was caught (whether or not its first raise got through)."""
        if self.got:
            raise KeyboardInterrupt

    def release(self) -> None:
        self.__exit__()
        self.check()

    def __exit__(self, exc_type=None, exc=None, tb=None) -> None:
        import signal

        for sig, handler in self.saved.items():   # left by an error before release: restored, nothing raised
            signal.signal(sig, handler)
        self.saved = {}
        if self.hook is not None:
            sys.unraisablehook, self.hook = self.hook, None
        if self.got and isinstance(exc, Exception):
            reraise_interrupt(exc)                # a C extension wrapped the handler's raise in its own error


def _table(results: dict[str, dict], names: tuple[str, ...]):
    import pandas as pd

    frames = [frame(r) for r in results.values()]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ID_COLUMNS))
    df = df[list(ID_COLUMNS) + list(names) + ["diverged"]]
    return df.sort_values(["dataset", "eta"], kind="stable").reset_index(drop=True)


def check_replaceable(folder: Path, config: dict, also: tuple[str, ...] = ()) -> None:
    """Before any task runs: refuse a folder whose results.parquet/sweep.json (or the files ``also`` names, a
    study's) a sweep did not write, and say so when the table of an earlier sweep of another grid is about to be
    replaced (its tasks stay in tasks/ and are reused when that grid is run again, so nothing is lost)."""
    from ..outputs import not_ours

    js, table = folder / "sweep.json", folder / "results.parquet"
    replaces = ", ".join(("sweep.json", "results.parquet") + tuple(also))
    doc = None
    if js.exists():
        try:
            doc = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if not (isinstance(doc, dict) and isinstance(doc.get("config"), dict) and "grid" in doc["config"]):
            raise not_ours(folder, ["sweep.json"], "sweep", replaces)
    else:   # no table of ours: a killed sweep leaves only its tasks/ (files named by their keys) beside the table
        foreign = [name for name in ("results.parquet",) + tuple(also) if (folder / name).exists()]
        if foreign and not (table.exists() and _holds_tasks(folder)):
            raise not_ours(folder, foreign, "sweep", replaces)
    if doc is not None:
        same = all(doc["config"].get(k) == json.loads(json.dumps(config[k], default=str)) for k in ("grid", "measures"))
        if not same:
            print(f"note: --out {folder} holds the table of a sweep of another grid; it is replaced (that sweep's "
                  "tasks stay in tasks/ and are reused if you run it again)", file=sys.stderr)


def _holds_tasks(folder: Path) -> bool:
    """Whether ``folder/tasks`` holds a finished task of a sweep (a file named by a task key)."""
    tasks = folder / "tasks"
    return tasks.is_dir() and any(re.fullmatch(r"[0-9a-f]{16}\.parquet", p.name) for p in tasks.iterdir())


def _write(folder: Path, table, config: dict, grid: Grid, stats: dict) -> None:
    import io

    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..outputs import atomic_write
    from ..provenance import provenance

    buf = io.BytesIO()
    pq.write_table(pa.Table.from_pandas(table, preserve_index=False), buf)
    atomic_write(folder / "results.parquet", buf.getvalue())
    prov = provenance("cpu", grid.seed)
    run = {k: v for k, v in stats.items() if not k.startswith("task_")}
    for name in ("task_seconds", "task_cpu_seconds"):
        secs = stats.get(name) or []
        if secs:
            run[f"{name}_mean"] = sum(secs) / len(secs)
            run[f"{name}_max"] = max(secs)
    doc = {"config": config, "provenance": prov, "run": run, "rows": int(len(table)),
           "columns": list(table.columns)}
    atomic_write(folder / "sweep.json", json.dumps(doc, indent=1, default=str) + "\n")
