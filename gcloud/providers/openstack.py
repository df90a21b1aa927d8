"""OpenStack identity and quotas as Pulumi dynamic resources: project, groups, role assignments, quota sets.

Every call is made with govcloud's identity of the cloud named in the resource (`cloud`): Keystone calls with
its own token (a domain manager's, or an admin's), quota calls with a token of the tenant's project
(`project_connection`; gcloud.privileges says which roles that takes). Creates adopt what an interrupted earlier
run (or a create whose answer was lost) left behind (same name, same tenant tag) instead of failing on a
duplicate; deletes treat "already gone" as done.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar, cast

import pulumi
from pulumi.dynamic import CreateResult, ReadResult, Resource, UpdateResult

from . import credentials
from .base import FOREIGN, GovProvider, inputs_of, keep_foreign, member
from .conventions import MANAGED_TAG, tenant_of_tags
from .retry import ProviderError, status_of, with_retry

if TYPE_CHECKING:
    from openstack.connection import Connection
    from openstack.identity.v3._proxy import Proxy as IdentityProxy

T = TypeVar("T")


def connection(props: Mapping[str, Any]) -> Connection:
    """For Keystone: projects, groups, role assignments (a domain manager's token, or an admin's)."""
    return credentials.openstack_connection(str(props["cloud"]))


def project_connection(props: Mapping[str, Any]) -> Connection:
    """For work inside the tenant's project (`projectId`): its networks, security groups, quotas. (A router
    interface recorded before it had `projectId` gets govcloud's own token, as then.)"""
    if "projectId" not in props:
        return connection(props)
    return credentials.in_project(connection(props), str(props["projectId"]))


def identity(conn: Connection) -> IdentityProxy:
    """Keystone v3 (the SDK types `conn.identity` as v2-or-v3; govcloud needs v3 for domains and tags)."""
    return cast("IdentityProxy", conn.identity)


def missing_ok(call: Callable[[], T]) -> T | None:
    """`call()`, None when the API answers 404 (the thing is gone)."""
    try:
        return call()
    except Exception as exc:
        if status_of(exc) == 404:
            return None
        raise


def found(action: str, call: Callable[[], T]) -> T | None:
    """`call()` with retries, None when the API answers 404 (the thing is gone)."""
    return with_retry(action, lambda: missing_ok(call))


def ensure(action: str, find: Callable[[], T | None], create: Callable[[], T]) -> tuple[T, bool]:
    """Find-or-create, retried as a whole: (the object, whether this call created it).

    A create can succeed on the server and still fail in its answer (a 500 raised after the commit). Looking
    again before each attempt turns the retry into an adoption instead of a duplicate or a "CIDR overlaps".
    """
    def attempt() -> tuple[T, bool]:
        existing = missing_ok(find)
        return (existing, False) if existing is not None else (create(), True)

    return with_retry(action, attempt)


def create_or_find(action: str, create: Callable[[], T], find: Callable[[], T | None]) -> tuple[T, bool]:
    """For names the service keeps unique (Keystone projects and groups in a domain): create, and look up only
    on 409 Conflict. One request where `ensure` makes two; a retried create whose first attempt committed meets
    the 409 too, and adopts what it made."""
    def attempt() -> tuple[T, bool]:
        try:
            return create(), True
        except Exception as exc:
            if status_of(exc) != 409:
                raise
            existing = missing_ok(find)
            if existing is None:  # a conflict of another kind: `with_retry` decides whether it passes
                raise
            return existing, False

    return with_retry(action, attempt)


def first(listing: Callable[[], Iterable[Any]]) -> Callable[[], Any | None]:
    """A finder for `ensure`: the first object of a filtered listing (one call, where `find_*` makes two)."""
    return lambda: next(iter(listing()), None)


def gone(action: str, call: Callable[[], object]) -> None:
    """A delete that succeeds when the thing is already gone."""
    found(action, call)


_IDS: dict[tuple[int, str, str], str] = {}
"""Domain and role ids by name, per connection: they do not change while one provider process runs, and a
tenant asks for the same few many times (one lookup per group, per role assignment)."""


_IDS_LOCK = threading.Lock()
"""The engine creates a tenant's project and groups at once (threads of one provider process): without the lock
each missed the cache and looked the domain up again."""


