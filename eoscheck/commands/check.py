"""``eoscheck check``: try to falsify the theory's claims with Hypothesis; a table and JSON.

Exit 0 when no claim is falsified (warnings, TREND and unavailable claims included, each
stated), 1 when one is falsified (a witness) or a check errors, 2 for usage errors, 3 under
``--strict`` when a claim is TREND (a scaling trend without a witness) and none is falsified.
"""

from __future__ import annotations

import json
import sys
import time
from collections import Counter
from pathlib import Path

from tabulate import tabulate

from .._errors import EoscheckError
from ._arguments import count_at_least
from .conjecture import SAVE_DEFAULT

NAME = "check"
HELP = "check the theory's claims (exact and fitted) with Hypothesis; table + JSON, exit 1 if one is falsified"


def add_arguments(p) -> None:
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="claim ids (default: all; see --list)")
    p.add_argument("--profile", choices=("ci", "dev", "thorough"),
                   help="Hypothesis profile (default: EOSCHECK_PROFILE, else ci if CI is set, else dev)")
    p.add_argument("--seed", type=count_at_least(0), help="Hypothesis seed (default 0 in every profile, so the same commit, profile and seed give the "
                        "same verdicts and example counts; a seed N draws other examples, reproducibly)")
    p.add_argument("--json", action="store_true", help="print the full results as JSON to stdout (no table)")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the full results as JSON to FILE")
    p.add_argument("--strict", action="store_true", help="exit 3 when a claim is TREND (and none is falsified)")
    p.add_argument("--counterexamples", metavar="DIR", default=SAVE_DEFAULT,
                   help="where falsifications are saved (default: reports/counterexamples)")
    p.add_argument("--list", action="store_true", help="list the claims (those named, else all) and exit")


def _fmt(x, spec=".3g") -> str:
    if x is None:
        return "–"
    if isinstance(x, float) and x != x:
        return "nan"
    return format(x, spec)


def claims_table(claims) -> str:
    rows = [[c.id, c.source, c.kind, c.bound_id or "–", ("n/a: " + c.unavailable[:50]) if c.unavailable else c.title[:70]]
            for c in claims]
    return tabulate(rows, headers=["claim", "source", "kind", "bound", "statement"], tablefmt="simple")


def report_table(reports) -> str:
    from ..properties.claims import ratio_side

    rows = []
    for r in reports:
        kind = "fitted" if r.kind == "asymptotic" else r.kind
        const = f"{r.constant_name}={_fmt(r.fitted_constant)}" if r.fitted_constant is not None else "–"
        side = (ratio_side(r.id) or "–") if r.worst_ratio is not None else "–"
        rows.append([r.id, r.source[:38], kind, r.examples, r.tested_text(), _fmt(r.worst_ratio), side, const,
                     r.slope_text() or "–", r.shown_verdict])
    return tabulate(rows, headers=["claim", "source", "exact/fitted", "examples", "points that could fail",
                                   "worst ratio", "holds while the ratio is", "fitted constant", "slope obs vs pred",
                                   "verdict"], tablefmt="simple")


def run(args) -> int:
    from ..properties.claims import all_claims, get_claim
    from ..properties.fitted import load_constants
    from ..properties.profiles import current_profile
    from ..properties.runner import run_claims
    from ..properties.search import seed_in_use

    if args.list:          # the named claims (unknown ids: exit 2), else all
        ignored = [flag for flag, given in (("-o/--output", args.output), ("--counterexamples",
                   args.counterexamples != SAVE_DEFAULT), ("--seed", args.seed is not None),
                   ("--profile", args.profile), ("--strict", args.strict)) if given]
        if ignored:        # --list runs nothing: they would be ignored
            raise EoscheckError(f"{ignored[0]} does not apply with --list (it only lists the claims); drop it")
        listed = [get_claim(cid) for cid in args.claims] or all_claims()
        if args.json:      # --list --json printed the table
            print(json.dumps([c.summary() for c in listed], indent=1, ensure_ascii=False))
        else:
            print(claims_table(listed))
        return 0
    profile = args.profile or current_profile()
    for cid in args.claims:
        get_claim(cid)  # unknown ids: exit 2 before any work
    load_constants()    # a bad $EOSCHECK_FITTED_CONSTANTS: exit 2 before any work
    from ..outputs import REPORT_FORMAT, atomic_write, check_output_file, witness_folder

    if args.output:
        check_output_file(args.output, report=True)
    # before any search: a falsification is never lost for its folder
    args.counterexamples = str(witness_folder(args.counterexamples, SAVE_DEFAULT, "--counterexamples"))
    t0 = time.perf_counter()

    def progress(rep):
        print(f"  {rep.id:34s} {rep.shown_verdict:11s} {rep.seconds:6.1f}s", file=sys.stderr, flush=True)

    print(f"eoscheck check: profile {profile}" + f", seed {seed_in_use(args.seed)}",
          file=sys.stderr)
    reports = run_claims(args.claims or None, profile, args.seed, args.counterexamples, progress)
    from ..provenance import provenance

    prov = provenance("cpu", seed_in_use(args.seed), getattr(args, "_argv", None))
    payload = {"format": REPORT_FORMAT, "profile": profile, "seed": seed_in_use(args.seed),
               "seconds": time.perf_counter() - t0,
               "bounds": "eoscheck.bounds", "provenance": prov,
               "claims": [r.to_json() for r in reports]}
    text = json.dumps(payload, indent=1) + "\n"
    if args.output:
        atomic_write(Path(args.output), text)
    bad = [r for r in reports if r.verdict in ("FALSIFIED", "error")]
    trend = [r for r in reports if r.verdict == "TREND"]
    code = 1 if bad else (3 if args.strict and trend else 0)
    if args.json:
        print(text, end="")
        return code
    print(report_table(reports))
    loose = [r for r in reports if r.best_constant is not None and r.best_meaning]
    if loose:
        print("\nhow loose (the best constant that would still hold, over the examples seen):")
        for r in loose:
            print(f"  {r.id:32s} {r.best_constant:.4g}  = {r.best_meaning}")
    notes = [r for r in reports if r.message and r.verdict in ("FALSIFIED", "error", "TREND", "warning",
                                                                "unavailable", "undecided")]
    for r in notes:
        print(f"\n{r.id} [{r.verdict}]: {r.message}")
        if r.counterexample_file:
            print(f"  counterexample saved: {r.counterexample_file} (eoscheck replay {r.counterexample_file})")
    held = sum(r.shown_verdict == "holds" for r in reports)
    outside = sum(r.shown_verdict == "trend only" for r in reports)
    # every claim is counted once: the rest (undecided, unavailable, warning) by its verdict
    counted = {"holds", "trend only", "FALSIFIED", "error", "TREND"}
    rest = Counter(r.shown_verdict for r in reports if r.shown_verdict not in counted)
    print(f"\n{held} of {len(reports)} claims hold"
          + (f", {outside} trend only (hold outside their theorem's hypotheses)" if outside else "")
          + f", {len(bad)} falsified/errored, {len(trend)} TREND"
          + "".join(f", {k} {v}" for v, k in sorted(rest.items())) + "; "
          f"{time.perf_counter() - t0:.0f} s" + (f"; JSON: {args.output}" if args.output else ""))
    return code
