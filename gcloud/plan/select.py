"""Which tenants a run must touch: pure comparison of effective-spec digests with the applied record."""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from gcloud.model import Fleet, TenantDocument

from .record import AppliedRecord, AppliedTenant


class Change(StrEnum):
    NEW = "new"
    CHANGED = "changed"
    UNCHANGED = "unchanged"


@dataclass(frozen=True)
class Selected:
    """A tenant and why it is (or is not) in this run."""

    doc: TenantDocument
    change: Change
    applied: AppliedTenant | None = None
    """The tenant's last successful apply (None when never applied)."""

    @property
    def name(self) -> str:
        return self.doc.name


def changes_since(fleet: Fleet, record: AppliedRecord) -> list[Selected]:
    """Every target of the fleet, marked new, changed or unchanged since its last successful apply."""
    result = []
    for doc in fleet.targets:
        previous = record.tenants.get(doc.name)
        if previous is None:
            change = Change.NEW
        elif previous.digest != doc.digest:
            change = Change.CHANGED
        else:
            change = Change.UNCHANGED
        result.append(Selected(doc, change, previous))
    return result


def orphans(fleet: Fleet, record: AppliedRecord) -> list[str]:
    """Tenants applied earlier whose file is gone: reported (when the whole set was named), never destroyed."""
    if not fleet.whole:
        return []
    names = {doc.name for doc in fleet.tenants}
    return sorted(name for name in record.tenants if name not in names)


def applied_entry(doc: TenantDocument, applied_at: str) -> AppliedTenant:
    """The record entry for a tenant just applied: its digest and its networks' CIDRs (now pinned)."""
    openstack = doc.effective["spec"].get("openstack") or {}
    cidrs = {net["name"]: net["cidr"] for net in openstack.get("networks", [])}
    return AppliedTenant(doc.digest, cidrs, applied_at)
