"""``eoscheck sweep`` at its edges: what keys a task, scheduler addresses that are not schedulers, Ctrl-C and
SIGTERM, files a study did not write, and the Python API's input checks.

Each test reproduces a review finding of 2026-12-05 that failed on the code before the fix."""

from __future__ import annotations

import dataclasses
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from eoscheck import EoscheckError
from eoscheck.sweeps import sweep

SMALL = dict(n="4:8", d="3", datasets=2, eta="4", steps=10, measure="final_loss", progress=False)


def test_a_builtin_name_means_the_builtin_whatever_folders_exist(tmp_path, monkeypatch):
    """A folder named synthetic in the working directory (e.g. the sweep's own --out) made `--data synthetic` fixed
    data, so `--n` was refused and the sweep could not be resumed."""
    monkeypatch.chdir(tmp_path)
    for _ in range(2):
        df = sweep("synthetic", **SMALL, out="synthetic")
        assert len(df) == 2


def test_a_tasks_key_holds_the_numerics_and_a_worker_with_other_numerics_refuses_it(tmp_path, monkeypatch):
    """Resuming with EOSCHECK_GEMM=mkl reused tasks computed with OpenBLAS: a table of rows computed two ways."""
    from eoscheck.sweeps.execute import plan
    from eoscheck.sweeps.tasks import run_task, task_numerics

    _, _, tasks = plan("synthetic", n="4:8", d="3", datasets=2, eta=[4.0], steps=10, measure="final_loss")
    here = dataclasses.replace(tasks[0], numerics=task_numerics())
    other = dataclasses.replace(here, numerics=tuple((k, "other" if k == "gemm" else v) for k, v in here.numerics))
    assert here.key != other.key and here.key != tasks[0].key
    with pytest.raises(EoscheckError, match="computes with gemm"):
        run_task(other)
    info: dict = {}
    monkeypatch.setenv("EOSCHECK_GEMM", "openblas")
    sweep("synthetic", **SMALL, out=tmp_path / "s", info=info)
    assert info["numerics"]["gemm"] == "openblas"
    monkeypatch.setenv("EOSCHECK_GEMM", "mkl")
    info = {}
    sweep("synthetic", **SMALL, out=tmp_path / "s", info=info)
    if info["numerics"]["gemm"] == "mkl":       # where torch has MKL: another library, so nothing is reused
        assert info["tasks_reused"] == 0


def test_a_result_under_another_key_is_refused(tmp_path, monkeypatch):
    """A worker running other eoscheck code stored its rows under keys the client never looks up: every rerun
    recomputed them, and the table mixed two codes' rows."""
    import eoscheck.sweeps.execute as ex

    real = ex.run_task
    monkeypatch.setattr(ex, "run_task", lambda t: dict(real(t), key="0123456789abcdef", worker="w:1"))
    with pytest.raises(EoscheckError, match="worker w:1 runs other eoscheck code"):
        sweep("synthetic", **SMALL, out=tmp_path / "s")


