"""The records and running statistics of batched GD, one implementation for every engine.

For K runs (one per stepsize η) and steps t = 0..T, an engine hands the recorder, per
step or per chunk of steps, the losses L(w_t), ln L(w_t), the gradient potential
G(w_t) = (1/n) Σᵢ |ℓ′(mᵢ)| and which runs are finite; the recorder keeps

* the records (K, S) at the recorded steps (:data:`eoscheck.trajectory.RECORDED`), with the
  running averages (1/t) Σ_{s<t} L(w_s), (1/t) Σ_{s<t} G(w_s) (sequential sums, NaN at t = 0);
* the exact per-step trackers, whatever the record grid: ``last_increase`` (last t with
  L_t > L_{t−1}(1 + :data:`INCREASE_RTOL`)), ``last_increase_strict``,
  ``first_below_1_over_eta`` / ``first_below_2_over_eta`` (first t with L_t ≤ 1/η, ≤ 2/η;
  Theorem 1's phase transition), ``max_loss``/``argmax_loss`` and ``diverged_at``;
* λ_max(∇²L) at the sharpness checkpoints.

Divergence rule: w_t is *shown* (recorded) while the state at t is finite; the run stops
(``diverged_at`` = t, records NaN from then on) at the first t where the state or the
step ∇L(w_t) is not finite, or L(w_t) is NaN (a user loss outside its domain).  All
comparisons are in the log domain (ln L stays finite where L under- or overflows).  Every engine (the linear reference and fast engines, the
networks) calls :meth:`GDRecorder.observe` once per step or :meth:`GDRecorder.divergence`
and :meth:`GDRecorder.observe_chunk` once per chunk; both give the same numbers.
"""

from __future__ import annotations

import math

import numpy as np
from numba import njit

from ._errors import EoscheckError
from .gdinputs import INCREASE_RTOL  # here for the trackers; defined where importing it costs no numba

#: The per-run statistics every trajectory carries (engines add ``final_w``).
TRACKED = ("diverged_at", "last_increase", "last_increase_strict", "first_below_1_over_eta",
           "first_below_2_over_eta", "max_loss", "argmax_loss")


def host(x) -> np.ndarray:
    """A numpy view of a numpy array or a (CPU/CUDA) torch tensor."""
    if hasattr(x, "detach"):
        x = x.detach().cpu().numpy()
    return np.asarray(x)


