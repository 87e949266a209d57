"""Safe parsing of user formulas into sympy expressions.

A user's formula (``eoscheck audit-loss "log(1+exp(-z))"``, ``eoscheck
conjecture ...``) is **never evaluated as Python**: ``sympy.sympify`` and
``parse_expr`` call ``eval`` (a loss string could create files, import modules
or hang the process on ``9**9**9``), and a restricted namespace is escapable
through attribute access.  Instead :func:`parse_expression` walks the tree of
``ast.parse(text, mode="eval")`` — parsing builds a tree and runs nothing — and
builds the sympy expression itself from a whitelist:

* numbers (``2``, ``0.5``, ``1e-3``; a decimal becomes the exact rational of its text, so ``1e-400`` is
  10⁻⁴⁰⁰ and not its float 0.0), the constants ``pi`` and ``E``, and the names given in ``variables``;
* ``+ - * / **`` and unary ``+``/``-`` (``^`` is refused with a hint to use ``**``);
* calls, with positional arguments only, of the functions in
  :data:`DEFAULT_FUNCTIONS`: ``exp log log1p sqrt tanh erf erfc``, ``abs``/``Abs``,
  ``max``/``Max``, ``min``/``Min`` (two or more arguments) and the conditionals
  below.  ``log1p(x)`` means ``log(1 + x)``;
* conditionals, the only place where comparisons are allowed:

  - ``where(cond, a, b)``: ``a`` where ``cond`` holds, else ``b``;
  - ``piecewise((a, cond1), (b, cond2), ..., (c, True))``: the first case whose
    condition holds; the last condition must be ``True`` so that the formula is
    defined everywhere;
  - Python's ``a if cond else b``, the same as ``where(cond, a, b)``;

  where a condition is a comparison ``<``, ``<=``, ``>``, ``>=`` (chains such as
  ``0 < z <= 1`` allowed), combined with ``and``/``or``/``not`` (or ``&``/``|``),
  or ``True``/``False``.  Example: ``where(z > 0, exp(-z), 1 - z)``.

Everything else — attribute access, subscripts, strings, f-strings, lambdas,
comprehensions, keyword arguments, unknown names such as ``__import__`` — is
refused with an :class:`~eoscheck.EoscheckError` whose one line names the
offending piece.  Sizes are capped: the text length, the number of syntax
nodes, the nesting depth, numeric exponents (``9**9**9`` is refused at the
inner ``9**9``) and the number of digits of any numeric power and of any number sympy forms (the
coefficient 2¹⁶⁰⁰⁰ of ``f(z)*2**1000*…*2**1000``), so that a
hostile string is refused in well under a second without side effects.  A constant that is
not a real number (``sqrt(-1)``, ``(-8)**(1/3)``, ``log(-2)``) is refused at parse time.

Turning a formula into numbers is guarded too: :func:`evaluate` (float64 through the one
compiler, :mod:`eoscheck.compiler`) and :func:`real_number` never call sympy's ``evalf``, and
:func:`time_limit` bounds any remaining sympy work; a timeout is an :class:`EoscheckError`.
"""

from __future__ import annotations

import ast
import decimal
import math
import re
import signal
import sys
import threading
import time
import warnings
from typing import Any, Callable, Mapping

import numpy as np
import sympy as sp

from ._errors import EoscheckError

#: Functions a formula may call (both spellings of abs/max/min).
DEFAULT_FUNCTIONS = frozenset(
    {"exp", "log", "log1p", "sqrt", "tanh", "erf", "erfc", "abs", "Abs", "max", "Max", "min", "Min",
     "where", "piecewise"}
)

#: Named constants a formula may use.
CONSTANTS: Mapping[str, sp.Expr] = {"pi": sp.pi, "E": sp.E}

MAX_LENGTH = 2000   #: default cap on the formula's length in characters
MAX_NODES = 500     #: default cap on the number of syntax-tree nodes
MAX_DEPTH = 60      #: default cap on the nesting depth of the syntax tree
MAX_EXPONENT = 1000  #: default cap on |exponent| of a numeric exponent
MAX_DIGITS = 2000   #: cap on the decimal digits of a numeric power's result and of any number in a formula

#: the smallest integer of more than MAX_DIGITS digits
_TOO_MANY_DIGITS = 10**MAX_DIGITS

