"""The bounds' special functions (Lambert W, V = −W₋₁(−e^{−s})) bound into the one compiler.

Not a compiler: :func:`compile_expr` is :func:`eoscheck.compiler.compile_expr` with the
functions of :mod:`.special` bound for the numpy and torch back ends.  Undefined functions
(ρ, ψ, ψ⁻¹) are bound per loss with :func:`bind`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np
import sympy as sp

from ..compiler import bind
from ..compiler import compile_expr as _compile
from .special import (LambertWm1Log, lambertw_real_mp, lambertw_real_np, lambertw_real_torch, wm1log_mp, wm1log_np,
                      wm1log_torch)

SPECIAL = {
    "numpy": {"LambertW": lambda x, k=0: lambertw_real_np(np.asarray(x, dtype=np.float64), int(k)),
              LambertWm1Log.__name__: wm1log_np},
    "torch": {"LambertW": lambda x, k=0: lambertw_real_torch(x, int(k)),
              LambertWm1Log.__name__: wm1log_torch},
    "mpmath": {"LambertW": lambda x, k=0: lambertw_real_mp(x, int(k)), LambertWm1Log.__name__: wm1log_mp},
}


def compile_expr(expr: sp.Basic, args: Sequence[sp.Symbol], backend: str) -> Callable:
    """The ``backend`` evaluator of ``expr`` (a function of ``args``), special functions bound."""
    return bind(_compile(expr, args, backend), SPECIAL.get(backend, {}))


__all__ = ["compile_expr", "bind", "SPECIAL"]
