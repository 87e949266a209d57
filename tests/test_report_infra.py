"""The report's infrastructure: code hashes that cover the installed code in editable and regular
installs, the run cache's housekeeping (``eoscheck cache``), outputs that are never half-written, and a
claims worker that dies with a killed report."""

from __future__ import annotations

import hashlib
import importlib
import json
import os
import shutil
import signal
import stat
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest

from eoscheck import codehash
from eoscheck._errors import EoscheckError
from eoscheck.cli import main
from eoscheck.outputs import OutputLock
from eoscheck.report.build import DEFAULT_OUT, build_report, check_replaceable, recover, staging_paths, swap_in
from eoscheck.codehash import code_hash, module_files
from eoscheck.report.cache import MARKER, RunCache, default_cache_dir

REPO = Path(__file__).resolve().parents[1]
EMPTY_HASH = hashlib.sha256(b"").hexdigest()[:16]  # what the old code_hash gave after `pip install .`


# ---------------------------------------------------------------------------
# code hashes
# ---------------------------------------------------------------------------


def _fake_package(root: Path, body: str = "X = 1\n") -> None:
    pkg = root / "eosfakepkg"
    (pkg / "sub").mkdir(parents=True)
    (pkg / "__pycache__").mkdir()
    (pkg / "__init__.py").write_text("")
    (pkg / "core.py").write_text(body)
    (pkg / "constants.json").write_text('{"c": 1}')
    (pkg / "notes.txt").write_text("not code")
    (pkg / "__pycache__" / "core.cpython-311.pyc").write_bytes(b"\0")
    (pkg / "sub" / "__init__.py").write_text("")
    (pkg / "sub" / "more.py").write_text("Y = 2\n")


def test_code_hash_follows_the_imported_files(tmp_path, monkeypatch):
    _fake_package(tmp_path)
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.invalidate_caches()
    names = sorted(rel for rel, _ in module_files("eosfakepkg"))
    assert names == ["eosfakepkg:__init__.py", "eosfakepkg:constants.json", "eosfakepkg:core.py",
                     "eosfakepkg:sub/__init__.py", "eosfakepkg:sub/more.py"]
    assert all("sub/" not in rel for rel, _ in module_files("eosfakepkg", skip=("eosfakepkg.sub",)))
    h1 = code_hash("eosfakepkg")
    assert h1 != EMPTY_HASH
    code_hash.cache_clear()
    (tmp_path / "eosfakepkg" / "sub" / "more.py").write_text("Y = 3\n")
    h2 = code_hash("eosfakepkg")
    code_hash.cache_clear()
    (tmp_path / "eosfakepkg" / "notes.txt").write_text("changed, but not code")
    assert code_hash("eosfakepkg") == h2 != h1
    code_hash.cache_clear()
    # a package split over two folders (editable install with package-dir) hashes its files once
    assert code_hash("eosfakepkg", "eosfakepkg.sub") != code_hash("eosfakepkg")
    code_hash.cache_clear()


def test_the_engine_and_claims_hashes_cover_real_files():
    files = [p for rel, p in module_files("eoscheck", skip=codehash.PRESENTATION + codehash.MAPPED)]
    assert any(p.name == "gd.py" for p in files) and not any("report" in p.parts for p in files)
    assert any(p.name == "rho.py" for _, p in module_files("eoscheck.bounds"))
    assert any(p.name == "fitted_constants.json" for _, p in module_files("eoscheck.properties"))
    assert EMPTY_HASH not in (codehash.engine_hash(), codehash.claims_hash())


@pytest.mark.slow
def test_regular_install_hashes_the_same_code_as_the_editable_one(tmp_path):
    """`pip install .` (not editable) into a folder: the engine and claims hashes are those of this
    checkout (same files), not the hash of nothing the old path-based code_hash gave."""
    src = tmp_path / "src"
    for name in ("eoscheck", "bounds", "properties"):
        shutil.copytree(REPO / name, src / name, ignore=shutil.ignore_patterns("__pycache__", ".*"))
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO / name, src / name)
    target = tmp_path / "site"
    subprocess.run([sys.executable, "-m", "pip", "install", "-q", "--no-build-isolation", "--no-deps",
                    "--target", str(target), str(src)], check=True, capture_output=True, timeout=300)
    probe = ("import eoscheck, json; from eoscheck.codehash import engine_hash, claims_hash; "
             "print(json.dumps([eoscheck.__file__, engine_hash(), claims_hash()]))")
    env = dict(os.environ, PYTHONPATH=str(target))
    out = subprocess.run([sys.executable, "-c", probe], cwd=tmp_path, env=env, capture_output=True, text=True,
                         timeout=300, check=True)
    where, engine, claims = json.loads(out.stdout.strip().splitlines()[-1])
    assert Path(where).resolve().is_relative_to(target.resolve())
    assert (engine, claims) == (codehash.engine_hash(), codehash.claims_hash())


