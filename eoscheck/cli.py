"""The ``eoscheck`` command line.

Each sub-command lives in its own module of :mod:`eoscheck.commands`, which defines ``NAME``,
``HELP``, ``add_arguments(parser)`` and ``run(args) -> int``. Modules are discovered, so adding a
command means adding one file. ``NAME`` and ``HELP`` are read from the module's source (they are
string literals), so ``eoscheck --help`` imports no command module, and ``eoscheck COMMAND …``
imports only that command's module (torch, sympy and matplotlib load only where they are used).

Exit codes: 0 done, 1 a check failed (the command says which), 2 bad input (one line on stderr,
naming the offending value and what to do), 130 interrupted.
"""

from __future__ import annotations

import argparse
import ast
import importlib
import pkgutil
import re
import sys
from pathlib import Path

from ._errors import DivergenceError, EoscheckError, reraise_interrupt

_PACKAGE = "eoscheck.commands"


class ArgumentParser(argparse.ArgumentParser):
    """argparse with a one-line error (no usage block): ``eoscheck CMD: error: …``, exit 2."""

    def error(self, message: str):  # noqa: D102 (argparse's contract: print and exit 2)
        m = re.fullmatch(r"argument (--[\w-]+)(?:/[^:]*)?: expected one argument", message)
        if m:   # `--eta -1:5`: argparse reads a value starting with '-' as an option
            message += f" (a value starting with '-' is written {m.group(1)}=VALUE, e.g. {m.group(1)}=-1)"
        elif message.startswith("the following arguments are required: EXPR"):
            # `audit-loss "--z"`: a formula starting with "--" is taken for an option
            message += " (a formula starting with '--' goes after the options and a lone --, e.g. -- --z)"
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def _literal(tree: ast.Module, name: str) -> str | None:
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(isinstance(t, ast.Name) and t.id == name for t in node.targets):
            if isinstance(node.value, ast.Constant) and isinstance(node.value.value, str):
                return node.value.value
    return None


def commands() -> dict[str, tuple[str, str]]:
    """Every command: ``NAME`` → (module, ``HELP``), read without importing the modules."""
    from . import commands as pkg

    out = {}
    for info in sorted(pkgutil.iter_modules(pkg.__path__), key=lambda m: m.name):
        if info.name.startswith("_"):
            continue
        module = f"{_PACKAGE}.{info.name}"
        src = Path(pkg.__path__[0], f"{info.name}.py")
        name = help_ = None
        if src.is_file():
            tree = ast.parse(src.read_text(encoding="utf-8"))
            name, help_ = _literal(tree, "NAME"), _literal(tree, "HELP")
        if name is None or help_ is None:  # not literals: ask the module itself
            mod = importlib.import_module(module)
            name, help_ = mod.NAME, mod.HELP
        out[name] = (module, help_)
    return out


def _wanted(argv: list[str], names) -> str | None:
    """The command named on the command line (the first word that is not an option)."""
    for a in argv:
        if not a.startswith("-"):
            return a if a in names else None
    return None


def build_parser(argv: list[str] | None = None) -> argparse.ArgumentParser:
    """The argument parser. With ``argv``, only the command it names gets its full sub-parser
    (and only that command's module is imported); without, every command does."""
    from . import __version__

    parser = ArgumentParser(prog="eoscheck",
                            description="Check the theory of large-stepsize gradient descent by experiment.")
    parser.add_argument("--version", action="version", version=f"eoscheck {__version__}")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    table = commands()
    wanted = None if argv is None else _wanted(argv, table)
    for name, (module, help_) in table.items():
        p = sub.add_parser(name, help=help_, description=help_)
        if argv is None or name == wanted:
            mod = importlib.import_module(module)
            mod.add_arguments(p)
            p.set_defaults(_run=mod.run)
            if name == wanted:   # the options whose next word is their value, unless a formula (argparse keeps no
                parser.value_options = {o for a in p._actions for o in a.option_strings    # public list)
                                        if a.nargs != 0 and a.metavar not in FORMULA_METAVARS}
    return parser


