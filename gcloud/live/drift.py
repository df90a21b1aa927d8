"""`govcloud drift`: a preview-only refresh of each tenant's stack (its state is left untouched), read as drift.

Per tenant: fields changed by hand (resource, field, the value govcloud set, the live one), resources deleted by
hand, foreign objects in the containers govcloud owns, and interconnects or waivers past their expiry still in
effect. The last result per tenant is kept, with its time, where every runner sees it (`gcloud.state`), for the
report. `apply --refresh` repairs what this shows.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from gcloud.engine.events import ChangeOp, EventSink, ResourceChange
from gcloud.engine.runner import JobResult, StackJob, run_stacks
from gcloud.engine.settings import EngineSettings
from gcloud.model import Fleet, TenantDocument
from gcloud.plan.record import AppliedTenant, read_record

from .expiry import Expiry, still_in_effect

RESULT_KIND = "drift"


@dataclass(frozen=True, order=True)
class FieldDrift:
    resource: str
    field: str
    want: Any
    live: Any


@dataclass(frozen=True, order=True)
class ForeignObject:
    container: str
    """The govcloud resource holding it (a security group, project, network, namespace)."""
    kind: str
    id: str
    summary: str
    attrs: Mapping[str, Any] = field(default_factory=dict, compare=False)
    """What the live policy view maps back into the tenant model (a rule's direction, ports, remote...)."""


@dataclass(frozen=True)
class TenantDrift:
    """What one tenant's stack says the clouds hold now, against what govcloud last made."""

    tenant: str
    display_name: str
    checked_at: str
    changed: tuple[FieldDrift, ...] = ()
    deleted: tuple[str, ...] = ()
    foreign: tuple[ForeignObject, ...] = ()
    expired: tuple[Expiry, ...] = ()
    error: str = ""
    never_applied: bool = False

    @property
    def drifted(self) -> bool:
        return bool(self.changed or self.deleted or self.foreign or self.expired)


@dataclass(frozen=True)
class DriftReport:
    tenants: tuple[TenantDrift, ...]

    @property
    def drifted(self) -> bool:
        return any(t.drifted for t in self.tenants)

    @property
    def failed(self) -> bool:
        return any(t.error for t in self.tenants)


def tenant_drift(doc: TenantDocument, changes: Sequence[ResourceChange], applied: AppliedTenant | None,
                 checked_at: str) -> TenantDrift:
    """One tenant's refresh read as drift (pure: the engine's per-resource changes in, values out)."""
    changed: list[FieldDrift] = []
    deleted: list[str] = []
    foreign: list[ForeignObject] = []
    for change in changes:
        if change.op is ChangeOp.DELETE:
            deleted.append(change.name)
        elif change.op in (ChangeOp.UPDATE, ChangeOp.REPLACE):
            changed += [FieldDrift(change.name, f.path, f.want, f.live) for f in change.fields]
        for item in change.foreign:
            attrs = {k: v for k, v in item.items() if k not in ("kind", "id", "summary")}
            foreign.append(ForeignObject(change.name, str(item.get("kind", "")), str(item.get("id", "")),
                                         str(item.get("summary", "")), attrs))
    return TenantDrift(doc.name, doc.tenant.metadata.display_name, checked_at, tuple(sorted(changed)),
                       tuple(sorted(deleted)), tuple(sorted(foreign)),
                       tuple(still_in_effect(doc.effective, applied.applied_at if applied else None)))


def _from_job(doc: TenantDocument, result: JobResult, applied: AppliedTenant | None, now: str) -> TenantDrift:
    if result.error is not None:
        return TenantDrift(doc.name, doc.tenant.metadata.display_name, now,
                           error=str(result.error).splitlines()[0][:500])
    assert result.result is not None
    return tenant_drift(doc, result.result.changes, applied, now)


def run_drift(fleet: Fleet, settings: EngineSettings, *, parallel: int = 4, on_event: EventSink | None = None,
              clock: type[dt.datetime] = dt.datetime) -> DriftReport:
    """Refresh (preview only) every target that was applied; keep each tenant's result for the report."""
    from gcloud.state.backend import put_result

    record = read_record(settings.state_dir)
    now = clock.now(dt.UTC).isoformat(timespec="seconds")
    applied = [doc for doc in fleet.targets if doc.name in record.tenants]
    results = run_stacks([StackJob(doc.name, "refresh", preview_only=True) for doc in applied],
                         parallel=parallel, on_event=on_event, settings=settings)
    found = {doc.name: _from_job(doc, result, record.tenants.get(doc.name), now)
             for doc, result in zip(applied, results, strict=True)}
    tenants = tuple(found.get(doc.name) or TenantDrift(doc.name, doc.tenant.metadata.display_name, now,
                                                       never_applied=True) for doc in fleet.targets)
    for item in tenants:
        if not item.never_applied:
            put_result(RESULT_KIND, item.tenant, drift_document(item), state_dir=settings.state_dir)
    return DriftReport(tenants)


def drift_document(item: TenantDrift) -> dict[str, Any]:
    """JSON of one tenant's drift (what `--output json` prints and the report reads back)."""
    document = asdict(item)
    document["drifted"] = item.drifted
    document["expired"] = [{**asdict(e), "expires": e.expires.isoformat()} for e in item.expired]
    return document
