"""``eoscheck fit``: recalibrate the fitted constants of the asymptotic claims (writes fitted_constants.json)."""

from __future__ import annotations

import sys

from tabulate import tabulate

NAME = "fit"
HELP = "recalibrate the fitted constants of the asymptotic claims into properties/fitted_constants.json"


def add_arguments(p) -> None:
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="asymptotic claim ids (default: all)")
    p.add_argument("--out", metavar="FILE", help="constants file (default: the package's fitted_constants.json)")
    p.add_argument("--dry-run", action="store_true", help="print the constants without writing them")


def run(args) -> int:
    from .._errors import EoscheckError
    from ..properties.claims import all_claims, get_claim
    from ..properties.fitted import calibrate, save_constants

    claims = [get_claim(i) for i in args.claims] if args.claims else [
        c for c in all_claims() if c.kind == "asymptotic" and c.unavailable is None]
    for c in claims:
        if c.fit is None or c.unavailable:
            raise EoscheckError(f"{c.id} has no fitted constant (it is {c.kind}"
                                f"{'; unavailable' if c.unavailable else ''})")
    records, rows = {}, []
    for c in claims:
        print(f"  calibrating {c.id} ...", file=sys.stderr, flush=True)
        rec = calibrate(c)
        records[c.id] = rec
        rows.append([c.id, rec["constant_name"], f"{rec['value']:.4g}", rec["envelope"], rec["points"],
                     rec["worst_instance"][:60], f"{rec['seconds']:.1f}"])
    print(tabulate(rows, headers=["claim", "constant", "value", "envelope", "points", "attained at", "s"]))
    if not args.dry_run:
        path = save_constants(records, args.out)
        print(f"wrote {path}")
    return 0
