"""Sympy questions, each answered in a child of the sympy server under a CPU-time limit (sympy can hang).

The questions go to :mod:`eoscheck.sympyserver`, a process started once per auditing process with Python's hash salt fixed
(PYTHONHASHSEED=0), which forks a child per question: sympy's answers follow the order of its sets and dicts, so an audit
forked from a salted process decided 3D for exp∘⋯∘exp(−z) under one salt and ran out of time under another.  A
question is any callable cloudpickle can send (a lambda, a partial); what it refers to by module and name is the
server's own import of that module, so a callable is sent, not a name looked up there.

The limits count CPU seconds, never wall-clock time, so another process's load cannot turn a question sympy
settles into one it does not (and with it a check's method or verdict): each question runs under its child's own CPU
timer (ITIMER_PROF: the child ends at the limit whether or not this process is looking, and the question is
``timed_out``), and each answer comes with the CPU seconds it took (``used``), which the budget adds up with
``/proc/<pid>/stat`` readings of the questions still running.  A much slower CPU can still lose an answer; the check
then goes numeric and its ``method`` says so, and every answer that took over a third of its limit is listed (the
audit notes how much slower a CPU would lose it).  A wall-clock cap (:data:`WALL_FACTOR` times the limit, plus
:data:`WALL_GRACE` s) only stops a child (or a server not yet forking) that is blocked (not runnable: waiting on
I/O); the pool records it in ``starved``.  A runnable child that gets no CPU (a loaded machine, a low priority) is
waited for, however long: load never decides a question.  Without ``/proc`` the budget reads wall-clock seconds for
the questions still running.

No child outlives the audit: the server dies with the auditing process (PR_SET_PDEATHSIG: the kernel sends SIGKILL
when the parent dies, even by SIGKILL) and its children with it; the pool kills every child still running when its
job is cancelled or collected, and the server at interpreter exit.
"""

from __future__ import annotations

import os
import pickle
import signal
import time
from typing import Any, Callable, Mapping

from ..sympyserver import server

