"""The fused CPU path of the fast GD engine: one compiled elementwise pass per step (numba).

Per step and per stepsize row, one loop over the margins mᵢ = (Zw)ᵢ evaluates, for the
built-in losses (:mod:`eoscheck.lossnp` holds their numpy forms, the reference this path is
tested against), q = −ℓ′(m), S = (η/n)·q and the row sums behind every record and tracker:
Σℓ(mᵢ), Σ|ℓ′(mᵢ)|, min/max mᵢ, and at recorded steps Σexp(−mᵢ), #{mᵢ ≤ 0}, c·M = ‖w‖²,
c·(Zw*) = ⟨w, w*⟩ (gram form).  The GEMMs stay in a BLAS, single-threaded: numpy's OpenBLAS,
or MKL through torch on Intel CPUs (:func:`eoscheck.gdnumpy.default_gemm`; 1.3× faster there on
these thin products, measured), on 64-byte-aligned buffers so that MKL rounds alike on every run.

Parallel: the data points are split into P panels (P fixed by the machine's CPU count and the
problem size, never by the load).  Gram form: panel p owns the columns M[:, p], c[:, p], its
partial row sums and D_p = S·K[:, p] = Σ_q S_q K[q, p], summed from its own block on
(q = p, p+1, …, p−1 mod P), so a panel starts its product on the S_p it has just written and waits
(blocking, :class:`~eoscheck.panelthreads.StepBoard`) only for the S_q it needs next (S double-buffered by the parity of
t).  Primal form: panel p owns the rows Z_p, its margins M_p = W Z_pᵀ and the partial gradient
D_p = S_p Z_p; after a barrier the owner of panel 0 sums D = Σ_p D_p in panel order and updates W,
and a second barrier releases the next step.  T ≤ P threads run the panels (panel p on thread
p mod T); partial sums are combined in a fixed order per panel, so the result is bit-identical for
every T.

The BLAS-mode steps of either form run in :mod:`eoscheck.steploop` where it is available (one
compiled call per panel thread and chunk, the same operations in the same order, exp from
:mod:`eoscheck.explog`, products by the library's dgemm called from compiled code): ``FusedBlock.compiled``,
attached by :func:`eoscheck.fastgd.build_block`; :meth:`FusedBlock.panel_steps` is the Python loop it replaces.

Small problems run whole chunks inside one compiled call, GEMMs included (:func:`chunk_small`,
compiled per loss and form, with the vectorisable exp and log1p sum of :mod:`eoscheck.explog`), which
removes the per-step Python calls.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from . import explog
from .explog import exp_inline, log1p_sum_inline
from .gdnumpy import REDUCED, ChunkBuffers
from .jitcache import drop_stale
from .panelthreads import on_threads, run_panels

#: Row-sum slots of a panel's reduction array red[key, step, row].
VALUE, QSUM, MMIN, MMAX, EXPNEG, LE0, WN2, WPROJ, GN2 = range(9)
NRED = 9
#: The slot of each row sum the driver reads (:data:`eoscheck.gdnumpy.REDUCED`).
SLOTS = {"value_sum": VALUE, "q_sum": QSUM, "m_min": MMIN, "m_max": MMAX, "expneg_sum": EXPNEG, "le0": LE0,
         "wn2": WN2, "wproj": WPROJ, "gn2": GN2}

LOGISTIC, EXPONENTIAL, FLAT_EXP, FLAT_POLY, POLY_TAIL = range(5)


def fused_kind(kernel) -> tuple[int, float] | None:
    """(kind, parameter a) of a built-in loss's numpy kernel, or None (no fused form)."""
    name = type(kernel).__name__
    table = {"LogisticKernel": LOGISTIC, "ExponentialKernel": EXPONENTIAL, "FlatExpKernel": FLAT_EXP,
             "FlatPolyKernel": FLAT_POLY, "PolyTailKernel": POLY_TAIL}
    if name not in table:
        return None
    return table[name], float(getattr(kernel, "a", 0.0))


@njit(inline="always", error_model="numpy")
def loss_terms(kind, a, m, want_e):
    """(ℓ(m), −ℓ′(m), exp(−m)) of a built-in loss; exp(−m) only when ``want_e`` (else 0).

    Logistic: e = exp(−|m|), ℓ = log1p(e) − min(m, 0), −ℓ′ = [m ≤ 0 ? 1 : e]/(1 + e),
    exp(−m) = e (m ≥ 0) or 1/e (1/e overflows only where exp(−m) does; its rounding is ≤ 1.5 ulp).
    """
    if kind == LOGISTIC:
        e = math.exp(-abs(m))
        num = 1.0 if m <= 0.0 else e
        lo = m if m < 0.0 else 0.0
        en = 0.0
        if want_e:
            en = e if m >= 0.0 else 1.0 / e
        return math.log1p(e) - lo, num / (1.0 + e), en
    if kind == EXPONENTIAL:
        e = math.exp(-m)
        return e, e, e
    en = math.exp(-m) if want_e else 0.0
    if kind == FLAT_EXP:
        if m > 0.0:
            ex = math.exp(-a * m)
            return ex, a * ex, en
        return 1.0 - a * m, a, en
    if kind == FLAT_POLY:
        if m > 0.0:
            return (1.0 + m) ** (-a), a * (1.0 + m) ** (-a - 1.0), en
        return 1.0 - a * m, a, en
    s = math.hypot(1.0, m)           # POLY_TAIL: ℓ = √(1+m²) − m without cancellation
    if m > 0.0:
        return 1.0 / (s + m), 1.0 / (s * (s + m)), en
    return s - m, -(m / s - 1.0), en


