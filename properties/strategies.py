"""Hypothesis strategies for instances of the theory: data, losses, stepsizes, GD set-ups.

Every strategy here builds *valid* instances **by construction**, never by
filtering (no ``.filter``/``assume``), so Hypothesis never wastes examples and
shrinks toward readable cases.

* :func:`separable_datasets` — data satisfying Assumption 1 of Wu et al.
  (COLT 2024): ‖xᵢ‖ ≤ ``norm_bound`` and a unit w* with ⟨yᵢxᵢ, w*⟩ ≥ γ.  It
  draws w*, places every signed point zᵢ = yᵢxᵢ = cᵢw* + rᵢvᵢ with cᵢ ≥ γ and
  vᵢ ⊥ w*, and rescales so that ‖xᵢ‖ ≤ ``norm_bound``.  A few *adversarial*
  points have their position drawn by Hypothesis (they shrink to "exactly on
  the margin, collinear with w*"), the bulk comes from a seeded numpy RNG
  (Hypothesis arrays are slow for large data).  The certified max margin γ*
  and its unit direction w* are attached (``meta["gamma_certified"]``,
  ``meta["w_star_certified"]``; read them with :func:`certificate`).
  Canonical cases are mixed in first, so shrinking lands on them: the paper's
  toy set (normalized), Theorem 3's two-point set, duplicated points,
  collinear points, a single point, a tiny margin, and Crawshaw–Liu's hard
  instance.
* :func:`losses` — built-in loss families with drawn parameters.
* :func:`stepsizes` / :func:`stepsize_batches` — log-uniform stepsizes, a
  batch of them for one batched GD run.
* :func:`initial_points`, :func:`gd_configs` — the GD configuration (steps, w₀).

Each argument may be a fixed value, a ``(lo, hi)`` range, or a strategy.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any, Mapping, Sequence

import numpy as np
from hypothesis import strategies as st
from hypothesis.errors import InvalidArgument
from hypothesis.strategies import SearchStrategy

from eoscheck._errors import EoscheckError
from eoscheck.datasets import Dataset, thm3, toy
from eoscheck import maxmargin
from eoscheck.losses import Loss, get_loss

from .numerics import EPS, FP_ULPS

#: Default ranges when an argument is left as ``None``.
DEFAULT_N = (1, 12)
DEFAULT_D = (1, 6)
DEFAULT_MARGIN = (0.02, 0.9)

#: Adversarial points drawn by Hypothesis per dataset (the rest is seeded bulk).
MAX_ADVERSARIAL = 4


# ---------------------------------------------------------------------------
# argument normalisation
# ---------------------------------------------------------------------------


def _fixed_values(v, name: str, lo: float, hi: float, integer: bool, what: str) -> None:
    """Refuse a fixed value or ``(lo, hi)`` range argument outside [lo, hi] (Hypothesis's
    :class:`~hypothesis.errors.InvalidArgument`, raised when the strategy is built)."""
    if v is None or isinstance(v, SearchStrategy):
        return
    vals = v if isinstance(v, tuple) else (v,)
    ok = len(vals) in (1, 2) and all(isinstance(x, (int, float, np.integer, np.floating)) and not isinstance(x, bool)
                                     and math.isfinite(x) and lo <= x <= hi and (not integer or x == int(x))
                                     for x in vals) and vals[0] <= vals[-1]
    if not ok:
        raise InvalidArgument(f"{name} must be {what}, a (lo, hi) range of them with lo ≤ hi, or a strategy; "
                              f"got {v!r}")


def _int_strategy(v, default: tuple[int, int]) -> SearchStrategy[int]:
    if v is None:
        v = default
    if isinstance(v, SearchStrategy):
        return v
    if isinstance(v, tuple):
        return st.integers(int(v[0]), int(v[1]))
    return st.just(int(v))


def log_uniform(lo: float, hi: float) -> SearchStrategy[float]:
    """Floats in [lo, hi] drawn uniformly in ln (shrinking toward ``lo``)."""
    lo, hi = float(lo), float(hi)
    if not (0 < lo <= hi):
        raise ValueError(f"log_uniform needs 0 < lo <= hi, got {lo}, {hi}")
    if lo == hi:
        return st.just(lo)
    span = math.log(hi) - math.log(lo)
    return st.floats(0.0, 1.0).map(lambda u: min(hi, max(lo, lo * math.exp(u * span))))


def _float_strategy(v, default: tuple[float, float]) -> SearchStrategy[float]:
    if v is None:
        v = default
    if isinstance(v, SearchStrategy):
        return v
    if isinstance(v, tuple):
        return log_uniform(*v)
    return st.just(float(v))


def _admits(v, value: float, default) -> bool:
    """Whether a fixed value/range argument admits ``value`` (strategies admit only explicitly)."""
    if v is None:
        v = default
    if isinstance(v, SearchStrategy):
        return False
    if isinstance(v, tuple):
        return v[0] <= value <= v[1]
    return value == v


# ---------------------------------------------------------------------------
# certificates
# ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Certificate:
    """A valid margin pair of Assumption 1B: unit ``w_star`` with minᵢ⟨yᵢxᵢ, w_star⟩ ≥ ``gamma``.

    ``gamma_hi`` is a certified upper bound on the max margin γ*: γ* ∈ [gamma, gamma_hi]
    (see :func:`certify`).  Built-in claims use the pair (gamma, w_star) as the theorem's
    Assumption-1 pair, which is valid; a statement about γ* itself (a user conjecture in
    ``gamma``) is evaluated over the whole interval.
    """

    gamma: float
    w_star: np.ndarray
    gamma_hi: float = math.inf


def certify(data: Dataset, candidates: Sequence[np.ndarray] = ()) -> Certificate:
    """γ* ∈ [gamma, gamma_hi]: the largest certified margin among the solver's w* and ``candidates``,
    and the duality bound of :class:`eoscheck.datasets.MaxMargin` (γ* ≤ mm.gamma + mm.gap, rounding included).

    Rounding of computing them (u = EPS/2, R = max‖zᵢ‖, n points, d dimensions):

    * lower end: the margin of a unit w is minᵢ fl(⟨zᵢ, w⟩), each dot product within
      d·u·‖zᵢ‖‖w‖ of the exact one, and ‖w‖ = 1 only up to d·u; so the exact margin of w/‖w‖ is
      ≥ the computed one − 2(d+2)·u·R.  We subtract max(FP_ULPS, 2(d+2))·EPS·R (≥ twice that);
    * upper end: mm.gamma + mm.gap, the duality bound of :func:`eoscheck.maxmargin.duality_upper`, rounding
      included.
    The solver's w* enters by its computed margin, like a candidate (mm.gamma is that margin less
    :func:`eoscheck.maxmargin.margin_allowance`, the smaller allowance of the two).
    """
    Z = data.Z
    best = data.max_margin()
    w = best.w_star
    g = float((Z @ w).min()) if np.any(w) else best.gamma
    for c in candidates:
        c = np.asarray(c, dtype=np.float64)
        c = c / np.linalg.norm(c)
        gc = float((Z @ c).min())
        if gc > g:
            g, w = gc, c
    d = Z.shape[1]
    R = max(1.0, data.max_norm)
    lo = float(g - margin_allowance(d, R))
    hi = float(best.gamma + best.gap) if best.gamma > 0 else math.inf
    return Certificate(gamma=lo, w_star=np.asarray(w, dtype=np.float64), gamma_hi=max(hi, lo))


def margin_allowance(d, R: float):
    """What :func:`certify` subtracts from a computed margin minᵢ fl(⟨zᵢ, w⟩) of a unit w: max(FP_ULPS,
    2(d+2))·EPS·R, at least twice the 2(d+2)·u·R that rounding can move it (u = EPS/2); ``d`` a number or an
    array of them."""
    return np.maximum(FP_ULPS * EPS * R, maxmargin.margin_allowance(d, R))


def certificate(data: Dataset) -> Certificate:
    """The certificate attached by the strategies when it is this data's, or one computed now (any data).

    An attached lower end γ is kept when, with m = minᵢ fl(⟨zᵢ, ŵ⟩) of its unit w* on this data and a =
    :func:`margin_allowance`, m − 2a ≤ γ ≤ m − a/2: the exact margin of ŵ is ≥ m − a/2, so γ is a valid
    margin here, and γ ≥ m − 2a says these are the points it was certified for (it was m − a, up to the
    rounding of m), so its upper end holds too.  Data rebuilt from a printed example (8 digits) kept the
    original's certificate, a margin the rounded points need not have: they are certified anew."""
    meta = data.meta
    if "gamma_certified" in meta and "w_star_certified" in meta:
        w = np.asarray(meta["w_star_certified"], dtype=np.float64)
        Z = data.Z
        if w.shape == (Z.shape[1],) and np.all(np.isfinite(w)) and np.linalg.norm(w) > 0:
            m = float((Z @ (w / np.linalg.norm(w))).min())
            a = margin_allowance(Z.shape[1], max(1.0, data.max_norm))
            if m - 2 * a <= float(meta["gamma_certified"]) <= m - a / 2:
                hi = (float(meta["gamma_certified_hi"]) if "gamma_certified_hi" in meta   # else: written before
                      else certify(data).gamma_hi)                                         # gamma_hi existed
                return Certificate(float(meta["gamma_certified"]), w, hi)
    return certify(data)


