"""The grid of a sweep: which datasets, which stepsizes, how many steps — parsed and seeded.

Dataset ``i`` of a sweep is a pure function of (data spec, ranges, seed, i): its parameters come
from ``numpy.random.default_rng([seed, i])``, so the same seed gives the same datasets whatever the
order, the chunking into tasks or the worker that builds them.

Data kinds (``--data``):

* ``synthetic`` — :func:`eoscheck.datasets.synthetic` with n, d drawn uniformly from their integer
  ranges (or cycled through a comma list) and γ log-uniform in ``--gamma``;
* ``sphere`` — xᵢ uniform on the unit sphere S^{d−1}, yᵢ = +1 (Crawshaw & Liu's set-up, WLOG yᵢ = 1);
  with ``n = d`` the points are linearly independent almost surely, hence separable;
* ``thm3`` — Theorem 3's two-point set with γ log-uniform in ``--gamma``;
* ``toy``, ``toy-normalized``, ``digits08`` — one fixed dataset;
* a folder — every ``*.npz`` in it (arrays ``X`` and ``y``), sorted by name; or one ``.npz``/``.csv`` file.
"""

from __future__ import annotations

import hashlib
import math
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterable

import numpy as np

from .._errors import EoscheckError
from ..datasets import Dataset, get_dataset, load_file

RANDOM_KINDS = ("synthetic", "sphere", "thm3")
FIXED_KINDS = ("toy", "toy-normalized", "digits08")
#: The options only the random kinds of data draw from, and their defaults.
RANDOM_ONLY = {"n": "4:32", "d": "4:32", "gamma": "0.05:0.5", "datasets": 48}
#: Which of them each random kind reads (the command line refuses the others): sphere points have no prescribed
#: margin, thm3 is 2 points in 2-D.
READS = {"synthetic": tuple(RANDOM_ONLY), "sphere": ("n", "d", "datasets"), "thm3": ("gamma", "datasets")}


def refuse_on_fixed_data(data: Any, given: Iterable[str], cli: bool = False) -> None:
    """One line when an option is given that ``data`` does not read: any of n, d, gamma, datasets for one fixed
    dataset (a built-in such as ``toy``, or files: ``sweep("toy", n=100)`` returned the toy set's row without a
    word), n and d for ``thm3``, gamma for ``sphere`` (:data:`READS`); ``cli``: name the options as the command
    line does (``--n``, ``--data``)."""
    if isinstance(data, os.PathLike):
        data = os.fspath(data)
    if not isinstance(data, str):
        raise EoscheckError(f"data must be a name ({', '.join(RANDOM_KINDS + FIXED_KINDS)}) or a path to .npz files, "
                            f"got a {type(data).__name__}; save a Dataset with np.savez(path, X=..., y=...)")
    given = list(given)
    fixed = data not in RANDOM_KINDS and (data in FIXED_KINDS or Path(data).expanduser().exists())
    extra = [k for k in given if k in RANDOM_ONLY] if fixed else []
    if extra:
        opt, dat = (f"--{extra[0]}", f"--data {data}") if cli else (extra[0], f"data {data!r}")
        raise EoscheckError(f"{opt} does not apply to {dat} (fixed data: one dataset); drop it, or use "
                            f"{'/'.join(RANDOM_KINDS)} for drawn datasets")
    unread = [k for k in given if k in RANDOM_ONLY and k not in READS.get(data, tuple(RANDOM_ONLY))]
    if unread:
        name = (lambda k: f"--{k}") if cli else (lambda k: k)
        raise EoscheckError(f"{name(unread[0])} does not apply to {'--data ' if cli else 'data '}{data} (it reads "
                            f"{', '.join(name(k) for k in READS[data])}); drop it")


