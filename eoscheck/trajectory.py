"""GD trajectories: per-step records for a batch of stepsizes, queries, save/load.

A :class:`Trajectory` holds K stepsizes ``eta`` and S recorded steps ``step``
(all steps 0..T, or a log-spaced grid), with (K, S) arrays of the recorded
quantities.  Quantities that need every step (running averages, the last
increase of the loss, first hitting times of 1/η and 2/η) are tracked exactly
at every step by the engine and stored in ``stats``, whatever the grid.
"""

from __future__ import annotations

import hashlib
import io
import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np

from ._errors import EoscheckError
from .outputs import write_set
from .provenance import strict_json
from .gdinputs import INCREASE_RTOL

#: The (K, S) arrays every linear-model trajectory records.
RECORDED = (
    "loss",         # L(w_t) (may be +inf where it overflows; see log_loss)
    "log_loss",     # ln L(w_t), finite where L under- or overflows
    "log_F",        # ln F(w_t), F = mean exp(−margins) (Theorem 1)
    "G",            # G(w_t) = mean |ℓ′(margins)| (gradient potential)
    "grad_norm",    # ‖∇L(w_t)‖
    "w_norm",       # ‖w_t‖ (‖w_t − w_0‖ for networks)
    "w_proj",       # ⟨w_t, w*⟩ (NaN when w* unknown)
    "min_margin",   # minᵢ yᵢ f(xᵢ; w_t)
    "norm_margin",  # min margin / ‖w_t‖
    "train_error",  # fraction of margins ≤ 0
    "avg_loss",     # (1/t) Σ_{k<t} L(w_k)  (NaN at t = 0)
    "avg_G",        # (1/t) Σ_{k<t} G(w_k)  (NaN at t = 0)
)


