"""Asymptotic claims (Θ/O/Ω with an unknown constant): calibrate, verify, scale.

An asymptotic claim's ``evaluate`` returns the measured quantity next to the
bound's *shape* (the bound without its unknown constant).  Three steps:

1. **calibrate** (:func:`calibrate`, run by ``eoscheck fit``): the constant is the
   envelope — max for an upper bound, min for a lower bound — of
   measured/shape over the claim's documented calibration sweep
   (``FitSpec.calibration``); it is stored with its provenance (sweep, package
   versions, date, number of points, worst instance) in
   ``properties/fitted_constants.json``.
2. **verify** (:func:`check_asymptotic`): Hypothesis draws fresh instances from
   a *wider* range than the calibration (larger η, n, t, smaller γ) and asserts
   measured ≤ C_fit·shape·(1 + margin) (≥ C_fit·shape/(1 + margin) for lower
   bounds); ``hypothesis.target`` steers toward the worst ratio, and the worst
   instance seen is reported.  ``margin`` is the claim's ``FitSpec.margin``
   (default 1: a constant estimated on a finite sweep may be beaten by a factor
   2 on a wider one before that alone counts as a falsification — growth is the
   scaling test's job).
3. **scaling** (:func:`ladder_slopes`): ln(measured/shape) is regressed on ln of
   each parameter along a geometric ladder (points grouped in bins of 1/8
   decade, envelope per bin).  An upper bound whose ratio keeps growing toward
   the parameter's asymptotic regime (η, n, d, t, T → ∞; γ → 0) — slope beyond
   ``FitSpec.slope_tol`` over the far half of the ladder *and* still over its
   far quarter, so a ratio levelling off to a plateau does not count — is
   reported as TREND (for a lower bound: a ratio that keeps falling).  A trend
   never convicts: the ladder's instances are searched for a witness (a point
   beyond C_fit·shape·(1 ± margin)), and only a witness gives FALSIFIED.  Rate claims also report the
   observed log–log slope of the measured quantity over the upper half of the
   ladder next to the predicted one.
"""

from __future__ import annotations

import json
import math
import time
from pathlib import Path
from typing import Any

import numpy as np

from eoscheck._errors import EoscheckError

from .claims import Budget, Claim, Evaluation, compared_text, get_claim
from .numerics import loglog_slope
from .profiles import budget, claim_settings

CONSTANTS_FILE = Path(__file__).with_name("fitted_constants.json")

#: Bins per decade when grouping ladder points by parameter value.
BINS_PER_DECADE = 8

#: The direction in which each parameter goes to its asymptotic regime: +1 → ∞ (η, n, d, t, T),
#: −1 → 0 (γ ≤ 1 is bounded above; the theory's hard regime is γ → 0).  Growth is judged that way.
ASYMPTOTIC_DIRECTION = {"gamma": -1}


# ---------------------------------------------------------------------------
# storage
# ---------------------------------------------------------------------------


def constants_path() -> Path:
    """The constants file read by the checks: ``$EOSCHECK_FITTED_CONSTANTS`` (written by
    ``eoscheck fit --output``) when set, else the package's fitted_constants.json (read-only)."""
    import os

    env = os.environ.get("EOSCHECK_FITTED_CONSTANTS")
    return Path(env) if env else CONSTANTS_FILE


def load_constants(path: Path | str | None = None) -> dict[str, Any]:
    """The stored fitted constants (``{"claims": {id: record}}``), empty if the package's file is absent.

    A file named by ``$EOSCHECK_FITTED_CONSTANTS`` that is missing, or any file that is not a
    constants file, raises a one-line :class:`EoscheckError` (a typo must not silently check the
    package's constants instead of the user's)."""
    p = Path(path) if path else constants_path()
    named = "EOSCHECK_FITTED_CONSTANTS=" if path is None and p != CONSTANTS_FILE else ""
    if not p.is_file():
        if named:
            raise EoscheckError(f"{named}{p}: file not found; write one with eoscheck fit -o {p}, or unset the variable")
        return {"format": 1, "claims": {}}
    try:
        data = json.loads(p.read_text())
        ok = isinstance(data, dict) and isinstance(data.get("claims"), dict) and \
            all(isinstance(r, dict) and math.isfinite(float(r["value"])) and float(r["value"]) > 0
                for r in data["claims"].values())     # C·shape with C ≤ 0 bounds nothing (and replay refuses it)
    except (OSError, ValueError, TypeError, KeyError) as err:
        ok, why = False, f"{type(err).__name__}: {err}"
    else:
        why = 'not {"claims": {ID: {"value": positive number, …}}}'
    if not ok:
        raise EoscheckError(f"{named}{p} is not a fitted-constants file ({why}); write one with eoscheck fit -o FILE")
    return data


