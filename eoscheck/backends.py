"""The numeric back ends of the one compiler (:mod:`eoscheck.compiler`): numpy, torch, mpmath.

A back end implements the operations the compiler's walk calls (``add``, ``mul``, ``pow``,
``exp``, ``log``, ``piecewise``, comparisons, …) for one kind of value: float64 arrays
(Piecewise cases evaluated only where they apply), float64 tensors (differentiable), or mpmath
scalars at the working precision with :class:`Flags` recording lost digits.  The stable-log
rules (``log_add``, ``log_mul``, ``log_pow``, ``log_erfc``) are chosen by the walk; each back end
computes them its way.  mpmath work is bounded: exp/power of an argument beyond
:data:`MP_EXP_CAP` is NaN, erfc is computed at ≤ 192 bits.
"""

from __future__ import annotations

import math
import threading

import mpmath
import numpy as np
import scipy.special
import sympy as sp
import torch


#: mpmath: exp(x) and b**e with |x| (|e·ln b|) beyond this are NaN, not computed.  2¹⁰²⁴ lies above every finite
#: float64, so an exp of any float64 argument is computed (exp(±2¹⁰²⁴) takes 0.2 ms at 30 digits and 27 ms at
#: 1500, measured); beyond it (exp(exp(1000))) the argument itself is no float64
MP_EXP_CAP = mpmath.mpf(2) ** 1024
#: ``MP_CAPPED.count``: how many times this thread's mpmath evaluations met :data:`MP_EXP_CAP` (a NaN
#: that says "not computed", which :func:`eoscheck.compiler.mp_value` reports as unreliable, unlike
#: the NaN of an undefined value such as log of a negative number)
MP_CAPPED = threading.local()
#: mpmath: a sum keeps at least this many bits after cancellation (else the precision is raised)
MP_KEEP_BITS = 64
MP_DPS0 = 30        #: starting precision of :func:`mp_value` (decimal digits)
MP_DPS_MAX = 1500   #: precision cap of :func:`mp_value`
MP_RAISES = 12      #: per value: :func:`mp_value` raises the precision at most this many times (a count,
                    #: never seconds: the result must not depend on the machine's load)
_ERFC_BITS = 192    #: erfc(x ≥ 0) is well conditioned: this many bits are enough
_LOG2 = math.log(2.0)


def _capped():
    """The NaN of an exp or power beyond :data:`MP_EXP_CAP`, counted in :data:`MP_CAPPED`."""
    MP_CAPPED.count = getattr(MP_CAPPED, "count", 0) + 1
    return mpmath.nan


class Flags:
    """What a high-precision evaluation lost.

    ``hard``: a sum of non-zero terms was exactly 0 (depth of the cancellation unknown);
    ``need``: bits that would have kept ≥ MP_KEEP_BITS of a cancelling sum;
    ``pending``: bits that would have kept an absorbed term (1 + e^{−800}); it only becomes a
    need when a later operation exposes it (a cancelling sum, or log near 1);
    ``lost``: the most bits a sum that did not cancel to 0 lost (log₂ of its largest term over its value).
    """

    __slots__ = ("hard", "need", "pending", "lost")

    def __init__(self):
        self.hard = False
        self.need = 0
        self.pending = 0
        self.lost = 0.0



# ---------------------------------------------------------------------------
# Back ends
# ---------------------------------------------------------------------------


class _Elementwise:
    """Sums and products of whole arrays/tensors (shared by the numpy and torch back ends)."""

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


