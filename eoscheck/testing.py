"""Pytest helpers: one named test per condition of Assumption 3 for your own loss.

In the spirit of scikit-learn's ``parametrize_with_checks``: put your loss into your
own CI and get one test per check of :func:`eoscheck.audit.audit_loss`
(A.C1, A.convex, A.nonincreasing, A.nonnegative, A.vanishes_at_infinity,
B.lipschitz, C.self_bounded, C.quadratic, D.exp_tail)::

    from eoscheck.testing import loss_checks

    @loss_checks("where(z > 0, (1 + z)**(-2), 1 - 2*z)",
                 expected_failed={"D.exp_tail": "polynomial tail, no exponential tail"})
    def test_my_loss(check):
        check()

collects ``test_my_loss[<loss>-A.C1]``, ..., ``test_my_loss[<loss>-D.exp_tail]``; an expected
failure becomes a strict ``xfail``.  Several losses at once::

    @parametrize_loss_checks(["logistic", my_loss], expected_failed={"my_loss": {"D.exp_tail": "..."}})
    def test_losses(loss, check):
        check(loss)

The audit runs once per loss and options (shared by every decorated test in the process), lazily,
when its first check runs (collection stays fast).
A check passes when its status is ``pass``; ``fail`` raises AssertionError with the witness;
``undetermined`` fails too (a CI should not pass what it could not establish) unless
``undetermined="skip"``.
"""

from __future__ import annotations

import inspect
import re
from typing import Any, Callable, Iterable, Mapping

from ._errors import EoscheckError
from .audit import CHECKS, FAIL, PASS, AuditReport, CheckResult, audit_loss
from .losses import Loss

#: The checks run by default: every check that is part of Assumption 3 (A.C2 is informational).
DEFAULT_CHECKS = tuple(c.name for c in CHECKS if c.required)

#: Audits shared by every check of the same loss (spec or Loss object) and options in this process.
_REPORTS: dict[tuple, AuditReport] = {}


class _LazyAudit:
    """The audit of one loss, computed on first use and shared by all its checks."""

    def __init__(self, loss: Loss | str, audit_kwargs: Mapping[str, Any]):
        self.spec = loss
        self.kwargs = dict(audit_kwargs)
        self.kwargs.setdefault("theory", False)
        self._loss: Loss | None = loss if isinstance(loss, Loss) else None
        self._report: AuditReport | None = None

    @property
    def loss(self) -> Loss:
        if self._loss is None:
            from .expr import parse_loss

            self._loss = parse_loss(self.spec)
        return self._loss

    @property
    def report(self) -> AuditReport:
        if self._report is None:
            key = (self.spec, tuple(sorted(self.kwargs.items())))
            try:
                cached = _REPORTS.get(key)
            except TypeError:  # unhashable audit options: no sharing
                key, cached = None, None
            self._report = cached if cached is not None else audit_loss(self.loss, **self.kwargs)
            if key is not None:
                _REPORTS[key] = self._report
        return self._report

    @property
    def label(self) -> str:
        name = self.spec.name if isinstance(self.spec, Loss) else str(self.spec)
        return _sanitize(name)


class LossCheck:
    """One named check of one loss; calling it asserts that the check passes.

    ``check()`` (or ``check(loss)``, ignored when given: the check knows its loss) returns the
    :class:`~eoscheck.audit.CheckResult` on a pass and raises ``AssertionError`` otherwise.
    """

    def __init__(self, audit: _LazyAudit, name: str, undetermined: str = "fail"):
        self._audit = audit
        self.name = name
        self.undetermined = undetermined

    def __repr__(self) -> str:
        return f"LossCheck({self._audit.label}, {self.name})"

    @property
    def loss(self) -> Loss:
        return self._audit.loss

    def __call__(self, loss: Any = None) -> CheckResult:
        result = self._audit.report.checks[self.name]
        if result.status == PASS:
            return result
        msg = _message(self._audit.loss, result)
        if result.status != FAIL and self.undetermined == "skip":
            import pytest

            pytest.skip(msg)
        raise AssertionError(msg)


def _message(loss: Loss, r: CheckResult) -> str:
    parts = [f"{r.name} ({r.spec.title}) is {r.status.upper()} for loss {loss.name}"]
    if r.witness is not None:
        parts.append(f"witness z = {r.witness:.6g}" + (f" ({r.witness_info})" if r.witness_info else ""))
    if r.constant is not None:
        parts.append(f"constant {r.constant:.6g}")
    parts.append(f"[{r.method}] {r.detail}")
    return "; ".join(parts)