def fitted_constant(claim_id: str, path: Path | str | None = None) -> float | None:
    rec = load_constants(path)["claims"].get(claim_id)
    return None if rec is None else float(rec["value"])


#: the source of a fitted constant that the constants in use do not hold (:func:`claim_constant`)
CALIBRATED_NOW = "calibrated by this check"


def claim_constant(c: Claim) -> tuple[float, str]:
    """(the constant a fitted claim is checked with, where it comes from): the constants file in use (the
    package's, or $EOSCHECK_FITTED_CONSTANTS), else its calibration sweep run now (seeded: the same value on every
    run)."""
    path = constants_path()
    C = fitted_constant(c.id)
    if C is None:
        return float(calibrate(c)["value"]), CALIBRATED_NOW
    return C, ("the package's properties/fitted_constants.json" if path == CONSTANTS_FILE
               else f"EOSCHECK_FITTED_CONSTANTS={path}")


def refuse_package_file(path: Path | str) -> None:
    """:class:`EoscheckError` if ``path`` is the package's own constants file (never written)."""
    if Path(path).resolve() == Path(CONSTANTS_FILE).resolve():
        raise EoscheckError(f"{path} is the package's own constants file, which is never written; give another "
                            "--output (e.g. ./fitted_constants.json) and check with EOSCHECK_FITTED_CONSTANTS=FILE")


def save_constants(records: dict[str, dict], path: Path | str) -> Path:
    """Merge ``records`` into the constants file ``path`` (starting from the constants in use; atomic write)."""
    from eoscheck.outputs import atomic_write

    p = Path(path)
    refuse_package_file(p)
    in_use = constants_path()
    data = load_constants(p if p.is_file() else (in_use if in_use.is_file() else CONSTANTS_FILE))
    data["claims"].update(records)
    data["format"] = 1
    return atomic_write(p, json.dumps(data, indent=2, sort_keys=True) + "\n")


# ---------------------------------------------------------------------------
# calibrate
# ---------------------------------------------------------------------------


def envelope(ev: Evaluation) -> float:
    """max (upper bound) or min (lower bound) of measured/shape over the points."""
    r = ev.ratios()
    r = r[np.isfinite(r)]
    if r.size == 0:
        return math.nan
    return float(r.max() if ev.direction == "<=" else r.min())


def calibrate(c: Claim | str) -> dict[str, Any]:
    """Fit the claim's constant over its calibration sweep; the record to store."""
    from eoscheck import __version__
    from eoscheck.provenance import versions

    from .instances import single_thread

    if isinstance(c, str):
        c = get_claim(c)
    if c.fit is None:
        raise ValueError(f"{c.id} is not an asymptotic claim")
    t0 = time.perf_counter()
    instances = c.fit.calibration()
    with single_thread():
        evs = [(i, c.evaluate(i)) for i in instances]
    evs = [(i, e) for i, e in evs if e.size]
    if not evs:
        raise ValueError(f"{c.id}: the calibration sweep produced no points")
    vals = [envelope(e) for _, e in evs]
    k = int(np.nanargmax(vals) if c.direction == "<=" else np.nanargmin(vals))
    value = vals[k]
    return {
        "claim": c.id,
        "constant_name": c.fit.constant,
        "shape": c.fit.shape,
        "value": value,
        "envelope": "max" if c.direction == "<=" else "min",
        "points": int(sum(e.size for _, e in evs)),
        "instances": len(evs),
        "calibration": c.fit.calibration_doc,
        "worst_instance": evs[k][0].describe(),
        "eoscheck": __version__,
        "versions": versions(),
        "created_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "seconds": round(time.perf_counter() - t0, 2),
    }


# ---------------------------------------------------------------------------
# scaling
# ---------------------------------------------------------------------------