def _serve(greeting: bytes | None) -> tuple[int, threading.Event]:
    """A TCP server on 127.0.0.1 that is not a Dask scheduler: it sends ``greeting`` (None: nothing) and holds
    each connection open until stopped."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen()
    stop = threading.Event()

    def serve():
        conns = []
        srv.settimeout(0.2)
        while not stop.is_set():
            try:
                c, _ = srv.accept()
            except OSError:
                continue
            if greeting is not None:
                c.sendall(greeting)
            conns.append(c)
        for c in conns:
            c.close()
        srv.close()

    threading.Thread(target=serve, daemon=True).start()
    return srv.getsockname()[1], stop


@pytest.mark.parametrize("greeting", [None, b"SSH-2.0-OpenSSH_9.6\r\n" + b"\xff" * 64])
def test_a_port_that_is_no_scheduler_is_one_line_within_the_timeout(greeting):
    """A dashboard port (HTTP: it waits for a request) kept the client waiting past 130 s; a server that greets
    first (SSH) was read as a 3-EiB frame and reported as "out of memory"."""
    port, stop = _serve(greeting)
    try:
        t0 = time.perf_counter()
        with pytest.raises(EoscheckError, match="no Dask scheduler answered within 1 s"):
            sweep("synthetic", **SMALL, scheduler=f"tcp://127.0.0.1:{port}", scheduler_timeout=1)
        assert time.perf_counter() - t0 < 30
    finally:
        stop.set()


@pytest.mark.parametrize("address, ok", [("tls://127.0.0.1:1", False), ("ucx://127.0.0.1:1", False),
                                         ("inproc://127.0.0.1", False), ("tcp://[::1]:8786", True),
                                         ("tcp://node-3.cluster:8786", True)])
def test_scheduler_addresses_are_those_this_command_can_reach(address, ok):
    """tls://, ucx:// and inproc:// passed the check and then crashed with ~50 lines of traceback; a bracketed IPv6
    address was refused."""
    from eoscheck.sweeps.execute import check_address

    if ok:
        check_address(address)
    else:
        with pytest.raises(EoscheckError, match="only tcp:// scheduler addresses"):
            check_address(address)


@pytest.fixture(autouse=True)
def _ctrl_c_raises():
    """Ctrl-C raises KeyboardInterrupt in this process while a test runs, as at a terminal: a test run started with
    SIGINT ignored (`pytest … &` in a script: bash ignores it in background jobs) made every Ctrl-C test fail."""
    old = signal.signal(signal.SIGINT, signal.default_int_handler)
    yield
    if old is not None:          # None: a handler installed from C, which Python cannot put back
        signal.signal(signal.SIGINT, old)


def _ctrl_c_default() -> None:
    """In a child before exec: SIGINT at its default, so the child's Python installs its Ctrl-C handler."""
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _sweep_cli(out: Path, *extra: str) -> subprocess.Popen:
    """`eoscheck sweep` long enough to be stopped midway (one task per dataset), in its own process group: 4000
    tasks of ~10–30 ms, which cannot all end before the stop lands (with 400, a run beside the other test worker
    once exited 0 with no output: most likely ended before the stop)."""
    env = dict(os.environ, PYTHONUNBUFFERED="1")
    return subprocess.Popen([sys.executable, "-m", "eoscheck", "sweep", "--datasets", "4000", "--n", "40:80", "--d",
                             "20:40", "--steps", "2000", "--eta", "4,64,1024", "--task-size", "1", "--out", str(out),
                             *extra], env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            start_new_session=True, preexec_fn=_ctrl_c_default)


def _stop_midway(proc: subprocess.Popen, out: Path, sig: int, group: bool) -> tuple[int, str]:
    deadline = time.time() + 240
    while time.time() < deadline and proc.poll() is None:
        if (out / "tasks").is_dir() and len(list((out / "tasks").glob("*.parquet"))) >= 2:
            break
        time.sleep(0.2)
    assert proc.poll() is None, "the sweep ended before it could be stopped"
    (os.killpg if group else os.kill)(proc.pid, sig)
    _, err = proc.communicate(timeout=120)
    return proc.returncode, err


@pytest.mark.long
def test_ctrl_c_stops_a_local_cluster_sweep_in_one_line(tmp_path):
    """The terminal's Ctrl-C reaches the whole process group: the workers and nannies printed 27–74 lines of
    tracebacks (KeyboardInterrupt, CancelledError, "Nanny failed to start")."""
    out = tmp_path / "int"
    rc, err = _stop_midway(_sweep_cli(out, "--workers", "2"), out, signal.SIGINT, group=True)
    assert rc == 130, err
    assert "Traceback" not in err and "eoscheck sweep: interrupted" in err, err


