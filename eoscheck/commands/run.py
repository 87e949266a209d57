"""``eoscheck run``: GD on one dataset for a list of stepsizes; writes the trajectory, a plot and a table.

Order of work: every option is validated first (numbers, ranges, device, loss, output folder), then
the memory the request needs is estimated and a request that does not fit is refused, then the
output folder is locked (one writer), the data are loaded, GD runs, and the files are written
(``trajectory.npz``, ``fig1.<format>``, then ``run.json`` last, which lists the others' hashes: a
folder with a ``run.json`` always holds one run's complete set). A diverged stepsize is data: it is
reported in the table (``diverged at step t``) and marked on the figure, and the exit code is 0.
"""

from __future__ import annotations

import json
import sys

from .._errors import EoscheckError
from ..datasets import UNIT_BALL, get_dataset
from ._arguments import check_device, count_at_least, finite_float, parse_floats

NAME = "run"
HELP = "run GD for several stepsizes, save trajectory.npz + run.json + fig1.png, print a summary"

FORMATS = ("png", "svg", "pdf")


def add_data_arguments(p) -> None:
    """The dataset options shared by the commands that run GD."""
    p.add_argument("--data", default=None,
                   help="toy, toy-normalized, thm3, synthetic, digits08 (default), mnist08, idx, or a .npz/.csv file")
    p.add_argument("--images", help="idx images file for --data mnist08/idx")
    p.add_argument("--labels", help="idx labels file for --data mnist08/idx")
    p.add_argument("--gamma", type=finite_float, help="margin for thm3/synthetic data")
    p.add_argument("--n", type=count_at_least(1), help="samples for synthetic data (or the first n of idx data)")
    p.add_argument("--d", type=count_at_least(1), help="dimension for synthetic data")
    p.add_argument("--seed", type=count_at_least(0), default=0,
                   help="seed for synthetic data and network initialisation")
    p.add_argument("--normalize", action="store_true", help="scale the data so that max ||x_i|| = 1")


def load_data(args):
    """The dataset named by :func:`add_data_arguments` options (normalized on request)."""
    data = get_dataset(args.data or "digits08", gamma=args.gamma, n=args.n, d=args.d, seed=args.seed,
                       images=args.images, labels=args.labels)
    if args.normalize:
        data = data.normalize()
    elif not data.max_norm <= UNIT_BALL:
        print(f"warning: max ||x_i|| = {data.max_norm:.4g} > 1, outside Assumption 1A; the data are used as "
              "given (add --normalize to rescale)", file=sys.stderr)
    return data


def add_arguments(p) -> None:
    add_data_arguments(p)
    p.add_argument("--loss", default="logistic", help="built-in loss, e.g. logistic, exponential, flat_poly:a=2")
    p.add_argument("--eta", default="2^-2,1,4", help="comma-separated stepsizes (default 2^-2,1,4)")
    p.add_argument("--steps", type=count_at_least(1), default=10_000,
                   help="number of GD steps T (default 10000; 1e6 and 2^20 are accepted)")
    p.add_argument("--model", choices=("linear", "ntk", "mlp3"), default="linear", help="model (default linear)")
    p.add_argument("--width", type=count_at_least(1), help="NTK width m (--model ntk; default 1024, run_ntk's)")
    p.add_argument("--device", default="cpu", help="cpu, cuda or cuda:N")
    p.add_argument("--grid", choices=("all", "log"), default="all", help="record every step or a log grid")
    p.add_argument("--grid-points", type=count_at_least(2), default=None, help="points of the log grid (default 512)")
    p.add_argument("--sharpness-every", type=count_at_least(1), default=None,
                   help="record the sharpness every k steps (default: off; 10 for --model mlp3)")
    p.add_argument("--out", default="runs/latest", help="output folder (default runs/latest)")
    p.add_argument("--format", choices=FORMATS, default="png", help="figure format (default png)")
    p.add_argument("--json", action="store_true", help="print the summary as JSON on stdout instead of the table")
    p.add_argument("--quiet", action="store_true", help="no progress bar and no estimate line")


def _sharp_points(args, steps: int) -> int:
    from ..gdinputs import checkpoint_points

    return checkpoint_points(steps, args.sharpness_every or (10 if args.model == "mlp3" else 0))


def _data_shape(args) -> tuple[int, int] | None:
    """(n, d) of the requested data when known before loading it (synthetic and the built-in sets)."""
    if args.model == "mlp3" and args.data is None:
        return (1000, 64)  # the 3-layer experiment's default: 1,000 digits of 8×8 pixels
    name = args.data or "digits08"
    if name == "synthetic":
        return (args.n or 100, args.d or 10)
    return {"toy": (4, 2), "toy-normalized": (4, 2), "thm3": (2, 2), "digits08": (352, 64)}.get(name)


#: which data options each --data takes (anything else given is an error, never silently ignored).
_DATA_OPTIONS = {"synthetic": {"n", "d", "gamma"}, "thm3": {"gamma"}, "idx": {"n", "images", "labels"},
                 "mnist08": {"images", "labels"}}
