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

import json
import logging
import re
import sys
import time
from pathlib import Path
from typing import Any, Iterable

from .._errors import EoscheckError
from .grid import RANDOM_ONLY, DataSpec, Grid, refuse_on_fixed_data
from .measures import parse_measures
from .tasks import ID_COLUMNS, Task, default_task_size, frame, load, make_tasks, run_task, store
from .workers import ONE_THREAD_ENV, cluster_config, start_fork_server

DEFAULT_MEASURES = "transition_time(1/eta),last_increase,final_loss"


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

    given = {"n": n, "d": d, "gamma": gamma, "datasets": datasets}
    refuse_on_fixed_data(data, [k for k, v in given.items() if v is not None])
    n, d, gamma, datasets = (RANDOM_ONLY[k] if v is None else v for k, v in given.items())
    if not isinstance(loss, str):
        raise EoscheckError(f"loss must be a name such as 'logistic' or 'flat_exp:a=2' (the workers rebuild it), "
                            f"got a {type(loss).__name__}")
    etas = parse_floats(eta, "--eta") if isinstance(eta, str) else np.atleast_1d(np.asarray(eta, float)).tolist()
    arr = check_etas(etas)
    if len(set(arr.tolist())) != arr.size:
        raise EoscheckError("eta (--eta) lists a stepsize twice; give distinct values")
    if int(steps) != steps or steps < 1:
        raise EoscheckError(f"steps (--steps) must be a positive integer, got {steps}")
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
    sweep_estimate(grid, names, size, shape, workers).require()
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
                    memory={"results": float(rows) * (FIXED_COLUMNS + len(names)) * ROW_COLUMN_BYTES,
                            "task list": float(tasks) * TASK_BYTES,
                            "runs in flight": max(1, workers) * run.total},
                    hints={"results": "use fewer --datasets, or split the grid into several sweeps (--seed, --out)",
                           "task list": "raise --task-size or use fewer --datasets",
                           "runs in flight": "use fewer --steps or --eta (a sweep records every step), fewer "
                                             "--workers, or smaller data"})


def sweep(data: str = "synthetic", *, n: Any = None, d: Any = None, gamma: Any = None,
          datasets: int | None = None, eta: Iterable[float] | float | str = (4, 16, 64, 256), steps: int = 1000,
          measure: str | Iterable[str] = DEFAULT_MEASURES, loss: str = "logistic", seed: int = 0,
          workers: int = 0, scheduler: str | None = None, out: str | Path | None = None,
          task_size: int | None = None, progress: bool = True, scheduler_timeout: float = 10.0,
          info: dict | None = None):
    """Run a sweep and return its table (pandas DataFrame, one row per dataset × η).

    Columns: ``dataset`` (index), ``data_seed``, ``name``, ``n``, ``d``, ``max_norm`` (maxᵢ‖xᵢ‖: the theory
    assumes ≤ 1; random data are built so, files are used as given), ``gamma`` (the margin the generator
    drew for synthetic/thm3 data, exactly: with ``data_seed`` it rebuilds the dataset; NaN for other data),
    ``gamma_star`` (certified
    max margin, a valid margin) and ``gamma_gap`` (its certificate's duality gap: the true max
    margin lies in [γ*, γ* + gap]), ``separable`` (γ* > 0: certified linearly separable through the
    origin; where False the theory's assumption fails and its bounds say nothing about the row),
    ``eta``, one column per measure (a hitting time such as ``transition_time`` not reached by T is recorded
    as T + 1, a censoring mark, not a time; ``last_increase`` is 0 when the loss never rose — ``eoscheck run``
    prints −1 for both), ``diverged``.
    ``info``, if given, receives what happened (tasks run and reused, seconds per task, workers).
    ``n``, ``d``, ``gamma``: a range ``"LO:HI"``, values (``"2,4,8"`` or a list such as ``[2, 4, 8]``;
    dataset i takes the (i mod len)-th), or one number; ``n="d"`` makes n = d; None: 4:32, 4:32, 0.05:0.5 (and
    48 ``datasets``) for drawn data, refused with fixed data.  ``eta``: one stepsize or several (``run_gd``'s
    ``etas``).
    """
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

        check_replaceable(folder, config)     # before the lock, which would leave its file in a foreign folder
        with OutputLock(folder):
            results, stats = _execute(tasks, folder, workers, scheduler, progress, scheduler_timeout)
            table = _table(results, names)
            _write(folder, table, config, grid, stats)
    if info is not None:
        info.update(stats, config=config)
    return table


