"""Claims of Theorem 6: GD on the two-layer network in the NTK regime (paper §6, §10 row 24).

Model, loss and records: :func:`eoscheck.networks.run_ntk`.  Every bound uses

* γ = γ*/2, a certified margin of Assumption 4 (:func:`eoscheck.networks.assumption4_margin`: χ ≡ w*, the
  certificate's lower end of the linear max margin γ*); the NTK-feature margin γ̂ at w₀ is no lower bound of γ
  (Assumption 4 constrains χ pointwise), and bounds at γ̂ were tighter than the theorem's;
* C_a = |Σₛaₛ|/√m as realized (0 for balanced signs), δ from the instance (default 0.05);
* ρ numerically (:func:`eoscheck.bounds.rho.rho`), C_g, C_β from Prop. 5.

**The width condition is never met.**  Theorem 6 needs m ≥ ((30R^{1/3} + 10 ln^{1/4}(n/δ))/γ)⁶
with R = 6(√ρ(γ²ηT) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ.  Since γ ≤ 1 and n ≥ 1, δ < 1,
R ≥ 6√(2 ln 2) ≈ 7.06, so m ≥ (30·7.06^{1/3})⁶ ≈ 3.6·10¹⁰ for *any* data and stepsize, and it
grows like η² (R ∝ η for large η).  Hence:

* the **exact** claims ``thm6.lazy``, ``thm6.eos_average``, ``thm6.stable_monotone``,
  ``thm6.stable_bound`` check only runs that satisfy the width condition — in practice none,
  so they report *undecided* with the width each run would need;
* their ``….trend`` twins check the same inequalities on every run, labelled
  "outside the width condition — trend only" (kind *heuristic*: a violation is a warning);
* ``thm6.lazy_scaling``, ``thm6.tau_exp`` and ``thm6.tau_psi`` are asymptotic (constants fitted),
  also outside the width condition — trend only.
"""

from __future__ import annotations

import math
from typing import Any

import numpy as np
from hypothesis import strategies as st

from eoscheck.datasets import synthetic
from eoscheck.networks import (assumption4_margin, first_steps_ntk, init_weights, output_signs, run_ntk,
                               thm6_conditions)
from eoscheck.provenance import canonical_json
from eoscheck.gd import FirstSteps
from eoscheck.trajectory import Trajectory

from eoscheck.bounds import theorem6

from .bound_values import at, at_where
from .claims import Budget, Claim, Evaluation, FitSpec, register
from .exact_engine import candidate_s, censored_first_times
from .instances import MODELS, Instance, RunCache, single_thread
from .numerics import allowance, rel_allowance, safe_div
from .observe import Arrays, worst_per_row
from .strategies import loss_spec, losses, separable_datasets, stepsize_batches, with_certificate

TREND = "outside the width condition — trend only"
NTK_ASSUMPTIONS = ("Assumption 4 with γ = γ*/2 (χ ≡ w*: certified on linearly separable data)", "eq. (5) signs",
                   "loss with 3A–3B (logistic, flat_exp, flat_poly)", "w₀ ~ N(0, I)")
STABLE_ASSUMPTIONS = NTK_ASSUMPTIONS[:2] + ("loss with 3A–3C (logistic, flat_exp, flat_poly)", "w₀ ~ N(0, I)")
DEFAULT_DELTA = 0.05

# ---------------------------------------------------------------------------
# instances: an NTK run (width, seed, signs, δ in ``extra``; ``extra["model"] = "ntk"``)
# ---------------------------------------------------------------------------

#: Runs kept per process: claims that share a strategy (thm6.lazy/eos_average, thm6.stable_monotone/stable_bound
#: and their .trend twins) draw the same instances first (derandomized), so the second reuses the first's ~20 runs.
_RUNS = RunCache(64)


