"""Figures in the style of the paper's Fig. 1: L(w_t) and L(w_t)·ηt against t, log–log.

Importing this module selects no matplotlib backend: in a notebook the figures show inline, in a
script they follow the user's backend. ``offscreen=True`` builds a bare :class:`~matplotlib.figure.Figure`
(no pyplot, no GUI, rendered by Agg when saved) — what the command line uses to write files.
Every plot function takes ``ax=None`` (draw into the caller's axes) and returns the Figure.

Divergence is data: values that left the float64 range (±inf, NaN after the divergence step)
are not drawn, the plotted values are clipped to [2⁻³⁰⁰, 2³⁰⁰] (log axes), and the step where
a stepsize diverged is marked (× and a dotted line).
"""

from __future__ import annotations

import io
from pathlib import Path
from typing import Sequence

import numpy as np

from ._errors import EoscheckError
from .outputs import atomic_write

FORMATS = ("png", "svg", "pdf")
_CLIP = (2.0**-300, 2.0**300)  # ±300 octaves: axis margins and ticks (which extend past the data) stay finite


def _pyplot():
    import matplotlib.pyplot as plt

    return plt


def new_figure(ncols: int = 1, *, offscreen: bool = False, width: float = 5.2, height: float = 4.2):
    """A figure with ``ncols`` panels: through pyplot (shown inline), or bare when ``offscreen``."""
    size = (width * ncols, height)
    if offscreen:
        from matplotlib.figure import Figure

        fig = Figure(figsize=size, layout="constrained")
        return fig, list(np.atleast_1d(fig.subplots(1, ncols)))
    fig, axes = _pyplot().subplots(1, ncols, figsize=size, layout="constrained")
    return fig, list(np.atleast_1d(axes))


def figure_bytes(fig, fmt: str = "png", dpi: int = 120) -> bytes:
    """The figure rendered as ``fmt`` (png, svg or pdf)."""
    if fmt not in FORMATS:
        raise EoscheckError(f"unknown figure format {fmt!r}; use one of {', '.join(FORMATS)}")
    buf = io.BytesIO()
    fig.savefig(buf, format=fmt, dpi=dpi, metadata={"CreationDate": None} if fmt == "pdf" else None)
    return buf.getvalue()


def save_figure(fig, path: str | Path, fmt: str | None = None) -> Path:
    """Save a figure atomically (never a half-written file), format from ``fmt`` or the suffix (png
    when there is none; another suffix is refused rather than given bytes of another format); close it."""
    path = Path(path)
    suffix = path.suffix[1:].lower()
    if fmt is None and suffix and suffix not in FORMATS:
        if getattr(fig.canvas, "manager", None) is not None:
            _pyplot().close(fig)
        raise EoscheckError(f"cannot save a figure as {path.name}: use a .png, .svg or .pdf name (or pass fmt)")
    fmt = fmt or suffix or "png"
    atomic_write(path, figure_bytes(fig, fmt))
    if getattr(fig.canvas, "manager", None) is not None:  # a pyplot figure: release it
        _pyplot().close(fig)
    return path


def log_axes(ax, xlabel: str, ylabel: str, title: str | None = None, *, xbase: float | None = 10,
             ybase: float = 10, title_size: float | None = None) -> None:
    """The report's axes: log scales (x linear where ``xbase`` is None), labels, title (at
    ``title_size``, else matplotlib's title size) and a light grid."""
    if xbase is not None:
        ax.set_xscale("log", base=xbase)
    ax.set_yscale("log", base=ybase)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if title is not None:
        ax.set_title(title, **({} if title_size is None else {"fontsize": title_size}))
    ax.grid(True, alpha=0.3)


def _eta_label(eta: float) -> str:
    k = np.log2(eta)
    return f"η = $2^{{{k:g}}}$" if abs(k - round(k)) < 1e-12 else f"η = {eta:.4g}"


def plottable(values: np.ndarray) -> np.ndarray:
    """Values for a log axis: non-finite and non-positive ones become NaN (not drawn), the rest are
    clipped to [2⁻³⁰⁰, 2³⁰⁰] so that axis limits, margins and ticks stay finite."""
    v = np.asarray(values, dtype=np.float64)
    with np.errstate(invalid="ignore"):
        ok = np.isfinite(v) & (v > 0)
    return np.where(ok, np.clip(np.where(ok, v, 1.0), *_CLIP), np.nan)


