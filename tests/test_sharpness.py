"""Sharpness engine: Lanczos on Hessian-vector products against closed forms and dense eigensolvers.

Reference values are computed independently in each test: numpy/scipy closed-form Hessians,
dense ``numpy.linalg.eigvalsh`` of matrices or of full autograd Hessians.
"""

import numpy as np
import pytest
import torch
from scipy.special import expit

from eoscheck import EoscheckError, logistic, synthetic
from eoscheck.sharpness import (
    hvp_from_loss,
    lanczos,
    linear_hessian,
    linear_sharpness,
    top_hessian_eigs,
)


pytestmark = pytest.mark.usefixtures("one_thread")


def _logreg_hessian_np(X, y, w):
    """(1/n) Σ σ(mᵢ)σ(−mᵢ) xᵢxᵢᵀ with mᵢ = yᵢxᵢᵀw (numpy, by hand)."""
    m = y * (X @ w)
    s = expit(m) * expit(-m)
    return (X * s[:, None]).T @ X / len(y)


def test_lanczos_matches_closed_form_logistic_regression():
    data = synthetic(n=80, d=15, gamma=0.1, seed=3)
    X, y = data.X, data.y
    w = np.random.default_rng(0).standard_normal(15) * 3
    ref = np.linalg.eigvalsh(_logreg_hessian_np(X, y, w))[::-1]
    Xt, yt = torch.tensor(X), torch.tensor(y)

    def loss_fn(wt):
        return torch.nn.functional.softplus(-yt * (Xt @ wt)).mean()

    res = top_hessian_eigs(loss_fn, [torch.tensor(w)], k=3, tol=1e-12)
    assert res.all_converged
    np.testing.assert_allclose(res.eigenvalues.numpy(), ref[:3], rtol=1e-8)
    # eigenvectors: unit, and Hv = λv to the reported residual
    H = _logreg_hessian_np(X, y, w)
    V = res.eigenvectors.numpy()
    np.testing.assert_allclose(np.linalg.norm(V, axis=0), 1.0, rtol=1e-12)
    r = np.linalg.norm(H @ V - V * res.eigenvalues.numpy(), axis=0)
    assert (r <= 1e-9 * ref[0]).all() and (res.residuals.numpy() <= 1e-9 * ref[0]).all()


@pytest.mark.parametrize("n,d", [(50, 8), (12, 30)])
def test_linear_closed_forms_match_numpy(n, d):
    """Both the d×d and the n×n Gram form (d > n) give the top eigenvalue of the closed form."""
    data = synthetic(n=n, d=d, gamma=0.2, seed=1)
    W = np.random.default_rng(1).standard_normal((3, d)) * 2
    ref = np.array([np.linalg.eigvalsh(_logreg_hessian_np(data.X, data.y, w))[-1] for w in W])
    got = linear_sharpness(data.Z, logistic(), W).numpy()
    np.testing.assert_allclose(got, ref, rtol=1e-10)
    np.testing.assert_allclose(linear_hessian(data.Z, "logistic", W[0]).numpy(),
                               _logreg_hessian_np(data.X, data.y, W[0]), rtol=1e-12, atol=1e-15)


def _tiny_mlp_loss():
    g = torch.Generator().manual_seed(0)
    X = torch.randn(20, 3, generator=g, dtype=torch.float64)
    lab = torch.randint(0, 3, (20,), generator=g)
    shapes = [(5, 3), (5,), (4, 5), (4,), (3, 4), (3,)]
    params = [torch.randn(s, generator=g, dtype=torch.float64) for s in shapes]

    def loss_fn(W1, b1, W2, b2, W3, b3):
        h = torch.tanh(X @ W1.T + b1)
        h = torch.tanh(h @ W2.T + b2)
        return torch.nn.functional.cross_entropy(h @ W3.T + b3, lab)

    return loss_fn, params, shapes


def _dense_hessian(loss_fn, params, shapes):
    sizes = [int(np.prod(s)) for s in shapes]
    flat0 = torch.cat([p.reshape(-1) for p in params])

    def flat_loss(v):
        parts = v.split(sizes)
        return loss_fn(*[q.reshape(s) for q, s in zip(parts, shapes)])

    return torch.autograd.functional.hessian(flat_loss, flat0).numpy()


def test_lanczos_matches_dense_eigvalsh_on_small_network():
    loss_fn, params, shapes = _tiny_mlp_loss()
    H = _dense_hessian(loss_fn, params, shapes)
    ev = np.linalg.eigvalsh(0.5 * (H + H.T))[::-1]
    assert ev[-1] < 0 < ev[0]  # an indefinite Hessian: 'largest algebraic' matters
    res = top_hessian_eigs(loss_fn, params, k=4, tol=1e-12)
    assert res.all_converged
    np.testing.assert_allclose(res.eigenvalues.numpy(), ev[:4], rtol=1e-8)
    # the HVP itself equals the dense Hessian times a vector
    op = hvp_from_loss(loss_fn, params)
    v = torch.randn(op.dim, generator=torch.Generator().manual_seed(5), dtype=torch.float64)
    np.testing.assert_allclose(op(v).numpy(), H @ v.numpy(), rtol=1e-10, atol=1e-12)


