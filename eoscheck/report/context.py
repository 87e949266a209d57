"""What every section needs: the configuration, the cache, named datasets, cached runs, figures,
and the small numerical helpers of the comparisons (floating-point allowance, log–log slopes)."""

from __future__ import annotations

import contextlib
import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._errors import EoscheckError
from ..datasets import Dataset, digits08, synthetic, thm3, toy
from ..provenance import array_hash
from ..trajectory import Trajectory
from .cache import RunCache

#: float64 unit roundoff u = 2⁻⁵³.
UNIT_ROUNDOFF = 2.0**-53


@dataclass
class Context:
    """The state shared by the sections of one report."""

    out: Path
    cfg: dict[str, Any]
    profile: str
    seed: int = 0
    device: str = "cpu"
    cache: RunCache | None = None
    progress: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    _data: dict[str, Dataset] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.cache is None:
            self.cache = RunCache(self.out / ".cache")

    # --- datasets ---------------------------------------------------------------------
    def data(self, spec: str) -> Dataset:
        """A dataset by spec: ``toy``, ``toy-normalized``, ``thm3:GAMMA``,
        ``synthetic:n=..,d=..,gamma=..`` (seeded by the report seed), ``digits08``,
        ``digits08-normalized`` (optionally ``:n_per_class=K``)."""
        if spec not in self._data:
            self._data[spec] = load_dataset(spec, self.seed)
        return self._data[spec]

    # --- runs -------------------------------------------------------------------------
    def gd(self, label: str, data: Dataset, loss: Any, etas: Sequence[float], steps: int, *,
           grid: str = "all", grid_points: int | None = None, sharpness_every: int | None = None) -> Trajectory:
        """GD on a linear model (:func:`eoscheck.gd.run_gd`), cached by configuration.

        ``loss`` is a spec string or a :class:`~eoscheck.losses.Loss` (keyed by its name and expression).
        Per-run progress bars are shown for runs of at least 2¹⁴ steps.
        """
        from ..gd import run_gd

        etas = [float(e) for e in etas]
        key = loss if isinstance(loss, str) else f"{loss.name}: {loss.expr}"
        config = {"engine": "gd", "data": data.name, "data_hash": array_hash(data.X, data.y), "loss": key,
                  "etas": etas, "steps": int(steps), "grid": grid, "grid_points": grid_points,
                  "sharpness_every": sharpness_every, "device": self.device}
        return self.cache.trajectory("gd", label, config, lambda: run_gd(
            data, loss, etas, int(steps), device=self.device, grid=grid, grid_points=grid_points,
            sharpness_every=sharpness_every, progress=self.progress and steps >= 2**14))

    def ntk(self, label: str, data: Dataset, loss: str, etas: Sequence[float], steps: int, *, width: int,
            delta: float = 0.05) -> Trajectory:
        """GD on Theorem 6's two-layer network (:func:`eoscheck.networks.run_ntk`), cached."""
        from ..networks import run_ntk

        etas = [float(e) for e in etas]
        config = {"engine": "ntk", "data": data.name, "data_hash": array_hash(data.X, data.y), "loss": loss,
                  "etas": etas, "steps": int(steps), "width": int(width), "seed": self.seed, "delta": delta,
                  "device": self.device}
        def compute():
            with single_torch_thread(self.device):
                return run_ntk(data, loss, etas, int(steps), width=int(width), seed=self.seed, delta=delta,
                               device=self.device, progress=self.progress)

        return self.cache.trajectory("ntk", label, config, compute)

    def mlp3(self, label: str, etas: Sequence[float], steps: int, *, n: int, hidden: Sequence[int],
             sharpness_every: int) -> Trajectory:
        """The slides' 3-layer net (:func:`eoscheck.mlp.run_mlp3`) on the offline digits, cached."""
        from ..mlp import run_mlp3

        etas = [float(e) for e in etas]
        config = {"engine": "mlp3", "etas": etas, "steps": int(steps), "n": int(n), "hidden": list(hidden),
                  "sharpness_every": int(sharpness_every), "seed": self.seed, "device": self.device}
        def compute():
            with single_torch_thread(self.device):
                return run_mlp3(None, etas, int(steps), n=int(n), hidden=tuple(int(h) for h in hidden),
                                seed=self.seed, device=self.device, sharpness_every=int(sharpness_every),
                                progress=self.progress)

        return self.cache.trajectory("mlp3", label, config, compute)

    # --- figures ----------------------------------------------------------------------
    def subplots(self, *grid: int, figsize: tuple[float, float]):
        """A matplotlib figure: constrained layout, or a fixed layout (4× cheaper to draw) when the
        profile says ``figure_layout: fixed`` (the test profile)."""
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt

        fixed = self.cfg.get("figure_layout") == "fixed"
        fig, axes = plt.subplots(*grid, figsize=figsize, constrained_layout=not fixed)
        if fixed:
            ncols = grid[1] if len(grid) > 1 else 1
            fig.subplots_adjust(left=0.13 if ncols == 1 else 0.06, right=0.97, bottom=0.13, top=0.86, wspace=0.32)
        return fig, axes

    def figure_file(self, name: str) -> tuple[Path, str]:
        """(absolute path, path relative to the report) of figure ``name`` (a .png)."""
        rel = f"figures/{name}.png"
        return self.out / rel, rel


