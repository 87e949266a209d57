"""The GD engine: gradients, batching, the paper's Fig. 1 facts, Lemma 14, divergence, persistence."""

import math

import numpy as np
import pytest
import torch
from scipy.special import logsumexp

from eoscheck import EoscheckError, get_loss, synthetic, thm3, toy
from eoscheck.gd import INCREASE_RTOL, run_gd
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
    # the same 40 products ℓ′(mᵢ)zᵢⱼ/n summed in two orders: ≤ 40 ulps of Σ|terms|, and no component here is
    # small against its terms (|∇L|ⱼ ≥ 0.029, terms ≤ 1/40): ≤ 40·eps·(1/0.029)/40 ≈ 8e-15 relative; 1e-13
    # (measured: 6.4e-16)
    assert torch.allclose(closed, auto, rtol=1e-13, atol=0)


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
            # a BLAS may order a row's sums differently in a batched product than in a single-row one (bit-equal
            # here; other kernels on other machines): margins within ~d = 5 ulps a step, which the engines'
            # 1e-12 agreement (test_gd_fast) allows over these 300 steps
            np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-300, err_msg=name)


def test_toy_set_reproduces_figure_1_facts():
    # paper §8.1 [N]: η = 4 monotone; η = 8, 16, 32 not; peaks 2.43, 5.57, 11.0 (last increases 15, 12, 12);
    # L·ηt ≈ 25 = 1/γ² at t = 2^16 for η = 4, 8, 16
    T = 2**16
    traj = run_gd(toy(), "logistic", [4, 8, 16, 32], T, grid="log", grid_points=64)
    assert list(traj.stats["last_increase"]) == [-1, 15, 12, 12]
    # to half a unit of the paper's last printed digit
    assert np.all(np.abs(traj.stats["max_loss"][1:] - [2.43, 5.57, 11.0]) <= [0.005, 0.005, 0.05])
    plateau = traj.loss_at(T) * traj.eta * T
    np.testing.assert_allclose(plateau[:3], 25.0, rtol=0, atol=0.05)
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


@pytest.mark.parametrize("method", ["gram", "primal", "reference"])
def test_a_shorter_run_is_the_longer_runs_first_steps_bit_for_bit(method):
    """The engine's choices (form, panels, back end) depend on the problem, never on T, and a run is cut into chunks
    of steps that never change its arithmetic: T = 150 (not a multiple of a chunk) is the first 151 records of
    T = 400, exactly.  ``properties.exact_engine.first_hits`` decides a hitting time on such a head run."""
    data = synthetic(300, 40, 0.05, seed=3)
    etas = [0.5, 8.0, 64.0, 512.0]
    short = run_gd(data, "logistic", etas, 150, method=method, threads=2)
    long = run_gd(data, "logistic", etas, 400, method=method, threads=2)
    for name in RECORDED:
        assert short.records[name].tobytes() == long.records[name][:, :151].tobytes(), name


def test_queries_agree_with_exact_trackers():
    traj = run_gd(toy(normalized=True), "logistic", [2.0, 40.0, 200.0], 3000)
    np.testing.assert_array_equal(traj.last_increase(), traj.stats["last_increase_strict"])
    np.testing.assert_array_equal(traj.first_below(1 / traj.eta), traj.stats["first_below_1_over_eta"])
    np.testing.assert_array_equal(traj.first_below(2 / traj.eta), traj.stats["first_below_2_over_eta"])
    # average loss: recompute from the recorded losses
    t = 1000
    np.testing.assert_allclose(traj.avg_loss_at(t), traj.loss[:, :t].mean(axis=1), rtol=1e-12)
    # monotone from s: no step u > s with L(w_u) > L(w_{u−1}), read off the recorded losses here (every step
    # is recorded); at s = the last increase it holds, one step earlier it fails (the rows with an increase)
    L = traj.loss
    up = L[:, 1:] > L[:, :-1]                                  # up[:, u − 1]: an increase at step u
    last_up = np.array([np.flatnonzero(r).max() + 1 if r.any() else 0 for r in up])
    assert (last_up >= 1).sum() == 2
    for s in (np.maximum(last_up - 1, 0), last_up, last_up + 7, np.zeros_like(last_up)):
        want = np.array([not up[k, s[k]:].any() for k in range(traj.K)])
        np.testing.assert_array_equal(traj.monotone_from(s), want)


