"""Can the checker tell truth from falsehood?  (issue 5 §5)

Twelve deliberately false statements — each shown false below by reasoning or an
explicit instance — and fourteen true ones (twelve claims of the registry and two
of the paper's bounds typed in as user conjectures).  The suite must falsify every
false one and none of the true ones.  The false statements go through the same
machinery a user or a registered claim gets (``check_conjecture`` at ``smoke``
effort, ``run_claim`` under the ``ci`` profile); nothing below is tuned to them.

The score is printed by ``test_score`` (``pytest tests/test_truth_table.py -q -s``)
and written as JSON to ``$EOSCHECK_TRUTH_TABLE`` when that variable is set.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np
import pytest

from eoscheck.properties.asymptotic import _thm3_calibration, _thm3_strategy, thm3_lower_evaluate
from eoscheck.properties.claims import Claim, FitSpec
from eoscheck.properties.conjecture import Conjecture, check_conjecture
from eoscheck.properties.exact import (_any_start, _descent_instances, _lemma14_thm3_instances, _params,
                                       first_step_increase, monotone_after, monotone_below, theorem1_canonical,
                                       theorem1_instances)
from eoscheck.properties.instances import Instance
from eoscheck.properties.numerics import allowance
from eoscheck.properties.observe import Arrays, worst_per_row
from eoscheck.properties.runner import run_claim

LN2 = math.log(2)


@dataclass
class Statement:
    name: str
    why: str = ""                       # why it is false (false statements) or its source (true ones)
    conjecture: dict | None = None      # kwargs of Conjecture.parse
    claim: Claim | str | None = None    # a Claim object, or a registry id


def _falsified(st: Statement) -> bool:
    if st.conjecture is not None:
        return check_conjecture(Conjecture.parse(**st.conjecture), "smoke").falsified
    return run_claim(st.claim, "ci").verdict == "FALSIFIED"


# --- false claims built from the registry's own evaluators with a wrong constant ----------------


def _prop15_uncorrected(inst: Instance):
    """The paper's certificate as printed: L(w_t) ≤ 1/n ⇒ every margin ≥ 0."""
    A = Arrays.of(inst.trajectory())
    mask = A.logL <= math.log(1 / inst.data.n)
    return worst_per_row(A.min_margin, 0.0, allowance(A.wn), mask, ">=", _params(inst, A))


def _thm3_sqrt(inst: Instance):
    ev = thm3_lower_evaluate(inst)
    ev.bound = np.sqrt(ev.bound)  # shape 1/√t instead of 1/t
    return ev


def _claim(id, title, strategy, evaluate, direction="<=", kind="exact", fit=None, explicit=None):
    """A false statement checked exactly like the registry claim it mimics (same instances, canonical first)."""
    return Claim(id=id, title=title, source="truth table (deliberately false)", row=None, kind=kind,
                 quantity="", direction=direction, strategy=strategy, evaluate=evaluate, examples=6, fit=fit,
                 explicit=explicit)


