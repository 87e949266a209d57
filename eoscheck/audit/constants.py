"""Assumption 3B–3D: the smallest constants C_g = sup g, C_β (g ≤ C_β ℓ and the quadratic bound
for |z − x| < 1) and C_e = sup_{z≥0} ℓ/g (Wu et al. 2024, §5, Assumption 3)."""

from __future__ import annotations

import math

import mpmath
import numpy as np
import scipy.optimize
import sympy as sp

from ..compiler import compile_expr, mp_value
from ..losses import z
from .evaluate import UNCOMPUTED, div, mp_at, q_g, q_g_over_l, q_l_over_g, q_quad0
from .format import fmt, join_methods, sym_float, to_float
from .results import FAIL, PASS, UNDETERMINED, CheckResult
from .search import FINE_DECADES, Sup


def _doubling(tail) -> bool:
    """The values (floats or mpmath numbers) finite, positive, each ≥ 2× the one before (a decade apart: growth
    without bound, not a level)."""
    return (all(mpmath.isfinite(v) for v in tail) and tail[0] > 0
            and all(b >= 2 * a for a, b in zip(tail[:-1], tail[1:])))


def _growth_fail(name: str, w: float, seen: str, tail, toward: str, detail: str) -> CheckResult:
    """The FAIL of a quantity seen growing without bound (:func:`_doubling`) toward a point: ``seen`` at the witness."""
    ratio = mpmath.nstr(mpmath.mpf(tail[-1]) / tail[-2], 3)       # mpmath: a ratio of 1e434294472/1e43429447 too
    return CheckResult(name, FAIL, constant=math.inf, method="numeric", witness=w,
                       witness_info=f"{seen}, growing ×{ratio} a decade {toward}", detail=detail)


def _sup_result(name: str, s: Sup, label: str, extra: str = "") -> CheckResult:
    if s.unbounded:
        info = f"{label} = {fmt(s.witness_value)}" if s.witness_value is not None else ""
        return CheckResult(name, FAIL, constant=math.inf, method=s.method, witness=s.witness,
                           witness_info=(info + "; " if info else "") + "unbounded", detail=s.detail)
    if s.undetermined:
        return CheckResult(name, UNDETERMINED, constant=None if math.isnan(s.value) else s.value, method=s.method,
                           detail=s.undetermined + ("; " + s.detail if s.detail else ""))
    where = "as z→" + ("+∞" if s.arg > 0 else "−∞") if math.isinf(s.arg) else f"at z={fmt(s.arg)}"
    return CheckResult(name, PASS, constant=s.value, exact=s.exact, method=s.method,
                       detail=f"sup {label} = {fmt(s.value)} {where}; {s.detail}{extra}")


def check_lipschitz(ctx, checks) -> CheckResult:
    """B: C_g = sup |ℓ′|; for convex non-increasing ℓ, g is non-increasing and C_g = lim_{z→−∞} g."""
    name = "B.lipschitz"
    conv, ni = checks["A.convex"], checks["A.nonincreasing"]
    lim = ctx.facts.limit("d1", "-")
    lv = sym_float(lim)
    if conv.passed and ni.passed and lv is not None:
        if lv == -math.inf:
            v = ctx.ev.quantity(q_g, ctx.Z, (1,))
            w = ctx.search.witness_outward(ctx.Z, v, "-")
            return CheckResult(name, FAIL, constant=math.inf, method="symbolic", witness=w[0],
                               witness_info=f"g = {fmt(w[1])}; lim_{{z→−∞}} g = ∞",
                               detail="ℓ convex and non-increasing, so sup g = lim_{z→−∞} |ℓ′| = ∞ (sympy)")
        if math.isfinite(lv):
            return CheckResult(name, PASS, constant=abs(lv), exact=sp.sstr(sp.Abs(lim)),
                               method=join_methods("symbolic", conv.method, ni.method),
                               detail="ℓ convex and non-increasing, so g = −ℓ′ is non-increasing and "
                                      f"C_g = lim_{{z→−∞}} |ℓ′| = {sp.sstr(sp.Abs(lim))} (sympy)")
    c1 = checks["A.C1"]
    # ℓ ∈ C¹: g is continuous, so its growth toward a point levels off (ℓ = logistic + 10⁻³(log 2 − log(1 + z/√(z² +
    # δ²))), δ = 1e-50: g ≈ 2·10⁻³/|z| on z < 0 down to |z| ~ δ, sup ≈ 10⁻³/δ at 0, "unbounded" at z = −1e-12)
    s = ctx.search.sup(q_g, "g", ctx.Z, (1,), label="g",
                       continuous_near=(lambda _s: (f"ℓ ∈ C¹ (A.C1 {c1.method})", None)) if c1.passed else None)
    return _sup_result(name, s, "g")


def check_self_bounded(ctx, checks) -> CheckResult:
    s = ctx.search.sup(q_g_over_l, "g/l", ctx.Z, (0, 1), label="g/ℓ", continuous_near=_positive_up_to(ctx, checks))
    res = _sup_result("C.self_bounded", s, "g/ℓ")
    return (_zero_pole(ctx) or res) if res.status == PASS else res


