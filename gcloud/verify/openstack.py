"""OpenStack isolation checks of one tenant, run with the admin connection the caller hands in.

What a member sees is checked with a member's own token: a short-lived verifier user is created in the
platform's domain, put in every group of the tenant (so it holds exactly what the tenant's members hold, through
the same role assignments govcloud made, and a leak through any one group shows), used, and deleted in a
`finally`. Its random password lives only in this
process's memory. Where the identity backend refuses group changes (LDAP, federation), the user gets the
group's role directly on the project instead. A run killed before its `finally` leaves its user behind: the user's
name carries its creation time, and the next check of that tenant deletes the tenant's verifiers older than an
hour (a check running elsewhere at the same time is never touched).
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from functools import partial
from typing import TYPE_CHECKING, Any

from gcloud.passwords import new_password
from gcloud.providers.conventions import MANAGED_TAG, grants, keystone_domain, tenant_of_tags
from gcloud.providers.openstack import domain_id, found, identity
from gcloud.providers.retry import ProviderError, with_retry

from .results import DutyGroup, IsolationCheck, judge_assignments, judge_duty_separation, judge_networks, judge_projects

if TYPE_CHECKING:
    from openstack.connection import Connection

CHECKS = ("keystone-foreign-assignments", "keystone-token-projects", "neutron-token-networks")
DUTY_CHECK = "keystone-duty-separation"
"""Run only for a tenant whose access entries carry a duty (spec.access[].duty)."""

VERIFIER_PREFIX = "govcloud-verify-"
STALE_VERIFIER_S = 3600
"""A verifier user older than this was left by a run that was killed: no check takes an hour."""

UserConnect = Callable[["Connection", str, str, str], "Connection"]
"""(admin connection, user id, password, project id) -> a connection authenticated as that user."""


def user_connection(admin: Connection, user_id: str, password: str, project_id: str) -> Connection:
    """A project-scoped connection as another user, reaching Keystone the way the admin connection does.

    Built from a keystoneauth session rather than `openstack.connect(...)`: with OS_CLIENT_CONFIG_FILE set,
    the latter silently takes the admin credentials from clouds.yaml.
    """
    import openstack.connection
    from keystoneauth1 import session
    from keystoneauth1.identity import v3

    auth = v3.Password(auth_url=admin.config.get_auth_args()["auth_url"], user_id=user_id, password=password,
                       project_id=project_id)
    return openstack.connection.Connection(session=session.Session(auth=auth, verify=admin.session.verify),
                                           region_name=admin.config.get_region_name(),
                                           interface=admin.config.get_interface())


@contextmanager
def verifier(conn: Connection, tenant: str, project_id: str, dom_id: str, group_ids: list[str],
             fallback_role: str | None, connect: UserConnect) -> Iterator[tuple[str, Connection]]:
    """A throw-away member of the tenant: (user id, its own connection); deleted whatever happens."""
    password = new_password()
    ident = identity(conn)
    sweep_stale_verifiers(conn, tenant, dom_id)
    user = with_retry("create verifier user", lambda: ident.create_user(
        name=verifier_name(tenant, time.time()), domain_id=dom_id, password=password,
        description=f"govcloud verify {tenant}: temporary, deleted after the check", is_enabled=True))
    user_id = str(user.id)
    try:
        if not _join(conn, user_id, project_id, group_ids, fallback_role):
            raise ProviderError(f"tenant {tenant} has no group or role a verifier could hold")
        yield user_id, connect(conn, user_id, password, project_id)
    finally:
        with_retry("delete verifier user", lambda: ident.delete_user(user_id, ignore_missing=True))


def verifier_name(tenant: str, created: float) -> str:
    """`govcloud-verify-<tenant>-<unix time>-<random>`: whose it is and since when, for the sweep."""
    return f"{VERIFIER_PREFIX}{tenant}-{int(created)}-{secrets.token_hex(4)}"


def stale_verifier(name: str, tenant: str, now: float) -> bool:
    """Whether `name` is one of this tenant's verifiers, created over STALE_VERIFIER_S ago."""
    rest = name.removeprefix(f"{VERIFIER_PREFIX}{tenant}-")
    created = rest.split("-")[0]
    return rest != name and created.isdigit() and now - int(created) > STALE_VERIFIER_S


def sweep_stale_verifiers(conn: Connection, tenant: str, dom_id: str, now: float | None = None) -> list[str]:
    """Delete the tenant's verifier users that killed runs left behind; their names."""
    ident = identity(conn)
    moment = time.time() if now is None else now
    stale = [user for user in with_retry("list verifier users", lambda: list(ident.users(domain_id=dom_id)))
             if stale_verifier(str(user.name), tenant, moment)]
    for user in stale:
        with_retry("delete stale verifier user", partial(ident.delete_user, user.id, ignore_missing=True))
    return [str(user.name) for user in stale]