def test_the_config_records_the_grid_asked_for_and_the_steps_recorded():
    """run.json's grid_points was the number of steps recorded (320 for 512 log points on 4096 steps, duplicates
    removed): rerunning with it gave another grid (218 steps).  The config rebuilds the grid it describes."""
    from eoscheck.gdinputs import record_grid

    log = run_gd(toy(), "logistic", [4.0], 4096, grid="log", grid_points=512)
    assert log.config["grid_points"] == 512 and log.config["recorded_steps"] == len(log.step) < 512
    np.testing.assert_array_equal(record_grid(4096, "log", log.config["grid_points"]), log.step)
    full = run_gd(toy(), "logistic", [4.0], 50)
    assert full.config["grid_points"] is None and full.config["recorded_steps"] == 51


def test_log_grid_keeps_exact_statistics():
    full = run_gd(toy(), "logistic", [8.0, 16.0], 2000)
    log = run_gd(toy(), "logistic", [8.0, 16.0], 2000, grid="log", grid_points=30)
    assert len(log.step) < 60 and log.step[0] == 0 and log.step[-1] == 2000
    for key in ("last_increase", "first_below_1_over_eta", "max_loss"):
        np.testing.assert_array_equal(full.stats[key], log.stats[key])
    # the running mean of 2001 positive losses, accumulated per chunk in both: ≲ log2(2001) ≈ 11 ulps apart
    np.testing.assert_allclose(log.avg_loss_at(2000), full.avg_loss_at(2000), rtol=1e-13)
    # the tolerances the engine tracked at every step answer on the log grid as on the full one;
    # any other tolerance needs every step, so it is refused rather than answered with the engine's
    for rtol in (0.0, INCREASE_RTOL):
        np.testing.assert_array_equal(log.last_increase(rtol), full.last_increase(rtol))
    assert not np.array_equal(full.last_increase(0.5), full.last_increase(INCREASE_RTOL))
    with pytest.raises(EoscheckError, match="needs every step recorded"):
        log.last_increase(0.5)
    with pytest.raises(EoscheckError, match="needs every step recorded"):
        log.monotone_from(100, rtol=0.5)


def test_sharpness_equals_autograd_hessian():
    data = synthetic(20, 4, 0.1, seed=5)
    traj = run_gd(data, "logistic", [3.0], 40, sharpness_every=20)
    w = torch.as_tensor(traj.stats["final_w"][0])
    Z = torch.as_tensor(data.Z)
    H = torch.autograd.functional.hessian(lambda v: get_loss("logistic").value(Z @ v).mean(), w)
    # λ_max of a 4×4 symmetric matrix whose entries are sums of 20 positive terms (≲ 20 ulps each) by two
    # methods; its top eigenvalue is well separated, so it moves by as much (Weyl): ≲ 1e-14; 1e-12 (measured 2e-16)
    assert traj.sharpness[0, -1] == pytest.approx(float(torch.linalg.eigvalsh(H)[-1]), rel=1e-12)


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
    # every record and stat comes back bit for bit from a plain np.load, deflated (zlib level 1, not stored)
    import zipfile

    with np.load(tmp_path / "run" / "trajectory.npz") as z:
        for k, v in traj.records.items():
            assert np.array_equal(z[k], v, equal_nan=True), k
        for k, v in traj.stats.items():
            assert np.array_equal(z[f"stats_{k}"], v, equal_nan=True), k
    with zipfile.ZipFile(tmp_path / "run" / "trajectory.npz") as zf:
        assert {i.compress_type for i in zf.infolist()} == {zipfile.ZIP_DEFLATED}
    # an array of Python objects would be written and then not read back (np.load without pickles): refused
    from eoscheck.trajectory import npz_bytes

    with pytest.raises(EoscheckError, match="record 'x' holds Python objects"):
        npz_bytes({"x": np.array([None, 1.0])})


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


