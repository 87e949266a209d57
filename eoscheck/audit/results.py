"""The audit's results: the named checks of Assumption 3, one check's outcome, the whole report."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import Any

import sympy as sp

from ..losses import Loss
from .format import fmt, json_float, jsonable, promises_lines, short, witness_text, yn

PASS, FAIL, UNDETERMINED = "pass", "fail", "undetermined"


@dataclass(frozen=True)
class CheckSpec:
    """A named check: its assumption letter, what it asks, and whether it counts for that assumption."""

    name: str
    letter: str
    title: str
    required: bool = True


#: The checks, in report order.  ``A.C2`` is reported but is not part of Assumption 3.
CHECKS: tuple[CheckSpec, ...] = (
    CheckSpec("A.C1", "A", "ℓ continuously differentiable"),
    CheckSpec("A.C2", "A", "ℓ twice differentiable (reported; the slides state C²)", required=False),
    CheckSpec("A.convex", "A", "ℓ convex"),
    CheckSpec("A.nonincreasing", "A", "ℓ non-increasing"),
    CheckSpec("A.nonnegative", "A", "ℓ ≥ 0"),
    CheckSpec("A.vanishes_at_infinity", "A", "ℓ(+∞) = 0"),
    CheckSpec("B.lipschitz", "B", "C_g = sup |ℓ′|"),
    CheckSpec("C.self_bounded", "C", "C_β ≥ sup g/ℓ"),
    CheckSpec("C.quadratic", "C", "C_β ≥ sup [ℓ(z)−ℓ(x)−ℓ′(x)(z−x)]/(g(x)(z−x)²), |z−x|<1"),
    CheckSpec("D.exp_tail", "D", "C_e = sup_{z≥0} ℓ/g"),
)
CHECK_NAMES = tuple(c.name for c in CHECKS)
_SPECS = {c.name: c for c in CHECKS}


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one check.

    Attributes:
      name: e.g. ``"B.lipschitz"``; status: ``"pass"``, ``"fail"`` or ``"undetermined"``.
      constant: the smallest constant found (B, C, D checks), ``inf`` when unbounded.
      exact: the constant in closed form when sympy found it (e.g. ``"1"``).
      method: ``"symbolic"``, ``"numeric"`` or ``"symbolic+numeric"``.
      detail: how it was established (which facts, the grid, the optimizer, the resolution).
      witness: for a failure, a z (or for C.quadratic the pair's x) exhibiting it.
      witness_info: what happens at the witness, in words.
    """

    name: str
    status: str
    constant: float | None = None
    exact: str | None = None
    method: str = "numeric"
    detail: str = ""
    witness: float | None = None
    witness_info: str = ""

    @property
    def spec(self) -> CheckSpec:
        return _SPECS[self.name]

    @property
    def passed(self) -> bool:
        return self.status == PASS

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["title"] = self.spec.title
        d["required"] = self.spec.required
        d["constant"] = json_float(self.constant)
        d["witness"] = json_float(self.witness)
        return d


