"""``eoscheck report``: reproduce the slides' and the paper's experiments and put every bound next to its
measurement, as ``index.md`` + PNG figures + JSON/CSV (see :mod:`eoscheck.report`)."""

from __future__ import annotations

import argparse
import shlex
import sys

from .._errors import EoscheckError
from ._arguments import count_at_least

NAME = "report"
HELP = ("build the bound-vs-measurement report (index.md, figures, JSON/CSV) into ./eoscheck-report/ "
        "(--out DIR); --quick (default) or --full")


def add_arguments(p) -> None:
    p.add_argument("--out", default=None,
                   help="output folder (default ./eoscheck-report; the committed report is --out reports/latest)")
    size = p.add_mutually_exclusive_group()
    size.add_argument("--quick", dest="profile", action="store_const", const="quick",
                      help="reduced scale (default)")
    size.add_argument("--full", dest="profile", action="store_const", const="full",
                      help="the paper's scale (Fig. 1 up to 2^20 steps)")
    size.add_argument("--profile", dest="profile", choices=("tiny", "quick", "full"), help=argparse.SUPPRESS)
    p.set_defaults(profile="quick")
    p.add_argument("--device", default="cpu", help="cpu (default) or cuda")
    p.add_argument("--seed", type=count_at_least(0), default=None,
                   help="seed for synthetic data and network init (default 0) and for the claims' Hypothesis search "
                        "(default 0, as `eoscheck check`)")
    p.add_argument("--cache-dir", default=None,
                   help="run cache (default $EOSCHECK_CACHE_DIR, else $XDG_CACHE_HOME/eoscheck or ~/.cache/eoscheck; "
                        "see `eoscheck cache`)")
    p.add_argument("--no-cache", action="store_true", help="recompute every run (the cache is rewritten)")
    p.add_argument("--quiet", action="store_true", help="no progress bars")
    p.add_argument("--mnist", metavar="DIR", default=None,
                   help="folder with MNIST's train idx files: Fig. 1(c)(d) in the paper's exact 0/8 setting")


def run(args) -> int:
    from ..gd import resolve_device
    from ..outputs import check_output_dir
    from ..report.build import DEFAULT_OUT

    out = args.out if args.out is not None else DEFAULT_OUT
    check_output_dir(out)  # before anything else
    if args.cache_dir is not None:
        check_output_dir(args.cache_dir, "--cache-dir")
    if args.device not in ("cpu", "cuda") and not str(args.device).startswith("cuda:"):
        raise EoscheckError(f"--device must be cpu or cuda, got {args.device!r}")
    resolve_device(args.device)
    from .. import progress
    from ..report import build_report

    command = "eoscheck report " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 1 and \
        sys.argv[1] == "report" else None
    result = build_report(out, args.profile, device=args.device, seed=args.seed, use_cache=not args.no_cache,
                          progress=not args.quiet and progress.enabled(), command=command,
                          cache_dir=args.cache_dir, mnist=args.mnist)
    print(result.summary())
    return 1 if result.errors else 0