class _Dropper:
    """Sends this process a Ctrl-C from its ``__del__``, where Python runs the handler and drops what it raises."""

    def __del__(self):
        os.kill(os.getpid(), signal.SIGINT)
        for _ in range(10_000):
            pass


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")  # the dropped KeyboardInterrupt
def test_a_ctrl_c_that_python_drops_still_stops_the_sweep(monkeypatch, tmp_path):
    """Python drops an exception raised inside a weakref callback or ``__del__`` ("Exception ignored in …"): a Ctrl-C
    that landed in Dask's WeakSet callback was lost, and the sweep ran to its end and exited 0 (a loaded test run of
    test_ctrl_c_stops_a_local_cluster_sweep_in_one_line).  The interrupt is remembered and the sweep stops after the
    task under way, which is kept for the rerun."""
    import eoscheck.sweeps.execute as ex

    ran: list[str] = []
    real = ex.run_task

    def run_task(task):
        ran.append(task.key)
        if len(ran) == 1:
            _Dropper()                # deleted at once
        return real(task)

    monkeypatch.setattr(ex, "run_task", run_task)
    printed: list = []                           # what Python would print as "Exception ignored in …"
    hook = lambda u: printed.append(u.exc_type)  # noqa: E731
    monkeypatch.setattr(sys, "unraisablehook", hook)
    with pytest.raises(KeyboardInterrupt):
        sweep("synthetic", **dict(SMALL, datasets=4), task_size=1, out=tmp_path / "s")
    assert len(ran) == 1 and [f.stem for f in (tmp_path / "s" / "tasks").glob("*.parquet")] == ran
    # the dropped interrupt is remembered, so its traceback is not printed (a real Ctrl-C in distributed's gc
    # callback printed one before "interrupted"); the hook before the sweep's is back
    assert KeyboardInterrupt not in printed and sys.unraisablehook is hook


@pytest.mark.filterwarnings("ignore::pytest.PytestUnraisableExceptionWarning")
def test_a_ctrl_c_dropped_after_the_last_task_still_stops_the_sweep(monkeypatch):
    """A Ctrl-C dropped while the sweep closes (the progress bar here; Dask's client and cluster, whose weakref
    callbacks run then, in a real run) was remembered but not looked at again: the sweep returned its table (a
    reviewer's run)."""
    import eoscheck.progress as pbar

    real = pbar.bar

    def bar(*a, **k):
        b = real(*a, **k)
        close = b.close
        b.close = lambda: (_Dropper(), close())
        return b

    monkeypatch.setattr(pbar, "bar", bar)
    with pytest.raises(KeyboardInterrupt):
        sweep("synthetic", **SMALL)


def test_an_ignored_ctrl_c_stays_ignored():
    """A sweep started with SIGINT ignored (`eoscheck sweep … &` from a script) kept running through a Ctrl-C; the
    interrupt latch replaced the ignoring and stopped it (a reviewer's run)."""
    import eoscheck.sweeps.execute as ex

    old = signal.signal(signal.SIGINT, signal.SIG_IGN)
    real, ran = ex.run_task, []
    try:
        def run_task(task):
            ran.append(task.key)
            os.kill(os.getpid(), signal.SIGINT)
            return real(task)

        ex.run_task = run_task
        try:
            rows = len(sweep("synthetic", **dict(SMALL, datasets=3), task_size=1))
        except KeyboardInterrupt:     # raised out of a test, it would stop the whole pytest run
            pytest.fail("the ignored Ctrl-C stopped the sweep")
        assert rows == 3 and len(ran) == 3
        assert signal.getsignal(signal.SIGINT) is signal.SIG_IGN
    finally:
        ex.run_task = real
        signal.signal(signal.SIGINT, old)


@pytest.mark.long
def test_sigterm_stops_a_sweep_as_ctrl_c_does(tmp_path):
    """SIGTERM (a batch system's preemption) exited -15 with no line saying the sweep was interrupted."""
    out = tmp_path / "term"
    rc, err = _stop_midway(_sweep_cli(out), out, signal.SIGTERM, group=False)
    assert rc == 130 and "eoscheck sweep: interrupted" in err, err


def test_the_study_refuses_files_it_did_not_write(tmp_path):
    """--study crawshaw-liu replaced a summary.json and a fig2a.png it had not written."""
    from eoscheck.sweeps.crawshaw_liu import run_study

    folder = tmp_path / "cl"
    folder.mkdir()
    (folder / "summary.json").write_text('{"mine": 1}')
    with pytest.raises(EoscheckError, match="holds summary.json, which a sweep did not write"):
        run_study(folder, datasets=1, d_values=(2,), steps=20, progress=False)
    assert (folder / "summary.json").read_text() == '{"mine": 1}'