#: The sign bit of a float64, as an int64: m | SIGN = −|m|.
SIGN = np.int64(-(2**63))


def transcendentals(kind: int, M: np.ndarray, E: np.ndarray) -> None:
    """The exp of a step in numpy's SIMD loops (~1 ns an element; libm called from compiled code
    costs 15–40): logistic E = exp(−|M|), exponential E = exp(−M).  The same operations as
    :mod:`eoscheck.lossnp`, so q agrees with the numpy path to the last bit."""
    if kind == LOGISTIC:
        np.bitwise_or(M.view(np.int64), SIGN, out=E.view(np.int64))
        np.exp(E, out=E)
    elif kind == EXPONENTIAL:
        np.negative(M, out=E)
        np.exp(E, out=E)


@njit(nogil=True, cache=True, error_model="numpy")
def _row_values_libm(kind, a, M, r, Q, val, ee, recorded):
    """:func:`_row_values` for the losses whose exp/log come from libm, per element (:func:`loss_terms`).

    Compiled apart, not inlined: inlined beside the other losses' loops in :func:`fused_pass`, these
    libm calls made those loops 5× slower on a 20-margin row."""
    for i in range(M.shape[1]):
        v_, q_, e_ = loss_terms(kind, a, M[r, i], recorded)
        Q[r, i] = q_
        val[i] = v_
        ee[i] = e_


@njit(inline="always", error_model="numpy")
def _dot4(x, y):
    """x·y with four interleaved partial sums (i mod 4), combined as (s₀+s₁)+(s₂+s₃): a fixed
    order, four times shorter dependency chains than one running sum."""
    w = x.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    i = 0
    while i + 4 <= w:
        s0 += x[i] * y[i]
        s1 += x[i + 1] * y[i + 1]
        s2 += x[i + 2] * y[i + 2]
        s3 += x[i + 3] * y[i + 3]
        i += 4
    while i < w:
        s0 += x[i] * y[i]
        i += 1
    return (s0 + s1) + (s2 + s3)


@njit(inline="always", error_model="numpy")
def _logistic_records(m, e):
    """(Σ exp(−mᵢ), #{mᵢ ≤ 0}) of a logistic row from e = exp(−|m|): exp(−m) = e (m ≥ 0) or 1/e (1/e
    overflows only where exp(−m) does; its rounding is ≤ 1.5 ulp); four interleaved lanes."""
    w = m.shape[0]
    s0 = 0.0
    s1 = 0.0
    s2 = 0.0
    s3 = 0.0
    c0 = 0.0
    c1 = 0.0
    c2 = 0.0
    c3 = 0.0
    i = 0
    while i + 4 <= w:
        a0 = m[i]
        a1 = m[i + 1]
        a2 = m[i + 2]
        a3 = m[i + 3]
        s0 += e[i] if a0 >= 0.0 else 1.0 / e[i]
        s1 += e[i + 1] if a1 >= 0.0 else 1.0 / e[i + 1]
        s2 += e[i + 2] if a2 >= 0.0 else 1.0 / e[i + 2]
        s3 += e[i + 3] if a3 >= 0.0 else 1.0 / e[i + 3]
        c0 += 1.0 if a0 <= 0.0 else 0.0
        c1 += 1.0 if a1 <= 0.0 else 0.0
        c2 += 1.0 if a2 <= 0.0 else 0.0
        c3 += 1.0 if a3 <= 0.0 else 0.0
        i += 4
    while i < w:
        s0 += e[i] if m[i] >= 0.0 else 1.0 / e[i]
        c0 += 1.0 if m[i] <= 0.0 else 0.0
        i += 1
    return (s0 + s1) + (s2 + s3), (c0 + c1) + (c2 + c3)