@contextlib.contextmanager
def single_torch_thread(device: str):
    """Run torch on one CPU thread: the network runs are many small operations, and two threads on a
    shared 2-core machine oversubscribe (measured 4–9× slower under load).  No effect on CUDA work."""
    import torch

    old = torch.get_num_threads()
    if not str(device).startswith("cuda"):
        torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """See :meth:`Context.data`."""
    name, _, arg = spec.partition(":")
    kw: dict[str, str] = {}
    if "=" in arg:
        for item in arg.split(","):
            k, _, v = item.partition("=")
            kw[k.strip()] = v.strip()
    if name == "toy":
        return toy()
    if name == "toy-normalized":
        return toy(normalized=True)
    if name == "thm3":
        return thm3(float(arg) if arg else 0.05)
    if name == "synthetic":
        return synthetic(n=int(kw.get("n", 100)), d=int(kw.get("d", 10)), gamma=float(kw.get("gamma", 0.1)),
                         seed=int(kw.get("seed", seed)))
    if name in ("digits08", "digits08-normalized"):
        npc = int(kw["n_per_class"]) if "n_per_class" in kw else None
        data = digits08(npc)
        if npc is not None:
            data = Dataset(data.X, data.y, name=f"digits08(n_per_class={npc})", meta=dict(data.meta, n_per_class=npc))
        return data.normalize() if name.endswith("-normalized") else data
    raise EoscheckError(f"unknown report dataset {spec!r}")


# ---------------------------------------------------------------------------
# numerics of the comparisons
# ---------------------------------------------------------------------------


def sum_allowance(t) -> np.ndarray:
    """Relative floating-point allowance of a running mean of t positive float64 terms.

    Recursive summation of t terms has relative error ≤ (t−1)u/(1 − (t−1)u) (Higham, Accuracy and
    Stability, §4.2), plus a few roundings for the division and the bound's own evaluation: we
    allow (t + 8)·u.  This is the only slack an exact claim gets.
    """
    return (np.asarray(t, dtype=np.float64) + 8.0) * UNIT_ROUNDOFF


def loglog_slope(x, y) -> float:
    """Least-squares slope of ln y against ln x over the finite positive points (NaN if < 2)."""
    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    ok = np.isfinite(x) & np.isfinite(y) & (x > 0) & (y > 0)
    if ok.sum() < 2:
        return math.nan
    return float(np.polyfit(np.log(x[ok]), np.log(y[ok]), 1)[0])


def local_slope(shape, x0: float, x1: float) -> float:
    """The log–log slope of a function ``shape`` between x0 and x1 (the prediction's own slope there)."""
    return (math.log(shape(x1)) - math.log(shape(x0))) / (math.log(x1) - math.log(x0))


def eta_text(eta: float) -> str:
    """η as 2^k when it is a power of two, else 4 significant digits."""
    k = math.log2(eta) if eta > 0 else math.nan
    if math.isfinite(k) and abs(k - round(k)) < 1e-12:
        return f"2^{int(round(k))}"
    return f"{eta:.4g}"


def eta_tex(eta: float) -> str:
    """η for a matplotlib legend: $2^{k}$ for powers of two."""
    k = math.log2(eta) if eta > 0 else math.nan
    if math.isfinite(k) and abs(k - round(k)) < 1e-12:
        return f"η = $2^{{{int(round(k))}}}$"
    return f"η = {eta:.3g}"


def worst(values) -> float | None:
    """The largest finite value, or None when there is none."""
    v = np.asarray(values, dtype=np.float64)
    v = v[np.isfinite(v)]
    return float(v.max()) if v.size else None
