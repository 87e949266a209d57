"""``eoscheck replay`` checks that a witness file is one its claim speaks about (properties/hypotheses.py).

Each file below was REPRODUCED (exit 1: "the theorem is violated") or crashed with a traceback before: replay
trusted the file's margin certificate, constant, margin, hard-instance γ, and its data's assumptions.
"""

import json

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from eoscheck.cli import main
from eoscheck.datasets import crawshaw_liu_instance1, toy
from eoscheck.properties.hypotheses import certificate_conflict
from eoscheck.properties.strategies import with_certificate


def _constant(claim_id):
    """The constant ``eoscheck check`` saves with a witness of the claim: its fitted one, else 1."""
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.fitted import claim_constant

    c = get_claim(claim_id)
    return claim_constant(c)[0] if c.fit is not None else 1.0


def _witness(tmp_path, claim_id, data, etas, steps, extra=None, constant=None, margin=0.0, name="w.json"):
    constant = _constant(claim_id) if constant is None else constant
    meta = {k: (v.tolist() if isinstance(v, np.ndarray) else v) for k, v in data.meta.items()}
    obj = {"format": "eoscheck-counterexample/1", "kind": "claim", "claim": {"id": claim_id},
           "constant": constant, "margin": margin, "point": None,
           "instance": {"data": {"name": data.name, "X": data.X.tolist(), "y": data.y.tolist(), "meta": meta},
                        "loss": "logistic", "etas": list(etas), "steps": steps, "w0": None, "extra": extra or {}}}
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


def test_data_outside_assumption_1_is_not_a_witness(tmp_path, capsys):
    """The raw toy set has ‖x‖ ≈ 2.01 > 1: Lemma 10 (Assumption 1) says nothing there, yet its loss rises after
    L ≤ 2/η (1.128 > 1 at η = 8, t = 15) and replay said REPRODUCED."""
    path = _witness(tmp_path, "lemma10.monotone", toy(normalized=False), [8.0, 16.0, 32.0, 64.0], 2000)
    assert main(["replay", path]) == 2
    assert "‖xᵢ‖ ≤ 1 fails" in capsys.readouterr().err


def test_a_hard_instance_with_another_gamma_is_not_a_witness(tmp_path, capsys):
    """Hard instance 1 built with γ = 0.1, η = 10884, its recorded γ edited to 0.002: the claim read γ from the
    file (bound n/(16γ) = 188, measured 12: REPRODUCED).  Its points are not hard instance 1 with γ = 0.002 (and
    η ≥ 32 ln(3/γ)/γ² fails for that γ)."""
    data = with_certificate(crawshaw_liu_instance1(6, 0.1))
    path = _witness(tmp_path, "crawshaw_liu.hard1_misclassified", data, [10883.831621318895], 188,
                    extra={"gamma": 0.002})
    assert main(["replay", path]) == 2
    assert "not hard instance 1 with n = 6, γ = 0.002" in capsys.readouterr().err
    missing = _witness(tmp_path, "crawshaw_liu.hard1_misclassified", data, [10883.831621318895], 188, name="m.json")
    assert main(["replay", missing]) == 2      # no γ recorded: a KeyError traceback with exit 1 before
    assert "is not a witness" in capsys.readouterr().err


@pytest.mark.parametrize("constant, margin", [(1e-3, 0.0), (1.0, -0.999), (float("nan"), 0.0), (1.0, 0.5)])
def test_an_exact_claim_is_replayed_with_constant_1_and_margin_0_only(tmp_path, capsys, constant, margin):
    """thm1.eos_average is exact: a file with constant 1e-3 or margin −0.999 said REPRODUCED (a NaN constant:
    "vs limit nan")."""
    data = with_certificate(toy(normalized=True))
    path = _witness(tmp_path, "thm1.eos_average", data, [8.0], 50, constant=constant, margin=margin)
    assert main(["replay", path]) == 2
    assert "edited or is corrupt" in capsys.readouterr().err


