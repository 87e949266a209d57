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
are computed by the same walk, and in mpmath ``exp``/``^`` of an argument beyond ±2¹⁰²⁴ (no float64) is NaN and
the precision is capped (:data:`MP_DPS_MAX`), so every evaluation is bounded in time and precision.

With ``stable_log=True`` a log is rewritten where forming its argument would under/overflow or
lose digits: log(c + r) = log c + log1p(r/c), log ∏fᵢ = Σ log fᵢ, log eᵘ = u, log bᵉ = e·log b,
log erfc(u) = log 2 + log Φ(−√2 u), the log of a Piecewise piece by piece, log Σ of positive terms
by log-sum-exp, e^u − 1 and 1 − e^u by expm1, log(1 − e^v) by log1mexp, log log(1 + r) = ln r − r/2 for
0 ≤ r < 1e-8 (ln ℓ of a user's
logistic beyond z = 745); and a product that is not finite in float64 (∞·0, ∞/∞: the
ℓ′ = −e^{−z}/(1 + e^{−z}) of a user's logistic at z = −710) is recomputed as (∏ sign fᵢ)·exp(Σ ln|fᵢ|)
with those logs, or, where the product has a sum among its factors that under/overflowed as a whole, as the
sum of the distributed terms' products.  A univariate √A + B with polynomial A, B whose A − B² loses terms (√(1+z²) − z) is
evaluated as (A − B²)/(√A − B) where B < 0 (:func:`conjugate_form`; −√A + B as its negative), a sum of fractions
(algebraic, exponentials as atoms) over its common denominator where that cancels or leaves such a difference
(:func:`together_form`), 1 ± tanh u, 1 − tanh² u through exponentials (:func:`tanh_form`), and c − c·u/(v + u)
as c·v/(v + u) (:func:`complement_form`: 1 − σ, so that the ℓ″ = 2(1 − σ)σ of a user's log(1 + e^{−2z})/2 is
2/((1 + e^{−2z})(1 + e^{2z}))); other cancelling differences are not rewritten (``audit-loss --run`` measures what
they cost).
"""

from __future__ import annotations

from typing import Any, Callable, Mapping, Sequence

import mpmath
import numpy as np
import sympy as sp
import torch
from sympy.core.function import AppliedUndef

from ._errors import EoscheckError
from .backends import (BACKEND_OBJECTS, BACKENDS, MP_CAPPED, MP_DPS0, MP_DPS_MAX, MP_KEEP_BITS, MP_RAISES, Flags,
                       as_tensor, flag_sum)


class _Env:
    """One evaluation: the back end, the argument values, the bound functions, the mpmath flags."""

    __slots__ = ("bk", "args", "fns", "fl", "cache", "memo")

    def __init__(self, bk, args, fns, fl=None, cache=None):
        self.bk, self.args, self.fns, self.fl = bk, args, fns, fl
        self.cache = {} if cache is None else cache
        self.memo: dict = {}   # each node's value in this evaluation (the stable rules reuse sub-expressions)

    def sub(self, mask) -> "_Env":
        return _Env(self.bk, tuple(a[mask] for a in self.args), self.fns, self.fl, self.cache)


Node = Callable[[_Env], Any]



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
        # one node per (sub-expression, value or log): the stable rules build the value and the log of the
        # same sub-expressions, which would otherwise be built again at every level (2^depth)
        self._nodes: dict[sp.Basic, Node] = {}
        self._logs: dict[sp.Basic, Node] = {}
        self._plain: set[sp.Basic] = set()      # sums the conjugate rule must not rewrite (its own denominators)
        self._forms: dict[tuple, Any] = {}

    def _form(self, rule: Callable, expr: sp.Add):
        """``rule(expr)``, once per (rule, sum): the sum's value and its log both ask (each rule expands)."""
        key = (rule, expr)
        if key not in self._forms:
            self._forms[key] = rule(expr)
        return self._forms[key]

    def joined(self, expr: sp.Add) -> sp.Expr | None:
        """:func:`together_form` of ``expr``."""
        return self._form(together_form, expr)

    def conjugate(self, expr: sp.Add) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr] | None, int]:
        """:func:`signed_conjugate_form` of ``expr``."""
        return self._form(signed_conjugate_form, expr)

    def node(self, expr: sp.Basic) -> Node:
        got = self._nodes.get(expr)
        if got is None:
            got = self._nodes[expr] = _memoized(self._node(expr))
        return got

    def _node(self, expr: sp.Basic) -> Node:
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
        if isinstance(expr, sp.ITE):     # c ? a : b of conditions, from sympy's simplification of nested max/min
            c, a, b = expr.args
            return self.node(sp.Or(sp.And(c, a), sp.And(sp.Not(c), b)))
        if isinstance(expr, sp.log) and len(expr.args) == 1:
            return self.log(expr.args[0])
        if self.stable_log and isinstance(expr, sp.Add) and expr not in self._plain:
            conj, sign = self.conjugate(expr)
            if conj is not None:       # √A + B where B < 0: (A − B²)/(√A − B), A − B² expanded symbolically
                num, root, rest = conj
                den = sp.Add(root, -rest, evaluate=False)
                self._plain.add(den)   # its own conjugate form is expr again; where B < 0 it does not cancel
                alt = self.node(sp.Mul(sign * num, sp.Pow(den, -1, evaluate=False), evaluate=False))
                cond, otherwise = self.node(sp.StrictLessThan(rest, 0)), self.node(sp.true)
                terms = [self.node(a) for a in expr.args]

                def plain(env):
                    return env.bk.add([f(env) for f in terms], env)

                return lambda env: env.bk.piecewise([(alt, cond), (plain, otherwise)], env)
            joined = self.joined(expr)
            if joined is not None:     # z/√(1+z²) − 1 = (z − √(1+z²))/√(1+z²): the numerator's own rules apply
                return self.node(joined)
            c, rest = expr.as_coeff_Add()
            if c == -1 and isinstance(rest, sp.exp):          # e^u − 1 = expm1(u): no cancellation near u = 0
                fu = self.node(rest.args[0])
                return lambda env: env.bk.expm1(fu(env))
            if c == 1 and isinstance(-rest, sp.exp):          # 1 − e^u = −expm1(u)
                fu = self.node((-rest).args[0])
                return lambda env: -env.bk.expm1(fu(env))
        fs = [self.node(a) for a in expr.args]
        if isinstance(expr, sp.Add):
            return lambda env: env.bk.add([f(env) for f in fs], env)
        if isinstance(expr, sp.Mul):
            if self.stable_log:    # ∞·0 and ∞/∞ recomputed from the factors' logs (see the module doc)
                logs = [self.log(a) for a in expr.args]
                # a sum that may be negative has its |·| logged as −sum (−e^{−z} − 2e^{−2z} over 1 + e^{−z} + e^{−2z}),
                # compiled when first needed; −sum's terms are smaller than the sum, so this ends
                neg = [self._lazy_log(-a) if isinstance(a, sp.Add) and not a.is_nonnegative else None
                       for a in expr.args]
                # a sum that under/overflows as a whole, (√2 z e^{−z²/2}/√π + 2e^{−z²}/(π erfc))/erfc — the ℓ″ of
                # −ln Φ below z = −38 — has no finite log; distributed, each term's product is stable
                adds = [i for i, a in enumerate(expr.args) if isinstance(a, sp.Add) and a.free_symbols]
                dist = None
                # not a sum taken over a common denominator: distributed, its terms would cancel as written (the ℓ″
                # of log(1 + e^{−z} + e^{−2z} + e^{−3z}) read −1e-12 below z = −710), while its log is stable
                if len(adds) == 1 and self.joined(expr.args[adds[0]]) is None:
                    i = adds[0]
                    others = expr.args[:i] + expr.args[i + 1:]
                    spread = sp.Add(*[sp.Mul(t, *others) for t in expr.args[i].args])
                    # a plain sum of its terms' products: the common-denominator rule would join it into this very
                    # product again (z/√(1+z²) − 1 at z = 1e160 recursed without end)
                    self._plain.add(spread)
                    dist = (i, self._lazy_node(spread))
                return lambda env: env.bk.mul_stable(fs, logs, env, neg, dist)
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
        if expr.has(sp.I):
            raise EoscheckError(f"cannot evaluate {sp.sstr(expr)[:60]}: it is not a real number (I, from a square "
                                "root or logarithm of a negative quantity: every parameter is positive)")
        if expr.has(sp.nan, sp.zoo):
            raise EoscheckError(f"cannot evaluate {sp.sstr(expr)[:60]}: sympy reduces it to an undefined value (NaN or "
                                "complex ∞, as for log(0), 1/0, or the derivative of 0**z); write a formula defined "
                                "for every real argument")
        raise EoscheckError(f"cannot evaluate {type(expr).__name__} in {sp.sstr(expr)[:60]}")

    def _lazy_node(self, expr: sp.Expr, compile_: Callable[[sp.Expr], Node] | None = None) -> Node:
        """``compile_(expr)`` (default :meth:`node`) at its first evaluation."""
        got: list[Node] = []

        def node(env):
            if not got:
                got.append((compile_ or self.node)(expr))
            return got[0](env)
        return node

    def _lazy_log(self, arg: sp.Expr) -> Node:
        """:meth:`log` of ``arg``, compiled at its first evaluation."""
        return self._lazy_node(arg, self.log)

    def log(self, arg: sp.Expr) -> Node:
        got = self._logs.get(arg)
        if got is None:
            got = self._logs[arg] = _memoized(self._log(arg))
        return got

    def _log(self, arg: sp.Expr) -> Node:
        fa = self.node(arg)

        def generic(env):
            a = fa(env)
            return env.bk.log_checked(a, env.fl) if env.fl is not None else env.bk.log(a)

        if not self.stable_log:
            return generic
        if isinstance(arg, sp.Add) and arg not in self._plain and self.conjugate(arg)[0] is None:
            joined = self.joined(arg)
            if joined is not None:   # the log of the sum's value where it is taken over a common denominator
                return self.log(joined)
        if isinstance(arg, sp.exp):
            return self.node(arg.args[0])
        if isinstance(arg, sp.Piecewise):   # the log of each piece (log of flat_exp's e^{−z} piece is −z)
            pairs = [(self.log(e), self.node(c)) for e, c in arg.args]
            return lambda env: env.bk.piecewise(pairs, env)
        if isinstance(arg, sp.Add) and arg.as_coeff_Add()[0] == 1 and isinstance(-arg.as_coeff_Add()[1], sp.exp):
            fv = self.node((-arg.as_coeff_Add()[1]).args[0])    # log(1 − e^v), e.g. v = −e^z: log1mexp
            return lambda env: env.bk.log1mexp(fv(env))
        if isinstance(arg, sp.Add) and arg.as_coeff_Add()[0] == 0 and all(t.is_positive for t in arg.args):
            logs = [self.log(t) for t in arg.args]   # log Σ of positive terms = log-sum-exp of their logs
            return lambda env: env.bk.log_sum(logs, generic, env)
        if isinstance(arg, sp.log) and len(arg.args) == 1 and isinstance(arg.args[0], sp.Add):
            c, rest = arg.args[0].as_coeff_Add()
            if c == 1:          # log log(1 + r) = ln r + ln(log1p(r)/r): finite where log1p(r) underflows
                fr, lr = self.node(rest), self.log(rest)
                return lambda env: env.bk.log_log1p(fr, lr, generic, env)
        if isinstance(arg, sp.erfc):
            fu = self.node(arg.args[0])
            return lambda env: env.bk.log_erfc(fu(env))
        if isinstance(arg, sp.Add):
            c, rest = arg.as_coeff_Add()
            if c.is_positive:
                fr, lr = self.node(rest), self.log(rest)
                return lambda env: env.bk.log_add(c, fr, lr, generic, env)
            signed = [t.as_coeff_Mul() for t in arg.args]
            if c == 0 and all(k != 0 and r.is_positive for k, r in signed):
                # terms of known signs, e^z − e^{−z}: log of their signed log-sum-exp where the plain log overflows
                signs = [1.0 if k > 0 else -1.0 for k, _ in signed]
                logs = [self.log(abs(k) * r) for k, r in signed]
                return lambda env: env.bk.log_sum_signed(signs, logs, generic, env)
            return generic
        if isinstance(arg, sp.Mul):
            coeff, rest = arg.as_coeff_Mul()
            if not (coeff.is_positive and isinstance(coeff, sp.Rational)):
                ex = sp.expand_log(arg)     # −log(1/u) = log u where sympy knows u > 0: −log(σ(z)) = log(1 + e^{−z})
                return self.log(ex) if ex != arg else generic
            factors = list(rest.args) if isinstance(rest, sp.Mul) else [rest]
            erfcs = [self.node(a.args[0]) for a in factors if isinstance(a, sp.erfc)]
            others = [(self.node(a), self.log(a)) for a in factors if not isinstance(a, sp.erfc)]
            return lambda env: env.bk.log_mul(coeff, erfcs, others, generic, env)
        if isinstance(arg, sp.Pow):
            fb, fe, lb = self.node(arg.base), self.node(arg.exp), self.log(arg.base)
            return lambda env: env.bk.log_pow(fb, fe, lb, generic, env)
        return generic


