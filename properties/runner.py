"""Running claims: :func:`run_claim` turns a Hypothesis search (:mod:`.search`) into a
:class:`ClaimReport` (exact claims) or hands asymptotic claims to :mod:`eoscheck.properties.fitted`.
"""

from __future__ import annotations

import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Any, Callable

from eoscheck._errors import reraise_interrupt

from .claims import Claim, all_claims, get_claim
from .instances import cache_stats, single_thread
from .numerics import jsonable
from .profiles import budget, check_profile, claim_settings, current_profile
from .search import SHRINK_ATTEMPTS, fill_report, search

#: "TREND": not falsified, but a scaling ladder's ratio trends toward violation (evidence, no witness).
VERDICTS = ("holds", "FALSIFIED", "TREND", "warning", "undecided", "unavailable", "error")


# ---------------------------------------------------------------------------
# reports
# ---------------------------------------------------------------------------


@dataclass
class ClaimReport:
    """The outcome of checking one claim (a row of ``eoscheck check``'s table)."""

    id: str
    title: str
    source: str
    kind: str
    verdict: str
    examples: int = 0
    points: int = 0
    inconclusive: int = 0
    #: decided points that could not have contradicted the claim (:attr:`Evaluation.unfalsifiable`)
    unfalsifiable: int = 0
    worst_ratio: float | None = None
    worst_point: dict | None = None
    worst_instance: str | None = None
    best_constant: float | None = None
    best_meaning: str = ""
    fitted_constant: float | None = None
    constant_name: str | None = None
    #: where the fitted constant came from: the constants file read (the package's, or $EOSCHECK_FITTED_CONSTANTS),
    #: or "calibrated by this check" when no file held it
    constant_source: str | None = None
    slopes: dict = field(default_factory=dict)
    counterexample: dict | None = None
    counterexample_file: str | None = None
    message: str = ""
    seconds: float = 0.0
    profile: str = "ci"
    outside_hypotheses: str | None = None

    @property
    def falsified(self) -> bool:
        return self.verdict == "FALSIFIED"

    @property
    def shown_verdict(self) -> str:
        """The verdict as tables show it: "trend only" for a claim that holds outside its theorem's hypotheses."""
        return "trend only" if self.outside_hypotheses and self.verdict == "holds" else self.verdict

    def tested_text(self) -> str:
        """"k/N": of the N points decided, the k that could have contradicted the claim ("–" when none was decided;
        a claim whose k is 0 is undecided: :meth:`Evaluation.vacuous`), and "(+u undecided)" for the u points left
        undecided (e.g. a hitting time not met by a horizon short of ⌈τ⌉)."""
        text = f"{self.points - self.unfalsifiable}/{self.points}" if self.points else "–"
        return text + (f" (+{self.inconclusive} undecided)" if self.inconclusive else "")

    def slope_text(self) -> str:
        parts = []
        for p, s in self.slopes.items():
            if s.get("predicted") is not None:
                parts.append(f"{p}: {s['observed']:.2f} vs {s['predicted']:.2f}")
            elif s.get("ratio_slope") is not None:
                parts.append(f"{p}: {s['ratio_slope']:+.2f}")
        return "; ".join(parts)

    def to_json(self) -> dict[str, Any]:
        return jsonable(asdict(self))


def run_claim(c: Claim | str, profile: str | None = None, seed: int | None = None,
              save_dir: str | None = None, shrink_attempts: int = SHRINK_ATTEMPTS) -> ClaimReport:
    """Check one claim under a profile; save a counterexample file into ``save_dir`` if falsified."""
    if isinstance(c, str):
        c = get_claim(c)
    profile = check_profile(profile) if profile is not None else current_profile()
    t0 = time.perf_counter()
    rep = ClaimReport(id=c.id, title=c.title, source=c.source, kind=c.kind, verdict="holds", profile=profile,
                      outside_hypotheses=c.outside_hypotheses)
    if c.unavailable:
        rep.verdict, rep.message = "unavailable", c.unavailable
        return rep
    try:
        with single_thread():
            if c.kind == "asymptotic":
                from .fitted import check_asymptotic

                check_asymptotic(c, profile, seed, rep, shrink_attempts)
            else:
                b = budget(profile)
                res = search(c.strategy(b), c.evaluate, claim_settings(c, profile, seeded=seed is not None),
                             label=c.id, seed=seed,
                             shrink_attempts=shrink_attempts, explicit=c.explicit(b) if c.explicit else None)
                fill_report(rep, res, c)
    except Exception as err:  # a bug in a check must show, not pass
        reraise_interrupt(err)
        rep.verdict = "error"
        rep.message = f"{type(err).__name__}: {err}"
        rep.counterexample = {"traceback": traceback.format_exc(limit=6)}
    rep.seconds = time.perf_counter() - t0
    if rep.falsified and save_dir and rep.counterexample and "instance" in rep.counterexample:
        from .replay import save_counterexample, saved

        rep.counterexample_file, why = saved(lambda: save_counterexample(c, rep, save_dir, seed), save_dir)
        rep.message += f"; {why}" if why else ""
    return rep


def run_claims(ids: list[str] | None = None, profile: str | None = None, seed: int | None = None,
               save_dir: str | None = None, progress: Callable[[ClaimReport], None] | None = None
               ) -> list[ClaimReport]:
    """Check the claims ``ids`` (all when ``None``) and return their reports, in registry order."""
    claims = all_claims() if not ids else [get_claim(i) for i in ids]
    out = []
    for c in claims:
        rep = run_claim(c, profile, seed, save_dir)
        out.append(rep)
        if progress:
            progress(rep)
    return out


def summary_stats() -> dict:
    return {"run_cache": cache_stats()}
