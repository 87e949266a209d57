"""The compiled NTK engine (eoscheck.ntkfused) against the torch engine (eoscheck.networks.ntk_gradient, the
reference), step by step from the same state, within bounds derived from the lengths of the sums; and the choice of
engine.  The independent autograd oracles of tests/test_networks.py run on both engines.

The two engines compute the same expressions in the same order within an element; only the products' sums
(P = XWᵀ over d, f = Σₛ relu(P)aₛ over m, ∇ = SᵀX over n) and the norms' sums run in other orders.  With
u = 2⁻⁵³ and γ(k) = ku/(1 − ku) (a sum of k terms in any order is within γ(k)·Σ|terms| of the exact one, Higham,
*Accuracy and Stability of Numerical Algorithms*, §3.1), the two engines' values differ by at most twice that.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from eoscheck import EoscheckError, get_loss, parse_loss, synthetic
from eoscheck.gdfused import fused_kind
from eoscheck.lossnp import kernel_for
from eoscheck.networks import init_weights, ntk_gradient, output_signs, run_ntk
from eoscheck.ntkfused import NTKBlock
from eoscheck.resources import blas_single_thread

pytestmark = pytest.mark.usefixtures("one_thread")

LOSSES = ["logistic", "exponential", "flat_exp:a=2", "flat_poly:a=1", "poly_tail"]
U = 2.0**-53
#: ℓ, ℓ′, ℓ″ of the compiled forms and of torch's agree to 4 eps relative (both are the same formulas of
#: correctly rounded exp/log1p/pow, to an ulp or two each: tests/test_gd_fast.py's numpy kernels, the compiled
#: forms' twins, against the torch forms)
EVAL = 4 * np.finfo(float).eps


def gamma(k: int) -> float:
    return k * U / (1 - k * U)


def _reference(X, y, a, W, loss):
    """The torch engine's quantities at W (K, m, d): margins, ℓ′, L, ∇L, and P = XWᵀ."""
    Xt, yt, at, Wt = (torch.from_numpy(np.array(v)) for v in (X, y, a, W))
    grad, M, dl, _ = ntk_gradient(Xt, yt, Wt, at, loss)
    L = loss.value(M).mean(dim=-1)
    return M.numpy(), dl.numpy(), L.numpy(), grad.numpy(), (Xt @ Wt.transpose(-1, -2)).numpy()


def _norm(v):
    return math.sqrt(math.fsum(float(x) ** 2 for x in v.ravel()))