def tanh_form(expr: sp.Expr) -> sp.Expr | None:
    """A sum c + k·tanh(u) with |k| = c > 0 as 2c/(1 + e^{−2u·sign k}), and c + k·tanh(u)² with k = −c as
    4c/((1 + e^{−2u})(1 + e^{2u})), else None.  As written these cancel where tanh u rounds to ±1 (|u| ≳ 19):
    1 − tanh(20) is 0 in float64, its value 8.5e-18; the forms here add positive terms only."""
    if not isinstance(expr, sp.Add):
        return None
    c, rest = expr.as_coeff_Add()
    k, r = rest.as_coeff_Mul()
    if c == 0 or not isinstance(k, sp.Rational):
        return None
    if isinstance(r, sp.tanh) and c > 0 and abs(k) == c:
        return 2 * c / (1 + sp.exp(-2 * sp.sign(k) * r.args[0]))
    if isinstance(r, sp.Pow) and r.exp == 2 and isinstance(r.base, sp.tanh) and k == -c:
        u = r.base.args[0]
        return 4 * c / ((1 + sp.exp(-2 * u)) * (1 + sp.exp(2 * u)))
    return None


def complement_form(expr: sp.Expr) -> sp.Expr | None:
    """A sum c + k·m/s, s a sum, over s where that cancels a term: (c·s + k·m)/s, e.g.
    1 − u/(v + u) = v/(v + u); with m = e^a the fraction is taken over e^{−a}: 1 − e^a/(1 + e^a) = e^{−a}/(e^{−a} + 1),
    else None.  As written the sum cancels where the fraction rounds to c/(−k): 1 − σ, the factor (1 − σ)σ of ℓ″ of
    a user's log(1 + e^{−z}), is 0 from z ≈ −37 (−4.5e-13 at z = −700 for log(1 + e^{−2z})/2).  In a product the
    e^{∓a} then cancel (sympy does it): (1 − σ)σ = 1/((1 + e^{−a})(1 + e^{a})), two positive sums ≥ 1."""
    if not isinstance(expr, sp.Add):
        return None
    c, rest = expr.as_coeff_Add()
    if c == 0 or isinstance(rest, sp.Add):
        return None
    k, r = rest.as_coeff_Mul()
    dens = [f for f in sp.Mul.make_args(r) if isinstance(f, sp.Pow) and f.exp == -1 and isinstance(f.base, sp.Add)]
    if len(dens) != 1:
        return None
    s = dens[0].base
    m = r * s                  # (c·s + k·m)/s is the sum whatever m is; it gains only where a term cancels
    num = sp.Add(*[c * t for t in s.args], k * m)
    if len(sp.Add.make_args(num)) >= len(s.args):
        return None            # nothing cancels (1 − 2u/(1 + u) = (1 − u)/(1 + u)): no gain
    if isinstance(m, sp.exp):
        inv = sp.exp(-m.args[0])
        return sp.Mul(num * inv, sp.Pow(sp.Add(*[t * inv for t in s.args]), -1))
    return sp.Mul(num, sp.Pow(s, -1))