def rebuild(meta: Mapping[str, Any]) -> Dataset:
    """The dataset a :func:`separable_datasets` draw made, bit for bit, from its ``meta`` (a falsifying
    example's repr shows it): :func:`build_separable` with the recorded arguments, or the canonical case its
    ``canonical`` entry names (``toy-normalized``, ``thm3(gamma=0.05)``, …), certified as drawn."""
    if isinstance(meta, Mapping) and meta.get("canonical") is not None:
        found = [c for c in _canonical() if c.name == meta["canonical"]]
        if not found:
            raise EoscheckError(f"rebuild: no canonical case is named {meta['canonical']!r}; they are "
                                f"{', '.join(c.name for c in _canonical())}")
        return found[0]
    if not isinstance(meta, Mapping) or meta.get("source") != "eoscheck.properties.strategies.build_separable":
        raise EoscheckError("rebuild takes the meta of a drawn dataset (source build_separable, or a canonical "
                            "case's, which names it)")
    return build_separable(int(meta["n"]), int(meta["d"]), float(meta["margin_lower"]), int(meta["seed"]),
                           float(meta["norm_bound"]), [tuple(a) for a in meta["adversarial"]],
                           bool(meta["axis_aligned"]), bool(meta.get("pin_margin", False)))


def with_certificate(data: Dataset, candidates: Sequence[np.ndarray] = (), **meta) -> Dataset:
    """``data`` with its certificate (and ``meta``) stored in ``meta``."""
    cert = certify(data, candidates)
    m = dict(data.meta, gamma_certified=cert.gamma, gamma_certified_hi=cert.gamma_hi,
             w_star_certified=cert.w_star.tolist(), **meta)
    return Dataset(data.X, data.y, name=data.name, meta=m)