def test_a_foreign_table_beside_a_foreign_tasks_folder_is_refused(tmp_path):
    """Any tasks/ folder beside a results.parquet counted as an earlier sweep's, so a foreign table was replaced."""
    folder = tmp_path / "u4"
    (folder / "tasks").mkdir(parents=True)
    (folder / "tasks" / "mything.parquet").write_text("junk")
    (folder / "results.parquet").write_text("junk")
    with pytest.raises(EoscheckError, match="holds results.parquet, which a sweep did not write"):
        sweep("synthetic", **SMALL, out=folder)
    assert (folder / "results.parquet").read_text() == "junk"


@pytest.mark.parametrize("kw", [{"seed": -1}, {"seed": "x"}, {"seed": 1.5}, {"datasets": "abc"}, {"datasets": "10"},
                                {"steps": "100"}])
def test_python_sweep_refuses_what_the_cli_refuses_in_one_line(kw):
    """seed=-1 and "x" raised a bare ValueError, seed=1.5 ran as seed 1, and datasets="10" was "must be a positive
    integer, got 10"."""
    name = next(iter(kw))
    args = {**SMALL, **kw}
    with pytest.raises(EoscheckError, match=f"^{name} .*must be a whole number"):
        sweep("synthetic", **args)


def test_stale_temporaries_are_cleaned_in_the_writers_folder_only(tmp_path):
    """The lock's clean-up walked every subfolder of --out (all of a home folder under --out .), and could delete a
    temporary file another eoscheck process was writing in its own folder below."""
    from eoscheck.outputs import LOCK_NAME, TMP_MARK, remove_stale_temporaries

    (tmp_path / "tasks").mkdir()
    mine = tmp_path / "tasks" / f"x{TMP_MARK}1"
    mine.write_text("")
    other = tmp_path / "runs" / "toy"
    other.mkdir(parents=True)
    (other / LOCK_NAME).write_text("")
    theirs = other / f"trajectory.npz{TMP_MARK}2"
    theirs.write_text("")
    deep = tmp_path / "a" / "b" / "c" / "d"
    deep.mkdir(parents=True)
    far = deep / f"f{TMP_MARK}3"
    far.write_text("")
    assert remove_stale_temporaries(tmp_path) == 1
    assert not mine.exists() and theirs.exists() and far.exists()


def test_the_margin_certificate_interval_holds_the_true_max_margin():
    """gamma_gap was the solver's duality gap beside the certificate's lowered γ*: [γ*, γ* + gap] missed the toy
    set's exact max margin 0.2 (γ* + gap = 0.19999999999997145) and every thm3 set's γ (its max margin by
    construction: x₁ = (γ, √(1−γ²)), x₂ = (γ, −√(1−γ²)/2))."""
    toy = sweep("toy", eta=[4.0], steps=5, progress=False)
    assert (toy["gamma_star"] <= 0.2).all() and (toy["gamma_star"] + toy["gamma_gap"] >= 0.2).all()
    t3 = sweep("thm3", gamma="0.01:0.09", datasets=6, eta=[4.0], steps=5, progress=False)
    assert (t3["gamma_star"] <= t3["gamma"]).all() and (t3["gamma_star"] + t3["gamma_gap"] >= t3["gamma"]).all()


def test_last_increase_sees_a_rise_of_the_loss_at_a_huge_loss():
    """At η = 1e15 on the toy set the loss rises ×1.8 (1.40e14 → 2.55e14) at t = 12; the allowance for a loss's
    rounding, 64 ulps × (1 + ‖w‖) relative, was ×28 there and the sweep said 1.  The oracle: the last t where L
    rises by ≥ 1e-6 relative in run_gd's loss, far above its rounding (L ≈ ‖w‖, so ~64 ulps relative)."""
    import numpy as np

    from eoscheck.datasets import toy
    from eoscheck.gd import run_gd

    for eta in (1e14, 1e15):
        L = run_gd(toy(), "logistic", [eta], 50).loss[0]
        want = int(np.flatnonzero(L[1:] > L[:-1] * (1 + 1e-6))[-1]) + 1
        got = sweep("toy", eta=[eta], steps=50, measure="last_increase", progress=False)["last_increase"].iloc[0]
        assert got == want and want >= 10


@pytest.mark.parametrize("kw, msg", [({"data": "thm3", "n": 5}, "n does not apply to data thm3"),
                                     ({"data": "sphere", "gamma": "0.3"}, "gamma does not apply to data sphere"),
                                     ({"measure": 5}, "measure must be a comma-separated string"),
                                     ({"scheduler_timeout": 1e10}, "scheduler_timeout")])
