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
