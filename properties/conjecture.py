"""User conjectures ``"QUANTITY <= EXPR"`` tested with the claims' machinery.

Vocabulary (QUANTITY), each measured on a GD run with w₀ = 0:

==========================  ==============================================================
``loss(t)``                 L(w_t)
``avg_loss(t)``             (1/t) Σ_{k<t} L(w_k)
``final_loss``              L(w_T)
``w_norm(t)``               ‖w_t‖
``grad_norm(t)``            ‖∇L(w_t)‖
``grad_potential(t)``       G(w_t) = mean |ℓ′(yᵢxᵢᵀw_t)|
``grad_potential_avg(t)``   (1/t) Σ_{k<t} G(w_k)
``exp_potential(t)``        F(w_t) = mean exp(−yᵢxᵢᵀw_t)
``margin(t)``               minᵢ yᵢxᵢᵀw_t
``normalized_margin(t)``    minᵢ yᵢxᵢᵀw_t / ‖w_t‖
``train_error(t)``          fraction of margins ≤ 0
``sharpness(t)``            λ_max(∇²L(w_t)) (closed form, at ~64 checkpoints)
``transition_time(THR)``    first s with L(w_s) ≤ THR (THR a formula in eta, n, d, gamma, T);
                            not reached by T, against an upper bound without
                            fitted constants, it is looked for further, up to
                            the step H whose H + 1 passes the bound's limit
                            (≤ 2²⁶ steps and a work cap: exact_engine.hit_cap;
                            one run a chunk at a time); not seen by H it
                            counts as H + 1;
                            set aside where not looked for so far, and against
                            a lower bound; a run that diverged first has none
``last_increase``           last t with L(w_t) > L(w_{t−1}) (0 if none)
``max_loss``                max_t L(w_t)
==========================  ==============================================================

The argument of a ``(t)`` quantity is ``t`` (every t in the ``--t`` range up
to T, on a ≤ 64-point log grid), ``T``, or a formula in ``eta, n, d, gamma, T``
(e.g. ``T/2``), rounded down to a step.

EXPR is a formula (parsed by :func:`eoscheck.expr.parse_expression`, never
evaluated as Python) in the parameters ``eta, n, d, gamma, t, T`` — γ is the
certified max margin γ* of the drawn data — and free constants ``C, C0…C9,
c, c0…c9`` that are fitted.  The procedure mirrors the asymptotic claims:

1. **fit** the constants on a calibration set drawn (seeded) from the *inner*
   part of the ranges — the lower half (in log scale) of η, n, d, t, T and the
   upper half of γ: as an envelope when EXPR is linear in the constants (a
   linear program: the tightest bound that holds at every calibration point),
   otherwise by constrained optimisation;
2. **verify** with Hypothesis on the full ranges: measured ≤ EXPR·(1 + margin)
   (margin :data:`FIT_MARGIN` = 1 when constants were fitted, 0 otherwise,
   plus the floating-point allowance), ``target`` steering to the worst ratio;
3. **scale**: ln(measured/EXPR) along a geometric ladder of each parameter;
   a ratio that keeps growing toward the asymptotic regime (η, n, d, t, T → ∞,
   γ → 0; slope > 0.1 over the far half of the ladder and its far quarter)
   is a TREND: it guides the search to the far end of the ranges, and only a
   witness found there convicts (a ratio may grow for ever and never cross 1).

The verdict is FALSIFIED (with the shrunk counterexample) or NOT FALSIFIED
(with the evidence) — never "proved".
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import sympy as sp
from hypothesis import strategies as st

from eoscheck._errors import EoscheckError
from eoscheck.backends import MP_CAPPED
from eoscheck.expr import evaluate, parse_expression
from eoscheck.losses import get_loss

from .claims import Evaluation, limit
from .exact_engine import hit_cap
from .hypotheses import norm_conflict
from .instances import Instance
from .numerics import (TINY, allowance, log_grid_indices, log_slope, lost_to_float64, measurement_allowance,
                       rel_allowance)
from .precision import high_precision, log_comparison
from .ranges import DEFAULT_RANGES, Range, gamma_inside, geometric_mean, range_text
from .strategies import certificate, log_uniform, separable_datasets

PARAMS = ("eta", "n", "d", "gamma", "t", "T")
#: Per-point values beside the parameters: ‖w‖ at the point, γ*'s certified upper end, G(w_t).
EXTRA = ("_w", "_ghi", "_G", "_row", "_logm")
CONSTANT_NAMES = tuple(["C", "c"] + [f"C{i}" for i in range(10)] + [f"c{i}" for i in range(10)])

#: Verification margin when constants were fitted (a factor 2, as for the built-in asymptotic claims).
FIT_MARGIN = 1.0
#: Slope of ln(ratio) along a ladder above which an upper bound "keeps growing".
SLOPE_TOL = 0.1
#: Most sharpness checkpoints of one run a fixed-step sharpness(s) asks for (each a d×d eigenproblem per row).
MAX_CHECKPOINTS = 4096

T_QUANTITIES = {
    "loss": "loss", "avg_loss": "avg_loss", "w_norm": "w_norm", "grad_norm": "grad_norm",
    "grad_potential": "G", "grad_potential_avg": "avg_G", "exp_potential": "log_F", "margin": "min_margin",
    "normalized_margin": "norm_margin", "train_error": "train_error", "sharpness": "sharpness",
}
#: the note on values float64 lost, set aside where constants are fitted (after a count)
LOST_NOTE = ("value(s) outside float64's range set aside (a loss or F below 2^-1022, an F beyond 1.8e308): with fitted "
             "constants the statement is fitted and compared where float64 holds its values")
SCALAR_QUANTITIES = ("final_loss", "last_increase", "max_loss", "transition_time")
VOCABULARY = tuple(sorted(T_QUANTITIES)) + SCALAR_QUANTITIES


@dataclass
class Conjecture:
    """A parsed conjecture ``QUANTITY op EXPR`` with its options."""

    text: str
    quantity: str
    arg: Any                 # None, "t", or a sympy expression in eta, n, d, gamma, T
    direction: str           # "<=" or ">="
    rhs: sp.Expr
    constants: tuple[str, ...]
    loss: str = "logistic"
    ranges: dict[str, Range] = field(default_factory=dict)
    eta_of_T: sp.Expr | None = None
    #: eta_of_T as the user wrote it, what a witness file keeps (sympy's printing of where(…) is Piecewise(…), which
    #: the parser refuses, so such a witness did not replay)
    eta_of_T_text: str | None = None
    where: tuple = ()
    values: dict[str, float] = field(default_factory=dict)  # fitted constants
    where_text: tuple[str, ...] = ()
    strict: bool = False     # < or >: a point where QUANTITY equals EXPR (train_error = 0 for "> 0") convicts
    #: parameters of float64 candidates whose EXPR had no 40-digit value (:func:`.witness.confirm_point`)
    unconfirmed: list = field(default_factory=list, compare=False, repr=False)

    # --- parsing ---------------------------------------------------------------------
    @classmethod
    def parse(cls, text: str, loss: str = "logistic", ranges: dict[str, str] | None = None,
              eta_of_T: str | None = None, where: list[str] | None = None) -> "Conjecture":
        """A conjecture from ``"QUANTITY[(t)] OP EXPR"`` (OP ≤, <, ≥, >; QUANTITY from :data:`VOCABULARY`, EXPR in
        eta, n, d, gamma, t, T and fitted constants such as C), parsed by a whitelist, never evaluated as Python.

        ``loss``: a built-in loss spec; ``ranges``: name → ``"LO:HI"`` or one value (defaults
        :data:`DEFAULT_RANGES`); ``eta_of_T``: η as a formula in T instead of a range; ``where``: extra
        conditions such as ``"eta*gamma**2 >= 1"``.  Bad input raises :class:`~eoscheck.EoscheckError`."""
        if not isinstance(text, str) or not text.strip():
            raise EoscheckError('give a conjecture such as "avg_loss(t) <= C*log(gamma**2*eta*t)**2/(gamma**2*eta*t)"')
        lhs, op, rhs_text = _split_comparison(text)
        strict_op = op in ("<", ">")
        op = {"<": "<=", ">": ">="}.get(op, op)
        quantity, arg = _parse_quantity(lhs)
        syms = {p: sp.Symbol(p, positive=True) for p in PARAMS}
        csyms = {c: sp.Symbol(c, real=True) for c in CONSTANT_NAMES}
        rhs = parse_expression(rhs_text, {**syms, **csyms})
        if rhs.has(sp.I) or rhs.is_extended_real is False:    # eta, n, … are positive: sqrt(-eta) is I·√η
            raise EoscheckError(f"EXPR {rhs_text.strip()!r} is not a real number ({sp.sstr(rhs)}: a square root or "
                                "logarithm of a negative quantity, every parameter being positive)")
        used = tuple(sorted(s.name for s in rhs.free_symbols if s.name in CONSTANT_NAMES))
        # a strict statement keeps its strictness: a witness reaches EXPR by at least the allowance (with an exact
        # quantity, train_error(t) > 0, a 0 convicts), where the closure ≤ / ≥ needs more than the allowance.  With
        # fitted constants it is its closure: "some C with train_error < C" holds with any C above the tightest one,
        # which the fit makes an equality at a calibration point (C = 0 there convicted the calibration itself)
        strict = strict_op and not used
        if "t" in {s.name for s in rhs.free_symbols} and arg != "t":
            raise EoscheckError(f"EXPR uses t but {quantity} is not measured at t; write {quantity}(t) or drop t")
        r = dict(DEFAULT_RANGES)
        r.update({k: range_text(k, v) for k, v in (ranges or {}).items() if v is not None})
        if eta_of_T and (ranges or {}).get("eta") is not None:
            raise EoscheckError("a range for eta (--eta) does not apply with eta_of_T (--eta-of-T: η is set from T "
                                "there); drop one")
        parsed = {k: Range.parse(v, k, integer=k in ("n", "d", "t", "T")) for k, v in r.items()}
        if quantity in T_QUANTITIES and arg != "t":
            check_step(quantity, lhs[lhs.index("(") + 1:lhs.rindex(")")].strip(), arg, parsed["T"])
        get_loss(loss)  # validates the name
        e_of_T = None
        if eta_of_T:
            e_of_T = parse_expression(eta_of_T, {k: syms[k] for k in ("n", "d", "gamma", "T")})
        if isinstance(where, str):
            where = [where]
        conds = tuple(_parse_condition(w, syms) for w in (where or []))
        if arg != "t" and any("t" in {x.name for x in a.free_symbols | b.free_symbols} for a, _, b in conds):
            raise EoscheckError(f"a --where condition uses t but {quantity} is not measured at t; write "
                                f"{quantity}(t) or bound T instead")
        return cls(text=text.strip(), quantity=quantity, arg=arg, direction=op, rhs=rhs, constants=used,
                   loss=loss, ranges=parsed, eta_of_T=e_of_T, where=conds, where_text=tuple(where or []),
                   strict=strict, eta_of_T_text=eta_of_T.strip() if eta_of_T else None)

    # --- evaluation --------------------------------------------------------------------
    def points(self, inst: Instance) -> tuple[np.ndarray, dict[str, np.ndarray], dict[str, int]]:
        """Measured values and their parameters (eta, n, d, gamma, t, T) on one instance, and the counts of
        transition times not reached by T (``censored``) and of rows set aside because the step or threshold moves
        across the certified γ* interval (``ambiguous``)."""
        Ts = np.asarray(inst.extra.get("T", [inst.steps] * len(inst.etas)), dtype=np.int64)
        n, d, g = inst.data.n, inst.data.d, inst.gamma
        sharp = self._sharpness_every(inst, Ts) if self.quantity == "sharpness" else None
        traj = inst.trajectory(sharpness_every=sharp)
        meas, P, censored, ambiguous, undefined = [], {p: [] for p in PARAMS + EXTRA}, 0, 0, 0
        for k in range(traj.K):
            T = int(Ts[k])
            base = {"eta": traj.eta[k], "n": n, "d": d, "gamma": g, "T": T, "gamma_hi": float(inst.gamma_hi)}
            if self.quantity == "transition_time":
                base["_log_thr"] = self._log_thresholds(base)     # once a row (it may take 40-digit evaluations)
                if None in base["_log_thr"]:
                    undefined += 1             # THR has no value here: no time to measure
                    continue
            vals, ts = self._measure(traj, k, T, base)
            if vals is None:
                ambiguous += ts is None
                continue
            wn = traj.records["w_norm"][k]
            w_at = wn[np.asarray(ts, int)] if self.quantity in T_QUANTITIES else np.full(len(vals), np.nanmax(wn[: T + 1]))
            if self.quantity == "transition_time":
                censored += int(np.sum(vals > T))
                if self.direction == ">=":
                    keep = ~(vals > T)             # a NaN (diverged) stays, to be set aside with a note
                    vals, ts = vals[keep], ts[keep]
                    w_at = w_at[keep]
            meas.append(vals)
            P["_w"].append(w_at)
            P["_ghi"].append(np.full(len(vals), float(inst.gamma_hi)))
            P["_G"].append(traj.records["G"][k, np.asarray(ts, int)] if self.quantity in T_QUANTITIES
                           else np.ones(len(vals)))
            P["_row"].append(np.full(len(vals), float(k)))
            P["_logm"].append(self._log_measured(traj, k, T, ts, len(vals)))
            for p in PARAMS:
                P[p].append(np.asarray(ts, float) if p == "t" else np.full(len(vals), float(base.get(p, np.nan))))
        counts = {"censored": censored, "ambiguous": ambiguous, "undefined": undefined}
        if not meas:
            return np.zeros(0), {p: np.zeros(0) for p in PARAMS + EXTRA}, counts
        return np.concatenate(meas), {p: np.concatenate(v) for p, v in P.items()}, counts

    def _measure(self, traj, k: int, T: int, base: dict) -> tuple[np.ndarray | None, np.ndarray | None]:
        q = self.quantity
        if q in T_QUANTITIES:
            ts = self._steps(T, base)
            if ts is None or ts.size == 0:
                return None, ts
            if q == "sharpness":
                ss = traj.sharpness_step
                j = np.searchsorted(ss, ts)
                j = np.clip(j, 0, len(ss) - 1)
                keep = ss[j] == ts
                ts = ts[keep]
                return traj.sharpness[k, j[keep]], ts
            v = traj.records[T_QUANTITIES[q]][k, ts]
            if q == "exp_potential":
                with np.errstate(over="ignore"):       # beyond 1.8e308: +inf, compared as such
                    v = np.exp(v)
            return v, ts
        if q == "final_loss":
            return np.array([traj.records["loss"][k, T]]), np.array([T])
        if q == "max_loss":
            return np.array([np.nanmax(traj.records["loss"][k, : T + 1])]), np.array([T])
        if q == "last_increase":
            ll = traj.records["log_loss"][k, : T + 1]
            # L's rounding: its margins' (∝ ‖w‖) weighted by ℓ′ against ℓ, i.e. × G/L at that step — not sup ℓ′/ℓ = 1
            # (logistic), which at L ≈ 1e14, ‖w‖ ≈ 1e15 allowed a rise ×28 and hid the real one ×1.8 at t = 12;
            # where G underflowed (0), the loss's sup |ℓ′|/ℓ
            with np.errstate(all="ignore"):
                G = traj.records["G"][k, : T + 1]
                slope = np.exp(np.log(G) - ll)
            slope = np.where((G > 0) & np.isfinite(slope), slope, log_slope(get_loss(self.loss)))
            rel = rel_allowance(traj.records["w_norm"][k, : T + 1], slope=slope)
            up = np.flatnonzero(np.diff(ll) > np.log1p(2 * np.maximum(rel[1:], rel[:-1])))
            return np.array([float(up[-1] + 1) if up.size else 0.0]), np.array([T])
        if q == "transition_time":
            firsts = set()
            # a run that left the float range by T before reaching THR has no time (NaN: set aside, never a witness)
            gone = 0 <= int(traj.stats["diverged_at"][k]) <= T
            for log_thr in base.get("_log_thr") or self._log_thresholds(base):
                hit = np.flatnonzero(traj.records["log_loss"][k, : T + 1] <= log_thr)
                firsts.add(float(hit[0]) if hit.size else (math.nan if gone else T + 1.0))
            if len(firsts) > 1:       # the threshold moves across γ*'s certificate past a step: no one time
                return None, None
            return np.array([firsts.pop()]), np.array([T])
        raise EoscheckError(f"unknown quantity {q}")  # pragma: no cover

    def _log_measured(self, traj, k: int, T: int, ts: np.ndarray, size: int) -> np.ndarray:
        """ln of the measured values where a log-domain record holds them (loss: ``log_loss``; exp_potential:
        ``log_F``), NaN elsewhere: a loss that underflowed float64 (0 at margins past ~745) or an F that overflowed
        it (+inf) still has its value there, which a witness is confirmed on (``loss(t) > 0`` was falsified by
        the float64 0 of a positive loss)."""
        q, rec = self.quantity, traj.records
        if q in ("loss", "exp_potential"):
            return np.asarray(rec["log_loss" if q == "loss" else "log_F"][k, np.asarray(ts, int)], float)
        if q == "final_loss":
            return np.array([rec["log_loss"][k, T]], float)
        if q == "max_loss":
            with np.errstate(invalid="ignore"):
                return np.array([np.nanmax(rec["log_loss"][k, : T + 1])], float)
        return np.full(size, np.nan)

    def _sharpness_every(self, inst: Instance, Ts: np.ndarray) -> int:
        """The sharpness checkpoints' spacing: every ⌊T/64⌋ steps for sharpness(t); for one step per row
        (sharpness(7), sharpness(T/3) with T per row under eta_of_T), every g steps, g the gcd of those steps, so
        each row's step is among them (on the ⌊T/64⌋ grid alone, sharpness(7) measured nothing: "no point fell in
        the domain"; rows whose steps differed kept that grid and measured nothing) — unless that makes more than
        :data:`MAX_CHECKPOINTS` checkpoints, where the grid stays and those rows measure nothing."""
        grid = max(1, inst.steps // 64)
        if self.arg == "t":
            return grid
        base = {"n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma, "gamma_hi": float(inst.gamma_hi)}
        steps = set()
        for e, T in zip(inst.etas, Ts):
            ts = self._steps(int(T), dict(base, eta=e, T=int(T)))
            steps.update(int(t) for t in (ts if ts is not None else ()))
        g = math.gcd(*steps)               # step 0 is a checkpoint anyway; gcd(0, s) = s
        return g if g >= 1 and inst.steps // g <= MAX_CHECKPOINTS else grid

    def _steps(self, T: int, base: dict) -> np.ndarray | None:
        if self.arg == "t":
            r = self.ranges["t"]
            lo, hi = int(math.ceil(r.lo)), int(min(r.hi, T))
            return log_grid_indices(hi, 64, start=lo) if hi >= lo else np.zeros(0, np.int64)
        ts = {int(math.floor(value_at(self.arg, dict(base, gamma=gam)))) for gam in self._gamma_ends(base)}
        if len(ts) > 1:
            # ⌊ARG⌋ differs across γ*'s certificate [gamma, gamma_hi]: the statement's step is not known, so the row
            # is set aside (at γ's lower end "loss(2*gamma*T)" read step 199 where γ* = 0.5 exactly gives 200)
            return None
        t = ts.pop()
        return np.array([t]) if 0 <= t <= T else np.zeros(0, np.int64)

    def _log_thresholds(self, base: dict) -> list[float]:
        """ln THR of ``transition_time(THR)`` at each end of γ*'s interval (:meth:`_gamma_ends`); NaN where THR is ≤ 0,
        which no loss meets (ln L ≤ NaN is false); None where THR is not a number (sqrt(eta − 10) at η < 10, 1/(eta − 4)
        at η = 4: not "never reached", which convicted ≤ statements, nor ∞, met at step 0).  A THR outside float64's
        normal range (exp(eta) at η = 1e4; exp(-1000), 0 in float64 and reached at step 1 of a run with L = e^{−1250})
        is read at 40 digits; one with no 40-digit value (past that evaluator's exp cap: exp(exp(eta)) at η = 800) is
        None too (its float64 reading is no value: 1/log(log(1 + exp(exp(eta)))) read 0, "never reached")."""
        out: list[float | None] = []
        for g in self._gamma_ends(base):
            t = value_at(self.arg, dict(base, gamma=g))
            if not (math.isfinite(t) and abs(t) >= TINY):     # 0, subnormal, ±inf, NaN: at 40 digits
                v = high_precision(self.arg, {x.name: float(dict(base, gamma=g)[x.name]) for x in self.arg.free_symbols})
                out.append(None if v is None else float(sp.log(v)) if v > 0 else math.nan)
                continue
            out.append(math.log(t) if t > 0 else math.nan)
        return out

    def _gamma_ends(self, base: dict) -> tuple[float, ...]:
        """The ends of γ*'s certificate where ARG depends on γ (both matter), else γ's lower end alone."""
        uses = "gamma" in {x.name for x in self.arg.free_symbols} if isinstance(self.arg, sp.Expr) else False
        hi = base.get("gamma_hi")
        return (base["gamma"], float(hi)) if uses and hi is not None else (base["gamma"],)

    def rhs_values(self, P: dict[str, np.ndarray], values: dict[str, float] | None = None, capped=None) -> np.ndarray:
        """EXPR at every point with the constants ``values`` (default: the fitted ones), at the end of the
        certified interval γ* ∈ [gamma, gamma_hi] favorable to the statement (the largest value for
        ``<=``, the smallest for ``>=``): a point can only convict if it violates for every γ in it.

        Only the two ends are evaluated: over an interval of width w (≈ 1e-14 relative) an interior
        extremum of a smooth EXPR differs from the better end by at most max|EXPR''|·w²/8, far below
        the floating-point allowance; witnesses are re-checked at 40 digits (:mod:`.decide`).  ``capped``: see
        :func:`values_beyond_float64` (either end)."""
        expr = self.with_constants(values)
        lo = values_beyond_float64(expr, P, capped)
        if "gamma" not in {s.name for s in expr.free_symbols} or "_ghi" not in P:
            return lo
        hi = values_beyond_float64(expr, dict(P, gamma=P["_ghi"]), capped)
        with np.errstate(invalid="ignore"):
            return np.fmax(lo, hi) if self.direction == "<=" else np.fmin(lo, hi)

    def with_constants(self, values: dict[str, float] | None = None) -> sp.Expr:
        """EXPR with its constants replaced by ``values`` (default: the fitted ones)."""
        vals = dict(self.values if values is None else values)
        # substituted unevaluated: subs evaluated C**C**C**C**C at C = 10 in sympy's integer powers, unguarded (a
        # hang); the compiler evaluates the result under its caps and time limits
        with sp.evaluate(False):
            return self.rhs.xreplace({sp.Symbol(c, real=True): sp.Float(vals[c]) for c in self.constants})

    def mask(self, P: dict[str, np.ndarray]) -> np.ndarray:
        """Points inside the stated ranges: η (unless set by ``eta_of_T``), n, d, T and t in theirs, the certified
        interval γ* ∈ [gamma, gamma_hi] inside the ``--gamma`` range (to :func:`gamma_inside`: a drawn margin is
        only a lower end of γ*, and one point x = 0.119 drawn for γ ≤ 0.1 has γ* = 0.119), and every ``--where``
        condition holding for every γ in that interval."""
        r = self.ranges["gamma"]
        ghi = P.get("_ghi", P["gamma"])
        m = gamma_inside(r, P["gamma"], ghi, P["d"] if "d" in P and np.size(P["d"]) else 1)
        for p in (p for p in self.ranged() if p in P):
            v = np.asarray(P[p], float)
            m &= (v >= self.ranges[p].lo) & (v <= self.ranges[p].hi)
        ends = [P] + ([dict(P, gamma=P["_ghi"])] if "_ghi" in P else [])
        for lhs, op, rhs in self.where:
            for Q in ends:
                a, b = values_at(lhs, Q), values_at(rhs, Q)
                m &= {"<=": a <= b, "<": a < b, ">=": a >= b, ">": a > b}[op]
        return m

    def ranged(self) -> tuple[str, ...]:
        """The parameters besides γ whose ranges bound every point: η unless ``eta_of_T`` sets it, n, d, T, and t
        where the quantity is measured at t."""
        return tuple(p for p in ("eta", "n", "d", "T", "t")
                     if not (p == "eta" and self.eta_of_T is not None) and not (p == "t" and self.arg != "t"))

    def outside(self, inst: Instance) -> str | None:
        """What of ``inst`` lies outside the stated ranges (its stepsizes, n, d, horizons, certified γ*) or is not a
        run of the conjecture (w₀ ≠ 0, another loss, data with ‖xᵢ‖ > 1, stepsizes other than eta_of_T(T)), or None."""
        if inst.w0 is not None and any(float(v) != 0.0 for v in inst.w0):
            return "w0 is not 0 (the conjecture's quantities are those of GD started at w₀ = 0)"
        if inst.loss != self.loss:
            return f"its loss {inst.loss!r} is not the conjecture's {self.loss!r}"
        big = norm_conflict(inst.data)   # a conjecture is stated on data with ‖xᵢ‖ ≤ 1 (Assumption 1A), drawn so
        if big:
            return big
        vals = {"n": [inst.data.n], "d": [inst.data.d], "T": inst.extra.get("T", [inst.steps])}
        if self.eta_of_T is None:
            vals["eta"] = list(inst.etas)
        for p, vs in vals.items():
            r = self.ranges[p]
            bad = [v for v in vs if not r.lo <= v <= r.hi]
            if bad:
                return f"{p} = {bad[0]!r} lies outside its range {r.lo!r}:{r.hi!r}"
        r = self.ranges["gamma"]
        if not gamma_inside(r, inst.gamma, inst.gamma_hi, inst.data.d):
            return f"the certified γ* ∈ [{inst.gamma!r}, {inst.gamma_hi!r}] leaves the --gamma range {r.lo!r}:{r.hi!r}"
        if self.eta_of_T is not None:
            want = [value_at(self.eta_of_T, {"n": inst.data.n, "d": inst.data.d, "gamma": inst.gamma, "T": T})
                    for T in vals["T"]]
            if list(inst.etas) != want:
                return f"its stepsizes {list(inst.etas)} are not eta_of_T(T) = {want}"
        return None

    def evaluate(self, inst: Instance) -> Evaluation:
        """The conjecture on one instance (constants as fitted)."""
        meas, P, counts = self.points(inst)
        cens = counts["censored"]
        m = self.mask(P) if meas.size else np.zeros(0, bool)
        # with fitted constants, values float64 lost are set aside: the constants are fitted where float64 holds the
        # values (:func:`.calibration.calibration_points`), and compared there only (fitted on the rest, they failed
        # at lost points inside the calibration ranges, and a true statement was FALSIFIED just past them)
        lost = (m & lost_to_float64(meas, P["_logm"])) if self.constants and meas.size else np.zeros(meas.shape, bool)
        meas, P = meas[m & ~lost], {k: v[m & ~lost] for k, v in P.items()}
        capped = np.zeros(meas.shape, bool)
        b = self.rhs_values(P, capped=capped) if meas.size else np.zeros(0)
        with np.errstate(over="ignore", invalid="ignore"):   # an allowance beyond float64 is set aside below
            allow_m = measurement_allowance(self.quantity, meas, P) if meas.size else np.zeros(0)
            # scanning only: FP_ULPS ulps of EXPR (a witness is re-checked with EXPR at 40 digits), added for ≤ / ≥;
            # subtracted for < / >, whose witness may sit at EXPR itself (train_error(0) < 1: train_error(0) = 1
            # exactly, which the scan never put to the 40-digit check); an EXPR beyond float64 (e^{800}) is ±inf
            # here, compared as such, and its own allowance is 0
            expr_allow = np.where(np.isfinite(b), allowance(b), 0.0) if meas.size else 0.0
            allow = allow_m - expr_allow if self.strict else allow_m + expr_allow
        notes = []
        if lost.any():
            notes.append(f"{int(lost.sum())} {LOST_NOTE}")
        if counts["undefined"]:
            notes.append(f"{counts['undefined']} run(s) set aside: transition_time's threshold has no value there (not a "
                         "number, a division by zero, or beyond the 40-digit evaluator's limits): no time to measure, so "
                         "they neither convict nor acquit")
        if counts["ambiguous"]:
            notes.append(f"{counts['ambiguous']} run(s) set aside: {self.quantity}'s argument moves past a step across "
                         "γ*'s certified interval [gamma, gamma_hi], so the statement's step is not known there")
        if cens and self.direction == ">=":
            notes.append(f"{cens} transition time(s) not reached by T set aside (known only to exceed T: no "
                         "contradiction of a lower bound)")
        further: list[str] = []
        if self.quantity == "transition_time" and self.direction == "<=":
            # how far each time was (``horizon``, shown with a witness) or would have been (``_horizon``) looked for:
            # below a limit ≥ the latter + 1 it passes, seen or not (Evaluation.vacuous)
            horizon = np.array(P["T"], dtype=float)
            P = dict(P, _horizon=horizon, horizon=horizon)
            if meas.size and not self.constants:
                meas, P, further = self._look_further(inst, meas, b, allow, P)
        if cens and self.direction == "<=":
            notes.append(f"{cens} transition time(s) not reached by T (counted as T+1)")
            notes += further
            # a time not seen by the horizon H is known only to exceed H: it contradicts EXPR where H + 1 passes
            # EXPR's limit, and says nothing where it does not (the true time may lie beyond EXPR), so there it is set
            # aside, not counted as agreeing ("transition_time(1e-300) <= 1e9" read NOT FALSIFIED on runs that never
            # got there)
            beyond = (meas > P["_horizon"]) & ~np.isnan(b)        # NaN (a diverged run, EXPR undefined): below
            silent = np.zeros(meas.shape, bool)
            silent[beyond] = ~Evaluation(meas[beyond], b[beyond], allow[beyond], self.direction,
                                         strict=self.strict).violations()
            if silent.any():
                notes.append(f"{int(silent.sum())} of them set aside where EXPR's limit is ≥ the horizon + 1 (not looked "
                             "for that far: beyond hit_cap's steps or work, with fitted constants, or a threshold "
                             "moving across γ*'s interval): a time beyond the horizon neither convicts nor acquits there")
                keep = ~silent
                meas, b, allow, allow_m, capped = meas[keep], b[keep], allow[keep], allow_m[keep], capped[keep]
                P = {k: v[keep] for k, v in P.items()}
        # a numerical failure is reported, never a witness: a NaN (diverged run), or a value whose allowance is
        # not finite (an overflowed loss, inf·r; an iterate with ‖w‖ ≈ 1e300), under which `≤ bound +
        # allowance` would hold for any bound
        # EXPR itself NaN (sqrt(eta - 2) at η < 2): a point outside EXPR's domain, said apart from the runs' failures;
        # or past the 40-digit evaluator's exp cap (exp(exp(exp(exp(T))))): no value, as in .witness.confirm_point
        nan_b = np.isnan(b)
        undefined, over = nan_b & ~capped, nan_b & capped
        bad = (np.isnan(meas) | ~np.isfinite(allow_m)) & ~nan_b
        if over.any():
            notes.append(f"{int(over.sum())} point(s) set aside where EXPR is beyond float64 (overflow, not NaN: an "
                         "exp or power past e^(2^1024), the 40-digit evaluator's limit): with no value to compare, "
                         "they neither convict nor acquit")
        if undefined.any():
            notes.append(f"{int(undefined.sum())} point(s) set aside where EXPR is not a real number (NaN: e.g. the "
                         "square root of a negative quantity, also at 40 digits): outside its domain, they neither "
                         "convict nor acquit")
        if bad.any():
            notes.append(f"{int(bad.sum())} measurement(s) set aside (NaN, or an allowance beyond float64: a "
                         "diverged run): they neither convict nor acquit")
        if bad.any() or nan_b.any():
            keep = ~(bad | nan_b)
            meas, b, P = meas[keep], b[keep], {k: v[keep] for k, v in P.items()}
            allow = allow[keep]
        return Evaluation(meas, b, allow, self.direction, P, notes=notes, strict=self.strict,
                          log_domain=log_comparison(self.with_constants(), meas, P, self.direction))

    def _look_further(self, inst: Instance, meas: np.ndarray, b: np.ndarray, allow: np.ndarray,
                      P: dict[str, np.ndarray]) -> tuple[np.ndarray, dict[str, np.ndarray], list[str]]:
        """transition_time ≤ EXPR (no fitted constants: those are fitted on times counted T + 1): each time not
        reached by T looked for further, up to the step H whose H + 1 passes EXPR's limit, if H is within
        :func:`~eoscheck.properties.exact_engine.hit_cap` (:meth:`_times_further`).

        Returns the measured values (H + 1 where not seen), the parameters with ``horizon`` (the step a time was
        looked for up to) and ``_horizon`` per point — H wherever H is within that cap, also for a time seen by T,
        which would have been looked for that far (so it could fail: :meth:`Evaluation.vacuous`), else T — and notes.
        A row whose threshold moves across γ*'s interval past a step on the longer run keeps T + 1 and its horizon T
        (set aside); one that leaves the float range before its threshold gets NaN (set aside)."""
        with np.errstate(invalid="ignore", over="ignore"):
            need = np.floor(limit(b, allow, "<=")).astype(float)
        horizon = P["_horizon"].copy()
        looked = horizon.copy()
        reachable = (need > horizon) & (need <= hit_cap(inst))     # a NaN or infinite limit is not
        want = (meas > horizon) & reachable
        meas, unknown = meas.copy(), np.zeros(meas.shape, bool)
        idx = np.flatnonzero(want)
        # up to the run's own T at least (a row's T may be shorter: --eta-of-T)
        reach = int(max(need[want].max(), inst.steps)) if want.any() else 0
        times, ran = self._times_further(inst, P, idx, reach) if want.any() else ([], 0)
        for i, v in zip(idx, times):
            if v is None:                     # the threshold's step is not known there: left as it was
                unknown[i] = True
            else:
                meas[i], horizon[i], looked[i] = v, ran, ran
        horizon = np.where(reachable & ~unknown, np.maximum(horizon, need), horizon)
        seen = int((want & (meas <= looked)).sum())
        notes = [f"{int(want.sum())} transition time(s) not reached by T looked for further (up to EXPR's limit)"]
        notes += [f"{seen} transition time(s) not reached by T seen by EXPR's limit"] if seen else []
        return meas, dict(P, _horizon=horizon, horizon=looked), notes if want.any() else []

    def _times_further(self, inst: Instance, P: dict[str, np.ndarray], idx: np.ndarray,
                       reach: int) -> tuple[list, int]:
        """The transition times of the points ``idx`` (one per stepsize row), looked for up to ``reach`` steps in one
        run a chunk at a time (:meth:`Instance.first_steps`: the bits of the whole run; stopped once every such time
        is seen or its run diverged), as :meth:`_measure` reads them on a run of that length: the first step with
        ln L ≤ ln THR at every end of γ*'s interval (None where the ends' steps differ), NaN where the run left the
        float range first, the last step looked at + 1 where not seen; and that last step.  An end whose THR is ≤ 0
        or NaN is never met: where another end is, the ends' steps differ (None)."""
        K = len(inst.etas)
        strict, loose = np.full(K, np.nan), np.full(K, np.nan)     # NaN: never met (a row not looked for)
        partial = np.zeros(K, bool)                                 # an end never met beside one that can be
        for i in idx:
            base = {"eta": P["eta"][i], "n": inst.data.n, "d": inst.data.d, "gamma": P["gamma"][i],
                    "T": int(P["T"][i]), "gamma_hi": P["_ghi"][i]}
            ends = self._log_thresholds(base)
            logs = [x for x in ends if x is not None and not math.isnan(x)]
            k = int(P["_row"][i])
            if logs:
                strict[k], loose[k], partial[k] = min(logs), max(logs), len(logs) < len(ends)
        loose_at = np.full(K, -1)

        def crossed(run: Instance, A) -> np.ndarray:
            """L ≤ the stricter end's THR (the run stops on it); the looser end's first step noted on the way."""
            hit = A.logL <= loose[:, None]
            new = (loose_at < 0) & hit.any(axis=1)
            loose_at[new] = int(A.t[0, 0]) + hit[new].argmax(axis=1)
            return A.logL <= strict[:, None]

        wanted = np.zeros(K, bool)
        wanted[P["_row"][idx].astype(int)] = True
        s, ran, diverged_at = inst.first_steps(crossed, reach, wanted)
        times = []
        for k in P["_row"][idx].astype(int):
            if s[k] >= 0 or loose_at[k] >= 0:
                times.append(float(s[k]) if s[k] == loose_at[k] and not partial[k] else None)
            else:
                times.append(math.nan if diverged_at[k] >= 0 else ran + 1.0)
        return times, ran

    # --- instances ---------------------------------------------------------------------
    def strategy(self, inner: bool = False, k: int = 4):
        """Hypothesis strategy of instances over the ranges (``inner``: the calibration part)."""
        R = {p: (r.inner(low_half=(p != "gamma")) if inner else r) for p, r in self.ranges.items()}
        data_st = separable_datasets(n=(int(R["n"].lo), int(R["n"].hi)), d=(int(R["d"].lo), int(R["d"].hi)),
                                     margin=(R["gamma"].lo, R["gamma"].hi))

        def lu(rng, r: Range, size: int) -> list[float]:   # clipped: exp(log 3) is 3.0000000000000004
            return list(np.clip(np.exp(rng.uniform(math.log(r.lo), math.log(r.hi), size)), r.lo, r.hi))

        @st.composite
        def inst(draw) -> Instance:
            # one stepsize and one horizon drawn by Hypothesis (adversarial, shrinkable), the rest seeded
            data = draw(data_st)
            rng = np.random.default_rng(draw(st.integers(0, 2**32 - 1)))
            etas = [draw(log_uniform(R["eta"].lo, R["eta"].hi))] + lu(rng, R["eta"], k - 1)
            Ts = [int(draw(log_uniform(R["T"].lo, R["T"].hi)))] + [int(v) for v in lu(rng, R["T"], k - 1)]
            return self.instance(data, etas, Ts)

        return inst()

    def instance(self, data, etas, Ts) -> Instance:
        """An instance with stepsizes ``etas`` (or η = eta_of_T(T)) and horizons ``Ts``, each horizon the nearest
        integer of the T range (a log-uniform draw on [251, 251] came out 250.99…, truncated to 250: outside)."""
        r = self.ranges["T"]
        Ts = [int(min(max(round(float(T)), math.ceil(r.lo)), math.floor(r.hi))) for T in Ts]
        if self.eta_of_T is not None:
            c = certificate(data)
            base = {"n": data.n, "d": data.d, "gamma": c.gamma}
            etas = [value_at(self.eta_of_T, dict(base, T=T)) for T in Ts]
            bad = [e for e in etas if not (math.isfinite(e) and e > 0)]
            if bad:
                raise EoscheckError(f"eta_of_T (--eta-of-T) gives a non-positive or non-finite stepsize "
                                    f"({bad[0]:g})")
            return Instance(data, self.loss, tuple(float(e) for e in etas), int(max(Ts)), extra={"T": list(map(int, Ts))})
        Ts = [int(T) for T in Ts] if len(Ts) == len(etas) else [int(max(Ts))] * len(etas)
        return Instance(data, self.loss, tuple(float(e) for e in etas), max(Ts), extra={"T": Ts})

    def canonical_instances(self, k: int = 6) -> list[Instance]:
        """The canonical datasets that fit the ranges, each with k stepsizes spanning the η range
        (or k horizons spanning the T range under ``--eta-of-T``): tried before the random draws."""
        from .strategies import admits, canonical_cases

        R = self.ranges
        out = []
        for data in canonical_cases():
            if not admits(data, n=(R["n"].lo, R["n"].hi), d=(R["d"].lo, R["d"].hi), margin=(R["gamma"].lo, R["gamma"].hi)):
                continue
            Tmid = int(geometric_mean(R["T"].lo, R["T"].hi))
            if self.eta_of_T is not None:
                Ts = [int(v) for v in np.geomspace(R["T"].lo, R["T"].hi, k)]
                out.append(self.instance(data, [1.0] * k, Ts))
            else:
                out.append(self.instance(data, list(np.geomspace(R["eta"].lo, R["eta"].hi, k)), [Tmid] * k))
        return out

    def summary(self) -> dict[str, Any]:
        return {"text": self.text, "quantity": self.quantity, "arg": None if self.arg is None else str(self.arg),
                "direction": self.direction, "strict": self.strict, "rhs": sp.sstr(self.rhs), "constants": dict(self.values),
                "loss": self.loss, "ranges": {k: [r.lo, r.hi] for k, r in self.ranges.items()
                                              if not (k == "eta" and self.eta_of_T is not None)},
                "eta_of_T": None if self.eta_of_T is None else (self.eta_of_T_text or sp.sstr(self.eta_of_T)),
                "where": [f"{sp.sstr(a)} {op} {sp.sstr(b)}" for a, op, b in self.where],
                "where_text": list(self.where_text)}


