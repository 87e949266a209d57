"""The audit: ℓ against Assumption 3, check by check, and what the theory then promises."""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping

import sympy as sp

from .._errors import EoscheckError
from ..compiler import MP_DPS_MAX
from ..expr import real_number, time_limit
from ..losses import Loss
from . import constants as BCD
from . import regularity as A
from .evaluate import Evaluator
from .facts import PREPARE_SECONDS, Context, Facts
from .format import fmt
from .promises import promises
from .results import CHECK_NAMES, AuditReport, CheckResult
from .search import Searcher, grid
from .simplify import Piece, as_float, audited_forms, split_pieces, stabilize
from .symbolic import SymbolicPool


#: The widest --search-range: [−R, R]'s grid spacing 2R/n overflowed float64 at R = 1e308 (NaN grid points).
MAX_SEARCH_RANGE = 1e300


def audit_loss(
    loss: Loss | str,
    *,
    search_range: float = 1e3,
    symbolic: bool = True,
    symbolic_timeout: float = 3.0,
    symbolic_budget: float = 40.0,
    eta: float | None = None,
    n: int | None = None,
    gamma: float | None = None,
    T: int | None = None,
    theory: bool = True,
) -> AuditReport:
    """Audit ``loss`` against Assumption 3 (Wu et al., COLT 2024, §5) and say what the theory promises.

    Args:
      loss: a :class:`~eoscheck.losses.Loss`, a built-in name (``"flat_poly:a=2"``) or a formula in z
        (parsed safely by :func:`eoscheck.expr.parse_loss`).
      search_range: R; numeric searches cover at least [−R, R] (R ≥ 1e3 enforced).
      symbolic: use sympy (in time-limited child processes); False = numeric only.
      symbolic_timeout: CPU seconds per sympy question; symbolic_budget: CPU seconds for all of them
        (CPU time of the sympy children, so another process's load does not change what sympy decides).
      eta, n, gamma, T: instantiate the bounds of Theorem 35 for these values (part 3).
      theory: compute part 3 (ρ, ψ, applicable results, Table 1); False skips it (faster).
    """
    t0 = time.perf_counter()
    loss = _as_loss(loss)
    R = float(search_range)
    if not (math.isfinite(R) and 1e3 <= R <= MAX_SEARCH_RANGE):
        raise EoscheckError(f"search_range (--search-range) must lie in [1000, {MAX_SEARCH_RANGE:g}], got {search_range} "
                            "(the grid's spacing 2R/n must stay a float64)")
    for name, v in (("symbolic_timeout", symbolic_timeout), ("symbolic_budget", symbolic_budget)):
        if not (isinstance(v, (int, float)) and not isinstance(v, bool) and math.isfinite(v) and v > 0):
            raise EoscheckError(f"{name} must be a positive number of CPU seconds, got {v!r}")
    notes: list[str] = []
    sym = SymbolicPool(timeout=symbolic_timeout, budget=symbolic_budget, enabled=symbolic)
    with time_limit(PREPARE_SECONDS, "preparing the formula (sympy derivatives)"):
        pw, d1, d2 = audited_forms(loss.expr)

    # splitting ℓ into its pieces reads the definition (not a decision): done even when symbolic=False
    pieces = sym.ask({"pieces": lambda: split_pieces(pw)}, force=True)["pieces"]
    if pieces is not None:  # unpickling re-evaluates erfc(−x) into 2 − erfc(x): undo it
        pieces = [Piece(stabilize(p.expr), p.lo, p.hi, p.lo_closed, p.hi_closed) for p in pieces]
    try:
        breaks = sorted({as_float(p.lo) for p in pieces or [] if p.lo.is_finite} |
                        {as_float(p.hi) for p in pieces or [] if p.hi.is_finite})
    except ValueError as err:
        raise EoscheckError(f"a breakpoint of the formula is not a real number: {err}") from None
    Z = grid(R, breaks)
    ev = Evaluator(loss, (pw, d1, d2))
    facts = Facts(sym, pieces, pw, d1, d2, ev)
    try:
        return _audit(loss, R, Z, sym, ev, facts, notes, t0, symbolic, symbolic_timeout, theory,
                      dict(eta=eta, n=n, gamma=gamma, T=T))
    finally:
        facts.close()  # no sympy child outlives the audit


