"""Sympy questions, each answered in a forked child under a time limit (sympy can hang).

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

class SymbolicPool:
    """Answers sympy questions in forked children, each under ``timeout`` s, all under ``budget`` s.

    sympy can hang (``limit``, ``solveset``); a child that overruns its question is killed and
    the question is answered ``None`` (undecided).  :meth:`submit` starts the children and returns
    at once, so numeric work can overlap them; :meth:`ask` waits.  Without ``fork``
    (non-POSIX) the questions run in-process without a time limit.
    """

    def __init__(self, timeout: float = 3.0, budget: float = 30.0, enabled: bool = True, workers: int = 2):
        self.timeout = timeout
        self.deadline = time.monotonic() + budget
        self.enabled = enabled
        self.workers = max(1, min(workers, os.cpu_count() or 1))
        self.timed_out: list[str] = []
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
            self.procs.append({"proc": proc, "conn": recv, "todo": list(chunk), "since": time.monotonic()})

    def cancel(self) -> None:
        for p in self.procs:
            _stop(p)
        self.procs = []
        self.done = True

    def result(self) -> dict[str, Any]:
        sym = self.sym
        while self.procs:
            now = time.monotonic()
            if now >= sym.deadline:
                for p in self.procs:
                    _stop(p)
                    sym.timed_out.extend(p["todo"])
                self.procs = []
                break
            wait_for = min(min(p["since"] + sym.timeout for p in self.procs), sym.deadline) - now
            ready = _mp_wait([p["conn"] for p in self.procs], timeout=max(wait_for, 0.0))
            now = time.monotonic()
            for p in list(self.procs):
                if p["conn"] in ready:
                    try:
                        key, ok, value = p["conn"].recv()
                    except (EOFError, OSError):  # the child died: its current question is undecided
                        _stop(p)
                        self.procs.remove(p)
                        if p["todo"]:
                            sym.errors[p["todo"][0]] = "child process died"
                            self._start([p["todo"][1:]])
                        continue
                    if key is None:
                        _stop(p)
                        self.procs.remove(p)
                        continue
                    self.answers[key] = value if ok else None
                    if not ok:
                        sym.errors[key] = value
                    if key in p["todo"]:
                        p["todo"].remove(key)
                    p["since"] = now
                elif now - p["since"] >= sym.timeout:
                    _stop(p)
                    self.procs.remove(p)
                    if p["todo"]:
                        sym.timed_out.append(p["todo"][0])
                        self._start([p["todo"][1:]])
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


