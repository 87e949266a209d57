"""Scan: the slides' 3-layer net (after Cohen et al. 2021) — which loss, width and stepsizes show the
edge-of-stability signature on 1,000 real digits (scikit-learn's 8×8 UCI digits, 10 classes, pixels/16)?

Signature (issue 15 item 1), judged by the report's own rule
(:func:`eoscheck.report.figure1.mlp3_large_signature`): for the large η, the median of sharpness·η/2 over
the second half of the run lies in [0.8, 1.25], the loss still oscillates there (last increase ≥ T/2)
and still falls over long horizons (its medians over (T/8, T/4], (T/4, T/2], (T/2, T] strictly
decreasing; the scans below used L(T) < L(T/2) < L(T/4), the rule until 2026-12-04); for the small η, sharpness stays below 2/η
and the loss is monotone.  Two hidden layers, PyTorch default init, seed 0, one torch thread.

Findings (benchmarks/results/scan_mlp3*.json), median sharpness·η/2 over the 2nd half / max:
  cross-entropy, hidden (128,128), T=1000 (scan_mlp3.json): η = 0.2, 0.1, 0.01 monotone, max 0.45, 0.23, 0.02.
  cross-entropy, hidden (64,64), T=2000 (scan_mlp3_ce_h64.json): η = 1: catapult (max 5.2), then 0.07;
      η = 0.3, 0.1, 0.01 monotone, max 0.70, 0.23, 0.02 — the sharpness falls as the margins grow.
  square loss, hidden (64,64), T=2000 (scan_mlp3_mse_h64.json): λ₀ ≈ 6; η = 0.3, 0.2, 0.1 sharpen to 2/η
      and hover: medians 1.08, 1.06, 1.03, loss falling and oscillating to the end (signature met);
      η = 0.02, 0.01 monotone, max 0.14, 0.05.
  square loss, hidden (64,64), T=1000, η = 0.2, 0.02 (scan_mlp3_mse_h64_T1000.json): median 1.10, signature
      met; η = 0.02 monotone, max 0.11 — the report's quick profile.  Both this and
      scan_mlp3_mse_h64_full.json (η = 0.1, 0.01, T = 2000, sharpness every 20: the full profile) are the
      report's own computations (same batch, seed, single torch thread), not only similar configurations:
      EoS dynamics are chaotic, so a different batch of stepsizes can round differently and diverge.

    python benchmarks/scan_mlp3.py --loss mse --hidden 64 64 --etas 0.3 0.2 0.1 0.02 0.01 --steps 2000 \
        --out benchmarks/results/scan_mlp3_mse_h64.json
    python benchmarks/scan_mlp3.py --loss mse --hidden 64 64 --etas 0.2 0.02 --steps 1000 --sharpness-every 25 \
        --out benchmarks/results/scan_mlp3_mse_h64_T1000.json
    python benchmarks/scan_mlp3.py --loss cross_entropy --hidden 64 64 --etas 1.0 0.3 0.1 0.01 --steps 2000 \
        --sharpness-every 50 --out benchmarks/results/scan_mlp3_ce_h64.json
    python benchmarks/scan_mlp3.py --loss mse --hidden 64 64 --etas 0.1 0.01 --steps 2000 --sharpness-every 20 \
        --out benchmarks/results/scan_mlp3_mse_h64_full.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np
import torch

from eoscheck.mlp import run_mlp3
from eoscheck.report.figure1 import mlp3_large_signature


def summarize(tr) -> list[dict]:
    rows = []
    T = tr.steps
    for k, eta in enumerate(tr.eta):
        s = tr.sharpness[k] * eta / 2
        half = tr.sharpness_step >= tr.sharpness_step[-1] / 2
        L = tr.records["loss"][k]
        row = {"eta": float(eta), "last_increase": int(tr.stats["last_increase"][k]),
               "max_sharp_eta/2": float(np.nanmax(s)), "median_sharp_eta/2_2nd_half": float(np.nanmedian(s[half])),
               "L(0)": float(L[0]), "L(T/4)": float(L[T // 4]), "L(T/2)": float(L[T // 2]), "L(T)": float(L[T]),
               "peak": float(tr.stats["max_loss"][k]),
               "sharpness_unconverged": int(tr.stats["sharpness_unconverged"][k])}
        report_row = {"median sharpness·η/2 (2nd half)": row["median_sharp_eta/2_2nd_half"],
                      "last increase": row["last_increase"]}
        row["eos_signature"], row["eos_measured"] = mlp3_large_signature(tr, k, report_row)
        row["small_eta_rule"] = bool(row["last_increase"] < 0 and row["max_sharp_eta/2"] < 1.0)
        row["sharpness"] = [float(v) for v in tr.sharpness[k]]
        row["sharpness_step"] = tr.sharpness_step.tolist()
        rows.append(row)
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--etas", type=float, nargs="+", default=[0.2, 0.1, 0.01])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hidden", type=int, nargs=2, default=[128, 128])
    ap.add_argument("--loss", choices=["cross_entropy", "mse"], default="cross_entropy")
    ap.add_argument("--activation", choices=["tanh", "relu", "elu"], default="tanh")
    ap.add_argument("--sharpness-every", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    torch.set_num_threads(1)
    load0 = os.getloadavg()
    t0 = time.perf_counter()
    tr = run_mlp3(None, args.etas, args.steps, hidden=tuple(args.hidden), sharpness_every=args.sharpness_every,
                  loss=args.loss, activation=args.activation)
    out = {"config": vars(args), "loadavg_before": load0, "loadavg_after": os.getloadavg(),
           "wall_s": time.perf_counter() - t0, "torch_threads": 1, "rows": summarize(tr)}
    for r in out["rows"]:
        print(json.dumps({k: v for k, v in r.items() if k not in ("sharpness", "sharpness_step")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