# ---------------------------------------------------------------------------
# canonical cases
# ---------------------------------------------------------------------------


def duplicated_points() -> Dataset:
    """Two signed points, each repeated three times (duplicates must change nothing but n)."""
    a = math.sqrt(1 - 0.1**2)
    X = np.array([[0.1, a], [0.1, -a]] * 3)
    return Dataset(X, np.ones(6), name="duplicated", meta={"source": "canonical: duplicated points"})


def collinear_points() -> Dataset:
    """Three points on one ray from the origin (γ* = the smallest norm, 0.2)."""
    u = np.array([0.6, 0.8])
    y = np.array([1.0, -1.0, 1.0])
    Z = np.array([0.2, 0.6, 1.0])[:, None] * u  # signed points yᵢxᵢ on one ray
    return Dataset(y[:, None] * Z, y, name="collinear", meta={"source": "canonical: collinear points"})


def single_point() -> Dataset:
    """One point, x = (0.3, 0.4), y = +1: γ* = ‖x‖ = 0.5."""
    return Dataset(np.array([[0.3, 0.4]]), np.array([1.0]), name="single", meta={"source": "canonical: one point"})


def tiny_margin(gamma: float = 0.003) -> Dataset:
    """Four points two of which sit at margin ``gamma`` with opposite orthogonal parts."""
    a = math.sqrt(1 - gamma**2)
    X = np.array([[gamma, a], [gamma, -a], [0.5, 0.5], [0.9, -0.1]])
    return Dataset(X, np.ones(4), name=f"tiny_margin({gamma:g})", meta={"source": "canonical: tiny margin"})


