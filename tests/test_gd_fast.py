"""The fast GD engine (eoscheck.fastgd: numba, numpy and torch paths) against the reference
engine (gd.ReferenceGD), and the fused numba path against the numpy path.

Every record and stat of the fast paths (numpy primal/gram, torch primal/gram) must equal
the reference's to 1e-12 relative, each on its natural scale:

* min margin and ⟨w, w*⟩: relative to ‖w‖·max‖zᵢ‖ (a margin is a sum of terms that size,
  so that is the scale its rounding lives on; min margin crosses 0 during the EoS phase);
* loss, G, ‖∇L‖, running averages, max loss: relative, times max(1, κ·μ_t) where
  μ_t = max_{s≤t} ‖w_s‖·max‖zᵢ‖: a margin error δm (relative to μ_t, above) moves ℓ(m) by
  |ℓ′/ℓ|·δm and ℓ′(m) by |ℓ″/ℓ′|·δm relative, and κ = 2 bounds both ratios for the built-in
  losses used here (1 for the logistic and exponential losses, a = 2 for flat_exp:a=2);
  two codes summing the margins in different orders (BLAS blocks vs plain loops) differ by
  exactly this (seen: 1.01e-12 relative in L at ‖w‖·max‖zᵢ‖ ≈ 10³, exponential loss, η = 1e4);
* ln L and ln F: absolute, times the same max(1, κ·μ_t) (an absolute error ε in ln L is a
  relative error ε in L);
* λ_max(∇²L): relative, times the row's largest max(1, κ·μ_t) (it scales with ℓ″(m));
* ‖w‖, train error: relative;
  the normalized margin relative to max‖zᵢ‖; final w in norm;
* integer stats (divergence step, last increase, hitting times, argmax): exactly;
* NaN and ±inf at the same places.

Large stepsizes make GD amplify rounding (the EoS phase); where the dynamics amplify ulp-level
differences beyond 1e-12 for *any* two float64 implementations, the test measures that floor
with an independent numpy loop and holds the fast path to it (``test_gram_at_the_noise_floor``).
"""

import math
import platform
import sys
import tracemalloc

import numpy as np
import pytest
import sympy as sp
import torch

from eoscheck import Dataset, EoscheckError, digits08, from_expr, get_loss, synthetic, thm3, toy
from eoscheck.fastgd import choose_method
from eoscheck.lossnp import TorchKernel, kernel_for
from eoscheck.gd import run_gd
from eoscheck.losses import z
from eoscheck.trajectory import RECORDED

TOL = 1e-12
#: Bound on |ℓ′/ℓ| and |ℓ″/ℓ′| for the built-in losses these tests run (see the module docstring).
KAPPA = 2.0


pytestmark = pytest.mark.usefixtures("one_thread")

#: Where the compiled step loops run (eoscheck.steploop: Linux futexes).
_LINUX64 = sys.platform.startswith("linux") and platform.machine().lower() in ("x86_64", "amd64", "aarch64", "arm64")


def assert_same(fast, ref, data, tol=TOL):
    """Fast and reference trajectories agree record by record and stat by stat (see module doc)."""
    with np.errstate(invalid="ignore", over="ignore"):
        _assert_same(fast, ref, data, tol)


def _assert_same(fast, ref, data, tol):
    zmax = float(np.max(np.linalg.norm(data.Z, axis=1)))
    w_norm = ref.records["w_norm"]
    # μ_t·κ (module docstring): the margin-error amplification of ℓ, ℓ′ and their logs
    amp = np.maximum(1.0, KAPPA * zmax * np.fmax.accumulate(np.nan_to_num(w_norm), axis=1))
    for name in RECORDED:
        a, b = fast.records[name], ref.records[name]
        assert a.shape == b.shape, name
        np.testing.assert_array_equal(np.isnan(a), np.isnan(b), err_msg=f"NaN pattern of {name}")
        np.testing.assert_array_equal(np.isinf(a) & (a > 0), np.isinf(b) & (b > 0), err_msg=f"+inf of {name}")
        np.testing.assert_array_equal(np.isinf(a) & (a < 0), np.isinf(b) & (b < 0), err_msg=f"-inf of {name}")
        fin = np.isfinite(a) & np.isfinite(b)
        if name in ("log_loss", "log_F"):
            scale = np.maximum(np.abs(b), amp)
        elif name in ("loss", "G", "grad_norm", "avg_loss", "avg_G"):
            scale = np.abs(b) * amp
        elif name in ("min_margin", "w_proj"):
            scale = np.maximum(np.abs(b), np.nan_to_num(w_norm) * zmax)
        elif name == "norm_margin":
            scale = np.maximum(np.abs(b), zmax)
        else:
            scale = np.abs(b)
        err = np.where(fin, np.abs(a - b), 0.0)
        bad = err > tol * np.where(fin, scale, 1.0)
        assert not bad.any(), (f"{name}: worst relative error "
                               f"{np.max(err / np.where(fin & (scale > 0), scale, 1.0)):.2e} at {np.argwhere(bad)[0]}")
    assert set(fast.stats) == set(ref.stats)
    for key in ref.stats:
        a, b = np.asarray(fast.stats[key]), np.asarray(ref.stats[key])
        assert a.shape == b.shape and a.dtype.kind == b.dtype.kind, key
        if a.dtype.kind in "iu":
            np.testing.assert_array_equal(a, b, err_msg=key)
        elif key == "final_w":
            fin = np.isfinite(b).all(axis=1)
            np.testing.assert_array_equal(np.isfinite(a).all(axis=1), fin, err_msg=key)
            diff = np.linalg.norm(a[fin] - b[fin], axis=1)
            assert np.all(diff <= tol * np.linalg.norm(b[fin], axis=1)), (key, diff)
        else:  # max_loss: relative, times the row's largest amplification (module docstring)
            same = (a == b) | (np.isnan(a) & np.isnan(b))
            bound = tol * np.abs(b) * amp[:, -1] + 1e-300
            np.testing.assert_array_less(np.abs(a - b)[~same], bound[~same], err_msg=key)
    np.testing.assert_array_equal(fast.sharpness_step, ref.sharpness_step)
    sa, sb = fast.sharpness, ref.sharpness
    np.testing.assert_array_equal(np.isnan(sa), np.isnan(sb))
    fin = np.isfinite(sb)
    # λ_max scales with ℓ″(m): relative, times the row's largest amplification (|ℓ‴/ℓ″| ≤ κ too)
    row_amp = np.broadcast_to(amp[:, -1:], sb.shape)
    assert np.all(np.abs(sa[fin] - sb[fin]) <= tol * np.abs(sb[fin]) * row_amp[fin]), "sharpness"
    assert fast.config == ref.config


# datasets and stepsizes: small to EoS-large for each (normalized data: 2/β ≈ 8)
CASES = {
    "toy": (lambda: toy(), [4.0, 8.0, 16.0, 32.0]),
    "toy_normalized": (lambda: toy(normalized=True), [1.0, 10.0, 100.0]),
    "thm3": (lambda: thm3(0.05), [1.0, 10.0, 100.0]),
    "synthetic_n>d": (lambda: synthetic(50, 10, 0.05, seed=0), [1.0, 10.0, 100.0]),
    "synthetic_n<d": (lambda: synthetic(20, 50, 0.05, seed=1), [1.0, 10.0, 100.0]),
    "digits08_normalized": (lambda: digits08().normalize(), [1.0, 10.0, 100.0]),
}
_DATA: dict = {}
_REF: dict = {}


def _data(name):
    if name not in _DATA:
        _DATA[name] = CASES[name][0]()
    return _DATA[name]


