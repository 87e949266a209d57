"""The verdict on a user conjecture: FALSIFIED only with a confirmed witness (see properties/README.md).

1. **ranges**: the effort level caps T, n, d (:data:`EFFORT`); a cap below the requested range is
   said on the verdict's first line.  A request no effort level can run (memory or work of one GD
   run beyond :data:`MAX_BYTES` / :data:`MAX_WORK`) is refused before anything is drawn (exit 2).
2. **fit** (statements with constants): the tightest constants on the inner ranges
   (:func:`envelope.fit_constants`).  When no constant fits, the least-violating constants are
   used and the search below must still find a witness for them (margin 0).
3. **search**: Hypothesis over the full (capped) ranges, canonical datasets first, steered to the
   worst ratio; then the scaling ladders; then, for every ladder along which the ratio trends toward
   the asymptotic regime, instances pushed to the far end of the user's range along that trend.
   Every candidate violation is re-checked by :func:`witness.confirm` (EXPR at 40 digits at the
   favorable end of γ*'s certified interval); the first confirmed one is shrunk and saved.
4. **verdict**: FALSIFIED (a confirmed witness) · NOT FALSIFIED (none; with TREND when some ladder
   slope crosses :data:`SLOPE_TOL` — evidence, never a conviction) · UNDECIDED (no point fell in
   the domain, the constants could not be fitted and no witness exists, or a float64 violation could not be
   checked at 40 digits: EXPR beyond the evaluator's limits there).
"""

from __future__ import annotations

import dataclasses
import math
import time
from dataclasses import asdict, dataclass, field

import numpy as np

from eoscheck._errors import EoscheckError

from .claims import compared_text, loosened, score, value_text
from .calibration import CalibrationLost, calibration_points, ladders
from .conjecture import FIT_MARGIN, LOST_NOTE, SLOPE_TOL, Conjecture, Range, geometric_mean
from .envelope import fit_constants
from .fitted import ASYMPTOTIC_DIRECTION
from .instances import Instance, single_thread
from .numerics import jsonable, lost_to_float64
from .search import SHRINK_ATTEMPTS, add_note
from .strategies import build_separable
from .witness import shrink


@dataclass(frozen=True)
class Effort:
    """Sizes of one effort level: calibration instances, Hypothesis examples, pushed instances per
    trend, and the caps on T, n, d (``None``: the requested range in full)."""

    calibration: int
    examples: int
    pushes: int
    T: int | None
    n: int | None
    d: int | None


EFFORT = {
    "smoke": Effort(4, 5, 2, 400, 50, 20),
    "quick": Effort(6, 8, 3, 2000, 200, 50),
    "normal": Effort(12, 25, 4, 5000, 1000, 200),
    "thorough": Effort(40, 200, 6, 100_000, 5000, 1000),
    "full": Effort(40, 200, 6, None, None, None),
}

#: Refuse a request whose single GD run would need more memory than this (bytes) ...
MAX_BYTES = 4 * 2**30
#: ... or more multiply-adds than this (n·d·K·T): no effort level could run it.
MAX_WORK = 5e11
#: Stepsizes per run (canonical instances use 6, draws 4) and float64 records per step and stepsize.
RUN_ETAS, RECORDS = 8, 20


def run_size(n: float, d: float, T: float, k: int = RUN_ETAS) -> tuple[float, float]:
    """(bytes, multiply-adds) of one GD run: data n·d, per-step n·k work arrays, k·(T+1) records."""
    nbytes = 8.0 * (n * d + 4 * n * k + RECORDS * k * (T + 1))
    return nbytes, float(n) * d * k * T


