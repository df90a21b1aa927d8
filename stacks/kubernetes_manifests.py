"""Pure: a tenant's effective spec -> the Kubernetes manifests of its namespaces.

Isolation is by label: every namespace carries `govcloud.io/tenant=<id>`, NetworkPolicies select peers by that
label, and tenants cannot relabel namespaces (namespaces are cluster-scoped; the admin/edit/view ClusterRoles
bound here grant nothing on them).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from typing import Any

from gcloud.providers.conventions import (
    DISPLAY_NAME_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    REGISTRIES_ANNOTATION,
    TENANT_LABEL,
    Grant,
)

from .openstack_args import port_range, tenant_id

RBAC_GROUP = "rbac.authorization.k8s.io"
DEFAULT_DENY = "govcloud-default-deny"
QUOTA_NAME = "govcloud-quota"
LIMITS_NAME = "govcloud-limits"
DNS_NAMESPACE = "kube-system"
POD_SECURITY_MODES = ("enforce", "audit", "warn")


def kubernetes_spec(effective: Mapping[str, Any]) -> Mapping[str, Any] | None:
    spec: Mapping[str, Any] | None = effective["spec"].get("kubernetes")
    return spec


def _meta(name: str, namespace: str | None = None) -> dict[str, Any]:
    meta: dict[str, Any] = {"name": name, "labels": {MANAGED_BY_LABEL: MANAGED_BY}}
    if namespace is not None:
        meta["namespace"] = namespace
    return meta


def namespace_manifest(effective: Mapping[str, Any], namespace: Mapping[str, Any]) -> dict[str, Any]:
    """Labels for selection and Pod Security; the Chinese display name goes in an annotation."""
    level = str(namespace.get("podSecurity") or "restricted")
    meta = _meta(namespace["name"])
    meta["labels"][TENANT_LABEL] = tenant_id(effective)
    meta["labels"].update({f"pod-security.kubernetes.io/{mode}": level for mode in POD_SECURITY_MODES})
    meta["annotations"] = {DISPLAY_NAME_ANNOTATION: str(effective["metadata"]["displayName"])}
    if namespace.get("imageRegistries"):
        meta["annotations"][REGISTRIES_ANNOTATION] = ",".join(namespace["imageRegistries"])
    return {"apiVersion": "v1", "kind": "Namespace", "metadata": meta}


def resource_quota_manifest(namespace: Mapping[str, Any]) -> dict[str, Any] | None:
    hard = {key: str(value) for key, value in (namespace.get("quota") or {}).items()}
    if not hard:
        return None
    return {"apiVersion": "v1", "kind": "ResourceQuota", "metadata": _meta(QUOTA_NAME, namespace["name"]),
            "spec": {"hard": hard}}


def limit_range_manifest(namespace: Mapping[str, Any]) -> dict[str, Any] | None:
    limits = namespace.get("limitRange") or {}
    default = {res: limits[key] for res, key in (("cpu", "defaultCpu"), ("memory", "defaultMemory")) if limits.get(key)}
    request = {res: limits[key] for res, key in (("cpu", "defaultRequestCpu"), ("memory", "defaultRequestMemory"))
               if limits.get(key)}
    if not default and not request:
        return None
    item: dict[str, Any] = {"type": "Container"}
    if default:
        item["default"] = default
    if request:
        item["defaultRequest"] = request
    return {"apiVersion": "v1", "kind": "LimitRange", "metadata": _meta(LIMITS_NAME, namespace["name"]),
            "spec": {"limits": [item]}}


def _policy(name: str, namespace: str, spec: dict[str, Any]) -> dict[str, Any]:
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy", "metadata": _meta(name, namespace),
            "spec": {"podSelector": {}, **spec}}


def _tenant_peer(tenant: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {TENANT_LABEL: tenant}}}


def policy_ports(ports: list[str | int], protocol: str) -> list[dict[str, Any]]:
    """Tenant-file ports ("443", "8000-8080") as NetworkPolicyPorts; the protocol is always written out."""
    result = []
    for text in ports:
        low_high = port_range(text)
        if low_high is None:
            continue
        low, high = low_high
        port: dict[str, Any] = {"protocol": protocol.upper(), "port": low}
        if high != low:
            port["endPort"] = high
        result.append(port)
    return result


def _current(link: Mapping[str, Any], today: dt.date) -> bool:
    expires = link.get("expires")
    return not expires or dt.date.fromisoformat(str(expires)) >= today


def network_policy_manifests(effective: Mapping[str, Any], namespace: str,
                             today: dt.date | None = None) -> list[dict[str, Any]]:
    """Default deny both ways; allow the tenant's own namespaces, DNS, and unexpired declared interconnects.

    `effective["inboundInterconnects"]` (optional: `[{from, ports, protocol, expires}]`, other tenants'
    interconnects that target this one) opens the receiving side; without it only the egress side exists.
    """
    spec = kubernetes_spec(effective) or {}
    if spec.get("networkIsolation", "tenant") != "tenant":
        return []
    tenant = tenant_id(effective)
    today = today or dt.date.today()
    policies = [
        _policy(DEFAULT_DENY, namespace, {"policyTypes": ["Ingress", "Egress"]}),
        _policy("govcloud-allow-same-tenant", namespace, {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [_tenant_peer(tenant)]}], "egress": [{"to": [_tenant_peer(tenant)]}]}),
        _policy("govcloud-allow-dns", namespace, {"policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DNS_NAMESPACE}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ]
    for link in effective["spec"].get("interconnects") or []:
        if _current(link, today):
            rule: dict[str, Any] = {"to": [_tenant_peer(link["to"])]}
            ports = policy_ports(link.get("ports") or [], link.get("protocol") or "tcp")
            if ports:
                rule["ports"] = ports
            policies.append(_policy(f"govcloud-interconnect-to-{link['to']}", namespace,
                                    {"policyTypes": ["Egress"], "egress": [rule]}))
    for link in effective.get("inboundInterconnects") or []:
        if _current(link, today):
            rule = {"from": [_tenant_peer(link["from"])]}
            ports = policy_ports(link.get("ports") or [], link.get("protocol") or "tcp")
            if ports:
                rule["ports"] = ports
            policies.append(_policy(f"govcloud-interconnect-from-{link['from']}", namespace,
                                    {"policyTypes": ["Ingress"], "ingress": [rule]}))
    return policies


def role_binding_manifests(grants: list[Grant], namespace: str) -> list[dict[str, Any]]:
    """One RoleBinding per group and ClusterRole; the role is in the name because roleRef is immutable."""
    result = []
    for grant in grants:
        result.append({
            "apiVersion": f"{RBAC_GROUP}/v1", "kind": "RoleBinding",
            "metadata": _meta(f"govcloud-{grant.group}-{grant.role}", namespace),
            "roleRef": {"apiGroup": RBAC_GROUP, "kind": "ClusterRole", "name": grant.role},
            "subjects": [{"kind": "Group", "apiGroup": RBAC_GROUP, "name": grant.group}],
        })
    return result
