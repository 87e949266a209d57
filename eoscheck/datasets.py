"""Binary classification datasets (xᵢ, yᵢ ∈ {±1}) and their max-margin geometry.

Assumption 1 of Wu et al. (COLT 2024): ‖xᵢ‖ ≤ 1 and some unit w* has
⟨yᵢxᵢ, w*⟩ ≥ γ > 0 for all i.  :meth:`Dataset.max_margin` computes the
max-margin pair (γ*, w*) with its certificate (:mod:`eoscheck.maxmargin`):
the γ* returned is minᵢ⟨yᵢxᵢ, w*⟩ for the returned unit w*, so it is always a
*valid* margin, and the duality gap to ‖p*‖ bounds its distance to the true
max margin.
"""

from __future__ import annotations

import csv
import gzip
import math
import struct
import zipfile
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ._errors import EoscheckError
from .maxmargin import MaxMargin, max_margin, row_norm_max


#: The largest maxᵢ‖xᵢ‖ read as inside Assumption 1A's unit ball: :meth:`Dataset.normalize` divides by the max
#: norm, which leaves it within a few ulps of 1 (the rest of the slack is room, far below any real excess).
UNIT_BALL = 1 + 1e-12


@dataclass(frozen=True, eq=False)
class Dataset:
    """Validated data: ``X`` (n, d) finite floats, ``y`` (n,) in {±1}.

    Construction raises :class:`EoscheckError` with one clear line for bad
    input.  ``meta`` records where the data came from and any rescaling.
    """

    X: np.ndarray
    y: np.ndarray
    name: str = "data"
    meta: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        try:
            X = np.asarray(self.X)
            y = np.asarray(self.y)
        except ValueError:        # ragged rows: numpy refuses an inhomogeneous shape
            raise EoscheckError(f"{self.name}: X and y must be rectangular arrays (every row of X the same "
                                "length)") from None
        if np.iscomplexobj(X) or np.iscomplexobj(y):
            raise EoscheckError(f"{self.name}: X and y must be real numbers, got complex values")
        if X.ndim == 1:
            X = X[:, None]
        if X.ndim != 2:
            raise EoscheckError(f"{self.name}: X must be a 2-D array (n samples × d features), got shape {X.shape}")
        if X.shape[0] == 0:
            raise EoscheckError(f"{self.name}: no samples")
        if X.shape[1] == 0:
            raise EoscheckError(f"{self.name}: no features (X has shape {X.shape}); pass at least one column")
        if y.ndim != 1 or y.shape[0] != X.shape[0]:
            raise EoscheckError(f"{self.name}: y must have one label per row of X ({X.shape[0]}), got shape {y.shape}")
        try:
            X = X.astype(np.float64)
            y = y.astype(np.float64)
        except (TypeError, ValueError):
            raise EoscheckError(f"{self.name}: X and y must be numeric") from None
        if not np.all(np.isfinite(X)):
            bad = int(np.argwhere(~np.isfinite(X))[0, 0])
            raise EoscheckError(f"{self.name}: X has a NaN or infinite value (row {bad}); clean the data first")
        if not np.all(np.isin(y, (-1.0, 1.0))):
            bad = ", ".join(f"{v:g}" for v in sorted(set(np.unique(y).tolist()) - {-1.0, 1.0})[:3])
            raise EoscheckError(f"{self.name}: labels must be -1 or +1, found {bad}; map your classes to ±1")
        X.setflags(write=False)
        y.setflags(write=False)
        object.__setattr__(self, "X", X)
        object.__setattr__(self, "y", y)
        object.__setattr__(self, "meta", dict(self.meta))
        object.__setattr__(self, "_mm", None)

    @property
    def n(self) -> int:
        return self.X.shape[0]

    @property
    def d(self) -> int:
        return self.X.shape[1]

    @property
    def Z(self) -> np.ndarray:
        """The signed points zᵢ = yᵢxᵢ (margins are Z w)."""
        return self.y[:, None] * self.X

    @property
    def max_norm(self) -> float:
        """maxᵢ ‖xᵢ‖ (Assumption 1A asks for ≤ 1), without overflow or underflow of the squares."""
        return row_norm_max(self.X)

    def max_margin(self) -> MaxMargin:
        """The certified max-margin pair, computed once (see module docstring)."""
        if self._mm is None:
            object.__setattr__(self, "_mm", max_margin(self.Z))
        return self._mm

    @property
    def gamma(self) -> float:
        """The certified max margin γ* (≤ 0 when not separable)."""
        return self.max_margin().gamma

    @property
    def w_star(self) -> np.ndarray:
        return self.max_margin().w_star

    @property
    def separable(self) -> bool:
        return self.max_margin().separable

    def require_separable(self) -> MaxMargin:
        """The max margin, or an :class:`EoscheckError` when the data are not linearly separable."""
        mm = self.max_margin()
        if not mm.separable:   # the certificate says γ* ∈ [0, gap]: 0 in conv{yᵢxᵢ}, or a margin too small to find
            why = f"its max margin γ* lies in [0, {mm.gap:.3g}]: 0 is in, or within {mm.gap:.3g} of, conv{{y_i x_i}}"
            raise EoscheckError(
                f"{self.name} is not certified linearly separable through the origin ({why}); the theory assumes "
                "separable data: choose other data or drop the separability-based checks"
            )
        return mm

    def normalize(self) -> "Dataset":
        """The dataset scaled by 1/maxᵢ‖xᵢ‖ so that maxᵢ‖xᵢ‖ = 1 (recorded in ``meta``)."""
        scale = self.max_norm
        if scale == 0:
            raise EoscheckError(f"{self.name}: all points are zero; cannot normalize")
        X = self.X / scale
        if not row_norm_max(X) <= UNIT_BALL:
            # subnormal data (1e-320): divided by the norm alone, max‖x‖ = 1.0000135; by max|xᵢⱼ| first, the
            # norms are those of normal numbers
            amax = float(np.abs(self.X).max())
            X = self.X / amax
            norm = row_norm_max(X)
            X, scale = X / norm, amax * norm
            if not row_norm_max(X) <= UNIT_BALL:
                raise EoscheckError(f"{self.name}: normalizing left max‖x‖ = {row_norm_max(X)!r} > 1; rescale the "
                                    "data (its entries are too close to the float range's ends)")
        meta = dict(self.meta, normalized=True, scale=self.meta.get("scale", 1.0) / scale)
        return Dataset(X, self.y, name=f"{self.name}-normalized", meta=meta)

    def summary(self) -> dict[str, Any]:
        """A JSON-ready description (name, n, d, max‖x‖, γ*, meta)."""
        mm = self.max_margin()
        return {
            "name": self.name,
            "n": self.n,
            "d": self.d,
            "max_norm": self.max_norm,
            "gamma": mm.gamma,
            "gamma_gap": mm.gap,
            "separable": mm.separable,
            "meta": self.meta,
        }