@dataclass
class AuditReport:
    """Everything :func:`audit_loss` found about one loss.

    Attributes:
      loss: the audited :class:`~eoscheck.losses.Loss`.
      checks: check name → :class:`CheckResult`, in :data:`CHECKS` order.
      constants: ``C_g``, ``C_beta_self``, ``C_beta_quad``, ``C_beta`` (their max), ``C_e``, ``ell0``
        (None where the condition fails or is undetermined).
      paper: comparison with the constants the paper states for this loss (Prop. 5), if any.
      promises: part 3, what the theory then promises (ρ, ψ, applicable results, bounds, Table 1).
      settings: the search range, time limits and the evaluation path used.
      notes: anything the reader should know (time-outs, precision fall-backs, conflicts).
    """

    loss: Loss
    checks: dict[str, CheckResult]
    constants: dict[str, float | None]
    paper: list[dict[str, Any]] = field(default_factory=list)
    promises: dict[str, Any] = field(default_factory=dict)
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)
    elapsed_s: float = 0.0

    def __getitem__(self, name: str) -> CheckResult:
        return self.checks[name]

    def holds(self, letter: str) -> bool | None:
        """Whether assumption ``letter`` (A–D) holds: True, False, or None (undetermined)."""
        rs = [r for r in self.checks.values() if r.spec.letter == letter and r.spec.required]
        if any(r.status == FAIL for r in rs):
            return False
        if all(r.status == PASS for r in rs):
            return True
        return None

    @property
    def failures(self) -> list[CheckResult]:
        """Failed checks that count (A.C2 excluded)."""
        return [r for r in self.checks.values() if r.status == FAIL and r.spec.required]

    #: exit code when none of A–C fails but one is undetermined (1 is kept for a failure with its witness)
    UNDETERMINED_EXIT = 3

    @property
    def exit_code(self) -> int:
        """0 when A–C hold (the stable-phase theory applies; D does not matter), 1 when one fails (a witness),
        :data:`UNDETERMINED_EXIT` (3) when none fails but one could not be decided."""
        held = [self.holds(x) for x in "ABC"]
        if all(h is True for h in held):
            return 0
        return 1 if any(h is False for h in held) else self.UNDETERMINED_EXIT

    def to_dict(self) -> dict[str, Any]:
        return {
            "loss": {"name": self.loss.name, "expr": sp.sstr(self.loss.expr), "family": self.loss.family,
                     "params": dict(self.loss.params)},
            "assumptions": {x: self.holds(x) for x in "ABCD"},
            "checks": [r.to_dict() for r in self.checks.values()],
            "constants": {k: json_float(v) for k, v in self.constants.items()},
            "paper": self.paper,
            "promises": jsonable(self.promises),
            "settings": self.settings,
            "notes": self.notes,
            "exit_code": self.exit_code,
            "elapsed_s": round(self.elapsed_s, 3),
        }

    def to_json(self, **kw) -> str:
        return json.dumps(self.to_dict(), indent=kw.pop("indent", 2), allow_nan=False, **kw)

    def table(self) -> str:
        """The checks as a readable text table (tabulate)."""
        from tabulate import tabulate

        rows = []
        for r in self.checks.values():
            const = "" if r.constant is None else fmt(r.constant)
            if r.exact and r.constant is not None and r.exact != const:
                const += f" (= {short(r.exact, 40)})"     # the whole form is in the JSON
            wit = ""
            if r.witness is not None:
                wit = f"z={witness_text(r.witness)}" + (f": {r.witness_info}" if r.witness_info else "")
            rows.append([r.name + ("" if r.spec.required else " (info)"), r.status.upper(), const, r.method,
                         wit or short(r.detail, 70)])
        return tabulate(rows, headers=["check", "status", "constant", "method", "witness / how"],
                        tablefmt="simple", disable_numparse=True)

    def summary(self) -> str:
        """Readable report: the table, the constants, the paper comparison, notes and part 3."""
        out = [f"Loss: {self.loss.name}   ℓ(z) = {sp.sstr(self.loss.expr)}", "", self.table(), ""]
        held = ", ".join(f"{x}: {yn(self.holds(x))}" for x in "ABCD")
        out.append(f"Assumption 3 — {held}")
        c = self.constants
        out.append("Constants: " + ", ".join(f"{k} = {fmt(v) if v is not None else '—'}" for k, v in c.items()))
        for p in self.paper:
            src = p.get("source", "paper (Prop. 5)")
            if p["paper"] == "fails":      # the stated condition fails: nothing to be valid
                out.append(f"  {src} {p['constant']}: the condition fails — "
                           + ("the audit agrees" if p["valid"] else f"the audit found {p['found']}"))
                continue
            out.append(f"  {src} {p['constant']} = {p['paper']}: "
                       f"{'valid' if p['valid'] else 'NOT valid' if p['valid'] is False else '?'}"
                       f" (found {p['found']})")
        if self.promises:
            out.append("")
            out.extend(promises_lines(self.promises))
        if self.notes:
            out.append("")
            out.extend(f"note: {n}" for n in self.notes)
        return "\n".join(out)

