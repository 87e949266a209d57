"""The sympy server: the process that answers the loss auditor's sympy questions, started once per auditing process
with PYTHONHASHSEED=0, and its client (:func:`server`).

sympy meets the terms of an expression in the order of its sets and dicts, and that order follows Python's string
hashes, which are salted anew in every process: under one salt sympy settles lim_{z→+∞} ℓ/g for exp∘⋯∘exp(−z) (eight
deep) at once, under another it runs out of its CPU time, and the audit's verdict on 3D changed from one run to the
next.  So no question is answered in the auditing process or in a child forked from it: each is answered in a child
of its own, forked from this server, which was started with the salt fixed and has imported only sympy and the audit's
modules; the child starts from one state (:func:`fix_sympy_state`: sympy's cache emptied, its random generators and
Dummy indices reset), whatever was asked before: an answer depends on the question alone, on every run, in every
process.  Each question runs under its child's own CPU timer (ITIMER_PROF), so its limit holds whether or not the
client is looking, and its answer says the CPU seconds it took.

It lives outside :mod:`eoscheck.audit` so that ``eoscheck audit-loss`` can start it before importing the auditor (the
two imports, a few seconds each, then overlap); :class:`eoscheck.audit.symbolic.SymbolicPool` collects the answers.
The server is started with the client's ``sys.path`` and checks that it imported the client's eoscheck.

Protocol, over two pipes (:class:`multiprocessing.connection.Connection`, pickle): the client first sends its
``sys.path`` (the server's, before it imports anything), then ``("start", token, [(key, question), ...], timeout)``
per batch (each question a cloudpickled callable).  For each question in turn the server forks a child, says
``("pid", token, pid)``, relays its answer as ``("answer", token, raw)`` (``raw`` the pickled ``(key, ok, value,
cpu)``) and its end as ``("exit", token, exit code)`` (−SIGPROF: out of its time, no answer); ``("end", token)`` once
the batch is done.  ``("kill", token)`` kills the running child and drops the rest of the batch.  The client's pipe
closing stops the server and its children.  The server dies with the client (PR_SET_PDEATHSIG, asked from a client
thread that lives as long as the server), the children with the server.
"""

from __future__ import annotations

import atexit
import ctypes
import itertools
import os
import pickle
import signal
import subprocess
import sys
import tempfile
import threading
from multiprocessing.connection import Connection, wait

_PR_SET_PDEATHSIG = 1