# ---------------------------------------------------------------------------
# parsing helpers
# ---------------------------------------------------------------------------


#: What a statement and a ``--where`` condition look like (the end of their parse errors).
STATEMENT_USAGE = 'a conjecture is "QUANTITY <= EXPR" (or >=, <, >), e.g. "avg_loss(t) <= C/(gamma**2*eta*t)"'
WHERE_USAGE = 'a --where condition is "EXPR <= EXPR" (or >=, <, >), e.g. "gamma**2*eta*t >= 1"'


def _split_comparison(text: str, usage: str = STATEMENT_USAGE) -> tuple[str, str, str]:
    text = text.replace("≤", "<=").replace("≥", ">=").replace("⩽", "<=").replace("⩾", ">=")
    if "==" in text or "!=" in text or "≠" in text:
        raise EoscheckError(f"{text.strip()!r} is an equation; write one inequality, <= or >=; {usage}")
    depth, i = 0, 0
    found = []
    while i < len(text):
        ch = text[i]
        if ch in "([":
            depth += 1
        elif ch in ")]":
            depth -= 1
        elif depth == 0 and ch in "<>":
            op = text[i:i + 2] if text[i + 1:i + 2] == "=" else ch
            found.append((i, op))
            i += len(op)
            continue
        i += 1
    if len(found) != 1:
        hint = ("; a conditional EXPR goes in parentheses: loss(t) <= (1 if eta > 1 else 2)"
                if len(found) > 1 and re.search(r"\bif\b", text) else "")
        raise EoscheckError(f"{text.strip()!r} has {len(found)} comparisons, not one{hint}; {usage}")
    i, op = found[0]
    lhs, rhs = text[:i].strip(), text[i + len(op):].strip()
    if not lhs or not rhs:
        raise EoscheckError(f"the {'left' if not lhs else 'right'} side of {op!r} is empty; {usage}")
    return lhs, op, rhs


