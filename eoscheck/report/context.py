"""What every section needs: the configuration, the cache, named datasets, cached runs, figures,
and the small numerical helpers of the comparisons (floating-point allowance, log–log slopes)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .._errors import EoscheckError
from ..codehash import code_hash
from ..datasets import Dataset, digits08, get_dataset
from ..properties.numerics import loglog_fit
from ..provenance import array_hash
from ..resources import single_torch_thread
from ..trajectory import Trajectory
from .cache import RunCache, default_cache_dir

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
    #: Hypothesis seed of the claims (§7): the report's explicit ``--seed``, else None (seed 0, ``properties.search.UNSEEDED``).
    claims_seed: int | None = None
    cache: RunCache | None = None
    progress: bool = False
    extras: dict[str, Any] = field(default_factory=dict)
    _data: dict[str, Dataset] = field(default_factory=dict)
    _used: dict[str, Dataset] = field(default_factory=dict)
    _net_used: dict[tuple, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.out = Path(self.out)
        if self.cache is None:
            self.cache = RunCache(default_cache_dir())

    # --- datasets ---------------------------------------------------------------------
    def data(self, spec: str) -> Dataset:
        """A dataset by spec: ``toy``, ``toy-normalized``, ``thm3:GAMMA``,
        ``synthetic:n=..,d=..,gamma=..`` (seeded by the report seed), ``digits08``,
        ``digits08-normalized`` (optionally ``:n_per_class=K``)."""
        if spec not in self._data:
            self._data[spec] = load_dataset(spec, self.seed)
        return self._data[spec]

    def datasets_used(self) -> list[Dataset]:
        """Every dataset a GD run of this report ran on (:meth:`gd`), in first-use order."""
        return list(self._used.values())

    def network_datasets_used(self) -> list[dict[str, Any]]:
        """One row per dataset a network run of this report ran on (:meth:`ntk`, :meth:`mlp3`): the
        engine, name, shape, classes, the data's hash and where it came from, in first-use order."""
        return list(self._net_used.values())

    def _note_network_data(self, engine: str, name: str, X: np.ndarray, labels: np.ndarray, source: str,
                           data_hash: str) -> None:
        self._net_used.setdefault((engine, data_hash), {
            "run": engine, "dataset": name, "n": int(X.shape[0]), "d": int(X.shape[1]),
            "classes": int(len(np.unique(labels))), "data hash": data_hash, "source": source[:120]})

    # --- progress ---------------------------------------------------------------------
    def status(self, what: str) -> None:
        """Show what the report is doing now (dataset, η, run) beside the section bar."""
        bar = self.extras.get("bar")
        if bar is not None:
            bar.set_description_str(f"{self.extras.get('bar_desc', 'report')} · {what[:70]}", refresh=True)

    # --- runs -------------------------------------------------------------------------
    def gd(self, label: str, data: Dataset, loss: Any, etas: Sequence[float], steps: int, *,
           grid: str = "all", grid_points: int | None = None, sharpness_every: int | None = None) -> Trajectory:
        """GD on a linear model (:func:`eoscheck.gd.run_gd`), cached by configuration.

        ``loss`` is a spec string or a :class:`~eoscheck.losses.Loss` (keyed by its name and expression).
        Per-run progress bars are shown for runs of at least 2¹⁴ steps.
        """
        from ..gd import run_gd

        etas = [float(e) for e in etas]
        self._used.setdefault(data.name, data)
        key = loss if isinstance(loss, str) else f"{loss.name}: {loss.expr}"
        config = {"engine": "gd", "data": data.name, "data_hash": array_hash(data.X, data.y), "loss": key,
                  "etas": etas, "steps": int(steps), "grid": grid, "grid_points": grid_points,
                  "sharpness_every": sharpness_every, "device": self.device}
        self.status(f"{label}: {data.name}, {_etas_text(etas)}, {int(steps)} steps")
        return self.cache.trajectory("gd", label, config, lambda: run_gd(
            data, loss, etas, int(steps), device=self.device, grid=grid, grid_points=grid_points,
            sharpness_every=sharpness_every, progress=self.progress and steps >= 2**14))

    def ntk(self, label: str, data: Dataset, loss: str, etas: Sequence[float], steps: int, *, width: int,
            delta: float = 0.05) -> Trajectory:
        """GD on Theorem 6's two-layer network (:func:`eoscheck.networks.run_ntk`), cached."""
        from ..networks import run_ntk

        etas = [float(e) for e in etas]
        digest = array_hash(data.X, data.y)
        self._note_network_data("ntk", data.name, data.X, data.y, str(data.meta.get("source", "")), digest)
        config = {"engine": "ntk", "data": data.name, "data_hash": digest, "loss": loss,
                  "etas": etas, "steps": int(steps), "width": int(width), "seed": self.seed, "delta": delta,
                  "device": self.device}
        def compute():
            with single_torch_thread(self.device):
                return run_ntk(data, loss, etas, int(steps), width=int(width), seed=self.seed, delta=delta,
                               device=self.device, progress=self.progress)

        self.status(f"{label}: NTK width {int(width)}, {_etas_text(etas)}, {int(steps)} steps")
        return self.cache.trajectory("ntk", label, config, compute)

    def mlp3(self, label: str, etas: Sequence[float], steps: int, *, n: int, hidden: Sequence[int],
             sharpness_every: int, loss: str = "cross_entropy", activation: str = "tanh") -> Trajectory:
        """The slides' 3-layer net (:func:`eoscheck.mlp.run_mlp3`) on the first ``n`` offline digits, cached
        (keyed by the data's hash; the loss and activation enter the key where they are not the defaults)."""
        from ..mlp import mlp3_data, run_mlp3

        X, lab, name, meta = mlp3_data(None, int(n))
        digest = array_hash(X, lab)
        self._note_network_data("mlp3", name, X, lab, str(meta.get("source", "")), digest)
        etas = [float(e) for e in etas]
        config = {"engine": "mlp3", "etas": etas, "steps": int(steps), "n": int(n), "hidden": list(hidden),
                  "sharpness_every": int(sharpness_every), "seed": self.seed, "device": self.device,
                  "data_hash": digest}
        if (loss, activation) != ("cross_entropy", "tanh"):
            config.update(loss=loss, activation=activation)
        def compute():
            with single_torch_thread(self.device):
                return run_mlp3(None, etas, int(steps), n=int(n), hidden=tuple(int(h) for h in hidden),
                                seed=self.seed, device=self.device, sharpness_every=int(sharpness_every),
                                progress=self.progress, loss=loss, activation=activation)

        self.status(f"{label}: 3-layer net, {_etas_text(etas)}, {int(steps)} steps")
        return self.cache.trajectory("mlp3", label, config, compute)

    def cached(self, kind: str, label: str, config: dict[str, Any], compute) -> Any:
        """A JSON-able result that depends on the engine and the encoded bounds (a derivation, an
        audit, a scan), cached like the runs."""
        return self.cache.json(kind, label, config, compute, code=code_hash("eoscheck", "eoscheck.bounds"))

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

    def save_figure(self, fig, name: str, number: str, caption: str):
        """Write ``fig`` as figure ``name`` of the report and return its :class:`~.document.Figure`
        (numbered ``number``, with ``caption``) for ``sec.figure``."""
        from ..plotting import save_figure
        from .document import Figure

        path, rel = self.figure_file(name)
        save_figure(fig, path)
        return Figure(number, rel, caption)