# ---------------------------------------------------------------------------
# Built-in datasets
# ---------------------------------------------------------------------------


def toy(normalized: bool = False) -> Dataset:
    """The 4-point toy set of Fig. 1(a,b): γ* = 0.2 with w* = (0, 1) (raw, ‖x‖ up to ≈ 2.01)."""
    X = np.array([[1.0, 0.2], [-2.0, 0.2], [-1.0, -0.2], [2.0, -0.2]])
    y = np.array([1.0, 1.0, -1.0, -1.0])
    data = Dataset(X, y, name="toy", meta={"source": "Wu et al. (COLT 2024), Fig. 1(a,b)"})
    return data.normalize() if normalized else data


def thm3(gamma: float = 0.05) -> Dataset:
    """Theorem 3's two-point set: x₁ = (γ, √(1−γ²)), x₂ = (γ, −√(1−γ²)/2), y = +1; γ* = γ."""
    if not (0 < gamma < 0.1):
        raise EoscheckError(f"Theorem 3 needs 0 < gamma < 0.1, got {gamma}")
    a = math.sqrt(1 - gamma**2)
    X = np.array([[gamma, a], [gamma, -a / 2]])
    return Dataset(X, np.ones(2), name=f"thm3(gamma={gamma:g})",
                   meta={"source": "Wu et al. (COLT 2024), Theorem 3", "gamma": gamma})