# ---------------------------------------------------------------------------
# the cache folder and `eoscheck cache`
# ---------------------------------------------------------------------------


def test_default_cache_dir_is_the_users_not_the_checkouts(monkeypatch, tmp_path):
    monkeypatch.delenv("EOSCHECK_CACHE_DIR", raising=False)
    monkeypatch.setenv("XDG_CACHE_HOME", str(tmp_path / "xdg"))
    assert default_cache_dir() == tmp_path / "xdg" / "eoscheck"
    monkeypatch.delenv("XDG_CACHE_HOME")
    monkeypatch.setenv("HOME", str(tmp_path / "home"))
    assert default_cache_dir() == tmp_path / "home" / ".cache" / "eoscheck"
    monkeypatch.setenv("EOSCHECK_CACHE_DIR", str(tmp_path / "explicit"))
    assert default_cache_dir() == tmp_path / "explicit"


def test_cache_info_prune_clear(tmp_path, capsys):
    root = tmp_path / "cache"
    c = RunCache(root)
    for i in range(3):
        c.json("demo", f"e{i}", {"i": i}, lambda i=i: {"v": "x" * 1000 * (i + 1)}, code="c1")
    old = c.path("demo", "e0", RunCache.key("demo", {"i": 0}, "c1")) / "DONE"
    t_old = time.time() - 40 * 86400
    os.utime(old, (t_old, t_old))
    assert main(["cache", "info", "--cache-dir", str(root)]) == 0
    assert "3 entries" in capsys.readouterr().out
    assert main(["cache", "prune", "--cache-dir", str(root)]) == 0  # default: unused for 30 days
    assert "pruned 1 entries" in capsys.readouterr().out
    assert sorted(e["label"] for e in RunCache(root).entries()) == ["e1", "e2"]
    newest = max(RunCache(root).entries(), key=lambda e: e["last_used"])
    cap_mb = newest["bytes"] / 2**20  # room for the most recently used entry only
    assert main(["cache", "prune", "--cache-dir", str(root), "--max-size", repr(cap_mb)]) == 0
    assert [e["label"] for e in RunCache(root).entries()] == ["e2"]
    assert main(["cache", "clear", "--cache-dir", str(root)]) == 0
    assert RunCache(root).entries() == []
    assert main(["cache", "prune", "--cache-dir", str(root), "--older-than", "-1"]) == 2
    assert main(["cache", "info", "--older-than", "3", "--cache-dir", str(root)]) == 2


def test_cache_clear_deletes_nothing_in_a_folder_that_is_not_a_cache(tmp_path, capsys):
    """`cache clear --cache-dir PROJ` deleted PROJ/exp1 (it had a DONE file) and PROJ/.tmp-notes: a mistyped
    --cache-dir destroyed data.  A folder without the cache's marker, holding anything a cache did not write,
    is refused; a cache from before the marker (entries only) is still cleared."""
    proj = tmp_path / "proj"
    (proj / "exp1").mkdir(parents=True)
    (proj / "exp1" / "DONE").write_text("yes\n")
    (proj / "exp1" / "results.csv").write_text("1,2\n")
    (proj / ".tmp-notes").mkdir()
    for action in ("clear", "prune"):
        assert main(["cache", action, "--cache-dir", str(proj)]) == 2
        err = capsys.readouterr().err
        assert "not an eoscheck cache" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in proj.rglob("*")) == [".tmp-notes", "DONE", "exp1", "results.csv"]
    old = tmp_path / "old"
    RunCache(old).json("demo", "e", {"i": 0}, lambda: {"v": 1}, code="c")
    (old / MARKER).unlink()                                       # as written before the marker, with the
    (old / "workers").mkdir()                                     # report's claims workers and witnesses
    (old / "counterexamples").mkdir()
    assert main(["cache", "clear", "--cache-dir", str(old)]) == 0 and RunCache(old).entries() == []


def test_report_does_not_take_over_a_cache_folder_holding_other_files(tmp_path, capsys):
    """`cache clear` refused PROJ as "not an eoscheck cache", yet `report --cache-dir PROJ` wrote its marker and ~40
    entries beside PROJ/thesis.tex, and left --out and a staging folder behind when stopped.  It is refused in one
    line before anything is written."""
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "thesis.tex").write_text("x\n")
    out = tmp_path / "rep"
    assert main(["report", "--cache-dir", str(proj), "--out", str(out)]) == 2
    err = capsys.readouterr().err
    assert "not an eoscheck cache" in err and "nothing written" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in tmp_path.rglob("*")) == ["proj", "thesis.tex"]


