"""Kubernetes objects of a tenant as Pulumi dynamic resources, written by server-side apply.

One provider serves every kind govcloud manages (Namespace, ResourceQuota, LimitRange, NetworkPolicy,
RoleBinding): the resource's input is the manifest, applied with field manager `govcloud` and `force`, so a
create after an interrupted run and an update are the same idempotent call, and fields govcloud stops declaring
are removed by the API server. `read` returns the live object cut to the manifest's shape, so a refresh shows
drift in exactly the fields govcloud owns.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar

import pulumi
from pulumi.dynamic import CreateResult, DiffResult, ReadResult, Resource, UpdateResult

from gcloud.model.quantity import parse_quantity

from . import credentials
from .base import FOREIGN, GovProvider, changed_keys, foreign_change, inputs_of, keep_foreign, member
from .conventions import FIELD_MANAGER, MANAGED_BY, MANAGED_BY_LABEL
from .retry import ProviderError, poll, status_of, with_retry

if TYPE_CHECKING:
    from kubernetes.client import ApiClient

APPLY_PATCH = "application/apply-patch+yaml"
NAMESPACE_DELETE_TIMEOUT = 300.0


@dataclass(frozen=True)
class Kind:
    """Where the typed client keeps one kind: `CoreV1Api.patch_namespaced_resource_quota` and friends."""

    api: str
    suffix: str
    namespaced: bool = True
    immutable: tuple[str, ...] = ()


KINDS: Mapping[tuple[str, str], Kind] = {
    ("v1", "Namespace"): Kind("CoreV1Api", "namespace", namespaced=False),
    ("v1", "ResourceQuota"): Kind("CoreV1Api", "namespaced_resource_quota"),
    ("v1", "LimitRange"): Kind("CoreV1Api", "namespaced_limit_range"),
    ("networking.k8s.io/v1", "NetworkPolicy"): Kind("NetworkingV1Api", "namespaced_network_policy"),
    ("rbac.authorization.k8s.io/v1", "RoleBinding"): Kind("RbacAuthorizationV1Api", "namespaced_role_binding",
                                                          immutable=("roleRef",)),
    # the guardrails (gcloud.guardrails.kubernetes): cluster-scoped, one set per tenant
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicy"): Kind(
        "AdmissionregistrationV1Api", "validating_admission_policy", namespaced=False),
    ("admissionregistration.k8s.io/v1", "ValidatingAdmissionPolicyBinding"): Kind(
        "AdmissionregistrationV1Api", "validating_admission_policy_binding", namespaced=False),
}


def kind_of(manifest: Mapping[str, Any]) -> Kind:
    try:
        return KINDS[(manifest["apiVersion"], manifest["kind"])]
    except KeyError:
        raise ProviderError(f"govcloud does not manage {manifest.get('apiVersion')}/{manifest.get('kind')}") from None


def object_id(manifest: Mapping[str, Any]) -> str:
    meta = manifest["metadata"]
    where = f"{meta['namespace']}/" if "namespace" in meta else ""
    return f"{manifest['kind']}/{where}{meta['name']}"


def describe(manifest: Mapping[str, Any]) -> str:
    return object_id(manifest).replace("/", " ", 1)


def _same_quantity(desired: str, live: str) -> bool:
    try:
        return parse_quantity(desired) == parse_quantity(live)
    except ValueError:
        return False


def project(desired: Any, live: Any) -> Any:
    """`live` cut to the shape of `desired`: server-added keys dropped, equal quantities kept as written.

    The API server adds defaults (labels, status, managedFields) and rewrites quantities ("1024Mi" -> "1Gi");
    neither is drift. Keys govcloud declares but the live object lacks stay absent, so the diff sees them.
    """
    if isinstance(desired, Mapping) and isinstance(live, Mapping):
        return {key: project(value, live[key]) for key, value in desired.items() if key in live}
    if isinstance(desired, list) and isinstance(live, list) and len(desired) == len(live):
        return [project(want, have) for want, have in zip(desired, live, strict=True)]
    if isinstance(desired, str) and isinstance(live, str) and desired != live and _same_quantity(desired, live):
        return desired
    return live


def _get(manifest: Mapping[str, Any], path: str) -> Any:
    value: Any = manifest
    for part in path.split("."):
        value = value.get(part) if isinstance(value, Mapping) else None
    return value


class KubeObjectProvider(GovProvider):
    """Apply / read / delete one manifest in the cluster of kubeconfig context `context`."""

    replace_keys = frozenset({"context"})
    computed_keys = frozenset({"uid"})
    identity_paths: ClassVar[tuple[str, ...]] = ("apiVersion", "kind", "metadata.name", "metadata.namespace")

    def diff(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> DiffResult:
        changed = changed_keys(_olds, _news, self.computed_keys | {FOREIGN}) + foreign_change(_olds)
        old, new = inputs_of(_olds), inputs_of(_news)
        replaces = [key for key in changed if key in self.replace_keys]
        if "manifest" in changed and isinstance(new.get("manifest"), Mapping):
            paths = self.identity_paths + KINDS.get(
                (new["manifest"].get("apiVersion"), new["manifest"].get("kind")), Kind("", "")).immutable
            if any(_get(old.get("manifest", {}), path) != _get(new["manifest"], path) for path in paths):
                replaces.append("manifest")
        return DiffResult(changes=bool(changed), replaces=replaces, delete_before_replace=bool(replaces) or None)

    @staticmethod
    def _call(client: ApiClient, manifest: Mapping[str, Any], verb: str, **kwargs: Any) -> Any:
        from kubernetes import client as k8s

        kind = kind_of(manifest)
        api = getattr(k8s, kind.api)(client)
        meta = manifest["metadata"]
        args = (meta["name"], meta["namespace"]) if kind.namespaced else (meta["name"],)
        return getattr(api, f"{verb}_{kind.suffix}")(*args, **kwargs)

    def _apply(self, p: Mapping[str, Any]) -> dict[str, Any]:
        manifest = p["manifest"]
        client = credentials.kubernetes_client(p["context"])
        response = with_retry(f"apply {describe(manifest)}", lambda: self._call(
            client, manifest, "patch", body=dict(manifest), field_manager=FIELD_MANAGER, force=True,
            _content_type=APPLY_PATCH, _preload_content=False))
        live: dict[str, Any] = json.loads(response.data)
        return {**p, "manifest": project(manifest, live), "uid": live.get("metadata", {}).get("uid", "")}

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        return CreateResult(object_id(p["manifest"]), self._apply(p))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        p = inputs_of(_news)
        applied = self._apply(p)
        if FOREIGN in _olds:
            applied[FOREIGN] = _evict(p, list(_olds.get(FOREIGN) or []))
        return UpdateResult(applied)

    def _live(self, p: Mapping[str, Any]) -> dict[str, Any] | None:
        manifest = p["manifest"]
        client = credentials.kubernetes_client(p["context"])
        try:
            response = with_retry(f"read {describe(manifest)}", lambda: self._call(
                client, manifest, "read", _preload_content=False))
        except ProviderError as err:
            if status_of(err.__cause__ or err) == 404:
                return None
            raise
        live: dict[str, Any] = json.loads(response.data)
        return live

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        live = self._live(p)
        if live is None or live.get("metadata", {}).get("deletionTimestamp"):
            return ReadResult("", {})
        outs = {**p, "manifest": project(p["manifest"], live), "uid": live.get("metadata", {}).get("uid", "")}
        if not kind_of(p["manifest"]).namespaced:
            outs[FOREIGN] = _namespace_foreign(p, live)
        return ReadResult(id_, outs)

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        manifest = p["manifest"]
        client = credentials.kubernetes_client(p["context"])
        try:
            with_retry(f"delete {describe(manifest)}", lambda: self._call(
                client, manifest, "delete", _preload_content=False))
        except ProviderError as err:
            if status_of(err.__cause__ or err) != 404:
                raise
        if not kind_of(manifest).namespaced:
            # A namespace lingers as Terminating until its content is gone; wait, so that a destroy really
            # leaves nothing and a replacement can reuse the name.
            poll(f"wait for {describe(manifest)} to be deleted (is kube-controller-manager running?)",
                 lambda: self._live(p) is None, timeout=NAMESPACE_DELETE_TIMEOUT)


# --- Resources ------------------------------------------------------------------------------------------------

CONTAINED: tuple[tuple[str, str], ...] = (
    ("networking.k8s.io/v1", "NetworkPolicy"), ("rbac.authorization.k8s.io/v1", "RoleBinding"),
    ("v1", "ResourceQuota"), ("v1", "LimitRange"))
"""What a tenant namespace holds that govcloud owns the kind of: one not labelled managed-by govcloud is foreign."""
KUBERNETES_LABELS = ("kubernetes.io/metadata.name",)
"""Labels the API server sets itself: never foreign."""


def _namespace_foreign(p: Mapping[str, Any], live: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Objects of govcloud's kinds in the namespace that govcloud did not make, and labels it did not set."""
    from kubernetes import client as k8s

    client = credentials.kubernetes_client(p["context"])
    namespace = str(p["manifest"]["metadata"]["name"])
    found: list[dict[str, Any]] = []
    for api_version, kind_name in CONTAINED:
        kind = KINDS[(api_version, kind_name)]
        lister = getattr(getattr(k8s, kind.api)(client), f"list_{kind.suffix}")
        listing = with_retry(f"list {kind_name}s in {namespace}", partial(lister, namespace, _preload_content=False))
        for item in json.loads(listing.data).get("items") or []:
            meta = item.get("metadata") or {}
            if (meta.get("labels") or {}).get(MANAGED_BY_LABEL) != MANAGED_BY:
                found.append(member(kind_name, f"{kind_name}/{namespace}/{meta.get('name')}",
                                    f"{kind_name} {meta.get('name')} in {namespace}", apiVersion=api_version,
                                    namespace=namespace, name=meta.get("name"), spec=item.get("spec"),
                                    subjects=item.get("subjects"), roleRef=item.get("roleRef")))
    wanted = (p["manifest"].get("metadata") or {}).get("labels") or {}
    for key, value in ((live.get("metadata") or {}).get("labels") or {}).items():
        if key not in wanted and key not in KUBERNETES_LABELS:
            found.append(member("Label", f"Label/{namespace}/{key}", f"label {key}={value} on namespace {namespace}",
                                namespace=namespace, name=key, value=value))
    return found


