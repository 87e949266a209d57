"""The strategies build valid instances: Assumption 1 holds, checked independently of the engine."""

import numpy as np
from hypothesis import given
from scipy.optimize import minimize

from eoscheck.properties.strategies import certificate, losses, separable_datasets, stepsize_batches


def svm_margin(Z: np.ndarray) -> float:
    """Hard-margin SVM through the origin by an independent solver: min ‖w‖² s.t. Zw ≥ 1, γ = 1/‖w‖."""
    w0 = np.linalg.lstsq(Z, np.ones(len(Z)), rcond=None)[0] * 2
    res = minimize(lambda w: w @ w, w0, jac=lambda w: 2 * w, method="SLSQP",
                   constraints=[{"type": "ineq", "fun": lambda w: Z @ w - 1, "jac": lambda w: Z}],
                   options={"ftol": 1e-14, "maxiter": 500})
    w = res.x
    return float((Z @ w).min() / np.linalg.norm(w))


@given(separable_datasets())
def test_generated_data_satisfy_assumption_1(data):
    assert data.max_norm <= 1.0
    cert = certificate(data)
    assert abs(np.linalg.norm(cert.w_star) - 1) < 1e-12
    assert cert.gamma > 0
    assert (data.Z @ cert.w_star).min() >= cert.gamma
    # the certified margin is the max margin: an independent QP solver agrees (SLSQP's accuracy, 1e-6)
    assert abs(svm_margin(data.Z) - cert.gamma) <= 1e-6 * max(1.0, cert.gamma)


@given(separable_datasets(n=5, d=3, margin=(0.2, 0.5)))
def test_fixed_arguments_are_respected(data):
    assert data.n == 5 and data.d == 3
    assert certificate(data).gamma >= 0.2 * (1 - 1e-9)


@given(stepsize_batches(0.25, 1024.0, size=8))
def test_stepsize_batches_stay_in_range(etas):
    assert all(0.25 <= e <= 1024.0 for e in etas)
    assert list(etas) == sorted(set(etas))


@given(losses())
def test_losses_are_lipschitz_families(loss):
    assert loss.family in ("logistic", "flat_exp", "flat_poly")
    assert loss.paper_constants["C_g"] is not None