def test_python_sweep_refuses_options_the_data_does_not_read(kw, msg):
    """sweep("thm3", n=5, d=7) returned n = d = 2 without a word (the CLI refused it); measure=5 raised a bare
    TypeError; a scheduler timeout of 1e10 s overflowed time_t inside the queue, leaving a lock behind."""
    args = {"eta": [4.0], "steps": 5, "progress": False, **kw}
    with pytest.raises(EoscheckError, match=msg):
        sweep(**args)


def test_a_path_object_names_data_files(tmp_path):
    """sweep(data=pathlib.Path(...)) was refused: "…or a path to .npz files, got a PosixPath"."""
    import numpy as np

    from eoscheck.datasets import toy

    d = toy(normalized=True)
    np.savez(tmp_path / "one.npz", X=d.X, y=d.y)
    table = sweep(tmp_path / "one.npz", eta=[4.0], steps=5, progress=False)
    assert len(table) == 1 and table["n"].iloc[0] == 4


def test_a_measure_that_is_nan_everywhere_is_reported(tmp_path, capsys):
    """loss(10*n) at T = 60 with n ≥ 7 lies beyond the run: the whole column was NaN and the sweep exited 0 without
    a word.  Each measure's NaN rows are counted on stderr."""
    from eoscheck.cli import main

    assert main(["sweep", "--n", "7:12", "--d", "3", "--datasets", "2", "--eta", "4", "--steps", "60", "--measure",
                 "loss(10*n),final_loss", "--out", str(tmp_path / "o")]) == 0
    err = capsys.readouterr().err
    assert "measure loss(10*n) is NaN in 2 of 2 rows" in err and "final_loss is NaN" not in err


def test_small_input_hints_and_a_log_grid_of_a_billion_points():
    """--gamma 0.5:0.1 suggested "e.g. --gamma 4:32", itself refused; a log grid of 1e12 points on a 20-step run
    formed all of them (out of memory) where every step 0..20 is the grid."""
    import numpy as np

    from eoscheck.gdinputs import record_grid
    from eoscheck.sweeps.grid import Axis

    with pytest.raises(EoscheckError, match="e.g. --gamma 0.05:0.5"):
        Axis.parse("0.5:0.1", "gamma", False)
    assert np.array_equal(record_grid(20, "log", 10**12), np.arange(21))


def test_a_data_file_is_read_only_if_it_is_the_one_planned(tmp_path, monkeypatch):
    """A sweep over data files hashed them where it was planned and a worker re-opened them by their (relative)
    path: a worker started in another folder, with another x.npz there, ran that file's data, and the cache kept
    its rows under the planned file's key.  Paths are now absolute, and a task checks the file's digest."""
    import numpy as np

    from eoscheck.datasets import synthetic
    from eoscheck.sweeps.grid import DataSpec

    here, there = tmp_path / "A", tmp_path / "B"
    for folder, seed in ((here, 1), (there, 2)):
        (folder / "data").mkdir(parents=True)
        d = synthetic(20, 5, 0.2, seed=seed)
        np.savez(folder / "data" / "x.npz", X=d.X, y=d.y)
    monkeypatch.chdir(here)
    spec = DataSpec.parse("data/x.npz")
    assert Path(spec.files[0]).is_absolute()
    monkeypatch.chdir(there)                  # another process's working folder: the same absolute file
    data, _ = spec.dataset(0, 0)
    np.testing.assert_array_equal(data.X, synthetic(20, 5, 0.2, seed=1).X)
    (here / "data" / "x.npz").write_bytes((there / "data" / "x.npz").read_bytes())   # edited since it was planned
    with pytest.raises(EoscheckError, match="not the file the sweep was planned with"):
        spec.dataset(0, 0)


def _wrapped_interrupt(signum: int):
    """Sends this process ``signum`` inside a call that turns the KeyboardInterrupt raised there into another error,
    as a C extension does when the handler runs in a Python function it calls back (numba's _numba_unpickle: CI
    saw "SystemError: CPUDispatcher(<function chunk_values …>) returned a result with an exception set")."""
    try:
        os.kill(os.getpid(), signum)
        for _ in range(10_000):      # the handler runs at the next bytecode boundary
            pass
    except KeyboardInterrupt as err:
        raise SystemError("returned a result with an exception set") from err


