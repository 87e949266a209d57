"""The claims registry: one :class:`Claim` per checkable statement of the theory (paper §10).

A claim states its quantity, direction, domain and assumptions, links to its
bound in :mod:`eoscheck.bounds` by id, says whether it is **exact** (explicit
constants: a violation beyond the floating-point allowance falsifies it) or
**asymptotic** (Θ/O/Ω with an unknown constant: checked with fitted constants
and scaling regressions), and carries the two functions that make it checkable:

* ``strategy(budget)`` — a Hypothesis strategy of :class:`Instance` s,
* ``evaluate(instance)`` — an :class:`Evaluation`: measured values next to the
  bound at every observed point (every η of the batch, every t, …).

Modules register claims with :func:`register` or the :func:`claim` decorator::

    @claim("thm6.lazy", title="‖w_t − w₀‖ stays within the lazy radius", source="Theorem 6", row=24,
           kind="exact", quantity="‖w_t − w₀‖", direction="<=", bound=theorem6.LAZY_RADIUS,
           models=("ntk",), strategy=my_strategy)
    def lazy(instance): ...

:func:`load_claims` imports the claim modules (:data:`CLAIM_MODULES`, one per statement), so
``eoscheck check`` picks them up.  A claim that cannot be checked on the implemented models is
registered with ``unavailable="why"`` and reported as such, never skipped silently.
"""

from __future__ import annotations

import importlib
import math
from dataclasses import dataclass, field
from typing import Any, Callable, Mapping

import numpy as np

from .numerics import log_ratio, safe_div

KINDS = ("exact", "asymptotic", "heuristic", "probabilistic", "qualitative")
DIRECTIONS = ("<=", ">=")


@dataclass(frozen=True)
class Budget:
    """Sizes a strategy may use, set by the profile (``ci`` smallest, ``thorough`` largest).

    ``scale`` multiplies steps and ranges: ci 1, dev 2, thorough 8.
    """

    name: str = "ci"
    scale: float = 1.0

    def steps(self, base: int, cap: int | None = None) -> int:
        s = int(round(base * self.scale))
        return min(s, cap) if cap else s


def limit(bound, allowance, direction: str, constant: float = 1.0, margin: float = 0.0):
    """What a measured value is compared with: B = constant·bound loosened by the factor (1+margin) — B·(1+margin)
    for ``<=`` and B/(1+margin) for ``>=`` where B ≥ 0, the other way round where B < 0 (a negative lower bound
    −10 loosens to −20, not to −5: ``margin(t) >= -C*eta*t`` was convicted at −5.6 ≥ −10) — plus the allowance
    for ``<=``, minus it for ``>=`` (:meth:`Evaluation.violations`; numpy arrays or scalars, sympy Floats too)."""
    b = constant * bound
    up = direction == "<="
    if margin:
        mul, div = b * (1 + margin), b / (1 + margin)
        if isinstance(b, np.ndarray):
            b = np.where((b >= 0) == up, mul, div)
        else:
            b = mul if (b >= 0) == up else div
    return b + allowance if up else b - allowance


def loosened(direction: str, negative: bool, margin: float, scaled: str = "EXPR") -> str:
    """The text of :func:`limit`'s loosening: "EXPR·(1+1)" or "EXPR/(1+1)"."""
    return f"{scaled}·(1+{margin:g})" if (direction == "<=") != negative else f"{scaled}/(1+{margin:g})"