_UNARY = {"exp": sp.exp, "log": sp.log, "sqrt": sp.sqrt, "tanh": sp.tanh, "erf": sp.erf,
          "abs": sp.Abs, "Abs": sp.Abs}
_VARIADIC = {"max": sp.Max, "Max": sp.Max, "min": sp.Min, "Min": sp.Min}
_COMPARE = {ast.Lt: sp.StrictLessThan, ast.LtE: sp.LessThan, ast.Gt: sp.StrictGreaterThan,
            ast.GtE: sp.GreaterThan}
_OP_TEXT = {ast.FloorDiv: "//", ast.Mod: "%", ast.MatMult: "@", ast.LShift: "<<", ast.RShift: ">>",
            ast.BitAnd: "&", ast.BitOr: "|", ast.BitXor: "^", ast.Eq: "==", ast.NotEq: "!=",
            ast.Is: "is", ast.IsNot: "is not", ast.In: "in", ast.NotIn: "not in", ast.Invert: "~"}
_NODE_TEXT = {
    ast.Attribute: "attribute access", ast.Subscript: "subscripts", ast.Lambda: "lambda",
    ast.JoinedStr: "f-strings", ast.FormattedValue: "f-strings", ast.List: "lists", ast.Dict: "dicts",
    ast.Set: "sets", ast.ListComp: "comprehensions", ast.SetComp: "comprehensions",
    ast.DictComp: "comprehensions", ast.GeneratorExp: "comprehensions", ast.NamedExpr: "assignment (:=)",
    ast.Starred: "star arguments", ast.Await: "await", ast.Yield: "yield", ast.YieldFrom: "yield",
    ast.Slice: "slices", ast.Compare: "a comparison outside where()/piecewise() is",
    ast.BoolOp: "and/or outside a condition is",
}


def parse_expression(
    text: str,
    variables: Mapping[str, sp.Basic],
    *,
    allow_functions: frozenset[str] | set[str] = DEFAULT_FUNCTIONS,
    max_length: int = MAX_LENGTH,
    max_nodes: int = MAX_NODES,
    max_exponent: int = MAX_EXPONENT,
    max_depth: int = MAX_DEPTH,
) -> sp.Expr:
    """The sympy expression written in ``text``, built from a whitelist (see the module doc).

    Args:
      text: the formula, e.g. ``"log(1 + exp(-z))"`` or ``"where(z > 0, exp(-a*z), 1 - a*z)"``.
      variables: name → sympy symbol (or number) the formula may use, e.g. ``{"z": z}``.
      allow_functions: the callable names (a subset of :data:`DEFAULT_FUNCTIONS`).
      max_length, max_nodes, max_depth: caps on the text and its syntax tree.
      max_exponent: cap on |e| of a numeric exponent in ``x**e``.

    Raises:
      EoscheckError: one line saying what is not allowed and where.
    """
    if not isinstance(text, str):
        raise EoscheckError(f"a formula must be a string, got {type(text).__name__}")
    unknown = set(allow_functions) - DEFAULT_FUNCTIONS
    if unknown:
        raise EoscheckError(f"no such formula function(s): {', '.join(sorted(unknown))}")
    src = text.strip()
    if not src:
        names = ", ".join(sorted(variables)[:6]) + (", …" if len(variables) > 6 else "")
        example = ", e.g. log(1 + exp(-z))" if set(variables) == {"z"} else ""
        raise EoscheckError(f"empty formula; write an expression in {names}{example}")
    if len(src) > max_length:
        raise EoscheckError(f"formula too long ({len(src)} characters; the limit is {max_length})")
    if "#" in src:      # Python's parser would drop the rest as a comment: "loss(t) <= 1 # x" ran as "<= 1"
        raise EoscheckError(f"'#' at column {src.index('#') + 1} is not part of a formula; remove it and what follows "
                            "if it is a comment")
    _check_names(variables, allow_functions)
    try:
        with warnings.catch_warnings():  # e.g. "invalid escape sequence": the formula is refused or fine
            warnings.simplefilter("ignore")
            tree = ast.parse(src, mode="eval")
    except SyntaxError as err:
        col = f" at column {err.offset}" if err.offset else ""
        raise EoscheckError(f"not a valid formula{col}: {err.msg}") from None
    except (ValueError, RecursionError, MemoryError) as err:
        raise EoscheckError(f"not a valid formula: {type(err).__name__} while parsing") from None
    _check_size(tree, max_nodes, max_depth)
    builder = _Builder(src, variables, frozenset(allow_functions), max_exponent)
    expr = builder.expr(tree.body)
    if not isinstance(expr, sp.Expr):
        raise EoscheckError("the formula is a condition, not a number-valued expression")
    if expr.has(sp.zoo, sp.nan, sp.oo, -sp.oo):
        raise EoscheckError(f"the formula is undefined or infinite as written ({sp.sstr(expr)[:60]}); "
                            "check for 1/0 or log(0)")
    return expr


