"""Loss auditor: which conditions of Assumption 3 a loss satisfies, with its constants.

Wu, Bartlett, Telgarsky, Yu (COLT 2024), §5, Assumption 3, for ℓ: ℝ → ℝ₊ and g := |ℓ′|:

* **A** ℓ is continuously differentiable, convex, non-increasing and ℓ(+∞) = 0;
* **B** g ≤ C_g;
* **C** g ≤ C_β ℓ and ℓ(z) ≤ ℓ(x) + ℓ′(x)(z−x) + C_β g(x)(z−x)² for |z−x| < 1;
* **D** ℓ ≤ C_e g on z ≥ 0.

:func:`audit_loss` runs one named check per condition (:data:`CHECKS`) and returns an
:class:`AuditReport`: per check a :class:`CheckResult` (pass / fail / undetermined, the smallest
constant found, how it was established, a witness z for a failure), then what the theory
promises (ρ, ψ, which results apply, their bounds, Table 1).

The package, bottom up: :mod:`.format` (text/JSON helpers), :mod:`.results` (checks and
report), :mod:`.symbolic` (sympy questions in time-limited children that die with the audit),
its server :mod:`eoscheck.sympyserver` (the process they fork from: hash salt and random state fixed),
:mod:`.simplify` (ℓ in pieces; the questions), :mod:`.evaluate` (float64 / mpmath values through
the one compiler, :mod:`eoscheck.compiler`), :mod:`.search` (numeric sup / violation searches),
:mod:`.facts`, :mod:`.regularity` (3A), :mod:`.constants` (3B–3D), :mod:`.promises` (part 3),
:mod:`.auditor` (:func:`audit_loss`) and :mod:`.compare` (``--run``: GD against the bounds).

How a check is decided: **symbolic** where sympy decides it, each question in a forked child
under a time limit (a question that times out is undecided); **numeric** otherwise, never from
a coarse grid alone (grid, refinement, tails from limits or an extension to |z| = 10⁹), float64
checked against high precision, a violation reported only once confirmed in high precision.
"""

from .auditor import audit_loss
from .compare import RUN_ETAS, RUN_STEPS, compare_with_gd, run_lines
from .format import jsonable
from .promises import RESULTS, evaluable_loss, instantiate, promises
from .results import CHECK_NAMES, CHECKS, FAIL, PASS, UNDETERMINED, AuditReport, CheckResult, CheckSpec

__all__ = [
    "audit_loss", "AuditReport", "CheckResult", "CheckSpec", "CHECKS", "CHECK_NAMES", "PASS", "FAIL",
    "UNDETERMINED", "RESULTS", "RUN_ETAS", "RUN_STEPS", "compare_with_gd", "run_lines", "evaluable_loss",
    "instantiate", "promises", "jsonable",
]
