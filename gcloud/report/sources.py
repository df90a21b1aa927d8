"""Where the report reads what the tenant files do not say: applies, drift, usage, live checks, requests, audit.

Each reader is a plain function held in `Sources`, so a test hands in its own and a later feature replaces one
without touching collect.py. A fact nobody has read yet is None, and the page says "not checked yet" / "not
known" rather than inventing a value. By default no cloud is called: drift and live checks are what `govcloud
drift` and `govcloud verify` kept; live usage is read from the clouds only when asked (`report --live`).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from gcloud.errors import GovcloudError
from gcloud.model import Platform, TenantDocument
from gcloud.plan.record import AppliedRecord, read_record

from .data import AuditInfo, DriftInfo, RequestRow

if TYPE_CHECKING:
    from gcloud.audit.event import AuditEntry
    from gcloud.requests.usage import Clients

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


def no_usage(doc: TenantDocument, platform: Platform) -> Usage | None:
    """Live usage not asked for: the report calls no cloud unless `--live`."""
    return None


def cloud_usage(clients: Clients | None = None) -> Callable[[TenantDocument, Platform], Usage | None]:
    """A reader of each tenant's live usage from its clouds (Nova, Cinder, Neutron usage; Kubernetes quota
    `status.used`), through the reader quota requests use; a cloud that does not answer is left out (not known)."""

    def read(doc: TenantDocument, platform: Platform) -> Usage | None:
        from gcloud.policy.functions import quantity
        from gcloud.requests.keys import parse_key
        from gcloud.requests.usage import live_usage

        spec = doc.effective["spec"]
        names: list[str] = []
        if spec.get("openstack"):
            names += [f"{service}.{leaf}" for service, values in (spec["openstack"].get("quota") or {}).items()
                      for leaf in values or {}]
        if spec.get("kubernetes"):
            kube = spec["kubernetes"]
            leaves = {key for ns in kube.get("namespaces") or [] for key in ns.get("quota") or {}}
            # tenant-wide keys: status.used summed over the tenant's namespaces
            names += [f"kubernetes.quota.{leaf}" for leaf in sorted(leaves | set(kube.get("quota") or {}))]
        keys = [parse_key(name, doc.tenant) for name in names]
        found = live_usage(doc, keys, platform, clients)
        used: dict[str, dict[str, float]] = {}
        for key in keys:
            pool = str(spec["kubernetes"]["cluster"] if key.kubernetes else spec["openstack"]["cloud"])
            if pool not in found.unknown and key.key in found.values:
                used.setdefault(pool, {})[key.leaf] = quantity(found.values[key.key])
        return used

    return read


def read_live_checks(state_dir: Path) -> tuple[LiveCheck, ...] | None:
    """The checks each tenant's last `govcloud verify` kept (None: no tenant verified yet)."""
    from gcloud.state.backend import get_results
    from gcloud.verify.tenant import RESULT_KIND

    found = get_results(RESULT_KIND, state_dir=state_dir)
    if not found:
        return None
    return tuple(LiveCheck(tenant, str(check["check"]), bool(check["passed"]), str(check.get("detail", "")))
                 for tenant, document in sorted(found.items()) for check in document.get("checks") or [])


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


def read_audit_entries(state_dir: Path) -> Sequence[AuditEntry] | None:
    """Every event of the state's audit trail in log order (None: it cannot be read)."""
    from gcloud.audit import AuditLog

    try:
        return AuditLog.at(state_dir).entries()
    except (GovcloudError, OSError):
        return None


@dataclass(frozen=True)
class Sources:
    """The state folder, the requests folder, and one reader per fact (swappable)."""

    state_dir: Path
    requests_dir: Path
    applied: Callable[[Path], AppliedRecord] = read_record
    drift: Callable[[Path, str], DriftInfo | None] = read_drift
    usage: Callable[[TenantDocument, Platform], Usage | None] = no_usage
    live_checks: Callable[[Path], tuple[LiveCheck, ...] | None] = read_live_checks
    requests: Callable[[Path], tuple[RequestRow, ...] | None] = read_requests
    audit: Callable[[Path], AuditInfo | None] = read_audit
    audit_entries: Callable[[Path], Sequence[AuditEntry] | None] = read_audit_entries
