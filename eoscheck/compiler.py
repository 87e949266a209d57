"""One sympy → numeric compiler, with numpy, torch and mpmath back ends.

:func:`compile_expr` walks a sympy expression **once** and returns a :class:`Program`: a tree of
small closures that evaluate the expression with any back end chosen at call time —

* ``"numpy"``: vectorized float64 (Piecewise cases are evaluated only where they apply);
* ``"torch"``: float64 tensors, differentiable (Piecewise by ``torch.where``);
* ``"mpmath"``: scalars at the current mpmath precision, with :class:`Flags` recording the digits
  a sum lost to cancellation or absorption, so that :func:`mp_value` can raise the precision.

Nothing is generated or ``eval``-ed: the walk builds closures from a whitelist of node types
(numbers, ``pi``, ``E``, + × ^, exp, log, erf, erfc, tanh, Abs, sign, Heaviside, Max, Min, floor,
ceiling, Piecewise, comparisons, and/or/not).  Any other function (ρ, ψ, ψ⁻¹, Lambert W) is looked
up by name among the functions bound with :meth:`Program.bind`.  Numbers are never turned into
floats by sympy's ``evalf`` (whose cost is unbounded for constants such as e^{e^{e^{100}}}); they
are computed by the same walk, and in mpmath ``exp``/``^`` of an argument beyond ±10³⁰ is NaN and
the precision is capped (:data:`MP_DPS_MAX`), so every evaluation is bounded in time and precision.

With ``stable_log=True`` a log is rewritten where forming its argument would under/overflow or
lose digits: log(c + r) = log c + log1p(r/c), log ∏fᵢ = Σ log fᵢ, log eᵘ = u, log bᵉ = e·log b,
log erfc(u) = log 2 + log Φ(−√2 u).
"""

from __future__ import annotations

import math
import time
from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import scipy.special
import sympy as sp
import torch
from sympy.core.function import AppliedUndef

from ._errors import EoscheckError

BACKENDS = ("numpy", "torch", "mpmath")

#: mpmath: exp(x) and b**e with |x| (|e·ln b|) beyond this are NaN, not computed
MP_EXP_CAP = mpmath.mpf(10) ** 30
#: mpmath: a sum keeps at least this many bits after cancellation (else the precision is raised)
MP_KEEP_BITS = 64
MP_DPS0 = 30        #: starting precision of :func:`mp_value` (decimal digits)
MP_DPS_MAX = 1500   #: precision cap of :func:`mp_value`
MP_SECONDS = 0.1    #: per value: :func:`mp_value` stops raising the precision after this long
_ERFC_BITS = 192    #: erfc(x ≥ 0) is well conditioned: this many bits are enough
_LOG2 = math.log(2.0)


class Flags:
    """What a high-precision evaluation lost.

    ``hard``: a sum of non-zero terms was exactly 0 (depth of the cancellation unknown);
    ``need``: bits that would have kept ≥ MP_KEEP_BITS of a cancelling sum;
    ``pending``: bits that would have kept an absorbed term (1 + e^{−800}); it only becomes a
    need when a later operation exposes it (a cancelling sum, or log near 1).
    """

    __slots__ = ("hard", "need", "pending")

    def __init__(self):
        self.hard = False
        self.need = 0
        self.pending = 0


class _Env:
    """One evaluation: the back end, the argument values, the bound functions, the mpmath flags."""

    __slots__ = ("bk", "args", "fns", "fl", "cache")

    def __init__(self, bk, args, fns, fl=None, cache=None):
        self.bk, self.args, self.fns, self.fl = bk, args, fns, fl
        self.cache = {} if cache is None else cache

    def sub(self, mask) -> "_Env":
        return _Env(self.bk, tuple(a[mask] for a in self.args), self.fns, self.fl, self.cache)


Node = Callable[[_Env], Any]


# ---------------------------------------------------------------------------
# Back ends
# ---------------------------------------------------------------------------