def parse_loss(text: str, params: Mapping[str, float] | None = None, name: str | None = None):
    """A :class:`~eoscheck.losses.Loss` from a formula in ``z`` or a built-in loss name.

    ``text`` is either a built-in name with optional parameters (``"logistic"``,
    ``"flat_poly:a=2"``, or ``"flat_poly"`` with ``params={"a": 2}``), or a
    formula in the margin ``z`` parsed by :func:`parse_expression`, whose other
    names are the ``params`` (substituted by their values), e.g.
    ``parse_loss("where(z > 0, (1+z)**(-a), 1 - a*z)", {"a": 2})``.
    """
    from .losses import BUILTIN_LOSSES, from_expr, get_loss, z

    params = dict(params or {})
    if not isinstance(text, str):
        raise EoscheckError(f"a loss must be given as a string, got {type(text).__name__}")
    head = text.strip().partition(":")[0].strip()
    if head in BUILTIN_LOSSES:
        return get_loss(text.strip(), **{k: param_value(k, v) for k, v in params.items()})
    values: dict[str, sp.Basic] = {"z": z}
    for key, val in params.items():
        if not isinstance(key, str) or not re.fullmatch(r"[A-Za-z_][A-Za-z_0-9]*", key) or key.startswith("__"):
            raise EoscheckError(f"bad parameter name {key!r}; use a plain identifier such as a or temp")
        if key == "z":
            raise EoscheckError("z is the margin variable and cannot be a parameter")
        values[key] = _exact(param_value(key, val))
    try:
        expr = parse_expression(text, values)
    except EoscheckError as err:
        if "unknown name" in str(err):
            raise EoscheckError(f"{err}; give parameters a value with --param NAME=VALUE") from None
        raise
    used = {s.name for s in _used_names(text)}
    unused = sorted(set(params) - used)
    if unused:
        raise EoscheckError(f"parameter(s) {', '.join(unused)} do not appear in the formula")
    if name is None:
        name = " ".join(text.split())
        if params:
            name += " [" + ", ".join(f"{k}={param_value(k, v):g}" for k, v in params.items()) + "]"
    return from_expr(expr, name=name)


#: default time limit (seconds) of :func:`evaluate` and of the sympy preprocessing of a formula
EVAL_SECONDS = 10.0


#: the timer of :class:`time_limit`: the process's CPU time (user + system), and its signal
_TIMER, _SIGNAL = getattr(signal, "ITIMER_PROF", None), getattr(signal, "SIGPROF", None)