#: --model mlp3 reads its own data (the offline digits, or the first 1,000 of an idx pair): no --n there
_MLP3_OPTIONS = {None: set(), "idx": {"images", "labels"}, "mnist08": {"images", "labels"}}


def check_data_options(args) -> None:
    """Refuse data options the chosen --data (and model) does not use (they would be silently ignored)."""
    if args.model == "mlp3" and args.data in _MLP3_OPTIONS:
        allowed, what = _MLP3_OPTIONS[args.data], "--model mlp3" + (f" --data {args.data}" if args.data else "")
        if getattr(args, "normalize", False):   # the experiment scales its images itself (pixels/16 or /255)
            raise EoscheckError(f"--normalize does not apply to {what}, which scales its images itself; drop it")
    else:
        allowed, what = _DATA_OPTIONS.get(args.data or "digits08", set()), f"--data {args.data or 'digits08'}"
    given = [k for k in ("n", "d", "gamma", "images", "labels") if getattr(args, k) is not None]
    extra = [k for k in given if k not in allowed]
    if extra:
        uses = f"takes only {', '.join(f'--{k}' for k in sorted(allowed))}" if allowed else "takes no data options"
        raise EoscheckError(f"--{extra[0]} does not apply to {what}, which {uses}; drop it")


def validate(args):
    """Every check that needs no data, before anything is loaded or computed: (stepsizes, loss, out)."""
    from ..outputs import check_output_dir

    etas = parse_floats(args.eta)
    check_data_options(args)
    if args.grid_points is not None and args.grid != "log":
        raise EoscheckError("--grid-points applies to --grid log only; add --grid log or drop --grid-points")
    check_device(args.device)
    if args.width is not None and args.model != "ntk":
        raise EoscheckError(f"--width applies to --model ntk only (this is --model {args.model}); drop it")
    if args.model == "mlp3":
        if args.loss != "logistic":
            raise EoscheckError("--model mlp3 trains with cross-entropy; drop --loss")
        loss = None
    else:
        from ..losses import get_loss

        loss = get_loss(args.loss)
    out = check_output_dir(args.out)
    refuse_if_busy(out)
    from ..trajectory import Trajectory

    Trajectory.check_replaceable(out)
    return etas, loss, out


def refuse_if_busy(out) -> None:
    """One line, before the data are loaded, when another process holds ``out``'s writer lock
    (:class:`eoscheck.outputs.OutputLock` checks again when it takes the lock)."""
    import fcntl
    import os

    from ..outputs import LOCK_NAME

    lock = out / LOCK_NAME
    if not lock.is_file():
        return
    try:
        fd = os.open(lock, os.O_RDONLY)
    except OSError:
        return  # unreadable: OutputLock reports it when it takes the lock
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        raise EoscheckError(f"--out {out}: another eoscheck process is writing there; "
                            "wait for it or choose another folder") from None
    finally:
        os.close(fd)  # closing the only descriptor releases a lock taken here


def estimate(args, K: int, shape: tuple[int, int] | None):
    """The resource estimate of the request (``None`` when the data's shape is not known yet)."""
    from ..gdinputs import recorded_points
    from ..resources import gd_estimate

    if shape is None:
        return None
    return gd_estimate(K=K, steps=args.steps, recorded=recorded_points(args.steps, args.grid, args.grid_points),
                       n=shape[0], d=shape[1], sharp_points=_sharp_points(args, args.steps), model=args.model,
                       width=args.width or _ntk_width(args))


def _ntk_width(args) -> int:
    """The NTK width a run will use: --width, else :func:`eoscheck.networks.run_ntk`'s default (0: no NTK)."""
    if args.model != "ntk":
        return 0
    import inspect

    from ..networks import run_ntk

    return int(inspect.signature(run_ntk).parameters["width"].default)


def _run_model(args, data, loss, etas):
    common = dict(steps=args.steps, device=args.device, grid=args.grid, grid_points=args.grid_points,
                  sharpness_every=args.sharpness_every, progress=not args.quiet)
    if args.model == "linear":
        from ..gd import run_gd

        return run_gd(data, loss, etas, **common)
    if args.model == "ntk":
        from ..networks import run_ntk

        width = {} if args.width is None else {"width": args.width}
        return run_ntk(data, loss, etas, **width, seed=args.seed, **common)
    from ..mlp import run_mlp3

    if args.sharpness_every is None:
        common["sharpness_every"] = 10
    return run_mlp3(data, etas, seed=args.seed, **common)


def summary_table(traj) -> list[dict]:
    """Per stepsize: final and largest loss, last increase, first step with L ≤ 1/η, divergence."""
    rows = []
    for k, eta in enumerate(traj.eta):
        div = int(traj.stats["diverged_at"][k])
        final = float(traj.records["loss"][k, -1])
        rows.append({
            "eta": float(eta),
            "final loss": final,
            "max loss": float(traj.stats["max_loss"][k]),
            "at step": int(traj.stats["argmax_loss"][k]),
            "last increase": int(traj.stats["last_increase"][k]),
            "first L<=1/eta": int(traj.stats["first_below_1_over_eta"][k]),
            "diverged": f"at step {div}" if div >= 0 else "no",
        })
    return rows


