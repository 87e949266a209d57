"""An *instance* of a claim: data, loss, a batch of stepsizes, steps, w₀ — and its cached GD run.

Instances are what Hypothesis draws and shrinks, what a counterexample file
stores, and what :mod:`eoscheck.properties.replay` re-runs.  Runs are cached
in-process (LRU, keyed by the data's hash and the run configuration), so the
claims of one family (e.g. Theorem 1's) that see the same instance share one
batched GD run.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections import OrderedDict
from dataclasses import dataclass, field, replace
from typing import Any, Callable, Mapping

import numpy as np
import torch

from eoscheck._errors import EoscheckError
from eoscheck.datasets import Dataset
from eoscheck.gd import FirstSteps, first_steps, run_gd
from eoscheck.losses import Loss, get_loss
from eoscheck.provenance import array_hash, canonical_json
from eoscheck.trajectory import Trajectory

from .observe import Arrays
from .strategies import Certificate, certificate

#: The instance classes of the models other than linear GD, by ``extra["model"]`` (each registered by the module that
#: defines it: theorem6's "ntk"), so that a saved instance comes back as the class that runs it.
MODELS: dict[str, type] = {}

#: Number of trajectories kept by the in-process run cache.
CACHE_SIZE = 32


class RunCache:
    """The last ``size`` runs of a process, keyed by :meth:`Instance.key`; the least recently used goes first."""

    def __init__(self, size: int):
        self.size = size
        self.runs: "OrderedDict[str, Trajectory]" = OrderedDict()
        self.hits = self.misses = 0

    def run(self, key: str, compute: Callable[[], Trajectory], keep: bool = True) -> Trajectory:
        """The run ``key``: the kept one, else ``compute()`` (kept unless ``keep`` is False: a long run read once)."""
        hit = self.runs.get(key) if keep else None
        if hit is not None:
            self.runs.move_to_end(key)
            self.hits += 1
            return hit
        self.misses += 1
        traj = compute()
        if keep:
            self.runs[key] = traj
            while len(self.runs) > self.size:
                self.runs.popitem(last=False)
        return traj

    def clear(self) -> None:
        self.runs.clear()
        self.hits = self.misses = 0


_RUNS = RunCache(CACHE_SIZE)


@contextlib.contextmanager
def single_thread():
    """Run torch on one thread: property instances are small, and two threads on a
    shared 2-core machine oversubscribe (measured ~10–20× slower for n ≤ 100)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        yield
    finally:
        torch.set_num_threads(old)


def cache_stats() -> dict[str, int]:
    """Hits and misses of the run cache since start (or :func:`clear_cache`)."""
    return {"hits": _RUNS.hits, "misses": _RUNS.misses, "size": len(_RUNS.runs)}


def clear_cache() -> None:
    _RUNS.clear()


