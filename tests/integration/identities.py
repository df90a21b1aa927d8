"""A tenant's own identities, for tests that act as an attacker inside a tenant would.

Kubernetes: the admin kubeconfig impersonating a user in one of the tenant's groups. OpenStack: a new Keystone user
added to one of the tenant's groups, with a token scoped to the tenant's project (deleted afterwards).
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from kubernetes import client as k8s_client
from kubernetes import config as k8s_config

from gcloud.passwords import new_password
from gcloud.verify.openstack import user_connection

CONTEXT = "gov-k8s"


def as_identity(sandbox: Any, user: str, group: str) -> k8s_client.ApiClient:
    """The admin kubeconfig, impersonating `user` in `group` (the admin is in system:masters, which may)."""
    client: k8s_client.ApiClient = k8s_config.new_client_from_config(  # type: ignore[no-untyped-call]
        config_file=str(sandbox.kubeconfig), context=CONTEXT, persist_config=False)
    client.set_default_header("Impersonate-User", user)
    client.set_default_header("Impersonate-Group", group)
    return client


@contextmanager
def keystone_member(admin: Any, tenant: str, group: str) -> Iterator[tuple[Any, Any]]:
    """(the tenant's project, a connection as a new Keystone user in `group`, scoped to the project)."""
    project = admin.identity.find_project(tenant, domain_id="default", ignore_missing=False)
    found = admin.identity.find_group(group, domain_id="default", ignore_missing=False)
    password = new_password()
    user = admin.identity.create_user(name=f"{tenant}-test-{secrets.token_hex(4)}", domain_id="default",
                                      password=password)
    try:
        admin.identity.add_user_to_group(user, found)
        conn = user_connection(admin, user.id, password, project.id)
        yield project, conn
        conn.close()
    finally:
        admin.identity.delete_user(user)
