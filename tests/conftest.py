"""Shared fixtures of the engine tests, and the test run's Hypothesis settings."""

import pytest
import torch
from hypothesis import settings

# Every Hypothesis test of this suite draws the same examples on every run and machine (derandomized, no
# example database), and never fails on wall time (no deadline): a fresh random draw once found a new case
# (log(−|0.5|), a complex constant) and turned an unchanged commit red.  A test's own @settings still sets
# its example count.
settings.register_profile("eoscheck-tests", derandomize=True, database=None, deadline=None)
settings.load_profile("eoscheck-tests")


@pytest.fixture(scope="module")
def one_thread():
    """Tiny problems run on one torch thread: two threads on a shared 2-core machine only
    oversubscribe it, and these sizes are below torch's parallel grain (same numbers)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
