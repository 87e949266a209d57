"""Scan: which offline real dataset reproduces the slides' logistic-regression picture (Fig. 1(c)),
and how long is the EoS phase as η grows (the slides' "Benefit 2")?

Part 1 (issue 15 item 3).  Candidates: every pair of scikit-learn's 8×8 digits (UCI, 45 pairs) and,
when Debian's dataset-fashion-mnist is installed, every Fashion-MNIST pair (first 1,000 training
images of the two classes, 28×28).  Each is normalized to maxᵢ‖xᵢ‖ = 1 (Assumption 1A); the paper's
stepsizes 2⁻⁶, 2⁻⁴, 2⁻², 2⁰ are rescaled by c = the power of two nearest 2⁵·(2/β) (the rule of
``eoscheck.report.figure1.digits_scale``: the paper's small η is monotone and the next one is not,
so the descent threshold 2/β lies between them).  GD from 0 for T steps.  The picture reproduces when
(i) the small η is monotone, (ii) all three large η are non-monotone (spikes), (iii) L(w_T) strictly
decreases in η.  Ranked by the smallest peak/L(w₀) among the large η (clearest spikes).

Part 2 (issue 15 item 4).  On the toy set and the passing datasets, η = c·2^k (k = −6…6): EoS length
as the last increase of L and as the first t with L(w_t) ≤ 1/η, and its rank correlation with η.

    python benchmarks/scan_figure1.py --out benchmarks/results/scan_figure1.json        # ~10 min on 2 cores
    python benchmarks/scan_figure1.py --no-fashion --steps 1024                           # ~1 min
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import time
from pathlib import Path

import numpy as np

from eoscheck.datasets import FASHION_MNIST_DIR, digits_pair, fashion_pair, toy
from eoscheck.gd import run_gd

PAPER_ETAS = (2.0**-6, 2.0**-4, 2.0**-2, 2.0**0)


def descent_threshold(data) -> float:
    """2/β with β = λ_max(XᵀX/n)/4, from the bound :data:`eoscheck.bounds.classics.DESCENT_LEMMA`."""
    from eoscheck.bounds import classics
    from eoscheck.report import theory

    lam = float(np.linalg.eigvalsh(data.X.T @ data.X / data.n)[-1])
    return float(theory.ev(classics.DESCENT_LEMMA, lambda_max=lam))


def scale(thr: float) -> float:
    from eoscheck.report.figure1 import digits_scale

    return digits_scale(thr)


def picture(data, steps: int) -> dict:
    """Run the four rescaled paper stepsizes; the three criteria of the module docstring."""
    data = data.normalize()
    thr = descent_threshold(data)
    c = scale(thr)
    etas = [c * e for e in PAPER_ETAS]
    tr = run_gd(data, "logistic", etas, steps, grid="log", grid_points=64)
    li = [int(v) for v in tr.stats["last_increase"]]
    LT = [float(v) for v in tr.records["loss"][:, -1]]
    peaks = [float(v) / math.log(2) for v in tr.stats["max_loss"]]
    ok = (li[0] < 0, all(v >= 0 for v in li[1:]), all(b < a for a, b in zip(LT, LT[1:])))
    return {"data": data.name, "n": data.n, "d": data.d, "gamma": data.gamma, "2/beta": thr, "c": c, "etas": etas,
            "last_increase": li, "peak/L0": peaks, "L_T": LT, "small_monotone": ok[0], "large_spike": ok[1],
            "larger_better": ok[2], "reproduces": all(ok), "spike_strength": min(peaks[1:])}


def eos_length(data, steps: int, c: float, ks=range(-6, 7)) -> dict:
    data = data.normalize()
    etas = [c * 2.0**k for k in ks]
    tr = run_gd(data, "logistic", etas, steps, grid="log", grid_points=64)
    li = [int(v) for v in tr.stats["last_increase"]]
    fb = [int(v) for v in tr.stats["first_below_1_over_eta"]]
    eos = [(e, a) for e, a in zip(etas, li) if a >= 0]
    rho = None
    if len(eos) >= 3:
        from scipy.stats import spearmanr

        rho = float(spearmanr([e for e, _ in eos], [a for _, a in eos]).statistic)
    return {"data": data.name, "gamma": data.gamma, "c": c, "etas": etas, "last_increase": li,
            "first_below_1_over_eta": fb, "diverged": [int(v) for v in tr.stats["diverged_at"]],
            "spearman(eta, last_increase) over EoS runs": rho}


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--out")
    ap.add_argument("--steps", type=int, default=4096)
    ap.add_argument("--no-fashion", action="store_true")
    ap.add_argument("--fashion-pairs", nargs="*", default=None,
                    help="Fashion-MNIST pairs as 'ab' digits (default: all 45); e.g. 02 24 06")
    ap.add_argument("--no-digits", action="store_true")
    args = ap.parse_args(argv)
    out = {"steps": args.steps, "loadavg_before": os.getloadavg(), "picture": [], "eos_length": []}
    t0 = time.perf_counter()
    cands = [] if args.no_digits else [("digits", a, b) for a, b in itertools.combinations(range(10), 2)]
    if FASHION_MNIST_DIR.is_dir() and not args.no_fashion:
        pairs = ([(int(p[0]), int(p[1])) for p in args.fashion_pairs] if args.fashion_pairs is not None
                 else list(itertools.combinations(range(10), 2)))
        cands += [("fashion", a, b) for a, b in pairs]
    for kind, a, b in cands:
        data = digits_pair(a, b) if kind == "digits" else fashion_pair(a, b)
        if not data.separable:
            out["picture"].append({"data": data.name, "separable": False, "reproduces": False})
            continue
        row = picture(data, args.steps)
        out["picture"].append(row)
        print(json.dumps({k: row[k] for k in ("data", "last_increase", "reproduces", "spike_strength")}), flush=True)
    passing = sorted((r for r in out["picture"] if r.get("reproduces")), key=lambda r: -r["spike_strength"])
    out["passing"] = [r["data"] for r in passing]
    targets = [(toy(), 1.0)]
    for r in passing[:3] + [p for p in passing if p["data"].startswith("fashion")][:2]:
        name = r["data"].replace("-normalized", "")
        a, b = int(name[-2]), int(name[-1])
        targets.append((digits_pair(a, b) if name.startswith("digits") else fashion_pair(a, b), r["c"]))
    seen = set()
    for data, c in targets:
        if data.name in seen:
            continue
        seen.add(data.name)
        c = c if data.name != "toy" else 2.0 ** round(math.log2(32 * descent_threshold(data.normalize())))
        row = eos_length(data, args.steps, c)
        out["eos_length"].append(row)
        print(json.dumps(row), flush=True)
    out["wall_s"] = time.perf_counter() - t0
    out["loadavg_after"] = os.getloadavg()
    if args.out:
        Path(args.out).write_text(json.dumps(out, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