def _parse_quantity(lhs: str):
    m = re.fullmatch(r"\s*([A-Za-z_][A-Za-z_0-9]*)\s*(?:\((.*)\))?\s*", lhs)
    if not m:
        raise EoscheckError(f"left side {lhs!r} must be a quantity such as loss(t) or final_loss "
                            f"(QUANTITY op EXPR: the quantity goes on the left); known: {', '.join(VOCABULARY)}")
    name, arg = m.group(1), m.group(2)
    if name not in VOCABULARY:
        raise EoscheckError(f"unknown quantity {name!r}; known: {', '.join(VOCABULARY)}")
    if arg is not None and name in T_QUANTITIES and re.fullmatch(r"\s*\(\s*t\s*\)\s*", arg):
        arg = "t"                                    # loss((t)): t in parentheses is t
    syms = {p: sp.Symbol(p, positive=True) for p in ("eta", "n", "d", "gamma", "T")}
    if name in T_QUANTITIES:
        if arg is None or not arg.strip():
            raise EoscheckError(f"{name} needs a step: {name}(t), {name}(T) or {name}(T/2)")
        if arg.strip() == "t":
            return name, "t"
        return name, parse_expression(arg, syms)
    if name == "transition_time":
        if not arg:
            raise EoscheckError("transition_time needs a threshold, e.g. transition_time(1/eta)")
        thr = parse_expression(arg, syms)
        # L > 0: a threshold ≤ 0 is never reached; its sign at 40 digits (exp(-2000) is 0 in float64, and positive)
        if thr.is_positive is False or (not thr.free_symbols and not (high_precision(thr, {}) or 0) > 0):
            raise EoscheckError(f"transition_time({arg.strip()}): the loss is positive, so a threshold ≤ 0 is never "
                                "reached; give a positive one, e.g. transition_time(1/eta)")
        return name, thr
    if arg:
        raise EoscheckError(f"{name} takes no argument")
    return name, None


