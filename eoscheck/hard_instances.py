"""The lower side of the transition time: Crawshaw & Liu's hard instances, run and checked.

Statements (evaluated from :mod:`eoscheck.bounds.crawshaw_liu`, the one encoding):

* ``crawshaw_liu.hard1_misclassified`` — on instance 1 some point is misclassified at every t ≤ n/(16γ);
* ``crawshaw_liu.hard2_loss_above`` — on instance 2 L(w_t) > 2/η at every t ≤ 1 + 1/(59γ²) (for the
  construction's δ, which paper.md does not record: we scan δ);
* ``crawshaw_liu.tau_2d`` — both instances are two-dimensional, so Theorem 2.1's upper bound
  τ_CL = min{t : L(w_t) ≤ 1/(8η)} ≤ 2 + 4n/γ + 280 log(2/γ²)/γ² applies as well.

GD from w₀ = 0, logistic loss, every step recorded (:func:`eoscheck.gd.run_gd`).  Stepsizes
are multiples of Theorem 3.1's floor max(n, (32/γ²) log(3/γ)) (which also meets Theorem 2.1's
floor max(n, (32/γ²) log(256/γ²)) only from a factor ≈ 1 + log(256/(3γ))/log(3/γ) — the
τ_CL check says where it applies).
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from .datasets import crawshaw_liu_instance1, crawshaw_liu_instance2
from .gd import run_gd


def _bounds():
    from .bounds import crawshaw_liu  # lazily: sympy

    return crawshaw_liu


def eta_floor(gamma: float, n: int) -> float:
    """Theorem 3.1's stepsize floor max(n, (32/γ²) log(3/γ)) (``LOWER_ETA_FLOOR`` of the bounds)."""
    import sympy as sp

    from .bounds.symbols import gamma as g_sym, n as n_sym

    return float(_bounds().LOWER_ETA_FLOOR.subs({g_sym: sp.Float(gamma), n_sym: int(n)}))


def _first(mask: np.ndarray) -> int:
    hits = np.flatnonzero(mask)
    return int(hits[0]) if hits.size else -1


def _tau_row(cl, data, eta: float, loss: np.ndarray) -> dict[str, Any]:
    g, n = data.meta["gamma"], data.n
    tau = _first(loss <= 1 / (8 * eta))
    bound = cl.TAU_UPPER.numpy(gamma=g, n=n)
    inside = bool(cl.TAU_UPPER.in_domain(gamma=g, n=n, eta=eta))
    return {"τ_CL measured": tau, "τ_CL bound (Thm 2.1)": bound, "Thm 2.1 applies": inside,
            "τ_CL ≤ bound": (0 <= tau <= bound) if tau >= 0 else None}


def check_instance1(gamma: float, n: int, eta_factors: Sequence[float] = (1.0, 4.0),
                    steps: int | None = None) -> list[dict[str, Any]]:
    """Rows for instance 1: t_sep (first t with every margin > 0) against n/(16γ), per stepsize."""
    cl = _bounds()
    data = crawshaw_liu_instance1(n, gamma)
    bound = float(cl.MISCLASSIFIED_UNTIL.numpy(gamma=gamma, n=n))
    etas = [f * eta_floor(gamma, n) for f in eta_factors]
    T = int(steps or max(4 * math.ceil(bound), int(4 / gamma**2)))
    tr = run_gd(data, "logistic", etas, T, w_star=np.array([1.0, 0.0]))
    rows = []
    for k, eta in enumerate(etas):
        err = tr.records["train_error"][k]
        upto = int(math.floor(bound))
        holds = bool(np.all(err[: upto + 1] > 0))
        witness = None if holds else int(np.flatnonzero(err[: upto + 1] == 0)[0])
        rows.append({"instance": 1, "data": data.name, "γ": gamma, "n": n, "η": eta,
                     "η / floor": eta_factors[k], "in domain": bool(cl.MISCLASSIFIED_UNTIL.in_domain(
                         gamma=gamma, n=n, eta=eta)),
                     "statement": "misclassified ∀ t ≤ n/(16γ)", "bound": bound,
                     "measured": _first(err == 0), "holds": holds, "witness t": witness,
                     **_tau_row(cl, data, eta, tr.records["loss"][k])})
    return rows


def check_instance2(gamma: float, n: int, deltas: Sequence[float], eta_factors: Sequence[float] = (1.0, 4.0),
                    steps: int | None = None) -> list[dict[str, Any]]:
    """Rows for instance 2 at each δ: t₂ (first t with L ≤ 2/η) against 1 + 1/(59γ²), per stepsize."""
    cl = _bounds()
    bound = float(cl.LOSS_ABOVE_UNTIL.numpy(gamma=gamma))
    etas = [f * eta_floor(gamma, n) for f in eta_factors]
    T = int(steps or max(4 * math.ceil(bound), int(4 / gamma**2)))
    rows = []
    for delta in deltas:
        data = crawshaw_liu_instance2(n, gamma, delta)
        tr = run_gd(data, "logistic", etas, T, w_star=np.array([1.0, 0.0]))
        for k, eta in enumerate(etas):
            L = tr.records["loss"][k]
            upto = int(math.floor(bound))
            holds = bool(np.all(L[: upto + 1] > 2 / eta))
            rows.append({"instance": 2, "data": data.name, "γ": gamma, "n": n, "δ": delta, "η": eta,
                         "η / floor": eta_factors[k], "in domain": bool(cl.LOSS_ABOVE_UNTIL.in_domain(
                             gamma=gamma, n=n, eta=eta)),
                         "statement": "L > 2/η ∀ t ≤ 1 + 1/(59γ²)", "bound": bound,
                         "measured": _first(L <= 2 / eta), "holds": holds,
                         **_tau_row(cl, data, eta, L)})
    return rows
