"""The report's decay-rate checks never call a slope fitted at the floating-point floor, or far
steeper than predicted, "consistent" (issue 15 item 6)."""

from __future__ import annotations

import math

import numpy as np
import pytest

from eoscheck.report.context import (FLOAT_FLOOR, INCONCLUSIVE_FLOOR, INCONCLUSIVE_SPREAD, STEEP_FACTOR,
                                     decay_slope)

T = 2.0 ** np.arange(8, 14)


def test_a_power_law_at_the_predicted_rate_is_consistent():
    r = decay_slope(T, 3.0 * T**-2.0, -2.0, 0.5)
    # exact powers of two: ln L is linear in ln T up to rounding of ln (a few ulps of |ln L| ≤ 30: ≲ 3e-14
    # absolute), and the least-squares slope divides that by the spread of ln T (≈ 1.7 here): ≲ 2e-14
    assert math.isclose(r["slope"], -2.0, abs_tol=1e-13)
    assert r["outcome"] == "consistent" and r["points"] == len(T)


def test_a_slower_decay_is_inconsistent():
    assert decay_slope(T, T**-1.0, -2.0, 0.5)["outcome"] == "INCONSISTENT"


def test_a_shallower_slope_within_its_scatter_is_inconclusive_not_inconsistent():
    """T^−1.2 times e^{±0.5} alternating: the fitted slope, −1.2 − 1.5/(17.5 ln 2) ≈ −1.32, is shallower than
    −2 + 0.5, but the residuals (±0.5 around the line) give a 95 % half-width ≈ 0.6 that reaches −1.5."""
    noise = np.exp(0.5 * np.array([1, -1, 1, -1, 1, -1]))
    r = decay_slope(T, T**-1.2 * noise, -2.0, 0.5)
    assert r["slope"] > -1.5 and r["slope"] - r["halfwidth"] < -1.5
    assert r["outcome"] == INCONCLUSIVE_SPREAD
    assert decay_slope(T, T**-1.2, -2.0, 0.5)["outcome"] == "INCONSISTENT"   # the same slope on a clean line


def test_a_steeper_slope_whose_interval_reaches_the_limit_is_inconclusive_not_consistent():
    """The rule is symmetric: T^−1.8 times e^{±0.5} alternating fits a slope ≈ −1.92, steeper than −2 + 0.5, with a
    95 % half-width ≈ 0.6 reaching past −1.5; it was "consistent" (2^−6·T in the report: −3.1 ± 2.0)."""
    noise = np.exp(0.5 * np.array([1, -1, 1, -1, 1, -1]))
    r = decay_slope(T, T**-1.8 * noise, -2.0, 0.5)
    assert r["slope"] < -1.5 < r["slope"] + r["halfwidth"]
    assert r["outcome"] == INCONCLUSIVE_SPREAD and "steeper" in r["why"]
    assert decay_slope(T, T**-1.8, -2.0, 0.5)["outcome"] == "consistent"    # the same slope on a clean line


def test_an_exponential_decay_is_inconclusive_not_consistent():
    """exp(−T/64): log–log slope −T/64 ≈ −28 at T = 2^13 — the perceptron-like regime."""
    L = np.exp(-T / 64.0)
    r = decay_slope(T, L, -2.0, 0.5)
    assert r["slope"] < STEEP_FACTOR * -2.0
    assert r["outcome"] == INCONCLUSIVE_FLOOR


def test_losses_at_the_float_floor_are_not_fitted():
    L = np.array([1e-6, 2.5e-7, 6.25e-8, 7.9e-283 * 1e-20, 0.0, 0.0])  # last three at or below the floor
    r = decay_slope(T, L, -2.0, 0.5)
    assert r["points"] == 3 and math.isclose(r["slope"], -2.0, rel_tol=1e-12)
    only_floor = decay_slope(T, np.array([1e-3, 0.0, 0.0, 0.0, 0.0, FLOAT_FLOOR]), -2.0, 0.5)
    assert only_floor["points"] == 1 and only_floor["outcome"] == INCONCLUSIVE_FLOOR


def test_stalled_budgets_are_not_fitted():
    """A float64 freeze (w + ηg rounds to w) gives one L(w_T) for every T ≥ the freeze; a slope fitted through it
    measures η's schedule, not a rate in T (the report's η = c·T runs at η = 16384: 6.288e-20 at T = 2¹⁴ … 2²⁰)."""
    L = np.array([1e-6, 2.5e-7, 6.25e-8, 1e-9, 1e-12, 1e-15])
    stall = np.array([False, False, False, True, True, True])
    r = decay_slope(T, L, -2.0, 0.5, stall)
    assert r["points"] == 3 and r["stalled"] == 3 and math.isclose(r["slope"], -2.0, rel_tol=1e-12)
    assert decay_slope(T, L, -2.0, 0.5)["points"] == 6


