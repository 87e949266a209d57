"""Before timing on a GPU: the fast engine on CUDA equals the reference engine on CPU (≤ 1e-12).

    python benchmarks/check_cuda.py            # on the GPU
    python benchmarks/check_cuda.py --dry-run  # the same checks with the torch backend on CPU

Uses the comparison of tests/test_gd_fast.py (each record on its natural scale, integer stats
exactly, NaN/inf patterns equal) on three data sets, logistic and exponential (with divergence).
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import numpy as np
import torch

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from eoscheck import synthetic, thm3, toy  # noqa: E402
from eoscheck.gd import run_gd  # noqa: E402
from test_gd_fast import assert_same  # noqa: E402


def main() -> int:
    dry = "--dry-run" in sys.argv[1:]
    device = "cpu" if dry else "cuda"
    if not dry and not torch.cuda.is_available():
        print("no CUDA device (use --dry-run to check the script on CPU)", file=sys.stderr)
        return 2
    print("device:", "cpu (dry run, torch backend)" if dry else torch.cuda.get_device_name(0))
    cases = [(toy(), "logistic", [4.0, 8.0, 16.0, 32.0], 600),
             (thm3(0.05), "logistic", [1.0, 10.0], 600),
             (synthetic(300, 200, 0.05, seed=0), "logistic", list(np.geomspace(0.5, 100, 6)), 300),
             (toy(normalized=True), "exponential", [0.5, 5.0, 1e4], 200)]
    failures = 0
    for data, loss, etas, steps in cases:
        ref = run_gd(data, loss, etas, steps, method="reference", device="cpu", sharpness_every=steps // 4)
        for method in ("primal", "gram"):
            t = time.perf_counter()
            fast = run_gd(data, loss, etas, steps, method=method, device=device, backend="torch",
                          sharpness_every=steps // 4)
            try:
                assert_same(fast, ref, data)
                status = "ok"
            except AssertionError as exc:
                failures += 1
                status = f"FAIL: {str(exc).splitlines()[0][:150]}"
            print(f"{data.name[:28]:28s} {loss:11s} {method:6s} {device} vs cpu reference: {status} "
                  f"({time.perf_counter() - t:.2f} s)")
    print("all equal to 1e-12" if not failures else f"{failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    sys.exit(main())