def _reference(name, loss, etas, steps):
    key = (name, loss, tuple(etas), steps)
    if key not in _REF:
        _REF[key] = run_gd(_data(name), loss, etas, steps, method="reference", sharpness_every=steps // 4)
    return _REF[key]


# the gram form rounds differently from the reference; where the EoS dynamics amplify that past
# 1e-12 (thm3 at η = 100, exit of the EoS phase at t ≈ 45) it is held to the measured floor instead
_CHAOTIC_FOR_GRAM = {("thm3", "logistic", 100.0)}


# the torch backend runs the same algorithm: three of the data sets cover it
_LOGISTIC_RUNS = [(name, method, backend) for backend in ("numba", "numpy") for method in ("primal", "gram", "auto")
                  for name in CASES] + \
    [(name, method, "torch") for method in ("primal", "gram") for name in ("toy_normalized", "thm3", "synthetic_n<d")]


@pytest.mark.parametrize("name,method,backend", _LOGISTIC_RUNS)
def test_logistic_equals_reference(name, method, backend):
    etas = CASES[name][1]
    if method == "gram":
        etas = [e for e in etas if (name, "logistic", e) not in _CHAOTIC_FOR_GRAM]
    steps = 600
    ref = _reference(name, "logistic", etas, steps)
    fast = run_gd(_data(name), "logistic", etas, steps, method=method, backend=backend,
                  sharpness_every=steps // 4)
    assert fast.provenance["engine"]["method"] in ("primal", "gram")
    assert_same(fast, ref, _data(name))


@pytest.mark.parametrize("name", list(CASES))
@pytest.mark.parametrize("method", ["primal", "gram"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_exponential_with_divergence_equals_reference(name, method, backend):
    # η = 1e4 leaves the float range within a few steps: same step, same NaNs, same frozen w
    etas = [0.5, 5.0, 1e4]
    ref = _reference(name, "exponential", etas, 200)
    fast = run_gd(_data(name), "exponential", etas, 200, method=method, backend=backend, sharpness_every=50)
    assert fast.provenance["engine"]["backend"] == backend
    assert ref.stats["diverged_at"][0] == -1
    if name in ("toy", "toy_normalized", "thm3", "synthetic_n>d"):  # the others stay separable-positive
        assert ref.stats["diverged_at"][2] >= 0
    assert_same(fast, ref, _data(name))


@pytest.mark.parametrize("spec", ["flat_exp:a=2", "flat_poly:a=1", "poly_tail"])
@pytest.mark.parametrize("method", ["primal", "gram"])
@pytest.mark.parametrize("backend", ["numba", "numpy"])
def test_other_builtin_losses_equal_reference(spec, method, backend):
    data = synthetic(30, 40, 0.05, seed=3)
    etas = [0.5, 5.0, 50.0]
    ref = run_gd(data, spec, etas, 400, method="reference", sharpness_every=100)
    fast = run_gd(data, spec, etas, 400, method=method, backend=backend, sharpness_every=100)
    assert fast.provenance["engine"]["backend"] == backend
    assert_same(fast, ref, data)


@pytest.mark.parametrize("backend", ["numba", "numpy", "torch"])
def test_an_underflowing_loss_is_recomputed_a_chunk_at_a_time(backend, monkeypatch):
    """At η = 10⁵ the loss underflows from the first steps on, so ln L and ln F are recomputed in the log domain at
    every step: one logsumexp call per step and stepsize (12 µs each, 55 µs a step in all on n = 200: 9× the whole
    run's time).  Now one call per chunk takes all its cells — with the same bits (the reference still agrees), and
    the rows of a batched logsumexp are each row's own (checked on 11,040 rows of 1–10⁴ margins when written)."""
    from eoscheck.gdnumpy import ChunkBuffers
    from eoscheck.gdtorch import TorchBlock

    calls, cells = [], []
    for cls in (ChunkBuffers, TorchBlock):
        for name in ("lse_log_values", "lse_negms"):
            real = getattr(cls, name)

            def spy(self, js, rs, _real=real):
                calls.append(1)
                cells.append(len(js))
                return _real(self, js, rs)
            monkeypatch.setattr(cls, name, spy)
    data, etas, steps = synthetic(40, 6, 0.1, seed=0), [1.0, 1e5], 600
    fast = run_gd(data, "logistic", etas, steps, backend=backend, method="primal")
    assert fast.records["loss"][1, -1] == 0.0 and sum(cells) >= 2 * steps    # ln L and ln F at every step
    assert len(calls) * 100 <= sum(cells)       # a call per chunk (one chunk here: 2 calls for 1200 cells)
    assert_same(fast, run_gd(data, "logistic", etas, steps, method="reference"), data)


def test_the_underflow_fallbacks_in_bounded_calls_give_the_same_bits(monkeypatch):
    """A chunk whose every cell underflowed gathers up to 2²⁷ margins on CUDA; the calls are capped at
    REFILL_MARGINS margins.  With the cap at 100 margins (2 cells of n = 40 a call) the records are those of one call
    a chunk, bit for bit."""
    import eoscheck.fastgd as fastgd

    data, etas = synthetic(40, 6, 0.1, seed=0), [1.0, 1e5]
    whole = run_gd(data, "logistic", etas, 300, method="primal", backend="numpy")
    monkeypatch.setattr(fastgd, "REFILL_MARGINS", 100)
    capped = run_gd(data, "logistic", etas, 300, method="primal", backend="numpy")
    for k in whole.records:
        assert np.array_equal(whole.records[k], capped.records[k], equal_nan=True), k


def test_custom_loss_goes_through_its_torch_evaluators():
    loss = from_expr(sp.log(1 + sp.exp(-z)) + sp.exp(-2 * z) / 10, name="custom")
    assert isinstance(kernel_for(loss), TorchKernel)
    data = toy(normalized=True)
    ref = run_gd(data, loss, [0.5, 5.0], 300, method="reference")
    for method in ("primal", "gram"):
        fast = run_gd(data, loss, [0.5, 5.0], 300, method=method)
        assert fast.provenance["engine"]["backend"] == "numpy"   # no fused form: the numpy path
        assert_same(fast, ref, data)


def test_nonzero_w0_and_log_grid():
    data = synthetic(40, 8, 0.05, seed=4)
    w0 = np.linspace(-1, 1, 8)
    kw = dict(w0=w0, grid="log", grid_points=40, sharpness_every=500)
    ref = run_gd(data, "logistic", [0.3, 3.0, 30.0], 2000, method="reference", **kw)
    assert_same(run_gd(data, "logistic", [0.3, 3.0, 30.0], 2000, method="primal", **kw), ref, data)
    assert run_gd(data, "logistic", [1.0], 5, w0=w0).provenance["engine"]["method"] == "primal"


@pytest.mark.parametrize("gemm", ["openblas", "mkl"])
def test_large_blocks_inline_reductions_equal_reference(gemm, monkeypatch):
    # numpy path, k·n ≥ 8192: reductions run per step, the GEMM goes through the chosen library
    monkeypatch.setenv("EOSCHECK_GEMM", gemm)
    data = synthetic(2048, 40, 0.05, seed=5)
    etas = list(np.geomspace(0.5, 200, 8))
    ref = _large_reference(data, etas)
    for method in ("primal", "gram"):
        fast = run_gd(data, "logistic", etas, 30, method=method, backend="numpy", sharpness_every=15)
        eng = fast.provenance["engine"]
        assert eng["inline"] and eng["gemm"] == (gemm if torch.backends.mkl.is_available() else "openblas")
        assert_same(fast, ref, data)
    if gemm == "openblas":  # a log grid: the record-only sums are taken at the recorded steps only
        log = dict(grid="log", grid_points=8)
        ref = run_gd(data, "logistic", etas, 30, method="reference", **log)
        assert len(ref.step) < 31
        for method in ("primal", "gram"):
            for backend in ("numpy", "numba"):
                assert_same(run_gd(data, "logistic", etas, 30, method=method, backend=backend, **log), ref, data)


def _large_reference(data, etas):
    key = ("large", tuple(etas))
    if key not in _REF:
        _REF[key] = run_gd(data, "logistic", etas, 30, method="reference", sharpness_every=15)
    return _REF[key]


@pytest.mark.parametrize("method,threads,loop", [("gram", 1, "compiled"), ("gram", 2, "compiled"), ("gram", 3, "compiled"),
                                                ("gram", 2, "python"), ("primal", 1, "compiled"),
                                                ("primal", 2, "compiled"), ("primal", 3, "compiled"),
                                                ("primal", 2, "compiled-mkl"), ("primal", 1, "python"),
                                                ("primal", 2, "python")])
def test_panels_on_threads_equal_reference_and_each_other(method, threads, loop, monkeypatch):
    """The fused path with its data points split into 3 panels (gram: column panels of K, each
    panel's product summed from its own block on, blocking waits for the other panels' S when
    threads > 1; primal: row panels of Z, the partial gradients summed in panel order, two waits a step;
    each in the compiled loop of eoscheck.steploop or the Python loop it replaces), forced onto a small
    data set so that divergence (exponential loss, η = 1e4) is covered too: equal to the reference,
    and bit-identical whatever the thread count (3 threads: one a panel; 2: thread 0 runs panels 0
    and 2)."""
    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf
    import eoscheck.steploop as gl

    monkeypatch.setattr(gl, "ENABLED", loop != "python")
    gemm = "mkl" if loop == "compiled-mkl" else None   # MKL's LP64 dgemm from torch (the Intel default), on any host
    if gemm:
        monkeypatch.setenv("EOSCHECK_GEMM", gemm)
        loop = "compiled"
    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "MIN_PANEL", 2)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 3)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)      # the BLAS path, not the whole-chunk kernel
    data = _data("synthetic_n>d")
    for loss, etas, steps in (("logistic", CASES["synthetic_n>d"][1], 600), ("exponential", [0.5, 5.0, 1e4], 200)):
        ref = _reference("synthetic_n>d", loss, etas, steps)
        fast = run_gd(data, loss, etas, steps, method=method, threads=threads, sharpness_every=steps // 4)
        eng = fast.provenance["engine"]
        assert (eng["backend"], eng["panels"], eng["threads"], eng["mode"]) == ("numba", 3, threads, "blas")
        assert eng.get("step_loop") == (loop if _LINUX64 or loop != "compiled" else "python")
        assert gemm is None or eng["gemm"] == gemm
        assert_same(fast, ref, data)
        if threads > 1:
            one = run_gd(data, loss, etas, steps, method=method, threads=1, sharpness_every=steps // 4)
            assert _all_bytes(fast) == _all_bytes(one)


@pytest.mark.parametrize("method", ["primal", "gram"])
def test_fused_blas_path_equals_numpy_path_with_divergence(method, monkeypatch):
    """The fused path on its per-step BLAS loop (forced) against the numpy path, through divergence:
    both to 1e-12 of each other (the same module-level comparison as against the reference)."""
    import eoscheck.gdfused as gf

    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    data = _data("toy_normalized")
    etas = [0.5, 5.0, 1e4]
    a = run_gd(data, "exponential", etas, 200, method=method, backend="numpy", sharpness_every=50)
    b = run_gd(data, "exponential", etas, 200, method=method, backend="numba", sharpness_every=50)
    assert b.provenance["engine"]["mode"] == "blas"
    assert a.stats["diverged_at"][2] >= 0
    assert_same(b, a, data)


def test_a_failing_panel_thread_raises_instead_of_hanging(monkeypatch):
    """The Python loop: a panel thread that fails releases the others (StepBoard.abort)."""
    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf
    import eoscheck.steploop as gl

    monkeypatch.setattr(gl, "ENABLED", False)
    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "MIN_PANEL", 2)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 2)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    calls = {"n": 0}
    update = gf.update_gram

    def failing(*args):
        calls["n"] += 1
        if calls["n"] > 7:
            raise FloatingPointError("panel failure")
        return update(*args)

    monkeypatch.setattr(gf, "update_gram", failing)
    with pytest.raises(FloatingPointError, match="panel failure"):
        run_gd(_data("synthetic_n>d"), "logistic", [1.0, 2.0], 100, method="gram", threads=2)


@pytest.mark.skipif(not _LINUX64, reason="the compiled loop waits on Linux futexes")
@pytest.mark.parametrize("method", ["gram", "primal"])
def test_a_failing_thread_of_the_compiled_loop_raises_instead_of_hanging(monkeypatch, method):
    """The compiled loop: panel 1's thread fails before its first step, so panel 0 (the calling
    thread, inside compiled code) would wait forever for S_1 (gram) or D_1 (primal); the failure aborts the board (a flag,
    every slot changed, every waiter woken) and the error reaches the caller.  The run goes in a
    daemon thread so that a regression fails the test instead of hanging the suite."""
    import threading

    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf

    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "MIN_PANEL", 2)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 2)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)

    def failing(self):
        raise FloatingPointError("panel thread failure")

    monkeypatch.setattr(gf.FusedBlock, "enter_thread", failing)
    out = {}

    def go():
        try:
            run_gd(_data("synthetic_n>d"), "logistic", [1.0, 2.0], 100, method=method, threads=2)
        except BaseException as exc:
            out["error"] = exc

    th = threading.Thread(target=go, daemon=True)
    th.start()
    th.join(timeout=120)
    assert not th.is_alive(), "the compiled loop hung after a panel thread failed"
    assert isinstance(out.get("error"), FloatingPointError)


