"""The Python API: a top-level ``__all__`` kept in sync (as Hypothesis' ``strategies/__init__.py``
does), lazy names that resolve, ``py.typed``, and the :class:`Trajectory` conveniences."""

from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

import eoscheck


def test_all_matches_the_public_names():
    # Every public non-module name is exported; the exported modules are exactly the documented three.
    # (Submodules a test happens to import also become attributes of the package: they are not API.)
    names = {n for n in dir(eoscheck) if not n.startswith("_")}
    functions_and_classes = {n for n in names if not isinstance(getattr(eoscheck, n), ModuleType)}
    exported = set(eoscheck.__all__) - {"__version__"}
    assert functions_and_classes == {n for n in exported if not isinstance(getattr(eoscheck, n), ModuleType)}
    assert {n for n in exported if isinstance(getattr(eoscheck, n), ModuleType)} == {"bounds", "testing", "properties"}
    assert len(eoscheck.__all__) == len(set(eoscheck.__all__))


@pytest.mark.parametrize("name", [n for n in eoscheck.__all__ if n not in ("properties", "testing", "bounds")])
def test_every_exported_name_resolves(name):
    assert getattr(eoscheck, name) is not None


def test_unknown_attribute_is_an_attribute_error():
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        eoscheck.nope  # noqa: B018


def test_py_typed_ships_with_the_package():
    pkg = Path(eoscheck.__file__).parent
    assert (pkg / "py.typed").is_file()
    text = (pkg.parent / "pyproject.toml").read_text()
    assert '"py.typed"' in text


@pytest.fixture(scope="module")
def traj():
    return eoscheck.run_gd(eoscheck.toy(), "exponential", [4.0, 8.0, 1e5], 30)


def test_trajectory_repr_is_short_and_says_what_it_holds(traj):
    text = repr(traj)
    assert len(text) < 200 and "\n" not in text
    assert "K=3" in text and "T=30" in text and "η = 4, 8, 100000" in text
    assert traj.diverged[2]  # exp(-margin) overflows at once for η = 1e5
    assert f"{int(traj.diverged.sum())} diverged" in text


def test_to_pandas_is_long_format_and_matches_the_records(traj):
    df = traj.to_pandas()
    assert list(df.columns) == ["eta", "step", "quantity", "value"]
    assert len(df) == traj.K * len(traj.step) * len(traj.records)
    sub = df[(df.quantity == "loss") & (df.eta == 8.0)].sort_values("step")
    np.testing.assert_array_equal(sub["value"].to_numpy(), traj.loss[1])  # a copy: bit-identical
    np.testing.assert_array_equal(sub["step"].to_numpy(), traj.step)
    only = traj.to_pandas(["loss", "log_loss"])
    assert set(only.quantity.unique()) == {"loss", "log_loss"}
    with pytest.raises(eoscheck.EoscheckError, match="unknown quantity"):
        traj.to_pandas(["nope"])


def test_readme_strategies_example_runs():
    """The README's example of the public Hypothesis strategies is a working test."""
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    block = readme.split("<!-- strategies-example -->")[1].split("<!-- /strategies-example -->")[0]
    code = block.split("```python")[1].split("```")[0]
    namespace: dict = {}
    exec(compile(code, "README.md", "exec"), namespace)  # the project's own README, not user input
    namespace["test_small_stepsizes_decrease_the_loss"]()
