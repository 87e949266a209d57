"""The Benefit-2 section (``eoscheck.report.eos_length``) on the tiny profile: its EoS lengths against an
independent numpy GD, its rank correlations against hand-computed ones, and verdicts that can fail."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eoscheck.datasets import toy
from eoscheck.report import eos_length
from eoscheck.report.config import profile_config
from eoscheck.report.context import Context
from eoscheck.report.document import Section


@pytest.fixture(scope="module")
def section(tmp_path_factory):
    out = tmp_path_factory.mktemp("eoslen")
    ctx = Context(out=out, cfg=profile_config("tiny"), profile="tiny")
    sec = Section(9, "eos_length", eos_length.TITLE)
    eos_length.run(ctx, sec)
    return ctx, sec


def numpy_gd_losses(X, y, eta, steps):
    """Oracle: GD from w = 0 on L(w) = mean ln(1 + e^{−yᵢxᵢᵀw}) (logaddexp), losses L(w_0..w_T)."""
    w = np.zeros(X.shape[1])
    out = []
    for _ in range(steps + 1):
        m = y * (X @ w)
        out.append(np.mean(np.logaddexp(0.0, -m)))
        w = w + eta * (X.T @ (y * np.exp(-np.logaddexp(0.0, m)))) / len(y)
    return np.array(out)


def test_tables_figure_and_verdicts_present(section):
    ctx, sec = section
    ids = [t.id for t in sec.tables]
    assert ids == ["eos_length_runs", "eos_length_trends"]
    cfg = ctx.cfg["eos_length"]
    assert len(sec.tables[0].rows) == len(cfg["datasets"]) * len(cfg["eta_exponents"])
    assert [r["data"] for r in sec.tables[1].rows] == ["toy-normalized", "digits39-normalized"]
    assert (ctx.out / sec.figures[0].file).read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    assert len(sec.verdicts) == 2 and not sec.errors


def test_eos_lengths_match_numpy_oracle(section):
    ctx, sec = section
    data = toy(normalized=True)
    T = int(ctx.cfg["eos_length"]["steps"])
    rows = [r for r in sec.tables[0].rows if r["data"] == "toy-normalized"]
    for r in rows:
        L = numpy_gd_losses(data.X, data.y, r["η"], T)
        # "increase" means L_t > L_{t−1}(1 + 16u) (gd.INCREASE_RTOL); the oracle uses a 1e-9 relative margin
        # and checks no step lies between the two thresholds, so both definitions agree on this run.
        up = np.nonzero(L[1:] > L[:-1] * (1 + 1e-9))[0]
        # exact equality (a stalled run at the floating-point floor) is "no increase" under both definitions
        near = (np.abs(L[1:] / L[:-1] - 1) < 1e-9) & (L[1:] != L[:-1])
        assert not near[np.isfinite(L[1:]) & (L[1:] > 1e-300)].any()
        assert r["last increase"] == (int(up[-1]) + 1 if up.size else -1)
        below = np.nonzero(L <= 1 / r["η"])[0]
        assert r["first t with L ≤ 1/η"] == (int(below[0]) if below.size else -1)
        # L(T): a mean of 4 logaddexp terms accumulated over T steps; the trajectories agree to ~1e-10
        # relative while the loss is ≥ 1e-200 (condition of GD on this separable set is mild).
        if L[-1] > 1e-200:
            assert math.isclose(r["L(T)"], L[-1], rel_tol=1e-8)
        # stuck at the floating-point floor over the whole second half ⇔ flagged; falling by ≥ 10 % ⇒ not
        if np.all(L[T // 4:] == L[-1]):
            assert r["at floor"] and not r["stable by T/2"]
        if L[-1] < 0.9 * L[T // 2 + T // 8]:
            assert not r["at floor"]
    assert any(r["at floor"] for r in rows), "the tiny profile's η = 2^15 toy run should stall at the floor"


def test_spearman_and_trend_words():
    # ranks (1,2,3,4) vs (1,3,2,4): ρ = 1 − 6·Σd²/(n(n²−1)) = 1 − 6·2/60 = 0.8
    assert math.isclose(eos_length.spearman([1, 2, 3, 4], [10, 30, 20, 40]), 0.8, rel_tol=1e-12)
    assert math.isnan(eos_length.spearman([1, 2], [3, 4]))
    assert eos_length.spearman([1, 2, 3], [5, 5, 5]) == 0.0
    assert math.isnan(eos_length.spearman([1, 1, 1], [1, 2, 3]))
    assert eos_length.trend_word(0.8) == "grows"
    assert eos_length.trend_word(-0.7) == "falls"
    assert eos_length.trend_word(0.1) == "flat"


def _trend(name, li, c):
    eta = [8.0, 32.0, 128.0, 512.0, 2048.0]
    rows = [{"data": name, "η": e, "last increase": a, "first t with L ≤ 1/η": a + 1, "L(T)": b / 100,
             "L(T)·T": b, "L(T)·η·T": b * e, "stable by T/2": True, "at floor": False, "rounding increase": False}
            for e, a, b in zip(eta, li, c)]
    return eos_length.trend_row(name, rows, 100)


def test_verdicts_can_fail_and_pass():
    grows = _trend("a", [3, 5, 9, 20, 40], [5.0, 4.0, 3.0, 2.0, 1.0])
    flat = _trend("b", [12, 12, 12, 12, 12], [1.0, 2.0, 3.0, 4.0, 5.0])
    sec = Section(1, "x", "x")
    eos_length.eos_verdicts(sec, [grows])
    assert [v.verdict for v in sec.verdicts] == ["consistent", "consistent"]
    sec = Section(1, "x", "x")
    eos_length.eos_verdicts(sec, [grows, flat])
    assert [v.verdict for v in sec.verdicts] == ["inconclusive", "inconclusive"]      # one of two: mixed
    sec = Section(1, "x", "x")
    eos_length.eos_verdicts(sec, [grows, flat, flat])
    assert [v.verdict for v in sec.verdicts] == ["NOT REPRODUCED", "NOT REPRODUCED"]   # one of three: absent
