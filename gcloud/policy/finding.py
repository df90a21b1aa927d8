"""Findings are values: one per policy a tenant does not meet (or a waiver that no longer holds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum

from gcloud.errors import Problem, SourceLocation

from .policy import Policy


class Status(StrEnum):
    FAIL = "fail"
    """The tenant does not meet the policy."""
    WAIVED = "waived"
    """It does not, but a live, security-approved waiver covers it."""
    EXPIRED_WAIVER = "expired-waiver"
    """A waiver in the tenant file whose date has passed: void, reported so someone renews or removes it."""
    ERROR = "error"
    """The rule could not be evaluated for this tenant; treated like a failure (fail closed)."""


FLEET = ""
"""The tenant name of a fleet finding: it belongs to the platform, not to one tenant."""


@dataclass(frozen=True, order=True)
class Finding:
    """Sortable by place (file, line, column), then policy; 1-based line and column, 0 when unknown."""

    file: str
    line: int
    column: int
    policy_id: str
    severity: str
    enforcement: str
    tenant: str
    field: str
    message: str
    status: Status
    note: str = ""
    """Waiver details: ticket, approver, expiry, reason."""

    @property
    def location(self) -> SourceLocation:
        return SourceLocation(self.file, self.line, self.column)

    @property
    def blocking(self) -> bool:
        """Whether this finding makes `policy check` exit 1."""
        return self.enforcement == "mandatory" and self.status in (Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class CheckResult:
    """Everything a formatter needs: findings, the policies that ran, and who each one judged."""

    findings: tuple[Finding, ...]
    policies: tuple[Policy, ...]
    evaluated: Mapping[str, tuple[str, ...]] = field(default_factory=dict)
    """Policy id -> tenants it was evaluated on (fleet policies: the fleet marker "")."""
    today: dt.date = dt.date(1970, 1, 1)
    elsewhere: tuple[Problem, ...] = ()
    """Problems of tenant files in the set that the command did not name (reported as one line)."""

    @property
    def failed(self) -> bool:
        return any(finding.blocking for finding in self.findings)

    def counts(self) -> dict[str, int]:
        """Findings by status, plus `blocking` and the number of evaluations."""
        result = {status.value: 0 for status in Status}
        for finding in self.findings:
            result[finding.status.value] += 1
        result["blocking"] = sum(1 for finding in self.findings if finding.blocking)
        result["evaluations"] = sum(len(names) for names in self.evaluated.values())
        return result
