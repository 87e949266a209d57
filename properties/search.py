"""The Hypothesis search for a counterexample, steered to the worst ratio, and its report filling.

:func:`search` drives Hypothesis over a strategy of instances: each example is
evaluated, ``hypothesis.target`` steers toward the largest violation score
(ln of measured/bound, see :meth:`Evaluation.scores`), the worst point seen is
kept, and the first violation is shrunk to a small, readable counterexample.

Shrinking re-runs GD for every candidate, so it has a budget counted in evaluations
(:data:`SHRINK_ATTEMPTS`, never seconds: the reported counterexample must not depend on machine
load); past it, new candidates are declared passing without running, and the smallest failing
instance found so far is the counterexample (the verdict does not depend on it: only which failing
instance is reported).
"""

from __future__ import annotations

import contextlib
import math
import re
from dataclasses import dataclass, field
from typing import Callable

import numpy as np
from hypothesis import example as hexample, given, seed as hseed, target

from .claims import Claim, Evaluation, compared_text
from .instances import Instance


#: New instances evaluated while shrinking a counterexample (profile-independent; an evaluation is
#: one GD batch, ≈ 0.1–1 s, so this is about the former 60 s budget on an idle core).
SHRINK_ATTEMPTS = 100


class _Violation(Exception):
    """Raised inside the Hypothesis test when an instance violates the claim."""


@dataclass
class SearchResult:
    """What a search saw: examples, points, the worst point and the (shrunk) counterexample."""

    examples: int = 0
    points: int = 0
    inconclusive: int = 0
    unfalsifiable: int = 0
    #: the margin the points are judged with (a fitted claim's loosening), which :meth:`Evaluation.vacuous` needs
    margin: float = 0.0
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


@contextlib.contextmanager
def no_local_constants():
    """Hypothesis draws, besides its own special values, numbers written in the source of every
    "local" module loaded (one not under site-packages): eoscheck's own when it is installed editable
    (measured: ``fig1.plateau`` drew a 1-point dataset and warned; from a wheel install it held), the
    user's when a search runs inside their project.  A claim's examples then depend on how eoscheck
    is installed and on what else the process imported.  Inside this context Hypothesis draws from
    its own constants only (no-op where its internals differ from 6.13x–6.17x)."""
    try:
        from hypothesis.internal.conjecture import providers
        from hypothesis.internal.constants_ast import Constants

        saved = providers._get_local_constants
        cache = providers.CONSTANTS_CACHE.cache     # (type, bounds) → (global, local) permitted constants
    except (ImportError, AttributeError):
        yield
        return
    empty = Constants()
    cache.clear()
    providers._get_local_constants = lambda: empty
    try:
        yield
    finally:
        providers._get_local_constants = saved
        cache.clear()


@contextlib.contextmanager
def no_shrink_deadline():
    """Hypothesis stops shrinking after MAX_SHRINKING_SECONDS (300) of wall-clock time, so on a slow or loaded
    machine (evaluations over 3 s) a search would report a less shrunk counterexample than on a fast one.  The
    shrink budget here is a count (``shrink_attempts``); inside this context the wall-clock limit is lifted
    (no-op where Hypothesis's internals differ)."""
    try:
        from hypothesis.internal.conjecture import engine
    except ImportError:
        yield
        return
    if not hasattr(engine, "MAX_SHRINKING_SECONDS"):
        yield
        return
    saved = engine.MAX_SHRINKING_SECONDS
    engine.MAX_SHRINKING_SECONDS = math.inf
    try:
        yield
    finally:
        engine.MAX_SHRINKING_SECONDS = saved


#: The seed of a search given none.  Without one, a derandomized Hypothesis search seeds itself from the source text of
#: the test it runs (``run_example`` below), so an edit there would redraw every claim's examples.
UNSEEDED = 0


def seed_in_use(seed: int | None) -> int:
    """The Hypothesis seed a search given ``seed`` runs under: ``seed``, or :data:`UNSEEDED` for None."""
    return UNSEEDED if seed is None else int(seed)


