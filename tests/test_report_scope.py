"""The report says where a result applies: Crawshaw & Liu's η₀, the stepsize factor's rounding tie."""

from __future__ import annotations

import math

from eoscheck.datasets import toy


def test_crawshaw_liu_eta0_is_theorem_2_1s():
    """§8 quoted "Crawshaw & Liu prove τ = Θ̃(n/γ + 1/γ²) independent of η in two dimensions" with no condition;
    their Theorem 2.1 needs η ≥ η₀ = max(n, (32/γ²) log(256/γ²)), 3.28e4 on the normalized toy set, above every
    stepsize §8 runs there (2¹⁵ = 32768)."""
    from eoscheck.report.eos_length import CL_STATEMENT, cl_eta0

    d = toy(normalized=True)
    g = float(d.max_margin().gamma)
    assert math.isclose(cl_eta0(d.n, g), 32 / g**2 * math.log(256 / g**2), rel_tol=1e-12)
    assert 2.0**15 < cl_eta0(d.n, g) < 3.3e4
    assert "η ≥ η₀" in CL_STATEMENT and "1/(8η)" in CL_STATEMENT


def test_the_stepsize_factor_names_its_rounding_tie():
    """c = 2^round(log₂(2⁵·2/β)) = 1024 for 2⁵·2/β = 742.8, 0.04 in log₂ from the tie with 512, where 2⁻⁴ ↦ 32 is
    monotone on Fashion-MNIST 0/2: the picture depends on that choice, and the text did not say so."""
    from eoscheck.report.figure1 import _rounding_note, digits_scale

    thr = 742.8 / 32
    c = digits_scale(thr)
    note = _rounding_note(thr, c, [c * e for e in (2.0**-6, 2.0**-4, 2.0**-2, 1.0)])
    assert c == 1024 and "0.04 from the tie between 512 and 1024" in note and "2^5" in note
    assert _rounding_note(600 / 32, digits_scale(600 / 32), [1.0]) == ""     # log₂ 600 = 9.23: no tie
