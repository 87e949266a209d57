"""Report configurations: ``tiny`` (tests), ``quick`` (the default) and ``full`` (the paper's scale:
Fig. 1 up to 2²⁰ steps).  Sizes are counts (steps, stepsizes, examples), never wall-clock budgets, so
a profile gives the same verdicts on any machine under any load.

A configuration is plain JSON-able data, one entry per section; its hash (with the seed and the
device) identifies the report in the provenance section, and each run inside it is cached by the
hash of its own configuration (:mod:`eoscheck.report.cache`), so two profiles share every run they
have in common.
"""

from __future__ import annotations

import copy
from typing import Any

from .._errors import EoscheckError

PROFILES = ("tiny", "quick", "full")

#: The paper's MNIST stepsizes for Fig. 1(c, d) (paper §8.1): 2⁻⁶ "small", the others "large".
PAPER_MNIST_ETAS = (2.0**-6, 2.0**-4, 2.0**-2, 2.0**0)

#: The datasets on which Theorem 1 is checked (all satisfy Assumption 1: ‖x‖ ≤ 1, separable).
THEOREM1_DATASETS = ("toy-normalized", "thm3:0.05", "synthetic:n=100,d=10,gamma=0.1", "digits08-normalized")

_QUICK: dict[str, Any] = {
    "descent": {
        "quadratic": {"eigenvalues": [1.0, 0.3, 0.05], "factors": [0.99, 1.01], "steps": 1000},
        "logistic": {"datasets": ["toy", "toy-normalized", "thm3:0.05", "synthetic:n=100,d=10,gamma=0.1",
                                  "digits08-normalized"],
                     "factors": [0.25, 0.5, 0.9, 0.99, 2.0, 4.0, 8.0], "steps": 2**12},
    },
    "figure1": {
        "toy": {"etas": [4.0, 8.0, 16.0, 32.0], "steps": 2**16, "grid_points": 2048},
        "digits": {"paper_etas": list(PAPER_MNIST_ETAS), "steps": 2**16,   # data: figure1.fig1_data (no "data")
                   "grid_points": 2048, "scan_exponents": [3.0 + 0.5 * k for k in range(15)], "scan_steps": 2**12},
        "mlp3": {"etas": [0.2, 0.02], "steps": 1000, "sharpness_every": 25, "n": 1000, "hidden": [64, 64],
                 "loss": "mse", "activation": "tanh"},
        # the slide's loss picture (spikes, then a monotone fall) with cross-entropy: benchmarks/scan_mlp3.py's
        # scan_mlp3_ce_h64.json (η = 1: last increase 95 of 2000, then down to 7.4e-4)
        "mlp3_ce": {"etas": [1.0, 0.01], "steps": 1000, "sharpness_every": 100, "n": 1000, "hidden": [64, 64],
                    "loss": "cross_entropy", "activation": "tanh"},
    },
    "theorem1": {"datasets": list(THEOREM1_DATASETS), "eta_exponents": list(range(-2, 11)), "steps": 2**14,
                 "grid": "all", "grid_points": None, "figure_etas": [0.25, 4.0, 64.0, 1024.0]},
    "acceleration": {
        "slope_data": "thm3:0.05", "T_exponents": list(range(6, 17)), "fixed_eta": 1.0,
        # the best monotone comparator: a fixed η just under the first-step threshold of these data (Lemma 14's
        # scan below: 14.72 at γ = 0.05), where a run that never increases the loss is fastest
        "monotone_eta": 14.0,
        "c_exponents": [-12, -10, -8, -6, -4, -2, 0], "fit_last": 6,
        "cor2_data": ["toy-normalized", "thm3:0.09"], "cor2_multiples": [1, 2],
        "monotone_data": "thm3:0.05", "monotone_etas": [1.0, 2.0, 4.0, 8.0, 12.0], "monotone_steps": 2**16,
        "lemma14_gammas": [0.01, 0.05, 0.09], "lemma14_etas": [28.0, 32.0, 64.0, 256.0, 4096.0],
    },
    "losses": {
        "losses": ["logistic", "flat_exp:a=1", "flat_exp:a=2", "flat_poly:a=0.5", "flat_poly:a=1", "flat_poly:a=2"],
        "rho_log10_lambda": list(range(0, 9)),
        "data": "toy-normalized", "T_exponents": list(range(6, 15)), "fit_last": 5,
        "tau_eta_exponents": list(range(0, 11)), "tau_steps": 2**14,
        "audit": True,
    },
    "ntk": {"data": "digits08-normalized:n_per_class=30", "width": 256, "etas": [0.5, 2.0, 8.0, 32.0, 128.0, 512.0],
            "steps": 2500, "delta": 0.05},
    "lower_tau": {"gammas": [0.1, 0.05, 0.02], "n": 16, "eta_factors": [1.0, 4.0],
                  "deltas": [0.05, 0.2, 0.5, 0.8, 0.95]},
    "claims": {"profile": "ci", "ids": None, "memory_limit_gb": 6},
    "eos_length": {"datasets": ["toy-normalized", "thm3:0.05", "synthetic:n=100,d=10,gamma=0.1", "digits39-normalized"],
                   "eta_exponents": list(range(3, 16, 2)), "steps": 2**12},
}