def binned_envelope(values: np.ndarray, ratios: np.ndarray, upper: bool) -> tuple[np.ndarray, np.ndarray]:
    """Group (value, ratio) by bins of 1/BINS_PER_DECADE decade; the envelope per bin."""
    ok = np.isfinite(values) & np.isfinite(ratios) & (values > 0) & (ratios > 0)
    v, r = values[ok], ratios[ok]
    if v.size == 0:
        return np.zeros(0), np.zeros(0)
    b = np.round(np.log10(v) * BINS_PER_DECADE).astype(np.int64)
    xs, ys = [], []
    for key in np.unique(b):
        sel = b == key
        xs.append(float(np.exp(np.mean(np.log(v[sel])))))
        ys.append(float(r[sel].max() if upper else r[sel].min()))
    return np.asarray(xs), np.asarray(ys)


def ladder_slopes(c: Claim, param: str, evs: list[Evaluation], judged: bool = True) -> dict[str, Any]:
    """Slopes of ln(ratio) (and ln(measured)) against ln(param) along a claim's ladder."""
    return slopes_of(c.direction, param, evs, c.fit.slope_tol, judged, c.fit.predicted_slopes.get(param))


def slopes_of(direction: str, param: str, evs: list[Evaluation], tol: float, judged: bool = True,
              predicted: float | None = None, observe: bool = True) -> dict[str, Any]:
    """Regress ln(measured/bound) on ln(param) (binned envelope); ``growing`` = the growth verdict.

    An upper bound (``<=``) whose ratio grows toward the parameter's asymptotic regime
    (:data:`ASYMPTOTIC_DIRECTION`) with slope > ``tol`` over the far half of the ladder *and* over
    its far quarter keeps growing (falsified when ``judged``); for a lower bound the ratio must
    not keep falling.  (``upper_half_slope`` is the far-half slope.)  ``observed`` is the slope of
    ln(measured) over the upper half
    (the observed order).
    """
    upper = direction == "<="
    evs = [e for e in evs if e is not None and e.size]
    cat = (lambda f: np.concatenate([f(e) for e in evs])) if evs else (lambda f: np.zeros(0))
    vals = cat(lambda e: np.asarray(e.params.get(param, np.full(e.size, np.nan)), float))
    ratios = cat(lambda e: e.ratios())
    meas = cat(lambda e: e.measured)
    x, y = binned_envelope(vals, ratios, upper)
    xm, ym = binned_envelope(vals, meas, upper)
    out: dict[str, Any] = {"points": int(len(x)), "range": [float(x.min()), float(x.max())] if len(x) else None,
                           "predicted": predicted}
    if len(x) < 3:
        out.update(ratio_slope=None, upper_half_slope=None, growing=False, judged=judged, observed=None,
                   note="fewer than 3 ladder bins")
        return out
    sgn = ASYMPTOTIC_DIRECTION.get(param, 1)
    lx = np.log(x)
    pos = (lx - lx.min()) / max(lx.max() - lx.min(), 1e-300)  # 0..1 along the ladder in log scale
    pos = pos if sgn > 0 else 1 - pos                         # 1 = the asymptotic end
    half, quarter = pos >= 0.5, pos >= 0.75
    s_all = loglog_slope(x, y)
    s_half = loglog_slope(x[half], y[half]) if half.sum() >= 2 else s_all
    s_quarter = loglog_slope(x[quarter], y[quarter]) if quarter.sum() >= 2 else s_half
    # "keeps growing": growth toward the asymptotic regime over the far half and still over the far
    # quarter (a ratio levelling off to a plateau does not count); for a lower bound, falling
    grow = [sgn * v for v in (s_half, s_quarter)]
    growing = all(g > tol for g in grow) if upper else all(g < -tol for g in grow)
    out.update(ratio_slope=s_all, upper_half_slope=s_half, far_quarter_slope=s_quarter,
               growing=bool(growing and judged), judged=judged)
    if observe and len(xm) >= 2:
        halfm = xm >= np.exp(0.5 * (np.log(xm.min()) + np.log(xm.max())))
        out["observed"] = loglog_slope(xm[halfm], ym[halfm]) if halfm.sum() >= 2 else loglog_slope(xm, ym)
    else:
        out["observed"] = None
    return out