def _log_loss(traj, k: int) -> np.ndarray:
    rec = traj.records
    if "log_loss" in rec:
        return np.asarray(rec["log_loss"][k], dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.log(np.asarray(rec["loss"][k], dtype=np.float64))


def from_log(log_values: np.ndarray) -> np.ndarray:
    """exp of log-domain values for a log axis: ±inf and overflow clip to 2^±300, NaN stays NaN."""
    lim = 300 * np.log(2.0)
    with np.errstate(invalid="ignore"):
        return np.exp(np.clip(log_values, -lim, lim))


def _prefer(values: np.ndarray, fallback: np.ndarray) -> np.ndarray:
    return np.where(np.isfinite(values), values, fallback)


#: Up to this many stepsizes the legend beside the panels takes size-8 text (more: 7).
LEGEND_LARGE_MAX = 8
#: Above this many stepsizes a colour bar of η replaces the legend, and the curves are line collections (200
#: stepsizes collapsed the panels under their legend, with matplotlib's layout warning; 20,000 plotted for minutes).
LEGEND_MAX = 32


def plot_fig1(traj, path: str | Path | None = None, title: str = "", sharpness: bool = False, *,
              ax=None, offscreen: bool = False, fmt: str | None = None):
    """Fig. 1 (a)/(b) style: L(w_t) and L(w_t)·ηt against t on log₂ axes; returns the Figure.

    ``sharpness`` (with recorded sharpness) adds a third panel, λ_max(∇²L) against 2/η.
    ``ax``: one Axes (the loss panel only) or one Axes per panel; ``path``: also save the figure
    there (format from ``fmt`` or the suffix). A diverged stepsize is drawn up to its last finite
    value and marked with × at the divergence step.
    """
    want_sharp = bool(sharpness and traj.sharpness.size)
    ncol = 3 if want_sharp else 2
    if ax is None:
        fig, axes = new_figure(ncol, offscreen=offscreen)
    else:
        axes = list(ax) if isinstance(ax, Sequence) or isinstance(ax, np.ndarray) else [ax]
        fig = axes[0].figure
        want_sharp = want_sharp and len(axes) >= 3
    t = traj.step.astype(float)
    pos = t > 0
    import matplotlib

    many = traj.K > LEGEND_MAX and ax is None
    norm = None
    if many:       # coloured by η on a log scale (a colour bar, not a legend of K entries), drawn as line collections
        from matplotlib.colors import LogNorm

        lo, hi = float(np.min(traj.eta)), float(np.max(traj.eta))
        norm = LogNorm(lo, hi if hi > lo else lo * 2)
        colors = matplotlib.colormaps["viridis"](0.9 * norm(np.asarray(traj.eta, dtype=np.float64)))
        lines: list[list] = [[], [], []]
    else:
        colors = matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, traj.K))
    drawn = [False, False, False]
    for k, eta in enumerate(traj.eta):
        div = int(traj.stats["diverged_at"][k]) if "diverged_at" in traj.stats else -1
        label = _eta_label(eta) + (f" (diverged at t = {div})" if div >= 0 else "")
        log_l = _log_loss(traj, k)
        loss = np.asarray(traj.records["loss"][k], dtype=np.float64)
        with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
            # the recorded values where they are finite; from ln L (clipped) where L over/underflowed
            panels = [_prefer(plottable(loss), from_log(log_l)),
                      _prefer(plottable(loss * eta * t), from_log(log_l + np.log(eta) + np.log(t)))]
        for i, (a, values) in enumerate(zip(axes[:2], panels)):
            y = values[pos]
            if many:
                lines[i].append(np.column_stack([t[pos], y]))
            else:
                a.plot(t[pos], y, color=colors[k], lw=1.2, label=label)
            drawn[i] |= bool(np.isfinite(y).any())
            if div >= 0:
                _mark_divergence(a, t[pos], y, div, colors[k])
        if want_sharp:
            y = plottable(traj.sharpness[k])
            if many:
                lines[2].append(np.column_stack([traj.sharpness_step, y]))
            else:
                axes[2].plot(traj.sharpness_step, y, color=colors[k], lw=1.2, label=label)
                axes[2].axhline(2 / eta, color=colors[k], ls="--", lw=0.8)
            drawn[2] |= bool(np.isfinite(y).any())
    if many:
        from matplotlib.collections import LineCollection

        for a, segs in zip(axes, lines):
            if segs:
                a.add_collection(LineCollection(segs, colors=colors, lw=0.8))
                a.autoscale_view()
        if want_sharp:
            axes[2].add_collection(LineCollection([[(0, 2 / e), (traj.sharpness_step[-1], 2 / e)] for e in traj.eta],
                                                  colors=colors, linestyles="--", lw=0.6))
    names = ["training loss L(w_t)", "L(w_t) · η t"]
    for a, ok in zip(axes[:3] if want_sharp else axes[:2], drawn):
        if not ok:  # every value diverged: nothing positive to scale (nor any step t ≥ 1 drawn: x limits too)
            a.set_ylim(0.5, 2.0)
            a.set_xlim(1, max(2, traj.steps))
            a.text(0.5, 0.5, "no finite values (diverged)", transform=a.transAxes, ha="center", va="center")
    for a, name in zip(axes[:2], names):
        a.set_ylabel(name)
        a.set_xscale("log", base=2)
        a.set_yscale("log", base=2)
        a.set_xlabel("step t")
        a.grid(True, which="major", alpha=0.3)
    if want_sharp:
        axes[2].set_xlabel("step t")
        axes[2].set_ylabel("sharpness λ_max(∇²L)  (dashed: 2/η)")
        axes[2].set_yscale("log")
        axes[2].grid(True, alpha=0.3)
    if many:
        from matplotlib.cm import ScalarMappable

        from matplotlib.colors import ListedColormap

        cmap = ListedColormap(matplotlib.colormaps["viridis"](np.linspace(0.0, 0.9, 256)))   # the curves' range
        sm = ScalarMappable(norm=norm, cmap=cmap)
        fig.colorbar(sm, ax=axes, label=f"η ({traj.K} stepsizes)", location="right")
    elif ax is None:
        # one entry a stepsize: beside the panels, in columns of ≤ 16, where it hides no curve and is never cut
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside right upper",
                   fontsize=8 if traj.K <= LEGEND_LARGE_MAX else 7, ncol=max(1, -(-traj.K // 16)))
    else:
        axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    if path is not None:
        save_figure(fig, path, fmt)
    return fig


def _mark_divergence(ax, t: np.ndarray, y: np.ndarray, div: int, color) -> None:
    """× at the last drawn value before step ``div`` and a dotted line at ``div`` (if on the axis)."""
    finite = np.flatnonzero(np.isfinite(y) & (t <= div))
    if finite.size:
        i = finite[-1]
        ax.plot([t[i]], [y[i]], marker="x", ms=8, mew=2, color=color, ls="none")
    if div > 0:
        ax.axvline(div, color=color, ls=":", lw=1.0)