class NTKInstance(Instance):
    """An :class:`Instance` whose run is :func:`eoscheck.networks.run_ntk` (see module docstring)."""

    @property
    def width(self) -> int:
        return int(self.extra["width"])

    @property
    def seed(self) -> int:
        return int(self.extra.get("seed", 0))

    @property
    def signs(self) -> str:
        return str(self.extra.get("signs", "balanced"))

    @property
    def delta(self) -> float:
        return float(self.extra.get("delta", DEFAULT_DELTA))

    def key(self, w_star=None, sharpness_every=None) -> str:
        return "ntk:" + super().key(None, sharpness_every) + canonical_json(
            [self.width, self.seed, self.signs, self.delta])

    def theory(self) -> dict[str, Any]:
        """C_a, γ (γ*/2, certified) and Theorem 6's R and width condition per η — without running GD."""
        a = output_signs(self.width, self.signs, self.seed)
        W0 = init_weights(self.width, self.data.d, self.seed)
        gamma = assumption4_margin(self.gamma)      # with the instance's certificate
        C_a = abs(float(a.sum())) / math.sqrt(self.width)
        rows = thm6_conditions(self.loss_obj, gamma, self.eta, self.steps, self.data.n, self.width, C_a, self.delta)
        return {"gamma": gamma, "C_a": C_a, "w0_norm": float(np.linalg.norm(W0)), "thm6": rows}

    def trajectory(self, w_star=None, sharpness_every=None, cache: bool = True) -> Trajectory:
        def compute() -> Trajectory:
            with single_thread():
                return run_ntk(self.data, self.loss_obj, list(self.etas), self.steps, width=self.width,
                               seed=self.seed, signs=self.signs, delta=self.delta, sharpness_every=sharpness_every)

        return _RUNS.run(self.key(None, sharpness_every), compute, keep=cache)

    def stream(self, steps: int, condition, wanted) -> FirstSteps:
        """:meth:`Instance.stream` for the network: :func:`eoscheck.networks.first_steps_ntk`, the bits of
        :meth:`trajectory`'s run."""
        return first_steps_ntk(self.data, self.loss_obj, list(self.etas), steps, condition, wanted=wanted,
                               width=self.width, seed=self.seed, signs=self.signs, delta=self.delta)

    def describe(self) -> str:
        return f"NTK m={self.width} ({self.signs} signs, seed {self.seed}, δ={self.delta:g}); " + super().describe()


MODELS["ntk"] = NTKInstance


def ntk_instance(data, loss: str, etas, steps: int, width: int, seed: int = 0, signs: str = "balanced",
                 delta: float = DEFAULT_DELTA) -> NTKInstance:
    return NTKInstance(data, loss, tuple(float(e) for e in etas), int(steps),
                       extra={"model": "ntk", "width": int(width), "seed": int(seed), "signs": signs,
                              "delta": float(delta)})


def ntk_instances(budget: Budget, families=("logistic", "flat_exp", "flat_poly"), margin=(0.1, 0.9),
                  steps: int = 600, signs=("balanced", "random")):
    """Separable data (n ≤ 8·scale, d ≤ 4), a loss of Theorem 6, widths 16–256, the sign choices
    ``signs``, 6 stepsizes in [2⁻², 2¹¹] (the large ones show EoS on the NTK), T = ``steps``·scale."""
    data_st = separable_datasets(n=(2, int(8 * budget.scale)), d=(1, 4), margin=margin)
    T = budget.steps(steps)

    @st.composite
    def inst(draw) -> NTKInstance:
        data = draw(data_st)
        loss = draw(losses(families, a=(0.5, 3.0)))
        return ntk_instance(data, loss_spec(loss), draw(stepsize_batches(0.25, 2048.0, size=6)), T,
                            width=draw(st.sampled_from([16, 64, 256])), seed=draw(st.integers(0, 2**16)),
                            signs=draw(st.sampled_from(list(signs))))

    return inst()


# ---------------------------------------------------------------------------
# bounds (Theorem 6, with γ = γ*/2)
# ---------------------------------------------------------------------------


def _rho_domain(lam) -> np.ndarray:
    """γ²ηt ≥ 1 (and finite): where ρ(γ²ηt) is defined (Assumption 3A); NaN outside."""
    lam = np.asarray(lam, dtype=np.float64)
    return np.isfinite(lam) & (lam >= 1)


def lazy_radius(loss, eta, gamma, t, C_a, n, delta):
    """Lemma 28's R_t (``theorem6.RADIUS_T``; R = R_T, Theorem 6), NaN where γ²ηt < 1."""
    return at_where(_rho_domain(gamma**2 * np.asarray(eta) * t), theorem6.RADIUS_T, loss,
                    eta=eta, gamma=gamma, t=t, C_a=C_a, n=n, delta=delta)


