"""Numeric searches over z: the sup of a quantity q(ℓ, ℓ′, ℓ″), or a point where q < 0.

Never from a coarse grid alone: a grid over [−R, R] (spacing 0.01 on [−10, 10], log-spaced
beyond, breakpoints added), the best grid points refined by bounded Brent, the tails from
sympy limits at ±∞ or an extension to |z| = 10⁹ that must show convergence or growth; a
violation is reported only once confirmed in high precision.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Callable, Iterable

import mpmath
import numpy as np
import scipy.optimize
import sympy as sp

from .evaluate import UNCOMPUTED, Evaluator
from .format import fmt, side_inf, sym_float


def grid(R: float, breaks: Iterable[float], inner: float = 10.0, step: float = 0.01, tail: int = 400) -> np.ndarray:
    """Points of [−R, R]: spacing ``step`` on [−inner, inner], ``tail`` log-spaced points per side
    beyond, and each breakpoint b with b ± 1e-9."""
    inner = min(inner, R)
    parts = [np.linspace(-inner, inner, int(round(2 * inner / step)) + 1)]
    if R > inner:
        t = np.geomspace(inner, R, tail)
        parts += [t, -t]
    for b in breaks:
        if -R <= b <= R:
            parts.append(np.array([b, b - 1e-9 * max(1, abs(b)), b + 1e-9 * max(1, abs(b))]))
    return np.unique(np.concatenate(parts))


#: decades (10⁻¹³…10⁻⁴⁰) over which a growth seen down to 10⁻¹² must keep doubling, in high precision, before it
#: convicts: a smooth quantity with a curvature scale δ doubles a decade down to ~δ and then levels off (the
#: reviewer's √(z² + 1e-26) − z); a pole, a kink or a cusp keeps growing
FINE_DECADES = [10.0**-k for k in range(13, 41)]
#: the most values a sup tries in high precision before one confirms its float64 value (a count, never seconds)
CONFIRMS = 256


@dataclass
class Sup:
    value: float
    arg: float                     # z of the sup (±inf when approached at infinity)
    unbounded: bool = False
    witness: float | None = None
    witness_value: float | None = None
    detail: str = ""
    method: str = "numeric"
    exact: str | None = None
    undetermined: str | None = None


def local_maxima(v: np.ndarray, k: int) -> list[int]:
    n = len(v)
    vv = np.where(np.isnan(v), -np.inf, v)
    left = np.concatenate([[-np.inf], vv[:-1]])
    right = np.concatenate([vv[1:], [-np.inf]])
    idx = np.flatnonzero((vv >= left) & (vv >= right) & np.isfinite(vv))
    idx = idx[np.argsort(-vv[idx])][:k]
    return [int(i) for i in idx if 0 <= i < n]


class Searcher:
    """Numeric sup / violation searches of quantities q(ℓ, ℓ′, ℓ″) over z."""

    def __init__(self, ev: Evaluator, R: float, facts, notes: list[str]):
        self.ev = ev
        self.R = R
        self.facts = facts
        self.sym_limit = facts.limit  # (quantity key, "+"/"-") -> sympy value or None
        self.notes = notes

    def refine_max(self, q, Z, v, i, need, sign=1.0) -> tuple[float, float]:
        """Bounded Brent search for the max of sign·q around grid point i; (z, value of q)."""
        lo = Z[max(i - 1, 0)]
        hi = Z[min(i + 1, len(Z) - 1)]
        if hi <= lo:
            return float(Z[i]), float(v[i])

        def neg(x):
            val = self.ev.scalar(q, float(x), need)
            return -sign * val if np.isfinite(val) else (-np.inf if val == sign * np.inf else np.inf)

        with np.errstate(all="ignore"):   # Brent's parabola through ±∞ values: inf − inf, no answer lost
            res = scipy.optimize.minimize_scalar(neg, bounds=(lo, hi), method="bounded",
                                                 options={"xatol": 1e-12 * max(1.0, abs(Z[i]))})
        best_x, best_v = float(Z[i]), float(v[i])
        val = self.ev.scalar(q, float(res.x), need)
        if np.isfinite(val) and sign * val > sign * best_v:
            best_x, best_v = float(res.x), float(val)
        return best_x, best_v

    def sup(self, q, key: str, Z: np.ndarray, need=(0, 1, 2), sides=("-", "+"), label="q",
            continuous_near: Callable[[float], tuple[str, tuple[float, float] | None] | None] | None = None) -> Sup:
        """sup of q over Z (a grid of [−R, R] or [0, R]) and beyond, with the evidence.  ``continuous_near(s)``, where
        given, says why q is bounded around a point s, and where q peaks there if known ((z, q(z)), a point between
        floats), or None: q's growth toward s then levels off, and is not tested for a singularity there."""
        for side in sides:  # sympy works on the tails while the grid is searched
            self.facts.prefetch([(key, side)])
        v = self.ev.quantity(q, Z, need)
        undefined, uncomputed = self.ev.undefined_at(Z, v)
        if undefined is not None:
            return Sup(math.nan, undefined, undetermined=f"{label} is undefined at z={fmt(undefined)}")
        if uncomputed is not None:
            # points beyond the evaluator hide nothing from a sympy limit of +∞ (g/ℓ of exp(exp(−z)) − 1 at z → −∞)
            for side in sides:
                if sym_float(self.sym_limit(key, side)) == math.inf:
                    w = self.witness_outward(Z, np.where(np.isnan(v), -np.inf, v), side)
                    # −∞ stood in for the values beyond the evaluator: no value to show (g = −∞ was printed)
                    return Sup(math.inf, side_inf(side), unbounded=True, witness=w[0],
                               witness_value=w[1] if np.isfinite(w[1]) else None,
                               detail=f"lim_{{z→{side}∞}} {label} = ∞ (sympy); {label} could not be computed at "
                                      f"z={fmt(uncomputed)}", method="symbolic")
            return Sup(math.nan, uncomputed, undetermined=f"{label} could not be computed at z={fmt(uncomputed)}: "
                                                          f"{UNCOMPUTED}")
        if np.isposinf(v).any():     # −∞ (ℓ/g with ℓ < 0 where g underflows) bounds nothing from above
            i = int(np.flatnonzero(np.isposinf(v))[0])
            side = "-" if Z[i] < 0 else "+"
            exact = self.ev.quantity_mpf(q, float(Z[i]), need)
            if exact is not None and mpmath.isfinite(exact) and self.sym_limit(key, side) != sp.oo:
                # finite, only beyond float64 (C_g = 1e310 of 1e300·log(1 + e^{−10¹⁰z})): not an unbounded sup
                return Sup(math.nan, float(Z[i]), undetermined=f"{label} = {mpmath.nstr(exact, 6)} at z={fmt(float(Z[i]))}: "
                                                               "finite, beyond float64")
            w = self.witness_outward(Z, v, side)
            return Sup(math.inf, float(Z[i]), unbounded=True, witness=w[0], witness_value=w[1],
                        detail=f"{label} is infinite or beyond the float range at z={fmt(float(Z[i]))}")
        noise = self._denoise(q, Z, v, need)
        cands = local_maxima(v, 6)
        found = [(float(Z[int(np.argmax(v))]), float(np.max(v)))]
        refined = 0
        for i in cands:
            if i in (0, len(Z) - 1):
                continue
            found.append(self.refine_max(q, Z, v, i, need))
            refined += 1
        best_z, best_v, noise = (found[0][0], math.nan, noise) if noise else self._confirmed(q, found, need)
        if noise:
            return Sup(math.nan, best_z, undetermined=noise)
        if best_v == 0:
            exact = self.ev.quantity_mpf(q, best_z, need)
            if exact is not None and mpmath.isfinite(exact) and exact != 0:
                # positive, below float64 (g = 10⁻⁴⁰⁰σ(−10⁻⁴⁰⁰z)): a sup of 0 was reported, C_g = 0 (a reviewer's run)
                return Sup(math.nan, best_z, undetermined=f"{label} = {mpmath.nstr(exact, 6)} at z={fmt(best_z)}: "
                                                            "not 0, below float64's range")
        # interior singularity: the refined value exceeds the grid by far, or the sup is a spike over
        # the values 10⁻² (relative) away (a pole at a breakpoint, where the grid itself is dense) -> probe
        away = [self.ev.quantity_mp(q, best_z + sg * 1e-2 * max(1.0, abs(best_z)), need) for sg in (-1.0, 1.0)]
        away = max([a for a in away if math.isfinite(a)], default=0.0)
        bounded = ""
        if best_v > 10 * max(1.0, float(np.max(v))) or (math.isfinite(best_v) and best_v > 10 * max(1.0, away)):
            cont = continuous_near(best_z) if continuous_near is not None else None
            div = None if cont else self._diverges_at(q, best_z, need)
            if div is not None:
                return Sup(math.inf, best_z, unbounded=True, witness=div[0], witness_value=div[1],
                            detail=f"{label} grows without bound near z={fmt(best_z)}")
            if cont:
                bounded, peak = cont
                if peak is not None and peak[1] > best_v:
                    best_z, best_v = peak
                    bounded += f"; its peak there, between floats, in high precision: {fmt(best_v)} at z ≈ {best_z!r}"
        detail = (f"grid of {len(Z)} points on [{fmt(float(Z[0]))}, {fmt(float(Z[-1]))}] "
                  f"(step 0.01 on [−10, 10], log-spaced beyond), {refined} local maxima refined by bounded Brent"
                  + (f"; a peak at z={fmt(best_z)}, where {label} is bounded: {bounded}" if bounded else ""))
        out = Sup(best_v, best_z, detail=detail)
        # tails: only a side where q does not decrease outward can hold the sup beyond the grid
        open_sides = []
        for side in sides:
            edge = 0 if side == "-" else len(Z) - 1
            inward = 1 if side == "-" else len(Z) - 2
            tol = 1e-12 * max(1.0, abs(float(v[edge])))
            if v[edge] >= best_v - tol or v[edge] > v[inward] + tol:
                open_sides.append(side)
        self.facts.drop_unneeded([(key, side) for side in open_sides])
        for side in open_sides:
            lim = self.sym_limit(key, side)
            lv = sym_float(lim)
            if lv is not None:
                out.method = "symbolic+numeric"
                out.detail += f"; lim_{{z→{side}∞}} {label} = {sp.sstr(lim)} (sympy)"
                if lv == math.inf:
                    w = self.witness_outward(Z, v, side)
                    return Sup(math.inf, side_inf(side), unbounded=True, witness=w[0], witness_value=w[1],
                                detail=f"lim_{{z→{side}∞}} {label} = ∞ (sympy)", method="symbolic")
                if lv >= out.value * (1 - 1e-12):
                    out.value, out.arg = max(lv, out.value), side_inf(side)
                    out.exact = sp.sstr(lim) if lv >= out.value * (1 - 1e-12) else None
                continue
            ext = self._extend(q, side, need)
            if ext["growth"]:
                return Sup(math.inf, side_inf(side), unbounded=True, witness=ext["z"], witness_value=ext["v"],
                            detail=f"{label} grows without bound as z→{side}∞ (numeric: {ext['info']})")
            if ext["converged"]:
                out.detail += f"; tail z→{side}∞ checked to |z|=1e9 ({ext['info']})"
                if ext["v"] > out.value:
                    out.value, out.arg = ext["v"], side_inf(side)
            else:
                out.undetermined = f"{label} still increasing as z→{side}∞ ({ext['info']}); {self.facts.no_answer()}"
        return out

    def witness_outward(self, Z, v, side) -> tuple[float, float]:
        """The first z (moving outward on the given side) where q ≥ 10⁶·max(1, q near 0), else the edge."""
        i0 = int(np.argmin(np.abs(Z)))
        thr = 1e6 * max(1.0, abs(float(v[i0])))
        order = range(i0, -1, -1) if side == "-" else range(i0, len(Z))
        last = i0
        for i in order:
            last = i
            if v[i] >= thr:
                return float(Z[i]), float(v[i])
        return float(Z[last]), float(v[last])

    def _extend(self, q, side, need) -> dict[str, Any]:
        """q at |z| = R·10^{k/2} up to 1e9: growth (log-log slope ≥ 0.05 and rising) or convergence."""
        s = -1.0 if side == "-" else 1.0
        zs = [s * x for x in np.geomspace(self.R, max(1e9, 10 * self.R), 14)]
        vals = [self.ev.quantity_mp(q, float(x), need) for x in zs]
        vals = np.array(vals, dtype=float)
        finite = np.isfinite(vals)
        if not finite.all():
            j = int(np.flatnonzero(~finite)[0])
            if vals[j] == np.inf:
                exact = self.ev.quantity_mpf(q, float(zs[j]), need)
                if exact is not None and mpmath.isfinite(exact):      # finite, beyond float64: no proof of growth
                    return {"growth": False, "converged": False, "z": zs[j], "v": math.nan,
                            "info": f"{mpmath.nstr(exact, 6)} at z={fmt(zs[j])}, beyond float64"}
                return {"growth": True, "converged": False, "z": zs[j], "v": math.inf, "info": f"∞ at z={fmt(zs[j])}"}
            return {"growth": False, "converged": False, "z": zs[j], "v": math.nan,
                    "info": f"undefined at z={fmt(zs[j])}"}
        last = vals[-4:]
        az = np.abs(np.array(zs[-4:]))
        with np.errstate(all="ignore"):
            slopes = np.diff(np.log(np.maximum(last, 1e-300))) / np.diff(np.log(az))
        if (last > 0).all() and np.all(slopes >= 0.05) and last[-1] > 2 * vals[0]:
            # a trend, not a proof: a bounded bump past z = 1e9, or a ratio still rising towards a finite limit
            # ((e³ − 4)/3 for a tail rate → 3), reads the same; without sympy's limit the sup stays undetermined
            return {"growth": False, "converged": False, "z": zs[-1], "v": float(vals[-1]),
                    "info": f"still rising at log-log slope {slopes[-1]:.2f}, q({fmt(zs[-1])})={fmt(float(vals[-1]))}"}
        incr = np.diff(vals)
        if np.all(incr[-3:] <= 1e-9 * max(1.0, abs(float(vals[-1])))):
            return {"growth": False, "converged": True, "z": zs[-1], "v": float(np.max(vals)),
                    "info": f"max {fmt(float(np.max(vals)))}, increments ≤ 1e-9"}
        return {"growth": False, "converged": False, "z": zs[-1], "v": float(vals[-1]),
                "info": f"q({fmt(zs[-1])})={fmt(float(vals[-1]))}"}

    def _denoise(self, q, Z: np.ndarray, v: np.ndarray, need) -> str:
        """The grid's largest value and local maxima confirmed in high precision, in place: float64 rounding noise
        makes values (ℓ = logistic + ½(√(z² + 1e-30) − z): 1 − z/√(z² + 1e-30) at z = 52.7 is 0 or ±1 ulp in float64,
        not 1.8e-34, and g/ℓ read 4.3e6 there, for a sup of 2.16 as z → 0⁻), and they took the sup and the local
        maxima's places.  A value high precision does not confirm is replaced by its high-precision value, and the
        candidates are taken again, at most :data:`CONFIRMS` values in all; "" or why none settled."""
        checked: set[int] = set()
        while len(checked) < CONFIRMS:
            todo = [i for i in [int(np.nanargmax(v))] + list(local_maxima(v, 6)) if i not in checked]
            if not todo:
                return ""
            for i in todo:
                checked.add(i)
                exact = self.ev.quantity_mp(q, float(Z[i]), need)
                if math.isfinite(exact) and abs(exact - v[i]) > self.ev.RTOL * abs(exact):
                    v[i] = exact
        return (f"the largest float64 values of the quantity were rounding noise at {CONFIRMS} grid points (high "
                "precision differs) before the largest ones settled")

    def _confirmed(self, q, found: list[tuple[float, float]], need) -> tuple[float, float, str]:
        """The largest of ``found`` ((z, value): the grid's largest and the refined maxima) whose value high
        precision confirms; one it does not takes its high-precision value and the next is tried."""
        found = list(found)
        for _ in range(CONFIRMS):
            k = max(range(len(found)), key=lambda j: found[j][1])
            z0, v0 = found[k]
            exact = self.ev.quantity_mp(q, z0, need)
            if not math.isfinite(exact) or abs(exact - v0) <= self.ev.RTOL * abs(exact):
                return z0, v0, ""
            found[k] = (z0, exact)
        return found[0][0], math.nan, f"no largest value of the quantity was confirmed in {CONFIRMS} tries"

    def _persists(self, q, s: float, sgn: float, need) -> bool:
        """Whether q(s + sgn·d·max(1, |s|)) keeps doubling a decade for d = 10⁻¹³…10⁻⁴⁰ (:data:`FINE_DECADES`, in
        high precision; offsets below 8 ulps of s, which float64's s does not pin down, are not used)."""
        scale = max(1.0, abs(s))
        ds = [d for d in FINE_DECADES if d * scale >= 8 * math.ulp(s)]
        if not ds:
            return True      # nothing finer than the float grid to look at: the doubling seen is all there is
        prev = self.ev.quantity_mpf(q, s + sgn * 1e-12 * scale, need)
        with mpmath.workdps(60):
            for d in ds:
                v = self.ev.quantity_mpf(q, mpmath.mpf(s) + sgn * mpmath.mpf(d) * scale, need)
                if v is None or prev is None or not (mpmath.isfinite(v) and v >= 2 * prev > 0):
                    return False
                prev = v
        return True

    def _diverges_at(self, q, x0, need) -> tuple[float, float] | None:
        """(z, q) near a point s if q grows by ≥ 2× per decade of distance to s over the last 4 of
        the decades 10⁻²…10⁻¹² (relative): s = x0, or the end of q's rise from x0 on either side
        (:meth:`_edge`: Brent stops ~1e-9 short of a pole such as z = 1 of the squared hinge's
        g/ℓ = 2/(1 − z), where the last decades seen from x0 show no growth)."""
        ds = [10.0**-k for k in range(2, 13)]
        for s, sides in [(x0, (1.0, -1.0))] + [(e, (-sgn,)) for sgn in (1.0, -1.0)
                                                if (e := self._edge(q, x0, sgn, need)) is not None]:
            for sgn in sides:
                vals = [self.ev.quantity_mp(q, s + sgn * d * max(1.0, abs(s)), need) for d in ds]
                vals = np.array(vals, dtype=float)
                if np.isinf(vals).any():
                    j = int(np.flatnonzero(np.isinf(vals))[0])
                    return s + sgn * ds[j] * max(1.0, abs(s)), math.inf
                tail = vals[-5:]
                if (np.all(np.isfinite(tail)) and np.all(tail[1:] >= 2 * tail[:-1]) and tail[0] > 0
                        and self._persists(q, s, sgn, need)):
                    # a smooth q with a curvature scale δ (1/√(z² + δ²), δ = 1e-13) doubles down to ~δ and then
                    # levels off: it was called unbounded at z = 1e-12, with its finite sup 1e13 at z = 0.  (Whether
                    # q is continuous around s is not asked: g/ℓ has a pole at a zero of ℓ inside an analytic piece,
                    # and a float next to a pole is finite there.)
                    return s + sgn * ds[-1] * max(1.0, abs(s)), float(vals[-1])
        return None

    def _edge(self, q, x0, sgn, need) -> float | None:
        """The float s beyond x0 (direction ``sgn``, within 10⁻² relative) where q peaks, if q(s) > q(x0): a ternary
        search over [x0, x0 + sgn·10⁻²·max(1, |x0|)] down to adjacent floats (q unimodal there: rising to a pole or
        to the end of its rise); None if q rises over the whole 10⁻² (no edge there), is not finite at x0, or does
        not rise.  Brent stops ~1e-9 short of a pole: the squared hinge's g/ℓ = 2/(1 − z), which ends at z = 1
        (ℓ = 0 beyond), and g/ℓ = 2/|z − ⅓| of (z − ⅓)², whose pole lies between floats (C.self_bounded passed,
        2.8e9 at 0.333333: a bisection for the last float with q ≥ q(x0) stopped on the pole's far side)."""
        v0 = self.ev.quantity_mp(q, x0, need)
        far = x0 + sgn * 1e-2 * max(1.0, abs(x0))
        if not math.isfinite(v0) or self.ev.quantity_mp(q, far, need) >= v0:
            return None
        lo, hi = min(x0, far), max(x0, far)
        at = {x0: v0}

        def val(x: float) -> float:
            if x not in at:
                v = self.ev.quantity_mp(q, x, need)
                at[x] = v if not math.isnan(v) else -math.inf
            return at[x]

        for _ in range(200):                     # the bracket shrinks by ⅓: adjacent floats well within 200 steps
            m1, m2 = lo + (hi - lo) / 3, hi - (hi - lo) / 3
            if not lo < m1 < m2 < hi:
                break
            if val(m1) < val(m2):
                lo = m1
            else:
                hi = m2
        xs = [lo]
        while xs[-1] < hi and len(xs) < 8:       # the few floats left in the bracket
            xs.append(float(np.nextafter(xs[-1], math.inf)))
        best = max(xs, key=val)
        return None if best == x0 or not val(best) > v0 else best

    def violation(self, q, Z: np.ndarray, need=(0, 1, 2), label="q") -> tuple[float | None, float, str]:
        """Search for q < 0: (witness z or None, min value found, detail). A witness is confirmed in mpmath (its
        value an mpmath number where it is below float64's range)."""
        v = self.ev.quantity(q, Z, need)
        undefined, uncomputed = self.ev.undefined_at(Z, v)
        if undefined is not None:
            return undefined, math.nan, f"{label} undefined at z={fmt(undefined)}"
        # points not computed hold no witness either way: the search runs over the others, and finding
        # no violation there leaves the check undetermined (the caller's NaN)
        v = np.where(np.isnan(v), np.inf, v)
        # a value below float64's range keeps only its sign (ℓ = 10⁻¹⁰⁰⁰z at z = −1 reads −0.0, and "no ℓ < 0 on a
        # grid" passed A.nonnegative, a reviewer's run): such zeros are asked in high precision
        for i in np.flatnonzero((v == 0) & np.signbit(v))[:50]:
            c = self.ev.quantity_mpf(q, float(Z[i]), need)
            if c is not None and c < 0:
                return float(Z[i]), c, (f"{label}({fmt(float(Z[i]))}) = {mpmath.nstr(c, 6)} < 0 (below float64's "
                                        "range; in high precision)")
        neg = -v
        cands = local_maxima(neg, 6)
        best_z, best_v = float(Z[int(np.argmin(v))]), float(np.min(v))
        refined = 0
        for i in cands:
            x, val = self.refine_max(q, Z, v, i, need, sign=-1.0)
            refined += 1
            if val < best_v:
                best_z, best_v = x, val
        detail = (f"no {label} < 0 on a grid of {len(Z)} points of [{fmt(float(Z[0]))}, {fmt(float(Z[-1]))}] "
                  f"nor at {refined} Brent-refined local minima")
        if best_v < 0:
            confirmed = self.ev.quantity_mp(q, best_z, need)
            if confirmed < 0:
                return best_z, confirmed, f"{label}({fmt(best_z)}) = {confirmed:.6g} < 0 (confirmed in high precision)"
            # float64 noise; look for a confirmed violation among the negative grid points
            for i in np.flatnonzero(v < 0)[:50]:
                c = self.ev.quantity_mp(q, float(Z[i]), need)
                if c < 0:
                    return float(Z[i]), c, f"{label}({fmt(float(Z[i]))}) = {c:.6g} < 0 (confirmed in high precision)"
            detail += " (float64 negatives were rounding, not confirmed in high precision)"
        if uncomputed is not None:
            return None, math.nan, f"{label} could not be computed at z={fmt(uncomputed)}: {UNCOMPUTED}"
        return None, best_v, detail

