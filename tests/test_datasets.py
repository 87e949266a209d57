"""Datasets: validation, certified max margin, built-ins, loaders."""

import gzip
import math
from pathlib import Path

import numpy as np
import pytest
from scipy.optimize import minimize

from eoscheck import Dataset, EoscheckError, digits08, load_file, load_idx, max_margin, read_idx, synthetic, thm3, toy
from eoscheck.datasets import get_dataset, random_hyperplane

FASHION = Path("/usr/share/datasets/fashion-mnist")


def test_toy_max_margin_is_0_2_along_e2():
    mm = toy().max_margin()
    assert abs(mm.gamma - 0.2) < 1e-12
    assert np.allclose(mm.w_star, [0.0, 1.0], atol=1e-12)
    assert abs(toy().max_norm - math.hypot(2, 0.2)) < 1e-15


def test_toy_normalized_scales_margin_and_records_it():
    data = toy(normalized=True)
    assert abs(data.max_norm - 1.0) < 1e-15
    assert abs(data.gamma - 0.2 / math.hypot(2, 0.2)) < 1e-12  # ≈ 0.0995, paper §11.9
    assert data.meta["normalized"] and data.meta["scale"] == pytest.approx(1 / math.hypot(2, 0.2))


@pytest.mark.parametrize("gamma", [0.001, 0.01, 0.05, 0.09])
def test_thm3_margin_is_gamma(gamma):
    data = thm3(gamma)
    assert abs(data.gamma - gamma) < 1e-12
    assert np.allclose(data.w_star, [1.0, 0.0], atol=1e-10)
    assert data.max_norm <= 1 + 1e-15


def _slsqp_margin(Z):
    """Independent: min ‖Zᵀα‖ over the simplex with SLSQP (≈1e-7 accurate)."""
    n = Z.shape[0]
    res = minimize(lambda a: np.sum((Z.T @ a) ** 2), np.full(n, 1 / n), jac=lambda a: 2 * Z @ (Z.T @ a),
                   bounds=[(0, 1)] * n, constraints=[{"type": "eq", "fun": lambda a: a.sum() - 1}],
                   method="SLSQP", options={"ftol": 1e-16, "maxiter": 2000})
    return math.sqrt(res.fun)


@pytest.mark.parametrize("shift", [3.0, 1.5])
@pytest.mark.parametrize("seed", range(5))
def test_max_margin_matches_an_independent_qp_and_is_certified(seed, shift):
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((30, 4)) + np.array([shift, 0, 0, 0])
    mm = max_margin(Z)
    if not mm.separable:  # 0 ∈ conv{z_i}: the independent QP must find distance ≈ 0 too
        assert _slsqp_margin(Z) < 1e-6
        return
    assert abs(np.linalg.norm(mm.w_star) - 1) < 1e-12
    assert (Z @ mm.w_star).min() >= mm.gamma - 1e-15  # valid margin by construction
    assert mm.gap < 1e-9  # weak duality: the true max margin lies in [gamma, gamma + gap]
    assert abs(mm.gamma - _slsqp_margin(Z)) < 1e-6


@pytest.mark.parametrize("n,d,gamma", [(50, 5, 0.1), (200, 30, 0.01), (20, 100, 0.3)])
def test_synthetic_has_prescribed_margin_and_norm_bound(n, d, gamma):
    data = synthetic(n, d, gamma, seed=3)
    assert data.n == n and data.d == d
    assert data.max_norm <= 1 + 1e-12
    assert abs(data.gamma - gamma) < 1e-9
    assert set(np.unique(data.y)) <= {-1.0, 1.0}


@pytest.mark.parametrize("n,d", [(1, 3), (1, 1), (6, 1)])
def test_synthetic_margin_is_gamma_for_one_point_or_one_dimension(n, d):
    """The two-point pinning needs n ≥ 2 and d ≥ 2; otherwise the point γw* pins the margin (before:
    synthetic(1, 3, 0.2) had max margin 0.742).  Certified: γ* to the certificate's gap (≤ 1e-9)."""
    data = synthetic(n, d, 0.2, seed=3)
    assert data.max_norm <= 1 + 1e-12
    assert abs(data.gamma - 0.2) < 1e-9


