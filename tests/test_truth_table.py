"""Can the checker tell truth from falsehood?  (issue 5 §5, issue 11 §5)

Deliberately false statements — each shown false below by reasoning or an explicit instance —
and true ones: trivially true exact bounds, statements tight at γ* on the canonical data, the
paper's exact statements typed in as user conjectures, fitted lower and upper bounds, and claims
of the registry.  The suite must falsify every false one (with a confirmed witness) and none of
the true ones.  Everything goes through the machinery a user or a registered claim gets
(``check_conjecture`` at ``smoke`` effort unless stated, ``run_claim`` under the ``ci`` profile);
nothing below is tuned to them.

The default run checks every statement once (derandomized); ``test_true_statements_across_seeds``
(``-m slow``) re-checks every true statement under 5 more seeds.  The score (false positives and
false negatives) is printed by ``test_score`` (``pytest tests/test_truth_table.py -q -s``) and
written as JSON to ``$EOSCHECK_TRUTH_TABLE`` when that variable is set.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass

import numpy as np
import pytest

from eoscheck.properties.claims import Claim, FitSpec
from eoscheck.properties.conjecture import Conjecture
from eoscheck.properties.decide import check_conjecture
from eoscheck.properties.classics import descent_instances, monotone_below
from eoscheck.properties.exact_engine import any_start_instances, point_params, theorem1_canonical, theorem1_instances
from eoscheck.properties.instances import Instance
from eoscheck.properties.numerics import allowance
from eoscheck.properties.observe import Arrays, worst_per_row
from eoscheck.properties.runner import run_claim
from eoscheck.properties.theorem1 import monotone_after
from eoscheck.properties.theorem4 import prop15_instances as _prop15_strategy
from eoscheck.properties.theorem3 import (first_step_increase, lemma14_thm3_instances, thm3_calibration,
                                          thm3_lower_evaluate, thm3_strategy)

LN2 = math.log(2)


@dataclass
class Statement:
    name: str
    why: str = ""                       # why it is false (false statements) or its source (true ones)
    conjecture: dict | None = None      # kwargs of Conjecture.parse
    claim: Claim | str | None = None    # a Claim object, or a registry id
    effort: str = "smoke"               # conjectures: the --effort level


def _falsified(st: Statement, seed: int | None = None) -> bool:
    if st.conjecture is not None:
        rep = check_conjecture(Conjecture.parse(**st.conjecture), st.effort, seed)
        if rep.falsified:  # a FALSIFIED verdict always carries a confirmed witness inside the ranges
            pt = rep.counterexample["point"]
            assert (pt["measured"] > pt["limit"]) if "<=" in st.conjecture["text"] else (pt["measured"] < pt["limit"])
        return rep.falsified
    return run_claim(st.claim, "ci", seed=seed).verdict == "FALSIFIED"


# --- false claims built from the registry's own evaluators with a wrong constant ----------------


def _prop15_uncorrected(inst: Instance):
    """The paper's certificate as printed: L(w_t) ≤ 1/n ⇒ every margin ≥ 0."""
    A = Arrays.of(inst.trajectory())
    mask = A.logL <= math.log(1 / inst.data.n)
    return worst_per_row(A.min_margin, 0.0, allowance(A.wn), mask, ">=", point_params(inst, A))


def _prop15_witness(budget) -> list[Instance]:
    """The witness the statement's text describes, tried first: whether a random draw meets a 5-against-4 exceedance
    depends on the draws, which change with Hypothesis's seed."""
    from eoscheck.properties.strategies import build_separable, with_certificate

    return [Instance(with_certificate(build_separable(100, 4, 0.02, seed=0)), "logistic", (8.0,), 300,
                     extra={"delta": 0.05, "n_train": 64, "samples": 256, "seed": 0})]


def _prop15_over_n2(inst: Instance):
    """Proposition 15's test-error bound divided by n once more: 4(d ln(n+1) + ln(4/δ))/n²."""
    from eoscheck.bounds import theorem4
    from eoscheck.properties.bound_values import at
    from eoscheck.properties.theorem4 import error_exceedances

    n, delta = int(inst.extra["n_train"]), float(inst.extra["delta"])
    return error_exceedances(inst, float(at(theorem4.TEST_ERROR, d=inst.data.d, n=n, delta=delta)) / n)


def _thm3_sqrt(inst: Instance):
    ev = thm3_lower_evaluate(inst)
    ev.bound = np.sqrt(ev.bound)  # shape 1/√t instead of 1/t
    return ev


