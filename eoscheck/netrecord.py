"""The network engines' (two-layer NTK net, 3-layer net) view of the one GD recorder.

The records, the exact running statistics and the divergence rule are
:class:`eoscheck.recorder.GDRecorder`'s, shared with the linear engines; this adapter only
hands it the (K,) torch quantities of a step and gives back the mask of runs still shown as a
tensor on the run's device, so that the network step can freeze the diverged rows.
"""

from __future__ import annotations

import numpy as np
import torch

from .gdinputs import check_steps, checkpoint_grid
from .recorder import GDRecorder
from .trajectory import RECORDED

__all__ = ["Recorder", "check_steps", "sharpness_grid"]

#: Sharpness checkpoints 0, k, 2k, …, T (the linear engines' grid).
sharpness_grid = checkpoint_grid


class Recorder:
    """Per-step records and trackers for K network runs with stepsizes ``eta`` (a tensor)."""

    def __init__(self, eta: torch.Tensor, rec: np.ndarray, sharp_steps: np.ndarray):
        self.device = eta.device
        self.recorder = GDRecorder(eta, rec, sharp_steps, RECORDED)
        self.shown = np.ones(eta.shape[0], dtype=bool)

    @property
    def alive(self) -> torch.Tensor:
        """(K,) mask of the runs that have not diverged so far (before the next step)."""
        return torch.as_tensor(self.recorder.alive, device=self.device)

    def observe(self, t: int, q: dict[str, torch.Tensor], ok: torch.Tensor) -> torch.Tensor:
        """Record step t (``q``: (K,) quantities with ``loss``, ``log_loss``, ``G``; ``ok``: the
        run's state and step are finite); returns the (K,) mask of runs shown at t."""
        self.shown = self.recorder.observe(t, q, ok)
        return torch.as_tensor(self.shown, device=self.device)

    def wants_sharpness(self, t: int) -> bool:
        return self.recorder.wants_sharpness(t)

    def record_sharpness(self, t: int, values: torch.Tensor) -> None:
        self.recorder.record_sharpness_at(t, values, self.shown)

    def results(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        return self.recorder.results()