@pytest.mark.parametrize("spec", LOSSES)
def test_each_compiled_step_is_the_torch_step_from_the_same_state(spec):
    """40 steps at η from 0.5 to 200 (margins from ~0 to the losses' tails): at each state W_t of the compiled run,
    its margins, ℓ′, L, ∇L and norms against the torch engine's at W_t, and W_{t+1} = W_t − η∇L_t exactly.

    Bounds (module docstring): |ΔP| ≤ 2γ(d)·A with A = |X||W|ᵀ; the margin M = y(Σₛ max(P, 0)aₛ)/√m (|aₛ| = 1):
    |ΔM| ≤ B_M = 2(γ(d) + γ(m + 1))·Σₛ Aₛ/√m (the quotient's rounding is the +1).  ℓ′: |Δℓ′| ≤ max|ℓ″|·B_M + EVAL|ℓ′|
    (ℓ″ over M ± B_M).  L = (1/n)Σℓ ≥ 0 terms: |ΔL| ≤ (1/n)Σ(|ℓ′|B_M + EVAL·ℓ) + 2γ(n + 1)L.  ∇ = (SᵀX)aₛ/√m with
    S = 1[P > 0]ℓ′y/n, where no P lies within 2γ(d)A of 0 (checked, else an activation could differ):
    |Δ∇| ≤ (Σᵢ|ΔSᵢ||Xᵢ| + 2γ(n + 2)Σᵢ|Sᵢ||Xᵢ|)/√m with |ΔS| ≤ (|Δℓ′| + 2γ(2)|ℓ′|)/n.  Norms of the same entries:
    2γ(md + 4) relative (scale, square, sum, root, product); ‖∇‖ also moves by ‖Δ∇‖."""
    data = synthetic(12, 5, 0.2, seed=3)
    X, y = np.ascontiguousarray(data.X), np.ascontiguousarray(data.y)
    n, d, m = X.shape[0], X.shape[1], 16
    loss = get_loss(spec)
    a, W0 = output_signs(m, "random", 1), init_weights(m, d, 1)
    eta = np.array([0.5, 8.0, 200.0])
    K = len(eta)
    blk = NTKBlock(X, y, a, W0, eta, fused_kind(kernel_for(loss)))
    rt = math.sqrt(m)
    prev = None
    with blas_single_thread():
        for t in range(40):
            Mc, dlc, Lc, Nc, okc, shc = (v[0] for v in blk.advance(1))
            W = blk.weights().copy()
            if prev is not None:                  # the update between the two calls: the same operations
                Wp, Gp = prev
                assert W.tobytes() == (Wp - eta[:, None, None] * Gp).tobytes()
            G = blk.gradient()
            M, dl, L, grad, P = _reference(X, y, a, W, loss)
            A = np.abs(X)[None] @ np.abs(W).transpose(0, 2, 1)                  # (K, n, m)
            assert (np.abs(P) > 2 * gamma(d) * A).all(), "an activation at rounding distance from 0"
            BM = 2 * (gamma(d) + gamma(m + 1)) * A.sum(-1) / rt
            assert (np.abs(Mc - M) <= BM).all()
            h = np.maximum.reduce([np.abs(loss.hess(torch.from_numpy(M + s * BM)).numpy()) for s in (-1, 0, 1)])
            Bdl = h * BM + EVAL * np.abs(dl)
            assert (np.abs(dlc - dl) <= Bdl).all()
            ell = loss.value(torch.from_numpy(M)).numpy()
            BL = (np.abs(dl) * BM + EVAL * ell).mean(-1) + 2 * gamma(n + 1) * L
            assert (np.abs(Lc - L) <= BL).all()
            S = np.where(P > 0, 1.0, 0.0) * (np.abs(dl) / n)[..., None]             # |S| (K, n, m)
            dS = np.where(P > 0, 1.0, 0.0) * ((Bdl + 2 * gamma(2) * np.abs(dl)) / n)[..., None]
            ax = np.abs(X)
            BG = (dS.transpose(0, 2, 1) @ ax + 2 * gamma(n + 2) * S.transpose(0, 2, 1) @ ax) / rt
            assert (np.abs(G - grad) <= BG).all()
            rn = 2 * gamma(m * d + 4)
            for k in range(K):
                assert abs(Nc[k] - _norm(W[k])) <= rn * _norm(W[k])
                assert abs(Nc[2 * K + k] - _norm(W[k] - W0)) <= rn * _norm(W[k] - W0)
                gk = _norm(grad[k])
                assert abs(Nc[K + k] - gk) <= _norm(BG[k]) + rn * gk
            assert okc.all() and shc.all()
            prev = (W, G)


