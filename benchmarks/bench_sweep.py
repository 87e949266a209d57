"""Benchmark of ``eoscheck sweep`` (issue 17): 400 datasets, serial vs a LocalCluster of 2 workers.

    python benchmarks/bench_sweep.py [--datasets 400] [--out benchmarks/results/sweep_2core.json]

Both runs do the issue's grid (synthetic, n, d ∈ 4:32, γ ∈ 0.05:0.5, η ∈ {4, 16, 64, 256},
T = 1000, transition_time(1/eta), last_increase, final_loss), side by side in one process, alternated
(best of ``--rounds`` each), the LocalCluster time including the cluster's start.  The load average (1 min) before and after each
run is recorded next to its time: on a shared machine, a load above the core count slows one run
more than the other, and the speed-up is then only indicative.  The tables must be identical.

CPU seconds per task (``time.process_time``) are recorded beside the wall seconds: their ratio is
the share of a core a task got.  Linux's autogroup scheduler (``/proc/sys/kernel/sched_autogroup_enabled``)
gives each session one fair share, whatever its number of processes, so on a machine busy with
other sessions two workers split that one share and cannot beat a serial run; the CPU columns
show it (see the committed result).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

GRID = dict(data="synthetic", n="4:32", d="4:32", gamma="0.05:0.5", eta="4,16,64,256", steps=1000,
            measure="transition_time(1/eta),last_increase,final_loss", seed=0, progress=False)


def timed(**kw):
    from eoscheck.sweeps import sweep

    info: dict = {}
    load0 = os.getloadavg()[0]
    t0 = time.perf_counter()
    df = sweep(**kw, info=info)
    wall = time.perf_counter() - t0
    return df, {"wall_s": wall, "load_before": load0, "load_after": os.getloadavg()[0], "mode": info["mode"],
                "tasks": info["tasks_run"], "task_seconds_sum": sum(info["task_seconds"]),
                "task_cpu_seconds_sum": sum(info["task_cpu_seconds"])}


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--datasets", type=int, default=400)
    ap.add_argument("--rounds", type=int, default=2, help="alternated serial/local pairs; best of each kept")
    ap.add_argument("--out", default=str(ROOT / "benchmarks" / "results" / "sweep_2core.json"))
    a = ap.parse_args()
    grid = dict(GRID, datasets=a.datasets)
    runs, same = {"serial": [], "local_cluster_2": []}, True
    for _ in range(a.rounds):  # alternated, so that a change of the machine's load hits both
        serial_df, s = timed(**grid, workers=0)
        local_df, loc = timed(**grid, workers=2)
        runs["serial"].append(s)
        runs["local_cluster_2"].append(loc)
        same = same and bool(serial_df.equals(local_df))
    serial = min(runs["serial"], key=lambda r: r["wall_s"])
    local = min(runs["local_cluster_2"], key=lambda r: r["wall_s"])
    res = {"grid": grid, "serial": serial, "local_cluster_2": local, "all_runs": runs,
           "speedup": serial["wall_s"] / local["wall_s"], "identical_tables": same,
           "rows": len(serial_df), "cpu_count": os.cpu_count(), "platform": platform.platform(),
           "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
           "note": "shared 2-core machine: see load_before/load_after; a load above 2 distorts the ratio"}
    Path(a.out).parent.mkdir(parents=True, exist_ok=True)
    Path(a.out).write_text(json.dumps(res, indent=1) + "\n")
    print(json.dumps({k: res[k] for k in ("serial", "local_cluster_2", "speedup", "identical_tables")}, indent=1))
    return 0 if res["identical_tables"] else 1


if __name__ == "__main__":
    sys.exit(main())
