"""The ``eoscheck`` command line.

Each sub-command lives in its own module of :mod:`eoscheck.commands`, which
defines ``NAME``, ``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are discovered, so adding a command means adding one file.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys

from ._errors import EoscheckError


def _command_modules():
    from . import commands

    for info in sorted(pkgutil.iter_modules(commands.__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            yield importlib.import_module(f"{commands.__name__}.{info.name}")


def build_parser() -> argparse.ArgumentParser:
    """The full argument parser, one sub-parser per command module."""
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="eoscheck",
        description="Check the theory of large-stepsize gradient descent by experiment.",
    )
    parser.add_argument("--version", action="version", version=f"eoscheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in _command_modules():
        p = sub.add_parser(module.NAME, help=module.HELP, description=module.HELP)
        module.add_arguments(p)
        p.set_defaults(_run=module.run)
    return parser


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, map bad input to exit code 2."""
    parser = build_parser()
    args = parser.parse_args(argv)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    try:
        return int(args._run(args) or 0)
    except EoscheckError as err:
        print(f"eoscheck {args.command}: error: {err}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eoscheck {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
