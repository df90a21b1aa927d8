"""The quota request flows as library calls: request, approve, reject, withdraw, list, show.

Files are the state: the tenant files, platform.yaml, policies/ and the requests folder. Effects other than
those files come in through `Effects` (live usage, the audit log, the clock), so tests run every flow offline.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from gcloud.errors import InputError
from gcloud.localfs import display_path
from gcloud.model import Fleet, Tenant, TenantDocument, load_fleet
from gcloud.model.effective import effective_quota
from gcloud.policy.loader import load_policies

from . import checks, rules
from .edit import edit_tenant_text
from .keys import QuotaKey, changed_tenant, changes, current_value, parse_assignments, parse_key
from .model import (
    Approval,
    Decision,
    QuotaChange,
    QuotaRequest,
    RequestMetadata,
    RequestSpec,
    RequestStatus,
    Role,
    State,
    Usage,
    find_request,
    load_requests,
    next_id,
    save_request,
)
from .view import RequestView, view

if TYPE_CHECKING:
    from gcloud.audit import AuditLog


def _utc_now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


@dataclass(frozen=True)
class Workspace:
    """The files a request is judged against and written to."""

    tenants: list[Path]
    platform: Path = Path("platform.yaml")
    policies: Path = Path("policies")
    requests: Path = Path("requests")


@dataclass(frozen=True)
class Effects:
    """What reaches outside the files: live usage (None: not read), the audit log, the clock."""

    audit: AuditLog
    usage: checks.UsageReader | None = None
    clock: Callable[[], dt.datetime] = field(default=_utc_now)


def _load(ws: Workspace, tenant: str) -> tuple[Fleet, TenantDocument]:
    fleet = load_fleet(ws.tenants, ws.platform)
    try:
        return fleet, fleet.get(tenant)
    except KeyError:
        known = ", ".join(doc.name for doc in fleet.tenants)
        raise InputError.single(tenant, f"no tenant {tenant!r} in the tenant set", code="unknown-tenant",
                                hint=f"tenants: {known}") from None


def _audit(effects: Effects, actor: str, action: str, request: QuotaRequest, outcome: str,
           before: str | None = None, after: str | None = None, **detail: str) -> None:
    from gcloud.audit import AuditEvent

    asked = ", ".join(f"{c.key}={c.requested}" for c in request.spec.changes)
    effects.audit.append(AuditEvent(
        actor=actor, action=action, tenant=request.tenant, outcome=outcome, digest_before=before,
        digest_after=after, ticket=request.spec.ticket,
        detail={"request": request.id, "changes": asked, "state": request.status.state.value, **detail}))


@dataclass(frozen=True)
class _Judgement:
    """A request's changes checked against the fleet as it would be."""

    after: Fleet
    problems: list[str]
    parent_needs: list[QuotaChange]
    usage: Usage


def _judge(ws: Workspace, effects: Effects, fleet: Fleet, doc: TenantDocument,
           asked: list[tuple[QuotaKey, QuotaChange]], today: dt.date) -> _Judgement:
    keys = [key for key, _ in asked]
    items = [change for _, change in asked]
    tenant = changed_tenant(doc, [(key, change.requested) for key, change in asked])
    after = checks.substitute(fleet, tenant)
    usage = effects.usage(doc, keys, fleet.platform) if effects.usage else Usage(unknown={"*": "not read"})
    needs = checks.parent_needs(after, doc.name, keys)
    problems = [
        *checks.below_usage(keys, items, usage),
        *checks.capacity_problems(after, doc.name, keys, items),
        *checks.cross_problems(after),
        *checks.new_policy_failures(fleet, after, load_policies(ws.policies), today),
    ]
    if needs:
        parent = doc.tenant.metadata.parent
        problems.append(f"over the allocation of parent {parent}: it would need "
                        + ", ".join(f"{n.key} {n.current} -> {n.requested}" for n in needs))
    return _Judgement(after, list(dict.fromkeys(problems)), needs, usage)


