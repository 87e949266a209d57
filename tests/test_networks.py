"""The two-layer NTK network (Theorem 6) and the 3-layer-net experiment.

Every reference value is computed independently here: torch autograd on a separately written
network, dense autograd Hessians with ``eigvalsh``, scipy's QP solver for max margins,
scipy's scalar minimizer for ρ.
"""

import math

import numpy as np
import pytest
import torch
from scipy.optimize import minimize, minimize_scalar

from eoscheck import Dataset, EoscheckError, get_loss, synthetic
from eoscheck.mlp import init_mlp, mlp3_data, run_mlp3
from eoscheck.networks import (
    init_weights,
    ntk_features,
    ntk_gradient,
    ntk_margin,
    output_signs,
    run_ntk,
    thm6_conditions,
)
from eoscheck.trajectory import Trajectory


pytestmark = pytest.mark.usefixtures("one_thread")


def _f_autograd(X, W, a):
    """f(x; W) = (1/√m) Σₛ aₛ relu(xᵀwₛ), written independently (autograd's relu′(0) = 0)."""
    return torch.relu(X @ W.T) @ a / math.sqrt(W.shape[0])


@pytest.mark.parametrize("loss", ["logistic", "flat_exp:a=2", "flat_poly:a=1", "exponential"])
def test_ntk_manual_gradient_equals_autograd(loss):
    ell = get_loss(loss)
    g = torch.Generator().manual_seed(1)
    X = torch.randn(25, 4, generator=g, dtype=torch.float64)
    y = torch.where(torch.rand(25, generator=g) < 0.5, -1.0, 1.0).double()
    a = torch.tensor(output_signs(16, "random", seed=3))
    W = torch.randn(16, 4, generator=g, dtype=torch.float64)
    grad, M, _, _ = ntk_gradient(X, y, W, a, ell)
    Wr = W.clone().requires_grad_(True)
    L = ell.value(y * _f_autograd(X, Wr, a)).mean()
    (ref,) = torch.autograd.grad(L, Wr)
    np.testing.assert_allclose(grad.numpy(), ref.numpy(), rtol=1e-12, atol=1e-15)
    np.testing.assert_allclose(M.numpy(), (y * _f_autograd(X, W, a)).numpy(), rtol=1e-13, atol=1e-15)


def test_ntk_feature_norm_at_most_one():
    """‖∇f(x; w)‖ ≤ ‖x‖ ≤ 1 (eq. (9)); in fact ‖∇f‖² = ‖x‖²·#active/m."""
    rng = np.random.default_rng(2)
    U = rng.standard_normal((40, 5))
    X = U / np.linalg.norm(U, axis=1, keepdims=True) * rng.uniform(0, 1, (40, 1))
    X[:5] = U[:5] / np.linalg.norm(U[:5], axis=1, keepdims=True)  # on the sphere
    Xt = torch.tensor(X)
    for seed, signs in [(0, "balanced"), (1, "random")]:
        W = torch.tensor(init_weights(33, 5, seed))
        a = torch.tensor(output_signs(33, signs, seed))
        F = ntk_features(Xt, W, a)
        for i in range(40):
            Wr = W.clone().requires_grad_(True)
            (gi,) = torch.autograd.grad(_f_autograd(Xt[i:i + 1], Wr, a).sum(), Wr)
            np.testing.assert_allclose(F[i].numpy(), gi.reshape(-1).numpy(), rtol=1e-14, atol=1e-16)
            active = int(((Xt[i] @ W.T) > 0).sum())
            np.testing.assert_allclose(gi.norm().item() ** 2, X[i] @ X[i] * active / 33, rtol=1e-12)
        assert (F.norm(dim=1) <= 1 + 1e-15).all()


def _tiny(n=16, d=3, seed=0):
    return synthetic(n=n, d=d, gamma=0.2, seed=seed)