def compared_text(point: dict[str, Any], direction: str, constant: float = 1.0, margin: float = 0.0,
                  digits: int = 6, name: str = "shape") -> str:
    """"measured M vs bound B", or with a fitted constant or a margin "measured M vs limit L (C·shape·(1+margin) +
    allowance, C = …; shape = B)": the value a witness broke, not the point's constant-free ``bound``
    (``name``: what that ``bound`` is, "shape" for a fitted claim, "EXPR" for a conjecture)."""
    m, b = point.get("measured"), point.get("bound")
    if "measured_40" in point:   # a value float64 lost (a loss 0, an F inf), compared on its log record at 40 digits
        f = (lambda k: value_text(point, k, digits))
        return f"measured {f('measured')} vs limit {f('limit')} ({name} = {f('bound')}; at 40 digits, the measured " \
               "value beyond float64)"

    if constant == 1.0 and margin == 0.0:
        return f"measured {m:.{digits}g} vs bound {b:.{digits}g}"
    lim = point.get("limit")            # a conjecture's witness: its limit at 40 digits
    lim = limit(b, point.get("allowance", 0.0), direction, constant, margin) if lim is None else lim
    scaled = name if constant == 1.0 else f"C·{name}"
    form = loosened(direction, constant * b < 0, margin, scaled) + (" + allowance" if direction == "<=" else
                                                                   " − allowance")
    const = "" if constant == 1.0 else f", C = {constant:.{digits}g}"
    return f"measured {m:.{digits}g} vs limit {lim:.{digits}g} ({form}{const}; {name} = {b:.{digits}g})"


def value_text(point: dict[str, Any], key: str, digits: int = 9) -> str:
    """A witness's ``key`` (measured, bound, limit, allowance) to ``digits`` digits: its 40-digit value where the point
    holds one (a value float64 lost, compared on its log record), else its float64 value."""
    if key + "_40" in point and "measured_40" in point:
        import mpmath

        return mpmath.nstr(mpmath.mpf(point[key + "_40"]), digits)
    return f"{point[key]:.{digits}g}"


def score(measured, bound, direction: str, constant: float = 1.0):
    """How close a point is to violation: ln(measured/(C·bound)), sign flipped for ``>=``."""
    lr = log_ratio(measured, constant * np.asarray(bound, dtype=np.float64))
    return lr if direction == "<=" else -lr


class NaNPoint(ArithmeticError):
    """An :class:`Evaluation` point whose measured value or bound is NaN: the check stops with verdict ``error``
    (properties/README.md, "The floating-point allowance")."""