def eos_average_bound(loss, eta, gamma, t, C_a, n, delta):
    """Theorem 6's EoS-phase bound (``theorem6.EOS_AVERAGE``), NaN where γ²ηt < 1."""
    return at_where(_rho_domain(gamma**2 * np.asarray(eta) * t), theorem6.EOS_AVERAGE, loss,
                    eta=eta, gamma=gamma, t=t, C_a=C_a, n=n, delta=delta)


def stable_threshold(loss, eta, n):
    """Condition (6) (``theorem6.STABLE_THRESHOLD``)."""
    return at(theorem6.STABLE_THRESHOLD, loss, eta=eta, n=n)


def stable_bound(loss, eta, gamma, t, s):
    """Theorem 6's stable-phase bound (``theorem6.STABLE_BOUND``), NaN where γ²η(t−s) < 1."""
    lag = np.asarray(t, dtype=np.float64) - s
    return at_where(_rho_domain(gamma**2 * np.asarray(eta) * lag), theorem6.STABLE_BOUND, loss,
                    eta=eta, gamma=gamma, t=t, s=s)


def tau_exp_shape(eta, n, gamma):
    """Theorem 6's exponential-tail τ with C₂ = 1 (``theorem6.TAU_EXP_TAIL``; C₂ is fitted)."""
    return at(theorem6.TAU_EXP_TAIL, eta=eta, gamma=gamma, n=n, C2=1.0)


def tau_psi_shape(loss, eta, n, gamma):
    """Theorem 6's general τ with C₁ = 1 (``theorem6.TAU_PSI``; the outer constant is fitted; for
    regularly varying ψ⁻¹, ψ⁻¹(C₁y) ≤ C′ψ⁻¹(y), so this is the same order)."""
    return at(theorem6.TAU_PSI, loss, eta=np.atleast_1d(np.asarray(eta, dtype=np.float64)), gamma=gamma, n=n, C1=1.0)


# ---------------------------------------------------------------------------
# evaluations
# ---------------------------------------------------------------------------


def _width_split(inst: NTKInstance, within: bool):
    """(theory, rows to check, notes): rows meeting (``within``) or failing the width condition."""
    th = inst.theory()
    ok = np.array([r["width_condition"] for r in th["thm6"]], dtype=bool)
    rows = ok if within else np.ones_like(ok)
    need = max((r["log10_width_required"] for r in th["thm6"]), default=math.inf)
    notes = []
    if th["gamma"] <= 0:
        notes.append(f"no certified Assumption 4 margin (the data are not certified linearly separable) for "
                     f"m={inst.width}: no bound applies")
        rows = np.zeros_like(ok)
    elif within and not ok.any():
        notes.append(f"no run meets Theorem 6's width condition (m={inst.width}, needs up to 10^{need:.1f}; "
                     "never below 3.6e10): see the .trend claims")
    elif not within:
        notes.append(f"{TREND}: m={inst.width} vs required up to 10^{need:.1f}")
    return th, rows, notes


def _empty(notes) -> Evaluation:
    return Evaluation(np.zeros(0), np.zeros(0), notes=list(notes))


def _params(inst, th, A):
    return {"eta": A.eta, "t": A.t, "n": inst.data.n, "d": inst.data.d, "gamma": th["gamma"], "width": inst.width}


def _total_norm(th, A):
    """An upper bound on ‖w_t‖_F (margin rounding scale, Cauchy–Schwarz): ‖w₀‖ + ‖w_t − w₀‖."""
    return th["w0_norm"] + A.wn


def _in_domain_eval(inst: NTKInstance, within: bool, measured, bound_fn, allow_fn, meaning: str) -> Evaluation:
    """measured(A) ≤ bound_fn(loss, η, γ, t, C_a, n, δ) at every recorded t ≥ 1 with γ²ηt ≥ 1 of the runs on
    the chosen side of the width condition; the allowance is allow_fn(th, A, measured, bound)."""
    th, rows, notes = _width_split(inst, within)
    if not rows.any():
        return _empty(notes)
    A = Arrays.of(inst.trajectory())
    g, n = th["gamma"], inst.data.n
    tt = np.maximum(A.t, 1)
    m = measured(A)
    b = bound_fn(inst.loss_obj, A.eta, g, tt, th["C_a"], n, inst.delta)
    mask = rows[:, None] & (A.t >= 1) & (g**2 * A.eta * tt >= 1)
    return worst_per_row(m, b, allow_fn(inst, th, A, m, b), mask, "<=", _params(inst, th, A), best=safe_div(m, b),
                         best_meaning=meaning, notes=notes)


