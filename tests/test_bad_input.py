"""Bad-input corpus for ``eoscheck run``, ``eoscheck bounds`` and the data loaders (issue 14).

Every case must give exit code 2 and exactly one line on stderr, ``eoscheck CMD: error: …``, that
names what is wrong; no traceback, no warning printed before it (validation comes first), and
nothing written: the ``--out`` folder is not even created. The classes: files (corrupt, empty,
wrong encoding, wrong dtype or shape), numbers (overflow, NaN, ∞, ≤ 0, non-integers), paths
(file instead of folder, folder instead of file), resources (requests that cannot fit in memory)
and devices. Most cases run in-process (``main([...])``); a few run the console entry point in a
subprocess for the exit-code/one-line/no-traceback guarantee end to end.
"""

import gzip
import os
import signal
import struct
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pytest

from eoscheck.cli import main


def _one_line_error(rc, err, cmd="run"):
    lines = [ln for ln in err.splitlines() if ln.strip()]
    assert rc == 2, err
    assert len(lines) == 1, err
    assert lines[0].startswith(f"eoscheck {cmd}: error:"), err
    assert "Traceback" not in err
    return lines[0]


# --- files ------------------------------------------------------------------------------------

def _npz(path, **arrays):
    np.savez(path, **arrays)
    return path


def _idx_header(dtype_code, dims):
    return bytes([0, 0, dtype_code, len(dims)]) + struct.pack(">" + "I" * len(dims), *dims)


def _make_files(d):
    """name → (path, expected message fragment)."""
    X, y = np.array([[1.0, 0.2], [-1.0, -0.2]]), np.array([1.0, -1.0])
    files = {}

    def put(name, data, msg):
        p = d / name
        p.write_bytes(data) if isinstance(data, bytes) else p.write_text(data)
        files[name] = (p, msg)

    put("empty.npz", b"", "cannot read")
    put("corrupt.npz", b"PK\x03\x04" + os.urandom(64), "cannot read")
    put("random.npz", os.urandom(200), "cannot read")
    files["noX.npz"] = (_npz(d / "noX.npz", A=X, y=y), "must contain arrays named X and y")
    files["nofeatures.npz"] = (_npz(d / "nofeatures.npz", X=np.zeros((5, 0)), y=np.ones(5)), "no features")
    files["complex.npz"] = (_npz(d / "complex.npz", X=X + 1j, y=y), "complex")
    files["text.npz"] = (_npz(d / "text.npz", X=np.array([["a", "b"], ["c", "d"]]), y=y), "text")
    files["object.npz"] = (_npz(d / "object.npz", X=np.array([[1, None], [2, 3]], dtype=object), y=y),
                           "Python objects")
    files["shape.npz"] = (_npz(d / "shape.npz", X=X, y=np.ones(3)), "one label per row")
    files["nan.npz"] = (_npz(d / "nan.npz", X=np.array([[np.nan, 1.0], [1.0, 1.0]]), y=y), "NaN")
    put("latin1.csv", "x1,x2,y\n0.5,0.1,1\n0.2,\xe9,-1\n".encode("latin-1"), "not UTF-8")
    put("utf16.csv", "0.5,0.1,1\n0.2,0.3,-1\n".encode("utf-16"), "UTF-16")
    put("ragged.csv", "0.5,0.1,1\n0.2,-1\n", "columns")
    put("header_only.csv", "x1,x2,y\n", "no data rows")
    put("narrow_header.csv", "y,x1\n1,0.5,0.2\n-1,-0.5,-0.1\n", "the header has 2 names but the rows have 3")
    put("blank.csv", "\n\n", "empty")
    put("words.csv", "0.5,0.1,1\n0.2,abc,-1\n", "non-numeric")
    put("one_column.csv", "1\n-1\n", "feature column")
    put("labels.csv", "0.1,0.2,0\n0.2,0.3,1\n", "labels must be -1 or +1, found 0;")
    put("data.bin", b"\x00\x01", "unknown data file type")
    return files


