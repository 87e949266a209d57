"""An installed eoscheck (README's ``pip install .``) knows the commit it was built from and carries the
committed sweep study its report draws: the wheel is built from a clone of this checkout and run
from a folder outside it."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from eoscheck.properties.runner import run_claim
from eoscheck.provenance import BUILD_RECORD, source, source_of

ROOT = Path(__file__).resolve().parents[1]
STUDY = Path("reports", "sweeps", "crawshaw-liu")


def _fake_package(tmp_path: Path, record) -> Path:
    pkg = tmp_path / "site" / "eoscheck"
    (pkg / BUILD_RECORD).parent.mkdir(parents=True)
    if record is not None:
        (pkg / BUILD_RECORD).write_text(record if isinstance(record, str) else json.dumps(record))
    return pkg


def test_an_install_reports_the_commit_its_build_recorded(tmp_path):
    sha = "0123456789abcdef0123456789abcdef01234567"
    got = source_of(_fake_package(tmp_path, {"commit": sha, "dirty": False}))
    assert (got["commit"], got["dirty"], got["checkout"], got["recorded"]) == (sha, False, None, "build")


@pytest.mark.parametrize("record", [None, "{not json", {"commit": None, "dirty": None},
                                    {"commit": "HEAD", "dirty": True}, ["0" * 40]])
def test_an_install_without_a_valid_record_reports_no_commit(tmp_path, record):
    got = source_of(_fake_package(tmp_path, record))
    assert (got["commit"], got["dirty"], got["recorded"]) == (None, None, None)
    assert got["version"]


@pytest.mark.skipif(shutil.which("git") is None, reason="needs git")
def test_a_new_file_in_the_code_folders_makes_a_checkout_dirty(tmp_path):
    """A new command module in eoscheck/ (untracked) is picked up and run, yet the run was recorded clean."""
    repo = tmp_path / "repo"
    (repo / "eoscheck").mkdir(parents=True)
    (repo / "eoscheck" / "__init__.py").write_text("")
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "safe.directory=*", "-C", str(repo)]
    subprocess.run(git[:-2] + ["init", "-q", str(repo)], check=True)
    subprocess.run(git + ["add", "-A"], check=True)
    subprocess.run(git + ["commit", "-qm", "x"], check=True)
    assert source_of(repo / "eoscheck")["dirty"] is False
    (repo / "notes.txt").write_text("outside the code")      # an untracked file elsewhere changes no code
    assert source_of(repo / "eoscheck")["dirty"] is False
    (repo / "eoscheck" / "extra.py").write_text("X = 1\n")
    got = source_of(repo / "eoscheck")
    assert got["dirty"] is True and got["recorded"] == "checkout"


def test_the_commit_is_read_before_the_work_not_after(tmp_path, monkeypatch):
    """run.json recorded `dirty: false` and HEAD for a run whose code was edited and checked out again during
    it: the commit was first read when the output was written."""
    import eoscheck.gd as gd
    from eoscheck import run_gd, toy
    from eoscheck.cli import main

    seen = []
    real = gd.run_fast
    monkeypatch.setattr(gd, "_PROVENANCE", {})
    monkeypatch.setattr(gd, "run_fast", lambda *a, **k: (seen.append(source.cache_info().currsize), real(*a, **k))[1])
    source.cache_clear()
    run_gd(toy(), "logistic", [1.0], 3, method="primal")
    assert seen == [1]
    source.cache_clear()
    assert main(["replay", str(tmp_path / "missing.json")]) == 2      # fails at once, after reading the commit
    assert source.cache_info().currsize == 1


def test_the_command_line_names_the_cli_not_its_main_module(monkeypatch):
    from eoscheck.provenance import command_line

    monkeypatch.setattr(sys, "argv", ["/x/site-packages/eoscheck/__main__.py", "replay", "w.json"])
    assert command_line() == ["eoscheck", "replay", "w.json"]
    monkeypatch.setattr(sys, "argv", ["/usr/local/bin/eoscheck", "check"])
    assert command_line() == ["eoscheck", "check"]
    monkeypatch.setattr(sys, "argv", ["my_script.py", "--x"])            # a user's script stays as it is
    assert command_line() == ["my_script.py", "--x"]


@pytest.mark.long
def test_a_wheel_records_its_commit_and_carries_the_sweep_study(tmp_path):
    if source()["recorded"] != "checkout" or shutil.which("git") is None:
        pytest.skip("needs a git checkout of eoscheck")
    if importlib.util.find_spec("setuptools") is None:
        pytest.skip("needs setuptools to build the wheel without network access")
    clone, site = tmp_path / "clone", tmp_path / "lib" / "site-packages"   # "site-packages": not a local module
    # safe.directory: the checkout may belong to another user than the one running the tests
    subprocess.run(["git", "-c", "safe.directory=*", "clone", "-q", str(ROOT), str(clone)], check=True)
    head = subprocess.run(["git", "-C", str(clone), "rev-parse", "HEAD"], capture_output=True, text=True,
                          check=True).stdout.strip()
    subprocess.run([sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
                    "-w", str(tmp_path / "wheel"), str(clone)], check=True, capture_output=True)
    (wheel,) = (tmp_path / "wheel").glob("eoscheck-*.whl")
    with zipfile.ZipFile(wheel) as z:
        assert json.loads(z.read(f"eoscheck/{BUILD_RECORD.as_posix()}")) == {"commit": head, "dirty": False}
        for name in ("results.parquet", "summary.json"):
            assert z.read(f"eoscheck/data/{(STUDY / name).as_posix()}") == (clone / STUDY / name).read_bytes()
        z.extractall(site)
    probe = ("import eoscheck, json; from eoscheck.provenance import source; "
             "from eoscheck.report.sweep_study import study_dir; from eoscheck.properties.runner import run_claim; "
             "r = run_claim('fig1.plateau', 'ci'); "
             "print(json.dumps([eoscheck.__file__, source(), str(study_dir()), [r.verdict, r.examples, r.worst_ratio]]))")
    env = {**os.environ, "PYTHONPATH": str(site)}
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         check=True).stdout
    where, src, study, claim = json.loads(out.strip().splitlines()[-1])
    assert Path(where).is_relative_to(site)
    assert (src["commit"], src["dirty"], src["checkout"], src["recorded"]) == (head, False, None, "build")
    assert Path(study) == site / "eoscheck" / "data" / STUDY
    # the same claim search as from this checkout: Hypothesis draws no numbers from eoscheck's own source
    # (which it does for "local" modules, a checkout's, and not for site-packages; measured before the
    # search pinned them: "warning", 45 examples from the checkout, "holds", 12 from the wheel)
    here = run_claim("fig1.plateau", "ci")
    assert claim == [here.verdict, here.examples, here.worst_ratio]
