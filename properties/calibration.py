"""The instances a conjecture with fitted constants is calibrated on, and the geometric ladders its scaling is read
from (:mod:`eoscheck.properties.decide`)."""

from __future__ import annotations

import math

import numpy as np

from eoscheck._errors import EoscheckError

from .conjecture import EXTRA, PARAMS, Conjecture, geometric_mean
from .instances import Instance
from .numerics import lost_to_float64
from .strategies import build_separable


class CalibrationLost(EoscheckError):
    """Every calibration value left float64's range: no constant can be fitted (the verdict is UNDECIDED)."""


def calibration_points(conj: Conjecture, examples: int, seed: int) -> tuple[np.ndarray, dict, list[Instance], int]:
    """Measured values (and the count of those float64 lost, set aside) on ``examples`` seeded draws from the inner ranges; two of each draw's four stepsizes are the
    inner η range's ends (drawn at random only, the 16 draws of ``max_loss <= C*eta`` missed η = 0.25, where
    max_loss/η = ln 2/0.25 is largest, and its C = 1.34 was "falsified" there)."""
    rng = np.random.default_rng(seed)
    insts = []
    R = {p: r.inner(low_half=(p != "gamma")) for p, r in conj.ranges.items()}
    for _ in range(examples):
        n = int(round(math.exp(rng.uniform(math.log(R["n"].lo), math.log(R["n"].hi)))))
        d = int(round(math.exp(rng.uniform(math.log(R["d"].lo), math.log(R["d"].hi)))))
        g = math.exp(rng.uniform(math.log(R["gamma"].lo), math.log(R["gamma"].hi)))
        data = build_separable(max(1, n), max(1, d), g, int(rng.integers(2**32)), pin_margin=True)
        etas = np.exp(rng.uniform(math.log(R["eta"].lo), math.log(R["eta"].hi), 4))
        etas[:2] = R["eta"].lo, R["eta"].hi
        Ts = np.exp(rng.uniform(math.log(R["T"].lo), math.log(R["T"].hi), 4)).astype(int)
        insts.append(conj.instance(data, list(etas), list(np.maximum(Ts, 1))))
    meas, P, lost = [], {p: [] for p in PARAMS + EXTRA}, 0
    for i in insts:
        m, pp, _ = conj.points(i)
        # a value float64 lost (a loss 0 past margins ~745) carries nothing a constant can be fitted to: fitted on
        # 0 against EXPR's 0, C = 0 then convicted the true loss(t) <= C*exp(-eta*gamma**2/2) on the log records
        inside, gone = conj.mask(pp), lost_to_float64(m, pp["_logm"])
        keep = inside & ~gone
        lost += int((inside & gone).sum())
        meas.append(m[keep])
        for p in PARAMS + EXTRA:
            P[p].append(pp[p][keep])
    if lost and not sum(m.size for m in meas):
        raise CalibrationLost(f"all {lost} calibration value(s) left float64's range (a loss or F below 2^-1022, an F "
                              "beyond 1.8e308), so no constant could be fitted and the statement was not tested (the "
                              "calibration draws from the lower halves of the η, n, d, T and t ranges and the upper half "
                              "of γ's)")
    return np.concatenate(meas), {p: np.concatenate(v) for p, v in P.items()}, insts, lost


def ladders(conj: Conjecture, seed: int = 0) -> dict[str, list[Instance]]:
    """Geometric ladders: each parameter over its range, the others at the geometric middle."""
    mid = {p: geometric_mean(r.lo, r.hi) for p, r in conj.ranges.items()}
    n0, d0, g0 = max(1, int(round(mid["n"]))), max(1, int(round(mid["d"]))), mid["gamma"]
    T0 = int(round(mid["T"]))
    base = build_separable(n0, d0, g0, seed, pin_margin=True)
    out: dict[str, list[Instance]] = {}
    if conj.eta_of_T is None and conj.ranges["eta"].hi > conj.ranges["eta"].lo:
        out["eta"] = [conj.instance(base, list(np.geomspace(conj.ranges["eta"].lo, conj.ranges["eta"].hi, 8)), [T0])]
    if conj.ranges["T"].hi > conj.ranges["T"].lo:
        Ts = np.unique(np.geomspace(conj.ranges["T"].lo, conj.ranges["T"].hi, 6).astype(int))
        etas = [mid["eta"]] * len(Ts)
        out["T"] = [conj.instance(base, etas, list(Ts))]
    for p, build in (("n", lambda v: build_separable(int(v), d0, g0, seed, pin_margin=True)),
                     ("d", lambda v: build_separable(n0, int(v), g0, seed, pin_margin=True)),
                     ("gamma", lambda v: build_separable(n0, d0, float(v), seed, pin_margin=True))):
        r = conj.ranges[p]
        if r.hi > r.lo:
            vals = np.unique(np.geomspace(r.lo, r.hi, 6).round(0) if p != "gamma" else np.geomspace(r.lo, r.hi, 6))
            out[p] = [conj.instance(build(v), [mid["eta"]], [T0]) for v in vals]
    if conj.arg == "t":
        out["t"] = [conj.instance(base, [mid["eta"]], [int(conj.ranges["T"].hi)])]
    return out