def _make_idx(d):
    labels = d / "labels.idx"
    labels.write_bytes(_idx_header(0x08, [2]) + bytes([0, 8]))
    cases = {
        "truncated_header.idx": (_idx_header(0x08, [2, 2, 2])[:9], "truncated"),
        "ndim255.idx": (bytes([0, 0, 0x08, 255]) + b"\x00" * 16, "255 dimensions"),
        "gzip_garbage.idx": (b"\x1f\x8b" + os.urandom(40), "cannot read"),
        "bad_magic.idx": (b"\x12\x34\x08\x01" + b"\x00" * 8, "bad magic"),
        "short_data.idx": (_idx_header(0x08, [2, 2, 2]) + bytes(5), "truncated"),
        "gzip_short.idx": (gzip.compress(_idx_header(0x08, [2, 2, 2]) + bytes(3)), "truncated"),
        "empty.idx": (b"", "bad magic"),
        "labels_as_images.idx": (_idx_header(0x08, [2]) + bytes([0, 8]), "a labels file"),
    }
    out = {}
    for name, (data, msg) in cases.items():
        p = d / name
        p.write_bytes(data)
        out[name] = (p, msg)
    return labels, out


@pytest.fixture(scope="module")
def bad_files(tmp_path_factory):
    d = tmp_path_factory.mktemp("bad")
    files = _make_files(d)
    labels, idx = _make_idx(d)
    return d, files, labels, idx


FILE_CASES = ["empty.npz", "corrupt.npz", "random.npz", "noX.npz", "nofeatures.npz", "complex.npz", "text.npz",
              "object.npz", "shape.npz", "nan.npz", "latin1.csv", "utf16.csv", "ragged.csv", "header_only.csv",
              "narrow_header.csv", "blank.csv", "words.csv", "one_column.csv", "labels.csv", "data.bin"]


@pytest.mark.parametrize("name", FILE_CASES)
def test_bad_data_file(name, bad_files, tmp_path, capsys):
    _, files, _, _ = bad_files
    path, msg = files[name]
    out = tmp_path / "out"
    rc = main(["run", "--data", str(path), "--eta", "1", "--steps", "2", "--out", str(out), "--quiet"])
    line = _one_line_error(rc, capsys.readouterr().err)
    assert msg in line
    assert str(path.name) in line or "labels" in msg or "NaN" in msg or "label per row" in msg
    assert not out.exists()


IDX_CASES = ["truncated_header.idx", "ndim255.idx", "gzip_garbage.idx", "bad_magic.idx", "short_data.idx",
             "gzip_short.idx", "empty.idx"]


@pytest.mark.parametrize("name", IDX_CASES)
def test_bad_idx_file(name, bad_files, tmp_path, capsys):
    _, _, labels, idx = bad_files
    path, msg = idx[name]
    out = tmp_path / "out"
    rc = main(["run", "--data", "idx", "--images", str(path), "--labels", str(labels), "--eta", "1",
               "--steps", "2", "--out", str(out), "--quiet"])
    assert msg in _one_line_error(rc, capsys.readouterr().err)
    assert not out.exists()


def test_data_path_is_a_folder_or_missing(tmp_path, capsys):
    for data, msg in ((tmp_path, "is a folder"), (tmp_path / "missing.npz", "file not found")):
        rc = main(["run", "--data", str(data), "--out", str(tmp_path / "o"), "--quiet"])
        assert msg in _one_line_error(rc, capsys.readouterr().err)


# --- numbers and options ------------------------------------------------------------------------

NUMBER_CASES = [
    (["--eta", "2^10000"], "overflows float64"),
    (["--eta", "1e400"], "not finite"),
    (["--eta", "nan"], "not finite"),
    (["--eta", "inf"], "not finite"),
    (["--eta", "0"], "positive"),
    (["--eta=-2^3"], "positive"),
    (["--eta=-2^2"], "positive"),                                     # read as (−2)² = 4: ran η = 4
    (["--steps=-2^2"], "at least 1"),                                 # ran 4 steps
    (["--eta", "1,,abc"], "not a number"),
    (["--eta", ","], "at least one value"),
    (["--eta", "1,1,1"], "the stepsize 1 is given twice"),         # ran three identical rows
    (["--eta", "0.5,2^-1"], "the stepsize 2^-1 is given twice (as 0.5)"),
    (["--eta", "(-8)^(1/3)"], "not a number"),
    (["--steps", "0"], "at least 1"),
    (["--steps", "-5"], "at least 1"),
    (["--steps", "1.5"], "whole number"),
    (["--steps", "1e400"], "not finite"),
    (["--steps", "many"], "not a whole number"),
    (["--steps", "1e15", "--grid", "log"], "stepsize-steps, more than 1e+13"),    # started, and ran for years
    (["--grid", "log", "--grid-points", "-5"], "at least 2"),
    (["--grid", "log", "--grid-points", "0"], "at least 2"),
    (["--grid-points", "64"], "--grid log only"),
    (["--sharpness-every", "0"], "at least 1"),
    (["--sharpness-every", "-3"], "at least 1"),
    (["--width", "0"], "at least 1"),
    (["--seed", "-1"], "at least 0"),
    (["--device", "bogus"], "not a device"),
    (["--device", "cuda:99"], "CUDA device"),
    (["--loss", "nope"], "unknown loss"),
    (["--format", "gif"], "invalid choice"),
    (["--model", "mlp3", "--loss", "exponential"], "cross-entropy"),
    (["--n", "5"], "--n does not apply to --data toy"),  # would be silently ignored
    (["--gamma", "0.1"], "--gamma does not apply to --data toy"),
]


