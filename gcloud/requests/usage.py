"""Live usage of the keys a request asks for: Nova, Cinder and Neutron usage, Kubernetes quota `status.used`.

The edge of the requests package: the cloud SDKs are imported inside the functions, and the clients come from
the callables handed in (tests hand in the sandbox's). A cloud that does not answer is not an error: its usage
is recorded as unknown, with the reason, and the request says so.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from gcloud.model import Platform, TenantDocument
from gcloud.model.quantity import format_quantity, parse_quantity
from gcloud.providers import credentials
from gcloud.providers.conventions import QUOTA_KEYS

from .keys import QuotaKey
from .model import QuotaValue, Usage

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection


@dataclass(frozen=True)
class Clients:
    """Where connections come from: cloud name -> OpenStack connection, context -> Kubernetes client."""

    openstack: Callable[[str], Connection] = credentials.openstack_connection
    kubernetes: Callable[[str], ApiClient] = credentials.kubernetes_client


def live_usage(doc: TenantDocument, keys: list[QuotaKey], platform: Platform, clients: Clients | None = None) -> Usage:
    """Usage of `keys` in the tenant's project and namespaces; clouds that fail go to `unknown`."""
    clients = clients or Clients()
    values: dict[str, QuotaValue] = {}
    unknown: dict[str, str] = {}
    spec = doc.tenant.spec
    openstack_keys = [key for key in keys if not key.kubernetes]
    kube_keys = [key for key in keys if key.kubernetes]
    if openstack_keys and spec.openstack is not None:
        cloud = spec.openstack.cloud
        try:
            values.update(openstack_usage(clients.openstack(cloud), doc.name,
                                          platform.spec.openstack.domain, openstack_keys))
        except Exception as err:  # any failure to read is "usage unknown", never a refusal
            unknown[cloud] = _reason(err)
    if kube_keys and spec.kubernetes is not None:
        cluster = spec.kubernetes.cluster
        try:
            namespaces = [ns.name for ns in spec.kubernetes.namespaces]
            values.update(kubernetes_usage(clients.kubernetes(cluster), namespaces, kube_keys))
        except Exception as err:
            unknown[cluster] = _reason(err)
    return Usage(values=values, unknown=unknown)


def _reason(err: Exception) -> str:
    text = str(err).splitlines()[0] if str(err) else ""
    return f"{type(err).__name__}: {text[:200]}" if text else type(err).__name__


def openstack_usage(conn: Connection, project: str, domain: str, keys: list[QuotaKey]) -> dict[str, QuotaValue]:
    """In-use counts of the project named after the tenant (none yet: nothing is in use)."""
    from openstack.identity.v3._proxy import Proxy as IdentityProxy

    identity: IdentityProxy = conn.identity  # type: ignore[assignment]
    dom = identity.find_domain(domain, ignore_missing=False)
    found = identity.find_project(project, domain_id=dom.id, ignore_missing=True)
    if found is None:
        return {key.key: 0 for key in keys}
    used: dict[str, dict[str, Any]] = {}
    services = {key.service for key in keys}
    conn = credentials.in_project(conn, str(found.id))
    if "compute" in services:
        used["compute"] = dict(conn.compute.get_quota_set(found.id, usage=True).usage or {})
    if "blockStorage" in services:
        used["blockStorage"] = dict(conn.block_storage.get_quota_set(found.id, usage=True).usage or {})
    if "network" in services:
        details = conn.network.get_quota(found.id, details=True)
        used["network"] = {attr: (getattr(details, attr, None) or {}).get("used", 0)
                           for attr in QUOTA_KEYS["network"].values()}
    return {key.key: int(used[key.service].get(QUOTA_KEYS[key.service][key.leaf], 0) or 0) for key in keys}


def kubernetes_usage(client: ApiClient, namespaces: list[str], keys: list[QuotaKey]) -> dict[str, QuotaValue]:
    """ResourceQuota `status.used`: per namespace for a namespace key, summed over namespaces for a tenant-wide one."""
    from kubernetes.client import CoreV1Api

    api = CoreV1Api(client)
    used: dict[str, dict[str, Decimal]] = {}
    for namespace in namespaces:
        counted: dict[str, Decimal] = {}
        for quota in api.list_namespaced_resource_quota(namespace).items:
            for name, amount in ((quota.status and quota.status.used) or {}).items():
                counted[name] = max(counted.get(name, Decimal(0)), parse_quantity(str(amount)))
        used[namespace] = counted
    result: dict[str, QuotaValue] = {}
    for key in keys:
        if key.path[2] == "quota":
            total = sum((counted.get(key.leaf, Decimal(0)) for counted in used.values()), Decimal(0))
        else:
            total = used[namespaces[int(key.path[3])]].get(key.leaf, Decimal(0))
        result[key.key] = format_quantity(total)
    return result
