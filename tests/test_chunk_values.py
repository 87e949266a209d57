"""The fast engine's per-chunk records (:func:`eoscheck.fastgd.chunk_values`, :func:`eoscheck.fastgd.finite_states`)
against a numpy transcription of their rules, written here as the oracle, on row sums that hold every special
value: NaN, ±inf, 0, subnormals, values at each threshold and one ulp either side of it.

Every output is compared bit for bit: the compiled loops and numpy evaluate the same IEEE operations (a division,
a square root, comparisons) in the same order, each correctly rounded, so nothing may differ.
"""

from __future__ import annotations

import math

import numpy as np
import pytest

from eoscheck.fastgd import CANCELLED, DANGER, SQUARE_FLOOR, chunk_values, finite_states
from eoscheck.gdinputs import LOG_DOMAIN_BELOW


def _specials(*thresholds: float) -> np.ndarray:
    """NaN, ±inf, ±0, subnormals, 1, and each threshold with its neighbours one ulp away."""
    out = [math.nan, math.inf, -math.inf, 0.0, -0.0, 5e-324, 1e-310, 1.0, 1e-300, 1e300, 1.7e308]
    for t in thresholds:
        out += [t, np.nextafter(t, 0.0), np.nextafter(t, math.inf)]
    return np.array(out)


def _draw(rng, specials: np.ndarray, shape) -> np.ndarray:
    """Random positive row sums (log-uniform over float64's range) with a third of the cells special."""
    x = np.exp(rng.uniform(-700, 700, shape))
    pick = rng.random(shape) < 1 / 3
    x[pick] = rng.choice(specials, pick.sum())
    return x


def _oracle(vs, qs, m_min, F, wn2, gn2, le0, sel, shown, ok, K, n, eta, rmax, log_below):
    """The records and masks as numpy expressions (the rules of eoscheck.fastgd's docstrings, transcribed)."""
    with np.errstate(all="ignore"):
        L = vs[:, :K] / n
        G = qs[:, :K] / n
        need_L = ~(np.isfinite(np.log(L)) & (L >= log_below)) & shown
        s = slice(None) if sel is None else sel
        a = shown[s]
        Fk = F[:, :K]
        need_F = ~((Fk > 1e-290) & (Fk < 1e290)) & a
        w2 = wn2[:, :K]
        w_norm = np.sqrt(w2)
        need_w = ~((w2 >= SQUARE_FLOOR) & np.isfinite(w2)) & np.isfinite(m_min[s, :K]) & a
        g2 = gn2[s, :K]
        grad_norm = np.sqrt(g2) / eta[:K]
        small = (g2 < SQUARE_FLOOR) & (L[s] > 0)
        if rmax >= 0:
            scale = eta[:K] / n * qs[s, :K] * rmax
            small |= g2 < CANCELLED * scale * scale
        need_g = ((~np.isfinite(grad_norm) | small) & ok[s] & a) | (a & ~ok[s])
        error = le0[:, :K] / n
    return L, G, w_norm, grad_norm, error, need_L, need_F, need_w, need_g


@pytest.mark.parametrize("gram", [False, True])
@pytest.mark.parametrize("every", [True, False])
@pytest.mark.parametrize("K, k", [(1, 1), (1, 2), (5, 5)])
@pytest.mark.parametrize("counts", [np.float64, np.int64])   # #{m ≤ 0}: float sums (numba, numpy), integers (torch)
def test_chunk_values_equal_the_numpy_rules(gram, every, K, k, counts):
    rng = np.random.default_rng(100 * K + 10 * k + 2 * gram + every)
    nsteps, n = 400, 20
    sel = None if every else np.sort(rng.choice(nsteps, 150, replace=False))
    R = nsteps if every else len(sel)
    vs = _draw(rng, _specials(LOG_DOMAIN_BELOW * n), (nsteps, k))
    qs = _draw(rng, _specials(), (nsteps, k))
    m_min = _draw(rng, _specials(), (nsteps, k)) * rng.choice([-1.0, 1.0], (nsteps, k))
    F = _draw(rng, _specials(1e-290, 1e290), (R, k))
    wn2 = _draw(rng, _specials(SQUARE_FLOOR), (R, k))
    gn2 = _draw(rng, _specials(SQUARE_FLOOR), (nsteps, k))
    le0 = rng.integers(0, n + 1, (R, k)).astype(counts)
    shown = rng.random((nsteps, K)) < 0.8
    ok = shown & (rng.random((nsteps, K)) < 0.8)
    eta = _draw(rng, _specials(), k)
    rmax = 3.5 if gram else -1.0
    got = chunk_values(vs, qs, m_min, F, wn2, gn2, le0, sel, shown, ok, K, float(n), eta, rmax, LOG_DOMAIN_BELOW)
    want = _oracle(vs, qs, m_min, F, wn2, gn2, le0, sel, shown, ok, K, float(n), eta, rmax, LOG_DOMAIN_BELOW)
    L, G, w_norm, grad_norm, error, need_L, any_L, need_F, any_F, need_w, any_w, need_g, any_g = got
    for name, g, w in zip(("L", "G", "w_norm", "grad_norm", "train_error", "need_L", "need_F", "need_w", "need_g"),
                          (L, G, w_norm, grad_norm, error, need_L, need_F, need_w, need_g), want):
        assert g.shape == w.shape, name
        assert g.tobytes() == w.tobytes(), name      # same operations, each correctly rounded: the same bits
    assert (any_L, any_F, any_w, any_g) == (need_L.any(), need_F.any(), need_w.any(), need_g.any())
    assert need_L.any() and need_F.any() and need_w.any() and need_g.any()   # the draws reach every fallback


@pytest.mark.parametrize("K, k", [(1, 1), (1, 2), (6, 6)])
def test_finite_states_equal_the_numpy_rules(K, k):
    rng = np.random.default_rng(7 * K + k)
    nsteps, n, zmax = 300, 20, 2.5
    m_min = _draw(rng, _specials(), (nsteps, k))
    m_max = _draw(rng, _specials(), (nsteps, k))
    q_sum = np.exp(rng.uniform(-50, 50, (nsteps, k)))
    state_ok, safe = finite_states(m_min, m_max, q_sum, K, zmax, float(n))
    want = np.isfinite(m_min[:, :K]) & np.isfinite(m_max[:, :K])
    assert state_ok.tobytes() == want.tobytes()
    assert safe                                   # every Σ|q|·max|Z|·n far below DANGER
    # one cell at the bound, one ulp under it, NaN: the numpy rule max(Σ|q|)·max|Z|·n < DANGER decides each
    for value in (DANGER / zmax / n, np.nextafter(DANGER / zmax / n, 0.0), math.nan, math.inf):
        q = q_sum.copy()
        q[nsteps // 2, K - 1] = value
        with np.errstate(invalid="ignore"):
            expected = bool(q[:, :K].max() * zmax * n < DANGER)
        assert finite_states(m_min, m_max, q, K, zmax, float(n))[1] == expected, value
    q = q_sum.copy()
    if k > K:                                     # a padded row's sums are not the run's: never looked at
        q[:, K:] = math.inf
        assert finite_states(m_min, m_max, q, K, zmax, float(n))[1]
