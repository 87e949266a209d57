"""Conjectures: safe parsing, constant fitting, verdicts and exit codes."""

import json
import math
import os

import numpy as np
import pytest

from eoscheck import EoscheckError
from eoscheck.cli import main
from eoscheck.properties.conjecture import PARAMS, Conjecture
from eoscheck.properties.envelope import fit_constants


@pytest.mark.parametrize("text", [
    "__import__('os').system('touch /tmp/pwned') <= 1",
    "loss(t) <= __import__('os')",
    "loss(t) <= (1).__class__",
    "loss(t) <= 9**9**9",
    "loss(t) <= 1 <= 2",
    "speed(t) <= 1",
    "loss <= 1",
    "final_loss(t) <= 1",
    "loss(T) <= C*t",
])
def test_bad_statements_are_refused(text):
    with pytest.raises(EoscheckError):
        Conjecture.parse(text)


def test_unicode_inequalities_are_read_and_an_equation_is_named():
    """"final_loss ≤ 1" and "final_loss == 1" were both "0 comparisons, not one"."""
    assert Conjecture.parse("final_loss ≤ 1").direction == "<="
    assert Conjecture.parse("final_loss ≥ 1/2").direction == ">="
    with pytest.raises(EoscheckError, match="is an equation; write one inequality"):
        Conjecture.parse("final_loss == 1")


@pytest.mark.parametrize("text", ["loss(-1) <= 1", "loss(2*T) <= 1", "loss(T+1) <= 1", "avg_loss(0) <= 1"])
def test_a_step_no_run_has_is_refused(text):
    """These measured nothing: the check ended "UNDECIDED: no point fell in the domain", exit 0."""
    with pytest.raises(EoscheckError, match="no run with T in 200..2000 has that step"):
        Conjecture.parse(text)


@pytest.mark.parametrize("text", ["loss(T) <= 1", "loss(T/2) <= 1", "loss(100) <= 1", "avg_loss(1) <= 1",
                                  "loss(eta) <= 1"])
def test_steps_some_run_has_are_accepted(text):
    assert Conjecture.parse(text).arg is not None


def test_a_step_is_checked_against_the_statements_own_T_range():
    """loss(T − 5000) is a step of runs with T ≥ 5000 only: refused in the default range (T in 200..2000), where
    it measured nothing, accepted where the range holds such runs; loss(2500) likewise."""
    for text in ("loss(T-5000) <= 1", "loss(2500) <= 1"):
        with pytest.raises(EoscheckError, match=r"no run with T in 200\.\.2000 has that step"):
            Conjecture.parse(text)
        assert Conjecture.parse(text, ranges={"T": "100:6000"}).arg is not None
    with pytest.raises(EoscheckError, match="no run with T = 4000 has that step"):
        Conjecture.parse("loss(T-5000) <= 1", ranges={"T": "4000"})


@pytest.mark.parametrize("text,side", [("avg_loss(t) <= ", "right side of '<='"), ("  >= 1/(eta*t)", "left side of '>='"),
                                       ("avg_loss(t) <", "right side of '<'")])
def test_an_empty_side_is_named(text, side):
    with pytest.raises(EoscheckError, match=side):
        Conjecture.parse(text)


@pytest.mark.parametrize("where,says", [("t >", "right side of '>' is empty; a --where condition"),
                                        ("t", "0 comparisons, not one; a --where condition")])
def test_a_bad_where_condition_is_named_as_such(where, says):
    with pytest.raises(EoscheckError, match=says):
        Conjecture.parse("loss(t) <= 1", where=[where])


@pytest.mark.parametrize("ranges,says", [({"etaa": "1:10"}, "unknown range 'etaa'"),   # was ignored: η drawn from the default
                                         ({"eta": [1, 2, 3]}, "range eta: give"),      # was a raw TypeError
                                         ({"gamma": "0.5:2"}, "at most 1")])           # Hypothesis traceback
def test_python_ranges_are_checked(ranges, says):
    with pytest.raises(EoscheckError, match=says):
        Conjecture.parse("loss(T) <= 10", ranges=ranges)


def test_python_ranges_take_numbers_and_pairs_as_the_cli_text():
    a = Conjecture.parse("loss(T) <= 10", ranges={"eta": (1, 10), "n": 4})
    b = Conjecture.parse("loss(T) <= 10", ranges={"eta": "1:10", "n": "4"})
    assert a.ranges == b.ranges and (a.ranges["eta"].lo, a.ranges["eta"].hi) == (1.0, 10.0)


def _points(**cols):
    n = len(next(iter(cols.values())))
    P = {p: np.ones(n) for p in PARAMS}
    P.update(cols)
    return P


def test_linear_constants_are_the_tightest_envelope():
    rng = np.random.default_rng(0)
    a, b = rng.uniform(1, 10, 50), rng.uniform(1, 10, 50)
    conj = Conjecture.parse("final_loss <= C1*eta + C2*n")
    P = _points(eta=a, n=b)
    vals = fit_constants(conj, 2 * a + 5 * b, P)
    assert vals["C1"] == pytest.approx(2, rel=1e-6) and vals["C2"] == pytest.approx(5, rel=1e-6)
    one = fit_constants(Conjecture.parse("final_loss <= C/T"), 3.0 / b, _points(T=b))
    assert one["C"] == pytest.approx(3.0, rel=1e-9)
    low = fit_constants(Conjecture.parse("final_loss >= c/T"), np.array([2.0, 5.0]) / b[:2], _points(T=b[:2]))
    assert low["c"] == pytest.approx(2.0, rel=1e-9)


def test_nonlinear_constants_satisfy_the_calibration_points():
    t = np.geomspace(1, 1e3, 30)
    m = 3 * t**-0.7
    vals = fit_constants(Conjecture.parse("loss(t) <= C*t**(-C1)"), m, _points(t=t))
    assert np.all(vals["C"] * t ** (-vals["C1"]) >= m * (1 - 1e-6))


def test_false_conjecture_exits_1_with_a_replayable_file(tmp_path):
    out = tmp_path / "r.json"
    # the stable rate is 1/(γ²ηt), not 1/(ηt)²: L(w_t)·(ηt)² grows like ηt
    code = main(["conjecture", "loss(t) <= C/(eta*t)**2", "--effort", "smoke", "--save", str(tmp_path),
                 "-o", str(out)])
    assert code == 1
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "FALSIFIED"
    files = list(tmp_path.glob("conjecture-*.json"))
    if files:  # falsified by a drawn instance (not only by a ladder)
        saved = json.loads(files[0].read_text())
        assert saved["versions"]["numpy"] and set(saved["source"]) >= {"version", "commit", "dirty"}
        assert main(["replay", str(files[0])]) == 1


def test_two_conjectures_falsified_on_one_instance_keep_two_witnesses(tmp_path, capsys):
    """Both shrink to the same instance; the file name hashed the instance alone, so the second
    witness overwrote the first, and the first run's `eoscheck replay FILE` replayed the second."""
    texts = ["final_loss <= 0.01", "final_loss <= 0.001"]
    for text in texts:
        assert main(["conjecture", "--effort", "smoke", "--save", str(tmp_path), text]) == 1
    saved = {json.loads(f.read_text())["conjecture"]["text"]: f for f in tmp_path.glob("conjecture-*.json")}
    assert sorted(saved) == sorted(texts)
    capsys.readouterr()
    for text, f in saved.items():
        assert main(["replay", str(f)]) == 1 and f"conjecture: {text}" in capsys.readouterr().out


@pytest.mark.parametrize("text, says", [
    ("final_loss <= 0.01", "vs EXPR = 0.01 (limit EXPR + allowance"),
    ("final_loss <= where(eta > 1, 1, 0)", "vs EXPR = 0 (limit EXPR + allowance"),   # printed "EXPR = 1.08e-14"
    ("final_loss >= -C", "(limit EXPR/(1+1) − allowance"),                          # printed "EXPR·(1+1)"
])
def test_the_witness_line_names_expr_and_the_limit_it_was_compared_with(text, says, tmp_path, capsys):
    assert main(["conjecture", "--effort", "smoke", "--save", str(tmp_path), text]) == 1
    line = next(x for x in capsys.readouterr().out.splitlines() if x.startswith("FALSIFIED: witness"))
    assert says in line, line


def test_true_conjecture_exits_0_and_bad_input_exits_2():
    # Theorem 1's EoS bound itself, where it is proven
    assert main(["conjecture", "avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)",
                 "--where", "gamma**2*eta*t >= 1", "--effort", "smoke"]) == 0
    assert main(["conjecture", "loss(t) <= exec('1')"]) == 2
    assert main(["conjecture", "loss(t) <= 1", "--eta", "5:1"]) == 2


# --- issue 11: FALSIFIED means a confirmed witness ------------------------------------------------


def test_exact_bound_with_trend_is_not_falsified_and_strict_exits_3(capsys):
    # ‖∇L‖ ≤ mean|ℓ′|·max‖x‖ ≤ 1 for every dataset with ‖x‖ ≤ 1: exact and true, whatever the ratio's slopes
    args = ["conjecture", "grad_norm(t) <= 1", "--eta", "0.25:1000", "--effort", "smoke", "--json"]
    assert main(args) == 0
    rep = json.loads(capsys.readouterr().out)  # --json: the report on stdout
    assert rep["verdict"] == "NOT FALSIFIED" and rep["counterexample"] is None
    assert rep["worst_ratio"] < 1
    if rep["trend"]:  # a trend is evidence; under --strict it is an exit code of its own
        assert main(args + ["--strict"]) == 3


def test_tight_at_certified_gamma_is_not_falsified():
    # one point x = (0.3, 0.4): γ* = 0.5 exactly, the solver's γ is 0.4999999999999858; the normalized margin
    # of every w_t (a positive multiple of x) is γ* itself, so the bound is tight at γ*
    from eoscheck.properties.decide import check_conjecture
    from eoscheck.properties.strategies import single_point
    from eoscheck.properties.witness import confirm

    conj = Conjecture.parse("normalized_margin(t) <= gamma", ranges={"n": "1", "d": "2", "gamma": "0.45:0.55"})
    inst = conj.instance(single_point(), [0.5, 10.0, 1000.0], [300] * 3)
    assert inst.gamma < 0.5 <= inst.gamma_hi
    ev = conj.evaluate(inst)
    assert ev.size and float(np.max(ev.measured)) > inst.gamma  # measured above the interval's lower end
    assert confirm(conj, inst, 0.0) is None
    assert not check_conjecture(conj, "smoke").falsified


