"""A conjecture's witness lies inside the stated ranges, replays, and says what it was compared with.

Each test reproduces a review finding of 2026-12-05 that failed on the code before the fix."""

from __future__ import annotations

import json

import mpmath
import numpy as np
import pytest

from eoscheck import EoscheckError
from eoscheck.cli import main
from eoscheck.properties.calibration import ladders
from eoscheck.properties.conjecture import Conjecture, Range
from eoscheck.properties.decide import check_conjecture
from eoscheck.properties.strategies import build_separable, certificate, rebuild


def test_a_zero_width_eta_range_draws_that_stepsize_exactly(tmp_path, capsys):
    """exp(log 3) is 3.0000000000000004: "max_loss <= where(eta <= 3, 1e9, 0)" on --eta 3:3 was FALSIFIED at a
    stepsize outside the range (and replayed "bit for bit")."""
    rc = main(["conjecture", "max_loss <= where(eta <= 3, 1e9, 0)", "--eta", "3:3", "--effort", "smoke", "--save", str(tmp_path)])
    out = capsys.readouterr().out
    assert rc == 0 and "NOT FALSIFIED" in out, out


def test_an_eta_of_T_witness_replays_and_a_witness_outside_its_ranges_is_refused(tmp_path, capsys):
    """replay refused every --eta-of-T witness ("a range for eta does not apply"); and a file whose instance was
    moved outside its statement's ranges replayed as a violation."""
    rc = main(["conjecture", "final_loss <= 1e-300", "--eta-of-T", "gamma**2*T/120", "--gamma", "0.5:0.9",
               "--n", "1:3", "--T", "1300:2000", "--effort", "smoke", "--save", str(tmp_path)])
    assert rc == 1
    (path,) = tmp_path.glob("*.json")
    obj = json.loads(path.read_text())
    assert "eta" not in obj["conjecture"]["ranges"]
    pt = obj["point"]          # the certified interval of the witness's data, whether or not EXPR uses γ
    inst = obj["instance"]
    assert pt["gamma_interval"][0] < pt["gamma_interval"][1]
    capsys.readouterr()
    assert main(["replay", str(path)]) == 1
    assert "REPRODUCED (bit for bit)" in capsys.readouterr().out
    inst["extra"]["T"] = [5000]
    bad = tmp_path / "moved.json"
    bad.write_text(json.dumps(dict(obj, instance=dict(inst, steps=5000))))
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err
    # smoke caps T at 400, below the range: it ran T = 1300 only, the range recorded in the file
    assert "not a witness of its conjecture: T = 5000 lies outside its range 1300.0:1300.0" in err, err


def test_check_conjecture_leaves_the_callers_conjecture_as_given():
    """plan() capped the ranges of the caller's object: a second check at a higher effort tested the first's caps."""
    c = Conjecture.parse("loss(t) <= 1e9", ranges={"T": "200:3000", "n": "1:100"})
    rep = check_conjecture(c, "smoke")
    assert rep.capped and c.ranges["T"] == Range(200.0, 3000.0) and c.ranges["n"] == Range(1.0, 100.0)
    assert c.values == {}


def test_a_certified_interval_below_the_gamma_range_is_outside_it():
    """A relative slack of 1e-9 let thm3(0.05), certified γ* ∈ [0.05 − 1.4e-14, 0.05 + 2e-15], convict a statement
    stated for γ ≥ 0.0500000000001; data built at the range's own end stay inside."""
    conj = Conjecture.parse("max_loss <= 1", ranges={"gamma": "0.0500000000001:0.9"})
    at = Conjecture.parse("max_loss <= 1", ranges={"gamma": "0.05:0.9"})
    P = {"gamma": np.array([0.0499999999999856]), "_ghi": np.array([0.050000000000002]), "d": np.array([2.0])}
    assert conj.mask(P).tolist() == [False] and at.mask(P).tolist() == [True]


def test_points_outside_the_stepsize_n_d_and_horizon_ranges_are_outside_the_domain():
    conj = Conjecture.parse("final_loss <= 1", ranges={"eta": "1:10", "n": "2:4", "d": "2:3", "T": "200:300"})
    one = {"gamma": 0.5, "_ghi": 0.5, "eta": 2.0, "n": 3.0, "d": 2.0, "T": 250.0, "t": 250.0}
    moved = [dict(one), dict(one, eta=10.000000000000002), dict(one, n=5.0), dict(one, d=1.0), dict(one, T=199.0)]
    P = {k: np.array([m[k] for m in moved]) for k in one}
    assert conj.mask(P).tolist() == [True, False, False, False, False]