class _Numpy:
    name = "numpy"

    def number(self, p: int, q: int):
        return np.float64(_ratio(p, q))

    pi, e = np.float64(math.pi), np.float64(math.e)

    def add(self, terms, env):
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def mul(self, fs, env):
        out = fs[0](env)
        for f in fs[1:]:
            out = out * f(env)
        return out

    def ipow(self, b, n: int):
        return np.power(b, float(n))

    def pow(self, b, e):
        return np.power(b, e)

    exp, log, tanh, abs, sign = np.exp, np.log, np.tanh, np.abs, np.sign
    floor, ceiling = np.floor, np.ceil
    erf, erfc = scipy.special.erf, scipy.special.erfc

    def heaviside(self, a):
        return np.heaviside(a, 0.5)

    def max(self, vals):
        return np.maximum.reduce(np.broadcast_arrays(*vals))

    def min(self, vals):
        return np.minimum.reduce(np.broadcast_arrays(*vals))

    lt, le, gt, ge, eq, ne = np.less, np.less_equal, np.greater, np.greater_equal, np.equal, np.not_equal

    def and_(self, vals):
        return np.logical_and.reduce(np.broadcast_arrays(*vals))

    def or_(self, vals):
        return np.logical_or.reduce(np.broadcast_arrays(*vals))

    def not_(self, a):
        return np.logical_not(a)

    def truth(self, v: bool, env):
        return np.full(_shape(env), v)

    def piecewise(self, pairs, env):
        n = _shape(env)
        out = np.full(n, np.nan)
        done = np.zeros(n, dtype=bool)
        for val, cond in pairs:
            m = np.broadcast_to(cond(env), n) & ~done
            if m.any():
                sub = env.sub(m) if n else env
                v = val(sub)
                out[m] = np.broadcast_to(v, out[m].shape) if n else v
            done |= m
            if done.all():
                break
        return out

    def ones(self, env):
        return np.ones(_shape(env))

    # --- stable logs ---
    def log_erfc(self, u):
        return _LOG2 + scipy.special.log_ndtr(-math.sqrt(2.0) * u)

    def log_add(self, c, fr, lr, generic, env):
        cf = float(c)
        r = fr(env) * self.ones(env)
        with np.errstate(all="ignore"):
            small = np.log(cf) + np.log1p(r / cf)
            big = lr(env) + np.log1p(cf / r)
        out = np.where(np.abs(r) <= cf, small, np.where(r > 0, big, np.nan))
        bad = ~np.isfinite(out) & np.isfinite(r)
        if bad.any():
            with np.errstate(all="ignore"):
                out[bad] = np.log(cf + r[bad])
        return out

    def log_mul(self, coeff, erfc_args, others, generic, env):
        out = np.full(_shape(env), math.log(float(coeff * 2 ** len(erfc_args))))
        for fu in erfc_args:
            out = out + scipy.special.log_ndtr(-math.sqrt(2.0) * fu(env))
        pos = np.ones(_shape(env), dtype=bool)
        for fv, lg in others:
            out = out + lg(env)
            pos &= fv(env) * self.ones(env) > 0
        if not pos.all():
            out = np.where(pos, out, generic(env))
        return out

    def log_pow(self, fb, fe, lb, generic, env):
        b = fb(env) * self.ones(env)
        with np.errstate(all="ignore"):
            return np.where(b > 0, fe(env) * lb(env), generic(env))


def _ratio(p: int, q: int) -> float:
    """p/q correctly rounded (±inf beyond the float range)."""
    try:
        return p / q
    except OverflowError:
        return math.inf if p > 0 else -math.inf


def _shape(env: _Env):
    return env.args[0].shape if env.args else ()