@pytest.mark.parametrize("factor", [1e6, 1e-6])
def test_a_fitted_claim_is_replayed_with_its_fitted_constant_only(tmp_path, capsys, factor):
    """thm3.lower (L_t ≥ c₀·shape, c₀ fitted: 0.629 in the package's file) on a valid Theorem 3 instance, the file's
    constant edited to 1e6·c₀: replay said REPRODUCED ("measured 0.6477 vs limit 500000", exit 1), convicting a true
    statement with a constant nobody fitted (a reviewer's file).  Probabilistic and fitted claims' constants were
    not checked at all."""
    from eoscheck.properties.fitted import fitted_constant
    from eoscheck.properties.theorem3 import thm3_instance

    C = fitted_constant("thm3.lower")
    inst = thm3_instance(0.05, (4.0,), 200)
    data = inst.data
    path = _witness(tmp_path, "thm3.lower", data, [4.0], 200, constant=C * factor, margin=1.0)
    assert main(["replay", path]) == 2
    err = capsys.readouterr().err
    assert f"fitted constant {C!r}" in err and "edited" in err and err.count("\n") == 1
    path = _witness(tmp_path, "thm3.lower", data, [4.0], 200, constant=C, margin=1.0, name="ok.json")
    assert main(["replay", path]) == 0      # its own constant: the statement holds there
    assert "NOT reproduced" in capsys.readouterr().out


def test_a_probabilistic_claim_is_replayed_with_constant_1_only(tmp_path, capsys):
    """thm4.sgd_bounds' limit is scaled by the file's constant, which replay did not check."""
    data = with_certificate(toy(normalized=True))
    path = _witness(tmp_path, "thm4.sgd_bounds", data, [1.0], 50, constant=1e-9)
    assert main(["replay", path]) == 2
    err = capsys.readouterr().err
    assert "checked with constant 1 and margin 0, not constant 1e-09" in err and "edited or is corrupt" in err


@pytest.mark.parametrize("delta", [0.0, 1.5, "0.1", None])
def test_a_probabilistic_witness_needs_a_confidence_in_0_1(tmp_path, capsys, delta):
    """thm4.sgd_bounds' limit is the quantile of Binomial(R, δ): replay did not check that δ is a probability."""
    data = with_certificate(toy(normalized=True))
    path = _witness(tmp_path, "thm4.sgd_bounds", data, [1.0], 50, extra={"paths": 8, "seed": 0, "delta": delta})
    assert main(["replay", path]) == 2
    assert "is not a probability in (0, 1)" in capsys.readouterr().err


def test_a_certificate_that_is_not_the_datas_is_refused(tmp_path, capsys):
    """The stored certificate [lo, hi] of the max margin is trusted only if it meets the one certified anew:
    the toy set's γ* is 0.2 (w* = (0, 1)); a file claiming γ* ∈ [0.06 − 1e-14, 0.06] along a worse unit w (its
    true margin there is ≥ 0.06) passed, and a statement about γ* was replayed against γ = 0.06."""
    data = with_certificate(toy(normalized=True))
    assert certificate_conflict(data) is None
    w = np.array([0.3, 1.0]) / np.hypot(0.3, 1.0)
    m = float((data.Z @ w).min())
    bad = type(data)(data.X, data.y, name=data.name,
                     meta=dict(data.meta, gamma_certified=m - 1e-14, gamma_certified_hi=m, w_star_certified=w.tolist()))
    assert m < 0.19 and "contradicts the data's, certified anew" in certificate_conflict(bad)
    path = _witness(tmp_path, "thm1.eos_average", bad, [8.0], 50)
    assert main(["replay", path]) == 2
    assert "certified anew" in capsys.readouterr().err