def _numpy_loop(Z, eta, steps, perturb=None):
    """An independent plain GD loop (primal, float64): loss and ‖∇L‖ per step."""
    n, d = Z.shape
    w = np.zeros(d)
    L, gn = [], []
    for _ in range(steps + 1):
        m = Z @ w
        L.append(np.mean(np.logaddexp(0.0, -m)))
        g = -(Z.T @ (0.5 - 0.5 * np.tanh(m / 2))) / n   # ℓ′(m) = −σ(−m)
        gn.append(np.linalg.norm(g))
        w = w - eta * g
        if perturb is not None:   # one rounding's worth of noise per step (relative 2⁻⁵³)
            w = w * (1 + perturb.choice([-1.0, 1.0], size=d) * 2.0**-53)
    return np.array(L), np.array(gn)


def test_gram_at_the_noise_floor():
    """thm3(0.05), η = 100: a run that rounds differently by one ulp per step differs by >1e-12.

    The floor is measured with an independent numpy loop against itself, perturbed at the
    level of one rounding per step; the gram form must stay within 4× that floor (the primal
    form, which rounds like the reference on 2×2 data, stays within 1e-12).
    """
    data, eta, steps = thm3(0.05), 100.0, 600
    L0, g0 = _numpy_loop(data.Z, eta, steps)
    floor = 0.0
    for seed in range(3):
        L1, g1 = _numpy_loop(data.Z, eta, steps, np.random.default_rng(seed))
        floor = max(floor, np.max(np.abs(L1 - L0) / L0), np.max(np.abs(g1 - g0) / g0))
    assert floor > TOL  # the dynamics, not the engine, set this floor
    ref = run_gd(data, "logistic", [eta], steps, method="reference")
    np.testing.assert_allclose(ref.loss[0], L0, rtol=4 * floor)   # the independent loop is GD
    assert_same(run_gd(data, "logistic", [eta], steps, method="primal"), ref, data)
    assert_same(run_gd(data, "logistic", [eta], steps, method="gram"), ref, data, tol=4 * floor)


def test_figure_1_numbers_on_the_default_path():
    # paper.md §8.1 (Fig. 1, toy set): peaks 2.43, 5.57, 11.0 (η = 4 monotone: its max is L(w₀) = ln 2), last
    # increases 15, 12, 12, and L·ηt ≈ 25.0 (η = 4, 8, 16) and 22.9 (η = 32) at t = 2¹⁶ — each to half a unit of
    # the paper's last printed digit (the paper's rounding is the only tolerance: the runs are exact to 1e-12)
    T = 2**16
    traj = run_gd(toy(), "logistic", [4, 8, 16, 32], T, grid="log", grid_points=64)
    assert traj.provenance["engine"]["method"] == "primal"
    assert traj.stats["max_loss"][0] == pytest.approx(math.log(2), rel=1e-15)
    assert np.all(np.abs(traj.stats["max_loss"][1:] - [2.43, 5.57, 11.0]) <= [0.005, 0.005, 0.05])
    assert list(traj.stats["last_increase"]) == [-1, 15, 12, 12]
    np.testing.assert_allclose(traj.loss_at(T) * traj.eta * T, [25.0, 25.0, 25.0, 22.9], rtol=0, atol=0.05)


def _all_bytes(traj):
    parts = [traj.records[k].tobytes() for k in RECORDED]
    parts += [np.asarray(traj.stats[k]).tobytes() for k in sorted(traj.stats)]
    return b"".join(parts) + traj.sharpness.tobytes()