def _beyond_float64(traj) -> str:
    """"η = …: ln L = …" for each run whose largest loss overflowed float64 at a recorded step ("" if none)."""
    import numpy as np

    out = []
    for k, eta in enumerate(traj.eta):
        t = int(traj.stats["argmax_loss"][k])
        j = int(np.searchsorted(traj.step, t))
        if np.isinf(traj.stats["max_loss"][k]) and j < len(traj.step) and traj.step[j] == t:
            out.append(f"η = {eta:g}: ln L = {traj.records['log_loss'][k, j]:.6g} at step {t}")
    return ", ".join(out)


def _load_for_model(args):
    if args.model == "mlp3" and args.data is None:
        return None  # the 3-layer experiment's own default: 1,000 scikit-learn digits, 10 classes
    if args.model == "mlp3" and args.data in ("mnist08", "idx"):
        if not (args.images and args.labels):
            raise EoscheckError(f"--data {args.data} needs --images FILE and --labels FILE (MNIST-format idx files)")
        return (args.images, args.labels)
    return load_data(args)


def _json_value(v):
    return v if not isinstance(v, float) or v == v and abs(v) != float("inf") else str(v)


def run(args) -> int:
    from ..outputs import OutputLock

    etas, loss, out = validate(args)
    est = estimate(args, len(etas), _data_shape(args))
    if est is not None:
        est.require()
        est.require_work()
    import numpy as np

    # Over/underflow is data here: the engine detects divergence and the table and figure report it.
    with np.errstate(all="ignore"):
        data = _load_for_model(args)
        if hasattr(data, "n"):
            est = estimate(args, len(etas), (data.n, data.d))
            est.require()
            est.require_work()
        with OutputLock(out):
            if est is not None and not args.quiet:
                print(est.line(), file=sys.stderr)
            if hasattr(data, "max_margin") and not args.quiet:
                _max_margin_with_label(data)
            if args.model == "linear" and not data.separable:
                print(f"warning: {data.name} is not linearly separable through the origin (certified γ* = "
                      f"{data.gamma + 0.0:.3g} ≤ 0), outside Assumption 1B: the theory's bounds do not apply, and "
                      "the loss need not fall below 1/η", file=sys.stderr)
            traj = _run_model(args, data, loss if loss is not None else args.loss, etas)
            if hasattr(data, "summary"):
                traj.config["dataset"] = data.summary()
            traj.provenance["seed"] = args.seed
            name = getattr(data, "name", traj.config.get("data", "digits"))
            fig_name = f"fig1.{args.format}"
            figure = _figure_bytes(traj, f"{name}, {traj.config.get('loss', args.loss)} loss", args.format)
            traj.save(out, extra={fig_name: figure}, command=getattr(args, "_argv", None),   # run.json lists
                      obsolete=[f"fig1.{f}" for f in FORMATS if f != args.format])   # an earlier run's figure
    rows = summary_table(traj)
    files = [str(out / "trajectory.npz"), str(out / "run.json"), str(out / fig_name)]
    diverged = [r["eta"] for r in rows if r["diverged"] != "no"]
    if args.json:
        print(json.dumps({"rows": [{k: _json_value(v) for k, v in r.items()} for r in rows],
                          "diverged_etas": diverged, "files": files}, indent=2))
        return 0
    from tabulate import tabulate

    print(tabulate(rows, headers="keys", floatfmt=".4g"))
    print("(-1: never)")
    over = _beyond_float64(traj)
    if over:
        print(f"max loss inf: L(w_t) beyond float64 (≈ 1.8e308) there, its log recorded: {over}; the iterates stayed "
              "finite (log_loss in trajectory.npz)")
    if diverged:
        print(f"diverged: η = {', '.join(f'{e:g}' for e in diverged)} left the float64 range "
              "(marked on the figure; records are NaN after that step)")
    print(f"wrote {', '.join(files)}")
    return 0


def _max_margin_with_label(data) -> None:
    """The certified max margin (which GD's records need) under a labelled bar: it can take a while."""
    from ..progress import bar

    with bar(total=1, desc=f"certified max margin of {data.name} ({data.n}×{data.d}, Wolfe)", unit="solve") as b:
        data.max_margin()
        b.update(1)


def _figure_bytes(traj, title: str, fmt: str) -> bytes:
    """Fig. 1 of the trajectory rendered off-screen (Agg) as ``fmt`` bytes."""
    from ..plotting import figure_bytes, plot_fig1

    fig = plot_fig1(traj, title=title, sharpness=traj.sharpness.size > 0, offscreen=True)
    return figure_bytes(fig, fmt)
