"""Figures in the style of the paper's Fig. 1: L(w_t) and L(w_t)·ηt against t, log–log."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402

from .outputs import atomic_write  # noqa: E402
from .trajectory import Trajectory  # noqa: E402


def save_figure(fig, path: str | Path) -> Path:
    """Save a matplotlib figure as PNG atomically (never a half-written file) and close it."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, lambda fh: fig.savefig(fh, format="png", dpi=120))
    plt.close(fig)
    return path


def _eta_label(eta: float) -> str:
    k = np.log2(eta)
    return f"η = $2^{{{k:g}}}$" if abs(k - round(k)) < 1e-12 else f"η = {eta:g}"


def plot_fig1(traj: Trajectory, path: str | Path, title: str = "", sharpness: bool = False) -> Path:
    """Two panels (Fig. 1 (a)/(b) style): L(w_t) and L(w_t)·ηt against t on log₂ axes.

    With ``sharpness`` and recorded sharpness, a third panel shows λ_max(∇²L) against 2/η.
    """
    ncol = 3 if sharpness and traj.sharpness.size else 2
    fig, axes = plt.subplots(1, ncol, figsize=(5.2 * ncol, 4.2), constrained_layout=True)
    t = traj.step.astype(float)
    pos = t > 0
    colors = plt.cm.viridis(np.linspace(0.0, 0.9, traj.K))
    for k, eta in enumerate(traj.eta):
        L = traj.records["loss"][k]
        label = _eta_label(eta) + (" (diverged)" if traj.diverged[k] else "")
        axes[0].plot(t[pos], L[pos], color=colors[k], lw=1.2, label=label)
        axes[1].plot(t[pos], (L * eta * t)[pos], color=colors[k], lw=1.2, label=label)
        if ncol == 3:
            axes[2].plot(traj.sharpness_step, traj.sharpness[k], color=colors[k], lw=1.2, label=label)
            axes[2].axhline(2 / eta, color=colors[k], ls="--", lw=0.8)
    axes[0].set_ylabel("training loss L(w_t)")
    axes[1].set_ylabel("L(w_t) · η t")
    for ax in axes[:2]:
        ax.set_xscale("log", base=2)
        ax.set_yscale("log", base=2)
        ax.set_xlabel("step t")
        ax.grid(True, which="major", alpha=0.3)
    if ncol == 3:
        axes[2].set_xlabel("step t")
        axes[2].set_ylabel("sharpness λ_max(∇²L)  (dashed: 2/η)")
        axes[2].set_yscale("log")
        axes[2].grid(True, alpha=0.3)
    axes[0].legend(fontsize=8)
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)