@pytest.mark.parametrize("method", ["primal", "gram"])
@pytest.mark.parametrize("gemm", ["openblas", "mkl"])
def test_blas_mode_reruns_are_bit_identical_whatever_the_heap(method, gemm, monkeypatch):
    """The fused path's BLAS mode (forced) through each GEMM library: two runs give the same bytes
    although the heap differs between them (MKL's results may depend on its operands' alignment,
    and malloc places a buffer differently once its mmap threshold has moved; the engine aligns its
    buffers to 64 bytes), and both equal the reference."""
    import eoscheck.gdfused as gf

    monkeypatch.setenv("EOSCHECK_GEMM", gemm)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    data, etas = _data("synthetic_n>d"), CASES["synthetic_n>d"][1]
    a = run_gd(data, "logistic", etas, 300, method=method, sharpness_every=75)
    junk = [np.ones(size) for size in (3, 17, 20_001, 70_003, 300_007)]   # move malloc's state
    del junk[::2]
    b = run_gd(data, "logistic", etas, 300, method=method, sharpness_every=75)
    assert b.provenance["engine"]["gemm"] == (gemm if torch.backends.mkl.is_available() else "openblas")
    assert _all_bytes(a) == _all_bytes(b)
    assert_same(b, _reference("synthetic_n>d", "logistic", etas, 300), data)


def test_aligned_buffers_start_on_64_bytes():
    from eoscheck.gdfused import aligned_copy, aligned_zeros

    for shape in [(1,), (3, 5), (7, 11, 13), (2, 1000)]:
        z = aligned_zeros(shape)
        assert z.shape == shape and z.ctypes.data % 64 == 0 and z.flags.c_contiguous and not z.any()
    a = np.arange(35.0).reshape(5, 7)[:, 1:6]
    c = aligned_copy(a)
    assert c.ctypes.data % 64 == 0 and c.flags.c_contiguous
    np.testing.assert_array_equal(c, a)


@pytest.mark.parametrize("method,backend", [("primal", "numba"), ("gram", "numba"), ("gram", "numpy")])
def test_reruns_are_bit_identical(method, backend):
    data = synthetic(150, 100, 0.05, seed=6)
    etas = list(np.geomspace(1, 100, 5))
    a = run_gd(data, "logistic", etas, 200, method=method, backend=backend, sharpness_every=50)
    b = run_gd(data, "logistic", etas, 200, method=method, backend=backend, sharpness_every=50)
    assert _all_bytes(a) == _all_bytes(b)


def test_record_memory_is_the_records_alone():
    """Records take 12·8·K·S bytes (10⁶ steps × 32 stepsizes: 3.07 GB); the engine's
    own working memory is a few chunk buffers, independent of the number of steps (both runs
    longer than a chunk, 2¹² steps here: a shorter run allocates a shorter chunk)."""
    data = synthetic(20, 5, 0.1, seed=7)
    peaks = {}
    for steps in (10_000, 20_000):
        tracemalloc.start()
        traj = run_gd(data, "logistic", [1.0, 10.0], steps)
        peaks[steps] = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        rec_bytes = sum(traj.records[k].nbytes for k in RECORDED)
        assert rec_bytes == 12 * 8 * 2 * (steps + 1)
    extra = (peaks[20_000] - peaks[10_000]) - 12 * 8 * 2 * 10_000
    assert extra < 1_000_000, f"engine memory grows with the steps: {extra} bytes"


@pytest.mark.parametrize("spec", ["logistic", "exponential", "flat_exp:a=2", "flat_exp:a=0.5",
                                  "flat_poly:a=1", "flat_poly:a=3", "poly_tail"])
def test_numpy_kernels_equal_the_torch_forms(spec):
    loss = get_loss(spec)
    kern = kernel_for(loss)
    assert not isinstance(kern, TorchKernel)
    m = np.concatenate([np.linspace(-40, 40, 801), [-800.0, -700.0, -30.5, -1e-300, 0.0, 1e-300, 30.5, 700.0,
                                                    800.0, 1e6]])
    mt = torch.from_numpy(m)
    with np.errstate(all="ignore"):
        q, cache, le, tmp = (np.empty_like(m) for _ in range(4))
        kern.q(m, q, cache, le, tmp)
        got = {"q": q, "value": kern.value(m), "log_value": kern.log_value(m), "hess": kern.hess(m)}
        vs = kern.value_sum(m[None], cache[None], q[None], np.empty((1, m.size)))
    want = {"q": -loss.grad(mt).numpy(), "value": loss.value(mt).numpy(),
            "log_value": loss.log_value(mt).numpy(), "hess": loss.hess(mt).numpy()}
    # Tolerance from conditioning. value, q and hess are products/quotients of exp/log1p, each
    # correctly rounded to within an ulp or two by either library (numpy and torch may call
    # different libm/SLEEF kernels, so 1-ulp disagreements are legitimate), so they agree to
    # 4 eps relative. log_value = log(l) has condition number 1/|log l|: an l with relative error
    # 4 eps gives |d log l| = |dl/l| <= 4 eps *absolute*, which near l = 1 (log l ~ 0) is many
    # ulps of log l (7 ulps seen at m = -0.9 on AMD/OpenBLAS-numpy).  Hence for log_value the
    # bound is 4 eps |b| (rounding of log itself) + 4 eps (propagated absolute error).
    eps = np.finfo(float).eps
    for key in want:
        a, b = got[key], want[key]
        same = (a == b) | (np.isnan(a) & np.isnan(b))
        absolute = 4 * eps if key == "log_value" else 0.0
        with np.errstate(invalid="ignore"):
            close = np.abs(a - b) <= 4 * eps * np.abs(b) + absolute
        assert np.all(same | close), (key, m[~(same | close)])
    # Σ ℓ, for every kernel: on the finite values (the exponential's ℓ(−800) = e⁸⁰⁰ overflows), and over the
    # whole row, which then must not come out finite.  Tolerance: every term is within 4 eps of the oracle's
    # (above) and all are ≥ 0 (the logistic's Σ log1p(e) − Σ min(m, 0) adds two sums of one sign: no
    # cancellation); numpy's add.reduce sums pairwise (blocks of ≤ 128 in 8 lanes of ≤ 16 terms, then
    # halving), ≤ (16 + ⌈log2⌈n/128⌉⌉) eps relative on terms of one sign; +1 eps for the subtraction and
    # +1 for the oracle's fsum rounded once.
    fin = np.isfinite(want["value"])
    nf = int(fin.sum())
    rel = (4 + 16 + math.ceil(math.log2(math.ceil(nf / 128))) + 2) * eps
    oracle = math.fsum(want["value"][fin])
    vs_fin = kern.value_sum(m[None, fin], cache[None, fin], q[None, fin], np.empty((1, nf)))
    assert vs_fin[0] == pytest.approx(oracle, rel=rel, abs=0)
    if kern.makes_le:
        np.testing.assert_array_equal(le, (m <= 0).astype(float))
        vs_le = kern.value_sum(m[None, fin], cache[None, fin], q[None, fin], np.empty((1, nf)), le[None, fin])
        assert vs_le[0] == pytest.approx(oracle, rel=rel, abs=0)
    assert np.isfinite(vs[0]) == fin.all()
    if fin.all():
        assert vs[0] == pytest.approx(oracle, rel=rel, abs=0)


def test_engine_options_are_checked():
    data = toy()
    with pytest.raises(EoscheckError, match="method"):
        run_gd(data, "logistic", [1.0], 5, method="fast")
    with pytest.raises(EoscheckError, match="backend"):
        run_gd(data, "logistic", [1.0], 5, backend="jax")
    with pytest.raises(EoscheckError, match="w0 = 0"):
        run_gd(data, "logistic", [1.0], 5, method="gram", w0=np.ones(2))
    with pytest.raises(EoscheckError, match="threads"):
        run_gd(data, "logistic", [1.0], 5, threads=0)
    with pytest.raises(EoscheckError, match="float64"):
        run_gd(data, "logistic", [1.0], 5, method="primal", dtype=torch.float32)
    assert run_gd(data, "logistic", [1.0], 5, dtype=torch.float32).provenance["engine"]["method"] == "reference"


