"""The report's run cache: every run stored under ``<out>/.cache/`` by the hash of its configuration.

An entry is a folder ``<kind>-<label>-<hash>/`` holding the run (``trajectory.npz`` + ``run.json``
for a trajectory, ``result.json`` for any other JSON result) and a ``DONE`` marker.  It is written
into a temporary folder that is renamed into place only when complete, so an interrupted report
leaves either a finished entry or none: a second ``eoscheck report`` reuses every finished run and
computes only the missing ones (resume).  ``enabled=False`` (``--no-cache``) recomputes everything
and overwrites the entries.

The hash covers the run's configuration (data content hash, loss, stepsizes, steps, grid, device,
seed …) and a hash of the source code the run depends on (:func:`code_hash`), so editing the engine
invalidates its runs instead of silently reusing stale ones.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from functools import lru_cache
from pathlib import Path
from typing import Any, Callable

from ..provenance import canonical_json, config_hash
from ..trajectory import Trajectory

#: Engine modules whose source a cached trajectory depends on.
ENGINE_MODULES = ("gd.py", "_fastgd.py", "_lossnp.py", "losses.py", "datasets.py", "trajectory.py",
                  "networks.py", "mlp.py", "sharpness.py")


@lru_cache(maxsize=None)
def code_hash(*relpaths: str) -> str:
    """A short hash of the source files ``relpaths`` (relative to the repository's package roots).

    A path that ends with ``/`` stands for every ``.py`` file in that folder.  Missing files hash
    as absent, so a module that lands later changes the hash.
    """
    import hashlib

    from .. import __file__ as pkg_init

    pkg = Path(pkg_init).resolve().parent
    roots = {"eoscheck": pkg, "bounds": pkg.parent / "bounds", "properties": pkg.parent / "properties"}
    h = hashlib.sha256()
    for rel in relpaths:
        top, _, rest = rel.partition("/")
        base = roots.get(top)
        if base is None:
            base, rest = pkg, rel
        target = base / rest if rest else base
        files = sorted(target.glob("*.py")) if (rest == "" or rel.endswith("/")) else [target]
        for f in files:
            h.update(str(f.name).encode())
            h.update(f.read_bytes() if f.is_file() else b"<absent>")
    return h.hexdigest()[:16]


def engine_hash() -> str:
    """The code hash of the engine (the modules every trajectory depends on)."""
    return code_hash(*(f"eoscheck/{m}" for m in ENGINE_MODULES))


@dataclass
class CacheEvent:
    """One cache lookup: which entry, hit or computed, and how long the computation took."""

    kind: str
    label: str
    key: str
    hit: bool
    seconds: float


@dataclass
class RunCache:
    """Runs keyed by configuration hash under ``root`` (see the module docstring)."""

    root: Path
    enabled: bool = True
    events: list[CacheEvent] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.root = Path(self.root)

    # --- keys -------------------------------------------------------------------------
    @staticmethod
    def key(kind: str, config: dict[str, Any], code: str) -> str:
        """The entry hash: configuration + kind + code hash."""
        return config_hash({"kind": kind, "config": config, "code": code})

    def path(self, kind: str, label: str, key: str) -> Path:
        safe = "".join(c if c.isalnum() or c in "-_.=" else "_" for c in label)[:60]
        return self.root / f"{kind}-{safe}-{key}"

    # --- lookups ----------------------------------------------------------------------
    def trajectory(self, kind: str, label: str, config: dict[str, Any],
                   compute: Callable[[], Trajectory], code: str | None = None) -> Trajectory:
        """The cached trajectory of ``config``, or ``compute()`` stored atomically."""
        key = self.key(kind, config, code or engine_hash())
        entry = self.path(kind, label, key)
        if self.enabled and (entry / "DONE").is_file():
            try:
                traj = Trajectory.load(entry)
                self.events.append(CacheEvent(kind, label, key, True, 0.0))
                return traj
            except Exception:  # a damaged entry is recomputed, never trusted
                pass
        t0 = time.perf_counter()
        traj = compute()
        seconds = time.perf_counter() - t0
        self._store(entry, lambda tmp: traj.save(tmp), {"kind": kind, "label": label, "config": config,
                                                        "seconds": seconds})
        self.events.append(CacheEvent(kind, label, key, False, seconds))
        return traj

    def json(self, kind: str, label: str, config: dict[str, Any], compute: Callable[[], Any],
             code: str | None = None) -> Any:
        """The cached JSON result of ``config``, or ``compute()`` stored atomically."""
        key = self.key(kind, config, code or engine_hash())
        entry = self.path(kind, label, key)
        if self.enabled and (entry / "DONE").is_file():
            try:
                value = json.loads((entry / "result.json").read_text())
                self.events.append(CacheEvent(kind, label, key, True, 0.0))
                return value
            except Exception:
                pass
        t0 = time.perf_counter()
        value = compute()
        seconds = time.perf_counter() - t0
        text = json.dumps(json.loads(canonical_json(value)), indent=1)
        self._store(entry, lambda tmp: (Path(tmp) / "result.json").write_text(text),
                    {"kind": kind, "label": label, "config": config, "seconds": seconds})
        self.events.append(CacheEvent(kind, label, key, False, seconds))
        return json.loads(text)

    def lookup_json(self, kind: str, label: str, config: dict[str, Any], code: str | None = None) -> Any | None:
        """The cached JSON result of ``config`` (a hit is recorded), or None when absent or disabled."""
        key = self.key(kind, config, code or engine_hash())
        entry = self.path(kind, label, key)
        if not (self.enabled and (entry / "DONE").is_file()):
            return None
        try:
            value = json.loads((entry / "result.json").read_text())
        except Exception:
            return None
        self.events.append(CacheEvent(kind, label, key, True, 0.0))
        return value

    def store_json(self, kind: str, label: str, config: dict[str, Any], value: Any, seconds: float,
                   code: str | None = None) -> None:
        """Store a JSON result computed elsewhere (e.g. in a worker process) as a finished entry."""
        key = self.key(kind, config, code or engine_hash())
        text = json.dumps(json.loads(canonical_json(value)), indent=1)
        self._store(self.path(kind, label, key), lambda tmp: (Path(tmp) / "result.json").write_text(text),
                    {"kind": kind, "label": label, "config": config, "seconds": seconds})
        self.events.append(CacheEvent(kind, label, key, False, seconds))

    def _store(self, entry: Path, write: Callable[[Path], Any], meta: dict[str, Any]) -> None:
        """Write an entry into a temporary folder, mark it DONE, and rename it into place."""
        self.root.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            write(tmp)
            (tmp / "entry.json").write_text(json.dumps(json.loads(canonical_json(meta)), indent=1))
            (tmp / "DONE").write_text("complete\n")
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            os.replace(tmp, entry)
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    # --- statistics -------------------------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Hits, computed runs and the seconds spent computing."""
        hits = sum(e.hit for e in self.events)
        return {"lookups": len(self.events), "hits": hits, "computed": len(self.events) - hits,
                "compute_seconds": sum(e.seconds for e in self.events), "enabled": self.enabled}

    def clean_temporaries(self) -> int:
        """Remove temporary folders left by an interrupted report; their number."""
        if not self.root.is_dir():
            return 0
        n = 0
        for p in self.root.glob(".tmp-*"):
            shutil.rmtree(p, ignore_errors=True)
            n += 1
        return n