def test_synthetic_is_seeded():
    assert np.array_equal(synthetic(30, 4, 0.1, seed=7).X, synthetic(30, 4, 0.1, seed=7).X)
    assert not np.array_equal(synthetic(30, 4, 0.1, seed=7).X, synthetic(30, 4, 0.1, seed=8).X)


def test_digits08_is_real_and_separable():
    data = digits08()
    assert (data.n, data.d) == (352, 64)
    assert (data.y == 1).sum() == 178 and (data.y == -1).sum() == 174
    assert data.X.max() == 16 and data.X.min() == 0
    mm = data.max_margin()
    assert mm.separable and mm.gap < 1e-9
    assert (data.Z @ mm.w_star).min() > 0


def test_non_separable_data_are_detected():
    """0 ∈ conv{zᵢ}: the computed min-norm point is 0, whose exact combination Σλᵢzᵢ may be off by its
    rounding, (n+1)·u·R; so the certificate says γ* ∈ [0, gap] with gap = maxmargin.duality_upper(0, n, d, R)
    = 2(n+2)·ε·R, the interval the message quotes (it said "0 lies in conv", more than rounding lets it know)."""
    X = np.array([[1.0, 0.0], [-1.0, 0.0], [0.0, 1.0]])
    data = Dataset(X, np.ones(3), name="xor-ish")
    assert not data.separable
    assert data.max_margin().gap == 2 * (3 + 2) * np.finfo(float).eps * 1.0
    with pytest.raises(EoscheckError, match=r"not certified linearly separable through the origin \(its max margin "
                                            r"γ\* lies in \[0, 2.22e-15\]"):
        data.require_separable()


@pytest.mark.parametrize(
    "X,y,msg",
    [
        (np.array([[1.0, np.nan]]), np.array([1.0]), "NaN"),
        (np.ones((2, 2)), np.array([0.0, 1.0]), "labels"),
        (np.ones((3, 2)), np.ones(2), "one label per row"),
        (np.ones((2, 2, 2)), np.ones(2), "2-D"),
        (np.zeros((0, 2)), np.zeros(0), "no samples"),
    ],
)
def test_validation_errors(X, y, msg):
    with pytest.raises(EoscheckError, match=msg):
        Dataset(X, y)


def test_load_npz_and_csv(tmp_path):
    X = np.array([[0.5, 0.1], [-0.2, 0.3]])
    y = np.array([1.0, -1.0])
    np.savez(tmp_path / "d.npz", X=X, y=y)
    assert np.array_equal(load_file(tmp_path / "d.npz").X, X)
    (tmp_path / "d.csv").write_text("a,b,y\n0.5,0.1,1\n-0.2,0.3,-1\n")
    data = load_file(tmp_path / "d.csv")
    assert np.array_equal(data.X, X) and np.array_equal(data.y, y)
    (tmp_path / "bad.csv").write_text("0.5,0.1,2\n")
    with pytest.raises(EoscheckError, match="labels"):
        load_file(tmp_path / "bad.csv")
    with pytest.raises(EoscheckError, match="not found"):
        load_file(tmp_path / "missing.npz")
    np.savez(tmp_path / "wrong.npz", A=X)
    with pytest.raises(EoscheckError, match="X and y"):
        load_file(tmp_path / "wrong.npz")


def _write_idx(path, arr, code=0x08):
    header = bytes([0, 0, code, arr.ndim]) + b"".join(int(s).to_bytes(4, "big") for s in arr.shape)
    path.write_bytes(header + arr.astype(">u1").tobytes())


