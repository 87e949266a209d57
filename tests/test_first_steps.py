"""eoscheck.gd.first_steps (and eoscheck.networks.first_steps_ntk): the first step meeting a condition, a chunk of
records at a time (memory that does not grow with the steps), against the whole run of run_gd (run_ntk) that it
replaces."""

from __future__ import annotations

import os
import tracemalloc

import numpy as np
import pytest

import eoscheck.networks as networks
from eoscheck import EoscheckError, parse_loss, toy
from eoscheck.datasets import synthetic
from eoscheck.gd import first_steps, run_gd
from eoscheck.trajectory import RECORDED


def _below(log_thr):
    """L(w_t) ≤ e^{log_thr[k]} per stepsize, a comparison (false on NaN)."""
    return lambda t, r, dv: r["log_loss"] <= np.asarray(log_thr)[:, None]


def _first_of_whole_run(traj, cond) -> np.ndarray:
    c = cond(traj.step, traj.records, traj.diverged)
    return np.where(c.any(axis=1), c.argmax(axis=1), -1)


# (data, loss, stepsizes, steps, engine options): several chunks of the fast engine (small mode: 4096 steps; blas
# mode and numpy/torch: 2048 or fewer; the compiled step loops of both forms on 2 panels and threads), both forms, the
# reference, and a stepsize that diverges (exponential loss, η = 10⁴ on the normalized toy set: within a few steps)
CASES = {
    "small_auto": (synthetic(6, 3, 0.3, seed=1), "logistic", [0.5, 2.0, 10.0, 100.0], 9000, {}),
    "gram_numpy": (synthetic(6, 3, 0.3, seed=1), "logistic", [0.5, 2.0, 10.0], 5000,
                   {"method": "gram", "backend": "numpy"}),
    "primal_torch": (synthetic(6, 3, 0.3, seed=1), "logistic", [0.5, 2.0, 10.0], 5000,
                     {"method": "primal", "backend": "torch"}),
    "blas_panels": (synthetic(1000, 50, 0.1, seed=2), "logistic", list(np.geomspace(0.5, 50, 16)), 300,
                    {"method": "gram", "threads": 2}),
    "blas_panels_primal": (synthetic(2000, 400, 0.1, seed=2), "logistic", list(np.geomspace(0.5, 50, 16)), 300,
                           {"method": "primal", "threads": 2}),
    "reference": (synthetic(6, 3, 0.3, seed=1), "logistic", [0.5, 2.0, 10.0], 400, {"method": "reference"}),
    "diverging": (toy(normalized=True), "exponential", [0.5, 5.0, 1e4], 9000, {}),
}


