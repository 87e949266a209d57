"""exp, and a sum of log1p, as straight-line float64 arithmetic that compiled loops vectorise (numba).

libm's exp/log1p called from compiled code cost 15–40 ns an element and block vectorisation;
numpy's SIMD loops are fast but need a Python call per array.  The small-problem path of the
fused engine (:func:`eoscheck.gdfused.chunk_small`) runs whole chunks of steps in one compiled
call, and the BLAS mode's compiled step loops (:mod:`eoscheck.steploop`) one chunk a thread, so
they take their exp and the loss's log1p sum from here (tested against mpmath):

* ``exp(x)``, x ∈ [−708, 709]: x = k·ln2 + r with k = round(x/ln2), |r| ≤ ln2/2 (ln2 split in a
  32-bit head, so k·ln2_hi is exact); exp(r) = 1 − ((lo − r·c/(2 − c)) − hi), c = r − r²·P(r²),
  P of degree 4 (fdlibm's Remez coefficients); then ·2ᵏ, built from k's bits (integer adds and a
  shift, which vectorise where AVX2 has no float → int64 conversion; a table of 2ᵏ gathered by k ran
  the whole exp 1.5–1.6× slower on Zen 3, measured).  Outside
  that range, and for NaN, libm's ``math.exp`` (rare: only where exp(x) is subnormal, 0 or ∞).
* ``Σ log1p(eᵢ)``, eᵢ ∈ [0, 1] (the logistic loss of a row: eᵢ = exp(−|mᵢ|)): log1p of
  Π(1 + eᵢ) − 1, formed per block of 512 terms by a halving tree (under 64 terms, by four
  running products) (:func:`log1p_sum`), with one libm log1p a block: the sum's only
  transcendental work.

Every operation is a plain IEEE add, multiply, divide or select in a fixed order (no fastmath),
so the results are the same on every run of one machine, and exp's are the same on any two
machines with IEEE float64 and no contraction of a·b + c into an FMA (numba's default); the
log1p sum also calls libm.
"""

from __future__ import annotations

import math

import numpy as np
from llvmlite import ir
from numba import njit
from numba.core import types
from numba.extending import intrinsic

# The constants, as little-endian float64 bytes in one hex string: LN2_HI (ln 2 to 32 bits, so k·LN2_HI
# is exact for |k| < 2²⁰), LN2_LO = ln 2 − LN2_HI, 1/ln 2, ROUND = 1.5·2⁵² (x + ROUND − ROUND rounds x to
# an integer), fdlibm's P1..P5, the fast range [−708, 709] of exp (where
# 2ᵏ·exp(r) is normal, k ∈ [−1021, 1023]), and 0, 1, 2.  One string, not literals: it dates from when
# Hypothesis drew the property searches' examples from the numeric literals of eoscheck's modules
# (in an editable install); :func:`eoscheck.properties.search.no_local_constants` now keeps it from that.
_PACKED = np.frombuffer(bytes.fromhex(
    "0000e0fe422ee63f763c7935ef39ea3dfe822b654715f73f00000000000038433e5555555555c53f93bdbe166cc166bf2cde25af6a56113ff16bd2c541bdbbbed0a4be726937663e00000000002086c000000000002886400000000000e88fc00000000000f88f400000000000000000000000000000f03f0000000000000040"), dtype=np.float64)
(LN2_HI, LN2_LO, INV_LN2, ROUND, P1, P2, P3, P4, P5, EXP_LO, EXP_HI, K_MIN, K_MAX, ZERO, ONE,
 TWO) = (_PACKED if np.little_endian else _PACKED.byteswap()).tolist()


#: float64 → int64 bits and back (a bitcast: no instruction).
@intrinsic
def _bits(typingctx, x):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.IntType(64))
    return types.int64(types.float64), codegen


@intrinsic
def _from_bits(typingctx, b):
    def codegen(context, builder, sig, args):
        return builder.bitcast(args[0], ir.DoubleType())
    return types.float64(types.int64), codegen


#: bits(ROUND) − 1023: with t = y + ROUND (ROUND = 1.5·2⁵², whose ulp is 1) rounded to the integer k, bits(t) =
#: bits(ROUND) + k for |k| < 2⁵¹, so (bits(t) − SCALE_OFF) << 52 = (k + 1023) << 52 is the float64 2ᵏ for every
#: k ∈ [K_MIN, K_MAX] = [−1021, 1023] (a normal power of two: exactly the table's value it replaced).
SCALE_OFF = np.int64(np.float64(ROUND).view(np.int64)) - np.int64(1023)


