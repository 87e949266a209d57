"""Benchmark: how long ``eoscheck --help`` takes in a fresh process (issue 16, target 5: ≤ 0.5 s).

Each repetition starts a new interpreter (``python -m eoscheck --help``), so nothing is cached in memory;
the wall time of the whole process is what a user waits.  For scale, the same interpreter doing nothing
(``python -c pass``) is timed alternately with it.  Also records which heavy modules the command imported
(none of torch, sympy, matplotlib, numba, scipy is the point of the lazy imports).

    python benchmarks/bench_startup.py --out benchmarks/results/startup_cpu.json
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("torch", "sympy", "matplotlib", "numba", "scipy")
PROBE = ("import runpy, sys; sys.argv = ['eoscheck', '--help']\n"
         "try:\n    runpy.run_module('eoscheck', run_name='__main__')\nexcept SystemExit:\n    pass\n"
         f"print('HEAVY', [m for m in {HEAVY!r} if m in sys.modules], file=sys.stderr)")


def timed(cmd: list[str]) -> tuple[float, str]:
    t0 = time.perf_counter()
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return time.perf_counter() - t0, out.stderr


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out", help="write the results as JSON here")
    ap.add_argument("--repeat", type=int, default=7)
    args = ap.parse_args(argv)
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_gd import machine  # lscpu's model, BLAS and kernel, versions, the eoscheck commit

    help_s, bare_s, heavy = [], [], None
    timed([sys.executable, "-m", "eoscheck", "--help"])       # the first start reads the files from disk
    before = os.getloadavg()
    for _ in range(args.repeat):                               # alternated: a change of load hits both
        t, _ = timed([sys.executable, "-m", "eoscheck", "--help"])
        help_s.append(t)
        bare_s.append(timed([sys.executable, "-c", "pass"])[0])
    _, err = timed([sys.executable, "-c", PROBE])
    heavy = next((line.split(" ", 1)[1] for line in err.splitlines() if line.startswith("HEAVY ")), None)
    result = {"machine": machine(), "loadavg_before": before, "loadavg_after": os.getloadavg(),
              "help_seconds": help_s, "bare_interpreter_seconds": bare_s, "best_help_s": min(help_s),
              "median_help_s": sorted(help_s)[len(help_s) // 2], "best_bare_s": min(bare_s),
              "heavy_modules_imported": heavy, "target_s": 0.5}
    print(json.dumps({k: v for k, v in result.items() if k != "machine"}, indent=1))
    if args.out:
        Path(args.out).write_text(json.dumps(result, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