def test_largest_algebraic_not_largest_magnitude():
    Q, _ = np.linalg.qr(np.random.default_rng(2).standard_normal((60, 60)))
    lam = np.concatenate([[-100.0, -50.0], np.linspace(-1, 3, 58)])
    A = torch.tensor(Q @ np.diag(lam) @ Q.T)
    res = lanczos(lambda v: A @ v, 60, k=2, tol=1e-12)
    np.testing.assert_allclose(res.eigenvalues.numpy(), np.sort(lam)[::-1][:2], rtol=1e-10)
    low = lanczos(lambda v: A @ v, 60, k=2, tol=1e-12, which="SA")
    np.testing.assert_allclose(low.eigenvalues.numpy(), [-100.0, -50.0], rtol=1e-10)
    assert low.all_converged


def test_batched_equals_separate_and_seeded_reproducible():
    rng = np.random.default_rng(4)
    mats = []
    for _ in range(3):
        M = rng.standard_normal((40, 40))
        mats.append(M + M.T)
    A = torch.tensor(np.stack(mats))
    res = lanczos(lambda V: torch.einsum("bij,bj->bi", A, V), 40, k=2, batch=3, tol=1e-12, seed=7)
    for b in range(3):
        ref = np.linalg.eigvalsh(mats[b])[::-1][:2]
        np.testing.assert_allclose(res.eigenvalues[b].numpy(), ref, rtol=1e-10)
        one = lanczos(lambda v: A[b] @ v, 40, k=2, tol=1e-12, seed=11)
        np.testing.assert_allclose(one.eigenvalues.numpy(), ref, rtol=1e-10)
    again = lanczos(lambda V: torch.einsum("bij,bj->bi", A, V), 40, k=2, batch=3, tol=1e-12, seed=7)
    assert torch.equal(res.eigenvalues, again.eigenvalues)
    assert torch.equal(res.eigenvectors, again.eigenvectors)


def test_warm_start_converges_faster_to_the_same_value():
    rng = np.random.default_rng(5)
    lam = np.concatenate([np.linspace(0, 1, 298), [1.05, 1.1]])
    Q, _ = np.linalg.qr(rng.standard_normal((300, 300)))
    A = torch.tensor(Q @ np.diag(lam) @ Q.T)
    cold = lanczos(lambda v: A @ v, 300, k=1, tol=1e-10, iters=300)
    E = torch.tensor(np.eye(300) + 1e-3 * rng.standard_normal((300, 300)))
    A2 = E.T @ A @ E  # a nearby operator, as between two GD steps
    warm = lanczos(lambda v: A2 @ v, 300, k=1, tol=1e-10, iters=300, v0=cold.eigenvectors[:, 0])
    cold2 = lanczos(lambda v: A2 @ v, 300, k=1, tol=1e-10, iters=300, seed=1)
    ref = np.linalg.eigvalsh(A2.numpy())[-1]
    assert warm.all_converged and cold2.all_converged
    np.testing.assert_allclose([warm.top.item(), cold2.top.item()], ref, rtol=1e-9)
    assert warm.iterations < cold2.iterations


def test_warm_start_on_wrong_eigenvector_still_finds_the_top():
    rng = np.random.default_rng(6)
    Q, _ = np.linalg.qr(rng.standard_normal((50, 50)))
    lam = np.linspace(-2, 5, 50)
    A = torch.tensor(Q @ np.diag(lam) @ Q.T)
    res = lanczos(lambda v: A @ v, 50, k=1, tol=1e-12, v0=torch.tensor(Q[:, 10]))  # an exact, non-top eigenvector
    np.testing.assert_allclose(res.top.item(), 5.0, rtol=1e-10)


def test_breakdown_low_rank_operator():
    """Rank-2 operator: Lanczos breaks down after 2 steps and must restart, not divide by 0."""
    U = np.random.default_rng(7).standard_normal((30, 2))
    A = torch.tensor(U @ U.T)
    res = lanczos(lambda v: A @ v, 30, k=3, tol=1e-12)
    ref = np.linalg.eigvalsh(U @ U.T)[::-1][:3]
    np.testing.assert_allclose(res.eigenvalues.numpy()[:2], ref[:2], rtol=1e-10)
    assert abs(res.eigenvalues[2].item()) < 1e-10 * ref[0]
    assert torch.isfinite(res.eigenvectors).all()


