"""Registry self-check: every bound a claim names exists in eoscheck.bounds, and the claims are well formed."""

from eoscheck.bounds import BOUNDS
from eoscheck.properties.claims import all_claims


def test_every_referenced_bound_exists():
    missing = sorted((c.id, c.bound_id) for c in all_claims() if c.bound_id and c.bound_id not in BOUNDS)
    assert not missing, f"claims naming bounds that eoscheck.bounds does not define: {missing}"


def test_claims_are_checkable_or_say_why():
    for c in all_claims():
        assert c.unavailable or (c.strategy is not None and c.evaluate is not None), c.id
        if c.kind == "asymptotic" and not c.unavailable:
            assert c.fit is not None and c.fit.margin > 0, c.id


def test_claim_modules_hold_bounds_and_titles_come_from_the_bound():
    # the claims hold Bound objects (the id is read off the object): the titles of these claims are built from
    # the bound's own formula, so a change of the bound changes the title
    from eoscheck.bounds import corollary2, theorem1, theorem35
    from eoscheck.properties.claims import get_claim

    for cid, bound in (("thm1.eos_average", theorem1.EOS_AVERAGE), ("thm1.w_norm", theorem1.W_NORM),
                       ("lemma9.G_average", theorem1.G_AVERAGE), ("thm1.stable_bound", theorem1.STABLE_BOUND),
                       ("cor2.bound", corollary2.BOUND), ("thm35.eos_average", theorem35.EOS_AVERAGE),
                       ("thm35.stable_bound", theorem35.STABLE_BOUND)):
        c = get_claim(cid)
        assert c.bound is bound and c.bound_id == bound.id and bound.formula in c.title, cid


def test_no_claim_module_keeps_its_own_transcription():
    # one encoding: the properties package has no formulas module and no ρ of its own
    import importlib.util

    assert importlib.util.find_spec("eoscheck.properties.formulas") is None


def test_every_bound_has_a_claim_or_says_why_not():
    # a bound is either some claim's own bound or marked informational (with the reason no claim has it);
    # both at once would be a stale mark
    claimed = {c.bound_id for c in all_claims() if c.bound_id}
    unmarked = sorted(b.id for b in BOUNDS.values() if b.id not in claimed and not b.informational.strip())
    stale = sorted(b.id for b in BOUNDS.values() if b.id in claimed and b.informational)
    assert not unmarked, f"bounds no claim checks and not marked informational: {unmarked}"
    assert not stale, f"bounds marked informational that a claim checks: {stale}"


def test_no_bound_id_is_spelled_outside_bounds_and_claims():
    # one encoding: the report, the engine, the auditor, the sweeps and the benchmarks import the Bound
    # object (e.g. bounds.corollary2.BOUND); a quoted id there would be a second, unchecked reference
    import re
    from pathlib import Path

    root = Path(__file__).resolve().parents[1]
    pattern = re.compile(r"[\"'](" + "|".join(re.escape(i) for i in BOUNDS) + r")[\"']")
    offenders = []
    for folder in ("eoscheck", "benchmarks"):
        for path in sorted((root / folder).rglob("*.py")):
            for lineno, line in enumerate(path.read_text().splitlines(), 1):
                if pattern.search(line):
                    offenders.append(f"{path.relative_to(root)}:{lineno}")
    assert not offenders, f"bound ids spelled outside bounds/ and properties/: {offenders}"


def test_claims_checked_outside_their_theorems_hypotheses_are_shown_as_trends():
    """Theorem 6's trend twins and fitted claims run far below its width condition (m = 16–256 against ≥ 3.6e10),
    and Table 1's polynomial-tail rates at T far below the ≳ 10⁶·η steps condition (15) needs: §7 of the report
    counted their "holds" among the verdicts on the theorems."""
    from eoscheck.properties.claims import all_claims
    from eoscheck.properties.runner import ClaimReport

    labelled = {c.id for c in all_claims() if "trend only" in c.title}
    flagged = {c.id for c in all_claims() if c.outside_hypotheses}
    assert labelled and labelled == flagged
    assert {"thm6.tau_exp", "thm6.tau_psi", "thm6.lazy_scaling", "thm6.lazy.trend", "table1.poly_rate"} <= flagged
    rep = ClaimReport(id="x", title="t", source="s", kind="asymptotic", verdict="holds", outside_hypotheses="why")
    assert rep.shown_verdict == "trend only"
    rep.verdict = "FALSIFIED"
    assert rep.shown_verdict == "FALSIFIED"
    assert ClaimReport(id="x", title="t", source="s", kind="exact", verdict="holds").shown_verdict == "holds"