FALSE = [
    Statement(
        "EoS bound without the η² term",
        "w₁ = (η/2)z̄; on Theorem 3's data z₂·z̄ = γ²−(1−γ²)/8 < 0, so L(w₁) ≥ ℓ(−(η/2)·0.12)/2 ≈ 0.03η: "
        "(1/2)Σ_{k<2}L(w_k) grows like η while C(1+ln²(2γ²η))/(2γ²η) → 0 (γ = 0.05, η = 1000: 15 vs 0.002C)",
        conjecture=dict(text="avg_loss(t) <= C*(1+log(gamma**2*eta*t)**2)/(gamma**2*eta*t)",
                        where=["gamma**2*eta*t >= 1"])),
    Statement(
        "stable rate 1/(ηt)²",
        "once stable, L(w_t)·γ²ηt → 1 (paper §2.4, measured 25 = 1/γ² on the raw toy set), so "
        "L(w_t)(ηt)² ≈ ηt/γ² → ∞ for any C",
        conjecture=dict(text="loss(t) <= C/(eta*t)**2")),
    Statement(
        "no EoS for η < 20",
        "Theorem 3's data with γ = 0.05: the first step increases the loss for η > 14.7 (paper §4 [N]); "
        "η = 18 gives L(w₁) > L(w₀)",
        conjecture=dict(text="last_increase <= 0", ranges={"eta": "1:20"})),
    Statement(
        "Corollary 2 with a 1/T³ rate",
        "with η = γ²T/120, L(w_T) ≈ 1/(γ²ηT) = 120/(γ⁴T²) once stable: the ratio to ln²/T³ grows like T/ln²T",
        conjecture=dict(text="final_loss <= C*log(gamma**4*T**2)**2/(gamma**4*T**3)", eta_of_T="gamma**2*T/120")),
    Statement(
        "transition time independent of γ",
        "one point x = (γ) in d = 1: each step raises the margin by at most ηγ, so L(w_t) ≥ ln(1+e^{−ηγ²t}) and "
        "L ≤ 1/η needs t ≥ ln(η/2)/(ηγ²) — unbounded against C·max{η, n} as γ → 0",
        conjecture=dict(text="transition_time(1/eta) <= C*max(eta, n)")),
    Statement(
        "G-average bound without the η term",
        "on Theorem 3's data with η large one point is misclassified after the first step, G(w₁) ≥ 1/4, so the "
        "average of G over 2 steps stays ≥ 1/8 while C(√2+2ln(2γ²η))/(2γ²η) → 0",
        conjecture=dict(text="grad_potential_avg(t) <= C*(sqrt(2)+2*log(gamma**2*eta*t))/(gamma**2*eta*t)",
                        where=["gamma**2*eta*t >= 3"])),
    Statement(
        "norm bound without the η term",
        "‖w₁‖ = (η/2)‖z̄‖ grows linearly in η; C ln(γ²η)/γ grows like ln η",
        conjecture=dict(text="w_norm(t) <= C*log(gamma**2*eta*t)/gamma", where=["gamma**2*eta*t >= 3"])),
    Statement(
        "Proposition 15's certificate as printed (L ≤ 1/n ⇒ zero training error)",
        "erratum §11.8: ℓ(m) ≤ 1 only gives m ≥ −ln(e−1) ≈ −0.54; two points with margins −0.1 and +∞ have "
        "L = ℓ(−0.1)/2 = 0.37 ≤ 1/2 with one point misclassified (GD reaches such states during EoS)",
        claim=_claim("false.prop15_printed", "L ≤ 1/n ⇒ all margins ≥ 0", theorem1_instances, _prop15_uncorrected,
                     ">=", explicit=theorem1_canonical)),
    Statement(
        "monotone once L(w_s) ≤ 100/η",
        "L(w₀) = ln 2 ≤ 100/η for every η ≤ 144, so every non-monotone run with η ≤ 144 breaks it, e.g. "
        "Theorem 3's data, γ = 0.05, η = 18 (the first step increases the loss)",
        claim=_claim("false.monotone_100", "L(w_s) ≤ 100/η ⇒ monotone after s", _any_start,
                     lambda i: monotone_after(i, lambda eta, n: 100 / eta, paper_c=100), explicit=theorem1_canonical)),
    Statement(
        "Lemma 14 with threshold 10 instead of 40 ln 2",
        "on Theorem 3's data the actual first-step threshold is ≈ 14.1–16.2 (paper §4 [N]); η = 12 gives "
        "L(w₁) < ln 2",
        claim=_claim("false.lemma14_10", "Theorem 3 data: η > 10 ⇒ L(w₁) > ln 2",
                     lambda b: _lemma14_thm3_instances(b, eta_min=10.0),
                     lambda i: first_step_increase(i, 10.0), ">=")),
    Statement(
        "descent lemma with 4/β instead of 2/β",
        "Theorem 3's data (γ = 0.05) has 2/β ≈ 12.8 (paper §4) and η = 18 < 4/β ≈ 25.6 increases the loss at the "
        "first step",
        claim=_claim("false.descent_2x", "η < 4/β ⇒ monotone", lambda b: _descent_instances(b, factor=2.0),
                     lambda i: monotone_below(i, 2.0))),
    Statement(
        "Theorem 3's lower bound with c/√t",
        "monotone runs on Theorem 3's data have L(w_t) ≈ 1/(γ²ηt) (the plateau), so √t·L(w_t) → 0",
        claim=_claim("false.thm3_sqrt", "monotone GD on Theorem 3's data: L(w_t) ≥ c/√t", _thm3_strategy, _thm3_sqrt,
                     ">=", kind="asymptotic",
                     fit=FitSpec(shape="1/√t", constant="c", calibration=_thm3_calibration,
                                 calibration_doc="as thm3.lower",
                                 ladders={"t": lambda b: [_thm3_lower_t_ladder(b)]}))),
]


def _thm3_lower_t_ladder(b):
    from eoscheck.properties.asymptotic import _thm3_instance

    return _thm3_instance(0.05, (4.0,), b.steps(8000))


TRUE = [Statement(cid, "registry", claim=cid) for cid in (
    "thm1.eos_average", "thm1.w_norm", "lemma9.G_average", "thm1.stable_bound", "thm1.tau", "lemma10.monotone",
    "lemma14.first_step", "classic.descent_lemma", "cor2.bound", "crawshaw_liu.stable_bound", "thm35.eos_average",
    "thm3.lower")] + [
    Statement("Theorem 1's EoS bound typed as a conjecture", "Theorem 1 / Lemma 8",
              conjecture=dict(text="avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)",
                              where=["gamma**2*eta*t >= 1"])),
    Statement("the small-stepsize rate O(ln²(γ²ηt)/(γ²ηt)) for η ≤ 4", "classic (paper §9.7)",
              conjecture=dict(text="loss(t) <= C*(1+log(gamma**2*eta*t)**2)/(gamma**2*eta*t)",
                              ranges={"eta": "0.25:4"}, where=["gamma**2*eta*t >= 1"])),
]

_RESULTS: dict[str, bool] = {}


def _result(st: Statement) -> bool:
    if st.name not in _RESULTS:
        _RESULTS[st.name] = _falsified(st)
    return _RESULTS[st.name]


@pytest.mark.parametrize("st", FALSE, ids=[s.name for s in FALSE])
def test_false_statement_is_falsified(st):
    assert _result(st), f"not falsified: {st.name} ({st.why})"


@pytest.mark.parametrize("st", TRUE, ids=[s.name for s in TRUE])
def test_true_statement_is_not_falsified(st):
    assert not _result(st), f"falsified, but true: {st.name}"


def test_score():
    assert len(FALSE) >= 10 and len(TRUE) >= 10
    caught = sum(_result(s) for s in FALSE)
    spared = sum(not _result(s) for s in TRUE)
    line = (f"truth table: {caught}/{len(FALSE)} false statements falsified, "
            f"{spared}/{len(TRUE)} true statements not falsified")
    print("\n" + line)
    out = os.environ.get("EOSCHECK_TRUTH_TABLE")
    if out:
        with open(out, "w") as fh:
            json.dump({"false": {s.name: {"falsified": _result(s), "why": s.why} for s in FALSE},
                       "true": {s.name: {"falsified": _result(s)} for s in TRUE},
                       "score": line}, fh, indent=1)
    assert caught == len(FALSE) and spared == len(TRUE), line