#: The conjugate rule expands polynomials of at most this degree (a bound on its symbolic work).
CONJUGATE_MAX_DEGREE = 8


def conjugate_form(expr: sp.Add) -> tuple[sp.Expr, sp.Expr, sp.Expr] | None:
    """(A − B², √A, B) for a univariate sum √A + B (one square-root term k·√A, k > 0 rational; A and B
    polynomials of degree ≤ :data:`CONJUGATE_MAX_DEGREE`) whose A − B² loses terms when expanded — the sum
    cancels where B < 0 and √A ≈ −B (√(1+z²) − z at z = 1e4 keeps 8 of 16 digits), while
    (A − B²)/(√A − B) there adds two positive terms; None when the form does not apply."""
    roots = [t for t in expr.args if _sqrt_term(t) is not None]
    syms = expr.free_symbols
    if len(roots) != 1 or len(syms) != 1 or expr.has(AppliedUndef):
        return None
    (x,) = syms
    root = roots[0]
    k, A = _sqrt_term(root)
    rest = sp.Add(*[t for t in expr.args if t is not root])
    try:
        pa, pb = sp.Poly(A, x), sp.Poly(rest, x)
    except sp.PolynomialError:
        return None
    if max(pa.degree(), pb.degree()) > CONJUGATE_MAX_DEGREE:
        return None
    a2, b2 = sp.expand(k**2 * A), sp.expand(rest**2)
    num = sp.expand(a2 - b2)
    if len(sp.Add.make_args(num)) >= len(sp.Add.make_args(a2)) + len(sp.Add.make_args(b2)):
        return None            # nothing cancels symbolically: no gain
    return num, root, rest


