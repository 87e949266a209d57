"""Orchestration of ``eoscheck report``: validate the output folder, take its lock, check the claims,
run the eight sections into a staging folder, and swap the finished folder in.

Outputs.  ``--out`` (default :data:`DEFAULT_OUT`, never the committed ``reports/latest``) is checked
before any computation (:func:`eoscheck.outputs.check_output_dir`) and locked for one writer
(:class:`eoscheck.outputs.OutputLock`).  The report is written into a sibling staging folder
``.<out>.eoscheck-staging`` and exchanged with ``out`` in one ``renameat2(RENAME_EXCHANGE)`` (or, where
the kernel lacks it, two renames with the previous output kept as ``.<out>.eoscheck-previous`` until
the new one is in place): a report killed at any moment leaves the previous complete output (or, before
the first success, none), and the next report removes the leftovers and completes.  Files are written
atomically with the permissions a plain ``open()`` gives (0644 under umask 022).

A crash in a section becomes an explicit error in the report, with its traceback, never a silent one.
"""

from __future__ import annotations

import ctypes
import os
import shlex
import shutil
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .. import progress as progress_bars
from .._errors import EoscheckError, reraise_interrupt
from ..outputs import LOCK_NAME, OutputLock, check_output_dir, not_ours
from ..provenance import config_hash, source
from . import acceleration, claims, descent, eos_length, figure1, losses, lower_tau, ntk, provenance, sweep_study, theorem1
from .cache import RunCache, default_cache_dir
from .config import profile_config
from .context import Context
from .provenance import revision_text
from .document import BAD_VERDICTS, Section, counts_text, verdict_counts, write_report

#: The default output folder, relative to the working directory: never a tracked folder of the project
#: (regenerating the committed report is an explicit ``--out reports/latest``).
DEFAULT_OUT = "eoscheck-report"