def test_recorder_per_step_and_per_chunk_agree_with_hand_values():
    """The one recorder (eoscheck.recorder): hand-made losses for two runs (η = 1, 4), one of which
    stops at t = 4; every tracker checked against values worked out by hand, and the per-step and
    per-chunk interfaces (used by the reference and the fast engines) give the same bytes."""
    from eoscheck.recorder import INCREASE_RTOL, GDRecorder

    L = np.array([[0.9, 0.8, 1.2, 0.7, 0.5, 0.4],      # η = 1: increase at t = 2; L ≤ 1/η from t = 0
                  [0.6, 0.3, 0.2, 0.25, np.inf, 0.1]])  # η = 4: increase at t = 3; L ≤ 1/4 at t = 2; stops at 4
    L[0, 5] = L[0, 4] * (1 + INCREASE_RTOL / 2)          # within the allowance: only the strict tracker sees it
    T = L.shape[1] - 1
    G = L / 2
    state_ok = np.isfinite(L)
    rec = np.arange(T + 1)

    def run(chunks):
        R = GDRecorder([1.0, 4.0], rec, np.array([2]), ("loss", "log_loss", "G", "avg_loss", "avg_G"))
        for a, b in chunks:
            shown, _, _ = R.divergence(a, state_ok[:, a:b].T, state_ok[:, a:b].T)
            R.observe_chunk(a, L[:, a:b].T, np.log(L[:, a:b]).T, G[:, a:b].T, shown)
            for c, j in R.checkpoints(a, b - a):
                R.record_sharpness(c, np.array([7.0, 8.0]), shown[j])
        return R

    per_chunk = run([(0, 4), (4, 6)])
    per_step = GDRecorder([1.0, 4.0], rec, np.array([2]), ("loss", "log_loss", "G", "avg_loss", "avg_G"))
    for t in range(T + 1):
        q = {"loss": L[:, t], "log_loss": np.log(L[:, t]), "G": G[:, t]}
        shown = per_step.observe(t, q, state_ok[:, t])
        if per_step.wants_sharpness(t):
            per_step.record_sharpness_at(t, np.array([7.0, 8.0]), shown)
    for R in (per_chunk, per_step):
        s = R.stats()
        assert list(s["diverged_at"]) == [-1, 4]
        assert list(s["last_increase"]) == [2, 3]
        assert list(s["last_increase_strict"]) == [5, 3]
        assert list(s["first_below_1_over_eta"]) == [0, 2]
        assert list(s["first_below_2_over_eta"]) == [0, 1]
        assert list(s["argmax_loss"]) == [2, 0] and list(s["max_loss"]) == pytest.approx([1.2, 0.6], rel=1e-15)
        np.testing.assert_array_equal(R.records["avg_loss"][0, 1:], np.cumsum(L[0])[:-1] / np.arange(1, T + 1))
        assert np.isnan(R.records["avg_loss"][:, 0]).all() and np.isnan(R.records["loss"][1, 4:]).all()
        np.testing.assert_array_equal(R.sharpness, [[7.0], [8.0]])
    for key in per_step.records:
        assert per_step.records[key].tobytes() == per_chunk.records[key].tobytes()
    assert all(np.array_equal(per_step.stats()[k], per_chunk.stats()[k]) for k in per_step.stats())


def test_a_users_logistic_runs_as_the_built_in_at_a_huge_stepsize():
    """parse_loss("log(1+exp(-z))") at η = 1e6 on toy: the margins reach −1e5 after one step, where the typed
    formula gave ℓ = ∞ and ℓ′ = NaN, so the run stopped at step 1 as "diverged"; the built-in kept going.
    Now both forms agree.  Tolerance: both evaluate the same functions to a few ulps (tests/test_losses.py);
    through 3 steps of GD with margins ~1e5 that is ~1e-15 relative, so 1e-12 (the engines' agreement)."""
    from eoscheck import parse_loss

    user = run_gd(toy(), parse_loss("log(1+exp(-z))"), [1e6, 3.0], 3)
    built = run_gd(toy(), "logistic", [1e6, 3.0], 3)
    assert (user.stats["diverged_at"] == -1).all() and (built.stats["diverged_at"] == -1).all()
    np.testing.assert_allclose(user.loss, built.loss, rtol=1e-12)
    np.testing.assert_allclose(user.records["log_loss"], built.records["log_loss"], rtol=1e-12)


