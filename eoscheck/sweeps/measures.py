"""The quantities a sweep records per (dataset, η): the ``conjecture`` vocabulary, one number each.

Each measure is parsed and measured by :class:`eoscheck.properties.conjecture.Conjecture` (the
same code that tests user conjectures): ``final_loss``, ``last_increase``, ``max_loss``,
``transition_time(THR)`` (first s with L(w_s) ≤ THR; T + 1 when not reached by T, NaN where the run diverged first) and the
quantities at one step, ``loss(T)``, ``w_norm(T/2)``, ``margin(100)``, …  A quantity at every
``t`` is not one number per run and is refused.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

from .._errors import EoscheckError
from ..datasets import Dataset


def split_top_level(text: str) -> list[str]:
    """Split at the commas outside parentheses: ``"a(1,2),b"`` → ``["a(1,2)", "b"]``."""
    out, depth, cur = [], 0, []
    for ch in text:
        if ch == "," and depth == 0:
            out.append("".join(cur))
            cur = []
            continue
        depth += (ch == "(") - (ch == ")")
        cur.append(ch)
    out.append("".join(cur))
    return [s.strip() for s in out if s.strip()]


@dataclass(frozen=True)
class Measure:
    """One column of the results: its name (the measure as written, without spaces) and parser."""

    name: str
    conjecture: Any


def parse_measures(text: str | list[str] | tuple[str, ...], loss: str = "logistic",
                   steps: int | None = None) -> tuple[Measure, ...]:
    """The measures of ``--measure`` (comma-separated), each validated now (unknown → EoscheckError), a
    step such as loss(T/2) against the run's T = ``steps`` (when given)."""
    from ..properties.conjecture import Conjecture

    if not isinstance(text, str) and not (isinstance(text, (list, tuple)) and all(isinstance(t, str) for t in text)):
        raise EoscheckError(f"measure must be a comma-separated string or a list of names, got {text!r}; e.g. "
                            '"transition_time(1/eta),final_loss"')
    items = split_top_level(text) if isinstance(text, str) else [str(t).strip() for t in text]
    if not items:
        raise EoscheckError('--measure needs at least one quantity, e.g. "transition_time(1/eta),final_loss"')
    out, seen = [], set()
    for item in items:
        name = "".join(item.split())
        if name in seen:
            raise EoscheckError(f"--measure lists {name} twice")
        seen.add(name)
        conj = Conjecture.parse(f"{item} <= 0", loss=loss, ranges=None if steps is None else {"T": str(int(steps))})
        if conj.arg == "t":
            raise EoscheckError(f"--measure {item}: a quantity at every t is not one number per run; "
                                f"give a step, e.g. {conj.quantity}(T) or {conj.quantity}(T/2)")
        out.append(Measure(name, conj))
    return tuple(out)


def measure_dataset(data: Dataset, loss: str, etas: tuple[float, ...], steps: int,
                    measures: tuple[Measure, ...]) -> dict[str, np.ndarray]:
    """Run GD on ``data`` with every η as one batch and return one (K,) column per measure, plus
    ``diverged`` (K,) and the certified ``gamma_star`` (NaN where a step lies outside 0..T)."""
    from ..properties.instances import Instance, clear_cache

    K = len(etas)
    inst = Instance(data, loss, tuple(float(e) for e in etas), int(steps), extra={"T": [int(steps)] * K})
    row = {float(e): k for k, e in enumerate(inst.etas)}
    cols: dict[str, np.ndarray] = {}
    try:
        for m in measures:
            vals, P, _ = m.conjecture.points(inst)
            col = np.full(K, math.nan)
            for v, e in zip(vals, P["eta"]):
                col[row[float(e)]] = v
            cols[m.name] = col
        cols["diverged"] = np.asarray(inst.trajectory().diverged, dtype=bool)
    finally:
        clear_cache()  # one dataset's runs are not reused by the next
    return cols