@dataclass(frozen=True)
class Axis:
    """One parameter of the datasets: a range ``lo:hi`` (uniform integers / log-uniform reals), a
    comma list of values (dataset i takes ``values[i % len]``), or ``"d"`` (n equal to d)."""

    text: str
    lo: float = math.nan
    hi: float = math.nan
    values: tuple[float, ...] = ()
    same_as_d: bool = False

    @classmethod
    def parse(cls, text: Any, name: str, integer: bool) -> "Axis":
        """``text``: "LO:HI", "a,b,c", one number, or (from Python) a sequence of values."""
        if not isinstance(text, str) and np.ndim(text) == 1:    # a list, tuple or array: the values
            text = ",".join(str(v) for v in np.asarray(text).tolist()) + ("," if np.size(text) == 1 else "")
        s = str(text).strip()
        if name == "n" and s == "d":
            return cls(s, same_as_d=True)
        if "," in s:
            vals = tuple(_number(v, name, integer) for v in s.split(",") if v.strip())
            if not vals:
                raise EoscheckError(f"--{name} {s!r}: empty list; give values such as --{name} 2,4,8")
            return cls(s, values=vals)
        m = re.fullmatch(r"([^:]+)(?::([^:]+))?", s)
        if not m:
            raise EoscheckError(f"--{name} must be LO:HI, a comma list or one value; got {s!r}")
        lo = _number(m.group(1), name, integer)
        hi = _number(m.group(2), name, integer) if m.group(2) else lo
        if integer and math.ceil(lo) > math.floor(hi) or hi < lo:
            raise EoscheckError(f"--{name} {s}: empty range (need LO ≤ HI); e.g. --{name} "
                                f"{RANDOM_ONLY.get(name, '4:32')}")
        return cls(s, lo=lo, hi=hi)

    def largest(self) -> float:
        """The largest value a dataset can draw (NaN for ``"d"``: see :meth:`DataSpec.largest_shape`)."""
        return float(max(self.values)) if self.values else self.hi

    def draw(self, rng: np.random.Generator, i: int, integer: bool) -> float:
        if self.values:
            return self.values[i % len(self.values)]
        if integer:
            return int(rng.integers(int(math.ceil(self.lo)), int(math.floor(self.hi)) + 1))
        return float(math.exp(rng.uniform(math.log(self.lo), math.log(self.hi))))


def _number(text: str, name: str, integer: bool) -> float:
    try:
        v = float(text)
    except ValueError:
        raise EoscheckError(f"--{name}: {text.strip()!r} is not a number") from None
    if not math.isfinite(v) or v <= 0:
        raise EoscheckError(f"--{name}: values must be positive and finite, got {text.strip()!r}")
    if integer and v != int(v):
        raise EoscheckError(f"--{name}: {text.strip()!r} is not an integer")
    return int(v) if integer else v


