"""Pure: a tenant's effective spec -> the Kubernetes manifests of its namespaces.

Isolation is by label: every namespace carries `govcloud.io/tenant=<id>`, NetworkPolicies select peers by that
label, and tenants cannot relabel namespaces (namespaces are cluster-scoped; the admin/edit/view ClusterRoles
bound here grant nothing on them).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterable, Mapping
from typing import Any

from gcloud.providers.conventions import (
    DISPLAY_NAME_ANNOTATION,
    MANAGED_BY,
    MANAGED_BY_LABEL,
    REGISTRIES_ANNOTATION,
    TENANT_LABEL,
    Grant,
)
from gcloud.providers.conventions import grants as tenant_grants

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


def network_policy_manifests(effective: Mapping[str, Any], namespace: str) -> list[dict[str, Any]]:
    """Default deny both ways; allow the tenant's own namespaces, DNS, and the interconnects in effect.

    An interconnect is in effect while both tenants agree to it and neither half has expired (see
    gcloud.model.effective): an own interconnect needs an `acceptance` by its target, and both it and the
    acceptance `active`; so it closes on its expiry day, and a spec without the marks opens nothing.

    `effective["inboundInterconnects"]` (optional: `[{from, ports, protocol, active, ...}]`, the agreed flows
    of other tenants into this one) opens the receiving side; without it only the egress side exists. Flows
    with the same peer share one policy (one rule each), so two flows never claim one policy name.
    """
    spec = kubernetes_spec(effective) or {}
    if spec.get("networkIsolation", "tenant") != "tenant":
        return []
    tenant = tenant_id(effective)
    policies = [
        _policy(DEFAULT_DENY, namespace, {"policyTypes": ["Ingress", "Egress"]}),
        _policy("govcloud-allow-same-tenant", namespace, {
            "policyTypes": ["Ingress", "Egress"],
            "ingress": [{"from": [_tenant_peer(tenant)]}], "egress": [{"to": [_tenant_peer(tenant)]}]}),
        _policy("govcloud-allow-dns", namespace, {"policyTypes": ["Egress"], "egress": [{
            "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": DNS_NAMESPACE}}}],
            "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}]}]}),
    ]
    outbound = [link for link in effective["spec"].get("interconnects") or []
                if link.get("active") and (link.get("acceptance") or {}).get("active")]
    inbound = [link for link in effective.get("inboundInterconnects") or [] if link.get("active")]
    policies += _flow_policies(namespace, outbound, "to", "Egress")
    policies += _flow_policies(namespace, inbound, "from", "Ingress")
    return policies


def _flow_policies(namespace: str, links: list[Mapping[str, Any]], peer_key: str, direction: str
                   ) -> list[dict[str, Any]]:
    """One policy per peer tenant (`govcloud-interconnect-to-<peer>` / `-from-<peer>`), one rule per flow."""
    rules: dict[str, list[dict[str, Any]]] = {}
    for link in links:
        rule: dict[str, Any] = {peer_key: [_tenant_peer(link[peer_key])]}
        ports = policy_ports(link.get("ports") or [], link.get("protocol") or "tcp")
        if ports:
            rule["ports"] = ports
        rules.setdefault(str(link[peer_key]), []).append(rule)
    return [_policy(f"govcloud-interconnect-{peer_key}-{peer}", namespace,
                    {"policyTypes": [direction], direction.lower(): peer_rules})
            for peer, peer_rules in rules.items()]


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


# --- guardrails: admission policies the API server enforces ---------------------------------------------------
#
# Why per tenant, not platform-wide: a stack is one tenant, and an object belongs to exactly one stack; a
# platform-wide policy would belong to whichever tenant created it first and vanish with that tenant's destroy.
# So each tenant's stack owns four ValidatingAdmissionPolicies `govcloud-<tenant>-<what>` and their bindings
# (same names), and every binding is scoped to that tenant's namespaces by the tenant label (the namespace guard by
# an objectSelector instead: for a Namespace request the namespaceSelector sees only the new labels, so a request
# removing the label would slip past it, while an objectSelector matches the old object as well). The tenant's
# data (its namespaces' registries, its groups) is written into the CEL expressions, so no parameter objects are
# needed and a tenant file change shows up as an update of exactly its own policies.

ADMISSION_VERSION = "admissionregistration.k8s.io/v1"
GUARDRAILS = ("images", "managed", "rolebindings", "namespaces")
"""The policies every tenant with namespaces gets, in creation order (each with its binding)."""
GUARDED_KEY_PREFIXES = ("govcloud.io/", "pod-security.kubernetes.io/")
"""Namespace labels and annotations only govcloud may set, change or remove (plus MANAGED_BY_LABEL)."""
WORKLOADS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "v1", ("pods", "pods/ephemeralcontainers", "replicationcontrollers")),
    ("apps", "v1", ("deployments", "replicasets", "statefulsets", "daemonsets")),
    ("batch", "v1", ("jobs", "cronjobs")),
)
"""What carries a pod spec (a Pod's own, a workload's template, a CronJob's job template)."""
MANAGED_KINDS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    ("", "v1", ("resourcequotas", "limitranges")),
    ("networking.k8s.io", "v1", ("networkpolicies",)),
    (RBAC_GROUP, "v1", ("rolebindings",)),
)
"""The namespaced kinds govcloud writes; their status subresources (the quota controller's) are not matched."""


