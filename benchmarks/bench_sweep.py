"""Benchmark of ``eoscheck sweep`` (issue 17): 400 datasets, serial vs a LocalCluster of 2 workers.

    flock /tmp/bench.lock python benchmarks/bench_sweep.py [--datasets 400] [--rounds 3] [--out FILE]

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


def timed_cli(grid: dict, workers: int, folder: Path):
    args = [sys.executable, "-m", "eoscheck", "sweep"]
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


def best(runs: list[dict]) -> dict:
    return min(runs, key=lambda r: r["wall_s"])


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=3, help="alternated serial/2-worker pairs per measurement")
    ap.add_argument("--only", choices=("cli", "api"), help="run one of the two measurements")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_2core.json"))
    a = ap.parse_args()
    grid = dict(GRID, datasets=a.datasets)
    res: dict = {"grid": grid, "cpu_count": os.cpu_count(), "cpu_model": cpu_model(), "platform": platform.platform(),
                 "python": sys.version.split()[0], "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
    tables = []
    if a.only in (None, "cli"):
        runs: dict = {"serial": [], "workers_2": []}
        with tempfile.TemporaryDirectory(prefix="bench_sweep_") as tmp:
            for r in range(a.rounds):
                for w, name in ((0, "serial"), (2, "workers_2")):
                    df, rec = timed_cli(grid, w, Path(tmp) / f"{name}_{r}")
                    runs[name].append(rec)
                    tables.append(df)
                    print(name, "cli", json.dumps(rec), flush=True)
        res["cli"] = {"runs": runs, "best_serial_s": best(runs["serial"])["wall_s"],
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
    res["identical_tables"] = all(t.equals(tables[0]) for t in tables)
    res["rows"] = len(tables[0])
    res["note"] = ("shared 2-core machine: see load_before/load_after; a load from other sessions above ~0.5 "
                   "distorts the ratio")
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: {kk: v for kk, v in res[k].items() if kk != "runs"} for k in ("cli", "api") if k in res},
                     indent=1), "identical:", res["identical_tables"])
    return 0 if res["identical_tables"] else 1


if __name__ == "__main__":
    sys.exit(main())