@dataclass(frozen=True)
class DataSpec:
    """What ``--data`` names, with the axes the random kinds draw from."""

    kind: str                    # a RANDOM_KINDS or FIXED_KINDS name, "files"
    n: Axis
    d: Axis
    gamma: Axis
    count: int                   # datasets in the sweep
    files: tuple[str, ...] = ()  # for kind "files"
    digests: tuple[str, ...] = ()

    @classmethod
    def parse(cls, data: str, n: Any = "4:32", d: Any = "4:32", gamma: Any = "0.05:0.5",
              datasets: int = 48) -> "DataSpec":
        if int(datasets) != datasets or datasets < 1:
            raise EoscheckError(f"--datasets must be a positive integer, got {datasets}")
        ax = (Axis.parse(n, "n", True), Axis.parse(d, "d", True), Axis.parse(gamma, "gamma", False))
        if data in RANDOM_KINDS:
            top = max(ax[2].values) if ax[2].values else ax[2].hi
            if data == "thm3" and not top < 0.1:
                raise EoscheckError("--data thm3 needs --gamma inside (0, 0.1), e.g. --gamma 0.01:0.09")
            if data == "synthetic" and top > 1:
                raise EoscheckError(f"--data synthetic needs --gamma in (0, 1] (‖xᵢ‖ ≤ 1 caps the margin at 1), "
                                    f"got {ax[2].text}; e.g. --gamma 0.05:0.5")
            return cls(data, *ax, count=int(datasets))
        if data in FIXED_KINDS:
            return cls(data, *ax, count=1)
        p = Path(data).expanduser()
        if p.is_dir():      # absolute: a worker started in another folder reads these files, not its own
            files = sorted(str(f.resolve()) for f in p.glob("*.npz"))
            if not files:
                raise EoscheckError(f"--data {data}: the folder has no .npz files (arrays X and y)")
        elif p.is_file():
            files = [str(p.resolve())]
        else:
            raise EoscheckError(f"--data {data!r}: not a built-in ({', '.join(RANDOM_KINDS + FIXED_KINDS)}), "
                                "folder or file; check the name or path")
        digests = tuple(hashlib.sha256(Path(f).read_bytes()).hexdigest()[:16] for f in files)
        return cls("files", *ax, count=len(files), files=tuple(files), digests=digests)

    def summary(self) -> dict[str, Any]:
        """The JSON-able identity of the datasets (part of every task's content address)."""
        out = {"kind": self.kind, "count": self.count}
        if self.kind in RANDOM_KINDS:
            out.update(n=self.n.text, d=self.d.text, gamma=self.gamma.text)
        if self.kind == "files":
            out.update(files=[Path(f).name for f in self.files], digests=list(self.digests))
        return out

    def largest_shape(self) -> tuple[int, int]:
        """(n, d) of the largest dataset of the sweep, before any is drawn: from the axes (random kinds), the
        data (fixed kinds), or the files, each read here — a file that cannot be read is refused now, before
        the other datasets' tasks run, not when its own task comes."""
        if self.kind in RANDOM_KINDS:
            if self.kind == "thm3":
                return 2, 2
            d = int(self.d.largest())
            return (d if self.n.same_as_d else int(self.n.largest())), d
        if self.kind in FIXED_KINDS:
            data = get_dataset(self.kind)
            return data.n, data.d
        shapes = [load_file(f).X.shape for f in self.files]
        return max(s[0] for s in shapes), max(s[1] for s in shapes)

    def dataset(self, i: int, seed: int) -> tuple[Dataset, int]:
        """Dataset ``i`` and the seed it was built from (−1 for fixed data)."""
        if self.kind == "files":
            # the file this process reads must be the one the sweep was planned on (its digest is in the task's key):
            # a worker with another file at that path, or a file edited since, gave wrong rows that the cache kept
            raw = Path(self.files[i]).read_bytes() if Path(self.files[i]).is_file() else None
            if raw is None or hashlib.sha256(raw).hexdigest()[:16] != self.digests[i]:
                raise EoscheckError(f"{self.files[i]} on this machine is {'missing' if raw is None else 'not the file'} "
                                    f"the sweep was planned with (sha256 {self.digests[i]}…); give every worker the same "
                                    "files at the same absolute path")
            return load_file(self.files[i]), -1
        if self.kind in FIXED_KINDS:
            return get_dataset(self.kind), -1
        rng = np.random.default_rng([int(seed), int(i)])
        d = int(self.d.draw(rng, i, True))
        n = d if self.n.same_as_d else int(self.n.draw(rng, i, True))
        gamma = float(self.gamma.draw(rng, i, False))
        data_seed = int(rng.integers(2**32))
        if self.kind == "synthetic":
            return get_dataset("synthetic", n=n, d=d, gamma=gamma, seed=data_seed), data_seed
        if self.kind == "thm3":
            return get_dataset("thm3", gamma=gamma), data_seed
        return sphere(n, d, data_seed), data_seed


def sphere(n: int, d: int, seed: int) -> Dataset:
    """n points uniform on the unit sphere S^{d−1} (normalized Gaussians), all labelled +1.

    Crawshaw & Liu (COLT 2026, Assumption 1.1) take yᵢ = 1 WLOG and ‖xᵢ‖ ≤ 1; for n ≤ d the
    points are linearly independent almost surely, so the data are separable.
    """
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d))
    X /= np.linalg.norm(X, axis=1, keepdims=True)
    return Dataset(X, np.ones(n), name=f"sphere(n={n},d={d},seed={seed})",
                   meta={"source": "uniform on the unit sphere, y = +1", "n": n, "d": d, "seed": seed})


@dataclass(frozen=True)
class Grid:
    """A whole sweep: the datasets, the stepsizes run as one batch per dataset, the steps, the loss."""

    data: DataSpec
    etas: tuple[float, ...]
    steps: int
    loss: str
    seed: int

    def config(self) -> dict[str, Any]:
        return {"data": self.data.summary(), "etas": list(self.etas), "steps": self.steps,
                "loss": self.loss, "seed": self.seed}
