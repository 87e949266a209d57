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

LN2_HI = 6.93147180369123816490e-01   # ln 2 to 32 bits: k·LN2_HI is exact for |k| < 2²⁰
LN2_LO = 1.90821492927058770002e-10   # ln 2 − LN2_HI
INV_LN2 = 1.44269504088896338700e+00
ROUND = 6755399441055744.0            # 1.5·2⁵²: x + ROUND − ROUND rounds x to an integer (|x| < 2⁵¹)
P1 = 1.66666666666666019037e-01
P2 = -2.77777777770155933842e-03
P3 = 6.61375632143793436117e-05
P4 = -1.65339022054652515390e-06
P5 = 4.13813679705723846039e-08
LG1 = 6.666666666666735130e-01
LG2 = 3.999999999940941908e-01
LG3 = 2.857142874366239149e-01
LG4 = 2.222219843214978396e-01
LG5 = 1.818357216161805012e-01
LG6 = 1.531383769920937332e-01
LG7 = 1.479819860511658591e-01
SQRT2 = 1.4142135623730951
#: The range where 2ᵏ·exp(r) is a normal number (k ∈ [−1021, 1023]).
EXP_LO = -708.0
EXP_HI = 709.0


#: 2ᵏ for k = −1021 … 1023 (exact powers of two): the scale of exp's result, gathered by k.
POW2 = np.ldexp(1.0, np.arange(-1021, 1024))


def exp_into(x, out):
    """out[i] = exp(x[i]) for a 1-d array (may alias x)."""
    w = x.shape[0]
    outside = 0
    for i in range(w):                        # branch-free: vectorised
        xi = x[i]
        xc = xi if xi >= EXP_LO else EXP_LO   # NaN → EXP_LO: no NaN reaches the integer conversion
        xc = xc if xc <= EXP_HI else EXP_HI
        outside += xc != xi
        kf = (xc * INV_LN2 + ROUND) - ROUND
        hi = xc - kf * LN2_HI
        lo = kf * LN2_LO
        r = hi - lo
        t = r * r
        c = r - t * (P1 + t * (P2 + t * (P3 + t * (P4 + t * P5))))
        out[i] = (1.0 - ((lo - (r * c) / (2.0 - c)) - hi)) * POW2[np.int64(kf) + 1021]
    if outside:                               # exp(x) subnormal, 0 or ∞, or x NaN: libm
        for i in range(w):
            xi = x[i]
            if not (xi >= EXP_LO and xi <= EXP_HI):
                out[i] = math.exp(xi)


def log1p_unit_into(e, out):
    """out[i] = log1p(e[i]) for e[i] ∈ [0, 1] (NaN gives NaN).  May alias e and out."""
    for i in range(e.shape[0]):
        x = e[i]
        u = 1.0 + x
        c = (x - (u - 1.0)) / u
        big = u >= SQRT2
        k = 1.0 if big else 0.0
        f = (u * 0.5 if big else u) - 1.0
        s = f / (2.0 + f)
        z = s * s
        R = z * (LG1 + z * (LG2 + z * (LG3 + z * (LG4 + z * (LG5 + z * (LG6 + z * LG7))))))
        hfsq = 0.5 * f * f
        out[i] = k * LN2_HI - ((hfsq - (s * (hfsq + R) + (k * LN2_LO + c))) - f)


#: Inlined into the caller's compiled code (a call between compiled functions costs more than
#: 20 elements of work: every array argument is reference-counted).
exp_inline = njit(inline="always", error_model="numpy")(exp_into)
log1p_unit_inline = njit(inline="always", error_model="numpy")(log1p_unit_into)
exp_into = njit(nogil=True, cache=True, error_model="numpy")(exp_into)
log1p_unit_into = njit(nogil=True, cache=True, error_model="numpy")(log1p_unit_into)
