"""The panels' threads of the fast engine's BLAS mode: which step each panel has published, and the threads that run
the panels (:mod:`eoscheck.gdfused`, :mod:`eoscheck.steploop`).  Threads block, never spin; a thread that fails
releases the others and its failure is raised once all have ended."""

from __future__ import annotations

import threading

import numpy as np


class StepBoard:
    """Which step's S each panel has published (gram form): a panel waits for the one S_q its next
    product needs, not for every panel.  Blocking (a condition variable), never spinning."""

    def __init__(self, P: int):
        self.cond = threading.Condition()
        self.done = [-1] * P
        self.broken = False

    def publish(self, p: int, t: int) -> None:
        with self.cond:
            self.done[p] = t
            self.cond.notify_all()

    def wait(self, q: int, t: int) -> None:
        """Block until panel q has published step t."""
        if self.done[q] >= t:                     # the usual case: published long ago
            return
        with self.cond:
            while self.done[q] < t:
                if self.broken:
                    raise threading.BrokenBarrierError
                self.cond.wait()

    def abort(self) -> None:
        with self.cond:
            self.broken = True
            self.cond.notify_all()


def run_panels(block, t0: int, nsteps: int, recorded: np.ndarray, threads: int) -> None:
    """Advance the panels of ``block`` by one chunk on ``threads`` threads (blocking waits between the
    phases of a step when threads > 1: on the S_q a panel needs in the gram form (:class:`StepBoard`),
    two barriers a step in the primal)."""
    if block.compiled is not None:          # the compiled step loop (eoscheck.steploop)
        block.compiled.run(t0, nsteps, recorded, threads)
        return
    P = len(block.panels)
    T = max(1, min(threads, P))
    if T == 1:
        block.panel_steps(list(range(P)), t0, nsteps, recorded, None)
        return
    sync = StepBoard(P) if block.method == "gram" else threading.Barrier(T)

    def work(mine):
        with np.errstate(all="ignore"):       # thread-local: a new thread starts without it
            if mine[0] != 0:
                block.enter_thread()
            block.panel_steps(mine, t0, nsteps, recorded, sync)

    on_threads(P, T, work, sync.abort)


def on_threads(P: int, T: int, work, abort=None) -> None:
    """``work(panels)`` for the panels t, t + T, t + 2T, … on thread t (t = 0: the calling thread).

    A thread that fails calls ``abort`` (which releases the others' waits: they may then fail in
    turn, e.g. on a broken barrier); once every thread has ended, the first failure is raised."""
    errors: list[BaseException] = []

    def guarded(mine):
        try:
            work(mine)
        except BaseException as exc:  # re-raised below; release the other threads
            errors.append(exc)
            if abort is not None:
                abort()

    groups = [list(range(t, P, T)) for t in range(T)]
    ths = [threading.Thread(target=guarded, args=(g,), daemon=True) for g in groups[1:]]
    for th in ths:
        th.start()
    guarded(groups[0])
    for th in ths:
        th.join()
    if errors:
        raise errors[0]