def test_witness_replays_bit_for_bit(tmp_path, capsys):
    from eoscheck.properties.decide import check_conjecture
    from eoscheck.properties.replay import replay

    rep = check_conjecture(Conjecture.parse("loss(0) <= 0.693"), "smoke", save_dir=str(tmp_path))
    assert rep.falsified and rep.counterexample_file
    pt = rep.counterexample["point"]
    assert pt["measured"] > pt["limit"] and pt["measured"] == pytest.approx(np.log(2), rel=1e-15)
    res = replay(rep.counterexample_file)
    assert res.reproduced and res.identical
    assert res.point["measured"] == pt["measured"] and res.point["bound"] == pt["bound"]
    assert main(["replay", rep.counterexample_file, "--json"]) == 1
    assert json.loads(capsys.readouterr().out)["identical"] is True
    # `replay W -o W` overwrote the witness with its report (replaying W then failed): refused, W kept
    before = open(rep.counterexample_file).read()
    assert main(["replay", rep.counterexample_file, "-o", rep.counterexample_file]) == 2
    assert "saved counterexample" in capsys.readouterr().err and open(rep.counterexample_file).read() == before
    mine = tmp_path / "notes.txt"                          # nor a file eoscheck did not write
    mine.write_text("my notes")
    assert main(["replay", rep.counterexample_file, "-o", str(mine)]) == 2
    assert "not an eoscheck report" in capsys.readouterr().err and mine.read_text() == "my notes"
    out = tmp_path / "r.json"                              # its own report it replaces, as before
    assert main(["replay", rep.counterexample_file, "-o", str(out)]) == 1
    assert main(["replay", rep.counterexample_file, "-o", str(out)]) == 1 and json.loads(out.read_text())["identical"]
    empty = tmp_path / "tmp.XXXX"                          # `mktemp`'s empty file is taken
    empty.write_text("")
    assert main(["replay", rep.counterexample_file, "-o", str(empty)]) == 1 and json.loads(empty.read_text())
    older = tmp_path / "older.json"                        # a report written before reports had a "format"
    older.write_text(json.dumps({"reproduced": True, "identical": True, "provenance": {}}))
    assert main(["replay", rep.counterexample_file, "-o", str(older)]) == 1
    run = tmp_path / "run.json"                            # a saved run's metadata is not a report
    run.write_text(json.dumps({"config": {}, "provenance": {}, "reproduced": True, "identical": True}))
    assert main(["replay", rep.counterexample_file, "-o", str(run)]) == 2 and "reproduced" in run.read_text()
    fifo = tmp_path / "fifo"                               # read to decide, it hung: refused at once
    os.mkfifo(fifo)
    assert main(["replay", rep.counterexample_file, "-o", str(fifo)]) == 2
    assert "not a regular file" in capsys.readouterr().err


def test_check_conjecture_takes_the_statement_as_text():
    """check_conjecture("…") failed with AttributeError: 'str' object has no attribute 'ranges'."""
    from eoscheck.properties.decide import check_conjecture

    rep = check_conjecture("loss(0) <= 0.693", "smoke")
    assert rep.falsified and rep.counterexample["point"]["measured"] == pytest.approx(np.log(2), rel=1e-15)