def lazy_eval(inst: NTKInstance, within: bool) -> Evaluation:
    """Lazy training: ‖w_t − w₀‖ ≤ R_t; the allowance is the rounding of both sides."""
    return _in_domain_eval(inst, within, lambda A: A.wn, lazy_radius,
                           lambda inst, th, A, m, b: allowance(m, th["w0_norm"]) + allowance(b), "‖w_t − w₀‖/R_t")


def eos_average_eval(inst: NTKInstance, within: bool) -> Evaluation:
    """EoS phase: the running average loss ≤ the bound; the allowance is the margins' rounding at the
    run's largest ‖w_t‖ (:func:`_total_norm`) carried into L, plus the bound's rounding."""
    return _in_domain_eval(
        inst, within, lambda A: A.avg_L, eos_average_bound,
        lambda inst, th, A, m, b: m * rel_allowance(_total_norm(th, A).max(axis=1, keepdims=True), inst.data.max_norm)
        + allowance(b), "measured/bound")


def stable_monotone_eval(inst: NTKInstance, within: bool) -> Evaluation:
    th, rows, notes = _width_split(inst, within)
    if not rows.any():
        return _empty(notes)
    A = Arrays.of(inst.trajectory())
    thr = stable_threshold(inst.loss_obj, A.eta[:, 0], inst.data.n)
    s0 = A.first(A.logL <= np.log(thr)[:, None])
    ratio = np.exp(np.diff(A.logL, axis=1))
    wn = _total_norm(th, A)
    allow = np.expm1(2 * rel_allowance(np.maximum(wn[:, 1:], wn[:, :-1]), inst.data.max_norm))
    j = np.arange(ratio.shape[1])[None, :]
    mask = rows[:, None] & (s0[:, None] >= 0) & (j >= s0[:, None])
    if not mask.any():
        return _empty(notes + ["no run reached condition (6) within T"])
    return worst_per_row(ratio, 1.0, allow, mask, "<=",
                         {"eta": A.eta, "t": A.t[:, 1:], "s": s0[:, None], "n": inst.data.n, "gamma": th["gamma"],
                          "width": inst.width}, notes=notes)


def stable_bound_eval(inst: NTKInstance, within: bool) -> Evaluation:
    th, rows, notes = _width_split(inst, within)
    if not rows.any():
        return _empty(notes)
    A = Arrays.of(inst.trajectory())
    g, loss = th["gamma"], inst.loss_obj
    ok = A.logL <= np.log(stable_threshold(loss, A.eta[:, 0], inst.data.n))[:, None]
    wn = _total_norm(th, A)
    t = A.t[0]
    evals = []
    # the bound depends on t − s only: one table per η, one vectorized ρ evaluation
    tables = stable_bound(loss, A.eta, g, np.arange(inst.steps + 1)[None, :], 0)
    for k in np.flatnonzero(rows):
        parts = []
        eta = A.eta[k, 0]
        table = tables[k]
        for s in candidate_s(ok[k]):
            if s >= inst.steps:  # the theorem asks s < T
                continue
            tt = t[s + 1:]
            m = g**2 * eta * (tt - s) >= 1
            b = table[(tt - s).astype(np.int64)]
            meas = A.L[k, s + 1:]
            allow = meas * rel_allowance(wn[k, s + 1:], inst.data.max_norm) + allowance(b)
            parts.append((meas, b, allow, m & np.isfinite(b), tt, np.full(tt.shape, float(s))))
        if not parts:
            continue
        meas, b, allow, m, tt, ss = (np.concatenate(p)[None] for p in zip(*parts))
        if m.any():
            evals.append(worst_per_row(meas, b, allow, m, "<=",
                                       {"eta": A.eta[k, 0], "t": tt, "s": ss, "n": inst.data.n, "gamma": g,
                                        "width": inst.width}, best=safe_div(meas, b), best_meaning="measured/bound"))
    ev = Evaluation.concat(evals)
    ev.notes = notes + ev.notes
    return ev


