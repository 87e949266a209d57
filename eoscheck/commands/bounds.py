"""``eoscheck bounds``: list the theory's bounds, or evaluate one at given parameters.

``eoscheck bounds`` lists every bound (id, kind, source, formula); ``eoscheck bounds ID`` shows one
(statement, assumptions, domain, the values it needs);
``eoscheck bounds ID --eta 100 --n 1000 --gamma 0.1 --t 1000 [--loss NAME]``
evaluates one and says whether the parameters lie in its domain of validity;
``--latex`` prints LaTeX statements, ``--json`` machine-readable output, and
``--table1`` the Table 1 rows derived from Theorem 6.
"""

from __future__ import annotations

import json
import math

from tabulate import tabulate

from .._errors import DivergenceError, EoscheckError
from ._arguments import finite_float, number

NAME = "bounds"
HELP = "list the theory's bounds, or evaluate one (eoscheck bounds ID --eta 100 --n 1000 --gamma 0.1 --t 1000)"

#: CLI flag → symbol name.
_FLAGS = {"eta": "eta", "n": "n", "gamma": "gamma", "t": "t", "s": "s", "T": "T"}


def add_arguments(p) -> None:
    p.add_argument("id", nargs="?", help="bound id, e.g. thm1.eos_average (omit to list all)")
    p.add_argument("--eta", type=finite_float, help="stepsize η")
    p.add_argument("--n", type=finite_float, help="number of samples n")
    p.add_argument("--gamma", type=finite_float, help="margin γ")
    p.add_argument("--t", type=finite_float, dest="t", help="step t")
    p.add_argument("--s", type=finite_float, dest="s", help="step s where the stable condition holds")
    p.add_argument("--T", type=finite_float, dest="T", help="step budget T")
    p.add_argument("--loss", help="loss for bounds with ρ or loss constants, e.g. logistic, flat_poly:a=2")
    p.add_argument("--set", action="append", default=[], metavar="NAME=VALUE",
                   help="any other parameter or constant: F_s, L_s, delta, C_a, m, lambda_max, C1, C2, c0, ...")
    p.add_argument("--kind", help="list only bounds of this kind (upper, lower, threshold, implication, time, ...)")
    p.add_argument("--latex", action="store_true", help="print LaTeX statements")
    p.add_argument("--json", action="store_true", help="print JSON on stdout")
    p.add_argument("--table1", action="store_true", help="print Table 1 as derived from Theorem 6 (takes ~15 s)")


def _parse_set(items: list[str]) -> dict[str, float]:
    from ..bounds.symbols import SYMBOLS

    out = {}
    for item in items:
        name, eq, val = item.partition("=")
        name = name.strip()
        if not eq or not name:
            raise EoscheckError(f"--set takes NAME=VALUE, got {item!r}")
        if name in out:
            raise EoscheckError(f"--set {name} given twice; give it once")
        out[name] = number(val.strip(), f"--set {name}:")
        if name not in SYMBOLS:
            raise EoscheckError(f"--set: unknown parameter {name!r}; known: {', '.join(sorted(SYMBOLS))}")
    return out


def _flag(name: str) -> str:
    return f"--{name}" if name in _FLAGS else f"--set {name}=VALUE"


def _values(args) -> dict[str, float]:
    vals = {sym: getattr(args, flag) for flag, sym in _FLAGS.items() if getattr(args, flag) is not None}
    for sym, v in _parse_set(args.set).items():
        if sym in vals and vals[sym] != v:     # --eta 16 --set eta=3 used 3 without a word
            raise EoscheckError(f"{sym} given twice (--{next(f for f, s in _FLAGS.items() if s == sym)} {vals[sym]:g} "
                                f"and --set {sym}={v:g}); give it once")
        vals[sym] = v
    return vals