def _tt(x, like=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    dev = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(x, dtype=torch.float64, device=dev)


class _Torch:
    name = "torch"

    def number(self, p: int, q: int):
        return torch.tensor(_ratio(p, q), dtype=torch.float64)

    pi, e = torch.tensor(math.pi, dtype=torch.float64), torch.tensor(math.e, dtype=torch.float64)

    def add(self, terms, env):
        out = terms[0]
        for t in terms[1:]:
            out = out + t
        return out

    def mul(self, fs, env):
        out = fs[0](env)
        for f in fs[1:]:
            out = out * f(env)
        return out

    def ipow(self, b, n: int):
        return _tt(b) ** n

    def pow(self, b, e):
        return torch.pow(_tt(b), _tt(e))

    def exp(self, a):
        return torch.exp(_tt(a))

    def log(self, a):
        return torch.log(_tt(a))

    def tanh(self, a):
        return torch.tanh(_tt(a))

    def abs(self, a):
        return torch.abs(_tt(a))

    def sign(self, a):
        return torch.sign(_tt(a))

    def floor(self, a):
        return torch.floor(_tt(a))

    def ceiling(self, a):
        return torch.ceil(_tt(a))

    def erf(self, a):
        return torch.special.erf(_tt(a))

    def erfc(self, a):
        return torch.special.erfc(_tt(a))

    def heaviside(self, a):
        a = _tt(a)
        return torch.heaviside(a, torch.full_like(a, 0.5))

    def max(self, vals):
        out = _tt(vals[0])
        for v in vals[1:]:
            out = torch.maximum(out, _tt(v, out))
        return out

    def min(self, vals):
        out = _tt(vals[0])
        for v in vals[1:]:
            out = torch.minimum(out, _tt(v, out))
        return out

    def lt(self, a, b):
        return torch.lt(_tt(a), _tt(b))

    def le(self, a, b):
        return torch.le(_tt(a), _tt(b))

    def gt(self, a, b):
        return torch.gt(_tt(a), _tt(b))

    def ge(self, a, b):
        return torch.ge(_tt(a), _tt(b))

    def eq(self, a, b):
        return torch.eq(_tt(a), _tt(b))

    def ne(self, a, b):
        return torch.ne(_tt(a), _tt(b))

    def and_(self, vals):
        out = torch.as_tensor(vals[0])
        for v in vals[1:]:
            out = torch.logical_and(out, torch.as_tensor(v))
        return out

    def or_(self, vals):
        out = torch.as_tensor(vals[0])
        for v in vals[1:]:
            out = torch.logical_or(out, torch.as_tensor(v))
        return out

    def not_(self, a):
        return torch.logical_not(torch.as_tensor(a))

    def truth(self, v: bool, env):
        return torch.tensor(v)

    def piecewise(self, pairs, env):
        out = torch.tensor(math.nan, dtype=torch.float64)
        for val, cond in reversed(pairs):
            c = torch.as_tensor(cond(env)).to(torch.bool)
            v = _tt(val(env))
            out = torch.where(c.to(v.device), v, out.to(v.device))
        return out

    def ones(self, env):
        return torch.ones((), dtype=torch.float64)

    def log_erfc(self, u):
        return _LOG2 + torch.special.log_ndtr(-math.sqrt(2.0) * _tt(u))

    def log_add(self, c, fr, lr, generic, env):
        return generic(env)

    def log_mul(self, coeff, erfc_args, others, generic, env):
        return generic(env)

    def log_pow(self, fb, fe, lb, generic, env):
        return generic(env)


def _log2(x) -> float:
    """log₂|x| from the mpf exponent (cheap, ±1)."""
    return float(mpmath.frexp(x)[1])


def _erfc_pos(a):
    """erfc(a) for a ≥ 0 to _ERFC_BITS relative bits (mpmath at a huge precision crawls)."""
    with mpmath.workprec(min(mpmath.mp.prec, _ERFC_BITS)):
        return mpmath.erfc(a)


def _absorb(c, t, fl: Flags):
    """c + t with |t| ≪ |c|, recording the bits t loses as pending (see :class:`Flags`)."""
    s = c + t
    if t != 0 and s != 0:
        absorbed = _log2(abs(s)) - _log2(abs(t))
        if mpmath.mp.prec - absorbed < MP_KEEP_BITS:
            fl.pending = max(fl.pending, int(absorbed) + MP_KEEP_BITS + 16)
    return s


def flag_sum(terms, fl: Flags):
    """Σ terms at the working precision, flagging cancellation and absorption (see :class:`Flags`)."""
    if any(mpmath.isnan(t) for t in terms):
        return mpmath.nan
    s = mpmath.fsum(terms)
    if mpmath.isinf(s):
        return s
    big = max(abs(t) for t in terms)
    if big == 0 or mpmath.isinf(big):
        return s
    prec = mpmath.mp.prec
    if s == 0:
        fl.hard = True  # complete cancellation: unknown how many bits are missing
        return s
    cancel = _log2(big) - _log2(abs(s))
    if cancel > 8:  # digits of the terms are exposed: absorbed ones now matter too
        fl.need = max(fl.need, fl.pending)
    if prec - cancel < MP_KEEP_BITS:
        fl.need = max(fl.need, int(cancel) + MP_KEEP_BITS + 16)
    absorbed = _log2(abs(s)) - min(_log2(abs(t)) for t in terms if t != 0)
    if prec - absorbed < MP_KEEP_BITS:
        fl.pending = max(fl.pending, int(absorbed) + MP_KEEP_BITS + 16)
    return s


def _nan_guard(fn):
    def g(self, a):
        return a if mpmath.isnan(a) else fn(self, a)
    return g


class _Mpmath:
    name = "mpmath"

    def number(self, p: int, q: int):
        return mpmath.mpf(p) / q

    @property
    def pi(self):
        return +mpmath.pi

    @property
    def e(self):
        return +mpmath.e

    def add(self, terms, env):
        return flag_sum(terms, env.fl)

    def mul(self, fs, env):
        out = mpmath.mpf(1)
        for f in fs:
            out = out * f(env)
        return out

    def ipow(self, b, n: int):
        if b == 0 and n < 0:
            return mpmath.inf
        return b**n

    def pow(self, b, e):
        if mpmath.isnan(b) or mpmath.isnan(e) or b < 0:
            return mpmath.nan
        if b == 0:
            return mpmath.mpf(0) if e > 0 else mpmath.inf
        if abs(e * mpmath.log(b)) > MP_EXP_CAP:
            return mpmath.nan  # beyond what can be computed: undefined rather than a wrong 0/∞
        return mpmath.power(b, e)

    def exp(self, a):
        if mpmath.isnan(a) or abs(a) > MP_EXP_CAP:
            return mpmath.nan  # beyond what can be computed: undefined rather than a wrong 0/∞
        return mpmath.exp(a)

    def log(self, a):
        if mpmath.isnan(a) or a < 0:
            return mpmath.nan
        if a == 0:
            return -mpmath.inf
        return mpmath.log(a)

    tanh = _nan_guard(lambda self, a: mpmath.tanh(a))
    abs = _nan_guard(lambda self, a: abs(a))
    sign = _nan_guard(lambda self, a: mpmath.sign(a))
    floor = _nan_guard(lambda self, a: mpmath.floor(a))
    ceiling = _nan_guard(lambda self, a: mpmath.ceil(a))

    def heaviside(self, a):
        if mpmath.isnan(a):
            return a
        return mpmath.mpf(1) if a > 0 else mpmath.mpf(0) if a < 0 else mpmath.mpf(0.5)

    def erf_fl(self, a, fl):
        """erf(a); for |a| > 3 as ±(1 − erfc(|a|)), recording the absorbed erfc as pending bits."""
        if mpmath.isnan(a):
            return a
        if abs(a) > 3:
            return _absorb(1, -_erfc_pos(abs(a)), fl) * mpmath.sign(a)
        return mpmath.erf(a)

    def erfc_fl(self, a, fl):
        """erfc(a); for a < 0 as 2 − erfc(−a), recording the absorbed erfc(−a) as pending bits."""
        if mpmath.isnan(a):
            return a
        if a < 0:
            return _absorb(2, -_erfc_pos(-a), fl)
        return +_erfc_pos(a)

    def max(self, vals):
        return max(vals)

    def min(self, vals):
        return min(vals)

    @staticmethod
    def lt(a, b):
        return a < b

    @staticmethod
    def le(a, b):
        return a <= b

    @staticmethod
    def gt(a, b):
        return a > b

    @staticmethod
    def ge(a, b):
        return a >= b

    @staticmethod
    def eq(a, b):
        return a == b

    @staticmethod
    def ne(a, b):
        return a != b

    def and_(self, vals):
        return all(vals)

    def or_(self, vals):
        return any(vals)

    def not_(self, a):
        return not a

    def truth(self, v: bool, env):
        return v

    def piecewise(self, pairs, env):
        for val, cond in pairs:
            if cond(env):
                return val(env)
        return mpmath.nan

    def ones(self, env):
        return mpmath.mpf(1)

    # --- stable logs ---
    def log_checked(self, a, fl):
        if not (mpmath.isnan(a) or a <= 0) and abs(a - 1) < 0.01:  # log near 1 exposes absorbed digits
            fl.need = max(fl.need, fl.pending)
        return self.log(a)

    def log_erfc(self, u):
        if mpmath.isnan(u):
            return u
        if u < 0:
            return mpmath.log(2) + mpmath.log1p(-_erfc_pos(-u) / 2)
        return mpmath.log(_erfc_pos(u))

    def log_add(self, c, fr, lr, generic, env):
        cc = mpmath.mpf(int(c.p)) / int(c.q) if isinstance(c, sp.Rational) else mpmath.mpf(float(c))
        r = fr(env)
        if mpmath.isnan(r) or not (cc + r > 0) or mpmath.isinf(r):
            return generic(env)
        return mpmath.log(cc) + mpmath.log1p(r / cc)

    def log_mul(self, coeff, erfc_args, others, generic, env):
        # c·∏erfc(uᵢ)·∏fⱼ: an erfc with u < 0 is 2(1 − erfc(−u)/2); the 2s join c exactly
        c = coeff
        terms = []
        for fu in erfc_args:
            u = fu(env)
            if mpmath.isnan(u):
                return u
            if u < 0:
                c *= 2
                terms.append(mpmath.log1p(-_erfc_pos(-u) / 2))
            else:
                terms.append(mpmath.log(_erfc_pos(u)))
        for fv, lg in others:
            v = fv(env)
            if mpmath.isnan(v) or not v > 0:
                return generic(env)
            terms.append(lg(env))
        if c != 1:
            terms.append(mpmath.log(mpmath.mpf(int(c.p)) / int(c.q)))
        return flag_sum(terms, env.fl) if terms else mpmath.mpf(0)

    def log_pow(self, fb, fe, lb, generic, env):
        b = fb(env)
        if mpmath.isnan(b) or not b > 0:
            return generic(env)
        return fe(env) * lb(env)


_BK = {"numpy": _Numpy(), "torch": _Torch(), "mpmath": _Mpmath()}


# ---------------------------------------------------------------------------
# The walk
# ---------------------------------------------------------------------------

_UNARY = {sp.exp: "exp", sp.tanh: "tanh", sp.Abs: "abs", sp.sign: "sign", sp.Heaviside: "heaviside",
          sp.floor: "floor", sp.ceiling: "ceiling"}
_REL = {sp.StrictLessThan: "lt", sp.LessThan: "le", sp.StrictGreaterThan: "gt", sp.GreaterThan: "ge",
        sp.Equality: "eq", sp.Unequality: "ne"}


class _Walk:
    def __init__(self, names: Sequence[str], stable_log: bool):
        self.index = {n: i for i, n in enumerate(names)}
        self.stable_log = stable_log

    def node(self, expr: sp.Basic) -> Node:
        if isinstance(expr, sp.Symbol):
            i = self.index.get(expr.name)  # by name: z with other assumptions is still z
            if i is None:
                raise EoscheckError(f"cannot evaluate {sp.sstr(expr)}: no value for {expr.name}")
            return lambda env: env.args[i]
        if expr is sp.true or expr is sp.false:
            v = expr is sp.true
            return lambda env: env.bk.truth(v, env)
        if isinstance(expr, sp.Rational):
            p, q = int(expr.p), int(expr.q)
            key = ("num", p, q)
            return lambda env: _cached(env, key, lambda: env.bk.number(p, q))
        if isinstance(expr, sp.Float):  # the binary float, exactly
            return self.node(sp.Rational(expr))
        if expr is sp.pi:
            return lambda env: env.bk.pi
        if expr is sp.E:
            return lambda env: env.bk.e
        if isinstance(expr, sp.Piecewise):
            pairs = [(self.node(e), self.node(c)) for e, c in expr.args]
            return lambda env: env.bk.piecewise(pairs, env)
        if isinstance(expr, sp.log) and len(expr.args) == 1:
            return self.log(expr.args[0])
        fs = [self.node(a) for a in expr.args]
        if isinstance(expr, sp.Add):
            return lambda env: env.bk.add([f(env) for f in fs], env)
        if isinstance(expr, sp.Mul):
            return lambda env: env.bk.mul(fs, env)
        if isinstance(expr, sp.Pow):
            fb, fe = fs
            if expr.exp.is_Integer:
                n = int(expr.exp)
                return lambda env: env.bk.ipow(fb(env), n)
            return lambda env: env.bk.pow(fb(env), fe(env))
        if isinstance(expr, sp.erf):
            f0 = fs[0]
            return lambda env: (env.bk.erf_fl(f0(env), env.fl) if env.fl is not None else env.bk.erf(f0(env)))
        if isinstance(expr, sp.erfc):
            f0 = fs[0]
            return lambda env: (env.bk.erfc_fl(f0(env), env.fl) if env.fl is not None else env.bk.erfc(f0(env)))
        for cls, op in _UNARY.items():
            if isinstance(expr, cls):
                f0 = fs[0]
                return lambda env, op=op: getattr(env.bk, op)(f0(env))
        if isinstance(expr, sp.Max):
            return lambda env: env.bk.max([f(env) for f in fs])
        if isinstance(expr, sp.Min):
            return lambda env: env.bk.min([f(env) for f in fs])
        for cls, op in _REL.items():
            if isinstance(expr, cls):
                a, b = fs
                return lambda env, op=op: getattr(env.bk, op)(a(env), b(env))
        if isinstance(expr, sp.And):
            return lambda env: env.bk.and_([f(env) for f in fs])
        if isinstance(expr, sp.Or):
            return lambda env: env.bk.or_([f(env) for f in fs])
        if isinstance(expr, sp.Not):
            return lambda env: env.bk.not_(fs[0](env))
        if isinstance(expr, (AppliedUndef, sp.Function)):
            name = type(expr).__name__
            if isinstance(expr, sp.LambertW) and len(expr.args) == 2:
                k = int(expr.args[1])
                f0 = fs[0]
                return lambda env: _bound(env, name, expr)(f0(env), k)
            return lambda env: _bound(env, name, expr)(*[f(env) for f in fs])
        raise EoscheckError(f"cannot evaluate {type(expr).__name__} in {sp.sstr(expr)[:60]}")

    def log(self, arg: sp.Expr) -> Node:
        fa = self.node(arg)

        def generic(env):
            a = fa(env)
            return env.bk.log_checked(a, env.fl) if env.fl is not None else env.bk.log(a)

        if not self.stable_log:
            return generic
        if isinstance(arg, sp.exp):
            return self.node(arg.args[0])
        if isinstance(arg, sp.erfc):
            fu = self.node(arg.args[0])
            return lambda env: env.bk.log_erfc(fu(env))
        if isinstance(arg, sp.Add):
            c, rest = arg.as_coeff_Add()
            if c.is_positive:
                fr, lr = self.node(rest), self.log(rest)
                return lambda env: env.bk.log_add(c, fr, lr, generic, env)
            return generic
        if isinstance(arg, sp.Mul):
            coeff, rest = arg.as_coeff_Mul()
            if not (coeff.is_positive and isinstance(coeff, sp.Rational)):
                return generic
            factors = list(rest.args) if isinstance(rest, sp.Mul) else [rest]
            erfcs = [self.node(a.args[0]) for a in factors if isinstance(a, sp.erfc)]
            others = [(self.node(a), self.log(a)) for a in factors if not isinstance(a, sp.erfc)]
            return lambda env: env.bk.log_mul(coeff, erfcs, others, generic, env)
        if isinstance(arg, sp.Pow):
            fb, fe, lb = self.node(arg.base), self.node(arg.exp), self.log(arg.base)
            return lambda env: env.bk.log_pow(fb, fe, lb, generic, env)
        return generic


def _cached(env: _Env, key, make):
    k = (key, mpmath.mp.prec) if env.bk.name == "mpmath" else key
    v = env.cache.get(k)
    if v is None:
        v = env.cache[k] = make()
    return v


def _bound(env: _Env, name: str, expr) -> Callable:
    fn = env.fns.get(name)
    if fn is None:
        raise EoscheckError(f"cannot evaluate {sp.sstr(expr)[:60]}: the function {name} has no implementation "
                            f"for the {env.bk.name} back end")
    return fn


class Program:
    """A sympy expression compiled once (see the module doc); evaluate it with any back end.

    ``program.numpy(*args)``, ``program.torch(*args)``, ``program.mpmath(*args, flags=None)``;
    ``program.evaluator(backend)`` is the same as a plain function of the arguments.
    """

    def __init__(self, expr: sp.Basic, args: Sequence[sp.Symbol | str], stable_log: bool = False,
                 functions: Mapping[str, Mapping[str, Callable]] | None = None):
        self.expr = expr
        self.names = tuple(a if isinstance(a, str) else a.name for a in args)
        self.root = _Walk(self.names, stable_log).node(expr)
        self.functions = {b: dict((functions or {}).get(b, {})) for b in BACKENDS}
        self._consts: dict[str, dict] = {b: {} for b in BACKENDS}

    def bind(self, functions: Mapping[str, Callable], backend: str | None = None) -> "Program":
        """A copy with ``functions`` (name → implementation) bound, for ``backend`` or all back ends."""
        new = object.__new__(Program)
        new.__dict__.update(self.__dict__)
        new.functions = {b: dict(fs) for b, fs in self.functions.items()}
        for b in ([backend] if backend else BACKENDS):
            new.functions[b].update(functions)
        new._consts = {b: {} for b in BACKENDS}
        return new

    def numpy(self, *args) -> np.ndarray:
        """float64 values at the broadcast of ``args`` (NaN where undefined).

        Bounded: one float64 operation per node and point (the parser caps the nodes)."""
        arrs = [np.asarray(a, dtype=np.float64) for a in args]
        shape = np.broadcast_shapes(*(a.shape for a in arrs)) if arrs else ()
        flat = tuple(np.broadcast_to(a, shape).ravel() for a in arrs) if arrs else (np.zeros(1),)
        env = _Env(_BK["numpy"], flat, self.functions["numpy"], cache=self._consts["numpy"])
        with np.errstate(all="ignore"):
            out = np.asarray(self.root(env), dtype=np.float64)
        n = flat[0].shape[0]
        return np.broadcast_to(out, (n,)).reshape(shape).copy() if out.shape != shape else out

    def torch(self, *args) -> torch.Tensor:
        """float64 tensors (differentiable), at the broadcast of ``args``."""
        targs = tuple(_tt(a) for a in args)
        dev = next((a.device for a in targs if a.device.type != "cpu"), None)
        if dev is not None:
            targs = tuple(a.to(dev) for a in targs)
        env = _Env(_BK["torch"], targs, self.functions["torch"], cache={})
        out = _tt(self.root(env))
        shape = torch.broadcast_shapes(*(a.shape for a in targs)) if targs else ()
        if dev is not None:
            out = out.to(dev)
        return out.to(torch.float64).expand(torch.broadcast_shapes(out.shape, shape))

    def mpmath(self, *args, flags: Flags | None = None):
        """One value at the current mpmath precision (scalars); lost digits recorded in ``flags``."""
        env = _Env(_BK["mpmath"], tuple(mpmath.mpf(a) for a in args), self.functions["mpmath"],
                   flags if flags is not None else Flags(), cache=self._consts["mpmath"])
        return self.root(env)

    def evaluator(self, backend: str) -> Callable:
        if backend not in BACKENDS:
            raise EoscheckError(f"backend must be one of {', '.join(BACKENDS)}, got {backend!r}")
        return getattr(self, backend)


_CACHE: dict[tuple, Program] = {}


def compile_expr(expr: sp.Basic, args: Sequence[sp.Symbol | str], backend: str | None = None, *,
                 stable_log: bool = False):
    """``expr`` compiled once as a :class:`Program` of ``args`` (cached per expression).

    With ``backend`` (``"numpy"``, ``"torch"`` or ``"mpmath"``) returns that back end's evaluator,
    a function of the arguments in order.
    """
    key = (tuple(a if isinstance(a, str) else a.name for a in args), expr, stable_log)
    prog = _CACHE.get(key)
    if prog is None:
        prog = _CACHE[key] = Program(expr, args, stable_log=stable_log)
    return prog if backend is None else prog.evaluator(backend)


def bind(fn: Callable, functions: Mapping[str, Callable]) -> Callable:
    """An evaluator from :func:`compile_expr` with the undefined functions (ρ, ψ, ψ⁻¹, …) resolved."""
    if not functions:
        return fn
    prog: Program = fn.__self__
    return prog.bind(functions, fn.__name__).evaluator(fn.__name__)


def mp_value(fn: Callable[[Flags], Any], *, dps0: int = MP_DPS0, dps_max: int = MP_DPS_MAX,
             seconds: float = MP_SECONDS) -> tuple[Any, bool]:
    """fn(flags) in mpmath, raising the precision until no sum loses digits; (value, reliable).

    A cancelling sum doubles the precision; an absorbed term (1 + e^{−800}) jumps to the precision
    that keeps it.  Bounded: at most ``dps_max`` digits and ``seconds`` of raising.  Unreliable: a
    cancellation left at the cap, or a zero result after a loss.
    """
    prec = dps0 * 10 // 3
    cap = int(dps_max * 3.33)
    t0 = time.perf_counter()
    while True:
        with mpmath.workprec(prec):
            fl = Flags()
            try:
                v = fn(fl)
            except (ZeroDivisionError, OverflowError):
                v = mpmath.nan
            if isinstance(v, (bool, np.bool_)):
                v = mpmath.mpf(bool(v))
            if isinstance(v, mpmath.mpc):
                v = mpmath.nan if v.imag != 0 else v.real
            v = +v if isinstance(v, mpmath.mpf) else mpmath.mpf(v)
        lost = fl.hard or fl.need > prec
        if not lost or mpmath.isnan(v):
            return v, True
        want = 2 * prec if fl.hard else fl.need + 64
        if time.perf_counter() - t0 > seconds:
            return v, not (fl.hard or v == 0)
        if want > cap:
            if prec >= cap or not fl.hard:
                return v, not (fl.hard or v == 0)
            want = cap
        prec = max(want, prec + 64)


__all__ = ["BACKENDS", "Flags", "MP_DPS_MAX", "Program", "bind", "compile_expr", "flag_sum", "mp_value"]