def test_batched_stepsizes_equal_separate_runs():
    data = _tiny()
    etas = [0.3, 4.0, 60.0]
    both = run_ntk(data, "logistic", etas, steps=40, width=12, seed=5, sharpness_every=10)
    for k, eta in enumerate(etas):
        one = run_ntk(data, "logistic", [eta], steps=40, width=12, seed=5, sharpness_every=10)
        for key, v in one.records.items():
            np.testing.assert_allclose(both.records[key][k], v[0], rtol=1e-12, atol=1e-300, err_msg=key)
        for key, v in one.stats.items():
            assert both.stats[key][k] == v[0], key
        np.testing.assert_allclose(both.sharpness[k], one.sharpness[0], rtol=1e-10)


def test_reproducible_and_seed_dependent():
    data = _tiny()
    r1 = run_ntk(data, "logistic", [1.0, 8.0], steps=20, width=10, seed=3, signs="random")
    r2 = run_ntk(data, "logistic", [1.0, 8.0], steps=20, width=10, seed=3, signs="random")
    r3 = run_ntk(data, "logistic", [1.0, 8.0], steps=20, width=10, seed=4, signs="random")
    for key in r1.records:
        np.testing.assert_array_equal(r1.records[key], r2.records[key])
    assert r1.config["ntk"] == r2.config["ntk"]
    assert not np.array_equal(r1.records["loss"], r3.records["loss"])