def test_effort_caps_are_stated_and_huge_requests_refused(capsys):
    from eoscheck.properties.decide import plan

    conj = Conjecture.parse("final_loss <= 1", ranges={"T": "200:5000", "n": "1:100"})
    notes = plan(conj, "smoke")
    assert conj.ranges["T"].hi == 400 and conj.ranges["n"].hi == 50
    assert any("T capped at 400" in n for n in notes) and notes[-1] == "--effort normal tests the full range"
    # n up to 1e9: one run would need ~75 GiB for the data alone; refused before anything is drawn
    assert main(["conjecture", "final_loss <= 1", "--n", "1:1e9", "--effort", "smoke"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "shrink --n" in err[0]


def test_towering_eta_of_T_ends_quickly_with_one_line_exit_2(capsys):
    # exp(exp(exp(T))) overflows float64 for T ≥ 2 (e^{e^{e^2}} ≈ e^{1618}); it used to hang > 150 s in
    # sympy's evalf.  Evaluated in float64 by the one compiler it is +inf: refused as a stepsize.
    import time

    t0 = time.monotonic()
    assert main(["conjecture", "final_loss <= 1", "--eta-of-T", "exp(exp(exp(T)))", "--effort", "smoke"]) == 2
    assert time.monotonic() - t0 < 60  # the hang was > 150 s; the run itself takes a few seconds
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and "non-finite stepsize" in err[0]


def test_user_formulas_are_evaluated_in_float64_by_the_guarded_evaluator():
    import sympy as sp

    from eoscheck.properties import conjecture as C

    T, eta = sp.Symbol("T", positive=True), sp.Symbol("eta", positive=True)
    assert C.value_at(sp.exp(sp.exp(sp.exp(T))), {"T": 3.0}) == float("inf")
    out = C.values_at(T * eta, {"T": np.array([2.0, 3.0]), "eta": np.array([0.5, 4.0])})
    np.testing.assert_array_equal(out, [1.0, 12.0])  # exact in float64
    with pytest.raises(EoscheckError, match="no value for"):
        C.value_at(T * eta, {"T": 1.0})


def test_the_40_digit_check_is_time_limited(monkeypatch):
    import sympy as sp

    from eoscheck.properties import precision as W

    import time

    import eoscheck.compiler as compiler

    # an evaluation that never ends (the high-precision evaluator replaced by 60 CPU seconds of spinning), so
    # the test does not depend on how fast this machine evaluates something slow: the 0.02 s limit must cut it
    T = sp.Symbol("T", positive=True)

    def spin(*a, **k):
        t = time.process_time()
        while time.process_time() - t < 60:
            pass

    monkeypatch.setattr(W, "HP_SECONDS", 0.02)
    with monkeypatch.context() as m:
        m.setattr(compiler, "mp_value", spin)
        with pytest.raises(EoscheckError, match="40-digit check"):
            W.high_precision(sp.exp(T), {"T": 3.0})
    monkeypatch.setattr(W, "HP_SECONDS", 60.0)
    assert abs(float(W.high_precision(sp.exp(T), {"T": 1.0})) - 2.718281828459045) < 1e-15


@pytest.mark.long
def test_the_high_precision_check_keeps_a_tiny_bound():
    """sympy's 40-digit evalf returned exactly 0 for log(1 + e^{−x}) at x ≳ 100, so the true bound
    loss(1) ≤ ln(1 + e^{−ηγ²/4}) (one point: loss(1) = ln(1 + e^{−ηγ²/2})) was FALSIFIED with "EXPR = 0"."""
    import mpmath
    import sympy as sp

    from eoscheck.properties import precision as W

    eta, g = sp.Symbol("eta", positive=True), sp.Symbol("gamma", positive=True)
    got = W.high_precision(sp.log(1 + sp.exp(-eta * g**2 / 4)), {"eta": 500.0, "gamma": 0.9073})
    with mpmath.workdps(60):
        want = sp.Float(mpmath.nstr(mpmath.log1p(mpmath.exp(-mpmath.mpf(500.0) * mpmath.mpf(0.9073) ** 2 / 4)), 50), 50)
    assert abs(got - want) <= abs(want) * sp.Float("1e-38")
    assert main(["conjecture", "loss(1) <= log(1+exp(-eta*gamma**2/4))", "--n", "1:1", "--d", "1:1",
                 "--gamma", "0.9:1", "--eta", "500:1000", "--effort", "smoke"]) == 0


def test_a_witness_inside_the_calibration_ranges_refits_the_constant(monkeypatch):
    """max_loss ≤ C·η⁴ on one point (n = d = 1, γ = 0.5, T = 200) for η ∈ [0.25, 1]: max_loss = ln 2 (η < 8), so
    C = ln 2/0.25⁴ ≈ 177 holds everywhere.  With calibration draws that miss η = 0.25 (here: only η = 0.5, so
    C = 11), the search finds η = 0.25 violating 2C — a point of the calibration ranges, which says the draws
    missed it, not that the statement fails: its points join the calibration and C is fitted again."""
    import math

    from eoscheck.properties import decide
    from eoscheck.properties.calibration import calibration_points as real

    def missing_the_worst(conj, examples, seed):
        meas, P, insts, lost = real(conj, examples, seed)
        keep = P["eta"] >= 0.45
        return meas[keep], {k: v[keep] for k, v in P.items()}, insts, lost

    monkeypatch.setattr(decide, "calibration_points", missing_the_worst)
    conj = Conjecture.parse("max_loss <= C*eta**4", ranges={"n": "1:1", "d": "1:1", "gamma": "0.5:0.5",
                                                             "T": "200:200", "eta": "0.25:1"})
    rep = decide.check_conjecture(conj, "smoke")
    assert rep.verdict == "NOT FALSIFIED" and "refit 1" in rep.message, rep.message
    assert rep.constants["C"] >= math.log(2) / 0.25**4 * (1 - 1e-9)


def test_ranges_are_kept_as_the_user_wrote_them():
    """A witness must lie inside the stated ranges: the effort cap moved T:500:1000 to 200:400 (a witness at
    T = 400); 250.5:251.9 drew T = 250; --eta beside --eta-of-T was ignored; the midpoint of 1e-200:1e-200
    underflowed to a stepsize 0; one point drawn for γ ≤ 0.1 had γ* = 0.119."""
    import numpy as np

    from eoscheck.properties.conjecture import Range, geometric_mean
    from eoscheck.properties.decide import plan
    from eoscheck.properties.strategies import build_separable, certificate

    conj = Conjecture.parse("final_loss <= 1", ranges={"T": "500:1000"})
    notes = plan(conj, "smoke")
    # the range starts above smoke's cap (T ≤ 400): tested at its start, and the note says why it is not 400
    assert conj.ranges["T"] == Range(500.0, 500.0)
    assert notes[0].startswith("T tested at the range's lower end 500 only: --effort smoke caps T at 400"), notes
    assert Conjecture.parse("final_loss <= 1", ranges={"T": "250.5:251.9"}).ranges["T"] == Range(251.0, 251.0)
    with pytest.raises(EoscheckError, match="holds no integer"):
        Conjecture.parse("final_loss <= 1", ranges={"T": "250.2:250.9"})
    with pytest.raises(EoscheckError, match=r"eta \(--eta\) does not apply with eta_of_T \(--eta-of-T"):
        Conjecture.parse("final_loss <= 1", ranges={"eta": "100:200"}, eta_of_T="gamma**2*T/120")
    assert geometric_mean(1e-200, 1e-200) == 1e-200 and geometric_mean(1e300, 1e300) == 1e300
    assert geometric_mean(0.5, 0.5) == 0.5          # √0.5·√0.5 rounds above 0.5: kept inside the range
    conj = Conjecture.parse("final_loss <= 1", ranges={"T": "200:200", "n": "1:1", "d": "2:2"})
    inst = conj.instance(build_separable(1, 2, 0.1, seed=3), [1.0], [199.6])
    assert inst.extra["T"] == [200]
    for seed in range(5):                           # n = 1 or d = 1: the margin drawn is γ* itself
        for n, d in ((1, 3), (4, 1)):
            assert certificate(build_separable(n, d, 0.07, seed)).gamma == pytest.approx(0.07, rel=1e-12)
    # and points whose certified γ* leaves the range are not in the statement's domain
    P = {"gamma": np.array([0.05, 0.119]), "_ghi": np.array([0.05, 0.119]), "eta": np.ones(2)}
    conj = Conjecture.parse("final_loss <= 1", ranges={"gamma": "0.05:0.1"})
    assert conj.mask(P).tolist() == [True, False]


def test_measurements_without_a_finite_allowance_neither_convict_nor_acquit(monkeypatch):
    """A loss that overflowed (+inf) got the allowance inf·r = inf, and one at ‖w‖ ≈ 1e300 an allowance that
    overflowed to inf: `measured ≤ bound + allowance` then held for any bound — a diverged run acquitted
    the conjecture.  Such points are set aside like NaN ones, with a note."""
    from eoscheck.properties.strategies import single_point

    conj = Conjecture.parse("final_loss <= 1", ranges={"n": "1", "d": "2", "gamma": "0.45:0.55"})
    inst = conj.instance(single_point(), [0.5, 1.0, 2.0], [10] * 3)
    meas = np.array([0.5, np.inf, 3e300])
    P = {"eta": np.array([0.5, 1.0, 2.0]), "n": np.ones(3), "d": np.full(3, 2.0), "gamma": np.full(3, 0.5),
         "t": np.full(3, 200.0), "T": np.full(3, 200.0), "_w": np.array([1.0, 1e3, 1e300]), "_G": np.ones(3)}
    monkeypatch.setattr(Conjecture, "points", lambda self, inst: (meas, P, {"censored": 0, "ambiguous": 0, "undefined": 0}))   # T as the instance has it: 200
    with np.errstate(all="raise"):   # and no overflow on the way
        ev = conj.evaluate(inst)
    assert ev.measured.tolist() == [0.5] and np.isfinite(ev.allowance).all()
    assert any(n.startswith("2 measurement(s) set aside") for n in ev.notes), ev.notes


def test_a_witness_is_not_lost_when_the_default_folder_cannot_be_written(tmp_path, monkeypatch, capsys):
    """In a working directory that cannot be written, a search that found a witness crashed at the end
    (OSError on reports/, a traceback; the table and the witness lost).  The default folder is checked
    before the search and, unwritable, replaced by a temporary one that stderr names."""
    import eoscheck.outputs as outputs
    from eoscheck.commands.conjecture import SAVE_DEFAULT

    real = outputs.check_output_dir

    def unwritable_default(path, what="--out"):
        if str(path) == SAVE_DEFAULT:
            raise EoscheckError(f"{what} {path}: not writable")
        return real(path, what)

    monkeypatch.setattr(outputs, "check_output_dir", unwritable_default)
    monkeypatch.setattr("tempfile.tempdir", str(tmp_path))
    (tmp_path / "cwd").mkdir()
    monkeypatch.chdir(tmp_path / "cwd")          # a regression writes its witness here, not into the checkout
    code = main(["conjecture", "loss(t) <= C/(eta*t)**2", "--effort", "smoke"])
    err = capsys.readouterr().err
    assert code == 1 and f"{SAVE_DEFAULT} cannot be written here; witnesses go to {tmp_path}" in err
    assert list(tmp_path.glob("eoscheck-counterexamples/conjecture-*.json"))


def test_a_witness_without_its_fitted_constant_is_one_line_exit_2(tmp_path, capsys):
    """A witness whose "constants" is {} gave KeyError: 'C' (a traceback) in replay."""
    assert main(["conjecture", "loss(t) <= C/(eta*t)**2", "--effort", "smoke", "--save", str(tmp_path)]) == 1
    files = list(tmp_path.glob("conjecture-*.json"))
    assert files
    obj = json.loads(files[0].read_text())
    obj["conjecture"]["constants"] = {}
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(obj))
    capsys.readouterr()
    assert main(["replay", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "missing field 'constants.C'" in err


def test_conjecture_outputs_and_witnesses_record_their_provenance(tmp_path):
    """`conjecture -o FILE` recorded no seed, effort, versions, commit, machine or command; a saved witness had
    no command, machine or seed (the README says every witness records them)."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "loss(t) <= C/(eta*t)**2", "--effort", "smoke", "--seed", "3", "--save",
                 str(tmp_path), "-o", str(out)]) == 1
    rep = json.loads(out.read_text())
    prov = rep["provenance"]
    assert rep["effort"] == "smoke" and prov["seed"] == 3 and prov["command"][:2] == ["eoscheck", "conjecture"]
    assert prov["versions"]["numpy"] and {"commit", "dirty"} <= set(prov["source"]) and prov["machine"]["cpu"]
    saved = json.loads(next(tmp_path.glob("conjecture-*.json")).read_text())
    assert saved["seed"] == 3 and saved["machine"]["cpu"] and saved["command"]


def test_a_strict_where_condition_keeps_its_boundary_out_of_the_domain(tmp_path, capsys):
    """--where "eta > 1000" was read as eta >= 1000: on the default η range 0.25:1000 "loss(t) <= 1" was FALSIFIED
    at η = 1000, a point the user had excluded.  With no η > 1000 in the range, nothing can be tested."""
    args = ["conjecture", "loss(t) <= 1", "--where", "eta > 1000", "--effort", "smoke", "--json"]
    assert main(args + ["--save", str(tmp_path)]) == 0
    rep = json.loads(capsys.readouterr().out)
    assert rep["verdict"] == "UNDECIDED" and rep["counterexample"] is None
    # the boundary itself is in the domain of a non-strict condition: the same statement is falsified there
    assert main(["conjecture", "loss(t) <= 1", "--where", "eta >= 1000", "--effort", "smoke",
                 "--save", str(tmp_path)]) == 1


def test_a_witness_satisfies_a_strict_where_condition(tmp_path, capsys):
    """"loss(t) <= 1e-9" with --where "eta*t > 4" on η ∈ [1, 4] had its witness at η = 1, t = 4 (η·t = 4)."""
    args = ["conjecture", "loss(t) <= 1e-9", "--eta", "1:4", "--where", "eta*t > 4", "--effort", "smoke", "--json",
            "--save", str(tmp_path)]
    assert main(args) == 1
    pt = json.loads(capsys.readouterr().out)["counterexample"]["point"]
    assert pt["eta"] * pt["t"] > 4, pt


def test_an_expr_that_is_not_real_is_refused_or_set_aside_as_such(capsys):
    """sqrt(-eta) failed with "cannot evaluate ImaginaryUnit in I"; where sqrt(eta - 2) is NaN (η < 2) its points
    were set aside as "a diverged run"."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    assert main(["conjecture", "loss(t) <= sqrt(-eta)", "--effort", "smoke"]) == 2
    err = capsys.readouterr().err.strip()
    assert err.endswith("EXPR 'sqrt(-eta)' is not a real number (I*sqrt(eta): a square root or logarithm of a "
                        "negative quantity, every parameter being positive)") and len(err.splitlines()) == 1
    conj = Conjecture.parse("loss(t) <= 100*sqrt(eta - 2)", ranges={"eta": "1:4", "T": "20"})
    ev = conj.evaluate(Instance(with_certificate(toy(normalized=True)), "logistic", (1.0, 3.0), 20))
    assert ev.size > 0 and (ev.params["eta"] == 3.0).all()            # η = 1's points are not in it:
    # as many as η = 3's, the same steps of the same T
    assert any(n.startswith(f"{ev.size} point(s) set aside where EXPR is not a real number") for n in ev.notes), \
        ev.notes
    assert not any("diverged" in n for n in ev.notes)


def test_an_expr_past_the_evaluators_exp_cap_is_said_to_overflow_not_to_be_nan(tmp_path):
    """exp(exp(exp(exp(T)))) overflows float64, and past e^(2^1024) the 40-digit evaluator too: its points were set
    aside as "not a real number (NaN …)".  They are set aside as an overflow, neither convicting nor acquitting (as
    the 40-digit check of a witness does): float64's +inf is no bound there, +inf also for log(log(1 + e^(e^(e^t))))
    − e^t < e^(−e^(e^t)), where counting it would pass a false "loss(t) <= …"."""
    import sympy as sp

    from eoscheck import toy
    from eoscheck.properties.conjecture import values_beyond_float64
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    eta = sp.Symbol("eta", positive=True)
    capped = np.zeros(2, bool)
    assert np.isnan(values_beyond_float64(sp.exp(sp.exp(sp.exp(eta))), {"eta": np.array([1.0, 10.0])}, capped)[1])
    assert capped.tolist() == [False, True]
    values_beyond_float64(sp.sqrt(eta - 2), {"eta": np.array([1.0, 3.0])}, capped := np.zeros(2, bool))
    assert not capped.any()                                    # undefined, not capped
    inst = Instance(with_certificate(toy(normalized=True)), "logistic", (1.0,), 20)
    for text in ("loss(t) <= exp(exp(exp(exp(t))))", "loss(t) >= exp(exp(exp(exp(t))))",
                 "loss(t) <= log(log(1 + exp(exp(exp(t))))) - exp(t)"):
        ev = Conjecture.parse(text, ranges={"eta": "1", "T": "20"}).evaluate(inst)
        k = ev.notes[0].split()[0] if ev.notes else "0"
        assert len(ev.notes) == 1 and k != "0" and ev.notes[0].startswith(
            f"{k} point(s) set aside where EXPR is beyond float64 (overflow, not NaN"), ev.notes
        assert ev.size and not np.isnan(ev.bound).any()    # t ≤ 1: e^(e^(e^t)) ≤ 2^1024, a value (maybe +inf)
    out = tmp_path / "r.json"
    assert main(["conjecture", "loss(T) <= exp(exp(exp(exp(T))))", "--effort", "smoke", "-o", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "UNDECIDED" and "beyond float64 (overflow" in rep["message"], rep["message"]
    assert "not a real number" not in rep["message"]


def test_one_constant_spanning_twelve_decades_fits_exactly():
    """C ≥ m·(ηt)² over (ηt)^−2 from 1e-12 to 1: HiGHS's tolerances called the linear program infeasible
    ("no values of the constants make the bound hold") and that convicted a conjecture.  One constant is read
    off its interval: the tightest is max m·(ηt)² (by hand here), and every point holds with it."""
    x = np.geomspace(1.0, 1e6, 40)                       # ηt
    m = np.linspace(0.1, 60.0, 40)
    conj = Conjecture.parse("loss(t) <= C/(eta*t)**2")
    C = fit_constants(conj, m, _points(eta=x, t=np.ones(40)))["C"]
    # C = max mᵢ/(ηt)ᵢ^−2 through two roundings of (ηt)^−2 and one of the quotient (≤ 3 ulps): 1e-15 relative
    assert C == pytest.approx(np.max(m * x**2), rel=1e-15) and np.all(C / x**2 >= m * (1 - 1e-15))


def test_a_strict_statement_is_falsified_where_it_only_reaches_its_bound(tmp_path):
    """`train_error(t) > 0` was checked as ≥ 0 and NOT FALSIFIED, though GD separates the data (train error 0,
    an exact count: allowance 0).  A strict statement keeps its strictness; the witness replays."""
    from eoscheck.properties.claims import Evaluation

    tie = Evaluation([0.0], [0.0], 0.0, ">=")
    assert tie.holds() and not Evaluation([0.0], [0.0], 0.0, ">=", strict=True).holds()
    out = tmp_path / "r.json"
    assert main(["conjecture", "train_error(t) > 0", "--effort", "smoke", "--save", str(tmp_path),
                 "-o", str(out)]) == 1
    rep = json.loads(out.read_text())
    assert rep["conjecture"]["strict"] and rep["counterexample"]["point"]["measured"] == 0.0
    assert main(["replay", next(str(f) for f in tmp_path.glob("conjecture-*.json"))]) == 1
    assert main(["conjecture", "train_error(t) >= 0", "--effort", "smoke"]) == 0


def test_the_worst_point_counts_every_point_checked(tmp_path):
    """With --where excluding every drawn point, the γ ladder's one point was counted ("points checked 1") but
    the worst ratio and instance stayed empty, even beside the FALSIFIED it gave."""
    args = ["--eta-of-T", "gamma**2*T/120", "--where", "gamma**2*eta*T >= 100", "--gamma", "0.05:1",
            "--effort", "smoke"]
    out = tmp_path / "r.json"
    assert main(["conjecture", "final_loss <= 1e-9", *args, "-o", str(out)]) == 1
    rep = json.loads(out.read_text())
    assert rep["points"] >= 1 and rep["worst_instance"]
    pt = rep["counterexample"]["point"]
    assert rep["worst_ratio"] >= pt["measured"] / pt["bound"] * (1 - 1e-15)   # the witness is among them



def test_the_worst_ratio_of_a_bound_that_underflows(tmp_path, capsys):
    """``loss(t) >= exp(-1000*eta*t)`` holds (e^{−1000ηt} ≤ e^{−250} at η ≥ 0.25, t ≥ 1, and L(w_t) ≫ 1e-100 in these
    runs); EXPR underflows to 0 beyond ηt ≈ 0.75, and a zero bound, scored as a signed excess −1, beat every
    finite ln-ratio (≈ −249 at best): the worst point had no ratio and the CLI printed a blank worst ratio.  Now the
    worst point is one of the finite bounds, ratio ≥ 1 (the statement holds there), and where every bound is 0
    the CLI says so in words."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "loss(t) >= exp(-1000*eta*t)", "--effort", "smoke", "-o", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["worst_point"]["bound"] > 0 and rep["worst_ratio"] >= 1.0
    assert rep["worst_ratio"] == rep["worst_point"]["measured"] / rep["worst_point"]["bound"]
    capsys.readouterr()
    assert main(["conjecture", "loss(t) >= exp(-1e6*eta*t)", "--effort", "smoke"]) == 0
    assert "EXPR is 0 in float64 at the worst point" in capsys.readouterr().out

def test_calibration_reaches_the_ends_of_the_inner_eta_range():
    """`max_loss <= C*eta` holds (C = 25 on the defaults); its 16 random calibration draws missed η = 0.25, where
    max_loss/η = ln 2/0.25 (L(w₀) = ln 2, a monotone run), fitted C = 1.34 and convicted it there."""
    import math

    from eoscheck.properties.decide import check_conjecture

    rep = check_conjecture("max_loss <= C*eta", "smoke")
    assert not rep.falsified and rep.constants["C"] >= math.log(2) / 0.25 * (1 - 1e-12)


def test_replay_refuses_a_witness_that_is_not_a_run_of_its_conjecture(tmp_path, capsys):
    """A conjecture's witness with w₀ = (1e300, 1e300) replayed ("‖w₀‖ = inf … NOT reproduced", exit 0, a numpy
    overflow warning): its quantities are those of GD from w₀ = 0.  Stepsizes other than eta_of_T(T) likewise."""
    assert main(["conjecture", "final_loss <= 1e-9", "--eta-of-T", "gamma**2*T/120", "--gamma", "0.05:1",
                 "--effort", "smoke", "--save", str(tmp_path)]) == 1
    saved = json.loads(next(tmp_path.glob("conjecture-*.json")).read_text())
    for change, why in (({"w0": [1e300] * len(saved["instance"]["data"]["X"][0])}, "w0 is not 0"),
                        ({"etas": [0.5]}, "are not eta_of_T(T)")):
        bad = tmp_path / "bad.json"
        bad.write_text(json.dumps(dict(saved, instance=dict(saved["instance"], **change))))
        capsys.readouterr()
        assert main(["replay", str(bad)]) == 2
        err = capsys.readouterr().err.strip()
        assert len(err.splitlines()) == 1 and why in err


def test_a_negative_bound_is_loosened_away_from_zero():
    """The margin loosened a bound B by ×(1+m) for ≤ and ÷(1+m) for ≥ whatever B's sign: a negative lower bound −10
    became −5, stricter, and `margin(t) >= -C*eta*t` (true with C = 1: margin ≥ −‖w_t‖ ≥ −ηt) was convicted at
    −5.6 ≥ −10.  Hand values: B = ±10, margin 1, no allowance."""
    from eoscheck.properties.claims import limit

    assert (limit(10.0, 0.0, "<=", 1.0, 1.0), limit(-10.0, 0.0, "<=", 1.0, 1.0)) == (20.0, -5.0)
    assert (limit(10.0, 0.0, ">=", 1.0, 1.0), limit(-10.0, 0.0, ">=", 1.0, 1.0)) == (5.0, -20.0)
    assert list(limit(np.array([10.0, -10.0]), 1.0, ">=", 1.0, 1.0)) == [4.0, -21.0]
    from eoscheck.properties.decide import check_conjecture

    conj = Conjecture.parse("margin(t) >= -C*eta*t",
                            ranges={"gamma": "0.05:0.1", "eta": "10:1000", "t": "1:10", "n": "2:20"})
    assert not check_conjecture(conj, "smoke").falsified


def test_a_strict_statement_with_a_fitted_constant_is_its_closure():
    """`train_error(t) < C` (true: any C > 0 on data the first step separates, d = 1) fitted C = 0, an equality at the
    calibration points, and the strict test convicted the calibration itself."""
    from eoscheck.properties.decide import check_conjecture

    assert not Conjecture.parse("train_error(t) < C").strict and Conjecture.parse("train_error(t) < 1").strict
    assert not check_conjecture(Conjecture.parse("train_error(t) < C", ranges={"d": "1:1"}), "smoke").falsified


@pytest.mark.long
def test_a_violation_left_inside_the_calibration_ranges_does_not_convict(monkeypatch):
    """After the 3 refits a violation still inside the calibration ranges convicted, though "a violation found inside
    the calibration ranges does not convict".  A fit that always misses (C = 1e-9) keeps one there."""
    from eoscheck.properties import decide

    monkeypatch.setattr(decide, "fit_constants", lambda conj, meas, P, relaxed=False: {"C": 1e-9})
    conj = Conjecture.parse("max_loss <= C", ranges={"n": "1:1", "d": "1:1", "gamma": "0.5:0.5", "T": "200:200",
                                                      "eta": "0.25:0.25"})
    rep = decide.check_conjecture(conj, "smoke")
    assert not rep.falsified and "remained after 3 refits" in rep.message and rep.trend


def test_a_fitted_falsified_says_what_it_means_on_its_first_line():
    """`loss(t) <= C` (true on bounded ranges: L ≤ ln 2 + ηt) is FALSIFIED in the documented fitted sense — C fitted on
    the calibration ranges, doubled, beaten beyond them — but its first line read a bare "FALSIFIED"."""
    from eoscheck.properties.decide import check_conjecture

    rep = check_conjecture("loss(t) <= C", "smoke")
    assert rep.falsified and "the shape does not extrapolate" in rep.first_line()
    assert "fitted negative" in check_conjecture("margin(t) >= -C*eta*t", "smoke").message


def test_a_refit_that_no_constant_satisfies_still_convicts(monkeypatch):
    """When the refit finds no constant fitting the calibration with the witness in, the witness convicts; the rule
    for violations left inside the calibration ranges after the refits had turned it into a TREND ("remained after
    3 refits", after one)."""
    from eoscheck.properties import decide

    calls = []

    def fit(conj, meas, P, relaxed=False):
        calls.append(1)
        if len(calls) > 1:
            raise EoscheckError("no values of the constants make the bound hold on the calibration set")
        return {"C": 1e-9}

    monkeypatch.setattr(decide, "fit_constants", fit)
    conj = Conjecture.parse("max_loss <= C", ranges={"n": "1:1", "d": "1:1", "gamma": "0.5:0.5", "T": "200:200",
                                                      "eta": "0.25:0.25"})
    rep = decide.check_conjecture(conj, "smoke")
    assert rep.falsified and "remained after" not in rep.message


def test_fitted_constants_are_substituted_without_evaluating_towers():
    """EXPR = C**C**C**C**C with C = 10: sympy's subs evaluated the tower in exact integer powers and hung (150 s,
    killed); substituted unevaluated, the 40-digit check finds it beyond its caps and says so (None) at once."""
    import time

    from eoscheck.properties.precision import high_precision

    conj = Conjecture.parse("loss(t) <= C**C**C**C**C")
    t0 = time.process_time()
    expr = conj.with_constants({"C": 10.0})
    assert high_precision(expr, {}) is None
    assert time.process_time() - t0 < 30
    small = Conjecture.parse("loss(t) <= C*log(C + 2)/2").with_constants({"C": 10.0})
    assert abs(float(high_precision(small, {})) - 5 * np.log(12.0)) <= 1e-15 * 5 * np.log(12.0)


def test_a_witness_with_a_piecewise_eta_of_T_replays(tmp_path, capsys):
    """--eta-of-T "where(T > 300, 1000, 500)": the saved file held sympy's printing, Piecewise((1000, T > 300),
    (500, True)), which the formula parser refuses (exit 2, "function 'Piecewise' is not allowed"); it keeps the
    user's text now, and the witness replays."""
    code = main(["conjecture", "loss(t) <= 1/(eta*t)**2", "--eta-of-T", "where(T > 300, 1000, 500)", "--effort",
                 "smoke", "--save", str(tmp_path)])
    assert code == 1
    files = list(tmp_path.glob("conjecture-*.json"))
    assert files
    saved = json.loads(files[0].read_text())
    assert saved["conjecture"]["eta_of_T"] == "where(T > 300, 1000, 500)"
    assert main(["replay", str(files[0])]) == 1


def test_a_witness_whose_bound_overflows_replays_as_identical(tmp_path, capsys):
    """EXPR = 1e308·η² is +∞ in float64 (compared as such); the file stores "inf" (numerics.jsonable) and replay
    compared the string with the float: "REPRODUCED (values differ from the recorded ones)" for the same values."""
    out = tmp_path / "r.json"
    code = main(["conjecture", "loss(t) >= 1e308*eta*eta", "--eta", "10:1000", "--effort", "smoke", "--save",
                 str(tmp_path)])
    assert code == 1
    files = list(tmp_path.glob("conjecture-*.json"))
    assert files
    assert main(["replay", str(files[0]), "-o", str(out)]) == 1
    assert json.loads(out.read_text())["identical"]


def test_float64_violations_that_cannot_be_checked_at_40_digits_leave_the_verdict_undecided(tmp_path):
    """EXPR = exp(−e^η), η ∈ [800, 1000]: 0 in float64, so every loss "violates" it, but e^η > 2¹⁰²⁴ lies beyond
    the evaluator's exp cap, so no candidate could be confirmed — and the verdict read NOT FALSIFIED over 3246
    points (η ∈ [100, 1000]), with no word of them.  Those candidates neither convict nor acquit: UNDECIDED, said
    so.  For η ≤ 600, e^η is a float64 and exp(−e^η) > 0 is computed: the loss exceeds it, FALSIFIED (it was
    UNDECIDED while the cap was 1e30)."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "loss(t) <= exp(-exp(eta))", "--eta", "800:1000", "--effort", "smoke",
                 "-o", str(out)]) == 0
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "UNDECIDED" and "could not be checked at 40 digits" in rep["message"]
    assert main(["conjecture", "loss(t) <= exp(-exp(eta))", "--eta", "100:600", "--effort", "smoke",
                 "--save", str(tmp_path), "-o", str(out)]) == 1
    assert json.loads(out.read_text())["verdict"] == "FALSIFIED"


def test_a_strict_statement_is_convicted_where_the_quantity_equals_expr(tmp_path):
    """train_error(0) < 1 is false: at w₀ = 0 every margin is 0 ≤ 0, so train_error(0) = 1 exactly.  The scan
    added FP_ULPS ulps of EXPR to the limit, so no point reached the 40-digit check (which convicts at equality)
    and the verdict was NOT FALSIFIED with worst ratio 1.0; its closure, train_error(0) <= 1, holds."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "train_error(0) < 1", "--effort", "smoke", "--save", str(tmp_path), "-o",
                 str(out)]) == 1
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "FALSIFIED" and rep["counterexample"]["point"]["measured"] == 1.0
    assert main(["conjecture", "train_error(0) <= 1", "--effort", "smoke"]) == 0


def test_an_overflowed_record_at_a_finite_iterate_convicts(tmp_path):
    """exp_potential(1) <= 1e300 at η ∈ [5e4, 1e5]: F(w₁) = e^{log_F} with log_F finite and far above 709.8, so
    F(w₁) > 1.8e308 > 1e300 for certain; its allowance inf·r set every such point aside ("a diverged run") and
    the verdict read NOT FALSIFIED.  The overflowed value is compared as +inf with no allowance: FALSIFIED, and
    the witness replays."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "exp_potential(1) <= 1e300", "--eta", "5e4:1e5", "--effort", "smoke", "--save",
                 str(tmp_path), "-o", str(out)]) == 1
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "FALSIFIED" and rep["counterexample"]["point"]["measured"] == "inf"
    files = list(tmp_path.glob("conjecture-*.json"))
    assert files and main(["replay", str(files[0])]) == 1


def test_statement_messages_say_what_to_write():
    """"loss(t) <= 1 if eta > 1 else 2" said only "has 2 comparisons" (expr.py documents the conditional, which
    works in parentheses); "1 >= loss(t)" gave no hint that the quantity goes on the left; "loss((t))" read the
    step (t) as an expression and said "unknown name 't'"."""
    with pytest.raises(EoscheckError, match=r"in parentheses: loss\(t\) <= \(1 if eta > 1 else 2\)"):
        Conjecture.parse("loss(t) <= 1 if eta > 1 else 2")
    assert Conjecture.parse("loss(t) <= (1 if eta > 1 else 2)").quantity == "loss"
    with pytest.raises(EoscheckError, match="the quantity goes on the left"):
        Conjecture.parse("1 >= loss(t)")
    assert Conjecture.parse("loss((t)) <= 1").arg == "t"


def test_sharpness_at_a_fixed_step_is_measured_there(tmp_path):
    """sharpness(7) >= 1 is false (λ_max(∇²L) ≤ 1/4 for the logistic loss with ‖xᵢ‖ ≤ 1), but sharpness was
    computed every ⌊T/64⌋ steps only, step 7 never among them: "no point fell in the domain", UNDECIDED.  A step
    that is the same on every row is now a checkpoint: FALSIFIED at t = 7."""
    out = tmp_path / "r.json"
    assert main(["conjecture", "sharpness(7) >= 1", "--effort", "smoke", "--save", str(tmp_path), "-o", str(out)]) == 1
    rep = json.loads(out.read_text())
    assert rep["verdict"] == "FALSIFIED" and rep["counterexample"]["point"]["t"] == 7


def test_a_negative_constant_is_said_to_flip_expr_only_where_it_does(tmp_path):
    """loss(t) <= abs(C) fitted C = −0.68 and the note said "EXPR's sign is then the opposite of the one written",
    false for abs(C).  (abs(C) is now fitted at +0.68, either sign as tight; exp(−C)/10 ≥ 0.68 needs C ≈ −1.92,
    and its sign cannot flip either.)  margin(t) >= -C*eta*t, whose sign does flip with C's, keeps the sentence."""
    out = tmp_path / "r.json"
    main(["conjecture", "loss(t) <= exp(-C)/10", "--effort", "smoke", "-o", str(out), "--save", str(tmp_path)])
    msg = json.loads(out.read_text())["message"]
    assert "fitted negative" in msg and "opposite of the one written" not in msg
    main(["conjecture", "margin(t) >= -C*eta*t", "--effort", "smoke", "-o", str(out), "--save", str(tmp_path)])
    msg = json.loads(out.read_text())["message"]
    assert "fitted negative" in msg and "opposite of the one written" in msg


def test_sharpness_at_a_step_that_differs_between_rows_is_measured_on_each():
    """sharpness(T/3) with T per row (eta_of_T: η = T/100, T ∈ {200, 300, 400}) asks for steps 66, 100 and 133;
    the checkpoints were every ⌊T/64⌋ = 6 steps, so only rows whose step fell on that grid (here none) measured
    anything.  Every gcd(66, 100, 133) = 1 steps now: one point per row, at its own step."""
    from eoscheck.datasets import toy
    from eoscheck.properties.conjecture import Conjecture
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse("sharpness(T/3) >= 1", eta_of_T="T/100")
    Ts = [200, 300, 400]
    inst = Instance(with_certificate(toy(normalized=True)), "logistic", tuple(T / 100 for T in Ts), max(Ts),
                    extra={"T": Ts})
    vals, P, _ = conj.points(inst)
    assert sorted(P["t"].tolist()) == [66.0, 100.0, 133.0] and np.all(vals < 1)


@pytest.mark.parametrize("text, verdict", [
    ("transition_time(1e-300) <= 1e9", "UNDECIDED"),   # never reached by T ≤ 400: nothing known about ≤ 1e9
    ("transition_time(1e-300) <= 100", "FALSIFIED"),   # not reached by T ≥ 200: the time exceeds 100
])
def test_a_transition_time_not_reached_by_T_agrees_with_no_upper_bound_beyond_T(text, verdict):
    """A time not reached by T is known only to exceed T (it is counted T + 1): "transition_time(1e-300) <= 1e9"
    read NOT FALSIFIED, with the runs never below 1e-300 (logistic GD needs ηt ≳ 690 for that: ‖w_t‖ ≤ ηt)."""
    from eoscheck.properties.decide import check_conjecture

    rep = check_conjecture(Conjecture.parse(text, ranges={"eta": "0.25:2"}), "smoke")
    assert rep.verdict == verdict, (rep.verdict, rep.message)


def test_transition_times_seen_by_T_below_a_limit_beyond_T_test_nothing():
    """"transition_time(1/eta) <= 1e9" read NOT FALSIFIED: every run met L ≤ 1/η by T ≤ 400, but it would have passed
    unseen too (counted T + 1 ≤ 1e9), so no point could contradict it; as the claims' first times
    (Evaluation.vacuous) it is UNDECIDED.  With a limit below T the same runs are tested, and agree."""
    from eoscheck.properties.decide import check_conjecture

    loose = check_conjecture(Conjecture.parse("transition_time(1/eta) <= 1e9", ranges={"eta": "0.25:2"}), "smoke")
    assert loose.verdict == "UNDECIDED" and loose.unfalsifiable == loose.points > 0, (loose.verdict, loose.message)
    assert loose.message.startswith("none of its")
    tested = check_conjecture(Conjecture.parse("transition_time(1/eta) <= T", ranges={"eta": "0.25:2"}), "smoke")
    assert tested.verdict == "NOT FALSIFIED" and tested.unfalsifiable == 0 < tested.points, tested.message



@pytest.mark.parametrize("limit, measured, horizon", [
    (1000, [1001.0, 1001.0], [1000.0, 1000.0]),     # not seen by step 1000 at either η: a time beyond 1000, a witness
    (5000, [2585.0, 5001.0], [5000.0, 5000.0]),     # η = 1 meets L ≤ 1/100 at s = 2585; η = 1/2 not by 5000: a witness
    (1e9, [], []),                                   # beyond hit_cap's steps: not looked for, set aside as before
])
def test_a_transition_time_not_reached_by_T_is_looked_for_up_to_the_limit(limit, measured, horizon):
    """A transition time not reached by T was set aside wherever EXPR's limit is ≥ T + 1, so an upper bound between
    T and the true time could not fail.  It is now looked for further, up to the step whose time + 1 passes the limit
    (at most :func:`~eoscheck.properties.exact_engine.hit_cap` steps): toy data, η = 1 and 1/2, T = 100; GD at η = 1
    first has L ≤ 1/100 at s = 2585 (a run of 20,000 steps, every step recorded)."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse(f"transition_time(1/100) <= {limit}", ranges={"n": "1:1000", "d": "1:100", "T": "10:1000",
                                                                           "gamma": "1e-6:1", "eta": "0.01:100"})
    inst = Instance(with_certificate(toy()), "logistic", (1.0, 0.5), 100, extra={"T": [100, 100]})
    ev = conj.evaluate(inst)
    assert ev.measured.tolist() == measured and ev.params.get("horizon", np.zeros(0)).tolist() == horizon
    assert ev.violations().tolist() == [m > limit for m in measured]
    assert ev.vacuous() == 0                       # every point kept could have failed: its horizon reaches the limit
    if measured:                                   # notes that start with their count, summed over instances
        assert "2 transition time(s) not reached by T looked for further (up to EXPR's limit)" in ev.notes



def test_a_transition_time_seen_by_T_below_a_reachable_limit_could_fail():
    """Seen by T = 3000 (s = 2585 at η = 1) below the limit 5000: had it not been seen, it would have been looked for up
    to step 5000, so the point could fail (it is not vacuous; its ``horizon``, how far it was looked for, is T);
    η = 1/2 is not seen by 5000, a witness."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse("transition_time(1/100) <= 5000", ranges={"n": "1:1000", "d": "1:100", "T": "10:3000",
                                                                      "gamma": "1e-6:1", "eta": "0.01:100"})
    ev = conj.evaluate(Instance(with_certificate(toy()), "logistic", (1.0, 0.5), 3000, extra={"T": [3000, 3000]}))
    assert ev.measured.tolist() == [2585.0, 5001.0] and ev.params["horizon"].tolist() == [3000.0, 5000.0]
    assert ev.vacuous() == 0 and ev.violations().tolist() == [False, True]   # η = 1: could fail, though seen by T



