"""``eoscheck audit-loss``: which conditions of Assumption 3 a loss satisfies, and what the theory promises.

``eoscheck audit-loss "log(1+exp(-z))"`` (a formula in the margin z, parsed safely — never
evaluated as Python; see :mod:`eoscheck.expr` for the syntax, including
``where(z > 0, exp(-a*z), 1 - a*z)`` and ``piecewise(...)``) or a built-in name
(``logistic``, ``flat_poly:a=2``), with parameters ``--param a=2``.  Prints a table of the
checks (pass / fail / undetermined, constant, method, witness), the constants C_g, C_β, C_e,
ρ and ψ, the results that apply, Table 1's prediction, and with ``--eta --n --gamma --T`` the
Theorem 35 bounds at those values; ``--json`` prints everything as JSON; ``--run`` also runs GD on
the digits 0-vs-8 data and compares the trajectory with the bounds.

Exit code: 0 when A–C hold (a failing D is reported but does not matter), 1 when one of A–C
fails (named, with a witness), 3 when none fails but one could not be established, 2 for invalid
input.
"""

from __future__ import annotations

import json

from .._errors import EoscheckError, TooBig
from ._arguments import count_at_least, finite_float

NAME = "audit-loss"
HELP = ("audit a loss against Assumption 3: checks, constants C_g/C_β/C_e, ρ, what Theorem 35 promises; "
        "exit 0 when A–C hold, 1 when one fails (with a witness), 3 when one is undetermined")


def add_arguments(p) -> None:
    p.add_argument("expr", metavar="EXPR",
                   help='a formula in z, e.g. "log(1+exp(-z))", "where(z > 0, (1+z)**(-a), 1 - a*z)", '
                        "or a built-in loss: logistic, exponential, flat_exp, flat_poly, poly_tail (flat_poly:a=2)")
    p.add_argument("--param", action="append", default=[], metavar="NAME=VALUE",
                   help="a parameter of the formula (repeatable), e.g. --param a=2")
    p.add_argument("--json", action="store_true", help="print the full report as JSON")
    p.add_argument("--eta", type=finite_float, help="stepsize η for the instantiated bounds")
    p.add_argument("--n", type=count_at_least(1), help="number of samples n")
    p.add_argument("--gamma", type=finite_float, help="margin γ")
    p.add_argument("--T", type=count_at_least(1), dest="T", help="number of steps T")
    p.add_argument("--run", action="store_true",
                   help="also run GD with this loss on digits 0-vs-8 (normalized) and compare with the bounds")
    p.add_argument("--run-etas", type=finite_float, nargs="+", metavar="ETA",
                   help="stepsizes for --run (default: 1 10 100)")
    p.add_argument("--run-steps", type=count_at_least(1), metavar="T", help="steps for --run (default: 2000)")
    p.add_argument("--search-range", type=finite_float, default=1e3, metavar="R",
                   help="numeric searches cover at least [-R, R] (default 1000, the minimum)")
    p.add_argument("--symbolic-timeout", type=finite_float, default=3.0, metavar="S",
                   help="CPU seconds per sympy question (sympy can hang; default 3; CPU time, so load does not change it)")
    p.add_argument("--no-symbolic", action="store_true", help="numeric checks only")


def parse_params(items: list[str]) -> dict[str, float]:
    """``["a=2", "b=0.5"]`` → ``{"a": 2.0, "b": 0.5}`` (EoscheckError for anything else)."""
    from ..expr import param_value

    out: dict[str, float] = {}
    for item in items:
        key, eq, val = item.partition("=")
        key = key.strip()
        if not eq or not key:
            raise EoscheckError(f"--param takes NAME=VALUE, got {item!r}")
        if key in out:
            raise EoscheckError(f"--param {key} given twice")
        try:
            float(val)
        except ValueError:
            raise EoscheckError(f"--param {key}: {val.strip()!r} is not a number") from None
        out[key] = param_value(key, val)
    return out


def _check_args(args) -> None:
    for flag in ("eta", "gamma"):
        v = getattr(args, flag)
        if v is not None and not (v > 0 and v < float("inf")):
            raise EoscheckError(f"--{flag} must be a positive number, got {v}")
    if args.gamma is not None and args.gamma > 1:
        raise EoscheckError(f"--gamma must be ≤ 1 (Assumption 1 with ‖x‖ ≤ 1), got {args.gamma}")
    for flag in ("n", "T"):
        v = getattr(args, flag)
        if v is not None and v < 1:
            raise EoscheckError(f"--{flag} must be a positive integer, got {v}")
    for flag in ("run_etas", "run_steps"):       # given without --run they would be ignored
        if getattr(args, flag) is not None and not args.run:
            raise EoscheckError(f"--{flag.replace('_', '-')} applies with --run only; add --run or drop it")
    if args.run_etas is not None and not all(e > 0 and e < float("inf") for e in args.run_etas):
        raise EoscheckError("--run-etas must be positive numbers")
    if not args.symbolic_timeout > 0:
        raise EoscheckError("--symbolic-timeout must be positive")


def run(args) -> int:
    if not args.no_symbolic:      # the sympy server imports while this process imports the auditor
        from ..sympyserver import server

        server()
    from ..audit import RUN_ETAS, RUN_STEPS, audit_loss, compare_with_gd, run_lines
    from ..audit.format import witness_text
    from ..expr import parse_loss

    _check_args(args)
    loss = parse_loss(args.expr, parse_params(args.param))
    report = audit_loss(loss, search_range=args.search_range, symbolic=not args.no_symbolic,
                        symbolic_timeout=args.symbolic_timeout, eta=args.eta, n=args.n, gamma=args.gamma, T=args.T)
    gd = None
    if args.run:
        try:
            gd = compare_with_gd(report, etas=args.run_etas or RUN_ETAS, steps=args.run_steps or RUN_STEPS)
        except TooBig as err:   # its remedy in this command's options, not run's (--grid, --steps)
            raise EoscheckError(f"{err.need}; use fewer --run-steps or --run-etas") from None
    if args.json:
        from ..provenance import provenance

        out = report.to_dict()
        if gd is not None:
            out["run"] = gd
        out["provenance"] = provenance("cpu", None, getattr(args, "_argv", None))
        from ..audit import jsonable

        print(json.dumps(jsonable(out), indent=2, allow_nan=False))
    else:
        print(report.summary())
        if gd is not None:
            print()
            print("\n".join(run_lines(gd)))
        failed = report.failures
        print()
        if report.exit_code == 0:
            d = report.holds("D")
            print("Assumptions 3A–3C hold: the stable-phase theory (Theorem 35) applies." +
                  ("" if d else " (3D does not hold: no exponential-tail τ.)" if d is False else
                   " (3D undetermined: no exponential-tail τ from this audit.)"))
        elif failed:
            names = ", ".join(f"{r.name} (witness z={witness_text(r.witness)})" if r.witness is not None else r.name
                              for r in failed if r.spec.letter in "ABC")
            print(f"Assumption 3A–3C not satisfied: {names or 'see the table'}")
        else:
            print("Assumption 3A–3C could not be established (undetermined checks above).")
    return report.exit_code
