"""Running claims: a Hypothesis search for a counterexample, steered to the worst ratio.

:func:`search` drives Hypothesis over a strategy of instances: each example is
evaluated, ``hypothesis.target`` steers toward the largest violation score
(ln of measured/bound, see :meth:`Evaluation.scores`), the worst point seen is
kept, and the first violation is shrunk to a small, readable counterexample.
:func:`run_claim` turns that into a :class:`ClaimReport` (exact claims) or
hands asymptotic claims to :mod:`eoscheck.properties.fitted`.

Shrinking re-runs GD for every candidate, so it has a time budget
(:data:`SHRINK_SECONDS`); past it, new candidates are declared passing without
running, and the smallest failing instance found so far is the counterexample.
"""

from __future__ import annotations

import math
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

import numpy as np
from hypothesis import example as hexample, given, seed as hseed, target

from .claims import Claim, Evaluation, all_claims, get_claim, plugin_errors
from .instances import Instance, cache_stats, single_thread
from .numerics import jsonable
from .profiles import budget, claim_settings, current_profile

#: Seconds granted to shrinking a counterexample (profile-independent).
SHRINK_SECONDS = 60.0

#: "TREND": not falsified, but a scaling ladder's ratio trends toward violation (evidence, no witness).
VERDICTS = ("holds", "FALSIFIED", "TREND", "warning", "undecided", "unavailable", "error")


class _Violation(Exception):
    """Raised inside the Hypothesis test when an instance violates the claim."""


@dataclass
class SearchResult:
    """What a search saw: examples, points, the worst point and the (shrunk) counterexample."""

    examples: int = 0
    points: int = 0
    inconclusive: int = 0
    worst_score: float = -math.inf
    worst_point: dict | None = None
    worst_instance: Instance | None = None
    counterexample: Instance | None = None
    counterexample_point: dict | None = None
    best_values: list = field(default_factory=list)
    best_meaning: str = ""
    best_reduce: str = "max"
    notes: list = field(default_factory=list)
    evaluations: list = field(default_factory=list)

    @property
    def best(self) -> float | None:
        vals = [v for v in self.best_values if np.isfinite(v)]
        if not vals:
            return None
        return float(min(vals) if self.best_reduce == "min" else max(vals))


def search(strategy, evaluate: Callable[[Instance], Evaluation], hyp_settings, *,
           constant: float = 1.0, margin: float = 0.0, label: str = "claim", seed: int | None = None,
           keep: bool = False, shrink_seconds: float = SHRINK_SECONDS, explicit: list | None = None
           ) -> SearchResult:
    """Search ``strategy`` for an instance whose evaluation breaks measured ≤ C·bound·(1+margin).

    Returns the :class:`SearchResult`; ``counterexample`` is set when one was found
    (shrunk within ``shrink_seconds``).  With ``keep`` every evaluation is kept.
    ``explicit`` instances are tried first (Hypothesis ``@example``s, e.g. canonical cases).
    """
    res = SearchResult()
    memo: dict[str, tuple[Instance, Evaluation, bool]] = {}
    clock = {"first_fail": None}

    def run_example(inst: Instance) -> None:
        key = inst.key() + repr(sorted(inst.extra.items()))
        if key in memo:
            _, ev, bad = memo[key]
        else:
            ff = clock["first_fail"]
            if ff is not None and time.perf_counter() - ff > shrink_seconds:
                return  # shrink budget spent: unseen candidates pass unevaluated
            ev = evaluate(inst)
            bad = not ev.holds(constant, margin)
            memo[key] = (inst, ev, bad)
            _record(res, inst, ev, constant, keep)
        if ev.size:
            sc = ev.scores(constant)
            sc = sc[np.isfinite(sc)]
            if sc.size:
                target(float(sc.max()), label=label)
        if bad:
            if clock["first_fail"] is None:
                clock["first_fail"] = time.perf_counter()
            res.counterexample = inst
            viol = np.flatnonzero(ev.violations(constant, margin))
            i = int(viol[np.argmax(ev.scores(constant)[viol])])
            res.counterexample_point = ev.point(i)
            raise _Violation(inst.describe())

    test = given(strategy)(run_example)
    for inst in reversed(explicit or []):
        test = hexample(inst)(test)
    test = hyp_settings(test)
    if seed is not None:
        test = hseed(seed)(test)
    try:
        test()
    except _Violation:
        pass
    return res


def _record(res: SearchResult, inst: Instance, ev: Evaluation, constant: float, keep: bool) -> None:
    res.examples += 1
    res.points += ev.size
    res.inconclusive += ev.inconclusive
    res.notes.extend(n for n in ev.notes if n not in res.notes)
    if ev.best is not None:
        res.best_values.extend(np.atleast_1d(ev.best).tolist())
        res.best_meaning, res.best_reduce = ev.best_meaning, ev.best_reduce
    if keep:
        res.evaluations.append((inst, ev))
    i = ev.worst_index(constant)
    if i is not None:
        sc = float(ev.scores(constant)[i])
        if not np.isfinite(sc) and np.isnan(sc):
            sc = math.inf
        if sc > res.worst_score or res.worst_point is None:
            res.worst_score = sc
            res.worst_point = ev.point(i)
            res.worst_instance = inst


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------