def test_a_row_whose_T_is_shorter_than_the_run_is_looked_for_in_the_run_itself():
    """Rows of one run may have different T (``--eta-of-T``).  η = 1 with T = 100 beside a row with T = 3000: its time
    (s = 2585) is not reached by its T, and the limit 2000 is below the run's 3000 steps, so no longer run is needed;
    the time was then left at T + 1 = 101 with a horizon of 2000, read as seen at step 101 (passing a bound it breaks).
    It is read from the run itself."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse("transition_time(1/100) <= 2000", ranges={"n": "1:1000", "d": "1:100", "T": "10:3000",
                                                                      "gamma": "1e-6:1", "eta": "0.01:100"})
    ev = conj.evaluate(Instance(with_certificate(toy()), "logistic", (1.0, 0.5), 3000, extra={"T": [100, 3000]}))
    assert ev.measured.tolist() == [2585.0, 3001.0] and ev.violations().tolist() == [True, True]



def test_a_time_looked_for_further_is_read_at_both_ends_of_gammas_interval():
    """"transition_time(gamma/20)" looked for past T is read in one run a chunk at a time: each row's first step with
    L ≤ THR at both ends of γ*'s interval, as a whole run reads them.  Row 0 (η = 1, the toy set's certificate, ends
    equal to 1e-13) crosses both at s = 2585; row 1 (η = 1/2) given the interval [γ, 2γ] crosses 2γ/20 at s = 2634 and
    γ/20 not by step 5000: the two ends' steps differ, so its time is not known (None).  An end whose THR is ≤ 0 is
    never met: beside an end that is, the steps differ too."""
    import math

    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.observe import Arrays
    from eoscheck.properties.strategies import with_certificate

    ranges = {"n": "1:1000", "d": "1:100", "T": "10:1000", "gamma": "1e-6:1", "eta": "0.01:100"}
    conj = Conjecture.parse("transition_time(gamma/20) <= 5000", ranges=ranges)
    inst = Instance(with_certificate(toy()), "logistic", (1.0, 0.5), 100, extra={"T": [100, 100]})
    g, g_hi = inst.gamma, inst.gamma_hi
    A = Arrays.of(inst.with_(steps=5000).trajectory())           # the oracle: a whole run, every step recorded

    def first(k, thr):
        hit = np.flatnonzero(A.logL[k] <= math.log(thr))
        return int(hit[0]) if hit.size else -1

    assert first(0, g / 20) == first(0, g_hi / 20) == 2585
    assert first(1, g / 20) == -1 and first(1, 2 * g / 20) == 2634
    P = {"eta": np.array([1.0, 0.5]), "gamma": np.array([g, g]), "_ghi": np.array([g_hi, 2 * g]),
         "T": np.array([100.0, 100.0]), "_row": np.array([0.0, 1.0])}
    assert conj._times_further(inst, P, np.array([0, 1]), 5000) == ([2585.0, None], 5000)
    P["_ghi"][1] = g_hi                                           # its own certificate: not seen by 5000, counted 5001
    assert conj._times_further(inst, P, np.array([0, 1]), 5000) == ([2585.0, 5001.0], 5000)
    # THR = (gamma − γ)/20 on [γ, 2γ]: 0 at the lower end (never met), γ/20 at the upper: row 0 meets the latter at
    # 2585, so the ends' steps differ (None; it read 5001, a witness); row 1 meets neither by 5000 (5001)
    zero_low = Conjecture.parse(f"transition_time((gamma - {g!r})/20) <= 5000", ranges=ranges)
    P["_ghi"][:] = 2 * g
    assert zero_low._times_further(inst, P, np.array([0, 1]), 5000) == ([None, 5001.0], 5000)
    # end to end, the instance's own certificate: THR 0 at its lower end, 0.01 at its upper end (met at 2585): the
    # time is not one step across γ*'s interval, set aside, not a witness
    thr = f"(gamma - {g!r})*{0.01 / (g_hi - g)!r}"
    ev = Conjecture.parse(f"transition_time({thr}) <= 5000", ranges=ranges).evaluate(
        Instance(with_certificate(toy()), "logistic", (1.0,), 100, extra={"T": [100]}))
    assert ev.measured.size == 0 and any("moving across γ*'s interval" in n for n in ev.notes), ev.notes


def test_a_run_that_diverged_before_its_threshold_has_no_transition_time():
    """The exponential loss at η = 500 on toy data leaves the float range at step 2: its loss is NaN from then on and
    never ≤ 1e-3, so it was counted not reached and, looked for up to 5000 steps, convicted "transition_time(1e-3) <=
    5000".  A diverged run has no time: set aside, never a witness (η = 1 is a real violation: not below 1e-3 by
    step 5000)."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse("transition_time(1e-3) <= 5000", loss="exponential",
                            ranges={"n": "1:1000", "d": "1:100", "T": "10:1000", "gamma": "1e-6:1", "eta": "0.01:1000"})
    ev = conj.evaluate(Instance(with_certificate(toy()), "exponential", (500.0, 1.0), 100, extra={"T": [100, 100]}))
    assert ev.params["eta"].tolist() == [1.0] and ev.measured.tolist() == [5001.0]
    assert any(n.startswith("1 measurement(s) set aside (NaN") for n in ev.notes)


