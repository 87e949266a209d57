"""The machinery of the exact claims on logistic GD runs: shared instances, the scan over stable starts s,
hitting times.

Every exact claim is checked on the trajectory the engine computes, and the only tolerance is the
floating-point allowance of :mod:`eoscheck.properties.numerics` (never a tuned slack).  Most claims
share the instances of :func:`theorem1_instances` (so a batched run is computed once and reused through
the run cache); per-step statements that hold from any starting point also draw w₀ ≠ 0.
"""

from __future__ import annotations

import math
from typing import Callable

import numpy as np
from hypothesis import strategies as st

from eoscheck.datasets import Dataset

from .claims import Budget, Evaluation
from .instances import Instance
from .numerics import allowance, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import build_separable, initial_points, separable_datasets, stepsize_batches, with_certificate

LN2 = math.log(2.0)
THM1 = ("Assumption 1", "logistic loss", "w0 = 0")
ANY_START = ("‖x_i‖ ≤ 1", "logistic loss", "any w0")


# ---------------------------------------------------------------------------
# instances
# ---------------------------------------------------------------------------


def theorem1_instances(budget: Budget, w0: bool = False):
    """Separable data, logistic loss, 8 stepsizes in [2⁻², 2¹⁰] (paper §10 row 3), T = 600·scale.

    With ``w0`` a nonzero start of norm ≤ 3 is drawn too (for the claims that hold from any w₀).
    """
    nmax = int(min(12 * budget.scale, 120))
    dmax = int(min(6 * budget.scale, 40))
    data_st = separable_datasets(n=(1, nmax), d=(1, dmax), margin=(0.02, 0.9))
    T = budget.steps(600)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        etas = draw(stepsize_batches(0.25, 1024.0, size=8, drawn=2))
        start = None
        if w0:
            start = tuple(float(v) for v in draw(initial_points(data.d, (0.0, 3.0))))
        return Instance(data, "logistic", etas, T, w0=start)

    return inst()


def any_start_instances(budget: Budget):
    return theorem1_instances(budget, w0=True)


def theorem1_canonical(budget: Budget, loss: str = "logistic") -> list[Instance]:
    """The canonical datasets, each with 8 stepsizes log-spaced over [2⁻², 2¹⁰], w₀ = 0: tried first."""
    from .strategies import canonical_cases

    etas = tuple(float(e) for e in np.geomspace(0.25, 1024.0, 8))
    return [Instance(c, loss, etas, budget.steps(600)) for c in canonical_cases()]


def reaching_instances(budget: Budget, tau: Callable[[Instance], np.ndarray], cap: int,
                       losses: st.SearchStrategy[str] = st.just("logistic"), margin=(0.6, 0.95),
                       etas=(1.0, 8.0)):
    """Instances whose horizon T reaches ⌈τ⌉, where a hitting-time claim (:func:`hitting`) can fail.

    ``tau(instance)`` is the claim's τ at the instance's stepsizes.  Large margins (the drawn γ in ``margin``),
    n ≤ 4, d ≤ 3 and 4 stepsizes in ``etas`` keep τ small; T = the largest ⌈τ⌉ among the stepsizes, at most
    ``budget.steps(cap)`` steps (a count, so the same draws on every machine).  A stepsize whose ⌈τ⌉ exceeds T
    is still checked, as in :func:`theorem1_instances`.
    """
    data_st = separable_datasets(n=(1, 4), d=(1, 3), margin=margin, canonical=False)
    longest = budget.steps(cap)

    @st.composite
    def inst(draw) -> Instance:
        data, loss = draw(data_st), draw(losses)
        batch = draw(stepsize_batches(*etas, size=4, drawn=1))
        need = float(np.max(np.ceil(tau(Instance(data, loss, batch, 1)))))
        return Instance(data, loss, batch, int(min(longest, max(need, 1.0))))

    return inst()


