"""Check results and the pure judgements behind them: what the clouds showed -> passed or not, and why.

The gathering (API calls as the tenant, SubjectAccessReviews) lives in `openstack.py` / `kubernetes.py`; the
rules live here so they are unit-tested with plain data.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

MAX_LISTED = 5


@dataclass(frozen=True, order=True)
class IsolationCheck:
    """One live isolation check of one tenant; `detail` says what was seen (never a credential)."""

    tenant: str
    check: str
    passed: bool
    detail: str


@dataclass(frozen=True)
class AccessReview:
    """One SubjectAccessReview: may `group` do `verb` on `resource` in `namespace`?"""

    group: str
    namespace: str
    verb: str
    resource: str
    allowed: bool

    def __str__(self) -> str:
        return f"{self.group} {self.verb} {self.resource} in {self.namespace}"


def _listed(items: Iterable[str]) -> str:
    items = sorted(items)
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def judge_projects(tenant: str, own_project_id: str, visible: Mapping[str, str]) -> IsolationCheck:
    """A member's token lists exactly the tenant's own project (`visible`: project id -> name)."""
    check = "keystone-token-projects"
    foreign = {pid: name for pid, name in visible.items() if pid != own_project_id}
    if foreign:
        return IsolationCheck(tenant, check, False, f"a member sees other projects: {_listed(foreign.values())}")
    if own_project_id not in visible:
        return IsolationCheck(tenant, check, False, "a member does not see the tenant's own project")
    return IsolationCheck(tenant, check, True, "a member sees only its own project")


def judge_networks(tenant: str, own_project_id: str, visible: Sequence[Mapping[str, Any]],
                   tenant_projects: Mapping[str, str]) -> IsolationCheck:
    """A member's token lists its own networks and external ones, never another tenant's.

    `visible`: {id, name, project_id, external} per network; `tenant_projects`: project id -> tenant id of
    every govcloud-tagged project.
    """
    check = "neutron-token-networks"
    leaks = [f"{net['name']} (tenant {tenant_projects[net['project_id']]})" for net in visible
             if net["project_id"] != own_project_id and not net.get("external")
             and net["project_id"] in tenant_projects]
    if leaks:
        return IsolationCheck(tenant, check, False, f"a member sees other tenants' networks: {_listed(leaks)}")
    own = sum(1 for net in visible if net["project_id"] == own_project_id)
    return IsolationCheck(tenant, check, True, f"a member sees {own} own network(s) and no other tenant's")


def judge_assignments(tenant: str, assignments: Sequence[Mapping[str, Any]], own_group_ids: Iterable[str],
                      group_owners: Mapping[str, str] | None = None) -> IsolationCheck:
    """Only the tenant's own groups hold roles on its project.

    `assignments`: {kind: group|user, id, name, role} per role assignment on the project; `group_owners`:
    group name -> tenant id across the fleet, to say whose group leaked in.
    """
    check = "keystone-foreign-assignments"
    own, owners = set(own_group_ids), group_owners or {}
    foreign = []
    for item in assignments:
        if item["kind"] == "group" and item["id"] in own:
            continue
        owner = owners.get(item["name"]) if item["kind"] == "group" else None
        whose = f" of tenant {owner}" if owner and owner != tenant else ""
        foreign.append(f"{item['kind']} {item['name'] or item['id']}{whose} has role {item['role']}")
    if foreign:
        return IsolationCheck(tenant, check, False, f"foreign role assignments on the project: {_listed(foreign)}")
    return IsolationCheck(tenant, check, True, f"{len(assignments)} role assignment(s), all to the tenant's own groups")


def judge_own_access(tenant: str, reviews: Sequence[AccessReview]) -> IsolationCheck:
    """Every group of the tenant can read its own namespaces (the RoleBindings are in place)."""
    check = "k8s-own-access"
    denied = [str(review) for review in reviews if not review.allowed]
    if denied:
        return IsolationCheck(tenant, check, False, f"refused in own namespaces: {_listed(denied)}")
    if not reviews:
        return IsolationCheck(tenant, check, True, "no groups or namespaces to check")
    return IsolationCheck(tenant, check, True, f"{len(reviews)} access review(s) in own namespaces allowed")


def judge_cross_access(tenant: str, reviews: Sequence[AccessReview]) -> IsolationCheck:
    """No group of the tenant can read another tenant's namespaces."""
    check = "k8s-cross-tenant-access"
    allowed = [str(review) for review in reviews if review.allowed]
    if allowed:
        return IsolationCheck(tenant, check, False, f"allowed in other tenants' namespaces: {_listed(allowed)}")
    return IsolationCheck(tenant, check, True, f"{len(reviews)} access review(s) in other tenants' namespaces refused")


def is_default_deny(policy: Mapping[str, Any]) -> bool:
    """A NetworkPolicy selecting every pod, for both directions, with no allow rule."""
    spec = policy.get("spec") or {}
    selector = spec.get("podSelector") or {}
    return (not selector.get("matchLabels") and not selector.get("matchExpressions")
            and {"Ingress", "Egress"} <= set(spec.get("policyTypes") or [])
            and not spec.get("ingress") and not spec.get("egress"))


def judge_default_deny(tenant: str, policies: Mapping[str, Sequence[Mapping[str, Any]] | None]) -> IsolationCheck:
    """Every namespace of the tenant has a default-deny NetworkPolicy (`policies`: namespace -> list, None = no
    such namespace)."""
    check = "k8s-default-deny"
    missing = [f"{ns} (namespace missing)" if found is None else ns for ns, found in policies.items()
               if found is None or not any(is_default_deny(policy) for policy in found)]
    if missing:
        return IsolationCheck(tenant, check, False, f"no default-deny policy in: {_listed(missing)}")
    return IsolationCheck(tenant, check, True, f"default deny in {len(policies)} namespace(s)")


@dataclass(frozen=True)
class DutyGroup:
    """One group carrying an administrative duty, and the people (Keystone user id -> name) in it."""

    duty: str
    group: str
    members: Mapping[str, str]


def judge_duty_separation(tenant: str, groups: Sequence[DutyGroup]) -> IsolationCheck:
    """No person sits in two duty groups of the tenant (三权分立 made true in the identity backend).

    Two groups of the same duty may share a person; groups of different duties may not.
    """
    check = "keystone-duty-separation"
    held: dict[str, dict[str, set[str]]] = {}  # user id -> duty -> groups
    names: dict[str, str] = {}
    for group in groups:
        for user_id, name in group.members.items():
            held.setdefault(user_id, {}).setdefault(group.duty, set()).add(group.group)
            names[user_id] = name or user_id
    doubled = [f"{names[uid]} is in " + " and ".join(f"{', '.join(sorted(where))} ({duty})"
                                                    for duty, where in sorted(duties.items()))
               for uid, duties in held.items() if len(duties) > 1]
    if doubled:
        return IsolationCheck(tenant, check, False, f"a person holds two duties: {_listed(doubled)}")
    return IsolationCheck(tenant, check, True,
                          f"{len(groups)} duty group(s), {len(held)} person(s), none in two duties")
