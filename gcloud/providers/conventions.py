"""What govcloud writes into the clouds and reads back: labels, tags, names and quota key spellings.

One place for the contract between the stack program (which names things), the providers (which write them)
and verify / the integration tests (which look for them). Pure: imports no cloud client and no Pulumi.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

MANAGED_TAG: Final = "govcloud"
"""Keystone project tag that marks a project as provisioned by govcloud."""

TENANT_LABEL: Final = "govcloud.io/tenant"
"""Kubernetes label holding the tenant id; NetworkPolicies select namespaces by it."""

MANAGED_BY_LABEL: Final = "app.kubernetes.io/managed-by"
MANAGED_BY: Final = "govcloud"
DISPLAY_NAME_ANNOTATION: Final = "govcloud.io/display-name"
"""Label values cannot hold Chinese text, annotations can."""

REGISTRIES_ANNOTATION: Final = "govcloud.io/allowed-registries"
FIELD_MANAGER: Final = "govcloud"
"""Server-side apply field manager: the fields govcloud owns on every Kubernetes object."""

DIGEST_TAG_LENGTH: Final = 12

QUOTA_SERVICES: Final = ("compute", "blockStorage", "network")

QUOTA_KEYS: Final[Mapping[str, Mapping[str, str]]] = {
    # tenant-file key -> openstacksdk attribute (the API's own name where the SDK keeps it)
    "compute": {
        "instances": "instances", "cores": "cores", "ramMB": "ram", "keyPairs": "key_pairs",
        "serverGroups": "server_groups",
    },
    "blockStorage": {
        "volumes": "volumes", "gigabytes": "gigabytes", "snapshots": "snapshots", "backups": "backups",
        "backupGigabytes": "backup_gigabytes",
    },
    "network": {
        # openstacksdk attribute -> Neutron wire name: networks->network, floating_ips->floatingip,
        # security_groups->security_group, security_group_rules->security_group_rule, ...
        "networks": "networks", "subnets": "subnets", "ports": "ports", "routers": "routers",
        "floatingIps": "floating_ips", "securityGroups": "security_groups",
        "securityGroupRules": "security_group_rules",
    },
}


def tenant_tag(tenant: str) -> str:
    return f"tenant:{tenant}"


def digest_tag(digest: str) -> str:
    """Keystone tags are short strings without '/' or ','; a digest prefix is enough to tell specs apart."""
    return f"digest:{digest[:DIGEST_TAG_LENGTH]}"


def project_tags(tenant: str, digest: str) -> list[str]:
    return [MANAGED_TAG, tenant_tag(tenant), digest_tag(digest)]


def tenant_of_tags(tags: list[str] | None) -> str | None:
    """The tenant id a govcloud-tagged project belongs to, or None for anything else."""
    tags = tags or []
    if MANAGED_TAG not in tags:
        return None
    return next((tag.removeprefix("tenant:") for tag in tags if tag.startswith("tenant:")), None)


def resource_name(tenant: str, name: str) -> str:
    """Every cloud object of a tenant is prefixed with its id: `czj-app`."""
    return f"{tenant}-{name}"


def openstack_quota_args(service: str, values: Mapping[str, int | None]) -> dict[str, int]:
    """Tenant-file quota keys of one service -> openstacksdk keyword arguments; unknown keys are an error.

    Only the keys present (and not None) are mapped: an omitted key is inherited, never zeroed.
    """
    try:
        table = QUOTA_KEYS[service]
    except KeyError:
        raise ValueError(f"unknown quota service {service!r}; expected one of {', '.join(QUOTA_SERVICES)}") from None
    unknown = sorted(set(values) - set(table))
    if unknown:
        raise ValueError(f"unknown {service} quota keys: {', '.join(unknown)}")
    return {table[key]: int(value) for key, value in values.items() if value is not None}


@dataclass(frozen=True)
class Grant:
    """An identity-provider group and the role its tenant role maps to in one system (Keystone or Kubernetes)."""

    group: str
    tenant_role: str
    role: str


def grants(effective: Mapping[str, Any], platform: Mapping[str, Any], system: str) -> list[Grant]:
    """A tenant's access entries resolved through platform.yaml's role map (`system`: keystone | kubernetes)."""
    roles: Mapping[str, Any] = (platform.get("spec") or {}).get("roles") or {}
    resolved = []
    for entry in effective["spec"].get("access") or []:
        mapping = roles.get(entry["role"])
        if mapping is None:
            raise ValueError(f"tenant role {entry['role']!r} of group {entry['group']!r} is not in platform.yaml "
                             f"spec.roles")
        resolved.append(Grant(str(entry["group"]), str(entry["role"]), str(mapping[system])))
    return resolved


def keystone_domain(platform: Mapping[str, Any]) -> str:
    """The Keystone domain holding tenant projects and groups (platform.yaml spec.openstack.domain)."""
    return str(((platform.get("spec") or {}).get("openstack") or {}).get("domain") or "Default")
