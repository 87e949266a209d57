"""Fitted constants: envelopes, scaling slopes, and a calibration recomputed independently."""

import numpy as np
import pytest
from eoscheck import synthetic, toy
from eoscheck.gd import run_gd
from eoscheck.properties.claims import Evaluation, get_claim
from eoscheck.properties.fitted import binned_envelope, calibrate, slopes_of


def _ev(param, x, ratio, direction="<="):
    return Evaluation(ratio, np.ones_like(ratio), 0.0, direction, {param: x})


def test_growing_ratio_is_flagged_and_flat_one_is_not():
    t = np.geomspace(10, 1e4, 40)
    assert slopes_of("<=", "t", [_ev("t", t, t**0.5)], 0.1)["growing"]
    flat = slopes_of("<=", "t", [_ev("t", t, 2 + 0 * t)], 0.1)
    assert not flat["growing"] and abs(flat["ratio_slope"]) < 1e-12
    # a ratio that grows early and then saturates does not "keep growing"
    sat = slopes_of("<=", "t", [_ev("t", t, np.minimum(t, 30.0))], 0.1)
    assert not sat["growing"]
    # lower bounds: a falling ratio is the failure
    assert slopes_of(">=", "t", [_ev("t", t, t**-0.5, ">=")], 0.1)["growing"]


def test_gamma_is_judged_toward_zero():
    g = np.geomspace(0.01, 0.9, 30)
    assert slopes_of("<=", "gamma", [_ev("gamma", g, g**-0.5)], 0.1)["growing"]     # blows up as γ → 0
    assert not slopes_of("<=", "gamma", [_ev("gamma", g, g**0.5)], 0.1)["growing"]  # bounded as γ → 0


def test_binned_envelope_takes_max_per_eighth_decade():
    x, y = binned_envelope(np.array([1.0, 1.01, 10.0]), np.array([1.0, 3.0, 2.0]), upper=True)
    np.testing.assert_allclose(y, [3.0, 2.0])


def test_calibration_is_the_max_ratio_over_the_documented_sweep():
    rec = calibrate(get_claim("table1.logistic_rate"))
    # the documented sweep recomputed by hand: logistic, η = 1, T ∈ {256, …, 4096} on its three datasets; the
    # constant is the largest ratio L(w_T)/shape over them — both sides, not only "covers one instance".
    # Tolerance: the same runs (bit-identical on one machine) and a shape of a few float operations: 1e-13.
    assert rec["calibration"] == ("logistic, η = 1, synthetic(4,3,0.3,0), toy-normalized, synthetic(10,4,0.15,2), "
                                  "T ∈ {256, …, 4096}")
    Ts = np.array([256, 512, 1024, 2048, 4096])
    ratios = []
    for data in (synthetic(4, 3, 0.3, seed=0), toy(normalized=True), synthetic(10, 4, 0.15, seed=2)):
        L = run_gd(data, "logistic", [1.0], 4096).records["loss"][0, Ts]
        lam = data.gamma**2 * Ts
        ratios.append(L / ((1 + np.log(lam) ** 2) / lam))
    assert rec["value"] == pytest.approx(np.max(ratios), rel=1e-13)
    assert rec["envelope"] == "max" and rec["points"] == 15 and "versions" in rec


def test_fit_writes_a_user_file_never_the_package(tmp_path, monkeypatch):
    import json

    from eoscheck.cli import main
    from eoscheck.properties.fitted import CONSTANTS_FILE

    before = CONSTANTS_FILE.read_bytes()
    out = tmp_path / "mine.json"
    assert main(["fit", "thm3.lower", "-o", str(out)]) == 0
    assert CONSTANTS_FILE.read_bytes() == before
    rec = json.loads(out.read_text())["claims"]["thm3.lower"]
    assert rec["value"] > 0 and rec["constant_name"] == "c0"
    monkeypatch.setenv("EOSCHECK_FITTED_CONSTANTS", str(out))
    from eoscheck.properties.fitted import fitted_constant

    assert fitted_constant("thm3.lower") == rec["value"]