def _etas_text(etas: Sequence[float]) -> str:
    return f"η = {etas[0]:.3g}" if len(etas) == 1 else f"{len(etas)} η in [{min(etas):.3g}, {max(etas):.3g}]"


def load_dataset(spec: str, seed: int = 0) -> Dataset:
    """A report dataset spec ``NAME[-normalized][:ARGS]`` through :func:`eoscheck.datasets.get_dataset`.

    ``ARGS`` is ``GAMMA`` (``thm3:0.05``) or ``k=v,…`` with get_dataset's keywords (gamma, n, d, seed;
    the report's seed by default) and ``n_per_class`` for ``digits08``; ``-normalized`` scales the data
    to maxᵢ‖xᵢ‖ = 1 (:meth:`Dataset.normalize`).
    """
    name, _, arg = spec.partition(":")
    base = name[: -len("-normalized")] if name.endswith("-normalized") else name
    kw: dict[str, Any] = {"seed": seed}
    npc = None
    for item in filter(None, arg.split(",")):
        k, eq, v = item.partition("=")
        if not eq:
            kw["gamma"] = float(k)
        elif k.strip() == "n_per_class":
            npc = int(v)
        elif k.strip() in ("n", "d", "seed"):
            kw[k.strip()] = int(v)
        elif k.strip() == "gamma":
            kw["gamma"] = float(v)
        else:
            raise EoscheckError(f"report dataset {spec!r}: unknown argument {k.strip()!r}")
    if npc is not None:
        if base != "digits08":
            raise EoscheckError(f"report dataset {spec!r}: n_per_class applies to digits08 only")
        full = digits08(npc)
        data = Dataset(full.X, full.y, name=f"digits08(n_per_class={npc})", meta=dict(full.meta, n_per_class=npc))
    else:
        data = get_dataset(base, **kw)
    return data.normalize() if base != name else data


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


