"""Tasks of a sweep: a chunk of datasets, each run with all its stepsizes as one batched GD.

A task is content-addressed: its key hashes the grid's configuration, the measures, the dataset
indices, the eoscheck version, the code the rows depend on (:func:`eoscheck.codehash.claims_hash`:
the package, its bounds and its properties, by content) and what else fixes their last bits on the
machine that computes them (:func:`task_numerics`: the GEMM library, the CPUs that choose the panels,
the CPU model whose BLAS kernels run, the numerical libraries' versions).  A finished task
(``DIR/tasks/<key>.parquet``, written atomically) is reused by any later sweep that asks for the
same work with the same code on machines alike in those, and never after an edit of that code; a
worker whose code or numerics differ from the task's refuses it (its rows would differ in their
last bits from the rest of the table).  A task runs with BLAS and
torch pinned to one thread and the GD engine in-process (``threads=1``: no fork inside a Dask
worker), which also makes its numbers the same on every worker and in a serial run.
"""

from __future__ import annotations

import functools
import io
import json
import math
import os
import socket
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any


from ..codehash import claims_hash
from ..provenance import config_hash
from .grid import Grid
from .measures import Measure, measure_dataset, parse_measures

#: Columns before the measures, in order.
ID_COLUMNS = ("dataset", "data_seed", "name", "n", "d", "max_norm", "gamma", "gamma_star", "gamma_gap", "separable",
              "eta")


@dataclass(frozen=True)
class Task:
    """Datasets ``first .. first+count−1`` of ``grid``, measured with ``measures`` (their texts)."""

    grid: Grid
    measures: tuple[str, ...]
    first: int
    count: int
    #: :func:`task_numerics` of the machines that compute it, as sorted (name, value) pairs
    numerics: tuple = ()

    @property
    def key(self) -> str:
        from .. import __version__

        return config_hash({"grid": self.grid.config(), "measures": list(self.measures),
                            "datasets": [self.first, self.count], "eoscheck": __version__,
                            "code": claims_hash(), "numerics": [list(p) for p in self.numerics]})


def task_numerics() -> tuple:
    """What fixes a task's bits on this machine besides its code and configuration: the GEMM library and the
    CPUs (:func:`eoscheck.fastgd.numerics`), the CPU model (its BLAS kernels) and the versions of numpy, numba
    and torch, and of scipy (the certified max margin: γ*, its gap) and sympy (the bounds a measure evaluates);
    sorted (name, value) pairs."""
    import numba
    import numpy as np
    import scipy
    import sympy
    import torch

    from ..fastgd import numerics

    return tuple(sorted({**numerics(), "cpu": _cpu_model(), "numpy": np.__version__, "numba": numba.__version__,
                         "torch": torch.__version__, "scipy": scipy.__version__, "sympy": sympy.__version__}.items()))