@pytest.mark.parametrize("argv,msg", NUMBER_CASES, ids=[" ".join(a) for a, _ in NUMBER_CASES])
def test_bad_number_or_option(argv, msg, tmp_path, capsys):
    out = tmp_path / "out"
    rc = main(["run", "--data", "toy", "--steps", "3", "--out", str(out), "--quiet", *argv])
    line = _one_line_error(rc, capsys.readouterr().err)  # one line: no data warning printed first
    assert msg in line
    assert not out.exists()


SYNTHETIC_CASES = [
    (["--n", "0"], "at least 1"),
    (["--d", "0"], "at least 1"),
    (["--n", "-1"], "at least 1"),
    (["--gamma", "nan"], "not finite"),
    (["--gamma", "2"], "gamma must lie in (0, 1]"),
    (["--gamma", "0"], "gamma must lie in (0, 1]"),
    (["--images", "x.idx"], "--images does not apply to --data synthetic"),
]


@pytest.mark.parametrize("argv,msg", SYNTHETIC_CASES, ids=[" ".join(a) for a, _ in SYNTHETIC_CASES])
def test_bad_synthetic_parameters_are_refused_not_replaced(argv, msg, tmp_path, capsys):
    rc = main(["run", "--data", "synthetic", "--steps", "3", "--out", str(tmp_path / "o"), "--quiet", *argv])
    assert msg in _one_line_error(rc, capsys.readouterr().err)


def test_thm3_gamma_outside_its_range(tmp_path, capsys):
    rc = main(["run", "--data", "thm3", "--gamma", "0.5", "--out", str(tmp_path / "o"), "--quiet"])
    assert "0 < gamma < 0.1" in _one_line_error(rc, capsys.readouterr().err)


BOUNDS_CASES = [
    (["thm1.tau", "--eta", "inf", "--n", "10", "--gamma", "0.1"], "not finite"),
    (["thm1.tau", "--eta", "nan", "--n", "10", "--gamma", "0.1"], "not finite"),
    (["thm1.tau", "--eta", "1e308", "--n", "10", "--gamma", "0.1"], "leaves the float64 range"),
    (["thm1.tau", "--eta", "2^10000", "--n", "10", "--gamma", "0.1"], "overflows float64"),
    (["thm1.tau", "--eta", "1", "--n", "10", "--gamma", "nan"], "not finite"),
    (["thm1.tau", "--eta", "1", "--n", "10", "--gamma", "0.1", "--set", "C1=nan"], "not finite"),
    (["thm1.tau", "--eta", "1", "--n", "10", "--gamma", "0.1", "--set", "C1"], "NAME=VALUE"),
    (["thm1.tau", "--eta", "1", "--n", "10", "--gamma", "0.1", "--set", "zzz=1"], "unknown parameter"),
    (["no.such.bound"], "no.such.bound"),
]


@pytest.mark.parametrize("argv,msg", BOUNDS_CASES, ids=[" ".join(a) for a, _ in BOUNDS_CASES])
def test_bad_bounds_input(argv, msg, capsys):
    rc = main(["bounds", *argv])
    captured = capsys.readouterr()
    assert msg in _one_line_error(rc, captured.err, "bounds")
    assert captured.out == ""


# --- paths --------------------------------------------------------------------------------------