#: T values tried in a range besides its ends: this many, log-spaced.
STEP_PROBES = 64


def check_step(name: str, text: str, step: sp.Expr, T: Range) -> None:
    """Refuse a step that is no step of any run with T in the range ``T``: ⌊step⌋ outside 0..T (1..T for
    the averages, which start at t = 1) at the range's ends and at :data:`STEP_PROBES` integers
    log-spaced between them, when the step depends on T alone (loss(−1), loss(2*T), avg_loss(0),
    loss(T − 5000) with T ≤ 2000); such a quantity measures nothing and the check would end "undecided"."""
    if {s.name for s in step.free_symbols} - {"T"}:
        return
    first = 1 if name in ("avg_loss", "grad_potential_avg") else 0
    probes = np.unique(np.concatenate([[T.lo, T.hi], np.geomspace(T.lo, T.hi, STEP_PROBES)]).round())
    for Tv in probes:
        try:
            t = math.floor(value_at(step, {"T": float(Tv)}))
        except (EoscheckError, ValueError, OverflowError):
            continue
        if first <= t <= Tv:
            return
    where = f"T = {T.lo:g}" if T.lo == T.hi else f"T in {T.lo:g}..{T.hi:g}"
    raise EoscheckError(f"{name}({text}): no run with {where} has that step (it must lie in {first}..T); "
                        f"e.g. {name}(T), {name}(T/2) or {name}(t)")