def synthetic(n: int = 100, d: int = 10, gamma: float = 0.1, seed: int = 0) -> Dataset:
    """Separable data by construction, ‖xᵢ‖ ≤ 1, max margin exactly ``gamma``.

    w* is a random unit vector; each zᵢ = yᵢxᵢ = cᵢw* + rᵢvᵢ with cᵢ ∈ [γ, 1],
    vᵢ ⊥ w* unit and rᵢ ≤ √(1−cᵢ²).  Two points sit at cᵢ = γ with opposite
    orthogonal parts, which pins the max margin to γ (for n = 1 or d = 1, the point γw*).
    """
    if n < 1 or d < 1:
        raise EoscheckError(f"synthetic data need n ≥ 1 and d ≥ 1, got n={n}, d={d}")
    if not (0 < gamma <= 1):
        raise EoscheckError(f"synthetic margin gamma must lie in (0, 1], got {gamma}")
    rng = np.random.default_rng(seed)
    w = rng.standard_normal(d)
    w /= np.linalg.norm(w)
    c = gamma + (1 - gamma) * rng.random(n) ** 2
    V = rng.standard_normal((n, d))
    V -= np.outer(V @ w, w)
    V /= np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
    r = np.sqrt(np.clip(1 - c**2, 0, None)) * rng.random(n)
    if n >= 2 and d >= 2:
        c[:2] = gamma
        V[1] = -V[0]
        r[:2] = np.sqrt(1 - gamma**2) * 0.5
    else:       # one point, or a line (every zᵢ on w*'s line): the point γw* pins the max margin to γ
        c[0], r[0] = gamma, 0.0
    Zp = c[:, None] * w + r[:, None] * V
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    y[: min(n, 2)] = 1.0
    X = y[:, None] * Zp
    meta = {"source": "synthetic", "n": n, "d": d, "gamma": gamma, "seed": seed, "w_star": w.tolist()}
    return Dataset(X, y, name=f"synthetic(n={n},d={d},gamma={gamma:g},seed={seed})", meta=meta)


def crawshaw_liu_instance1(n: int = 16, gamma: float = 0.05) -> Dataset:
    """Crawshaw & Liu's hard instance 1 (Theorem 3.1, paper.md §9.5), y = +1:
    x₁ = (γ, −γ), xᵢ = (γ, √(1−γ²)) for i ≥ 2; max margin γ along w* = (1, 0), ‖xᵢ‖ ≤ 1."""
    if int(n) != n or n < 2:
        raise EoscheckError(f"Crawshaw–Liu instance 1 needs an integer n ≥ 2 (the theorem: n ≥ 6), got {n}")
    if not (0 < gamma <= 0.5):
        raise EoscheckError(f"Crawshaw–Liu instance 1 needs 0 < gamma ≤ 1/2 (the theorem: ≤ 1/6), got {gamma}")
    X = np.array([[gamma, -gamma]] + [[gamma, math.sqrt(1 - gamma**2)]] * (int(n) - 1))
    meta = {"source": "Crawshaw & Liu (COLT 2026), Theorem 3.1, hard instance 1", "gamma": gamma, "n": int(n)}
    return Dataset(X, np.ones(int(n)), name=f"cl1(n={int(n)},gamma={gamma:g})", meta=meta)


def crawshaw_liu_instance2(n: int = 16, gamma: float = 0.05, delta: float = 0.5) -> Dataset:
    """Crawshaw & Liu's hard instance 2 (Theorem 3.1, paper.md §9.5), y = +1:
    xᵢ = (γ, −δ) for i ≤ ⌈n/2⌉, (γ, √(1−γ²)) otherwise; max margin γ along (1, 0) for every δ > 0.

    The construction's δ is not recorded in paper.md; ``delta`` is ours (δ² ≤ 1 − γ² keeps ‖xᵢ‖ ≤ 1).
    """
    if int(n) != n or n < 2:
        raise EoscheckError(f"Crawshaw–Liu instance 2 needs an integer n ≥ 2, got {n}")
    if not (0 < gamma <= 0.5):
        raise EoscheckError(f"Crawshaw–Liu instance 2 needs 0 < gamma ≤ 1/2 (the theorem: ≤ 1/6), got {gamma}")
    if not (0 < delta <= math.sqrt(1 - gamma**2)):
        raise EoscheckError(f"Crawshaw–Liu instance 2 needs 0 < delta ≤ √(1−γ²) (‖x‖ ≤ 1), got {delta}")
    h = math.ceil(int(n) / 2)
    X = np.array([[gamma, -delta]] * h + [[gamma, math.sqrt(1 - gamma**2)]] * (int(n) - h))
    meta = {"source": "Crawshaw & Liu (COLT 2026), Theorem 3.1, hard instance 2", "gamma": gamma, "n": int(n),
            "delta": delta, "delta_note": "the construction's delta is not recorded in paper.md"}
    return Dataset(X, np.ones(int(n)), name=f"cl2(n={int(n)},gamma={gamma:g},delta={delta:g})", meta=meta)


