"""Benchmark of ``eoscheck sweep`` (issue 17): 400 datasets, serial vs a LocalCluster of 2 workers.

    flock /tmp/bench.lock python benchmarks/bench_sweep.py [--datasets 400] [--rounds 3] [--breakdown]
        [--exit-freeze] [--out FILE]

The grid is the issue's (synthetic, n, d ∈ 4:32, γ ∈ 0.05:0.5, η ∈ {4, 16, 64, 256}, T = 1000,
transition_time(1/eta), last_increase, final_loss).  Two measurements, each serial and ``--workers 2``
alternated round by round (so that a change of the machine's load hits both), wall time of the whole
thing, cluster start and teardown included:

* ``cli`` — ``python -m eoscheck sweep ... --out NEW_DIR`` in a fresh process each time: what a user
  waits for, imports included (the serial run imports the engine in its one process; the 2-worker
  run in its own process and, concurrently, in the workers' fork server);
* ``api`` — ``eoscheck.sweep(...)`` called in this one process: the serial calls run with the engine
  already imported; the first 2-worker call starts the fork server (its imports are paid then,
  ``fork_server: "started"``), the later ones fork their workers from it (``"reused"``).

``--breakdown`` adds where a 2-worker run's time goes: ``python -X importtime`` of a worker-like
process (the fork server's preload), and cluster start / tasks / teardown of a LocalCluster(2) with
spawned workers and Dask's default settings (how sweeps ran before) against the sweep's settings.
``--exit-freeze`` adds the CLI with ``gc.freeze()`` before the interpreter exits (a proposed change
to eoscheck/cli.py).

The load average (1 min) before and after each run is recorded next to its time: on this shared
2-core machine a load above ~0.5 from other sessions takes CPU from the two workers (Linux's
autogroup scheduler gives each session one fair share) and the ratio is then only indicative.
All tables must be identical (``DataFrame.equals``).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = dict(data="synthetic", n="4:32", d="4:32", gamma="0.05:0.5", eta="4,16,64,256", steps=1000,
            measure="transition_time(1/eta),last_increase,final_loss", seed=0, progress=False)


def cpu_model() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True, timeout=10).stdout
        return next(l.split(":", 1)[1].strip() for l in out.splitlines() if l.startswith("Model name"))
    except Exception:
        return platform.processor() or "?"


def timed_api(grid: dict, workers: int, started: bool):
    from eoscheck.sweeps import sweep

    info: dict = {}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    df = sweep(**grid, workers=workers, info=info)
    wall = time.perf_counter() - t0
    rec = {"wall_s": wall, "load_before": load0, "load_after": os.getloadavg()[0], "mode": info["mode"],
           "tasks": info["tasks_run"], "task_seconds_sum": sum(info["task_seconds"]),
           "task_cpu_seconds_sum": sum(info["task_cpu_seconds"]), "tasks_preloaded": info["tasks_preloaded"]}
    for k in ("cluster_start_s", "tasks_phase_s", "tasks_phase_cpu_s", "cluster_close_s"):
        if k in info:
            rec[k] = info[k]
    if workers:
        rec["fork_server"] = "reused" if started else "started"
    return df, rec


#: ``--exit-freeze``: the CLI with ``gc.freeze()`` after ``main`` returns (a change proposed for
#: eoscheck/cli.py: the interpreter's exit then skips collecting the ~10⁶ objects of torch, sympy,
#: scipy, pandas and dask).
EXIT_FREEZE = "import gc, sys; from eoscheck.cli import main; rc = main(sys.argv[1:]); gc.freeze(); sys.exit(rc)"


def timed_cli(grid: dict, workers: int, folder: Path, exit_freeze: bool = False):
    args = [sys.executable] + (["-c", EXIT_FREEZE] if exit_freeze else ["-m", "eoscheck"]) + ["sweep"]
    for k in ("data", "n", "d", "gamma", "eta", "steps", "measure", "seed", "datasets"):
        args += [f"--{k}", str(grid[k])]
    args += ["--workers", str(workers), "--out", str(folder)]
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    proc = subprocess.run(args, capture_output=True, text=True, cwd=str(ROOT), timeout=600)
    wall = time.perf_counter() - t0
    if proc.returncode != 0:
        raise SystemExit(f"eoscheck sweep failed ({proc.returncode}): {proc.stderr.strip()[-2000:]}")
    import pandas as pd

    doc = json.loads((folder / "sweep.json").read_text())
    rec = {"wall_s": wall, "load_before": load0, "load_after": os.getloadavg()[0], "mode": doc["run"]["mode"],
           "sweep_wall_s": doc["run"]["wall_s"], "tasks_preloaded": doc["run"].get("tasks_preloaded")}
    for k in ("cluster_start_s", "tasks_phase_s", "tasks_phase_cpu_s", "cluster_close_s", "task_seconds_mean"):
        if k in doc["run"]:
            rec[k] = doc["run"][k]
    return pd.read_parquet(folder / "results.parquet"), rec


def import_profile() -> dict:
    """``python -X importtime -c "import eoscheck.sweeps.warm"``: what a fresh worker-like process
    imports (plus the warm-up task), top-level modules by cumulative seconds, and its wall time."""
    t0 = time.perf_counter()
    proc = subprocess.run([sys.executable, "-X", "importtime", "-c", "import eoscheck.sweeps.warm"],
                          capture_output=True, text=True, cwd=str(ROOT), timeout=300)
    wall = time.perf_counter() - t0
    top: dict[str, float] = {}
    for line in proc.stderr.splitlines():
        parts = line.split("|")
        if line.startswith("import time:") and len(parts) == 3 and parts[1].strip().isdigit():
            name = parts[2].rstrip()
            depth = len(name) - len(name.lstrip())
            if depth <= 3:  # the warm module's own imports sit one level down
                top[name.strip()] = int(parts[1]) / 1e6
    return {"wall_s": wall, "cumulative_s": dict(sorted(top.items(), key=lambda kv: -kv[1])[:14])}


def phases(grid: dict, config: dict) -> dict:
    """Cluster start, tasks, teardown of one LocalCluster(2) run under ``config`` (this process warm)."""
    import logging

    import dask
    from distributed import Client, LocalCluster, as_completed

    from eoscheck.sweeps import plan
    from eoscheck.sweeps.tasks import run_task
    from eoscheck.sweeps.workers import ONE_THREAD_ENV

    _, _, tasks = plan(**{k: v for k, v in grid.items() if k != "progress"})
    out: dict = {"load_before": os.getloadavg()[0]}
    with dask.config.set(config):
        t0 = time.perf_counter()
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1",
                               dashboard_address=None, silence_logs=logging.ERROR, env=dict(ONE_THREAD_ENV))
        client = Client(cluster)
        t1 = time.perf_counter()
        futs = [client.submit(run_task, t, key=f"phases-{t.key}", pure=False) for t in tasks]
        first: dict = {}
        secs = []
        for f in as_completed(futs):
            r = f.result()
            secs.append(r["seconds"])
            first.setdefault(r["worker"], [time.perf_counter() - t1, r["seconds"]])
        t2 = time.perf_counter()
        client.close()
        cluster.close()
        t3 = time.perf_counter()
    out.update(cluster_start_s=t1 - t0, tasks_phase_s=t2 - t1, cluster_close_s=t3 - t2, total_s=t3 - t0,
               task_seconds_sum=sum(secs), first_result_per_worker_s=list(first.values()),
               load_after=os.getloadavg()[0])
    return out


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3, help="alternated serial/2-worker pairs per measurement")
    ap.add_argument("--only", choices=("cli", "api"), help="run one of the two measurements")
    ap.add_argument("--breakdown", action="store_true",
                    help="also record where a 2-worker run's time goes: a worker's imports, and the phases of a "
                         "LocalCluster with spawned workers (the former default) and with the sweep's settings")
    ap.add_argument("--exit-freeze", action="store_true",
                    help="also measure the CLI with gc.freeze() before the interpreter's exit (cli_exit_freeze)")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_2core.json"))
    a = ap.parse_args()
    grid = dict(GRID, datasets=a.datasets)
    res: dict = {"grid": grid, "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
                 "python": sys.version.split()[0], "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tables = []
    variants = [("cli", False)] if a.only in (None, "cli") else []
    variants += [("cli_exit_freeze", True)] if a.exit_freeze else []
    for label, freeze in variants:
        runs: dict = {"serial": [], "workers_2": []}
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
            for r in range(a.rounds):
                for w, name in ((0, "serial"), (2, "workers_2")):
                    df, rec = timed_cli(grid, w, Path(tmp) / f"{name}_{r}", freeze)
                    runs[name].append(rec)
                    tables.append(df)
                    print(name, label, json.dumps(rec), flush=True)
        res[label] = {"runs": runs, "best_serial_s": best(runs["serial"])["wall_s"],
                      "best_workers_2_s": best(runs["workers_2"])["wall_s"],
                      "speedup": best(runs["serial"])["wall_s"] / best(runs["workers_2"])["wall_s"]}
    if a.only in (None, "api"):
        runs = {"serial": [], "workers_2": []}
        started = False
        for r in range(a.rounds):
            for w, name in ((0, "serial"), (2, "workers_2")):
                df, rec = timed_api(grid, w, started)
                started = started or bool(w)
                runs[name].append(rec)
                tables.append(df.reset_index(drop=True))
                print(name, "api", json.dumps(rec), flush=True)
        first = runs["workers_2"][0]
        res["api"] = {"runs": runs, "best_serial_s": best(runs["serial"])["wall_s"],
                      "first_workers_2_s": first["wall_s"], "best_workers_2_s": best(runs["workers_2"])["wall_s"],
                      "speedup": best(runs["serial"])["wall_s"] / best(runs["workers_2"])["wall_s"],
                      "speedup_first_call": best(runs["serial"])["wall_s"] / first["wall_s"]}
    if a.breakdown:
        from eoscheck.sweeps.workers import LOCAL_CLUSTER_CONFIG, start_fork_server

        start_fork_server()
        res["breakdown"] = {"worker_imports": import_profile(),
                            "spawn_default_config": phases(grid, {"distributed.worker.multiprocessing-method": "spawn"}),
                            "forkserver_sweep_config": phases(grid, LOCAL_CLUSTER_CONFIG)}
        print(json.dumps(res["breakdown"], indent=1), flush=True)
    res["identical_tables"] = all(t.equals(tables[0]) for t in tables)
    res["rows"] = len(tables[0])
    res["note"] = ("shared 2-core machine: see load_before/load_after; a load from other sessions above ~0.5 "
                   "distorts the ratio")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: {kk: v for kk, v in res[k].items() if kk != "runs"} for k in ("cli", "cli_exit_freeze", "api") if k in res},
                     indent=1), "identical:", res["identical_tables"])
    return 0 if res["identical_tables"] else 1


if __name__ == "__main__":
    sys.exit(main())
