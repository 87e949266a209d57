"""The :class:`Bound` object: one statement of the theory, with its provenance, and the registry.

A bound is a sympy expression (its right-hand side) wrapped with what makes it
checkable (after PEPit's tagged guarantees): an id, a kind, the LaTeX
statement, the source (paper, theorem/lemma/equation), the domain of validity
as sympy relationals, the assumptions, the constants (explicit numbers, or
named free constants where the paper says Θ/O/Ω), whether it is exact, and
numpy/torch evaluators vectorized over the parameters.  Bounds that involve
ρ, ψ or ψ⁻¹ take a ``loss=`` and use its numeric or closed-form ρ.
"""

from __future__ import annotations

import difflib
import math
from dataclasses import dataclass, field
from typing import Any, Mapping

import numpy as np
import sympy as sp
import torch
from sympy.core.function import AppliedUndef
from sympy.printing.str import StrPrinter

from .._errors import DivergenceError, EoscheckError
from ..losses import Loss, z as Z_LOSS
from ._compile import bind, compile_expr
from .symbols import LOSS_ASSUMPTION, LOSS_CONSTANTS, LOSS_FUNCTIONS, STANDING, SYMBOLS

#: The kinds of statement (PEPit-style tags).
KINDS = {
    "upper": "upper bound: quantity ≤ expression",
    "lower": "lower bound: quantity ≥ expression",
    "threshold": "a condition on the run (quantity vs expression) that triggers a conclusion",
    "implication": "a condition on the parameters that implies a conclusion",
    "time": "a time by which something happens",
    "choice": "a prescribed parameter value",
    "definition": "a defined quantity used by other bounds",
}

_REL_LATEX = {"<=": r"\le", ">=": r"\ge", "<": "<", ">": ">", "=": "=", ":=": ":="}
_REL_TEXT = {"<=": "≤", ">=": "≥", "<": "<", ">": ">", "=": "=", ":=": ":="}
_DOMAIN_RTOL = 1e-12  # a domain boundary met up to rounding counts as met

WU_COLT = "Wu, Bartlett, Telgarsky, Yu (COLT 2024)"


@dataclass(frozen=True)
class Source:
    """Where a statement comes from: paper, theorem/lemma, equation, our reference, provenance tag."""

    where: str
    paper: str = WU_COLT
    equation: str = ""
    ref: str = ""
    tag: str = "V"  # V verbatim, D derived from the proofs, S secondary, R recalled (paper.md legend)

    def __str__(self) -> str:
        eq = f", {self.equation}" if self.equation else ""
        return f"{self.where}{eq}"

    def to_dict(self) -> dict[str, str]:
        return {"paper": self.paper, "where": self.where, "equation": self.equation, "ref": self.ref, "tag": self.tag}


@dataclass(frozen=True)
class Assumptions:
    """What a bound needs: data (bounded, separable, ...), loss (logistic or Assumption 3 letters), model."""

    data: tuple[str, ...] = ("bounded", "separable")
    loss: tuple[str, ...] = ("logistic",)
    model: str = "linear"
    init: str = "w0 = 0"

    def to_dict(self) -> dict[str, Any]:
        return {"data": list(self.data), "loss": list(self.loss), "model": self.model, "init": self.init}

    def __str__(self) -> str:
        loss = "logistic" if self.loss == ("logistic",) else "Assumption 3" + "".join(self.loss)
        return f"data: {', '.join(self.data) or '-'}; loss: {loss}; model: {self.model}; init: {self.init}"


LOGISTIC = Assumptions()


@dataclass(frozen=True)
class Constant:
    """A constant of a bound: an explicit number, or ``None`` for a free constant (Θ/O/Ω)."""

    value: sp.Expr | None
    description: str = ""

    @property
    def free(self) -> bool:
        return self.value is None


class _TextPrinter(StrPrinter):
    _NAMES = {"eta": "η", "gamma": "γ", "lambda": "λ", "delta": "δ", "C_beta": "C_β", "ell0": "ℓ(0)",
              "lambda_max": "λ_max", "rho": "ρ", "psi": "ψ", "psi_inv": "ψ⁻¹", "LambertW": "W"}

    def _print_Symbol(self, expr):
        return self._NAMES.get(expr.name, expr.name)

    def _print_Function(self, expr):
        name = self._NAMES.get(expr.func.__name__, expr.func.__name__)
        return f"{name}({', '.join(self._print(a) for a in expr.args)})"

    _print_AppliedUndef = _print_Function

    def _print_Exp1(self, expr):
        return "e"