def plan(conj: Conjecture, effort: str) -> list[str]:
    """Apply the effort's caps to ``conj.ranges`` (in place); the notes saying what was capped.

    Raises EoscheckError (exit 2) when even the uncapped range cannot be run."""
    if effort not in EFFORT:
        raise EoscheckError(f"effort (--effort) must be one of {', '.join(EFFORT)}")
    R = conj.ranges
    nbytes, work = run_size(R["n"].hi, R["d"].hi, R["T"].hi)
    if nbytes > MAX_BYTES or work > MAX_WORK:
        raise EoscheckError(
            f"one GD run at n={R['n'].hi:g}, d={R['d'].hi:g}, T={R['T'].hi:g} needs ~{nbytes / 2**30:.3g} GiB and "
            f"{work:.2g} multiply-adds (limits {MAX_BYTES / 2**30:g} GiB, {MAX_WORK:.0e}); shrink --n, --d or --T "
            f"(e.g. --n 1:{_fit_n(R):g})")
    e = EFFORT[effort]
    asked = {p: R[p].hi for p in ("T", "n", "d")}
    notes = []
    for p, cap in (("T", e.T), ("n", e.n), ("d", e.d)):
        if cap is not None and R[p].hi > cap:
            notes.append(f"{p} capped at {cap:g} by --effort {effort} (asked up to {R[p].hi:g})" if R[p].lo <= cap
                         else f"{p} tested at the range's lower end {R[p].lo:g} only: --effort {effort} caps {p} at "
                              f"{cap:g}, below the range (asked {R[p].lo:g} to {R[p].hi:g})")
            # never below the user's lower end: a range that starts above the cap is tested at its start only
            R[p] = Range(R[p].lo, max(R[p].lo, cap))
    if notes:
        reach = [k for k, v in EFFORT.items()
                 if all(getattr(v, p) is None or asked[p] <= getattr(v, p) for p in asked)]
        notes.append(f"--effort {reach[0]} tests the full range")
    return [n for n in notes if n]


def _fit_n(R) -> float:
    """The largest n (power of 10) whose run fits the limits at the requested d and T."""
    n = 1.0
    while n < 1e12:
        b, w = run_size(n * 10, R["d"].hi, R["T"].hi)
        if b > MAX_BYTES or w > MAX_WORK:
            break
        n *= 10
    return n


@dataclass
class ConjectureReport:
    """The verdict on a conjecture with its evidence (never "proved")."""

    conjecture: dict
    verdict: str = "NOT FALSIFIED"
    trend: list = field(default_factory=list)
    capped: list = field(default_factory=list)
    constants: dict = field(default_factory=dict)
    margin: float = 0.0
    calibration_points: int = 0
    examples: int = 0
    points: int = 0
    #: points that could not have contradicted it (:meth:`Evaluation.vacuous`)
    unfalsifiable: int = 0
    worst_ratio: float | None = None
    worst_point: dict | None = None
    worst_instance: str | None = None
    slopes: dict = field(default_factory=dict)
    counterexample: dict | None = None
    counterexample_file: str | None = None
    witness_source: str | None = None
    message: str = ""
    seconds: float = 0.0

    @property
    def falsified(self) -> bool:
        return self.verdict == "FALSIFIED"

    def first_line(self) -> str:
        head = self.verdict + (" (TREND)" if self.trend and not self.falsified else "")
        if self.falsified and self.constants and self.margin:   # what a fitted FALSIFIED says, on its first line
            head += (f" — the fitted constants, loosened ×{1 + self.margin:g}, fail beyond their calibration ranges: "
                     "the shape does not extrapolate (a larger constant may still hold)")
        if self.capped:
            head += " — ranges capped: " + "; ".join(self.capped)
        return head

    def to_json(self) -> dict:
        return jsonable(asdict(self))

    def consider(self, direction: str, point: dict, instance: str) -> None:
        """Make ``point`` the worst one if it is nearer violation (ln of measured/EXPR, sign by direction) than the
        worst so far: every point checked counts, the ladders' and the witness's too."""
        def nearness(p):
            sc = float(score(p["measured"], p["bound"], direction))
            return math.inf if np.isnan(sc) else sc
        if self.worst_point is None or nearness(point) > nearness(self.worst_point):
            self.worst_point, self.worst_ratio, self.worst_instance = point, point.get("ratio"), instance