def test_out_is_an_existing_file_or_under_one(tmp_path, capsys):
    f = tmp_path / "file"
    f.write_text("keep me")
    for out, msg in ((f, "is an existing file"), (f / "sub", "is a file")):
        rc = main(["run", "--data", "toy", "--steps", "3", "--out", str(out), "--quiet"])
        assert msg in _one_line_error(rc, capsys.readouterr().err)
    assert f.read_text() == "keep me"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes anywhere: permissions cannot be tested")
def test_out_not_writable(tmp_path, capsys):
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    try:
        rc = main(["run", "--data", "toy", "--steps", "3", "--out", str(ro / "x"), "--quiet"])
        assert "not writable" in _one_line_error(rc, capsys.readouterr().err)
    finally:
        ro.chmod(0o755)


def test_second_writer_is_refused(tmp_path, capsys):
    from eoscheck.outputs import OutputLock

    with OutputLock(tmp_path / "o"):
        rc = main(["run", "--data", "toy", "--steps", "3", "--out", str(tmp_path / "o"), "--quiet"])
        assert "another eoscheck process" in _one_line_error(rc, capsys.readouterr().err)
    assert not (tmp_path / "o" / "run.json").exists()


# --- resources ----------------------------------------------------------------------------------

EIGHT_GIB = 8.0 * 2**30

RESOURCE_CASES = [
    (["--data", "synthetic", "--n", "1e6", "--d", "2000"], "--n"),
    (["--data", "toy", "--steps", "1e9"], "--grid log"),
    (["--data", "toy", "--eta", "1,2,3,4", "--steps", "2^30"], "--grid log"),
    (["--data", "toy", "--model", "ntk", "--width", "1e9"], "--width"),
]


@pytest.mark.parametrize("argv,hint", RESOURCE_CASES, ids=[" ".join(a) for a, _ in RESOURCE_CASES])
def test_requests_that_cannot_fit_are_refused_up_front(argv, hint, tmp_path, capsys, monkeypatch):
    import eoscheck.resources as res

    monkeypatch.setattr(res, "available_memory", lambda: EIGHT_GIB)  # the 8 GiB limit
    t0 = time.perf_counter()
    rc = main(["run", "--out", str(tmp_path / "o"), "--quiet", *argv])
    line = _one_line_error(rc, capsys.readouterr().err)
    assert "of memory" in line and "8 GiB is available" in line and hint in line
    assert time.perf_counter() - t0 < 60  # refused, not attempted (a generous bound on a loaded machine)
    assert not (tmp_path / "o").exists()


@pytest.mark.parametrize("model", ["linear", "ntk", "mlp3"])
def test_the_python_api_refuses_runs_that_cannot_fit_before_allocating(model, monkeypatch):
    """run_gd/run_ntk/run_mlp3 check the records' memory as the CLI does: one EoscheckError, not numpy's
    MemoryError from a 10¹³-step grid (or a swap storm from one that nearly fits)."""
    import eoscheck.resources as res
    from eoscheck import EoscheckError, run_gd, toy
    from eoscheck.mlp import run_mlp3
    from eoscheck.networks import run_ntk

    monkeypatch.setattr(res, "available_memory", lambda: EIGHT_GIB)
    steps = 2**30      # every step recorded: the records alone hold 12 × 8 bytes × 2³⁰ = 96 GiB (one stepsize)
    run = {"linear": lambda: run_gd(toy(), "logistic", [4.0], steps),
           "ntk": lambda: run_ntk(toy(), "logistic", [4.0], steps, width=8),
           "mlp3": lambda: run_mlp3(None, [0.1], steps)}[model]
    with pytest.raises(EoscheckError, match=r"of memory .* but 8 GiB is available; record fewer steps"):
        run()


def test_huge_log_grid_request_gets_an_estimate():
    from eoscheck.cli import build_parser
    from eoscheck.commands.run import estimate

    args = build_parser(["run"]).parse_args(["run", "--data", "toy", "--steps", "1e12", "--grid", "log"])
    est = estimate(args, 3, (4, 2))
    line = est.line(available=EIGHT_GIB)
    assert "1,000,000,000,000 steps" in line and "work ≈" in line
    assert est.memory["records"] == 2 * 12 * 8 * 3 * 514  # 512 points + t = 0 and t = T, twice
    est.require(EIGHT_GIB)  # fits: it is refused by nothing but the user's patience


