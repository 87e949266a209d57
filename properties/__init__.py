"""Hypothesis strategies and theorem checks (imported as ``eoscheck.properties``).

* :mod:`.strategies` — composable, valid-by-construction instances:
  :func:`separable_datasets`, :func:`losses`, :func:`stepsizes`, :func:`stepsize_batches`,
  :func:`initial_points`, :func:`gd_configs`, :func:`certificate`.
* :mod:`.claims` — the registry: :class:`Claim`, :func:`register`, :func:`claim`,
  :func:`get_claim`, :func:`all_claims`, :class:`Evaluation`, :class:`FitSpec`.
* the claims of paper §10 by statement: :mod:`.theorem1`, :mod:`.corollary2`, :mod:`.theorem3`,
  :mod:`.theorem35`, :mod:`.theorem4`, :mod:`.theorem6` (networks), :mod:`.proposition5`,
  :mod:`.lemma13`, :mod:`.crawshaw_liu`, :mod:`.classics`, :mod:`.figure1`; their shared machinery in
  :mod:`.exact_engine`.
* :mod:`.runner` — :func:`run_claim`, :func:`run_claims`, :class:`ClaimReport`.
* :mod:`.fitted` — calibrate / verify / scale for asymptotic claims.
* :mod:`.conjecture` — :class:`Conjecture`, :func:`check_conjecture`.
* :mod:`.replay` — counterexample files and :func:`replay`.
* :mod:`.profiles` — the Hypothesis profiles ``ci``, ``dev``, ``thorough``.
"""

from .claims import (Budget, Claim, Evaluation, FitSpec, REGISTRY, all_claims, claim, get_claim, load_claims,
                     register)
from .conjecture import Conjecture
from .decide import check_conjecture
from .instances import Instance
from .profiles import current_profile, register_profiles
from .replay import replay
from .runner import ClaimReport, run_claim, run_claims
from .strategies import (Certificate, GDConfig, build_separable, certificate, gd_configs, initial_points, losses,
                         rebuild, separable_datasets, stepsize_batches, stepsizes)

__all__ = [
    "Budget", "Claim", "Evaluation", "FitSpec", "REGISTRY", "all_claims", "claim", "get_claim", "load_claims",
    "register", "Conjecture", "check_conjecture", "Instance", "current_profile", "register_profiles", "replay",
    "ClaimReport", "run_claim", "run_claims", "Certificate", "GDConfig", "build_separable", "certificate",
    "gd_configs", "initial_points", "losses", "rebuild", "separable_datasets", "stepsize_batches", "stepsizes",
]