def check_conjecture(conj: Conjecture | str, effort: str = "quick", seed: int | None = None,
                     save_dir: str | None = None, shrink_attempts: int = SHRINK_ATTEMPTS) -> ConjectureReport:
    """Fit, search for a witness, scale (see the module docstring).

    ``conj``: a :class:`~eoscheck.properties.conjecture.Conjecture`, or its text (parsed with the default loss
    and ranges: :meth:`Conjecture.parse` sets others); ``effort``: a key of :data:`EFFORT` (examples counted,
    never seconds); ``seed``: None for :data:`~eoscheck.properties.search.UNSEEDED`; ``save_dir``: where a witness is written (None: not saved).
    The report's ``falsified`` and ``counterexample_file`` say what was found; :func:`eoscheck.properties.replay`
    re-runs a saved witness."""
    if isinstance(conj, str):
        conj = Conjecture.parse(conj)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, (int, np.integer)) or seed < 0):
        raise EoscheckError(f"seed must be a non-negative whole number or None, got {seed!r}")
    # the caps and the fitted constants go to a copy: the caller's conjecture is left as given
    conj = dataclasses.replace(conj, ranges=dict(conj.ranges), values=dict(conj.values))
    capped = plan(conj, effort)
    e = EFFORT[effort]
    s0 = 0 if seed is None else seed
    t0 = time.perf_counter()
    rep = ConjectureReport(conjecture=conj.summary(), capped=capped)
    notes: list[str] = []
    margin = FIT_MARGIN if conj.constants else 0.0
    with single_thread():
        if conj.constants:
            try:
                meas, P, _, lost = calibration_points(conj, e.calibration, s0)
            except CalibrationLost as err:     # valid input that cannot be tested here: no verdict either way
                rep.verdict, rep.message, rep.seconds = "UNDECIDED", str(err), time.perf_counter() - t0
                return rep
            rep.calibration_points = int(meas.size)
            if lost:
                add_note(notes, f"{lost} calibration {LOST_NOTE}")
            if meas.size == 0:
                raise EoscheckError("the calibration draws produced no points (check --t/--where ranges)")
            try:
                conj.values = fit_constants(conj, meas, P)
            except EoscheckError as err:
                conj.values = fit_constants(conj, meas, P, relaxed=True)
                margin = 0.0
                notes.append(f"{err}; searched for a witness at the least-violating constants")
            negative = {k: v for k, v in conj.values.items() if v < 0}
            if negative:     # "margin(t) >= -C*eta*t" fitted C < 0: a positive lower bound, not the one written
                with np.errstate(all="ignore"):   # does the sign matter? not for abs(C) or C**2
                    a = conj.rhs_values(P, conj.values)
                    b = conj.rhs_values(P, {k: abs(v) for k, v in conj.values.items()})
                flips = bool(np.any(np.sign(a) * np.sign(b) < 0))
                notes.append(f"{_constants_text(negative)} fitted negative (constants range over all reals)"
                             + (": EXPR's sign is then the opposite of the one written" if flips else ""))
        exhausted = False
        for attempt in range(REFITS + 1):
            rep.constants, rep.margin = dict(conj.values), margin
            rep.conjecture = conj.summary()
            found = _search(conj, e, seed, s0, margin, shrink_attempts, rep, notes)
            if found is None or not conj.constants or margin == 0.0:
                break
            if attempt == REFITS:
                exhausted = True
                break
            if not in_calibration(conj, found[1]):
                break       # beyond the calibration ranges: the fitted shape does not extrapolate
            # the witness lies where the constants were fitted: the calibration draws missed it, so it joins
            # them and the constants are fitted again (a witness there says nothing against the statement)
            m2, P2, _ = conj.points(found[0])
            # as calibration_points: --where, the ranges, and no value float64 lost
            keep = (conj.mask(P2) & ~lost_to_float64(m2, P2["_logm"])) if m2.size else np.zeros(0, bool)
            m2, P2 = m2[keep], {k: v[keep] for k, v in P2.items()}
            meas = np.concatenate([meas, m2])
            P = {k: np.concatenate([v, P2[k]]) for k, v in P.items()}
            rep.calibration_points = int(meas.size)
            try:
                conj.values = fit_constants(conj, meas, P)
            except EoscheckError:   # no constant fits the calibration with the witness in: it convicts as found
                break
            notes.append(f"refit {attempt + 1}: a violation at {found[0].describe()} lay inside the calibration "
                         f"ranges; its points joined the calibration ({_constants_text(conj.values)})")
            rep.trend, rep.slopes = [], {}
        if found is not None and exhausted and in_calibration(conj, found[1]):
            inst, pt, _ = found     # the refits are spent and the calibration still misses it: not a conviction
            rep.consider(conj.direction, pt, inst.describe())
            rep.trend.append(f"a violation inside the calibration ranges remained after {REFITS} refits, at "
                             f"{inst.describe()}: {compared_text(pt, conj.direction, 1.0, margin, name='EXPR')} "
                             "(where the constants are fitted, a violation does not convict)")
            found = None
        if found is not None:
            inst, pt, source = found
            rep.consider(conj.direction, pt, inst.describe())
            rep.verdict, rep.witness_source = "FALSIFIED", source
            rep.counterexample = {"instance": inst.to_json(), "point": pt, "description": inst.describe()}
            up = conj.direction == "<="
            val = (lambda k, d=9: value_text(pt, k, d))   # 40 digits for a value float64 lost
            lim = ((loosened(conj.direction, pt["bound"] < 0, margin) if margin else "EXPR")
                   + (" + " if up else " − ") + f"allowance {val('allowance', 2)}")
            H = pt.get("horizon", pt.get("T"))          # how far a transition time was looked for
            unreached = conj.quantity == "transition_time" and H is not None and pt["measured"] > H
            shown = val("measured") + (f" (not reached by step {H:g}: counted as {H:g} + 1)" if unreached else "")
            notes.insert(0, f"witness ({source}): measured {shown} vs EXPR = {val('bound')} "
                            f"(limit {lim} = {val('limit')}"
                            + (f"; {conj.quantity} {'<' if up else '>'} EXPR: reaching the limit convicts"
                               if conj.strict else "") + f") at {inst.describe()}"
                            + (f"; the violating run: η={pt['eta']:.6g}, T={pt['T']:g}" if "T" in pt and "eta" in pt
                               else "") + (f", t={pt['t']:g}" if "t" in pt else ""))
        elif rep.points == 0:
            rep.verdict = "UNDECIDED"
            notes.append("no point was tested: none fell in the domain, or every one was set aside (see the notes)")
        elif rep.unfalsifiable >= rep.points:
            rep.verdict = "UNDECIDED"
            notes.insert(0, f"none of its {rep.points} point(s) could contradict it (times looked for up to a "
                            "horizon, against limits beyond it: nothing was tested)")
        elif conj.unconfirmed:
            rep.verdict = "UNDECIDED"
            at = ", ".join(f"{k}={v:.6g}" for k, v in conj.unconfirmed[0].items())
            notes.insert(0, f"{len(conj.unconfirmed)} float64 violation(s) could not be checked at 40 digits (EXPR has "
                            f"no value there within the evaluator's limits, first at {at}): they neither convict nor "
                            "acquit")
        elif margin == 0.0 and conj.constants:
            rep.verdict = "UNDECIDED"
        if rep.trend and not rep.falsified:
            notes.insert(0, "TREND (evidence, not a conviction; no witness in the ranges): " + "; ".join(rep.trend))
        rep.message = "; ".join(notes)
    rep.seconds = time.perf_counter() - t0
    if rep.falsified and save_dir:
        from .replay import save_conjecture_counterexample, saved

        rep.counterexample_file, why = saved(lambda: save_conjecture_counterexample(conj, rep, save_dir, seed),
                                             save_dir)
        rep.message += f"; {why}" if why else ""
    return rep


