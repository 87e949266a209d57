"""``eoscheck conjecture "QUANTITY <= EXPR"``: test your own statement with the claims' machinery.

Exit 1 FALSIFIED (a confirmed witness inside the ranges, shrunk and saved for ``eoscheck replay``),
0 NOT FALSIFIED (with the evidence; never "proved") or UNDECIDED, 2 usage errors, 3 under ``--strict``
when the verdict is NOT FALSIFIED with a TREND warning or UNDECIDED.  The decision procedure is
stated in properties/README.md.
"""

from __future__ import annotations

import json
from pathlib import Path

from tabulate import tabulate

from ._arguments import count_at_least

NAME = "conjecture"
HELP = 'test "QUANTITY <= EXPR" (or >=) on GD runs: FALSIFIED with a counterexample, or NOT FALSIFIED'

EPILOG_VOCAB = ("quantities: loss(t) avg_loss(t) final_loss w_norm(t) grad_norm(t) grad_potential(t) "
                "grad_potential_avg(t) exp_potential(t) margin(t) normalized_margin(t) train_error(t) sharpness(t) "
                "transition_time(THRESHOLD) last_increase max_loss; EXPR in eta n d gamma t T and constants "
                "C C0..C9 c c0..c9 (fitted)")


#: Where a witness is saved unless --save says otherwise.
SAVE_DEFAULT = "reports/counterexamples"


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
    p.add_argument("--effort", choices=("smoke", "quick", "normal", "thorough", "full"), default="quick",
                   help="search size and caps: smoke (T ≤ 400, n ≤ 50, d ≤ 20), quick (default; T ≤ 2000, n ≤ 200, "
                        "d ≤ 50), normal (T ≤ 5000, n ≤ 1000, d ≤ 200), thorough (T ≤ 1e5, n ≤ 5000, d ≤ 1000), "
                        "full (no caps); a cap inside your range is stated on the verdict's first line; a range "
                        "starting above the cap is tested at its lower end only")
    p.add_argument("--strict", action="store_true",
                   help="exit 3 when the verdict is NOT FALSIFIED with a TREND warning, or UNDECIDED")
    p.add_argument("--seed", type=count_at_least(0), help="Hypothesis seed of the search (default 0)")
    p.add_argument("--json", action="store_true", help="print the report as JSON to stdout (no table)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the report as JSON to FILE")
    p.add_argument("--save", metavar="DIR", default=SAVE_DEFAULT,
                   help="where a witness is saved (default reports/counterexamples)")


def run(args) -> int:
    from ..outputs import REPORT_FORMAT, atomic_write, check_output_file, witness_folder
    from ..properties.conjecture import Conjecture
    from ..properties.decide import check_conjecture

    ranges = {k: getattr(args, k) for k in ("eta", "n", "d", "gamma", "t", "T")}
    conj = Conjecture.parse(args.statement, loss=args.loss, ranges=ranges, eta_of_T=args.eta_of_T, where=args.where)
    if args.output:
        check_output_file(args.output, report=True)
    save = witness_folder(args.save, SAVE_DEFAULT, "--save")   # before the search: a witness is never lost
    rep = check_conjecture(conj, args.effort, args.seed, str(save))
    from ..provenance import provenance

    text = json.dumps({"format": REPORT_FORMAT, **rep.to_json(), "effort": args.effort,
                       "provenance": provenance("cpu", args.seed, getattr(args, "_argv", None))}, indent=1) + "\n"
    if args.output:
        atomic_write(Path(args.output), text)
    if args.json:
        print(text, end="")
    else:
        print(f"{rep.first_line()}   {conj.text}   (loss {conj.loss})")
        if rep.constants:
            print("fitted constants: " + ", ".join(f"{k} = {v:.6g}" for k, v in rep.constants.items())
                  + f"  ({rep.calibration_points} calibration points, inner ranges)")
        worst = rep.worst_ratio
        if worst is None and rep.worst_point and rep.worst_point.get("bound") == 0:
            worst = "– (EXPR is 0 in float64 at the worst point: no ratio in float64)"
        rows = [["examples", rep.examples], ["points checked", rep.points], ["worst ratio", worst],
                ["worst instance", rep.worst_instance or "–"]]
        print(tabulate(rows, tablefmt="plain"))
        if rep.slopes:
            srows = [[p, s.get("ratio_slope"), s.get("upper_half_slope"), s.get("observed"),
                      "TREND" if s.get("growing") else "ok"] for p, s in rep.slopes.items()]
            print(tabulate(srows, headers=["ladder", "ln-ratio slope", "far half", "observed order", ""],
                           floatfmt=".3f"))
        print(f"\n{rep.verdict}" + (f": {rep.message}" if rep.message else ""))
        if rep.counterexample_file:
            print(f"witness saved: {rep.counterexample_file} (eoscheck replay {rep.counterexample_file})")
    if rep.falsified:
        return 1
    return 3 if args.strict and (rep.trend or rep.verdict == "UNDECIDED") else 0