@pytest.mark.parametrize("case", list(CASES))
@pytest.mark.long
def test_first_steps_and_its_chunks_are_the_whole_runs_bit_for_bit(case):
    """Each chunk's records, concatenated, are run_gd's records byte for byte (NaN where a run is not shown), with the
    same divergence steps, also where the streamed run is longer (its chunks end elsewhere), and every first step is
    the one the whole run gives."""
    data, loss, etas, T, kw = CASES[case]
    whole = run_gd(data, loss, etas, T, **kw)
    for steps_run in (T, 3 * T + 7):
        seen: dict[str, list] = {k: [] for k in RECORDED}
        steps: list = []

        def keep(t, r, dv):                                 # never met: the run goes on to its last step
            steps.append(t.copy())
            for k in RECORDED:
                seen[k].append(r[k].copy())
            return np.zeros(r["loss"].shape, bool)

        fs = first_steps(data, loss, etas, steps_run, keep, **kw)
        assert fs.steps_run == steps_run and fs.first.tolist() == [-1] * len(etas)
        assert np.concatenate(steps).tolist() == list(range(steps_run + 1))     # every step once, in order
        assert len(steps) > 1                                                   # several chunks
        for k in RECORDED:
            assert np.concatenate(seen[k], axis=1)[:, :T + 1].tobytes() == whole.records[k].tobytes(), (k, steps_run)
        if steps_run == T:
            assert fs.diverged_at.tolist() == whole.stats["diverged_at"].tolist()
    if case.startswith("blas_panels") and (os.cpu_count() or 1) >= 2:
        # several panels on two threads (the compiled loop where the BLAS exposes dgemm: MKL here, OpenBLAS on AMD)
        assert fs.engine["panels"] >= 2 and fs.engine["threads"] == 2 and fs.engine["method"] == kw["method"]
    # L ≤ run k's own L at step (k + 1)T/(K + 2) (NaN for a diverged run: never): met by then, at steps that differ
    K = len(etas)
    cond = _below(whole.records["log_loss"][np.arange(K), (np.arange(K) + 1) * T // (K + 2)])
    full = _first_of_whole_run(whole, cond)
    assert first_steps(data, loss, etas, T, cond, **kw).first.tolist() == full.tolist()
    assert (full >= 0).sum() >= 2 and len(set(full.tolist())) >= 2
    if case == "diverging":
        assert whole.stats["diverged_at"][2] >= 0 and full[2] == -1    # the diverged run never meets it


def test_first_steps_stops_once_every_wanted_stepsize_has_met_it_or_diverged():
    """η = 0.5, 5 and 10⁴ (diverges at step t_d) on the exponential loss, L ≤ 10⁻³⁰⁰ (met by no run within 20,000
    steps): every stepsize wanted, the run goes to T; only the diverging one wanted, it stops at the end of the chunk
    (4096 steps) where it diverged."""
    data, loss, etas = toy(normalized=True), "exponential", [0.5, 5.0, 1e4]
    never = _below(np.full(3, np.log(1e-300)))
    every = first_steps(data, loss, etas, 20_000, never)
    assert every.first.tolist() == [-1, -1, -1] and every.steps_run == 20_000
    t_d = int(every.diverged_at[2])
    assert t_d >= 0
    one = first_steps(data, loss, etas, 20_000, never, wanted=np.array([False, False, True]))
    assert one.first.tolist() == [-1, -1, -1] and one.steps_run == t_d and one.diverged_at.tolist() == [-1, -1, t_d]
    # a condition met at once by the wanted stepsize: the first chunk decides
    met = first_steps(data, loss, etas, 20_000, lambda t, r, dv: r["loss"] > 0, wanted=np.array([True, False, False]))
    assert met.first.tolist() == [0, 0, 0] and met.steps_run == 0


def test_a_stopped_run_answers_up_to_its_deciding_step_not_to_its_chunks_end():
    """L ≤ 0.55 on the toy set: η = 1 meets it at s = 13, η = 1/2 later, both inside the first chunk (4096 steps).
    With η = 1 alone wanted, the run stops after that chunk, but the answer covers steps 0..13 only: η = 1/2's
    first step (seen in the same chunk) is not reported, nor would it be with chunks ending elsewhere."""
    data, etas = toy(), [1.0, 0.5]
    cond = _below(np.full(2, np.log(0.55)))
    full = _first_of_whole_run(run_gd(data, "logistic", etas, 200), cond)
    assert full[0] == 13 < full[1] < 200
    fs = first_steps(data, "logistic", etas, 10_000, cond, wanted=np.array([True, False]))
    assert fs.first.tolist() == [13, -1] and fs.steps_run == 13
    both = first_steps(data, "logistic", etas, 10_000, cond)
    assert both.first.tolist() == full.tolist() and both.steps_run == full[1]


def test_first_steps_memory_does_not_grow_with_the_steps():
    """2¹⁸ steps of 2 stepsizes: run_gd's records take 12·8·2·(2¹⁸ + 1) bytes ≈ 50 MB; first_steps holds a chunk
    (≤ 2¹² steps) at a time: its peak stays below 1/10 of that (numpy's allocations are traced by tracemalloc)."""
    data, steps = synthetic(6, 3, 0.3, seed=1), 2**18
    records = 12 * 8 * 2 * (steps + 1)
    first_steps(data, "logistic", [0.5, 2.0], 10, _below([-1e9, -1e9]))       # compiled and cached first
    tracemalloc.start()
    try:
        fs = first_steps(data, "logistic", [0.5, 2.0], steps, _below([-1e9, -1e9]))
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert fs.steps_run == steps and fs.first.tolist() == [-1, -1]
    assert peak < records / 10, (peak, records)


def test_first_steps_refuses_a_wanted_mask_of_another_shape():
    with pytest.raises(EoscheckError, match="wanted must be a mask of the 2 stepsizes"):
        first_steps(toy(), "logistic", [1.0, 2.0], 10, _below([0.0, 0.0]), wanted=np.ones(3, bool))


# --- the network of Theorem 6 (eoscheck.networks.first_steps_ntk) ------------------------------------------------

def _ntk_case():
    """Width 16 on 6 points; the square loss in margin form, whose η = 10³ run diverges at step ~160 (the built-in
    losses do not diverge on the NTK: their ℓ′ vanishes as the margins grow)."""
    return synthetic(6, 3, 0.3, seed=1), parse_loss("(1-z)**2"), [0.05, 0.5, 3.0, 1e3], 600


@pytest.mark.parametrize("batch", [None, 1])
@pytest.mark.long
def test_first_steps_ntk_chunks_are_run_ntks_records_bit_for_bit(batch, monkeypatch):
    """Each chunk of 256 steps' records, put together, are run_ntk's byte for byte, with the same divergence step,
    also where the stream is longer than the whole run (3T + 7) and where the stepsizes run in batches of one
    (``batch = 1``: both the run and its stream batch them alike; the diverging run's batch stops with it)."""
    data, loss, etas, T = _ntk_case()
    if batch is not None:
        monkeypatch.setattr(networks, "ntk_chunk", lambda *a, **k: batch)
    whole = networks.run_ntk(data, loss, etas, T, width=16)
    assert whole.stats["diverged_at"][3] > 0 and (whole.stats["diverged_at"][:3] == -1).all()
    for steps_run in (T, 3 * T + 7):
        seen = {k: np.full((len(etas), steps_run + 1), np.nan) for k in RECORDED}
        calls = []

        def keep(t, r, dv):                   # each (run, step) is shown once: by its batch, NaN in the others'
            calls.append(t[0])
            for k in RECORDED:
                seen[k][:, t] = np.where(np.isnan(seen[k][:, t]), r[k], seen[k][:, t])
            return np.zeros(r["loss"].shape, bool)

        fs = networks.first_steps_ntk(data, loss, etas, steps_run, keep, width=16)
        assert fs.steps_run == steps_run and fs.first.tolist() == [-1] * len(etas)
        assert fs.diverged_at.tolist() == whole.stats["diverged_at"].tolist()
        assert calls.count(0) == (1 if batch is None else len(etas)) and len(calls) > calls.count(0)  # chunks
        for k in RECORDED:
            assert seen[k][:, :T + 1].tobytes() == whole.records[k].tobytes(), (k, steps_run)
            assert np.isnan(seen[k][3, T + 1:]).all()                 # the diverged run shows nothing past T
    # L ≤ run k's own L at step (k + 1)T/6: met by then (not by the diverging run, whose records are NaN there)
    K = len(etas)
    cond = _below(whole.records["log_loss"][np.arange(K), (np.arange(K) + 1) * T // 6])
    full = _first_of_whole_run(whole, cond)
    assert networks.first_steps_ntk(data, loss, etas, T, cond, width=16).first.tolist() == full.tolist()
    assert (full[:3] >= 0).all() and len(set(full[:3].tolist())) == 3 and full[3] == -1


@pytest.mark.parametrize("batch", [None, 1])
@pytest.mark.long
def test_first_steps_ntk_stops_at_its_deciding_step(batch, monkeypatch):
    """Only the diverging stepsize wanted: the stream stops with it and answers up to its divergence step; in batches
    of one, the batches after it run to that step only (the answer covers what every batch covered)."""
    data, loss, etas, T = _ntk_case()
    if batch is not None:
        monkeypatch.setattr(networks, "ntk_chunk", lambda *a, **k: batch)
    whole = networks.run_ntk(data, loss, etas, T, width=16)
    t_d = int(whole.stats["diverged_at"][3])
    never = _below(np.full(4, -1e9))
    fs = networks.first_steps_ntk(data, loss, etas, 50_000, never, width=16, wanted=np.array([False] * 3 + [True]))
    assert fs.steps_run == t_d and fs.first.tolist() == [-1] * 4 and fs.diverged_at.tolist() == [-1, -1, -1, t_d]
    # the smallest stepsize alone wanted, met at its whole-run step s: the answer covers 0..s, the others cut there
    cond = _below(np.full(4, whole.records["log_loss"][0, 40]))
    s = _first_of_whole_run(whole, cond)
    fs = networks.first_steps_ntk(data, loss, etas, 50_000, cond, width=16, wanted=np.array([True] + [False] * 3))
    assert fs.steps_run == s[0] and fs.first.tolist() == np.where(s <= s[0], s, -1).tolist()
    # the diverging stepsize meets it at once, the others never: its divergence (after its first step, within the
    # steps run) is reported in batches as in one (a batch stopped at its deciding step is run on to the answer's end)
    cond = _below(np.array([-1e9, -1e9, -1e9, 1e9]))
    fs = networks.first_steps_ntk(data, loss, etas, 400, cond, width=16)
    assert fs.first.tolist() == [-1, -1, -1, 0] and fs.steps_run == 400
    assert fs.diverged_at.tolist() == [-1, -1, -1, t_d]
    with pytest.raises(EoscheckError, match="wanted must be a mask of the 4 stepsizes"):
        networks.first_steps_ntk(data, loss, etas, 10, never, width=16, wanted=np.ones(3, bool))