class _Run:
    """The two attributes of a trajectory that `stalled` reads."""

    def __init__(self, loss):
        self.records = {"loss": np.array(loss, dtype=np.float64)}
        self.step = np.array([0, 1, 2, 4, 8, 16])


def test_a_run_is_stalled_when_its_loss_stops_falling_over_the_second_half():
    from eoscheck.report.context import stalled

    frozen = [0.7, 0.3, 1e-3, 6.288e-20, 6.288e-20, 6.288e-20]           # L(16) = L(8): frozen
    falling = [0.7, 0.3, 0.1, 0.04, 0.02, 0.01]                          # halves over [8, 16]: a live 1/t
    rounding = [0.7, 0.3, 0.1, 0.04, 1e-9, 1e-9 * (1 - 1e-14)]           # moves by rounding only: stalled
    still_eos = [0.7, 0.3, 0.1, 0.04, 0.02, 0.5]                         # rose over [8, 16]: not a rate
    diverged = [0.7, 3.0, 90.0, 1e200, np.inf, np.inf]
    run = _Run([frozen, falling, rounding, still_eos, diverged])
    assert stalled(run).tolist() == [True, False, True, True, False]


def test_floor_marks_sit_on_the_axes_bottom_edge_whatever_the_limits():
    """s5_table1 set its lower y-limit above the floor (min/3 ≈ 4e-19 > 1e-20): the ▼, drawn at y = floor with
    clip_on=False, landed on the tick labels below the axes."""
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    from eoscheck.report.context import plot_above_floor

    fig = Figure(figsize=(4, 3))
    ax = fig.subplots()
    ax.set_yscale("log")
    plot_above_floor(ax, np.array([1.0, 2.0, 3.0]), np.array([1e-3, 1e-18, 0.0]), 1e-20)
    ax.set_ylim(4e-19, 1.0)
    canvas = FigureCanvasAgg(fig)
    canvas.draw()
    marks = ax.get_lines()[1]
    y = marks.get_transform().transform(np.column_stack([marks.get_xdata(), marks.get_ydata()]))[:, 1]
    box = ax.get_window_extent(canvas.get_renderer())
    assert len(y) == 1                                  # only the exact 0 is below the floor
    # 5 points above the bottom edge: 5/72 inch at the figure's dpi
    assert y[0] == pytest.approx(box.y0 + 5.0 / 72.0 * fig.dpi, abs=1e-6)


def test_the_best_c_is_a_run_whose_loss_still_says_something():
    """§4's "best η = c·T" was the run whose L(w_T) had underflowed to 0 ("0 for the best η = c·T")."""
    from eoscheck.report.acceleration import COR2, SWEPT, _best_c

    L = np.full((SWEPT + 3, 4), 1e-3)
    L[SWEPT:, -1] = [1e-8, 0.0, 5e-9]                          # c₁, c₂ at 0 (below the floor), c₃
    stall = np.zeros(L.shape, dtype=bool)
    assert _best_c(L, stall) == SWEPT + 2
    stall[SWEPT + 2, -1] = True                                 # c₃ frozen: its value is not a rate
    assert _best_c(L, stall) == SWEPT
    L[SWEPT, -1] = FLOAT_FLOOR
    assert _best_c(L, stall) == COR2


def test_the_plateau_verdicts_ratio_is_the_value_farthest_from_one():
    """Fig. 1(d)'s γ*²·L·ηT were 0.958 … 0.9965 and the row showed 0.9965, the closest to the limit 1."""
    from eoscheck.report.document import Section
    from eoscheck.report.figure1 import _shared_verdicts

    rows = [{"L(w_T)": L, "γ*²·L·ηt at T": r, "γ*²·L·ηt at T/16": 0.5} for L, r in ((3e-3, 0.958), (2e-3, 0.9965),
                                                                                  (1e-3, 1.02))]
    sec = Section(2, "figure1", "t")
    _shared_verdicts(sec, rows, 0.2, "toy", "ab")
    assert sec.verdicts[1].ratio == 0.958


def test_a_section_states_the_margin_with_its_certificates_gap():
    """§2, §3 and §5 gave γ* alone; the certified margin carries its certificate's uncertainty everywhere."""
    from eoscheck import toy
    from eoscheck.report.context import margin_text

    mm = toy().max_margin()
    assert margin_text(toy()) == f"γ* = {mm.gamma:.4g} (certified: the true max margin within {mm.gap:.1g} above)"
