"""`govcloud import`: bring a project and namespaces made before govcloud into a tenant's stack, recreating nothing.

Pulumi's own import does not work for dynamic providers, so adoption goes through the providers' find-or-create:
a create that finds its object (by govcloud's name, in the tenant's project) adopts it and updates it to the file.
This module makes the hand-made objects findable first, and refuses what belongs to someone else:
- the Keystone project (by name or id) gets govcloud's tags and the tenant's project name; a project tagged for
  another tenant, or a tenant that already has a project of its own, is refused;
- networks, the router and security groups named as in the file (`db`) are renamed to govcloud's names
  (`czj-db`); subnets are then found by network and CIDR;
- namespaces must be in the tenant file and carry no other tenant's label (server-side apply then takes them).
The tenant's `up` that follows adopts them; its changes are the diff between what was live and the file.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from gcloud.errors import InputError
from gcloud.providers import credentials
from gcloud.providers.conventions import TENANT_LABEL, keystone_domain, project_tags, tenant_of_tags
from gcloud.providers.openstack import domain_id, identity
from gcloud.providers.retry import with_retry
from gcloud.stacks.openstack_args import network_args, router_args, security_group_args

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection

    from gcloud.model import TenantDocument


@dataclass(frozen=True, order=True)
class Adopted:
    """One object made findable for the tenant's stack: what it is, its id, its name before and after."""

    kind: str
    id: str
    was: str
    now: str


def refuse(doc: TenantDocument, message: str, hint: str = "") -> InputError:
    return InputError.single(doc.label, message, field="metadata.name", code="import-refused", hint=hint)


def prepare_openstack(doc: TenantDocument, platform: Mapping[str, Any], project_ref: str,
                      conn: Connection | None = None) -> list[Adopted]:
    """Tag and name the project and its objects as govcloud's stack will look for them."""
    effective = doc.effective
    spec = effective["spec"]["openstack"]
    if spec is None:
        raise refuse(doc, "has no spec.openstack: there is no project to import")
    conn = conn or credentials.openstack_connection(str(spec["cloud"]))
    ident = identity(conn)
    domain = domain_id(conn, keystone_domain(platform))
    project = ident.find_project(project_ref, domain_id=domain, ignore_missing=True)
    if project is None:
        raise refuse(doc, f"no Keystone project {project_ref!r} to import")
    owner = tenant_of_tags(list(project.tags or []))
    if owner not in (None, doc.name):
        raise refuse(doc, f"project {project.name!r} belongs to tenant {owner!r}: refusing to take it over")
    mine = ident.find_project(doc.name, domain_id=domain, ignore_missing=True)
    if mine is not None and mine.id != project.id:
        raise refuse(doc, f"tenant {doc.name} already has its project {mine.id}; import into it is refused",
                     hint=f"govcloud destroy {doc.name} first, or import into another tenant")
    adopted = [Adopted("project", str(project.id), str(project.name), doc.name)]
    with_retry(f"tag project {project.name}", lambda: ident.update_project(
        project.id, name=doc.name, tags=sorted({*(project.tags or []), *project_tags(doc.name, doc.digest)})))
    conn = credentials.in_project(conn, str(project.id))
    in_project = [n for n in conn.network.networks() if n.project_id == project.id]  # unfiltered: see providers
    for network in network_args(effective):
        adopted += _rename("network", in_project, (network.key, network.name), network.name,
                           lambda id_, name: conn.network.update_network(id_, name=name))
    router = router_args(effective)
    if router is not None:
        routers = [r for r in conn.network.routers() if r.project_id == project.id]
        found = _rename("router", routers, ("router", router.name), router.name,
                        lambda id_, name: conn.network.update_router(id_, name=name))
        if not found and len(routers) == 1 and routers[0].name != router.name:  # the project's one router
            conn.network.update_router(routers[0].id, name=router.name)
            found = [Adopted("router", str(routers[0].id), str(routers[0].name), router.name)]
        adopted += found
    groups = [g for g in conn.network.security_groups() if g.project_id == project.id]
    for group in security_group_args(effective):
        short = group.name.removeprefix(f"{doc.name}-")
        adopted += _rename("security group", groups, (short, group.name), group.name,
                           lambda id_, name: conn.network.update_security_group(id_, name=name))
    return adopted


def _rename(kind: str, listing: Sequence[Any], names: tuple[str, str], wanted: str,
            update: Callable[[str, str], object]) -> list[Adopted]:
    """The object of the listing named either way, renamed to `wanted` (none found: the stack creates it)."""
    match = next((item for item in listing if item.name == wanted), None) or next(
        (item for item in listing if item.name in names), None)
    if match is None:
        return []
    if match.name != wanted:
        with_retry(f"rename {kind} {match.name}", lambda: update(match.id, wanted))
    return [Adopted(kind, str(match.id), str(match.name), wanted)]


def prepare_namespaces(doc: TenantDocument, namespaces: Iterable[str],
                       client: ApiClient | None = None) -> list[Adopted]:
    """Check each namespace may be taken: declared in the tenant file, no other tenant's label."""
    from kubernetes import client as k8s
    from kubernetes.client.exceptions import ApiException

    wanted = list(namespaces)
    kube = doc.effective["spec"]["kubernetes"]
    if not wanted:
        return []
    if kube is None:
        raise refuse(doc, "has no spec.kubernetes: there are no namespaces to import")
    declared = {str(ns["name"]) for ns in kube.get("namespaces") or []}
    api = k8s.CoreV1Api(client or credentials.kubernetes_client(str(kube["cluster"])))
    adopted = []
    for name in wanted:
        if name not in declared:
            raise refuse(doc, f"namespace {name!r} is not in spec.kubernetes.namespaces",
                         hint="declare it in the tenant file first, then import")
        try:
            live = api.read_namespace(name)
        except ApiException as err:
            if err.status == 404:
                raise refuse(doc, f"no namespace {name!r} to import") from None
            raise
        meta = live.metadata
        owner = ((meta.labels if meta else None) or {}).get(TENANT_LABEL)
        if owner not in (None, doc.name):
            raise refuse(doc, f"namespace {name!r} belongs to tenant {owner!r}: refusing to take it over")
        adopted.append(Adopted("namespace", str(meta.uid if meta else ""), name, name))
    return adopted
