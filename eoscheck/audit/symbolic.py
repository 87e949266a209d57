"""Sympy questions, each answered in a forked child under a CPU-time limit (sympy can hang).

The limits count the children's CPU seconds (``/proc/<pid>/stat``), never wall-clock time, so
another process's load cannot turn a question sympy settles into one it does not (and with it
a check's method or verdict).  A much slower CPU still can; the check then goes numeric and its
``method`` says so, and every answer that took over a third of its limit is listed (``used``: the
audit notes how much slower a CPU would lose it).  A wall-clock cap (:data:`WALL_FACTOR` times the
limit, plus :data:`WALL_GRACE` s) only stops a child that is blocked (not runnable: waiting on I/O);
the pool records it in ``starved``.  A runnable child that gets no CPU (a loaded machine, a low
priority) is waited for, however long: load never decides a question.  Without ``/proc`` the limits
fall back to wall-clock time.

The children die with the audit: each sets PR_SET_PDEATHSIG (Linux: the kernel sends SIGKILL
when the parent dies, even by SIGKILL) and checks right after that its parent is still the
one that forked it (closing the race with a parent that died first); the pool kills every
child still running when its job is cancelled or collected, and at interpreter exit.
"""

from __future__ import annotations

import atexit
import ctypes
import multiprocessing
import os
import signal
import time
import weakref
from multiprocessing.connection import wait as _mp_wait
from typing import Any, Callable, Mapping

#: a child without an answer after WALL_FACTOR × timeout + WALL_GRACE wall seconds is stopped
WALL_FACTOR, WALL_GRACE = 20.0, 30.0
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
    """Answers sympy questions in forked children, each under ``timeout`` CPU seconds, all under ``budget``.

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
        try:
            self._ctx = multiprocessing.get_context("fork")
        except ValueError:  # pragma: no cover - no fork on this platform
            self._ctx = None

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
    """Sympy questions running in forked children; :meth:`result` collects, :meth:`cancel` kills."""

    def __init__(self, sym: SymbolicPool, questions: dict[str, Callable[[], Any]], workers: int, force: bool = False):
        self.sym = sym
        self.questions = questions
        self.answers: dict[str, Any] = {}
        self.procs: list[dict[str, Any]] = []
        self.done = not questions
        if not (sym.enabled or force):
            self.answers = {k: None for k in questions}
            self.done = True
        elif sym._ctx is None:  # pragma: no cover
            self.answers = {k: sym._direct(k, fn) for k, fn in questions.items()}
            self.done = True
        elif questions:
            keys = list(questions)
            self._start([keys[i::workers] for i in range(workers)])

    def _start(self, chunks: list[list[str]]) -> None:
        ctx = self.sym._ctx
        for chunk in chunks:
            if not chunk:
                continue
            recv, send = ctx.Pipe(duplex=False)
            proc = ctx.Process(target=_symbolic_child,
                               args=(send, [(k, self.questions[k]) for k in chunk], os.getpid()), daemon=True)
            proc.start()
            _LIVE.add(proc)
            send.close()
            self.procs.append({"proc": proc, "conn": recv, "todo": list(chunk), "since": time.monotonic(),
                               "started": time.monotonic(), "cpu_since": 0.0, "cpu": 0.0})

    def cancel(self) -> None:
        for p in self.procs:
            self._stop(p)
        self.procs = []
        self.done = True

    def _stop(self, p) -> None:
        _stop(p)
        self.sym.spent += p["cpu"]

    def _clock(self, p) -> float:
        """The child's CPU seconds: its last reading once it has exited (multiprocessing reaps finished
        children, and /proc/<pid> goes with them); wall seconds since its start only where /proc cannot be
        read at all."""
        c = cpu_seconds(p["proc"].pid)
        if c is None and not _HAVE_PROC:
            c = time.monotonic() - p["started"]
        if c is not None:
            p["cpu"] = max(p["cpu"], c)
        return p["cpu"]

    def result(self) -> dict[str, Any]:
        sym = self.sym
        while self.procs:
            ready = _mp_wait([p["conn"] for p in self.procs], timeout=POLL_SECONDS)
            now = time.monotonic()
            for p in list(self.procs):
                if p["conn"] in ready:
                    try:
                        key, ok, value = p["conn"].recv()
                    except (EOFError, OSError):  # the child died: its current question is undecided
                        self._stop(p)
                        self.procs.remove(p)
                        if p["todo"]:
                            sym.errors[p["todo"][0]] = "child process died"
                            self._start([p["todo"][1:]])
                        continue
                    if key is None:
                        self._clock(p)
                        self._stop(p)
                        self.procs.remove(p)
                        continue
                    self.answers[key] = value if ok else None
                    if not ok:
                        sym.errors[key] = value
                    if key in p["todo"]:
                        p["todo"].remove(key)
                    clock = self._clock(p)
                    sym.used[key] = clock - p["cpu_since"]
                    p["since"], p["cpu_since"] = now, clock
                    continue
                used = self._clock(p) - p["cpu_since"]
                blocked = now - p["since"] >= WALL_FACTOR * sym.timeout + WALL_GRACE and not runnable(p["proc"].pid)
                if used >= sym.timeout or blocked:
                    self._stop(p)
                    self.procs.remove(p)
                    if p["todo"]:
                        (sym.timed_out if used >= sym.timeout else sym.starved).append(p["todo"][0])
                        self._start([p["todo"][1:]])
            if sym.spent + sum(p["cpu"] for p in self.procs) >= sym.budget:
                for p in self.procs:
                    self._stop(p)
                    sym.timed_out.extend(p["todo"])
                self.procs = []
        self.done = True
        return {k: self.answers.get(k) for k in self.questions}


_LIVE: "weakref.WeakSet[Any]" = weakref.WeakSet()


def _stop_all() -> None:  # at interpreter exit: no child outlives the audit
    for proc in list(_LIVE):
        if proc.is_alive():
            proc.kill()


atexit.register(_stop_all)

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """In a forked child: ask the kernel for SIGKILL when the parent dies; exit if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: rely on the pipe closing
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def _stop(p) -> None:
    proc = p["proc"]
    if proc.is_alive():
        proc.kill()
    proc.join(1.0)
    p["conn"].close()


def _symbolic_child(conn, items, parent_pid: int) -> None:  # pragma: no cover - runs in the forked child
    die_with_parent(parent_pid)
    for key, fn in items:
        try:
            value = fn()
            conn.send((key, True, value))
        except Exception as err:  # noqa: BLE001 - sympy raises anything; report and go on
            try:
                conn.send((key, False, f"{type(err).__name__}: {err}"[:200]))
            except Exception:  # noqa: BLE001
                pass
    conn.send((None, True, None))
    conn.close()