def reaching_example(budget: Budget, tau: Callable[[Instance], np.ndarray], cap: int,
                     loss: str = "logistic", data: Dataset | None = None, etas=(1.0, 2.0, 4.0)) -> Instance:
    """A fixed instance whose T reaches ⌈τ⌉ (at most ``budget.steps(cap)`` steps), tried first: every profile checks
    stepsizes that can fail.  Default: n = 3, d = 2, drawn margin 0.85, η ∈ {1, 2, 4} (as :func:`reaching_instances`
    draws, monotone runs); :data:`EOS_REACH` gives runs through an EoS phase."""
    data = with_certificate(build_separable(3, 2, 0.85, seed=0)) if data is None else data
    need = float(np.max(np.ceil(tau(Instance(data, loss, etas, 1)))))
    return Instance(data, loss, etas, int(min(budget.steps(cap), need)))


#: Runs that go through an EoS phase and still reach Theorem 1's τ: the normalized toy set (n = 4, γ* ≈ 0.1) at
#: η ∈ {20, 24, 32}, whose losses rise up to steps 11–15 (last increases) and meet L ≤ 1/η, F ≤ 1 at s* ≈ 100–107,
#: against ⌈τ⌉ = 121,201–193,921 steps (:func:`first_hits` runs the first 4096): the reaching draws (η ≤ 8) are all
#: monotone.
EOS_REACH = {"etas": (20.0, 24.0, 32.0), "steps": 200_000}