def fused_pass(kind, a, M, E, Q, S, coef, live, X, v, recorded, red, j, val, ee):
    """One step on a panel: Q = −ℓ′(M), S = coef·Q (0 on rows not live), the row sums into red[:, j].

    ``E`` holds the step's exp from :func:`transcendentals` (logistic, exponential; empty for the
    other losses, whose values are computed here).  ``X``/``v`` (gram form: the panel's c and
    Z w*; empty otherwise) give c·M and c·v at recorded steps; ``val``/``ee`` are (w,) scratch.  A
    row with a non-finite margin gets NaN min and max, so the driver sees a non-finite state.
    Every sum runs in a fixed order, so the result depends only on the panel.  With ``E`` given,
    q and the sums come out of one loop (logistic: −ℓ′ = [m ≤ 0 ? 1 : e]/(1 + e), and
    ℓ = log1p(e) − min(m, 0) summed as Σ log1p(eᵢ) − Σ min(mᵢ, 0), the first by
    :func:`eoscheck.explog.log1p_sum`, one log1p per 512 margins, ``val`` its scratch;
    exponential: ℓ = −ℓ′ = e), 4× faster on small rows than writing q and ℓ first and summing them
    in a second loop; the logistic records by :func:`_logistic_records`.
    """
    k, w = M.shape
    has_x = X.shape[1] == w
    has_v = v.shape[0] == w
    pre = E.shape[1] == w and (kind == LOGISTIC or kind == EXPONENTIAL)
    for r in range(k):
        vs = 0.0
        qs = 0.0
        mn = math.inf
        mx = -math.inf
        bad = 0.0
        c = coef[r] if live[r] else 0.0
        if pre and kind == LOGISTIC:
            lo = 0.0
            for i in range(w):
                m = M[r, i]
                e = E[r, i]
                q = (1.0 if m <= 0.0 else e) / (1.0 + e)
                Q[r, i] = q
                S[r, i] = c * q
                lo += m if m < 0.0 else 0.0
                qs += abs(q)
                mn = m if m < mn else mn
                mx = m if m > mx else mx
                bad += m - m                  # NaN once any m is NaN or ±inf
            vs = log1p_sum_inline(E[r], val) - lo
        elif pre:                             # exponential: ℓ = −ℓ′ = exp(−m) = E
            for i in range(w):
                m = M[r, i]
                q = E[r, i]
                Q[r, i] = q
                S[r, i] = c * q
                vs += q
                qs += abs(q)
                mn = m if m < mn else mn
                mx = m if m > mx else mx
                bad += m - m
        else:
            _row_values_libm(kind, a, M, r, Q, val, ee, recorded)
            for i in range(w):
                m = M[r, i]
                q = Q[r, i]
                S[r, i] = c * q
                vs += val[i]
                qs += abs(q)
                mn = m if m < mn else mn
                mx = m if m > mx else mx
                bad += m - m
        if not live[r]:                       # a stopped row: S = 0 exactly (its q may be inf)
            for i in range(w):
                S[r, i] = 0.0
        if bad != 0.0:                        # a non-finite margin: the state is not finite
            mn = math.nan
            mx = math.nan
        red[VALUE, j, r] = vs
        red[QSUM, j, r] = qs
        red[MMIN, j, r] = mn
        red[MMAX, j, r] = mx
        if recorded:
            en = 0.0
            le = 0.0
            wn = 0.0
            wp = 0.0
            if pre and kind == LOGISTIC:
                en, le = _logistic_records(M[r], E[r])
            else:
                for i in range(w):
                    en += E[r, i] if pre else ee[i]
                    le += 1.0 if M[r, i] <= 0.0 else 0.0
            if has_x:
                wn = _dot4(X[r], M[r])
                if has_v:
                    wp = _dot4(X[r], v)
            red[EXPNEG, j, r] = en
            red[LE0, j, r] = le
            red[WN2, j, r] = wn
            red[WPROJ, j, r] = wp


def update_gram(M, D, Mn, X, S, Xn, red, j):
    """Mn = M + D, Xn = X + S (c_{t+1} = c_t + S_t) and the partial η²‖∇L‖² = S·D into red[GN2, j]
    (the sum in four interleaved lanes, after the vectorised update)."""
    k, w = M.shape
    for r in range(k):
        for i in range(w):
            Mn[r, i] = M[r, i] + D[r, i]
            Xn[r, i] = X[r, i] + S[r, i]
        red[GN2, j, r] = _dot4(S[r], D[r])


def update_primal(X, D, Xn, wstar, red, j, recorded):
    """Xn = X + D (W_{t+1} = W_t + S Z), ‖D‖² = η²‖∇L‖², and ‖W_t‖², ⟨W_t, w*⟩ at recorded steps."""
    k, d = X.shape
    has_w = wstar.shape[0] == d
    for r in range(k):
        g = 0.0
        wn = 0.0
        wp = 0.0
        for a in range(d):
            x = X[r, a]
            dd = D[r, a]
            Xn[r, a] = x + dd
            g += dd * dd
            if recorded:
                wn += x * x
                if has_w:
                    wp += x * wstar[a]
        red[GN2, j, r] = g
        if recorded:
            red[WN2, j, r] = wn
            red[WPROJ, j, r] = wp


def _matmul_into(A, B, out):
    """out = A @ B by plain loops (small problems: no call overhead, a fixed summation order)."""
    k, n = A.shape
    p = B.shape[1]
    for r in range(k):
        for c in range(p):
            out[r, c] = 0.0
        for i in range(n):
            s = A[r, i]
            for c in range(p):
                out[r, c] += s * B[i, c]