class time_limit:
    """Raise :class:`EoscheckError` ("<what> took more than N CPU seconds ...") if the block computes longer.

    Used as ``with time_limit(seconds, what):``.  The limit counts this process's CPU time
    (``ITIMER_PROF``, SIGPROF), never wall-clock time, so another process's load cannot turn an
    evaluation that finishes into an error.  POSIX, main thread; elsewhere the block runs
    unguarded.  It interrupts pure-Python work such as sympy's evalf or an mpmath series between
    bytecodes.  Nested limits keep the earliest deadline.

    An exception raised by a signal handler is lost when the handler happens to run inside a
    gc callback, a weakref callback or a ``__del__`` (Python reports it as "unraisable" and goes
    on).  So every alarm re-arms the timer (``seconds / RETRY_FRACTION`` later) before raising:
    a swallowed alarm is followed by another until one reaches the block.  The handler stays
    silent inside :meth:`__exit__` and once the block is left, so a late alarm cannot escape.
    """

    #: a swallowed alarm is retried after seconds / RETRY_FRACTION
    RETRY_FRACTION = 8

    def __init__(self, seconds: float, what: str):
        self.seconds, self.what = seconds, what
        self.live = False

    def __enter__(self):
        seconds = self.seconds
        if (_TIMER is None or threading.current_thread() is not threading.main_thread()
                or not (seconds > 0)):
            return self
        self.start = time.process_time()
        self.outer = signal.getitimer(_TIMER)[0]
        if self.outer and self.outer <= seconds:  # an enclosing, earlier deadline governs
            self.outer = 0.0
            return self
        self.old = signal.signal(_SIGNAL, self._expired)
        self.live = True
        signal.setitimer(_TIMER, seconds)
        return self

    def _expired(self, signum, frame):
        if not self.live or (frame is not None and frame.f_code is _EXIT_CODE):
            return  # the block is being left: __exit__ disarms the timer
        signal.setitimer(_TIMER, self.seconds / self.RETRY_FRACTION)
        raise _Expired()

    def __exit__(self, exc_type, exc, tb):
        if not self.live:
            return False
        self.live = False
        signal.setitimer(_TIMER, 0)
        signal.signal(_SIGNAL, self.old)
        if self.outer:  # restore the enclosing timer, less the time spent here
            signal.setitimer(_TIMER, max(self.outer - (time.process_time() - self.start), 1e-3))
        if exc_type is not None and issubclass(exc_type, _Expired):
            raise EoscheckError(f"{self.what} took more than {self.seconds:g} s of CPU time; simplify the formula "
                                "(e.g. fewer nested exp) or narrow the values") from None
        return False


_EXIT_CODE = time_limit.__exit__.__code__


class _Expired(BaseException):
    """Raised by the SIGPROF handler of :func:`time_limit` (a BaseException so no `except Exception` eats it)."""


def evaluate(expr: sp.Expr, values: Mapping[str, Any], *, seconds: float = EVAL_SECONDS):
    """``expr`` in float64 at ``values`` (name → number or array; broadcast), bounded in time and precision.

    The guarded way to turn a user formula into numbers: the one compiler's numpy back end
    (:mod:`eoscheck.compiler`; float64, one operation per syntax node and point, never sympy's
    evalf, whose cost for e.g. exp(exp(exp(T))) is unbounded), under :func:`time_limit`.  Returns a
    float for scalar values, else an array; NaN/±inf where the formula is undefined/overflows.

    Raises:
      EoscheckError: a name of the formula has no value, or the evaluation took more than ``seconds``.
    """
    from .compiler import compile_expr

    names = sorted({s.name for s in expr.free_symbols})
    missing = [n for n in names if n not in values]
    if missing:
        raise EoscheckError(f"cannot evaluate {_shown(expr)}: no value for {', '.join(missing)}")
    with time_limit(seconds, f"evaluating {_shown(expr)}"):
        prog = compile_expr(expr, names)
        out = prog.numpy(*[values[n] for n in names])
    scalar = all(np.ndim(values[n]) == 0 for n in names)
    return float(out) if scalar else out


# ---------------------------------------------------------------------------
# internals
# ---------------------------------------------------------------------------


def param_value(key: str, val) -> float:
    """A formula parameter's value as a float: a number, finite, and (given as text) not a nonzero number that
    float64 reads as 0; EoscheckError otherwise."""
    try:
        x = float(val)
    except (TypeError, ValueError):
        raise EoscheckError(f"parameter {key} must be a number, got {val!r}") from None
    if not math.isfinite(x):
        raise EoscheckError(f"parameter {key} must be finite, got {val!r}")
    if abs(x) < sys.float_info.min and isinstance(val, str):
        # 1e-400 reads 0.0 and 3e-324 reads 4.9e-324: another loss would be audited (a reviewer's runs)
        try:
            lost = sp.Rational(val.strip()) != sp.Rational(repr(x))
        except (TypeError, ValueError):
            lost = False
        if lost:
            raise EoscheckError(f"parameter {key}={val.strip()} is below float64's normal range (it reads {x!r}); "
                                "write the number into the formula instead, where it stays exact")
    return x


def _exact(x: float) -> sp.Rational:
    """The float as the exact rational of its shortest decimal form (0.1 → 1/10)."""
    return sp.Rational(repr(float(x)))


def _used_names(text: str):
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            tree = ast.parse(text.strip(), mode="eval")
    except SyntaxError:  # pragma: no cover - already parsed once
        return []
    return [sp.Symbol(n.id) for n in ast.walk(tree) if isinstance(n, ast.Name)]