# ---------------------------------------------------------------------------
# verify + scale
# ---------------------------------------------------------------------------


def check_asymptotic(c: Claim, profile: str, seed: int | None, rep, shrink_attempts: int) -> None:
    """Verify a fitted claim (fresh, wider draws) and run its scaling ladders; fills ``rep``."""
    from .search import fill_report, search

    C, rep.constant_source = claim_constant(c)
    notes = []
    if rep.constant_source == CALIBRATED_NOW:
        notes.append("constant fitted now (not in fitted_constants.json; run `eoscheck fit`)")
    rep.fitted_constant, rep.constant_name = C, c.fit.constant
    b = budget(profile)
    res = search(c.strategy(b), c.evaluate, claim_settings(c, profile, seeded=seed is not None), constant=C,
                 margin=c.fit.margin,
                 label=c.id, seed=seed, shrink_attempts=shrink_attempts, explicit=c.explicit(b) if c.explicit else None)
    fill_report(rep, res, c, constant=C, margin=c.fit.margin)
    if rep.worst_point is not None and rep.worst_point.get("ratio") is not None:
        # measured / (C_fit·shape), in the table and in the point (whose "bound" is the shape: its ratio to that
        # is kept as shape_ratio)
        rep.worst_ratio = rep.worst_point["ratio"] / C
        rep.worst_point = dict(rep.worst_point, ratio=rep.worst_ratio, shape_ratio=rep.worst_point["ratio"],
                               constant=C)
    growth, witness = [], None
    b = budget(profile)
    for param, (make, judged) in _ladders(c).items():
        insts = make(b)
        evs = [c.evaluate(i) for i in insts]
        sl = ladder_slopes(c, param, evs, judged)
        rep.slopes[param] = sl
        if sl.get("growing"):
            growth.append(f"ratio {'grows' if c.direction == '<=' else 'falls'} with {param} "
                          f"(far-half slope {sl['upper_half_slope']:+.2f}, far quarter {sl['far_quarter_slope']:+.2f})")
        # the ladder's instances are inside the claim's domain: a violation there is a witness
        witness = witness or _ladder_witness(c, C, insts, evs, param)
        if witness is None and sl.get("growing"):
            # push along the trend: the same ladder at PUSH× the profile's sizes (steps, ranges)
            for k in (1, 2):
                bigger = Budget(b.name, b.scale * PUSH**k)
                insts = make(bigger)
                witness = _ladder_witness(c, C, insts, [c.evaluate(i) for i in insts], f"{param} (pushed ×{PUSH**k:g})")
                if witness is not None:
                    break
    if witness is not None and rep.verdict not in ("FALSIFIED", "warning") and c.kind != "heuristic":
        inst, pt, param = witness
        rep.verdict = "warning" if c.warns_only else "FALSIFIED"
        rep.counterexample = {"instance": inst.to_json(), "point": pt, "description": inst.describe()}
        growth.insert(0, (f"{c.outside_hypotheses}, so not a falsification of the theorem: " if c.outside_hypotheses
                          else "") + f"witness on the {param} ladder: {inst.describe()}; "
                         + compared_text(pt, c.direction, C, c.fit.margin))
    elif growth and rep.verdict not in ("FALSIFIED", "error"):
        # a trend is evidence, never a conviction (no witness inside the claim's ranges)
        rep.verdict = "warning" if c.warns_only else "TREND"
        growth[0] = "TREND (no witness): " + growth[0]
    msgs = growth + notes + ([rep.message] if rep.message else [])
    rep.message = "; ".join(msgs)


#: Factor by which a trending ladder is pushed (twice) toward its asymptotic end when it has no witness.
PUSH = 4.0


def _ladder_witness(c: Claim, C: float, insts: list, evs: list, label: str):
    for inst, ev in zip(insts, evs):
        if ev.size and not ev.holds(C, c.fit.margin):
            bad = np.flatnonzero(ev.violations(C, c.fit.margin))
            return inst, ev.point(int(bad[np.argmax(ev.scores(C)[bad])])), label
    return None


def _ladders(c: Claim) -> dict:
    """param → (budget → instances, judged) from the FitSpec (a bare callable is judged)."""
    out = {}
    for p, v in c.fit.ladders.items():
        out[p] = v if isinstance(v, tuple) else (v, True)
    return out
