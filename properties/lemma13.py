"""Lemma 13 on general data: L(w_t) ≥ 1/(c₀ η exp(c₀η) t) for t ≥ 1 (paper §4; bound ``lemma13.lower``).

Hypothesis: separable data with max-margin direction w* and margin γ whose projections
x̄ᵢ = xᵢ − ⟨xᵢ, w*⟩w* are non-separable with margin b > 0; c₀ = c₀(γ, b, n).  Checked as a fitted
lower bound over a fixed family (d = 2, γ ∈ [0.05, 0.3], b ≥ 0.47, n ≤ 6) and a bounded stepsize range
η ∈ [1/4, 8], where exp(c₀η) ≤ exp(8c₀) is a constant: L(w_t) ≥ c·1/(ηt) with c fitted.

Data: z₁ = (γ, a), z₂ = (γ, −sa) with a = √(1−γ²), s ∈ [1/2, 1], plus points with first coordinate
≥ γ; the hull lies in {z₁ ≥ γ} and contains (γ, 0), so w* = e₁ and γ* = γ; the second coordinates
of z₁, z₂ have opposite signs, so the projections are non-separable with b = min(a, sa) ≥ 0.47.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import theorem3
from eoscheck.datasets import Dataset

from .claims import Budget, Claim, Evaluation, FitSpec, register
from .instances import Instance
from .hypotheses import norm_conflict
from .numerics import log_grid_indices, rel_allowance
from .observe import Arrays
from .strategies import certify, log_uniform, margin_allowance, with_certificate

ETAS = (0.25, 8.0)
#: The family the fitted constant is calibrated on: d = 2, γ* ∈ GAMMAS, projections' margin b ≥ B_MIN, n ≤ N_MAX.
GAMMAS, B_MIN, N_MAX = (0.05, 0.3), 0.47, 6


def lemma13_data(gamma: float, s: float, extra: int, seed: int) -> Dataset:
    """Two points pinning w* = e₁ with non-separable projections, plus ``extra`` points beyond the margin."""
    a = math.sqrt(1 - gamma**2)
    rng = np.random.default_rng(seed)
    pts = [[gamma, a], [gamma, -s * a]]
    for _ in range(extra):
        c = gamma + (1 - gamma) * rng.random()
        pts.append([c, rng.uniform(-1, 1) * math.sqrt(1 - c**2)])
    X = np.asarray(pts)
    data = Dataset(X, np.ones(len(pts)), name=f"lemma13(gamma={gamma:.3g},s={s:.3g},n={len(pts)},seed={seed})",
                   meta={"source": "Lemma 13 family: w* = e1, projections non-separable"})
    return with_certificate(data, candidates=[np.array([1.0, 0.0])])


def projection_margin(data: Dataset, cert=None) -> tuple[float, float, float]:
    """(γ*'s certified lower end, b's certified lower and upper ends) of 2-D data, where b is Lemma 13's margin
    of non-separability of the projections: sup_{‖v̄‖=1} minᵢ⟨zᵢ − ⟨zᵢ, w*⟩w*, v̄⟩ = −b.

    In 2-D the projections are the numbers ⟨zᵢ, u*⟩ with u* ⊥ w*, so b = min(maxᵢ⟨zᵢ, u*⟩, −minᵢ⟨zᵢ, u*⟩).  w* is
    known only through the certificate: a unit ŵ with margin ≥ γ_lo, and γ* ≤ γ_hi.  The hull's min-norm point
    γ*w* is a convex combination of the zᵢ, so γ*⟨w*, ŵ⟩ ≥ γ_lo: cos∠(w*, ŵ) ≥ γ_lo/γ_hi, and every ⟨zᵢ, û⟩
    moves by ≤ R‖w* − ŵ‖ ≤ R·√(2(1 − γ_lo/γ_hi)) from ⟨zᵢ, u*⟩ (R = max‖zᵢ‖), plus the dot product's rounding
    (:func:`~.strategies.margin_allowance`).  ``cert``: the data's :func:`~.strategies.certify`, if made already."""
    cert = certify(data) if cert is None else cert
    w = cert.w_star / np.linalg.norm(cert.w_star)
    proj = data.Z @ np.array([-w[1], w[0]])
    b = float(min(proj.max(), -proj.min()))
    R = max(1.0, data.max_norm)
    ratio = cert.gamma / cert.gamma_hi if cert.gamma > 0 and math.isfinite(cert.gamma_hi) else 0.0
    delta = R * math.sqrt(2 * max(0.0, 1 - ratio)) + float(margin_allowance(2, R))
    return cert.gamma, b - delta, b + delta


