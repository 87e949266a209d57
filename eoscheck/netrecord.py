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
from .recorder import GDRecorder, host
from .resources import RECORD_CHUNK
from .trajectory import RECORDED

__all__ = ["Recorder", "check_steps", "sharpness_grid"]

#: Sharpness checkpoints 0, k, 2k, …, T (the linear engines' grid).
sharpness_grid = checkpoint_grid


class Recorder:
    """Records and trackers for K network runs with stepsizes ``eta`` (a tensor).

    The steps' (K,) quantities stay on the run's device and reach the recorder :data:`CHUNK` steps at a
    time (one host transfer a chunk instead of ~10 a step: the recorder's per-step calls were a quarter
    of an NTK step, measured).  Between hand-overs the run freezes its diverged rows with its own
    mask, shown_t = shown_{t−1} ∧ ok_t — the recorder's rule (a run stops at its first step whose
    state or gradient is not finite, or whose L is NaN) — which every hand-over checks against the recorder's.  ``recorder``: the
    :class:`~eoscheck.recorder.GDRecorder` to hand the steps to (default: one for ``rec`` and ``sharp_steps``; a
    :class:`~eoscheck.recorder.FirstStepRecorder` for :func:`eoscheck.networks.first_steps_ntk`).  ``derive``: the
    step's quantities may be raw tensors of the run, turned into the (S, K) records a chunk at a time by
    ``derive({name: (S, K, …) tensor}) → {name: (S, K) tensor}`` (one call a chunk instead of ~30 small ones a
    step; elementwise and row-wise, so a record is the one a step would have computed).  The compiled engine
    (:mod:`eoscheck.ntkfused`) hands over blocks of steps (:meth:`observe_block`) that end at the hand-overs
    (:attr:`room`) with its own shown mask, checked like the torch engine's."""

    CHUNK = RECORD_CHUNK

    def __init__(self, eta: torch.Tensor, rec: np.ndarray, sharp_steps: np.ndarray,
                 recorder: GDRecorder | None = None, derive=None):
        self.device = eta.device
        self.recorder = GDRecorder(eta, rec, sharp_steps, RECORDED) if recorder is None else recorder
        self._derive = derive
        self._alive = torch.ones(eta.shape[0], dtype=torch.bool, device=self.device)
        self._t0 = 0
        self._steps: list[tuple[dict[str, torch.Tensor], torch.Tensor, torch.Tensor]] = []
        self._count = 0                 # steps buffered
        self._blocks = False            # the buffered entries are blocks of steps (observe_block)

    @property
    def alive(self) -> torch.Tensor:
        """(K,) mask of the runs that have not diverged so far (before the next step)."""
        return self._alive

    def observe(self, t: int, q: dict[str, torch.Tensor], ok: torch.Tensor) -> torch.Tensor:
        """Record step t (``q``: (K,) quantities with ``loss``, ``log_loss``, ``G``; ``ok``: the
        run's state and step are finite); returns the (K,) mask of runs shown at t."""
        self._check_order(t, False)
        ok = torch.as_tensor(ok, device=self.device).to(torch.bool)
        shown = self._alive & ok
        self._alive = shown
        self._steps.append((q, ok, shown))
        self._count += 1
        if self._count >= self.CHUNK:
            self._flush()
        return shown

    @property
    def room(self) -> int:
        """Steps until the next hand-over (a block passed to :meth:`observe_block` may hold at most this many)."""
        return self.CHUNK - self._count

    def observe_block(self, t0: int, q: dict[str, torch.Tensor], ok: torch.Tensor, shown: torch.Tensor) -> None:
        """Record steps t0, t0 + 1, … of a block (``q``: (S, K, …) quantities; ``ok``, ``shown``: (S, K), the run's
        own finiteness rule and mask, which the hand-over checks against the recorder's).  At most :attr:`room`
        steps."""
        self._check_order(t0, True)
        S = int(ok.shape[0])
        if not 0 < S <= self.room:
            raise ValueError(f"a block of {S} steps does not fit the {self.room} left before the hand-over")
        self._alive = shown[-1]
        self._steps.append((q, ok, shown))
        self._count += S
        if self._count >= self.CHUNK:
            self._flush()

    def _check_order(self, t: int, block: bool) -> None:
        if t != self._t0 + self._count:
            raise ValueError(f"steps must be observed in order: got t={t}, expected {self._t0 + self._count}")
        if self._steps and block != self._blocks:
            raise ValueError("a run hands over single steps or blocks of steps, not both")
        self._blocks = block

    @property
    def finished(self) -> bool:
        """The recorder wants no more steps (:attr:`eoscheck.recorder.GDRecorder.finished`; read at the
        hand-overs, every :data:`CHUNK` steps)."""
        return self.recorder.finished

    def wants_sharpness(self, t: int) -> bool:
        return self.recorder.wants_sharpness(t)

    def record_sharpness(self, t: int, values: torch.Tensor) -> None:
        """λ_max at checkpoint t, observed last (NaN where the run is not shown at t)."""
        self.recorder.record_sharpness_at(t, values, self._alive)

    def results(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        self._flush()
        return self.recorder.results()

    def _flush(self) -> None:
        """The buffered steps into the recorder: divergence, the records at the recorded steps, trackers."""
        if not self._steps:
            return
        t0, steps, S = self._t0, self._steps, self._count
        join = torch.cat if self._blocks else torch.stack      # blocks of steps, or single steps
        raw = {k: join([s[0][k] for s in steps]) for k in steps[0][0]}
        Q = {k: host(v).astype(np.float64) for k, v in (raw if self._derive is None else self._derive(raw)).items()}
        ok = host(join([s[1] for s in steps]))
        mine = host(join([s[2] for s in steps]))
        shown, _, _ = self.recorder.divergence(t0, ok, ok)
        if not np.array_equal(shown, mine):
            raise RuntimeError("internal error: the network run froze other rows than the recorder stopped")
        rec_j = self.recorder.recorded(t0, S)
        values = {k: v[rec_j] for k, v in Q.items() if k not in ("loss", "log_loss", "G")}
        self.recorder.observe_chunk(t0, Q.pop("loss"), Q.pop("log_loss"), Q.pop("G"), shown, values)
        self._t0 += S
        self._steps = []
        self._count = 0
