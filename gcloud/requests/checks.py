"""What a request is checked against: the fleet as it would be after the change, capacity, parent, usage.

The changed tenant is substituted into the loaded fleet in memory (same CIDRs, same inbound interconnects:
a quota change moves neither), so the policies and the cross-tenant quota rules judge exactly what an approval
would write, without touching a file.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
from collections.abc import Callable
from decimal import Decimal
from ipaddress import IPv4Network
from typing import Any

from gcloud.model import Fleet, Platform, Tenant, TenantDocument, crosscheck
from gcloud.model.effective import effective_quota, effective_spec, sides_of
from gcloud.model.quantity import format_quantity, parse_quantity
from gcloud.model.tenant import KubernetesSpec
from gcloud.policy.check import check_fleet
from gcloud.policy.policy import PolicySet
from gcloud.policy.usage import fleet_usage

from .keys import QuotaKey, compare
from .model import QuotaChange, QuotaValue, Usage

UsageReader = Callable[[TenantDocument, list[QuotaKey], Platform], Usage]
"""(tenant as loaded, keys asked, platform) -> live usage of those keys; clients live behind it, at the edge."""


def substitute(fleet: Fleet, tenant: Tenant) -> Fleet:
    """The fleet with one tenant replaced by its changed model (effective spec and digest recomputed)."""
    old = fleet.get(tenant.metadata.name)
    openstack = old.effective["spec"].get("openstack") or {}
    cidrs = {net["name"]: IPv4Network(net["cidr"]) for net in openstack.get("networks") or [] if net.get("cidr")}
    effective = effective_spec(tenant, fleet.platform, cidrs, sides=sides_of(old.effective))
    new = TenantDocument(tenant, old.source, old.label, effective)
    return dataclasses.replace(fleet, tenants=[new if doc.name == new.name else doc for doc in fleet.tenants])


def cross_problems(fleet: Fleet) -> list[str]:
    """The cross-tenant quota rules (namespaces within the tenant-wide quota, sub-units within the parent)."""
    items = [crosscheck.Loaded(doc.tenant, doc.source, doc.label) for doc in fleet.tenants]
    problems = [*crosscheck.check_namespaces(items), *crosscheck.check_parent_quotas(items, fleet.platform)]
    return sorted({f"{problem.field}: {problem.message}" for problem in problems})


def new_policy_failures(before: Fleet, after: Fleet, policies: PolicySet, today: dt.date) -> list[str]:
    """Mandatory policies the change would newly fail (a failure the fleet has already is not the request's)."""
    old = {(f.policy_id, f.tenant) for f in check_fleet(before, policies, today).findings if f.blocking}
    return sorted({f"policy {f.policy_id} would fail{' for ' + f.tenant if f.tenant else ''}: {f.message}"
                   for f in check_fleet(after, policies, today).findings
                   if f.blocking and (f.policy_id, f.tenant) not in old})


def capacity_problems(after: Fleet, tenant: str, keys: list[QuotaKey], changes: list[QuotaChange]) -> list[str]:
    """An increased key whose fleet total goes over the cloud's capacity x overcommit (or the cluster's)."""
    usage = fleet_usage(after.platform_data, [doc.effective for doc in after.tenants])
    spec = after.get(tenant).tenant.spec
    problems = []
    for key, change in zip(keys, changes, strict=True):
        if compare(change.current, change.requested) <= 0:
            continue
        if not key.kubernetes and spec.openstack is not None:
            cloud = after.platform.cloud(spec.openstack.cloud)
            if cloud is None or key.leaf not in cloud.capacity:
                continue
            ratio = float(cloud.overcommit.get(key.leaf, 1))
            limit = cloud.capacity[key.leaf] * ratio
            total = usage["openstack"][cloud.name][key.leaf]
            if total > limit:
                problems.append(f"{key.key}: the tenants of {cloud.name} would hold {total:g} {key.leaf}, over its "
                                f"capacity {cloud.capacity[key.leaf]} x overcommit {ratio:g} = {limit:g}")
        elif key.kubernetes and spec.kubernetes is not None:
            cluster = after.platform.cluster(spec.kubernetes.cluster)
            if cluster is None or key.leaf not in cluster.capacity:
                continue
            total = usage["kubernetes"][cluster.name][key.leaf]
            if total > float(parse_quantity(cluster.capacity[key.leaf])):
                problems.append(f"{key.key}: the tenants of {cluster.name} would hold {total:g} of {key.leaf}, "
                                f"over its capacity {cluster.capacity[key.leaf]}")
    return problems


def _kube_share(kube: KubernetesSpec | None, key: str) -> Decimal:
    """A tenant's Kubernetes share of one key: its tenant-wide quota, else its namespaces' sum."""
    if kube is None:
        return Decimal(0)
    if key in kube.quota:
        return parse_quantity(kube.quota[key]) if kube.quota[key] != "-1" else Decimal("Infinity")
    values = [ns.quota.get(key) for ns in kube.namespaces]
    if any(value in (None, "-1") for value in values):
        return Decimal("Infinity") if values else Decimal(0)
    return sum((parse_quantity(str(value)) for value in values), Decimal(0))


def parent_needs(after: Fleet, tenant: str, keys: list[QuotaKey]) -> list[QuotaChange]:
    """For a sub-unit: each changed key its parent grants too little of, with the total the parent would need."""
    child = after.get(tenant).tenant
    parent_name = child.metadata.parent
    if parent_name is None:
        return []
    parent = after.get(parent_name).tenant
    siblings = [doc.tenant for doc in after.tenants if doc.tenant.metadata.parent == parent_name]
    needs: list[QuotaChange] = []
    for key in keys:
        if not key.kubernetes:
            granted = effective_quota(parent, after.platform).get(key.service, {}).get(key.leaf)
            if granted is None or granted < 0:
                continue
            total = sum(effective_quota(kid, after.platform).get(key.service, {}).get(key.leaf, 0)
                        for kid in siblings)
            if total > granted:
                needs.append(QuotaChange(key=key.key, current=granted, requested=total))
        elif parent.spec.kubernetes is not None and key.leaf in parent.spec.kubernetes.quota:
            limit = parent.spec.kubernetes.quota[key.leaf]
            wanted = sum((_kube_share(kid.spec.kubernetes, key.leaf) for kid in siblings), Decimal(0))
            if limit != "-1" and wanted > parse_quantity(limit):
                shown: QuotaValue = format_quantity(wanted) if wanted.is_finite() else "-1"
                needs.append(QuotaChange(key=f"kubernetes.quota.{key.leaf}", current=limit, requested=shown))
    return needs


def below_usage(keys: list[QuotaKey], changes: list[QuotaChange], usage: Usage) -> list[str]:
    """A key asked lower than what the tenant uses now (Adjutant: no quota below current usage)."""
    problems = []
    for key, change in zip(keys, changes, strict=True):
        used = usage.values.get(key.key)
        if used is None or str(change.requested) == "-1":
            continue
        if compare(used, change.requested) < 0:
            problems.append(f"{key.key}: {change.requested} asked, but {used} is in use now")
    return problems


def effective_of(fleet: Fleet, tenant: str) -> dict[str, Any]:
    return fleet.get(tenant).effective
