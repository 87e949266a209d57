"""``eoscheck conjecture "QUANTITY <= EXPR"``: test your own statement with the claims' machinery.

Exit 1 FALSIFIED (with the shrunk counterexample, saved for ``eoscheck replay``),
0 NOT FALSIFIED (with the evidence; never "proved"), 2 usage errors.
"""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

NAME = "conjecture"
HELP = 'test "QUANTITY <= EXPR" (or >=) on GD runs: FALSIFIED with a counterexample, or NOT FALSIFIED'

EPILOG_VOCAB = ("quantities: loss(t) avg_loss(t) final_loss w_norm(t) grad_norm(t) grad_potential(t) "
                "grad_potential_avg(t) exp_potential(t) margin(t) normalized_margin(t) train_error(t) sharpness(t) "
                "transition_time(THRESHOLD) last_increase max_loss; EXPR in eta n d gamma t T and constants "
                "C C0..C9 c c0..c9 (fitted)")


def add_arguments(p) -> None:
    p.add_argument("statement", metavar='"QUANTITY <= EXPR"', help=EPILOG_VOCAB)
    p.add_argument("--loss", default="logistic", help="loss name, e.g. logistic, flat_exp:a=2 (default logistic)")
    for name, default in (("eta", "0.25:1000"), ("n", "1:20"), ("d", "1:10"), ("gamma", "0.05:0.9"),
                          ("t", "1:100000"), ("T", "200:2000")):
        p.add_argument(f"--{name}", metavar="LO:HI", help=f"range of {name} (default {default})")
    p.add_argument("--eta-of-T", dest="eta_of_T", metavar="EXPR",
                   help='stepsize schedule as a formula in T, gamma, n, d, e.g. "gamma**2*T/120"')
    p.add_argument("--where", action="append", metavar="COND",
                   help='restrict to points where COND holds, e.g. "gamma**2*eta*t >= 1" (repeatable)')
    p.add_argument("--effort", choices=("smoke", "quick", "normal", "thorough"), default="quick",
                   help="calibration/verification size: smoke (seconds, T ≤ 400), quick (default, T ≤ 2000), "
                        "normal, thorough")
    p.add_argument("--seed", type=int, help="seed (default: derandomized)")
    p.add_argument("--json", metavar="FILE", help="write the report as JSON")
    p.add_argument("--save", metavar="DIR", default="reports/counterexamples",
                   help="where a counterexample is saved (default reports/counterexamples)")


def run(args) -> int:
    from ..properties.conjecture import Conjecture, check_conjecture

    ranges = {k: getattr(args, k) for k in ("eta", "n", "d", "gamma", "t", "T")}
    conj = Conjecture.parse(args.statement, loss=args.loss, ranges=ranges, eta_of_T=args.eta_of_T, where=args.where)
    rep = check_conjecture(conj, args.effort, args.seed, args.save)
    print(f"conjecture: {conj.text}   (loss {conj.loss})")
    if rep.constants:
        print("fitted constants: " + ", ".join(f"{k} = {v:.6g}" for k, v in rep.constants.items())
              + f"  ({rep.calibration_points} calibration points, inner ranges)")
    rows = [["examples", rep.examples], ["points checked", rep.points], ["worst ratio", rep.worst_ratio],
            ["worst instance", rep.worst_instance or "–"]]
    print(tabulate(rows, tablefmt="plain"))
    if rep.slopes:
        srows = [[p, s.get("ratio_slope"), s.get("upper_half_slope"), s.get("observed"),
                  "GROWING" if s.get("growing") else "ok"] for p, s in rep.slopes.items()]
        print(tabulate(srows, headers=["ladder", "ln-ratio slope", "far half", "observed order", ""],
                       floatfmt=".3f"))
    print(f"\n{rep.verdict}" + (f": {rep.message}" if rep.message else ""))
    if rep.counterexample_file:
        print(f"counterexample saved: {rep.counterexample_file} (eoscheck replay {rep.counterexample_file})")
    if args.json:
        Path(args.json).write_text(json.dumps(rep.to_json(), indent=1) + "\n")
    return 1 if rep.falsified else 0