class GDRecorder:
    """Records and exact trackers for K runs with stepsizes ``eta``.

    ``finished``: the engines stop the run after a chunk (or step) that set it (:class:`FirstStepRecorder`).

    Args:
      eta: (K,) stepsizes.
      rec: recorded steps (sorted); sharp_steps: sharpness checkpoints (sorted).
      names: the record names (:data:`eoscheck.trajectory.RECORDED`).
      out, sharp: optional caller-owned (K, S) / (K, C) arrays (views) to write into.
    """

    finished = False

    def __init__(self, eta, rec: np.ndarray, sharp_steps: np.ndarray, names, out=None, sharp=None):
        eta = np.asarray(host(eta), dtype=np.float64)
        K = len(eta)
        self.K, self.eta = K, eta
        self.rec = np.asarray(rec, dtype=np.int64)
        self.sharp_steps = np.asarray(sharp_steps, dtype=np.int64)
        self.records = out if out is not None else {k: np.full((K, len(rec)), math.nan) for k in names}
        self.sharpness = sharp if sharp is not None else np.full((K, len(sharp_steps)), math.nan)
        self.log_rtol = math.log1p(INCREASE_RTOL)
        self.log_thr1 = -np.log(eta)
        self.log_thr2 = math.log(2) - np.log(eta)
        self.cum_L = np.zeros(K)
        self.cum_G = np.zeros(K)
        self.prev_log_L = np.full(K, math.inf)
        minus1 = np.full(K, -1, dtype=np.int64)
        self.last_inc, self.last_inc_strict = minus1.copy(), minus1.copy()
        self.below1, self.below2, self.diverged = minus1.copy(), minus1.copy(), minus1.copy()
        self.max_log_L = np.full(K, -math.inf)
        self.argmax = np.zeros(K, dtype=np.int64)
        self.alive = np.ones(K, dtype=bool)

    # --- which steps of a chunk are recorded -------------------------------------------
    def recorded(self, t0: int, nsteps: int) -> np.ndarray:
        """Local indices j (t = t0 + j) of the recorded steps among t0 .. t0+nsteps−1."""
        lo, hi = np.searchsorted(self.rec, [t0, t0 + nsteps])
        return self.rec[lo:hi] - t0

    def checkpoints(self, t0: int, nsteps: int) -> list[tuple[int, int]]:
        """(column c, local index j) of the sharpness checkpoints among t0 .. t0+nsteps−1."""
        lo, hi = np.searchsorted(self.sharp_steps, [t0, t0 + nsteps])
        return [(c, int(self.sharp_steps[c] - t0)) for c in range(lo, hi)]

    # --- chunk interface ------------------------------------------------------------------
    def divergence(self, t0: int, state_ok: np.ndarray, ok: np.ndarray):
        """Apply the divergence rule to a chunk of (nsteps, K) masks.

        ``state_ok``: the state at t is finite; ``ok``: and so is the step.  Returns
        ``(shown, rows, js)``: the (nsteps, K) mask of shown runs and the runs that stop in
        this chunk with the local index of their stopping step (the engine freezes them there).
        """
        if ok.all():                                        # no run stops here (the usual chunk)
            return self.alive[None, :] & state_ok, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
        fails = np.cumsum(~ok, axis=0)
        before = self.alive[None, :] & (fails - ~ok == 0)   # alive when step t starts
        shown = before & state_ok
        stops = before & ~ok
        rows = np.flatnonzero(stops.any(axis=0))
        js = np.argmax(stops[:, rows], axis=0)
        self.diverged[rows] = t0 + js
        self.alive = before[-1] & ok[-1]
        return shown, rows, js

    def observe_chunk(self, t0: int, L, log_L, G, shown, values: dict | None = None) -> None:
        """Steps t0 .. t0+nsteps−1: L, ln L, G and ``shown`` are (nsteps, K); ``values`` holds the
        other records at the recorded steps (:meth:`recorded`), (R, K) each."""
        nsteps = L.shape[0]
        lo, hi = np.searchsorted(self.rec, [t0, t0 + nsteps])
        rec_j = self.rec[lo:hi] - t0                  # the recorded steps, columns lo..hi−1
        full = len(rec_j) == nsteps                   # every step recorded: views, not gathers
        avg_L, avg_G = self._averages(t0, L, G, rec_j)
        if len(rec_j):
            cols = slice(int(lo), int(hi))
            sel = slice(None) if full else rec_j
            a = shown[sel]
            every = a.all()                           # every run shown: no NaN to put in
            vals = dict(values or {})
            vals.update(loss=L[sel], log_loss=log_L[sel], G=G[sel], avg_loss=avg_L, avg_G=avg_G)
            for name, v in vals.items():
                if name in self.records:
                    self.records[name][:, cols] = v.T if every else np.where(a, v, math.nan).T
        self._trackers(t0, log_L, shown)

    def record_sharpness(self, c: int, values, shown) -> None:
        """λ_max(∇²L) at checkpoint column c, NaN where the run is not shown."""
        self.sharpness[:, c] = np.where(shown, host(values), math.nan)

    # --- per-step interface ---------------------------------------------------------------
    def observe(self, t: int, quantities: dict, ok, state_ok=None) -> np.ndarray:
        """Step t with (K,) ``quantities`` (numpy or torch; ``loss``, ``log_loss``, ``G`` and any
        other record), ``ok`` (the run may go on) and ``state_ok`` (w_t is finite; default ``ok``).
        Returns the (K,) mask of runs shown at t (the ones to record and to step)."""
        ok = host(ok).astype(bool)[None]
        st = ok if state_ok is None else host(state_ok).astype(bool)[None]
        shown, _, _ = self.divergence(t, st, ok)
        q = {k: np.asarray(host(v), dtype=np.float64)[None] for k, v in quantities.items()}
        self.observe_chunk(t, q.pop("loss"), q.pop("log_loss"), q.pop("G"), shown, q)
        return shown[0]

    def wants_sharpness(self, t: int) -> bool:
        c = np.searchsorted(self.sharp_steps, t)
        return bool(c < len(self.sharp_steps) and self.sharp_steps[c] == t)

    def record_sharpness_at(self, t: int, values, shown) -> None:
        self.record_sharpness(int(np.searchsorted(self.sharp_steps, t)), values, host(shown))

    # --- results --------------------------------------------------------------------------
    def stats(self) -> dict[str, np.ndarray]:
        never = np.isneginf(self.max_log_L)      # no step shown (w₀ already out of the float range): no loss seen
        with np.errstate(over="ignore"):
            max_loss = np.where(never, math.nan, np.exp(self.max_log_L))
        return {
            "diverged_at": self.diverged.copy(),
            "last_increase": self.last_inc.copy(),
            "last_increase_strict": self.last_inc_strict.copy(),
            "first_below_1_over_eta": self.below1.copy(),
            "first_below_2_over_eta": self.below2.copy(),
            "max_loss": max_loss,
            "argmax_loss": np.where(never, -1, self.argmax),
        }

    def results(self) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray]:
        """(records, stats, sharpness)."""
        return self.records, self.stats(), self.sharpness

    # --- internals ------------------------------------------------------------------------
    def _averages(self, t0: int, L, G, rec_j):
        """(1/t) Σ_{s<t} L_s, G_s at the recorded steps t = t0 + j, j ∈ ``rec_j``, by sequential running
        sums (:func:`_running_means`)."""
        avg_L = np.empty((len(rec_j), self.K))
        avg_G = np.empty((len(rec_j), self.K))
        _running_means(t0, L, self.cum_L, rec_j, avg_L)
        _running_means(t0, G, self.cum_G, rec_j, avg_G)
        return avg_L, avg_G                           # (len(rec_j), K) each

    def _trackers(self, t0: int, log_L, alive) -> None:
        """Last increase, first hitting times of 1/η and 2/η, max loss: the per-step rules
        (:func:`_track`)."""
        _track(t0, log_L, alive, self.prev_log_L, self.log_rtol, self.log_thr1, self.log_thr2, self.last_inc,
               self.last_inc_strict, self.below1, self.below2, self.max_log_L, self.argmax)