def test_lemma14_is_replayed_on_theorem_3s_data_only(tmp_path, capsys):
    """lemma14.first_step is stated on Theorem 3's two points thm3(γ): on other data (here the normalized toy set,
    whose first step at η = 40 ln 2 · 1.01 need not raise the loss) its "violation" says nothing about Lemma 14."""
    from eoscheck.datasets import thm3

    path = _witness(tmp_path, "lemma14.first_step", with_certificate(toy(normalized=True)), [28.0], 1)
    assert main(["replay", path]) == 2
    assert "not Theorem 3's two points" in capsys.readouterr().err
    bent = thm3(0.05)
    X = bent.X.copy()
    X[1, 1] *= 1 + 1e-12
    odd = with_certificate(type(bent)(X, bent.y, name=bent.name, meta=dict(bent.meta)))
    assert main(["replay", _witness(tmp_path, "lemma14.first_step", odd, [28.0], 1, name="b.json")]) == 2
    assert "not Theorem 3's two points thm3(γ = 0.05)" in capsys.readouterr().err
    honest = with_certificate(thm3(0.05), candidates=[np.array([1.0, 0.0])])
    assert main(["replay", _witness(tmp_path, "lemma14.first_step", honest, [28.0], 1, name="h.json")]) == 0


def test_meng_is_replayed_on_its_own_nonseparable_draws_only(tmp_path, capsys):
    """meng.no_convergence reads w⋆ and λ from the file: a file with w⋆ moved (GD then "converges" to no point it
    claims), with separable data, or with η below 2/λ was replayed as given.  Its data must be nonseparable(n, d,
    seed) and its w⋆, λ the data's; an honest draw is admitted."""
    from eoscheck.properties.classics import logistic_minimizer, nonseparable

    data = nonseparable(6, 2, 7)
    w = logistic_minimizer(data.Z)
    m = data.Z @ w
    s = 0.5 * (1 - np.tanh(m / 2))
    lam = float(np.linalg.eigvalsh((data.Z.T * (s * (1 - s))) @ data.Z / 6)[-1])
    honest = {"w_min": w.tolist(), "lam": lam}
    ok = _witness(tmp_path, "meng.no_convergence", data, [3 / lam], 200, extra=honest, name="ok.json")
    assert main(["replay", ok]) == 0
    moved = _witness(tmp_path, "meng.no_convergence", data, [3 / lam], 200, extra=dict(honest, w_min=[0.0, 0.0]),
                     name="moved.json")
    assert main(["replay", moved]) == 2 and "w⋆ or λ are not the data's" in capsys.readouterr().err
    slow = _witness(tmp_path, "meng.no_convergence", data, [1 / lam], 200, extra=honest, name="slow.json")
    assert main(["replay", slow]) == 2 and "outside (2/λ, 8/λ]" in capsys.readouterr().err
    other = _witness(tmp_path, "meng.no_convergence", toy(normalized=True), [1.0], 200, extra=honest, name="o.json")
    assert main(["replay", other]) == 2 and "not a nonseparable" in capsys.readouterr().err


def test_sgd_claims_are_replayed_under_assumption_2_only(tmp_path, capsys):
    """lemma17.sgd_almost_sure assumes Assumption 2 (‖x‖ ≤ 1, margin γ a.s.) of the distribution it samples, the
    data's empirical one.  On the raw toy set (‖x‖ ≈ 2.01) replay said REPRODUCED ("measured 7.33 vs bound 5.11"
    at η = 16, t = 22): the assumption's name was not matched, so nothing was checked."""
    path = _witness(tmp_path, "lemma17.sgd_almost_sure", toy(normalized=False), [16.0], 400,
                    extra={"seed": 0, "paths": 64, "delta": 0.1})
    assert main(["replay", path]) == 2
    assert "‖xᵢ‖ ≤ 1 fails" in capsys.readouterr().err