#: :func:`together_form` works on sums of at most this many operations (a bound on sympy's work)
TOGETHER_MAX_OPS = 60


def together_form(expr: sp.Add) -> sp.Expr | None:
    """num/den = ``expr`` over a common denominator, for a univariate sum with a fraction among its terms, built
    of +, ×, rational powers and exponentials (taken as atoms), when that gains digits: the numerator cancels
    symbolically (ℓ″ of √(1+z²) − z, (1 − z²/(1+z²))/√(1+z²), has numerator 1; ℓ″ of log(1 + e^{−z}) as sympy writes
    it, e^{−z}/(1 + e^{−z}) − e^{−2z}/(1 + e^{−z})², has numerator e^{−z}), or loses a monomial that its parts have
    though it keeps as many terms (ℓ″ of log(1 + e^{−z} + e^{−2z}) with u = e^{−z}: 1 + 4u − u(1 + 2u)²/(1 + u + u²) has
    numerator (1 + 4u)(1 + u + u²) − u(1 + 2u)² = 1 + 4u + u², the u³ gone; as written it is ~1e-16 absolute, not
    relative, where u ≫ 1: 5e-16 for 5e-131 at z = −300), or is a square-root difference that
    :func:`conjugate_form` rewrites (ℓ′ = z/√(1+z²) − 1 = (z − √(1+z²))/√(1+z²)); None otherwise.  As written, the
    first two keep ~8 of 16 digits at z = 1e4, the last none below z ≈ −37.  Powers of sums beyond
    :data:`CONJUGATE_MAX_DEGREE` are left alone (1/(1+z)³⁰⁰ − 1/(2+z)³⁰⁰ took sympy 27 s to expand)."""
    if len(expr.free_symbols) != 1 or sp.count_ops(expr) > TOGETHER_MAX_OPS:
        return None
    fraction = False
    for node in sp.preorder_traversal(expr):
        if not isinstance(node, (sp.Symbol, sp.Number, sp.Add, sp.Mul, sp.Pow, sp.exp)):
            return None
        if isinstance(node, sp.Pow):
            if not isinstance(node.exp, sp.Rational) or (isinstance(node.base, sp.Add)
                                                         and abs(node.exp) > CONJUGATE_MAX_DEGREE):
                return None
            fraction = fraction or node.exp < 0
    if not fraction:
        return None
    num, den = sp.fraction(sp.together(expr))
    if den == 1:
        return None
    parts = [set(sp.expand(t).as_coefficients_dict()) for t in sp.Add.make_args(num)]
    num = sp.expand(num)
    lost = len(set(num.as_coefficients_dict())) < len(set().union(*parts))     # a monomial of the parts cancelled
    if not lost and len(sp.Add.make_args(num)) >= len(expr.args) and signed_conjugate_form(num)[0] is None:
        return None
    return sp.Mul(num, sp.Pow(den, -1, evaluate=False), evaluate=False)


