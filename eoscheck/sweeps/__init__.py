"""Sweeps: one quantity over thousands of datasets × stepsizes, on Dask (``eoscheck sweep``).

:func:`sweep` runs a grid and returns a pandas DataFrame; :mod:`.grid` seeds the datasets,
:mod:`.measures` measures them with the ``conjecture`` vocabulary, :mod:`.tasks` cuts and stores
the work, :mod:`.execute` runs it serially, on a LocalCluster (workers started by :mod:`.workers`
from a fork server preloaded with :mod:`.warm`) or on an existing Dask cluster, and
:mod:`.crawshaw_liu` is the built-in study of Crawshaw & Liu (COLT 2026), Fig. 2a.
"""

__all__ = ["DEFAULT_MEASURES", "plan", "sweep"]


def __getattr__(name: str):
    """``sweep``, ``plan``, ``DEFAULT_MEASURES`` from :mod:`.execute`, imported on first use, so that
    :mod:`.workers` (imported first by ``eoscheck sweep --workers N``) costs no heavy import."""
    if name in __all__:
        from . import execute

        return getattr(execute, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