def test_entries_of_older_code_are_removed_after_a_run(tmp_path):
    old = RunCache(tmp_path)
    old.json("demo", "run", {"k": 1}, lambda: 1, code="before-edit")
    old.json("demo", "other", {"k": 1}, lambda: 2, code="before-edit")
    new = RunCache(tmp_path)
    new.json("demo", "run", {"k": 1}, lambda: 1, code="after-edit")
    assert new.prune_superseded() == 1
    left = {(e["label"], e["code"]) for e in new.entries()}
    assert left == {("run", "after-edit"), ("other", "before-edit")}  # "other" was not looked up: kept


# ---------------------------------------------------------------------------
# outputs
# ---------------------------------------------------------------------------


def test_default_out_is_not_a_tracked_folder():
    from eoscheck.cli import build_parser

    assert build_parser().parse_args(["report"]).out is None
    assert DEFAULT_OUT == "eoscheck-report"
    tracked = subprocess.run(["git", "-C", str(REPO), "ls-files", DEFAULT_OUT], capture_output=True, text=True)
    if tracked.returncode == 0:  # in a checkout
        assert tracked.stdout.strip() == ""


def test_bad_out_is_refused_before_any_computation(tmp_path, capsys):
    f = tmp_path / "a-file"
    f.write_text("x")
    cache = tmp_path / "cache"
    t0 = time.process_time()  # CPU seconds of this process: a loaded machine cannot inflate them
    assert main(["report", "--profile", "tiny", "--out", str(f), "--cache-dir", str(cache), "--quiet"]) == 2
    assert time.process_time() - t0 < 5
    err = capsys.readouterr().err
    assert "--out" in err and len(err.strip().splitlines()) == 1
    assert not cache.exists()


