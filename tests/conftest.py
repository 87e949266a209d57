"""Shared fixtures of the engine tests."""

import pytest
import torch


@pytest.fixture(scope="module")
def one_thread():
    """Tiny problems run on one torch thread: two threads on a shared 2-core machine only
    oversubscribe it, and these sizes are below torch's parallel grain (same numbers)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)