# --- end to end: the console entry point ----------------------------------------------------------

SUBPROCESS_CASES = [
    ["run", "--eta", "2^10000"],
    ["run", "--device", "bogus"],
    ["run", "--data", "{corrupt}"],
    ["bounds", "thm1.tau", "--eta", "nan"],  # refused while parsing: sympy is never imported
]


@pytest.mark.parametrize("argv", SUBPROCESS_CASES, ids=[a[0] + " " + a[-1] for a in SUBPROCESS_CASES])
def test_console_entry_point_one_line_exit_2(argv, bad_files, tmp_path):
    d, files, _, _ = bad_files
    argv = [a.format(corrupt=files["corrupt.npz"][0]) for a in argv]
    if argv[0] == "run":
        argv += ["--out", str(tmp_path / "o")]
    proc = subprocess.run([sys.executable, "-m", "eoscheck", *argv], capture_output=True, text=True, timeout=300)
    _one_line_error(proc.returncode, proc.stderr, argv[0])
    assert proc.stdout == ""
    assert not (tmp_path / "o").exists()


def _assert_group_gone(pgid, wait=10.0):
    t0 = time.perf_counter()
    while time.perf_counter() - t0 < wait:
        try:
            os.killpg(pgid, 0)
        except ProcessLookupError:
            return
        time.sleep(0.1)
    os.killpg(pgid, signal.SIGKILL)  # clean up before failing
    raise AssertionError(f"processes of the killed run (group {pgid}) are still running")


@pytest.mark.long
def test_killed_run_leaves_a_consistent_folder(tmp_path):
    """SIGKILL at several moments: afterwards the folder is empty, an interrupted set without run.json
    (which ``Trajectory.load`` refuses with one line), or one complete, matching set."""
    import hashlib
    import json

    from eoscheck import EoscheckError
    from eoscheck.trajectory import Trajectory

    out = tmp_path / "o"
    cmd = [sys.executable, "-m", "eoscheck", "run", "--data", "toy", "--eta", "1,2,4,8", "--steps", "20000",
           "--out", str(out), "--quiet"]
    for delay in (1.0, 3.0):
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
        time.sleep(delay)
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        _assert_group_gone(proc.pid)  # nothing of the run is left running
        if (out / "run.json").exists():
            meta = json.loads((out / "run.json").read_text())
            for name, digest in meta["files"].items():
                assert hashlib.sha256((out / name).read_bytes()).hexdigest() == digest
            assert Trajectory.load(out).K == 4
        elif (out / "trajectory.npz").exists():
            with pytest.raises(EoscheckError, match="interrupted"):
                Trajectory.load(out)
    # the next run cleans up what a killed one left and completes the set
    assert subprocess.run(cmd, capture_output=True, timeout=300).returncode == 0
    assert not [p for p in out.iterdir() if "eoscheck-tmp" in p.name]
    assert Trajectory.load(out).K == 4