def request_quota(ws: Workspace, effects: Effects, tenant: str, assignments: list[str], *, reason: str,
                  requester: str, ticket: str | None = None) -> QuotaRequest:
    """Check and record a request; refused ones are recorded too (with why), auto-approved ones applied to the file.

    InputError (nothing written) for bad keys or values, an unknown tenant, or a second open request.
    """
    if not reason.strip() or not requester.strip():
        raise InputError.single("--reason", "a request needs a reason and a requester", code="missing-reason")
    fleet, doc = _load(ws, tenant)
    history = load_requests(ws.requests)
    open_ones = [r.id for r in history if r.tenant == tenant and r.is_open]
    if open_ones:
        raise InputError.single(display_path(ws.requests / f"{open_ones[0]}.yaml"),
                                f"tenant {tenant} already has an open request ({open_ones[0]})",
                                code="request-in-flight",
                                hint="one request per tenant at a time: wait for its decision or withdraw it")
    asked = changes(doc, parse_assignments(assignments, doc.tenant))
    now = effects.clock()
    judged = _judge(ws, effects, fleet, doc, asked, now.date())
    items = [change for _, change in asked]
    verdict = rules.approval_route(doc.tenant, fleet.platform, effective_quota(doc.tenant, fleet.platform), items,
                             history, now)
    status = RequestStatus(state=State.REFUSED if judged.problems else State.OPEN, kind=verdict.kind,
                           required=list(verdict.required), usage=judged.usage, parent_needs=judged.parent_needs,
                           problems=judged.problems, note=verdict.note)
    if judged.problems:
        status = status.model_copy(update={"decision": Decision(outcome="refused", at=now,
                                                               reason="; ".join(judged.problems))})
    request = QuotaRequest(api_version="govcloud/v1", kind="QuotaRequest",
                           metadata=RequestMetadata(id=next_id(ws.requests, tenant, now.date()), created=now),
                           spec=RequestSpec(tenant=tenant, requester=requester, reason=reason, ticket=ticket,
                                            changes=items),
                           status=status)
    save_request(ws.requests, request)
    _audit(effects, requester, "quota.request", request, "refused" if judged.problems else "success",
           before=doc.digest, kind=verdict.kind.value)
    if request.is_open and not verdict.required:
        return _approve(ws, effects, request, [], automatic=True)
    return request


def _approve(ws: Workspace, effects: Effects, request: QuotaRequest, by: list[str], *,
             automatic: bool) -> QuotaRequest:
    """Re-check against the files as they are now, write the tenant file, record the decision."""
    fleet, doc = _load(ws, request.tenant)
    asked: list[tuple[QuotaKey, QuotaChange]] = []
    for change in request.spec.changes:
        key = parse_key(change.key, doc.tenant)
        now_value = current_value(key, doc)
        if now_value != change.current:
            raise InputError.single(doc.label, f"{change.key} is {now_value} now, not the {change.current} the "
                                    "request was made against", code="request-stale",
                                    hint="reject or withdraw it and ask again")
        asked.append((key, change))
    now = effects.clock()
    judged = _judge(ws, effects, fleet, doc, asked, now.date())
    if judged.problems:
        raise InputError.single(display_path(ws.requests / f"{request.id}.yaml"),
                                "the change no longer fits: " + "; ".join(judged.problems),
                                code="request-no-longer-fits",
                                hint="reject it, or make room first")
    text = doc.path.read_text(encoding="utf-8")
    edited = edit_tenant_text(text, [(key.path, change.requested) for key, change in asked])
    tmp = doc.path.with_name(f".{doc.path.name}.tmp")
    tmp.write_text(edited, encoding="utf-8")
    tmp.replace(doc.path)
    after = load_fleet(ws.tenants, ws.platform).get(request.tenant).digest
    decision = Decision(outcome="approved", by=by, at=now, automatic=automatic, digest_before=doc.digest,
                        digest_after=after)
    done = request.model_copy(update={"status": request.status.model_copy(update={
        "state": State.APPROVED, "decision": decision, "usage": judged.usage})})
    save_request(ws.requests, done)
    _audit(effects, ", ".join(by) or "govcloud (automatic)", "quota.approve", done, "success",
           before=doc.digest, after=after, automatic=str(automatic).lower(), file=doc.label)
    return done


