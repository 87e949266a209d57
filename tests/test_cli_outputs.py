"""``eoscheck run`` outputs: divergence is data (table, figure, exit 0), --json on stdout, --format,
provenance in run.json, and the plotting API (no backend chosen at import, ``ax=``, Figure returned)."""

import json
import subprocess
import sys

import numpy as np
import pytest

from eoscheck.cli import main
from eoscheck.trajectory import Trajectory

MAGIC = {"png": b"\x89PNG\r\n\x1a\n", "svg": b"<?xml", "pdf": b"%PDF"}


@pytest.mark.parametrize("argv,diverged", [
    # exp(-margin) overflows float64 at the first step: η = 1e5 on the toy set (issue 14)
    (["--data", "toy", "--loss", "exponential", "--eta", "1e5", "--steps", "100"], [1e5]),
    # non-separable data with the exponential loss: η = 100 overflows, η = 1 does not
    (["--data", "{nonsep}", "--loss", "exponential", "--eta", "1,100", "--steps", "200"], [100.0]),
    # X scaled by 1e300: the margins overflow at once, whatever η
    (["--data", "{huge}", "--eta", "1,100", "--steps", "50"], [1.0, 100.0]),
])
def test_divergence_is_reported_plotted_and_exits_0(argv, diverged, tmp_path, capsys):
    np.savez(tmp_path / "nonsep.npz", X=np.array([[1.0, 0.0], [-1.0, 0.0], [0.5, 0.1]]), y=np.array([1.0, 1.0, -1.0]))
    toy_X = np.array([[1.0, 0.2], [-2.0, 0.2], [-1.0, -0.2], [2.0, -0.2]])
    np.savez(tmp_path / "huge.npz", X=toy_X * 1e300, y=np.array([1.0, 1.0, -1.0, -1.0]))
    argv = [a.format(nonsep=tmp_path / "nonsep.npz", huge=tmp_path / "huge.npz") for a in argv]
    out = tmp_path / "run"
    rc = main(["run", *argv, "--out", str(out), "--quiet"])
    text = capsys.readouterr()
    assert rc == 0, text.err
    assert "Traceback" not in text.err
    assert "diverged: η = " + ", ".join(f"{e:g}" for e in diverged) in text.out
    traj = Trajectory.load(out)
    np.testing.assert_array_equal(traj.eta[traj.diverged], diverged)
    assert (out / "fig1.png").read_bytes()[:8] == MAGIC["png"]


def test_json_prints_the_summary_on_stdout(tmp_path, capsys):
    rc = main(["run", "--data", "toy-normalized", "--loss", "exponential", "--eta", "0.5,1e5", "--steps", "50",
               "--out", str(tmp_path), "--quiet", "--json"])
    assert rc == 0
    doc = json.loads(capsys.readouterr().out)  # stdout holds only the JSON document
    assert [r["eta"] for r in doc["rows"]] == [0.5, 1e5]
    assert doc["diverged_etas"] == [1e5]
    assert doc["rows"][1]["final loss"] == "nan"  # non-finite numbers as strings: valid JSON
    assert {p.rsplit("/", 1)[1] for p in doc["files"]} == {"trajectory.npz", "run.json", "fig1.png"}


@pytest.mark.parametrize("fmt", ["svg", "pdf"])
def test_figure_formats(fmt, tmp_path, capsys):
    assert main(["run", "--data", "toy", "--eta", "4", "--steps", "20", "--out", str(tmp_path),
                 "--format", fmt]) == 0  # not --quiet: the estimate line and the labelled phases run too
    assert "estimate for 1 stepsize(s) × 20 steps on 4 × 2 data" in capsys.readouterr().err
    assert (tmp_path / f"fig1.{fmt}").read_bytes()[:5].startswith(MAGIC[fmt][:4])
    assert not (tmp_path / "fig1.png").exists()