def _matmul_dot(A, BT, out):
    """out = A @ B from BT = Bᵀ, as dot products: out[r, c] = Σᵢ A[r, i]·BT[c, i] summed in i order
    in a register — the same operations in the same order as :func:`_matmul_into`, so the same
    bits (a NaN's sign and payload aside), without a store and reload of out per term (faster when B has few
    columns).  Up to eight columns at a time (independent sums per A[r, i] loaded; a last group of fewer than eight
    in one pass too): (1 × 20)·(20 × 5) 38 → 32 ns, (4 × 64)·(64 × 8) 528 → 429 ns against four at a time and the
    rest one by one, measured on Zen 3."""
    k, n = A.shape
    p = BT.shape[0]
    for r in range(k):
        c = 0
        while c < p:
            g = min(8, p - c)
            s0 = 0.0
            s1 = 0.0
            s2 = 0.0
            s3 = 0.0
            s4 = 0.0
            s5 = 0.0
            s6 = 0.0
            s7 = 0.0
            if g == 8:                        # a full group without the lanes' tests: one loop with them ran
                for i in range(n):            # (4 × 64)·(64 × 8) in 653 against 452 ns, measured
                    a = A[r, i]
                    s0 += a * BT[c, i]
                    s1 += a * BT[c + 1, i]
                    s2 += a * BT[c + 2, i]
                    s3 += a * BT[c + 3, i]
                    s4 += a * BT[c + 4, i]
                    s5 += a * BT[c + 5, i]
                    s6 += a * BT[c + 6, i]
                    s7 += a * BT[c + 7, i]
            else:                             # the last g < 8 columns
                for i in range(n):
                    a = A[r, i]
                    s0 += a * BT[c, i]
                    if g > 1:
                        s1 += a * BT[c + 1, i]
                    if g > 2:
                        s2 += a * BT[c + 2, i]
                    if g > 3:
                        s3 += a * BT[c + 3, i]
                    if g > 4:
                        s4 += a * BT[c + 4, i]
                    if g > 5:
                        s5 += a * BT[c + 5, i]
                    if g > 6:
                        s6 += a * BT[c + 6, i]
            out[r, c] = s0
            if g > 1:
                out[r, c + 1] = s1
            if g > 2:
                out[r, c + 2] = s2
            if g > 3:
                out[r, c + 3] = s3
            if g > 4:
                out[r, c + 4] = s4
            if g > 5:
                out[r, c + 5] = s5
            if g > 6:
                out[r, c + 6] = s6
            if g > 7:
                out[r, c + 7] = s7
            c += g


#: Elements per pass of exp's vectorised loop as LLVM builds it for AVX2 (4 lanes, 2 interleaved; rows of 16,
#: 24, 32 margins ran 1.4–1.9× faster an element than rows of 17, 20 or 36, measured on Zen 3).
EXP_LANES = 8


def transcendentals_compiled(kind, M, E, tmp):
    """:func:`transcendentals` inside compiled code, with :mod:`eoscheck.explog`'s exp (within 1 ulp,
    vectorised): logistic E = exp(−|M|); exponential E = exp(−M).

    ``tmp``: scratch of ≥ w elements, or of ≥ 2·p, p = w rounded up to a multiple of :data:`EXP_LANES`: then exp runs
    on rows of p (zeros after the w margins) into ``tmp[p:2p]``, all in the vectorised loop, and the w values are
    copied to E — on a 20-margin row the last 4 margins otherwise take LLVM's scalar remainder loop (71 → 63 ns a
    row, measured on Zen 3); exp's operations are the same either way, so are its bits."""
    k, w = M.shape
    p = (w + EXP_LANES - 1) // EXP_LANES * EXP_LANES
    padded = tmp.shape[0] >= 2 * p
    x = tmp[:p] if padded else tmp[:w]
    y = tmp[p:2 * p]
    for i in range(w, x.shape[0]):
        x[i] = 0.0
    for r in range(k):
        if kind == LOGISTIC:
            for i in range(w):
                x[i] = -abs(M[r, i])
        elif kind == EXPONENTIAL:
            for i in range(w):
                x[i] = -M[r, i]
        else:
            continue
        if padded:
            exp_inline(x, y)
            for i in range(w):
                E[r, i] = y[i]
        else:
            exp_inline(x, E[r])


def _compiled(fn):
    """(cached compiled function, its inlined twin for :func:`chunk_small`): the same operations,
    so the same bits; inlining saves a call per step whose reference counting costs more than the
    work of a small step."""
    return njit(nogil=True, cache=True, error_model="numpy")(fn), njit(inline="always", error_model="numpy")(fn)