def test_a_zero_step_run_on_the_log_grid_records_step_0_alone():
    """steps = 0, grid="log", grid_points ≤ 4: geomspace(1, max(T, 1)) added step 1, a step never run, recorded
    as a NaN loss next to diverged_at = −1 (a silent "divergence")."""
    tr = run_gd(toy(normalized=True), "logistic", 1.0, 0, grid="log", grid_points=4)
    assert tr.step.tolist() == [0]
    assert np.isfinite(tr.records["loss"]).all()


def test_a_run_that_never_shows_a_step_has_no_max_loss():
    """w₀ = (1e308, 1e308) on 10·I: the margins are infinite at t = 0, so no loss is ever seen; max_loss was
    exp(−∞) = 0 (a loss the logistic loss cannot take) with argmax 0.  NaN and −1, the "never" of the stats."""
    from eoscheck import Dataset

    tr = run_gd(Dataset(np.eye(2) * 10, np.ones(2)), "logistic", 1.0, 3, w0=[1e308, 1e308])
    assert tr.stats["diverged_at"].tolist() == [0]
    assert np.isnan(tr.stats["max_loss"]).all() and tr.stats["argmax_loss"].tolist() == [-1]


@pytest.mark.parametrize("kw, says", [
    (dict(sharpness_every=float("nan")), "sharpness_every must be a positive integer"),
    (dict(sharpness_every=float("inf")), "sharpness_every must be a positive integer"),
    (dict(sharpness_every="3"), "sharpness_every must be a positive integer"),
    (dict(sharpness_every=True), "sharpness_every must be a positive integer"),
    (dict(threads=float("nan")), "threads must be a positive integer"),
    (dict(threads=[2]), "threads must be a positive integer"),
    (dict(threads=True), "threads must be a positive integer"),
    (dict(dtype=torch.float16), "dtype must be torch.float64"),
    (dict(dtype=torch.int64), "dtype must be torch.float64"),
    (dict(dtype="float64"), "dtype must be torch.float64"),
])
def test_bad_engine_options_are_one_line_errors(kw, says):
    """NaN, ∞, text or a list for sharpness_every or threads raised ValueError, OverflowError or TypeError, True
    was taken as 1; float16 ran silently (loss 0.173 for float64's 0.073 after 3000 steps) and int64, bfloat16 or
    the string "float64" crashed inside torch."""
    with pytest.raises(EoscheckError, match=says):
        run_gd(toy(normalized=True), "logistic", 1.0, 3, **kw)


def test_float32_losses_below_the_normal_range_are_taken_in_the_log_domain():
    """One point at margin 100 in float32: ℓ = e⁻¹⁰⁰ ≈ 3.7e-44 is subnormal in float32 (tiny = 1.2e-38), and
    ln of it read −99.9467.  Below n·tiny the record comes from the log domain: −100 within float32's rounding
    of the margin (100·2⁻²³ ≈ 1.2e-5) and of the log-sum-exp (a few ε₃₂)."""
    from eoscheck import Dataset

    tr = run_gd(Dataset(np.array([[1.0, 0.0]]), np.ones(1)), "logistic", 1.0, 1, w0=[100.0, 0.0],
                dtype=torch.float32, method="reference")
    assert abs(tr.records["log_loss"][0, 0] + 100.0) <= 2e-5