def _positive_up_to(ctx, checks):
    """Why g/ℓ is continuous around a point s (a function of s, or None when A.C1 or A.nonincreasing did not pass):
    ℓ non-increasing with ℓ(s + r) > 0 (high precision, r = 10⁻²·max(1, |s|)) keeps ℓ ≥ ℓ(s + r) > 0 on z ≤ s + r, and
    ℓ ∈ C¹ makes g continuous, so g/ℓ is continuous there and its growth toward s levels off.  ℓ = √(z² + δ²) − z with
    δ = 1e-50 has g/ℓ = 1/√(z² + δ²), doubling a decade down to z ~ δ, below the 10⁻⁴⁰ the growth test looks at: it
    was called unbounded (witness z = 1e-12) with its sup 1/δ = 1e50 at z = 0.  A pole of g/ℓ needs ℓ → 0 or g → ∞,
    which either premise rules out (the squared hinge's ℓ = 0 beyond 1; √(√2 − z) + e^{−z}, not C¹ at √2)."""
    if not (checks["A.C1"].passed and checks["A.nonincreasing"].passed):
        return None

    def why(s: float) -> str | None:
        r = 1e-2 * max(1.0, abs(s))
        v = ctx.ev.mp(s + r, 0)
        if mpmath.isnan(v) or not v > 0:
            return None
        return (f"ℓ ≥ ℓ({fmt(s + r)}) = {mpmath.nstr(v, 3)} > 0 for z ≤ {fmt(s + r)} and ℓ ∈ C¹ (A.nonincreasing "
                f"{checks['A.nonincreasing'].method}, A.C1 {checks['A.C1'].method})", None)
    return why


#: digits of the search for a positive minimum of g (:func:`_g_positive_min`)
_MIN_DPS = 150


def _mp150(prog, *args, reliable: bool = True):
    """prog(*args) in mpmath from 150 digits (:func:`~eoscheck.compiler.mp_value`: raised where a sum cancels), or None
    where that is not finite or (``reliable``) not reliable."""
    v, ok = mp_at(prog, *args, dps0=_MIN_DPS)
    return v if (ok or not reliable) and isinstance(v, mpmath.mpf) and mpmath.isfinite(v) else None


def _g_positive_min(ctx, s: float):
    """(x*, g(x*)) for a local minimum x* of g = |ℓ′| within 10⁻²·max(1, |s|) of s that high precision shows to be
    positive, else None.  x* solves ℓ″ = 0 (the secant method at 150 digits, from s); with g″(x*) = sign(ℓ′)·ℓ‴ > 0, the
    quadratic model of g around x* has its minimum g(x*) − g′(x*)²/(2g″(x*)), which g(x*) > 10·g′²/(2g″) keeps
    ≥ 0.9·g(x*) > 0 (at a double zero of g the secant's x* is off by ~10⁻¹⁵⁰, and g(x*) is the model's g′²/(2g″)).  ℓ″ near its root is a cancelling sum, whose value at ≥ 150 digits serves the secant and the model
    even where its last digits are not certain (at z = 1, (z − 1)² cancels exactly); g(x*) and ℓ‴ must be reliable.
    e^{−z}(1 + z²) + 10⁻⁶⁰e^{−z} has g = e^{−z}((z − 1)² + 10⁻⁶⁰), ≈ 3.7e-61 at its minimum near 1: ℓ/g
    and the quadratic ratio grow like (z − 1)⁻² down to |z − 1| ~ 10⁻³⁰, and were called unbounded (D.exp_tail,
    C.quadratic FAIL ∞ at z ≈ 1 + 1e-12); at e^{−z}(1 + z²) itself g(x*) is at the model's error and nothing is
    certified."""
    progs = ctx.ev.programs
    d3 = compile_expr(sp.diff(ctx.ev.exprs[2], z), [z], stable_log=True)
    scale = max(1.0, abs(s))
    with mpmath.workdps(_MIN_DPS):
        try:
            x = mpmath.findroot(lambda t: _mp150(progs[2], t, reliable=False),
                                (mpmath.mpf(s), mpmath.mpf(s) + 1e-9 * scale), solver="secant")
        except (ValueError, TypeError, ZeroDivisionError, OverflowError):
            return None
        if not abs(x - s) <= 1e-2 * scale:
            return None
        d1, d2, d3v = _mp150(progs[1], x), _mp150(progs[2], x, reliable=False), _mp150(d3, x)
        if d1 is None or d2 is None or d3v is None or d1 == 0:
            return None
        g, gpp = abs(d1), mpmath.sign(d1) * d3v
        if not (gpp > 0 and g > 10 * d2 * d2 / (2 * gpp)):
            return None
    return x, g