def in_family(inst: Instance) -> str | None:
    """Why ``inst`` lies outside Lemma 13's hypotheses or the family its constant is fitted on, or None.

    The lemma's own hypotheses must be certified: separable (γ* > 0) and projections non-separable (b > 0).
    The family's ranges (:data:`GAMMAS`, :data:`B_MIN`, :data:`N_MAX`, :data:`ETAS`) are the draw's, and data are
    refused only where their certificate puts them outside (γ* at the draw's end 0.05 is certified only to
    ~1e-16)."""
    data = inst.data
    if data.d != 2 or data.n > N_MAX:
        return f"Lemma 13's family is 2-D with n ≤ {N_MAX} points (got d = {data.d}, n = {data.n})"
    why = norm_conflict(data)
    if why:
        return why
    cert = certify(data)
    if not cert.gamma > 0:
        return f"the data are not certified separable (the max margin's certified lower end is {cert.gamma:.6g})"
    if cert.gamma_hi < GAMMAS[0] or cert.gamma > GAMMAS[1]:
        return (f"its max margin γ* ∈ [{cert.gamma:.17g}, {cert.gamma_hi:.17g}] lies outside the family's "
                f"[{GAMMAS[0]}, {GAMMAS[1]}]")
    _, b_lo, b_hi = projection_margin(data, cert)
    if not b_lo > 0:
        return (f"the projections onto w*'s orthogonal complement are not certified non-separable (their margin "
                f"b ∈ [{b_lo:.6g}, {b_hi:.6g}])")
    if b_hi < B_MIN:
        return f"the projections' margin b ∈ [{b_lo:.6g}, {b_hi:.6g}] lies below the family's {B_MIN}"
    off = [e for e in inst.etas if not ETAS[0] <= e <= ETAS[1]]
    if off:
        return f"stepsizes {off} lie outside the family's η ∈ [{ETAS[0]}, {ETAS[1]}]"
    return None


def lemma13_evaluate(inst: Instance) -> Evaluation:
    """L(w_t) against the shape 1/(ηt) at ≤ 48 log-spaced t ≥ 1."""
    A = Arrays.of(inst.trajectory())
    ts = log_grid_indices(inst.steps, 48)
    L = A.L[:, ts]
    eta = np.broadcast_to(A.eta, L.shape)
    t = np.broadcast_to(ts[None, :].astype(float), L.shape)
    allow = L * rel_allowance(A.wn[:, ts])
    return Evaluation(L.ravel(), (1.0 / (eta * t)).ravel(), allow.ravel(), ">=",
                      {"t": t.ravel(), "eta": eta.ravel(), "n": inst.data.n, "d": 2, "gamma": inst.gamma})


def _instance(g, s, extra, seed, etas, T) -> Instance:
    return Instance(lemma13_data(g, s, extra, seed), "logistic", tuple(float(e) for e in etas), T)


def _calibration() -> list[Instance]:
    return [_instance(g, s, k, 0, np.geomspace(*ETAS, 4), 2000)
            for g in (0.05, 0.15, 0.3) for s, k in ((0.5, 0), (1.0, 4))]


def _strategy(budget: Budget):
    T = budget.steps(3000)

    @st.composite
    def inst(draw):
        g = draw(log_uniform(0.05, 0.3))
        s = draw(st.floats(0.5, 1.0))
        k = draw(st.integers(0, 4))
        etas = sorted(draw(log_uniform(*ETAS)) for _ in range(3))
        return _instance(g, s, k, draw(st.integers(0, 2**16)), etas, T)

    return inst()


LEMMA13 = register(Claim(
    id="lemma13.lower", title="general data, non-separable projection: L(w_t) ≥ c/(ηt), η ∈ [1/4, 8]",
    source="Lemma 13 (paper §4, erratum §11.4)", row=None, kind="asymptotic", quantity="L(w_t)", direction=">=",
    domain="t ≥ 1; γ ∈ [0.05, 0.3], b ≥ 0.47, n ≤ 6; η ∈ [1/4, 8] (exp(c₀η) bounded)",
    assumptions=("separable, orthogonal part non-separable", "logistic loss", "w0 = 0"), bound=theorem3.LEMMA13_LOWER,
    strategy=_strategy, evaluate=lemma13_evaluate, examples=3, admits=in_family,
    fit=FitSpec(shape="1/(ηt)", constant="c", calibration=_calibration,
                calibration_doc="lemma13 data, γ ∈ {0.05, 0.15, 0.3} × (s, extra points) ∈ {(1/2, 0), (1, 4)}, "
                                "η: 4 log-spaced in [1/4, 8], T = 2000, t on a 48-point log grid",
                ladders={"t": lambda b: [_instance(0.3, 1.0, 4, 1, (1.0,), b.steps(8000))],
                         "eta": (lambda b: [_instance(0.15, 0.5, 0, 1, np.geomspace(*ETAS, 8), b.steps(2000))],
                                 False)}),
))