@functools.lru_cache(maxsize=1)
def _cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), read once per process: every task checks it."""
    import platform

    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as fh:
            model = next((ln.split(":", 1)[1].strip() for ln in fh if ln.startswith("model name")), model)
    except OSError:
        pass
    return model


def make_tasks(grid: Grid, measures: tuple[str, ...], task_size: int, numerics: tuple = ()) -> list[Task]:
    """The datasets cut into chunks of ``task_size`` (the last may be shorter), for machines with ``numerics``."""
    n = grid.data.count
    return [Task(grid, measures, i, min(task_size, n - i), numerics) for i in range(0, n, task_size)]


def check_numerics(task: Task) -> None:
    """Refuse, in one line, to compute ``task`` on a machine whose :func:`task_numerics` differ from its own."""
    from .._errors import EoscheckError

    here = dict(task_numerics())
    diff = [f"{k} {here.get(k)!r} (the sweep's: {v!r})" for k, v in task.numerics if here.get(k) != v]
    if diff:
        raise EoscheckError(f"worker {socket.gethostname()} computes with {', '.join(diff)}: its rows would differ in "
                            "their last bits from the others'; run the workers on machines alike (the same "
                            "EOSCHECK_GEMM, CPUs and versions)")


def run_task(task: Task) -> dict[str, Any]:
    """Run one task (in any process): rows as a dict of columns, plus where and how long it ran."""
    from threadpoolctl import threadpool_info, threadpool_limits

    from ..properties.strategies import certificate
    from ..resources import single_torch_thread

    if task.numerics:
        check_numerics(task)
    t0, c0 = time.perf_counter(), time.process_time()
    measures: tuple[Measure, ...] = parse_measures(list(task.measures), task.grid.loss, task.grid.steps)
    cols: dict[str, list] = {c: [] for c in ID_COLUMNS}
    cols.update({m.name: [] for m in measures})
    cols["diverged"] = []
    with single_torch_thread():
        with threadpool_limits(1):
            pools = sorted({f"{p.get('internal_api')}:{p.get('num_threads')}" for p in threadpool_info()})
            for i in range(task.first, task.first + task.count):
                data, seed = task.grid.data.dataset(i, task.grid.seed)
                res = measure_dataset(data, task.grid.loss, task.grid.etas, task.grid.steps, measures)
                cert = certificate(data)
                # the certificate's own interval [γ*, γ* + gap] holds the true max margin (the solver's duality gap
                # belongs to its unreduced value, above the reduced γ*: γ* + that gap missed the toy set's 0.2)
                g, gap = cert.gamma, cert.gamma_hi - cert.gamma
                for k, eta in enumerate(task.grid.etas):
                    drawn = float(data.meta.get("gamma", math.nan))   # the generator's γ, exactly (NaN: none)
                    for c, v in zip(ID_COLUMNS, (i, seed, data.name, data.n, data.d, data.max_norm, drawn, g, gap,
                                                 g > 0, float(eta))):
                        cols[c].append(v)
                    for m in measures:
                        cols[m.name].append(float(res[m.name][k]))
                    cols["diverged"].append(bool(res["diverged"][k]))
    return {"key": task.key, "columns": cols, "seconds": time.perf_counter() - t0,
            "cpu_seconds": time.process_time() - c0, "worker": f"{socket.gethostname()}:{os.getpid()}",
            "threadpools": pools, "preloaded": "eoscheck.sweeps.warm" in sys.modules}


def frame(result: dict[str, Any]):
    """The rows of a task result as a pandas DataFrame (fixed dtypes)."""
    import pandas as pd

    df = pd.DataFrame(result["columns"])
    return df.astype({"dataset": "int64", "data_seed": "int64", "n": "int64", "d": "int64", "max_norm": "float64",
                      "gamma": "float64", "gamma_star": "float64", "gamma_gap": "float64", "separable": "bool",
                      "eta": "float64",
                      "diverged": "bool"})


def task_path(folder: Path, key: str) -> Path:
    return Path(folder) / "tasks" / f"{key}.parquet"


def store(folder: Path, result: dict[str, Any]) -> Path:
    """Write a finished task atomically (rows + its timing and worker in the Parquet metadata)."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    from ..outputs import atomic_write

    table = pa.Table.from_pandas(frame(result), preserve_index=False)
    meta = {k: result[k] for k in ("seconds", "cpu_seconds", "worker", "threadpools")}
    table = table.replace_schema_metadata({**(table.schema.metadata or {}), b"eoscheck": json.dumps(meta).encode()})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return atomic_write(task_path(folder, result["key"]), buf.getvalue())


def load(folder: Path, key: str) -> dict[str, Any] | None:
    """A stored task result, or None if absent or unreadable (then it is recomputed)."""
    import pyarrow.parquet as pq

    p = task_path(folder, key)
    if not p.is_file():
        return None
    try:
        table = pq.read_table(p)
    except Exception:  # a damaged file is recomputed, not trusted
        return None
    meta = json.loads((table.schema.metadata or {}).get(b"eoscheck", b"{}"))
    return {"key": key, "columns": table.to_pydict(), "seconds": meta.get("seconds", float("nan")),
            "cpu_seconds": meta.get("cpu_seconds", float("nan")),
            "worker": meta.get("worker", "?"), "threadpools": meta.get("threadpools", []), "reused": True}


def default_task_size(grid: Grid, shape: tuple[int, int] | None = None) -> int:
    """Datasets per task, from the grid alone (never from the worker count, so that a resumed sweep
    on another cluster finds the same tasks): about 2·10⁸ flops of GD per task on the grid's largest
    dataset (``shape``, else :meth:`~eoscheck.sweeps.grid.DataSpec.largest_shape`), 1 to 64 datasets."""
    n, d = shape if shape is not None else grid.data.largest_shape()
    flops = 4.0 * float(n) * float(d) * len(grid.etas) * (grid.steps + 1) + 1e6
    return int(min(64, max(1, round(2e8 / flops))))