@dataclass
class ClaimReport:
    """The outcome of checking one claim (a row of ``eoscheck check``'s table)."""

    id: str
    title: str
    source: str
    kind: str
    verdict: str
    examples: int = 0
    points: int = 0
    inconclusive: int = 0
    worst_ratio: float | None = None
    worst_point: dict | None = None
    worst_instance: str | None = None
    best_constant: float | None = None
    best_meaning: str = ""
    fitted_constant: float | None = None
    constant_name: str | None = None
    slopes: dict = field(default_factory=dict)
    counterexample: dict | None = None
    counterexample_file: str | None = None
    message: str = ""
    seconds: float = 0.0
    profile: str = "ci"

    @property
    def falsified(self) -> bool:
        return self.verdict == "FALSIFIED"

    def slope_text(self) -> str:
        parts = []
        for p, s in self.slopes.items():
            if s.get("predicted") is not None:
                parts.append(f"{p}: {s['observed']:.2f} vs {s['predicted']:.2f}")
            elif s.get("ratio_slope") is not None:
                parts.append(f"{p}: {s['ratio_slope']:+.2f}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def run_claim(c: Claim | str, profile: str | None = None, seed: int | None = None,
              save_dir: str | None = None, shrink_seconds: float = SHRINK_SECONDS) -> ClaimReport:
    """Check one claim under a profile; save a counterexample file into ``save_dir`` if falsified."""
    if isinstance(c, str):
        c = get_claim(c)
    profile = profile or current_profile()
    t0 = time.perf_counter()
    rep = ClaimReport(id=c.id, title=c.title, source=c.source, kind=c.kind, verdict="holds", profile=profile)
    if c.unavailable:
        rep.verdict, rep.message = "unavailable", c.unavailable
        return rep
    try:
        with single_thread():
            if c.kind == "asymptotic":
                from .fitted import check_asymptotic

                check_asymptotic(c, profile, seed, rep, shrink_seconds)
            else:
                b = budget(profile)
                res = search(c.strategy(b), c.evaluate, claim_settings(c, profile, seeded=seed is not None),
                             label=c.id, seed=seed,
                             shrink_seconds=shrink_seconds, explicit=c.explicit(b) if c.explicit else None)
                fill_report(rep, res, c)
    except Exception as err:  # a bug in a check must show, not pass
        rep.verdict = "error"
        rep.message = f"{type(err).__name__}: {err}"
        rep.counterexample = {"traceback": traceback.format_exc(limit=6)}
    rep.seconds = time.perf_counter() - t0
    if rep.falsified and save_dir and rep.counterexample and "instance" in rep.counterexample:
        from .replay import save_counterexample

        rep.counterexample_file = str(save_counterexample(c, rep, save_dir))
    return rep


def fill_report(rep: ClaimReport, res: SearchResult, c: Claim, constant: float = 1.0) -> None:
    """Copy a search's findings into a report and set the verdict (exact claims)."""
    rep.examples, rep.points, rep.inconclusive = res.examples, res.points, res.inconclusive
    if res.worst_point is not None:
        rep.worst_ratio = res.worst_point.get("ratio")
        rep.worst_point = res.worst_point
        rep.worst_instance = res.worst_instance.describe() if res.worst_instance else None
    rep.best_constant, rep.best_meaning = res.best, res.best_meaning
    if res.notes:
        rep.message = "; ".join(res.notes[:3])
    if res.counterexample is not None:
        rep.verdict = "warning" if c.kind == "heuristic" else "FALSIFIED"
        rep.counterexample = {"instance": res.counterexample.to_json(), "point": res.counterexample_point,
                              "description": res.counterexample.describe()}
        pt = res.counterexample_point or {}
        rep.message = (f"counterexample: {res.counterexample.describe()}; measured {pt.get('measured'):.6g} vs "
                       f"bound {pt.get('bound'):.6g}") + (f"; {rep.message}" if rep.message else "")
    elif res.points == 0:
        rep.verdict = "undecided"
        rep.message = rep.message or "no example fell in the claim's domain"


def run_claims(ids: list[str] | None = None, profile: str | None = None, seed: int | None = None,
               save_dir: str | None = None, progress: Callable[[ClaimReport], None] | None = None
               ) -> list[ClaimReport]:
    """Check the claims ``ids`` (all when ``None``) and return their reports, in registry order."""
    claims = all_claims() if not ids else [get_claim(i) for i in ids]
    out = []
    for c in claims:
        rep = run_claim(c, profile, seed, save_dir)
        out.append(rep)
        if progress:
            progress(rep)
    for mod, err in plugin_errors().items():
        out.append(ClaimReport(id=mod, title="optional claim module", source=mod, kind="-", verdict="error",
                               message=f"failed to import: {err}"))
    return out


def summary_stats() -> dict:
    return {"run_cache": cache_stats()}