@dataclass
class Evaluation:
    """Measured values against the bound at N observed points (arrays of shape (N,)).

    ``holds`` means measured ≤ bound + allowance (direction ``<=``) or
    measured ≥ bound − allowance (``>=``), at every point.  ``params`` holds the
    parameters of each point (eta, t, n, d, gamma, s, …) for reports and the
    scaling regressions.  ``inconclusive`` counts points the run could not decide
    (e.g. a hitting time not reached within T < τ); ``unfalsifiable`` counts decided points whose every
    possible outcome agrees with the claim whatever the constant (a hitting condition met by w₀ itself), and
    :meth:`vacuous` adds those that agree at the constant checked (a first time looked for up to a horizon T
    below its limit); ``notes`` are shown in reports.
    """

    measured: np.ndarray
    bound: np.ndarray
    allowance: np.ndarray | float = 0.0
    direction: str = "<="
    params: dict[str, np.ndarray] = field(default_factory=dict)
    inconclusive: int = 0
    unfalsifiable: int = 0
    notes: list[str] = field(default_factory=list)
    #: optional per-point "best constant" (how loose the claim is) and its meaning
    best: np.ndarray | None = None
    best_meaning: str = ""
    best_reduce: str = "max"
    #: a strict statement (< or >): reaching the limit is a violation, not only passing it
    strict: bool = False
    #: points compared in the log domain, where float64 lost the measured value but a log record kept it (a loss 0, an
    #: F inf): {"m": ln measured (NaN: the point is compared in float64), "b": ln bound (−inf where the bound is ≤ 0),
    #: "r": the measured value's relative allowance}
    log_domain: dict[str, np.ndarray] | None = None

    def __post_init__(self) -> None:
        self.measured = np.atleast_1d(np.asarray(self.measured, dtype=np.float64))
        self.bound = np.broadcast_to(np.asarray(self.bound, dtype=np.float64), self.measured.shape).copy()
        self.allowance = np.broadcast_to(np.asarray(self.allowance, dtype=np.float64), self.measured.shape).copy()
        self.params = {k: np.broadcast_to(np.asarray(v), self.measured.shape).copy() for k, v in self.params.items()}
        if self.log_domain is not None:
            self.log_domain = {k: np.broadcast_to(np.asarray(v, np.float64), self.measured.shape).copy()
                               for k, v in self.log_domain.items()}
        if self.direction not in DIRECTIONS:
            raise ValueError(f"direction must be one of {DIRECTIONS}")
        nan = np.isnan(self.measured) | np.isnan(self.bound)
        if nan.any():
            # never let NaN pass silently, and never let it convict: a NaN is the arithmetic failing, not the theorem
            i = int(np.flatnonzero(nan)[0])
            where = ", ".join(f"{k} = {_scalar(v[i])}" for k, v in self.params.items() if not k.startswith("_"))
            what = "measurement" if np.isnan(self.measured[i]) else "bound"
            raise NaNPoint(f"{int(nan.sum())} point(s) with a NaN {what} (the first at {where or 'point ' + str(i)}): "
                           "a run or an evaluation that is not finite where the claim's hypotheses make it finite — a "
                           "numerics failure to investigate, neither a witness against the statement nor evidence for it")

    @property
    def size(self) -> int:
        return int(self.measured.size)

    def violations(self, constant: float = 1.0, margin: float = 0.0) -> np.ndarray:
        """Bool (N,): the point breaks ``measured ≤ constant·bound·(1+margin) + allowance``, or for ``>=``
        ``measured ≥ constant·bound/(1+margin) − allowance`` (the same factor on the other side: with
        margin 1 a fitted lower bound may be beaten by a factor 2, not made vacuous by (1 − 1) = 0)."""
        lim = limit(self.bound, self.allowance, self.direction, constant, margin)
        if self.strict:
            out = ~(self.measured < lim) if self.direction == "<=" else ~(self.measured > lim)
        else:
            out = ~(self.measured <= lim) if self.direction == "<=" else ~(self.measured >= lim)
        L = self.log_domain
        use = np.zeros(out.shape, bool) if L is None else np.isfinite(L["m"])
        if use.any():
            # m ≤ C·b·(1+margin) + m·r  ⟺  ln m + ln(1 − r) ≤ ln b + ln C + ln(1+margin) (b ≤ 0: ln b = −∞, so ≤ fails
            # and ≥ holds, as in float64); ≥ mirrored
            lm, r, lg = L["m"][use], L["r"][use], math.log1p(margin)
            with np.errstate(invalid="ignore", divide="ignore"):
                lb = L["b"][use] + math.log(constant)
                if self.direction == "<=":
                    lhs, rhs = lm + np.log1p(-r), lb + lg
                    out[use] = lhs >= rhs if self.strict else lhs > rhs
                else:
                    lhs, rhs = lm + np.log1p(r), lb - lg
                    out[use] = lhs <= rhs if self.strict else lhs < rhs
        return out

    def holds(self, constant: float = 1.0, margin: float = 0.0) -> bool:
        return not bool(self.violations(constant, margin).any())

    def vacuous(self, constant: float = 1.0, margin: float = 0.0) -> int:
        """The decided points that could not have contradicted the claim at ``constant``: ``unfalsifiable``, and for
        an upper bound on a first time looked for up to T = ``params["_horizon"]`` (one not seen is measured T + 1)
        the points whose limit is ≥ T + 1: a time seen by T passes there, and so does one not seen."""
        T = self.params.get("_horizon")
        if T is None or self.direction != "<=":
            return self.unfalsifiable
        lim = limit(self.bound, self.allowance, "<=", constant, margin)
        top = T + 1.0
        return self.unfalsifiable + int(np.sum((top < lim) if self.strict else (top <= lim)))

    def ratios(self) -> np.ndarray:
        """measured / bound at every point."""
        return safe_div(self.measured, self.bound)

    def scores(self, constant: float = 1.0) -> np.ndarray:
        """How close each point is to violation (:func:`score`)."""
        return score(self.measured, self.bound, self.direction, constant)

    def worst_index(self, constant: float = 1.0) -> int | None:
        if self.size == 0:
            return None
        sc = self.scores(constant)
        sc = np.where(np.isnan(sc), np.inf, sc)
        return int(np.argmax(sc))

    def point(self, i: int) -> dict[str, Any]:
        """The i-th point as a dict (measured, bound, ratio, parameters)."""
        r = float(self.ratios()[i]) if self.bound[i] != 0 else None
        out = {"measured": float(self.measured[i]), "bound": float(self.bound[i]),
               "ratio": r, "allowance": float(self.allowance[i])}
        out.update({k: _scalar(v[i]) for k, v in self.params.items() if not k.startswith("_")})
        return out

    @staticmethod
    def concat(evals: list["Evaluation"]) -> "Evaluation":
        """Join evaluations of the same claim (same direction)."""
        evals = [e for e in evals if e is not None]
        if not evals:
            return Evaluation(np.zeros(0), np.zeros(0))
        keys = set.intersection(*(set(e.params) for e in evals)) if evals else set()
        best = None
        if all(e.best is not None for e in evals):
            best = np.concatenate([np.atleast_1d(e.best) for e in evals])
        return Evaluation(
            measured=np.concatenate([e.measured for e in evals]),
            bound=np.concatenate([e.bound for e in evals]),
            allowance=np.concatenate([e.allowance for e in evals]),
            direction=evals[0].direction,
            params={k: np.concatenate([e.params[k] for e in evals]) for k in keys},
            inconclusive=sum(e.inconclusive for e in evals),
            unfalsifiable=sum(e.unfalsifiable for e in evals),
            notes=[n for e in evals for n in e.notes],
            best=best, best_meaning=evals[0].best_meaning, best_reduce=evals[0].best_reduce,
            log_domain=None if all(e.log_domain is None for e in evals) else
            {k: np.concatenate([np.full(e.size, np.nan) if e.log_domain is None else e.log_domain[k] for e in evals])
             for k in ("m", "b", "r")},
        )


