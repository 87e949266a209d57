"""The commit of an eoscheck checkout and whether its code differs from it (standard library only: the build
step in ``setup.py`` loads this file by path, before eoscheck's dependencies are installed)."""

from __future__ import annotations

import subprocess
from pathlib import Path

#: The folders whose files run as eoscheck's code: a file git does not track there runs too (a new command
#: module, a new bound), so it makes a checkout dirty like a changed tracked file.
CODE_FOLDERS = ("eoscheck", "bounds", "properties")


def git(root: Path, *args: str) -> str | None:
    """``git -C root ARGS``'s output, or None (no git, not a repository, a failure)."""
    try:
        out = subprocess.run(["git", "-c", f"safe.directory={root}", "-C", str(root), *args],
                             capture_output=True, text=True, timeout=10)
    except (OSError, subprocess.SubprocessError):
        return None
    return out.stdout.strip() if out.returncode == 0 else None


def checkout_state(root: Path) -> dict[str, str | bool | None]:
    """{"commit": HEAD, "dirty": a tracked file changed or an untracked one in :data:`CODE_FOLDERS`} of the
    checkout at ``root`` (None where git cannot say)."""
    status = git(root, "status", "--porcelain", "--untracked-files=no")
    new = git(root, "ls-files", "--others", "--exclude-standard", "--", *CODE_FOLDERS)
    return {"commit": git(root, "rev-parse", "HEAD"),
            "dirty": None if status is None or new is None else bool(status or new)}