def _parse_condition(text: str, syms) -> tuple:
    lhs, op, rhs = _split_comparison(text, WHERE_USAGE)
    allowed = {k: syms[k] for k in PARAMS}
    return parse_expression(lhs, allowed), op, parse_expression(rhs, allowed)


#: time limit (seconds) of one evaluation of a user formula (:func:`eoscheck.expr.evaluate`)
EVAL_SECONDS = 10.0


def param_values(expr: sp.Expr, P: dict) -> dict:
    """The values of ``expr``'s names (a missing one is reported by :func:`eoscheck.expr.evaluate`)."""
    return {s.name: P[s.name] for s in expr.free_symbols if s.name in P}


def value_at(expr, base: dict) -> float:
    """``expr`` at one point, in float64 under a time limit (never sympy's unbounded evalf)."""
    return float(evaluate(expr, param_values(expr, base), seconds=EVAL_SECONDS))


def values_beyond_float64(expr: sp.Expr, P: dict[str, np.ndarray], capped: np.ndarray | None = None) -> np.ndarray:
    """:func:`values_at`, with the points where float64 gives no finite value (e^{800}/(1 + e^{800}) is inf/inf)
    evaluated at 40 digits (:func:`.precision.high_precision`, once per distinct point) and rounded to float64:
    ±inf where the value lies beyond it; NaN where EXPR is undefined or not real, or where an exp or power passes the
    evaluator's cap (:data:`~eoscheck.backends.MP_EXP_CAP`: exp(exp(exp(exp(T))))), those marked in ``capped``."""
    out = values_at(expr, P)
    redo = np.flatnonzero(~np.isfinite(out))
    if redo.size:
        names = sorted(x.name for x in expr.free_symbols)
        seen: dict[tuple, float] = {}
        for i in redo:
            key = tuple(float(np.asarray(P[n])[i]) for n in names)
            if key not in seen:
                met = getattr(MP_CAPPED, "count", 0)
                v = high_precision(expr, dict(zip(names, key)))
                seen[key] = (math.nan, getattr(MP_CAPPED, "count", 0) != met) if v is None else (float(v), False)
            out[i] = seen[key][0]
            if capped is not None:
                capped[i] |= seen[key][1]
    return out


def values_at(expr: sp.Expr, P: dict[str, np.ndarray]) -> np.ndarray:
    """A sympy expression of the parameters, vectorized over points (the project's one compiler, float64,
    under a time limit)."""
    vals = {k: np.asarray(v, float) for k, v in param_values(expr, P).items()}
    with np.errstate(all="ignore"):
        out = evaluate(expr, vals, seconds=EVAL_SECONDS)
    return np.broadcast_to(np.asarray(out, float), np.asarray(P["eta"]).shape).copy()
