"""Section 7 — the summary of every claim: the results of ``eoscheck check`` (the claims registry of
:mod:`eoscheck.properties`, run through its own runner, never re-implemented here), with the same
columns as ``eoscheck check``'s table, followed by every verdict of sections 1–6.

The verdicts never depend on time: each claim runs its profile's number of examples (the claim's
``examples`` × the profile's multiplier), exactly as ``eoscheck check --profile P`` does, so the table
is the same on any machine under any load.  The claims' Hypothesis seed is the report's ``--seed``
when one is given (``eoscheck check --seed N``), else 0 (``eoscheck check``; ``properties.search.UNSEEDED``).
They run first, before §1–6, so that a section that shows a claim's instances quotes the claim's
verdict instead of deciding the statement a second time (:func:`claim_result`).

Each claim's result is cached on its own (key: claim id, profile, seed and :func:`~.cache.claims_hash`),
so an interrupted report resumes claim by claim.  The claims run in a separate worker process (a fresh
interpreter: the parent's thread pools are not inherited) that dies with the report: its bare
interpreter asks the kernel for SIGKILL when its parent dies (``prctl(PR_SET_PDEATHSIG)``) before any
import, it checks its parent on start and every second, and every
report kills the workers an earlier, killed report left behind (:func:`kill_orphans`).  A claim that
exceeds the memory limit is stopped and reported as an error that says so.
"""

from __future__ import annotations

import math
import os
import queue
import signal
import sys
import threading
import time
from pathlib import Path
from typing import Any

from .. import progress as progress_bars
from .._errors import reraise_interrupt
from ..codehash import claims_hash
from ..outputs import atomic_write
from .context import Context
from .document import Section, Table, counts_text, verdict_counts

TITLE = "Every claim (eoscheck check) and the verdicts of §1–6"

CHECK_COLUMNS = ["claim", "source", "exact/fitted", "examples", "points that could fail", "worst ratio",
                 "holds while the ratio is", "fitted constant", "slope obs vs pred", "verdict", "in the report's words"]


def _claim_report(d: dict[str, Any]):
    """A claim's ``eoscheck check`` JSON as its :class:`~eoscheck.properties.runner.ClaimReport`."""
    from ..properties.runner import ClaimReport

    return ClaimReport(**{k: v for k, v in d.items() if k in ClaimReport.__dataclass_fields__})