def search(strategy, evaluate: Callable[[Instance], Evaluation], hyp_settings, *,
           constant: float = 1.0, margin: float = 0.0, label: str = "claim", seed: int | None = None,
           keep: bool = False, shrink_attempts: int = SHRINK_ATTEMPTS, explicit: list | None = None
           ) -> SearchResult:
    """Search ``strategy`` for an instance whose evaluation breaks measured ≤ C·bound·(1+margin).

    Returns the :class:`SearchResult`; ``counterexample`` is set when one was found
    (shrunk within ``shrink_attempts`` new evaluations).  With ``keep`` every evaluation is kept.
    ``explicit`` instances are tried first (Hypothesis ``@example``s, e.g. canonical cases).
    """
    res = SearchResult(margin=margin)
    memo: dict[str, tuple[Instance, Evaluation, bool]] = {}
    shrink = {"failed": False, "attempts": 0}

    def run_example(inst: Instance) -> None:
        key = inst.key() + repr(sorted(inst.extra.items()))
        if key in memo:
            _, ev, bad = memo[key]
        else:
            if shrink["failed"]:
                if shrink["attempts"] >= shrink_attempts:
                    return  # shrink budget spent: unseen candidates pass unevaluated
                shrink["attempts"] += 1
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
            shrink["failed"] = True
            res.counterexample = inst
            viol = np.flatnonzero(ev.violations(constant, margin))
            i = int(viol[np.argmax(ev.scores(constant)[viol])])
            res.counterexample_point = ev.point(i)
            raise _Violation(inst.describe())

    test = given(strategy)(run_example)
    for inst in reversed(explicit or []):
        test = hexample(inst)(test)
    test = hyp_settings(test)
    test = hseed(seed_in_use(seed))(test)
    try:
        with no_local_constants(), no_shrink_deadline():
            test()
    except _Violation:
        pass
    return res


def _record(res: SearchResult, inst: Instance, ev: Evaluation, constant: float, keep: bool) -> None:
    res.examples += 1
    res.points += ev.size
    res.inconclusive += ev.inconclusive
    res.unfalsifiable += ev.vacuous(constant, res.margin)
    for n in ev.notes:
        add_note(res.notes, n)
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



def add_note(notes: list[str], note: str) -> None:
    """Append ``note`` to ``notes``, once: a note that starts with a count ("282 point(s) set aside …") is summed
    into the one with the same words after its count."""
    m = re.match(r"(\d+) (.*)", note, re.S)
    for i, old in enumerate(notes):
        o = re.match(r"(\d+) (.*)", old, re.S)
        if m and o and o.group(2) == m.group(2):  # counted: summed, an equal count too ("2 …" twice is 4)
            notes[i] = f"{int(o.group(1)) + int(m.group(1))} {m.group(2)}"
            return
        if old == note:
            return
    notes.append(note)


def summarize_notes(notes: list[str], groups: int = 3) -> list[str]:
    """The first note of each kind (notes alike but for their parenthesised details, e.g. one per run
    with its width), the count of the others beside it; at most ``groups`` kinds."""
    kinds: dict[str, list[str]] = {}
    for n in notes:
        kinds.setdefault(re.sub(r"\([^()]*\)", "(…)", n), []).append(n)
    return [same[0] + (f" [and {len(same) - 1} more like it]" if len(same) > 1 else "")
            for same in list(kinds.values())[:groups]]


def fill_report(rep, res: SearchResult, c: Claim, constant: float = 1.0, margin: float = 0.0) -> None:
    """Copy a search's findings into a report and set the verdict (exact claims; a fitted claim passes its constant
    and margin, which its witness's message states with the limit they make)."""
    rep.examples, rep.points, rep.inconclusive = res.examples, res.points, res.inconclusive
    rep.unfalsifiable = res.unfalsifiable
    if res.worst_point is not None:
        rep.worst_ratio = res.worst_point.get("ratio")
        rep.worst_point = res.worst_point
        rep.worst_instance = res.worst_instance.describe() if res.worst_instance else None
    rep.best_constant, rep.best_meaning = res.best, res.best_meaning
    if res.notes:
        rep.message = "; ".join(summarize_notes(res.notes))
    if res.counterexample is not None:
        rep.verdict = "warning" if c.warns_only else "FALSIFIED"
        rep.counterexample = {"instance": res.counterexample.to_json(), "point": res.counterexample_point,
                              "description": res.counterexample.describe()}
        pt = res.counterexample_point or {}
        rep.message = ((f"{c.outside_hypotheses}, so not a falsification of the theorem: " if c.outside_hypotheses
                        else "") + f"counterexample: {res.counterexample.describe()}; "
                       + compared_text(pt, c.direction, constant, margin)) + (f"; {rep.message}" if rep.message else "")
    elif res.points == 0:
        rep.verdict = "undecided"
        rep.message = rep.message or "no example fell in the claim's domain"
    elif res.unfalsifiable >= res.points:
        # every outcome these points could have had agrees with the claim: nothing was tested
        rep.verdict = "undecided"
        rep.message = (f"none of its {res.points} point(s) could contradict it"
                       + (f": {rep.message}" if rep.message else ""))