def _positive_g_near(ctx):
    """:func:`_g_positive_min` as the sup's ``continuous_near`` for ℓ/g: why ℓ/g is bounded near s, and its value at x*
    (where ℓ/g peaks, but for a shift that changes it by far less than its rounding)."""
    def why(s: float):
        found = _g_positive_min(ctx, s)
        if found is None:
            return None
        x, g = found
        lx = _mp150(ctx.ev.programs[0], x)
        if lx is None:
            return None
        with mpmath.workdps(_MIN_DPS):
            peak = (float(x), to_float(lx / g))
        return f"g has a positive minimum {mpmath.nstr(g, 3)} at z ≈ {mpmath.nstr(x, 20)} (high precision)", peak
    return why


def _zero_pole(ctx) -> CheckResult | None:
    """g/ℓ unbounded at an isolated zero z₀ of ℓ where g vanishes too ((1 − z)²: g/ℓ = 2/|1 − z|), which the
    sup reads as 0/0 = 0: at each grid point where ℓ = 0 with ℓ > 0 beside it, g/ℓ at z₀ ± h for h = 10⁻³…10⁻⁹
    growing ≥ 2× a decade over the last four decades convicts, with the witness z₀ ∓ 10⁻⁹."""
    Z = ctx.Z
    with np.errstate(all="ignore"):
        L = ctx.ev.f64(Z, 0)
    zeros = np.flatnonzero((L == 0) & ((np.roll(L, 1) > 0) | (np.roll(L, -1) > 0)))
    hs = [10.0**-k for k in range(3, 10)]
    for i in zeros[:5]:
        z0 = float(Z[i])
        for sgn in (-1.0, 1.0):
            vals = np.array([ctx.ev.scalar(q_g_over_l, z0 + sgn * h, (0, 1)) for h in hs])
            tail = vals[-4:]
            if _doubling(tail):
                w = z0 + sgn * hs[-1]
                return _growth_fail("C.self_bounded", w, f"g/ℓ = {fmt(float(vals[-1]))} at z = {w:.12g}", tail,
                                    f"toward ℓ's zero at {fmt(z0)}",
                                    "g/ℓ is unbounded at a zero of ℓ: no C_β bounds g ≤ C_β ℓ")
    return None


def check_exp_tail(ctx, checks) -> CheckResult:
    Zp = ctx.Z[ctx.Z >= 0]
    s = ctx.search.sup(q_l_over_g, "l/g", Zp, (0, 1), sides=("+",), label="ℓ/g", continuous_near=_positive_g_near(ctx))
    return _sup_result("D.exp_tail", s, "ℓ/g", extra=" (z ≥ 0)")


#: |z − x| offsets of the quadratic check (both signs), denser near ±1 and 0
_H = np.unique(np.concatenate([np.linspace(0.05, 1.0, 20), [0.001, 0.003, 0.01, 0.02, 0.975, 0.99, 0.999]]))
_H = np.concatenate([-_H[::-1], _H])
_H_MP = np.array([-1.0, -0.75, -0.5, -0.25, -0.1, 0.1, 0.25, 0.5, 0.75, 1.0])
_QUAD_MP_ROWS = 40
#: the largest |x| of the quadratic check's grid: ulp(1e9) = 1.2e-7 keeps the smallest offset, 1e-3, to 1e-4
_X_RESOLVED = 1e9


_hsym = sp.Symbol("h", real=True)


def _q_mp(ev, x: float, h: float, dprog, exact: bool = False):
    """Q(x, h) = D/(g(x)h²) in high precision, D = ℓ(x+h) − ℓ(x) − ℓ′(x)h from ``dprog`` (:func:`_d_program`: one
    expression, whose cancellation raises the precision; from ℓ and ℓ′ each rounded at 60 digits, log(1 + e^{−1e-300·z})
    cancelled ~600 digits: a false "blow-up").  A float (NaN where not computed), or with ``exact`` the mpmath number
    unrounded (1e431 stays 1e431; None where not computed)."""
    dx = ev.mp(x, 1)
    dv, ok = mp_at(dprog, x, h)
    if not ok or mpmath.isnan(dx) or mpmath.isnan(dv):
        return None if exact else math.nan
    with mpmath.workdps(60):
        q = div(dv, abs(dx) * h * h)
    return (None if mpmath.isinf(q) else q) if exact else to_float(q)


def _d_program(ev):
    """D(x, h) = ℓ(x+h) − ℓ(x) − ℓ′(x)h compiled once, in x and h."""
    pw, d1e = ev.exprs[0], ev.exprs[1]
    return compile_expr(pw.subs(z, z + _hsym) - pw - d1e * _hsym, [z, _hsym], stable_log=True)


def _levels_off(ctx, x: float) -> bool:
    """Whether Q is bounded near x as h → 0: ℓ ∈ C² on [x − 10⁻³, x + 10⁻³] (relative; the probe's largest offset)
    by sympy's answers, and g(x) ≠ 0 (a zero of g nearby is rules (2) and (3)'s).  ℓ = logistic + 0.1(√(z² + 1e-100)
    − z), analytic, doubles its ratio a decade down to h ~ 1e-50 and was called unbounded."""
    if not ctx.facts.smooth_at(x, 2, 1e-3 * max(1.0, abs(x))):
        return False
    g = ctx.ev.mp(x, 1)
    return bool(mpmath.isfinite(g) and g != 0)