def random_hyperplane(n: int = 1000, d: int = 784, seed: int = 0) -> Dataset:
    """Gaussian directions xᵢ = gᵢ/‖gᵢ‖ (unit norm) labelled by a random hyperplane, yᵢ = sign⟨xᵢ, u⟩.

    Separable through the origin by construction, with many support vectors when d is
    comparable to n (e.g. 534 of 1000 for d = 784, seed 0): the hard case for max margin.
    """
    if n < 1 or d < 1:
        raise EoscheckError(f"random-hyperplane data need n ≥ 1 and d ≥ 1, got n={n}, d={d}")
    rng = np.random.default_rng([int(seed), 0x48])
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    u = rng.standard_normal(d)
    y = np.where(X @ u >= 0, 1.0, -1.0)
    meta = {"source": "random hyperplane", "n": n, "d": d, "seed": seed}
    return Dataset(X, y, name=f"random_hyperplane(n={n},d={d},seed={seed})", meta=meta)


def digits08(n_per_class: int | None = None) -> Dataset:
    """Real handwritten digits "0" (y = +1) vs "8" (y = −1) from scikit-learn's bundled copy.

    178 + 174 images of 8×8 pixels in 0..16 (UCI optical digits), offline; not normalized.
    """
    if n_per_class is not None and not (isinstance(n_per_class, (int, np.integer)) and n_per_class >= 1):
        raise EoscheckError(f"digits08: n_per_class must be a positive integer (or None for all), got {n_per_class!r}")
    from sklearn.datasets import load_digits

    digits = load_digits()
    keep = np.isin(digits.target, (0, 8))
    X = digits.data[keep].astype(np.float64)
    y = np.where(digits.target[keep] == 0, 1.0, -1.0)
    if n_per_class is not None:
        idx = np.concatenate([np.flatnonzero(y == 1)[:n_per_class], np.flatnonzero(y == -1)[:n_per_class]])
        X, y = X[idx], y[idx]
    meta = {"source": "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
            "classes": {"+1": 0, "-1": 8}, "pixel_range": [0, 16]}
    return Dataset(X, y, name="digits08", meta=meta)


def digits_pair(a: int, b: int) -> Dataset:
    """Real 8×8 digits "a" (y = +1) vs "b" (y = −1) from scikit-learn's bundled UCI copy (pixels 0..16)."""
    from sklearn.datasets import load_digits

    if a == b or not {a, b} <= set(range(10)):
        raise EoscheckError(f"digits_pair needs two different digits in 0..9, got {a}, {b}")
    digits = load_digits()
    keep = np.isin(digits.target, (a, b))
    X = digits.data[keep].astype(np.float64)
    y = np.where(digits.target[keep] == a, 1.0, -1.0)
    meta = {"source": "scikit-learn load_digits (UCI optical recognition of handwritten digits)",
            "classes": {"+1": a, "-1": b}, "pixel_range": [0, 16]}
    return Dataset(X, y, name=f"digits{a}{b}", meta=meta)


#: Where Debian's dataset-fashion-mnist package puts the idx files.
FASHION_MNIST_DIR = Path("/usr/share/datasets/fashion-mnist")


def fashion_pair(a: int, b: int, n: int = 1000, root: str | Path = FASHION_MNIST_DIR) -> Dataset:
    """The first ``n`` training images of Fashion-MNIST classes a (y = +1) and b (y = −1), raw pixels 0..255."""
    root = Path(root)
    return load_idx(root / "train-images-idx3-ubyte.gz", root / "train-labels-idx1-ubyte.gz", classes=(a, b), n=n,
                    name=f"fashion{a}{b}")


_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}