class NumpyBackend(_Elementwise):
    name = "numpy"

    def number(self, p: int, q: int):
        return np.float64(_ratio(p, q))

    pi, e = np.float64(math.pi), np.float64(math.e)

    def ipow(self, b, n: int):
        return np.power(b, float(n))

    def pow(self, b, e):
        return np.power(b, e)

    exp, log, tanh, abs, sign, expm1 = np.exp, np.log, np.tanh, np.abs, np.sign, np.expm1
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
        out = np.full(_shape(env), _exact_log(coeff * 2 ** len(erfc_args)))
        for fu in erfc_args:
            out = out + scipy.special.log_ndtr(-math.sqrt(2.0) * fu(env))
        pos = np.ones(_shape(env), dtype=bool)
        for fv, lg in others:
            out = out + lg(env)
            pos &= fv(env) * self.ones(env) >= 0     # 0: underflowed (its stable log is finite) or 0 (−∞)
        if not pos.all():
            out = np.where(pos, out, generic(env))
        return out

    def log_pow(self, fb, fe, lb, generic, env):
        b = fb(env) * self.ones(env)
        with np.errstate(all="ignore"):   # b = 0: underflowed (its stable log is finite) or 0 (−∞ either way)
            return np.where(b >= 0, fe(env) * lb(env), generic(env))

    def log1mexp(self, v):
        """log(1 − e^v) for v ≤ 0: log(−expm1(v)) above −ln 2, log1p(−e^v) below (each exact where the other
        loses everything: 1 − e^{−40} is 1 in float64)."""
        v = np.asarray(v, dtype=np.float64)
        with np.errstate(all="ignore"):
            return np.where(v > -_LOG2, np.log(-np.expm1(v)), np.log1p(-np.exp(v)))

    def log_sum(self, logs, generic, env):
        """log Σ eˡⁱ (the terms' logs ``logs``) by log-sum-exp: e^{−800} + e^{−1600} is e^{−800}, not 0."""
        ls = [np.asarray(lg(env), dtype=np.float64) * self.ones(env) for lg in logs]
        with np.errstate(all="ignore"):
            m = np.max(ls, axis=0)
            safe = np.where(np.isfinite(m), m, 0.0)
            out = safe + np.log(np.sum([np.exp(x - safe) for x in ls], axis=0))
            return np.where(np.isfinite(m), out, m)

    def log_log1p(self, fr, lr, generic, env):
        """log(log1p(r)) = ln r + ln(1 − r/2 + r²/3 − …) = ln r − r/2 + O(r²) for 0 ≤ r < 1e-8 (ln r by the
        stable rules; r = 0 where it underflowed), the plain form elsewhere."""
        r = np.asarray(fr(env), dtype=np.float64) * self.ones(env)
        with np.errstate(all="ignore"):
            return np.where((r >= 0) & (r < 1e-8), lr(env) - r / 2, generic(env))

    def log_sum_signed(self, signs, logs, generic, env):
        """log Σ sᵢeˡⁱ (signs sᵢ = ±1, the terms' logs ``logs``) where the plain log is not finite: m + ln Σ sᵢe^{lᵢ−m}
        with m = max lᵢ (ln(e^{800} − e^{−800}) = 800); NaN where the sum is negative, as the plain log."""
        plain = np.asarray(generic(env), dtype=np.float64) * self.ones(env)
        if np.isfinite(plain).all():
            return plain
        ls = [np.asarray(lg(env), dtype=np.float64) * self.ones(env) for lg in logs]
        with np.errstate(all="ignore"):
            m = np.max(ls, axis=0)
            safe = np.where(np.isfinite(m), m, 0.0)
            signed = safe + np.log(np.sum([s * np.exp(x - safe) for s, x in zip(signs, ls)], axis=0))
            return np.where(np.isfinite(plain) | ~np.isfinite(m), plain, signed)

    def mul_stable(self, fs, logs, env, neg=None, dist=None):
        """∏fᵢ, recomputed as (∏ sign fᵢ)·exp(Σ ln|fᵢ|) where the plain product is not finite (∞·0 or ∞/∞
        from a factor that over- or underflowed), each ln|fᵢ| by the stable-log rules: of fᵢ where fᵢ ≥ 0, of −fᵢ
        (``neg``, None for a factor never negative) where fᵢ < 0: e^{710}/(1 + e^{710}) is 1, not NaN, and
        −(e^{800} + 2)/(1 + e^{800}) is −1 (a factor that underflowed to 0 keeps its finite log).  ``dist`` =
        (i, node): where factor i, a sum, is itself 0 or not finite, the product distributed over its terms
        (Σⱼ tⱼ·∏_{k≠i} f_k, each term stable), where that is finite."""
        vals = [np.asarray(f(env), dtype=np.float64) * self.ones(env) for f in fs]
        with np.errstate(all="ignore"):
            out = vals[0]
            for v in vals[1:]:
                out = out * v
            bad = ~np.isfinite(out)
            zero = out == 0
            if zero.any():   # a 0 product is wrong only where a factor underflowed: 0 with a finite stable log
                for v, lg in zip(vals, logs):
                    hit = zero & (v == 0)
                    if hit.any():
                        bad |= hit & np.isfinite(np.asarray(lg(env), dtype=np.float64) * self.ones(env))
            if not bad.any():
                return out
            sign = np.ones(_shape(env))
            terms = []
            for v, lg, ng in zip(vals, logs, neg or [None] * len(vals)):
                sign = sign * np.copysign(1.0, v)
                terms.append(np.where(v >= 0, lg(env), np.log(np.abs(v)) if ng is None else ng(env)))
            out = np.where(bad, sign * np.exp(compensated_sum(terms, np)), out)
            if dist is not None:
                # with that factor 0 or ±∞ its log is ∓∞: the log form above gave 0, ∞ or NaN there, never the value
                redo = bad & ((vals[dist[0]] == 0) | ~np.isfinite(vals[dist[0]]))
                if redo.any():
                    d = np.asarray(dist[1](env), dtype=np.float64) * self.ones(env)
                    out = np.where(redo & np.isfinite(d), d, out)
            return out