def _quadratic_blowup(ctx, xs: list[float], X: np.ndarray, dx: np.ndarray, dprog, peaks: list) -> CheckResult | None:
    """C.quadratic's ratio unbounded at a finite x, which the grid's offsets (|z − x| ≥ 1e-3) and the
    h → 0 limit ℓ″/(2g) miss: (1) at a breakpoint or the grid's best x, Q(x, ±h) growing ≥ 2× a decade
    over the last four of h = 10⁻³…10⁻¹² — a kink (Q ~ 1/(2h)) or a cusp of ℓ″ (Q ~ h^{−1/2}); a
    smooth or C¹ point levels off at ℓ″/(2g); (2) ℓ′ changing sign between grid points: at its zero
    x*, g(x*) = 0 while ℓ(x* + h) − ℓ(x*) > 0, so Q(x*, h) = ∞; (3) g touching 0 between grid points, unless high
    precision shows its minimum positive (:func:`_g_positive_min`): then Q(x*, h) at the minimum, h ∈ _H_MP (±0.1…±1),
    is appended to ``peaks`` as (x*, h, Q, g(x*))."""
    hs = [10.0**-k for k in range(3, 13)]
    for x in dict.fromkeys(xs):
        if _levels_off(ctx, x):     # Q is bounded near x: no probe can convict there (its ~20 evaluations skipped)
            continue
        for sgn in (1.0, -1.0):
            vals = np.array([_q_mp(ctx.ev, x, sgn * h * max(1.0, abs(x)), dprog) for h in hs])
            tail = vals[-5:]
            if _doubling(tail):
                # and on, in high precision, down to z−x = 10⁻⁴⁰ (D is one expression in x and h), but not below
                # 8 ulps of x, which stands for a kink float64 does not place (max(log(1 + e^{−z}), 1 − 2z) at
                # z* ≈ 0.2012: from the float next to it the ratio levels off below |x − z*|): a smooth ℓ with a
                # curvature scale δ levels off at ℓ″/(2g) once |h| ≪ δ (the reviewer's ℓ = logistic +
                # 0.1(√(z² + 1e-26) − z): 8.33e11 at x = 0, "unbounded" before)
                scale = max(1.0, abs(x))
                hs_fine = [h for h in FINE_DECADES if h * scale >= 8 * math.ulp(x)]
                fine = [_q_mp(ctx.ev, x, sgn * h * scale, dprog, exact=True) for h in hs_fine]
                if any(v is None for v in fine) or not _doubling([mpmath.mpf(tail[-1])] + fine):
                    continue
                h_end = hs_fine[-1] if hs_fine else hs[-1]
                return _growth_fail("C.quadratic", x, f"ratio {mpmath.nstr(([mpmath.mpf(tail[-1])] + fine)[-1], 5)} "
                                    f"at z−x = {sgn * h_end * scale:.0e}", ([mpmath.mpf(v) for v in tail] + fine)[-2:],
                                    "as z → x", "the quadratic ratio is unbounded as z → x (ℓ not C¹, or ℓ″ unbounded, "
                                    f"there): it doubles every decade of z−x from 1e-8 to {h_end * scale:.0e}")
    with np.errstate(invalid="ignore"):
        change = np.flatnonzero(np.sign(dx[:-1]) * np.sign(dx[1:]) < 0)
    for i in change[:5]:
        try:
            root = scipy.optimize.brentq(lambda x: to_float(ctx.ev.mp(float(x), 1)), float(X[i]), float(X[i + 1]),
                                         xtol=1e-15, rtol=1e-15)
        except (ValueError, RuntimeError):
            continue
        rise = max(to_float(ctx.ev.mp(root + s, 0) - ctx.ev.mp(root, 0)) for s in (-0.5, 0.5))
        if rise > 0:
            return CheckResult("C.quadratic", FAIL, constant=math.inf, method="numeric", witness=float(root),
                               witness_info=f"ℓ′ = 0 at z ≈ {fmt(float(root))} where ℓ is not locally constant "
                                            f"(ℓ rises by {fmt(rise)} within ½): ratio infinite",
                               detail="g(x) = 0 at a minimum of ℓ: the quadratic bound cannot hold with any C_β")
    # (3) g touching 0 between grid points with no sign change (ℓ = e^{−z}(1 + z²) on z > 0: g = e^{−x}(1 − x)², 0 at
    # x = 1, passed with C_β = 6.8e11): approaching the local minimum x* of g, Q(x, ±½) ~ (ℓ(x ∓ ½) − ℓ(x))/g(x) grows
    # like 1/g — ≥ 2× a decade over the last four of x* ± 10⁻²…10⁻⁹ convicts (a positive minimum of g levels off)
    with np.errstate(invalid="ignore"):
        g = np.abs(dx)
        top = float(np.nanmax(g)) if np.isfinite(g).any() else 0.0
        low = np.flatnonzero((g[1:-1] <= g[:-2]) & (g[1:-1] <= g[2:]) & (g[1:-1] < 1e-3 * top)) + 1
    deltas = [10.0**-k for k in range(2, 10)]
    for i in low[:5]:
        res = scipy.optimize.minimize_scalar(lambda x: abs(to_float(ctx.ev.mp(float(x), 1))),
                                             bounds=(float(X[i - 1]), float(X[i + 1])), method="bounded",
                                             options={"xatol": 1e-14 * max(1.0, abs(float(X[i])))})
        xs = float(res.x)
        found = _g_positive_min(ctx, xs)
        if found is not None:       # a positive minimum: Q is bounded there, and largest near it
            x, g = found
            for h in _H_MP:
                dv = _mp150(dprog, x, mpmath.mpf(float(h)))
                if dv is not None:
                    with mpmath.workdps(_MIN_DPS):
                        peaks.append((x, float(h), to_float(dv / (g * float(h) ** 2)), g))
            continue
        for sgn in (1.0, -1.0):
            vals = np.array([max(_q_mp(ctx.ev, xs + sgn * dl, h, dprog) for h in (-0.5, 0.5)) for dl in deltas])
            tail = vals[-4:]
            if _doubling(tail):
                w = xs + sgn * deltas[-1]
                return _growth_fail("C.quadratic", w, f"ratio {fmt(float(vals[-1]))} at x = {w:.12g}", tail,
                                    f"toward g's zero near {fmt(xs)}",
                                    "g(x) → 0 where ℓ is not locally constant: the quadratic bound cannot hold with "
                                    "any C_β")
    return None