def test_a_transition_time_is_not_looked_for_past_T_against_fitted_constants():
    """Fitted constants are fitted on times counted T + 1 (the calibration reads T steps): judged on times looked for
    further, the calibration's own points failed them (C = 94 fitted, times of 2,673 against limits of 1,336).  With
    fitted constants a time not reached by T is set aside where the limit passes T + 1, as before."""
    from eoscheck import toy
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import with_certificate

    conj = Conjecture.parse("transition_time(1/100) <= C", ranges={"n": "1:1000", "d": "1:100", "T": "10:1000",
                                                                   "gamma": "1e-6:1", "eta": "0.01:100"})
    conj.values = {"C": 1000.0}
    ev = conj.evaluate(Instance(with_certificate(toy()), "logistic", (1.0, 0.5), 100, extra={"T": [100, 100]}))
    assert ev.measured.size == 0 and any(n.startswith("2 of them set aside") for n in ev.notes)


def test_a_step_that_depends_on_gamma_is_not_read_at_one_end_of_its_certificate():
    """One point x = 0.5: γ* = 0.5 exactly, certified as [0.4999999999999858, 0.500000000000002]. "loss(2*gamma*T)"
    at T = 200 is L(w₂₀₀) = 0.020817 for γ* itself, but the step was read at the lower end, ⌊199.99…⌋ = 199, where
    L = 0.020924: the true "loss(2*gamma*T) <= 0.02087" was FALSIFIED.  A step that moves across the certificate is
    not known, so the run is set aside."""
    from eoscheck.properties.decide import check_conjecture

    conj = Conjecture.parse("loss(2*gamma*T) <= 0.02087", ranges={"n": "1", "d": "1", "gamma": "0.5", "T": "200",
                                                                   "eta": "1"})
    rep = check_conjecture(conj, "smoke")
    assert rep.verdict == "UNDECIDED" and "certified interval" in rep.message, (rep.verdict, rep.message)


