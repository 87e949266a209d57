"""Classic baselines (paper §9.7; §10 rows 13, 27): the descent lemma and the non-separable negative control
(Meng et al.).  Bounds: :mod:`eoscheck.bounds.classics`.
"""

from __future__ import annotations


import numpy as np
from hypothesis import strategies as st

from eoscheck.bounds import classics
from eoscheck.datasets import Dataset

from .bound_values import at
from .claims import Budget, Evaluation, claim
from .instances import Instance
from .numerics import rel_allowance
from .observe import Arrays, worst_per_row
from .strategies import initial_points, separable_datasets
from .exact_engine import point_params


# ---------------------------------------------------------------------------
# descent lemma (row 13)
# ---------------------------------------------------------------------------


def descent_threshold(Z: np.ndarray) -> float:
    """2/β, β = sup ℓ″·λ_max(ZᵀZ/n) (``classics.DESCENT_LEMMA``, the descent lemma, §9.7)."""
    return float(at(classics.DESCENT_LEMMA, lambda_max=np.linalg.eigvalsh(Z.T @ Z / Z.shape[0])[-1]))


def descent_instances(budget: Budget, factor: float = 1.0):
    """Stepsizes below factor·2/β (and a few above, for the looseness report), any data, w₀ = 0 or drawn."""
    data_st = separable_datasets(n=(1, int(12 * budget.scale)), d=(1, 6), margin=(0.02, 0.9))
    T = budget.steps(400)

    @st.composite
    def inst(draw) -> Instance:
        data = draw(data_st)
        thr = factor * descent_threshold(data.Z)
        below = [thr * u for u in (0.5, 0.9, 0.99, 1 - 1e-6)] + [thr * draw(st.floats(1e-3, 1 - 1e-9))]
        above = [thr * m for m in (1.05, 1.2, 1.5, 2.0, 4.0, 8.0)]  # for the looseness report only
        start = None
        if draw(st.booleans()):
            start = tuple(float(v) for v in draw(initial_points(data.d, (0.0, 3.0))))
        return Instance(data, "logistic", tuple(sorted(set(below + above))), T, w0=start,
                        extra={"threshold": thr})

    return inst()


@claim("classic.descent_lemma", title="η < 2/β, β = λ_max(XᵀX/n)/4 ⇒ L(w_t) non-increasing (no EoS)",
       source="Descent lemma (Nesterov 2018 §1.2.3; paper §9.7)", row=13, kind="exact",
       quantity="L(w_{t+1})/L(w_t)", direction="<=", domain="η < 2/β; any w0",
       assumptions=("‖x_i‖ ≤ 1", "logistic loss", "any w0"), bound=classics.DESCENT_LEMMA,
       strategy=descent_instances, examples=6)
def descent_lemma(inst: Instance) -> Evaluation:
    return monotone_below(inst, 1.0)


def monotone_below(inst: Instance, factor: float) -> Evaluation:
    """"η < factor·2/β ⇒ L non-increasing from w₀" (the descent lemma has factor 1)."""
    A = Arrays.of(inst.trajectory())
    thr = factor * descent_threshold(inst.data.Z)
    ratio = np.exp(np.diff(A.logL, axis=1))
    allow = np.expm1(2 * rel_allowance(np.maximum(A.wn[:, 1:], A.wn[:, :-1])))
    below = (A.eta[:, 0] < thr)
    up = (np.log(ratio) > np.log1p(allow)).any(axis=1)
    nonmono = A.eta[:, 0][up & ~below] * factor
    mask = np.broadcast_to(below[:, None], ratio.shape)
    ev = worst_per_row(ratio, 1.0, allow, mask, "<=", point_params(inst, A) | {"t": A.t[:, 1:]})
    ev.best = np.array([nonmono.min() / thr if nonmono.size else np.inf])
    ev.best_meaning, ev.best_reduce = ("smallest non-monotone η among 1.05, 1.2, 1.5, 2, 4, 8 × 2/β "
                                       "(close to 1: the lemma is tight)"), "min"
    return ev


# ---------------------------------------------------------------------------
# non-separable negative control (row 27)
# ---------------------------------------------------------------------------


def nonseparable(n: int, d: int, seed: int) -> Dataset:
    """Strictly non-separable data by construction (n ≥ d + 1): every w ≠ 0 has some zᵢ·w < 0, so L is
    coercive and has a finite minimizer.  z₀, …, z_{d−1} are a random cloud (a basis, almost surely) and
    z_d = −Σⱼ cⱼzⱼ with cⱼ > 0, so 0 = (z_d + Σⱼ cⱼzⱼ)/(1 + Σⱼ cⱼ) is inside their simplex: Σ λᵢ zᵢ·w = 0 with
    every λᵢ > 0 and not every zᵢ·w = 0.  (0 ∈ conv{z} alone allows a weak separator: zᵢ·w ≥ 0 for all i.)"""
    if n < d + 1:
        raise ValueError(f"strictly non-separable data in dimension {d} need n ≥ {d + 1} points, got {n}")
    rng = np.random.default_rng(seed)
    Z = rng.standard_normal((n, d))
    Z /= np.maximum(np.linalg.norm(Z, axis=1, keepdims=True), 1.0) * 1.0
    c = rng.uniform(0.25, 1.0, d)
    Z[d] = -(c @ Z[:d]) / max(1.0, float(np.linalg.norm(c @ Z[:d])))
    y = np.where(rng.random(n) < 0.5, 1.0, -1.0)
    return Dataset(y[:, None] * Z, y, name=f"nonseparable(n={n},d={d},seed={seed})",
                   meta={"source": "eoscheck.properties.classics.nonseparable", "seed": seed})


