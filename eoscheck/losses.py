"""Classification losses ℓ(z) of the margin z = y·f(x).

A :class:`Loss` is defined once, by a sympy expression in the real symbol
:data:`z` (piecewise allowed).  Everything else derives from that expression
or is tested against it:

* ``value``, ``grad`` (ℓ′), ``hess`` (ℓ″) and ``log_value`` (ln ℓ) evaluate it
  on torch tensors.  Built-ins carry hand-written, numerically stable forms
  (softplus/log1p/logaddexp style) that the test-suite checks against the sympy
  derivatives in high precision; a loss built from an arbitrary expression
  gets its evaluators from :mod:`eoscheck.compiler` (torch back end) of the
  expression and its derivatives.
* ``ell0`` = ℓ(0), ``expr_grad`` and ``expr_hess`` are sympy objects.

References: Wu, Bartlett, Telgarsky, Yu (COLT 2024), eq. (1) for the logistic
loss and Proposition 5 for the flattened exponential and polynomial losses.
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass, field
from typing import Callable, Mapping

import sympy as sp
import torch

from ._errors import EoscheckError
from .compiler import compile_expr

#: The margin variable of every loss expression.
z = sp.Symbol("z", real=True)

Fn = Callable[[torch.Tensor], torch.Tensor]

_LOG_TINY = -745.0  # ln of the smallest positive subnormal double, rounded


@dataclass(frozen=True, eq=False)
class Loss:
    """A loss ℓ: ℝ → ℝ₊ defined by the sympy expression ``expr`` in :data:`z`.

    Args:
      name: short identifier, e.g. ``"logistic"`` or ``"flat_exp(a=2)"``.
      expr: sympy expression in :data:`z`, all parameters substituted.
      family: the family name (``"logistic"``, ``"flat_poly"``, ``"custom"``, ...).
      params: the family parameters, e.g. ``{"a": 2.0}``.
      template: the family expression with its parameters as symbols (for
        symbolic work, e.g. Table 1), or ``expr`` itself.
      paper_constants: the constants of Assumption 3 the paper states for this
        loss (Prop. 5), e.g. ``{"C_g": 1, "C_beta": e/2, "C_e": 2}``; ``None``
        marks a condition the paper says fails.  Empty for custom losses: use
        :func:`eoscheck.audit_loss` to establish them.
      tail: ``"exponential"``, ``"polynomial"`` or ``None`` (unknown).
      tail_degree: the polynomial degree a of a polynomial tail ℓ ~ z^{-a}.
    """

    name: str
    expr: sp.Expr
    family: str = "custom"
    params: Mapping[str, float] = field(default_factory=dict)
    template: sp.Expr | None = None
    paper_constants: Mapping[str, object] = field(default_factory=dict)
    tail: str | None = None
    tail_degree: float | None = None
    _value: Fn | None = field(default=None, repr=False)
    _grad: Fn | None = field(default=None, repr=False)
    _hess: Fn | None = field(default=None, repr=False)
    _log_value: Fn | None = field(default=None, repr=False)

    def __post_init__(self) -> None:
        free = self.expr.free_symbols - {z}
        if free:
            names = ", ".join(sorted(map(str, free)))
            raise EoscheckError(f"loss expression has unset parameters: {names}; give them values")

    # --- symbolic -------------------------------------------------------------
    @property
    def expr_grad(self) -> sp.Expr:
        """ℓ′(z) as a sympy expression (Abs/Max/Min differentiated as Piecewise)."""
        return sp.diff(piecewise_form(self.expr), z)

    @property
    def expr_hess(self) -> sp.Expr:
        """ℓ″(z) as a sympy expression."""
        return sp.diff(piecewise_form(self.expr), z, 2)

    @property
    def ell0(self) -> float:
        """ℓ(0) in float64 (NaN where undefined; never sympy's unbounded evalf), logs evaluated stably:
        log(1 + e^{710}) is 710, not log of an overflowed e^{710} (∞)."""
        return float(compile_expr(piecewise_form(self.expr), [z], stable_log=True).numpy(0.0))

    # --- numeric (torch, elementwise) -------------------------------------------
    def value(self, m: torch.Tensor) -> torch.Tensor:
        """ℓ(m) elementwise."""
        return (self._value or _lambdified(piecewise_form(self.expr)))(m)

    def grad(self, m: torch.Tensor) -> torch.Tensor:
        """ℓ′(m) elementwise."""
        return (self._grad or _lambdified(self.expr_grad))(m)

    def hess(self, m: torch.Tensor) -> torch.Tensor:
        """ℓ″(m) elementwise."""
        return (self._hess or _lambdified(self.expr_hess))(m)

    def g(self, m: torch.Tensor) -> torch.Tensor:
        """g(m) = |ℓ′(m)|, the gradient potential's summand (Assumption 3B)."""
        return self.grad(m).abs()

    def log_value(self, m: torch.Tensor) -> torch.Tensor:
        """ln ℓ(m) elementwise, finite where ℓ(m) under- or overflows (−inf only where ℓ = 0): a built-in's
        hand-written form, else log ℓ compiled with the stable-log rules (ln log(1 + e^{−800}) is −800)."""
        if self._log_value is not None:
            return self._log_value(m)
        return _lambdified(sp.log(piecewise_form(self.expr), evaluate=False))(m)

    @property
    def has_stable_forms(self) -> bool:
        """Whether ℓ has hand-written (or attached) evaluators rather than compiled ones."""
        return self._value is not None

    def with_evaluators(self, value: Fn, grad: Fn, hess: Fn, log_value: Fn | None = None) -> "Loss":
        """This loss with the given torch evaluators of ℓ, ℓ′, ℓ″ (and ln ℓ) attached."""
        import dataclasses

        return dataclasses.replace(self, _value=value, _grad=grad, _hess=hess, _log_value=log_value)

    @functools.cached_property
    def expr_text(self) -> str:
        """``str(expr)``, printed once: sympy's printer takes ~0.2 ms, more than a small run's steps."""
        return str(self.expr)

    def __repr__(self) -> str:
        return f"Loss({self.name}: {sp.sstr(self.expr)})"


#: The functions :func:`piecewise_form` writes as Piecewise.
NONSMOOTH = (sp.Abs, sp.Max, sp.Min, sp.sign, sp.Heaviside)


def piecewise_form(expr: sp.Expr) -> sp.Expr:
    """``expr`` with Abs, Max, Min, sign and Heaviside written as one Piecewise, so derivatives stay Piecewise
    (no DiracDelta/Heaviside) and evaluate by ``torch.where``.

    Folded into one Piecewise (each piece one formula on one set), so that a derivative at a
    breakpoint is one piece's: exp(−max(z, 0)) − min(z, 0) (flat_exp) had ℓ′(0) = 0 when each of max
    and min was differentiated by its own convention at 0, where ℓ′(0) = −1 from either side — and GD,
    which starts with every margin at 0, did not move.  A single-point piece that folding creates
    (``(1, (z >= 0) & (z <= 0))``) is dropped where the piece that takes over has the same value there:
    as a piece its derivative would be a constant's, 0.

    Folding k non-smooth atoms makes up to 2^k pieces (7 atoms: 12 s): beyond :data:`FOLD_ATOMS` the
    atoms are rewritten without folding (each differentiated by its own convention at its kink).  Cached
    per expression: value, gradient and ℓ(0) each ask for it."""
    if not expr.has(*NONSMOOTH):
        return expr
    return _piecewise_form(expr)


#: At most this many Abs/Max/Min/sign/Heaviside atoms are folded into one Piecewise (2⁴ pieces at most).
FOLD_ATOMS = 4


@functools.lru_cache(maxsize=256)
def _piecewise_form(expr: sp.Expr) -> sp.Expr:
    pw = expr.replace(lambda e: isinstance(e, NONSMOOTH), lambda e: e.rewrite(sp.Piecewise))
    if len(expr.atoms(*NONSMOOTH)) > FOLD_ATOMS:
        return pw
    pw = sp.piecewise_fold(pw)
    return _drop_point_pieces(pw) if isinstance(pw, sp.Piecewise) else pw


def _drop_point_pieces(pw: sp.Piecewise) -> sp.Expr:
    args = list(pw.args)
    keep = []
    for i, (e, c) in enumerate(args):
        pts = c.as_set() if c is not sp.true else sp.S.Reals
        if isinstance(pts, sp.FiniteSet) and all(_continued(e, pt, args[i + 1:]) for pt in pts):
            continue
        keep.append((e, c))
    return sp.Piecewise(*keep)


def _continued(e: sp.Expr, pt, later) -> bool:
    """Whether the first of the ``later`` pieces holding at z = ``pt`` has the value e(pt) there."""
    for e2, c2 in later:
        if c2.subs(z, pt) is sp.true:
            return sp.simplify(e.subs(z, pt) - e2.subs(z, pt)) == 0
    return False


def _lambdified(expr: sp.Expr) -> Fn:
    """A torch evaluator of ``expr`` (in :data:`z`) from the one compiler (:mod:`eoscheck.compiler`), with its
    stable rules for logs and products: a user's log(1 + exp(−z)) is 710 at z = −710 (not ∞), its
    derivative −1 there (not NaN); values only, not for autograd where those rules apply."""
    prog = compile_expr(expr, [z], stable_log=True)

    def fn(m: torch.Tensor) -> torch.Tensor:
        return prog.torch(m).to(m.dtype)

    return fn


# ---------------------------------------------------------------------------
# Stable hand-written forms of the built-ins (tested against the sympy forms).
# ---------------------------------------------------------------------------


def _softplus_neg(m: torch.Tensor) -> torch.Tensor:
    """ln(1 + e^{−m}) = max(−m, 0) + log1p(e^{−|m|}), exact to a few ulps everywhere."""
    return torch.clamp(-m, min=0) + torch.log1p(torch.exp(-m.abs()))


def _logistic_grad(m: torch.Tensor) -> torch.Tensor:
    """ℓ′(m) = −1/(1+e^{m}), computed from e^{−|m|} so neither branch overflows."""
    e = torch.exp(-m.abs())
    return -torch.where(m >= 0, e / (1 + e), 1 / (1 + e))


def _logistic_hess(m: torch.Tensor) -> torch.Tensor:
    """ℓ″(m) = σ(m)σ(−m) = e^{−|m|}/(1+e^{−|m|})²."""
    e = torch.exp(-m.abs())
    return e / (1 + e) ** 2


def _logistic_log(m: torch.Tensor) -> torch.Tensor:
    """ln ln(1+e^{−m}); for large m it equals −m + ln(log1p(u)/u) with u = e^{−m}."""
    big = m > 30
    u = torch.exp(-torch.where(big, m, torch.zeros_like(m)))
    # ln(log1p(u)/u) = −u/2 + u²/24·5 ... ; two terms are exact to 1e-16 for u < e^{-30}
    tail = -m - u / 2
    return torch.where(big, tail, torch.log(_softplus_neg(torch.where(big, torch.zeros_like(m), m))))


def _poly_tail_value(m: torch.Tensor) -> torch.Tensor:
    """√(1+m²) − m without cancellation: 1/(√(1+m²)+m) for m > 0."""
    s = torch.hypot(torch.ones_like(m), m)
    return torch.where(m > 0, 1 / (s + m.clamp(min=0)), s - m)


def _poly_tail_grad(m: torch.Tensor) -> torch.Tensor:
    """m/√(1+m²) − 1 = −1/(s(s+m)) for m > 0 (no cancellation)."""
    s = torch.hypot(torch.ones_like(m), m)
    return torch.where(m > 0, -1 / (s * (s + m.clamp(min=0))), m / s - 1)


def _poly_tail_hess(m: torch.Tensor) -> torch.Tensor:
    """(1+m²)^{−3/2}."""
    s = torch.hypot(torch.ones_like(m), m)
    return 1 / s**3


# ---------------------------------------------------------------------------
# Built-in losses
# ---------------------------------------------------------------------------


def logistic() -> Loss:
    """Logistic loss ℓ(z) = ln(1 + e^{−z}) (eq. (1)); C_g = 1, C_β = e/2, C_e = 2 (Prop. 5)."""
    expr = sp.log(1 + sp.exp(-z))
    return Loss(
        name="logistic",
        expr=expr,
        family="logistic",
        template=expr,
        paper_constants={"C_g": 1, "C_beta": sp.E / 2, "C_e": 2},
        tail="exponential",
        _value=_softplus_neg,
        _grad=_logistic_grad,
        _hess=_logistic_hess,
        _log_value=_logistic_log,
    )


def exponential() -> Loss:
    """Exponential loss ℓ(z) = e^{−z}: not Lipschitz (fails 3B), so not covered by Thm 35/6."""
    expr = sp.exp(-z)
    return Loss(
        name="exponential",
        expr=expr,
        family="exponential",
        template=expr,
        paper_constants={"C_g": None, "C_beta": 1, "C_e": 1},
        tail="exponential",
        _value=lambda m: torch.exp(-m),
        _grad=lambda m: -torch.exp(-m),
        _hess=lambda m: torch.exp(-m),
        _log_value=lambda m: -m,
    )


_a = sp.Symbol("a", positive=True)


#: The largest degree of flat_poly: its C_β = max{a, (a + 1)·2^a} is an exact sympy number, for a = 1e12 one
#: with 3e11 digits (memory grew by GBs); formulas cap their exponents alike (1000).  flat_exp's e^a stays
#: symbolic, so its temperature has no such cap.
PARAM_MAX = 1000.0


def _exact(a: float) -> sp.Expr:
    """The parameter as an exact sympy number: nsimplify's short form where it is the float's value to 1e-15, else
    the float's own rational (nsimplify(1e-100) is 0: flat_exp with a = 1e-100 was the constant loss 1)."""
    A = sp.nsimplify(a)
    if A == 0 or not abs(float(A) - a) <= 1e-15 * abs(a):
        A = sp.Rational(a)
    return A


def _check_positive(a: float, what: str, most: float = math.inf) -> float:
    try:
        value = float(a)
    except (TypeError, ValueError):
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise EoscheckError(f"{what} must be a positive number, got {a!r}")
    if value > most:
        raise EoscheckError(f"{what} must be at most {most:g} (its constants are exact numbers), got {a!r}")
    return value


def flat_exp(a: float = 1.0) -> Loss:
    """Flattened exponential loss with temperature a > 0 (Prop. 5).

    ℓ(z) = e^{−az} for z > 0 and 1 − az for z ≤ 0; C_g = a, C_β = max{a, a e^a/2, 1},
    C_e = 1/a, and ρ(λ) ≤ 1 + ln²(λ)/a².
    """
    a = _check_positive(a, "flat_exp temperature a")
    template = sp.Piecewise((sp.exp(-_a * z), z > 0), (1 - _a * z, True))
    A = _exact(a)

    def value(m):
        return torch.where(m > 0, torch.exp(-a * m.clamp(min=0)), 1 - a * m)

    def grad(m):
        return torch.where(m > 0, -a * torch.exp(-a * m.clamp(min=0)), torch.full_like(m, -a))

    def hess(m):
        return torch.where(m > 0, a * a * torch.exp(-a * m.clamp(min=0)), torch.zeros_like(m))

    def log_value(m):
        return torch.where(m > 0, -a * m, _log_linear_branch(a, m))

    return Loss(
        name=f"flat_exp(a={a:g})",
        expr=template.subs(_a, A),
        family="flat_exp",
        params={"a": a},
        template=template,
        paper_constants={"C_g": A, "C_beta": sp.Max(A, A * sp.exp(A) / 2, 1), "C_e": 1 / A},
        tail="exponential",
        _value=value,
        _grad=grad,
        _hess=hess,
        _log_value=log_value,
    )


def _log_linear_branch(a: float, m):
    """ln(1 − a·m) on m ≤ 0 (torch; m > 0 read as 0): log1p(a|m|), and ln a + ln|m| where a|m| > 1e300 (log1p of it
    overflowed to +inf past 1.8e308, where ln ℓ ≈ 710; the dropped log1p(1/(a|m|)) < 1e-300).  numpy's twin:
    :func:`eoscheck.lossnp.log_linear_branch`."""
    u = -m.clamp(max=0)
    au = a * u
    big = au > 1e300
    return torch.where(big, math.log(a) + torch.log(torch.where(big, u, torch.ones_like(u))), torch.log1p(au))


def flat_poly(a: float = 1.0) -> Loss:
    """Flattened polynomial loss of degree a > 0 (Prop. 5).

    ℓ(z) = (1+z)^{−a} for z > 0 and 1 − az for z ≤ 0; C_g = a,
    C_β = max{a, (a+1)2^a}, no exponential tail (fails 3D), ρ(λ) ≤ 2λ^{2/(a+2)}.
    """
    a = _check_positive(a, "flat_poly degree a", PARAM_MAX)
    template = sp.Piecewise(((1 + z) ** (-_a), z > 0), (1 - _a * z, True))
    A = _exact(a)

    def value(m):
        return torch.where(m > 0, (1 + m.clamp(min=0)) ** (-a), 1 - a * m)

    def grad(m):
        return torch.where(m > 0, -a * (1 + m.clamp(min=0)) ** (-a - 1), torch.full_like(m, -a))

    def hess(m):
        return torch.where(m > 0, a * (a + 1) * (1 + m.clamp(min=0)) ** (-a - 2), torch.zeros_like(m))

    def log_value(m):
        return torch.where(m > 0, -a * torch.log1p(m.clamp(min=0)), _log_linear_branch(a, m))

    return Loss(
        name=f"flat_poly(a={a:g})",
        expr=template.subs(_a, A),
        family="flat_poly",
        params={"a": a},
        template=template,
        paper_constants={"C_g": A, "C_beta": sp.Max(A, (A + 1) * 2**A), "C_e": None},
        tail="polynomial",
        tail_degree=a,
        _value=value,
        _grad=grad,
        _hess=hess,
        _log_value=log_value,
    )


def poly_tail() -> Loss:
    """Smooth polynomial-tail loss ℓ(z) = √(1+z²) − z (~ 1/(2z) as z → ∞, degree 1).

    C², convex, decreasing, C_g = 2, g ≤ ℓ (C_β ≥ 1), no exponential tail.
    Not in the paper's Prop. 5; its constants come from the auditor.
    """
    expr = sp.sqrt(1 + z**2) - z
    return Loss(
        name="poly_tail",
        expr=expr,
        family="poly_tail",
        template=expr,
        tail="polynomial",
        tail_degree=1.0,
        _value=_poly_tail_value,
        _grad=_poly_tail_grad,
        _hess=_poly_tail_hess,
        _log_value=lambda m: -torch.asinh(m),   # ln(√(1+z²) − z) = −asinh z: full precision near z = 0 too
    )


_BUILTINS: dict[str, Callable[..., Loss]] = {
    "logistic": logistic,
    "exponential": exponential,
    "flat_exp": flat_exp,
    "flat_poly": flat_poly,
    "poly_tail": poly_tail,
}

BUILTIN_LOSSES = tuple(_BUILTINS)


def get_loss(spec: str | Loss, **params: float) -> Loss:
    """A built-in loss by name, e.g. ``get_loss("flat_poly", a=2)`` or ``get_loss("flat_poly:a=2")``.

    Raises :class:`EoscheckError` for an unknown name or parameter.
    """
    if isinstance(spec, Loss):
        return spec
    if not isinstance(spec, str):
        raise EoscheckError(f"a loss is a Loss or a built-in name, got {type(spec).__name__}; choose one of: "
                            f"{', '.join(BUILTIN_LOSSES)}")
    name, _, rest = spec.strip().partition(":")
    given = dict(params)
    params = {}
    for item in filter(None, (s.strip() for s in rest.split(","))):
        key, eq, val = item.partition("=")
        key = key.strip()
        if not eq:
            raise EoscheckError(f"bad loss parameter {item!r}; write NAME:KEY=VALUE, e.g. flat_poly:a=2")
        if key in params:      # flat_poly:a=2,a=3 used the last one without a word
            raise EoscheckError(f"loss parameter {key} given twice in {spec.strip()!r}; give it once")
        try:
            params[key] = float(val)
        except ValueError:
            raise EoscheckError(f"loss parameter {key} must be a number, got {val!r}") from None
    for key, val in given.items():  # flat_poly:a=2 with --param a=3 used a = 2 without a word
        if key in params and float(val) != params[key]:
            raise EoscheckError(f"loss parameter {key} given twice ({spec.strip()!r} and {key}={val:g}); give it once")
        params[key] = val
    factory = _BUILTINS.get(name)
    if factory is None:
        known = ", ".join(BUILTIN_LOSSES)
        raise EoscheckError(f"unknown loss {name!r}; choose one of: {known}")
    takes = _parameters(name)
    unknown = sorted(set(params) - set(takes))
    if unknown:
        raise EoscheckError(f"loss {name!r} has no parameter {', '.join(unknown)}; "
                            + (f"it takes {', '.join(takes)} (e.g. {name}:{takes[0]}=2)" if takes
                               else "it takes none"))
    return _builtin(name, tuple(sorted(params.items())))


@functools.lru_cache(maxsize=None)
def _parameters(name: str) -> tuple[str, ...]:
    """The parameters a built-in loss takes (read once: ``inspect.signature`` costs ~20 µs, a tenth of a small
    run's set-up)."""
    import inspect

    return tuple(inspect.signature(_BUILTINS[name]).parameters)


@functools.lru_cache(maxsize=128)
def _builtin(name: str, params: tuple) -> Loss:
    """A built-in loss, built once per (name, parameters): building one costs ~0.2 ms of sympy, as much
    as a small run (a Loss is frozen, so the same object can serve every caller)."""
    return _BUILTINS[name](**dict(params))


def from_expr(expr: sp.Expr, name: str | None = None) -> Loss:
    """A custom loss from a sympy expression in :data:`z` (evaluated by :mod:`eoscheck.compiler`).

    To build one from a user's string, parse it safely with :func:`eoscheck.parse_loss`.
    """
    if not isinstance(expr, sp.Basic):
        raise EoscheckError("from_expr takes a sympy expression; parse strings with eoscheck.parse_loss")
    syms = {s.name: s for s in expr.free_symbols}
    if "z" in syms and syms["z"] is not z:
        expr = expr.subs(syms["z"], z)
    return Loss(name=name or sp.sstr(expr), expr=expr, template=expr)