def signed_conjugate_form(expr: sp.Expr) -> tuple[tuple[sp.Expr, sp.Expr, sp.Expr] | None, int]:
    """(:func:`conjugate_form` of ``expr``, 1), or of −``expr`` with −1 where the root's coefficient is negative
    (−√A + B = −(√A − B)); (None, 1) where neither applies."""
    conj = conjugate_form(expr) if isinstance(expr, sp.Add) else None
    if conj is None and isinstance(expr, sp.Add) and any(_sqrt_term(-t) is not None for t in expr.args):
        neg = conjugate_form(-expr)
        if neg is not None:
            return neg, -1
    return conj, 1


def _sqrt_term(t: sp.Expr) -> tuple[sp.Rational, sp.Expr] | None:
    """(k, A) for a term k·√A (k a positive rational), else None."""
    k, r = t.as_coeff_Mul()
    if isinstance(k, sp.Rational) and k > 0 and isinstance(r, sp.Pow) and r.exp == sp.S.Half:
        return k, r.base
    return None


def _memoized(f: Node) -> Node:
    """``f`` evaluated once per evaluation (:attr:`_Env.memo`): the stable rules evaluate a sub-expression's
    value and its log, and the fallbacks its factors' logs, so without this a nested formula cost ~5^depth
    (a 90-character loss: 115 s for 10 GD steps)."""
    def run(env: _Env):
        memo = env.memo
        v = memo.get(run, _MISSING)
        if v is _MISSING:
            v = memo[run] = f(env)
        return v
    return run


