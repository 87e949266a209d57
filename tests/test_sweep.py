"""``eoscheck sweep``: the same table serially, on LocalCluster(2) and on an external scheduler;
resume; a killed worker; bad grids.

Equality is exact (``DataFrame.equals``): every task runs the same single-threaded code (BLAS and
torch pinned to one thread, the GD engine in-process) on datasets seeded by (seed, index), so the
numbers are bit-identical wherever a task runs — the project's reproducibility standard.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import numpy as np
import pytest

from eoscheck import EoscheckError
from eoscheck.sweeps import sweep

GRID = dict(data="synthetic", n="4:16", d="4:16", gamma="0.05:0.5", datasets=8, eta="4,16,64", steps=200,
            measure="transition_time(1/eta),last_increase,final_loss,loss(T/2)", seed=3, task_size=2,
            progress=False)
ONE_THREAD = {"OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1", "MKL_NUM_THREADS": "1"}


@pytest.fixture(scope="module")
def serial_table():
    return sweep(**GRID)


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def external_cluster():
    """A scheduler and two nanny-less single-thread workers on 127.0.0.1, started here."""
    port = _free_port()
    addr = f"tcp://127.0.0.1:{port}"
    env = dict(os.environ, **ONE_THREAD)
    procs = [subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_scheduler", "--host", "127.0.0.1",
                               "--port", str(port), "--no-dashboard"], env=env,
                              stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    for _ in range(2):
        procs.append(subprocess.Popen([sys.executable, "-m", "distributed.cli.dask_worker", addr, "--nthreads", "1",
                                       "--no-nanny", "--no-dashboard", "--host", "127.0.0.1"], env=env,
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    client = Client(addr, timeout=60)
    try:
        client.wait_for_workers(2, timeout=120)
    finally:
        client.close()
    yield addr, procs
    for p in reversed(procs):
        if p.poll() is None:
            p.kill()
        p.wait(timeout=30)


def test_table_matches_an_independent_run(serial_table):
    # oracle: GD on dataset 0 by run_gd directly, quantities read off the trajectory by hand
    from threadpoolctl import threadpool_limits

    from eoscheck import run_gd
    from eoscheck.sweeps.grid import DataSpec

    df = serial_table
    assert len(df) == 8 * 3 and df["dataset"].nunique() == 8
    spec = DataSpec.parse("synthetic", "4:16", "4:16", "0.05:0.5", 8)
    data, seed = spec.dataset(0, 3)
    with threadpool_limits(1):
        traj = run_gd(data, "logistic", [4.0, 16.0, 64.0], 200, threads=1)
    rows = df[df["dataset"] == 0].sort_values("eta")
    assert list(rows["n"]) == [data.n] * 3 and list(rows["data_seed"]) == [seed] * 3
    L = traj.records["loss"]
    for k, eta in enumerate([4.0, 16.0, 64.0]):
        hit = np.flatnonzero(traj.records["log_loss"][k] <= np.log(1 / eta))
        expected = hit[0] if hit.size else 201
        r = rows.iloc[k]
        assert r["transition_time(1/eta)"] == expected
        # same single-threaded engine on the same data: bit-identical, so exact comparison
        assert r["final_loss"] == L[k, 200]
        assert r["loss(T/2)"] == L[k, 100]
    # the certified margin is a valid margin: min_i <z_i, w*> ≥ γ* for the certificate's w*
    assert (df["gamma_star"] > 0).all() and (df["gamma_gap"] >= 0).all()


@pytest.mark.long
def test_local_cluster_gives_the_same_table(serial_table, tmp_path):
    info: dict = {}
    df = sweep(**GRID, workers=2, out=tmp_path / "local", info=info)
    assert info["mode"] == "LocalCluster(2)" and info["tasks_run"] == 4
    assert df.equals(serial_table)
    # every task ran in a worker forked from the preloaded fork server, on one BLAS thread
    assert info["tasks_preloaded"] == 4 and len(info["workers_seen"]) >= 1
    assert info["threadpools"] and all(p.endswith(":1") for p in info["threadpools"])
    import pandas as pd

    assert pd.read_parquet(tmp_path / "local" / "results.parquet").equals(serial_table)
    assert (tmp_path / "local" / "sweep.json").is_file()


@pytest.mark.long
def test_external_scheduler_gives_the_same_table(serial_table, external_cluster):
    addr, _ = external_cluster
    info: dict = {}
    df = sweep(**GRID, scheduler=addr, info=info)
    assert info["mode"] == f"scheduler {addr}" and len(info["workers_seen"]) == 2
    assert df.equals(serial_table)


def _kill_after_first_task(out: Path, pid_of) -> tuple[threading.Thread, dict]:
    """A started thread that, once a task is stored in ``out/tasks``, SIGKILLs ``pid_of(first file)``
    and records the pid and how many tasks were done then."""
    state: dict = {}

    def watch():
        deadline = time.time() + 120
        while time.time() < deadline:
            done = sorted((out / "tasks").glob("*.parquet")) if (out / "tasks").is_dir() else []
            if done:
                state["pid"] = pid_of(done[0])
                state["done_at_kill"] = len(done)
                os.kill(state["pid"], signal.SIGKILL)
                return
            time.sleep(0.02)

    th = threading.Thread(target=watch)
    th.start()
    return th, state


@pytest.mark.long
def test_killed_worker_loses_no_rows(external_cluster, tmp_path):
    addr, procs = external_cluster
    grid = dict(GRID, datasets=16, steps=1500, task_size=1)
    out = tmp_path / "killed"
    th, state = _kill_after_first_task(out, lambda first: procs[2].pid)
    info: dict = {}
    df = sweep(**grid, scheduler=addr, out=out, info=info)
    th.join()
    assert procs[2].wait(timeout=30) == -signal.SIGKILL
    assert state["done_at_kill"] < 16, "the worker was killed after the sweep ended: the test proves nothing"
    assert info["workers_at_end"] == 1
    ref = sweep(**grid)
    assert len(df) == 16 * 3 and df.equals(ref)


@pytest.mark.long
def test_killed_local_worker_is_replaced_and_loses_no_rows(tmp_path):
    # a LocalCluster worker killed mid-sweep: its nanny forks a new one from the fork server
    import json

    import pyarrow.parquet as pq

    def worker_pid(first):  # the process that ran the first stored task
        return int(json.loads(pq.read_schema(first).metadata[b"eoscheck"])["worker"].rsplit(":", 1)[1])

    grid = dict(GRID, datasets=12, steps=1500, task_size=1)
    out = tmp_path / "local-killed"
    th, state = _kill_after_first_task(out, worker_pid)
    info: dict = {}
    df = sweep(**grid, workers=2, out=out, info=info)
    th.join()
    assert state["done_at_kill"] < 12, "the worker was killed after the sweep ended: the test proves nothing"
    assert state["pid"] != os.getpid()
    assert len(df) == 12 * 3 and df.equals(sweep(**grid))


def test_fork_server_start_restores_this_process_environment(monkeypatch):
    from eoscheck.sweeps.workers import ONE_THREAD_ENV, start_fork_server

    monkeypatch.setenv("OMP_NUM_THREADS", "7")
    monkeypatch.delenv("OPENBLAS_NUM_THREADS", raising=False)
    start_fork_server()
    assert os.environ["OMP_NUM_THREADS"] == "7" and "OPENBLAS_NUM_THREADS" not in os.environ
    assert set(ONE_THREAD_ENV.values()) == {"1"}


def test_without_a_fork_server_workers_are_spawned(monkeypatch):
    import multiprocessing

    from eoscheck.sweeps.workers import LOCAL_CLUSTER_CONFIG, cluster_config, start_fork_server

    key = "distributed.worker.multiprocessing-method"
    assert start_fork_server() and cluster_config()[key] == "forkserver"
    monkeypatch.setattr(multiprocessing, "get_all_start_methods", lambda: ["spawn"])  # as on Windows
    assert not start_fork_server()
    cfg = cluster_config()
    assert key not in cfg and len(cfg) == len(LOCAL_CLUSTER_CONFIG) - 1


@pytest.mark.long
def test_fork_server_preload_is_safe_and_light():
    # the module the fork server imports: its warm-up ran, left no thread (forking is safe), froze
    # what it loaded, and pulled in none of the heavy modules a task does not need
    code = ("import gc, sys, threading, eoscheck.sweeps.warm as w; "
            "print(w.WARMED, threading.active_count(), gc.get_freeze_count() > 0, "
            "sorted(m for m in ('matplotlib', 'pandas', 'pyarrow', 'jax') if m in sys.modules))")
    env = dict(os.environ, **ONE_THREAD)
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=300)
    assert out.returncode == 0, out.stderr
    assert out.stdout.split("\n")[0] == "True 1 True []", out.stdout


def test_resume_reuses_finished_tasks(serial_table, tmp_path, monkeypatch):
    import eoscheck.sweeps.execute as ex

    out = tmp_path / "resume"
    real, calls = ex.run_task, []

    def interrupted(task):
        if len(calls) == 2:
            raise KeyboardInterrupt  # the sweep stops after two finished tasks
        calls.append(task.key)
        return real(task)

    monkeypatch.setattr(ex, "run_task", interrupted)
    with pytest.raises(KeyboardInterrupt):
        sweep(**GRID, out=out)
    assert len(list((out / "tasks").glob("*.parquet"))) == 2 and not (out / "results.parquet").exists()
    monkeypatch.setattr(ex, "run_task", real)
    info: dict = {}
    assert sweep(**GRID, out=out, info=info).equals(serial_table)
    assert (info["tasks_reused"], info["tasks_run"]) == (2, 2)
    info = {}
    assert sweep(**GRID, out=out, info=info).equals(serial_table)
    assert (info["tasks_reused"], info["tasks_run"]) == (4, 0)
    # another grid in the same folder shares nothing
    info = {}
    sweep(**dict(GRID, steps=100), out=out, info=info)
    assert info["tasks_reused"] == 0
    # nor does other code: an edit of the package (its code hash) within one version recomputes
    import eoscheck.sweeps.tasks as tasks_mod

    monkeypatch.setattr(tasks_mod, "claims_hash", lambda: "0123456789abcdef")
    info = {}
    assert sweep(**GRID, out=out, info=info).equals(serial_table)
    assert (info["tasks_reused"], info["tasks_run"]) == (0, 4)


@pytest.mark.parametrize("args, says", [
    (["--datasets", "2", "--n", "8:4"], "empty range"),
    (["--datasets", "2", "--gamma", "0.5:0.05"], "empty range"),
    (["--eta", ""], "--eta"),
    (["--measure", "speed(T)"], "unknown quantity"),
    (["--measure", "loss(t)"], "give a step"),
    (["--data", "no-such-data"], "not a built-in"),
    (["--datasets", "2", "--gamma", "0.5:2"], "--gamma in (0, 1]"),          # was clamped to γ = 1 silently
    (["--data", "thm3", "--gamma", "0.05,0.5"], "--data thm3 needs --gamma inside (0, 0.1)"),
    (["--measure", "loss(2*T)"], "no run with T = 10 has that step"),          # was a column of NaN
    (["--measure", "loss(T-20)"], "no run with T = 10 has that step"),         # a step of other runs only
    (["--measure", "loss(50)"], "no run with T = 10 has that step"),
    (["--workers", "100000"], "use at most"),                                     # ~90 lines of Dask tracebacks
    (["--datasets", "1e10"], "of memory"),     # planned 10¹⁰ tasks silently (600 MB at 10⁸, no end in sight)
    (["--datasets", "1e7", "--steps", "1e6"], "4e+13 stepsize-steps"),   # no work limit: ran for months
    (["--data", "toy", "--n", "4:8"], "--n does not apply to --data toy"),     # ignored: one row
    (["--data", "toy", "--datasets", "3"], "--datasets does not apply to --data toy"),
    (["--datasets-per-cell", "4"], "applies to --study crawshaw-liu only"),     # ignored
    (["--study", "crawshaw-liu", "--datasets-per-cell", "0"], "argument --datasets-per-cell"),  # said --datasets
    (["--study", "crawshaw-liu", "--eta", "4"], "--eta does not apply to --study crawshaw-liu"),
    (["--scheduler", "tcp://127.0.0.1:PORT", "--scheduler-timeout", "1"], "no Dask scheduler answered"),
    (["--seed", "-1"], "argument --seed"),                                       # numpy's ValueError, exit 1
    (["--scheduler", "tcp://127.0.0.1:PORT", "--scheduler-timeout", "-1"], "argument --scheduler-timeout"),
    (["--scheduler", "tcp://127.0.0.1:PORT", "--workers", "2"], "--workers does not apply with --scheduler"),
    (["--scheduler-timeout", "5"], "--scheduler-timeout applies with --scheduler only"),      # ignored
    (["--data", "sphere", "--gamma", "0.01"], "--gamma does not apply to --data sphere"),      # ignored
    (["--data", "thm3", "--n", "500", "--gamma", "0.05"], "--n does not apply to --data thm3"),  # n = 2 rows
    (["--measure", "transition_time(0)"], "a threshold ≤ 0 is never reached"),  # a column of T + 1
    (["--n", "4:1e300"], "TiB of memory (runs in flight"),      # "≈ nan B of memory … raise --task-size"
])
def test_bad_grid_exits_2_with_one_line(args, says, tmp_path, capsys):
    from eoscheck.cli import main

    args = [a.replace("PORT", str(_free_port())) for a in args]
    rc = main(["sweep", "--steps", "10", *args, "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err.strip()
    assert rc == 2 and len(err.splitlines()) == 1 and says in err, err
    assert not (tmp_path / "o" / "results.parquet").exists()


def test_sweep_steps_are_read_like_runs():
    """--steps took int() only: 1e3 and 2^10, which `eoscheck run --steps` accepts, were refused."""
    from eoscheck.cli import build_parser

    args = build_parser(["sweep"]).parse_args(["sweep", "--steps", "2^10", "--datasets", "1e2", "--out", "x"])
    assert (args.steps, args.datasets) == (1024, 100)


def test_cli_writes_results_and_provenance(tmp_path, capsys):
    import json

    import pandas as pd

    from eoscheck.cli import main

    out = tmp_path / "cli"
    rc = main(["sweep", "--datasets", "3", "--steps", "50", "--eta", "4,2^4", "--measure", "final_loss,max_loss",
               "--out", str(out)])
    assert rc == 0
    df = pd.read_parquet(out / "results.parquet")
    assert list(df.columns)[-3:] == ["final_loss", "max_loss", "diverged"] and len(df) == 6
    doc = json.loads((out / "sweep.json").read_text())
    assert doc["config"]["grid"]["etas"] == [4.0, 16.0] and doc["provenance"]["seed"] == 0
    # every BLAS/OpenMP pool the tasks saw ran one thread
    assert doc["run"]["threadpools"] and all(p.endswith(":1") for p in doc["run"]["threadpools"])
    assert Path(out / "tasks").is_dir()


def test_crawshaw_liu_study_and_its_report_section(tmp_path):
    import json

    import pandas as pd

    from eoscheck.report import sweep_study
    from eoscheck.report.context import Context
    from eoscheck.sweeps import crawshaw_liu as cl

    out = tmp_path / "cl"
    line = cl.run_study(out, datasets=2, d_values=(2, 4), steps=40, progress=False)
    assert "Theorem 1 violations: 0" in line
    df = pd.read_parquet(out / "results.parquet")
    assert sorted(df.groupby("d")["dataset"].nunique().items()) == [(2, 2), (4, 2)]
    assert (df["n"] == df["d"]).all() and len(df) == 4 * len(cl.ETAS)
    doc = json.loads((out / "summary.json").read_text())
    cell = next(c for c in doc["cells"] if c["d"] == 4 and c["eta"] == 16.0)
    sub = df[(df["d"] == 4) & (df["eta"] == 16.0)][cl.T_2]
    assert cell["worst t(L≤2/η)"] == sub.max() and cell["median t(L≤2/η)"] == sub.median()
    assert (out / "fig2a.png").stat().st_size > 0 and doc["extrapolation"]["full_tasks"] == 4096
    ctx = Context(out=tmp_path / "report", cfg={}, profile="quick")
    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.run(ctx, sec, folder=out)
    assert sec.status == "complete", sec.errors
    assert [v.verdict for v in sec.verdicts][0] == "holds"
    # the runs that cannot decide Theorem 1 (not below 1/η by T < ⌈τ⌉) are not counted as checked; counted
    # here from the table's times and the bound itself, not by the summary under test
    t1, tau = df[cl.T_1].to_numpy(float), cl.bound_values(df)["tau_thm1"]
    decided = int(((t1 <= 40) | (tau <= 40)).sum())
    for T in (1, 2, 40):               # at T = 1 or 2 most runs are censored: the summary must not count them
        want = int(((t1 <= T) | (tau <= T)).sum())
        assert sum(r["Thm 1 decided"] for r in cl.summarize(df, T)) == want
    assert f"in the {decided} of {len(df)} runs that decide it" in sec.verdicts[0].measured
    # the section says whose runs these are (the study's commit, time and machine, from its sweep.json): they
    # were drawn from a study computed at another commit than the report's, which the report did not say
    prov = json.loads((out / "sweep.json").read_text())["provenance"]
    commit = prov["source"]["commit"][:12] + (" with uncommitted changes" if prov["source"]["dirty"] else "")
    assert f"at commit {commit} ({prov['time_utc']}" in sec.intro
    drawn = ctx.extras["external_data"][0]
    assert drawn["§"] == 9 and drawn["commit"] == commit and drawn["time_utc"] == prov["time_utc"]
    assert (tmp_path / "report" / "figures" / "s_sweep_fig2a.png").is_file()


def test_folder_of_npz_and_fixed_builtin(tmp_path):
    from eoscheck.datasets import synthetic, toy

    folder = tmp_path / "data"
    folder.mkdir()
    for k, ds in enumerate([synthetic(5, 3, 0.2, seed=1), synthetic(7, 4, 0.3, seed=2)]):
        np.savez(folder / f"set{k}.npz", X=ds.X, y=ds.y)
    df = sweep(str(folder), eta="4,8", steps=20, measure="final_loss", progress=False)
    assert list(df["name"].unique()) == ["set0", "set1"] and list(df["n"].unique()) == [5, 7]
    one = sweep("toy-normalized", eta="4", steps=20, measure="final_loss", progress=False)
    assert len(one) == 1 and one["n"].iloc[0] == toy().n


def test_python_sequences_are_value_lists_as_the_clis_comma_lists():
    """From Python, ``n=[4, 8]`` (or a tuple, an array, one number) means what ``--n 4,8`` means on the
    command line: the same datasets, the same table (a list used to fail: "'[4' is not a number")."""
    common = dict(data="synthetic", datasets=3, eta=[4.0, 16.0], steps=60, measure="final_loss", progress=False)
    text = sweep(n="4,8", d="4,", gamma="0.1,0.2", **common)
    seqs = sweep(n=[4, 8], d=(4,), gamma=np.array([0.1, 0.2]), **common)
    assert list(text["n"]) == [4, 4, 8, 8, 4, 4] and list(text["d"]) == [4] * 6
    assert text.equals(seqs)
    assert sweep(n=8, d=4, gamma=0.2, **common)["n"].tolist() == [8] * 6


@pytest.mark.parametrize("kwargs, message", [
    (dict(eta=[4.0, 4.0]), r"^eta \(--eta\) lists a stepsize twice"),
    (dict(steps=0), r"^steps \(--steps\) must be a whole number ≥ 1"),
])
def test_python_errors_name_the_parameter_before_the_flag(kwargs, message):
    """An error raised for ``sweep(eta=[4, 4])`` named only ``--eta``, a flag a Python caller never wrote."""
    with pytest.raises(EoscheckError, match=message):
        sweep(**dict(dict(data="synthetic", datasets=1, eta=[4.0], steps=5, progress=False), **kwargs))


def _study_rows(worst: dict[int, tuple[float, float]], steps: int) -> list[dict]:
    """Summary rows of a study: per d, the worst time at the smallest and the largest η (one dataset a cell, so
    it is "not reached" when its time is the mark T + 1; Theorem 1 decided nowhere, so its verdict stays out of
    the way)."""
    return [{"d": d, "eta": eta, "datasets": 1, "worst t(L≤2/η)": w, "not reached by T (2/η)": int(w > steps),
             "max t(L≤1/η)/⌈τ⌉": float("nan"), "Thm 1 decided": 0, "Thm 1 violations": 0}
            for d, ends in worst.items() for eta, w in zip((4.0, 512.0), ends)]


@pytest.mark.parametrize("steps, worst, want", [
    # T = 40 < 60: a time not reached by T is recorded as 41, which says nothing about ≤ 60
    (40, {2: (3.0, 41.0)}, ("inconclusive", "NOT REPRODUCED")),
    (40, {2: (41.0, 41.0)}, ("inconclusive", "inconclusive")),
    (40, {2: (3.0, 5.0)}, ("reproduced", "reproduced")),
    # T = 100 ≥ 60: not reached by T means more than 60
    (100, {2: (3.0, 101.0)}, ("NOT REPRODUCED", "NOT REPRODUCED")),
    (100, {2: (30.0, 50.0), 4: (70.0, 80.0)}, ("NOT REPRODUCED", "reproduced")),
])
def test_the_study_verdicts_do_not_read_a_censoring_mark_as_a_time(steps, worst, want):
    from eoscheck.report import sweep_study

    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, _study_rows(worst, steps), steps)
    assert tuple(v.verdict for v in sec.verdicts[1:]) == want


def test_the_study_verdicts_say_how_many_runs_were_not_reached_and_where_neither_end_was():
    """The ≤ 60 verdict said only "(not reached by T)"; it counts the runs.  The trend's note named the d where
    neither end was reached only when no other d grew."""
    from eoscheck.report import sweep_study

    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, _study_rows({2: (3.0, 101.0), 4: (101.0, 101.0)}, 100), 100)
    le60, trend = sec.verdicts[1], sec.verdicts[2]
    assert le60.measured == "d=2: 101 (not reached by T in 1 of 2 runs); d=4: 101 (not reached by T in 2 of 2 runs)"
    assert trend.verdict == "NOT REPRODUCED"                       # d = 2 grows: 3 → 101
    assert trend.note.endswith("; not reached by T = 100 at either end at d ∈ 4")


def test_rows_of_data_that_are_not_separable_are_flagged(tmp_path, capsys):
    """A folder of two datasets, one separable through the origin and one not (the point (1, 0) labelled both
    +1 and −1: 0 lies in conv{yᵢxᵢ}); its rows used to show only a γ* ≤ 0, with nothing saying that the
    theory's bounds do not apply to them."""
    from eoscheck.cli import main

    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "a_sep.npz", X=np.array([[1.0, 0.2], [0.8, -0.1]]), y=np.array([1.0, 1.0]))
    np.savez(folder / "b_not.npz", X=np.array([[1.0, 0.0], [1.0, 0.0], [0.3, 1.0]]), y=np.array([1.0, -1.0, 1.0]))
    df = sweep(str(folder), eta="4", steps=10, measure="final_loss", progress=False)
    assert df.set_index("name")["separable"].to_dict() == {"a_sep": True, "b_not": False}
    assert df["separable"].dtype == bool
    rc = main(["sweep", "--data", str(folder), "--eta", "4", "--steps", "10", "--measure", "final_loss",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 0 and "1 of 2 datasets are not certified linearly separable" in err, err


def test_rows_of_data_outside_the_unit_ball_are_flagged(tmp_path, capsys):
    """`eoscheck run` warns when max‖xᵢ‖ > 1 (Assumption 1A) and the README says a warning says so; a sweep said
    nothing and its table had no column to show it."""
    from eoscheck.cli import main

    folder = tmp_path / "data"
    folder.mkdir()
    np.savez(folder / "a_in.npz", X=np.array([[0.6, 0.8], [0.5, 0.1]]), y=np.array([1.0, 1.0]))
    np.savez(folder / "b_out.npz", X=np.array([[1.04, 0.0], [0.5, 0.1]]), y=np.array([1.0, 1.0]))
    df = sweep(str(folder), eta="4", steps=10, measure="final_loss", progress=False)
    norms = df.set_index("name")["max_norm"]
    # ‖(0.6, 0.8)‖ = 1 up to the rounding of 0.6² + 0.8² and its square root (≤ 2 ulps); ‖(1.04, 0)‖ = 1.04 exactly
    assert abs(norms["a_in"] - 1) <= 4.5e-16 and norms["b_out"] == 1.04
    rc = main(["sweep", "--data", str(folder), "--eta", "4", "--steps", "10", "--measure", "final_loss",
               "--out", str(tmp_path / "o")])
    err = capsys.readouterr().err
    assert rc == 0 and "1 of 2 datasets have max ||x_i|| > 1" in err, err


def test_the_study_summary_reads_not_reached_marks_as_marks_and_keeps_a_witness():
    """T = 5 on the study's data: most times are not reached, recorded as T + 1 = 6.  The median of a cell
    whose marks are at least half is the mark (it was the average of a time and a mark, e.g. (1 + 501)/2);
    a Theorem 1 violation keeps its row (dataset, seed, η, s, τ), the witness the verdict shows."""
    import pandas as pd

    from eoscheck.report import sweep_study
    from eoscheck.sweeps import crawshaw_liu as cl

    df = pd.DataFrame({"dataset": [0, 1, 2, 3], "data_seed": [10, 11, 12, 13], "d": 2, "n": 2, "eta": 4.0,
                       "gamma_star": 0.5, cl.T_2: [1.0, 6.0, 6.0, 2.0], cl.T_1: [1.0, 2.0, 3.0, 4.0],
                       cl.MEASURES[2]: [6.0, 6.0, 6.0, 6.0]})
    tau = cl.bound_values(df)["tau_thm1"]
    (row,) = cl.summarize(df, 5)
    assert row["median t(L≤2/η)"] == 6.0 and row["worst t(L≤2/η)"] == 6.0 and "Thm 1 witness" not in row
    (row,) = cl.summarize(df.assign(**{cl.T_2: [1.0, 6.0, 2.0, 3.0]}), 5)
    assert row["median t(L≤2/η)"] == 2.5          # one mark of four: the median is a time
    # a violation: s > ⌈τ⌉ within T (τ at γ* = 0.5 is in the thousands; a tiny γ* is not needed: scale s)
    big = df.assign(**{cl.T_1: [1.0, float(tau[1]) + 1, 3.0, 4.0]})
    (row,) = cl.summarize(big, int(tau[1]) + 10)
    assert row["Thm 1 violations"] == 1
    assert row["Thm 1 witness"] == {"dataset": 1, "data_seed": 11, "eta": 4.0, "s": float(tau[1]) + 1,
                                    "tau": float(tau[1]), "gamma_star": 0.5}
    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, [row], int(tau[1]) + 10)
    assert sec.verdicts[0].verdict == "VIOLATED" and "witness: dataset 1 (seed 11)" in sec.verdicts[0].measured
    # and the cost of the full study is extrapolated from the median task, not a mean that counts compiling
    ext = cl.extrapolate([4.0, 0.1, 0.1, 0.1], 1, [3.8, 0.07, 0.07, 0.07])
    assert ext["median_task_cost_s"] == 0.07
    # of two tasks, the one without the compile (the median of two was their mean: 144 min for an 11-min study)
    assert cl.extrapolate([4.0, 0.1], 1, [3.8, 0.07])["median_task_cost_s"] == 0.07
    # the censored runs of L ≤ 1/η are counted beside its worst time, as for 2/η and 1/(8η): t₁ = 6 > T = 5 once
    (row,) = cl.summarize(df.assign(**{cl.T_1: [1.0, 6.0, 3.0, 4.0]}), 5)
    assert row["not reached by T (1/η)"] == 1 and row["worst t(L≤1/η)"] == 6.0


def test_a_bad_data_file_is_refused_before_any_task_runs(tmp_path, monkeypatch):
    """A folder whose third file has labels 0/1: the sweep ran the first two files' tasks, then failed on its
    third; now the plan reads every file and refuses the bad one before anything runs."""
    import eoscheck.sweeps.execute as ex
    from eoscheck import EoscheckError, synthetic

    folder = tmp_path / "data"
    folder.mkdir()
    good = synthetic(5, 3, 0.2, seed=1)
    np.savez(folder / "a.npz", X=good.X, y=good.y)
    np.savez(folder / "b.npz", X=good.X, y=good.y)
    np.savez(folder / "z.npz", X=good.X, y=(good.y > 0).astype(float))       # labels 0/1
    ran = []
    monkeypatch.setattr(ex, "run_task", lambda task: ran.append(task) or pytest.fail("a task ran"))
    with pytest.raises(EoscheckError, match="z.npz|labels"):
        sweep(str(folder), eta="4", steps=10, measure="final_loss", task_size=1, progress=False, out=tmp_path / "o")
    assert not ran


def test_the_plan_sizes_tasks_and_memory_from_the_largest_dataset():
    """n = d with a comma list of d: the default task size fell back to n = d = 64 (the list has no range end);
    and a run too large for the memory was refused only inside its task, with `eoscheck run`'s options."""
    from eoscheck import EoscheckError
    from eoscheck.sweeps.execute import plan

    _, _, tasks = plan("sphere", n="d", d="500,1000", datasets=4, eta="4", steps=100, measure="final_loss")
    # 4·1000·1000·1·101 flops ≈ 4e8 per dataset > 2e8: one dataset a task (it was 3, sized for d = 64)
    assert [t.count for t in tasks] == [1, 1, 1, 1]
    with pytest.raises(EoscheckError, match="runs in flight") as err:
        plan("toy", eta="4,16,64,256", steps=10**10, measure="final_loss")
    assert "--grid" not in str(err.value) and "--steps" in str(err.value)


def test_a_row_rebuilds_its_dataset_exactly():
    """The name rounds γ (synthetic(…, γ=0.0930586)); rebuilt from it, a run's final loss differed in the 7th
    digit.  The 'gamma' column holds the generator's γ exactly: with data_seed it rebuilds the same data and the
    same numbers (bit for bit: same code, same machine)."""
    from eoscheck import synthetic
    from eoscheck.gd import run_gd

    df = sweep("synthetic", n="4:8", d="3:5", gamma="0.05:0.5", datasets=3, eta="4", steps=50,
               measure="final_loss", progress=False)
    for _, row in df.iterrows():
        data = synthetic(int(row["n"]), int(row["d"]), row["gamma"], seed=int(row["data_seed"]))
        assert float(run_gd(data, "logistic", [4.0], 50).loss_at(50)[0]) == row["final_loss"]


def test_a_sweep_never_replaces_files_it_did_not_write(tmp_path, capsys):
    """A foreign results.parquet and sweep.json were overwritten; a sweep of another grid replaced the earlier
    table without a word (its task files survive, so a note is enough there)."""
    from eoscheck.cli import main

    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "sweep.json").write_text('{"mine": true}')
    (foreign / "results.parquet").write_bytes(b"PAR1 mine")
    before = {p.name: p.read_bytes() for p in foreign.iterdir()}
    args = ["sweep", "--datasets", "2", "--n", "4", "--d", "3", "--steps", "10", "--eta", "4"]
    assert main([*args, "--out", str(foreign)]) == 2
    err = capsys.readouterr().err
    assert "which a sweep did not write" in err and len(err.strip().splitlines()) == 1
    assert {p.name: p.read_bytes() for p in foreign.iterdir()} == before
    (foreign / "sweep.json").unlink()
    assert main([*args, "--out", str(foreign)]) == 2      # a table with no sweep.json and no tasks/
    capsys.readouterr()
    ours = tmp_path / "ours"
    assert main([*args, "--out", str(ours)]) == 0
    assert "another grid" not in capsys.readouterr().err
    assert main([*args[:-1], "8", "--out", str(ours)]) == 0   # another grid: replaced, with a note
    assert "holds the table of a sweep of another grid" in capsys.readouterr().err