@pytest.mark.parametrize("spec", ["logistic", "exponential", "flat_exp:a=2", "flat_poly:a=1", "poly_tail"])
@pytest.mark.parametrize("precomputed", [True, False])
def test_fused_pass_equals_the_numpy_kernels(spec, precomputed):
    """One fused pass (gdfused.fused_pass) on extreme margins against the numpy kernels (lossnp),
    the numpy path it must reproduce: q bit for bit where both use numpy's exp
    (``precomputed``), else to 4 eps (libm vs numpy's SIMD loops, each within ~1 ulp); the row
    sums Σℓ, Σq, Σexp(−m) to 1e-14 relative (n = 811 terms of one sign, summed in different
    orders: ≤ n·eps ≈ 1.8e-13 in the worst case, ~√n·eps ≈ 6e-15 typically; 1e-14 allows the
    1/e rounding of exp(−m) too, and the logistic Σ log1p(e) of explog.log1p_sum, ≤ 28 ulps for
    these rows); min, max and #{m ≤ 0} exactly."""
    import eoscheck.gdfused as gf

    kernel = kernel_for(get_loss(spec))
    kind, a = gf.fused_kind(kernel)
    m = np.concatenate([np.linspace(-40, 40, 801), [-700.0, -30.5, -1e-300, 0.0, 1e-300, 30.5, 700.0, 1e3,
                                                    1e6, 5.0]])[None, :].repeat(2, axis=0)
    k, w = m.shape
    E = np.zeros((k, w))
    if precomputed and kind in (gf.LOGISTIC, gf.EXPONENTIAL):
        gf.transcendentals(kind, m, E)
    else:
        E = np.zeros((k, 0))
    Q, S, red = np.zeros((k, w)), np.zeros((k, w)), np.zeros((gf.NRED, 1, k))
    live = np.array([True, False])
    with np.errstate(all="ignore"):
        gf.fused_pass(kind, a, m, E, Q, S, np.array([0.5, 0.5]), live, np.zeros((k, 0)), np.zeros(0), True, red, 0,
                      np.empty(w), np.empty(w))
        q, cache, le, tmp = (np.empty_like(m) for _ in range(4))
        kernel.q(m, q, cache, le, tmp)
        value = kernel.value(m).sum(axis=1)
        expneg = np.exp(-m).sum(axis=1)
    eps = np.finfo(float).eps
    if precomputed and kind in (gf.LOGISTIC, gf.EXPONENTIAL):
        np.testing.assert_array_equal(Q, q)
    else:
        assert np.all(np.abs(Q - q) <= 4 * eps * np.abs(q))
    np.testing.assert_array_equal(S[0], 0.5 * Q[0])
    np.testing.assert_array_equal(S[1], 0.0)                   # a stopped row steps by exactly 0
    np.testing.assert_allclose(red[gf.VALUE, 0], value, rtol=1e-14)
    np.testing.assert_allclose(red[gf.QSUM, 0], np.abs(q).sum(axis=1), rtol=1e-14)
    np.testing.assert_allclose(red[gf.EXPNEG, 0], expneg, rtol=1e-14)
    np.testing.assert_array_equal(red[gf.MMIN, 0], m.min(axis=1))
    np.testing.assert_array_equal(red[gf.MMAX, 0], m.max(axis=1))
    np.testing.assert_array_equal(red[gf.LE0, 0], (m <= 0).sum(axis=1))
    m[0, 3] = np.nan                                            # a non-finite state shows in min and max
    if precomputed and kind in (gf.LOGISTIC, gf.EXPONENTIAL):
        gf.transcendentals(kind, m, E)
    with np.errstate(all="ignore"):
        gf.fused_pass(kind, a, m, E, Q, S, np.array([0.5, 0.5]), live,
                      np.zeros((k, 0)), np.zeros(0), False, red, 0, np.empty(w), np.empty(w))
    assert np.isnan(red[gf.MMIN, 0, 0]) and np.isnan(red[gf.MMAX, 0, 0]) and np.isfinite(red[gf.MMIN, 0, 1])


def test_compiled_exp_is_within_one_ulp():
    """eoscheck.explog.exp (fdlibm's algorithm, claimed < 1 ulp) against mpmath at 120 bits:
    |computed − exact| ≤ 1 ulp of the exact value, on random points of the fast range and the
    edges of its range; outside it (subnormal, 0, ∞, NaN) libm's exp, bit for bit.  1 ulp is the
    documented bound of the algorithm, not a fit."""
    import mpmath

    from eoscheck.explog import EXP_HI, EXP_LO, exp_into

    mpmath.mp.prec = 120
    rng = np.random.default_rng(11)
    x = np.concatenate([rng.uniform(EXP_LO, EXP_HI, 400), rng.uniform(-1, 1, 200), rng.uniform(-40, 0, 200),
                        [EXP_LO, EXP_HI, -0.0, 0.0, 1e-300, -1e-300, -0.5 * math.log(2), 0.5 * math.log(2)]])
    out = np.empty_like(x)
    exp_into(x, out)
    for a, g in zip(x, out):
        exact = mpmath.exp(mpmath.mpf(float(a)))
        assert abs(mpmath.mpf(float(g)) - exact) <= math.ulp(float(exact)), (a, g)
    edge = np.array([-708.5, -745.0, -746.0, -np.inf, 709.5, 709.78, 710.0, np.inf, np.nan])
    got = np.empty_like(edge)
    exp_into(edge, got)
    want = np.array([math.exp(v) if v < 709.79 or math.isnan(v) else math.inf for v in edge])
    np.testing.assert_array_equal(got, want)


def test_compiled_exp_scales_right_at_every_power_of_two():
    """exp's 2ᵏ is built from the bits of k (eoscheck.explog.SCALE_OFF), so every k ∈ [K_MIN, K_MAX] is checked, not a
    sample: at x = k·ln 2 and x = (k ± 0.49)·ln 2 (r near 0 and near ±ln2/2 on each k) within 1 ulp of mpmath's exp at
    120 bits — the algorithm's documented bound, as in test_compiled_exp_is_within_one_ulp.  A wrong scale is off by
    a factor ≥ 2, a wrong exponent offset everywhere."""
    import mpmath

    from eoscheck.explog import K_MAX, K_MIN, exp_into

    mpmath.mp.prec = 120
    k = np.arange(K_MIN, K_MAX + 1)
    x = np.concatenate([k * math.log(2), (k + 0.49) * math.log(2), (k - 0.49) * math.log(2)])
    x = x[(x >= -708.0) & (x <= 709.0)]                   # the fast range (outside it, libm: tested above)
    out = np.empty_like(x)
    exp_into(x, out)
    for a, g in zip(x, out):
        exact = mpmath.exp(mpmath.mpf(float(a)))
        assert abs(mpmath.mpf(float(g)) - exact) <= math.ulp(float(exact)), (a, g)