def _audit(loss, R, Z, sym, ev, facts, notes, t0, symbolic, symbolic_timeout, theory, params) -> AuditReport:
    facts.ask_basic()  # sympy works in children while the numeric side calibrates
    facts.prefetch([("g/l", "+")])
    facts.prefetch([("l/g", "+")])
    facts.prefetch([("quad(1)", "+"), ("quad(-1)", "+")])
    ev.calibrate(Z[::12])
    if ev.unreliable_fraction > 0:
        notes.append(f"float64 ({ev.path}) disagrees with high precision or under/overflows on "
                     f"{100 * ev.unreliable_fraction:.0f}% of the sample; those points are computed in mpmath")
    facts.collect_basic()
    search = Searcher(ev, R, facts, notes)
    ctx = Context(loss, R, Z, ev, facts, search, notes)

    checks: dict[str, CheckResult] = {}
    for name, fn in _CHECK_FUNCS.items():
        checks[name] = fn(ctx, checks)
    checks = {k: checks[k] for k in CHECK_NAMES}
    if sym.timed_out:
        notes.append(f"sympy ran out of its CPU time ({symbolic_timeout:g} s a question) on: "
                     + ", ".join(sorted(set(sym.timed_out))) + " (decided numerically)")
    if sym.starved:
        notes.append("sympy was blocked (not computing) past its wall-clock cap on: "
                     + ", ".join(sorted(set(sym.starved))) + " (decided numerically)")
    for why in sorted(set(sym.lost.values())):
        notes.append(f"sympy did not answer {', '.join(sorted(k for k, w in sym.lost.items() if w == why))}: {why} "
                     "(decided numerically)")
    close = {k: u for k, u in sym.used.items() if u > symbolic_timeout / 3}
    if close:
        worst = max(close, key=close.get)
        notes.append(f"sympy answered {', '.join(sorted(close))} in over a third of its {symbolic_timeout:g} CPU s "
                     f"({worst}: {close[worst]:.2g} s): on a CPU ≥ {symbolic_timeout / close[worst]:.2g}× slower, or "
                     "with a smaller --symbolic-timeout, it would not, and the checks it decides would go numeric "
                     "(a verdict may then be undetermined); --symbolic-timeout raises the limit")
    if ev.imprecise:
        notes.append(f"{len(ev.imprecise)} high-precision evaluations did not settle at {MP_DPS_MAX} digits "
                     f"(e.g. z={fmt(ev.imprecise[0])})")
    ranged = [k for k in ("A.convex", "A.nonincreasing", "A.nonnegative")
              if checks[k].passed and checks[k].method == "numeric"]
    if ranged:
        notes.append(f"{', '.join(ranged)} passed numerically on [−{R:g}, {R:g}] only: a failure beyond it is not seen "
                     f"(--search-range widens the search; {facts.no_answer('sympy did not decide them')})")
    searched = [k for k in ("B.lipschitz", "C.self_bounded", "C.quadratic", "D.exp_tail")
                if checks[k].status == "pass" and "numeric" in checks[k].method]
    if searched:   # a sup found numerically is the largest value seen, a lower estimate of the true sup
        notes.append(f"the constants of {', '.join(searched)} are the largest values found on a grid of [−{R:g}, {R:g}] "
                     "(refined near its maxima) and the limits at ±∞: a narrow peak between grid points or a larger "
                     "value beyond the range is not seen (a larger --search-range widens the grid)")
    constants = _constants(checks, loss)
    report = AuditReport(
        loss=loss, checks=checks, constants=constants, paper=_paper_comparison(loss, constants), notes=notes,
        settings={"search_range": R, "symbolic": symbolic, "symbolic_timeout": symbolic_timeout,
                  "grid_points": int(len(Z)), "evaluation": ev.path, "mp_evaluations": ev.mp_calls},
    )
    if theory:
        report.promises = promises(report, **params, symbolic=symbolic, symbolic_timeout=max(10.0, symbolic_timeout))
    report.elapsed_s = time.perf_counter() - t0
    return report



#: The checks in the order they run (later checks use earlier results).
_CHECK_FUNCS: dict[str, Callable[[Context, dict], CheckResult]] = {
    "A.C1": A.check_c1,
    "A.C2": A.check_c2,
    "A.convex": A.check_convex,
    "A.vanishes_at_infinity": A.check_vanishes,
    "A.nonincreasing": A.check_nonincreasing,
    "A.nonnegative": A.check_nonnegative,
    "B.lipschitz": BCD.check_lipschitz,
    "C.self_bounded": BCD.check_self_bounded,
    "C.quadratic": BCD.check_quadratic,
    "D.exp_tail": BCD.check_exp_tail,
}


def _constants(checks: dict[str, CheckResult], loss: Loss) -> dict[str, float | None]:
    def val(name):
        r = checks[name]
        return r.constant if r.passed else None

    cb1, cb2 = val("C.self_bounded"), val("C.quadratic")
    return {
        "C_g": val("B.lipschitz"),
        "C_beta_self": cb1,
        "C_beta_quad": cb2,
        "C_beta": max(cb1, cb2) if cb1 is not None and cb2 is not None else None,
        "C_e": val("D.exp_tail"),
        "ell0": _ell0(loss),
    }


def _ell0(loss: Loss) -> float | None:
    """ℓ(0) as a float, None where it is not a finite real number (e.g. log z)."""
    try:
        v = loss.ell0
    except (TypeError, ValueError, ZeroDivisionError):
        return None
    return v if math.isfinite(v) else None


#: The loss families Proposition 5 states constants for.
PROP5_FAMILIES = ("logistic", "flat_exp", "flat_poly")


def _paper_comparison(loss: Loss, constants: Mapping[str, float | None]) -> list[dict[str, Any]]:
    """For each constant the paper states (Prop. 5; for other built-ins, the constants the loss states): is it valid,
    i.e. ≥ the smallest constant found?"""
    out = []
    source = "paper (Prop. 5)" if loss.family in PROP5_FAMILIES else "stated (Prop. 5 has no row for this loss)"
    for key, stated in (loss.paper_constants or {}).items():
        found = constants.get(key)
        if stated is None:
            out.append({"constant": key, "paper": "fails", "found": fmt(found) if found is not None else "fails",
                        "valid": found is None, "source": source})
            continue
        sv = real_number(sp.S(stated))    # None where plain floats cannot say (flat_exp, a = 1e-100: a·e^a/2)
        ok = None if found is None or sv is None else bool(found <= sv * (1 + 1e-9))
        out.append({"constant": key, "paper": sp.sstr(stated) + (f" ≈ {sv:.6g}" if sv is not None else ""),
                    "found": fmt(found) if found is not None else "—", "valid": ok, "source": source})
    return out



def _as_loss(loss) -> Loss:
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        from ..expr import parse_loss

        return parse_loss(loss)
    raise EoscheckError(f"audit_loss takes a Loss or a string, got {type(loss).__name__}")