def test_unconverged_is_flagged():
    rng = np.random.default_rng(8)
    Q, _ = np.linalg.qr(rng.standard_normal((200, 200)))
    lam = 1 - np.geomspace(1e-6, 1, 200)  # clustered top: slow convergence
    A = torch.tensor(Q @ np.diag(lam) @ Q.T)
    res = lanczos(lambda v: A @ v, 200, k=1, tol=1e-12, iters=4, min_iters=4)
    assert res.iterations == 4 and not res.all_converged
    Av = A @ res.eigenvectors[:, 0]
    r = (Av - res.top * res.eigenvectors[:, 0]).norm().item()
    np.testing.assert_allclose(res.residuals[0].item(), r, rtol=1e-10)
    assert r > 1e-12


def test_full_dimension_is_exact():
    M = np.random.default_rng(9).standard_normal((6, 6))
    A = torch.tensor(M + M.T)
    res = lanczos(lambda v: A @ v, 6, k=6, tol=1e-13)
    np.testing.assert_allclose(res.eigenvalues.numpy(), np.linalg.eigvalsh(M + M.T)[::-1], rtol=1e-10, atol=1e-12)


def test_bad_input():
    A = torch.eye(4, dtype=torch.float64)
    with pytest.raises(EoscheckError):
        lanczos(lambda v: A @ v, 4, k=5)
    with pytest.raises(EoscheckError):
        lanczos(lambda v: A @ v, 4, k=1, which="LM")
    with pytest.raises(EoscheckError, match="NaN"):
        lanczos(lambda v: v * float("nan"), 4, k=1)


def test_lanczos_agrees_with_gd_engine_closed_form_sharpness():
    """Cross-check with the linear GD engine's recorded (closed-form) sharpness along a run."""
    from eoscheck.gd import run_gd

    data = synthetic(n=40, d=6, gamma=0.1, seed=2)
    etas, T = [1.0, 50.0], 30
    traj = run_gd(data, "logistic", etas, T, sharpness_every=10)
    Z = data.Z
    Zt = torch.tensor(Z)
    for k, eta in enumerate(etas):
        w = np.zeros(6)
        for t in range(T + 1):
            if t % 10 == 0:
                res = top_hessian_eigs(lambda v: torch.nn.functional.softplus(-(Zt @ v)).mean(), [torch.tensor(w)],
                                       tol=1e-12)
                j = list(traj.sharpness_step).index(t)
                np.testing.assert_allclose(traj.sharpness[k, j], res.top.item(), rtol=1e-8)
            w = w + eta * (expit(-(Z @ w)) @ Z) / len(Z)  # GD step by hand: −∇L = mean σ(−m)z


def test_the_gram_forms_are_exact_for_a_loss_with_negative_curvature():
    """ℓ(z) = 1 − tanh z has ℓ″ < 0 at some margins: the n×n forms clipped ℓ″ at 0 and gave an upper bound (the NTK
    network: 0.19127 where λ_max is 0.16598; a linear model with d > n: 0.256461 for 0.256450).  Oracle: λ_max of
    the d×d Hessian (1/n)Zᵀdiag(ℓ″)Z by eigvalsh, which needs no sign (d > n, so 0 is an eigenvalue too).
    Tolerance: both are backward-stable symmetric eigenproblems (the n×n form through one more, ZZᵀ = UΛUᵀ), so
    each eigenvalue is within ~c·d·u·‖H‖₂ of the exact one, ‖H‖₂ ≤ max|ℓ″|·‖Z‖₂²/n: 64·ε·that absolute (where
    λ_max is 0 the d×d form reads ±4e-18), and 1e-12 relative."""
    from eoscheck.gdnumpy import batch_sharpness_np
    from eoscheck.expr import parse_loss
    from eoscheck.sharpness import batch_sharpness_torch, gram_sharpness, linear_sharpness

    loss = parse_loss("1 - tanh(z)")
    rng = np.random.default_rng(3)
    n, d = 3, 6
    Z = rng.normal(size=(n, d)) / np.sqrt(d)
    W = rng.normal(size=(4, d))
    h = loss.hess(torch.as_tensor(W @ Z.T)).numpy()
    assert (h < 0).any() and (h > 0).any()
    want = np.array([np.linalg.eigvalsh(Z.T @ np.diag(hk / n) @ Z)[-1] for hk in h])
    Zt = torch.as_tensor(Z)
    for got in (linear_sharpness(Zt, loss, torch.as_tensor(W)).numpy(),
                gram_sharpness(Zt @ Zt.T, torch.as_tensor(h)).numpy(),
                batch_sharpness_torch(torch.as_tensor(h / n), Zt).numpy(), batch_sharpness_np(h / n, Z)):
        np.testing.assert_allclose(got, want, rtol=1e-12, atol=64 * np.finfo(float).eps * np.abs(h).max() / n
                                   * np.linalg.norm(Z, 2) ** 2)