_MISSING = object()


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
        if stable_log:      # 1 ± tanh u, 1 − tanh² u and 1 − u/(1 + u) rewritten first, so sympy cancels what they leave
            expr = expr.replace(lambda e: tanh_form(e) is not None, tanh_form)
            expr = expr.replace(lambda e: complement_form(e) is not None, complement_form)
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
        """float64 values at the broadcast of ``args`` (NaN where undefined); a new array.

        Bounded: each node evaluated once per call (memoized), a few float64 operations per node and point
        (the parser caps the nodes)."""
        if len(args) == 1:
            a = np.asarray(args[0], dtype=np.float64)
            shape, flat = a.shape, (a.reshape(-1),)
        else:
            arrs = [np.asarray(a, dtype=np.float64) for a in args]
            shape = np.broadcast_shapes(*(a.shape for a in arrs)) if arrs else ()
            flat = tuple(np.broadcast_to(a, shape).ravel() for a in arrs) if arrs else (np.zeros(1),)
        env = _Env(BACKEND_OBJECTS["numpy"], flat, self.functions["numpy"], cache=self._consts["numpy"])
        with np.errstate(all="ignore"):
            out = np.asarray(self.root(env), dtype=np.float64)
        n = flat[0].shape[0]
        if out.shape != (n,):
            return np.broadcast_to(out, (n,)).reshape(shape).copy()
        if any(np.may_share_memory(out, a) for a in flat):  # e.g. the expression z itself
            out = out.copy()
        return out.reshape(shape)

    def torch(self, *args) -> torch.Tensor:
        """float64 tensors (differentiable), at the broadcast of ``args``."""
        targs = tuple(as_tensor(a) for a in args)
        dev = next((a.device for a in targs if a.device.type != "cpu"), None)
        if dev is not None:
            targs = tuple(a.to(dev) for a in targs)
        env = _Env(BACKEND_OBJECTS["torch"], targs, self.functions["torch"], cache={})
        out = as_tensor(self.root(env))
        shape = torch.broadcast_shapes(*(a.shape for a in targs)) if targs else ()
        if dev is not None:
            out = out.to(dev)
        return out.to(torch.float64).expand(torch.broadcast_shapes(out.shape, shape))

    def mpmath(self, *args, flags: Flags | None = None):
        """One value at the current mpmath precision (scalars); lost digits recorded in ``flags``."""
        env = _Env(BACKEND_OBJECTS["mpmath"], tuple(mpmath.mpf(a) for a in args), self.functions["mpmath"],
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


def mp_evaluation(expr: sp.Basic, values: Mapping[str, Any] | None = None, *,
                  dps0: int = MP_DPS0) -> tuple[Any, bool] | None:
    """``expr`` (a sympy expression in the names of ``values``, numbers or mpmath numbers) in mpmath, its precision
    raised until no digit is lost (:func:`mp_value`, bounded): (value, reliable), or None where the expression cannot
    be compiled or evaluated."""
    names = sorted(values) if values else []
    try:
        prog = compile_expr(sp.sympify(expr), names, "mpmath")
        return mp_value(lambda fl: prog(*[values[n] for n in names], flags=fl), dps0=dps0)
    except (EoscheckError, NotImplementedError, TypeError, ValueError, ZeroDivisionError, OverflowError):
        return None


def mp_number(expr: sp.Basic, values: Mapping[str, Any] | None = None, *, dps0: int = MP_DPS0):
    """:func:`mp_evaluation`'s value: an mpmath number, or None where it is not reliable, not a finite real number, or
    the expression cannot be compiled."""
    out = mp_evaluation(expr, values, dps0=dps0)
    if out is None:
        return None
    v, ok = out
    return v if ok and isinstance(v, mpmath.mpf) and mpmath.isfinite(v) else None


def mp_value(fn: Callable[[Flags], Any], *, dps0: int = MP_DPS0, dps_max: int = MP_DPS_MAX,
             raises: int = MP_RAISES) -> tuple[Any, bool]:
    """fn(flags) in mpmath, raising the precision until no sum loses digits; (value, reliable).

    A cancelling sum doubles the precision; an absorbed term (1 + e^{−800}) jumps to the precision
    that keeps it.  Bounded: at most ``dps_max`` digits and ``raises`` raisings (a count, so the
    answer never depends on the machine's load).  Unreliable: a cancellation left at the cap, a
    zero result after a loss, or a NaN from an exp or power beyond :data:`~eoscheck.backends.MP_EXP_CAP`
    (not computed; a NaN of an undefined value, e.g. log of a negative number, is reliable).  But a
    value left "hard" at the cap that equals the value of the precision before (≥ half the cap,
    ~750 digits) to that precision is reliable: the cancellation was exact (1 − z at z = 1, or
    −z + |z|), since a rounding residue would have changed between the two precisions.  "To that precision" less
    the bits another sum measurably lost, where ≥ 2·MP_KEEP_BITS of them are left (ℓ″ of e^{−z}(2z + (z − 1)²) +
    10⁻⁶⁰e^{−z} at z = 1: (z − 1)² cancels exactly, and 2 + 10⁻⁶⁰ − 2z takes 200 bits, which the plain test read
    as a change between 3200 and 4995 bits; a residue of an exact 0 loses all its bits and is never relaxed).
    """
    prec = dps0 * 10 // 3
    cap = int(dps_max * 3.33)
    prev, prev_prec, prev_lost = None, 0, 0.0

    def settled(v) -> bool:
        if prev is None or prev_prec < cap // 2 or prec < cap:
            return False
        if v == 0 or prev == 0:
            return v == prev
        kept = prev_prec - (prev_lost if prev_prec - prev_lost >= 2 * MP_KEEP_BITS else 0)
        return abs(v - prev) <= abs(v) * mpmath.ldexp(1, MP_KEEP_BITS - int(kept))

    for attempt in range(raises + 1):
        with mpmath.workprec(prec):
            fl = Flags()
            capped = getattr(MP_CAPPED, "count", 0)
            try:
                v = fn(fl)
            except (ZeroDivisionError, OverflowError):
                v = mpmath.nan
            if isinstance(v, (bool, np.bool_)):
                v = mpmath.mpf(bool(v))
            if isinstance(v, mpmath.mpc):
                v = mpmath.nan if v.imag != 0 else v.real
            v = +v if isinstance(v, mpmath.mpf) else mpmath.mpf(v)
        if getattr(MP_CAPPED, "count", 0) != capped:
            # an exp past the cap anywhere, even where min/max or a branch swallowed its NaN (Min(e^{−900}, e^{−e^{3063}})
            # read e^{−900}, marked reliable, and convicted a true bound): no value
            return v, False
        lost = fl.hard or fl.need > prec
        if not lost:
            return v, True                # a NaN here is an undefined value (log of a negative number)
        want = 2 * prec if fl.hard else fl.need + 64
        if attempt == raises:
            break
        if want > cap:
            if prec >= cap:
                break
            want = cap                    # one last try at the cap
        prev, prev_prec, prev_lost = v, prec, fl.lost
        prec = max(want, prec + 64)
    return v, _kept(v, fl, prec) or settled(v)


def _kept(v, fl: Flags, prec: int) -> bool:
    """A value whose sums lost digits is still reliable when it is not NaN, not an exact 0 after a loss, no
    sum cancelled to exactly 0 (``hard``), and the worst cancellation left it ≥ 53 bits (a float64's worth):
    ℓ″ of log(1 + e^{−30z})/30 at z = −933 kept none at 400 bits (−3e-120 for 3e-2026) and was called
    reliable, which made a convex loss fail A.convex."""
    if mpmath.isnan(v) or v == 0 or fl.hard:
        return False
    return MP_KEEP_BITS - max(0, fl.need - prec) >= 53


__all__ = ["BACKENDS", "Flags", "MP_DPS_MAX", "Program", "bind", "compile_expr", "flag_sum", "mp_evaluation", "mp_number",
           "mp_value"]