def const(name: str) -> sp.Symbol:
    """The symbol of a named constant of a bound template (positive real)."""
    return sp.Symbol(name, positive=True, real=True)


def text(expr: sp.Basic) -> str:
    """A one-line unicode rendering of an expression (η, γ, ρ, ln, ^, ...)."""
    out = _TextPrinter({"order": None}).doprint(expr)
    for a, b in (("**", "^"), ("log(", "ln("), ("Max(", "max("), ("Min(", "min("), (" <= ", " ≤ "), (" >= ", " ≥ ")):
        out = out.replace(a, b)
    return out


_LATEX_NAMES = {
    "grad_proj": r"\langle\nabla L(\mathbf{w}),\mathbf{w}_*\rangle", "grad_norm": r"\|\nabla L(\mathbf{w}_t)\|",
    "L_t": r"L(\mathbf{w}_t)", "L_s": r"L(\mathbf{w}_s)", "F_s": r"F(\mathbf{w}_s)", "G_t": r"G(\mathbf{w}_t)",
    "ell0": r"\ell(0)", "lambda_max": r"\lambda_{\max}", "hess_max": r"\lambda_{\max}(\nabla^2 L)",
    "C1": "C_1", "C2": "C_2", "c0": "c_0",
}


def latex(expr: sp.Basic) -> str:
    """LaTeX of an expression with the paper's notation (ln, ψ⁻¹, F(w_s), ℓ(0), ...)."""
    from .symbols import psi_inv

    names = {sym: _LATEX_NAMES[sym.name] for sym in expr.free_symbols if sym.name in _LATEX_NAMES}
    expr = expr.replace(psi_inv, sp.Function(r"\psi^{-1}"))
    return sp.latex(expr, ln_notation=True, symbol_names=names)


@dataclass
class DomainReport:
    """The domain conditions at given parameters: met, failed, and not checkable (missing values)."""

    satisfied: list[str] = field(default_factory=list)
    violated: list[str] = field(default_factory=list)
    unchecked: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.violated and not self.unchecked


