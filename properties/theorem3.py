"""Claims of Theorem 3 and Lemma 14 (paper §3, §4; §10 rows 11, 12): the first step of a large stepsize
increases the loss, and monotone runs pay L(w_t) ≥ c₀/t.  Bounds: :mod:`eoscheck.bounds.theorem3`.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import theorem3
from eoscheck.datasets import Dataset, thm3

from .bound_values import at
from .claims import Budget, Claim, Evaluation, FitSpec, claim, register
from .instances import Instance
from .numerics import allowance, log_grid_indices, rel_allowance
from .observe import Arrays
from .strategies import log_uniform, separable_datasets, stepsize_batches, with_certificate
from .exact_engine import LN2, THM1


# ---------------------------------------------------------------------------
# Lemma 14 (row 11)
# ---------------------------------------------------------------------------


def lemma14_thm3_instances(budget: Budget, eta_min: float = 40 * LN2):
    """Theorem 3's data, γ ∈ [0.001, 0.0999], 6 stepsizes in (eta_min, 10⁴], one GD step."""

    @st.composite
    def inst(draw) -> Instance:
        g = draw(st.floats(1e-3, 0.0999))
        data = with_certificate(thm3(g), candidates=[np.array([1.0, 0.0])])
        etas = draw(stepsize_batches(eta_min * (1 + 1e-12), 1e4, size=6, drawn=2))
        return Instance(data, "logistic", etas, 1, extra={"gamma_thm3": g})

    return inst()


def _first_step_threshold(data: Dataset) -> float:
    """The actual first-step threshold η_c = inf{η : L(w₁) > ln 2} by bisection (w₁ = (η/2)·mean zᵢ)."""
    zbar = data.Z.mean(axis=0)
    a = data.Z @ zbar

    def up(eta):
        return np.mean(np.logaddexp(0.0, -eta / 2 * a)) > LN2

    lo, hi = 0.0, 1.0
    while not up(hi) and hi < 1e12:
        lo, hi = hi, 2 * hi
    for _ in range(80):
        mid = 0.5 * (lo + hi)
        lo, hi = (lo, mid) if up(mid) else (mid, hi)
    return hi


@claim("lemma14.first_step", title="Theorem 3's data: η > 40 ln 2 ⇒ L(w₁) > L(w₀) = ln 2",
       source="Lemma 14 with r = 1/10, q = 1/2 (paper §4)", row=11, kind="exact", quantity="L(w₁)",
       direction=">=", domain="η > 40 ln 2, 0 < γ < 0.1", assumptions=("Theorem 3 data", "logistic loss", "w0 = 0"),
       bound=theorem3.FIRST_STEP_THRESHOLD, strategy=lemma14_thm3_instances, examples=10)
def lemma14_first_step(inst: Instance) -> Evaluation:
    return first_step_increase(inst, 40 * LN2)