def _scalar(v):
    v = np.asarray(v).item()
    if isinstance(v, float) and math.isfinite(v) and v == int(v) and abs(v) < 2**53:
        return v
    return v


@dataclass(frozen=True)
class FitSpec:
    """How an asymptotic claim is fitted (see :mod:`eoscheck.properties.fitted`).

    Attributes:
      shape: the bound's shape without its unknown constant, in words (e.g. "1/t").
      constant: the name of the unknown constant (e.g. "c0").
      calibration: () → list of instances, the documented calibration sweep.
      calibration_doc: the sweep in words (stored with the fitted constant).
      ladders: parameter name → (budget → list of instances) or (that function, judged),
        geometric ladders for the scaling regression of ln(measured/bound) on
        ln(parameter) (the parameter is read from the evaluation's ``params``);
        ``judged=False`` reports the slope without judging it (e.g. where the theory
        lets the constant depend on that parameter).
      predicted_slopes: for rate claims, parameter → the slope of ln(measured) the
        theory predicts (reported next to the observed one).
      margin: the verification margin: measured ≤ C_fit·bound·(1 + margin).
      slope_tol: a ladder slope of ln(ratio) above this (below −this for lower
        bounds) toward the asymptotic regime, over the far half of the ladder and
        its far quarter, is a falsification.
    """

    shape: str
    constant: str
    calibration: Callable[[], list]
    calibration_doc: str
    ladders: Mapping[str, Callable[[], list]] = field(default_factory=dict)
    predicted_slopes: Mapping[str, float] = field(default_factory=dict)
    margin: float = 1.0
    slope_tol: float = 0.1