def _check_names(variables: Mapping[str, sp.Basic], functions) -> None:
    for key, val in variables.items():
        if key in functions or key in CONSTANTS:
            raise EoscheckError(f"variable name {key!r} clashes with a function or constant of the same name")
        if not isinstance(val, sp.Basic):
            raise EoscheckError(f"variable {key!r} must map to a sympy symbol or number")


def _check_size(tree: ast.AST, max_nodes: int, max_depth: int) -> None:
    """Refuse trees with more than ``max_nodes`` nodes or deeper than ``max_depth`` (iteratively)."""
    count = 0
    stack = [(tree, 0)]
    while stack:
        node, depth = stack.pop()
        count += 1
        if count > max_nodes:
            raise EoscheckError(f"formula too large (more than {max_nodes} syntax nodes)")
        if depth > max_depth:
            raise EoscheckError(f"formula nested too deeply (more than {max_depth} levels)")
        # a chain a + b + c + … (or a·b·c…) is one level of a sum (product), as sympy holds it: Python's parser nests it
        # leftwards, and a sum of 61 terms was refused as "nested too deeply" (a reviewer's run); the node cap bounds it
        stack.extend((child, depth + (0 if _same_chain(node, child) else 1)) for child in ast.iter_child_nodes(node))


_CHAINS = ((ast.Add, ast.Sub), (ast.Mult, ast.Div))


def _same_chain(node: ast.AST, child: ast.AST) -> bool:
    """Whether ``child`` continues ``node``'s chain of sums (or of products) on its left."""
    return (isinstance(node, ast.BinOp) and isinstance(child, ast.BinOp) and child is node.left
            and any(isinstance(node.op, ops) and isinstance(child.op, ops) for ops in _CHAINS))