def exp_into(x, out):
    """out[i] = exp(x[i]) for a 1-d array (``out`` must not alias ``x``: the rare fallback rereads x)."""
    w = x.shape[0]
    outside = False
    for i in range(w):                        # branch-free: vectorised
        xi = x[i]
        xc = xi if xi >= EXP_LO else EXP_LO   # NaN → EXP_LO: k stays in range
        xc = xc if xc <= EXP_HI else EXP_HI
        outside |= xc != xi
        tk = xc * INV_LN2 + ROUND
        kf = tk - ROUND
        hi = xc - kf * LN2_HI
        lo = kf * LN2_LO
        r = hi - lo
        t = r * r
        c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
        out[i] = (ONE - ((lo - (r * c) / (TWO - c)) - hi)) * _from_bits((_bits(tk) - SCALE_OFF) << 52)
    if outside:                               # exp(x) subnormal, 0 or ∞, or x NaN: libm
        for i in range(w):
            xi = x[i]
            if not (xi >= EXP_LO and xi <= EXP_HI):
                out[i] = math.exp(xi)


#: Terms of :func:`log1p_sum` combined before one log1p, 2⁹ = 512: Π(1 + eᵢ) ≤ 2⁵¹², far from
#: overflow.
SUM_BLOCK = 1 << 9
#: Blocks shorter than 2⁶ = 64 terms are combined in four running products instead of a tree: a
#: tree's loop per level costs more than the work there (a 20-term row: 180 ns against 40, measured).
SHORT_BLOCK = 1 << 6


def _combine(a, b):
    """(1 + a)(1 + b) − 1 for a, b ≥ 0, without cancellation."""
    return a + b * (ONE + a)


def log1p_sum(e, t):
    """Σᵢ log1p(eᵢ) for eᵢ ∈ [0, 1] (NaN gives NaN), with one libm log1p per block of 512 terms.

    Per block, s = Π(1 + eᵢ) − 1 by combinations s = a + b·(1 + a) (the exact (1 + a)(1 + b) − 1;
    every term ≥ 0, so each adds ≤ 3 roundings relative to s, and none cancels), then log1p(s),
    whose condition number s/((1 + s)·log1p(s)) is ≤ 1.  Combined by a halving tree (⌈log₂ n⌉ ≤ 9
    levels), or for n < 64 in four interleaved running products (i mod 4, ≤ 16 terms each) then
    (0∘1)∘(2∘3): a term passes ≤ L = 9 (tree) or ⌈n/4⌉ + 2 ≤ 18 combinations, so a block's error is
    ≤ 3L + 1 ulps relative (libm's log1p within 1 ulp), against one ulp a term for a sum of separate
    log1p — with 1/512 of the log1p calls.  The tree halves a level of n terms into its first
    h = ⌈n/2⌉, tᵢ = tᵢ ∘ t_{i+h} (the middle one passed on when n is odd), so every pass reads
    contiguous memory and vectorises (against pairs of neighbours, e₂ᵢ ∘ e₂ᵢ₊₁: 0.73 against 2.1 ns
    a term on 500 terms, measured).  ``t``: scratch of ≥ ⌈min(len(e), 512)/2⌉ elements."""
    w = e.shape[0]
    total = ZERO
    for b0 in range(0, w, SUM_BLOCK):
        b1 = min(w, b0 + SUM_BLOCK)
        n = b1 - b0
        if n < SHORT_BLOCK:
            s0 = ZERO
            s1 = ZERO
            s2 = ZERO
            s3 = ZERO
            i = b0
            while i + 4 <= b1:
                s0 = _combine_i(s0, e[i])
                s1 = _combine_i(s1, e[i + 1])
                s2 = _combine_i(s2, e[i + 2])
                s3 = _combine_i(s3, e[i + 3])
                i += 4
            while i < b1:
                s0 = _combine_i(s0, e[i])
                i += 1
            total += math.log1p(_combine_i(_combine_i(s0, s1), _combine_i(s2, s3)))
            continue
        h = (n + 1) >> 1                      # halving: t[i] = e[i] ∘ e[i + h], contiguous loads
        for i in range(n - h):                # no dependence between iterations: vectorised
            t[i] = _combine_i(e[b0 + i], e[b0 + h + i])
        if n & 1:
            t[h - 1] = e[b0 + h - 1]
        n = h
        while n > 1:                          # in place: t[i] = t[i] ∘ t[i + h], i < n − h ≤ h
            h = (n + 1) >> 1
            for i in range(n - h):
                t[i] = _combine_i(t[i], t[h + i])
            n = h
        total += math.log1p(t[0])
    return total


#: Inlined into the caller's compiled code (a call between compiled functions costs more than
#: 20 elements of work: every array argument is reference-counted).
exp_inline = njit(inline="always", error_model="numpy")(exp_into)
_combine_i = njit(inline="always", error_model="numpy")(_combine)
log1p_sum_inline = njit(inline="always", error_model="numpy")(log1p_sum)
exp_into = njit(nogil=True, cache=True, error_model="numpy")(exp_into)
log1p_sum = njit(nogil=True, cache=True, error_model="numpy")(log1p_sum)
