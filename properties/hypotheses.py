"""Whether a replayed witness is one its claim speaks about: the hypotheses a check builds by construction.

``eoscheck check`` draws its instances inside each claim's hypotheses (the strategies build valid data); a
witness file can hold anything, so :func:`eoscheck.properties.replay.replay` verifies them before a
violation counts:

* the margin certificate stored with the data (γ* ∈ [lo, hi], w*) agrees with the data's, certified anew:
  two valid enclosures of the one max margin must meet (:func:`certificate_conflict`);
* the claim's standing assumptions (:func:`assumption_conflicts`): Assumption 1 (‖xᵢ‖ ≤ 1 and separable:
  certified γ* > 0), Assumption 2 of the SGD claims (on the data's empirical distribution: Assumption 1 of the
  data), Assumption 4A (‖xᵢ‖ ≤ 1), Theorem 3's data (thm3(γ), bit for bit), ``w0 = 0``, the loss family and
  its parameter (:data:`LOSS_ASSUMPTIONS`); the others are tested where :data:`ELSEWHERE` says, and
  :func:`recognized` holds every claim's assumptions to one of these.  Not re-derived here: the NTK's width
  (whose claims are trend only below it);
* the domain of the claim's bound at the violating point (η ≥ max(n, 32 ln(3/γ)/γ²) for Crawshaw–Liu's
  hard instance 1, γ²ηt ≥ 1 for Theorem 35, …) (:func:`domain_conflicts`);
* the claim's own ``admits`` (the data a hard instance must be, Lemma 13's family, e.g.).
"""

from __future__ import annotations

import math

import numpy as np

from eoscheck._errors import EoscheckError
from eoscheck.bounds.symbols import SYMBOLS

from .numerics import EPS
from .strategies import certify, margin_allowance


def certificate_conflict(data) -> str | None:
    """Why the certificate stored in ``data.meta`` cannot be this data's, or None (none stored, or consistent).

    The stored [lo, hi] must meet the one certified now (both enclose the true max margin), and the stored lower
    end must be a margin of the stored w* on these points (up to :func:`margin_allowance`)."""
    meta = data.meta or {}
    if "gamma_certified" not in meta:
        return None
    fresh = certify(data)             # from the points alone (the stored certificate is not read), computed once
    lo = float(meta["gamma_certified"])
    hi = float(meta.get("gamma_certified_hi", math.inf))
    if not (math.isfinite(lo) and not math.isnan(hi)):
        return f"its margin certificate [{lo!r}, {hi!r}] is not a pair of numbers"
    w = np.asarray(meta.get("w_star_certified", []), dtype=np.float64)
    if w.shape == (data.d,) and np.all(np.isfinite(w)) and np.linalg.norm(w) > 0:
        m = float((data.Z @ (w / np.linalg.norm(w))).min())
        if lo > m + margin_allowance(data.d, max(1.0, data.max_norm)):
            return f"its certified margin {lo!r} exceeds the margin {m!r} of its own w* on these points"
    if lo > fresh.gamma_hi or hi < fresh.gamma:
        return (f"its margin certificate γ* ∈ [{lo:.17g}, {hi:.17g}] contradicts the data's, certified anew: "
                f"[{fresh.gamma:.17g}, {fresh.gamma_hi:.17g}]")
    return None


def assumption_conflicts(assumptions, inst) -> list[str]:
    """The claim's standing assumptions (:attr:`Claim.assumptions`) that ``inst`` violates, in words."""
    out = []
    data = inst.data
    # Assumption 2 (i.i.d. draws of (x, y) with y = ±1 (a Dataset's, validated), ‖x‖ ≤ 1 and margin γ > 0 a.s.) of the data's empirical
    # distribution, which the SGD claims sample, is Assumption 1 of the data themselves
    separable = any(str(a).startswith(("Assumption 1", "Assumption 2")) for a in assumptions)
    ntk = any(str(a).startswith("Assumption 4") for a in assumptions)     # 4A: ‖xᵢ‖ ≤ 1; 4B: γ*/2, see below
    if separable or ntk or "‖x_i‖ ≤ 1" in assumptions:
        why = norm_conflict(data)
        if why:
            out.append(why)
    if separable:
        g = certify(data).gamma
        if not g > 0:
            out.append(f"the data are not certified separable (the max margin's certified lower end is {g:.6g})")
    if "Theorem 3 data" in assumptions:
        why = _not_thm3(data)
        if why:
            out.append(why)
    if "w0 = 0" in assumptions and inst.w0 is not None and any(v != 0 for v in inst.w0):
        out.append("w₀ ≠ 0")
    for a in assumptions:
        if a in LOSS_ASSUMPTIONS:
            why = _loss_conflict(a, inst.loss_obj)
            if why:
                out.append(why)
    return out