def test_idx_roundtrip_and_errors(tmp_path):
    imgs = np.arange(5 * 2 * 3, dtype=np.uint8).reshape(5, 2, 3)
    labels = np.array([0, 8, 3, 0, 8], dtype=np.uint8)
    _write_idx(tmp_path / "img", imgs)
    _write_idx(tmp_path / "lab", labels)
    assert np.array_equal(read_idx(tmp_path / "img"), imgs)
    data = load_idx(tmp_path / "img", tmp_path / "lab", n=None)
    assert data.n == 4 and data.d == 6
    assert np.array_equal(data.y, [1, -1, 1, -1])
    assert np.array_equal(data.X[1], imgs[1].ravel())
    with pytest.raises(EoscheckError, match="a labels file"):      # the two files swapped, or labels twice
        load_idx(tmp_path / "lab", tmp_path / "img", n=None)
    with pytest.raises(EoscheckError, match="a labels file"):
        load_idx(tmp_path / "lab", tmp_path / "lab", n=None)
    with pytest.raises(EoscheckError, match="an images file"):
        load_idx(tmp_path / "img", tmp_path / "img", n=None)
    # --data idx is named after its files, not "mnist08" (it was, in run.json and the figure's title)
    idx = get_dataset("idx", images=str(tmp_path / "img"), labels=str(tmp_path / "lab"))
    assert idx.name == "idx08(img)" and idx.n == 4
    (tmp_path / "bad").write_bytes(b"\x01\x02\x03\x04")
    with pytest.raises(EoscheckError, match="not an IDX"):
        read_idx(tmp_path / "bad")
    (tmp_path / "short").write_bytes((tmp_path / "img").read_bytes()[:-3])
    with pytest.raises(EoscheckError, match="truncated"):
        read_idx(tmp_path / "short")
    flab = np.array([0.5, 8.0, 3.0, 0.0, 8.0])                      # float32 labels (idx type 0x0D): 0.5 was class 0
    (tmp_path / "flab").write_bytes(bytes([0, 0, 0x0D, 1]) + (5).to_bytes(4, "big") + flab.astype(">f4").tobytes())
    with pytest.raises(EoscheckError, match="whole class numbers"):
        load_idx(tmp_path / "img", tmp_path / "flab", n=None)
    # one class only: all y = +1 is no binary problem (it loaded as one, with no word said)
    with pytest.raises(EoscheckError, match="no sample of class 8 in the first 1 samples"):
        load_idx(tmp_path / "img", tmp_path / "lab", n=1)
    with pytest.raises(EoscheckError, match="no sample of class 5 in"):
        load_idx(tmp_path / "img", tmp_path / "lab", classes=(0, 5), n=None)
    with pytest.raises(EoscheckError, match="must differ"):
        load_idx(tmp_path / "img", tmp_path / "lab", classes=(8, 8), n=None)
    assert load_idx(tmp_path / "img", tmp_path / "lab", n=2).n == 2      # the first of each class: both present
    _write_idx(tmp_path / "img0", np.zeros((0, 2, 3), dtype=np.uint8))  # empty files: refused, not a 0-row set
    _write_idx(tmp_path / "lab0", np.zeros(0, dtype=np.uint8))
    with pytest.raises(EoscheckError, match="no samples with labels"):
        load_idx(tmp_path / "img0", tmp_path / "lab0", n=None)


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_idx_loader_on_real_fashion_mnist_files():
    images, labels = FASHION / "t10k-images-idx3-ubyte.gz", FASHION / "t10k-labels-idx1-ubyte.gz"
    data = load_idx(images, labels, classes=(0, 8), n=1000)
    assert (data.n, data.d) == (1000, 784)
    # independent parse: IDX headers are 16 (images) and 8 (labels) bytes
    raw_img = np.frombuffer(gzip.open(images).read()[16:], dtype=np.uint8).reshape(-1, 784)
    raw_lab = np.frombuffer(gzip.open(labels).read()[8:], dtype=np.uint8)
    keep = np.flatnonzero((raw_lab == 0) | (raw_lab == 8))[:1000]
    assert np.array_equal(data.X, raw_img[keep].astype(float))
    assert np.array_equal(data.y, np.where(raw_lab[keep] == 0, 1.0, -1.0))


# --- loader robustness (issue 14): one EoscheckError line, never a traceback or a silent cast ---------

def test_read_idx_reads_only_what_the_header_announces(tmp_path):
    import struct

    from eoscheck import EoscheckError

    head = bytes([0, 0, 0x08, 2]) + struct.pack(">II", 2, 2)
    p = tmp_path / "bomb.idx.gz"
    p.write_bytes(gzip.compress(head + bytes(4) + bytes(10_000_000)))  # 10 MB of trailing zeros
    with pytest.raises(EoscheckError, match="trailing data"):
        read_idx(p)
    ok = tmp_path / "ok.idx.gz"
    ok.write_bytes(gzip.compress(head + bytes([1, 2, 3, 4])))
    np.testing.assert_array_equal(read_idx(ok), [[1, 2], [3, 4]])