def test_a_nonlinear_fit_finds_the_tight_constant_not_one_that_sends_expr_to_infinity():
    """loss(T) <= exp(-C*eta*T): the tight constant on the calibration points is C* = min −ln L/(ηT) (computed here);
    the fit kept C = −1, where EXPR = e^{ηT} is +inf at every point (feasible, bounding nothing), because SLSQP from
    the other starts stopped short of the boundary (gaps −5e-6, "positive directional derivative") and the vacuous
    start was the only one left: the statement read NOT FALSIFIED."""
    from eoscheck.properties.decide import EFFORT
    from eoscheck.properties.calibration import calibration_points
    from eoscheck.properties.envelope import SLSQP_FEASIBILITY

    conj = Conjecture.parse("loss(T) <= exp(-C*eta*T)")
    meas, P, _, _ = calibration_points(conj, EFFORT["quick"].calibration, 0)
    eT = P["eta"] * P["T"]
    c_star = float(np.min(-np.log(meas) / eT))
    c = fit_constants(conj, meas, P)["C"]
    # feasible to the fit's tolerance (a shortfall ≤ SLSQP_FEASIBILITY in ln) and no looser than that allows
    assert np.min(-c * eT - np.log(meas)) >= -SLSQP_FEASIBILITY
    assert abs(c - c_star) <= SLSQP_FEASIBILITY / float(np.min(eT)) + 1e-12 * c_star