def test_python_sweep_takes_one_stepsize_and_refuses_what_does_not_apply(tmp_path):
    """`sweep(eta=4)` failed with a TypeError from list(4); `sweep("toy", n=100, …)` returned the toy set's one row
    without a word; a Dataset or a Loss object failed deep inside (pathlib, a parser)."""
    from eoscheck import EoscheckError, logistic, toy

    one = sweep("synthetic", n=6, d=3, gamma=0.3, datasets=2, eta=4, steps=20, measure="final_loss", progress=False)
    assert one["eta"].tolist() == [4.0, 4.0]
    with pytest.raises(EoscheckError, match="^n does not apply to data 'toy'"):
        sweep("toy", n=100, eta=4, steps=20, measure="final_loss", progress=False)
    with pytest.raises(EoscheckError, match="data must be a name"):
        sweep(toy(), eta=4, steps=20, measure="final_loss", progress=False)
    with pytest.raises(EoscheckError, match="loss must be a name"):
        sweep("toy", loss=logistic(), eta=4, steps=20, measure="final_loss", progress=False)


def test_the_no_growth_trend_leaves_out_the_stepsizes_of_forced_monotone_runs():
    """At η = 4 every d ≥ 16 dataset of the study is monotone (2/β ≥ 29), so its worst time to L ≤ 2/η was a quick
    stable fall, and "4 → 512" compared it with EoS runs: NOT REPRODUCED on a confound.  The trend now starts at the
    smallest 2/β of the d's datasets; with fewer than 2 stepsizes there, the d decides nothing."""
    from eoscheck.report import sweep_study

    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, _study_rows({16: (3.0, 101.0)}, 100), 100, {16: 100.0})
    trend = sec.verdicts[2]
    assert trend.verdict == "inconclusive" and "d=16: fewer than 2 such η" in trend.measured
    sec = sweep_study.Section(9, sweep_study.KEY, sweep_study.TITLE)
    sweep_study.study_verdicts(sec, _study_rows({16: (3.0, 101.0)}, 100), 100)      # no threshold: as before
    assert sec.verdicts[2].verdict == "NOT REPRODUCED"


def test_the_stable_threshold_is_the_descent_lemmas():
    """stable_below's 2/β: GD just below it is monotone on every dataset of that d (the descent lemma), and the
    dataset attaining it is not monotone at 4× it (the threshold is the one of the data, not a loose constant)."""
    import pandas as pd

    from eoscheck import run_gd
    from eoscheck.report.sweep_study import stable_below
    from eoscheck.sweeps.grid import sphere

    seeds = [11, 12, 13]
    df = pd.DataFrame({"d": 8, "n": 8, "data_seed": seeds, "name": [f"sphere(n=8,d=8,seed={s})" for s in seeds]})
    lo = stable_below(df)[8]
    for s in seeds:
        traj = run_gd(sphere(8, 8, s), "logistic", [0.999 * lo], 400)
        assert traj.stats["last_increase"][0] == -1, s
    Zs = [sphere(8, 8, s).Z for s in seeds]
    worst = min(range(3), key=lambda i: 8 * 8 / np.linalg.eigvalsh(Zs[i].T @ Zs[i])[-1])
    assert run_gd(sphere(8, 8, seeds[worst]), "logistic", [4 * lo], 400).stats["last_increase"][0] >= 1
