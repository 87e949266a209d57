"""eoscheck: checks the theory of large-stepsize gradient descent by experiment.

Reference: J. Wu, P. L. Bartlett, M. Telgarsky, B. Yu, *Large Stepsize Gradient
Descent for Logistic Loss: Non-Monotonicity of the Loss Improves Optimization
Efficiency*, COLT 2024 (arXiv:2402.15926).
"""

__version__ = "0.1.0"

from ._errors import DivergenceError, EoscheckError
from .datasets import (
    Dataset,
    MaxMargin,
    digits08,
    get_dataset,
    load_file,
    load_idx,
    max_margin,
    read_idx,
    synthetic,
    thm3,
    toy,
)
from .losses import (
    BUILTIN_LOSSES,
    Loss,
    exponential,
    flat_exp,
    flat_poly,
    from_expr,
    get_loss,
    logistic,
    poly_tail,
)
from .gd import run_gd
from .trajectory import Trajectory

# Heavier parts are imported on first use, so `import eoscheck` stays light.
_LAZY = {
    "bounds": ("eoscheck.bounds", None),
    "get_bound": ("eoscheck.bounds", "get_bound"),
    "list_bounds": ("eoscheck.bounds", "list_bounds"),
    "rho": ("eoscheck.bounds", "rho"),
    "psi": ("eoscheck.bounds", "psi"),
    "psi_inv": ("eoscheck.bounds", "psi_inv"),
    "run_ntk": ("eoscheck.networks", "run_ntk"),
    "run_mlp3": ("eoscheck.networks", "run_mlp3"),
    "lanczos": ("eoscheck.sharpness", "lanczos"),
    "top_hessian_eigs": ("eoscheck.sharpness", "top_hessian_eigs"),
    "hvp_from_loss": ("eoscheck.sharpness", "hvp_from_loss"),
    "EigenResult": ("eoscheck.sharpness", "EigenResult"),
    "linear_sharpness": ("eoscheck.sharpness", "linear_sharpness"),
    "parse_expression": ("eoscheck.expr", "parse_expression"),
    "parse_loss": ("eoscheck.expr", "parse_loss"),
    "audit_loss": ("eoscheck.audit", "audit_loss"),
    "AuditReport": ("eoscheck.audit", "AuditReport"),
    "CheckResult": ("eoscheck.audit", "CheckResult"),
    "testing": ("eoscheck.testing", None),
    "properties": ("eoscheck.properties", None),
}


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'eoscheck' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    return mod if attr is None else getattr(mod, attr)


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
