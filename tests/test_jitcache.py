"""numba's file cache and :func:`eoscheck.jitcache.drop_stale`: an edited callee in another file
must not leave the caller's old machine code in use."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

CALLEE = "from numba import njit\n\n\n@njit(cache=True)\ndef g(x):\n    return x + {}\n"
CALLER = textwrap.dedent("""
    import sys
    from numba import njit
    import callee
    from callee import g


    @njit(cache=True)
    def f(x):
        return g(x) * 10


    if sys.argv[1] == "guarded":
        from eoscheck.jitcache import drop_stale

        drop_stale(f, callee)
    print(f(1))
    """)


def _run(folder, mode: str) -> int:
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_CACHE_DIR"}   # the cache beside the files
    out = subprocess.run([sys.executable, "caller.py", mode], cwd=folder, env=env, capture_output=True,
                         text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    return int(out.stdout.split()[-1])


def _write_callee(folder, k: int) -> None:
    with open(folder / "callee.py", "w") as fh:
        fh.write(CALLEE.format(k))


@pytest.mark.parametrize("mode", ["plain", "guarded"])
def test_an_edited_callee_reaches_the_cached_caller_only_through_drop_stale(tmp_path, mode):
    """f(1) = (1 + k)·10 with k in callee.py.  After k = 1 → 2 (same file size), numba alone reuses f's
    cached code (the old 20: why drop_stale exists); with drop_stale the caller is recompiled (30)."""
    (tmp_path / "caller.py").write_text(CALLER)
    _write_callee(tmp_path, 1)
    assert _run(tmp_path, mode) == 20
    assert any(p.suffix == ".nbi" for p in (tmp_path / "__pycache__").iterdir())   # f was cached
    _write_callee(tmp_path, 2)
    assert _run(tmp_path, mode) == (20 if mode == "plain" else 30)
    assert _run(tmp_path, mode) == (20 if mode == "plain" else 30)   # and the new code is cached again


def test_drop_stale_deletes_only_when_the_sources_changed(tmp_path, monkeypatch):
    """A second check with the same sources keeps the cache; a changed callee deletes the owner's
    module files, not another module's."""
    from eoscheck.jitcache import drop_stale

    monkeypatch.syspath_prepend(str(tmp_path))
    for name in ("callee", "owner"):                         # imported here, absent again afterwards
        monkeypatch.setitem(sys.modules, name, None)
        monkeypatch.delitem(sys.modules, name)
    _write_callee(tmp_path, 1)
    (tmp_path / "owner.py").write_text("from numba import njit\n\n\n@njit(cache=True)\ndef h(x):\n    return x\n")
    import callee
    import owner

    assert owner.h(3) == 3 and callee.g(1) == 2              # both modules cached
    folder = Path(owner.h._cache.cache_path)                 # __pycache__ beside it, or under NUMBA_CACHE_DIR
    assert Path(callee.g._cache.cache_path) == folder

    def files(stem):
        return sorted(p.name for p in folder.iterdir() if p.name.startswith(stem + ".") and p.suffix in (".nbi", ".nbc"))

    assert files("owner") and files("callee")
    assert drop_stale(owner.h, callee) is True             # no stamp yet: dropped, stamp written
    assert files("owner") == [] and files("callee")
    owner.h.recompile()                                      # compiled and cached again
    kept = files("owner")
    assert kept
    assert drop_stale(owner.h, callee) is False            # same sources: nothing deleted
    assert files("owner") == kept
    _write_callee(tmp_path, 5)
    assert drop_stale(owner.h, callee) is True
    assert drop_stale(owner.h, callee) is False