def test_a_sigterm_wrapped_in_another_error_still_stops_the_sweep(monkeypatch, tmp_path):
    """SIGTERM landing in numba's unpickle callback came out as a SystemError: the sweep printed ~40 lines of
    traceback and exited 1, not 130 (a CI run of test_sigterm_stops_a_sweep_as_ctrl_c_does).  The task under way
    is lost (it never finished), the ones before it kept."""
    import eoscheck.sweeps.execute as ex

    ran: list[str] = []
    real = ex.run_task

    def run_task(task):
        ran.append(task.key)
        if len(ran) == 2:
            _wrapped_interrupt(signal.SIGTERM)
        return real(task)

    monkeypatch.setattr(ex, "run_task", run_task)
    before = signal.getsignal(signal.SIGTERM)
    with pytest.raises(KeyboardInterrupt):
        sweep("synthetic", **dict(SMALL, datasets=3), task_size=1, out=tmp_path / "s")
    assert [f.stem for f in (tmp_path / "s" / "tasks").glob("*.parquet")] == ran[:1]
    assert signal.getsignal(signal.SIGTERM) is before        # the sweep's handler is gone again


def test_a_ctrl_c_wrapped_in_another_error_is_an_interrupt_for_every_command(monkeypatch, capsys):
    """Outside a sweep Python's own SIGINT handler raises the KeyboardInterrupt; a C extension between it and the
    CLI turned it into a SystemError: a traceback and exit 1, not "interrupted" and 130."""
    import eoscheck.commands.bounds as command
    from eoscheck.cli import main

    monkeypatch.setattr(command, "run", lambda args: _wrapped_interrupt(signal.SIGINT))
    assert main(["bounds"]) == 130
    assert capsys.readouterr().err == "eoscheck bounds: interrupted\n"


def test_an_error_that_merely_mentions_an_interrupt_stays_an_error(monkeypatch):
    """Only an error raised while handling a KeyboardInterrupt (its cause or context) is read as one."""
    import eoscheck.commands.bounds as command
    from eoscheck.cli import main

    def fails(args):
        raise SystemError("KeyboardInterrupt")

    monkeypatch.setattr(command, "run", fails)
    with pytest.raises(SystemError):
        main(["bounds"])


def test_a_ctrl_c_wrapped_in_another_error_stops_the_report(monkeypatch, tmp_path, capsys):
    """The report turns a section's error into a FAILED part and goes on: a Ctrl-C that numba wrapped in a
    SystemError inside a part was reported as that part's failure, the rest of the report ran, and it exited 1 (a
    reviewer's run)."""
    import eoscheck.report.build as build
    from eoscheck.cli import main

    ran: list[str] = []

    class Section:
        TITLE = "a section whose part is interrupted"

        @staticmethod
        def run(ctx, sec):
            sec.part("a run", _wrapped_interrupt, signal.SIGINT)
            ran.append("the part after the Ctrl-C")

    monkeypatch.setattr(build, "SECTIONS", ((1, "descent", Section), build.SECTIONS[-1]))
    rc = main(["report", "--profile", "tiny", "--out", str(tmp_path / "r"), "--quiet", "--no-cache",
               "--cache-dir", str(tmp_path / "c")])
    assert (rc, ran) == (130, []) and capsys.readouterr().err.endswith("eoscheck report: interrupted\n")


def test_an_interrupt_is_found_through_either_link_of_the_chain():
    """An error raised from an unrelated cause while a Ctrl-C was handled still holds the Ctrl-C (its context);
    a chain that loops ends."""
    from eoscheck._errors import interrupt_inside

    try:
        try:
            raise KeyboardInterrupt
        except KeyboardInterrupt:
            raise SystemError("wrapped") from OSError("unrelated")
    except SystemError as err:
        wrapped = err
    assert isinstance(interrupt_inside(wrapped), KeyboardInterrupt)
    a, b = ValueError("a"), ValueError("b")
    a.__context__, b.__context__ = b, a
    assert interrupt_inside(a) is None