def test_load_file_refuses_complex_and_featureless_data_instead_of_casting(tmp_path):
    from eoscheck import EoscheckError

    np.savez(tmp_path / "c.npz", X=np.ones((2, 2)) * (1 + 1j), y=np.array([1.0, -1.0]))
    np.savez(tmp_path / "e.npz", X=np.zeros((5, 0)), y=np.ones(5))
    with pytest.raises(EoscheckError, match="complex"):
        load_file(tmp_path / "c.npz")
    with pytest.raises(EoscheckError, match="no features"):
        load_file(tmp_path / "e.npz")


def test_get_dataset_refuses_nonpositive_sizes_instead_of_defaulting():
    from eoscheck import EoscheckError, get_dataset

    for kw in ({"n": 0}, {"d": 0}, {"n": -3}, {"seed": -1}, {"gamma": float("nan")}):
        with pytest.raises(EoscheckError):
            get_dataset("synthetic", **kw)
    data = get_dataset("synthetic")  # unspecified sizes keep their documented defaults
    assert (data.n, data.d) == (100, 10)


# --- the certified max margin on hard instances (many support vectors) ------------------------


def _clarabel_upper(Z):
    """Independent: the dual QP min ½‖Zᵀα‖² over the simplex by Clarabel (interior point), its α
    projected back onto the simplex, so ‖Zᵀα‖ is an exact upper bound on the max margin."""
    qpsolvers = pytest.importorskip("qpsolvers")
    from scipy.sparse import csc_matrix

    n = Z.shape[0]
    a = qpsolvers.solve_qp(csc_matrix(Z @ Z.T), np.zeros(n), A=csc_matrix(np.ones((1, n))), b=np.array([1.0]),
                           lb=np.zeros(n), solver="clarabel")
    a = np.clip(a, 0, None)
    return float(np.linalg.norm(Z.T @ (a / a.sum())))


def _check_certificate(data, mm):
    """The certificate's own claims, re-derived from the data: w* unit, γ = minᵢ fl(⟨zᵢ, w*⟩) − 2(d+2)·ε·R (the
    rounding allowance of eoscheck.maxmargin's docstring, re-typed here as the oracle)."""
    assert abs(np.linalg.norm(mm.w_star) - 1) < 1e-14  # a normalised vector: a few ulps
    allowance = 2 * (data.d + 2) * np.finfo(float).eps * data.max_norm
    # γ is recomputed in another summation order: ⟨zᵢ, w⟩ is off by ≲ d·ε·‖zᵢ‖ per row.
    assert abs((data.Z @ mm.w_star).min() - allowance - mm.gamma) <= data.d * 2.3e-16 * data.max_norm


@pytest.mark.parametrize("n,d,seed", [(300, 100, 1), (1000, 784, 0)])
def test_max_margin_with_hundreds_of_support_vectors_is_certified(n, d, seed):
    data = random_hyperplane(n, d, seed)
    mm = data.max_margin()
    _check_certificate(data, mm)
    assert len(mm.support) >= min(n, d) // 4  # the hard case: many support vectors (534 for 1000 × 784)
    assert mm.gap <= 1e-9 * max(1.0, mm.gamma)
    up = _clarabel_upper(data.Z)
    # Weak duality makes ‖Zᵀα‖ ≥ γ* ≥ γ for any α in the simplex: exact up to the rounding of the
    # two norms (≲ 1e-15 at these magnitudes).  Clarabel stops at objective gap 1e-8 (absolute and
    # relative) on ½‖p‖², so its ‖p‖ exceeds γ* by ≲ 1e-8/γ*; 2e-8/γ leaves a factor 2.
    assert mm.gamma <= up + 1e-15
    assert up - (mm.gamma + mm.gap) <= 2e-8 / mm.gamma