def point_params(inst: Instance, A: Arrays) -> dict:
    return {"eta": A.eta, "t": A.t, "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma}


# ---------------------------------------------------------------------------
# stable phase: every s meeting the condition
# ---------------------------------------------------------------------------

#: At most this many starting steps s are checked per run (the first half, then log-spaced).
MAX_S = 48


def candidate_s(ok_row: np.ndarray) -> np.ndarray:
    idx = np.flatnonzero(ok_row)
    if len(idx) <= MAX_S:
        return idx
    first = idx[: MAX_S // 2]
    rest = idx[np.unique(np.round(np.geomspace(MAX_S // 2, len(idx) - 1, MAX_S // 2)).astype(int))]
    return np.unique(np.concatenate([first, rest]))


def over_s(inst: Instance, A: Arrays, ok: np.ndarray, bound_fn, domain_fn) -> Evaluation:
    """Check L(w_t) ≤ bound(s, t) for every candidate s (``ok`` (K, S)) and t > s in the domain.

    One point per run: the worst (s, t) pair; ``best`` is the largest measured/bound over all pairs.
    """
    evals = []
    t = A.t[0]
    for k in range(A.K):
        parts = []
        for s in candidate_s(ok[k]):
            tt = t[s + 1:]
            if tt.size == 0:
                continue
            b = bound_fn(k, s, tt)
            meas = A.L[k, s + 1:]
            allow = meas * rel_allowance(A.wn[k, s + 1:]) + allowance(b) + np.abs(b) * rel_allowance(A.wn[k, s])
            mask = domain_fn(k, s, tt) & np.isfinite(b)
            parts.append((meas, b, allow, mask, tt, np.full(tt.shape, float(s))))
        if not parts:
            continue
        meas, b, allow, mask, tt, ss = (np.concatenate(p)[None] for p in zip(*parts))
        if not mask.any():
            continue
        evals.append(worst_per_row(meas, b, allow, mask, "<=",
                                   {"eta": A.eta[k, 0], "t": tt, "s": ss, "n": inst.data.n, "d": inst.data.d,
                                    "gamma": inst.gamma}, best=safe_div(meas, b), best_meaning="measured/bound"))
    return Evaluation.concat(evals)


# ---------------------------------------------------------------------------
# hitting times
# ---------------------------------------------------------------------------


#: Steps of the first run of :func:`first_hits` (when T is longer): the EoS examples meet (15) by s ≈ 2,260
#: (:data:`EOS_REACH`).
HEAD_STEPS = 4096

#: The most steps :func:`first_hits` looks for a first hitting time in a run whose T is shorter (one run, a chunk at
#: a time: :meth:`Instance.first_steps`; its memory does not grow with the steps) ...
HIT_CAP = 2**26

#: ... and the most work of that run, counted as K·(n·d + :data:`STEP_OVERHEAD`) a step (K stepsizes, n points in d
#: dimensions): 0.8–1.1 ns a unit for the built-in losses on the project's 2 vCPUs, quiet (n·d ≤ 512; 0.5 at
#: n·d = 4000), so a condition never met costs ≤ ~20 s a run there.  A count, not a time: the same points are
#: testable on every machine.
HIT_WORK = 2**34

#: A step's fixed work (its chunk's records, per stepsize) in units of one multiply-add of the data.
STEP_OVERHEAD = 100


def hit_cap(inst: Instance) -> int:
    """The most steps a hitting time of ``inst`` is looked for: :data:`HIT_CAP`, or fewer where
    :data:`HIT_WORK` runs out first."""
    return int(min(HIT_CAP, HIT_WORK // (len(inst.etas) * (inst.data.n * inst.data.d + STEP_OVERHEAD))))


def first_hits(inst: Instance, condition: Callable[[Instance, Arrays], np.ndarray],
               tau: Callable[[Instance, np.ndarray], np.ndarray], what: str, head: int = HEAD_STEPS,
               cap: int | None = None) -> Evaluation:
    """:func:`hitting`: each stepsize's first s meeting ``condition``, looked for up to its ⌈τ⌉.

    The steps run: the first min(T, ``head``), then on while a stepsize whose ⌈τ⌉ is at most max(T, ``cap``)
    (default :func:`hit_cap`) has not met ``condition``, up to the largest such ⌈τ⌉ (or T) (:func:`first_times`).
    A longer run's first steps are the shorter one's, bit for bit (``tests/test_gd.py``), so each s is the one a
    single run of that length finds; a stepsize's point can fail wherever that length reaches its ⌈τ⌉ (an s after
    ⌈τ⌉, or none by then, is a violation, whose witness is the instance itself: its replay runs the same steps).  A
    run that diverged before meeting it has no s: its point is NaN, which stops the check (:class:`~eoscheck.properties.claims.NaNPoint`).
    ``condition(instance, arrays)`` is the boolean (K, S+1) array of the steps meeting it; ``tau(instance, etas)``
    the bound per stepsize.
    """
    taus = np.asarray(tau(inst, inst.eta), dtype=np.float64)
    cap = hit_cap(inst) if cap is None else cap
    testable = np.ceil(taus) <= max(cap, inst.steps)  # the others cannot fail by any run this would do
    reach = max([inst.steps] + [int(t) for t in np.ceil(taus[testable])])
    A, s, ran, gone = first_times(inst.with_(steps=min(inst.steps, head)), condition, reach, wanted=testable)
    ev = hitting(inst, A.eta[:, 0], np.where(gone, np.nan, s), taus, what, horizon=reach)
    late = int((s > inst.steps).sum())
    if late:
        ev.notes.append(f"{late} stepsize(s) met it after T = {inst.steps} (run on to step {ran})")
    return ev


def first_times(inst: Instance, condition: Callable[[Instance, Arrays], np.ndarray], reach: int,
                wanted: np.ndarray | None = None) -> tuple[Arrays, np.ndarray, int, np.ndarray]:
    """The first step meeting ``condition`` per stepsize, looked for up to ``reach`` steps (T if longer).

    Returns (the arrays of ``inst``'s run, s* (−1 where not met: by ``reach`` for a stepsize of ``wanted``, by the
    last step the answer covers for the others), the last step the answer covers: T, ``reach``, or the step at which
    the last stepsize of ``wanted`` met it or diverged, and the (K,) mask of the runs that diverged by then without
    meeting it).  Where a
    stepsize of ``wanted`` (a (K,) mask; default all) has not met ``condition`` by T, the batch runs on to ``reach``
    (:meth:`Instance.first_steps`: the same run, bit for bit, a chunk at a time, stopped once every stepsize of
    ``wanted`` has met it or diverged).  So an upper bound on s* below ``reach`` + 1 can fail at every point (its
    points carry ``_horizon`` = ``reach``, :meth:`Evaluation.vacuous`), where T alone would only let the bounds
    below T + 1 fail.  ``condition`` holds or not at a step from that step's records alone.
    """
    want = np.ones(len(inst.etas), bool) if wanted is None else np.asarray(wanted, bool)
    A = Arrays.of(inst.trajectory())
    s = A.first(condition(inst, A)).astype(np.float64)
    if reach <= inst.steps or not (s[want] < 0).any():
        return A, s, inst.steps, (s < 0) & A.diverged
    s, ran, diverged_at = inst.first_steps(condition, reach, want)
    return A, s, ran, (s < 0) & (diverged_at >= 0)


def censored_first_times(inst: Instance, condition: Callable[[Instance, Arrays], np.ndarray], reach: int, what: str,
                         wanted: np.ndarray | None = None) -> tuple[Arrays, np.ndarray, np.ndarray, int, list[str]]:
    """:func:`first_times` as measured values for an upper bound on s*: s* where met, reach + 1 where not (known only
    to exceed the reach: a violation only where reach + 1 passes the bound's limit; :meth:`Evaluation.vacuous` counts
    the points whose limit it does not pass).

    Returns (the arrays of ``inst``'s run, the measured values (NaN where the run diverged first: a
    :class:`~eoscheck.properties.claims.NaNPoint` once evaluated), the mask of those not met, the reach (T if longer), notes on the stepsizes of
    ``wanted`` not met and met after T).
    """
    reach = max(int(reach), inst.steps)
    A, s, ran, gone = first_times(inst, condition, reach, wanted)
    want = np.ones(A.K, bool) if wanted is None else np.asarray(wanted, bool)
    censored = (s < 0) & ~gone
    notes = []
    missed = int((censored & want).sum())
    if missed:
        notes.append(f"{missed} stepsize(s) had not met {what} by step {reach} (counted as s* = {reach + 1})")
    late = int(((s > inst.steps) & want).sum())
    if late:
        notes.append(f"{late} stepsize(s) met {what} after T = {inst.steps} (run on to step {ran})")
    return A, np.where(gone, np.nan, np.where(censored, reach + 1.0, s)), censored, reach, notes


def hitting(inst: Instance, eta: np.ndarray, s_star: np.ndarray, tau: np.ndarray, what: str,
            horizon: int | None = None) -> Evaluation:
    """Check "some s ≤ ⌈τ⌉ satisfies the condition" from the first such s per stepsize (``s_star``, −1: not met
    within ``horizon`` steps, default T; NaN: the run diverged first, which stops the check, :class:`~eoscheck.properties.claims.NaNPoint`);
    undecided where not met and the horizon is short of ⌈τ⌉.

    Only a stepsize whose horizon reaches ⌈τ⌉ can contradict the claim; one that met the condition before a ⌈τ⌉
    beyond the horizon agrees with it whatever happened (``params["_horizon"]``: :meth:`Evaluation.vacuous` counts
    it), and so does one that met it at s = 0 (``unfalsifiable``); a claim none of whose points could fail is
    undecided, not "holds" (:func:`~eoscheck.properties.search.fill_report`).
    """
    s_star = np.asarray(s_star, dtype=np.float64)
    tau_c = np.ceil(tau)
    H = inst.steps if horizon is None else horizon
    found = s_star >= 0
    reach = H >= tau_c
    gone = np.isnan(s_star)                  # diverged first: no s, and no verdict either way
    decided = found | reach | gone
    defined = ~np.isnan(tau_c)               # a NaN τ: no claim at that stepsize (its point is left out)
    meas = np.where(found | gone, s_star, H + 1.0)  # not found by a horizon H ≥ τ: a violation
    undecided = int((~decided & defined).sum())
    # met at s = 0 (by w₀ itself, e.g. L(0) = ln 2 ≤ 1/η for η ≤ 1/ln 2): no step of GD was tested either
    at_0 = int((found & reach & (s_star == 0)).sum())
    vacuous = int((found & defined & (~reach | (s_star == 0))).sum())
    notes = [f"{undecided} stepsize(s) had no {what} within {H} steps < ⌈τ⌉ (undecided)"] if undecided else []
    if not defined.all():
        notes.append(f"{int((~defined).sum())} stepsize(s) with no τ (NaN): left out")
    if vacuous:
        notes.append(f"{vacuous} stepsize(s) met it before a ⌈τ⌉ beyond step {H}, or at s = 0 (no contradiction "
                     "possible there)")
    eta = np.asarray(eta, dtype=np.float64)[:, None]
    return worst_per_row(meas[:, None], tau_c[:, None], 0.0, decided[:, None], "<=",
                         {"eta": eta, "n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma, "_horizon": H},
                         best=(meas / tau_c)[:, None], best_meaning="s*/τ", inconclusive=undecided,
                         unfalsifiable=at_0, notes=notes)