class _Builder:
    """Turns whitelisted AST nodes into sympy objects; anything else is an :class:`EoscheckError`."""

    def __init__(self, src: str, variables, functions: frozenset[str], max_exponent: int):
        self.src = src
        self.variables = dict(variables)
        self.functions = functions
        self.max_exponent = max_exponent

    # --- helpers ---------------------------------------------------------------
    def _where(self, node: ast.AST) -> str:
        seg = ast.get_source_segment(self.src, node) or ""
        seg = seg if len(seg) <= 40 else seg[:37] + "..."
        col = getattr(node, "col_offset", None)
        at = f" at column {col + 1}" if col is not None else ""
        return f" ({seg!r}{at})" if seg else at

    def fail(self, node: ast.AST, what: str) -> None:
        raise EoscheckError(f"{what} not allowed in a formula{self._where(node)}")

    # --- values ----------------------------------------------------------------
    def expr(self, node: ast.AST) -> sp.Expr:
        """A number-valued sub-expression."""
        method: Callable | None = getattr(self, f"_{type(node).__name__}", None)
        if method is None:
            self.fail(node, _NODE_TEXT.get(type(node), type(node).__name__))
        out = method(node)
        if not isinstance(out, sp.Expr):
            self.fail(node, "a condition outside where()/piecewise() is")
        # sympy folds the numbers of a product into one coefficient (ℓ·2¹⁰⁰⁰·…·2¹⁰⁰⁰ is 2¹⁶⁰⁰⁰ℓ), which no numeric
        # sub-expression shows: every number formed is capped, before anything reads it
        for r in out.atoms(sp.Rational):
            if abs(r.p) >= _TOO_MANY_DIGITS or r.q >= _TOO_MANY_DIGITS:
                what = "small or too precise" if r.q >= _TOO_MANY_DIGITS else "large"
                raise EoscheckError(f"numeric constant too {what} (more than {MAX_DIGITS} digits){self._where(node)}; "
                                    "write smaller constants")
        if out.is_number:
            if _complex_constant(out):
                raise EoscheckError(f"the constant {_shown(out)} is not a real number{self._where(node)}; "
                                    "a formula must be real-valued (e.g. no sqrt or log of a negative number)")
            if out.is_finite is not False:
                v = real_number(out)
                if v is not None and not math.isfinite(v):
                    raise EoscheckError(f"numeric value too large (beyond the float range){self._where(node)}")
        return out

    def _Constant(self, node: ast.Constant) -> sp.Expr:
        v = node.value
        if isinstance(v, bool) or v is None or v is Ellipsis:
            self.fail(node, f"the constant {v!r} is")
        if isinstance(v, (str, bytes)):
            self.fail(node, "strings are")
        if isinstance(v, complex):
            self.fail(node, "complex numbers are")
        if isinstance(v, int):
            return sp.Integer(v)
        if isinstance(v, float):
            if not math.isfinite(v):
                raise EoscheckError(f"number too large (beyond the float range){self._where(node)}")
            return self._decimal(node, v)
        self.fail(node, f"the constant {type(v).__name__} is")  # pragma: no cover

    def _decimal(self, node: ast.Constant, v: float) -> sp.Rational:
        """A decimal literal as the exact rational of its text: ``1e-400`` is 10⁻⁴⁰⁰ (its float is 0.0), and
        ``0.1`` is 1/10; below 10^−max_exponent, as ``10**-1001`` is, it is refused."""
        seg = (ast.get_source_segment(self.src, node) or "").replace("_", "")
        try:
            d = decimal.Decimal(seg)
        except decimal.InvalidOperation:      # pragma: no cover - the parser gave a float literal its text
            return _exact(v)
        if d and d.adjusted() < -self.max_exponent:
            raise EoscheckError(f"number too small (the smallest literal is 1e-{self.max_exponent}; write 0 for "
                                f"zero){self._where(node)}")
        return sp.Rational(seg)

    def _Name(self, node: ast.Name) -> sp.Expr:
        if node.id in self.variables:
            return self.variables[node.id]
        if node.id in CONSTANTS:
            return CONSTANTS[node.id]
        if node.id in self.functions:
            raise EoscheckError(f"{node.id} is a function; call it, e.g. {node.id}(z){self._where(node)}")
        if node.id in ("True", "False"):  # pragma: no cover - parsed as Constant
            self.fail(node, "a truth value outside a condition is")
        known = ", ".join(list(self.variables) + list(CONSTANTS))
        raise EoscheckError(f"unknown name {node.id!r}{self._where(node)}; a formula may use {known} "
                            f"and the functions {', '.join(sorted(self.functions))}")

    def _UnaryOp(self, node: ast.UnaryOp) -> sp.Expr:
        if isinstance(node.op, ast.USub):
            return -self.expr(node.operand)
        if isinstance(node.op, ast.UAdd):
            return self.expr(node.operand)
        if isinstance(node.op, ast.Not):
            self.fail(node, "'not' outside a condition is")
        self.fail(node, f"the operator {_OP_TEXT.get(type(node.op), '?')!r} is")

    def _BinOp(self, node: ast.BinOp) -> sp.Expr:
        op = type(node.op)
        if op is ast.BitXor:
            raise EoscheckError(f"'^' is not a power in a formula; write ** instead{self._where(node)}")
        if op not in (ast.Add, ast.Sub, ast.Mult, ast.Div, ast.Pow):
            self.fail(node, f"the operator {_OP_TEXT.get(op, '?')!r} is")
        left = self.expr(node.left)
        right = self.expr(node.right)
        if op is ast.Add:
            return left + right
        if op is ast.Sub:
            return left - right
        if op is ast.Mult:
            return left * right
        if op is ast.Div:
            if right.is_zero:
                raise EoscheckError(f"division by zero{self._where(node)}")
            return left / right
        return self._power(node, left, right)

    def _power(self, node: ast.AST, base: sp.Expr, exponent: sp.Expr) -> sp.Expr:
        """base**exponent, refusing numeric exponents above the cap and numeric results too large to hold."""
        if exponent.is_number:
            e = _magnitude(exponent)
            if e is None or e > self.max_exponent:
                shown = sp.sstr(exponent) if len(sp.sstr(exponent)) < 30 else "a huge number"
                raise EoscheckError(f"exponent {shown} is too large (|exponent| ≤ {self.max_exponent})"
                                    f"{self._where(node)}")
            if base.is_number:
                b = _log10_magnitude(base)
                if b is None or e * b > MAX_DIGITS:
                    raise EoscheckError(f"numeric power too large (more than {MAX_DIGITS} digits)"
                                        f"{self._where(node)}")
        if base.is_zero and exponent.is_number and exponent.is_negative:
            raise EoscheckError(f"division by zero (0 to a negative power){self._where(node)}")
        return sp.Pow(base, exponent)

    def _Call(self, node: ast.Call) -> sp.Expr:
        if not isinstance(node.func, ast.Name):
            self.fail(node.func, "calling anything but a named function is")
        fname = node.func.id
        if fname not in self.functions:
            allowed = ", ".join(sorted(self.functions))
            raise EoscheckError(f"function {fname!r} is not allowed{self._where(node)}; allowed: {allowed}")
        if node.keywords:
            self.fail(node.keywords[0].value, "keyword arguments are")
        for arg in node.args:
            if isinstance(arg, ast.Starred):
                self.fail(arg, "star arguments are")
        if fname == "where":
            return self._where_call(node)
        if fname == "piecewise":
            return self._piecewise_call(node)
        if fname in _VARIADIC:
            if len(node.args) < 2:
                raise EoscheckError(f"{fname}() takes two or more arguments{self._where(node)}")
            return _VARIADIC[fname](*[self.expr(a) for a in node.args])
        if len(node.args) != 1:
            raise EoscheckError(f"{fname}() takes exactly one argument{self._where(node)}")
        arg = self.expr(node.args[0])
        if fname == "log1p":
            return sp.log(1 + arg)
        if fname == "erfc":
            # keep erfc(-x) as written: sympy's 2 - erfc(x) cancels catastrophically for large x
            return sp.erfc(arg, evaluate=not arg.could_extract_minus_sign())
        return _UNARY[fname](arg)

    def _IfExp(self, node: ast.IfExp) -> sp.Expr:
        return self._piecewise([(self.expr(node.body), self.cond(node.test)), (self.expr(node.orelse), sp.true)],
                               node)

    def _where_call(self, node: ast.Call) -> sp.Expr:
        if len(node.args) != 3:
            raise EoscheckError(f"where() takes three arguments: where(condition, value_if_true, "
                                f"value_otherwise){self._where(node)}")
        cond, a, b = node.args
        return self._piecewise([(self.expr(a), self.cond(cond)), (self.expr(b), sp.true)], node)

    def _piecewise_call(self, node: ast.Call) -> sp.Expr:
        if not node.args:
            raise EoscheckError(f"piecewise() needs cases (value, condition){self._where(node)}")
        cases = []
        for arg in node.args:
            if not (isinstance(arg, ast.Tuple) and len(arg.elts) == 2):
                raise EoscheckError(f"each piecewise() case must be a pair (value, condition){self._where(arg)}")
            cases.append((self.expr(arg.elts[0]), self.cond(arg.elts[1])))
        if cases[-1][1] is not sp.true:
            raise EoscheckError(f"the last piecewise() case must be (value, True) so the formula is defined "
                                f"everywhere{self._where(node.args[-1])}")
        return self._piecewise(cases, node)

    def _piecewise(self, cases, node) -> sp.Expr:
        try:
            return sp.Piecewise(*cases)
        except (TypeError, ValueError) as err:
            raise EoscheckError(f"bad conditional{self._where(node)}: {err}") from None

    # --- conditions --------------------------------------------------------------
    def cond(self, node: ast.AST) -> sp.Basic:
        """A boolean condition: comparisons combined with and/or/not, or True/False."""
        if isinstance(node, ast.Constant) and isinstance(node.value, bool):
            return sp.true if node.value else sp.false
        if isinstance(node, ast.Compare):
            parts = []
            left = self.expr(node.left)
            for op, comp in zip(node.ops, node.comparators):
                if type(op) not in _COMPARE:
                    self.fail(node, f"the comparison {_OP_TEXT.get(type(op), '?')!r} is")
                right = self.expr(comp)
                parts.append(self._relation(type(op), left, right, node))
                left = right
            return sp.And(*parts)
        if isinstance(node, ast.BoolOp):
            args = [self.cond(v) for v in node.values]
            return sp.And(*args) if isinstance(node.op, ast.And) else sp.Or(*args)
        if isinstance(node, ast.UnaryOp) and isinstance(node.op, ast.Not):
            return sp.Not(self.cond(node.operand))
        if isinstance(node, ast.BinOp) and isinstance(node.op, (ast.BitAnd, ast.BitOr)):
            a, b = self.cond(node.left), self.cond(node.right)
            return sp.And(a, b) if isinstance(node.op, ast.BitAnd) else sp.Or(a, b)
        name = "z" if "z" in self.variables else next(iter(self.variables), "x")   # a conjecture has no z
        raise EoscheckError(f"expected a condition such as {name} > 0{self._where(node)}")

    def _relation(self, op, left, right, node):
        try:
            return _COMPARE[op](left, right)
        except TypeError as err:
            raise EoscheckError(f"cannot compare these values{self._where(node)}: {err}") from None