def test_lemma13_is_replayed_inside_its_family_only(tmp_path, capsys):
    """lemma13.lower is fitted (c = 0.169, margin 1) on a family with η ∈ [1/4, 8], where the lemma's factor
    exp(c₀η) is a constant.  At η = 1000 its shape 1/(ηt) is not the lemma's bound, and replay said REPRODUCED
    (L = 1.07e-8 at t = 7); data whose projections are separable are outside the lemma."""
    from eoscheck.datasets import Dataset
    from eoscheck.properties.lemma13 import LEMMA13, lemma13_data

    data = lemma13_data(0.15, 0.5, 0, 1)
    margin = LEMMA13.fit.margin
    far = _witness(tmp_path, "lemma13.lower", data, [1000.0], 2000, margin=margin)
    assert main(["replay", far]) == 2
    assert "outside the family's η ∈ [0.25, 8.0]" in capsys.readouterr().err
    inside = _witness(tmp_path, "lemma13.lower", data, [8.0], 2000, margin=margin, name="in.json")
    assert main(["replay", inside]) == 0        # a member of the family is replayed (and the claim holds there)
    capsys.readouterr()
    # z₁ = (0.2, 0) is the hull's min-norm point: w* = e₁, and the projections 0 and 0.5 are separable (b = 0)
    vertex = with_certificate(Dataset(np.array([[0.2, 0.0], [0.5, 0.5]]), np.ones(2), name="vertex"))
    path = _witness(tmp_path, "lemma13.lower", vertex, [1.0], 200, margin=margin, name="v.json")
    assert main(["replay", path]) == 2
    assert "not certified non-separable" in capsys.readouterr().err


def test_lemma13_projection_margin_encloses_the_exact_one():
    """b of lemma13_data(γ, s) is s·√(1−γ²) exactly (w* = e₁; the projections are the second coordinates ±a, −sa);
    the certified interval must contain it and be narrow (its width comes from the certificate's angle,
    √(2(1 − γ_lo/γ_hi)), ~1e-7 for a gap of 1e-14)."""
    import math

    from eoscheck.properties.lemma13 import lemma13_data, projection_margin

    for g, s in ((0.05, 0.5), (0.15, 0.8), (0.3, 1.0)):
        _, lo, hi = projection_margin(lemma13_data(g, s, 3, 7))
        exact = s * math.sqrt(1 - g * g)
        assert lo <= exact <= hi and hi - lo < 1e-5, (g, s, lo, hi)


def _claims_with_strategies():
    from eoscheck.properties.claims import all_claims

    return [c.id for c in all_claims() if c.strategy is not None]


@pytest.mark.parametrize("claim_id", _claims_with_strategies())
@settings(max_examples=10, deadline=None, suppress_health_check=list(HealthCheck), database=None)
@given(st.data())
def test_every_drawn_instance_is_a_witness_candidate(claim_id, data):
    """What a check draws lies inside its claim's hypotheses as replay reads them: a violation found by ``check``
    must replay.  (Lemma 13's family is drawn at γ = 0.05 and η = 8 exactly, where its certificate is ±1e-16.)"""
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.hypotheses import assumption_conflicts
    from eoscheck.properties.profiles import budget

    c = get_claim(claim_id)
    inst = data.draw(c.strategy(budget("ci")), label="instance")
    assert certificate_conflict(inst.data) is None
    assert assumption_conflicts(c.assumptions, inst) == []
    assert c.admits is None or c.admits(inst) is None


def _claims_that_admit():
    from eoscheck.properties.claims import all_claims

    return [c.id for c in all_claims() if c.admits is not None]


@pytest.mark.parametrize("claim_id", _claims_that_admit())
def test_every_explicit_calibration_and_ladder_instance_is_admitted(claim_id):
    """The instances a check runs besides its draws (explicit examples, a fitted claim's calibration sweep and
    ladders) lie inside what its ``admits`` accepts, as the draws do (above)."""
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.profiles import budget

    c, b = get_claim(claim_id), budget("ci")
    insts = list(c.explicit(b)) if c.explicit else []
    if c.fit is not None:
        insts += c.fit.calibration()
        for ladder in c.fit.ladders.values():
            insts += (ladder[0] if isinstance(ladder, tuple) else ladder)(b)
    for inst in insts:
        assert c.admits(inst) is None, inst.describe()


def _forged(tmp_path, claim_id, inst, name="f.json"):
    """A witness file holding ``inst`` as ``eoscheck check`` would save it (no recorded point; a fitted claim's
    margin and constant)."""
    from eoscheck.properties.claims import get_claim

    c = get_claim(claim_id)
    margin = c.fit.margin if c.kind == "asymptotic" else 0.0
    obj = {"format": "eoscheck-counterexample/1", "kind": "claim", "claim": {"id": claim_id},
           "constant": _constant(claim_id),
           "margin": margin, "point": None, "instance": inst.to_json()}
    path = tmp_path / name
    path.write_text(json.dumps(obj))
    return str(path)


