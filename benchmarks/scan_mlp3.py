"""Scan: the slides' 3-layer net (after Cohen et al. 2021) — which stepsizes show the edge-of-stability
signature on 1,000 real digits (scikit-learn's 8×8 UCI digits, 10 classes, pixels/16)?

Signature (issue 15 item 1): for the large η, the median of sharpness·η/2 over the second half of the
run lies in [0.8, 1.25] and the loss still falls over long horizons while oscillating (last increase in
the second half, L(T) < L(T/2) < L(T/4)); for the small η, sharpness stays below 2/η and the loss is
monotone.  Cross-entropy, tanh, hidden (128, 128), PyTorch default init, seed 0.

    python benchmarks/scan_mlp3.py --etas 0.2 0.1 0.01 --steps 1000 --out benchmarks/results/scan_mlp3.json
"""

from __future__ import annotations

import argparse
import json
import os
import time
from pathlib import Path

import numpy as np

from eoscheck.mlp import run_mlp3


def summarize(tr) -> list[dict]:
    rows = []
    T = tr.steps
    for k, eta in enumerate(tr.eta):
        s = tr.sharpness[k] * eta / 2
        half = tr.sharpness_step >= tr.sharpness_step[-1] / 2
        L = tr.records["loss"][k]
        rows.append({"eta": float(eta), "last_increase": int(tr.stats["last_increase"][k]),
                     "max_sharp_eta/2": float(np.nanmax(s)), "median_sharp_eta/2_2nd_half": float(np.nanmedian(s[half])),
                     "L(T/4)": float(L[T // 4]), "L(T/2)": float(L[T // 2]), "L(T)": float(L[T]),
                     "peak": float(tr.stats["max_loss"][k]),
                     "sharpness": [float(v) for v in tr.sharpness[k]], "sharpness_step": tr.sharpness_step.tolist()})
    return rows


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--etas", type=float, nargs="+", default=[0.2, 0.1, 0.01])
    ap.add_argument("--steps", type=int, default=1000)
    ap.add_argument("--hidden", type=int, nargs=2, default=[128, 128])
    ap.add_argument("--sharpness-every", type=int, default=20)
    ap.add_argument("--out")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    tr = run_mlp3(None, args.etas, args.steps, hidden=tuple(args.hidden), sharpness_every=args.sharpness_every)
    out = {"config": vars(args), "loadavg": os.getloadavg(), "rows": summarize(tr), "wall_s": time.perf_counter() - t0}
    for r in out["rows"]:
        print(json.dumps({k: v for k, v in r.items() if k not in ("sharpness", "sharpness_step")}), flush=True)
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