def test_divergence_marked_without_spoiling_other_stepsizes():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    data = Dataset(X, np.where(rng.random(20) < 0.5, 1.0, -1.0), name="random-labels")
    tr = run_ntk(data, "exponential", [0.1, 3.0, 100.0], steps=50, width=32)
    div = tr.stats["diverged_at"]
    assert div[0] == -1 and div[1] == -1 and div[2] > 0
    assert np.isnan(tr.records["loss"][2, div[2]:]).all()
    assert np.isfinite(tr.records["loss"][2, :div[2]]).all()
    for k in (0, 1):
        one = run_ntk(data, "exponential", [tr.eta[k]], steps=50, width=32)
        np.testing.assert_allclose(tr.records["loss"][k], one.records["loss"][0], rtol=1e-12)
        assert np.isfinite(tr.records["loss"][k]).all()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_records_do_not_depend_on_the_hand_over_chunk(monkeypatch, backend):
    """The network runs hand their steps to the recorder a chunk at a time (eoscheck.netrecord) and
    freeze diverged rows with their own mask in between: chunks of 7 steps (divergence at t = 2 and 3,
    sharpness checkpoints and a log grid straddling the hand-overs) give the bytes of one chunk, on both engines
    (the compiled one runs blocks of steps that end at the hand-overs and the checkpoints)."""
    import eoscheck.netrecord as nr

    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    data = Dataset(X, np.where(rng.random(20) < 0.5, 1.0, -1.0), name="random-labels")
    runs = []
    for chunk in (7, 1000):
        monkeypatch.setattr(nr.Recorder, "CHUNK", chunk)
        runs.append([run_ntk(data, "exponential", [0.1, 3.0, 100.0, 30.0], steps=60, width=32, sharpness_every=5,
                             grid=grid, grid_points=10, backend=backend) for grid in ("all", "log")])
    assert list(runs[0][0].stats["diverged_at"]) == [-1, -1, 2, 3]
    for a, b in zip(*runs):
        assert all(a.records[k].tobytes() == b.records[k].tobytes() for k in a.records)
        assert all(np.array_equal(a.stats[k], b.stats[k]) for k in a.stats)
        assert a.sharpness.tobytes() == b.sharpness.tobytes()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_first_steps_match_independent_gd(backend):
    """Records at t = 0..3 equal GD run by hand with autograd on the independent network (both engines)."""
    data = _tiny(n=10, d=4, seed=2)
    width, seed, eta = 9, 7, 2.5
    tr = run_ntk(data, "logistic", [eta], steps=3, width=width, seed=seed, signs="random", backend=backend)
    assert tr.provenance["engine"]["backend"] == backend
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    W0 = torch.tensor(np.random.default_rng(seed).standard_normal((width, 4)))
    a = torch.tensor(output_signs(width, "random", seed))
    W = W0.clone()
    for t in range(4):
        Wr = W.clone().requires_grad_(True)
        m = y * _f_autograd(X, Wr, a)
        L = torch.nn.functional.softplus(-m).mean()
        (g,) = torch.autograd.grad(L, Wr)
        np.testing.assert_allclose(tr.records["loss"][0, t], L.item(), rtol=1e-13)
        np.testing.assert_allclose(tr.records["grad_norm"][0, t], g.norm().item(), rtol=1e-12)
        np.testing.assert_allclose(tr.records["w_norm"][0, t], (W - W0).norm().item(), rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(tr.records["min_margin"][0, t], m.min().item(), rtol=1e-12)
        np.testing.assert_allclose(tr.records["G"][0, t], torch.sigmoid(-m).mean().item(), rtol=1e-12)
        W = W - eta * g
    f0 = _f_autograd(X, W0, a)
    assert tr.config["ntk"]["max_abs_f0"] == pytest.approx(f0.abs().max().item(), rel=1e-13)
    assert tr.config["ntk"]["C_a"] == pytest.approx(abs(a.sum().item()) / math.sqrt(width), rel=1e-15)
    assert run_ntk(data, "logistic", [1.0], 1, width=10, signs="balanced").config["ntk"]["C_a"] == 0.0


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_ntk_sharpness_equals_dense_hessian(backend):
    """The closed-form (Gram) sharpness equals eigvalsh of the full autograd Hessian at t = 0 and 1 (both engines)."""
    data = _tiny(n=12, d=3, seed=4)
    width, seed, eta = 6, 1, 3.0
    tr = run_ntk(data, "logistic", [eta], steps=1, width=width, seed=seed, sharpness_every=1, backend=backend)
    X, y = torch.tensor(data.X), torch.tensor(data.y)
    a = torch.tensor(output_signs(width, "balanced"))
    W0 = torch.tensor(np.random.default_rng(seed).standard_normal((width, 3)))

    def L(wflat):
        return torch.nn.functional.softplus(-y * _f_autograd(X, wflat.reshape(width, 3), a)).mean()

    w = W0.reshape(-1).clone()
    for t in range(2):
        H = torch.autograd.functional.hessian(L, w).numpy()
        ref = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
        np.testing.assert_allclose(tr.sharpness[0, t], ref, rtol=1e-10)
        w = w - eta * torch.autograd.functional.jacobian(L, w)


def _qp_margin(Z):
    """max-margin of the rows of Z as dist(0, conv{zᵢ}) = min over the simplex of ‖Zᵀα‖ (scipy SLSQP)."""
    G = Z @ Z.T
    n = len(Z)
    res = minimize(lambda al: al @ G @ al, np.full(n, 1 / n), jac=lambda al: 2 * G @ al, method="SLSQP",
                   bounds=[(0, 1)] * n, constraints=[{"type": "eq", "fun": lambda al: al.sum() - 1}],
                   options={"ftol": 1e-16, "maxiter": 1000})
    assert res.success, res.message
    return math.sqrt(max(res.fun, 0.0))


@pytest.mark.parametrize("width", [4, 8])  # m·d = n (features) and m·d > n (Gram factor)
def test_ntk_margin_matches_qp(width):
    data = _tiny(n=8, d=2, seed=6)
    W0 = init_weights(width, 2, seed=1)
    a = output_signs(width, "balanced")
    F = ntk_features(torch.tensor(data.X), torch.tensor(W0), torch.tensor(a)).numpy()
    Z = data.y[:, None] * F
    gamma, gap = ntk_margin(data, W0, a)
    ref = _qp_margin(Z)
    assert ref > 1e-3  # separable in feature space (else the comparison below is vacuous)
    assert gamma == pytest.approx(ref, rel=1e-6)
    assert gap >= 0


def _rho_logistic(lam):
    res = minimize_scalar(lambda zz: lam * np.logaddexp(0, -zz) + zz * zz, bounds=(-5, 60), method="bounded",
                          options={"xatol": 1e-12})
    return res.fun


def test_theorem6_width_condition_by_hand():
    gamma, n, delta, C_a, T, width = 0.3, 50, 0.05, 0.5, 200, 10**6
    out = thm6_conditions(get_loss("logistic"), gamma, [0.5, 8.0], T, n, width, C_a, delta)
    for row, eta in zip(out, [0.5, 8.0]):
        R = 6 * (math.sqrt(_rho_logistic(gamma**2 * eta * T)) + C_a + math.sqrt(2 * math.log(2 * n / delta))
                 + eta * 1.0) / gamma
        m = ((30 * R ** (1 / 3) + 10 * math.log(n / delta) ** 0.25) / gamma) ** 6
        assert row["R"] == pytest.approx(R, rel=1e-7)
        assert row["width_required"] == pytest.approx(m, rel=1e-7)
        assert row["width_condition"] is False and m > 1e10
    # never satisfiable in practice: R ≥ 6√(2 ln 2) for every γ ≤ 1, so m ≥ (30·R^{1/3})⁶ > 3e10
    best = thm6_conditions(get_loss("logistic"), 1.0, [1e-9], 1, 1, 10**9, 0.0, 0.99)[0]
    assert best["width_required"] > 3e10 and not best["width_condition"]


def test_ntk_trajectory_roundtrip_and_config(tmp_path):
    data = _tiny()
    tr = run_ntk(data, "logistic", [1.0, 16.0], steps=30, width=8, grid="log", grid_points=8, sharpness_every=15)
    assert tr.step[0] == 0 and tr.step[-1] == 30 and len(tr.step) < 31
    assert np.isnan(tr.records["w_proj"]).all()
    assert tr.records["w_norm"][:, 0].tolist() == [0.0, 0.0]
    for key in ("diverged_at", "last_increase", "last_increase_strict", "first_below_1_over_eta",
                "first_below_2_over_eta", "max_loss", "argmax_loss"):
        assert tr.stats[key].shape == (2,)
    ntk = tr.config["ntk"]
    assert {"C_a", "max_abs_f0", "ntk_margin", "thm6"} <= set(ntk) and len(ntk["thm6"]) == 2
    back = Trajectory.load(tr.save(tmp_path / "run"))
    np.testing.assert_array_equal(back.records["loss"], tr.records["loss"])
    np.testing.assert_array_equal(back.sharpness, tr.sharpness)


def test_ntk_bad_input():
    data = _tiny()
    with pytest.raises(EoscheckError):
        run_ntk(data, "logistic", [1.0], 5, width=0)
    with pytest.raises(EoscheckError):
        run_ntk(data, "logistic", [1.0], 5, delta=1.5)
    with pytest.raises(EoscheckError):
        run_ntk(data, "logistic", [1.0], 5, signs="sorted")


# ---------------------------------------------------------------------------
# 3-layer net
# ---------------------------------------------------------------------------


def _tiny_classes():
    rng = np.random.default_rng(3)
    X = rng.uniform(0, 1, (30, 4))
    lab = rng.integers(0, 3, 30)
    return X, lab


def _torch_net(params):
    """nn.Sequential with the given [W1, b1, W2, b2, W3, b3] (independent of eoscheck.mlp)."""
    sizes = [(params[0].shape[1], params[0].shape[0]), (params[2].shape[1], params[2].shape[0]),
             (params[4].shape[1], params[4].shape[0])]
    net = torch.nn.Sequential(torch.nn.Linear(*sizes[0]), torch.nn.Tanh(), torch.nn.Linear(*sizes[1]),
                              torch.nn.Tanh(), torch.nn.Linear(*sizes[2])).double()
    lin = [net[0], net[2], net[4]]
    with torch.no_grad():
        for i, layer in enumerate(lin):
            layer.weight.copy_(torch.tensor(params[2 * i]))
            layer.bias.copy_(torch.tensor(params[2 * i + 1]))
    return net


def test_mlp3_tiny_matches_independent_network_and_records_sharpness():
    X, lab = _tiny_classes()
    etas = [2.0, 0.2]
    tr = run_mlp3((X, lab), etas, steps=6, hidden=(5, 4), seed=1, sharpness_every=3)
    assert tr.sharpness.shape == (2, 3) and tr.sharpness_step.tolist() == [0, 3, 6]
    assert np.isfinite(tr.sharpness).all()
    assert tr.stats["sharpness_unconverged"].tolist() == [0, 0]
    p0 = init_mlp((4, 5, 4, 3), seed=1)
    Xt, lt = torch.tensor(X), torch.tensor(lab)
    for k, eta in enumerate(etas):
        net = _torch_net(p0)
        params = list(net.parameters())
        for t in range(4):
            L = torch.nn.functional.cross_entropy(net(Xt), lt)
            grads = torch.autograd.grad(L, params)
            np.testing.assert_allclose(tr.records["loss"][k, t], L.item(), rtol=1e-12)
            gn = math.sqrt(sum(float((g**2).sum()) for g in grads))
            np.testing.assert_allclose(tr.records["grad_norm"][k, t], gn, rtol=1e-11)
            with torch.no_grad():
                logits = net(Xt)
                pred_ok = logits.argmax(1) == lt
                np.testing.assert_allclose(tr.records["train_error"][k, t], 1 - pred_ok.double().mean().item())
                p = torch.softmax(logits, 1)[torch.arange(30), lt]
                np.testing.assert_allclose(tr.records["G"][k, t], (1 - p).mean().item(), rtol=1e-11)
            if t == 3:  # sharpness checkpoint: dense Hessian of the independent network
                shapes = [q.shape for q in params]
                sizes = [q.numel() for q in params]
                flat = torch.cat([q.detach().reshape(-1) for q in params])

                def flat_loss(v, shapes=shapes, sizes=sizes):
                    W1, b1, W2, b2, W3, b3 = [u.reshape(s) for u, s in zip(v.split(sizes), shapes)]
                    h = torch.tanh(torch.tanh(Xt @ W1.T + b1) @ W2.T + b2)
                    return torch.nn.functional.cross_entropy(h @ W3.T + b3, lt)

                H = torch.autograd.functional.hessian(flat_loss, flat).numpy()
                ref = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
                np.testing.assert_allclose(tr.sharpness[k, 1], ref, rtol=1e-8)
            with torch.no_grad():
                for q, g in zip(params, grads):
                    q -= eta * g
    assert np.isnan(tr.records["norm_margin"]).all() and np.isnan(tr.records["w_proj"]).all()


def test_mlp3_default_data_is_1000_real_digits():
    X, lab, name, meta = mlp3_data(None)
    assert X.shape == (1000, 64) and set(np.unique(lab)) == set(range(10))
    assert X.min() >= 0 and X.max() <= 1 and name == "digits10"


def test_mlp3_binary_dataset_is_logistic_on_logit_difference():
    """Two classes: cross-entropy = logistic loss of the logit difference (the effective margin)."""
    data = _tiny(n=20, d=3)
    tr = run_mlp3(data, [0.5], steps=0, hidden=(3, 3), seed=0, sharpness_every=None)
    p0 = init_mlp((3, 3, 3, 2), seed=0)
    with torch.no_grad():
        z = _torch_net(p0)(torch.tensor(data.X))
    cls = torch.tensor(np.where(data.y > 0, 0, 1))
    diff = z[torch.arange(20), cls] - z[torch.arange(20), 1 - cls]
    np.testing.assert_allclose(tr.records["loss"][0, 0], torch.nn.functional.softplus(-diff).mean().item(),
                               rtol=1e-13)
    np.testing.assert_allclose(tr.records["min_margin"][0, 0], diff.min().item(), rtol=1e-13)


def test_mlp3_bad_input():
    X, lab = _tiny_classes()
    with pytest.raises(EoscheckError):
        run_mlp3((X, lab), [0.1], 2, hidden=(4,))
    with pytest.raises(EoscheckError):
        run_mlp3((X, lab), [0.1], 2, activation="sigmoid")
    with pytest.raises(EoscheckError):
        run_mlp3("mnist", [0.1], 2)


# ---------------------------------------------------------------------------
# Theorem 6 claims (registry plugin)
# ---------------------------------------------------------------------------


def test_ntk_claims_registered_and_width_gated():
    from eoscheck.properties.claims import load_claims
    from eoscheck.properties.theorem6 import ntk_instance

    reg = load_claims()
    for base in ("lazy", "eos_average", "stable_monotone", "stable_bound"):
        assert reg[f"thm6.{base}"].kind == "exact"
        assert reg[f"thm6.{base}.trend"].kind == "heuristic"
        assert "trend only" in reg[f"thm6.{base}.trend"].title
    for cid in ("thm6.lazy_scaling", "thm6.tau_exp", "thm6.tau_psi"):
        assert reg[cid].kind == "asymptotic" and "trend only" in reg[cid].title
    inst = ntk_instance(_tiny(n=6, d=2, seed=1), "logistic", (16.0, 64.0), 80, width=16, seed=0)
    exact = reg["thm6.lazy"].evaluate(inst)
    assert exact.size == 0 and "width condition" in exact.notes[0]
    trend = reg["thm6.lazy.trend"].evaluate(inst)
    assert trend.size == 2
    # the measured value is ‖w_t − w₀‖ of the run, compared with R_t computed by hand
    tr = inst.trajectory()
    k = int(np.argmax(trend.params["eta"] == 64.0))
    t = int(trend.params["t"][k])
    assert trend.measured[k] == tr.records["w_norm"][1, t]
    th = inst.theory()
    R = 6 * (math.sqrt(_rho_logistic(th["gamma"] ** 2 * 64.0 * t)) + th["C_a"]
             + math.sqrt(2 * math.log(2 * 6 / 0.05)) + 64.0) / th["gamma"]
    assert trend.bound[k] == pytest.approx(R, rel=1e-7)


def test_the_ntk_tau_claims_look_for_their_first_time_beyond_T():
    """thm6.tau_exp read a first time not seen by T as T + 1, so where C·shape (loosened) was ≥ T + 1 a point could
    not fail (18 of its 26 at ci).  Its witness at ci, m = 16 on separable(n=2, d=1, margin=0.15, seed=0), meets (6)
    after T at η = 0.25: that time is now the one a single run long enough finds, and looked for up to 2¹⁴ steps."""
    from eoscheck.properties.claims import load_claims
    from eoscheck.properties.observe import Arrays
    from eoscheck.properties.strategies import build_separable, with_certificate
    from eoscheck.properties.theorem6 import ntk_instance

    data = with_certificate(build_separable(2, 1, 0.15, seed=0))
    inst = ntk_instance(data, "logistic", (0.25,), 300, width=16, seed=0)
    ev = load_claims()["thm6.tau_psi"].evaluate(inst)
    A = Arrays.of(inst.with_(steps=4800).trajectory())
    # (6): L ≤ min{1/(12C_β²η), ℓ(0)/n}; logistic: C_β = e/2 (Proposition 5's constants), ℓ(0) = ln 2
    thr = min(1 / (12 * (math.e / 2) ** 2 * 0.25), math.log(2) / 2)
    s_long = A.first(A.logL <= math.log(thr))
    assert 300 < s_long[0] and ev.measured.tolist() == s_long.astype(float).tolist()
    assert (np.asarray(ev.params["_horizon"]) == 2**14).all()


def test_a_saved_ntk_instance_comes_back_as_one():
    """Instance.from_json rebuilt every saved instance as linear GD's: an NTK witness lost its network (its replay
    raised AttributeError: theory).  Now it comes back as an NTKInstance with the same run; an unknown model is a
    one-line error."""
    import json

    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import build_separable, with_certificate
    from eoscheck.properties.theorem6 import NTKInstance, ntk_instance

    inst = ntk_instance(with_certificate(build_separable(4, 2, 0.3, seed=0)), "logistic", (0.5, 8.0), 40, width=16,
                        seed=1, signs="random")
    back = Instance.from_json(json.loads(json.dumps(inst.to_json())))
    assert type(back) is NTKInstance and back.key() == inst.key() and back.theory()["C_a"] == inst.theory()["C_a"]
    assert np.array_equal(back.trajectory(cache=False).records["loss"], inst.trajectory().records["loss"])
    bad = dict(inst.to_json(), extra={"model": "transformer"})
    with pytest.raises(EoscheckError, match="model 'transformer' is unknown"):
        Instance.from_json(bad)


@pytest.mark.parametrize("kw", [{"n": -5}, {"n": 0}, {"n": 2.5},
                                {"data": (np.zeros((0, 3)), np.zeros(0, dtype=np.int64))}])
def test_mlp3_refuses_a_sample_count_that_is_not_a_whole_positive_number(kw):
    """run_mlp3(n=−5) trained on digits[:−5] (1,792 samples) without a word; n = 0 and empty arrays raised a bare
    ValueError from numpy, n = 2.5 a TypeError."""
    with pytest.raises(EoscheckError, match="n must be a whole number ≥ 1|n ≥ 1"):
        run_mlp3(etas=[0.1], steps=1, **kw)


def test_the_ntk_memory_estimate_counts_the_stepsizes_in_flight():
    """The NTK engine holds min(K, chunk) stepsizes' network state at once (chunk = 1 GiB / a row's bytes on CPU);
    the estimate counted one: 400 stepsizes on digits08 (352 × 64) at width 1024 were estimated at 14 MiB of
    network and took 1.05 GB.  By hand: a row is 8·(4·352·1024 + 4·1024·64 + 2·256·352) = 15,073,280 bytes (the last
    term: margins and ℓ′ of the 256 steps whose records wait to be derived), so a chunk holds ⌊2³⁰/15,073,280⌋ = 71
    rows."""
    from eoscheck.resources import gd_estimate

    row = 8 * (4 * 352 * 1024 + 4 * 1024 * 64 + 2 * 256 * 352)
    assert row == 15_073_280 and 2**30 // row == 71
    net = {K: gd_estimate(K=K, steps=1, recorded=2, n=352, d=64, model="ntk", width=1024).memory["network"]
           for K in (1, 10, 71, 400)}
    extra = 2 * 8.0 * 1024 * 64
    assert net[1] == row + extra and net[10] == 10 * row + extra and net[71] == net[400] == 71 * row + extra


def test_theorem6_is_evaluated_at_a_certified_assumption4_margin_not_the_ntk_feature_margin():
    """Assumption 4B bounds ‖χ(u)‖ ≤ 1 at every u; the bounds used γ̂, the NTK features' max margin in ℝ^{md}
    (an L² constraint on χ), which exceeded γ's ceiling minᵢ‖xᵢ‖/2 in most draws: every bound, decreasing in γ, came
    out tighter than the theorem's.  γ*/2 is a margin of 4B with χ ≡ w*: checked here by Monte Carlo against the
    expectation it claims (E⟨yᵢ1[xᵢᵀu > 0]xᵢ, w*⟩ over 2·10⁵ draws: standard error ≤ ‖xᵢ‖/(2√(2·10⁵)) ≈ 1.1e-3·‖xᵢ‖,
    allowed 5 of them), and ≤ minᵢ‖xᵢ‖/2; the run's width condition is evaluated at it."""
    from eoscheck.bounds import theorem6
    from eoscheck.networks import assumption4_margin

    data = synthetic(6, 3, 0.6, seed=2)
    g = assumption4_margin(data.gamma)
    norms = np.linalg.norm(data.X, axis=1)
    assert 0 < g <= norms.min() / 2
    u = np.random.default_rng(0).standard_normal((200_000, data.d))
    z = data.y[:, None] * data.X                                     # yᵢxᵢ
    est = ((data.X @ u.T) > 0).mean(axis=1) * (z @ data.w_star)      # E 1[xᵢᵀu > 0] · yᵢxᵢᵀw*
    assert np.linalg.norm(data.w_star) <= 1 + 1e-12
    assert est.min() >= g - 5 * norms.max() / (2 * math.sqrt(u.shape[0]))
    tr = run_ntk(data, "logistic", [1.0], steps=5, width=8)
    ntk = tr.config["ntk"]
    assert ntk["gamma"] == g
    want = theorem6.WIDTH.numpy(get_loss("logistic"), eta=1.0, gamma=g, T=5.0, n=6.0, delta=0.05, C_a=ntk["C_a"])
    assert ntk["thm6"][0]["width_required"] == want


def _ntk_at_margin(y: float, margin: float, loss: str, steps: int, backend: str):
    """One point x = (0.6, 0.8) with label ``y``, width 2 (a = (1, 1)), W₀ scaled so that y·f(x; W₀) = ``margin``,
    η = 10⁻³⁰⁰ (the state does not move): the records of ``steps`` steps on the engine of ``backend``."""
    from eoscheck.networks import _ntk_engine, _ntk_steps, ntk_forward

    X, a = torch.tensor([[0.6, 0.8]], dtype=torch.float64), torch.ones(2, dtype=torch.float64)
    W0 = torch.tensor([[0.6, 0.8], [0.6, 0.8]], dtype=torch.float64)
    W = W0 * (abs(margin) / ntk_forward(X, W0, a)[0].item())
    eta = torch.tensor([1e-300], dtype=torch.float64)
    engine = _ntk_engine(backend, get_loss(loss), torch.device("cpu"), torch.float64)
    R = _ntk_steps(X, torch.tensor([y], dtype=torch.float64), a, W, get_loss(loss), eta, steps,
                   np.arange(steps + 1), np.zeros(0, dtype=np.int64), engine=engine)
    return R.results()


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_the_ntk_takes_a_subnormal_loss_in_the_log_domain(backend):
    """At margin 740 the logistic L = e⁻⁷⁴⁰ is subnormal (7 bits): ln L read −740.00926; the linear engine switches
    to the log domain below 1e-290 and so does the network now (ln L = −740 to the ulps of 740: |error| ≤ 4 ulps
    of the log-sum-exp's terms, 1e-12 absolute is ~10⁴ ulps of margin)."""
    rec, _, _ = _ntk_at_margin(1.0, 740.0, "logistic", 1, backend)
    assert abs(rec["log_loss"][0, 0] + 740.0) < 1e-12


@pytest.mark.parametrize("backend", ["numba", "torch"])
def test_the_ntk_norms_do_not_overflow_before_their_values_do(backend):
    """Exponential loss at margin −360: ‖∇L‖ ≈ 2.2e156 is finite, but torch's norm squares first and read ∞
    (also ‖w − w₀‖ and ‖w‖ past 1.3e154); the scaled norm keeps it, as the linear engine's does."""
    rec, stats, _ = _ntk_at_margin(-1.0, 360.0, "exponential", 2, backend)
    assert np.isfinite(rec["grad_norm"][0]).all() and 1e156 < rec["grad_norm"][0, 0] < 1e157
    assert stats["diverged_at"][0] == -1