@pytest.mark.parametrize("kind", ["logistic", "exponential"])
def test_padded_exp_rows_keep_the_bits(kind):
    """transcendentals_compiled with a scratch of 2·p (p = w rounded up to EXP_LANES: exp on whole vectors, then
    copied) gives the bits of the plain scratch (exp's remainder in scalar code) on every row width 1..40, with
    margins of both signs, beyond exp's fast range, ±inf and NaN: the same operations either way."""
    import eoscheck.gdfused as gf

    code = {"logistic": gf.LOGISTIC, "exponential": gf.EXPONENTIAL}[kind]
    rng = np.random.default_rng(5)
    for w in range(1, 41):
        M = rng.uniform(-30, 30, (3, w))
        M[1, rng.integers(w)] = rng.choice([800.0, -800.0, np.inf, -np.inf, np.nan])
        p = -(-w // gf.EXP_LANES) * gf.EXP_LANES
        plain, padded = np.empty((3, w)), np.empty((3, w))
        gf.transcendentals_compiled(code, M, plain, np.empty(w))
        gf.transcendentals_compiled(code, M, padded, np.full(2 * p, np.nan))   # stale scratch: the pad is reset
        np.testing.assert_array_equal(padded.view(np.int64), plain.view(np.int64))


def test_matmul_dot_sums_each_column_in_order():
    """_matmul_dot (columns in groups of up to 8) gives, bit for bit, Σᵢ A[r, i]·B[c, i] summed in i order from 0.0 —
    here a plain Python loop (IEEE doubles, no FMA), the order _matmul_into uses — for every column count 1..19 (full
    groups, remainders of 1..7) and n = 1, 7, 20."""
    import eoscheck.gdfused as gf

    rng = np.random.default_rng(8)
    for n in (1, 7, 20):
        for p in range(1, 20):
            A, BT = rng.standard_normal((2, n)), rng.standard_normal((p, n))
            out = np.empty((2, p))
            gf._matmul_dot(A, BT, out)
            want = np.empty((2, p))
            for r in range(2):
                for c in range(p):
                    s = 0.0
                    for i in range(n):
                        s += float(A[r, i]) * float(BT[c, i])
                    want[r, c] = s
            np.testing.assert_array_equal(out, want)


@pytest.mark.parametrize("w", [1, 2, 3, 20, 63, 64, 65, 511, 512, 513, 1500])
def test_log1p_sum_is_within_its_bound(w):
    """eoscheck.explog.log1p_sum, Σ log1p(eᵢ) by products per block of 512, against mpmath at
    120 bits.  Bound (derived in its docstring): a term passes through ≤ L combinations
    a + b(1 + a), each ≤ 3 roundings relative (every term ≥ 0: no cancellation), then libm's log1p
    (≤ 1 ulp, condition number ≤ 1): ≤ 3L + 1 ulps a block, L = ⌈log₂ n⌉ for the tree (n ≥ 64)
    and ⌈n/4⌉ + 2 for the four running products (n < 64); the block logs (all ≥ 0) add one
    rounding each.  Terms from exp(−|m|) for m across the EoS range, tiny ones (where 1 + e rounds
    to 1), zeros and ones; NaN gives NaN."""
    import mpmath

    from eoscheck.explog import SHORT_BLOCK, SUM_BLOCK, log1p_sum

    mpmath.mp.prec = 120
    rng = np.random.default_rng(w)
    eps = np.finfo(float).eps
    sizes = [min(SUM_BLOCK, w - b) for b in range(0, w, SUM_BLOCK)]
    L = max(math.ceil(math.log2(n)) if n >= SHORT_BLOCK else -(-n // 4) + 2 for n in sizes)
    t = np.empty(w)
    cases = [np.exp(-rng.uniform(0, 40, w)), rng.uniform(0, 1, w), np.exp(-rng.uniform(30, 700, w)),
             np.where(rng.random(w) < 0.5, 0.0, 1.0), np.full(w, 2.0**-53)]
    for e in cases:
        got = log1p_sum(e, t)
        exact = mpmath.fsum(mpmath.log1p(mpmath.mpf(float(v))) for v in e)
        bound = (3 * L + 1 + len(sizes)) * eps * exact
        assert abs(mpmath.mpf(got) - exact) <= bound, (w, e[:4], got, exact)
    e = rng.uniform(0, 1, w)
    e[w // 2] = np.nan
    assert math.isnan(log1p_sum(e, t))


def test_default_threads_follow_the_idle_cpus_and_change_no_bit(monkeypatch):
    """Without ``threads`` the engine runs one blocking thread per idle CPU (3 panels forced here):
    3 on a quiet 3-CPU machine, 1 when other processes keep 2 CPUs busy, 1 for a run shorter than
    the load's measuring window; no /proc/stat: every panel's thread.  The bytes are those of the
    1-thread run in every case."""
    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf

    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "MIN_PANEL", 2)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 3)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    data = _data("synthetic_n>d")
    one = run_gd(data, "logistic", [1.0, 10.0], 100, method="gram", threads=1)
    monkeypatch.setattr(fg, "chunk_length", lambda k, n: 8)     # 13 chunks: the count is chosen early
    monkeypatch.setattr(fg, "helper_cpus", lambda since, now: 0.0)
    cases = [(0.0, 0.0, True, 3), (2.0, 0.0, True, 1), (0.0, math.inf, True, 1), (2.0, math.inf, False, 3)]
    for busy, window, proc_stat, want in cases:
        monkeypatch.setattr(fg, "busy_cpus", lambda since, now, busy=busy: busy if since is not None else 0.0)
        monkeypatch.setattr(fg, "LOAD_WINDOW", window)
        if not proc_stat:
            monkeypatch.setattr(fg, "cpu_snapshot", lambda: None)
        auto = run_gd(data, "logistic", [1.0, 10.0], 100, method="gram")
        assert (auto.provenance["engine"]["panels"], auto.provenance["engine"]["threads"]) == (3, want)
        assert _all_bytes(auto) == _all_bytes(one)


def test_the_load_window_is_the_runs_own_first_chunks(monkeypatch):
    """The load behind the default thread count is measured between snapshots taken while the run
    works (no sleep): with the snapshots below — 10 ticks of 2 CPUs, 2.5 idle, this process 0.05
    CPU-s in 0.05 s — others keep 0.5 CPU busy; no snapshot: 0.  The process's other threads' share
    is its CPU time less the calling thread's."""
    import eoscheck.fastgd as fg

    monkeypatch.setattr(fg.os, "cpu_count", lambda: 2)
    a, b = (100, 50, 1.0, 10.0, 0.9), (110, 52.5, 1.05, 10.05, 0.93)
    assert fg.busy_cpus(a, b) == pytest.approx(0.5)
    assert fg.busy_cpus(None, b) == 0.0 and fg.busy_cpus(a, None) == 0.0
    assert fg.helper_cpus(a, b) == pytest.approx((0.05 - 0.03) / 0.05)


def test_a_window_with_this_process_s_pool_spinning_is_measured_again(monkeypatch):
    """A BLAS pool of this process still spinning takes CPU time from the others, which then look
    idler: a window where others show beside it is measured again.  Scripted snapshots on 3 CPUs:
    the first window (our other threads at 0.5 CPU) reads the others at 0.5 CPU (3 threads), the
    second (quiet) at 1 CPU, which decides: 2 threads.  With every window like the first, the count
    comes after LOAD_TRIES windows; with our pool spinning but no other process, after the first."""
    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf

    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "MIN_PANEL", 2)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 3)
    monkeypatch.setattr(fg.os, "cpu_count", lambda: 3)
    monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    monkeypatch.setattr(fg, "LOAD_WINDOW", 0.0)
    monkeypatch.setattr(fg, "chunk_length", lambda k, n: 8)     # 13 chunks, a window checked before each
    data = _data("synthetic_n>d")
    one = run_gd(data, "logistic", [1.0, 10.0], 100, method="gram", threads=1)
    squeezed = (30, 10, 0.15, 0.1, 0.1)     # 2 of 3 CPUs busy, ours 1.5 (0.5 of it helpers): others 0.5
    alone = (20, 10, 0.15, 0.1, 0.1)        # 1.5 of 3 busy, all ours: others 0
    quiet = (30, 10, 0.1, 0.1, 0.1)         # 2 of 3 busy, ours 1 (no helpers): others 1

    def script(*windows):
        snaps = [(0, 0, 0.0, 0.0, 0.0)]
        for w in windows:
            snaps.append(tuple(a + b for a, b in zip(snaps[-1], w)))
        return snaps
    cases = ((script(squeezed, quiet), 2, 3), (script(*[squeezed] * 8), 3, fg.LOAD_TRIES + 1),
             (script(alone, quiet), 3, 2))
    for snaps, want, used in cases:
        it = iter(snaps)
        monkeypatch.setattr(fg, "cpu_snapshot", lambda: next(it))
        auto = run_gd(data, "logistic", [1.0, 10.0], 100, method="gram")
        assert auto.provenance["engine"]["threads"] == want
        assert len(snaps) - len(list(it)) == used          # snapshots taken: 1 + the windows measured
        assert _all_bytes(auto) == _all_bytes(one)


