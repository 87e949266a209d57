"""Compile sympy expressions to vectorized numpy and torch evaluators (float64).

Both backends use sympy's NumPy code printer; the generated code is bound to a
numpy namespace or to a torch namespace that maps the same names (``log``,
``select``, ``maximum``, ...) to torch functions.  Undefined functions (ρ, ψ,
ψ⁻¹) are looked up at call time: :func:`bind` swaps them into the function's
globals, so one compiled function serves every loss.
"""

from __future__ import annotations

import functools
import math
import types
from typing import Callable, Mapping, Sequence

import numpy as np
import sympy as sp
import torch
from sympy.printing.numpy import NumPyPrinter

from .special import LambertWm1Log, lambertw_real_np, lambertw_real_torch, wm1log_np, wm1log_torch


def _printer() -> NumPyPrinter:
    return NumPyPrinter(
        {"fully_qualified_modules": False, "inline": True, "allow_unknown_functions": True, "user_functions": {}}
    )


def _np_lambertw(x, k=0):
    return lambertw_real_np(np.asarray(x, dtype=np.float64), int(k))


NUMPY_NS: dict[str, object] = {
    name: getattr(np, name)
    for name in (
        "log", "exp", "sqrt", "select", "greater", "greater_equal", "less", "less_equal", "equal",
        "not_equal", "logical_and", "logical_or", "logical_not", "maximum", "minimum", "ceil",
        "floor", "abs", "sign", "nan", "inf", "pi", "e", "log1p", "expm1", "power",
    )
}
NUMPY_NS.update({"reduce": functools.reduce, "LambertW": _np_lambertw, LambertWm1Log.__name__: wm1log_np})


def _tt(x) -> torch.Tensor:
    return x if isinstance(x, torch.Tensor) else torch.as_tensor(x, dtype=torch.float64)


def _t1(fn):
    return lambda *args: fn(*(_tt(a) for a in args))


def _t_select(condlist, choicelist, default=math.nan):
    out = _tt(default)
    for cond, choice in reversed(list(zip(condlist, choicelist))):
        out = torch.where(_tt(cond).to(torch.bool), _tt(choice), out)
    return out


def _t_lambertw(x, k=0):
    return lambertw_real_torch(_tt(x), int(k))


TORCH_NS: dict[str, object] = {
    "log": _t1(torch.log), "exp": _t1(torch.exp), "sqrt": _t1(torch.sqrt), "select": _t_select,
    "greater": _t1(torch.gt), "greater_equal": _t1(torch.ge), "less": _t1(torch.lt),
    "less_equal": _t1(torch.le), "equal": _t1(torch.eq), "not_equal": _t1(torch.ne),
    "logical_and": _t1(torch.logical_and), "logical_or": _t1(torch.logical_or),
    "logical_not": _t1(torch.logical_not), "maximum": _t1(torch.maximum), "minimum": _t1(torch.minimum),
    "ceil": _t1(torch.ceil), "floor": _t1(torch.floor), "abs": _t1(torch.abs), "sign": _t1(torch.sign),
    "log1p": _t1(torch.log1p), "expm1": _t1(torch.expm1), "power": _t1(torch.pow),
    "nan": math.nan, "inf": math.inf, "pi": math.pi, "e": math.e, "reduce": functools.reduce,
    "LambertW": _t_lambertw, LambertWm1Log.__name__: lambda x: wm1log_torch(_tt(x)),
}

_CACHE: dict[tuple, Callable] = {}


def compile_expr(expr: sp.Basic, args: Sequence[sp.Symbol], backend: str) -> Callable:
    """A function of ``args`` (positional) evaluating ``expr`` with ``backend`` ∈ {numpy, torch}."""
    key = (backend, tuple(a.name for a in args), expr)
    fn = _CACHE.get(key)
    if fn is None:
        ns = {"numpy": NUMPY_NS, "torch": TORCH_NS}[backend]
        fn = sp.lambdify(list(args), expr, modules=[dict(ns)], printer=_printer())
        _CACHE[key] = fn
    return fn


def bind(fn: Callable, functions: Mapping[str, Callable]) -> Callable:
    """``fn`` with the undefined functions (ρ, ψ, ψ⁻¹) resolved to ``functions``."""
    if not functions:
        return fn
    return types.FunctionType(fn.__code__, {**fn.__globals__, **functions}, fn.__name__, fn.__defaults__)


__all__ = ["compile_expr", "bind", "NUMPY_NS", "TORCH_NS"]