def _shown(x: sp.Expr) -> str:
    t = sp.sstr(x)
    return t if len(t) <= 30 else t[:27] + "..."


def _complex_constant(x: sp.Expr) -> bool:
    """Whether a numeric sympy value is (structurally) non-real: it holds I, a negative number to a
    non-integer power, or the log of a negative number.  Decided in float arithmetic (no evalf)."""
    if x.has(sp.I):
        return True
    for node in sp.preorder_traversal(x):
        if isinstance(node, sp.Pow) and node.base.is_number and not node.exp.is_Integer:
            b = real_number(node.base)
            if b is not None and b < 0:
                return True
        elif isinstance(node, sp.log) and node.args[0].is_number:
            a = real_number(node.args[0])
            if a is not None and a < 0:
                return True
    return False


def _magnitude(x: sp.Expr) -> float | None:
    """|x| as a float for a numeric sympy value, None when it is not a finite real number."""
    v = real_number(x)
    if v is None or not math.isfinite(v):
        return None
    return abs(v)


_FLOAT_FUNCS = {sp.exp: math.exp, sp.log: math.log, sp.erf: math.erf, sp.erfc: math.erfc, sp.tanh: math.tanh}


def real_number(x: sp.Basic) -> float | None:
    """A numeric sympy value in plain float arithmetic (±inf on overflow), None when not real or unknown.

    Never calls sympy's evalf, so a hostile constant such as exp(exp(exp(100))) costs microseconds.
    """
    try:
        if isinstance(x, sp.Rational):
            return x.p / x.q if abs(x.p) < 10**300 and x.q < 10**300 else _big_ratio(x)
        if x is sp.pi:
            return math.pi
        if x is sp.E:
            return math.e
        if isinstance(x, sp.Float):
            return float(x)
        if isinstance(x, (sp.Add, sp.Mul, sp.Pow, sp.Abs, sp.Max, sp.Min)) or type(x) in _FLOAT_FUNCS:
            args = [real_number(a) for a in x.args]
            if any(a is None for a in args):
                return None
            if isinstance(x, sp.Add):
                return math.fsum(args)
            if isinstance(x, sp.Mul):
                return math.prod(args)
            if isinstance(x, sp.Pow):
                return _fpow(*args)
            if isinstance(x, sp.Abs):
                return abs(args[0])
            if isinstance(x, sp.Max):
                return max(args)
            if isinstance(x, sp.Min):
                return min(args)
            if type(x) is sp.log and args[0] <= 0:
                return None
            return _FLOAT_FUNCS[type(x)](args[0])
    except OverflowError:
        return math.inf
    except (ValueError, ZeroDivisionError):
        return None
    return None