def _check_ranges(vals: dict, args) -> None:
    """A value outside its parameter's own range (η ≤ 0, γ > 1, t < 1, a potential ≤ 0) is a usage error; a bound's
    other conditions (γ²ηt ≥ 1) are its domain, reported with its value."""
    from ..bounds.symbols import SYMBOLS, outside_range, range_text

    for k, v in vals.items():
        if k in SYMBOLS and outside_range(k, v):
            flag = next((f for f, sym in _FLAGS.items() if sym == k and getattr(args, f) is not None), None)
            given = f"--{flag} {_fmt(v)}" if flag else f"--set {k}={_fmt(v)}"
            raise EoscheckError(f"{given} is outside the range of {k} ({range_text(k)}: {SYMBOLS[k].description}); "
                                "give a value in that range")


def _check_inputs(b, vals: dict, loss) -> None:
    """One clear line for what is missing, in terms of the command's flags."""
    from ..bounds.rho import as_loss
    from ..bounds.symbols import LOSS_CONSTANTS, SYMBOLS

    if b.needs_loss and loss is None and not all(c in vals for c in b.loss_constants) or (b.functions and loss is None):
        raise EoscheckError(f"bound {b.id} needs a loss: give --loss (e.g. --loss logistic)")
    params = as_loss(loss).params if loss is not None else {}     # a loss parameter (flat_poly's a) comes from it
    missing = [s for s in b.symbols if s not in vals and not (s in LOSS_CONSTANTS and loss is not None) and s not in params]
    if missing:
        parts = []
        for s in missing:
            info = SYMBOLS.get(s)
            free = (info is not None and info.role == "free") or (s in b.constants and b.constants[s].free)
            what = "a free constant: the paper only says it exists" if free else (info.description if info else s)
            parts.append(f"{_flag(s)} ({what})")
        raise EoscheckError(f"bound {b.id} needs {'; '.join(parts)}")


def _list(args) -> int:
    from ..bounds import list_bounds

    bounds = list_bounds(kind=args.kind)
    if args.json:
        print(json.dumps([b.to_dict() for b in bounds], indent=2, ensure_ascii=False))
    elif args.latex:
        for b in bounds:
            print(f"% {b.id} ({b.kind}; {b.source.paper}, {b.source})")
            print(b.latex)
    else:
        rows = [(b.id, b.kind, str(b.source), b.formula) for b in bounds]
        print(tabulate(rows, headers=["id", "kind", "source", "formula"], tablefmt="simple", maxcolwidths=[None, None, 36, 70]))
        print(f"\n{len(bounds)} bounds; evaluate one with: eoscheck bounds ID --eta .. --n .. --gamma .. [--t ..]")
    return 0


def _fmt(v) -> str:
    return f"{v:.12g}" if isinstance(v, float) and math.isfinite(v) else str(v)


def _header(b, args) -> None:
    """The bound's id, kind and source, its statement (LaTeX with ``--latex``) and premise."""
    print(f"{b.id}  ({b.kind}; {b.source.paper}, {b.source})")
    print(f"  {b.latex if args.latex else b.formula}")
    if b.premise:
        from ..bounds.bound import tex_text

        print(f"  premise: {b.premise if args.latex else tex_text(b.premise)}")


def _describe(b, args) -> int:
    """``eoscheck bounds ID`` with no values: the statement, where it holds, and what evaluating it needs."""
    if args.json:
        print(json.dumps(b.to_dict(), indent=2, ensure_ascii=False))
        return 0
    _header(b, args)
    print(f"  assumptions: {b.assumptions}")
    domain = b.to_dict()["domain"]
    if domain:
        print(f"  domain: {', '.join(domain)}")
    if not b.exact:
        print(f"  not exact: free constant(s) {', '.join(b.free_constants)} (the paper says Θ/O/Ω)")
    from ..bounds.symbols import LOSS_CONSTANTS

    with_loss = b.needs_loss or bool(b.functions)         # a loss gives ρ and the loss constants
    flags = [_flag(s) + (" .." if s in _FLAGS else "") for s in b.symbols if not (with_loss and s in LOSS_CONSTANTS)]
    print("  evaluate with: " + " ".join([f"eoscheck bounds {b.id}", *flags] + (["--loss NAME"] if with_loss else [])))
    return 0