def _claim(id, title, strategy, evaluate, direction="<=", kind="exact", fit=None, explicit=None):
    """A false statement checked exactly like the registry claim it mimics (same instances, canonical first)."""
    return Claim(id=id, title=title, source="truth table (deliberately false)", row=None, kind=kind,
                 quantity="", direction=direction, strategy=strategy, evaluate=evaluate, examples=6, fit=fit,
                 explicit=explicit)


FALSE: list[Statement] = [
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
        "Proposition 15's test-error bound over n²",
        "64 draws from a population of 100 points (d = 4, γ = 0.02) leave (1 − 1/100)⁶⁴ ≈ 53 % of it unseen, where "
        "a ŵ consistent with the sample (GD at η = 8, 300 steps) errs on points nearest its boundary: in 77 of 256 "
        "samples ŵ is consistent and errs above 4(4 ln 65 + ln 80)/64² ≈ 0.021, against 34 allowed at δ = 0.05 "
        "(the 1 − 10⁻⁷ quantile of Binomial(256, δ): Proposition 15 bounds the joint event)",
        claim=_claim("false.prop15_over_n2", "consistent ŵ: Pr(yxᵀŵ < 0) ≤ 4(d ln(n+1) + ln(4/δ))/n²",
                     _prop15_strategy, _prop15_over_n2, explicit=_prop15_witness)),
    Statement(
        "monotone once L(w_s) ≤ 100/η",
        "L(w₀) = ln 2 ≤ 100/η for every η ≤ 144, so every non-monotone run with η ≤ 144 breaks it, e.g. "
        "Theorem 3's data, γ = 0.05, η = 18 (the first step increases the loss)",
        claim=_claim("false.monotone_100", "L(w_s) ≤ 100/η ⇒ monotone after s", any_start_instances,
                     lambda i: monotone_after(i, lambda eta, n: 100 / eta, paper_c=100), explicit=theorem1_canonical)),
    Statement(
        "Lemma 14 with threshold 10 instead of 40 ln 2",
        "on Theorem 3's data the actual first-step threshold is ≈ 14.1–16.2 (paper §4 [N]); η = 12 gives "
        "L(w₁) < ln 2",
        claim=_claim("false.lemma14_10", "Theorem 3 data: η > 10 ⇒ L(w₁) > ln 2",
                     lambda b: lemma14_thm3_instances(b, eta_min=10.0),
                     lambda i: first_step_increase(i, 10.0), ">=")),
    Statement(
        "descent lemma with 4/β instead of 2/β",
        "Theorem 3's data (γ = 0.05) has 2/β ≈ 12.8 (paper §4) and η = 18 < 4/β ≈ 25.6 increases the loss at the "
        "first step",
        claim=_claim("false.descent_2x", "η < 4/β ⇒ monotone", lambda b: descent_instances(b, factor=2.0),
                     lambda i: monotone_below(i, 2.0))),
    Statement(
        "Theorem 3's lower bound with c/√t",
        "monotone runs on Theorem 3's data have L(w_t) ≈ 1/(γ²ηt) (the plateau), so √t·L(w_t) → 0",
        claim=_claim("false.thm3_sqrt", "monotone GD on Theorem 3's data: L(w_t) ≥ c/√t", thm3_strategy, _thm3_sqrt,
                     ">=", kind="asymptotic",
                     fit=FitSpec(shape="1/√t", constant="c", calibration=thm3_calibration,
                                 calibration_doc="as thm3.lower",
                                 ladders={"t": lambda b: [_thm3_lower_t_ladder(b)]}))),
]


def _thm3_lower_t_ladder(b):
    from eoscheck.properties.theorem3 import thm3_instance

    # the t ladder where the plateau 1/(γ²ηt) is lowest inside the domain (γ → 0.1, monotone η = 14)
    return thm3_instance(0.09, (14.0,), b.steps(8000))


def _c(text, **kw):
    return dict(text=text, **kw)


THM3_LIKE = "Theorem 3-like data (z₂·z̄ < 0) and large η"