def wanted_mask(wanted, K: int) -> np.ndarray:
    """The (K,) bool mask of the runs a first-step search waits for (``None``: all), refused in one line if it is
    not one entry per stepsize."""
    want = np.ones(K, bool) if wanted is None else np.asarray(wanted, bool)
    if want.shape != (K,):
        raise EoscheckError(f"wanted must be a mask of the {K} stepsizes, got shape {want.shape}")
    return want


class FirstStepRecorder(GDRecorder):
    """Every step recorded, a chunk at a time, shown to ``condition`` and dropped: the first step meeting it per run
    (``first``, −1: not yet), the last step seen (``last_step``), and ``finished`` once every run of ``wanted`` has
    met it or stopped (diverged); :meth:`answer` gives what does not depend on where the chunks end.  The trackers
    and running averages are the full run's (they are carried across chunks).  Used by
    :func:`eoscheck.gd.first_steps`."""

    def __init__(self, eta, names, condition, wanted: np.ndarray, stop: bool = True):
        super().__init__(eta, np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64), names)
        self.names = tuple(names)
        self.condition = condition
        self.wanted = np.asarray(wanted, bool)
        self.stop = stop            # False: never finished, the run goes to its last step
        self.first = np.full(self.K, -1, dtype=np.int64)
        self.last_step = -1

    def recorded(self, t0: int, nsteps: int) -> np.ndarray:
        return np.arange(nsteps)

    def observe_chunk(self, t0: int, L, log_L, G, shown, values: dict | None = None) -> None:
        nsteps = L.shape[0]
        self.rec = np.arange(t0, t0 + nsteps, dtype=np.int64)
        self.records = {k: np.full((self.K, nsteps), math.nan) for k in self.names}
        super().observe_chunk(t0, L, log_L, G, shown, values)
        hit = np.asarray(self.condition(self.rec, self.records, self.diverged >= 0), dtype=bool) & shown.T
        new = (self.first < 0) & hit.any(axis=1)
        self.first[new] = t0 + hit[new].argmax(axis=1)
        self.last_step = t0 + nsteps - 1
        self.finished = self.stop and not (self.wanted & (self.first < 0) & self.alive).any()

    def answer(self) -> tuple[np.ndarray, int, np.ndarray]:
        """(first steps, the last step they cover, divergence steps): up to the last step seen where the run was not
        stopped; where it was, up to the last step at which a wanted run met the condition or diverged (−1 with none
        wanted), the steps after it dropped — the chunk it ended in is the engine's (chunk lengths follow the problem
        and, on several panels, the load), so the rest of that chunk is not part of the answer."""
        if not self.finished:
            return self.first.copy(), self.last_step, self.diverged.copy()
        w = self.wanted
        ends = np.where(self.first[w] >= 0, self.first[w], self.diverged[w])
        upto = int(ends.max()) if ends.size else -1
        return (np.where(self.first <= upto, self.first, -1), upto,
                np.where(self.diverged <= upto, self.diverged, -1))