def crawshaw_liu_hard(n: int = 6, gamma: float = 0.1) -> Dataset:
    """Crawshaw & Liu's hard instance 1: x₁ = (γ, −γ), xᵢ = (γ, √(1−γ²)) for i ≥ 2 (§9.5)."""
    X = np.array([[gamma, -gamma]] + [[gamma, math.sqrt(1 - gamma**2)]] * (n - 1))
    return Dataset(X, np.ones(n), name=f"crawshaw_liu_hard(n={n},gamma={gamma:g})",
                   meta={"source": "Crawshaw & Liu (COLT 2026), Theorem 3.1, hard instance 1"})


def canonical_datasets() -> list[Dataset]:
    """The canonical cases, readable first (each certified)."""
    cases = [
        toy(normalized=True),
        thm3(0.05),
        thm3(0.01),
        duplicated_points(),
        collinear_points(),
        single_point(),
        tiny_margin(),
        crawshaw_liu_hard(),
    ]
    return [with_certificate(c, canonical=c.name) for c in cases]


_CANONICAL: list[Dataset] | None = None


def canonical_cases() -> list[Dataset]:
    """The canonical datasets (cached), certified."""
    return list(_canonical())


def admits(data: Dataset, n=None, d=None, margin=None) -> bool:
    """Whether ``data`` fits fixed/range arguments of :func:`separable_datasets`."""
    return (_admits(n, data.n, DEFAULT_N) and _admits(d, data.d, DEFAULT_D)
            and _admits_margin(margin, certificate(data).gamma))


def _canonical() -> list[Dataset]:
    global _CANONICAL
    if _CANONICAL is None:
        _CANONICAL = canonical_datasets()
    return _CANONICAL


# ---------------------------------------------------------------------------
# constructed separable data
# ---------------------------------------------------------------------------