def _cached_id(conn: Connection, kind: str, name: str, lookup: Callable[[], Any]) -> str | None:
    key = (id(conn), kind, name)
    with _IDS_LOCK:
        if key not in _IDS:
            thing = found(f"find Keystone {kind} {name}", lookup)
            if thing is None:
                return None
            _IDS[key] = str(thing.id)
        return _IDS[key]


def _name_first(listing: Callable[[], Iterable[Any]], by_id: Callable[[], Any]) -> Callable[[], Any]:
    """A lookup by name in one call, by id only when no object has that name. The SDK's `find_*` asks by id
    first, so a name (as platform.yaml writes them) cost a 404 and then the listing: two round trips per fork."""
    def lookup() -> Any:
        thing = next(iter(listing()), None)
        return thing if thing is not None else by_id()
    return lookup


def domain_id(conn: Connection, domain: str) -> str:
    """Keystone domain id from its name or id (`Default` resolves to `default`)."""
    found_id = _cached_id(conn, "domain", domain, _name_first(lambda: identity(conn).domains(name=domain),
                                                              lambda: identity(conn).get_domain(domain)))
    if found_id is None:
        raise ProviderError(f"Keystone domain {domain!r} does not exist (platform.yaml spec.openstack.domain)")
    return found_id


def role_id(conn: Connection, role: str) -> str:
    found_id = _cached_id(conn, "role", role, _name_first(lambda: identity(conn).roles(name=role),
                                                          lambda: identity(conn).get_role(role)))
    if found_id is None:
        raise ProviderError(f"Keystone role {role!r} does not exist (platform.yaml spec.roles maps to it)")
    return found_id


def read_project(conn: Connection, project_id: str) -> Any | None:
    """The Keystone project, None when it is gone. A domain manager asking for a project Keystone no longer has
    is refused (403), not told 404: the policy cannot see the missing project's domain. So 403 counts as gone."""
    def read() -> Any:
        try:
            return identity(conn).get_project(project_id)
        except Exception as exc:
            if status_of(exc) == 403:
                return None
            raise
    return found(f"read project {project_id}", read)


def _assignment_member(assignment: Any) -> dict[str, Any]:
    """A role assignment as a foreign member: who (group or user), which role."""
    who, kind = (assignment.group, "group") if assignment.group else (assignment.user or {}, "user")
    role = (assignment.role or {}).get("name", "")
    name = who.get("name", who.get("id", ""))
    return member("RoleAssignment", f"{kind}:{who.get('id', '')}:{(assignment.role or {}).get('id', '')}",
                  f"{kind} {name} holds role {role}", actor=kind, name=name, role=role)


