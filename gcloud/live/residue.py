"""What a department made itself inside its project and namespaces, and its removal before a destroy.

`destroy` deletes what govcloud made and then the project; servers, volumes, snapshots, backups and images the
department created itself would stay in the cloud, orphaned, with its data on them (剩余信息保护, GB/T
22239-2019 8.1.4.10 b) and 8.2.4.7 a)). So destroy lists them first and refuses while any remain; with `--purge`
they are deleted in dependency order (servers before the volumes they hold, snapshots and backups before their
volumes, workloads before the claims they mount), each deletion recorded in the audit trail.

Listing and deleting take the clients as arguments (injected: tests hand in fakes); a service the cloud does not
run (no Cinder backup, no Glance) has nothing to list.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gcloud.audit.event import AuditEvent
from gcloud.audit.log import AuditLog
from gcloud.errors import InputError
from gcloud.providers.credentials import in_project

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection

    from gcloud.engine.settings import EngineSettings

MAX_NAMED = 10
WAIT_S = 300
"""The longest a purge waits for one deletion the cloud performs asynchronously (a server, a snapshot)."""

# (rank, kind, service type): deleted in rank order
OPENSTACK_KINDS = ((1, "server", "compute"), (2, "snapshot", "block-storage"), (2, "backup", "block-storage"),
                   (3, "volume", "block-storage"), (3, "image", "image"), (4, "floating-ip", "network"),
                   (5, "port", "network"))
KUBERNETES_KINDS = ((1, "CronJob"), (2, "Job"), (2, "Deployment"), (2, "StatefulSet"), (2, "DaemonSet"),
                    (3, "Pod"), (4, "PersistentVolumeClaim"))


@dataclass(frozen=True, order=True)
class Residue:
    """One object the department made itself: `where` is the project id or the namespace."""

    rank: int
    cloud: str  # openstack | kubernetes
    kind: str
    where: str
    ident: str
    name: str

    def __str__(self) -> str:
        label = self.name if self.name and self.name != self.ident else self.ident
        return f"{self.kind} {label}" + (f" in {self.where}" if self.cloud == "kubernetes" else "")


# --- OpenStack ---------------------------------------------------------------------------------------------

def _openstack_listings(conn: Connection, project_id: str) -> Mapping[str, Callable[[], Iterable[Any]]]:
    # an admin lists another project's objects by filter; a token of the project itself (gcloud.privileges)
    # sees exactly its own, and Nova refuses it the all-projects filter
    wide: dict[str, Any] = {} if conn.current_project_id == project_id else {"all_projects": True,
                                                                              "project_id": project_id}
    return {
        "server": lambda: conn.compute.servers(**wide),
        "snapshot": lambda: conn.block_storage.snapshots(**wide),
        "backup": lambda: conn.block_storage.backups(**wide),
        "volume": lambda: conn.block_storage.volumes(**wide),
        "image": lambda: (i for i in conn.image.images(owner=project_id) if i.owner == project_id),
        "floating-ip": lambda: conn.network.ips(project_id=project_id),
        # router interfaces and DHCP ports are Neutron's own (network:*): the stack's deletion removes them
        "port": lambda: (p for p in conn.network.ports(project_id=project_id)
                         if not str(p.device_owner or "").startswith("network:")),
    }


def openstack_residue(conn: Connection, project_id: str) -> list[Residue]:
    """Everything of those kinds in the project (govcloud itself makes none of them)."""
    listings = _openstack_listings(conn, project_id)
    found = []
    for rank, kind, service in OPENSTACK_KINDS:
        if not conn.has_service(service) or (kind == "backup" and not _has_backups(conn)):
            continue
        found += [Residue(rank, "openstack", kind, project_id, str(item.id), str(item.name or ""))
                  for item in listings[kind]()]
    return sorted(found)


def _has_backups(conn: Connection) -> bool:
    """Cinder lists backups only where the backup service runs; elsewhere the call fails and there are none."""
    from openstack import exceptions

    try:
        next(iter(conn.block_storage.backups(limit=1)), None)
    except exceptions.SDKException:
        return False
    return True


def _delete_openstack(conn: Connection, item: Residue) -> None:
    proxies = {"server": (conn.compute, "server"), "snapshot": (conn.block_storage, "snapshot"),
               "backup": (conn.block_storage, "backup"), "volume": (conn.block_storage, "volume"),
               "image": (conn.image, "image"), "floating-ip": (conn.network, "ip"), "port": (conn.network, "port")}
    proxy, noun = proxies[item.kind]
    getattr(proxy, f"delete_{noun}")(item.ident, ignore_missing=True)
    if item.kind in ("server", "snapshot", "backup", "volume"):  # asynchronous: the next rank depends on it
        gone = getattr(proxy, f"find_{noun}")(item.ident, ignore_missing=True)
        if gone is not None:
            proxy.wait_for_delete(gone, wait=WAIT_S)


# --- Kubernetes --------------------------------------------------------------------------------------------

def _kubernetes_listings(api: ApiClient) -> Mapping[str, tuple[Callable[..., Any], Callable[..., Any]]]:
    from kubernetes import client

    apps, batch, core = client.AppsV1Api(api), client.BatchV1Api(api), client.CoreV1Api(api)
    return {
        "CronJob": (batch.list_namespaced_cron_job, batch.delete_namespaced_cron_job),
        "Job": (batch.list_namespaced_job, batch.delete_namespaced_job),
        "Deployment": (apps.list_namespaced_deployment, apps.delete_namespaced_deployment),
        "StatefulSet": (apps.list_namespaced_stateful_set, apps.delete_namespaced_stateful_set),
        "DaemonSet": (apps.list_namespaced_daemon_set, apps.delete_namespaced_daemon_set),
        "Pod": (core.list_namespaced_pod, core.delete_namespaced_pod),
        "PersistentVolumeClaim": (core.list_namespaced_persistent_volume_claim,
                                  core.delete_namespaced_persistent_volume_claim),
    }


def kubernetes_residue(api: ApiClient, namespaces: Sequence[str]) -> list[Residue]:
    """Workloads and claims in the tenant's namespaces; a namespace that does not exist holds none."""
    from kubernetes.client.exceptions import ApiException

    listings = _kubernetes_listings(api)
    found = []
    for namespace in namespaces:
        for rank, kind in KUBERNETES_KINDS:
            try:
                items = listings[kind][0](namespace).items
            except ApiException as err:
                if err.status == 404:
                    break
                raise
            found += [Residue(rank, "kubernetes", kind, namespace, str(i.metadata.uid), str(i.metadata.name))
                      for i in items if i.metadata.deletion_timestamp is None]
    return sorted(found)


