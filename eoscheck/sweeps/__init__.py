"""Sweeps: one quantity over thousands of datasets × stepsizes, on Dask (``eoscheck sweep``).

:func:`sweep` runs a grid and returns a pandas DataFrame; :mod:`.grid` seeds the datasets,
:mod:`.measures` measures them with the ``conjecture`` vocabulary, :mod:`.tasks` cuts and stores
the work, :mod:`.execute` runs it serially, on a LocalCluster or on an existing Dask cluster, and
:mod:`.crawshaw_liu` is the built-in study of Crawshaw & Liu (COLT 2026), Fig. 2a.
"""

from .execute import DEFAULT_MEASURES, plan, sweep

__all__ = ["DEFAULT_MEASURES", "plan", "sweep"]
