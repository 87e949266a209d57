"""The benchmark scripts keep running against the package (bench_gd.machine() imported a function that a
refactoring had removed: every benchmark script crashed before measuring anything)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

BENCH = Path(__file__).resolve().parents[1] / "benchmarks"


def test_machine_record_names_the_cpu_the_libraries_and_the_commit(monkeypatch):
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_gd

    info = bench_gd.machine()
    assert info["torch"] and info["engine_gemm"] in ("mkl", "openblas") and "commit" in info["eoscheck"]
    assert isinstance(info.get("blas"), list) and info["numpy"]


def test_startup_benchmark_writes_its_json(tmp_path):
    out = tmp_path / "startup.json"
    subprocess.run([sys.executable, str(BENCH / "bench_startup.py"), "--repeat", "1", "--out", str(out)],
                   check=True, capture_output=True, text=True, timeout=300)
    res = json.loads(out.read_text())
    assert len(res["help_seconds"]) == 1 and res["help_seconds"][0] > 0      # measured, whatever the machine
    assert res["heavy_modules_imported"] == "[]"                             # --help imports none of them
    assert res["machine"]["eoscheck"]["commit"] is None or len(res["machine"]["eoscheck"]["commit"]) == 40


def test_steal_share_is_the_steal_ticks_over_all_ticks(monkeypatch):
    """The share of CPU time a hypervisor gave to other guests, between two /proc/stat readings: Δsteal / Σ Δticks.
    The expected values are worked by hand: Δ = (10, 0, 0, 90, 0, 0, 0, 20), so 20 / 120."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_gd

    before = [10, 0, 5, 80, 0, 0, 0, 5]
    after = [20, 0, 5, 170, 0, 0, 0, 25]
    assert bench_gd.steal_share(before, after) == 20 / 120
    assert bench_gd.steal_share(before, before) is None          # no time passed: no share
    assert bench_gd.steal_share(None, after) is None             # off Linux: not measured
    ticks = bench_gd.cpu_ticks()
    if sys.platform.startswith("linux"):
        assert len(ticks) == 8 and all(isinstance(t, int) and t >= 0 for t in ticks)


def test_no_contender_always_runs_after_the_same_one(monkeypatch):
    """side_by_side's schedule: every repetition runs each contender once, and over the tiny problem's 15
    repetitions of its 4 contenders each one is preceded within a repetition by at least 2 different others — a
    rotation (A B C D, B C D A, …) gives each exactly 1, the bias it replaced — and the schedule is the same on every
    call (seeded)."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_gd

    keys = ["eoscheck", "eoscheck_1thread", "jax_gram", "jax_primal"]
    orders = bench_gd.schedule(keys, 15)
    assert len(orders) == 15 and all(sorted(o) == sorted(keys) for o in orders)
    before = {k: {o[i - 1] for o in orders for i in range(1, len(o)) if o[i] == k} for k in keys}
    assert all(len(v) >= 2 for v in before.values()), before
    assert bench_gd.schedule(keys, 15) == orders


def test_side_by_side_keeps_every_repetition(monkeypatch):
    """side_by_side's ``times``: each function's time in every repetition, of which the returned best is the least;
    the calls counted by the functions themselves."""
    monkeypatch.syspath_prepend(str(BENCH))
    import bench_gd

    calls = {"a": 0, "b": 0}

    def bump(k):
        def f():
            calls[k] += 1
        return f
    times: dict = {}
    best = bench_gd.side_by_side({"a": bump("a"), "b": bump("b")}, 7, times=times)
    assert calls == {"a": 7, "b": 7} and sorted(times) == ["a", "b"]
    assert all(len(times[k]) == 7 and best[k] == min(times[k]) for k in times)
