"""Whether a replayed witness is one its claim speaks about: the hypotheses a check builds by construction.

``eoscheck check`` draws its instances inside each claim's hypotheses (the strategies build valid data); a
witness file can hold anything, so :func:`eoscheck.properties.replay.replay` verifies them before a
violation counts:

* the margin certificate stored with the data (γ* ∈ [lo, hi], w*) agrees with the data's, certified anew:
  two valid enclosures of the one max margin must meet (:func:`certificate_conflict`);
* the claim's standing assumptions, where they name something checkable: Assumption 1 (‖xᵢ‖ ≤ 1 and
  separable: certified γ* > 0), Theorem 3's data (thm3(γ), bit for bit), ``w0 = 0``, the loss
  (:func:`assumption_conflicts`; Assumption 2 of the SGD claims, on the data's empirical distribution, is
  Assumption 1 of the data); not re-derived here: the NTK's width (whose claims are trend only below it);
  non-separable data are the Meng claim's ``admits`` (its draw rebuilt), Lemma 13's family its claim's;
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
    if separable or "‖x_i‖ ≤ 1" in assumptions:
        # a norm computed in float64 exceeds the exact one by ≤ (d + 2)·u relative: twice that is rounding
        if data.max_norm > 1 + 2 * (data.d + 2) * EPS:
            out.append(f"‖xᵢ‖ ≤ 1 fails (max ‖xᵢ‖ = {data.max_norm:.17g})")
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
    if "logistic loss" in assumptions and inst.loss != "logistic":
        out.append(f"the loss is {inst.loss}, not the logistic loss")
    if "flat_poly loss" in assumptions and not str(inst.loss).startswith("flat_poly"):
        out.append(f"the loss is {inst.loss}, not a flat_poly loss")
    return out


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