def build_separable(n: int, d: int, gamma: float, seed: int, norm_bound: float = 1.0,
                    adversarial: Sequence[tuple[float, float, bool]] = (), axis_aligned: bool = False,
                    pin_margin: bool = False) -> Dataset:
    """Separable data by construction (the engine behind :func:`separable_datasets`).

    zᵢ = cᵢw* + rᵢvᵢ with cᵢ ∈ [γ, R], vᵢ a unit vector ⊥ w*, rᵢ ≤ √(R² − cᵢ²)
    (R = ``norm_bound``), yᵢ = ±1, xᵢ = yᵢzᵢ; then a rescale by R/max‖xᵢ‖ if
    rounding pushed a norm above R.  ``adversarial`` lists (u, ρ, label) for the
    first points: cᵢ = γ + (R − γ)u and rᵢ = ρ√(R² − cᵢ²); the bulk uses the RNG.
    ``pin_margin`` (n, d ≥ 2, no ``adversarial``): the last two points sit at cᵢ = γ with opposite
    orthogonal parts, so their midpoint γw* lies in conv{zᵢ} and γ* = γ exactly (otherwise γ* ≥ γ, often
    far above: drawn for γ = 0.05, γ* = 0.34 happens), as :func:`eoscheck.datasets.synthetic` does.
    """
    R = float(norm_bound)
    gamma = min(float(gamma), R)
    rng = np.random.default_rng(seed)
    if axis_aligned:
        w = np.zeros(d)
        w[0] = 1.0
    else:
        w = rng.standard_normal(d)
        w /= np.linalg.norm(w)
    c = gamma + (R - gamma) * rng.random(n) ** 2
    rho = rng.random(n) ** 0.5
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    for i, (u, r, lab) in enumerate(adversarial[:n]):
        c[i] = gamma + (R - gamma) * u
        rho[i] = r
        y[i] = 1.0 if lab else -1.0
    if n == 1 or d == 1:
        # one point, or all on one line: γ* = min cᵢ exactly, so the smallest is pinned to γ (the draw stays in
        # the user's --gamma range: one point x = 0.119 drawn for γ ≤ 0.1 had γ* = 0.119)
        c[int(np.argmin(c))] = gamma
    V = rng.standard_normal((n, d))
    V -= np.outer(V @ w, w)
    norms = np.linalg.norm(V, axis=1, keepdims=True)
    V = np.where(norms > 1e-12, V / np.maximum(norms, 1e-300), 0.0)
    pinned = pin_margin and n >= 2 and d >= 2 and not adversarial
    if pinned:         # z_{n−2} + z_{n−1} = 2γw*: the max margin is γ exactly
        c[-2:], rho[-2:] = gamma, 0.5
        V[-1] = -V[-2]
    r = rho * np.sqrt(np.clip(R**2 - c**2, 0.0, None))
    if d == 1 or n == 1:   # one point: γ* = ‖z‖, so it lies on w* (r = 0) for γ* = c = γ
        r = np.zeros(n)
    Z = c[:, None] * w + r[:, None] * V
    X = y[:, None] * Z
    top = float(np.sqrt((X**2).sum(axis=1)).max())
    if top > R:
        X = X * (R / top)
    meta = {"source": "eoscheck.properties.strategies.build_separable", "n": n, "d": d,
            "margin_lower": gamma, "seed": seed, "norm_bound": R, "adversarial": [list(a) for a in adversarial[:n]],
            "axis_aligned": axis_aligned, **({"pin_margin": True} if pinned else {})}
    data = Dataset(X, y, name=f"separable(n={n},d={d},margin={gamma:.3g},seed={seed})", meta=meta)
    return with_certificate(data, candidates=[w])