fused_pass, _fused_pass_i = _compiled(fused_pass)
update_gram, _update_gram_i = _compiled(update_gram)
update_primal, _update_primal_i = _compiled(update_primal)
_matmul_into, _matmul_i = _compiled(_matmul_into)
_matmul_dot, _matmul_dot_i = _compiled(_matmul_dot)
transcendentals_compiled, _transcendentals_i = _compiled(transcendentals_compiled)
drop_stale(fused_pass, explog)   # this module's cached code inlines explog's exp and log1p sum


def _chunk_small_kernel(KIND, GRAM):
    """:func:`chunk_small` compiled for one loss and form (``KIND``, ``GRAM`` compile-time constants:
    with them known at run time only, the inlined loops compile to code 2.7× slower on a 20-margin
    step)."""

    @njit(nogil=True, cache=True, error_model="numpy")
    def run(a, Mb, Xb, Qb, S, D, B, BT, coef, live, v, wstar, recorded, red, nsteps, E):
        w = Mb.shape[2]
        val = np.empty(w)
        ee = np.empty(w)
        tmp = np.empty(2 * ((w + EXP_LANES - 1) // EXP_LANES * EXP_LANES))   # exp on whole vectors
        pre = E.shape[1] == w
        for j in range(nsteps):
            if not GRAM and j > 0:
                _matmul_i(Xb[j], BT, Mb[j])
            if pre:
                _transcendentals_i(KIND, Mb[j], E, tmp)
            if GRAM:
                _fused_pass_i(KIND, a, Mb[j], E, Qb[0], S, coef, live, Xb[j], v, recorded[j], red, j, val, ee)
                _matmul_i(S, B, D)
                _update_gram_i(Mb[j], D, Mb[j + 1], Xb[j], S, Xb[j + 1], red, j)
            else:
                _fused_pass_i(KIND, a, Mb[j], E, Qb[0], S, coef, live, Xb[j][:, :0], v[:0], recorded[j],
                              red, j, val, ee)
                _matmul_dot_i(S, BT, D)
                _update_primal_i(Xb[j], D, Xb[j + 1], wstar, red, j, recorded[j])
        if not GRAM:
            _matmul_i(Xb[nsteps], BT, Mb[nsteps])
    return run


_CHUNK_SMALL: dict = {}


def chunk_small(kind, a, gram, Mb, Xb, Qb, S, D, B, BT, coef, live, v, wstar, recorded, red, nsteps, E):
    """``nsteps`` whole steps in one compiled call (small problems), slots 0..nsteps of the chunk buffers
    M and X (``Qb`` one slot: each step's q, used within the step).

    Gram: B = K = ZZᵀ; primal: B = Z (n, d), BT = Zᵀ (d, n); M_{nsteps} is left for the next chunk.
    ``E`` (k, n) scratch for the logistic and exponential losses' exp
    (:func:`transcendentals_compiled`), (k, 0) for the others (libm, per element).  One compiled
    kernel per loss and form, made (and cached on disk) on first use.
    """
    key = (int(kind), bool(gram))
    if key not in _CHUNK_SMALL:
        _CHUNK_SMALL[key] = _chunk_small_kernel(*key)
    _CHUNK_SMALL[key](a, Mb, Xb, Qb, S, D, B, BT, coef, live, v, wstar, recorded, red, nsteps, E)


#: A whole chunk runs in one compiled call when a batched step has fewer GEMM flops and margins
#: than these (there the calls cost more than the work; libm's exp in compiled code is slow).
SMALL_FLOPS = 4e5
SMALL_ELEMS = 1024


#: Steps per chunk in the small mode: its steps are compiled, so a chunk costs the numpy calls of its
#: records (~0.5 ms a chunk on n = 20, measured), which longer chunks amortise (10⁴ steps, n = 20,
#: best of 5 alternated: 2¹⁰ steps a chunk 5.8 ms, 2¹¹ 4.8, 2¹² 4.5, 2¹³ 4.6, 2¹⁴ 4.5); at most 2¹⁷
#: margins a buffer (1 MiB).  Fixed per problem, not per run length: the engine's memory does not
#: grow with the steps.
SMALL_CHUNK = 1 << 12
SMALL_CHUNK_ELEMS = 1 << 17


def small_chunk_length(K: int, n: int) -> int:
    """Steps per chunk of a small-mode block: min(2¹², 2¹⁷/(K·n))."""
    return int(max(1, min(SMALL_CHUNK, SMALL_CHUNK_ELEMS // max(1, K * n))))


def is_small(flops: float, K: int, n: int) -> bool:
    """Does a block of K stepsizes on n data points run whole chunks in one compiled call?"""
    return flops < SMALL_FLOPS and max(2, K) * n <= SMALL_ELEMS


def aligned_zeros(shape) -> np.ndarray:
    """Zeros whose first element sits on a 64-byte boundary.  MKL's results may depend on the
    alignment of its operands, and where malloc puts a buffer varies from run to run (its mmap
    threshold moves), so the BLAS-mode buffers are aligned to keep reruns bit-identical."""
    size = int(np.prod(shape))
    raw = np.zeros(size + 8)
    off = (-raw.ctypes.data % 64) // 8
    return raw[off:off + size].reshape(shape)


def aligned_copy(a: np.ndarray) -> np.ndarray:
    """A C-contiguous copy of ``a`` in a 64-byte-aligned buffer (see :func:`aligned_zeros`)."""
    out = aligned_zeros(a.shape)
    out[...] = a
    return out


class FusedBlock(ChunkBuffers):
    """The iterates of k stepsizes on the fused path: chunk buffers (see :class:`ChunkBuffers`),
    P panels of the data points, and the mode: ``small`` (whole chunks in one compiled call) or
    ``blas`` (a Python loop over steps: fused pass, BLAS GEMM, fused update)."""

    def __init__(self, Z, Kmat, eta, w0, w_star, kernel, kind, method, chunk, panels, flops, gemm="openblas"):
        self.Z, self.kernel, self.method = Z, kernel, method
        self.kind, self.a = kind
        n = Z.shape[0]
        small = is_small(flops, len(eta), n)
        eta = self.init_rows(Z, eta, chunk, pad=not small)   # plain loops need no padding
        k, d = self.k, self.d
        self.coef = eta / n
        self.mode = "small" if small else "blas"
        self.gemm = gemm if not small else "compiled"
        gram = method == "gram"
        pdim = n if gram else d
        self.M = aligned_zeros((chunk + 1, k, n))
        self.X = aligned_zeros((chunk + 1, k, pdim))
        # q in one slot: a step's q is used within the step only (writing it into fresh memory per step
        # cost ~5 % of the main benchmark problem's time, measured; in the small mode a buffer of up to
        # 2¹⁷ margins that no step read again); the rare checks that need a slot's q recompute it (q_row)
        self.Q = np.zeros((1, k, n))
        self.dead = np.zeros(k, dtype=bool)
        self.dead_idx = np.zeros(0, dtype=np.int64)
        self.live = np.ones(k, dtype=bool)
        self.zmax = float(np.max(np.abs(Z))) if Z.size else 0.0
        self.has_wstar = w_star is not None
        self.wstar = np.zeros(0) if w_star is None else np.ascontiguousarray(w_star, dtype=np.float64)
        self.v = np.zeros(0) if w_star is None else Z @ w_star
        if self.gemm == "mkl" and not gram:      # the primal products' operands, aligned
            self.Z = Z = aligned_copy(Z)
        self.zt = aligned_copy(Z.T)
        if not gram:
            if w0 is not None:
                self.X[0] = w0
        elif w0 is not None and np.any(w0):
            raise ValueError("the gram form needs w0 = 0")
        self.Kmat = Kmat
        self.compiled = None        # the compiled step loop (eoscheck.steploop), where one is attached (fastgd)
        self.S2 = aligned_zeros((2, k, n))
        self.D = aligned_zeros((k, pdim))
        panels = 1 if small else panels
        bounds = [round(i * (n / panels)) for i in range(panels)] + [n]   # np.linspace(0, n, P+1).round()
        self.cols = [slice(int(c0), int(c1)) for c0, c1 in zip(bounds[:-1], bounds[1:])]
        self.panels = []
        for cols in self.cols:
            w = cols.stop - cols.start
            self.panels.append({
                "K": [aligned_copy(Kmat[rows, cols]) for rows in self.cols] if gram and not small else None,
                "D": aligned_zeros((k, w)) if gram else self.D,
                "E": np.zeros((k, w) if kind[0] in (LOGISTIC, EXPONENTIAL) else (k, 0)),
                "v": np.ascontiguousarray(self.v[cols]) if self.has_wstar and gram else np.zeros(0),
                "red": np.zeros((NRED, chunk, k)),
                "val": np.zeros(w), "ee": np.zeros(w),
            })
            if gram and not small:   # per-slot views of the panel's columns (panel_steps)
                self.panels[-1].update(M=[m[:, cols] for m in self.M], X=[x[:, cols] for x in self.X],
                                       Q=self.Q[0][:, cols], S=[s[:, cols] for s in self.S2])
            elif not small:          # primal: the panel's rows of Z, its margins, q, S and D_p = S_p Z_p
                one = panels == 1
                self.panels[-1].update(Z=Z if one else aligned_copy(Z[cols]),
                                       ZT=self.zt if one else aligned_copy(Z[cols].T),
                                       M=[m[:, cols] for m in self.M], Q=self.Q[0][:, cols],
                                       S=self.S2[0][:, cols], D=self.D if one else aligned_zeros((k, d)))
        self.empty = np.zeros((k, 0))
        if len(self.panels) == 1:                 # one panel: its row sums are the block's (no copies)
            self.red = {key: self.panels[0]["red"][i] for key, i in SLOTS.items()}
        else:
            self.red = {key: np.zeros((chunk, k)) for key in REDUCED}
        if small:
            if not gram:
                np.matmul(self.X[0], self.zt, out=self.M[0])
            return
        self._gemm_operands()
        if not gram:                              # M_0 = W_0 Zᵀ by the library of the steps
            self._primal_margins(0)

    def _gemm_operands(self) -> None:
        """The BLAS-mode products' operands, wrapped once: numpy arrays for OpenBLAS, torch tensors on
        the same memory for MKL (wrapping per call costs ~2 µs an operand)."""
        if self.gemm == "mkl":
            import torch

            self.mm, wrap = torch.matmul, torch.from_numpy
        else:
            self.mm, wrap = np.matmul, (lambda a: a)
        n = len(self.panels)
        for p, P in enumerate(self.panels):
            if self.method == "gram":         # D_p = Σ_q S_q K[q, p], q from p on, S by the parity of t
                P["order"] = [(p + i) % n for i in range(n)]
                P["mm"] = [[(wrap(self.S2[par][:, self.cols[q]]), wrap(P["K"][q])) for q in P["order"]]
                           for par in (0, 1)]
                D = wrap(P["D"])
                if self.gemm == "mkl":       # D_p += S_q K[q, p]: the library's beta = 1
                    P["acc"] = lambda S, K, D=D, addmm=torch.addmm: addmm(D, S, K, out=D)
                else:
                    P["acc"] = lambda S, K, D=D, tmp=np.empty_like(P["D"]): np.add(D, np.matmul(S, K, out=tmp), out=D)
                P["Dw"] = D
            else:                             # M_p = W Z_pᵀ per slot; D_p = S_p Z_p
                P["mm_M"] = [(wrap(x), wrap(P["ZT"]), wrap(m)) for x, m in zip(self.X, P["M"])]
                P["mm_D"] = (wrap(P["S"]), wrap(P["Z"]), wrap(P["D"]))

    def advance(self, t0: int, nsteps: int, recorded: np.ndarray, threads: int = 1) -> None:
        """Steps t0 .. t0+nsteps−1 into slots 0..nsteps−1, and the state of step t0+nsteps."""
        rec = np.ascontiguousarray(recorded, dtype=np.bool_)
        if self.mode == "small":
            P = self.panels[0]
            gram = self.method == "gram"
            chunk_small(self.kind, self.a, gram, self.M, self.X, self.Q, self.S2[0], self.D,
                        self.Kmat if gram else self.Z, self.zt, self.coef, self.live,
                        self.v if gram else np.zeros(0), self.wstar, rec, P["red"], nsteps, P["E"])
        else:
            run_panels(self, t0, nsteps, rec, threads)
        self._combine(nsteps)

    def q_row(self, j: int, r: int) -> np.ndarray:
        """q = −ℓ′(M) of row r at slot j.  The block keeps no q per slot, so it is recomputed as the step
        computed it: panel by panel, with the step's exp (:mod:`eoscheck.explog`'s in compiled steps —
        the small mode's and the compiled step loops — numpy's in the Python loop) and
        :func:`fused_pass` — q depends on its margin alone, so the bits are the step's."""
        compiled_exp = self.compiled is not None or self.mode == "small"
        q = np.empty(self.n)
        for cols, P in zip(self.cols, self.panels):
            m = self.M[j, r:r + 1, cols]
            w = m.shape[1]
            E = np.empty((1, P["E"].shape[1]))
            if E.shape[1] and compiled_exp:
                transcendentals_compiled(self.kind, m, E, np.empty(w))
            elif E.shape[1]:
                transcendentals(self.kind, m, E)
            with np.errstate(all="ignore"):
                fused_pass(self.kind, self.a, m, E, q[None, cols], np.empty((1, w)), self.coef[r:r + 1],
                           self.live[r:r + 1], self.empty, np.zeros(0), False, np.zeros((NRED, 1, 1)), 0,
                           np.empty(w), np.empty(w))
        return q

    def enter_thread(self) -> None:
        """A new panel thread: MKL's thread count is per OS thread (OpenMP's), so one is set here; the
        calling thread has it from :func:`eoscheck.resources.single_torch_thread`."""
        if self.gemm == "mkl":
            import torch

            torch.set_num_threads(1)

    def panel_steps(self, mine: list[int], t0: int, nsteps: int, rec: np.ndarray, sync) -> None:
        """Gram form, the panels ``mine``: fused pass on own columns (S_p published), then
        D_p = Σ_q S_q K[q, p] with q = p, p+1, …, p−1 (mod P) — a fixed order per panel, so the bits do
        not depend on the threads — each S_q awaited only when needed (``sync``: a
        :class:`~eoscheck.panelthreads.StepBoard`, None on one thread), then the update."""
        if self.method != "gram":
            self._primal_panel_steps(mine, nsteps, rec, sync)
            return
        kind, a, coef, live = self.kind, self.a, self.coef, self.live
        parts = [(p, self.panels[p]) for p in mine]
        for j in range(nsteps):
            par = (t0 + j) & 1
            for p, P in parts:
                transcendentals(kind, P["M"][j], P["E"])
                fused_pass(kind, a, P["M"][j], P["E"], P["Q"], P["S"][par], coef, live, P["X"][j],
                           P["v"], rec[j], P["red"], j, P["val"], P["ee"])
                if sync is not None:
                    sync.publish(p, t0 + j)         # S_p of step t is written
            for p, P in parts:
                self._products(P, par, sync, t0 + j)
                update_gram(P["M"][j], P["D"], P["M"][j + 1], P["X"][j], P["S"][par], P["X"][j + 1],
                            P["red"], j)

    def products_only(self, nsteps: int, threads: int) -> None:
        """The gram form's products of ``nsteps`` steps alone — every D_p = Σ_q S_q K[q, p] by the same
        library calls on the same panels and threads as :meth:`panel_steps`, without the elementwise
        passes, the records or the waits: the ceiling of a step on this machine (benchmarks)."""
        if self.method != "gram" or self.mode != "blas":
            raise ValueError("products_only: the gram form in BLAS mode only")
        if self.compiled is not None:
            self.compiled.run(0, nsteps, np.zeros(nsteps, dtype=np.bool_), threads, elementwise=False)
            return
        P = len(self.panels)
        T = max(1, min(threads, P))

        def work(mine):
            if mine[0] != 0:
                self.enter_thread()
            for j in range(nsteps):
                for p in mine:
                    self._products(self.panels[p], j & 1, None, j)

        on_threads(P, T, work)

    def _products(self, P: dict, par: int, sync, t: int) -> None:
        """D_p = Σ_q S_q K[q, p] of panel ``P`` at step t (S of parity ``par``): its own block first, then
        q = p+1, …, each S_q awaited on ``sync`` (a :class:`~eoscheck.panelthreads.StepBoard`; None: no waiting)."""
        terms = P["mm"][par]
        S, K = terms[0]
        self.mm(S, K, out=P["Dw"])                  # D_p = S_p K[p, p]: own columns, no wait
        for (S, K), q in zip(terms[1:], P["order"][1:]):
            if sync is not None:
                sync.wait(q, t)
            P["acc"](S, K)                          # D_p += S_q K[q, p]

    def _primal_margins(self, j: int, mine=None) -> None:
        """M_j = W_j Zᵀ by row panels of Z (the panels ``mine``, default all)."""
        for p in range(len(self.panels)) if mine is None else mine:
            x, zt, m = self.panels[p]["mm_M"][j]
            self.mm(x, zt, out=m)

    def _primal_panel_steps(self, mine: list[int], nsteps: int, rec: np.ndarray, barrier) -> None:
        """Primal form on row panels of Z, the panels ``mine``: M_p = W Z_pᵀ, fused pass, D_p = S_p Z_p;
        barrier; the owner of panel 0 sums D = Σ_p D_p in panel order (so the result does not depend on
        the threads) and updates W; barrier."""
        kind, a, coef, live, mm = self.kind, self.a, self.coef, self.live, self.mm
        parts = [self.panels[p] for p in mine]
        lead = mine[0] == 0
        X, D, e0 = self.X, self.D, np.zeros(0)
        for j in range(nsteps):
            for P in parts:
                if j:
                    x, zt, m = P["mm_M"][j]
                    mm(x, zt, out=m)                # M_p = W_j Z_pᵀ
                transcendentals(kind, P["M"][j], P["E"])
                fused_pass(kind, a, P["M"][j], P["E"], P["Q"], P["S"], coef, live, self.empty, e0,
                           rec[j], P["red"], j, P["val"], P["ee"])
                s, z, dp = P["mm_D"]
                mm(s, z, out=dp)                    # D_p = S_p Z_p
            if barrier is not None:
                barrier.wait()                      # every D_p is written
            if lead:
                if len(self.panels) > 1:            # (one panel writes D itself)
                    D[...] = self.panels[0]["D"]
                    for P in self.panels[1:]:
                        D += P["D"]
                update_primal(X[j], D, X[j + 1], self.wstar, self.panels[0]["red"], j, rec[j])
            if barrier is not None:
                barrier.wait()                      # W_{j+1} is written
        self._primal_margins(nsteps, mine)

    def _combine(self, nsteps: int) -> None:
        """Per-panel partial row sums into ``self.red``, in panel order (independent of threads); one panel's
        are ``self.red`` itself."""
        if len(self.panels) == 1:
            return
        parts = [P["red"] for P in self.panels]
        for key, i in SLOTS.items():
            out = self.red[key][:nsteps]
            out[...] = parts[0][i, :nsteps]
            for R in parts[1:]:
                if key == "m_min":
                    np.minimum(out, R[i, :nsteps], out=out)
                elif key == "m_max":
                    np.maximum(out, R[i, :nsteps], out=out)
                else:
                    out += R[i, :nsteps]

    def freeze(self, rows, js, nsteps) -> None:
        super().freeze(rows, js, nsteps)
        np.logical_not(self.dead, out=self.live)
