"""Section 8 — provenance: versions, device, seeds, configuration hash, wall time per section, the
cache's reuse, and which encoding answered each bound the report evaluated."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

from ..provenance import device_info, versions
from . import theory
from .context import Context
from .document import Section, Table

TITLE = "Provenance"


def git_commit() -> str | None:
    """The repository's HEAD commit (read-only), or None outside a git checkout."""
    try:
        root = Path(__file__).resolve().parents[2]
        out = subprocess.run(["git", "-C", str(root), "rev-parse", "HEAD"], capture_output=True, text=True, timeout=5)
        return out.stdout.strip() or None if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def run(ctx: Context, sec: Section, previous: list[Section], header: dict[str, Any]) -> None:
    sec.intro = "everything needed to rerun this report and compare: the command, configuration, versions, device."
    rows = [{"item": "command", "value": header["command"]},
            {"item": "profile", "value": header["profile"]},
            {"item": "configuration hash", "value": header["config_hash"]},
            {"item": "seed (synthetic data, network init, Hypothesis)", "value": ctx.seed},
            {"item": "device", "value": ctx.device},
            {"item": "git commit", "value": git_commit() or "unknown"},
            {"item": "time (UTC)", "value": header["time_utc"]}]
    sec.table(Table("run", "This report", rows))
    v = versions()
    sec.table(Table("versions", "Package versions", [{"package": k, "version": x} for k, x in v.items()]))
    dev = device_info(ctx.device)
    sec.table(Table("machine", "Machine", [{"item": k, "value": str(x)} for k, x in dev.items()]))
    stats = ctx.cache.stats()
    times = [{"§": s.number, "section": s.title, "status": s.status, "wall time (s)": s.wall_s} for s in previous]
    sec.table(Table("wall_time", "Wall time per section (this invocation; cached runs cost ~0)", times))
    sec.table(Table("cache", f"Run cache ({ctx.cache.root.name}/ under the report folder)", [
        {"item": "lookups", "value": stats["lookups"]}, {"item": "reused (hits)", "value": stats["hits"]},
        {"item": "computed", "value": stats["computed"]},
        {"item": "seconds computing", "value": round(stats["compute_seconds"], 1)},
        {"item": "cache enabled", "value": stats["enabled"]}]))
    used = theory.used_table()
    if used:
        sec.table(Table("bounds_used", "Bounds evaluated, by id, and the encoding that answered", used))