def separable_datasets(*, n=None, d=None, margin=None, norm_bound: float = 1.0,
                       canonical: bool | None = None, seeds: SearchStrategy[int] | None = None
                       ) -> SearchStrategy[Dataset]:
    """Datasets satisfying Assumption 1 by construction, with γ* and w* certified.

    Args:
      n, d: sample count and dimension — an int, an ``(lo, hi)`` range or a strategy
        (defaults :data:`DEFAULT_N`, :data:`DEFAULT_D`).
      margin: the margin γ every point respects (≥ γ from the hyperplane ⊥ w*); a float,
        a ``(lo, hi)`` range (log-uniform) or a strategy (default :data:`DEFAULT_MARGIN`).
      norm_bound: R with ‖xᵢ‖ ≤ R (Assumption 1A has R = 1).
      canonical: mix in the canonical cases (toy, Theorem 3, duplicated, collinear,
        single point, tiny margin, Crawshaw–Liu) that fit the fixed values/ranges given;
        ``None`` = yes unless an argument is a strategy.
      seeds: the strategy of the bulk RNG seed (default: 32-bit integers).

    The certified (γ*, w*) is in ``meta`` (see :func:`certificate`).  ``margin`` is what the construction
    draws and every point respects: the max margin γ* is at least it (its certified lower end may sit a few
    ulps below, the certificate's rounding allowance) and may exceed ``hi`` — 18 % of draws with
    ``margin=(0.05, 0.5)`` had γ* > 0.5; the canonical cases are admitted only with γ* inside the range.
    Both are valid margins, γ* gives the tightest bounds; to keep γ* itself in a range, filter on
    ``certificate(data).gamma``.
    """
    if not (isinstance(norm_bound, (int, float)) and math.isfinite(norm_bound) and norm_bound > 0):
        raise InvalidArgument(f"norm_bound must be a positive number, got {norm_bound!r}")
    _fixed_values(n, "n", 1, math.inf, True, "a positive integer")
    _fixed_values(d, "d", 1, math.inf, True, "a positive integer")
    _fixed_values(margin, "margin", np.nextafter(0.0, 1.0), float(norm_bound), False,
                  f"a number in (0, norm_bound = {norm_bound:g}]")
    n_st, d_st, g_st = _int_strategy(n, DEFAULT_N), _int_strategy(d, DEFAULT_D), _float_strategy(margin, DEFAULT_MARGIN)
    seed_st = seeds if seeds is not None else st.integers(0, 2**32 - 1)

    @st.composite
    def constructed(draw) -> Dataset:
        nn, dd = draw(n_st), draw(d_st)
        gamma = draw(g_st)
        k = draw(st.integers(0, min(nn, MAX_ADVERSARIAL)))
        adv = [(draw(st.floats(0.0, 1.0)), draw(st.floats(0.0, 1.0)), draw(st.booleans())) for _ in range(k)]
        axis = draw(st.booleans())
        return build_separable(nn, dd, gamma, draw(seed_st), norm_bound, adv, axis_aligned=axis)

    use_canonical = canonical
    if use_canonical is None:
        use_canonical = not any(isinstance(v, SearchStrategy) for v in (n, d, margin))
    fits = []
    if use_canonical and norm_bound >= 1.0:
        for c in _canonical():
            g = certificate(c).gamma
            if _admits(n, c.n, DEFAULT_N) and _admits(d, c.d, DEFAULT_D) and _admits_margin(margin, g):
                fits.append(c)
    if not fits:
        return constructed()
    # canonical first: sampled_from shrinks to index 0, and "canonical" is the first branch
    return st.integers(0, 3).flatmap(lambda b: st.sampled_from(fits) if b == 0 else constructed())


def _admits_margin(margin, g: float) -> bool:
    if margin is None:
        return True  # the default range is only a default for constructed data
    if isinstance(margin, SearchStrategy):
        return False
    # a certified γ* sits a few ulps below the exact margin (numerics.FP_ULPS): compare with that slack
    slack = 1 - 1e-9
    if isinstance(margin, tuple):
        return margin[0] * slack <= g <= margin[1]
    return g >= float(margin) * slack


# ---------------------------------------------------------------------------
# losses, stepsizes, GD configuration
# ---------------------------------------------------------------------------

#: Families a loss strategy may draw and whether they take a parameter ``a``.
LOSS_FAMILIES = {"logistic": False, "flat_exp": True, "flat_poly": True, "exponential": False, "poly_tail": False}


def loss_spec(loss: Loss) -> str:
    """A string :func:`eoscheck.losses.get_loss` turns back into ``loss`` (exact float repr)."""
    if loss.family in LOSS_FAMILIES:
        if loss.params:
            return loss.family + ":" + ",".join(f"{k}={float(v)!r}" for k, v in loss.params.items())
        return loss.family
    return loss.name


