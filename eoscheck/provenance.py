"""Provenance of a run: configuration hash, package versions, source commit, BLAS threads, machine and device."""

from __future__ import annotations

import hashlib
import json
import math
import os
import platform
import sys
from functools import lru_cache
from pathlib import Path
import time
from importlib import metadata
from typing import Any

import numpy as np

from .gitstate import checkout_state, git

_PACKAGES = ("eoscheck", "numpy", "scipy", "sympy", "mpmath", "gmpy2", "torch", "numba", "threadpoolctl", "hypothesis",
             "matplotlib", "scikit-learn", "dask", "distributed", "pyarrow", "pandas")


def versions() -> dict[str, str]:
    """Versions of Python and of the packages a result depends on (read once per process)."""
    return dict(_versions())


@lru_cache(maxsize=1)
def _versions() -> dict[str, str]:
    out = {"python": sys.version.split()[0]}
    for name in _PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = "not installed"
    return out


#: What a wheel built from a checkout records about it (written by setup.py's build step, beside the
#: committed sweep study it carries): {"commit": 40 hex digits or None, "dirty": bool or None}.
BUILD_RECORD = Path("data", "build.json")


def source_of(pkg: Path) -> dict[str, Any]:
    """Where the ``eoscheck`` package in folder ``pkg`` comes from: ``{"version", "commit", "dirty",
    "checkout", "recorded"}``.

    In a git checkout of eoscheck (``pkg`` is its ``eoscheck/`` folder, tracked): HEAD and whether its code
    differs from it (:func:`~eoscheck.gitstate.checkout_state`), ``recorded`` "checkout".  Installed from a
    wheel built in a checkout: the commit and dirty flag the build recorded (:data:`BUILD_RECORD`), ``recorded`` "build".  Otherwise
    (an install with no record, or a package inside some other repository) ``commit`` None."""
    from . import __version__

    try:
        version = metadata.version("eoscheck")
    except metadata.PackageNotFoundError:
        version = __version__
    out: dict[str, Any] = {"version": version, "commit": None, "dirty": None, "checkout": None, "recorded": None}
    root = pkg.parent
    top = git(root, "rev-parse", "--show-toplevel")
    if top is not None and Path(top).resolve() == root.resolve() and \
            git(root, "ls-files", "--error-unmatch", "eoscheck/__init__.py") is not None:
        out.update(**checkout_state(root), checkout=str(root), recorded="checkout")
        return out
    try:
        record = json.loads((pkg / BUILD_RECORD).read_text())
    except (OSError, ValueError):
        return out
    commit = record.get("commit") if isinstance(record, dict) else None
    if isinstance(commit, str) and len(commit) == 40 and all(c in "0123456789abcdef" for c in commit):
        dirty = record.get("dirty")
        out.update(commit=commit, dirty=dirty if isinstance(dirty, bool) else None, recorded="build")
    return out


@lru_cache(maxsize=1)
def source() -> dict[str, Any]:
    """:func:`source_of` the imported ``eoscheck`` (read once per process: the CLI and :func:`eoscheck.run_gd`
    read it before their work, so a checkout changed during a run does not change what the run records)."""
    return source_of(Path(__file__).resolve().parent)


def threadpools() -> list[dict[str, Any]]:
    """The BLAS/OpenMP libraries loaded and their thread counts (``threadpoolctl.threadpool_info()``)."""
    try:
        from threadpoolctl import threadpool_info
    except ImportError:
        return [{"error": "threadpoolctl not installed"}]
    keep = ("user_api", "internal_api", "prefix", "version", "num_threads", "threading_layer", "architecture")
    libs = [{k: lib.get(k) for k in keep} for lib in threadpool_info()]
    return sorted(libs, key=lambda x: json.dumps(x, sort_keys=True, default=str))   # their load order varies


def _cpu_name() -> str:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def device_info(device: str = "cpu") -> dict[str, Any]:
    """The device a computation ran on, in words, with the thread count."""
    import torch

    info: dict[str, Any] = {"device": str(device), "platform": platform.platform(),
                            "cpu": _cpu_name(), "cpu_count": os.cpu_count(),
                            "torch_threads": torch.get_num_threads()}
    if str(device).startswith("cuda") and torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(torch.device(device))
    return info


def command_line() -> list[str]:
    """This process's command line, ``eoscheck …`` when it runs the CLI (``python -m eoscheck`` has
    ``…/eoscheck/__main__.py`` as argv[0], the console script its own path)."""
    argv = [str(a) for a in sys.argv]
    if argv and (Path(argv[0]).name == "eoscheck" or Path(argv[0]).parts[-2:] == ("eoscheck", "__main__.py")):
        argv[0] = "eoscheck"
    return argv


def provenance(device: str = "cpu", seed: int | None = None, command: Any = None) -> dict[str, Any]:
    """Everything a reader needs to reproduce a run, except its configuration (and the command line that
    made it, when given)."""
    out = {
        "seed": seed,
        "versions": versions(),
        "source": dict(source()),
        "threadpools": threadpools(),
        "machine": device_info(device),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    if command is not None:
        out["command"] = [str(a) for a in command]
    return out


def _default(obj: Any) -> Any:
    if isinstance(obj, np.ndarray):
        return obj.tolist()
    if isinstance(obj, (np.floating, np.integer, np.bool_)):
        return obj.item()
    return str(obj)


def _strict(obj: Any) -> Any:
    """``obj`` with every non-finite float as the string "inf", "-inf" or "nan" (Python writes bare
    Infinity/NaN, which JSON.parse and most readers refuse)."""
    if isinstance(obj, dict):
        return {k: _strict(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_strict(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _strict(obj.tolist())
    if isinstance(obj, (float, np.floating)) and not math.isfinite(float(obj)):
        v = float(obj)
        return "nan" if v != v else ("inf" if v > 0 else "-inf")
    return obj


def strict_json(obj: Any, **kw) -> str:
    """JSON that every reader accepts: non-finite numbers as the strings "inf", "-inf", "nan" (for files
    a user opens, such as run.json; ``kw`` as for :func:`json.dumps`)."""
    return json.dumps(_strict(json.loads(canonical_json(obj))), allow_nan=False, **kw)


def canonical_json(obj: Any) -> str:
    """JSON with sorted keys and no whitespace: the input of :func:`config_hash` (non-finite numbers as
    Python writes them; :func:`strict_json` for files a user opens)."""
    return json.dumps(obj, sort_keys=True, separators=(",", ":"), default=_default)


def config_hash(config: Any) -> str:
    """A short, stable hash (sha256, 16 hex digits) of a JSON-able configuration."""
    return hashlib.sha256(canonical_json(config).encode()).hexdigest()[:16]


def array_hash(*arrays: np.ndarray) -> str:
    """A short hash of array contents (dtype, shape and bytes)."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype.str, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
