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