def test_others_busy_leaves_out_this_process():
    """The load the engine steps back from is other processes': of 2 CPUs busy 75 % of a 50 ms
    window (1.5 CPUs), this process's own threads (say an idle XLA pool still spinning) used
    0.05 CPU-seconds = 1 CPU, so others keep 0.5 CPU busy; clipped to [0, cpus]."""
    from eoscheck.fastgd import others_busy

    assert others_busy(2, 10.0, 2.5, 0.05, 0.05) == pytest.approx(0.5)
    assert others_busy(2, 10.0, 2.5, 0.0, 0.05) == pytest.approx(1.5)
    assert others_busy(2, 10.0, 10.0, 0.05, 0.05) == 0.0       # own time beyond the busy share
    assert others_busy(2, 0.0, 0.0, 0.0, 0.05) == 0.0          # no ticks elapsed: unknown, 0


@pytest.mark.parametrize("threads,loop,gemm", [(1, "compiled", "mkl"), (2, "compiled", "mkl"), (2, "compiled", "openblas"),
                                              (1, "python", "mkl"), (2, "python", "openblas")])
def test_products_only_computes_the_steps_products(monkeypatch, threads, loop, gemm):
    """``FusedBlock.products_only`` (the benchmarks' ceiling of a step) runs the gram form's products
    D_p = Σ_q S_q K[q, p] of the panels, nothing else: after one step D = S·K for S of parity 0.
    Tolerance: each entry is an n-term dot product, so |D − S·K| ≤ γ_n·(|S|·|K|) with
    γ_n = n·u/(1 − n·u) (Higham, Thm 3.5), for both the panel sums and numpy's product, hence 2γ_n."""
    import eoscheck.fastgd as fg
    import eoscheck.steploop as gl
    from eoscheck.gdinputs import resolve_device

    monkeypatch.setattr(gl, "ENABLED", loop == "compiled")
    monkeypatch.setenv("EOSCHECK_GEMM", gemm)
    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 2)
    data = synthetic(300, 200, 0.05, seed=3)
    blk, info = fg.build_block(data, get_loss("logistic"), np.array([1.0, 5.0, 20.0]), None, None, method="gram",
                               backend="numba", device=resolve_device("cpu"), threads=threads)
    assert blk.mode == "blas" and info["panels"] == 2
    # the compiled loop is there wherever it can be (Linux x86-64/aarch64: futexes, and the
    # library's dgemm found); a silent fall-back to the Python loop fails here
    assert info["step_loop"] == ("compiled" if loop == "compiled" and _LINUX64 else "python")
    rng = np.random.default_rng(0)
    blk.S2[0] = rng.standard_normal(blk.S2[0].shape)
    blk.products_only(1, info["threads"])
    D = np.concatenate([P["D"] for P in blk.panels], axis=1)
    n = data.n
    gamma = n * 2.0**-53 / (1 - n * 2.0**-53)
    bound = 2 * gamma * (np.abs(blk.S2[0]) @ np.abs(blk.Kmat))
    assert np.all(np.abs(D - blk.S2[0] @ blk.Kmat) <= bound)
    with pytest.raises(ValueError, match="gram form in BLAS mode"):
        fg.build_block(data, get_loss("logistic"), np.array([1.0]), None, None, method="primal", backend="numba",
                       device=resolve_device("cpu"), threads=1)[0].products_only(1, 1)


@pytest.mark.parametrize("method", ["gram", "primal"])
def test_a_block_with_its_compiled_loop_is_freed_with_its_last_reference(monkeypatch, method):
    """The block holds its compiled loop and the loop only a weak reference to the block: no cycle,
    so the chunk buffers go when the run drops the block, not when the cyclic collector next runs."""
    import gc
    import weakref

    import eoscheck.fastgd as fg
    from eoscheck.gdinputs import resolve_device

    monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
    monkeypatch.setattr(fg, "machine_cpus", lambda: 2)
    blk, info = fg.build_block(synthetic(300, 200, 0.05, seed=3), get_loss("logistic"), np.array([1.0, 5.0, 20.0]), None,
                               None, method=method, backend="numba", device=resolve_device("cpu"), threads=2)
    assert info["step_loop"] == ("compiled" if _LINUX64 else "python") and info["method"] == method
    ref = weakref.ref(blk)
    gc.disable()
    try:
        del blk
        assert ref() is None
    finally:
        gc.enable()


@pytest.mark.parametrize("method, loop", [("gram", "compiled"), ("gram", "python"), ("primal", "compiled"),
                                          ("primal", "python"), ("gram", "small"), ("primal", "small")])
def test_the_fused_block_recomputes_a_slots_q_as_its_step_did(monkeypatch, method, loop):
    """The fused block keeps q of the latest step only; ``FusedBlock.q_row(j, r)`` recomputes any
    slot's (for the rare checks of an overflowing gradient), in the BLAS mode (compiled or Python
    step loop) and the small mode (whole chunks in one compiled call).  Against the step itself: the
    last slot's q is still in the buffer, and must come back bit for bit.  Against an independent
    oracle, the numpy kernel (lossnp) on the same margins: bit for bit where the step took numpy's
    exp (the Python loop); where it took explog's (the compiled loop, the small mode), each exp
    within 1 ulp of the exact value, so ≤ 2 ulps from numpy's, and q = e/(1 + e) or 1/(1 + e)
    (exponential: q = e) adds ≤ 2 roundings: 4 eps relative."""
    import eoscheck.fastgd as fg
    import eoscheck.steploop as gl
    from eoscheck.gdinputs import resolve_device

    monkeypatch.setattr(gl, "ENABLED", loop == "compiled")
    small = loop == "small"
    if not small:
        monkeypatch.setattr(fg, "PANEL_FLOPS", 0)
        monkeypatch.setattr(fg, "machine_cpus", lambda: 2)
    data = synthetic(80, 60, 0.05, seed=3) if small else synthetic(300, 200, 0.05, seed=3)
    for spec in ("logistic", "exponential"):
        blk, info = fg.build_block(data, get_loss(spec), np.array([1.0, 30.0, 300.0]), None, None, method=method,
                                   backend="numba", device=resolve_device("cpu"), threads=2)
        assert blk.mode == ("small" if small else "blas") and blk.Q.shape[0] == 1
        compiled = loop == "compiled" and _LINUX64
        assert small or info["step_loop"] == ("compiled" if compiled else "python")
        steps = min(blk.C, 9)
        with np.errstate(all="ignore"):
            blk.advance(0, steps, np.ones(steps, dtype=bool), 2)
        for r in range(3):
            np.testing.assert_array_equal(blk.q_row(steps - 1, r), blk.Q[0, r])
        kern = kernel_for(get_loss(spec))
        for j in range(steps):
            m = blk.M[j]
            q, cache, le, tmp = (np.empty_like(m) for _ in range(4))
            with np.errstate(all="ignore"):
                kern.q(m, q, cache, le, tmp)
            got = np.array([blk.q_row(j, r) for r in range(blk.k)])
            if not (compiled or small):
                np.testing.assert_array_equal(got, q)
            else:
                assert np.all(np.abs(got - q) <= 4 * np.finfo(float).eps * np.abs(q))


@pytest.mark.parametrize("mode", ["small", "blas"])
@pytest.mark.parametrize("method", ["primal", "gram"])
def test_a_short_run_allocates_a_short_chunk_and_runs_the_same_steps(monkeypatch, mode, method):
    """A run of T steps needs T + 1 slots, so its chunk is capped there (the small mode's default
    chunk is 2¹² slots): the chunks are the same, only the buffers shorter — every record, the
    sharpness checkpoints and the final w bit for bit as with the uncapped chunk, divergence
    included (exponential loss, η = 10⁴ leaves the float range within the run)."""
    import eoscheck.fastgd as fg
    import eoscheck.gdfused as gf
    from eoscheck.gdinputs import resolve_device

    if mode == "blas":
        monkeypatch.setattr(gf, "SMALL_FLOPS", 0)
    data = _data("toy_normalized")
    etas = [0.5, 5.0, 1e4]
    capped = fg._at_most_the_run
    for steps in (0, 1, 7, 40):
        blk, info = fg.build_block(data, get_loss("exponential"), np.array(etas), None, None, method=method,
                                   backend="numba", device=resolve_device("cpu"), threads=1, steps=steps)
        assert blk.mode == mode and blk.C == steps + 1 and blk.M.shape[0] == steps + 2
        kw = dict(method=method, threads=1, sharpness_every=3)
        short = run_gd(data, "exponential", etas, steps, **kw)
        monkeypatch.setattr(fg, "_at_most_the_run", lambda C, s: C)
        long = run_gd(data, "exponential", etas, steps, **kw)
        monkeypatch.setattr(fg, "_at_most_the_run", capped)
        assert long.provenance["engine"]["mode"] == mode
        for key in RECORDED:
            np.testing.assert_array_equal(short.records[key], long.records[key], err_msg=f"{key}, T = {steps}")
        np.testing.assert_array_equal(short.sharpness, long.sharpness)
        for key in ("final_w", "diverged_at"):
            np.testing.assert_array_equal(short.stats[key], long.stats[key])
    assert short.stats["diverged_at"][2] >= 0   # η = 10⁴ left the float range inside the 40 steps


