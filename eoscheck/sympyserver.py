"""The sympy server: the process that answers the loss auditor's sympy questions, started once per auditing process
with PYTHONHASHSEED=0, and its client (:func:`server`).

sympy meets the terms of an expression in the order of its sets and dicts, and that order follows Python's string
hashes, which are salted anew in every process: under one salt sympy settles lim_{z→+∞} ℓ/g for exp∘⋯∘exp(−z) (eight
deep) at once, under another it runs out of its CPU time, and the audit's verdict on 3D changed from one run to the
next.  So no question is answered in the auditing process or in a child forked from it: each is answered in a child
forked from this server, which was started with the salt fixed, has imported only sympy and the audit's modules, and has
seeded what sympy draws at random (:func:`fix_sympy_state`).
Every child starts from that one state (no sympy cache of earlier questions), so an answer depends on the question
alone: the same on every run, in every process.

It lives outside :mod:`eoscheck.audit` so that ``eoscheck audit-loss`` can start it before importing the auditor (the
two imports, a few seconds each, then overlap); :class:`eoscheck.audit.symbolic.SymbolicPool` times and collects the
questions.

Protocol, over two pipes (:class:`multiprocessing.connection.Connection`, pickle): the client sends
``("start", token, [(key, question), ...])`` (each question a cloudpickled callable), answered ``("pid", token, pid)``;
the child's answers come back as ``("answer", token, raw)`` (``raw`` the pickled ``(key, ok, value)``; key None once
every question is answered) and its exit as ``("end", token)``; ``("kill", token)`` kills a child.  The client's pipe
closing stops the server and its children.  The server dies with the client (PR_SET_PDEATHSIG), the children with the
server.
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
    """Seed what else sympy draws at random: its generators (``sympy.core.random``, used by ``equals`` and the
    assumptions) and the base of its Dummy indices (drawn at import; a Dummy's hash and sort key hold its index,
    and ``limit`` works with Dummies).  With the hash salt fixed, every child then starts from one state."""
    import random

    import numpy as np
    import sympy
    from sympy.core import random as sympy_random

    random.seed(0)             # Python reseeds it in every forked child from the OS: :func:`answer` seeds it again
    np.random.seed(0)
    sympy_random.seed(0)
    sympy.Dummy._base_dummy_index = 10 ** 6      # drawn from randint(10**6, 9*10**6) at import
    sympy.Dummy._count = 0


def answer(send: Connection, items: list[tuple[str, bytes]]) -> None:  # pragma: no cover - runs in the child
    """Answer each question in turn: ``(key, True, value)``, ``(key, False, why)`` where it raised or its value
    cannot be sent, ``(key, None, why)`` where it cannot be read here; then ``(None, True, None)``."""
    import random

    random.seed(0)
    for key, blob in items:
        try:
            question = pickle.loads(blob)
        except Exception as err:  # noqa: BLE001 - e.g. a function of a module this process cannot import
            send.send_bytes(pickle.dumps((key, None, f"the sympy server cannot read the question: "
                                                     f"{type(err).__name__}: {err}"[:200])))
            continue
        try:
            out = (key, True, question())
        except Exception as err:  # noqa: BLE001 - sympy raises anything; report and go on
            out = (key, False, f"{type(err).__name__}: {err}"[:200])
        try:
            raw = pickle.dumps(out)
        except Exception as err:  # noqa: BLE001
            raw = pickle.dumps((key, False, f"the answer cannot be sent: {type(err).__name__}: {err}"[:200]))
        send.send_bytes(raw)
    send.send_bytes(pickle.dumps((None, True, None)))


def serve(inbox: Connection, outbox: Connection) -> None:  # pragma: no cover - runs in the server process
    """Fork a child per ``start``, relay its answers, kill on ``kill``; return when the client's pipe closes."""
    children: dict[Connection, tuple[int, int]] = {}   # the child's pipe → (token, pid)
    alive: dict[int, int] = {}                         # token → pid, until the child is reaped
    me = os.getpid()
    while True:
        for conn in wait([inbox, *children]):
            if conn is not inbox:
                token, pid = children[conn]
                try:
                    outbox.send(("answer", token, conn.recv_bytes()))
                    continue
                except (EOFError, OSError):
                    del children[conn]
                    conn.close()
                    os.waitpid(pid, 0)
                    del alive[token]
                    outbox.send(("end", token))
                continue
            try:
                msg = inbox.recv()
            except (EOFError, OSError):
                for pid in alive.values():
                    os.kill(pid, signal.SIGKILL)
                return
            if msg[0] == "kill":
                if msg[1] in alive:
                    os.kill(alive[msg[1]], signal.SIGKILL)
                continue
            _, token, items = msg
            r, w = os.pipe()
            pid = os.fork()
            if pid == 0:
                code = 0
                try:
                    os.close(r)
                    for c in (inbox, outbox, *children):
                        c.close()
                    die_with_parent(me)
                    answer(Connection(w, readable=False), items)
                except BaseException:  # noqa: BLE001 - never return into the server's loop
                    code = 1
                finally:
                    os._exit(code)
            os.close(w)
            children[Connection(r, writable=False)] = (token, pid)
            alive[token] = pid
            outbox.send(("pid", token, pid))


