"""Floating-point allowances and small numerical helpers shared by the checks.

Exact claims are compared with **no tuned slack**.  The only tolerance is a
floating-point allowance derived from how the compared numbers are computed
(float64, unit roundoff ``EPS`` = 2⁻⁵²):

* a margin yᵢxᵢᵀw is a dot product: its absolute rounding error is at most
  about ``ulps · EPS · ‖w‖·‖xᵢ‖`` (``ulps`` covers the √d growth of a sum);
* a loss value computed from margins inherits a *relative* error of that size
  times sup |ℓ′|/ℓ (:func:`log_slope`: 1 for the logistic loss, a for
  flat_exp(a) and flat_poly(a)), since ``δℓ/ℓ ≤ (|ℓ′|/ℓ)·δz``;
* sums, means and the bound formulas add a few ulps each.

Hence :func:`rel_allowance` = ``FP_ULPS · EPS · (1 + slope·‖w‖·max‖x‖)`` is the
documented relative allowance of a loss-derived quantity, and
:func:`allowance` = ``FP_ULPS · EPS · Σ|scaleᵢ|`` the absolute allowance of an
expression combining terms of magnitudes ``scaleᵢ``.  ``FP_ULPS = 64`` ulps
covers dot products of length up to ~4000 with the usual √d error model and is
fixed once for all claims (never adjusted per claim).

What the allowance does **not** cover: the drift of the computed trajectory
away from the exact-arithmetic GD trajectory over many steps.  The checks test
the theorem on the trajectory the engine computed (each step is an exact GD
step from the computed iterate up to rounding), which is what a user runs.
"""

from __future__ import annotations

import math

import numpy as np

EPS = float(np.finfo(np.float64).eps)

#: ulps granted to each compared quantity (see module docstring).
FP_ULPS = 64

#: float64's smallest normal number, 2⁻¹⁰²²: below it a computed value has lost its relative precision
TINY = float(np.finfo(np.float64).tiny)

#: quantities that are loss values or sums of them: positive, and 0 or subnormal once the margins pass ~708
LOSS_LIKE = frozenset({"loss", "avg_loss", "final_loss", "max_loss", "grad_potential", "grad_potential_avg",
                       "exp_potential"})


def allowance(*scales: np.ndarray | float) -> np.ndarray:
    """Absolute allowance ``FP_ULPS·EPS·Σ|scaleᵢ|`` for an expression with terms of these magnitudes."""
    total = sum(np.abs(np.asarray(s, dtype=np.float64)) for s in scales)
    return FP_ULPS * EPS * np.asarray(total, dtype=np.float64)


def average_allowance(t: np.ndarray | float, w_norm: np.ndarray | float, slope: float = 1.0) -> np.ndarray:
    """Relative allowance of a running average (1/t)Σ_{k<t} of loss-derived values: each term within
    :func:`rel_allowance`, and the running float64 sum of t positive terms adds at most (t−1)·EPS/2
    relative, the division one more rounding; so ``rel_allowance(‖w‖) + t·EPS``."""
    return rel_allowance(w_norm, slope=slope) + np.abs(np.asarray(t, dtype=np.float64)) * EPS


def rel_allowance(w_norm: np.ndarray | float, max_norm: float = 1.0, slope: float = 1.0) -> np.ndarray:
    """Relative allowance of a loss-derived value at an iterate of norm ``w_norm``:
    ``FP_ULPS·EPS·(1 + slope·‖w‖‖x‖)``, ``slope`` = sup |ℓ′|/ℓ of the loss (:func:`log_slope`)."""
    return FP_ULPS * EPS * (1.0 + slope * np.abs(np.asarray(w_norm, dtype=np.float64)) * max_norm)


def log_slope(loss) -> float:
    """sup_z |ℓ′(z)|/ℓ(z): how a margin's absolute rounding error becomes ℓ's relative error.

    max{1, C_g} for the registered families: the logistic loss 1 (|ℓ′| = σ(−z) = u/(1+u) ≤ log(1+u) = ℓ, u = e^{−z});
    flat_exp(a): a on z ≥ 0 (ℓ = e^{−az}) and a/(1 − az) ≤ a on its linear piece; flat_poly(a): a/(1+z) ≤ a on
    z ≥ 0 and less on its linear piece — in each C_g = a (checked on a grid in tests/test_properties_numerics.py)."""
    return max(1.0, float(loss.paper_constants.get("C_g") or 1.0))


def safe_log(x: np.ndarray) -> np.ndarray:
    """ln x with ln 0 = −inf and no warning."""
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(x, dtype=np.float64))