#: How far thm6.tau_exp and thm6.tau_psi look for the first s meeting (6) (:func:`first_times`, streamed by
#: :meth:`NTKInstance.first_steps`; T if longer): an NTK step costs ~0.4–0.6 ms for n ≤ 16, m ≤ 256 (measured
#: 2026-12-06, 2-vCPU Intel Xeon, one thread: the step's torch calls, not its arithmetic; 0.6–0.65 ms on the AMD EPYC
#: host since its records are derived a chunk of steps at a time, 1.1 ms before; 0.42–0.47 ms there since the steps
#: run in torch's inference mode, 2026-12-07; 0.033 ms on the compiled engine, :mod:`eoscheck.ntkfused`, n = 8,
#: d = 4, m = 64, six η, same host and day), so a condition never met costs ≤ ~1 s a run at this reach.
TAU_REACH = 2**14


def _tau_eval(inst: NTKInstance, shape_fn, min_eta: float = 0.0) -> Evaluation:
    g = inst.theory()["gamma"]
    if g <= 0:
        return _empty([f"no certified Assumption 4 margin (data not certified linearly separable), m={inst.width}"])
    use = inst.eta >= min_eta
    A, meas, censored, reach, notes = censored_first_times(
        inst, lambda run, B: B.logL <= np.log(stable_threshold(run.loss_obj, B.eta[:, 0], run.data.n))[:, None],
        TAU_REACH, "(6)", wanted=use)
    shape = shape_fn(A.eta[:, 0], g)
    # s* = 0 is read as 1 (a hitting time ≥ 1 step); not met by the reach: counted reach + 1 — a violation only where
    # reach + 1 passes C·shape; dropping those runs hid a run that missed (6) at T = 60 where 6.63·shape = 25.5
    meas = np.maximum(meas, 1.0)
    notes = [TREND] + notes
    k = int(use.sum())
    return Evaluation(meas[use], shape[use], 0.0, "<=",
                      {"eta": A.eta[use, 0], "n": np.full(k, inst.data.n), "gamma": np.full(k, g),
                       "width": np.full(k, inst.width), "censored": censored[use].astype(float),
                       "_horizon": np.full(k, reach)},
                      notes=notes)


#: thm6.tau_exp is checked for η ≥ this only (:func:`tau_exp_eval`); the report's C₂ summary keeps to it too.
TAU_EXP_MIN_ETA = 1.0


def tau_exp_eval(inst: NTKInstance) -> Evaluation:
    """Checked for η ≥ 1 only: as η → 0 the hitting time grows like 1/η (the (n/η)·ln term of
    Lemma 34's condition), which max{η, n ln n}/γ² cannot cover — the same scope correction as
    ``thm35.tau_exp_tail`` (found by this claim at η = 0.25)."""
    return _tau_eval(inst, lambda eta, g: tau_exp_shape(eta, inst.data.n, g), min_eta=TAU_EXP_MIN_ETA)


def tau_psi_eval(inst: NTKInstance) -> Evaluation:
    return _tau_eval(inst, lambda eta, g: tau_psi_shape(inst.loss_obj, eta, inst.data.n, g))


def lazy_scaling_eval(inst: NTKInstance) -> Evaluation:
    """maxₜ‖w_t − w₀‖ against R_T's shape (√ρ(γ²ηT) + C_a + √(2 ln(2n/δ)) + ηC_g)/γ, per η."""
    th = inst.theory()
    g = th["gamma"]
    if g <= 0:
        return _empty([f"no certified Assumption 4 margin (data not certified linearly separable), m={inst.width}"])
    A = Arrays.of(inst.trajectory())
    T = float(inst.steps)
    shape = lazy_radius(inst.loss_obj, A.eta[:, 0], g, T, th["C_a"], inst.data.n, inst.delta) / 6
    meas = np.nanmax(A.wn, axis=1)
    ok = np.isfinite(shape) & ~A.diverged
    return Evaluation(meas[ok], shape[ok], 0.0, "<=",
                      {"eta": A.eta[ok, 0], "n": np.full(ok.sum(), inst.data.n), "gamma": np.full(ok.sum(), g),
                       "width": np.full(ok.sum(), inst.width),
                       "log10_width_required": np.array([r["log10_width_required"] for r in th["thm6"]])[ok]},
                      notes=[TREND])


# ---------------------------------------------------------------------------
# registration: exact (within the width condition) and trend twins
# ---------------------------------------------------------------------------


def _ntk_strategy(budget: Budget):
    return ntk_instances(budget)


def _stable_strategy(budget: Budget):
    return ntk_instances(budget, margin=(0.15, 0.9))