@dataclass(frozen=True)
class Claim:
    """One checkable statement (see the module docstring).

    Attributes:
      id: unique id, e.g. ``"thm1.eos_average"`` (a claim is usually named after its bound).
      title: the statement in one line.
      source: where it comes from (theorem/lemma, paper section).
      row: its row in paper §10 (``None`` if it is not a row of that table).
      kind: ``exact``, ``asymptotic``, ``heuristic`` (a warning, never a failure),
        ``probabilistic`` (a frequency test), or ``qualitative``.
      quantity, direction, domain: what is compared, ``<=``/``>=``, and where it is claimed.
      assumptions: e.g. ("Assumption 1", "logistic loss", "w0 = 0").
      bound: the :class:`~eoscheck.bounds.bound.Bound` the claim is checked against (``None`` if none
        applies); ``bound_id`` is its id (set from ``bound``; the report and fitted_constants.json use ids).
      models: the models it applies to (``("linear",)``).
      strategy: budget → Hypothesis strategy of instances (``None`` when unavailable).
      evaluate: instance → :class:`Evaluation`.
      examples: Hypothesis examples under the ``ci`` profile (scaled by the profile).
      explicit: budget → instances tried before the random draws (the canonical cases).
      fit: the fitting specification of an asymptotic claim.
      erratum: the paper statement this claim corrects (§11), if any.
      unavailable: why it cannot be checked on the implemented models (reported, not skipped silently).
      outside_hypotheses: why every instance lies outside the theorem's hypotheses (Theorem 6 far below
        its width; Table 1's polynomial-tail rates before condition (15)): what the claim finds is a trend,
        so a "holds" is shown as "trend only".
      looseness: how loose it is, for claims whose looseness is not a ratio (filled by checks).
      admits: instance → why it lies outside the claim's hypotheses beyond its standing assumptions and its
        bound's domain (None: inside), checked when a witness is replayed (the strategies build valid
        instances; a witness file can hold any); None when those two say all.
    """

    id: str
    title: str
    source: str
    row: int | None
    kind: str
    quantity: str
    direction: str
    domain: str = "all t ≥ 1"
    assumptions: tuple[str, ...] = ("Assumption 1", "logistic loss", "w0 = 0")
    bound_id: str | None = None
    models: tuple[str, ...] = ("linear",)
    strategy: Callable[[Budget], Any] | None = None
    evaluate: Callable[[Any], Evaluation] | None = None
    examples: int = 6
    explicit: Callable[[Budget], list] | None = None
    fit: FitSpec | None = None
    erratum: str | None = None
    unavailable: str | None = None
    outside_hypotheses: str | None = None
    bound: Any = None
    admits: Callable[[Any], str | None] | None = None

    @property
    def warns_only(self) -> bool:
        """A violation is a warning, never FALSIFIED: a heuristic, or a claim checked outside its theorem's
        hypotheses (a witness there does not contradict the theorem)."""
        return self.kind == "heuristic" or self.outside_hypotheses is not None

    def __post_init__(self) -> None:
        if self.bound is not None:
            if self.bound_id not in (None, self.bound.id):
                raise ValueError(f"{self.id}: bound_id {self.bound_id!r} is not the id of its bound {self.bound.id!r}")
            object.__setattr__(self, "bound_id", self.bound.id)
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: kind must be one of {KINDS}, got {self.kind!r}")
        if self.direction not in DIRECTIONS:
            raise ValueError(f"{self.id}: direction must be one of {DIRECTIONS}")
        if self.unavailable is None and (self.strategy is None or self.evaluate is None):
            raise ValueError(f"{self.id}: give strategy and evaluate, or say why it is unavailable")
        if self.kind == "asymptotic" and self.unavailable is None and self.fit is None:
            raise ValueError(f"{self.id}: an asymptotic claim needs a FitSpec")

    @property
    def exact(self) -> bool:
        return self.kind in ("exact", "probabilistic", "qualitative")

    def summary(self) -> dict[str, Any]:
        """JSON-ready description (no functions)."""
        return {
            "id": self.id, "title": self.title, "source": self.source, "row": self.row, "kind": self.kind,
            "quantity": self.quantity, "direction": self.direction, "domain": self.domain,
            "assumptions": list(self.assumptions), "bound_id": self.bound_id, "models": list(self.models),
            "erratum": self.erratum, "unavailable": self.unavailable, "outside_hypotheses": self.outside_hypotheses,
            "fit": None if self.fit is None else {"shape": self.fit.shape, "constant": self.fit.constant,
                                                  "calibration": self.fit.calibration_doc,
                                                  "margin": self.fit.margin, "slope_tol": self.fit.slope_tol,
                                                  "predicted_slopes": dict(self.fit.predicted_slopes)},
        }