Guardrail = tuple[dict[str, Any], dict[str, Any]]
"""A ValidatingAdmissionPolicy manifest and its binding's."""


def cel_string(value: str) -> str:
    """A CEL string literal: JSON's escapes (with \\uXXXX for non-ASCII) are valid CEL escapes."""
    return json.dumps(value)


def cel_list(values: Iterable[str]) -> str:
    return "[" + ", ".join(cel_string(value) for value in values) + "]"


def allowed_registries(namespace: Mapping[str, Any], platform: Mapping[str, Any]) -> list[str]:
    """A namespace's own registries, else the platform's (as policy GOV-K8S-004 reads them); empty allows none."""
    own = [str(r) for r in namespace.get("imageRegistries") or []]
    return own or [str(r) for r in (platform.get("spec") or {}).get("allowedRegistries") or []]


def _rules(kinds: tuple[tuple[str, str, tuple[str, ...]], ...], operations: list[str]) -> list[dict[str, Any]]:
    return [{"apiGroups": [group], "apiVersions": [version], "operations": list(operations),
             "resources": list(resources)} for group, version, resources in kinds]


def _guardrail(tenant: str, what: str, constraints: list[dict[str, Any]], variables: list[tuple[str, str]],
               validation: tuple[str, str], match: dict[str, Any]) -> Guardrail:
    """One policy (Fail on error: a guardrail that cannot be evaluated refuses) and its Deny binding."""
    name = f"govcloud-{tenant}-{what}"
    meta = _meta(name)
    meta["labels"][TENANT_LABEL] = tenant
    expression, message = validation
    spec: dict[str, Any] = {
        "failurePolicy": "Fail",
        "matchConstraints": {"resourceRules": constraints},
        "validations": [{"expression": expression, "messageExpression": message, "reason": "Forbidden"}],
    }
    if variables:  # the API server omits an empty list: declaring one would read as drift on every plan
        spec["variables"] = [{"name": key, "expression": value} for key, value in variables]
    policy = {"apiVersion": ADMISSION_VERSION, "kind": "ValidatingAdmissionPolicy", "metadata": meta, "spec": spec}
    binding = {"apiVersion": ADMISSION_VERSION, "kind": "ValidatingAdmissionPolicyBinding",
               "metadata": copy.deepcopy(meta),
               "spec": {"policyName": name, "validationActions": ["Deny"], "matchResources": match}}
    return policy, binding


def _in_tenant(tenant: str) -> dict[str, Any]:
    return {"namespaceSelector": {"matchLabels": {TENANT_LABEL: tenant}}}


def _present(obj: str, field: str) -> str:
    """`obj`'s metadata map `field` (labels / annotations), empty when the object or the map is absent."""
    return f"{obj} != null && has({obj}.metadata.{field}) ? {obj}.metadata.{field} : {{}}"


def _guarded(key: str) -> str:
    tests = [f"{key}.startsWith({cel_string(prefix)})" for prefix in GUARDED_KEY_PREFIXES]
    return "(" + " || ".join([*tests, f"{key} == {cel_string(MANAGED_BY_LABEL)}"]) + ")"


def _kept(field: str) -> str:
    """CEL: the guarded keys of one metadata map are the same, with the same values, in old and new."""
    old, new = f"variables.old{field}", f"variables.new{field}"
    return (f"{old}.all(k, !{_guarded('k')} || (k in {new} && {new}[k] == {old}[k])) && "
            f"{new}.all(k, !{_guarded('k')} || k in {old})")


