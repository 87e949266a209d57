"""``eoscheck cache``: the report's run cache — where it is and how big (``info``), remove old or
excess entries (``prune``), or everything (``clear``).  See :mod:`eoscheck.report.cache`."""

from __future__ import annotations

from pathlib import Path

from .._errors import EoscheckError

NAME = "cache"
HELP = "show (info), prune or clear the report's run cache (default ~/.cache/eoscheck)"


def add_arguments(p) -> None:
    p.add_argument("action", choices=("info", "prune", "clear"), help="info | prune | clear")
    p.add_argument("--cache-dir", default=None,
                   help="the cache folder (default $EOSCHECK_CACHE_DIR, else $XDG_CACHE_HOME/eoscheck or "
                        "~/.cache/eoscheck)")
    p.add_argument("--older-than", type=float, default=None, metavar="DAYS",
                   help="prune: remove entries unused for DAYS days (default 30)")
    p.add_argument("--max-size", type=float, default=None, metavar="MB",
                   help="prune: then remove the least recently used entries until the cache holds at most MB "
                        "megabytes (default 2048)")


def _mb(n: int) -> str:
    return f"{n / 2**20:.1f} MB"


def run(args) -> int:
    from ..report.cache import PRUNE_DAYS, PRUNE_MAX_BYTES, RunCache, default_cache_dir

    root = default_cache_dir() if args.cache_dir is None else Path(args.cache_dir).expanduser()
    if root.exists() and not root.is_dir():
        raise EoscheckError(f"--cache-dir {root}: is a file, not a folder; give the cache folder")
    for name, v in (("--older-than", args.older_than), ("--max-size", args.max_size)):
        if v is not None and not (v >= 0 and v < float("inf")):
            raise EoscheckError(f"{name} must be a finite number ≥ 0, got {v}")
    if args.action != "prune" and (args.older_than is not None or args.max_size is not None):
        raise EoscheckError("--older-than and --max-size apply to `eoscheck cache prune` only")
    cache = RunCache(root)
    if args.action == "info":
        entries = cache.entries()
        kinds: dict[str, list[int]] = {}
        for e in entries:
            k = kinds.setdefault(e["kind"], [0, 0])
            k[0] += 1
            k[1] += e["bytes"]
        print(f"eoscheck cache: {root}" + ("" if root.is_dir() else " (does not exist yet)"))
        print(f"  {len(entries)} entries, {_mb(sum(e['bytes'] for e in entries))}")
        for kind, (n, b) in sorted(kinds.items()):
            print(f"  {kind:10s} {n:5d} entries  {_mb(b):>10s}")
        return 0
    if args.action == "prune":
        days = PRUNE_DAYS if args.older_than is None else args.older_than
        cap = PRUNE_MAX_BYTES if args.max_size is None else int(args.max_size * 2**20)
        n, freed = cache.prune(days, cap)
        print(f"eoscheck cache: pruned {n} entries ({_mb(freed)}) from {root}")
        return 0
    n, freed = cache.clear()
    print(f"eoscheck cache: cleared {n} entries ({_mb(freed)}) from {root}")
    return 0