@pytest.mark.parametrize("claim_id", ["cor2.bound", "cor2.rate"])
def test_a_stepsize_off_corollary_2s_schedule_is_not_a_witness(tmp_path, capsys, claim_id):
    """One point x = (0.6, 0.8) (γ* = 1), T = 5000 ≥ T_min = 327, η = 0.01 instead of γ²T/120 = 41.67: L(w_T) =
    0.021 against the bound 0.0056 said REPRODUCED (exit 1), a statement Corollary 2 does not make at η = 0.01.
    The same run at η = γ²T/120 (the schedule) is replayed: it holds (exit 0)."""
    from eoscheck.datasets import Dataset
    from eoscheck.properties.instances import Instance

    data = with_certificate(Dataset(np.array([[0.6, 0.8]]), np.array([1.0]), name="one"))
    off = _forged(tmp_path, claim_id, Instance(data, "logistic", (0.01,), 5000, extra={"T": [5000]}))
    assert main(["replay", off]) == 2
    assert "η = 0.01 at T = 5000 is not γ²T/120 = 41.6667" in capsys.readouterr().err
    if claim_id == "cor2.bound":
        on = _forged(tmp_path, claim_id, Instance(data, "logistic", (5000 / 120,), 5000, extra={"T": [5000]}), "on.json")
        assert main(["replay", on]) == 0


def test_a_budget_below_cor2_rates_domain_is_not_a_witness(tmp_path, capsys):
    """cor2.rate is stated for T ≥ 15/γ²: on one point (γ* = 1), T = 1 on the schedule (η = 1/120) makes its shape
    ln²(T²)/T² = 0, and any run "convicted" it (REPRODUCED)."""
    from eoscheck.datasets import Dataset
    from eoscheck.properties.instances import Instance

    data = with_certificate(Dataset(np.array([[0.6, 0.8]]), np.array([1.0]), name="one"))
    for T in (1, 10):
        inst = Instance(data, "logistic", (T / 120,), T, extra={"T": [T]})
        assert main(["replay", _forged(tmp_path, "cor2.rate", inst)]) == 2
        assert f"T = {T} is below 15/γ² = 15" in capsys.readouterr().err


def test_a_point_outside_assumption_3cs_interval_is_not_a_witness(tmp_path, capsys):
    """prop5.constants' quadratic bound (3C) is stated for |z − x| < 1: x = 20, z − x = −10 (ℓ(z) = 4.5e-5 against
    the quadratic 3.0e-7) said REPRODUCED."""
    from eoscheck.properties.instances import Instance
    from eoscheck.properties.strategies import single_point

    inst = Instance(with_certificate(single_point()), "logistic", (1.0,), 0,
                    extra={"x": [20.0], "dz": [-10.0], "lam": [10.0]})
    assert main(["replay", _forged(tmp_path, "prop5.constants", inst)]) == 2
    assert "z − x = -10 is not in (−1, 1)" in capsys.readouterr().err


def test_crawshaw_liu_tau_2d_is_replayed_in_two_dimensions_above_eta0_only(tmp_path, capsys):
    """Theorem 2.1 of Crawshaw–Liu is stated for d = 2 and η ≥ η₀: a d = 3 set was replayed as a candidate."""
    from eoscheck.bounds import crawshaw_liu
    from eoscheck.datasets import synthetic
    from eoscheck.properties.bound_values import at
    from eoscheck.properties.instances import Instance

    for d, scale, why in ((3, 2.0, "its data have d = 3"), (2, 0.5, "is below η₀")):
        data = with_certificate(synthetic(4, d, 0.3, seed=0))
        eta0 = float(at(crawshaw_liu.CL_ETA0, n=data.n, gamma=data.gamma))
        inst = Instance(data, "logistic", (scale * eta0,), 50)
        assert main(["replay", _forged(tmp_path, "crawshaw_liu.tau_2d", inst)]) == 2
        assert why in capsys.readouterr().err


