"""``eoscheck report``: reproduce the slides' and the paper's experiments and put every bound next to its
measurement, as ``index.md`` + PNG figures + JSON/CSV (see :mod:`eoscheck.report`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from .._errors import EoscheckError

NAME = "report"
HELP = "build the bound-vs-measurement report (index.md, figures, JSON/CSV); default reports/latest/, --quick"


def add_arguments(p) -> None:
    p.add_argument("--out", default="reports/latest", help="output folder (default reports/latest)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="profile", action="store_const", const="quick",
                      help="reduced scale, a few minutes on 2 cores (default)")
    size.add_argument("--full", dest="profile", action="store_const", const="full",
                      help="the paper's scale (Fig. 1 up to 2^20 steps)")
    size.add_argument("--profile", dest="profile", choices=("tiny", "quick", "full"), help=argparse.SUPPRESS)
    p.set_defaults(profile="quick")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--seed", type=int, default=0, help="seed for synthetic data, network init and Hypothesis (default 0)")
    p.add_argument("--no-cache", action="store_true", help="recompute every run (the cache is rewritten)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")


def run(args) -> int:
    from ..gd import resolve_device
    from ..report import build_report

    if args.device not in ("cpu", "cuda") and not str(args.device).startswith("cuda:"):
        raise EoscheckError(f"--device must be cpu or cuda, got {args.device!r}")
    resolve_device(args.device)
    command = "eoscheck report " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 and \
        sys.argv[1] == "report" else None
    result = build_report(args.out, args.profile, device=args.device, seed=args.seed, use_cache=not args.no_cache,
                          progress=not args.quiet, command=command)
    print(result.summary())
    return 1 if result.errors else 0