REGISTRY: dict[str, Claim] = {}


def register(c: Claim, replace: bool = False) -> Claim:
    """Add a claim to :data:`REGISTRY` (an id may be registered once unless ``replace``)."""
    if c.id in REGISTRY and not replace and REGISTRY[c.id] is not c:
        raise ValueError(f"claim {c.id!r} is already registered")
    REGISTRY[c.id] = c
    return c


def claim(id: str, **fields) -> Callable[[Callable], Callable]:
    """Decorator: register a claim whose ``evaluate`` is the decorated function."""

    def deco(fn: Callable) -> Callable:
        register(Claim(id=id, evaluate=fn, **fields))
        return fn

    return deco


#: The claim modules, one per statement of the theory (``properties/<statement>.py``, holding the claims of
#: that statement with the :class:`~eoscheck.bounds.bound.Bound` objects of ``bounds/<statement>.py``);
#: importing one registers its claims.
CLAIM_MODULES = tuple(f"eoscheck.properties.{m}" for m in (
    "theorem1", "corollary2", "theorem3", "lemma13", "classics", "crawshaw_liu", "theorem4", "theorem35",
    "proposition5", "figure1", "theorem6"))


def load_claims() -> dict[str, Claim]:
    """Import every claim module; the registry."""
    for mod in CLAIM_MODULES:
        importlib.import_module(mod)
    return REGISTRY


def ratio_side(claim_id: str) -> str | None:
    """Which side of its worst ratio (measured/bound; for a fitted claim measured/(C_fit·shape)) a claim holds on,
    up to the rounding allowance: "≤ 1" for an upper bound, "≥ 1" for a lower one; a fitted claim may miss by its
    verification margin, × (1 + margin).  None for a claim not registered (a report from another version)."""
    from eoscheck._errors import EoscheckError

    try:
        c = get_claim(claim_id)
    except EoscheckError:
        return None
    limit = 1.0 + (c.fit.margin if c.kind == "asymptotic" and c.fit is not None else 0.0)
    return f"≤ {limit:g}" if c.direction == "<=" else f"≥ {1 / limit:g}"


def get_claim(claim_id: str) -> Claim:
    """A registered claim by id (loads the claim modules first)."""
    from eoscheck._errors import EoscheckError

    load_claims()
    if claim_id not in REGISTRY:
        close = [k for k in REGISTRY if claim_id.split(".")[0] in k][:6]
        hint = f"; did you mean {', '.join(close)}" if close else "; `eoscheck check --list` lists them"
        raise EoscheckError(f"unknown claim {claim_id!r}{hint}")
    return REGISTRY[claim_id]


def all_claims() -> list[Claim]:
    """Every registered claim, in §10 row order, then by id."""
    load_claims()
    return sorted(REGISTRY.values(), key=lambda c: (c.row if c.row is not None else 99, c.id))