def test_run_json_records_provenance_and_matching_hashes(tmp_path, capsys):
    import hashlib

    argv = ["run", "--data", "toy", "--eta", "4", "--steps", "20", "--out", str(tmp_path), "--quiet"]
    assert main(argv) == 0
    meta = json.loads((tmp_path / "run.json").read_text())
    prov = meta["provenance"]
    assert prov["command"] == ["eoscheck", *argv]
    assert prov["source"]["version"]
    # in a checkout the commit is the checkout's HEAD (40 hex digits); installed, it is None
    commit = prov["source"]["commit"]
    assert commit is None or (len(commit) == 40 and int(commit, 16) >= 0)
    assert isinstance(prov["threadpools"], list)
    for name, digest in meta["files"].items():
        assert hashlib.sha256((tmp_path / name).read_bytes()).hexdigest() == digest


def test_commit_is_that_of_the_checkout():
    from pathlib import Path

    import eoscheck
    from eoscheck.provenance import source

    here = Path(eoscheck.__file__).resolve().parent
    head = subprocess.run(["git", "-C", str(here), "rev-parse", "HEAD"], capture_output=True, text=True)
    if head.returncode != 0:
        pytest.skip("not a git checkout")
    assert source()["commit"] == head.stdout.strip()


def test_mismatched_pair_is_refused(tmp_path, capsys):
    from eoscheck import EoscheckError

    for name in ("a", "b"):
        assert main(["run", "--data", "toy", "--eta", "4" if name == "a" else "8", "--steps", "10",
                     "--out", str(tmp_path / name), "--quiet"]) == 0
    (tmp_path / "a" / "trajectory.npz").write_bytes((tmp_path / "b" / "trajectory.npz").read_bytes())
    with pytest.raises(EoscheckError, match="does not match"):
        Trajectory.load(tmp_path / "a")


def test_plotting_selects_no_backend_at_import():
    code = ("import matplotlib; matplotlib.use('svg'); import eoscheck.plotting; "
            "import matplotlib.pyplot as plt; print(matplotlib.get_backend())")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "svg", out.stderr


def test_plot_fig1_draws_into_given_axes_and_returns_the_figure():
    import matplotlib
    from matplotlib.figure import Figure

    from eoscheck import run_gd, toy
    from eoscheck.plotting import plot_fig1

    traj = run_gd(toy(), "logistic", [4.0, 8.0], 64)
    fig = Figure()
    ax = fig.subplots(1, 2)
    assert plot_fig1(traj, ax=ax) is fig
    assert len(ax[0].get_lines()) == 2 and len(ax[1].get_lines()) == 2
    np.testing.assert_array_equal(ax[0].get_lines()[1].get_ydata(), traj.loss[1][1:])  # t = 0 is off the log axis
    single = Figure().subplots()
    assert plot_fig1(traj, ax=single) is single.figure and len(single.get_lines()) == 2
    own = plot_fig1(traj, offscreen=True)
    assert isinstance(own, Figure) and len(own.axes) == 2
    assert matplotlib.get_backend()  # unchanged by the calls (no matplotlib.use anywhere)


def test_fig1_legend_of_32_stepsizes_stays_inside_the_figure_and_off_the_panels():
    """32 stepsizes: the legend inside panel (a) ran off the figure's bottom (~10 entries lost) and covered the curves."""
    from eoscheck import run_gd, toy
    from eoscheck.plotting import plot_fig1

    etas = list(np.geomspace(0.1, 100.0, 32))
    fig = plot_fig1(run_gd(toy(), "logistic", etas, 16), offscreen=True)
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    canvas = FigureCanvasAgg(fig)
    canvas.draw()                                       # lays the figure out (constrained layout)
    r = canvas.get_renderer()
    legends = fig.legends + [a.get_legend() for a in fig.axes if a.get_legend() is not None]
    assert len(legends) == 1 and len(legends[0].get_texts()) == 32
    box, page = legends[0].get_window_extent(r), fig.bbox
    assert page.x0 <= box.x0 and box.x1 <= page.x1 and page.y0 <= box.y0 and box.y1 <= page.y1
    assert not any(box.overlaps(a.get_window_extent(r)) for a in fig.axes)
    assert "η = 0.125" in [t.get_text() for t in legends[0].get_texts()]   # 4 significant digits, not 0.124961