_EXACT = [
    ("lazy", "‖w_t − w₀‖ ≤ R_t = 6(√ρ(γ²ηt) + C_a + √(2ln(2n/δ)) + ηC_g)/γ", "Theorem 6 (lazy training) / Lemma 28",
     "‖w_t − w₀‖", "t ≤ T, γ²ηt ≥ 1", NTK_ASSUMPTIONS, theorem6.RADIUS_T, lazy_eval, _ntk_strategy),
    ("eos_average", "(1/t)Σ_{k<t} L(w_k) ≤ 9(ρ(γ²ηt) + (C_a + √(2ln(2n/δ)) + ηC_g)²)/(γ²ηt)",
     "Theorem 6 (EoS phase)", "average loss up to t", "t ≤ T, γ²ηt ≥ 1", NTK_ASSUMPTIONS, theorem6.EOS_AVERAGE,
     eos_average_eval, _ntk_strategy),
    ("stable_monotone", "(6) at s: L(w_s) ≤ min{1/(12C_β²η), ℓ(0)/n} ⇒ L(w_t) non-increasing for t ≥ s",
     "Theorem 6 (stable phase)", "L(w_{t+1})/L(w_t), t ≥ s", "first s meeting (6)", STABLE_ASSUMPTIONS,
     theorem6.STABLE_THRESHOLD, stable_monotone_eval, _stable_strategy),
    ("stable_bound", "(6) at s ⇒ L(w_t) ≤ 15ρ(γ²η(t−s))/(γ²η(t−s))", "Theorem 6 (stable phase) / Lemma 32",
     "L(w_t), t > s", "every s < T meeting (6) (up to 48 per run), γ²η(t−s) ≥ 1", STABLE_ASSUMPTIONS,
     theorem6.STABLE_BOUND, stable_bound_eval, _stable_strategy),
]

for _name, _title, _src, _qty, _dom, _ass, _bid, _fn, _strat in _EXACT:
    register(Claim(
        id=f"thm6.{_name}", title=_title + " (only runs meeting the width condition)", source=_src, row=24,
        kind="exact", quantity=_qty, direction="<=",
        domain=_dom + "; runs with m ≥ ((30R^{1/3} + 10ln^{1/4}(n/δ))/γ)⁶ (never below 3.6e10: undecided in practice)",
        assumptions=_ass, bound=_bid, models=("ntk",), strategy=_strat,
        evaluate=lambda inst, _f=_fn: _f(inst, True), examples=2), replace=True)
    register(Claim(
        id=f"thm6.{_name}.trend", title=f"{_title} — {TREND}", source=_src, row=24, kind="heuristic",
        outside_hypotheses=TREND,
        quantity=_qty, direction="<=", domain=_dom + f"; every run ({TREND}: m far below Theorem 6's width)",
        assumptions=_ass, bound=_bid, models=("ntk",), strategy=_strat,
        evaluate=lambda inst, _f=_fn: _f(inst, False), examples=4), replace=True)


# ---------------------------------------------------------------------------
# asymptotic (fitted) trend claims: lazy radius and the phase-transition time
# ---------------------------------------------------------------------------

#: Stepsizes of the calibration sweep (see ``CAL_DOC``).
CAL_ETAS = tuple(2.0**k for k in range(-1, 10))


def _cal_instances(loss="logistic", steps=3000) -> list[NTKInstance]:
    """The fixed calibration sweep (``CAL_DOC``)."""
    out = []
    for n, width, margin in ((4, 128, 0.3), (8, 128, 0.3), (16, 128, 0.3), (8, 16, 0.3), (8, 64, 0.15), (6, 256, 0.15)):
        data = with_certificate(synthetic(n, 3, margin, seed=0))
        out.append(ntk_instance(data, loss, CAL_ETAS, steps, width=width, seed=0))
    return out


CAL_DOC = ("synthetic(n, 3, margin, seed 0) with (n, m, margin) = (4, 128, 0.3), (8, 128, 0.3), (16, 128, 0.3), "
           "(8, 16, 0.3), (8, 64, 0.15), (6, 256, 0.15); balanced signs, init seed 0, δ = 0.05; logistic; "
           "η = 2^k, k = −1..9; T = 3000")


