"""Claims of Proposition 5 (paper §5; §10 row 23): the Assumption 3 constants of the built-in losses and ρ
below its closed-form bounds.  Bounds: :mod:`eoscheck.bounds.proposition5`.
"""

from __future__ import annotations

import math

import numpy as np
import torch
from hypothesis import strategies as st

from eoscheck.bounds import proposition5
from eoscheck.bounds.rho import rho

from .bound_values import at, loss_constants
from .claims import Budget, Evaluation, claim
from .instances import Instance
from .numerics import allowance
from .strategies import loss_spec, losses, single_point, with_certificate


# ---------------------------------------------------------------------------
# Proposition 5's constants (row 23)
# ---------------------------------------------------------------------------


def _prop5_instances(budget: Budget):
    @st.composite
    def inst(draw) -> Instance:
        loss = draw(losses(("logistic", "flat_exp", "flat_poly"), a=(0.25, 4.0)))
        m = 64
        rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
        span = draw(st.sampled_from([1.0, 10.0, 100.0, 700.0]))
        x = np.concatenate([[draw(st.floats(-span, span))], rng.uniform(-span, span, m - 1)])
        dz = np.concatenate([[draw(st.floats(-1.0, 1.0, exclude_min=True, exclude_max=True))],
                             rng.uniform(-1, 1, m - 1)])
        lam = np.exp(rng.uniform(0, math.log(1e8), 16))
        data = with_certificate(single_point())
        return Instance(data, loss_spec(loss), (1.0,), 0, extra={"x": x.tolist(), "dz": dz.tolist(),
                                                                  "lam": lam.tolist()})

    return inst()


def _rho_bar(loss, lam):
    """Proposition 5's bound on ρ(λ) for the loss's family (:func:`eoscheck.bounds.proposition5.family_bound`)."""
    bound, params = proposition5.family_bound(loss)
    return at(bound, **params, **{"lambda": lam})


def _in_ranges(inst: Instance) -> str | None:
    """Why ``inst``'s points lie outside the claim's ranges (None if they do not): x ∈ [−700, 700], |z − x| < 1
    (Assumption 3C's quadratic bound is stated there only), λ ∈ [1, 10⁸] (ρ's bound)."""
    x, dz, lam = (np.asarray(inst.extra.get(k, []), dtype=np.float64) for k in ("x", "dz", "lam"))
    if x.shape != dz.shape or x.ndim != 1 or not x.size or lam.ndim != 1 or not lam.size:
        return "it needs as many x as z − x, and some λ"
    if not (np.abs(x) <= 700).all():
        return f"x = {x[~(np.abs(x) <= 700)][0]:g} is outside [−700, 700]"
    if not (np.abs(dz) < 1).all():
        return f"z − x = {dz[~(np.abs(dz) < 1)][0]:g} is not in (−1, 1), where Assumption 3C bounds ℓ(z)"
    if not ((lam >= 1) & (lam <= 1e8)).all():
        return f"λ = {lam[~((lam >= 1) & (lam <= 1e8))][0]:g} is outside [1, 10⁸]"
    return None


@claim("prop5.constants", title="g ≤ C_g, g ≤ C_βℓ, ℓ(z) ≤ ℓ(x) + ℓ′(x)(z−x) + C_βg(x)(z−x)² (|z−x| < 1), "
                                "ℓ ≤ C_e g on z ≥ 0, ρ ≤ Prop. 5's bound",
       source="Proposition 5 (paper §5)", row=23, kind="exact", quantity="each side of the five inequalities",
       direction="<=", domain="x ∈ [−700, 700], |z − x| < 1, λ ∈ [1, 1e8]",
       assumptions=("logistic, flat_exp(a), flat_poly(a)",), bound=proposition5.RHO_LOGISTIC, strategy=_prop5_instances,
       examples=20, admits=_in_ranges)
def prop5_constants(inst: Instance) -> Evaluation:
    loss = inst.loss_obj
    c = loss_constants(loss)
    x = torch.as_tensor(np.asarray(inst.extra["x"]))
    z = x + torch.as_tensor(np.asarray(inst.extra["dz"]))
    lx, gx, lz = loss.value(x).numpy(), loss.g(x).numpy(), loss.value(z).numpy()
    dx = (z - x).numpy()
    meas, bnd, allw, which = [], [], [], []

    def add(m, b, a, tag):
        m = np.atleast_1d(np.asarray(m, float))
        meas.append(m)
        bnd.append(np.broadcast_to(np.asarray(b, float), m.shape))
        allw.append(np.broadcast_to(np.asarray(a, float), m.shape))
        which.append(np.full(m.shape, tag, dtype=float))

    add(gx, c["C_g"], allowance(gx), 0)                                  # 3B
    add(gx, c["C_beta"] * lx, allowance(gx, c["C_beta"] * lx), 1)        # 3C, first part
    quad = lx + loss.grad(x).numpy() * dx + c["C_beta"] * gx * dx**2      # 3C, second part
    add(lz, quad, allowance(lz, lx, gx * dx, c["C_beta"] * gx * dx**2) * (1 + np.abs(z.numpy())), 2)
    if c.get("C_e") is not None:                                          # 3D on z ≥ 0
        pos = x.numpy() >= 0
        add(lx[pos], c["C_e"] * gx[pos], allowance(lx[pos], c["C_e"] * gx[pos]), 3)
    lam = np.asarray(inst.extra["lam"])
    r = rho(loss, lam)
    add(r, _rho_bar(loss, lam), allowance(r, _rho_bar(loss, lam)), 4)
    return Evaluation(np.concatenate(meas), np.concatenate(bnd), np.concatenate(allw), "<=",
                      {"inequality": np.concatenate(which)})