def test_check_json_goes_to_stdout_and_writes_no_file(tmp_path, monkeypatch, capsys):
    import json

    from eoscheck.cli import main

    monkeypatch.chdir(tmp_path)
    assert main(["check", "lemma14.first_step", "--profile", "ci", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [c["id"] for c in data["claims"]] == ["lemma14.first_step"]
    assert not (tmp_path / "reports").exists()


@pytest.mark.parametrize("content,says", [
    (None, "file not found"),                                              # a typo in the path
    ("{not json", "is not a fitted-constants file (JSONDecodeError"),
    ('{"claims": {"thm3.lower": {"value": "x"}}}', "is not a fitted-constants file (ValueError"),
    ('{"claims": []}', "is not a fitted-constants file (not {"),
])
@pytest.mark.parametrize("command", [["check", "thm3.lower", "--profile", "ci"], ["report", "--profile", "tiny"]])
def test_a_bad_fitted_constants_file_is_refused_before_any_work(content, says, command, tmp_path, monkeypatch,
                                                                 capsys):
    """$EOSCHECK_FITTED_CONSTANTS naming a missing or malformed file: exit 2 with one line, nothing run.  A
    missing file used to be ignored silently (the package's constants checked instead of the user's); a
    malformed one made every fitted claim an "error" (exit 1)."""
    from eoscheck.cli import main

    path = tmp_path / "mine.json"
    if content is not None:
        path.write_text(content)
    monkeypatch.setenv("EOSCHECK_FITTED_CONSTANTS", str(path))
    argv = command + (["--out", str(tmp_path / "r"), "--cache-dir", str(tmp_path / "c")] if command[0] == "report"
                      else [])
    assert main(argv) == 2
    err = capsys.readouterr().err.strip()
    assert err.startswith(f"eoscheck {command[0]}: error: EOSCHECK_FITTED_CONSTANTS={path}") and says in err
    assert "\n" not in err and not (tmp_path / "r").exists() and not (tmp_path / "c").exists()


def test_fit_refuses_an_output_that_is_not_a_constants_file_before_calibrating(tmp_path, monkeypatch, capsys):
    """`fit -o bad.json` (an existing file that is not a constants file) calibrated first, then refused: the
    calibration (minutes with all claims) was lost.  Now refused before any calibration, the file untouched."""
    import eoscheck.properties.fitted as F
    from eoscheck.cli import main

    calls = []
    record = {"constant_name": "C", "value": 1.0, "envelope": "max", "points": 1, "worst_instance": "-",
              "seconds": 0.0}   # a valid record: the refusal, not a KeyError on an empty one, must stop the command
    monkeypatch.setattr(F, "calibrate", lambda c: calls.append(c) or record)
    bad = tmp_path / "bad.json"
    bad.write_text('{"mine": [1, 2]}')
    assert main(["fit", "thm3.lower", "-o", str(bad)]) == 2
    err = capsys.readouterr().err.strip()
    assert "is not a fitted-constants file" in err and "\n" not in err
    assert calls == [] and bad.read_text() == '{"mine": [1, 2]}'


def test_a_fitted_witness_states_the_limit_it_broke_and_where_its_constant_came_from(tmp_path, monkeypatch, capsys):
    """With C = 0.01 in a user's constants file, cor2.rate's witness printed "measured 0.386 vs bound 0.130" — the
    constant-free shape, which the measured value does not "break" by the table's ratio 296 — while the point's
    ratio said 2.96, and nothing recorded that C came from $EOSCHECK_FITTED_CONSTANTS."""
    import json
    import math

    from eoscheck.cli import main

    C = 0.01
    path = tmp_path / "c.json"
    path.write_text(json.dumps({"format": 1, "claims": {"cor2.rate": {"value": C}}}))
    monkeypatch.setenv("EOSCHECK_FITTED_CONSTANTS", str(path))
    assert main(["check", "cor2.rate", "--profile", "ci", "--json", "--counterexamples", str(tmp_path / "cx")]) == 1
    rep = json.loads(capsys.readouterr().out)["claims"][0]
    pt = rep["counterexample"]["point"]
    lim = C * pt["bound"] * (1 + 1) + pt["allowance"]      # margin 1 (FitSpec's default)
    assert f"vs limit {lim:.6g}" in rep["message"] and f"C = {C:g}" in rep["message"]
    assert pt["measured"] > lim
    wp = rep["worst_point"]
    assert math.isclose(wp["ratio"], rep["worst_ratio"], rel_tol=1e-15)
    assert math.isclose(wp["ratio"], wp["shape_ratio"] / C, rel_tol=1e-15)
    assert rep["constant_source"] == f"EOSCHECK_FITTED_CONSTANTS={path}"
    saved = json.loads(open(rep["counterexample_file"]).read())
    assert saved["constant"] == C and saved["constant_source"] == rep["constant_source"]
    assert main(["replay", rep["counterexample_file"]]) == 1
    assert f"vs limit {lim:.17g}" in capsys.readouterr().out
    # replayed with the package's constants, C = 2.7 there: not the constant the witness broke, said in one line
    monkeypatch.delenv("EOSCHECK_FITTED_CONSTANTS")
    assert main(["replay", rep["counterexample_file"]]) == 2
    err = capsys.readouterr().err
    assert f"not {C!r} (the file's, from EOSCHECK_FITTED_CONSTANTS={path})" in err and err.count("\n") == 1


def test_fit_refuses_to_write_the_packages_own_constants_file(capsys):
    """``eoscheck fit -o <package>/properties/fitted_constants.json`` rewrote the file the commands say is never
    written (a reviewer's run); it is refused before calibrating, in one line, and left as it was."""
    from pathlib import Path

    from eoscheck.cli import main
    from eoscheck.properties.fitted import CONSTANTS_FILE

    before = Path(CONSTANTS_FILE).read_bytes()
    assert main(["fit", "thm3.lower", "-o", str(CONSTANTS_FILE)]) == 2
    assert "package's own constants file" in capsys.readouterr().err
    assert Path(CONSTANTS_FILE).read_bytes() == before


@pytest.mark.parametrize("value", [-1e-6, 0.0])
def test_a_constants_file_with_a_constant_that_is_not_positive_is_refused(tmp_path, value):
    """A fitted constant −1e-6 was accepted: check convicted with it and saved a witness that replay then refused as
    "edited or corrupt" (its constant must be > 0); 0 divided by zero inside check.  C·shape with C ≤ 0 bounds
    nothing: the file is refused in one line."""
    import json

    from eoscheck import EoscheckError
    from eoscheck.properties.fitted import load_constants

    f = tmp_path / "c.json"
    f.write_text(json.dumps({"format": 1, "claims": {"table1.logistic_rate": {"value": value}}}))
    with pytest.raises(EoscheckError, match="positive number"):
        load_constants(f)
