"""Section 7 — the summary of every claim: the results of ``eoscheck check`` (the claims registry of
:mod:`eoscheck.properties`, run through its own runner, never re-implemented here), with the same
columns as ``eoscheck check``'s table, followed by every verdict of sections 1–6 of this report.

Each claim's result is cached on its own (key: claim id, profile, seed, and the source of
``properties/``, ``bounds/`` and the engine), so an interrupted report resumes claim by claim.  The
claims run in a supervised worker process (spawned, so the parent's thread pools are not inherited):
a claim that exceeds the memory limit is stopped and reported as an error, and with a time budget
(``--quick``) the claims not reached are listed as not run — never dropped silently.
"""

from __future__ import annotations

import multiprocessing as mp
import queue
import time
from typing import Any

from .cache import ENGINE_MODULES, code_hash
from .context import Context
from .document import Section, Table, counts_text, verdict_counts

TITLE = "Summary of every claim"

CHECK_COLUMNS = ["claim", "source", "exact/fitted", "examples", "worst ratio", "fitted constant",
                 "slope obs vs pred", "verdict"]


def check_rows(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``eoscheck check``'s table (eoscheck/commands/check.py ``report_table``) from its JSON."""
    from ..properties.runner import ClaimReport

    rows = []
    for d in reports:
        r = ClaimReport(**{k: v for k, v in d.items() if k in ClaimReport.__dataclass_fields__})
        kind = "fitted" if r.kind == "asymptotic" else r.kind
        fc = _num(r.fitted_constant)
        const = f"{r.constant_name}={fc:.3g}" if fc is not None else None
        rows.append({"claim": r.id, "source": r.source, "exact/fitted": kind, "examples": r.examples,
                     "worst ratio": _num(r.worst_ratio), "fitted constant": const,
                     "slope obs vs pred": r.slope_text() or None, "verdict": r.verdict})
    return rows


def _num(x):
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# the supervised worker
# ---------------------------------------------------------------------------


def _worker(ids: list[str], profile: str, seed: int, save_dir: str, out: "mp.Queue") -> None:  # pragma: no cover
    """Runs in the spawned process: check each claim and send ("start", id) then ("done", id, json)."""
    import torch

    torch.set_num_threads(1)
    from ..properties.runner import run_claim

    for cid in ids:
        out.put(("start", cid))
        rep = run_claim(cid, profile, seed, save_dir)
        out.put(("done", cid, rep.to_json()))
    out.put(("finished",))


def _rss_bytes(pid: int) -> int:
    """Resident memory of a process from /proc (0 where unavailable)."""
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return 0


def _failure(cid: str, info: dict[str, Any], message: str, verdict: str = "error") -> dict[str, Any]:
    return {"id": cid, "title": info.get("title", cid), "source": info.get("source", "?"),
            "kind": info.get("kind", "?"), "verdict": verdict, "examples": 0, "message": message}


def run_checks(ctx: Context) -> tuple[list[dict[str, Any]], list[str]]:
    """The check result of every configured claim (cached per claim) and the ids not run in the budget."""
    from ..properties.claims import all_claims, get_claim

    cfg = ctx.cfg["claims"]
    profile, budget = cfg["profile"], cfg.get("budget_s")
    mem_limit = float(cfg.get("memory_limit_gb", 6.0)) * 2**30
    claims = [get_claim(i) for i in cfg["ids"]] if cfg.get("ids") else all_claims()
    info = {c.id: {"title": c.title, "source": c.source, "kind": c.kind} for c in claims}
    code = code_hash("properties/", "bounds/", *(f"eoscheck/{m}" for m in ENGINE_MODULES))

    def key(cid):
        return {"claim": cid, "profile": profile, "seed": ctx.seed}

    results: dict[str, dict] = {}
    for c in claims:
        hit = ctx.cache.lookup_json("claim", c.id, key(c.id), code=code)
        if hit is not None:
            results[c.id] = hit
    todo = [c.id for c in claims if c.id not in results]
    t0 = time.perf_counter()
    not_run: list[str] = []
    bar = _bar(ctx, len(todo))
    spawn = mp.get_context("spawn")
    while todo:
        left = None if budget is None else budget - (time.perf_counter() - t0)
        if left is not None and left <= 0:
            not_run = list(todo)
            break
        q = spawn.Queue()
        proc = spawn.Process(target=_worker, args=(todo, profile, ctx.seed, str(ctx.out / "counterexamples"), q),
                             daemon=True)
        proc.start()
        current, started = None, time.perf_counter()
        stop_reason = None
        while True:
            try:
                msg = q.get(timeout=1.0)
            except queue.Empty:
                msg = None
            if msg is not None:
                if msg[0] == "start":
                    current, started = msg[1], time.perf_counter()
                elif msg[0] == "done":
                    cid, rep = msg[1], msg[2]
                    ctx.cache.store_json("claim", cid, key(cid), rep, time.perf_counter() - started, code=code)
                    results[cid] = rep
                    todo.remove(cid)
                    current = None
                    if bar is not None:
                        bar.update(1)
                        bar.write(f"  claim {cid:34s} {rep.get('verdict', '?'):11s} {rep.get('seconds', 0):6.1f}s")
                elif msg[0] == "finished":
                    break
                continue
            if not proc.is_alive():
                stop_reason = f"the check process ended unexpectedly (exit code {proc.exitcode})"
                break
            if _rss_bytes(proc.pid) > mem_limit:
                stop_reason = f"exceeded the report's memory limit of {mem_limit / 2**30:.0f} GiB"
                break
            if budget is not None and time.perf_counter() - t0 > budget:
                stop_reason = "budget"
                break
        if proc.is_alive():
            proc.terminate()
            proc.join(5)
            if proc.is_alive():
                proc.kill()
        proc.join(5)
        if stop_reason is None:
            break
        if stop_reason == "budget":
            not_run = list(todo)
            break
        if current is not None:  # the claim that was running is reported as an error, the rest continue
            results[current] = _failure(current, info[current], f"stopped: {stop_reason} after "
                                        f"{time.perf_counter() - started:.0f} s")
            todo.remove(current)
            if bar is not None:
                bar.update(1)
        else:
            not_run = list(todo)
            break
    if bar is not None:
        bar.close()
    ordered = [results[c.id] for c in claims if c.id in results]
    for cid in not_run:
        ordered.append(_failure(cid, info[cid], f"not run: the --{ctx.profile} time budget of {budget:.0f} s was spent "
                                f"(rerun `eoscheck report` to continue from the cache, or run `eoscheck check {cid}`)",
                                verdict="not run"))
    return ordered, not_run


def _remove_stale_counterexamples(ctx: Context, reports: list[dict[str, Any]]) -> None:
    """Keep only the counterexample files that a reported falsification refers to."""
    from pathlib import Path

    folder = ctx.out / "counterexamples"
    if not folder.is_dir():
        return
    keep = {Path(r["counterexample_file"]).name for r in reports if r.get("counterexample_file")}
    for f in folder.iterdir():
        if f.is_file() and f.name not in keep:
            f.unlink()


def _bar(ctx: Context, total: int):
    if not ctx.progress or total == 0:
        return None
    from tqdm.auto import tqdm

    return tqdm(total=total, desc="claims", unit="claim", leave=False)


# ---------------------------------------------------------------------------
# the section
# ---------------------------------------------------------------------------


def run(ctx: Context, sec: Section, previous: list[Section]) -> None:
    cfg = ctx.cfg["claims"]
    sec.intro = (
        "every checkable statement of the theory (paper §10) as a property that Hypothesis tries to falsify "
        "(`eoscheck check`): exact claims with only a floating-point allowance, asymptotic ones with constants fitted "
        "on a calibration sweep and verified on fresh, wider instances plus scaling regressions. The first table is "
        "`eoscheck check`'s table for the profile below; the second collects every verdict of sections 1–6.")
    ids = cfg.get("ids")
    sec.text(f"`eoscheck check` results, profile **{cfg['profile']}**, seed {ctx.seed}"
             + (f", claims {', '.join(ids)} only (reduced configuration)" if ids else ", all registered claims")
             + (f", time budget {cfg['budget_s']:.0f} s" if cfg.get("budget_s") else "") + ".")
    try:
        reports, not_run = run_checks(ctx)
    except ModuleNotFoundError as err:
        sec.missing.append(f"the claims machinery (eoscheck.properties: {err.name}) is not installed yet, so "
                           "`eoscheck check` results cannot be shown")
        reports, not_run = None, []
    if reports is not None:
        rows = check_rows([r for r in reports if r.get("verdict") != "not run"]) + [
            {"claim": r["id"], "source": r["source"], "exact/fitted": "fitted" if r["kind"] == "asymptotic" else r["kind"],
             "examples": 0, "worst ratio": None, "fitted constant": None, "slope obs vs pred": None,
             "verdict": "not run"} for r in reports if r.get("verdict") == "not run"]
        sec.table(Table("check", "`eoscheck check`: claim, source, exact/fitted, worst ratio, fitted constant, verdict",
                        rows, CHECK_COLUMNS))
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        sec.text("**`eoscheck check` verdicts:** " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ".")
        if not_run:
            sec.missing.append(f"{len(not_run)} claim(s) not checked within this profile's time budget: "
                               + ", ".join(not_run) + " — a second `eoscheck report` continues from the cache")
        notes = [d for d in reports if d.get("message") and d.get("verdict") not in ("holds", "not run")]
        if notes:
            sec.text("Notes from the check:\n\n" + "\n".join(f"- `{d['id']}` [{d['verdict']}]: {d['message']}"
                                                           for d in notes))
        ctx.extras["check_counts"] = counts
        _remove_stale_counterexamples(ctx, reports)
    own = []
    for s in previous:
        for v in s.verdicts:
            own.append({"§": s.number, "claim": v.claim, "source": v.source, "kind": v.kind,
                        "worst ratio": v.ratio, "verdict": v.verdict})
        for m in s.missing:
            own.append({"§": s.number, "claim": "(section incomplete)", "source": "-", "kind": "-",
                        "worst ratio": None, "verdict": "missing: " + m[:80]})
        if s.error:
            own.append({"§": s.number, "claim": "(section failed)", "source": "-", "kind": "-", "worst ratio": None,
                        "verdict": "error"})
    sec.table(Table("report_verdicts", "Every verdict of sections 1–6 of this report", own,
                    ["§", "claim", "source", "kind", "worst ratio", "verdict"]))
    sec.text("**Report verdicts (§1–6):** " + counts_text(verdict_counts(v for s in previous for v in s.verdicts)) + ".")