def logistic_minimizer(Z: np.ndarray, iters: int = 100) -> np.ndarray:
    """The finite minimizer of L on non-separable data by damped Newton (numpy, to machine precision)."""
    n, d = Z.shape
    w = np.zeros(d)
    for _ in range(iters):
        m = Z @ w
        s = 0.5 * (1 - np.tanh(m / 2))  # σ(−m)
        g = -(s @ Z) / n
        H = (Z.T * (s * (1 - s))) @ Z / n
        step = np.linalg.lstsq(H, g, rcond=None)[0]  # GD from 0 stays in the row space of Z
        t = 1.0
        L0 = np.mean(np.logaddexp(0, -m))
        # near w⋆ a Newton step changes L by ~‖g‖²/λ, below L's rounding (4 ulps): accepted, else the search
        # would stall at ‖g‖ ≈ √(ε L λ) ≈ 1e-8 (the first version's 1e-11)
        while np.mean(np.logaddexp(0, -(Z @ (w - t * step)))) > L0 * (1 + 4 * np.finfo(float).eps) and t > 1e-12:
            t /= 2
        w = w - t * step
        if np.linalg.norm(g) < 1e-15:
            break
    return w


def minimizer_and_curvature(data: Dataset) -> tuple[np.ndarray, float]:
    """(w⋆, λ = λ_max(∇²L(w⋆))) of the logistic loss on non-separable data."""
    w = logistic_minimizer(data.Z)
    s = 0.5 * (1 - np.tanh(data.Z @ w / 2))
    return w, float(np.linalg.eigvalsh((data.Z.T * (s * (1 - s))) @ data.Z / data.n)[-1])


def _meng_instances(budget: Budget):
    @st.composite
    def inst(draw) -> Instance:
        d = draw(st.integers(1, 3))
        n = draw(st.integers(max(3, d + 1), 12))
        data = nonseparable(n, d, draw(st.integers(0, 2**32 - 1)))
        w, lam = minimizer_and_curvature(data)
        etas = tuple(sorted({2 / lam * (1 + draw(st.floats(0.05, 3.0))) for _ in range(3)}))
        return Instance(data, "logistic", etas, budget.steps(1500), extra={"w_min": w.tolist(), "lam": lam})

    return inst()


def _is_meng_instance(inst: Instance) -> str | None:
    """Why ``inst`` is not a draw of the claim's hypotheses: its data must be nonseparable(n, d, seed) bit for bit
    (strictly non-separable by construction), its w⋆ and λ = λ_max(∇²L(w⋆)) those recomputed from the data (to 1e-8
    relative: Newton's minimizer to machine precision, the eigenvalue of a Hessian of O(1) entries), and every η
    in (2/λ, 8/λ] (the strategy draws the upper end too)."""
    seed = inst.data.meta.get("seed") if isinstance(inst.data.meta, dict) else None
    n, d = inst.data.n, inst.data.d
    if not isinstance(seed, int) or d < 1 or n < d + 1:
        return "its data are not a nonseparable(n, d, seed) set (no seed recorded, or n < d + 1)"
    ref = nonseparable(n, d, seed)
    if not (np.array_equal(ref.X, inst.data.X) and np.array_equal(ref.y, inst.data.y)):
        return f"its data are not nonseparable(n={n}, d={d}, seed={seed})"
    w, lam = minimizer_and_curvature(ref)
    w_file = np.asarray(inst.extra.get("w_min", []), dtype=np.float64)
    lam_file = float(inst.extra.get("lam", np.nan))
    if w_file.shape != w.shape or np.linalg.norm(w_file - w) > 1e-8 * (1 + np.linalg.norm(w)) or \
            not abs(lam_file - lam) <= 1e-8 * lam:
        return f"its w⋆ or λ are not the data's (recomputed: λ = {lam!r})"
    # the draws are 2/λ·(1 + u), u ∈ [0.05, 3]: the upper end 8/λ itself is drawn (up to its rounding)
    off = [e for e in inst.etas if not 2 / lam_file < e <= 8 / lam_file * (1 + 1e-12)]
    return f"its stepsizes {off} lie outside (2/λ, 8/λ] = ({2 / lam:.6g}, {8 / lam:.6g}]" if off else None


@claim("meng.no_convergence", title="Non-separable data, η > 2/λ_max(∇²L(w⋆)) ⇒ GD does not converge to w⋆",
       source="Meng, Orvieto, Cao, De Sa (2024) (paper §9.4)", row=27, kind="qualitative",
       quantity="min over the last half of the run of ‖w_t − w⋆‖", direction=">=",
       domain="non-separable data, η ∈ (2/λ, 8/λ)", assumptions=("non-separable data", "logistic loss", "w0 = 0"),
       bound_id=None, strategy=_meng_instances, examples=4, admits=_is_meng_instance,
       erratum=None)
def meng_no_convergence(inst: Instance) -> Evaluation:
    """Negative control: converged means ‖w_t − w⋆‖ ≤ 1e-6(1 + ‖w⋆‖) over the last half (qualitative criterion)."""
    w = np.asarray(inst.extra["w_min"])
    nw = float(np.linalg.norm(w))
    traj = inst.trajectory(w_star=w / nw if nw > 0 else None)
    wn, proj = traj.records["w_norm"], traj.records["w_proj"]
    dist = np.sqrt(np.maximum(wn**2 - 2 * nw * proj + nw**2, 0.0))
    half = dist[:, dist.shape[1] // 2:]
    meas = half.min(axis=1)
    b = np.full_like(meas, 1e-6 * (1 + nw))
    return Evaluation(meas, b, 0.0, ">=", {"eta": traj.eta, "n": inst.data.n, "d": inst.data.d,
                                           "eta_lambda_over_2": traj.eta * inst.extra["lam"] / 2})