def _quadratic_beyond_float(ctx, x: float, dprog) -> CheckResult | None:
    """C.quadratic's ratio beyond float64 at x (probit: Q(1000, −1) ≈ 1.2e431): a FAIL when sympy's limit of
    Q(·, ±1) on x's side is ∞, or when the high-precision sup over h = ±1 at x·10ᵏ, k = 0…7, grows ≥ 2× a decade
    over the last four (probit: 1e431 … 1e434294472; a huge Q rising to a finite limit levels off); None
    (undetermined) otherwise — a finite C_β beyond float64 (flat_exp with a = 800) is not a failure."""
    side = "+" if x > 0 else "-"
    raw = [ctx.facts.limit(k, side) for k in ("quad(1)", "quad(-1)")]
    lims = [sym_float(v) for v in raw]
    at = [(_q_mp(ctx.ev, x, h, dprog, exact=True), h) for h in (1.0, -1.0)]
    at = max(((v, h) for v, h in at if v is not None), default=(None, 0.0), key=lambda p: p[0])
    shown = f"ratio {mpmath.nstr(at[0], 3)} at z−x = {at[1]:g}" if at[0] is not None else "ratio ≥ 1.8e308"
    if any(v == math.inf for v in lims if v is not None):
        return CheckResult("C.quadratic", FAIL, constant=math.inf, method="symbolic", witness=x,
                           witness_info=f"{shown} (beyond float64); → ∞ as x→{side}∞ (sympy)",
                           detail="the quadratic ratio is unbounded in the tail")
    big = [v for v, f in zip(raw, lims)
           if v is not None and f is None and v.is_number and v.is_finite and v.is_real]
    if big:   # flat_exp with a = 800: (e^800 − 801)/800, finite, beyond float64
        prog = compile_expr(big[0], [], "mpmath")      # the compiler, never lambdify's generated code
        value, _ = mp_value(lambda fl: prog(flags=fl))
        shown_big = mpmath.nstr(value, 5)
        return CheckResult("C.quadratic", UNDETERMINED, method="symbolic+numeric", exact=sp.sstr(big[0]),
                           detail=f"the ratio exceeds the float range (≥ 1.8e308) at x={fmt(x)}; sympy's limit as "
                                  f"x→{side}∞ is {sp.sstr(big[0])} ≈ {shown_big}: a finite C_β, beyond float64")
    far = [x * 10.0**k for k in range(8)]
    vals = []
    for xf in far:
        qs = [v for v in (_q_mp(ctx.ev, float(xf), h, dprog, exact=True) for h in (1.0, -1.0)) if v is not None]
        if not qs:
            return None
        vals.append(max(qs))
    if _doubling(vals[-4:]):
        return _growth_fail("C.quadratic", x, f"{shown} (beyond float64), {mpmath.nstr(vals[-1], 3)} at "
                                              f"x={fmt(far[-1])}", vals[-4:], f"as x→{side}∞",
                            "the quadratic ratio grows without bound in the tail (high precision)")
    return None