def test_a_folder_a_report_did_not_write_is_refused_and_kept(tmp_path, capsys):
    """The report replaces its folder whole: a folder with the user's own files (or ``--out .``) is refused
    before any computation, and nothing in it is touched."""
    out = tmp_path / "mine"
    out.mkdir()
    (out / "index.md").write_text("old")
    (out / "notes.txt").write_text("keep me")
    cache = tmp_path / "cache"
    assert main(["report", "--profile", "tiny", "--out", str(out), "--cache-dir", str(cache), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "notes.txt" in err and "a report did not write" in err and len(err.strip().splitlines()) == 1
    assert sorted(p.name for p in out.iterdir()) == ["index.md", "notes.txt"]
    assert (out / "notes.txt").read_text() == "keep me" and not cache.exists()


def test_an_earlier_reports_folder_or_an_empty_one_may_be_replaced(tmp_path):
    empty = tmp_path / "empty"
    empty.mkdir()
    check_replaceable(empty)
    check_replaceable(tmp_path / "new")
    old = tmp_path / "old"
    for d in ("data", "figures", "counterexamples"):
        (old / d).mkdir(parents=True)
    for f in ("index.md", "report.json", ".eoscheck.lock"):
        (old / f).write_text("")
    check_replaceable(old)
    (old / ".git").mkdir()
    with pytest.raises(EoscheckError, match=r"holds \.git,"):
        check_replaceable(old)


def test_a_second_writer_is_refused(tmp_path):
    out = tmp_path / "out"
    with OutputLock(out):
        with pytest.raises(EoscheckError, match="another eoscheck process"):
            build_report(out, "tiny", progress=False, sections=("descent",), cache_dir=tmp_path / "cache")


def test_swap_keeps_the_lock_and_recovers_an_interrupted_swap(tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "index.md").write_text("old")
    staging, previous = staging_paths(out)
    with OutputLock(out):
        staging.mkdir()
        (staging / "index.md").write_text("new")
        swap_in(staging, out)
        assert (out / "index.md").read_text() == "new" and not staging.exists()
        with pytest.raises(EoscheckError):  # the lock moved with the folder
            OutputLock(out).__enter__()
    # a run killed between the two renames of the fallback swap: out gone, previous kept aside
    os.replace(out, previous)
    recover(out)
    assert (out / "index.md").read_text() == "new" and not previous.exists()


_BUILD = textwrap.dedent("""
    import os, sys
    os.umask(0o022)
    from eoscheck.report import build_report
    build_report(sys.argv[1], "tiny", progress=False, sections=("claims",), cache_dir=sys.argv[2])
""")


def _snapshot(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in sorted(folder.rglob("*"))
            if p.is_file() and p.name != ".eoscheck.lock"}


def _start_time(pid: int) -> str | None:
    """Start time of a live process; None once it has ended (a zombie that init has not reaped yet
    has ended too: state Z)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


@pytest.mark.slow
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="uses /proc and SIGKILL")
def test_a_killed_report_leaves_the_previous_output_and_no_worker(tmp_path):
    """A real SIGKILL of the report while its claims worker runs: the worker ends within seconds, the
    previous output is intact, and the next report completes (files 0644 under umask 022)."""
    out, cache1, cache2 = tmp_path / "out", tmp_path / "c1", tmp_path / "c2"
    run = [sys.executable, "-c", _BUILD]
    subprocess.run(run + [str(out), str(cache1)], check=True, timeout=600, capture_output=True)
    before = _snapshot(out)
    assert "index.md" in before and "report.json" in before
    for p in out.rglob("*"):
        if p.name != ".eoscheck.lock":
            assert stat.S_IMODE(p.stat().st_mode) == (0o755 if p.is_dir() else 0o644), p
    # second report on an empty cache: its worker must compute; kill the report once the worker runs
    proc = subprocess.Popen(run + [str(out), str(cache2)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    worker = None
    deadline = time.time() + 300
    while time.time() < deadline and proc.poll() is None:
        pids = list((cache2 / "workers").glob("*.pid")) if (cache2 / "workers").is_dir() else []
        if pids:
            worker = int(pids[0].read_text().split()[0])
            break
        time.sleep(0.05)
    assert worker is not None, "the claims worker never started"
    started = _start_time(worker)
    time.sleep(1.0)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait(10)
    t0 = time.time()
    while _start_time(worker) == started and time.time() - t0 < 10:
        time.sleep(0.1)
    assert _start_time(worker) != started, "the claims worker outlived the killed report"
    assert _snapshot(out) == before  # the previous complete output, untouched
    # the next report cleans up (the dead worker's record, the staging folder) and completes
    subprocess.run(run + [str(out), str(cache1)], check=True, timeout=600, capture_output=True)
    after = _snapshot(out)
    assert "index.md" in after and after != before and not staging_paths(out)[0].exists()


def test_cleanup_on_start_ends_only_orphaned_workers(tmp_path):
    """A worker recorded by a report that is gone is ended; one whose report still runs is left alone;
    a record whose pid now belongs to another process (other start time) is only dropped."""
    from eoscheck.report.claims import kill_orphans, register_worker

    gone = subprocess.Popen([sys.executable, "-c", "pass"])
    gone.wait()  # a parent pid that no longer exists
    orphan = subprocess.Popen(["sleep", "60"])
    alive_parent = subprocess.Popen(["sleep", "60"])
    busy = subprocess.Popen(["sleep", "60"])
    try:
        folder = tmp_path / "workers"
        register_worker(folder, orphan.pid).write_text(f"{orphan.pid} {_start_time(orphan.pid)} {gone.pid}\n")
        register_worker(folder, busy.pid).write_text(f"{busy.pid} {_start_time(busy.pid)} {alive_parent.pid}\n")
        (folder / "999999.pid").write_text(f"{os.getpid()} not-my-start-time {gone.pid}\n")  # pid reused
        assert kill_orphans(folder) == [orphan.pid]
        assert orphan.wait(10) == -signal.SIGKILL
        assert busy.poll() is None and _start_time(os.getpid()) is not None
        assert sorted(p.name for p in folder.glob("*.pid")) == [f"{busy.pid}.pid"]
    finally:
        for p in (orphan, alive_parent, busy):
            if p.poll() is None:
                p.kill()
                p.wait()


def test_cache_clear_removes_a_linked_entry_as_a_link_and_counts_only_what_it_removed(tmp_path, capsys):
    """An entry that is a symbolic link (to a finished entry kept elsewhere): `cache clear` said "cleared 1
    entries" and left it, rmtree refusing links silently.  The link goes, what it points to stays."""
    root, elsewhere = tmp_path / "cache", tmp_path / "elsewhere"
    c = RunCache(root)
    c.json("demo", "e0", {"i": 0}, lambda: {"v": 1}, code="c1")
    entry = c.path("demo", "e0", RunCache.key("demo", {"i": 0}, "c1"))
    entry.rename(elsewhere)
    entry.symlink_to(elsewhere, target_is_directory=True)
    assert len(RunCache(root).entries()) == 1
    assert main(["cache", "clear", "--cache-dir", str(root)]) == 0
    assert "1 entries" in capsys.readouterr().out
    assert not entry.is_symlink() and RunCache(root).entries() == [] and (elsewhere / "DONE").is_file()