def check_rows(reports: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The rows of ``eoscheck check``'s table (eoscheck/commands/check.py ``report_table``) from its JSON."""
    from ..properties.claims import ratio_side

    rows = []
    for d in reports:
        r = _claim_report(d)
        kind = "fitted" if r.kind == "asymptotic" else r.kind
        fc = _num(r.fitted_constant)
        const = f"{r.constant_name}={fc:.3g}" if fc is not None else None
        rows.append({"claim": r.id, "source": r.source, "exact/fitted": kind, "examples": r.examples,
                     "points that could fail": r.tested_text(), "worst ratio": _num(r.worst_ratio),
                     "holds while the ratio is": ratio_side(r.id) if r.worst_ratio is not None else None,
                     "fitted constant": const,
                     "slope obs vs pred": r.slope_text() or None, "verdict": r.shown_verdict,
                     "in the report's words": report_word(d)})
    return rows


def _num(x):
    if x is None:
        return None
    try:
        return float(x)
    except (TypeError, ValueError):
        return None


# ---------------------------------------------------------------------------
# the worker, and no orphans
# ---------------------------------------------------------------------------


#: The worker's program (``python -c LAUNCHER PARENT_PID JSON``).  The parent-death signal is armed by
#: the bare interpreter before any import (torch alone takes seconds on a loaded machine, a window in
#: which a killed report would leave an orphan); a thread checks the parent every second.  It imports
#: only what ``eoscheck check`` imports: the claims' instances depend on which modules are loaded
#: (importing eoscheck.audit or eoscheck.mlp changes thm1.tau's worst ratio), so the worker must not
#: load the report.  Events go to the original standard output as JSON lines ({"start": id},
#: {"done": id, "report": …}, {"finished": true}); anything the checks print goes to standard error.
LAUNCHER = """
import os, sys, threading, time
try:
    import ctypes; ctypes.CDLL(None).prctl(1, 9, 0, 0, 0)  # PR_SET_PDEATHSIG, SIGKILL
except Exception:
    pass
parent = int(sys.argv[1])
if os.getppid() != parent:
    os._exit(3)
def watch():
    while True:
        time.sleep(1.0)
        if os.getppid() != parent:
            os._exit(3)
threading.Thread(target=watch, daemon=True).start()
import json
args = json.loads(sys.argv[2])
channel = os.fdopen(os.dup(1), "w", buffering=1)
os.dup2(2, 1)
def send(obj):
    channel.write(json.dumps(obj) + "\\n")
    channel.flush()
from eoscheck.properties.runner import run_claim
for cid in args["ids"]:
    send({"start": cid})
    rep = run_claim(cid, args["profile"], args["seed"], args["save_dir"])
    send({"done": cid, "report": rep.to_json()})
send({"finished": True})
"""


def _start_time(pid: int) -> str | None:
    """The start time of a live process ``pid`` (field 22 of /proc/PID/stat); None when there is none
    or it is a zombie (ended, not yet reaped)."""
    try:
        with open(f"/proc/{pid}/stat") as fh:
            fields = fh.read().rsplit(")", 1)[1].split()
    except (OSError, IndexError):
        return None
    return None if fields[0] == "Z" else fields[19]


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def register_worker(folder: Path, pid: int) -> Path:
    """Record a running worker (its pid, start time and parent) so a later report can end it."""
    folder.mkdir(parents=True, exist_ok=True)
    f = folder / f"{pid}.pid"
    f.write_text(f"{pid} {_start_time(pid)} {os.getpid()}\n")
    return f


def kill_orphans(folder: Path) -> list[int]:
    """End the claims workers recorded in ``folder`` whose report is gone (killed before it could end
    them); the pids ended.  A worker is identified by pid *and* start time, never by name."""
    ended = []
    if not folder.is_dir():
        return ended
    for f in folder.glob("*.pid"):
        try:
            pid_s, start, parent_s = f.read_text().split()
            pid, parent = int(pid_s), int(parent_s)
        except (OSError, ValueError):
            f.unlink(missing_ok=True)
            continue
        if parent != os.getpid() and _alive(parent) and _start_time(pid) == start:
            continue  # another live report's worker
        if _start_time(pid) == start:
            try:
                os.kill(pid, signal.SIGKILL)
                ended.append(pid)
            except ProcessLookupError:
                pass
        f.unlink(missing_ok=True)
    return ended


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


def _start_worker(ids: list[str], profile: str, seed: int | None, save_dir: Path, log: Path):
    """Start the worker (:data:`LAUNCHER`); (process, queue of its events, None at its end)."""
    import json
    import subprocess

    args = json.dumps({"ids": ids, "profile": profile, "seed": seed, "save_dir": str(save_dir)})
    log.parent.mkdir(parents=True, exist_ok=True)
    with open(log, "wb") as err:
        proc = subprocess.Popen([sys.executable, "-c", LAUNCHER, str(os.getpid()), args], stdout=subprocess.PIPE,
                                stderr=err, stdin=subprocess.DEVNULL, env=dict(os.environ, EOSCHECK_PROGRESS="0"))
    events: queue.Queue = queue.Queue()

    def read():
        for line in proc.stdout:
            try:
                events.put(json.loads(line))
            except ValueError:
                pass
        events.put(None)

    threading.Thread(target=read, name="eoscheck-claims-reader", daemon=True).start()
    return proc, events


def _stop(proc) -> None:
    if proc.poll() is None:
        proc.terminate()
        try:
            proc.wait(5)
        except Exception:
            proc.kill()
            proc.wait(5)


def _log_tail(log: Path, n: int = 400) -> str:
    try:
        text = log.read_text(errors="replace").strip()
    except OSError:
        return ""
    return (" — last output: " + text[-n:].replace("\n", " | ")) if text else ""


def run_checks(ctx: Context, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """The check result of claims ``ids`` (default: the profile's, all when it names none), in
    registry order, cached per claim."""
    from ..properties.claims import all_claims, get_claim
    from ..properties.fitted import load_constants

    cfg = ctx.cfg["claims"]
    profile = cfg["profile"]
    seed = ctx.claims_seed
    mem_limit = float(cfg.get("memory_limit_gb", 6.0)) * 2**30
    ids = cfg.get("ids") if ids is None else ids
    if ids:
        order = {c.id: i for i, c in enumerate(all_claims())}
        claims = [get_claim(i) for i in sorted(dict.fromkeys(ids), key=lambda i: order.get(i, len(order)))]
    else:
        claims = all_claims()
    info = {c.id: {"title": c.title, "source": c.source, "kind": c.kind} for c in claims}
    code = claims_hash()
    saved = ctx.cache.root / "counterexamples"
    workers = ctx.cache.root / "workers"
    kill_orphans(workers)

    constants = load_constants().get("claims", {})    # $EOSCHECK_FITTED_CONSTANTS or the package's

    def key(cid):      # a claim's fitted constant decides its verdict: another constants file is another entry
        return {"claim": cid, "profile": profile, "seed": seed, "constant": constants.get(cid)}

    results: dict[str, dict] = {}
    for c in claims:
        hit = ctx.cache.lookup_json("claim", c.id, key(c.id), code=code)
        if hit is not None:
            results[c.id] = hit
    todo = [c.id for c in claims if c.id not in results]
    bar = progress_bars.bar(desc="report §7 claims", total=len(todo), unit="claim") if ctx.progress and todo else None
    while todo:
        log = workers / f"worker-{os.getpid()}.log"
        proc, events = _start_worker(todo, profile, seed, saved, log)
        pidfile = register_worker(workers, proc.pid)
        current, started, stop_reason = None, time.perf_counter(), None
        try:
            while True:
                try:
                    msg = events.get(timeout=1.0)
                except queue.Empty:
                    msg = False
                if msg is None:  # the worker's output ended
                    proc.wait()
                    stop_reason = f"the check process ended unexpectedly (exit code {proc.returncode}){_log_tail(log)}"
                    break
                if msg:
                    if "start" in msg:
                        current, started = msg["start"], time.perf_counter()
                        if bar is not None:
                            bar.set_description_str(f"report §7 claims · {current}", refresh=True)
                    elif "done" in msg:
                        cid, rep = msg["done"], msg["report"]
                        results[cid] = ctx.cache.store_json("claim", cid, key(cid), rep,
                                                            time.perf_counter() - started, code=code)
                        todo.remove(cid)
                        current = None
                        if bar is not None:
                            bar.update(1)
                            bar.write(f"  claim {cid:34s} {rep.get('verdict', '?'):11s} {rep.get('seconds', 0):6.1f}s",
                                      file=sys.stderr)
                    elif "finished" in msg:
                        break
                    continue
                if bar is not None:
                    bar.refresh()  # the elapsed time keeps moving during a long claim
                if _rss_bytes(proc.pid) > mem_limit:
                    stop_reason = f"exceeded the report's memory limit of {mem_limit / 2**30:.0f} GiB"
                    break
        finally:
            _stop(proc)
            pidfile.unlink(missing_ok=True)
        if stop_reason is None:
            log.unlink(missing_ok=True)
            break
        if current is None:  # died between claims: the rest is reported, never dropped
            for cid in todo:
                results[cid] = _failure(cid, info[cid], f"not run: {stop_reason}")
            break
        results[current] = _failure(current, info[current], f"stopped: {stop_reason} after "
                                    f"{time.perf_counter() - started:.0f} s")
        todo.remove(current)
        if bar is not None:
            bar.update(1)
    if bar is not None:
        bar.close()
    return [results[c.id] for c in claims if c.id in results]


def check_results(ctx: Context, quoted: tuple[str, ...] = ()) -> list[dict[str, Any]] | None:
    """The claims' results of this report, computed once, before §1: the profile's claims and the
    ones sections quote (``quoted``); None after a failure, which §7 reports with its traceback."""
    if "claims" not in ctx.extras:
        ids = ctx.cfg["claims"].get("ids")
        try:
            ctx.extras["claims"] = run_checks(ctx, list(ids) + list(quoted) if ids else None)
        except Exception as err:
            reraise_interrupt(err)
            ctx.extras["claims"], ctx.extras["claims_error"] = None, err
    return ctx.extras["claims"]


def claim_result(ctx: Context, claim_id: str) -> dict[str, Any] | None:
    """The ``eoscheck check`` result of one claim: §7's when it checked that claim, else checked now
    (cached like §7's); None when the claims could not be checked (§7 says why)."""
    if "claims" in ctx.extras and ctx.extras["claims"] is None:
        return None
    quoted = ctx.extras.setdefault("claims_quoted", [])
    found = next((r for r in (ctx.extras.get("claims") or []) + quoted if r.get("id") == claim_id), None)
    if found is not None:
        return found
    found = run_checks(ctx, [claim_id])[0]
    quoted.append(found)  # shown in §7 too
    return found


#: ``eoscheck check`` verdict → the report's verdict word, for exact and for fitted claims.
EXACT_WORDS = {"holds": "holds", "FALSIFIED": "VIOLATED", "warning": "inconclusive", "undecided": "inconclusive",
               "unavailable": "missing", "error": "error"}
FITTED_WORDS = dict(EXACT_WORDS, holds="consistent", FALSIFIED="INCONSISTENT")
#: a claim checked outside its theorem's hypotheses (``Claim.outside_hypotheses``: Theorem 6 below its width):
#: whatever it finds is a trend, never a verdict on the theorem (the claim's own word is shown beside it)
OUTSIDE_WORDS = dict(EXACT_WORDS, holds="trend only", FALSIFIED="trend only", warning="trend only")


def report_word(r: dict[str, Any], trend: bool = False) -> str:
    """The report's word for a claim's ``eoscheck check`` result ``r`` (its JSON): an exact claim holds or is
    VIOLATED, a fitted or heuristic one is consistent or INCONSISTENT, one checked outside its theorem's
    hypotheses (or quoted as a trend: ``trend``) is a trend only."""
    words = (OUTSIDE_WORDS if trend or r.get("outside_hypotheses")
             else FITTED_WORDS if r.get("kind") in ("asymptotic", "fitted", "heuristic") else EXACT_WORDS)
    return words.get(r.get("verdict"), "error")


def quote_claim(ctx: Context, sec: Section, claim_id: str, *, shown: str, witness: str | None = None,
                trend: bool = False, ratio: float | None = None):
    """The section's verdict on a statement that ``eoscheck check`` decides: the claim's own verdict
    and worst ratio (the same as in §7), with ``shown`` describing the section's instances.

    ``witness`` (a concrete violation the section found on its fixed instances, inside the claim's
    domain) makes the verdict VIOLATED and says that the claim's search did not find it.

    ``trend``: the section's instances lie outside the theorem's hypotheses (e.g. below Theorem 6's
    width), so whatever the claim finds there is a trend (as for a heuristic claim).

    ``ratio``: the worst ratio measured/bound on the section's own instances (an exact claim's): the row shows
    the worse of it and the check's, so the column never reads better than the section's own numbers.  The note
    says on which side of it the claim holds (:func:`~eoscheck.properties.claims.ratio_side`).

    A claim is one verdict of the report: quoted again (more evidence, in this section or a later
    one), the evidence is shown as text naming where its verdict stands, and nothing is counted twice.
    """
    quoted = ctx.extras.setdefault("claims_counted", {})
    if claim_id in quoted and witness is None:
        sec.text(f"More evidence for claim `{claim_id}` (its verdict: §{quoted[claim_id]}): {shown}.")
        return None
    quoted.setdefault(claim_id, sec.number)
    r = claim_result(ctx, claim_id)
    if r is None:
        return sec.verdict(claim_id, "?", "?", "", f"`eoscheck check` failed (§7); shown: {shown}", "error")
    from ..properties.claims import ratio_side

    verdict = report_word(r, trend)
    side = ratio_side(claim_id)
    worst = _num(r.get("worst_ratio"))
    note = f"verdict and worst ratio of claim `{claim_id}` (`eoscheck check`, §7)"
    if ratio is not None and math.isfinite(ratio) and side is not None:
        mine = max if side.startswith("≤") else min
        worst = ratio if worst is None else mine(worst, ratio)
        note = (f"verdict of claim `{claim_id}` (`eoscheck check`, §7); worst ratio over its examples and this "
                "section's instances")
    if side is not None and worst is not None:
        note += f"; the claim holds while the ratio is {side}"
    if witness is not None:
        verdict = "VIOLATED"
        note += f"; this section's instances give a witness the claim's search did not find: {witness}"
    kind = "fitted" if r.get("kind") == "asymptotic" else r.get("kind", "?")
    return sec.verdict(r.get("title", claim_id), r.get("source", "?"), kind, r.get("title", ""),
                       f"eoscheck check: {r.get('examples', 0)} examples, {_claim_report(r).shown_verdict}; shown here: {shown}",
                       verdict, ratio=worst, note=note)


#: The report's folder of the counterexample files its falsifications refer to.
COUNTEREXAMPLES = "counterexamples"


def _copy_counterexamples(ctx: Context, reports: list[dict[str, Any]]) -> None:
    """Copy the counterexample files that a reported falsification refers to into the report, and
    make the reference relative to it."""
    for r in reports:
        src = r.get("counterexample_file")
        if not src or not Path(src).is_file():
            continue
        dest = atomic_write(ctx.out / COUNTEREXAMPLES / Path(src).name, Path(src).read_bytes())
        r["counterexample_file"] = f"{COUNTEREXAMPLES}/{dest.name}"


# ---------------------------------------------------------------------------
# the section
# ---------------------------------------------------------------------------


def equivalent_command(ctx: Context, ids: list[str] | None) -> str:
    """The ``eoscheck check`` command whose table §7 reproduces."""
    cfg = ctx.cfg["claims"]
    return ("eoscheck check " + " ".join(ids or []) + f" --profile {cfg['profile']}"
            + (f" --seed {ctx.claims_seed}" if ctx.claims_seed is not None else "")).replace("  ", " ")


def run(ctx: Context, sec: Section, previous: list[Section]) -> None:
    cfg = ctx.cfg["claims"]
    sec.intro = (
        "every checkable statement of the theory (paper §10) as a property that Hypothesis tries to falsify "
        "(`eoscheck check`): exact claims with only a floating-point allowance, asymptotic ones with constants fitted "
        "on a calibration sweep and verified on fresh, wider instances plus scaling regressions. The first table is "
        "`eoscheck check`'s table for the profile below, with each verdict also in the report's words (an exact claim "
        "holds or is VIOLATED, a fitted or heuristic one is consistent or INCONSISTENT, one checked outside its "
        "theorem's hypotheses is a trend only); the second collects every verdict of sections 1–6 (§8–10 follow "
        "this section, each with its own verdicts).")
    from ..properties.search import seed_in_use

    reports = check_results(ctx)
    ids = [r["id"] for r in reports] if (reports is not None and cfg.get("ids")) else cfg.get("ids")
    have = {r["id"] for r in reports or []}
    extra = [r for r in ctx.extras.get("claims_quoted", []) if r["id"] not in have]
    if reports is not None and extra:  # the claims §1–6 quoted, beyond this profile's list
        from ..properties.claims import all_claims

        order = {c.id: i for i, c in enumerate(all_claims())}
        reports = sorted(reports + extra, key=lambda r: order.get(r["id"], len(order)))
        ids = [r["id"] for r in reports]
    sec.text(f"`eoscheck check` results, profile **{cfg['profile']}**, "
             + f"Hypothesis seed {seed_in_use(ctx.claims_seed)}"
             + (f", claims {', '.join(ids)} only (reduced configuration)" if ids else ", all registered claims")
             + f": each claim runs its profile's number of examples, never a time budget, so this table is the one "
               f"`{equivalent_command(ctx, ids)}` prints, on any machine and under any load.")
    if reports is None:
        sec.fail("eoscheck check", ctx.extras["claims_error"])
    else:
        _copy_counterexamples(ctx, reports)
        rows = check_rows(reports)
        sec.table(Table("check", "`eoscheck check`: claim, source, exact/fitted, examples, the points that could have "
                                 "contradicted the claim (of those decided: a first time looked for up to a horizon "
                                 "below the claim's limit could not), worst ratio, fitted constant, verdict",
                        rows, CHECK_COLUMNS))
        counts: dict[str, int] = {}
        for r in rows:
            counts[r["verdict"]] = counts.get(r["verdict"], 0) + 1
        sec.text("**`eoscheck check` verdicts:** " + ", ".join(f"{v} {k}" for k, v in sorted(counts.items())) + ".")
        notes = [d for d in reports if d.get("message") and d.get("verdict") != "holds"]
        if notes:
            sec.text("Notes from the check:\n\n" + "\n".join(f"- `{d['id']}` [{d['verdict']}]: {d['message']}"
                                                           for d in notes))
        ctx.extras["check_counts"] = counts
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