#: Characters that make a word starting with "-" a formula, never an option (no option has them).
_FORMULA_CHARS = set("()*/^+ ")
#: The metavars of the options whose values are formulas (``--where COND``, ``--eta-of-T EXPR``): a value of theirs
#: that starts with a minus is read as a formula, as a positional one is.
FORMULA_METAVARS = ("EXPR", "COND")
#: The one-dash options of the commands (and argparse's help; also as -oFILE): any other "-<letter>…" word is a
#: formula (-z)
_SHORT_OPTIONS = {"-o", "-h"}


def formulas_as_positionals(argv: list[str], value_options=frozenset()) -> list[str]:
    """A formula that starts with a minus (``audit-loss "-log(erfc(-z/sqrt(2))/2)"``) read as one: argparse
    took it for an unknown option ("the following arguments are required: EXPR"); a leading space makes it
    a positional, which the formula parser ignores.  Words after ``--``, and the word after an option of
    ``value_options`` (a value that is not a formula: ``--out -run`` is left to argparse, which refuses it in one
    line, rather than read as the folder " -run"), are left as they are."""
    out, rest, prev = [], False, None
    for a in argv:
        if a == "--":
            rest = True
        elif not rest and prev not in value_options and a.startswith("-") and not a.startswith("--") and (
                _FORMULA_CHARS & set(a) or (len(a) > 1 and a[1].isalpha() and not a.startswith(tuple(_SHORT_OPTIONS)))):
            a = " " + a
        out.append(a)
        prev = a
    return out


def main(argv: list[str] | None = None) -> int:
    """Entry point: parse ``argv``, run the command, map bad input to exit code 2."""
    argv = list(sys.argv[1:] if argv is None else argv)
    parser = build_parser(argv)
    argv = formulas_as_positionals(argv, getattr(parser, "value_options", frozenset()))
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:  # --help, --version, or a usage error (already printed, one line)
        return int(exc.code or 0)
    if not getattr(args, "_run", None):
        parser.print_help()
        return 2
    args._argv = ["eoscheck", *argv]
    try:
        return _run(args)
    except EoscheckError as err:
        print(f"eoscheck {args.command}: error: {' '.join(str(err).split()) or 'bad input'}", file=sys.stderr)
        return 2
    except DivergenceError as err:  # a computation left float64 where the command cannot report it as data
        print(f"eoscheck {args.command}: error: {' '.join(str(err).split())}; give smaller values", file=sys.stderr)
        return 2
    except MemoryError:
        print(f"eoscheck {args.command}: error: out of memory; shrink the request (fewer steps or --grid log, "
              "fewer stepsizes, smaller data or width)", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"eoscheck {args.command}: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # `eoscheck … | head`: the reader left; not an error of ours
        import os

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 0
    except OSError as err:      # the machine refused a file (a full disk, no permission): what and where, one line
        where = f" ({err.filename})" if err.filename else ""
        print(f"eoscheck {args.command}: error: {err.strerror or err}{where}; free space, fix the permissions or "
              "choose another folder, and run again (outputs already there are left as they were)", file=sys.stderr)
        return 2


def _run(args) -> int:
    """The command, after the checks of its environment; an interrupt that a C extension wrapped in its own error
    is raised as the interrupt."""
    try:
        from . import progress

        progress.enabled()           # a bad EOSCHECK_PROGRESS is refused before any work or output
        from .gdinputs import requested_gemm

        requested_gemm()             # and a bad EOSCHECK_GEMM
        from .provenance import source

        source()                     # the commit and dirty flag of the code about to run, read before it runs
        return int(args._run(args) or 0)
    except Exception as err:
        reraise_interrupt(err)
        raise


def console_main() -> int:
    """The ``eoscheck`` console script: :func:`main`, then ``gc.freeze()`` before the interpreter exits, so
    the collector's final walk over torch's, sympy's and Dask's objects (~1.1 s measured) is skipped.  Not
    inside :func:`main`: tests call it in-process, and a freeze there would keep their garbage alive."""
    import gc

    rc = main()
    gc.freeze()
    return rc


if __name__ == "__main__":  # pragma: no cover
    sys.exit(console_main())