def compensated_sum(terms, xp):
    """Σ terms elementwise with Neumaier's compensation (``xp``: numpy or torch): the error is ~1 ulp of the sum plus
    ~ε² of the terms, not ~ε of the largest term.  The logs of a product recomputed in the log domain cancel:
    ln 3 + 2100 − ln(1 + e^{2100}) for ℓ′ = −3e^{−3z}/(1 + e^{−3z}) at z = −700 is ln 3 to within ulp(2100) = 4.5e-13,
    and ℓ′ read −2.9999999999994813 for −3.  Where a partial sum is not finite the plain sum stands."""
    total = terms[0]
    comp = xp.zeros_like(total)
    for x in terms[1:]:
        t = total + x
        err = xp.where(xp.abs(total) >= xp.abs(x), (total - t) + x, (x - t) + total)
        comp = comp + xp.where(xp.isfinite(err), err, xp.zeros_like(err))
        total = t
    return xp.where(xp.isfinite(total), total + comp, total)


def _ratio(p: int, q: int) -> float:
    """p/q correctly rounded (±inf beyond the float range)."""
    try:
        return p / q
    except OverflowError:
        return math.inf if p > 0 else -math.inf


def _exact_log(c) -> float:
    """ln c of a positive sympy number from its exact value: ``math.log(float(c))`` failed where c is below float64's
    range (1e-400·e^{−z²}: "math domain error") and was −∞ for a loss that is not 0."""
    if isinstance(c, sp.Rational):
        return float(mpmath.log(mpmath.mpf(int(c.p))) - mpmath.log(mpmath.mpf(int(c.q))))
    return float(mpmath.log(mpmath.mpf(sp.Float(c, 30)._mpf_)))


def _shape(env):
    return env.args[0].shape if env.args else ()


def as_tensor(x, like=None) -> torch.Tensor:
    if isinstance(x, torch.Tensor):
        return x
    dev = like.device if isinstance(like, torch.Tensor) else None
    return torch.as_tensor(x, dtype=torch.float64, device=dev)


def _on_tensors(fn):
    """A back-end method applying the torch function ``fn`` to its arguments as float64 tensors."""
    return lambda self, *args: fn(*(as_tensor(a) for a in args))