def losses(families: Sequence[str] = ("logistic", "flat_exp", "flat_poly"),
           a=(0.5, 3.0)) -> SearchStrategy[Loss]:
    """Built-in losses: one of ``families``, with the parameter a drawn from ``a``.

    ``a`` is a value, a ``(lo, hi)`` range (log-uniform) or a strategy.  A drawn a is
    rounded to a multiple of 1/16 (kept inside the range): the loss carries a as an exact
    sympy number, and symbolic work on it (ρ in closed form) stays small that way.  The
    exponential loss is excluded by default: it violates Assumption 3B.
    """
    unknown = set(families) - set(LOSS_FAMILIES)
    if unknown:
        raise ValueError(f"unknown loss families {sorted(unknown)}")
    a_st = _float_strategy(a, (0.5, 3.0))
    if isinstance(a, tuple):
        lo, hi = float(a[0]), float(a[1])
        a_st = a_st.map(lambda v: min(hi, max(lo, round(v * 16) / 16)) if round(v * 16) else lo)

    def build(fam: str) -> SearchStrategy[Loss]:
        if LOSS_FAMILIES[fam]:
            return a_st.map(lambda v, f=fam: get_loss(f, a=float(v)))
        return st.just(get_loss(fam))

    return st.sampled_from(list(families)).flatmap(build)


def stepsizes(lo: float, hi: float) -> SearchStrategy[float]:
    """A stepsize η drawn log-uniformly from [lo, hi]."""
    return log_uniform(lo, hi)


def stepsize_batches(lo: float, hi: float, size=8, drawn: int = 2) -> SearchStrategy[tuple[float, ...]]:
    """A sorted batch of distinct stepsizes in [lo, hi] for one batched GD run.

    ``size`` − ``drawn`` of them form a log grid with a Hypothesis-drawn offset;
    ``drawn`` more are drawn individually (the adversarial ones); when ``size`` ≤ ``drawn``,
    one grid point and ``size`` − 1 drawn.  At most ``size`` (fewer where two coincide).
    ``size`` is a positive int or a strategy of them.
    """
    if not (0 < lo <= hi < math.inf):
        raise InvalidArgument(f"stepsize_batches needs 0 < lo ≤ hi < ∞, got lo={lo!r}, hi={hi!r}")
    _fixed_values(size, "size", 1, math.inf, True, "a positive integer")
    _fixed_values(drawn, "drawn", 0, math.inf, True, "a non-negative integer")
    size_st = _int_strategy(size, (size, size)) if not isinstance(size, int) else st.just(size)

    @st.composite
    def batch(draw) -> tuple[float, ...]:
        k = draw(size_st)
        extra_n = min(drawn, k - 1)
        m = k - extra_n
        off = draw(st.floats(0.0, 1.0))
        span = math.log(hi / lo)
        grid = [lo * math.exp(span * min(1.0, (i + off) / m)) for i in range(m)] if hi > lo else [lo]
        extra = [draw(stepsizes(lo, hi)) for _ in range(extra_n)]
        vals = sorted({float(min(hi, max(lo, e))) for e in grid + extra})
        return tuple(vals)

    return batch()


def initial_points(d: int, scale=(0.0, 3.0)) -> SearchStrategy[np.ndarray]:
    """w₀ ∈ ℝᵈ: a random direction (seeded) times a Hypothesis-drawn norm in ``scale`` (0 shrinks first)."""
    lo, hi = scale

    @st.composite
    def point(draw) -> np.ndarray:
        r = draw(st.floats(float(lo), float(hi)))
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        v = rng.standard_normal(d)
        return r * v / np.linalg.norm(v)

    return point()


@dataclass(frozen=True)
class GDConfig:
    """Steps T and initial point w₀ (``None`` = 0, the paper's choice)."""

    steps: int
    w0: tuple[float, ...] | None = None


def gd_configs(d: int, steps=(200, 2000), w0: bool = False, w0_scale=(0.0, 3.0)) -> SearchStrategy[GDConfig]:
    """GD configurations for data of dimension ``d``: T from ``steps``; w₀ = 0 unless ``w0``."""
    steps_st = _int_strategy(steps, steps if isinstance(steps, tuple) else (steps, steps))

    @st.composite
    def cfg(draw) -> GDConfig:
        T = draw(steps_st)
        if not w0:
            return GDConfig(T)
        return GDConfig(T, tuple(float(v) for v in draw(initial_points(d, w0_scale))))

    return cfg()