def test_fig1_of_many_stepsizes_has_a_colour_bar_of_eta_and_no_legend():
    """200 stepsizes: a 200-entry legend collapsed the panels (matplotlib's "constrained_layout not applied"
    warning on stderr, the curves hidden); 20,000 plotted for minutes.  Above LEGEND_MAX the curves are coloured
    by log η with a colour bar, one line collection a panel; the warning is an error here."""
    import warnings

    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.collections import LineCollection, QuadMesh

    from eoscheck import run_gd, toy
    from eoscheck.plotting import LEGEND_MAX, plot_fig1

    etas = list(np.geomspace(0.1, 100.0, 200))
    traj = run_gd(toy(normalized=True), "logistic", etas, 16)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        fig = plot_fig1(traj, offscreen=True)
        FigureCanvasAgg(fig).draw()
    assert traj.K > LEGEND_MAX and not fig.legends and all(a.get_legend() is None for a in fig.axes[:2])
    bars = [a for a in fig.axes[2:] if "200 stepsizes" in a.get_ylabel()]
    assert len(bars) == 1 and bars[0].get_ylim() == pytest.approx((0.1, 100.0))
    for a in fig.axes[:2]:
        (lc,) = [c for c in a.collections if isinstance(c, LineCollection)]
        assert len(lc.get_segments()) == 200
        # the colour follows η: the curve of the largest η has the colour bar's top colour
        (mesh,) = [c for c in bars[0].collections if isinstance(c, QuadMesh)]
        np.testing.assert_allclose(lc.get_colors()[-1], mesh.cmap(1.0), atol=1e-12)


def test_run_json_is_strict_json_even_with_infinite_values(tmp_path):
    """`width_required: Infinity` (--model ntk) and `"scale": Infinity` were bare Infinity: not JSON."""
    import json

    from eoscheck.provenance import strict_json

    text = strict_json({"a": float("inf"), "b": [float("-inf"), float("nan")], "c": 1.5})

    def refuse(token):
        raise ValueError(token)

    assert json.loads(text, parse_constant=refuse) == {"a": "inf", "b": ["-inf", "nan"], "c": 1.5}
    from eoscheck.cli import main

    X = np.array([[1e-310, 0.0], [0.0, 1e-310]])              # subnormal: --normalize scales by 1/1e-310 = inf
    np.savez(tmp_path / "tiny.npz", X=X, y=np.array([1.0, -1.0]))
    rc = main(["run", "--data", str(tmp_path / "tiny.npz"), "--normalize", "--eta", "1", "--steps", "3",
               "--out", str(tmp_path / "o"), "--quiet"])
    assert rc == 0                                              # the data are usable, the scale is recorded as "inf"
    run = (tmp_path / "o" / "run.json").read_text()
    json.loads(run, parse_constant=refuse)
    assert '"scale": "inf"' in run


def test_a_loss_beyond_float64_is_said_with_its_log(tmp_path, capsys):
    """flat_exp(a = 10³⁰⁰) on the normalized toy set: L(w₁) = e^1377 overflows float64 while the iterates stay
    finite; the table showed "max loss inf" and "diverged: no" with no word on it.  The log the records keep is
    printed beside it; a run whose loss stays in range prints no such line."""
    import re

    argv = ["run", "--data", "toy-normalized", "--eta", "0.25,1000", "--steps", "30", "--quiet"]
    assert main(argv + ["--loss", "flat_exp:a=1e300", "--out", str(tmp_path / "a")]) == 0
    out = capsys.readouterr().out
    assert re.search(r"max loss inf: L\(w_t\) beyond float64 .*η = 0\.25: ln L = 13\d\d\.\d+ at step 1", out), out
    assert main(argv + ["--out", str(tmp_path / "b")]) == 0
    assert "beyond float64" not in capsys.readouterr().out
