"""The 3-layer net's square loss against an independent torch network, and the report's strict
edge-of-stability rule (:func:`eoscheck.report.figure1.mlp3_large_signature`) on synthetic trajectories:
it passes an EoS-like one and fails each way a trajectory can miss the signature (no training)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from eoscheck._errors import EoscheckError
from eoscheck.mlp import init_mlp, run_mlp3
from eoscheck.report.figure1 import EOS_BAND, mlp3_large_signature


def _classes(n=24, d=4, c=3, seed=5):
    rng = np.random.default_rng(seed)
    return rng.normal(size=(n, d)), rng.integers(0, c, n)


@pytest.mark.parametrize("activation", ["tanh", "elu"])
def test_mse_matches_independent_network(activation):
    X, lab = _classes()
    eta = 0.3
    tr = run_mlp3((X, lab), [eta], steps=4, hidden=(5, 4), seed=2, sharpness_every=4, loss="mse",
                  activation=activation)
    assert tr.config["loss"] == "mse" and np.isnan(tr.records["G"]).all()
    act = torch.tanh if activation == "tanh" else torch.nn.functional.elu
    params = [torch.tensor(p, requires_grad=True) for p in init_mlp((4, 5, 4, 3), seed=2)]
    Xt = torch.tensor(X)
    Y = torch.nn.functional.one_hot(torch.tensor(lab), 3).double()

    def loss(W1, b1, W2, b2, W3, b3):
        z = act(act(Xt @ W1.T + b1) @ W2.T + b2) @ W3.T + b3
        return 0.5 * ((z - Y) ** 2).sum() / len(lab)

    for t in range(5):
        L = loss(*params)
        grads = torch.autograd.grad(L, params)
        # same float64 operations in a different order: agreement to ~1e-13 relative, 1e-12 allowed
        np.testing.assert_allclose(tr.records["loss"][0, t], L.item(), rtol=1e-12)
        gn = math.sqrt(sum(float((g**2).sum()) for g in grads))
        np.testing.assert_allclose(tr.records["grad_norm"][0, t], gn, rtol=1e-11)
        if t == 4:
            shapes, sizes = [p.shape for p in params], [p.numel() for p in params]
            flat = torch.cat([p.detach().reshape(-1) for p in params])
            H = torch.autograd.functional.hessian(
                lambda v: loss(*[u.reshape(s) for u, s in zip(v.split(sizes), shapes)]), flat).numpy()
            ref = np.linalg.eigvalsh(0.5 * (H + H.T))[-1]
            # Lanczos to relative residual 1e-7: the Ritz value errs by O(residual²/gap) ≪ 1e-8
            np.testing.assert_allclose(tr.sharpness[0, -1], ref, rtol=1e-8)
        with torch.no_grad():
            for p, g in zip(params, grads):
                p -= eta * g


def test_unknown_loss_is_rejected():
    X, lab = _classes()
    with pytest.raises(EoscheckError, match="loss"):
        run_mlp3((X, lab), [0.1], 2, loss="hinge")


T = 2000


def _traj(loss):
    return SimpleNamespace(step=np.arange(T + 1), records={"loss": np.asarray(loss, dtype=np.float64)[None, :]})


def _row(median, loss):
    up = np.nonzero(np.diff(loss) > 0)[0]
    return {"median sharpness·η/2 (2nd half)": median, "last increase": int(up[-1]) + 1 if up.size else -1}


t = np.arange(T + 1)
EOS_LOSS = 0.5 / (1 + t / 200) * (1 + 0.05 * (t % 2))  # period-2 oscillation on a falling trend
MONOTONE_LOSS = 0.5 / (1 + t / 200)
STALLED_LOSS = 0.1 * (1 + 0.05 * (t % 2))  # oscillates at the edge but no longer falls


def test_signature_passes_an_eos_like_trajectory():
    ok, measured = mlp3_large_signature(_traj(EOS_LOSS), 0, _row(1.03, EOS_LOSS))
    assert ok, measured


@pytest.mark.parametrize("median, loss, why", [
    (0.28, EOS_LOSS, "sharpness well below 2/η (the committed η = 1 cross-entropy run)"),
    (1.5, EOS_LOSS, "sharpness above the band"),
    (1.0, MONOTONE_LOSS, "monotone: no oscillation in the second half"),
    (1.0, STALLED_LOSS, "not falling over long horizons"),
])
def test_signature_fails_off_the_edge(median, loss, why):
    ok, measured = mlp3_large_signature(_traj(loss), 0, _row(median, loss))
    assert not ok, why


def test_a_spike_at_a_sample_step_does_not_hide_a_falling_loss():
    # regression: the quick profile's η = 0.2 run sat on a spike at T/2 (L(T/2) = 0.158 > L(T/4) = 0.154)
    # while the loss fell over long horizons; one sampled step must not decide the trend
    loss = EOS_LOSS.copy()
    loss[T // 2] = 2 * loss[T // 4]
    ok, measured = mlp3_large_signature(_traj(loss), 0, _row(1.0, loss))
    assert ok, measured


def test_a_stalled_loss_with_dips_at_the_sample_steps_still_fails():
    # the converse: a loss that no longer falls fails even where its samples at T/4, T/2, T happen to decrease
    loss = STALLED_LOSS.copy()
    loss[[T // 4, T // 2, T]] = [0.09, 0.08, 0.07]
    ok, measured = mlp3_large_signature(_traj(loss), 0, _row(1.0, loss))
    assert not ok, measured


def test_band_edges_are_inclusive_and_strict():
    assert mlp3_large_signature(_traj(EOS_LOSS), 0, _row(EOS_BAND[0], EOS_LOSS))[0]
    assert mlp3_large_signature(_traj(EOS_LOSS), 0, _row(EOS_BAND[1], EOS_LOSS))[0]
    assert not mlp3_large_signature(_traj(EOS_LOSS), 0, _row(np.nextafter(EOS_BAND[0], 0), EOS_LOSS))[0]


@pytest.mark.slow
def test_quick_profile_configuration_shows_the_edge_of_stability(request):
    """The report's quick configuration (chosen by benchmarks/scan_mlp3.py) meets the strict rule for the large
    η and the monotone rule for the small one (30–80 s on one thread; runs only with ``-m slow``, since nothing
    in the project deselects the marker by default)."""
    if "slow" not in (request.config.getoption("-m") or ""):
        pytest.skip("heavy (a 1,000-step network run): run with -m slow")
    from eoscheck.report.config import profile_config

    cfg = profile_config("quick")["figure1"]["mlp3"]
    torch.set_num_threads(1)
    tr = run_mlp3(None, cfg["etas"], cfg["steps"], n=cfg["n"], hidden=tuple(cfg["hidden"]), seed=0,
                  sharpness_every=cfg["sharpness_every"], loss=cfg["loss"], activation=cfg["activation"])
    big, small = int(np.argmax(tr.eta)), int(np.argmin(tr.eta))
    half = tr.sharpness_step >= tr.sharpness_step[-1] / 2
    ratio = tr.sharpness[big] * tr.eta[big] / 2
    ok, measured = mlp3_large_signature(tr, big, {"median sharpness·η/2 (2nd half)": float(np.median(ratio[half])),
                                                  "last increase": int(tr.stats["last_increase"][big])})
    assert ok, measured
    assert tr.stats["last_increase"][small] == -1
    assert np.nanmax(tr.sharpness[small]) * tr.eta[small] / 2 < 1