def _fpow(b: float, e: float) -> float | None:
    if math.isinf(b) or math.isinf(e):
        return math.inf if (abs(b) > 1 and e > 0) or (abs(b) < 1 and e < 0) else 0.0
    try:
        v = b**e
    except ZeroDivisionError:
        return math.inf
    return None if isinstance(v, complex) else float(v)


def _big_ratio(x: sp.Rational) -> float:
    """p/q for huge integers, via their digit counts (inf when beyond the float range)."""
    digits = _digits(x.p) - _digits(x.q)
    if digits > 308:
        return math.inf if x.p > 0 else -math.inf
    if digits < -330:
        return 0.0
    return float(sp.Rational(x.p, x.q).evalf(20))


def _digits(n: int) -> int:
    """The number of decimal digits of |n| (1 for 0), without ``str``, which refuses ints beyond 4300 digits."""
    n = abs(n)
    if n < 10:
        return 1
    d = int(math.log10(n))      # log10 of an int of any size; its rounding may be one off at a power of 10
    if n >= 10 ** (d + 1):
        d += 1
    elif n < 10**d:
        d -= 1
    return d + 1


def _log10_magnitude(x: sp.Expr) -> float | None:
    """About the number of decimal digits of a numeric base (numerator and denominator), ≥ 1."""
    if isinstance(x, sp.Rational):
        return max(1.0, _digits(x.p), _digits(x.q))
    m = _magnitude(x)
    if m is None:
        return None
    return max(1.0, abs(math.log10(m)) if m > 0 else 1.0)