#: a child without an answer after WALL_FACTOR × timeout + WALL_GRACE wall seconds is stopped
WALL_FACTOR, WALL_GRACE = 20.0, 30.0
#: a batch not forked after this many wall seconds, its server blocked (not importing), is stopped as starved
SERVER_WAIT = 120.0
#: how often (wall seconds) the children's CPU time is read while their answers are awaited
POLL_SECONDS = 0.02
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def runnable(pid: int) -> bool:
    """Whether process ``pid`` is running or waiting for a CPU (``/proc/<pid>/stat`` state R); True where it
    cannot be read, so that only a child seen blocked is ever stopped by the wall-clock cap."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            return fh.read().rsplit(b")", 1)[1].split()[0] == b"R"
    except (OSError, IndexError):
        return True


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` (Linux ``/proc``); None where it cannot be read."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as fh:
            fields = fh.read().rsplit(b")", 1)[1].split()
        return (int(fields[11]) + int(fields[12])) / _TICK   # utime, stime: fields 14 and 15 of stat(5)
    except (OSError, IndexError, ValueError):
        return None


#: whether this system has /proc/<pid>/stat (Linux): else the limits fall back to wall-clock seconds
_HAVE_PROC = cpu_seconds(os.getpid()) is not None


class SymbolicPool:
    """Answers sympy questions in children of the sympy server, each under ``timeout`` CPU seconds, all under
    ``budget``.

    sympy can hang (``limit``, ``solveset``); a child that overruns its question is killed and
    the question is answered ``None`` (undecided).  :meth:`submit` starts the children and returns
    at once, so numeric work can overlap them; :meth:`ask` waits.  Without ``fork``
    (non-POSIX) the questions run in-process without a time limit.
    """

    def __init__(self, timeout: float = 3.0, budget: float = 30.0, enabled: bool = True, workers: int = 2):
        self.timeout = timeout
        self.budget = budget
        self.spent = 0.0                 # CPU seconds of the children stopped or finished so far
        self.enabled = enabled
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        self.timed_out: list[str] = []
        self.starved: list[str] = []     # stopped by the wall-clock cap: blocked without computing
        self.used: dict[str, float] = {}  # CPU seconds each answered question took
        self.errors: dict[str, str] = {}
        self.lost: dict[str, str] = {}   # questions sympy never answered for a reason not its own (the audit says so)
        self.forks = hasattr(os, "fork")

    def ask(self, questions: Mapping[str, Callable[[], Any]], force: bool = False) -> dict[str, Any]:
        """key → answer (None when undecided, errored or timed out); ``force`` asks even when disabled."""
        return self.submit(questions, force=force).result()

    def submit(self, questions: Mapping[str, Callable[[], Any]], workers: int | None = None,
               force: bool = False) -> "SymbolicJob":
        return SymbolicJob(self, dict(questions), workers or self.workers, force)

    def _direct(self, key, fn):  # pragma: no cover - platforms without fork
        try:
            return fn()
        except Exception as err:  # noqa: BLE001 - sympy raises anything
            self.errors[key] = repr(err)[:200]
            return None


class SymbolicJob:
    """Sympy questions running in the server's children; :meth:`result` collects, :meth:`cancel` kills."""

    def __init__(self, sym: SymbolicPool, questions: dict[str, Callable[[], Any]], workers: int, force: bool = False):
        self.sym = sym
        self.questions = questions
        self.answers: dict[str, Any] = {}
        self.procs: list[dict[str, Any]] = []
        self.done = not questions
        if not (sym.enabled or force):
            self.answers = {k: None for k in questions}
            self.done = True
        elif not sym.forks:  # pragma: no cover
            self.answers = {k: sym._direct(k, fn) for k, fn in questions.items()}
            self.done = True
        elif questions:
            import cloudpickle

            self.blobs: dict[str, bytes] = {}
            for k, fn in questions.items():
                try:
                    self.blobs[k] = cloudpickle.dumps(fn)
                except Exception as err:  # noqa: BLE001 - a question that cannot be sent is undecided
                    sym.errors[k] = sym.lost[k] = f"the question cannot be sent: {type(err).__name__}: {err}"[:200]
            keys = list(self.blobs)
            self.server = server()
            self._start([keys[i::workers] for i in range(workers)])
            self.done = not self.procs

    def _start(self, chunks: list[list[str]]) -> None:
        for chunk in chunks:
            if chunk:
                token = self.server.start([(k, self.blobs[k]) for k in chunk], self.sym.timeout)
                self.procs.append({"token": token, "pid": None, "todo": list(chunk), "since": time.monotonic(),
                                   "started": None, "done_cpu": 0.0, "cur": 0.0, "cpu": 0.0, "answered": False})

    def cancel(self) -> None:
        for p in self.procs:
            self._stop(p)
        self.procs = []
        self.done = True

    def _stop(self, p) -> None:
        """Kill what is left of the batch (its running child and the questions after it) and charge its CPU."""
        if p["pid"] is not None:
            self._clock(p)
        self.server.kill(p["token"])
        self.server.forget(p["token"])
        self.sym.spent += p["cpu"]

    def _clock(self, p) -> float:
        """The batch's CPU seconds: its finished questions' (as reported, or their limit where the child's timer ended
        them), plus the running child's ``/proc`` reading; wall seconds since that child's start only where /proc
        cannot be read at all."""
        c = cpu_seconds(p["pid"])
        if c is None and not _HAVE_PROC:
            c = time.monotonic() - p["started"]
        if c is not None:
            p["cur"] = max(p["cur"], c)
        p["cpu"] = p["done_cpu"] + p["cur"]
        return p["cpu"]

    def _receive(self, p, msg, now) -> bool:
        """File one message of ``p``'s batch; False once the batch is done with."""
        sym = self.sym
        if msg[0] == "pid":          # the next question's child
            p["pid"], p["started"], p["since"], p["cur"], p["answered"] = msg[2], now, now, 0.0, False
            return True
        if msg[0] == "end":          # every question of the batch answered or given up
            p["pid"] = None
            self._stop(p)
            return False
        if msg[0] == "exit":         # the child is gone; one that did not answer ran out of its time or died
            if not p["answered"] and p["todo"]:
                key = p["todo"].pop(0)
                if msg[2] == -signal.SIGPROF:   # its own CPU timer ended it
                    sym.timed_out.append(key)
                    p["done_cpu"] += sym.timeout
                else:
                    sym.errors[key] = sym.lost[key] = f"its child process died (exit code {msg[2]})"
                    p["done_cpu"] += p["cur"]
            p["pid"], p["cur"], p["since"] = None, 0.0, now
            p["cpu"] = p["done_cpu"]
            return True
        key = p["todo"][0]
        try:
            key, ok, value, used = pickle.loads(msg[2])
        except Exception as err:  # noqa: BLE001 - an answer this process cannot read: its question is undecided
            ok, value, used = None, f"its answer cannot be read: {type(err).__name__}: {err}", p["cur"]
        p["answered"] = True
        if key in p["todo"]:
            p["todo"].remove(key)
        p["done_cpu"] += used
        p["cur"] = 0.0
        p["cpu"] = p["done_cpu"]
        p["since"] = now
        if used > sym.timeout:       # over its limit (its timer's tick, or a question that ignored SIGPROF)
            sym.timed_out.append(key)
            return True
        self.answers[key] = value if ok else None
        if not ok:
            sym.errors[key] = value
        if ok is None:               # not asked: the server could not read the question (or this process its answer)
            sym.lost[key] = value
        sym.used[key] = used
        return True

    def result(self) -> dict[str, Any]:
        sym = self.sym
        cap = WALL_FACTOR * sym.timeout + WALL_GRACE
        while self.procs:
            self.server.wait([p["token"] for p in self.procs], POLL_SECONDS)
            now = time.monotonic()
            for p in list(self.procs):
                gone = self.server.gone      # read first: the server's last messages are filed before it is gone
                if not all(self._receive(p, msg, now) for msg in self.server.take(p["token"])):
                    self.procs.remove(p)
                    continue
                if gone is not None:
                    for key in p["todo"]:
                        sym.errors[key] = sym.lost[key] = gone
                    self._stop(p)
                    self.procs.remove(p)
                    continue
                # the CPU limit is the child's own (ITIMER_PROF); the wall cap stops only what is blocked: the child,
                # or, before it is forked, the server
                pid, wait = (p["pid"], cap) if p["pid"] is not None else (self.server.proc.pid, SERVER_WAIT)
                if now - p["since"] >= wait and not runnable(pid):
                    self._stop(p)
                    self.procs.remove(p)
                    sym.starved.extend(p["todo"][:1] if p["pid"] is not None else p["todo"])
                    if p["pid"] is not None and p["todo"][1:]:
                        self._start([p["todo"][1:]])
                    continue
                if p["pid"] is not None:
                    self._clock(p)
            if sym.spent + sum(p["cpu"] for p in self.procs) >= sym.budget:
                for p in self.procs:
                    self._stop(p)
                    sym.timed_out.extend(p["todo"])
                self.procs = []
        self.done = True
        return {k: self.answers.get(k) for k in self.questions}