def _memory_check(path: Path, nbytes: float, what: str) -> None:
    from .resources import available_memory

    avail = available_memory()
    if nbytes > avail:
        raise EoscheckError(f"{path}: {what} needs ≈ {nbytes / 2**30:.3g} GiB of memory but "
                            f"{avail / 2**30:.3g} GiB is available; use a smaller file")


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (the MNIST format, optionally gzip-compressed) into an array.

    The header (magic 0 0 type ndim, then ndim big-endian uint32 sizes) is checked before any data
    is read, and at most the bytes it announces are read (a gzip bomb cannot exhaust memory).
    """
    path = _existing(path)
    with open(path, "rb") as fh:
        gz = fh.read(2) == b"\x1f\x8b"
    try:
        with (gzip.open(path, "rb") if gz else open(path, "rb")) as fh:
            head = fh.read(4)
            if len(head) < 4 or head[0] != 0 or head[1] != 0 or head[2] not in _IDX_TYPES:
                raise EoscheckError(f"{path} is not an IDX file (bad magic number); give MNIST-format idx files")
            ndim = head[3]
            if not 1 <= ndim <= 4:
                raise EoscheckError(f"{path}: IDX header says {ndim} dimensions (MNIST files have 1 to 3); "
                                    "not an idx file eoscheck can read")
            dims = fh.read(4 * ndim)
            if len(dims) < 4 * ndim:
                raise EoscheckError(f"{path}: IDX header is truncated ({len(dims) + 4} of {4 * ndim + 4} bytes)")
            shape = struct.unpack(">" + "I" * ndim, dims)
            dtype = np.dtype(_IDX_TYPES[head[2]])
            nbytes = math.prod(shape) * dtype.itemsize
            _memory_check(path, 3.0 * nbytes, f"the IDX shape {shape}")
            raw = fh.read(nbytes + 1)
    except (OSError, EOFError, zlib.error) as err:  # BadGzipFile is an OSError
        raise EoscheckError(f"cannot read {path} as an IDX file ({type(err).__name__}: {err}); "
                            "give MNIST-format idx files (.gz or not)") from None
    if len(raw) != nbytes:
        raise EoscheckError(f"{path}: IDX header says {shape} but the file holds "
                            f"{'more' if len(raw) > nbytes else f'{len(raw) // dtype.itemsize}'} values "
                            f"({'trailing data' if len(raw) > nbytes else 'truncated?'})")
    return np.frombuffer(raw, dtype=dtype).reshape(shape)


def load_idx(images: str | Path, labels: str | Path, classes: tuple[int, int] = (0, 8),
             n: int | None = 1000, name: str = "mnist08") -> Dataset:
    """Two classes of an MNIST-format pair of idx files: the first class is y = +1.

    With ``n`` given, the first n samples of the two classes (in file order) are kept,
    as in the paper's "1000 samples with labels 0 or 8"; pixels stay raw (0..255).
    """
    if n is not None and (int(n) != n or n < 1):
        raise EoscheckError(f"n must be a positive integer (samples to keep), got {n}")
    if classes[0] == classes[1]:
        raise EoscheckError(f"the two classes must differ (y = +1 for the first, −1 for the second), got {classes}")
    Ximg = read_idx(images)
    if Ximg.ndim < 2:
        raise EoscheckError(f"{images} holds {Ximg.shape[0]} single values (a labels file?), not images; "
                            "--images takes the images file (…-images-idx3-ubyte), --labels the labels file")
    lab = read_idx(labels)
    if lab.ndim != 1:
        raise EoscheckError(f"{labels} holds an array of shape {lab.shape} (an images file?), not one label per "
                            "sample; --labels takes the labels file (…-labels-idx1-ubyte), --images the images file")
    raw, lab = lab, lab.astype(np.int64)
    if not np.array_equal(raw, lab):     # float labels: 0.5 was truncated to class 0
        raise EoscheckError(f"{labels}: labels must be whole class numbers (e.g. 0..9), got non-integer values")
    if Ximg.shape[0] != lab.shape[0]:
        raise EoscheckError(f"{images} has {Ximg.shape[0]} images but {labels} has {lab.shape[0]} labels")
    keep = np.flatnonzero(np.isin(lab, classes))
    if keep.size == 0:
        raise EoscheckError(f"no samples with labels {classes} in {labels}")
    if n is not None:
        keep = keep[:n]
    missing = [c for c in classes if not (lab[keep] == c).any()]
    if missing:
        where = f"the first {len(keep)} samples of classes {classes}" if n is not None else str(labels)
        raise EoscheckError(f"no sample of class {missing[0]} in {where}: a binary problem needs both classes; "
                            "choose classes present in the labels file" + (" or a larger n" if n is not None else ""))
    X = Ximg[keep].reshape(len(keep), -1).astype(np.float64)
    y = np.where(lab[keep] == classes[0], 1.0, -1.0)
    meta = {"source": "idx files", "images": str(images), "labels": str(labels),
            "classes": {"+1": classes[0], "-1": classes[1]}, "n": int(len(keep))}
    return Dataset(X, y, name=name, meta=meta)


def _existing(path: str | Path) -> Path:
    p = Path(path)
    if p.is_dir():
        raise EoscheckError(f"{p} is a folder, not a data file; give a file path")
    if not p.is_file():
        raise EoscheckError(f"file not found: {p}; check the path")
    return p


def load_file(path: str | Path) -> Dataset:
    """A user's data: ``.npz`` with arrays ``X`` and ``y``, or ``.csv`` whose last column is y.

    A CSV may have a header row (one name per column); a header column named ``y`` or ``label`` is used as y.
    Checked before use: real numeric dtypes (complex, object and text arrays are refused, never
    cast), X of shape (n, d) with n, d ≥ 1, and the memory the arrays need.
    """
    p = _existing(path)
    if p.suffix.lower() == ".npz":
        X, y = _read_npz(p)
    elif p.suffix.lower() in (".csv", ".txt"):
        X, y = _read_csv(p)
    else:
        raise EoscheckError(f"{p}: unknown data file type {p.suffix!r}; use .npz (arrays X, y) or .csv")
    for key, arr in (("X", X), ("y", y)):
        if arr.dtype.kind not in "biuf":
            kind = {"c": "complex", "O": "object", "U": "text", "S": "text", "V": "structured"}.get(arr.dtype.kind,
                                                                                                arr.dtype.name)
            raise EoscheckError(f"{p}: {key} has {kind} values (dtype {arr.dtype}); give real numbers")
    if X.ndim == 2 and X.shape[1] == 0:
        raise EoscheckError(f"{p}: X has no features (shape {X.shape}); give at least one column")
    return Dataset(X, y, name=p.stem, meta={"source": str(p)})


def _read_npz(p: Path):
    """X and y of an .npz, their headers checked (dtype, memory) before the data are read."""
    try:
        with np.load(p, allow_pickle=False) as f:
            if "X" not in f.files or "y" not in f.files:
                raise EoscheckError(f"{p} must contain arrays named X and y, found {sorted(f.files)}")
            total = 0.0
            for key in ("X", "y"):
                with f.zip.open(f"{key}.npy") as member:
                    version = np.lib.format.read_magic(member)
                    shape, _, dtype = _npy_header(member, version)
                if dtype.hasobject:
                    raise EoscheckError(f"{p}: {key} holds Python objects; save numeric arrays (np.savez)")
                total += math.prod(shape) * 8.0
            _memory_check(p, 3.0 * total, "its arrays")
            return f["X"], f["y"]
    except EoscheckError:
        raise
    except (OSError, ValueError, EOFError, KeyError, zipfile.BadZipFile, zlib.error) as err:
        raise EoscheckError(f"cannot read {p} as .npz ({type(err).__name__}); "
                            "save it with numpy.savez(path, X=X, y=y)") from None


def _npy_header(member, version):
    """(shape, fortran_order, dtype) of an .npy member (numpy's public header readers)."""
    if version == (1, 0):
        return np.lib.format.read_array_header_1_0(member)
    return np.lib.format.read_array_header_2_0(member)


def _read_csv(p: Path):
    _memory_check(p, 40.0 * p.stat().st_size, "parsing it")
    raw = p.read_bytes()
    if raw.startswith((b"\xff\xfe", b"\xfe\xff")) or b"\x00" in raw[:4096]:
        raise EoscheckError(f"{p} is UTF-16 or binary, not a UTF-8 text CSV; save it as UTF-8 CSV")
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        raise EoscheckError(f"{p} is not UTF-8 text (byte {err.start}); save it as a UTF-8 CSV") from None
    try:
        rows = [r for r in csv.reader(text.splitlines()) if r and any(c.strip() for c in r)]
    except csv.Error as err:
        raise EoscheckError(f"{p}: malformed CSV ({err})") from None
    if not rows:
        raise EoscheckError(f"{p} is empty")
    sep = next((s for s in (";", "\t") if all(len(r) == 1 and s in r[0] for r in rows[:2])), None)
    if sep is not None:      # rows of one cell holding ';' or tabs: a CSV written with another separator
        shown = "tabs" if sep == "\t" else f"{sep!r}"
        raise EoscheckError(f"{p}: its rows separate values with {shown}; eoscheck reads comma-separated values "
                            "(save it with ',' as the separator)")
    header = None
    numeric = [_number(c) is not None for c in rows[0]]
    if not any(numeric):                  # a header: names only (a bad cell in a data row is an error below)
        header, rows = [c.strip() for c in rows[0]], rows[1:]
    if not rows:
        raise EoscheckError(f"{p} has a header but no data rows")
    width = len(rows[0])
    ragged = next((i for i, r in enumerate(rows) if len(r) != width), None)
    if ragged is not None:
        raise EoscheckError(f"{p}: row {ragged + 1 + (header is not None)} has {len(rows[ragged])} columns, "
                            f"the first has {width}; every row needs the same columns")
    if header is not None and len(header) != width:
        raise EoscheckError(f"{p}: the header has {len(header)} names but the rows have {width} values; "
                            "give one header name per column (or drop the header row)")
    A = np.empty((len(rows), width))
    for i, r in enumerate(rows):
        for j, c in enumerate(r):
            v = _number(c)
            if v is None:
                raise EoscheckError(f"{p}: row {i + 1 + (header is not None)}, column {j + 1}: non-numeric value "
                                    f"{c.strip()!r}; every cell after the header must be a number (a header holds names only)")
            A[i, j] = v
    if A.ndim != 2 or A.shape[1] < 2:
        raise EoscheckError(f"{p}: need at least one feature column and a label column")
    col = A.shape[1] - 1
    if header:
        for key in ("y", "label"):
            if key in header:
                col = header.index(key)
    return np.delete(A, col, axis=1), A[:, col]


def _number(cell: str) -> float | None:
    """A CSV cell as a float, or None: Python's float() syntax without its digit separators ("1_0" is not 10)."""
    if "_" in cell:
        return None
    try:
        return float(cell)
    except ValueError:
        return None


def _whole(value) -> bool:
    try:
        return float(value).is_integer()
    except (TypeError, ValueError, OverflowError):
        return False


def get_dataset(name: str, *, gamma: float | None = None, n: int | None = None, d: int | None = None,
                seed: int = 0, images: str | None = None, labels: str | None = None) -> Dataset:
    """A dataset by command-line name: ``toy``, ``toy-normalized``, ``thm3``, ``synthetic``,
    ``digits08``, ``digitsAB`` (scikit-learn's digits A vs B, e.g. ``digits39``), ``mnist08``/``idx``
    (with ``images`` and ``labels`` paths), or a file path."""
    for key, value, lo in (("n", n, 1), ("d", d, 1), ("seed", seed, 0)):
        if value is not None and not (_whole(value) and value >= lo):
            raise EoscheckError(f"--{key} must be an integer ≥ {lo}, got {value}")
    if gamma is not None and not math.isfinite(gamma):
        raise EoscheckError(f"--gamma must be a finite number, got {gamma}")
    if name == "toy":
        return toy()
    if name == "toy-normalized":
        return toy(normalized=True)
    if name == "thm3":
        return thm3(0.05 if gamma is None else gamma)
    if name == "synthetic":
        return synthetic(n=100 if n is None else n, d=10 if d is None else d, gamma=0.1 if gamma is None else gamma,
                         seed=seed)
    if name == "digits08":
        return digits08()
    if len(name) == 8 and name.startswith("digits") and name[6:].isdigit():
        return digits_pair(int(name[6]), int(name[7]))
    if name in ("mnist08", "idx"):
        if not (images and labels):
            raise EoscheckError(f"--data {name} needs --images FILE and --labels FILE (MNIST-format idx files)")
        return load_idx(images, labels, n=1000 if name == "mnist08" else n,
                        name="mnist08" if name == "mnist08" else f"idx08({Path(images).name})")
    if Path(name).suffix or Path(name).exists():
        return load_file(name)
    raise EoscheckError(
        f"unknown dataset {name!r}; choose toy, toy-normalized, thm3, synthetic, digits08, digitsAB (e.g. digits39), "
        "mnist08, or a .npz/.csv file"
    )