#: (number, key, module) of every section, in report order.
SECTIONS = (
    (1, "descent", descent),
    (2, "figure1", figure1),
    (3, "theorem1", theorem1),
    (4, "acceleration", acceleration),
    (5, "losses", losses),
    (6, "ntk", ntk),
    (7, "claims", claims),
    (8, "eos_length", eos_length),
    (9, "lower_tau", lower_tau),
    (10, "sweep_study", sweep_study),
    (11, "provenance", provenance),
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


def staging_paths(out: Path) -> tuple[Path, Path]:
    """(staging folder, previous-output folder) of an output folder: hidden siblings of it."""
    return out.parent / f".{out.name}.eoscheck-staging", out.parent / f".{out.name}.eoscheck-previous"


#: What a report writes at the top of its folder, with the lock: the report replaces its folder whole, so
#: a folder holding anything else is refused (:func:`check_replaceable`) rather than emptied.
REPORT_ENTRIES = frozenset({"index.md", "report.json", "data", "figures", claims.COUNTEREXAMPLES, LOCK_NAME})


def check_replaceable(out: Path) -> None:
    """Refuse an output folder that holds anything a report did not write (before any computation)."""
    if not out.is_dir():
        return
    other = sorted(p.name for p in out.iterdir() if p.name not in REPORT_ENTRIES)
    if other:
        raise not_ours(out, other, "report", "its folder whole")


def recover(out: Path) -> None:
    """Put back the previous complete output if a report was killed between the two renames of the
    fallback swap (``out`` missing, the previous one kept aside)."""
    _, previous = staging_paths(out)
    if previous.is_dir() and not out.exists():
        os.replace(previous, out)


def _exchange(a: Path, b: Path) -> bool:
    """Atomically exchange two paths (Linux ``renameat2(RENAME_EXCHANGE)``); False where unsupported."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        fn = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    rc = fn(at_fdcwd, os.fsencode(str(a)), at_fdcwd, os.fsencode(str(b)), rename_exchange)
    return rc == 0


def swap_in(staging: Path, out: Path) -> None:
    """Make the finished ``staging`` folder the new ``out``; the old content is removed.

    The lock file is hard-linked into the staging folder first, so the lock (held on its inode) stays
    on ``out`` across the swap.
    """
    lock = out / LOCK_NAME
    if lock.exists() and not (staging / LOCK_NAME).exists():
        os.link(lock, staging / LOCK_NAME)
    _, previous = staging_paths(out)
    if _exchange(staging, out):
        shutil.rmtree(staging, ignore_errors=True)
        return
    if previous.exists():
        shutil.rmtree(previous)
    os.replace(out, previous)
    os.replace(staging, out)
    shutil.rmtree(previous, ignore_errors=True)


def _heartbeat(bar, every_s: float = 1.0) -> threading.Event:
    """Redraw ``bar`` every second (its elapsed time moves during a long run, a figure, a claim): no
    silent stretch.  Set the returned event to stop."""
    stop = threading.Event()
    if bar is not None:
        def beat():
            while not stop.wait(every_s):
                bar.refresh()

        threading.Thread(target=beat, name="eoscheck-report-heartbeat", daemon=True).start()
    return stop


def build_report(out: str | Path = DEFAULT_OUT, profile: str = "quick", *, device: str = "cpu",
                 seed: int | None = None, use_cache: bool = True, progress: bool = True,
                 command: str | None = None, sections: tuple[str, ...] | None = None,
                 cache_dir: str | Path | None = None, mnist: str | Path | None = None) -> ReportResult:
    """Build the report into ``out`` (see the module docstring).

    ``seed`` seeds synthetic data and network initializations (0 when None) and, when given, the
    claims' Hypothesis search (else seed 0, as ``eoscheck check``).  ``sections``
    restricts the build to some section keys (provenance is always added); ``cache_dir`` defaults to
    :func:`~eoscheck.report.cache.default_cache_dir`.  ``mnist``: a folder with MNIST's train idx
    files; Fig. 1(c)(d) then runs the paper's exact "0"/"8" setting.
    """
    t_start = time.perf_counter()
    cfg = profile_config(profile)
    if seed is not None and (isinstance(seed, bool) or not isinstance(seed, int) or seed < 0):
        raise EoscheckError(f"--seed must be an integer ≥ 0, got {seed!r}")
    if mnist is not None:
        if not Path(mnist).is_dir():
            raise EoscheckError(f"--mnist {mnist}: not a folder; give the folder holding MNIST's "
                                "train-images-idx3-ubyte[.gz] and train-labels-idx1-ubyte[.gz]")
        figure1.mnist08(mnist)      # before any computation: missing or malformed idx files are refused now
        cfg["figure1"]["digits"]["mnist"] = str(Path(mnist).resolve())
    out = check_output_dir(out)
    cache_root = check_output_dir(cache_dir if cache_dir is not None else default_cache_dir(), "--cache-dir")
    RunCache(cache_root, enabled=use_cache).check_owned("nothing written")   # before the output folder is made
    recover(out)
    check_replaceable(out)
    from ..properties.fitted import load_constants

    load_constants()        # §7's claims read $EOSCHECK_FITTED_CONSTANTS: a bad file is refused up front
    with OutputLock(out):
        staging, previous = staging_paths(out)
        for leftover in (staging, previous):
            if leftover.exists():
                shutil.rmtree(leftover)
        staging.mkdir(parents=True)
        result = _build(out, staging, cfg, profile, device, seed, use_cache, progress, command, sections,
                        cache_root, t_start)
        swap_in(staging, out)
    result.index = out / "index.md"
    return result


def _build(out: Path, staging: Path, cfg: dict, profile: str, device: str, seed: int | None, use_cache: bool,
           progress: bool, command: str | None, sections: tuple[str, ...] | None, cache_root: Path,
           t_start: float) -> ReportResult:
    cache = RunCache(cache_root, enabled=use_cache)
    cache.mark()            # before any section writes into it (the claims' workers/ come first)
    cache.clean_temporaries()
    data_seed = 0 if seed is None else int(seed)
    ctx = Context(out=staging, cfg=cfg, profile=profile, seed=data_seed, claims_seed=seed, device=device,
                  cache=cache, progress=progress)
    from ..datasets import FASHION_MNIST_DIR

    # optional data found on this machine choose a section's data (Fig. 1 (c)-(d)): part of the configuration
    offline = {"fashion-mnist": FASHION_MNIST_DIR.is_dir()}
    header = {
        "command": command or f"eoscheck report --out {shlex.quote(str(out))} --{profile}",
        "profile": profile, "seed": data_seed, "claims_seed": seed, "device": device, "offline_data": offline,
        "config_hash": config_hash({"profile": profile, "config": cfg, "seed": seed, "device": device,
                                    "offline_data": offline}),
        "time_utc": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
    }
    header["revision"] = dict(source())
    header["code"] = revision_text(header["revision"])
    done: list[Section] = []
    todo = [s for s in SECTIONS if sections is None or s[1] in sections or s[1] == "provenance"]
    bar = progress_bars.bar(desc="report", total=len(todo), unit="section") if progress else None
    ctx.extras["bar"] = bar
    stop = _heartbeat(bar)
    check_s = 0.0
    if any(key == "claims" for _, key, _ in todo):  # first: §1–6 quote the claims' verdicts
        if bar is not None:
            bar.set_description_str("report §7 claims (checked first)")
        t0 = time.perf_counter()
        claims.check_results(ctx, tuple(c for _, _, m in todo for c in getattr(m, "CLAIMS", ())))
        check_s = time.perf_counter() - t0      # §7's own time, though spent before §1
    for number, key, module in todo:
        ctx.extras["bar_desc"] = f"report §{number} {key}"
        if bar is not None:
            bar.set_description_str(ctx.extras["bar_desc"])
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
        except Exception as err:  # a bug must show in the report, with its traceback
            reraise_interrupt(err)
            sec.fail("", err)
        sec.wall_s = time.perf_counter() - t0 + (check_s if key == "claims" else 0.0)
        done.append(sec)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.set_description_str("report: writing files")
    header["wall_s"] = time.perf_counter() - t_start
    if "check_counts" in ctx.extras:
        header["check_counts"] = ctx.extras["check_counts"]
    if ctx.extras.get("stand_ins"):
        header["stand_ins"] = list(ctx.extras["stand_ins"])
    superseded = cache.prune_superseded()
    pruned, freed = cache.prune()
    extra = {"config": cfg, "cache": dict(cache.stats(), superseded_removed=superseded, pruned=pruned,
                                          pruned_bytes=freed),
             "cache_events": [e.__dict__ for e in cache.events]}
    index = write_report(staging, done, header, extra)
    stop.set()
    if bar is not None:
        bar.close()
    return ReportResult(index=index, sections=done, wall_s=time.perf_counter() - t_start, cache=cache.stats(),
                        check_counts=ctx.extras.get("check_counts"))