@pytest.mark.skipif(not FASHION.is_dir(), reason="Debian package dataset-fashion-mnist not installed")
def test_max_margin_on_real_fashion_mnist_pullover_vs_coat():
    data = load_idx(FASHION / "train-images-idx3-ubyte.gz", FASHION / "train-labels-idx1-ubyte.gz",
                    classes=(2, 4), n=1000)
    mm = data.max_margin()
    _check_certificate(data, mm)
    assert len(mm.support) >= 300  # 339 support vectors in the raw pixels
    assert mm.separable and mm.gap <= 1e-9 * max(1.0, mm.gamma)
    assert mm.gamma <= _clarabel_upper(data.Z / data.max_norm) * data.max_norm * (1 + 1e-15)


# --- the solver's two forms and its factor update ------------------------------------------------


def test_the_gram_form_and_the_points_form_certify_the_same_margin(monkeypatch):
    """Both forms end in certificates [γ, γ + gap] of the same γ*, so the two intervals must meet;
    the run with K = ZZᵀ allowed must have used it (300 points: the switch after 37 steps, of ~100)
    and handed back to the points form before stopping (only that form declares convergence)."""
    from eoscheck import maxmargin

    data = random_hyperplane(300, 100, 1)
    used = []
    for name in ("use_gram", "use_points"):
        real = getattr(maxmargin._ActiveSet, name)
        monkeypatch.setattr(maxmargin._ActiveSet, name,
                            lambda self, real=real, name=name: (used.append(name), real(self)))
    gram = maxmargin.max_margin(data.Z)
    assert used == ["use_gram", "use_points"]
    monkeypatch.setattr(maxmargin, "GRAM_ENTRIES", 0)
    points = maxmargin.max_margin(data.Z)
    assert used == ["use_gram", "use_points"]  # the points form alone this time
    for mm in (gram, points):
        _check_certificate(data, mm)
        assert mm.gap <= 1e-9 * max(1.0, mm.gamma)
    assert max(gram.gamma, points.gamma) <= min(gram.gamma + gram.gap, points.gamma + points.gap)
    assert np.array_equal(gram.support, points.support)