def check_address(address: str) -> None:
    if not re.fullmatch(r"(tcp|tls|ucx|inproc)://[^\s:/]+(:\d+)?", str(address)):
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
    from .. import progress as pbar

    results: dict[str, dict] = {}
    if folder is not None:
        for t in tasks:
            r = load(folder, t.key)
            if r is not None:
                results[t.key] = r
    todo = [t for t in tasks if t.key not in results]
    stats: dict[str, Any] = {"tasks_reused": len(tasks) - len(todo), "tasks_run": len(todo), "mode": "serial"}
    t0 = time.perf_counter()
    bar = pbar.bar(desc="sweep tasks", total=len(tasks), unit="task", eta=True)
    bar.update(len(tasks) - len(todo))

    def finish(res: dict) -> None:
        results[res["key"]] = res
        if folder is not None:
            store(folder, res)
        bar.update(1)

    try:
        if todo and scheduler is None and workers == 0:
            for t in todo:
                finish(run_task(t))
        elif todo:
            stats.update(_on_dask(todo, finish, workers, scheduler, timeout))
    finally:
        bar.close()
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


def _on_dask(todo: list[Task], finish, workers: int, scheduler: str | None, timeout: float) -> dict[str, Any]:
    import contextlib

    import dask
    from distributed import Client, LocalCluster, as_completed

    t0 = time.perf_counter()
    with contextlib.ExitStack() as stack:  # closes the client, then the cluster, then the setting
        if scheduler is None:
            stack.enter_context(dask.config.set(cluster_config()))  # also for a worker a nanny restarts
            cluster = stack.enter_context(LocalCluster(
                n_workers=int(workers), threads_per_worker=1, processes=True, host="127.0.0.1",
                # CRITICAL: a task's error is raised again here and printed as one line; the worker's own
                # "Compute Failed" log (ERROR) repeated it as 7 lines of traceback first
                dashboard_address=None, silence_logs=logging.CRITICAL, env=dict(ONE_THREAD_ENV),
                # no dashboard, and the scheduler's HTTP server on a free port (not a try at 8787)
                scheduler_kwargs={"dashboard": False, "dashboard_address": "127.0.0.1:0"}))
            client = stack.enter_context(Client(cluster))
            mode = f"LocalCluster({workers})"
        else:
            try:
                client = stack.enter_context(Client(scheduler, timeout=timeout))
            except (OSError, TimeoutError) as err:
                raise EoscheckError(f"--scheduler {scheduler}: no Dask scheduler answered within {timeout:g} s "
                                    f"({type(err).__name__}); start one (dask scheduler) or check the address"
                                    ) from None
            mode = f"scheduler {scheduler}"
        t1, c1 = time.perf_counter(), time.process_time()
        futures = [client.submit(run_task, t, key=f"eoscheck-sweep-{t.key}", pure=False) for t in todo]
        for fut in as_completed(futures):
            finish(fut.result())
            fut.release()
        nworkers = len(client.scheduler_info().get("workers", {}))
        t2, c2 = time.perf_counter(), time.process_time()
    # where the wall time went; tasks_phase_cpu_s: this process's CPU (scheduler, nannies, client,
    # storing results) while the workers ran, taken from the same cores
    return {"mode": mode, "workers_at_end": nworkers, "cluster_start_s": t1 - t0, "tasks_phase_s": t2 - t1,
            "tasks_phase_cpu_s": c2 - c1, "cluster_close_s": time.perf_counter() - t2}


def _table(results: dict[str, dict], names: tuple[str, ...]):
    import pandas as pd

    frames = [frame(r) for r in results.values()]
    df = pd.concat(frames, ignore_index=True) if frames else pd.DataFrame(columns=list(ID_COLUMNS))
    df = df[list(ID_COLUMNS) + list(names) + ["diverged"]]
    return df.sort_values(["dataset", "eta"], kind="stable").reset_index(drop=True)


def check_replaceable(folder: Path, config: dict) -> None:
    """Before any task runs: refuse a folder whose results.parquet/sweep.json a sweep did not write, and say so
    when the table of an earlier sweep of another grid is about to be replaced (its tasks stay in tasks/ and
    are reused when that grid is run again, so nothing is lost)."""
    from ..outputs import not_ours

    js, table = folder / "sweep.json", folder / "results.parquet"
    doc = None
    if js.exists():
        try:
            doc = json.loads(js.read_text(encoding="utf-8"))
        except (OSError, UnicodeDecodeError, json.JSONDecodeError):
            doc = None
        if not (isinstance(doc, dict) and isinstance(doc.get("config"), dict) and "grid" in doc["config"]):
            raise not_ours(folder, ["sweep.json"], "sweep", "sweep.json and results.parquet")
    elif table.exists() and not (folder / "tasks").is_dir():   # a killed sweep leaves its tasks/ beside the table
        raise not_ours(folder, ["results.parquet"], "sweep", "sweep.json and results.parquet")
    if doc is not None:
        same = all(doc["config"].get(k) == json.loads(json.dumps(config[k], default=str)) for k in ("grid", "measures"))
        if not same:
            print(f"note: --out {folder} holds the table of a sweep of another grid; it is replaced (that sweep's "
                  "tasks stay in tasks/ and are reused if you run it again)", file=sys.stderr)


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