def die_with_parent(parent_pid: int) -> None:
    """In a child: ask the kernel for SIGKILL when the parent dies; exit if it already has."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(_PR_SET_PDEATHSIG, signal.SIGKILL, 0, 0, 0)
    except (OSError, AttributeError):  # pragma: no cover - not Linux: rely on the pipe closing
        pass
    if os.getppid() != parent_pid:  # the parent died before prctl took effect
        os._exit(1)


def fix_sympy_state() -> None:
    """Start a question from one state: sympy's cache emptied, its generators (``sympy.core.random``, used by
    ``equals`` and the assumptions), Python's and numpy's seeded, and the Dummy indices counted from a fixed base
    (drawn at import; a Dummy's hash and sort key hold its index, and ``limit`` works with Dummies).  Called before
    each question, so that an answer does not depend on the questions asked before it in its batch."""
    import random

    import numpy as np
    import sympy
    from sympy.core import random as sympy_random
    from sympy.core.cache import clear_cache

    clear_cache()
    random.seed(0)
    np.random.seed(0)
    sympy_random.seed(0)
    sympy.Dummy._base_dummy_index = 10 ** 6      # drawn from randint(10**6, 9*10**6) at import
    sympy.Dummy._count = 0


#: the modules the questions call into, imported once by the server before it forks any child
PRELOAD = ("eoscheck.audit.facts", "eoscheck.audit.promises")

#: the longest CPU timer a child arms (ITIMER_PROF takes a time_t: ~1e10 s overflows)
MAX_TIMER = 1e9


def answer(send: Connection, key: str, blob: bytes, timeout: float) -> None:  # pragma: no cover - in the child
    """Answer one question, from :func:`fix_sympy_state` and under ``timeout`` CPU seconds of this process (its own
    ITIMER_PROF: SIGPROF's default action ends it, whether or not the client is looking): send ``(key, True, value,
    cpu)``, ``(key, False, why, cpu)`` where it raised or its value cannot be sent, or ``(key, None, why, cpu)`` where it
    cannot be read here; ``cpu`` is the CPU seconds it took."""
    import time

    signal.signal(signal.SIGPROF, signal.SIG_DFL)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGPROF})
    fix_sympy_state()
    t0 = time.process_time()
    signal.setitimer(signal.ITIMER_PROF, min(timeout, MAX_TIMER))
    try:
        question = pickle.loads(blob)
    except Exception as err:  # noqa: BLE001 - e.g. a function of a module this process cannot import
        out = (key, None, f"the sympy server cannot read the question: {type(err).__name__}: {err}"[:200])
    else:
        try:
            out = (key, True, question())
        except Exception as err:  # noqa: BLE001 - sympy raises anything; report and go on
            out = (key, False, f"{type(err).__name__}: {err}"[:200])
    signal.setitimer(signal.ITIMER_PROF, 0)
    used = time.process_time() - t0
    try:
        raw = pickle.dumps((*out, used))
    except Exception as err:  # noqa: BLE001
        raw = pickle.dumps((key, False, f"the answer cannot be sent: {type(err).__name__}: {err}"[:200], used))
    send.send_bytes(raw)


def serve(inbox: Connection, outbox: Connection) -> None:  # pragma: no cover - runs in the server process
    """Answer each batch's questions in turn, each in a child of its own; relay the answers; kill on ``kill``;
    return when the client's pipe closes."""
    from collections import deque

    batches: dict[int, dict] = {}                      # token → {"items", "timeout", "pid"}: a batch under way
    pipes: dict[Connection, int] = {}                  # a child's pipe → its batch's token
    me = os.getpid()

    def fork_next(token: int) -> None:
        batch = batches[token]
        if not batch["items"]:
            del batches[token]
            outbox.send(("end", token))
            return
        key, blob = batch["items"].popleft()
        r, w = os.pipe()
        pid = os.fork()
        if pid == 0:
            code = 0
            try:
                os.close(r)
                for c in (inbox, outbox, *pipes):
                    c.close()
                die_with_parent(me)
                answer(Connection(w, readable=False), key, blob, batch["timeout"])
            except BaseException:  # noqa: BLE001 - never return into the server's loop
                code = 1
            finally:
                os._exit(code)
        os.close(w)
        pipes[Connection(r, writable=False)] = token
        batch["pid"] = pid
        outbox.send(("pid", token, pid))

    while True:
        for conn in wait([inbox, *pipes]):
            if conn is not inbox:
                token = pipes[conn]
                try:
                    outbox.send(("answer", token, conn.recv_bytes()))
                    continue
                except (EOFError, OSError):    # the child is done (answered, or ended by its timer, or killed)
                    del pipes[conn]
                    conn.close()
                    _, status = os.waitpid(batches[token]["pid"], 0)
                    batches[token]["pid"] = None
                    outbox.send(("exit", token, os.waitstatus_to_exitcode(status)))
                    fork_next(token)
                continue
            try:
                msg = inbox.recv()
            except (EOFError, OSError):
                for batch in batches.values():
                    if batch["pid"] is not None:
                        os.kill(batch["pid"], signal.SIGKILL)
                return
            if msg[0] == "kill":
                batch = batches.get(msg[1])
                if batch is not None:
                    batch["items"].clear()
                    if batch["pid"] is not None:    # not yet reaped: the pid is still its
                        os.kill(batch["pid"], signal.SIGKILL)
                continue
            _, token, items, timeout = msg
            batches[token] = {"items": deque(items), "timeout": timeout, "pid": None}
            fork_next(token)


#: how the server process starts: its path is the client's, read from the pipe (``-m`` would put the working
#: directory first, and another eoscheck there would answer the questions), then :func:`main`
_BOOT = ("import sys; from multiprocessing.connection import Connection; inbox = Connection(int(sys.argv[1]), "
         "writable=False); sys.path[:] = inbox.recv(); from eoscheck.sympyserver import main; main(inbox, sys.argv[2:])")


class Server:
    """The client: starts the server, sends batches, and files what it sends back by token.

    A thread starts the server and then reads its pipe all the time: the server never waits on a client busy
    elsewhere (a full pipe each way would hold both), and the server's parent thread (which PR_SET_PDEATHSIG
    watches) lives as long as the server.  One server per process (:func:`server`); a process forked from the
    client starts its own.
    """

    def __init__(self) -> None:
        import eoscheck

        to_server, self._from_client = os.pipe()[::-1]
        from_server, self._to_client = os.pipe()
        self.argv = [sys.executable, "-c", _BOOT, str(self._from_client),
                     os.path.dirname(os.path.realpath(eoscheck.__file__)), str(self._to_client), str(os.getpid())]
        # '' (the working directory of `python -c`, a REPL) made absolute: the server's is not the client's path
        self.path = [os.path.abspath(p or os.curdir) for p in sys.path if isinstance(p, str)]
        self.send_conn = Connection(to_server, readable=False)
        self.recv_conn = Connection(from_server, writable=False)
        self.tokens = itertools.count()
        self.inbox: dict[int, list[tuple]] = {}
        self.gone: str | None = None            # why the server stopped answering, once it has
        self.changed = threading.Condition()
        self.send_lock = threading.Lock()
        self.log = tempfile.TemporaryFile()
        self.proc: subprocess.Popen | None = None
        started = threading.Event()
        threading.Thread(target=self._run, args=(started,), daemon=True, name="eoscheck-sympy-server").start()
        started.wait()

    def _run(self, started: threading.Event) -> None:
        try:
            self.proc = subprocess.Popen(
                self.argv, pass_fds=(self._from_client, self._to_client), stdin=subprocess.DEVNULL,
                stdout=self.log, stderr=self.log, env=dict(os.environ, PYTHONHASHSEED="0"))
            with self.send_lock:
                self.send_conn.send(self.path)         # before any batch: the server reads it first
        except Exception as err:  # noqa: BLE001 - no executable, no fork, a broken pipe: no server, and why
            with self.changed:
                self.gone = f"the sympy server could not be started: {type(err).__name__}: {err}"
            return
        finally:
            os.close(self._from_client)
            os.close(self._to_client)
            started.set()
        while True:
            try:
                msg = self.recv_conn.recv()
            except (EOFError, OSError):
                break
            with self.changed:
                if msg[1] in self.inbox:        # a batch collected or cancelled is forgotten: its late messages too
                    self.inbox[msg[1]].append(msg)
                    self.changed.notify_all()
        code = self.proc.wait()
        self.log.seek(0)
        tail = self.log.read()[-2000:].decode(errors="replace").strip().splitlines()
        with self.changed:
            self.gone = f"the sympy server exited (code {code})" + (f": {tail[-1][:200]}" if tail else "")
            self.changed.notify_all()

    def start(self, items: list[tuple[str, bytes]], timeout: float) -> int:
        """Send a batch of (key, cloudpickled question), each to be answered within ``timeout`` CPU seconds; the
        token its messages will carry."""
        token = next(self.tokens)
        with self.changed:
            self.inbox[token] = []
        with self.send_lock:
            try:
                self.send_conn.send(("start", token, items, timeout))
            except OSError:      # the server is gone: :attr:`gone` says why
                pass
        return token

    def kill(self, token: int) -> None:
        with self.send_lock:
            try:
                self.send_conn.send(("kill", token))
            except OSError:
                pass

    def wait(self, tokens: list[int], seconds: float) -> None:
        """Return once a message for one of ``tokens`` has arrived (or the server is gone), or after ``seconds``."""
        with self.changed:
            if not any(self.inbox.get(t) for t in tokens) and self.gone is None:
                self.changed.wait(seconds)

    def take(self, token: int) -> list[tuple]:
        with self.changed:
            got = self.inbox.get(token, [])
            if got:
                self.inbox[token] = []
            return got

    def forget(self, token: int) -> None:
        with self.changed:
            self.inbox.pop(token, None)

    def stop(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_SERVER: Server | None = None
_SERVER_LOCK = threading.Lock()


def server() -> Server:
    """This process's sympy server, started on first use (and again in a forked process, or after it died)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or _SERVER.gone is not None:
            _SERVER = Server()
        return _SERVER


def _forget_server() -> None:
    """In a child forked from the client: its parent's server is not its own, and the lock may have been held by a
    thread that does not exist here."""
    global _SERVER, _SERVER_LOCK
    _SERVER, _SERVER_LOCK = None, threading.Lock()


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_forget_server)


def _stop_server() -> None:  # at interpreter exit: no child outlives the audit
    if _SERVER is not None:      # a forked child's is None (:func:`_forget_server`)
        _SERVER.stop()


atexit.register(_stop_server)


def main(inbox: Connection, argv: list[str]) -> None:  # pragma: no cover - the server process
    """The server process (started by :class:`Server`, its path read from ``inbox``): ``EOSCHECK_DIR WRITE_FD
    CLIENT_PID``, where EOSCHECK_DIR is the client's eoscheck package, which must be the one imported here."""
    expected, write_fd, client = argv[0], *(int(a) for a in argv[1:])
    die_with_parent(client)
    import eoscheck

    here = os.path.dirname(os.path.realpath(eoscheck.__file__))
    if here != expected:
        sys.exit(f"the sympy server imported eoscheck from {here}, the auditing process from {expected}")
    import importlib

    for name in PRELOAD:        # by name: the auditor imports this module, not the other way round
        importlib.import_module(name)
    fix_sympy_state()
    serve(inbox, Connection(write_fd, readable=False))