def test_an_expr_beyond_float64_is_evaluated_not_set_aside():
    """e^η/(1 + e^η) − ½ at η = 800 is inf/inf = NaN in float64: points were set aside as "not a real number" and
    the false "max_loss <= e^η/(1+e^η) − ½" ended UNDECIDED; e^800 itself is a value (beyond float64: +inf)."""
    import sympy as sp

    from eoscheck.properties.conjecture import values_beyond_float64

    eta = sp.Symbol("eta", positive=True)
    P = {"eta": np.array([800.0, 1000.0, 1.0])}
    got = values_beyond_float64(sp.exp(eta) / (1 + sp.exp(eta)) - sp.Rational(1, 2), P)
    with mpmath.workdps(40):
        at1 = float(mpmath.e / (1 + mpmath.e) - mpmath.mpf(1) / 2)
    # at η = 1, float64: e (1 ulp), 1 + e and the quotient q ≈ 0.731 (½ ulp each): q within ~2 ulps of q, then
    # q − ½ ≈ 0.231 exact (Sterbenz): relative 2·0.731/0.231 ≈ 6.3 ulps, checked at 8; 0.5 exactly at 40 digits
    np.testing.assert_allclose(got, [0.5, 0.5, at1], rtol=8 * 2.0**-52)
    assert values_beyond_float64(sp.exp(eta), P)[:2].tolist() == [np.inf, np.inf]
    assert np.isnan(values_beyond_float64(sp.sqrt(eta - 2), P)[2])    # undefined stays NaN
    rep = check_conjecture(Conjecture.parse("max_loss <= exp(eta)/(1+exp(eta)) - 0.5", ranges={"eta": "800:1000"}),
                           "smoke")
    assert rep.verdict == "FALSIFIED", rep.message      # max_loss ≥ L(w₀) = ln 2 > ½
    rep = check_conjecture(Conjecture.parse("loss(t) <= exp(eta)", ranges={"eta": "800:1000"}), "smoke")
    assert rep.verdict == "NOT FALSIFIED" and rep.points > 0 and "diverged" not in rep.message, rep.message


def test_pinned_data_have_the_margin_they_were_built_for():
    """build_separable(γ) only bounded γ* from below (γ = 0.05 gave γ* = 0.11), so the conjecture's γ ladder and
    the instances pushed toward γ → 0 did not move γ*; pinned, two points at cᵢ = γ with opposite orthogonal parts
    make γ* = γ, and rebuild(meta) remakes the data bit for bit."""
    for n, d, g in ((10, 5, 0.05), (2, 2, 0.3), (20, 10, 0.001), (50, 300, 0.01)):
        data = build_separable(n, d, g, 3, pin_margin=True)
        c = certificate(data)
        assert c.gamma <= g <= c.gamma_hi and c.gamma_hi - c.gamma < 1e-11
        assert np.array_equal(rebuild(data.meta).X, data.X)
    assert certificate(build_separable(10, 5, 0.05, 3)).gamma > 0.1      # unpinned: what the ladder used to get
    conj = Conjecture.parse("final_loss <= 1", ranges={"gamma": "0.05:0.2"})
    got = [inst.gamma for inst in ladders(conj)["gamma"]]
    np.testing.assert_allclose(got, np.geomspace(0.05, 0.2, 6), rtol=1e-11)


@pytest.mark.parametrize("text, kw, says", [
    ("max_loss <= 1e9", {"where": ["t <= 10"]}, "uses t but max_loss is not measured at t"),
    ("loss(t) <= 1 # a comment", {}, "'#' at column"),
    ("final_loss <= log(-eta)", {}, "is not a real number"),
    ("transition_time(-eta) <= 10", {}, "a threshold ≤ 0 is never reached"),
])
def test_statements_that_would_be_misread_are_refused(text, kw, says):
    with pytest.raises(EoscheckError, match=says):
        Conjecture.parse(text, **kw)


def test_a_where_condition_given_as_one_string_is_one_condition():
    conj = Conjecture.parse("final_loss <= 1", where="eta >= 1")
    assert len(conj.where) == 1


@pytest.mark.parametrize("seed", [-3, 1.5, True])
def test_check_conjecture_refuses_a_seed_the_cli_refuses(seed):
    with pytest.raises(EoscheckError, match="seed must be a non-negative whole number"):
        check_conjecture("final_loss <= 1", "smoke", seed=seed)


def test_counted_notes_are_summed_not_repeated():
    from eoscheck.properties.search import add_note

    notes: list[str] = []
    for n in ("282 point(s) set aside where EXPR is x", "188 point(s) set aside where EXPR is x", "other"):
        add_note(notes, n)
    add_note(notes, "other")
    assert notes == ["470 point(s) set aside where EXPR is x", "other"]