class Server:
    """The client: starts the server, sends batches, and files what it sends back by token.

    A thread reads the server's pipe all the time, so the server never waits on a client busy elsewhere (a full
    pipe each way would hold both).  One server per process (:func:`server`); a process forked from the client
    starts its own.
    """

    def __init__(self) -> None:
        to_server, from_client = os.pipe()[::-1]
        from_server, to_client = os.pipe()
        env = dict(os.environ, PYTHONHASHSEED="0",
                   PYTHONPATH=os.pathsep.join(p for p in sys.path if p))   # the client's eoscheck, wherever from
        self.log = tempfile.TemporaryFile()
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "eoscheck.sympyserver", str(from_client), str(to_client), str(os.getpid())],
            pass_fds=(from_client, to_client), env=env, stdin=subprocess.DEVNULL, stdout=self.log, stderr=self.log)
        os.close(from_client)
        os.close(to_client)
        self.owner = os.getpid()
        self.send_conn = Connection(to_server, readable=False)
        self.recv_conn = Connection(from_server, writable=False)
        self.tokens = itertools.count()
        self.inbox: dict[int, list[tuple]] = {}
        self.gone: str | None = None            # why the server stopped answering, once it has
        self.changed = threading.Condition()
        self.send_lock = threading.Lock()
        threading.Thread(target=self._read, daemon=True, name="eoscheck-sympy-server").start()

    def _read(self) -> None:
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

    def start(self, items: list[tuple[str, bytes]]) -> int:
        """Send a batch of (key, cloudpickled question); the token its messages will carry."""
        token = next(self.tokens)
        with self.changed:
            self.inbox[token] = []
        with self.send_lock:
            try:
                self.send_conn.send(("start", token, items))
            except OSError:      # the server is gone: :meth:`take` says why
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
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


_SERVER: Server | None = None
_SERVER_LOCK = threading.Lock()


def server() -> Server:
    """This process's sympy server, started on first use (and again in a forked process, or after it died)."""
    global _SERVER
    with _SERVER_LOCK:
        if _SERVER is None or _SERVER.owner != os.getpid() or _SERVER.gone is not None:
            _SERVER = Server()
        return _SERVER


def _stop_server() -> None:  # at interpreter exit: no child outlives the audit
    if _SERVER is not None and _SERVER.owner == os.getpid():
        _SERVER.stop()


atexit.register(_stop_server)


def main(argv: list[str]) -> None:  # pragma: no cover - the server process
    """``python -m eoscheck.sympyserver READ_FD WRITE_FD CLIENT_PID``."""
    read_fd, write_fd, client = (int(a) for a in argv)
    die_with_parent(client)
    from .audit import facts, promises  # noqa: F401 - the modules the questions call into, imported before any fork
    fix_sympy_state()
    serve(Connection(read_fd, writable=False), Connection(write_fd, readable=False))


if __name__ == "__main__":  # pragma: no cover
    main(sys.argv[1:])