class ProjectProvider(GovProvider):
    """A Keystone project for one tenant; description = display name, tags = govcloud + tenant + spec digest.

    The project is a container: `assignments` lists the (group, role) pairs govcloud assigns on it; any other
    assignment (a group or a user given a role by hand) is reported as foreign by `read` (a refresh) and removed
    by the update that follows it.
    """

    replace_keys = frozenset({"cloud", "name", "domain"})
    computed_keys = frozenset({"domainId"})

    @staticmethod
    def _foreign(conn: Connection, project_id: str, p: Mapping[str, Any]) -> list[dict[str, Any]]:
        expected = {(group, role) for group, role in p.get("assignments") or []}
        listed = with_retry(f"list role assignments on project {project_id}", lambda: list(
            identity(conn).role_assignments(scope_project_id=project_id, include_names=True)))
        return [_assignment_member(a) for a in listed
                if not (a.group and (a.group.get("name"), (a.role or {}).get("name")) in expected)]

    @staticmethod
    def _evict(conn: Connection, project_id: str, olds: Mapping[str, Any]) -> list[dict[str, Any]]:
        """Remove the foreign assignments the refresh found (unless this run keeps them); what is left."""
        foreign: list[dict[str, Any]] = list(olds.get(FOREIGN) or [])
        if keep_foreign():
            return foreign
        for item in foreign:
            kind, who, role = item["id"].split(":")
            revoke = (identity(conn).unassign_project_role_from_group if kind == "group"
                      else identity(conn).unassign_project_role_from_user)
            gone(f"remove foreign assignment: {item['summary']}", partial(revoke, project_id, who, role))
        return []

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = connection(p)
        dom = domain_id(conn, p["domain"])
        project, created = create_or_find(
            f"create project {p['name']}",
            lambda: identity(conn).create_project(name=p["name"], domain_id=dom, description=p["description"],
                                                  tags=p["tags"], is_enabled=p["enabled"]),
            first(lambda: identity(conn).projects(name=p["name"], domain_id=dom)))
        if not created:
            if tenant_of_tags(project.tags) != tenant_of_tags(p["tags"]):
                raise ProviderError(
                    f"Keystone project {p['name']!r} already exists in domain {p['domain']!r} and is not tagged "
                    f"{MANAGED_TAG}/{tenant_of_tags(p['tags'])}: refusing to take it over (adopt it explicitly)")
            self._update(conn, str(project.id), p)
        return CreateResult(str(project.id), {**p, "domainId": dom, FOREIGN: []})

    @staticmethod
    def _update(conn: Connection, project_id: str, p: Mapping[str, Any]) -> None:
        with_retry(f"update project {p['name']}", lambda: identity(conn).update_project(
            project_id, description=p["description"], tags=p["tags"], is_enabled=p["enabled"]))

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        p = inputs_of(_news)
        conn = connection(p)
        self._update(conn, _id, p)
        return UpdateResult({**p, "domainId": _olds.get("domainId", ""), FOREIGN: self._evict(conn, _id, _olds)})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        conn = connection(p)
        project = read_project(conn, id_)
        if project is None:
            return ReadResult("", {})
        tags = list(project.tags or [])
        return ReadResult(id_, {**p, "name": project.name, "description": project.description or "",
                                "tags": p["tags"] if set(tags) == set(p["tags"]) else tags,  # a set, in any order
                                "enabled": bool(project.is_enabled), "domainId": project.domain_id,
                                FOREIGN: self._foreign(conn, id_, p)})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        conn = connection(p)
        if read_project(conn, _id) is None:
            return  # already gone (a domain manager's delete of a missing project is refused, not a 404)
        # Neutron creates a "default" security group in every project it sees; Keystone's delete leaves it
        # behind, and only an admin may delete it (Neutron's code checks is_admin; no policy grants it). So it
        # is removed with the platform's cleanup cloud (an admin, for this one call) or with govcloud's own
        # identity when that is an admin; a least-privilege identity without one leaves it (gcloud.privileges).
        # Listed across projects and filtered here: a listing scoped to the project would make Neutron create
        # one first.
        admin = credentials.openstack_connection(str(p["cleanupCloud"])) if p.get("cleanupCloud") else conn
        if credentials.project_scoped(admin):
            defaults = with_retry("list default security groups",
                                  lambda: list(admin.network.security_groups(name="default")))
            for group in (group for group in defaults if group.project_id == _id):
                gone(f"delete default security group {group.id}",
                     partial(admin.network.delete_security_group, group, ignore_missing=False))
        gone(f"delete project {_id}", lambda: identity(conn).delete_project(_id, ignore_missing=False))


class IdentityGroupProvider(GovProvider):
    """A Keystone group named in a tenant's access list: found if the identity provider has it, else created.

    `created` records which case applied, so a destroy removes only groups govcloud itself made.
    """

    replace_keys = frozenset({"cloud", "name", "domain"})
    computed_keys = frozenset({"created", "domainId"})

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = connection(p)
        dom = domain_id(conn, p["domain"])
        group, created = create_or_find(
            f"ensure group {p['name']}",
            lambda: identity(conn).create_group(name=p["name"], domain_id=dom, description=p["description"]),
            first(lambda: identity(conn).groups(name=p["name"], domain_id=dom)))
        return CreateResult(str(group.id), {**p, "created": created, "domainId": dom})

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        p = inputs_of(_news)
        if _olds.get("created"):
            conn = connection(p)
            with_retry(f"update group {p['name']}", lambda: identity(conn).update_group(
                _id, description=p["description"]))
        return UpdateResult({**p, "created": bool(_olds.get("created")), "domainId": _olds.get("domainId", "")})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        conn = connection(p)
        group = found(f"read group {id_}", lambda: identity(conn).get_group(id_))
        if group is None:
            return ReadResult("", {})
        description = (group.description or "") if p.get("created") else p["description"]
        return ReadResult(id_, {**p, "name": group.name, "description": description})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        if p.get("created"):
            conn = connection(p)
            gone(f"delete group {p['name']}", lambda: identity(conn).delete_group(_id, ignore_missing=False))