class TorchBackend(_Elementwise):
    name = "torch"

    def number(self, p: int, q: int):
        return torch.tensor(_ratio(p, q), dtype=torch.float64)

    pi, e = torch.tensor(math.pi, dtype=torch.float64), torch.tensor(math.e, dtype=torch.float64)

    def ipow(self, b, n: int):
        return as_tensor(b) ** n

    def pow(self, b, e):
        return torch.pow(as_tensor(b), as_tensor(e))

    exp, log, tanh, abs, sign, expm1 = (_on_tensors(f) for f in (torch.exp, torch.log, torch.tanh, torch.abs,
                                                                  torch.sign, torch.expm1))
    floor, ceiling = _on_tensors(torch.floor), _on_tensors(torch.ceil)
    erf, erfc = _on_tensors(torch.special.erf), _on_tensors(torch.special.erfc)

    def heaviside(self, a):
        a = as_tensor(a)
        return torch.heaviside(a, torch.full_like(a, 0.5))

    def max(self, vals):
        out = as_tensor(vals[0])
        for v in vals[1:]:
            out = torch.maximum(out, as_tensor(v, out))
        return out

    def min(self, vals):
        out = as_tensor(vals[0])
        for v in vals[1:]:
            out = torch.minimum(out, as_tensor(v, out))
        return out

    lt, le, gt, ge, eq, ne = (_on_tensors(f) for f in (torch.lt, torch.le, torch.gt, torch.ge, torch.eq, torch.ne))

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
            v = as_tensor(val(env))
            out = torch.where(c.to(v.device), v, out.to(v.device))
        return out

    def ones(self, env):
        return torch.ones((), dtype=torch.float64)

    def log_erfc(self, u):
        return _LOG2 + torch.special.log_ndtr(-math.sqrt(2.0) * as_tensor(u))

    def log_add(self, c, fr, lr, generic, env):
        """log(c + r): log c + log1p(r/c) for |r| ≤ c, ln r + log1p(c/r) above (ln r by the stable rules:
        log(1 + e^{710}) is 710), log(c + r) where neither is finite (as the numpy back end)."""
        cf = float(c)
        r = as_tensor(fr(env))
        near = r.abs() <= cf
        # each branch on inputs safe for it (the branch not taken would pass NaN gradients through torch.where)
        small = math.log(cf) + torch.log1p(torch.where(near, r, torch.zeros_like(r)) / cf)
        big = as_tensor(lr(env), r) + torch.log1p(cf / torch.where(near, torch.full_like(r, 2 * cf), r))
        out = torch.where(near, small, torch.where(r > 0, big, torch.full_like(big, math.nan)))
        return torch.where(~torch.isfinite(out) & torch.isfinite(r), torch.log(cf + r), out)

    def log_mul(self, coeff, erfc_args, others, generic, env):
        out = as_tensor(_exact_log(coeff * 2 ** len(erfc_args)))
        for fu in erfc_args:
            out = out + torch.special.log_ndtr(-math.sqrt(2.0) * as_tensor(fu(env)))
        pos = torch.ones((), dtype=torch.bool)
        for fv, lg in others:
            out = out + as_tensor(lg(env))
            pos = pos & (as_tensor(fv(env)) >= 0)
        return out if bool(pos.all()) else torch.where(pos, out, as_tensor(generic(env)))

    def log_pow(self, fb, fe, lb, generic, env):
        b = as_tensor(fb(env))
        return torch.where(b >= 0, as_tensor(fe(env)) * as_tensor(lb(env)), as_tensor(generic(env)))

    def log1mexp(self, v):
        v = as_tensor(v)
        return torch.where(v > -_LOG2, torch.log(-torch.expm1(v)), torch.log1p(-torch.exp(v)))

    def log_sum(self, logs, generic, env):
        out = as_tensor(logs[0](env))
        for lg in logs[1:]:            # pairwise: torch.logsumexp over a stack was ~600× slower here
            out = torch.logaddexp(out, as_tensor(lg(env), out))
        return out

    def log_log1p(self, fr, lr, generic, env):
        r = as_tensor(fr(env))
        return torch.where((r >= 0) & (r < 1e-8), as_tensor(lr(env), r) - r / 2, as_tensor(generic(env)))

    def log_sum_signed(self, signs, logs, generic, env):
        """As :meth:`NumpyBackend.log_sum_signed`."""
        plain = as_tensor(generic(env))
        if bool(torch.isfinite(plain).all()):
            return plain
        ls = [as_tensor(lg(env), plain) for lg in logs]
        m = ls[0]
        for x in ls[1:]:
            m = torch.maximum(m, x)
        safe = torch.where(torch.isfinite(m), m, torch.zeros_like(m))
        total = sum(s * torch.exp(x - safe) for s, x in zip(signs, ls))
        signed = safe + torch.log(total)
        return torch.where(torch.isfinite(plain) | ~torch.isfinite(m), plain, signed)

    def mul_stable(self, fs, logs, env, neg=None, dist=None):
        """As :meth:`NumpyBackend.mul_stable` (values only: torch.where passes NaN gradients from the branch
        not taken, so these evaluators are not for autograd where the product overflows)."""
        vals = [as_tensor(f(env)) for f in fs]
        out = vals[0]
        for v in vals[1:]:
            out = out * v
        bad = ~torch.isfinite(out)
        zero = out == 0
        if bool(zero.any()):   # as numpy: only a factor that underflowed (its stable log finite) makes 0 wrong
            for v, lg in zip(vals, logs):
                hit = zero & (v == 0)
                if bool(hit.any()):
                    bad = bad | (hit & torch.isfinite(as_tensor(lg(env), v)))
        if not bool(bad.any()):      # the common case: no torch.where, so autograd is untouched (z = 0)
            return out
        sign = torch.ones((), dtype=torch.float64)
        terms = []
        for v, lg, ng in zip(vals, logs, neg or [None] * len(vals)):
            sign = sign * torch.copysign(torch.ones((), dtype=torch.float64), v)
            terms.append(torch.where(v >= 0, as_tensor(lg(env), v), torch.log(v.abs()) if ng is None
                                     else as_tensor(ng(env), v)))
        out = torch.where(bad, sign * torch.exp(compensated_sum(terms, torch)), out)
        if dist is not None:
            v = vals[dist[0]]
            redo = bad & ((v == 0) | ~torch.isfinite(v))
            if bool(redo.any()):
                d = as_tensor(dist[1](env), out)
                out = torch.where(redo & torch.isfinite(d), d, out)
        return out