@dataclass(frozen=True, eq=False)
class Instance:
    """One drawn configuration: GD with every stepsize in ``etas`` on ``data`` for ``steps`` steps.

    Attributes:
      data: the dataset (its certificate (γ*, w*) in ``meta``; see :func:`certificate`).
      loss: a loss spec string for :func:`eoscheck.losses.get_loss` (e.g. ``"flat_poly:a=2.0"``).
      etas: the stepsizes of one batched run.
      steps: T, the number of GD steps.
      w0: initial point (``None`` = 0).
      extra: claim-specific values (JSON-able), e.g. a comparator direction.
    """

    data: Dataset
    loss: str = "logistic"
    etas: tuple[float, ...] = (1.0,)
    steps: int = 1000
    w0: tuple[float, ...] | None = None
    extra: Mapping[str, Any] = field(default_factory=dict)

    @property
    def cert(self) -> Certificate:
        return certificate(self.data)

    @property
    def gamma(self) -> float:
        """The certified lower end of γ* (a valid margin with ``cert.w_star``)."""
        return self.cert.gamma

    @property
    def gamma_hi(self) -> float:
        """The certified upper end of γ*: γ* ∈ [gamma, gamma_hi] (:func:`strategies.certify`)."""
        return self.cert.gamma_hi

    @property
    def loss_obj(self) -> Loss:
        return get_loss(self.loss)

    @property
    def eta(self) -> np.ndarray:
        return np.asarray(self.etas, dtype=np.float64)

    def with_(self, **changes) -> "Instance":
        return replace(self, **changes)

    def key(self, w_star: np.ndarray | None = None, sharpness_every: int | None = None) -> str:
        """Cache key of the run (data content, loss, stepsizes, steps, w₀, projection direction)."""
        ws = None if w_star is None else np.asarray(w_star, dtype=np.float64).tolist()
        return array_hash(self.data.X, self.data.y) + canonical_json(
            [self.loss, list(self.etas), self.steps, self.w0, ws, sharpness_every])

    def trajectory(self, w_star: np.ndarray | None = None, sharpness_every: int | None = None,
                   cache: bool = True) -> Trajectory:
        """The GD run (every step recorded), projections on ``w_star`` (default: the certified w*).

        ``cache=False``: neither looked up nor kept in the run cache (a long run read once)."""
        ws = self.cert.w_star if w_star is None else np.asarray(w_star, dtype=np.float64)

        def compute() -> Trajectory:
            with single_thread():
                return run_gd(self.data, self.loss_obj, list(self.etas), self.steps,
                              w0=None if self.w0 is None else np.asarray(self.w0), w_star=ws,
                              sharpness_every=sharpness_every)

        return _RUNS.run(self.key(ws, sharpness_every), compute, keep=cache)

    def first_steps(self, condition: Callable[["Instance", Arrays], np.ndarray], steps: int,
                    wanted: np.ndarray | None = None) -> tuple[np.ndarray, int, np.ndarray]:
        """(s* (K,): the first step ≤ ``steps`` meeting ``condition(run, arrays)`` per stepsize, −1 where not met;
        the last step the answer covers, :attr:`eoscheck.gd.FirstSteps.steps_run`; the step each run diverged at by
        then, −1: not): the run of :meth:`trajectory` for ``steps`` steps, bit for bit, in memory that does
        not grow with them (:func:`eoscheck.gd.first_steps`), stopped once every stepsize of ``wanted`` (default
        all) has met it or diverged.  ``condition`` sees a chunk of steps at a time: it must hold or not at a step
        from that step's records alone (as a comparison of them), and be false where they are NaN."""
        run = self.with_(steps=int(steps))
        with single_thread():
            fs = self.stream(run.steps, lambda t, r, dv: condition(run, Arrays.of_records(self.eta, t, r, dv)), wanted)
        return fs.first.astype(np.float64), fs.steps_run, fs.diverged_at

    def stream(self, steps: int, condition, wanted: np.ndarray | None) -> FirstSteps:
        """The engine's streamed run of this instance (:func:`eoscheck.gd.first_steps`; a model's own engine in its
        subclass), ``condition`` on the raw records."""
        return first_steps(self.data, self.loss_obj, list(self.etas), steps, condition, wanted=wanted,
                           w0=None if self.w0 is None else np.asarray(self.w0), w_star=self.cert.w_star)

    # --- description and persistence ---------------------------------------------
    def describe(self) -> str:
        """One line: data, n, d, γ*, loss, stepsizes, steps."""
        etas = ", ".join(f"{e:.4g}" for e in self.etas[:6]) + (", …" if len(self.etas) > 6 else "")
        w0 = "" if self.w0 is None else f", ‖w₀‖={np.linalg.norm(self.w0):.3g}"
        return (f"{self.data.name} (n={self.data.n}, d={self.data.d}, γ*={self.gamma:.4g}), {self.loss}, "
                f"η∈[{etas}], T={self.steps}{w0}")

    def __repr__(self) -> str:
        return f"Instance({self.describe()})"

    def to_json(self) -> dict[str, Any]:
        """A self-contained JSON form (dataset arrays included, floats exact)."""
        meta = json.loads(canonical_json(self.data.meta))
        return {
            "data": {"name": self.data.name, "X": self.data.X.tolist(), "y": self.data.y.tolist(), "meta": meta},
            "loss": self.loss,
            "etas": [float(e) for e in self.etas],
            "steps": int(self.steps),
            "w0": None if self.w0 is None else [float(v) for v in self.w0],
            "extra": json.loads(canonical_json(dict(self.extra))),
        }

    @classmethod
    def from_json(cls, obj: Mapping[str, Any]) -> "Instance":
        d = obj["data"]
        data = Dataset(np.asarray(d["X"], dtype=np.float64), np.asarray(d["y"], dtype=np.float64),
                       name=d.get("name", "replayed"), meta=d.get("meta", {}))
        w0 = obj.get("w0")
        steps = obj["steps"]
        # a whole number, as every check writes it ("200" was taken as 200; 0 is prop5's, which runs no GD)
        if isinstance(steps, bool) or not isinstance(steps, int) or steps < 0:
            raise EoscheckError(f"an instance's steps must be a whole number ≥ 0, got {steps!r}")
        etas = obj["etas"]
        if not (isinstance(etas, list) and etas and all(isinstance(e, (int, float)) and not isinstance(e, bool)
                                                         and math.isfinite(e) and e > 0 for e in etas)):
            raise EoscheckError(f"an instance's etas must be a list of positive numbers, got {etas!r}")
        extra = dict(obj.get("extra", {}))
        make = cls
        if extra.get("model") is not None:    # a network's run (theorem6's "ntk"): the class that runs it
            from .claims import load_claims

            load_claims()                     # the claim modules register their instance classes (MODELS)
            if extra["model"] not in MODELS:
                raise EoscheckError(f"an instance's model {extra['model']!r} is unknown; known: {sorted(MODELS)}")
            make = MODELS[extra["model"]]
        return make(data=data, loss=obj.get("loss", "logistic"), etas=tuple(float(e) for e in etas),
                    steps=steps, w0=None if w0 is None else tuple(float(v) for v in w0), extra=extra)
