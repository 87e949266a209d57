"""The report's run cache: every run stored by the hash of its configuration and of the code it ran.

Where: ``--cache-dir``, else ``$EOSCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/eoscheck`` (default
``~/.cache/eoscheck``) — never inside the report folder or the checkout (:func:`default_cache_dir`).

An entry is a folder ``<kind>-<label>-<hash>/`` holding the run (``trajectory.npz`` + ``run.json``
for a trajectory, ``result.json`` for any other JSON result), ``entry.json`` (configuration, code
hash, seconds) and a ``DONE`` marker whose modification time is the entry's last use.  It is written
into a temporary folder that is renamed into place only when complete, so an interrupted report
leaves either a finished entry or none: a second ``eoscheck report`` reuses every finished run and
computes only the missing ones.  ``enabled=False`` (``--no-cache``) recomputes and overwrites.

The key covers the run's configuration and :func:`code_hash` of the *imported* modules the run
depends on, located through their ``__file__`` (so the hash is the same, and never empty, in an
editable and in a regular ``pip install .``).  Entries of an older code hash for the same
(kind, label) are stale and are removed at the end of each report (:meth:`RunCache.prune_superseded`);
``eoscheck cache prune`` also removes entries unused for a number of days or beyond a size cap
(least recently used first).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..codehash import engine_hash
from ..provenance import canonical_json, config_hash
from ..trajectory import Trajectory

#: A file at the top of every cache folder (written with its first entry): clear/prune delete only in a
#: folder that has it, or whose every entry is one a cache wrote (folders from before the marker)
MARKER = ".eoscheck-cache"
#: Folders a report keeps in its cache besides the entries (the claims' worker files and witnesses)
OWN_FOLDERS = frozenset({"workers", "counterexamples"})
#: tempfile.mkdtemp's names for an entry being written: ".tmp-" and 8 characters of [a-z0-9_]
_TMP_NAME = re.compile(r"\.tmp-[a-z0-9_]{8}")
#: Defaults of :meth:`RunCache.prune`: entries unused for this many days, and a size cap.
PRUNE_DAYS = 30.0
PRUNE_MAX_BYTES = 2 * 2**30


def default_cache_dir() -> Path:
    """``$EOSCHECK_CACHE_DIR``, else ``$XDG_CACHE_HOME/eoscheck``, else ``~/.cache/eoscheck``."""
    env = os.environ.get("EOSCHECK_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    xdg = os.environ.get("XDG_CACHE_HOME")
    base = Path(xdg).expanduser() if xdg and Path(xdg).is_absolute() else Path.home() / ".cache"
    return base / "eoscheck"


@dataclass
class CacheEvent:
    """One cache lookup: which entry, hit or computed, and how long the computation took."""

    kind: str
    label: str
    key: str
    hit: bool
    seconds: float


#: The libraries whose version can change a cached result's bits or verdict (GEMMs and elementwise kernels, the
#: max-margin solver, the bounds' simplification, the high-precision evaluations (mpmath, on gmpy2), the claims' search,
#: the digits data).
RESULT_LIBRARIES = ("numpy", "scipy", "sympy", "mpmath", "gmpy2", "torch", "numba", "hypothesis", "scikit-learn")


@dataclass
class RunCache:
    """Runs keyed by configuration and code hash under ``root`` (see the module docstring)."""

    root: Path
    enabled: bool = True
    events: list[CacheEvent] = field(default_factory=list)
    codes: dict[tuple[str, str], str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root).expanduser()

    # --- keys -------------------------------------------------------------------------
    @staticmethod
    def key(kind: str, config: dict[str, Any], code: str) -> str:
        """The entry hash: configuration + kind + code hash + what else fixes the bits here
        (:func:`eoscheck.fastgd.numerics`: a run under ``EOSCHECK_GEMM=openblas`` is not an MKL run's entry) and
        the versions of the libraries results are computed with (:data:`RESULT_LIBRARIES`: an upgraded numpy or
        Hypothesis served the old entries)."""
        from ..fastgd import numerics
        from ..provenance import versions

        libs = {k: v for k, v in versions().items() if k in RESULT_LIBRARIES}
        return config_hash({"kind": kind, "config": config, "code": code, "numerics": numerics(), "libraries": libs})

    def path(self, kind: str, label: str, key: str) -> Path:
        return self.root / f"{kind}-{_safe(label)}-{key}"

    def _entry(self, kind: str, label: str, config: dict[str, Any], code: str | None) -> tuple[str, Path, str]:
        code = code or engine_hash()
        self.codes[(kind, _safe(label))] = code
        key = self.key(kind, config, code)
        return key, self.path(kind, label, key), code

    def _hit(self, kind: str, label: str, key: str, entry: Path) -> None:
        self.events.append(CacheEvent(kind, label, key, True, 0.0))
        try:
            os.utime(entry / "DONE")  # last use, for pruning
        except OSError:
            pass

    # --- lookups ----------------------------------------------------------------------
    def trajectory(self, kind: str, label: str, config: dict[str, Any],
                   compute: Callable[[], Trajectory], code: str | None = None) -> Trajectory:
        """The cached trajectory of ``config``, or ``compute()`` stored atomically."""
        key, entry, code = self._entry(kind, label, config, code)
        if self.enabled and (entry / "DONE").is_file():
            try:
                traj = Trajectory.load(entry)
                self._hit(kind, label, key, entry)
                return traj
            except Exception:  # a damaged entry is recomputed, never trusted
                pass
        t0 = time.perf_counter()
        traj = compute()
        seconds = time.perf_counter() - t0
        self._store(entry, lambda tmp: traj.save(tmp), {"kind": kind, "label": label, "config": config,
                                                        "code": code, "seconds": seconds})
        self.events.append(CacheEvent(kind, label, key, False, seconds))
        return traj

    def json(self, kind: str, label: str, config: dict[str, Any], compute: Callable[[], Any],
             code: str | None = None) -> Any:
        """The cached JSON result of ``config``, or ``compute()`` stored atomically."""
        hit = self.lookup_json(kind, label, config, code)
        if hit is not None:
            return hit
        t0 = time.perf_counter()
        value = compute()
        return self.store_json(kind, label, config, value, time.perf_counter() - t0, code)

    def lookup_json(self, kind: str, label: str, config: dict[str, Any], code: str | None = None) -> Any | None:
        """The cached JSON result of ``config`` (a hit is recorded), or None when absent or disabled."""
        key, entry, _ = self._entry(kind, label, config, code)
        if not (self.enabled and (entry / "DONE").is_file()):
            return None
        try:
            value = json.loads((entry / "result.json").read_text())
        except Exception:
            return None
        self._hit(kind, label, key, entry)
        return value

    def store_json(self, kind: str, label: str, config: dict[str, Any], value: Any, seconds: float,
                   code: str | None = None) -> Any:
        """Store a JSON result computed elsewhere (e.g. in a worker process) as a finished entry; the
        stored value (as read back)."""
        key, entry, code = self._entry(kind, label, config, code)
        text = json.dumps(json.loads(canonical_json(value)), indent=1)
        self._store(entry, lambda tmp: (Path(tmp) / "result.json").write_text(text),
                    {"kind": kind, "label": label, "config": config, "code": code, "seconds": seconds})
        self.events.append(CacheEvent(kind, label, key, False, seconds))
        return json.loads(text)

    def _store(self, entry: Path, write: Callable[[Path], Any], meta: dict[str, Any]) -> None:
        """Write an entry into a temporary folder, mark it DONE, and rename it into place."""
        self.mark()
        tmp = Path(tempfile.mkdtemp(dir=self.root, prefix=".tmp-"))
        try:
            write(tmp)
            (tmp / "entry.json").write_text(json.dumps(json.loads(canonical_json(meta)), indent=1))
            (tmp / "DONE").write_text("complete\n")
            if entry.exists():
                shutil.rmtree(entry, ignore_errors=True)
            try:
                os.replace(tmp, entry)
            except OSError:
                if not (entry / "DONE").is_file():
                    raise
                shutil.rmtree(tmp, ignore_errors=True)  # another report stored the same entry meanwhile
        except BaseException:
            shutil.rmtree(tmp, ignore_errors=True)
            raise

    # --- statistics and housekeeping --------------------------------------------------
    def stats(self) -> dict[str, Any]:
        """Hits, computed runs and the seconds spent computing."""
        hits = sum(e.hit for e in self.events)
        return {"lookups": len(self.events), "hits": hits, "computed": len(self.events) - hits,
                "compute_seconds": sum(e.seconds for e in self.events), "enabled": self.enabled,
                "folder": str(self.root)}

    def mark(self) -> None:
        """Create the cache folder if needed and write its :data:`MARKER` (a report does this when it opens
        the cache, before any section writes into it); a folder holding files of its own is refused first
        (:meth:`check_owned`)."""
        self.check_owned("nothing written")
        self.root.mkdir(parents=True, exist_ok=True)
        if not (self.root / MARKER).exists():
            (self.root / MARKER).write_text("an eoscheck run cache: `eoscheck cache info|prune|clear`\n")

    def check_owned(self, consequence: str = "nothing deleted") -> None:
        """Refuse to delete in, or to take over, a folder that is not a cache (a mistyped --cache-dir or
        EOSCHECK_CACHE_DIR): it must hold the :data:`MARKER`, or nothing but entries and temporaries a cache wrote."""
        from .._errors import EoscheckError

        if not self.root.is_dir() or (self.root / MARKER).exists():
            return
        foreign = [p.name for p in self.root.iterdir()
                   if not (_TMP_NAME.fullmatch(p.name) or p.name in OWN_FOLDERS or self._entry_meta(p) is not None)]
        if foreign:
            raise EoscheckError(f"cache folder {self.root}: not an eoscheck cache (no {MARKER}; holds "
                                f"{', '.join(sorted(foreign)[:3])}); {consequence} — check --cache-dir / "
                                "EOSCHECK_CACHE_DIR")

    @staticmethod
    def _entry_meta(p: Path) -> dict[str, Any] | None:
        """An entry's entry.json when ``p`` is a finished entry a cache wrote, else None."""
        try:
            if not (p.is_dir() and (p / "DONE").read_text() == "complete\n"):
                return None
            meta = json.loads((p / "entry.json").read_text())
        except (OSError, ValueError):
            return None
        return meta if isinstance(meta, dict) and "kind" in meta else None

    def clean_temporaries(self) -> int:
        """Remove temporary folders left by an interrupted report; their number."""
        if not self.root.is_dir():
            return 0
        n = 0
        for p in self.root.iterdir():
            if p.is_dir() and _TMP_NAME.fullmatch(p.name):
                shutil.rmtree(p, ignore_errors=True)
                n += 1
        return n

    def entries(self) -> list[dict[str, Any]]:
        """Every finished entry: path, kind, label, code hash, bytes, last use (epoch seconds)."""
        out = []
        if not self.root.is_dir():
            return out
        for p in sorted(self.root.iterdir()):
            done = p / "DONE"
            meta = None if p.name.startswith(".") else self._entry_meta(p)
            if meta is None:
                continue
            size = sum(f.stat().st_size for f in p.rglob("*") if f.is_file())
            out.append({"path": p, "kind": meta.get("kind", p.name.split("-", 1)[0]),
                        "label": meta.get("label", ""), "code": meta.get("code"), "bytes": size,
                        "last_used": done.stat().st_mtime})
        return out

    def prune_superseded(self) -> int:
        """Remove entries of the (kind, label)s used in this run that carry another code hash (stale
        code: never served again); the number removed."""
        n = 0
        for e in self.entries():
            current = self.codes.get((e["kind"], _safe(e["label"])))
            if current is not None and e["code"] != current and _remove(e["path"]):
                n += 1
        return n

    def prune(self, older_than_days: float = PRUNE_DAYS, max_bytes: int | None = PRUNE_MAX_BYTES,
              now: float | None = None) -> tuple[int, int]:
        """Remove entries unused for ``older_than_days``, then the least recently used ones until the
        cache holds at most ``max_bytes``; (entries removed, bytes freed)."""
        self.check_owned()
        now = time.time() if now is None else now
        self.clean_temporaries()
        entries = sorted(self.entries(), key=lambda e: e["last_used"])
        removed, freed = 0, 0
        total = sum(e["bytes"] for e in entries)
        for e in entries:
            old = now - e["last_used"] > older_than_days * 86400.0
            big = max_bytes is not None and total > max_bytes
            if (old or big) and _remove(e["path"]):
                removed += 1
                freed += e["bytes"]
                total -= e["bytes"]
        return removed, freed

    def clear(self) -> tuple[int, int]:
        """Remove every entry (and temporary); (entries removed, bytes freed)."""
        self.check_owned()
        self.clean_temporaries()
        gone = [e for e in self.entries() if _remove(e["path"])]
        return len(gone), sum(e["bytes"] for e in gone)


def _remove(path) -> bool:
    """Remove one cache entry: a symbolic link as a link (never what it points to), a folder with its contents;
    whether it is gone."""
    p = Path(path)
    if p.is_symlink():
        p.unlink(missing_ok=True)
    else:
        shutil.rmtree(p, ignore_errors=True)
    return not (p.exists() or p.is_symlink())


def _safe(label: str) -> str:
    return "".join(c if c.isalnum() or c in "-_.=" else "_" for c in label)[:60]
