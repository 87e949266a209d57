"""Claims of Corollary 2 (paper §2; §10 rows 9, 10) with the bounds of :mod:`eoscheck.bounds.corollary2`:
the exact bound at η = γ²T/120, and the acceleration rate O(ln²T/T²) as a fitted claim.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import corollary2
from eoscheck.datasets import synthetic

from .bound_values import at
from .claims import Budget, Claim, Evaluation, FitSpec, claim, register
from .instances import Instance
from .numerics import allowance, rel_allowance
from .strategies import certificate, log_uniform, separable_datasets, single_point, with_certificate
from .exact_engine import THM1



# ---------------------------------------------------------------------------
# Corollary 2 (row 9)
# ---------------------------------------------------------------------------


def cor2_instances(budget: Budget):
    """T ≥ T_min = 120max{e,n}/γ² with η = γ²T/120; margins large enough that T_min ≤ 3000·scale."""
    cap = budget.steps(3000)
    nmax = 3 if budget.scale < 4 else 8
    gmin = math.sqrt(120 * max(math.e, nmax) / cap)
    data_st = separable_datasets(n=(1, nmax), d=(1, 4), margin=(min(gmin, 0.99), 1.0))

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        g = certificate(data).gamma
        Tmin = float(at(corollary2.T_MIN, n=data.n, gamma=g))
        hi = max(Tmin, min(3 * Tmin, cap))
        Ts = sorted({int(math.ceil(Tmin))} | {int(math.ceil(draw(log_uniform(Tmin, hi)))) for _ in range(3)})
        etas = tuple(float(at(corollary2.ETA, T=T, gamma=g)) for T in Ts)
        return Instance(data, "logistic", etas, max(Ts), extra={"T": Ts})

    return inst()


def on_schedule(inst: Instance) -> str | None:
    """Why ``inst`` is not on Corollary 2's schedule (None if it is): one budget T (``extra["T"]``, T ≤ the run's
    steps) per stepsize, and η = γ²T/120 at the certified margin γ.  η was computed from that γ and T
    (:data:`corollary2.ETA`) and is stored exactly (JSON keeps a float's repr), so the two agree to the rounding of
    γ²T/120 (a few ulps): 1e-12 relative allows that and no other stepsize."""
    Ts = inst.extra.get("T")
    if (not isinstance(Ts, list) or len(Ts) != len(inst.etas)
            or not all(isinstance(T, int) and 1 <= T <= inst.steps for T in Ts)):
        return f"it has no budget T ≤ {inst.steps} (an integer) for each of its {len(inst.etas)} stepsize(s)"
    for e, T in zip(inst.etas, Ts):
        want = float(at(corollary2.ETA, T=T, gamma=inst.gamma))
        if not math.isclose(e, want, rel_tol=1e-12):
            return f"η = {e:.6g} at T = {T} is not γ²T/120 = {want:.6g} (γ = {inst.gamma:.6g}, the certified margin)"
    return None


@claim("cor2.bound", title=f"{corollary2.T_MIN.formula}, {corollary2.ETA.formula} ⇒ {corollary2.BOUND.formula}",
       source="Corollary 2 (paper §3)", row=9, kind="exact", quantity="L(w_T)", direction="<=",
       domain="T ≥ 120max{e,n}/γ², η = γ²T/120 exactly", assumptions=THM1, bound=corollary2.BOUND,
       strategy=cor2_instances, examples=4, admits=on_schedule)
def cor2_bound(inst: Instance) -> Evaluation:
    traj = inst.trajectory()
    Ts = np.asarray(inst.extra["T"], dtype=np.int64)
    L = traj.records["loss"][np.arange(len(Ts)), Ts]
    wn = traj.records["w_norm"][np.arange(len(Ts)), Ts]
    b = at(corollary2.BOUND, T=Ts, gamma=inst.gamma)
    allow = L * rel_allowance(wn) + allowance(b)
    return Evaluation(L, b, allow, "<=", {"T": Ts, "eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                          "gamma": inst.gamma}, best=L / b, best_meaning="measured/bound")


# ---------------------------------------------------------------------------
# row 10: acceleration rate with η ∝ T (Corollary 2's schedule)
# ---------------------------------------------------------------------------


def _cor2_rate_instance(data, Ts) -> Instance:
    g = certificate(data).gamma
    Ts = sorted({int(T) for T in Ts})
    return Instance(data, "logistic", tuple(float(at(corollary2.ETA, T=T, gamma=g)) for T in Ts), max(Ts), extra={"T": Ts})


def cor2_rate_evaluate(inst: Instance) -> Evaluation:
    traj = inst.trajectory()
    Ts = np.asarray(inst.extra["T"], dtype=np.int64)
    L = traj.records["loss"][np.arange(len(Ts)), Ts]
    # ln²(γ⁴T²)/(γ⁴T²): the bound without its rate constant c_B (the fitted constant C takes its place)
    shape = at(corollary2.BOUND, T=Ts, gamma=inst.gamma) / float(corollary2.BOUND.constants["c_B"].value)
    return Evaluation(L, shape, 0.0, "<=", {"T": Ts, "eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                            "gamma": inst.gamma})


def _T0(g: float) -> int:
    return int(math.ceil(30 / g**2))


def _rate_domain(inst: Instance) -> str | None:
    """Why ``inst`` is outside cor2.rate's domain (None if inside): :func:`on_schedule`, and T ≥ 15/γ²."""
    low = [T for T in inst.extra.get("T", []) if not 15 / inst.gamma**2 <= T]
    return on_schedule(inst) or (f"T = {low[0]} is below 15/γ² = {15 / inst.gamma**2:.6g} (γ = {inst.gamma:.6g})"
                                 if low else None)


def _cor2_calibration() -> list[Instance]:
    out = []
    for data in map(with_certificate, (single_point(), synthetic(4, 3, 0.3, seed=0), synthetic(8, 5, 0.2, seed=1))):
        T0 = _T0(certificate(data).gamma)
        out.append(_cor2_rate_instance(data, [T0 * 2**k for k in range(4) if T0 * 2**k <= 8000]))
    return out


def _cor2_strategy(budget: Budget):
    cap = budget.steps(4000)
    data_st = separable_datasets(n=(1, int(8 * budget.scale)), d=(1, 6), margin=(0.1, 1.0))

    @st.composite
    def inst(draw):
        data = draw(data_st)
        T0 = _T0(certificate(data).gamma)
        hi = max(T0, cap)
        Ts = [min(hi, math.ceil(draw(log_uniform(T0 / 2, hi)))) for _ in range(3)]    # ≥ T0/2 ≥ 15/γ²
        return _cor2_rate_instance(data, [max(8, T) for T in Ts])

    return inst()


def _cor2_T_ladder(budget: Budget):
    data = with_certificate(synthetic(4, 3, 0.3, seed=2))
    T0 = _T0(certificate(data).gamma)
    return [_cor2_rate_instance(data, [T0 * 2**k for k in range(5 if budget.scale < 2 else 7)])]


register(Claim(
    id="cor2.rate", title="η = γ²T/120 (η ∝ T) ⇒ L(w_T) = O(ln²(T)/T²), whether or not the run enters EoS",
    source="Corollary 2's rate with T ≥ Ω(n) relaxed, as the authors conjecture (paper §3, Figure 2); Table 1 "
           "column 2", row=10, kind="asymptotic",
    quantity="L(w_T)", direction="<=", domain="η = γ²T/120, T ≥ 15/γ² (below Corollary 2's T_min = 120·max{e, n}/γ²: "
                                              "a FALSIFIED convicts the conjecture, not Corollary 2)",
    bound=corollary2.BOUND, strategy=_cor2_strategy, evaluate=cor2_rate_evaluate, examples=3, admits=_rate_domain,
    fit=FitSpec(shape="ln²(γ⁴T²)/(γ⁴T²)", constant="C",
                calibration=_cor2_calibration,
                calibration_doc="single point (γ=0.5), synthetic(4,3,γ=0.3,seed 0), synthetic(8,5,γ=0.2,seed 1); "
                                "T = ⌈30/γ²⌉·2^k, k=0..3 (T ≤ 8000), η = γ²T/120",
                ladders={"T": _cor2_T_ladder}, predicted_slopes={"T": -2.0}),
))