FALSE += [
    Statement("‖∇L‖ ≤ 1/4 (constant off: the true bound is 1)",
              "at w₀ = 0, ‖∇L‖ = ‖z̄‖/2, which is 1/2 for one point of norm 1; still > 1/4 after a step of η = 1/4",
              conjecture=_c("grad_norm(t) <= 1/4")),
    Statement("G ≤ 0.4 (constant off: G ≤ 1)", "G(w₀) = ℓ′(0) = 1/2 and G moves little for η = 1/4",
              conjecture=_c("grad_potential(t) <= 0.4")),
    Statement("zero training error at every t", "EoS: on " + THM3_LIKE + " the first step misclassifies z₂",
              conjecture=_c("train_error(t) <= 0")),
    Statement("normalized margin ≤ γ*/2 (constant off; the true bound is γ*)",
              "x = (0.3, 0.4): every w_t is a positive multiple of x, normalized margin = 0.5 = γ* > 0.25",
              conjecture=_c("normalized_margin(t) <= gamma/2")),
    Statement("‖w₁‖ ≥ ηγ* (constant off: the perceptron step gives ηγ*/2)",
              "x = (0.3, 0.4): ‖w₁‖ = η‖x‖/2 = ηγ*/2 exactly", conjecture=_c("w_norm(1) >= eta*gamma")),
    Statement("‖∇L(w₀)‖ ≥ γ* (constant off: γ*/2)", "x = (0.3, 0.4): ‖∇L(0)‖ = ‖x‖/2 = γ*/2",
              conjecture=_c("grad_norm(0) >= gamma")),
    Statement("L(w₀) ≤ 0.693 (a digit short of ln 2)", "L(w₀) = ln 2 = 0.693147… > 0.693",
              conjecture=_c("loss(0) <= 0.693")),
    Statement("average loss ≥ 2 ln 2 / t (constant off: ln 2 / t)",
              "one point, η large: L(w₁) ≈ 0, so the average of L(w₀), L(w₁) is ≈ ln 2 / 2 < 2 ln 2 / 2",
              conjecture=_c("avg_loss(t) >= 2*log(2)/t")),
    Statement("Theorem 1's EoS bound with λ² in the denominator (exponent off)",
              "λ = γ²ηt: the average loss is ≥ ln 2/t, while (1+ln²λ+η²/4)/λ² ≤ (1 + ln²λ + η²/4)/(γ⁴η²t²) is far "
              "smaller for large t (e.g. γ = 0.9, η = 1, t = 400)",
              conjecture=_c("avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)**2",
                            where=["gamma**2*eta*t >= 1"])),
    Statement("sharpness ≤ 1/8 (constant off: ℓ″ ≤ 1/4 gives 1/4)",
              "duplicated points x = (0.1, ±0.995): at w₀ = 0 the Hessian is diag(0.01, 0.99)/4, λ_max ≈ 0.2475",
              conjecture=_c("sharpness(t) <= 1/8")),
    Statement("wrong loss family: Theorem 1's EoS bound for the exponential loss",
              THM3_LIKE + ": after one step z₂ has margin ≈ −0.12η/2 and exp(0.06η) overwhelms "
              "(1+ln²λ+η²/4)/λ ≈ η/(4γ²)",
              conjecture=_c("avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)",
                            loss="exponential", where=["gamma**2*eta*t >= 1"])),
    Statement("wrong loss family: ‖∇L‖ ≤ 1 for the exponential loss",
              "|ℓ′(z)| = e^{−z} is unbounded: a misclassified point at margin −0.06η has gradient e^{0.06η}/2",
              conjecture=_c("grad_norm(t) <= 1", loss="exponential")),
    Statement("the exponential potential never exceeds F(w₀) = 1",
              THM3_LIKE + ": F(w₁) ≥ exp(0.06η)/2 > 1", conjecture=_c("exp_potential(t) <= 1")),
]

