"""Heuristics read off the paper's Figure 1 (§10 rows 15, 16): reported as warnings, never failures.
"""

from __future__ import annotations

import math

import numpy as np
from hypothesis import strategies as st


from .claims import Budget, Claim, Evaluation, register
from .instances import Instance
from .numerics import rel_allowance
from .observe import Arrays
from .strategies import separable_datasets, stepsize_batches


LN2 = math.log(2.0)



# ---------------------------------------------------------------------------
# rows 15 and 16: heuristics read off Figure 1 (warnings, never failures)
# ---------------------------------------------------------------------------


def _plateau_strategy(budget: Budget):
    data_st = separable_datasets(n=(1, int(8 * budget.scale)), d=(1, 5), margin=(0.1, 0.9))
    T = budget.steps(4000)

    @st.composite
    def inst(draw):
        return Instance(draw(data_st), "logistic", draw(stepsize_batches(1.0, 64.0, size=5)), T)

    return inst()


def plateau_evaluate(inst: Instance) -> Evaluation:
    """|ln(γ²ηT·L(w_T))| ≤ ln 2 for runs stable since T/8 (the factor-2 band is the documented warning level)."""
    A = Arrays.of(inst.trajectory())
    T = inst.steps
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    up = np.diff(A.logL, axis=1) > np.log1p(2 * rel)
    stable = ~up[:, T // 8:].any(axis=1)
    prod = inst.gamma**2 * A.eta[:, 0] * T * A.L[:, T]
    dev = np.abs(np.log(prod))
    return Evaluation(dev[stable], np.full(stable.sum(), LN2), 0.0, "<=",
                      {"eta": A.eta[stable, 0], "T": T, "n": inst.data.n, "gamma": inst.gamma,
                       "plateau": prod[stable]})


register(Claim(
    id="fig1.plateau", title="γ²ηt·L(w_t) → 1 as t → ∞ (L(w_t)·ηt flat at 1/γ²)",
    source="Figure 1(b,d) and the heuristic of paper §2.4; §10 row 15", row=15, kind="heuristic",
    quantity="|ln(γ²ηT·L(w_T))|", direction="<=", domain="runs monotone after T/8; factor-2 band",
    strategy=_plateau_strategy, evaluate=plateau_evaluate, examples=3),
)


def larger_eta_evaluate(inst: Instance) -> Evaluation:
    """Among runs monotone after T/4, L(w_T) must not increase with η (ratio of consecutive η's ≤ 1)."""
    A = Arrays.of(inst.trajectory())
    T = inst.steps
    rel = rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1]))
    stable = ~(np.diff(A.logL, axis=1)[:, T // 4:] > np.log1p(2 * rel[:, T // 4:])).any(axis=1)
    rows = np.flatnonzero(stable)
    if rows.size < 2:
        return Evaluation(np.zeros(0), np.zeros(0))
    LT = A.L[rows, T]
    r = LT[1:] / LT[:-1]
    return Evaluation(r, 1.0, 4 * rel_allowance(A.wn[rows[1:], T]), "<=",
                      {"eta": A.eta[rows[1:], 0], "eta_prev": A.eta[rows[:-1], 0], "T": T, "gamma": inst.gamma})


register(Claim(
    id="fig1.larger_eta_smaller_loss", title="once stabilized, a larger η gives a smaller loss",
    source="Figure 1(a,c) (paper §8.1); §10 row 16", row=16, kind="heuristic",
    quantity="L(w_T; η′)/L(w_T; η) for η′ > η", direction="<=", domain="runs monotone after T/4",
    strategy=_plateau_strategy, evaluate=larger_eta_evaluate, examples=3),
)