def _grant(conn: Connection, project_id: str, group_id: str, role: str) -> None:
    """Keystone's PUT of a group's role on a project. The SDK's proxy call drops a refusal (a domain manager
    granting a role `domain_managed_target_role` does not list) without a word, so the answer is checked here."""
    from openstack import exceptions

    response = identity(conn).put(f"/projects/{project_id}/groups/{group_id}/roles/{role}")
    exceptions.raise_from_response(response, error_message=(
        f"Keystone refused the role {role} on project {project_id}: a domain manager may grant only the roles "
        "Keystone's domain_managed_target_role lists (install gcloud/privileges/keystone-policy.yaml)"))


class GroupRoleAssignmentProvider(GovProvider):
    """A Keystone role for a group on the tenant's project; every input identifies it, so any change replaces."""

    replace_keys = frozenset({"cloud", "projectId", "groupId", "role"})
    computed_keys = frozenset({"roleId"})

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        conn = connection(p)
        found_role = role_id(conn, p["role"])
        with_retry(f"assign role {p['role']} to group {p['groupId']}",
                   lambda: _grant(conn, p["projectId"], p["groupId"], found_role))
        return CreateResult(f"{p['projectId']}:{p['groupId']}:{found_role}", {**p, "roleId": found_role})

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        conn = connection(p)
        held = found(f"check role of group {p['groupId']}", lambda: identity(conn).validate_group_has_project_role(
            p["projectId"], p["groupId"], p["roleId"]))
        return ReadResult(id_, p) if held else ReadResult("", {})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        conn = connection(p)
        gone(f"unassign role {p['role']} from group {p['groupId']}",
             lambda: identity(conn).unassign_project_role_from_group(p["projectId"], p["groupId"], p["roleId"]))