_FULL_OVERRIDES: dict[str, Any] = {
    "descent": {"logistic": {"steps": 2**14}},
    "figure1": {"toy": {"steps": 2**20, "grid_points": 4096},
                "digits": {"steps": 2**17, "grid_points": 4096, "scan_steps": 2**14},  # 1000×784 Fashion-MNIST: 2²⁰ steps would take ~30 min on one core,
                "mlp3": {"etas": [0.1, 0.01], "steps": 2000, "sharpness_every": 20},
                "mlp3_ce": {"steps": 2000}},
    "theorem1": {"steps": 2**17, "grid": "log", "grid_points": 8192},
    "acceleration": {"T_exponents": list(range(6, 21)), "cor2_multiples": [1, 2, 4, 8, 16], "fit_last": 8,
                     "monotone_steps": 2**20},
    "losses": {"T_exponents": list(range(6, 19)), "fit_last": 7, "tau_steps": 2**16},
    "ntk": {"data": "digits08-normalized:n_per_class=100", "width": 1024, "steps": 8000},
    "eos_length": {"eta_exponents": list(range(3, 16)), "steps": 2**14},
}

_TINY_OVERRIDES: dict[str, Any] = {
    "figure_layout": "fixed",
    "descent": {"quadratic": {"steps": 100},
                "logistic": {"datasets": ["toy", "toy-normalized"], "factors": [0.5, 0.99, 4.0], "steps": 2**7}},
    "figure1": {"toy": {"steps": 2**9, "grid_points": 64},
                "digits": {"data": "digits08-normalized:n_per_class=20", "steps": 2**9, "grid_points": 64,
                           "scan_exponents": [3.0, 5.0, 7.0], "scan_steps": 2**7},
                "mlp3": {"steps": 12, "sharpness_every": 6, "n": 40, "hidden": [8, 8]},
                "mlp3_ce": {"steps": 12, "sharpness_every": 6, "n": 40, "hidden": [8, 8]}},
    "theorem1": {"datasets": ["toy-normalized", "thm3:0.05"], "eta_exponents": [-2, 2, 6, 10], "steps": 2**9,
                 "figure_etas": [0.25, 64.0]},
    "acceleration": {"T_exponents": [6, 7, 8, 9], "c_exponents": [-4, 0], "fit_last": 3,
                     "cor2_data": ["thm3:0.09"], "cor2_multiples": [1], "monotone_etas": [1.0, 8.0],
                     "monotone_steps": 2**9, "lemma14_gammas": [0.05], "lemma14_etas": [28.0, 64.0]},
    "losses": {"losses": ["logistic", "flat_poly:a=1"], "rho_log10_lambda": [0, 2, 4],
               "T_exponents": [5, 6, 7, 8], "fit_last": 3, "tau_eta_exponents": [0, 2, 4], "tau_steps": 2**8,
               "audit": False},
    "ntk": {"data": "digits08-normalized:n_per_class=5", "width": 16, "etas": [1.0, 8.0], "steps": 30},
    "lower_tau": {"gammas": [0.1], "deltas": [0.5]},
    "claims": {"profile": "ci", "ids": ["lemma14.first_step"]},  # plus the claims §1–6 quote
    "eos_length": {"datasets": ["toy-normalized", "digits39-normalized"], "eta_exponents": [3, 7, 11, 15], "steps": 2**8},
}


def _merge(base: dict, over: dict) -> dict:
    out = copy.deepcopy(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = _merge(out[k], v)
        else:
            out[k] = copy.deepcopy(v)
    return out


def profile_config(name: str) -> dict[str, Any]:
    """The configuration of profile ``name`` (``tiny``, ``quick`` or ``full``)."""
    if name == "quick":
        return copy.deepcopy(_QUICK)
    if name == "full":
        return _merge(_QUICK, _FULL_OVERRIDES)
    if name == "tiny":
        return _merge(_QUICK, _TINY_OVERRIDES)
    raise EoscheckError(f"unknown report profile {name!r}; use one of {', '.join(PROFILES)}")
