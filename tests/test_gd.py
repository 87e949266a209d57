"""The GD engine: gradients, batching, the paper's Fig. 1 facts, Lemma 14, divergence, persistence."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from eoscheck import EoscheckError, get_loss, synthetic, thm3, toy
from eoscheck.gd import run_gd
from eoscheck.trajectory import RECORDED, Trajectory


@pytest.mark.parametrize("spec", ["logistic", "exponential", "flat_exp:a=2", "flat_poly:a=1", "poly_tail"])
def test_closed_form_gradient_equals_autograd(spec):
    loss = get_loss(spec)
    data = synthetic(40, 6, 0.1, seed=1)
    Z = torch.as_tensor(data.Z)
    w = torch.randn(6, dtype=torch.float64, generator=torch.Generator().manual_seed(0)).requires_grad_()
    L = loss.value(Z @ w).mean()
    (auto,) = torch.autograd.grad(L, w)
    closed = (loss.grad(Z @ w.detach()) @ Z) / data.n
    assert torch.allclose(closed, auto, rtol=1e-12, atol=1e-15)


def test_one_step_equals_the_hand_computed_update():
    data = toy()
    traj = run_gd(data, "logistic", [8.0], 1)
    # w_1 = (η/2) · mean(y_i x_i) since ℓ′(0) = −1/2 (Lemma 14's proof)
    w1 = 8.0 / 2 * data.Z.mean(axis=0)
    margins = data.Z @ w1
    expected = np.mean(np.log1p(np.exp(-margins)))
    assert traj.loss_at(1)[0] == pytest.approx(expected, rel=1e-14)
    assert traj.w_norm[0, 1] == pytest.approx(np.linalg.norm(w1), rel=1e-14)


def test_batched_run_equals_separate_runs():
    data = synthetic(30, 5, 0.05, seed=2)
    etas = [0.5, 3.0, 40.0]
    batch = run_gd(data, "logistic", etas, 300)
    for k, eta in enumerate(etas):
        single = run_gd(data, "logistic", [eta], 300)
        for name in RECORDED:
            a, b = batch.records[name][k], single.records[name][0]
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300, err_msg=name)


def test_toy_set_reproduces_figure_1_facts():
    # paper §8.1 [N]: η = 4 monotone; η = 8, 16, 32 not; peaks 2.43, 5.57, 11.0 (last increases 15, 12, 12);
    # L·ηt ≈ 25 = 1/γ² at t = 2^16 for η = 4, 8, 16
    T = 2**16
    traj = run_gd(toy(), "logistic", [4, 8, 16, 32], T, grid="log", grid_points=64)
    assert list(traj.stats["last_increase"]) == [-1, 15, 12, 12]
    np.testing.assert_allclose(traj.stats["max_loss"][1:], [2.43, 5.57, 11.0], rtol=5e-3)
    plateau = traj.loss_at(T) * traj.eta * T
    np.testing.assert_allclose(plateau[:3], 25.0, rtol=2e-3)
    assert not np.any(traj.diverged)


@pytest.mark.parametrize("gamma", [0.01, 0.05, 0.09])
def test_lemma14_first_step_increases_the_loss_above_40ln2(gamma):
    etas = [40 * math.log(2) * 1.0001, 50.0, 200.0]
    traj = run_gd(thm3(gamma), "logistic", etas, 1)
    assert np.all(traj.loss_at(1) > math.log(2))
    # and below the descent-lemma threshold 2/β the first step decreases it
    small = run_gd(thm3(gamma), "logistic", [1.0, 4.0], 1)
    assert np.all(small.loss_at(1) < math.log(2))


def test_divergence_is_marked_without_spoiling_other_stepsizes():
    data = toy(normalized=True)
    traj = run_gd(data, "exponential", [0.5, 1e4], 200)
    assert traj.stats["diverged_at"][0] == -1
    assert traj.stats["diverged_at"][1] >= 0
    t = traj.stats["diverged_at"][1]
    assert np.isnan(traj.loss[1, t + 1:]).all()
    ref = run_gd(data, "exponential", [0.5], 200)
    np.testing.assert_array_equal(traj.loss[0], ref.loss[0])


def test_log_loss_stays_finite_where_the_loss_overflows():
    # exponential loss: a single huge step makes L = mean exp(−margins) overflow while ln L is finite
    data = toy(normalized=True)
    eta = 20000.0
    traj = run_gd(data, "exponential", [eta], 1)
    assert math.isinf(traj.loss[0, 1])
    assert np.isfinite(traj.log_loss[0, 1])
    margins = data.Z @ (eta * data.Z.mean(axis=0))  # w_1 = −η∇L(0) = η·mean(z_i) since ℓ′(0) = −1
    expected = logsumexp(-margins) - math.log(data.n)
    assert traj.log_loss[0, 1] == pytest.approx(expected, rel=1e-12)


def test_same_configuration_is_bit_identical():
    data = synthetic(50, 8, 0.05, seed=4)
    a = run_gd(data, "logistic", [1.0, 30.0], 500)
    b = run_gd(data, "logistic", [1.0, 30.0], 500)
    for name in RECORDED:
        assert a.records[name].tobytes() == b.records[name].tobytes(), name


def test_queries_agree_with_exact_trackers():
    traj = run_gd(toy(normalized=True), "logistic", [2.0, 40.0, 200.0], 3000)
    np.testing.assert_array_equal(traj.last_increase(), traj.stats["last_increase_strict"])
    np.testing.assert_array_equal(traj.first_below(1 / traj.eta), traj.stats["first_below_1_over_eta"])
    np.testing.assert_array_equal(traj.first_below(2 / traj.eta), traj.stats["first_below_2_over_eta"])
    # average loss: recompute from the recorded losses
    t = 1000
    np.testing.assert_allclose(traj.avg_loss_at(t), traj.loss[:, :t].mean(axis=1), rtol=1e-12)
    assert np.all(traj.monotone_from(traj.last_increase()))


def test_log_grid_keeps_exact_statistics():
    full = run_gd(toy(), "logistic", [8.0, 16.0], 2000)
    log = run_gd(toy(), "logistic", [8.0, 16.0], 2000, grid="log", grid_points=30)
    assert len(log.step) < 60 and log.step[0] == 0 and log.step[-1] == 2000
    for key in ("last_increase", "first_below_1_over_eta", "max_loss"):
        np.testing.assert_array_equal(full.stats[key], log.stats[key])
    np.testing.assert_allclose(log.avg_loss_at(2000), full.avg_loss_at(2000), rtol=1e-13)


def test_sharpness_equals_autograd_hessian():
    data = synthetic(20, 4, 0.1, seed=5)
    traj = run_gd(data, "logistic", [3.0], 40, sharpness_every=20)
    w = torch.as_tensor(traj.stats["final_w"][0])
    Z = torch.as_tensor(data.Z)
    H = torch.autograd.functional.hessian(lambda v: get_loss("logistic").value(Z @ v).mean(), w)
    assert traj.sharpness[0, -1] == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-10)


def test_save_load_roundtrip(tmp_path):
    traj = run_gd(toy(), "logistic", [4.0, 8.0], 50, sharpness_every=10)
    traj.save(tmp_path / "run")
    back = Trajectory.load(tmp_path / "run")
    np.testing.assert_array_equal(back.eta, traj.eta)
    np.testing.assert_array_equal(back.loss, traj.loss)
    np.testing.assert_array_equal(back.sharpness, traj.sharpness)
    np.testing.assert_array_equal(back.stats["last_increase"], traj.stats["last_increase"])
    assert back.config["config_hash"] == traj.config["config_hash"]
    assert "torch" in back.provenance["versions"]


@pytest.mark.parametrize("kwargs,msg", [
    ({"etas": [-1.0]}, "positive"), ({"etas": [0.0]}, "positive"), ({"etas": [float("nan")]}, "positive"),
    ({"steps": -3}, "non-negative"), ({"loss": "nope"}, "unknown loss"), ({"device": "cuda:9"}, "CUDA"),
])
def test_bad_arguments_are_clear_errors(kwargs, msg):
    if "device" in kwargs and torch.cuda.is_available():
        pytest.skip("a CUDA device exists here")
    args = {"etas": [1.0], "steps": 5} | kwargs
    with pytest.raises(EoscheckError, match=msg):
        run_gd(toy(), **args)
