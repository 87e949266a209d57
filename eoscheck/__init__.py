"""eoscheck: checks the theory of large-stepsize gradient descent by experiment.

Reference: J. Wu, P. L. Bartlett, M. Telgarsky, B. Yu, *Large Stepsize Gradient
Descent for Logistic Loss: Non-Monotonicity of the Loss Improves Optimization
Efficiency*, COLT 2024 (arXiv:2402.15926).

Every public name is imported on first use (module ``__getattr__``, PEP 562), so
``import eoscheck`` and ``eoscheck --help`` load neither torch, sympy nor matplotlib.
``__all__`` lists the public API; ``tests/test_api.py`` keeps it in sync with ``_LAZY``.
"""

__version__ = "0.1.0"

from ._errors import DivergenceError, EoscheckError

#: public name → (module, attribute; None for the module itself).
_LAZY = {
    # data
    "Dataset": ("eoscheck.datasets", "Dataset"),
    "MaxMargin": ("eoscheck.datasets", "MaxMargin"),
    "digits08": ("eoscheck.datasets", "digits08"),
    "get_dataset": ("eoscheck.datasets", "get_dataset"),
    "load_file": ("eoscheck.datasets", "load_file"),
    "load_idx": ("eoscheck.datasets", "load_idx"),
    "max_margin": ("eoscheck.datasets", "max_margin"),
    "read_idx": ("eoscheck.datasets", "read_idx"),
    "synthetic": ("eoscheck.datasets", "synthetic"),
    "thm3": ("eoscheck.datasets", "thm3"),
    "toy": ("eoscheck.datasets", "toy"),
    # losses
    "BUILTIN_LOSSES": ("eoscheck.losses", "BUILTIN_LOSSES"),
    "Loss": ("eoscheck.losses", "Loss"),
    "exponential": ("eoscheck.losses", "exponential"),
    "flat_exp": ("eoscheck.losses", "flat_exp"),
    "flat_poly": ("eoscheck.losses", "flat_poly"),
    "from_expr": ("eoscheck.losses", "from_expr"),
    "get_loss": ("eoscheck.losses", "get_loss"),
    "logistic": ("eoscheck.losses", "logistic"),
    "poly_tail": ("eoscheck.losses", "poly_tail"),
    # gradient descent and its records
    "run_gd": ("eoscheck.gd", "run_gd"),
    "first_steps": ("eoscheck.gd", "first_steps"),
    "FirstSteps": ("eoscheck.gd", "FirstSteps"),
    "Trajectory": ("eoscheck.trajectory", "Trajectory"),
    "run_ntk": ("eoscheck.networks", "run_ntk"),
    "first_steps_ntk": ("eoscheck.networks", "first_steps_ntk"),
    "run_mlp3": ("eoscheck.mlp", "run_mlp3"),
    "sweep": ("eoscheck.sweeps", "sweep"),
    "lanczos": ("eoscheck.sharpness", "lanczos"),
    "top_hessian_eigs": ("eoscheck.sharpness", "top_hessian_eigs"),
    "hvp_from_loss": ("eoscheck.sharpness", "hvp_from_loss"),
    "EigenResult": ("eoscheck.sharpness", "EigenResult"),
    "linear_sharpness": ("eoscheck.sharpness", "linear_sharpness"),
    "plot_fig1": ("eoscheck.plotting", "plot_fig1"),
    # the theory's bounds
    "bounds": ("eoscheck.bounds", None),
    "get_bound": ("eoscheck.bounds", "get_bound"),
    "list_bounds": ("eoscheck.bounds", "list_bounds"),
    "rho": ("eoscheck.bounds", "rho"),
    "psi": ("eoscheck.bounds", "psi"),
    "psi_inv": ("eoscheck.bounds", "psi_inv"),
    # user formulas and the loss auditor
    "parse_expression": ("eoscheck.expr", "parse_expression"),
    "parse_loss": ("eoscheck.expr", "parse_loss"),
    "audit_loss": ("eoscheck.audit", "audit_loss"),
    "AuditReport": ("eoscheck.audit", "AuditReport"),
    "CheckResult": ("eoscheck.audit", "CheckResult"),
    # test helpers and the theorem properties
    "testing": ("eoscheck.testing", None),
    "properties": ("eoscheck.properties", None),
}

__all__ = ["__version__", "DivergenceError", "EoscheckError", *_LAZY]


def _check_exports(_public):
    # as Hypothesis' strategies/__init__.py: importing fails if __all__ and the public names drift apart
    assert set(__all__) == _public, (set(__all__) ^ _public)


_check_exports({n for n in dir() if n[0] != "_"} | set(_LAZY) | {"__version__"})


def __getattr__(name):
    if name not in _LAZY:
        raise AttributeError(f"module 'eoscheck' has no attribute {name!r}")
    import importlib

    module, attr = _LAZY[name]
    mod = importlib.import_module(module)
    value = mod if attr is None else getattr(mod, attr)
    globals()[name] = value  # later look-ups skip __getattr__
    return value


def __dir__():
    return sorted(set(globals()) | set(_LAZY))