#: The loss assumptions of the claims: the families each admits, and the parameter a's values (None: any).
LOSS_ASSUMPTIONS = {
    "logistic loss": (("logistic",), None),
    "flat_poly loss": (("flat_poly",), None),
    "flat_poly loss (3A–3C)": (("flat_poly",), None),
    "loss with 3A–3D: logistic, flat_exp(a), a ∈ {0.5, 1, 2}": (("logistic", "flat_exp"), (0.5, 1.0, 2.0)),
    "logistic, flat_exp(a), flat_poly(a)": (("logistic", "flat_exp", "flat_poly"), None),
    "loss with 3A–3B (logistic, flat_exp, flat_poly)": (("logistic", "flat_exp", "flat_poly"), None),
    "loss with 3A–3C (logistic, flat_exp, flat_poly)": (("logistic", "flat_exp", "flat_poly"), None),
    "logistic loss (3A–3D)": (("logistic",), None),
    "logistic loss (3A–3C)": (("logistic",), None),
}
#: The assumptions :func:`assumption_conflicts` tests, by name or prefix, besides :data:`LOSS_ASSUMPTIONS`.
CHECKED = ("Assumption 1", "Assumption 2", "Assumption 4", "‖x_i‖ ≤ 1", "Theorem 3 data", "w0 = 0")
#: The assumptions tested elsewhere, and where.
ELSEWHERE = {
    "any w0": "holds for every start",
    "monotone run": "the claim's evaluation drops the rows whose loss rises",
    "hard instance 1 of Crawshaw–Liu Thm 3.1": "the claim's admits",
    "non-separable data": "the claim's admits (its draw rebuilt)",
    "separable, orthogonal part non-separable": "the claim's admits (Lemma 13's family)",
    "eq. (5) signs": "the run builds a ∈ {±1}ᵐ from the instance's signs, balanced or seeded Rademacher",
    "w₀ ~ N(0, I)": "the run draws w₀ from the instance's seed",
}
# Assumption 4B (the NTK margin γ > 0) is certified as γ*/2 from the data's linear certificate, which the NTK claims
# compute (eoscheck.networks.assumption4_margin): no bound where the data are not certified separable.


def recognized(assumption: str) -> bool:
    """Whether replay tests ``assumption`` (here or where :data:`ELSEWHERE` says): a claim whose assumption is
    none of these would have its witnesses replayed unchecked (tests hold every claim to it)."""
    return assumption in LOSS_ASSUMPTIONS or assumption in ELSEWHERE or str(assumption).startswith(CHECKED)


def _loss_conflict(assumption: str, loss) -> str | None:
    families, values = LOSS_ASSUMPTIONS[assumption]
    a = loss.params.get("a") if loss.params else None
    if loss.family not in families or (values is not None and loss.family != "logistic" and a not in values):
        return f"the loss is {loss.name}, outside the claim's assumption \"{assumption}\""
    return None


def norm_conflict(data) -> str | None:
    """"‖xᵢ‖ ≤ 1 fails" when the data's largest norm exceeds 1 beyond rounding, else None: a norm computed in float64
    exceeds the exact one by ≤ (d + 2)·u relative (u = EPS/2), and twice that is allowed."""
    if data.max_norm > 1 + 2 * (data.d + 2) * EPS:
        return f"‖xᵢ‖ ≤ 1 fails (max ‖xᵢ‖ = {data.max_norm:.17g})"
    return None


def _not_thm3(data) -> str | None:
    """Why ``data`` is not Theorem 3's two-point set thm3(γ), 0 < γ < 0.1 (γ = x₁'s first coordinate), bit for bit."""
    from eoscheck.datasets import thm3

    g = float(data.X[0, 0]) if data.X.shape == (2, 2) else math.nan
    if not 0 < g < 0.1:
        return f"the data are not Theorem 3's two points (x₁ = (γ, √(1−γ²)) with 0 < γ < 0.1; got shape {data.X.shape})"
    ref = thm3(g)
    if not (np.array_equal(ref.X, data.X) and np.array_equal(ref.y, data.y)):
        return f"the data are not Theorem 3's two points thm3(γ = {g!r})"
    return None


def domain_conflicts(bound, loss: str, point: dict | None) -> list[str]:
    """The conditions of ``bound``'s domain that fail at the violating ``point`` (its parameters)."""
    if bound is None or not point:
        return []
    vals = {k: v for k, v in point.items() if k in SYMBOLS and isinstance(v, (int, float)) and not isinstance(v, bool)}
    try:
        return list(bound.check_domain(loss=loss, **vals).violated)
    except EoscheckError:             # a condition that cannot be evaluated with these values: not decided here
        return []