def _delete_kubernetes(api: ApiClient, item: Residue) -> None:
    from kubernetes.client.exceptions import ApiException

    try:
        _kubernetes_listings(api)[item.kind][1](item.name, item.where, propagation_policy="Background")
    except ApiException as err:
        if err.status != 404:
            raise


# --- the destroy guard -------------------------------------------------------------------------------------

@dataclass(frozen=True)
class ResidueClients:
    """How to reach a tenant's cloud and cluster by name (the admin connection, the cluster identity)."""

    openstack: Callable[[str], Connection]
    kubernetes: Callable[[str], ApiClient]


def _default_clients() -> ResidueClients:
    from gcloud.providers import credentials

    return ResidueClients(credentials.openstack_connection, credentials.kubernetes_client)


def _project_id(conn: Connection, tenant: str, domain: str) -> str | None:
    from gcloud.providers.openstack import domain_id, identity

    project = identity(conn).find_project(tenant, domain_id=domain_id(conn, domain), ignore_missing=True)
    return str(project.id) if project is not None else None


def find_residue(effective: Mapping[str, Any], platform: Mapping[str, Any],
                 clients: ResidueClients | None = None) -> list[Residue]:
    """What the department made itself, in every cloud its spec names, in deletion order."""
    from gcloud.providers.conventions import keystone_domain

    clients = clients or _default_clients()
    tenant, spec = str(effective["metadata"]["name"]), effective["spec"]
    found: list[Residue] = []
    if spec.get("openstack"):
        conn = clients.openstack(str(spec["openstack"]["cloud"]))
        project_id = _project_id(conn, tenant, keystone_domain(platform))
        if project_id is not None:
            found += openstack_residue(in_project(conn, project_id), project_id)
    if spec.get("kubernetes"):
        api = clients.kubernetes(str(spec["kubernetes"]["cluster"]))
        found += kubernetes_residue(api, [str(n["name"]) for n in spec["kubernetes"].get("namespaces") or []])
    return sorted(found)


def clear_residue(effective: Mapping[str, Any], platform: Mapping[str, Any], settings: EngineSettings, *,
                  purge: bool, actor: str, ticket: str | None = None,
                  clients: ResidueClients | None = None) -> tuple[Residue, ...]:
    """Before a destroy: refuse (InputError naming them) while the department's own objects remain, or, with
    `purge`, delete them in dependency order, auditing each deletion. Returns what was deleted."""
    clients = clients or _default_clients()
    tenant, spec = str(effective["metadata"]["name"]), effective["spec"]
    found = find_residue(effective, platform, clients)
    if not found:
        return ()
    if not purge:
        named = ", ".join(str(item) for item in found[:MAX_NAMED])
        more = f" and {len(found) - MAX_NAMED} more" if len(found) > MAX_NAMED else ""
        raise InputError.single(tenant, f"the department's own objects remain: {named}{more}; destroy refused",
                                code="residue", hint="delete them, or destroy with --purge to delete them all "
                                "(volumes included) and record each deletion in the audit trail")
    log = AuditLog.at(settings.state_dir)
    for item in found:
        if item.cloud == "openstack":
            _delete_openstack(in_project(clients.openstack(str(spec["openstack"]["cloud"])), item.where), item)
        else:
            _delete_kubernetes(clients.kubernetes(str(spec["kubernetes"]["cluster"])), item)
        log.append(AuditEvent(actor, "destroy.purge", tenant, "success", ticket=ticket,
                              changes=((item.kind, item.name or item.ident, "delete"),),
                              detail={"cloud": item.cloud, "where": item.where, "id": item.ident}))
    return tuple(found)
