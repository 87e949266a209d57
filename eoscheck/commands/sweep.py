"""``eoscheck sweep``: measure quantities over many datasets × stepsizes, serially or on Dask.

Writes ``--out``/results.parquet (one row per dataset × η) and sweep.json (configuration and
provenance); finished tasks under ``--out``/tasks/ are reused by a rerun.
"""

from __future__ import annotations

import sys

from ._arguments import count_at_least, positive_float

NAME = "sweep"
HELP = "run a grid of datasets × stepsizes (serial, LocalCluster or a Dask cluster), write results.parquet"

#: The grid's options (None in the parser, so that an option given where it does not apply is refused
#: rather than ignored; their defaults are :func:`eoscheck.sweeps.sweep`'s).
GRID_OPTIONS = ("data", "n", "d", "gamma", "datasets", "eta", "steps", "measure", "loss", "task_size")
#: Default seconds to wait for ``--scheduler``.
SCHEDULER_TIMEOUT = 10.0


def add_arguments(p) -> None:
    p.add_argument("--study", choices=("crawshaw-liu",),
                   help="run a built-in study instead of a grid (crawshaw-liu: Crawshaw & Liu's Fig. 2a)")
    p.add_argument("--data",
                   help="synthetic (default), sphere (unit-sphere points, y=+1), thm3, toy, toy-normalized, "
                        "digits08, a folder of .npz files (arrays X, y) or one .npz/.csv file")
    p.add_argument("--n", help="samples: LO:HI (uniform integers), a comma list, or 'd' (n = d)")
    p.add_argument("--d", help="dimension: LO:HI or a comma list (dataset i takes item i mod len; default 4:32)")
    p.add_argument("--gamma", help="margin of synthetic/thm3 data: LO:HI (log-uniform) or a list (default 0.05:0.5)")
    p.add_argument("--datasets", type=count_at_least(1), help="number of random datasets (default 48)")
    p.add_argument("--eta", help="stepsizes, comma-separated (2^k accepted); one batch per dataset "
                                 "(default 4,16,64,256)")
    p.add_argument("--steps", type=count_at_least(1), help="GD steps T (default 1000; 1e3 and 2^10 are accepted)")
    p.add_argument("--measure", help="comma-separated quantities of the conjecture vocabulary (see eoscheck "
                                     "conjecture -h), e.g. transition_time(2/eta),loss(T/2),max_loss (default "
                                     "transition_time(1/eta),last_increase,final_loss)")
    p.add_argument("--loss", help="loss name, e.g. logistic, flat_exp:a=2 (default logistic)")
    p.add_argument("--seed", type=count_at_least(0), default=0, help="seed of the random datasets (default 0)")
    p.add_argument("--workers", type=int, default=None,
                   help="0: serial in this process (default); N: a Dask LocalCluster of N single-thread processes")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster instead")
    p.add_argument("--scheduler-timeout", type=positive_float,
                   help=f"seconds to wait for --scheduler (default {SCHEDULER_TIMEOUT:g})")
    p.add_argument("--task-size", type=count_at_least(1), help="datasets per task (default: from the grid's cost)")
    p.add_argument("--datasets-per-cell", type=count_at_least(1),
                   help="--study crawshaw-liu: random datasets per dimension (default 256)")
    p.add_argument("--out", help="output folder (required; a rerun into it reuses finished tasks)")


def _stop(signum, frame):
    """SIGTERM (a batch system's preemption) ends a sweep as Ctrl-C does: one line, the cluster closed, every
    finished task kept for the rerun."""
    raise KeyboardInterrupt


def run(args) -> int:
    import signal
    import threading

    if threading.current_thread() is not threading.main_thread():
        return _run(args)
    old = signal.signal(signal.SIGTERM, _stop)
    try:
        return _run(args)
    finally:
        signal.signal(signal.SIGTERM, old)