def _join(conn: Connection, user_id: str, project_id: str, group_ids: list[str], fallback_role: str | None) -> bool:
    """Membership in every group of the tenant: whatever any of them can see, the verifier sees."""
    ident = identity(conn)
    if group_ids:
        try:
            for group_id in group_ids:
                with_retry("add verifier to group", partial(ident.add_user_to_group, user_id, group_id))
            return True
        except ProviderError:
            pass  # read-only identity backend: fall back to a direct assignment
    if fallback_role is None:
        return False
    role = with_retry(f"find role {fallback_role}", lambda: ident.find_role(fallback_role, ignore_missing=False))
    with_retry("assign verifier role", lambda: ident.assign_project_role_to_user(project_id, user_id, role))
    return True


def _assignments(conn: Connection, project_id: str) -> list[dict[str, Any]]:
    listed = with_retry("list role assignments", lambda: list(identity(conn).role_assignments(
        scope_project_id=project_id, include_names=True)))
    result = []
    for item in listed:
        kind = "group" if item.group else "user"
        actor = item.group or item.user or {}
        result.append({"kind": kind, "id": actor.get("id", ""), "name": actor.get("name", ""),
                       "role": (item.role or {}).get("name") or (item.role or {}).get("id", "")})
    return result


def _group_ids(conn: Connection, dom_id: str, names: list[str]) -> list[str]:
    """Ids of the named groups that exist, in the order named (duplicates dropped)."""
    ids = []
    for name in dict.fromkeys(names):
        group = found(f"find group {name}", partial(identity(conn).find_group, name, domain_id=dom_id,
                                                    ignore_missing=False))
        if group is not None:
            ids.append(str(group.id))
    return ids


def duty_groups(effective: Mapping[str, Any]) -> list[tuple[str, str]]:
    """(duty, group name) of every access entry that carries a duty, in file order."""
    return [(str(entry["duty"]), str(entry["group"])) for entry in effective["spec"].get("access") or []
            if entry.get("duty")]


def _listed_users(conn: Connection, group_id: str) -> list[Any]:
    return list(identity(conn).group_users(group_id))


def _duty_members(conn: Connection, dom_id: str, duties: list[tuple[str, str]]) -> list[DutyGroup]:
    """Who is in each duty group, as the admin sees it; govcloud's own verifier users left out (a concurrent
    check's verifier sits in every group of the tenant for a moment)."""
    ident = identity(conn)
    result = []
    for duty, name in duties:
        group = found(f"find group {name}", partial(ident.find_group, name, domain_id=dom_id, ignore_missing=False))
        if group is None:
            continue
        users = with_retry(f"list users of group {name}", partial(_listed_users, conn, str(group.id)))
        result.append(DutyGroup(duty, name, {str(u.id): str(u.name) for u in users
                                             if not str(u.name).startswith(VERIFIER_PREFIX)}))
    return result


def _failed(tenant: str, detail: str, duties: bool = False) -> list[IsolationCheck]:
    return [IsolationCheck(tenant, check, False, detail) for check in (*CHECKS, *((DUTY_CHECK,) if duties else ()))]


def verify_openstack(effective: Mapping[str, Any], platform: Mapping[str, Any], conn: Connection, *,
                     group_owners: Mapping[str, str] | None = None,
                     connect: UserConnect = user_connection) -> list[IsolationCheck]:
    """The tenant's OpenStack checks; a cloud that cannot be asked fails them with the reason, never raises."""
    tenant = str(effective["metadata"]["name"])
    access = grants(effective, platform, "keystone")
    domain = keystone_domain(platform)
    duties = duty_groups(effective)
    try:
        dom_id = domain_id(conn, domain)
        ident = identity(conn)
        project = found(f"find project {tenant}", lambda: ident.find_project(
            tenant, domain_id=dom_id, ignore_missing=False))
        if project is None:
            return _failed(tenant, f"project {tenant} not found in domain {domain}", bool(duties))
        project_id = str(project.id)
        group_ids = _group_ids(conn, dom_id, [grant.group for grant in access])
        results = [judge_assignments(tenant, _assignments(conn, project_id), group_ids, group_owners)]
        if duties:  # before this run's verifier joins every group
            results.append(judge_duty_separation(tenant, _duty_members(conn, dom_id, duties)))
        tenant_projects = {str(p.id): owner for p in with_retry("list govcloud projects", lambda: list(
            ident.projects(tags=MANAGED_TAG))) if (owner := tenant_of_tags(p.tags))}
        fallback = next((grant.role for grant in access), None)
        with verifier(conn, tenant, project_id, dom_id, group_ids, fallback, connect) as (user_id, member):
            visible = {str(p.id): str(p.name) for p in with_retry("list projects as member", lambda: list(
                identity(member).user_projects(user_id)))}
            results.append(judge_projects(tenant, project_id, visible))
            networks = [{"id": n.id, "name": n.name, "project_id": n.project_id,
                         "external": bool(n.is_router_external)}
                        for n in with_retry("list networks as member", lambda: list(member.network.networks()))]
            results.append(judge_networks(tenant, project_id, networks, tenant_projects))
        return results
    except ProviderError as err:
        return _failed(tenant, str(err), bool(duties))
