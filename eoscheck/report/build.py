"""Orchestration of ``eoscheck report``: run the eight sections in order (progress bars per section and
per run), time them, turn a missing dependency into an explicit gap and a crash into an explicit error
(never a silent one), and write the report (:func:`eoscheck.report.document.write_report`).
"""

from __future__ import annotations

import shlex
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..provenance import config_hash
from . import acceleration, claims, descent, figure1, losses, ntk, provenance, theorem1
from .cache import RunCache
from .config import profile_config
from .context import Context
from .document import BAD_VERDICTS, Section, counts_text, verdict_counts, write_report
from .theory import MissingDependency

#: (number, key, module) of every section, in report order.
SECTIONS = (
    (1, "descent", descent),
    (2, "figure1", figure1),
    (3, "theorem1", theorem1),
    (4, "acceleration", acceleration),
    (5, "losses", losses),
    (6, "ntk", ntk),
    (7, "claims", claims),
    (8, "provenance", provenance),
)


@dataclass
class ReportResult:
    """What a build produced: the index path, the sections, the wall time and the cache statistics."""

    index: Path
    sections: list[Section]
    wall_s: float
    cache: dict[str, Any]
    check_counts: dict[str, int] | None = None

    @property
    def counts(self) -> dict[str, int]:
        return verdict_counts(v for s in self.sections for v in s.verdicts)

    @property
    def errors(self) -> list[Section]:
        return [s for s in self.sections if s.error]

    def summary(self) -> str:
        """The one-line summary printed at the end of ``eoscheck report``."""
        gaps = sum(bool(s.missing) for s in self.sections)
        bad = sum(self.counts.get(k, 0) for k in BAD_VERDICTS)
        return (f"eoscheck report: {self.index} — {len(self.sections)} sections, {counts_text(self.counts)}"
                + (f"; {gaps} section(s) incomplete" if gaps else "")
                + (f"; {len(self.errors)} section(s) FAILED" if self.errors else "")
                + (f" ({bad} adverse verdicts)" if bad else "")
                + ("; eoscheck check: " + ", ".join(f"{v} {k}" for k, v in sorted(self.check_counts.items()))
                   if self.check_counts else "")
                + f"; {self.wall_s:.0f} s, runs: {self.cache['hits']} reused, {self.cache['computed']} computed")


def build_report(out: str | Path = "reports/latest", profile: str = "quick", *, device: str = "cpu", seed: int = 0,
                 use_cache: bool = True, progress: bool = True, command: str | None = None,
                 sections: tuple[str, ...] | None = None, cache_dir: str | Path | None = None) -> ReportResult:
    """Build the report into ``out`` (see the module docstring).

    ``sections`` restricts the build to some section keys (provenance is always added) and
    ``cache_dir`` uses another run cache than ``<out>/.cache`` (both for tests and debugging).
    """
    t_start = time.perf_counter()
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    cfg = profile_config(profile)
    cache = RunCache(Path(cache_dir) if cache_dir else out / ".cache", enabled=use_cache)
    cache.clean_temporaries()
    ctx = Context(out=out, cfg=cfg, profile=profile, seed=int(seed), device=device, cache=cache, progress=progress)
    header = {
        "command": command or f"eoscheck report --out {shlex.quote(str(out))} --{profile}",
        "profile": profile, "seed": int(seed), "device": device,
        "config_hash": config_hash({"profile": profile, "config": cfg, "seed": int(seed), "device": device}),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    done: list[Section] = []
    todo = [s for s in SECTIONS if sections is None or s[1] in sections or s[1] == "provenance"]
    bar = _bar(todo, progress)
    for number, key, module in todo:
        if progress:
            bar.set_description(f"report §{number} {key}")
        sec = Section(number, key, module.TITLE)
        t0 = time.perf_counter()
        try:
            if key == "claims":
                module.run(ctx, sec, done)
            elif key == "provenance":
                header["wall_s"] = time.perf_counter() - t_start
                module.run(ctx, sec, done, header)
            else:
                module.run(ctx, sec)
        except MissingDependency as err:
            sec.missing.append(str(err))
        except ModuleNotFoundError as err:
            sec.missing.append(f"module `{err.name}` is not available yet ({err}); this section cannot be computed")
        except KeyboardInterrupt:
            raise
        except Exception as err:  # a bug must show in the report, with its traceback
            sec.fail("", err)
        sec.wall_s = time.perf_counter() - t0
        done.append(sec)
        if progress:
            bar.update(1)
    if progress:
        bar.close()
    wall = time.perf_counter() - t_start
    header["wall_s"] = wall
    if "check_counts" in ctx.extras:
        header["check_counts"] = ctx.extras["check_counts"]
    extra = {"config": cfg, "cache": cache.stats(), "cache_events": [e.__dict__ for e in cache.events]}
    index = write_report(out, done, header, extra)
    _remove_stale(out, done)
    return ReportResult(index=index, sections=done, wall_s=wall, cache=cache.stats(),
                        check_counts=ctx.extras.get("check_counts"))


def _bar(items, enabled: bool):
    if not enabled:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=len(items), unit="section", file=sys.stderr, position=0, leave=True)


def _remove_stale(out: Path, sections: list[Section]) -> None:
    """Delete figures and data files of an earlier build that this build did not produce."""
    figs = {(out / f.file).resolve() for s in sections for f in s.figures}
    for p in (out / "figures").glob("*.png"):
        if p.resolve() not in figs:
            p.unlink()
    keep = set()
    for s in sections:
        ids = [t.id for t in s.tables] + (["verdicts"] if s.verdicts else [])
        keep |= {(out / "data" / s.key / f"{i}.{ext}").resolve() for i in ids for ext in ("csv", "json")}
    data = out / "data"
    if data.is_dir():
        for p in data.rglob("*"):
            if p.is_file() and p.resolve() not in keep:
                p.unlink()
