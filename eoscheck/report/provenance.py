"""Section 8 — provenance: the exact code the report ran from (git commit and a dirty flag in a
checkout, the installed version and the code hashes otherwise), versions, device, seeds,
configuration hash, wall time per section, the cache's reuse, and the bounds evaluated."""

from __future__ import annotations

from typing import Any

from ..codehash import claims_hash, engine_hash
from ..provenance import array_hash, device_info, source, versions
from . import theory
from .context import Context
from .document import Section, Table

TITLE = "Provenance"


def revision_text(rev: dict[str, Any]) -> str:
    """One line: ``commit <sha> (uncommitted changes)``, the same as recorded by the installed package's
    build, or ``eoscheck <version> (installed, no record of its commit)``."""
    if rev.get("commit"):
        built = rev.get("recorded") == "build"
        built = " (installed; recorded when the package was built from its checkout)" if built else ""
        return f"commit {rev['commit']}" + (" with uncommitted changes" if rev.get("dirty") else "") + built
    return f"eoscheck {rev['version']} (installed package, no record of the commit it was built from)"


def run(ctx: Context, sec: Section, previous: list[Section], header: dict[str, Any]) -> None:
    from ..properties.search import seed_in_use

    sec.intro = "everything needed to rerun this report and compare: the command, code, configuration, versions, device."
    rev = header.get("revision") or dict(source())
    rows = [{"item": "command", "value": header["command"]},
            {"item": "code", "value": revision_text(rev)},
            {"item": "git commit", "value": rev.get("commit") or "none (an install with no record of it)"},
            {"item": "uncommitted changes", "value": rev.get("dirty")},
            {"item": "eoscheck version", "value": rev.get("version")},
            {"item": "code hash (engine / claims)", "value": f"{engine_hash()} / {claims_hash()}"},
            {"item": "profile", "value": header["profile"]},
            {"item": "configuration hash", "value": header["config_hash"]},
            {"item": "seed (synthetic data, network init)", "value": ctx.seed},
            {"item": "claims' Hypothesis seed", "value": seed_in_use(ctx.claims_seed)},
            {"item": "device", "value": ctx.device},
            {"item": "time (UTC)", "value": header["time_utc"]}]
    sec.table(Table("run", "This report", rows))
    v = versions()
    sec.table(Table("versions", "Package versions", [{"package": k, "version": x} for k, x in v.items()]))
    sec.table(Table("datasets", "Datasets of the GD runs: the certified max margin γ* ∈ [γ, γ + gap] (every bound "
                                "uses the lower end γ, a valid margin with its w*) and the data's hash", [
        {"dataset": d.name, "n": d.n, "d": d.d, "max‖x‖": d.max_norm, "γ (certified lower end)": mm.gamma,
         "gap": mm.gap, "support points": int(len(mm.support)), "data hash": array_hash(d.X, d.y),
         "source": (str(d.meta.get("source", "")) + (f" {d.meta['images']}" if "images" in d.meta else ""))[:120]}
        for d, mm in ((d, d.max_margin()) for d in ctx.datasets_used())]))
    nets = ctx.network_datasets_used()
    if nets:
        sec.table(Table("network_datasets", "Datasets of the network runs (Theorem 6's two-layer net, the slides' "
                                            "3-layer net) and the data's hash", nets))
    drawn = ctx.extras.get("external_data", [])
    if drawn:
        sec.table(Table("external_data", "Committed data a section draws without computing it (its own commit, time "
                                         "and machine)", drawn))
    dev = device_info(ctx.device)
    sec.table(Table("machine", "Machine", [{"item": k, "value": str(x)} for k, x in dev.items()]))
    stats = ctx.cache.stats()
    times = [{"§": s.number, "section": s.title, "status": s.status, "wall time (s)": s.wall_s} for s in previous]
    sec.table(Table("wall_time", "Wall time per section (this invocation; cached runs cost ~0)", times))
    sec.table(Table("cache", "Run cache (`eoscheck cache info`)", [
        {"item": "lookups", "value": stats["lookups"]}, {"item": "reused (hits)", "value": stats["hits"]},
        {"item": "computed", "value": stats["computed"]},
        {"item": "seconds computing", "value": round(stats["compute_seconds"], 1)},
        {"item": "cache enabled", "value": stats["enabled"]}]))
    used = theory.used_table()
    if used:
        sec.table(Table("bounds_used", "Bounds evaluated, by id", used))
