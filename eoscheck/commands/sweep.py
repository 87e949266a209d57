"""``eoscheck sweep``: measure quantities over many datasets × stepsizes, serially or on Dask.

Writes ``--out``/results.parquet (one row per dataset × η) and sweep.json (configuration and
provenance); finished tasks under ``--out``/tasks/ are reused by a rerun.
"""

from __future__ import annotations

NAME = "sweep"
HELP = "run a grid of datasets × stepsizes (serial, LocalCluster or a Dask cluster), write results.parquet"


def add_arguments(p) -> None:
    p.add_argument("--study", choices=("crawshaw-liu",),
                   help="run a built-in study instead of a grid (crawshaw-liu: Crawshaw & Liu's Fig. 2a)")
    p.add_argument("--data", default="synthetic",
                   help="synthetic (default), sphere (unit-sphere points, y=+1), thm3, toy, toy-normalized, "
                        "digits08, a folder of .npz files (arrays X, y) or one .npz/.csv file")
    p.add_argument("--n", default="4:32", help="samples: LO:HI (uniform integers), a comma list, or 'd' (n = d)")
    p.add_argument("--d", default="4:32", help="dimension: LO:HI or a comma list (dataset i takes item i mod len)")
    p.add_argument("--gamma", default="0.05:0.5", help="margin of synthetic/thm3 data: LO:HI (log-uniform) or a list")
    p.add_argument("--datasets", type=int, default=48, help="number of random datasets (default 48)")
    p.add_argument("--eta", default="4,16,64,256", help="stepsizes, comma-separated (2^k accepted); one batch per dataset")
    p.add_argument("--steps", type=int, default=1000, help="GD steps T (default 1000)")
    p.add_argument("--measure", default="transition_time(1/eta),last_increase,final_loss",
                   help="comma-separated quantities of the conjecture vocabulary (see eoscheck conjecture -h), "
                        "e.g. transition_time(2/eta),loss(T/2),max_loss")
    p.add_argument("--loss", default="logistic", help="loss name, e.g. logistic, flat_exp:a=2 (default logistic)")
    p.add_argument("--seed", type=int, default=0, help="seed of the random datasets (default 0)")
    p.add_argument("--workers", type=int, default=0,
                   help="0: serial in this process (default); N: a Dask LocalCluster of N single-thread processes")
    p.add_argument("--scheduler", metavar="tcp://HOST:PORT", help="use an existing Dask cluster instead")
    p.add_argument("--scheduler-timeout", type=float, default=10.0, help="seconds to wait for --scheduler (default 10)")
    p.add_argument("--task-size", type=int, help="datasets per task (default: from the grid's cost)")
    p.add_argument("--datasets-per-cell", type=int, default=256,
                   help="--study crawshaw-liu: random datasets per dimension (default 256)")
    p.add_argument("--out", help="output folder (required; a rerun into it reuses finished tasks)")


def run(args) -> int:
    from .._errors import EoscheckError
    from ..outputs import check_output_dir

    if args.workers and args.workers > 0 and args.scheduler is None:
        from ..sweeps.workers import start_fork_server

        start_fork_server()  # first thing: the workers' imports overlap this process's
    if not args.out:
        raise EoscheckError("--out DIR is required (results.parquet and sweep.json are written there)")
    check_output_dir(args.out)
    if args.study == "crawshaw-liu":
        from ..sweeps.crawshaw_liu import run_study

        summary = run_study(args.out, datasets=args.datasets_per_cell, workers=args.workers,
                            scheduler=args.scheduler, seed=args.seed, scheduler_timeout=args.scheduler_timeout)
        print(summary)
        return 0
    from ..sweeps import sweep

    info: dict = {}
    table = sweep(args.data, n=args.n, d=args.d, gamma=args.gamma, datasets=args.datasets, eta=args.eta,
                  steps=args.steps, measure=args.measure, loss=args.loss, seed=args.seed, workers=args.workers,
                  scheduler=args.scheduler, out=args.out, task_size=args.task_size,
                  scheduler_timeout=args.scheduler_timeout, info=info)
    print(f"eoscheck sweep: {len(table)} rows ({table['dataset'].nunique()} datasets × {table['eta'].nunique()} η) "
          f"→ {args.out}/results.parquet; tasks: {info['tasks_run']} run, {info['tasks_reused']} reused "
          f"({info['mode']}, {info['wall_s']:.1f} s)")
    return 0