#: Losses at or below this are at the floating-point floor: within a few hundred ulps of the smallest
#: normal float64 (2.2e-308), where L(w) = Σ exp(−mᵢ)/n and its gradient have lost their relative
#: precision and a GD step no longer moves w (η·∇L below ulp(w)); a slope fitted there measures rounding.
FLOAT_FLOOR = 1e-300

#: A fitted decay steeper than this many times the predicted power is not a power law: the loss falls
#: like exp(−Θ(η)) once the data are separated (the perceptron-like regime, paper §9.6), whose local
#: log–log slope grows without bound; a power-law upper bound is then neither confirmed nor refuted.
STEEP_FACTOR = 3.0

INCONCLUSIVE_FLOOR = "inconclusive (floating-point floor / perceptron regime)"
#: A slope shallower than predicted whose 95 % interval still reaches the prediction: a trend, not a finding.
INCONCLUSIVE_SPREAD = "inconclusive (the fit's 95 % interval reaches the prediction)"


#: "Stalled": L(T) ≥ L(T/2)·(1 − 1e-9).  A stalled loss (w + ηg rounds to w) still moves by rounding,
#: ~n·u ≈ 1e-14 relative for a mean of n ≤ 10⁴ terms; a live stable phase falls by a factor ~2 over
#: [T/2, T] (rate 1/t) — 1e-9 separates the two by five orders of magnitude either way.
STALL_RTOL = 1e-9