def _log2(x) -> float:
    """log₂|x| from the mpf exponent (cheap, ±1): e with |x| = m·2ᵉ, ½ ≤ m < 1 (:func:`mpmath.frexp`'s), read off the
    raw (sign, mantissa, exponent, bit count) of a finite non-zero mpf as exponent + bit count."""
    raw = getattr(x, "_mpf_", None)
    if raw is not None and raw[1]:
        return float(raw[2] + raw[3])
    return float(mpmath.frexp(x)[1])


def _erfc_pos(a):
    """erfc(a) for a ≥ 0 to _ERFC_BITS relative bits (mpmath at a huge precision crawls)."""
    with mpmath.workprec(min(mpmath.mp.prec, _ERFC_BITS)):
        return mpmath.erfc(a)


def _absorb(c, t, fl: Flags):
    """c + t with |t| ≪ |c|, recording the bits t loses as pending (see :class:`Flags`)."""
    s = c + t
    if t != 0 and s != 0:
        absorbed = _log2(s) - _log2(t)
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
    if any(mpmath.isinf(t) for t in terms) or not any(terms):    # an mpf is true unless it is 0
        return s
    prec = mpmath.mp.prec
    if not s:
        fl.hard = True  # complete cancellation: unknown how many bits are missing
        return s
    exps = [_log2(t) for t in terms if t]     # log₂|t| grows with |t|: the largest term's is the largest
    cancel = max(exps) - _log2(s)
    fl.lost = max(fl.lost, cancel)
    if cancel > 8:  # digits of the terms are exposed: absorbed ones now matter too
        fl.need = max(fl.need, fl.pending)
    if prec - cancel < MP_KEEP_BITS:
        fl.need = max(fl.need, int(cancel) + MP_KEEP_BITS + 16)
    absorbed = _log2(s) - min(exps)
    if prec - absorbed < MP_KEEP_BITS:
        fl.pending = max(fl.pending, int(absorbed) + MP_KEEP_BITS + 16)
    return s


def _nan_guard(fn):
    def g(self, a):
        return a if mpmath.isnan(a) else fn(self, a)
    return g


class MpmathBackend:
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
            return _capped()  # beyond what can be computed: not a value rather than a wrong 0/∞
        return mpmath.power(b, e)

    def expm1(self, a):
        """e^a − 1 (mpmath's own expm1; beyond ±:data:`MP_EXP_CAP` as :meth:`exp`)."""
        if mpmath.isfinite(a) and abs(a) > MP_EXP_CAP:
            return _capped()
        return mpmath.expm1(a)

    def exp(self, a):
        if mpmath.isnan(a):
            return a
        if abs(a) > MP_EXP_CAP:
            return _capped()  # beyond what can be computed: not a value rather than a wrong 0/∞
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

    def log_sum(self, logs, generic, env):
        return generic(env)

    def log1mexp(self, v):
        if mpmath.isnan(v):
            return v
        return mpmath.log(-mpmath.expm1(v)) if v > -mpmath.log(2) else mpmath.log1p(-mpmath.exp(v))

    def log_log1p(self, fr, lr, generic, env):
        return generic(env)

    def log_sum_signed(self, signs, logs, generic, env):
        return generic(env)

    def mul_stable(self, fs, logs, env, neg=None, dist=None):
        """The plain product: mpmath's exponent range does not overflow (exp beyond ±:data:`MP_EXP_CAP` is NaN anyway)."""
        return self.mul(fs, env)


BACKENDS = ("numpy", "torch", "mpmath")
BACKEND_OBJECTS = {"numpy": NumpyBackend(), "torch": TorchBackend(), "mpmath": MpmathBackend()}


