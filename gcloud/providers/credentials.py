"""Cloud clients resolved at run time from a name, never stored on a provider or in Pulumi state.

A resource's state holds only the cloud name (`gov-east`) or kubeconfig context (`gov-k8s`); the password or
certificate behind it stays in clouds.yaml / the kubeconfig, found through `OS_CLIENT_CONFIG_FILE` and
`KUBECONFIG` exactly as the `openstack` CLI and kubectl find them. Clients are cached per process (the
dynamic-provider process serves many resources), keyed by the name and the file the environment points at.
"""

from __future__ import annotations

import os
import threading
from typing import TYPE_CHECKING, Any

from gcloud.errors import EnvironmentProblem

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection

API_TIMEOUT = float(os.environ.get("GOVCLOUD_API_TIMEOUT", "60"))
"""Seconds one API request may take (connect or read) before it fails, and is retried as a dropped connection."""

_LOCK = threading.Lock()
_OPENSTACK: dict[tuple[str, str], Connection] = {}
_KUBERNETES: dict[tuple[str, str], ApiClient] = {}
_SCOPED: dict[tuple[int, str], Connection] = {}

_OPENSTACK_HINT = ("name the cloud in clouds.yaml and point OS_CLIENT_CONFIG_FILE at it "
                   "(for the sandbox: eval \"$(govcloud sandbox env)\")")
_KUBERNETES_HINT = ("add the context to the kubeconfig and point KUBECONFIG at it "
                    "(for the sandbox: eval \"$(govcloud sandbox env)\")")


def openstack_connection(cloud: str) -> Connection:
    """govcloud's connection to `cloud` from clouds.yaml (authenticates lazily, on the first call): a cloud admin,
    or the least-privilege domain manager of gcloud.privileges (then `in_project` for work inside a project)."""
    key = (cloud, os.environ.get("OS_CLIENT_CONFIG_FILE", ""))
    with _LOCK:
        cached = _OPENSTACK.get(key)
        if cached is not None:
            return cached
        import openstack
        from openstack import exceptions

        try:
            conn = openstack.connect(cloud=cloud, api_timeout=API_TIMEOUT)
        except exceptions.ConfigException as err:
            raise EnvironmentProblem(f"OpenStack cloud {cloud!r} is not configured: {err}", _OPENSTACK_HINT) from None
        except Exception as err:  # keystoneauth's MissingRequiredOptions and friends: a config problem too
            raise EnvironmentProblem(f"OpenStack cloud {cloud!r} cannot be used: {type(err).__name__}: {err}",
                                     _OPENSTACK_HINT) from None
        _OPENSTACK[key] = conn
        return conn


def project_scoped(conn: Connection) -> bool:
    """Whether `conn` authenticates with a project's token (an admin's acts on any project by id), not a domain's."""
    auth = conn.config.config.get("auth") or {}
    return not (auth.get("domain_id") or auth.get("domain_name")) or bool(auth.get("project_id")
                                                                        or auth.get("project_name"))


def in_project(conn: Connection, project_id: str) -> Connection:
    """`conn` acting inside one project: itself when `project_scoped`, else a connection of the same user scoped
    to `project_id`, cached per project.

    govcloud's least-privilege user is domain-scoped for Keystone (gcloud.privileges); Neutron, Nova and Cinder
    see a domain-scoped token as no project at all, so work inside a tenant's project needs a token of that project
    (the user's inherited roles give it one). The first call authenticates once; later ones reuse the token.
    """
    if project_scoped(conn):
        return conn
    key = (id(conn), project_id)
    with _LOCK:
        cached = _SCOPED.get(key)
        if cached is None:
            cached = _SCOPED[key] = conn.connect_as(project_id=project_id, domain_id="", domain_name="")
        return cached


def kubernetes_client(context: str) -> ApiClient:
    """An API client for kubeconfig `context`; token refreshes are never written back to the file."""
    config_file = os.environ.get("KUBECONFIG", "")
    key = (context, config_file)
    with _LOCK:
        cached = _KUBERNETES.get(key)
        if cached is not None:
            return cached
        from kubernetes import config
        from kubernetes.config.config_exception import ConfigException

        try:
            in_memory = _in_memory_kubeconfig(config_file, context) if config_file else None
            if in_memory is not None:
                client: ApiClient = config.new_client_from_config_dict(  # type: ignore[no-untyped-call]
                    in_memory, context=context, persist_config=False)
            else:  # pass the path explicitly: the client reads KUBECONFIG once, at import time
                client = config.new_client_from_config(  # type: ignore[no-untyped-call]
                    config_file=config_file or None, context=context, persist_config=False)
        except (ConfigException, OSError) as err:
            raise EnvironmentProblem(f"Kubernetes context {context!r} cannot be used: {err}",
                                     _KUBERNETES_HINT) from None
        # no default read timeout in the client: an API server that accepts and never answers would hang the run
        client.rest_client.pool_manager.connection_pool_kw["timeout"] = API_TIMEOUT
        _KUBERNETES[key] = client
        return client


_DATA_KEYS = ("client-key-data", "client-certificate-data", "certificate-authority-data")


def _in_memory_kubeconfig(path: str, context: str) -> dict[str, Any] | None:
    """The kubeconfig with its embedded certificates and key moved to memory-only files, or None when it embeds
    none (then the client reads it as it is).

    The client writes `client-key-data` to a temporary file and removes it only at interpreter exit; a forked
    provider ends with os._exit, so the private key stayed in $TMPDIR. A memfd has a path (/proc/self/fd/N, valid
    in forks too) and never touches a disk.
    """
    import base64

    import yaml

    with open(path, encoding="utf-8") as handle:  # noqa: PTH123 - one read, as the client does
        document: dict[str, Any] = yaml.safe_load(handle) or {}
    entries = [entry.get("user") or {} for entry in document.get("users") or []]
    entries += [entry.get("cluster") or {} for entry in document.get("clusters") or []]
    if not any(key in entry for entry in entries for key in _DATA_KEYS) or not hasattr(os, "memfd_create"):
        return None
    del context  # every entry is moved: the context picks among them
    for entry in entries:
        for key in _DATA_KEYS:
            if key in entry:
                fd = os.memfd_create(key, 0)  # no MFD_CLOEXEC: forked providers keep the same descriptor
                os.write(fd, base64.b64decode(entry.pop(key)))
                entry[key.removesuffix("-data")] = f"/proc/self/fd/{fd}"
    return document


def forget_clients() -> None:
    """Drop cached clients (tests that switch clouds.yaml or kubeconfig within one process)."""
    with _LOCK:
        _OPENSTACK.clear()
        _KUBERNETES.clear()
        _SCOPED.clear()