def test_a_witness_inside_the_calibration_ranges_under_eta_of_T_is_refitted_not_convicted():
    """With --eta-of-T, η is set by T: the witness's η (100 = T/10) was held against the default --eta range's
    lower half and called "beyond the calibration ranges", so a witness at n = 3 (inside [2, 3.46]) convicted;
    with --eta 100 the same violation was refitted."""
    from eoscheck.properties.decide import check_conjecture

    conj = Conjecture.parse("last_increase <= C", ranges={"n": "2:6", "d": "2", "gamma": "0.3", "T": "1000"},
                            eta_of_T="T/10")
    rep = check_conjecture(conj, "quick")
    assert rep.verdict == "NOT FALSIFIED" and "refit 1" in rep.message, (rep.verdict, rep.message)


def test_a_refit_takes_only_the_witness_points_inside_the_domain(monkeypatch):
    """A refit joined all the witness's points to the calibration, those outside --where too: with
    --where "t >= 100" the early EoS spikes (loss up to 1.06) raised C 457× over the in-domain fit."""
    from eoscheck.properties import decide

    seen = []
    real = decide.fit_constants

    def spy(conj, meas, P, relaxed=False):
        seen.append(P["t"].copy())
        return real(conj, meas, P, relaxed=relaxed)

    monkeypatch.setattr(decide, "fit_constants", spy)
    monkeypatch.setattr(decide, "in_calibration", lambda conj, pt: True)   # every witness is refitted
    conj = Conjecture.parse("loss(t) <= C", ranges={"n": "2:20", "d": "2:4", "gamma": "0.1:0.3", "T": "1000",
                                                     "eta": "100"}, where=["t >= 100"])
    decide.check_conjecture(conj, "quick")
    assert len(seen) >= 2, "no refit happened: the test does not exercise it"
    assert all(np.min(t) >= 100 for t in seen)


@pytest.mark.parametrize("data, text, convicts", [
    # single: n = 1, x = (0.5, 0); at η = 1e4 the margin is 1250 at t = 1, so L ≈ F ≈ e^{−1250}, 0 in float64
    ("single", "loss(t) > 0", False),             # the loss is positive: its float64 0 convicted it
    ("single", "loss(t) <= 0", True),             # and ≤ 0 is false, which 0 ≤ 0 in float64 hid
    ("single", "loss(t) >= exp(-eta/10)", True),  # e^{−1250} against e^{−1000}
    ("single", "exp_potential(t) >= exp(-eta/10)", True),
    # toy-normalized at η = 1e4: a margin −2299 at t = 1, so F = e^{2299}…, inf in float64
    ("toy-normalized", "exp_potential(t) < exp(eta*t)", False),   # F ≤ e^{‖w_t‖} < e^{ηt}: inf ≥ inf convicted it
    ("toy-normalized", "exp_potential(t) <= exp(eta/10)", True),  # e^{2299} against e^{1000}: inf ≤ inf hid it
])
def test_a_value_beyond_float64_is_compared_on_its_log(data, text, convicts):
    """Reviewer's witnesses: `loss(t) > 0` FALSIFIED with "measured 0 vs EXPR = 0" (a positive loss underflowed), and
    `exp_potential(t) < exp(eta*t)` with "measured inf vs EXPR = inf" (log F = 1137.9 exp'd to inf against e^{20000}).
    Where the value and EXPR both leave float64's normal range, the scan compares ln m with ln EXPR, and the 40-digit
    check compares e^{ln m} (the log_loss and log_F records), never the float64 0 or inf."""
    from eoscheck.properties.witness import confirm

    from eoscheck.properties.strategies import canonical_cases

    conj = Conjecture.parse(text, ranges={"eta": "10000:10000"})
    inst = conj.instance(next(d for d in canonical_cases() if d.name == data), [1e4], [3])
    ev = conj.evaluate(inst)
    got = confirm(conj, inst, 0.0, ev)
    assert (got is not None) == convicts and bool(ev.violations().any()) == convicts
    if convicts and "measured_40" in got:
        import mpmath

        rec = inst.trajectory().records["log_loss" if text.startswith("loss") else "log_F"][0, int(got["t"])]
        # the 40-digit value is e^{ln m} of the record, rounded to 40 digits: its log back to float64 within 1 ulp
        assert float(mpmath.log(mpmath.mpf(got["measured_40"]))) == pytest.approx(rec, rel=2**-52)


def test_a_subnormal_loss_is_not_held_to_relative_precision():
    """A loss between 0 and 2⁻¹⁰²² has lost relative precision (6.2e-320 recorded 3e-3 off): its allowance carries
    2·2⁻¹⁰²² absolute, so its float64 value alone convicts nothing there."""
    from eoscheck.properties.numerics import TINY, measurement_allowance

    P = {"_w": np.array([10.0, 10.0]), "t": np.array([1.0, 1.0])}
    a = measurement_allowance("loss", np.array([6.2e-320, 0.5]), P)
    assert a[0] >= 2 * TINY and a[1] < 1e-10
    assert measurement_allowance("grad_potential", np.array([0.0]), {"_w": np.array([1.0])})[0] >= 2 * TINY


def test_a_conjecture_witness_on_data_beyond_the_unit_ball_is_refused():
    """A witness file edited to data with ‖x‖ = 5 (statement true under ‖x‖ ≤ 1) replayed as REPRODUCED (exit 1):
    the replay checked ‖xᵢ‖ ≤ 1 for claims only."""
    from eoscheck.datasets import Dataset

    conj = Conjecture.parse("loss(t) <= log(2)", ranges={"eta": "0.25:7.99", "gamma": "0.4:0.9"})
    data = Dataset(np.array([[0.5, 5.0], [0.5, -2.5]]), np.array([1.0, 1.0]), "edited")
    assert "‖xᵢ‖ ≤ 1 fails" in conj.outside(conj.instance(data, [7.0], [300]))


def test_a_tiny_positive_threshold_is_a_threshold():
    """transition_time(exp(-2000)) was refused as "a threshold ≤ 0" (exp(−2000) is 0 in float64)."""
    assert Conjecture.parse("transition_time(exp(-2000)) >= 2").quantity == "transition_time"
    with pytest.raises(EoscheckError, match="threshold ≤ 0"):
        Conjecture.parse("transition_time(-exp(-2000)) >= 2")


@pytest.mark.parametrize("text", ["transition_time(sqrt(eta-10)) <= 50", "transition_time(1/(eta-4)) >= 1"])
def test_a_threshold_that_is_not_a_number_measures_nothing(text):
    """Reviewer's witnesses: THR = sqrt(η − 10) at η < 10 (NaN) was "never reached" (T + 1) and convicted ≤ 50, and
    THR = 1/(η − 4) at η = 4 (a division by zero, inf in float64) was met at step 0 and convicted ≥ 1.  Neither run
    has a time: both are set aside with a note.  A THR beyond float64 that is a number (e^η at η = 1e4) still is
    one: met at step 0."""
    from eoscheck.properties.strategies import canonical_cases

    data = next(d for d in canonical_cases() if d.name == "single")
    conj = Conjecture.parse(text, ranges={"eta": "4:4"})
    ev = conj.evaluate(conj.instance(data, [4.0], [50]))
    assert ev.size == 0 and any("threshold has no value" in n for n in ev.notes)
    big = Conjecture.parse("transition_time(exp(eta)) <= 0", ranges={"eta": "10000:10000"})
    ev = big.evaluate(big.instance(data, [1e4], [5]))
    assert list(ev.measured) == [0.0] and ev.holds()


