"""ReportData: everything the report page shows, as frozen values (collect.py builds it, render.py draws it).

Numbers stay numbers until the renderer; each value that a chart draws also carries the text a reader sees,
formatted once here so the HTML and Markdown pages say the same thing.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass


@dataclass(frozen=True)
class Meter:
    """One quota key against a limit: what is allocated, the cloud's capacity (× overcommit), live usage."""

    key: str
    allocated: float
    limit: float | None
    """Capacity × overcommit (None when the cloud declares no capacity for the key)."""
    capacity: float | None
    overcommit: float
    used: float | None
    """Live usage (None while unknown)."""
    allocated_text: str
    limit_text: str
    capacity_text: str
    used_text: str

    @staticmethod
    def _share(part: float | None, whole: float | None) -> float | None:
        if part is None or not whole:
            return None
        return part / whole

    @property
    def share(self) -> float | None:
        """Allocated / limit (may exceed 1: over capacity)."""
        return self._share(self.allocated, self.limit)

    @property
    def used_share(self) -> float | None:
        """Used / allocated."""
        return self._share(self.used, self.allocated)

    @property
    def capacity_share(self) -> float | None:
        """Where the physical capacity sits on the limit's scale (below 1 when overcommitted)."""
        return self._share(self.capacity, self.limit)

    @property
    def over(self) -> bool:
        return self.limit is not None and self.allocated > self.limit


@dataclass(frozen=True)
class Pool:
    """A cloud or cluster with what the fleet has allocated on it."""

    kind: str
    """"OpenStack" or "Kubernetes"."""
    name: str
    meters: tuple[Meter, ...]
    dedicated: bool = False
    others: tuple[tuple[str, str], ...] = ()
    """Quota keys the pool declares no capacity for: (key, allocated text), listed without a chart."""


@dataclass(frozen=True)
class Person:
    role: str
    name: str | None
    email: str | None


@dataclass(frozen=True)
class PolicyRow:
    """One policy's result for one tenant (or the fleet): pass, fail, waived, error or expired-waiver."""

    policy_id: str
    title: str
    severity: str
    enforcement: str
    status: str
    message: str = ""
    note: str = ""

    @property
    def passed(self) -> bool:
        return self.status in ("pass", "waived")


@dataclass(frozen=True)
class WaiverRow:
    policy_id: str
    ticket: str
    approved_by: str
    expires: dt.date
    reason: str
    days_left: int
    state: str
    """"live", "expiring" (within the warning window) or "expired"."""


@dataclass(frozen=True)
class AppliedInfo:
    applied_at: str
    digest: str
    current: bool
    """Whether the spec applied is the spec in the files now."""
    actor: str = ""
    ticket: str = ""
    """Who applied this spec and under which ticket, from the audit trail ("" where it does not say)."""


@dataclass(frozen=True)
class DriftInfo:
    checked_at: str
    drifted: bool
    summary: str


@dataclass(frozen=True)
class TenantReport:
    name: str
    display_name: str
    mlps_level: int
    tier: str
    parent: str
    people: tuple[Person, ...]
    """Owner, then the three administrators (system, security, audit); a missing one has name None."""
    clouds: tuple[str, ...]
    quotas: tuple[Pool, ...]
    policies: tuple[PolicyRow, ...]
    waivers: tuple[WaiverRow, ...]
    last_apply: AppliedInfo | None
    drift: DriftInfo | None
    """None: not checked yet."""

    def count(self, enforcement: str, passed: bool) -> int:
        return sum(1 for row in self.policies if row.enforcement == enforcement and row.passed is passed)

    @property
    def blocking(self) -> int:
        return sum(1 for row in self.policies if row.enforcement == "mandatory" and not row.passed)


@dataclass(frozen=True)
class RequestRow:
    id: str
    tenant: str
    requester: str
    created: str
    reason: str
    ticket: str
    changes: str
    state: str
    approvals: str
    required: str


@dataclass(frozen=True)
class ChangeRow:
    """One entry of the audit trail as the page shows it: who changed what, where, under which ticket."""

    time: str
    actor: str
    action: str
    tenant: str
    ticket: str
    outcome: str
    what: str


@dataclass(frozen=True)
class Changes:
    """The newest entries of the audit trail (newest first), and how many it holds in all."""

    rows: tuple[ChangeRow, ...]
    total: int


@dataclass(frozen=True)
class AuditInfo:
    ok: bool
    entries: int
    first_broken: int | None
    reason: str


@dataclass(frozen=True)
class Evidence:
    """One thing that evidences a requirement: a policy or a live check, and its result."""

    kind: str
    """"policy" or "live"."""
    name: str
    title: str
    result: str
    ok: bool | None
    """None: not run yet."""


@dataclass(frozen=True)
class Requirement:
    """One MLPS 2.0 (GB/T 22239-2019) level-3 requirement govcloud serves, with its evidence."""

    key: str
    title: str
    title_zh: str
    clauses: tuple[str, ...]
    evidence: tuple[Evidence, ...]

    @property
    def verdict(self) -> str:
        """"met", "not met" or "partly evidenced" (something not run yet, nothing failing)."""
        if any(item.ok is False for item in self.evidence):
            return "not met"
        if any(item.ok is None for item in self.evidence):
            return "partly evidenced"
        return "met"


@dataclass(frozen=True)
class Summary:
    tenants: int
    by_level: tuple[tuple[int, int], ...]
    """(MLPS level, tenants) pairs, highest level first."""
    pools: int
    policies: int
    blocking: int
    advisory: int
    waived: int
    waivers_expiring: int
    waivers_expired: int
    tenants_failing: tuple[str, ...]
    applied: int
    pending: int
    """Tenants never applied or whose files changed since the last apply."""
    open_requests: int | None
    audit: str


@dataclass(frozen=True)
class ReportData:
    """The whole page."""

    title: str
    platform: str
    platform_display: str
    platform_level: int
    today: dt.date
    warn_days: int
    summary: Summary
    pools: tuple[Pool, ...]
    fleet_policies: tuple[PolicyRow, ...]
    tenants: tuple[TenantReport, ...]
    requests: tuple[RequestRow, ...] | None
    """None: the requests folder could not be read (say so, do not pretend there are none)."""
    audit: AuditInfo | None
    """None: no audit log to verify."""
    evidence: tuple[Requirement, ...]
    changes: Changes | None = None
    """None: the audit trail could not be read."""