def _evict(p: Mapping[str, Any], foreign: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Remove what a refresh found foreign in a namespace (unless this run keeps it); what is left."""
    if keep_foreign() or not foreign:
        return foreign
    from kubernetes import client as k8s

    client = credentials.kubernetes_client(p["context"])
    labels = {item["name"]: None for item in foreign if item["kind"] == "Label"}
    if labels:  # a merge patch with null removes exactly these labels
        namespace = str(p["manifest"]["metadata"]["name"])
        with_retry(f"remove foreign labels of {namespace}", lambda: k8s.CoreV1Api(client).patch_namespace(
            namespace, {"metadata": {"labels": labels}}))
    for item in foreign:
        if item["kind"] == "Label":
            continue
        manifest = {"apiVersion": item["apiVersion"], "kind": item["kind"],
                    "metadata": {"name": item["name"], "namespace": item["namespace"]}}
        try:
            with_retry(f"remove foreign {item['summary']}", partial(KubeObjectProvider._call, client, manifest,
                                                                     "delete", _preload_content=False))
        except ProviderError as err:
            if status_of(err.__cause__ or err) != 404:
                raise
    return []


class _KubeResource(Resource):
    def __init__(self, name: str, *, context: str, manifest: Mapping[str, Any],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(KubeObjectProvider(), name, {"context": context, "manifest": dict(manifest)}, opts)


class Namespace(_KubeResource, module="govcloud-kubernetes", name="Namespace"):
    pass


class ResourceQuota(_KubeResource, module="govcloud-kubernetes", name="ResourceQuota"):
    pass


class LimitRange(_KubeResource, module="govcloud-kubernetes", name="LimitRange"):
    pass


class NetworkPolicy(_KubeResource, module="govcloud-kubernetes", name="NetworkPolicy"):
    pass


class RoleBinding(_KubeResource, module="govcloud-kubernetes", name="RoleBinding"):
    pass