TRUE_CONJECTURES = [
    Statement("‖∇L(w_t)‖ ≤ 1", "‖∇L‖ ≤ mean|ℓ′|·max‖x‖ ≤ 1 (exact, issue 11's report)",
              conjecture=_c("grad_norm(t) <= 1")),
    Statement("G(w_t) ≤ 1", "|ℓ′| ≤ 1 for the logistic loss", conjecture=_c("grad_potential(t) <= 1")),
    Statement("training error ≤ 1", "a fraction", conjecture=_c("train_error(t) <= 1")),
    Statement("normalized margin ≤ γ* (tight at γ* on the one-point set)",
              "minᵢ⟨zᵢ, w⟩/‖w‖ ≤ γ* by definition; equality for x = (0.3, 0.4), where the solver's γ* is "
              "0.4999999999999858", conjecture=_c("normalized_margin(t) <= gamma")),
    Statement("‖w₁‖ ≥ ηγ*/2 (tight at γ* on the one-point set)",
              "w₁ = (η/2)z̄ and ⟨z̄, w*⟩ ≥ γ* (Lemma 9's perceptron step at t = 0)",
              conjecture=_c("w_norm(1) >= eta*gamma/2")),
    Statement("‖∇L(w₀)‖ ≥ γ*/2 (tight at γ* on the one-point set)", "‖z̄‖/2 ≥ ⟨z̄, w*⟩/2 ≥ γ*/2",
              conjecture=_c("grad_norm(0) >= gamma/2")),
    Statement("L(w₀) ≤ ln 2 (tight)", "L(0) = ln 2", conjecture=_c("loss(0) <= log(2)")),
    Statement("max_t L(w_t) ≥ ln 2 (tight)", "the maximum includes L(w₀) = ln 2", conjecture=_c("max_loss >= log(2)")),
    Statement("F(w₀) ≤ 1 (tight)", "F(0) = 1", conjecture=_c("exp_potential(0) <= 1")),
    Statement("average loss ≥ ln 2 / t (tight for one point and large η)", "the average includes L(w₀)/t = ln 2/t",
              conjecture=_c("avg_loss(t) >= log(2)/t")),
    Statement("sharpness ≤ 1/4", "ℓ″ ≤ 1/4 and ‖x‖ ≤ 1", conjecture=_c("sharpness(t) <= 1/4")),
    Statement("Theorem 1's EoS bound typed as a conjecture", "Theorem 1 / Lemma 8",
              conjecture=_c("avg_loss(t) <= (1+log(gamma**2*eta*t)**2+eta**2/4)/(gamma**2*eta*t)",
                            where=["gamma**2*eta*t >= 1"])),
    Statement("Lemma 8's norm bound typed as a conjecture", "Lemma 8",
              conjecture=_c("w_norm(t) <= (sqrt(2)+2*log(gamma**2*eta*t)+eta)/gamma", where=["gamma**2*eta*t >= 1"])),
    Statement("Lemma 9's G-average bound typed as a conjecture", "Lemma 9",
              conjecture=_c("grad_potential_avg(t) <= (sqrt(2)+2*log(gamma**2*eta*t)+eta)/(gamma**2*eta*t)",
                            where=["gamma**2*eta*t >= 1"])),
    Statement("the small-stepsize rate O(ln²(γ²ηt)/(γ²ηt)) for η ≤ 4 (fitted)", "classic (paper §9.7)",
              conjecture=_c("loss(t) <= C*(1+log(gamma**2*eta*t)**2)/(gamma**2*eta*t)",
                            ranges={"eta": "0.25:4"}, where=["gamma**2*eta*t >= 1"])),
    Statement("fitted lower bound ‖w₁‖ ≥ c·ηγ*", "c = 1/2 holds exactly (above); the fit finds c ≥ 1/2",
              conjecture=_c("w_norm(1) >= c*eta*gamma")),
    Statement("fitted lower bound: average loss ≥ c/t", "c = ln 2 holds exactly (above)",
              conjecture=_c("avg_loss(t) >= c/t")),
]


TRUE_CONJECTURES.append(
    Statement("descent lemma typed: η < 2/β = 8 ⇒ the loss never increases", "L is 1/4-smooth (ℓ″ ≤ 1/4, ‖x‖ ≤ 1)",
              conjecture=_c("last_increase <= 0", ranges={"eta": "0.25:7.9"})))

TRUE = TRUE_CONJECTURES + [Statement(cid, "registry", claim=cid) for cid in (
    "lemma9.perceptron_step", "thm1.tau", "lemma10.monotone", "lemma14.first_step",
    "classic.descent_lemma", "cor2.bound", "thm3.lower", "lemma13.lower", "prop15.test_error")]

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


#: Seeds of the multi-seed sweep (the default run has seed None, i.e. properties.search.UNSEEDED = 0).
SEEDS = (1, 2, 3, 4, 5)


@pytest.mark.slow
@pytest.mark.parametrize("st", TRUE, ids=[s.name for s in TRUE])
def test_true_statements_across_seeds(st, request):
    if "slow" not in (request.config.getoption("markexpr") or ""):
        pytest.skip("the multi-seed sweep runs with -m slow (about 6 minutes on 2 loaded cores)")
    hit = [s for s in SEEDS if _falsified(st, s)]
    assert not hit, f"falsified, but true: {st.name} under seed(s) {hit}"


def test_score():
    assert len(FALSE) >= 25 and len(TRUE) >= 25
    fn = [s.name for s in FALSE if not _result(s)]   # false statements the checker let through
    fp = [s.name for s in TRUE if _result(s)]        # true statements it condemned
    line = (f"truth table: {len(FALSE) - len(fn)}/{len(FALSE)} false statements falsified, "
            f"{len(TRUE) - len(fp)}/{len(TRUE)} true statements not falsified; "
            f"false positives {len(fp)}, false negatives {len(fn)}")
    print("\n" + line)
    out = os.environ.get("EOSCHECK_TRUTH_TABLE")
    if out:
        with open(out, "w") as fh:
            json.dump({"false": {s.name: {"falsified": _result(s), "why": s.why} for s in FALSE},
                       "true": {s.name: {"falsified": _result(s)} for s in TRUE},
                       "score": line}, fh, indent=1)
    assert not fn and not fp, f"{line}: FP {fp}, FN {fn}"