def npz_bytes(arrays: Mapping[str, np.ndarray]) -> bytes:
    """The arrays as ``.npz`` bytes (``np.load`` reads them), deflated at zlib level 1: float64 records compress no
    better at ``np.savez_compressed``'s level 6 (66.7 against 65.9 MB for a 2¹⁸-step run of 4 stepsizes, 101 MB raw)
    and take 2.4× as long (4.1 against 1.7 s)."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED, compresslevel=1) as zf:
        for name, value in arrays.items():
            value = np.asanyarray(value)
            if value.dtype.hasobject:     # np.load(allow_pickle=False) could not read it back
                raise EoscheckError(f"record {name!r} holds Python objects ({value.dtype}); only numeric arrays are "
                                    "saved")
            with zf.open(f"{name}.npy", "w", force_zip64=True) as fh:
                np.lib.format.write_array(fh, value, allow_pickle=False)
    return buf.getvalue()


@dataclass
class Trajectory:
    """Records of GD runs for stepsizes ``eta`` at steps ``step``.

    Attributes:
      eta: (K,) stepsizes.
      step: (S,) recorded step indices t (w_t after t updates).
      records: name → (K, S) array (see :data:`RECORDED`), NaN after divergence.
      stats: name → (K,) exact per-step trackers: ``diverged_at`` (−1 never),
        ``last_increase`` (last t with L_t > L_{t−1}(1+rtol), −1 if none),
        ``last_increase_strict``, ``first_below_1_over_eta``,
        ``first_below_2_over_eta`` (−1 never), ``max_loss``, ``argmax_loss`` (NaN and −1 where no step was
        recorded: w₀ outside the float range).
      sharpness_step, sharpness: checkpoints (C,) and λ_max(∇²L) there (K, C).
      config: the run configuration (JSON-able); provenance: versions, device, seed.
    """

    eta: np.ndarray
    step: np.ndarray
    records: dict[str, np.ndarray]
    stats: dict[str, np.ndarray] = field(default_factory=dict)
    sharpness_step: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    sharpness: np.ndarray = field(default_factory=lambda: np.zeros((0, 0)))
    config: dict[str, Any] = field(default_factory=dict)
    provenance: dict[str, Any] = field(default_factory=dict)

    def __getattr__(self, name: str) -> np.ndarray:
        records = self.__dict__.get("records", {})
        if name in records:
            return records[name]
        stats = self.__dict__.get("stats", {})
        if name in stats:
            return stats[name]
        raise AttributeError(f"Trajectory has no record {name!r}")

    # --- shape ----------------------------------------------------------------
    @property
    def K(self) -> int:
        return len(self.eta)

    @property
    def steps(self) -> int:
        """T, the number of GD steps run."""
        return int(self.step[-1])

    @property
    def full_grid(self) -> bool:
        """True when every step 0..T is recorded."""
        return len(self.step) == self.steps + 1

    def index_of(self, t: int) -> int:
        """Column of step ``t`` in the (K, S) arrays (error if not recorded)."""
        i = int(np.searchsorted(self.step, t))
        if i >= len(self.step) or self.step[i] != t:
            raise EoscheckError(f"step {t} was not recorded (recorded: {self.step[0]}..{self.step[-1]}, "
                                f"{len(self.step)} points); rerun with grid='all' or another grid")
        return i

    # --- queries ----------------------------------------------------------------
    def loss_at(self, t: int) -> np.ndarray:
        """L(w_t) for every stepsize."""
        return self.records["loss"][:, self.index_of(t)]

    def avg_loss_at(self, t: int) -> np.ndarray:
        """(1/t) Σ_{k<t} L(w_k) for every stepsize."""
        return self.records["avg_loss"][:, self.index_of(t)]

    @property
    def diverged(self) -> np.ndarray:
        """(K,) bool: the run left the floating-point range."""
        return self.stats["diverged_at"] >= 0

    def first_below(self, threshold: float | np.ndarray) -> np.ndarray:
        """First recorded t with L(w_t) ≤ threshold (scalar or per-stepsize), −1 if never.

        Exact for a full grid; on a log grid, the first recorded step at which it holds.
        """
        thr = np.broadcast_to(np.asarray(threshold, dtype=np.float64), (self.K,))[:, None]
        hit = self.records["log_loss"] <= np.log(thr)
        return np.where(hit.any(axis=1), self.step[hit.argmax(axis=1)], -1)

    def last_increase(self, rtol: float = 0.0) -> np.ndarray:
        """Last t with L(w_t) > L(w_{t−1})·(1+rtol), −1 if the loss never increased.

        Needs a full grid unless ``rtol`` is 0 or the engine's :data:`~eoscheck.recorder.INCREASE_RTOL`
        (the engine tracks those two at every step, recorded or not: ``stats`` answers).
        """
        if not self.full_grid:
            if rtol not in (0.0, INCREASE_RTOL):
                raise EoscheckError(f"last_increase(rtol={rtol!r}) needs every step recorded (grid='all'); "
                                    f"on this {len(self.step)}-point grid use rtol=0 or rtol=INCREASE_RTOL "
                                    f"({INCREASE_RTOL:.3g}), which the engine tracked at every step")
            key = "last_increase" if rtol else "last_increase_strict"
            return self.stats[key]
        ll = self.records["log_loss"]
        up = ll[:, 1:] > ll[:, :-1] + np.log1p(rtol)
        last = up.shape[1] - 1 - np.argmax(up[:, ::-1], axis=1)
        return np.where(up.any(axis=1), self.step[1:][last], -1)

    def monotone_from(self, s: int | np.ndarray, rtol: float = 0.0) -> np.ndarray:
        """(K,) bool: L(w_t) is non-increasing for all t ≥ s (up to ``rtol``)."""
        return self.last_increase(rtol) <= np.asarray(s)

    # --- presentation -----------------------------------------------------------
    def __repr__(self) -> str:
        etas = ", ".join(f"{e:g}" for e in self.eta[:6]) + (", …" if self.K > 6 else "")
        div = int(self.diverged.sum()) if "diverged_at" in self.stats else 0
        grid = "all steps" if len(self.step) and self.full_grid else f"{len(self.step)} recorded steps"
        what = self.config.get("model", "linear")
        data = self.config.get("data")
        return (f"Trajectory({what}{f' on {data}' if data else ''}, K={self.K} stepsizes (η = {etas}), "
                f"T={self.steps if len(self.step) else 0} ({grid}), {len(self.records)} records"
                f"{f', {div} diverged' if div else ''})")

    def to_pandas(self, quantities: Sequence[str] | None = None):
        """The records in long format: a :class:`pandas.DataFrame` with columns ``eta``, ``step``,
        ``quantity``, ``value`` (one row per stepsize, recorded step and quantity; the sharpness at
        its own checkpoints as quantity ``"sharpness"``)."""
        import pandas as pd

        names = list(self.records) if quantities is None else list(quantities)
        unknown = [q for q in names if q not in self.records and q != "sharpness"]
        if unknown:
            raise EoscheckError(f"unknown quantity {unknown[0]!r}; recorded: {', '.join(self.records)}, sharpness")
        frames = []
        for q in names:
            if q == "sharpness":
                steps, values = self.sharpness_step, self.sharpness
            else:
                steps, values = self.step, self.records[q]
            if values.size == 0:
                continue
            frames.append(pd.DataFrame({
                "eta": np.repeat(self.eta, len(steps)), "step": np.tile(steps, self.K),
                "quantity": q, "value": np.asarray(values, dtype=np.float64).ravel()}))
        if not frames:
            return pd.DataFrame({"eta": [], "step": [], "quantity": [], "value": []})
        out = pd.concat(frames, ignore_index=True)
        out["quantity"] = out["quantity"].astype("category")
        return out

    # --- persistence ------------------------------------------------------------
    #: what :meth:`save` writes into a folder (besides the writer's lock): a run replaces these names
    SAVED = ("run.json", "trajectory.npz", "fig1.png", "fig1.svg", "fig1.pdf")

    @classmethod
    def check_replaceable(cls, directory: str | Path, what: str = "--out") -> None:
        """Refuse (before any computation) a folder where :meth:`save` would replace files a run did not
        write: a ``run.json`` that is not a run's record, a file it does not list, or — with no
        ``run.json`` — anything but an interrupted run's ``trajectory.npz`` (and its figure)."""
        d = Path(directory)
        present = [n for n in cls.SAVED if (d / n).exists()] if d.is_dir() else []
        if not present:
            return
        listed: set[str] = set()
        meta = None
        if "run.json" in present:
            try:
                meta = json.loads((d / "run.json").read_text(encoding="utf-8"))
            except (OSError, UnicodeDecodeError, json.JSONDecodeError):
                meta = None
            if not (isinstance(meta, dict) and isinstance(meta.get("files"), dict) and "config" in meta):
                cls._refuse(d, ["run.json"], what)
            listed = set(meta["files"]) | {"run.json"}
        elif "trajectory.npz" in present and cls._is_ours(d / "trajectory.npz"):
            listed = set(cls.SAVED) - {"run.json"}      # a run killed before its run.json
        foreign = [n for n in present if n not in listed]
        if foreign:
            cls._refuse(d, foreign, what)

    @staticmethod
    def _is_ours(npz: Path) -> bool:
        try:
            with np.load(npz, allow_pickle=False) as z:
                return {"eta", "step", "sharpness_step", "sharpness"} <= set(z.files)
        except Exception:  # noqa: BLE001 - any unreadable file is not a run's
            return False

    @staticmethod
    def _refuse(d: Path, names: list[str], what: str) -> None:
        from .outputs import not_ours

        raise not_ours(d, names, "run", "run.json, trajectory.npz and fig1.*", what)

    def save(self, directory: str | Path, *, extra: Mapping[str, bytes] | None = None,
             command: Sequence[str] | None = None, obsolete: Sequence[str] = ()) -> Path:
        """Write ``trajectory.npz``, the ``extra`` files (name → bytes) and ``run.json`` into ``directory``, and
        remove the ``obsolete`` files of an earlier run (its figure in another format).

        One set (:func:`eoscheck.outputs.write_set`): ``run.json`` lists the sha256 of the others and goes last;
        every file is written in full before any earlier one is touched.  So a folder with a ``run.json`` holds one
        run's complete set, a run killed midway leaves the earlier set or no ``run.json`` (:meth:`load` says so),
        and a full disk leaves the earlier set whole.  Hold an :class:`eoscheck.outputs.OutputLock` on the folder
        to keep out a second writer.
        """
        d = Path(directory)
        d.mkdir(parents=True, exist_ok=True)
        arrays = {"eta": self.eta, "step": self.step, "sharpness_step": self.sharpness_step,
                  "sharpness": self.sharpness}
        arrays.update(self.records)
        arrays.update({f"stats_{k}": v for k, v in self.stats.items()})
        files = {"trajectory.npz": npz_bytes(arrays), **dict(extra or {})}
        prov = dict(self.provenance)
        if command is not None:
            prov["command"] = list(command)
        meta = {"config": self.config, "provenance": prov,
                "files": {name: hashlib.sha256(data).hexdigest() for name, data in files.items()}}
        return write_set(d, {**files, "run.json": strict_json(meta, indent=2, sort_keys=True)}, "run.json", obsolete)

    @classmethod
    def load(cls, directory: str | Path) -> "Trajectory":
        """Read a trajectory written by :meth:`save`, checking that the pair belongs together."""
        d = Path(directory)
        npz, js = d / "trajectory.npz", d / "run.json"
        if not npz.is_file():
            raise EoscheckError(f"no trajectory.npz in {d}; run `eoscheck run --out {d}` first")
        if not js.is_file():
            raise EoscheckError(f"{d} has trajectory.npz but no run.json: an interrupted run; run it again")
        try:
            meta = json.loads(js.read_text(encoding="utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError) as err:
            raise EoscheckError(f"{js} is not valid JSON ({err}); run again") from None
        raw = npz.read_bytes()
        want = (meta.get("files") or {}).get("trajectory.npz")
        if want is not None and hashlib.sha256(raw).hexdigest() != want:
            raise EoscheckError(f"{npz} does not match {js} (written by different runs); run again")
        try:
            with np.load(io.BytesIO(raw), allow_pickle=False) as f:
                arrays = {k: f[k] for k in f.files}
        except (OSError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise EoscheckError(f"cannot read {npz} ({type(err).__name__}); run again") from None
        missing = [k for k in ("eta", "step", "sharpness_step", "sharpness", "loss") if k not in arrays]
        if missing:
            raise EoscheckError(f"{npz} lacks {', '.join(missing)}; not a trajectory written by eoscheck")
        stats = {k[6:]: arrays.pop(k) for k in list(arrays) if k.startswith("stats_")}
        fixed = {k: arrays.pop(k) for k in ("eta", "step", "sharpness_step", "sharpness")}
        shape = (fixed["eta"].shape[0], fixed["step"].shape[0])
        bad = [k for k, v in arrays.items() if v.shape != shape]
        if fixed["eta"].ndim != 1 or fixed["step"].ndim != 1 or bad:
            raise EoscheckError(f"{npz}: records {bad[:3]} do not have shape (K, S) = {shape}; corrupt file")
        return cls(records=arrays, stats=stats, config=meta.get("config", {}),
                   provenance=meta.get("provenance", {}), **fixed)
