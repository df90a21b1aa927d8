"""Kubernetes isolation checks of one tenant, run with the API client the caller hands in.

Access is asked of the API server's own authorizer through SubjectAccessReviews, as a user who belongs to one
of the tenant's groups plus `system:authenticated` (as every real user does), so a binding to all
authenticated users in another tenant's namespace is caught too. Other tenants' namespaces are found live, by
the `govcloud.io/tenant` label, not from the files: what the cluster holds is what is checked.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from gcloud.providers.conventions import TENANT_LABEL, grants
from gcloud.providers.retry import ProviderError, status_of, with_retry

from .results import AccessReview, IsolationCheck, judge_cross_access, judge_default_deny, judge_own_access

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

CHECKS = ("k8s-own-access", "k8s-cross-tenant-access", "k8s-default-deny")
VERIFY_USER = "govcloud:verify"
OWN_PROBES = (("list", "pods"),)
FOREIGN_PROBES = (("list", "pods"), ("get", "secrets"), ("list", "configmaps"))


def review(client: ApiClient, group: str, namespace: str, verb: str, resource: str) -> AccessReview:
    from kubernetes.client import AuthorizationV1Api, V1SubjectAccessReview

    body = V1SubjectAccessReview.model_validate({"apiVersion": "authorization.k8s.io/v1",
                                                 "kind": "SubjectAccessReview", "spec": {
        "user": VERIFY_USER, "groups": [group, "system:authenticated"],
        "resourceAttributes": {"namespace": namespace, "verb": verb, "resource": resource}}})
    response: Any = with_retry(f"review {verb} {resource} in {namespace} for {group}", lambda: AuthorizationV1Api(
        client).create_subject_access_review(body, _preload_content=False))
    allowed = bool(json.loads(response.data).get("status", {}).get("allowed"))
    return AccessReview(group, namespace, verb, resource, allowed)


def foreign_namespaces(client: ApiClient, tenant: str) -> list[str]:
    """Namespaces of every other govcloud tenant in the cluster."""
    from kubernetes.client import CoreV1Api

    response: Any = with_retry("list tenant namespaces", lambda: CoreV1Api(client).list_namespace(
        label_selector=TENANT_LABEL, _preload_content=False))
    items: list[dict[str, Any]] = json.loads(response.data).get("items", [])
    return sorted(item["metadata"]["name"] for item in items
                  if item["metadata"].get("labels", {}).get(TENANT_LABEL) != tenant)


def network_policies(client: ApiClient, namespace: str) -> list[dict[str, Any]] | None:
    """The namespace's NetworkPolicies as plain dicts; None when the namespace does not exist."""
    from kubernetes.client import CoreV1Api, NetworkingV1Api

    try:
        with_retry(f"read namespace {namespace}", lambda: CoreV1Api(client).read_namespace(
            namespace, _preload_content=False))
    except ProviderError as err:
        if status_of(err.__cause__ or err) == 404:
            return None
        raise
    response: Any = with_retry(f"list NetworkPolicies in {namespace}", lambda: NetworkingV1Api(
        client).list_namespaced_network_policy(namespace, _preload_content=False))
    items: list[dict[str, Any]] = json.loads(response.data).get("items", [])
    return items


def _reviews(client: ApiClient, groups: Sequence[str], namespaces: Sequence[str],
             probes: Sequence[tuple[str, str]]) -> list[AccessReview]:
    return [review(client, group, namespace, verb, resource)
            for group in groups for namespace in namespaces for verb, resource in probes]


def verify_kubernetes(effective: Mapping[str, Any], platform: Mapping[str, Any],
                      client: ApiClient) -> list[IsolationCheck]:
    """The tenant's Kubernetes checks; a cluster that cannot be asked fails them with the reason, never raises."""
    tenant = str(effective["metadata"]["name"])
    spec = effective["spec"].get("kubernetes") or {}
    own = [str(ns["name"]) for ns in spec.get("namespaces") or []]
    groups = list(dict.fromkeys(grant.group for grant in grants(effective, platform, "kubernetes")))
    try:
        results = [judge_own_access(tenant, _reviews(client, groups, own, OWN_PROBES)),
                   judge_cross_access(tenant, _reviews(client, groups, foreign_namespaces(client, tenant),
                                                       FOREIGN_PROBES))]
        if spec.get("networkIsolation", "tenant") == "tenant":
            results.append(judge_default_deny(tenant, {ns: network_policies(client, ns) for ns in own}))
        else:
            results.append(IsolationCheck(tenant, "k8s-default-deny", True,
                                       "networkIsolation is none: no default deny declared"))
        return results
    except ProviderError as err:
        return [IsolationCheck(tenant, check, False, str(err)) for check in CHECKS]