def _run(args) -> int:
    from .._errors import EoscheckError
    from ..outputs import check_output_dir

    if args.scheduler is not None and args.workers is not None:
        raise EoscheckError("--workers does not apply with --scheduler (the cluster has its own workers); drop one")
    if args.scheduler is None and args.scheduler_timeout is not None:
        raise EoscheckError("--scheduler-timeout applies with --scheduler only; drop it")
    args.workers = args.workers or 0
    args.scheduler_timeout = SCHEDULER_TIMEOUT if args.scheduler_timeout is None else args.scheduler_timeout
    if args.scheduler is None and args.workers:
        from ..sweeps.execute import check_workers
        from ..sweeps.workers import start_fork_server

        check_workers(args.workers)

        start_fork_server()  # first thing: the workers' imports overlap this process's
    if not args.out:
        raise EoscheckError("--out DIR is required (results.parquet and sweep.json are written there)")
    given = [k for k in GRID_OPTIONS if getattr(args, k) is not None]
    if args.study == "crawshaw-liu":
        if given:
            raise EoscheckError(f"--{given[0].replace('_', '-')} does not apply to --study crawshaw-liu (its grid is "
                                "fixed; --datasets-per-cell sets its size); drop it")
        check_output_dir(args.out)
        from ..sweeps.crawshaw_liu import run_study

        cell = {} if args.datasets_per_cell is None else {"datasets": args.datasets_per_cell}
        summary = run_study(args.out, **cell, workers=args.workers, scheduler=args.scheduler, seed=args.seed,
                            scheduler_timeout=args.scheduler_timeout)
        print(summary)
        return 0
    if args.datasets_per_cell is not None:
        raise EoscheckError("--datasets-per-cell applies to --study crawshaw-liu only; for a grid use --datasets")
    import inspect

    from ..sweeps import sweep
    from ..sweeps.grid import RANDOM_ONLY, refuse_on_fixed_data

    grid = {k: getattr(args, k) for k in given}
    data = grid.get("data", inspect.signature(sweep).parameters["data"].default)
    refuse_on_fixed_data(data, [k for k in RANDOM_ONLY if k in given], cli=True)
    check_output_dir(args.out)
    info: dict = {}
    table = sweep(**grid, seed=args.seed, workers=args.workers, scheduler=args.scheduler, out=args.out,
                  scheduler_timeout=args.scheduler_timeout, info=info)
    print(f"eoscheck sweep: {len(table)} rows ({table['dataset'].nunique()} datasets × {table['eta'].nunique()} η) "
          f"→ {args.out}/results.parquet; tasks: {info['tasks_run']} run, {info['tasks_reused']} reused "
          f"({info['mode']}, {info['wall_s']:.1f} s)")
    from ..datasets import UNIT_BALL

    big = table.loc[~(table["max_norm"] <= UNIT_BALL), "dataset"].nunique() if len(table) else 0
    if big:
        print(f"warning: {big} of {table['dataset'].nunique()} datasets have max ||x_i|| > 1 (column 'max_norm'), "
              "outside Assumption 1A: the theory's bounds do not apply to their rows as stated (rescale the data "
              "to max ||x_i|| = 1)", file=sys.stderr)
    bad = table.loc[~table["separable"], "dataset"].nunique() if len(table) else 0
    if bad:
        print(f"warning: {bad} of {table['dataset'].nunique()} datasets are not certified linearly separable "
              "(column 'separable' False, γ* ≤ 0): the theory's bounds do not apply to their rows", file=sys.stderr)
    for name in info.get("config", {}).get("measures", ()):
        nan = int(table[name].isna().sum()) if len(table) else 0
        if nan:
            print(f"warning: measure {name} is NaN in {nan} of {len(table)} rows: its step lies outside 0..T "
                  f"(--steps {grid.get('steps', 'T')}) there, the run diverged before it, or its threshold has no value "
                  "there", file=sys.stderr)
    return 0