@pytest.mark.parametrize("k,i", [(1, 0), (2, 0), (2, 1), (9, 0), (9, 4), (9, 8), (40, 13)])
def test_deleting_a_column_of_the_packed_factor_retriangularises_it(k, i):
    """Oracle: scipy's qr_delete of the same column, rows compared up to sign (a QR factor is unique
    up to the signs of its rows), and the invariant R'ᵀR' = R₋ᵢᵀR₋ᵢ.  Each of the ≤ k rotations a
    column passes is orthogonal to within a few ε, so both agree to c·k·ε·‖R‖ (resp. c·k·ε·‖R‖²);
    c = 1 here, where the largest c seen was 0.39 (400 random factors, k ≤ 79, every 5th column)."""
    from scipy.linalg import qr_delete
    from scipy.linalg.lapack import dtpttr, dtrttp

    from eoscheck.maxmargin import _compiled_drop_column

    rng = np.random.default_rng(k + i)
    A = rng.standard_normal((k, k + 3))
    R = np.linalg.cholesky(A @ A.T + 1.0).T                       # upper, positive diagonal
    ap = np.concatenate([dtrttp(np.asfortranarray(R), uplo="U")[0], np.full(5, np.nan)])
    _compiled_drop_column()(ap, k, i, *np.empty((3, k)))
    assert np.isnan(ap[-5:]).all()                                 # nothing written past the factor
    m = k - 1
    got = np.triu(dtpttr(m, ap[: m * (m + 1) // 2], uplo="U")[0]) if m else np.zeros((0, 0))
    want = qr_delete(np.eye(k), R, i, 1, which="col")[1][:m]
    tol = k * np.finfo(float).eps * np.linalg.norm(R, 2)
    assert np.all(np.diag(got) > 0)
    assert np.abs(np.abs(got) - np.abs(want)).max(initial=0.0) <= tol
    Rm = np.delete(R, i, axis=1)
    assert np.abs(got.T @ got - Rm.T @ Rm).max(initial=0.0) <= tol * np.linalg.norm(R, 2)


@pytest.mark.parametrize("scale", [1e155, 1e-200, 1e300])
def test_max_margin_and_normalize_at_the_ends_of_the_float_range(scale):
    """toy scaled by 1e155, 1e-200 or 1e300: max‖zᵢ‖ squared leaves the float range (the certificate said
    "γ* ∈ [−0, −0]: not separable", and normalize returned zeros or "all points are zero"); the margin
    is 0.2·scale along e₂.  Tolerance: the scaled problem is toy's times a number, so the margin is toy's to
    the rounding of a unit vector and one product (a few ulps): 1e-14 relative."""
    X, y = toy().X * scale, toy().y
    mm = max_margin(X * y[:, None])
    # the certified lower end sits 2(d+2)·ε·R below the computed margin (R = ‖(2, 0.2)‖·scale, d = 2)
    assert mm.separable and mm.gamma == pytest.approx(0.2 * scale - 8 * np.finfo(float).eps * math.hypot(2, 0.2) * scale,
                                                      rel=1e-14)
    assert mm.gamma <= 0.2 * scale <= mm.gamma + mm.gap
    assert mm.gap <= 1e-12 * mm.gamma
    np.testing.assert_allclose(mm.w_star, [0.0, 1.0], atol=1e-15)
    np.testing.assert_allclose(Dataset(X, y).normalize().X, toy().normalize().X, rtol=1e-14)
    assert Dataset(X, y).max_norm == pytest.approx(scale * toy().max_norm, rel=1e-15)


def test_a_small_margin_is_not_certified_away():
    """z = (±1, 1e-13): separable by e₂ with margin 1e-13, which the certificate called "γ* ∈ [−0, −0]"
    (any ‖p‖ ≤ 1e-12 was read as 0 ∈ conv{zᵢ}); and {z, −z}, where 0 ∈ conv{zᵢ}: γ* = 0, and the interval
    given must contain it.  The interval must contain the true margin in both cases."""
    mm = max_margin(np.array([[1.0, 1e-13], [-1.0, 1e-13]]))
    assert mm.separable and mm.gamma == pytest.approx(1e-13, rel=1e-12)
    assert mm.gamma <= 1e-13 <= mm.gamma + mm.gap * (1 + 1e-12) + 1e-28
    mm = max_margin(np.array([[1.0, 0.3], [-1.0, -0.3], [0.2, 1.0]]))
    assert not mm.separable and mm.gamma <= 0.0 <= mm.gamma + mm.gap
    assert not np.any(mm.w_star)


@pytest.mark.parametrize("call, says", [
    (lambda: max_margin(toy()), r"^max_margin takes the signed points Z = y\[:, None\]\*X; for a dataset use "),
    (lambda: max_margin(np.array([[np.nan, 1.0], [0.5, 0.2]])), "NaN or infinite"),
    (lambda: max_margin(np.array([1.0, 2.0])), r"one \(n, d\) array, got shape \(2,\)"),
    (lambda: max_margin([[1.0, "a"]]), "one \\(n, d\\) array of numbers"),
])
def test_max_margin_refuses_what_is_not_signed_points_in_one_line(call, says):
    """max_margin(toy()) failed in float(); NaN points returned γ = −0 with a NaN gap and no error."""
    with pytest.raises(EoscheckError, match=says):
        call()


def test_max_margin_takes_its_tolerances_by_keyword_only():
    """max_margin(X, y) read y as the tolerance and failed deep inside numpy on a broadcast."""
    with pytest.raises(TypeError, match="positional"):
        max_margin(toy().X, toy().y)


def test_the_certificate_holds_when_the_min_norm_point_is_tiny():
    """Z = {1e-200, 1}: γ* = 1e-200, and ‖p‖ = 1e-200 squared alone underflowed: the certificate read γ* ∈ [0, 0],
    which excludes the true margin.  The interval must contain it."""
    for tiny in (1e-200, 1e-160):
        mm = max_margin(np.array([[tiny], [1.0]]))
        assert mm.gamma <= tiny <= mm.gamma + mm.gap


def test_uncertified_separability_is_not_called_non_separability():
    """Z = {(1, 0), (−1, 1e-8), (0, 1)} is separable (γ* = 5e-9 by w ∝ (5e-9, 1)), but Wolfe's min-norm point
    ‖p‖ = 5e-9 is too small for its direction to certify it; require_separable said "0 lies in conv{y_i x_i}",
    which is false.  It says what the certificate says: γ* ∈ [0, gap]."""
    data = Dataset(np.array([[1.0, 0.0], [-1.0, 1e-8], [0.0, 1.0]]), np.ones(3), name="thin")
    mm = data.max_margin()
    assert mm.gamma <= 5e-9 <= mm.gamma + mm.gap
    if not mm.separable:
        with pytest.raises(EoscheckError, match=r"thin is not certified linearly separable through the origin "
                                                r"\(its max margin γ\* lies in \[0, 5e-09\]"):
            data.require_separable()


def test_the_certificate_holds_in_exact_arithmetic_on_segments_at_any_scale():
    """Two points z₁ = (a, b₁), z₂ = (a, −b₂) (a, b₁, b₂ > 0): conv{z₁, z₂} is a vertical segment through the
    x-axis, so γ* = a exactly.  The reviewer's case (a = 2e7, b = 1e8, 2e8) gave γ + gap = 2e7 − 6.7e-9, below γ*,
    and 471 of 1500 random sets a γ above the exact margin of w*/‖w*‖ (by ~2e-16 relative): the certificate had
    no allowance for its own rounding.  Checked here in exact rationals: γ ≤ a ≤ γ + gap, and the exact margin
    of w* is ≥ γ·‖w*‖ (compared squared, both sides ≥ 0)."""
    from fractions import Fraction as F

    rng = np.random.default_rng(4)
    cases = [(0.2e8, 1e8, 2e8)] + [tuple(rng.uniform(0.1, 1.0, 3) * 10.0 ** rng.uniform(-10, 10)) for _ in range(300)]
    for a, b1, b2 in cases:
        Z = np.array([[a, b1], [a, -b2]])
        mm = max_margin(Z)
        assert mm.separable
        assert F(mm.gamma) <= F(a) <= F(mm.gamma) + F(mm.gap), (a, b1, b2)
        w = [F(x) for x in mm.w_star]
        exact = min(F(z[0]) * w[0] + F(z[1]) * w[1] for z in Z)
        assert exact > 0 and exact * exact >= F(mm.gamma) ** 2 * (w[0] ** 2 + w[1] ** 2), (a, b1, b2)


@pytest.mark.parametrize("gamma", [1e-9, 1e-12])
def test_data_separable_by_construction_with_a_tiny_margin_are_certified_so(gamma):
    """synthetic(200, 10, 1e-9) is separable with margin 1e-9 along its meta w* by construction, but
    Wolfe's min-norm point p = Σλz cancels to a few ulps, its direction was off by ~ε/γ, and the data were
    called "not separable (certified γ* = 0)".  The support set's min-norm solution of ⟨z_s, w⟩ = 1 gives the
    margin back: separable, with an interval that holds the margin of the construction's direction (up to
    the 2(d+2)·ε·R allowance of the certificate, ≤ 1e-13 here)."""
    data = synthetic(200, 10, gamma, seed=0)
    ws = np.asarray(data.meta["w_star"])
    known = float((data.Z @ ws).min() / np.linalg.norm(ws))   # a margin of the data, γ* ≥ it
    mm = data.max_margin()
    assert mm.separable
    assert mm.gamma >= known - 1e-13 and mm.gamma + mm.gap >= known


def test_csv_cells_that_are_not_numbers_are_refused_not_read_as_a_header(tmp_path):
    """An empty cell, the letter O for a zero, or 1_0 (Python's float reads 10) in the first row made that
    row a "header" and dropped it; 1_0 in a later row was read as 10."""
    cases = {"empty": "1,,1\n0,1,-1\n1,1,1\n", "letter": "O,1,-1\n0,1,-1\n1,1,1\n",
             "underscore": "x1,x2,y\n1_0,1,-1\n1,1,1\n"}
    for name, text in cases.items():
        (tmp_path / f"{name}.csv").write_text(text)
        with pytest.raises(EoscheckError, match="non-numeric value"):
            load_file(tmp_path / f"{name}.csv")
    (tmp_path / "ok.csv").write_text("x1,x2,y\n0,1,-1\n1,1,1\n")
    assert load_file(tmp_path / "ok.csv").n == 2


@pytest.mark.parametrize("text, names, values", [("y,x1\n1,0.5,0.2\n-1,-0.5,-0.1\n", 2, 3),
                                                  ("a,y\n0.5,0.2,1\n-0.5,-0.1,-1\n", 2, 3),
                                                  ("x1,x2,x3,y\n0.5,1\n-0.5,-1\n", 4, 2),
                                                  ("y,x1,x2\n1,0.5\n-1,-0.5\n", 3, 2)])
def test_a_csv_header_of_another_width_than_its_rows_is_refused(tmp_path, text, names, values):
    """y,x1 over 3-value rows ran with d = 2 (a feature without a name); a,y over them took column 2 as the
    labels ("labels must be -1 or +1"); x1,x2,x3,y over 2-value rows raised numpy's IndexError; y,x1,x2 over
    them ran with d = 1."""
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(EoscheckError, match=f"the header has {names} names but the rows have {values} values"):
        load_file(tmp_path / "d.csv")
    (tmp_path / "r.csv").write_text("x1,x2,y\n0.5,0.2,1\n-0.5,-1\n")     # ragged rows: still named as such
    with pytest.raises(EoscheckError, match="row 3 has 2 columns, the first has 3"):
        load_file(tmp_path / "r.csv")


def test_featureless_data_and_empty_point_sets_are_refused_in_one_line():
    """Dataset(np.zeros((3, 0)), y) was accepted (an idx file of shape (20, 0) trained GD with d = 0), and
    max_margin of no points raised numpy's "argmin of an empty sequence"."""
    with pytest.raises(EoscheckError, match="no features"):
        Dataset(np.zeros((3, 0)), np.ones(3))
    with pytest.raises(EoscheckError, match="no points"):
        max_margin(np.zeros((0, 2)))


def test_normalize_reaches_the_unit_ball_on_subnormal_data():
    """Points at 1e-320 (subnormal): dividing by the max norm alone left max‖x‖ = 1.0000135; by max|xᵢⱼ|
    first, the norms are those of normal numbers, within a few ulps of 1."""
    X = np.array([[1e-320, 2e-320], [3e-320, -1e-320]])
    data = Dataset(X, np.array([1.0, -1.0])).normalize()
    assert abs(data.max_norm - 1.0) <= 4 * np.finfo(float).eps


@pytest.mark.parametrize("text, shown", [("1;2;1\n-1;0.5;-1\n", "';'"), ("x1\tx2\ty\n1\t2\t1\n", "tabs")])
def test_a_csv_with_another_separator_is_named(tmp_path, text, shown):
    """1;2;1 / -1;0.5;-1: the first row, one non-numeric cell, was dropped as a header and the second refused as
    "non-numeric value '-1;0.5;-1'", with no word of the separator."""
    (tmp_path / "d.csv").write_text(text)
    with pytest.raises(EoscheckError, match=f"separate values with {shown}; eoscheck reads comma-separated"):
        load_file(tmp_path / "d.csv")


def test_row_norms_are_row_norm_max_row_by_row():
    """The GD records' batched fallback (``row_norms``) gives each row the bits the single-row ``row_norm_max`` gives
    it — scaled by the row's own largest entry, so 1e200 and 1e-200 rows keep their norm — and 0, ∞, NaN for a
    zero row, a row holding ∞, one holding NaN."""
    from eoscheck.maxmargin import row_norm_max, row_norms

    rng = np.random.default_rng(0)
    Z = rng.standard_normal((40, 7)) * 10.0 ** rng.integers(-300, 300, size=(40, 1))
    Z[3] = 0.0
    Z[5, 2] = np.inf
    Z[6, 4] = np.nan
    got = row_norms(Z)
    want = np.array([row_norm_max(Z[i:i + 1]) for i in range(len(Z))])
    assert np.array_equal(got, want, equal_nan=True)
    assert got[3] == 0.0 and got[5] == np.inf and np.isnan(got[6]) and np.isfinite(np.delete(got, [5, 6])).all()
    # against hypot (≤ 1 ulp): d = 7 scaled entries (1 rounding each), their squares (1) and 6 additions: ≤ 20u on
    # the sum, ≤ 10u on its square root, + 1.5u for the root and the scaling back: ≤ 12u ≈ 1.3e-15, 2.8e-15 allowed
    assert got[0] == pytest.approx(math.hypot(*Z[0]), rel=4e-16 * 7)
    assert row_norms(np.zeros((2, 0))).tolist() == [0.0, 0.0]