@pytest.mark.parametrize("loss", ["flat_poly:a=1", "flat_exp:a=8"])
def test_a_loss_outside_the_claims_assumption_is_not_a_witness(tmp_path, capsys, loss):
    """thm35.tau_exp_tail assumes 3A–3D on logistic or flat_exp(a), a ∈ {0.5, 1, 2}: its assumption's name was
    matched against "logistic loss" and "flat_poly loss" only, so a flat_poly(a=1) run (polynomial tail, τ ≥ 4001
    steps against 808) said REPRODUCED."""
    from eoscheck.properties.claims import get_claim

    c = get_claim("thm35.tau_exp_tail")
    path = _witness(tmp_path, c.id, with_certificate(toy(normalized=True)), [1.0, 4.0, 16.0], 4000,
                    margin=c.fit.margin)
    obj = json.loads(open(path).read())
    obj["instance"]["loss"] = loss
    open(path, "w").write(json.dumps(obj))
    assert main(["replay", path]) == 2
    assert "outside the claim's assumption" in capsys.readouterr().err


def test_every_claims_assumptions_are_tested_by_replay():
    """Each standing assumption of each claim is one replay tests (hypotheses.recognized): a new wording that
    matches none would let witnesses outside it replay unchecked, as "Assumption 2 (…)" and "loss with 3A–3D: …"
    did."""
    from eoscheck.properties.claims import all_claims
    from eoscheck.properties.hypotheses import recognized

    missed = [(c.id, a) for c in all_claims() for a in c.assumptions if not recognized(a)]
    assert missed == []


def test_ntk_claims_require_assumption_4a():
    """Theorem 6's Assumption 4A is ‖xᵢ‖ ≤ 1; the NTK claims name it "Assumption 4 with γ = γ̂ (…)", which no check
    matched, so their witnesses were replayed on any data."""
    from eoscheck.properties.claims import get_claim
    from eoscheck.properties.hypotheses import assumption_conflicts
    from eoscheck.properties.theorem6 import ntk_instance

    c = get_claim("thm6.eos_average")
    raw = ntk_instance(toy(normalized=False), "logistic", (4.0,), 100, width=16)
    assert any("‖xᵢ‖ ≤ 1 fails" in w for w in assumption_conflicts(c.assumptions, raw))
    ok = ntk_instance(toy(normalized=True), "logistic", (4.0,), 100, width=16)
    assert assumption_conflicts(c.assumptions, ok) == []


@pytest.mark.parametrize("steps, etas, says", [("200", [8.0], "steps must be a whole number"),
                                                (-3, [8.0], "steps must be a whole number"),
                                                (50, [], "etas must be a list of positive numbers"),
                                                (50, ["8"], "etas must be a list of positive numbers")])
def test_an_edited_instance_is_refused_in_one_line(tmp_path, capsys, steps, etas, says):
    """"steps": "200" was taken as 200 (int("200")); a stepsize "8" as 8.0; an empty list ran nothing."""
    path = _witness(tmp_path, "thm1.eos_average", with_certificate(toy(normalized=True)), etas, 50)
    obj = json.loads(open(path).read())
    obj["instance"]["steps"] = steps
    open(path, "w").write(json.dumps(obj))
    assert main(["replay", path]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert len(err) == 1 and says in err[0] and path in err[0]


def test_a_witness_whose_point_is_not_a_mapping_is_not_a_valid_file(tmp_path, capsys):
    """``"point": "x"`` in a saved witness: an AttributeError traceback (exit 1) after the replay had run."""
    path = _witness(tmp_path, "thm1.eos_average", with_certificate(toy(normalized=True)), [8.0], 50)
    obj = json.loads(open(path).read())
    obj["point"] = "x"
    open(path, "w").write(json.dumps(obj))
    assert main(["replay", path]) == 2
    assert "is not a valid counterexample file (TypeError: its point is not a mapping" in capsys.readouterr().err