def _api_cases():
    """(id, call, message) — the Python API's bad input: each one EoscheckError naming the argument
    (before: numpy's, torch's or Python's own exception from deep inside, or a silently wrong answer)."""
    import sympy as sp

    from eoscheck import Dataset, digits08, get_bound, get_loss, plot_fig1, run_gd, toy
    from eoscheck.losses import flat_poly

    tau = get_bound("thm1.tau")
    return [
        ("w0 NaN", lambda: run_gd(toy(), "logistic", [1.0], 5, w0=np.array([np.nan, 0.0])), "w0 must be finite"),
        ("w0 inf", lambda: run_gd(toy(), "logistic", [1.0], 5, w0=np.array([np.inf, 0.0])), "w0 must be finite"),
        ("w_star shape", lambda: run_gd(toy(), "logistic", [1.0], 5, w_star=np.zeros(5)), r"w_star must have shape \(2,\)"),
        ("steps NaN", lambda: run_gd(toy(), "logistic", [1.0], float("nan")), "steps must be a non-negative integer"),
        ("steps inf", lambda: run_gd(toy(), "logistic", [1.0], float("inf")), "steps must be a non-negative integer"),
        ("steps None", lambda: run_gd(toy(), "logistic", [1.0], None), "steps must be a non-negative integer"),
        ("etas text", lambda: run_gd(toy(), "logistic", "4,8", 5), "stepsizes must be a number or a sequence"),
        ("grid_points -3", lambda: run_gd(toy(), "logistic", [1.0], 50, grid="log", grid_points=-3),
         "grid_points must be a positive integer"),
        ("grid_points 0", lambda: run_gd(toy(), "logistic", [1.0], 50, grid="log", grid_points=0),
         "grid_points must be a positive integer"),
        ("device tpu", lambda: run_gd(toy(), "logistic", [1.0], 5, device="tpu"), "device"),
        ("loss None", lambda: run_gd(toy(), None, [1.0], 5), "a loss is a Loss or a built-in name"),
        ("data array", lambda: run_gd(np.ones((3, 2)), "logistic", [1.0], 5), "data must be an eoscheck Dataset"),
        ("get_loss 123", lambda: get_loss(123), "a loss is a Loss or a built-in name"),
        ("flat_poly x", lambda: flat_poly("x"), "flat_poly degree a must be a positive number, got 'x'"),
        ("ragged X", lambda: Dataset([[1, 2], [3]], [1, -1]), "rectangular"),
        ("complex X", lambda: Dataset(np.ones((2, 2)) + 1j, [1, -1]), "real numbers"),
        ("digits08 -1", lambda: digits08(n_per_class=-1), "n_per_class must be a positive integer"),
        ("get_bound None", lambda: get_bound(None), "a bound id is a string"),
        ("bound shapes", lambda: tau.evaluate(eta=np.array([1.0, 16.0, 100.0]), n=4, gamma=np.array([0.1, 0.2])),
         r"do not broadcast together \(eta \(3,\), gamma \(2,\)\)"),
        ("bound symbol", lambda: tau.evaluate(eta=sp.Symbol("x"), n=4, gamma=0.2), "eta must be a number"),
        ("bound outside domain", lambda: tau.evaluate(eta=-16, n=4, gamma=0.2, check=True),
         r"outside its domain \(η > 0\)"),
        ("figure .jpg", lambda: plot_fig1(run_gd(toy(), "logistic", [4.0], 20), path=Path(tempfile.gettempdir())
                                          / "eoscheck-never-written.jpg", offscreen=True),
         r"use a \.png, \.svg or \.pdf name"),      # PNG bytes were written under the .jpg name
    ]


@pytest.mark.parametrize("case", range(len(_api_cases())), ids=[c[0] for c in _api_cases()])
def test_python_api_bad_input_is_one_eoscheck_error(case):
    from eoscheck import EoscheckError

    _, call, message = _api_cases()[case]
    with pytest.raises(EoscheckError, match=message):
        call()


def test_bound_evaluate_without_check_keeps_the_formula_value_outside_the_domain():
    """check=False (the default) keeps returning the formula's value, which the report's curves use;
    the domain is then the caller's to check (check_domain / in_domain)."""
    from eoscheck import get_bound

    tau = get_bound("thm1.tau")
    assert np.isfinite(tau.evaluate(eta=-16, n=4, gamma=0.2))
    assert tau.check_domain(eta=-16, n=4, gamma=0.2).violated == ["η > 0"]
    assert tau.evaluate(eta=16, n=4, gamma=0.2, check=True) == tau.evaluate(eta=16, n=4, gamma=0.2)


def _run(out, *extra):
    return main(["run", "--data", "toy", "--eta", "1", "--steps", "5", "--out", str(out), "--quiet", *extra])


def test_run_never_replaces_files_it_did_not_write(tmp_path, capsys):
    """A folder with the user's own run.json, trajectory.npz and fig1.pdf: `run` replaced the first two and
    deleted the third.  Refused now, with the files untouched; an earlier run's folder is still replaced."""
    user = tmp_path / "user"
    user.mkdir()
    for name, data in (("run.json", b'{"mine": 1}'), ("trajectory.npz", b"not ours"), ("fig1.pdf", b"%PDF")):
        (user / name).write_bytes(data)
    before = {p.name: p.read_bytes() for p in user.iterdir()}
    assert _run(user) == 2
    line = _one_line_error(2, capsys.readouterr().err)
    assert "which a run did not write" in line and "run.json" in line
    assert {p.name: p.read_bytes() for p in user.iterdir()} == before
    ours = tmp_path / "ours"
    assert _run(ours) == 0 and _run(ours, "--format", "svg") == 0    # an earlier run's set: replaced
    assert (ours / "fig1.svg").exists() and not (ours / "fig1.png").exists()
    (ours / "fig1.pdf").write_bytes(b"%PDF")                          # a figure the run.json does not list
    assert _run(ours) == 2 and (ours / "fig1.pdf").read_bytes() == b"%PDF"
    capsys.readouterr()


