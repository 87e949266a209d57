"""``eoscheck run`` end to end, and clear one-line errors (exit 2) for bad input."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eoscheck.cli import main
from eoscheck.trajectory import Trajectory


def test_run_writes_trajectory_json_plot_and_table(tmp_path, capsys):
    out = tmp_path / "run"
    rc = main(["run", "--data", "toy", "--eta", "4,8", "--steps", "200", "--out", str(out), "--quiet"])
    assert rc == 0
    text = capsys.readouterr()
    assert "last increase" in text.out and "warning: max ||x_i||" in text.err
    traj = Trajectory.load(out)
    assert traj.loss.shape == (2, 201)
    meta = json.loads((out / "run.json").read_text())
    assert meta["config"]["dataset"]["name"] == "toy"
    assert {"versions", "machine", "seed"} <= set(meta["provenance"])
    assert (out / "fig1.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    with np.load(out / "trajectory.npz") as f:
        assert {"eta", "step", "loss"} <= set(f.files)


def test_powers_of_two_and_normalize(tmp_path, capsys):
    rc = main(["run", "--data", "toy", "--normalize", "--eta", "2^-2,2^3", "--steps", "5", "--out", str(tmp_path),
               "--quiet"])
    assert rc == 0
    assert "warning" not in capsys.readouterr().err
    np.testing.assert_allclose(Trajectory.load(tmp_path).eta, [0.25, 8.0])


def test_non_separable_data_are_said_and_a_rerun_keeps_one_figure(tmp_path, capsys):
    """Data outside Assumption 1B ran with no word (only run.json said separable: false); a rerun in
    another --format left the first run's figure beside the new one."""
    f = tmp_path / "nonsep.npz"
    np.savez(f, X=np.array([[1.0, 0.0], [1.0, 0.0]]), y=np.array([1.0, -1.0]))
    out = tmp_path / "run"
    assert main(["run", "--data", str(f), "--steps", "20", "--out", str(out), "--quiet", "--format", "svg"]) == 0
    assert "is not linearly separable through the origin" in capsys.readouterr().err
    assert main(["run", "--data", "toy", "--normalize", "--steps", "20", "--out", str(out), "--quiet"]) == 0
    assert "separable" not in capsys.readouterr().err
    assert sorted(p.name for p in out.glob("fig1.*")) == ["fig1.png"]


@pytest.mark.parametrize("argv,msg", [
    (["--data", "missing.npz"], "file not found"),
    (["--width", "64"], "--width applies to --model ntk only"),       # was accepted and ignored
    (["--eta", "-1"], "positive"),
    (["--eta", "abc"], "not a number"),
    (["--loss", "nope"], "unknown loss"),
    (["--data", "what"], "unknown dataset"),
    (["--data", "mnist08"], "--images"),
    (["--steps", "0"], "at least 1"),
])
def test_bad_input_exits_2_with_one_line(argv, msg, tmp_path, capsys):
    rc = main(["run", "--data", "toy", "--steps", "3", "--out", str(tmp_path), "--quiet"] + argv if argv[0] != "--data"
              else ["run", "--steps", "3", "--out", str(tmp_path), "--quiet"] + argv)
    err = capsys.readouterr().err.strip().splitlines()
    assert rc == 2
    assert msg in err[-1] and err[-1].startswith("eoscheck run: error:")


def test_bad_data_files(tmp_path, capsys):
    (tmp_path / "nan.csv").write_text("0.1,nan,1\n0.2,0.3,-1\n")
    (tmp_path / "labels.csv").write_text("0.1,0.2,0\n0.2,0.3,1\n")
    for name, msg in (("nan.csv", "NaN"), ("labels.csv", "labels must be -1 or +1")):
        rc = main(["run", "--data", str(tmp_path / name), "--steps", "3", "--out", str(tmp_path / "o"), "--quiet"])
        assert rc == 2 and msg in capsys.readouterr().err


def test_console_script_runs_without_traceback(tmp_path):
    proc = subprocess.run([sys.executable, "-m", "eoscheck", "run", "--eta", "0", "--out", str(tmp_path)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    assert proc.stderr.strip().splitlines()[-1] == "eoscheck run: error: stepsizes must be positive and finite, got 0"


def test_normalize_is_refused_where_mlp3_scales_its_own_images(tmp_path, capsys):
    """`run --model mlp3 --normalize` ran with the flag silently ignored (the same data hash as without it): the
    3-layer experiment scales its images itself (pixels/16 or /255)."""
    out = tmp_path / "x"
    assert main(["run", "--quiet", "--model", "mlp3", "--steps", "1", "--eta", "0.1", "--normalize",
                 "--out", str(out)]) == 2
    assert "--normalize does not apply to --model mlp3" in capsys.readouterr().err and not out.exists()


def test_a_run_that_stops_at_step_0_is_saved_with_its_figure(tmp_path, capsys):
    """Every stepsize left the float64 range at step 0 (two points at 1e308, the exponential loss): nothing was
    drawn at t ≥ 1, the x axis kept its default limits around 0, and the log scale raised while the figure was
    built — a traceback, and the run was lost (it is saved with its figure)."""
    data = tmp_path / "huge.csv"
    data.write_text("1e308,1\n1e308,1\n")
    out = tmp_path / "o"
    rc = main(["run", "--data", str(data), "--loss", "exponential", "--eta", "1", "--steps", "10", "--quiet",
               "--out", str(out)])
    assert rc == 0 and (out / "fig1.png").stat().st_size > 0
    assert Trajectory.load(out).stats["diverged_at"][0] == 0
