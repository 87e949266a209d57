"""Hypothesis profiles ``ci``, ``dev`` and ``thorough``, chosen by ``EOSCHECK_PROFILE``.

=========  ============================================================  =====================
profile    settings                                                       sizes (Budget.scale)
=========  ============================================================  =====================
ci         derandomized, no deadline, no example database, blob printed   5× examples, 1× steps
dev        derandomized, no deadline, no database                          10× examples, 2× steps
thorough   derandomized, no deadline, no database                          100× examples, 8× steps
=========  ============================================================  =====================

``ci`` is sized so that ``EOSCHECK_PROFILE=ci pytest properties/`` takes a few
minutes on a 2-core machine; ``thorough`` may take an hour.  The default is
``ci`` when the ``CI`` environment variable is set, else ``dev``.  Each claim
sets its own number of ``ci`` examples (its cost differs); the profile scales it.

Every profile is **derandomized**: every search has a seed (``--seed``, else
:data:`~eoscheck.properties.search.UNSEEDED`, 0), so the same commit, profile and seed give the same verdicts and
example counts (issue 13).  ``--seed N`` draws other examples, again
reproducibly; nothing depends on wall-clock time (the shrink budget counts evaluations).
Counterexamples are never kept in Hypothesis' database: a falsification is
saved as a self-contained file instead (:mod:`eoscheck.properties.replay`).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, Phase, Verbosity, settings

from .claims import Budget, Claim

PROFILE_NAMES = ("ci", "dev", "thorough")

#: Budget scale (steps, ranges) of each profile.
SCALE = {"ci": 1.0, "dev": 2.0, "thorough": 8.0}

#: Multiplier of a claim's ``examples`` in each profile.
EXAMPLES = {"ci": 5.0, "dev": 10.0, "thorough": 100.0}

#: report_multiple_bugs off: with it, Hypothesis keeps generating for 10 wall-clock seconds after the first failure,
#: so which examples ran, and the worst point and counterexample reported, depended on the machine's speed and load.
_BASE = dict(deadline=None, database=None, print_blob=True, report_multiple_bugs=False,
             suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large, HealthCheck.filter_too_much,
                                    HealthCheck.large_base_example])

_REGISTERED = False


def register_profiles() -> None:
    """Register the three profiles with Hypothesis (idempotent)."""
    global _REGISTERED
    if _REGISTERED:
        return
    settings.register_profile("ci", derandomize=True, max_examples=10, **_BASE)
    settings.register_profile("dev", derandomize=True, max_examples=20, **_BASE)
    settings.register_profile("thorough", derandomize=True, max_examples=250, **_BASE)
    _REGISTERED = True


def current_profile() -> str:
    """``EOSCHECK_PROFILE`` if set, else ``ci`` when ``CI`` is set, else ``dev``."""
    name = os.environ.get("EOSCHECK_PROFILE")
    if name:
        return check_profile(name, "EOSCHECK_PROFILE=")
    return "ci" if os.environ.get("CI") else "dev"


def check_profile(name, what: str = "profile ") -> str:
    """``name`` if it is one of :data:`PROFILE_NAMES`, else an :class:`EoscheckError` listing them."""
    if name not in PROFILE_NAMES:
        from eoscheck._errors import EoscheckError

        raise EoscheckError(f"{what}{name!r} is not a profile; use one of {', '.join(PROFILE_NAMES)}")
    return name


def budget(profile: str) -> Budget:
    return Budget(name=profile, scale=SCALE[profile])


def examples(c: Claim, profile: str) -> int:
    return max(1, int(round(c.examples * EXAMPLES[profile])))


def claim_settings(c: Claim, profile: str, quiet: bool = True, shrink: bool = True,
                   seeded: bool = False) -> settings:
    """The Hypothesis settings to check claim ``c`` under ``profile`` (``seeded``: an explicit
    ``--seed`` replaces the profile's derandomization)."""
    register_profiles()
    phases = [Phase.explicit, Phase.reuse, Phase.generate, Phase.target] + ([Phase.shrink] if shrink else [])
    extra = {"derandomize": False} if seeded else {}
    return settings(settings.get_profile(profile), max_examples=examples(c, profile), phases=phases,
                    verbosity=Verbosity.quiet if quiet else Verbosity.normal, **extra)
