"""Where the report reads what the tenant files do not say: applies, drift, usage, live checks, requests, audit.

Each reader is a plain function held in `Sources`, so a test hands in its own and a later feature replaces one
without touching collect.py. Readers for facts nobody stores yet (live usage, stored `verify` results)
return None, and the page says "not checked yet" / "not known" rather than inventing a value.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path

from gcloud.errors import GovcloudError
from gcloud.plan.record import AppliedRecord, read_record

from .data import AuditInfo, DriftInfo, RequestRow

Usage = Mapping[str, Mapping[str, float]]
"""Pool (cloud or cluster) name -> quota key -> live usage."""


@dataclass(frozen=True)
class LiveCheck:
    """A stored result of one live isolation check (`govcloud verify`) of one tenant."""

    tenant: str
    check: str
    passed: bool
    detail: str


def read_drift(state_dir: Path, tenant: str) -> DriftInfo | None:
    """The last drift result `govcloud drift` kept for a tenant (None: not checked yet)."""
    from gcloud.state.backend import get_results

    found = get_results("drift", state_dir=state_dir).get(tenant)
    if not found:
        return None
    counts = {kind: len(found.get(kind) or []) for kind in ("changed", "deleted", "foreign", "expired")}
    summary = ", ".join(f"{n} {kind}" for kind, n in counts.items() if n)
    if found.get("error"):
        summary = f"could not be read: {found['error']}"
    return DriftInfo(str(found.get("checked_at", "")), bool(found.get("drifted")), summary)


def no_usage(state_dir: Path, tenant: str) -> Usage | None:
    """Live usage of a tenant's quotas: not stored yet, and the report never calls a cloud itself."""
    return None


def no_live_checks(state_dir: Path) -> tuple[LiveCheck, ...] | None:
    """Stored `verify` results: `verify` does not store them yet."""
    return None


def read_requests(folder: Path) -> tuple[RequestRow, ...] | None:
    """Open quota requests in `requests/*.yaml`, oldest first, through gcloud.requests."""
    from gcloud.requests.model import load_requests

    rows = []
    for request in load_requests(folder):
        if not request.is_open:
            continue
        status = request.status
        rows.append(RequestRow(
            request.id, request.tenant, request.spec.requester, request.metadata.created.date().isoformat(),
            request.spec.reason, request.spec.ticket or "",
            ", ".join(f"{c.key} {'unset' if c.current is None else c.current} → {c.requested}"
                      for c in request.spec.changes),
            status.state.value,
            ", ".join(f"{a.approver} ({a.role.value})" for a in status.approvals) or "none yet",
            ", ".join(role.value for role in status.required) or "none"))
    return tuple(rows)


def read_audit(state_dir: Path) -> AuditInfo | None:
    """`AuditLog.verify()` of the state's log; a log that cannot be read is reported as not verified."""
    from gcloud.audit import AuditLog

    try:
        verification = AuditLog.at(state_dir).verify()
    except GovcloudError as err:
        return AuditInfo(False, 0, None, f"could not be verified: {err}")
    return AuditInfo(verification.ok, verification.entries, verification.first_broken, verification.reason)


@dataclass(frozen=True)
class Sources:
    """The state folder, the requests folder, and one reader per fact (swappable)."""

    state_dir: Path
    requests_dir: Path
    applied: Callable[[Path], AppliedRecord] = read_record
    drift: Callable[[Path, str], DriftInfo | None] = read_drift
    usage: Callable[[Path, str], Usage | None] = no_usage
    live_checks: Callable[[Path], tuple[LiveCheck, ...] | None] = no_live_checks
    requests: Callable[[Path], tuple[RequestRow, ...] | None] = read_requests
    audit: Callable[[Path], AuditInfo | None] = read_audit
