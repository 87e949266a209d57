"""numba's on-disk cache, dropped when a function it compiled into the cached code has changed.

numba keys a cached function on its own source file only (its time stamp and size; numba's
documentation, "Notes on caching": changes to functions in other files are not seen).  The
compiled step loops of :mod:`eoscheck.steploop` inline :mod:`eoscheck.gdfused`'s pass, which
inlines :mod:`eoscheck.explog`'s exp: after an edit of explog.py alone, a checkout kept running
— and testing — the old exp's machine code.  :func:`drop_stale`, called where a module's
compiled functions are defined, deletes that module's cached code when the files it was
compiled from (its own and its callees') differ from those of the last check, by content.
"""

from __future__ import annotations

import glob
import hashlib
import os


def _digest(files) -> str:
    h = hashlib.sha256()
    import numba

    h.update(numba.__version__.encode())
    for f in files:
        with open(f, "rb") as fh:
            h.update(hashlib.sha256(fh.read()).digest())
    return h.hexdigest()


def drop_stale(owner, *modules) -> bool:
    """Delete the cached machine code of ``owner``'s module (every ``<module>.*.nbi``/``.nbc`` in the
    cache folder of ``owner``, a ``cache=True`` dispatcher) when the source of that module or of one
    of ``modules`` (those whose compiled functions it calls or inlines) changed since the last call;
    returns True when it deleted.  Without a file cache (``cache=False``, numba's internals changed,
    a read-only folder) it does nothing: numba then compiles as before."""
    cache = getattr(owner, "_cache", None)
    folder = getattr(cache, "cache_path", None)
    if folder is None:
        return False
    files = [owner.py_func.__code__.co_filename]
    files += [m.__file__ for m in modules if m.__file__ not in files]
    stem = os.path.splitext(os.path.basename(files[0]))[0]
    stamp = os.path.join(folder, f"{stem}.sources")
    try:
        now = _digest(files)
    except OSError:
        return False
    try:
        with open(stamp) as fh:
            if fh.read() == now:
                return False
    except OSError:
        pass
    for pattern in ("nbi", "nbc"):
        for f in glob.glob(os.path.join(glob.escape(folder), f"{glob.escape(stem)}.*.{pattern}")):
            try:
                os.remove(f)
            except OSError:
                pass
    try:                                   # written whole, then renamed: a reader sees the old or the new
        tmp = f"{stamp}.{os.getpid()}"
        with open(tmp, "w") as fh:
            fh.write(now)
        os.replace(tmp, stamp)
    except OSError:
        pass
    return True


__all__ = ["drop_stale"]