def stalled(traj) -> np.ndarray:
    """Per stepsize of a run: its loss stopped falling over [T/2, T] (L(T) ≥ L(T/2)·(1 − STALL_RTOL)).

    Either a float64 freeze — η·∇L below ulp(w), so w + ηg rounds to w and L(w_T) no longer depends on T
    (η = 16384 on Theorem 3's data: L = 6.288e-20 at every T ≥ 2¹⁴) — or a run still in its EoS phase.
    Neither L(w_T) is a stable-phase rate.  Diverged runs (L not finite) are not stalled."""
    loss = np.asarray(traj.records["loss"], dtype=np.float64)
    T = int(traj.step[-1])
    half = int(np.argmin(np.abs(np.asarray(traj.step) - T // 2)))
    LT, Lh = loss[:, -1], loss[:, half]
    with np.errstate(invalid="ignore"):
        return np.isfinite(LT) & ~(LT < Lh * (1 - STALL_RTOL))


def margin_text(data) -> str:
    """"γ* = 0.1995 (certified: the true max margin within 3e-17 above)": the certified lower end the bounds use,
    with its certificate's gap (:meth:`eoscheck.datasets.Dataset.max_margin`)."""
    mm = data.max_margin()
    return f"γ* = {mm.gamma:.4g} (certified: the true max margin within {mm.gap:.1g} above)"


def decay_slope(T, L, predicted: float, tol: float, stall=None) -> dict[str, Any]:
    """A fitted decay rate of L(w_T) in T checked against an O(T^predicted) upper bound (predicted < 0).

    The fit uses only budgets where L is representable (``L > FLOAT_FLOOR``) and still falling (not
    ``stall``, see :func:`stalled`; at least two).  Outcome:
    ``consistent`` when predicted·STEEP_FACTOR ≤ slope and the slope's whole 95 % interval
    (:func:`~eoscheck.properties.numerics.loglog_fit`; the slope itself for two points) lies at or below
    predicted + tol; ``INCONSISTENT`` when the whole interval is shallower than predicted + tol;
    :data:`INCONCLUSIVE_SPREAD` when the interval contains predicted + tol (either side: the rule is symmetric, a
    wide interval decides neither way); :data:`INCONCLUSIVE_FLOOR` when fewer than two budgets are
    representable or the slope is steeper than STEEP_FACTOR × predicted.  Returns the slope, its 95 %
    half-width (``halfwidth``), the outcome, the number of points fitted and the reason.
    """
    T = np.asarray(T, dtype=np.float64)
    L = np.asarray(L, dtype=np.float64)
    stall = np.zeros(T.shape, dtype=bool) if stall is None else np.asarray(stall, dtype=bool)
    ok = np.isfinite(L) & (L > FLOAT_FLOOR) & (T > 0) & ~stall
    slope, half = loglog_fit(T[ok], L[ok]) if ok.sum() >= 2 else (math.nan, math.nan)
    lo = slope - (half if math.isfinite(half) else 0.0)
    hi = slope + (half if math.isfinite(half) else 0.0)
    floor_hit = bool((~ok).any())
    if not math.isfinite(slope):
        outcome, why = INCONCLUSIVE_FLOOR, (f"{int(ok.sum())} budget(s) above the float64 floor {FLOAT_FLOOR:g} "
                                            "and still falling")
    elif lo > predicted + tol:
        outcome, why = "INCONSISTENT", f"slope {slope:.3g} ± {half:.2g} shallower than {predicted:.3g} + {tol:g}"
    elif hi > predicted + tol:
        outcome, why = INCONCLUSIVE_SPREAD, (f"slope {slope:.3g} {'shallower' if slope > predicted + tol else 'steeper'}"
                                             f" than {predicted:.3g} + {tol:g}, but its 95 % interval (± {half:.2g}) "
                                             "reaches the other side")
    elif slope < STEEP_FACTOR * predicted:
        outcome, why = INCONCLUSIVE_FLOOR, f"slope {slope:.3g} steeper than {STEEP_FACTOR:g}× the predicted {predicted:.3g}"
    else:
        outcome, why = "consistent", f"slope {slope:.3g} within [{STEEP_FACTOR * predicted:.3g}, {predicted + tol:.3g}]"
    if floor_hit and math.isfinite(slope):
        why += f" (fitted on the {int(ok.sum())} budgets above the floor and still falling)"
    return {"slope": slope, "halfwidth": half, "outcome": outcome, "points": int(ok.sum()), "stalled": int(stall.sum()),
            "why": why}


def plot_above_floor(ax, x, y, floor: float, style: str = "o-", lane: int = 0, **kw):
    """Plot y against x where y > floor, and mark each point below it (down to exactly 0) by a ▼ just above
    the axes' bottom edge (whatever the y-limits) instead of a line dropping off the plot; the line's artist.  ``lane`` shifts the
    ▼ by 4 points per lane sideways, so several curves' marks at one x stay visible (:func:`floor_lanes`)."""
    from matplotlib.transforms import offset_copy

    x = np.asarray(x, dtype=np.float64)
    y = np.asarray(y, dtype=np.float64)
    above = np.isfinite(y) & (y > floor)
    line = ax.plot(np.where(above, x, np.nan), np.where(above, y, np.nan), style, **kw)[0]
    below = np.isfinite(y) & ~above
    if below.any():
        # x in data, y on the axes' bottom edge (axes coordinates), whatever y-limits the caller sets: drawn at
        # y = floor, the marks landed on the tick labels when the limits stopped above the floor
        shifted = offset_copy(ax.get_xaxis_transform(), fig=ax.figure, x=4.0 * lane, y=5.0, units="points")
        ax.plot(x[below], np.zeros(below.sum()), "v", color=line.get_color(), ms=6, clip_on=False,
                transform=shifted)
    return line


def floor_lanes(curves, floor: float) -> list[int]:
    """The ``lane`` of each curve for :func:`plot_above_floor`: the curves with a point at or below ``floor``
    get lanes centred on 0 in their order, the others 0."""
    marked = [i for i, y in enumerate(curves) if (np.isfinite(y) & ~(np.asarray(y, dtype=np.float64) > floor)).any()]
    lanes = [0] * len(curves)
    for j, i in enumerate(marked):
        lanes[i] = j - (len(marked) - 1) // 2
    return lanes


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
