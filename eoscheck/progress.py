"""Progress bars with one policy for the whole suite.

Every bar says what it is doing (``desc``), is off when stderr is not a terminal (or when
``EOSCHECK_PROGRESS=0``; ``=1`` forces it on), and shows an ETA only when the caller says the
steps are of comparable cost (``eta=True``): an ETA extrapolated from uneven steps misleads.
"""
from __future__ import annotations

import os
import sys
from typing import Any, Iterable


def enabled() -> bool:
    """Whether bars are shown: ``EOSCHECK_PROGRESS`` if set, else whether stderr is a terminal."""
    flag = os.environ.get("EOSCHECK_PROGRESS")
    if flag is not None:
        word = flag.strip().lower()
        if word in ("", "0", "false", "no", "off"):
            return False
        if word in ("1", "true", "yes", "on"):
            return True
        from ._errors import EoscheckError

        raise EoscheckError(f"EOSCHECK_PROGRESS={flag!r}: use 1 (bars on) or 0 (off), or unset it")
    return sys.stderr.isatty()


def bar(iterable: Iterable[Any] | None = None, *, desc: str, total: int | None = None, unit: str = "it",
        eta: bool = False, leave: bool = False, **kwargs: Any):
    """A labelled tqdm bar (a no-op bar when disabled). ``eta=False`` hides the remaining-time guess."""
    from tqdm.auto import tqdm

    fmt = None if eta else "{desc}: {n_fmt}/{total_fmt} {unit} [{elapsed}]"
    if not eta and total is None and iterable is None:
        fmt = "{desc}: {n_fmt} {unit} [{elapsed}]"
    return tqdm(iterable, desc=desc, total=total, unit=unit, leave=leave, disable=not enabled(),
                bar_format=fmt, dynamic_ncols=True, **kwargs)
