"""Approval rules (platform.yaml `approvals:`), pure: which approvals a request needs, who may give them.

- Any decrease goes through on its own, and so does at most `tierSteps` tier step up, unless the tenant had an
  approved change in the last `windowDays` days (OpenStack Adjutant's rule). Tiers are ordered as platform.yaml
  lists them, smallest first.
- Everything else needs one ops and one security approval.
- From `securityFromLevel` on (MLPS level 3), security approves every request, even one that would go through.
- A sub-unit's increase is also approved by its parent tenant's owner: it spends the parent's allocation.
- Every approval comes from a different person, none of them the requester.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping
from dataclasses import dataclass

from gcloud.errors import InputError
from gcloud.model import Platform, Tenant
from gcloud.model.quota import QuotaDict

from .keys import compare
from .model import Kind, QuotaChange, QuotaRequest, Role, State


@dataclass(frozen=True)
class Classification:
    kind: Kind
    required: tuple[Role, ...]
    note: str
    """Why, in a sentence: shown by `quota show` and kept in the audit entry."""


def _level(platform: Platform, values: Mapping[tuple[str, str], int]) -> int | None:
    """Index of the smallest tier holding every value (None: no tier does, or one is unlimited)."""
    for index, tier in enumerate(platform.tier_quotas.values()):
        if all(0 <= value <= tier.get(service, {}).get(key, -1) for (service, key), value in values.items()):
            return index
    return None


def _flat(quota: QuotaDict) -> dict[tuple[str, str], int]:
    return {(service, key): value for service, values in quota.items() for key, value in values.items()}


def tier_steps(tenant: Tenant, platform: Platform, current: QuotaDict, changes: Iterable[QuotaChange]) -> int | None:
    """Tier steps up the OpenStack changes take the tenant: from where it stands (its tier, or higher when its
    values of the asked keys already sit in a higher tier) to the smallest tier that holds the values asked.
    None when no tier holds them."""
    names = list(platform.tier_quotas)
    asked: dict[tuple[str, str], int] = {}
    for change in changes:
        service, _, key = change.key.partition(".")
        if not isinstance(change.requested, int):
            return None
        asked[(service, key)] = change.requested
    target = _level(platform, asked)
    if target is None:
        return None
    now = _flat(current)
    held = _level(platform, {key: now[key] for key in asked if key in now})
    base = max(names.index(tenant.spec.tier) if tenant.spec.tier in names else 0,
               held if held is not None else len(names))
    return max(0, target - base)


def approval_route(tenant: Tenant, platform: Platform, current: QuotaDict, changes: list[QuotaChange],
             history: Iterable[QuotaRequest], now: dt.datetime) -> Classification:
    """The request's kind and the approvals it needs."""
    rules = platform.spec.approvals
    auto = rules.auto_approve
    increases = [change for change in changes if compare(change.current, change.requested) > 0]
    kind, note = Kind.REVIEW, ""
    if not increases:
        kind, note = (Kind.DECREASE, "a decrease") if auto.decreases else (Kind.REVIEW, "decreases are reviewed")
    elif any(change.key.startswith("kubernetes.") for change in increases):
        note = "Kubernetes quota increases are reviewed (tiers size OpenStack only)"
    else:
        steps = tier_steps(tenant, platform, current, increases)
        recent = last_approved(tenant.metadata.name, history)
        window = dt.timedelta(days=auto.window_days)
        if steps is None:
            note = "beyond the largest tier"
        elif steps > auto.tier_steps:
            note = f"{steps} tier steps up (at most {auto.tier_steps} go through on their own)"
        elif recent is not None and now - recent < window:
            note = (f"{steps} tier step(s) up, but an approved change on {recent:%Y-%m-%d} is within "
                    f"{auto.window_days} days")
        else:
            kind, note = Kind.TIER_STEP, f"{steps} tier step(s) up, no approved change in {auto.window_days} days"
    required: list[Role] = [Role.OPS, Role.SECURITY] if kind is Kind.REVIEW else []
    if tenant.spec.mlps_level >= rules.security_from_level and Role.SECURITY not in required:
        required.append(Role.SECURITY)
        note += f"; level {tenant.spec.mlps_level}: security approves"
    if tenant.metadata.parent and rules.parent_owner and kind is not Kind.DECREASE:
        required.append(Role.PARENT)
        note += f"; sub-unit of {tenant.metadata.parent}: its owner approves"
    return Classification(kind, tuple(required), note)


def last_approved(tenant: str, history: Iterable[QuotaRequest]) -> dt.datetime | None:
    """When the tenant's latest approved request was decided (automatic ones count too)."""
    times = [request.status.decision.at for request in history
             if request.tenant == tenant and request.status.state is State.APPROVED and request.status.decision]
    return max(times, default=None)


def same_person(a: str, b: str) -> bool:
    return a.strip().casefold() == b.strip().casefold()


def _refuse(request: QuotaRequest, message: str, code: str, hint: str = "") -> InputError:
    return InputError.single(f"requests/{request.id}.yaml", message, field="status.approvals", code=code, hint=hint)


def check_approval(request: QuotaRequest, approver: str, role: Role, platform: Platform,
                   parent_owner: tuple[str, ...]) -> None:
    """InputError unless `approver` may approve `request` in `role` now.

    `parent_owner` holds the parent tenant owner's name and e-mail (empty for a top-level tenant).
    """
    if not request.is_open:
        raise _refuse(request, f"request is {request.status.state.value}, not open", "request-closed")
    if same_person(approver, request.spec.requester):
        raise _refuse(request, f"{approver} asked for this change and cannot approve it", "self-approval",
                      "another person approves; the requester may withdraw it")
    for earlier in request.status.approvals:
        if same_person(approver, earlier.approver):
            raise _refuse(request, f"{approver} already approved as {earlier.role.value}; ops and security "
                          "approvals come from two different people", "same-approver")
    if role not in request.status.required:
        needed = ", ".join(r.value for r in request.status.required) or "none"
        raise _refuse(request, f"this request needs no {role.value} approval", "role-not-required",
                      f"it needs: {needed}")
    if any(earlier.role is role for earlier in request.status.approvals):
        raise _refuse(request, f"the {role.value} approval is already given", "role-already-approved")
    if role is Role.PARENT:
        if not any(same_person(approver, name) for name in parent_owner):
            raise _refuse(request, f"{approver} is not the owner of the parent tenant", "not-parent-owner",
                          f"the parent's owner is {parent_owner[0] if parent_owner else 'not set'}")
        return
    roster = getattr(platform.spec.approvals.approvers, role.value)
    if roster and not any(same_person(approver, name) for name in roster):
        raise _refuse(request, f"{approver} is not a {role.value} approver", "not-an-approver",
                      f"platform.yaml approvals.approvers.{role.value}: {', '.join(roster)}")


def missing(request: QuotaRequest) -> list[Role]:
    """Roles still to approve, in the order required."""
    given = {approval.role for approval in request.status.approvals}
    return [role for role in request.status.required if role not in given]
