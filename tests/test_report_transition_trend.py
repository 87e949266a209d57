"""§3's sentence on how the transition step s* moves with η (``theorem1._transition_trend``): fitted on EoS runs
only, through at least three of them, and said to have a direction only when its 95 % interval leaves 0."""

from __future__ import annotations

import math

import numpy as np

from eoscheck.report import theorem1
from eoscheck.report.document import Section


def _rows(etas, s_star, eos):
    return [{"η": e, "s* (L≤1/η, F≤1)": s, "last increase": 5 if b else -1} for e, s, b in zip(etas, s_star, eos)]


def _text(summary) -> str:
    sec = Section(3, "thm1", "Theorem 1")
    theorem1._transition_trend(sec, summary)
    return " ".join(str(b) for b in sec.blocks)


def test_monotone_runs_are_left_out_and_two_eos_runs_are_too_few():
    # s* = 1 in the monotone runs would make a line through all points fall; only the two EoS runs count
    rows = _rows([1.0, 2.0, 4.0, 8.0, 16.0], [1, 1, 1, 10, 20], [False, False, False, True, True])
    assert "2 EoS run(s) with η ≥ 1, too few for a trend (≥ 3)" in _text([("d", 0.1, None, rows)])


def test_an_exact_power_law_has_a_direction():
    # s* = 3η^0.5 exactly: slope 1/2, residuals at rounding level, a half-width far below 1/2
    etas = [1.0, 4.0, 16.0, 64.0]
    rows = _rows(etas, [3 * math.sqrt(e) for e in etas], [True] * 4)
    text = _text([("d", 0.1, None, rows)])
    assert "d: s* rising in η (log–log slope 0.50 over the 4 EoS runs" in text
    assert "grows with η on 1 of the 1 datasets" in text


def test_scatter_around_a_slope_is_no_direction():
    # ln s* = 0.3 ln η ± 2 alternating: slope 0.3 − 2·Σu·(±1)/Σu², interval ± t(2)·se wide enough to hold 0
    etas = np.array([1.0, 2.0, 4.0, 8.0])
    s = np.exp(0.3 * np.log(etas) + 2.0 * np.array([1, -1, -1, 1]))
    rows = _rows(etas, list(s), [True] * 4)
    text = _text([("d", 0.1, None, rows)])
    assert "without a direction (slope's 95 % interval ±" in text and "holds 0)" in text
    assert "grows with η" not in text