#: Refits of the constants when a witness lies inside the calibration ranges (then the calibration missed it).
REFITS = 3


def _constants_text(values: dict) -> str:
    return ", ".join(f"{k} = {v:.6g}" for k, v in values.items())


def in_calibration(conj: Conjecture, pt: dict) -> bool:
    """Does the witness point lie inside the calibration ranges (the lower log-half of η, n, d, t, T; the
    upper of γ), where the constants were fitted?"""
    for p in conj.ranged() + ("gamma",):      # not η under eta_of_T: T sets it, and T is checked
        if p not in pt:
            continue
        r = conj.ranges[p]
        inner = r.inner(low_half=(p != "gamma"))
        if not inner.lo * (1 - 1e-12) <= float(pt[p]) <= inner.hi * (1 + 1e-12):
            return False
    return True


def _search(conj: Conjecture, e, seed: int | None, s0: int, margin: float, shrink_attempts: int,
            rep: ConjectureReport, notes: list[str]):
    """One search for a witness at the current constants: Hypothesis, then the scaling ladders (evidence:
    TREND, and more candidates), then instances pushed along a trend; ``(instance, point, source)`` or None."""
    from hypothesis import HealthCheck, Verbosity, settings

    from .fitted import slopes_of
    from .search import search

    hs = settings(max_examples=e.examples, deadline=None, database=None, derandomize=seed is None,
                  suppress_health_check=list(HealthCheck), verbosity=Verbosity.quiet,
                  report_multiple_bugs=False)   # no wall-clock window of generation after a failure (profiles.py)
    res = search(conj.strategy(), conj.evaluate, hs, margin=margin, label="conjecture", seed=seed,
                 shrink_attempts=shrink_attempts, explicit=conj.canonical_instances())
    rep.examples, rep.points, rep.unfalsifiable = res.examples, res.points, res.unfalsifiable
    if res.worst_point is not None:
        rep.worst_point, rep.worst_ratio = res.worst_point, res.worst_point.get("ratio")
        rep.worst_instance = res.worst_instance.describe() if res.worst_instance else None
    notes.extend(res.notes[:2])
    for n in res.notes[2:]:        # values float64 lost are always said, wherever they were set aside
        if LOST_NOTE in n:
            add_note(notes, n)
    found = None
    if res.counterexample is not None:
        found = _witness(conj, res.counterexample, margin, "Hypothesis search")
    # the scaling ladders: evidence (TREND) and more candidates; not needed once a witness is in hand
    lads = ladders(conj, s0) if found is None else {}
    for p, insts in lads.items():
        evs = [conj.evaluate(i) for i in insts]
        rep.points += sum(ev.size for ev in evs)
        rep.unfalsifiable += sum(ev.vacuous(1.0, margin) for ev in evs)
        for inst, ev in zip(insts, evs):
            for n in ev.notes:
                if LOST_NOTE in n:
                    add_note(notes, n)
            i = ev.worst_index()
            if i is not None:
                rep.consider(conj.direction, ev.point(i), inst.describe())
        rate = p == "t" or (p == "T" and conj.arg != "t")
        sl = slopes_of(conj.direction, p, evs, SLOPE_TOL, observe=rate)
        rep.slopes[p] = sl
        if sl.get("growing"):
            toward = "→ 0" if ASYMPTOTIC_DIRECTION.get(p, 1) < 0 else "→ ∞"   # the ladder's far end
            rep.trend.append(f"ratio {'grows' if conj.direction == '<=' else 'falls'} as {p} {toward} "
                             f"(far-half slope {sl['upper_half_slope']:+.2f}, "
                             f"far quarter {sl['far_quarter_slope']:+.2f})")
        for inst, ev in zip(insts, evs) if found is None else ():
            found = found or _witness(conj, inst, margin, f"{p} ladder", ev)
    if found is None and rep.trend:
        for inst in pushed(conj, rep.slopes, s0, e.pushes):
            found = _witness(conj, inst, margin, "pushed along the trend")
            if found is not None:
                break
    return found