@njit(cache=True, nogil=True)
def _running_means(t0, X, cum, rec_j, out):
    """out[i, r] = (cum[r] + Σ_{s<j} X[s, r]) / t at t = t0 + j, j = rec_j[i] (NaN at t = 0), the sum
    running in step order (the bits of ``np.cumsum``); cum advances by the chunk."""
    nsteps, K = X.shape
    R = rec_j.shape[0]
    for r in range(K):
        s = cum[r]
        i = 0
        for j in range(nsteps):
            if i < R and rec_j[i] == j:
                t = t0 + j
                out[i, r] = s / t if t > 0 else math.nan
                i += 1
            s += X[j, r]
        cum[r] = s


@njit(cache=True, nogil=True)
def _track(t0, log_L, alive, prev_log_L, log_rtol, thr1, thr2, last_inc, last_inc_strict, below1, below2,
           max_log_L, argmax):
    """The trackers' rules over a chunk of steps t = t0 + j, (nsteps, K) ``log_L`` and ``alive``
    (shown), in step order for each run, in the log domain (a NaN compares false):

    * ``last_inc`` ← t where ln L_t > ln L_{t−1} + ln(1 + INCREASE_RTOL); ``last_inc_strict`` where
      ln L_t > ln L_{t−1} (L_{t−1} the previous step's loss, across chunks the last shown one);
    * ``below1``/``below2`` ← the first t with ln L_t ≤ −ln η, ≤ ln 2 − ln η;
    * ``max_log_L``/``argmax`` ← the first t of the largest ln L_t.
    Only shown steps count."""
    nsteps, K = log_L.shape
    for r in range(K):
        prev = prev_log_L[r]
        for j in range(nsteps):
            x = log_L[j, r]
            if alive[j, r]:
                t = t0 + j
                if x > prev + log_rtol:
                    last_inc[r] = t
                if x > prev:
                    last_inc_strict[r] = t
                if below1[r] < 0 and x <= thr1[r]:
                    below1[r] = t
                if below2[r] < 0 and x <= thr2[r]:
                    below2[r] = t
                if x > max_log_L[r]:
                    max_log_L[r] = x
                    argmax[r] = t
            prev = x
        if nsteps and alive[nsteps - 1, r]:
            prev_log_L[r] = log_L[nsteps - 1, r]
