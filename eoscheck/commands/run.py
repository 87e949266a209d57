"""``eoscheck run``: GD on one dataset for a list of stepsizes; writes the trajectory, a plot and a table."""

from __future__ import annotations

import sys
from pathlib import Path

from tabulate import tabulate

from .._errors import EoscheckError
from ..datasets import get_dataset

NAME = "run"
HELP = "run GD for several stepsizes, save trajectory.npz + run.json + fig1.png, print a summary"


def parse_floats(text: str, what: str = "--eta") -> list[float]:
    """Comma-separated numbers; ``2^k`` is accepted for powers of two (e.g. ``2^-2,1,2^3``)."""
    out = []
    for item in filter(None, (s.strip() for s in text.split(","))):
        try:
            if "^" in item:
                base, exp = item.split("^", 1)
                out.append(float(base) ** float(exp))
            else:
                out.append(float(item))
        except ValueError:
            raise EoscheckError(f"{what}: {item!r} is not a number; write e.g. {what} 0.25,1,4 or 2^-2,2^3") from None
    if not out:
        raise EoscheckError(f"{what} needs at least one value")
    return out


def add_data_arguments(p) -> None:
    """The dataset options shared by the commands that run GD."""
    p.add_argument("--data", default=None,
                   help="toy, toy-normalized, thm3, synthetic, digits08 (default), mnist08, idx, or a .npz/.csv file")
    p.add_argument("--images", help="idx images file for --data mnist08/idx")
    p.add_argument("--labels", help="idx labels file for --data mnist08/idx")
    p.add_argument("--gamma", type=float, help="margin for thm3/synthetic data")
    p.add_argument("--n", type=int, help="samples for synthetic data")
    p.add_argument("--d", type=int, help="dimension for synthetic data")
    p.add_argument("--seed", type=int, default=0, help="seed for synthetic data and network initialisation")
    p.add_argument("--normalize", action="store_true", help="scale the data so that max ||x_i|| = 1")


def load_data(args):
    """The dataset named by :func:`add_data_arguments` options (normalized on request)."""
    data = get_dataset(args.data or "digits08", gamma=args.gamma, n=args.n, d=args.d, seed=args.seed,
                       images=args.images, labels=args.labels)
    if args.normalize:
        data = data.normalize()
    elif data.max_norm > 1 + 1e-12:
        print(f"warning: max ||x_i|| = {data.max_norm:.4g} > 1, outside Assumption 1A; the data are used as "
              "given (add --normalize to rescale)", file=sys.stderr)
    return data


def add_arguments(p) -> None:
    add_data_arguments(p)
    p.add_argument("--loss", default="logistic", help="built-in loss, e.g. logistic, exponential, flat_poly:a=2")
    p.add_argument("--eta", default="2^-2,1,4", help="comma-separated stepsizes (default 2^-2,1,4)")
    p.add_argument("--steps", type=int, default=10_000, help="number of GD steps T (default 10000)")
    p.add_argument("--model", choices=("linear", "ntk", "mlp3"), default="linear", help="model (default linear)")
    p.add_argument("--width", type=int, default=1024, help="NTK width m (--model ntk)")
    p.add_argument("--device", default="cpu", help="cpu or cuda")
    p.add_argument("--grid", choices=("all", "log"), default="all", help="record every step or a log grid")
    p.add_argument("--grid-points", type=int, default=None, help="points of the log grid")
    p.add_argument("--sharpness-every", type=int, default=None,
                   help="record the sharpness every k steps (default: off; 10 for --model mlp3)")
    p.add_argument("--out", default="runs/latest", help="output folder (default runs/latest)")
    p.add_argument("--quiet", action="store_true", help="no progress bar")


def _run_model(args, data, etas):
    common = dict(steps=args.steps, device=args.device, grid=args.grid, grid_points=args.grid_points,
                  sharpness_every=args.sharpness_every, progress=not args.quiet)
    if args.model == "linear":
        from ..gd import run_gd

        return run_gd(data, args.loss, etas, **common)
    from .. import networks

    if args.model == "ntk":
        return networks.run_ntk(data, args.loss, etas, width=args.width, seed=args.seed, **common)
    if args.sharpness_every is None:
        common["sharpness_every"] = 10
    return networks.run_mlp3(data, etas, seed=args.seed, **common)


def summary_table(traj) -> list[dict]:
    """Per stepsize: final and largest loss, last increase, first step with L ≤ 1/η, divergence."""
    rows = []
    for k, eta in enumerate(traj.eta):
        div = int(traj.stats["diverged_at"][k])
        rows.append({
            "eta": float(eta),
            "final loss": float(traj.records["loss"][k, -1]),
            "max loss": float(traj.stats["max_loss"][k]),
            "at step": int(traj.stats["argmax_loss"][k]),
            "last increase": int(traj.stats["last_increase"][k]),
            "first L<=1/eta": int(traj.stats["first_below_1_over_eta"][k]),
            "diverged": f"at step {div}" if div >= 0 else "no",
        })
    return rows


def run(args) -> int:
    from ..plotting import plot_fig1

    etas = parse_floats(args.eta)
    if args.steps < 1:
        raise EoscheckError(f"--steps must be at least 1, got {args.steps}")
    if args.model == "mlp3" and args.data is None:
        data = None  # the 3-layer experiment's own default: 1,000 scikit-learn digits, 10 classes
    elif args.model == "mlp3" and args.data in ("mnist08", "idx"):
        if not (args.images and args.labels):
            raise EoscheckError(f"--data {args.data} needs --images FILE and --labels FILE (MNIST-format idx files)")
        data = (args.images, args.labels)
    else:
        data = load_data(args)
    traj = _run_model(args, data, etas)
    if hasattr(data, "summary"):
        traj.config["dataset"] = data.summary()
    traj.provenance["seed"] = args.seed
    out = Path(args.out)
    traj.save(out)
    name = getattr(data, "name", traj.config.get("data", "digits"))
    plot_fig1(traj, out / "fig1.png", title=f"{name}, {traj.config.get('loss', args.loss)} loss",
              sharpness=traj.sharpness.size > 0)
    rows = summary_table(traj)
    print(tabulate(rows, headers="keys", floatfmt=".4g"))
    print("(-1: never)")
    print(f"wrote {out / 'trajectory.npz'}, {out / 'run.json'}, {out / 'fig1.png'}")
    return 0
