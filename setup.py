"""The build step's two additions to a wheel (the metadata lives in pyproject.toml):

* ``eoscheck/data/build.json``: the commit the wheel was built from and whether tracked files differed
  from it, so an installed eoscheck records its code's commit in runs and reports
  (:func:`eoscheck.provenance.source_of`);
* ``eoscheck/data/reports/sweeps/crawshaw-liu/``: the committed sweep study's data, which the report's
  sweep section draws (:func:`eoscheck.report.sweep_study.study_dir`).

Neither is written for an editable install, which runs from the checkout itself.
"""

import json
import shutil
import subprocess
from pathlib import Path

from setuptools import setup
from setuptools.command.build_py import build_py

HERE = Path(__file__).resolve().parent
STUDY = Path("reports", "sweeps", "crawshaw-liu")


def _git(*args):
    try:
        out = subprocess.run(["git", "-c", f"safe.directory={HERE}", "-C", str(HERE), *args],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def build_record():
    """{"commit", "dirty"} of the checkout this is built in (None, None outside one)."""
    top = _git("rev-parse", "--show-toplevel")
    if top is None or Path(top).resolve() != HERE:
        return {"commit": None, "dirty": None}
    status = _git("status", "--porcelain", "--untracked-files=no")
    return {"commit": _git("rev-parse", "HEAD"), "dirty": None if status is None else bool(status)}


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
