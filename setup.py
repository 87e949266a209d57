"""The build step's two additions to a wheel (the metadata lives in pyproject.toml):

* ``eoscheck/data/build.json``: the commit the wheel was built from and whether its code differed
  from it (:func:`eoscheck.gitstate.checkout_state`), so an installed eoscheck records its code's commit in runs and reports
  (:func:`eoscheck.provenance.source_of`);
* ``eoscheck/data/reports/sweeps/crawshaw-liu/``: the committed sweep study's data, which the report's
  sweep section draws (:func:`eoscheck.report.sweep_study.study_dir`).

Neither is written for an editable install, which runs from the checkout itself.
"""

import importlib.util
import json
import shutil
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
STUDY = Path("reports", "sweeps", "crawshaw-liu")


def _gitstate():
    """eoscheck/gitstate.py loaded by path: the package's one rule for "dirty", without importing eoscheck (whose
    dependencies a build environment need not have)."""
    spec = importlib.util.spec_from_file_location("_eoscheck_gitstate", HERE / "eoscheck" / "gitstate.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def build_record():
    """{"commit", "dirty"} of the checkout this is built in (None, None outside one)."""
    gs = _gitstate()
    top = gs.git(HERE, "rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != HERE:
        return {"commit": None, "dirty": None}
    return gs.checkout_state(HERE)


class BuildPy(build_py):
    def run(self):
        super().run()
        if getattr(self, "editable_mode", False):
            return
        data = Path(self.build_lib, "eoscheck", "data")
        data.mkdir(parents=True, exist_ok=True)
        (data / "build.json").write_text(json.dumps(build_record()))
        study = data / STUDY
        study.mkdir(parents=True, exist_ok=True)
        for pattern in ("*.parquet", "*.json"):
            for f in (HERE / STUDY).glob(pattern):
                shutil.copyfile(f, study / f.name)


setup(cmdclass={"build_py": BuildPy})