def check_quadratic(ctx, checks) -> CheckResult:
    """C (second part): the smallest C_β with ℓ(x+h) ≤ ℓ(x) + ℓ′(x)h + C_β g(x)h² for |h| ≤ 1.

    Q(x, h) = [ℓ(x+h) − ℓ(x) − ℓ′(x)h]/(g(x)h²), with Q(x, 0) = ℓ″(x)/(2g(x)); C_β = sup Q.
    """
    name = "C.quadratic"
    ev, R = ctx.ev, ctx.R
    for side in "+-":  # sympy works on the tails while the grid is searched
        ctx.facts.prefetch([("quad(1)", side), ("quad(-1)", side)])
    inner = np.linspace(-10, 10, 1001)
    tail = np.geomspace(10, R, 150)
    brk = [b for b, *_ in ctx.facts.breakpoints()] if ctx.facts.pieces else []
    X = np.unique(np.concatenate([inner, tail, -tail] +
                                 [np.float64(float(b)) + np.array([-1, -0.5, -1e-6, 0, 1e-6, 0.5, 1.0])
                                  for b in brk] +
                                 # the floats next to b: a sup approached as x → b± (flat_poly, a = 0.5: ℓ″/2g → 3/4
                                 # as x → 0⁺, read 0.7499992 at x = 1e-6, a constant below the sup)
                                 [np.nextafter(np.float64(float(b)), [-np.inf, np.inf]) for b in brk]))
    X = X[(X >= -R) & (X <= R)]
    # beyond |x| = 1e9 the offsets x + h are not resolved (ulp(1e13) > 1e-3, the smallest): such x are left out and
    # both tails need their limits below
    clipped = bool((np.abs(X) > _X_RESOLVED).any())
    X = X[np.abs(X) <= _X_RESOLVED]
    (lx, dx, d2x), badx = ev.triple(X)
    gx = np.abs(dx)
    # high-precision ℓ(x), ℓ′(x), ℓ″(x) where float64 is unreliable
    mpx = {}
    for i in np.flatnonzero(badx):
        mpx[i] = (ev.mp(float(X[i]), 0), ev.mp(float(X[i]), 1), ev.mp(float(X[i]), 2))
    # h -> 0 limit
    with np.errstate(all="ignore"):
        Q0 = div(d2x, 2 * gx)
    for i, (l, d1v, d2v) in mpx.items():
        Q0[i] = to_float(div(d2v, 2 * abs(d1v)))
    # finite h, float64 part
    XX, HH = np.meshgrid(X, _H, indexing="ij")
    Y = (XX + HH).ravel()
    ly, bady = ev.triple(Y, need=(0,))
    ly = ly[0].reshape(XX.shape)
    bady = bady.reshape(XX.shape) | badx[:, None]
    with np.errstate(all="ignore"):
        D = ly - lx[:, None] - dx[:, None] * HH
        Q = D / (gx[:, None] * HH**2)
        Q = np.where((gx[:, None] == 0) & (D <= 0), 0.0, Q)
        Q = np.where((gx[:, None] == 0) & (D > 0), np.inf, Q)
        # D is a difference of nearby values: trust float64 only where its rounding error is small
        rounding = 8 * np.finfo(np.float64).eps * (np.abs(ly) + np.abs(lx[:, None]) + np.abs(dx[:, None] * HH))
        bady |= ~(rounding <= 1e-6 * np.abs(D))
    Q[bady] = -np.inf
    # high-precision part: rows with unreliable values, on the coarser offsets _H_MP, with
    # D_h(x) = ℓ(x+h) − ℓ(x) − ℓ′(x)h compiled as one expression (its cancellation raises the precision)
    big_h = np.abs(_H) >= 0.05  # tiny offsets are covered by the limit ℓ″/(2g)
    mp_rows = np.flatnonzero(badx | bady[:, big_h].any(axis=1))
    n_bad_rows = len(mp_rows)
    if n_bad_rows > _QUAD_MP_ROWS:  # high precision is slow: an even subset of those rows
        mp_rows = mp_rows[np.unique(np.round(np.linspace(0, n_bad_rows - 1, _QUAD_MP_ROWS)).astype(int))]
    dprog = _d_program(ev)      # once: the high-precision rows, the probes below
    for i in mp_rows:
        x = float(X[i])
        for h in _H_MP:
            val = _q_mp(ev, x, float(h), dprog)
            ev.mp_calls += 1
            if math.isnan(val):
                continue
            j = int(np.argmin(np.abs(_H - h)))
            Q[i, j] = max(Q[i, j], val) if np.isfinite(Q[i, j]) else val
    nan_rows = np.isnan(Q0) | np.isnan(np.where(np.isinf(Q), 0.0, Q)).any(axis=1)
    # rows beyond the high-precision evaluator (logistic's ℓ″ = e^{−z}/(1 + e^{−z}) − e^{−2z}/(1 + e^{−z})² cancels
    # 1500 digits at z ≈ −3450) are left out of the grid; a tail of them makes that side's limit necessary below
    gone = nan_rows & np.array([ev.uncomputed(float(x)) for x in X])
    # only the runs at the grid's ends: an interior gap is not a tail
    gone = np.cumprod(gone).astype(bool) | np.cumprod(gone[::-1])[::-1].astype(bool)
    undefined = nan_rows & ~gone
    if undefined.any():
        i = int(np.flatnonzero(undefined)[0])
        return CheckResult(name, UNDETERMINED, method="numeric",
                           detail=f"the ratio could not be computed near x={fmt(float(X[i]))} (undefined there, or "
                                  f"beyond the high-precision evaluator's cap)")
    if gone.all():     # exp(exp(…exp(−z)…)) seven deep: no x of the grid within the evaluator, no ratio to take a sup of
        return CheckResult(name, UNDETERMINED, method="numeric",
                           detail=f"the ratio could not be computed at any x of the grid on [{fmt(float(X[0]))}, "
                                  f"{fmt(float(X[-1]))}]: {UNCOMPUTED}")
    Q0[gone], Q[gone] = -np.inf, -np.inf
    gone_sides = [sd for sd, edge in (("+", -1), ("-", 0)) if gone[edge] or clipped]
    Qx = np.max(np.concatenate([Q, Q0[:, None]], axis=1), axis=1)
    if (Qx == np.inf).any():
        i = int(np.flatnonzero(Qx == np.inf)[0])
        g0 = ev.mp(float(X[i]), 1)
        if g0 != 0:   # a finite ratio beyond 1.8e308 (flat_exp with a = 800: sup = (e^a − 1 − a)/a ≈ 4e344)
            return _quadratic_beyond_float(ctx, float(X[i]), dprog) or CheckResult(
                name, UNDETERMINED, method="numeric",
                detail=f"the ratio exceeds the float range (≥ 1.8e308) at x={fmt(float(X[i]))}: a finite C_β, if "
                       "there is one, is beyond float64")
        return CheckResult(name, FAIL, constant=math.inf, method="numeric", witness=float(X[i]),
                           witness_info="g(x) = 0 where ℓ is not locally linear (ratio infinite)",
                           detail="the quadratic bound cannot hold with any C_β")
    x_best = float(X[int(np.nanargmax(Qx))])
    # a float next to a breakpoint b stands for b: from x = b + ulp the ratio grows like (x − b)/|h| as h → 0 until
    # |h| ≈ x − b, below the probe's offsets (a false blow-up); b itself is probed
    x_best = next((float(b) for b in brk if abs(x_best - float(b)) <= 2 * np.spacing(float(b))), x_best)
    peaks: list = []
    blowup = _quadratic_blowup(ctx, [float(b) for b in brk] + [x_best] + [e for j in ev.jumps(X, dx, d2x) for e in j[:2]], X,
                                dx, dprog, peaks)
    if blowup is not None:
        return blowup
    # refine the best few (x, h) by L-BFGS-B
    def Qfun(p):
        x, h = float(p[0]), float(p[1])
        if abs(h) < 1e-4:
            return ev.scalar(q_quad0, x, (1, 2))
        (l0, d0, _), bad = ev.triple(np.array([x, x + h]), need=(0, 1))
        lxv, lyv, dxv = l0[0], l0[1], d0[0]
        with np.errstate(all="ignore"):
            dv = lyv - lxv - dxv * h
        if bad.any() or dxv == 0 or not 8 * 2.2e-16 * (abs(lyv) + abs(lxv) + abs(dxv * h)) <= 1e-6 * abs(dv):
            return math.nan  # float64 cannot resolve D here (those points are covered in high precision)
        return dv / (abs(dxv) * h * h)

    flat = np.where(np.isfinite(Q), Q, -np.inf)
    order = np.argsort(-flat.ravel())[:6]
    best_v, best = float(np.nanmax(Qx)), None
    i_best = int(np.nanargmax(Qx))
    best = (float(X[i_best]), 0.0)
    refined = 0
    for idx in order:
        i, j = np.unravel_index(idx, Q.shape)
        x0, h0 = float(X[i]), float(_H[j])
        if not np.isfinite(Q[i, j]):
            continue
        xb = (float(X[max(i - 1, 0)]), float(X[min(i + 1, len(X) - 1)]))
        res = scipy.optimize.minimize(lambda p: -Qfun(p) if np.isfinite(Qfun(p)) else 1e300, [x0, h0],
                                      method="L-BFGS-B", bounds=[xb, (-1.0, 1.0)])
        refined += 1
        val = Qfun(res.x)
        if np.isfinite(val) and val > best_v:
            best_v, best = float(val), (float(res.x[0]), float(res.x[1]))
            flat[i, j] = -np.inf  # the refined point replaces its grid start
    peak_note = ""
    for x, h, v, g_min in peaks:    # a positive minimum of g between grid points (_quadratic_blowup's rule (3))
        if math.isfinite(v) and v > best_v:
            best_v, best = v, (float(x), h)
            peak_note = (f"; g has a positive minimum {fmt(to_float(g_min))} at x ≈ {mpmath.nstr(x, 20)} "
                         "(high precision), where the ratio peaks")
    # tails: is the max at the edge of the x-grid?
    jb = np.unravel_index(int(np.argmax(flat)), Q.shape)
    if np.isfinite(flat[jb]) and flat[jb] >= best_v:
        best = (float(X[jb[0]]), float(_H[jb[1]]))
    sup_info = f"at x={fmt(best[0])}, z−x={best[1]:.4g}"
    exact = None
    method = "numeric"
    open_sides = [side for side, edge, inward in (("+", len(X) - 1, len(X) - 2), ("-", 0, 1))
                  if Qx[edge] >= best_v * (1 - 1e-6) or (Qx[edge] >= Qx[inward] and Qx[edge] >= 0.5 * best_v)
                  or side in gone_sides]
    ctx.facts.drop_unneeded([(k, sd) for sd in open_sides for k in ("quad(1)", "quad(-1)")])
    for side in open_sides:
        edge = len(X) - 1 if side == "+" else 0
        keys = [("quad(1)", side), ("quad(-1)", side)]
        lims = [ctx.facts.limit(k, s_) for k, s_ in keys]
        lvs = [sym_float(v) for v in lims]
        if any(v == math.inf for v in lvs if v is not None):
            return CheckResult(name, FAIL, constant=math.inf, method="symbolic", witness=float(X[edge]),
                               witness_info=f"ratio {fmt(float(Qx[edge]))} there; → ∞ as x→{side}∞ (sympy)",
                               detail="the quadratic ratio is unbounded in the tail")
        if all(v is not None for v in lvs):
            method = "symbolic+numeric"
            m = max(lvs)
            if m >= best_v * (1 - 1e-9):
                h_at = 1 if lvs[0] >= lvs[1] else -1
                best_v = max(m, best_v)
                exact = sp.sstr(lims[lvs.index(m)])
                sup_info = f"approached as x→{side}∞ with z−x = {h_at} (sympy limit {exact})"
            continue
        if side in gone_sides:   # the grid stops short of R there, and the tail is beyond the evaluator too
            edge = X[~gone].min() if side == "-" else X[~gone].max()
            why = (UNCOMPUTED if gone[0 if side == "-" else -1] else
                   f"the range asked for reaches |x| = {fmt(R)}, and beyond {fmt(_X_RESOLVED)} x + h is not resolved")
            return CheckResult(name, UNDETERMINED, method="numeric",
                               detail=f"the ratio could not be computed beyond x={fmt(float(edge))} ({why}) "
                                      f"and {ctx.facts.no_answer()} as x→{side}∞")
        # numeric tail growth
        far = np.geomspace(R, 1e9, 8) * (1 if side == "+" else -1)
        vals = []
        for x in far:
            vals.append(max(ctx.ev.quantity_mp(q_quad0, float(x), (1, 2)),
                            Qfun([float(x), 1.0]), Qfun([float(x), -1.0])))
        vals = np.array(vals)
        if np.all(np.diff(vals[-4:]) > 0) and vals[-1] > 2 * vals[0]:
            # a trend is no witness: a ratio rising towards a finite limit ((e³ − 4)/3 for a tail rate → 3) reads
            # the same at x = 1e9, outside the range searched, and below the true sup
            return CheckResult(name, UNDETERMINED, method="numeric",
                               detail=f"the quadratic ratio still rises as x→{side}∞ (ratio {fmt(float(vals[-1]))} at "
                                      f"x={fmt(float(far[-1]))}) and {ctx.facts.no_answer()}")
        if np.nanmax(vals) > best_v:
            best_v = float(np.nanmax(vals))
            sup_info = f"in the tail x→{side}∞ (to |x|=1e9)"
    hp = (f"; float64 unreliable on {n_bad_rows} x: high precision on {len(mp_rows)} of them × "
          f"{len(_H_MP)} offsets" if n_bad_rows else "")
    if gone.any():
        hp += (f"; {int(gone.sum())} x beyond the high-precision evaluator left out (|x| ≥ "
               f"{fmt(float(np.abs(X[gone]).min()))})")
    if clipped:
        hp += f"; the grid stops at |x| = {fmt(_X_RESOLVED)} (x + h unresolved beyond), the tails are sympy's limits"
    detail = (f"sup over a grid of {len(X)} x × {len(_H)} offsets z−x ∈ [−1, 1] plus z→x (ℓ″/2g), "
              f"{refined} L-BFGS-B refinements{hp}; sup {sup_info}{peak_note}")
    if best_v == 0:
        q = ev.quantity_mpf(q_quad0, x_best, (1, 2))      # its limit as z → x, ℓ″/(2g), in high precision
        if q is not None and mpmath.isfinite(q) and q != 0:
            # positive, below float64 (ℓ = log(1 + e^{−10⁻⁴⁰⁰z}): ℓ″/(2g) ≈ 1e-401): a sup of 0 was reported (a
            # reviewer's run)
            return CheckResult(name, UNDETERMINED, method="numeric",
                               detail=f"the ratio tends to ℓ″/(2g) = {mpmath.nstr(q, 6)} as z → x = {fmt(x_best)}: not "
                                      "0, below float64's range")
    return CheckResult(name, PASS, constant=best_v, exact=exact, method=method, detail=detail)
