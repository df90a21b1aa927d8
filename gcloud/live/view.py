"""The live view: a tenant's effective spec with what the clouds really hold put back into the model's shape, so
the very policies that judge the tenant file judge the clouds (`policy check --live`).

Pure: the drift values in, a new effective dict out. What maps back:
- security group rules: rules deleted by hand leave the group, foreign rules join it (a hand-made SSH rule from
  0.0.0.0/0 is then a finding of the rule that refuses it in YAML);
- OpenStack quota values changed by hand;
- a namespace's pod-security level changed by hand.
What has no place in the model (a foreign RoleBinding, a network shared by RBAC) stays a drift finding only.
"""

from __future__ import annotations

import copy
from collections.abc import Mapping
from typing import Any

from gcloud.providers.conventions import QUOTA_KEYS
from gcloud.stacks.openstack_args import rule_args

from .drift import FieldDrift, ForeignObject, TenantDrift

POD_SECURITY_LABEL = "manifest.metadata.labels.pod-security.kubernetes.io/enforce"
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")


def live_effective(effective: Mapping[str, Any], drift: TenantDrift) -> dict[str, Any]:
    """The effective spec as the clouds hold it (a copy; the digest is the file's, it is not a new spec)."""
    live: dict[str, Any] = copy.deepcopy(dict(effective))
    tenant = str(live["metadata"]["name"])
    openstack = live["spec"].get("openstack")
    if openstack:
        _security_groups(tenant, openstack, drift)
        _quotas(tenant, openstack, drift.changed)
    kubernetes = live["spec"].get("kubernetes")
    if kubernetes:
        _pod_security(kubernetes, drift.changed)
    return live


def _security_groups(tenant: str, openstack: dict[str, Any], drift: TenantDrift) -> None:
    deleted = set(drift.deleted)  # resource names follow stacks/components.py: `<tenant>-sg-<group>-rule-<key>`
    for group in openstack.get("securityGroups") or []:
        container = f"{tenant}-sg-{group['name']}"
        group["rules"] = [rule for rule in group.get("rules") or []
                          if f"{container}-rule-{rule_args(rule).key}" not in deleted]
        group["rules"] += [_model_rule(item) for item in drift.foreign
                           if item.container == container and item.kind == "SecurityGroupRule"]


def _model_rule(item: ForeignObject) -> dict[str, Any]:
    """A live rule in the tenant file's terms: `{direction, protocol, ports, remoteCidr}`."""
    low, high = item.attrs.get("portMin"), item.attrs.get("portMax")
    rule: dict[str, Any] = {"direction": item.attrs.get("direction", "ingress"),
                            "protocol": item.attrs.get("protocol") or "any",
                            "remoteCidr": item.attrs.get("remoteCidr") or "0.0.0.0/0", "live": item.summary}
    if low is not None:
        rule["ports"] = str(low) if high in (None, low) else f"{low}-{high}"
    return rule


def _quotas(tenant: str, openstack: dict[str, Any], changed: tuple[FieldDrift, ...]) -> None:
    for service, keys in QUOTA_KEYS.items():
        by_attribute = {attribute: key for key, attribute in keys.items()}
        for change in changed:
            if change.resource == f"{tenant}-quota-{service}" and change.field.startswith("quota."):
                key = by_attribute.get(change.field.removeprefix("quota."))
                if key is not None and isinstance(change.live, int):
                    openstack.setdefault("quota", {}).setdefault(service, {})[key] = change.live


def _pod_security(kubernetes: dict[str, Any], changed: tuple[FieldDrift, ...]) -> None:
    for namespace in kubernetes.get("namespaces") or []:
        for change in changed:
            if change.resource == namespace["name"] and change.field == POD_SECURITY_LABEL:
                # a label removed by hand enforces nothing: the namespace is as open as `privileged`
                namespace["podSecurity"] = change.live if change.live in POD_SECURITY_LEVELS else "privileged"