def _eta_ladder(budget: Budget) -> list[NTKInstance]:
    data = with_certificate(synthetic(8, 3, 0.3, seed=1))
    top = 11 if budget.scale < 2 else 13
    return [ntk_instance(data, "logistic", tuple(2.0**k for k in range(-2, top)), budget.steps(3000), width=128,
                         seed=1)]


def _n_ladder(budget: Budget) -> list[NTKInstance]:
    ns = (4, 8, 16, 32) if budget.scale < 2 else (4, 8, 16, 32, 64, 128)
    return [ntk_instance(with_certificate(synthetic(n, 3, 0.3, seed=2)), "logistic", (1.0, 4.0), budget.steps(4000),
                         width=128, seed=2) for n in ns]


def _tau_strategy(budget: Budget):
    """Logistic loss and balanced signs only: C₁, C₂ depend on C_e, C_g, C_β, ℓ(0), C_a and δ, so a
    fitted constant is only meaningful with those fixed (as in the calibration sweep)."""
    return ntk_instances(budget, families=("logistic",), margin=(0.15, 0.9), steps=3000, signs=("balanced",))


register(Claim(
    id="thm6.lazy_scaling", outside_hypotheses=TREND,
    title=f"maxₜ‖w_t − w₀‖ = O(R_T) = O((√ρ(γ²ηT) + C_a + √(2ln(2n/δ)) + ηC_g)/γ) — {TREND}",
    source="Theorem 6 (lazy training), read as a scaling law", row=24, kind="asymptotic",
    quantity="maxₜ ‖w_t − w₀‖", direction="<=",
    domain=f"all η; {TREND} (the width needed grows like η²)", assumptions=NTK_ASSUMPTIONS,
    bound=theorem6.LAZY_RADIUS, models=("ntk",), strategy=_ntk_strategy, evaluate=lazy_scaling_eval, examples=3,
    fit=FitSpec(shape="(√ρ(γ²ηT) + C_a + √(2ln(2n/δ)) + ηC_g)/γ", constant="C_R",
                calibration=lambda: _cal_instances(),
                calibration_doc=CAL_DOC,
                ladders={"eta": _eta_ladder}, slope_tol=0.1)), replace=True)

register(Claim(
    id="thm6.tau_exp", outside_hypotheses=TREND,
    title=f"(6) holds at some s ≤ C₂max{{η, n ln n}}/γ² (exponential tail) — {TREND}",
    source="Theorem 6 (phase transition under an exponential tail)", row=24, kind="asymptotic",
    quantity="first s meeting (6)", direction="<=",
    domain=f"η ≥ 1 (the form misses the 1/η growth as η → 0); logistic loss, balanced signs, δ = 0.05 "
           f"(C₂ depends on them); n ≥ 2; {TREND}",
    assumptions=STABLE_ASSUMPTIONS[:2] + ("logistic loss (3A–3D)", "w₀ ~ N(0, I)"),
    bound=theorem6.TAU_EXP_TAIL, models=("ntk",), strategy=_tau_strategy, evaluate=tau_exp_eval, examples=3,
    fit=FitSpec(shape="max{η, n ln n}/γ²", constant="C_2", calibration=lambda: _cal_instances(),
                calibration_doc=CAL_DOC,
                ladders={"eta": _eta_ladder, "n": _n_ladder})), replace=True)

register(Claim(
    id="thm6.tau_psi", outside_hypotheses=TREND,
    title=f"(6) holds at some s ≤ C·max{{ψ⁻¹(η+n)/η, (η+n)η}}/γ² (general τ, C₁ = 1 "
                             f"inside ψ⁻¹) — {TREND}",
    source="Theorem 6 (phase transition)", row=24, kind="asymptotic", quantity="first s meeting (6)",
    direction="<=", domain=f"logistic loss, balanced signs, δ = 0.05 (C₁ depends on them); {TREND}",
    assumptions=STABLE_ASSUMPTIONS[:2] + ("logistic loss (3A–3C)", "w₀ ~ N(0, I)"),
    bound=theorem6.TAU_PSI, models=("ntk",), strategy=_tau_strategy, evaluate=tau_psi_eval, examples=3,
    fit=FitSpec(shape="max{ψ⁻¹(η+n)/η, (η+n)η}/γ²", constant="C_1'",
                calibration=lambda: _cal_instances(),
                calibration_doc=CAL_DOC,
                ladders={"eta": _eta_ladder, "n": _n_ladder})), replace=True)