def guardrail_manifests(effective: Mapping[str, Any], platform: Mapping[str, Any],
                        identity: str) -> list[Guardrail]:
    """The tenant's admission policies with their bindings; `identity` is the username govcloud's context has.

    - images: pods and pod templates only with images under the namespace's allowed registries;
    - managed: govcloud's ResourceQuota, LimitRange, NetworkPolicies and RoleBindings (the objects labelled
      managed-by govcloud, before or after the change) are created, changed and deleted by `identity` alone, and
      by the namespace controller emptying a namespace that is being deleted;
    - rolebindings: every RoleBinding in the tenant's namespaces binds only the tenant's own groups, service
      accounts of its own namespaces, or named users (never `system:` identities, never other tenants' groups);
    - namespaces: the namespace's govcloud and pod-security labels and govcloud annotations are set, changed and
      removed by `identity` alone; only it creates or deletes a namespace labelled as the tenant's.
    """
    spec = kubernetes_spec(effective) or {}
    namespaces = list(spec.get("namespaces") or [])
    if not namespaces:
        return []
    tenant = tenant_id(effective)
    govcloud = f"request.userInfo.username == {cel_string(identity)}"
    names = [str(namespace["name"]) for namespace in namespaces]
    registries = "{" + ", ".join(f"{cel_string(ns['name'])}: {cel_list(allowed_registries(ns, platform))}"
                                 for ns in namespaces) + "}"
    groups = sorted({grant.group for grant in tenant_grants(effective, platform, "kubernetes")})
    all_ops = ["CREATE", "UPDATE", "DELETE"]
    return [
        _guardrail(tenant, "images", _rules(WORKLOADS, ["CREATE", "UPDATE"]), [
            ("byNamespace", registries),
            ("allowed", "request.namespace in variables.byNamespace ? variables.byNamespace[request.namespace] : []"),
            ("podSpec", "has(object.spec.jobTemplate) ? object.spec.jobTemplate.spec.template.spec : "
                        "(has(object.spec.template) ? object.spec.template.spec : object.spec)"),
            ("images", "(variables.podSpec.containers"
                       " + (has(variables.podSpec.initContainers) ? variables.podSpec.initContainers : [])"
                       " + (has(variables.podSpec.ephemeralContainers) ? variables.podSpec.ephemeralContainers : [])"
                       ").map(c, c.image)"),
            ("outside", "variables.images.filter(i, !variables.allowed.exists(r, i.startsWith(r + '/')))"),
        ], ("size(variables.outside) == 0",
            "'images from registries not allowed in namespace ' + request.namespace + ': ' + "
            "variables.outside.join(', ') + ' (allowed: ' + "
            "(size(variables.allowed) == 0 ? 'none' : variables.allowed.join(', ')) + ')'"),
            _in_tenant(tenant)),
        _guardrail(tenant, "managed", _rules(MANAGED_KINDS, all_ops), [], (
            f"{govcloud} || (request.operation == 'DELETE' && has(namespaceObject.metadata.deletionTimestamp))",
            f"request.kind.kind + ' ' + request.namespace + '/' + request.name + ' is managed by govcloud: "
            f"change the tenant file of {tenant}, not the cluster (' + request.userInfo.username + "
            f"' may not ' + request.operation + ' it)'"),
            {**_in_tenant(tenant), "objectSelector": {"matchLabels": {MANAGED_BY_LABEL: MANAGED_BY}}}),
        _guardrail(tenant, "rolebindings", _rules(((RBAC_GROUP, "v1", ("rolebindings",)),), ["CREATE", "UPDATE"]), [
            ("groups", cel_list(groups)),
            ("namespaces", cel_list(names)),
            ("foreign", "(has(object.subjects) ? object.subjects : []).filter(s, s.kind == 'Group' ? "
                        "!(s.name in variables.groups) : (s.kind == 'ServiceAccount' ? "
                        "!(has(s.namespace) && s.namespace in variables.namespaces) : "
                        "s.name.startsWith('system:')))"),
        # govcloud itself writes the file's bindings; a new group in the file must not wait for this policy's
        # own update (they are applied in the same run, in no fixed order)
        ], (f"{govcloud} || size(variables.foreign) == 0",
            f"'RoleBinding ' + request.namespace + '/' + request.name + ' may bind only groups of tenant {tenant} "
            f"(' + variables.groups.join(', ') + '), its service accounts and named users, not: ' + "
            "variables.foreign.map(s, s.kind + ' ' + s.name).join(', ')"),
            _in_tenant(tenant)),
        _guardrail(tenant, "namespaces", _rules((("", "v1", ("namespaces",)),), all_ops), [
            ("oldLabels", _present("oldObject", "labels")), ("newLabels", _present("object", "labels")),
            ("oldAnnotations", _present("oldObject", "annotations")),
            ("newAnnotations", _present("object", "annotations")),
        ], (f"{govcloud} || (request.operation == 'UPDATE' && {_kept('Labels')} && {_kept('Annotations')})",
            f"'the govcloud and pod-security labels and annotations of namespace ' + request.name + "
            f"' belong to govcloud (tenant {tenant}): ' + request.userInfo.username + ' may not ' + "
            "request.operation + ' them'"),
            {"objectSelector": {"matchLabels": {TENANT_LABEL: tenant}}}),
    ]