def test_a_diverging_run_stops_at_the_torch_engines_step_on_both_engines():
    """Exponential loss on labels no hyperplane separates: η = 100 overflows at step 2 (the records' NaN from there
    on); the two engines stop the run at the same step, and the runs that do not diverge agree to rounding at t = 0
    (the same state: the bounds of the step test above are ~1e-15 relative here; 1e-13 is loose)."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((20, 3))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    from eoscheck import Dataset

    data = Dataset(X, np.where(rng.random(20) < 0.5, 1.0, -1.0), name="random-labels")
    runs = {b: run_ntk(data, "exponential", [0.1, 3.0, 100.0, 30.0], steps=30, width=32, backend=b)
            for b in ("numba", "torch")}
    c, t = runs["numba"], runs["torch"]
    assert c.provenance["engine"]["backend"] == "numba" and t.provenance["engine"]["backend"] == "torch"
    assert c.stats["diverged_at"].tolist() == t.stats["diverged_at"].tolist() == [-1, -1, 2, 3]
    for key in ("loss", "grad_norm", "min_margin"):
        np.testing.assert_allclose(c.records[key][:, 0], t.records[key][:, 0], rtol=1e-13)
        assert np.array_equal(np.isnan(c.records[key]), np.isnan(t.records[key])), key


def test_the_engine_is_chosen_by_the_loss_the_device_and_the_dtype():
    data = synthetic(6, 3, 0.3, seed=1)
    assert run_ntk(data, "logistic", [1.0], 3, width=4).provenance["engine"]["backend"] == "numba"
    custom = parse_loss("(1-z)**2")
    assert run_ntk(data, custom, [1.0], 3, width=4).provenance["engine"]["backend"] == "torch"
    assert run_ntk(data, "logistic", [1.0], 3, width=4, dtype=torch.float32).provenance["engine"]["backend"] == "torch"
    with pytest.raises(EoscheckError, match="built-in losses in float64 on the CPU"):
        run_ntk(data, custom, [1.0], 3, width=4, backend="numba")
    with pytest.raises(EoscheckError, match="unknown backend"):
        run_ntk(data, "logistic", [1.0], 3, width=4, backend="jax")


def test_compiled_reruns_are_bit_identical():
    data = synthetic(10, 4, 0.2, seed=2)
    a, b = (run_ntk(data, "logistic", [1.0, 30.0], 300, width=24, seed=4, sharpness_every=50) for _ in range(2))
    assert all(a.records[k].tobytes() == b.records[k].tobytes() for k in a.records)
    assert a.sharpness.tobytes() == b.sharpness.tobytes()


def test_groups_of_runs_on_threads_are_the_runs_of_their_groups_in_order():
    """Above the small size the runs go in groups, one per CPU (:func:`thread_parts`), each group its own block on
    its own thread: their records side by side are, byte for byte, those of each group's block run alone (the
    norms ‖w‖, ‖∇L‖, ‖w − w₀‖ regrouped over the K runs), whatever the number of groups."""
    from eoscheck.ntkfused import NTKRuns, SMALL_PRODUCT, split_runs, thread_parts

    data = synthetic(40, 16, 0.2, seed=5)
    X, y = np.array(data.X), np.array(data.y)
    m, eta = 64, np.array([0.5, 4.0, 30.0, 300.0, 3000.0])
    n, d, K = X.shape[0], X.shape[1], len(eta)
    assert n * d * K * m >= SMALL_PRODUCT and thread_parts(n, d, K, m) >= 1 and thread_parts(4, 2, K, m) == 1
    assert split_runs(5, 2) == [(0, 2), (2, 5)] and split_runs(2, 8) == [(0, 1), (1, 2)]
    a, W0, kind = output_signs(m, "random", 2), init_weights(m, d, 2), fused_kind(kernel_for(get_loss("logistic")))
    with blas_single_thread():
        for parts in (2, 3):
            runs = NTKRuns(X, y, a, W0, eta, kind, parts)
            alone = [NTKBlock(X, y, a, W0, eta[lo:hi], kind) for lo, hi in split_runs(K, parts)]
            for S in (7, 30):
                got = runs.advance(S)
                each = [b.advance(S) for b in alone]
                for i in (0, 1, 2, 4, 5):
                    assert got[i].tobytes() == np.concatenate([e[i] for e in each], axis=1).tobytes()
                sizes = [hi - lo for lo, hi in split_runs(K, parts)]
                want = np.concatenate([e[3][:, g * k:(g + 1) * k] for g in range(3) for e, k in zip(each, sizes)], axis=1)
                assert got[3].tobytes() == want.tobytes()
            assert runs.weights().tobytes() == np.concatenate([b.weights() for b in alone]).tobytes()
            runs.close()


def test_the_recorder_takes_blocks_in_order_up_to_its_hand_over():
    """A block longer than the steps left before the hand-over, a block out of order, or single steps after blocks
    are refused (a mis-cut block would have been recorded at the wrong steps); a mask that freezes other runs than
    the recorder's rule is an internal error at the hand-over."""
    from eoscheck.netrecord import Recorder

    R = Recorder(torch.tensor([1.0, 2.0], dtype=torch.float64), np.arange(11), np.zeros(0, dtype=np.int64))
    R.CHUNK = 8

    def block(S, ok=True):
        q = {"loss": torch.ones(S, 2, dtype=torch.float64), "log_loss": torch.zeros(S, 2, dtype=torch.float64),
             "G": torch.ones(S, 2, dtype=torch.float64)}
        okm = torch.full((S, 2), ok)
        return q, okm, okm.clone()

    R.observe_block(0, *block(5))
    assert R.room == 3
    with pytest.raises(ValueError, match="does not fit"):
        R.observe_block(5, *block(4))
    with pytest.raises(ValueError, match="in order"):
        R.observe_block(4, *block(2))
    with pytest.raises(ValueError, match="not both"):
        R.observe(5, {k: v[0] for k, v in block(1)[0].items()}, torch.ones(2, dtype=torch.bool))
    q, ok, shown = block(3)
    shown[1, 0] = False                       # the run froze run 0 at step 6; its own rule says it was finite
    with pytest.raises(RuntimeError, match="froze other rows"):
        R.observe_block(5, q, ok, shown)