@dataclass(frozen=True, eq=False)
class Bound:
    """One statement of the theory.

    Args:
      id: e.g. ``"thm1.eos_average"``.
      kind: one of :data:`KINDS`.
      template: the right-hand side, with named constants as symbols.
      quantity: the bounded/defined quantity in words/unicode, e.g. ``"(1/t)Σ_{k<t} L(w_k)"``.
      lhs: the same in LaTeX.
      relation: ``<=``, ``>=``, ``<``, ``>``, ``=`` or ``:=``.
      source: a :class:`Source`.
      assumptions: an :class:`Assumptions`.
      constants: name → :class:`Constant` for the named constants of ``template``.
      domain: bound-specific validity conditions (sympy relationals); the standing
        ranges of the parameters (:data:`~eoscheck.bounds.symbols.STANDING`, positivity)
        are added automatically.
      premise: a hypothesis on the run, LaTeX (e.g. ``L(w_s)\\le 1/\\eta``).
      conclusion: what a threshold/implication/time guarantees, LaTeX.
      exact: True when the inequality has no unknown constant (a violation falsifies it).
      derived: True when read off the proofs rather than stated (paper.md tag [D]).
      notes: errata and caveats (paper.md §11).
      informational: why no claim of ``properties/`` has this bound as its own (a definition, a stepsize
        choice, a threshold that defines another claim's domain, a proof step); empty for a bound that a
        claim checks (``tests/test_properties_registry.py`` holds every bound to one or the other).
    """

    id: str
    kind: str
    template: sp.Expr
    quantity: str
    lhs: str
    relation: str
    source: Source
    assumptions: Assumptions = LOGISTIC
    constants: Mapping[str, Constant] = field(default_factory=dict)
    domain: tuple[sp.Basic, ...] = ()
    premise: str = ""
    conclusion: str = ""
    exact: bool = True
    derived: bool = False
    notes: tuple[str, ...] = ()
    informational: str = ""

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"{self.id}: unknown kind {self.kind!r}")
        if self.relation not in _REL_LATEX:
            raise ValueError(f"{self.id}: unknown relation {self.relation!r}")
        names = {s.name for s in self.template.free_symbols}
        for c in self.constants:
            if c not in names:
                raise ValueError(f"{self.id}: constant {c} does not occur in the template")
        unknown = names - set(SYMBOLS) - set(self.constants)
        if unknown:
            raise ValueError(f"{self.id}: undeclared symbols {sorted(unknown)}")

    # --- symbolic ------------------------------------------------------------------------
    @property
    def expr(self) -> sp.Expr:
        """The right-hand side with the explicit constants substituted (free ones stay symbols)."""
        subs = {const(k): c.value for k, c in self.constants.items() if not c.free}
        return self.template.subs(subs) if subs else self.template

    @property
    def free_constants(self) -> tuple[str, ...]:
        """Names of the constants the paper leaves unspecified (C₁, C₂, c₀, ...)."""
        free = {k for k, c in self.constants.items() if c.free}
        free |= {s.name for s in self.expr.free_symbols if SYMBOLS.get(s.name) and SYMBOLS[s.name].role == "free"}
        return tuple(sorted(free))

    @property
    def functions(self) -> tuple[str, ...]:
        """The loss functions (ρ, ψ, ψ⁻¹) the bound or its domain uses."""
        found = set()
        for e in (self.expr, *self.domain):
            found |= {f.func.__name__ for f in e.atoms(AppliedUndef) if f.func.__name__ in LOSS_FUNCTIONS}
        return tuple(sorted(found))

    def _symbols_of(self, exprs) -> set[str]:
        out: set[str] = set()
        for e in exprs:
            out |= {s.name for s in e.free_symbols}
        return out

    @property
    def symbols(self) -> tuple[str, ...]:
        """Every symbol the right-hand side uses (parameters, states, loss and free constants)."""
        return tuple(sorted(self._symbols_of([self.expr])))

    @property
    def parameters(self) -> tuple[str, ...]:
        """The parameter and state symbols the right-hand side needs (not loss or free constants)."""
        return tuple(s for s in self.symbols if SYMBOLS.get(s) and SYMBOLS[s].role in ("param", "state"))

    @property
    def loss_constants(self) -> tuple[str, ...]:
        """The loss constants (C_g, C_β, C_e, ℓ(0)) the bound or its domain uses."""
        names = self._symbols_of([self.expr, *self.domain])
        return tuple(s for s in sorted(names) if s in LOSS_CONSTANTS)

    @property
    def needs_loss(self) -> bool:
        """Whether evaluation needs a loss (for ρ/ψ/ψ⁻¹ or the loss constants)."""
        return bool(self.functions or self.loss_constants)

    @property
    def full_domain(self) -> tuple[sp.Basic, ...]:
        """Standing ranges of the parameters used (positivity, γ ≤ 1, ...) plus the bound's own domain."""
        used = self._symbols_of([self.expr, *self.domain])
        out: list[sp.Basic] = []
        for name in sorted(used):
            info = SYMBOLS.get(name)
            if info is None or info.role not in ("param",):
                continue
            sym = info.symbol
            if name in STANDING and name not in ("gamma", "delta", "q"):
                pass  # the standing lower bound (n ≥ 1, t ≥ 1, ...) implies positivity
            elif sym.is_positive:
                out.append(sp.Gt(sym, 0, evaluate=False))
            elif sym.is_nonnegative:
                out.append(sp.Ge(sym, 0, evaluate=False))
            out.extend(STANDING.get(name, ()))
        return tuple(out) + tuple(self.domain)

    # --- text ----------------------------------------------------------------------------
    @property
    def formula(self) -> str:
        """One-line unicode form: ``quantity rel expression``."""
        return f"{self.quantity} {_REL_TEXT[self.relation]} {text(self.expr)}"

    @property
    def latex(self) -> str:
        """The LaTeX statement: premise, the relation, the conclusion, and the domain."""
        core = f"{self.lhs} {_REL_LATEX[self.relation]} {latex(self.expr)}"
        if self.kind in ("threshold", "implication"):
            stmt = core + (rf" \;\Longrightarrow\; {self.conclusion}" if self.conclusion else "")
            if self.premise:
                stmt = rf"{self.premise},\ " + stmt
        elif self.kind in ("time", "choice", "definition"):
            stmt = core + (rf";\quad {self.conclusion}" if self.conclusion else "")
            if self.premise:
                stmt = rf"{self.premise} \;\Longrightarrow\; " + stmt
        else:
            stmt = (rf"{self.premise} \;\Longrightarrow\; " if self.premise else "") + core
        if self.domain:
            stmt += r"\quad\text{for } " + r",\ ".join(latex(c) for c in self.domain)
        return stmt

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready description."""
        return {
            "id": self.id, "kind": self.kind, "formula": self.formula, "latex": self.latex,
            "expression": sp.srepr(self.expr), "text": text(self.expr), "source": self.source.to_dict(),
            "assumptions": self.assumptions.to_dict(),
            "constants": {k: (None if c.free else str(c.value)) for k, c in self.constants.items()},
            "free_constants": list(self.free_constants),
            "domain": [text(c) for c in self.full_domain], "symbols": list(self.symbols),
            "parameters": list(self.parameters), "functions": list(self.functions),
            "exact": self.exact, "derived": self.derived, "premise": self.premise,
            "conclusion": self.conclusion, "notes": list(self.notes), "informational": self.informational,
        }

    # --- numeric -------------------------------------------------------------------------
    def _resolve(self, names, loss: Loss | str | None, values: Mapping[str, Any], backend: str,
                 missing_ok: bool = False) -> dict[str, Any]:
        from .rho import as_loss

        for k in values:
            if k not in SYMBOLS and k not in self.constants:
                raise EoscheckError(f"unknown parameter {k!r} for bound {self.id}; it takes {', '.join(self.symbols)}")
        out: dict[str, Any] = {}
        missing = []
        lossobj = as_loss(loss) if loss is not None else None
        for name in sorted(names):
            own = lossobj.params.get(name) if lossobj is not None else None    # a loss parameter: flat_poly's a
            if own is not None and name in values and values[name] is not None and \
                    bool(np.any(np.asarray(values[name], dtype=object) != own)):
                raise EoscheckError(f"bound {self.id}: {name} given twice ({values[name]!s:.40} and the loss "
                                    f"{lossobj.name}'s {name} = {own:g}); give it once")
            if name in values and values[name] is not None:
                try:
                    out[name] = _as_backend(values[name], backend)
                except (TypeError, ValueError):
                    raise EoscheckError(f"bound {self.id}: {name} must be a number or an array of numbers, got "
                                        f"{type(values[name]).__name__} {values[name]!s:.40}; for symbolic values "
                                        "substitute into the bound's expr") from None
            elif name in LOSS_CONSTANTS and lossobj is not None:
                out[name] = _as_backend(_loss_constant(lossobj, name, self.id), backend)
            elif own is not None:
                out[name] = _as_backend(own, backend)
            elif not missing_ok:
                missing.append(name)
        if missing:
            raise EoscheckError(_missing_message(self, missing, lossobj))
        return out

    def _functions(self, loss, backend: str) -> dict:
        if not self.functions:
            return {}
        if loss is None:
            raise EoscheckError(f"bound {self.id} uses {', '.join(self.functions)}: give a loss, e.g. loss='logistic'")
        from .rho import loss_functions

        return loss_functions(loss, backend)

    def _call(self, expr: sp.Basic, loss, values, backend: str):
        names = sorted(s.name for s in expr.free_symbols)
        resolved = self._resolve(names, loss, values, backend)
        syms = [SYMBOLS[n].symbol if n in SYMBOLS else const(n) for n in names]
        fn = bind(compile_expr(expr, syms, backend), self._functions(loss, backend) if expr.atoms(AppliedUndef) else {})
        args = [resolved[n] for n in names]
        try:
            np.broadcast_shapes(*(tuple(a.shape) for a in args))
        except ValueError:
            shapes = ", ".join(f"{n} {tuple(a.shape)}" for n, a in zip(names, args) if a.ndim)
            raise EoscheckError(f"bound {self.id}: the parameters' arrays do not broadcast together ({shapes}); "
                                "give arrays of one shape, or shapes like (3, 1) and (2,) for a grid") from None
        if backend == "numpy":
            shape = np.broadcast_shapes(*(np.shape(a) for a in args)) if args else ()
            with np.errstate(all="ignore"):
                out = np.asarray(fn(*args), dtype=np.float64)
            return np.broadcast_to(out, np.broadcast_shapes(out.shape, shape)).copy()
        device = next((a.device for a in args if a.device.type != "cpu"), torch.device("cpu"))
        args = [a.to(device) for a in args]
        shape = torch.broadcast_shapes(*(a.shape for a in args)) if args else ()
        out = fn(*args)
        out = out if isinstance(out, torch.Tensor) else torch.as_tensor(out, dtype=torch.float64)
        return out.to(device=device, dtype=torch.float64).expand(torch.broadcast_shapes(out.shape, shape))

    def evaluate(self, loss: Loss | str | None = None, *, backend: str = "numpy", check: bool = False, **values):
        """The right-hand side at the given parameters (vectorized; numpy or torch float64).

        Loss constants (C_g, C_β, C_e, ℓ(0)) and ρ/ψ/ψ⁻¹ come from ``loss`` unless
        given explicitly; free constants (C1, C2, c0) must be given.  Parameters go by name (``eta=…``);
        a known parameter this bound does not use is ignored (one set of values can feed several bounds).  Raises
        :class:`EoscheckError` for missing or non-numeric parameters and :class:`DivergenceError`
        for a non-finite value inside the domain.  Outside the domain of validity
        (:attr:`full_domain`, e.g. η ≤ 0) the value is the formula's, which bounds nothing:
        ``check=True`` refuses such parameters (:class:`EoscheckError` naming the violated
        conditions; see :meth:`check_domain`, :meth:`in_domain` for elementwise masks).
        """
        if backend not in ("numpy", "torch"):
            raise EoscheckError(f"backend must be 'numpy' or 'torch', got {backend!r}")
        out = self._call(self.expr, loss, values, backend)
        if check:
            violated = self.check_domain(loss=loss, **values).violated
            if violated:
                raise EoscheckError(f"bound {self.id}: the parameters lie outside its domain ({'; '.join(violated)}); "
                                    "it bounds nothing there")
        if backend == "numpy" and (check or not np.isfinite(out).all()):
            out, tiny = self._exact_where_float_fails(out, loss, values, zeros=check)
            if tiny is not None and check:      # plain evaluation: the float rounding, 0 (as the torch back end)
                raise EoscheckError(f"bound {self.id}: its value ≈ {tiny} underflows float64 (it rounds to 0) at "
                                    f"{_shown(values)}; it is positive, not 0")
        if backend == "torch" and not bool(torch.isfinite(out).all()):
            # the numpy evaluation, its exact fallback included: those entries are constants (their gradient is NaN)
            plain = {k: (v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v) for k, v in values.items()}
            ref = self.evaluate(loss, backend="numpy", **plain)
            fill = torch.as_tensor(np.broadcast_to(ref, tuple(out.shape)).copy(), dtype=torch.float64, device=out.device)
            out = torch.where(torch.isfinite(out), out, fill)
        bad = ~torch.isfinite(out) if backend == "torch" else ~np.isfinite(out)
        if bool(bad.any()):
            try:
                inside = self.in_domain(loss=loss, **values)
            except EoscheckError as err:   # a condition that cannot be evaluated there: say so, not "inside"
                raise DivergenceError(f"bound {self.id}: non-finite value at {_shown(values)}, where its domain cannot be "
                                      f"decided ({err})") from None
            inside = np.asarray(inside.detach().cpu().numpy() if isinstance(inside, torch.Tensor) else inside)
            badn = bad.detach().cpu().numpy() if backend == "torch" else bad
            if bool(np.any(np.broadcast_to(inside, np.broadcast_shapes(inside.shape, badn.shape)) & badn)):
                raise DivergenceError(f"bound {self.id}: non-finite value inside its domain at {_shown(values)}")
        if backend == "numpy" and out.ndim == 0:
            return float(out)
        return out

    def _exact_where_float_fails(self, out: np.ndarray, loss, values: Mapping[str, Any], zeros: bool):
        """``out`` with its non-finite entries (and its zeros, with ``zeros``) recomputed in mpmath at 40 digits,
        when there are at most :data:`EXACT_POINTS` of them: an intermediate beyond the float range (η² at
        η = 1e160, (ηC_g)² at η = 1e200) no longer makes a finite bound "non-finite".  The loss's constants come
        exactly from ``loss`` (:func:`_exact_loss_constant`) and its functions (ρ, ψ, ψ⁻¹) too: a function in float64
        at its argument rounded to float64 (exact to the function's own float accuracy), ρ and ψ at an argument
        beyond float64 by :func:`~eoscheck.bounds.rho.rho_mp`; a point where ψ⁻¹'s argument lies beyond float64
        keeps its float result.
        Returns (out, the exact value of the first entry that underflows to 0 while positive, or None)."""
        bad = ~np.isfinite(out) | ((out == 0) if zeros else False)
        if not bad.any() or int(bad.sum()) > EXACT_POINTS:
            return out, None
        import mpmath

        at = self._exact_at(self.expr, loss, values, out.shape)
        if at is None:                  # a loss constant or function with no loss: keep the float result
            return out, None
        out = np.array(out, dtype=np.float64)
        tiny = None
        with mpmath.workdps(40):
            for idx in map(tuple, np.argwhere(bad)):
                v = at(idx)
                if not mpmath.isfinite(v):
                    continue
                f = float(v)
                out[idx] = f
                if f == 0 and v != 0 and tiny is None:
                    tiny = mpmath.nstr(v, 3)
        return out, tiny

    def _exact_at(self, expr: sp.Basic, loss, values: Mapping[str, Any], shape):
        """idx ↦ ``expr`` at entry idx of the broadcast ``values`` in mpmath (call under ``workdps(40)``), with the
        loss's constants and functions as :meth:`_exact_where_float_fails` says; None when they cannot be resolved."""
        import mpmath

        from .rho import as_loss, rho_mp

        names = sorted(x.name for x in expr.free_symbols)
        try:
            resolved = self._resolve(names, loss, values, "numpy")
            floats = self._functions(loss, "numpy") if expr.atoms(AppliedUndef) else {}
        except EoscheckError:
            return None
        # the loss's constants exactly (C_β = a·e^a/2 of flat_exp(a = 800) is 1.1e350: ∞ in float64)
        exact = {n: _exact_loss_constant(as_loss(loss), n) for n in names
                 if n in LOSS_CONSTANTS and values.get(n) is None and loss is not None}

        def in_float(name, f):
            def g(x):
                if not mpmath.isfinite(x) or abs(x) >= mpmath.mpf(np.finfo(np.float64).max):
                    if name in ("rho", "psi") and x > 0:      # λ beyond float64: ρ in mpmath (psi = λ/ρ)
                        r = rho_mp(loss, x)
                        return r if name == "rho" else x / r
                    return mpmath.nan
                v = float(f(float(x)))
                return mpmath.mpf(v) if math.isfinite(v) else mpmath.nan
            return g
        syms = [SYMBOLS[n].symbol if n in SYMBOLS else const(n) for n in names]
        fn = bind(compile_expr(expr, syms, "mpmath"), {k: in_float(k, f) for k, f in floats.items()})
        args = [np.broadcast_to(resolved[n], shape) for n in names]
        return lambda idx: fn(*[exact[n] if n in exact else mpmath.mpf(float(a[idx])) for n, a in zip(names, args)])

    def numpy(self, loss: Loss | str | None = None, **values):
        """:meth:`evaluate` with numpy arrays (float for scalar input)."""
        return self.evaluate(loss=loss, backend="numpy", **values)

    def torch(self, loss: Loss | str | None = None, **values) -> torch.Tensor:
        """:meth:`evaluate` with torch float64 tensors (differentiable where the expression is)."""
        return self.evaluate(loss=loss, backend="torch", **values)

    def __call__(self, loss: Loss | str | None = None, **values):
        return self.evaluate(loss=loss, **values)

    def check_domain(self, loss: Loss | str | None = None, **values) -> DomainReport:
        """Which domain conditions hold at these parameters (arrays: a condition holds if it holds everywhere)."""
        from .rho import as_loss

        rep = DomainReport()
        for cond in self.full_domain:
            label = text(cond)
            need = {s.name for s in cond.free_symbols}
            have = set(values) | ({n for n in need if n in LOSS_CONSTANTS or n in as_loss(loss).params}
                                  if loss is not None else set())
            lacking = sorted(need - have)
            if lacking or (_functions_in(cond) and loss is None):
                what = ", ".join(lacking) if lacking else "a loss"
                rep.unchecked.append(f"{label} (needs {what})")
                continue
            ok = self._holds(cond, loss, values)
            (rep.satisfied if bool(np.all(ok)) else rep.violated).append(label)
        return rep

    def in_domain(self, loss: Loss | str | None = None, **values):
        """Whether the parameters lie in the domain of validity (elementwise; needs every domain symbol)."""
        result = np.asarray(True)
        for cond in self.full_domain:
            result = result & self._holds(cond, loss, values)
        return bool(result) if result.ndim == 0 else result

    def _holds(self, cond: sp.Basic, loss, values) -> np.ndarray:
        if cond is sp.true:
            return np.asarray(True)
        if cond is sp.false:
            return np.asarray(False)
        if not isinstance(cond, (sp.GreaterThan, sp.StrictGreaterThan, sp.LessThan, sp.StrictLessThan, sp.Equality)):
            raise TypeError(f"{self.id}: unsupported domain condition {cond}")
        lhs = np.asarray(self._call(cond.lhs, loss, values, "numpy"))
        rhs = np.asarray(self._call(cond.rhs, loss, values, "numpy"))
        held = _compare(cond, lhs, rhs, np)
        # where a side left float64's safe range (γ² of γ = 1e-200 is 0, so η·γ²·t = 1e100·1e-400·1e305 read 0 and
        # "η·γ²·t ≥ 1 fails" at 1e5), the sides are taken in mpmath at 40 digits
        shape = np.broadcast_shapes(lhs.shape, rhs.shape)
        with np.errstate(invalid="ignore"):
            off = np.broadcast_to(~((np.abs(lhs) >= _SAFE[0]) & (np.abs(lhs) <= _SAFE[1])) & (lhs != 0), shape) | \
                np.broadcast_to(~((np.abs(rhs) >= _SAFE[0]) & (np.abs(rhs) <= _SAFE[1])) & (rhs != 0), shape)
        if not off.any() or int(off.sum()) > EXACT_POINTS:
            return held
        import mpmath

        at_l, at_r = (self._exact_at(side, loss, values, shape) for side in (cond.lhs, cond.rhs))
        if at_l is None or at_r is None:
            return held
        held = np.array(np.broadcast_to(held, shape))
        with mpmath.workdps(40):
            for idx in map(tuple, np.argwhere(off)):
                a, b = at_l(idx), at_r(idx)
                if mpmath.isnan(a) or mpmath.isnan(b):
                    continue
                held[idx] = _compare(cond, a, b, mpmath)
        return held


#: |side| of a domain condition inside which float64 decides it (below or above, an intermediate may have
#: under- or overflowed: :meth:`Bound._holds` takes the sides in mpmath).
_SAFE = (1e-290, 1e290)


def _compare(cond, lhs, rhs, lib):
    """``cond`` on its evaluated sides (numpy arrays or mpmath numbers), with :data:`_DOMAIN_RTOL` of slack for ≥,
    ≤ and =."""
    big = np.maximum(np.abs(lhs), np.abs(rhs)) if lib is np else max(abs(lhs), abs(rhs))
    tol = _DOMAIN_RTOL * big
    if isinstance(cond, (sp.GreaterThan, sp.StrictGreaterThan)):
        return (lhs > rhs) | ((lhs >= rhs - tol) & isinstance(cond, sp.GreaterThan))
    if isinstance(cond, (sp.LessThan, sp.StrictLessThan)):
        return (lhs < rhs) | ((lhs <= rhs + tol) & isinstance(cond, sp.LessThan))
    return abs(lhs - rhs) <= tol


#: LaTeX → text for the few macros the premises use (the command line prints them).
_TEX_WORDS = {r"\eta": "η", r"\gamma": "γ", r"\beta": "β", r"\delta": "δ", r"\tau": "τ", r"\ell": "ℓ",
              r"\le": "≤", r"\ge": "≥", r"\forall": "∀", r"\lceil": "⌈", r"\rceil": "⌉", r"\min": "min", r"\ln": "ln ",
              r"\top": "ᵀ", r"\;": " ", r"\,": " ", r"\ ": " ", r"\{": "{", r"\}": "}"}


def tex_text(tex: str) -> str:
    """A LaTeX premise as plain text: ``L(\\mathbf{w}_s)\\le\\frac1{8\\eta}`` → ``L(w_s) ≤ 1/(8η)``."""
    import re

    out, prev = tex, None
    while out != prev:                        # innermost first: \hat{\mathbf{w}}
        prev = out
        out = re.sub(r"\\(?:mathbf|text)\{([^{}]*)\}", r"\1", out)
        out = re.sub(r"\\hat\{([^{}]*)\}", "\\1\u0302", out)
    out = re.sub(r"\\frac\{([^{}]*)\}\{([^{}]*)\}", r"(\1)/(\2)", out)
    out = re.sub(r"\\frac(\w)\{([^{}]*)\}", r"\1/(\2)", out)
    for k in sorted(_TEX_WORDS, key=len, reverse=True):
        out = out.replace(k, _TEX_WORDS[k] if k.endswith((" ", ";", ",")) or not k[1:].isalpha()
                          else f" {_TEX_WORDS[k]} " if k in (r"\le", r"\ge") else _TEX_WORDS[k])
    out = re.sub(r"\^\s*ᵀ", "ᵀ", out)
    return re.sub(r"\s+", " ", out).strip()


#: Most entries of one evaluation recomputed in mpmath where float64 fails (:meth:`Bound._exact_where_float_fails`).
EXACT_POINTS = 256


def _functions_in(expr: sp.Basic) -> bool:
    return any(f.func.__name__ in LOSS_FUNCTIONS for f in expr.atoms(AppliedUndef))


def _as_backend(v, backend: str):
    if backend == "torch":
        if isinstance(v, torch.Tensor):
            return v.to(torch.float64)
        return torch.as_tensor(np.asarray(v, dtype=np.float64))
    if isinstance(v, torch.Tensor):
        v = v.detach().cpu().numpy()
    return np.asarray(v, dtype=np.float64)


def _loss_constant(loss: Loss, name: str, bound_id: str) -> float:
    """A loss constant from the loss's stated constants (Prop. 5), or ℓ(0)."""
    if name == "ell0":
        return float(loss.ell0)
    key = LOSS_CONSTANTS[name]
    if key not in loss.paper_constants:
        raise EoscheckError(
            f"bound {bound_id} needs {name} (Assumption {LOSS_ASSUMPTION[name]}) and loss {loss.name} states none;"
            f" pass {name}=VALUE (e.g. from the loss auditor)"
        )
    v = loss.paper_constants[key]
    if v is None:
        raise EoscheckError(
            f"bound {bound_id} needs Assumption {LOSS_ASSUMPTION[name]} ({name}), which loss {loss.name} fails"
            " (paper Prop. 5); use a loss that satisfies it"
        )
    return float(sp.N(v, 17))


def _shown(values: Mapping[str, Any]) -> str:
    """The parameters for a message, one line: numbers as they are, arrays by their range and size."""
    def one(v) -> str:
        if not np.ndim(v):
            return f"{float(v):.6g}" if isinstance(v, (float, np.floating)) else repr(v)
        a = np.asarray(v.detach().cpu().numpy() if isinstance(v, torch.Tensor) else v, dtype=np.float64)
        return f"{np.nanmin(a):.6g}…{np.nanmax(a):.6g} ({a.size} values)" if a.size else "no values"
    return "{" + ", ".join(f"{k} = {one(v)}" for k, v in values.items()) + "}"


def _exact_loss_constant(loss: Loss, name: str):
    """:func:`_loss_constant` in mpmath (its sympy value, or ℓ(0), compiled; :func:`~eoscheck.compiler.mp_value`
    picks the precision, ≥ 30 digits, until no sum loses digits): not rounded to float64, where it may overflow."""
    import mpmath

    from ..compiler import compile_expr as program, mp_value

    if name == "ell0":
        f = program(loss.expr, [Z_LOSS], stable_log=True)
        return mp_value(lambda fl: f.mpmath(0, flags=fl))[0]
    v = loss.paper_constants.get(LOSS_CONSTANTS[name])
    if v is None:
        return mpmath.nan
    p = program(sp.sympify(v), [])
    return mp_value(lambda fl: p.mpmath(flags=fl))[0]


def _missing_message(b: Bound, missing: list[str], loss) -> str:
    parts = []
    for m in missing:
        info = SYMBOLS.get(m)
        if (info is not None and info.role == "free") or (m in b.constants and b.constants[m].free):
            parts.append(f"{m} (a free constant: the paper only says it exists)")
        elif m in LOSS_CONSTANTS and loss is None:
            parts.append(f"{m} (a loss constant: give a loss)")
        else:
            parts.append(f"{m} ({info.description})" if info else m)
    return f"bound {b.id} needs {'; '.join(parts)}"


# ------------------------------------------------------------------------------------------
# Registry
# ------------------------------------------------------------------------------------------

#: id → :class:`Bound`, in the order the theory presents them.
BOUNDS: dict[str, Bound] = {}


def register(bound: Bound) -> Bound:
    """Add a bound to :data:`BOUNDS` (ids are unique)."""
    if bound.id in BOUNDS:
        raise ValueError(f"bound id {bound.id} registered twice")
    BOUNDS[bound.id] = bound
    return bound


def get_bound(bound_id: str) -> Bound:
    """The bound with this id; :class:`EoscheckError` with close matches for an unknown id."""
    if not isinstance(bound_id, str):
        raise EoscheckError(f"a bound id is a string such as 'thm1.tau', got {type(bound_id).__name__} "
                            "(`eoscheck bounds` lists them all)")
    try:
        return BOUNDS[bound_id]
    except KeyError:
        close = difflib.get_close_matches(bound_id, list(BOUNDS), n=3, cutoff=0.5)
        hint = f"; did you mean {', '.join(close)}?" if close else ""
        raise EoscheckError(f"unknown bound {bound_id!r}{hint} (`eoscheck bounds` lists them all)") from None


def list_bounds(kind: str | None = None, prefix: str | None = None) -> list[Bound]:
    """All registered bounds, optionally of one kind and/or with ids starting with ``prefix``."""
    if kind is not None and kind not in KINDS:
        raise EoscheckError(f"unknown kind {kind!r}; choose one of: {', '.join(KINDS)}")
    return [b for b in BOUNDS.values() if (kind is None or b.kind == kind)
            and (prefix is None or b.id.startswith(prefix))]