def test_run_into_an_empty_path_is_refused(tmp_path, capsys, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _run("") == 2
    assert "empty path" in _one_line_error(2, capsys.readouterr().err)
    assert not list(tmp_path.iterdir())


def test_whole_numbers_are_read_exactly_and_float_forms_beyond_2_53_refused():
    """`--seed 9007199254740993` was read through float as …992 (the same data as seed …992, and run.json recorded
    a seed the user did not type)."""
    import argparse

    from eoscheck.commands._arguments import count_at_least

    seed = count_at_least(0)
    assert seed("9007199254740993") == 9007199254740993 and seed("2^20") == 2**20 and seed("1e6") == 10**6
    # "abc" suggested writing 0.25 or 1e-3, neither of which a count takes
    for bad, says in (("1e300", r"beyond 2\^53"), ("-1", "at least 0"), ("2.5", "not a whole number"),
                      ("abc", r"^'abc' is not a whole number; write e\.g\. 0, 42, 1e6 or 2\^20$")):
        with pytest.raises(argparse.ArgumentTypeError, match=says):
            seed(bad)


@pytest.mark.parametrize("argv, says", [
    (["--gamma", "5"], "--gamma does not apply to --model mlp3, which takes no data options"),
    (["--data", "idx", "--images", "a", "--labels", "b", "--n", "3"], "takes only --images, --labels")])
def test_mlp3_refuses_data_options_it_would_ignore(argv, says, tmp_path, capsys):
    """`run --model mlp3 --gamma 5 --d 3 --images /nonexist` ran as if they were not there (exit 0)."""
    rc = main(["run", "--model", "mlp3", "--eta", "0.1", "--steps", "3", "--out", str(tmp_path / "o"), *argv])
    assert says in _one_line_error(rc, capsys.readouterr().err)
    assert not (tmp_path / "o").exists()


def test_mlp3_refuses_idx_images_with_nan(tmp_path, capsys):
    """NaN pixels trained to NaN and crashed in the plot (exit 1, a traceback)."""
    import struct

    img, lab = tmp_path / "img.idx", tmp_path / "lab.idx"
    img.write_bytes(struct.pack(">BBBBIII", 0, 0, 0x0D, 3, 2, 2, 2) + struct.pack(">8f", *([float("nan")] * 8)))
    lab.write_bytes(struct.pack(">BBBBI", 0, 0, 0x08, 1, 2) + bytes([1, 2]))
    rc = main(["run", "--model", "mlp3", "--data", "idx", "--images", str(img), "--labels", str(lab), "--eta", "0.1",
               "--steps", "3", "--out", str(tmp_path / "o")])
    assert "NaN or infinite pixels" in _one_line_error(rc, capsys.readouterr().err)


@pytest.mark.parametrize("argv, says", [
    (["audit-loss", "flat_poly:a=2", "--param", "a=3"], "loss parameter a given twice"),
    (["run", "--data", "toy", "--loss", "flat_poly:a=2,a=3", "--eta", "1", "--steps", "2"], "given twice in"),
    (["bounds", "thm1.tau", "--eta", "16", "--set", "eta=3", "--n", "4", "--gamma", "0.1"], "eta given twice"),
    (["bounds", "--latex", "--json"], "choose one")])
def test_conflicting_options_are_refused_not_silently_resolved(argv, says, tmp_path, capsys):
    """a = 2 won over --param a=3, the last of a=2,a=3 won, --set eta=3 won over --eta 16, --json over --latex:
    each without a word."""
    if argv[0] == "run":
        argv = [*argv, "--out", str(tmp_path / "o")]
    rc = main(argv)
    assert says in _one_line_error(rc, capsys.readouterr().err, argv[0])


def test_a_bad_progress_setting_is_named(tmp_path, capsys, monkeypatch):
    monkeypatch.setenv("EOSCHECK_PROGRESS", "banana")
    rc = main(["run", "--data", "toy", "--eta", "1", "--steps", "2", "--out", str(tmp_path / "o")])
    assert "EOSCHECK_PROGRESS='banana'" in _one_line_error(rc, capsys.readouterr().err)


def test_a_value_starting_with_a_minus_gets_a_hint(capsys):
    """`conjecture ... --eta -1:5` said only "expected one argument": argparse reads -1:5 as an option."""
    from eoscheck.cli import main

    assert main(["conjecture", "loss(t) <= 1", "--eta", "-1:5"]) == 2
    err = capsys.readouterr().err.strip()
    assert "argument --eta: expected one argument (a value starting with '-' is written --eta=VALUE, e.g. " \
           "--eta=-1)" in err and len(err.splitlines()) == 1
    assert main(["conjecture", "loss(t) <= 1", "--eta=-1:5"]) == 2      # the value reaches its own check
    assert "--eta needs 0 < LO ≤ HI" in capsys.readouterr().err


@pytest.mark.long
def test_an_option_value_starting_with_a_dash_is_refused_not_renamed(tmp_path, capsys, monkeypatch):
    """``--out -myrun`` wrote into the folder " -myrun" (and ``check -o -res.json`` into " -res.json"): the rewrite
    that lets a formula start with a minus (``audit-loss -log(...)``) took option values for formulas.  argparse
    now sees the value as typed and refuses it in one line; the formula still reads as one."""
    monkeypatch.chdir(tmp_path)
    rc = main(["run", "--data", "toy", "--eta", "1", "--steps", "3", "--quiet", "--out", "-myrun"])
    assert "argument --out: expected one argument" in _one_line_error(rc, capsys.readouterr().err)
    rc = main(["check", "lemma9.perceptron_step", "-o", "-res.json"])
    assert "argument -o/--output: expected one argument" in _one_line_error(rc, capsys.readouterr().err, "check")
    assert sorted(p.name for p in tmp_path.iterdir()) == []
    assert main(["audit-loss", "-log(1/(1+exp(-z)))", "--no-symbolic"]) == 0
    # a formula-valued option's value still reads as a formula (--where COND, --eta-of-T EXPR)
    rc = main(["conjecture", "loss(T) <= 1e9", "--where", "-eta<=-1", "--eta-of-T", "-(-gamma**2*T/120)",
               "--effort", "smoke", "--save", str(tmp_path / "w")])
    assert rc == 0, capsys.readouterr().err


def test_a_full_disk_loses_nothing_and_says_so_in_one_line(tmp_path, capsys, monkeypatch):
    """A run into a folder on a full disk: a traceback (exit 1), and the earlier run's run.json and figure deleted
    before the new files failed to fit.  Now every new file is written in full before any earlier one is touched:
    the earlier set is left whole, no temporary is left, and the error is one line naming the file (exit 2)."""
    import errno

    out = tmp_path / "r"
    assert main(["run", "--data", "toy-normalized", "--eta", "1", "--steps", "20", "--out", str(out), "--format", "svg",
                 "--quiet"]) == 0
    capsys.readouterr()
    before = {p.name: p.read_bytes() for p in out.iterdir()}

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    rc = main(["run", "--data", "toy-normalized", "--eta", "1,2", "--steps", "60", "--out", str(out), "--quiet"])
    line = _one_line_error(rc, capsys.readouterr().err)
    assert "No space left on device" in line and str(out / "trajectory.npz") in line
    assert {p.name: p.read_bytes() for p in out.iterdir()} == before


def test_a_witness_that_cannot_be_saved_does_not_hide_its_verdict(tmp_path, capsys, monkeypatch):
    """A conjecture's witness folder on a full disk: a traceback, and the FALSIFIED verdict it had found never
    printed (an empty ``.tmp`` file left).  Now the verdict prints (exit 1), says why no file was saved, and the
    folder holds nothing."""
    import errno

    def full(fd):
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    monkeypatch.setattr(os, "fsync", full)
    rc = main(["conjecture", "loss(T) <= 1e-9", "--effort", "smoke", "--save", str(tmp_path / "w")])
    out = capsys.readouterr().out
    assert rc == 1 and "FALSIFIED" in out and "the witness could not be saved in" in out
    assert not any((tmp_path / "w").iterdir())
