"""ρ(λ) = min_z λℓ(z) + z² (Assumption 3A), ψ(λ) = λ/ρ(λ) and ψ⁻¹ for any loss.

Paper §5 (Wu, Bartlett, Telgarsky, Yu, COLT 2024, Assumption 3, Theorem 6).

**The minimizer.**  For convex non-increasing ℓ the objective λℓ(z) + z² is
strictly convex; its minimizer z* solves 2z = λg(z) with g = −ℓ′ ≥ 0
non-increasing, so φ(z) = 2z − λg(z) is strictly increasing with
φ(0) = −λg(0) ≤ 0 and φ(λg(0)/2) = λ(g(0) − g(λg(0)/2)) ≥ 0: the root lies in
(0, λg(0)/2] (for logistic, 2z(1+e^z) = λ with root in (0, λ/4)).  We find it
by vectorized Newton (φ′ = 2 + λℓ″ ≥ 2) safeguarded by bisection on that
bracket, using the loss's stable ``grad``/``hess`` on float64 tensors; this is
exact to a few ulps, unlike ``scipy.optimize.minimize_scalar`` (~1e-8).

**The value.**  ρ = λℓ(z*) + z*² is a sum of two non-negative terms (no
cancellation), and an error δ in z* changes it only by O(δ²) (z* is
stationary); λℓ(z*) is formed in the log domain when ℓ(z*) underflows.
The derivative is dρ/dλ = ℓ(z*) (envelope theorem), which the torch version
uses for autograd.

**Closed forms.**  When ℓ(z) = c·e^{−bz} on z > 0 (the exponential loss, the
flattened exponential loss), sympy solves the stationarity condition with
Lambert W, e.g. ρ(λ) = 2W(λ/2) + W(λ/2)² for ℓ = e^{−z}; the closed form is
used for numpy evaluation after it is checked against the numeric solver.
Other losses (logistic, polynomial tails) are numeric: sympy has no closed
form for logistic, and the Cardano/Ferrari roots it returns for polynomial
tails are slow to derive and lose digits.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Callable

import numpy as np
import sympy as sp
import torch

from .._errors import DivergenceError, EoscheckError
from ..losses import Loss, get_loss, z as Z
from ._compile import compile_expr
from .symbols import lam as LAM

_EPS = 2.220446049250313e-16
_MAXIT = 300


def as_loss(loss: Loss | str) -> Loss:
    """A :class:`Loss` from a loss or a spec such as ``"flat_poly:a=2"``."""
    if isinstance(loss, Loss):
        return loss
    if isinstance(loss, str):
        return get_loss(loss)
    raise EoscheckError(f"expected a Loss or a loss name, got {type(loss).__name__}; e.g. loss='logistic'")


# --------------------------------------------------------------------------------------------
# The numeric minimizer
# --------------------------------------------------------------------------------------------


def _safeguarded_newton(f, x, lo, hi, rtol, what):
    """Vectorized Newton on an increasing f, kept inside the bracket [lo, hi] by bisection.

    ``f(x)`` returns (f, f′); lo/hi are updated from the sign of f at each iterate.
    Stops when the step or the bracket is below ``rtol``·max(|x|, 1).
    """
    for _ in range(_MAXIT):
        fx, dfx = f(x)
        lo = torch.where(fx < 0, x, lo)
        hi = torch.where(fx > 0, x, hi)
        newton = x - fx / dfx
        inside = (newton > lo) & (newton < hi) & torch.isfinite(newton)
        xn = torch.where(inside, newton, 0.5 * (lo + hi))
        xn = torch.where(fx == 0, x, xn)
        tol = rtol * torch.clamp(xn.abs(), min=1.0)
        done = ((xn - x).abs() <= tol) | (fx == 0) | (hi - lo <= tol)
        x = xn
        if bool(done.all()):
            return x, lo, hi
    raise DivergenceError(f"{what} did not converge in {_MAXIT} steps")


def minimizer(loss: Loss | str, lam) -> torch.Tensor:
    """z*(λ) = argmin_z λℓ(z) + z², the root of 2z = λg(z) in (0, λg(0)/2] (float64 tensor).

    Two safeguarded Newton phases: first in u = ln z on F(u) = ln 2z − ln λg(z)
    (F′ = 1 + zℓ″/g ≥ 1, nearly linear for exponential and polynomial tails,
    so a bracket (λg(hi)/2, λg(0)/2] spanning hundreds of decades costs a few
    steps), then in z on φ(z) = 2z − λg(z) (φ′ = 2 + λℓ″) to full precision.
    Vectorized over λ > 0; raises :class:`DivergenceError` if it does not converge.
    """
    loss = as_loss(loss)
    lam = torch.as_tensor(lam, dtype=torch.float64)
    g0 = float(loss.g(torch.zeros((), dtype=torch.float64)))
    if not math.isfinite(g0):    # e.g. e^{710}/(1 + e^{710}) in float64: not a z* of 0 (ρ = λℓ(0) was given)
        raise DivergenceError(f"rho minimizer: g(0) = |ℓ′(0)| is {g0} in float64; ρ is not computed")
    if not g0 > 0:
        return torch.zeros_like(lam)
    with torch.no_grad():
        hi = lam * (g0 / 2)
        lo = lam * loss.g(hi) / 2  # z* = λg(z*)/2 ≥ λg(hi)/2 since g is non-increasing
        lo = torch.where(torch.isfinite(lo) & (lo <= hi), lo, torch.zeros_like(lo))
        lo = torch.minimum(lo.clamp(min=1e-300), hi)
        log_lam = torch.log(lam)

        def f_u(u):
            zv = torch.exp(u)
            gv = loss.g(zv)
            return math.log(2) + u - log_lam - torch.log(gv), 1 + zv * loss.hess(zv) / gv

        # ln of the bracket's top: ln λ + ln(g(0)/2) where λg(0)/2 overflows (ℓ = 1e300·log(1 + e^{−z}) at λ = 1e10, whose
        # z* ≈ 716 is finite: the bracket [1e-300, ∞] bisected to ∞ and ρ read ∞)
        log_hi = torch.where(torch.isfinite(hi), torch.log(hi), log_lam + math.log(g0 / 2))
        u0 = 0.5 * (torch.log(lo) + log_hi)
        u, ulo, uhi = _safeguarded_newton(f_u, u0, torch.log(lo), log_hi, 1e-10, "rho minimizer (log phase)")

        def f_z(zv):
            return 2 * zv - lam * loss.g(zv), 2 + lam * loss.hess(zv)

        zlo = torch.maximum(torch.exp(ulo) * (1 - 1e-12), lo)
        zhi = torch.minimum(torch.exp(uhi) * (1 + 1e-12), hi)
        zs, _, _ = _safeguarded_newton(f_z, torch.exp(u), zlo, zhi, 2 * _EPS, "rho minimizer")
    return zs


def rho_mp(loss: Loss | str, lam):
    """ρ(λ) = λℓ(z*) + z*² in mpmath at the working precision, for any λ > 0 (beyond float64 too: ρ(1e400) of
    the logistic loss is ≈ ln²λ): z* the root of 2z = λg(z), increasing in z (g is non-increasing), bracketed
    by doubling from z = 1 ([0, 1] or [h, 2h]) and bisected to the working precision (bounded: ≤ 4·prec halvings,
    ≤ 4096 doublings).  mpmath NaN when g(0) ≤ 0 or a value is not finite."""
    import mpmath

    from ..compiler import compile_expr as program, mp_value

    loss = as_loss(loss)
    lam = mpmath.mpf(lam)
    ell, g = (program(e, [Z], stable_log=True).mpmath for e in (loss.expr, -loss.expr_grad))

    def gv(x):
        return mp_value(lambda fl: g(x, flags=fl))[0]

    if not (lam > 0 and gv(mpmath.mpf(0)) > 0):
        return mpmath.nan
    phi = (lambda x: 2 * x - lam * gv(x))
    lo, hi = mpmath.mpf(0), mpmath.mpf(1)
    for _ in range(4096):
        if phi(hi) >= 0:
            break
        lo, hi = hi, 2 * hi
    else:
        return mpmath.nan
    for _ in range(4 * mpmath.mp.prec):
        mid = (lo + hi) / 2
        if mid in (lo, hi):
            break
        lo, hi = (mid, hi) if phi(mid) < 0 else (lo, mid)
    zs = (lo + hi) / 2
    v = lam * mp_value(lambda fl: ell(zs, flags=fl))[0] + zs**2
    return v if mpmath.isfinite(v) else mpmath.nan


def _value_at(loss: Loss, lam: torch.Tensor, zs: torch.Tensor) -> torch.Tensor:
    """λℓ(z*) + z*², with λℓ(z*) = exp(ln λ + ln ℓ(z*)) where ℓ(z*) is tiny."""
    ell = loss.value(zs)
    tiny = ~(ell > 1e-280)
    if bool(tiny.any()):
        logged = torch.exp(torch.log(lam) + loss.log_value(zs))
        lam_ell = torch.where(tiny, logged, lam * ell)
    else:
        lam_ell = lam * ell
    return lam_ell + zs * zs


class _RhoFn(torch.autograd.Function):
    """ρ(λ) with the envelope-theorem derivative dρ/dλ = ℓ(z*(λ))."""

    @staticmethod
    def forward(ctx, lam, loss):
        with torch.no_grad():
            zs = minimizer(loss, lam)
            val = _value_at(loss, lam, zs)
        ctx.loss = loss
        ctx.save_for_backward(zs)
        return val

    @staticmethod
    def backward(ctx, grad):
        (zs,) = ctx.saved_tensors
        return grad * ctx.loss.value(zs), None


def _check_lam(lam: torch.Tensor, strict: bool, what: str = "ρ(λ)") -> torch.Tensor:
    """Validate λ: strict mode needs λ ≥ 1 (Assumption 3A); otherwise λ ≤ 0 or NaN give NaN."""
    if strict:
        bad = ~(lam >= 1)
        if bool(bad.any()):
            v = float(lam[bad].flatten()[0])
            raise EoscheckError(f"{what} is defined for λ ≥ 1 (Assumption 3A); got λ = {v:g}")
    return lam


def _solve_numeric(loss: Loss, lam: torch.Tensor, strict: bool) -> torch.Tensor:
    lam = _check_lam(lam, strict)
    ok = lam > 0
    safe = torch.where(ok, lam, torch.ones_like(lam))
    val = _RhoFn.apply(safe, loss)
    return torch.where(ok, val, torch.full_like(val, math.nan))


# --------------------------------------------------------------------------------------------
# Closed forms
# --------------------------------------------------------------------------------------------


def _positive_branch(loss: Loss) -> tuple[sp.Expr, sp.Symbol]:
    """ℓ on z > 0 (the branch holding the minimizer), in a positive symbol."""
    zp = sp.Symbol("z", positive=True)
    return loss.expr.subs(Z, zp), zp


def _derive_closed_form(loss: Loss) -> tuple[sp.Expr | None, str]:
    lp, zp = _positive_branch(loss)
    if lp.has(sp.Piecewise):
        return None, "no closed form tried: ℓ is piecewise on z > 0"
    not_exp = "no closed form tried: ℓ is not c·e^{−bz} on z > 0 (only the Lambert-W class is solved)"
    # read off the form, never simplified: sp.simplify(ℓ′/ℓ) of a sum of seven shifted logistics ran for minutes,
    # unbounded, even under --no-symbolic
    c, rest = lp.as_independent(zp, as_Add=False)
    if not isinstance(rest, sp.exp):
        return None, not_exp
    u = sp.expand(rest.args[0])
    a, k = u.as_independent(zp, as_Add=True)     # u = a + k, a free of z, k = −b·z
    slope = sp.cancel(k / zp)
    if slope.free_symbols or not slope.is_negative:
        return None, not_exp
    # ℓ = c·e^{−bz}: 2z = λbc·e^{−bz} ⇔ (bz)e^{bz} = λb²c/2, so z* = W(λb²c/2)/b and, with
    # e^{−W(x)} = W(x)/x, ρ = (2W + W²)/b².  (sympy's solve does the same for the exponential
    # loss but exhausts memory on float exponents such as a = 0.899…, so the root is written
    # through W and then verified symbolically.)
    b = -slope
    c = c * sp.exp(a)
    if c.free_symbols or not c.is_positive:
        return None, "no closed form tried: ℓ is not c·e^{−bz} on z > 0"
    w = sp.LambertW(LAM * b**2 * c / 2)
    zs = w / b
    residual = (2 * zs + LAM * sp.diff(lp, zp).subs(zp, zs)).subs(sp.exp(-w), w / w.args[0])
    if sp.simplify(residual) != 0:
        return None, "Lambert-W root failed its symbolic check"
    return sp.simplify((2 * w + w**2) / b**2), "sympy: 2z = λg(z) solved with Lambert W (ℓ = c·e^{−bz} on z > 0)"


@dataclass
class Rho:
    """ρ, ψ and ψ⁻¹ of one loss (numeric, or closed form where sympy finds one)."""

    loss: Loss
    closed_form: sp.Expr | None
    method: str

    # --- ρ -----------------------------------------------------------------------------------
    def torch(self, lam, strict: bool = True) -> torch.Tensor:
        """ρ(λ) on float64 tensors (numeric solver, differentiable in λ)."""
        return _solve_numeric(self.loss, torch.as_tensor(lam, dtype=torch.float64), strict)

    def numpy(self, lam, strict: bool = True) -> np.ndarray:
        """ρ(λ) on numpy arrays (the closed form where there is one)."""
        arr = np.asarray(lam, dtype=np.float64)
        if self.closed_form is None:
            return self.torch(torch.from_numpy(arr.copy()), strict).numpy()
        _check_lam(torch.from_numpy(arr.copy()), strict)
        with np.errstate(invalid="ignore"):
            out = np.asarray(compile_expr(self.closed_form, [LAM], "numpy")(arr), dtype=np.float64)
        return np.where(arr > 0, np.broadcast_to(out, arr.shape), np.nan)

    def numeric(self, lam, strict: bool = True) -> np.ndarray:
        """ρ(λ) by the numeric solver, even where a closed form exists (for cross-checks)."""
        return self.torch(torch.from_numpy(np.array(lam, dtype=np.float64)), strict).numpy()

    def __call__(self, lam, strict: bool = True):
        return self.torch(lam, strict) if isinstance(lam, torch.Tensor) else self.numpy(lam, strict)

    # --- ψ -----------------------------------------------------------------------------------
    def psi(self, lam, strict: bool = True):
        """ψ(λ) = λ/ρ(λ)."""
        return lam / self(lam, strict)

    def psi_inv(self, y, strict: bool = True):
        """ψ⁻¹(y): the λ ≥ 1 with ψ(λ) = y, for y ≥ ψ(1) (torch: differentiable, dψ⁻¹/dy = ρ²/z*²).

        Well defined because ψ is increasing: 1/ψ(λ) = min_z ℓ(z) + z²/λ is a minimum of
        functions non-increasing in λ (paper §5), strictly decreasing since z* > 0.
        """
        if isinstance(y, torch.Tensor):
            return _PsiInvFn.apply(y.to(torch.float64), self, strict)
        return self._psi_inv(np.asarray(y, dtype=np.float64), strict)

    def _psi_inv(self, y: np.ndarray, strict: bool) -> np.ndarray:
        psi1 = 1.0 / float(self.numeric(1.0))
        bad = ~(y >= psi1 * (1 - 1e-15))
        if strict and bad.any():
            v = float(y[bad].flat[0])
            raise EoscheckError(f"ψ⁻¹(y) for {self.loss.name} needs y ≥ ψ(1) = {psi1:.6g}; got {v:g}")
        yy = np.where(bad, psi1, np.maximum(y, psi1))
        return np.where(bad, np.nan, _psi_inverse(self, yy))


class _PsiInvFn(torch.autograd.Function):
    """ψ⁻¹ with dψ⁻¹/dy = 1/ψ′(λ) = ρ(λ)²/z*(λ)² (inverse-function rule)."""

    @staticmethod
    def forward(ctx, y, r, strict):
        lam = torch.from_numpy(np.asarray(r._psi_inv(y.detach().cpu().numpy(), strict), dtype=np.float64)).to(y)
        ctx.r = r
        ctx.save_for_backward(lam)
        return lam

    @staticmethod
    def backward(ctx, grad):
        (lam,) = ctx.saved_tensors
        _, slope = _psi_and_slope(ctx.r, lam.detach().cpu().numpy())
        return grad / torch.from_numpy(np.asarray(slope)).to(grad), None, None


def _psi_and_slope(r: Rho, lam: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """ψ(λ) and dψ/dλ = z*²/ρ² (since dρ/dλ = ℓ(z*) and ρ − λℓ(z*) = z*²)."""
    lt = torch.as_tensor(np.asarray(lam, dtype=np.float64))
    zs = minimizer(r.loss, lt)
    rv = _value_at(r.loss, lt, zs).numpy()
    zs = zs.numpy()
    return lam / rv, zs * zs / (rv * rv)


#: ln of the largest float64 (λ = e^700 capped ψ⁻¹ below 1e304 where λ up to 1.8e308 is representable).
_LOG_MAX = math.log(np.finfo(np.float64).max)


def _psi_inverse(r: Rho, y: np.ndarray) -> np.ndarray:
    """Solve ψ(λ) = y (y ≥ ψ(1)) by bisection in u = ln λ, then Newton in λ.

    ψ is increasing: 1/ψ(λ) = min_z ℓ(z) + z²/λ is a minimum of functions
    non-increasing in λ (paper §5), strictly so since z* > 0.
    """
    shape = np.shape(y)
    y = np.atleast_1d(np.asarray(y, dtype=np.float64)).ravel()
    lo = np.zeros_like(y)
    hi = np.maximum(1.0, np.log(np.maximum(y, 1.0)))
    for _ in range(64):
        low = _psi_and_slope(r, np.exp(hi))[0] < y
        if not low.any():
            break
        hi = np.where(low, np.minimum(2 * hi, _LOG_MAX), hi)
    else:
        raise DivergenceError(f"ψ⁻¹ for {r.loss.name}: could not bracket y up to λ = e^{_LOG_MAX:.2f} (the float64 "
                              "maximum)")
    for _ in range(80):  # bisection to ~1e-3 relative bracket, then Newton
        if np.all(hi - lo < 0.5):
            break
        mid = 0.5 * (lo + hi)
        low = _psi_and_slope(r, np.exp(mid))[0] < y
        lo = np.where(low, mid, lo)
        hi = np.where(low, hi, mid)
    lam = np.exp(0.5 * (lo + hi))
    lam_lo, lam_hi = np.exp(lo), np.exp(hi)
    for _ in range(200):  # Newton in λ, safeguarded by the bracket [lam_lo, lam_hi]
        p, dp = _psi_and_slope(r, lam)
        lam_lo = np.where(p < y, lam, lam_lo)
        lam_hi = np.where(p > y, lam, lam_hi)
        new = lam - (p - y) / dp
        inside = (new > lam_lo) & (new < lam_hi) & np.isfinite(new)
        new = np.where(inside, new, lam_lo + 0.5 * (lam_hi - lam_lo))   # the midpoint without overflow at 1e308
        new = np.where(p == y, lam, new)
        done = (np.abs(new - lam) <= 4 * _EPS * new) | (lam_hi - lam_lo <= 4 * _EPS * lam_hi)
        lam = new
        if np.all(done):
            break
    return np.where(y <= 1.0 / float(r.numeric(1.0)), 1.0, lam).reshape(shape)


_CACHE: dict[tuple, Rho] = {}


def rho_of(loss: Loss | str) -> Rho:
    """The :class:`Rho` of a loss (cached per loss expression)."""
    loss = as_loss(loss)
    key = (loss.name, loss.expr)
    r = _CACHE.get(key)
    if r is None:
        expr, how = _derive_closed_form(loss)
        r = Rho(loss, None, "numeric: safeguarded Newton on 2z = λg(z), z ∈ (0, λg(0)/2]")
        if expr is not None:
            grid = np.array([1.0, 3.0, 10.0, 1e3, 1e6, 1e12])
            cand = Rho(loss, expr, f"closed form ({how}): ρ(λ) = {sp.sstr(expr)}")
            a, b = cand.numpy(grid), r.numeric(grid)
            err = float(np.max(np.abs(a - b) / b))
            if err <= 1e-12:
                r = cand
            else:
                r.method += f" (closed form {sp.sstr(expr)} rejected: off by {err:.1e})"
        elif "sympy found" in how:
            r.method += f" ({how})"
        _CACHE[key] = r
    return r


# --------------------------------------------------------------------------------------------
# Functional API (loss first, as ρ_ℓ(λ))
# --------------------------------------------------------------------------------------------


def rho(loss: Loss | str, lam, *, strict: bool = True):
    """ρ(λ) = min_z λℓ(z) + z² for λ ≥ 1 (Assumption 3A), vectorized; numpy in → numpy out, torch → torch."""
    return rho_of(loss)(lam, strict)


def psi(loss: Loss | str, lam, *, strict: bool = True):
    """ψ(λ) = λ/ρ(λ) (Theorem 6); increasing in λ (paper §5)."""
    return rho_of(loss).psi(lam, strict)


def psi_inv(loss: Loss | str, y, *, strict: bool = True):
    """ψ⁻¹(y) for y ≥ ψ(1), by monotone root finding (ψ is increasing, paper §5)."""
    return rho_of(loss).psi_inv(y, strict)


def rho_closed_form(loss: Loss | str) -> sp.Expr | None:
    """ρ(λ) as a sympy expression in λ when sympy finds one (Lambert-W class), else None."""
    return rho_of(loss).closed_form


def rho_method(loss: Loss | str) -> str:
    """How ρ is computed for this loss (closed form or numeric), in words."""
    return rho_of(loss).method


def loss_functions(loss: Loss | str, backend: str) -> dict[str, Callable]:
    """``{"rho", "psi", "psi_inv"}`` evaluators for compiled bounds (non-strict: NaN off-domain)."""
    r = rho_of(loss)
    if backend == "torch":
        return {
            "rho": lambda x: r.torch(torch.as_tensor(x, dtype=torch.float64), strict=False),
            "psi": lambda x: r.psi(torch.as_tensor(x, dtype=torch.float64), strict=False),
            "psi_inv": lambda x: r.psi_inv(torch.as_tensor(x, dtype=torch.float64), strict=False),
        }
    return {
        "rho": lambda x: r.numpy(x, strict=False),
        "psi": lambda x: r.psi(np.asarray(x, dtype=np.float64), strict=False),
        "psi_inv": lambda x: r.psi_inv(np.asarray(x, dtype=np.float64), strict=False),
    }