def safe_div(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """a / b elementwise without warnings (inf/NaN where b = 0 or the quotient overflows, as IEEE says)."""
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        return np.asarray(a, dtype=np.float64) / np.asarray(b, dtype=np.float64)


def log_ratio(measured: np.ndarray, bound: np.ndarray) -> np.ndarray:
    """How far ``measured`` is above ``bound``, on a log scale where possible.

    bound > 0: ln(measured/bound) (−inf when measured ≤ 0); bound = 0: ±inf by the sign of measured (0 at
    equality), the limit of ln(measured/b) as b → 0⁺ — a bound that underflows to 0 (e^{−1000ηt}) beside
    positive ones must rank at the end its true ratio has, not in the middle of theirs; bound < 0 (e.g.
    "≤ −1"): the signed excess (measured − bound)/max(|bound|, |measured|), in [−2, 2], 0 at equality.
    """
    m = np.asarray(measured, dtype=np.float64)
    b = np.asarray(bound, dtype=np.float64)
    m, b = np.broadcast_arrays(m, b)
    out = np.empty(m.shape)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        pos = b > 0
        out[pos] = np.where(m[pos] > 0, np.log(np.where(m[pos] > 0, m[pos], 1.0)) - np.log(b[pos]), -np.inf)
        zero = b == 0
        out[zero] = np.sign(m[zero]) * np.inf
        out[zero & (m == 0)] = 0.0
        nb = b < 0
        den = np.maximum(np.maximum(np.abs(b[nb]), np.abs(m[nb])), 1e-300)
        out[nb] = (m[nb] - b[nb]) / den
    out[np.isnan(m) | np.isnan(b)] = np.nan
    return out


def _loglog_points(x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """(ln x, ln y) over the finite positive points, or None when fewer than two distinct x remain."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = (x > 0) & (y > 0) & np.isfinite(x) & np.isfinite(y)
    if ok.sum() < 2 or np.ptp(np.log(x[ok])) == 0:
        return None
    return np.log(x[ok]), np.log(y[ok])


def loglog_fit(x: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """Least-squares line ln y ≈ a + s·ln x over the finite positive points: (s, the half-width of its 95 % interval).

    The half-width is t₀.₉₇₅(N−2)·√(Σrᵢ²/(N−2) / Σ(ln xᵢ − mean)²), rᵢ the residuals (Student's t with N − 2
    degrees of freedom).  It treats the residuals as noise; on a deterministic curve it measures how far the points
    are from a line (a curved log–log plot widens it).  NaN for N = 2 (a line through two points has no residual
    to judge it by); (NaN, NaN) for fewer than two distinct x."""
    pts = _loglog_points(x, y)
    if pts is None:
        return math.nan, math.nan
    lx, ly = pts
    slope, icpt = np.polyfit(lx, ly, 1)
    N = lx.size
    if N < 3:
        return float(slope), math.nan
    from scipy.stats import t as student

    resid = ly - (slope * lx + icpt)
    se = math.sqrt(float(resid @ resid) / (N - 2) / float(((lx - lx.mean()) ** 2).sum()))
    return float(slope), float(student.ppf(0.975, N - 2) * se)


def loglog_slope(x: np.ndarray, y: np.ndarray) -> float:
    """Least-squares slope of ln y against ln x (the observed order of a power law); with its interval:
    :func:`loglog_fit`."""
    pts = _loglog_points(x, y)
    return math.nan if pts is None else float(np.polyfit(*pts, 1)[0])


def log_grid_indices(T: int, points: int = 64, start: int = 1) -> np.ndarray:
    """About ``points`` log-spaced integers in [start, T] (unique, sorted)."""
    if T < start:
        return np.zeros(0, dtype=np.int64)
    g = np.unique(np.round(np.geomspace(start, T, points)).astype(np.int64))
    return g[(g >= start) & (g <= T)]


def jsonable(obj):
    """``obj`` with numpy scalars/arrays as Python values and non-finite floats as strings ("inf", "nan")."""
    if isinstance(obj, dict):
        return {str(k): jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [jsonable(v) for v in obj]
    if isinstance(obj, (np.floating, float)):
        v = float(obj)
        return v if math.isfinite(v) else str(v)
    if isinstance(obj, (np.integer,)):
        return int(obj)
    if isinstance(obj, np.ndarray):
        return jsonable(obj.tolist())
    return obj


def lost_to_float64(meas: np.ndarray, logm: np.ndarray) -> np.ndarray:
    """Bool: the measured value left float64's normal range (0, subnormal, ±inf) while its log record (``logm``,
    NaN where there is none) kept it: such a value is compared on its log, never on its float64 value."""
    meas, logm = np.asarray(meas, float), np.asarray(logm, float)
    with np.errstate(invalid="ignore"):
        return np.isfinite(logm) & ~(np.isfinite(meas) & (np.abs(meas) >= TINY))


def measurement_allowance(quantity: str, meas: np.ndarray, P: dict[str, np.ndarray]) -> np.ndarray:
    """Absolute floating-point allowance of a measured quantity (float64 records, u = EPS/2).

    Derivations (r = :func:`numerics.rel_allowance` (‖w‖) = FP_ULPS·EPS·(1 + ‖w‖), the relative error
    of a loss-derived value at an iterate of norm ‖w‖, since |ℓ′| ≤ ℓ gives δℓ/ℓ ≤ δz):

    * loss, final/max loss, exp_potential, grad_potential: |v|·r (exp_potential = e^{log_F} beyond float64 at a
      finite iterate: 0, the value is +inf as compared);
    * avg_loss(t), grad_potential_avg(t): a running sum of t positive terms, each with relative
      error r, accumulates at most (t−1)·u relative rounding, then one division: |v|·(r + t·EPS);
    * grad_norm(t) = ‖(1/n)Σ ℓ′ᵢ zᵢ‖: the sum of n vectors of norm ≤ |ℓ′ᵢ| has absolute error
      ≤ (n + d)·u·(1/n)Σ|ℓ′ᵢ| = (n + d)·u·G (‖zᵢ‖ ≤ 1), plus r relative for the ℓ′ᵢ:
      |v|·r + (n + d + 2)·EPS·G — absolute in G, because cancellation can make ‖∇L‖ ≪ G;
    * w_norm, margin(t): dot products/norms of length d at ‖w‖: FP_ULPS·EPS·(1 + ‖w‖) absolute;
      normalized_margin: FP_ULPS·EPS·(1 + |v|);
    * sharpness: |v|·r + FP_ULPS·EPS;
    * train_error, transition_time, last_increase: counts and step indices, compared exactly (a
      margin or loss within its allowance of the threshold could flip them; not covered);
    * a loss-like value (loss, its averages and extremes, grad_potential, exp_potential) computed below 2⁻¹⁰²²
      (:data:`TINY`, float64's smallest normal number: 0 or subnormal) has lost its relative precision
      (subnormal results round to multiples of 2⁻¹⁰⁷⁴; the loss at 6.2e-320 read 3e-3 off): its true value is below
      2·TINY (a true value above it would have been computed, with relative error r ≪ 1, above TINY), so 2·TINY
      absolute is added.  Where a log-domain record exists (loss, final/max loss, exp_potential), a witness is
      confirmed on it instead (:func:`properties.witness.confirm_point`), with the relative allowance r.

    What is not covered: the drift of the computed trajectory from exact-arithmetic GD; the
    statement is tested on the trajectory the engine computes (each step an exact GD step from the
    computed iterate up to the rounding above), which is what a user runs.
    """
    v = np.abs(np.asarray(meas, float))
    w = np.abs(np.asarray(P["_w"], float))
    base = _float_allowance(quantity, v, w, P)
    if quantity in LOSS_LIKE:
        return np.where(v < TINY, base + 2 * TINY, base)
    return base


def _float_allowance(quantity: str, v: np.ndarray, w: np.ndarray, P: dict[str, np.ndarray]) -> np.ndarray:
    r = rel_allowance(w)
    if quantity in ("avg_loss", "grad_potential_avg"):
        return v * average_allowance(P["t"], w)
    if quantity == "grad_norm":
        return v * r + (np.asarray(P["n"], float) + np.asarray(P["d"], float) + 2) * EPS * np.abs(P["_G"])
    if quantity in ("w_norm", "margin"):
        return FP_ULPS * EPS * (1.0 + w)
    if quantity == "normalized_margin":
        return FP_ULPS * EPS * (1.0 + v)
    if quantity == "sharpness":
        return v * r + FP_ULPS * EPS
    if quantity in ("train_error", "transition_time", "last_increase"):
        return np.zeros_like(v)
    if quantity == "exp_potential":
        # e^{log_F} overflowed from a finite log_F (1e4) at a finite iterate: a value beyond 1.8e308 for certain,
        # compared as +inf with no allowance (inf·r set every such point aside: an overflow acquitted).  A mean
        # that overflowed in float64 (the loss) is not: one term beyond 1.8e308 leaves the mean possibly below it
        with np.errstate(invalid="ignore"):
            return np.where(np.isinf(v) & np.isfinite(w), 0.0, v * r)
    return v * r