def first_step_increase(inst: Instance, eta_min: float) -> Evaluation:
    """"η > eta_min ⇒ L(w₁) > ln 2" on the instance's data (Lemma 14 on Theorem 3's data: 40 ln 2)."""
    traj = inst.trajectory()
    keep = traj.eta > eta_min
    L1 = traj.records["loss"][keep, 1]
    allow = allowance(L1, LN2) + L1 * rel_allowance(traj.records["w_norm"][keep, 1])
    eta_c = _first_step_threshold(inst.data)
    return Evaluation(L1, np.full_like(L1, LN2), allow, ">=",
                      {"eta": traj.eta[keep], "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma},
                      best=np.array([eta_c / eta_min]), best_reduce="max",
                      best_meaning="actual first-step threshold / the claimed one")


def _lemma14_general_instances(budget: Budget):
    data_st = separable_datasets(n=(2, int(12 * budget.scale)), d=(1, 6), margin=(0.01, 0.9))

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        thr = _lemma14_general_threshold(data)
        if not math.isfinite(thr):
            etas = (1.0,)  # the lemma says nothing here; evaluate returns no points
        else:
            etas = tuple(sorted({thr * (1 + draw(log_uniform(1e-9, 100.0))) for _ in range(4)}))
        return Instance(data, "logistic", etas, 1)

    return inst()


def _lemma14_general_threshold(data: Dataset) -> float:
    """min over q = k/n of 2 ln 2/(r q), r = −(k-th smallest zᵢ·z̄) > 0 (Lemma 14's best (r, q))."""
    zbar = data.Z.mean(axis=0)
    a = np.sort(data.Z @ zbar)
    n = len(a)
    best = math.inf
    for k in range(1, n + 1):
        if a[k - 1] < 0:
            best = min(best, float(at(theorem3.GENERAL_THRESHOLD, r=-a[k - 1], q=k / n)))
    return best


@claim("lemma14.general", title="If a fraction q of points has xᵢ·x̄ < −r, then η > 2 ln 2/(rq) ⇒ L(w₁) > L(w₀)",
       source="Lemma 14 (paper §4)", row=11, kind="exact", quantity="L(w₁)", direction=">=",
       domain="η > min over (r, q) of 2 ln 2/(rq); any separable data", assumptions=THM1,
       bound=theorem3.GENERAL_THRESHOLD, strategy=_lemma14_general_instances, examples=10)
def lemma14_general(inst: Instance) -> Evaluation:
    thr = _lemma14_general_threshold(inst.data)
    traj = inst.trajectory()
    L1 = traj.records["loss"][:, 1]
    mask = traj.eta > thr
    allow = allowance(L1, LN2) + L1 * rel_allowance(traj.records["w_norm"][:, 1])
    ev = Evaluation(L1[mask], np.full(mask.sum(), LN2), allow[mask], ">=",
                    {"eta": traj.eta[mask], "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma})
    if math.isfinite(thr):
        ev.best = np.array([_first_step_threshold(inst.data) / thr])
        ev.best_meaning, ev.best_reduce = "actual first-step threshold / Lemma 14's", "max"
    return ev


# ---------------------------------------------------------------------------
# rows 12 and 10: Theorem 3's lower bound for monotone runs
# ---------------------------------------------------------------------------


def thm3_lower_evaluate(inst: Instance) -> Evaluation:
    A = Arrays.of(inst.trajectory())
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    monotone = ~(np.diff(A.logL, axis=1) > np.log1p(2 * rel)).any(axis=1)  # the theorem's hypothesis
    ts = log_grid_indices(inst.steps, 48)
    rows = np.flatnonzero(monotone)
    if rows.size == 0 or ts.size == 0:
        return Evaluation(np.zeros(0), np.zeros(0), direction=">=",
                          notes=["no monotone run (Theorem 3's hypothesis) in this instance"])
    L = A.L[np.ix_(rows, ts)]
    shape = 1.0 / np.broadcast_to(ts[None, :], L.shape).astype(float)
    return Evaluation(L.ravel(), shape.ravel(), (L * rel_allowance(A.wn[np.ix_(rows, ts)])).ravel(), ">=",
                      {"t": np.broadcast_to(ts[None, :], L.shape).ravel(),
                       "eta": np.broadcast_to(A.eta[rows], L.shape).ravel(), "n": 2, "d": 2, "gamma": inst.gamma})


def thm3_instance(g: float, etas, T: int) -> Instance:
    data = with_certificate(thm3(g), candidates=[np.array([1.0, 0.0])])
    return Instance(data, "logistic", tuple(sorted(etas)), T)


def thm3_calibration() -> list[Instance]:
    return [thm3_instance(g, (0.5, 2.0, 8.0, 14.0), 2000) for g in (0.01, 0.03, 0.06, 0.09)]


def thm3_strategy(budget: Budget):
    T = budget.steps(4000)

    @st.composite
    def inst(draw):
        g = draw(log_uniform(0.003, 0.0999))
        etas = draw(stepsize_batches(0.05, 40 * LN2, size=5, drawn=2))  # non-monotone rows are dropped
        return thm3_instance(g, etas, T)

    return inst()


register(Claim(
    id="thm3.lower", title="Theorem 3's data, monotone GD: L(w_t) ≥ c₀/t for all t ≥ 1",
    source="Theorem 3 (paper §4); §10 rows 10 and 12", row=12, kind="asymptotic", quantity="L(w_t)",
    direction=">=", domain="runs whose loss is non-increasing from t = 0; 0 < γ < 0.1",
    assumptions=("Theorem 3 data", "logistic loss", "w0 = 0", "monotone run"), bound=theorem3.LOWER,
    strategy=thm3_strategy, evaluate=thm3_lower_evaluate, examples=3,
    fit=FitSpec(shape="1/t", constant="c0", calibration=thm3_calibration,
                calibration_doc="thm3(γ) for γ ∈ {0.01, 0.03, 0.06, 0.09}, η ∈ {0.5, 2, 8, 14}, T = 2000, "
                                "t on a 48-point log grid; one constant for all γ (the theorem allows c₀(γ): "
                                "the γ ladder is reported, not judged)",
                ladders={"t": lambda b: [thm3_instance(0.05, (4.0,), b.steps(8000))],
                         "eta": (lambda b: [thm3_instance(0.05, tuple(np.geomspace(0.1, 14, 8)), b.steps(2000))],
                                 False),
                         "gamma": (lambda b: [thm3_instance(g, (4.0,), b.steps(2000))
                                              for g in np.geomspace(0.005, 0.09, 6)], False)},
                predicted_slopes={"t": -1.0}),
))
