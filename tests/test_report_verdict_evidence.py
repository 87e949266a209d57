"""The report's verdict rows show their evidence as strong as it is (a reviewer's audit of reports/latest, 2026-12-05).

Each test fails on the code before the fix."""

from types import SimpleNamespace

import pandas as pd

from eoscheck.report import sweep_study
from eoscheck.report.claims import quote_claim
from eoscheck.report.document import Section
from eoscheck.report.ntk import c2_needed
from eoscheck.sweeps import crawshaw_liu as cl


def _ctx(**result):
    r = {"id": "cor2.bound", "title": "Corollary 2", "source": "Corollary 2", "kind": "exact", "verdict": "holds",
         "examples": 4, **result}
    return SimpleNamespace(extras={"claims": [r]})


def test_the_worst_ratio_is_never_better_than_the_sections_own():
    """cor2.bound's row said "worst L/bound 0.001878" (the section's instances) beside a worst ratio 0.001875 (the
    check's examples); the row now shows the worse of the two, and on which side of it the claim holds."""
    sec = Section(4, "k", "t")
    v = quote_claim(_ctx(worst_ratio=0.001875), sec, "cor2.bound", shown="x", ratio=0.001878)
    assert v.ratio == 0.001878 and "holds while the ratio is ≤ 1" in v.note
    sec = Section(4, "k", "t")
    v = quote_claim(_ctx(worst_ratio=0.002), sec, "cor2.bound", shown="x", ratio=0.001878)
    assert v.ratio == 0.002


def test_a_lower_bound_claim_says_its_side():
    """lemma14.first_step holds with ratio 1.293 (≥ 1 is its side): the row read like a violation beside the
    section's "ratios below 1 mean … inside the bound"."""
    sec = Section(4, "k", "t")
    v = quote_claim(_ctx(id="lemma14.first_step", worst_ratio=1.293), sec, "lemma14.first_step", shown="x")
    assert v.ratio == 1.293 and "holds while the ratio is ≥ 1" in v.note


def test_a_censored_transition_raises_the_c2_it_needs():
    """§6 quoted "the runs here need C₂ ≥ 0.0408" from the runs that met (6), leaving out two that never met it by
    T = 8000 — each of those needs C₂ > T·γ̂²/(n ln n) ≈ 0.112."""
    trans = [(0.25, 300, 0.0408, False), (0.5, -1, 0.112, True), (2.0, -1, 0.112, True)]
    text = c2_needed(trans, 8000)
    assert text.startswith("the runs here need C₂ > 0.112") and "η = 0.5, 2, never met (6) by T = 8000" in text
    assert c2_needed([(0.25, 300, 0.0408, False)], 8000) == "the runs here need C₂ ≥ 0.0408"


def test_the_fig2a_not_reproduced_names_a_run():
    """"worst-case time to L ≤ 2/η ≤ 60" was NOT REPRODUCED with per-d maxima only (most of them the T + 1 mark):
    now its note names the run — dataset, seed, η — and whether its time was reached."""
    df = pd.DataFrame({"dataset": [0, 1, 2, 3], "data_seed": [10, 11, 12, 13], "d": 2, "n": 2, "eta": 4.0,
                       "gamma_star": 0.5, cl.T_2: [1.0, 101.0, 6.0, 2.0], cl.T_1: [1.0, 2.0, 3.0, 4.0],
                       cl.MEASURES[2]: [6.0, 6.0, 6.0, 6.0]})
    rows = cl.summarize(df, 100)
    sec = Section(10, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, rows, 100)
    v = next(v for v in sec.verdicts if "≤ 60" in v.claim)
    assert v.verdict == "NOT REPRODUCED"
    assert "witness: d = 2, dataset 1 (seed 11), η = 4: L ≤ 2/η not reached by T = 100" in v.note