def _parent_owner(ws: Workspace, request: QuotaRequest) -> tuple[str, ...]:
    fleet, doc = _load(ws, request.tenant)
    parent = doc.tenant.metadata.parent
    owner = fleet.get(parent).tenant.spec.contacts.owner if parent else None
    return (owner.name, owner.email) if owner else ()


def approve_request(ws: Workspace, effects: Effects, request_id: str, *, approver: str, role: Role) -> QuotaRequest:
    """Add one approval; the last one needed writes the tenant file (after the checks run again)."""
    request = find_request(ws.requests, request_id)
    fleet = load_fleet(ws.tenants, ws.platform)
    rules.check_approval(request, approver, role, fleet.platform,
                         _parent_owner(ws, request) if role is Role.PARENT else ())
    approval = Approval(approver=approver, role=role, at=effects.clock())
    request = request.model_copy(update={"status": request.status.model_copy(update={
        "approvals": [*request.status.approvals, approval]})})
    if rules.missing(request):
        save_request(ws.requests, request)
        _audit(effects, approver, "quota.approve", request, "success", role=role.value,
               waiting_for=", ".join(r.value for r in rules.missing(request)))
        return request
    return _approve(ws, effects, request, [a.approver for a in request.status.approvals], automatic=False)


def _close(ws: Workspace, effects: Effects, request: QuotaRequest, state: State, actor: str, reason: str,
           action: str) -> QuotaRequest:
    if not request.is_open:
        raise InputError.single(display_path(ws.requests / f"{request.id}.yaml"),
                                f"request is {request.status.state.value}, not open", code="request-closed")
    decision = Decision(outcome=state.value, by=[actor], at=effects.clock(), reason=reason)  # type: ignore[arg-type]
    closed = request.model_copy(update={"status": request.status.model_copy(update={
        "state": state, "decision": decision})})
    save_request(ws.requests, closed)
    _audit(effects, actor, action, closed, "success", reason=reason)
    return closed


def reject_request(ws: Workspace, effects: Effects, request_id: str, *, approver: str, reason: str) -> QuotaRequest:
    """Close an open request as rejected, with the reason; the requester withdraws instead."""
    request = find_request(ws.requests, request_id)
    if rules.same_person(approver, request.spec.requester):
        raise InputError.single(display_path(ws.requests / f"{request.id}.yaml"),
                                f"{approver} made this request", code="self-rejection",
                                hint=f"govcloud quota withdraw {request.id}")
    if not reason.strip():
        raise InputError.single("--reason", "a rejection needs a reason", code="missing-reason")
    return _close(ws, effects, request, State.REJECTED, approver, reason, "quota.reject")


def withdraw_request(ws: Workspace, effects: Effects, request_id: str, *, actor: str) -> QuotaRequest:
    """Close an open request as withdrawn (so the tenant may ask again)."""
    return _close(ws, effects, find_request(ws.requests, request_id), State.WITHDRAWN, actor, "",
                  "quota.withdraw")


def list_requests(ws: Workspace, *, tenant: str | None = None, state: State | None = None) -> list[QuotaRequest]:
    return [r for r in load_requests(ws.requests)
            if (tenant is None or r.tenant == tenant) and (state is None or r.status.state is state)]


def show_request(ws: Workspace, request_id: str) -> RequestView:
    """The request beside the tenant's current tier values, in plain units."""
    request = find_request(ws.requests, request_id)
    fleet = load_fleet(ws.tenants, ws.platform)
    try:
        tenant: Tenant | None = fleet.get(request.tenant).tenant
    except KeyError:
        tenant = None
    return view(request, tenant, fleet.platform)