def test_data_whose_gram_matrix_overflows_run_in_the_primal_form():
    """‖xᵢ‖ ≈ 1e155: K = ZZᵀ overflows (entries ≈ 1e310), which the gram form read as a divergence at step 1
    with NaN losses; the run picks the primal form (its losses are the reference's) and an explicit
    method='gram' is refused with one line."""
    base = synthetic(100, 80, 0.1, seed=1)
    data = Dataset(base.X * 1e155, base.y)
    assert choose_method(data.n, data.d, True, base.max_norm) == "gram"
    traj = run_gd(data, "logistic", [1e-310, 1e-300], 5)
    assert traj.provenance["engine"]["method"] == "primal" and (traj.stats["diverged_at"] == -1).all()
    ref = run_gd(data, "logistic", [1e-310, 1e-300], 5, method="reference")
    # the same recursion in the same form (primal) as the reference: equal to the engines' 1e-12 agreement
    np.testing.assert_allclose(traj.loss, ref.loss, rtol=1e-12)
    with pytest.raises(EoscheckError, match="method='gram' forms K = ZZᵀ"):
        run_gd(data, "logistic", [1e-300], 5, method="gram")


@pytest.mark.parametrize("method", ["reference", "primal", "gram"])
def test_log_loss_of_a_subnormal_loss_is_taken_in_the_log_domain(method):
    """One step from w₀ = 0 to margins m = (η/2n)·ZZᵀ1 whose smallest is 740 or 744: L ≈ e⁻⁷⁴⁰ is subnormal
    and keeps a few bits, so ln L came out −740.009 (reference) and −739.997 (primal) for w = (0, 3700) on toy.
    The oracle: ln((1/n)Σ ln(1 + e^{−mᵢ})) in mpmath at 50 digits, on the margins computed here.  Tolerance:
    the engines' margins differ from these by a few ulps of 744 (≈ 1e-13 absolute), which moves ln L by as
    much; log-sum-exp of the ln ℓ(mᵢ) adds ~10 ulps of 744: 1e-15 relative of 744, so 1e-14 relative."""
    import mpmath as mp

    pts = np.array([[1.0, 0.1], [0.8, -0.1], [0.9, 0.05], [0.7, 0.3]])            # ZZᵀ1 > 0: every margin grows
    data = Dataset(np.vstack([pts] * 16), np.ones(64))                             # n = 64: the gram form runs
    Z = data.Z
    base = Z @ (Z.T @ np.full(data.n, 0.5)) / data.n          # m₁ = η·base (ℓ′(0) = −1/2)
    for target in (740.0, 744.0):
        eta = target / base.min()
        traj = run_gd(data, "logistic", [eta], 1, method=method)
        assert traj.provenance["engine"]["method"] == method
        m = eta * base
        with mp.workdps(50):
            want = mp.log(mp.fsum(mp.log1p(mp.exp(-mp.mpf(float(x)))) for x in m) / len(m))
        assert traj.records["log_loss"][0, 1] == pytest.approx(float(want), rel=1e-14)


@pytest.mark.parametrize("method", ["reference", "primal", "gram"])
@pytest.mark.parametrize("scale, eta", [(1.0, 1e160), (1e-200, 1e6)])
def test_norm_records_whose_squares_leave_the_float_range(method, scale, eta):
    """One step from w₀ = 0: w₁ = (η/2n)Σᵢ zᵢ (ℓ′(0) = −½).  At η = 1e160, ‖w₁‖ ≈ 2.7e159 and ‖w₁‖² overflows: the
    records read w_norm = ∞ and norm_margin = −0 with no divergence flagged; with data of norm 1e-200,
    ‖w₁‖ ≈ 2.7e-195 and its square underflows: w_norm read 0.  Oracle: the norm of the exact w₁ in mpmath.
    Tolerance: w₁ is a sum of 64 terms and the scaled norm a few more operations, ≲ 20 ulps: 1e-14 relative; the
    margin divides a 2-term dot product whose value is within ~5× of ‖z‖‖w‖ (toy: no deep cancellation): 1e-13."""
    import mpmath as mp

    data = Dataset(toy().X * scale, toy().y)
    data = Dataset(np.vstack([data.X] * 16), np.concatenate([data.y] * 16))     # n = 64: the gram form runs
    traj = run_gd(data, "logistic", [eta], 1, method=method)
    with mp.workdps(50):
        w1 = [mp.mpf(eta) / (2 * data.n) * mp.fsum(mp.mpf(float(x)) for x in data.Z[:, k]) for k in range(data.d)]
        want = mp.sqrt(mp.fsum(c * c for c in w1))
        margin = min(mp.fsum(mp.mpf(float(a)) * c for a, c in zip(z, w1)) for z in data.Z) / want
    assert traj.stats["diverged_at"][0] == -1
    assert traj.records["w_norm"][0, 1] == pytest.approx(float(want), rel=1e-14)
    assert traj.records["norm_margin"][0, 1] == pytest.approx(float(margin), rel=1e-13)


@pytest.mark.parametrize("method", ["primal", "gram"])
def test_a_gradient_norm_whose_square_underflows_equals_the_reference(method):
    """An exponential-loss run at η = 1200 reaches L ≈ 1e-173, where η²‖∇L‖² underflows: the fast engines recorded
    ‖∇L‖ = 0 (or a value 0.1–0.4 % off) where the reference gives 2.46e-175 — a gradient-norm conjecture could be
    'falsified' on it.  The fast engines now take the norm from ∇L itself there.  Tolerance: the engines' margins
    agree to ≤ 1e-12 relative over 50 steps (the engine-equality rule), and ‖∇L‖ ∝ e^{−m} for margins m ≈ 400
    turns a margin error δm into a relative error δm: 1e-12·400 = 4e-10 at the very worst."""
    data = synthetic(8, 4, 0.5, seed=0)
    ref = run_gd(data, "exponential", [1200.0], 50, method="reference").records["grad_norm"][0]
    fast = run_gd(data, "exponential", [1200.0], 50, method=method).records["grad_norm"][0]
    assert 0 < ref[-1] < 1e-170
    np.testing.assert_allclose(fast, ref, rtol=4e-10)


def test_a_huge_stepsize_runs_in_the_primal_form_whose_state_cannot_overflow_unseen():
    """64 copies of one point, half with each label: ∇L(0) = 0 exactly, w stays 0.  The gram form, chosen for
    n ≥ 64, n ≤ 1.5d, grew its bookkeeping c by η/n·|q| a step: at η = 1e308 c overflowed and ‖w‖ read +inf at
    step 8, with no divergence recorded (the margins M stayed 0).  The automatic choice now keeps such η in the
    primal form."""
    X = np.zeros((64, 64))
    X[:, 0] = 1.0
    d = Dataset(X, np.r_[np.ones(32), -np.ones(32)])
    t = run_gd(d, "logistic", [1e308], 8)
    assert t.provenance["engine"]["method"] == "primal"
    assert t.stats["diverged_at"][0] == -1 and (t.records["w_norm"][0] == 0).all()
    with pytest.raises(EoscheckError, match="method='gram' at η = 1e.308.*use method='primal'"):
        run_gd(d, "logistic", [1e308], 8, method="gram")      # asked for by name: refused, not run unflagged