def _witness(conj: Conjecture, inst: Instance, margin: float, source: str, ev=None):
    got = shrink(conj, inst, margin, ev)
    return None if got is None else (got[0], got[1], source)


def pushed(conj: Conjecture, slopes: dict, seed: int, k: int) -> list[Instance]:
    """Instances at the far end of the user's ranges along every trending ladder (all trends at once,
    the rest at the geometric middle), ``k`` datasets each: where a witness would show first."""

    R = conj.ranges
    grow = {p for p, s in slopes.items() if s.get("growing")}
    val = {}
    for p in ("eta", "n", "d", "gamma", "T"):
        far = R[p].lo if ASYMPTOTIC_DIRECTION.get(p, 1) < 0 else R[p].hi
        val[p] = far if p in grow else geometric_mean(R[p].lo, R[p].hi)
    if "t" in grow:
        val["T"] = R["T"].hi
    etas = [val["eta"]] if "eta" in grow else list(np.geomspace(R["eta"].lo, R["eta"].hi, 6))
    out = []
    for j in range(k):
        data = build_separable(max(1, int(round(val["n"]))), max(1, int(round(val["d"]))), val["gamma"],
                               seed + 1000 + j, pin_margin=True)
        out.append(conj.instance(data, etas, [int(val["T"])] * len(etas)))
    return out
