"""Per-step records and exact running statistics for the network engines (two-layer NTK net,
3-layer net), with the linear engine's semantics (:mod:`eoscheck.gd`): a row is *diverged*
from the first step its state is not finite, and its later records are NaN; "last increase"
counts L(w_t) > L(w_{t−1})(1 + INCREASE_RTOL) (and strictly, in ``last_increase_strict``);
"first below c/η" is the first t with ln L(w_t) ≤ ln c − ln η.
"""

from __future__ import annotations

import math

import numpy as np
import torch

from ._errors import EoscheckError
from .gd import INCREASE_RTOL
from .trajectory import RECORDED


class Recorder:
    """Per-step records and exact trackers for K runs, with the linear engine's semantics.

    ``observe(t, q, ok)`` takes the (K,) quantities of step t (keys of
    :data:`RECORDED` except the averages; missing ones stay NaN) and a (K,)
    mask of rows whose state is finite; a row is *diverged* from the first
    step it is not, and its later records are NaN.
    """

    def __init__(self, eta: torch.Tensor, rec: np.ndarray, sharp_steps: np.ndarray):
        K = eta.shape[0]
        dev, dt = eta.device, eta.dtype
        self.eta = eta
        self.rec_pos = {int(t): j for j, t in enumerate(rec)}
        self.sharp_pos = {int(t): j for j, t in enumerate(sharp_steps)}
        self.out = {k: torch.full((K, len(rec)), math.nan, dtype=dt, device=dev) for k in RECORDED}
        self.sharp = torch.full((K, len(sharp_steps)), math.nan, dtype=dt, device=dev)
        self.cum_L = torch.zeros(K, dtype=dt, device=dev)
        self.cum_G = torch.zeros(K, dtype=dt, device=dev)
        self.prev = torch.full((K,), math.inf, dtype=dt, device=dev)
        minus1 = torch.full((K,), -1, dtype=torch.int64, device=dev)
        self.last_inc, self.last_inc_strict = minus1.clone(), minus1.clone()
        self.below1, self.below2, self.diverged = minus1.clone(), minus1.clone(), minus1.clone()
        self.max_log = torch.full((K,), -math.inf, dtype=dt, device=dev)
        self.argmax = torch.zeros(K, dtype=torch.int64, device=dev)
        self.alive = torch.ones(K, dtype=torch.bool, device=dev)
        self.log_thr1 = -torch.log(eta)
        self.log_thr2 = math.log(2) - torch.log(eta)

    def observe(self, t: int, q: dict[str, torch.Tensor], ok: torch.Tensor) -> torch.Tensor:
        """Record step t; returns the (K,) mask of rows still alive (to be updated)."""
        newly = self.alive & ~ok
        if bool(newly.any()):
            self.diverged = torch.where(newly, torch.full_like(self.diverged, t), self.diverged)
            self.alive = self.alive & ok
        alive = self.alive
        j = self.rec_pos.get(t)
        if j is not None:
            nan = torch.full_like(self.cum_L, math.nan)
            q = dict(q, avg_loss=self.cum_L / t if t else nan, avg_G=self.cum_G / t if t else nan)
            for k, v in q.items():
                if k in self.out:
                    self.out[k][:, j] = torch.where(alive, v, nan)
        log_L = q["log_loss"]
        tt = torch.full_like(self.last_inc, t)
        self.last_inc = torch.where(alive & (log_L > self.prev + math.log1p(INCREASE_RTOL)), tt, self.last_inc)
        self.last_inc_strict = torch.where(alive & (log_L > self.prev), tt, self.last_inc_strict)
        self.below1 = torch.where(alive & (self.below1 < 0) & (log_L <= self.log_thr1), tt, self.below1)
        self.below2 = torch.where(alive & (self.below2 < 0) & (log_L <= self.log_thr2), tt, self.below2)
        up = alive & (log_L > self.max_log)
        self.max_log = torch.where(up, log_L, self.max_log)
        self.argmax = torch.where(up, tt, self.argmax)
        self.prev = torch.where(alive, log_L, self.prev)
        self.cum_L = self.cum_L + torch.where(alive, q["loss"], torch.zeros_like(self.cum_L))
        self.cum_G = self.cum_G + torch.where(alive, q["G"], torch.zeros_like(self.cum_G))
        return alive

    def wants_sharpness(self, t: int) -> bool:
        return t in self.sharp_pos

    def record_sharpness(self, t: int, values: torch.Tensor) -> None:
        self.sharp[:, self.sharp_pos[t]] = torch.where(self.alive, values, torch.full_like(values, math.nan))

    def results(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        records = {k: v.cpu().numpy() for k, v in self.out.items()}
        stats = {
            "diverged_at": self.diverged.cpu().numpy(),
            "last_increase": self.last_inc.cpu().numpy(),
            "last_increase_strict": self.last_inc_strict.cpu().numpy(),
            "first_below_1_over_eta": self.below1.cpu().numpy(),
            "first_below_2_over_eta": self.below2.cpu().numpy(),
            "max_loss": torch.exp(self.max_log).cpu().numpy(),
            "argmax_loss": self.argmax.cpu().numpy(),
        }
        return records, stats, self.sharp.cpu().numpy()


def sharpness_grid(steps: int, every: int | None) -> np.ndarray:
    """Checkpoints 0, k, 2k, …, T for sharpness (none when ``every`` is falsy)."""
    if not every:
        return np.zeros(0, dtype=np.int64)
    if int(every) != every or every < 1:
        raise EoscheckError(f"sharpness_every must be a positive integer, got {every}")
    return np.unique(np.concatenate([np.arange(0, steps + 1, int(every)), [steps]])).astype(np.int64)


def check_steps(steps: int) -> int:
    if int(steps) != steps or steps < 0:
        raise EoscheckError(f"steps must be a non-negative integer, got {steps}")
    return int(steps)
