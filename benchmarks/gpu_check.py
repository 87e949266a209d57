"""GPU check: the network experiments (and a linear GD run) on CUDA against CPU float64.

Runs each experiment twice — ``--device cuda`` and CPU, both float64 — and prints, per
experiment and recorded quantity, the largest relative difference |gpu − cpu|/max(|cpu|, tiny)
over the first ``--early`` steps and over the whole run, with the wall time on each device.

Expected: agreement to ~1e-12 where the dynamics are stable (linear GD, NTK, the small
stepsize of the 3-layer net).  Edge-of-stability runs are chaotic: rounding differences
between the two devices' summation orders (~1e-16) grow through the spikes, so the large
stepsize of the 3-layer net may differ by O(1) late in the run while agreeing early; the
table separates the two.  (Measured on CPU: scaling the inputs by 1 + 1e-15 changes the η = 1
loss by 5e-13 at t = 30, 6e-5 at t = 50 and O(1) at t = 100, and the η = 0.1 loss by ≤ 2e-15.)
Exit status 0 when every difference over t ≤ ``--early`` (default 30) is below 1e-8.
Sized for < ~3 min in total on one H100 plus a 16-core host.

Usage::

    python benchmarks/gpu_check.py                  # cuda vs cpu
    python benchmarks/gpu_check.py --json $OUT/gpu_check.json
    python benchmarks/gpu_check.py --device cpu --quick   # dry run of the script itself
"""

from __future__ import annotations

import argparse
import json
import math
import sys
import time

import numpy as np
import torch

QUANTITIES = ("loss", "log_loss", "G", "grad_norm", "w_norm", "min_margin")


def _rel_diff(a: np.ndarray, b: np.ndarray) -> float:
    """max |a − b| / max(|b|, 1e-300) over entries finite in both (NaN/inf patterns must match)."""
    a, b = np.asarray(a, float), np.asarray(b, float)
    fa, fb = np.isfinite(a), np.isfinite(b)
    if not np.array_equal(fa, fb):
        return math.inf
    if not fa.any():
        return 0.0
    return float(np.max(np.abs(a[fa] - b[fa]) / np.maximum(np.abs(b[fa]), 1e-300)))


def _timed(fn, device):
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    out = fn(device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return out, time.perf_counter() - t0


def experiments(quick: bool):
    """(name, run(device) → Trajectory) pairs."""
    from eoscheck import digits08, synthetic
    from eoscheck.gd import run_gd
    from eoscheck.mlp import run_mlp3
    from eoscheck.networks import run_ntk

    digits = digits08().normalize()
    syn = synthetic(n=64 if quick else 256, d=16, gamma=0.1, seed=0)
    T_lin, T_ntk, T_mlp = (200, 100, 100) if quick else (2000, 500, 1000)
    width = 128 if quick else 1024
    return [
        ("linear digits08", lambda dev: run_gd(digits, "logistic", [2.0**k for k in range(-2, 11, 2)], T_lin,
                                                device=dev, sharpness_every=T_lin // 10)),
        (f"ntk m={width} digits08", lambda dev: run_ntk(digits, "logistic", [0.5, 8.0, 128.0, 2048.0], T_ntk,
                                                       width=width, device=dev, sharpness_every=T_ntk // 5)),
        (f"ntk m={width} synthetic", lambda dev: run_ntk(syn, "flat_exp:a=1", [1.0, 64.0], T_ntk, width=width,
                                                        signs="random", seed=1, device=dev)),
        ("mlp3 digits10 (η=1, 0.1)", lambda dev: run_mlp3(None, (1.0, 0.1), T_mlp, hidden=(64, 64), device=dev,
                                                           sharpness_every=T_mlp // 20)),
    ]


def compare(name, cpu, gpu, early: int) -> list[dict]:
    rows = []
    e = min(early + 1, len(cpu.step))
    for k, eta in enumerate(cpu.eta):
        for q in QUANTITIES:
            a, b = gpu.records[q][k], cpu.records[q][k]
            rows.append({"experiment": name, "eta": float(eta), "quantity": q,
                         f"rel.diff t<={early}": _rel_diff(a[:e], b[:e]), "rel.diff all t": _rel_diff(a, b)})
        if cpu.sharpness.size:
            a, b = gpu.sharpness[k], cpu.sharpness[k]
            ce = int(np.searchsorted(cpu.sharpness_step, early, side="right"))
            rows.append({"experiment": name, "eta": float(eta), "quantity": "sharpness",
                         f"rel.diff t<={early}": _rel_diff(a[:ce], b[:ce]), "rel.diff all t": _rel_diff(a, b)})
        same = all(int(cpu.stats[s][k]) == int(gpu.stats[s][k])
                   for s in ("diverged_at", "last_increase", "first_below_1_over_eta"))
        rows.append({"experiment": name, "eta": float(eta), "quantity": "stats equal (div, last inc, 1/η)",
                     f"rel.diff t<={early}": None, "rel.diff all t": 0.0 if same else math.inf})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--device", default="cuda", help="device to compare with CPU (default cuda)")
    ap.add_argument("--early", type=int, default=30, help="steps of the 'early' comparison window")
    ap.add_argument("--quick", action="store_true", help="tiny sizes (a dry run of this script)")
    ap.add_argument("--json", help="also write the results here")
    args = ap.parse_args(argv)
    if args.device.startswith("cuda"):
        if not torch.cuda.is_available():
            print("no CUDA device visible to torch; nothing to compare (use --device cpu for a dry run)")
            return 2
        torch.backends.cuda.matmul.allow_tf32 = False
        torch.backends.cudnn.allow_tf32 = False
        print(f"GPU: {torch.cuda.get_device_name(0)}; torch {torch.__version__}, CUDA {torch.version.cuda}")
    from tabulate import tabulate

    rows, timing = [], []
    for name, run in experiments(args.quick):
        gpu, t_gpu = _timed(run, args.device)
        cpu, t_cpu = _timed(run, "cpu")
        timing.append({"experiment": name, "cpu s": t_cpu, f"device s ({args.device})": t_gpu,
                       "speedup": t_cpu / t_gpu})
        rows += compare(name, cpu, gpu, args.early)
        print(f"done: {name} (cpu {t_cpu:.1f}s, {args.device} {t_gpu:.1f}s)", flush=True)
    print(tabulate(rows, headers="keys", floatfmt=".2e"))
    print()
    print(tabulate(timing, headers="keys", floatfmt=".2f"))
    worst_early = max(r[f"rel.diff t<={args.early}"] for r in rows if r[f"rel.diff t<={args.early}"] is not None)
    print(f"\nworst relative difference over t ≤ {args.early}: {worst_early:.2e}")
    if args.json:
        with open(args.json, "w") as fh:
            json.dump({"device": args.device, "rows": rows, "timing": timing,
                       "gpu": torch.cuda.get_device_name(0) if args.device.startswith("cuda") else None,
                       "torch": torch.__version__}, fh, indent=2, default=str)
    return 0 if worst_early < 1e-8 else 1


if __name__ == "__main__":
    sys.exit(main())
