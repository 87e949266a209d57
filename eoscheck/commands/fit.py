"""``eoscheck fit``: recalibrate the fitted constants of the asymptotic claims into a file of yours.

The package's ``properties/fitted_constants.json`` is never written: ``--output FILE`` (default
``./fitted_constants.json``) receives the constants in use merged with the new ones, and
``EOSCHECK_FITTED_CONSTANTS=FILE eoscheck check`` checks with them.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

from tabulate import tabulate

NAME = "fit"
HELP = "recalibrate the fitted constants of the asymptotic claims into a constants file (--output)"


def add_arguments(p) -> None:
    p.add_argument("claims", nargs="*", metavar="CLAIM", help="asymptotic claim ids (default: all)")
    p.add_argument("-o", "--output", metavar="FILE", default="fitted_constants.json",
                   help="constants file to write (default ./fitted_constants.json; use it with "
                        "EOSCHECK_FITTED_CONSTANTS=FILE eoscheck check)")
    p.add_argument("--json", action="store_true", help="print the new records as JSON to stdout (no table)")
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
    from ..outputs import check_output_file

    out = Path(args.output)
    if not args.dry_run:
        from ..properties.fitted import refuse_package_file

        refuse_package_file(out)        # before the calibration's minutes, not after
        check_output_file(out)
        if out.is_file():               # merged into after the calibration: a file that is not one is refused now
            from ..properties.fitted import load_constants

            load_constants(out)
    records, rows = {}, []
    for c in claims:
        print(f"  calibrating {c.id} ...", file=sys.stderr, flush=True)
        rec = calibrate(c)
        records[c.id] = rec
        rows.append([c.id, rec["constant_name"], f"{rec['value']:.4g}", rec["envelope"], rec["points"],
                     rec["worst_instance"][:60], f"{rec['seconds']:.1f}"])
    if args.json:
        from ..properties.numerics import jsonable

        print(json.dumps(jsonable(records), indent=1))
    else:
        print(tabulate(rows, headers=["claim", "constant", "value", "envelope", "points", "attained at", "s"]))
    if not args.dry_run:
        path = save_constants(records, out)
        print(f"wrote {path} (check with it: EOSCHECK_FITTED_CONSTANTS={path} eoscheck check)", file=sys.stderr)
    return 0
