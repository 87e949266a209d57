"""What a cached result's key holds: everything that can change its bits or its verdict."""

from __future__ import annotations

import json

import pytest

from eoscheck.report.cache import RunCache


@pytest.mark.long
def test_the_claims_cache_follows_the_fitted_constants(tmp_path, monkeypatch):
    """The report's claim entries were keyed by claim, profile and seed: with $EOSCHECK_FITTED_CONSTANTS naming a
    file whose thm3.lower constant is 10⁶ times the package's, the cached "holds" was served where
    `eoscheck check thm3.lower` says FALSIFIED."""
    from eoscheck.properties.fitted import load_constants
    from eoscheck.report.claims import run_checks
    from eoscheck.report.config import profile_config
    from eoscheck.report.context import Context

    monkeypatch.delenv("EOSCHECK_FITTED_CONSTANTS", raising=False)
    consts = load_constants()
    consts["claims"]["thm3.lower"] = dict(consts["claims"]["thm3.lower"])
    consts["claims"]["thm3.lower"]["value"] *= 1e6
    bad = tmp_path / "bad.json"
    bad.write_text(json.dumps(consts))
    ctx = Context(out=tmp_path / "out", cfg=profile_config("tiny"), profile="tiny", cache=RunCache(tmp_path / "c"))
    assert run_checks(ctx, ["thm3.lower"])[0]["verdict"] == "holds"
    monkeypatch.setenv("EOSCHECK_FITTED_CONSTANTS", str(bad))
    assert run_checks(ctx, ["thm3.lower"])[0]["verdict"] == "FALSIFIED"


def test_a_library_upgrade_is_another_cache_entry(monkeypatch):
    """The run cache's key held the code, the configuration and the GEMM/CPUs only: after a numpy, scipy or
    Hypothesis upgrade the old trajectories and verdicts were served."""
    import eoscheck.provenance as provenance

    before = RunCache.key("run", {"a": 1}, "code")
    real = provenance.versions()
    for lib in ("numpy", "scipy", "hypothesis", "sympy", "mpmath", "gmpy2", "torch", "numba"):
        monkeypatch.setattr(provenance, "versions", lambda lib=lib: dict(real, **{lib: "0.0.0-other"}))
        assert RunCache.key("run", {"a": 1}, "code") != before, lib
    monkeypatch.setattr(provenance, "versions", lambda: dict(real, pandas="0.0.0-other"))   # draws nothing cached
    assert RunCache.key("run", {"a": 1}, "code") == before


def test_a_sweep_task_key_holds_scipy_and_sympy():
    """γ* and its gap come from scipy's solver, the bounds from sympy: the task's numerics named neither."""
    import scipy
    import sympy

    from eoscheck.sweeps.tasks import task_numerics

    got = dict(task_numerics())
    assert got["scipy"] == scipy.__version__ and got["sympy"] == sympy.__version__
