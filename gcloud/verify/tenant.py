"""Run every live isolation check of one tenant against the clouds its spec names."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from gcloud.providers import credentials

from .kubernetes import verify_kubernetes
from .openstack import UserConnect, user_connection, verify_openstack
from .results import IsolationCheck

if TYPE_CHECKING:
    from kubernetes.client import ApiClient
    from openstack.connection import Connection

    from gcloud.model import Fleet


@dataclass(frozen=True)
class Clients:
    """How to reach a cloud by name: injected, so tests and the CLI hand in what they hold."""

    openstack: Callable[[str], Connection] = credentials.openstack_connection
    kubernetes: Callable[[str], ApiClient] = credentials.kubernetes_client
    connect_as: UserConnect = user_connection


def group_owners(effectives: Iterable[Mapping[str, Any]]) -> dict[str, str]:
    """Group name -> tenant id across a fleet, so a foreign assignment can name whose group it is."""
    return {str(entry["group"]): str(spec["metadata"]["name"])
            for spec in effectives for entry in spec["spec"].get("access") or []}


def verify_tenant(effective: Mapping[str, Any], platform: Mapping[str, Any], clients: Clients | None = None, *,
                  owners: Mapping[str, str] | None = None) -> list[IsolationCheck]:
    """All checks for the parts the tenant has (OpenStack, Kubernetes), sorted by check name."""
    clients = clients or Clients()
    spec = effective["spec"]
    results: list[IsolationCheck] = []
    if spec.get("openstack"):
        conn = clients.openstack(str(spec["openstack"]["cloud"]))
        results += verify_openstack(effective, platform, conn, group_owners=owners, connect=clients.connect_as)
    if spec.get("kubernetes"):
        results += verify_kubernetes(effective, platform, clients.kubernetes(str(spec["kubernetes"]["cluster"])))
    return sorted(results)


@dataclass(frozen=True)
class VerifyReport:
    """Every check of every tenant verified, in tenant order."""

    checks: tuple[IsolationCheck, ...]
    tenants: int

    @property
    def failed(self) -> tuple[IsolationCheck, ...]:
        return tuple(check for check in self.checks if not check.passed)


RESULT_KIND = "verify"
"""The kind under which each tenant's last checks are kept (read by `govcloud report`'s evidence table)."""


def verify_fleet(fleet: Fleet, *, parallel: int = 4, clients: Clients | None = None, keep: bool = True,
                 state_dir: Path | None = None) -> VerifyReport:
    """The fleet's targets checked a few at once (each check waits on the clouds, not on this machine); with
    `keep`, each tenant's checks are kept with their time where every runner sees them (the state store)."""
    owners = group_owners(doc.effective for doc in fleet.tenants)
    with ThreadPoolExecutor(max(1, parallel)) as pool:
        per_tenant = list(pool.map(
            lambda doc: verify_tenant(doc.effective, fleet.platform_data, clients, owners=owners), fleet.targets))
    if keep:
        from gcloud.state.backend import put_result

        now = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
        for doc, checks in zip(fleet.targets, per_tenant, strict=True):
            put_result(RESULT_KIND, doc.name, {"checked_at": now, "checks": [asdict(c) for c in checks]},
                       state_dir=state_dir)
    return VerifyReport(tuple(check for checks in per_tenant for check in checks), len(per_tenant))
