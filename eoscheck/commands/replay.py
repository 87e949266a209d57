"""``eoscheck replay FILE``: re-run a saved counterexample and re-check its claim or conjecture.

Exit 1 when the violation reproduces, 0 when the claim now holds on that instance, 2 for a bad file.
"""

from __future__ import annotations

import json

NAME = "replay"
HELP = "re-run a saved counterexample file and re-check it (exit 1 if the violation reproduces)"


def add_arguments(p) -> None:
    p.add_argument("file", metavar="FILE", help="a counterexample .json written by check or conjecture")
    p.add_argument("--json", action="store_true", help="print the result as JSON to stdout")
    p.add_argument("-o", "--output", metavar="FILE", help="also write the result as JSON to FILE")


def run(args) -> int:
    from ..outputs import REPORT_FORMAT, atomic_write, check_output_file
    from ..properties.claims import compared_text
    from ..properties.replay import replay

    if args.output:
        check_output_file(args.output, report=True)
    res = replay(args.file)
    from ..provenance import provenance

    text = json.dumps({"format": REPORT_FORMAT, **res.to_json(),
                       "provenance": provenance("cpu", None, getattr(args, "_argv", None))},
                      indent=1) + "\n"
    if args.output:
        atomic_write(args.output, text)
    if args.json:
        print(text, end="")
        return 1 if res.reproduced else 0
    print(f"{res.kind}: {res.subject}")
    print(f"instance: {res.instance}")
    if res.fitted:
        fitted = ", ".join(f"{k} = {v:.6g}" for k, v in res.fitted.items())
        print(f"checked with the fitted constants {fitted} in EXPR and margin {res.margin:g}")
    elif res.constant != 1.0 or res.margin:
        print(f"checked with constant {res.constant:.6g} and margin {res.margin:g}")
    if res.reproduced:
        p = res.point or {}
        extra = ", ".join(f"{k}={v:.6g}" if isinstance(v, float) else f"{k}={v}" for k, v in p.items()
                          if k not in ("measured", "bound", "ratio", "allowance"))
        same = "bit for bit" if res.identical else "values differ from the recorded ones"
        compared = compared_text(p, res.direction, res.constant, res.margin, digits=17,
                                 name="EXPR" if res.kind == "conjecture" else "shape")
        print(f"REPRODUCED ({same}): {compared} ({extra})")
        return 1
    print("NOT reproduced: the claim holds on this instance with this eoscheck version")
    return 0
