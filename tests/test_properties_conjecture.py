"""Conjectures: safe parsing, constant fitting, verdicts and exit codes."""

import json

import numpy as np
import pytest

from eoscheck import EoscheckError
from eoscheck.cli import main
from eoscheck.properties.conjecture import PARAMS, Conjecture, fit_constants


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
        assert main(["replay", str(files[0])]) == 1


def test_true_conjecture_exits_0_and_bad_input_exits_2():
    # Theorem 1's EoS bound itself, where it is proven
    assert main(["conjecture", "avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)",
                 "--where", "gamma**2*eta*t >= 1", "--effort", "smoke"]) == 0
    assert main(["conjecture", "loss(t) <= exec('1')"]) == 2
    assert main(["conjecture", "loss(t) <= 1", "--eta", "5:1"]) == 2