class QuotaProvider(GovProvider):
    """One service's quota set on the tenant's project (`service`: compute | blockStorage | network).

    Only the keys in `quota` are written (openstacksdk attribute names). On delete the whole set is reverted to
    the service's defaults, then `reset` (the platform's defaultQuotas for this service) is applied: quotas
    return to the platform's floor instead of being left as they were or zeroed.
    """

    replace_keys = frozenset({"cloud", "projectId", "service"})

    # `force` (nova, neutron) sets a limit below what is in use; cinder does not check usage unless asked.
    _SET: ClassVar[dict[str, Callable[[Connection, str, dict[str, Any]], object]]] = {
        "compute": lambda conn, project, values: conn.compute.update_quota_set(project, **cast(Any, values)),
        "blockStorage": lambda conn, project, values: conn.block_storage.update_quota_set(
            project, **{key: value for key, value in values.items() if key != "force"}),
        "network": lambda conn, project, values: conn.network.update_quota(project, **values),
    }
    _GET: ClassVar[dict[str, Callable[[Connection, str], object]]] = {
        "compute": lambda conn, project: conn.compute.get_quota_set(project),
        "blockStorage": lambda conn, project: conn.block_storage.get_quota_set(project),
        "network": lambda conn, project: conn.network.get_quota(project),
    }
    _DEFAULTS: ClassVar[dict[str, Callable[[Connection, str], object]]] = {
        "compute": lambda conn, project: conn.compute.get_quota_set_defaults(project),
        "blockStorage": lambda conn, project: conn.block_storage.get_quota_set_defaults(project),
        "network": lambda conn, project: conn.network.get_quota_default(project),
    }
    _REVERT: ClassVar[dict[str, Callable[[Connection, str], object]]] = {
        "compute": lambda conn, project: conn.compute.revert_quota_set(project),
        "blockStorage": lambda conn, project: conn.block_storage.revert_quota_set(project),
        "network": lambda conn, project: conn.network.delete_quota(project, ignore_missing=False),
    }

    @classmethod
    def _write(cls, conn: Connection, p: Mapping[str, Any], values: dict[str, int], *, force: bool = False) -> None:
        """Set `values`; without `force` the service refuses a limit below current usage (what a user wants to
        hear when lowering a quota)."""
        if values:
            body: dict[str, Any] = {**values, "force": True} if force else dict(values)
            with_retry(f"set {p['service']} quota of project {p['projectId']}",
                       lambda: cls._SET[p["service"]](conn, p["projectId"], body))

    @classmethod
    def _service_defaults(cls, conn: Connection, p: Mapping[str, Any], keys: list[str]) -> dict[str, int]:
        if not keys:
            return {}
        defaults = with_retry(f"read default {p['service']} quota",
                              lambda: cls._DEFAULTS[p["service"]](conn, p["projectId"]))
        return {key: int(getattr(defaults, key)) for key in keys}

    def create(self, props: dict[str, Any]) -> CreateResult:
        p = inputs_of(props)
        self._write(project_connection(p), p, dict(p["quota"]))
        return CreateResult(f"{p['projectId']}/{p['service']}", p)

    def update(self, _id: str, _olds: dict[str, Any], _news: dict[str, Any]) -> UpdateResult:
        old, p = inputs_of(_olds), inputs_of(_news)
        conn = project_connection(p)
        dropped = sorted(set(old.get("quota", {})) - set(p["quota"]))
        reset = {key: value for key, value in p.get("reset", {}).items() if key in dropped}
        values = {**self._service_defaults(conn, p, [key for key in dropped if key not in reset]), **reset}
        self._write(conn, p, {**values, **p["quota"]})
        return UpdateResult(p)

    @staticmethod
    def _project_exists(conn: Connection, project_id: str) -> bool:
        """Nova refuses quota calls for a project Keystone no longer knows (400), so ask Keystone first. A domain
        manager is refused (403) a project Keystone no longer has (`read_project`)."""
        return read_project(conn, project_id) is not None

    def read(self, id_: str, props: dict[str, Any]) -> ReadResult:
        p = inputs_of(props)
        if not self._project_exists(connection(p), p["projectId"]):
            return ReadResult("", {})
        conn = project_connection(p)
        live = found(f"read {p['service']} quota", lambda: self._GET[p["service"]](conn, p["projectId"]))
        if live is None:
            return ReadResult("", {})
        return ReadResult(id_, {**p, "quota": {key: int(getattr(live, key)) for key in p["quota"]}})

    def delete(self, _id: str, _props: dict[str, Any]) -> None:
        p = inputs_of(_props)
        if not self._project_exists(connection(p), p["projectId"]):
            return  # the project went first (by hand): nothing is left to reset
        conn = project_connection(p)
        gone(f"revert {p['service']} quota of project {p['projectId']}",
             lambda: self._REVERT[p["service"]](conn, p["projectId"]))
        # The tenant is leaving: its resources are gone (they depend on this quota, so they are deleted first);
        # whatever still counts (a stale reservation, something made by hand) must not keep the floor away.
        self._write(conn, p, dict(p.get("reset", {})), force=True)


# --- Resources: what the stack program instantiates. Their ids are the cloud's ids. ---------------------------

class Project(Resource, module="govcloud-openstack", name="Project"):
    def __init__(self, name: str, *, cloud: str, project_name: str, domain: str, description: str,
                 tags: list[str], assignments: list[tuple[str, str]], cleanup_cloud: str | None = None,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        extra = {"cleanupCloud": cleanup_cloud} if cleanup_cloud else {}
        super().__init__(ProjectProvider(), name, {
            "cloud": cloud, "name": project_name, "domain": domain, "description": description, "tags": tags,
            "enabled": True, "assignments": [list(pair) for pair in assignments], **extra}, opts)


class IdentityGroup(Resource, module="govcloud-openstack", name="IdentityGroup"):
    def __init__(self, name: str, *, cloud: str, group_name: str, domain: str, description: str,
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(IdentityGroupProvider(), name, {
            "cloud": cloud, "name": group_name, "domain": domain, "description": description}, opts)


class GroupRoleAssignment(Resource, module="govcloud-openstack", name="GroupRoleAssignment"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], group_id: pulumi.Input[str],
                 role: str, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(GroupRoleAssignmentProvider(), name, {
            "cloud": cloud, "projectId": project_id, "groupId": group_id, "role": role}, opts)


class Quota(Resource, module="govcloud-openstack", name="Quota"):
    def __init__(self, name: str, *, cloud: str, project_id: pulumi.Input[str], service: str,
                 quota: Mapping[str, int], reset: Mapping[str, int],
                 opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__(QuotaProvider(), name, {
            "cloud": cloud, "projectId": project_id, "service": service, "quota": dict(quota),
            "reset": dict(reset)}, opts)
