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