def test_an_unknown_gemm_library_is_refused(monkeypatch, capsys):
    """EOSCHECK_GEMM=openbals ran MKL silently (exit 0)."""
    monkeypatch.setenv("EOSCHECK_GEMM", "openbals")
    assert main(["bounds"]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and "EOSCHECK_GEMM='openbals': use mkl or openblas" in err
    from eoscheck.gdnumpy import default_gemm

    with pytest.raises(EoscheckError, match="EOSCHECK_GEMM"):
        default_gemm()
    monkeypatch.setenv("EOSCHECK_GEMM", " OpenBLAS ")
    assert default_gemm() == "openblas"


def test_a_threshold_that_underflows_is_read_at_40_digits():
    """transition_time(exp(-1000)) (0 in float64) was "never reached" (T + 1) on a run whose loss is e^{−1250} from step 1
    (single, η = 1e4): a true `<= 1` was FALSIFIED.  Now the first step with ln L ≤ −1000: 1."""
    from eoscheck.properties.strategies import canonical_cases

    data = next(d for d in canonical_cases() if d.name == "single")
    for thr in ("exp(-1000)", "exp(-eta/10)"):
        conj = Conjecture.parse(f"transition_time({thr}) <= 1", ranges={"eta": "10000:10000"})
        ev = conj.evaluate(conj.instance(data, [1e4], [20]))
        assert list(ev.measured) == [1.0] and ev.holds()


def test_a_constant_is_not_fitted_to_values_float64_lost():
    """Fitted on calibration losses that were all 0 in float64 (η ≥ 2e4 on one point), C = 0, and the log-domain check
    then convicted the true `loss(t) <= C*exp(-eta*gamma**2/2)` (L ≤ e^{−ηγ²/2} with C = 1 for n = 1).  Such values are
    dropped from the calibration; with none left, the command says so (exit 2) instead of fitting C = 0."""
    from eoscheck.properties.calibration import CalibrationLost, calibration_points
    from eoscheck.properties.decide import check_conjecture

    conj = Conjecture.parse("loss(t) <= C*exp(-eta*gamma**2/2)",
                            ranges={"eta": "20000:80000", "n": "1:1", "gamma": "0.3:0.49", "d": "2:2"})
    with pytest.raises(CalibrationLost, match="calibration value.* left float64's range"):
        calibration_points(conj, 4, 0)
    rep = check_conjecture(conj, "smoke")      # valid input that cannot be tested: UNDECIDED, not an error
    assert rep.verdict == "UNDECIDED" and "no constant could be fitted" in rep.message


@pytest.mark.parametrize("text", ["final_loss <= exp(C)*exp(-eta*gamma**2/2)*(1+exp(800-eta*gamma**2/2))",
                                  "final_loss <= C*exp(-eta*gamma**2/2)*(1+exp(800-eta*gamma**2/2))"])
def test_a_fitted_statement_is_compared_where_float64_holds_its_values(text):
    """Reviewer's witnesses (n = 1, where L_T ≤ e^{−ηγ²/2}: both true, with C = 0 and C = 1): fitted on the calibration
    values float64 kept, C failed at lost values inside the calibration ranges too, and one just past them (T = 283)
    convicted; a refit took a witness's lost values in, could not fit them, and convicted.  With fitted constants,
    values float64 lost are set aside (with a note) in the calibration, the refits and the scan."""
    from eoscheck.properties.decide import check_conjecture

    T = "300" if text.startswith("final_loss <= exp(C)") else "200:400"
    conj = Conjecture.parse(text, ranges={"eta": "2000", "gamma": "0.5:0.9", "n": "1", "d": "1", "T": T})
    assert not check_conjecture(conj, "smoke").falsified


def test_a_threshold_past_the_evaluators_cap_measures_nothing():
    """A threshold with no 40-digit value (past the evaluator's exp cap) was read from float64: 1/log(log(1 + exp(exp(η))))
    (≈ 1/η) read 0, "never reached", and a true `<= 1` was FALSIFIED; Min(exp(−900), exp(−exp(η))) read e^{−900} (min
    swallowed the capped NaN) and was reached at step 1.  Such runs are set aside: no value, no time."""
    from eoscheck.properties.strategies import canonical_cases

    data = next(d for d in canonical_cases() if d.name == "single")
    for thr, eta in (("1/log(log(1+exp(exp(eta))))", 800.0), ("Min(exp(-900), exp(-exp(eta)))", 3000.0),
                     ("exp(exp(eta))", 800.0)):
        conj = Conjecture.parse(f"transition_time({thr}) <= 100", ranges={"eta": f"{eta}:{eta}"})
        ev = conj.evaluate(conj.instance(data, [eta], [200]))
        assert ev.size == 0 and any("threshold has no value" in n for n in ev.notes)


def test_a_bound_whose_min_swallows_a_capped_exp_has_no_value():
    """high_precision(Min(e^{−900}, e^{−e^{3063}})) returned e^{−900}, marked reliable: `loss(t) >= Min(…)` was FALSIFIED
    at L ≈ 1e-417 (true bound ≈ e^{−e^{3063}}).  An evaluation that met the exp cap anywhere has no value."""
    import sympy as sp

    from eoscheck.properties.precision import high_precision

    eta = sp.Symbol("eta")
    assert high_precision(sp.Min(sp.exp(-900), sp.exp(-sp.exp(eta))), {"eta": 3063.45}) is None
    assert high_precision(sp.Min(sp.exp(-900), sp.exp(-sp.exp(eta))), {"eta": 5.0}) is not None


def test_a_value_float64_lost_is_compared_on_its_log_even_where_expr_is_normal():
    """`loss(t) >= 3e-308` with L = e^{−1250}: the scan compared 0 ≥ 3e-308 − 2·2⁻¹⁰²² (holds) where the witness check
    would have convicted; the scan now reads every value float64 lost on its log."""
    from eoscheck.properties.strategies import canonical_cases
    from eoscheck.properties.witness import confirm

    data = next(d for d in canonical_cases() if d.name == "single")
    conj = Conjecture.parse("loss(t) >= 3e-308", ranges={"eta": "10000:10000"})
    inst = conj.instance(data, [1e4], [3])
    ev = conj.evaluate(inst)
    assert ev.size > 0 and ev.violations().all() and confirm(conj, inst, 0.0, ev) is not None


@pytest.mark.parametrize("direction, strict", [("<=", False), ("<=", True), (">=", False), (">=", True)])
def test_the_log_domain_comparison_at_its_boundary(direction, strict):
    """Evaluation.log_domain against the float64 rule it stands for: m ≤ C·b·(1+margin) + m·r for ≤ (m ≥ C·b/(1+margin)
    − m·r for ≥), at ln m = L and ln b placed exactly at the limit (equality: only a strict statement convicts) and one
    part in 1e6 of r on either side, with margin 1 and C = 3.  The logs are of order 1e3, where a float64 sum rounds
    at 1.1e-13: r = 1e-6 keeps the steps (1e-12) above that rounding."""
    from eoscheck.properties.claims import Evaluation

    L, r, C, margin = -1000.0, 1e-6, 3.0, 1.0
    lg, lc = math.log1p(margin), math.log(C)
    # the limit's ln b: ≤ holds iff L + ln(1 − r) ≤ ln b + ln C + ln 2; ≥ holds iff L + ln(1 + r) ≥ ln b + ln C − ln 2
    at = (L + math.log1p(-r) - lc - lg) if direction == "<=" else (L + math.log1p(r) - lc + lg)
    step = 1e-6 * r
    lbs = np.array([at - step, at, at + step])
    ev = Evaluation(np.zeros(3), np.zeros(3), np.zeros(3), direction, strict=strict,
                    log_domain={"m": np.full(3, L), "b": lbs, "r": np.full(3, r)})
    got = ev.violations(C, margin).tolist()
    # ≤: a smaller bound convicts; ≥: a larger one
    want = [True, strict, False] if direction == "<=" else [False, strict, True]
    assert got == want


def test_the_log_domain_takes_the_favorable_end_of_gammas_interval():
    """ln EXPR at both ends of γ*'s certified interval: the larger for ≤, the smaller for ≥ (as rhs_values)."""
    conj_le = Conjecture.parse("loss(t) <= exp(-eta*gamma)")
    conj_ge = Conjecture.parse("loss(t) >= exp(-eta*gamma)")
    P = {"eta": np.array([1e4]), "gamma": np.array([0.5]), "_ghi": np.array([0.6]), "_logm": np.array([-5500.0]),
         "_w": np.array([1.0]), "t": np.array([1.0]), "T": np.array([5.0]), "n": np.array([1.0]), "d": np.array([2.0])}
    from eoscheck.properties.precision import log_comparison

    le = log_comparison(conj_le.with_constants(), np.zeros(1), P, "<=")
    ge = log_comparison(conj_ge.with_constants(), np.zeros(1), P, ">=")
    assert le["b"][0] == pytest.approx(-5000.0, rel=1e-15) and ge["b"][0] == pytest.approx(-6000.0, rel=1e-15)


def test_a_replay_compares_the_40_digit_values_that_convicted(tmp_path, capsys):
    """A log-domain witness whose 40-digit measured value was edited replayed "bit for bit": only the float64 0s were
    compared."""
    assert main(["conjecture", "loss(t) >= exp(-eta/10)", "--eta", "10000:10000", "--n", "1:1", "--effort", "smoke",
                 "--save", str(tmp_path)]) == 1
    path = next(tmp_path.glob("conjecture-*.json"))
    saved = json.loads(path.read_text())
    assert "measured_40" in saved["point"]
    capsys.readouterr()
    assert main(["replay", str(path)]) == 1 and "bit for bit" in capsys.readouterr().out
    saved["point"]["measured_40"] = "9.999e-500"
    path.write_text(json.dumps(saved))
    assert main(["replay", str(path)]) == 1
    out = capsys.readouterr().out
    assert "values differ from the recorded ones" in out and "at 40 digits" in out


@pytest.mark.parametrize("offset, convicts", [(-3e-12, False), (3e-12, True)])
def test_the_witness_check_of_a_logged_value_at_its_allowance(offset, convicts):
    """confirm_point on a value float64 lost (measured 0, ln m recorded): m = e^{ln m} at 40 digits against EXPR + m·r,
    r = rel_allowance(‖w‖) = 64·EPS·(1 + 1e3) ≈ 1.4e-11.  ln m placed 3e-12 below and above the limit −800 − ln(1 − r)
    (ln m's float64 spacing at 800 is 1.1e-13): below holds, above convicts."""
    from eoscheck.properties.numerics import rel_allowance
    from eoscheck.properties.witness import confirm_point

    conj = Conjecture.parse("loss(t) <= exp(-800)")
    r = float(rel_allowance(1e3))
    logm = -800.0 - math.log1p(-r) + offset
    params = {"eta": 1.0, "n": 1.0, "d": 2.0, "gamma": 0.5, "_ghi": 0.5, "t": 1.0, "T": 5.0, "_w": 1e3, "_logm": logm}
    got = confirm_point(conj, params, 0.0, 0.0, 0.0)
    assert (got is not None) == convicts


def test_values_set_aside_for_fitted_constants_are_said():
    """92 of the calibration's values were lost to float64 and set aside, and the verdict said nothing of them (nor of
    those set aside on the ladders, nor past the search's first two notes)."""
    from eoscheck.properties.conjecture import LOST_NOTE
    from eoscheck.properties.decide import check_conjecture

    conj = Conjecture.parse("loss(t) <= C*exp(-eta*gamma**2/4)",
                            ranges={"eta": "2000", "gamma": "0.3:0.9", "n": "1", "d": "1"})
    msg = check_conjecture(conj, "smoke").message
    assert f"calibration {LOST_NOTE}" in msg
