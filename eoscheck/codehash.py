"""The code hash of a result: a short sha256 of the source files of the modules it depends on.

A result (a cached report run, a sweep task) is keyed by its configuration *and* by
:func:`code_hash` of the *imported* modules it depends on, located through their ``__file__`` (so
the hash is the same, and never empty, in an editable and in a regular ``pip install .``).  Any
edit of those files changes the key, so a result computed by other code is never reused.
"""

from __future__ import annotations

import hashlib
import importlib
import os
from functools import lru_cache
from pathlib import Path

#: Subpackages that results never depend on (the presentation layer): excluded from every code hash.
PRESENTATION = ("eoscheck.report", "eoscheck.commands")

#: Subpackages mapped from their own folders (pyproject ``package-dir``): in an editable install they
#: live outside ``eoscheck/``, in a regular one inside it, so a hash of ``eoscheck`` never descends into
#: them; they count only where named.
MAPPED = ("eoscheck.bounds", "eoscheck.properties")

#: What a GD / network trajectory depends on: the eoscheck package (engines, losses, data, records).
ENGINE = ("eoscheck",)

#: What a claim's result depends on: the engine, the encoded bounds and the claims machinery.
CLAIMS = ("eoscheck", "eoscheck.bounds", "eoscheck.properties")

#: Source and data files hashed inside a package folder (code, fitted constants, bundled data).
HASHED_SUFFIXES = (".py", ".json", ".npz", ".npy", ".csv", ".gz", ".idx")


def module_files(name: str, skip: tuple[str, ...] = ()) -> list[tuple[str, Path]]:
    """(``module:relative path``, file) of every hashed file of the imported module ``name``.

    A plain module is its ``__file__``; a package is every ``.py``/``.json`` file under its
    ``__path__``, except the sub-packages named in ``skip`` (hashed on their own or not at all).
    Raises ``RuntimeError`` when the module has no file: a hash of nothing would never change.
    """
    mod = importlib.import_module(name)
    paths = getattr(mod, "__path__", None)
    if paths is None:
        f = getattr(mod, "__file__", None)
        if not f:
            raise RuntimeError(f"module {name} has no source file to hash")
        return [(f"{name}:{Path(f).name}", Path(f))]
    out: list[tuple[str, Path]] = []
    for root in sorted({str(Path(p).resolve()) for p in paths}):
        root_p = Path(root)
        for dirpath, dirnames, filenames in os.walk(root_p):
            here = Path(dirpath)
            rel = here.relative_to(root_p)
            dotted = ".".join((name,) + rel.parts)
            dirnames[:] = sorted(d for d in dirnames if d != "__pycache__" and not d.startswith(".")
                                 and f"{dotted}.{d}" not in skip)
            for fn in sorted(filenames):
                if fn.endswith(HASHED_SUFFIXES):
                    out.append((f"{name}:{(rel / fn).as_posix()}", here / fn))
    if not out:
        raise RuntimeError(f"package {name} has no source file to hash (looked under {list(paths)})")
    return out


@lru_cache(maxsize=None)
def code_hash(*modules: str) -> str:
    """A short sha256 of the files of the imported ``modules`` (see :func:`module_files`).

    Each package is hashed without the others named here and without :data:`PRESENTATION`, so a
    file counts once whether a sub-package lives inside its parent's folder (regular install) or
    elsewhere (editable install with ``package-dir``).
    """
    skip = tuple(modules) + PRESENTATION + MAPPED
    h = hashlib.sha256()
    for name in sorted(set(modules)):
        for rel, path in module_files(name, skip=tuple(s for s in skip if s != name)):
            h.update(rel.encode())
            h.update(b"\0")
            h.update(path.read_bytes())
            h.update(b"\0")
    return h.hexdigest()[:16]


def engine_hash() -> str:
    """The code hash every trajectory depends on (:data:`ENGINE`)."""
    return code_hash(*ENGINE)


def claims_hash() -> str:
    """The code hash every claim's result depends on (:data:`CLAIMS`)."""
    return code_hash(*CLAIMS)


__all__ = ["CLAIMS", "ENGINE", "MAPPED", "PRESENTATION", "claims_hash", "code_hash", "engine_hash", "module_files"]