def _evaluate(args) -> int:
    from ..bounds import get_bound
    from ..bounds.rho import as_loss, rho_method

    b = get_bound(args.id)
    vals = _values(args)
    if not vals and not args.loss:
        return _describe(b, args)
    loss = as_loss(args.loss) if args.loss else None
    used = set(b.symbols) | {s.name for c in b.full_domain for s in c.free_symbols}
    ignored = sorted(set(vals) - used)
    vals = {k: v for k, v in vals.items() if k in used}
    _check_ranges(vals, args)
    _check_inputs(b, vals, loss)
    shown = ", ".join(f"{k}={_fmt(v)}" for k, v in vals.items())
    try:
        value = b.evaluate(loss=loss, **vals)
        dom = b.check_domain(loss=loss, **vals)
        if value == 0 and not dom.violated:
            b.evaluate(loss=loss, check=True, **vals)   # refuses a positive value that underflowed to 0
    except (DivergenceError, OverflowError) as err:
        raise EoscheckError(f"{b.id} at {shown or 'these values'} leaves the float64 range ({err}); "
                            "give smaller values") from None
    if args.json:
        out = {"id": b.id, "kind": b.kind, "formula": b.formula, "value": value if math.isfinite(value) else str(value),
               "parameters": vals, "loss": loss.name if loss else None, "in_domain": None if dom.unchecked else not dom.violated,
               "violated": dom.violated, "unchecked": dom.unchecked, "ignored": ignored, "source": b.source.to_dict(),
               "exact": b.exact}
        print(json.dumps(out, indent=2, ensure_ascii=False))
        return 0
    _header(b, args)
    print(f"  at {shown or 'no parameters'}: {_fmt(value)}")
    if loss is not None and b.functions:
        print(f"  loss {loss.name}: ρ by {rho_method(loss)}")
    if dom.violated:
        print(f"  OUTSIDE its domain: {'; '.join(dom.violated)} fails (the bound is not proven there)")
    elif not dom.unchecked:
        print("  inside its domain")
    if dom.unchecked:
        print(f"  domain not checked: {'; '.join(dom.unchecked)}")
    if not b.exact:
        print(f"  not exact: free constant(s) {', '.join(b.free_constants)} (the paper says Θ/O/Ω)")
    if ignored:
        print(f"  ignored (not used by this bound): {', '.join(ignored)}")
    return 0


def _table1(args) -> int:
    from ..bounds import derive_table1

    tb = derive_table1()
    rows = [r.as_text() for r in tb.rows]
    if args.json:
        print(json.dumps({"rows": rows, "derivation": [str(s) for s in tb.derivation.steps], "ok": tb.derivation.ok},
                         indent=2, ensure_ascii=False))
    else:
        print(tabulate(rows, headers="keys", tablefmt="simple"))
        print(f"\nderived from Theorem 6 and the ρ asymptotics ({len(tb.derivation.steps)} steps, "
              f"{'all verified' if tb.derivation.ok else 'NOT all verified'})")
    return 0


def run(args) -> int:
    if args.latex and args.json:   # printed JSON only, without a word
        raise EoscheckError("--latex and --json are two output formats; choose one")
    given = [f"--{f}" for f in _FLAGS if getattr(args, f) is not None] + (["--set"] if args.set else []) \
        + (["--loss"] if args.loss else [])
    if args.table1:
        if args.id is not None or given or args.kind:   # each was ignored without a word
            raise EoscheckError(f"--table1 prints the whole table; drop {args.id or (given + ['--kind'])[0]}")
        return _table1(args)
    if args.id is None:
        if given:
            raise EoscheckError(f"{given[0]} evaluates one bound: give its ID, e.g. eoscheck bounds thm1.tau "
                                f"{given[0]} …")
        return _list(args)
    if args.kind:
        raise EoscheckError("--kind filters the list of bounds; drop it when giving an ID")
    return _evaluate(args)