def check_loss(loss: Loss | str, *, checks: Iterable[str] | None = None, undetermined: str = "fail",
               **audit_kwargs) -> list[LossCheck]:
    """The checks of ``loss`` as callables (one audit shared by all), e.g. for a custom runner."""
    names = _check_names(checks)
    if undetermined not in ("fail", "skip"):
        raise EoscheckError("undetermined must be 'fail' or 'skip'")
    audit = _LazyAudit(loss, audit_kwargs)
    return [LossCheck(audit, name, undetermined) for name in names]


def parametrize_loss_checks(
    losses: Iterable[Loss | str],
    *,
    expected_failed: Mapping[str, Any] | None = None,
    checks: Iterable[str] | None = None,
    undetermined: str = "fail",
    **audit_kwargs,
) -> Callable:
    """Decorator: parametrize a test over every (loss, check) pair, with readable ids.

    The test may take ``check`` and optionally ``loss``.  ``expected_failed`` maps check name →
    reason (for every loss) or loss name → {check name: reason}; those become strict xfails.
    Extra keyword arguments go to :func:`~eoscheck.audit.audit_loss` (e.g. ``search_range``).
    """
    import pytest

    losses = list(losses)
    if not losses:
        raise EoscheckError("parametrize_loss_checks needs at least one loss")
    names = _check_names(checks)
    params = []
    for loss in losses:
        audit = _LazyAudit(loss, audit_kwargs)
        expected = _expected_for(expected_failed, loss, audit.label)
        unknown = set(expected) - set(names)
        if unknown:
            raise EoscheckError(f"expected_failed names unknown or unselected checks: {', '.join(sorted(unknown))}")
        for name in names:
            marks = [pytest.mark.xfail(reason=str(expected[name]), strict=True)] if name in expected else []
            check = LossCheck(audit, name, undetermined)
            params.append(pytest.param(loss, check, id=f"{audit.label}-{name}", marks=marks))

    def decorate(fn: Callable) -> Callable:
        sig = inspect.signature(fn).parameters
        if "check" not in sig:
            raise EoscheckError(f"{fn.__name__} must take an argument named 'check'")
        if "loss" in sig:
            return pytest.mark.parametrize("loss, check", params)(fn)
        only = [pytest.param(p.values[1], id=p.id, marks=p.marks) for p in params]
        return pytest.mark.parametrize("check", only)(fn)

    return decorate


def loss_checks(loss: Loss | str, *, expected_failed: Mapping[str, str] | None = None,
                checks: Iterable[str] | None = None, undetermined: str = "fail", **audit_kwargs) -> Callable:
    """Decorator for one loss: one named pytest test per check (see the module docstring)."""
    return parametrize_loss_checks([loss], expected_failed=expected_failed, checks=checks,
                                   undetermined=undetermined, **audit_kwargs)


def assert_assumptions(loss: Loss | str, letters: str = "ABC", **audit_kwargs) -> AuditReport:
    """Assert that ``loss`` satisfies the named parts of Assumption 3 (e.g. "ABC"); returns the report."""
    audit = _LazyAudit(loss, audit_kwargs)
    rep = audit.report
    bad = [r for r in rep.checks.values() if r.spec.required and r.spec.letter in letters and r.status != PASS]
    if bad:
        raise AssertionError("; ".join(_message(audit.loss, r) for r in bad))
    return rep


def _check_names(checks: Iterable[str] | None) -> tuple[str, ...]:
    if checks is None:
        return DEFAULT_CHECKS
    names = tuple(checks)
    known = {c.name for c in CHECKS}
    unknown = [n for n in names if n not in known]
    if unknown:
        raise EoscheckError(f"unknown check(s) {', '.join(unknown)}; known: {', '.join(sorted(known))}")
    return names


def _expected_for(expected: Mapping[str, Any] | None, loss, label: str) -> dict[str, str]:
    if not expected:
        return {}
    name = loss.name if isinstance(loss, Loss) else str(loss)
    per_loss = {k: v for k, v in expected.items() if isinstance(v, Mapping)}
    if per_loss:
        for key in (name, label):
            if key in per_loss:
                return dict(per_loss[key])
        return {}
    return {k: v for k, v in expected.items()}


def _sanitize(name: str) -> str:
    """A pytest-id-friendly version of a loss name."""
    out = re.sub(r"\s+", "", name)
    return out if len(out) <= 60 else out[:57] + "..."
