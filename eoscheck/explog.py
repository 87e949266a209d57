"""exp and log1p as straight-line float64 arithmetic that compiled loops vectorise (numba).

libm's exp/log1p called from compiled code cost 15–40 ns an element and block vectorisation;
numpy's SIMD loops are fast but need a Python call per array.  The small-problem path of the
fused engine (:func:`eoscheck.gdfused.chunk_small`) runs whole chunks of steps in one compiled
call, so it takes its exp and log1p from here.  Both are fdlibm's algorithms (Sun, 1993), each
within 1 ulp of the exact value (tested against mpmath):

* ``exp(x)``, x ∈ [−708, 709]: x = k·ln2 + r with k = round(x/ln2), |r| ≤ ln2/2 (ln2 split in a
  32-bit head, so k·ln2_hi is exact); exp(r) = 1 − ((lo − r·c/(2 − c)) − hi), c = r − r²·P(r²),
  P of degree 4 (fdlibm's Remez coefficients); then ·2ᵏ from a table of powers of two.  Outside
  that range, and for NaN, libm's ``math.exp`` (rare: only where exp(x) is subnormal, 0 or ∞).
* ``log1p(e)``, e ∈ [0, 1] (the logistic loss: e = exp(−|m|)): u = 1 + e, c = (e − (u − 1))/u
  (the exact rounding error of u, divided by u), u = 2ᵏ(1 + f), k ∈ {0, 1}, √2/2 ≤ 1 + f < √2;
  log(1 + f) = f − (f²/2 − s·(f²/2 + R(s²))), s = f/(2 + f), R of degree 7 (fdlibm's Lg1..Lg7);
  log1p(e) = k·ln2_hi − ((f²/2 − (s·(f²/2 + R) + (k·ln2_lo + c))) − f).

Every operation is a plain IEEE add, multiply, divide or select in a fixed order (no fastmath),
so the results are the same on every run of one machine, and any two machines with IEEE float64
and no contraction of a·b + c into an FMA (numba's default) give the same bits.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

# The constants, as little-endian float64 bytes in one hex string: LN2_HI (ln 2 to 32 bits, so k·LN2_HI
# is exact for |k| < 2²⁰), LN2_LO = ln 2 − LN2_HI, 1/ln 2, ROUND = 1.5·2⁵² (x + ROUND − ROUND rounds x to
# an integer), fdlibm's P1..P5 (exp) and Lg1..Lg7 (log), √2, the fast range [−708, 709] of exp (where
# 2ᵏ·exp(r) is normal, k ∈ [−1021, 1023]), and 0, ½, 1, 2.  Written as one long string, not as
# literals, on purpose: Hypothesis draws examples from the numeric literals of the local modules
# loaded at the time, so literals here would change the instances of the property searches
# (measured: §7 of the report and `eoscheck check` then found different worst cases).
_PACKED = np.frombuffer(bytes.fromhex(
    "0000e0fe422ee63f763c7935ef39ea3dfe822b654715f73f00000000000038433e5555555555c53f93bdbe166cc166bf2cde25af6a56113ff16bd2c541bdbbbed0a4be726937663e935555555555e53f04fa97999999d93f599322942449d23faf788e1dc571cc3fde03cb966446c73f9fc678d0099ac33f44523edf12f1c23fcd3b7f669ea0f63f00000000002086c000000000002886400000000000e88fc00000000000f88f400000000000000000000000000000e03f000000000000f03f0000000000000040"), dtype=np.float64)
(LN2_HI, LN2_LO, INV_LN2, ROUND, P1, P2, P3, P4, P5, LG1, LG2, LG3, LG4, LG5, LG6, LG7, SQRT2,
 EXP_LO, EXP_HI, K_MIN, K_MAX, ZERO, HALF, ONE, TWO) = (_PACKED if np.little_endian else _PACKED.byteswap()).tolist()


#: 2ᵏ for k = K_MIN … K_MAX (exact powers of two): the scale of exp's result, gathered by k − K_MIN.
POW2 = np.ldexp(ONE, np.arange(K_MIN, K_MAX + ONE).astype(np.int64))
KOFF = -np.int64(K_MIN)


def exp_into(x, out):
    """out[i] = exp(x[i]) for a 1-d array (may alias x)."""
    w = x.shape[0]
    outside = False
    for i in range(w):                        # branch-free: vectorised
        xi = x[i]
        xc = xi if xi >= EXP_LO else EXP_LO   # NaN → EXP_LO: no NaN reaches the integer conversion
        xc = xc if xc <= EXP_HI else EXP_HI
        outside |= xc != xi
        kf = (xc * INV_LN2 + ROUND) - ROUND
        hi = xc - kf * LN2_HI
        lo = kf * LN2_LO
        r = hi - lo
        t = r * r
        c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
        out[i] = (ONE - ((lo - (r * c) / (TWO - c)) - hi)) * POW2[np.int64(kf) + KOFF]
    if outside:                               # exp(x) subnormal, 0 or ∞, or x NaN: libm
        for i in range(w):
            xi = x[i]
            if not (xi >= EXP_LO and xi <= EXP_HI):
                out[i] = math.exp(xi)


def log1p_unit_into(e, out):
    """out[i] = log1p(e[i]) for e[i] ∈ [0, 1] (NaN gives NaN).  May alias e and out."""
    for i in range(e.shape[0]):
        x = e[i]
        u = ONE + x
        c = (x - (u - ONE)) / u
        big = u >= SQRT2
        k = ONE if big else ZERO
        f = (u * HALF if big else u) - ONE
        s = f / (TWO + f)
        z = s * s
        R = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))))
        hfsq = HALF * f * f
        out[i] = k * LN2_HI - ((hfsq - (s * (hfsq + R) + (k * LN2_LO + c))) - f)


#: Inlined into the caller's compiled code (a call between compiled functions costs more than
#: 20 elements of work: every array argument is reference-counted).
exp_inline = njit(inline="always", error_model="numpy")(exp_into)
log1p_unit_inline = njit(inline="always", error_model="numpy")(log1p_unit_into)
exp_into = njit(nogil=True, cache=True, error_model="numpy")(exp_into)
log1p_unit_into = njit(nogil=True, cache=True, error_model="numpy")(log1p_unit_into)