def test_the_gram_forms_gradient_norm_where_the_points_gradients_cancel():
    """Non-separable data (32 points and −0.9 times them, labels kept) near the minimiser: ∇L is a sum of
    per-point terms that cancel (G·R/‖∇L‖ reaches 3.7e7), and the gram form's η²‖∇L‖² = S·(SK), which rounds
    relative to (Σ|Sᵢ|·R)², read 1.3371e-8 for the reference's 1.3385e-8 (1.1e-3 relative; η = 1, 20000 steps).
    Recomputed from ∇L where it cancels, it agrees as two evaluations of one sum do: q to a few ulps, so ∇L to
    ~64ε·Σ|qᵢ|R/n = 64ε·(G·R/‖∇L‖) relative, the ratio measured from the reference's own records.  η = 4 (stable:
    the logistic loss is ¼maxᵢ‖xᵢ‖² = ¼-smooth) reaches the same cancellation, 3.7e7, in a quarter of the steps."""
    from eoscheck import Dataset

    rng = np.random.default_rng(1)
    X = rng.normal(size=(64, 64))
    y = np.where(rng.random(64) < 0.5, -1.0, 1.0)
    X /= np.linalg.norm(X, axis=1).max()
    data = Dataset(np.vstack([X[:32], -0.9 * X[:32]]), np.concatenate([y[:32], y[:32]]))
    fast = run_gd(data, "logistic", [4.0], 5000, grid="log", grid_points=12)
    ref = run_gd(data, "logistic", [4.0], 5000, grid="log", grid_points=12, method="reference")
    assert fast.provenance["engine"]["method"] == "gram"
    g = ref.records["grad_norm"][0]
    ratio = ref.records["G"][0] * data.max_norm / g
    assert ratio.max() > 1e7                                           # the cancellation is there
    assert np.all(np.abs(fast.records["grad_norm"][0] - g) <= 64 * np.finfo(float).eps * ratio * g)


@pytest.mark.parametrize("etas, says", [
    (None, "got None"), ("1.0", "got '1.0'"), ([[1.0, 2.0]], r"flat sequence of them, got an array of shape \(1, 2\)"),
    ([], "give at least one stepsize"),
])
def test_stepsizes_that_are_not_a_flat_list_of_numbers_are_named(etas, says):
    """etas=None said "stepsizes must be positive and finite, got nan"; a 2-D list "give at least one stepsize"."""
    with pytest.raises(EoscheckError, match=says):
        run_gd(toy(normalized=True), "logistic", etas, 3)


@pytest.mark.parametrize("kw", [{"method": "reference"}, {"method": "primal", "backend": "numpy"},
                                {"method": "primal", "backend": "torch"}, {"method": "gram"}, {}])
def test_a_loss_that_is_nan_at_a_finite_state_stops_the_run(kw):
    """ℓ(z) = log(1 − z) + 5 on the normalized toy set: ℓ′ = −1/(1 − z) stays finite past z = 1 while ℓ is NaN, so L
    was NaN from step 3 (η = 1) and step 1 (η = 100) with diverged_at = −1 and the run going on; every engine now
    stops there (as the network engines did), its records NaN from that step."""
    from eoscheck import parse_loss

    tr = run_gd(toy(normalized=True), parse_loss("log(1-z)+5"), [1.0, 100.0], 20, **kw)
    assert tr.stats["diverged_at"].tolist() == [3, 1]
    L = tr.records["loss"]
    assert np.isfinite(L[0, :3]).all() and np.isfinite(L[1, :1]).all()
    assert np.isnan(L[0, 3:]).all() and np.isnan(L[1, 1:]).all()



@pytest.mark.parametrize("kw", [{"method": "reference"}, {"method": "primal", "backend": "numpy"}, {}])
@pytest.mark.long
def test_a_loss_that_goes_negative_does_not_stop_the_run(kw):
    """ℓ = log(1 + e^{−z}) − 1/100 is negative past z ≈ 4.6: L < 0 is a number (ln L is NaN: outside the theory,
    whose losses are ≥ 0), not a divergence — the reference engine stopped there (at steps 514, 17) while the fast
    one went on; every engine goes on, as before the NaN-loss rule."""
    from eoscheck import parse_loss

    tr = run_gd(toy(), parse_loss("log(1+exp(-z)) - 1/100"), [5.0, 20.0], 2000, **kw)
    assert tr.stats["diverged_at"].tolist() == [-1, -1] and (tr.records["loss"][:, -1] < 0).all()
